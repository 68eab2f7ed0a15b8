/* Reading one customer's value back as text, in the import syntax, so that
 * what is printed re-imports to the same value (the tests check this). */
#include "audience/audience_impl.h"
#include "audience/audience_link.h"

#include <stdio.h>
#include <string.h>

/* Civil date from days since 1970-01-01 (Howard Hinnant's algorithm). */
static void civil(int64_t days, int64_t *y, unsigned *m, unsigned *d)
{
    int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097, yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
    *d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    *m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int fmt_time(char *out, size_t cap, int64_t ms)
{
    int64_t days = ms >= 0 ? ms / 86400000 : -((-ms + 86399999) / 86400000);
    int64_t rem = ms - days * 86400000, y;
    unsigned m, d;
    civil(days, &y, &m, &d);
    if (rem == 0)
        return snprintf(out, cap, "%04lld-%02u-%02u", (long long)y, m, d);
    unsigned h = (unsigned)(rem / 3600000), mi = (unsigned)(rem / 60000 % 60), s = (unsigned)(rem / 1000 % 60);
    unsigned f = (unsigned)(rem % 1000);
    if (f)
        return snprintf(out, cap, "%04lld-%02u-%02uT%02u:%02u:%02u.%03uZ", (long long)y, m, d, h, mi, s, f);
    return snprintf(out, cap, "%04lld-%02u-%02uT%02u:%02u:%02uZ", (long long)y, m, d, h, mi, s);
}

static int fmt_decimal(char *out, size_t cap, int64_t v)
{
    uint64_t a = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    unsigned frac = (unsigned)(a % 10000);
    if (!frac)
        return snprintf(out, cap, "%s%llu", v < 0 ? "-" : "", (unsigned long long)(a / 10000));
    char fb[8];
    snprintf(fb, sizeof fb, "%04u", frac);
    for (int k = 3; k > 0 && fb[k] == '0'; k--)
        fb[k] = 0;
    return snprintf(out, cap, "%s%llu.%s", v < 0 ? "-" : "", (unsigned long long)(a / 10000), fb);
}

int eng__fmt_time(char *out, size_t cap, int64_t ms) { return fmt_time(out, cap, ms); }
int eng__fmt_decimal4(char *out, size_t cap, int64_t v) { return fmt_decimal(out, cap, v); }

static int chan_of(const char *s)
{
    for (int ch = 0; ch < ENG_CH_COUNT; ch++)
        if (strcmp(eng_channel_name(ch), s) == 0)
            return ch;
    return -1;
}

/* Format into tmp (or point *src at stored bytes); *len = 0 means NULL. */
static int get_value(const eng__table *t, uint32_t id, const char *col, char *tmp, size_t tcap, const char **src,
                     size_t *len)
{
    *src = tmp;
    int n = 0, ch;
    if (strcmp(col, "id") == 0) {
        if (t->idkind == ENG_ID_STRING)
            *src = eng__dict_str(&t->sid, id, len);
        else
            *len = (size_t)snprintf(tmp, tcap, "%lld", (long long)t->iid[id]);
        return ENG_OK;
    }
    if (strcmp(col, "suppressed") == 0) {
        n = snprintf(tmp, tcap, "%s", eng__idset_contains(&t->suppressed, id) ? "true" : "false");
    } else if (strncmp(col, "contact.", 8) == 0 && (ch = chan_of(col + 8)) >= 0) {
        const char *c = eng__table_contact(t, ch, id, len);
        *src = c ? c : tmp;
        if (!c)
            *len = 0;
        return ENG_OK;
    } else if ((strncmp(col, "consent.", 8) == 0 && (ch = chan_of(col + 8)) >= 0) ||
               (strncmp(col, "optout.", 7) == 0 && (ch = chan_of(col + 7)) >= 0)) {
        const eng__chan *c = &t->ch[ch];
        int consent = col[1] == 'o';
        int yes = c->used && eng__idset_contains(consent ? &c->consent : &c->optout, id);
        n = yes ? fmt_time(tmp, tcap, consent ? eng__table_consent_ts(t, ch, id) : c->optout_ts[id])
                : snprintf(tmp, tcap, "false");
    } else {
        int k = eng__table_col_index(t, col, strlen(col));
        if (k < 0)
            return eng__err(ENG_ENOTFOUND, col, "no column %.80s", col);
        const eng__col *c = &t->cols[k];
        if (!eng__bit(c->present, id)) {
            *len = 0;
            return ENG_OK;
        }
        switch (c->type) {
        case ENG_COL_STRING: *src = eng__dict_str(&c->dict, c->code[id], len); return ENG_OK;
        case ENG_COL_INT64: n = snprintf(tmp, tcap, "%lld", (long long)c->i64[id]); break;
        case ENG_COL_DECIMAL: n = fmt_decimal(tmp, tcap, c->i64[id]); break;
        case ENG_COL_DATE: n = fmt_time(tmp, tcap, c->i64[id]); break;
        default: n = snprintf(tmp, tcap, "%s", eng__bit(c->bits, id) ? "true" : "false"); break;
        }
    }
    *len = n > 0 ? (size_t)n : 0;
    return ENG_OK;
}

int eng__aud_customer_get(eng_engine *e, const eng__aud_cx *cx, uint32_t id, const char *column, char *buf, size_t cap, size_t *len)
{
    if (len)
        *len = 0;
    int rc = eng__enter(e);
    if (rc)
        return rc;
    eng__aud *a;
    if (!column || !len || (!buf && cap))
        rc = eng__err(ENG_EINVAL, column ? "buf" : "column", "argument is NULL");
    else if (!(rc = eng__aud_get_cx(e, cx, &a))) {
        char tmp[96];
        const char *src;
        size_t n = 0;
        if (id >= a->t.n)
            rc = eng__err(ENG_ENOTFOUND, "id", "no customer %u", id);
        else if (eng__table_erased(&a->t, id))
            rc = eng__err(ENG_ENOTFOUND, "id", "customer %u was erased", id);
        else if (!(rc = get_value(&a->t, id, column, tmp, sizeof tmp, &src, &n))) {
            *len = n;
            if (n + 1 > cap) {
                if (cap)
                    buf[0] = 0;
                rc = eng__err(ENG_ERANGE, "cap", "the value needs %zu bytes", n + 1);
            } else {
                memcpy(buf, src, n);
                buf[n] = 0;
            }
        }
    }
    eng__leave(e);
    return rc;
}

int eng__customer_text(eng_engine *e, const char *org, uint32_t id, const char *column, char *tmp, size_t cap,
                       const char **src, size_t *len)
{
    eng__aud *a;
    int rc = eng__aud_get(e, org, &a);
    if (rc)
        return rc;
    if (id >= a->t.n)
        return eng__err(ENG_ENOTFOUND, "id", "no customer %u", id);
    return get_value(&a->t, id, column, tmp, cap, src, len);
}
