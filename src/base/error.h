/* Per-thread last-error record. eng__err() is how every layer fails:
 *   return eng__err(ENG_EINVAL, "campaign.name", "name is empty");
 * It records code, detail (field path / key / line:col) and message, and
 * returns the code. */
#ifndef ENG_BASE_ERROR_H
#define ENG_BASE_ERROR_H

#include <stddef.h>

#include "engage/common.h"
#include "engage/errors.h"

#if defined(__GNUC__)
#define ENG__PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define ENG__PRINTF(a, b)
#endif

int eng__err(int code, const char *detail, const char *fmt, ...) ENG__PRINTF(3, 4);
/* Prefix the current thread's message with context, keeping code and detail. */
int eng__err_wrap(int code, const char *fmt, ...) ENG__PRINTF(2, 3);
/* Out-of-memory shorthand (formats nothing, so it cannot itself fail). */
int eng__nomem(void);
/* 1 when @p rc is the ENG_ENOTFOUND of a lookup the caller takes as "absent", not as a
 * failure: the record the lookup left is forgotten, since a public call that then succeeds
 * must leave no error behind (engage/errors.h). 0 otherwise, the record untouched. */
static inline int eng__absent(int rc)
{
    if (rc != ENG_ENOTFOUND)
        return 0;
    eng_error_clear();
    return 1;
}

/* The body of every public eng_x_init(dst, version): ENG_EINVAL for NULL, ENG_EVERSION
 * outside 1..n, else copy the first sizes[version-1] bytes (the struct of the caller's
 * version, see ENG__SIZES) of the static initialiser @p init and set dst->version (the
 * first field) to @p version. */
int eng__struct_init(void *dst, const void *init, const size_t *sizes, unsigned n, unsigned int version,
                     const char *type);

/* A sub-struct a caller passes by pointer: ENG_OK when @p sub is NULL or its
 * version (the first field) is within 1..@p n, else ENG_EVERSION with detail
 * "<field>.version". */
int eng__sub_version(const void *sub, unsigned n, const char *field, const char *type);

/* Bytes of a struct up to and including field @p last: where a struct of an older version ends. */
#define ENG__UPTO(T, last) (offsetof(T, last) + sizeof(((T *)0)->last))
/* The sizes of each version of a versioned struct, oldest first, as the two arguments
 * (sizes, count) of eng__out_open: ENG__SIZES(sizeof(T)) for a struct with one version,
 * ENG__SIZES(ENG__UPTO(T, last_field_of_v1), sizeof(T)) for two. */
#define ENG__SIZES(...)                                                                                              \
    (const size_t[]){__VA_ARGS__}, (unsigned)(sizeof((const size_t[]){__VA_ARGS__}) / sizeof(size_t))
/* The same two arguments from a static array of sizes. */
#define ENG__SIZES_OF(a) (a), (unsigned)(sizeof(a) / sizeof((a)[0]))

/* Zero the bytes of the caller's version of @p out (a versioned struct the call fills), keeping
 * its version; the version, or 0 (nothing written) when @p out is NULL or its version unknown. */
unsigned eng__out_clear(void *out, const size_t *sizes, unsigned n);
/* The prologue of every call that fills a caller's versioned struct: eng__out_clear, and
 * ENG_EINVAL (detail @p field) for NULL, ENG_EVERSION (detail "<field>.version") for a version
 * outside 1..n. Only the caller's version's bytes are ever written: a version-1 caller's
 * struct is shorter than the library's. */
int eng__out_open(void *out, const size_t *sizes, unsigned n, const char *type, const char *field);

#endif
