/* Checksums and hashes: CRC32C (stored records, file frames), SHA-256
 * (content hashes, audit chain, ad-export identifiers) and a fast stable
 * 64-bit hash (test/control split, hash tables). All are deterministic across
 * platforms and runs: stored data and splits depend on them. */
#ifndef ENG_BASE_HASH_H
#define ENG_BASE_HASH_H

#include <stddef.h>
#include <stdint.h>

/* CRC32C (Castagnoli). Start with crc = 0; chain by passing the previous result. */
uint32_t eng__crc32c(uint32_t crc, const void *data, size_t len);
/* The portable table-driven version (eng__crc32c uses the CPU's instruction when it has one). */
uint32_t eng__crc32c_sw(uint32_t crc, const void *data, size_t len);

typedef struct eng__sha256 {
    uint32_t h[8];
    uint64_t nbytes;
    uint8_t block[64];
    size_t fill;
} eng__sha256_ctx;

#define ENG__SHA256_LEN 32
void eng__sha256_init(eng__sha256_ctx *s);
void eng__sha256_update(eng__sha256_ctx *s, const void *data, size_t len);
void eng__sha256_final(eng__sha256_ctx *s, uint8_t out[ENG__SHA256_LEN]);
void eng__sha256(const void *data, size_t len, uint8_t out[ENG__SHA256_LEN]);
/* HMAC-SHA-256 of @p msg under @p key (hmac.c). */
void eng__hmac_sha256(const void *key, size_t klen, const void *msg, size_t mlen, uint8_t out[ENG__SHA256_LEN]);
/* Lower-case hex of @p n bytes into @p out (2n+1 bytes). */
void eng__hex(const uint8_t *in, size_t n, char *out);
/* The number written as @p n lower-case hex digits at @p s (n <= 16), as keys
 * write their ids: 1 and *out set, or 0 when a character is not such a digit. */
int eng__hex_u64(const char *s, int n, uint64_t *out);

/* Stable 64-bit hash of bytes, seeded. Not cryptographic. */
uint64_t eng__hash64(const void *data, size_t len, uint64_t seed);
/* out[i] = eng__hash64(data[i], len[i], seed) for four inputs, computed side by side. */
void eng__hash64_x4(const void *const data[4], const size_t len[4], uint64_t seed, uint64_t out[4]);
/* out[i] = eng__hash64(data[i], len[i], seed) for n inputs: eight keys a vector where the CPU
 * has AVX-512 (hash64_vec.c), else four at a time; the same values at every level. */
void eng__hash64_n(const void *const *data, const size_t *len, size_t n, uint64_t seed, uint64_t *out);
/* The hash's state after the first @p skip bytes (a multiple of 8, at most len) of a key of
 * @p len bytes: keys of one length that share those bytes (a context's key prefix) all pass
 * through it, so each is hashed from there (eng__hash64_resume_n) rather than from its start. */
uint64_t eng__hash64_state(const void *data, size_t skip, size_t len, uint64_t seed);
/* out[i] = eng__hash64 of a key of 8 bytes or more, from its state h[i] after its first bytes
 * (eng__hash64_state), the rest[i] bytes left starting at at[i]: the bytes before at[i] must be
 * readable down to the key's start (the tail is read as the key's last word, as hash_rest
 * does). Lanes and levels as eng__hash64_n; the same values. */
void eng__hash64_resume_n(const uint64_t *h, const void *const *at, const size_t *rest, size_t n, uint64_t *out);
/* eng__hash64_resume_n four and one at a time (hash64.c; below the vector level). */
void eng__hash64_resume_x(const uint64_t *h, const void *const *at, const size_t *rest, size_t n, uint64_t *out);
/* Finaliser-quality mix of one 64-bit value (splitmix64). */
static inline uint64_t eng__mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

#endif
