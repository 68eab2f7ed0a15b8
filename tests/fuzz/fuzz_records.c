/* Fuzz target for the record decoders behind the checksum: a real engine state
 * (org, actors, customers, groups, a campaign with a goal, an approved and
 * executed message with its ledger, receipts, transactions) is built once in a
 * host store; each input picks one stored record, damages its payload — flips,
 * a cut, a new schema — and then *re-seals* it (length and CRC32C fixed), so
 * the damage reaches the decoder of that record instead of the checksum. The
 * engine is opened on the store and every read a host has is called, from the
 * first that reads the damaged record on (the calls before it see only undamaged
 * records: they are checked once, on the undamaged state). Beyond "no crash, no
 * leak": every call returns OK or an error with a message. The record is
 * restored after each input.
 * Input: u16 record selector; byte: schema delta; then 3-byte edits
 * (u16 payload offset, xor byte; xor 0 = cut the payload there). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engage.h"
#include "fuzz_util.h"
#include "base/hash.h"
#include "store/record.h"
#include "test_alloc.h"
#include "test_store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int strict; /* the undamaged state: every call OK */
#define SAID(rc) ((rc) == ENG_OK || (!strict && (rc) < 0 && eng_error_last()->message[0]))

#define T0 1767225600000 /* 2026-01-01T00:00:00Z */
#define NCUST 24

static test_store *ts;
static size_t nrec;
static uint64_t campaign, message;

static eng_time now_fn(void *u)
{
    (void)u;
    return T0 + 3 * ENG_DAY;
}

static int send_one(const eng_envelope *env, int *status, void *user)
{
    (void)env;
    (void)user;
    *status = ENG_SEND_ACCEPTED;
    return ENG_OK;
}

static eng_engine *open_engine(int *rc)
{
    static eng_transport_methods tm = {ENG_TRANSPORT_METHODS_VERSION, send_one, NULL, NULL, 1, 8};
    eng_config cfg;
    eng_config_init(&cfg, ENG_CONFIG_VERSION);
    cfg.store = test_store_handle(ts);
    cfg.transport = &tm;
    cfg.clock_fn = now_fn;
    eng_engine *e = NULL;
    *rc = eng_open(&cfg, &e);
    return e;
}

