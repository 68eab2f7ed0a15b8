#include "test_store.h"
#include "test_alloc.h"
#include "store/kvmem.h"
#include "store/store_impl.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

struct test_store {
    eng__mem mem;
    eng__kvmem kv;
    uint64_t calls[8], counted, fail_at, failures;
    unsigned fail_mask;
    int persistent, mode;
    uint64_t erased_calls, erased_keys; /* storage contract v2 `erased` */
    int (*changes_fn)(void *);          /* contract v3 `changes`, when a test sets it */
    void *changes_user;
    int trace; /* test_store_trace() */
    /* test_store_before() */
    unsigned before_mask;
    const char *before_prefix;
    void (*before_fn)(void *);
    void *before_user;
    void (*read_fn)(const void *, size_t, void *); /* test_store_on_read() */
    void *read_user;
    /* the get or scan whose injected failure fired last, and whether it was made again since */
    unsigned failed_verb;
    uint8_t failed_key[256];
    size_t failed_klen;
    int read_again;
    /* A clone notes the keys written since it was made (or restored), so that
     * test_store_restore() puts back only those; past DIRTY_MAX, all of them. */
    int track, dirty_all;
    struct dirty {
        size_t klen;
        uint8_t *key;
    } *dirty;
    size_t ndirty, dirty_cap;
};

#define DIRTY_MAX 4096

static void dirty_forget(test_store *ts)
{
    for (size_t i = 0; i < ts->ndirty; i++)
        free(ts->dirty[i].key);
    free(ts->dirty); /* freed each time: a fuzz input's allocations and frees stay even */
    ts->dirty = NULL;
    ts->ndirty = ts->dirty_cap = 0;
    ts->dirty_all = 0;
}

static void dirty_note(test_store *ts, const void *k, size_t kl)
{
    if (!ts->track || ts->dirty_all)
        return;
    if (ts->ndirty == DIRTY_MAX) {
        dirty_forget(ts);
        ts->dirty_all = 1;
        return;
    }
    if (ts->ndirty == ts->dirty_cap) {
        size_t cap = ts->dirty_cap ? 2 * ts->dirty_cap : 32;
        struct dirty *d = realloc(ts->dirty, cap * sizeof *d);
        if (!d)
            abort();
        ts->dirty = d;
        ts->dirty_cap = cap;
    }
    uint8_t *copy = malloc(kl ? kl : 1);
    if (!copy)
        abort();
    memcpy(copy, k, kl);
    ts->dirty[ts->ndirty].key = copy;
    ts->dirty[ts->ndirty++].klen = kl;
}

static int verb_index(unsigned v)
{
    int i = 0;
    while (!(v & 1u)) {
        v >>= 1;
        i++;
    }
    return i;
}

/* Returns 1 when this call must fail. */
static int tick(test_store *ts, unsigned verb)
{
    ts->calls[verb_index(verb)]++;
    if (ts->trace && (verb & (TV_BEGIN | TV_COMMIT | TV_ROLLBACK)))
        fprintf(stderr, "  store %s\n", verb == TV_BEGIN ? "begin" : verb == TV_COMMIT ? "commit" : "rollback");
    if (!(ts->fail_mask & verb) || !ts->fail_at)
        return 0;
    ts->counted++;
    if (ts->counted == ts->fail_at || (ts->persistent && ts->counted > ts->fail_at)) {
        ts->failures++;
        return 1;
    }
    return 0;
}

static int injected(void)
{
    eng_error_set(ENG_ESTORAGE, "injected storage failure");
    return ENG_ESTORAGE;
}

static void trace_key(const test_store *ts, const char *verb, const void *k, size_t kl)
{
    if (!ts->trace)
        return;
    fprintf(stderr, "  store %s ", verb);
    for (size_t i = 0; i < kl; i++) {
        unsigned char c = ((const unsigned char *)k)[i];
        fprintf(stderr, c >= 0x20 && c < 0x7f ? "%c" : "\\x%02x", c);
    }
    fprintf(stderr, "\n");
}

/* test_store_before(): the hook is cleared first, so the calls it makes pass through. */
static void before(test_store *ts, unsigned verb, const void *k, size_t kl)
{
    size_t pl = ts->before_fn ? strlen(ts->before_prefix) : 0;
    if (!ts->before_fn || !(ts->before_mask & verb) || kl < pl || memcmp(k, ts->before_prefix, pl) != 0)
        return;
    void (*fn)(void *) = ts->before_fn;
    ts->before_fn = NULL;
    fn(ts->before_user);
}

