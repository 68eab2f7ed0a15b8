/* What each transport outcome does to the ledger, the provider and the credits:
 * rejected is final and free; retry and unknown come back later with the same
 * key; a broken transport and an unanswered entry count as unknown; eight
 * failed attempts expire. Overdraft forbidden: the run waits for credits.
 * An unsubscribe that arrives mid-run is honoured. */
#include "dispatch_fixture.h"
#include "../model/store_digest.h"

/* The first test-group customer with an email contact (external id not a multiple of 5). */
static uint32_t pick(dx *f, size_t skip)
{
    size_t n;
    uint32_t *ids = dx_test_group(f, &n);
    uint32_t out = UINT32_MAX;
    for (size_t i = 0; i < n && out == UINT32_MAX; i++) {
        char ext[32];
        assert_int_equal(eng_customer_external_id(f->e, "root", ids[i], ext, sizeof ext), ENG_OK);
        if (strtoul(ext + 1, NULL, 10) % 5 && skip-- == 0)
            out = ids[i];
    }
    free(ids);
    assert_true(out != UINT32_MAX);
    return out;
}

static eng_send_info send_of(dx *f, uint32_t c, int ch)
{
    eng_send_info si = {.version = ENG_SEND_INFO_VERSION};
    assert_int_equal(eng_send_get(f->e, "root", f->message, 0, c, ch, &si), ENG_OK);
    return si;
}

