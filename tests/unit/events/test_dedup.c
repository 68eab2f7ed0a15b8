/* Deduplication at scale: a batch of 10^6 touch events (sends and their
 * receipts) appended once, appended twice, and appended as shuffled
 * overlapping halves leaves the same state: byte for byte the same store for
 * "twice", and the same digest of every stored touch and every send's status
 * for the halves (whose batches, and so segment layout, differ).
 * (10^5 events under valgrind.) */
#include "ev_fixture.h"
#include "base/hash.h"
#include "../model/store_digest.h"

static uint64_t rng = 99;
static uint64_t rnd(void)
{
    return test_splitmix(&rng);
}

typedef struct rec {
    uint32_t customer;
    uint8_t status;
    eng_time time;
} rec;

static size_t nsend, nrec;
static rec *recs;

static void generate(size_t events)
{
    nsend = events * 2 / 5;
    recs = malloc(events * sizeof *recs);
    nrec = 0;
    for (uint32_t c = 0; c < nsend && nrec < events - nsend; c++) {
        uint64_t x = rnd();
        int st[3] = {x % 10 ? ENG_TOUCH_DELIVERED : ENG_TOUCH_FAILED, ENG_TOUCH_OPENED, ENG_TOUCH_CLICKED};
        int k = x % 10 ? 1 + (int)((x >> 8) % 3) : 1;
        for (int j = 0; j < k && nrec < events - nsend; j++)
            recs[nrec++] = (rec){c, (uint8_t)st[j], 5000 + (eng_time)c + j};
    }
}

static void send_range(evfx *f, size_t lo, size_t hi)
{
    for (size_t b = lo; b < hi; b += 65536)
        evfx_send(f, "acme", 1, (uint32_t)b, (uint32_t)(b + 65536 < hi ? b + 65536 : hi), ENG_CH_EMAIL,
                   1000 + (eng_time)b); /* time 1000 + customer, whatever the batch */
}

static void receipts(evfx *f, const size_t *order, size_t n)
{
    char (*keys)[64] = malloc(65536 * 64);
    const char **kp = malloc(65536 * sizeof *kp);
    int *st = malloc(65536 * sizeof *st);
    eng_time *ts = malloc(65536 * sizeof *ts);
    for (size_t b = 0; b < n; b += 65536) {
        size_t m = n - b < 65536 ? n - b : 65536;
        for (size_t i = 0; i < m; i++) {
            const rec *r = &recs[order[b + i]];
            evfx_key(keys[i], 64, 1, 0, r->customer, ENG_CH_EMAIL);
            kp[i] = keys[i];
            st[i] = r->status;
            ts[i] = r->time;
        }
        eng_receipts rc = ENG_RECEIPTS_INIT;
        rc.count = m;
        rc.keys = kp;
        rc.statuses = st;
        rc.times = ts;
        assert_int_equal(eng_touch_append(f->e, &rc, NULL), ENG_OK);
    }
    free(keys);
    free(kp);
    free(st);
    free(ts);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

typedef struct acc {
    uint64_t *v;
    size_t n;
} acc;

static int collect(const eng__touch_cols *c, void *user)
{
    acc *a = user;
    for (size_t i = 0; i < c->n; i++)
        a->v[a->n++] = eng__mix64(((uint64_t)c->customer[i] << 40) ^ ((uint64_t)c->status[i] << 32) ^
                                  (uint64_t)c->time[i] ^ ((uint64_t)c->channel[i] << 36));
    return 0;
}

/* SHA-256 of the sorted touches and of every send's (customer, channel, furthest status). */
static void logical_digest(evfx *f, uint8_t out[ENG__SHA256_LEN])
{
    acc a = {malloc((nsend + nrec + 1) * sizeof *a.v), 0};
    eng__touch_filter flt;
    eng__touch_filter_init(&flt);
    assert_int_equal(eng__enter(f->e), ENG_OK);
    assert_int_equal(eng__touch_scan(f->e, &flt, collect, &a), ENG_OK);
    assert_int_equal(a.n, nsend + nrec);
    qsort(a.v, a.n, sizeof *a.v, cmp_u64);
    eng__sha256_ctx s;
    eng__sha256_init(&s);
    eng__sha256_update(&s, a.v, a.n * sizeof *a.v);
    eng__sends_view v;
    assert_int_equal(eng__sends_view_get(f->e, &v), ENG_OK);
    uint64_t *sv = malloc((v.n + 1) * sizeof *sv);
    for (uint32_t i = 0; i < v.n; i++)
        sv[i] = ((uint64_t)v.customer[i] << 16) | ((uint64_t)v.hot[i].channel << 8) |
                (uint64_t)eng__mask_furthest(v.hot[i].mask);
    qsort(sv, v.n, sizeof *sv, cmp_u64);
    eng__sha256_update(&s, sv, v.n * sizeof *sv);
    eng__leave(f->e);
    eng__sha256_final(&s, out);
    free(a.v);
    free(sv);
}

static void dedup(void **st)
{
    (void)st;
    generate(test_slow_runtime() ? 100000 : 1000000);
    size_t *ord = malloc(nrec * sizeof *ord);
    for (size_t i = 0; i < nrec; i++)
        ord[i] = i;
    uint8_t once_store[ENG__SHA256_LEN], twice_store[ENG__SHA256_LEN], once[ENG__SHA256_LEN], other[ENG__SHA256_LEN];

    evfx f;
    evfx_open(&f, 0); /* once */
    send_range(&f, 0, nsend);
    receipts(&f, ord, nrec);
    store_digest(f.e, once_store);
    logical_digest(&f, once);
    evfx_close(&f);

    evfx_open(&f, 0); /* twice: the retried batch changes nothing at all */
    send_range(&f, 0, nsend);
    receipts(&f, ord, nrec);
    send_range(&f, 0, nsend);
    eng_event_report r = ENG_EVENT_REPORT_INIT;
    char key[64];
    evfx_key(key, sizeof key, 1, 0, recs[0].customer, ENG_CH_EMAIL);
    receipts(&f, ord, nrec);
    store_digest(f.e, twice_store);
    assert_memory_equal(once_store, twice_store, sizeof once_store);
    assert_int_equal(evfx_receipt(&f, 1, recs[0].customer, ENG_CH_EMAIL, recs[0].status, 1, NULL, &r), ENG_OK);
    assert_int_equal(r.duplicates, 1);
    evfx_close(&f);

    evfx_open(&f, 0); /* shuffled overlapping halves: sends [0, 60 %) then [40 %, 100 %), receipts likewise */
    for (size_t i = nrec; i > 1; i--) {
        size_t j = rnd() % i, t = ord[i - 1];
        ord[i - 1] = ord[j];
        ord[j] = t;
    }
    send_range(&f, 0, nsend * 6 / 10);
    send_range(&f, nsend * 4 / 10, nsend);
    receipts(&f, ord, nrec * 6 / 10);
    receipts(&f, ord + nrec * 4 / 10, nrec - nrec * 4 / 10);
    logical_digest(&f, other);
    assert_memory_equal(once, other, sizeof once);
    evfx_reopen(&f); /* and after a reopen */
    logical_digest(&f, other);
    assert_memory_equal(once, other, sizeof once);
    evfx_close(&f);
    free(ord);
    free(recs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(dedup)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
