/* The text of a receipt key (events/keytail.h, events/keymap.c: eng__key_tail_after,
 * its customer's digits eight at a time and its channel from the key's end;
 * eng__key_tail, eng__key_parse) and channel names (base/channel.c, eng__channel_find:
 * a table by length and first letter; eng__channel_at_end: by a hash of the last four
 * bytes, compared by bytes or by two words), each against a plain reference written
 * here: digits one at a time, numbers' bounds compared as text, names compared one by
 * one, the last '/' found by a scan. Both the eight-digit and the byte-at-a-time paths
 * run wherever the test runs. Keys of every number of digits (0 to 12), leading zeros,
 * values around 2^32, a byte other than a digit at every place (bytes of every value,
 * those that carry when 6 is added among them, NUL), every length the key is cut to;
 * names of every channel, each byte of each changed, cut and extended; whole keys with
 * fields at and past their bounds, wrong separators and channel names, non-ASCII and
 * NUL bytes, bytes changed, dropped and added. Then receipts of such keys through
 * eng_touch_append: each matched exactly when it is a key some send was written with. */
#include "ev_fixture.h"
#include "events/ev_state.h"
#include "events/keytail.h"
#include "events/keypar.h"
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

/* The channel after the last '/' of k[0, len), its name's length in *n; -1: none. */
static int ref_at_end(const char *k, size_t len, size_t *n)
{
    size_t s = len;
    while (s > 0 && k[s - 1] != '/')
        s--;
    if (s == 0)
        return -1;
    *n = len - s;
    return ref_channel(k + s, len - s);
}

/* k[0, n) is a canonical decimal number of at most the value max (as text). */
static int ref_num(const char *k, size_t n, const char *max)
{
    size_t ml = strlen(max);
    for (size_t i = 0; i < n; i++)
        if (k[i] < '0' || k[i] > '9')
            return 0;
    return n >= 1 && (n == 1 || k[0] != '0') && (n < ml || (n == ml && memcmp(k, max, n) <= 0));
}

/* The number of digits ending at *e, preceded by sep; *e moves before sep. */
static int ref_field(const char *k, size_t *e, const char *max, const char *sep, uint64_t *v)
{
    size_t b = *e, sl = strlen(sep);
    while (b > 0 && k[b - 1] >= '0' && k[b - 1] <= '9')
        b--;
    if (!ref_num(k + b, *e - b, max) || b < sl || memcmp(k + b - sl, sep, sl))
        return 0;
    char buf[32];
    memcpy(buf, k + b, *e - b);
    buf[*e - b] = 0;
    *v = strtoull(buf, NULL, 10);
    *e = b - sl;
    return 1;
}

#define U32MAX "4294967295"
#define I64MAX "9223372036854775807"
#define U64MAX "18446744073709551615"

/* eng__key_tail's reference: where the customer's digits start, 0: not of that form. */
static size_t ref_key_tail(const char *k, size_t len, uint32_t *customer, uint8_t *channel)
{
    size_t n = 0, e = 0;
    int ch = ref_at_end(k, len, &n);
    uint64_t cu;
    if (ch >= 0)
        e = len - n - 1;
    if (ch < 0 || !ref_field(k, &e, U32MAX, "/u", &cu))
        return 0;
    *customer = (uint32_t)cu;
    *channel = (uint8_t)ch;
    return e + 2;
}

/* eng__key_parse's reference: <org>/c<u64>/m<u64>.<i64>/o<u32>/u<u32>/<channel>. */
static int ref_parse(const char *k, size_t len, eng__keyparts *p)
{
    size_t n = 0, e;
    int ch = ref_at_end(k, len, &n);
    uint64_t cu, occ, ver, msg, camp;
    if (ch < 0)
        return 0;
    e = len - n - 1;
    if (!ref_field(k, &e, U32MAX, "/u", &cu) || !ref_field(k, &e, U32MAX, "/o", &occ) ||
        !ref_field(k, &e, I64MAX, ".", &ver) || !ref_field(k, &e, U64MAX, "/m", &msg) ||
        !ref_field(k, &e, U64MAX, "/c", &camp) || e == 0)
        return 0;
    p->org = k;
    p->orglen = e;
    p->ctx = (eng__ctxkey){camp, msg, (uint32_t)(ver / 1000), (uint32_t)occ};
    p->customer = (uint32_t)cu;
    p->channel = (uint8_t)ch;
    return 1;
}

