/* Resolving, splitting, hashing and freezing audiences. */
#include "base/handle.h"
#include "audience/audience_impl.h"
#include "audience/audience_link.h"
#include "audience/resolve_pass.h"
#include "base/codec.h"
#include "base/hash.h"
#include "store/seq.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ENG__AUD_MAGIC 0x41554431u /* "AUD1" */
#define FROZEN_V 1

struct eng_audience {
    uint32_t magic;
    eng_engine *e;
    char org[ENG__AUD_PFX_MAX]; /* whose customers: freezing stores it under this org */
    eng__idset all, test, control;
    int has_all; /* all is built (global control group); else it is test ∪ control, read from those */
    int has_reach;
    uint64_t reach[ENG_CH_COUNT];
    /* The content hash is computed on first use (freeze or eng_audience_hash),
     * not in every resolve: at L it costs as much as the resolve itself. */
    pthread_mutex_t lock;
    int hashed;
    uint8_t hash[ENG__SHA256_LEN];
    uint64_t seed;
    double ratio;
    uint32_t channels;
};

/* A query with its groups turned into ids and its control share into a test ratio. */
typedef struct {
    uint32_t include[ENG__MAX_GROUP_REFS], exclude[ENG__MAX_GROUP_REFS];
    size_t n_include, n_exclude;
    uint32_t channels;
    uint64_t seed;
    double test_ratio;
    uint32_t control_group; /* the campaign's own control list (an uploaded group), or 0 */
} resolved_query;

ENG_API int eng_audience_query_init(eng_audience_query *query, unsigned int version)
{
    if (!query)
        return eng__err(ENG_EINVAL, "query", "eng_audience_query_init: query is NULL");
    if (version == 0 || version > ENG_AUDIENCE_QUERY_VERSION)
        return eng__err(ENG_EVERSION, "query.version", "unsupported eng_audience_query version %u", version);
    static const eng_audience_query init = ENG_AUDIENCE_QUERY_INIT; /* padding zero: init == INIT */
    return eng__struct_init(query, &init, ENG__SIZES(ENG__UPTO(eng_audience_query, campaign), sizeof init), version,
                            "eng_audience_query");
}

/* The campaign's control list: its members among the audience are the control part (with
 * the global control group's, when that is on), the others the test part. */
static int control_list_split(eng__aud *st, uint32_t group, eng_audience *a)
{
    const eng__group *grp = eng__group_find(st, group);
    if (!grp) /* resolve_query checked it under the same lock */
        return eng__group_missing(st, group, "query.control_group");
    if (!st->gc.mode) {
        int rc = eng__idset_op(ENG__SET_AND, &a->control, &a->all, &grp->members);
        return rc ? rc : eng__idset_op(ENG__SET_ANDNOT, &a->test, &a->all, &grp->members);
    }
    eng__idset in;
    eng__idset_init(&in, &st->e->mem);
    int rc = eng__idset_op(ENG__SET_AND, &in, &a->all, &grp->members);
    if (!rc && !(rc = eng__idset_op_into(ENG__SET_OR, &a->control, &in)))
        rc = eng__idset_op_into(ENG__SET_ANDNOT, &a->test, &grp->members);
    eng__idset_free(&in);
    return rc;
}

static eng_audience *aud_new(eng_engine *e, const char *org)
{
    eng_audience *a = eng__handle_new(&e->mem, sizeof *a, ENG__H_AUDIENCE);
    if (!a)
        return NULL;
    a->magic = ENG__AUD_MAGIC;
    a->e = e;
    snprintf(a->org, sizeof a->org, "%s", org);
    eng__idset_init(&a->all, &e->mem);
    eng__idset_init(&a->test, &e->mem);
    eng__idset_init(&a->control, &e->mem);
    pthread_mutex_init(&a->lock, NULL);
    return a;
}

static void aud_release(eng_audience *a)
{
    eng__idset_free(&a->all);
    eng__idset_free(&a->test);
    eng__idset_free(&a->control);
    pthread_mutex_destroy(&a->lock);
    a->magic = 0;
    eng__handle_free(&a->e->mem, a);
}

