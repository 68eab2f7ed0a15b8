/* The public audience calls of engage/audience.h that name an actor. The
 * audience layer keeps customers, columns, consent, groups and frozen
 * audiences per org; this layer owns actors and access, so each call here
 * checks its actor (denied by default, an org object needs org scope), then
 * runs the audience layer's call for the actor's org. Calls that change state
 * are audited in the change's own storage batch, through the hook in cx.
 *
 * Operations: reading counts, groups and audiences needs ENG_OP_READ;
 * building groups, uploading members and freezing needs ENG_OP_EDIT;
 * the global control group needs ENG_OP_ADMIN to change, ENG_OP_READ to read;
 * importing customers, the schema, compaction and reading single customers'
 * data (contacts, consent) needs ENG_OP_ADMIN. */
#include "model/model_impl.h"
#include "audience/audience_link.h"

typedef struct who {
    eng__actor a;
    eng__org o;
    eng__aud_cx cx;
} who;

static int audit(eng_engine *e, const eng__aud_cx *cx, const char *object, const char *detail)
{
    return eng__audit_append(e, cx->org, cx->actor, object, cx->action, detail, strlen(detail));
}

/* Enter the engine and check @p actor for @p op on the org's audience data.
 * On success the caller ends with done(); on failure nothing is held. */
static int begin(eng_engine *e, const char *actor, int op, const char *action, who *w)
{
    int rc = eng__enter(e);
    if (rc)
        return rc;
    if ((rc = eng__who_may(e, actor, op, NULL, &w->a, &w->o))) {
        eng__leave(e);
        return rc;
    }
    w->cx = (eng__aud_cx){w->o.id, w->a.id, action, action ? audit : NULL};
    return ENG_OK;
}

static int done(eng_engine *e, who *w, int rc)
{
    eng__who_free(&w->a, &w->o);
    eng__leave(e);
    return rc;
}

#define CALL(op, action, expr)                                                                                       \
    do {                                                                                                             \
        who w;                                                                                                       \
        int rc_ = begin(e, actor, op, action, &w);                                                                   \
        if (rc_)                                                                                                     \
            return rc_;                                                                                              \
        return done(e, &w, (expr));                                                                                  \
    } while (0)

/* An import or upload: the call, then its summary in the log (counts only). */
#define CALL_IMPORT(op, action, what, expr)                                                                          \
    do {                                                                                                             \
        eng_import_report tmp_ = ENG_IMPORT_REPORT_INIT;                                                             \
        if (!report)                                                                                                 \
            report = &tmp_;                                                                                          \
        eng__out_clear(report, ENG__SIZES(sizeof *report));                                                          \
        who w;                                                                                                       \
        int rc_ = begin(e, actor, op, action, &w);                                                                   \
        if (rc_)                                                                                                     \
            return rc_;                                                                                              \
        rc_ = (expr);                                                                                                \
        const eng_import_report *r_ = report->version == ENG_IMPORT_REPORT_VERSION ? report : &tmp_;                \
        eng__log_import(e, what, w.o.id, rc_, r_->rows, r_->inserted, "updated", r_->updated, r_->bad_rows);         \
        return done(e, &w, rc_);                                                                                     \
    } while (0)

ENG_API int eng_customers_set_id_kind(eng_engine *e, const char *actor, int kind)
{
    CALL(ENG_OP_ADMIN, "id_kind", eng__aud_customers_set_id_kind(e, &w.cx, kind));
}

ENG_API int eng_customers_add_column(eng_engine *e, const char *actor, const char *name, int type)
{
    CALL(ENG_OP_ADMIN, "add_column", eng__aud_customers_add_column(e, &w.cx, name, type));
}

ENG_API int eng_customers_count(eng_engine *e, const char *actor, uint64_t *out)
{
    if (out)
        *out = 0;
    CALL(ENG_OP_READ, NULL, eng__aud_customers_count(e, &w.cx, out));
}

ENG_API int eng_customers_memory(eng_engine *e, const char *actor, uint64_t *out)
{
    if (out)
        *out = 0;
    CALL(ENG_OP_READ, NULL, eng__aud_customers_memory(e, &w.cx, out));
}

