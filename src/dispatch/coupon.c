/* Coupon pools: upload and generate, and the draw that gives each customer
 * one code of a pool, never reused. The pool record's `drawn` is the next
 * index to hand out; a draw reads it, the customers' existing assignments and
 * writes the new assignments with the advanced index in one batch, before any
 * envelope carrying a code is rendered. A crash before the commit loses the
 * draw whole (the same indices go to the same customers next time, nothing was
 * sent); a commit that applied but reported failure is found on the retry, as
 * the assignments are read back from storage, never from memory. On a shared
 * SQL store two processes drawing at once conflict on the pool record and one
 * batch fails (ENG_EBUSY), so an index is never handed out twice. */
#include "dispatch/coupon.h"
#include "dispatch/dispatch_impl.h"
#include "base/utf8.h"

#include <stdio.h>
#include <stdlib.h>

enum { ENG__REC_DSP_CPOOL = 0x0604, ENG__REC_DSP_CCODES = 0x0605, ENG__REC_DSP_CASSIGN = 0x0606 };

static void pool_key(char *buf, size_t cap, const char *org, const char *pool)
{
    snprintf(buf, cap, "d/cp/%s/%s", org, pool);
}

static void block_key(char *buf, size_t cap, const char *org, const char *pool, uint64_t block)
{
    snprintf(buf, cap, "d/cc/%s/%s/%08llx", org, pool, (unsigned long long)block);
}

static void assign_key(char *buf, size_t cap, const char *org, uint32_t customer, const char *pool)
{
    snprintf(buf, cap, "d/ca/%s/%08x/%s", org, customer, pool);
}

int eng__cpool_load(eng_engine *e, const char *org, const char *pool, eng__cpool *out)
{
    char key[160];
    pool_key(key, sizeof key, org, pool);
    memset(out, 0, sizeof *out);
    eng__rec rec;
    int rc = eng__rec_get(e->store, ENG__K(key), ENG__REC_DSP_CPOOL, ENG__DSP_SCHEMA, &rec);
    if (rc == ENG_ENOTFOUND)
        return eng__err(ENG_ENOTFOUND, "pool", "org '%s' has no coupon pool '%s'", org, pool);
    if (rc)
        return rc;
    eng__rd r;
    eng__rd_init(&r, rec.payload, rec.len);
    out->kind = eng__rd_u8(&r);
    out->size = eng__rd_uvar(&r);
    out->drawn = eng__rd_uvar(&r);
    size_t pl, sl;
    const uint8_t *pt = eng__rd_blob(&r, &pl), *sc = eng__rd_blob(&r, &sl);
    int ok = eng__rd_ok(&r) && !eng__rd_left(&r) && pt && sc && pl <= ENG_COUPON_CODE_MAX &&
             sl <= sizeof out->secret && out->drawn <= out->size &&
             (out->kind == ENG_COUPON_POOL_UPLOADED || out->kind == ENG_COUPON_POOL_GENERATED);
    if (ok) {
        memcpy(out->pattern, pt, pl);
        out->pattern[pl] = 0;
        memcpy(out->secret, sc, sl);
        out->secret_len = sl;
    }
    eng__rec_free(e->store, &rec);
    return ok ? ENG_OK : eng__err(ENG_ECORRUPT, key, "coupon pool record '%s' does not decode", key);
}

static int pool_store(eng_engine *e, const char *org, const char *pool, const eng__cpool *p)
{
    eng__wr w;
    eng__wr_init(&w, &e->mem);
    eng__wr_u8(&w, (uint8_t)p->kind);
    eng__wr_uvar(&w, p->size);
    eng__wr_uvar(&w, p->drawn);
    eng__wr_str(&w, p->pattern);
    eng__wr_blob(&w, p->secret, p->secret_len);
    char key[160];
    pool_key(key, sizeof key, org, pool);
    return eng__rec_put_wr(e->store, ENG__K(key), ENG__REC_DSP_CPOOL, ENG__DSP_SCHEMA, &w);
}