static int content_hash(const eng_audience *a, uint8_t out[ENG__SHA256_LEN]);

static int ensure_hash(eng_audience *a)
{
    pthread_mutex_lock(&a->lock);
    int rc = a->hashed ? ENG_OK : content_hash(a, a->hash);
    if (!rc)
        a->hashed = 1;
    pthread_mutex_unlock(&a->lock);
    return rc;
}

/* SHA-256 over the canonical serialised test and control sets. */
static int content_hash(const eng_audience *a, uint8_t out[ENG__SHA256_LEN])
{
    eng__wr w;
    eng__wr_init(&w, &a->e->mem);
    eng__idset_write(&a->test, &w);
    eng__idset_write(&a->control, &w);
    if (w.err) {
        eng__wr_free(&w);
        return eng__nomem();
    }
    eng__sha256(w.data, w.len, out);
    eng__wr_free(&w);
    return ENG_OK;
}

/* Progress of a resolve: one unit per group, per channel and for the split.
 * The groups are evaluated first (uploaded ones lent, not copied), then
 * everything is combined in one pass (resolve_pass.c). */
static int resolve(eng_engine *e, eng__aud *st, const resolved_query *o, eng_audience **out)
{
    int rc;
    eng_audience *a = aud_new(e, st->org);
    if (!a)
        return eng__nomem();
    a->seed = o->seed;
    a->ratio = o->test_ratio;
    a->channels = o->channels;
    size_t ng = o->n_include + o->n_exclude;
    eng__idset *tmp = eng__calloc(&e->mem, ng ? ng : 1, sizeof *tmp);
    const eng__idset **refs = eng__calloc(&e->mem, ng ? ng : 1, sizeof *refs);
    eng__prog pg;
    rc = !tmp || !refs ? eng__nomem()
                       : eng__prog_start(&pg, e, "audience.resolve", o->n_include + o->n_exclude + ENG_CH_COUNT + 1);
    for (size_t i = 0; tmp && i < ng; i++)
        eng__idset_init(&tmp[i], &e->mem);
    for (size_t i = 0; i < ng && !rc; i++) {
        uint32_t id = i < o->n_include ? o->include[i] : o->exclude[i - o->n_include];
        if (!(rc = eng__group_eval_ref(st, id, &tmp[i], &refs[i])))
            rc = eng__prog_batch(&pg, pg.done + 1);
    }
    eng__rpass p;
    memset(&p, 0, sizeof p);
    p.inc = refs;
    p.ninc = o->n_include;
    p.exc = refs ? refs + o->n_include : NULL; /* NULL when out of memory (rc is set) */
    p.nexc = o->n_exclude;
    /* Reach per channel in use (the preview), and the channel filter. */
    for (int ch = 0; ch < ENG_CH_COUNT && !rc; ch++) {
        if ((rc = eng__prog_batch(&pg, pg.done + 1)) || !st->t.ch[ch].used)
            continue;
        p.count |= 1u << ch;
        rc = eng__table_reachable_kept(&st->t, ch, &p.reach[ch]);
    }
    p.filter = o->channels != 0;
    p.keep = o->channels;
    /* The org's global control group, or the campaign's control list, replaces its own split. */
    p.split = !st->gc.mode && !o->control_group;
    p.test_all = o->test_ratio >= 1.0;
    size_t nchunks = rc ? 0 : eng__rpass_chunks(&p);
    if (!rc && p.split && nchunks && o->test_ratio > 0.0 && o->test_ratio < 1.0)
        rc = eng__split_side(&st->split, &e->mem, o->seed, o->test_ratio, nchunks, &p.side, &p.side_words);
    if (!rc)
        rc = eng__resolve_pass(&p, &e->mem, p.split ? NULL : &a->all, a->reach, &a->test, &a->control);
    a->has_all = !p.split;
    a->has_reach = 1;
    if (!rc && st->gc.mode)
        rc = eng__gc_split(st, &a->all, &a->test, &a->control);
    if (!rc && o->control_group)
        rc = control_list_split(st, o->control_group, a);
    if (!rc)
        rc = eng__prog_end(&pg);
    for (size_t i = 0; tmp && i < ng; i++)
        eng__idset_free(&tmp[i]);
    eng__free(&e->mem, tmp);
    eng__free(&e->mem, refs);
    if (rc) {
        aud_release(a);
        return rc;
    }
    eng__engine_ref(e);
    *out = a;
    return ENG_OK;
}


