/* Fuzz target for the file store's reader and everything that reads a store at
 * open: a real engine file (org, actors, customers, groups, an approved message
 * with its frozen audience, transactions) is built once, then each input
 * damages a copy of it — flipped bytes, a cut — or replaces it with raw bytes,
 * and the copy is opened and read. The built file is compacted half-way, so it holds a
 * key index with frames after it. Beyond "no crash, no leak":
 *  - every refusal is an error code with a message, never a wrong answer we can see;
 *  - a file cut anywhere (a torn tail) always opens: the store drops the torn
 *    frame, the engine opens on the committed prefix and its audit chain verifies.
 * Input: byte 0 even: then 5-byte edits (u32 offset, xor byte; xor 0 = cut there)
 * applied to the built file; byte 0 odd: the rest is the whole file. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engage.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


#define T0 1767225600000 /* 2026-01-01T00:00:00Z */

static char dir[256], path[300];
static uint8_t *base;
static size_t base_len;

static eng_time now_fn(void *u)
{
    (void)u;
    return T0;
}

static eng_engine *open_at(const char *p, unsigned flags, int *rc, eng_store **store)
{
    eng_config cfg;
    eng_config_init(&cfg, ENG_CONFIG_VERSION);
    cfg.clock_fn = now_fn;
    *rc = eng_store_file_open(p, flags | ENG_STORE_NOSYNC, NULL, &cfg.store);
    if (*rc)
        return NULL;
    eng_engine *e = NULL;
    *store = cfg.store;
    *rc = eng_open(&cfg, &e);
    return e;
}

static void build(void)
{
    eng_schedule sched = ENG_SCHEDULE_INIT;
    /* In memory when the system has a tmpfs: each input rewrites the file, and on a
     * disk file system (ext4) truncate-then-close starts a writeback every time. */
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp)
        tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(dir, sizeof dir, "%s/engage-fuzz-XXXXXX", tmp);
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/f.db", dir);
    int rc;
    eng_store *store;
    eng_engine *e = open_at(path, ENG_STORE_CREATE, &rc, &store);
    CHECK(e != NULL);
    eng_org_settings s;
    eng_org_settings_init(&s, ENG_ORG_SETTINGS_VERSION);
    s.channel_cost[ENG_CH_SMS] = 2;
    fuzz_org(e, &s);
    CHECK(eng_credits_adjust(e, "root", ENG_CREDITS_CAMPAIGN, 5000) == ENG_OK);
    CHECK(eng_customers_add_column(e, "root", "tier", ENG_COL_STRING) == ENG_OK);
    char csv[4096], *p = csv;
    p += sprintf(p, "id,tier,contact.sms,consent.sms\n");
    for (int i = 0; i < 30; i++)
        p += sprintf(p, "c%d,%s,+1555%07d,yes\n", i, i % 3 ? "gold" : "silver", i);
    CHECK(eng_customers_import_csv_buffer(e, "root", csv, (size_t)(p - csv), NULL, NULL) == ENG_OK);
    uint32_t g;
    CHECK(eng_group_create_filter(e, "root", "gold", "tier == \"gold\"", &g) == ENG_OK);
    eng_campaign_spec c;
    eng_campaign_spec_init(&c, ENG_CAMPAIGN_SPEC_VERSION);
    c.name = "Fuzz";
    c.start = T0 + ENG_DAY;
    c.end = T0 + 60 * ENG_DAY;
    c.objective = ENG_OBJ_BOOST_SALES;
    uint64_t camp, msg;
    CHECK(eng_campaign_create(e, "ann", &c, &camp, NULL) == ENG_OK);
    static const char *const groups[] = {"gold"};
    static const eng_creative cr[] = {{ENG_CH_SMS, NULL, "Hi, 20% off today. {{optout}}"}};
    eng_message_spec m;
    eng_message_spec_init(&m, ENG_MESSAGE_SPEC_VERSION);
    m.title = "Blast";
    m.include = groups;
    m.n_include = 1;
    m.creatives = cr;
    m.n_creatives = 1;
    sched.kind = ENG_SCHEDULE_ONCE;
    sched.at = T0 + 3 * ENG_DAY;
    m.schedule = &sched;
    CHECK(eng_message_create(e, "ann", camp, &m, &msg, NULL) == ENG_OK);
    CHECK(eng_message_submit(e, "ann", msg, NULL) == ENG_OK);
    CHECK(eng_message_approve(e, "bob", msg, NULL, "ok") == ENG_OK);
    /* The file ends with a key index, then frames after it: inputs reach the index's
     * reader, the lazily checked frames it points into and the replay after it. */
    CHECK(eng_store_file_compact(store) == ENG_OK);
    static const char tx[] = "id,customer,time,amount\nT1,c1,2026-01-05T10:00:00Z,12.5\nT2,c2,2026-01-06T10:00:00Z,7\n";
    CHECK(eng_txn_import_csv_buffer(e, "acme", tx, sizeof tx - 1, NULL, NULL) == ENG_OK);
    CHECK(eng_close(e) == ENG_OK);
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    fseek(f, 0, SEEK_END);
    base_len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    base = malloc(base_len);
    CHECK(base && fread(base, 1, base_len, f) == base_len);
    fclose(f);
    int indexed = 0; /* the compaction left its key index ("EIX1" frame) in the file */
    for (size_t i = 0; i + 4 <= base_len && !indexed; i++)
        indexed = memcmp(base + i, "EIX1", 4) == 0;
    CHECK(indexed);
}

