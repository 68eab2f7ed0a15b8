/* Receipts before their send, many of them (src/events/pending.c): 100,000
 * waiting receipts join their sends in shuffled order with reopens in
 * between; the work (index probes, receipts rewritten in storage) stays
 * linear, counted by eng__work_units, and every status and the pending count
 * match a plain model. Storage failures at every call of a send batch that
 * joins receipts of several chunks leave the store as it was; a record of
 * the first format (the whole list in one record) is read and replaced. */
#include "ev_fixture.h"
#include "../model/store_digest.h"
#include "fault_sweep.h"
#include "base/codec.h"
#include "core/engine_impl.h"
#include "events/ev_state.h"
#include "store/record.h"

#define NS (ENG_CH_COUNT * ENG_TOUCH_STATUS_COUNT)
#define NCUST 500u
#define NCAMP 200u /* campaigns 1..NCAMP; NCAMP + 1 is never sent */

static uint64_t rng = 7;
static uint64_t rnd(void)
{
    return test_splitmix(&rng);
}

typedef struct rc_row {
    uint32_t campaign, customer;
    int status;
} rc_row;

/* Append receipts rows[0..n) in batches of 65,536. */
static void append(evfx *f, const rc_row *rows, size_t n, uint64_t *unmatched)
{
    const size_t B = 65536;
    const char **keys = calloc(B, sizeof *keys);
    char (*kb)[64] = calloc(B, 64);
    int *st = calloc(B, sizeof *st);
    eng_time *ts = calloc(B, sizeof *ts);
    for (size_t at = 0; at < n; at += B) {
        size_t m = n - at < B ? n - at : B;
        for (size_t i = 0; i < m; i++) {
            evfx_key(kb[i], 64, rows[at + i].campaign, 0, rows[at + i].customer, ENG_CH_EMAIL);
            keys[i] = kb[i];
            st[i] = rows[at + i].status;
            ts[i] = 100000 + (eng_time)(at + i);
        }
        eng_receipts r = evfx_receipts(m, keys, st, ts, NULL);
        eng_event_report rep = ENG_EVENT_REPORT_INIT;
        assert_int_equal(eng_touch_append(f->e, &r, &rep), ENG_OK);
        *unmatched += rep.unmatched;
    }
    free(keys);
    free(kb);
    free(st);
    free(ts);
}

static void check_campaign(evfx *f, uint32_t c, const uint8_t *want /* [NCUST], 0xff: not sent */)
{
    uint64_t exp[NS] = {0}, got[NS];
    for (uint32_t u = 0; u < NCUST; u++)
        if (want[u] != 0xff)
            exp[ENG_CH_EMAIL * ENG_TOUCH_STATUS_COUNT + want[u]]++;
    assert_int_equal(eng_touch_status_counts(f->e, "acme", c, 0, got, NS), ENG_OK);
    assert_memory_equal(exp, got, sizeof exp);
}

static int rank(int s)
{
    return eng__touch_rank(s);
}

