/* Receipts matched through a context's key map (events/keymap.c): keys of
 * the dispatcher's form find their send by an array index, and a key that is
 * not exactly a send's own — forged, garbled, of another org or execution,
 * truncated — is reported unmatched, never attributed to a send. A
 * differential run mixes map keys, opaque keys and dispatcher-form keys that
 * name other fields than their row, with reopens, against a plain model
 * (strings compared with strcmp); run again with the keys that name other
 * fields naming other sends' customers, and each `sent` batch parsed by
 * chunks of a row or two on a thread while the rows before are applied
 * (events/keypar.c). */
#include "ev_fixture.h"
#include "events/ev_state.h"
#include "events/keypar.h"

/* dispatch/dispatch_impl.h (not included: it clashes with the events headers) */
size_t eng__send_key(char *buf, size_t cap, const char *org, uint64_t campaign, uint64_t message, eng_time version,
                     uint32_t occurrence, uint32_t customer, int channel);
size_t eng__send_key_prefix(char *buf, size_t cap, const char *org, uint64_t campaign, uint64_t message,
                            eng_time version, uint32_t occurrence);
size_t eng__send_key_tail(char *buf, size_t cap, const char *prefix, size_t plen, uint32_t customer, int channel);

static uint64_t rng = 7;
static uint64_t rnd(void)
{
    return test_splitmix(&rng);
}

#define NS (ENG_CH_COUNT * ENG_TOUCH_STATUS_COUNT)

/* `sent` rows with the given keys, customers and channels, in one batch of ctx (org, campaign, occurrence). */
static int send_keys(evfx *f, const char *org, uint64_t campaign, uint32_t occ, const char *const *keys,
                     const uint32_t *cust, const int *ch, size_t n, eng__sent_result *res)
{
    eng__send_ctx ctx = {org, campaign, campaign * 10, 1, occ};
    eng__sent_row *rows = calloc(n ? n : 1, sizeof *rows);
    for (size_t i = 0; i < n; i++)
        rows[i] = (eng__sent_row){keys[i], strlen(keys[i]), cust[i], (uint8_t)ch[i], 1000 + (eng_time)i};
    int rc = eng__enter(f->e);
    if (!rc) {
        if (!(rc = eng__kv_begin(f->e->store))) {
            rc = eng__touch_sent(f->e, &ctx, rows, n, res);
            rc = rc ? eng__events_fail(f->e, rc) : eng__kv_commit(f->e->store);
        }
        eng__leave(f->e);
    }
    free(rows);
    return rc;
}

typedef struct seen {
    size_t idx[64];
    size_t n;
} seen;

static void note_unmatched(size_t index, const char *key, void *user)
{
    (void)key;
    seen *s = user;
    if (s->n < 64)
        s->idx[s->n++] = index;
}

static eng_event_report receipts(evfx *f, const char *const *keys, const int *st, size_t n, seen *s)
{
    eng_time *ts = calloc(n ? n : 1, sizeof *ts);
    for (size_t i = 0; i < n; i++)
        ts[i] = 5000 + (eng_time)i;
    eng_receipts r = evfx_receipts(n, keys, st, ts, NULL);
    r.unmatched_fn = note_unmatched;
    r.unmatched_user = s;
    eng_event_report rep = ENG_EVENT_REPORT_INIT;
    assert_int_equal(eng_touch_append(f->e, &r, &rep), ENG_OK);
    free(ts);
    return rep;
}

/* The fixture's keys are the dispatcher's, and events reads them as such. */
static void dispatcher_form(void **st)
{
    (void)st;
    char a[128], b[128], c[128];
    eng__send_key(a, sizeof a, "acme", 7, 70, 1000, 0, 5, ENG_CH_EMAIL);
    evfx_key(b, sizeof b, 7, 0, 5, ENG_CH_EMAIL);
    assert_string_equal(a, b);
    size_t pl = eng__send_key_prefix(c, sizeof c, "acme", 7, 70, 1000, 0);
    assert_int_equal(eng__send_key_tail(c, sizeof c, c, pl, 5, ENG_CH_EMAIL), strlen(a));
    assert_string_equal(a, c);
    eng__keyparts kp;
    assert_int_equal(eng__key_parse(a, strlen(a), &kp), 1);
    assert_int_equal(kp.orglen, 4);
    assert_int_equal(kp.ctx.campaign, 7);
    assert_int_equal(kp.ctx.message, 70);
    assert_int_equal(kp.ctx.version, 1);
    assert_int_equal(kp.ctx.occurrence, 0);
    assert_int_equal(kp.customer, 5);
    assert_int_equal(kp.channel, ENG_CH_EMAIL);
    uint32_t cu;
    uint8_t ch;
    assert_int_equal(eng__key_tail(a, strlen(a), &cu, &ch), pl);
    for (int k = 0; k < ENG_CH_COUNT; k++) { /* every channel name reads back */
        eng__send_key(a, sizeof a, "o/with/slashes", 18446744073709551615ull, 1, 1767225600123, 4294967295u,
                      4294967295u, k);
        assert_int_equal(eng__key_parse(a, strlen(a), &kp), 1);
        assert_int_equal(kp.orglen, strlen("o/with/slashes"));
        assert_true(kp.ctx.campaign == 18446744073709551615ull);
        assert_int_equal(kp.customer, 4294967295u);
        assert_int_equal(kp.channel, k);
    }
}

