/* Lifecycle and approval: every state x action through the API, approval
 * bound to the content hash, self-approval, comments, events, the goal lock,
 * campaign edits voiding approvals. */
#include "model_fixture.h"

static uint64_t campaign(fx *f)
{
    eng_campaign_spec c = fx_campaign("Diwali");
    uint64_t id;
    assert_int_equal(eng_campaign_create(f->e, "ann", &c, &id, NULL), ENG_OK);
    return id;
}

static int state_of(fx *f, uint64_t id)
{
    eng_message *h;
    assert_int_equal(eng_message_get(f->e, "root", id, &h), ENG_OK);
    eng_message_status s = {.version = ENG_MESSAGE_STATUS_VERSION};
    assert_int_equal(eng_message_status_get(h, &s), ENG_OK);
    eng_message_free(h);
    return s.state;
}

/* Drive a new message into @p state through the public API. */
static uint64_t message_in(fx *f, uint64_t cid, int state)
{
    eng_message_spec m = fx_message();
    uint64_t id;
    assert_int_equal(eng_message_create(f->e, "ann", cid, &m, &id, NULL), ENG_OK);
    if (state == ENG_STATE_DRAFT)
        return id;
    assert_int_equal(eng_message_submit(f->e, "ann", id, NULL), ENG_OK);
    if (state == ENG_STATE_AWAITING)
        return id;
    if (state == ENG_STATE_REJECTED) {
        assert_int_equal(eng_message_reject(f->e, "bob", id, "no"), ENG_OK);
        return id;
    }
    assert_int_equal(eng_message_approve(f->e, "bob", id, NULL, "ok"), ENG_OK);
    if (state == ENG_STATE_APPROVED)
        return id;
    if (state == ENG_STATE_STOPPED) {
        assert_int_equal(eng_message_execute(f->e, "root", id, ENG_ACT_STOP), ENG_OK);
        return id;
    }
    assert_int_equal(fx_start(f->e, "root", id), ENG_OK);
    if (state == ENG_STATE_EXECUTING)
        return id;
    assert_int_equal(eng_message_execute(f->e, "root", id, ENG_ACT_FINISH), ENG_OK);
    return id;
}

static int act(fx *f, uint64_t id, int action)
{
    eng_message_spec m = fx_message();
    switch (action) {
    case ENG_ACT_EDIT: return eng_message_update(f->e, "ann", id, &m, NULL);
    case ENG_ACT_SUBMIT: return eng_message_submit(f->e, "ann", id, NULL);
    case ENG_ACT_APPROVE: return eng_message_approve(f->e, "bob", id, NULL, "fine");
    case ENG_ACT_REJECT: return eng_message_reject(f->e, "bob", id, "not fine");
    case ENG_ACT_START: return fx_start(f->e, "root", id);
    default: return eng_message_execute(f->e, "root", id, action);
    }
}

