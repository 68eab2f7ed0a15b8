/* The endpoints: JSON in (parsed with jansson), libengage calls on the one
 * shared engine, JSON out. Library errors become HTTP statuses through
 * crm_status_of(); a bad body gets a 400 naming the field. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "crm.h"

/* ---------------------------------------------------------------- replies */

unsigned crm_status_of(int rc)
{
    switch (rc) {
    case ENG_EINVAL: case ENG_ERANGE: case ENG_EPARSE: case ENG_ETYPE: case ENG_ETOOBIG: return 400;
    case ENG_ECREDITS: return 402;
    case ENG_EDENIED: return 403;
    case ENG_ENOTFOUND: return 404;
    case ENG_EEXISTS: case ENG_ESTATE: return 409;
    case ENG_EVALIDATION: return 422;
    case ENG_EBUSY: return 503;
    default: return 500;
    }
}

void crm_error(crm_reply *out, unsigned status, const char *code, const char *message, const char *field)
{
    json_t *e = json_object();
    json_object_set_new(e, "code", json_string(code));
    json_object_set_new(e, "message", json_string(message ? message : ""));
    if (field && *field)
        json_object_set_new(e, "field", json_string(field));
    out->status = status;
    out->body = json_object();
    json_object_set_new(out->body, "error", e);
}

/* The code's name (ENG_EINVAL, ...) as clients match on it. */
static const char *code_name(int rc)
{
    static const char *const names[] = {"ENG_OK", "ENG_ERROR", "ENG_ENOMEM", "ENG_EINVAL", "ENG_ENOTFOUND",
                                        "ENG_EEXISTS", "ENG_EMISUSE", "ENG_EVERSION", "ENG_ESTORAGE", "ENG_ECORRUPT",
                                        "ENG_ETRANSPORT", "ENG_EBUSY", "ENG_ERANGE", "ENG_ETOOBIG", "ENG_ESTATE",
                                        "ENG_EDENIED", "ENG_EVALIDATION", "ENG_EPARSE", "ENG_ETYPE",
                                        "ENG_ECANCELLED", "ENG_EIO", "ENG_ECYCLE", "ENG_EUNSUPPORTED",
                                        "ENG_ECREDITS", "ENG_EUSER", "ENG_ITEROVER"};
    return rc <= 0 && -rc < (int)(sizeof names / sizeof *names) ? names[-rc] : "ENG_ERROR";
}

void crm_engine_error(crm_reply *out, int rc)
{
    const eng_error *e = eng_error_last();
    crm_error(out, crm_status_of(rc), code_name(rc), e->message, e->detail);
}

/* A validation report as a 422 listing every problem with its field path. */
static void validation_error(crm_reply *out, int rc, eng_validation *v)
{
    crm_engine_error(out, rc);
    json_t *items = json_array();
    for (size_t i = 0; i < eng_validation_count(v); i++) {
        const char *path, *msg;
        int code;
        if (eng_validation_item(v, i, &code, &path, &msg) == ENG_OK)
            json_array_append_new(items, json_pack("{s:s, s:s, s:s}", "field", path, "message", msg, "code",
                                                   code_name(code)));
    }
    json_object_set_new(json_object_get(out->body, "error"), "problems", items);
    eng_validation_free(v);
}

static void ok(crm_reply *out, unsigned status, json_t *body)
{
    out->status = status;
    out->body = body ? body : json_object();
}

/* ---------------------------------------------------------------- body fields */

typedef struct body {
    json_t *root;
    crm_reply *out;
    int bad;
} body;

static int parse(const crm_request *rq, crm_reply *out, body *b)
{
    json_error_t err;
    b->out = out, b->bad = 0;
    b->root = json_loadb(rq->body, rq->body_len, JSON_REJECT_DUPLICATES, &err);
    if (!b->root || !json_is_object(b->root)) {
        char where[64];
        snprintf(where, sizeof where, "body:%d:%d", err.line, err.column);
        crm_error(out, 400, "bad_json", b->root ? "the body must be a JSON object" : err.text,
                  b->root ? "body" : where);
        json_decref(b->root);
        return -1;
    }
    return 0;
}

