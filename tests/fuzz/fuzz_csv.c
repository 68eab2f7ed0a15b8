/* Fuzz target for the CSV import (and the group upload that shares its
 * parser). Beyond "no crash, no leak" it checks invariants:
 *  - the same bytes imported from one buffer and streamed in small chunks give
 *    the same result and the same report;
 *  - a rejected file leaves the customer table unchanged (nothing applied);
 *  - an accepted file adds exactly the inserted customers it reports.
 * Input: byte 0 picks the error mode and skip limit, byte 1 the chunk size;
 * the rest is the CSV. */
#include "fuzz_util.h"
#include "test_store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define TA "t-admin" /* the admin of org "t": customers belong to an org */

/* The state every input starts from is built once; each input opens two engines on
 * copies of it (building it per engine was most of the time). The seed also holds the
 * empty uploaded group "g" and its customer count: creating the group and counting the
 * untouched copy were a fifth of an input's time and the same for every input. */
static test_store *seed;
static uint32_t group;
static uint64_t seed_count;

static void build_seed(void)
{
    seed = test_store_new();
    CHECK(seed != NULL);
    eng_engine *e;
    CHECK(test_store_open(seed, NULL, &e) == ENG_OK);
    CHECK(eng_org_create(e, "t", NULL, TA, NULL) == ENG_OK);
    static const char *const names[] = {"tier", "n", "amt", "d", "b"};
    static const int types[] = {ENG_COL_STRING, ENG_COL_INT64, ENG_COL_DECIMAL, ENG_COL_DATE, ENG_COL_BOOL};
    for (int i = 0; i < 5; i++)
        CHECK(eng_customers_add_column(e, TA, names[i], types[i]) == ENG_OK);
    /* Some existing customers, so updates and "unchanged" are meaningful. */
    static const char rows[] = "id,tier,n\nA,gold,1\nB,silver,2\n";
    CHECK(eng_customers_import_csv_buffer(e, TA, rows, sizeof rows - 1, NULL, NULL) == ENG_OK);
    CHECK(eng_group_create_uploaded(e, TA, "g", &group) == ENG_OK);
    CHECK(eng_customers_count(e, TA, &seed_count) == ENG_OK && seed_count == 2);
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

static uint64_t count(eng_engine *e)
{
    uint64_t n = 0;
    CHECK(eng_customers_count(e, TA, &n) == ENG_OK);
    return n;
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
    o.max_field_bytes = 64 + (size_t)data[0] * 8;

    eng_engine *a = fresh(0), *b = a;
    uint64_t before = seed_count;
    eng_import_report ra = ENG_IMPORT_REPORT_INIT, rb = ENG_IMPORT_REPORT_INIT;
    int rca = eng_customers_import_csv_buffer(a, TA, csv, len, &o, &ra);
    int said_why = eng_error_last()->message[0] != 0; /* the next call into an engine clears it */
    /* A rejected file leaves engine a as the seed (checked below: any residue would make the
     * stream differ), so the stream goes into a; only an applied file needs a second engine. */
    if (rca == ENG_OK)
        b = fresh(1);
    fuzz_chunks c = {(const uint8_t *)csv, len, step};
    int rcb = eng_customers_import_csv(b, TA, fuzz_read_chunk, &c, &o, &rb);
    uint64_t na = count(a);
    if (rca != rcb || ra.inserted != rb.inserted || ra.updated != rb.updated || ra.bad_rows != rb.bad_rows ||
        na != (b == a ? na : count(b))) {
        fprintf(stderr, "buffer and stream differ: rc %d/%d inserted %llu/%llu bad %llu/%llu\n", rca, rcb,
                (unsigned long long)ra.inserted, (unsigned long long)rb.inserted, (unsigned long long)ra.bad_rows,
                (unsigned long long)rb.bad_rows);
        abort();
    }
    CHECK(rca == ENG_OK || na == before); /* a rejected file applies nothing */
    CHECK(rca != ENG_OK || na == before + ra.inserted);
    CHECK(rca == ENG_OK || said_why); /* every failure says why */

    /* The same bytes as a group upload (into the seed's empty group). */
    eng_import_report rg = ENG_IMPORT_REPORT_INIT;
    int rcg = eng_group_upload_csv(a, TA, group, csv, len, ENG_UPLOAD_REPLACE, &o, &rg);
    uint64_t gs = 0;
    CHECK(eng_group_count(a, TA, group, &gs) == ENG_OK);
    CHECK(rcg == ENG_OK || gs == 0); /* a refused upload leaves the group empty */
    CHECK(count(a) == na && gs <= na); /* members are customers; an upload adds none */
    eng_close(a);
    if (b != a)
        eng_close(b);
    CHECK(test_store_restore(copy[0], seed) == ENG_OK);
    if (b != a)
        CHECK(test_store_restore(copy[1], seed) == ENG_OK);
    return 0;
}
