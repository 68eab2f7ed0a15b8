/* Channel choice and rendering as the provider sees them: strategy none sends
 * every reachable creative, channel priority the first reachable channel of
 * the order, personalisation the first matching variant's content; attribute
 * defaults, HTML escaping in email bodies only, a subject that would carry a
 * line break refused, SMS segments and credits by segments. */
#include "dispatch_fixture.h"
#include "dispatch/dispatch_impl.h"

static int has_email(dx *f, uint32_t c)
{
    char ext[32];
    assert_int_equal(eng_customer_external_id(f->e, "root", c, ext, sizeof ext), ENG_OK);
    return strtoul(ext + 1, NULL, 10) % 5 != 0;
}

static void set_name(dx *f, uint32_t c, const char *name)
{
    char ext[32];
    assert_int_equal(eng_customer_external_id(f->e, "root", c, ext, sizeof ext), ENG_OK);
    const char *names[] = {"id", "first_name"};
    const char *vals[] = {ext, name};
    assert_int_equal(eng_customers_upsert(f->e, "root", names, 2, vals, 1, NULL, NULL), ENG_OK);
}

static void priority_first_reachable(void **state)
{
    (void)state;
    dx f;
    dx_world(&f, 80, 16, 1, 1);
    eng_message_spec m = dx_message();
    static const int order[] = {ENG_CH_EMAIL, ENG_CH_SMS};
    m.strategy = ENG_STRATEGY_CHANNEL_PRIORITY;
    m.channel_priority = order;
    m.n_channel_priority = 2;
    dx_approve(&f, &m);
    dx_run_all(&f, f.t0, NULL);
    size_t n;
    uint32_t *ids = dx_test_group(&f, &n);
    for (size_t i = 0; i < n; i++) {
        int em = has_email(&f, ids[i]);
        assert_int_equal(f.prov.delivered[dx_pair(ids[i], ENG_CH_EMAIL)], em);
        assert_int_equal(f.prov.delivered[dx_pair(ids[i], ENG_CH_SMS)], !em);
    }
    free(ids);
    dx_close(&f);
}

