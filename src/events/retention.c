/* Retention and compaction: seal the open tails, store the sealed touch
 * segments of older kinds ordered (kind 3, tsum.c: what the report reads as
 * tables), and drop each org's sends (with all their touches) whose `sent` is
 * older than its retention, and its transactions older than it. One storage
 * batch; on failure nothing changes. */
#include "events/ev_state.h"

#include <string.h>

ENG_API int eng_events_set_retention(eng_engine *e, const char *actor, uint32_t days)
{
    int rc = eng__enter(e);
    if (rc)
        return rc;
    eng__ev *ev;
    eng__evorg *o;
    char org[256];
    if (days > 36500) {
        rc = eng__err(ENG_EINVAL, "days", "retention must be 0..36500 days");
    } else if (!(rc = eng__ev_admin_org(e, actor, org, sizeof org)) && !(rc = eng__ev_get(e, &ev)) &&
               !(rc = eng__ev_org(ev, org, 1, &o)) && !(rc = eng__kv_begin(e->store))) {
        o->retention_days = days;
        o->dirty = 1;
        rc = eng__ev_flush(ev);
        rc = rc ? eng__ev_fail(e, rc) : eng__ev_commit(e);
    }
    eng__leave(e);
    return rc;
}

ENG_API int eng_events_data_from(eng_engine *e, const char *org, eng_time *out)
{
    if (out)
        *out = 0;
    int rc = eng__enter(e);
    if (rc)
        return rc;
    eng__ev *ev;
    eng__evorg *o;
    if (!org || !out)
        rc = eng__err(ENG_EINVAL, org ? "out" : "org", "argument is NULL");
    else if (!(rc = eng__ev_get(e, &ev)) && !eng__ev_org(ev, org, 0, &o))
        *out = o->data_from;
    eng__leave(e);
    return rc;
}

/* Keep the rows of c whose send survives; returns the number dropped. */
static size_t drop_rows(eng__tcols *c, const eng__sends *s, const uint8_t *gone)
{
    size_t j = 0, k = 0, kj = 0;
    for (size_t i = 0; i < c->n; i++) {
        int sent = c->status[i] == ENG_TOUCH_SENT;
        uint64_t kh = sent ? c->keyhash[k++] : 0;
        if (gone[c->send[i]])
            continue;
        c->time[j] = c->time[i];
        c->customer[j] = c->customer[i];
        c->ctx[j] = c->ctx[i];
        c->channel[j] = c->channel[i];
        c->status[j] = c->status[i];
        c->send[j] = c->send[i];
        c->detail[j] = c->detail[i];
        c->first[j] = c->first[i];
        if (sent)
            c->keyhash[kj++] = kh;
        j++;
    }
    (void)s;
    size_t dropped = c->n - j;
    if (dropped) /* the rewrite orders and sums what is left again */
        c->nsum = 0;
    c->n = j;
    c->nkey = kj;
    return dropped;
}

