/* Fuzz target for the transaction import (CSV through the audience reader, then
 * the events layer's typed columns). Beyond "no crash, no leak":
 *  - one buffer and the same bytes streamed in small chunks give the same
 *    result, report and stored transactions;
 *  - a rejected file stores nothing; an accepted one stores exactly what it reports;
 *  - importing the same file again stores nothing new (ids are unique per org).
 * Input: byte 0 picks the error mode and skip limit, byte 1 the chunk size;
 * the rest is the CSV. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engage.h"
#include "fuzz_util.h"
#include "test_store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


/* The state every input starts from is built once; each input opens two engines on
 * copies of it (building it per engine was most of the time). The digest of the seed's
 * transactions is taken once too: a scan is the events layer's whole load, and an
 * untouched copy always gives the same digest. */
static test_store *seed;
typedef struct digest {
    uint64_t n, sum;
} digest;
static digest seed_digest;
static digest stored(eng_engine *e);

static void build_seed(void)
{
    seed = test_store_new();
    CHECK(seed != NULL);
    eng_engine *e;
    CHECK(test_store_open(seed, NULL, &e) == ENG_OK);
    eng_org_settings s;
    eng_org_settings_init(&s, ENG_ORG_SETTINGS_VERSION);
    CHECK(eng_org_create(e, "acme", &s, "root", NULL) == ENG_OK);
    CHECK(eng_txn_field_add(e, "acme", "tier", ENG_COL_STRING) == ENG_OK);
    CHECK(eng_txn_field_add(e, "acme", "qty", ENG_COL_INT64) == ENG_OK);
    static const char rows[] = "id,customer,time,amount\nT1,A,2026-01-01T00:00:00Z,10.5\n";
    CHECK(eng_txn_import_csv_buffer(e, "acme", rows, sizeof rows - 1, NULL, NULL) == ENG_OK);
    CHECK(eng_close(e) == ENG_OK);
    CHECK(test_store_open(seed, NULL, &e) == ENG_OK); /* as each input's engine sees it */
    seed_digest = stored(e);
    CHECK(seed_digest.n == 1);
    CHECK(eng_close(e) == ENG_OK);
}

/* An engine on copy @p i of the seed state. The two copies are kept between inputs and
 * put back to the seed after each (test_store_restore: only the keys the input wrote),
 * which costs less than copying the whole seed for every input. */
static test_store *copy[2];

static eng_engine *fresh(int i)
{
    if (!seed)
        build_seed();
    if (!copy[i])
        CHECK((copy[i] = test_store_clone(seed)) != NULL);
    eng_engine *e;
    CHECK(test_store_open(copy[i], NULL, &e) == ENG_OK);
    return e;
}

/* Order-independent digest of every stored transaction. */
static uint64_t mix(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

static int add_row(const eng_txn_row *r, void *user)
{
    digest *d = user;
    uint64_t h = 0xcbf29ce484222325ull;
    h = mix(h, r->id, strlen(r->id));
    h = mix(h, r->external_id, strlen(r->external_id));
    h = mix(h, &r->time, sizeof r->time);
    h = mix(h, &r->amount, sizeof r->amount);
    d->n++;
    d->sum += h;
    return 0;
}

static digest stored(eng_engine *e)
{
    digest d = {0, 0};
    CHECK(eng_txn_scan(e, "acme", NULL, INT64_MIN, INT64_MAX, add_row, &d) == ENG_OK);
    return d;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) { /* the empty input: free what is kept between inputs */
        test_store_free(seed);
        seed = NULL;
        for (int i = 0; i < 2; i++) {
            test_store_free(copy[i]);
            copy[i] = NULL;
        }
    }
    eng_import_options o;
    size_t step, len;
    const char *csv;
    if (!fuzz_csv_input(data, size, &o, &step, &csv, &len))
        return 0;

    eng_engine *a = fresh(0), *b = a;
    digest before = seed_digest;
    eng_event_report ra = ENG_EVENT_REPORT_INIT, rb = ENG_EVENT_REPORT_INIT;
    int rca = eng_txn_import_csv_buffer(a, "acme", csv, len, &o, &ra);
    CHECK(rca == ENG_OK || eng_error_last()->message[0] != 0); /* every failure says why */
    /* A rejected file leaves engine a as the seed (checked below: any residue would make the
     * stream differ), so the stream goes into a; only a stored file needs a second engine. */
    if (rca == ENG_OK)
        b = fresh(1);
    fuzz_chunks c = {(const uint8_t *)csv, len, step};
    int rcb = eng_txn_import_csv(b, "acme", fuzz_read_chunk, &c, &o, &rb);
    digest da = stored(a), db = b == a ? da : stored(b);
    if (rca != rcb || ra.accepted != rb.accepted || ra.bad_rows != rb.bad_rows || da.n != db.n || da.sum != db.sum) {
        fprintf(stderr, "buffer and stream differ: rc %d/%d accepted %llu/%llu\n", rca, rcb,
                (unsigned long long)ra.accepted, (unsigned long long)rb.accepted);
        abort();
    }
    CHECK(rca == ENG_OK || (da.n == before.n && da.sum == before.sum)); /* rejected: nothing stored */
    CHECK(rca != ENG_OK || da.n == before.n + ra.accepted);
    if (rca == ENG_OK) { /* again: every id is already there */
        eng_event_report r2 = ENG_EVENT_REPORT_INIT;
        int rc2 = eng_txn_import_csv_buffer(a, "acme", csv, len, &o, &r2);
        digest d2 = stored(a);
        CHECK(rc2 != ENG_OK || (r2.accepted == 0 && d2.n == da.n && d2.sum == da.sum));
    }
    eng_close(a);
    if (b != a)
        eng_close(b);
    CHECK(test_store_restore(copy[0], seed) == ENG_OK);
    if (b != a)
        CHECK(test_store_restore(copy[1], seed) == ENG_OK);
    return 0;
}
