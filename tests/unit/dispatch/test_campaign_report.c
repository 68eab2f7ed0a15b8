/* The engine-level campaign report (eng_campaign_report) against independent
 * references on generated data: a campaign with a blast and an X-Engage
 * message executed by eng_run_due, receipts and transactions appended
 * through the events API. References, written plainly here from what the
 * test generated (not read back from the engine): the same figures from
 * eng_measure_campaign() over columns assembled by the test, the headline
 * counts by brute force, and the off-policy estimates (IPW and doubly robust)
 * of priority and greedy by brute force over the exploration bucket, their
 * intervals those of eng__xe_ope over the rows the test assembled. */
#include <math.h>

#include "dispatch_fixture.h"
#include "decide/xengage.h"
#include "measure/measure_impl.h" /* eng__attr_split_min_rows, eng__attr_split_runs: the threads ran */
#include "events/events_impl.h"   /* eng__touch_scan_tables: ordered segments were read as tables */

extern uint8_t eng__tseg_ordered;

#define N 1000

/* Generated responses to the X-Engage sends and purchases. */
static int x_opened(size_t k, int ch) { return ch == ENG_CH_EMAIL ? (k * 7) % 10 < 4 : (k * 3) % 10 < 3; }
static int x_pick(uint32_t customer, int channel, void *user)
{
    return x_opened(dx_ext(user, customer), channel) ? ENG_TOUCH_OPENED : ENG_TOUCH_DELIVERED;
}
static int buys(size_t k) { return (k * 13) % 10 < 3; }
static int64_t amount(size_t k) { return 40 + (int64_t)(k % 9) * 15; }
static eng_time buy_at(eng_time t0, size_t k) { return t0 + (eng_time)(k % 6) * ENG_DAY + 3 * ENG_HOUR; }

typedef struct world {
    dx f;
    size_t ntest, ncontrol;
    uint32_t *test, *control;
    unsigned char *in_test;
    int x_sent[N];    /* channel X-Engage sent, -1 none */
    int reach[N];     /* channel bits with a creative the customer is reachable on */
    /* the transactions the test appended, by dense id */
    size_t ntx;
    uint32_t tx_c[3 * N];
    eng_time tx_t[3 * N];
    int64_t tx_a[3 * N];
} world;

static void add_txns(world *w, const uint32_t *ids, size_t n, eng_time at_base, int64_t amt_fixed, const char *tag,
                     int by_k)
{
    dx *f = &w->f;
    for (size_t i = 0; i < n; i++) {
        size_t k = dx_ext(f, ids[i]);
        eng_time t = by_k ? buy_at(at_base, k) : at_base;
        int64_t a = by_k ? amount(k) : amt_fixed;
        dx_txns(f, &ids[i], 1, t, a, tag);
        w->tx_c[w->ntx] = ids[i], w->tx_t[w->ntx] = t, w->tx_a[w->ntx++] = a;
    }
}

/* How build() stores sealed segments: -1 as the engine does by default, 0 all of the
 * older kind (2), 1 all ordered (kind 3), 2 a mix (ordered for every other step). */
static int build_kind = -1;
static int build_goal; /* a goal starting at `delivered` (none: the hit-rate definition) */

static void order_step(int k)
{
    if (build_kind >= 0)
        eng__tseg_ordered = (uint8_t)(build_kind == 1 || (build_kind == 2 && k % 2 == 0));
}

/* The campaign's goal: transactions above 50, tracked 20 days from delivery, linear. */
static void goal_amount(dx *f)
{
    eng_org_settings s;
    assert_int_equal(eng_org_settings_init(&s, ENG_ORG_SETTINGS_VERSION), ENG_OK);
    assert_int_equal(eng_org_settings_get(f->e, "root", &s), ENG_OK);
    s.conversion_goals = 1;
    assert_int_equal(eng_org_settings_set(f->e, "root", &s, NULL), ENG_OK);
    eng_goal_spec g = {ENG_GOAL_SPEC_VERSION, "transaction", "amount > 50", 20, ENG_GOAL_ON_DELIVERED,
                       ENG_ATTR_LINEAR};
    eng_campaign_spec c = dx_campaign_spec();
    c.goal_mode = ENG_GOAL_CUSTOM;
    c.goal = &g;
    assert_int_equal(eng_campaign_update(f->e, "ann", f->campaign, &c, NULL), ENG_OK);
}

static void build(world *w)
{
    memset(w, 0, sizeof *w);
    dx *f = &w->f;
    dx_world(f, N, 64, 1, 1);
    if (build_goal) /* before the first approval */
        goal_amount(f);
    order_step(0);
    dx_xengage(f);
    order_step(1);
    /* dx_xengage's history purchases: every 4th customer, 100, two hours after the blast. */
    for (uint32_t c = 0; c < N; c++)
        if (dx_ext(f, c) % 4 == 0)
            w->tx_c[w->ntx] = c, w->tx_t[w->ntx] = f->history_t0 + 2 * ENG_HOUR, w->tx_a[w->ntx++] = 100;
    dx_run_all(f, f->t0, NULL);
    for (uint32_t c = 0; c < N; c++) {
        w->x_sent[c] = -1;
        for (int ch = 0; ch < 2; ch++)
            if (f->prov.delivered[dx_pair(c, ch)])
                w->x_sent[c] = ch;
        w->reach[c] = 1 << ENG_CH_SMS | (dx_ext(f, c) % 5 ? 1 << ENG_CH_EMAIL : 0);
    }
    test_clock_now = f->t0 + 10 * ENG_DAY;
    order_step(2);
    dx_receipts(f, f->t0 + 60 * 1000, x_pick, f);
    order_step(3);
    uint32_t all[N];
    size_t nb = 0, no = 0;
    uint32_t opened[N];
    for (uint32_t c = 0; c < N; c++) {
        if (buys(dx_ext(f, c)))
            all[nb++] = c;
        if (w->x_sent[c] >= 0 && x_opened(dx_ext(f, c), w->x_sent[c]))
            opened[no++] = c;
    }
    add_txns(w, all, nb, f->t0, 0, "x", 1);
    add_txns(w, opened, no, f->t0 + 5 * ENG_HOUR, 120, "o", 0);
    w->test = dx_test_group(f, &w->ntest);
    eng_audience *aud;
    assert_int_equal(eng_message_audience(f->e, "root", f->message, &aud), ENG_OK);
    uint64_t nc;
    assert_int_equal(eng_audience_count(aud, ENG_PART_CONTROL, &nc), ENG_OK);
    w->control = malloc((nc ? nc : 1) * sizeof *w->control);
    assert_int_equal(eng_audience_ids(aud, ENG_PART_CONTROL, 0, w->control, nc, &w->ncontrol), ENG_OK);
    eng_audience_free(aud);
    w->in_test = calloc(N, 1);
    for (size_t i = 0; i < w->ntest; i++)
        w->in_test[w->test[i]] = 1;
}

