/* An append-only string dictionary: code <-> bytes, with an open-addressing
 * hash index. Used for dictionary-encoded string columns, for contacts, and
 * for string external ids (where code == dense customer id). Strings live in
 * one arena with uint32 offsets: no per-string heap objects. */
#ifndef ENG_AUDIENCE_DICT_H
#define ENG_AUDIENCE_DICT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "base/mem.h"

/* n < 128 bytes by overlapping fixed-size copies: a memcpy of a length
 * known to be short was inlined as `rep movsq`, whose start-up cost a
 * quarter of the column-wise apply's time (an email a row). */
static inline void eng__copy_short(char *d, const char *s, size_t n)
{
    if (n >= 16) {
        for (size_t k = 0; k + 16 < n; k += 16)
            memcpy(d + k, s + k, 16);
        memcpy(d + n - 16, s + n - 16, 16);
    } else if (n >= 8) {
        memcpy(d, s, 8);
        memcpy(d + n - 8, s + n - 8, 8);
    } else if (n >= 4) {
        memcpy(d, s, 4);
        memcpy(d + n - 4, s + n - 4, 4);
    } else if (n) {
        d[0] = s[0];
        d[n / 2] = s[n / 2];
        d[n - 1] = s[n - 1];
    }
}
typedef struct eng__dict {
    const eng__mem *mem;
    char *arena;
    size_t alen, acap;
    uint32_t *off; /* n + 1 offsets */
    uint32_t n;
    size_t offcap;
    uint32_t *slots; /* (hash & ~(nslots - 1)) | (code + 1); 0 = empty. The hash
                      * bits let a probe skip other strings without the arena. */
    uint32_t nslots; /* power of two, or 0 */
    struct eng__prog *pg; /* NULL, or a rehash steps it (the index of 10^6 strings takes a while) */
    uint32_t *hs; /* NULL, or every string's hash by code (eng__dict_keep_hashes) */
    size_t hscap;
} eng__dict;

void eng__dict_init(eng__dict *d, const eng__mem *mem);
void eng__dict_free(eng__dict *d);
/* Code of the string, or -1. */
int64_t eng__dict_find(const eng__dict *d, const char *s, size_t len);
/* Find or append; *code receives the code. ENG_ENOMEM / ENG_ETOOBIG (arena past 4 GiB);
 * ENG_ECANCELLED when the host cancels a rehash (d->pg), the dictionary then unchanged. */
int eng__dict_intern(eng__dict *d, const char *s, size_t len, uint32_t *code);
/* The same with the hash computed by eng__dict_hash(). */
uint32_t eng__dict_hash(const char *s, size_t len);
int eng__dict_intern_h(eng__dict *d, const char *s, size_t len, uint32_t h, uint32_t *code);
/* Intern s[0..n) (lengths len, hashes h by eng__dict_hash) in order, as
 * eng__dict_intern_h one at a time would: codes[i] receives the code of
 * s[i], *added counts the new strings. The index and the arrays are sized
 * once for them all, and the slot of string i + 16 is prefetched. On an
 * error the strings before the failing one are interned. */
int eng__dict_intern_many(eng__dict *d, const char *const *s, const size_t *len, const uint32_t *h, size_t n,
                          uint32_t *codes, uint64_t *added);
static inline const char *eng__dict_str(const eng__dict *d, uint32_t code, size_t *len)
{
    *len = d->off[code + 1] - d->off[code];
    return d->arena + d->off[code];
}
size_t eng__dict_bytes(const eng__dict *d);
/* While @p on, keep every string's hash beside it (4 bytes a string), so
 * that growing the index does not hash the strings again: for an import
 * that fills a large dictionary from empty. Off frees them. ENG_ENOMEM. */
int eng__dict_keep_hashes(eng__dict *d, int on);
/* Size the index for @p n strings in all (avoids rehashing while filling). */
int eng__dict_reserve(eng__dict *d, size_t n);

#endif
