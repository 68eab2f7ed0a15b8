/* Groups: definitions, storage, membership uploads, cycle checks, evaluation.
 * Every change prepares its in-memory form first, writes storage in one
 * batch, and swaps the memory form in only after the commit succeeded. */
#include "audience/audience_impl.h"
#include "base/codec.h"
#include "store/seq.h"

#include <stdio.h>
#include <string.h>

#define GROUP_V 1
#define MEMBERS_V 1
#define MAX_DEPTH 64
#define SEQ_KIND "group"

eng__group *eng__group_find(eng__aud *a, uint32_t id)
{
    for (uint32_t i = 0; i < a->ng; i++)
        if (a->g[i].id == id)
            return &a->g[i];
    return NULL;
}

#define OWNER_V 1

static void owner_key(char *buf, size_t cap, uint32_t id)
{
    snprintf(buf, cap, "a/i/%08x", (unsigned)id);
}

int eng__group_missing(eng__aud *a, uint32_t id, const char *what)
{
    char k[32];
    owner_key(k, sizeof k, id);
    eng__rec rec;
    int rc = id ? eng__rec_get(a->e->store, k, strlen(k), ENG__REC_AUD_OWNER, OWNER_V, &rec) : ENG_ENOTFOUND;
    if (rc == ENG_OK) {
        int foreign = rec.len != strlen(a->org) || memcmp(rec.payload, a->org, rec.len) != 0;
        eng__rec_free(a->e->store, &rec);
        if (foreign)
            return eng__err(ENG_EDENIED, what, "group %u belongs to another org", (unsigned)id);
    } else if (rc != ENG_ENOTFOUND) {
        return rc;
    }
    return eng__err(ENG_ENOTFOUND, what, "no group %u", (unsigned)id);
}

static eng__group *find_name(eng__aud *a, const char *name)
{
    for (uint32_t i = 0; i < a->ng; i++)
        if (strcmp(a->g[i].name, name) == 0)
            return &a->g[i];
    return NULL;
}

static void group_clear(const eng__mem *mem, eng__group *g)
{
    eng__free(mem, g->name);
    eng__free(mem, g->expr);
    eng__free(mem, g->inc);
    eng__free(mem, g->exc);
    eng__idset_free(&g->members);
    g->name = g->expr = NULL;
    g->inc = g->exc = NULL;
}

void eng__groups_free(eng__aud *a)
{
    for (uint32_t i = 0; i < a->ng; i++)
        group_clear(&a->e->mem, &a->g[i]);
    eng__free(&a->e->mem, a->g);
    a->g = NULL;
    a->ng = 0;
    a->gcap = 0;
}

static void encode_group(eng__wr *w, const eng__group *g)
{
    eng__wr_u8(w, (uint8_t)g->kind);
    eng__wr_str(w, g->name);
    if (g->kind == ENG_GROUP_FILTER)
        eng__wr_str(w, g->expr);
    if (g->kind == ENG_GROUP_COMBINED) {
        eng__wr_u8(w, (uint8_t)g->op);
        eng__wr_uvar(w, g->ninc);
        for (uint32_t i = 0; i < g->ninc; i++)
            eng__wr_uvar(w, g->inc[i]);
        eng__wr_uvar(w, g->nexc);
        for (uint32_t i = 0; i < g->nexc; i++)
            eng__wr_uvar(w, g->exc[i]);
    }
}

static int read_ids(eng__rd *r, const eng__mem *mem, uint32_t **out, uint32_t *n)
{
    uint64_t k = eng__rd_uvar(r);
    if (!eng__rd_ok(r) || k > ENG__MAX_GROUP_REFS)
        return ENG_ECORRUPT;
    *n = (uint32_t)k;
    *out = eng__calloc(mem, k ? k : 1, sizeof **out);
    if (!*out)
        return eng__nomem();
    for (uint64_t i = 0; i < k; i++) {
        uint64_t v = eng__rd_uvar(r);
        if (v == 0 || v > UINT32_MAX)
            return ENG_ECORRUPT;
        (*out)[i] = (uint32_t)v;
    }
    return eng__rd_ok(r) ? ENG_OK : ENG_ECORRUPT;
}

