/* The end of a receipt key after its context's prefix (events/keymap.c,
 * eng__key_tail_after: the customer's digits eight bytes at a time) and channel
 * names (base/channel.c, eng__channel_find: a table by length and first letter),
 * each against a plain reference written here: digits one at a time, names
 * compared one by one. Keys of every number of digits (0 to 12), leading zeros,
 * values around 2^32, a byte other than a digit at every place (bytes of every
 * value, those that carry when 6 is added among them), every length the key is
 * cut to; names of every channel, each byte of each changed, cut and extended. */
#include "ev_fixture.h"
#include "events/ev_state.h"
#include "base/channel.h"

static int ref_channel(const char *k, size_t n)
{
    for (int c = 0; c < ENG_CH_COUNT; c++)
        if (strlen(eng_channel_name(c)) == n && !memcmp(eng_channel_name(c), k, n))
            return c;
    return -1;
}

/* The customer's digits (1 to 10, canonical, at most UINT32_MAX) from plen, then '/'
 * and a channel's name to the end. */
static size_t ref_tail(const char *k, size_t len, size_t plen, uint32_t *customer, uint8_t *channel)
{
    size_t i = plen;
    uint64_t v = 0;
    while (i < len && i - plen < 11 && k[i] >= '0' && k[i] <= '9')
        v = v * 10 + (uint64_t)(k[i++] - '0');
    if (i == plen || i - plen > 10 || (k[plen] == '0' && i - plen > 1) || v > UINT32_MAX || i >= len || k[i] != '/')
        return 0;
    int ch = ref_channel(k + i + 1, len - i - 1);
    if (ch < 0)
        return 0;
    *customer = (uint32_t)v;
    *channel = (uint8_t)ch;
    return plen;
}

static size_t checked, matched;

/* k[0, len) (prefix plen) cut to every length, through both. */
static void check_key(const char *k, size_t len, size_t plen)
{
    for (size_t n = plen; n <= len; n++) {
        char *c = malloc(n ? n : 1); /* exactly n bytes: a read past them is ASan's to see */
        memcpy(c, k, n);
        uint32_t cu = 0, rcu = 0;
        uint8_t ch = 0, rch = 0;
        size_t got = eng__key_tail_after(c, n, plen, &cu, &ch), want = ref_tail(c, n, plen, &rcu, &rch);
        assert_int_equal(got, want);
        if (want) {
            assert_int_equal(cu, rcu);
            assert_int_equal(ch, rch);
            matched++;
        }
        checked++;
        free(c);
    }
}

static void tails(void **st)
{
    (void)st;
    const char *pfx = "acme/c1/m10.1000/o0/u";
    size_t plen = strlen(pfx);
    uint64_t rng = 3;
    char k[128], digits[32];
    const char *nums[] = {"0", "00", "01", "7", "10", "4294967295", "4294967296", "9999999999", "04294967295",
                          "12345678", "1234567", "99999999999", "123456789012", "1000000", "9999999"};
    for (size_t x = 0; x < 2000 + sizeof nums / sizeof *nums; x++) {
        if (x < sizeof nums / sizeof *nums) {
            snprintf(digits, sizeof digits, "%s", nums[x]);
        } else { /* 1 to 12 random digits */
            uint64_t r = test_splitmix(&rng);
            size_t nd = 1 + r % 12;
            for (size_t i = 0; i < nd; i++)
                digits[i] = (char)('0' + (test_splitmix(&rng) % 10));
            digits[nd] = 0;
        }
        int chan = (int)(x % ENG_CH_COUNT);
        size_t len = (size_t)snprintf(k, sizeof k, "%s%s/%s", pfx, digits, eng_channel_name(chan));
        check_key(k, len, plen);
        /* a byte of another value at each place after the prefix */
        const unsigned char odd[] = {0, '/', '.', ':', '/' - 1, 'a', 0x80, 0xf9, 0xfa, 0xff, '0' + 10, ' '};
        for (size_t at = plen; at < len && x % 8 == 0; at++)
            for (size_t b = 0; b < sizeof odd; b++) {
                char save = k[at];
                k[at] = (char)odd[b];
                check_key(k, len, plen);
                k[at] = save;
            }
    }
    /* the digits followed by garbage of every byte value right after them */
    for (int b = 0; b < 256; b++) {
        size_t len = (size_t)snprintf(k, sizeof k, "%s%s", pfx, "123456");
        k[len++] = (char)b;
        len += (size_t)snprintf(k + len, sizeof k - len, "/email");
        check_key(k, len, plen);
    }
    assert_true(matched > 1000 && matched < checked);
}

static void channels(void **st)
{
    (void)st;
    char k[32];
    size_t n = 0;
    for (int c = 0; c < ENG_CH_COUNT; c++) {
        const char *name = eng_channel_name(c);
        size_t len = strlen(name);
        assert_int_equal(eng__channel_find(name, len), c);
        memcpy(k, name, len);
        for (size_t cut = 0; cut < len; cut++) /* cut (the prefix only: k is the name) */
            assert_int_equal(eng__channel_find(k, cut), ref_channel(k, cut));
        for (size_t at = 0; at <= len && at < sizeof k - 1; at++) /* each byte changed, or one more */
            for (int b = 0; b < 256; b++) {
                memcpy(k, name, len);
                k[at] = (char)b;
                size_t kl = at == len ? len + 1 : len;
                assert_int_equal(eng__channel_find(k, kl), ref_channel(k, kl));
                n++;
            }
    }
    assert_true(n > 10000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(channels),
        cmocka_unit_test(tails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
