/* Actors can be read, listed and removed: a host finds an org's approvers
 * and revokes someone who leaves — from then on every call naming them is
 * refused, their pending approval too, and the audit keeps who they were. */
#include "model_fixture.h"

static void get_and_list(void **st)
{
    (void)st;
    fx f;
    fx_open(&f); /* acme: root, ann, bob, vic, nat (unit north), sam (units north, south) */
    assert_int_equal(eng_org_create(f.e, "beta", NULL, "broot", NULL), ENG_OK);
    eng_actor_spec a = ENG_ACTOR_SPEC_INIT;
    assert_int_equal(eng_actor_get(f.e, "root", "sam", &a), ENG_OK);
    assert_string_equal(a.id, "sam");
    assert_int_equal(a.roles, ENG_ROLE_AUTHOR | ENG_ROLE_APPROVER);
    assert_int_equal(a.scope, ENG_SCOPE_UNITS);
    assert_int_equal(a.n_units, 2);
    assert_string_equal(a.units[0], "north");
    assert_string_equal(a.units[1], "south");
    assert_int_equal(eng_actor_get(f.e, "root", "broot", &a), ENG_EDENIED); /* another org's */
    assert_null(a.id);
    assert_int_equal(eng_actor_get(f.e, "root", "nobody", &a), ENG_ENOTFOUND);
    assert_int_equal(eng_actor_get(f.e, "ann", "bob", &a), ENG_EDENIED); /* not an admin */
    /* the approvers of acme, from the list */
    eng_actor_iter *it = NULL;
    assert_int_equal(eng_actor_list(f.e, "ann", &it), ENG_EDENIED);
    assert_null(it);
    assert_int_equal(eng_actor_list(f.e, "root", &it), ENG_OK);
    char seen[256] = "", approvers[128] = "";
    int rc;
    while ((rc = eng_actor_next(it, &a)) == ENG_OK) {
        strcat(seen, a.id);
        strcat(seen, ",");
        if (a.roles & (ENG_ROLE_APPROVER | ENG_ROLE_ADMIN)) {
            strcat(approvers, a.id);
            strcat(approvers, ",");
        }
    }
    assert_int_equal(rc, ENG_ITEROVER);
    assert_int_equal(eng_actor_next(it, &a), ENG_ITEROVER);
    eng_actor_iter_free(it);
    assert_string_equal(seen, "ann,bob,nat,root,sam,vic,"); /* id order, acme's only */
    assert_string_equal(approvers, "bob,root,sam,");
    assert_int_equal(eng_actor_next(NULL, &a), ENG_EMISUSE);
    eng_actor_iter_free(NULL);
    fx_close(&f);
}

static void removed_actor_is_refused(void **st)
{
    (void)st;
    fx f;
    fx_open(&f);
    eng_campaign_spec c = fx_campaign("Diwali");
    uint64_t cid, mid;
    assert_int_equal(eng_campaign_create(f.e, "ann", &c, &cid, NULL), ENG_OK);
    eng_message_spec m = fx_message();
    assert_int_equal(eng_message_create(f.e, "ann", cid, &m, &mid, NULL), ENG_OK);
    assert_int_equal(eng_message_submit(f.e, "ann", mid, NULL), ENG_OK);
    /* bob would approve; he leaves first */
    assert_int_equal(eng_actor_remove(f.e, "ann", "bob"), ENG_EDENIED); /* only admins remove */
    assert_int_equal(eng_actor_remove(f.e, "root", "root"), ENG_ESTATE);  /* never oneself */
    assert_int_equal(eng_actor_remove(f.e, "root", "nobody"), ENG_ENOTFOUND);
    assert_int_equal(eng_org_create(f.e, "beta", NULL, "broot", NULL), ENG_OK);
    assert_int_equal(eng_actor_remove(f.e, "broot", "bob"), ENG_EDENIED); /* another org's */
    assert_int_equal(eng_actor_remove(f.e, "root", "bob"), ENG_OK);
    /* every call naming bob is refused, before and after a reopen */
    for (int round = 0; round < 2; round++) {
        assert_int_equal(eng_message_approve(f.e, "bob", mid, NULL, "ok"), ENG_EDENIED);
        assert_int_equal(eng_access_check(f.e, "bob", ENG_OP_READ, NULL), ENG_EDENIED);
        eng_campaign *h = NULL;
        assert_int_equal(eng_campaign_get(f.e, "bob", cid, &h), ENG_EDENIED);
        uint64_t n;
        assert_int_equal(eng_customers_count(f.e, "bob", &n), ENG_EDENIED);
        eng_actor_spec a = ENG_ACTOR_SPEC_INIT;
        assert_int_equal(eng_actor_get(f.e, "root", "bob", &a), ENG_ENOTFOUND);
        fx_reopen(&f);
    }
    /* the message still waits for an approver who is here */
    assert_int_equal(eng_message_approve(f.e, "root", mid, NULL, "ok"), ENG_OK);
    /* the audit keeps who they were: bob's own entries stay, and the removal names him */
    eng_audit_iter *it = NULL;
    assert_int_equal(eng_audit_open(f.e, "root", &it), ENG_OK);
    eng_audit_entry x = ENG_AUDIT_ENTRY_INIT;
    int put = 0, removed = 0;
    while (eng_audit_next(it, &x) == ENG_OK) {
        if (!strcmp(x.object, "actor/bob") && !strcmp(x.action, "put"))
            put++;
        if (!strcmp(x.object, "actor/bob") && !strcmp(x.action, "remove")) {
            assert_string_equal(x.actor, "root");
            removed++;
        }
    }
    eng_audit_free(it);
    assert_int_equal(put, 1);
    assert_int_equal(removed, 1);
    uint64_t bad = 1;
    assert_int_equal(eng_audit_verify(f.e, "root", &bad), ENG_OK);
    assert_int_equal(bad, 0);
    fx_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(get_and_list),
        cmocka_unit_test(removed_actor_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
