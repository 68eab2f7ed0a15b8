#include "store/store_impl.h"
#include "base/error.h"
#include "base/handle.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

ENG_API int eng_buf_set(eng_buf *buf, const void *data, size_t len)
{
    if (!buf)
        return eng__err(ENG_EMISUSE, "buf", "eng_buf_set: the buffer handle is NULL");
    if (!data && len)
        return eng__err(ENG_EINVAL, "data", "eng_buf_set: data is NULL");
    if (len > ENG_STORE_MAX_VALUE)
        return eng__err(ENG_ETOOBIG, "", "value of %zu bytes exceeds the store limit", len);
    uint8_t *d = eng__malloc(buf->mem, len);
    if (!d)
        return eng__nomem();
    if (len)
        memcpy(d, data, len);
    eng__free(buf->mem, buf->data);
    buf->data = d;
    buf->len = len;
    return ENG_OK;
}

void eng__key_printable(const void *key, size_t klen, char *out, size_t outsz)
{
    const uint8_t *k = key;
    size_t o = 0;
    for (size_t i = 0; i < klen && o + 5 < outsz; i++) {
        if (k[i] >= 0x20 && k[i] < 0x7f && k[i] != '\\')
            out[o++] = (char)k[i];
        else
            o += (size_t)snprintf(out + o, outsz - o, "\\x%02x", k[i]);
    }
    if (outsz)
        out[o < outsz ? o : outsz - 1] = '\0';
}

int eng__store_check(const eng_store *s)
{
    if (!eng__handle_live(s, ENG__H_STORE))
        return eng__err(ENG_EMISUSE, "store", "not a valid store handle");
    return ENG_OK;
}

int eng__store_wrap(eng_store **out, int kind, const eng_store_methods *methods, void *user,
                    const eng_allocator *alloc)
{
    eng__mem mem;
    int rc;
    if (out)
        *out = NULL;
    if (!out || !methods) {
        rc = eng__err(ENG_EINVAL, out ? "methods" : "out", "eng_store_new: NULL argument");
        goto fail;
    }
    if (methods->version == 0 || methods->version > ENG_STORE_METHODS_VERSION) {
        rc = eng__err(ENG_EVERSION, "methods.version", "unsupported eng_store_methods version %u",
                      methods->version);
        goto fail;
    }
    static const char *const names[] = {"get", "put", "del", "scan", "begin", "commit", "rollback"};
    const void *fns[] = {(const void *)methods->get, (const void *)methods->put, (const void *)methods->del,
                         (const void *)methods->scan, (const void *)methods->begin,
                         (const void *)methods->commit, (const void *)methods->rollback};
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++)
        if (!fns[i]) {
            rc = eng__err(ENG_EINVAL, names[i], "eng_store_methods.%s is required", names[i]);
            goto fail;
        }
    if ((rc = eng__mem_init(&mem, alloc)) != ENG_OK)
        goto fail;
    eng_store *s = eng__handle_new(&mem, sizeof(*s), ENG__H_STORE);
    if (!s) {
        rc = eng__nomem();
        goto fail;
    }
    s->magic = ENG__STORE_MAGIC;
    s->kind = kind;
    s->mem = mem;
    /* Copy only the fields of the caller's version: an older table is shorter. */
    if (methods->version >= 3)
        s->m = *methods;
    else if (methods->version == 2)
        memcpy(&s->m, methods, offsetof(eng_store_methods, changes));
    else
        memcpy(&s->m, methods, offsetof(eng_store_methods, erased));
    s->user = user;
    *out = s;
    return ENG_OK;
fail:
    if (methods && methods->destroy)
        methods->destroy(user);
    return rc;
}

ENG_API int eng_store_methods_init(eng_store_methods *x, unsigned int version)
{
    static const eng_store_methods init = ENG_STORE_METHODS_INIT;
    return eng__struct_init(x, &init, ENG__SIZES(ENG__UPTO(eng_store_methods, destroy), ENG__UPTO(eng_store_methods, erased), sizeof init), version, "eng_store_methods");
}

