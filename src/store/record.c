#include "store/record.h"
#include "base/codec.h"
#include "base/error.h"
#include "base/hash.h"

#include <string.h>

static uint32_t rec_crc(const uint8_t *hdr, const void *payload, size_t len)
{
    return eng__crc32c(eng__crc32c(0, hdr, 12), payload, len);
}

int eng__rec_put(eng_store *s, const void *key, size_t klen, uint16_t type, uint16_t schema,
                 const void *payload, size_t len)
{
    if (len > ENG_STORE_MAX_VALUE - ENG__REC_HEADER)
        return eng__err(ENG_ETOOBIG, "value", "record of %zu bytes exceeds the store limit", len);
    uint8_t *buf = eng__malloc(&s->mem, ENG__REC_HEADER + len);
    if (!buf)
        return eng__nomem();
    eng__put16(buf, ENG__REC_MAGIC);
    eng__put16(buf + 2, type);
    eng__put16(buf + 4, schema);
    eng__put16(buf + 6, 0);
    eng__put32(buf + 8, (uint32_t)len);
    eng__put32(buf + 12, rec_crc(buf, payload, len));
    if (len)
        memcpy(buf + ENG__REC_HEADER, payload, len);
    int rc = eng__kv_put(s, key, klen, buf, ENG__REC_HEADER + len);
    eng__free(&s->mem, buf);
    return rc;
}

int eng__rec_put_framed(eng_store *s, const void *key, size_t klen, uint16_t type, uint16_t schema, uint8_t *buf,
                        size_t total)
{
    if (total < ENG__REC_HEADER)
        return eng__err(ENG_EINVAL, "value", "framed record shorter than its header");
    size_t len = total - ENG__REC_HEADER;
    if (len > ENG_STORE_MAX_VALUE - ENG__REC_HEADER)
        return eng__err(ENG_ETOOBIG, "value", "record of %zu bytes exceeds the store limit", len);
    eng__put16(buf, ENG__REC_MAGIC);
    eng__put16(buf + 2, type);
    eng__put16(buf + 4, schema);
    eng__put16(buf + 6, 0);
    eng__put32(buf + 8, (uint32_t)len);
    eng__put32(buf + 12, rec_crc(buf, buf + ENG__REC_HEADER, len));
    return eng__kv_put(s, key, klen, buf, total);
}

int eng__rec_decode(const void *key, size_t klen, const void *raw, size_t rawlen, uint16_t type,
                    uint16_t max_schema, eng__rec *out)
{
    const uint8_t *b = raw;
    memset(out, 0, sizeof(*out));
    uint32_t len = 0;
    uint16_t t = 0, v = 0;
    int bad = 0;
    if (rawlen < ENG__REC_HEADER || eng__get16(b) != ENG__REC_MAGIC) {
        bad = 1;
    } else {
        len = eng__get32(b + 8);
        t = eng__get16(b + 2);
        v = eng__get16(b + 4);
        if ((size_t)len != rawlen - ENG__REC_HEADER)
            bad = 2;
        else if (rec_crc(b, b + ENG__REC_HEADER, len) != eng__get32(b + 12))
            bad = 3;
        else if (t != type)
            bad = 4;
        else if (v == 0 || v > max_schema)
            bad = 5;
    }
    if (bad) { /* the printable key only for the message: every record read passes here */
        char k[160];
        eng__key_printable(key, klen, k, sizeof k);
        switch (bad) {
        case 1:
            return eng__err(ENG_ECORRUPT, k, "record '%s' is corrupt: bad header", k);
        case 2:
            return eng__err(ENG_ECORRUPT, k, "record '%s' is corrupt: length %u does not match %zu stored bytes", k,
                            len, rawlen - ENG__REC_HEADER);
        case 3:
            return eng__err(ENG_ECORRUPT, k, "record '%s' is corrupt: checksum mismatch", k);
        case 4:
            return eng__err(ENG_ECORRUPT, k, "record '%s' has type 0x%04x, expected 0x%04x", k, t, type);
        default:
            return eng__err(ENG_EVERSION, k, "record '%s' has schema version %u; this library reads up to %u", k, v,
                            max_schema);
        }
    }
    out->type = t;
    out->schema = v;
    out->payload = b + ENG__REC_HEADER;
    out->len = len;
    return ENG_OK;
}

int eng__rec_put_wr(eng_store *s, const void *key, size_t klen, uint16_t type, uint16_t schema, eng__wr *w)
{
    int rc = w->err ? eng__nomem() : eng__rec_put(s, key, klen, type, schema, w->data, w->len);
    eng__wr_free(w);
    return rc;
}

int eng__rec_get(eng_store *s, const void *key, size_t klen, uint16_t type, uint16_t max_schema, eng__rec *out)
{
    eng__val raw;
    memset(out, 0, sizeof(*out));
    int rc = eng__kv_get(s, key, klen, &raw);
    if (rc)
        return rc;
    rc = eng__rec_decode(key, klen, raw.data, raw.len, type, max_schema, out);
    if (rc) {
        eng__val_free(s, &raw);
        return rc;
    }
    out->raw = raw;
    return ENG_OK;
}

void eng__rec_free(eng_store *s, eng__rec *r)
{
    eng__val_free(s, &r->raw);
    r->payload = NULL;
    r->len = 0;
}