/* One block of uploaded codes: the strings point into the record's bytes. */
typedef struct cblock {
    eng__rec rec;
    uint64_t index;
    size_t n;
    const uint8_t *code[ENG__COUPON_BLOCK];
    size_t len[ENG__COUPON_BLOCK];
    int loaded;
} cblock;

static void block_free(eng_engine *e, cblock *b)
{
    if (b->loaded)
        eng__rec_free(e->store, &b->rec);
    b->loaded = 0;
    b->n = 0;
}

static int block_load(eng_engine *e, const char *org, const char *pool, uint64_t index, cblock *b)
{
    block_free(e, b);
    char key[200];
    block_key(key, sizeof key, org, pool, index);
    int rc = eng__rec_get(e->store, ENG__K(key), ENG__REC_DSP_CCODES, ENG__DSP_SCHEMA, &b->rec);
    if (rc == ENG_ENOTFOUND)
        return eng__err(ENG_ECORRUPT, key, "coupon code block '%s' is missing", key);
    if (rc)
        return rc;
    b->loaded = 1;
    b->index = index;
    eng__rd r;
    eng__rd_init(&r, b->rec.payload, b->rec.len);
    uint64_t n = eng__rd_uvar(&r);
    if (n > ENG__COUPON_BLOCK)
        r.err = ENG_ECORRUPT;
    for (uint64_t i = 0; i < n && eng__rd_ok(&r); i++) {
        b->code[i] = eng__rd_blob(&r, &b->len[i]);
        if (!b->code[i] || b->len[i] == 0 || b->len[i] > ENG_COUPON_CODE_MAX)
            r.err = ENG_ECORRUPT;
    }
    if (!eng__rd_ok(&r) || eng__rd_left(&r)) {
        block_free(e, b);
        return eng__err(ENG_ECORRUPT, key, "coupon code block '%s' does not decode", key);
    }
    b->n = (size_t)n;
    return ENG_OK;
}

/* The code at @p index of a pool (uploaded codes through the block cache @p b). */
static int code_at(eng_engine *e, const char *org, const char *pool, const eng__cpool *p, uint64_t index, cblock *b,
                   char out[ENG_COUPON_CODE_MAX + 1])
{
    if (p->kind == ENG_COUPON_POOL_GENERATED) {
        eng__cpattern_code(p, index, out);
        return ENG_OK;
    }
    uint64_t blk = index / ENG__COUPON_BLOCK;
    size_t at = (size_t)(index % ENG__COUPON_BLOCK);
    int rc = !b->loaded || b->index != blk ? block_load(e, org, pool, blk, b) : ENG_OK;
    if (rc)
        return rc;
    if (at >= b->n)
        return eng__err(ENG_ECORRUPT, "pool", "coupon pool '%s' holds fewer codes than its record says", pool);
    memcpy(out, b->code[at], b->len[at]);
    out[b->len[at]] = 0;
    return ENG_OK;
}

/* ---- assignments ---- */

typedef struct assign {
    uint64_t index, message;
    uint32_t occurrence;
    eng_time at;
    char code[ENG_COUPON_CODE_MAX + 1];
} assign;

static int assign_decode(const char *key, const uint8_t *p, size_t n, assign *a)
{
    eng__rd r;
    eng__rd_init(&r, p, n);
    a->index = eng__rd_uvar(&r);
    a->message = eng__rd_uvar(&r);
    a->occurrence = (uint32_t)eng__rd_uvar(&r);
    a->at = eng__rd_svar(&r);
    size_t cl;
    const uint8_t *c = eng__rd_blob(&r, &cl);
    if (!eng__rd_ok(&r) || eng__rd_left(&r) || !c || cl == 0 || cl > ENG_COUPON_CODE_MAX)
        return eng__err(ENG_ECORRUPT, key, "coupon assignment '%s' does not decode", key);
    memcpy(a->code, c, cl);
    a->code[cl] = 0;
    return ENG_OK;
}

static int assign_get(eng_engine *e, const char *org, uint32_t customer, const char *pool, assign *a)
{
    char key[200];
    assign_key(key, sizeof key, org, customer, pool);
    eng__rec rec;
    int rc = eng__rec_get(e->store, ENG__K(key), ENG__REC_DSP_CASSIGN, ENG__DSP_SCHEMA, &rec);
    if (rc)
        return rc;
    rc = assign_decode(key, rec.payload, rec.len, a);
    eng__rec_free(e->store, &rec);
    return rc;
}

