/* Erasure (docs/privacy.md): after eng_customer_erase the file store's file
 * and every other file in its directory no longer hold the customer's
 * email, phone, external id or name (a plain byte search), while what the
 * books keep — counts, uploaded groups minus the customer, frozen audiences
 * and their hashes, the audit chain — still holds and verifies. Under a
 * storage failure at every write, the reopened engine has erased the customer
 * completely or not at all. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engage.h"
#include "base/hash.h"
#include "store/file_impl.h"
#include "test_alloc.h"
#include "test_store.h"
#include "test_util.h"

/* Run with string external ids, then again with integer ones (int_ids): an
 * integer id is stored as a varint, so the byte search looks for that too. */
static int int_ids;
static const char *const pat_s[] = {"cust-PAT-77", "pat.doe@example.org", "+4915112345678", "Patricia Doe",
                                    "Patricia Older"};
static const char *const pat_i[] = {"7700770077123", "pat.doe@example.org", "+4915112345678", "Patricia Doe",
                                    "Patricia Older"};
#define pat (int_ids ? pat_i : pat_s)
#define NPAT 5

/* Customer i's external id ("c<i>", or 1000+i for integer ids). */
static const char *cid(int i)
{
    static char b[8][24];
    static int k;
    char *o = b[k++ & 7];
    snprintf(o, sizeof b[0], int_ids ? "%d" : "c%d", int_ids ? 1000 + i : i);
    return o;
}

/* Pat's integer id as the delta stores it (a zigzag varint), for the byte search. */
static size_t pat_varint(uint8_t *out)
{
    uint64_t u = (uint64_t)strtoll(pat_i[0], NULL, 10) << 1;
    size_t n = 0;
    for (; u >= 0x80; u >>= 7)
        out[n++] = (uint8_t)(u | 0x80);
    out[n++] = (uint8_t)u;
    return n;
}

/* Whether Pat's value i is in the directory's files / the store: as text, or
 * (the phone) in the form the import stores it. */
static int dir_has_pat(const char *dir, size_t i)
{
    unsigned char v[12];
    size_t nv = test_phone_delta_bytes(pat[2], v);
    return test_dir_has_bytes(dir, pat[i], strlen(pat[i])) || (i == 2 && test_dir_has_bytes(dir, v, nv));
}

static int store_has_pat(test_store *ts, size_t i)
{
    unsigned char v[12];
    size_t nv = test_phone_delta_bytes(pat[2], v);
    return test_store_grep(ts, pat[i], strlen(pat[i])) || (i == 2 && test_store_grep(ts, v, nv));
}

/* Two imports (Pat's name changes in the second: the first value is in an older
 * frame), an uploaded group with Pat, a frozen audience with Pat, an org admin. */
/* Two transactions of Pat (one stored before Pat is imported, so with the
 * external id as given) and one of c1. */
static void transactions(eng_engine *e, int before)
{
    const char *tid[] = {before ? "t-early" : "t-late", "t-c1"}, *cust[] = {pat[0], cid(1)};
    eng_time t[] = {before ? 1000 : 2000, 3000};
    int64_t amt[] = {before ? 123400 : 56700, 89000};
    eng_txn_batch b = ENG_TXN_BATCH_INIT;
    b.count = before ? 1 : 2;
    b.ids = tid;
    b.customers = cust;
    b.times = t;
    b.amounts = amt;
    assert_int_equal(eng_txn_append(e, "acme", &b, NULL, NULL), ENG_OK);
}

