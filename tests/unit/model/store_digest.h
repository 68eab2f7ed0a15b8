/* A SHA-256 over every key and value of an engine's store, to show that a
 * refused call left the store byte for byte as it was; and REFUSED(), which
 * checks a call's code, its error detail and the unchanged store. The digest
 * itself needs no cmocka (tests/fuzz/fuzz_api.c uses it); the asserting forms
 * are defined when cmocka.h came first. */
#ifndef MODEL_STORE_DIGEST_H
#define MODEL_STORE_DIGEST_H

#include "core/engine_impl.h"
#include "base/hash.h"

#include <string.h>

static inline int digest_cb(const void *key, size_t klen, const void *val, size_t vlen, void *user)
{
    eng__sha256_ctx *s = user;
    uint8_t len[16];
    for (int i = 0; i < 8; i++) {
        len[i] = (uint8_t)(klen >> (8 * i));
        len[8 + i] = (uint8_t)(vlen >> (8 * i));
    }
    eng__sha256_update(s, len, sizeof len);
    eng__sha256_update(s, key, klen);
    eng__sha256_update(s, val, vlen);
    return 0;
}

/* The digest of everything the engine's store holds: ENG_OK or the scan's error. */
static inline int digest_scan(eng_engine *e, int (*cb)(const void *, size_t, const void *, size_t, void *),
                              uint8_t out[ENG__SHA256_LEN])
{
    eng__sha256_ctx s;
    eng__sha256_init(&s);
    int rc = eng__kv_scan(e->store, "", 0, cb, &s);
    eng__sha256_final(&s, out);
    return rc;
}

static inline int store_digest_rc(eng_engine *e, uint8_t out[ENG__SHA256_LEN])
{
    return digest_scan(e, digest_cb, out);
}

/* The same but the engine's metadata record (e/meta: how often the store was opened, and
 * when): what a reopen leaves as it was. */
static inline int digest_not_meta(const void *key, size_t klen, const void *val, size_t vlen, void *user)
{
    if (klen == 6 && memcmp(key, "e/meta", 6) == 0)
        return 0;
    return digest_cb(key, klen, val, vlen, user);
}

static inline int store_digest_data_rc(eng_engine *e, uint8_t out[ENG__SHA256_LEN])
{
    return digest_scan(e, digest_not_meta, out);
}

#ifdef assert_int_equal
/* The digest of everything the engine's store holds. */
static inline void store_digest(eng_engine *e, uint8_t out[ENG__SHA256_LEN])
{
    assert_int_equal(store_digest_rc(e, out), ENG_OK);
}

/* The call (on engine @p eng) fails with @p want, names a detail, and the store is unchanged. */
#define REFUSED_ON(eng, call, want)                                                             \
    do {                                                                                        \
        uint8_t before_[ENG__SHA256_LEN], after_[ENG__SHA256_LEN];                              \
        store_digest((eng), before_);                                                           \
        eng_error_clear();                                                                      \
        assert_int_equal((call), (want));                                                       \
        assert_int_equal(eng_error_last()->code, (want));                                       \
        assert_true(eng_error_last()->detail[0] != 0);                                          \
        store_digest((eng), after_);                                                            \
        assert_memory_equal(before_, after_, ENG__SHA256_LEN);                                  \
    } while (0)
#endif

#endif
