/* X-Engage's credit cap through the engine (eng_xengage_options.credit_cap): the credits charged for
 * an execution's sends never pass the cap, across batches decided at different times, retries and
 * answers lost (crashes: dispatch_exactly_once); the cap is spent through the whole audience, not
 * on its first customers; a cap that does not bind changes no choice; a bad cap is refused. */
#include "dispatch_fixture.h"

#include <math.h>
#include <string.h>

#define N 600

/* multi_part_sms: long first names make the SMS 1 to 3 parts (set after the world is built); run() then
 * adds up what the provider received, each SMS priced at its parts counted here from its body. */
static int long_names;
static int64_t ref_charged;
static size_t multi_part_sends;

/* GSM-7 parts of an ASCII body, counted here (the reference): 160 characters in one part, 153 a part
 * beyond; the characters of the GSM extension table take two. */
static uint32_t parts_of(const char *b)
{
    size_t septets = 0;
    for (; *b; b++)
        septets += strchr("^{}\\[~]|", *b) ? 2 : 1;
    return septets <= 160 ? 1 : (uint32_t)((septets + 152) / 153);
}

static void set_long_names(dx *f)
{
    static char csv[N * 400 + 64];
    size_t at = (size_t)snprintf(csv, sizeof csv, "id,first_name\n");
    for (size_t i = 0; i < N; i++) {
        size_t len = 1 + i * 61 % 330; /* 1 to 330 letters: one, two or three parts */
        at += (size_t)snprintf(csv + at, sizeof csv - at, "c%zu,", i);
        for (size_t j = 0; j < len; j++)
            csv[at++] = (char)('a' + (i + j) % 26);
        csv[at++] = '\n';
    }
    assert_int_equal(eng_customers_import_csv_buffer(f->e, "root", csv, at, NULL, NULL), ENG_OK);
}

static int64_t balance(dx *f)
{
    int64_t b = 0;
    assert_int_equal(eng_credits_balance(f->e, "root", ENG_CREDITS_CAMPAIGN, &b), ENG_OK);
    return b;
}

/* One X-Engage execution with @p cap (0: none), batches of 50, one batch an hour (X-Engage learns at
 * each); every 7th pair answers "retry" twice, every 11th loses its answer once. Returns the credits
 * charged; @p sent gets each customer's channel (-1 none). */
static int64_t run(int64_t cap, int faults, int *sent, uint32_t **test, size_t *ntest)
{
    eng_xengage_options o = ENG_XENGAGE_OPTIONS_INIT;
    o.credit_cap = cap;
    dx f;
    dx_world(&f, N, 50, 1, 1);
    if (long_names)
        set_long_names(&f);
    dx_xe_options = cap ? &o : NULL;
    dx_xengage(&f);
    dx_xe_options = NULL;
    for (size_t i = 0; faults && i < N * DX_CH; i++)
        if (i % 7 == 0 || i % 11 == 0) {
            f.prov.fault[i] = i % 7 == 0 ? DX_RETRY : DX_UNKNOWN;
            f.prov.fault_times[i] = i % 7 == 0 ? 2 : 1;
        }
    int64_t before = balance(&f);
    eng_time now = f.t0;
    for (int b = 0; b < 8; b++, now += ENG_HOUR) {
        eng_run_options ro = ENG_RUN_OPTIONS_INIT;
        ro.max_batches = 1;
        eng_run_report rep = ENG_RUN_REPORT_INIT;
        assert_int_equal(eng_run_due(f.e, "root", now, &ro, &rep), ENG_OK);
    }
    dx_run_all(&f, now, NULL);
    int64_t charged = before - balance(&f);
    ref_charged = 0;
    multi_part_sends = 0;
    for (size_t c = 0; c < N; c++) {
        sent[c] = -1;
        for (int ch = 0; ch < DX_CH; ch++)
            if (f.prov.delivered[dx_pair((uint32_t)c, ch)]) {
                assert_int_equal(sent[c], -1);
                sent[c] = ch;
                uint32_t parts = ch == ENG_CH_SMS ? parts_of(f.prov.body[dx_pair((uint32_t)c, ch)]) : 1;
                assert_int_equal(f.prov.segments[dx_pair((uint32_t)c, ch)], parts);
                ref_charged += (ch == ENG_CH_SMS ? 3 : 1) * (int64_t)parts;
                multi_part_sends += parts > 1;
            }
    }
    if (long_names && !cap) { /* the trace replays each decision with the parts it was made with */
        size_t nt;
        uint32_t *t = dx_test_group(&f, &nt);
        for (size_t i = 0; i < nt; i++) {
            eng_trace tr;
            assert_int_equal(eng_trace_init(&tr, ENG_TRACE_VERSION), ENG_OK);
            assert_int_equal(eng_trace_get(f.e, "root", f.message, 0, t[i], &tr), ENG_OK);
            if (tr.rule != ENG_RULE_XENGAGE)
                continue;
            assert_int_equal(tr.xe_channel, sent[t[i]]);
            if (sent[t[i]] == ENG_CH_SMS)
                assert_true(tr.xe_cost[ENG_CH_SMS] == 3.0 * parts_of(f.prov.body[dx_pair(t[i], ENG_CH_SMS)]));
        }
        free(t);
    }
    if (test)
        *test = dx_test_group(&f, ntest);
    dx_close(&f);
    return charged;
}

