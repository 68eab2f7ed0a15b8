/* Several engines on one store: keeping the cached executions current with
 * the other engines' commits without rebuilding them.
 *
 * A cached execution (exec.c) holds what it took reading the frozen
 * audience, compiling the templates and opening the strategy to build, and
 * per chunk whether it is planned and final. Another engine's commit to an
 * execution changes only the latter: a chunk record (d/l/<msg>/<occ>/<chunk>,
 * read again alone; a key shortened to the message reads them all) and the
 * execution record (d/x/<msg>/<occ>, read again). Leases (d/k/) are read
 * inside the batches that rely on them and X-Engage's records (d/xe/, d/xo/)
 * by the decide layer, so neither touches this cache. Any other key drops the
 * cached executions, as every ledger change did before. */
#include "dispatch/dispatch_impl.h"
#include "base/hash.h"

#include <string.h>


/* What a key says: message (always), occurrence (have_occ) and chunk (have_chunk). */
typedef struct xkey {
    uint64_t msg, occ, chunk;
    int have_occ, have_chunk;
} xkey;

/* "d/?/<msg:016x>[/<occ:08x>[/<chunk:08x>]]", possibly cut after a '/'. */
static int parse(const char *k, size_t klen, xkey *x)
{
    memset(x, 0, sizeof *x);
    if (klen < 20 || !eng__hex_u64(k + 4, 16, &x->msg) || (klen > 20 && k[20] != '/'))
        return 0;
    if (klen >= 29 && eng__hex_u64(k + 21, 8, &x->occ) && (klen == 29 || k[29] == '/'))
        x->have_occ = 1;
    if (x->have_occ && klen == 38 && eng__hex_u64(k + 30, 8, &x->chunk))
        x->have_chunk = 1;
    return klen <= 21 || x->have_occ;
}

int eng__dsp_watch(eng_engine *e, void *state, const void *key, size_t klen)
{
    eng__dsp *d = state;
    const char *k = key;
    if ((klen >= 4 && !memcmp(k, "d/k/", 4)) || (klen >= 5 && (!memcmp(k, "d/xe/", 5) || !memcmp(k, "d/xo/", 5))))
        return 0; /* leases; X-Engage's records */
    xkey x;
    int ledger = klen >= 4 && !memcmp(k, "d/l/", 4), rec = klen >= 4 && !memcmp(k, "d/x/", 4);
    if (!(ledger || rec) || !parse(k, klen, &x)) {
        d->drop_all = 1;
        return d->execs != NULL;
    }
    int marked = 0;
    for (eng__xcache *xc = d->execs; xc; xc = xc->next) {
        if (xc->msg != x.msg || (x.have_occ && xc->occ != x.occ))
            continue;
        marked = 1;
        if (rec) {
            xc->rec_stale = 1;
        } else if (x.have_chunk && x.chunk < xc->nchunks) {
            if (!xc->cstale && !(xc->cstale = eng__calloc(&e->mem, xc->nchunks ? xc->nchunks : 1, 1)))
                xc->rescan = 1; /* no memory to note which: read them all */
            else
                xc->cstale[x.chunk] = 1;
        } else {
            xc->rescan = 1;
        }
    }
    return marked;
}

static int refresh(eng_engine *e, eng__xcache *xc)
{
    int rc = ENG_OK;
    if (xc->rec_stale) {
        eng__xrec r;
        if ((rc = eng__exec_load(e, xc->msg, xc->occ, &r)))
            return rc;
        xc->rec = r;
        xc->rec_stale = 0;
    }
    if (!xc->cstate) /* not running when it was loaded: nothing per chunk */
        return ENG_OK;
    if (xc->rescan) {
        if ((rc = eng__xcache_scan_chunks(e, xc)))
            return rc;
        xc->rescan = 0;
        if (xc->cstale)
            memset(xc->cstale, 0, xc->nchunks);
        return ENG_OK;
    }
    for (uint32_t i = 0; xc->cstale && i < xc->nchunks && !rc; i++)
        if (xc->cstale[i]) {
            rc = eng__xcache_read_chunk(e, xc, i);
            if (eng__absent(rc)) /* not planned (cannot be: a chunk record is never deleted) */
                rc = ENG_OK;
            xc->cstale[i] = 0;
        }
    return rc;
}

void eng__dsp_invalidate(eng_engine *e, void *state)
{
    eng__dsp *d = state;
    int rc = d->drop_all ? ENG_EBUSY : ENG_OK;
    for (eng__xcache *xc = d->execs; xc && !rc; xc = xc->next)
        rc = refresh(e, xc);
    d->drop_all = 0;
    if (rc) {
        eng__dsp_drop(e); /* every cached execution is rebuilt from storage when next used */
        eng_error_clear();
    }
}