static int reserve_group(eng__aud *a)
{
    return eng__grow(&a->e->mem, (void **)&a->g, &a->gcap, (size_t)a->ng + 1, sizeof *a->g) ? eng__nomem() : ENG_OK;
}

typedef struct gload {
    eng__aud *a;
} gload;

static int gload_cb(const void *key, size_t klen, const void *val, size_t vlen, void *user)
{
    eng__aud *a = ((gload *)user)->a;
    eng_engine *e = a->e;
    char k[ENG__AUD_KEY_MAX];
    eng__key_printable(key, klen, k, sizeof k);
    eng__rec rec;
    int rc = eng__rec_decode(key, klen, val, vlen, ENG__REC_AUD_GROUP, GROUP_V, &rec);
    if (rc)
        return rc;
    unsigned id = 0;
    if (klen != a->plen + 10 || sscanf(k + a->plen + 2, "%8x", &id) != 1 || id == 0)
        return eng__err(ENG_ECORRUPT, k, "bad group key");
    if ((rc = reserve_group(a)))
        return rc;
    eng__group g;
    memset(&g, 0, sizeof g);
    eng__idset_init(&g.members, &e->mem);
    g.id = id;
    eng__rd r;
    eng__rd_init(&r, rec.payload, rec.len);
    g.kind = eng__rd_u8(&r);
    g.name = eng__rd_str(&r, &e->mem);
    int oom = r.err == ENG_ENOMEM; /* checked before a later read turns it into ECORRUPT */
    if (g.kind == ENG_GROUP_FILTER && !oom) {
        g.expr = eng__rd_str(&r, &e->mem);
        oom = r.err == ENG_ENOMEM;
    }
    if (oom)
        rc = eng__nomem();
    if (!rc && g.kind == ENG_GROUP_COMBINED) {
        g.op = eng__rd_u8(&r);
        rc = read_ids(&r, &e->mem, &g.inc, &g.ninc);
        if (!rc)
            rc = read_ids(&r, &e->mem, &g.exc, &g.nexc);
    }
    if (!rc && (!eng__rd_ok(&r) || !g.name || g.kind < ENG_GROUP_UPLOADED || g.kind > ENG_GROUP_COMBINED ||
                (g.kind == ENG_GROUP_FILTER && !g.expr)))
        rc = ENG_ECORRUPT;
    if (rc == ENG_ECORRUPT) /* the group record itself is bad (not its members) */
        rc = eng__err(ENG_ECORRUPT, k, "bad group record");
    if (!rc && g.kind == ENG_GROUP_UPLOADED) {
        char mk[ENG__AUD_KEY_MAX];
        eng__aud_key(a, mk, sizeof mk, "m/", id);
        eng__rec mr;
        rc = eng__rec_get(e->store, mk, strlen(mk), ENG__REC_AUD_MEMBERS, MEMBERS_V, &mr);
        if (eng__absent(rc)) {
            rc = ENG_OK;
        } else if (!rc) {
            eng__rd mrd;
            eng__rd_init(&mrd, mr.payload, mr.len);
            rc = eng__idset_read(&g.members, &mrd, mk);
            eng__rec_free(e->store, &mr);
        }
    }
    if (rc) {
        group_clear(&e->mem, &g);
        return rc;
    }
    a->g[a->ng++] = g;
    if (id >= a->next_gid)
        a->next_gid = id + 1;
    return ENG_OK;
}

