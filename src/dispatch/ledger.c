/* The send ledger's records: the execution record and the chunk records, and
 * the deterministic send key. A chunk stores, per customer, the decision
 * (channels, variant, rule) and, per send, its state, attempts and retry time:
 * about a dozen bytes per send, rewritten whole at each step of the chunk. */
#include "dispatch/dispatch_impl.h"
#include "base/hash.h"

#include <stdio.h>
#include <string.h>

size_t eng__send_key(char *buf, size_t cap, const char *org, uint64_t campaign, uint64_t message, eng_time version,
                     uint32_t occurrence, uint32_t customer, int channel)
{
    const char *ch = eng_channel_name(channel);
    int n = snprintf(buf, cap, "%s/c%llu/m%llu.%lld/o%u/u%u/%s", org, (unsigned long long)campaign,
                     (unsigned long long)message, (long long)version, occurrence, customer, ch ? ch : "?");
    return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

size_t eng__send_key_prefix(char *buf, size_t cap, const char *org, uint64_t campaign, uint64_t message,
                            eng_time version, uint32_t occurrence)
{
    int n = snprintf(buf, cap, "%s/c%llu/m%llu.%lld/o%u/u", org, (unsigned long long)campaign,
                     (unsigned long long)message, (long long)version, occurrence);
    return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

size_t eng__send_key_tail(char *buf, size_t cap, const char *prefix, size_t plen, uint32_t customer, int channel)
{
    char digits[10];
    int nd = 0;
    do
        digits[nd++] = (char)('0' + customer % 10);
    while ((customer /= 10) != 0);
    const char *ch = eng_channel_name(channel);
    size_t cl = ch ? strlen(ch) : 1;
    if (plen + (size_t)nd + 1 + cl + 1 > cap)
        return 0;
    memcpy(buf, prefix, plen);
    size_t n = plen;
    while (nd)
        buf[n++] = digits[--nd];
    buf[n++] = '/';
    memcpy(buf + n, ch ? ch : "?", cl);
    n += cl;
    buf[n] = 0;
    return n;
}

void eng__exec_key(char *buf, size_t cap, uint64_t msg, uint32_t occ)
{
    snprintf(buf, cap, "d/x/%016llx/%08x", (unsigned long long)msg, occ);
}

void eng__chunk_key(char *buf, size_t cap, uint64_t msg, uint32_t occ, uint32_t chunk)
{
    snprintf(buf, cap, "d/l/%016llx/%08x/%08x", (unsigned long long)msg, occ, chunk);
}

int eng__exec_store(eng_engine *e, uint64_t msg, uint32_t occ, const eng__xrec *x)
{
    eng__wr w;
    eng__wr_init(&w, &e->mem);
    eng__wr_u8(&w, (uint8_t)x->state);
    eng__wr_svar(&w, x->version);
    eng__wr_svar(&w, x->due);
    eng__wr_uvar(&w, x->audience);
    eng__wr_uvar(&w, x->chunk_size);
    eng__wr_uvar(&w, x->planned);
    eng__wr_uvar(&w, x->sends);
    eng__wr_uvar(&w, x->accepted);
    eng__wr_uvar(&w, x->rejected);
    eng__wr_uvar(&w, x->expired);
    eng__wr_uvar(&w, x->skipped);
    eng__wr_uvar(&w, x->unreachable);
    eng__wr_svar(&w, x->credits);
    eng__wr_str(&w, x->reason);
    if (x->pts_planned) { /* absent for executions without points: older readers read those */
        eng__wr_uvar(&w, x->pts_planned);
        eng__wr_uvar(&w, x->pts_awarded);
        eng__wr_uvar(&w, x->pts_rejected);
        eng__wr_uvar(&w, x->pts_expired);
        eng__wr_svar(&w, x->pts_sum);
    }
    char key[64];
    eng__exec_key(key, sizeof key, msg, occ);
    return eng__rec_put_wr(e->store, ENG__K(key), ENG__REC_DSP_EXEC, ENG__DSP_SCHEMA, &w);
}

int eng__exec_load(eng_engine *e, uint64_t msg, uint32_t occ, eng__xrec *x)
{
    char key[64];
    eng__exec_key(key, sizeof key, msg, occ);
    memset(x, 0, sizeof *x);
    eng__rec rec;
    int rc = eng__rec_get(e->store, ENG__K(key), ENG__REC_DSP_EXEC, ENG__DSP_SCHEMA, &rec);
    if (rc)
        return rc;
    eng__rd r;
    eng__rd_init(&r, rec.payload, rec.len);
    x->state = eng__rd_u8(&r);
    x->version = eng__rd_svar(&r);
    x->due = eng__rd_svar(&r);
    x->audience = eng__rd_uvar(&r);
    x->chunk_size = (uint32_t)eng__rd_uvar(&r);
    x->planned = eng__rd_uvar(&r);
    x->sends = eng__rd_uvar(&r);
    x->accepted = eng__rd_uvar(&r);
    x->rejected = eng__rd_uvar(&r);
    x->expired = eng__rd_uvar(&r);
    x->skipped = eng__rd_uvar(&r);
    x->unreachable = eng__rd_uvar(&r);
    x->credits = eng__rd_svar(&r);
    size_t n;
    const uint8_t *s = eng__rd_blob(&r, &n);
    if (s && n < sizeof x->reason) {
        memcpy(x->reason, s, n);
        x->reason[n] = 0;
    }
    if (eng__rd_ok(&r) && eng__rd_left(&r)) {
        x->pts_planned = eng__rd_uvar(&r);
        x->pts_awarded = eng__rd_uvar(&r);
        x->pts_rejected = eng__rd_uvar(&r);
        x->pts_expired = eng__rd_uvar(&r);
        x->pts_sum = eng__rd_svar(&r);
    }
    int ok = eng__rd_ok(&r) && !eng__rd_left(&r) && s && n < sizeof x->reason && x->chunk_size > 0 &&
             x->state >= ENG_EXEC_RUNNING && x->state <= ENG_EXEC_REFUSED;
    eng__rec_free(e->store, &rec);
    return ok ? ENG_OK : eng__err(ENG_ECORRUPT, key, "execution record '%s' does not decode", key);
}

void eng__chunk_free(eng__chunk *c)
{
    if (c->mem) {
        eng__free(c->mem, c->cust);
        eng__free(c->mem, c->send);
        eng__free(c->mem, c->pts);
    }
    c->cust = NULL;
    c->send = NULL;
    c->pts = NULL;
    c->ncust = c->nsend = c->npts = 0;
}

int eng__chunk_store(eng_engine *e, uint64_t msg, uint32_t occ, const eng__chunk *c)
{
    eng__wr w;
    eng__wr_init(&w, &e->mem);
    eng__wr_reserve(&w, (size_t)c->ncust * 6 + (size_t)c->nsend * 6 + 16);
    eng__wr_uvar(&w, c->ncust);
    uint32_t prev = 0;
    for (uint32_t i = 0; i < c->ncust; i++) {
        const eng__lcust *k = &c->cust[i];
        eng__wr_uvar(&w, k->id - prev);
        prev = k->id;
        eng__wr_uvar(&w, k->planned);
        eng__wr_u8(&w, k->rule);
        eng__wr_u8(&w, k->detail);
        eng__wr_uvar(&w, (uint64_t)(k->variant + 1));
        eng__wr_u8(&w, k->unreach);
        if (k->rule == ENG__RULE_XENGAGE) /* the channels it could have had (the off-policy targets') */
            eng__wr_uvar(&w, k->reach);
        if (k->rule == ENG__RULE_XENGAGE && (k->detail & 1u)) { /* explored: the propensity, exactly as logged */
            uint32_t b;
            memcpy(&b, &k->prop, sizeof b);
            eng__wr_u32(&w, b);
        }
    }
    eng__wr_uvar(&w, c->nsend);
    for (uint32_t i = 0; i < c->nsend; i++) {
        const eng__lsend *s = &c->send[i];
        eng__wr_uvar(&w, s->cust);
        eng__wr_u8(&w, s->ch);
        eng__wr_u8(&w, (uint8_t)(s->state | s->attempts << 3));
        if (s->state == ENG_LEDGER_RETRY || s->state == ENG_LEDGER_UNKNOWN)
            eng__wr_svar(&w, s->next_at);
        if (s->state == ENG_LEDGER_SKIPPED)
            eng__wr_u8(&w, s->why);
    }
    if (c->npts) { /* points awards: a trailing section, absent when there are none */
        eng__wr_uvar(&w, c->npts);
        for (uint32_t i = 0; i < c->npts; i++) {
            const eng__lpts *a = &c->pts[i];
            eng__wr_uvar(&w, a->cust);
            eng__wr_u8(&w, (uint8_t)(a->state | a->attempts << 3));
            if (a->state == ENG_LEDGER_RETRY || a->state == ENG_LEDGER_UNKNOWN)
                eng__wr_svar(&w, a->next_at);
        }
    }
    char key[64];
    eng__chunk_key(key, sizeof key, msg, occ, c->index);
    return eng__rec_put_wr(e->store, ENG__K(key), ENG__REC_DSP_CHUNK, ENG__DSP_CHUNK_SCHEMA, &w);
}

int eng__chunk_decode(const eng__mem *mem, const char *key, uint16_t schema, const uint8_t *p, size_t n, eng__chunk *c)
{
    eng__rd r;
    eng__rd_init(&r, p, n);
    c->mem = mem;
    uint64_t nc = eng__rd_uvar(&r);
    if (!eng__rd_ok(&r) || nc > eng__rd_left(&r) || nc > (1u << 20))
        return eng__err(ENG_ECORRUPT, key, "ledger chunk '%s' does not decode", key);
    c->ncust = (uint32_t)nc;
    c->cust = eng__calloc(mem, nc ? nc : 1, sizeof *c->cust);
    if (!c->cust)
        return eng__nomem();
    uint64_t id = 0;
    for (uint32_t i = 0; i < c->ncust; i++) {
        eng__lcust *k = &c->cust[i];
        id += eng__rd_uvar(&r);
        k->id = (uint32_t)id;
        k->planned = (uint32_t)eng__rd_uvar(&r);
        k->rule = eng__rd_u8(&r);
        k->detail = eng__rd_u8(&r);
        k->variant = (int16_t)((int64_t)eng__rd_uvar(&r) - 1);
        k->unreach = eng__rd_u8(&r);
        if (k->rule == ENG__RULE_XENGAGE)
            k->reach = (uint32_t)eng__rd_uvar(&r);
        if (k->rule == ENG__RULE_XENGAGE && (k->detail & 1u)) {
            unsigned nr = (k->detail >> 2) & 31u;
            if (schema >= 2) {
                uint32_t b = eng__rd_u32(&r);
                memcpy(&k->prop, &b, sizeof b);
                if (!(k->prop > 0 && k->prop <= 1)) /* NaN too */
                    r.err = ENG_ECORRUPT;
            } else /* schema 1: the uniform bucket's */
                k->prop = nr ? 1.0f / (float)nr : 0;
        }
        if (id > UINT32_MAX)
            r.err = ENG_ECORRUPT;
    }
    uint64_t ns = eng__rd_uvar(&r);
    if (!eng__rd_ok(&r) || ns > eng__rd_left(&r)) {
        eng__chunk_free(c);
        return eng__err(ENG_ECORRUPT, key, "ledger chunk '%s' does not decode", key);
    }
    c->nsend = (uint32_t)ns;
    c->send = eng__calloc(mem, ns ? ns : 1, sizeof *c->send);
    if (!c->send) {
        eng__chunk_free(c);
        return eng__nomem();
    }
    for (uint32_t i = 0; i < c->nsend; i++) {
        eng__lsend *s = &c->send[i];
        uint64_t ci = eng__rd_uvar(&r);
        s->cust = (uint32_t)ci;
        s->ch = eng__rd_u8(&r);
        uint8_t sa = eng__rd_u8(&r);
        s->state = sa & 7;
        s->attempts = sa >> 3;
        if (s->state == ENG_LEDGER_RETRY || s->state == ENG_LEDGER_UNKNOWN)
            s->next_at = eng__rd_svar(&r);
        if (s->state == ENG_LEDGER_SKIPPED)
            s->why = eng__rd_u8(&r);
        if (ci >= c->ncust || s->ch >= ENG_CH_COUNT || s->state > ENG_LEDGER_SKIPPED)
            r.err = ENG_ECORRUPT;
    }
    uint64_t np = eng__rd_ok(&r) && eng__rd_left(&r) ? eng__rd_uvar(&r) : 0;
    if (np > c->ncust || (np && !eng__rd_ok(&r))) {
        eng__chunk_free(c);
        return eng__err(ENG_ECORRUPT, key, "ledger chunk '%s' does not decode", key);
    }
    if (np && !(c->pts = eng__calloc(mem, c->ncust, sizeof *c->pts))) {
        eng__chunk_free(c);
        return eng__nomem();
    }
    c->npts = (uint32_t)np;
    for (uint32_t i = 0; i < c->npts; i++) {
        eng__lpts *a = &c->pts[i];
        uint64_t ci = eng__rd_uvar(&r);
        a->cust = (uint32_t)ci;
        uint8_t sa = eng__rd_u8(&r);
        a->state = sa & 7;
        a->attempts = sa >> 3;
        if (a->state == ENG_LEDGER_RETRY || a->state == ENG_LEDGER_UNKNOWN)
            a->next_at = eng__rd_svar(&r);
        if (ci >= c->ncust || a->state >= ENG_LEDGER_SKIPPED)
            r.err = ENG_ECORRUPT;
    }
    if (!eng__rd_ok(&r) || eng__rd_left(&r)) {
        eng__chunk_free(c);
        return eng__err(ENG_ECORRUPT, key, "ledger chunk '%s' does not decode", key);
    }
    return ENG_OK;
}

int eng__chunk_load(eng_engine *e, uint64_t msg, uint32_t occ, uint32_t index, eng__chunk *c)
{
    return eng__chunk_load_hash(e, msg, occ, index, c, NULL);
}

int eng__chunk_load_hash(eng_engine *e, uint64_t msg, uint32_t occ, uint32_t index, eng__chunk *c, uint64_t *hash)
{
    char key[64];
    eng__chunk_key(key, sizeof key, msg, occ, index);
    memset(c, 0, sizeof *c);
    c->index = index;
    eng__rec rec;
    int rc = eng__rec_get(e->store, ENG__K(key), ENG__REC_DSP_CHUNK, ENG__DSP_CHUNK_SCHEMA, &rec);
    if (rc)
        return rc;
    rc = eng__chunk_decode(&e->mem, key, rec.schema, rec.payload, rec.len, c);
    c->index = index;
    if (hash)
        *hash = eng__hash64(rec.payload, rec.len, 0);
    eng__rec_free(e->store, &rec);
    return rc;
}
