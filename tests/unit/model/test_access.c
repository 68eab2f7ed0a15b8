/* Role x scope x operation matrix: every cell allowed or refused as
 * specified, asked through eng_access_check() and performed for real. */
#include "model_fixture.h"

static const unsigned roles[] = {ENG_ROLE_VIEWER, ENG_ROLE_AUTHOR, ENG_ROLE_APPROVER, ENG_ROLE_ADMIN};
static const char *const role_names[] = {"viewer", "author", "approver", "admin"};
static const int scopes[] = {ENG_SCOPE_ORG, ENG_SCOPE_UNITS, ENG_SCOPE_UNIT};
static const char *const scope_names[] = {"org", "units", "unit"};
/* Objects: owned by the org itself or by a unit. */
static const char *const objects[] = {NULL, "north", "north1", "south", "east"};

/* The specification, written independently of the library. */
static int expected(unsigned role, int scope, int op, const char *unit)
{
    int role_ok = op == ENG_OP_READ || (op == ENG_OP_EDIT && (role & (ENG_ROLE_AUTHOR | ENG_ROLE_ADMIN))) ||
                  (op == ENG_OP_APPROVE && (role & (ENG_ROLE_APPROVER | ENG_ROLE_ADMIN))) ||
                  ((op == ENG_OP_EXECUTE || op == ENG_OP_ADMIN) && (role & ENG_ROLE_ADMIN));
    int covers;
    if (scope == ENG_SCOPE_ORG)
        covers = 1;
    else if (!unit)
        covers = 0; /* unit scopes never reach the org's own campaigns */
    else if (scope == ENG_SCOPE_UNITS) /* {north, south} and their sub-units */
        covers = !strcmp(unit, "north") || !strcmp(unit, "north1") || !strcmp(unit, "south");
    else /* {north} */
        covers = !strcmp(unit, "north") || !strcmp(unit, "north1");
    if (op == ENG_OP_ADMIN)
        return role_ok && scope == ENG_SCOPE_ORG;
    return role_ok && covers;
}

static void name_of(char *buf, size_t n, int r, int s)
{
    snprintf(buf, n, "%s-%s", role_names[r], scope_names[s]);
}

/* A message in @p campaign, driven to awaiting (and approved when @p approve). */
static uint64_t message_for(fx *f, uint64_t campaign, int approve)
{
    eng_message_spec m = fx_message();
    uint64_t id;
    assert_int_equal(eng_message_create(f->e, "root", campaign, &m, &id, NULL), ENG_OK);
    assert_int_equal(eng_message_submit(f->e, "root", id, NULL), ENG_OK);
    if (approve)
        assert_int_equal(eng_message_approve(f->e, "bob", id, NULL, NULL), ENG_OK);
    return id;
}

