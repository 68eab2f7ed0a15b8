/* The one UTF-8 check every string entering through the API goes through:
 * the rule lexer, the CSV import and the validators of names and texts. */
#ifndef ENG_BASE_UTF8_H
#define ENG_BASE_UTF8_H

#include <stddef.h>

/* Offset of the first byte that is not part of valid UTF-8 (overlong forms,
 * surrogates and code points past U+10FFFF are invalid); n when all are. */
size_t eng__utf8_check(const char *s, size_t n);

enum {
    ENG__TEXT_NAME = 1, /* a name: no control characters (C0, DEL, C1) at all */
    ENG__TEXT_NUL = 2,  /* a length-delimited text that may hold NUL bytes */
};

/* Why @p s (n bytes) is not an acceptable text, or NULL when it is: invalid
 * UTF-8 always; control characters in names; NUL unless ENG__TEXT_NUL.
 * *at receives the byte offset of the first offending byte. */
const char *eng__text_flaw(const char *s, size_t n, int flags, size_t *at);
/* The same, as an ENG_EINVAL error naming @p path (ENG_OK when acceptable;
 * a NULL @p s is acceptable: callers check presence themselves). */
int eng__text_check(const char *s, size_t n, int flags, const char *path);
/* NUL-terminated form of eng__text_check(). */
int eng__str_check(const char *s, int flags, const char *path);

#endif