void test_store_before(test_store *ts, unsigned mask, const char *prefix, void (*fn)(void *), void *user)
{
    ts->before_mask = mask;
    ts->before_prefix = prefix;
    ts->before_fn = fn;
    ts->before_user = user;
}

void test_store_on_read(test_store *ts, void (*fn)(const void *key, size_t klen, void *user), void *user)
{
    ts->read_fn = fn;
    ts->read_user = user;
}

/* test_store_read_again(): a get or scan of the key (prefix) whose read failed last. */
static void read_note(test_store *ts, unsigned verb, const void *k, size_t kl)
{
    if (ts->failed_verb == verb && ts->failed_klen == kl && memcmp(ts->failed_key, k, kl) == 0)
        ts->read_again = 1;
}

static int read_failed(test_store *ts, unsigned verb, const void *k, size_t kl)
{
    ts->failed_verb = kl <= sizeof ts->failed_key ? verb : 0;
    ts->failed_klen = kl;
    memcpy(ts->failed_key, k, kl <= sizeof ts->failed_key ? kl : 0);
    ts->read_again = 0;
    return injected();
}

static int s_get(const void *k, size_t kl, eng_buf *o, void *u)
{
    test_store *ts = u;
    trace_key(ts, "get", k, kl);
    before(ts, TV_GET, k, kl);
    if (ts->read_fn)
        ts->read_fn(k, kl, ts->read_user);
    read_note(ts, TV_GET, k, kl);
    if (!tick(ts, TV_GET))
        return eng__kvmem_get(&ts->kv, k, kl, o);
    if (ts->mode != TF_FLIP)
        return read_failed(ts, TV_GET, k, kl);
    int rc = eng__kvmem_get(&ts->kv, k, kl, o); /* the read "succeeds" with one bit flipped */
    if (rc == ENG_OK && o->len)
        o->data[o->len / 2] ^= 0x10;
    return rc;
}
static int s_put(const void *k, size_t kl, const void *v, size_t vl, void *u)
{
    test_store *ts = u;
    trace_key(ts, "put", k, kl);
    dirty_note(ts, k, kl);
    return tick(ts, TV_PUT) ? injected() : eng__kvmem_put(&ts->kv, k, kl, v, vl);
}
static int s_del(const void *k, size_t kl, void *u)
{
    test_store *ts = u;
    trace_key(ts, "del", k, kl);
    dirty_note(ts, k, kl);
    return tick(ts, TV_DEL) ? injected() : eng__kvmem_del(&ts->kv, k, kl);
}
typedef struct scan_tap {
    test_store *ts;
    eng_store_scan_fn cb;
    void *cbu;
    int cut; /* the scan stopped early by injection */
} scan_tap;

/* Between the memory map and the engine's callback: per-item faults and test_store_on_read(). */
static int tap_item(const void *k, size_t kl, const void *v, size_t vl, void *user)
{
    scan_tap *t = user;
    if (t->ts->read_fn)
        t->ts->read_fn(k, kl, t->ts->read_user);
    if (!tick(t->ts, TV_SCAN_ITEM))
        return t->cb(k, kl, v, vl, t->cbu);
    if (t->ts->mode != TF_FLIP || !vl) {
        t->cut = 1;
        return -1; /* stop: the scan reports the injected error below */
    }
    uint8_t *copy = malloc(vl);
    if (!copy)
        abort();
    memcpy(copy, v, vl);
    copy[vl / 2] ^= 0x10;
    int rc = t->cb(k, kl, copy, vl, t->cbu);
    free(copy);
    return rc;
}

static int s_scan(const void *p, size_t pl, eng_store_scan_fn cb, void *cbu, void *u)
{
    test_store *ts = u;
    trace_key(ts, "scan", p, pl);
    before(ts, TV_SCAN, p, pl);
    read_note(ts, TV_SCAN, p, pl);
    if (tick(ts, TV_SCAN))
        return read_failed(ts, TV_SCAN, p, pl);
    if ((!(ts->fail_mask & TV_SCAN_ITEM) || !ts->fail_at) && !ts->read_fn)
        return eng__kvmem_scan(&ts->kv, p, pl, cb, cbu);
    scan_tap t = {ts, cb, cbu, 0};
    int rc = eng__kvmem_scan(&ts->kv, p, pl, tap_item, &t);
    return t.cut ? read_failed(ts, TV_SCAN, p, pl) : rc;
}
static int s_begin(void *u)
{
    test_store *ts = u;
    return tick(ts, TV_BEGIN) ? injected() : eng__kvmem_begin(&ts->kv);
}
static int s_commit(void *u)
{
    test_store *ts = u;
    if (tick(ts, TV_COMMIT)) {
        if (ts->mode == TF_COMMITTED_ERROR)
            eng__kvmem_commit(&ts->kv);
        return injected();
    }
    return eng__kvmem_commit(&ts->kv);
}
static int s_rollback(void *u)
{
    test_store *ts = u;
    (void)tick(ts, TV_ROLLBACK); /* rollback always works: a failed one would wedge the test */
    return ts->kv.in_batch ? eng__kvmem_rollback(&ts->kv) : ENG_OK;
}