/* The reference: the key is the prefix, the customer in canonical decimal (at most
 * 2^32 - 1), '/' and a channel's name, read with the C library. */
static int ref_tail(const char *key, const char *pfx, uint32_t *cu, int *ch)
{
    size_t pl = strlen(pfx);
    if (strncmp(key, pfx, pl))
        return 0;
    const char *d = key + pl, *slash = strchr(d, '/');
    if (!slash || slash == d || slash - d > 10)
        return 0;
    char digits[16], back[24];
    memcpy(digits, d, (size_t)(slash - d));
    digits[slash - d] = 0;
    for (const char *q = digits; *q; q++)
        if (*q < '0' || *q > '9')
            return 0;
    unsigned long long v = strtoull(digits, NULL, 10);
    snprintf(back, sizeof back, "%llu", v);
    if (v > 4294967295ull || strcmp(back, digits))
        return 0;
    for (int k = 0; k < ENG_CH_COUNT; k++)
        if (!strcmp(slash + 1, eng_channel_name(k))) {
            *cu = (uint32_t)v;
            *ch = k;
            return 1;
        }
    return 0;
}

/* Reading the customer forward after a known prefix (eng__key_tail_after, the receipts'
 * and sends' usual case) agrees with the reference and with the backward reading
 * (eng__key_tail), over valid keys and random byte edits of their tails. */
static void tail_after_prefix(void **st)
{
    (void)st;
    char pfx[128], key[160];
    size_t pl = eng__send_key_prefix(pfx, sizeof pfx, "acme", 7, 70, 1000, 0);
    static const char alpha[] = "0123456789/uemailsmpushwatp\0x";
    size_t valid = 0;
    for (int round = 0; round < 20000; round++) {
        uint32_t c = round % 3 == 0 ? (uint32_t)rnd() : (uint32_t)(rnd() % 1000);
        eng__send_key_tail(key, sizeof key, pfx, pl, c, (int)(rnd() % ENG_CH_COUNT));
        size_t len = strlen(key);
        for (int e = (int)(rnd() % 3); e > 0; e--) { /* edits past the prefix: replace, insert, delete */
            size_t at = pl + (size_t)(rnd() % (len - pl + 1)), op = rnd() % 3;
            char b = alpha[rnd() % (sizeof alpha - 1)];
            if (op == 0 && at < len)
                key[at] = b;
            else if (op == 1 && len + 1 < sizeof key) {
                memmove(key + at + 1, key + at, len - at + 1);
                key[at] = b;
                len++;
            } else if (op == 2 && at < len) {
                memmove(key + at, key + at + 1, len - at);
                len--;
            }
        }
        len = strlen(key); /* an inserted NUL ends it */
        uint32_t cu = 0, rcu = 0, bcu = 0;
        uint8_t ch = 0, bch = 0;
        int rch = -1;
        int want = ref_tail(key, pfx, &rcu, &rch);
        size_t got = len > pl ? eng__key_tail_after(key, len, pl, &cu, &ch) : 0;
        size_t back = eng__key_tail(key, len, &bcu, &bch);
        assert_int_equal(got, want ? pl : 0);
        assert_int_equal(want, back == pl && !memcmp(key, pfx, pl));
        if (want) {
            valid++;
            assert_int_equal(cu, rcu);
            assert_int_equal(ch, rch);
            assert_int_equal(bcu, rcu);
            assert_int_equal(bch, rch);
        }
    }
    assert_true(valid > 5000 && valid < 19000); /* both kinds were tried */
}