static void build(void)
{
    eng_schedule sched = ENG_SCHEDULE_INIT;
    ts = test_store_new();
    int rc;
    eng_engine *e = open_engine(&rc);
    CHECK(e != NULL);
    eng_org_settings s;
    eng_org_settings_init(&s, ENG_ORG_SETTINGS_VERSION);
    s.channel_cost[ENG_CH_SMS] = 2;
    s.channel_cost[ENG_CH_EMAIL] = 1;
    fuzz_org(e, &s);
    CHECK(eng_credits_adjust(e, "root", ENG_CREDITS_CAMPAIGN, 5000) == ENG_OK);
    CHECK(eng_unsubscribe_setup(e, "root", "https://acme.example/unsub", "0123456789abcdef-acme", 21) == ENG_OK);
    CHECK(eng_customers_add_column(e, "root", "tier", ENG_COL_STRING) == ENG_OK);
    CHECK(eng_customers_add_column(e, "root", "first_name", ENG_COL_STRING) == ENG_OK);
    CHECK(eng_customers_add_column(e, "root", "spend", ENG_COL_DECIMAL) == ENG_OK);
    char csv[4096], *p = csv;
    p += sprintf(p, "id,first_name,tier,spend,contact.sms,consent.sms,contact.email,consent.email\n");
    for (int i = 0; i < NCUST; i++)
        p += sprintf(p, "c%d,Ann%d,%s,%d.25,+1555%07d,yes,c%d@example.com,%s\n", i, i, i % 3 ? "gold" : "silver", i * 10, i,
                     i, i % 2 ? "yes" : "no");
    CHECK(eng_customers_import_csv_buffer(e, "root", csv, (size_t)(p - csv), NULL, NULL) == ENG_OK);
    uint32_t g1, g2, g3;
    CHECK(eng_group_create_filter(e, "root", "gold", "tier == \"gold\" and spend > 10", &g1) == ENG_OK);
    CHECK(eng_group_create_uploaded(e, "root", "vip", &g2) == ENG_OK);
    static const char *const vip[] = {"c1", "c2", "c4", "c5"};
    CHECK(eng_group_upload_ids(e, "root", g2, vip, 4, ENG_UPLOAD_REPLACE, NULL, NULL) == ENG_OK);
    const uint32_t both[] = {g1, g2};
    CHECK(eng_group_create_combined(e, "root", "gold-or-vip", ENG_COMBINE_UNION, both, 2, NULL, 0, &g3) == ENG_OK);
    eng_campaign_spec c;
    eng_campaign_spec_init(&c, ENG_CAMPAIGN_SPEC_VERSION);
    c.name = "Fuzz";
    c.start = T0 + ENG_DAY;
    c.end = T0 + 60 * ENG_DAY;
    c.objective = ENG_OBJ_BOOST_SALES;
    CHECK(eng_campaign_create(e, "ann", &c, &campaign, NULL) == ENG_OK);
    static const char *const groups[] = {"gold-or-vip"};
    static const eng_creative cr[] = {{ENG_CH_SMS, NULL, "Hi {{first_name | \"friend\"}}, 20% off. {{optout}}"},
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
    CHECK(eng_message_create(e, "ann", campaign, &m, &message, NULL) == ENG_OK);
    CHECK(eng_message_submit(e, "ann", message, NULL) == ENG_OK);
    CHECK(eng_message_approve(e, "bob", message, NULL, "ok") == ENG_OK);
    for (int i = 0; i < 6; i++) {
        eng_run_report rep = ENG_RUN_REPORT_INIT;
        CHECK(eng_run_due(e, "root", m.schedule->at, NULL, &rep) == ENG_OK);
    }
    static const char tx[] = "id,customer,time,amount,store\nT1,c1,2026-01-05T10:00:00Z,12.5,S1\n"
                             "T2,c2,2026-01-06T10:00:00Z,7,S2\n";
    CHECK(eng_txn_import_csv_buffer(e, "acme", tx, sizeof tx - 1, NULL, NULL) == ENG_OK);
    CHECK(eng_close(e) == ENG_OK);
    size_t kl;
    while (test_store_key_at(ts, nrec, &kl))
        nrec++;
    CHECK(nrec > 0);
}

static int count_touch(const eng_touch_row *row, void *user)
{
    (void)row;
    (*(unsigned *)user)++;
    return 0;
}

/* Every read a host has after open, in steps, in this order: OK or an explained error, never a
 * crash (on the undamaged state: OK). */
enum { S_CUSTOMERS, S_CUSTOMER, S_CAMPAIGNS, S_GROUPS, S_AUDIENCE, S_EXECUTION, S_CREDITS, S_TOUCHES, S_STATUS,
       S_AUDIT, S_RUN_DUE,
       /* Reads for the records none of the above reads (the other actors, the send ledger, the
        * consent history); called only for those records, as they cost more than the rest. */
       S_ACTORS, S_SEND, S_CONSENT, NSTEPS };

/* Customer "c1" as S_CUSTOMER found it (0: not found); when that step is not run, as on the
 * undamaged state. */
static uint32_t c1, c1_undamaged;

static void step(eng_engine *e, int s)
{
    uint64_t n = 0, bad = 0;
    switch (s) {
    case S_CUSTOMERS:
        CHECK(SAID(eng_customers_count(e, "root", &n)));
        break;
    case S_CUSTOMER: {
        int rc = eng_customer_find(e, "root", "c1", &c1);
        CHECK(SAID(rc));
        if (rc != ENG_OK)
            c1 = 0;
        else {
            char buf[64];
            size_t len;
            CHECK(SAID(eng_customer_get(e, "root", c1, "tier", buf, sizeof buf, &len)));
        }
        break;
    }
    case S_TOUCHES:
        if (c1) {
            unsigned nt = 0;
            CHECK(SAID(eng_touches_of_customer(e, "acme", c1, count_touch, &nt)));
        }
        break;
    case S_CAMPAIGNS: {
        uint64_t *ids = NULL;
        size_t nids = 0;
        CHECK(SAID(eng_campaign_list(e, "root", &ids, &nids)));
        eng_free(e, ids);
        eng_campaign *cp = NULL;
        CHECK(SAID(eng_campaign_get(e, "root", campaign, &cp)));
        eng_campaign_free(cp);
        break;
    }
    case S_GROUPS: {
        static const char *const names[] = {"gold", "vip", "gold-or-vip"};
        for (int i = 0; i < 3; i++) {
            uint32_t g;
            int rc = eng_group_find(e, "root", names[i], &g);
            CHECK(SAID(rc));
            if (rc == ENG_OK)
                CHECK(SAID(eng_group_count(e, "root", g, &n)));
        }
        break;
    }
    case S_AUDIENCE: {
        eng_audience *aud = NULL;
        CHECK(SAID(eng_message_audience(e, "root", message, &aud)));
        eng_audience_free(aud);
        break;
    }
    case S_EXECUTION: {
        eng_execution_info x = ENG_EXECUTION_INFO_INIT;
        CHECK(SAID(eng_execution_get(e, "root", message, 0, &x)));
        break;
    }
    case S_CREDITS: {
        int64_t bal;
        CHECK(SAID(eng_credits_balance(e, "root", ENG_CREDITS_CAMPAIGN, &bal)));
        break;
    }
    case S_STATUS: {
        uint64_t counts[ENG_CH_COUNT * ENG_TOUCH_STATUS_COUNT];
        CHECK(SAID(eng_touch_status_counts(e, "acme", campaign, message, counts, ENG_CH_COUNT * ENG_TOUCH_STATUS_COUNT)));
        break;
    }
    case S_AUDIT:
        CHECK(SAID(eng_audit_verify(e, "root", &bad)));
        break;
    case S_RUN_DUE: { /* a write path over the damaged state, too */
        eng_run_report rep = ENG_RUN_REPORT_INIT;
        CHECK(SAID(eng_run_due(e, "root", T0 + 3 * ENG_DAY, NULL, &rep)));
        break;
    }
    case S_ACTORS: {
        eng_actor_iter *it = NULL;
        int rc = eng_actor_list(e, "root", &it);
        CHECK(SAID(rc));
        eng_actor_spec a;
        eng_actor_spec_init(&a, ENG_ACTOR_SPEC_VERSION);
        while (rc == ENG_OK)
            CHECK((rc = eng_actor_next(it, &a)) == ENG_ITEROVER || SAID(rc));
        eng_actor_iter_free(it);
        break;
    }
    case S_SEND:
        if (c1) {
            eng_send_info x = ENG_SEND_INFO_INIT;
            CHECK(SAID(eng_send_get(e, "root", message, 0, c1, ENG_CH_SMS, &x)));
        }
        break;
    default:
        if (c1) {
            eng_consent_iter *it = NULL;
            int rc = eng_consent_history(e, "root", c1, &it);
            CHECK(SAID(rc));
            eng_consent_change ch = ENG_CONSENT_CHANGE_INIT;
            while (rc == ENG_OK)
                CHECK((rc = eng_consent_next(it, &ch)) == ENG_ITEROVER || SAID(rc));
            eng_consent_iter_free(it);
        }
    }
}

/* The first step that reads each record (NSTEPS: none; -1: eng_open), from one pass over the
 * undamaged state. The steps before it see only undamaged records, so they behave as in
 * that pass (every call OK, checked there): an input runs the steps from there on. */
static int *first_read;
static int cur_step;

static void on_read(const void *key, size_t klen, void *user)
{
    (void)user;
    size_t lo = 0, hi = nrec, kl;
    while (lo < hi) { /* the keys are in order */
        size_t mid = (lo + hi) / 2;
        const uint8_t *k = test_store_key_at(ts, mid, &kl);
        int c = memcmp(k, key, kl < klen ? kl : klen);
        if (c == 0 && kl == klen) {
            if (first_read[mid] > cur_step)
                first_read[mid] = cur_step;
            return;
        }
        if (c < 0 || (c == 0 && kl < klen))
            lo = mid + 1;
        else
            hi = mid;
    }
}

static void map_reads(void)
{
    first_read = malloc(nrec * sizeof *first_read);
    CHECK(first_read != NULL);
    for (size_t i = 0; i < nrec; i++)
        first_read[i] = NSTEPS;
    strict = 1;
    test_store_on_read(ts, on_read, NULL);
    cur_step = -1;
    int rc;
    eng_engine *e = open_engine(&rc);
    CHECK(e != NULL);
    for (cur_step = 0; cur_step < NSTEPS; cur_step++)
        step(e, cur_step);
    CHECK(eng_close(e) == ENG_OK);
    CHECK(c1 != 0);
    c1_undamaged = c1;
    test_store_on_read(ts, NULL, NULL);
    strict = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        if (ts)
            test_store_free(ts);
        ts = NULL;
        free(first_read);
        first_read = NULL;
        return 0;
    }
    if (size < 3)
        return 0;
    if (!ts) {
        build();
        map_reads();
    }
    size_t klen, pick = ((size_t)data[0] << 8 | data[1]) % nrec;
    if (first_read[pick] == NSTEPS) /* no call reads it: nothing meets the damage */
        return 0;
    const uint8_t *k0 = test_store_key_at(ts, pick, &klen);
    uint8_t *key = malloc(klen + 1);
    CHECK(key != NULL);
    memcpy(key, k0, klen);
    uint8_t *orig, *val;
    size_t len;
    CHECK(test_store_raw_get_bin(ts, key, klen, &orig, &len) == ENG_OK);
    val = malloc(len + 1);
    CHECK(val != NULL);
    memcpy(val, orig, len);
    size_t vlen = len;
    int sealed = len >= ENG__REC_HEADER && val[0] == (ENG__REC_MAGIC & 0xff) && val[1] == (ENG__REC_MAGIC >> 8);
    size_t from = sealed ? ENG__REC_HEADER : 0;
    if (sealed && data[2]) /* a schema the reader may not know */
        val[4] = (uint8_t)(val[4] + data[2]);
    for (size_t i = 3; i + 3 <= size; i += 3) {
        size_t plen = vlen - from;
        if (plen == 0)
            break;
        size_t off = from + (((size_t)data[i] << 8 | data[i + 1]) % plen);
        if (data[i + 2] == 0)
            vlen = off;
        else
            val[off] ^= data[i + 2];
    }
    if (sealed) { /* re-seal: the decoder, not the checksum, meets the damage */
        uint32_t plen = (uint32_t)(vlen - ENG__REC_HEADER);
        val[8] = (uint8_t)plen, val[9] = (uint8_t)(plen >> 8), val[10] = (uint8_t)(plen >> 16),
        val[11] = (uint8_t)(plen >> 24);
        uint32_t crc = eng__crc32c(eng__crc32c(0, val, 12), val + ENG__REC_HEADER, plen);
        val[12] = (uint8_t)crc, val[13] = (uint8_t)(crc >> 8), val[14] = (uint8_t)(crc >> 16),
        val[15] = (uint8_t)(crc >> 24);
    }
    CHECK(test_store_raw_put_bin(ts, key, klen, val, vlen) == ENG_OK);
    int rc;
    eng_engine *e = open_engine(&rc);
    if (e) {
        c1 = c1_undamaged;
        int s0 = first_read[pick] < 0 ? 0 : first_read[pick];
        for (int s = s0; s < (s0 < S_ACTORS ? S_ACTORS : NSTEPS); s++)
            step(e, s);
        CHECK(eng_close(e) == ENG_OK);
    } else {
        CHECK(rc < 0 && eng_error_last()->message[0]);
    }
    CHECK(test_store_raw_put_bin(ts, key, klen, orig, len) == ENG_OK);
    free(orig);
    free(val);
    free(key);
    return 0;
}