static void transition_table(void **st)
{
    (void)st;
    /* The specification (issue 3, "Lifecycle and approval"), written out: */
    struct {
        int from, action, to;
    } allowed[] = {
        {ENG_STATE_DRAFT, ENG_ACT_EDIT, ENG_STATE_DRAFT},
        {ENG_STATE_DRAFT, ENG_ACT_SUBMIT, ENG_STATE_AWAITING},
        {ENG_STATE_AWAITING, ENG_ACT_EDIT, ENG_STATE_DRAFT},
        {ENG_STATE_AWAITING, ENG_ACT_APPROVE, ENG_STATE_APPROVED},
        {ENG_STATE_AWAITING, ENG_ACT_REJECT, ENG_STATE_REJECTED},
        {ENG_STATE_APPROVED, ENG_ACT_EDIT, ENG_STATE_DRAFT},
        {ENG_STATE_APPROVED, ENG_ACT_START, ENG_STATE_EXECUTING},
        {ENG_STATE_APPROVED, ENG_ACT_STOP, ENG_STATE_STOPPED},
        {ENG_STATE_REJECTED, ENG_ACT_EDIT, ENG_STATE_DRAFT},
        {ENG_STATE_EXECUTING, ENG_ACT_FINISH, ENG_STATE_EXECUTED},
        {ENG_STATE_STOPPED, ENG_ACT_EDIT, ENG_STATE_DRAFT},
    };
    fx f;
    fx_open(&f);
    uint64_t cid = campaign(&f);
    int cells = 0;
    for (int s = ENG_STATE_DRAFT; s <= ENG_STATE_STOPPED; s++) {
        for (int a = ENG_ACT_EDIT; a <= ENG_ACT_STOP; a++) {
            int want = -1;
            for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
                if (allowed[i].from == s && allowed[i].action == a)
                    want = allowed[i].to;
            /* The table function ... */
            int t = eng_message_transition(s, a);
            assert_int_equal(t, want >= 0 ? want : ENG_ESTATE);
            /* ... and the real calls agree with it. */
            uint64_t id = message_in(&f, cid, s);
            assert_int_equal(state_of(&f, id), s);
            int rc = act(&f, id, a);
            if (want >= 0) {
                assert_int_equal(rc, ENG_OK);
                assert_int_equal(state_of(&f, id), want);
            } else {
                assert_int_equal(rc, ENG_ESTATE);
                assert_int_equal(state_of(&f, id), s); /* unchanged */
            }
            cells++;
        }
    }
    assert_int_equal(cells, 49);
    /* An executed campaign cannot be stopped, with that message. */
    uint64_t done = message_in(&f, cid, ENG_STATE_EXECUTED);
    assert_int_equal(eng_message_execute(f.e, "root", done, ENG_ACT_STOP), ENG_ESTATE);
    assert_non_null(strstr(eng_error_last()->message, "cannot be stopped"));
    assert_int_equal(eng_message_transition(9, 0), ENG_EINVAL);
    assert_int_equal(eng_message_transition(0, 9), ENG_EINVAL);
    assert_int_equal(eng_message_execute(f.e, "root", done, ENG_ACT_APPROVE), ENG_EINVAL);
    fx_close(&f);
}

typedef struct events {
    int kind[16];
    char comment[16][32], org[16][16], actor[16][16];
    uint64_t msg[16], campaign[16];
    unsigned version[16];
    int n;
} events;

static void on_event(const eng_model_event *ev, void *user)
{
    events *e = user;
    if (e->n < 16) {
        e->kind[e->n] = ev->kind;
        e->msg[e->n] = ev->message;
        e->campaign[e->n] = ev->campaign;
        e->version[e->n] = ev->version;
        snprintf(e->org[e->n], sizeof e->org[0], "%s", ev->org);
        snprintf(e->actor[e->n], sizeof e->actor[0], "%s", ev->actor);
        snprintf(e->comment[e->n], sizeof e->comment[0], "%s", ev->comment);
        e->n++;
    }
}