static int retain_touches(eng__ev *ev, eng__evorg *o, eng_time cutoff, eng__prog *pg, uint64_t *dropped)
{
    const eng__mem *mem = &ev->e->mem;
    eng__sends *s = &ev->s;
    uint8_t *gone = eng__calloc(mem, s->n ? s->n : 1, 1);
    if (!gone)
        return eng__nomem();
    size_t ngone = 0;
    int rc = ENG_OK;
    for (uint32_t i = 0; i < s->n; i++) {
        ENG__WORK(1);
        if ((rc = eng__prog_step(pg, pg->done))) { /* every org's sends: nothing changed yet */
            eng__free(mem, gone);
            return rc;
        }
        if (s->hot[i].org == o->code && s->sent_at[i] < cutoff) {
            gone[i] = 1;
            ngone++;
        }
    }
    for (size_t i = 0; i < o->tseg.n && ngone && !rc; i++) {
        char key[48];
        const uint8_t *p;
        size_t len;
        eng__ev_key(key, sizeof key, o->code, "t/s", o->tseg.v[i].id, 0);
        if ((rc = eng__prog_batch(pg, pg->done)) || /* per segment: one org can hold most of the events */
            (rc = eng__tseg_payload(ev, o, i, &p, &len)) || (rc = eng__tseg_decode(p, len, key, &ev->dec, mem)))
            break;
        ENG__WORK(ev->dec.n);
        size_t d = drop_rows(&ev->dec, s, gone);
        if (d) {
            *dropped += d;
            rc = eng__tseg_rewrite(ev, o, i, &ev->dec, eng__tseg_ordered || eng__tseg_order_compact);
        }
    }
    for (uint32_t i = 0; i < s->n && !rc; i++)
        if (gone[i])
            s->hot[i].org = ENG__NO_ORG;
    eng__free(mem, gone);
    /* segments emptied by the rewrite are removed from the list */
    eng__segs_compact(ev, &o->tseg);
    return rc;
}

/* Every sealed touch segment of an older kind rewritten as kind 3 (eng__tseg_order_compact). */
static int order_touches(eng__ev *ev, eng__evorg *o, eng__prog *pg)
{
    const eng__mem *mem = &ev->e->mem;
    int rc = ENG_OK;
    for (size_t i = 0; i < o->tseg.n && !rc; i++) {
        if (o->tseg.v[i].kind == 3)
            continue;
        char key[48];
        const uint8_t *p;
        size_t len;
        eng__ev_key(key, sizeof key, o->code, "t/s", o->tseg.v[i].id, 0);
        if ((rc = eng__prog_batch(pg, pg->done)) || (rc = eng__tseg_payload(ev, o, i, &p, &len)) ||
            (rc = eng__tseg_decode(p, len, key, &ev->dec, mem)))
            break;
        ENG__WORK(ev->dec.n);
        if (!ev->dec.ordered && !(rc = eng__tkeys_unstore(ev, o, &ev->dec)))
            rc = eng__tseg_rewrite(ev, o, i, &ev->dec, 1);
    }
    return rc;
}

ENG_API int eng_events_compact(eng_engine *e)
{
    int rc = eng__enter(e);
    if (rc)
        return rc;
    eng__ev *ev;
    eng__prog pg;
    if (!(rc = eng__ev_get(e, &ev)) && !(rc = eng__prog_start(&pg, e, "events.compact", ev->norgs)) &&
        !(rc = eng__kv_begin(e->store))) {
        eng_time now = eng__now(e);
        for (uint32_t i = 0; i < ev->norgs && !rc; i++) {
            if ((rc = eng__prog_batch(&pg, i)))
                break;
            eng__evorg *o = ev->orgs[i];
            if (!o)
                continue;
            if ((rc = eng__ttail_seal(ev, o)) || (rc = eng__rtail_seal(ev, o)))
                break;
            if (eng__tseg_order_compact && (rc = order_touches(ev, o, &pg)))
                break;
            if (!o->retention_days)
                continue;
            eng_time cutoff = now - (eng_time)o->retention_days * ENG_DAY;
            uint64_t dropped = 0;
            if ((rc = retain_touches(ev, o, cutoff, &pg, &dropped)) ||
                (rc = eng__retain_txns(ev, o, cutoff, &pg, &dropped)))
                break;
            if (dropped && cutoff > o->data_from) {
                o->data_from = cutoff;
                o->dirty = 1;
            }
        }
        if (!rc)
            rc = eng__prog_end(&pg);
        if (!rc)
            rc = eng__ev_flush(ev);
        uint32_t norgs = ev->norgs; /* a failure frees the events state */
        rc = rc ? eng__ev_fail(e, rc) : eng__ev_commit(e);
        eng__log_done(e, rc, "events compaction", "%u orgs", norgs);
    }
    eng__leave(e);
    return rc;
}
