/* Receipts with their keys' lengths (eng_receipts version 2, key_lengths): the same
 * batches as NUL-terminated strings (version 1) and as (pointer, length) pairs whose
 * bytes run on past the key leave the same reports, the same unmatched receipts and the
 * same store, at threads 0 and 1; a NUL inside a key's length, a length of 0 or over
 * 1024, a NULL key refuse the batch by the first bad row and change nothing; a
 * version-1 struct is read without its key_lengths. */
#include "ev_fixture.h"
#include "../model/store_digest.h"
#include "events/keypar.h"

enum { NB = 400, RAW = 96 };

typedef struct seen {
    size_t n;
    size_t idx[NB];
    const char *key[NB];
} seen;

static void note(size_t i, const char *key, void *user)
{
    seen *s = user;
    s->idx[s->n] = i;
    s->key[s->n++] = key;
}

static void sends(evfx *f)
{
    evfx_send(f, "acme", 1, 0, 200, ENG_CH_EMAIL, 1000);
    evfx_send(f, "acme", 2, 0, 100, ENG_CH_SMS, 1000);
}

/* Key i of batch b: the sends' own, sends not written yet (campaign 1's customers
 * 200..259, written after), a wrong channel, a byte changed, cut, a digit more, or not
 * the dispatcher's form at all. */
static void key_of(char *k, uint64_t *rng)
{
    uint64_t x = test_splitmix(rng);
    uint32_t cu = (uint32_t)(x % 260);
    uint64_t camp = cu < 200 && (x >> 9) % 3 == 0 ? 2 : 1;
    int ch = camp == 1 ? ENG_CH_EMAIL : ENG_CH_SMS;
    if (camp == 2)
        cu %= 100;
    evfx_key(k, 64, camp, 0, cu, ch);
    size_t len = strlen(k);
    switch ((x >> 12) % 8) {
    case 0:
        evfx_key(k, 64, camp, 0, cu, ENG_CH_PUSH);
        break;
    case 1:
        k[(x >> 16) % len] = (char)('!' + (x >> 24) % 90);
        break;
    case 2:
        k[1 + (x >> 16) % (len - 1)] = 0;
        break;
    case 3:
        snprintf(k, 64, "acme/c%llu/m%llu.1000/o0/u%u7/email", (unsigned long long)camp,
                 (unsigned long long)camp * 10, cu);
        break;
    case 4:
        snprintf(k, 64, "opaque-%llu", (unsigned long long)(x >> 20) % 50);
        break;
    default:
        break;
    }
}

/* What a run of three batches left: each batch's report and unmatched receipts, the
 * receipts still waiting after their sends were written, the store. */
typedef struct outcome {
    eng_event_report rep[3];
    seen un[3];
    uint64_t waiting;
    uint8_t digest[ENG__SHA256_LEN];
} outcome;

/* Three batches, as strings through a version-1 struct (@p lens 0), or the same keys
 * copied into buffers whose bytes go on past them (no NUL) with their lengths. */
static void play(unsigned threads, int lens, outcome *out)
{
    evfx f;
    evfx_open(&f, 300);
    f.e->threads = threads;
    sends(&f);
    static char zs[NB][64], raw[NB][RAW];
    const char *keys[NB];
    size_t kl[NB];
    int sts[NB];
    eng_time ts[NB];
    uint64_t rng = 11 + threads;
    for (int batch = 0; batch < 3; batch++) {
        for (size_t i = 0; i < NB; i++) {
            key_of(zs[i], &rng);
            kl[i] = strlen(zs[i]);
            memset(raw[i], '7', RAW); /* digits past the key: a scan for its end would run on */
            memcpy(raw[i], zs[i], kl[i]);
            keys[i] = lens ? raw[i] : zs[i];
            sts[i] = ENG_TOUCH_DELIVERED + (int)(i % 3);
            ts[i] = 5000 + (eng_time)i;
        }
        eng_receipts r;
        if (lens) {
            r = evfx_receipts(NB, keys, sts, ts, NULL);
            r.key_lengths = kl;
        } else {
            assert_int_equal(eng_receipts_init(&r, 1), ENG_OK);
            r.count = NB, r.keys = keys, r.statuses = sts, r.times = ts;
        }
        seen *un = &out->un[batch];
        un->n = 0;
        r.unmatched_fn = note;
        r.unmatched_user = un;
        out->rep[batch] = (eng_event_report)ENG_EVENT_REPORT_INIT;
        assert_int_equal(eng_touch_append(f.e, &r, &out->rep[batch]), ENG_OK);
        for (size_t q = 0; q < un->n; q++)
            assert_ptr_equal(un->key[q], keys[un->idx[q]]); /* the batch's own pointer */
    }
    /* the sends the waiting receipts are for */
    evfx_send(&f, "acme", 1, 200, 260, ENG_CH_EMAIL, 9000);
    assert_int_equal(eng_touch_pending(f.e, &out->waiting), ENG_OK);
    store_digest(f.e, out->digest);
    evfx_close(&f);
}

static void same_as_strings(void **st)
{
    (void)st;
    size_t keep = eng__keypar_min_rows;
    eng__keypar_min_rows = 4;
    static outcome a, b;
    for (unsigned threads = 0; threads < 2; threads++) {
        play(threads, 0, &a);
        play(threads, 1, &b);
        uint64_t accepted = 0, unmatched = 0;
        for (int k = 0; k < 3; k++) {
            assert_int_equal(a.rep[k].rows, NB);
            assert_int_equal(b.rep[k].rows, a.rep[k].rows);
            assert_int_equal(b.rep[k].accepted, a.rep[k].accepted);
            assert_int_equal(b.rep[k].duplicates, a.rep[k].duplicates);
            assert_int_equal(b.rep[k].unmatched, a.rep[k].unmatched);
            assert_int_equal(b.un[k].n, a.un[k].n);
            for (size_t q = 0; q < a.un[k].n; q++)
                assert_int_equal(b.un[k].idx[q], a.un[k].idx[q]);
            accepted += a.rep[k].accepted, unmatched += a.rep[k].unmatched;
        }
        assert_true(accepted > 150 && unmatched > 100);
        assert_int_equal(b.waiting, a.waiting);
        assert_memory_equal(a.digest, b.digest, ENG__SHA256_LEN);
    }
    eng__keypar_min_rows = keep;
}