static void outcomes(void **state)
{
    (void)state;
    dx f;
    dx_world(&f, 120, 16, 2, 1);
    eng_message_spec m = dx_message();
    dx_approve(&f, &m);
    uint32_t rej = pick(&f, 0), retry = pick(&f, 1), unk = pick(&f, 2), broken = pick(&f, 40), silent = pick(&f, 4),
             never = pick(&f, 5);
    f.prov.fault[dx_pair(rej, ENG_CH_SMS)] = DX_REJECT;
    f.prov.fault[dx_pair(retry, ENG_CH_SMS)] = DX_RETRY;
    f.prov.fault_times[dx_pair(retry, ENG_CH_SMS)] = 1;
    f.prov.fault[dx_pair(unk, ENG_CH_EMAIL)] = DX_UNKNOWN;
    f.prov.fault_times[dx_pair(unk, ENG_CH_EMAIL)] = 2;
    f.prov.fault[dx_pair(broken, ENG_CH_EMAIL)] = DX_ERROR; /* the whole batch call fails */
    f.prov.fault_times[dx_pair(broken, ENG_CH_EMAIL)] = 1;
    f.prov.fault[dx_pair(silent, ENG_CH_SMS)] = DX_UNANSWERED;
    f.prov.fault_times[dx_pair(silent, ENG_CH_SMS)] = 1;
    f.prov.fault[dx_pair(never, ENG_CH_SMS)] = DX_RETRY; /* for ever */
    eng_run_report first = ENG_RUN_REPORT_INIT;
    assert_int_equal(eng_run_due(f.e, "root", f.t0, NULL, &first), ENG_OK);
    assert_int_equal(first.finished, 0);
    assert_true(first.pending > 0);
    assert_true(first.next_due > f.t0);
    assert_int_equal(send_of(&f, rej, ENG_CH_SMS).state, ENG_LEDGER_REJECTED);
    assert_int_equal(send_of(&f, retry, ENG_CH_SMS).state, ENG_LEDGER_RETRY);
    assert_int_equal(send_of(&f, unk, ENG_CH_EMAIL).state, ENG_LEDGER_UNKNOWN);
    assert_int_equal(send_of(&f, broken, ENG_CH_EMAIL).state, ENG_LEDGER_UNKNOWN);
    assert_int_equal(send_of(&f, silent, ENG_CH_SMS).state, ENG_LEDGER_UNKNOWN);
    /* Calling again before the backoff sends nothing. */
    unsigned env = f.prov.envelopes;
    eng_run_report rep = ENG_RUN_REPORT_INIT;
    assert_int_equal(eng_run_due(f.e, "root", f.t0 + 1, NULL, &rep), ENG_OK);
    assert_int_equal(f.prov.envelopes, env);
    eng_run_report total = ENG_RUN_REPORT_INIT;
    dx_run_all(&f, first.next_due, &total);
    /* Rejected: one call, never again. Retried/unknown: same key, more calls, accepted once. */
    assert_int_equal(f.prov.calls[dx_pair(rej, ENG_CH_SMS)], 1);
    assert_int_equal(f.prov.calls[dx_pair(retry, ENG_CH_SMS)], 2);
    assert_int_equal(send_of(&f, retry, ENG_CH_SMS).attempts, 2);
    assert_int_equal(f.prov.calls[dx_pair(unk, ENG_CH_EMAIL)], 3);
    assert_int_equal(f.prov.delivered[dx_pair(unk, ENG_CH_EMAIL)], 1);
    assert_int_equal(send_of(&f, unk, ENG_CH_EMAIL).state, ENG_LEDGER_ACCEPTED);
    assert_int_equal(send_of(&f, broken, ENG_CH_EMAIL).state, ENG_LEDGER_ACCEPTED);
    assert_int_equal(send_of(&f, silent, ENG_CH_SMS).state, ENG_LEDGER_ACCEPTED);
    assert_int_equal(f.prov.calls[dx_pair(never, ENG_CH_SMS)], ENG_SEND_MAX_ATTEMPTS);
    assert_int_equal(send_of(&f, never, ENG_CH_SMS).state, ENG_LEDGER_EXPIRED);
    assert_int_equal(f.prov.key_changed, 0);
    /* Credits: exactly the accepted sends, by channel cost. */
    eng_execution_info x = {.version = ENG_EXECUTION_INFO_VERSION};
    assert_int_equal(eng_execution_get(f.e, "root", f.message, 0, &x), ENG_OK);
    assert_int_equal(x.state, ENG_EXEC_FINISHED);
    assert_int_equal(x.rejected, 1);
    assert_int_equal(x.expired, 1);
    assert_int_equal(x.accepted + x.rejected + x.expired + x.skipped, x.sends);
    int64_t cost = 0;
    uint64_t accepted = 0;
    for (size_t i = 0; i < f.n * DX_CH; i++)
        if (f.prov.delivered[i] && !(i == dx_pair(rej, ENG_CH_SMS) || i == dx_pair(never, ENG_CH_SMS))) {
            cost += i % DX_CH == ENG_CH_SMS ? 3 : 1;
            accepted++;
        }
    assert_int_equal(x.accepted, accepted);
    assert_int_equal(x.credits, cost);
    int64_t bal;
    assert_int_equal(eng_credits_balance(f.e, "root", ENG_CREDITS_CAMPAIGN, &bal), ENG_OK);
    assert_int_equal(bal, 1000000 - cost);
    dx_close(&f);
}

