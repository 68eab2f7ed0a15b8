/* Loading the audience state from storage into the engine slot. */
#include "audience/audience_impl.h"
#include "base/codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCHEMA_V 1

void eng__aud_key(const eng__aud *a, char *buf, size_t cap, const char *prefix, uint32_t id)
{
    snprintf(buf, cap, "%s%s%08x", a->pfx, prefix, (unsigned)id);
}

void eng__aud_keys(const eng__aud *a, char *buf, size_t cap, const char *rest, size_t *len)
{
    int n = snprintf(buf, cap, "%s%s", a->pfx, rest);
    *len = n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

void eng__aud_delta_key(const eng__aud *a, char *buf, size_t cap, uint64_t seq, uint32_t part)
{
    snprintf(buf, cap, "%st/%016llx/%08x", a->pfx, (unsigned long long)seq, (unsigned)part);
}

static int keep_key(const void *key, size_t klen, const void *val, size_t vlen, void *user)
{
    (void)val;
    (void)vlen;
    eng__aud_keylist *kl = user;
    if (klen >= sizeof kl->k[0])
        return eng__err(ENG_ECORRUPT, "a/o/", "unexpected key length %zu", klen);
    if (eng__grow(kl->mem, (void **)&kl->k, &kl->cap, kl->n + 1, sizeof kl->k[0]))
        return eng__nomem();
    memcpy(kl->k[kl->n], key, klen);
    kl->k[kl->n][klen] = 0;
    kl->n++;
    return 0;
}

int eng__aud_keys_of(eng__aud *a, const char *rest, eng__aud_keylist *kl)
{
    char p[ENG__AUD_KEY_MAX];
    size_t pl;
    eng__aud_keys(a, p, sizeof p, rest, &pl);
    *kl = (eng__aud_keylist){&a->e->mem, NULL, 0, 0};
    return eng__kv_scan(a->e->store, p, pl, keep_key, kl);
}

void eng__aud_keylist_free(eng__aud_keylist *kl)
{
    eng__free(kl->mem, kl->k);
    *kl = (eng__aud_keylist){kl->mem, NULL, 0, 0};
}

int eng__aud_del_keys(eng__aud *a, const char *rest, eng__keys *old_keys)
{
    eng__aud_keylist kl;
    int rc = eng__aud_keys_of(a, rest, &kl);
    for (size_t i = 0; i < kl.n && !rc; i++) {
        rc = eng__kv_del(a->e->store, ENG__K(kl.k[i]));
        if (!rc && old_keys)
            rc = eng__keys_add(old_keys, ENG__K(kl.k[i]));
    }
    eng__aud_keylist_free(&kl);
    return rc;
}

/* The slot holds one state per org that has been used since the engine opened. */
typedef struct auds {
    eng__aud **v;
    size_t n, cap;
    int all_stale; /* another engine changed what every org's state depends on (or anything) */
} auds;

static void aud_free(eng_engine *e, eng__aud *a)
{
    eng__table_free(&a->t);
    eng__groups_free(a);
    eng__split_cache_free(&a->split, &e->mem);
    eng__free(&e->mem, a);
}

static void auds_free(eng_engine *e, void *state)
{
    auds *s = state;
    for (size_t i = 0; i < s->n; i++)
        aud_free(e, s->v[i]);
    eng__free(&e->mem, s->v);
    eng__free(&e->mem, s);
}

/* Several engines on one store: a key another engine committed. An org's
 * state is everything under "a/o/<org>/" (org ids hold no '/'), so such a
 * key makes only that org's state stale; any other key (the group owners
 * "a/i/", a key shortened to "a/", the empty key) makes every org's. */
static int aud_watch(eng_engine *e, void *state, const void *key, size_t klen)
{
    (void)e;
    auds *s = state;
    const char *k = key;
    if (klen > 4 && memcmp(k, "a/o/", 4) == 0) {
        const char *org = k + 4, *end = memchr(org, '/', klen - 4);
        size_t n = end ? (size_t)(end - org) : klen - 4; /* no '/': a shortened key, a prefix of org ids */
        int hit = 0;
        for (size_t i = 0; i < s->n; i++) {
            size_t ol = strlen(s->v[i]->org);
            if ((end ? ol == n : ol >= n) && memcmp(s->v[i]->org, org, n) == 0)
                s->v[i]->stale = hit = 1;
        }
        return hit;
    }
    s->all_stale = 1;
    return 1;
}

/* Drop the orgs marked stale (all of them after aud_watch said so). */
static void aud_invalidate(eng_engine *e, void *state)
{
    auds *s = state;
    if (s->all_stale) {
        eng__aud_drop(e);
        return;
    }
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i]->stale)
            aud_free(e, s->v[i]);
        else
            s->v[k++] = s->v[i];
    s->n = k;
}

