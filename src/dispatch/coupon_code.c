/* Generated coupon codes. A pattern spells a mixed-radix number: '#' a digit,
 * '@' a letter A-Z, '*' a letter or digit, anything else itself. The i-th code
 * handed out is the pattern spelling of P(i), where P is a keyed permutation
 * of [0, size): a four-round Feistel network over the smallest even number of
 * bits that covers size, its round function HMAC-SHA-256 under the pool's
 * secret, cycle-walked back into range. Distinct indices give distinct codes
 * (P is a bijection) and no code tells the next without the secret. */
#include "dispatch/coupon.h"
#include "base/hash.h"

#include <string.h>

#define SIZE_CAP ((uint64_t)1 << 62)

static unsigned radix(char c)
{
    return c == '#' ? 10u : c == '@' ? 26u : c == '*' ? 36u : 0u;
}

uint64_t eng__cpattern_size(const char *pattern, const char **why)
{
    size_t n = pattern ? strlen(pattern) : 0;
    uint64_t size = 1;
    int slots = 0;
    *why = NULL;
    if (n == 0 || n > ENG_COUPON_CODE_MAX) {
        *why = "the pattern must be 1..64 bytes";
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)pattern[i];
        if (c <= ' ' || c >= 0x7f) {
            *why = "the pattern must be printable ASCII without spaces";
            return 0;
        }
        unsigned r = radix((char)c);
        if (r) {
            slots++;
            size = size > SIZE_CAP / r ? SIZE_CAP : size * r;
        }
    }
    if (!slots) {
        *why = "the pattern needs at least one '#', '@' or '*'";
        return 0;
    }
    return size;
}

static uint64_t round_fn(const eng__cpool *p, unsigned round, uint64_t half)
{
    uint8_t msg[9], mac[32];
    msg[0] = (uint8_t)round;
    for (int i = 0; i < 8; i++)
        msg[1 + i] = (uint8_t)(half >> (8 * i));
    eng__hmac_sha256(p->secret, p->secret_len, msg, sizeof msg, mac);
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)mac[i] << (8 * i);
    return v;
}

static uint64_t permute(const eng__cpool *p, uint64_t x, unsigned half)
{
    uint64_t mask = ((uint64_t)1 << half) - 1, l = x >> half, r = x & mask;
    for (unsigned k = 0; k < 4; k++) {
        uint64_t t = l ^ (round_fn(p, k, r) & mask);
        l = r;
        r = t;
    }
    return l << half | r;
}

void eng__cpattern_code(const eng__cpool *p, uint64_t index, char out[ENG_COUPON_CODE_MAX + 1])
{
    static const char alnum[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    unsigned bits = 2;
    while (bits < 62 && ((uint64_t)1 << bits) < p->size)
        bits += 2;
    uint64_t y = permute(p, index, bits / 2);
    while (y >= p->size) /* cycle-walk: the first value of the orbit that lies in range */
        y = permute(p, y, bits / 2);
    size_t n = strlen(p->pattern);
    memcpy(out, p->pattern, n + 1);
    for (size_t i = n; i-- > 0;) {
        unsigned r = radix(p->pattern[i]);
        if (!r)
            continue;
        unsigned d = (unsigned)(y % r);
        y /= r;
        out[i] = r == 10 ? alnum[d] : r == 26 ? alnum[10 + d] : alnum[d];
    }
}
