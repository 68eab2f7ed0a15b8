#include "test_feed.h"

#include <stdlib.h>
#include <string.h>

#include "store/store_impl.h"
#include "test_alloc.h"
#include "test_util.h"

typedef struct fh {
    eng_store *in; /* a handle of the shared test store */
    test_feed *f;
    int id, in_batch;
    char (*pend)[TEST_FEED_KEY]; /* keys the open batch wrote */
    size_t npend, cpend;
} fh;

static void die(void)
{
    abort();
}

static void log_key(test_feed *f, int writer, const void *k, size_t kl)
{
    if (f->n == f->cap) {
        f->cap = f->cap ? 2 * f->cap : 64;
        f->key = realloc(f->key, f->cap * sizeof *f->key);
        f->writer = realloc(f->writer, f->cap * sizeof *f->writer);
        if (!f->key || !f->writer)
            die();
    }
    size_t n = kl < TEST_FEED_KEY - 1 ? kl : TEST_FEED_KEY - 1;
    memcpy(f->key[f->n], k, n);
    f->key[f->n][n] = 0;
    f->writer[f->n++] = writer;
}

static void note(fh *h, const void *k, size_t kl)
{
    if (!h->in_batch) { /* a write outside a batch is a commit of its own */
        log_key(h->f, h->id, k, kl);
        return;
    }
    if (h->npend == h->cpend) {
        h->cpend = h->cpend ? 2 * h->cpend : 16;
        h->pend = realloc(h->pend, h->cpend * sizeof *h->pend);
        if (!h->pend)
            die();
    }
    size_t n = kl < TEST_FEED_KEY - 1 ? kl : TEST_FEED_KEY - 1;
    memcpy(h->pend[h->npend], k, n);
    h->pend[h->npend++][n] = 0;
}

static int w_get(const void *k, size_t kl, eng_buf *o, void *u)
{
    fh *h = u;
    return h->in->m.get(k, kl, o, h->in->user);
}

static int w_put(const void *k, size_t kl, const void *v, size_t vl, void *u)
{
    fh *h = u;
    int rc = h->in->m.put(k, kl, v, vl, h->in->user);
    if (rc == ENG_OK)
        note(h, k, kl);
    return rc;
}

static int w_del(const void *k, size_t kl, void *u)
{
    fh *h = u;
    int rc = h->in->m.del(k, kl, h->in->user);
    if (rc == ENG_OK)
        note(h, k, kl);
    return rc;
}

static int w_scan(const void *p, size_t pl, eng_store_scan_fn cb, void *cbu, void *u)
{
    fh *h = u;
    for (int i = 0; i < h->f->nwatch; i++)
        if (pl == strlen(h->f->watch[i]) && memcmp(p, h->f->watch[i], pl) == 0)
            h->f->scans[i]++;
    return h->in->m.scan(p, pl, cb, cbu, h->in->user);
}

static int w_begin(void *u)
{
    fh *h = u;
    int rc = h->in->m.begin(h->in->user);
    h->in_batch = rc == ENG_OK;
    h->npend = 0;
    return rc;
}

static int w_commit(void *u)
{
    fh *h = u;
    if (h->f->busy_writer == h->id)
        h->f->commits++;
    if (h->f->busy_commits && h->f->busy_writer == h->id && h->f->busy_skip)
        h->f->busy_skip--;
    else if (h->f->busy_commits && h->f->busy_writer == h->id) {
        h->f->busy_commits--;
        h->in->m.rollback(h->in->user);
        h->in_batch = 0;
        h->npend = 0;
        eng_error_set(ENG_EBUSY, "test feed: could not serialize access (injected)");
        return ENG_EBUSY;
    }
    int rc = h->in->m.commit(h->in->user);
    if (rc == ENG_OK)
        for (size_t i = 0; i < h->npend; i++)
            log_key(h->f, h->id, h->pend[i], strlen(h->pend[i]));
    h->in_batch = 0;
    h->npend = 0;
    return rc;
}

static int w_rollback(void *u)
{
    fh *h = u;
    h->in_batch = 0;
    h->npend = 0;
    return h->in->m.rollback(h->in->user);
}

static void w_destroy(void *u)
{
    fh *h = u;
    eng_store_free(h->in);
    free(h->pend);
    free(h);
}

/* The other handles' keys after *cursor. */
static int w_changes(uint64_t *cursor, eng_store_change_fn cb, void *cb_user, void *u)
{
    fh *h = u;
    for (size_t i = (size_t)*cursor; cb && i < h->f->n; i++)
        if (h->f->writer[i] != h->id) {
            int rc = cb(h->f->key[i], strlen(h->f->key[i]), cb_user);
            if (rc)
                return rc;
        }
    *cursor = h->f->n;
    return ENG_OK;
}

void test_feed_init(test_feed *f)
{
    memset(f, 0, sizeof *f);
}

int test_feed_watch(test_feed *f, const char *prefix)
{
    if (f->nwatch == TEST_FEED_WATCH)
        die();
    f->watch[f->nwatch] = prefix;
    f->scans[f->nwatch] = 0;
    return f->nwatch++;
}

unsigned test_feed_scans(const test_feed *f, const char *prefix)
{
    for (int i = 0; i < f->nwatch; i++)
        if (strcmp(f->watch[i], prefix) == 0)
            return f->scans[i];
    die();
    return 0;
}

void test_feed_free(test_feed *f)
{
    free(f->key);
    free(f->writer);
    memset(f, 0, sizeof *f);
}

eng_store *test_feed_store(test_store *ts, test_feed *f, int id)
{
    static const eng_store_methods m = {ENG_STORE_METHODS_VERSION, w_get, w_put, w_del, w_scan, w_begin, w_commit,
                                        w_rollback, w_destroy, NULL, w_changes};
    fh *h = calloc(1, sizeof *h);
    if (!h)
        die();
    h->in = test_store_handle(ts);
    h->f = f;
    h->id = id;
    eng_store *s = NULL;
    if (eng_store_new(&m, h, test_alloc_get(), &s) != ENG_OK)
        die();
    return s;
}

eng_engine *test_feed_engine(test_store *ts, test_feed *f, int id)
{
    return test_engine_open(test_feed_store(ts, f, id));
}
