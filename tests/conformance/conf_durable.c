/* The conformance cases about durability: data outlives the handle, a handle
 * released with an open batch drops it, and a writer SIGKILLed inside a batch
 * (or at a random moment, commit included) leaves every batch whole or absent
 * and never loses one it saw committed. The killed writer is a forked child
 * that opens its own handle; it reports progress through a pipe. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "conf_internal.h"
#include "store/record.h"
#include "test_alloc.h"
#include "test_util.h"

void conf_reopen_persists(void **state)
{
    conf_need_persistent();
    conf_ref r = {0};
    eng_store *s = conf_open(*state);
    assert_int_equal(eng__kv_begin(s), ENG_OK);
    for (int i = 0; i < 5; i++) {
        char k[8] = {'p', '/', (char)('0' + i), 0};
        assert_int_equal(eng__kv_put(s, k, 3, "batch", 5), ENG_OK);
        conf_ref_put(&r, k, 3, "batch", 5);
    }
    assert_int_equal(eng__kv_commit(s), ENG_OK);
    assert_int_equal(eng__kv_put(s, "solo", 4, "", 0), ENG_OK); /* writes outside a batch persist */
    conf_ref_put(&r, "solo", 4, "", 0);
    assert_int_equal(eng__kv_put(s, "gone", 4, "1", 1), ENG_OK);
    assert_int_equal(eng__kv_del(s, "gone", 4), ENG_OK);      /* and so do deletes */
    assert_int_equal(eng__kv_del(s, "p/3", 3), ENG_OK);
    conf_ref_del(&r, "p/3", 3);
    assert_int_equal(eng__kv_begin(s), ENG_OK);
    assert_int_equal(eng__kv_put(s, "rolled", 6, "x", 1), ENG_OK);
    assert_int_equal(eng__kv_del(s, "p/1", 3), ENG_OK);
    assert_int_equal(eng__kv_rollback(s), ENG_OK);
    conf_close(s);

    s = conf_open(*state);
    conf_assert_equals(s, &r);
    assert_int_equal(eng__kv_put(s, "p/0", 3, "second", 6), ENG_OK);
    conf_ref_put(&r, "p/0", 3, "second", 6);
    conf_close(s);
    s = conf_open(*state);
    conf_assert_equals(s, &r);
    conf_close(s);
    conf_ref_free(&r);
}

void conf_free_with_open_batch(void **state)
{
    eng_store *s = conf_open(*state);
    assert_int_equal(eng__kv_put(s, "base", 4, "1", 1), ENG_OK);
    assert_int_equal(eng__kv_begin(s), ENG_OK);
    assert_int_equal(eng__kv_put(s, "lost", 4, "1", 1), ENG_OK);
    assert_int_equal(eng__kv_del(s, "base", 4), ENG_OK);
    conf_close(s); /* rolls the batch back, then destroys the backend */
    if (!conf_cur->persistent)
        return;
    conf_ref r = {0};
    conf_ref_put(&r, "base", 4, "1", 1);
    s = conf_open(*state);
    conf_assert_equals(s, &r);
    conf_close(s);
    conf_ref_free(&r);
}

/* ---- the killed writer ---- */

#define NCOL 16        /* keys every batch rewrites */
#define COLSZ 2048     /* their value size: commits big enough to be hit */

static void col_val(int i, char *v)
{
    int n = snprintf(v, COLSZ, "%d:", i);
    memset(v + n, 'a' + i % 26, (size_t)(COLSZ - n));
}

/* The state after batches 1..k, written plainly: batch i rewrites c/00..c/15
 * with i, adds h/i, removes h/(i-3), and sets counter to i. */
static void ref_after(int k, conf_ref *r)
{
    conf_ref_free(r);
    char v[COLSZ], key[16];
    for (int i = 1; i <= k; i++) {
        snprintf(key, sizeof key, "h/%06d", i);
        conf_ref_put(r, key, strlen(key), key + 2, 6);
        if (i > 3) {
            snprintf(key, sizeof key, "h/%06d", i - 3);
            conf_ref_del(r, key, strlen(key));
        }
    }
    if (k == 0)
        return;
    col_val(k, v);
    for (int c = 0; c < NCOL; c++) {
        snprintf(key, sizeof key, "c/%02d", c);
        conf_ref_put(r, key, strlen(key), v, COLSZ);
    }
    snprintf(v, sizeof v, "%d", k);
    conf_ref_put(r, "counter", 7, v, strlen(v));
}

static int write_batch(eng_store *s, int i)
{
    char v[COLSZ], key[16];
    int rc = eng__kv_begin(s);
    col_val(i, v);
    for (int c = 0; c < NCOL && rc == ENG_OK; c++) {
        snprintf(key, sizeof key, "c/%02d", c);
        rc = eng__kv_put(s, key, strlen(key), v, COLSZ);
    }
    snprintf(key, sizeof key, "h/%06d", i);
    if (rc == ENG_OK)
        rc = eng__kv_put(s, key, strlen(key), key + 2, 6);
    if (rc == ENG_OK && i > 3) {
        snprintf(key, sizeof key, "h/%06d", i - 3);
        rc = eng__kv_del(s, key, strlen(key));
    }
    snprintf(v, sizeof v, "%d", i);
    if (rc == ENG_OK)
        rc = eng__kv_put(s, "counter", 7, v, strlen(v));
    return rc ? rc : eng__kv_commit(s);
}