static int check_aud(const eng_audience *a)
{
    if (!eng__handle_live(a, ENG__H_AUDIENCE))
        return eng__err(ENG_EMISUSE, "audience", "not an audience handle");
    return ENG_OK;
}

/* The set of a part; NULL for ENG_PART_ALL when it is not built (test ∪ control). */
static const eng__idset *part_of(const eng_audience *a, int part)
{
    return part == ENG_PART_ALL ? (a->has_all ? &a->all : NULL) : part == ENG_PART_TEST ? &a->test
         : part == ENG_PART_CONTROL ? &a->control : NULL;
}

static int part_ok(int part)
{
    return part == ENG_PART_ALL || part == ENG_PART_TEST || part == ENG_PART_CONTROL;
}

ENG_API int eng_audience_count(const eng_audience *a, int part, uint64_t *out)
{
    if (out)
        *out = 0;
    int rc = check_aud(a);
    if (rc)
        return rc;
    if (!part_ok(part))
        return eng__err(ENG_EINVAL, "part", "unknown audience part %d", part);
    if (!out)
        return eng__err(ENG_EINVAL, "out", "out is NULL");
    const eng__idset *s = part_of(a, part);
    *out = s ? eng__idset_count(s) : eng__idset_count(&a->test) + eng__idset_count(&a->control);
    return ENG_OK;
}

ENG_API int eng_audience_reach(const eng_audience *a, int channel, uint64_t *out)
{
    if (out)
        *out = 0;
    int rc = check_aud(a);
    if (rc)
        return rc;
    if (channel < 0 || channel >= ENG_CH_COUNT)
        return eng__err(ENG_EINVAL, "channel", "unknown channel %d", channel);
    if (!out)
        return eng__err(ENG_EINVAL, "out", "out is NULL");
    if (!a->has_reach)
        return eng__err(ENG_ESTATE, "audience", "reach counts are not kept with a frozen audience");
    *out = a->reach[channel];
    return ENG_OK;
}

ENG_API int eng_audience_ids(const eng_audience *a, int part, uint64_t offset, uint32_t *out, size_t cap, size_t *n)
{
    if (n)
        *n = 0; /* a failed call copies no ids */
    int rc = check_aud(a);
    if (rc)
        return rc;
    if (!part_ok(part))
        return eng__err(ENG_EINVAL, "part", "unknown audience part %d", part);
    if (!n || (!out && cap))
        return eng__err(ENG_EINVAL, n ? "out" : "n", "argument is NULL");
    const eng__idset *s = part_of(a, part);
    *n = !cap ? 0 : s ? eng__idset_select(s, offset, out, cap)
                      : eng__idset_select_union(&a->test, &a->control, offset, out, cap);
    return ENG_OK;
}

ENG_API int eng_audience_hash(const eng_audience *a, uint8_t out[32])
{
    if (out)
        memset(out, 0, ENG__SHA256_LEN);
    int rc = check_aud(a);
    if (rc)
        return rc;
    if (!out)
        return eng__err(ENG_EINVAL, "out", "out is NULL");
    if ((rc = ensure_hash((eng_audience *)a))) /* lazily filled; guarded by a->lock */
        return rc;
    memcpy(out, a->hash, ENG__SHA256_LEN);
    return ENG_OK;
}

static int frozen_key(const char *org, const char *key, char *buf, size_t cap)
{
    if (!key)
        return eng__err(ENG_EINVAL, "key", "key is NULL");
    size_t n = strlen(key);
    if (n == 0 || n > 200)
        return eng__err(ENG_EINVAL, "key", "key must be 1-200 bytes");
    int rc = eng__text_check(key, n, ENG__TEXT_NAME, "key");
    if (rc)
        return rc;
    snprintf(buf, cap, "a/o/%s/f/%s", org, key);
    return ENG_OK;
}

