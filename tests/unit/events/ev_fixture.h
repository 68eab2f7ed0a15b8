/* Shared by the events tests: an engine on the test store with org acme
 * (admin "admin") and customers
 * c0..c<n-1> (email and sms contacts, consent on both), and helpers to write
 * `sent` the way the dispatcher does (inside its own batch) and receipts. */
#ifndef EV_FIXTURE_H
#define EV_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "events/events_impl.h"
#include "test_alloc.h"
#include "test_store.h"
#include "test_util.h"

typedef struct evfx {
    test_store *ts;
    eng_engine *e;
    uint32_t ncust;
} evfx;

static inline void evfx_customers(evfx *f, uint32_t n)
{
    size_t cap = 64 + (size_t)n * 80;
    char *csv = malloc(cap);
    size_t len = (size_t)snprintf(csv, cap, "id,contact.email,consent.email,contact.sms,consent.sms\n");
    for (uint32_t i = 0; i < n; i++)
        len += (size_t)snprintf(csv + len, cap - len, "c%u,c%u@example.com,true,+9199%08u,true\n", i, i, i);
    eng_import_report r = ENG_IMPORT_REPORT_INIT;
    assert_int_equal(eng_customers_import_csv_buffer(f->e, "admin", csv, len, NULL, &r), ENG_OK);
    free(csv);
    f->ncust = n;
}

static inline void evfx_open(evfx *f, uint32_t customers)
{
    test_alloc_reset();
    f->ts = test_store_new();
    f->e = test_engine_open(test_store_handle(f->ts));
    f->ncust = 0;
    /* Customers belong to an org: the fixture's are acme's, imported by its admin. */
    assert_int_equal(eng_org_create(f->e, "acme", NULL, "admin", NULL), ENG_OK);
    if (customers)
        evfx_customers(f, customers);
}

static inline void evfx_reopen(evfx *f)
{
    eng_close(f->e);
    f->e = test_engine_open(test_store_handle(f->ts));
}

static inline void evfx_close(evfx *f)
{
    eng_close(f->e);
    test_store_free(f->ts);
    test_alloc_assert_clean();
}

/* An engine on no store whose allocations go through the test allocator (for
 * test_oom_loop flows), with org acme; the error of the first call that failed. */
static inline int evfx_oom_engine(eng_engine **out)
{
    eng_config cfg;
    eng_config_init(&cfg, ENG_CONFIG_VERSION);
    cfg.allocator = test_alloc_get();
    int rc = eng_open(&cfg, out);
    if (rc)
        return rc;
    if ((rc = eng_org_create(*out, "acme", NULL, "admin", NULL)))
        eng_close(*out);
    return rc;
}

/* The dispatcher's key (dispatch/ledger.c eng__send_key) of acme's context that
 * evfx_send_rc writes (message campaign * 10, version second 1), so receipts go
 * through the context's key map (events/keymap.c); sends of another org carry
 * it too and are found by hash. evfx_opaque_keys = 1: any other string (found
 * by hash only). */
static int evfx_opaque_keys;
static inline void evfx_key(char *buf, size_t cap, uint64_t campaign, uint32_t occ, uint32_t customer, int ch)
{
    if (evfx_opaque_keys)
        snprintf(buf, cap, "k/%llu/1/%u/%u/%d", (unsigned long long)campaign, occ, customer, ch);
    else
        snprintf(buf, cap, "acme/c%llu/m%llu.1000/o%u/u%u/%s", (unsigned long long)campaign,
                 (unsigned long long)campaign * 10, occ, customer, eng_channel_name(ch));
}

