/* The suite must fail a backend that breaks the contract. Each variant here
 * wraps the memory store and breaks one property the way a real backend
 * might; the suite runs on it in a child process (its report thrown away) and
 * must count failures. The unbroken wrapper must pass. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "conformance.h"
#include "conf_ref.h"

enum flaw { NONE, NO_BATCHES, SIGNED_ORDER, EMPTY_IS_MISSING, PREFIX_NO_CARRY };
static enum flaw flaw;

typedef struct wrap {
    eng_store *in;
} wrap;

static int w_get(const void *k, size_t kl, eng_buf *o, void *u)
{
    eng_store *in = ((wrap *)u)->in;
    int rc = in->m.get(k, kl, o, in->user);
    if (rc == ENG_OK && flaw == EMPTY_IS_MISSING && o->len == 0)
        return ENG_ENOTFOUND; /* a NULL column read back as "no row" */
    return rc;
}
static int w_put(const void *k, size_t kl, const void *v, size_t vl, void *u)
{
    eng_store *in = ((wrap *)u)->in;
    return in->m.put(k, kl, v, vl, in->user);
}
static int w_del(const void *k, size_t kl, void *u)
{
    eng_store *in = ((wrap *)u)->in;
    return in->m.del(k, kl, in->user);
}

static int signed_cmp(const void *a, const void *b)
{
    const conf_kv *x = a, *y = b;
    size_t n = x->kl < y->kl ? x->kl : y->kl;
    for (size_t i = 0; i < n; i++)
        if ((signed char)x->k[i] != (signed char)y->k[i])
            return (signed char)x->k[i] < (signed char)y->k[i] ? -1 : 1;
    return x->kl < y->kl ? -1 : x->kl > y->kl;
}

static int w_scan(const void *p, size_t pl, eng_store_scan_fn cb, void *cbu, void *u)
{
    eng_store *in = ((wrap *)u)->in;
    if (flaw != SIGNED_ORDER && flaw != PREFIX_NO_CARRY)
        return in->m.scan(p, pl, cb, cbu, in->user);
    conf_ref all = {0};
    int rc = conf_scan_into(in, "", 0, &all);
    if (flaw == SIGNED_ORDER)
        qsort(all.e, all.n, sizeof *all.e, signed_cmp);
    /* PREFIX_NO_CARRY: the range [p, p with its last byte + 1), the byte wrapping at 0xff */
    uint8_t end[ENG_STORE_MAX_KEY];
    memcpy(end, p, pl);
    if (pl)
        end[pl - 1]++;
    for (size_t i = 0; rc == ENG_OK && i < all.n; i++) {
        const conf_kv *e = &all.e[i];
        int in_range = flaw == SIGNED_ORDER
                           ? e->kl >= pl && (pl == 0 || memcmp(e->k, p, pl) == 0)
                           : conf_keycmp(e->k, e->kl, p, pl) >= 0 && (pl == 0 || conf_keycmp(e->k, e->kl, end, pl) < 0);
        int c = in_range ? cb(e->k, e->kl, e->v, e->vl, cbu) : 0;
        if (c)
            rc = c < 0 ? c : 1;
    }
    conf_ref_free(&all);
    return rc > 0 ? ENG_OK : rc;
}

static int w_begin(void *u)
{
    eng_store *in = ((wrap *)u)->in;
    return flaw == NO_BATCHES ? ENG_OK : in->m.begin(in->user);
}
static int w_commit(void *u)
{
    eng_store *in = ((wrap *)u)->in;
    return flaw == NO_BATCHES ? ENG_OK : in->m.commit(in->user);
}
static int w_rollback(void *u)
{
    eng_store *in = ((wrap *)u)->in;
    return flaw == NO_BATCHES ? ENG_OK : in->m.rollback(in->user);
}
static void w_destroy(void *u)
{
    eng_store_free(((wrap *)u)->in);
    free(u);
}

static void *b_create(void *arg) { (void)arg; return (void *)1; }
static void b_destroy(void *ctx) { (void)ctx; }

static int b_open(void *ctx, const eng_allocator *alloc, eng_store **out)
{
    (void)ctx;
    static const eng_store_methods m = {ENG_STORE_METHODS_VERSION, w_get, w_put, w_del, w_scan,
                                        w_begin, w_commit, w_rollback, w_destroy, NULL, NULL};
    wrap *w = calloc(1, sizeof *w);
    int rc = eng_store_memory_new(NULL, &w->in);
    if (rc) {
        free(w);
        return rc;
    }
    return eng_store_new(&m, w, alloc, out);
}

/* Failed cases of the suite on the variant, run in a child with its output discarded. */
static int failures_with(enum flaw f)
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int null = open(getenv("CONF_BROKEN_LOG") ? getenv("CONF_BROKEN_LOG") : "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0644);
        dup2(null, 1);
        dup2(null, 2);
        flaw = f;
        static const conf_backend b = {"broken", 0, b_create, b_open, b_destroy, NULL};
        int n = conf_run(&b);
        _exit(n > 100 ? 100 : n);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    return WEXITSTATUS(st);
}

static void suite_fails_broken_backends(void **state)
{
    (void)state;
    assert_int_equal(failures_with(NONE), 0);
    static const struct {
        enum flaw f;
        const char *name;
    } flaws[] = {{NO_BATCHES, "batches not atomic, rollback ignored"},
                 {SIGNED_ORDER, "keys ordered as signed chars"},
                 {EMPTY_IS_MISSING, "an empty value read as absent"},
                 {PREFIX_NO_CARRY, "prefix upper bound without carry past 0xff"}};
    for (size_t i = 0; i < sizeof flaws / sizeof flaws[0]; i++) {
        int n = failures_with(flaws[i].f);
        printf("%-45s %d failing case(s)\n", flaws[i].name, n);
        if (n == 0)
            fail_msg("the suite passed a backend with %s", flaws[i].name);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(suite_fails_broken_backends)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