static int assign_put(eng_engine *e, const char *org, uint32_t customer, const char *pool, const assign *a)
{
    eng__wr w;
    eng__wr_init(&w, &e->mem);
    eng__wr_uvar(&w, a->index);
    eng__wr_uvar(&w, a->message);
    eng__wr_uvar(&w, a->occurrence);
    eng__wr_svar(&w, a->at);
    eng__wr_str(&w, a->code);
    char key[200];
    assign_key(key, sizeof key, org, customer, pool);
    return eng__rec_put_wr(e->store, ENG__K(key), ENG__REC_DSP_CASSIGN, ENG__DSP_SCHEMA, &w);
}

/* Codes for @p customers: held ones, else the pool's next (from index drawn + *skip).
 * With @p write, new assignments and the pool record go into the open batch. */
static int draw(eng_engine *e, const char *org, const char *pool, const eng__cpool *pool_rec, int write,
                uint64_t message, uint32_t occurrence, eng_time now, const uint32_t *customers, size_t n,
                uint64_t *skip, uint64_t *need, char (*codes)[ENG_COUPON_CODE_MAX + 1])
{
    eng__cpool p = *pool_rec;
    cblock *b = eng__calloc(&e->mem, 1, sizeof *b);
    if (!b)
        return eng__nomem();
    uint64_t first = p.drawn;
    p.drawn += *skip;
    int rc = ENG_OK;
    for (size_t i = 0; i < n && !rc; i++) {
        assign a;
        codes[i][0] = 0;
        rc = assign_get(e, org, customers[i], pool, &a);
        if (rc == ENG_OK) {
            memcpy(codes[i], a.code, sizeof a.code);
            continue;
        }
        if (!eng__absent(rc))
            break;
        rc = ENG_OK;
        ++*need;
        if (p.drawn >= p.size)
            continue; /* the pool is empty: this customer gets none */
        memset(&a, 0, sizeof a);
        a.index = p.drawn++;
        a.message = message;
        a.occurrence = occurrence;
        a.at = now;
        if ((rc = code_at(e, org, pool, &p, a.index, b, a.code)) == ENG_OK &&
            (!write || (rc = assign_put(e, org, customers[i], pool, &a)) == ENG_OK))
            memcpy(codes[i], a.code, sizeof a.code);
    }
    if (!rc && write && p.drawn != first)
        rc = pool_store(e, org, pool, &p);
    if (!rc && !write)
        *skip = p.drawn - first;
    block_free(e, b);
    eng__free(&e->mem, b);
    return rc;
}

int eng__coupon_draw(eng_engine *e, const char *org, const char *pool, uint64_t message, uint32_t occurrence,
                     eng_time now, const uint32_t *customers, size_t n, char (*codes)[ENG_COUPON_CODE_MAX + 1])
{
    eng__cpool p;
    uint64_t skip = 0, need = 0;
    int rc = eng__kv_begin(e->store);
    if (!rc)
        rc = eng__cpool_load(e, org, pool, &p); /* read inside the batch: a SQL store serialises draws on it */
    if (!rc)
        rc = draw(e, org, pool, &p, 1, message, occurrence, now, customers, n, &skip, &need, codes);
    if (rc) {
        if (e->store->in_batch)
            eng__kv_rollback(e->store);
        return rc;
    }
    if ((rc = eng__kv_commit(e->store)) != ENG_OK && e->store->in_batch)
        eng__kv_rollback(e->store);
    return rc;
}

int eng__coupon_peek(eng_engine *e, const char *org, const char *pool, const uint32_t *customers, size_t n,
                     uint64_t *skip, uint64_t *need, char (*codes)[ENG_COUPON_CODE_MAX + 1])
{
    eng__cpool p;
    int rc = eng__cpool_load(e, org, pool, &p);
    return rc ? rc : draw(e, org, pool, &p, 0, 0, 0, 0, customers, n, skip, need, codes);
}