static void setup(eng_engine *e)
{
    assert_int_equal(eng_org_create(e, "acme", NULL, "boss", NULL), ENG_OK);
    if (int_ids)
        assert_int_equal(eng_customers_set_id_kind(e, "boss", ENG_ID_INT64), ENG_OK);
    transactions(e, 1);
    assert_int_equal(eng_customers_add_column(e, "boss", "name", ENG_COL_STRING), ENG_OK);
    char csv[4096];
    size_t len = (size_t)snprintf(csv, sizeof csv,
                                  "id,contact.email,contact.sms,consent.email,consent.sms,name\n"
                                  "%s,pat.doe@example.org,+4915112345678,true,true,Patricia Older\n",
                                  pat[0]);
    for (int i = 0; i < 20; i++)
        len += (size_t)snprintf(csv + len, sizeof csv - len, "%s,c%d@example.com,+49170000000%02d,true,true,N%d\n",
                                cid(i), i, i, i);
    assert_int_equal(eng_customers_import_csv_buffer(e, "boss", csv, len, NULL, NULL), ENG_OK);
    char second[256];
    len = (size_t)snprintf(second, sizeof second, "id,name,consent.sms\n%s,Patricia Doe,2026-01-02\n%s,Three,false\n",
                           pat[0], cid(3));
    assert_int_equal(eng_customers_import_csv_buffer(e, "boss", second, len, NULL, NULL), ENG_OK);
    uint32_t g;
    assert_int_equal(eng_group_create_uploaded(e, "boss", "vips", &g), ENG_OK);
    const char *ids[] = {cid(1), pat[0], cid(2)};
    assert_int_equal(eng_group_upload_ids(e, "boss", g, ids, 3, ENG_UPLOAD_REPLACE, NULL, NULL), ENG_OK);
    eng_audience_query q = ENG_AUDIENCE_QUERY_INIT;
    const char *inc[] = {"vips"};
    q.include = inc;
    q.n_include = 1;
    eng_audience *a;
    assert_int_equal(eng_audience_resolve(e, "boss", &q, &a), ENG_OK);
    assert_int_equal(eng_audience_freeze(a, "boss", "frozen/1"), ENG_OK);
    eng_audience_free(a);
    transactions(e, 0);
}

typedef struct books {
    uint64_t customers, group, frozen_all;
    uint8_t frozen_hash[32];
    uint64_t txns, txns_of_0; /* transactions, and those joined to dense id 0 (Pat) */
    uint64_t txns_no_ext;     /* rows whose external id reads "" (an erased customer's) */
    int64_t amount;
} books;

static int on_txn(const eng_txn_row *r, void *user)
{
    books *b = user;
    b->txns++;
    b->txns_of_0 += r->customer == 0;
    assert_non_null(r->external_id);
    b->txns_no_ext += r->external_id[0] == '\0';
    b->amount += r->amount;
    return 0;
}

static void read_books(eng_engine *e, books *b)
{
    assert_int_equal(eng_customers_count(e, "boss", &b->customers), ENG_OK);
    uint32_t g;
    assert_int_equal(eng_group_find(e, "boss", "vips", &g), ENG_OK);
    assert_int_equal(eng_group_count(e, "boss", g, &b->group), ENG_OK);
    eng_audience *a;
    assert_int_equal(eng_audience_load_frozen(e, "boss", "frozen/1", &a), ENG_OK); /* verifies the hash */
    assert_int_equal(eng_audience_count(a, ENG_PART_ALL, &b->frozen_all), ENG_OK);
    assert_int_equal(eng_audience_hash(a, b->frozen_hash), ENG_OK);
    eng_audience_free(a);
    b->txns = b->txns_of_0 = b->txns_no_ext = 0;
    b->amount = 0;
    assert_int_equal(eng_txn_scan(e, "acme", NULL, 0, 0, on_txn, b), ENG_OK);
    uint64_t bad = 1;
    assert_int_equal(eng_audit_verify(e, "boss", &bad), ENG_OK);
    assert_int_equal(bad, 0);
}

/* Changes in a customer's consent history (ENG_ENOTFOUND: -1). */
static int history_len(eng_engine *e, uint32_t id)
{
    eng_consent_iter *it;
    int rc = eng_consent_history(e, "boss", id, &it);
    if (rc == ENG_ENOTFOUND)
        return -1;
    assert_int_equal(rc, ENG_OK);
    eng_consent_change c = ENG_CONSENT_CHANGE_INIT;
    int n = 0;
    while ((rc = eng_consent_next(it, &c)) == ENG_OK)
        n++;
    assert_int_equal(rc, ENG_ITEROVER);
    eng_consent_iter_free(it);
    return n;
}

