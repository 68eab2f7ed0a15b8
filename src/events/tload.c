/* Loading an org's sealed touch segments (eng__tseg_load, from eng__ev_load_touches).
 *
 * Each segment is copied (its bytes stay resident, resident.c), checked,
 * decoded, and its rows go into the sends' arrays (eng__sends_load). At W6's L
 * (10^8 touches, ~1,500 segments) a reopen in a fresh process was ~2.7 s of
 * one thread: the sends' arrays about half (their loop and page faults), the
 * copy (~270,000 faults of fresh pages) and the decode about 40 %. With
 * eng_config.threads > 0 a worker copies, checks and decodes segment i while
 * the caller loads the sends of segment i - 1: two decode buffers, a group of
 * one job a segment on the engine's pool (the caller runs it when no worker
 * takes it, so threads = 0 is the same order on one thread).
 *
 * A job that fails is not reported from the worker: the caller does that
 * segment again itself, so a corrupt segment's error (its message, naming the
 * segment, is the thread's) and an allocation failure are the caller's, as
 * they were when it did every segment. */
#include "events/ev_state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct segjob {
    const eng__mem *mem;
    const void *key;
    size_t klen;
    const char *k; /* printable, for the messages */
    const uint8_t *val;
    size_t vlen;
    uint8_t *buf; /* the copy kept as the segment's bytes */
    int built;    /* buf is a record naming chunks resolved (vlen bytes: header room, kind-4 payload) */
    eng__tcols *d;
    eng__seg z;
    int rc;
} segjob;

static int seg_take(segjob *j)
{
    eng__rec rec;
    int rc = ENG_OK;
    if (j->built) {
        rec.payload = j->buf + ENG__REC_HEADER;
        rec.len = j->vlen - ENG__REC_HEADER;
    } else {
        memcpy(j->buf, j->val, j->vlen);
        rc = eng__rec_decode(j->key, j->klen, j->buf, j->vlen, ENG__REC_EV_TSEG, ENG__TSEG_V_SKEYS, &rec);
    }
    if (!rc)
        rc = eng__tseg_decode(rec.payload, rec.len, j->k, j->d, j->mem);
    if (!rc)
        rc = eng__tseg_zone(rec.payload, rec.len, j->k, &j->z);
    return rc;
}

static void seg_run(void *user, size_t k)
{
    (void)k;
    segjob *j = user;
    j->rc = seg_take(j);
}

typedef struct segload {
    eng__ev *ev;
    eng__evorg *o;
    eng__tcols *d[2]; /* decoded by the job; the other holds the segment whose sends are next */
    int next;         /* d[next] for the next job */
    int pending;      /* d[!next] waits for eng__sends_load */
} segload;

/* The sends of the segment decoded before. */
static int sends_of_pending(segload *l)
{
    if (!l->pending)
        return ENG_OK;
    l->pending = 0;
    eng__tcols *d = l->d[!l->next];
    int rc = eng__sends_load(l->ev, l->o, d, ENG__SEND_INDEX_LATER);
    return rc ? rc : eng__ev_load_step(l->ev, d->n);
}

static int seg_cb(const void *key, size_t klen, const void *val, size_t vlen, void *user)
{
    segload *l = user;
    eng__ev *ev = l->ev;
    const eng__mem *mem = &ev->e->mem;
    char k[64];
    eng__key_printable(key, klen, k, sizeof k);
    char hex[9];
    if (klen != 11 + 8)
        return eng__err(ENG_ECORRUPT, k, "bad touch segment key %s", k);
    memcpy(hex, (const char *)key + 11, 8);
    hex[8] = 0;
    uint32_t seq = (uint32_t)strtoul(hex, NULL, 16);
    segjob j = {mem, key, klen, k, val, vlen, NULL, 0, l->d[l->next], {0}, ENG_OK};
    const uint8_t *v = val;
    if (vlen > ENG__REC_HEADER && v[ENG__REC_HEADER] == 5) {
        /* a record naming its chunks' records: read here (the store is the caller's), the job decodes */
        eng__rec rec;
        int rc = eng__rec_decode(key, klen, val, vlen, ENG__REC_EV_TSEG, ENG__TSEG_V_SKEYS, &rec);
        if (rc || (rc = eng__tref_resolve(ev, l->o, k, rec.payload, rec.len, &j.buf, &j.vlen)))
            return rc;
        j.built = 1;
    } else if (!(j.buf = eng__malloc(mem, vlen ? vlen : 1))) {
        return eng__nomem();
    }
    eng__pipe pp;
    eng__pipe_start(&pp, &ev->e->pool, ev->e->threads ? 1 : 0, 1, seg_run, &j);
    int rc = sends_of_pending(l);
    eng__pipe_end(&pp);
    if (!rc && j.rc)
        rc = seg_take(&j); /* on this thread: see the top */
    if (!rc) {
        j.z.id = seq;
        j.z.len = j.vlen;
        j.z.buf = j.buf;
        rc = eng__seg_add(ev, &l->o->tseg, &j.z);
    }
    if (rc) {
        eng__free(mem, j.buf);
        return rc;
    }
    if (seq >= l->o->tseg.next_id)
        l->o->tseg.next_id = seq + 1;
    l->next = !l->next;
    l->pending = 1;
    return ENG_OK;
}

int eng__tseg_load(eng__ev *ev, eng__evorg *o)
{
    char prefix[32];
    eng__tcols other;
    memset(&other, 0, sizeof other);
    segload l = {ev, o, {&ev->dec, &other}, 0, 0};
    snprintf(prefix, sizeof prefix, "e/%04x/t/s/", (unsigned)o->code);
    int rc = eng__kv_scan(ev->e->store, ENG__K(prefix), seg_cb, &l);
    if (!rc)
        rc = sends_of_pending(&l);
    eng__tcols_free(&other, &ev->e->mem);
    return rc;
}
