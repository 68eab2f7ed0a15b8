/* Consent history (issue 16, docs/privacy.md): every change of consent or
 * opt-out per customer and channel, with its time, source and actor.
 *
 * Nothing is kept per change on the import's hot path. The import deltas
 * already hold every value in order, so each delta part that can change
 * consent gets a small origin record beside it (P h/<seq>/<part>: source,
 * actor, time recorded), written in the same batch. The history is then the
 * archive (P c/<part>, written when the deltas are rewritten: compaction and
 * erasure) followed by a replay of the live deltas into a scratch table that
 * notes each change (eng__table.hist). A delta without an origin (a
 * compacted one, or one older than this record) moves the state but records
 * nothing: the archive already holds what it summarises.
 *
 * Archive part: uvar norigins, norigins x (u8 source, svar when, blob actor),
 * uvar n, n x (uvar id - previous id, u8 channel, u8 kind | yes << 1,
 * uvar origin, svar time); entries in dense-id order, oldest first per id.
 * The time is stored whole (not as a difference), so an erased customer's
 * times leave the file with the rest of them. */
#include "audience/audience_impl.h"
#include "base/handle.h"
#include "base/codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ORIGIN_V 1
#define CHIST_V 1
/* Changes per archive part (tests lower it): a part is read, and written, in
 * one step. */
size_t eng__chist_part_changes = 65536;
#define NO_ORIGIN UINT32_MAX

void eng__chist_init(eng__chist *h, const eng__mem *mem, uint32_t only)
{
    memset(h, 0, sizeof *h);
    h->mem = mem;
    h->only = only;
    h->cur = NO_ORIGIN;
}

void eng__chist_free(eng__chist *h)
{
    for (size_t i = 0; i < h->no; i++)
        eng__free(h->mem, h->o[i].actor);
    eng__free(h->mem, h->o);
    eng__free(h->mem, h->v);
    eng__chist_init(h, h->mem, h->only);
}

static int add_origin(eng__chist *h, int source, eng_time when, const char *actor, size_t alen, uint32_t *out)
{
    if (eng__grow(h->mem, (void **)&h->o, &h->ocap, h->no + 1, sizeof *h->o))
        return eng__nomem();
    char *s = eng__malloc(h->mem, alen + 1);
    if (!s)
        return eng__nomem();
    memcpy(s, actor, alen);
    s[alen] = 0;
    h->o[h->no] = (eng__origin){source, when, s};
    *out = (uint32_t)h->no++;
    return ENG_OK;
}

static int add_change(eng__chist *h, uint32_t id, int ch, int kind, int yes, int64_t ts, uint32_t origin)
{
    if (eng__grow(h->mem, (void **)&h->v, &h->cap, h->n + 1, sizeof *h->v))
        return eng__nomem();
    h->v[h->n] = (eng__chg){id, origin, (uint32_t)h->n, (uint8_t)ch, (uint8_t)kind, (uint8_t)(yes != 0), ts};
    h->n++;
    return ENG_OK;
}

int eng__chist_note(eng__chist *h, int kind, int ch, uint32_t id, int yes, int64_t ts, int oyes, int64_t ots)
{
    if (h->cur == NO_ORIGIN || (h->only != ENG__CHIST_ALL && id != h->only))
        return ENG_OK;
    if (!yes != !oyes || (yes && ts != ots))
        return add_change(h, id, ch, kind, yes, ts, h->cur);
    return ENG_OK;
}

/* ---- origin records ---- */

/* The origin key of a delta key: P t/... -> P h/... */
static void origin_key(const eng__aud *a, const char *dkey, char *out, size_t cap)
{
    snprintf(out, cap, "%s", dkey);
    out[a->plen] = 'h';
}

int eng__chist_put_origin(eng__aud *a, const char *dkey, int source, const char *actor, eng_time when)
{
    char key[ENG__AUD_KEY_MAX];
    origin_key(a, dkey, key, sizeof key);
    eng__wr w;
    eng__wr_init(&w, &a->e->mem);
    eng__wr_u8(&w, (uint8_t)source);
    eng__wr_svar(&w, when);
    eng__wr_blob(&w, actor ? actor : "", actor ? strlen(actor) : 0);
    return eng__rec_put_wr(a->e->store, ENG__K(key), ENG__REC_AUD_ORIGIN, ORIGIN_V, &w);
}