int eng__groups_load(eng__aud *a)
{
    gload gl = {a};
    uint64_t mark;
    char gp[ENG__AUD_KEY_MAX];
    size_t gl_len;
    eng__aud_keys(a, gp, sizeof gp, "g/", &gl_len);
    int rc = eng__kv_scan(a->e->store, gp, gl_len, gload_cb, &gl);
    if (!rc && !(rc = eng__seq_mark(a->e->store, SEQ_KIND, &mark)) && mark >= a->next_gid)
        a->next_gid = (uint32_t)mark + 1; /* a deleted group's id is never given again */
    return rc;
}

/* Write a group's record (and members for uploaded groups) in one batch;
 * @p issued: a new group, whose id moves the durable high-water mark. */
static int store_group(eng__aud *a, const eng__aud_cx *cx, const eng__group *g, int with_members, int issued)
{
    eng_engine *e = a->e;
    eng__wr w;
    eng__wr_init(&w, &e->mem);
    encode_group(&w, g);
    eng__wr m;
    eng__wr_init(&m, &e->mem);
    if (with_members)
        eng__idset_write(&g->members, &m);
    int rc = w.err || m.err ? eng__nomem() : eng__kv_begin(e->store);
    char k[ENG__AUD_KEY_MAX], mk[ENG__AUD_KEY_MAX];
    eng__aud_key(a, k, sizeof k, "g/", g->id);
    eng__aud_key(a, mk, sizeof mk, "m/", g->id);
    if (!a->obj[0])
        snprintf(a->obj, sizeof a->obj, "group/%u", (unsigned)g->id);
    if (!rc) {
        rc = eng__rec_put(e->store, k, strlen(k), ENG__REC_AUD_GROUP, GROUP_V, w.data, w.len);
        if (!rc && issued)
            rc = eng__seq_raise(e->store, SEQ_KIND, g->id);
        if (!rc && issued) { /* who owns the id, so another org asking for it is refused, not misled */
            char ok[32];
            owner_key(ok, sizeof ok, g->id);
            rc = eng__rec_put(e->store, ok, strlen(ok), ENG__REC_AUD_OWNER, OWNER_V, a->org, strlen(a->org));
        }
        if (!rc && with_members)
            rc = eng__rec_put(e->store, mk, strlen(mk), ENG__REC_AUD_MEMBERS, MEMBERS_V, m.data, m.len);
        if (rc)
            rc = eng__aud_abort(e->store, rc);
        else
            rc = eng__aud_commit(a, cx);
    }
    eng__wr_free(&w);
    eng__wr_free(&m);
    return rc;
}

static int check_name(eng__aud *a, const char *name)
{
    if (!name)
        return eng__err(ENG_EINVAL, "name", "name is NULL");
    size_t n = strlen(name);
    if (n == 0)
        return eng__err(ENG_EINVAL, "name", "name is empty");
    if (n > ENG__GROUP_NAME_MAX)
        return eng__err(ENG_ETOOBIG, "name", "group name longer than %d bytes", ENG__GROUP_NAME_MAX);
    int rc = eng__text_check(name, n, ENG__TEXT_NAME, "name");
    if (rc)
        return rc;
    if (find_name(a, name))
        return eng__err(ENG_EEXISTS, "name", "a group named \"%s\" exists", name);
    return ENG_OK;
}

static int check_refs(eng__aud *a, const char *what, const uint32_t *ids, size_t n, int need)
{
    if (n > ENG__MAX_GROUP_REFS)
        return eng__err(ENG_ETOOBIG, what, "at most %d groups", ENG__MAX_GROUP_REFS);
    if (n && !ids)
        return eng__err(ENG_EINVAL, what, "%s is NULL", what);
    if (need && n == 0)
        return eng__err(ENG_EINVAL, what, "at least one group is required");
    for (size_t i = 0; i < n; i++)
        if (!eng__group_find(a, ids[i]))
            return eng__group_missing(a, ids[i], what);
    return ENG_OK;
}