int eng__coupon_missing(eng_engine *e, const char *org, const char *pool, const uint32_t *customers, size_t n,
                        uint64_t *out)
{
    *out = 0;
    for (size_t i = 0; i < n; i++) {
        char key[200];
        assign_key(key, sizeof key, org, customers[i], pool);
        eng__val v;
        int rc = eng__kv_get(e->store, ENG__K(key), &v);
        if (eng__absent(rc)) {
            ++*out;
            continue;
        }
        if (rc)
            return rc;
        eng__val_free(e->store, &v);
    }
    return ENG_OK;
}

typedef struct each_ctx {
    eng__coupon_fn fn;
    void *user;
    size_t plen;
    int rc;
} each_ctx;

static int each_cb(const void *key, size_t klen, const void *val, size_t vlen, void *u)
{
    each_ctx *c = u;
    char k[200], pool[80];
    if (klen >= sizeof k || klen <= c->plen || klen - c->plen >= sizeof pool)
        return c->rc = eng__err(ENG_ECORRUPT, "d/ca", "bad coupon assignment key");
    memcpy(k, key, klen);
    k[klen] = 0;
    memcpy(pool, k + c->plen, klen - c->plen + 1);
    eng__rec rec;
    assign a;
    int rc = eng__rec_decode(key, klen, val, vlen, ENG__REC_DSP_CASSIGN, ENG__DSP_SCHEMA, &rec);
    if (!rc)
        rc = assign_decode(k, rec.payload, rec.len, &a);
    if (rc)
        return c->rc = rc;
    eng__coupon_row row = {pool, a.code, a.index, a.message, a.occurrence, a.at};
    int r = c->fn(&row, c->user);
    if (r < 0)
        c->rc = r;
    return r;
}

int eng__coupons_each(eng_engine *e, const char *org, uint32_t customer, eng__coupon_fn fn, void *user)
{
    char prefix[160];
    int n = snprintf(prefix, sizeof prefix, "d/ca/%s/%08x/", org, customer);
    each_ctx c = {fn, user, (size_t)n, ENG_OK};
    int rc = eng__kv_scan(e->store, prefix, (size_t)n, each_cb, &c);
    return rc ? rc : c.rc;
}

typedef struct keys_ctx {
    const eng__mem *mem;
    char **keys;
    size_t n, cap;
} keys_ctx;

static int key_cb(const void *key, size_t klen, const void *val, size_t vlen, void *u)
{
    (void)val;
    (void)vlen;
    keys_ctx *c = u;
    if (eng__grow(c->mem, (void **)&c->keys, &c->cap, c->n + 1, sizeof *c->keys))
        return eng__nomem();
    if (!(c->keys[c->n] = eng__strndup(c->mem, key, klen)))
        return eng__nomem();
    c->n++;
    return 0;
}

int eng__coupons_erase(eng_engine *e, const char *org, uint32_t customer)
{
    char prefix[160];
    int n = snprintf(prefix, sizeof prefix, "d/ca/%s/%08x/", org, customer);
    keys_ctx c = {&e->mem, NULL, 0, 0};
    int rc = eng__kv_scan(e->store, prefix, (size_t)n, key_cb, &c);
    for (size_t i = 0; i < c.n; i++) {
        if (!rc)
            rc = eng__kv_del(e->store, ENG__K(c.keys[i]));
        eng__free(&e->mem, c.keys[i]);
    }
    eng__free(&e->mem, c.keys);
    return rc;
}

/* ---- the public calls ---- */

static int pool_id_check(const char *pool)
{
    return eng__id_ok(pool ? pool : "") ? ENG_OK
                                        : eng__err(ENG_EINVAL, "pool", "a pool id is 1..64 of [A-Za-z0-9_.@-]");
}

static int code_check(const char *s, size_t i)
{
    size_t n = s ? strlen(s) : 0;
    int ok = n > 0 && n <= ENG_COUPON_CODE_MAX && eng__utf8_check(s, n) == n;
    for (size_t k = 0; ok && k < n; k++)
        ok = (unsigned char)s[k] > ' ' && s[k] != 0x7f;
    if (ok)
        return ENG_OK;
    char path[48];
    snprintf(path, sizeof path, "codes[%zu]", i);
    return eng__err(ENG_EINVAL, path, "a coupon code is 1..64 bytes of UTF-8 without spaces or control bytes");
}