/* Is Pat still there (1), fully gone (0)? Anything in between fails the test. */
static int pat_state(eng_engine *e)
{
    uint32_t id;
    int rc = eng_customer_find(e, "boss", pat[0], &id);
    if (rc == ENG_OK) {
        char buf[256];
        size_t n;
        assert_int_equal(eng_customer_get(e, "boss", id, "contact.email", buf, sizeof buf, &n), ENG_OK);
        assert_string_equal(buf, pat[1]);
        assert_int_equal(eng_customer_get(e, "boss", id, "name", buf, sizeof buf, &n), ENG_OK);
        assert_string_equal(buf, pat[3]);
        assert_int_equal(history_len(e, id), 3); /* email and sms given, then sms at another time */
        return 1;
    }
    assert_int_equal(rc, ENG_ENOTFOUND);
    assert_int_equal(eng_customer_get(e, "boss", 0, "contact.email", (char[8]){0}, 8, &(size_t){0}), ENG_ENOTFOUND);
    return 0;
}

static int dir_has(const char *dir, const char *needle) { return test_dir_has_bytes(dir, needle, strlen(needle)); }

static eng_engine *open_file(const char *path, unsigned flags)
{
    eng_store *s = NULL;
    assert_int_equal(eng_store_file_open(path, flags, test_alloc_get(), &s), ENG_OK);
    return test_engine_open(s);
}

/* A new directory (returned) with the file store at @p path set up as setup() does,
 * the engine left open. */
static char *file_world(char path[1024], eng_engine **e)
{
    test_alloc_reset();
    char *dir = test_tmpdir();
    snprintf(path, 1024, "%s/engage.db", dir);
    *e = open_file(path, ENG_STORE_CREATE);
    setup(*e);
    return dir;
}

