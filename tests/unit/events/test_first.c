/* The touch log's `first` flag (ev_state.h): a row is flagged when its send is
 * the only send of its (context, customer, channel) — its key is the
 * dispatcher's key of them, in a context whose key map started in this load —
 * so the flagged rows hold each (context, customer, channel, status) at most
 * once and the measure layer counts them without deduplicating.
 *
 * Sends: campaign 1 by email and sms with the dispatcher's keys, a second send
 * by email with an opaque key for some of the same customers (not flagged),
 * after a reopen campaign 1 by push (its context was loaded: not flagged) and
 * campaign 2 by email (a new context: flagged). Receipts: random statuses,
 * each sent one to three times, shuffled, split over the two sessions, some
 * before their send (pending, joined when it comes). After every step (and a
 * reopen, and compaction) each row's flag is checked against what the test
 * knows of its send, and the flagged rows are recounted by brute force: per
 * (campaign, channel, status) as many as the distinct customers the test sent
 * that status to, never two of one (context, customer, channel, status). */
#include "ev_fixture.h"

#define N 300
enum { K_CANON, K_OPAQUE };

typedef struct snd {
    uint64_t campaign;
    int ch, kind;
    uint32_t customer;
    eng_time at;
    uint8_t want; /* statuses the receipts reach */
    int made;     /* the send is written */
    uint8_t have; /* statuses it has so far (verify) */
} snd;

static snd sends[4 * N];
static size_t nsends;

typedef struct rcpt {
    size_t send;
    int status;
    eng_time t;
    int written;
} rcpt;

static rcpt rcpts[4 * N * 12];
static size_t nrcpt;

static uint64_t rng = 7;
static uint64_t rnd(void)
{
    return test_splitmix(&rng);
}

static void key_of(const snd *s, char *buf, size_t cap)
{
    evfx_opaque_keys = s->kind == K_OPAQUE;
    evfx_key(buf, cap, s->campaign, 0, s->customer, s->ch);
    evfx_opaque_keys = 0;
}

/* Sends of one batch: customers [lo, hi), first send time at. */
static void plan(uint64_t campaign, int ch, int kind, uint32_t lo, uint32_t hi, eng_time at)
{
    static const int st[5] = {ENG_TOUCH_DELIVERED, ENG_TOUCH_OPENED, ENG_TOUCH_CLICKED, ENG_TOUCH_FAILED,
                              ENG_TOUCH_BOUNCED};
    for (uint32_t c = lo; c < hi; c++) {
        snd *s = &sends[nsends];
        *s = (snd){campaign, ch, kind, c, at + (c - lo), 1u << ENG_TOUCH_SENT, 0, 0};
        for (int k = 0; k < 5; k++) {
            if (rnd() % 3)
                continue;
            s->want |= (uint8_t)(1u << st[k]);
            int copies = 1 + (int)(rnd() % 3);
            for (int j = 0; j < copies; j++)
                rcpts[nrcpt++] = (rcpt){nsends, st[k], s->at + 1000 + (eng_time)(rnd() % 100000), 0};
        }
        nsends++;
    }
}

static void write_sends(evfx *f, uint64_t campaign, int ch, int kind, uint32_t lo, uint32_t hi)
{
    evfx_opaque_keys = kind == K_OPAQUE;
    eng_time at = 0;
    for (size_t i = 0; i < nsends; i++)
        if (sends[i].campaign == campaign && sends[i].ch == ch && sends[i].kind == kind && sends[i].customer == lo)
            at = sends[i].at;
    evfx_send(f, "acme", campaign, lo, hi, ch, at);
    evfx_opaque_keys = 0;
    for (size_t i = 0; i < nsends; i++)
        if (sends[i].campaign == campaign && sends[i].ch == ch && sends[i].kind == kind &&
            sends[i].customer >= lo && sends[i].customer < hi)
            sends[i].made = 1;
}

static void write_receipts(evfx *f, size_t from, size_t to)
{
    size_t n = to - from;
    char (*keys)[64] = malloc((n ? n : 1) * 64);
    const char **kp = malloc((n ? n : 1) * sizeof *kp);
    int *st = malloc((n ? n : 1) * sizeof *st);
    eng_time *ts = malloc((n ? n : 1) * sizeof *ts);
    for (size_t i = 0; i < n; i++) {
        rcpt *r = &rcpts[from + i];
        r->written = 1;
        key_of(&sends[r->send], keys[i], 64);
        kp[i] = keys[i];
        st[i] = r->status;
        ts[i] = r->t;
    }
    /* in two batches, the second ending with the first's last receipts again */
    size_t half = n / 2;
    for (int b = 0; b < 2; b++) {
        eng_receipts rc = ENG_RECEIPTS_INIT;
        size_t lo = b ? half - (half > 20 ? 20 : half) : 0;
        rc.count = b ? n - lo : half;
        rc.keys = kp + lo;
        rc.statuses = st + lo;
        rc.times = ts + lo;
        assert_int_equal(eng_touch_append(f->e, &rc, NULL), ENG_OK);
    }
    free(keys);
    free(kp);
    free(st);
    free(ts);
}

/* The flag the test expects on a send's rows. */
static int expect_first(const snd *s)
{
    return s->kind == K_CANON && !(s->campaign == 1 && s->ch == ENG_CH_PUSH);
}

typedef struct scan {
    evfx *f;
    size_t rows, flagged;
    uint32_t seen[3][ENG_CH_COUNT][ENG_TOUCH_STATUS_COUNT][N]; /* flagged rows per (campaign, ch, status, customer) */
} scan;

