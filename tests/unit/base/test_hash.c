#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/hash.h"
#include "base/simd.h"
#include "test_util.h"

static void crc32c_known_vectors(void **s)
{
    (void)s;
    /* RFC 3720 B.4 and the common "123456789" check value. */
    assert_int_equal(eng__crc32c(0, "123456789", 9), 0xE3069283u);
    uint8_t zeros[32] = {0}, ones[32], inc[32];
    memset(ones, 0xff, 32);
    for (int i = 0; i < 32; i++)
        inc[i] = (uint8_t)i;
    assert_int_equal(eng__crc32c(0, zeros, 32), 0x8A9136AAu);
    assert_int_equal(eng__crc32c(0, ones, 32), 0x62A8AB43u);
    assert_int_equal(eng__crc32c(0, inc, 32), 0x46DD794Eu);
}

static void crc32c_chains_and_unaligned(void **s)
{
    (void)s;
    uint8_t buf[1000];
    for (int i = 0; i < 1000; i++)
        buf[i] = (uint8_t)(i * 7 + 3);
    uint32_t whole = eng__crc32c(0, buf, sizeof buf);
    for (size_t cut = 0; cut <= 1000; cut += 37)
        assert_int_equal(eng__crc32c(eng__crc32c(0, buf, cut), buf + cut, 1000 - cut), whole);
    /* bitwise reference on an unaligned start */
    uint32_t c = ~0u;
    for (int i = 3; i < 1000; i++) {
        c ^= buf[i];
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    }
    assert_int_equal(eng__crc32c(0, buf + 3, 997), ~c);
}

