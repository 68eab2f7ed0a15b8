/* A resolve in one pass over the chunks (resolve_pass.h).
 *
 * Done step by step (union, exclude, the channel filter, the split) a resolve
 * makes about a dozen passes over sets of n/8 bytes and allocates each
 * result: at 10^7 customers that is memory traffic, not work. Here each
 * 2^16-id chunk is combined in a few 8 KiB word buffers that stay in L1,
 * reading each input container once and writing each output once (a dense
 * test side straight into the container it becomes). */
#include "audience/resolve_pass.h"
#include "base/error.h"
#include "base/simd.h"

#include <string.h>

#define W ENG__CT_WORDS

/* A set read in ascending key order. */
typedef struct cursor {
    const eng__idset *s;
    uint32_t i;
} cursor;

static const eng__ctr *ctr_at(cursor *c, uint16_t key)
{
    if (!c->s)
        return NULL;
    while (c->i < c->s->n && c->s->c[c->i].key < key)
        c->i++;
    return c->i < c->s->n && c->s->c[c->i].key == key ? &c->s->c[c->i] : NULL;
}

/* Set (clear 0) or clear (clear 1) the bits of n sorted ids in w. Four runs
 * of the array side by side: consecutive ids mostly hit the same word, and
 * one read-modify-write chain per word would wait on the store before it. */
static void scatter(uint64_t *w, const uint16_t *v, uint32_t n, int clear)
{
    uint32_t q = n / 4, k = 0;
    const uint16_t *v1 = v + q, *v2 = v + 2 * q, *v3 = v + 3 * q;
    if (clear) {
        for (; k < q; k++) {
            w[v[k] >> 6] &= ~(1ull << (v[k] & 63));
            w[v1[k] >> 6] &= ~(1ull << (v1[k] & 63));
            w[v2[k] >> 6] &= ~(1ull << (v2[k] & 63));
            w[v3[k] >> 6] &= ~(1ull << (v3[k] & 63));
        }
        for (k = 4 * q; k < n; k++)
            w[v[k] >> 6] &= ~(1ull << (v[k] & 63));
        return;
    }
    for (; k < q; k++) {
        w[v[k] >> 6] |= 1ull << (v[k] & 63);
        w[v1[k] >> 6] |= 1ull << (v1[k] & 63);
        w[v2[k] >> 6] |= 1ull << (v2[k] & 63);
        w[v3[k] >> 6] |= 1ull << (v3[k] & 63);
    }
    for (k = 4 * q; k < n; k++)
        w[v[k] >> 6] |= 1ull << (v[k] & 63);
}

/* The words of a container: a bitmap's own, an array's set into tmp. */
static const uint64_t *words_of(const eng__ctr *c, uint64_t *tmp)
{
    if (c->type == ENG__CT_BITMAP)
        return c->u.bits;
    memset(tmp, 0, W * sizeof *tmp);
    scatter(tmp, c->u.arr, c->card, 0);
    return tmp;
}

/* |w ∩ c| */
static uint64_t and_count(const uint64_t *w, const eng__ctr *c)
{
    if (c->type == ENG__CT_BITMAP)
        return eng__words_op(ENG__WOP_AND, w, c->u.bits, NULL, W);
    uint64_t n = 0;
    for (uint32_t k = 0; k < c->card; k++)
        n += w[c->u.arr[k] >> 6] >> (c->u.arr[k] & 63) & 1;
    return n;
}

size_t eng__rpass_chunks(const eng__rpass *p)
{
    size_t top = 0;
    for (size_t i = 0; i < p->ninc; i++)
        if (p->inc[i]->n && (size_t)p->inc[i]->c[p->inc[i]->n - 1].key + 1 > top)
            top = (size_t)p->inc[i]->c[p->inc[i]->n - 1].key + 1;
    return top;
}

/* Chunk key's ids of a (card of them) into s, copied. */
static int put(eng__idset *s, uint16_t key, const uint64_t *a, uint32_t card)
{
    return s ? eng__idset_push_words(s, key, a, card) : ENG_OK;
}

/* test = a ∩ sw, control = a − sw. The side that was a bitmap in the last
 * chunk is written straight into a new container (sealed to an array if it
 * turns out small); the other goes through tmp. */
static int split_chunk(uint16_t key, const uint64_t *a, uint32_t card, const uint64_t *sw, uint64_t *tmp,
                       eng__idset *test, eng__idset *control, int *test_dense)
{
    uint64_t *tw = *test_dense ? eng__idset_push_bitmap(test, key) : tmp + W, *cw = tmp;
    if (!tw)
        return ENG_ENOMEM;
    uint32_t nt = (uint32_t)eng__words_split(a, sw, tw, cw, W);
    int rc = *test_dense ? eng__idset_seal_last(test, nt) : eng__idset_push_words(test, key, tw, nt);
    *test_dense = nt > ENG__CT_ARRAY_MAX;
    return rc ? rc : eng__idset_push_words(control, key, cw, card - nt);
}