/* Does group @p from reach group @p target through combined references? */
static int reaches(eng__aud *a, uint32_t from, uint32_t target, int depth)
{
    if (from == target)
        return 1;
    eng__group *g = eng__group_find(a, from);
    if (!g || g->kind != ENG_GROUP_COMBINED || depth > MAX_DEPTH)
        return depth > MAX_DEPTH;
    for (uint32_t i = 0; i < g->ninc; i++)
        if (reaches(a, g->inc[i], target, depth + 1))
            return 1;
    for (uint32_t i = 0; i < g->nexc; i++)
        if (reaches(a, g->exc[i], target, depth + 1))
            return 1;
    return 0;
}

static uint32_t *dup_ids(const eng__mem *mem, const uint32_t *ids, size_t n)
{
    uint32_t *p = eng__calloc(mem, n ? n : 1, sizeof *p);
    if (p && n)
        memcpy(p, ids, n * sizeof *p);
    return p;
}

/* Create a group of any kind from a prepared template (name, kind, ...). */
static int add_group(eng__aud *a, const eng__aud_cx *cx, eng__group *g, uint32_t *out)
{
    int rc = reserve_group(a);
    if (rc)
        return rc;
    /* One id sequence for every org: another org may have issued ids since this one loaded. */
    uint64_t mark;
    if ((rc = eng__seq_mark(a->e->store, SEQ_KIND, &mark)))
        return rc;
    if (mark >= a->next_gid)
        a->next_gid = mark >= UINT32_MAX ? UINT32_MAX : (uint32_t)mark + 1;
    if (a->next_gid == UINT32_MAX)
        return eng__err(ENG_ETOOBIG, "group", "group ids are exhausted");
    g->id = a->next_gid;
    snprintf(a->obj, sizeof a->obj, "group/%u", (unsigned)g->id);
    snprintf(a->detail, sizeof a->detail, "create %s", g->kind == ENG_GROUP_UPLOADED ? "uploaded" :
             g->kind == ENG_GROUP_FILTER ? "filter" : "combined");
    if ((rc = store_group(a, cx, g, 0, 1)))
        return rc;
    a->g[a->ng++] = *g;
    a->next_gid++;
    *out = g->id;
    return ENG_OK;
}

static int new_group(eng_engine *e, const eng__aud_cx *cx, const char *name, int kind, const char *expr, int op,
                     const uint32_t *inc, size_t ninc, const uint32_t *exc, size_t nexc, uint32_t *out)
{
    eng__aud *a;
    int rc = eng__aud_get_cx(e, cx, &a);
    if (rc)
        return rc;
    if (!out)
        return eng__err(ENG_EINVAL, "out", "out is NULL");
    if ((rc = check_name(a, name)))
        return rc;
    if (kind == ENG_GROUP_FILTER) {
        if (!expr || !*expr)
            return eng__err(ENG_EINVAL, "expr", "expression is NULL or empty");
        if (strlen(expr) > ENG__EXPR_MAX)
            return eng__err(ENG_ETOOBIG, "expr", "expression longer than %d bytes", ENG__EXPR_MAX);
        /* Refuse what cannot compile against today's schema (detail: line:column). */
        eng_rule *rule;
        if ((rc = eng__filter_compile(a, expr, &rule)))
            return rc;
        eng_rule_free(rule);
    }
    if (kind == ENG_GROUP_COMBINED) {
        if (op != ENG_COMBINE_UNION && op != ENG_COMBINE_INTERSECT)
            return eng__err(ENG_EINVAL, "op", "unknown combine op %d", op);
        if ((rc = check_refs(a, "include", inc, ninc, 1)) || (rc = check_refs(a, "exclude", exc, nexc, 0)))
            return rc;
    }
    eng__group g;
    memset(&g, 0, sizeof g);
    eng__idset_init(&g.members, &e->mem);
    g.kind = kind;
    g.op = op;
    g.name = eng__strdup(&e->mem, name);
    g.expr = expr ? eng__strdup(&e->mem, expr) : NULL;
    g.inc = dup_ids(&e->mem, inc, ninc);
    g.exc = dup_ids(&e->mem, exc, nexc);
    g.ninc = (uint32_t)ninc;
    g.nexc = (uint32_t)nexc;
    if (!g.name || (expr && !g.expr) || !g.inc || !g.exc)
        rc = eng__nomem();
    if (!rc)
        rc = add_group(a, cx, &g, out);
    if (rc)
        group_clear(&e->mem, &g);
    return rc;
}

