/* Text-to-value parsing shared by the CSV import and the upsert API. Each
 * parser returns ENG_OK or an error code and fills *why with a static reason;
 * none allocate or touch the error state, so a bad field costs nothing. */
#ifndef ENG_AUDIENCE_VALUES_H
#define ENG_AUDIENCE_VALUES_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int eng__val_utf8(const char *s, size_t n, const char **why);
int eng__val_int64(const char *s, size_t n, int64_t *out, const char **why);
/* Fixed point with up to 4 decimals, scaled by 10^4. */
int eng__val_decimal(const char *s, size_t n, int64_t *out, const char **why);
/* YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS[.fff]Z, to ms since the epoch (UTC). */
int eng__val_date(const char *s, size_t n, int64_t *out, const char **why);
/* true/false/yes/no/1/0 (case-insensitive). */
int eng__val_bool(const char *s, size_t n, int *out, const char **why);
/* A bool, or a date/time meaning "yes at that time". *has_ts says whether a
 * time was given: every int64 (0 = 1970-01-01 included) is a valid time. */
int eng__val_flag(const char *s, size_t n, int *yes, int64_t *ts, int *has_ts, const char **why);
/* Contact for a channel: email syntax, E.164 for phone channels, printable token otherwise. */
int eng__val_contact(int channel, const char *s, size_t n, const char **why);
/* An E.164 phone number ("+", then 8-15 digits, the first not 0) and its digits as an integer. */
int eng__val_phone(const char *s, size_t n, uint64_t *num, const char **why);
/* Whether channel @p ch takes an E.164 phone number (sms, whatsapp, viber, rcs, calltask). */
int eng__val_is_phone(int ch);
/* External id text (string kind): 1..255 bytes of UTF-8 without control characters. */
int eng__val_extid(const char *s, size_t n, const char **why);

/* ---- Fast paths: the common shapes of valid values, inline ----
 * Each returns 0 with the value set, or -1 for anything else, which the
 * caller then gives to the full parser above (which accepts or rejects it,
 * with its reason): so a value takes the same outcome either way, and the
 * import's column loops pay no call for the usual values. Reads stay within
 * s[0..n). */

