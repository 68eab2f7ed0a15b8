#include "base/hash.h"

#include <string.h>

/* Reads 8 bytes little-endian regardless of host order, so hashes (and the
 * test/control splits built on them) are the same on every platform. */
static uint64_t load64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

uint64_t eng__hash64(const void *data, size_t len, uint64_t seed)
{
    const uint8_t *p = data;
    uint64_t h = eng__mix64(seed ^ (uint64_t)len);
    while (len >= 8) {
        h = eng__mix64(h ^ load64(p));
        p += 8;
        len -= 8;
    }
    uint64_t tail = 0;
    for (size_t i = 0; i < len; i++)
        tail |= (uint64_t)p[i] << (8 * i);
    return eng__mix64(h ^ tail ^ 0xff51afd7ed558ccdull);
}