static void forged_keys_unmatched(void **st)
{
    (void)st;
    evfx f;
    evfx_open(&f, 0);
    assert_int_equal(eng_org_create(f.e, "beta", NULL, "badmin", NULL), ENG_OK);
    evfx_send(&f, "acme", 7, 0, 100, ENG_CH_EMAIL, 1000); /* acme/c7/m70.1000/o0/u<c>/email */
    /* beta: the same context fields, a send to customer 6 only */
    const char *bk[1] = {"beta/c7/m70.1000/o0/u6/email"};
    uint32_t bc[1] = {6};
    int bch[1] = {ENG_CH_EMAIL};
    eng__sent_result res;
    assert_int_equal(send_keys(&f, "beta", 7, 0, bk, bc, bch, 1, &res), ENG_OK);
    assert_int_equal(res.accepted, 1);

    static const char *const forged[] = {
        "acme/c7/m70.1000/o0/u100/email",        /* a customer without a send */
        "acme/c7/m70.1000/o0/u5/sms",            /* a channel not sent */
        "acme/c7/m70.1000/o0/u5/push",
        "acme/c7/m70.1001/o0/u5/email",          /* version garbled, same second */
        "acme/c7/m70.1000/o1/u5/email",          /* another execution */
        "acme/c7/m71.1000/o0/u5/email",          /* another message */
        "acme/c8/m70.1000/o0/u5/email",          /* another campaign */
        "acme/c7/m70.1000/o0/u05/email",         /* not canonical */
        "acme/c7/m70.1000/o0/u4294967301/email", /* 2^32 + 5 */
        "acme/c7/m70.1000/o0/u5/emai",           /* truncated */
        "acme/c7/m70.1000/o0/u5/",
        "acme/c7/m70.1000/o0/u5",
        "acme/c7/m70.1000/o0/u",
        "acme/c7/m70.1000/o0/u5/email ",
        "xacme/c7/m70.1000/o0/u5/email", /* another org's name */
        "cme/c7/m70.1000/o0/u5/email",
        "beta/c7/m70.1000/o0/u5/email", /* an org whose context has no send for 5 */
        "/c7/m70.1000/o0/u5/email",
    };
    size_t n = sizeof forged / sizeof *forged;
    int sts[sizeof forged / sizeof *forged];
    for (size_t i = 0; i < n; i++)
        sts[i] = ENG_TOUCH_DELIVERED;
    seen s = {{0}, 0};
    eng_event_report r = receipts(&f, forged, sts, n, &s);
    assert_int_equal(r.accepted, 0);
    assert_int_equal(r.unmatched, n);
    assert_int_equal(s.n, n);
    uint64_t c[NS];
    assert_int_equal(eng_touch_status_counts(f.e, "acme", 7, 0, c, NS), ENG_OK);
    assert_int_equal(c[ENG_CH_EMAIL * ENG_TOUCH_STATUS_COUNT + ENG_TOUCH_SENT], 100);
    assert_int_equal(c[ENG_CH_EMAIL * ENG_TOUCH_STATUS_COUNT + ENG_TOUCH_DELIVERED], 0);
    uint64_t np;
    assert_int_equal(eng_touch_pending(f.e, &np), ENG_OK);
    assert_int_equal(np, n);

    /* the genuine keys match, in either org */
    const char *good[2] = {"acme/c7/m70.1000/o0/u5/email", "beta/c7/m70.1000/o0/u6/email"};
    s.n = 0;
    r = receipts(&f, good, sts, 2, &s);
    assert_int_equal(r.accepted, 2);
    assert_int_equal(r.unmatched, 0);
    assert_int_equal(eng_touch_status_counts(f.e, "acme", 7, 0, c, NS), ENG_OK);
    assert_int_equal(c[ENG_CH_EMAIL * ENG_TOUCH_STATUS_COUNT + ENG_TOUCH_DELIVERED], 1);
    assert_int_equal(eng_touch_status_counts(f.e, "beta", 7, 0, c, NS), ENG_OK);
    assert_int_equal(c[ENG_CH_EMAIL * ENG_TOUCH_STATUS_COUNT + ENG_TOUCH_DELIVERED], 1);
    evfx_close(&f);
}