typedef struct code_ref {
    const char *s;
    size_t len;
    size_t upload; /* index in the upload, or SIZE_MAX for a code already stored */
} code_ref;

static int ref_cmp(const void *a, const void *b)
{
    const code_ref *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->s, y->s, n);
    if (c)
        return c;
    return x->len < y->len ? -1 : x->len > y->len ? 1 : (x->upload < y->upload ? -1 : x->upload > y->upload);
}

static int audit(eng_engine *e, const char *org, const char *actor, const char *pool, const char *action,
                 uint64_t count)
{
    char obj[96];
    snprintf(obj, sizeof obj, "coupon_pool/%s", pool);
    uint8_t st[10];
    size_t n = 0;
    do {
        st[n++] = (uint8_t)((count & 0x7f) | (count > 0x7f ? 0x80 : 0));
        count >>= 7;
    } while (count);
    return eng__audit_append(e, org, actor, obj, action, st, n);
}

/* Every code of an upload, checked against each other and the pool's stored ones. */
static int upload_dupes(eng_engine *e, const char *org, const char *pool, const eng__cpool *p,
                        const char *const *codes, size_t n)
{
    uint64_t total = p->size + n;
    code_ref *refs = eng__calloc(&e->mem, (size_t)total, sizeof *refs);
    cblock *blocks = NULL;
    uint64_t nblocks = (p->size + ENG__COUPON_BLOCK - 1) / ENG__COUPON_BLOCK;
    if (!refs || (nblocks && !(blocks = eng__calloc(&e->mem, (size_t)nblocks, sizeof *blocks)))) {
        eng__free(&e->mem, refs);
        return eng__nomem();
    }
    size_t k = 0;
    int rc = ENG_OK;
    for (uint64_t bi = 0; bi < nblocks && !rc; bi++) {
        if ((rc = block_load(e, org, pool, bi, &blocks[bi])))
            break;
        for (size_t i = 0; i < blocks[bi].n; i++)
            refs[k++] = (code_ref){(const char *)blocks[bi].code[i], blocks[bi].len[i], SIZE_MAX};
    }
    for (size_t i = 0; i < n && !rc; i++)
        refs[k++] = (code_ref){codes[i], strlen(codes[i]), i};
    if (!rc) {
        qsort(refs, k, sizeof *refs, ref_cmp);
        for (size_t i = 1; i < k && !rc; i++)
            if (refs[i].len == refs[i - 1].len && memcmp(refs[i].s, refs[i - 1].s, refs[i].len) == 0) {
                /* Sorted by upload index within equal codes: a stored one comes last. */
                int stored = refs[i].upload == SIZE_MAX;
                char path[48];
                snprintf(path, sizeof path, "codes[%zu]", stored ? refs[i - 1].upload : refs[i].upload);
                rc = eng__err(ENG_EINVAL, path, stored ? "the code is already in the pool"
                                                       : "the code appears twice in the upload");
            }
    }
    for (uint64_t bi = 0; bi < nblocks; bi++)
        block_free(e, &blocks[bi]);
    eng__free(&e->mem, blocks);
    eng__free(&e->mem, refs);
    return rc;
}

