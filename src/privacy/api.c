/* The erase calls: one id, a list, a CSV. Each resolves its external ids to
 * dense ids first (nothing is written while resolving), then erases them all
 * in one batch (erase.c). */
#include "privacy/privacy_impl.h"

#include <stdio.h>
#include <string.h>

typedef struct target {
    eng_engine *e;
    eng__aud *a;
    eng__idset ids;
    const char **ext;
    size_t *len, n, cap, lcap;
    eng_erase_report *rep;
} target;

static void target_init(target *t, eng_engine *e, eng_erase_report *rep)
{
    memset(t, 0, sizeof *t);
    t->e = e;
    t->rep = rep;
    eng__idset_init(&t->ids, &e->mem);
}

static void target_free(target *t)
{
    eng__idset_free(&t->ids);
    eng__free(&t->e->mem, t->ext);
    eng__free(&t->e->mem, t->len);
}

/* Add one external id (borrowed: it must outlive the erasure). */
static int target_add(target *t, const char *s, size_t n)
{
    uint32_t id;
    t->rep->requested++;
    if (eng__customer_find(&t->a->t, s, n, &id)) {
        t->rep->not_found++;
        return ENG_OK;
    }
    if (eng__idset_contains(&t->ids, id)) { /* listed twice: erased (and audited) once */
        t->rep->not_found++; /* as a second eng_customer_erase() would: requested = erased + not_found */
        return ENG_OK;
    }
    if (eng__grow(&t->e->mem, (void **)&t->ext, &t->cap, t->n + 1, sizeof *t->ext) ||
        eng__grow(&t->e->mem, (void **)&t->len, &t->lcap, t->n + 1, sizeof *t->len))
        return eng__nomem();
    t->ext[t->n] = s;
    t->len[t->n++] = n;
    return eng__idset_add(&t->ids, id);
}

static int report_start(eng_erase_report *in, eng_erase_report *tmp, eng_erase_report **out)
{
    *tmp = (eng_erase_report)ENG_ERASE_REPORT_INIT;
    *out = in ? in : tmp;
    return in ? eng__out_open(in, ENG__SIZES(sizeof *in), "eng_erase_report", "report") : ENG_OK;
}

/* Erase what was found; "privacy.erase" progress @p pg counts 2 units per id
 * (looked up, erased), so it is at t->n here and ends before the commit. */
static int finish(target *t, const char *actor, const char *org, eng__prog *pg)
{
    if (t->n == 0) { /* nobody to erase (maybe erased by a call that died before its rewrite) */
        int rc = eng__privacy_vacuum(t->e);
        return rc ? rc : eng__prog_end(pg);
    }
    int rc = eng__privacy_erase(t->e, actor, org, &t->ids, t->ext, t->len, t->n, pg);
    if (!rc)
        t->rep->erased = t->n;
    return rc;
}

/* The erasure's summary: counts only, never an id. */
static void erase_log(eng_engine *e, int rc, const char *org, const eng_erase_report *r)
{
    eng__log_done(e, rc, "erasure", "org %s: %llu requested, %llu erased, %llu not found", org,
                  (unsigned long long)r->requested, (unsigned long long)r->erased, (unsigned long long)r->not_found);
}

ENG_API int eng_customers_erase(eng_engine *e, const char *actor, const char *const *ext, size_t n,
                                eng_erase_report *report)
{
    eng_erase_report tmp, *rep = NULL;
    int rc = report_start(report, &tmp, &rep);
    if (rc || (rc = eng__enter(e)))
        return rc;
    char org[80];
    target t;
    target_init(&t, e, rep);
    if (!ext && n)
        rc = eng__err(ENG_EINVAL, "external_ids", "external_ids is NULL");
    else if (n > MAX_ERASE)
        rc = eng__err(ENG_ETOOBIG, "n", "at most %zu customers per erasure", (size_t)MAX_ERASE);
    else if (!(rc = eng__privacy_admin(e, actor, org, sizeof org)) && !(rc = eng__aud_get(e, org, &t.a))) {
        eng__prog pg;
        rc = eng__prog_start(&pg, e, "privacy.erase", 2 * (uint64_t)n);
        for (size_t i = 0; i < n && !rc; i++) {
            char det[40];
            snprintf(det, sizeof det, "external_ids[%zu]", i);
            if (!ext[i])
                rc = eng__err(ENG_EINVAL, det, "external id is NULL");
            else
                rc = target_add(&t, ext[i], strlen(ext[i]));
            if (!rc)
                rc = eng__prog_step(&pg, i + 1);
        }
        if (!rc)
            rc = finish(&t, actor, org, &pg);
        erase_log(e, rc, org, rep);
    }
    target_free(&t);
    eng__leave(e);
    return rc;
}

