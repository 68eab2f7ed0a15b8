/* Preview and test send: a message rendered for a chosen customer (or a
 * sample) on a channel, a draft too, with the store byte for byte unchanged;
 * a test send handed to the transport for named recipients, neither counted
 * as contacted nor charged, and the later real execution untouched by it;
 * refusals with the field named; allocation failures at every step. */
#include "dispatch_fixture.h"
#include "../model/store_digest.h"

static void preview_renders(void **state)
{
    (void)state;
    dx f;
    dx_world(&f, 20, 16, 1, 1);
    eng_message_spec m = dx_message();
    eng_validation *v = NULL;
    assert_int_equal(eng_message_create(f.e, "ann", f.campaign, &m, &f.message, &v), ENG_OK); /* a draft */
    eng_validation_free(v);
    uint8_t before[ENG__SHA256_LEN], after[ENG__SHA256_LEN];
    store_digest(f.e, before);

    char body[512];
    eng_preview p = ENG_PREVIEW_INIT;
    assert_int_equal(eng_message_preview(f.e, "ann", f.message, 1, ENG_CH_SMS, body, sizeof body, &p), ENG_OK);
    assert_string_equal(body, "Hi Ann1, 20% off. Reply STOP to opt out");
    assert_int_equal(p.body_len, strlen(body));
    assert_int_equal(p.unreach, 0);
    assert_int_equal(p.segments, 1);
    assert_int_equal(p.cost, 3);
    assert_string_equal(p.recipient, "+15550000001");
    assert_string_equal(p.subject, "");

    /* Email: subject, escaped attribute, the customer's own signed unsubscribe link. */
    assert_int_equal(eng_message_preview(f.e, "ann", f.message, 1, ENG_CH_EMAIL, body, sizeof body, &p), ENG_OK);
    assert_string_equal(p.subject, "Offer for Ann1");
    assert_string_equal(p.recipient, "c1@example.com");
    assert_true(strncmp(body, "<p>Hello Ann1</p>https://acme.example/unsub?t=", 45) == 0);
    assert_int_equal(p.cost, 1);

    /* The sample: defaults, no recipient. A customer without an email: rendered, and why it would be skipped. */
    assert_int_equal(eng_message_preview(f.e, "ann", f.message, ENG_PREVIEW_SAMPLE, ENG_CH_SMS, body, sizeof body, &p),
                     ENG_OK);
    assert_string_equal(body, "Hi there, 20% off. Reply STOP to opt out");
    assert_string_equal(p.recipient, "");
    assert_int_equal(eng_message_preview(f.e, "ann", f.message, 0, ENG_CH_EMAIL, body, sizeof body, &p), ENG_OK);
    assert_int_equal(p.unreach, ENG_UNREACH_NO_CONTACT);
    assert_string_equal(p.subject, "Offer for you");

    /* A small buffer: cut, NUL-terminated, the whole length reported; no buffer at all. */
    char small[5];
    assert_int_equal(eng_message_preview(f.e, "ann", f.message, 1, ENG_CH_SMS, small, sizeof small, &p), ENG_OK);
    assert_string_equal(small, "Hi A");
    assert_int_equal(p.body_len, strlen("Hi Ann1, 20% off. Reply STOP to opt out"));
    assert_int_equal(eng_message_preview(f.e, "ann", f.message, 1, ENG_CH_SMS, NULL, 0, &p), ENG_OK);
    assert_int_equal(p.body_len, strlen("Hi Ann1, 20% off. Reply STOP to opt out"));

    /* Refusals name the field; out is zeroed. */
    assert_int_equal(eng_message_preview(f.e, "ann", f.message, 1, ENG_CH_PUSH, body, sizeof body, &p),
                     ENG_ENOTFOUND);
    assert_string_equal(eng_error_last()->detail, "channel");
    assert_int_equal(p.body_len, 0);
    assert_string_equal(body, "");
    assert_int_equal(eng_message_preview(f.e, "ann", f.message, 20, ENG_CH_SMS, body, sizeof body, &p), ENG_ENOTFOUND);
    assert_string_equal(eng_error_last()->detail, "customer");
    assert_int_equal(eng_message_preview(f.e, "ann", f.message, 1, 99, body, sizeof body, &p), ENG_EINVAL);
    assert_int_equal(eng_message_preview(f.e, "ann", f.message + 100, 1, ENG_CH_SMS, body, sizeof body, &p),
                     ENG_ENOTFOUND);
    assert_int_equal(eng_message_preview(f.e, "mallory", f.message, 1, ENG_CH_SMS, body, sizeof body, &p), ENG_EDENIED);
    assert_int_equal(eng_message_preview(NULL, "ann", f.message, 1, ENG_CH_SMS, body, sizeof body, &p), ENG_EMISUSE);
    assert_int_equal(eng_message_preview(f.e, "ann", f.message, 1, ENG_CH_SMS, NULL, 8, &p), ENG_EINVAL);
    eng_preview bad = ENG_PREVIEW_INIT;
    bad.version = ENG_PREVIEW_VERSION + 1;
    assert_int_equal(eng_message_preview(f.e, "ann", f.message, 1, ENG_CH_SMS, body, sizeof body, &bad), ENG_EVERSION);
    assert_int_equal(eng_message_preview(f.e, "ann", f.message, 1, ENG_CH_SMS, body, sizeof body, NULL), ENG_EINVAL);
    store_digest(f.e, after);
    assert_memory_equal(before, after, ENG__SHA256_LEN);
    dx_close(&f);
}

