/* The lower bound of a sorted array: the first index whose element is not below
 * the value (n when every one is), as C++'s std::lower_bound. One body for each
 * element type, so the callers' searches do not each write the loop again. */
#ifndef ENG_BASE_LOWER_H
#define ENG_BASE_LOWER_H

#include <stddef.h>
#include <stdint.h>

#define ENG__LOWER_BOUND(name, T)                                                                                    \
    static inline size_t name(const T *a, size_t n, T x)                                                             \
    {                                                                                                                \
        size_t lo = 0;                                                                                               \
        while (n) { /* a[lo, lo + n) is what is left to halve */                                                     \
            size_t half = n / 2;                                                                                     \
            if (a[lo + half] < x)                                                                                    \
                lo += half + 1, n -= half + 1;                                                                       \
            else                                                                                                     \
                n = half;                                                                                            \
        }                                                                                                            \
        return lo;                                                                                                   \
    }

ENG__LOWER_BOUND(eng__lower_u32, uint32_t)
ENG__LOWER_BOUND(eng__lower_u64, uint64_t)

#undef ENG__LOWER_BOUND

#endif
