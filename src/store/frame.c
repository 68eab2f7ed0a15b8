#include "store/frame.h"
#include "base/hash.h"
#include "engage/errors.h"
#include "engage/store.h"

#include <string.h>

void eng__file_header_encode(uint8_t out[ENG__FILE_HEADER], uint32_t version)
{
    memcpy(out, ENG__FILE_MAGIC, 8);
    eng__put32(out + 8, version);
    eng__put32(out + 12, eng__crc32c(0, out, 12));
}

int eng__file_header_check(const uint8_t in[ENG__FILE_HEADER])
{
    if (memcmp(in, ENG__FILE_MAGIC, 8) != 0 || eng__get32(in + 12) != eng__crc32c(0, in, 12))
        return ENG_ECORRUPT;
    uint32_t v = eng__get32(in + 8);
    return v >= ENG__FILE_VERSION_MIN && v <= ENG__FILE_VERSION ? ENG_OK : ENG_EVERSION;
}

void eng__frame_add_kv(eng__wr *w, const void *key, size_t klen, const void *val, size_t vlen, int dead)
{
    eng__wr_u8(w, dead ? ENG__OP_DEL : ENG__OP_PUT);
    eng__wr_blob(w, key, klen);
    if (!dead)
        eng__wr_blob(w, val, vlen);
}

void eng__frame_add_op(eng__wr *w, const eng__onode *n)
{
    eng__frame_add_kv(w, n->key, n->klen, n->val, n->vlen, n->dead);
}

void eng__frame_header_encode_crc(uint8_t out[ENG__FRAME_HEADER], uint32_t magic, uint64_t seq, uint32_t pcrc,
                                  size_t len)
{
    eng__put32(out, magic);
    eng__put32(out + 4, (uint32_t)len);
    eng__put64(out + 8, seq);
    eng__put32(out + 16, pcrc);
    eng__put32(out + 20, eng__crc32c(0, out, 20));
}

void eng__frame_standin_encode(uint8_t out[ENG__FRAME_HEADER], uint64_t seq)
{
    eng__frame_header_encode_crc(out, ENG__FRAME_MAGIC, seq, 0, ENG__FRAME_MAX_PAYLOAD);
}

int eng__frame_header_mend(uint8_t in[ENG__FRAME_HEADER], uint64_t seq)
{
    uint8_t s[ENG__FRAME_HEADER], r[4];
    eng__frame_standin_encode(s, seq);
    /* magic and sequence are the same in both headers: a cut write leaves them whole */
    if (memcmp(in, s, 4) != 0 || memcmp(in + 8, s + 8, 8) != 0)
        return 0;
    eng__put32(r, eng__crc32c(0, in, 20));
    /* the first k bytes the real header's, the rest the stand-in's (0 < k < 24) */
    for (int k = 1; k < ENG__FRAME_HEADER; k++) {
        if (memcmp(in + k, s + k, (size_t)(ENG__FRAME_HEADER - k)) != 0)
            continue;
        if (k <= 20) /* the stand-in's own checksum is still there: 32 bits no damage forges */
            return 1;
        if (memcmp(in + 20, r, (size_t)(k - 20)) == 0) {
            memcpy(in + 20, r, 4); /* the real header whole but for its checksum */
            return 2;
        }
    }
    return 0;
}

void eng__frame_header_encode(uint8_t out[ENG__FRAME_HEADER], uint64_t seq, const void *payload, size_t len)
{
    eng__frame_header_encode_crc(out, ENG__FRAME_MAGIC, seq, eng__crc32c(0, payload, len), len);
}

int eng__frame_header_decode(const uint8_t in[ENG__FRAME_HEADER], eng__frame_hdr *out)
{
    uint32_t magic = eng__get32(in);
    if ((magic != ENG__FRAME_MAGIC && magic != ENG__INDEX_MAGIC) || eng__get32(in + 20) != eng__crc32c(0, in, 20))
        return ENG_ECORRUPT;
    out->index = magic == ENG__INDEX_MAGIC;
    out->len = eng__get32(in + 4);
    out->seq = eng__get64(in + 8);
    out->pcrc = eng__get32(in + 16);
    return out->len > ENG__FRAME_MAX_PAYLOAD ? ENG_ECORRUPT : ENG_OK;
}

int eng__frame_payload_ok(const eng__frame_hdr *h, const void *payload)
{
    return eng__crc32c(0, payload, h->len) == h->pcrc;
}

int eng__frame_apply(eng__omap *m, const void *payload, size_t len, uint64_t file_off, size_t ref_min)
{
    eng__rd r;
    eng__rd_init(&r, payload, len);
    while (eng__rd_ok(&r) && eng__rd_left(&r) > 0) {
        const uint8_t *op_at = r.p;
        uint8_t op = eng__rd_u8(&r);
        size_t klen = 0, vlen = 0;
        const uint8_t *key = eng__rd_blob(&r, &klen);
        if (!eng__rd_ok(&r) || klen == 0 || klen > ENG_STORE_MAX_KEY)
            return ENG_ECORRUPT;
        if (op == ENG__OP_PUT) {
            const uint8_t *val = eng__rd_blob(&r, &vlen);
            /* Lengths in their shortest form only: a key index finds a put's op from its value (file.c). */
            if (!eng__rd_ok(&r) || vlen > ENG_STORE_MAX_VALUE || (uint64_t)(r.p - op_at) != eng__op_bytes(klen, vlen))
                return ENG_ECORRUPT;
            uint64_t at = file_off + (uint64_t)(val - (const uint8_t *)payload);
            int rc = ref_min && vlen >= ref_min ? eng__omap_put_ref(m, key, klen, vlen, at)
                                                : eng__omap_put_at(m, key, klen, val, vlen, at);
            if (rc != ENG_OK)
                return ENG_ENOMEM;
        } else if (op == ENG__OP_DEL) {
            if (!m->keep_dead)
                eng__omap_del(m, key, klen);
            else if (eng__omap_put(m, key, klen, NULL, 0, 1) != ENG_OK)
                return ENG_ENOMEM;
        } else {
            return ENG_ECORRUPT;
        }
    }
    return eng__rd_ok(&r) ? ENG_OK : ENG_ECORRUPT;
}
