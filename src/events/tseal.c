/* A touch tail sealed beside the caller (ev_state.h, eng__ttail_seal_behind).
 *
 * The batch that fills a tail seals it: the segment is built around the first
 * chunk's bytes (tblock.c), and the rows of the sealing batch are encoded after
 * them, about a tenth of W6's calling thread at L (docs/events.md). Here that
 * encode is a job on the engine's pool while the caller goes on with its batch:
 * the tail's columns are handed to the seal (swapped with a spare set, so that the
 * caller fills an empty tail at once), and the caller finishes the seal at the
 * join (its next seal, the flush, the end of the call): the header, the record
 * put into the batch, the segment added, the chunks' records deleted. The same
 * record in the same batch as a seal finished at once: the commit follows the
 * flush, so what a crash or a failed batch leaves is unchanged. Between the
 * start and the join the job alone touches the sealed rows, the first chunk's
 * buffer and the part writers, all sized by the caller (the job allocates
 * nothing); the caller does not read the org's segments or change its chunks
 * (only the flush and a load do, after the join). With no threads, or a seal
 * that must end now (compaction), the caller runs the job at the join at once. */
#include "events/ev_state.h"

#include <string.h>

int eng__tseal_room(eng__ev *ev, eng__tseal **out)
{
    if (!ev->seal) {
        eng__tseal *s = eng__calloc(&ev->e->mem, 1, sizeof *s);
        if (!s)
            return eng__nomem();
        for (int k = 0; k < ENG__TSEG_PARTS; k++)
            eng__wr_init(&s->par[k], &ev->e->mem);
        ev->seal = s;
    }
    *out = ev->seal;
    return ENG_OK;
}

_Atomic size_t eng__tseal_behind;
void (*eng__tseal_job_hook)(int starting);

int eng__tseal_parts(eng__tseal *s, size_t n, size_t nkey)
{
    int rc = ENG_OK;
    for (int k = 0; k < ENG__TSEG_PARTS && !rc; k++) {
        s->par[k].len = 0;
        rc = eng__wr_reserve(&s->par[k], eng__tseg_part_room(n, nkey, k));
    }
    return rc;
}

static void seal_run(void *arg, size_t k)
{
    eng__tseal *s = arg;
    (void)k;
    if (eng__tseal_job_hook)
        eng__tseal_job_hook(1);
    if (s->plain)
        eng__tseg_encode_par_with(s->ev, s->par, &s->w, &s->cols, 0, s->cols.n, 0, s->cols.nkey, 0);
    else
        eng__tblock_around_encode(s);
    if (eng__tseal_job_hook)
        eng__tseal_job_hook(0);
}

int eng__tseal_start(eng__ev *ev, eng__evorg *o, int later)
{
    eng__tseal *s = ev->seal;
    eng__tcols t = o->tail;
    o->tail = s->cols;
    o->tail.n = o->tail.nkey = 0;
    o->tail_saved = o->tail_keys_saved = 0;
    s->cols = t;
    s->ev = ev;
    s->o = o;
    s->running = 1;
    ev->seals++; /* the batch cannot be taken back now (undo.c) */
    /* a worker beyond the call's and the page job's: those are busy at a seal (tseg.c) */
    int pool = later && ev->e->threads > 0;
    if (pool) {
        eng__tpool_grow(&ev->e->pool, ev->e->threads + 2);
        atomic_fetch_add_explicit(&eng__tseal_behind, 1, memory_order_relaxed);
    }
    eng__pipe_start(&s->pp, pool ? &ev->e->pool : NULL, 1, 1, seal_run, s);
    return later ? ENG_OK : eng__tseal_join(ev);
}

int eng__tseal_join(eng__ev *ev)
{
    eng__tseal *s = ev->seal;
    if (!s || !s->running)
        return ENG_OK;
    eng__pipe_end(&s->pp);
    s->running = 0;
    eng__wr w;
    size_t skew = 0;
    int rc = ENG_OK;
    for (int k = 0; k < ENG__TSEG_PARTS; k++)
        if (s->par[k].err && !s->w.err)
            s->w.err = s->par[k].err;
    if (s->plain)
        rc = eng__ttail_put_plain(ev, s->o, s->key, &s->w);
    else if (!(rc = eng__tblock_around_finish(ev, s->o, s, &w, &skew)))
        rc = eng__ttail_put_around(ev, s->o, s->key, &w, skew);
    s->nb = 0;
    s->cols.n = s->cols.nkey = 0;
    return rc;
}

int eng__tseal_poll(eng__ev *ev)
{
    eng__tseal *s = ev->seal;
    return s && s->running && eng__pipe_done(&s->pp, 0) ? eng__tseal_join(ev) : ENG_OK;
}

void eng__tseal_drop(eng__ev *ev)
{
    eng__tseal *s = ev->seal;
    if (!s || !s->running)
        return;
    eng__pipe_end(&s->pp);
    s->running = 0;
    s->nb = 0;
    if (s->plain) /* its own buffer (around: the first chunk's, which keeps it) */
        eng__wr_free(&s->w);
    s->cols.n = s->cols.nkey = 0;
}

void eng__tseal_free(eng__ev *ev)
{
    eng__tseal *s = ev->seal;
    if (!s)
        return;
    eng__tseal_drop(ev);
    const eng__mem *mem = &ev->e->mem;
    eng__tcols_free(&s->cols, mem);
    eng__free(mem, s->b);
    for (int k = 0; k < ENG__TSEG_PARTS; k++)
        eng__wr_free(&s->par[k]);
    if (s->rec.data)
        eng__wr_free(&s->rec);
    eng__free(mem, s);
    ev->seal = NULL;
}