static void many(void **st)
{
    (void)st;
    evfx f;
    evfx_open(&f, NCUST);
    /* 200 campaigns; 60 under valgrind/tsan (still past a reopen between sends) */
    const uint32_t ncamp = test_slow_runtime() ? 60 : NCAMP;
    /* every send of campaigns 1..ncamp gets delivered, a third also opened,
     * and NCUST receipts of a campaign never sent: shuffled */
    size_t n = 0, cap = (size_t)(ncamp + 1) * NCUST * 2;
    rc_row *rows = malloc(cap * sizeof *rows);
    uint8_t *want = malloc((size_t)(ncamp + 1) * NCUST); /* furthest status once sent */
    for (uint32_t c = 1; c <= ncamp + 1; c++)
        for (uint32_t u = 0; u < NCUST; u++) {
            rows[n++] = (rc_row){c, u, ENG_TOUCH_DELIVERED};
            want[(size_t)(c - 1) * NCUST + u] = ENG_TOUCH_DELIVERED;
            if (rnd() % 3 == 0) {
                rows[n++] = (rc_row){c, u, rnd() % 2 ? ENG_TOUCH_OPENED : ENG_TOUCH_FAILED};
                if (rank(rows[n - 1].status) > rank(ENG_TOUCH_DELIVERED))
                    want[(size_t)(c - 1) * NCUST + u] = (uint8_t)rows[n - 1].status;
            }
        }
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = rnd() % (i + 1);
        rc_row t = rows[i];
        rows[i] = rows[j];
        rows[j] = t;
    }
    uint64_t work = eng__work_units, unmatched = 0;
    append(&f, rows, n, &unmatched);
    append(&f, rows, n / 4, &unmatched); /* repeats: duplicates, not new pending receipts */
    assert_int_equal(unmatched, n);
    uint64_t np, left = n;
    assert_int_equal(eng_touch_pending(f.e, &np), ENG_OK);
    assert_int_equal(np, left);
    evfx_reopen(&f);
    assert_int_equal(eng_touch_pending(f.e, &np), ENG_OK);
    assert_int_equal(np, left);

    uint32_t order[NCAMP];
    for (uint32_t c = 0; c < ncamp; c++)
        order[c] = c + 1;
    for (uint32_t i = ncamp - 1; i > 0; i--) {
        uint32_t j = (uint32_t)(rnd() % (i + 1)), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (uint32_t i = 0; i < ncamp; i++) {
        uint32_t c = order[i];
        eng__sent_result res;
        assert_int_equal(evfx_send_rc(&f, "acme", c, 0, NCUST, ENG_CH_EMAIL, 10, &res), ENG_OK);
        assert_int_equal(res.accepted, NCUST);
        uint64_t joins = 0;
        for (size_t k = 0; k < n; k++)
            joins += rows[k].campaign == c;
        assert_int_equal(res.joined, joins);
        left -= joins;
        if (i % 60 == 59) {
            evfx_reopen(&f);
            assert_int_equal(eng_touch_pending(f.e, &np), ENG_OK);
            assert_int_equal(np, left);
        }
    }
    /* linear: a few units a receipt and a send (a scan of the list per send
     * would be n * ncamp * NCUST / 2, ~10^10) */
    uint64_t spent = eng__work_units - work;
    print_message("pending work: %llu units for %zu receipts\n", (unsigned long long)spent, n);
    assert_true(spent < 100 * (uint64_t)(n + ncamp * NCUST));
    assert_int_equal(eng_touch_pending(f.e, &np), ENG_OK);
    assert_int_equal(np, left);
    uint64_t never = 0;
    for (size_t k = 0; k < n; k++)
        never += rows[k].campaign == ncamp + 1;
    assert_int_equal(left, never);
    for (uint32_t c = 1; c <= ncamp; c += 7)
        check_campaign(&f, c, want + (size_t)(c - 1) * NCUST);
    evfx_reopen(&f);
    assert_int_equal(eng_touch_pending(f.e, &np), ENG_OK);
    assert_int_equal(np, left);
    for (uint32_t c = 2; c <= ncamp; c += 11)
        check_campaign(&f, c, want + (size_t)(c - 1) * NCUST);
    free(rows);
    free(want);
    evfx_close(&f);
}

/* ---- storage failures ---- */

typedef struct snap {
    uint64_t counts[NS];
    uint64_t pending;
} snap;

static void take(evfx *f, snap *s)
{
    memset(s, 0, sizeof *s);
    assert_int_equal(eng_touch_status_counts(f->e, "acme", 6, 0, s->counts, NS), ENG_OK);
    assert_int_equal(eng_touch_pending(f->e, &s->pending), ENG_OK);
}

/* 150 receipts waiting (several chunks), then the op sends 60 of them. */
static void fsetup(evfx *f)
{
    evfx_open(f, 150);
    rc_row rows[150];
    for (uint32_t u = 0; u < 150; u++)
        rows[u] = (rc_row){6, (u * 37) % 150, u % 5 ? ENG_TOUCH_DELIVERED : ENG_TOUCH_CLICKED};
    uint64_t un = 0;
    append(f, rows, 150, &un);
    assert_int_equal(un, 150);
}

static int send_op(void *f)
{
    return evfx_send_rc(f, "acme", 6, 40, 100, ENG_CH_EMAIL, 3000, NULL);
}

