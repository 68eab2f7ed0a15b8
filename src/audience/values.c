/* Field parsers (see values.h). Strict on purpose: a value that is not
 * exactly of its column's syntax is a bad field, never silently coerced. */
#include "audience/values.h"
#include "engage/errors.h"
#include "engage/channel.h"
#include "base/utf8.h"

#include <string.h>

int eng__val_utf8(const char *str, size_t n, const char **why)
{
    if (eng__utf8_check(str, n) == n)
        return ENG_OK;
    *why = "invalid UTF-8 (bad byte, truncated sequence, overlong form, surrogate or out of range)";
    return ENG_EPARSE;
}

int eng__val_int64(const char *s, size_t n, int64_t *out, const char **why)
{
    if (eng__val_int64_fast(s, n, out) == 0)
        return ENG_OK;
    size_t i = 0;
    int neg = 0;
    if (i < n && (s[i] == '-' || s[i] == '+'))
        neg = s[i++] == '-';
    if (i == n) {
        *why = "not an integer";
        return ENG_EPARSE;
    }
    uint64_t v = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            *why = "not an integer";
            return ENG_EPARSE;
        }
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (lim - d) / 10) {
            *why = "integer out of the 64-bit range";
            return ENG_ERANGE;
        }
        v = v * 10 + d;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return ENG_OK;
}

/* Any decimal that fits the column (4 decimals, int64 units) is accepted:
 * digits past the fourth decimal must be zeros, and the range is checked on
 * the units, so 922337203685477.5807 and -922337203685477.5808 import. */
int eng__val_decimal(const char *s, size_t n, int64_t *out, const char **why)
{
    if (eng__val_decimal_fast(s, n, out) == 0)
        return ENG_OK;
    const char *dot = memchr(s, '.', n);
    size_t ni = dot ? (size_t)(dot - s) : n, nf = dot ? n - ni - 1 : 0;
    size_t i = 0;
    int neg = 0;
    if (i < n && (s[i] == '-' || s[i] == '+'))
        neg = s[i++] == '-';
    if ((dot && nf == 0) || (ni == i && !dot) || (ni == i && nf == 0)) {
        *why = "not a decimal";
        return ENG_EPARSE;
    }
    uint64_t u = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    int range = 0;
    for (size_t k = i; k < ni + 5; k++) { /* integer digits, then exactly 4 decimals (zero-padded) */
        if (k == ni)
            continue; /* the point (or the end when there is none) */
        char c = k < ni ? s[k] : (dot && k < n) ? s[k] : '0';
        if (c < '0' || c > '9') {
            *why = "not a decimal";
            return ENG_EPARSE;
        }
        unsigned d = (unsigned)(c - '0');
        if (u > (lim - d) / 10)
            range = 1;
        else
            u = u * 10 + d;
    }
    for (size_t k = ni + 5; k < n; k++) { /* past the fourth decimal: zeros only */
        if (s[k] < '0' || s[k] > '9') {
            *why = "not a decimal";
            return ENG_EPARSE;
        }
        if (s[k] != '0') {
            *why = "more than 4 decimals";
            return ENG_ERANGE;
        }
    }
    if (range) {
        *why = "decimal out of range";
        return ENG_ERANGE;
    }
    *out = neg ? (int64_t)(0 - u) : (int64_t)u;
    return ENG_OK;
}