static void personalisation_and_rendering(void **state)
{
    (void)state;
    dx f;
    dx_world(&f, 80, 16, 1, 1);
    size_t n;
    eng_message_spec m = dx_message();
    static char vip[400];
    memset(vip, 0, sizeof vip);
    strcpy(vip, "VIP {{first_name}}: ");
    memset(vip + strlen(vip), 'x', 160); /* two segments */
    strcat(vip, " {{optout}}");
    static eng_variant var[1];
    var[0] = (eng_variant){ENG_VARIANT_REGION, "first_name == \"Ann1\" or first_name == \"Ann2\"", ENG_CH_SMS, vip};
    m.strategy = ENG_STRATEGY_PERSONALIZATION;
    m.variants = var;
    m.n_variants = 1;
    dx_approve(&f, &m);
    uint32_t *ids = dx_test_group(&f, &n);
    /* Two test-group customers with email get awkward names after approval. */
    uint32_t html = UINT32_MAX, brk = UINT32_MAX, noname = UINT32_MAX;
    for (size_t i = 0; i < n; i++) {
        char ext[32];
        assert_int_equal(eng_customer_external_id(f.e, "root", ids[i], ext, sizeof ext), ENG_OK);
        unsigned long k = strtoul(ext + 1, NULL, 10);
        if (k % 7 == 0 && k % 5 && noname == UINT32_MAX)
            noname = ids[i];
        else if (k % 7 && k % 5 && k > 2 && html == UINT32_MAX)
            html = ids[i];
        else if (k % 7 && k % 5 && k > 2 && brk == UINT32_MAX)
            brk = ids[i];
    }
    assert_true(html != UINT32_MAX && brk != UINT32_MAX && noname != UINT32_MAX);
    set_name(&f, html, "<b>&\"x'");
    set_name(&f, brk, "a\r\nBcc: evil@example.com");
    /* The dry run takes the same path and sends and stores nothing. */
    eng_dry_report dry = {.version = ENG_DRY_REPORT_VERSION};
    assert_int_equal(eng_dry_run(f.e, "root", f.message, &dry), ENG_OK);
    assert_int_equal(f.prov.envelopes, 0);
    eng_execution_info none = {.version = ENG_EXECUTION_INFO_VERSION};
    assert_int_equal(eng_execution_get(f.e, "root", f.message, 0, &none), ENG_OK);
    assert_int_equal(none.state, ENG_EXEC_NONE);
    dx_run_all(&f, f.t0, NULL);
    /* Escaped in the email body, as written in the SMS. */
    const char *eb = f.prov.body[dx_pair(html, ENG_CH_EMAIL)];
    const char *want_start = "<p>Hello &lt;b&gt;&amp;&quot;x&#39;</p>https://acme.example/unsub?t=";
    assert_int_equal(strncmp(eb, want_start, strlen(want_start)), 0);
    assert_string_equal(f.prov.body[dx_pair(html, ENG_CH_SMS)], "Hi <b>&\"x', 20% off. Reply STOP to opt out");
    /* A missing value takes the tag's default. */
    assert_string_equal(f.prov.body[dx_pair(noname, ENG_CH_SMS)], "Hi there, 20% off. Reply STOP to opt out");
    assert_string_equal(f.prov.subject[dx_pair(noname, ENG_CH_EMAIL)], "Offer for you");
    /* The subject would carry a line break: that email is refused, the SMS goes. */
    assert_int_equal(f.prov.calls[dx_pair(brk, ENG_CH_EMAIL)], 0);
    assert_int_equal(f.prov.delivered[dx_pair(brk, ENG_CH_SMS)], 1);
    eng_send_info si = {.version = ENG_SEND_INFO_VERSION};
    assert_int_equal(eng_send_get(f.e, "root", f.message, 0, brk, ENG_CH_EMAIL, &si), ENG_OK);
    assert_int_equal(si.state, ENG_LEDGER_SKIPPED);
    /* The variant went to the customers its rule matches (those in the test group). */
    int64_t want = 0;
    for (size_t i = 0; i < n; i++) {
        char ext[32];
        assert_int_equal(eng_customer_external_id(f.e, "root", ids[i], ext, sizeof ext), ENG_OK);
        const char *body = f.prov.body[dx_pair(ids[i], ENG_CH_SMS)];
        assert_non_null(body);
        int is_vip = strcmp(ext, "c1") == 0 || strcmp(ext, "c2") == 0;
        assert_int_equal(strncmp(body, "VIP ", 4) == 0, is_vip);
        assert_int_equal(f.prov.segments[dx_pair(ids[i], ENG_CH_SMS)], is_vip ? 2u : 1u);
        want += 3 * (is_vip ? 2 : 1);
        if (f.prov.delivered[dx_pair(ids[i], ENG_CH_EMAIL)])
            want += 1;
    }
    eng_execution_info x = {.version = ENG_EXECUTION_INFO_VERSION};
    assert_int_equal(eng_execution_get(f.e, "root", f.message, 0, &x), ENG_OK);
    assert_int_equal(x.credits, want); /* SMS by segments */
    /* What the dry run predicted is what happened. */
    uint64_t per[DX_CH] = {0}, segments = 0;
    for (size_t i = 0; i < f.n * DX_CH; i++) {
        per[i % DX_CH] += f.prov.delivered[i];
        if (i % DX_CH == ENG_CH_SMS && f.prov.delivered[i])
            segments += f.prov.segments[i];
    }
    assert_int_equal(dry.sends[ENG_CH_SMS], per[ENG_CH_SMS]);
    assert_int_equal(dry.sends[ENG_CH_EMAIL], per[ENG_CH_EMAIL]);
    assert_int_equal(dry.segments, segments);
    assert_int_equal(dry.credits, x.credits);
    assert_int_equal(dry.skipped[ENG_UNREACH_RENDER], 1);
    assert_int_equal(dry.audience, n);
    assert_int_equal(dry.audience + dry.control, f.n);
    assert_int_equal(dry.contacted, n);
    assert_int_equal(dry.coupons, 0);
    free(ids);
    dx_close(&f);
}