ENG_API int eng_store_new(const eng_store_methods *methods, void *user, const eng_allocator *alloc,
                          eng_store **out)
{
    return eng__store_wrap(out, ENG__STORE_CUSTOM, methods, user, alloc);
}

void eng__store_release(eng_store *s)
{
    if (s->in_batch)
        s->m.rollback(s->user);
    if (s->m.destroy)
        s->m.destroy(s->user);
    s->magic = 0;
    eng__mem mem = s->mem;
    eng__handle_free(&mem, s);
}

ENG_API void eng_store_free(eng_store *store)
{
    if (!eng__handle_live(store, ENG__H_STORE) || store->owned)
        return; /* a store owned by an engine is released by eng_close() */
    eng__store_release(store);
}

/* Turn a callback failure into a message naming the operation and key, keeping
 * any text the host attached with eng_error_set(). */
static int fail(int rc, const char *op, const void *key, size_t klen)
{
    char k[160];
    eng__key_printable(key, klen, k, sizeof k);
    const eng_error *e = eng_error_last();
    if (rc > 0)
        rc = ENG_ESTORAGE; /* a callback broke the contract: treat as storage failure */
    if (e->code == rc && e->message[0]) {
        char host[512]; /* copy first: the message buffer is the one being rewritten */
        snprintf(host, sizeof host, "%s", e->message);
        return eng__err(rc, k, "storage %s of key '%s' failed: %s", op, k, host);
    }
    return eng__err(rc, k, "storage %s of key '%s' failed: %s", op, k, eng_errstr(rc));
}

static int check_key(const void *key, size_t klen)
{
    if (!key || klen == 0 || klen > ENG_STORE_MAX_KEY)
        return eng__err(ENG_EINVAL, "key", "store key must be 1..%d bytes (got %zu)", ENG_STORE_MAX_KEY, klen);
    return ENG_OK;
}

int eng__kv_get(eng_store *s, const void *key, size_t klen, eng__val *out)
{
    out->data = NULL;
    out->len = 0;
    int rc = check_key(key, klen);
    if (rc)
        return rc;
    eng_buf buf = {.mem = &s->mem};
    eng_error_clear();
    eng__callback_begin();
    rc = s->m.get(key, klen, &buf, s->user);
    eng__callback_end();
    if (rc != ENG_OK) {
        eng__free(&s->mem, buf.data);
        if (rc == ENG_ENOTFOUND) {
            char k[160];
            eng__key_printable(key, klen, k, sizeof k);
            return eng__err(ENG_ENOTFOUND, k, "key '%s' not found", k);
        }
        return fail(rc, "get", key, klen);
    }
    out->data = buf.data;
    out->len = buf.len;
    return ENG_OK;
}

void eng__val_free(eng_store *s, eng__val *v)
{
    eng__free(&s->mem, v->data);
    v->data = NULL;
    v->len = 0;
}

int eng__kv_put(eng_store *s, const void *key, size_t klen, const void *val, size_t vlen)
{
    int rc = check_key(key, klen);
    if (rc)
        return rc;
    if (vlen > ENG_STORE_MAX_VALUE)
        return eng__err(ENG_ETOOBIG, "value", "value of %zu bytes exceeds the store limit", vlen);
    eng_error_clear();
    eng__callback_begin();
    rc = s->m.put(key, klen, val, vlen, s->user);
    eng__callback_end();
    return rc == ENG_OK ? ENG_OK : fail(rc, "put", key, klen);
}

int eng__kv_del(eng_store *s, const void *key, size_t klen)
{
    int rc = check_key(key, klen);
    if (rc)
        return rc;
    eng_error_clear();
    eng__callback_begin();
    rc = s->m.del(key, klen, s->user);
    eng__callback_end();
    return rc == ENG_OK || rc == ENG_ENOTFOUND ? ENG_OK : fail(rc, "delete", key, klen);
}

