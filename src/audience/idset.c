/* Compressed id sets: containers, point updates and set algebra.
 * Serialisation is in idset_io.c. */
#include "audience/idset.h"
#include "audience/split.h"
#include "base/error.h"
#include "base/hash.h"
#include "base/lower.h"
#include "base/simd.h"

#include <stdlib.h>
#include <string.h>

static inline unsigned popc(uint64_t w) { return eng__popc64(w); }

_Static_assert((int)ENG__SET_OR == (int)ENG__WOP_OR && (int)ENG__SET_AND == (int)ENG__WOP_AND &&
                   (int)ENG__SET_ANDNOT == (int)ENG__WOP_ANDNOT,
               "set ops are word ops");

void eng__idset_init(eng__idset *s, const eng__mem *mem)
{
    memset(s, 0, sizeof *s);
    s->mem = mem;
}

static void ctr_free(const eng__mem *mem, eng__ctr *c)
{
    if (c->type == ENG__CT_BITMAP)
        eng__free(mem, c->u.bits);
    else
        eng__free(mem, c->u.arr);
    c->u.arr = NULL;
}

void eng__idset_free(eng__idset *s)
{
    for (uint32_t i = 0; i < s->n; i++)
        ctr_free(s->mem, &s->c[i]);
    eng__free(s->mem, s->c);
    s->c = NULL;
    s->n = s->cap = 0;
}

void eng__idset_move(eng__idset *dst, eng__idset *src)
{
    if (dst == src)
        return;
    eng__idset_free(dst);
    *dst = *src;
    src->c = NULL;
    src->n = src->cap = 0;
}

static int ctr_clone(const eng__mem *mem, eng__ctr *out, const eng__ctr *c)
{
    *out = *c;
    if (c->type == ENG__CT_BITMAP) {
        out->u.bits = eng__memdup(mem, c->u.bits, ENG__CT_WORDS * sizeof(uint64_t));
        out->cap = ENG__CT_WORDS;
    } else {
        out->u.arr = eng__memdup(mem, c->u.arr, (c->card ? c->card : 1) * sizeof(uint16_t));
        out->cap = c->card;
    }
    return out->u.arr || out->u.bits ? ENG_OK : eng__nomem();
}

/* Append a container (takes ownership of its buffer). */
static int push_ctr(eng__idset *s, const eng__ctr *c)
{
    size_t cap = s->cap;
    if (eng__grow(s->mem, (void **)&s->c, &cap, (size_t)s->n + 1, sizeof *s->c))
        return eng__nomem();
    s->cap = (uint32_t)cap;
    s->c[s->n++] = *c;
    return ENG_OK;
}

int eng__idset_copy(eng__idset *out, const eng__idset *a)
{
    eng__idset_free(out);
    for (uint32_t i = 0; i < a->n; i++) {
        eng__ctr c;
        if (ctr_clone(out->mem, &c, &a->c[i]))
            goto fail;
        if (push_ctr(out, &c)) {
            ctr_free(out->mem, &c);
            goto fail;
        }
    }
    return ENG_OK;
fail:
    eng__idset_free(out);
    return ENG_ENOMEM;
}

ENG__LOWER_BOUND_BY(lower_key, eng__ctr, uint16_t, .key)

/* Index of the container with @p key, or -(insertion point) - 1. */
static long find_ctr(const eng__idset *s, uint16_t key)
{
    if (s->n && s->c[s->n - 1].key == key) /* appends in order are the common case */
        return (long)s->n - 1;
    long at = (long)lower_key(s->c, s->n, key);
    return at < (long)s->n && s->c[at].key == key ? at : -at - 1;
}

static long arr_find(const uint16_t *a, uint32_t n, uint16_t v)
{
    if (n && a[n - 1] < v)
        return -(long)n - 1;
    long at = (long)eng__lower_u16(a, n, v);
    return at < (long)n && a[at] == v ? at : -at - 1;
}

static int arr_to_bitmap(const eng__mem *mem, eng__ctr *c)
{
    uint64_t *w = eng__calloc(mem, ENG__CT_WORDS, sizeof *w);
    if (!w)
        return eng__nomem();
    for (uint32_t i = 0; i < c->card; i++)
        w[c->u.arr[i] >> 6] |= 1ull << (c->u.arr[i] & 63);
    eng__free(mem, c->u.arr);
    c->u.bits = w;
    c->type = ENG__CT_BITMAP;
    c->cap = ENG__CT_WORDS;
    return ENG_OK;
}

/* Extract the set bits of a bitmap into arr, which holds card + ARR_SLACK
 * entries: each word writes ARR_SLACK positions whether or not it has that
 * many bits (the extra ones are overwritten or past the end), so sparse words
 * cost no mispredicted loop exit. */
#define ARR_SLACK 4
/* The body for both levels: hw selects the popcnt instruction (the AVX2
 * level has popcnt and tzcnt; the baseline counts with SWAR). */
