#include "store/omap.h"
#include "base/error.h"

#include <string.h>

int eng__key_cmp(const void *a, size_t alen, const void *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int c = n ? memcmp(a, b, n) : 0;
    if (c)
        return c;
    return alen < blen ? -1 : alen > blen ? 1 : 0;
}

void eng__omap_init(eng__omap *m, const eng__mem *mem)
{
    memset(m, 0, sizeof(*m));
    m->mem = mem;
    m->rng = 0x9e3779b9u;
}

static uint32_t next_prio(eng__omap *m)
{
    uint32_t x = m->rng; /* xorshift32: deterministic so runs are repeatable */
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    m->rng = x;
    return x;
}

static void free_node(const eng__mem *mem, eng__onode *n)
{
    eng__free(mem, n->val);
    eng__free(mem, n);
}

static void free_tree(const eng__mem *mem, eng__onode *n)
{
    while (n) { /* recurse left, loop right: depth stays O(log n) expected */
        eng__onode *r = n->r;
        free_tree(mem, n->l);
        free_node(mem, n);
        n = r;
    }
}

void eng__omap_clear(eng__omap *m)
{
    free_tree(m->mem, m->root);
    m->root = NULL;
    m->count = m->bytes = 0;
    m->enc = 0;
}

/* The subtree at @p n, same shape and priorities; on a failed allocation *fail is set and the
 * nodes copied so far are linked in (free_tree frees them). */
static eng__onode *copy_tree(const eng__mem *mem, const eng__onode *n, int *fail)
{
    if (!n || *fail)
        return NULL;
    eng__onode *c = eng__malloc(mem, sizeof *c + n->klen);
    uint8_t *v = NULL;
    if (c && n->val && !(v = eng__memdup(mem, n->val, n->vlen))) {
        eng__free(mem, c);
        c = NULL;
    }
    if (!c) {
        *fail = 1;
        return NULL;
    }
    memcpy(c, n, sizeof *c + n->klen);
    c->val = v;
    c->l = copy_tree(mem, n->l, fail);
    c->r = copy_tree(mem, n->r, fail);
    return c;
}

int eng__omap_copy(eng__omap *dst, const eng__omap *src)
{
    int fail = 0;
    eng__onode *root = copy_tree(dst->mem, src->root, &fail);
    if (fail) {
        free_tree(dst->mem, root);
        return eng__nomem();
    }
    eng__omap_clear(dst);
    dst->root = root;
    dst->count = src->count;
    dst->bytes = src->bytes;
    dst->enc = src->enc;
    return ENG_OK;
}

eng__onode *eng__omap_find(const eng__omap *m, const void *key, size_t klen)
{
    eng__onode *n = m->root;
    while (n) {
        int c = eng__key_cmp(key, klen, n->key, n->klen);
        if (!c)
            return n;
        n = c < 0 ? n->l : n->r;
    }
    return NULL;
}

static size_t live_bytes(const eng__onode *n) { return n->dead ? 0 : n->klen + n->vlen; }

static uint64_t uvar_len(uint64_t v)
{
    uint64_t k = 1;
    while (v >= 0x80) {
        v >>= 7;
        k++;
    }
    return k;
}

uint64_t eng__op_bytes(size_t klen, size_t vlen)
{
    return 1 + uvar_len(klen) + klen + uvar_len(vlen) + vlen;
}

static uint64_t enc_bytes(const eng__onode *n)
{
    return n->dead ? 0 : eng__op_bytes(n->klen, n->vlen);
}

/* Split the tree into keys < key (l) and keys > key (r); an equal node is returned. */
static eng__onode *split(eng__onode *t, const void *key, size_t klen, eng__onode **l, eng__onode **r)
{
    if (!t) {
        *l = *r = NULL;
        return NULL;
    }
    int c = eng__key_cmp(key, klen, t->key, t->klen);
    eng__onode *eq;
    if (c == 0) {
        *l = t->l;
        *r = t->r;
        t->l = t->r = NULL;
        return t;
    } else if (c < 0) {
        eq = split(t->l, key, klen, l, &t->l);
        *r = t;
    } else {
        eq = split(t->r, key, klen, &t->r, r);
        *l = t;
    }
    return eq;
}

static eng__onode *join(eng__onode *a, eng__onode *b)
{
    if (!a)
        return b;
    if (!b)
        return a;
    if (a->prio > b->prio) {
        a->r = join(a->r, b);
        return a;
    }
    b->l = join(a, b->l);
    return b;
}

static eng__onode *insert_node(eng__onode *t, eng__onode *n)
{
    if (!t)
        return n;
    if (n->prio > t->prio) {
        eng__onode *eq = split(t, n->key, n->klen, &n->l, &n->r);
        (void)eq; /* callers remove an existing equal key first */
        return n;
    }
    if (eng__key_cmp(n->key, n->klen, t->key, t->klen) < 0)
        t->l = insert_node(t->l, n);
    else
        t->r = insert_node(t->r, n);
    return t;
}

