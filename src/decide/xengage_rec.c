/* X-Engage records' common steps (xengage_rec.h). */
#include "decide/xengage_rec.h"
#include "base/error.h"

#include <string.h>

void eng__xe_wr_f64(eng__wr *w, double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    eng__wr_u64(w, u);
}

double eng__xe_rd_f64(eng__rd *r)
{
    uint64_t u = eng__rd_u64(r);
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

int eng__xe_rec_put(eng_store *s, const char *key, uint16_t schema, eng__wr *w)
{
    return eng__rec_put_wr(s, ENG__K(key), ENG__REC_XENGAGE, schema, w);
}

int eng__xe_rec_open(eng_store *s, const char *key, uint16_t max_schema, eng__rec *rec, eng__rd *r)
{
    int rc = eng__rec_get(s, ENG__K(key), ENG__REC_XENGAGE, max_schema, rec);
    if (!rc)
        eng__rd_init(r, rec->payload, rec->len);
    return rc;
}

int eng__xe_rec_close(eng_store *s, eng__rec *rec, const eng__rd *r, int rc, const char *key, const char *what)
{
    eng__rec_free(s, rec);
    if (!rc && (!eng__rd_ok(r) || eng__rd_left(r) != 0))
        rc = eng__err(ENG_ECORRUPT, key, "%s", what);
    return rc;
}
