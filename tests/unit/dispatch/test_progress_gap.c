/* Progress at every stretch of work (engage/engine.h, "Progress"; issue 16).
 *
 * gap_does_not_grow: the work done between two progress reports, counted in
 * units of work (rows decoded, replayed, rewritten, scanned or attributed:
 * eng__work_units, counted where the rows are handled, apart from the progress
 * calls), on one world and on one four times larger. With the clock knob at
 * 1 ns every clock reading reports, so a loop that steps per row reports every
 * 64 rows, one that steps per chunk at every chunk, and one that never steps
 * shows as a stretch that grows with the data. Each operation's largest
 * stretch must stay within a bound that does not depend on the data's size.
 *
 * The operations (pg_ops) include a customer import, a group upload, a
 * transaction import, an approval (the freeze of its audience) and a whole
 * execution run by eng_run_due.
 *
 * cancel_at_every_report: each operation cancelled at each of its reports in
 * turn (nested operations' too) gives ENG_ECANCELLED and the store byte for
 * byte as before; the execution (engage/engine.h: "dispatch.run" keeps the
 * batches already sent) leaves the store as it was at its first report, and
 * resumed after every cancel it reaches each (customer, channel) once: one
 * more provider call per pair at most, as many as it counts accepted.
 * No timings here: bench_progress measures milliseconds. */
#include "progress_gap.h"
#include "../model/store_digest.h"

extern uint64_t eng__prog_every_ns;
extern size_t eng__attr_beat_rows;
extern uint32_t eng__seg_seal_rows, eng__aud_part_rows, eng__aud_rewrite_rows;
extern size_t eng__filter_slice_rows, eng__chist_part_changes;

/* Chunks far smaller than the worlds, so that work done chunk by chunk shows
 * as bounded stretches and work done in one piece as a growing one. */
static void small_chunks(int on)
{
    eng__prog_every_ns = on ? 1 : 50000000ull;
    eng__attr_beat_rows = on ? 64 : 65536;
    eng__seg_seal_rows = on ? 128 : 65536;
    eng__aud_part_rows = on ? 64 : 8192;
    eng__aud_rewrite_rows = on ? 64 : 65536;
    eng__filter_slice_rows = on ? 64 : (size_t)1 << 16;
    eng__chist_part_changes = on ? 64 : 65536;
}

static uint64_t work_meter(void)
{
    return eng__work_units;
}

#define SMALL 300
#define LARGE (4 * SMALL)

static void gaps(size_t n, uint64_t *out, uint64_t *reports)
{
    dx f;
    pg_world(&f, n, 64);
    for (size_t i = 0; i < PG_NOPS; i++) {
        if (pg_ops[i].prep)
            assert_int_equal(pg_ops[i].prep(&f), ENG_OK);
        int rc = pg_measure(&f, pg_ops[i].run, work_meter);
        if (rc)
            fail_msg("%s: %s", pg_ops[i].name, eng_error_last()->message);
        out[i] = pg.max;
        reports[i] = pg.reports;
        printf("%zu customers: %-38s %6llu reports, largest stretch %6llu units (%s -> %s)\n", n, pg_ops[i].name,
               (unsigned long long)pg.reports, (unsigned long long)pg.max, pg.max_from, pg.max_to);
    }
    pg_close(&f);
}

static void gap_does_not_grow(void **state)
{
    (void)state;
    small_chunks(1);
    uint64_t small[PG_NOPS], large[PG_NOPS], rs[PG_NOPS], rl[PG_NOPS];
    gaps(SMALL, small, rs);
    gaps(LARGE, large, rl);
    for (size_t i = 0; i < PG_NOPS; i++) {
        assert_true(rl[i] >= 2); /* a first and a last report at least */
        /* Four times the data: more reports, not longer stretches. A stretch
         * may hold a fixed amount of work (one row's fan-out, 64 rows between
         * clock readings, a record); 256 units covers that and stays far below
         * the smallest world's thousands of rows. */
        if (large[i] > 256 && large[i] > small[i] + small[i] / 2)
            fail_msg("%s: %llu units between reports at %d customers, %llu at %d: the stretch grows with the data",
                     pg_ops[i].name, (unsigned long long)large[i], LARGE, (unsigned long long)small[i], SMALL);
    }
    small_chunks(0);
}

/* Provider calls per (customer, channel) pair so far; free() the result. */
static unsigned *calls_now(const dx *f)
{
    unsigned *c = malloc(f->n * DX_CH * sizeof *c);
    if (!c)
        abort();
    memcpy(c, f->prov.calls, f->n * DX_CH * sizeof *c);
    return c;
}

/* The execution resumed after each cancel: no pair sent twice, every call counted. */
static void check_resumed(const dx *f, const unsigned *before)
{
    uint64_t more = 0;
    for (size_t i = 0; i < f->n * DX_CH; i++) {
        assert_true(f->prov.calls[i] - before[i] <= 1);
        more += f->prov.calls[i] - before[i];
    }
    eng_execution_info x = {.version = ENG_EXECUTION_INFO_VERSION};
    assert_int_equal(eng_execution_get(f->e, "root", pgi.second, 0, &x), ENG_OK);
    assert_int_equal(x.state, ENG_EXEC_FINISHED);
    assert_true(x.accepted > 0);
    assert_int_equal(x.accepted, more);
}

static void cancel_at_every_report(void **state)
{
    (void)state;
    small_chunks(1);
    dx f;
    pg_world(&f, SMALL, 64);
    uint8_t before[ENG__SHA256_LEN], after[ENG__SHA256_LEN];
    for (size_t i = 0; i < PG_NOPS; i++) {
        if (pg_ops[i].prep)
            assert_int_equal(pg_ops[i].prep(&f), ENG_OK);
        unsigned *calls = pg_ops[i].keeps ? calls_now(&f) : NULL;
        uint64_t at = 1;
        for (;; at++) {
            /* the store before the first cancel: each later one starts from it too (checked below) */
            int check = !pg_ops[i].keeps || at == 1;
            if (at == 1)
                store_digest(f.e, before);
            pg.cancel_at = at;
            int rc = pg_measure(&f, pg_ops[i].run, work_meter);
            pg.cancel_at = 0;
            if (pg.reports < at) { /* it finished before the at-th report */
                if (rc)
                    fail_msg("%s: %s", pg_ops[i].name, eng_error_last()->message);
                break;
            }
            if (rc != ENG_ECANCELLED)
                fail_msg("%s cancelled at report %llu gave %d (%s)", pg_ops[i].name, (unsigned long long)at, rc,
                         eng_error_last()->message);
            if (!check)
                continue;
            store_digest(f.e, after);
            if (memcmp(before, after, sizeof before) != 0)
                fail_msg("%s cancelled at report %llu changed the store", pg_ops[i].name, (unsigned long long)at);
        }
        if (calls)
            check_resumed(&f, calls);
        free(calls);
        printf("%-38s cancelled at each of its %llu reports: %s\n", pg_ops[i].name, (unsigned long long)(at - 1),
               pg_ops[i].keeps ? "resumed" : "store unchanged");
    }
    pg_close(&f);
    small_chunks(0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gap_does_not_grow),
        cmocka_unit_test(cancel_at_every_report),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