/* Store @p a under @p key; inside the caller's batch when @p cx is NULL, else
 * in a batch of its own with cx's audit. */
static int freeze(eng_audience *a, const eng__aud_cx *cx, const char *key)
{
    char k[ENG__AUD_KEY_MAX];
    int rc = frozen_key(a->org, key, k, sizeof k);
    if (rc)
        return rc;
    eng_engine *e = a->e;
    if ((rc = ensure_hash(a)))
        return rc;
    eng__rec old;
    rc = eng__rec_get(e->store, k, strlen(k), ENG__REC_AUD_FROZEN, FROZEN_V, &old);
    if (rc == ENG_OK) {
        int same = old.len >= 20 + ENG__SHA256_LEN && memcmp(old.payload + 20, a->hash, ENG__SHA256_LEN) == 0;
        eng__rec_free(e->store, &old);
        return same ? ENG_OK
                    : eng__err(ENG_ESTATE, key, "a different audience is already frozen under \"%s\"", key);
    }
    if (!eng__absent(rc))
        return rc;
    eng__wr w;
    eng__wr_init(&w, &e->mem);
    uint64_t rbits;
    memcpy(&rbits, &a->ratio, 8);
    eng__wr_u64(&w, a->seed);
    eng__wr_u64(&w, rbits);
    eng__wr_u32(&w, a->channels);
    eng__wr_bytes(&w, a->hash, ENG__SHA256_LEN);
    eng__idset_write(&a->test, &w);
    eng__idset_write(&a->control, &w);
    if (!cx)
        return eng__rec_put_wr(e->store, k, strlen(k), ENG__REC_AUD_FROZEN, FROZEN_V, &w);
    eng__aud *st;
    if (w.err)
        rc = eng__nomem();
    else if (!(rc = eng__aud_get_cx(e, cx, &st)) && !(rc = eng__kv_begin(e->store))) {
        snprintf(st->obj, sizeof st->obj, "audience/%.80s", key);
        snprintf(st->detail, sizeof st->detail, "freeze %llu test, %llu control",
                 (unsigned long long)eng__idset_count(&a->test), (unsigned long long)eng__idset_count(&a->control));
        if ((rc = eng__rec_put_wr(e->store, k, strlen(k), ENG__REC_AUD_FROZEN, FROZEN_V, &w)))
            return eng__aud_abort(e->store, rc);
        return eng__aud_commit(st, cx);
    }
    eng__wr_free(&w);
    return rc;
}

eng_engine *eng__audience_engine(const eng_audience *a)
{
    return eng__handle_live(a, ENG__H_AUDIENCE) ? a->e : NULL;
}

int eng__aud_audience_freeze(eng_audience *a, const eng__aud_cx *cx, const char *key)
{
    int rc = check_aud(a);
    if (rc)
        return rc;
    if ((rc = eng__enter(a->e)))
        return rc;
    if (!cx || !cx->org || strcmp(cx->org, a->org) != 0)
        rc = eng__err(ENG_EDENIED, "actor", "the audience belongs to another org");
    else
        rc = freeze(a, cx, key);
    eng__leave(a->e);
    return rc;
}