static void test_send(void **state)
{
    (void)state;
    dx f;
    dx_world(&f, 20, 16, 1, 1);
    eng_message_spec m = dx_message();
    eng_validation *v = NULL;
    assert_int_equal(eng_message_create(f.e, "ann", f.campaign, &m, &f.message, &v), ENG_OK);
    eng_validation_free(v);
    int64_t bal;
    assert_int_equal(eng_credits_balance(f.e, "root", ENG_CREDITS_CAMPAIGN, &bal), ENG_OK);
    uint8_t before[ENG__SHA256_LEN], after[ENG__SHA256_LEN];
    store_digest(f.e, before);

    const char *to[] = {"+15559990001", "+15559990002"};
    int st[2] = {7, 7};
    f.prov.fault[dx_pair(3, ENG_CH_SMS)] = DX_OK;
    assert_int_equal(eng_message_test_send(f.e, "ann", f.message, 3, ENG_CH_SMS, to, 2, st), ENG_OK);
    assert_int_equal(st[0], ENG_SEND_ACCEPTED);
    assert_int_equal(st[1], ENG_SEND_ACCEPTED);
    assert_int_equal(f.prov.envelopes, 2);
    assert_string_equal(f.prov.last_body, "Hi Ann3, 20% off. Reply STOP to opt out");
    assert_non_null(strstr(f.prov.key[dx_pair(3, ENG_CH_SMS)], "/t"));
    /* A second test send: new keys. */
    char first[ENG_SEND_KEY_MAX + 1];
    snprintf(first, sizeof first, "%s", f.prov.key[dx_pair(3, ENG_CH_SMS)]);
    assert_int_equal(eng_message_test_send(f.e, "ann", f.message, 3, ENG_CH_SMS, to, 1, st), ENG_OK);
    assert_int_equal(f.prov.key_changed, 2); /* the provider saw other keys for "customer 3": unique per call */
    store_digest(f.e, after);
    assert_memory_equal(before, after, ENG__SHA256_LEN); /* no ledger, no credits, no touch */

    /* Refusals. */
    const char *bad[] = {"+1555\n"};
    assert_int_equal(eng_message_test_send(f.e, "ann", f.message, 3, ENG_CH_SMS, bad, 1, st), ENG_EINVAL);
    assert_string_equal(eng_error_last()->detail, "recipients[i]");
    assert_int_equal(st[0], -1);
    assert_int_equal(eng_message_test_send(f.e, "ann", f.message, 3, ENG_CH_SMS, to, 0, st), ENG_EINVAL);
    assert_string_equal(eng_error_last()->detail, "n");
    assert_int_equal(eng_message_test_send(f.e, "ann", f.message, 3, ENG_CH_GOOGLE, to, 1, st), ENG_EINVAL);
    assert_string_equal(eng_error_last()->detail, "channel");
    assert_int_equal(eng_message_test_send(f.e, "bob", f.message, 3, ENG_CH_SMS, to, 1, st), ENG_EDENIED);
    assert_int_equal(eng_message_test_send(f.e, "ann", f.message, 3, ENG_CH_SMS, to, 1, NULL), ENG_EINVAL);
    assert_int_equal(eng_message_test_send(NULL, "ann", f.message, 3, ENG_CH_SMS, to, 1, st), ENG_EMISUSE);

    /* The real execution afterwards: every customer once, charged for its own sends only. */
    dx_provider_free(&f.prov);
    dx_provider_init(&f.prov, f.n);
    dx_approve(&f, &m);
    dx_run_all(&f, f.t0, NULL);
    eng_execution_info x = ENG_EXECUTION_INFO_INIT;
    assert_int_equal(eng_execution_get(f.e, "root", f.message, 0, &x), ENG_OK);
    assert_int_equal(x.state, ENG_EXEC_FINISHED);
    assert_int_equal(x.accepted, f.prov.envelopes);
    assert_int_equal(f.prov.key_changed, 0);
    int64_t now;
    assert_int_equal(eng_credits_balance(f.e, "root", ENG_CREDITS_CAMPAIGN, &now), ENG_OK);
    assert_int_equal(bal - now, x.credits);
    dx_close(&f);
}