static int upload_locked(eng_engine *e, const char *actor, const char *pool, const char *const *codes, size_t n)
{
    eng__actor a;
    eng__org o;
    int rc = eng__who(e, actor, &a, &o);
    if (rc)
        return rc;
    eng__cpool p;
    if ((rc = eng__access(&a, &o, ENG_OP_EDIT, NULL)))
        goto out;
    rc = eng__cpool_load(e, o.id, pool, &p);
    if (eng__absent(rc)) {
        memset(&p, 0, sizeof p);
        p.kind = ENG_COUPON_POOL_UPLOADED;
        rc = ENG_OK;
    }
    if (rc)
        goto out;
    if (p.kind != ENG_COUPON_POOL_UPLOADED) {
        rc = eng__err(ENG_ESTATE, "pool", "coupon pool '%s' is generated from a pattern; it takes no uploads", pool);
        goto out;
    }
    for (size_t i = 0; i < n && !rc; i++)
        rc = code_check(codes[i], i);
    if (!rc)
        rc = upload_dupes(e, o.id, pool, &p, codes, n);
    if (rc || (rc = eng__kv_begin(e->store)))
        goto out;
    /* Fill the last, partial block first, then whole new ones. */
    uint64_t at = p.size;
    size_t i = 0;
    while (i < n && !rc) {
        uint64_t blk = at / ENG__COUPON_BLOCK;
        size_t have = (size_t)(at % ENG__COUPON_BLOCK), take = ENG__COUPON_BLOCK - have;
        if (take > n - i)
            take = n - i;
        cblock old;
        memset(&old, 0, sizeof old);
        if (have && (rc = block_load(e, o.id, pool, blk, &old)))
            break;
        eng__wr w;
        eng__wr_init(&w, &e->mem);
        eng__wr_uvar(&w, have + take);
        for (size_t k = 0; k < have; k++)
            eng__wr_blob(&w, old.code[k], old.len[k]);
        for (size_t k = 0; k < take; k++)
            eng__wr_str(&w, codes[i + k]);
        block_free(e, &old);
        char key[200];
        block_key(key, sizeof key, o.id, pool, blk);
        rc = eng__rec_put_wr(e->store, ENG__K(key), ENG__REC_DSP_CCODES, ENG__DSP_SCHEMA, &w);
        i += take;
        at += take;
    }
    p.size = at;
    if (!rc)
        rc = pool_store(e, o.id, pool, &p);
    if (!rc)
        rc = audit(e, o.id, a.id, pool, "upload", n);
    rc = eng__dsp_commit(e, rc);
out:
    eng__org_free(&o);
    eng__actor_free(&a);
    return rc;
}

ENG_API int eng_coupon_pool_upload(eng_engine *e, const char *actor, const char *pool, const char *const *codes,
                                   size_t n)
{
    int rc = eng__enter(e);
    if (rc)
        return rc;
    if ((rc = pool_id_check(pool)) == ENG_OK) {
        if (!codes || n == 0)
            rc = eng__err(ENG_EINVAL, "codes", "an upload needs at least one code");
        else if (n > ENG_COUPON_UPLOAD_MAX)
            rc = eng__err(ENG_ETOOBIG, "n", "an upload takes at most %d codes", ENG_COUPON_UPLOAD_MAX);
        else
            rc = upload_locked(e, actor, pool, codes, n);
    }
    eng__leave(e);
    return rc;
}

ENG_API int eng_coupon_pool_generate(eng_engine *e, const char *actor, const char *pool, const char *pattern,
                                     const void *secret, size_t secret_len)
{
    int rc = eng__enter(e);
    if (rc)
        return rc;
    eng__actor a;
    eng__org o;
    const char *why = NULL;
    eng__cpool p;
    memset(&p, 0, sizeof p);
    if ((rc = pool_id_check(pool)))
        goto leave;
    p.size = eng__cpattern_size(pattern, &why);
    if (!p.size) {
        rc = eng__err(ENG_EINVAL, "pattern", "%s", why);
        goto leave;
    }
    if (!secret || secret_len < 16 || secret_len > sizeof p.secret) {
        rc = eng__err(ENG_EINVAL, "secret", "the secret must be 16..256 bytes");
        goto leave;
    }
    if ((rc = eng__who(e, actor, &a, &o)))
        goto leave;
    if ((rc = eng__access(&a, &o, ENG_OP_EDIT, NULL)) == ENG_OK) {
        eng__cpool old;
        rc = eng__cpool_load(e, o.id, pool, &old);
        if (rc == ENG_OK)
            rc = eng__err(ENG_EEXISTS, "pool", "org '%s' already has a coupon pool '%s'", o.id, pool);
        else if (eng__absent(rc) && (rc = eng__kv_begin(e->store)) == ENG_OK) {
            p.kind = ENG_COUPON_POOL_GENERATED;
            snprintf(p.pattern, sizeof p.pattern, "%s", pattern);
            memcpy(p.secret, secret, secret_len);
            p.secret_len = secret_len;
            rc = pool_store(e, o.id, pool, &p);
            if (!rc)
                rc = audit(e, o.id, a.id, pool, "generate", p.size);
            rc = eng__dsp_commit(e, rc);
        }
    }
    eng__org_free(&o);
    eng__actor_free(&a);
leave:
    eng__leave(e);
    return rc;
}

