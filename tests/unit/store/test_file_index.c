/* The file store's key index (src/store/kbase.h): reads served from the mapped
 * index with the frames after it replayed over it (overwrites and deletes of
 * indexed keys), an index older than the log, a file cut at every offset and
 * flipped at every byte around indexes, a damaged index (clean fallback to
 * replay), a failed or torn index write at close, version 1 files, and
 * allocation failures of an indexed open. The expected content is a plain
 * array of the keys' values applied round by round (model), not the store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>
#include <cmocka.h>

#include "store/file_impl.h"
#include "store/frame.h"
#include "store/omap.h"
#include "store/store_impl.h"
#include "base/hash.h"
#include "test_alloc.h"
#include "test_util.h"

#define NKEYS 100
#define NROUNDS 6 /* in the built file; round 7 is a batch over it */
#define OVER (NROUNDS + 1)
#define NMODEL 14

typedef struct fx {
    char *dir;
    char path[600], copy[600];
} fx;

/* model[r][i]: the value of key i after round r (NULL: absent). */
static char model[NMODEL + 1][NKEYS][64];
static int present[NMODEL + 1][NKEYS];

static void key_of(int i, char *k) { snprintf(k, 16, "k/%05d", i); }

/* Round r puts a fifth of the keys and deletes an eleventh (of those present before). */
static int puts_in(int r, int i) { return (i * 7 + r) % 5 == 0 || r == 1; }
static int dels_in(int r, int i) { return r > 1 && (i + r) % 11 == 0 && !puts_in(r, i); }
static void val_of(int r, int i, char *v) { snprintf(v, 64, "r%d-i%d-%.*s", r, i, (i + r) % 23, "pppppppppppppppppppppppp"); }

static void build_model(void)
{
    memset(present, 0, sizeof present);
    for (int r = 1; r <= NMODEL; r++)
        for (int i = 0; i < NKEYS; i++) {
            present[r][i] = present[r - 1][i];
            memcpy(model[r][i], model[r - 1][i], sizeof model[r][i]);
            if (puts_in(r, i)) {
                val_of(r, i, model[r][i]);
                present[r][i] = 1;
            } else if (dels_in(r, i)) {
                present[r][i] = 0;
            }
        }
}

/* Round r's puts and deletes inside the open batch. */
static void apply_round(eng_store *s, int r)
{
    char k[16], v[64];
    for (int i = 0; i < NKEYS; i++) {
        key_of(i, k);
        if (puts_in(r, i)) {
            val_of(r, i, v);
            assert_int_equal(eng__kv_put(s, k, strlen(k), v, strlen(v)), ENG_OK);
        } else if (dels_in(r, i)) {
            assert_int_equal(eng__kv_del(s, k, strlen(k)), ENG_OK);
        }
    }
}

static void run_round(eng_store *s, int r)
{
    assert_int_equal(eng__kv_begin(s), ENG_OK);
    apply_round(s, r);
    assert_int_equal(eng__kv_commit(s), ENG_OK);
}

typedef struct dump_ctx {
    char *out;
    size_t len;
} dump_ctx;

static int dump_cb(const void *k, size_t kl, const void *v, size_t vl, void *u)
{
    dump_ctx *d = u;
    memcpy(d->out + d->len, k, kl);
    d->out[d->len + kl] = '=';
    memcpy(d->out + d->len + kl + 1, v, vl);
    d->len += kl + vl + 2;
    d->out[d->len - 1] = '\n';
    d->out[d->len] = 0;
    return 0;
}

/* The store's scan as text, or NULL with *rc when the scan fails. */
static char *dump(eng_store *s, int *rc)
{
    dump_ctx d = {calloc(1, 65536), 0};
    *rc = eng__kv_scan(s, "", 0, dump_cb, &d);
    if (*rc) {
        free(d.out);
        return NULL;
    }
    return d.out;
}

static char *model_dump(int r)
{
    char *out = calloc(1, 65536);
    char k[16];
    for (int i = 0; i < NKEYS; i++)
        if (present[r][i]) {
            key_of(i, k);
            sprintf(out + strlen(out), "%s=%s\n", k, model[r][i]);
        }
    return out;
}