/* Version 2: the variant a customer gets, chosen as the execution chooses it. Checked against
 * the rules written out here and then against the real execution's trace and the provider. */
static const eng_variant pv_var[] = {
    {ENG_VARIANT_REGION, "first_name == \"Ann1\" or first_name == \"Ann3\"", ENG_CH_EMAIL, "<p>Email VIP {{first_name}}</p>{{unsubscribe}}"},
    {ENG_VARIANT_PRODUCT, "first_name == \"Ann1\" or first_name == \"Ann2\" or first_name == \"Ann5\"", ENG_CH_SMS,
     "SMS VIP {{first_name}} {{optout}}"},
};

/* The variant the rules above give customer i of the fixture (first name "Ann<i>" unless i % 7 == 0,
 * an email unless i % 5 == 0): the first whose channel reaches them and whose rule matches. */
static int pv_expect(uint32_t i)
{
    int email = i % 5 != 0, named = i % 7 != 0;
    if (named && email && (i == 1 || i == 3))
        return 0;
    if (named && (i == 1 || i == 2 || i == 5))
        return 1;
    return -1;
}

static void preview_variant(void **state)
{
    (void)state;
    dx f;
    dx_world(&f, 20, 16, 1, 1);
    eng_message_spec m = dx_message();
    m.strategy = ENG_STRATEGY_PERSONALIZATION;
    m.variants = pv_var;
    m.n_variants = 2;
    eng_validation *v = NULL;
    assert_int_equal(eng_message_create(f.e, "ann", f.campaign, &m, &f.message, &v), ENG_OK);
    eng_validation_free(v);
    char body[512];
    eng_preview p = ENG_PREVIEW_INIT;
    for (uint32_t i = 0; i < 20; i++) {
        int want = pv_expect(i);
        for (int ch = ENG_CH_SMS; ch <= ENG_CH_EMAIL; ch += ENG_CH_EMAIL - ENG_CH_SMS) {
            assert_int_equal(eng_message_preview(f.e, "ann", f.message, i, ch, body, sizeof body, &p), ENG_OK);
            assert_int_equal(p.variant, want);
            assert_int_equal(p.rule, want >= 0 ? ENG_RULE_VARIANT : ENG_RULE_BASE);
            assert_int_equal(p.variant_channel, want >= 0 ? pv_var[want].channel : -1);
            assert_int_equal(p.variant_dimension, want >= 0 ? pv_var[want].dimension : -1);
            assert_string_equal(p.variant_rule, want >= 0 ? pv_var[want].rule : "");
            /* The body is the variant's on its own channel only. */
            int vip = want >= 0 && pv_var[want].channel == ch;
            assert_int_equal(strstr(body, "VIP") != NULL, vip);
        }
    }
    /* The sample and a version-1 reader: the creative's own content, nothing chosen. */
    assert_int_equal(eng_message_preview(f.e, "ann", f.message, ENG_PREVIEW_SAMPLE, ENG_CH_SMS, body, sizeof body, &p),
                     ENG_OK);
    assert_int_equal(p.rule, ENG_RULE_UNDECIDED);
    assert_int_equal(p.variant, -1);
    assert_string_equal(body, "Hi there, 20% off. Reply STOP to opt out");
    unsigned char raw[sizeof(eng_preview) + 16];
    memset(raw, 0x5a, sizeof raw);
    eng_preview *p1 = (eng_preview *)(void *)raw;
    p1->version = 1;
    assert_int_equal(eng_message_preview(f.e, "ann", f.message, 2, ENG_CH_SMS, body, sizeof body, p1), ENG_OK);
    assert_string_equal(body, "Hi Ann2, 20% off. Reply STOP to opt out");
    size_t end = offsetof(eng_preview, sender) + sizeof p1->sender;
    for (size_t k = end; k < sizeof raw; k++)
        assert_int_equal(raw[k], 0x5a); /* nothing written past version 1 */
    /* A customer reachable on no channel: the strategy's own verdict. */
    const char *names[] = {"id", "consent.sms"};
    const char *vals[] = {"c5", "no"};
    assert_int_equal(eng_customers_upsert(f.e, "root", names, 2, vals, 1, NULL, NULL), ENG_OK);
    assert_int_equal(eng_message_preview(f.e, "ann", f.message, 5, ENG_CH_SMS, body, sizeof body, &p), ENG_OK);
    assert_int_equal(p.rule, ENG_RULE_UNREACHABLE);
    assert_int_equal(p.unreach, ENG_UNREACH_NO_CONSENT);
    vals[1] = "yes";
    assert_int_equal(eng_customers_upsert(f.e, "root", names, 2, vals, 1, NULL, NULL), ENG_OK);

    /* The execution chooses what the preview said: its trace and what the provider got. */
    dx_approve(&f, &m);
    dx_run_all(&f, f.t0, NULL);
    size_t n;
    uint32_t *ids = dx_test_group(&f, &n);
    assert_true(n > 5);
    for (size_t k = 0; k < n; k++) {
        eng_trace t = ENG_TRACE_INIT;
        assert_int_equal(eng_trace_get(f.e, "root", f.message, 0, ids[k], &t), ENG_OK);
        assert_int_equal(eng_message_preview(f.e, "root", f.message, ids[k], ENG_CH_SMS, body, sizeof body, &p),
                         ENG_OK);
        assert_int_equal(t.rule, p.rule);
        assert_int_equal(t.variant, p.variant);
        assert_string_equal(f.prov.body[dx_pair(ids[k], ENG_CH_SMS)], body);
    }
    free(ids);
    dx_close(&f);
}