static void overdraft_forbidden_waits_for_credits(void **state)
{
    (void)state;
    dx f;
    dx_world(&f, 100, 10, 1, 1);
    eng_org_settings s;
    assert_int_equal(eng_org_settings_get(f.e, "root", &s), ENG_OK);
    s.forbid_overdraft = 1;
    assert_int_equal(eng_org_settings_set(f.e, "root", &s, NULL), ENG_OK);
    /* Leave 40 credits: a few chunks of ten customers (SMS 3 + email 1 each). */
    assert_int_equal(eng_credits_adjust(f.e, "root", ENG_CREDITS_CAMPAIGN, -1000000 + 40), ENG_OK);
    eng_message_spec m = dx_message();
    dx_approve(&f, &m);
    eng_run_report rep = ENG_RUN_REPORT_INIT;
    assert_int_equal(eng_run_due(f.e, "root", f.t0, NULL, &rep), ENG_OK);
    assert_int_equal(rep.blocked, ENG_ECREDITS);
    assert_int_equal(rep.finished, 0);
    assert_true(rep.accepted > 0);
    int64_t bal;
    assert_int_equal(eng_credits_balance(f.e, "root", ENG_CREDITS_CAMPAIGN, &bal), ENG_OK);
    assert_true(bal >= 0); /* never planned past what the balance covers */
    eng_execution_info x = {.version = ENG_EXECUTION_INFO_VERSION};
    assert_int_equal(eng_execution_get(f.e, "root", f.message, 0, &x), ENG_OK);
    assert_int_equal(x.state, ENG_EXEC_RUNNING);
    assert_int_equal(x.credits, 40 - bal);
    /* Top up: the run resumes and finishes; nobody got two. */
    assert_int_equal(eng_credits_adjust(f.e, "root", ENG_CREDITS_CAMPAIGN, 10000), ENG_OK);
    dx_run_all(&f, f.t0 + 1, NULL);
    for (size_t i = 0; i < f.n * DX_CH; i++)
        assert_true(f.prov.delivered[i] <= 1);
    assert_int_equal(eng_execution_get(f.e, "root", f.message, 0, &x), ENG_OK);
    assert_int_equal(x.state, ENG_EXEC_FINISHED);
    assert_int_equal(eng_credits_balance(f.e, "root", ENG_CREDITS_CAMPAIGN, &bal), ENG_OK);
    assert_int_equal(bal, 40 + 10000 - x.credits);
    dx_close(&f);
}

static void optout_of(dx *f, uint32_t c, const char *column)
{
    char ext[32];
    assert_int_equal(eng_customer_external_id(f->e, "root", c, ext, sizeof ext), ENG_OK);
    const char *names[] = {"id", column};
    const char *vals[] = {ext, "yes"};
    assert_int_equal(eng_customers_upsert(f->e, "root", names, 2, vals, 1, NULL, NULL), ENG_OK);
}

static void optout(dx *f, uint32_t c)
{
    optout_of(f, c, "optout.sms");
}

/* One customer's SMS is waiting for a retry, another's chunk is not planned
 * yet, when both opt out of SMS: neither gets it. A third's SMS arrived but
 * its answer was lost (unknown) when they opt out: not sent again, and final
 * as expired (it may have arrived), never counted as skipped. */
