#include "base/hash.h"

#include <string.h>

/* Reads 8 bytes little-endian regardless of host order, so hashes (and the
 * test/control splits built on them) are the same on every platform. */
static inline uint64_t load64(const uint8_t *p)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t v;
    memcpy(&v, p, 8); /* one load (the byte loop is not always merged into one) */
    return v;
#else
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
#endif
}

/* The hash from state h with @p len bytes at @p p still to take; @p back:
 * the input has at least 8 bytes, so the last 8 can be read as one word. */
static inline uint64_t hash_rest(uint64_t h, const uint8_t *p, size_t len, int back)
{
    while (len >= 8) {
        h = eng__mix64(h ^ load64(p));
        p += 8;
        len -= 8;
    }
    uint64_t tail = 0;
    if (back) { /* the tail bytes are the top of the last word: no branch per byte (lengths vary) */
        uint64_t w = load64(p + len - 8);
        tail = len ? w >> (64 - 8 * len) : 0;
    } else {
        for (size_t i = 0; i < len; i++)
            tail |= (uint64_t)p[i] << (8 * i);
    }
    return eng__mix64(h ^ tail ^ 0xff51afd7ed558ccdull);
}

uint64_t eng__hash64(const void *data, size_t len, uint64_t seed)
{
    return hash_rest(eng__mix64(seed ^ (uint64_t)len), data, len, len >= 8);
}

uint64_t eng__hash64_state(const void *data, size_t skip, size_t len, uint64_t seed)
{
    const uint8_t *p = data;
    uint64_t h = eng__mix64(seed ^ (uint64_t)len);
    for (size_t k = 0; k + 8 <= skip && k + 8 <= len; k += 8)
        h = eng__mix64(h ^ load64(p + k));
    return h;
}

/* Each word's mix depends on the one before (two multiplies in a chain), so
 * one key at a time waits on the multiplier; four chains side by side keep it
 * busy. The words all four keys have are taken together, the rest one key
 * at a time. h: the four states, p the bytes left (len of them), back: each
 * key's last word readable (hash_rest). */
static inline void hash_x4(uint64_t h0, uint64_t h1, uint64_t h2, uint64_t h3, const uint8_t *const p[4],
                           const size_t len[4], const int back[4], uint64_t out[4])
{
    const uint8_t *p0 = p[0], *p1 = p[1], *p2 = p[2], *p3 = p[3];
    size_t m = len[0] < len[1] ? len[0] : len[1];
    m = len[2] < m ? len[2] : m;
    m = len[3] < m ? len[3] : m;
    m &= ~(size_t)7;
    for (size_t k = 0; k < m; k += 8) {
        h0 = eng__mix64(h0 ^ load64(p0 + k));
        h1 = eng__mix64(h1 ^ load64(p1 + k));
        h2 = eng__mix64(h2 ^ load64(p2 + k));
        h3 = eng__mix64(h3 ^ load64(p3 + k));
    }
    out[0] = hash_rest(h0, p0 + m, len[0] - m, back[0]);
    out[1] = hash_rest(h1, p1 + m, len[1] - m, back[1]);
    out[2] = hash_rest(h2, p2 + m, len[2] - m, back[2]);
    out[3] = hash_rest(h3, p3 + m, len[3] - m, back[3]);
}

void eng__hash64_x4(const void *const data[4], const size_t len[4], uint64_t seed, uint64_t out[4])
{
    const uint8_t *p[4] = {data[0], data[1], data[2], data[3]};
    const int back[4] = {len[0] >= 8, len[1] >= 8, len[2] >= 8, len[3] >= 8};
    hash_x4(eng__mix64(seed ^ (uint64_t)len[0]), eng__mix64(seed ^ (uint64_t)len[1]),
            eng__mix64(seed ^ (uint64_t)len[2]), eng__mix64(seed ^ (uint64_t)len[3]), p, len, back, out);
}

/* eng__hash64_resume_n below the vector level (hash64_vec.c): four at a time, then one. */
void eng__hash64_resume_x(const uint64_t *h, const void *const *at, const size_t *rest, size_t n, uint64_t *out)
{
    static const int back[4] = {1, 1, 1, 1};
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const uint8_t *p[4] = {at[i], at[i + 1], at[i + 2], at[i + 3]};
        hash_x4(h[i], h[i + 1], h[i + 2], h[i + 3], p, rest + i, back, out + i);
    }
    for (; i < n; i++)
        out[i] = hash_rest(h[i], at[i], rest[i], 1);
}
