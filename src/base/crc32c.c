#include "base/hash.h"

/* Slicing-by-8 table-driven CRC32C; tables built once at first use. */
static uint32_t table[8][256];
static int table_ready;

static void build_table(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            table[t][i] = (table[t - 1][i] >> 8) ^ table[0][table[t - 1][i] & 0xff];
    __atomic_store_n(&table_ready, 1, __ATOMIC_RELEASE);
}

uint32_t eng__crc32c_sw(uint32_t crc, const void *data, size_t len)
{
    /* Building twice from two threads is harmless: both write identical values. */
    if (!__atomic_load_n(&table_ready, __ATOMIC_ACQUIRE))
        build_table();
    const uint8_t *p = data;
    crc = ~crc;
    while (len && ((uintptr_t)p & 7)) {
        crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xff];
        len--;
    }
    while (len >= 8) {
        uint32_t lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
        uint32_t hi = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
        crc = table[7][lo & 0xff] ^ table[6][(lo >> 8) & 0xff] ^ table[5][(lo >> 16) & 0xff] ^
              table[4][lo >> 24] ^ table[3][hi & 0xff] ^ table[2][(hi >> 8) & 0xff] ^
              table[1][(hi >> 16) & 0xff] ^ table[0][hi >> 24];
        p += 8;
        len -= 8;
    }
    while (len--)
        crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xff];
    return ~crc;
}

/* The SSE4.2 crc32 instruction computes the same CRC32C (Castagnoli) about ten
 * times faster; chosen at run time so the library still runs on any x86-64. */
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#include <nmmintrin.h>

/* a(x) * b(x) modulo the CRC32C polynomial, bit-reflected (as in zlib's
 * crc32_combine): used to join CRCs of blocks computed side by side. */
static uint32_t crc_mulmod(uint32_t a, uint32_t b)
{
    uint32_t m = 1u << 31, p = 0;
    for (;;) {
        if (a & m) {
            p ^= b;
            if ((a & (m - 1)) == 0)
                break;
        }
        m >>= 1;
        b = b & 1 ? (b >> 1) ^ 0x82F63B78u : b >> 1;
    }
    return p;
}

/* x^(8 n) modulo the polynomial: shifts a CRC register past n zero bytes. */
static uint32_t crc_shift_op(size_t n)
{
    uint32_t p = 1u << 31, b = 1u << 30; /* 1 and x */
    for (uint64_t e = (uint64_t)n * 8; e; e >>= 1) {
        if (e & 1)
            p = crc_mulmod(b, p);
        b = crc_mulmod(b, b);
    }
    return p;
}

/* Bytes per stream when three streams run side by side: the crc32
 * instruction has a latency of three cycles and a throughput of one, so
 * three independent chains run about three times faster than one. */
#define CRC_BLK 4096

__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t crc, const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t c = ~crc;
    while (len && ((uintptr_t)p & 7)) {
        c = _mm_crc32_u8((uint32_t)c, *p++);
        len--;
    }
    if (len >= 3 * CRC_BLK) {
        /* The register after block B from state s is shift(s) ^ crc(0, B). */
        uint32_t op = crc_shift_op(CRC_BLK);
        while (len >= 3 * CRC_BLK) {
            uint64_t c1 = 0, c2 = 0;
            for (size_t k = 0; k < CRC_BLK; k += 8) {
                uint64_t w0, w1, w2;
                __builtin_memcpy(&w0, p + k, 8);
                __builtin_memcpy(&w1, p + CRC_BLK + k, 8);
                __builtin_memcpy(&w2, p + 2 * CRC_BLK + k, 8);
                c = _mm_crc32_u64(c, w0);
                c1 = _mm_crc32_u64(c1, w1);
                c2 = _mm_crc32_u64(c2, w2);
            }
            c = crc_mulmod(op, (uint32_t)c) ^ (uint32_t)c1;
            c = crc_mulmod(op, (uint32_t)c) ^ (uint32_t)c2;
            p += 3 * CRC_BLK;
            len -= 3 * CRC_BLK;
        }
    }
    while (len >= 8) {
        uint64_t w;
        __builtin_memcpy(&w, p, 8);
        c = _mm_crc32_u64(c, w);
        p += 8;
        len -= 8;
    }
    while (len--)
        c = _mm_crc32_u8((uint32_t)c, *p++);
    return ~(uint32_t)c;
}

static int have_hw(void)
{
    static int cached = -1; /* racing first calls compute the same answer */
    int v = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (v < 0) {
        __builtin_cpu_init();
        v = __builtin_cpu_supports("sse4.2") ? 1 : 0;
        __atomic_store_n(&cached, v, __ATOMIC_RELAXED);
    }
    return v;
}

uint32_t eng__crc32c(uint32_t crc, const void *data, size_t len)
{
    return have_hw() ? crc32c_hw(crc, data, len) : eng__crc32c_sw(crc, data, len);
}
#else
uint32_t eng__crc32c(uint32_t crc, const void *data, size_t len)
{
    return eng__crc32c_sw(crc, data, len);
}
#endif
