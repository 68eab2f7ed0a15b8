/* Values of the rule language: comparison, string operators with an ASCII
 * case view (lower()/upper() never allocate), sets, dates. */
#include "rules/rules_impl.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int eng__rerr(int code, uint32_t line, uint32_t col, const char *fmt, ...)
{
    char msg[512], detail[32];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(detail, sizeof detail, "%u:%u", line, col);
    return eng__err(code, detail, "%s (at %s)", msg, detail);
}

const char *eng__rtype_name(int t)
{
    switch (t) {
    case ENG_RT_NULL: return "null";
    case ENG_RT_BOOL: return "bool";
    case ENG_RT_INT: return "int";
    case ENG_RT_DECIMAL: return "decimal";
    case ENG_RT_STRING: return "string";
    case ENG_RT_DATE: return "date";
    case ENG_RT_TIMESTAMP: return "timestamp";
    case ENG_RT_STRING_LIST: return "list of strings";
    default: return "?";
    }
}

static inline unsigned char fold_byte(unsigned char c, int fold)
{
    if (fold == 1 && c >= 'A' && c <= 'Z')
        return (unsigned char)(c + 32);
    if (fold == 2 && c >= 'a' && c <= 'z')
        return (unsigned char)(c - 32);
    return c;
}

int eng__rstr_cmp(const char *a, size_t an, int afold, const char *b, size_t bn, int bfold)
{
    size_t n = an < bn ? an : bn;
    if (!afold && !bfold) {
        int c = n ? memcmp(a, b, n) : 0;
        if (c)
            return c < 0 ? -1 : 1;
    } else {
        for (size_t i = 0; i < n; i++) {
            unsigned char x = fold_byte((unsigned char)a[i], afold), y = fold_byte((unsigned char)b[i], bfold);
            if (x != y)
                return x < y ? -1 : 1;
        }
    }
    return an < bn ? -1 : an > bn ? 1 : 0;
}

static bool str_eq_at(const char *a, int afold, const char *b, int bfold, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (fold_byte((unsigned char)a[i], afold) != fold_byte((unsigned char)b[i], bfold))
            return false;
    return true;
}

bool eng__rval_str_starts(const eng__rval *x, const eng__rval *y)
{
    return y->len <= x->len && str_eq_at(x->s, x->fold, y->s, y->fold, y->len);
}

bool eng__rval_str_ends(const eng__rval *x, const eng__rval *y)
{
    return y->len <= x->len && str_eq_at(x->s + (x->len - y->len), x->fold, y->s, y->fold, y->len);
}

bool eng__rval_str_contains(const eng__rval *x, const eng__rval *y)
{
    if (y->len == 0)
        return true;
    if (y->len > x->len)
        return false;
    if (!x->fold && !y->fold)
        return memmem(x->s, x->len, y->s, y->len) != NULL;
    for (size_t i = 0; i + y->len <= x->len; i++)
        if (str_eq_at(x->s + i, x->fold, y->s, y->fold, y->len))
            return true;
    return false;
}

void eng__rval_list_item(const eng__rval *l, size_t i, const char **s, size_t *n)
{
    if (l->col) {
        uint32_t code = l->codes[i];
        *s = l->col->dict[code];
        *n = l->col->dict_len ? l->col->dict_len[code] : strlen(*s);
    } else {
        *s = l->items[i];
        *n = l->lens ? l->lens[i] : strlen(*s);
    }
}

bool eng__rval_list_has(const eng__rval *l, const eng__rval *y)
{
    for (size_t i = 0; i < l->count; i++) {
        const char *s;
        size_t n;
        eng__rval_list_item(l, i, &s, &n);
        if (eng__rstr_cmp(s, n, 0, y->s, y->len, y->fold) == 0)
            return true;
    }
    return false;
}

int64_t eng__rval_list_len(const eng__rval *l)
{
    return (int64_t)l->count;
}

int64_t eng__utf8_len(const char *s, size_t n)
{
    int64_t c = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            c++;
    return c;
}

bool eng__utf8_valid(const char *s, size_t n)
{
    return eng__utf8_check(s, n) == n;
}

__extension__ typedef __int128 i128;

static i128 pow10_128(int k)
{
    i128 p = 1;
    while (k-- > 0)
        p *= 10;
    return p;
}

