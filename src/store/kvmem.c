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
    kv->base = NULL;
    kv->base_bytes = kv->base_enc = 0;
    kv->scanning = 0;
}

void eng__kvmem_clear(eng__kvmem *kv)
{
    eng__omap_clear(&kv->main);
    eng__omap_clear(&kv->pend);
    eng__kbase_free(kv->base);
    kv->base = NULL;
    kv->main.keep_dead = 0;
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
    if (!n && kv->base) {
        uint64_t at;
        int eq, rc = eng__kbase_seek(kv->base, key, klen, &at, &eq);
        eng__kitem it = {.node = NULL};
        const uint8_t *val;
        if (rc || !eq || (rc = eng__kbase_get(kv->base, at, &it.e)) != ENG_OK ||
            (rc = eng__kvmem_value(kv, &it, &kv->getbuf, &kv->getcap, &val)) != ENG_OK)
            return rc ? rc : ENG_ENOTFOUND;
        return eng_buf_set(out, val, it.e.vlen);
    }
    if (!n || n->dead)
        return ENG_ENOTFOUND;
    if (n->in_file) {
        int rc = kv->load(kv->load_ctx, n->foff, n->vlen, &kv->getbuf, &kv->getcap);
        return rc ? rc : eng_buf_set(out, kv->getbuf, n->vlen);
    }
    return eng_buf_set(out, n->val, n->vlen);
}

int eng__kvmem_value(eng__kvmem *kv, const eng__kitem *it, uint8_t **buf, size_t *cap, const uint8_t **val)
{
    *val = it->e.val;
    uint64_t foff = it->node ? it->node->foff : it->e.voff;
    if (it->node ? it->node->in_file : kv->ref_min && it->e.vlen >= kv->ref_min) {
        int rc = kv->load(kv->load_ctx, foff, it->e.vlen, buf, cap);
        if (rc)
            return rc;
        *val = *buf;
    }
    return ENG_OK;
}

int eng__kvmem_put(eng__kvmem *kv, const void *key, size_t klen, const void *val, size_t vlen)
{
    return eng__omap_put(kv->in_batch ? &kv->pend : &kv->main, key, klen, val, vlen, 0);
}

int eng__kvmem_del(eng__kvmem *kv, const void *key, size_t klen)
{
    if (kv->in_batch || kv->main.keep_dead)
        return eng__omap_put(kv->in_batch ? &kv->pend : &kv->main, key, klen, NULL, 0, 1);
    eng__omap_del(&kv->main, key, klen);
    return ENG_OK;
}

/* The merged view: the pending entries (collected first; a batch is small next
 * to the store) and the base's are merged into the in-order walk of main;
 * pending wins over main, main over base, and tombstones hide what they shadow. */