/* Sends the map cannot hold, keys that name other fields than their row, and a reopen. */
static void map_overflow_and_reload(void **st)
{
    (void)st;
    evfx f;
    evfx_open(&f, 0);
    /* customer 3 on two channels of one context; customer 9's key names customer 8 */
    const char *k[4] = {"acme/c1/m10.1000/o0/u3/email", "acme/c1/m10.1000/o0/u3/sms", "acme/c1/m10.1000/o0/u8/email",
                        "acme/c1/m10.1000/o0/u4/email"};
    uint32_t cu[4] = {3, 3, 9, 4};
    int ch[4] = {ENG_CH_EMAIL, ENG_CH_SMS, ENG_CH_EMAIL, ENG_CH_EMAIL};
    eng__sent_result res;
    assert_int_equal(send_keys(&f, "acme", 1, 0, k, cu, ch, 4, &res), ENG_OK);
    assert_int_equal(res.accepted, 4);
    /* customer 8's own send would carry the same key: a duplicate */
    uint32_t c8 = 8;
    assert_int_equal(send_keys(&f, "acme", 1, 0, k + 2, &c8, ch, 1, &res), ENG_OK);
    assert_int_equal(res.duplicates, 1);
    int sts[4] = {ENG_TOUCH_DELIVERED, ENG_TOUCH_OPENED, ENG_TOUCH_CLICKED, ENG_TOUCH_FAILED};
    seen s = {{0}, 0};
    eng_event_report r = receipts(&f, k, sts, 4, &s);
    assert_int_equal(r.accepted, 4);
    uint64_t c[NS];
    assert_int_equal(eng_touch_status_counts(f.e, "acme", 1, 0, c, NS), ENG_OK);
    assert_int_equal(c[ENG_CH_EMAIL * ENG_TOUCH_STATUS_COUNT + ENG_TOUCH_DELIVERED], 1);
    assert_int_equal(c[ENG_CH_SMS * ENG_TOUCH_STATUS_COUNT + ENG_TOUCH_OPENED], 1);
    assert_int_equal(c[ENG_CH_EMAIL * ENG_TOUCH_STATUS_COUNT + ENG_TOUCH_CLICKED], 1);
    assert_int_equal(c[ENG_CH_EMAIL * ENG_TOUCH_STATUS_COUNT + ENG_TOUCH_FAILED], 1);

    /* after a reopen: retried sends are duplicates, new ones of the context are mapped */
    evfx_reopen(&f);
    assert_int_equal(evfx_send_rc(&f, "acme", 2, 0, 50, ENG_CH_EMAIL, 1000, &res), ENG_OK);
    assert_int_equal(res.accepted, 50);
    evfx_reopen(&f);
    assert_int_equal(evfx_send_rc(&f, "acme", 2, 0, 100, ENG_CH_EMAIL, 1000, &res), ENG_OK);
    assert_int_equal(res.accepted, 50);
    assert_int_equal(res.duplicates, 50);
    for (uint32_t i = 0; i < 100; i++) {
        r = (eng_event_report)ENG_EVENT_REPORT_INIT;
        assert_int_equal(evfx_receipt(&f, 2, i, ENG_CH_EMAIL, ENG_TOUCH_DELIVERED, 3000, NULL, &r), ENG_OK);
        assert_int_equal(r.accepted, 1);
    }
    assert_int_equal(eng_touch_status_counts(f.e, "acme", 2, 0, c, NS), ENG_OK);
    assert_int_equal(c[ENG_CH_EMAIL * ENG_TOUCH_STATUS_COUNT + ENG_TOUCH_DELIVERED], 100);
    evfx_close(&f);
}

/* A batch of map keys but for one row, in its middle, whose key names a later row's customer: that later
 * row is a duplicate, whether the batch is parsed whole or by chunks on a thread while its rows are applied. */
