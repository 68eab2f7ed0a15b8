/* The touch pass and the walk over several threads (eng__measure_columns with
 * threads > 0) leave the run exactly as one thread does: on a generated log, with and
 * without the events layer's flags, every model, three starting statuses and
 * the hit-rate definition, the reports of 2, 4 and 8 parts export byte for byte
 * as the one-thread report (itself held to the references in
 * measure_reference). A bad row gives the error one thread gives: that of the
 * earliest bad row, whichever part it falls in. The parts allocate through the
 * engine's allocator (the counting one of the tests: nothing leaks); an engine
 * with eng_config.threads = 0 starts none. */
#include "measure_fixture.h"
#include "measure/measure_impl.h"

#define T0 ((eng_time)1767225600000)
#define NCUST 3000
#define NMSG 4
static const uint32_t msgs[NMSG] = {11, 2, 5, 9};
static const int64_t cost[ENG_MAX_CHANNELS] = {17, 3, 1, 86, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5};
static uint32_t ctl[NCUST];
static size_t nctl;

/* Touches in a shuffled customer order, message by message and status by status (as
 * a send writes them: some failed, some unsubscribed), some customers on two channels
 * of one message, every eighth customer in the control group; with @p dups,
 * repeated and late rows too. Message 11 (the first) is another campaign's. */
static void generate(mx *m, int dups)
{
    uint64_t rs = 0x5eed;
    m->nt = m->nx = 0;
    nctl = 0;
    for (uint32_t c = 0; c < NCUST; c++)
        if (c % 8 == 7)
            ctl[nctl++] = c;
    for (int k = 0; k < NMSG; k++)
        for (int st = ENG_TOUCH_SENT; st <= ENG_TOUCH_CLICKED; st++)
            for (uint32_t j = 0; j < NCUST; j++) {
                uint32_t c = (uint32_t)(((uint64_t)j * 1543 + (uint64_t)k * 71) % NCUST);
                uint64_t u = test_splitmix(&(uint64_t){(uint64_t)c * 16 + (uint64_t)k});
                if (c % 8 == 7 || u % 5 == 0 || (st >= ENG_TOUCH_OPENED && (u >> 8) % 3 == 0) ||
                    (st == ENG_TOUCH_CLICKED && (u >> 12) % 2))
                    continue;
                int chans = (u >> 20) % 6 == 0 ? 2 : 1;
                int status = st == ENG_TOUCH_DELIVERED && (u >> 16) % 7 == 0 ? ENG_TOUCH_FAILED
                             : st == ENG_TOUCH_CLICKED && (u >> 18) % 5 == 0 ? ENG_TOUCH_UNSUBSCRIBED : st;
                for (int h = 0; h < chans; h++) {
                    int ch = (int)(((u >> 24) + (uint64_t)h) % 4);
                    eng_time t = T0 + (eng_time)k * 3 * ENG_DAY + (eng_time)st * ENG_HOUR + (eng_time)(u >> 40) % ENG_DAY;
                    mx_touch(m, c, msgs[k], ch, status, t);
                    if (dups && test_splitmix(&rs) % 9 == 0) /* a repeat, sometimes later */
                        mx_touch(m, c, msgs[k], ch, status, t + (eng_time)(test_splitmix(&rs) % 3) * ENG_DAY);
                }
            }
    for (uint32_t j = 0; j < 2 * NCUST; j++) {
        uint64_t u = test_splitmix(&rs);
        mx_txn(m, (uint32_t)(u % NCUST), T0 + (eng_time)((u >> 20) % (16 * 24)) * ENG_HOUR,
               (int64_t)((u >> 32) % 900000), (uint32_t)((u >> 52) % 8));
    }
    mx_columns(m);
}

static eng_engine *sys_engine(void)
{
    eng_config cfg;
    assert_int_equal(eng_config_init(&cfg, ENG_CONFIG_VERSION), ENG_OK);
    cfg.threads = 7;
    eng_engine *e = NULL;
    assert_int_equal(eng_open(&cfg, &e), ENG_OK);
    return e;
}

