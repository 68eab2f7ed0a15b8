/* Append-only string dictionary (see dict.h). */
#include "audience/dict.h"
#include "base/error.h"
#include "base/hash.h"
#include "core/engine_impl.h"

#include <string.h>

void eng__dict_init(eng__dict *d, const eng__mem *mem)
{
    memset(d, 0, sizeof *d);
    d->mem = mem;
}

void eng__dict_free(eng__dict *d)
{
    eng__free(d->mem, d->arena);
    eng__free(d->mem, d->off);
    eng__free(d->mem, d->slots);
    eng__free(d->mem, d->hs);
    const eng__mem *mem = d->mem;
    eng__dict_init(d, mem);
}

/* The index's hash lives only in memory (never stored), so it need not be
 * eng__hash64's stable one: a string of up to 16 bytes (ids, the values of
 * STRING columns) is read as two overlapping words, which together are the
 * whole string, and mixed once, instead of a word and a byte loop. */
static inline uint32_t hash_of(const char *s, size_t len)
{
    uint64_t a = 0, b = 0;
    if (len > 16)
        return (uint32_t)eng__hash64(s, len, 0x61756469ull);
    if (len >= 8) {
        memcpy(&a, s, 8);
        memcpy(&b, s + len - 8, 8);
    } else if (len >= 4) {
        uint32_t x, y;
        memcpy(&x, s, 4);
        memcpy(&y, s + len - 4, 4);
        a = x;
        b = y;
    } else if (len) {
        a = (uint64_t)(unsigned char)s[0] | (uint64_t)(unsigned char)s[len / 2] << 8 |
            (uint64_t)(unsigned char)s[len - 1] << 16;
    }
    return (uint32_t)eng__mix64((a * 0x9e3779b97f4a7c15ull) ^ ((b + len) * 0xc2b2ae3d27d4eb4full));
}

uint32_t eng__dict_hash(const char *s, size_t len) { return hash_of(s, len); }

/* A slot holds code + 1 in its low bits (below nslots, since the load stays
 * under 1) and, above them, the hash bits the slot number does not use: a
 * probe skips most other strings without touching the arena, in 4 bytes a
 * slot (the index of 10^7 ids is 64 MiB, not 128). */
static int64_t find_at(const eng__dict *d, const char *s, size_t len, uint32_t h, uint32_t *empty)
{
    if (!d->nslots)
        return -1;
    uint32_t mask = d->nslots - 1, tag = h & ~mask;
    for (uint32_t i = h & mask;; i = (i + 1) & mask) {
        uint32_t v = d->slots[i];
        if (!v) {
            *empty = i; /* where the string goes if it is added now */
            return -1;
        }
        if ((v & ~mask) != tag)
            continue;
        uint32_t code = (v & mask) - 1;
        size_t l;
        const char *t = eng__dict_str(d, code, &l);
        if (l == len && memcmp(t, s, len) == 0)
            return code;
    }
}

static int64_t find_h(const eng__dict *d, const char *s, size_t len, uint32_t h)
{
    uint32_t empty;
    return find_at(d, s, len, h, &empty);
}

int64_t eng__dict_find(const eng__dict *d, const char *s, size_t len)
{
    return find_h(d, s, len, hash_of(s, len));
}

static int rehash(eng__dict *d, uint64_t nslots)
{
    if (nslots > (1ull << 31))
        return eng__err(ENG_ETOOBIG, "", "string dictionary is full (2^31 slots)");
    uint32_t *slots = eng__calloc(d->mem, (size_t)nslots, sizeof *slots);
    if (!slots)
        return eng__nomem();
    /* The slots keep only part of each hash: hash the strings again, in
     * code order (the arena is read in order), a block at a time with the
     * target slots prefetched (the writes land anywhere in the index). */
    uint32_t mask = (uint32_t)(nslots - 1), hb[64];
    for (uint32_t c0 = 0; c0 < d->n; c0 += 64) {
        uint32_t m = d->n - c0 < 64 ? d->n - c0 : 64;
        int rc;
        if (d->pg && (rc = eng__prog_batch(d->pg, d->pg->done))) { /* the old index stays */
            eng__free(d->mem, slots);
            return rc;
        }
        ENG__WORK(m);
        for (uint32_t j = 0; j < m; j++) {
            size_t l;
            const char *str = eng__dict_str(d, c0 + j, &l);
            hb[j] = d->hs ? d->hs[c0 + j] : hash_of(str, l);
            __builtin_prefetch(&slots[hb[j] & mask], 1);
        }
        for (uint32_t j = 0; j < m; j++) {
            uint32_t h = hb[j], k = h & mask;
            while (slots[k])
                k = (k + 1) & mask;
            slots[k] = (h & ~mask) | (c0 + j + 1);
        }
    }
    eng__free(d->mem, d->slots);
    d->slots = slots;
    d->nslots = (uint32_t)nslots;
    return ENG_OK;
}

int eng__dict_intern(eng__dict *d, const char *s, size_t len, uint32_t *code)
{
    return eng__dict_intern_h(d, s, len, hash_of(s, len), code);
}

