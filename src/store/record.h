/* Typed, versioned, checksummed records on top of the key-value contract.
 *
 * Layout of every stored value (little-endian):
 *   0  u16 magic 0xE7C0
 *   2  u16 type tag    (ENG__REC_*; each layer owns a range)
 *   4  u16 schema version of the payload
 *   6  u16 flags       (0; reserved)
 *   8  u32 payload length
 *  12  u32 CRC32C of bytes 0..11 and the payload
 *  16  payload
 * A value that is short, has a wrong magic, length or checksum, or the wrong
 * type gives ENG_ECORRUPT naming the key; a schema newer than the reader knows
 * gives ENG_EVERSION. */
#ifndef ENG_STORE_RECORD_H
#define ENG_STORE_RECORD_H

#include "store/store_impl.h"
#include "base/codec.h"

#define ENG__REC_MAGIC 0xE7C0u
#define ENG__REC_HEADER 16

/* Type tags. Ranges: 0x00xx base/store, 0x01xx model, 0x02xx rules,
 * 0x03xx audience, 0x04xx events, 0x05xx decide, 0x06xx dispatch, 0x07xx measure, 0x08xx privacy. */
enum {
    ENG__REC_TEST = 0x0001,     /* used by tests and the demo */
    ENG__REC_META = 0x0002,     /* engine metadata (format version) */
    ENG__REC_SEQ_MARK = 0x0003, /* s/<kind>: highest id of that kind ever issued (store/seq.h) */
    ENG__REC_XENGAGE = 0x0501,  /* decide: X-Engage optimizer state */
};

typedef struct eng__rec {
    uint16_t type, schema;
    const uint8_t *payload; /* points into raw */
    size_t len;
    eng__val raw;           /* owns the bytes when read with eng__rec_get */
} eng__rec;

/* Encode header+payload and put it under key. */
int eng__rec_put(eng_store *s, const void *key, size_t klen, uint16_t type, uint16_t schema,
                 const void *payload, size_t len);
/* The same, without a copy: buf holds total bytes, the first ENG__REC_HEADER
 * of them left for the header (filled here), the payload after them. */
int eng__rec_put_framed(eng_store *s, const void *key, size_t klen, uint16_t type, uint16_t schema, uint8_t *buf,
                        size_t total);
/* Put what a codec writer holds (ENG_ENOMEM if the writer ran out of memory)
 * and release the writer, whatever the outcome. */
int eng__rec_put_wr(eng_store *s, const void *key, size_t klen, uint16_t type, uint16_t schema, eng__wr *w);
/* Read and verify. @p max_schema: newest schema the caller can decode. */
int eng__rec_get(eng_store *s, const void *key, size_t klen, uint16_t type, uint16_t max_schema, eng__rec *out);
void eng__rec_free(eng_store *s, eng__rec *r);
/* Verify a raw value already in memory (for scans); out->raw stays empty (borrowed). */
int eng__rec_decode(const void *key, size_t klen, const void *raw, size_t rawlen, uint16_t type,
                    uint16_t max_schema, eng__rec *out);

/* Convenience for string keys. */
#define ENG__K(s) (s), strlen(s)

#endif
