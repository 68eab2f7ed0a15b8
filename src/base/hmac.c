/* HMAC-SHA-256 (RFC 2104 / FIPS 198-1): signs unsubscribe tokens. */
#include "base/hash.h"

#include <string.h>

void eng__hmac_sha256(const void *key, size_t klen, const void *msg, size_t mlen, uint8_t out[ENG__SHA256_LEN])
{
    uint8_t k[64], pad[64], inner[ENG__SHA256_LEN];
    memset(k, 0, sizeof k);
    if (klen > sizeof k)
        eng__sha256(key, klen, k);
    else if (klen)
        memcpy(k, key, klen);
    eng__sha256_ctx c;
    for (int i = 0; i < 64; i++)
        pad[i] = k[i] ^ 0x36;
    eng__sha256_init(&c);
    eng__sha256_update(&c, pad, sizeof pad);
    eng__sha256_update(&c, msg, mlen);
    eng__sha256_final(&c, inner);
    for (int i = 0; i < 64; i++)
        pad[i] = k[i] ^ 0x5c;
    eng__sha256_init(&c);
    eng__sha256_update(&c, pad, sizeof pad);
    eng__sha256_update(&c, inner, sizeof inner);
    eng__sha256_final(&c, out);
}