int eng__dict_intern_h(eng__dict *d, const char *s, size_t len, uint32_t h, uint32_t *code)
{
    uint32_t i = 0;
    int64_t f = find_at(d, s, len, h, &i);
    int rc;
    if (f >= 0) {
        *code = (uint32_t)f;
        return ENG_OK;
    }
    if (d->alen + len > UINT32_MAX || d->n >= UINT32_MAX - 2)
        return eng__err(ENG_ETOOBIG, "", "string dictionary is full (4 GiB)");
    /* Keep the load factor at most 3/4 (so code + 1 < nslots fits below the
     * tag), and the index of 10^7 ids at 2^24 slots. */
    int moved = (uint64_t)(d->n + 1) * 4 > (uint64_t)d->nslots * 3;
    if (moved && (rc = rehash(d, d->nslots ? d->nslots * 2ull : 64)))
        return rc;
    size_t n1 = (size_t)d->n + 1; /* the growth checks inline: this runs once per new string */
    if ((d->alen + len + 1 > d->acap && eng__grow(d->mem, (void **)&d->arena, &d->acap, d->alen + len + 1, 1)) ||
        (n1 + 1 > d->offcap && eng__grow(d->mem, (void **)&d->off, &d->offcap, n1 + 1, sizeof *d->off)) ||
        (d->hs && n1 > d->hscap && eng__grow(d->mem, (void **)&d->hs, &d->hscap, n1, sizeof *d->hs)))
        return eng__nomem();
    if (d->hs)
        d->hs[d->n] = h;
    if (d->n == 0)
        d->off[0] = 0;
    memcpy(d->arena + d->alen, s, len);
    d->alen += len;
    d->off[d->n + 1] = (uint32_t)d->alen;
    uint32_t mask = d->nslots - 1;
    if (moved) /* else the probe's empty slot is still the place */
        for (i = h & mask; d->slots[i]; i = (i + 1) & mask)
            ;
    d->slots[i] = (h & ~mask) | (d->n + 1);
    *code = d->n++;
    return ENG_OK;
}

int eng__dict_intern_many(eng__dict *d, const char *const *s, const size_t *len, const uint32_t *h, size_t n,
                          uint32_t *codes, uint64_t *added)
{
    size_t bytes = 0, total = (size_t)d->n + n;
    for (size_t i = 0; i < n; i++)
        bytes += len[i];
    int rc = eng__dict_reserve(d, total);
    if (rc)
        return rc;
    size_t i = 0;
    /* Every string new: the index stays under its load of 3/4 (reserved
     * above), so no insert moves it, and the arrays have room. Past the
     * limits the one-at-a-time path reports them. */
    if ((uint64_t)total * 4 <= (uint64_t)d->nslots * 3 && d->alen + bytes <= UINT32_MAX && total < UINT32_MAX - 2) {
        if ((d->alen + bytes + 1 > d->acap && eng__grow(d->mem, (void **)&d->arena, &d->acap, d->alen + bytes + 1, 1)) ||
            (total + 2 > d->offcap && eng__grow(d->mem, (void **)&d->off, &d->offcap, total + 2, sizeof *d->off)) ||
            (d->hs && total > d->hscap && eng__grow(d->mem, (void **)&d->hs, &d->hscap, total, sizeof *d->hs)))
            return eng__nomem();
        uint32_t mask = d->nslots - 1;
        if (d->n == 0)
            d->off[0] = 0;
        for (; i < n; i++) {
            if (i + 16 < n)
                __builtin_prefetch(&d->slots[h[i + 16] & mask]);
            uint32_t at = 0;
            int64_t f = find_at(d, s[i], len[i], h[i], &at);
            if (f >= 0) {
                codes[i] = (uint32_t)f;
                continue;
            }
            if (d->hs)
                d->hs[d->n] = h[i];
            if (len[i] < 128)
                eng__copy_short(d->arena + d->alen, s[i], len[i]);
            else
                memcpy(d->arena + d->alen, s[i], len[i]);
            d->alen += len[i];
            d->off[d->n + 1] = (uint32_t)d->alen;
            d->slots[at] = (h[i] & ~mask) | (d->n + 1);
            codes[i] = d->n++;
            (*added)++;
        }
    }
    for (; i < n; i++) {
        uint32_t before = d->n;
        if ((rc = eng__dict_intern_h(d, s[i], len[i], h[i], &codes[i])))
            return rc;
        *added += d->n != before;
    }
    return ENG_OK;
}

int eng__dict_keep_hashes(eng__dict *d, int on)
{
    if (!on || d->hs) {
        if (!on) {
            eng__free(d->mem, d->hs);
            d->hs = NULL;
            d->hscap = 0;
        }
        return ENG_OK;
    }
    size_t cap = d->n ? d->n : 64;
    if (!(d->hs = eng__malloc(d->mem, cap * sizeof *d->hs)))
        return eng__nomem();
    d->hscap = cap;
    for (uint32_t c = 0; c < d->n; c++) {
        size_t l;
        const char *str = eng__dict_str(d, c, &l);
        d->hs[c] = hash_of(str, l);
    }
    return ENG_OK;
}

int eng__dict_reserve(eng__dict *d, size_t n)
{
    uint64_t want = 64;
    while (want * 3 < (uint64_t)n * 4)
        want *= 2;
    if (want > (1ull << 31))
        return ENG_OK; /* let interning fail cleanly at its own limit */
    if (want <= d->nslots)
        return ENG_OK;
    return rehash(d, want);
}

size_t eng__dict_bytes(const eng__dict *d)
{
    return d->acap + d->offcap * sizeof *d->off + (size_t)d->nslots * sizeof *d->slots + d->hscap * sizeof *d->hs;
}