static void cap_holds_across_batches_and_retries(void **state)
{
    (void)state;
    int *a = malloc(N * sizeof *a), *b = malloc(N * sizeof *b);
    int64_t full = run(0, 1, a, NULL, NULL);
    assert_true(full > 0);
    /* A cap that does not bind changes nothing. */
    assert_int_equal(run(10 * full, 1, b, NULL, NULL), full);
    for (size_t c = 0; c < N; c++)
        assert_int_equal(a[c], b[c]);
    for (int third = 1; third <= 2; third++) {
        int64_t cap = full * third / 3;
        uint32_t *test;
        size_t ntest;
        int64_t charged = run(cap, 1, b, &test, &ntest);
        size_t late = 0, sends = 0;
        for (size_t i = 0; i < ntest; i++) {
            sends += b[test[i]] >= 0;
            late += i >= ntest * 9 / 10 && b[test[i]] >= 0;
        }
        printf("credit cap %lld of an uncapped %lld: charged %lld, %zu sends, %zu in the last tenth of the "
               "audience\n", (long long)cap, (long long)full, (long long)charged, sends, late);
        assert_true(charged <= cap);
        assert_true(charged * 10 >= cap * 7); /* the cap is spent, ... */
        assert_true(late * 10 >= sends / 4);  /* ... through the whole audience, not on its first customers */
        free(test);
    }
    free(a);
    free(b);
}

/* A multi-part SMS costs its parts under the cap too: X-Engage counts each customer's parts as the SMS
 * renders, so what is charged (the brute-force count of parts of every body the provider received) stays
 * within the cap. Counting an SMS once, as before, the same run was charged past the cap. */
static void multi_part_sms_counts_parts(void **state)
{
    (void)state;
    int *a = malloc(N * sizeof *a);
    long_names = 1;
    int64_t full = run(0, 1, a, NULL, NULL);
    assert_int_equal(full, ref_charged);
    size_t full_multi = multi_part_sends;
    assert_true(full_multi > 20);
    for (int third = 1; third <= 2; third++) {
        int64_t cap = full * third / 3;
        int64_t charged = run(cap, 1, a, NULL, NULL);
        printf("multi-part SMS, credit cap %lld of an uncapped %lld (%zu multi-part SMS): charged %lld, "
               "%zu multi-part SMS\n", (long long)cap, (long long)full, full_multi, (long long)charged,
               multi_part_sends);
        assert_int_equal(charged, ref_charged);
        assert_true(charged <= cap);
        assert_true(charged * 10 >= cap * 7);
    }
    long_names = 0;
    free(a);
}