static void world_free(world *w)
{
    free(w->test);
    free(w->control);
    free(w->in_test);
    dx_close(&w->f);
}

/* ---- reference 1: eng_measure_campaign over columns the test assembles ---- */

typedef struct tcols {
    size_t n;
    uint32_t cust[8 * N], msg[8 * N];
    uint8_t ch[8 * N], st[8 * N];
    eng_time t[8 * N];
} tcols;

static void put(tcols *c, uint32_t cust, uint64_t msg, int ch, int st, eng_time t)
{
    c->cust[c->n] = cust, c->msg[c->n] = (uint32_t)msg, c->ch[c->n] = (uint8_t)ch, c->st[c->n] = (uint8_t)st;
    c->t[c->n++] = t;
}

static void assemble(world *w, tcols *c)
{
    dx *f = &w->f;
    c->n = 0;
    for (size_t i = 0; i < w->ntest; i++) {
        uint32_t cu = w->test[i];
        for (int ch = 0; ch < 2; ch++) {
            if (!(w->reach[cu] >> ch & 1))
                continue;
            /* the blast: every reachable channel, receipts as dx_xengage wrote them */
            eng_time th = f->history_t0;
            put(c, cu, f->history_message, ch, ENG_TOUCH_SENT, th);
            put(c, cu, f->history_message, ch, ENG_TOUCH_DELIVERED, th + 60 * 1000);
            int hs = dx_hist_pick(cu, ch, f);
            if (hs > ENG_TOUCH_DELIVERED)
                put(c, cu, f->history_message, ch, hs, th + 60 * 1000 + ENG_HOUR);
        }
        int x = w->x_sent[cu];
        if (x >= 0) {
            put(c, cu, f->message, x, ENG_TOUCH_SENT, f->t0);
            put(c, cu, f->message, x, ENG_TOUCH_DELIVERED, f->t0 + 60 * 1000);
            if (x_opened(dx_ext(f, cu), x))
                put(c, cu, f->message, x, ENG_TOUCH_OPENED, f->t0 + 60 * 1000 + ENG_HOUR);
        }
    }
}

static void same_figures(const eng_report_figures *a, const eng_report_figures *b)
{
    assert_int_equal(a->responder_def, b->responder_def);
    assert_int_equal(a->contacted, b->contacted);
    assert_int_equal(a->sent, b->sent);
    assert_int_equal(a->delivered, b->delivered);
    assert_int_equal(a->not_delivered, b->not_delivered);
    assert_int_equal(a->opened, b->opened);
    assert_int_equal(a->clicked, b->clicked);
    assert_int_equal(a->responders, b->responders);
    assert_int_equal(a->conversions, b->conversions);
    assert_int_equal(a->responder_sales, b->responder_sales);
    assert_int_equal(a->credits_spent, b->credits_spent);
    assert_int_equal(a->control_contacted, b->control_contacted);
    assert_int_equal(a->control_responders, b->control_responders);
    assert_int_equal(a->incremental_known, b->incremental_known);
    assert_int_equal(a->incremental_sales, b->incremental_sales);
    assert_true(a->hit_rate == b->hit_rate && a->lift == b->lift && a->p_value == b->p_value);
}

static world shared; /* built once for the reference tests (group setup): the runs under valgrind stay short */

static int setup(void **state)
{
    (void)state;
    dx_threads = 3; /* the report may start up to 3 threads beside the caller's (threads_same_report) */
    build(&shared);
    dx_threads = 1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    world_free(&shared);
    return 0;
}