static size_t checked, matched, parsed, is_tails;

/* k[0, len) through every function against its reference (a copy of exactly len bytes: a
 * read past them is ASan's to see); plen: the prefix eng__key_tail_after is given. */
static void check_all(const char *k0, size_t len, size_t plen)
{
    char *k = malloc(len ? len : 1);
    memcpy(k, k0, len);
    uint32_t cu = 0, rcu = 0;
    uint8_t ch = 0, rch = 0;
    size_t n = 0, rn = 0;
    if (plen <= len) {
        size_t want = ref_tail(k, len, plen, &rcu, &rch);
        for (int swar = 0; swar < 2; swar++) { /* the eight-digit path and the portable one */
            cu = 0, ch = 0;
            size_t got = swar ? eng__key_tail_after(k, len, plen, &cu, &ch) : eng__key_tail_at(k, len, plen, &cu, &ch, 0);
            assert_int_equal(got, want);
            if (want) {
                assert_int_equal(cu, rcu);
                assert_int_equal(ch, rch);
            }
        }
        matched += want != 0;
        /* a `sent` row's key against its customer and channel (eng__key_is_tail): the key's
         * own, when it has them, and others near them */
        if (plen < len) {
            uint32_t cus[] = {rcu, rcu + 1, rcu - 1, rcu / 10, rcu * 10, rcu ^ 0x100, rcu + 10000000, rcu - 10000000, 0, 99999999, 100000000};
            for (size_t c = 0; c < sizeof cus / sizeof *cus; c++)
                for (int d = 0; d < 3; d++) {
                    uint8_t chn = (uint8_t)((rch + d) % ENG_CH_COUNT);
                    int is = want && cus[c] == rcu && chn == rch;
                    assert_int_equal(eng__key_is_tail(k, len, plen, cus[c], chn), is);
                    is_tails += is;
                }
        }
    }
    /* the channel from the end: both ways, and the one that picks */
    int want = ref_at_end(k, len, &rn);
    assert_int_equal(eng__channel_at_end_bytes(k, len, &n), want);
    if (want >= 0)
        assert_int_equal(n, rn);
    if (len >= 16) {
        n = 0;
        assert_int_equal(eng__channel_at_end_words(k, len, &n), want);
        if (want >= 0)
            assert_int_equal(n, rn);
    }
    assert_int_equal(eng__channel_at_end(k, len, &n), want);
    /* the customer and channel from the end, and the whole key */
    size_t wt = ref_key_tail(k, len, &rcu, &rch), gt = eng__key_tail(k, len, &cu, &ch);
    assert_int_equal(gt, wt);
    if (wt) {
        assert_int_equal(cu, rcu);
        assert_int_equal(ch, rch);
    }
    eng__keyparts a, b;
    int wp = ref_parse(k, len, &b), gp = eng__key_parse(k, len, &a);
    assert_int_equal(gp, wp);
    if (wp) {
        assert_int_equal(a.orglen, b.orglen);
        assert_true(a.org == k);
        assert_true(a.ctx.campaign == b.ctx.campaign && a.ctx.message == b.ctx.message);
        assert_int_equal(a.ctx.version, b.ctx.version);
        assert_int_equal(a.ctx.occurrence, b.ctx.occurrence);
        assert_int_equal(a.customer, b.customer);
        assert_int_equal(a.channel, b.channel);
        parsed++;
    }
    checked++;
    free(k);
}

