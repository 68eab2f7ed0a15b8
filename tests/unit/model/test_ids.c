/* Ids are never reissued: for every kind the engine issues (group, campaign,
 * message), create a, b, delete b, create c, delete c, then reopen (and, on a
 * second store, "crash": a new engine on the same data without closing the
 * old one) and create d — d must be past every id ever issued, never b or c. */
#include "model_fixture.h"

typedef struct kind {
    const char *name;
    int (*create)(fx *f, int i, uint64_t *id);
    int (*destroy)(fx *f, uint64_t id);
} kind;

static uint64_t holder; /* the campaign messages are created in */

static int group_create(fx *f, int i, uint64_t *id)
{
    char name[32];
    snprintf(name, sizeof name, "g%d", i);
    uint32_t g = 0;
    int rc = eng_group_create_uploaded(f->e, "root", name, &g);
    *id = g;
    return rc;
}
static int group_destroy(fx *f, uint64_t id) { return eng_group_delete(f->e, "root", (uint32_t)id); }

static int campaign_create(fx *f, int i, uint64_t *id)
{
    char name[32];
    snprintf(name, sizeof name, "c%d", i);
    eng_campaign_spec c = fx_campaign(name);
    return eng_campaign_create(f->e, "ann", &c, id, NULL);
}
static int campaign_destroy(fx *f, uint64_t id) { return eng_campaign_delete(f->e, "ann", id); }

static int message_create(fx *f, int i, uint64_t *id)
{
    (void)i;
    eng_message_spec m = fx_message();
    return eng_message_create(f->e, "ann", holder, &m, id, NULL);
}
static int message_destroy(fx *f, uint64_t id) { return eng_message_delete(f->e, "ann", id); }

static const kind kinds[] = {
    {"group", group_create, group_destroy},
    {"campaign", campaign_create, campaign_destroy},
    {"message", message_create, message_destroy},
};

static void never_reissued(const kind *k, int crash)
{
    fx f;
    fx_open(&f);
    if (k->create == message_create) {
        eng_campaign_spec hc = fx_campaign("holder");
        assert_int_equal(eng_campaign_create(f.e, "ann", &hc, &holder, NULL), ENG_OK);
    }
    uint64_t a, b, c, d, issued[4];
    assert_int_equal(k->create(&f, 1, &a), ENG_OK);
    assert_int_equal(k->create(&f, 2, &b), ENG_OK);
    assert_int_equal(k->destroy(&f, b), ENG_OK);
    assert_int_equal(k->create(&f, 3, &c), ENG_OK);
    assert_true(c != a && c != b);
    assert_int_equal(k->destroy(&f, c), ENG_OK);
    eng_engine *old = NULL;
    if (crash) { /* the process dies: no close, a new engine on the same data */
        test_store_crash(f.ts);
        old = f.e;
        f.e = test_engine_open(test_store_handle(f.ts));
    } else {
        fx_reopen(&f);
    }
    assert_int_equal(k->create(&f, 4, &d), ENG_OK);
    issued[0] = a, issued[1] = b, issued[2] = c, issued[3] = d;
    for (int i = 0; i < 3; i++)
        if (issued[i] == d)
            fail_msg("%s id %llu reissued after %s", k->name, (unsigned long long)d, crash ? "a crash" : "a reopen");
    assert_true(d > c);
    if (old)
        assert_int_equal(eng_close(old), ENG_OK);
    fx_close(&f);
}

static void ids_after_reopen(void **s)
{
    (void)s;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        never_reissued(&kinds[i], 0);
}

static void ids_after_crash(void **s)
{
    (void)s;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        never_reissued(&kinds[i], 1);
}

/* The group's id and its high-water mark commit together: a failed create
 * issues nothing, and the next create still moves past every earlier id. */
static void group_id_with_store_faults(void **s)
{
    (void)s;
    fx f;
    fx_open(&f);
    uint32_t a, b, c;
    assert_int_equal(eng_group_create_uploaded(f.e, "root", "a", &a), ENG_OK);
    assert_int_equal(eng_group_create_uploaded(f.e, "root", "b", &b), ENG_OK);
    assert_int_equal(eng_group_delete(f.e, "root", b), ENG_OK);
    test_store_fail(f.ts, TV_PUT, 2, 0, TF_ERROR);
    assert_int_equal(eng_group_create_uploaded(f.e, "root", "c", &c), ENG_ESTORAGE);
    test_store_nofail(f.ts);
    fx_reopen(&f);
    assert_int_equal(eng_group_create_uploaded(f.e, "root", "c", &c), ENG_OK);
    assert_true(c > b);
    fx_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ids_after_reopen),
        cmocka_unit_test(ids_after_crash),
        cmocka_unit_test(group_id_with_store_faults),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
