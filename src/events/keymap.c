/* Finding a send from the fields of the dispatcher's key (docs/events.md,
 * "Matching receipts").
 *
 * The dispatcher's idempotency key (dispatch/ledger.c, eng__send_key) is
 *     <org>/c<campaign>/m<message>.<version ms>/o<occurrence>/u<customer>/<channel>
 * so it names the send's context and its dense customer id. Per context, a
 * dense array customer -> send id (the "key map") turns matching into an array
 * index instead of a hash and a probe of the key-hash index. A context
 * learns its key prefix (up to "/u") from its first send, exactly as the
 * dispatcher wrote it; a key then matches a send of the map only when its
 * prefix is that one byte for byte, its customer is in canonical decimal and
 * its channel is the send's: the key is the send's own, so no hash is needed
 * to confirm it. Any other key (forged, garbled, of another org or
 * execution, truncated) goes on to the hash index, and is unmatched there
 * unless it is a key some send was written with. Sends the map cannot hold (a second channel of a customer in one
 * context, a context whose customers are too sparse, keys of any other form)
 * are in the hash index; the context is then marked so lookups that miss the
 * map also probe the index. The map itself is memory only. A context's prefix
 * is stored with the org's dictionary (state.c) when the context learns it in
 * the session that wrote the context first, so every send flagged `first` in it
 * has that prefix; a reload puts those sends back into the map instead of the
 * hash index (eng__sends_load, as their rows are read). Every context loaded still probes the index
 * when the map misses (its other sends are there). */
#include "events/ev_state.h"
#include "events/keytail.h"

#include <string.h>

/* Digits ending at *end (exclusive), canonical (no leading zero), at most max;
 * *end moves to the first digit. */
static int digits_back(const char *k, size_t *end, uint64_t max, uint64_t *out)
{
    size_t e = *end, b = e;
    uint64_t v = 0, p = 1;
    /* one pass from the last digit; up to 19 digits cannot overflow */
    while (b > 0 && (unsigned)(k[b - 1] - '0') <= 9 && e - b < 19) {
        v += (uint64_t)(k[b - 1] - '0') * p;
        p *= 10;
        b--;
    }
    if (b > 0 && (unsigned)(k[b - 1] - '0') <= 9) { /* 20 digits or more: the checked way */
        while (b > 0 && (unsigned)(k[b - 1] - '0') <= 9 && e - b < 20)
            b--;
        v = 0;
        for (size_t i = b; i < e; i++)
            if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, (uint64_t)(k[i] - '0'), &v))
                return 0;
    }
    if (b == e || (k[b] == '0' && e - b > 1) || v > max)
        return 0;
    *out = v;
    *end = b;
    return 1;
}

/* "/<tag>" (or ".") right before *end. */
static int sep_back(const char *k, size_t *end, const char *sep, size_t n)
{
    if (*end < n || memcmp(k + *end - n, sep, n))
        return 0;
    *end -= n;
    return 1;
}

size_t eng__key_tail(const char *k, size_t len, uint32_t *customer, uint8_t *channel)
{
    size_t n = 0;
    int ch = eng__channel_at_end(k, len, &n); /* the name after the last '/' */
    uint64_t cu;
    size_t e = len - n - 1;
    if (ch < 0 || len - n < 4 || !digits_back(k, &e, UINT32_MAX, &cu) || e < 2 || k[e - 1] != 'u' || k[e - 2] != '/')
        return 0;
    *customer = (uint32_t)cu;
    *channel = (uint8_t)ch;
    return e;
}

size_t eng__key_tail_after(const char *k, size_t len, size_t plen, uint32_t *customer, uint8_t *channel)
{
    return eng__key_tail_at(k, len, plen, customer, channel, ENG__KEY_SWAR);
}

