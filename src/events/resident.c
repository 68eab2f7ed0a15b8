/* Which sealed segments stay in memory (eng_config.events_segments).
 *
 * A sealed segment never changes in place (a rewrite replaces it whole), so
 * its bytes can be dropped and read again from the store under its key. The
 * zone (time range, counts, customers) stays for every segment: scans skip by
 * it without reading, and a segment read again must have the zone it had.
 * Past the cap the least recently used bytes go; the one just used stays. The
 * counts live in the engine, next to the cap (eng_info_get reads them there). */
#include "events/ev_state.h"

#include <string.h>

static uint64_t *segments(eng__ev *ev) { return &ev->e->evcache.segments; }
static uint64_t *resident(eng__ev *ev) { return &ev->e->evcache.resident; }

/* The least recently used resident segment other than @p keep, or NULL. */
static eng__seg *oldest(eng__ev *ev, const eng__seg *keep)
{
    eng__seg *best = NULL;
    for (uint32_t i = 0; i < ev->norgs; i++) {
        eng__evorg *o = ev->orgs[i];
        if (!o)
            continue;
        eng__segs *lists[2] = {&o->tseg, &o->rseg};
        for (int l = 0; l < 2; l++)
            for (size_t s = 0; s < lists[l]->n; s++) {
                eng__seg *z = &lists[l]->v[s];
                if (z->buf && z != keep && (!best || z->used < best->used))
                    best = z;
            }
    }
    return best;
}

static void trim(eng__ev *ev, const eng__seg *keep)
{
    uint32_t cap = ev->e->evcache.cap;
    while (cap && *resident(ev) > cap) {
        eng__seg *z = oldest(ev, keep);
        if (!z)
            return;
        eng__seg_free_buf(&ev->e->mem, z);
        --*resident(ev);
    }
}

int eng__seg_add(eng__ev *ev, eng__segs *s, const eng__seg *z)
{
    int rc = eng__segs_push(s, &ev->e->mem, z);
    if (rc)
        return rc;
    eng__seg *added = &s->v[s->n - 1];
    added->used = ++ev->seg_tick;
    ++*segments(ev);
    if (added->buf)
        ++*resident(ev);
    trim(ev, added);
    return ENG_OK;
}

void eng__seg_replace(eng__ev *ev, eng__seg *z, const eng__seg *nz)
{
    uint32_t id = z->id;
    if (z->buf)
        eng__seg_free_buf(&ev->e->mem, z);
    else if (nz->buf)
        ++*resident(ev);
    *z = *nz;
    z->id = id;
    z->used = ++ev->seg_tick;
    trim(ev, z);
}

void eng__segs_compact(eng__ev *ev, eng__segs *s)
{
    size_t j = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (s->v[i].n) {
            s->v[j++] = s->v[i];
            continue;
        }
        --*segments(ev);
        if (s->v[i].buf) {
            eng__seg_free_buf(&ev->e->mem, &s->v[i]);
            --*resident(ev);
        }
    }
    s->n = j;
}

void eng__segs_forget(eng__ev *ev, const eng__segs *s)
{
    for (size_t i = 0; i < s->n; i++) {
        --*segments(ev);
        if (s->v[i].buf)
            --*resident(ev);
    }
}

int eng__seg_payload(eng__ev *ev, eng__seg *z, const char *key, uint16_t type, uint16_t schema,
                     int (*zone)(const uint8_t *, size_t, const char *, eng__seg *), const uint8_t **p, size_t *len)
{
    return eng__seg_payload_with(ev, z, key, type, schema, zone, NULL, p, len);
}

int eng__seg_payload_with(eng__ev *ev, eng__seg *z, const char *key, uint16_t type, uint16_t schema,
                          int (*zone)(const uint8_t *, size_t, const char *, eng__seg *), eng__seg_resolve_fn resolve,
                          const uint8_t **p, size_t *len)
{
    z->used = ++ev->seg_tick;
    if (!z->buf) {
        eng__rec rec;
        eng__seg now;
        int rc = eng__rec_get(ev->e->store, ENG__K(key), type, schema, &rec);
        if (rc == ENG_ENOTFOUND)
            rc = eng__err(ENG_EBUSY, key, "sealed segment %s is gone from the store (another engine's change): retry the call", key);
        if (rc)
            return rc;
        if ((rc = zone(rec.payload, rec.len, key, &now))) {
            eng__rec_free(ev->e->store, &rec);
            return rc;
        }
        if (now.n != z->n || now.tmin != z->tmin || now.tmax != z->tmax || now.statuses != z->statuses ||
            now.channels != z->channels || now.cmin != z->cmin || now.cmax != z->cmax || now.xmin != z->xmin ||
            now.xmax != z->xmax) {
            eng__rec_free(ev->e->store, &rec);
            return eng__err(ENG_EBUSY, key, "sealed segment %s changed since it was loaded (another engine's change): retry the call", key);
        }
        uint8_t *got = NULL;
        size_t glen = 0;
        if (resolve && (rc = resolve(ev, key, rec.payload, rec.len, &got, &glen))) {
            eng__rec_free(ev->e->store, &rec);
            return rc;
        }
        z->buf = got ? got : eng__memdup(&ev->e->mem, rec.raw.data, rec.raw.len);
        z->skew = 0;
        z->len = got ? glen : rec.raw.len;
        eng__rec_free(ev->e->store, &rec);
        if (!z->buf)
            return eng__nomem();
        ++*resident(ev);
        ev->e->evcache.reads++;
        trim(ev, z);
    }
    *p = z->buf + ENG__REC_HEADER;
    *len = z->len - ENG__REC_HEADER;
    return ENG_OK;
}
