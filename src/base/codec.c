#include "base/codec.h"
#include "base/error.h"

#include <string.h>

void eng__wr_init(eng__wr *w, const eng__mem *mem)
{
    memset(w, 0, sizeof(*w));
    w->mem = mem;
}

void eng__wr_free(eng__wr *w)
{
    eng__free(w->mem, w->data);
    w->data = NULL;
    w->len = w->cap = 0;
}

uint8_t *eng__wr_take(eng__wr *w, size_t *len)
{
    uint8_t *d = w->data;
    if (len)
        *len = w->len;
    w->data = NULL;
    w->len = w->cap = 0;
    return d;
}

int eng__wr_reserve(eng__wr *w, size_t extra)
{
    if (w->err)
        return w->err;
    if (extra > SIZE_MAX - w->len) {
        w->err = ENG_ENOMEM;
        return w->err;
    }
    void *d = w->data;
    size_t need = w->len + extra;
    /* A record is rarely under 128 bytes: start there, not at 8 and five reallocations on */
    if (w->cap == 0 && need < 128)
        need = 128;
    if (eng__grow(w->mem, &d, &w->cap, need, 1) != ENG_OK) {
        w->err = ENG_ENOMEM;
        return w->err;
    }
    w->data = d;
    return ENG_OK;
}

void eng__wr_bytes(eng__wr *w, const void *p, size_t n)
{
    if (eng__wr_reserve(w, n) != ENG_OK)
        return;
    if (n)
        memcpy(w->data + w->len, p, n);
    w->len += n;
}

void eng__wr_u8(eng__wr *w, uint8_t v) { eng__wr_bytes(w, &v, 1); }
void eng__wr_u16(eng__wr *w, uint16_t v) { uint8_t b[2]; eng__put16(b, v); eng__wr_bytes(w, b, 2); }
void eng__wr_u32(eng__wr *w, uint32_t v) { uint8_t b[4]; eng__put32(b, v); eng__wr_bytes(w, b, 4); }
void eng__wr_u64(eng__wr *w, uint64_t v) { uint8_t b[8]; eng__put64(b, v); eng__wr_bytes(w, b, 8); }

void eng__wr_uvar(eng__wr *w, uint64_t v)
{
    uint8_t b[10];
    size_t n = 0;
    do {
        b[n] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v)
            b[n] |= 0x80;
        n++;
    } while (v);
    eng__wr_bytes(w, b, n);
}

void eng__wr_svar(eng__wr *w, int64_t v)
{
    eng__wr_uvar(w, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

void eng__wr_blob(eng__wr *w, const void *p, size_t n)
{
    eng__wr_uvar(w, n);
    eng__wr_bytes(w, p, n);
}

void eng__wr_str(eng__wr *w, const char *s)
{
    s = s ? s : "";
    eng__wr_blob(w, s, strlen(s));
}

void eng__rd_init(eng__rd *r, const void *data, size_t len)
{
    r->p = data;
    r->end = r->p + len;
    r->err = 0;
}

const uint8_t *eng__rd_bytes(eng__rd *r, size_t n)
{
    if (r->err || n > (size_t)(r->end - r->p)) {
        r->err = ENG_ECORRUPT;
        return NULL;
    }
    const uint8_t *q = r->p;
    r->p += n;
    return q;
}

uint8_t eng__rd_u8(eng__rd *r) { const uint8_t *b = eng__rd_bytes(r, 1); return b ? b[0] : 0; }
uint16_t eng__rd_u16(eng__rd *r) { const uint8_t *b = eng__rd_bytes(r, 2); return b ? eng__get16(b) : 0; }
uint32_t eng__rd_u32(eng__rd *r) { const uint8_t *b = eng__rd_bytes(r, 4); return b ? eng__get32(b) : 0; }
uint64_t eng__rd_u64(eng__rd *r) { const uint8_t *b = eng__rd_bytes(r, 8); return b ? eng__get64(b) : 0; }

uint64_t eng__rd_uvar(eng__rd *r)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        const uint8_t *b = eng__rd_bytes(r, 1);
        if (!b)
            return 0;
        if (shift == 63 && (*b & 0x7e)) /* would overflow 64 bits */
            break;
        v |= (uint64_t)(*b & 0x7f) << shift;
        if (!(*b & 0x80))
            return v;
    }
    r->err = ENG_ECORRUPT;
    return 0;
}

int64_t eng__rd_svar(eng__rd *r)
{
    uint64_t u = eng__rd_uvar(r);
    return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

const uint8_t *eng__rd_blob(eng__rd *r, size_t *n)
{
    uint64_t len = eng__rd_uvar(r);
    if (r->err || len > (uint64_t)(r->end - r->p)) {
        r->err = ENG_ECORRUPT;
        *n = 0;
        return NULL;
    }
    *n = (size_t)len;
    return eng__rd_bytes(r, *n);
}

char *eng__rd_str(eng__rd *r, const eng__mem *mem)
{
    size_t n;
    const uint8_t *b = eng__rd_blob(r, &n);
    if (!b)
        return NULL;
    if (memchr(b, 0, n)) {
        r->err = ENG_ECORRUPT;
        return NULL;
    }
    char *s = eng__strndup(mem, (const char *)b, n);
    if (!s)
        r->err = ENG_ENOMEM;
    return s;
}