int eng__key_parse(const char *k, size_t len, eng__keyparts *p)
{
    size_t n = 0;
    int ch = eng__channel_at_end(k, len, &n); /* the name after the last '/' */
    uint64_t cust, occ, ver, msg, camp;
    size_t e = len - n - 1;
    if (ch < 0 || !digits_back(k, &e, UINT32_MAX, &cust) || !sep_back(k, &e, "/u", 2) ||
        !digits_back(k, &e, UINT32_MAX, &occ) || !sep_back(k, &e, "/o", 2) || !digits_back(k, &e, INT64_MAX, &ver) ||
        !sep_back(k, &e, ".", 1) || !digits_back(k, &e, UINT64_MAX, &msg) || !sep_back(k, &e, "/m", 2) ||
        !digits_back(k, &e, UINT64_MAX, &camp) || !sep_back(k, &e, "/c", 2) || e == 0)
        return 0;
    p->org = k;
    p->orglen = e;
    /* the context's version is the approval second (dispatch/touch.c) */
    p->ctx = (eng__ctxkey){camp, msg, (uint32_t)(ver / 1000), (uint32_t)occ};
    p->customer = (uint32_t)cust;
    p->channel = (uint8_t)ch;
    return 1;
}

void eng__kmap_free(eng__evorg *o, const eng__mem *mem)
{
    for (uint32_t i = 0; i < o->nkm; i++) {
        eng__free(mem, o->km[i].v);
        eng__free(mem, o->km[i].run);
        eng__free(mem, o->km[i].prefix);
    }
    eng__free(mem, o->km);
    o->km = NULL;
    o->nkm = 0;
}

enum { ZERO_AHEAD = 16384 };

/* m's runs made again from v[0, n) (after v moved within its array). */
static void runs_rebuild(eng__kmap *m, uint32_t n)
{
    memset(m->run, 0, (size_t)(m->cap / 32) * sizeof *m->run);
    for (uint32_t off = 0; off < n; off++)
        if (m->v[off])
            eng__kmap_run_add(m, off, m->v[off] - 1);
}

/* Room in m for customer c within the sparsity bound: 0 when refused. */
static int cover(eng__kmap *m, const eng__mem *mem, uint32_t c)
{
    if (!m->span) {
        m->base = c;
    } else if (c >= m->base && c - m->base < m->span) {
        return 1;
    }
    uint64_t lo = c < m->base ? c : m->base;
    uint64_t hi = m->span && (uint64_t)m->base + m->span > (uint64_t)c + 1 ? (uint64_t)m->base + m->span : (uint64_t)c + 1;
    if (hi - lo > 4 * (uint64_t)m->count + 65536) /* too sparse for a dense array: the hash index holds it */
        return 0;
    if (c < m->base) { /* grow downwards by at least the span, so a descending run is amortised */
        uint64_t want = m->base > m->span ? m->base - m->span : 0;
        lo = want < lo ? want : lo;
    }
    uint64_t span = hi - lo, cap = m->cap;
    uint32_t shift = (uint32_t)(m->base - lo);
    if (span > cap) {
        cap = cap ? cap * 2 : 1024;
        while (cap < span)
            cap *= 2;
        /* the runs first: v's capacity says how many there are */
        eng__kmrun *run = eng__realloc_array(mem, m->run, cap / 32, sizeof *run);
        if (!run)
            return -1;
        memset(run + m->cap / 32, 0, (size_t)(cap - m->cap) / 32 * sizeof *run);
        m->run = run;
        uint32_t *v = eng__realloc_array(mem, m->v, cap, sizeof *v);
        if (!v)
            return -1;
        eng__mem_hint_huge(mem, v, cap * sizeof *v);
        m->v = v;
        m->cap = (uint32_t)cap;
    }
    if (shift) { /* what lay past the old span is still past it, and still zero */
        memmove(m->v + shift, m->v, (size_t)m->span * sizeof *m->v);
        memset(m->v, 0, (size_t)shift * sizeof *m->v);
        m->zeroed = m->zeroed > shift + m->span ? m->zeroed : shift + m->span;
        runs_rebuild(m, shift + m->span); /* the entries moved: their runs again, as costly as the move */
    }
    /* Cleared ahead, ZERO_AHEAD entries at a time: an ascending run of customers (a
     * dispatcher's batch) otherwise clears one entry a row, a small memset whose
     * masked store the next read of the entry waits for (12 ns a row at W6's M). */
    if (span > m->zeroed) {
        uint64_t z = span + ZERO_AHEAD < cap ? span + ZERO_AHEAD : cap;
        memset(m->v + m->zeroed, 0, (size_t)(z - m->zeroed) * sizeof *m->v);
        m->zeroed = (uint32_t)z;
    }
    m->base = (uint32_t)lo;
    m->span = (uint32_t)span;
    return 1;
}