static void assert_scan(eng_store *s, int r)
{
    int rc;
    char *got = dump(s, &rc), *want = model_dump(r);
    assert_int_equal(rc, ENG_OK);
    assert_string_equal(got, want);
    free(got);
    free(want);
}

/* Scan, every get, a prefix scan, and the live bytes agree with round r. */
static void assert_round(eng_store *s, int r)
{
    assert_scan(s, r);
    int rc;
    uint64_t live = 0;
    char *want;
    char k[16];
    for (int i = 0; i < NKEYS; i++) {
        key_of(i, k);
        eng__val v;
        rc = eng__kv_get(s, k, strlen(k), &v);
        if (!present[r][i]) {
            assert_int_equal(rc, ENG_ENOTFOUND);
            continue;
        }
        assert_int_equal(rc, ENG_OK);
        assert_int_equal(v.len, strlen(model[r][i]));
        assert_memory_equal(v.data, model[r][i], v.len);
        eng__val_free(s, &v);
        live += strlen(k) + strlen(model[r][i]);
    }
    dump_ctx d = {calloc(1, 65536), 0};
    assert_int_equal(eng__kv_scan(s, "k/0007", 6, dump_cb, &d), ENG_OK);
    want = calloc(1, 4096);
    for (int i = 70; i < 80; i++)
        if (present[r][i]) {
            key_of(i, k);
            sprintf(want + strlen(want), "%s=%s\n", k, model[r][i]);
        }
    assert_string_equal(d.out, want);
    free(d.out);
    free(want);
    eng__file_stats st;
    assert_int_equal(eng__file_stats_get(s, &st), ENG_OK);
    assert_int_equal(st.live_bytes, live);
}

static uint64_t index_keys(eng_store *s)
{
    eng__file_stats st;
    assert_int_equal(eng__file_stats_get(s, &st), ENG_OK);
    return st.index_keys;
}

static int live_keys(int r)
{
    int n = 0;
    for (int i = 0; i < NKEYS; i++)
        n += present[r][i];
    return n;
}

static eng_store *open_ok(const char *path, unsigned flags)
{
    eng_store *s = NULL;
    int rc = eng_store_file_open(path, flags, test_alloc_get(), &s);
    if (rc)
        fprintf(stderr, "open %s: %s\n", path, eng_error_last()->message);
    assert_int_equal(rc, ENG_OK);
    return s;
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    f->dir = test_tmpdir();
    snprintf(f->path, sizeof f->path, "%s/engage.db", f->dir);
    snprintf(f->copy, sizeof f->copy, "%s/copy.db", f->dir);
    test_alloc_reset();
    build_model();
    eng__file_checkpoint_min = 0; /* every close with a tail writes an index */
    *state = f;
    return 0;
}

static size_t ref_min_default; /* the library's eng__file_ref_min */
static long flip_step = 1;
/* Under valgrind (test_slow_runtime) the sweeps take every 7th byte and fewer trials. */
static long slow = 1;