static void erase_in_file_store(void **state)
{
    (void)state;
    char path[1024];
    eng_engine *e;
    char *dir = file_world(path, &e);
    books before, after;
    read_books(e, &before);
    eng_close(e);
    for (size_t i = 0; i < NPAT; i++)
        assert_int_equal(dir_has_pat(dir, i), 1); /* the search finds what is there */
    uint8_t vi[10];
    size_t nvi = pat_varint(vi);
    if (int_ids)
        assert_int_equal(test_dir_has_bytes(dir, vi, nvi), 1);

    e = open_file(path, 0);
    assert_int_equal(eng_customer_erase(e, "nobody", pat[0]), ENG_EDENIED);
    /* Another org's admin reaches only their own org's customers (none of that id). */
    assert_int_equal(eng_org_create(e, "beta", NULL, "bea", NULL), ENG_OK);
    assert_int_equal(eng_customer_erase(e, "bea", pat[0]), ENG_ENOTFOUND);
    assert_int_equal(eng_customer_export_json(e, "bea", pat[0], &(char *){NULL}, &(size_t){0}), ENG_ENOTFOUND);
    assert_int_equal(pat_state(e), 1);
    assert_int_equal(eng_customer_erase(e, "boss", int_ids ? "7700770077124" : "cust-PAT-78"), ENG_ENOTFOUND);
    assert_null(strstr(eng_error_last()->message, int_ids ? "77007" : "PAT"));
    assert_int_equal(eng_customer_erase(e, "boss", pat[0]), ENG_OK);
    assert_int_equal(pat_state(e), 0);
    assert_int_equal(eng_customer_erase(e, "boss", pat[0]), ENG_ENOTFOUND); /* cannot be erased twice */
    read_books(e, &after);
    eng_close(e);

    /* The bytes are gone from every file in the directory. */
    for (size_t i = 0; i < NPAT; i++)
        assert_int_equal(dir_has_pat(dir, i), 0);
    if (int_ids)
        assert_int_equal(test_dir_has_bytes(dir, vi, nvi), 0);
    assert_int_equal(dir_has(dir, "c7@example.com"), 1); /* the others stay */

    /* What the books keep: the customer count (the tombstone keeps its dense
     * id), the frozen audience and its hash; the group lost Pat; audit verifies. */
    e = open_file(path, 0);
    read_books(e, &after);
    assert_int_equal(after.customers, before.customers);
    assert_int_equal(after.frozen_all, before.frozen_all);
    assert_memory_equal(after.frozen_hash, before.frozen_hash, 32);
    assert_int_equal(after.group, before.group - 1);
    assert_int_equal(after.txns, 3);
    assert_int_equal(after.txns, before.txns);
    assert_int_equal(after.amount, before.amount); /* every total stays */
    assert_int_equal(after.txns_of_0, 2);          /* both of Pat's, the early one bound for good */
    assert_int_equal(after.txns_of_0, before.txns_of_0);
    assert_int_equal(before.txns_no_ext, 0);
    assert_int_equal(after.txns_no_ext, after.txns_of_0); /* no id left, not a placeholder */
    assert_int_equal(pat_state(e), 0);

    /* The audit names the erasure by the SHA-256 of the id. */
    uint8_t h[32];
    char want[9 + 65] = "customer/";
    eng__sha256(pat[0], strlen(pat[0]), h);
    eng__hex(h, 32, want + 9);
    eng_audit_iter *it;
    eng_audit_entry x = ENG_AUDIT_ENTRY_INIT;
    int seen = 0, rc;
    assert_int_equal(eng_audit_open(e, "boss", &it), ENG_OK);
    while ((rc = eng_audit_next(it, &x)) == ENG_OK)
        if (strcmp(x.action, "erase") == 0) {
            assert_string_equal(x.object, want);
            assert_string_equal(x.actor, "boss");
            seen++;
        }
    assert_int_equal(rc, ENG_ITEROVER);
    eng_audit_free(it);
    assert_int_equal(seen, 1);

    /* A new import of the same id is a new customer; the old dense id stays a tombstone. */
    char again[128];
    int alen = snprintf(again, sizeof again, "id,contact.email\n%s,pat.doe@example.org\n", pat[0]);
    assert_int_equal(eng_customers_import_csv_buffer(e, "boss", again, (size_t)alen, NULL, NULL), ENG_OK);
    uint32_t id;
    assert_int_equal(eng_customer_find(e, "boss", pat[0], &id), ENG_OK);
    assert_int_equal(id, before.customers);
    eng_close(e);
    /* ... and after a reopen (the tombstone row replays outside the id index) */
    e = open_file(path, 0);
    assert_int_equal(eng_customer_find(e, "boss", pat[0], &id), ENG_OK);
    assert_int_equal(id, before.customers);
    assert_int_equal(eng_customer_find(e, "boss", cid(7), &id), ENG_OK);
    assert_int_equal(id, 8);
    uint64_t n;
    assert_int_equal(eng_customers_count(e, "boss", &n), ENG_OK);
    assert_int_equal(n, before.customers + 1);
    eng_close(e);
    test_rmtree(dir);
    free(dir);
    test_alloc_assert_clean();
}

