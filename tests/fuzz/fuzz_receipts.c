/* Fuzz target for the event-receipt path: batches of provider receipts (real
 * keys of a finished execution, near-miss and random keys, every status, odd
 * times and details) appended to an engine. Beyond "no crash, no leak":
 *  - a refused batch (ENG_EINVAL) stores nothing and says which receipt;
 *  - an accepted batch accounts for every receipt (stored, duplicate or pending);
 *  - each send has exactly one furthest status: the per-status counts always
 *    add up to the number of sends, whatever arrived in whatever order.
 * Input, per receipt (6 bytes + detail): key selector (2), status, time (2),
 * detail length; then that many detail bytes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engage.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


#define NCUST 40
#define MAXKEYS (NCUST * 2)
#define T0 1767225600000 /* 2026-01-01T00:00:00Z */

static char *keys[MAXKEYS];
static size_t nkeys;

static int send_one(const eng_envelope *env, int *status, void *user)
{
    (void)user;
    if (nkeys < MAXKEYS)
        keys[nkeys++] = strdup(env->idempotency_key);
    *status = ENG_SEND_ACCEPTED;
    return ENG_OK;
}

static eng_time now_fn(void *u)
{
    (void)u;
    return T0;
}

/* An org whose one message went to NCUST customers by SMS (and email for some). */
static eng_engine *world(uint64_t *campaign, uint64_t *message)
{
    eng_schedule sched = ENG_SCHEDULE_INIT;
    static eng_transport_methods tm = {ENG_TRANSPORT_METHODS_VERSION, send_one, NULL, NULL, 1, 16};
    eng_config cfg;
    eng_config_init(&cfg, ENG_CONFIG_VERSION);
    cfg.transport = &tm;
    cfg.clock_fn = now_fn;
    eng_engine *e;
    CHECK(eng_open(&cfg, &e) == ENG_OK);
    eng_org_settings s;
    eng_org_settings_init(&s, ENG_ORG_SETTINGS_VERSION);
    s.channel_cost[ENG_CH_SMS] = 1;
    s.channel_cost[ENG_CH_EMAIL] = 1;
    fuzz_org(e, &s);
    CHECK(eng_unsubscribe_setup(e, "root", "https://acme.example/unsub", "0123456789abcdef-acme", 21) == ENG_OK);
    CHECK(eng_credits_adjust(e, "root", ENG_CREDITS_CAMPAIGN, 100000) == ENG_OK);
    char csv[NCUST * 80 + 80], *p = csv;
    const char *ids[NCUST];
    char idb[NCUST][16];
    p += sprintf(p, "id,contact.sms,consent.sms,contact.email,consent.email\n");
    for (int i = 0; i < NCUST; i++) {
        snprintf(idb[i], sizeof idb[i], "c%d", i);
        ids[i] = idb[i];
        if (i % 3)
            p += sprintf(p, "c%d,+1555%07d,yes,c%d@example.com,yes\n", i, i, i);
        else
            p += sprintf(p, "c%d,+1555%07d,yes,,\n", i, i);
    }
    CHECK(eng_customers_import_csv_buffer(e, "root", csv, (size_t)(p - csv), NULL, NULL) == ENG_OK);
    uint32_t g;
    CHECK(eng_group_create_uploaded(e, "root", "all", &g) == ENG_OK);
    CHECK(eng_group_upload_ids(e, "root", g, ids, NCUST, ENG_UPLOAD_REPLACE, NULL, NULL) == ENG_OK);
    eng_campaign_spec c;
    eng_campaign_spec_init(&c, ENG_CAMPAIGN_SPEC_VERSION);
    c.name = "Fuzz";
    c.start = T0 + ENG_DAY;
    c.end = T0 + 60 * ENG_DAY;
    c.objective = ENG_OBJ_BOOST_SALES;
    CHECK(eng_campaign_create(e, "ann", &c, campaign, NULL) == ENG_OK);
    static const char *const groups[] = {"all"};
    static const eng_creative cr[] = {{ENG_CH_SMS, NULL, "Hi, 20% off today. {{optout}}"},
                                      {ENG_CH_EMAIL, "Offer", "<p>Hello</p>{{unsubscribe}}"}};
    eng_message_spec m;
    eng_message_spec_init(&m, ENG_MESSAGE_SPEC_VERSION);
    m.title = "Blast";
    m.include = groups;
    m.n_include = 1;
    m.creatives = cr;
    m.n_creatives = 2;
    sched.kind = ENG_SCHEDULE_ONCE;
    sched.at = T0 + 3 * ENG_DAY;
    m.schedule = &sched;
    CHECK(eng_message_create(e, "ann", *campaign, &m, message, NULL) == ENG_OK);
    CHECK(eng_message_submit(e, "ann", *message, NULL) == ENG_OK);
    CHECK(eng_message_approve(e, "bob", *message, NULL, "ok") == ENG_OK);
    for (int i = 0; i < 8; i++) {
        eng_run_report rep = ENG_RUN_REPORT_INIT;
        CHECK(eng_run_due(e, "root", m.schedule->at, NULL, &rep) == ENG_OK);
    }
    CHECK(nkeys > 0);
    return e;
}