static void approval_binding_and_events(void **st)
{
    (void)st;
    fx f;
    fx_open(&f);
    events ev = {0};
    assert_int_equal(eng_model_set_event_callback(f.e, on_event, &ev), ENG_OK);
    uint64_t cid = campaign(&f);
    eng_message_spec m = fx_message();
    uint64_t id;
    assert_int_equal(eng_message_create(f.e, "ann", cid, &m, &id, NULL), ENG_OK);
    assert_int_equal(eng_message_submit(f.e, "ann", id, NULL), ENG_OK);
    assert_int_equal(ev.n, 1);
    assert_int_equal(ev.kind[0], ENG_EVENT_APPROVAL_NEEDED);
    assert_int_equal(ev.msg[0], id);
    assert_int_equal(ev.campaign[0], cid);
    assert_int_equal(ev.version[0], ENG_MODEL_EVENT_VERSION);
    assert_string_equal(ev.org[0], "acme");
    assert_string_equal(ev.actor[0], "ann");
    assert_string_equal(ev.comment[0], "");
    /* The reviewer notes the hash; the author edits and resubmits meanwhile. */
    eng_message *h;
    assert_int_equal(eng_message_get(f.e, "bob", id, &h), ENG_OK);
    char reviewed[65];
    snprintf(reviewed, sizeof reviewed, "%s", fx_msg_hash(h));
    eng_message_free(h);
    m.title = "Diwali blast v2";
    assert_int_equal(eng_message_update(f.e, "ann", id, &m, NULL), ENG_OK);
    assert_int_equal(eng_message_submit(f.e, "ann", id, NULL), ENG_OK);
    assert_int_equal(eng_message_approve(f.e, "bob", id, reviewed, "ok"), ENG_ESTATE);
    assert_string_equal(eng_error_last()->detail, "message.content_hash");
    /* Non-approvers and authors of the message cannot approve. */
    assert_int_equal(eng_message_approve(f.e, "ann", id, NULL, "me"), ENG_EDENIED);
    assert_int_equal(eng_message_approve(f.e, "vic", id, NULL, "me"), ENG_EDENIED);
    assert_int_equal(eng_message_approve(f.e, "root", id, NULL, NULL), ENG_OK);
    /* root is an admin who neither created nor edited it: allowed. Reset for bob. */
    assert_int_equal(eng_message_update(f.e, "ann", id, &m, NULL), ENG_OK);
    assert_int_equal(eng_message_submit(f.e, "ann", id, NULL), ENG_OK);
    assert_int_equal(eng_message_get(f.e, "bob", id, &h), ENG_OK);
    snprintf(reviewed, sizeof reviewed, "%s", fx_msg_hash(h));
    eng_message_free(h);
    char longc[5000];
    memset(longc, 'c', sizeof longc - 1);
    longc[sizeof longc - 1] = 0;
    assert_int_equal(eng_message_approve(f.e, "bob", id, reviewed, longc), ENG_ETOOBIG);
    assert_string_equal(eng_error_last()->detail, "comment");
    assert_int_equal(eng_message_reject(f.e, "bob", id, longc), ENG_ETOOBIG);
    assert_string_equal(eng_error_last()->detail, "comment");
    assert_int_equal(eng_message_approve(f.e, "bob", id, reviewed, "Looks good"), ENG_OK);
    assert_int_equal(eng_message_get(f.e, "ann", id, &h), ENG_OK);
    eng_message_status s = {.version = ENG_MESSAGE_STATUS_VERSION};
    assert_int_equal(eng_message_status_get(h, &s), ENG_OK);
    assert_int_equal(s.state, ENG_STATE_APPROVED);
    assert_string_equal(s.decided_by, "bob");
    assert_string_equal(s.comment, "Looks good");
    assert_string_equal(s.approved_hash, reviewed);
    assert_string_equal(s.content_hash, reviewed);
    eng_message_free(h);
    assert_int_equal(ev.kind[ev.n - 1], ENG_EVENT_APPROVED);
    assert_string_equal(ev.comment[ev.n - 1], "Looks good");
    assert_string_equal(ev.actor[ev.n - 1], "bob");
    assert_int_equal(ev.msg[ev.n - 1], id);
    /* Any change voids the approval. */
    m.title = "Diwali blast v3";
    assert_int_equal(eng_message_update(f.e, "ann", id, &m, NULL), ENG_OK);
    assert_int_equal(eng_message_get(f.e, "ann", id, &h), ENG_OK);
    assert_int_equal(eng_message_status_get(h, &s), ENG_OK);
    assert_int_equal(s.state, ENG_STATE_DRAFT);
    assert_string_equal(s.approved_hash, "");
    assert_string_equal(s.edited_by, "ann");
    eng_message_free(h);
    /* Reject with a comment. */
    assert_int_equal(eng_message_submit(f.e, "ann", id, NULL), ENG_OK);
    assert_int_equal(eng_message_reject(f.e, "ann", id, "x"), ENG_EDENIED);
    assert_int_equal(eng_message_reject(f.e, "bob", id, "Wrong discount"), ENG_OK);
    assert_int_equal(ev.kind[ev.n - 1], ENG_EVENT_REJECTED);
    assert_string_equal(ev.comment[ev.n - 1], "Wrong discount");
    eng_model_set_event_callback(f.e, NULL, NULL);
    fx_close(&f);
}

static void self_approval_setting(void **st)
{
    (void)st;
    fx f;
    fx_open(&f);
    uint64_t cid = campaign(&f);
    /* sam is author and approver for north and south; a north campaign. */
    eng_campaign_spec c = fx_campaign("North");
    c.unit = "north";
    assert_int_equal(eng_campaign_create(f.e, "sam", &c, &cid, NULL), ENG_OK);
    eng_message_spec m = fx_message();
    uint64_t id;
    assert_int_equal(eng_message_create(f.e, "sam", cid, &m, &id, NULL), ENG_OK);
    assert_int_equal(eng_message_submit(f.e, "sam", id, NULL), ENG_OK);
    assert_int_equal(eng_message_approve(f.e, "sam", id, NULL, "mine"), ENG_EDENIED);
    /* Edited last by someone else, created by sam: still refused. */
    assert_int_equal(eng_message_update(f.e, "nat", id, &m, NULL), ENG_OK);
    assert_int_equal(eng_message_submit(f.e, "nat", id, NULL), ENG_OK);
    assert_int_equal(eng_message_approve(f.e, "sam", id, NULL, "mine"), ENG_EDENIED);
    /* The org relaxes the rule. */
    eng_org_settings s;
    eng_org_settings_get(f.e, "root", &s);
    s.allow_self_approval = 1;
    assert_int_equal(eng_org_settings_set(f.e, "root", &s, NULL), ENG_OK);
    assert_int_equal(eng_message_approve(f.e, "sam", id, NULL, "mine"), ENG_OK);
    fx_close(&f);
}