int eng__aud_group_create_uploaded(eng_engine *e, const eng__aud_cx *cx, const char *name, uint32_t *out)
{
    if (out)
        *out = 0;
    int rc = eng__enter(e);
    if (rc)
        return rc;
    rc = new_group(e, cx, name, ENG_GROUP_UPLOADED, NULL, 0, NULL, 0, NULL, 0, out);
    eng__leave(e);
    return rc;
}

int eng__aud_group_create_filter(eng_engine *e, const eng__aud_cx *cx, const char *name, const char *expr, uint32_t *out)
{
    if (out)
        *out = 0;
    int rc = eng__enter(e);
    if (rc)
        return rc;
    rc = new_group(e, cx, name, ENG_GROUP_FILTER, expr, 0, NULL, 0, NULL, 0, out);
    eng__leave(e);
    return rc;
}

int eng__aud_group_create_combined(eng_engine *e, const eng__aud_cx *cx, const char *name, int op, const uint32_t *include,
                                      size_t n_include, const uint32_t *exclude, size_t n_exclude, uint32_t *out)
{
    if (out)
        *out = 0;
    int rc = eng__enter(e);
    if (rc)
        return rc;
    rc = new_group(e, cx, name, ENG_GROUP_COMBINED, NULL, op, include, n_include, exclude, n_exclude, out);
    eng__leave(e);
    return rc;
}

static int set_combined(eng_engine *e, const eng__aud_cx *cx, uint32_t id, int op, const uint32_t *inc,
                        size_t ninc, const uint32_t *exc, size_t nexc)
{
    eng__aud *a;
    int rc = eng__aud_get_cx(e, cx, &a);
    if (rc)
        return rc;
    eng__group *g = eng__group_find(a, id);
    if (!g)
        return eng__group_missing(a, id, "group");
    if (g->kind != ENG_GROUP_COMBINED)
        return eng__err(ENG_ESTATE, "group", "group %u is not a combined group", id);
    if (op != ENG_COMBINE_UNION && op != ENG_COMBINE_INTERSECT)
        return eng__err(ENG_EINVAL, "op", "unknown combine op %d", op);
    if ((rc = check_refs(a, "include", inc, ninc, 1)) || (rc = check_refs(a, "exclude", exc, nexc, 0)))
        return rc;
    for (size_t i = 0; i < ninc + nexc; i++) {
        uint32_t m = i < ninc ? inc[i] : exc[i - ninc];
        if (reaches(a, m, id, 0))
            return eng__err(ENG_ECYCLE, i < ninc ? "include" : "exclude",
                            "group %u would contain itself through group %u", id, m);
    }
    eng__group ng = *g;
    ng.op = op;
    ng.inc = dup_ids(&e->mem, inc, ninc);
    ng.exc = dup_ids(&e->mem, exc, nexc);
    ng.ninc = (uint32_t)ninc;
    ng.nexc = (uint32_t)nexc;
    if (!ng.inc || !ng.exc)
        rc = eng__nomem();
    snprintf(a->detail, sizeof a->detail, "set %zu included, %zu excluded", ninc, nexc);
    if (!rc)
        rc = store_group(a, cx, &ng, 0, 0);
    if (rc) {
        eng__free(&e->mem, ng.inc);
        eng__free(&e->mem, ng.exc);
        return rc;
    }
    /* store_group may have dropped the cache only on failure, so g is still valid */
    eng__free(&e->mem, g->inc);
    eng__free(&e->mem, g->exc);
    *g = ng;
    return ENG_OK;
}

