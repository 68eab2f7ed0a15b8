/* A recurring message is executed (ENG_STATE_EXECUTED) only when every occurrence
 * is final, not when its schedule's last one finishes.
 *
 * An hourly message of two occurrences; one customer's email of occurrence 0 is
 * answered "retry" six times, so its backoff (1, 2, 4, 8, 16, 32 minutes) carries
 * it past the second occurrence's due time. Occurrence 1 goes out and
 * finishes while occurrence 0 still waits for that retry: the message stays
 * executing, the retry goes out when due, occurrence 0 finishes, and only then is
 * the message executed. Before the fix the last occurrence's finish marked the
 * message executed at once, eng_run_due() never looked at it again, and occurrence
 * 0 stayed running for ever with a send neither sent nor final (its counters never
 * added up). Found by the file-store soak with recurring messages. */
#include "dispatch_fixture.h"
#include "core/engine_impl.h"
#include "model/model_impl.h"
#include "store/record.h"
#include "store/store_impl.h"

static int message_state(dx *f)
{
    eng_message *m = NULL;
    assert_int_equal(eng_message_get(f->e, "root", f->message, &m), ENG_OK);
    eng_message_status st = ENG_MESSAGE_STATUS_INIT;
    assert_int_equal(eng_message_status_get(m, &st), ENG_OK);
    eng_message_free(m);
    return st.state;
}

static eng_execution_info occurrence(dx *f, uint32_t occ)
{
    eng_execution_info x = ENG_EXECUTION_INFO_INIT;
    assert_int_equal(eng_execution_get(f->e, "root", f->message, occ, &x), ENG_OK);
    return x;
}

static void run_at(dx *f, eng_time now)
{
    eng_run_report rep = ENG_RUN_REPORT_INIT;
    assert_int_equal(eng_run_due(f->e, "root", now, NULL, &rep), ENG_OK);
}

/* The hourly message of two occurrences, approved, with one test-group customer's email
 * (occurrence 0's) answered "retry" six times: its pair (customer x channel). */
static size_t hourly_with_a_retry(dx *f)
{
    eng_message_spec m = dx_message();
    eng_schedule sched = *m.schedule;
    sched.kind = ENG_SCHEDULE_RECURRING;
    sched.every = 1;
    sched.unit = ENG_EVERY_HOURS;
    sched.until = sched.at + ENG_HOUR;
    m.schedule = &sched;
    dx_approve(f, &m);
    size_t tg;
    uint32_t *ids = dx_test_group(f, &tg);
    uint32_t who = UINT32_MAX; /* a test-group customer with an email */
    for (size_t i = 0; i < tg && who == UINT32_MAX; i++)
        if (dx_ext(f, ids[i]) % 5)
            who = ids[i];
    free(ids);
    assert_true(who != UINT32_MAX);
    size_t pair = dx_pair(who, ENG_CH_EMAIL);
    f->prov.fault[pair] = DX_RETRY;
    f->prov.fault_times[pair] = 6;
    return pair;
}

static void executed_when_every_occurrence_is_final(void **state)
{
    (void)state;
    dx f;
    dx_world(&f, 20, 8, 1, 1);
    size_t pair = hourly_with_a_retry(&f);
    const eng_time minute = 60000, at[] = {0, 1, 3, 7, 15, 31};
    for (size_t i = 0; i < sizeof at / sizeof *at; i++)
        run_at(&f, f.t0 + at[i] * minute);
    assert_int_equal(f.prov.calls[pair], 6);
    assert_int_equal(occurrence(&f, 0).state, ENG_EXEC_RUNNING); /* its retry due at 63 minutes */

    run_at(&f, f.t0 + ENG_HOUR); /* occurrence 1: every send accepted at once */
    eng_execution_info x1 = occurrence(&f, 1);
    assert_int_equal(x1.state, ENG_EXEC_FINISHED);
    assert_int_equal(occurrence(&f, 0).state, ENG_EXEC_RUNNING);
    assert_int_equal(message_state(&f), ENG_STATE_EXECUTING);

    run_at(&f, f.t0 + 63 * minute); /* occurrence 0's retry */
    assert_int_equal(f.prov.calls[pair], 8);
    eng_execution_info x0 = occurrence(&f, 0);
    assert_int_equal(x0.state, ENG_EXEC_FINISHED);
    assert_int_equal(x0.accepted + x0.rejected + x0.expired + x0.skipped, x0.sends);
    assert_int_equal(x0.accepted, x0.sends);
    assert_int_equal(x1.accepted, x1.sends);
    assert_int_equal(message_state(&f), ENG_STATE_EXECUTED);
    dx_close(&f);
}

/* The state a version before bd2a903 left: the message's record put executed with its
 * audit entry "finish" in one batch, as the finish of its last occurrence did, while
 * occurrence 0 still waits for its retry; and the engine's metadata record as those
 * versions wrote it (format, created, opens, last opened: nothing said repaired). */