static void batch_erase_and_contract(void **state)
{
    (void)state;
    test_alloc_reset();
    test_store *ts = test_store_new();
    eng_engine *e = test_engine_open(test_store_handle(ts));
    setup(e);
    eng_erase_report r = ENG_ERASE_REPORT_INIT;
    const char *ids[] = {cid(1), int_ids ? "999999" : "nope", cid(1), cid(2)};
    assert_int_equal(eng_customers_erase(e, "boss", ids, 4, &r), ENG_OK);
    assert_int_equal(r.requested, 4);
    assert_int_equal(r.erased, 2);
    /* the second c1 finds nobody (erased by its first listing): every id given is counted once,
     * as two single erasures would answer OK then ENG_ENOTFOUND */
    assert_int_equal(r.not_found, 2);
    assert_int_equal(r.requested, r.erased + r.not_found);
    uint64_t keys = 0;
    assert_int_equal(test_store_erased(ts, &keys), 1); /* the host store was told, once */
    assert_true(keys >= 2);                              /* the old table deltas and the group's members */
    assert_int_equal(test_store_grep(ts, "c1@example.com", 14), 0);

    char csv[128];
    int clen = snprintf(csv, sizeof csv, "name,id\nx,%s\ny,\"%s\"\nz,%s\n", cid(4), cid(5), int_ids ? "12" : "unknown");
    assert_int_equal(eng_customers_erase_csv(e, "boss", csv, (size_t)clen, &r), ENG_OK);
    assert_int_equal(r.erased, 2);
    assert_int_equal(r.not_found, 1);
    assert_int_equal(test_store_grep(ts, "c5@example.com", 14), 0);
    assert_int_equal(test_store_grep(ts, "c6@example.com", 14), 1);
    static const char bad[] = "name\n1006\n";
    assert_int_equal(eng_customers_erase_csv(e, "boss", bad, sizeof bad - 1, &r), ENG_EINVAL);
    assert_int_equal(test_store_grep(ts, "c6@example.com", 14), 1);
    /* a malformed row: the erasure's own words ("nothing was erased"), its line and column, nobody erased */
    char badrow[96];
    int blen = snprintf(badrow, sizeof badrow, "id,name\n%s,x\n%s\n", cid(6), cid(7));
    assert_int_equal(eng_customers_erase_csv(e, "boss", badrow, (size_t)blen, &r), ENG_EPARSE);
    assert_string_equal(eng_error_last()->detail, "3:0");
    assert_non_null(strstr(eng_error_last()->message, "nothing was erased"));
    assert_null(strstr(eng_error_last()->message, "imported"));
    blen = snprintf(badrow, sizeof badrow, "id\n%s\n\"%s\n", cid(6), cid(7));
    assert_int_equal(eng_customers_erase_csv(e, "boss", badrow, (size_t)blen, &r), ENG_EPARSE);
    assert_non_null(strstr(eng_error_last()->message, "nothing was erased"));
    assert_int_equal(test_store_grep(ts, "c6@example.com", 14), 1);
    eng_close(e);
    test_store_free(ts);
    test_alloc_assert_clean();
}

static int cancel_progress(const char *op, uint64_t done, uint64_t total, void *user)
{
    (void)done;
    (void)total;
    if (strcmp(op, "privacy.erase") != 0)
        return 0;
    ++*(int *)user;
    return 1;
}

/* Erase every customer but one in one call: progress is reported and a cancel leaves everything. */
static void cancel_leaves_all(void **state)
{
    (void)state;
    test_alloc_reset();
    test_store *ts = test_store_new();
    eng_config cfg;
    assert_int_equal(eng_config_init(&cfg, ENG_CONFIG_VERSION), ENG_OK);
    cfg.allocator = test_alloc_get();
    cfg.store = test_store_handle(ts);
    int calls = 0;
    cfg.progress_fn = cancel_progress;
    cfg.progress_user = &calls;
    eng_engine *e;
    assert_int_equal(eng_open(&cfg, &e), ENG_OK);
    assert_int_equal(eng_org_create(e, "acme", NULL, "boss", NULL), ENG_OK);
    enum { N = 70000 };
    char *csv = malloc((size_t)N * 40 + 64), **ids = malloc(N * sizeof *ids);
    size_t len = (size_t)sprintf(csv, "id,contact.email\n");
    for (int i = 0; i < N; i++) {
        len += (size_t)sprintf(csv + len, "k%d,k%d@example.net\n", i, i);
        ids[i] = malloc(16);
        sprintf(ids[i], "k%d", i);
    }
    assert_int_equal(eng_customers_import_csv_buffer(e, "boss", csv, len, NULL, NULL), ENG_OK);
    eng_erase_report r = ENG_ERASE_REPORT_INIT;
    assert_int_equal(eng_customers_erase(e, "boss", (const char *const *)ids, N, &r), ENG_ECANCELLED);
    assert_int_equal(r.erased, 0);
    assert_int_equal(calls, 1);
    assert_int_equal(test_store_grep(ts, "k69999@example.net", 18), 1);
    assert_int_equal(test_store_grep(ts, "k0@example.net", 14), 1);
    uint32_t id;
    assert_int_equal(eng_customer_find(e, "boss", "k0", &id), ENG_OK);
    for (int i = 0; i < N; i++)
        free(ids[i]);
    free(ids);
    free(csv);
    eng_close(e);
    test_store_free(ts);
    test_alloc_assert_clean();
}