/* k[0, len) (prefix plen) cut to every length. */
static void check_key(const char *k, size_t len, size_t plen)
{
    for (size_t n = 0; n <= len; n++)
        check_all(k, n, n >= plen ? plen : n);
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
    /* every 8th key with a byte changed at each place; every 32nd under valgrind and TSan, where these
     * ~1.6 million checks were most of the test's time (the keys' own checks stay whole) */
    size_t every = test_slow_runtime() ? 32 : 8;
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
        for (size_t at = plen; at < len && x % every == 0; at++)
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
    assert_true(is_tails > 1000);
}

/* eng__dec_len and eng__dec8 (a `sent` row's number written) against snprintf: every power
 * of ten and its neighbours, and random values of every length. */
static void numbers_written(void **st)
{
    (void)st;
    uint64_t rng = 11;
    char buf[16];
    for (int x = 0; x < 200000; x++) {
        uint32_t v;
        if (x < 40) {
            uint32_t p = 1;
            for (int e = 0; e < x / 4 && p <= UINT32_MAX / 10; e++)
                p *= 10;
            v = p + (uint32_t)(x % 4) - 2;
        } else {
            uint64_t r = test_splitmix(&rng);
            v = (uint32_t)(r >> 32) >> (r % 32);
        }
        size_t n = (size_t)snprintf(buf, sizeof buf, "%u", v);
        assert_int_equal(eng__dec_len(v), n);
        if (v < 100000000) {
            snprintf(buf, sizeof buf, "%08u", v);
            uint64_t want, got = eng__dec8(v);
            memcpy(&want, buf, 8);
            if (ENG__KEY_SWAR)
                assert_true(got == want);
        }
    }
    assert_int_equal(eng__dec_len(0), 1);
    assert_int_equal(eng__dec_len(UINT32_MAX), 10);
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

/* ---- whole keys ---- */

static const char *const nums[] = {"0", "1", "9", "10", "00", "01", "007", "4294967295", "4294967296", "04294967295",
                                   "99999999999", "9223372036854775807", "9223372036854775808", "18446744073709551615",
                                   "18446744073709551616", "99999999999999999999", "123456789012345678901234", ""};
static const char *const orgs[] = {"acme", "a", "", "a/c1", "x/u7", "ac.me", "\xc3\xa9t\xc3\xa9", "o/c1/m2.3/o4", "/"};
static const char *const bad_names[] = {"", "Email", "emai", "emails", "e-mail", "sms/", "smss", "ms", "whatsap",
                                        "whatsappp", "instagra", "instagramm", "youtube\x80", "\xff\xfe\xfd\xfc",
                                        "lin e", "/sms", "ail", "sapp", "gram", "wechat\xff", "SMS"};

typedef struct kbuf {
    char b[256];
    size_t n;
} kbuf;

static void put(kbuf *k, const char *s, size_t n)
{
    for (size_t i = 0; i < n && k->n < sizeof k->b; i++)
        k->b[k->n++] = s[i];
}

static void puts_(kbuf *k, const char *s)
{
    put(k, s, strlen(s));
}

/* A number: one of nums, or random digits: mostly 1 to 9 of them, canonical; now and then
 * up to 22, or a leading zero. */
static void put_num(kbuf *k, uint64_t *rng)
{
    uint64_t r = test_splitmix(rng);
    if (r % 4 == 0) {
        puts_(k, nums[(r >> 8) % (sizeof nums / sizeof *nums)]);
        return;
    }
    size_t nd = 1 + (r >> 8) % (r % 8 == 1 ? 22 : 9);
    for (size_t i = 0; i < nd; i++) {
        char d = (char)('0' + test_splitmix(rng) % 10);
        if (i == 0 && nd > 1 && d == '0' && r % 16 != 3)
            d = '1';
        put(k, &d, 1);
    }
}

/* The separator sep, or now and then a wrong one. */
static void put_sep(kbuf *k, const char *sep, uint64_t *rng)
{
    static const struct {
        const char *s;
        size_t n;
    } wrong[] = {{"/x", 2}, {"c", 1}, {"/", 1}, {"//c", 3}, {".", 1}, {"/U", 2}, {"/u/", 3}, {"\0u", 2} /* a NUL */, {"", 0}};
    uint64_t r = test_splitmix(rng);
    if (r % 16 == 0) {
        size_t w = (r >> 8) % (sizeof wrong / sizeof *wrong);
        put(k, wrong[w].s, wrong[w].n);
    } else
        puts_(k, sep);
}

/* A byte changed (any value, NUL included), dropped, added, the key cut, digits added. */
static void mutate(kbuf *k, uint64_t *rng)
{
    uint64_t r = test_splitmix(rng);
    size_t at = k->n ? (size_t)(r >> 8) % k->n : 0;
    switch (r % 5) {
    case 0:
        if (k->n)
            k->b[at] = (char)(r >> 40);
        break;
    case 1:
        if (k->n) {
            memmove(k->b + at, k->b + at + 1, k->n - at - 1);
            k->n--;
        }
        break;
    case 2:
        if (k->n < sizeof k->b) {
            memmove(k->b + at + 1, k->b + at, k->n - at);
            k->b[at] = (char)(r >> 40);
            k->n++;
        }
        break;
    case 3:
        k->n = at;
        break;
    default:
        if (k->n < sizeof k->b) { /* a digit more right before the channel's '/' */
            size_t s = k->n;
            while (s > 0 && k->b[s - 1] != '/')
                s--;
            if (s > 0) {
                memmove(k->b + s, k->b + s - 1, k->n - s + 1);
                k->b[s - 1] = (char)('0' + (r >> 40) % 10);
                k->n++;
            }
        }
    }
}

/* A key of the dispatcher's form with fields drawn from the bounds' neighbourhoods, wrong
 * separators and channel names now and then; *plen: where its customer's digits start. */
static void gen_key(kbuf *k, uint64_t *rng, size_t *plen)
{
    uint64_t r = test_splitmix(rng);
    k->n = 0;
    puts_(k, orgs[r % (sizeof orgs / sizeof *orgs)]);
    put_sep(k, "/c", rng);
    put_num(k, rng);
    put_sep(k, "/m", rng);
    put_num(k, rng);
    put_sep(k, ".", rng);
    put_num(k, rng);
    put_sep(k, "/o", rng);
    put_num(k, rng);
    put_sep(k, "/u", rng);
    *plen = k->n;
    put_num(k, rng);
    put_sep(k, "/", rng);
    if ((r >> 8) % 8 == 0)
        puts_(k, bad_names[(r >> 12) % (sizeof bad_names / sizeof *bad_names)]);
    else
        puts_(k, eng_channel_name((int)((r >> 12) % ENG_CH_COUNT)));
    for (uint64_t m = (r >> 20) % 4; m == 1 || m == 2; m = 0) /* a quarter mutated once, a quarter twice */
        for (uint64_t t = 0; t < m; t++)
            mutate(k, rng);
}

static void whole_keys(void **st)
{
    (void)st;
    uint64_t rng = 11;
    kbuf k;
    size_t before = parsed, cut = 0;
    for (int x = 0; x < 40000; x++) {
        size_t plen;
        gen_key(&k, &rng, &plen);
        check_all(k.b, k.n, plen <= k.n ? plen : k.n);
        if (x % 64 == 0) {
            check_key(k.b, k.n, plen <= k.n ? plen : k.n);
            cut++;
        }
    }
    /* the references accept a good share and refuse a good share */
    assert_true(parsed - before > 2000 && parsed - before < 36000);
    assert_true(cut > 100);
}

/* The channels' tables against their names: each name's hash slot holds it, no slot holds
 * a name whose hash is elsewhere; tails and lengths. */
static void channel_tables(void **st)
{
    (void)st;
    for (int c = 0; c < ENG_CH_COUNT; c++) {
        const char *name = eng_channel_name(c);
        size_t n = strlen(name);
        char k[32];
        snprintf(k, sizeof k, "x/%s", name);
        assert_int_equal(eng__channel_lens[c], n);
        assert_int_equal(eng__channel_candidate(k, n + 2), c);
        for (size_t i = 0; i < 32; i++)
            assert_int_equal(eng__channel_tails[c][i], i < 16 ? 0 : i == 16 ? '/' : i <= 16 + n ? name[i - 17] : 0);
    }
    for (size_t s = 0; s < 16; s++)
        if (eng__channel_by_tail[s]) {
            int c = eng__channel_by_tail[s] - 1;
            char k[32];
            size_t n = (size_t)snprintf(k, sizeof k, "x/%s", eng_channel_name(c));
            assert_int_equal(eng__channel_candidate(k, n), c);
        }
}

/* eng__key_same against memcmp: every length to 40, a byte changed at every place. */
static void prefixes(void **st)
{
    (void)st;
    char a[48], b[48];
    for (size_t i = 0; i < sizeof a; i++)
        a[i] = (char)('a' + i % 26);
    for (size_t n = 0; n <= 40; n++)
        for (size_t at = 0; at < n + 1 && at < sizeof b; at++)
            for (int v = 0; v < 256; v += 85) {
                memcpy(b, a, sizeof b);
                b[at] = (char)(b[at] ^ v);
                char *x = malloc(n ? n : 1), *y = malloc(n ? n : 1);
                memcpy(x, a, n), memcpy(y, b, n);
                assert_int_equal(eng__key_same(x, y, n), !memcmp(x, y, n));
                free(x), free(y);
            }
}

/* ---- receipts of such keys ---- */

#define HCUST 300
#define HMAX 4096
static struct hkey {
    char key[272];
    int sent;
    unsigned stored, waiting;
} hk[HMAX];
static size_t nhk;

static struct hkey *hkey_of(const char *k)
{
    for (size_t i = 0; i < nhk; i++)
        if (!strcmp(hk[i].key, k))
            return &hk[i];
    assert_true(nhk < HMAX);
    struct hkey *m = &hk[nhk++];
    memset(m, 0, sizeof *m);
    size_t n = strlen(k);
    assert_true(n < sizeof m->key);
    memcpy(m->key, k, n + 1);
    return m;
}

static void hsend(evfx *f, uint64_t campaign, uint32_t lo, uint32_t hi, int ch)
{
    evfx_send(f, "acme", campaign, lo, hi, ch, 1000 * (eng_time)campaign);
    for (uint32_t c = lo; c < hi; c++) {
        char k[64];
        evfx_key(k, sizeof k, campaign, 0, c, ch);
        hkey_of(k)->sent = 1;
    }
}

typedef struct hout {
    size_t idx[1024], n;
} hout;

static void hnote(size_t index, const char *key, void *user)
{
    (void)key;
    hout *o = user;
    if (o->n < 1024)
        o->idx[o->n++] = index;
}

/* Receipts whose keys are the sends' own, or those changed (a byte, a digit more, a wrong
 * channel name, a cut, a byte of any value: a NUL ends the key there): each matched when
 * it is a key some send was written with, reported unmatched (and by index) otherwise;
 * the same at threads 0 and 1 with batches split. A key too long refuses its batch, by
 * its row. */
static void receipts_of_hostile_keys(void **st)
{
    (void)st;
    size_t keep = eng__keypar_min_rows;
    eng__keypar_min_rows = 4;
    for (unsigned threads = 0; threads < 2; threads++) {
        evfx f;
        uint64_t rng = 5;
        nhk = 0;
        evfx_open(&f, HCUST);
        f.e->threads = threads;
        hsend(&f, 1, 0, 200, ENG_CH_EMAIL);
        hsend(&f, 1, 200, 260, ENG_CH_WHATSAPP);
        hsend(&f, 2, 0, 100, ENG_CH_SMS);
        hsend(&f, 2, 100, 150, ENG_CH_LINE);
        enum { N = 500 };
        static kbuf kb[N];
        const char *keys[N];
        static char zs[N][260];
        int sts[N];
        eng_time ts[N];
        size_t accepted = 0, unmatched = 0;
        for (int b = 0; b < 3; b++) {
            size_t want[N], nw = 0;
            uint64_t acc = 0, dup = 0, un = 0;
            for (size_t i = 0; i < N; i++) {
                uint64_t x = test_splitmix(&rng);
                uint32_t cu = (uint32_t)(x % 320);
                uint64_t camp = 1 + (x >> 10) % 2;
                /* mostly the send's channel */
                int ch = camp == 1 ? (cu < 200 ? ENG_CH_EMAIL : ENG_CH_WHATSAPP) : cu < 100 ? ENG_CH_SMS : ENG_CH_LINE;
                if ((x >> 12) % 4 == 0)
                    ch = (int)((x >> 14) % ENG_CH_COUNT);
                char k[64];
                evfx_key(k, sizeof k, camp, 0, cu, ch);
                kb[i].n = 0;
                puts_(&kb[i], k);
                for (uint64_t m = (x >> 20) % 4; m > 0 && m < 3; m--) /* half of them changed */
                    mutate(&kb[i], &rng);
                memcpy(zs[i], kb[i].b, kb[i].n);
                zs[i][kb[i].n] = 0;
                if (!zs[i][0]) /* an empty key refuses the batch: not this test's */
                    zs[i][0] = 'z', zs[i][1] = 0;
                keys[i] = zs[i];
                sts[i] = (x >> 30) % 3 == 0 ? ENG_TOUCH_DELIVERED : (x >> 30) % 3 == 1 ? ENG_TOUCH_OPENED : ENG_TOUCH_CLICKED;
                ts[i] = 5000 + (eng_time)i;
                struct hkey *m = hkey_of(zs[i]);
                unsigned *set = m->sent ? &m->stored : &m->waiting;
                if (!m->sent)
                    want[nw++] = i;
                if (*set >> sts[i] & 1)
                    dup++;
                else {
                    *set |= 1u << sts[i];
                    m->sent ? acc++ : un++;
                }
            }
            hout o = {.n = 0};
            eng_receipts r = evfx_receipts(N, keys, sts, ts, NULL);
            r.unmatched_fn = hnote;
            r.unmatched_user = &o;
            eng_event_report rep = ENG_EVENT_REPORT_INIT;
            assert_int_equal(eng_touch_append(f.e, &r, &rep), ENG_OK);
            assert_int_equal(rep.accepted, acc);
            assert_int_equal(rep.duplicates, dup);
            assert_int_equal(rep.unmatched, un);
            assert_int_equal(o.n, nw);
            for (size_t q = 0; q < nw; q++)
                assert_int_equal(o.idx[q], want[q]);
            accepted += acc, unmatched += un;
        }
        assert_true(accepted > 200 && unmatched > 300);
        /* a key of 1025 bytes: the batch refused by that row, nothing stored */
        static char longk[1026];
        memset(longk, 'a', 1025);
        keys[17] = longk;
        eng_receipts r = evfx_receipts(N, keys, sts, ts, NULL);
        eng_event_report rep = ENG_EVENT_REPORT_INIT;
        assert_int_equal(eng_touch_append(f.e, &r, &rep), ENG_EINVAL);
        assert_string_equal(eng_error_last()->detail, "receipts[17].keys");
        evfx_close(&f);
    }
    eng__keypar_min_rows = keep;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(channels),
        cmocka_unit_test(tails),
        cmocka_unit_test(numbers_written),
        cmocka_unit_test(channel_tables),
        cmocka_unit_test(prefixes),
        cmocka_unit_test(whole_keys),
        cmocka_unit_test(receipts_of_hostile_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