static void check_references(world *wp)
{
#define w (*wp)
    dx *f = &w.f;
    eng_report *r = NULL;
    assert_int_equal(eng_campaign_report(f->e, "root", f->campaign, NULL, &r), ENG_OK);

    static tcols tc;
    assemble(&w, &tc);
    eng_touch_columns t = {ENG_TOUCH_COLUMNS_VERSION, tc.n, tc.cust, tc.msg, tc.ch, tc.st, tc.t, NULL};
    int64_t am[3 * N];
    for (size_t i = 0; i < w.ntx; i++)
        am[i] = w.tx_a[i] * 10000;
    eng_txn_columns x = {ENG_TXN_COLUMNS_VERSION, w.ntx, w.tx_c, w.tx_t, am, 4, NULL, 0, NULL};
    uint32_t msgs[2] = {(uint32_t)f->history_message, (uint32_t)f->message};
    int64_t cost[ENG_MAX_CHANNELS] = {3, 1};
    eng_measure_spec sp;
    assert_int_equal(eng_measure_spec_init(&sp, ENG_MEASURE_SPEC_VERSION), ENG_OK);
    sp.n_customers = N;
    sp.messages = msgs;
    sp.n_messages = 2;
    sp.start = 1767225600000 + ENG_DAY; /* dx_world's campaign */
    sp.end = 1767225600000 + 60 * ENG_DAY;
    sp.control = w.control;
    sp.n_control = w.ncontrol;
    sp.channel_cost = cost;
    eng_report *ref = NULL;
    assert_int_equal(eng_measure_campaign(f->e, &t, &x, &sp, &ref), ENG_OK);
    eng_report_figures a = ENG_REPORT_FIGURES_INIT, b = ENG_REPORT_FIGURES_INIT;
    assert_int_equal(eng_report_total(r, &a), ENG_OK);
    assert_int_equal(eng_report_total(ref, &b), ENG_OK);
    same_figures(&a, &b);
    for (int ch = 0; ch < 2; ch++) {
        assert_int_equal(eng_report_channel(r, ch, &a), ENG_OK);
        assert_int_equal(eng_report_channel(ref, ch, &b), ENG_OK);
        same_figures(&a, &b);
    }
    assert_int_equal(eng_report_message_count(r), 2);
    for (size_t i = 0; i < 2; i++) {
        uint32_t ma, mb;
        assert_int_equal(eng_report_message(r, i, &ma, &a), ENG_OK);
        assert_int_equal(eng_report_message(ref, i, &mb, &b), ENG_OK);
        assert_int_equal(ma, mb);
        same_figures(&a, &b);
    }

    /* Reference 2: the headline counts by brute force. */
    assert_int_equal(eng_report_total(r, &a), ENG_OK);
    uint64_t sent = 0, opened = 0, responders = 0, ctl_resp = 0;
    for (size_t i = 0; i < tc.n; i++) {
        sent += tc.st[i] == ENG_TOUCH_SENT;
        opened += tc.st[i] == ENG_TOUCH_OPENED;
    }
    for (size_t i = 0; i < w.ntest; i++) { /* hit-rate definition: bought between first touch and the end */
        int hit = 0;
        for (size_t k = 0; k < w.ntx; k++)
            hit |= w.tx_c[k] == w.test[i] && w.tx_t[k] >= f->history_t0 && w.tx_t[k] <= sp.end;
        responders += (uint64_t)hit;
    }
    assert_int_equal(a.contacted, w.ntest);
    assert_int_equal(a.sent, sent);
    assert_int_equal(a.opened, opened);
    assert_int_equal(a.responders, responders);
    assert_int_equal(a.control_contacted, w.ncontrol);
    (void)ctl_resp;
    printf("campaign report: %llu contacted, %llu sent, %llu opened, %llu responders, control %llu/%llu\n",
           (unsigned long long)a.contacted, (unsigned long long)a.sent, (unsigned long long)a.opened,
           (unsigned long long)a.responders, (unsigned long long)a.control_responders,
           (unsigned long long)a.control_contacted);
    eng_report_free(ref);
    eng_report_free(r);
#undef w
}

static void figures_match_references(void **state)
{
    (void)state;
    check_references(&shared);
}

/* ---- reference 3: the off-policy estimates by brute force ---- */

static double revenue(const world *w, uint32_t c, eng_time from, eng_time to)
{
    double s = 0;
    for (size_t k = 0; k < w->ntx; k++)
        if (w->tx_c[k] == c && w->tx_t[k] >= from && w->tx_t[k] < to)
            s += (double)w->tx_a[k];
    return s;
}

static void close_to(double got, double want)
{
    if (fabs(got - want) > 1e-9 * (1 + fabs(want)))
        fail_msg("%.12g is not %.12g", got, want);
}