int eng__aud_group_set_combined(eng_engine *e, const eng__aud_cx *cx, uint32_t group, int op, const uint32_t *include,
                                   size_t n_include, const uint32_t *exclude, size_t n_exclude)
{
    int rc = eng__enter(e);
    if (rc)
        return rc;
    rc = set_combined(e, cx, group, op, include, n_include, exclude, n_exclude);
    eng__leave(e);
    return rc;
}

int eng__aud_group_find(eng_engine *e, const eng__aud_cx *cx, const char *name, uint32_t *out)
{
    if (out)
        *out = 0;
    int rc = eng__enter(e);
    if (rc)
        return rc;
    eng__aud *a;
    if (!name || !out)
        rc = eng__err(ENG_EINVAL, name ? "out" : "name", "argument is NULL");
    else if (!(rc = eng__aud_get_cx(e, cx, &a))) {
        eng__group *g = find_name(a, name);
        if (g)
            *out = g->id;
        else
            rc = eng__err(ENG_ENOTFOUND, "name", "no group named \"%.80s\"", name);
    }
    eng__leave(e);
    return rc;
}

int eng__aud_group_kind_of(eng_engine *e, const eng__aud_cx *cx, uint32_t group, int *out)
{
    if (out)
        *out = 0;
    int rc = eng__enter(e);
    if (rc)
        return rc;
    eng__aud *a;
    if (!out)
        rc = eng__err(ENG_EINVAL, "out", "out is NULL");
    else if (!(rc = eng__aud_get_cx(e, cx, &a))) {
        eng__group *g = eng__group_find(a, group);
        if (g)
            *out = g->kind;
        else
            rc = eng__group_missing(a, group, "group");
    }
    eng__leave(e);
    return rc;
}

static int delete_group(eng_engine *e, const eng__aud_cx *cx, uint32_t id)
{
    eng__aud *a;
    int rc = eng__aud_get_cx(e, cx, &a);
    if (rc)
        return rc;
    eng__group *g = eng__group_find(a, id);
    if (!g)
        return eng__group_missing(a, id, "group");
    if (a->gc.mode == ENG_GLOBAL_CONTROL_UPLOADED && a->gc.group == id)
        return eng__err(ENG_ESTATE, "group", "group %u is the org's global control group", id);
    for (uint32_t i = 0; i < a->ng; i++) {
        eng__group *o = &a->g[i];
        if (o->kind != ENG_GROUP_COMBINED)
            continue;
        for (uint32_t k = 0; k < o->ninc + o->nexc; k++)
            if ((k < o->ninc ? o->inc[k] : o->exc[k - o->ninc]) == id)
                return eng__err(ENG_ESTATE, "group", "group %u is used by combined group %u (%s)", id, o->id, o->name);
    }
    char k[ENG__AUD_KEY_MAX], mk[ENG__AUD_KEY_MAX];
    eng__aud_key(a, k, sizeof k, "g/", id);
    eng__aud_key(a, mk, sizeof mk, "m/", id);
    snprintf(a->obj, sizeof a->obj, "group/%u", (unsigned)id);
    snprintf(a->detail, sizeof a->detail, "delete %s", g->name);
    if ((rc = eng__kv_begin(e->store)))
        return rc;
    char ok[32];
    owner_key(ok, sizeof ok, id);
    if ((rc = eng__kv_del(e->store, k, strlen(k))) || (rc = eng__kv_del(e->store, mk, strlen(mk))) ||
        (rc = eng__kv_del(e->store, ok, strlen(ok))))
        return eng__aud_abort(e->store, rc);
    if ((rc = eng__aud_commit(a, cx)))
        return rc;
    uint32_t at = (uint32_t)(g - a->g);
    group_clear(&e->mem, g);
    memmove(&a->g[at], &a->g[at + 1], (a->ng - at - 1) * sizeof *a->g);
    a->ng--;
    return ENG_OK;
}