int eng__resolve_pass(const eng__rpass *p, const eng__mem *mem, eng__idset *all, uint64_t reach[ENG_CH_COUNT],
                      eng__idset *test, eng__idset *control)
{
    if (all)
        eng__idset_free(all);
    eng__idset_free(test);
    eng__idset_free(control);
    memset(reach, 0, ENG_CH_COUNT * sizeof *reach);
    size_t ncur = p->ninc + p->nexc + ENG_CH_COUNT;
    cursor *cur = eng__calloc(mem, ncur, sizeof *cur);
    uint64_t *buf = eng__malloc(mem, 5 * W * sizeof *buf);
    if (!cur || !buf) {
        eng__free(mem, cur);
        eng__free(mem, buf);
        return eng__nomem();
    }
    uint64_t *a = buf, *m = a + W, *t1 = m + W, *t2 = t1 + W; /* t2: two buffers */
    cursor *ch = cur, *inc = ch + ENG_CH_COUNT, *exc = inc + p->ninc;
    for (int c = 0; c < ENG_CH_COUNT; c++)
        if (p->count >> c & 1)
            ch[c] = (cursor){p->reach[c], 0};
    for (size_t i = 0; i < p->ninc; i++)
        inc[i] = (cursor){p->inc[i], 0};
    for (size_t i = 0; i < p->nexc; i++)
        exc[i] = (cursor){p->exc[i], 0};
    uint32_t kept_ch = p->filter ? p->count & p->keep : 0;
    int rc = ENG_OK, test_dense = 1;
    for (;;) {
        uint32_t key = 1u << 16; /* the smallest key left in an include set */
        for (size_t i = 0; i < p->ninc; i++)
            if (inc[i].i < inc[i].s->n && inc[i].s->c[inc[i].i].key < key)
                key = inc[i].s->c[inc[i].i].key;
        if (key >> 16)
            break;
        int first = 1;
        for (size_t i = 0; i < p->ninc; i++) {
            const eng__ctr *c = ctr_at(&inc[i], (uint16_t)key);
            if (!c)
                continue;
            if (first && c->type == ENG__CT_BITMAP)
                memcpy(a, c->u.bits, W * sizeof *a);
            else if (first)
                words_of(c, a);
            else if (c->type == ENG__CT_BITMAP)
                eng__words_op(ENG__WOP_OR, a, c->u.bits, a, W);
            else
                scatter(a, c->u.arr, c->card, 0);
            first = 0;
            inc[i].i++;
        }
        for (size_t i = 0; i < p->nexc; i++) {
            const eng__ctr *c = ctr_at(&exc[i], (uint16_t)key);
            if (c && c->type == ENG__CT_BITMAP)
                eng__words_op(ENG__WOP_ANDNOT, a, c->u.bits, a, W);
            else if (c)
                scatter(a, c->u.arr, c->card, 1);
        }
        /* With the channel filter the count comes from its AND below; an empty
         * chunk then ends there too. */
        uint32_t card = p->filter ? 1 : (uint32_t)eng__words_count(a, W);
        if (!card)
            continue;
        /* The kept channels' containers here; the reach of the others is
         * counted on the way. One kept channel's reach is the filter's count. */
        const eng__ctr *kc[ENG_CH_COUNT];
        int nk = 0, kch = 0;
        for (int c = 0; c < ENG_CH_COUNT && p->count; c++) {
            const eng__ctr *r = p->count >> c & 1 ? ctr_at(&ch[c], (uint16_t)key) : NULL;
            if (!r)
                continue;
            if (kept_ch >> c & 1) {
                kc[nk++] = r;
                kch = c;
            } else {
                reach[c] += and_count(a, r);
            }
        }
        if (p->filter) {
            if (nk == 1) {
                card = (uint32_t)eng__words_op(ENG__WOP_AND, a, words_of(kc[0], t1), a, W);
                reach[kch] += card;
            } else if (nk > 1) {
                for (int c = 0, k = 0; c < ENG_CH_COUNT; c++) {
                    const eng__ctr *r = kept_ch >> c & 1 ? ctr_at(&ch[c], (uint16_t)key) : NULL;
                    if (!r)
                        continue;
                    reach[c] += and_count(a, r);
                    if (k++ == 0)
                        memcpy(m, words_of(r, t1), W * sizeof *m);
                    else if (r->type == ENG__CT_BITMAP)
                        eng__words_op(ENG__WOP_OR, m, r->u.bits, m, W);
                    else
                        scatter(m, r->u.arr, r->card, 0);
                }
                card = (uint32_t)eng__words_op(ENG__WOP_AND, a, m, a, W);
            } else {
                card = 0;
            }
        }
        if (!card)
            continue;
        if ((rc = put(all, (uint16_t)key, a, card)))
            break;
        if (!p->split)
            continue;
        if (!p->side) {
            if ((rc = eng__idset_push_words(p->test_all ? test : control, (uint16_t)key, a, card)))
                break;
            continue;
        }
        if (((size_t)key + 1) * W > p->side_words) {
            rc = eng__err(ENG_ERROR, "split", "the split words do not cover id %u", key << 16);
            break;
        }
        if ((rc = split_chunk((uint16_t)key, a, card, p->side + (size_t)key * W, t2, test, control, &test_dense)))
            break;
    }
    eng__free(mem, cur);
    eng__free(mem, buf);
    if (rc) {
        if (all)
            eng__idset_free(all);
        eng__idset_free(test);
        eng__idset_free(control);
        memset(reach, 0, ENG_CH_COUNT * sizeof *reach);
    }
    return rc;
}