static void unsubscribe_mid_run(void **state)
{
    (void)state;
    dx f;
    dx_world(&f, 100, 10, 1, 1);
    eng_message_spec m = dx_message();
    dx_approve(&f, &m);
    size_t n;
    uint32_t *ids = dx_test_group(&f, &n);
    uint32_t first = ids[0], doubt = ids[1], again = ids[2], last = ids[n - 1];
    free(ids);
    f.prov.fault[dx_pair(first, ENG_CH_SMS)] = DX_RETRY;
    f.prov.fault[dx_pair(doubt, ENG_CH_SMS)] = DX_UNKNOWN;
    /* retried in the same pass as the two are settled without a call: one batch both sends and skips */
    f.prov.fault[dx_pair(again, ENG_CH_SMS)] = DX_RETRY;
    f.prov.fault_times[dx_pair(again, ENG_CH_SMS)] = 1;
    eng_run_options o = ENG_RUN_OPTIONS_INIT;
    o.max_batches = 1;
    eng_run_report rep = ENG_RUN_REPORT_INIT;
    assert_int_equal(eng_run_due(f.e, "root", f.t0, &o, &rep), ENG_OK);
    assert_int_equal(rep.batches, 1);
    assert_true(rep.pending > 0);
    assert_int_equal(f.prov.calls[dx_pair(first, ENG_CH_SMS)], 1);
    assert_int_equal(f.prov.calls[dx_pair(doubt, ENG_CH_SMS)], 1);
    optout(&f, first);
    optout(&f, doubt);
    optout(&f, last);
    eng_run_report total = ENG_RUN_REPORT_INIT;
    dx_run_all(&f, f.t0 + ENG_HOUR, &total);
    assert_int_equal(f.prov.calls[dx_pair(first, ENG_CH_SMS)], 1);
    assert_int_equal(f.prov.calls[dx_pair(doubt, ENG_CH_SMS)], 1);
    assert_int_equal(f.prov.calls[dx_pair(last, ENG_CH_SMS)], 0);
    assert_int_equal(f.prov.calls[dx_pair(again, ENG_CH_SMS)], 2);
    assert_int_equal(f.prov.delivered[dx_pair(again, ENG_CH_SMS)], 1);
    eng_send_info si = {.version = ENG_SEND_INFO_VERSION};
    assert_int_equal(eng_send_get(f.e, "root", f.message, 0, first, ENG_CH_SMS, &si), ENG_OK);
    assert_int_equal(si.state, ENG_LEDGER_SKIPPED);
    assert_int_equal(eng_send_get(f.e, "root", f.message, 0, doubt, ENG_CH_SMS, &si), ENG_OK);
    assert_int_equal(si.state, ENG_LEDGER_EXPIRED);
    assert_int_equal(eng_send_get(f.e, "root", f.message, 0, last, ENG_CH_SMS, &si), ENG_ENOTFOUND);
    eng_execution_info x = {.version = ENG_EXECUTION_INFO_VERSION};
    assert_int_equal(eng_execution_get(f.e, "root", f.message, 0, &x), ENG_OK);
    assert_int_equal(x.state, ENG_EXEC_FINISHED);
    assert_int_equal(x.skipped, 1);
    assert_int_equal(x.expired, 1);
    assert_int_equal(x.accepted + x.rejected + x.expired + x.skipped, x.sends);
    /* The run reports count them too: the calls after the first settled every send but its batch's. */
    assert_int_equal(total.skipped, 1);
    assert_int_equal(total.expired, 1);
    assert_int_equal(rep.accepted + total.accepted, x.accepted);
    /* The trace says why, customer by customer. */
    eng_trace t = {.version = ENG_TRACE_VERSION};
    assert_int_equal(eng_trace_get(f.e, "root", f.message, 0, first, &t), ENG_OK);
    assert_int_equal(t.reason, ENG_TRACE_CHOSEN);
    assert_int_equal(t.rule, ENG_RULE_ALL);
    assert_true(t.channels & (1u << ENG_CH_SMS));
    assert_int_equal(t.state[ENG_CH_SMS], ENG_LEDGER_SKIPPED);
    assert_int_equal(t.unreach[ENG_CH_SMS], ENG_UNREACH_OPTED_OUT);
    assert_int_equal(eng_trace_get(f.e, "root", f.message, 0, last, &t), ENG_OK);
    assert_int_equal(t.channels & (1u << ENG_CH_SMS), 0);
    assert_int_equal(t.state[ENG_CH_SMS], -1);
    if (t.reason == ENG_TRACE_UNREACHABLE)
        assert_int_equal(t.unreach[ENG_CH_SMS], ENG_UNREACH_OPTED_OUT);
    else
        assert_int_equal(t.state[ENG_CH_EMAIL], ENG_LEDGER_ACCEPTED);
    eng_audience *aud;
    assert_int_equal(eng_message_audience(f.e, "root", f.message, &aud), ENG_OK);
    uint32_t ctl;
    size_t got;
    assert_int_equal(eng_audience_ids(aud, ENG_PART_CONTROL, 0, &ctl, 1, &got), ENG_OK);
    eng_audience_free(aud);
    assert_int_equal(got, 1);
    assert_int_equal(eng_trace_get(f.e, "root", f.message, 0, ctl, &t), ENG_OK);
    assert_int_equal(t.reason, ENG_TRACE_CONTROL);
    assert_int_equal(f.prov.calls[dx_pair(ctl, ENG_CH_SMS)], 0);
    const char *names[] = {"id", "contact.sms", "consent.sms"};
    const char *vals[] = {"late", "+15559999999", "yes"};
    assert_int_equal(eng_customers_upsert(f.e, "root", names, 3, vals, 1, NULL, NULL), ENG_OK);
    uint32_t late;
    assert_int_equal(eng_customer_find(f.e, "root", "late", &late), ENG_OK);
    assert_int_equal(eng_trace_get(f.e, "root", f.message, 0, late, &t), ENG_OK);
    assert_int_equal(t.reason, ENG_TRACE_NOT_IN_AUDIENCE);
    dx_close(&f);
}