/* ---- building the history: archive, then the live deltas replayed ---- */


static int read_archive(eng__chist *h, const uint8_t *p, size_t n, const char *key)
{
    eng__rd r;
    eng__rd_init(&r, p, n);
    uint64_t no = eng__rd_uvar(&r);
    if (!eng__rd_ok(&r) || no > eng__rd_left(&r))
        return eng__err(ENG_ECORRUPT, key, "consent history: bad origin count");
    size_t base = h->no;
    int rc = ENG_OK;
    for (uint64_t i = 0; i < no && !rc; i++) {
        int src = eng__rd_u8(&r);
        int64_t when = eng__rd_svar(&r);
        size_t l;
        const uint8_t *s = eng__rd_blob(&r, &l);
        uint32_t idx;
        if (!s || !eng__rd_ok(&r))
            return eng__err(ENG_ECORRUPT, key, "consent history: bad origin");
        rc = add_origin(h, src, when, (const char *)s, l, &idx);
    }
    uint64_t ne = eng__rd_uvar(&r);
    if (!rc && (!eng__rd_ok(&r) || ne > eng__rd_left(&r)))
        return eng__err(ENG_ECORRUPT, key, "consent history: bad entry count");
    uint64_t id = 0;
    ENG__WORK(ne);
    for (uint64_t i = 0; i < ne && !rc; i++) {
        id += eng__rd_uvar(&r);
        int ch = eng__rd_u8(&r), f = eng__rd_u8(&r);
        uint64_t o = eng__rd_uvar(&r);
        int64_t ts = eng__rd_svar(&r);
        if (!eng__rd_ok(&r) || id > UINT32_MAX || ch >= ENG_CH_COUNT || f > 3 || o >= no)
            return eng__err(ENG_ECORRUPT, key, "consent history: bad entry");
        if (h->only == ENG__CHIST_ALL || id == h->only)
            rc = add_change(h, (uint32_t)id, ch, f & 1, f >> 1, ts, (uint32_t)(base + o));
    }
    if (!rc && eng__rd_left(&r))
        rc = eng__err(ENG_ECORRUPT, key, "consent history: trailing bytes");
    return rc;
}

static int beat(eng__prog *pg)
{
    return pg ? eng__prog_batch(pg, pg->done) : ENG_OK;
}

/* Replay one delta into the scratch table, recording under its origin (if any). */
static int replay_one(eng__aud *a, eng__table *t, eng__chist *h, const char *dkey, eng__prog *pg)
{
    eng_store *st = a->e->store;
    int rc = beat(pg);
    if (rc)
        return rc;
    char okey[ENG__AUD_KEY_MAX];
    origin_key(a, dkey, okey, sizeof okey);
    eng__rec r;
    rc = eng__rec_get(st, ENG__K(okey), ENG__REC_AUD_ORIGIN, ORIGIN_V, &r);
    h->cur = NO_ORIGIN;
    if (rc == ENG_ENOTFOUND) {
        eng_error_clear();
    } else if (rc) {
        return rc;
    } else {
        eng__rd rd;
        eng__rd_init(&rd, r.payload, r.len);
        int src = eng__rd_u8(&rd);
        int64_t when = eng__rd_svar(&rd);
        size_t l;
        const uint8_t *s = eng__rd_blob(&rd, &l);
        if (!s || !eng__rd_ok(&rd))
            rc = eng__err(ENG_ECORRUPT, okey, "consent history: bad origin record");
        else
            rc = add_origin(h, src, when, (const char *)s, l, &h->cur);
        eng__rec_free(st, &r);
        if (rc)
            return rc;
    }
    if ((rc = eng__rec_get(st, ENG__K(dkey), ENG__REC_AUD_DELTA, ENG__DELTA_V, &r)))
        return rc;
    uint64_t ins = 0, upd = 0;
    rc = eng__delta_apply(t, r.payload, r.len, r.schema, dkey, NULL, &ins, &upd);
    eng__rec_free(st, &r);
    return rc;
}