/* The host's scan calls the library's own callback: that part is not inside the host callback. */
typedef struct scan_tramp {
    eng_store_scan_fn cb;
    void *user;
} scan_tramp;

static int tramp(const void *key, size_t klen, const void *val, size_t vlen, void *user)
{
    const scan_tramp *t = user;
    eng__callback_end();
    int rc = t->cb(key, klen, val, vlen, t->user);
    eng__callback_begin();
    return rc;
}

int eng__kv_scan(eng_store *s, const void *prefix, size_t plen, eng_store_scan_fn cb, void *cb_user)
{
    if (plen > ENG_STORE_MAX_KEY || (!prefix && plen))
        return eng__err(ENG_EINVAL, "prefix", "bad scan prefix");
    eng_error_clear();
    scan_tramp t = {cb, cb_user};
    eng__callback_begin();
    int rc = s->m.scan(prefix ? prefix : "", plen, tramp, &t, s->user);
    eng__callback_end();
    if (rc < 0 && eng_error_last()->code == rc && eng_error_last()->message[0])
        return rc; /* the library's own callback (or the host) already said why */
    return rc == ENG_OK || rc > 0 ? ENG_OK : fail(rc, "scan", prefix, plen);
}

/* ---- several engines on one store (contract version 3: `changes`) ---- */

typedef struct watch_ctx {
    eng_store *s;
    int stale; /* the highest staleness a reported key had (ENG__STALE_*) */
} watch_ctx;

static int watch_cb(const void *key, size_t klen, void *user)
{
    watch_ctx *w = user;
    int level = w->s->watch ? w->s->watch(key, klen, w->s->watch_user) : 0;
    if (level > w->stale)
        w->stale = level;
    return 0;
}

int eng__kv_shared(const eng_store *s)
{
    return s->m.changes != NULL;
}

int eng__kv_sync(eng_store *s)
{
    if (!s->m.changes || s->in_batch)
        return ENG_OK;
    watch_ctx w = {s, 0};
    eng_error_clear();
    eng__callback_begin();
    int rc = s->m.changes(&s->cursor, s->has_cursor ? watch_cb : NULL, &w, s->user);
    eng__callback_end();
    if (rc)
        return fail(rc, "changes", "", 0);
    s->has_cursor = 1;
    return ENG_OK;
}

/* Inside the new batch: what other engines committed since the last look.
 * If it touches a cache the engine writes from (and, for eng__kv_begin_inside,
 * the engine cannot catch the cache up inside the batch), or (unless the caller reads
 * inside the batch everything it writes) state the call may have read before
 * the batch, nothing may be written: the batch is rolled back and the call
 * fails with ENG_EBUSY (the caches are dropped at the next call, or by
 * eng__engine_sync). A commit the batch cannot see yet conflicts with it in
 * the database. */
static int begin_check(eng_store *s, int reads_inside)
{
    if (!s->m.changes || !s->has_cursor)
        return ENG_OK;
    watch_ctx w = {s, 0};
    eng__callback_begin();
    int rc = s->m.changes(&s->cursor, watch_cb, &w, s->user);
    eng__callback_end();
    if (rc == ENG_OK && (w.stale == ENG__STALE_NONE || (w.stale == ENG__STALE_READ && reads_inside)))
        return ENG_OK;
    /* Stale caches: another engine's appends are read in this batch's own snapshot (the one
     * the change log was just read in), so the batch writes after them instead of failing. */
    if (rc == ENG_OK && reads_inside && s->catch_up && s->catch_up(s->watch_user))
        return ENG_OK;
    if (rc)
        rc = fail(rc, "changes", "", 0);
    else
        rc = eng__err(ENG_EBUSY, "", "another engine committed changes to state this call read or holds in memory; "
                                     "nothing was written: retry the call");
    s->m.rollback(s->user);
    return rc;
}