static eng__kmap *kmap_of(eng__evorg *o, const eng__mem *mem, uint32_t ctx)
{
    if (ctx >= o->nkm) {
        size_t cap = o->nkm, need = (size_t)ctx + 1;
        eng__kmap *km = eng__realloc_array(mem, o->km, need, sizeof *km);
        if (!km)
            return NULL;
        memset(km + cap, 0, (need - cap) * sizeof *km);
        o->km = km;
        o->nkm = (uint32_t)need;
    }
    return &o->km[ctx];
}

const char *eng__kmap_prefix(const eng__evorg *o, uint32_t ctx, size_t *plen)
{
    if (ctx >= o->nkm || !o->km[ctx].prefix)
        return NULL;
    *plen = o->km[ctx].plen;
    return o->km[ctx].prefix;
}

int eng__kmap_learn(eng__evorg *o, const eng__mem *mem, uint32_t ctx, const char *key, size_t plen, int store)
{
    eng__kmap *m = kmap_of(o, mem, ctx);
    if (!m || (!m->prefix && !(m->prefix = eng__malloc(mem, plen))))
        return eng__nomem();
    memcpy(m->prefix, key, plen);
    m->plen = (uint32_t)plen;
    if (store && m->pstore != 1)
        o->npstore++;
    m->pstore = store ? 1 : 0;
    return ENG_OK;
}

int64_t eng__kmap_find_key(const eng__ev *ev, const char *key, size_t len)
{
    eng__keyparts kp;
    if (!eng__key_parse(key, len, &kp))
        return -1;
    const eng__evorg *o = eng__ev_org_named(ev, NULL, kp.org, kp.orglen);
    if (!o)
        return -1;
    int64_t c = eng__ev_ctx_find(o, &kp.ctx);
    size_t plen;
    const char *pfx = c >= 0 ? eng__kmap_prefix(o, (uint32_t)c, &plen) : NULL;
    uint32_t id = pfx && plen < len && !memcmp(key, pfx, plen) ? eng__kmap_get(o, (uint32_t)c, kp.customer) : 0;
    const eng__sends *s = &ev->s;
    /* the key is the map's send's own when it has its channel (no key hash is kept for it) */
    return id && s->hot[id - 1].org == o->code && s->hot[id - 1].channel == kp.channel
               ? (int64_t)id - 1
               : -1;
}

int eng__kmap_put(eng__evorg *o, const eng__sends *s, const eng__mem *mem, uint32_t ctx, uint32_t customer,
                  uint32_t send, int *placed)
{
    *placed = 0;
    eng__kmap *m = kmap_of(o, mem, ctx);
    if (!m)
        return eng__nomem();
    int r = cover(m, mem, customer);
    if (r < 0)
        return eng__nomem();
    uint32_t *slot = r ? &m->v[customer - m->base] : NULL;
    if (slot && *slot && s->hot[*slot - 1].org == ENG__NO_ORG) { /* a send retention dropped */
        *slot = 0;
        m->run[(customer - m->base) / 32].mask = 0; /* its run's entries are read from v */
        m->count--;
    }
    if (!slot || *slot) {
        m->probe = 1;
        return ENG_OK;
    }
    *slot = send + 1;
    eng__kmap_run_add(m, customer - m->base, send);
    m->count++;
    *placed = 1;
    return ENG_OK;
}

void eng__kmap_unput(eng__evorg *o, uint32_t ctx, uint32_t customer, uint32_t send)
{
    if (ctx >= o->nkm)
        return;
    eng__kmap *m = &o->km[ctx];
    uint32_t off = customer - m->base;
    if (customer >= m->base && off < m->span && m->v[off] == send + 1) {
        m->v[off] = 0;
        m->run[off / 32].mask = 0;
        m->count--;
    }
}