static uint32_t segs(const char *s) { return eng__sms_segments(s, strlen(s)); }

static char *rep(const char *unit, int times)
{
    size_t u = strlen(unit);
    char *s = malloc(u * (size_t)times + 1);
    if (!s)
        abort();
    for (int i = 0; i < times; i++)
        memcpy(s + u * (size_t)i, unit, u);
    s[u * (size_t)times] = 0;
    return s;
}

static void sms_segments(void **state)
{
    (void)state;
    static const struct {
        const char *unit;
        int times;
        uint32_t want;
    } cases[] = {
        {"a", 160, 1}, {"a", 161, 2}, {"a", 306, 2}, {"a", 307, 3},
        {"\xc3\xa9", 160, 1},                      /* e-acute is in the GSM basic set */
        {"\xe2\x82\xac", 80, 1},                   /* euro: an escape, two septets */
        {"\xe2\x82\xac", 81, 2}, {"{", 81, 2},
        {"\xe4\xbd\xa0", 70, 1},                   /* CJK: UCS-2 */
        {"\xe4\xbd\xa0", 71, 2}, {"\xe4\xbd\xa0", 134, 2}, {"\xe4\xbd\xa0", 135, 3},
        {"\xf0\x9f\x98\x80", 35, 1},               /* an emoji is two UTF-16 units */
        {"\xf0\x9f\x98\x80", 36, 2},
        {"\xff", 3, 1},                            /* invalid UTF-8: UCS-2, one unit a byte */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *s = rep(cases[i].unit, cases[i].times);
        if (segs(s) != cases[i].want)
            fail_msg("case %zu: %u segments, want %u", i, segs(s), cases[i].want);
        free(s);
    }
    assert_int_equal(segs(""), 1);
    /* One non-GSM character turns the whole text into UCS-2. */
    char *s = rep("a", 73); /* one CJK character and 70 letters: 71 UCS-2 units */
    memcpy(s, "\xe4\xbd\xa0", 3);
    assert_int_equal(segs(s), 2);
    free(s);
}

static void template_edges(void **state)
{
    (void)state;
    eng__mem mem;
    eng__mem_init(&mem, NULL);
    eng__tpl *t;
    assert_int_equal(eng__tpl_compile(&mem, "a {{ x", 0, &t), ENG_EPARSE);
    assert_null(t);
    assert_int_equal(eng__tpl_compile(&mem, "a }} b", 0, &t), ENG_EPARSE);
    assert_int_equal(eng__tpl_compile(&mem, "{{ x | there }}", 0, &t), ENG_EPARSE);
    assert_int_equal(eng__tpl_compile(&mem, "{{X}}", 0, &t), ENG_EPARSE);
    assert_int_equal(eng__tpl_compile(&mem, "", 0, &t), ENG_OK);
    eng__tpl_free(&mem, t);
    assert_int_equal(eng__tpl_compile(&mem, "{{ optout }}{{coupon_code|\"NONE\"}} {{campaign_name}}", 0, &t),
                     ENG_OK);
    eng__rctx r = {NULL, 0, ENG_CH_SMS, NULL, NULL, "Diwali & co", NULL, NULL, NULL, NULL};
    eng__wr w;
    eng__wr_init(&w, &mem);
    assert_int_equal(eng__tpl_render(t, &r, &w), ENG_OK);
    eng__wr_u8(&w, 0);
    assert_string_equal((const char *)w.data, "Reply STOP to opt outNONE Diwali & co");
    eng__wr_free(&w);
    eng__tpl_free(&mem, t);
    assert_int_equal(eng__tpl_compile(&mem, "{{campaign_name}}", 1, &t), ENG_OK);
    eng__wr_init(&w, &mem);
    assert_int_equal(eng__tpl_render(t, &r, &w), ENG_OK);
    eng__wr_u8(&w, 0);
    assert_string_equal((const char *)w.data, "Diwali &amp; co");
    eng__wr_free(&w);
    eng__tpl_free(&mem, t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(priority_first_reachable),
        cmocka_unit_test(personalisation_and_rendering),
        cmocka_unit_test(sms_segments),
        cmocka_unit_test(template_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
