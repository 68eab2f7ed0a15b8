/* The lower bound of a sorted array: the first index whose element is not below
 * the value (n when every one is), as C++'s std::lower_bound. One body for each
 * element type, and one for arrays of records sorted by one of their fields
 * (ENG__LOWER_BOUND_BY, instantiated where the record is known), so the callers'
 * searches do not each write the loop again. */
#ifndef ENG_BASE_LOWER_H
#define ENG_BASE_LOWER_H

#include <stddef.h>
#include <stdint.h>

/* name(a, n, x): the lower bound of x among a[i].field (T: the element; K: the
 * field's type; field empty: the element itself, a[i]). */
#define ENG__LOWER_BOUND_BY(name, T, K, field)                                                                       \
    static inline size_t name(const T *a, size_t n, K x)                                                             \
    {                                                                                                                \
        size_t lo = 0;                                                                                               \
        while (n) { /* a[lo, lo + n) is what is left to halve */                                                     \
            size_t half = n / 2;                                                                                     \
            if (a[lo + half] field < x)                                                                              \
                lo += half + 1, n -= half + 1;                                                                       \
            else                                                                                                     \
                n = half;                                                                                            \
        }                                                                                                            \
        return lo;                                                                                                   \
    }

ENG__LOWER_BOUND_BY(eng__lower_u16, uint16_t, uint16_t, )
ENG__LOWER_BOUND_BY(eng__lower_u32, uint32_t, uint32_t, )
ENG__LOWER_BOUND_BY(eng__lower_u64, uint64_t, uint64_t, )
ENG__LOWER_BOUND_BY(eng__lower_i64, int64_t, int64_t, )

#endif
