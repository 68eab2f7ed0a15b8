/* Several engines on one store (docs/storage-backends.md, "Several engines on
 * one database"): keeping this engine's events cache current with the others'
 * commits without reloading it whole.
 *
 * What another engine commits to events is mostly appends: the `sent` rows of
 * its outcome batches go to a new chunk of its org's touch tail
 * (e/<org>/t/c/<seq>), new send contexts to a new dictionary record
 * (e/<org>/x/<seq>). Both are numbered in a row, so this engine reads the
 * records after its last one (a get per record, until one is missing) and
 * appends them to its cache: the cost is the other engine's rows, not the
 * org's history. Every other change to an org (a seal, retention, erasure,
 * transactions) reloads that org only; a change outside the orgs (the org
 * records, pending receipts) or a key shortened past the org drops the cache.
 *
 * Between them, a write of this engine never starts from a stale tail: a
 * change seen when its batch begins is caught up inside the batch when it is
 * appends and the batch is the dispatcher's (eng__kv_begin_inside), else
 * refuses the batch (ENG_EBUSY, the caller syncs and retries); one committed
 * after is a conflict in the store. */
#include "events/ev_state.h"
#include "base/hash.h"

#include <string.h>


static int hex4(const char *k, uint16_t *out)
{
    uint64_t v;
    if (!eng__hex_u64(k, 4, &v))
        return 0;
    *out = (uint16_t)v;
    return 1;
}

static int starts(const char *k, size_t klen, size_t at, const char *what)
{
    size_t n = strlen(what);
    return klen >= at + n && memcmp(k + at, what, n) == 0;
}

int eng__ev_watch(eng_engine *e, void *state, const void *key, size_t klen)
{
    (void)e;
    eng__ev *ev = state;
    const char *k = key;
    uint16_t code;
    eng__evorg *o;
    /* "e/<org:04x>/..." of an org this engine holds; else (a new org, the org records,
     * pending receipts, a shorter prefix) everything */
    if (klen < 7 || k[0] != 'e' || k[1] != '/' || !hex4(k + 2, &code) || k[6] != '/' ||
        !(o = eng__ev_org_by_code(ev, code))) {
        ev->sync_all = 1;
        return 1;
    }
    uint64_t seq = 0;
    if (starts(k, klen, 7, "t/c/") && klen == 27 && eng__hex_u64(k + 11, 16, &seq) && seq < o->tchunk_next &&
        seq >= o->tchunk_first)
        return 0; /* a chunk of the tail this engine holds (read by an earlier catch-up) */
    o->sync |= starts(k, klen, 7, "t/c/") ? EV_SYNC_TAIL : starts(k, klen, 7, "x/") ? EV_SYNC_DICT : EV_SYNC_RELOAD;
    return 1;
}

/* Forget an org's sends (their ids stay taken) and read the org again. */
static int reload_org(eng__ev *ev, eng__evorg *old)
{
    const eng__mem *mem = &ev->e->mem;
    eng__evorg *o = eng__ev_org_new(ev, old->name, strlen(old->name), old->code);
    if (!o)
        return eng__nomem();
    /* the org record is unchanged (a change to it is an "e/g/" key: everything is reloaded) */
    o->retention_days = old->retention_days;
    o->data_from = old->data_from;
    o->nfields = old->nfields;
    o->fname = old->fname;
    o->ftype = old->ftype;
    old->fname = NULL;
    old->ftype = NULL;
    eng__sends *s = &ev->s;
    for (uint32_t id = 0; id < s->n; id++) {
        if (s->hot[id].org != old->code)
            continue;
        s->hot[id].org = ENG__NO_ORG;
        s->hot[id].mask = 0;
        s->hot[id].canon = 0; /* set again by the rows read */
        if (s->hashed[id / 64] >> (id % 64) & 1) {
            s->hashed[id / 64] &= ~(1ull << (id % 64));
            s->nhashed--;
        }
    }
    ev->orgs[old->code] = o;
    eng__segs_forget(ev, &old->tseg);
    eng__segs_forget(ev, &old->rseg);
    eng__ev_org_free(mem, old);
    return eng__ev_load_org(ev, o);
}

