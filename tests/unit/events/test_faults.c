/* Failures at every point of an append: each storage call of a `sent`
 * write (with a pending receipt joining, with the tail being sealed whole, and
 * around its first chunk: both encoded on the engine's thread while the batch
 * goes on, events/tseal.c) and
 * of a receipt append (with an unsubscribe) is made to fail in turn. A
 * refused append leaves the store byte for byte as it was and the readers
 * as before; a commit that applied but reported failure reads as applied
 * after reload. Then every allocation of a whole flow fails in turn. */
#include "ev_fixture.h"
#include "../model/store_digest.h"
#include "fault_sweep.h"
#include "events/ev_state.h"

#define NS (ENG_CH_COUNT * ENG_TOUCH_STATUS_COUNT)

typedef struct snap {
    uint64_t counts[NS], beta[NS];
    uint64_t pending;
    int reach4;
} snap;

static void take(evfx *f, snap *s)
{
    memset(s, 0, sizeof *s);
    assert_int_equal(eng_touch_status_counts(f->e, "acme", 5, 0, s->counts, NS), ENG_OK);
    assert_int_equal(eng_touch_status_counts(f->e, "beta", 7, 0, s->beta, NS), ENG_OK);
    assert_int_equal(eng_touch_pending(f->e, &s->pending), ENG_OK);
    assert_int_equal(eng_customer_reachable(f->e, "admin", 4, ENG_CH_EMAIL, &s->reach4), ENG_OK);
}

enum { OP_SENT, OP_SENT_SEAL, OP_SENT_BEHIND, OP_RECEIPTS };

static int run_op(evfx *f, int op)
{
    if (op == OP_SENT)
        return evfx_send_rc(f, "acme", 5, 10, 20, ENG_CH_EMAIL, 3000, NULL);
    if (op == OP_SENT_SEAL)
        return evfx_send_rc(f, "acme", 5, 20, eng__seg_seal_rows + 30, ENG_CH_EMAIL, 4000, NULL);
    if (op == OP_SENT_BEHIND) /* beta's first chunk (setup) is kept: sealed around it (acme's: whole) */
        return evfx_send_rc(f, "beta", 7, 40, eng__seg_seal_rows + 60, ENG_CH_EMAIL, 4000, NULL);
    char k1[64], k2[64], k3[64];
    evfx_key(k1, sizeof k1, 5, 0, 4, ENG_CH_EMAIL);
    evfx_key(k2, sizeof k2, 5, 0, 5, ENG_CH_EMAIL);
    evfx_key(k3, sizeof k3, 5, 0, 6, ENG_CH_EMAIL);
    const char *keys[4] = {k1, k2, k3, "nobody-yet"};
    int st[4] = {ENG_TOUCH_UNSUBSCRIBED, ENG_TOUCH_CLICKED, ENG_TOUCH_FAILED, ENG_TOUCH_DELIVERED};
    eng_time ts[4] = {5000, 5001, 5002, 5003};
    const char *det[4] = {NULL, "link-9", "mailbox full", NULL};
    eng_receipts r = evfx_receipts(4, keys, st, ts, det);
    return eng_touch_append(f->e, &r, NULL);
}

typedef struct op_at {
    evfx *f;
    int op;
} op_at;

static int run_op_cb(void *u)
{
    op_at *a = u;
    return run_op(a->f, a->op);
}

static void setup(evfx *f)
{
    evfx_open(f, 10);
    evfx_send(f, "acme", 5, 0, 10, ENG_CH_EMAIL, 1000);
    evfx_send(f, "beta", 7, 0, 40, ENG_CH_EMAIL, 1000); /* a first chunk of more than 512 / 16 rows */
    /* a receipt waiting for customer 12's send */
    char k[64];
    evfx_key(k, sizeof k, 5, 0, 12, ENG_CH_EMAIL);
    const char *keys[1] = {k};
    int st[1] = {ENG_TOUCH_OPENED};
    eng_time ts[1] = {900};
    eng_receipts r = evfx_receipts(1, keys, st, ts, NULL);
    assert_int_equal(eng_touch_append(f->e, &r, NULL), ENG_OK);
}

static void store_faults(void **st)
{
    (void)st;
    eng__seg_seal_rows = 512; /* sealing with few rows: every iteration stays cheap */
    for (int op = OP_SENT; op <= OP_RECEIPTS; op++) {
        /* the state an undisturbed op leads to */
        evfx f;
        setup(&f);
        snap before, after, now;
        take(&f, &before);
        size_t behind = eng__tseal_behind;
        assert_int_equal(run_op(&f, op), ENG_OK);
        /* the engine has a thread: both seals encoded on it as the batch went on (events/tseal.c) */
        assert_int_equal(eng__tseal_behind - behind, op == OP_SENT_SEAL || op == OP_SENT_BEHIND);
        take(&f, &after);
        evfx_close(&f);
        assert_memory_not_equal(&before, &after, sizeof before);
        for (int mode = 0; mode < 2; mode++) {
            for (uint64_t nth = 1;; nth++) {
                setup(&f);
                op_at at = {&f, op};
                if (!fault_nth(f.ts, f.e, mode ? TV_COMMIT : TV_ALL, nth, mode ? TF_COMMITTED_ERROR : TF_ERROR,
                               run_op_cb, &at)) {
                    evfx_close(&f);
                    break;
                }
                take(&f, &now);
                /* refused: the readers as before; a commit that applied: as after */
                assert_memory_equal(&now, mode == 0 ? &before : &after, sizeof now);
                evfx_reopen(&f);
                take(&f, &now);
                assert_memory_equal(&now, mode == 0 ? &before : &after, sizeof now);
                evfx_close(&f);
            }
        }
    }
}

static int whole_flow(void *arg)
{
    (void)arg;
    eng_engine *e;
    int rc = evfx_oom_engine(&e);
    if (rc)
        return rc;
    evfx f = {NULL, e, 0};
    static const char csv[] = "id,contact.email,consent.email\nc0,a@x.io,true\nc1,b@x.io,true\nc2,c@x.io,true\n";
    if (!(rc = eng_customers_import_csv_buffer(e, "admin", csv, sizeof csv - 1, NULL, NULL)) &&
        !(rc = evfx_receipt(&f, 5, 2, ENG_CH_EMAIL, ENG_TOUCH_OPENED, 50, NULL, NULL)) &&
        !(rc = evfx_send_rc(&f, "acme", 5, 0, 3, ENG_CH_EMAIL, 10, NULL)) &&
        !(rc = evfx_receipt(&f, 5, 1, ENG_CH_EMAIL, ENG_TOUCH_UNSUBSCRIBED, 60, NULL, NULL)) &&
        !(rc = evfx_receipt(&f, 5, 0, ENG_CH_EMAIL, ENG_TOUCH_CLICKED, 70, "l1", NULL))) {
        uint64_t c[NS];
        rc = eng_touch_status_counts(e, "acme", 5, 0, c, NS);
        if (!rc && (c[ENG_CH_EMAIL * ENG_TOUCH_STATUS_COUNT + ENG_TOUCH_CLICKED] != 1 ||
                    c[ENG_CH_EMAIL * ENG_TOUCH_STATUS_COUNT + ENG_TOUCH_OPENED] != 1))
            rc = ENG_ERROR;
        if (!rc)
            rc = eng_events_compact(e);
    }
    eng_close(e);
    return rc == ENG_ERROR ? -999 : rc;
}

static void oom(void **st)
{
    (void)st;
    test_alloc_reset();
    assert_true(test_oom_loop(whole_flow, NULL) > 50);
    test_alloc_assert_clean();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(store_faults),
        cmocka_unit_test(oom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