static void other_key_mid_batch(void **st)
{
    (void)st;
    size_t keep = eng__keypar_min_rows;
    for (int chunked = 0; chunked < 2; chunked++) {
        eng__keypar_min_rows = chunked ? 4 : keep;
        evfx f;
        evfx_open(&f, 0);
        char kb[40][64];
        const char *k[40];
        uint32_t cu[40];
        int ch[40];
        for (uint32_t i = 0; i < 40; i++) {
            snprintf(kb[i], sizeof kb[i], "acme/c1/m10.1000/o0/u%u/email", i == 15 ? 30 : i);
            k[i] = kb[i], cu[i] = i, ch[i] = ENG_CH_EMAIL;
        }
        eng__sent_result res;
        assert_int_equal(send_keys(&f, "acme", 1, 0, k, cu, ch, 40, &res), ENG_OK);
        assert_int_equal(res.accepted, 39);
        assert_int_equal(res.duplicates, 1);
        int sts[1] = {ENG_TOUCH_DELIVERED};
        seen s = {{0}, 0};
        eng_event_report r = receipts(&f, k + 30, sts, 1, &s);
        assert_int_equal(r.accepted, 1);
        uint64_t c[NS];
        assert_int_equal(eng_touch_status_counts(f.e, "acme", 1, 0, c, NS), ENG_OK);
        assert_int_equal(c[ENG_CH_EMAIL * ENG_TOUCH_STATUS_COUNT + ENG_TOUCH_DELIVERED], 1);
        assert_int_equal(c[ENG_CH_EMAIL * ENG_TOUCH_STATUS_COUNT + ENG_TOUCH_SENT], 38);
        evfx_close(&f);
    }
    eng__keypar_min_rows = keep;
}

/* ---- differential: the library against a model of strings ---- */

#define NC 120
#define NCAMP 2
#define NCH 2
#define NKEY (NCAMP * NC * NCH)
static const int dchan[NCH] = {ENG_CH_EMAIL, ENG_CH_SMS};

typedef struct mkey {
    char key[80];
    int sent;
    uint8_t mask, status;
} mkey;

typedef struct model {
    mkey k[NKEY + 4096];
    size_t n;
    struct {
        size_t key;
        int status;
    } pend[8192];
    size_t npend;
} model;

static size_t model_find(model *m, const char *key)
{
    for (size_t i = 0; i < m->n; i++)
        if (!strcmp(m->k[i].key, key))
            return i;
    assert_true(m->n < sizeof m->k / sizeof *m->k);
    snprintf(m->k[m->n].key, sizeof m->k[m->n].key, "%s", key);
    m->k[m->n].sent = 0;
    m->k[m->n].mask = 0;
    m->k[m->n].status = 0;
    return m->n++;
}

/* Apply a receipt to a sent key: 1 if new. */
static int model_apply(mkey *k, int status)
{
    if (k->mask & (1u << status))
        return 0;
    k->mask |= (uint8_t)(1u << status);
    if (eng__touch_rank(status) > eng__touch_rank(k->status))
        k->status = (uint8_t)status;
    return 1;
}

/* The key a (campaign, customer, channel) send carries: a map key, an opaque one, or one naming another customer. */
static int key_kind(uint32_t camp, uint32_t cust, int chi)
{
    return (int)((camp * 7919u + cust * 31u + (uint32_t)chi * 3u) % 5u) % 3; /* 0 map (3 in 5), 1 opaque, 2 other */
}

/* 1: a key naming other fields names the next customer (often a send's own key) instead of one no send has. */
static int collide;

static void key_of(char *buf, size_t cap, uint32_t camp, uint32_t cust, int chi)
{
    const char *cn = eng_channel_name(dchan[chi]);
    switch (key_kind(camp, cust, chi)) {
    case 0:
        snprintf(buf, cap, "acme/c%u/m%u.1000/o0/u%u/%s", camp, camp * 10, cust, cn);
        break;
    case 1:
        snprintf(buf, cap, "opaque:%u:%u:%s", camp, cust, cn);
        break;
    default:
        snprintf(buf, cap, "acme/c%u/m%u.1000/o0/u%u/%s", camp, camp * 10, collide ? (cust + 1) % NC : cust + 1000,
                 cn);
        break;
    }
}

/* A key no send carries, derived from a send's key. */
static void forge(char *buf, size_t cap, uint32_t camp, uint32_t cust, int chi, int how)
{
    const char *cn = eng_channel_name(dchan[chi]);
    switch (how) {
    case 0:
        snprintf(buf, cap, "acme/c%u/m%u.1001/o0/u%u/%s", camp, camp * 10, cust, cn);
        break;
    case 1:
        snprintf(buf, cap, "acme/c%u/m%u.1000/o1/u%u/%s", camp, camp * 10, cust, cn);
        break;
    case 2:
        snprintf(buf, cap, "acme/c%u/m%u.1000/o0/u%u/push", camp, camp * 10, cust);
        break;
    case 3:
        snprintf(buf, cap, "acme/c%u/m%u.1000/o0/u%u/%.2s", camp, camp * 10, cust, cn);
        break;
    default:
        snprintf(buf, cap, "beta/c%u/m%u.1000/o0/u%u/%s", camp, camp * 10, cust, cn);
        break;
    }
}

