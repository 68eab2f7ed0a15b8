/* What the layers above ask of the audience layer. Customers, columns,
 * consent, groups and frozen audiences belong to one org: every call here
 * names it. The public entry points of engage/audience.h that take an actor
 * are defined by the model layer (src/model/audience_api.c), which owns actors
 * and access: it checks the actor, then calls the eng__aud_* functions below
 * with the actor's org and an audit hook.
 *
 * When a message is approved the model asks to resolve its audience exactly
 * as the campaign will contact it and freeze it (test and control sets with
 * their SHA-256) under a key, inside the caller's storage batch. */
#ifndef ENG_AUDIENCE_LINK_H
#define ENG_AUDIENCE_LINK_H

#include "engage/audience.h"

/* Who a call acts for: the org whose data it touches and, for calls that
 * change state, the actor and action recorded in the audit (in the change's
 * storage batch, through @c audit, which the model layer supplies). */
typedef struct eng__aud_cx {
    const char *org;
    const char *actor;
    const char *action;
    /* Append the audit entry inside the open batch; NULL: nothing is audited. */
    int (*audit)(eng_engine *e, const struct eng__aud_cx *cx, const char *object, const char *detail);
} eng__aud_cx;

/* ---- the public calls, for an org (see engage/audience.h for each) ---- */
int eng__aud_customers_set_id_kind(eng_engine *e, const eng__aud_cx *cx, int kind);
int eng__aud_customers_add_column(eng_engine *e, const eng__aud_cx *cx, const char *name, int type);
int eng__aud_customers_count(eng_engine *e, const eng__aud_cx *cx, uint64_t *out);
int eng__aud_customers_memory(eng_engine *e, const eng__aud_cx *cx, uint64_t *out);
int eng__aud_customers_import_csv(eng_engine *e, const eng__aud_cx *cx, eng_read_fn read, void *user,
                                  const eng_import_options *opts, eng_import_report *report);
int eng__aud_customers_import_csv_buffer(eng_engine *e, const eng__aud_cx *cx, const char *data, size_t len,
                                         const eng_import_options *opts, eng_import_report *report);
int eng__aud_customers_upsert(eng_engine *e, const eng__aud_cx *cx, const char *const *names, size_t ncols,
                              const char *const *values, size_t nrows, const eng_import_options *opts,
                              eng_import_report *report);
int eng__aud_customers_compact(eng_engine *e, const eng__aud_cx *cx);
int eng__aud_customer_find(eng_engine *e, const eng__aud_cx *cx, const char *external_id, uint32_t *out);
int eng__aud_customer_external_id(eng_engine *e, const eng__aud_cx *cx, uint32_t id, char *buf, size_t cap);
int eng__aud_customer_get(eng_engine *e, const eng__aud_cx *cx, uint32_t id, const char *column, char *buf,
                          size_t cap, size_t *len);
int eng__aud_customer_reachable(eng_engine *e, const eng__aud_cx *cx, uint32_t id, int channel, int *out);
int eng__aud_consent_history(eng_engine *e, const eng__aud_cx *cx, uint32_t id, eng_consent_iter **out);
int eng__aud_group_create_uploaded(eng_engine *e, const eng__aud_cx *cx, const char *name, uint32_t *out);
int eng__aud_group_upload_csv(eng_engine *e, const eng__aud_cx *cx, uint32_t group, const char *data, size_t len,
                              int mode, const eng_import_options *opts, eng_import_report *report);
int eng__aud_group_upload_ids(eng_engine *e, const eng__aud_cx *cx, uint32_t group, const char *const *ids,
                              size_t n, int mode, const eng_import_options *opts, eng_import_report *report);
int eng__aud_group_create_filter(eng_engine *e, const eng__aud_cx *cx, const char *name, const char *expr,
                                 uint32_t *out);
int eng__aud_group_create_combined(eng_engine *e, const eng__aud_cx *cx, const char *name, int op,
                                   const uint32_t *include, size_t n_include, const uint32_t *exclude,
                                   size_t n_exclude, uint32_t *out);
int eng__aud_group_set_combined(eng_engine *e, const eng__aud_cx *cx, uint32_t group, int op,
                                const uint32_t *include, size_t n_include, const uint32_t *exclude,
                                size_t n_exclude);
int eng__aud_group_find(eng_engine *e, const eng__aud_cx *cx, const char *name, uint32_t *out);
int eng__aud_group_kind_of(eng_engine *e, const eng__aud_cx *cx, uint32_t group, int *out);
int eng__aud_group_delete(eng_engine *e, const eng__aud_cx *cx, uint32_t group);
int eng__aud_gc_set(eng_engine *e, const eng__aud_cx *cx, const eng_global_control *gc);
int eng__aud_gc_get(eng_engine *e, const eng__aud_cx *cx, eng_global_control *out);
int eng__aud_gc_contains(eng_engine *e, const eng__aud_cx *cx, uint32_t id, int *out);
int eng__aud_group_count(eng_engine *e, const eng__aud_cx *cx, uint32_t group, uint64_t *out);
int eng__aud_audience_resolve(eng_engine *e, const eng__aud_cx *cx, const eng_audience_query *query,
                              eng_audience **out);