/* One receipt of @p status for @p key at @p at: the append's report. */
static eng_event_report receipt(dx *f, const char *key, int status, eng_time at)
{
    const char *keys[] = {key, key};
    int st[] = {status, ENG_TOUCH_OPENED};
    eng_time t[] = {at, at + 1};
    eng_receipts r = ENG_RECEIPTS_INIT;
    r.count = status == ENG_TOUCH_DELIVERED ? 2 : 1; /* delivered comes with its open, in one batch */
    r.keys = keys, r.statuses = st, r.times = t;
    eng_event_report rep = ENG_EVENT_REPORT_INIT;
    assert_int_equal(eng_touch_append(f->e, &r, &rep), ENG_OK);
    return rep;
}

static uint64_t pending(dx *f)
{
    uint64_t n = UINT64_MAX;
    assert_int_equal(eng_touch_pending(f->e, &n), ENG_OK);
    return n;
}

/* Sends expired in doubt without a receipt yet (eng_touch_in_doubt). */
static uint64_t in_doubt(dx *f)
{
    uint64_t n = UINT64_MAX;
    assert_int_equal(eng_touch_in_doubt(f->e, &n), ENG_OK);
    return n;
}

/* One customer's touches on one channel: the statuses (bit s) and the `sent` row's time. */
typedef struct seen {
    int ch;
    unsigned mask;
    eng_time sent_at;
} seen;

static int seen_fn(const eng_touch_row *r, void *u)
{
    seen *s = u;
    if (r->channel == s->ch) {
        assert_int_equal(s->mask & (1u << r->status), 0); /* once each */
        s->mask |= 1u << r->status;
        if (r->status == ENG_TOUCH_SENT)
            s->sent_at = r->time;
    }
    return 0;
}

static seen touches(dx *f, uint32_t c, int ch)
{
    seen s = {ch, 0, 0};
    assert_int_equal(eng_touches_of_customer(f->e, "acme", c, seen_fn, &s), ENG_OK);
    return s;
}

static uint64_t touched(dx *f)
{
    uint64_t counts[ENG_CH_COUNT * ENG_TOUCH_STATUS_COUNT], n = 0;
    assert_int_equal(eng_touch_status_counts(f->e, "acme", f->campaign, f->message, counts,
                                             ENG_CH_COUNT * ENG_TOUCH_STATUS_COUNT), ENG_OK);
    for (size_t i = 0; i < ENG_CH_COUNT * ENG_TOUCH_STATUS_COUNT; i++)
        n += counts[i];
    return n;
}

/* A send stored expired was handed over with no sure answer (engage/dispatch.h: it may have
 * arrived): it keeps its key for the provider's receipts. A receipt of one, before or after
 * the expiry, proves it left: its `sent` is written (no later than the receipt) and the receipt
 * joins it, instead of waiting for ever. A send skipped (its customer left after a "retry"
 * answer: never taken) does not: a receipt of its key waits, unmatched. Across reopens. */
