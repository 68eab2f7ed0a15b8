/* The end of a dispatcher's key after its context's prefix, inline for the per-key loops
 * (keypar.c; keymap.c's eng__key_tail_after is the same). Private to src/events. */
#ifndef ENG_EVENTS_KEYTAIL_H
#define ENG_EVENTS_KEYTAIL_H

#include "base/channel.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Eight digits at a time where the bytes load in little-endian order; the byte loop
 * elsewhere (and in the tests, which run both). */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define ENG__KEY_SWAR 1
#else
#define ENG__KEY_SWAR 0
#endif

/* a[0, n) equals b[0, n): eight bytes at a time, the last eight overlapping (a key's
 * prefix, some twenty bytes: no call to memcmp). */
static inline int eng__key_same(const char *a, const char *b, size_t n)
{
    if (n < 8) {
        for (size_t i = 0; i < n; i++)
            if (a[i] != b[i])
                return 0;
        return 1;
    }
    uint64_t x, y, d = 0;
    for (size_t i = 0; i + 8 < n; i += 8) {
        memcpy(&x, a + i, 8), memcpy(&y, b + i, 8);
        d |= x ^ y;
    }
    memcpy(&x, a + n - 8, 8), memcpy(&y, b + n - 8, 8);
    return !(d | (x ^ y));
}

/* The customer's number k[b, e): 1 to 10 digits, canonical (no leading zero), at most
 * UINT32_MAX, into *out; 0 when not. swar: the last (up to) eight digits by one load
 * (little-endian only), checked and combined as eight lanes, the one or two before them a
 * digit at a time. */
static inline int eng__key_digits(const char *k, size_t b, size_t e, int swar, uint32_t *out)
{
    size_t d = e - b; /* e < b wraps: refused below */
    if (d - 1 >= 10 || (k[b] == '0' && d > 1))
        return 0;
    uint64_t v = 0;
    size_t i = b;
    if (swar && e >= 8) {
        uint64_t x;
        memcpy(&x, k + e - 8, 8);
        size_t nd = d < 8 ? d : 8; /* digits in x: its top nd bytes; the bytes below read as '0' */
        uint64_t keep = ~0ull << (8 * (8 - nd)); /* nd 1 to 8: a shift of 0 to 56 */
        const uint64_t hi = 0xf0f0f0f0f0f0f0f0ull, three = 0x3030303030303030ull;
        x = (x & keep) | (three & ~keep);
        /* a digit is 0x30-0x39: high nibble 3, and still 3 after + 6 (a carry out of a
         * byte comes only from a byte above 0xf9, itself not a digit) */
        if (((x & hi) ^ three) | (((x + 0x0606060606060606ull) & hi) ^ three))
            return 0;
        x &= 0x0f0f0f0f0f0f0f0full; /* pairs, quads and octets combined by three multiplies */
        x = (x * (10 * 256 + 1)) >> 8 & 0x00ff00ff00ff00ffull;
        x = (x * (100 * 65536 + 1)) >> 16 & 0x0000ffff0000ffffull;
        v = (x * (10000ull * 4294967296ull + 1)) >> 32;
        e -= nd;
        uint64_t top = 0;
        for (; i < e; i++) {
            if ((unsigned)(k[i] - '0') > 9)
                return 0;
            top = top * 10 + (uint64_t)(k[i] - '0');
        }
        v += top * 100000000;
    } else {
        for (; i < e; i++) {
            if ((unsigned)(k[i] - '0') > 9)
                return 0;
            v = v * 10 + (uint64_t)(k[i] - '0');
        }
    }
    if (v > UINT32_MAX)
        return 0;
    *out = (uint32_t)v;
    return 1;
}

/* eng__key_tail_after (ev_state.h): k[0, len) after its first plen bytes is the customer's
 * number, '/' and a channel's name. The name is found from the key's end
 * (eng__channel_at_end), so the number's digits are known to end before its '/': no
 * scan. */
static inline size_t eng__key_tail_at(const char *k, size_t len, size_t plen, uint32_t *customer,
                                      uint8_t *channel, int swar)
{
    size_t n = 0;
    int ch = eng__channel_at_end(k, len, &n);
    if (ch < 0 || !eng__key_digits(k, plen, len - n - 1, swar, customer))
        return 0;
    *channel = (uint8_t)ch;
    return plen;
}

/* How many decimal digits v has (1 to 10): its bit length times log10(2), corrected by one
 * compare. */
static inline size_t eng__dec_len(uint32_t v)
{
    static const uint32_t p10[10] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000};
    uint32_t t = (uint32_t)(32 - __builtin_clz(v | 1)) * 1233 >> 12;
    return t + ((v | 1) >= p10[t]);
}

/* v (below 10^8) as eight ASCII digits, leading zeros included, in memory order in a
 * little-endian word: halves, quarters and digits split by multiplies in lanes (no carry
 * crosses a lane: 9,999 x 5,243 < 2^32, 99 x 103 < 2^16). */
static inline uint64_t eng__dec8(uint32_t v)
{
    uint64_t x = (uint64_t)(v / 10000) | (uint64_t)(v % 10000) << 32;
    uint64_t q = (x * 5243) >> 19 & 0x0000007f0000007full; /* x / 100 for x below 10,000 */
    uint64_t y = q | (x - q * 100) << 16;
    uint64_t t = (y * 103) >> 10 & 0x000f000f000f000full; /* y / 10 for y below 100 */
    return (t | (y - t * 10) << 8) + 0x3030303030303030ull;
}

/* 1 when k[0, len) (len > plen) after its first plen bytes is exactly @p customer's
 * number, '/' and @p channel's name (channel < ENG_CH_COUNT): what eng__key_tail_at finds
 * and compares, found by writing the number (eight digits at once) rather than reading
 * it, and the name compared as two masked words (a `sent` row's key: its customer and
 * channel are given). */
static inline int eng__key_is_tail(const char *k, size_t len, size_t plen, uint32_t customer, uint8_t channel)
{
    size_t nl = eng__channel_lens[channel], nd = eng__dec_len(customer);
    if (len != plen + nd + 1 + nl)
        return 0;
    if (!ENG__KEY_SWAR || nd > 8 || plen + nd < 8 || len < 16) {
        uint32_t cu;
        uint8_t ch;
        return eng__key_tail_at(k, len, plen, &cu, &ch, ENG__KEY_SWAR) && cu == customer && ch == channel;
    }
    uint64_t w0, w1, p0, p1, m0, m1, x;
    memcpy(&w0, k + len - 16, 8), memcpy(&w1, k + len - 8, 8);
    memcpy(&p0, eng__channel_tails[channel] + nl + 1, 8), memcpy(&p1, eng__channel_tails[channel] + nl + 9, 8);
    memcpy(&m0, eng__channel_ones + nl + 1, 8), memcpy(&m1, eng__channel_ones + nl + 9, 8);
    memcpy(&x, k + plen + nd - 8, 8); /* the digits in its top nd bytes */
    uint64_t keep = ~0ull << (8 * (8 - nd));
    return !(((w0 & m0) ^ p0) | ((w1 & m1) ^ p1) | ((x ^ eng__dec8(customer)) & keep));
}

#endif
