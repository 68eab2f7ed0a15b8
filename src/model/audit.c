/* The audit log: one hash chain for the engine. Each entry records actor,
 * time, org, object, action, the SHA-256 of the object's new state and the
 * hash of the previous entry; its own hash covers all of that. The head record
 * (m/h) names the last entry, so dropping the tail is detected too. Entries are
 * written in the same batch as the change they describe. */
#include "model/model_impl.h"
#include "base/handle.h"

#include <stdio.h>

typedef struct entry {
    uint64_t seq;
    eng_time time;
    char *org, *actor, *object, *action;
    uint8_t state[32], prev[32], hash[32];
} entry;

static void entry_body(eng__wr *w, const entry *x)
{
    eng__wr_u64(w, x->seq);
    eng__wr_svar(w, x->time);
    eng__wr_str(w, x->org);
    eng__wr_str(w, x->actor);
    eng__wr_str(w, x->object);
    eng__wr_str(w, x->action);
    eng__wr_bytes(w, x->state, 32);
    eng__wr_bytes(w, x->prev, 32);
}

/* The hash of an entry: its body written into @p w (emptied first, so a caller hashing
 * many entries reuses one buffer), then hashed. */
static int entry_hash(eng__wr *w, const entry *x, uint8_t out[32])
{
    w->len = 0;
    entry_body(w, x);
    if (w->err)
        return eng__nomem();
    eng__sha256(w->data, w->len, out);
    return ENG_OK;
}

static int head_get(eng_engine *e, uint64_t *seq, uint8_t hash[32])
{
    eng__rec r;
    int rc = eng__rec_get(e->store, ENG__K("m/h"), ENG__REC_AUDIT_HEAD, ENG__MODEL_SCHEMA, &r);
    if (eng__absent(rc)) {
        *seq = 0;
        memset(hash, 0, 32);
        return ENG_OK;
    }
    if (rc)
        return rc;
    int ok = r.len == 40;
    if (ok) {
        *seq = eng__get64(r.payload);
        memcpy(hash, r.payload + 8, 32);
    }
    eng__rec_free(e->store, &r);
    return ok ? ENG_OK : eng__err(ENG_ECORRUPT, "m/h", "audit head record has length %zu", r.len);
}

/* The head as of the open batch: read once per batch, then kept as written
 * (a call that appends several entries reads it once). */
static int head_in_batch(eng_engine *e, eng__model_state *st, uint64_t *seq, uint8_t hash[32])
{
    if (st && e->store->in_batch && st->head.batch == e->store->in_batch) {
        *seq = st->head.seq;
        memcpy(hash, st->head.hash, 32);
        return ENG_OK;
    }
    return head_get(e, seq, hash);
}

int eng__audit_append(eng_engine *e, const char *org, const char *actor, const char *object, const char *action,
                      const void *state, size_t state_len)
{
    entry x = {0};
    eng__model_state *st = eng__model(e); /* NULL (no memory): read the head each time */
    int rc = head_in_batch(e, st, &x.seq, x.prev);
    if (rc)
        return rc;
    x.seq++;
    x.time = eng__now(e);
    x.org = (char *)org;
    x.actor = (char *)(actor ? actor : "");
    x.object = (char *)object;
    x.action = (char *)action;
    eng__sha256(state, state_len, x.state);
    eng__wr w; /* the stored entry: its body, then the body's hash */
    eng__wr_init(&w, &e->mem);
    if ((rc = entry_hash(&w, &x, x.hash))) {
        eng__wr_free(&w);
        return rc;
    }
    eng__wr_bytes(&w, x.hash, 32);
    char key[32];
    eng__key_id(key, sizeof key, 'l', x.seq);
    rc = eng__rec_put_wr(e->store, ENG__K(key), ENG__REC_AUDIT, ENG__MODEL_SCHEMA, &w);
    if (rc)
        return rc;
    uint8_t head[40];
    eng__put64(head, x.seq);
    memcpy(head + 8, x.hash, 32);
    rc = eng__rec_put(e->store, ENG__K("m/h"), ENG__REC_AUDIT_HEAD, ENG__MODEL_SCHEMA, head, sizeof head);
    if (st && rc == ENG_OK && e->store->in_batch) {
        st->head.batch = e->store->in_batch;
        st->head.seq = x.seq;
        memcpy(st->head.hash, x.hash, 32);
    }
    return rc;
}