static void matrix(void **st)
{
    (void)st;
    fx f;
    fx_open(&f);
    assert_int_equal(eng_unit_add(f.e, "root", "east", NULL), ENG_OK);
    const char *const both[] = {"north", "south"};
    const char *const north[] = {"north"};
    for (int r = 0; r < 4; r++)
        for (int s = 0; s < 3; s++) {
            char id[32];
            name_of(id, sizeof id, r, s);
            fx_actor(f.e, id, roles[r], scopes[s], s == 0 ? NULL : s == 1 ? both : north, s == 0 ? 0 : s == 1 ? 2 : 1);
        }
    /* One campaign per object owner. */
    uint64_t camp[5];
    for (int o = 0; o < 5; o++) {
        char name[16];
        snprintf(name, sizeof name, "c%d", o);
        eng_campaign_spec c = fx_campaign(name);
        c.unit = objects[o];
        assert_int_equal(eng_campaign_create(f.e, "root", &c, &camp[o], NULL), ENG_OK);
    }
    int cells = 0, allowed = 0;
    for (int r = 0; r < 4; r++)
        for (int s = 0; s < 3; s++)
            for (int o = 0; o < 5; o++)
                for (int op = ENG_OP_READ; op <= ENG_OP_ADMIN; op++) {
                    char actor[32];
                    name_of(actor, sizeof actor, r, s);
                    int want = expected(roles[r], s == 0 ? ENG_SCOPE_ORG : s == 1 ? ENG_SCOPE_UNITS : ENG_SCOPE_UNIT,
                                        op, objects[o]);
                    int rc = eng_access_check(f.e, actor, op, objects[o]);
                    if (rc != (want ? ENG_OK : ENG_EDENIED))
                        fprintf(stderr, "cell %s op %d object %s: got %d\n", actor, op,
                                objects[o] ? objects[o] : "(org)", rc);
                    assert_int_equal(rc, want ? ENG_OK : ENG_EDENIED);
                    /* The real operation agrees. */
                    switch (op) {
                    case ENG_OP_READ: {
                        eng_campaign *h = NULL;
                        rc = eng_campaign_get(f.e, actor, camp[o], &h);
                        eng_campaign_free(h);
                        break;
                    }
                    case ENG_OP_EDIT: { /* adding a message edits the campaign in any state */
                        eng_message_spec m = fx_message();
                        uint64_t mid;
                        rc = eng_message_create(f.e, actor, camp[o], &m, &mid, NULL);
                        break;
                    }
                    case ENG_OP_APPROVE:
                        rc = eng_message_approve(f.e, actor, message_for(&f, camp[o], 0), NULL, "ok");
                        break;
                    case ENG_OP_EXECUTE:
                        rc = fx_start(f.e, actor, message_for(&f, camp[o], 1));
                        break;
                    case ENG_OP_ADMIN: {
                        char unit[48];
                        snprintf(unit, sizeof unit, "u-%s-%d", actor, o);
                        rc = eng_unit_add(f.e, actor, unit, NULL);
                        break;
                    }
                    }
                    assert_int_equal(rc, want ? ENG_OK : ENG_EDENIED);
                    cells++;
                    allowed += want;
                }
    assert_int_equal(cells, 4 * 3 * 5 * 5);
    assert_true(allowed > 30 && allowed < cells - 30);
    /* Deny by default: unknown or missing actors, unknown units. */
    assert_int_equal(eng_access_check(f.e, "nobody", ENG_OP_READ, NULL), ENG_EDENIED);
    assert_int_equal(eng_access_check(f.e, NULL, ENG_OP_READ, NULL), ENG_EDENIED);
    assert_int_equal(eng_access_check(f.e, "", ENG_OP_READ, NULL), ENG_EDENIED);
    assert_int_equal(eng_access_check(f.e, "admin-org", ENG_OP_READ, "atlantis"), ENG_EDENIED);
    assert_int_equal(eng_access_check(f.e, "bad actor!", ENG_OP_READ, NULL), ENG_EDENIED);
    fx_close(&f);
}

/* ---- the audience rows: every audience call by every role and scope ---- */

enum { A_READ = ENG_OP_READ, A_EDIT = ENG_OP_EDIT, A_ADMIN = ENG_OP_ADMIN };

/* The specification, written independently of the library: audience data
 * belongs to the org (unit scopes never reach it); reading needs any role,
 * building groups and freezing needs author or admin, importing, the schema and
 * one customer's data need admin. */
static int aud_expected(unsigned role, int scope, int op)
{
    if (scope != ENG_SCOPE_ORG)
        return 0;
    if (op == A_READ)
        return 1;
    if (op == A_EDIT)
        return (role & (ENG_ROLE_AUTHOR | ENG_ROLE_ADMIN)) != 0;
    return (role & ENG_ROLE_ADMIN) != 0;
}

static size_t audit_len(eng_engine *e)
{
    eng_audit_iter *it = NULL;
    assert_int_equal(eng_audit_open(e, "root", &it), ENG_OK);
    eng_audit_entry x = ENG_AUDIT_ENTRY_INIT;
    size_t n = 0;
    while (eng_audit_next(it, &x) == ENG_OK)
        n++;
    eng_audit_free(it);
    return n;
}

#define N_AUD_CALLS 26