static void ope_matches_brute_force(void **state)
{
    (void)state;
    world *wp = &shared;
#define w (*wp)
    dx *f = &w.f;
    eng_report *r = NULL;
    assert_int_equal(eng_campaign_report(f->e, "root", f->campaign, NULL, &r), ENG_OK);
    eng_time start = f->t0, end = 1767225600000 + 60 * ENG_DAY, win = end - start;
    /* Control baseline. */
    double bs = 0, bs2 = 0;
    static double ctl[N];
    for (size_t i = 0; i < w.ncontrol; i++) {
        double v = ctl[i] = revenue(&w, w.control[i], start, start + win);
        bs += v, bs2 += v * v;
    }
    double nc = (double)w.ncontrol, base = bs / nc;
    double base_se = sqrt((bs2 - nc * base * base) / (nc - 1) / nc);
    /* Every test customer's reward; the bucket from the trace. */
    double cost[2] = {3, 1};
    double xs = 0, xs2 = 0;
    size_t nb = 0;
    static uint32_t bc[N];
    static double brew[N], xrew[N];
    static int blog[N];
    for (size_t i = 0; i < w.ntest; i++) {
        uint32_t c = w.test[i];
        int ch = w.x_sent[c];
        double rw = revenue(&w, c, start, start + win) - (ch >= 0 ? cost[ch] : 0);
        xs += rw, xs2 += rw * rw;
        xrew[i] = rw;
        eng_trace t = ENG_TRACE_INIT;
        assert_int_equal(eng_trace_get(f->e, "root", f->message, 0, c, &t), ENG_OK);
        if (t.reason == ENG_TRACE_CHOSEN && (t.detail & 1u)) {
            int nreach = __builtin_popcount((unsigned)w.reach[c]);
            assert_int_equal(t.detail >> 2, nreach);
            bc[nb] = c, brew[nb] = rw, blog[nb++] = ch;
        }
    }
    double nt = (double)w.ntest, xm = xs / nt;
    double xse = sqrt((xs2 - nt * xm * xm) / (nt - 1) / nt + base_se * base_se);
    eng_ope_estimate e = ENG_OPE_ESTIMATE_INIT;
    assert_int_equal(eng_report_ope(r, ENG_OPE_XENGAGE, &e), ENG_OK);
    assert_true(e.known && e.message == f->message && e.rows == w.ntest);
    close_to(e.ipw, xm - base);
    /* Its interval is built as the others' (the conversions' part a Poisson count, one more at the
     * upper end): with this many buyers its lower arm is about the normal one. */
    {
        eng__xe_estimate xr;
        eng__xe_mean(xrew, w.ntest, ctl, w.ncontrol, &xr);
        close_to(xr.se, xse);
        close_to(e.ipw_low, xr.lo);
        close_to(e.ipw_high, xr.hi);
        assert_true(e.dr_low == e.ipw_low && e.dr_high == e.ipw_high);
        double arm = (e.ipw - e.ipw_low) / (1.959963984540054 * xse);
        assert_true(arm > 0.8 && arm < 1.25 && e.ipw_high - e.ipw > xr.unit + 0.8 * (e.ipw - e.ipw_low));
    }
    assert_true(nb >= 10);
    double dm[2] = {0, 0}, dn[2] = {0, 0};
    for (size_t i = 0; i < nb; i++)
        dm[blog[i]] += brew[i], dn[blog[i]]++;
    for (int ch = 0; ch < 2; ch++)
        dm[ch] = dn[ch] ? dm[ch] / dn[ch] : base;
    for (int p = ENG_OPE_PRIORITY; p <= ENG_OPE_GREEDY; p++) {
        assert_int_equal(eng_report_ope(r, p, &e), ENG_OK);
        if (p == ENG_OPE_SEND_ALL) {
            assert_false(e.known);
            continue;
        }
        double si = 0, sd = 0;
        static eng__xe_ope_row rows[N];
        for (size_t i = 0; i < nb; i++) {
            uint32_t c = bc[i];
            /* Priority (no order given): SMS, the first channel with a creative. The blast gave every
             * customer one send per channel, fewer than greedy's 3: greedy is priority here. */
            int target = ENG_CH_SMS;
            double wgt = target == blog[i] ? (double)__builtin_popcount((unsigned)w.reach[c]) : 0;
            double xi = wgt * brew[i], xd = dm[target] + wgt * (brew[i] - dm[blog[i]]);
            si += xi, sd += xd;
            rows[i] = (eng__xe_ope_row){(int8_t)blog[i], (int8_t)target,
                                        1.0f / (float)__builtin_popcount((unsigned)w.reach[c]), brew[i], dm[blog[i]],
                                        dm[target]};
        }
        double n = (double)nb, mi = si / n, md = sd / n;
        assert_true(e.known && e.rows == nb);
        close_to(e.ipw, mi - base);
        close_to(e.dr, md - base);
        /* The intervals (decide_xengage_ope checks their coverage) from these rows and the control's
         * revenues. */
        eng__xe_estimate ri, rd;
        eng__xe_ope(rows, nb, ctl, w.ncontrol, &ri, &rd);
        close_to(e.ipw_low, ri.lo);
        close_to(e.ipw_high, ri.hi);
        close_to(e.dr_low, rd.lo);
        close_to(e.dr_high, rd.hi);
    }
    assert_int_equal(eng_report_ope(r, ENG_OPE_PRIORITY, &e), ENG_OK);
    printf("ope: %zu explored of %zu; x-engage %.3f, priority IPW %.3f DR %.3f [%.3f, %.3f] per customer\n", nb,
           w.ntest, xm - base, e.ipw, e.dr, e.dr_low, e.dr_high);
    eng_report_free(r);
#undef w
}

/* The first text a loop gives is kept in *one; each later one must equal it. */
static void same_text(char **one, char *text)
{
    if (!*one) {
        *one = text;
        return;
    }
    assert_string_equal(text, *one);
    free(text);
}

/* Everything a report gives: both exports and the four estimates. */
static char *report_text(eng_engine *e, const eng_report *r)
{
    char *json = NULL, *csv = NULL;
    size_t nj = 0, nc = 0;
    assert_int_equal(eng_report_export(r, ENG_REPORT_JSON, &json, &nj), ENG_OK);
    assert_int_equal(eng_report_export(r, ENG_REPORT_CSV, &csv, &nc), ENG_OK);
    char *all = malloc(nj + nc + 4 * 256 + 1);
    assert_non_null(all);
    size_t at = 0;
    memcpy(all, json, nj), at += nj;
    memcpy(all + at, csv, nc), at += nc;
    for (int p = 0; p < 4; p++) {
        eng_ope_estimate o = ENG_OPE_ESTIMATE_INIT;
        assert_int_equal(eng_report_ope(r, p, &o), ENG_OK);
        at += (size_t)snprintf(all + at, 256, "%d %llu %llu %a %a %a %a %a %a\n", o.known,
                               (unsigned long long)o.message, (unsigned long long)o.rows, o.ipw, o.ipw_low,
                               o.ipw_high, o.dr, o.dr_low, o.dr_high);
    }
    eng_free(e, json);
    eng_free(e, csv);
    return all;
}

/* eng_campaign_report_options version 2's threads: 1, 2, 4 and 8 parts (the engine allows 3
 * threads beside the caller's, so 8 is capped at 4) give the same report byte for byte, the
 * threads do run, a version 1 caller's shorter struct gets the one-thread report, and a count
 * over the maximum is refused. */
