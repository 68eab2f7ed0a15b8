/* The offers catalogue: create, read, list, update and remove offers; every
 * refusal names its field and leaves the store as it was; messages claim an
 * offer (its terms are copied, its validity must lie inside the campaign's
 * dates, at claim and again at submit); an allocation-failure loop. */
#include "model_fixture.h"

#include "store_digest.h"

#define REFUSED(call, want) REFUSED_ON(f.e, call, want)

static eng_offer_spec offer(const char *id, int source, const char *code, const char *pool)
{
    eng_offer_spec o;
    assert_int_equal(eng_offer_spec_init(&o, ENG_OFFER_SPEC_VERSION), ENG_OK);
    o.id = id;
    o.name = "Diwali 20% off";
    o.valid_from = test_clock_now + 2 * ENG_DAY;
    o.valid_until = test_clock_now + 30 * ENG_DAY;
    o.coupon_source = source;
    o.coupon_code = code;
    o.coupon_pool = pool;
    return o;
}

/* The ids of the actor's offers, in list order, joined by ','. */
static void list_ids(eng_engine *e, const char *actor, char *buf, size_t cap)
{
    eng_offer_iter *it = NULL;
    assert_int_equal(eng_offer_list(e, actor, &it), ENG_OK);
    eng_offer_spec o = ENG_OFFER_SPEC_INIT;
    int rc;
    buf[0] = 0;
    while ((rc = eng_offer_next(it, &o)) == ENG_OK) {
        assert_true(strlen(buf) + strlen(o.id) + 2 < cap);
        if (buf[0])
            strcat(buf, ",");
        strcat(buf, o.id);
    }
    assert_int_equal(rc, ENG_ITEROVER);
    assert_int_equal(eng_offer_next(it, &o), ENG_ITEROVER);
    eng_offer_iter_free(it);
}

/* How many audit entries name @p object with @p action (read as root). */
static int audited(eng_engine *e, const char *object, const char *action)
{
    eng_audit_iter *it = NULL;
    assert_int_equal(eng_audit_open(e, "root", &it), ENG_OK);
    eng_audit_entry x = ENG_AUDIT_ENTRY_INIT;
    int n = 0, rc;
    while ((rc = eng_audit_next(it, &x)) == ENG_OK)
        n += strcmp(x.object, object) == 0 && strcmp(x.action, action) == 0;
    assert_int_equal(rc, ENG_ITEROVER);
    eng_audit_free(it);
    return n;
}

static void catalogue(void **st)
{
    (void)st;
    fx f;
    fx_open(&f);
    eng_offer_spec a = offer("diwali20", ENG_COUPON_COMMON, "DIWALI20", NULL);
    eng_offer_spec b = offer("boots", ENG_COUPON_UPLOADED, NULL, "boots-pool");
    eng_offer_spec c = offer("gen", ENG_COUPON_GENERATED, NULL, "gen-pool");
    assert_int_equal(eng_offer_create(f.e, "ann", &a), ENG_OK);
    assert_int_equal(eng_offer_create(f.e, "ann", &b), ENG_OK);
    assert_int_equal(eng_offer_create(f.e, "ann", &c), ENG_OK);
    char ids[256];
    list_ids(f.e, "vic", ids, sizeof ids); /* a viewer reads the catalogue */
    assert_string_equal(ids, "boots,diwali20,gen");

    eng_offer_spec g = ENG_OFFER_SPEC_INIT;
    assert_int_equal(eng_offer_get(f.e, "vic", "diwali20", &g), ENG_OK);
    assert_string_equal(g.id, "diwali20");
    assert_string_equal(g.name, "Diwali 20% off");
    assert_int_equal(g.valid_from, a.valid_from);
    assert_int_equal(g.valid_until, a.valid_until);
    assert_int_equal(g.coupon_source, ENG_COUPON_COMMON);
    assert_string_equal(g.coupon_code, "DIWALI20");
    assert_string_equal(g.coupon_pool, "");

    b.name = "Boots, uploaded codes";
    b.valid_until = test_clock_now + 40 * ENG_DAY;
    assert_int_equal(eng_offer_update(f.e, "ann", &b), ENG_OK);
    assert_int_equal(eng_offer_remove(f.e, "ann", "gen"), ENG_OK);

    fx_reopen(&f); /* durable */
    list_ids(f.e, "ann", ids, sizeof ids);
    assert_string_equal(ids, "boots,diwali20");
    assert_int_equal(eng_offer_get(f.e, "ann", "boots", &g), ENG_OK);
    assert_string_equal(g.name, "Boots, uploaded codes");
    assert_int_equal(g.valid_until, test_clock_now + 40 * ENG_DAY);
    assert_int_equal(g.coupon_source, ENG_COUPON_UPLOADED);
    assert_string_equal(g.coupon_pool, "boots-pool");
    assert_string_equal(g.coupon_code, "");
    assert_int_equal(eng_offer_get(f.e, "ann", "gen", &g), ENG_ENOTFOUND);

    assert_int_equal(audited(f.e, "offer/diwali20", "create"), 1);
    assert_int_equal(audited(f.e, "offer/boots", "update"), 1);
    assert_int_equal(audited(f.e, "offer/gen", "remove"), 1);
    uint64_t bad = 1;
    assert_int_equal(eng_audit_verify(f.e, "root", &bad), ENG_OK);

    /* Another org has a catalogue of its own. */
    assert_int_equal(eng_org_create(f.e, "globex", NULL, "gadmin", NULL), ENG_OK);
    list_ids(f.e, "gadmin", ids, sizeof ids);
    assert_string_equal(ids, "");
    assert_int_equal(eng_offer_get(f.e, "gadmin", "boots", &g), ENG_ENOTFOUND);
    assert_int_equal(eng_offer_create(f.e, "gadmin", &a), ENG_OK); /* the same id in another org */
    list_ids(f.e, "gadmin", ids, sizeof ids);
    assert_string_equal(ids, "diwali20");
    list_ids(f.e, "ann", ids, sizeof ids);
    assert_string_equal(ids, "boots,diwali20");
    fx_close(&f);
}