ENG_API int eng_customer_erase(eng_engine *e, const char *actor, const char *ext)
{
    int rc = eng__engine_hold(e); /* the handle is judged first (docs/api-conventions.md) */
    if (rc)
        return rc;
    eng__engine_unhold(e);
    if (!ext)
        return eng__err(ENG_EINVAL, "external_id", "external_id is NULL");
    eng_erase_report r = ENG_ERASE_REPORT_INIT;
    rc = eng_customers_erase(e, actor, &ext, 1, &r);
    if (!rc && r.erased == 0)
        rc = eng__err(ENG_ENOTFOUND, "external_id", "no customer with that external id"); /* never echo it */
    return rc;
}

/* ---- CSV: an `id` column; the ids are copied out of the reader's window. */

typedef struct csvctx {
    target *t;
    uint32_t idcol;
    char **copies;
    size_t n, cap;
} csvctx;

static int csv_hdr(void *ctx, const eng__csv *c, eng__rowerr *err)
{
    return eng__csv_id_column(c, &((csvctx *)ctx)->idcol, err);
}

static int csv_row(void *ctx, const eng__csv *c, uint64_t line, eng__rowerr *err)
{
    (void)line;
    (void)err;
    csvctx *x = ctx;
    eng_engine *e = x->t->e;
    size_t n = c->flen[x->idcol];
    char *s = eng__malloc(&e->mem, n + 1);
    if (!s || eng__grow(&e->mem, (void **)&x->copies, &x->cap, x->n + 1, sizeof *x->copies)) {
        eng__free(&e->mem, s);
        return eng__nomem();
    }
    memcpy(s, c->base + c->start[x->idcol], n);
    s[n] = 0;
    x->copies[x->n++] = s;
    return target_add(x->t, s, n);
}

ENG_API int eng_customers_erase_csv(eng_engine *e, const char *actor, const char *data, size_t len,
                                    eng_erase_report *report)
{
    eng_erase_report tmp, *rep = NULL;
    int rc = report_start(report, &tmp, &rep);
    if (rc || (rc = eng__enter(e)))
        return rc;
    char org[80];
    target t;
    target_init(&t, e, rep);
    csvctx x = {&t, 0, NULL, 0, 0};
    if (!data && len)
        rc = eng__err(ENG_EINVAL, "data", "data is NULL");
    else if (!(rc = eng__privacy_admin(e, actor, org, sizeof org)) && !(rc = eng__aud_get(e, org, &t.a))) {
        eng__memsrc src = {data ? data : "", len, 0};
        eng__csv c;
        eng_import_options o = ENG_IMPORT_OPTIONS_INIT;
        eng_import_report ir = ENG_IMPORT_REPORT_INIT;
        if (!(rc = eng__csv_init(&c, &e->mem, eng__memsrc_read, &src, o.max_field_bytes))) {
            rc = eng__import_drive(e, "privacy.erase_csv", &c, csv_hdr, csv_row, NULL, &x, &o, &ir);
            eng__csv_free(&c);
        }
        if (!rc && rep->requested > MAX_ERASE)
            rc = eng__err(ENG_ETOOBIG, "data", "at most %zu customers per erasure", (size_t)MAX_ERASE);
        /* The ids were looked up while reading ("privacy.erase_csv", bytes). */
        eng__prog pg;
        if (!rc && !(rc = eng__prog_start(&pg, e, "privacy.erase", 2 * (uint64_t)t.n)))
            rc = eng__prog_step(&pg, t.n);
        if (!rc)
            rc = finish(&t, actor, org, &pg);
        erase_log(e, rc, org, rep);
    }
    for (size_t i = 0; i < x.n; i++)
        eng__free(&e->mem, x.copies[i]);
    eng__free(&e->mem, x.copies);
    target_free(&t);
    eng__leave(e);
    return rc;
}

ENG_API int eng_customer_export_json(eng_engine *e, const char *actor, const char *ext, char **json, size_t *len)
{
    if (json)
        *json = NULL;
    if (len)
        *len = 0;
    int rc = eng__enter(e);
    if (rc)
        return rc;
    char org[80];
    eng__wr w;
    eng__prog pg;
    eng__wr_init(&w, &e->mem);
    if (!ext || !json || !len)
        rc = eng__err(ENG_EINVAL, !ext ? "external_id" : !json ? "json" : "len", "argument is NULL");
    else if (!(rc = eng__privacy_admin(e, actor, org, sizeof org)) &&
             !(rc = eng__privacy_export(e, org, ext, &w, &pg))) {
        eng__wr_u8(&w, 0);
        rc = w.err ? eng__nomem() : eng__prog_end(&pg);
        if (!rc && !(rc = eng__kv_begin(e->store))) {
            /* who looked at whom, in the audit chain */
            if (!(rc = eng__privacy_audit(e, org, actor, ext, strlen(ext), "export")))
                rc = eng__kv_commit(e->store);
            if (rc)
                rc = eng__aud_abort(e->store, rc);
        }
        if (!rc) {
            *len = w.len - 1;
            *json = (char *)w.data;
            w.data = NULL;
        }
    }
    eng__wr_free(&w);
    eng__leave(e);
    return rc;
}