static void receipts_of_sends_expired_in_doubt(void **state)
{
    (void)state;
    dx f;
    dx_world(&f, 60, 10, 1, 1);
    eng_message_spec m = dx_message();
    dx_approve(&f, &m);
    uint32_t lost = pick(&f, 0), early = pick(&f, 1), left = pick(&f, 2), retried = pick(&f, 3), once = pick(&f, 4);
    f.prov.fault[dx_pair(lost, ENG_CH_EMAIL)] = DX_UNKNOWN; /* for ever: expires in doubt */
    f.prov.fault[dx_pair(early, ENG_CH_EMAIL)] = DX_UNKNOWN; /* the same, its receipts before the expiry */
    f.prov.fault[dx_pair(left, ENG_CH_EMAIL)] = DX_UNKNOWN; /* in doubt when the customer opts out */
    f.prov.fault[dx_pair(retried, ENG_CH_EMAIL)] = DX_RETRY; /* for ever: the ledger keeps the last answer only */
    f.prov.fault[dx_pair(once, ENG_CH_EMAIL)] = DX_RETRY; /* then the customer opts out: skipped */
    f.prov.fault_times[dx_pair(once, ENG_CH_EMAIL)] = 1;
    eng_run_report rep = ENG_RUN_REPORT_INIT;
    assert_int_equal(eng_run_due(f.e, "root", f.t0, NULL, &rep), ENG_OK);
    eng_send_info s[5];
    const uint32_t who[5] = {lost, early, left, retried, once};
    for (int i = 0; i < 5; i++)
        s[i] = send_of(&f, who[i], ENG_CH_EMAIL);
    assert_int_equal(in_doubt(&f), 0); /* none expired yet */
    eng_event_report er = receipt(&f, s[1].key, ENG_TOUCH_DELIVERED, f.t0 + 1000);
    assert_int_equal(er.unmatched, 2); /* its send not final yet: waits */
    assert_int_equal(pending(&f), 2);
    assert_int_equal(in_doubt(&f), 0);
    optout_of(&f, left, "optout.email");
    optout_of(&f, once, "optout.email");
    dx_run_all(&f, rep.next_due, NULL);
    for (int i = 0; i < 5; i++)
        assert_int_equal(send_of(&f, who[i], ENG_CH_EMAIL).state, i == 4 ? ENG_LEDGER_SKIPPED : ENG_LEDGER_EXPIRED);
    assert_int_equal(f.prov.calls[dx_pair(left, ENG_CH_EMAIL)], 1);
    assert_int_equal(f.prov.calls[dx_pair(once, ENG_CH_EMAIL)], 1);
    /* the early receipts joined their send as it expired, its `sent` no later than them */
    assert_int_equal(pending(&f), 0);
    /* expired in doubt without a receipt: lost, left, retried (the skipped one was never handed
     * over twice, the early one is proven); the count, not the ledger, tells them from the early one */
    assert_int_equal(in_doubt(&f), 3);
    assert_int_equal(eng_touch_in_doubt(f.e, NULL), ENG_EINVAL);
    uint64_t n = 77; /* an out-parameter is zeroed on failure, never left stale */
    assert_int_equal(eng_touch_in_doubt(NULL, &n), ENG_EMISUSE);
    assert_int_equal(n, 0);
    n = 77;
    assert_int_equal(eng_touch_pending(NULL, &n), ENG_EMISUSE);
    assert_int_equal(n, 0);
    seen e = touches(&f, early, ENG_CH_EMAIL);
    assert_int_equal(e.mask, 1u << ENG_TOUCH_SENT | 1u << ENG_TOUCH_DELIVERED | 1u << ENG_TOUCH_OPENED);
    assert_true(e.sent_at <= f.t0 + 1000);
    assert_int_equal(touches(&f, lost, ENG_CH_EMAIL).mask, 0); /* no receipt: no touch, the ledger says expired */
    eng_execution_info x = {.version = ENG_EXECUTION_INFO_VERSION};
    assert_int_equal(eng_execution_get(f.e, "root", f.message, 0, &x), ENG_OK);
    assert_int_equal(x.expired, 4);
    assert_int_equal(x.skipped, 1);
    assert_int_equal(touched(&f), x.accepted + 1);

    /* the others' receipts after a reopen (the kept keys read back) */
    dx_reopen(&f);
    assert_int_equal(in_doubt(&f), 3); /* read back */
    eng_time late = f.t0 + 30 * ENG_DAY;
    for (int i = 0; i < 5; i++) {
        if (i == 1)
            continue;
        uint64_t was = in_doubt(&f);
        er = receipt(&f, s[i].key, ENG_TOUCH_DELIVERED, late);
        assert_int_equal(in_doubt(&f), was - (i == 4 ? 0 : 1)); /* proven: counted no longer */
        assert_int_equal(er.rows, 2);
        assert_int_equal(er.accepted, i == 4 ? 0 : 2);
        assert_int_equal(er.unmatched, i == 4 ? 2 : 0);
        seen t = touches(&f, who[i], ENG_CH_EMAIL);
        assert_int_equal(t.mask, i == 4 ? 0 : 1u << ENG_TOUCH_SENT | 1u << ENG_TOUCH_DELIVERED | 1u << ENG_TOUCH_OPENED);
        if (i != 4)
            assert_true(t.sent_at > f.t0 && t.sent_at <= late);
    }
    assert_int_equal(pending(&f), 2); /* the skipped send's receipts wait */
    er = receipt(&f, s[0].key, ENG_TOUCH_CLICKED, late + 5);
    assert_int_equal(er.accepted, 1);
    er = receipt(&f, s[2].key, ENG_TOUCH_DELIVERED, late);
    assert_int_equal(er.duplicates, 2);
    assert_int_equal(touched(&f), x.accepted + 4);
    dx_reopen(&f);
    assert_int_equal(pending(&f), 2);
    assert_int_equal(in_doubt(&f), 0);
    assert_int_equal(touched(&f), x.accepted + 4);
    assert_int_equal(touches(&f, lost, ENG_CH_EMAIL).mask,
                     1u << ENG_TOUCH_SENT | 1u << ENG_TOUCH_DELIVERED | 1u << ENG_TOUCH_OPENED | 1u << ENG_TOUCH_CLICKED);
    dx_close(&f);
}