static inline __attribute__((always_inline)) void words_to_arr_body(const uint64_t *w, uint16_t *arr, int hw)
{
    uint32_t k = 0;
    for (uint32_t i = 0; i < ENG__CT_WORDS; i++) {
        uint64_t x = w[i];
        uint32_t n = hw ? (uint32_t)__builtin_popcountll(x) : popc(x), base = i * 64;
        for (int j = 0; j < ARR_SLACK; j++) {
            /* the top bit keeps ctz defined once x is empty */
            arr[k + (uint32_t)j] = (uint16_t)(base + (unsigned)__builtin_ctzll(x | 1ull << 63));
            x &= x - 1;
        }
        for (uint32_t j = ARR_SLACK; j < n; j++) {
            arr[k + j] = (uint16_t)(base + (unsigned)__builtin_ctzll(x));
            x &= x - 1;
        }
        k += n;
    }
}

#if ENG__SIMD_X86
ENG__AVX2 static void words_to_arr_hw(const uint64_t *w, uint16_t *arr)
{
    words_to_arr_body(w, arr, 1);
}
#endif

static void words_to_arr(const uint64_t *w, uint16_t *arr)
{
#if ENG__SIMD_X86
    if (eng__isa() >= ENG__ISA_AVX2) {
        words_to_arr_hw(w, arr);
        return;
    }
#endif
    words_to_arr_body(w, arr, 0);
}

/* Make a container from a word buffer; the result is an array when small. */
static int ctr_from_words(const eng__mem *mem, uint16_t key, const uint64_t *w, uint32_t card, eng__ctr *out)
{
    memset(out, 0, sizeof *out);
    out->key = key;
    out->card = card;
    if (card > ENG__CT_ARRAY_MAX) {
        out->type = ENG__CT_BITMAP;
        out->cap = ENG__CT_WORDS;
        out->u.bits = eng__memdup(mem, w, ENG__CT_WORDS * sizeof *w);
        return out->u.bits ? ENG_OK : eng__nomem();
    }
    out->type = ENG__CT_ARRAY;
    out->cap = card;
    out->u.arr = eng__malloc(mem, ((size_t)card + ARR_SLACK) * sizeof(uint16_t));
    if (!out->u.arr)
        return eng__nomem();
    words_to_arr(w, out->u.arr);
    return ENG_OK;
}

int eng__idset_push_words(eng__idset *s, uint16_t key, const uint64_t *w, uint32_t card)
{
    if (!card)
        return ENG_OK;
    eng__ctr c;
    if (ctr_from_words(s->mem, key, w, card, &c))
        return ENG_ENOMEM;
    if (push_ctr(s, &c)) {
        ctr_free(s->mem, &c);
        return ENG_ENOMEM;
    }
    return ENG_OK;
}

uint64_t *eng__idset_push_bitmap(eng__idset *s, uint16_t key)
{
    eng__ctr c = {.key = key, .type = ENG__CT_BITMAP, .card = 0, .cap = ENG__CT_WORDS};
    c.u.bits = eng__malloc(s->mem, ENG__CT_WORDS * sizeof(uint64_t));
    if (!c.u.bits || push_ctr(s, &c)) {
        eng__free(s->mem, c.u.bits);
        eng__nomem();
        return NULL;
    }
    return c.u.bits;
}

int eng__idset_seal_last(eng__idset *s, uint32_t card)
{
    eng__ctr *c = &s->c[s->n - 1];
    c->card = card;
    if (card > ENG__CT_ARRAY_MAX)
        return ENG_OK;
    uint16_t *arr = card ? eng__malloc(s->mem, ((size_t)card + ARR_SLACK) * sizeof *arr) : NULL;
    if (arr)
        words_to_arr(c->u.bits, arr);
    eng__free(s->mem, c->u.bits);
    if (!arr) {
        s->n--;
        return card ? eng__nomem() : ENG_OK;
    }
    c->type = ENG__CT_ARRAY;
    c->cap = card;
    c->u.arr = arr;
    return ENG_OK;
}

int eng__idset_add_any(eng__idset *s, uint32_t id)
{
    uint16_t key = (uint16_t)(id >> 16), lo = (uint16_t)id;
    long i = find_ctr(s, key);
    if (i < 0) {
        size_t at = (size_t)(-i - 1), cap = s->cap;
        uint16_t *arr = eng__malloc(s->mem, 4 * sizeof *arr);
        if (!arr || eng__grow(s->mem, (void **)&s->c, &cap, (size_t)s->n + 1, sizeof *s->c)) {
            eng__free(s->mem, arr);
            return eng__nomem();
        }
        s->cap = (uint32_t)cap;
        memmove(&s->c[at + 1], &s->c[at], (s->n - at) * sizeof *s->c);
        s->n++;
        eng__ctr *c = &s->c[at];
        memset(c, 0, sizeof *c);
        c->key = key;
        c->type = ENG__CT_ARRAY;
        c->cap = 4;
        c->card = 1;
        c->u.arr = arr;
        arr[0] = lo;
        return ENG_OK;
    }
    eng__ctr *c = &s->c[i];
    if (c->type == ENG__CT_BITMAP) {
        uint64_t m = 1ull << (lo & 63), *w = &c->u.bits[lo >> 6];
        c->card += !(*w & m);
        *w |= m;
        return ENG_OK;
    }
    long j = arr_find(c->u.arr, c->card, lo);
    if (j >= 0)
        return ENG_OK;
    if (c->card == ENG__CT_ARRAY_MAX) {
        if (arr_to_bitmap(s->mem, c))
            return ENG_ENOMEM;
        c->u.bits[lo >> 6] |= 1ull << (lo & 63);
        c->card++;
        return ENG_OK;
    }
    size_t cap = c->cap;
    if (eng__grow(s->mem, (void **)&c->u.arr, &cap, (size_t)c->card + 1, sizeof(uint16_t)))
        return eng__nomem();
    c->cap = (uint32_t)cap;
    size_t at = (size_t)(-j - 1);
    memmove(&c->u.arr[at + 1], &c->u.arr[at], (c->card - at) * sizeof(uint16_t));
    c->u.arr[at] = lo;
    c->card++;
    return ENG_OK;
}

