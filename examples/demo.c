/* The libengage demo: a campaign from customers to an approved, frozen
 * audience, on the embedded default store (one crash-safe file).
 *
 * First run: set up an org, import customers from CSV, build audience groups
 * (an upload, a filter, a combination), create a campaign and a message, show
 * the reach preview and the validation report, fix the message, approve it
 * (which freezes its audience) and verify the audit chain.
 * Every later run: reopen the same file and show what is stored.
 *
 * usage: engage-demo [store-file]     (default: engage.db in the current folder) */
#define _POSIX_C_SOURCE 200809L /* gmtime_r */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "engage.h"

static int fail(const char *what)
{
    const eng_error *e = eng_error_last();
    fprintf(stderr, "engage-demo: %s: %s (%s%s%s)\n", what, e->message, eng_errstr(e->code),
            e->detail[0] ? ", at " : "", e->detail);
    return 1;
}
#define CHECK(call, what) do { if ((call) != ENG_OK) return fail(what); } while (0)

static const char *when(eng_time ms, char *buf, size_t n)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, n, "%Y-%m-%d %H:%M UTC", &tm);
    return buf;
}

static const char *const cities[] = {"Pune", "Mumbai", "Delhi", "Chennai"};
static const char *const tiers[] = {"gold", "silver", "bronze"};

/* 5,000 customers as a CSV file would bring them: attributes, contacts, consent. */
static char *customers_csv(size_t *len)
{
    size_t cap = 5000 * 128 + 256, n = 0;
    char *csv = malloc(cap);
    if (!csv)
        return NULL;
    n += (size_t)snprintf(csv + n, cap - n,
                          "id,tier,city,days_since_purchase,contact.sms,consent.sms,contact.email,consent.email\r\n");
    for (unsigned i = 0; i < 5000; i++)
        n += (size_t)snprintf(csv + n, cap - n, "C%05u,%s,%s,%u,+91980%07u,%s,c%u@example.in,%s\r\n", i,
                              tiers[i % 3], cities[(i / 3) % 4], (i * 37) % 120, i, i % 10 ? "yes" : "no", i,
                              i % 4 ? "yes" : "no");
    *len = n;
    return csv;
}

static void on_event(const eng_model_event *ev, void *user)
{
    static const char *const kinds[] = {"approval needed", "approved", "rejected"};
    (void)user;
    printf("  [event for the host's mailer] %s: message %llu by %s\n", kinds[ev->kind],
           (unsigned long long)ev->message, ev->actor);
}