static void no_transport_refuses_to_run(void **state)
{
    (void)state;
    test_alloc_reset();
    eng_engine *e = test_engine_open(NULL);
    eng_run_report rep = ENG_RUN_REPORT_INIT;
    assert_int_equal(eng_run_due(e, "root", 0, NULL, &rep), ENG_ETRANSPORT);
    assert_int_equal(eng_run_due(NULL, "root", 0, NULL, &rep), ENG_EMISUSE);
    rep.version = 99;
    assert_int_equal(eng_run_due(e, "root", 0, NULL, &rep), ENG_EVERSION);
    eng_close(e);
    test_alloc_assert_clean();
}

/* A run's time outside 1970..9999, or a lease as long, is refused and changes nothing: the
 * retry times and leases count from it (INT64_MAX + a backoff overflowed, found by fuzz_api). */
static void absurd_times_refused(void **state)
{
    (void)state;
    dx f;
    dx_world(&f, 20, 16, 1, 1);
    eng_message_spec m = dx_message();
    dx_approve(&f, &m);
    f.prov.fault[dx_pair(1, ENG_CH_SMS)] = DX_RETRY;
    eng_run_report rep = ENG_RUN_REPORT_INIT;
    static const eng_time bad[] = {-1, INT64_MIN, INT64_MAX, 253402300800000};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        REFUSED_ON(f.e, eng_run_due(f.e, "root", bad[i], NULL, &rep), ENG_ERANGE);
        assert_int_equal(eng_run_due(f.e, "root", bad[i], NULL, &rep), ENG_ERANGE);
        assert_string_equal(eng_error_last()->detail, "now");
    }
    eng_run_options o = ENG_RUN_OPTIONS_INIT;
    o.lease_ms = UINT64_MAX;
    REFUSED_ON(f.e, eng_run_due(f.e, "root", f.t0, &o, &rep), ENG_ERANGE);
    assert_int_equal(eng_run_due(f.e, "root", f.t0, &o, &rep), ENG_ERANGE);
    assert_string_equal(eng_error_last()->detail, "opts.lease_ms");
    /* the last time there is: sent, the retry waiting after it */
    assert_int_equal(eng_run_due(f.e, "root", 253402300799999, NULL, &rep), ENG_OK);
    assert_true(rep.sent > 0 && rep.pending > 0 && rep.next_due > 253402300799999);
    dx_close(&f);
}