static int begin(eng_store *s, int reads_inside)
{
    if (s->in_batch)
        return eng__err(ENG_EBUSY, "", "a storage batch is already open");
    eng_error_clear();
    eng__callback_begin();
    int rc = s->m.begin(s->user);
    eng__callback_end();
    if (rc != ENG_OK)
        return fail(rc, "begin", "", 0);
    if ((rc = begin_check(s, reads_inside)) != ENG_OK)
        return rc;
    static unsigned serial; /* nonzero serials; a stale match needs 2^32 batches with no audit entry */
    unsigned n;
    while ((n = __atomic_add_fetch(&serial, 1, __ATOMIC_RELAXED)) == 0)
        ;
    s->in_batch = (int)n;
    s->last_batch = n;
    return ENG_OK;
}

int eng__kv_begin(eng_store *s)
{
    return begin(s, 0);
}

int eng__kv_begin_inside(eng_store *s)
{
    return begin(s, 1);
}

int eng__kv_commit(eng_store *s)
{
    if (!s->in_batch)
        return eng__err(ENG_EMISUSE, "", "commit without an open batch");
    eng_error_clear();
    eng__callback_begin();
    int rc = s->m.commit(s->user);
    eng__callback_end();
    if (rc != ENG_OK) {
        if (rc != ENG_EBUSY) /* a conflict applied nothing; anything else may have */
            s->doubtful_batch = (unsigned)s->in_batch;
        return fail(rc, "commit", "", 0); /* batch stays open: the caller rolls back */
    }
    s->committed_batch = (unsigned)s->in_batch;
    s->in_batch = 0;
    return ENG_OK;
}

int eng__kv_batch_undone(const eng_store *s, unsigned serial)
{
    return serial && !s->in_batch && s->last_batch == serial && s->committed_batch != serial &&
           s->doubtful_batch != serial;
}

int eng__kv_rollback(eng_store *s)
{
    if (!s->in_batch)
        return ENG_OK;
    s->in_batch = 0;
    eng_error_clear();
    eng__callback_begin();
    int rc = s->m.rollback(s->user);
    eng__callback_end();
    return rc == ENG_OK ? ENG_OK : fail(rc, "rollback", "", 0);
}

/* ---- erased keys (storage contract version 2) ---- */

void eng__keys_init(eng__keys *k, const eng__mem *mem)
{
    memset(k, 0, sizeof *k);
    k->mem = mem;
}

int eng__keys_add(eng__keys *k, const void *key, size_t klen)
{
    if (eng__grow(k->mem, (void **)&k->key, &k->cap, k->n + 1, sizeof *k->key))
        return eng__nomem();
    if (eng__grow(k->mem, (void **)&k->len, &k->lcap, k->n + 1, sizeof *k->len))
        return eng__nomem();
    char *c = eng__malloc(k->mem, klen ? klen : 1);
    if (!c)
        return eng__nomem();
    memcpy(c, key, klen);
    k->key[k->n] = c;
    k->len[k->n++] = klen;
    return ENG_OK;
}

void eng__keys_free(eng__keys *k)
{
    for (size_t i = 0; i < k->n; i++)
        eng__free(k->mem, k->key[i]);
    eng__free(k->mem, k->key);
    eng__free(k->mem, k->len);
    memset(k, 0, sizeof *k);
}

int eng__kv_erased(eng_store *s, const eng__keys *k)
{
    if (s->in_batch)
        return eng__err(ENG_EMISUSE, "", "erased keys are told after the commit");
    if (!k->n || s->m.version < 2 || !s->m.erased)
        return ENG_OK;
    eng_error_clear();
    eng__callback_begin();
    int rc = s->m.erased((const void *const *)k->key, k->len, k->n, s->user);
    eng__callback_end();
    return rc == ENG_OK ? ENG_OK : fail(rc, "erased", "", 0);
}