/* Perform audience call @p call as @p actor; *op gets its operation, *audited whether it changes state. */
static int aud_call(eng_engine *e, const char *actor, int call, uint32_t base, int *op, int *audited)
{
    static const char csv[] = "id,tier,contact.email,consent.email\nk1,gold,k1@x.io,yes\nk2,gold,k2@x.io,yes\n";
    static const char *const ids[] = {"k1"};
    char name[80];
    snprintf(name, sizeof name, "g-%s-%d", actor ? actor : "null", call);
    char key[80];
    snprintf(key, sizeof key, "k-%s", actor ? actor : "null");
    char basestr[16];
    snprintf(basestr, sizeof basestr, "%u", base);
    const char *inc[] = {basestr};
    eng_audience_query q = ENG_AUDIENCE_QUERY_INIT;
    q.include = inc;
    q.n_include = 1;
    uint64_t n;
    uint32_t g, id;
    int k, r;
    char buf[64];
    size_t len;
    eng_audience *a = NULL;
    *audited = 0;
    int rc;
    switch (call) {
    case 0: *op = A_READ; return eng_customers_count(e, actor, &n);
    case 1: *op = A_READ; return eng_customers_memory(e, actor, &n);
    case 2: *op = A_READ; return eng_group_find(e, actor, "base", &g);
    case 3: *op = A_READ; return eng_group_kind_of(e, actor, base, &k);
    case 4: *op = A_READ; return eng_group_count(e, actor, base, &n);
    case 5: *op = A_READ;
        rc = eng_audience_resolve(e, actor, &q, &a);
        eng_audience_free(a);
        return rc;
    case 6: *op = A_READ; return eng_audience_test_count(e, actor, &q, &n);
    case 7: *op = A_READ;
        rc = eng_audience_load_frozen(e, actor, "frozen", &a);
        eng_audience_free(a);
        return rc;
    case 8: *op = A_EDIT; *audited = 1; return eng_group_create_uploaded(e, actor, name, &g);
    case 9: *op = A_EDIT; *audited = 1; return eng_group_create_filter(e, actor, name, "tier == \"gold\"", &g);
    case 10: *op = A_EDIT; *audited = 1;
        return eng_group_create_combined(e, actor, name, ENG_COMBINE_UNION, &base, 1, NULL, 0, &g);
    case 11: *op = A_EDIT; *audited = 1; return eng_group_set_combined(e, actor, base + 1, ENG_COMBINE_UNION, &base, 1, NULL, 0);
    case 12: *op = A_EDIT; *audited = 1;
        return eng_group_upload_ids(e, actor, base, ids, 1, ENG_UPLOAD_APPEND, NULL, NULL);
    case 13: *op = A_EDIT; *audited = 1;
        return eng_group_upload_csv(e, actor, base, "id\nk2\n", 6, ENG_UPLOAD_APPEND, NULL, NULL);
    case 14: *op = A_EDIT; *audited = 1;
        /* a group of its own to delete: made by root so the cell tests the delete alone */
        if (eng_group_create_uploaded(e, "root", name, &g) != ENG_OK)
            return ENG_ERROR;
        return eng_group_delete(e, actor, g);
    case 15: *op = A_EDIT; *audited = 1;
        if (eng_audience_resolve(e, "root", &q, &a) != ENG_OK)
            return ENG_ERROR;
        rc = eng_audience_freeze(a, actor, key);
        eng_audience_free(a);
        return rc;
    case 16: *op = A_ADMIN; *audited = 1;
        for (char *c = name; *c; c++) /* a column name: [A-Za-z0-9_] */
            if (*c == '-' || *c == '!' || *c == ' ')
                *c = '_';
        return eng_customers_add_column(e, actor, name, ENG_COL_INT64);
    case 17: *op = A_ADMIN; *audited = 1;
        return eng_customers_import_csv_buffer(e, actor, csv, sizeof csv - 1, NULL, NULL);
    case 18: *op = A_ADMIN; *audited = 1; {
        const char *names[] = {"id", "tier"}, *vals[] = {"k3", "silver"};
        return eng_customers_upsert(e, actor, names, 2, vals, 1, NULL, NULL);
    }
    case 19: *op = A_ADMIN; *audited = 1; return eng_customers_compact(e, actor);
    case 20: *op = A_ADMIN; /* customers exist: ENG_ESTATE when allowed, nothing stored */
        rc = eng_customers_set_id_kind(e, actor, ENG_ID_INT64);
        return rc == ENG_ESTATE ? ENG_OK : rc;
    case 21: *op = A_ADMIN; return eng_customer_find(e, actor, "k1", &id);
    case 22: *op = A_ADMIN; return eng_customer_external_id(e, actor, 0, buf, sizeof buf);
    case 23: *op = A_ADMIN; return eng_customer_get(e, actor, 0, "contact.email", buf, sizeof buf, &len);
    case 24: *op = A_ADMIN; return eng_customer_reachable(e, actor, 0, ENG_CH_EMAIL, &r);
    default: *op = A_ADMIN; *audited = 1; {
        eng_import_report rep = ENG_IMPORT_REPORT_INIT;
        return eng_customers_upsert(e, actor, (const char *const[]){"id"}, 1, (const char *const[]){"k4"}, 1, NULL,
                                    &rep);
    }
    }
}