static int load_frozen(eng_engine *e, const char *org, const char *key, eng_audience **out)
{
    char k[ENG__AUD_KEY_MAX];
    int rc = frozen_key(org, key, k, sizeof k);
    if (rc)
        return rc;
    if (!out)
        return eng__err(ENG_EINVAL, "out", "out is NULL");
    eng__rec rec;
    if ((rc = eng__rec_get(e->store, k, strlen(k), ENG__REC_AUD_FROZEN, FROZEN_V, &rec)))
        return rc;
    eng_audience *a = aud_new(e, org);
    if (!a) {
        eng__rec_free(e->store, &rec);
        return eng__nomem();
    }
    eng__rd r;
    eng__rd_init(&r, rec.payload, rec.len);
    a->seed = eng__rd_u64(&r);
    uint64_t rbits = eng__rd_u64(&r);
    memcpy(&a->ratio, &rbits, 8);
    a->channels = eng__rd_u32(&r);
    const uint8_t *h = eng__rd_bytes(&r, ENG__SHA256_LEN);
    if (!h)
        rc = eng__err(ENG_ECORRUPT, k, "frozen audience: truncated");
    else
        memcpy(a->hash, h, ENG__SHA256_LEN);
    if (!rc)
        rc = eng__idset_read(&a->test, &r, k);
    if (!rc)
        rc = eng__idset_read(&a->control, &r, k);
    if (!rc && eng__rd_left(&r))
        rc = eng__err(ENG_ECORRUPT, k, "frozen audience: trailing bytes");
    /* the whole audience is read as test ∪ control: they must not share anyone */
    if (!rc && eng__idset_and_count(&a->test, &a->control))
        rc = eng__err(ENG_ECORRUPT, k, "frozen audience: a customer in both test and control");
    uint8_t check[ENG__SHA256_LEN];
    if (!rc && !(rc = content_hash(a, check)) && memcmp(check, a->hash, ENG__SHA256_LEN) != 0)
        rc = eng__err(ENG_ECORRUPT, k, "frozen audience: content does not match its hash");
    a->hashed = 1;
    eng__rec_free(e->store, &rec);
    if (rc) {
        aud_release(a);
        return rc;
    }
    eng__engine_ref(e);
    *out = a;
    return ENG_OK;
}

int eng__aud_audience_load_frozen(eng_engine *e, const eng__aud_cx *cx, const char *key, eng_audience **out)
{
    if (out)
        *out = NULL;
    int rc = eng__enter(e);
    if (rc)
        return rc;
    rc = !cx ? eng__err(ENG_EDENIED, "actor", "no org given") : load_frozen(e, cx->org, key, out);
    eng__leave(e);
    return rc;
}

int eng__audience_load_frozen(eng_engine *e, const char *org, const char *key, eng_audience **out)
{
    *out = NULL;
    return load_frozen(e, org, key, out);
}

ENG_API void eng_audience_free(eng_audience *a)
{
    if (!eng__handle_live(a, ENG__H_AUDIENCE))
        return;
    eng_engine *e = a->e;
    aud_release(a);
    eng__engine_unref(e);
}

/* Group ids from names (or decimal ids), for the model layer's counter. */
static int ids_of(eng__aud *st, const char *what, const char *const *names, size_t n, uint32_t *out)
{
    for (size_t i = 0; i < n; i++) {
        const char *nm = names[i];
        if (!nm)
            return eng__err(ENG_EINVAL, what, "group name %zu is NULL", i);
        uint32_t id = 0;
        for (uint32_t g = 0; g < st->ng && !id; g++)
            if (strcmp(st->g[g].name, nm) == 0)
                id = st->g[g].id;
        if (!id && *nm && strspn(nm, "0123456789") == strlen(nm) && strlen(nm) < 10) {
            unsigned long v = strtoul(nm, NULL, 10);
            if (eng__group_find(st, (uint32_t)v))
                id = (uint32_t)v;
            else if (v <= UINT32_MAX) {
                char det[48];
                snprintf(det, sizeof det, "%s[%zu]", what, i);
                return eng__group_missing(st, (uint32_t)v, det);
            }
        }
        if (!id)
            return eng__err(ENG_ENOTFOUND, what, "no group \"%.80s\"", nm);
        out[i] = id;
    }
    return ENG_OK;
}

