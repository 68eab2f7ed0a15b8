/* Key hashes made again from the rows: a `sent` row flagged `first` does not store its key
 * hash (tseg.c, ENG__TSEG_SKEYS), since its key is its context's stored prefix, its
 * customer's number in canonical decimal, '/' and its channel's name (the only key of those
 * fields a key map accepts: keymap.c). Where such a send must be found by hash (read into the
 * hash index: a second channel of a customer, customers too sparse for a map, another
 * engine's appends) the key is written out and hashed again: exactly eng__ev_keyhash of the
 * key the receipts' parse hashes. The keys of one context and length share the hash's state
 * after the prefix's whole words (eng__hash64_state, as keypar.c's `sent` keys do), so only
 * the tail is hashed, 32 keys side by side. */
#include "events/ev_state.h"
#include "events/keypar.h"
#include "events/keytail.h"
#include "base/channel.h"

#include <string.h>

enum { GROUP = 32, KEY_ROOM = ENG__EV_KEY_MAX + 32, STATES = 64 };

typedef struct rekeyer {
    const eng__evorg *o;
    char (*buf)[KEY_ROOM];
    struct {
        uint32_t ctx, len;
        uint64_t h;
    } st[STATES]; /* the state after a context's prefix words, for keys of one length */
    uint64_t h0[GROUP];
    const void *at[GROUP];
    size_t rest[GROUP], m;
} rekeyer;

int eng__rekey_push(eng__ev *ev, uint32_t id)
{
    if (ev->nrekey == ev->rekeycap &&
        eng__grow(&ev->e->mem, (void **)&ev->rekey, &ev->rekeycap, ev->nrekey + 1, sizeof *ev->rekey))
        return eng__nomem();
    ev->rekey[ev->nrekey++] = id;
    return ENG_OK;
}

/* The key of (prefix pfx[0, plen), customer, channel) into out; its length. */
static size_t key_of(char *out, const char *pfx, size_t plen, uint32_t customer, uint8_t channel)
{
    memcpy(out, pfx, plen);
    char *d = out + plen;
    size_t nd = eng__dec_len(customer);
#if ENG__KEY_SWAR
    uint32_t lo = customer % 100000000;
    size_t top = nd > 8 ? nd - 8 : 0; /* the one or two digits above the last eight */
    if (top == 2)
        d[0] = (char)('0' + customer / 1000000000), d[1] = (char)('0' + customer / 100000000 % 10);
    else if (top == 1)
        d[0] = (char)('0' + customer / 100000000);
    uint64_t w = eng__dec8(lo); /* eight digits, leading zeros included, in memory order */
    memcpy(d + top, (const char *)&w + 8 - (nd - top), nd - top);
#else
    for (size_t i = nd; i-- > 0; customer /= 10)
        d[i] = (char)('0' + customer % 10);
#endif
    d[nd] = '/';
    memcpy(d + nd + 1, eng__channel_names[channel], eng__channel_lens[channel]);
    return plen + nd + 1 + eng__channel_lens[channel];
}

/* The key of send (ctx, customer, channel) as the group's next; 0 when its context has no prefix. */
static int rk_add(rekeyer *r, uint32_t ctx, uint32_t customer, uint8_t channel)
{
    size_t plen;
    const char *pfx = eng__kmap_prefix(r->o, ctx, &plen);
    if (!pfx || channel >= ENG_CH_COUNT)
        return 0;
    char *k = r->buf[r->m];
    size_t len = key_of(k, pfx, plen, customer, channel), skip = plen / 8 * 8;
    size_t slot = (len * 7 + ctx) % STATES;
    if (r->st[slot].len != len || r->st[slot].ctx != ctx) {
        r->st[slot].ctx = ctx;
        r->st[slot].len = (uint32_t)len;
        r->st[slot].h = eng__hash64_state(k, skip, len, ENG__EV_KEYSEED);
    }
    r->h0[r->m] = r->st[slot].h;
    r->at[r->m] = k + skip;
    r->rest[r->m++] = len - skip;
    return 1;
}

static rekeyer *rk_new(const eng__mem *mem, const eng__evorg *o)
{
    rekeyer *r = eng__calloc(mem, 1, sizeof *r);
    if (r && !(r->buf = eng__malloc(mem, GROUP * sizeof *r->buf))) {
        eng__free(mem, r);
        r = NULL;
    }
    if (r)
        r->o = o;
    return r;
}

static void rk_free(const eng__mem *mem, rekeyer *r)
{
    if (r)
        eng__free(mem, r->buf);
    eng__free(mem, r);
}

int eng__sends_rekey(eng__ev *ev, eng__evorg *o, int index)
{
    const eng__mem *mem = &ev->e->mem;
    eng__sends *s = &ev->s;
    size_t n = ev->nrekey;
    ev->nrekey = 0;
    if (!n)
        return ENG_OK;
    rekeyer *r = rk_new(mem, o);
    int rc = r ? ENG_OK : eng__nomem();
    uint64_t h[GROUP];
    for (size_t g = 0; g < n && !rc; g += GROUP) {
        size_t m = n - g < GROUP ? n - g : GROUP;
        for (size_t j = 0; j < m && !rc; j++) {
            uint32_t id = ev->rekey[g + j];
            if (!rk_add(r, s->ctx[id], s->customer[id], s->hot[id].channel))
                rc = eng__err(ENG_ECORRUPT, o->name,
                              "org %s: send %u's key hash is not stored and its context's key prefix is not known",
                              o->name, (unsigned)id);
        }
        if (rc)
            break;
        eng__ev_keyhash_resume_n(r->h0, r->at, r->rest, m, h);
        r->m = 0;
        rc = eng__sends_hashed(s, mem, ev->rekey + g, h, m, index);
    }
    rk_free(mem, r);
    return rc;
}

int eng__tkeys_unstore(eng__ev *ev, const eng__evorg *o, eng__tcols *c)
{
    if (!eng__tseg_skeys)
        return ENG_OK;
    const eng__mem *mem = &ev->e->mem;
    rekeyer *r = NULL;
    size_t at[GROUP];
    uint64_t h[GROUP];
    for (size_t i = 0, k = 0; i <= c->n; i++) {
        if (r && (r->m == GROUP || (i == c->n && r->m))) { /* the group hashed: a key the same is left out */
            eng__ev_keyhash_resume_n(r->h0, r->at, r->rest, r->m, h);
            for (size_t j = 0; j < r->m; j++)
                if (h[j] == c->keyhash[at[j]])
                    c->keyhash[at[j]] = 0;
            r->m = 0;
        }
        if (i == c->n || c->status[i] != ENG_TOUCH_SENT)
            continue;
        size_t kk = k++;
        uint32_t cx = c->ctx[i];
        /* a stored key of a flagged send whose context's prefix is stored (the one it was written with) */
        if (!c->first[i] || !c->keyhash[kk] || cx >= o->nkm || o->km[cx].pstore != 2)
            continue;
        if (!r && !(r = rk_new(mem, o)))
            return eng__nomem();
        at[r->m] = kk;
        (void)rk_add(r, cx, c->customer[i], c->channel[i]);
    }
    rk_free(mem, r);
    return ENG_OK;
}