static void store_faults(void **st)
{
    (void)st;
    evfx f;
    fsetup(&f);
    snap before, after, now;
    take(&f, &before);
    assert_int_equal(send_op(&f), ENG_OK);
    take(&f, &after);
    assert_int_equal(after.pending, 90);
    evfx_close(&f);
    for (int mode = 0; mode < 2; mode++)
        for (uint64_t nth = 1;; nth++) {
            fsetup(&f);
            if (!fault_nth(f.ts, f.e, mode ? TV_COMMIT : TV_ALL, nth, mode ? TF_COMMITTED_ERROR : TF_ERROR, send_op,
                           &f)) {
                evfx_close(&f);
                break;
            }
            take(&f, &now);
            assert_memory_equal(&now, mode ? &after : &before, sizeof now);
            evfx_reopen(&f);
            take(&f, &now);
            assert_memory_equal(&now, mode ? &after : &before, sizeof now);
            /* and the rest still joins */
            assert_int_equal(evfx_send_rc(&f, "acme", 6, 0, 150, ENG_CH_EMAIL, 3000, NULL), ENG_OK);
            take(&f, &now);
            assert_int_equal(now.pending, 0);
            evfx_close(&f);
        }
}

/* ---- the first format ---- */

static void legacy(void **st)
{
    (void)st;
    evfx f;
    evfx_open(&f, 10);
    /* what the library wrote before chunks: e/p/<seq:016x>, schema 1, the whole list */
    eng__wr w;
    eng__wr_init(&w, &f.e->mem);
    eng__wr_uvar(&w, 3);
    for (uint32_t u = 0; u < 3; u++) {
        char k[64];
        evfx_key(k, sizeof k, 8, 0, u, ENG_CH_EMAIL);
        eng__wr_u64(&w, eng__ev_keyhash(k, strlen(k)));
        eng__wr_svar(&w, 500 + u);
        eng__wr_u8(&w, u == 1 ? ENG_TOUCH_OPENED : ENG_TOUCH_DELIVERED);
        eng__wr_str(&w, NULL);
        eng__wr_str(&w, k);
    }
    static const char lk[] = "e/p/0000000000000007";
    assert_int_equal(eng__enter(f.e), ENG_OK);
    assert_int_equal(eng__kv_begin(f.e->store), ENG_OK);
    assert_int_equal(eng__rec_put_wr(f.e->store, ENG__K(lk), ENG__REC_EV_PENDING, 1, &w), ENG_OK);
    assert_int_equal(eng__kv_commit(f.e->store), ENG_OK);
    eng__leave(f.e);
    evfx_reopen(&f);
    uint64_t np, c[NS];
    assert_int_equal(eng_touch_pending(f.e, &np), ENG_OK);
    assert_int_equal(np, 3);
    eng__sent_result res;
    assert_int_equal(evfx_send_rc(&f, "acme", 8, 0, 2, ENG_CH_EMAIL, 10, &res), ENG_OK);
    assert_int_equal(res.joined, 2);
    uint8_t *v;
    size_t len;
    assert_int_not_equal(test_store_raw_get(f.ts, lk, &v, &len), 0); /* replaced by chunks */
    evfx_reopen(&f);
    assert_int_equal(eng_touch_pending(f.e, &np), ENG_OK);
    assert_int_equal(np, 1);
    assert_int_equal(eng_touch_status_counts(f.e, "acme", 8, 0, c, NS), ENG_OK);
    assert_int_equal(c[ENG_CH_EMAIL * ENG_TOUCH_STATUS_COUNT + ENG_TOUCH_DELIVERED], 1);
    assert_int_equal(c[ENG_CH_EMAIL * ENG_TOUCH_STATUS_COUNT + ENG_TOUCH_OPENED], 1);
    assert_int_equal(evfx_send_rc(&f, "acme", 8, 2, 3, ENG_CH_EMAIL, 10, &res), ENG_OK);
    assert_int_equal(res.joined, 1);
    evfx_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(many),
        cmocka_unit_test(store_faults),
        cmocka_unit_test(legacy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
