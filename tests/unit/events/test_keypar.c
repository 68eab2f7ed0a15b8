/* The per-row key work of `sent` and receipt batches on several threads
 * (events/keypar.c) and segments encoded in two parts at once
 * (events/tseg_par.c), and the pages of the per-send arrays faulted in by a thread
 * ahead of a `sent` batch's writes (events/sends.c), leave exactly what one thread leaves: the same script of
 * sends (map keys, opaque keys, keys of another org's form, re-sends) and
 * receipts (map, opaque, unknown, garbled keys, opt-outs, duplicates), with a
 * reopen and refused batches, run with eng_config.threads 0, 1 and 3 and the
 * split threshold lowered to a few rows, gives the same store byte for byte,
 * the same reports and the same unmatched indexes; those indexes are checked
 * against a model that compares key strings; a refused batch names its
 * first bad receipt whichever range it falls in, and changes nothing. With
 * segments sealed every 256 rows, in storage order (kind 2) and ordered
 * (kind 3). */
#include "ev_fixture.h"
#include "events/keypar.h"
#include "base/simd.h"
#include "../model/store_digest.h"

#define NCUST 300
#define MAXKEYS 4096

typedef struct run_out {
    uint8_t digest[ENG__SHA256_LEN];
    uint64_t accepted, duplicates, unmatched, consent;
    size_t unmatched_idx[MAXKEYS], nidx;
} run_out;

/* The model: every key seen, whether `sent` has written it, the statuses
 * stored for it and those waiting for its send. */
static struct mkey {
    char key[64];
    int sent;
    unsigned stored, waiting;
} keys_[MAXKEYS];
static size_t nkeys_;

static struct mkey *model_key(const char *k)
{
    for (size_t i = 0; i < nkeys_; i++)
        if (!strcmp(keys_[i].key, k))
            return &keys_[i];
    assert_true(nkeys_ < MAXKEYS);
    struct mkey *m = &keys_[nkeys_++];
    memset(m, 0, sizeof *m);
    snprintf(m->key, sizeof m->key, "%s", k);
    return m;
}

static int is_sent(const char *k)
{
    return model_key(k)->sent;
}

static void note(size_t index, const char *key, void *user)
{
    (void)key;
    run_out *o = user;
    if (o->nidx < MAXKEYS)
        o->unmatched_idx[o->nidx++] = index;
}

static void send_batch(evfx *f, const char *org, uint64_t campaign, uint32_t lo, uint32_t hi, int ch, int opaque)
{
    evfx_opaque_keys = opaque;
    evfx_send(f, org, campaign, lo, hi, ch, 1000 * (eng_time)campaign);
    for (uint32_t c = lo; c < hi; c++) {
        char k[64];
        evfx_key(k, sizeof k, campaign, 0, c, ch);
        struct mkey *m = model_key(k);
        if (!m->sent) { /* a new send: its waiting receipts are joined */
            m->sent = 1;
            m->stored |= m->waiting;
            m->waiting = 0;
        }
    }
    evfx_opaque_keys = 0;
}

/* What the model expects a batch to report. */
typedef struct mrep {
    uint64_t accepted, duplicates, unmatched, consent;
} mrep;

static void model_receipt(const char *k, int status, mrep *w)
{
    struct mkey *m = model_key(k);
    unsigned *set = m->sent ? &m->stored : &m->waiting;
    if (*set >> status & 1) {
        w->duplicates++;
        return;
    }
    *set |= 1u << status;
    if (!m->sent)
        w->unmatched++;
    else {
        w->accepted++;
        w->consent += status == ENG_TOUCH_UNSUBSCRIBED || status == ENG_TOUCH_COMPLAINED;
    }
}

/* A receipt batch of n keys drawn from rng; bad >= 0: receipt bad gets a status
 * of `sent` (refused); burst: every other receipt is of one send. Checks the
 * reports and the unmatched indexes against the model. */
