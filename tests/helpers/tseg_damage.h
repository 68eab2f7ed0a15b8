/* Damaged ordered touch segments (payload kind 3) for the tests of their readers:
 * segment @p key decoded, its columns or table changed by a mutation, encoded
 * again and framed as a valid record, so that only the payload's meaning is
 * wrong. Include after cmocka.h. */
#ifndef TEST_TSEG_DAMAGE_H
#define TEST_TSEG_DAMAGE_H

#include <stdlib.h>
#include <string.h>

#include "events/ev_state.h"
#include "test_store.h"

/* Rewrite @p key in @p ts (through engine @p e's store, which the caller reopens
 * before reading it) with @p mutate applied (NULL: unchanged); *w holds the
 * record written (ENG__REC_HEADER bytes, then the payload), freed by the caller. */
static inline void tseg_damage(eng_engine *e, test_store *ts, const char *key, void (*mutate)(eng__tcols *c),
                               eng__wr *w)
{
    uint8_t *v;
    size_t len;
    assert_int_equal(test_store_raw_get(ts, key, &v, &len), 0);
    const eng__mem *mem = &e->mem;
    eng__rec rec;
    assert_int_equal(eng__rec_decode(key, strlen(key), v, len, ENG__REC_EV_TSEG, ENG__TSEG_V_SKEYS, &rec), ENG_OK);
    assert_int_equal(rec.payload[0] & ~ENG__TSEG_SKEYS, 3);
    eng__tcols c;
    memset(&c, 0, sizeof c);
    assert_int_equal(eng__tseg_decode(rec.payload, rec.len, key, &c, mem), ENG_OK);
    free(v);
    if (mutate)
        mutate(&c);
    eng__wr_init(w, mem);
    assert_int_equal(eng__wr_reserve(w, ENG__REC_HEADER), ENG_OK);
    w->len = ENG__REC_HEADER;
    eng__tseg_encode(w, &c, 0, c.n, 0, c.nkey, 1);
    assert_int_equal(w->err, 0);
    assert_int_equal(eng__enter(e), ENG_OK);
    assert_int_equal(eng__kv_begin(e->store), ENG_OK);
    assert_int_equal(eng__rec_put_framed(e->store, key, strlen(key), ENG__REC_EV_TSEG, 1, w->data, w->len), ENG_OK);
    assert_int_equal(eng__kv_commit(e->store), ENG_OK);
    eng__leave(e);
    eng__tcols_free(&c, mem);
}

/* The mutations: each leaves a segment whose table or order does not match its rows. */
static inline void tseg_more_rows(eng__tcols *c) /* entries moved, total kept */
{
    assert_true(c->nsum >= 2);
    c->sum[0].rows++;
    c->sum[c->nsum - 1].rows--;
    if (c->sum[c->nsum - 1].first > c->sum[c->nsum - 1].rows)
        c->sum[c->nsum - 1].first = c->sum[c->nsum - 1].rows;
}
static inline void tseg_split_moved(eng__tcols *c) /* a row moved between two entries of one status */
{
    for (size_t j = 1; j < c->nsum; j++)
        if (c->sum[j].status == c->sum[j - 1].status && c->sum[j].rows > c->sum[j].first) {
            c->sum[j].rows--;
            c->sum[j - 1].rows++;
            return;
        }
    for (size_t j = 1; j < c->nsum; j++)
        if (c->sum[j].status == c->sum[j - 1].status && c->sum[j].rows > 1) {
            c->sum[j].rows--, c->sum[j].first--;
            c->sum[j - 1].rows++, c->sum[j - 1].first++;
            return;
        }
    fail();
}
static inline void tseg_fewer_entries(eng__tcols *c)
{
    c->nsum--;
}
static inline void tseg_unflagged(eng__tcols *c) /* a first row no longer flagged, the table unchanged */
{
    for (size_t i = 0; i < c->n; i++)
        if (c->first[i]) {
            c->first[i] = 0;
            return;
        }
    fail();
}
static inline void tseg_other_context(eng__tcols *c) /* a row's context one not in the table */
{
    assert_true(c->n > 1);
    c->ctx[c->n / 2] = c->ctx[c->n / 2] + 1;
}
static inline void tseg_out_of_order(eng__tcols *c) /* two customers of one status swapped */
{
    for (size_t i = 1; i < c->n; i++)
        if (c->status[i] == c->status[i - 1] && c->customer[i] != c->customer[i - 1] &&
            c->ctx[i] == c->ctx[i - 1] && c->channel[i] == c->channel[i - 1]) {
            uint32_t t = c->customer[i];
            c->customer[i] = c->customer[i - 1];
            c->customer[i - 1] = t;
            return;
        }
    fail();
}

#endif