static void teardown(void)
{
    if (!base)
        return;
    unlink(path);
    char side[320]; /* anything the store keeps beside its file */
    snprintf(side, sizeof side, "%s/f.db-lock", dir);
    unlink(side);
    rmdir(dir);
    free(base);
    base = NULL;
}

/* Every read the engine offers a host right after open: OK or a clear error. */
static void read_all(eng_engine *e, int must_verify)
{
    uint64_t n = 0, bad = 0;
    int rc = eng_customers_count(e, "root", &n);
    CHECK(rc == ENG_OK || eng_error_last()->message[0]);
    uint64_t *ids = NULL;
    size_t nids = 0;
    rc = eng_campaign_list(e, "root", &ids, &nids);
    CHECK(rc == ENG_OK || eng_error_last()->message[0]);
    eng_free(e, ids);
    uint32_t g;
    if (eng_group_find(e, "root", "gold", &g) == ENG_OK) {
        rc = eng_group_count(e, "root", g, &n);
        CHECK(rc == ENG_OK || eng_error_last()->message[0]);
    }
    rc = eng_audit_verify(e, "root", &bad);
    CHECK(rc == ENG_OK || eng_error_last()->message[0]);
    if (must_verify)
        CHECK(rc == ENG_OK || rc == ENG_EDENIED); /* a prefix may predate the org */
    eng_info info;
    eng_info_init(&info, ENG_INFO_VERSION);
    CHECK(eng_info_get(e, &info) == ENG_OK);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        teardown();
        return 0;
    }
    if (!base)
        build();
    uint8_t *file;
    size_t len;
    int cut_only = 1;
    if (data[0] & 1) {
        len = size - 1;
        file = malloc(len ? len : 1);
        CHECK(file != NULL);
        if (len)
            memcpy(file, data + 1, len);
        cut_only = 0;
    } else {
        len = base_len;
        file = malloc(len);
        CHECK(file != NULL);
        memcpy(file, base, len);
        for (size_t i = 1; i + 5 <= size; i += 5) {
            uint32_t off = (uint32_t)data[i] | (uint32_t)data[i + 1] << 8 | (uint32_t)data[i + 2] << 16 |
                           (uint32_t)data[i + 3] << 24;
            off %= (uint32_t)base_len;
            if (data[i + 4] == 0) {
                if (off < len)
                    len = off;
            } else if (off < len) {
                file[off] ^= data[i + 4];
                cut_only = 0;
            }
        }
    }
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    CHECK(len == 0 || fwrite(file, 1, len, f) == len);
    fclose(f);
    free(file);
    int rc;
    eng_store *store;
    eng_engine *e = open_at(path, 0, &rc, &store);
    if (!e) {
        CHECK(rc < 0 && eng_error_last()->message[0]);
        CHECK(!cut_only || len == 0); /* a torn tail is recovered, never refused */
        return 0;
    }
    read_all(e, cut_only);
    if (cut_only && len == base_len) { /* untouched: everything is there */
        uint64_t n = 0;
        CHECK(eng_customers_count(e, "root", &n) == ENG_OK && n == 30);
    }
    CHECK(eng_close(e) == ENG_OK);
    return 0;
}
