/* The `{{tag}}` template syntax, shared by the model (which validates
 * creatives) and dispatch (which compiles and renders them), so both read a
 * template the same way:
 *   {{ name }}                a field; spaces around the name are allowed
 *   {{ name | "default" }}    the default replaces a missing (NULL) value; it
 *                             may not contain '"' or "}}"
 * A name is [a-z_][a-z0-9_.]*, at most 64 bytes. */
#ifndef ENG_BASE_TEMPLATE_H
#define ENG_BASE_TEMPLATE_H

#include <stddef.h>

enum eng__ttok_kind {
    ENG__TT_END = 0,
    ENG__TT_TEXT = 1,
    ENG__TT_TAG = 2,
    ENG__TT_STRAY_CLOSE = -1, /* "}}" outside a tag */
    ENG__TT_UNCLOSED = -2,    /* "{{" without "}}" */
    ENG__TT_MALFORMED = -3,   /* bad name or default */
};

typedef struct eng__ttok {
    int kind;
    size_t offset;         /* where the token starts in the template */
    const char *text;      /* literal text, or the tag name */
    size_t len;
    const char *def;       /* the default (without quotes) when has_def */
    size_t def_len;
    int has_def;
} eng__ttok;

/* Read the token at @p p (inside template @p start); returns where the next
 * token starts. After an error token, stop. */
const char *eng__ttok_next(const char *start, const char *p, eng__ttok *t);

#endif