static const int rstat[5] = {ENG_TOUCH_DELIVERED, ENG_TOUCH_OPENED, ENG_TOUCH_CLICKED, ENG_TOUCH_FAILED,
                             ENG_TOUCH_BOUNCED};

static void differential_run(void)
{
    evfx f;
    evfx_open(&f, 0);
    model *m = calloc(1, sizeof *m);
    for (int round = 0; round < 60; round++) {
        uint64_t op = rnd() % 10;
        if (op == 0) {
            evfx_reopen(&f);
        } else if (op < 5) { /* a sent batch: one campaign, random customers and channels */
            uint32_t camp = 1 + (uint32_t)(rnd() % NCAMP);
            size_t n = 1 + rnd() % 40;
            char (*keys)[80] = calloc(n, 80);
            const char **kp = calloc(n, sizeof *kp);
            uint32_t *cu = calloc(n, sizeof *cu);
            int *ch = calloc(n, sizeof *ch);
            uint64_t acc = 0, dup = 0, joined = 0;
            for (size_t i = 0; i < n; i++) {
                cu[i] = (uint32_t)(rnd() % NC);
                int chi = (int)(rnd() % NCH);
                ch[i] = dchan[chi];
                key_of(keys[i], 80, camp, cu[i], chi);
                kp[i] = keys[i];
                mkey *k = &m->k[model_find(m, keys[i])];
                if (k->sent) {
                    dup++;
                    continue;
                }
                acc++;
                k->sent = 1;
                k->mask = 1u << ENG_TOUCH_SENT;
                k->status = ENG_TOUCH_SENT;
                for (size_t p = 0; p < m->npend;) /* receipts that came first join it */
                    if (m->pend[p].key == (size_t)(k - m->k)) {
                        joined += (uint64_t)model_apply(k, m->pend[p].status);
                        m->pend[p] = m->pend[--m->npend];
                    } else {
                        p++;
                    }
            }
            eng__sent_result res;
            assert_int_equal(send_keys(&f, "acme", camp, 0, kp, cu, ch, n, &res), ENG_OK);
            assert_int_equal(res.accepted, acc);
            assert_int_equal(res.duplicates, dup);
            (void)joined; /* a pending receipt that joins a send is counted even when its status is a repeat */
            free(keys);
            free(kp);
            free(cu);
            free(ch);
        } else { /* a receipt batch: keys sent or not yet, and forged ones */
            size_t n = 1 + rnd() % 60;
            char (*keys)[80] = calloc(n, 80);
            const char **kp = calloc(n, sizeof *kp);
            int *sts = calloc(n, sizeof *sts);
            uint64_t acc = 0, dup = 0, unm = 0;
            for (size_t i = 0; i < n; i++) {
                uint32_t camp = 1 + (uint32_t)(rnd() % NCAMP), cu = (uint32_t)(rnd() % NC);
                int chi = (int)(rnd() % NCH);
                if (rnd() % 6 == 0)
                    forge(keys[i], 80, camp, cu, chi, (int)(rnd() % 5));
                else
                    key_of(keys[i], 80, camp, cu, chi);
                kp[i] = keys[i];
                sts[i] = rstat[rnd() % 5];
                size_t ki = model_find(m, keys[i]);
                mkey *k = &m->k[ki];
                if (k->sent) {
                    if (model_apply(k, sts[i]))
                        acc++;
                    else
                        dup++;
                    continue;
                }
                int repeat = 0;
                for (size_t p = 0; p < m->npend && !repeat; p++)
                    repeat = m->pend[p].key == ki && m->pend[p].status == sts[i];
                if (repeat) {
                    dup++;
                } else {
                    assert_true(m->npend < sizeof m->pend / sizeof *m->pend);
                    m->pend[m->npend].key = ki;
                    m->pend[m->npend++].status = sts[i];
                    unm++;
                }
            }
            seen s = {{0}, 0};
            eng_event_report r = receipts(&f, kp, sts, n, &s);
            assert_int_equal(r.accepted, acc);
            assert_int_equal(r.duplicates, dup);
            assert_int_equal(r.unmatched, unm);
            free(keys);
            free(kp);
            free(sts);
        }
    }
    /* every send's furthest status, per campaign x channel x status (a key once) */
    for (uint32_t camp = 1; camp <= NCAMP; camp++) {
        uint64_t c[NS], want[NS] = {0};
        for (uint32_t cu = 0; cu < NC; cu++)
            for (int chi = 0; chi < NCH; chi++) {
                char key[80];
                key_of(key, sizeof key, camp, cu, chi);
                mkey *k = &m->k[model_find(m, key)];
                if (k->sent == 1)
                    want[dchan[chi] * ENG_TOUCH_STATUS_COUNT + k->status]++;
                k->sent += k->sent > 0;
            }
        assert_int_equal(eng_touch_status_counts(f.e, "acme", camp, 0, c, NS), ENG_OK);
        assert_memory_equal(c, want, sizeof want);
    }
    uint64_t np;
    assert_int_equal(eng_touch_pending(f.e, &np), ENG_OK);
    assert_int_equal(np, m->npend);
    free(m);
    evfx_close(&f);
}