/* Eight bytes as a little-endian word on any host (the first byte lowest). */
static inline uint64_t eng__le8(const char *p)
{
    uint64_t x;
    memcpy(&x, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    x = __builtin_bswap64(x);
#endif
    return x;
}

static inline uint32_t eng__le4(const char *p) /* one load where the host is little-endian */
{
    const unsigned char *u = (const unsigned char *)p;
    return (uint32_t)u[0] | (uint32_t)u[1] << 8 | (uint32_t)u[2] << 16 | (uint32_t)u[3] << 24;
}

/* Eight ASCII digits in a little-endian word (first digit lowest): 1 when all are digits. */
static inline int eng__digits8(uint64_t x)
{
    return ((x & 0xf0f0f0f0f0f0f0f0ull) | (((x + 0x0606060606060606ull) & 0xf0f0f0f0f0f0f0f0ull) >> 4)) ==
           0x3333333333333333ull;
}

/* [+-]? and 1 to 18 digits (no overflow possible). */
static inline int eng__val_int64_fast(const char *s, size_t n, int64_t *out)
{
    size_t i = n && (s[0] == '-' || s[0] == '+');
    if (i == n || n - i > 18)
        return -1;
    uint64_t v = 0;
    unsigned bad = 0;
    for (size_t k = i; k < n; k++) {
        unsigned d = (unsigned)(unsigned char)s[k] - '0';
        bad |= d > 9;
        v = v * 10 + d;
    }
    if (bad)
        return -1;
    *out = i && s[0] == '-' ? -(int64_t)v : (int64_t)v;
    return 0;
}

/* [+-]?, 1 to 14 integer digits, and 1 to 4 decimals after a point (or
 * none), scaled by 10^4: nothing that can overflow. */
static inline int eng__val_decimal_fast(const char *s, size_t n, int64_t *out)
{
    static const uint32_t scale[] = {10000, 1000, 100, 10, 1};
    size_t i = 0, st;
    int neg = 0;
    if (n && (s[0] == '-' || s[0] == '+')) {
        neg = s[0] == '-';
        i = 1;
    }
    uint64_t u = 0;
    for (st = i; i < n && (unsigned)(unsigned char)s[i] - '0' <= 9; i++)
        u = u * 10 + (unsigned)(s[i] - '0');
    if (i == st || i - st > 14)
        return -1;
    size_t nf = 0;
    if (i < n) {
        if (s[i++] != '.')
            return -1;
        for (; i < n && nf < 4 && (unsigned)(unsigned char)s[i] - '0' <= 9; i++, nf++)
            u = u * 10 + (unsigned)(s[i] - '0');
        if (i != n || nf == 0)
            return -1;
    }
    u *= scale[nf];
    *out = neg ? -(int64_t)u : (int64_t)u;
    return 0;
}

/* A valid plain date YYYY-MM-DD (years 1..9999) as days since 1970-01-01:
 * its eight digits checked and paired in one word, the day counted with a
 * table of month starts (Howard Hinnant's days_from_civil, unsigned). */
static inline int eng__val_date_days_fast(const char *s, size_t n, int64_t *days)
{
    static const uint16_t mstart[12] = {306, 337, 0, 31, 61, 92, 122, 153, 184, 214, 245, 275};
    static const uint8_t mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (n != 10)
        return -1;
    uint64_t x = eng__le8(s), z = eng__le8(s + 2);
    /* the digits YYYY MM DD in byte order: s0..s3, s5, s6, s8, s9 */
    uint64_t w = (x & 0xffffffffull) | ((x >> 8) & 0x0000ffff00000000ull) | (z & 0xffff000000000000ull);
    if (!eng__digits8(w) || ((x >> 32) & 0xff) != '-' || (x >> 56) != '-')
        return -1;
    w -= 0x3030303030303030ull;
    w = (w * 10 + (w >> 8)) & 0x00ff00ff00ff00ffull; /* bytes 0, 2, 4, 6: YY, YY, MM, DD */
    unsigned y = (unsigned)(w & 0xff) * 100 + (unsigned)((w >> 16) & 0xff), mo = (unsigned)((w >> 32) & 0xff),
             d = (unsigned)(w >> 48);
    if (y < 1 || mo - 1 > 11 || d < 1)
        return -1;
    if (d > 28 && d > mdays[mo - 1] + (unsigned)(mo == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
        return -1;
    unsigned yy = y - (mo <= 2), era = yy / 400, yoe = yy - era * 400;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + mstart[mo - 1] + d - 1;
    *days = (int64_t)era * 146097 + (int64_t)doe - 719468;
    return 0;
}

/* The usual lower-case spellings of a boolean. */
static inline int eng__val_bool_fast(const char *s, size_t n, int *out)
{
    if (n == 4 && memcmp(s, "true", 4) == 0)
        return *out = 1, 0;
    if (n == 3 && memcmp(s, "yes", 3) == 0)
        return *out = 1, 0;
    if (n == 5 && memcmp(s, "false", 5) == 0)
        return *out = 0, 0;
    if (n == 2 && memcmp(s, "no", 2) == 0)
        return *out = 0, 0;
    return -1;
}

/* "+", a digit 1-9, 7 to 14 more digits: the first 8 digits and the last 8
 * (they overlap unless there are 16) read as two words. */
static inline int eng__val_phone_fast(const char *s, size_t n, uint64_t *num)
{
    static const uint64_t pow10[] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000};
    if (n < 9 || n > 16 || s[0] != '+' || s[1] == '0')
        return -1;
    uint64_t a = eng__le8(s + 1), b = eng__le8(s + n - 8);
    if (!eng__digits8(a) || !eng__digits8(b))
        return -1;
    /* three multiplies for eight digits */
#define ENG__VALUE8(x)                                                                                                 \
    ((((((x) & 0x000000ff000000ffull) * (100 + (1000000ull << 32))) +                                                  \
       ((((x) >> 16) & 0x000000ff000000ffull) * (1 + (10000ull << 32)))) >>                                            \
      32))
    uint64_t xa = a - 0x3030303030303030ull;
    xa = xa * 10 + (xa >> 8);
    uint64_t v = ENG__VALUE8(xa);
    size_t r = n - 9; /* digits past the first 8 */
    if (r) {
        uint64_t low = (1ull << (8 * (8 - r))) - 1; /* b's bytes that are digits of a */
        uint64_t xb = ((b & ~low) | (0x3030303030303030ull & low)) - 0x3030303030303030ull;
        xb = xb * 10 + (xb >> 8);
        v = v * pow10[r] + ENG__VALUE8(xb);
    }
#undef ENG__VALUE8
    *num = v;
    return 0;
}

/* An external id of 1 to 16 bytes, each printable ASCII (0x20..0x7e): the
 * bytes checked a word at a time (overlapping words cover every byte). */
static inline int eng__val_extid_fast(const char *s, size_t n)
{
    uint64_t a, b;
    if (n >= 8 && n <= 16) {
        a = eng__le8(s);
        b = eng__le8(s + n - 8);
    } else if (n >= 4 && n < 8) {
        a = eng__le4(s) | (uint64_t)eng__le4(s + n - 4) << 32;
        b = a;
    } else if (n >= 1 && n < 4) { /* s[0], s[n/2] and s[n-1] are every byte; the rest 'A' */
        a = (uint64_t)(unsigned char)s[0] | (uint64_t)(unsigned char)s[n / 2] << 8 |
            (uint64_t)(unsigned char)s[n - 1] << 16 | 0x4141414141000000ull;
        b = a;
    } else {
        return -1;
    }
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    /* a byte below 0x20, 0x7f, or any with its top bit set: exact as a whole (bit hacks "hasless", "haszero") */
    uint64_t bad = ((a - 0x20 * ones) & ~a) | ((b - 0x20 * ones) & ~b) | (((a ^ 0x7f * ones) - ones) & ~(a ^ 0x7f * ones)) |
                   (((b ^ 0x7f * ones) - ones) & ~(b ^ 0x7f * ones)) | a | b;
    return bad & high ? -1 : 0;
}

#endif
