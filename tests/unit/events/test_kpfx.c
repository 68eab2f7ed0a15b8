/* Key prefixes kept with the dictionary (events/keymap.c, state.c DK_KPFX): a
 * reopened engine finds the sends of a context it wrote first through the context's
 * key map again, not the hash index. Checked against the test's own record of which
 * send each customer got: after a reopen every such send is in the map at its
 * customer and out of the hash index, and receipts with the dispatcher's keys reach
 * exactly those sends; a context first written with other keys keeps its sends in the
 * hash index after a reopen (its prefix is not stored); a key of the dispatcher's form
 * that names another context than its row's is a duplicate of that context's send
 * whether the send is mapped or hashed; a stored prefix that is not its context's is
 * ENG_ECORRUPT naming the record. */
#include "ev_fixture.h"
#include "events/ev_state.h"

#define NS (ENG_CH_COUNT * ENG_TOUCH_STATUS_COUNT)

static eng__evorg *acme(evfx *f, eng__ev **ev)
{
    assert_int_equal(eng__ev_get(f->e, ev), ENG_OK);
    eng__evorg *o = eng__ev_org_by_code(*ev, 0);
    assert_non_null(o);
    return o;
}

/* Sends of campaign's context for customers [lo, hi): each in the map at its customer
 * (mapped = 1) or in the hash index only (mapped = 0); ids from first on, in order. */
static void check_sends(evfx *f, uint64_t campaign, uint32_t lo, uint32_t hi, uint32_t first, int mapped)
{
    eng__ev *ev;
    assert_int_equal(eng__enter(f->e), ENG_OK);
    eng__evorg *o = acme(f, &ev);
    eng__ctxkey k = {campaign, campaign * 10, 1, 0};
    int64_t cx = eng__ev_ctx_find(o, &k);
    assert_true(cx >= 0);
    for (uint32_t c = lo; c < hi; c++) {
        uint32_t id = first + (c - lo);
        assert_int_equal(ev->s.customer[id], c);
        assert_int_equal(eng__kmap_get(o, (uint32_t)cx, c), mapped ? id + 1 : 0);
        assert_int_equal(ev->s.hashed[id / 64] >> (id % 64) & 1, !mapped);
    }
    eng__leave(f->e);
}

/* Receipts of status st for customers [lo, hi) of campaign's context: all accepted. */
static void receipts(evfx *f, uint64_t campaign, uint32_t lo, uint32_t hi, int st)
{
    for (uint32_t c = lo; c < hi; c++) {
        eng_event_report r = ENG_EVENT_REPORT_INIT;
        assert_int_equal(evfx_receipt(f, campaign, c, ENG_CH_EMAIL, st, 5000 + c, NULL, &r), ENG_OK);
        assert_int_equal(r.accepted, 1);
    }
}

/* Each customer of [lo, hi) has exactly the statuses sent and st, at the times written. */
static void check_touches(evfx *f, uint32_t lo, uint32_t hi, int st)
{
    for (uint32_t c = lo; c < hi; c++) {
        eng__touch_buf b;
        memset(&b, 0, sizeof b);
        assert_int_equal(eng__enter(f->e), ENG_OK);
        assert_int_equal(eng__touch_customer(f->e, "acme", c, NULL, &b), ENG_OK);
        eng__leave(f->e);
        assert_int_equal(b.c.n, 2);
        int seen = 0;
        for (size_t i = 0; i < b.c.n; i++) {
            assert_int_equal(b.c.customer[i], c);
            seen |= 1 << b.c.status[i];
            if (b.c.status[i] == st)
                assert_int_equal(b.c.time[i], 5000 + c);
        }
        assert_int_equal(seen, 1 << ENG_TOUCH_SENT | 1 << st);
        assert_int_equal(eng__enter(f->e), ENG_OK);
        eng__touch_buf_free(f->e, &b);
        eng__leave(f->e);
    }
}

static void restored_after_reopen(void **st)
{
    (void)st;
    evfx f;
    evfx_open(&f, 0);
    evfx_send(&f, "acme", 1, 0, 300, ENG_CH_EMAIL, 1000);
    check_sends(&f, 1, 0, 300, 0, 1);
    evfx_reopen(&f);
    check_sends(&f, 1, 0, 300, 0, 1); /* back in the map, not in the hash index */
    receipts(&f, 1, 0, 300, ENG_TOUCH_DELIVERED);
    check_touches(&f, 0, 300, ENG_TOUCH_DELIVERED);
    /* a key with another version millisecond is not one of them: it waits */
    eng_event_report r = ENG_EVENT_REPORT_INIT;
    const char *keys[1] = {"acme/c1/m10.1001/o0/u5/email"};
    int sts[1] = {ENG_TOUCH_OPENED};
    eng_time ts[1] = {9000};
    eng_receipts rc = ENG_RECEIPTS_INIT;
    rc.count = 1;
    rc.keys = keys;
    rc.statuses = sts;
    rc.times = ts;
    assert_int_equal(eng_touch_append(f.e, &rc, &r), ENG_OK);
    assert_int_equal(r.unmatched, 1);
    /* sent again (a retried batch) after the reopen: duplicates, found through the map */
    eng__sent_result res;
    assert_int_equal(evfx_send_rc(&f, "acme", 1, 0, 300, ENG_CH_EMAIL, 1000, &res), ENG_OK);
    assert_int_equal(res.duplicates, 300);
    assert_int_equal(res.accepted, 0);
    evfx_reopen(&f);
    check_sends(&f, 1, 0, 300, 0, 1);
    check_touches(&f, 0, 300, ENG_TOUCH_DELIVERED);
    evfx_close(&f);
}