/* Insert or replace: the node takes @p v (heap, or NULL) or, with in_file, a file reference. */
static int put_node(eng__omap *m, const void *key, size_t klen, uint8_t *v, size_t vlen, int dead, int in_file,
                    uint64_t foff)
{
    eng__onode *n = eng__omap_find(m, key, klen);
    if (n) {
        m->bytes -= live_bytes(n);
        m->enc -= enc_bytes(n);
        eng__free(m->mem, n->val);
        n->val = v;
        n->vlen = dead ? 0 : vlen;
        n->dead = (uint8_t)(dead != 0);
        n->in_file = (uint8_t)(in_file != 0);
        n->foff = foff;
        m->bytes += live_bytes(n);
        m->enc += enc_bytes(n);
        return ENG_OK;
    }
    if (klen > SIZE_MAX - sizeof(eng__onode)) {
        eng__free(m->mem, v);
        return eng__nomem();
    }
    n = eng__malloc(m->mem, sizeof(eng__onode) + klen);
    if (!n) {
        eng__free(m->mem, v);
        return eng__nomem();
    }
    n->l = n->r = NULL;
    n->prio = next_prio(m);
    n->dead = (uint8_t)(dead != 0);
    n->in_file = (uint8_t)(in_file != 0);
    n->klen = klen;
    n->vlen = dead ? 0 : vlen;
    n->val = v;
    n->foff = foff;
    if (klen)
        memcpy(n->key, key, klen);
    m->root = insert_node(m->root, n);
    m->count++;
    m->bytes += live_bytes(n);
    m->enc += enc_bytes(n);
    return ENG_OK;
}

int eng__omap_put(eng__omap *m, const void *key, size_t klen, const void *val, size_t vlen, int dead)
{
    uint8_t *v = NULL;
    if (!dead && vlen) {
        v = eng__memdup(m->mem, val, vlen);
        if (!v)
            return eng__nomem();
    }
    return put_node(m, key, klen, v, vlen, dead, 0, 0);
}

int eng__omap_put_at(eng__omap *m, const void *key, size_t klen, const void *val, size_t vlen, uint64_t foff)
{
    uint8_t *v = NULL;
    if (vlen && !(v = eng__memdup(m->mem, val, vlen)))
        return eng__nomem();
    return put_node(m, key, klen, v, vlen, 0, 0, foff);
}

int eng__omap_put_ref(eng__omap *m, const void *key, size_t klen, size_t vlen, uint64_t foff)
{
    return put_node(m, key, klen, NULL, vlen, 0, 1, foff);
}

void eng__omap_to_ref(eng__omap *m, eng__onode *n, uint64_t foff)
{
    eng__free(m->mem, n->val);
    n->val = NULL;
    n->in_file = 1;
    n->foff = foff;
}

int eng__omap_del(eng__omap *m, const void *key, size_t klen)
{
    eng__onode *l, *r;
    eng__onode *eq = split(m->root, key, klen, &l, &r);
    m->root = join(l, r);
    if (!eq)
        return 0;
    m->count--;
    m->bytes -= live_bytes(eq);
    m->enc -= enc_bytes(eq);
    free_node(m->mem, eq);
    return 1;
}

static void move_all(eng__omap *dst, eng__onode *n)
{
    while (n) {
        eng__onode *l = n->l, *r = n->r;
        n->l = n->r = NULL;
        move_all(dst, l);
        eng__onode *a, *b;
        eng__onode *old = split(dst->root, n->key, n->klen, &a, &b);
        dst->root = join(a, b);
        if (old) {
            dst->count--;
            dst->bytes -= live_bytes(old);
            dst->enc -= enc_bytes(old);
            free_node(dst->mem, old);
        }
        if (n->dead && !dst->keep_dead) {
            free_node(dst->mem, n);
        } else {
            dst->root = insert_node(dst->root, n);
            dst->count++;
            dst->bytes += live_bytes(n);
            dst->enc += enc_bytes(n);
        }
        n = r;
    }
}

void eng__omap_merge_into(eng__omap *dst, eng__omap *src)
{
    eng__onode *root = src->root;
    src->root = NULL;
    src->count = src->bytes = 0;
    src->enc = 0;
    move_all(dst, root);
}

static int scan_node(const eng__onode *n, const uint8_t *prefix, size_t plen, eng__omap_cb cb, void *user)
{
    while (n) {
        int c = eng__key_cmp(n->key, n->klen < plen ? n->klen : plen, prefix, plen);
        if (c < 0 || (c == 0 && n->klen < plen)) {
            /* n is before the prefix range: only its right subtree can match */
            n = n->r;
            continue;
        }
        if (c > 0) { /* after the range: only the left subtree can match */
            n = n->l;
            continue;
        }
        int rc = scan_node(n->l, prefix, plen, cb, user);
        if (rc)
            return rc;
        rc = cb(n, user);
        if (rc)
            return rc;
        n = n->r;
    }
    return 0;
}

int eng__omap_scan(const eng__omap *m, const void *prefix, size_t plen, eng__omap_cb cb, void *user)
{
    return scan_node(m->root, prefix, plen, cb, user);
}