static void receipt_batch(evfx *f, uint64_t *rng, size_t n, long bad, int burst, run_out *out)
{
    char (*kb)[64] = calloc(n, 64);
    const char **keys = calloc(n, sizeof *keys);
    int *st = calloc(n, sizeof *st);
    eng_time *ts = calloc(n, sizeof *ts);
    char (*db)[16] = calloc(n, 16);
    const char **dets = calloc(n, sizeof *dets);
    size_t want[512], nwant = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t x = test_splitmix(rng);
        uint32_t cu = (uint32_t)(x % (NCUST + 20)); /* some customers never sent to */
        int kind = (int)(x >> 20) % 10;
        if (kind < 4)
            evfx_key(kb[i], 64, 1 + (x >> 30) % 2, 0, cu, ENG_CH_EMAIL);
        else if (kind < 6) {
            evfx_opaque_keys = 1;
            evfx_key(kb[i], 64, 3, 0, cu, ENG_CH_SMS);
            evfx_opaque_keys = 0;
        } else if (kind == 6) /* garbled: another version millisecond */
            snprintf(kb[i], 64, "acme/c1/m10.1001/o0/u%u/email", cu);
        else if (kind == 7) /* a non-canonical customer number */
            snprintf(kb[i], 64, "acme/c1/m10.1000/o0/u0%u/email", cu);
        else if (kind == 8) /* the map's prefix, another channel than its send's: by hash */
            evfx_key(kb[i], 64, 1, 0, cu, ENG_CH_SMS);
        else /* beta's sends: rows of two orgs in one batch */
            evfx_key(kb[i], 64, 7, 0, cu % 80, ENG_CH_EMAIL);
        if (burst && i % 2 == 0) /* one send's receipts throughout the batch: one range takes them all */
            evfx_key(kb[i], 64, 1, 0, 7, ENG_CH_EMAIL);
        keys[i] = kb[i];
        int s = 1 + (int)((x >> 40) % 16);
        st[i] = s > 7 ? ENG_TOUCH_DELIVERED : s; /* unsubscribes and complaints now and then */
        if (kind == 9 && (s == ENG_TOUCH_UNSUBSCRIBED || s == ENG_TOUCH_COMPLAINED))
            st[i] = ENG_TOUCH_OPENED; /* beta has no customers to opt out */
        ts[i] = 5000 + (eng_time)(x >> 50);
        /* details now and then, some of them empty */
        int d = (int)(x >> 8) % 4;
        if (d == 0)
            snprintf(db[i], 16, "link-%u", cu % 5);
        else if (d == 1)
            snprintf(db[i], 16, "why-%u", cu % 3);
        dets[i] = d == 3 ? NULL : db[i];
        if (!is_sent(kb[i]) && nwant < 512)
            want[nwant++] = i;
    }
    if (bad >= 0)
        st[bad] = ENG_TOUCH_SENT;
    eng_receipts r = evfx_receipts(n, keys, st, ts, dets);
    r.unmatched_fn = note;
    r.unmatched_user = out;
    eng_event_report rep = ENG_EVENT_REPORT_INIT;
    if (bad >= 0) {
        char det[64];
        snprintf(det, sizeof det, "receipts[%ld].statuses", bad);
        uint8_t before[ENG__SHA256_LEN], after[ENG__SHA256_LEN];
        store_digest(f->e, before);
        assert_int_equal(eng_touch_append(f->e, &r, &rep), ENG_EINVAL);
        assert_string_equal(eng_error_last()->detail, det);
        store_digest(f->e, after);
        assert_memory_equal(before, after, ENG__SHA256_LEN);
    } else {
        size_t from = out->nidx;
        mrep w = {0, 0, 0, 0};
        for (size_t i = 0; i < n; i++)
            model_receipt(kb[i], st[i], &w);
        assert_int_equal(eng_touch_append(f->e, &r, &rep), ENG_OK);
        assert_int_equal(rep.accepted, w.accepted);
        assert_int_equal(rep.duplicates, w.duplicates);
        assert_int_equal(rep.unmatched, w.unmatched);
        assert_int_equal(rep.consent_changes, w.consent);
        assert_int_equal(rep.rows, n);
        assert_int_equal(rep.accepted + rep.duplicates + rep.unmatched, n);
        /* in send order, then the unmatched in arrival order: those are the model's */
        assert_int_equal(out->nidx - from, nwant);
        for (size_t k = 0; k < nwant; k++)
            assert_int_equal(out->unmatched_idx[from + k], want[k]);
        out->accepted += rep.accepted;
        out->duplicates += rep.duplicates;
        out->unmatched += rep.unmatched;
        out->consent += rep.consent_changes;
    }
    free(kb);
    free(db);
    free(dets);
    free(keys);
    free(st);
    free(ts);
}