int eng__chist_build(eng__aud *a, eng__chist *h, eng__prog *pg)
{
    const eng__mem *mem = &a->e->mem;
    eng__aud_keylist kl;
    int rc = eng__aud_keys_of(a, "c/", &kl);
    for (size_t i = 0; i < kl.n && !rc; i++) {
        eng__rec r;
        if (!(rc = beat(pg)) && !(rc = eng__rec_get(a->e->store, ENG__K(kl.k[i]), ENG__REC_AUD_CHIST, CHIST_V, &r))) {
            rc = read_archive(h, r.payload, r.len, kl.k[i]);
            eng__rec_free(a->e->store, &r);
        }
    }
    eng__aud_keylist_free(&kl);
    if (rc)
        return rc;
    /* The scratch table has the live schema; only its consent state matters. */
    eng__table t;
    eng__table_init(&t, mem);
    t.idkind = a->t.idkind;
    for (uint32_t c = 0; c < a->t.ncols && !rc; c++)
        rc = eng__table_add_col(&t, a->t.cols[c].name, a->t.cols[c].type);
    /* Sized for the live table: no index doubles (and rehashes) on the way. */
    if (!rc)
        rc = eng__table_reserve(&t, a->t.n);
    eng__table_set_prog(&t, pg);
    t.hist = h;
    if (!rc)
        rc = eng__aud_keys_of(a, "t/", &kl);
    for (size_t i = 0; i < kl.n && !rc; i++)
        rc = replay_one(a, &t, h, kl.k[i], pg);
    eng__aud_keylist_free(&kl);
    t.hist = NULL;
    eng__table_free(&t);
    h->cur = NO_ORIGIN;
    return rc;
}

/* ---- rewriting the archive (compaction, erasure) ---- */

static int by_id(const void *x, const void *y)
{
    const eng__chg *a = x, *b = y;
    if (a->id != b->id)
        return a->id < b->id ? -1 : 1;
    return a->pos < b->pos ? -1 : a->pos > b->pos;
}

int eng__chist_rewrite(eng__aud *a, eng__chist *h, const eng__idset *erase, eng__keys *old_keys, eng__prog *pg)
{
    int rc = eng__aud_del_keys(a, "c/", old_keys);
    if (!rc)
        rc = eng__aud_del_keys(a, "h/", NULL);
    if (rc)
        return rc;
    if ((rc = eng__prog_sort(pg, h->v, h->n, sizeof *h->v, by_id)))
        return rc;
    ENG__WORK(h->n / 64); /* the sort's runs and merges step every 2^15 changes */
    eng__wr w;
    eng__wr_init(&w, &a->e->mem);
    /* A part lists only the origins its changes name, renumbered: each part's
     * list is read back as origins of their own, so writing every origin in
     * every part would multiply them by the parts at each rewrite. */
    uint32_t *oidx = eng__malloc(&a->e->mem, (h->no ? h->no : 1) * sizeof *oidx);
    uint32_t *oused = eng__malloc(&a->e->mem, (h->no ? h->no : 1) * sizeof *oused);
    if (!oidx || !oused)
        rc = eng__nomem();
    uint32_t part = 0;
    for (size_t i = 0; i < h->n && !rc;) {
        if ((rc = beat(pg)))
            break;
        for (size_t k = 0; k < h->no; k++)
            oidx[k] = NO_ORIGIN;
        /* count this part's entries first: the erased customers' are left out */
        size_t end = i, kept = 0, nused = 0;
        for (; end < h->n && kept < eng__chist_part_changes; end++) {
            const eng__chg *c = &h->v[end];
            if (eng__table_erased(&a->t, c->id) || (erase && eng__idset_contains(erase, c->id)))
                continue;
            kept++;
            if (oidx[c->origin] == NO_ORIGIN) {
                oidx[c->origin] = (uint32_t)nused;
                oused[nused++] = c->origin;
            }
        }
        ENG__WORK(end - i);
        w.len = 0;
        eng__wr_uvar(&w, nused);
        for (size_t k = 0; k < nused; k++) {
            const eng__origin *o = &h->o[oused[k]];
            eng__wr_u8(&w, (uint8_t)o->source);
            eng__wr_svar(&w, o->when);
            eng__wr_blob(&w, o->actor, strlen(o->actor));
        }
        eng__wr_uvar(&w, kept);
        uint32_t prev = 0;
        for (; i < end; i++) {
            const eng__chg *c = &h->v[i];
            if (eng__table_erased(&a->t, c->id) || (erase && eng__idset_contains(erase, c->id)))
                continue;
            eng__wr_uvar(&w, c->id - prev);
            prev = c->id;
            eng__wr_u8(&w, c->ch);
            eng__wr_u8(&w, (uint8_t)(c->kind | c->yes << 1));
            eng__wr_uvar(&w, oidx[c->origin]);
            eng__wr_svar(&w, c->ts);
        }
        if (!kept)
            continue;
        if (w.err) {
            rc = eng__nomem();
            break;
        }
        char key[ENG__AUD_KEY_MAX];
        char rest[16];
        size_t kl;
        snprintf(rest, sizeof rest, "c/%08x", part++);
        eng__aud_keys(a, key, sizeof key, rest, &kl);
        rc = eng__rec_put(a->e->store, key, kl, ENG__REC_AUD_CHIST, CHIST_V, w.data, w.len);
    }
    eng__free(&a->e->mem, oidx);
    eng__free(&a->e->mem, oused);
    eng__wr_free(&w);
    return rc;
}

