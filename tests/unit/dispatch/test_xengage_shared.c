/* X-Engage run by several engines on one store (storage contract v3, through
 * the change feed of tests/helpers/test_feed.h): the engines take turns, one
 * chunk each at scheduler times 6 hours apart, and the customers' responses to
 * each chunk (receipts, and a purchase after a click) are recorded through the
 * next engine, not the one that sent it.
 * Each engine learns at its own turn from the sends and responses the others
 * committed (the events it reads as they are appended, events/sync.c), so the
 * decisions are the ones a single engine makes over the same sequence,
 * customer by customer. Control: with the responses withheld the decisions
 * differ, so the equality shows the responses were learned from. */
#include "dispatch_fixture.h"
#include "core/engine_impl.h"
#include "decide/xengage_impl.h"
#include "test_feed.h"

#define N 600
#define BATCH 50

/* Everyone clicks the SMS (and buys); e-mails are only delivered (the history said e-mail for a third). */
static int respond(dx *f, uint32_t customer, int channel)
{
    (void)f;
    (void)customer;
    return channel == ENG_CH_SMS ? ENG_TOUCH_CLICKED : ENG_TOUCH_DELIVERED;
}

/* Receipts for the pairs delivered since @p seen (updated), through @p e at @p at, and a purchase by
 * each customer who clicked; clicks counted. */
static void respond_new(dx *f, eng_engine *e, unsigned *seen, eng_time at, unsigned *clicks)
{
    size_t cap = f->n * DX_CH * 2, n = 0, nb = 0;
    const char **keys = malloc(cap * sizeof *keys);
    int *st = malloc(cap * sizeof *st);
    eng_time *t = malloc(cap * sizeof *t);
    uint32_t *buyers = malloc(f->n * sizeof *buyers);
    assert_true(keys && st && t && buyers);
    for (size_t i = 0; i < f->n * DX_CH; i++) {
        if (!f->prov.delivered[i] || seen[i])
            continue;
        seen[i] = 1;
        int s = respond(f, (uint32_t)(i / DX_CH), (int)(i % DX_CH));
        keys[n] = f->prov.key[i], st[n] = ENG_TOUCH_DELIVERED, t[n++] = at;
        if (s == ENG_TOUCH_CLICKED) {
            keys[n] = f->prov.key[i], st[n] = s, t[n++] = at + 60 * 1000, ++*clicks;
            buyers[nb++] = (uint32_t)(i / DX_CH);
        }
    }
    eng_receipts r = ENG_RECEIPTS_INIT;
    r.count = n, r.keys = keys, r.statuses = st, r.times = t;
    eng_event_report rep = ENG_EVENT_REPORT_INIT;
    assert_int_equal(eng_touch_append(e, &r, &rep), ENG_OK);
    assert_int_equal(rep.unmatched, 0);
    eng_engine *was = f->e;
    f->e = e;
    char tag[32];
    snprintf(tag, sizeof tag, "x%lld", (long long)at);
    dx_txns(f, buyers, nb, at + 2 * 60 * 1000, 100, tag);
    f->e = was;
    free(keys), free(st), free(t), free(buyers);
}

#define TURNS 100

typedef struct outcome {
    int channel[N]; /* per customer: the channel sent (-1 none) */
    int step[N];    /* and at which turn */
    uint64_t learned[TURNS]; /* per turn: hash of the population statistics the model learned (0: none) */
    int turns;
    unsigned sends, clicks;
    int64_t credits;
} outcome;

/* The X-Engage execution worked by @p k engines, a chunk a turn, @p per turns at each scheduler
 * time (6 hours apart), with (or without) the responses to each time's turns recorded through the
 * next engine half an hour later. */
