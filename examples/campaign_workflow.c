/* A host's view of the campaign model: set up an org, an author and an
 * approver; create a campaign and a message; see every validation failure at
 * once; fix them, send for approval, approve, and read the audit trail.
 * The host hears approvals through the event callback (to send its mails).
 *
 * usage: engage-campaign-workflow        (runs on an in-memory store) */
#include <stdio.h>
#include "engage.h"

static int fail(const char *what)
{
    const eng_error *e = eng_error_last();
    fprintf(stderr, "campaign-workflow: %s: %s (%s%s%s)\n", what, e->message, eng_errstr(e->code),
            e->detail[0] ? ", at " : "", e->detail);
    return 1;
}

static void on_event(const eng_model_event *ev, void *user)
{
    static const char *const kinds[] = {"approval needed", "approved", "rejected"};
    (void)user;
    printf("  [mail to host] %s: campaign %llu message %llu by %s %s\n", kinds[ev->kind],
           (unsigned long long)ev->campaign, (unsigned long long)ev->message, ev->actor, ev->comment);
}

int main(void)
{
    eng_schedule sched = ENG_SCHEDULE_INIT;
    eng_engine *e;
    if (eng_open(NULL, &e))
        return fail("open");
    eng_model_set_event_callback(e, on_event, NULL);
    if (eng_org_create(e, "acme", NULL, "admin", NULL))
        return fail("org");
    eng_actor_spec a = ENG_ACTOR_SPEC_INIT;
    a.id = "author";
    a.roles = ENG_ROLE_AUTHOR;
    if (eng_actor_put(e, "admin", &a))
        return fail("author");
    a.id = "approver";
    a.roles = ENG_ROLE_APPROVER;
    if (eng_actor_put(e, "admin", &a))
        return fail("approver");

    eng_time now = eng_now(e);
    eng_campaign_spec c = ENG_CAMPAIGN_SPEC_INIT;
    c.name = "Diwali sale";
    c.start = now + ENG_HOUR;
    c.end = now + 30 * ENG_DAY;
    c.objective = ENG_OBJ_BOOST_SALES;
    uint64_t cid, mid;
    if (eng_campaign_create(e, "author", &c, &cid, NULL))
        return fail("campaign");

    static const char *const groups[] = {"loyal-customers"};
    eng_creative cr[] = {{ENG_CH_SMS, NULL, "Hi {{first_name}}, 20% off all week!"},
                         {ENG_CH_EMAIL, NULL, "<p>Dear {{first_name}}, our sale starts now.</p>"}};
    eng_message_spec m = ENG_MESSAGE_SPEC_INIT;
    m.title = "Kick-off";
    m.include = groups;
    m.n_include = 1;
    m.creatives = cr;
    m.n_creatives = 2;
    sched.kind = ENG_SCHEDULE_ONCE;
    sched.at = now + 2 * ENG_DAY;
    m.schedule = &sched;
    if (eng_message_create(e, "author", cid, &m, &mid, NULL))
        return fail("message");

    eng_validation *v = NULL;
    printf("send for approval:\n");
    if (eng_message_submit(e, "author", mid, &v) == ENG_EVALIDATION) {
        for (size_t i = 0; i < eng_validation_count(v); i++) {
            int code;
            const char *path, *msg;
            eng_validation_item(v, i, &code, &path, &msg);
            printf("  %-34s %s\n", path, msg);
        }
        eng_validation_free(v);
    }
    /* Fix what the report said: opt-out tag, email subject and unsubscribe tag. */
    cr[0].body = "Hi {{first_name}}, 20% off all week! {{optout}}";
    cr[1].subject = "Our Diwali sale";
    cr[1].body = "<p>Dear {{first_name}}, our sale starts now.</p><p>{{unsubscribe}}</p>";
    if (eng_message_update(e, "author", mid, &m, NULL) || eng_message_submit(e, "author", mid, NULL))
        return fail("submit");

    eng_message *h;
    if (eng_message_get(e, "approver", mid, &h))
        return fail("get");
    eng_message_status st = ENG_MESSAGE_STATUS_INIT;
    int rc = eng_message_status_get(h, &st);
    if (rc == ENG_OK) {
        printf("approver reviews content %.16s...\n", st.content_hash);
        rc = eng_message_approve(e, "approver", mid, st.content_hash, "Looks good");
    }
    eng_message_free(h);
    if (rc)
        return fail("approve");

    printf("audit trail:\n");
    eng_audit_iter *it;
    if (eng_audit_open(e, "admin", &it))
        return fail("audit");
    eng_audit_entry x = ENG_AUDIT_ENTRY_INIT;
    while ((rc = eng_audit_next(it, &x)) == ENG_OK)
        printf("  #%-3llu %-9s %-15s %-8s %.12s...\n", (unsigned long long)x.seq, x.actor, x.object, x.action,
               x.hash);
    eng_audit_free(it);
    if (rc != ENG_ITEROVER)
        return fail("audit");
    uint64_t bad;
    printf("audit chain: %s\n", eng_audit_verify(e, "admin", &bad) == ENG_OK ? "verified" : "BROKEN");
    return eng_close(e) ? fail("close") : 0;
}
