/* Failures inside a call leave the model as it was: every store call of a
 * message create, submit, approve, campaign update, message delete and campaign approve/reject is
 * made to fail in turn (the store stays byte for byte as it was); and every allocation of a whole
 * workflow is made to fail in turn. */
#include "model_fixture.h"
#include "store_digest.h"
#include "fault_sweep.h"

#include <stdlib.h>

static int events;
static void on_event(const eng_model_event *ev, void *user)
{
    (void)ev;
    (void)user;
    events++;
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

static size_t audit_len(fx *f)
{
    eng_audit_iter *it;
    assert_int_equal(eng_audit_open(f->e, "root", &it), ENG_OK);
    eng_audit_entry x = ENG_AUDIT_ENTRY_INIT;
    size_t n = 0;
    while (eng_audit_next(it, &x) == ENG_OK)
        n++;
    eng_audit_free(it);
    uint64_t bad;
    assert_int_equal(eng_audit_verify(f->e, "root", &bad), ENG_OK);
    return n;
}

enum { OP_CREATE, OP_SUBMIT, OP_APPROVE, OP_UPDATE, OP_DELETE, OP_CAMPAIGN_APPROVE, OP_CAMPAIGN_REJECT };

/* One operation of the sweep on a campaign @p cid and its message @p id. */
typedef struct op_at {
    fx *f;
    int op;
    uint64_t cid, id, made;
    const eng_campaign_spec *c;
    const eng_message_spec *m;
} op_at;

static int run_op(void *u)
{
    op_at *a = u;
    eng_engine *e = a->f->e;
    switch (a->op) {
    case OP_CREATE: return eng_message_create(e, "ann", a->cid, a->m, &a->made, NULL);
    case OP_SUBMIT: return eng_message_submit(e, "ann", a->id, NULL);
    case OP_APPROVE: return eng_message_approve(e, "bob", a->id, NULL, "ok");
    case OP_UPDATE: return eng_campaign_update(e, "ann", a->cid, a->c, NULL);
    case OP_DELETE: return eng_message_delete(e, "ann", a->id);
    case OP_CAMPAIGN_APPROVE: return eng_campaign_approve(e, "bob", a->cid, "ok");
    default: return eng_campaign_reject(e, "bob", a->cid, "no");
    }
}

static void store_faults(void **st)
{
    (void)st;
    fx f;
    fx_open(&f);
    assert_int_equal(eng_model_set_event_callback(f.e, on_event, NULL), ENG_OK);
    eng_message_spec m = fx_message();
    int serial = 0;
    for (int op = OP_CREATE; op <= OP_CAMPAIGN_REJECT; op++) {
        int modes[] = {TF_ERROR, TF_COMMITTED_ERROR};
        for (int mode = 0; mode < 2; mode++) {
            for (uint64_t nth = 1;; nth++) {
                /* A fresh campaign each time, so every call does the same work. */
                char name[32];
                snprintf(name, sizeof name, "Faults %d", serial++);
                eng_campaign_spec c = fx_campaign(name);
                uint64_t cid, id = 0;
                assert_int_equal(eng_campaign_create(f.e, "ann", &c, &cid, NULL), ENG_OK);
                if (op != OP_CREATE)
                    assert_int_equal(eng_message_create(f.e, "ann", cid, &m, &id, NULL), ENG_OK);
                if (op != OP_CREATE && op != OP_SUBMIT)
                    assert_int_equal(eng_message_submit(f.e, "ann", id, NULL), ENG_OK);
                int before = op != OP_CREATE ? state_of(&f, id) : 0;
                size_t log_before = audit_len(&f);
                int ev_before = events;
                char renamed[40];
                snprintf(renamed, sizeof renamed, "Renamed %d", serial);
                c.name = renamed; /* a rename: the name index moves too */
                op_at at = {&f, op, cid, id, 0, &c, &m};
                /* TF_ERROR: nothing half-written (no message without its campaign entry, no list without
                 * its log), the store byte for byte as it was */
                if (!fault_nth(f.ts, f.e, mode == 0 ? TV_ALL : TV_COMMIT, nth, modes[mode], run_op, &at))
                    break;
                if (getenv("FAULT_TRACE"))
                    fprintf(stderr, "op %d mode %d nth %llu rc %d: %s\n", op, mode, (unsigned long long)nth,
                            eng_error_last()->code, eng_error_last()->message);
                if (modes[mode] == TF_COMMITTED_ERROR) {
                    /* The commit applied but reported failure: state and log moved together. */
                    assert_true(audit_len(&f) > log_before); /* and it still verifies */
                    continue;
                }
                assert_int_equal(events, ev_before); /* the host heard nothing */
                assert_int_equal(audit_len(&f), log_before);
                if (op != OP_CREATE)
                    assert_int_equal(state_of(&f, id), before);
                eng_campaign *ch;
                assert_int_equal(eng_campaign_get(f.e, "root", cid, &ch), ENG_OK);
                assert_int_equal(fx_camp_status(ch).n_messages, op == OP_CREATE ? 0 : 1);
                eng_campaign_free(ch);
            }
        }
    }
    fx_close(&f);
}

/* A check the store cannot answer is no finding about the input: every get and scan of a
 * message's submit (its audience groups looked up), of a campaign's create (its control
 * group checked) and of one whose goal condition names a customer attribute (the goal's
 * fields read from the audience state) failing in turn, on a fresh engine each time (nothing
 * cached), gives
 * ENG_ESTORAGE naming the read, no report and the store unchanged -- never ENG_EVALIDATION
 * (found by fuzz_api's read sweep: "validation failed ... storage get of key 'a/o/acme/s'
 * failed"). A call whose failed read the library made again succeeds. */
static void reads_failing_in_checks(void **st)
{
    (void)st;
    fx f;
    fx_open(&f);
    uint32_t gid = 0, ctl = 0;
    const char *ids[] = {"c1"};
    assert_int_equal(eng_customers_add_column(f.e, "root", "tier", ENG_COL_STRING), ENG_OK);
    assert_int_equal(eng_customers_import_csv_buffer(f.e, "root", "id,tier\nc1,gold\n", 16, NULL, NULL), ENG_OK);
    assert_int_equal(eng_group_create_uploaded(f.e, "ann", fx_groups[0], &gid), ENG_OK);
    assert_int_equal(eng_group_upload_ids(f.e, "ann", gid, ids, 1, ENG_UPLOAD_REPLACE, NULL, NULL), ENG_OK);
    assert_int_equal(eng_group_create_uploaded(f.e, "ann", "holdout", &ctl), ENG_OK);
    assert_int_equal(eng_group_upload_ids(f.e, "ann", ctl, ids, 1, ENG_UPLOAD_REPLACE, NULL, NULL), ENG_OK);
    eng_campaign_spec c = fx_campaign("Reads");
    uint64_t cid = 0, id = 0;
    assert_int_equal(eng_campaign_create(f.e, "ann", &c, &cid, NULL), ENG_OK);
    eng_message_spec m = fx_message();
    eng_goal_spec goal = ENG_GOAL_SPEC_INIT;
    goal.event = "transaction";
    goal.condition = "amount >= 100 and tier == \"gold\""; /* tier: the customers' column */
    int failed[3] = {0, 0, 0};
    for (int op = 0; op < 3; op++) {
        for (uint64_t nth = 1;; nth++) {
            if (op == 0) /* a draft to submit */
                assert_int_equal(eng_message_create(f.e, "ann", cid, &m, &id, NULL), ENG_OK);
            fx_reopen(&f);
            uint8_t before[ENG__SHA256_LEN], after[ENG__SHA256_LEN];
            store_digest(f.e, before);
            uint64_t fired = test_store_failures(f.ts);
            test_store_fail(f.ts, TV_GET | TV_SCAN, nth, 0, TF_ERROR);
            eng_validation *v = NULL;
            uint64_t made = 0;
            char name[32];
            snprintf(name, sizeof name, "Held out %d.%llu", op, (unsigned long long)nth);
            eng_campaign_spec h = fx_campaign(name);
            if (op == 1)
                h.control_group = ctl;
            if (op == 2)
                h.goal_mode = ENG_GOAL_CUSTOM, h.goal = &goal;
            int rc = op ? eng_campaign_create(f.e, "ann", &h, &made, &v) : eng_message_submit(f.e, "ann", id, &v);
            int did_fail = test_store_failures(f.ts) > fired, again = test_store_read_again(f.ts);
            test_store_nofail(f.ts);
            if (!did_fail) {
                assert_int_equal(rc, ENG_OK);
                break;
            }
            if (rc == ENG_OK) { /* the failed read was made again */
                assert_true(again);
                continue;
            }
            assert_int_equal(rc, ENG_ESTORAGE);
            assert_int_equal(eng_error_last()->code, ENG_ESTORAGE);
            assert_non_null(strstr(eng_error_last()->message, "storage"));
            assert_null(v);
            store_digest(f.e, after);
            assert_memory_equal(before, after, ENG__SHA256_LEN);
            failed[op]++;
        }
    }
    assert_true(failed[0] > 0 && failed[1] > 0 && failed[2] > 0);
    fx_close(&f);
}

static eng_time clock_cb(void *u)
{
    (void)u;
    return test_clock_now;
}

static int whole_workflow(void *arg)
{
    (void)arg;
    eng_config cfg;
    eng_config_init(&cfg, ENG_CONFIG_VERSION);
    cfg.allocator = test_alloc_get();
    cfg.clock_fn = clock_cb;
    eng_engine *e;
    int rc = eng_open(&cfg, &e);
    if (rc)
        return rc;
    eng_actor_spec a;
    eng_actor_spec_init(&a, ENG_ACTOR_SPEC_VERSION);
    a.id = "bob";
    a.roles = ENG_ROLE_APPROVER;
    eng_campaign_spec c = fx_campaign("OOM");
    eng_message_spec m = fx_message();
    uint64_t cid = 0, id = 0, id2 = 0, bad;
    eng_validation *v = NULL;
    eng_audit_iter *it = NULL;
    eng_audit_entry x = ENG_AUDIT_ENTRY_INIT;
    /* Refused settings with a report of three failures: the report or ENG_ENOMEM, never a partial one. */
    eng_org_settings wrong;
    eng_org_settings_init(&wrong, ENG_ORG_SETTINGS_VERSION);
    wrong.xengage = 9;
    wrong.xengage_cost = -1;
    wrong.channel_cost[ENG_CH_EMAIL] = -1;
    eng_validation *sv = NULL;
    if ((rc = eng_org_create(e, "acme", &wrong, "root", &sv)) == ENG_EVALIDATION) {
        rc = eng_validation_count(sv) == 3 ? ENG_OK : ENG_ERROR;
        eng_validation_free(sv);
    } else if (rc == ENG_OK) {
        rc = ENG_ERROR; /* bad settings were accepted */
    }
    if (rc == ENG_OK && (rc = eng_org_create(e, "acme", NULL, "root", NULL)) == ENG_OK &&
        (rc = eng_org_settings_set(e, "root", &wrong, &sv)) == ENG_EVALIDATION) {
        rc = eng_validation_count(sv) == 3 ? ENG_OK : ENG_ERROR;
        eng_validation_free(sv);
    } else if (rc == ENG_OK) {
        rc = ENG_ERROR;
    }
    if (rc == ENG_OK && (rc = eng_actor_put(e, "root", &a)) == ENG_OK &&
        (rc = eng_campaign_create(e, "root", &c, &cid, &v)) == ENG_OK &&
        (rc = eng_message_create(e, "root", cid, &m, &id, &v)) == ENG_OK &&
        (rc = eng_message_submit(e, "root", id, &v)) == ENG_OK &&
        (rc = eng_message_approve(e, "bob", id, NULL, "ok")) == ENG_OK &&
        (rc = eng_message_create(e, "root", cid, &m, &id2, &v)) == ENG_OK &&
        (rc = eng_message_submit(e, "root", id2, &v)) == ENG_OK &&
        (rc = eng_campaign_approve(e, "bob", cid, "all")) == ENG_OK &&
        (rc = fx_start_at(e, "root", id, m.schedule->at)) == ENG_OK &&
        (rc = eng_audit_open(e, "root", &it)) == ENG_OK) {
        while ((rc = eng_audit_next(it, &x)) == ENG_OK)
            ;
        rc = rc == ENG_ITEROVER ? eng_audit_verify(e, "root", &bad) : rc;
    }
    eng_audit_free(it);
    eng_validation_free(v);
    eng_close(e);
    return rc;
}

static void oom(void **st)
{
    (void)st;
    test_alloc_reset();
    test_clock_now = 1767225600000;
    assert_true(test_oom_loop(whole_workflow, NULL) > 50);
    test_alloc_assert_clean();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(store_faults),
        cmocka_unit_test(reads_failing_in_checks),
        cmocka_unit_test(oom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