static void script(unsigned threads, run_out *out)
{
    evfx f;
    uint64_t rng = 99;
    memset(out, 0, sizeof *out);
    nkeys_ = 0;
    evfx_open(&f, NCUST);
    f.e->threads = threads;
    send_batch(&f, "acme", 1, 0, 200, ENG_CH_EMAIL, 0);
    send_batch(&f, "acme", 3, 0, 150, ENG_CH_SMS, 1);
    send_batch(&f, "beta", 7, 0, 64, ENG_CH_EMAIL, 0); /* acme's key form in another org: by hash */
    send_batch(&f, "acme", 1, 0, 100, ENG_CH_SMS, 0);  /* a second channel of a mapped context: by hash */
    for (int b = 0; b < 4; b++)
        receipt_batch(&f, &rng, 37 + 61 * (size_t)b, -1, b == 2, out);
    receipt_batch(&f, &rng, 0, -1, 0, out);     /* an empty batch */
    receipt_batch(&f, &rng, 200, 173, 0, out); /* refused: its bad row in the last range */
    receipt_batch(&f, &rng, 200, 3, 0, out);   /* ... in the first */
    send_batch(&f, "acme", 1, 150, 300, ENG_CH_EMAIL, 0); /* re-sends and new ones; joins pending receipts */
    send_batch(&f, "acme", 2, 0, 120, ENG_CH_EMAIL, 0);
    evfx_reopen(&f);
    f.e->threads = threads;
    for (int b = 0; b < 3; b++)
        receipt_batch(&f, &rng, 150 + 17 * (size_t)b, -1, b == 1, out);
    send_batch(&f, "acme", 2, 100, 250, ENG_CH_EMAIL, 0);
    receipt_batch(&f, &rng, 301, -1, 0, out);
    store_digest(f.e, out->digest);
    evfx_close(&f);
}

/* Two runs of the script left the same reports, unmatched indexes and store. */
static void same_runs(const run_out *a, const run_out *b)
{
    assert_true(a->accepted > 300 && a->unmatched > 50);
    assert_memory_equal(a->digest, b->digest, ENG__SHA256_LEN);
    assert_int_equal(a->accepted, b->accepted);
    assert_int_equal(a->duplicates, b->duplicates);
    assert_int_equal(a->unmatched, b->unmatched);
    assert_int_equal(a->consent, b->consent);
    assert_int_equal(a->nidx, b->nidx);
    assert_memory_equal(a->unmatched_idx, b->unmatched_idx, a->nidx * sizeof a->unmatched_idx[0]);
}

/* ordered: sealed segments of kind 3 (events/tsum.c) instead of 2. */
static void same_whatever_the_threads(int ordered)
{
    size_t keep = eng__keypar_min_rows;
    uint32_t seal = eng__seg_seal_rows;
    uint8_t kind = eng__tseg_ordered;
    eng__keypar_min_rows = 4; /* batches of 8 rows and more are split */
    eng__mem_populate_hosts = 1; /* a `sent` batch's pages faulted in by a thread (sends.c), the test allocator's too */
    eng__seg_seal_rows = 256; /* segments sealed and encoded in two parts too */
    eng__tseg_ordered = (uint8_t)ordered;
    static run_out one, two, four;
    size_t b0 = eng__tseal_behind;
    script(0, &one);
    size_t b1 = eng__tseal_behind;
    script(1, &two);
    size_t b2 = eng__tseal_behind;
    script(3, &four);
    size_t b3 = eng__tseal_behind;
    eng__keypar_min_rows = keep;
    eng__mem_populate_hosts = 0;
    eng__seg_seal_rows = seal;
    eng__tseg_ordered = kind;
    assert_true(one.accepted > 300 && one.duplicates > 50 && one.unmatched > 50 && one.consent > 0);
    /* with threads, segments sealed while the batch went on (events/tseal.c); in storage order only
     * (an ordered segment is sealed at once) */
    assert_int_equal(b1, b0);
    if (!ordered)
        assert_true(b2 - b1 >= 2 && b3 - b2 >= 2);
    same_runs(&one, &two);
    same_runs(&one, &four);
}

/* Every batch's scratch freed after it (as for a batch larger than the engine keeps): the
 * same reports, unmatched indexes and store, the stray receipts (a mapped context's second
 * channel, found by hash after the apply) read from temporaries still alive (ASan). */
static void scratch_not_kept(void **st)
{
    (void)st;
    size_t keep = eng__rcpt_keep_rows, minrows = eng__keypar_min_rows;
    eng__keypar_min_rows = 4;
    static run_out kept, freed;
    script(1, &kept);
    eng__rcpt_keep_rows = 0;
    script(1, &freed);
    eng__rcpt_keep_rows = keep;
    eng__keypar_min_rows = minrows;
    same_runs(&kept, &freed);
}

/* The receipts' parse built for the baseline and for CPUs with popcnt and BMI2 (keypar.c
 * picks by eng__isa): the baseline's, forced, leaves the same reports, unmatched indexes
 * (each run checked against the model) and store. */
static void baseline_parse(void **st)
{
    (void)st;
    size_t minrows = eng__keypar_min_rows;
    eng__keypar_min_rows = 4;
    static run_out best, plain;
    script(1, &best);
    eng__isa_force(ENG__ISA_SCALAR);
    script(1, &plain);
    eng__isa_force(-1);
    eng__keypar_min_rows = minrows;
    same_runs(&best, &plain);
}