/* The audience an eng_audience_query describes (groups by name or id, channels, seed, control). */
static int resolve_query(eng_engine *e, eng__aud *st, const eng_audience_query *q, eng_audience **out)
{
    resolved_query r;
    int rc;
    if (!q)
        return eng__err(ENG_EINVAL, "query", "query is NULL");
    if (q->version == 0 || q->version > ENG_AUDIENCE_QUERY_VERSION)
        return eng__err(ENG_EVERSION, "query.version", "unsupported eng_audience_query version %u", q->version);
    if (!q->include || q->n_include == 0)
        return eng__err(ENG_EINVAL, "query.include", "at least one include group is required");
    if (q->n_exclude && !q->exclude)
        return eng__err(ENG_EINVAL, "query.exclude", "exclude is NULL");
    if (q->n_include > ENG__MAX_GROUP_REFS || q->n_exclude > ENG__MAX_GROUP_REFS)
        return eng__err(ENG_ETOOBIG, "query.include", "at most %d include and exclude groups", ENG__MAX_GROUP_REFS);
    if (q->channels >> ENG_CH_COUNT)
        return eng__err(ENG_EINVAL, "query.channels", "unknown channel bits 0x%x", (unsigned)q->channels);
    if (q->control_percent > 100)
        return eng__err(ENG_ERANGE, "query.control_percent", "control_percent must be 0..100");
    if (q->org && *q->org && strcmp(q->org, st->org) != 0)
        return eng__err(ENG_EDENIED, "query.org", "the query names org '%.64s', not the acting org", q->org);
    if ((rc = ids_of(st, "query.include", q->include, q->n_include, r.include)) ||
        (rc = ids_of(st, "query.exclude", q->exclude, q->n_exclude, r.exclude)))
        return rc;
    r.n_include = q->n_include;
    r.n_exclude = q->n_exclude;
    r.channels = q->channels;
    r.seed = q->split_seed;
    r.test_ratio = (100.0 - (double)q->control_percent) / 100.0;
    r.control_group = q->version >= 2 ? q->control_group : 0;
    if (r.control_group && (rc = eng__aud_control_list_check(st, r.control_group, "query.control_group")))
        return rc;
    return resolve(e, st, &r, out);
}

int eng__aud_audience_resolve(eng_engine *e, const eng__aud_cx *cx, const eng_audience_query *query, eng_audience **out)
{
    if (out)
        *out = NULL;
    int rc = eng__enter(e);
    if (rc)
        return rc;
    eng__aud *st;
    if (!out)
        rc = eng__err(ENG_EINVAL, "out", "eng_audience_resolve: out is NULL");
    else if (!(rc = eng__aud_get_cx(e, cx, &st)))
        rc = resolve_query(e, st, query, out);
    eng__leave(e);
    return rc;
}

int eng__aud_audience_test_count(eng_engine *e, const eng__aud_cx *cx, const eng_audience_query *query, uint64_t *out)
{
    if (out)
        *out = 0;
    int rc = eng__enter(e);
    if (rc)
        return rc;
    eng__aud *st;
    eng_audience *a;
    if (!out)
        rc = eng__err(ENG_EINVAL, "out", "eng_audience_test_count: out is NULL");
    else if (!(rc = eng__aud_get_cx(e, cx, &st)) && !(rc = resolve_query(e, st, query, &a))) {
        *out = eng__idset_count(&a->test);
        eng_audience_free(a);
    }
    eng__leave(e);
    return rc;
}

int eng__audience_group_known(eng_engine *e, const char *org, const char *name, int *checked)
{
    eng__aud *st;
    uint32_t id;
    uint64_t mark = 0;
    *checked = 0;
    int rc = eng__aud_get(e, org, &st);
    if (rc)
        return rc;
    /* as for the freeze below: only an engine that never had a group leaves them to the host */
    if (st->ng == 0 && ((rc = eng__seq_mark(e->store, "group", &mark)) || mark == 0))
        return rc;
    *checked = 1;
    return ids_of(st, "group", &name, 1, &id);
}

int eng__audience_test_count(eng_engine *e, const char *org, const eng_audience_query *query, uint64_t *out)
{
    eng__aud_cx cx = {org, NULL, NULL, NULL};
    return eng__aud_audience_test_count(e, &cx, query, out);
}

int eng__audience_freeze_query(eng_engine *e, const char *org, const eng_audience_query *q, const char *key)
{
    eng__aud *st;
    eng_audience *a;
    uint64_t mark = 0;
    int rc = eng__aud_get(e, org, &st);
    if (rc)
        return rc;
    /* Nothing to freeze when the engine keeps no groups at all (the host keeps
     * its audiences elsewhere); once any org has had a group, a message's
     * groups must be its own org's. */
    if (st->ng == 0 && ((rc = eng__seq_mark(e->store, "group", &mark)) || mark == 0))
        return rc;
    if ((rc = resolve_query(e, st, q, &a)))
        return rc;
    rc = freeze(a, NULL, key);
    eng_audience_free(a);
    return rc;
}
