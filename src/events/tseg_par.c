/* A touch segment's columns encoded on two threads (ev_state.h,
 * eng__tseg_encode_par).
 *
 * Encoding the tail chunk of each batch and the segment it seals is about a
 * sixth of W6's ingest (docs/events.md), and the columns pack independently:
 * with eng_config.threads > 0, one of the engine's threads (base/tpool.c)
 * packs the columns after the first three into a writer of its own while the
 * caller writes the header and the first three (and packs them itself when no
 * thread has taken them by then), and the caller appends its bytes: the payload is the one
 * eng__tseg_encode writes, byte for byte. The thread's writer is sized ahead
 * on the caller's thread, so the thread does not allocate (allocation
 * failures stay where one thread has them). An ordered segment's table
 * (kind 3) follows, written by the caller. */
#include "events/keypar.h"


typedef struct rest_job {
    eng__wr w;
    const eng__tcols *c;
    size_t from, n, key_from, nkey;
} rest_job;

static void rest_run(void *arg, size_t k)
{
    (void)k;
    rest_job *j = arg;
    eng__tseg_encode_rest(&j->w, j->c, j->from, j->n, j->key_from, j->nkey);
}

void eng__tseg_encode_par(const eng__ev *ev, eng__wr *w, const eng__tcols *c, size_t from, size_t n, size_t key_from,
                          size_t nkey, int ordered)
{
    if (!ev->e->threads || n < 2 * eng__keypar_min_rows) {
        eng__tseg_encode(w, c, from, n, key_from, nkey, ordered);
        return;
    }
    rest_job j = {.c = c, .from = from, .n = n, .key_from = key_from, .nkey = nkey};
    eng__wr_init(&j.w, w->mem);
    /* five packed columns of at most 4 bytes a row, each with its header and 8 bytes of
     * slack (colpack.c), and the keys' hashes */
    if (eng__wr_reserve(&j.w, n * 11 + nkey * 8 + 5 * 24)) {
        eng__wr_free(&j.w);
        eng__tseg_encode(w, c, from, n, key_from, nkey, ordered);
        return;
    }
    eng__pipe pp;
    eng__pipe_start(&pp, &ev->e->pool, 1, 1, rest_run, &j);
    eng__tseg_encode_head(w, c, from, n, key_from, nkey, ordered, 0);
    eng__pipe_end(&pp);
    if (j.w.err && !w->err)
        w->err = j.w.err;
    eng__wr_bytes(w, j.w.data, j.w.len);
    eng__wr_free(&j.w);
    if (ordered)
        eng__tsum_encode(w, c);
}
