/* A dispatcher's outcome batch that failed without applying anything (a
 * conflict with another engine, an allocation failure before the commit)
 * takes its `sent` rows back from the cache instead of dropping it: with
 * several engines a conflict is routine, and a reload decodes every segment.
 *
 * eng__touch_sent marks the cache before the batch's first rows; the undo
 * restores the org's tail, contexts and dictionary counters and the send
 * arrays to the mark. It refuses (the caller then drops the cache as before)
 * when the batch did anything it cannot take back: a seal, a new org, new
 * strings, joined pending receipts, opt-outs; or when the batch may have
 * applied (a commit that failed otherwise than by a conflict) or is not the
 * store's last (eng__kv_batch_undone). */
#include "events/ev_state.h"

#include <string.h>

void eng__ev_mark(eng__ev *ev, eng__evorg *o)
{
    unsigned batch = (unsigned)ev->e->store->in_batch;
    if (!batch || ev->mark.batch == batch) /* the batch's first rows only */
        return;
    ev->mark.batch = batch;
    ev->mark.org = o ? o->code : -1;
    ev->mark.norgs = ev->norgs;
    ev->mark.sends = ev->s.n;
    ev->mark.pend_changes = ev->pend_changes;
    ev->mark.aud_written = ev->aud_written;
    ev->mark.seals = ev->seals;
    if (!o)
        return;
    ev->mark.nctx = o->nctx;
    ev->mark.nctx_saved = o->nctx_saved;
    ev->mark.next_dict_seq = o->next_dict_seq;
    ev->mark.dict[0] = o->det.n;
    ev->mark.dict[1] = o->store.n;
    ev->mark.dict[2] = o->sku.n;
    ev->mark.dict[3] = o->fstr.n;
    ev->mark.tail = o->tail.n;
    ev->mark.tail_keys = o->tail.nkey;
    ev->mark.tseg = o->tseg.n;
    ev->mark.tchunk_first = o->tchunk_first;
    ev->mark.tchunk_next = o->tchunk_next;
}

int eng__ev_undo(eng__ev *ev)
{
    unsigned batch = ev->mark.batch;
    ev->mark.batch = 0;
    if (!eng__kv_batch_undone(ev->e->store, batch) || ev->mark.org < 0 || ev->norgs != ev->mark.norgs ||
        ev->pend_changes != ev->mark.pend_changes || ev->seals != ev->mark.seals ||
        ev->aud_written != ev->mark.aud_written)
        return 0;
    eng__evorg *o = eng__ev_org_by_code(ev, (uint16_t)ev->mark.org);
    if (!o || o->tseg.n != ev->mark.tseg || o->tail.n < ev->mark.tail || o->det.n != ev->mark.dict[0] ||
        o->store.n != ev->mark.dict[1] || o->sku.n != ev->mark.dict[2] || o->fstr.n != ev->mark.dict[3])
        return 0;
    /* every send taken back is of this org (the batch wrote no other's) */
    eng__sends *s = &ev->s;
    for (uint32_t id = ev->mark.sends; id < s->n; id++)
        if (s->hot[id].org != o->code)
            return 0;
    for (uint32_t id = ev->mark.sends; id < s->n; id++)
        if (!(s->hashed[id / 64] >> (id % 64) & 1))
            eng__kmap_unput(o, s->ctx[id], s->customer[id], id);
    if (eng__sends_truncate(s, &ev->e->mem, ev->mark.sends) || eng__ev_ctx_truncate(o, ev->mark.nctx))
        return 0;
    if (o->nkm > o->nctx) { /* key maps of contexts taken back */
        for (uint32_t c = o->nctx; c < o->nkm; c++) {
            eng__free(&ev->e->mem, o->km[c].v);
            eng__free(&ev->e->mem, o->km[c].run);
            eng__free(&ev->e->mem, o->km[c].prefix);
            memset(&o->km[c], 0, sizeof o->km[c]);
        }
        o->nkm = o->nctx;
    }
    o->nctx_saved = ev->mark.nctx_saved;
    o->next_dict_seq = ev->mark.next_dict_seq;
    o->npstore = 0; /* prefixes of the batch's dictionary record: to store again */
    for (uint32_t c = 0; c < o->nkm; c++) {
        if (o->km[c].pstore == 2 && o->km[c].pseq >= o->next_dict_seq)
            o->km[c].pstore = 1;
        o->npstore += o->km[c].pstore == 1;
    }
    o->tail.n = ev->mark.tail;
    o->tail.nkey = ev->mark.tail_keys;
    o->tail_saved = ev->mark.tail;
    o->tail_keys_saved = ev->mark.tail_keys;
    o->tchunk_first = ev->mark.tchunk_first;
    o->tchunk_next = ev->mark.tchunk_next;
    eng__tchunks_keep(o, &ev->e->mem, (uint32_t)(o->tchunk_next - o->tchunk_first)); /* the batch's chunk */
    return 1;
}