static void audience_matrix(void **st)
{
    (void)st;
    fx f;
    fx_open(&f);
    const char *const both[] = {"north", "south"};
    const char *const north[] = {"north"};
    for (int r = 0; r < 4; r++)
        for (int s = 0; s < 3; s++) {
            char id[32];
            name_of(id, sizeof id, r, s);
            fx_actor(f.e, id, roles[r], scopes[s], s == 0 ? NULL : s == 1 ? both : north, s == 0 ? 0 : s == 1 ? 2 : 1);
        }
    static const char csv[] = "id,tier,contact.email,consent.email\nk1,gold,k1@x.io,yes\nk2,gold,k2@x.io,yes\n";
    assert_int_equal(eng_customers_add_column(f.e, "root", "tier", ENG_COL_STRING), ENG_OK);
    assert_int_equal(eng_customers_import_csv_buffer(f.e, "root", csv, sizeof csv - 1, NULL, NULL), ENG_OK);
    uint32_t base, comb;
    assert_int_equal(eng_group_create_uploaded(f.e, "root", "base", &base), ENG_OK);
    assert_int_equal(eng_group_create_combined(f.e, "root", "comb", ENG_COMBINE_UNION, &base, 1, NULL, 0, &comb),
                     ENG_OK);
    assert_int_equal(comb, base + 1);
    eng_audience_query q = ENG_AUDIENCE_QUERY_INIT;
    const char *inc[] = {"base"};
    q.include = inc;
    q.n_include = 1;
    eng_audience *a = NULL;
    assert_int_equal(eng_audience_resolve(f.e, "root", &q, &a), ENG_OK);
    assert_int_equal(eng_audience_freeze(a, "root", "frozen"), ENG_OK);
    eng_audience_free(a);
    int cells = 0, allowed = 0;
    for (int r = 0; r < 4; r++)
        for (int s = 0; s < 3; s++)
            for (int call = 0; call < N_AUD_CALLS; call++) {
                char actor[32];
                name_of(actor, sizeof actor, r, s);
                size_t before = audit_len(f.e);
                int op, audited;
                int rc = aud_call(f.e, actor, call, base, &op, &audited);
                int want = aud_expected(roles[r], scopes[s], op);
                if (rc != (want ? ENG_OK : ENG_EDENIED))
                    fprintf(stderr, "audience cell %s call %d: got %d (%s)\n", actor, call, rc,
                            eng_error_last()->message);
                assert_int_equal(rc, want ? ENG_OK : ENG_EDENIED);
                /* a change is audited in its own batch; a refusal (or a read) leaves no entry */
                size_t setup = call == 14 || call == 15 ? 1 : 0; /* root's own create or nothing */
                if (call == 15)
                    setup = 0; /* resolving writes nothing */
                assert_int_equal(audit_len(f.e), before + setup + (want && audited ? 1 : 0));
                cells++;
                allowed += want;
            }
    assert_int_equal(cells, 4 * 3 * N_AUD_CALLS);
    assert_true(allowed > 30 && allowed < cells - 30);
    /* Deny by default: unknown, missing or malformed actors, for every call. */
    static const char *const nobody[] = {"nobody", NULL, "", "bad actor!"};
    for (size_t i = 0; i < 4; i++)
        for (int call = 0; call < N_AUD_CALLS; call++) {
            int op, audited;
            size_t before = audit_len(f.e);
            int rc = aud_call(f.e, nobody[i], call, base, &op, &audited);
            assert_int_equal(rc, ENG_EDENIED);
            assert_int_equal(audit_len(f.e), before + (call == 14 ? 1 : 0));
        }
    /* Another org's admin is refused every call that names an acme group by id. */
    assert_int_equal(eng_org_create(f.e, "beta", NULL, "beta-root", NULL), ENG_OK);
    int calls_with_ids[] = {3, 4, 5, 6, 10, 11, 12, 13};
    for (size_t i = 0; i < sizeof calls_with_ids / sizeof *calls_with_ids; i++) {
        int op, audited;
        int rc = aud_call(f.e, "beta-root", calls_with_ids[i], base, &op, &audited);
        if (rc != ENG_EDENIED)
            fprintf(stderr, "beta-root call %d: got %d\n", calls_with_ids[i], rc);
        assert_int_equal(rc, ENG_EDENIED);
    }
    /* ... and an acme audience handle cannot be frozen by beta. */
    assert_int_equal(eng_audience_resolve(f.e, "root", &q, &a), ENG_OK);
    assert_int_equal(eng_audience_freeze(a, "beta-root", "x"), ENG_EDENIED);
    eng_audience_free(a);
    fx_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(matrix),
        cmocka_unit_test(audience_matrix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