static void threads_same_report(void **state)
{
    (void)state;
    dx *f = &shared.f;
    const size_t min_rows = eng__attr_split_min_rows;
    eng__attr_split_min_rows = 64; /* a few thousand touch rows: up to 8 parts */
    char *one = NULL;
    static const unsigned parts[] = {1, 2, 4, 8};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        eng_campaign_report_options o;
        assert_int_equal(eng_campaign_report_options_init(&o, ENG_CAMPAIGN_REPORT_OPTIONS_VERSION), ENG_OK);
        assert_int_equal(o.threads, 1);
        o.threads = parts[i];
        const uint64_t before = eng__attr_split_runs[0];
        eng_report *r = NULL;
        assert_int_equal(eng_campaign_report(f->e, "root", f->campaign, &o, &r), ENG_OK);
        unsigned started = (unsigned)(eng__attr_split_runs[0] - before), want = parts[i] > 4 ? 3 : parts[i] - 1;
        assert_int_equal(started, want); /* threads for the touch pass, capped by eng_config.threads */
        char *text = report_text(f->e, r);
        eng_report_free(r);
        same_text(&one, text);
    }
    /* A version 1 caller: its struct ends before `threads`; malloc'd to its size so that a read
     * past it shows under the sanitizers. */
    size_t v1 = offsetof(eng_campaign_report_options, credits_per_unit) + sizeof(double);
    void *o1 = malloc(v1);
    assert_non_null(o1);
    assert_int_equal(eng_campaign_report_options_init(o1, 1), ENG_OK);
    eng_campaign_report_options seen;
    memset(&seen, 0, sizeof seen);
    memcpy(&seen, o1, v1);
    assert_int_equal(seen.version, 1);
    assert_int_equal(seen.currency_places, 2);
    const uint64_t before = eng__attr_split_runs[0];
    eng_report *r = NULL;
    assert_int_equal(eng_campaign_report(f->e, "root", f->campaign, o1, &r), ENG_OK);
    assert_int_equal(eng__attr_split_runs[0], before);
    char *text = report_text(f->e, r);
    assert_string_equal(text, one);
    free(text);
    eng_report_free(r);
    free(o1);
    eng_campaign_report_options o;
    eng_campaign_report_options_init(&o, ENG_CAMPAIGN_REPORT_OPTIONS_VERSION);
    o.threads = ENG_CAMPAIGN_REPORT_THREADS_MAX + 1;
    r = (eng_report *)&o;
    assert_int_equal(eng_campaign_report(f->e, "root", f->campaign, &o, &r), ENG_ERANGE);
    assert_string_equal(eng_error_last()->detail, "opts.threads");
    assert_null(r);
    o.threads = ENG_CAMPAIGN_REPORT_THREADS_MAX;
    o.version = ENG_CAMPAIGN_REPORT_OPTIONS_VERSION + 1;
    assert_int_equal(eng_campaign_report(f->e, "root", f->campaign, &o, &r), ENG_EVERSION);
    assert_null(r);
    free(one);
    eng__attr_split_min_rows = min_rows;
}

/* ---- the same touches stored as ordered segments, older ones, and a mix ---- */

static int count_table(const eng__touch_tab *t, void *u)
{
    (void)t;
    ++*(size_t *)u;
    return 0;
}
static int no_rows(const eng__touch_cols *c, void *u)
{
    (void)c, (void)u;
    return 0;
}

/* The ordered segments a report of f's campaign reads as tables. */
static size_t tables_of(dx *f)
{
    eng__touch_filter flt;
    eng__touch_filter_init(&flt);
    flt.org = "acme";
    flt.campaign = f->campaign;
    size_t n = 0;
    assert_int_equal(eng__enter(f->e), ENG_OK);
    assert_int_equal(eng__touch_scan_tables(f->e, &flt, count_table, no_rows, &n), ENG_OK);
    eng__leave(f->e);
    return n;
}

/* The report of f's campaign with 1, 2 and 4 parts, the segments visited in ranges on
 * threads (eng__report_plan) and, with 2 parts, on the calling thread too (the same
 * text each way), as text. */
static char *report_parts(dx *f)
{
    char *one = NULL;
    static const unsigned parts[] = {1, 2, 2, 4};
    for (size_t i = 0; i < sizeof parts / sizeof *parts; i++) {
        eng_campaign_report_options o;
        assert_int_equal(eng_campaign_report_options_init(&o, ENG_CAMPAIGN_REPORT_OPTIONS_VERSION), ENG_OK);
        o.threads = parts[i];
        eng__report_plan = i != 2;
        eng_report *r = NULL;
        assert_int_equal(eng_campaign_report(f->e, "root", f->campaign, &o, &r), ENG_OK);
        char *text = report_text(f->e, r);
        eng_report_free(r);
        same_text(&one, text);
    }
    eng__report_plan = 1;
    return one;
}

/* Sealed segments of a few hundred rows stored as kind 2 only, kind 3 only and
 * mixed (the tail in storage order in each), with and without a goal starting at
 * `delivered`: the report reads trusted messages' other statuses from the tables
 * of kind 3, and gives the same report byte for byte as from the rows of kind 2,
 * on one thread and two; without the goal, every figure equal to the references. */