/* Check a caller-filled struct's version and zero it past the version. */
static int out_prep(void *out, unsigned current, size_t size, const char *type)
{
    if (!out)
        return eng__err(ENG_EINVAL, "out", "out is NULL");
    unsigned v = *(unsigned *)out;
    if (v == 0 || v > current)
        return eng__err(ENG_EVERSION, "out.version", "unsupported %s version %u", type, v);
    memset((char *)out + sizeof v, 0, size - sizeof v);
    return ENG_OK;
}

/* The actor's org, checked for reading. */
static int reader(eng_engine *e, const char *actor, eng__actor *a, eng__org *o)
{
    int rc = eng__who(e, actor, a, o);
    if (rc)
        return rc;
    if ((rc = eng__access(a, o, ENG_OP_READ, NULL))) {
        eng__org_free(o);
        eng__actor_free(a);
    }
    return rc;
}

ENG_API int eng_coupon_pool_get(eng_engine *e, const char *actor, const char *pool, eng_coupon_pool_info *out)
{
    int rc = out_prep(out, ENG_COUPON_POOL_INFO_VERSION, sizeof *out, "eng_coupon_pool_info");
    if (rc)
        return rc;
    if ((rc = eng__enter(e)))
        return rc;
    eng__actor a;
    eng__org o;
    eng__cpool p;
    if ((rc = pool_id_check(pool)) == ENG_OK && (rc = reader(e, actor, &a, &o)) == ENG_OK) {
        if ((rc = eng__cpool_load(e, o.id, pool, &p)) == ENG_OK) {
            out->kind = p.kind;
            out->size = p.size;
            out->assigned = p.drawn;
            memcpy(out->pattern, p.pattern, sizeof out->pattern);
        }
        eng__org_free(&o);
        eng__actor_free(&a);
    }
    eng__leave(e);
    return rc;
}

ENG_API int eng_coupon_find(eng_engine *e, const char *actor, const char *pool, uint32_t customer,
                            eng_coupon_assignment *out)
{
    int rc = out_prep(out, ENG_COUPON_ASSIGNMENT_VERSION, sizeof *out, "eng_coupon_assignment");
    if (rc)
        return rc;
    if ((rc = eng__enter(e)))
        return rc;
    eng__actor a;
    eng__org o;
    eng__cpool p;
    if ((rc = pool_id_check(pool)) == ENG_OK && (rc = reader(e, actor, &a, &o)) == ENG_OK) {
        assign as;
        if ((rc = eng__cpool_load(e, o.id, pool, &p)) == ENG_OK) {
            rc = assign_get(e, o.id, customer, pool, &as);
            if (rc == ENG_ENOTFOUND)
                rc = eng__err(ENG_ENOTFOUND, "customer", "customer %u holds no code of pool '%s'", customer, pool);
        }
        if (rc == ENG_OK) {
            memcpy(out->code, as.code, sizeof out->code);
            out->index = as.index;
            out->message = as.message;
            out->occurrence = as.occurrence;
            out->at = as.at;
        }
        eng__org_free(&o);
        eng__actor_free(&a);
    }
    eng__leave(e);
    return rc;
}

ENG_API int eng_coupon_pool_info_init(eng_coupon_pool_info *x, unsigned int version)
{
    static const eng_coupon_pool_info init = ENG_COUPON_POOL_INFO_INIT;
    return eng__struct_init(x, &init, ENG__SIZES(sizeof init), version, "eng_coupon_pool_info");
}

ENG_API int eng_coupon_assignment_init(eng_coupon_assignment *x, unsigned int version)
{
    static const eng_coupon_assignment init = ENG_COUPON_ASSIGNMENT_INIT;
    return eng__struct_init(x, &init, ENG__SIZES(sizeof init), version, "eng_coupon_assignment");
}