/* Write `sent` for customers [lo, hi) on channel ch in one batch, as the dispatcher would. */
static inline int evfx_send_rc(evfx *f, const char *org, uint64_t campaign, uint32_t lo, uint32_t hi, int ch,
                               eng_time t, eng__sent_result *res)
{
    eng__send_ctx ctx = {org, campaign, campaign * 10, 1, 0};
    size_t n = hi - lo;
    eng__sent_row *rows = calloc(n ? n : 1, sizeof *rows);
    char (*keys)[64] = calloc(n ? n : 1, 64);
    for (size_t i = 0; i < n; i++) {
        evfx_key(keys[i], 64, campaign, 0, lo + (uint32_t)i, ch);
        rows[i].key = keys[i];
        rows[i].klen = strlen(keys[i]);
        rows[i].customer = lo + (uint32_t)i;
        rows[i].channel = (uint8_t)ch;
        rows[i].time = t + (eng_time)i;
    }
    int rc = eng__enter(f->e);
    if (!rc) {
        if (!(rc = eng__kv_begin(f->e->store))) {
            rc = eng__touch_sent(f->e, &ctx, rows, n, res);
            if (!rc)
                rc = eng__kv_commit(f->e->store);
            if (rc)
                rc = eng__events_fail(f->e, rc);
        }
        eng__leave(f->e);
    }
    free(rows);
    free(keys);
    return rc;
}

static inline void evfx_send(evfx *f, const char *org, uint64_t campaign, uint32_t lo, uint32_t hi, int ch, eng_time t)
{
    assert_int_equal(evfx_send_rc(f, org, campaign, lo, hi, ch, t, NULL), ENG_OK);
}

/* A receipt batch over the caller's parallel arrays (details may be NULL). */
static inline eng_receipts evfx_receipts(size_t n, const char *const *keys, const int *statuses, const eng_time *times,
                                         const char *const *details)
{
    eng_receipts r = ENG_RECEIPTS_INIT;
    r.count = n;
    r.keys = keys;
    r.statuses = statuses;
    r.times = times;
    r.details = details;
    return r;
}

/* One receipt. */
static inline int evfx_receipt(evfx *f, uint64_t campaign, uint32_t customer, int ch, int status, eng_time t,
                               const char *detail, eng_event_report *rep)
{
    char key[64];
    evfx_key(key, sizeof key, campaign, 0, customer, ch);
    const char *keys[1] = {key}, *dets[1] = {detail};
    int st[1] = {status};
    eng_time ts[1] = {t};
    eng_receipts r = evfx_receipts(1, keys, st, ts, dets);
    return eng_touch_append(f->e, &r, rep);
}

/* A copy of the per-send arrays (eng__sends_view), to compare after a reopen. */
typedef struct evfx_sends {
    uint32_t n;
    eng__shot *hot;
    uint32_t *ctx, *customer;
    eng_time *sent_at;
} evfx_sends;

static inline void evfx_sends_take(evfx *f, evfx_sends *o)
{
    eng__sends_view v;
    assert_int_equal(eng__sends_view_get(f->e, &v), ENG_OK);
    o->n = v.n;
    o->hot = malloc((v.n + 1) * sizeof *o->hot);
    o->ctx = malloc((v.n + 1) * sizeof *o->ctx);
    o->customer = malloc((v.n + 1) * sizeof *o->customer);
    o->sent_at = malloc((v.n + 1) * sizeof *o->sent_at);
    memcpy(o->hot, v.hot, v.n * sizeof *o->hot);
    memcpy(o->ctx, v.ctx, v.n * sizeof *o->ctx);
    memcpy(o->customer, v.customer, v.n * sizeof *o->customer);
    memcpy(o->sent_at, v.sent_at, v.n * sizeof *o->sent_at);
}

static inline void evfx_sends_assert_equal(const evfx_sends *a, const evfx_sends *b)
{
    assert_int_equal(a->n, b->n);
    assert_memory_equal(a->hot, b->hot, a->n * sizeof *a->hot);
    assert_memory_equal(a->ctx, b->ctx, a->n * sizeof *a->ctx);
    assert_memory_equal(a->customer, b->customer, a->n * sizeof *a->customer);
    assert_memory_equal(a->sent_at, b->sent_at, a->n * sizeof *a->sent_at);
}

static inline void evfx_sends_free(evfx_sends *o)
{
    free(o->hot);
    free(o->ctx);
    free(o->customer);
    free(o->sent_at);
}

#endif