static int first_run(eng_engine *e)
{
    printf("\n1. Org, people and customers\n");
    CHECK(eng_org_create(e, "acme", NULL, "admin", NULL), "org");
    eng_actor_spec a = ENG_ACTOR_SPEC_INIT;
    a.id = "asha";
    a.roles = ENG_ROLE_AUTHOR;
    CHECK(eng_actor_put(e, "admin", &a), "author");
    a.id = "ravi";
    a.roles = ENG_ROLE_APPROVER;
    CHECK(eng_actor_put(e, "admin", &a), "approver");
    CHECK(eng_customers_add_column(e, "admin", "tier", ENG_COL_STRING), "column");
    CHECK(eng_customers_add_column(e, "admin", "city", ENG_COL_STRING), "column");
    CHECK(eng_customers_add_column(e, "admin", "days_since_purchase", ENG_COL_INT64), "column");
    size_t len;
    char *csv = customers_csv(&len);
    if (!csv)
        return 1;
    eng_import_report rep = ENG_IMPORT_REPORT_INIT;
    int rc = eng_customers_import_csv_buffer(e, "admin", csv, len, NULL, &rep);
    free(csv);
    CHECK(rc, "import");
    printf("  imported %llu customers from %llu bytes of CSV\n", (unsigned long long)rep.inserted,
           (unsigned long long)rep.bytes);

    printf("\n2. Audience groups\n");
    uint32_t vip, lapsed, staff, target;
    CHECK(eng_group_create_uploaded(e, "admin", "vip-upload", &vip), "group");
    static const char *const vips[] = {"C00001", "C00002", "C00003", "C00010", "C00042"};
    CHECK(eng_group_upload_ids(e, "admin", vip, vips, 5, ENG_UPLOAD_REPLACE, NULL, NULL), "upload");
    CHECK(eng_group_create_filter(e, "admin", "pune-lapsed", "city == 'Pune' and days_since_purchase > 30", &lapsed),
          "filter");
    CHECK(eng_group_create_uploaded(e, "admin", "staff", &staff), "group");
    static const char *const staff_ids[] = {"C00003", "C00004"};
    CHECK(eng_group_upload_ids(e, "admin", staff, staff_ids, 2, ENG_UPLOAD_REPLACE, NULL, NULL), "upload");
    uint32_t both[] = {vip, lapsed};
    CHECK(eng_group_create_combined(e, "admin", "target", ENG_COMBINE_UNION, both, 2, NULL, 0, &target), "combine");
    uint32_t ids[] = {vip, lapsed, staff, target};
    const char *names[] = {"vip-upload (uploaded)", "pune-lapsed (filter)", "staff (uploaded)", "target (vip or lapsed)"};
    for (int i = 0; i < 4; i++) {
        uint64_t size;
        CHECK(eng_group_count(e, "admin", ids[i], &size), "size");
        printf("  %-24s %llu customers\n", names[i], (unsigned long long)size);
    }

    printf("\n3. Campaign and message\n");
    eng_time now = eng_now(e);
    eng_campaign_spec c = ENG_CAMPAIGN_SPEC_INIT;
    c.name = "Diwali sale";
    c.start = now + ENG_HOUR;
    c.end = now + 30 * ENG_DAY;
    c.objective = ENG_OBJ_BOOST_SALES;
    c.control_percent = 10;
    uint64_t cid, mid;
    CHECK(eng_campaign_create(e, "asha", &c, &cid, NULL), "campaign");
    static const char *const inc[] = {"target"}, *const exc[] = {"staff"};
    eng_creative cr[] = {{ENG_CH_SMS, NULL, "Hi {{first_name}}, 20% off all week!"},
                         {ENG_CH_EMAIL, NULL, "<p>Dear {{first_name}}, our sale starts now.</p>"}};
    eng_message_spec m = ENG_MESSAGE_SPEC_INIT;
    m.title = "Kick-off";
    m.include = inc;
    m.n_include = 1;
    m.exclude = exc;
    m.n_exclude = 1;
    m.creatives = cr;
    m.n_creatives = 2;
    m.schedule.kind = ENG_SCHEDULE_ONCE;
    m.schedule.at = now + 2 * ENG_DAY;
    CHECK(eng_message_create(e, "asha", cid, &m, &mid, NULL), "message");

    eng_audience_query q = ENG_AUDIENCE_QUERY_INIT; /* the message's groups, as the preview */
    q.include = inc;
    q.n_include = 1;
    q.exclude = exc;
    q.n_exclude = 1;
    eng_audience *aud;
    CHECK(eng_audience_resolve(e, "admin", &q, &aud), "preview");
    uint64_t all, sms, email;
    eng_audience_count(aud, ENG_PART_ALL, &all);
    eng_audience_reach(aud, ENG_CH_SMS, &sms);
    eng_audience_reach(aud, ENG_CH_EMAIL, &email);
    eng_audience_free(aud);
    printf("  audience preview: %llu customers; reachable by SMS %llu, by email %llu\n", (unsigned long long)all,
           (unsigned long long)sms, (unsigned long long)email);

    printf("\n4. Send for approval: every failure at once\n");
    eng_validation *v = NULL;
    if (eng_message_submit(e, "asha", mid, &v) == ENG_EVALIDATION) {
        for (size_t i = 0; i < eng_validation_count(v); i++) {
            int code;
            const char *path, *msg;
            eng_validation_item(v, i, &code, &path, &msg);
            printf("  %-32s %s\n", path, msg);
        }
        eng_validation_free(v);
    }
    cr[0].body = "Hi {{first_name}}, 20% off all week! {{optout}}";
    cr[1].subject = "Our Diwali sale";
    cr[1].body = "<p>Dear {{first_name}}, our sale starts now.</p><p>{{unsubscribe}}</p>";
    CHECK(eng_message_update(e, "asha", mid, &m, NULL), "update");
    printf("  fixed; sending again:\n");
    CHECK(eng_message_submit(e, "asha", mid, NULL), "submit");

    printf("\n5. Approval (bound to the reviewed content; freezes the audience)\n");
    eng_message *h;
    CHECK(eng_message_get(e, "ravi", mid, &h), "get");
    eng_message_status st = ENG_MESSAGE_STATUS_INIT;
    if ((rc = eng_message_status_get(h, &st)) == ENG_OK)
        rc = eng_message_approve(e, "ravi", mid, st.content_hash, "Looks good");
    eng_message_free(h);
    CHECK(rc, "approve");
    return 0;
}

