/* Append-only string dictionary (see dict.h). */
#include "audience/dict.h"
#include "base/error.h"
#include "base/hash.h"

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
    const eng__mem *mem = d->mem;
    eng__dict_init(d, mem);
}

static uint32_t hash_of(const char *s, size_t len) { return (uint32_t)eng__hash64(s, len, 0x61756469ull); }

uint32_t eng__dict_hash(const char *s, size_t len) { return hash_of(s, len); }

static int64_t find_h(const eng__dict *d, const char *s, size_t len, uint32_t h)
{
    if (!d->nslots)
        return -1;
    uint32_t mask = d->nslots - 1;
    for (uint32_t i = h & mask;; i = (i + 1) & mask) {
        uint64_t v = d->slots[i];
        if (!v)
            return -1;
        if ((uint32_t)(v >> 32) != h)
            continue;
        uint32_t code = (uint32_t)v - 1;
        size_t l;
        const char *t = eng__dict_str(d, code, &l);
        if (l == len && memcmp(t, s, len) == 0)
            return code;
    }
}

int64_t eng__dict_find(const eng__dict *d, const char *s, size_t len)
{
    return find_h(d, s, len, hash_of(s, len));
}

static int rehash(eng__dict *d, uint32_t nslots)
{
    uint64_t *slots = eng__calloc(d->mem, nslots, sizeof *slots);
    if (!slots)
        return eng__nomem();
    uint32_t mask = nslots - 1;
    for (uint32_t i = 0; i < d->nslots; i++) {
        uint64_t v = d->slots[i];
        if (!v)
            continue;
        uint32_t k = (uint32_t)(v >> 32) & mask;
        while (slots[k])
            k = (k + 1) & mask;
        slots[k] = v;
    }
    eng__free(d->mem, d->slots);
    d->slots = slots;
    d->nslots = nslots;
    return ENG_OK;
}

int eng__dict_intern(eng__dict *d, const char *s, size_t len, uint32_t *code)
{
    return eng__dict_intern_h(d, s, len, hash_of(s, len), code);
}

int eng__dict_intern_h(eng__dict *d, const char *s, size_t len, uint32_t h, uint32_t *code)
{
    int64_t f = find_h(d, s, len, h);
    if (f >= 0) {
        *code = (uint32_t)f;
        return ENG_OK;
    }
    if (d->alen + len > UINT32_MAX || d->n >= UINT32_MAX - 2)
        return eng__err(ENG_ETOOBIG, "", "string dictionary is full (4 GiB)");
    /* Keep the load factor at most 3/4: each slot carries 32 bits of the
     * hash, so a probe past another string costs one compare within the
     * same cache line, and the index of 10^7 ids stays at 2^24 slots. */
    if ((uint64_t)(d->n + 1) * 4 > (uint64_t)d->nslots * 3 && rehash(d, d->nslots ? d->nslots * 2 : 64))
        return ENG_ENOMEM;
    if (eng__grow(d->mem, (void **)&d->arena, &d->acap, d->alen + len + 1, 1) ||
        eng__grow(d->mem, (void **)&d->off, &d->offcap, (size_t)d->n + 2, sizeof *d->off))
        return eng__nomem();
    if (d->n == 0)
        d->off[0] = 0;
    memcpy(d->arena + d->alen, s, len);
    d->alen += len;
    d->off[d->n + 1] = (uint32_t)d->alen;
    uint32_t mask = d->nslots - 1, i = h & mask;
    while (d->slots[i])
        i = (i + 1) & mask;
    d->slots[i] = (uint64_t)h << 32 | (d->n + 1);
    *code = d->n++;
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
    return rehash(d, (uint32_t)want);
}

size_t eng__dict_bytes(const eng__dict *d)
{
    return d->acap + d->offcap * sizeof *d->off + (size_t)d->nslots * sizeof *d->slots;
}