/* The per-customer readers keep the ids of the last frozen audience they were
 * asked about: interleaved questions about two messages with different
 * audiences get each message's own answer (checked against the audiences
 * loaded afresh), and asking again about the same message reads less. */
static void readers_keep_each_message_apart(void **state)
{
    (void)state;
    dx f;
    dx_world(&f, 60, 16, 1, 1);
    uint32_t g;
    assert_int_equal(eng_group_create_uploaded(f.e, "root", "odd", &g), ENG_OK);
    char names[30][8];
    const char *odd[30];
    for (int i = 0; i < 30; i++) {
        snprintf(names[i], sizeof names[i], "c%d", 2 * i + 1);
        odd[i] = names[i];
    }
    assert_int_equal(eng_group_upload_ids(f.e, "root", g, odd, 30, ENG_UPLOAD_REPLACE, NULL, NULL), ENG_OK);
    eng_message_spec m = dx_message();
    dx_approve(&f, &m);
    uint64_t m1 = f.message;
    size_t n1, n2;
    uint32_t *t1 = dx_test_group(&f, &n1);
    static const char *const inc[] = {"odd"};
    m.title = "Odd ones";
    m.include = inc;
    dx_approve(&f, &m);
    uint64_t m2 = f.message;
    uint32_t *t2 = dx_test_group(&f, &n2);
    dx_run_all(&f, f.t0, NULL);
    assert_true(n1 > n2 && n2 > 0);
    for (uint32_t c = 0; c < 60; c++) {
        for (int k = 0; k < 2; k++) {
            const uint32_t *t = k ? t2 : t1;
            size_t n = k ? n2 : n1;
            int in = 0;
            for (size_t i = 0; i < n; i++)
                in |= t[i] == c;
            eng_trace tr = ENG_TRACE_INIT;
            assert_int_equal(eng_trace_get(f.e, "root", k ? m2 : m1, 0, c, &tr), ENG_OK);
            if (in)
                assert_true(tr.reason == ENG_TRACE_CHOSEN || tr.reason == ENG_TRACE_UNREACHABLE);
            else
                assert_true(tr.reason == ENG_TRACE_CONTROL || tr.reason == ENG_TRACE_NOT_IN_AUDIENCE);
            eng_send_info si = ENG_SEND_INFO_INIT;
            int rc = eng_send_get(f.e, "root", k ? m2 : m1, 0, c, ENG_CH_SMS, &si);
            assert_int_equal(rc, in && (tr.channels >> ENG_CH_SMS & 1) ? ENG_OK : ENG_ENOTFOUND);
        }
    }
    /* A second question about the same message does not load its audience again. */
    eng_trace tr = ENG_TRACE_INIT;
    assert_int_equal(eng_trace_get(f.e, "root", m1, 0, t1[0], &tr), ENG_OK);
    uint64_t before = test_store_calls(f.ts, TV_GET | TV_SCAN);
    assert_int_equal(eng_trace_get(f.e, "root", m2, 0, t2[0], &tr), ENG_OK);
    uint64_t cold = test_store_calls(f.ts, TV_GET | TV_SCAN) - before;
    before = test_store_calls(f.ts, TV_GET | TV_SCAN);
    assert_int_equal(eng_trace_get(f.e, "root", m2, 0, t2[1], &tr), ENG_OK);
    uint64_t warm = test_store_calls(f.ts, TV_GET | TV_SCAN) - before;
    assert_true(warm < cold);
    free(t1);
    free(t2);
    dx_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(outcomes),
        cmocka_unit_test(readers_keep_each_message_apart),
        cmocka_unit_test(overdraft_forbidden_waits_for_credits),
        cmocka_unit_test(unsubscribe_mid_run),
        cmocka_unit_test(receipts_of_sends_expired_in_doubt),
        cmocka_unit_test(no_transport_refuses_to_run),
        cmocka_unit_test(absurd_times_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
