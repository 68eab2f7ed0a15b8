/* The change feed of the storage contract v3 (`changes`), checked the same
 * way for every backend whose handles share a location: what the library
 * relies on in docs/storage-backends.md, "Several engines on one database".
 * Each backend's test opens the two handles and says how its log is marked
 * pruned; the expected prefixes are the examples' logging rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "conformance.h"
#include "store/store_impl.h"

static int seen_cb(const void *key, size_t klen, void *u)
{
    conf_seen *x = u;
    assert_true(klen < sizeof x->keys[0] && x->n < 16);
    memcpy(x->keys[x->n], key, klen);
    x->keys[x->n++][klen] = 0;
    return 0;
}

conf_seen conf_poll(eng_store *s, uint64_t *cursor)
{
    conf_seen x = {.n = 0};
    assert_int_equal(s->m.changes(cursor, seen_cb, &x, s->user), ENG_OK);
    return x;
}

void conf_change_feed(eng_store *a, eng_store *b, void (*prune)(void *ctx, uint64_t upto), void *ctx)
{
    assert_true(eng__kv_shared(a) && eng__kv_shared(b));
    uint64_t ca = 0, cb = 0;
    assert_int_equal(a->m.changes(&ca, NULL, NULL, a->user), ENG_OK);
    assert_int_equal(b->m.changes(&cb, NULL, NULL, b->user), ENG_OK);
    assert_int_equal(eng__kv_begin(a), ENG_OK);
    assert_int_equal(eng__kv_put(a, "a/1", 3, "x", 1), ENG_OK);
    assert_int_equal(eng__kv_put(a, "a/2", 3, "x", 1), ENG_OK);
    assert_int_equal(eng__kv_del(a, "d/l/0000000000000001/00000000/00000002", 38), ENG_OK); /* whole */
    assert_int_equal(eng__kv_commit(a), ENG_OK);
    assert_int_equal(eng__kv_put(a, "e/0001/t/c/0000000000000002", 27, "y", 1), ENG_OK); /* outside a batch: logged too */
    assert_int_equal(eng__kv_begin(a), ENG_OK);
    assert_int_equal(eng__kv_put(a, "m/1", 3, "z", 1), ENG_OK);
    assert_int_equal(eng__kv_rollback(a), ENG_OK);
    conf_seen x = conf_poll(b, &cb);
    assert_int_equal(x.n, 3);
    assert_string_equal(x.keys[0], "a/");
    assert_string_equal(x.keys[1], "d/l/0000000000000001/00000000/00000002");
    assert_string_equal(x.keys[2], "e/0001/t/c/"); /* events: to the fourth '/' */
    assert_int_equal(conf_poll(b, &cb).n, 0); /* once */
    assert_int_equal(conf_poll(a, &ca).n, 0); /* its own */
    assert_int_equal(eng__kv_put(b, "r/1", 3, "w", 1), ENG_OK);
    x = conf_poll(a, &ca);
    assert_int_equal(x.n, 1);
    assert_string_equal(x.keys[0], "r/");
    prune(ctx, ca + 5); /* pruned past a's cursor: the empty key */
    x = conf_poll(a, &ca);
    assert_int_equal(x.n, 1);
    assert_string_equal(x.keys[0], "");
}
