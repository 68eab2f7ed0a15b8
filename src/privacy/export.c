/* Export of everything held about one customer ("show me what you hold about
 * me", docs/privacy.md) as one JSON object. Values print in the syntax the
 * import accepts (eng_customer_get), so an export can be compared with what
 * was put in. Touches and transactions are those of the actor's org. */
#include "privacy/privacy_impl.h"
#include "events/events_impl.h"
#include "audience/audience_link.h"
#include "dispatch/coupon.h"

#include <stdio.h>
#include <string.h>

static const char *const status_names[ENG_TOUCH_STATUS_COUNT] = {
    "sent", "delivered", "opened", "clicked", "failed", "unsubscribed", "bounced", "complained"};

static void js_str(eng__wr *w, const char *s, size_t n)
{
    static const char hx[] = "0123456789abcdef";
    eng__wr_u8(w, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            eng__wr_u8(w, '\\');
            eng__wr_u8(w, c);
        } else if (c < 0x20 || c == 0x7f) {
            char u[6] = {'\\', 'u', '0', '0', hx[c >> 4], hx[c & 15]};
            eng__wr_bytes(w, u, sizeof u);
        } else {
            eng__wr_u8(w, c);
        }
    }
    eng__wr_u8(w, '"');
}

static void js_cstr(eng__wr *w, const char *s) { js_str(w, s, strlen(s)); }
static void js_raw(eng__wr *w, const char *s) { eng__wr_bytes(w, s, strlen(s)); }

static void js_time(eng__wr *w, eng_time t)
{
    char b[40];
    eng__fmt_time(b, sizeof b, t);
    js_cstr(w, b);
}

/* One customer value by column name, as the import would take it; NULL -> null. */
static int js_value(eng__wr *w, eng_engine *e, const char *org, uint32_t id, const char *col, int type)
{
    char tmp[96];
    const char *src;
    size_t n;
    int rc = eng__customer_text(e, org, id, col, tmp, sizeof tmp, &src, &n);
    if (rc)
        return rc;
    if (n == 0 && type != ENG_COL_STRING)
        js_raw(w, "null");
    else if (type == ENG_COL_INT64 || type == ENG_COL_DECIMAL || type == ENG_COL_BOOL)
        eng__wr_bytes(w, src, n);
    else
        js_str(w, src, n);
    return ENG_OK;
}

static int attributes(eng__wr *w, eng_engine *e, const char *org, const eng__table *t, uint32_t id)
{
    int rc = ENG_OK;
    js_raw(w, "\"attributes\":{");
    for (uint32_t c = 0, first = 1; c < t->ncols && !rc; c++) {
        if (!eng__bit(t->cols[c].present, id))
            continue;
        js_raw(w, first ? "" : ",");
        first = 0;
        js_cstr(w, t->cols[c].name);
        eng__wr_u8(w, ':');
        rc = js_value(w, e, org, id, t->cols[c].name, t->cols[c].type);
    }
    js_raw(w, "},\"contacts\":{");
    for (int ch = 0, first = 1; ch < ENG_CH_COUNT && !rc; ch++) {
        size_t l;
        const char *s = t->ch[ch].used ? eng__table_contact(t, ch, id, &l) : NULL;
        if (!s)
            continue;
        js_raw(w, first ? "" : ",");
        first = 0;
        js_cstr(w, eng_channel_name(ch));
        eng__wr_u8(w, ':');
        js_str(w, s, l);
    }
    /* consent and opt-out: the time given, per channel that has one */
    for (int k = 0; k < 2 && !rc; k++) {
        js_raw(w, k ? "},\"optout\":{" : "},\"consent\":{");
        for (int ch = 0, first = 1; ch < ENG_CH_COUNT; ch++) {
            const eng__chan *c = &t->ch[ch];
            if (!c->used || !eng__idset_contains(k ? &c->optout : &c->consent, id))
                continue;
            js_raw(w, first ? "" : ",");
            first = 0;
            js_cstr(w, eng_channel_name(ch));
            eng__wr_u8(w, ':');
            js_time(w, k ? c->optout_ts[id] : eng__table_consent_ts(t, ch, id));
        }
    }
    js_raw(w, "},\"suppressed\":");
    js_raw(w, eng__idset_contains(&t->suppressed, id) ? "true" : "false");
    return rc;
}

static const char *const source_names[] = {"", "import", "api", "unsubscribe", "complaint"};