static int check_rows(const eng__touch_cols *c, void *user)
{
    scan *sc = user;
    eng__sends_view v;
    assert_int_equal(eng__sends_view_get(sc->f->e, &v), ENG_OK);
    for (size_t i = 0; i < c->n; i++) {
        uint64_t camp, msg;
        uint32_t ver, occ;
        assert_int_equal(eng__ctx_get(sc->f->e, c->org, c->ctx[i], &camp, &msg, &ver, &occ), ENG_OK);
        /* the row's send, by what the test knows of it */
        eng_time at = v.sent_at[c->send[i]];
        const snd *s = NULL;
        size_t lo = 0, hi = nsends; /* sends are planned in ascending time */
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (sends[mid].at < at)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo < nsends && sends[lo].at == at)
            s = &sends[lo];
        assert_non_null(s);
        assert_true(s->campaign == camp && s->ch == c->channel[i] && s->customer == c->customer[i]);
        assert_true(s->made);
        assert_true(s->have >> c->status[i] & 1);
        assert_int_equal(c->first[i], expect_first(s));
        sc->rows++;
        if (c->first[i]) {
            sc->flagged++;
            assert_int_equal(++sc->seen[camp][c->channel[i]][c->status[i]][c->customer[i]], 1);
        }
    }
    return 0;
}

/* Every row checked; the flagged ones recounted against the test's own sends. */
static void verify(evfx *f)
{
    for (size_t k = 0; k < nsends; k++)
        sends[k].have = 1u << ENG_TOUCH_SENT;
    for (size_t k = 0; k < nrcpt; k++)
        if (rcpts[k].written)
            sends[rcpts[k].send].have |= (uint8_t)(1u << rcpts[k].status);
    scan *sc = calloc(1, sizeof *sc);
    sc->f = f;
    eng__touch_filter flt;
    eng__touch_filter_init(&flt);
    flt.org = "acme";
    assert_int_equal(eng__enter(f->e), ENG_OK);
    assert_int_equal(eng__touch_scan(f->e, &flt, check_rows, sc), ENG_OK);
    eng__leave(f->e);
    size_t rows = 0, flagged = 0;
    for (size_t k = 0; k < nsends; k++) {
        if (!sends[k].made)
            continue;
        int n = __builtin_popcount(sends[k].have);
        rows += (size_t)n;
        flagged += expect_first(&sends[k]) ? (size_t)n : 0;
    }
    /* per (campaign, channel, status): the customers the test's flagged sends reached */
    static uint8_t reached[3][ENG_CH_COUNT][ENG_TOUCH_STATUS_COUNT][N];
    memset(reached, 0, sizeof reached);
    for (size_t k = 0; k < nsends; k++)
        for (int st = 0; st < ENG_TOUCH_STATUS_COUNT; st++)
            if (sends[k].made && expect_first(&sends[k]) && (sends[k].have >> st & 1))
                reached[sends[k].campaign][sends[k].ch][st][sends[k].customer] = 1;
    for (uint64_t camp = 1; camp <= 2; camp++)
        for (int ch = 0; ch < ENG_CH_COUNT; ch++)
            for (int st = 0; st < ENG_TOUCH_STATUS_COUNT; st++) {
                size_t want = 0, got = 0;
                for (uint32_t c = 0; c < N; c++) {
                    want += reached[camp][ch][st][c];
                    got += sc->seen[camp][ch][st][c];
                }
                assert_int_equal(got, want);
            }
    assert_int_equal(sc->rows, rows);
    assert_int_equal(sc->flagged, flagged);
    free(sc);
}

static void shuffle(size_t from, size_t to)
{
    for (size_t i = to - 1; i > from; i--) {
        size_t j = from + (size_t)(rnd() % (i - from + 1));
        rcpt t = rcpts[i];
        rcpts[i] = rcpts[j];
        rcpts[j] = t;
    }
}

static void first_flags(void **state)
{
    (void)state;
    evfx f;
    evfx_open(&f, N);
    nsends = nrcpt = 0;
    plan(1, ENG_CH_EMAIL, K_CANON, 0, 250, 1000);
    plan(1, ENG_CH_SMS, K_CANON, 100, 200, 10000);
    plan(1, ENG_CH_EMAIL, K_OPAQUE, 40, 90, 20000);  /* the same (context, customer, channel) again */
    plan(1, ENG_CH_PUSH, K_CANON, 0, 120, 30000);    /* after the reopen: the context was loaded */
    plan(2, ENG_CH_EMAIL, K_CANON, 50, 300, 40000);  /* after the reopen: a new context */
    shuffle(0, nrcpt);
    size_t cut = nrcpt * 3 / 5;

    write_sends(&f, 1, ENG_CH_EMAIL, K_CANON, 0, 250);
    write_sends(&f, 1, ENG_CH_SMS, K_CANON, 100, 200);
    write_sends(&f, 1, ENG_CH_EMAIL, K_OPAQUE, 40, 90);
    write_receipts(&f, 0, cut); /* push and campaign 2 receipts wait for their sends */
    verify(&f);
    evfx_reopen(&f);
    verify(&f);

    write_sends(&f, 1, ENG_CH_PUSH, K_CANON, 0, 120);
    write_sends(&f, 2, ENG_CH_EMAIL, K_CANON, 50, 300);
    verify(&f);
    write_receipts(&f, cut, nrcpt);
    write_receipts(&f, 0, cut / 4); /* late duplicates */
    verify(&f);
    assert_int_equal(eng_events_compact(f.e), ENG_OK);
    verify(&f);
    evfx_reopen(&f);
    verify(&f);
    evfx_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(first_flags)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