test_store *test_store_new(void)
{
    test_store *ts = calloc(1, sizeof(*ts));
    eng__mem_init(&ts->mem, NULL); /* the data is the host's, not the engine's */
    eng__kvmem_init(&ts->kv, &ts->mem);
    return ts;
}

void test_store_free(test_store *ts)
{
    if (!ts)
        return;
    eng__kvmem_clear(&ts->kv);
    dirty_forget(ts);
    free(ts);
}

test_store *test_store_clone(test_store *ts)
{
    test_store *c = test_store_new();
    if (c && eng__omap_copy(&c->kv.main, &ts->kv.main) != ENG_OK) {
        test_store_free(c);
        c = NULL;
    }
    if (c)
        c->track = 1;
    return c;
}

int test_store_restore(test_store *ts, test_store *from)
{
    if (ts->kv.in_batch)
        eng__kvmem_rollback(&ts->kv);
    int rc = ENG_OK;
    if (ts->dirty_all || !ts->track) {
        rc = eng__omap_copy(&ts->kv.main, &from->kv.main);
    } else {
        for (size_t i = 0; i < ts->ndirty && rc == ENG_OK; i++) {
            const struct dirty *d = &ts->dirty[i];
            const eng__onode *n = eng__omap_find(&from->kv.main, d->key, d->klen);
            if (n && !n->dead)
                rc = eng__omap_put(&ts->kv.main, d->key, d->klen, n->val, n->vlen, 0);
            else
                eng__omap_del(&ts->kv.main, d->key, d->klen);
        }
    }
    dirty_forget(ts);
    ts->track = 1;
    return rc;
}

static int s_erased(const void *const *keys, const size_t *lens, size_t n, void *u)
{
    (void)keys;
    (void)lens;
    test_store *ts = u;
    ts->erased_calls++;
    ts->erased_keys += n;
    return ENG_OK;
}

uint64_t test_store_erased(const test_store *ts, uint64_t *keys)
{
    if (keys)
        *keys = ts->erased_keys;
    return ts->erased_calls;
}

/* Calls the test's function and reports no change: one engine, as if shared. */
static int s_changes(uint64_t *cursor, eng_store_change_fn cb, void *cb_user, void *user)
{
    (void)cursor, (void)cb, (void)cb_user;
    test_store *ts = user;
    return ts->changes_fn(ts->changes_user);
}

void test_store_set_changes(test_store *ts, int (*fn)(void *user), void *user)
{
    ts->changes_fn = fn;
    ts->changes_user = user;
}

eng_store *test_store_handle(test_store *ts)
{
    static const eng_store_methods m = {ENG_STORE_METHODS_VERSION, s_get, s_put, s_del, s_scan,
                                        s_begin, s_commit, s_rollback, NULL, s_erased, NULL};
    static const eng_store_methods mc = {ENG_STORE_METHODS_VERSION, s_get, s_put, s_del, s_scan,
                                         s_begin, s_commit, s_rollback, NULL, s_erased, s_changes};
    eng_store *s = NULL;
    if (eng_store_new(ts->changes_fn ? &mc : &m, ts, test_alloc_get(), &s) != ENG_OK)
        return NULL;
    return s;
}

int test_store_open(test_store *ts, const eng_allocator *alloc, eng_engine **out)
{
    *out = NULL;
    eng_config cfg;
    eng_config_init(&cfg, ENG_CONFIG_VERSION);
    cfg.allocator = alloc;
    if (!(cfg.store = test_store_handle(ts)))
        return ENG_ENOMEM;
    return eng_open(&cfg, out);
}

void test_store_fail(test_store *ts, unsigned mask, uint64_t nth, int persistent, int mode)
{
    ts->fail_mask = mask;
    ts->fail_at = nth;
    ts->counted = 0;
    ts->persistent = persistent;
    ts->mode = mode;
}

void test_store_nofail(test_store *ts) { test_store_fail(ts, 0, 0, 0, TF_ERROR); }

uint64_t test_store_calls(const test_store *ts, unsigned mask)
{
    uint64_t n = 0;
    for (int i = 0; i < 8; i++)
        if (mask & (1u << i))
            n += ts->calls[i];
    return n;
}