/* Every consent and opt-out change, oldest first (eng_consent_history). */
static int consent_history(eng__wr *w, eng_engine *e, eng__aud *a, uint32_t id, eng__prog *pg)
{
    eng__chist h;
    eng__chist_init(&h, &e->mem, id);
    int rc = eng__chist_build(a, &h, pg);
    js_raw(w, ",\"consent_history\":[");
    for (size_t i = 0; i < h.n && !rc; i++) {
        eng_consent_change c = ENG_CONSENT_CHANGE_INIT;
        eng__chist_fill(&h, i, &c);
        js_raw(w, i ? ",{\"channel\":" : "{\"channel\":");
        js_cstr(w, eng_channel_name(c.channel));
        js_raw(w, c.kind == ENG_CONSENT_KIND_OPTOUT ? ",\"kind\":\"optout\"" : ",\"kind\":\"consent\"");
        js_raw(w, c.given ? ",\"given\":true,\"time\":" : ",\"given\":false,\"time\":");
        js_time(w, c.time);
        js_raw(w, ",\"recorded\":");
        js_time(w, c.recorded);
        js_raw(w, ",\"source\":");
        js_cstr(w, c.source > 0 && c.source <= ENG_CONSENT_SOURCE_COMPLAINT ? source_names[c.source] : "unknown");
        js_raw(w, ",\"actor\":");
        js_cstr(w, c.actor);
        js_raw(w, "}");
    }
    js_raw(w, "]");
    eng__chist_free(&h);
    return rc;
}

static int groups(eng__wr *w, eng_engine *e, eng__aud *a, uint32_t id, eng__prog *pg)
{
    int rc = ENG_OK;
    js_raw(w, ",\"groups\":[");
    for (uint32_t i = 0, first = 1; i < a->ng && !rc; i++) {
        eng__idset tmp;
        const eng__idset *m;
        eng__idset_init(&tmp, &e->mem);
        if (!(rc = eng__group_eval_ref(a, a->g[i].id, &tmp, &m)) && eng__idset_contains(m, id)) {
            js_raw(w, first ? "" : ",");
            first = 0;
            js_cstr(w, a->g[i].name);
        }
        eng__idset_free(&tmp);
        if (!rc)
            rc = eng__prog_batch(pg, pg->done + 1);
    }
    js_raw(w, "]");
    return rc;
}

static int touches(eng__wr *w, eng_engine *e, const char *org, uint32_t id, eng__prog *pg)
{
    eng__touch_buf b;
    int rc = eng__touch_customer(e, org, id, pg, &b);
    if (rc == ENG_ENOTFOUND) { /* the org has no events */
        eng_error_clear();
        js_raw(w, ",\"contacted\":[]");
        return ENG_OK;
    }
    if (rc)
        return rc;
    js_raw(w, ",\"contacted\":[");
    for (size_t i = 0; i < b.c.n && !rc; i++) {
        uint64_t campaign, message;
        uint32_t version, occ;
        if ((rc = eng__ctx_get(e, b.c.org, b.c.ctx[i], &campaign, &message, &version, &occ)))
            break;
        char head[160];
        snprintf(head, sizeof head, "%s{\"campaign\":%llu,\"message\":%llu,\"occurrence\":%u,\"channel\":",
                 i ? "," : "", (unsigned long long)campaign, (unsigned long long)message, occ);
        js_raw(w, head);
        js_cstr(w, eng_channel_name(b.c.channel[i]));
        js_raw(w, ",\"time\":");
        js_time(w, b.c.time[i]);
        js_raw(w, ",\"status\":");
        js_cstr(w, b.c.status[i] < ENG_TOUCH_STATUS_COUNT ? status_names[b.c.status[i]] : "unknown");
        js_raw(w, "}");
    }
    js_raw(w, "]");
    eng__touch_buf_free(e, &b);
    return rc;
}

typedef struct txctx {
    eng__wr *w;
    eng_engine *e;
    uint16_t org;
    size_t n;
} txctx;

/* A custom transaction field's value, typed as the attributes are. */
static void field_value(eng__wr *w, eng_engine *e, uint16_t org, int type, int64_t v)
{
    char b[48];
    size_t l;
    const char *s;
    switch (type) {
    case ENG_COL_STRING:
        s = eng__txn_fstr(e, org, (uint32_t)v, &l);
        js_str(w, s, l);
        break;
    case ENG_COL_DECIMAL:
        eng__fmt_decimal4(b, sizeof b, v);
        js_raw(w, b);
        break;
    case ENG_COL_DATE:
        js_time(w, v);
        break;
    case ENG_COL_BOOL:
        js_raw(w, v ? "true" : "false");
        break;
    default:
        snprintf(b, sizeof b, "%lld", (long long)v);
        js_raw(w, b);
        break;
    }
}