/* What the store holds: campaigns, message states, frozen audiences, the audit chain. */
static int show(eng_engine *e)
{
    static const char *const states[] = {"draft", "awaiting approval", "approved", "rejected", "executing",
                                         "executed", "stopped"};
    uint64_t *ids, ncust;
    size_t n;
    CHECK(eng_customers_count(e, "admin", &ncust), "customers");
    CHECK(eng_campaign_list(e, "admin", &ids, &n), "list");
    printf("  %llu customers, %zu campaign%s\n", (unsigned long long)ncust, n, n == 1 ? "" : "s");
    for (size_t i = 0; i < n; i++) {
        eng_campaign *c;
        CHECK(eng_campaign_get(e, "admin", ids[i], &c), "campaign");
        eng_campaign_status cs = ENG_CAMPAIGN_STATUS_INIT;
        const eng_campaign_spec *cf;
        CHECK(eng_campaign_status_get(c, &cs), "campaign status");
        CHECK(eng_campaign_fields(c, &cf), "campaign fields");
        const uint64_t *mids = cs.messages;
        printf("  campaign %llu \"%s\"\n", (unsigned long long)ids[i], cf->name);
        for (size_t j = 0; j < cs.n_messages; j++) {
            eng_message *m;
            CHECK(eng_message_get(e, "admin", mids[j], &m), "message");
            eng_message_status st = ENG_MESSAGE_STATUS_INIT;
            const eng_message_spec *mf;
            CHECK(eng_message_status_get(m, &st), "message status");
            CHECK(eng_message_fields(m, &mf), "message fields");
            printf("    message %llu \"%s\": %s by %s\n", (unsigned long long)mids[j], mf->title,
                   states[st.state], st.decided_by[0] ? st.decided_by : "-");
            eng_message_free(m);
            eng_audience *a;
            if (eng_message_audience(e, "admin", mids[j], &a) == ENG_OK) {
                uint64_t test, ctl;
                uint8_t hash[32];
                eng_audience_count(a, ENG_PART_TEST, &test);
                eng_audience_count(a, ENG_PART_CONTROL, &ctl);
                eng_audience_hash(a, hash);
                eng_audience_free(a);
                printf("      frozen audience: %llu to contact, %llu held out as control, sha256 %02x%02x%02x%02x...\n",
                       (unsigned long long)test, (unsigned long long)ctl, hash[0], hash[1], hash[2], hash[3]);
            }
        }
        eng_campaign_free(c);
    }
    eng_free(e, ids);
    uint64_t bad = 0;
    int rc = eng_audit_verify(e, "admin", &bad);
    printf("  audit chain: %s\n", rc == ENG_OK ? "verified" : "BROKEN");
    return rc == ENG_OK ? 0 : 1;
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "engage.db";
    eng_config cfg;
    eng_engine *e;
    char t1[32], t2[32];
    printf("libengage %s\n", eng_version_string());
    eng_config_init(&cfg, ENG_CONFIG_VERSION);
    CHECK(eng_store_file_open(path, ENG_STORE_CREATE, NULL, &cfg.store), "opening the store");
    CHECK(eng_open(&cfg, &e), "opening the engine"); /* the engine owns the store now */
    eng_model_set_event_callback(e, on_event, NULL);
    eng_info info = {.version = ENG_INFO_VERSION};
    CHECK(eng_info_get(e, &info), "info");
    printf("store %s: created %s, opened %llu time%s (now %s)\n", path, when(info.created, t1, sizeof t1),
           (unsigned long long)info.open_count, info.open_count == 1 ? "" : "s",
           when(info.last_opened, t2, sizeof t2));
    uint64_t *ids;
    size_t n = 0;
    int fresh = eng_campaign_list(e, "admin", &ids, &n) != ENG_OK; /* no org yet */
    if (!fresh)
        eng_free(e, ids);
    if (fresh && first_run(e))
        return 1;
    printf("\n%s\n", fresh ? "6. What the store now holds" : "What the store holds");
    int rc = show(e);
    if (eng_close(e) != ENG_OK)
        return fail("close");
    if (fresh)
        printf("\nRun again: the same file reopens with all of this.\n");
    return rc;
}