static int teardown(void **state)
{
    fx *f = *state;
    eng__file_io_fault = NULL;
    eng__file_ref_min = ref_min_default;
    flip_step = 1;
    eng__file_checkpoint_min = (uint64_t)1 << 20;
    eng__file_checkpoint_every = (uint64_t)64 << 20;
    eng__file_checkpoint_ratio = 16;
    test_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

/* Offset of the first index frame header at or after @p from, or -1. */
static long find_index(const unsigned char *img, long n, long from)
{
    for (long i = from; i + ENG__FRAME_HEADER <= n; i++)
        if (eng__get32(img + i) == ENG__INDEX_MAGIC && eng__get32(img + i + 20) == eng__crc32c(0, img + i, 20))
            return i;
    return -1;
}

/* Rounds 1-3, close (index A); rounds 4-5 and a close without an index (A is
 * older than the log); round 6 and a close with one (index B, last frame).
 * sizes[r]: the file after round r's commit; ends[r]: where round r's data ends
 * once closed (sizes, or after the index written at its close). */
static void build(fx *f, long sizes[NROUNDS + 1])
{
    eng_store *s = open_ok(f->path, ENG_STORE_CREATE | ENG_STORE_NOSYNC);
    sizes[0] = test_file_size(f->path);
    for (int r = 1; r <= NROUNDS; r++) {
        if (r == 4 || r == 6) {
            eng__file_checkpoint_min = r == 4 ? 0 : UINT64_MAX;
            eng_store_free(s);
            s = open_ok(f->path, ENG_STORE_NOSYNC);
            if (r == 6)
                assert_int_equal(index_keys(s), (uint64_t)live_keys(3)); /* A, with rounds 4-5 replayed over it */
        }
        run_round(s, r);
        sizes[r] = test_file_size(f->path);
    }
    eng__file_checkpoint_min = 0;
    eng_store_free(s);
}

/* A damaged copy opened read-only and read whole: its content, or NULL with
 * *rc ENG_ECORRUPT (at open: *at_open set) — any other outcome fails. */
static char *damaged_dump(const char *path, int *rc, int *at_open)
{
    eng_store *s = NULL;
    *rc = eng_store_file_open(path, ENG_STORE_READONLY, test_alloc_get(), &s);
    *at_open = *rc != ENG_OK;
    char *got = *rc ? NULL : dump(s, rc);
    if (!got)
        assert_int_equal(*rc, ENG_ECORRUPT);
    if (s)
        eng_store_free(s);
    return got;
}

/* build(), and the file's bytes (*n of them). */
static unsigned char *built(fx *f, long sizes[NROUNDS + 1], long *n)
{
    build(f, sizes);
    return test_read_file(f->path, n);
}

static void index_serves_reads(void **state)
{
    fx *f = *state;
    long sizes[NROUNDS + 1], n;
    unsigned char *img = built(f, sizes, &n);
    long a = find_index(img, n, 0), b = find_index(img, n, a + 1);
    assert_true(a == sizes[3] && b == sizes[6] && find_index(img, n, b + 1) < 0);
    /* Opened on its index the store holds no node a key: against a replay
     * (both indexes damaged), the heap is smaller by more than a node a key. */
    img[a + ENG__FRAME_HEADER] ^= 1;
    img[b + ENG__FRAME_HEADER] ^= 1;
    test_write_file(f->copy, img, n);
    free(img);
    eng_store *s = open_ok(f->copy, ENG_STORE_READONLY);
    assert_int_equal(index_keys(s), 0);
    size_t replayed = test_alloc_live_bytes();
    eng_store_free(s);
    s = open_ok(f->path, 0);
    assert_int_equal(index_keys(s), (uint64_t)live_keys(NROUNDS));
    assert_true(test_alloc_live_bytes() + sizeof(eng__onode) * (size_t)live_keys(NROUNDS) < replayed);
    assert_round(s, NROUNDS);
    eng_store_free(s);

    /* An index older than the log: the frames after it are replayed over it,
     * overwriting and deleting indexed keys; the live bytes count each key once. */
    test_write_file(f->copy, img = test_read_file(f->path, &n), b);
    free(img);
    s = open_ok(f->copy, ENG_STORE_READONLY);
    assert_int_equal(index_keys(s), (uint64_t)live_keys(3));
    assert_round(s, NROUNDS);
    eng_store_free(s);

    /* A batch over the index and the frames after it reads its own writes
     * (scans merge it in), rolls back; then commits with its values written
     * ahead (spilled), and compacts. */
    s = open_ok(f->copy, 0);
    assert_int_equal(eng__kv_begin(s), ENG_OK);
    apply_round(s, OVER);
    assert_scan(s, OVER);
    assert_int_equal(eng__kv_rollback(s), ENG_OK);
    assert_round(s, NROUNDS);
    size_t spill_min = eng__file_spill_min;
    eng__file_spill_min = 16;
    run_round(s, OVER);
    eng__file_spill_min = spill_min;
    assert_round(s, OVER);
    assert_int_equal(eng_store_file_compact(s), ENG_OK);
    assert_int_equal(index_keys(s), (uint64_t)live_keys(OVER));
    assert_round(s, OVER);
    eng__file_stats st;
    assert_int_equal(eng__file_stats_get(s, &st), ENG_OK);
    assert_int_equal(st.file_bytes, test_file_size(f->copy));
    assert_int_equal(st.dead_bytes, st.file_bytes - ENG__FILE_HEADER - st.live_file_bytes);
    eng_store_free(s);
    s = open_ok(f->copy, 0);
    assert_round(s, OVER);
    eng_store_free(s);
    test_alloc_assert_clean();
}

/* Every cut opens (read-only, as a reader after a crash) on the rounds whose
 * commit is wholly in it; an index cut short is a torn tail. */
static void cut_at_every_offset(void **state)
{
    fx *f = *state;
    long sizes[NROUNDS + 1], n;
    unsigned char *img = built(f, sizes, &n);
    for (long cut = 0; cut <= n; cut += slow) {
        test_write_file(f->copy, img, cut);
        eng_store *s = open_ok(f->copy, ENG_STORE_READONLY);
        int r = 0;
        while (r < NROUNDS && sizes[r + 1] <= cut)
            r++;
        assert_scan(s, r);
        eng_store_free(s);
    }
    free(img);
    test_alloc_assert_clean();
}

/* A flipped byte anywhere: ENG_ECORRUPT at open or at the first read of what
 * it damaged, or the right content (always, in an index's payload: the store
 * replays instead), never a wrong answer. */
static void flip_every_byte(void **state)
{
    fx *f = *state;
    long sizes[NROUNDS + 1], n;
    unsigned char *img = built(f, sizes, &n);
    long ix[2];
    ix[0] = find_index(img, n, 0);
    ix[1] = find_index(img, n, ix[0] + 1);
    int lazy = 0, fallback = 0;
    for (long at = 0; at < n; at += flip_step * slow) {
        int in_index = 0; /* in an index's payload: redundant, so never an error */
        for (int i = 0; i < 2; i++) {
            long p = ix[i] + ENG__FRAME_HEADER;
            in_index |= at >= p && at < p + (long)eng__get32(img + ix[i] + 4);
        }
        img[at] ^= 0x10;
        test_write_file(f->copy, img, n);
        img[at] ^= 0x10;
        int rc, at_open;
        char *got = damaged_dump(f->copy, &rc, &at_open);
        assert_true(got || !in_index);
        if (at_open)
            continue;
        if (!got) {
            assert_non_null(strstr(eng_error_last()->message, "frame payload fails its checksum"));
            lazy++;
        } else {
            /* Every frame is under index B (the last one): nothing is a torn tail. */
            char *want = model_dump(NROUNDS);
            if (strcmp(got, want))
                fprintf(stderr, "flip at %ld of %ld gives a wrong answer\n", at, n);
            assert_string_equal(got, want);
            fallback += in_index;
            free(want);
        }
        free(got);
    }
    assert_true(lazy > 0 && fallback > 0);
    free(img);
    test_alloc_assert_clean();
}

/* Several random bytes changed, or a cut and changes: no crash or leak, and a
 * store that opens and reads reads some round's content exactly. */
static void random_damage(void **state)
{
    fx *f = *state;
    long sizes[NROUNDS + 1], n;
    unsigned char *img = built(f, sizes, &n), *bad = malloc((size_t)n);
    char *rounds[NROUNDS + 1];
    for (int r = 0; r <= NROUNDS; r++)
        rounds[r] = model_dump(r);
    uint64_t rng = 17;
    int opened = 0;
    for (int trial = 0; trial < 1500 / slow; trial++) {
        memcpy(bad, img, (size_t)n);
        long len = test_splitmix(&rng) % 4 ? n : (long)(test_splitmix(&rng) % (uint64_t)n);
        for (int k = (int)(test_splitmix(&rng) % 6) + 1; k > 0; k--)
            bad[test_splitmix(&rng) % (uint64_t)n] ^= (unsigned char)(test_splitmix(&rng) % 255 + 1);
        test_write_file(f->copy, bad, len);
        int rc, at_open;
        char *got = damaged_dump(f->copy, &rc, &at_open);
        if (got) {
            int r = 0;
            while (r <= NROUNDS && strcmp(got, rounds[r]))
                r++;
            assert_true(r <= NROUNDS);
            opened++;
        }
        free(got);
    }
    assert_true(opened > 0);
    for (int r = 0; r <= NROUNDS; r++)
        free(rounds[r]);
    free(bad);
    free(img);
    test_alloc_assert_clean();
}

/* A damaged index followed by frames: replay of every frame, same content; a
 * writable open's close then writes a good index again. */
static void damaged_index_falls_back(void **state)
{
    fx *f = *state;
    long sizes[NROUNDS + 1], n;
    unsigned char *img = built(f, sizes, &n);
    long a = find_index(img, n, 0);
    img[a + ENG__FRAME_HEADER + 30] ^= 1; /* an entry of index A */
    test_write_file(f->path, img, sizes[5]); /* without round 6 and index B */
    free(img);
    eng_store *s = open_ok(f->path, 0);
    assert_int_equal(index_keys(s), 0);
    assert_round(s, 5);
    eng_store_free(s);
    s = open_ok(f->path, 0);
    assert_int_equal(index_keys(s), (uint64_t)live_keys(5));
    assert_round(s, 5);
    eng_store_free(s);
    test_alloc_assert_clean();
}

static int fail_writes, fail_truncates;
static int io_hook(int op, size_t *n)
{
    if (op == ENG__IO_WRITE && fail_writes) {
        fail_writes--;
        if (n && *n > 40)
            *n = 40; /* the header and a little of the payload get there */
        return EIO;
    }
    if (op == ENG__IO_TRUNCATE && fail_truncates) {
        fail_truncates--;
        return EIO;
    }
    return 0;
}

/* The index write at close fails: the file is cut back (or, when the cut fails
 * too, the next open finds a torn tail); either way it opens by replay. */
static void crash_during_index_write(void **state)
{
    fx *f = *state;
    for (int cut_fails = 0; cut_fails < 2; cut_fails++) {
        eng_store *s = open_ok(f->path, ENG_STORE_CREATE | ENG_STORE_NOSYNC);
        for (int r = 1; r <= 3; r++)
            run_round(s, r);
        long before = test_file_size(f->path);
        fail_writes = 1;
        fail_truncates = cut_fails;
        eng__file_io_fault = io_hook;
        eng_store_free(s);
        eng__file_io_fault = NULL;
        assert_int_equal(fail_writes, 0);
        assert_int_equal(test_file_size(f->path), cut_fails ? before + 40 : before);
        s = open_ok(f->path, 0);
        assert_int_equal(index_keys(s), 0);
        assert_round(s, 3);
        eng__file_stats st;
        assert_int_equal(eng__file_stats_get(s, &st), ENG_OK);
        assert_int_equal(st.dropped_bytes, cut_fails ? 40 : 0);
        eng_store_free(s);
        unlink(f->path);
    }
    test_alloc_assert_clean();
}

/* A version 1 file (no index) opens, gets no index at close (an older library
 * could not read it), and becomes version 2 with an index at compaction. */
static void version_1_files_open(void **state)
{
    fx *f = *state;
    eng__file_checkpoint_min = UINT64_MAX;
    eng_store *s = open_ok(f->path, ENG_STORE_CREATE | ENG_STORE_NOSYNC);
    for (int r = 1; r <= 3; r++)
        run_round(s, r);
    eng_store_free(s);
    eng__file_checkpoint_min = 0;
    long n;
    unsigned char *img = test_read_file(f->path, &n);
    assert_int_equal(eng__get32(img + 8), ENG__FILE_VERSION);
    eng__file_header_encode(img, 1);
    test_write_file(f->path, img, n);
    free(img);
    s = open_ok(f->path, 0);
    assert_round(s, 3);
    eng_store_free(s);
    img = test_read_file(f->path, &n);
    assert_int_equal(find_index(img, n, 0), -1);
    assert_int_equal(eng__get32(img + 8), 1);
    free(img);
    s = open_ok(f->path, 0);
    assert_int_equal(eng_store_file_compact(s), ENG_OK);
    eng_store_free(s);
    img = test_read_file(f->path, &n);
    assert_true(find_index(img, n, 0) > 0);
    assert_int_equal(eng__get32(img + 8), ENG__FILE_VERSION);
    free(img);
    s = open_ok(f->path, 0);
    assert_int_equal(index_keys(s), (uint64_t)live_keys(3));
    assert_round(s, 3);
    eng_store_free(s);
    test_alloc_assert_clean();
}

/* Every allocation of an indexed open, a read, a commit over the index and
 * the close's index write fails in turn: ENG_ENOMEM, no leak, file intact. */
static const char *oom_path;
static int oom_run(void *arg)
{
    (void)arg;
    eng_store *s = NULL;
    int rc = eng_store_file_open(oom_path, ENG_STORE_NOSYNC, test_alloc_get(), &s);
    if (rc)
        return rc;
    int i = 0;
    while (!present[NROUNDS][i])
        i++;
    char k[16];
    key_of(i, k);
    eng__val v;
    rc = eng__kv_get(s, k, strlen(k), &v);
    if (!rc) {
        eng__val_free(s, &v);
        rc = eng__kv_put(s, k, strlen(k), model[NROUNDS][i], strlen(model[NROUNDS][i]));
    }
    eng_store_free(s);
    return rc;
}

static void allocation_failures(void **state)
{
    fx *f = *state;
    long sizes[NROUNDS + 1];
    build(f, sizes);
    oom_path = f->path;
    assert_true(test_oom_loop(oom_run, NULL) > 5);
    eng_store *s = open_ok(f->path, 0);
    assert_round(s, NROUNDS);
    eng_store_free(s);
    test_alloc_assert_clean();
}

/* Commits write an index once enough frames follow the last one and read their
 * keys from its mapping from then on; a copy taken without a close (a crash)
 * opens from it. */
static void commits_write_indexes(void **state)
{
    fx *f = *state;
    eng__file_checkpoint_every = 0;
    eng__file_checkpoint_ratio = 4;
    eng__file_checkpoint_min = UINT64_MAX; /* none at close */
    eng_store *s = open_ok(f->path, ENG_STORE_CREATE | ENG_STORE_NOSYNC);
    int indexed = 0, reopened = 0;
    for (int r = 1; r <= NMODEL; r++) {
        run_round(s, r);
        assert_round(s, r);
        indexed += index_keys(s) > 0;
        long n;
        unsigned char *img = test_read_file(f->path, &n);
        test_write_file(f->copy, img, n);
        free(img);
        eng_store *c = open_ok(f->copy, ENG_STORE_READONLY);
        assert_round(c, r);
        reopened += index_keys(c) > 0;
        eng_store_free(c);
    }
    assert_true(indexed >= NMODEL - 1 && reopened == indexed); /* round 1 alone is not worth one */
    eng_store_free(s);
    long n;
    unsigned char *img = test_read_file(f->path, &n);
    long a = find_index(img, n, 0);
    assert_true(a > 0 && find_index(img, n, a + 1) > a); /* one index, then a newer one */
    free(img);
    s = open_ok(f->path, 0);
    assert_round(s, NMODEL);
    eng_store_free(s);
    test_alloc_assert_clean();
}

/* The same with every value of the index read from the file (pread), not the mapping. */
static void values_from_the_file(void **state)
{
    eng__file_ref_min = 1;
    index_serves_reads(state);
    teardown(state);
    setup(state);
    eng__file_ref_min = 1;
    flip_step = 3;
    flip_every_byte(state);
}

int main(void)
{
    ref_min_default = eng__file_ref_min;
    slow = test_slow_runtime() ? 7 : 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(index_serves_reads, setup, teardown),
        cmocka_unit_test_setup_teardown(cut_at_every_offset, setup, teardown),
        cmocka_unit_test_setup_teardown(flip_every_byte, setup, teardown),
        cmocka_unit_test_setup_teardown(random_damage, setup, teardown),
        cmocka_unit_test_setup_teardown(damaged_index_falls_back, setup, teardown),
        cmocka_unit_test_setup_teardown(crash_during_index_write, setup, teardown),
        cmocka_unit_test_setup_teardown(version_1_files_open, setup, teardown),
        cmocka_unit_test_setup_teardown(allocation_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(values_from_the_file, setup, teardown),
        cmocka_unit_test_setup_teardown(commits_write_indexes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