static void kinds_same_report(void **state)
{
    (void)state;
    const uint32_t seal = eng__seg_seal_rows;
    const size_t min_rows = eng__attr_split_min_rows;
    eng__seg_seal_rows = 300;
    eng__attr_split_min_rows = 64;
    dx_threads = 3;
    for (int goal = 0; goal < 2; goal++) {
        char *want = NULL;
        for (int kind = 0; kind < 3; kind++) {
            world *w = malloc(sizeof *w);
            assert_non_null(w);
            build_kind = kind;
            build_goal = goal;
            build(w);
            size_t tables = tables_of(&w->f);
            assert_true(kind ? tables > 0 : tables == 0);
            if (!goal)
                check_references(w);
            uint64_t runs[2] = {eng__report_table_runs[0], eng__report_table_runs[1]};
            const uint64_t plans = eng__attr_split_runs[2];
            uint64_t paths[4];
            memcpy(paths, eng__attr_table_runs, sizeof paths);
            char *text = report_parts(&w->f);
            same_text(&want, text);
            /* The one-thread report's `sent` bits set directly (the default here: a segment's
             * rows are dense in its customers) or through the buckets, over blocks of one
             * context (every range here) or, with the reader's range check first, of several,
             * the buckets' keys of 32 bits (the default where they fit) or 64, in buckets of 4
             * customers or wider (64 of them): the same text each way. */
            const unsigned direct = eng__attr_table_direct, dense = eng__touch_tab_dense;
            /* every way natively and under ASan; under valgrind and TSan each alone and all three */
            static const int slow_ways[] = {1, 2, 4, 7};
            const int nways = test_slow_runtime() ? 4 : 7;
            for (int wi = 0; wi < nways; wi++) {
                const int way = test_slow_runtime() ? slow_ways[wi] : wi + 1;
                eng__attr_table_direct = way & 1 ? 0 : direct;
                eng__touch_tab_dense = way & 2 ? 16 : dense;
                eng__attr_keys_32 = !(way & 4);
                eng__attr_part_min_shift = 2;
                text = report_parts(&w->f);
                same_text(&want, text);
            }
            eng__attr_table_direct = direct;
            eng__touch_tab_dense = dense;
            eng__attr_keys_32 = 1;
            eng__attr_part_min_shift = 17;
            /* the segments visited in ranges on threads: 2 and 4 parts, each way and the first report */
            assert_true(eng__attr_split_runs[2] >= plans + (uint64_t)(nways + 1) * 4);
            for (int k = 0; k < 4; k++) /* each path ran (none without tables) */
                assert_true(kind ? eng__attr_table_runs[k] > paths[k] : eng__attr_table_runs[k] == paths[k]);
            /* One thread reads the blast's statuses a block at a time, X-Engage's `sent` (and the
             * two threads' statuses) as rows. */
            assert_true(kind ? eng__report_table_runs[0] > runs[0] && eng__report_table_runs[1] > runs[1]
                             : eng__report_table_runs[0] == runs[0] && eng__report_table_runs[1] == runs[1]);
            printf("goal %d, kind %s: %zu ordered segments read as tables\n", goal,
                   kind == 0 ? "2" : kind == 1 ? "3" : "2 and 3", tables);
            world_free(w);
            free(w);
        }
        free(want);
    }
    build_kind = -1;
    build_goal = 0;
    dx_threads = 1;
    eng__tseg_ordered = 0;
    eng__seg_seal_rows = seal;
    eng__attr_split_min_rows = min_rows;
}

/* The engine's touch rows with their occurrences, as columns (eng__measure_columns's). */
typedef struct occ_cols {
    size_t n;
    uint32_t cust[4096], msg[4096], occ[4096];
    uint8_t ch[4096], st[4096];
    eng_time t[4096];
} occ_cols;

static int occ_put(const eng_touch_row *r, void *u)
{
    occ_cols *c = u;
    assert_true(c->n < 4096);
    c->cust[c->n] = r->customer, c->msg[c->n] = (uint32_t)r->message, c->occ[c->n] = r->occurrence;
    c->ch[c->n] = (uint8_t)r->channel, c->st[c->n] = (uint8_t)r->status, c->t[c->n++] = r->time;
    return 0;
}

/* The stored report's counts equal eng_measure_campaign's over the same rows with their
 * occurrences (and differ from it without them: the daily message's occurrences would merge). */
static void stored_equals_columns(dx *f, const eng_report *r, uint64_t once, uint64_t daily)
{
    static occ_cols c;
    c.n = 0;
    for (uint32_t cu = 0; cu < f->n; cu++)
        assert_int_equal(eng_touches_of_customer(f->e, "acme", cu, occ_put, &c), ENG_OK);
    eng_touch_columns tc = {ENG_TOUCH_COLUMNS_VERSION, c.n, c.cust, c.msg, c.ch, c.st, c.t, NULL};
    eng_txn_columns xc = ENG_TXN_COLUMNS_INIT;
    const uint32_t msgs[2] = {(uint32_t)once, (uint32_t)daily};
    const int64_t cost[ENG_MAX_CHANNELS] = {3, 1};
    eng_measure_spec sp;
    assert_int_equal(eng_measure_spec_init(&sp, ENG_MEASURE_SPEC_VERSION), ENG_OK);
    sp.n_customers = (uint32_t)f->n;
    sp.messages = msgs;
    sp.n_messages = 2;
    sp.channel_cost = cost;
    for (int with = 1; with >= 0; with--) {
        eng_report *ref = NULL;
        tc.occurrence = with ? c.occ : NULL;
        assert_int_equal(eng_measure_campaign(f->e, &tc, &xc, &sp, &ref), ENG_OK);
        for (size_t i = 0; i <= 2; i++) {
            eng_report_figures a = ENG_REPORT_FIGURES_INIT, b = ENG_REPORT_FIGURES_INIT;
            assert_int_equal(i < 2 ? eng_report_message(r, i, NULL, &a) : eng_report_total(r, &a), ENG_OK);
            assert_int_equal(i < 2 ? eng_report_message(ref, i, NULL, &b) : eng_report_total(ref, &b), ENG_OK);
            const int same = a.sent == b.sent && a.delivered == b.delivered && a.opened == b.opened &&
                             a.contacted == b.contacted && a.credits_spent == b.credits_spent;
            assert_int_equal(same, with || i == 0); /* the one-off message needs no occurrences */
        }
        eng_report_free(ref);
    }
}