static char *json_of(eng_engine *e, const mx *m, const eng_measure_spec *s, const uint8_t *trust, unsigned threads)
{
    eng_report *r = NULL;
    int rc = eng__measure_columns(e, &m->tc, NULL, &m->xc, s, 0, 0, 1, trust, threads, &r);
    if (rc)
        fprintf(stderr, "%s: %s\n", eng_error_last()->detail, eng_error_last()->message);
    assert_int_equal(rc, ENG_OK);
    char *j = NULL;
    assert_int_equal(eng_report_export(r, ENG_REPORT_JSON, &j, NULL), ENG_OK);
    eng_report_free(r);
    return j;
}

static void spec_of(eng_measure_spec *s, eng_goal_spec *g)
{
    assert_int_equal(eng_measure_spec_init(s, ENG_MEASURE_SPEC_VERSION), ENG_OK);
    s->n_customers = NCUST;
    s->messages = msgs + 1;
    s->n_messages = NMSG - 1; /* message 11 is not this campaign's */
    s->start = T0;
    s->end = T0 + 12 * ENG_DAY;
    s->control = ctl;
    s->n_control = nctl;
    s->channel_cost = cost;
    s->has_goal = 1;
    *g = (eng_goal_spec){ENG_GOAL_SPEC_VERSION, "transaction", "amount > 3000 and store in (\"S1\", \"S2\", \"S5\")",
                         4, ENG_GOAL_ON_DELIVERED, ENG_ATTR_LAST_TOUCH};
    s->goal = g;
}

/* The set-up of every test: an engine, a world generated (with repeats when @p dups) and
 * the spec over it, parts as small as 64 rows. */
static mx *split_setup(eng_engine **e, eng_engine *(*open)(void), eng_measure_spec *s, eng_goal_spec *g, int dups)
{
    *e = open();
    mx *m = mx_new();
    eng__attr_split_min_rows = 64;
    generate(m, dups);
    spec_of(s, g);
    return m;
}

static void test_parts_equal_one_thread(void **state)
{
    (void)state;
    eng_engine *e;
    eng_measure_spec s;
    eng_goal_spec g;
    mx *m = split_setup(&e, sys_engine, &s, &g, 0);
    static const uint8_t trusted[NMSG] = {1, 1, 1, 1};
    size_t compared = 0;
    const uint64_t before[2] = {eng__attr_split_runs[0], eng__attr_split_runs[1]};
    for (int dups = 0; dups < 2; dups++) {
        if (dups) {
            generate(m, dups);
            spec_of(&s, &g);
        }
        const uint8_t *trust = dups ? NULL : trusted; /* the flags hold only on the log without repeats */
        for (int tiny = 0; tiny < 2; tiny++) {
            eng__attr_part_rows = tiny ? 777 : (size_t)1 << 22;
            eng__attr_part_min_shift = tiny ? 2 : 17;
            eng__kept_digit_max = tiny ? 2 : 11; /* 4 buckets of kept touches: parts without any */
            for (int a = ENG_ATTR_LAST_TOUCH; a <= ENG_ATTR_POSITION + 1; a++)
                for (int st = ENG_GOAL_ON_SENT; st <= ENG_GOAL_ON_CLICKED; st++) {
                    s.has_goal = a <= ENG_ATTR_POSITION; /* the last round: the seed's hit rate */
                    g.attribution = s.has_goal ? a : ENG_ATTR_LAST_TOUCH;
                    g.start_on = st;
                    char *one = json_of(e, m, &s, trust, 0);
                    for (unsigned th = 1; th < 8; th += th) {
                        char *many = json_of(e, m, &s, trust, th);
                        assert_string_equal(one, many);
                        eng_free(e, many);
                        compared++;
                    }
                    eng_free(e, one);
                }
        }
    }
    assert_int_equal(compared, 2 * 2 * 6 * 4 * 3);
    assert_true(eng__attr_split_runs[0] >= before[0] + compared); /* the threads did run */
    assert_true(eng__attr_split_runs[1] >= before[1] + compared / 2);
    eng__attr_part_rows = (size_t)1 << 22;
    eng__attr_part_min_shift = 17;
    eng__kept_digit_max = 11;
    eng__attr_split_min_rows = (size_t)1 << 16;
    free(m);
    assert_int_equal(eng_close(e), ENG_OK);
}