int eng__aud_audience_load_frozen(eng_engine *e, const eng__aud_cx *cx, const char *key, eng_audience **out);
int eng__aud_audience_test_count(eng_engine *e, const eng__aud_cx *cx, const eng_audience_query *query,
                                 uint64_t *out);
/* ENG_EDENIED when the audience is not of cx's org. */
int eng__aud_audience_freeze(eng_audience *aud, const eng__aud_cx *cx, const char *key);
/* The engine of a live audience handle, NULL for a bad one. */
eng_engine *eng__audience_engine(const eng_audience *aud);

/* ---- for the model layer, inside eng__enter ---- */
/* ENG_OK without writing anything when the engine has never had a group (the
 * host keeps its audiences elsewhere); otherwise ENG_OK once frozen, or the
 * resolve/freeze error (ENG_ENOTFOUND for a group that is not @p org's).
 * Inside an open batch. */
int eng__audience_freeze_query(eng_engine *e, const char *org, const eng_audience_query *q, const char *key);
/* Load a frozen audience of @p org. */
int eng__audience_load_frozen(eng_engine *e, const char *org, const char *key, eng_audience **out);
/* A campaign's control list (#eng_campaign_spec.control_group): ENG_OK for an uploaded group
 * of @p org, else the error at @p what (ENG_ENOTFOUND, ENG_EDENIED, ENG_EINVAL). */
int eng__audience_control_list_check(eng_engine *e, const char *org, uint32_t group, const char *what);
/* The test-group size of @p query over @p org's groups (the default X-Engage counter). */
int eng__audience_test_count(eng_engine *e, const char *org, const eng_audience_query *query, uint64_t *out);

/* Whether the message's group reference @p name (a group name or decimal id)
 * names a group of @p org: ENG_OK, ENG_ENOTFOUND, ENG_EDENIED (an id of
 * another org's group), or another error. *checked = 0 (and ENG_OK) when the
 * engine never held a group (the host keeps its audiences elsewhere), as for
 * the freeze above. Call inside eng__enter. */
int eng__audience_group_known(eng_engine *e, const char *org, const char *name, int *checked);

/* Compile a rule over customers (a personalization variant's rule) against the
 * customer columns filter groups see: ENG_OK, or the rules layer's error
 * (detail line:column, unknown fields with a did-you-mean). *checked = 0 when
 * the audience layer holds no columns and no customers (the host keeps them
 * elsewhere) and nothing was checked. Call inside eng__enter. */
int eng__audience_rule_check(eng_engine *e, const char *org, const char *text, int *checked);

/* ---- what dispatch reads (view.c, getvalue.c); call inside eng__enter ---- */
struct eng__table;
struct eng__aud;
typedef struct eng__customer_view_t {
    const struct eng__table *table; /* borrowed while the engine lock is held */
    const struct eng__aud *aud;     /* the org's state: its global control group ... */
    const struct eng__idset *gc_members; /* ... and, when uploaded, its members (found once per view) */
} eng__customer_view_t;
int eng__customer_view(eng_engine *e, const char *org, eng__customer_view_t *out);
/* Contact on a channel, NULL when none. */
const char *eng__view_contact(const eng__customer_view_t *v, int ch, uint32_t id, size_t *len);
/* Channels of @p channels the customer is reachable on now. */
uint32_t eng__view_reach(const eng__customer_view_t *v, uint32_t id, uint32_t channels);
/* Why a customer is not reachable on @p ch now (0 when reachable). Values are stored: append only. */
enum { ENG__UNREACH_NO_CONTACT = 1, ENG__UNREACH_NO_CONSENT = 2, ENG__UNREACH_OPTED_OUT = 3,
       ENG__UNREACH_SUPPRESSED = 4, ENG__UNREACH_GLOBAL_CONTROL = 6 }; /* 5: dispatch's ENG_UNREACH_NO_COUPON */
int eng__view_unreachable(const eng__customer_view_t *v, int ch, uint32_t id);
/* Customers of the view's org (dense ids are below it). */
uint32_t eng__view_size(const eng__customer_view_t *v);
/* An attribute as text, in the import syntax (as eng_customer_get); *len 0 for NULL. */
int eng__customer_text(eng_engine *e, const char *org, uint32_t id, const char *column, char *tmp, size_t cap,
                       const char **src, size_t *len);
/* Customers matching a rules expression over the customer columns. */
struct eng__idset;
int eng__audience_match_expr(eng_engine *e, const char *org, const char *expr, struct eng__idset *out);
/* Opt customers of @p org out (see audience_impl.h); sources[i] is an eng_consent_source. */
int eng__aud_optout(eng_engine *e, const char *org, const uint32_t *ids, const uint8_t *channels,
                    const uint8_t *sources, const eng_time *ts, size_t n);

#endif