static int r_pick(uint32_t customer, int channel, void *user)
{
    (void)user;
    return (customer + (uint32_t)channel) % 3 == 0 ? ENG_TOUCH_OPENED : ENG_TOUCH_DELIVERED;
}

/* A message sent on two days (one send context per occurrence, each occurrence a
 * sending of its own, trusted like a one-off message) beside a message sent once: the
 * same report from kind 2, kind 3 and a mix; sent (every occurrence's) and contacted
 * (customers) equal to a count of what the provider received. */
static void recurring_kinds_same_report(void **state)
{
    (void)state;
    const uint32_t seal = eng__seg_seal_rows;
    eng__seg_seal_rows = 100;
    char *want = NULL;
    for (int kind = 0; kind < 3; kind++) {
        dx f;
        dx_world(&f, 120, 16, 1, 1);
        build_kind = kind;
        order_step(0);
        eng_message_spec once = dx_message();
        dx_approve(&f, &once);
        const uint64_t once_id = f.message;
        dx_run_all(&f, f.t0, NULL);
        size_t pairs = 0;
        unsigned char cust_sent[120] = {0};
        for (size_t i = 0; i < 120 * DX_CH; i++)
            if (f.prov.delivered[i])
                cust_sent[i / DX_CH] = 1, pairs++; /* one message: its own pairs */
        dx_receipts(&f, f.t0 + ENG_HOUR, r_pick, NULL);
        dx_provider_free(&f.prov);
        dx_provider_init(&f.prov, f.n);
        eng_schedule sched = ENG_SCHEDULE_INIT;
        eng_message_spec m = dx_message();
        sched = *m.schedule;
        sched.kind = ENG_SCHEDULE_RECURRING;
        sched.every = 1;
        sched.unit = ENG_EVERY_DAYS;
        sched.until = m.schedule->at + ENG_DAY;
        m.schedule = &sched;
        m.title = "Daily";
        dx_approve(&f, &m);
        for (uint32_t occ = 0; occ < 2; occ++) {
            order_step((int)occ + 1);
            eng_time due = f.t0 + (eng_time)occ * ENG_DAY;
            dx_run_occurrence(&f, occ, due);
            for (size_t i = 0; i < 120 * DX_CH; i++)
                if (f.prov.delivered[i])
                    cust_sent[i / DX_CH] = 1, pairs++; /* each occurrence's pairs */
            dx_receipts(&f, due + ENG_HOUR, r_pick, NULL);
            dx_provider_free(&f.prov);
            dx_provider_init(&f.prov, f.n);
        }
        size_t custs = 0;
        for (size_t i = 0; i < 120; i++)
            custs += cust_sent[i];
        size_t tables = tables_of(&f);
        assert_true(kind ? tables > 0 : tables == 0);
        eng_report *r = NULL;
        eng_report_figures tot = ENG_REPORT_FIGURES_INIT;
        assert_int_equal(eng_campaign_report(f.e, "root", f.campaign, NULL, &r), ENG_OK);
        assert_int_equal(eng_report_total(r, &tot), ENG_OK);
        assert_int_equal(tot.sent, pairs);
        assert_int_equal(tot.delivered, pairs);
        assert_int_equal(tot.contacted, custs);
        stored_equals_columns(&f, r, once_id, f.message);
        char *text = report_text(f.e, r);
        eng_report_free(r);
        same_text(&want, text);
        printf("recurring, kind %s: %zu ordered segments read as tables, %zu pairs sent\n",
               kind == 0 ? "2" : kind == 1 ? "3" : "2 and 3", tables, pairs);
        dx_close(&f);
    }
    free(want);
    build_kind = -1;
    eng__tseg_ordered = 0;
    eng__seg_seal_rows = seal;
}

/* A campaign without X-Engage and with a goal: the report reads its transactions a segment
 * at a time through the goal, and with threads in ranges of segments on them (eng__txn_plan,
 * each range into its own columns, dictionary and qualifying transactions, appended in
 * order): 1, 2 and 4 parts, and 2 read on the calling thread, give the same text, and the
 * threads ran. */
static void txn_ranges_same_report(void **state)
{
    (void)state;
    const uint32_t seal = eng__seg_seal_rows;
    const size_t min_rows = eng__attr_split_min_rows;
    eng__seg_seal_rows = 100;
    eng__attr_split_min_rows = 16;
    dx_threads = 3;
    dx f;
    dx_world(&f, 400, 64, 1, 1);
    goal_amount(&f);
    eng_message_spec m = dx_message();
    dx_approve(&f, &m);
    dx_run_all(&f, f.t0, NULL);
    dx_receipts(&f, f.t0 + ENG_HOUR, r_pick, NULL);
    /* six batches of purchases (each sealed: a segment a batch), 40 to 115 */
    uint32_t ids[400];
    for (unsigned b = 0; b < 6; b++) {
        size_t n = 0;
        for (uint32_t k = 0; k < 400; k++)
            if ((k + b) % 3)
                ids[n++] = k;
        const char tag[3] = {'b', (char)('0' + b), 0};
        dx_txns(&f, ids, n, f.t0 + (eng_time)(b + 1) * 12 * ENG_HOUR, 40 + 15 * (int64_t)b, tag);
    }
    const uint64_t before = eng__attr_split_runs[3], chunked = eng__report_txn_chunked;
    char *text = report_parts(&f);
    assert_true(eng__attr_split_runs[3] >= before + 1 + 3); /* 2 parts: a thread; 4: three */
    assert_true(eng__report_txn_chunked > chunked);
    assert_non_null(strstr(text, "\"responders\""));
    free(text);
    dx_close(&f);
    dx_threads = 1;
    eng__seg_seal_rows = seal;
    eng__attr_split_min_rows = min_rows;
}