static uint64_t status_sum(eng_engine *e, uint64_t campaign, uint64_t message, uint64_t *counts)
{
    CHECK(eng_touch_status_counts(e, "acme", campaign, message, counts, ENG_CH_COUNT * ENG_TOUCH_STATUS_COUNT) ==
          ENG_OK);
    uint64_t n = 0;
    for (size_t i = 0; i < ENG_CH_COUNT * ENG_TOUCH_STATUS_COUNT; i++)
        n += counts[i];
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The world is costly (a whole execution): it is shared by 256 inputs in a row, the
     * invariants holding whatever earlier inputs appended; replaying one input alone
     * starts fresh. */
    static eng_engine *e;
    static uint64_t campaign, message;
    static unsigned uses;
    if (e && (size == 0 || ++uses % 256 == 0)) {
        eng_close(e);
        e = NULL;
        for (size_t i = 0; i < nkeys; i++)
            free(keys[i]);
        nkeys = 0;
    }
    if (size == 0)
        return 0;
    if (!e)
        e = world(&campaign, &message);
    uint64_t before[ENG_CH_COUNT * ENG_TOUCH_STATUS_COUNT], after[ENG_CH_COUNT * ENG_TOUCH_STATUS_COUNT];
    const uint64_t sends = status_sum(e, campaign, message, before);
    CHECK(sends == nkeys);

    /* Up to four batches from the input. */
    size_t pos = 0;
    for (int batch = 0; batch < 4 && pos < size; batch++) {
        enum { MAXR = 64 };
        const char *k[MAXR], *det[MAXR];
        char kbuf[MAXR][48], dbuf[MAXR][300];
        int st[MAXR];
        eng_time t[MAXR];
        size_t n = 0;
        while (n < MAXR && pos + 6 <= size) {
            const uint8_t *r = data + pos;
            pos += 6;
            if (r[0] == 0xff && r[1] == 0xff) /* batch separator */
                break;
            unsigned sel = (unsigned)r[0] << 8 | r[1];
            if (sel < 0x8000) { /* a real key */
                k[n] = keys[sel % nkeys];
            } else if (sel < 0xc000) { /* a near miss: a real key with one byte changed */
                snprintf(kbuf[n], sizeof kbuf[n], "%s", keys[sel % nkeys]);
                size_t l = strlen(kbuf[n]);
                kbuf[n][sel % (l ? l : 1)] ^= (char)(1 + (sel & 0x3f));
                k[n] = kbuf[n];
            } else { /* raw bytes (maybe empty, maybe invalid UTF-8) */
                size_t l = sel % 8;
                for (size_t i = 0; i < l; i++)
                    kbuf[n][i] = (char)(pos + i < size ? data[pos + i] : 'x');
                kbuf[n][l] = 0;
                k[n] = kbuf[n];
            }
            st[n] = (int)(r[2] % (ENG_TOUCH_STATUS_COUNT + 2)) - 1; /* -1 .. 8: some invalid */
            t[n] = r[3] == 0xff ? -(eng_time)r[4] : T0 + ((eng_time)r[3] << 8 | r[4]) * 60000;
            size_t dl = r[5] % 3 == 0 ? 0 : r[5];
            if (dl > size - pos)
                dl = size - pos;
            if (r[5] == 1) {
                det[n] = NULL;
            } else {
                memcpy(dbuf[n], data + pos, dl);
                dbuf[n][dl] = 0;
                det[n] = dbuf[n];
            }
            pos += dl;
            n++;
        }
        if (!n)
            continue;
        eng_receipts rc = ENG_RECEIPTS_INIT;
        rc.count = n;
        rc.keys = k;
        rc.statuses = st;
        rc.times = t;
        rc.details = det;
        eng_event_report rep = ENG_EVENT_REPORT_INIT;
        uint64_t pend0 = 0, pend1 = 0;
        CHECK(eng_touch_pending(e, &pend0) == ENG_OK);
        status_sum(e, campaign, message, before);
        int res = eng_touch_append(e, &rc, &rep);
        if (res != ENG_OK) {
            CHECK(res == ENG_EINVAL);
            CHECK(eng_error_last()->message[0] != 0 && strncmp(eng_error_last()->detail, "receipts[", 9) == 0);
            status_sum(e, campaign, message, after);
            CHECK(memcmp(before, after, sizeof before) == 0); /* nothing stored */
            CHECK(eng_touch_pending(e, &pend1) == ENG_OK && pend1 == pend0);
            continue;
        }
        CHECK(rep.accepted + rep.duplicates + rep.unmatched == n);
        CHECK(status_sum(e, campaign, message, after) == sends); /* one furthest status per send */
        CHECK(eng_touch_pending(e, &pend1) == ENG_OK && pend1 >= pend0);
    }
    return 0;
}
