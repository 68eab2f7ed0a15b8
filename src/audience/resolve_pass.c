/* A resolve in one pass over the chunks (resolve_pass.h).
 *
 * Done step by step (union, exclude, each channel's reachable set built from
 * four sets, the channel filter, the split) a resolve makes about a dozen
 * passes over sets of n/8 bytes and allocates each result: at 10^7
 * customers that is memory traffic, not work. Here each 2^16-id chunk is
 * combined in a few 8 KiB word buffers that stay in L1, reading each input
 * container once and writing the three outputs once. */
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

/* The words of a container: a bitmap's own, an array's set into tmp. */
static const uint64_t *words_of(const eng__ctr *c, uint64_t *tmp)
{
    if (c->type == ENG__CT_BITMAP)
        return c->u.bits;
    memset(tmp, 0, W * sizeof *tmp);
    for (uint32_t k = 0; k < c->card; k++)
        tmp[c->u.arr[k] >> 6] |= 1ull << (c->u.arr[k] & 63);
    return tmp;
}

static void or_into(uint64_t *w, const eng__ctr *c)
{
    if (c->type == ENG__CT_BITMAP) {
        eng__words_op(ENG__WOP_OR, w, c->u.bits, w, W);
        return;
    }
    for (uint32_t k = 0; k < c->card; k++)
        w[c->u.arr[k] >> 6] |= 1ull << (c->u.arr[k] & 63);
}

static void andnot_into(uint64_t *w, const eng__ctr *c)
{
    if (c->type == ENG__CT_BITMAP) {
        eng__words_op(ENG__WOP_ANDNOT, w, c->u.bits, w, W);
        return;
    }
    for (uint32_t k = 0; k < c->card; k++)
        w[c->u.arr[k] >> 6] &= ~(1ull << (c->u.arr[k] & 63));
}

size_t eng__rpass_chunks(const eng__rpass *p)
{
    size_t top = 0;
    for (size_t i = 0; i < p->ninc; i++)
        if (p->inc[i]->n && (size_t)p->inc[i]->c[p->inc[i]->n - 1].key + 1 > top)
            top = (size_t)p->inc[i]->c[p->inc[i]->n - 1].key + 1;
    return top;
}

/* Channel c's reachable words of chunk key into r; 0 when none. */
static int reach_words(cursor *cur, int c, uint16_t key, uint64_t *r, uint64_t *t1,
                       uint64_t *t2)
{
    cursor *has = &cur[4 * c], *con = &cur[4 * c + 1], *opt = &cur[4 * c + 2], *sup = &cur[4 * c + 3];
    const eng__ctr *h = ctr_at(has, key), *k = h ? ctr_at(con, key) : NULL;
    if (!h || !k)
        return 0;
    eng__words_op(ENG__WOP_AND, words_of(h, t1), words_of(k, t2), r, W);
    const eng__ctr *o = ctr_at(opt, key), *s = ctr_at(sup, key);
    if (o)
        andnot_into(r, o);
    if (s)
        andnot_into(r, s);
    return 1;
}

int eng__resolve_pass(const eng__rpass *p, const eng__mem *mem, eng__idset *all, uint64_t reach[ENG_CH_COUNT],
                      eng__idset *test, eng__idset *control)
{
    eng__idset_free(all);
    eng__idset_free(test);
    eng__idset_free(control);
    memset(reach, 0, ENG_CH_COUNT * sizeof *reach);
    size_t ncur = p->ninc + p->nexc + 4 * ENG_CH_COUNT;
    cursor *cur = eng__calloc(mem, ncur, sizeof *cur);
    uint64_t *buf = eng__malloc(mem, 6 * W * sizeof *buf);
    if (!cur || !buf) {
        eng__free(mem, cur);
        eng__free(mem, buf);
        return eng__nomem();
    }
    uint64_t *a = buf, *m = a + W, *r = m + W, *t1 = r + W, *t2 = t1 + W, *t3 = t2 + W;
    cursor *ch = cur, *inc = ch + 4 * ENG_CH_COUNT, *exc = inc + p->ninc;
    for (int c = 0; c < ENG_CH_COUNT; c++) {
        if (!(p->count >> c & 1))
            continue;
        ch[4 * c] = (cursor){p->has[c], 0};
        ch[4 * c + 1] = (cursor){p->consent[c], 0};
        ch[4 * c + 2] = (cursor){p->optout[c], 0};
        ch[4 * c + 3] = (cursor){p->suppressed, 0};
    }
    for (size_t i = 0; i < p->ninc; i++)
        inc[i] = (cursor){p->inc[i], 0};
    for (size_t i = 0; i < p->nexc; i++)
        exc[i] = (cursor){p->exc[i], 0};
    int rc = ENG_OK;
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
            else
                or_into(a, c);
            first = 0;
            inc[i].i++;
        }
        for (size_t i = 0; i < p->nexc; i++) {
            const eng__ctr *c = ctr_at(&exc[i], (uint16_t)key);
            if (c)
                andnot_into(a, c);
        }
        /* With the channel filter the count comes from its AND below; an empty
         * chunk then ends there too. */
        uint32_t card = p->filter ? 1 : (uint32_t)eng__words_count(a, W);
        if (!card)
            continue;
        int kept = 0;
        for (int c = 0; c < ENG_CH_COUNT && p->count; c++) {
            if (!(p->count >> c & 1) || !reach_words(ch, c, (uint16_t)key, r, t1, t2))
                continue;
            reach[c] += eng__words_op(ENG__WOP_AND, a, r, NULL, W);
            if (p->filter && (p->keep >> c & 1)) {
                if (kept++)
                    eng__words_op(ENG__WOP_OR, m, r, m, W);
                else
                    memcpy(m, r, W * sizeof *m);
            }
        }
        if (p->filter)
            card = kept ? (uint32_t)eng__words_op(ENG__WOP_AND, a, m, a, W) : 0;
        if (!card)
            continue;
        if ((rc = eng__idset_push_words(all, (uint16_t)key, a, card)))
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
        const uint64_t *sw = p->side + (size_t)key * W;
        uint32_t nt = (uint32_t)eng__words_op(ENG__WOP_AND, a, sw, t3, W);
        if (nt && (rc = eng__idset_push_words(test, (uint16_t)key, t3, nt)))
            break;
        if (nt < card) {
            eng__words_op(ENG__WOP_ANDNOT, a, sw, t3, W);
            if ((rc = eng__idset_push_words(control, (uint16_t)key, t3, card - nt)))
                break;
        }
    }
    eng__free(mem, cur);
    eng__free(mem, buf);
    if (rc) {
        eng__idset_free(all);
        eng__idset_free(test);
        eng__idset_free(control);
        memset(reach, 0, ENG_CH_COUNT * sizeof *reach);
    }
    return rc;
}
