/* Several engines on one store (storage contract v3, `changes`): a change
 * another engine commits to one org's customers drops only that org's
 * customer table and groups, not every org's. Two engines in this process
 * share one test store through a wrapper that implements the change feed
 * (every commit's keys, reported to the other handles) and counts the scans
 * of each org's customer table, i.e. its reloads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "engage.h"
#include "store/store_impl.h"
#include "test_alloc.h"
#include "test_store.h"
#include "test_util.h"

typedef struct feed {
    char (*key)[96];
    int *writer;
    size_t n, cap;
    unsigned table_scans[2]; /* scans of "a/o/oa/t/" and "a/o/ob/t/" */
} feed;

typedef struct fh {
    eng_store *in; /* a handle of the shared test store */
    feed *f;
    int id, in_batch;
    char (*pend)[96]; /* keys the open batch wrote */
    size_t npend, cpend;
} fh;

static void log_key(feed *f, int writer, const void *k, size_t kl)
{
    if (f->n == f->cap) {
        f->cap = f->cap ? 2 * f->cap : 64;
        f->key = realloc(f->key, f->cap * sizeof *f->key);
        f->writer = realloc(f->writer, f->cap * sizeof *f->writer);
        assert_true(f->key && f->writer);
    }
    size_t n = kl < 95 ? kl : 95;
    memcpy(f->key[f->n], k, n);
    f->key[f->n][n] = 0;
    f->writer[f->n++] = writer;
}

static void note(fh *h, const void *k, size_t kl)
{
    if (!h->in_batch) { /* a write outside a batch is a commit of its own */
        log_key(h->f, h->id, k, kl);
        return;
    }
    if (h->npend == h->cpend) {
        h->cpend = h->cpend ? 2 * h->cpend : 16;
        h->pend = realloc(h->pend, h->cpend * sizeof *h->pend);
        assert_non_null(h->pend);
    }
    size_t n = kl < 95 ? kl : 95;
    memcpy(h->pend[h->npend], k, n);
    h->pend[h->npend++][n] = 0;
}

static int w_get(const void *k, size_t kl, eng_buf *o, void *u)
{
    fh *h = u;
    return h->in->m.get(k, kl, o, h->in->user);
}

static int w_put(const void *k, size_t kl, const void *v, size_t vl, void *u)
{
    fh *h = u;
    int rc = h->in->m.put(k, kl, v, vl, h->in->user);
    if (rc == ENG_OK)
        note(h, k, kl);
    return rc;
}

static int w_del(const void *k, size_t kl, void *u)
{
    fh *h = u;
    int rc = h->in->m.del(k, kl, h->in->user);
    if (rc == ENG_OK)
        note(h, k, kl);
    return rc;
}

static int w_scan(const void *p, size_t pl, eng_store_scan_fn cb, void *cbu, void *u)
{
    fh *h = u;
    if (pl == 9 && memcmp(p, "a/o/oa/t/", 9) == 0)
        h->f->table_scans[0]++;
    if (pl == 9 && memcmp(p, "a/o/ob/t/", 9) == 0)
        h->f->table_scans[1]++;
    return h->in->m.scan(p, pl, cb, cbu, h->in->user);
}

static int w_begin(void *u)
{
    fh *h = u;
    int rc = h->in->m.begin(h->in->user);
    h->in_batch = rc == ENG_OK;
    h->npend = 0;
    return rc;
}

static int w_commit(void *u)
{
    fh *h = u;
    int rc = h->in->m.commit(h->in->user);
    if (rc == ENG_OK)
        for (size_t i = 0; i < h->npend; i++)
            log_key(h->f, h->id, h->pend[i], strlen(h->pend[i]));
    h->in_batch = 0;
    h->npend = 0;
    return rc;
}

static int w_rollback(void *u)
{
    fh *h = u;
    h->in_batch = 0;
    h->npend = 0;
    return h->in->m.rollback(h->in->user);
}

static void w_destroy(void *u)
{
    fh *h = u;
    eng_store_free(h->in);
    free(h->pend);
    free(h);
}

/* The other handles' keys after *cursor (the whole key: shortening is the backend's choice). */
static int w_changes(uint64_t *cursor, eng_store_change_fn cb, void *cb_user, void *u)
{
    fh *h = u;
    for (size_t i = (size_t)*cursor; cb && i < h->f->n; i++)
        if (h->f->writer[i] != h->id) {
            int rc = cb(h->f->key[i], strlen(h->f->key[i]), cb_user);
            if (rc)
                return rc;
        }
    *cursor = h->f->n;
    return ENG_OK;
}