/* The call refused with @p want naming @p field, the store unchanged. */
#define REFUSED_AS(e, call, want, field)                                                                    \
    do {                                                                                                     \
        uint8_t before_[ENG__SHA256_LEN], after_[ENG__SHA256_LEN];                                           \
        store_digest((e), before_);                                                                          \
        assert_int_equal((call), (want));                                                                    \
        assert_string_equal(eng_error_last()->detail, (field));                                             \
        store_digest((e), after_);                                                                           \
        assert_memory_equal(before_, after_, ENG__SHA256_LEN);                                               \
    } while (0)

/* Row 3 of a batch of six made bad in turn: refused by it, the store unchanged. */
static void bad_lengths_refused(void **st)
{
    (void)st;
    evfx f;
    evfx_open(&f, 300);
    sends(&f);
    enum { N = 6 };
    static char raw[N][1100];
    const char *keys[N];
    size_t lens[N];
    int sts[N];
    eng_time ts[N];
    for (size_t i = 0; i < N; i++) {
        evfx_key(raw[i], sizeof raw[i], 1, 0, (uint32_t)i, ENG_CH_EMAIL);
        lens[i] = strlen(raw[i]);
        keys[i] = raw[i];
        sts[i] = ENG_TOUCH_DELIVERED;
        ts[i] = 5000;
    }
    eng_receipts r = evfx_receipts(N, keys, sts, ts, NULL);
    r.key_lengths = lens;
    /* a NUL at every place of a key of the map, and of a key outside it */
    const char *forms[2] = {"acme/c1/m10.1000/o0/u3/email", "opaque-receipt-key"};
    for (int k = 0; k < 2; k++) {
        size_t len = strlen(forms[k]);
        for (size_t at = 0; at < len; at++) {
            memcpy(raw[3], forms[k], len);
            raw[3][at] = 0;
            lens[3] = len;
            REFUSED_AS(f.e, eng_touch_append(f.e, &r, NULL), ENG_EINVAL, "receipts[3].keys");
        }
    }
    memcpy(raw[3], forms[0], strlen(forms[0]) + 1);
    /* lengths of 0 and past 1024, a NULL key */
    memset(raw[3], 'a', 1025);
    const size_t bad[2] = {0, 1025};
    for (int k = 0; k < 2; k++) {
        lens[3] = bad[k];
        REFUSED_AS(f.e, eng_touch_append(f.e, &r, NULL), ENG_EINVAL, "receipts[3].keys");
    }
    lens[3] = 1024; /* the longest: taken, and waits for its send */
    eng_event_report rep = ENG_EVENT_REPORT_INIT;
    assert_int_equal(eng_touch_append(f.e, &r, &rep), ENG_OK);
    assert_int_equal(rep.unmatched, 1);
    assert_int_equal(rep.accepted, N - 1);
    keys[3] = NULL;
    lens[3] = 10;
    REFUSED_AS(f.e, eng_touch_append(f.e, &r, NULL), ENG_EINVAL, "receipts[3].keys");
    /* the first bad row is the error: a bad status before a NUL, a NUL before a bad status */
    keys[3] = raw[3];
    memcpy(raw[3], "opaque\0key", 10);
    lens[3] = 10;
    sts[1] = ENG_TOUCH_SENT;
    REFUSED_AS(f.e, eng_touch_append(f.e, &r, NULL), ENG_EINVAL, "receipts[1].statuses");
    sts[1] = ENG_TOUCH_DELIVERED;
    sts[5] = ENG_TOUCH_SENT;
    REFUSED_AS(f.e, eng_touch_append(f.e, &r, NULL), ENG_EINVAL, "receipts[3].keys");
    evfx_close(&f);
}

/* A host built against version 1 has no key_lengths: whatever lies there is not read. */
static void version_1_has_no_lengths(void **st)
{
    (void)st;
    evfx f;
    evfx_open(&f, 300);
    sends(&f);
    char k0[64], k1[64];
    evfx_key(k0, sizeof k0, 1, 0, 7, ENG_CH_EMAIL);
    evfx_key(k1, sizeof k1, 2, 0, 8, ENG_CH_SMS);
    const char *keys[2] = {k0, k1};
    int sts[2] = {ENG_TOUCH_DELIVERED, ENG_TOUCH_OPENED};
    eng_time ts[2] = {5000, 5001};
    const size_t wrong[2] = {3, 3};
    eng_receipts r = evfx_receipts(2, keys, sts, ts, NULL);
    r.version = 1;
    r.key_lengths = wrong; /* past a version-1 struct's end */
    eng_event_report rep = ENG_EVENT_REPORT_INIT;
    assert_int_equal(eng_touch_append(f.e, &r, &rep), ENG_OK);
    assert_int_equal(rep.accepted, 2);
    assert_int_equal(rep.unmatched, 0);
    r.version = 3;
    REFUSED_AS(f.e, eng_touch_append(f.e, &r, NULL), ENG_EVERSION, "receipts.version");
    evfx_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(same_as_strings),
        cmocka_unit_test(bad_lengths_refused),
        cmocka_unit_test(version_1_has_no_lengths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
