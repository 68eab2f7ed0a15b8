/* Unsubscribe links: HMAC-SHA-256 against RFC 4231; the link in a sent email
 * carries a token that, handed back, records the opt-out; a forged, altered or
 * foreign-org token is refused and records nothing; without a set-up a message
 * using {{unsubscribe}} is refused at execution. */
#include "dispatch_fixture.h"
#include "base/hash.h"

static void hmac_rfc4231(void **state)
{
    (void)state;
    uint8_t key[131], mac[32];
    char hex[65];
    memset(key, 0x0b, 20);
    eng__hmac_sha256(key, 20, "Hi There", 8, mac);
    eng__hex(mac, 32, hex);
    assert_string_equal(hex, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    eng__hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, mac);
    eng__hex(mac, 32, hex);
    assert_string_equal(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    memset(key, 0xaa, 131);
    const char *d6 = "Test Using Larger Than Block-Size Key - Hash Key First";
    eng__hmac_sha256(key, 131, d6, strlen(d6), mac);
    eng__hex(mac, 32, hex);
    assert_string_equal(hex, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

static void link_round_trip(void **state)
{
    (void)state;
    dx f;
    dx_world(&f, 40, 16, 1, 1);
    eng_message_spec m = dx_message();
    dx_approve(&f, &m);
    dx_run_all(&f, f.t0, NULL);
    size_t n;
    uint32_t *ids = dx_test_group(&f, &n);
    uint32_t c = UINT32_MAX;
    for (size_t i = 0; i < n && c == UINT32_MAX; i++)
        if (f.prov.body[dx_pair(ids[i], ENG_CH_EMAIL)])
            c = ids[i];
    free(ids);
    assert_true(c != UINT32_MAX);
    const char *t = strstr(f.prov.body[dx_pair(c, ENG_CH_EMAIL)], "?t=");
    assert_non_null(t);
    char token[300];
    snprintf(token, sizeof token, "%s", t + 3);
    /* Altered: another customer, another channel, a flipped MAC digit; forged; another org. */
    char bad[320];
    int reachable;
    eng_unsubscribe_info info = {.version = ENG_UNSUBSCRIBE_INFO_VERSION};
    snprintf(bad, sizeof bad, "%s", token);
    char *dot = strchr(strchr(bad, '.') + 1, '.');
    dot[-1] = dot[-1] == '1' ? '2' : '1'; /* last digit of the customer id */
    assert_int_equal(eng_unsubscribe_apply(f.e, "acme", bad, &info), ENG_EDENIED);
    snprintf(bad, sizeof bad, "%s", token);
    bad[strlen(bad) - 1] = bad[strlen(bad) - 1] == 'a' ? 'b' : 'a';
    assert_int_equal(eng_unsubscribe_apply(f.e, "acme", bad, &info), ENG_EDENIED);
    assert_int_equal(eng_unsubscribe_apply(f.e, "other", token, &info), ENG_EDENIED);
    assert_int_equal(eng_unsubscribe_apply(f.e, "acme", "1.2.1.61636d65.0000", &info), ENG_EINVAL);
    assert_int_equal(eng_unsubscribe_apply(f.e, "acme", "garbage", &info), ENG_EINVAL);
    snprintf(bad, sizeof bad, "%s", token);
    memset(strrchr(bad, '.') + 1, '0', 64);
    assert_int_equal(eng_unsubscribe_apply(f.e, "acme", bad, &info), ENG_EDENIED);
    assert_int_equal(eng_customer_reachable(f.e, "root", c, ENG_CH_EMAIL, &reachable), ENG_OK);
    assert_int_equal(reachable, 1); /* nothing recorded */
    /* The real one. */
    assert_int_equal(eng_unsubscribe_apply(f.e, "acme", token, &info), ENG_OK);
    assert_int_equal(info.customer, c);
    assert_int_equal(info.channel, ENG_CH_EMAIL);
    assert_int_equal(info.campaign, f.campaign);
    assert_int_equal(eng_customer_reachable(f.e, "root", c, ENG_CH_EMAIL, &reachable), ENG_OK);
    assert_int_equal(reachable, 0);
    assert_int_equal(eng_unsubscribe_apply(f.e, "acme", token, NULL), ENG_OK); /* again: harmless */
    /* A new secret voids old links. */
    assert_int_equal(eng_unsubscribe_setup(f.e, "root", "https://acme.example/u?x=1", "another-secret-16b", 18),
                     ENG_OK);
    assert_int_equal(eng_unsubscribe_apply(f.e, "acme", token, NULL), ENG_EDENIED);
    assert_int_equal(eng_unsubscribe_setup(f.e, "root", "ftp://x", "another-secret-16b", 18), ENG_EINVAL);
    assert_int_equal(eng_unsubscribe_setup(f.e, "root", "https://x", "short", 5), ENG_EINVAL);
    assert_int_equal(eng_unsubscribe_setup(f.e, "ann", "https://x", "another-secret-16b", 18), ENG_EDENIED);
    dx_close(&f);
}

static void refused_without_setup(void **state)
{
    (void)state;
    dx f;
    dx_no_unsubscribe_setup = 1;
    dx_world(&f, 20, 16, 1, 1);
    dx_no_unsubscribe_setup = 0;
    eng_message_spec m = dx_message();
    dx_approve(&f, &m);
    eng_run_report rep = ENG_RUN_REPORT_INIT;
    assert_int_equal(eng_run_due(f.e, "root", f.t0, NULL, &rep), ENG_OK);
    assert_int_equal(rep.refused, 1);
    assert_int_equal(f.prov.envelopes, 0);
    eng_execution_info x = {.version = ENG_EXECUTION_INFO_VERSION};
    assert_int_equal(eng_execution_get(f.e, "root", f.message, 0, &x), ENG_OK);
    assert_int_equal(x.state, ENG_EXEC_REFUSED);
    assert_non_null(strstr(x.reason, "unsubscribe"));
    /* Refused for good: later calls do not try again. */
    assert_int_equal(eng_run_due(f.e, "root", f.t0 + ENG_DAY, NULL, &rep), ENG_OK);
    assert_int_equal(rep.executions, 0);
    dx_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hmac_rfc4231),
        cmocka_unit_test(link_round_trip),
        cmocka_unit_test(refused_without_setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