/* Decode one stored entry into the pool. */
static int entry_dec(const void *key, size_t klen, const void *val, size_t vlen, eng__pool *p, entry *x)
{
    eng__rec rec;
    int rc = eng__rec_decode(key, klen, val, vlen, ENG__REC_AUDIT, ENG__MODEL_SCHEMA, &rec);
    if (rc)
        return rc;
    eng__rd r;
    eng__rd_init(&r, rec.payload, rec.len);
    x->seq = eng__rd_u64(&r);
    x->time = eng__rd_svar(&r);
    x->org = eng__pool_rdstr(&r, p);
    x->actor = eng__pool_rdstr(&r, p);
    x->object = eng__pool_rdstr(&r, p);
    x->action = eng__pool_rdstr(&r, p);
    const uint8_t *b = eng__rd_bytes(&r, 96);
    if (b) {
        memcpy(x->state, b, 32);
        memcpy(x->prev, b + 32, 32);
        memcpy(x->hash, b + 64, 32);
    }
    if (r.err == ENG_ENOMEM || p->oom)
        return eng__nomem();
    if (r.err || eng__rd_left(&r)) {
        char k[64];
        eng__key_printable(key, klen, k, sizeof k);
        return eng__err(ENG_ECORRUPT, k, "audit entry does not decode");
    }
    return ENG_OK;
}

/* ---- collect (iterator snapshot and verifier) ---- */
typedef struct collect {
    eng_engine *e;
    eng__pool pool;
    entry *v;
    size_t n, cap;
    const char *org; /* NULL: all orgs */
    int rc;
    uint64_t bad_seq;
} collect;

static int collect_cb(const void *key, size_t klen, const void *val, size_t vlen, void *user)
{
    collect *c = user;
    entry x = {0};
    int rc = entry_dec(key, klen, val, vlen, &c->pool, &x);
    if (rc) {
        c->rc = rc;
        c->bad_seq = c->n ? c->v[c->n - 1].seq + 1 : 1;
        return rc;
    }
    if (c->org && strcmp(c->org, x.org) != 0)
        return ENG_OK;
    if (eng__grow(&c->e->mem, (void **)&c->v, &c->cap, c->n + 1, sizeof(entry))) {
        c->rc = eng__nomem();
        return c->rc;
    }
    c->v[c->n++] = x;
    return ENG_OK;
}

static int collect_run(eng_engine *e, collect *c, const char *org)
{
    memset(c, 0, sizeof(*c));
    c->e = e;
    c->org = org;
    eng__pool_init(&c->pool, &e->mem);
    int rc = eng__kv_scan(e->store, ENG__K("m/l/"), collect_cb, c);
    return c->rc ? c->rc : rc;
}

static void collect_free(collect *c)
{
    eng__free(&c->e->mem, c->v);
    eng__pool_free(&c->pool);
}

