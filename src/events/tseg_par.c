/* A touch segment's columns encoded on the engine's threads beside the caller's
 * (ev_state.h, eng__tseg_encode_par).
 *
 * Encoding the tail chunk of each batch and the segment it seals is about a
 * sixth of W6's ingest (docs/events.md), and the columns pack independently:
 * with eng_config.threads > 0, the caller finds the rows' zone, the columns are
 * cut into parts (eng__tseg_encode_part), each a job of a group that goes first
 * on the engine's pool (base/tpool.c), packed into a writer of its own, while
 * the caller writes the header; then the caller packs the parts no worker has
 * taken and appends every part's bytes in order: the payload is the one
 * eng__tseg_encode writes, byte for byte. The first three columns (time,
 * customer, context: most of the bytes) were the caller's own share, and at a
 * batch's flush the worker, done with its small parts, waited for it
 * (docs/events.md, 2026-12-07 night); as parts, whichever thread is free takes
 * the next. Parts rather than one job, so that the caller waits for one part at
 * most. The writers are the engine's scratch, sized
 * ahead on the caller's thread, so the workers do not allocate (allocation
 * failures stay where one thread has them) and a seal takes no new pages (a seal
 * encoded on a worker has writers of its own, sized by the caller: tseal.c). An
 * ordered segment's table (kind 3) follows, written by the caller. */
#include "events/keypar.h"

typedef struct rest_job {
    eng__wr *w; /* ENG__TSEG_PARTS */
    const eng__tcols *c;
    size_t from, n, key_from, nkey;
    eng__seg z; /* the rows' zone: the first columns' packers take its bounds */
} rest_job;

static void rest_run(void *arg, size_t k)
{
    rest_job *j = arg;
    eng__tseg_encode_part(&j->w[k], j->c, j->from, j->n, j->key_from, j->nkey, &j->z, (int)k);
}

void eng__tseg_encode_par(eng__ev *ev, eng__wr *w, const eng__tcols *c, size_t from, size_t n, size_t key_from,
                          size_t nkey, int ordered)
{
    eng__tseg_encode_par_with(ev, ev->par, w, c, from, n, key_from, nkey, ordered);
}

void eng__tseg_encode_par_with(eng__ev *ev, eng__wr *par, eng__wr *w, const eng__tcols *c, size_t from, size_t n,
                               size_t key_from, size_t nkey, int ordered)
{
    if (!ev->e->threads || n < 2 * eng__keypar_min_rows) {
        eng__tseg_encode(w, c, from, n, key_from, nkey, ordered);
        return;
    }
    rest_job j = {.w = par, .c = c, .from = from, .n = n, .key_from = key_from, .nkey = nkey};
    int rc = 0;
    for (int k = 0; k < ENG__TSEG_PARTS; k++) {
        j.w[k].len = 0;
        j.w[k].err = 0;
        rc = rc ? rc : eng__wr_reserve(&j.w[k], eng__tseg_part_room(n, nkey, k));
    }
    if (rc) { /* no room: one thread's encode */
        eng__tseg_encode(w, c, from, n, key_from, nkey, ordered);
        return;
    }
    eng__tseg_zone_of(c, from, n, &j.z);
    eng__pipe pp;
    eng__pipe_first(&pp, &ev->e->pool, 1, ENG__TSEG_PARTS, rest_run, &j);
    eng__tseg_zone_put(w, eng__tseg_kind(ordered), n, nkey, &j.z);
    eng__pipe_end(&pp); /* the parts no thread has taken are the caller's */
    for (int k = 0; k < ENG__TSEG_PARTS; k++) {
        if (j.w[k].err && !w->err)
            w->err = j.w[k].err;
        eng__wr_bytes(w, j.w[k].data, j.w[k].len);
    }
    if (ordered)
        eng__tsum_encode(w, c);
}