static void differential(void **st)
{
    (void)st;
    differential_run();
}

static void differential_chunked(void **st)
{
    (void)st;
    size_t keep = eng__keypar_min_rows;
    eng__keypar_min_rows = 4; /* chunks of a row or two, on a thread from 8 rows */
    collide = 1;
    differential_run();
    collide = 0;
    eng__keypar_min_rows = keep;
}


typedef struct cust_touches {
    unsigned n[ENG_CH_COUNT][ENG_TOUCH_STATUS_COUNT];
    unsigned total;
} cust_touches;

static int count_touch(const eng_touch_row *row, void *user)
{
    cust_touches *t = user;
    t->n[row->channel][row->status]++;
    t->total++;
    return 0;
}

/* ---- the map's runs (ev_state.h, eng__kmrun): what they hold is the entries' own sends ---- */

/* Every entry of acme's maps that a run holds is the entry itself; returns how many runs hold. */
static size_t runs_check(evfx *f)
{
    eng__ev *ev;
    eng__evorg *o;
    assert_int_equal(eng__enter(f->e), ENG_OK);
    assert_int_equal(eng__ev_get(f->e, &ev), ENG_OK);
    assert_int_equal(eng__ev_org(ev, "acme", 0, &o), ENG_OK);
    size_t held = 0;
    for (uint32_t c = 0; c < o->nkm; c++) {
        const eng__kmap *m = &o->km[c];
        for (uint32_t off = 0; off < m->cap; off++) {
            uint32_t r = eng__kmrun_get(m->run[off / 32], off % 32);
            if (r) { /* held: inside the span, the entry's own value (never an empty entry) */
                assert_true(off < m->span);
                assert_int_equal(r, m->v[off]);
                held++;
            }
        }
    }
    eng__leave(f->e);
    return held;
}

/* Sends written ascending, with gaps, descending below the map's start (its entries move), shuffled,
 * a second channel (hashed), a batch that fails and is taken back; then each send's receipt reaches
 * that send, and every customer has exactly its own sends' receipts. */