static eng_engine *open_on(test_store *ts, feed *f, int id)
{
    static const eng_store_methods m = {ENG_STORE_METHODS_VERSION, w_get, w_put, w_del, w_scan, w_begin, w_commit,
                                        w_rollback, w_destroy, NULL, w_changes};
    fh *h = calloc(1, sizeof *h);
    assert_non_null(h);
    h->in = test_store_handle(ts);
    h->f = f;
    h->id = id;
    eng_store *s = NULL;
    assert_int_equal(eng_store_new(&m, h, test_alloc_get(), &s), ENG_OK);
    return test_engine_open(s);
}

static uint64_t count(eng_engine *e, const char *actor)
{
    uint64_t n = 0;
    assert_int_equal(eng_customers_count(e, actor, &n), ENG_OK);
    return n;
}

static void import(eng_engine *e, const char *actor, const char *csv)
{
    int rc = eng_customers_import_csv_buffer(e, actor, csv, strlen(csv), NULL, NULL);
    if (rc)
        fail_msg("import: %s", eng_error_last()->message);
}

static void one_org_reloads_alone(void **state)
{
    (void)state;
    test_store *ts = test_store_new();
    feed f;
    memset(&f, 0, sizeof f);
    eng_engine *a = open_on(ts, &f, 1), *b = open_on(ts, &f, 2);
    assert_int_equal(eng_org_create(a, "oa", NULL, "oa-admin", NULL), ENG_OK);
    assert_int_equal(eng_org_create(a, "ob", NULL, "ob-admin", NULL), ENG_OK);
    import(a, "oa-admin", "id,contact.sms,consent.sms\nA1,+15550000001,yes\nA2,+15550000002,yes\n");
    import(a, "ob-admin", "id,contact.sms,consent.sms\nB1,+15550000011,yes\n");
    /* B loads both orgs' customer tables */
    assert_int_equal(count(b, "oa-admin"), 2);
    assert_int_equal(count(b, "ob-admin"), 1);
    unsigned sa = f.table_scans[0], sb = f.table_scans[1];
    assert_true(sa >= 1 && sb >= 1);
    assert_int_equal(count(b, "oa-admin"), 2); /* cached: no reload */
    assert_int_equal(count(b, "ob-admin"), 1);
    assert_int_equal(f.table_scans[0], sa);
    assert_int_equal(f.table_scans[1], sb);

    /* A changes org oa's customers: B sees it (coherence) and reloads oa's table, not ob's */
    import(a, "oa-admin", "id,contact.sms,consent.sms\nA3,+15550000003,yes\n");
    assert_int_equal(count(b, "ob-admin"), 1);
    assert_int_equal(f.table_scans[1], sb); /* org ob's state was kept */
    assert_int_equal(count(b, "oa-admin"), 3);
    assert_int_equal(f.table_scans[0], sa + 1); /* org oa's was reloaded, once */
    sa = f.table_scans[0];

    /* and B may write to org ob at once: A's change to oa left nothing of ob stale */
    import(b, "ob-admin", "id,contact.sms,consent.sms\nB2,+15550000012,yes\n");
    assert_int_equal(count(a, "ob-admin"), 2);
    assert_int_equal(count(b, "ob-admin"), 2);
    assert_int_equal(count(b, "oa-admin"), 3);
    assert_int_equal(f.table_scans[0], sa); /* B's own write to ob did not reload oa */

    /* a key outside the orgs' prefixes ("a/i/": group owners) drops every org's state */
    uint32_t g;
    assert_int_equal(eng_group_create_uploaded(a, "oa-admin", "vip", &g), ENG_OK);
    sb = f.table_scans[1];
    assert_int_equal(count(b, "ob-admin"), 2);
    assert_int_equal(f.table_scans[1], sb + 1);

    assert_int_equal(eng_close(a), ENG_OK);
    assert_int_equal(eng_close(b), ENG_OK);
    free(f.key);
    free(f.writer);
    test_store_free(ts);
    test_alloc_assert_clean();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(one_org_reloads_alone),
    };
    return cmocka_run_group_tests_name("audience: several engines, invalidation per org", tests, NULL, NULL);
}