/* A storage failure at the k-th write of the erasure (put, del, commit), then a
 * crash and a reopen: all or nothing. TF_COMMITTED_ERROR: the commit applied but
 * reported failure. */
static void crash_at_every_write(void **state)
{
    (void)state;
    for (int mode = TF_ERROR; mode <= TF_COMMITTED_ERROR; mode++) {
        int done = 0;
        uint64_t k;
        for (k = 1; !done; k++) {
            test_alloc_reset();
            test_store *ts = test_store_new();
            eng_engine *e = test_engine_open(test_store_handle(ts));
            setup(e);
            books before, after;
            read_books(e, &before);
            test_store_fail(ts, mode == TF_ERROR ? TV_PUT | TV_DEL | TV_COMMIT : TV_COMMIT, k, 0, mode);
            int rc = eng_customer_erase(e, "boss", pat[0]);
            done = test_store_failures(ts) == 0;
            uint64_t told;
            if (done || test_store_erased(ts, &told)) /* a failure after the backend was told: removing */
                assert_int_equal(rc, ENG_OK);      /* p/v, which the next erasure tells again */
            test_store_nofail(ts);
            test_store_crash(ts);
            eng_close(e);
            e = test_engine_open(test_store_handle(ts));
            read_books(e, &after);
            int there = pat_state(e);
            for (size_t i = 0; i < NPAT; i++) {
                int want = there && i != 4; /* the older name is gone once the table was compacted */
                if (i == 4)
                    continue;
                assert_int_equal(store_has_pat(ts, i), want);
            }
            assert_int_equal(after.customers, before.customers);
            assert_int_equal(after.amount, before.amount);
            assert_int_equal(after.txns_of_0, before.txns_of_0);
            assert_memory_equal(after.frozen_hash, before.frozen_hash, 32);
            assert_int_equal(after.group, before.group - (there ? 0 : 1));
            assert_int_equal(history_len(e, 4), 3); /* c3: email and sms given, sms withdrawn: whole either way */
            if (there) /* not erased: erasing now works */
                assert_int_equal(eng_customer_erase(e, "boss", pat[0]), ENG_OK);
            assert_int_equal(pat_state(e), 0);
            eng_close(e);
            test_store_free(ts);
            test_alloc_assert_clean();
            if (mode == TF_COMMITTED_ERROR)
                break; /* one commit per erasure */
        }
        if (mode == TF_ERROR)
            assert_true(k > 8); /* the deltas' deletes and puts, the group, the audit, the commit, p/v */
    }
}

/* Keys told to the backend (contract v2) after erasing Pat, then c1; @p untold: Pat's
 * erasure commits but reports failure (so it tells nothing), the process dies and the
 * next erasure must tell Pat's keys first. Returns the keys told in total. */