static int read_counter(eng_store *s)
{
    eng__val v;
    int rc = eng__kv_get(s, "counter", 7, &v);
    if (rc == ENG_ENOTFOUND)
        return 0;
    assert_int_equal(rc, ENG_OK);
    char c[16] = {0};
    memcpy(c, v.data, v.len < 15 ? v.len : 15);
    eng__val_free(s, &v);
    return atoi(c);
}

/* Child: from batch k0+1 on, commit batches and write one byte to @p fd after
 * each; with @p hold_open, stop inside the next batch after half its writes
 * and wait there to be killed. Never returns. */
static void writer(void *ctx, int k0, int nbatch, int hold_open, int fd)
{
    eng_store *s = NULL;
    if (conf_cur->open(ctx, NULL, &s) != ENG_OK) {
        fprintf(stderr, "child open: %s\n", eng_error_last()->message);
        _exit(2);
    }
    for (int i = k0 + 1; i <= k0 + nbatch; i++) {
        int rc = write_batch(s, i);
        if (rc) {
            fprintf(stderr, "child batch %d: %d %s\n", i, rc, eng_error_last()->message);
            _exit(3);
        }
        if (write(fd, "b", 1) != 1)
            _exit(4);
    }
    if (hold_open) {
        char v[COLSZ];
        col_val(k0 + nbatch + 1, v);
        if (eng__kv_begin(s) || eng__kv_put(s, "c/00", 4, v, COLSZ) || eng__kv_del(s, "c/01", 4) ||
            eng__kv_put(s, "counter", 7, "999", 3) || eng__kv_put(s, "new", 3, "1", 1))
            _exit(5);
        if (write(fd, "o", 1) != 1)
            _exit(4);
        for (;;)
            pause();
    }
    _exit(0);
}

typedef struct killed {
    int acked; /* batches the child saw committed */
    int open;  /* the child reported holding a batch open */
} killed;

/* Fork a writer; kill it after @p kill_after acknowledgements (<0: when it
 * holds a batch open) and a short random delay; collect what it reported. */
static killed run_and_kill(void *ctx, int k0, int kill_after, unsigned delay_us)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        if (kill_after < 0)
            writer(ctx, k0, 2, 1, p[1]);
        writer(ctx, k0, 100000, 0, p[1]);
    }
    close(p[1]);
    killed k = {0};
    char b;
    while ((kill_after < 0 ? !k.open : k.acked < kill_after) && read(p[0], &b, 1) == 1) {
        k.acked += b == 'b';
        k.open |= b == 'o';
    }
    if (delay_us)
        usleep(delay_us);
    kill(pid, SIGKILL);
    while (read(p[0], &b, 1) == 1) {
        k.acked += b == 'b';
        k.open |= b == 'o';
    }
    close(p[0]);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (!WIFSIGNALED(st))
        fail_msg("%s: the writer exited with %d before it was killed", conf_cur->name, WEXITSTATUS(st));
    return k;
}

void conf_killed_inside_batch(void **state)
{
    conf_need_persistent();
    killed k = run_and_kill(*state, 0, -1, 0);
    assert_int_equal(k.acked, 2);
    assert_true(k.open);
    conf_ref want = {0};
    ref_after(2, &want);
    eng_store *s = conf_open(*state);
    conf_assert_equals(s, &want); /* none of the open batch */
    assert_int_equal(write_batch(s, 3), ENG_OK); /* and the store takes writes again */
    ref_after(3, &want);
    conf_assert_equals(s, &want);
    conf_close(s);
    conf_ref_free(&want);
}

void conf_killed_at_random_points(void **state)
{
    conf_need_persistent();
    conf_ref want = {0};
    unsigned seed = 7;
    int k = 0;
    for (int round = 0; round < 6; round++) {
        seed = seed * 1103515245u + 12345u;
        killed kd = run_and_kill(*state, k, 2 + round * 3, (seed >> 16) % 3000);
        eng_store *s = conf_open(*state);
        int now = read_counter(s);
        /* Every acknowledged batch is there; at most the one in flight beyond. */
        if (now < k + kd.acked || now > k + kd.acked + 1)
            fail_msg("%s: %d batches after %d acknowledged on top of %d", conf_cur->name, now, kd.acked, k);
        ref_after(now, &want);
        conf_assert_equals(s, &want); /* exactly batches 1..now, each whole */
        conf_close(s);
        k = now;
    }
    conf_ref_free(&want);
}

/* The backend under an engine: eng_open takes the handle over and eng_close
 * releases it; a record written through one engine is read by the next. */
void conf_engine_round_trip(void **state)
{
    eng_store *s = conf_open(*state);
    conf_forget(s);
    eng_engine *e = test_engine_open(s);
    assert_int_equal(eng__rec_put(s, ENG__K("t/1"), ENG__REC_TEST, 1, "hello", 5), ENG_OK);
    eng_close(e);
    if (!conf_cur->persistent)
        return;
    s = conf_open(*state);
    conf_forget(s);
    e = test_engine_open(s);
    eng__rec r;
    assert_int_equal(eng__rec_get(s, ENG__K("t/1"), ENG__REC_TEST, 1, &r), ENG_OK);
    assert_memory_equal(r.payload, "hello", 5);
    eng__rec_free(s, &r);
    eng_close(e);
}
