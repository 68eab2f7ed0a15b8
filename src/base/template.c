#include "base/template.h"

#include <string.h>

static int name_char(char c, int first)
{
    return (c >= 'a' && c <= 'z') || c == '_' || (!first && ((c >= '0' && c <= '9') || c == '.'));
}

static const char *skip_spaces(const char *p, const char *end)
{
    while (p < end && *p == ' ')
        p++;
    return p;
}

const char *eng__ttok_next(const char *start, const char *p, eng__ttok *t)
{
    memset(t, 0, sizeof *t);
    t->offset = (size_t)(p - start);
    if (!*p)
        return p;
    if (!(p[0] == '{' && p[1] == '{')) {
        const char *q = p;
        while (*q && !(q[0] == '{' && q[1] == '{') && !(q[0] == '}' && q[1] == '}'))
            q++;
        if (q == p) { /* a "}}" that closes nothing */
            t->kind = ENG__TT_STRAY_CLOSE;
            return p;
        }
        t->kind = ENG__TT_TEXT;
        t->text = p;
        t->len = (size_t)(q - p);
        return q;
    }
    const char *body = p + 2, *end = strstr(body, "}}");
    if (!end) {
        t->kind = ENG__TT_UNCLOSED;
        return p;
    }
    t->kind = ENG__TT_MALFORMED;
    const char *s = skip_spaces(body, end), *n = s;
    while (n < end && name_char(*n, n == s))
        n++;
    if (n == s || n - s > 64)
        return p;
    t->text = s;
    t->len = (size_t)(n - s);
    const char *q = skip_spaces(n, end);
    if (q < end && *q == '|') {
        q = skip_spaces(q + 1, end);
        if (q >= end || *q != '"')
            return p;
        const char *d = q + 1, *close = memchr(d, '"', (size_t)(end - d));
        if (!close)
            return p;
        t->def = d;
        t->def_len = (size_t)(close - d);
        t->has_def = 1;
        q = skip_spaces(close + 1, end);
    }
    if (q != end)
        return p;
    t->kind = ENG__TT_TAG;
    return end + 2;
}