ENG_API int eng_audit_verify(eng_engine *e, const char *actor, uint64_t *bad_seq)
{
    if (bad_seq)
        *bad_seq = 0;
    int rc = eng__enter(e);
    if (rc)
        return rc;
    eng__actor a;
    eng__org o;
    if ((rc = eng__who_may(e, actor, ENG_OP_ADMIN, NULL, &a, &o)))
        goto out;
    eng__who_free(&a, &o);
    collect c;
    uint64_t bad = 0;
    rc = collect_run(e, &c, NULL);
    if (rc) {
        bad = c.bad_seq;
        if (rc != ENG_ENOMEM) { /* copy first: the error record is the buffer eng__err writes */
            char detail[128], why[256];
            snprintf(detail, sizeof detail, "%s", eng_error_last()->detail);
            snprintf(why, sizeof why, "%s", eng_error_last()->message);
            rc = eng__err(ENG_ECORRUPT, detail, "audit entry %llu is damaged: %s", (unsigned long long)bad, why);
        }
    }
    uint8_t prev[32] = {0};
    eng__wr w;
    eng__wr_init(&w, &e->mem);
    for (size_t i = 0; rc == ENG_OK && i < c.n; i++) {
        const entry *x = &c.v[i];
        uint8_t h[32];
        if (x->seq != i + 1) {
            bad = i + 1;
            rc = eng__err(ENG_ECORRUPT, "audit", "audit entry %zu is missing (found %llu)", i + 1,
                          (unsigned long long)x->seq);
        } else if (memcmp(x->prev, prev, 32) != 0) {
            bad = x->seq;
            rc = eng__err(ENG_ECORRUPT, "audit", "audit entry %llu does not link to its predecessor",
                          (unsigned long long)x->seq);
        } else if ((rc = entry_hash(&w, x, h)) == ENG_OK && memcmp(h, x->hash, 32) != 0) {
            bad = x->seq;
            rc = eng__err(ENG_ECORRUPT, "audit", "audit entry %llu was altered (hash mismatch)",
                          (unsigned long long)x->seq);
        }
        memcpy(prev, x->hash, 32);
    }
    eng__wr_free(&w);
    if (rc == ENG_OK) {
        uint64_t hseq;
        uint8_t hh[32];
        if ((rc = head_get(e, &hseq, hh)) == ENG_OK && (hseq != c.n || memcmp(hh, prev, 32) != 0)) {
            bad = c.n + 1;
            rc = eng__err(ENG_ECORRUPT, "m/h", "audit head names entry %llu but the log ends at %zu",
                          (unsigned long long)hseq, c.n);
        }
    }
    collect_free(&c);
    if (bad_seq)
        *bad_seq = bad;
out:
    eng__leave(e);
    return rc;
}

/* ---- iterator ---- */
struct eng_audit_iter {
    eng__child h;
    collect c;
    size_t pos;
    char hex[3][65];
};

ENG_API int eng_audit_open(eng_engine *e, const char *actor, eng_audit_iter **out)
{
    int rc = eng__enter_ptr(e, out, "out");
    if (rc)
        return rc;
    eng__actor a;
    eng__org o;
    if ((rc = eng__who_may(e, actor, ENG_OP_ADMIN, NULL, &a, &o)))
        goto out;
    eng_audit_iter *it = eng__child_new(e, sizeof(*it), ENG__H_AUDIT_ITER);
    if (!it) {
        rc = eng__nomem();
    } else {
        char *org = eng__pool_str(&o.pool, o.id);
        rc = collect_run(e, &it->c, org);
        it->c.org = NULL; /* org string dies with o */
        if (rc) {
            collect_free(&it->c);
            eng__child_drop(it);
        } else {
            *out = eng__child_give(it);
        }
    }
    eng__who_free(&a, &o);
out:
    eng__leave(e);
    return rc;
}

ENG_API int eng_audit_entry_init(eng_audit_entry *x, unsigned int version)
{
    static const eng_audit_entry init = ENG_AUDIT_ENTRY_INIT;
    return eng__struct_init(x, &init, ENG__SIZES(sizeof init), version, "eng_audit_entry");
}

ENG_API int eng_audit_next(eng_audit_iter *it, eng_audit_entry *x)
{
    if (!eng__handle_live(it, ENG__H_AUDIT_ITER)) {
        eng__out_clear(x, ENG__SIZES(sizeof *x));
        return eng__err(ENG_EMISUSE, "iterator", "eng_audit_next: not an audit iterator (NULL or freed)");
    }
    int rc = eng__out_open(x, ENG__SIZES(sizeof *x), "eng_audit_entry", "entry");
    if (rc)
        return rc;
    if (it->pos >= it->c.n)
        return ENG_ITEROVER;
    const entry *s = &it->c.v[it->pos++];
    eng__hex(s->state, 32, it->hex[0]);
    eng__hex(s->prev, 32, it->hex[1]);
    eng__hex(s->hash, 32, it->hex[2]);
    *x = (eng_audit_entry){x->version, s->seq, s->time, s->org, s->actor, s->object, s->action,
                           it->hex[0], it->hex[1], it->hex[2]};
    return ENG_OK;
}

ENG_API void eng_audit_free(eng_audit_iter *it)
{
    if (!eng__handle_live(it, ENG__H_AUDIT_ITER))
        return;
    collect_free(&it->c);
    eng__child_free(it);
}