/* A message's frozen control ids, each customer marked in @p in. */
static void control_ids(dx *f, uint64_t message, unsigned char *in)
{
    eng_audience *aud;
    assert_int_equal(eng_message_audience(f->e, "root", message, &aud), ENG_OK);
    uint64_t k = 0;
    size_t got = 0;
    assert_int_equal(eng_audience_count(aud, ENG_PART_CONTROL, &k), ENG_OK);
    uint32_t *ids = malloc((size_t)(k ? k : 1) * sizeof *ids);
    assert_non_null(ids);
    assert_int_equal(eng_audience_ids(aud, ENG_PART_CONTROL, 0, ids, (size_t)k, &got), ENG_OK);
    for (size_t i = 0; i < got; i++)
        in[ids[i]] = 1;
    free(ids);
    eng_audience_free(aud);
}

/* Three messages of one campaign: the odd customers, the even ones, the odd ones again. The
 * report's control group is the union of the three frozen control groups (counted here from
 * each message's audience), the third's skipped as the first's (the same content hash). */
static void control_union_of_messages(void **state)
{
    (void)state;
    dx f;
    enum { NC = 200 };
    dx_world(&f, NC, 64, 1, 1);
    static const char *const names[2] = {"odd", "even"};
    for (int k = 0; k < 2; k++) {
        uint32_t g;
        assert_int_equal(eng_group_create_uploaded(f.e, "root", names[k], &g), ENG_OK);
        char ext[NC / 2][8];
        const char *ids[NC / 2];
        for (int i = 0; i < NC / 2; i++) {
            snprintf(ext[i], sizeof ext[i], "c%d", 2 * i + (k == 0));
            ids[i] = ext[i];
        }
        assert_int_equal(eng_group_upload_ids(f.e, "root", g, ids, NC / 2, ENG_UPLOAD_REPLACE, NULL, NULL), ENG_OK);
    }
    unsigned char in[NC] = {0};
    for (int k = 0; k < 3; k++) {
        eng_message_spec m = dx_message();
        const char *const inc[] = {names[k % 2]};
        m.include = inc;
        m.title = k == 1 ? "Even" : "Odd";
        dx_approve(&f, &m);
        control_ids(&f, f.message, in);
    }
    dx_run_all(&f, f.t0, NULL);
    uint64_t want = 0, half[2] = {0, 0};
    for (uint32_t c = 0; c < NC; c++) {
        want += in[c];
        half[dx_ext(&f, c) % 2] += in[c];
    }
    assert_true(half[0] > 0 && half[1] > 0); /* both halves have control customers */
    const uint64_t same = eng__report_control_same;
    eng_report *r = NULL;
    assert_int_equal(eng_campaign_report(f.e, "root", f.campaign, NULL, &r), ENG_OK);
    eng_report_figures t = ENG_REPORT_FIGURES_INIT;
    assert_int_equal(eng_report_total(r, &t), ENG_OK);
    assert_int_equal(t.control_contacted, want);
    assert_int_equal(eng__report_control_same, same + 1);
    eng_report_free(r);
    dx_close(&f);
}

static void bad_calls(void **state)
{
    (void)state;
    dx f;
    dx_world(&f, 20, 64, 1, 1);
    eng_report *r = (eng_report *)&f; /* must be set to NULL */
    assert_int_equal(eng_campaign_report(f.e, "nobody", f.campaign, NULL, &r), ENG_EDENIED);
    assert_null(r);
    assert_int_equal(eng_campaign_report(f.e, "root", f.campaign + 999, NULL, &r), ENG_ENOTFOUND);
    eng_campaign_report_options o;
    assert_int_equal(eng_campaign_report_options_init(&o, ENG_CAMPAIGN_REPORT_OPTIONS_VERSION), ENG_OK);
    o.currency_places = 9;
    assert_int_equal(eng_campaign_report(f.e, "root", f.campaign, &o, &r), ENG_ERANGE);
    assert_string_equal(eng_error_last()->detail, "opts.currency_places");
    assert_int_equal(eng_campaign_report(f.e, "root", f.campaign, NULL, NULL), ENG_EINVAL);
    /* Nothing sent yet: an empty report, no estimates. */
    assert_int_equal(eng_campaign_report(f.e, "root", f.campaign, NULL, &r), ENG_OK);
    eng_ope_estimate e = ENG_OPE_ESTIMATE_INIT;
    assert_int_equal(eng_report_ope(r, ENG_OPE_PRIORITY, &e), ENG_OK);
    assert_false(e.known);
    assert_int_equal(eng_report_ope(r, 7, &e), ENG_ERANGE);
    eng_report_free(r);
    dx_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(figures_match_references),
        cmocka_unit_test(ope_matches_brute_force),
        cmocka_unit_test(threads_same_report),
    };
    const struct CMUnitTest alone[] = {
        cmocka_unit_test(kinds_same_report),
        cmocka_unit_test(recurring_kinds_same_report),
        cmocka_unit_test(txn_ranges_same_report),
        cmocka_unit_test(control_union_of_messages),
        cmocka_unit_test(bad_calls),
    };
    int failed = cmocka_run_group_tests(tests, setup, teardown);
    return failed + cmocka_run_group_tests(alone, NULL, NULL);
}