ENG_API int eng_customers_import_csv(eng_engine *e, const char *actor, eng_read_fn read, void *user,
                                     const eng_import_options *opts, eng_import_report *report)
{
    CALL_IMPORT(ENG_OP_ADMIN, "import", "customer import", eng__aud_customers_import_csv(e, &w.cx, read, user, opts, report));
}

ENG_API int eng_customers_import_csv_buffer(eng_engine *e, const char *actor, const char *data, size_t len,
                                            const eng_import_options *opts, eng_import_report *report)
{
    CALL_IMPORT(ENG_OP_ADMIN, "import", "customer import",
                eng__aud_customers_import_csv_buffer(e, &w.cx, data, len, opts, report));
}

ENG_API int eng_customers_upsert(eng_engine *e, const char *actor, const char *const *names, size_t ncols,
                                 const char *const *values, size_t nrows, const eng_import_options *opts,
                                 eng_import_report *report)
{
    CALL_IMPORT(ENG_OP_ADMIN, "upsert", "customer upsert",
                eng__aud_customers_upsert(e, &w.cx, names, ncols, values, nrows, opts, report));
}

ENG_API int eng_customers_compact(eng_engine *e, const char *actor)
{
    who w;
    int rc = begin(e, actor, ENG_OP_ADMIN, "compact", &w);
    if (rc)
        return rc;
    rc = eng__aud_customers_compact(e, &w.cx);
    eng__log_done(e, rc, "customer compaction", "org %s", w.o.id);
    return done(e, &w, rc);
}

ENG_API int eng_customer_find(eng_engine *e, const char *actor, const char *external_id, uint32_t *out)
{
    if (out)
        *out = 0;
    CALL(ENG_OP_ADMIN, NULL, eng__aud_customer_find(e, &w.cx, external_id, out));
}

ENG_API int eng_customer_external_id(eng_engine *e, const char *actor, uint32_t id, char *buf, size_t cap)
{
    if (buf && cap)
        buf[0] = 0;
    CALL(ENG_OP_ADMIN, NULL, eng__aud_customer_external_id(e, &w.cx, id, buf, cap));
}

ENG_API int eng_customer_get(eng_engine *e, const char *actor, uint32_t id, const char *column, char *buf, size_t cap,
                             size_t *len)
{
    if (len)
        *len = 0;
    if (buf && cap)
        buf[0] = 0;
    CALL(ENG_OP_ADMIN, NULL, eng__aud_customer_get(e, &w.cx, id, column, buf, cap, len));
}

ENG_API int eng_customer_reachable(eng_engine *e, const char *actor, uint32_t id, int channel, int *out)
{
    if (out)
        *out = 0;
    CALL(ENG_OP_ADMIN, NULL, eng__aud_customer_reachable(e, &w.cx, id, channel, out));
}

ENG_API int eng_consent_history(eng_engine *e, const char *actor, uint32_t id, eng_consent_iter **out)
{
    if (out)
        *out = NULL;
    CALL(ENG_OP_ADMIN, NULL, eng__aud_consent_history(e, &w.cx, id, out));
}

ENG_API int eng_group_create_uploaded(eng_engine *e, const char *actor, const char *name, uint32_t *out)
{
    if (out)
        *out = 0;
    CALL(ENG_OP_EDIT, "create", eng__aud_group_create_uploaded(e, &w.cx, name, out));
}

ENG_API int eng_group_upload_csv(eng_engine *e, const char *actor, uint32_t group, const char *data, size_t len,
                                 int mode, const eng_import_options *opts, eng_import_report *report)
{
    CALL_IMPORT(ENG_OP_EDIT, "upload", "group upload",
                eng__aud_group_upload_csv(e, &w.cx, group, data, len, mode, opts, report));
}

ENG_API int eng_group_upload_ids(eng_engine *e, const char *actor, uint32_t group, const char *const *ids, size_t n,
                                 int mode, const eng_import_options *opts, eng_import_report *report)
{
    CALL_IMPORT(ENG_OP_EDIT, "upload", "group upload",
                eng__aud_group_upload_ids(e, &w.cx, group, ids, n, mode, opts, report));
}