void eng__aud_drop(eng_engine *e)
{
    auds *s = eng__slot_get(e, ENG__SLOT_AUDIENCE);
    if (s) {
        eng__slot_set(e, ENG__SLOT_AUDIENCE, NULL, NULL);
        auds_free(e, s);
    }
}

int eng__aud_put_schema(eng__aud *a, const eng__aud_cx *cx)
{
    eng_engine *e = a->e;
    const eng__table *t = &a->t;
    eng__wr w;
    eng__wr_init(&w, &e->mem);
    eng__wr_u8(&w, (uint8_t)t->idkind);
    eng__wr_uvar(&w, t->ncols);
    for (uint32_t i = 0; i < t->ncols; i++) {
        eng__wr_str(&w, t->cols[i].name);
        eng__wr_u8(&w, (uint8_t)t->cols[i].type);
    }
    char k[ENG__AUD_KEY_MAX];
    size_t kl;
    eng__aud_keys(a, k, sizeof k, "s", &kl);
    int rc = w.err ? eng__nomem() : eng__kv_begin(e->store);
    if (rc) {
        eng__wr_free(&w);
        return rc;
    }
    snprintf(a->obj, sizeof a->obj, "customers");
    if ((rc = eng__rec_put_wr(e->store, k, kl, ENG__REC_AUD_SCHEMA, SCHEMA_V, &w)))
        return eng__aud_abort(e->store, rc);
    return eng__aud_commit(a, cx);
}

static int load_schema(eng__aud *a)
{
    eng_engine *e = a->e;
    eng__table *t = &a->t;
    eng__rec rec;
    char key[ENG__AUD_KEY_MAX];
    size_t kl;
    eng__aud_keys(a, key, sizeof key, "s", &kl);
    int rc = eng__rec_get(e->store, key, kl, ENG__REC_AUD_SCHEMA, SCHEMA_V, &rec);
    if (eng__absent(rc))
        return ENG_OK;
    if (rc)
        return rc;
    eng__rd r;
    eng__rd_init(&r, rec.payload, rec.len);
    int kind = eng__rd_u8(&r);
    uint64_t nc = eng__rd_uvar(&r);
    if (!eng__rd_ok(&r) || (kind != ENG_ID_STRING && kind != ENG_ID_INT64) || nc > ENG__MAX_COLS)
        rc = eng__err(ENG_ECORRUPT, key, "bad customer schema");
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
            rc = eng__err(ENG_ECORRUPT, key, "bad column %llu in the customer schema", (unsigned long long)i);
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
    eng__prog pg; /* "audience.load": stored parts replayed */
    uint64_t parts;
} replay;

static int replay_cb(const void *key, size_t klen, const void *val, size_t vlen, void *user)
{
    replay *rp = user;
    char k[ENG__AUD_KEY_MAX];
    eng__key_printable(key, klen, k, sizeof k);
    eng__rec rec;
    /* the first report comes with the first stored part: an org with none loads silently */
    int rc = rp->parts++ ? eng__prog_batch(&rp->pg, rp->parts - 1)
                         : eng__prog_start(&rp->pg, rp->a->e, "audience.load", 0);
    eng__table_set_prog(&rp->a->t, &rp->pg); /* the id index doubles as it fills */
    if (!rc)
        rc = eng__rec_decode(key, klen, val, vlen, ENG__REC_AUD_DELTA, ENG__DELTA_V, &rec);
    if (rc)
        return rc;
    /* P t/<16 hex>/<8 hex> */
    size_t p = rp->a->plen + 2;
    if (klen != p + 16 + 1 + 8)
        return eng__err(ENG_ECORRUPT, k, "bad delta key");
    char seq[17];
    memcpy(seq, (const char *)key + p, 16);
    seq[16] = 0;
    uint64_t s = strtoull(seq, NULL, 16);
    if (s + 1 > rp->a->next_seq)
        rp->a->next_seq = s + 1;
    return eng__delta_apply(&rp->a->t, rec.payload, rec.len, rec.schema, k, NULL, &rp->ins, &rp->upd);
}

