/* Time column by palette (see tcol.h). */
#include "audience/tcol.h"
#include "base/error.h"

#include <string.h>

#define PAL_MAX 65535u
#define PAL8_MAX 255u

static uint32_t mix(int64_t v)
{
    uint64_t x = (uint64_t)v * 0x9e3779b97f4a7c15ull;
    return (uint32_t)(x >> 40);
}

/* Put pal[i] (i < npal) into the index; the index has a free slot. */
static void index_put(uint16_t *slots, uint32_t nslots, const int64_t *pal, uint32_t i)
{
    uint32_t m = nslots - 1, s = mix(pal[i]) & m;
    while (slots[s])
        s = (s + 1) & m;
    slots[s] = (uint16_t)(i + 1);
}

/* Code of @p ts (appended to the palette if new): 0 with *code set, 1 when
 * the palette is full, or ENG_ENOMEM (the palette unchanged). */
static int pal_code(const eng__mem *mem, eng__tcol *c, int64_t ts, uint32_t *code)
{
    if (c->last && c->pal[c->last - 1] == ts) {
        *code = c->last;
        return 0;
    }
    uint32_t m = c->nslots ? c->nslots - 1 : 0, s = mix(ts) & m;
    for (; c->nslots && c->slots[s]; s = (s + 1) & m)
        if (c->pal[c->slots[s] - 1] == ts) {
            *code = c->last = c->slots[s];
            return 0;
        }
    if (c->npal == PAL_MAX)
        return 1;
    if (c->npal == c->palcap) {
        uint32_t cap = c->palcap ? c->palcap * 2 : 8;
        int64_t *p = eng__realloc_array(mem, c->pal, cap, sizeof *p);
        if (!p)
            return eng__nomem();
        c->pal = p;
        c->palcap = cap;
    }
    c->pal[c->npal] = ts;
    if ((c->npal + 1) * 2 > c->nslots) { /* keep the index at most half full */
        uint32_t ns = c->nslots ? c->nslots * 2 : 16;
        uint16_t *sl = eng__calloc(mem, ns, sizeof *sl);
        if (!sl)
            return eng__nomem();
        for (uint32_t i = 0; i <= c->npal; i++)
            index_put(sl, ns, c->pal, i);
        eng__free(mem, c->slots);
        c->slots = sl;
        c->nslots = ns;
    } else {
        index_put(c->slots, c->nslots, c->pal, c->npal);
    }
    *code = c->last = ++c->npal;
    return 0;
}

/* Past 255 times: two-byte codes. */
static int widen16(const eng__mem *mem, eng__tcol *c, size_t rows)
{
    uint16_t *w = eng__malloc(mem, rows * sizeof *w);
    if (!w)
        return eng__nomem();
    for (size_t i = 0; i < rows; i++)
        w[i] = c->code8[i];
    eng__free(mem, c->code8);
    c->code8 = NULL;
    c->code16 = w;
    return ENG_OK;
}

/* The palette is full: switch to one int64 per row. */
static int widen(const eng__mem *mem, eng__tcol *c, size_t rows)
{
    int64_t *w = eng__malloc(mem, rows * sizeof *w);
    if (!w)
        return eng__nomem();
    for (size_t i = 0; i < rows; i++)
        w[i] = eng__tcol_get(c, (uint32_t)i);
    eng__free(mem, c->code8);
    eng__free(mem, c->code16);
    eng__free(mem, c->pal);
    eng__free(mem, c->slots);
    memset(c, 0, sizeof *c);
    c->wide = w;
    return ENG_OK;
}

int eng__tcol_set(const eng__mem *mem, eng__tcol *c, size_t rows, uint32_t id, int64_t ts)
{
    if (c->wide) {
        c->wide[id] = ts;
        return ENG_OK;
    }
    if (!ts) {
        if (c->code8)
            c->code8[id] = 0;
        else if (c->code16)
            c->code16[id] = 0;
        return ENG_OK;
    }
    if (!c->code8 && !c->code16 && !(c->code8 = eng__calloc(mem, rows, sizeof *c->code8)))
        return eng__nomem();
    uint32_t code = 0;
    int rc = pal_code(mem, c, ts, &code);
    if (rc < 0)
        return rc;
    if (rc == 1) {
        if ((rc = widen(mem, c, rows)))
            return rc;
        c->wide[id] = ts;
        return ENG_OK;
    }
    if (code > PAL8_MAX && c->code8 && (rc = widen16(mem, c, rows))) {
        c->npal--; /* the new time is the palette's last: take it out again */
        c->last = 0;
        for (uint32_t i = 0; i < c->nslots; i++)
            if (c->slots[i] == code)
                c->slots[i] = 0;
        return rc;
    }
    if (c->code8)
        c->code8[id] = (uint8_t)code;
    else
        c->code16[id] = (uint16_t)code;
    return ENG_OK;
}

/* Resize one array (NULL stays NULL), zero-filling what grows. */
static int resize(const eng__mem *mem, void **p, size_t oldn, size_t n, size_t size)
{
    if (!*p)
        return ENG_OK;
    void *q = eng__realloc_array(mem, *p, n ? n : 1, size);
    if (!q)
        return n > oldn ? eng__nomem() : ENG_OK; /* a failed shrink keeps the larger array */
    if (n > oldn)
        memset((char *)q + oldn * size, 0, (n - oldn) * size);
    *p = q;
    return ENG_OK;
}

int eng__tcol_resize(const eng__mem *mem, eng__tcol *c, size_t oldrows, size_t rows)
{
    int rc = resize(mem, (void **)&c->code8, oldrows, rows, sizeof *c->code8);
    if (!rc)
        rc = resize(mem, (void **)&c->code16, oldrows, rows, sizeof *c->code16);
    return rc ? rc : resize(mem, (void **)&c->wide, oldrows, rows, sizeof *c->wide);
}

void eng__tcol_free(const eng__mem *mem, eng__tcol *c)
{
    eng__free(mem, c->code8);
    eng__free(mem, c->code16);
    eng__free(mem, c->wide);
    eng__free(mem, c->pal);
    eng__free(mem, c->slots);
    memset(c, 0, sizeof *c);
}

size_t eng__tcol_bytes(const eng__tcol *c, size_t rows)
{
    return (c->code8 ? rows : 0) + (c->code16 ? rows * sizeof *c->code16 : 0) + (c->wide ? rows * sizeof *c->wide : 0) +
           (size_t)c->palcap * sizeof *c->pal + (size_t)c->nslots * sizeof *c->slots;
}

int eng__tcol_set_many(const eng__mem *mem, eng__tcol *c, size_t rows, const uint32_t *ids, size_t n, int64_t ts)
{
    if (!n)
        return ENG_OK;
    int rc = eng__tcol_set(mem, c, rows, ids[0], ts); /* allocates, finds or adds the code, widens */
    if (rc)
        return rc;
    if (c->wide) {
        for (size_t i = 1; i < n; i++)
            c->wide[ids[i]] = ts;
    } else if (c->code8) {
        uint8_t code = c->code8[ids[0]];
        for (size_t i = 1; i < n; i++)
            c->code8[ids[i]] = code;
    } else if (c->code16) {
        uint16_t code = c->code16[ids[0]];
        for (size_t i = 1; i < n; i++)
            c->code16[ids[i]] = code;
    } /* else ts is 0 and nothing is allocated: every row reads 0 already */
    return ENG_OK;
}