static void bad_field(body *b, const char *field, const char *what)
{
    if (!b->bad) {
        char msg[160];
        snprintf(msg, sizeof msg, "'%s' %s", field, what);
        crm_error(b->out, 400, "bad_field", msg, field);
    }
    b->bad = 1;
}

static const char *str_field(body *b, json_t *obj, const char *name, const char *path, int required)
{
    json_t *v = json_object_get(obj, name);
    if (!v && !required)
        return NULL;
    if (!json_is_string(v))
        bad_field(b, path, v ? "must be a string" : "is required");
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int64_t int_field(body *b, json_t *obj, const char *name, int required, int64_t dflt)
{
    json_t *v = json_object_get(obj, name);
    if (!v && !required)
        return dflt;
    if (!json_is_integer(v))
        bad_field(b, name, v ? "must be an integer" : "is required");
    return json_is_integer(v) ? json_integer_value(v) : dflt;
}

/* A JSON array of strings as a C array (pointers into the JSON). */
static const char **str_array(body *b, json_t *obj, const char *name, size_t *n)
{
    json_t *a = json_object_get(obj, name);
    *n = 0;
    if (!a)
        return NULL;
    if (!json_is_array(a)) {
        bad_field(b, name, "must be an array of strings");
        return NULL;
    }
    const char **out = calloc(json_array_size(a) + 1, sizeof *out);
    for (size_t i = 0; out && i < json_array_size(a); i++) {
        char path[64];
        snprintf(path, sizeof path, "%s[%zu]", name, i);
        if (!json_is_string(json_array_get(a, i)))
            bad_field(b, path, "must be a string");
        else
            out[(*n)++] = json_string_value(json_array_get(a, i));
    }
    return out;
}

static int channel_of(const char *name)
{
    for (int c = 0; c < ENG_CH_COUNT; c++)
        if (name && strcmp(eng_channel_name(c), name) == 0)
            return c;
    return -1;
}

/* ---------------------------------------------------------------- endpoints */

static void post_org(crm_app *app, const crm_request *rq, crm_reply *out)
{
    body b;
    if (parse(rq, out, &b))
        return;
    const char *org = str_field(&b, b.root, "org", "org", 1), *admin = str_field(&b, b.root, "admin", "admin", 1);
    if (!b.bad) {
        int rc = eng_org_create(app->engine, org, NULL, admin, NULL);
        if (rc)
            crm_engine_error(out, rc);
        else
            ok(out, 201, json_pack("{s:s}", "org", org));
    }
    json_decref(b.root);
}

static void post_actor(crm_app *app, const crm_request *rq, crm_reply *out)
{
    body b;
    if (parse(rq, out, &b))
        return;
    eng_actor_spec a = ENG_ACTOR_SPEC_INIT;
    a.id = str_field(&b, b.root, "id", "id", 1);
    size_t n;
    const char **roles = str_array(&b, b.root, "roles", &n);
    static const char *const names[] = {"viewer", "author", "approver", "admin"};
    for (size_t i = 0; i < n; i++) {
        unsigned bit = 0;
        for (unsigned r = 0; r < 4; r++)
            if (strcmp(roles[i], names[r]) == 0)
                bit = 1u << r;
        if (!bit)
            bad_field(&b, "roles", "holds an unknown role (viewer, author, approver, admin)");
        a.roles |= bit;
    }
    if (!b.bad) {
        int rc = eng_actor_put(app->engine, rq->actor, &a);
        if (rc)
            crm_engine_error(out, rc);
        else
            ok(out, 201, json_pack("{s:s}", "id", a.id));
    }
    free(roles);
    json_decref(b.root);
}

static void post_customers(crm_app *app, const crm_request *rq, crm_reply *out)
{
    eng_import_report rep = ENG_IMPORT_REPORT_INIT;
    int rc = eng_customers_import_csv_buffer(app->engine, rq->actor, rq->body, rq->body_len, NULL, &rep);
    if (rc)
        crm_engine_error(out, rc);
    else
        ok(out, 200, json_pack("{s:I, s:I, s:I}", "rows", (json_int_t)rep.rows, "inserted", (json_int_t)rep.inserted,
                               "updated", (json_int_t)rep.updated));
}

static void post_group(crm_app *app, const crm_request *rq, crm_reply *out)
{
    body b;
    if (parse(rq, out, &b))
        return;
    const char *name = str_field(&b, b.root, "name", "name", 1), *filter = str_field(&b, b.root, "filter", "filter", 0);
    size_t n;
    const char **ids = str_array(&b, b.root, "ids", &n);
    if (!b.bad && !filter && !ids)
        bad_field(&b, "filter", "or 'ids' is required");
    if (!b.bad) {
        uint32_t g;
        int rc = filter ? eng_group_create_filter(app->engine, rq->actor, name, filter, &g)
                        : eng_group_create_uploaded(app->engine, rq->actor, name, &g);
        if (!rc && !filter)
            rc = eng_group_upload_ids(app->engine, rq->actor, g, ids, n, ENG_UPLOAD_REPLACE, NULL, NULL);
        uint64_t size = 0;
        if (!rc)
            rc = eng_group_count(app->engine, rq->actor, g, &size);
        if (rc)
            crm_engine_error(out, rc);
        else
            ok(out, 201, json_pack("{s:i, s:I}", "id", (int)g, "size", (json_int_t)size));
    }
    free(ids);
    json_decref(b.root);
}

static void post_campaign(crm_app *app, const crm_request *rq, crm_reply *out)
{
    body b;
    if (parse(rq, out, &b))
        return;
    eng_campaign_spec c = ENG_CAMPAIGN_SPEC_INIT;
    c.name = str_field(&b, b.root, "name", "name", 1);
    c.start = int_field(&b, b.root, "start", 1, 0);
    c.end = int_field(&b, b.root, "end", 1, 0);
    c.control_percent = (uint32_t)int_field(&b, b.root, "control_percent", 0, 10);
    if (!b.bad) {
        uint64_t id;
        eng_validation *v = NULL;
        int rc = eng_campaign_create(app->engine, rq->actor, &c, &id, &v);
        if (rc && v)
            validation_error(out, rc, v);
        else if (rc)
            crm_engine_error(out, rc);
        else
            ok(out, 201, json_pack("{s:I}", "id", (json_int_t)id));
    }
    json_decref(b.root);
}

static void post_message(crm_app *app, const crm_request *rq, uint64_t campaign, crm_reply *out)
{
    eng_schedule sched = ENG_SCHEDULE_INIT;
    body b;
    if (parse(rq, out, &b))
        return;
    eng_message_spec m = ENG_MESSAGE_SPEC_INIT;
    m.title = str_field(&b, b.root, "title", "title", 1);
    m.include = str_array(&b, b.root, "include", &m.n_include);
    m.exclude = str_array(&b, b.root, "exclude", &m.n_exclude);
    sched.kind = ENG_SCHEDULE_ONCE;
    sched.at = int_field(&b, b.root, "send_at", 1, 0);
    m.schedule = &sched;
    json_t *cr = json_object_get(b.root, "creatives");
    if (!json_is_array(cr) || !json_array_size(cr))
        bad_field(&b, "creatives", cr ? "must be a non-empty array" : "is required");
    size_t ncr = json_is_array(cr) ? json_array_size(cr) : 0;
    eng_creative *c = calloc(ncr + 1, sizeof *c);
    for (size_t i = 0; c && i < ncr && !b.bad; i++) {
        json_t *o = json_array_get(cr, i);
        char path[64];
        snprintf(path, sizeof path, "creatives[%zu].channel", i);
        c[i].channel = channel_of(str_field(&b, o, "channel", path, 1));
        if (c[i].channel < 0)
            bad_field(&b, path, "is not a channel (sms, email, push, whatsapp, ...)");
        snprintf(path, sizeof path, "creatives[%zu].subject", i);
        c[i].subject = str_field(&b, o, "subject", path, 0);
        snprintf(path, sizeof path, "creatives[%zu].body", i);
        c[i].body = str_field(&b, o, "body", path, 1);
    }
    m.creatives = c, m.n_creatives = ncr;
    if (!b.bad) {
        uint64_t id;
        eng_validation *v = NULL;
        int rc = eng_message_create(app->engine, rq->actor, campaign, &m, &id, &v);
        if (rc && v)
            validation_error(out, rc, v);
        else if (rc)
            crm_engine_error(out, rc);
        else
            ok(out, 201, json_pack("{s:I}", "id", (json_int_t)id));
    }
    free(c), free((void *)m.include), free((void *)m.exclude);
    json_decref(b.root);
}

static void get_message(crm_app *app, const crm_request *rq, uint64_t id, crm_reply *out)
{
    static const char *const states[] = {"draft", "awaiting_approval", "approved", "rejected", "executing",
                                         "executed", "stopped"};
    eng_message *m;
    int rc = eng_message_get(app->engine, rq->actor, id, &m);
    if (rc) {
        crm_engine_error(out, rc);
        return;
    }
    eng_message_status st = ENG_MESSAGE_STATUS_INIT;
    const eng_message_spec *f;
    if ((rc = eng_message_status_get(m, &st)) == ENG_OK && (rc = eng_message_fields(m, &f)) == ENG_OK)
        ok(out, 200, json_pack("{s:I, s:I, s:s, s:s, s:s}", "id", (json_int_t)st.id, "campaign",
                               (json_int_t)st.campaign, "title", f->title, "state", states[st.state], "content_hash",
                               st.content_hash));
    else
        crm_engine_error(out, rc);
    eng_message_free(m);
}

static void post_submit(crm_app *app, const crm_request *rq, uint64_t id, crm_reply *out)
{
    eng_validation *v = NULL;
    int rc = eng_message_submit(app->engine, rq->actor, id, &v);
    if (rc && v)
        validation_error(out, rc, v);
    else if (rc)
        crm_engine_error(out, rc);
    else
        ok(out, 200, json_pack("{s:s}", "state", "awaiting_approval"));
}

static void post_approve(crm_app *app, const crm_request *rq, uint64_t id, crm_reply *out)
{
    body b;
    if (parse(rq, out, &b))
        return;
    const char *hash = str_field(&b, b.root, "content_hash", "content_hash", 0);
    const char *comment = str_field(&b, b.root, "comment", "comment", 0);
    if (!b.bad) {
        int rc = eng_message_approve(app->engine, rq->actor, id, hash, comment ? comment : "");
        if (rc)
            crm_engine_error(out, rc);
        else
            ok(out, 200, json_pack("{s:s}", "state", "approved"));
    }
    json_decref(b.root);
}

static void post_run(crm_app *app, const crm_request *rq, crm_reply *out)
{
    body b;
    if (parse(rq, out, &b))
        return;
    eng_run_options o = ENG_RUN_OPTIONS_INIT;
    o.message = (uint64_t)int_field(&b, b.root, "message", 0, 0);
    eng_time now = int_field(&b, b.root, "now", 0, 0);
    if (!b.bad) {
        eng_run_report r = ENG_RUN_REPORT_INIT;
        int rc = eng_run_due(app->engine, rq->actor, now ? now : eng_now(app->engine), &o, &r);
        if (rc)
            crm_engine_error(out, rc);
        else
            ok(out, 200, json_pack("{s:I, s:I, s:I, s:I, s:I}", "executions", (json_int_t)r.executions, "finished",
                                   (json_int_t)r.finished, "batches", (json_int_t)r.batches, "accepted",
                                   (json_int_t)r.accepted, "pending", (json_int_t)r.pending));
    }
    json_decref(b.root);
}

static void get_outbox(crm_app *app, crm_reply *out)
{
    json_t *a = json_array();
    pthread_mutex_lock(&app->outbox_lock);
    for (size_t i = 0; i < app->noutbox; i++)
        json_array_append_new(a, json_pack("{s:s, s:i, s:s}", "key", app->outbox[i], "customer",
                                           (int)app->outbox_customer[i], "channel",
                                           eng_channel_name(app->outbox_channel[i])));
    pthread_mutex_unlock(&app->outbox_lock);
    ok(out, 200, json_pack("{s:o}", "sends", a));
}

static void post_receipts(crm_app *app, const crm_request *rq, crm_reply *out)
{
    static const char *const st[] = {"sent", "delivered", "opened", "clicked", "failed", "unsubscribed", "bounced",
                                     "complained"};
    body b;
    if (parse(rq, out, &b))
        return;
    json_t *a = json_object_get(b.root, "receipts");
    if (!json_is_array(a))
        bad_field(&b, "receipts", a ? "must be an array" : "is required");
    size_t n = json_is_array(a) ? json_array_size(a) : 0;
    const char **keys = calloc(n + 1, sizeof *keys);
    int *status = calloc(n + 1, sizeof *status);
    eng_time *times = calloc(n + 1, sizeof *times);
    for (size_t i = 0; keys && status && times && i < n && !b.bad; i++) {
        json_t *o = json_array_get(a, i);
        char path[64];
        snprintf(path, sizeof path, "receipts[%zu].key", i);
        keys[i] = str_field(&b, o, "key", path, 1);
        snprintf(path, sizeof path, "receipts[%zu].status", i);
        const char *s = str_field(&b, o, "status", path, 1);
        status[i] = -1;
        for (int k = 1; s && k < 8; k++)
            if (strcmp(s, st[k]) == 0)
                status[i] = k;
        if (s && status[i] < 0)
            bad_field(&b, path, "is not a receipt status (delivered, opened, clicked, failed, ...)");
        json_t *t = json_object_get(o, "time");
        snprintf(path, sizeof path, "receipts[%zu].time", i);
        if (!json_is_integer(t))
            bad_field(&b, path, t ? "must be an integer (ms since the epoch)" : "is required");
        times[i] = json_integer_value(t);
    }
    if (!b.bad) {
        eng_receipts r = ENG_RECEIPTS_INIT;
        r.count = n, r.keys = keys, r.statuses = status, r.times = times;
        eng_event_report rep = ENG_EVENT_REPORT_INIT;
        int rc = eng_touch_append(app->engine, &r, &rep);
        if (rc)
            crm_engine_error(out, rc);
        else
            ok(out, 200, json_pack("{s:I, s:I, s:I}", "accepted", (json_int_t)rep.accepted, "duplicates",
                                   (json_int_t)rep.duplicates, "unmatched", (json_int_t)rep.unmatched));
    }
    free(keys), free(status), free(times);
    json_decref(b.root);
}

static void post_transactions(crm_app *app, const crm_request *rq, crm_reply *out)
{
    body b;
    if (parse(rq, out, &b))
        return;
    const char *org = str_field(&b, b.root, "org", "org", 1);
    json_t *a = json_object_get(b.root, "transactions");
    if (!b.bad && !json_is_array(a))
        bad_field(&b, "transactions", a ? "must be an array" : "is required");
    size_t n = json_is_array(a) ? json_array_size(a) : 0;
    const char **ids = calloc(n + 1, sizeof *ids), **cust = calloc(n + 1, sizeof *cust);
    eng_time *times = calloc(n + 1, sizeof *times);
    int64_t *amounts = calloc(n + 1, sizeof *amounts);
    for (size_t i = 0; ids && cust && times && amounts && i < n && !b.bad; i++) {
        json_t *o = json_array_get(a, i);
        char path[64];
        snprintf(path, sizeof path, "transactions[%zu].id", i);
        ids[i] = str_field(&b, o, "id", path, 1);
        snprintf(path, sizeof path, "transactions[%zu].customer", i);
        cust[i] = str_field(&b, o, "customer", path, 1);
        snprintf(path, sizeof path, "transactions[%zu].time", i);
        json_t *t = json_object_get(o, "time"), *am = json_object_get(o, "amount");
        if (!json_is_integer(t))
            bad_field(&b, path, t ? "must be an integer (ms since the epoch)" : "is required");
        times[i] = json_integer_value(t);
        snprintf(path, sizeof path, "transactions[%zu].amount", i);
        if (!json_is_integer(am)) /* minor units (cents): JSON numbers with fractions are not exact */
            bad_field(&b, path, am ? "must be an integer amount in minor units" : "is required");
        amounts[i] = json_integer_value(am) * 100; /* the library's amounts are 10^-4 units */
    }
    if (!b.bad) {
        eng_txn_batch t = ENG_TXN_BATCH_INIT;
        t.count = n, t.ids = ids, t.customers = cust, t.times = times, t.amounts = amounts;
        eng_event_report rep = ENG_EVENT_REPORT_INIT;
        int rc = eng_txn_append(app->engine, org, &t, NULL, &rep);
        if (rc)
            crm_engine_error(out, rc);
        else
            ok(out, 200, json_pack("{s:I, s:I}", "accepted", (json_int_t)rep.accepted, "duplicates",
                                   (json_int_t)rep.duplicates));
    }
    free(ids), free(cust), free(times), free(amounts);
    json_decref(b.root);
}

static void get_report(crm_app *app, const crm_request *rq, uint64_t campaign, crm_reply *out)
{
    eng_report *r;
    int rc = eng_campaign_report(app->engine, rq->actor, campaign, NULL, &r);
    if (rc) {
        crm_engine_error(out, rc);
        return;
    }
    char *text;
    size_t len;
    rc = eng_report_export(r, ENG_REPORT_JSON, &text, &len);
    eng_report_free(r);
    if (rc) {
        crm_engine_error(out, rc);
        return;
    }
    json_error_t err;
    json_t *j = json_loadb(text, len, 0, &err);
    eng_free(app->engine, text);
    if (j)
        ok(out, 200, j);
    else
        crm_error(out, 500, "bad_report", err.text, NULL);
}

static void post_clock(crm_app *app, const crm_request *rq, crm_reply *out)
{
    body b;
    if (parse(rq, out, &b))
        return;
    eng_time now = int_field(&b, b.root, "now", 1, 0);
    if (!b.bad) {
        __atomic_store_n(&app->clock_offset, now - crm_system_ms(), __ATOMIC_SEQ_CST);
        ok(out, 200, json_pack("{s:I}", "now", (json_int_t)now));
    }
    json_decref(b.root);
}

/* ---------------------------------------------------------------- router */

/* Match "/prefix/<id>/suffix"; returns 1 with *id set. */
static int route_id(const char *path, const char *prefix, const char *suffix, uint64_t *id)
{
    size_t pl = strlen(prefix);
    if (strncmp(path, prefix, pl) != 0)
        return 0;
    char *end;
    unsigned long long v = strtoull(path + pl, &end, 10);
    if (end == path + pl || strcmp(end, suffix) != 0)
        return 0;
    *id = v;
    return 1;
}

void crm_handle(crm_app *app, const crm_request *rq, crm_reply *out)
{
    int post = strcmp(rq->method, "POST") == 0, get = strcmp(rq->method, "GET") == 0;
    const char *p = rq->path;
    uint64_t id;
    if (!rq->actor && !(post && strcmp(p, "/orgs") == 0) && strcmp(p, "/outbox") && strcmp(p, "/clock")) {
        crm_error(out, 401, "no_actor", "the X-Actor header names the acting user", "X-Actor");
        return;
    }
    if (post && strcmp(p, "/orgs") == 0)
        post_org(app, rq, out);
    else if (post && strcmp(p, "/actors") == 0)
        post_actor(app, rq, out);
    else if (post && strcmp(p, "/customers") == 0)
        post_customers(app, rq, out);
    else if (post && strcmp(p, "/groups") == 0)
        post_group(app, rq, out);
    else if (post && strcmp(p, "/campaigns") == 0)
        post_campaign(app, rq, out);
    else if (post && route_id(p, "/campaigns/", "/messages", &id))
        post_message(app, rq, id, out);
    else if (get && route_id(p, "/campaigns/", "/report", &id))
        get_report(app, rq, id, out);
    else if (get && route_id(p, "/messages/", "", &id))
        get_message(app, rq, id, out);
    else if (post && route_id(p, "/messages/", "/submit", &id))
        post_submit(app, rq, id, out);
    else if (post && route_id(p, "/messages/", "/approve", &id))
        post_approve(app, rq, id, out);
    else if (post && strcmp(p, "/run") == 0)
        post_run(app, rq, out);
    else if (get && strcmp(p, "/outbox") == 0)
        get_outbox(app, out);
    else if (post && strcmp(p, "/receipts") == 0)
        post_receipts(app, rq, out);
    else if (post && strcmp(p, "/transactions") == 0)
        post_transactions(app, rq, out);
    else if (post && strcmp(p, "/clock") == 0)
        post_clock(app, rq, out);
    else
        crm_error(out, 404, "no_route", "no such endpoint", p);
}