ENG_API int eng_group_create_filter(eng_engine *e, const char *actor, const char *name, const char *expr,
                                    uint32_t *out)
{
    if (out)
        *out = 0;
    CALL(ENG_OP_EDIT, "create", eng__aud_group_create_filter(e, &w.cx, name, expr, out));
}

ENG_API int eng_group_create_combined(eng_engine *e, const char *actor, const char *name, int op,
                                      const uint32_t *include, size_t n_include, const uint32_t *exclude,
                                      size_t n_exclude, uint32_t *out)
{
    if (out)
        *out = 0;
    CALL(ENG_OP_EDIT, "create",
         eng__aud_group_create_combined(e, &w.cx, name, op, include, n_include, exclude, n_exclude, out));
}

ENG_API int eng_group_set_combined(eng_engine *e, const char *actor, uint32_t group, int op, const uint32_t *include,
                                   size_t n_include, const uint32_t *exclude, size_t n_exclude)
{
    CALL(ENG_OP_EDIT, "set_combined",
         eng__aud_group_set_combined(e, &w.cx, group, op, include, n_include, exclude, n_exclude));
}

ENG_API int eng_group_find(eng_engine *e, const char *actor, const char *name, uint32_t *out)
{
    if (out)
        *out = 0;
    CALL(ENG_OP_READ, NULL, eng__aud_group_find(e, &w.cx, name, out));
}

ENG_API int eng_group_kind_of(eng_engine *e, const char *actor, uint32_t group, int *out)
{
    if (out)
        *out = 0;
    CALL(ENG_OP_READ, NULL, eng__aud_group_kind_of(e, &w.cx, group, out));
}

ENG_API int eng_group_delete(eng_engine *e, const char *actor, uint32_t group)
{
    CALL(ENG_OP_EDIT, "delete", eng__aud_group_delete(e, &w.cx, group));
}

ENG_API int eng_global_control_set(eng_engine *e, const char *actor, const eng_global_control *gc)
{
    CALL(ENG_OP_ADMIN, "global-control", eng__aud_gc_set(e, &w.cx, gc));
}

ENG_API int eng_global_control_get(eng_engine *e, const char *actor, eng_global_control *out)
{
    if (out && out->version >= 1 && out->version <= ENG_GLOBAL_CONTROL_VERSION) {
        unsigned v = out->version; /* zeroed on every failure, the caller's version kept */
        memset(out, 0, sizeof *out);
        out->version = v;
    }
    CALL(ENG_OP_READ, NULL, eng__aud_gc_get(e, &w.cx, out));
}

ENG_API int eng_global_control_contains(eng_engine *e, const char *actor, uint32_t id, int *out)
{
    if (out)
        *out = 0;
    CALL(ENG_OP_READ, NULL, eng__aud_gc_contains(e, &w.cx, id, out));
}

ENG_API int eng_group_count(eng_engine *e, const char *actor, uint32_t group, uint64_t *out)
{
    if (out)
        *out = 0;
    CALL(ENG_OP_READ, NULL, eng__aud_group_count(e, &w.cx, group, out));
}

ENG_API int eng_audience_resolve(eng_engine *e, const char *actor, const eng_audience_query *query,
                                 eng_audience **out)
{
    if (out)
        *out = NULL;
    CALL(ENG_OP_READ, NULL, eng__aud_audience_resolve(e, &w.cx, query, out));
}

ENG_API int eng_audience_test_count(eng_engine *e, const char *actor, const eng_audience_query *query,
                                    uint64_t *out)
{
    if (out)
        *out = 0;
    CALL(ENG_OP_READ, NULL, eng__aud_audience_test_count(e, &w.cx, query, out));
}

ENG_API int eng_audience_load_frozen(eng_engine *e, const char *actor, const char *key, eng_audience **out)
{
    if (out)
        *out = NULL;
    CALL(ENG_OP_READ, NULL, eng__aud_audience_load_frozen(e, &w.cx, key, out));
}

ENG_API int eng_audience_freeze(eng_audience *aud, const char *actor, const char *key)
{
    eng_engine *e = eng__audience_engine(aud);
    if (!e)
        return eng__err(ENG_EMISUSE, "audience", "eng_audience_freeze: not an audience (NULL or freed)");
    CALL(ENG_OP_EDIT, "freeze", eng__aud_audience_freeze(aud, &w.cx, key));
}