static void loaded_context_not_stored(void **st)
{
    (void)st;
    evfx f;
    evfx_open(&f, 0);
    evfx_opaque_keys = 1; /* the context first written with other keys */
    evfx_send(&f, "acme", 1, 0, 50, ENG_CH_EMAIL, 1000);
    evfx_opaque_keys = 0;
    evfx_reopen(&f);
    evfx_send(&f, "acme", 1, 50, 100, ENG_CH_EMAIL, 1000); /* the dispatcher's keys into the loaded context */
    check_sends(&f, 1, 50, 100, 50, 1);
    evfx_reopen(&f);
    check_sends(&f, 1, 50, 100, 50, 0); /* its prefix was not stored: hashed */
    receipts(&f, 1, 50, 100, ENG_TOUCH_OPENED);
    check_touches(&f, 50, 100, ENG_TOUCH_OPENED);
    evfx_close(&f);
}

/* Rows of context version 2 written with the keys of context version 1's sends. */
static void other_context_key_is_duplicate(void **st)
{
    (void)st;
    for (int reopen = 0; reopen < 2; reopen++) {
        evfx f;
        evfx_open(&f, 0);
        evfx_send(&f, "acme", 1, 0, 40, ENG_CH_EMAIL, 1000);
        if (reopen)
            evfx_reopen(&f);
        eng__send_ctx ctx = {"acme", 1, 10, 2, 0};
        eng__sent_row rows[40];
        char keys[40][64];
        for (uint32_t c = 0; c < 40; c++) {
            evfx_key(keys[c], 64, 1, 0, c, ENG_CH_EMAIL); /* version second 1's keys */
            rows[c] = (eng__sent_row){keys[c], strlen(keys[c]), c, ENG_CH_EMAIL, 2000 + c};
        }
        eng__sent_result res;
        memset(&res, 0, sizeof res);
        assert_int_equal(eng__enter(f.e), ENG_OK);
        assert_int_equal(eng__kv_begin(f.e->store), ENG_OK);
        assert_int_equal(eng__touch_sent(f.e, &ctx, rows, 40, &res), ENG_OK);
        assert_int_equal(eng__kv_commit(f.e->store), ENG_OK);
        eng__leave(f.e);
        assert_int_equal(res.duplicates, 40);
        assert_int_equal(res.accepted, 0);
        evfx_close(&f);
    }
}

static void bad_stored_prefix(void **st)
{
    (void)st;
    evfx f;
    evfx_open(&f, 0);
    evfx_send(&f, "acme", 1, 0, 10, ENG_CH_EMAIL, 1000);
    evfx_send(&f, "acme", 2, 0, 10, ENG_CH_EMAIL, 1000);
    eng__ev *ev;
    assert_int_equal(eng__enter(f.e), ENG_OK);
    eng__evorg *o = acme(&f, &ev);
    char key[48];
    snprintf(key, sizeof key, "e/0000/x/%08x", o->next_dict_seq);
    /* context 0 (campaign 1) given campaign 2's prefix */
    static const char pfx[] = "acme/c2/m20.1000/o0/u";
    uint8_t rec[64];
    size_t n = 0;
    rec[n++] = 6; /* DK_KPFX */
    rec[n++] = 0;
    rec[n++] = (uint8_t)(sizeof pfx - 1);
    memcpy(rec + n, pfx, sizeof pfx - 1);
    n += sizeof pfx - 1;
    assert_int_equal(eng__kv_begin(f.e->store), ENG_OK);
    assert_int_equal(eng__rec_put(f.e->store, key, strlen(key), ENG__REC_EV_DICT, 2, rec, n), ENG_OK);
    assert_int_equal(eng__kv_commit(f.e->store), ENG_OK);
    eng__leave(f.e);
    evfx_reopen(&f);
    uint64_t c[NS];
    assert_int_equal(eng_touch_status_counts(f.e, "acme", 1, 0, c, NS), ENG_ECORRUPT);
    assert_non_null(strstr(eng_error_last()->detail, key));
    evfx_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(restored_after_reopen),
        cmocka_unit_test(loaded_context_not_stored),
        cmocka_unit_test(other_context_key_is_duplicate),
        cmocka_unit_test(bad_stored_prefix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