uint64_t test_store_failures(const test_store *ts) { return ts->failures; }

void test_store_trace(test_store *ts, int on) { ts->trace = on; }

int test_store_read_again(const test_store *ts) { return ts->read_again; }

void test_store_crash(test_store *ts)
{
    if (ts->kv.in_batch)
        eng__kvmem_rollback(&ts->kv);
}

size_t test_store_count(const test_store *ts) { return ts->kv.main.count; }

typedef struct nth_walk {
    size_t left;
    const eng__onode *hit;
} nth_walk;

static int nth_cb(const eng__onode *n, void *user)
{
    nth_walk *w = user;
    if (n->dead)
        return 0;
    if (w->left-- == 0) {
        w->hit = n;
        return 1;
    }
    return 0;
}

typedef struct raw_walk {
    int (*fn)(const void *key, size_t klen, const void *val, size_t vlen, void *user);
    void *user;
} raw_walk;

static int raw_cb(const eng__onode *n, void *user)
{
    raw_walk *w = user;
    return n->dead ? 0 : w->fn(n->key, n->klen, n->val ? n->val : (const uint8_t *)"", n->vlen, w->user);
}

int test_store_scan_raw(test_store *ts, int (*fn)(const void *key, size_t klen, const void *val, size_t vlen,
                                                   void *user), void *user)
{
    raw_walk w = {fn, user};
    return eng__omap_scan(&ts->kv.main, "", 0, raw_cb, &w);
}

const uint8_t *test_store_key_at(test_store *ts, size_t i, size_t *klen)
{
    nth_walk w = {i, NULL};
    eng__omap_scan(&ts->kv.main, "", 0, nth_cb, &w);
    *klen = w.hit ? w.hit->klen : 0;
    return w.hit ? w.hit->key : NULL;
}

int test_store_raw_get(test_store *ts, const char *key, uint8_t **val, size_t *len)
{
    return test_store_raw_get_bin(ts, key, strlen(key), val, len);
}

int test_store_raw_get_bin(test_store *ts, const void *key, size_t klen, uint8_t **val, size_t *len)
{
    const eng__onode *n = eng__omap_find(&ts->kv.main, key, klen);
    if (!n || n->dead)
        return ENG_ENOTFOUND;
    *val = malloc(n->vlen ? n->vlen : 1);
    memcpy(*val, n->val, n->vlen);
    *len = n->vlen;
    return ENG_OK;
}

int test_store_raw_put(test_store *ts, const char *key, const void *val, size_t len)
{
    return test_store_raw_put_bin(ts, key, strlen(key), val, len);
}

int test_store_raw_put_bin(test_store *ts, const void *key, size_t klen, const void *val, size_t len)
{
    return eng__omap_put(&ts->kv.main, key, klen, val, len, 0);
}

typedef struct grep_ctx {
    const void *needle;
    size_t n;
    int found;
} grep_ctx;

static int grep_cb(const void *k, size_t kl, const void *v, size_t vl, void *u)
{
    grep_ctx *g = u;
    if ((kl >= g->n && memmem(k, kl, g->needle, g->n)) || (vl >= g->n && memmem(v, vl, g->needle, g->n))) {
        g->found = 1;
        return 1;
    }
    return 0;
}

int test_store_grep(test_store *ts, const void *bytes, size_t n)
{
    grep_ctx g = {bytes, n, 0};
    eng__kvmem_scan(&ts->kv, "", 0, grep_cb, &g);
    return g.found;
}

void test_store_assert_same(test_store *a, test_store *b, const char *value_prefix)
{
    assert_int_equal(test_store_count(a), test_store_count(b));
    size_t pl = value_prefix ? strlen(value_prefix) : 0;
    for (size_t i = 0; i < test_store_count(a); i++) {
        size_t ka, kb, va, vb;
        const uint8_t *k1 = test_store_key_at(a, i, &ka), *k2 = test_store_key_at(b, i, &kb);
        assert_int_equal(ka, kb);
        assert_memory_equal(k1, k2, ka);
        if (!value_prefix || ka < pl || memcmp(k1, value_prefix, pl))
            continue;
        uint8_t *v1, *v2;
        assert_int_equal(test_store_raw_get_bin(a, k1, ka, &v1, &va), 0);
        assert_int_equal(test_store_raw_get_bin(b, k2, kb, &v2, &vb), 0);
        if (va != vb || memcmp(v1, v2, va))
            fail_msg("key '%.*s' differs (%zu, %zu bytes)", (int)ka, (const char *)k1, va, vb);
        free(v1);
        free(v2);
    }
}
