/* Durable per-kind id high-water marks: one 8-byte record under "s/<kind>". */
#include "store/seq.h"
#include "store/record.h"
#include "base/codec.h"
#include "base/error.h"

#include <stdio.h>
#include <string.h>

static int key_of(char *k, size_t cap, const char *kind)
{
    int n = snprintf(k, cap, "s/%s", kind);
    return n > 0 && (size_t)n < cap ? n : -1;
}

int eng__seq_mark(eng_store *s, const char *kind, uint64_t *mark)
{
    char k[40];
    int kl = key_of(k, sizeof k, kind);
    *mark = 0;
    if (kl < 0)
        return eng__err(ENG_ERROR, kind, "id kind name too long");
    eng__rec r;
    int rc = eng__rec_get(s, k, (size_t)kl, ENG__REC_SEQ_MARK, 1, &r);
    if (eng__absent(rc))
        return ENG_OK;
    if (rc)
        return rc;
    if (r.len != 8)
        rc = eng__err(ENG_ECORRUPT, k, "id high-water mark has length %zu", r.len);
    else
        *mark = eng__get64(r.payload);
    eng__rec_free(s, &r);
    return rc;
}

int eng__seq_raise(eng_store *s, const char *kind, uint64_t id)
{
    uint64_t mark;
    int rc = eng__seq_mark(s, kind, &mark);
    if (rc || id <= mark)
        return rc;
    char k[40];
    int kl = key_of(k, sizeof k, kind);
    uint8_t b[8];
    eng__put64(b, id);
    return eng__rec_put(s, k, (size_t)kl, ENG__REC_SEQ_MARK, 1, b, 8);
}