static void goal_lock_and_campaign_edits(void **st)
{
    (void)st;
    fx f;
    fx_open(&f);
    eng_campaign_spec c = fx_campaign("Diwali");
    uint64_t cid;
    assert_int_equal(eng_campaign_create(f.e, "ann", &c, &cid, NULL), ENG_OK);
    eng_message_spec m = fx_message();
    uint64_t id, id2;
    assert_int_equal(eng_message_create(f.e, "ann", cid, &m, &id, NULL), ENG_OK);
    assert_int_equal(eng_message_create(f.e, "ann", cid, &m, &id2, NULL), ENG_OK);
    assert_int_equal(eng_message_submit(f.e, "ann", id, NULL), ENG_OK);
    assert_int_equal(eng_message_approve(f.e, "bob", id, NULL, NULL), ENG_OK);
    eng_campaign *h;
    assert_int_equal(eng_campaign_get(f.e, "ann", cid, &h), ENG_OK);
    assert_int_equal(fx_camp_status(h).goal_locked, 1);
    eng_campaign_free(h);
    /* The goal (copied default) cannot change or go away now. */
    c.goal_mode = ENG_GOAL_NONE;
    assert_int_equal(eng_campaign_update(f.e, "ann", cid, &c, NULL), ENG_ESTATE);
    assert_string_equal(eng_error_last()->detail, "campaign.goal");
    c.goal_mode = ENG_GOAL_DEFAULT; /* same goal: other fields may change */
    c.name = "Diwali 2026";
    assert_int_equal(eng_campaign_update(f.e, "ann", cid, &c, NULL), ENG_OK);
    /* ... and that edit returned the approved message to draft. */
    assert_int_equal(state_of(&f, id), ENG_STATE_DRAFT);
    assert_int_equal(state_of(&f, id2), ENG_STATE_DRAFT);
    /* Once a message executes, the campaign is frozen. */
    assert_int_equal(eng_message_submit(f.e, "ann", id, NULL), ENG_OK);
    assert_int_equal(eng_message_approve(f.e, "bob", id, NULL, NULL), ENG_OK);
    assert_int_equal(eng_message_execute(f.e, "bob", id, ENG_ACT_START), ENG_EDENIED); /* admins execute */
    assert_int_equal(fx_start(f.e, "root", id), ENG_OK);
    c.name = "Diwali 2026b";
    assert_int_equal(eng_campaign_update(f.e, "ann", cid, &c, NULL), ENG_ESTATE);
    fx_close(&f);
}

static void approval_survives_reopen(void **st)
{
    (void)st;
    fx f;
    fx_open(&f);
    uint64_t cid = campaign(&f);
    eng_message_spec m = fx_message();
    uint64_t id;
    assert_int_equal(eng_message_create(f.e, "ann", cid, &m, &id, NULL), ENG_OK);
    assert_int_equal(eng_message_submit(f.e, "ann", id, NULL), ENG_OK);
    assert_int_equal(eng_message_approve(f.e, "bob", id, NULL, "ok"), ENG_OK);
    fx_reopen(&f);
    assert_int_equal(state_of(&f, id), ENG_STATE_APPROVED);
    assert_int_equal(fx_start(f.e, "root", id), ENG_OK);
    fx_close(&f);
}