/* Read what other engines appended to an org: dictionary records, tail
 * chunks, and the dictionary again (a chunk read here may have been committed
 * after the first pass, with the contexts it names). When the tail changed but
 * no chunk follows this engine's last, compare the stored chunks with the ones
 * held: the same (the chunk was already read by an earlier catch-up) is fine,
 * anything else reloads the org. */
static int catch_up(eng__ev *ev, eng__evorg *o, int *reload)
{
    uint64_t chunks = 0;
    uint32_t nctx = o->nctx;
    ev->nrekey = 0;
    int rc = eng__ev_dict_catch_up(ev, o);
    if (!rc && (o->sync & EV_SYNC_TAIL) && !(rc = eng__ttail_catch_up(ev, o, &chunks)) &&
        !(rc = eng__ev_dict_catch_up(ev, o)))
        rc = eng__sends_rekey(ev, o, ENG__SEND_INDEX); /* the chunks' sends whose key hash is not stored */
    /* Other engines' sends are in the hash index only (keymap.c), and a context another
     * engine made (even one read here without rows) is not this engine's alone: that engine
     * may send into it under another key prefix (two versions approved in one second), so
     * this engine's sends into it are probed and not flagged `first`, as for a loaded one. */
    if (!rc && (chunks || o->nctx > nctx))
        o->km_loaded = o->nctx;
    int same = 1;
    if (!rc && (o->sync & EV_SYNC_TAIL) && !chunks)
        rc = eng__ttail_matches(ev, o, &same);
    *reload = !same;
    return rc;
}

static int sync_orgs(eng__ev *ev)
{
    int rc = ENG_OK, reindex = 0;
    for (uint32_t i = 0; i < ev->norgs && !rc; i++) {
        eng__evorg *o = ev->orgs[i];
        if (!o || !o->sync)
            continue;
        int reload = (o->sync & EV_SYNC_RELOAD) != 0;
        if (!reload)
            rc = catch_up(ev, o, &reload);
        o->sync = 0;
        if (!rc && reload) {
            rc = reload_org(ev, o);
            reindex = 1;
        }
    }
    return !rc && reindex ? eng__sends_reindex(&ev->s, &ev->e->mem, NULL) : rc;
}

/* Inside a batch that found other engines' commits at its start: their appends
 * are read in the batch (which then writes after them) instead of refusing it.
 * Anything that would reload an org (or all) still refuses: a reload frees what
 * the batch's caller may point into. An org whose catch-up fails midway is
 * reloaded by the next invalidate. */
int eng__ev_catch_up_inside(eng_engine *e, void *state)
{
    (void)e;
    eng__ev *ev = state;
    if (ev->sync_all)
        return ENG_EBUSY;
    for (uint32_t i = 0; i < ev->norgs; i++)
        if (ev->orgs[i] && (ev->orgs[i]->sync & EV_SYNC_RELOAD))
            return ENG_EBUSY;
    for (uint32_t i = 0; i < ev->norgs; i++) {
        eng__evorg *o = ev->orgs[i];
        if (!o || !o->sync)
            continue;
        int reload = 0, rc = catch_up(ev, o, &reload);
        if (rc || reload) {
            o->sync = EV_SYNC_RELOAD;
            return rc ? rc : ENG_EBUSY;
        }
        o->sync = 0;
    }
    return ENG_OK;
}

void eng__ev_invalidate(eng_engine *e, void *state)
{
    eng__ev *ev = state;
    if (!ev->sync_all && sync_orgs(ev) == ENG_OK)
        return;
    if (!ev->sync_all) {
        eng__log(e, ENG_LOG_DEBUG, "events: reading other engines' changes failed (%s); reloading",
                 eng_error_last()->message);
        eng_error_clear();
    }
    eng__slot_set(e, ENG__SLOT_EVENTS, NULL, NULL);
    eng__ev_free(e, ev);
}