static int digits(const char *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* The time zone at s[p..n): 'Z', +HH, +HHMM or +HH:MM (or -); minutes east of UTC in *off.
 * None is an error: a local time of an unknown place is not an instant. */
static int val_zone(const char *s, size_t p, size_t n, int *off, const char **why)
{
    *off = 0;
    if (p == n) {
        *why = "a time needs its zone (Z or +HH:MM)";
        return ENG_EPARSE;
    }
    if (s[p] == 'Z' && p + 1 == n)
        return ENG_OK;
    int sign = s[p] == '-' ? -1 : 1, oh, om = 0;
    size_t q = p + 1;
    if ((s[p] != '+' && s[p] != '-') || q + 2 > n || digits(s + q, 2, &oh))
        return ENG_EPARSE;
    q += 2;
    if (q < n && s[q] == ':')
        q++;
    if (q < n && (q + 2 != n || digits(s + q, 2, &om)))
        return ENG_EPARSE;
    if (oh > 23 || om > 59) {
        *why = "time zone offset out of range";
        return ENG_ERANGE;
    }
    *off = sign * (oh * 60 + om);
    return ENG_OK;
}

/* A date, or a date and time: YYYY-MM-DD, then 'T' or ' ', HH:MM, optional :SS and a
 * fraction of 1 to 9 digits (cut to milliseconds), and a zone (val_zone): the ISO 8601
 * forms exports write, read as the instant they name. */
int eng__val_date(const char *s, size_t n, int64_t *out, const char **why)
{
    int64_t days;
    if (eng__val_date_days_fast(s, n, &days) == 0) {
        *out = days * 86400000;
        return ENG_OK;
    }
    int y, mo, d, h = 0, mi = 0, se = 0, ms = 0, off = 0;
    *why = "not a date (YYYY-MM-DD, or YYYY-MM-DDTHH:MM[:SS[.fff]] and Z or +HH:MM)";
    if (n < 10 || s[4] != '-' || s[7] != '-' || digits(s, 4, &y) || digits(s + 5, 2, &mo) ||
        digits(s + 8, 2, &d))
        return ENG_EPARSE;
    if (n > 10) {
        if (n < 16 || (s[10] != 'T' && s[10] != ' ') || s[13] != ':' || digits(s + 11, 2, &h) ||
            digits(s + 14, 2, &mi))
            return ENG_EPARSE;
        size_t p = 16;
        if (p < n && s[p] == ':') {
            if (p + 3 > n || digits(s + p + 1, 2, &se))
                return ENG_EPARSE;
            p += 3;
            if (p < n && s[p] == '.') {
                size_t q = ++p;
                for (; p < n && s[p] >= '0' && s[p] <= '9'; p++)
                    if (p - q < 3)
                        ms = ms * 10 + (s[p] - '0');
                if (p == q || p - q > 9)
                    return ENG_EPARSE;
                for (size_t k = p - q; k < 3; k++)
                    ms *= 10;
            }
        }
        int rc = val_zone(s, p, n, &off, why);
        if (rc)
            return rc;
    }
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap) || h > 23 ||
        mi > 59 || se > 59) {
        *why = "date or time out of range (years 0001..9999)";
        return ENG_ERANGE;
    }
    *out = ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi - off) * 60000 + (int64_t)se * 1000 + ms;
    return ENG_OK;
}

static int eq_ci(const char *s, size_t n, const char *lit)
{
    size_t l = strlen(lit);
    if (l != n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != lit[i])
            return 0;
    }
    return 1;
}

int eng__val_bool(const char *s, size_t n, int *out, const char **why)
{
    if (eng__val_bool_fast(s, n, out) == 0) /* without the case-folding compares */
        return ENG_OK;
    if (eq_ci(s, n, "true") || eq_ci(s, n, "yes") || eq_ci(s, n, "1"))
        *out = 1;
    else if (eq_ci(s, n, "false") || eq_ci(s, n, "no") || eq_ci(s, n, "0"))
        *out = 0;
    else {
        *why = "not a boolean (true/false/yes/no/1/0)";
        return ENG_EPARSE;
    }
    return ENG_OK;
}

int eng__val_flag(const char *s, size_t n, int *yes, int64_t *ts, int *has_ts, const char **why)
{
    *ts = 0;
    *has_ts = 0;
    if (eng__val_bool(s, n, yes, why) == ENG_OK)
        return ENG_OK;
    int rc = eng__val_date(s, n, ts, why);
    if (rc == ENG_EPARSE)
        *why = "not a boolean or a date";
    if (rc)
        return rc;
    *yes = 1;
    *has_ts = 1;
    return ENG_OK;
}

int eng__val_is_phone(int ch)
{
    return ch == ENG_CH_SMS || ch == ENG_CH_WHATSAPP || ch == ENG_CH_VIBER || ch == ENG_CH_RCS ||
           ch == ENG_CH_CALLTASK;
}

int eng__val_phone(const char *s, size_t n, uint64_t *num, const char **why)
{
    if (eng__val_phone_fast(s, n, num) == 0)
        return ENG_OK;
    *why = "not an E.164 phone number (+ and 8-15 digits)";
    return ENG_EPARSE;
}