static void sha256_vectors(void)
{
    uint8_t d[32];
    char hex[65];
    eng__sha256("", 0, d);
    eng__hex(d, 32, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    eng__sha256("abc", 3, d);
    eng__hex(d, 32, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    eng__sha256(two, strlen(two), d);
    eng__hex(d, 32, hex);
    assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    /* one million 'a', fed in odd-sized pieces */
    eng__sha256_ctx ctx;
    eng__sha256_init(&ctx);
    char a[997];
    memset(a, 'a', sizeof a);
    size_t left = 1000000;
    while (left) {
        size_t n = left < sizeof a ? left : sizeof a;
        eng__sha256_update(&ctx, a, n);
        left -= n;
    }
    eng__sha256_final(&ctx, d);
    eng__hex(d, 32, hex);
    assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

/* The known vectors at each instruction-set level (the CPU's SHA extensions unless the
 * scalar level is forced), and messages of every length to 300 bytes, fed whole and in
 * pieces, hashing the same at both. */
static void sha256_known_vectors(void **s)
{
    (void)s;
    uint8_t msg[300], one[300][32];
    uint64_t seed = 5;
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (uint8_t)test_splitmix(&seed);
    for (int level = ENG__ISA_SCALAR; level <= ENG__ISA_AVX2; level++) {
        if (eng__isa_force(level) != level)
            continue;
        sha256_vectors();
        for (size_t n = 0; n < sizeof msg; n++) {
            uint8_t d[32], e[32];
            eng__sha256(msg, n, d);
            eng__sha256_ctx ctx;
            eng__sha256_init(&ctx);
            for (size_t at = 0, k = 1; at < n; at += k, k = k * 3 % 131 + 1)
                eng__sha256_update(&ctx, msg + at, n - at < k ? n - at : k);
            eng__sha256_final(&ctx, e);
            assert_memory_equal(d, e, 32);
            if (level == ENG__ISA_SCALAR)
                memcpy(one[n], d, 32);
            else
                assert_memory_equal(d, one[n], 32);
        }
    }
    eng__isa_force(-1);
}

static void hash64_is_stable_and_spreads(void **s)
{
    (void)s;
    /* Stable across runs: the split of customers depends on it. */
    uint64_t h1 = eng__hash64("customer-42", 11, 7), h2 = eng__hash64("customer-42", 11, 7);
    assert_true(h1 == h2);
    assert_true(eng__hash64("customer-42", 11, 8) != h1);
    assert_true(eng__hash64("customer-43", 11, 7) != h1);
    /* Rough uniformity: low bit balanced over 10000 keys within 5 sigma. */
    int ones = 0;
    for (uint32_t i = 0; i < 10000; i++)
        ones += (int)(eng__hash64(&i, sizeof i, 1) & 1);
    assert_in_range(ones, 5000 - 250, 5000 + 250);
}

/* Fill buf with an LCG's bytes from state *x (left advanced). */
static void lcg_fill(uint8_t *buf, size_t n, uint64_t *x)
{
    for (size_t i = 0; i < n; i++) {
        *x = *x * 6364136223846793005ull + 1442695040888963407ull;
        buf[i] = (uint8_t)(*x >> 56);
    }
}

/* The hash as defined, a byte at a time: the reference for eng__hash64 and eng__hash64_x4. */
static uint64_t ref_mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static uint64_t ref_hash64(const uint8_t *p, size_t len, uint64_t seed)
{
    uint64_t h = ref_mix(seed ^ len), w = 0;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        w = 0;
        for (size_t b = 0; b < 8; b++)
            w |= (uint64_t)p[i + b] << (8 * b);
        h = ref_mix(h ^ w);
    }
    w = 0;
    for (size_t b = 0; i + b < len; b++)
        w |= (uint64_t)p[i + b] << (8 * b);
    return ref_mix(h ^ w ^ 0xff51afd7ed558ccdull);
}

/* Stored key hashes depend on the values: pinned (computed outside the library),
 * and the four-at-a-time form equals the one-at-a-time form for every mix of
 * lengths (equal, differing by under a word, by several words, empty). */
static void hash64_pinned_and_x4(void **s)
{
    (void)s;
    const char *k = "acme/c1/m10.1000/o0/u5/email";
    assert_true(eng__hash64(k, strlen(k), 0x6b657973) == 0x86d660bd90fb2945ull);
    assert_true(eng__hash64("", 0, 0x6b657973) == 0xdfad473867b4f3d4ull);
    assert_true(eng__hash64("customer-42", 11, 0x6b657973) == 0x5aba38b513200cb5ull);
    uint8_t buf[256 + 64];
    uint64_t x = 0x853c49e6748fea9bull;
    lcg_fill(buf, sizeof buf, &x);
    for (int round = 0; round < 20000; round++) {
        const void *d[4];
        size_t len[4];
        uint64_t out[4];
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        size_t base = (size_t)(x >> 57); /* 0..127 */
        for (int j = 0; j < 4; j++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            int mode = (int)(x >> 62);
            len[j] = mode == 0 ? base : mode == 1 ? base + (x >> 20) % 8 : mode == 2 ? (x >> 20) % 256 : (x >> 20) % 9;
            d[j] = buf + (x >> 40) % 64;
        }
        uint64_t seed = x ^ (uint64_t)round;
        eng__hash64_x4(d, len, seed, out);
        for (int j = 0; j < 4; j++) {
            uint64_t want = ref_hash64(d[j], len[j], seed);
            assert_true(out[j] == want);
            assert_true(eng__hash64(d[j], len[j], seed) == want);
        }
    }
}

/* One page of the LCG's bytes from *x between two unmapped ones (a read outside it faults);
 * munmap(page - pg, 3 pg) when done. */
static uint8_t *guarded_page(long pg, uint64_t *x)
{
    uint8_t *map = mmap(NULL, (size_t)pg * 3, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(map != MAP_FAILED);
    assert_int_equal(mprotect(map, (size_t)pg, PROT_NONE), 0);
    assert_int_equal(mprotect(map + 2 * pg, (size_t)pg, PROT_NONE), 0);
    lcg_fill(map + pg, (size_t)pg, x);
    return map + pg;
}

/* eng__hash64_n in one call over keys of the given lengths at the given places, against the
 * byte-at-a-time reference, a key at a time. */
static void check_n(const uint8_t *const *at, const size_t *len, size_t n, uint64_t seed)
{
    uint64_t out[300];
    assert_true(n <= 300);
    eng__hash64_n((const void *const *)at, len, n, seed, out);
    for (size_t i = 0; i < n; i++)
        if (out[i] != ref_hash64(at[i], len[i], seed))
            fail_msg("key %zu of %zu (length %zu): %016llx, want %016llx", i, n, len[i], (unsigned long long)out[i],
                     (unsigned long long)ref_hash64(at[i], len[i], seed));
}

/* The vector lanes (eight keys a vector at the AVX-512 level, four vectors side
 * by side, the rest four and one at a time) at every level the CPU has: every key length 0..200
 * in every lane position and batch size (so every remainder), lanes of equal lengths, of lengths
 * one word apart, one long key among short ones, and keys that end at the last readable byte
 * before an unmapped page or start at a page's first byte (a read outside a key faults). */
static void hash64_n_every_level(void **s)
{
    (void)s;
    const long pg = sysconf(_SC_PAGESIZE);
    uint64_t x = 0x2545f4914f6cdd1dull;
    uint8_t *page = guarded_page(pg, &x); /* readable: [page, page + pg) */
    int levels = 0;
    for (int level = ENG__ISA_SCALAR; level <= ENG__ISA_AVX512; level++) {
        if (eng__isa_force(level) != level)
            continue;
        levels++;
        const uint8_t *at[300];
        size_t len[300];
        /* every length 0..200, in order and at the page's end / start */
        for (size_t i = 0; i <= 200; i++)
            len[i] = i, at[i] = page + pg - i;
        check_n(at, len, 201, 1);
        for (size_t i = 0; i <= 200; i++)
            at[i] = page;
        check_n(at, len, 201, 2);
        /* batches of every size 0..70 (each remainder), random lengths and places, each length
         * in every lane position */
        for (int round = 0; round < 400; round++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            const size_t n = (size_t)round % 71, base = (size_t)(x >> 57); /* 0..127 */
            const int mode = (int)(x >> 40) % 5;
            for (size_t i = 0; i < n; i++) {
                x = x * 6364136223846793005ull + 1442695040888963407ull;
                size_t l = mode == 0 ? base                                  /* all equal */
                           : mode == 1 ? base + (x >> 20) % 8                /* under a word apart */
                           : mode == 2 ? base + 8 * ((x >> 20) % 3)          /* whole words apart */
                           : mode == 3 ? ((size_t)round * 7 + i * 13) % 201  /* every length over the rounds */
                                       : (x >> 20) % 9;                      /* short */
                len[i] = l;
                at[i] = (x >> 33) & 1 ? page + pg - l : page + (x >> 50) % (size_t)(pg - 200);
            }
            if (n > 3 && round % 3 == 0) /* one long key among them */
                len[n / 2] = 1024 < pg ? 1024 : (size_t)pg, at[n / 2] = page + pg - len[n / 2];
            check_n(at, len, n, x ^ (uint64_t)round);
        }
    }
    assert_true(levels >= 1);
    eng__isa_force(-1);
    munmap(page - pg, (size_t)pg * 3);
}

/* eng__hash64_resume_n, from the state after a key's first whole words (eng__hash64_state),
 * equals the hash from the key's start at every level: every skip of 0..len in whole words,
 * keys of one length sharing their first words (the state computed once for them, as the `sent`
 * rows' keys share their context's prefix), every batch size (each lane remainder), and keys
 * ending at the last readable byte before an unmapped page (the tail is read as the key's last
 * word: a read outside a key faults). */
static void hash64_resumed_every_level(void **s)
{
    (void)s;
    const long pg = sysconf(_SC_PAGESIZE);
    uint64_t x = 0x9e3779b97f4a7c15ull;
    uint8_t *page = guarded_page(pg, &x);
    int levels = 0;
    for (int level = ENG__ISA_SCALAR; level <= ENG__ISA_AVX512; level++) {
        if (eng__isa_force(level) != level)
            continue;
        levels++;
        uint64_t h0[56], out[56];
        const void *at[56];
        size_t rest[56], len[56];
        const uint8_t *key[56];
        uint8_t shared[40]; /* the keys' common first skip bytes */
        for (int round = 0; round < 600; round++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            const size_t n = (size_t)round % 57, skip = 8 * ((x >> 20) % 6);
            lcg_fill(shared, sizeof shared, &x);
            for (size_t i = 0; i < n; i++) {
                x = x * 6364136223846793005ull + 1442695040888963407ull;
                size_t l = skip + (round % 4 == 0 ? (x >> 20) % 8 : (x >> 20) % 24); /* 8..63 */
                l = l < 8 ? 8 : l;
                /* each key in a slot of its own; the last one, every other round, at the page's end */
                uint8_t *k = i + 1 == n && round % 2 ? page + pg - l : page + 64 * (i + 1);
                memcpy(k, shared, skip);
                key[i] = k, len[i] = l;
                h0[i] = eng__hash64_state(shared, skip, l, 7 + (uint64_t)round);
                at[i] = k + skip, rest[i] = l - skip;
            }
            eng__hash64_resume_n(h0, at, rest, n, out);
            for (size_t i = 0; i < n; i++)
                if (out[i] != ref_hash64(key[i], len[i], 7 + (uint64_t)round))
                    fail_msg("level %d round %d key %zu of %zu (length %zu, skip %zu)", level, round, i, n, len[i],
                             skip);
        }
    }
    assert_true(levels >= 1);
    eng__isa_force(-1);
    munmap(page - pg, (size_t)pg * 3);
}

/* The CPU instruction path and the table path agree on random data, lengths, offsets and seeds. */
static void crc32c_hw_matches_table(void **s)
{
    (void)s;
    uint8_t buf[4096 + 16];
    uint64_t x = 0x9E3779B97F4A7C15ull;
    lcg_fill(buf, sizeof buf, &x);
    for (int k = 0; k < 2000; k++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        size_t off = (size_t)(x >> 60), len = (size_t)(x >> 20) % 4096;
        uint32_t seed = (uint32_t)(x >> 8);
        assert_int_equal(eng__crc32c(seed, buf + off, len), eng__crc32c_sw(seed, buf + off, len));
    }
}

/* Long inputs take the three-streams-side-by-side path (blocks of 4096
 * bytes joined by a polynomial multiply): same values as the table path, at
 * and around every block boundary and for any seed and start offset. */
static void crc32c_long_inputs_match_table(void **s)
{
    (void)s;
    static uint8_t buf[65536 + 16];
    uint64_t x = 0x243F6A8885A308D3ull;
    lcg_fill(buf, sizeof buf, &x);
    static const size_t lens[] = {12287, 12288, 12289, 12295, 12296, 24575, 24576, 24577, 36864 + 5, 65536};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++)
        for (size_t off = 0; off < 16; off += 5) {
            uint32_t seed = (uint32_t)(i * 2654435761u + off);
            assert_int_equal(eng__crc32c(seed, buf + off, lens[i]), eng__crc32c_sw(seed, buf + off, lens[i]));
        }
    for (int k = 0; k < 20; k++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        size_t off = (size_t)(x >> 60), len = (size_t)(x >> 20) % 65536;
        uint32_t seed = (uint32_t)(x >> 8);
        assert_int_equal(eng__crc32c(seed, buf + off, len), eng__crc32c_sw(seed, buf + off, len));
    }
    /* and a chain of long pieces equals the whole */
    uint32_t whole = eng__crc32c(0, buf, 65536);
    assert_int_equal(eng__crc32c(eng__crc32c(0, buf, 20000), buf + 20000, 65536 - 20000), whole);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(crc32c_known_vectors),
        cmocka_unit_test(hash64_pinned_and_x4),
        cmocka_unit_test(hash64_n_every_level),
        cmocka_unit_test(hash64_resumed_every_level),
        cmocka_unit_test(crc32c_hw_matches_table),
        cmocka_unit_test(crc32c_long_inputs_match_table),
        cmocka_unit_test(crc32c_chains_and_unaligned),
        cmocka_unit_test(sha256_known_vectors),
        cmocka_unit_test(hash64_is_stable_and_spreads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