static void write_as_before(dx *f)
{
    eng_engine *e = f->e;
    eng__msg m;
    assert_int_equal(eng__kv_begin(e->store), ENG_OK);
    assert_int_equal(eng__msg_load(e, f->message, &m), ENG_OK);
    assert_int_equal(m.state, ENG_STATE_EXECUTING);
    m.state = ENG_STATE_EXECUTED;
    assert_int_equal(eng__msg_put_audited(e, "acme", "root", &m, "finish"), ENG_OK);
    eng__msg_free(&m);
    eng__wr w;
    eng__wr_init(&w, &e->mem);
    eng__wr_u32(&w, e->meta.format);
    eng__wr_svar(&w, e->meta.created);
    eng__wr_uvar(&w, e->meta.opens);
    eng__wr_svar(&w, e->meta.last_opened);
    assert_int_equal(eng__rec_put_wr(e->store, ENG__K("e/meta"), ENG__REC_META, 1, &w), ENG_OK);
    assert_int_equal(eng__kv_commit(e->store), ENG_OK);
}

/* A store written before bd2a903, opened by this version: the message executed while
 * occurrence 0 still has a send waiting for its retry. eng_run_due() must still send it
 * when due, exactly once (also across another reopen), and finish the occurrence with
 * every send accounted; the message stays executed (a final state). Once nothing is
 * left running the store's metadata says so (a store this version creates says so
 * from the start). */
static void executed_before_the_fix(void **state)
{
    (void)state;
    for (int reopen = 0; reopen < 2; reopen++) {
        dx f;
        dx_world(&f, 20, 8, 1, 1);
        assert_true(f.e->meta.repaired & ENG__REPAIRED_EXECUTED_RUNNING); /* a new store */
        size_t pair = hourly_with_a_retry(&f);
        const eng_time minute = 60000, at[] = {0, 1, 3, 7, 15, 31, 60};
        for (size_t i = 0; i < sizeof at / sizeof *at; i++)
            run_at(&f, f.t0 + at[i] * minute);
        assert_int_equal(occurrence(&f, 1).state, ENG_EXEC_FINISHED);
        assert_int_equal(occurrence(&f, 0).state, ENG_EXEC_RUNNING);
        assert_int_equal(f.prov.calls[pair], 7); /* six retries of occurrence 0, occurrence 1's send */

        write_as_before(&f);
        dx_reopen(&f); /* this version opens the old store */
        assert_int_equal(message_state(&f), ENG_STATE_EXECUTED);
        assert_false(f.e->meta.repaired & ENG__REPAIRED_EXECUTED_RUNNING);
        run_at(&f, f.t0 + 62 * minute); /* the retry not yet due */
        assert_int_equal(f.prov.calls[pair], 7);
        assert_int_equal(occurrence(&f, 0).state, ENG_EXEC_RUNNING);
        assert_false(f.e->meta.repaired & ENG__REPAIRED_EXECUTED_RUNNING);
        if (reopen)
            dx_reopen(&f);
        run_at(&f, f.t0 + 63 * minute);
        assert_int_equal(f.prov.calls[pair], 8);
        eng_execution_info x0 = occurrence(&f, 0);
        assert_int_equal(x0.state, ENG_EXEC_FINISHED);
        assert_int_equal(x0.accepted, x0.sends);
        assert_int_equal(x0.accepted + x0.rejected + x0.expired + x0.skipped, x0.sends);
        assert_int_equal(message_state(&f), ENG_STATE_EXECUTED);
        /* nothing sent again, later or after a reopen; the next run finds nothing left
         * running and the store says so */
        unsigned envelopes = f.prov.envelopes;
        run_at(&f, f.t0 + 3 * ENG_HOUR);
        assert_true(f.e->meta.repaired & ENG__REPAIRED_EXECUTED_RUNNING);
        dx_reopen(&f);
        assert_true(f.e->meta.repaired & ENG__REPAIRED_EXECUTED_RUNNING);
        run_at(&f, f.t0 + 4 * ENG_HOUR);
        assert_int_equal(f.prov.envelopes, envelopes);
        /* every pair sent once an occurrence (the provider keeps calls by pair, both
         * occurrences' keys alike); the retried one six times more */
        unsigned pairs = 0;
        for (size_t i = 0; i < f.n * DX_CH; i++) {
            if (i != pair && f.prov.calls[i])
                assert_int_equal(f.prov.calls[i], 2);
            pairs += f.prov.calls[i] != 0;
        }
        assert_int_equal(x0.accepted, pairs);
        assert_int_equal(occurrence(&f, 1).accepted, pairs);
        assert_int_equal(envelopes, 2 * pairs + 6);
        uint64_t bad = 1;
        assert_int_equal(eng_audit_verify(f.e, "root", &bad), ENG_OK);
        dx_close(&f);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(executed_when_every_occurrence_is_final),
        cmocka_unit_test(executed_before_the_fix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