static void run(int k, int responses, int per, outcome *out)
{
    dx f;
    dx_world(&f, N, BATCH, 1, 1);
    dx_xengage(&f);
    assert_int_equal(eng_close(f.e), ENG_OK);
    test_feed feed;
    test_feed_init(&feed);
    eng_engine *e[3];
    for (int i = 0; i < k; i++) {
        e[i] = dx_engine_on(&f, test_feed_store(f.ts, &feed, i + 1));
        /* Engines start at chunk (id mod chunks): 0 for all (ids divisible by 1..16, distinct), so they take
         * the chunks in the order one engine does and each turn decides the same customers. */
        e[i]->instance = 720720ull * (uint64_t)(i + 1);
    }
    f.e = e[0];
    int64_t before;
    assert_int_equal(eng_credits_balance(e[0], "root", ENG_CREDITS_XENGAGE, &before), ENG_OK);
    unsigned *seen = calloc(f.n * DX_CH, sizeof *seen);
    assert_non_null(seen);
    memset(out, 0, sizeof *out);
    for (size_t c = 0; c < N; c++)
        out->channel[c] = out->step[c] = -1;
    eng_time now = f.t0;
    for (int turn = 0;; turn++) {
        assert_true(turn < TURNS);
        eng_engine *me = e[turn % k];
        test_clock_now = now;
        eng_run_options o = ENG_RUN_OPTIONS_INIT;
        o.message = f.message;
        o.max_batches = 1;
        eng_run_report rep = ENG_RUN_REPORT_INIT;
        assert_int_equal(eng_run_due(me, "root", now, &o, &rep), ENG_OK);
        if (getenv("XS_DEBUG"))
            fprintf(stderr, "turn %d: batches %llu sent %llu accepted %llu skipped %llu pending %llu\n", turn, (unsigned long long)rep.batches, (unsigned long long)rep.sent, (unsigned long long)rep.accepted, (unsigned long long)rep.skipped, (unsigned long long)rep.pending);
        for (uint32_t c = 0; c < N; c++)
            for (int ch = 0; ch < DX_CH; ch++)
                if (f.prov.delivered[dx_pair(c, ch)] && out->channel[c] < 0)
                    out->channel[c] = ch, out->step[c] = turn, out->sends++;
        int last = (turn + 1) % per == 0; /* the last turn at this scheduler time */
        test_clock_now = now + 30 * 60 * 1000;
        if (responses && last)
            respond_new(&f, e[(turn + 1) % k], seen, test_clock_now, &out->clicks);
        /* what the model learned at this turn's time (stored for the trace) */
        char key[96];
        eng__xe_key_snap(key, sizeof key, f.message, 0, now);
        uint8_t *v = NULL;
        size_t len = 0;
        if (test_store_raw_get(f.ts, key, &v, &len) == 0) {
            uint64_t h = 1469598103934665603ull;
            for (size_t i = 0; i < len; i++)
                h = (h ^ v[i]) * 1099511628211ull;
            out->learned[turn] = h;
            free(v);
        }
        out->turns = turn + 1;
        eng_execution_info x = {.version = ENG_EXECUTION_INFO_VERSION};
        assert_int_equal(eng_execution_get(e[(turn + 2) % k], "root", f.message, 0, &x), ENG_OK);
        if (x.state == ENG_EXEC_FINISHED)
            break;
        if (last)
            now += 6 * ENG_HOUR; /* the e-mails of the first turns reach the end of their response window */
    }
    int64_t after;
    assert_int_equal(eng_credits_balance(e[k - 1], "root", ENG_CREDITS_XENGAGE, &after), ENG_OK);
    out->credits = before - after;
    for (size_t i = 0; i < f.n * DX_CH; i++) /* exactly once per pair, whichever engine sent it */
        assert_true(f.prov.delivered[i] <= 1);
    free(seen);
    for (int i = 1; i < k; i++)
        assert_int_equal(eng_close(e[i]), ENG_OK);
    dx_close(&f);
    test_feed_free(&feed);
}

static void learns_from_every_engine(void **state)
{
    (void)state;
    static outcome one, three, mute;
    run(1, 1, 1, &one);
    run(3, 1, 1, &three);
    run(3, 0, 1, &mute);
    unsigned differ = 0, learned_otherwise = 0, learning = 0;
    assert_int_equal(one.turns, three.turns);
    for (int t = 0; t < one.turns; t++) {
        learning += one.learned[t] != 0; /* a turn that sent something */
        assert_true(one.learned[t] == three.learned[t]); /* the same statistics learned at every turn */
        learned_otherwise += t < mute.turns && mute.learned[t] != one.learned[t];
    }
    for (size_t c = 0; c < N; c++) {
        if (one.channel[c] != three.channel[c] || one.step[c] != three.step[c])
            fail_msg("customer %zu: one engine sent channel %d at turn %d, three engines %d at turn %d", c,
                     one.channel[c], one.step[c], three.channel[c], three.step[c]);
        differ += one.channel[c] != mute.channel[c];
    }
    printf("x-engage over engines: 1 engine %u sends, %u clicks (%.3f a send), %lld credits; 3 engines %u sends, "
           "%u clicks (%.3f a send), %lld credits; without the responses the model learned otherwise at %u of %d "
           "turns and %u customers were decided otherwise\n",
           one.sends, one.clicks, (double)one.clicks / one.sends, (long long)one.credits, three.sends, three.clicks,
           (double)three.clicks / three.sends, (long long)three.credits, learned_otherwise, one.turns, differ);
    assert_int_equal(one.credits, three.credits);
    assert_true(learning >= 10);
    /* the responses change what is learned: the equality above is learning from them, not luck */
    assert_true(learned_otherwise > 0);
}

/* Three chunks at each scheduler time, worked by one engine or by three taking one each (the second
 * and third after the others' sends of that time are committed): each engine learns at its first
 * chunk of the time from what was sent before it (decide/xengage_exec.c, learn), so the statistics
 * and every decision are one engine's. */
static void same_time_same_decisions(void **state)
{
    (void)state;
    static outcome one, three;
    run(1, 1, 3, &one);
    run(3, 1, 3, &three);
    assert_int_equal(one.turns, three.turns);
    for (int t = 0; t < one.turns; t++)
        assert_true(one.learned[t] == three.learned[t]);
    for (size_t c = 0; c < N; c++)
        if (one.channel[c] != three.channel[c] || one.step[c] != three.step[c])
            fail_msg("customer %zu: one engine sent channel %d at turn %d, three engines %d at turn %d", c,
                     one.channel[c], one.step[c], three.channel[c], three.step[c]);
    printf("x-engage, three chunks a scheduler time: 1 engine %u sends, %u clicks, %lld credits; 3 engines %u sends, "
           "%u clicks, %lld credits; every decision the same\n",
           one.sends, one.clicks, (long long)one.credits, three.sends, three.clicks, (long long)three.credits);
    assert_int_equal(one.credits, three.credits);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(learns_from_every_engine),
        cmocka_unit_test(same_time_same_decisions),
    };
    return cmocka_run_group_tests_name("x-engage: several engines learn from each other's responses", tests, NULL,
                                       NULL);
}
