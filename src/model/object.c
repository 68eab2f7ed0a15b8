/* Per-object load and store: every model object (org, actor, campaign,
 * message) is one record under one key, decoded into its own pool. One path
 * reads, checks and decodes a record; one path encodes an object once and
 * stores it, with the audit entry over the same bytes. */
#include "model/model_impl.h"

int eng__obj_load(eng_engine *e, const char *key, uint16_t tag, const char *what, void *obj, size_t size,
                  eng__pool *pool, eng__obj_dec_fn dec)
{
    return eng__obj_load_raw(e, key, tag, what, obj, size, pool, dec, NULL);
}

int eng__obj_load_raw(eng_engine *e, const char *key, uint16_t tag, const char *what, void *obj, size_t size,
                      eng__pool *pool, eng__obj_dec_fn dec, eng__val *raw)
{
    memset(obj, 0, size);
    eng__pool_init(pool, &e->mem);
    eng__rec rec;
    int rc = eng__rec_get(e->store, ENG__K(key), tag, ENG__MODEL_SCHEMA, &rec);
    if (rc)
        return rc;
    eng__rd r;
    eng__rd_init(&r, rec.payload, rec.len);
    int bad = dec(&r, pool, obj);
    int err = pool->oom ? ENG_ENOMEM : r.err;
    if (!err && (bad || eng__rd_left(&r)))
        err = ENG_ECORRUPT;
    if (raw && !err) {
        *raw = rec.raw;
        rec.raw.data = NULL;
    }
    eng__rec_free(e->store, &rec);
    if (!err)
        return ENG_OK;
    eng__pool_free(pool);
    memset(obj, 0, size);
    return err == ENG_ENOMEM ? eng__nomem() : eng__err(ENG_ECORRUPT, key, "%s record does not decode", what);
}

int eng__obj_put(eng_engine *e, const char *key, uint16_t tag, eng__obj_enc_fn enc, const void *obj,
                 const char *org, const char *actor, const char *object, const char *action)
{
    eng__wr w;
    eng__wr_init(&w, &e->mem);
    enc(&w, obj);
    int rc = w.err ? eng__nomem() : eng__rec_put(e->store, ENG__K(key), tag, ENG__MODEL_SCHEMA, w.data, w.len);
    if (rc == ENG_OK && action)
        rc = eng__audit_append(e, org, actor, object, action, w.data, w.len);
    eng__wr_free(&w);
    return rc;
}