static void drop_ctr(eng__idset *s, uint32_t i)
{
    ctr_free(s->mem, &s->c[i]);
    memmove(&s->c[i], &s->c[i + 1], (s->n - i - 1) * sizeof *s->c);
    s->n--;
}

/* The bits of acc set (clear 0) or cleared (1) in *w; how many changed. */
static inline uint32_t word_apply(uint64_t *w, uint64_t acc, int clear)
{
    uint32_t changed = popc(clear ? acc & *w : acc & ~*w);
    *w = clear ? *w & ~acc : *w | acc;
    return changed;
}

/* Set (clear 0) or clear (1) ids[0..n) (ascending, one chunk) in the bitmap
 * w a word at a time; returns how many changed. */
static inline uint32_t bits_sorted(uint64_t *w, const uint32_t *ids, size_t n, int clear)
{
    uint32_t changed = 0, at = (uint16_t)ids[0] >> 6;
    uint64_t acc = 0;
    for (size_t k = 0; k < n; k++) {
        uint32_t lo = (uint16_t)ids[k];
        if (lo >> 6 != at) {
            changed += word_apply(&w[at], acc, clear);
            acc = 0;
            at = lo >> 6;
        }
        acc |= 1ull << (lo & 63);
    }
    return changed + word_apply(&w[at], acc, clear);
}

int eng__idset_add_many(eng__idset *s, const uint32_t *ids, size_t n)
{
    for (size_t i = 0, j; i < n; i = j) {
        uint16_t key = (uint16_t)(ids[i] >> 16);
        if (ids[n - 1] >> 16 == key) { /* this chunk's ids end at the first of a later chunk */
            j = n;
        } else { /* the first id of a later chunk (key < 0xffff here: ids[n - 1] is of one) */
            j = i + 1 + eng__lower_u32(ids + i + 1, n - 1 - (i + 1), (uint32_t)(key + 1) << 16);
        }
        long at = find_ctr(s, key);
        if (at >= 0 && s->c[at].type == ENG__CT_BITMAP) {
            s->c[at].card += bits_sorted(s->c[at].u.bits, ids + i, j - i, 0);
        } else if (at < 0 && -at - 1 == (long)s->n && j - i > ENG__CT_ARRAY_MAX) {
            uint64_t *w = eng__idset_push_bitmap(s, key); /* a new last chunk, a bitmap from the start */
            if (!w)
                return ENG_ENOMEM;
            memset(w, 0, ENG__CT_WORDS * sizeof *w);
            int rc = eng__idset_seal_last(s, bits_sorted(w, ids + i, j - i, 0));
            if (rc)
                return rc;
        } else { /* an array, or a chunk between others: as one at a time */
            for (size_t k = i; k < j; k++) {
                int rc = eng__idset_add(s, ids[k]);
                if (rc)
                    return rc;
            }
        }
    }
    return ENG_OK;
}

int eng__idset_remove_many(eng__idset *s, const uint32_t *ids, size_t n)
{
    for (size_t i = 0, j; i < n; i = j) {
        uint16_t key = (uint16_t)(ids[i] >> 16);
        if (!s->n || s->c[s->n - 1].key < key) /* these ids and all after them are past the set */
            return ENG_OK;
        for (j = i + 1; j < n && ids[j] >> 16 == key; j++)
            ;
        long at = find_ctr(s, key);
        if (at < 0)
            continue;
        eng__ctr *c = &s->c[at];
        if (c->type == ENG__CT_BITMAP && c->card > ENG__CT_ARRAY_MAX + (j - i)) {
            /* stays a bitmap whatever goes, as one at a time would leave it */
            c->card -= bits_sorted(c->u.bits, ids + i, j - i, 1);
            continue;
        }
        for (size_t k = i; k < j; k++) {
            int rc = eng__idset_remove(s, ids[k]);
            if (rc)
                return rc;
        }
    }
    return ENG_OK;
}