static int on_txns(const eng__txn_cols *c, void *user)
{
    txctx *x = user;
    eng__wr *w = x->w;
    for (size_t i = 0; i < c->n; i++) {
        js_raw(w, x->n++ ? ",{\"id\":" : "{\"id\":");
        js_str(w, c->id[i], c->id_len[i]);
        js_raw(w, ",\"time\":");
        js_time(w, c->time[i]);
        char amt[48];
        eng__fmt_decimal4(amt, sizeof amt, c->amount[i]);
        js_raw(w, ",\"amount\":");
        js_raw(w, amt);
        size_t l = 0;
        const char *s = eng__txn_store_str(x->e, c->org, c->store[i], &l);
        js_raw(w, ",\"store\":");
        js_str(w, s ? s : "", s ? l : 0);
        js_raw(w, ",\"items\":[");
        for (uint32_t k = c->item_off[i]; k < c->item_off[i + 1]; k++) {
            s = eng__txn_sku_str(x->e, c->org, c->items[k], &l);
            js_raw(w, k > c->item_off[i] ? "," : "");
            js_str(w, s ? s : "", s ? l : 0);
        }
        js_raw(w, "],\"fields\":{");
        for (uint32_t f = 0, first = 1; f < c->nfields; f++) {
            int type;
            const char *name = eng__txn_field_name(x->e, c->org, f, &type);
            if (!name || !((c->field_present[f][i >> 6] >> (i & 63)) & 1))
                continue;
            js_raw(w, first ? "" : ",");
            first = 0;
            js_cstr(w, name);
            eng__wr_u8(w, ':');
            field_value(w, x->e, c->org, type, c->field[f][i]);
        }
        js_raw(w, "}}");
    }
    return 0;
}

static int transactions(eng__wr *w, eng_engine *e, const char *org, uint32_t id, eng__prog *pg)
{
    txctx x = {w, e, 0, 0};
    js_raw(w, ",\"transactions\":[");
    int rc = eng__txn_scan(e, org, 0, 0, id, pg, on_txns, &x);
    if (rc == ENG_ENOTFOUND) {
        eng_error_clear();
        rc = ENG_OK;
    }
    js_raw(w, "]");
    return rc;
}

typedef struct cpctx {
    eng__wr *w;
    size_t n;
} cpctx;

static int on_coupon(const eng__coupon_row *r, void *user)
{
    cpctx *x = user;
    char b[96];
    js_raw(x->w, x->n++ ? ",{\"pool\":" : "{\"pool\":");
    js_cstr(x->w, r->pool);
    js_raw(x->w, ",\"code\":");
    js_cstr(x->w, r->code);
    snprintf(b, sizeof b, ",\"message\":%llu,\"occurrence\":%u,\"assigned\":", (unsigned long long)r->message,
             r->occurrence);
    js_raw(x->w, b);
    js_time(x->w, r->at);
    js_raw(x->w, "}");
    return 0;
}

/* The coupon codes the customer holds, one per pool (dispatch/coupon.h). */
static int coupons(eng__wr *w, eng_engine *e, const char *org, uint32_t id)
{
    cpctx x = {w, 0};
    js_raw(w, ",\"coupons\":[");
    int rc = eng__coupons_each(e, org, id, on_coupon, &x);
    js_raw(w, "]");
    return rc;
}

int eng__privacy_export(eng_engine *e, const char *org, const char *ext, eng__wr *w, eng__prog *pg)
{
    eng__aud *a;
    uint32_t id;
    int rc = eng__aud_get(e, org, &a);
    if (rc)
        return rc;
    if (eng__customer_find(&a->t, ext, strlen(ext), &id))
        return eng__err(ENG_ENOTFOUND, "external_id", "no customer with that external id"); /* never echo it */
    char head[64];
    js_raw(w, "{\"external_id\":");
    js_cstr(w, ext);
    snprintf(head, sizeof head, ",\"customer\":%u,", id);
    js_raw(w, head);
    /* Progress: one unit per part (attributes with contacts, consent, touches,
     * transactions, coupons) and one per group tested. */
    if (!(rc = eng__prog_start(pg, e, "privacy.export", 5 + (uint64_t)a->ng)) &&
        !(rc = attributes(w, e, org, &a->t, id)) && !(rc = eng__prog_batch(pg, 1)) &&
        !(rc = consent_history(w, e, a, id, pg)) && !(rc = eng__prog_batch(pg, 2)) &&
        !(rc = groups(w, e, a, id, pg)) && !(rc = touches(w, e, org, id, pg)) &&
        !(rc = eng__prog_batch(pg, pg->done + 1)))
        rc = transactions(w, e, org, id, pg);
    if (!rc && !(rc = eng__prog_batch(pg, pg->done + 1)))
        rc = coupons(w, e, org, id);
    js_raw(w, "}");
    if (!rc && w->err)
        rc = eng__nomem();
    return rc;
}