typedef struct merge_ctx {
    const eng__onode **pend;
    size_t npend, next, cap;
    const eng__mem *mem;
    eng__kbase *base;
    uint64_t bpos;
    int bmore;       /* bcur holds the next base entry with the prefix */
    eng__kent bcur;
    const uint8_t *prefix;
    size_t plen;
    eng__kvmem_each_fn fn;
    void *user;
    int rc;          /* ENG_ENOMEM or the base's ENG_ECORRUPT */
    int stop;
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

static void base_next(merge_ctx *m)
{
    m->bmore = 0;
    if (!m->base || m->bpos >= m->base->n)
        return;
    int rc = eng__kbase_get(m->base, m->bpos, &m->bcur);
    if (rc) {
        m->rc = rc;
        m->stop = 1;
        return;
    }
    m->bmore = m->bcur.klen >= m->plen && memcmp(m->bcur.key, m->prefix, m->plen) == 0;
}

static int give_node(merge_ctx *m, const eng__onode *n)
{
    if (n->dead)
        return 0;
    eng__kitem it = {{n->key, n->val, n->klen, n->vlen, 0, n->foff}, n};
    if (m->fn(&it, m->user))
        m->stop = 1;
    return m->stop;
}

/* Give the pending and base entries before @p key (NULL: all of them). */
static int give_below(merge_ctx *m, const uint8_t *key, size_t klen)
{
    while (!m->stop) {
        const eng__onode *p = m->next < m->npend ? m->pend[m->next] : NULL;
        int pb = p && m->bmore ? eng__key_cmp(p->key, p->klen, m->bcur.key, m->bcur.klen) : p ? -1 : 1;
        if (!p && !m->bmore)
            break;
        const uint8_t *k = pb <= 0 ? p->key : m->bcur.key;
        size_t kl = pb <= 0 ? p->klen : m->bcur.klen;
        if (key && eng__key_cmp(k, kl, key, klen) >= 0)
            break;
        if (pb <= 0) {
            m->next++;
            if (pb == 0) {
                m->bpos++;
                base_next(m);
            }
            give_node(m, p);
        } else {
            eng__kitem it = {m->bcur, NULL};
            m->bpos++;
            if (m->fn(&it, m->user))
                m->stop = 1;
            else
                base_next(m);
        }
    }
    return m->stop;
}

static int step_main(const eng__onode *n, void *user)
{
    merge_ctx *m = user;
    if (give_below(m, n->key, n->klen))
        return 1;
    if (m->bmore && eng__key_cmp(m->bcur.key, m->bcur.klen, n->key, n->klen) == 0) {
        m->bpos++; /* hidden by n */
        base_next(m);
        if (m->stop)
            return 1;
    }
    if (m->next < m->npend) {
        const eng__onode *p = m->pend[m->next];
        if (eng__key_cmp(p->key, p->klen, n->key, n->klen) == 0) {
            m->next++;
            return give_node(m, p);
        }
    }
    return give_node(m, n);
}

int eng__kvmem_each(eng__kvmem *kv, const void *prefix, size_t plen, eng__kvmem_each_fn fn, void *user)
{
    merge_ctx m = {.mem = kv->main.mem, .base = kv->base, .prefix = prefix, .plen = plen, .fn = fn, .user = user};
    kv->scanning++;
    if (kv->in_batch && kv->pend.count)
        eng__omap_scan(&kv->pend, prefix, plen, collect, &m);
    if (!m.rc && m.base) {
        int eq;
        m.rc = eng__kbase_seek(m.base, prefix, plen, &m.bpos, &eq);
        if (!m.rc)
            base_next(&m);
    }
    if (!m.rc && !m.stop && !eng__omap_scan(&kv->main, prefix, plen, step_main, &m))
        give_below(&m, NULL, 0);
    kv->scanning--;
    eng__free(m.mem, (void *)m.pend);
    return m.rc;
}

typedef struct scan_ctx {
    eng__kvmem *kv;
    eng_store_scan_fn cb;
    void *cb_user;
    int rc;
    uint8_t *buf; /* this scan's own scratch for in_file values (callbacks may nest) */
    size_t bufcap;
} scan_ctx;

static int scan_give(const eng__kitem *it, void *user)
{
    scan_ctx *c = user;
    const uint8_t *val;
    int lrc = eng__kvmem_value(c->kv, it, &c->buf, &c->bufcap, &val);
    if (lrc) {
        c->rc = lrc;
        return 1;
    }
    int rc = c->cb(it->e.key, it->e.klen, val, it->e.vlen, c->cb_user);
    if (rc) {
        c->rc = rc < 0 ? rc : ENG_OK;
        return 1;
    }
    return 0;
}

int eng__kvmem_scan(eng__kvmem *kv, const void *prefix, size_t plen, eng_store_scan_fn cb, void *cb_user)
{
    scan_ctx c = {kv, cb, cb_user, ENG_OK, NULL, 0};
    int rc = eng__kvmem_each(kv, prefix, plen, scan_give, &c);
    eng__free(kv->main.mem, c.buf);
    return rc ? rc : c.rc;
}

/* ---- the base ---- */

typedef struct hide_ctx {
    eng__kvmem *kv;
    int in_main; /* the nodes are main's own (at open): count each */
    uint64_t bytes, enc;
    int rc;
} hide_ctx;

static int hide_one(const eng__onode *n, void *user)
{
    hide_ctx *h = user;
    if (!h->in_main && eng__omap_find(&h->kv->main, n->key, n->klen))
        return 0; /* already hidden */
    uint64_t at;
    int eq;
    eng__kent e;
    /* Keys past the base's last (appends, as an import's) need no search. */
    if ((h->rc = eng__kbase_get(h->kv->base, h->kv->base->n - 1, &e)) != ENG_OK)
        return 1;
    if (eng__key_cmp(n->key, n->klen, e.key, e.klen) > 0)
        return 0;
    if ((h->rc = eng__kbase_seek(h->kv->base, n->key, n->klen, &at, &eq)) != ENG_OK)
        return 1;
    if (!eq)
        return 0;
    if ((h->rc = eng__kbase_get(h->kv->base, at, &e)) != ENG_OK)
        return 1;
    h->bytes += e.klen + e.vlen;
    h->enc += eng__op_bytes(e.klen, e.vlen);
    return 0;
}

int eng__kvmem_hidden(eng__kvmem *kv, const eng__omap *from, uint64_t *bytes, uint64_t *enc)
{
    hide_ctx h = {kv, from == &kv->main, 0, 0, ENG_OK};
    *bytes = *enc = 0;
    if (kv->base && kv->base->n)
        eng__omap_scan(from, "", 0, hide_one, &h);
    *bytes = h.bytes;
    *enc = h.enc;
    return h.rc;
}

int eng__kvmem_set_base(eng__kvmem *kv, eng__kbase *base)
{
    eng__kbase_free(kv->base);
    kv->base = base;
    kv->main.keep_dead = base != NULL;
    kv->base_bytes = base ? base->bytes : 0;
    kv->base_enc = base ? base->enc : 0;
    uint64_t b, e;
    int rc = eng__kvmem_hidden(kv, &kv->main, &b, &e);
    kv->base_bytes -= b;
    kv->base_enc -= e;
    return rc;
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