int eng__idset_remove(eng__idset *s, uint32_t id)
{
    uint16_t key = (uint16_t)(id >> 16), lo = (uint16_t)id;
    /* Past the last container (an import of new customers): nothing to do. */
    if (!s->n || s->c[s->n - 1].key < key)
        return ENG_OK;
    long i = find_ctr(s, key);
    if (i < 0)
        return ENG_OK;
    eng__ctr *c = &s->c[i];
    if (c->type == ENG__CT_BITMAP) {
        uint64_t m = 1ull << (lo & 63), *w = &c->u.bits[lo >> 6];
        if (!(*w & m))
            return ENG_OK;
        if (c->card - 1 <= ENG__CT_ARRAY_MAX) {
            /* Shrink back to an array; if that allocation fails keep the bitmap. */
            uint16_t *arr = eng__malloc(s->mem, (ENG__CT_ARRAY_MAX + ARR_SLACK) * sizeof *arr);
            if (arr) {
                *w &= ~m;
                words_to_arr(c->u.bits, arr);
                eng__free(s->mem, c->u.bits);
                c->u.arr = arr;
                c->type = ENG__CT_ARRAY;
                c->cap = ENG__CT_ARRAY_MAX;
                c->card--;
                return ENG_OK;
            }
        }
        *w &= ~m;
        c->card--;
        return ENG_OK;
    }
    long j = arr_find(c->u.arr, c->card, lo);
    if (j < 0)
        return ENG_OK;
    memmove(&c->u.arr[j], &c->u.arr[j + 1], (c->card - (size_t)j - 1) * sizeof(uint16_t));
    if (--c->card == 0)
        drop_ctr(s, (uint32_t)i);
    return ENG_OK;
}

int eng__idset_add_range(eng__idset *s, uint32_t lo, uint64_t hi)
{
    if (hi > (1ull << 32))
        hi = 1ull << 32;
    /* Build the range as full/partial containers, then OR it in. */
    eng__idset r;
    eng__idset_init(&r, s->mem);
    uint64_t buf[ENG__CT_WORDS];
    for (uint64_t x = lo; x < hi;) {
        uint64_t base = x & ~0xffffull, end = base + 0x10000;
        if (end > hi)
            end = hi;
        memset(buf, 0, sizeof buf);
        for (uint64_t v = x - base; v < end - base; v++)
            buf[v >> 6] |= 1ull << (v & 63);
        eng__ctr c;
        if (ctr_from_words(s->mem, (uint16_t)(x >> 16), buf, (uint32_t)(end - x), &c))
            goto fail;
        if (push_ctr(&r, &c)) {
            ctr_free(s->mem, &c);
            goto fail;
        }
        x = end;
    }
    int rc = eng__idset_op_into(ENG__SET_OR, s, &r);
    eng__idset_free(&r);
    return rc;
fail:
    eng__idset_free(&r);
    return ENG_ENOMEM;
}

int eng__idset_contains(const eng__idset *s, uint32_t id)
{
    long i = find_ctr(s, (uint16_t)(id >> 16));
    if (i < 0)
        return 0;
    const eng__ctr *c = &s->c[i];
    uint16_t lo = (uint16_t)id;
    if (c->type == ENG__CT_BITMAP)
        return (int)((c->u.bits[lo >> 6] >> (lo & 63)) & 1);
    return arr_find(c->u.arr, c->card, lo) >= 0;
}

uint64_t eng__idset_count(const eng__idset *s)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < s->n; i++)
        n += s->c[i].card;
    return n;
}

uint64_t eng__idset_bound(const eng__idset *s)
{
    if (!s->n)
        return 0;
    const eng__ctr *c = &s->c[s->n - 1];
    uint32_t top;
    if (c->type == ENG__CT_ARRAY) {
        top = c->u.arr[c->card - 1];
    } else {
        uint32_t i = ENG__CT_WORDS;
        while (i > 0 && !c->u.bits[i - 1])
            i--;
        top = (i - 1) * 64 + 63 - (uint32_t)__builtin_clzll(c->u.bits[i - 1]);
    }
    return ((uint64_t)c->key << 16 | top) + 1;
}