#if defined(__SSE2__)
#include <emmintrin.h>

/* A plain ASCII email address of 16 to 64 bytes, valid: 1; anything else
 * (0) goes to the byte-wise checks below, which accept or reject it with
 * the reason. Per byte position, bitmasks of the bytes that are not
 * printable ASCII, '@' and '.', from 16-byte loads (the last one
 * overlapping, so every load is within s[0..n)). */
static int email_fast(const char *s, size_t n)
{
    if (n < 16 || n > 64)
        return 0;
    const __m128i sp = _mm_set1_epi8(0x21), del = _mm_set1_epi8(0x7f), at = _mm_set1_epi8('@'),
                  pt = _mm_set1_epi8('.');
    uint64_t bad = 0, ats = 0, dots = 0;
    for (size_t k = 0;; k += 16) {
        size_t o = k + 16 <= n ? k : n - 16;
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + o));
        /* signed: below 0x21 is a control, a space or a byte with its top bit set */
        bad |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_cmplt_epi8(v, sp), _mm_cmpeq_epi8(v, del))) << o;
        ats |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, at)) << o;
        dots |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, pt)) << o;
        if (o + 16 == n)
            break;
    }
    if (bad || !ats || (ats & (ats - 1)) || (ats & 1)) /* exactly one '@', not first */
        return 0;
    uint64_t after = dots & ~((ats << 1) - 1); /* the points past the '@' */
    if (!after || (after & (ats << 1)) || s[n - 1] == '.')
        return 0;
    return (unsigned)__builtin_ctzll(after) != n - 1;
}
#else
static int email_fast(const char *s, size_t n)
{
    (void)s;
    (void)n;
    return 0;
}
#endif

int eng__val_contact(int ch, const char *s, size_t n, const char **why)
{
    if (ch == ENG_CH_EMAIL && email_fast(s, n))
        return ENG_OK;
    if (n > 4096) {
        *why = "contact longer than 4096 bytes";
        return ENG_ETOOBIG;
    }
    if (eng__val_is_phone(ch)) {
        uint64_t num;
        return eng__val_phone(s, n, &num, why);
    }
    if (ch == ENG_CH_EMAIL) {
        /* Controls first, then syntax, then UTF-8 (only when a byte needs it). */
        unsigned bad = 0, hi = 0;
        for (size_t i = 0; i < n; i++) { /* branch-free: vectorises */
            unsigned char b = (unsigned char)s[i];
            bad |= (unsigned)(b <= ' ') | (unsigned)(b == 0x7f);
            hi |= b;
        }
        if (bad) {
            *why = "contact contains spaces or control characters";
            return ENG_EPARSE;
        }
        const char *at = memchr(s, '@', n);
        size_t local = at ? (size_t)(at - s) : 0;
        const char *dot = at ? memchr(at, '.', n - local) : NULL;
        if (!at || local == 0 || memchr(at + 1, '@', n - local - 1) || !dot || dot == at + 1 ||
            dot == s + n - 1 || s[n - 1] == '.') {
            *why = "not an email address";
            return ENG_EPARSE;
        }
        return hi & 0x80 ? eng__val_utf8(s, n, why) : ENG_OK;
    }
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f) {
            *why = "contact contains spaces or control characters";
            return ENG_EPARSE;
        }
    return eng__val_utf8(s, n, why);
}

int eng__val_extid(const char *s, size_t n, const char **why)
{
    if (eng__val_extid_fast(s, n) == 0)
        return ENG_OK;
    if (n == 0) {
        *why = "empty customer id";
        return ENG_EPARSE;
    }
    if (n > 255) {
        *why = "customer id longer than 255 bytes";
        return ENG_ETOOBIG;
    }
    unsigned bad = 0, hi = 0;
    for (size_t i = 0; i < n; i++) { /* branch-free: vectorises */
        unsigned char b = (unsigned char)s[i];
        bad |= (unsigned)(b < ' ') | (unsigned)(b == 0x7f);
        hi |= b;
    }
    if (bad) {
        *why = "customer id contains control characters";
        return ENG_EPARSE;
    }
    return hi & 0x80 ? eng__val_utf8(s, n, why) : ENG_OK;
}
