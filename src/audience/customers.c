/* Public customer-table entry points other than import. */
#include "audience/audience_impl.h"
#include "audience/values.h"

#include <stdio.h>
#include <string.h>

static int valid_colname(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > ENG__COLNAME_MAX || (s[0] >= '0' && s[0] <= '9'))
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
            return 0;
    }
    return strcmp(s, "id") != 0 && strcmp(s, "suppressed") != 0;
}

int eng__aud_customers_set_id_kind(eng_engine *e, const eng__aud_cx *cx, int kind)
{
    int rc = eng__enter(e);
    if (rc)
        return rc;
    eng__aud *a;
    if (kind != ENG_ID_STRING && kind != ENG_ID_INT64)
        rc = eng__err(ENG_EINVAL, "kind", "unknown id kind %d", kind);
    else if (!(rc = eng__aud_get_cx(e, cx, &a))) {
        if (a->t.n > 0 || a->next_seq > 0) {
            rc = eng__err(ENG_ESTATE, "kind", "the id kind cannot change once customers exist");
        } else if (a->t.idkind != kind) {
            a->t.idkind = kind;
            snprintf(a->detail, sizeof a->detail, "id kind %s", kind == ENG_ID_STRING ? "string" : "int64");
            if ((rc = eng__aud_put_schema(a, cx)))
                eng__aud_drop(e); /* reloaded from storage, which holds the truth */
        }
    }
    eng__leave(e);
    return rc;
}

int eng__aud_customers_add_column(eng_engine *e, const eng__aud_cx *cx, const char *name, int type)
{
    int rc = eng__enter(e);
    if (rc)
        return rc;
    eng__aud *a;
    if (!name)
        rc = eng__err(ENG_EINVAL, "name", "name is NULL");
    else if (!valid_colname(name))
        rc = eng__err(ENG_EINVAL, "name",
                      "column name \"%.80s\" must be 1-64 of [A-Za-z0-9_], not start with a digit, "
                      "and not be id or suppressed", name);
    else if (type < ENG_COL_STRING || type > ENG_COL_BOOL)
        rc = eng__err(ENG_EINVAL, "type", "unknown column type %d", type);
    else if (!(rc = eng__aud_get_cx(e, cx, &a))) {
        if (eng__table_col_index(&a->t, name, strlen(name)) >= 0)
            rc = eng__err(ENG_EEXISTS, name, "column %s already exists", name);
        else if (!(rc = eng__table_add_col(&a->t, name, type))) {
            /* Store first-class: on failure take the column back out. */
            snprintf(a->detail, sizeof a->detail, "column %s", name);
            if ((rc = eng__aud_put_schema(a, cx)))
                eng__aud_drop(e);
        }
    }
    eng__leave(e);
    return rc;
}

int eng__aud_customers_count(eng_engine *e, const eng__aud_cx *cx, uint64_t *out)
{
    if (out)
        *out = 0;
    int rc = eng__enter(e);
    if (rc)
        return rc;
    eng__aud *a;
    if (!out)
        rc = eng__err(ENG_EINVAL, "out", "out is NULL");
    else if (!(rc = eng__aud_get_cx(e, cx, &a)))
        *out = a->t.n;
    eng__leave(e);
    return rc;
}

int eng__aud_customers_memory(eng_engine *e, const eng__aud_cx *cx, uint64_t *out)
{
    if (out)
        *out = 0;
    int rc = eng__enter(e);
    if (rc)
        return rc;
    eng__aud *a;
    if (!out)
        rc = eng__err(ENG_EINVAL, "out", "out is NULL");
    else if (!(rc = eng__aud_get_cx(e, cx, &a)))
        *out = eng__table_bytes(&a->t);
    eng__leave(e);
    return rc;
}

int eng__customer_find(const eng__table *t, const char *s, size_t n, uint32_t *out)
{
    int64_t f;
    if (t->idkind == ENG_ID_STRING) {
        f = eng__table_find_str(t, s, n);
    } else {
        int64_t v;
        const char *why;
        if (eng__val_int64(s, n, &v, &why))
            return ENG_ENOTFOUND;
        f = eng__table_find_int(t, v);
    }
    if (f < 0 || eng__table_erased(t, (uint32_t)f))
        return ENG_ENOTFOUND;
    *out = (uint32_t)f;
    return ENG_OK;
}

int eng__aud_customer_find(eng_engine *e, const eng__aud_cx *cx, const char *ext, uint32_t *out)
{
    if (out)
        *out = 0;
    int rc = eng__enter(e);
    if (rc)
        return rc;
    eng__aud *a;
    if (!ext || !out)
        rc = eng__err(ENG_EINVAL, ext ? "out" : "external_id", "argument is NULL");
    else if (!(rc = eng__aud_get_cx(e, cx, &a)) && eng__customer_find(&a->t, ext, strlen(ext), out))
        rc = eng__err(ENG_ENOTFOUND, "external_id", "no customer with that external id"); /* never echo the id (docs/privacy.md) */
    eng__leave(e);
    return rc;
}

int eng__aud_customer_external_id(eng_engine *e, const eng__aud_cx *cx, uint32_t id, char *buf, size_t cap)
{
    int rc = eng__enter(e);
    if (rc)
        return rc;
    eng__aud *a;
    if (!buf || cap == 0)
        rc = eng__err(ENG_EINVAL, "buf", "buf is NULL or empty");
    else if (!(rc = eng__aud_get_cx(e, cx, &a))) {
        if (id >= a->t.n) {
            rc = eng__err(ENG_ENOTFOUND, "id", "no customer %u", id);
        } else if (eng__table_erased(&a->t, id)) {
            rc = eng__err(ENG_ENOTFOUND, "id", "customer %u was erased", id);
        } else if (a->t.idkind == ENG_ID_STRING) {
            size_t l;
            const char *s = eng__dict_str(&a->t.sid, id, &l);
            if (l + 1 > cap)
                rc = eng__err(ENG_ERANGE, "cap", "buffer too small (%zu bytes needed)", l + 1);
            else {
                memcpy(buf, s, l);
                buf[l] = 0;
            }
        } else {
            int n = snprintf(buf, cap, "%lld", (long long)a->t.iid[id]);
            if (n < 0 || (size_t)n >= cap)
                rc = eng__err(ENG_ERANGE, "cap", "buffer too small");
        }
    }
    eng__leave(e);
    return rc;
}

int eng__aud_customer_reachable(eng_engine *e, const eng__aud_cx *cx, uint32_t id, int channel, int *out)
{
    if (out)
        *out = 0;
    int rc = eng__enter(e);
    if (rc)
        return rc;
    eng__aud *a;
    if (!out)
        rc = eng__err(ENG_EINVAL, "out", "out is NULL");
    else if (channel < 0 || channel >= ENG_CH_COUNT)
        rc = eng__err(ENG_EINVAL, "channel", "unknown channel %d", channel);
    else if (!(rc = eng__aud_get_cx(e, cx, &a))) {
        if (id >= a->t.n)
            rc = eng__err(ENG_ENOTFOUND, "id", "no customer %u", id);
        else
            *out = eng__table_reachable(&a->t, channel, id);
    }
    eng__leave(e);
    return rc;
}