/* Numeric compare across scales; INT is scale 0. */
int eng__num_cmp(int64_t a, int as, int64_t b, int bs)
{
    i128 x = a, y = b;
    if (as < bs)
        x *= pow10_128(bs - as);
    else if (bs < as)
        y *= pow10_128(as - bs);
    return x < y ? -1 : x > y ? 1 : 0;
}

int eng__rval_cmp(const eng__rval *x, const eng__rval *y)
{
    switch (x->t) {
    case ENG_RT_INT:
    case ENG_RT_DECIMAL:
        return eng__num_cmp(x->i, x->t == ENG_RT_DECIMAL ? x->scale : 0, y->i, y->t == ENG_RT_DECIMAL ? y->scale : 0);
    case ENG_RT_STRING:
        return eng__rstr_cmp(x->s, x->len, x->fold, y->s, y->len, y->fold);
    default:
        return x->i < y->i ? -1 : x->i > y->i ? 1 : 0;
    }
}

bool eng__rset_has(const eng__rset *set, const eng__rval *v)
{
    size_t lo = 0, hi = set->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c;
        if (set->type == ENG_RT_STRING)
            c = eng__rstr_cmp(set->strs[mid].s, set->strs[mid].len, 0, v->s, v->len, v->fold);
        else if (v->t == ENG_RT_INT || v->t == ENG_RT_DECIMAL)
            c = eng__num_cmp(set->ints[mid], set->scales[mid], v->i, v->t == ENG_RT_DECIMAL ? v->scale : 0);
        else
            c = set->ints[mid] < v->i ? -1 : set->ints[mid] > v->i ? 1 : 0;
        if (c == 0)
            return true;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

int64_t eng__floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0)))
        q--;
    return q;
}

/* Howard Hinnant's civil-from-days and days-from-civil. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static bool digits(const char *s, size_t n, unsigned *v)
{
    *v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        *v = *v * 10 + (unsigned)(s[i] - '0');
    }
    return true;
}

static bool valid_ymd(unsigned y, unsigned m, unsigned d)
{
    static const unsigned mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m < 1 || m > 12 || d < 1)
        return false;
    unsigned lim = mdays[m - 1];
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        lim = 29;
    return d <= lim && y >= 1;
}

bool eng__parse_date(const char *s, size_t n, int32_t *days)
{
    unsigned y, m, d;
    if (n != 10 || s[4] != '-' || s[7] != '-' || !digits(s, 4, &y) || !digits(s + 5, 2, &m) ||
        !digits(s + 8, 2, &d) || !valid_ymd(y, m, d))
        return false;
    *days = (int32_t)days_from_civil(y, m, d);
    return true;
}

bool eng__parse_timestamp(const char *s, size_t n, int64_t *ms)
{
    int32_t days;
    unsigned hh, mi, ss, milli = 0;
    if (n < 20 || (s[10] != 'T' && s[10] != ' ') || s[13] != ':' || s[16] != ':' || s[n - 1] != 'Z')
        return false;
    if (!eng__parse_date(s, 10, &days) || !digits(s + 11, 2, &hh) || !digits(s + 14, 2, &mi) ||
        !digits(s + 17, 2, &ss) || hh > 23 || mi > 59 || ss > 59)
        return false;
    if (n == 24) {
        if (s[19] != '.' || !digits(s + 20, 3, &milli))
            return false;
    } else if (n != 20) {
        return false;
    }
    *ms = (int64_t)days * ENG_DAY + (int64_t)hh * ENG_HOUR + (int64_t)mi * 60000 + (int64_t)ss * 1000 + milli;
    return true;
}

void eng__format_date(int32_t days, char out[32])
{
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    snprintf(out, 32, "%04d-%02u-%02u", (int)y, m % 100, d % 100);
}

void eng__format_timestamp(int64_t ms, char out[64])
{
    int64_t days = eng__floor_div(ms, ENG_DAY);
    int64_t rem = ms - days * ENG_DAY;
    char date[32];
    eng__format_date((int32_t)days, date);
    unsigned hh = (unsigned)(rem / ENG_HOUR), mi = (unsigned)(rem / 60000 % 60), ss = (unsigned)(rem / 1000 % 60),
             milli = (unsigned)(rem % 1000);
    if (milli)
        snprintf(out, 64, "%.12sT%02u:%02u:%02u.%03uZ", date, hh, mi, ss, milli);
    else
        snprintf(out, 64, "%.12sT%02u:%02u:%02uZ", date, hh, mi, ss);
}