/* Org ids are 1-64 of [A-Za-z0-9_.@-] (the model's rule): never a '/'. */
static int org_ok(const char *org)
{
    size_t n = org ? strlen(org) : 0;
    if (n == 0 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = org[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
              c == '@' || c == '-'))
            return 0;
    }
    return 1;
}

static int load(eng_engine *e, const char *org, eng__aud **out)
{
    eng__aud *a = eng__calloc(&e->mem, 1, sizeof *a);
    if (!a)
        return eng__nomem();
    a->e = e;
    a->next_gid = 1;
    snprintf(a->org, sizeof a->org, "%s", org);
    a->plen = (size_t)snprintf(a->pfx, sizeof a->pfx, "a/o/%s/", org);
    eng__table_init(&a->t, &e->mem);
    replay rp;
    memset(&rp, 0, sizeof rp);
    rp.a = a;
    char tp[ENG__AUD_KEY_MAX];
    size_t tl;
    eng__aud_keys(a, tp, sizeof tp, "t/", &tl);
    /* An org's customers are read on its first use after an open or a
     * compaction: a long step inside whatever call needs them. */
    int rc = load_schema(a);
    if (!rc)
        rc = eng__kv_scan(e->store, tp, tl, replay_cb, &rp);
    eng__table_set_prog(&a->t, NULL);
    if (!rc && rp.parts)
        rc = eng__prog_end(&rp.pg);
    if (!rc)
        rc = eng__groups_load(a);
    if (!rc)
        rc = eng__gc_load(a);
    if (!rc)
        eng__table_trim(&a->t);
    if (rc) {
        aud_free(e, a);
        return eng__err_wrap(rc, "loading the audience state");
    }
    *out = a;
    return ENG_OK;
}

int eng__aud_get(eng_engine *e, const char *org, eng__aud **out)
{
    if (!org_ok(org))
        return eng__err(ENG_EDENIED, "org", "customers and groups belong to an org: none given");
    auds *s = eng__slot_get(e, ENG__SLOT_AUDIENCE);
    if (!s) {
        if (!(s = eng__calloc(&e->mem, 1, sizeof *s)))
            return eng__nomem();
        eng__slot_set(e, ENG__SLOT_AUDIENCE, s, auds_free);
        eng__slot_set_invalidate(e, ENG__SLOT_AUDIENCE, aud_invalidate);
        eng__slot_set_watch(e, ENG__SLOT_AUDIENCE, aud_watch);
    }
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i]->org, org) == 0) {
            *out = s->v[i];
            return ENG_OK;
        }
    if (eng__grow(&e->mem, (void **)&s->v, &s->cap, s->n + 1, sizeof *s->v))
        return eng__nomem();
    int rc = load(e, org, &s->v[s->n]);
    if (rc)
        return rc;
    *out = s->v[s->n++];
    return ENG_OK;
}

int eng__aud_get_cx(eng_engine *e, const eng__aud_cx *cx, eng__aud **out)
{
    int rc = eng__aud_get(e, cx ? cx->org : NULL, out);
    if (!rc) {
        (*out)->obj[0] = 0;
        (*out)->detail[0] = 0;
    }
    return rc;
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

int eng__aud_commit(eng__aud *a, const eng__aud_cx *cx)
{
    eng_engine *e = a->e;
    int rc = ENG_OK;
    if (cx && cx->audit) {
        if ((rc = cx->audit(e, cx, a->obj[0] ? a->obj : "customers", a->detail)))
            return eng__aud_abort(e->store, rc);
    }
    rc = eng__kv_commit(e->store);
    if (rc) {
        rc = eng__aud_abort(e->store, rc);
        eng__aud_drop(e); /* the outcome may be "applied": reload from storage on next use */
    }
    return rc;
}