static void storage_order(void **st)
{
    (void)st;
    same_whatever_the_threads(0);
}

static void ordered_segments(void **st)
{
    (void)st;
    same_whatever_the_threads(1);
}

/* Receipts of acme's sends to customers [0, NS) (each delivered, every third
 * also opened after, a few with details), arriving in the order of perm
 * (customers; a customer's receipts together, in that order), then the same
 * batch again (all duplicates): the store's digest, and how many of the
 * sort's ranges found their receipts in send order. */
#define NS 240
static size_t arrive(unsigned threads, const uint32_t *perm, uint8_t digest[ENG__SHA256_LEN])
{
    evfx f;
    evfx_open(&f, NCUST);
    f.e->threads = threads;
    evfx_send(&f, "acme", 1, 0, NS, ENG_CH_EMAIL, 1000);
    static char kb[2 * NS][64];
    const char *keys[2 * NS], *dets[2 * NS];
    int st[2 * NS];
    eng_time ts[2 * NS];
    size_t n = 0;
    for (size_t k = 0; k < NS; k++) {
        uint32_t c = perm[k];
        for (int o = 0; o < 1 + (c % 3 == 0); o++, n++) {
            evfx_key(kb[n], 64, 1, 0, c, ENG_CH_EMAIL);
            keys[n] = kb[n];
            st[n] = o ? ENG_TOUCH_OPENED : ENG_TOUCH_DELIVERED;
            ts[n] = 5000 + 10 * (eng_time)c + o;
            dets[n] = c % 7 == 0 ? (o ? "link-a" : "mx-1") : NULL;
        }
    }
    eng_receipts r = evfx_receipts(n, keys, st, ts, dets);
    size_t before = atomic_load(&eng__rcpt_presorted);
    eng_event_report rep = ENG_EVENT_REPORT_INIT;
    assert_int_equal(eng_touch_append(f.e, &r, &rep), ENG_OK);
    assert_int_equal(rep.accepted, n);
    size_t sorted = atomic_load(&eng__rcpt_presorted) - before;
    rep = (eng_event_report)ENG_EVENT_REPORT_INIT;
    assert_int_equal(eng_touch_append(f.e, &r, &rep), ENG_OK);
    assert_int_equal(rep.duplicates, n);
    store_digest(f.e, digest);
    evfx_close(&f);
    return sorted;
}

/* A batch whose receipts arrive in send order is left as picked (no pass of
 * the sort) in every range; a run of sends in reverse makes the range
 * holding it sort; sends in a shuffled order, all sort. The store is the
 * same in all three, and whatever the thread count: rows in send order, a
 * send's receipts in arrival order. */
static void in_send_order(void **st)
{
    (void)st;
    size_t keep = eng__keypar_min_rows;
    eng__keypar_min_rows = 4;
    uint32_t up[NS], rev[NS], mix[NS];
    for (uint32_t c = 0; c < NS; c++)
        up[c] = rev[c] = mix[c] = c;
    for (uint32_t c = 0; c < 8; c++) /* customers 2..9 in reverse: inside the first range (0..14 or more) */
        rev[2 + c] = 9 - c;
    uint64_t rng = 7;
    for (uint32_t c = NS - 1; c > 0; c--) {
        uint32_t j = (uint32_t)(test_splitmix(&rng) % (c + 1)), x = mix[c];
        mix[c] = mix[j];
        mix[j] = x;
    }
    uint8_t want[ENG__SHA256_LEN], got[ENG__SHA256_LEN];
    const unsigned threads[3] = {0, 1, 3};
    for (int t = 0; t < 3; t++) {
        size_t np = threads[t] ? (threads[t] + 1) * ENG__RANGES_PER : 1; /* the apply pass's ranges */
        assert_int_equal(arrive(threads[t], up, t ? got : want), np);
        if (t)
            assert_memory_equal(want, got, ENG__SHA256_LEN);
        size_t s = arrive(threads[t], rev, got);
        assert_int_equal(s, np - 1); /* the ranges after the run still skip */
        assert_memory_equal(want, got, ENG__SHA256_LEN);
        assert_int_equal(arrive(threads[t], mix, got), 0);
        assert_memory_equal(want, got, ENG__SHA256_LEN);
    }
    eng__keypar_min_rows = keep;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(storage_order),
        cmocka_unit_test(scratch_not_kept),
        cmocka_unit_test(baseline_parse),
        cmocka_unit_test(ordered_segments),
        cmocka_unit_test(in_send_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
