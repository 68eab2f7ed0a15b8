/* Channel names by their text (base/channel.c). */
#ifndef ENG_BASE_CHANNEL_H
#define ENG_BASE_CHANNEL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The channel named exactly k[0, n), -1 if none. Per-key parsing of receipts calls it: one
 * name compared, found by its length and first letter, in a few loads (no call to memcmp). */
int eng__channel_find(const char *k, size_t n);

/* The names, their lengths, and the channel + 1 (0: none) by a hash of a name's last four
 * bytes with the '/' before it ("/sms", "mail", ...; eng__channel_at_end). Test
 * events_keytail checks the table against the names. eng__channel_tails[c]: 16 zero bytes,
 * then "/<name>" (zero-padded), so that its 16 bytes from the name's length + 1 on are the
 * name as it ends a key's last 16 bytes, the bytes before it zero; eng__channel_ones the
 * same for the mask (16 zero bytes, then 16 of 0xff). */
extern const char *const eng__channel_names[];
extern const uint8_t eng__channel_lens[];
extern const uint8_t eng__channel_by_tail[16];
extern const char eng__channel_tails[][32];
extern const unsigned char eng__channel_ones[32];

/* a[0, n) equals b[0, n) (n of 2 or more) by two loads of each that overlap, of a fixed size. */
static inline int eng__channel_same(const char *a, const char *b, size_t n)
{
#define ENG__SAME(T)                                                                                \
    do {                                                                                            \
        T w, x, y, z;                                                                               \
        memcpy(&w, a, sizeof w), memcpy(&x, b, sizeof x);                                           \
        memcpy(&y, a + n - sizeof y, sizeof y), memcpy(&z, b + n - sizeof z, sizeof z);             \
        return w == x && y == z;                                                                    \
    } while (0)
    if (n >= 8)
        ENG__SAME(uint64_t);
    if (n >= 4)
        ENG__SAME(uint32_t);
    ENG__SAME(uint16_t);
#undef ENG__SAME
}

/* The one channel whose "/<name>" may end k[0, len) (len of 4 or more), by the hash of the
 * last four bytes (combined in memory order: byte order does not matter); -1: none. */
static inline int eng__channel_candidate(const char *k, size_t len)
{
    const unsigned char *e = (const unsigned char *)k + len - 4;
    uint32_t w = (uint32_t)e[0] | (uint32_t)e[1] << 8 | (uint32_t)e[2] << 16 | (uint32_t)e[3] << 24;
    return eng__channel_by_tail[(uint32_t)(w * 0x8f6b19dbu) >> 28] - 1;
}

/* eng__channel_at_end by loads and compares of the name's length (branches on it: a batch
 * of mixed channels mispredicts them), for any len. */
static inline int eng__channel_at_end_bytes(const char *k, size_t len, size_t *n)
{
    int c = len >= 4 ? eng__channel_candidate(k, len) : -1;
    if (c < 0)
        return -1;
    size_t nl = eng__channel_lens[c];
    if (len < nl + 1 || k[len - nl - 1] != '/' || !eng__channel_same(k + len - nl, eng__channel_names[c], nl))
        return -1;
    *n = nl;
    return c;
}

/* eng__channel_at_end for len of 16 or more: the key's last 16 bytes, masked to the name's
 * "/<name>", against the name's, in two words whatever the name's length (no branch on it). */
static inline int eng__channel_at_end_words(const char *k, size_t len, size_t *n)
{
    int c = eng__channel_candidate(k, len);
    if (c < 0)
        return -1;
    size_t nl = eng__channel_lens[c];
    uint64_t w0, w1, p0, p1, m0, m1;
    memcpy(&w0, k + len - 16, 8), memcpy(&w1, k + len - 8, 8);
    memcpy(&p0, eng__channel_tails[c] + nl + 1, 8), memcpy(&p1, eng__channel_tails[c] + nl + 9, 8);
    memcpy(&m0, eng__channel_ones + nl + 1, 8), memcpy(&m1, eng__channel_ones + nl + 9, 8);
    if (((w0 & m0) ^ p0) | ((w1 & m1) ^ p1))
        return -1;
    *n = nl;
    return c;
}

/* The channel c whose "/<name>" ends k[0, len), its name's length in *n; -1 if none. From
 * the key's length and its last bytes (a name has no '/', so this is the name after the
 * last '/'): one candidate, then one compare; no search for the '/'. */
static inline int eng__channel_at_end(const char *k, size_t len, size_t *n)
{
    return len >= 16 ? eng__channel_at_end_words(k, len, n) : eng__channel_at_end_bytes(k, len, n);
}

#endif
