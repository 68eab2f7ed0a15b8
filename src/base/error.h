/* Per-thread last-error record. eng__err() is how every layer fails:
 *   return eng__err(ENG_EINVAL, "campaign.name", "name is empty");
 * It records code, detail (field path / key / line:col) and message, and
 * returns the code. */
#ifndef ENG_BASE_ERROR_H
#define ENG_BASE_ERROR_H

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

/* The body of every public eng_x_init(dst, version): ENG_EINVAL for NULL, ENG_EVERSION
 * outside 1..current, else copy the static initialiser @p init (@p size bytes: the
 * struct of the caller's version) and set dst->version (the first field) to @p version. */
int eng__struct_init(void *dst, const void *init, size_t size, unsigned int version, unsigned int current,
                     const char *type);

#endif
