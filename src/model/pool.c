/* A per-object pool: decoded objects own many small strings and arrays; they
 * all hang off one list and go away together. Also the string-list codec and
 * the small id/text checks every validator uses. */
#include "model/model_impl.h"

#include <stddef.h>
#include <stdio.h>

/* The pool hands out pieces of shared 1 KiB blocks (a decoded object's strings
 * cost one allocation, not one each: an audit check decodes every entry); a piece
 * over 256 bytes gets a block of its own. Under AddressSanitizer every byte of a
 * block that is not a piece handed out stays poisoned, and a poisoned gap follows
 * each piece and precedes the first, so an overrun of a piece is reported as it
 * was when each piece was a heap block of its own. */
#if defined(__SANITIZE_ADDRESS__)
#define POOL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define POOL_ASAN 1
#endif
#endif
#ifdef POOL_ASAN
#include <sanitizer/asan_interface.h>
#define POOL_GAP ((size_t)16)
#define POOL_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define POOL_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POOL_GAP ((size_t)0)
#define POOL_POISON(p, n) ((void)(p), (void)(n))
#define POOL_UNPOISON(p, n) ((void)(p), (void)(n))
#endif
#define POOL_BLOCK ((size_t)1024) /* bytes of a shared block */
#define POOL_ALONE ((size_t)256)  /* a piece over this gets a block of its own */

typedef struct eng__blk {
    struct eng__blk *next;
    size_t used, cap; /* bytes of data[] handed out (gaps included) and in all */
    max_align_t data[];
} eng__blk;

void eng__pool_init(eng__pool *p, const eng__mem *mem)
{
    p->mem = mem;
    p->head = NULL;
    p->oom = 0;
}

static eng__blk *blk_new(eng__pool *p, size_t cap)
{
    eng__blk *b = eng__calloc(p->mem, 1, sizeof(eng__blk) + cap); /* zeroed: pieces are never reused */
    if (!b) {
        p->oom = 1;
        return NULL;
    }
    b->cap = cap;
    b->used = POOL_GAP;
    POOL_POISON(b->data, cap);
    return b;
}

void *eng__pool_alloc(eng__pool *p, size_t n)
{
    const size_t al = sizeof(max_align_t);
    if (n > SIZE_MAX - sizeof(eng__blk) - 2 * POOL_GAP - al)
        return NULL;
    size_t want = n ? n : 1, sz = (want + al - 1) / al * al + POOL_GAP; /* the piece and the gap after it */
    eng__blk *b = p->head;
    if (!b || b->cap - b->used < sz) {
        int alone = sz > POOL_ALONE;
        if (!(b = blk_new(p, alone ? POOL_GAP + sz : POOL_BLOCK)))
            return NULL;
        eng__blk *h = p->head;
        if (alone && h) { /* behind the shared block, whose room stays in use */
            b->next = h->next;
            h->next = b;
        } else {
            b->next = h;
            p->head = b;
        }
    }
    uint8_t *q = (uint8_t *)b->data + b->used;
    b->used += sz;
    POOL_UNPOISON(q, want);
    return q;
}

void eng__pool_free(eng__pool *p)
{
    eng__blk *b = p->head;
    while (b) {
        eng__blk *next = b->next;
        POOL_UNPOISON(b->data, b->cap); /* the host's allocator may touch what it frees */
        eng__free(p->mem, b);
        b = next;
    }
    p->head = NULL;
    p->oom = 0;
}

char *eng__pool_str(eng__pool *p, const char *s)
{
    if (!s)
        s = "";
    size_t n = strlen(s);
    char *d = eng__pool_alloc(p, n + 1);
    if (d)
        memcpy(d, s, n + 1);
    return d;
}

void eng__strs_enc(eng__wr *w, const char *const *v, size_t n)
{
    eng__wr_uvar(w, v ? n : 0);
    for (size_t i = 0; v && i < n; i++)
        eng__wr_str(w, v[i]);
}

/* Decode a string list into the pool; on a malformed record the reader's error
 * is set and an empty list is returned. */
const char *const *eng__strs_dec(eng__rd *r, eng__pool *p, size_t *n)
{
    uint64_t cnt = eng__rd_uvar(r);
    *n = 0;
    if (!eng__rd_ok(r) || cnt == 0)
        return NULL;
    if (cnt > eng__rd_left(r)) { /* each string takes at least one byte */
        r->err = ENG_ECORRUPT;
        return NULL;
    }
    const char **v = eng__pool_alloc(p, (size_t)cnt * sizeof(*v));
    if (!v) {
        r->err = ENG_ENOMEM;
        return NULL;
    }
    for (uint64_t i = 0; i < cnt; i++)
        if (!(v[i] = eng__pool_rdstr(r, p)))
            return NULL;
    *n = (size_t)cnt;
    return v;
}

int eng__id_ok(const char *s)
{
    if (!s || !*s)
        return 0;
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '.' || c == '@' || c == '-'))
            return 0;
        if (n >= ENG__ID_MAX)
            return 0;
    }
    return 1;
}

const char *eng__name_flaw(const char *s)
{
    size_t at;
    return s ? eng__text_flaw(s, strlen(s), ENG__TEXT_NAME, &at) : NULL;
}

void eng__vr_text(eng_validation *v, const char *path, const char *s, int flags)
{
    size_t at;
    const char *why = s ? eng__text_flaw(s, strlen(s), flags, &at) : NULL;
    if (why)
        eng__vr_add(v, ENG_EINVAL, path, "text %s (byte %zu)", why, at);
}

void eng__strs_check(eng_validation *v, const char *const *list, size_t n, const char *path, size_t maxlen)
{
    if (n && !list) {
        eng__vr_add(v, ENG_EINVAL, path, "%zu entries announced but the list is NULL", n);
        return;
    }
    if (n > ENG__LIST_MAX) {
        eng__vr_add(v, ENG_ETOOBIG, path, "%zu entries; at most %d", n, ENG__LIST_MAX);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        char p[160];
        snprintf(p, sizeof p, "%s[%zu]", path, i);
        if (eng__empty(list[i]))
            eng__vr_add(v, ENG_EINVAL, p, "entry is empty");
        else if (strlen(list[i]) > maxlen)
            eng__vr_add(v, ENG_ETOOBIG, p, "entry longer than %zu bytes", maxlen);
        else
            eng__vr_text(v, p, list[i], ENG__TEXT_NAME);
    }
}

char *eng__pool_rdstr(eng__rd *r, eng__pool *p)
{
    size_t len;
    const uint8_t *b = eng__rd_blob(r, &len);
    if (!b)
        return NULL;
    if (memchr(b, 0, len)) {
        r->err = ENG_ECORRUPT;
        return NULL;
    }
    char *s = eng__pool_alloc(p, len + 1);
    if (!s) {
        r->err = ENG_ENOMEM;
        return NULL;
    }
    memcpy(s, b, len);
    return s;
}