/* The error and its record, as text. */
static void failure(eng_engine *e, const mx *m, const eng_measure_spec *s, unsigned threads, char *buf, size_t cap)
{
    eng_report *r = NULL;
    int rc = eng__measure_columns(e, &m->tc, NULL, &m->xc, s, 0, 0, 1, NULL, threads, &r);
    assert_int_not_equal(rc, ENG_OK);
    assert_null(r);
    snprintf(buf, cap, "%d|%s|%s", rc, eng_error_last()->detail, eng_error_last()->message);
}

static void test_bad_rows(void **state)
{
    (void)state;
    eng_engine *e;
    eng_measure_spec s;
    eng_goal_spec g;
    mx *m = split_setup(&e, sys_engine, &s, &g, 1);
    size_t n = m->nt, bad[3] = {n - 5, n / 2 + 3, n / 9}; /* the last part, then earlier ones too */
    const char *field[3] = {"touches.customer", "touches.status", "touches.channel"};
    for (int k = 0; k < 3; k++) {
        size_t i = bad[k];
        while (m->tmsg[i] == msgs[0]) /* a row of this campaign (another's is skipped unread) */
            i++;
        if (k == 0)
            m->tcust[i] = NCUST;
        else if (k == 1)
            m->tst[i] = ENG_TOUCH_STATUS_COUNT;
        else
            m->tch[i] = ENG_MAX_CHANNELS;
        char one[512], many[512], row[32];
        failure(e, m, &s, 0, one, sizeof one);
        snprintf(row, sizeof row, "row %zu:", i);
        assert_non_null(strstr(one, row));
        assert_non_null(strstr(one, field[k]));
        for (unsigned th = 1; th < 8; th += th) {
            failure(e, m, &s, th, many, sizeof many);
            assert_string_equal(one, many);
        }
    }
    eng__attr_split_min_rows = (size_t)1 << 16;
    free(m);
    assert_int_equal(eng_close(e), ENG_OK);
}

/* The tests' counting allocator across threads (eng_config.threads 1 by default), then
 * an engine that may start none. */
static void test_allocator_and_no_threads(void **state)
{
    (void)state;
    eng_engine *e;
    eng_measure_spec s;
    eng_goal_spec g;
    mx *m = split_setup(&e, mx_engine, &s, &g, 1);
    uint64_t before = eng__attr_split_runs[0];
    char *one = json_of(e, m, &s, NULL, 0), *two = json_of(e, m, &s, NULL, 3);
    assert_string_equal(one, two);
    assert_int_equal(eng__attr_split_runs[0], before + 1); /* capped at the engine's one thread */
    eng_free(e, one);
    eng_free(e, two);
    assert_int_equal(eng_close(e), ENG_OK);
    test_alloc_assert_clean();

    eng_config cfg;
    assert_int_equal(eng_config_init(&cfg, ENG_CONFIG_VERSION), ENG_OK);
    cfg.threads = 0;
    assert_int_equal(eng_open(&cfg, &e), ENG_OK);
    before = eng__attr_split_runs[0] + eng__attr_split_runs[1];
    one = json_of(e, m, &s, NULL, 0);
    two = json_of(e, m, &s, NULL, 7);
    assert_string_equal(one, two);
    assert_int_equal(eng__attr_split_runs[0] + eng__attr_split_runs[1], before);
    eng_free(e, one);
    eng_free(e, two);
    eng__attr_split_min_rows = (size_t)1 << 16;
    free(m);
    assert_int_equal(eng_close(e), ENG_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parts_equal_one_thread),
        cmocka_unit_test(test_bad_rows),
        cmocka_unit_test(test_allocator_and_no_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