static void runs_hold_the_entries(void **st)
{
    (void)st;
    evfx f;
    evfx_open(&f, 0);
    enum { NCUST = 4000 };
    static char keys[2 * NCUST][64];
    static const char *kp[2 * NCUST];
    static uint32_t cu[2 * NCUST];
    static int ch[2 * NCUST];
    static uint8_t sent[NCUST][2];
    size_t n = 0;
    eng__sent_result res;
#define RUNS_SEND(c, chi) (cu[n] = (c), ch[n] = dchan[chi], sent[c][chi] = 1, \
                           eng__send_key(keys[n], 64, "acme", 1, 10, 1000, 0, (c), dchan[chi]), kp[n] = keys[n], n++)
    for (uint32_t c = 1000; c < 2000; c++) /* ascending: whole runs */
        RUNS_SEND(c, 0);
    assert_int_equal(send_keys(&f, "acme", 1, 0, kp, cu, ch, n, &res), ENG_OK);
    n = 0;
    for (uint32_t c = 2000; c < 3000; c++) /* gaps */
        if (c % 7 && c % 11)
            RUNS_SEND(c, 0);
    assert_int_equal(send_keys(&f, "acme", 1, 0, kp, cu, ch, n, &res), ENG_OK);
    size_t held = runs_check(&f);
    assert_true(held >= 1000 + 700); /* the runs hold the ascending sends, gaps or not */
    n = 0;
    for (uint32_t c = 1000; c-- > 0;) /* descending, below the map's start: it grows down */
        RUNS_SEND(c, c % 3 == 0);
    assert_int_equal(send_keys(&f, "acme", 1, 0, kp, cu, ch, n, &res), ENG_OK);
    assert_true(runs_check(&f) >= held); /* moved with their entries */
    n = 0;
    for (uint32_t c = 3000; c < 4000; c++)
        RUNS_SEND(c, 1);
    for (size_t i = n; i > 1; i--) { /* shuffled */
        size_t j = rnd() % i;
        uint32_t x = cu[i - 1];
        cu[i - 1] = cu[j], cu[j] = x;
    }
    for (size_t i = 0; i < n; i++)
        eng__send_key(keys[i], 64, "acme", 1, 10, 1000, 0, cu[i], dchan[1]);
    for (uint32_t c = 1000; c < 1100; c++) /* a second channel: in the index */
        RUNS_SEND(c, 1);
    assert_int_equal(send_keys(&f, "acme", 1, 0, kp, cu, ch, n, &res), ENG_OK);
    assert_int_equal(res.accepted, n);
    runs_check(&f);
    /* a batch that fails at its commit is taken back: its entries leave the runs */
    n = 0;
    for (uint32_t c = NCUST; c < NCUST + 400; c++) /* past the map's end: it grows, then its entries are cleared */
        cu[n] = c, ch[n] = dchan[0], eng__send_key(keys[n], 64, "acme", 1, 10, 1000, 0, c, dchan[0]), kp[n] = keys[n],
        n++;
    {
        eng__send_ctx sc = {"acme", 1, 10, 1, 0};
        eng__sent_row *rows = calloc(n, sizeof *rows);
        for (size_t i = 0; i < n; i++)
            rows[i] = (eng__sent_row){kp[i], strlen(kp[i]), cu[i], (uint8_t)ch[i], 1000};
        eng__ev *ev;
        assert_int_equal(eng__enter(f.e), ENG_OK);
        assert_int_equal(eng__ev_get(f.e, &ev), ENG_OK);
        uint32_t before = ev->s.n;
        assert_int_equal(eng__kv_begin(f.e->store), ENG_OK);
        assert_int_equal(eng__touch_sent(f.e, &sc, rows, n, &res), ENG_OK);
        eng__kv_rollback(f.e->store); /* as the dispatcher's batch that failed after it */
        eng__events_abandon_sent(f.e);
        assert_ptr_equal(eng__slot_get(f.e, ENG__SLOT_EVENTS), ev); /* kept, its rows taken back */
        assert_int_equal(ev->s.n, before);
        eng__leave(f.e);
        free(rows);
    }
    runs_check(&f);
    /* each send's delivered, shuffled, then every customer's touches */
    n = 0;
    for (uint32_t c = 0; c < NCUST; c++)
        for (int chi = 0; chi < 2; chi++)
            if (sent[c][chi])
                eng__send_key(keys[n], 64, "acme", 1, 10, 1000, 0, c, dchan[chi]), kp[n] = keys[n], n++;
    for (size_t i = n; i > 1; i--) {
        size_t j = rnd() % i;
        const char *x = kp[i - 1];
        kp[i - 1] = kp[j], kp[j] = x;
    }
    int *sts = calloc(n, sizeof *sts);
    for (size_t i = 0; i < n; i++)
        sts[i] = ENG_TOUCH_DELIVERED;
    seen sn = {{0}, 0};
    eng_event_report r = receipts(&f, kp, sts, n, &sn);
    assert_int_equal(r.accepted, n);
    assert_int_equal(r.unmatched, 0);
    free(sts);
    for (uint32_t c = 0; c < NCUST; c += 7) {
        cust_touches t;
        memset(&t, 0, sizeof t);
        assert_int_equal(eng_touches_of_customer(f.e, "acme", c, count_touch, &t), ENG_OK);
        for (int chi = 0; chi < 2; chi++) {
            assert_int_equal(t.n[dchan[chi]][ENG_TOUCH_SENT], sent[c][chi]);
            assert_int_equal(t.n[dchan[chi]][ENG_TOUCH_DELIVERED], sent[c][chi]);
        }
        assert_int_equal(t.total, 2 * (sent[c][0] + sent[c][1]));
    }
#undef RUNS_SEND
    evfx_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(dispatcher_form),
        cmocka_unit_test(tail_after_prefix),
        cmocka_unit_test(forged_keys_unmatched),
        cmocka_unit_test(map_overflow_and_reload),
        cmocka_unit_test(other_key_mid_batch),
        cmocka_unit_test(differential),
        cmocka_unit_test(differential_chunked),
        cmocka_unit_test(runs_hold_the_entries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