/* Allocation failures at every step: ENG_ENOMEM, nothing leaked, nothing sent half. */
typedef struct oom_ctx {
    dx *f;
} oom_ctx;

static int oom_preview(void *arg)
{
    oom_ctx *c = arg;
    char body[256];
    eng_preview p = ENG_PREVIEW_INIT;
    int rc = eng_message_preview(c->f->e, "ann", c->f->message, 2, ENG_CH_EMAIL, body, sizeof body, &p);
    if (rc == ENG_OK)
        assert_true(strncmp(body, "<p>Hello Ann2</p>", 17) == 0);
    else
        assert_int_equal(p.body_len, 0);
    return rc;
}

static int oom_test_send(void *arg)
{
    oom_ctx *c = arg;
    const char *to[] = {"+15559990001"};
    int st[1];
    unsigned sent = c->f->prov.envelopes;
    int rc = eng_message_test_send(c->f->e, "ann", c->f->message, 2, ENG_CH_SMS, to, 1, st);
    if (rc != ENG_OK)
        assert_int_equal(c->f->prov.envelopes, sent); /* a failure never sent anything */
    return rc;
}

static void out_of_memory(void **state)
{
    (void)state;
    dx f;
    dx_world(&f, 10, 16, 1, 1);
    eng_message_spec m = dx_message();
    eng_validation *v = NULL;
    assert_int_equal(eng_message_create(f.e, "ann", f.campaign, &m, &f.message, &v), ENG_OK);
    eng_validation_free(v);
    oom_ctx c = {&f};
    assert_true(test_oom_loop(oom_preview, &c) > 1);
    assert_int_equal(eng_dispatch_hooks_set(f.e, NULL, NULL), ENG_OK); /* the engine's dispatch state, kept */
    assert_true(test_oom_loop(oom_test_send, &c) > 1);
    dx_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(preview_renders),
        cmocka_unit_test(preview_variant),
        cmocka_unit_test(test_send),
        cmocka_unit_test(out_of_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
