/* Loading the audience state from storage into the engine slot. */
#include "audience/audience_impl.h"
#include "base/codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCHEMA_V 1
#define DELTA_V 1

void eng__aud_key(char *buf, size_t cap, const char *prefix, uint32_t id)
{
    snprintf(buf, cap, "%s%08x", prefix, (unsigned)id);
}

static void aud_free(eng_engine *e, void *state)
{
    eng__aud *a = state;
    eng__table_free(&a->t);
    eng__groups_free(a);
    eng__free(&e->mem, a);
}

void eng__aud_drop(eng_engine *e)
{
    eng__aud *a = eng__slot_get(e, ENG__SLOT_AUDIENCE);
    if (a) {
        eng__slot_set(e, ENG__SLOT_AUDIENCE, NULL, NULL);
        aud_free(e, a);
    }
}

int eng__aud_put_schema(eng_engine *e, const eng__table *t)
{
    eng__wr w;
    eng__wr_init(&w, &e->mem);
    eng__wr_u8(&w, (uint8_t)t->idkind);
    eng__wr_uvar(&w, t->ncols);
    for (uint32_t i = 0; i < t->ncols; i++) {
        eng__wr_str(&w, t->cols[i].name);
        eng__wr_u8(&w, (uint8_t)t->cols[i].type);
    }
    return eng__rec_put_wr(e->store, ENG__K("a/s"), ENG__REC_AUD_SCHEMA, SCHEMA_V, &w);
}

static int load_schema(eng_engine *e, eng__table *t)
{
    eng__rec rec;
    int rc = eng__rec_get(e->store, ENG__K("a/s"), ENG__REC_AUD_SCHEMA, SCHEMA_V, &rec);
    if (rc == ENG_ENOTFOUND)
        return ENG_OK;
    if (rc)
        return rc;
    eng__rd r;
    eng__rd_init(&r, rec.payload, rec.len);
    int kind = eng__rd_u8(&r);
    uint64_t nc = eng__rd_uvar(&r);
    if (!eng__rd_ok(&r) || (kind != ENG_ID_STRING && kind != ENG_ID_INT64) || nc > ENG__MAX_COLS)
        rc = eng__err(ENG_ECORRUPT, "a/s", "bad customer schema");
    else
        t->idkind = kind;
    for (uint64_t i = 0; i < nc && !rc; i++) {
        char *name = eng__rd_str(&r, &e->mem);
        int oom = r.err == ENG_ENOMEM; /* a later read would turn it into ECORRUPT */
        int type = eng__rd_u8(&r);
        if (oom)
            rc = eng__nomem();
        else if (!eng__rd_ok(&r) || !name || strlen(name) == 0 || strlen(name) > ENG__COLNAME_MAX ||
            type < ENG_COL_STRING || type > ENG_COL_BOOL)
            rc = eng__err(ENG_ECORRUPT, "a/s", "bad column %llu in the customer schema", (unsigned long long)i);
        else
            rc = eng__table_add_col(t, name, type);
        eng__free(&e->mem, name);
    }
    eng__rec_free(e->store, &rec);
    return rc;
}

typedef struct replay {
    eng__aud *a;
    uint64_t ins, upd;
} replay;

static int replay_cb(const void *key, size_t klen, const void *val, size_t vlen, void *user)
{
    replay *rp = user;
    char k[64];
    eng__key_printable(key, klen, k, sizeof k);
    eng__rec rec;
    int rc = eng__rec_decode(key, klen, val, vlen, ENG__REC_AUD_DELTA, DELTA_V, &rec);
    if (rc)
        return rc;
    /* a/t/<16 hex>/<8 hex> */
    if (klen != 4 + 16 + 1 + 8)
        return eng__err(ENG_ECORRUPT, k, "bad delta key");
    char seq[17];
    memcpy(seq, (const char *)key + 4, 16);
    seq[16] = 0;
    uint64_t s = strtoull(seq, NULL, 16);
    if (s + 1 > rp->a->next_seq)
        rp->a->next_seq = s + 1;
    return eng__delta_apply(&rp->a->t, rec.payload, rec.len, k, &rp->ins, &rp->upd);
}

int eng__aud_get(eng_engine *e, eng__aud **out)
{
    eng__aud *a = eng__slot_get(e, ENG__SLOT_AUDIENCE);
    if (a) {
        *out = a;
        return ENG_OK;
    }
    a = eng__calloc(&e->mem, 1, sizeof *a);
    if (!a)
        return eng__nomem();
    a->e = e;
    a->next_gid = 1;
    eng__table_init(&a->t, &e->mem);
    replay rp = {a, 0, 0};
    int rc = load_schema(e, &a->t);
    if (!rc)
        rc = eng__kv_scan(e->store, "a/t/", 4, replay_cb, &rp);
    if (!rc)
        rc = eng__groups_load(a);
    if (!rc)
        eng__table_trim(&a->t);
    if (rc) {
        aud_free(e, a);
        return eng__err_wrap(rc, "loading the audience state");
    }
    eng__slot_set(e, ENG__SLOT_AUDIENCE, a, aud_free);
    *out = a;
    return ENG_OK;
}

int eng__aud_abort(eng_store *s, int rc)
{
    /* Rolling back clears the thread's error: keep the one that caused it. */
    char det[256], msg[768];
    snprintf(det, sizeof det, "%s", eng_error_last()->detail);
    snprintf(msg, sizeof msg, "%s", eng_error_last()->message);
    eng__kv_rollback(s);
    return eng__err(rc, det, "%s", msg);
}

int eng__aud_commit(eng_engine *e)
{
    int rc = eng__kv_commit(e->store);
    if (rc) {
        rc = eng__aud_abort(e->store, rc);
        eng__aud_drop(e); /* the outcome may be "applied": reload from storage on next use */
    }
    return rc;
}
