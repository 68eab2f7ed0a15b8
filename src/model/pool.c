/* A per-object pool: decoded objects own many small strings and arrays; they
 * all hang off one list and go away together. Also the string-list codec and
 * the small id/text checks every validator uses. */
#include "model/model_impl.h"

#include <stddef.h>
#include <stdio.h>

typedef struct eng__blk {
    struct eng__blk *next;
    max_align_t align[];
} eng__blk;

void eng__pool_init(eng__pool *p, const eng__mem *mem)
{
    p->mem = mem;
    p->head = NULL;
    p->oom = 0;
}

void *eng__pool_alloc(eng__pool *p, size_t n)
{
    if (n > SIZE_MAX - sizeof(eng__blk))
        return NULL;
    eng__blk *b = eng__calloc(p->mem, 1, sizeof(eng__blk) + (n ? n : 1));
    if (!b) {
        p->oom = 1;
        return NULL;
    }
    b->next = p->head;
    p->head = b;
    return b->align;
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

void eng__pool_free(eng__pool *p)
{
    eng__blk *b = p->head;
    while (b) {
        eng__blk *next = b->next;
        eng__free(p->mem, b);
        b = next;
    }
    p->head = NULL;
    p->oom = 0;
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
