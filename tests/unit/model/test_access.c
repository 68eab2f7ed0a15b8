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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(matrix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