static uint64_t told_after_two_erasures(int untold)
{
    test_alloc_reset();
    test_store *ts = test_store_new();
    eng_engine *e = test_engine_open(test_store_handle(ts));
    setup(e);
    uint64_t keys = 0;
    uint8_t *v;
    size_t vlen;
    if (untold) {
        test_store_fail(ts, TV_COMMIT, 1, 0, TF_COMMITTED_ERROR);
        assert_int_not_equal(eng_customer_erase(e, "boss", pat[0]), ENG_OK);
        test_store_nofail(ts);
        test_store_crash(ts);
        eng_close(e);
        e = test_engine_open(test_store_handle(ts));
        assert_int_equal(pat_state(e), 0);                      /* erased, */
        assert_int_equal(test_store_erased(ts, &keys), 0);      /* the backend not told, */
        assert_int_equal(test_store_raw_get(ts, "p/v", &v, &vlen), ENG_OK); /* the keys kept to tell */
        free(v);
    } else {
        assert_int_equal(eng_customer_erase(e, "boss", pat[0]), ENG_OK);
    }
    assert_int_equal(eng_customer_erase(e, "boss", cid(1)), ENG_OK);
    assert_int_equal(test_store_erased(ts, &keys), 2); /* Pat's keys, then c1's */
    assert_int_equal(test_store_raw_get(ts, "p/v", &v, &vlen), ENG_ENOTFOUND);
    eng_close(e);
    test_store_free(ts);
    test_alloc_assert_clean();
    return keys;
}

/* An erasure whose commit applied but whose keys were never told (a crash between the
 * two): the next erasure tells them first, so the backend hears of every key once. */
static void untold_keys_told_by_next_erasure(void **state)
{
    (void)state;
    uint64_t clean = told_after_two_erasures(0), resumed = told_after_two_erasures(1);
    assert_true(clean >= 2);
    assert_int_equal(resumed, clean);
}

/* The process killed between the erasure's commit and the file's rewrite (at the
 * compaction's rename: the old file, holding Pat's bytes, stays), as a SIGKILL or
 * a power cut there would leave it. The host does what a host does: it opens the
 * store again and retries the erasure, which finds no Pat (ENG_ENOTFOUND: erased
 * before) but must still tell the file store the keys the dead process left untold,
 * so that the bytes leave the file then, not at some later erasure. */
static int die_at_rename(int op, size_t *n)
{
    (void)n;
    if (op == ENG__IO_RENAME)
        kill(getpid(), SIGKILL); /* (not _exit: valgrind would check the dead process's leaks) */
    return 0;
}

static void killed_before_the_rewrite(void **state)
{
    (void)state;
    char path[1024];
    eng_engine *e;
    char *dir = file_world(path, &e);
    eng_close(e);
    fflush(stdout);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        e = open_file(path, 0);
        eng__file_io_fault = die_at_rename;
        eng_customer_erase(e, "boss", pat[0]);
        _exit(3); /* not reached: the rewrite renames */
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    assert_int_equal(dir_has_pat(dir, 1), 1); /* committed, the old file not yet replaced */
    e = open_file(path, 0);
    assert_int_equal(pat_state(e), 0); /* erased */
    assert_int_equal(eng_customer_erase(e, "boss", pat[0]), ENG_ENOTFOUND);
    eng_close(e);
    for (size_t i = 0; i < NPAT; i++)
        assert_int_equal(dir_has_pat(dir, i), 0);
    assert_int_equal(dir_has(dir, "c7@example.com"), 1);
    test_rmtree(dir);
    free(dir);
    test_alloc_assert_clean();
}

static int use_int_ids(void **state)
{
    (void)state;
    int_ids = 1;
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(erase_in_file_store),
        cmocka_unit_test(batch_erase_and_contract),
        cmocka_unit_test(cancel_leaves_all),
        cmocka_unit_test(crash_at_every_write),
        cmocka_unit_test(untold_keys_told_by_next_erasure),
        cmocka_unit_test(killed_before_the_rewrite),
    };
    /* the same tests on an engine with integer external ids */
    const struct CMUnitTest int_tests[] = {
        cmocka_unit_test(erase_in_file_store),
        cmocka_unit_test(batch_erase_and_contract),
        cmocka_unit_test(crash_at_every_write),
        cmocka_unit_test(untold_keys_told_by_next_erasure),
        cmocka_unit_test(killed_before_the_rewrite),
    };
    int fails = cmocka_run_group_tests_name("string ids", tests, NULL, NULL);
    return fails + cmocka_run_group_tests_name("integer ids", int_tests, use_int_ids, NULL);
}