/* ---- the public iterator ---- */

struct eng_consent_iter {
    eng__child c;
    eng__chist h;
    size_t pos;
};

ENG_API int eng_consent_change_init(eng_consent_change *x, unsigned int version)
{
    static const eng_consent_change init = ENG_CONSENT_CHANGE_INIT;
    return eng__struct_init(x, &init, ENG__SIZES(sizeof init), version, "eng_consent_change");
}

int eng__aud_consent_history(eng_engine *e, const eng__aud_cx *cx, uint32_t id, eng_consent_iter **out)
{
    int rc = eng__enter_ptr(e, out, "out");
    if (rc)
        return rc;
    eng__aud *a;
    eng_consent_iter *it = NULL;
    if (!(rc = eng__aud_get_cx(e, cx, &a))) {
        if (id >= a->t.n)
            rc = eng__err(ENG_ENOTFOUND, "id", "no customer %u", id);
        else if (eng__table_erased(&a->t, id))
            rc = eng__err(ENG_ENOTFOUND, "id", "customer %u was erased", id);
        else if (!(it = eng__child_new(e, sizeof *it, ENG__H_CONSENT_ITER)))
            rc = eng__nomem();
        else {
            eng__chist_init(&it->h, &e->mem, id);
            if ((rc = eng__chist_build(a, &it->h, NULL))) {
                eng__chist_free(&it->h);
                eng__child_drop(it);
            } else {
                *out = eng__child_give(it);
            }
        }
    }
    eng__leave(e);
    return rc;
}

void eng__chist_fill(const eng__chist *h, size_t i, eng_consent_change *out)
{
    const eng__chg *c = &h->v[i];
    const eng__origin *o = &h->o[c->origin];
    out->channel = c->ch;
    out->kind = c->kind ? ENG_CONSENT_KIND_OPTOUT : ENG_CONSENT_KIND_CONSENT;
    out->given = c->yes;
    out->recorded = o->when;
    out->time = c->yes ? c->ts : o->when;
    out->source = o->source;
    out->actor = o->actor;
}

ENG_API int eng_consent_next(eng_consent_iter *it, eng_consent_change *out)
{
    if (!eng__handle_live(it, ENG__H_CONSENT_ITER)) {
        eng__out_clear(out, ENG__SIZES(sizeof(eng_consent_change)));
        return eng__err(ENG_EMISUSE, "iterator", "eng_consent_next: not a consent iterator (NULL or freed)");
    }
    int rc = eng__out_open(out, ENG__SIZES(sizeof(eng_consent_change)), "eng_consent_change", "out");
    if (rc)
        return rc;
    if (it->pos >= it->h.n)
        return ENG_ITEROVER;
    eng__chist_fill(&it->h, it->pos++, out);
    return ENG_OK;
}

ENG_API void eng_consent_iter_free(eng_consent_iter *it)
{
    if (!eng__handle_live(it, ENG__H_CONSENT_ITER))
        return;
    eng__chist_free(&it->h);
    eng__child_free(it);
}
