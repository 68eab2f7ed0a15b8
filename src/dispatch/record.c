/* Recording worked batches: the sends of a chunk (work.c), its points awards
 * (points.c), an execution's POC copies (poc.c). Each is worked the same way:
 * the attempts stored (intent) before the call made without the lock, the
 * answers stored (outcome) after it. On a store of several engines each batch
 * first checks that the lease is still this engine's: one that lost it writes
 * nothing, and the new owner calls again with the same keys and records. */
#include "dispatch/dispatch_impl.h"

static int record(eng_engine *e, const eng__dsp_at *at, eng_time ttl, eng__dsp_store_fn store, eng__xcache *xc,
                  void *user, int touches)
{
    int rc = eng__kv_begin_inside(e->store);
    if (rc)
        return rc;
    int lost = 0;
    if (at->shared)
        rc = at->take ? eng__lease_claim(e, at, ttl) : eng__lease_keep(e, at->msg, at->occ, at->chunk, ttl);
    if (rc == ENG__LEASE_LOST)
        lost = 1, rc = ENG_EBUSY; /* rolls the batch back */
    if (!rc)
        rc = store(e, xc, user);
    if ((rc = eng__dsp_commit(e, rc)) && touches)
        eng__dsp_touch_abandon(e);
    if (lost) {
        eng_error_clear();
        return ENG__NOT_MINE;
    }
    return rc;
}

int eng__dsp_record(eng_engine *e, const eng__dsp_at *at, eng_time ttl, eng__dsp_store_fn store, eng__xcache *xc,
                    void *user)
{
    return record(e, at, ttl, store, xc, user, 1); /* an intent may expire sends in doubt (work.c) */
}

int eng__dsp_closed(const eng_engine *e, int rc)
{
    return e->closed ? eng__err(ENG_EMISUSE, "engine", "the engine was closed during the run") : rc;
}

int eng__dsp_record_outcome(eng__runctx *r, const eng__dsp_at *at, const eng__dsp_outcome *o)
{
    eng_engine *e = r->e;
    int rc = ENG_OK;
    /* An engine closed during the call still records the answers (a few tries): otherwise the
     * chunk stays leased to an engine that is gone until the lease expires, and is sent again. */
    for (unsigned attempt = 0; !e->closed || attempt < 3; attempt++) {
        /* The sends are made: a conflict with another engine's commit retries, with the caches
         * that engine made stale dropped first. */
        if (at->shared)
            eng__engine_sync_keep(e, 1u << ENG__SLOT_DISPATCH);
        eng__xcache *xc;
        if ((rc = eng__xcache_get(e, r->actor, at->msg, at->occ, at->due, &xc)) != ENG_OK)
            break;
        if ((rc = o->settle(xc, o->user)))
            break;
        rc = record(e, at, 0, o->store, xc, o->user, o->touches);
        if (rc == ENG__NOT_MINE) {
            rc = ENG_OK;
            break;
        }
        if (rc == ENG_EBUSY && at->shared && attempt < ENG__DSP_RETRIES) {
            eng__conflict_pause(e, attempt);
            continue;
        }
        if (!rc)
            o->done(xc, o->user);
        break;
    }
    return eng__dsp_closed(e, rc);
}
