/* Nesting costs no stack: the deepest rule every nesting form allows at the
 * largest max_depth (1000) compiles, prints as canonical text, serialises,
 * loads back and is saved and loaded, all on a thread created with a 128 KiB
 * stack (musl's default) -- in the normal and the sanitizer builds. One level
 * more is ENG_ETOOBIG. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "rules_test_util.h"

#define MAXD 1000
#define STACK (128 * 1024)

typedef struct job {
    eng_engine *e;
    const char *text;
    unsigned depth;
    int rc_compile, rc_text, rc_ser, rc_deser, rc_save, rc_load, rc_recompile;
    int same_text;
    char msg[256]; /* the thread's eng_error_last() */
} job;

static char *canon(const eng_rule *r)
{
    size_t need = 0;
    if (eng_rule_text(r, NULL, 0, &need) != ENG_ERANGE)
        return NULL;
    char *s = malloc(need);
    if (s && eng_rule_text(r, s, need, NULL) != ENG_OK) {
        free(s);
        return NULL;
    }
    return s;
}

static void *run_job(void *arg)
{
    job *j = arg;
    eng_rule_options o = rt_opts();
    o.max_depth = j->depth;
    o.max_nodes = 1000000;
    eng_rule *r = NULL, *r2 = NULL, *r3 = NULL, *r4 = NULL;
    j->rc_compile = eng_rule_compile(j->e, j->text, &o, &r);
    snprintf(j->msg, sizeof j->msg, "%s", eng_error_last()->message);
    if (j->rc_compile)
        return NULL;
    char *t1 = canon(r);
    j->rc_text = t1 ? ENG_OK : ENG_ERROR;
    void *blob = NULL;
    size_t len = 0;
    j->rc_ser = eng_rule_serialize(r, &blob, &len);
    if (!j->rc_ser)
        j->rc_deser = eng_rule_deserialize(j->e, blob, len, &o, &r2);
    j->rc_save = eng_rule_save(r, "deep");
    if (!j->rc_save)
        j->rc_load = eng_rule_load(j->e, "deep", &o, &r3);
    if (t1)
        j->rc_recompile = eng_rule_compile(j->e, t1, &o, &r4);
    char *t2 = r2 ? canon(r2) : NULL, *t3 = r3 ? canon(r3) : NULL, *t4 = r4 ? canon(r4) : NULL;
    j->same_text = t1 && t2 && t3 && t4 && !strcmp(t1, t2) && !strcmp(t1, t3) && !strcmp(t1, t4);
    free(t1);
    free(t2);
    free(t3);
    free(t4);
    eng_free(j->e, blob);
    eng_rule_free(r);
    eng_rule_free(r2);
    eng_rule_free(r3);
    eng_rule_free(r4);
    return NULL;
}

static void on_small_stack(job *j)
{
    pthread_attr_t attr;
    pthread_t th;
    assert_int_equal(pthread_attr_init(&attr), 0);
    assert_int_equal(pthread_attr_setstacksize(&attr, STACK), 0);
    assert_int_equal(pthread_create(&th, &attr, run_job, j), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    pthread_attr_destroy(&attr);
}

/* open^n core close^n */
static char *nest(const char *open, const char *core, const char *close, unsigned n)
{
    size_t lo = strlen(open), lc = strlen(close), lcore = strlen(core);
    char *s = malloc(n * (lo + lc) + lcore + 1), *p = s;
    for (unsigned i = 0; i < n; i++, p += lo)
        memcpy(p, open, lo);
    memcpy(p, core, lcore);
    p += lcore;
    for (unsigned i = 0; i < n; i++, p += lc)
        memcpy(p, close, lc);
    *p = 0;
    return s;
}

static char *wrap(const char *pre, char *mid, const char *post)
{
    char *s = malloc(strlen(pre) + strlen(mid) + strlen(post) + 1);
    sprintf(s, "%s%s%s", pre, mid, post);
    free(mid);
    return s;
}

static char *wrap8(char *mid)
{
    char *pre = nest("any(i in items, ", "", "", 8), *s = wrap(pre, mid, "))))))))");
    free(pre);
    return s;
}

/* The deepest text of one form: n levels of nesting (n = MAXD accepted). */
static char *form(int k, unsigned n)
{
    switch (k) {
    case 0: return nest("(", "vip", ")", n);                                   /* parentheses */
    case 1: return nest("not ", "vip", "", n);                                 /* not */
    case 2: return wrap("", nest("lower(", "city", ")", n), " == \"pune\"");   /* calls */
    case 3: return wrap("tier in (\"a\", ", nest("(", "upper(\"b\")", ")", n - 1), ")"); /* in items */
    case 4: return nest("vip == (", "vip", ")", n);                            /* comparison chains */
    case 5: return wrap("any(i in items, ", nest("(", "i == tier", ")", n - 1), ")");    /* any() */
    case 6: return nest("vip and (tier == \"x\" or (", "vip", "))", n / 2);     /* and/or */
    case 7: return nest("not (city not contains \"x\" and ", "vip", ")", n / 2); /* not contains */
    case 8: /* any() in any(), each with a deep condition */
        return wrap8(nest("(", "i == tier", ")", n - 8));
    default: return nest("(", "birthday < today()", ")", n - 1); /* now-dependent constants */
    }
}

static void deepest_rules_on_small_stack(void **st)
{
    (void)st;
    test_alloc_reset();
    eng_engine *e = rt_engine();
    for (int k = 0; k < 10; k++) {
        char *text = form(k, MAXD);
        job j = {e, text, MAXD, -1, -1, -1, -1, -1, -1, -1, 0, ""};
        on_small_stack(&j);
        if (j.rc_compile || j.rc_text || j.rc_ser || j.rc_deser || j.rc_save || j.rc_load || j.rc_recompile ||
            !j.same_text)
            fail_msg("form %d: compile %d text %d serialize %d deserialize %d save %d load %d recompile %d same %d (%s)",
                     k, j.rc_compile, j.rc_text, j.rc_ser, j.rc_deser, j.rc_save, j.rc_load, j.rc_recompile,
                     j.same_text, j.msg);
        free(text);
        /* one level deeper is refused, not a crash */
        text = form(k, MAXD + (k == 6 || k == 7 ? 2 : 1));
        job too = {e, text, MAXD, -1, -1, -1, -1, -1, -1, -1, 0, ""};
        on_small_stack(&too);
        if (too.rc_compile != ENG_ETOOBIG)
            fail_msg("form %d one level deeper: %d, want ENG_ETOOBIG", k, too.rc_compile);
        free(text);
    }
    eng_close(e);
    test_alloc_assert_clean();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(deepest_rules_on_small_stack),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
