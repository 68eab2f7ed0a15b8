/* Strict UTF-8 and text checks (utf8.h). */
#include "base/utf8.h"
#include "base/error.h"

#include <stdint.h>
#include <string.h>

size_t eng__utf8_check(const char *str, size_t n)
{
    const unsigned char *p = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        /* ASCII fast path, eight bytes at a time (CSV fields are mostly ASCII). */
        while (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, p + i, 8);
            if (w & 0x8080808080808080ull)
                break;
            i += 8;
        }
        if (i >= n)
            break;
        unsigned c = p[i];
        size_t k;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            k = 1, cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            k = 2, cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            k = 3, cp = c & 0x07;
        } else {
            return i;
        }
        for (size_t j = 1; j <= k; j++) {
            if (i + j >= n || (p[i + j] & 0xC0) != 0x80)
                return i;
            cp = (cp << 6) | (p[i + j] & 0x3F);
        }
        if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return i;
        i += k + 1;
    }
    return n;
}

const char *eng__text_flaw(const char *s, size_t n, int flags, size_t *at)
{
    size_t bad = eng__utf8_check(s, n);
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < bad; i++) {
        unsigned c = p[i];
        if (c == 0 && !(flags & ENG__TEXT_NUL)) {
            *at = i;
            return "contains a NUL byte";
        }
        /* C1 controls U+0080..U+009F are encoded C2 80..C2 9F. */
        if ((flags & ENG__TEXT_NAME) && (c < 0x20 || c == 0x7F || (c == 0xC2 && i + 1 < bad && p[i + 1] < 0xA0))) {
            *at = i;
            return "contains a control character";
        }
    }
    if (bad < n) {
        *at = bad;
        return "is not valid UTF-8";
    }
    return NULL;
}

int eng__text_check(const char *s, size_t n, int flags, const char *path)
{
    size_t at = 0;
    const char *why = s ? eng__text_flaw(s, n, flags, &at) : NULL;
    return why ? eng__err(ENG_EINVAL, path, "%s %s (byte %zu)", path, why, at) : ENG_OK;
}

int eng__str_check(const char *s, int flags, const char *path)
{
    return s ? eng__text_check(s, strlen(s), flags, path) : ENG_OK;
}