static void refusals(void **st)
{
    (void)st;
    fx f;
    fx_open(&f);
    eng_offer_spec a = offer("diwali20", ENG_COUPON_COMMON, "DIWALI20", NULL);
    assert_int_equal(eng_offer_create(f.e, "ann", &a), ENG_OK);
    eng_offer_spec s;
    struct {
        const char *field;
        int code;
    } cases[] = {
        {"offer.id", ENG_EINVAL},           {"offer.name", ENG_EINVAL},         {"offer.valid_until", ENG_ERANGE},
        {"offer.valid_from", ENG_ERANGE},   {"offer.coupon_source", ENG_EINVAL}, {"offer.coupon_code", ENG_EINVAL},
        {"offer.coupon_pool", ENG_EINVAL},  {"offer.coupon_code", ENG_EINVAL},  {"offer.coupon_pool", ENG_EINVAL},
        {"offer.name", ENG_EINVAL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        s = offer("x1", ENG_COUPON_COMMON, "X1", NULL);
        switch (i) {
        case 0: s.id = "bad/id"; break;
        case 1: s.name = ""; break;
        case 2: s.valid_until = s.valid_from; break;
        case 3: s.valid_from = -1; break;
        case 4: s.coupon_source = 3; break;
        case 5: s.coupon_code = "HAS SPACE"; break;
        case 6: s.coupon_pool = "pool"; break; /* a common code has no pool */
        case 7: s.coupon_source = ENG_COUPON_UPLOADED, s.coupon_pool = "p"; break; /* keeps its code */
        case 8: s.coupon_source = ENG_COUPON_GENERATED, s.coupon_code = NULL; break;
        case 9: s.name = "line\nbreak"; break;
        }
        assert_int_equal(eng_offer_create(f.e, "ann", &s), cases[i].code);
        assert_string_equal(eng_error_last()->detail, cases[i].field);
        REFUSED(eng_offer_create(f.e, "ann", &s), cases[i].code);
    }
    s = offer("x1", ENG_COUPON_COMMON, "X1", NULL);
    REFUSED(eng_offer_create(NULL, "ann", &s), ENG_EMISUSE);
    REFUSED(eng_offer_create(f.e, "ann", NULL), ENG_EINVAL);
    s.version = 2;
    REFUSED(eng_offer_create(f.e, "ann", &s), ENG_EVERSION);
    s.version = 0;
    REFUSED(eng_offer_create(f.e, "ann", &s), ENG_EVERSION);
    s.version = ENG_OFFER_SPEC_VERSION;
    REFUSED(eng_offer_create(f.e, "vic", &s), ENG_EDENIED); /* a viewer */
    REFUSED(eng_offer_create(f.e, "bob", &s), ENG_EDENIED); /* an approver */
    REFUSED(eng_offer_create(f.e, "nobody", &s), ENG_EDENIED);
    REFUSED(eng_offer_create(f.e, NULL, &s), ENG_EDENIED);
    REFUSED(eng_offer_create(f.e, "ann", &a), ENG_EEXISTS);
    REFUSED(eng_offer_update(f.e, "ann", &s), ENG_ENOTFOUND);
    REFUSED(eng_offer_update(NULL, "ann", &a), ENG_EMISUSE);
    REFUSED(eng_offer_update(f.e, "vic", &a), ENG_EDENIED);
    a.coupon_code = NULL;
    REFUSED(eng_offer_update(f.e, "ann", &a), ENG_EINVAL);
    REFUSED(eng_offer_remove(f.e, "ann", "x1"), ENG_ENOTFOUND);
    REFUSED(eng_offer_remove(f.e, "ann", NULL), ENG_ENOTFOUND);
    REFUSED(eng_offer_remove(f.e, "vic", "diwali20"), ENG_EDENIED);
    REFUSED(eng_offer_remove(NULL, "ann", "diwali20"), ENG_EMISUSE);

    eng_offer_spec g = ENG_OFFER_SPEC_INIT;
    REFUSED(eng_offer_get(NULL, "ann", "diwali20", &g), ENG_EMISUSE);
    REFUSED(eng_offer_get(f.e, "ann", "diwali20", NULL), ENG_EINVAL);
    REFUSED(eng_offer_get(f.e, "nobody", "diwali20", &g), ENG_EDENIED);
    REFUSED(eng_offer_get(f.e, "ann", "../x", &g), ENG_ENOTFOUND);
    g.version = 9;
    REFUSED(eng_offer_get(f.e, "ann", "diwali20", &g), ENG_EVERSION);
    assert_int_equal(g.version, 9);
    eng_offer_iter *it = (eng_offer_iter *)&g;
    REFUSED(eng_offer_list(NULL, "ann", &it), ENG_EMISUSE);
    assert_null(it);
    REFUSED(eng_offer_list(f.e, "ann", NULL), ENG_EINVAL);
    REFUSED(eng_offer_list(f.e, "nobody", &it), ENG_EDENIED);
    g.version = ENG_OFFER_SPEC_VERSION;
    REFUSED(eng_offer_next(NULL, &g), ENG_EMISUSE);
    assert_int_equal(eng_offer_list(f.e, "ann", &it), ENG_OK);
    REFUSED(eng_offer_next(it, NULL), ENG_EINVAL);
    g.version = 0;
    REFUSED(eng_offer_next(it, &g), ENG_EVERSION);
    eng_offer_iter_free(it);
    g.version = ENG_OFFER_SPEC_VERSION;
    REFUSED(eng_offer_next(it, &g), ENG_EMISUSE); /* freed */
    eng_offer_iter_free(it);                      /* twice: a no-op */
    eng_offer_iter_free(NULL);
    assert_int_equal(eng_offer_spec_init(NULL, ENG_OFFER_SPEC_VERSION), ENG_EINVAL);
    assert_int_equal(eng_offer_spec_init(&s, 2), ENG_EVERSION);
    fx_close(&f);
}

static uint64_t campaign(fx *f)
{
    eng_campaign_spec c = fx_campaign("Diwali");
    uint64_t id;
    assert_int_equal(eng_campaign_create(f->e, "ann", &c, &id, NULL), ENG_OK);
    return id;
}

static eng_message_spec claiming(const char *offer_id)
{
    static eng_incentive inc; /* the spec returned points here: each call starts it afresh */
    inc = (eng_incentive)ENG_INCENTIVE_INIT;
    eng_message_spec m = fx_message();
    inc.kind = ENG_INCENTIVE_COUPON;
    inc.offer_id = offer_id;
    m.incentive = &inc;
    return m;
}

static void expect_report(eng_validation *v, const char *path, int code)
{
    assert_non_null(v);
    assert_report(v, path, code);
    eng_validation_free(v);
}

static void claims(void **st)
{
    eng_incentive inc = ENG_INCENTIVE_INIT;
    (void)st;
    fx f;
    fx_open(&f);
    uint64_t cid = campaign(&f);
    eng_offer_spec a = offer("diwali20", ENG_COUPON_COMMON, "DIWALI20", NULL);
    eng_offer_spec b = offer("boots", ENG_COUPON_UPLOADED, NULL, "boots-pool");
    assert_int_equal(eng_offer_create(f.e, "ann", &a), ENG_OK);
    assert_int_equal(eng_offer_create(f.e, "ann", &b), ENG_OK);

    /* A claim copies the offer's terms into the message. */
    eng_message_spec m = claiming("boots");
    inc = *m.incentive; /* start from the fixture's */
    uint64_t id = 0, id2 = 0;
    eng_validation *v = NULL;
    assert_int_equal(eng_message_create(f.e, "ann", cid, &m, &id, &v), ENG_OK);
    eng_message *h = NULL;
    assert_int_equal(eng_message_get(f.e, "ann", id, &h), ENG_OK);
    const eng_message_spec *r = fx_msg_fields(h);
    assert_string_equal(r->incentive->offer_id, "boots");
    assert_int_equal(r->incentive->coupon_source, ENG_COUPON_UPLOADED);
    assert_string_equal(r->incentive->coupon_pool, "boots-pool");
    /* What a read gives back can be written back unchanged (the terms equal the offer's). */
    eng_message_spec back = *r;
    back.title = "Boots, again";
    assert_int_equal(eng_message_update(f.e, "ann", id, &back, &v), ENG_OK);
    eng_message_free(h);
    assert_int_equal(eng_message_submit(f.e, "ann", id, &v), ENG_OK);

    /* Refused at claim, each naming its field, nothing stored. */
    uint8_t before[ENG__SHA256_LEN], after[ENG__SHA256_LEN];
    store_digest(f.e, before);
    m = claiming("nope");
    inc = *m.incentive; /* start from the fixture's */
    assert_int_equal(eng_message_create(f.e, "ann", cid, &m, &id2, &v), ENG_EVALIDATION);
    expect_report(v, "message.incentive.offer_id", ENG_ENOTFOUND);
    m = claiming("diwali20");
    inc = *m.incentive; /* start from the fixture's */
    inc.coupon_code = "OTHER";
    m.incentive = &inc;
    assert_int_equal(eng_message_create(f.e, "ann", cid, &m, &id2, &v), ENG_EVALIDATION);
    expect_report(v, "message.incentive.coupon_code", ENG_EINVAL);
    m = claiming("diwali20");
    inc = *m.incentive; /* start from the fixture's */
    inc.coupon_source = ENG_COUPON_GENERATED;
    inc.coupon_pool = "x";
    m.incentive = &inc;
    assert_int_equal(eng_message_create(f.e, "ann", cid, &m, &id2, &v), ENG_EVALIDATION);
    assert_report(v, "message.incentive.coupon_source", ENG_EINVAL);
    expect_report(v, "message.incentive.coupon_pool", ENG_EINVAL);
    m = claiming(NULL); /* free-text terms without an offer: the old path is gone */
    inc = *m.incentive;
    inc.coupon_code = "FREE10";
    m.incentive = &inc;
    assert_int_equal(eng_message_create(f.e, "ann", cid, &m, &id2, &v), ENG_EVALIDATION);
    expect_report(v, "message.incentive.offer_id", ENG_EINVAL);
    assert_int_equal(id2, 0);
    /* An offer valid past the campaign's end. */
    eng_offer_spec late = offer("late", ENG_COUPON_COMMON, "LATE", NULL);
    late.valid_until = test_clock_now + 90 * ENG_DAY;
    assert_int_equal(eng_offer_create(f.e, "ann", &late), ENG_OK);
    store_digest(f.e, before);
    m = claiming("late");
    inc = *m.incentive; /* start from the fixture's */
    assert_int_equal(eng_message_create(f.e, "ann", cid, &m, &id2, &v), ENG_EVALIDATION);
    expect_report(v, "message.incentive.offer_id", ENG_ERANGE);
    assert_int_equal(eng_message_update(f.e, "ann", id, &m, &v), ENG_EVALIDATION);
    expect_report(v, "message.incentive.offer_id", ENG_ERANGE);
    store_digest(f.e, after);
    assert_memory_equal(before, after, ENG__SHA256_LEN);

    /* A draft claims without a code; submit asks for the offer. */
    m = claiming(NULL);
    inc = *m.incentive; /* start from the fixture's */
    assert_int_equal(eng_message_create(f.e, "ann", cid, &m, &id2, &v), ENG_OK);
    assert_int_equal(eng_message_submit(f.e, "ann", id2, &v), ENG_EVALIDATION);
    expect_report(v, "message.incentive.offer_id", ENG_EINVAL);
    m = claiming("diwali20");
    inc = *m.incentive; /* start from the fixture's */
    assert_int_equal(eng_message_update(f.e, "ann", id2, &m, &v), ENG_OK);
    /* The offer changes after the claim: submit refuses until it is claimed again. */
    a.coupon_code = "DIWALI25";
    assert_int_equal(eng_offer_update(f.e, "ann", &a), ENG_OK);
    assert_int_equal(eng_message_submit(f.e, "ann", id2, &v), ENG_EVALIDATION);
    expect_report(v, "message.incentive.offer_id", ENG_ESTATE);
    assert_int_equal(eng_message_update(f.e, "ann", id2, &m, &v), ENG_OK);
    assert_int_equal(eng_message_get(f.e, "ann", id2, &h), ENG_OK);
    assert_string_equal(fx_msg_fields(h)->incentive->coupon_code, "DIWALI25");
    eng_message_free(h);
    /* The offer's validity moves outside the campaign after the claim. */
    a.valid_from = test_clock_now; /* before the campaign starts */
    assert_int_equal(eng_offer_update(f.e, "ann", &a), ENG_OK);
    assert_int_equal(eng_message_submit(f.e, "ann", id2, &v), ENG_EVALIDATION);
    expect_report(v, "message.incentive.offer_id", ENG_ERANGE);
    /* Removed after the claim. */
    assert_int_equal(eng_offer_remove(f.e, "ann", "diwali20"), ENG_OK);
    assert_int_equal(eng_message_submit(f.e, "ann", id2, &v), ENG_EVALIDATION);
    expect_report(v, "message.incentive.offer_id", ENG_ENOTFOUND);
    /* The message submitted earlier keeps the terms it claimed. */
    assert_int_equal(eng_message_get(f.e, "ann", id, &h), ENG_OK);
    assert_int_equal(fx_msg_fields(h)->incentive->coupon_source, ENG_COUPON_UPLOADED);
    eng_message_status ms = ENG_MESSAGE_STATUS_INIT;
    assert_int_equal(eng_message_status_get(h, &ms), ENG_OK);
    assert_int_equal(ms.state, ENG_STATE_AWAITING);
    eng_message_free(h);
    fx_close(&f);
}

static eng_time oom_clock(void *u)
{
    (void)u;
    return test_clock_now;
}

static int oom_run(void *arg)
{
    (void)arg;
    eng_config cfg;
    eng_config_init(&cfg, ENG_CONFIG_VERSION);
    cfg.allocator = test_alloc_get();
    cfg.clock_fn = oom_clock;
    eng_engine *e = NULL;
    int rc = eng_open(&cfg, &e);
    if (rc)
        return rc;
    if ((rc = eng_org_create(e, "acme", NULL, "root", NULL)) == ENG_OK) {
        eng_offer_spec a = offer("diwali20", ENG_COUPON_COMMON, "DIWALI20", NULL);
        if ((rc = eng_offer_create(e, "root", &a)) == ENG_OK) {
            a.name = "renamed";
            rc = eng_offer_update(e, "root", &a);
        }
        eng_offer_spec g = ENG_OFFER_SPEC_INIT;
        if (rc == ENG_OK)
            rc = eng_offer_get(e, "root", "diwali20", &g);
        eng_offer_iter *it = NULL;
        if (rc == ENG_OK && (rc = eng_offer_list(e, "root", &it)) == ENG_OK) {
            while ((rc = eng_offer_next(it, &g)) == ENG_OK)
                ;
            rc = rc == ENG_ITEROVER ? ENG_OK : rc;
            eng_offer_iter_free(it);
        }
        eng_campaign_spec c = fx_campaign("OOM");
        uint64_t cid = 0, mid = 0;
        eng_validation *v = NULL;
        if (rc == ENG_OK)
            rc = eng_campaign_create(e, "root", &c, &cid, &v);
        eng_validation_free(v);
        v = NULL;
        eng_message_spec m = claiming("diwali20");
        if (rc == ENG_OK)
            rc = eng_message_create(e, "root", cid, &m, &mid, &v);
        eng_validation_free(v);
        v = NULL;
        if (rc == ENG_OK)
            rc = eng_message_submit(e, "root", mid, &v);
        eng_validation_free(v);
        if (rc == ENG_OK)
            rc = eng_offer_remove(e, "root", "diwali20");
    }
    eng_close(e);
    return rc;
}

static void offers_oom(void **st)
{
    (void)st;
    test_alloc_reset();
    test_clock_now = 1767225600000;
    assert_true(test_oom_loop(oom_run, NULL) > 10);
    test_alloc_assert_clean();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(catalogue),
        cmocka_unit_test(refusals),
        cmocka_unit_test(claims),
        cmocka_unit_test(offers_oom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