static void delete_and_list(void **st)
{
    (void)st;
    fx f;
    fx_open(&f);
    uint64_t org_c, north_c, south_c;
    eng_campaign_spec c = fx_campaign("Org");
    assert_int_equal(eng_campaign_create(f.e, "ann", &c, &org_c, NULL), ENG_OK);
    c = fx_campaign("North");
    c.unit = "north1";
    assert_int_equal(eng_campaign_create(f.e, "ann", &c, &north_c, NULL), ENG_OK);
    c = fx_campaign("South");
    c.unit = "south";
    assert_int_equal(eng_campaign_create(f.e, "ann", &c, &south_c, NULL), ENG_OK);
    /* Lists show what each actor may read. */
    uint64_t *ids;
    size_t n;
    assert_int_equal(eng_campaign_list(f.e, "vic", &ids, &n), ENG_OK);
    assert_int_equal(n, 3);
    assert_int_equal(ids[0], org_c);
    assert_int_equal(ids[2], south_c);
    eng_free(f.e, ids);
    assert_int_equal(eng_campaign_list(f.e, "nat", &ids, &n), ENG_OK);
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], north_c);
    eng_free(f.e, ids);
    assert_int_equal(eng_campaign_list(f.e, "sam", &ids, &n), ENG_OK);
    assert_int_equal(n, 2);
    eng_free(f.e, ids);
    assert_int_equal(eng_campaign_list(f.e, "ghost", &ids, &n), ENG_EDENIED);
    assert_int_equal(eng_campaign_list(f.e, "vic", NULL, &n), ENG_EINVAL);
    /* Messages: deleted unless executing or executed. */
    uint64_t m1 = message_in(&f, org_c, ENG_STATE_APPROVED);
    uint64_t m2 = message_in(&f, org_c, ENG_STATE_EXECUTED);
    assert_int_equal(eng_message_delete(f.e, "vic", m1), ENG_EDENIED);
    assert_int_equal(eng_message_delete(f.e, "ann", m2), ENG_ESTATE);
    assert_int_equal(eng_message_delete(f.e, "ann", m1), ENG_OK);
    eng_message *h;
    assert_int_equal(eng_message_get(f.e, "ann", m1, &h), ENG_ENOTFOUND);
    eng_campaign *ch;
    assert_int_equal(eng_campaign_get(f.e, "ann", org_c, &ch), ENG_OK);
    eng_campaign_status cst = fx_camp_status(ch);
    assert_int_equal(cst.n_messages, 1);
    assert_int_equal(cst.messages[0], m2);
    eng_campaign_free(ch);
    /* Campaigns: refused with an executed message, else gone with their messages and name. */
    assert_int_equal(eng_campaign_delete(f.e, "ann", org_c), ENG_ESTATE);
    uint64_t m3 = message_in(&f, south_c, ENG_STATE_AWAITING);
    assert_int_equal(eng_campaign_delete(f.e, "nat", south_c), ENG_EDENIED);
    assert_int_equal(eng_campaign_delete(f.e, "sam", south_c), ENG_OK);
    assert_int_equal(eng_campaign_get(f.e, "ann", south_c, &ch), ENG_ENOTFOUND);
    assert_int_equal(eng_message_get(f.e, "ann", m3, &h), ENG_ENOTFOUND);
    c = fx_campaign("South"); /* the name is free again */
    assert_int_equal(eng_campaign_create(f.e, "ann", &c, &south_c, NULL), ENG_OK);
    assert_int_equal(eng_campaign_delete(f.e, "ann", 4242), ENG_ENOTFOUND);
    uint64_t bad;
    assert_int_equal(eng_audit_verify(f.e, "root", &bad), ENG_OK);
    fx_close(&f);
}

/* Approving or rejecting a whole campaign decides every message awaiting
 * approval at once, with the single-message checks, all or nothing. */