static void bad_cap_is_refused(void **state)
{
    (void)state;
    dx f;
    dx_world(&f, 20, 50, 1, 1);
    eng_xengage_options o;
    assert_int_equal(eng_xengage_options_init(&o, ENG_XENGAGE_OPTIONS_VERSION), ENG_OK);
    assert_int_equal(o.credit_cap, 0);
    assert_true(o.credits_per_unit == 0);
    assert_int_equal(eng_xengage_options_init(&o, 3), ENG_EVERSION);
    eng_message_spec m = dx_message();
    uint64_t id = 0;
    eng_validation *v = NULL;
    o.credit_cap = -1;
    m.strategy = ENG_STRATEGY_XENGAGE;
    m.xengage = &o;
    assert_int_equal(eng_message_create(f.e, "ann", f.campaign, &m, &id, &v), ENG_EVALIDATION);
    assert_int_equal(eng_validation_find(v, "message.xengage.credit_cap"), ENG_EINVAL);
    eng_validation_free(v);
    o.credit_cap = 100; /* a cap belongs to X-Engage */
    m.strategy = ENG_STRATEGY_NONE;
    assert_int_equal(eng_message_create(f.e, "ann", f.campaign, &m, &id, &v), ENG_EVALIDATION);
    eng_validation_free(v);
    /* Credits per unit of currency: 0 (one) or positive and finite, and X-Engage's own. */
    const double bad_cpu[] = {-1, NAN, INFINITY, 2e9};
    m.strategy = ENG_STRATEGY_XENGAGE;
    for (size_t i = 0; i < sizeof bad_cpu / sizeof bad_cpu[0]; i++) {
        o.credits_per_unit = bad_cpu[i];
        assert_int_equal(eng_message_create(f.e, "ann", f.campaign, &m, &id, &v), ENG_EVALIDATION);
        assert_int_equal(eng_validation_find(v, "message.xengage.credits_per_unit"), ENG_ERANGE);
        assert_int_equal(eng_validation_find(v, "message.xengage.credit_cap"), 0);
        eng_validation_free(v);
    }
    o.credit_cap = 0, o.credits_per_unit = 100;
    m.strategy = ENG_STRATEGY_NONE;
    assert_int_equal(eng_message_create(f.e, "ann", f.campaign, &m, &id, &v), ENG_EVALIDATION);
    assert_int_equal(eng_validation_find(v, "message.xengage.credits_per_unit"), ENG_EINVAL);
    eng_validation_free(v);
    o.credit_cap = 100, o.credits_per_unit = 0;
    o.version = 9;
    m.strategy = ENG_STRATEGY_XENGAGE;
    assert_int_equal(eng_message_create(f.e, "ann", f.campaign, &m, &id, &v), ENG_EVERSION);
    assert_string_equal(eng_error_last()->detail, "message.xengage.version");
    /* Stored and read back; a version 1 caller's spec has no settings (and is not read past its end). */
    o.version = ENG_XENGAGE_OPTIONS_VERSION;
    assert_int_equal(eng_message_create(f.e, "ann", f.campaign, &m, &id, NULL), ENG_OK);
    eng_message *msg = NULL;
    const eng_message_spec *got = NULL;
    assert_int_equal(eng_message_get(f.e, "ann", id, &msg), ENG_OK);
    assert_int_equal(eng_message_fields(msg, &got), ENG_OK);
    assert_int_equal(got->xengage->credit_cap, 100);
    assert_true(got->xengage->credits_per_unit == 0);
    eng_message_free(msg);
    /* Both settings, each stored once and read back; a version 1 options struct ends before the rate. */
    o.credits_per_unit = 12.5;
    assert_int_equal(eng_message_create(f.e, "ann", f.campaign, &m, &id, NULL), ENG_OK);
    assert_int_equal(eng_message_get(f.e, "ann", id, &msg), ENG_OK);
    assert_int_equal(eng_message_fields(msg, &got), ENG_OK);
    assert_int_equal(got->xengage->credit_cap, 100);
    assert_true(got->xengage->credits_per_unit == 12.5);
    eng_message_free(msg);
    struct { eng_xengage_options o; } v1 = {{1, 0, 0}};
    memset(&v1.o.credits_per_unit, 0xff, sizeof v1.o.credits_per_unit); /* a NaN a version 1 caller never wrote */
    m.xengage = &v1.o;
    assert_int_equal(eng_message_create(f.e, "ann", f.campaign, &m, &id, NULL), ENG_OK);
    assert_int_equal(eng_message_get(f.e, "ann", id, &msg), ENG_OK);
    assert_int_equal(eng_message_fields(msg, &got), ENG_OK);
    assert_true(got->xengage->credits_per_unit == 0);
    eng_message_free(msg);
    m.xengage = &o;
    m.version = 1;
    m.xengage = (const eng_xengage_options *)(uintptr_t)1; /* past a version 1 struct: never read */
    assert_int_equal(eng_message_create(f.e, "ann", f.campaign, &m, &id, NULL), ENG_OK);
    assert_int_equal(eng_message_get(f.e, "ann", id, &msg), ENG_OK);
    assert_int_equal(eng_message_fields(msg, &got), ENG_OK);
    assert_int_equal(got->xengage->credit_cap, 0);
    eng_message_free(msg);
    dx_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cap_holds_across_batches_and_retries),
        cmocka_unit_test(multi_part_sms_counts_parts),
        cmocka_unit_test(bad_cap_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
