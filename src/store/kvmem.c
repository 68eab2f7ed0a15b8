#include "store/kvmem.h"
#include "store/store_impl.h"
#include "base/error.h"

#include <string.h>

void eng__kvmem_init(eng__kvmem *kv, const eng__mem *mem)
{
    eng__omap_init(&kv->main, mem);
    eng__omap_init(&kv->pend, mem);
    kv->in_batch = 0;
    kv->load = NULL;
    kv->load_ctx = NULL;
    kv->getbuf = NULL;
    kv->getcap = 0;
}

void eng__kvmem_clear(eng__kvmem *kv)
{
    eng__omap_clear(&kv->main);
    eng__omap_clear(&kv->pend);
    eng__free(kv->main.mem, kv->getbuf);
    kv->getbuf = NULL;
    kv->getcap = 0;
    kv->in_batch = 0;
}

int eng__kvmem_get(eng__kvmem *kv, const void *key, size_t klen, eng_buf *out)
{
    const eng__onode *n = kv->in_batch ? eng__omap_find(&kv->pend, key, klen) : NULL;
    if (!n)
        n = eng__omap_find(&kv->main, key, klen);
    if (!n || n->dead)
        return ENG_ENOTFOUND;
    if (n->in_file) {
        int rc = kv->load(kv->load_ctx, n, &kv->getbuf, &kv->getcap);
        return rc ? rc : eng_buf_set(out, kv->getbuf, n->vlen);
    }
    return eng_buf_set(out, n->val, n->vlen);
}

int eng__kvmem_put(eng__kvmem *kv, const void *key, size_t klen, const void *val, size_t vlen)
{
    return eng__omap_put(kv->in_batch ? &kv->pend : &kv->main, key, klen, val, vlen, 0);
}

int eng__kvmem_del(eng__kvmem *kv, const void *key, size_t klen)
{
    if (kv->in_batch)
        return eng__omap_put(&kv->pend, key, klen, NULL, 0, 1);
    eng__omap_del(&kv->main, key, klen);
    return ENG_OK;
}

/* Scan while a batch is open: merge the pending entries (collected first; a
 * batch is small next to the store) with the committed ones, pending winning. */
typedef struct merge_ctx {
    const eng__onode **pend;
    size_t npend, next, cap;
    const eng__mem *mem;
    eng_store_scan_fn cb;
    void *cb_user;
    int rc;
    eng__kvmem *kv;
    uint8_t *buf; /* this scan's own scratch for in_file values (callbacks may nest) */
    size_t bufcap;
} merge_ctx;

static int collect(const eng__onode *n, void *user)
{
    merge_ctx *m = user;
    void *arr = (void *)m->pend;
    if (eng__grow(m->mem, &arr, &m->cap, m->npend + 1, sizeof(*m->pend)) != ENG_OK) {
        m->rc = ENG_ENOMEM;
        return 1;
    }
    m->pend = arr;
    m->pend[m->npend++] = n;
    return 0;
}

static int emit(merge_ctx *m, const eng__onode *n)
{
    if (n->dead)
        return 0;
    const uint8_t *val = n->val;
    if (n->in_file) {
        int lrc = m->kv->load(m->kv->load_ctx, n, &m->buf, &m->bufcap);
        if (lrc) {
            m->rc = lrc;
            return 1;
        }
        val = m->buf;
    }
    int rc = m->cb(n->key, n->klen, val, n->vlen, m->cb_user);
    if (rc) {
        m->rc = rc < 0 ? rc : ENG_OK;
        return 1;
    }
    return 0;
}

static int merge_main(const eng__onode *n, void *user)
{
    merge_ctx *m = user;
    while (m->next < m->npend) {
        const eng__onode *p = m->pend[m->next];
        int c = eng__key_cmp(p->key, p->klen, n->key, n->klen);
        if (c > 0)
            break;
        m->next++;
        if (emit(m, p))
            return 1;
        if (c == 0)
            return 0; /* pending entry shadows the committed one */
    }
    return emit(m, n);
}

static int direct(const eng__onode *n, void *user)
{
    merge_ctx *m = user;
    return emit(m, n);
}

int eng__kvmem_scan(eng__kvmem *kv, const void *prefix, size_t plen, eng_store_scan_fn cb, void *cb_user)
{
    merge_ctx m = {.mem = kv->main.mem, .cb = cb, .cb_user = cb_user, .rc = ENG_OK, .kv = kv};
    if (!kv->in_batch || kv->pend.count == 0) {
        eng__omap_scan(&kv->main, prefix, plen, direct, &m);
        eng__free(m.mem, m.buf);
        return m.rc;
    }
    eng__omap_scan(&kv->pend, prefix, plen, collect, &m);
    if (m.rc == ENG_OK && !eng__omap_scan(&kv->main, prefix, plen, merge_main, &m)) {
        while (m.next < m.npend && !emit(&m, m.pend[m.next]))
            m.next++;
    }
    eng__free(m.mem, (void *)m.pend);
    eng__free(m.mem, m.buf);
    return m.rc;
}

int eng__kvmem_begin(eng__kvmem *kv)
{
    if (kv->in_batch)
        return eng__err(ENG_EBUSY, "", "a batch is already open on this store");
    kv->in_batch = 1;
    return ENG_OK;
}

int eng__kvmem_commit(eng__kvmem *kv)
{
    if (!kv->in_batch)
        return eng__err(ENG_EMISUSE, "", "commit without an open batch");
    eng__omap_merge_into(&kv->main, &kv->pend);
    kv->in_batch = 0;
    return ENG_OK;
}

int eng__kvmem_rollback(eng__kvmem *kv)
{
    if (!kv->in_batch)
        return eng__err(ENG_EMISUSE, "", "rollback without an open batch");
    eng__omap_clear(&kv->pend);
    kv->in_batch = 0;
    return ENG_OK;
}