static void campaign_review(void **st)
{
    (void)st;
    fx f;
    fx_open(&f);
    events ev = {0};
    assert_int_equal(eng_model_set_event_callback(f.e, on_event, &ev), ENG_OK);
    uint64_t cid = campaign(&f);
    uint64_t a1 = message_in(&f, cid, ENG_STATE_AWAITING);
    uint64_t a2 = message_in(&f, cid, ENG_STATE_AWAITING);
    uint64_t d = message_in(&f, cid, ENG_STATE_DRAFT);
    uint64_t r = message_in(&f, cid, ENG_STATE_REJECTED);
    /* bob last edits a2: he may not approve it, so the campaign approval fails as a whole. */
    eng_message_spec m = fx_message();
    eng_org_settings s;
    assert_int_equal(eng_org_settings_get(f.e, "root", &s), ENG_OK);
    fx_actor(f.e, "bob", ENG_ROLE_APPROVER | ENG_ROLE_AUTHOR, ENG_SCOPE_ORG, NULL, 0);
    assert_int_equal(eng_message_update(f.e, "bob", a2, &m, NULL), ENG_OK);
    assert_int_equal(eng_message_submit(f.e, "bob", a2, NULL), ENG_OK);
    ev.n = 0;
    assert_int_equal(eng_campaign_approve(f.e, "bob", cid, "all good"), ENG_EDENIED);
    assert_int_equal(state_of(&f, a1), ENG_STATE_AWAITING);
    assert_int_equal(state_of(&f, a2), ENG_STATE_AWAITING);
    assert_int_equal(ev.n, 0);
    eng_campaign *h;
    assert_int_equal(eng_campaign_get(f.e, "root", cid, &h), ENG_OK);
    int locked = fx_camp_status(h).goal_locked;
    eng_campaign_free(h);
    assert_int_equal(locked, 0);
    /* Viewers, authors and actors outside the scope are denied; long comments refused. */
    assert_int_equal(eng_campaign_approve(f.e, "vic", cid, NULL), ENG_EDENIED);
    assert_int_equal(eng_campaign_approve(f.e, "ann", cid, NULL), ENG_EDENIED);
    assert_int_equal(eng_campaign_reject(f.e, "sam", cid, NULL), ENG_EDENIED);
    char longc[5000];
    memset(longc, 'c', sizeof longc - 1);
    longc[sizeof longc - 1] = 0;
    assert_int_equal(eng_campaign_approve(f.e, "root", cid, longc), ENG_ETOOBIG);
    assert_int_equal(eng_campaign_approve(f.e, "root", 4242, NULL), ENG_ENOTFOUND);
    /* root neither created nor edited them: both awaiting messages are approved, the rest untouched. */
    assert_int_equal(eng_campaign_approve(f.e, "root", cid, "all good"), ENG_OK);
    assert_int_equal(state_of(&f, a1), ENG_STATE_APPROVED);
    assert_int_equal(state_of(&f, a2), ENG_STATE_APPROVED);
    assert_int_equal(state_of(&f, d), ENG_STATE_DRAFT);
    assert_int_equal(state_of(&f, r), ENG_STATE_REJECTED);
    assert_int_equal(ev.n, 2);
    assert_int_equal(ev.kind[0], ENG_EVENT_APPROVED);
    assert_int_equal(ev.kind[1], ENG_EVENT_APPROVED);
    assert_string_equal(ev.comment[1], "all good");
    eng_message *mh;
    assert_int_equal(eng_message_get(f.e, "root", a2, &mh), ENG_OK);
    eng_message_status ms = ENG_MESSAGE_STATUS_INIT;
    assert_int_equal(eng_message_status_get(mh, &ms), ENG_OK);
    assert_string_equal(ms.decided_by, "root");
    assert_string_equal(ms.comment, "all good");
    assert_string_equal(ms.approved_hash, ms.content_hash);
    eng_message_free(mh);
    assert_int_equal(eng_campaign_get(f.e, "root", cid, &h), ENG_OK);
    locked = fx_camp_status(h).goal_locked;
    eng_campaign_free(h);
    assert_int_equal(locked, 1);
    /* Nothing left awaiting. */
    assert_int_equal(eng_campaign_approve(f.e, "root", cid, NULL), ENG_ESTATE);
    assert_string_equal(eng_error_last()->detail, "campaign");
    assert_int_equal(eng_campaign_reject(f.e, "root", cid, NULL), ENG_ESTATE);
    /* Reject the campaign: every awaiting message is rejected with the comment. */
    assert_int_equal(eng_message_submit(f.e, "ann", d, NULL), ENG_OK);
    ev.n = 0;
    assert_int_equal(eng_campaign_reject(f.e, "bob", cid, "ignore this one"), ENG_OK);
    assert_int_equal(state_of(&f, d), ENG_STATE_REJECTED);
    assert_int_equal(state_of(&f, a1), ENG_STATE_APPROVED);
    assert_int_equal(ev.n, 1);
    assert_int_equal(ev.kind[0], ENG_EVENT_REJECTED);
    assert_int_equal(ev.msg[0], d);
    assert_string_equal(ev.comment[0], "ignore this one");
    uint64_t bad;
    assert_int_equal(eng_audit_verify(f.e, "root", &bad), ENG_OK);
    eng_model_set_event_callback(f.e, NULL, NULL);
    fx_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(transition_table),        cmocka_unit_test(approval_binding_and_events),
        cmocka_unit_test(self_approval_setting),   cmocka_unit_test(goal_lock_and_campaign_edits),
        cmocka_unit_test(approval_survives_reopen), cmocka_unit_test(delete_and_list),
        cmocka_unit_test(campaign_review),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
