/* Uploaded groups: members from a CSV (an `id` column) or an id list.
 * Unknown ids are bad rows handled by the import's error mode. */
#include "audience/audience_impl.h"
#include "base/handle.h"

#include <stdio.h>
#include <string.h>

typedef struct up {
    eng__aud *a;
    const eng__aud_cx *cx;
    uint32_t idcol;
    eng__idset set;
} up;

int eng__csv_id_column(const eng__csv *c, uint32_t *col, eng__rowerr *err)
{
    int found = 0;
    for (uint32_t i = 0; i < c->nf; i++)
        if (c->flen[i] == 2 && memcmp(c->base + c->start[i], "id", 2) == 0) {
            if (found) { /* which column names the customers would be a guess */
                err->col = i + 1;
                err->code = ENG_EINVAL;
                err->why = "a second \"id\" column";
                return 1;
            }
            *col = i;
            found = 1;
        }
    if (found)
        return 0;
    err->col = 0;
    err->code = ENG_EINVAL;
    err->why = "the header has no \"id\" column";
    return 1;
}

static int up_hdr(void *ctx, const eng__csv *c, eng__rowerr *err)
{
    return eng__csv_id_column(c, &((up *)ctx)->idcol, err);
}

static int add_one(up *u, const char *s, size_t n, uint32_t col, eng__rowerr *err)
{
    uint32_t id;
    if (eng__customer_find(&u->a->t, s, n, &id)) {
        err->col = col;
        err->code = ENG_ENOTFOUND;
        err->why = n ? "unknown customer id" : "empty customer id";
        return 1;
    }
    return eng__idset_add(&u->set, id);
}

static int up_row(void *ctx, const eng__csv *c, uint64_t line, eng__rowerr *err)
{
    up *u = ctx;
    (void)line;
    return add_one(u, c->base + c->start[u->idcol], c->flen[u->idcol], u->idcol + 1, err);
}

static int finish(up *u, eng__group *g, int mode, eng_import_report *rep)
{
    uint64_t before = eng__idset_count(&g->members);
    int rc = ENG_OK;
    if (mode == ENG_UPLOAD_APPEND)
        rc = eng__idset_op_into(ENG__SET_OR, &u->set, &g->members);
    if (rc)
        return rc;
    uint64_t after = eng__idset_count(&u->set);
    eng__idset both;
    eng__idset_init(&both, u->set.mem);
    if ((rc = eng__idset_op(ENG__SET_AND, &both, &u->set, &g->members)))
        return rc;
    uint64_t kept = eng__idset_count(&both);
    eng__idset_free(&both);
    snprintf(u->a->obj, sizeof u->a->obj, "group/%u", (unsigned)g->id);
    snprintf(u->a->detail, sizeof u->a->detail, "%s %llu members", mode == ENG_UPLOAD_APPEND ? "append" : "replace",
             (unsigned long long)after);
    if ((rc = eng__group_store_members(u->a, u->cx, g, &u->set)))
        return rc;
    rep->inserted = after - kept;
    rep->updated = 0;
    (void)before;
    return ENG_OK;
}

static int begin(eng_engine *e, const eng__aud_cx *cx, uint32_t gid, int mode, up *u, eng__group **g)
{
    u->cx = cx;
    int rc = eng__aud_get_cx(e, cx, &u->a);
    if (rc)
        return rc;
    if (mode != ENG_UPLOAD_REPLACE && mode != ENG_UPLOAD_APPEND)
        return eng__err(ENG_EINVAL, "mode", "unknown upload mode %d", mode);
    *g = eng__group_find(u->a, gid);
    if (!*g)
        return eng__group_missing(u->a, gid, "group");
    if ((*g)->kind != ENG_GROUP_UPLOADED)
        return eng__err(ENG_ESTATE, "group", "group %u is not an uploaded group", gid);
    return ENG_OK;
}

int eng__aud_group_upload_csv(eng_engine *e, const eng__aud_cx *cx, uint32_t gid, const char *data, size_t len, int mode,
                                 const eng_import_options *opts, eng_import_report *report)
{
    int rc = eng__enter(e);
    if (rc)
        return rc;
    eng_import_report tmp, *rep = &tmp;
    eng_import_options o;
    up u;
    memset(&u, 0, sizeof u);
    eng__idset_init(&u.set, &e->mem);
    eng__group *g = NULL;
    rc = eng__report_start(report, &tmp, &rep);
    if (!rc && !data && len)
        rc = eng__err(ENG_EINVAL, "data", "data is NULL");
    if (!rc && !(rc = eng__import_opts(opts, &o)) && !(rc = begin(e, cx, gid, mode, &u, &g))) {
        eng__memsrc src = {data, len, 0};
        eng__csv c;
        if (!(rc = eng__csv_init(&c, &e->mem, eng__memsrc_read, &src, o.max_field_bytes))) {
            rc = eng__import_drive(e, "audience.upload", &c, up_hdr, up_row, NULL, &u, &o, rep);
            eng__csv_free(&c);
        }
        if (!rc)
            rc = finish(&u, g, mode, rep);
    }
    eng__idset_free(&u.set);
    eng__leave(e);
    return rc;
}

int eng__aud_group_upload_ids(eng_engine *e, const eng__aud_cx *cx, uint32_t gid, const char *const *ids, size_t n, int mode,
                                 const eng_import_options *opts, eng_import_report *report)
{
    int rc = eng__enter(e);
    if (rc)
        return rc;
    eng_import_report tmp, *rep = &tmp;
    eng_import_options o;
    up u;
    memset(&u, 0, sizeof u);
    eng__idset_init(&u.set, &e->mem);
    eng__group *g = NULL;
    rc = eng__report_start(report, &tmp, &rep);
    if (!rc && !ids && n)
        rc = eng__err(ENG_EINVAL, "ids", "ids is NULL");
    eng__prog pg; /* "audience.upload": ids handled of n */
    if (!rc && !(rc = eng__import_opts(opts, &o)) && !(rc = begin(e, cx, gid, mode, &u, &g)) &&
        !(rc = eng__prog_start(&pg, e, "audience.upload", n))) {
        for (size_t i = 0; i < n && !rc; i++) {
            eng__rowerr err = {0, 0, ""};
            const char *s = ids[i] ? ids[i] : "";
            ENG__WORK(1);
            if ((rc = eng__prog_step(&pg, i)))
                break;
            rep->rows++;
            rc = add_one(&u, s, strlen(s), 1, &err);
            if (rc == 1) {
                rep->bad_rows++;
                if (o.error_fn) {
                    eng_import_error ie = {i + 2, 1, "id", err.code, err.why};
                    eng__callback_begin();
                    o.error_fn(&ie, o.error_user);
                    eng__callback_end();
                }
                rc = ENG_OK;
                if (o.on_error == ENG_IMPORT_REJECT_FILE || rep->bad_rows > o.max_bad_rows) {
                    char det[32];
                    snprintf(det, sizeof det, "%zu:1", i + 2);
                    rc = eng__err(err.code, det, "id %zu: %s; nothing was uploaded", i, err.why); /* not the id itself */
                }
            }
        }
        if (!rc && !(rc = eng__prog_end(&pg)))
            rc = finish(&u, g, mode, rep);
    }
    eng__idset_free(&u.set);
    eng__leave(e);
    return rc;
}