int eng__aud_group_delete(eng_engine *e, const eng__aud_cx *cx, uint32_t group)
{
    int rc = eng__enter(e);
    if (rc)
        return rc;
    rc = delete_group(e, cx, group);
    eng__leave(e);
    return rc;
}


static int eval(eng__aud *a, uint32_t id, eng__idset *out, int depth)
{
    eng__idset_free(out);
    eng__group *g = eng__group_find(a, id);
    if (!g)
        return eng__group_missing(a, id, "group");
    if (depth > MAX_DEPTH)
        return eng__err(ENG_ECYCLE, "group", "group %u nests deeper than %d (a cycle in stored data?)", id, MAX_DEPTH);
    if (g->kind == ENG_GROUP_UPLOADED)
        return eng__idset_copy(out, &g->members);
    if (g->kind == ENG_GROUP_FILTER)
        return eng__filter_eval(a, g, out);
    eng__idset part;
    eng__idset_init(&part, out->mem);
    int rc = ENG_OK;
    for (uint32_t i = 0; i < g->ninc + g->nexc && !rc; i++) {
        int exc = i >= g->ninc;
        rc = eval(a, exc ? g->exc[i - g->ninc] : g->inc[i], &part, depth + 1);
        if (rc)
            break;
        if (i == 0)
            eng__idset_move(out, &part);
        else
            rc = eng__idset_op_into(exc ? ENG__SET_ANDNOT : g->op == ENG_COMBINE_UNION ? ENG__SET_OR : ENG__SET_AND,
                                    out, &part);
    }
    eng__idset_free(&part);
    if (rc)
        eng__idset_free(out);
    return rc;
}

int eng__group_eval(eng__aud *a, uint32_t id, eng__idset *out)
{
    return eval(a, id, out, 0);
}

int eng__group_eval_ref(eng__aud *a, uint32_t id, eng__idset *tmp, const eng__idset **ref)
{
    eng__group *g = eng__group_find(a, id);
    if (g && g->kind == ENG_GROUP_UPLOADED) {
        *ref = &g->members; /* borrowed: no copy of a large member set */
        return ENG_OK;
    }
    *ref = tmp;
    return eval(a, id, tmp, 0);
}

int eng__aud_group_count(eng_engine *e, const eng__aud_cx *cx, uint32_t group, uint64_t *out)
{
    if (out)
        *out = 0; /* a failed call reports no members */
    int rc = eng__enter(e);
    if (rc)
        return rc;
    eng__aud *a;
    if (!out)
        rc = eng__err(ENG_EINVAL, "out", "out is NULL");
    else if (!(rc = eng__aud_get_cx(e, cx, &a))) {
        eng__idset s;
        eng__idset_init(&s, &e->mem);
        if (!(rc = eng__group_eval(a, group, &s)))
            *out = eng__idset_count(&s);
        eng__idset_free(&s);
    }
    eng__leave(e);
    return rc;
}

int eng__group_store_members(eng__aud *a, const eng__aud_cx *cx, eng__group *g, eng__idset *members)
{
    eng__group tmp = *g;
    tmp.members = *members;
    int rc = store_group(a, cx, &tmp, 1, 0);
    if (rc)
        return rc;
    eng__idset_move(&g->members, members);
    return ENG_OK;
}

int eng__group_put_members(eng__aud *a, uint32_t gid, const eng__idset *members)
{
    eng_engine *e = a->e;
    eng__wr m;
    eng__wr_init(&m, &e->mem);
    eng__idset_write(members, &m);
    char mk[ENG__AUD_KEY_MAX];
    eng__aud_key(a, mk, sizeof mk, "m/", gid);
    int rc = m.err ? eng__nomem() : eng__rec_put(e->store, mk, strlen(mk), ENG__REC_AUD_MEMBERS, MEMBERS_V, m.data, m.len);
    eng__wr_free(&m);
    return rc;
}