int eng__idset_equal(const eng__idset *a, const eng__idset *b)
{
    if (a->n != b->n)
        return 0;
    for (uint32_t i = 0; i < a->n; i++) {
        const eng__ctr *x = &a->c[i], *y = &b->c[i];
        if (x->key != y->key || x->card != y->card)
            return 0;
        /* Same card implies same type (the form is canonical by cardinality). */
        if (x->type == ENG__CT_BITMAP ? memcmp(x->u.bits, y->u.bits, ENG__CT_WORDS * 8)
                                       : memcmp(x->u.arr, y->u.arr, x->card * 2u))
            return 0;
    }
    return 1;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

int eng__idset_from_ids(eng__idset *out, const uint32_t *ids, size_t n)
{
    eng__idset_free(out);
    uint32_t *tmp = eng__realloc_array(out->mem, NULL, n ? n : 1, sizeof *tmp);
    if (!tmp)
        return eng__nomem();
    if (n)
        memcpy(tmp, ids, n * sizeof *tmp);
    qsort(tmp, n, sizeof *tmp, cmp_u32);
    int rc = ENG_OK;
    for (size_t i = 0; i < n && !rc; i++)
        if (i == 0 || tmp[i] != tmp[i - 1])
            rc = eng__idset_add(out, tmp[i]); /* appends in order: no shifting */
    eng__free(out->mem, tmp);
    if (rc)
        eng__idset_free(out);
    return rc;
}

int eng__idset_from_words(eng__idset *out, const uint64_t *words, size_t nwords)
{
    eng__idset_free(out);
    uint64_t buf[ENG__CT_WORDS];
    for (size_t base = 0; base < nwords; base += ENG__CT_WORDS) {
        size_t nw = nwords - base < ENG__CT_WORDS ? nwords - base : ENG__CT_WORDS;
        uint32_t card = (uint32_t)eng__words_count(words + base, nw);
        if (!card)
            continue;
        const uint64_t *src = words + base;
        if (nw < ENG__CT_WORDS) {
            memset(buf, 0, sizeof buf);
            memcpy(buf, src, nw * sizeof *buf);
            src = buf;
        }
        eng__ctr c;
        if (ctr_from_words(out->mem, (uint16_t)(base / ENG__CT_WORDS), src, card, &c))
            goto fail;
        if (push_ctr(out, &c)) {
            ctr_free(out->mem, &c);
            goto fail;
        }
    }
    return ENG_OK;
fail:
    eng__idset_free(out);
    return ENG_ENOMEM;
}

void eng__idset_to_words(const eng__idset *s, uint64_t *words, size_t nwords)
{
    memset(words, 0, nwords * sizeof *words);
    for (uint32_t i = 0; i < s->n; i++) {
        const eng__ctr *c = &s->c[i];
        size_t base = (size_t)c->key * ENG__CT_WORDS;
        if (base >= nwords)
            break;
        size_t nw = nwords - base < ENG__CT_WORDS ? nwords - base : ENG__CT_WORDS;
        if (c->type == ENG__CT_BITMAP) {
            memcpy(words + base, c->u.bits, nw * sizeof *words);
        } else {
            for (uint32_t k = 0; k < c->card; k++)
                if ((size_t)(c->u.arr[k] >> 6) < nw)
                    words[base + (c->u.arr[k] >> 6)] |= 1ull << (c->u.arr[k] & 63);
        }
    }
}

size_t eng__idset_to_array(const eng__idset *s, uint32_t *out)
{
    eng__idset_it it;
    eng__idset_it_init(&it, s);
    size_t n = 0, k;
    while ((k = eng__idset_it_next(&it, out + n, 65536)) > 0)
        n += k;
    return n;
}

/* ---- set algebra ---- */

static void ctr_to_words(const eng__ctr *c, uint64_t *w)
{
    if (c->type == ENG__CT_BITMAP) {
        memcpy(w, c->u.bits, ENG__CT_WORDS * sizeof *w);
        return;
    }
    memset(w, 0, ENG__CT_WORDS * sizeof *w);
    for (uint32_t k = 0; k < c->card; k++)
        w[c->u.arr[k] >> 6] |= 1ull << (c->u.arr[k] & 63);
}

/* Two arrays: merge into out (caller-provided, 2*4096 entries). */
static uint32_t arr_op(int op, const uint16_t *a, uint32_t na, const uint16_t *b, uint32_t nb, uint16_t *out)
{
    uint32_t i = 0, j = 0, k = 0;
    while (i < na && j < nb) {
        if (a[i] < b[j]) {
            if (op != ENG__SET_AND)
                out[k++] = a[i];
            i++;
        } else if (a[i] > b[j]) {
            if (op == ENG__SET_OR)
                out[k++] = b[j];
            j++;
        } else {
            if (op != ENG__SET_ANDNOT)
                out[k++] = a[i];
            i++;
            j++;
        }
    }
    if (op != ENG__SET_AND)
        while (i < na)
            out[k++] = a[i++];
    if (op == ENG__SET_OR)
        while (j < nb)
            out[k++] = b[j++];
    return k;
}

/* Combine containers x (from a, may be NULL) and y (from b, may be NULL). */
static int ctr_op(const eng__mem *mem, int op, const eng__ctr *x, const eng__ctr *y, eng__ctr *out, int *empty)
{
    *empty = 0;
    if (!y)
        return ctr_clone(mem, out, x); /* OR / ANDNOT with nothing on the right */
    if (!x)
        return ctr_clone(mem, out, y); /* OR only */
    if (x->type == ENG__CT_ARRAY && y->type == ENG__CT_ARRAY) {
        uint16_t buf[2 * ENG__CT_ARRAY_MAX];
        uint32_t k = arr_op(op, x->u.arr, x->card, y->u.arr, y->card, buf);
        if (!k) {
            *empty = 1;
            return ENG_OK;
        }
        memset(out, 0, sizeof *out);
        out->key = x->key;
        out->card = k;
        if (k > ENG__CT_ARRAY_MAX) {
            uint64_t *w = eng__calloc(mem, ENG__CT_WORDS, sizeof *w);
            if (!w)
                return eng__nomem();
            for (uint32_t i = 0; i < k; i++)
                w[buf[i] >> 6] |= 1ull << (buf[i] & 63);
            out->type = ENG__CT_BITMAP;
            out->u.bits = w;
            out->cap = ENG__CT_WORDS;
            return ENG_OK;
        }
        out->type = ENG__CT_ARRAY;
        out->cap = k;
        out->u.arr = eng__memdup(mem, buf, k * sizeof *buf);
        return out->u.arr ? ENG_OK : eng__nomem();
    }
    if (op == ENG__SET_AND && (x->type == ENG__CT_ARRAY || y->type == ENG__CT_ARRAY)) {
        /* array AND bitmap: probe the bitmap for each array entry */
        const eng__ctr *ar = x->type == ENG__CT_ARRAY ? x : y, *bm = ar == x ? y : x;
        uint16_t buf[ENG__CT_ARRAY_MAX];
        uint32_t k = 0;
        for (uint32_t i = 0; i < ar->card; i++) {
            uint16_t v = ar->u.arr[i];
            if ((bm->u.bits[v >> 6] >> (v & 63)) & 1)
                buf[k++] = v;
        }
        if (!k) {
            *empty = 1;
            return ENG_OK;
        }
        memset(out, 0, sizeof *out);
        out->key = x->key;
        out->type = ENG__CT_ARRAY;
        out->card = out->cap = k;
        out->u.arr = eng__memdup(mem, buf, k * sizeof *buf);
        return out->u.arr ? ENG_OK : eng__nomem();
    }
    uint64_t wx[ENG__CT_WORDS], wy[ENG__CT_WORDS];
    const uint64_t *px = x->u.bits, *py = y->u.bits;
    if (x->type != ENG__CT_BITMAP) {
        ctr_to_words(x, wx);
        px = wx;
    }
    if (y->type != ENG__CT_BITMAP) {
        ctr_to_words(y, wy);
        py = wy;
    }
    /* word-wise, vectorised at the CPU's level (ENG__SET_* are ENG__WOP_*) */
    uint32_t card = (uint32_t)eng__words_op(op, px, py, wx, ENG__CT_WORDS);
    if (!card) {
        *empty = 1;
        return ENG_OK;
    }
    return ctr_from_words(mem, x->key, wx, card, out);
}

int eng__idset_op(int op, eng__idset *out, const eng__idset *a, const eng__idset *b)
{
    eng__idset_free(out);
    if (op != ENG__SET_OR && op != ENG__SET_AND && op != ENG__SET_ANDNOT)
        return eng__err(ENG_EINVAL, "op", "unknown set operation %d", op);
    uint32_t i = 0, j = 0;
    while (i < a->n || j < b->n) {
        const eng__ctr *x = i < a->n ? &a->c[i] : NULL, *y = j < b->n ? &b->c[j] : NULL;
        if (x && y && x->key != y->key) {
            if (x->key < y->key)
                y = NULL;
            else
                x = NULL;
        }
        if (x)
            i++;
        if (y)
            j++;
        /* Containers present on one side only. */
        if (!y && op == ENG__SET_AND)
            continue;
        if (!x && op != ENG__SET_OR)
            continue;
        eng__ctr c;
        int empty;
        memset(&c, 0, sizeof c);
        if (ctr_op(out->mem, op, x, y, &c, &empty))
            goto fail;
        if (empty)
            continue;
        if (push_ctr(out, &c)) {
            ctr_free(out->mem, &c);
            goto fail;
        }
    }
    return ENG_OK;
fail:
    eng__idset_free(out);
    return ENG_ENOMEM;
}

int eng__idset_op_into(int op, eng__idset *a, const eng__idset *b)
{
    if (b->n == 0 && (op == ENG__SET_OR || op == ENG__SET_ANDNOT)) /* a stays (no opt-outs, none suppressed) */
        return ENG_OK;
    if (a->n == 0 && op == ENG__SET_OR)
        return eng__idset_copy(a, b);
    eng__idset tmp;
    eng__idset_init(&tmp, a->mem);
    int rc = eng__idset_op(op, &tmp, a, b);
    if (rc)
        return rc;
    eng__idset_move(a, &tmp);
    return ENG_OK;
}

/* ---- iteration ---- */

void eng__idset_it_init(eng__idset_it *it, const eng__idset *s)
{
    it->s = s;
    it->ci = 0;
    it->pos = 0;
}

size_t eng__idset_it_next(eng__idset_it *it, uint32_t *out, size_t n)
{
    size_t k = 0;
    while (k < n && it->ci < it->s->n) {
        const eng__ctr *c = &it->s->c[it->ci];
        uint32_t hi = (uint32_t)c->key << 16;
        if (c->type == ENG__CT_ARRAY) {
            while (k < n && it->pos < c->card)
                out[k++] = hi | c->u.arr[it->pos++];
            if (it->pos < c->card)
                break;
        } else {
            while (k < n && it->pos < 65536) {
                uint32_t wi = it->pos >> 6;
                uint64_t w = c->u.bits[wi] >> (it->pos & 63);
                if (!w) {
                    it->pos = (wi + 1) << 6;
                    continue;
                }
                it->pos += (uint32_t)__builtin_ctzll(w);
                out[k++] = hi | it->pos;
                it->pos++;
            }
            if (it->pos < 65536)
                break;
        }
        it->ci++;
        it->pos = 0;
    }
    return k;
}

size_t eng__idset_bytes(const eng__idset *s)
{
    size_t b = s->cap * sizeof *s->c;
    for (uint32_t i = 0; i < s->n; i++)
        b += s->c[i].type == ENG__CT_BITMAP ? ENG__CT_WORDS * 8u : s->c[i].cap * 2u;
    return b;
}

/* ---- counting, ranked access and the test/control split ---- */

uint64_t eng__idset_and_count(const eng__idset *a, const eng__idset *b)
{
    uint64_t n = 0;
    uint32_t i = 0, j = 0;
    while (i < a->n && j < b->n) {
        const eng__ctr *x = &a->c[i], *y = &b->c[j];
        if (x->key < y->key) {
            i++;
            continue;
        }
        if (x->key > y->key) {
            j++;
            continue;
        }
        if (x->type == ENG__CT_BITMAP && y->type == ENG__CT_BITMAP) {
            n += eng__words_op(ENG__WOP_AND, x->u.bits, y->u.bits, NULL, ENG__CT_WORDS);
        } else if (x->type == ENG__CT_ARRAY && y->type == ENG__CT_ARRAY) {
            uint32_t p = 0, q = 0;
            while (p < x->card && q < y->card) {
                if (x->u.arr[p] < y->u.arr[q])
                    p++;
                else if (x->u.arr[p] > y->u.arr[q])
                    q++;
                else {
                    n++;
                    p++;
                    q++;
                }
            }
        } else {
            const eng__ctr *ar = x->type == ENG__CT_ARRAY ? x : y, *bm = ar == x ? y : x;
            for (uint32_t k = 0; k < ar->card; k++)
                n += (bm->u.bits[ar->u.arr[k] >> 6] >> (ar->u.arr[k] & 63)) & 1;
        }
        i++;
        j++;
    }
    return n;
}

size_t eng__idset_select(const eng__idset *s, uint64_t offset, uint32_t *out, size_t cap)
{
    uint32_t ci = 0;
    while (ci < s->n && offset >= s->c[ci].card)
        offset -= s->c[ci++].card;
    if (ci >= s->n)
        return 0;
    eng__idset_it it = {s, ci, 0};
    const eng__ctr *c = &s->c[ci];
    if (c->type == ENG__CT_ARRAY) {
        it.pos = (uint32_t)offset;
    } else {
        uint32_t w = 0;
        while (offset >= popc(c->u.bits[w]))
            offset -= popc(c->u.bits[w++]);
        uint64_t x = c->u.bits[w];
        while (offset--)
            x &= x - 1;
        it.pos = w * 64 + (uint32_t)__builtin_ctzll(x);
    }
    return eng__idset_it_next(&it, out, cap);
}

size_t eng__idset_select_union(const eng__idset *a, const eng__idset *b, uint64_t offset, uint32_t *out, size_t cap)
{
    uint64_t w[ENG__CT_WORDS];
    size_t got = 0;
    uint32_t i = 0, j = 0;
    while (got < cap && (i < a->n || j < b->n)) {
        uint32_t ka = i < a->n ? a->c[i].key : 1u << 16, kb = j < b->n ? b->c[j].key : 1u << 16;
        const eng__ctr *x = ka <= kb ? &a->c[i++] : NULL, *y = kb <= ka ? &b->c[j++] : NULL;
        uint64_t card = (x ? x->card : 0) + (y ? y->card : 0);
        if (offset >= card) { /* whole chunks skipped by their counts */
            offset -= card;
            continue;
        }
        eng__ctr both;
        if (x && y) { /* the chunk in both: its union as a bitmap on the stack */
            ctr_to_words(x, w);
            if (y->type == ENG__CT_BITMAP)
                eng__words_op(ENG__WOP_OR, w, y->u.bits, w, ENG__CT_WORDS);
            else
                for (uint32_t k = 0; k < y->card; k++)
                    w[y->u.arr[k] >> 6] |= 1ull << (y->u.arr[k] & 63);
            both = (eng__ctr){.key = x->key, .type = ENG__CT_BITMAP, .card = (uint32_t)card, .cap = ENG__CT_WORDS};
            both.u.bits = w;
            x = &both;
        } else if (!x) {
            x = y;
        }
        eng__idset one = {a->mem, (eng__ctr *)x, 1, 1};
        got += eng__idset_select(&one, offset, out + got, cap - got);
        offset = 0;
    }
    return got;
}

/* The side of a customer depends only on (seed, id): adding customers never
 * moves anyone. Test when the hash falls below ratio * 2^64. */
static inline int is_test(uint64_t seedmix, uint32_t id, uint64_t threshold, int all)
{
    return all || eng__mix64(seedmix ^ id) < threshold;
}

uint64_t eng__split_threshold(double ratio)
{
    double t = ratio * 18446744073709551616.0;
    return ratio <= 0.0 ? 0 : (ratio >= 1.0 || t >= 18446744073709551615.0) ? UINT64_MAX : (uint64_t)t;
}

int eng__idset_split_side(uint64_t seed, double ratio, uint32_t id)
{
    return is_test(eng__mix64(seed), id, eng__split_threshold(ratio), ratio >= 1.0);
}

/* Append the test and control containers of one chunk, from its words. */
static int split_emit(eng__idset *test, eng__idset *control, uint16_t key, const uint64_t *wt, uint32_t nt,
                      const uint64_t *wc, uint32_t nc)
{
    return eng__idset_push_words(test, key, wt, nt) || eng__idset_push_words(control, key, wc, nc) ? ENG_ENOMEM
                                                                                                   : ENG_OK;
}

/* Split one array container: the side of each id from @p side_of. */
#define SPLIT_ARRAY(c, wt, wc, nt, nc, side_of)                                                                     \
    do {                                                                                                          \
        memset(wt, 0, sizeof wt);                                                                                 \
        memset(wc, 0, sizeof wc);                                                                                 \
        for (uint32_t k = 0; k < (c)->card; k++) {                                                                \
            uint16_t v = (c)->u.arr[k];                                                                           \
            if (side_of(v)) {                                                                                     \
                wt[v >> 6] |= 1ull << (v & 63);                                                                   \
                nt++;                                                                                             \
            } else {                                                                                              \
                wc[v >> 6] |= 1ull << (v & 63);                                                                   \
                nc++;                                                                                             \
            }                                                                                                     \
        }                                                                                                         \
    } while (0)

int eng__idset_split(const eng__idset *s, uint64_t seed, double ratio, eng__idset *test, eng__idset *control)
{
    eng__idset_free(test);
    eng__idset_free(control);
    int all = ratio >= 1.0;
    uint64_t threshold = eng__split_threshold(ratio);
    uint64_t seedmix = eng__mix64(seed);
    uint64_t wt[ENG__CT_WORDS], wc[ENG__CT_WORDS];
    for (uint32_t i = 0; i < s->n; i++) {
        const eng__ctr *c = &s->c[i];
        uint32_t hi = (uint32_t)c->key << 16, nt = 0, nc = 0;
        if (c->type == ENG__CT_ARRAY) {
#define HASH_SIDE(v) is_test(seedmix, hi | (v), threshold, all)
            SPLIT_ARRAY(c, wt, wc, nt, nc, HASH_SIDE);
#undef HASH_SIDE
        } else {
            if (all)
                memcpy(wt, c->u.bits, sizeof wt);
            else
                eng__split_words(seedmix, hi, threshold, c->u.bits, wt, ENG__CT_WORDS);
            nc = (uint32_t)eng__words_op(ENG__WOP_ANDNOT, c->u.bits, wt, wc, ENG__CT_WORDS);
            nt = c->card - nc;
        }
        if (split_emit(test, control, c->key, wt, nt, wc, nc))
            goto fail;
    }
    return ENG_OK;
fail:
    eng__idset_free(test);
    eng__idset_free(control);
    return ENG_ENOMEM;
}

int eng__idset_split_words(const eng__idset *s, const uint64_t *side, size_t nwords, eng__idset *test,
                           eng__idset *control)
{
    eng__idset_free(test);
    eng__idset_free(control);
    uint64_t wt[ENG__CT_WORDS], wc[ENG__CT_WORDS];
    for (uint32_t i = 0; i < s->n; i++) {
        const eng__ctr *c = &s->c[i];
        uint32_t nt = 0, nc = 0;
        if (((size_t)c->key + 1) * ENG__CT_WORDS > nwords) {
            eng__idset_free(test);
            eng__idset_free(control);
            return eng__err(ENG_ERROR, "split", "the split words do not cover id %u", (unsigned)c->key << 16);
        }
        const uint64_t *sw = side + (size_t)c->key * ENG__CT_WORDS;
        if (c->type == ENG__CT_ARRAY) {
#define WORD_SIDE(v) (sw[(v) >> 6] >> ((v) & 63) & 1)
            SPLIT_ARRAY(c, wt, wc, nt, nc, WORD_SIDE);
#undef WORD_SIDE
        } else {
            nt = (uint32_t)eng__words_op(ENG__WOP_AND, c->u.bits, sw, wt, ENG__CT_WORDS);
            nc = c->card - nt;
            eng__words_op(ENG__WOP_ANDNOT, c->u.bits, sw, wc, ENG__CT_WORDS);
        }
        if (split_emit(test, control, c->key, wt, nt, wc, nc))
            goto fail;
    }
    return ENG_OK;
fail:
    eng__idset_free(test);
    eng__idset_free(control);
    return ENG_ENOMEM;
}
