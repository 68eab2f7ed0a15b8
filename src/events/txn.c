/* Writing transactions: custom fields, the bulk append and the CSV import
 * (through the audience layer's CSV reader and import driver). Rows are
 * checked, deduplicated by id within the org, joined to the customer table
 * when the customer is known (kept with their external id otherwise) and
 * appended to the org's tail, all inside one storage batch. */
#include "events/ev_state.h"
#include "base/handle.h"
#include "audience/values.h"
#include "model/txn_schema.h"

#include <stdio.h>
#include <string.h>

static const char *const builtin[] = {"id", "customer", "time", "amount", "store", "items"};
enum { C_ID, C_CUSTOMER, C_TIME, C_AMOUNT, C_STORE, C_ITEMS, C_NBUILTIN };

static int valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > ENG__COLNAME_MAX || (s[0] >= '0' && s[0] <= '9'))
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
            return 0;
    }
    for (int i = 0; i < C_NBUILTIN; i++)
        if (strcmp(s, builtin[i]) == 0)
            return 0;
    return 1;
}

/* The transaction calls name their org directly (no acting user): an org
 * nobody created is refused, or a typo would store events no report reads.
 * An org that already has events state was checked when it got it. */
static int org_known(eng_engine *e, eng__ev *ev, const char *org, eng__evorg **out)
{
    int rc;
    if (eng__ev_org(ev, org, 0, out) == ENG_OK)
        return ENG_OK;
    return (rc = eng__org_exists(e, org)) ? rc : eng__ev_org(ev, org, 1, out);
}

static int field_index(const eng__evorg *o, const char *s, size_t n)
{
    for (uint32_t f = 0; f < o->nfields; f++)
        if (strlen(o->fname[f]) == n && memcmp(o->fname[f], s, n) == 0)
            return (int)f;
    return -1;
}

ENG_API int eng_txn_field_add(eng_engine *e, const char *org, const char *name, int type)
{
    int rc = eng__enter(e);
    if (rc)
        return rc;
    eng__ev *ev;
    eng__evorg *o;
    const eng__mem *mem = &e->mem;
    if (!org || !name)
        rc = eng__err(ENG_EINVAL, org ? "name" : "org", "argument is NULL");
    else if (!valid_name(name))
        rc = eng__err(ENG_EINVAL, "name",
                      "field name \"%.80s\" must be 1-64 of [A-Za-z0-9_], not start with a digit, and not be a "
                      "built-in column (id, customer, time, amount, store, items)", name);
    else if (type < ENG_COL_STRING || type > ENG_COL_BOOL)
        rc = eng__err(ENG_EINVAL, "type", "unknown field type %d", type);
    else if (!(rc = eng__ev_get(e, &ev)) && !(rc = org_known(e, ev, org, &o))) {
        if (field_index(o, name, strlen(name)) >= 0)
            rc = eng__err(ENG_EEXISTS, name, "transaction field %s already exists", name);
        else if (o->nfields >= ENG__MAX_COLS)
            rc = eng__err(ENG_ETOOBIG, name, "too many transaction fields");
        else if (!(rc = eng__kv_begin(e->store))) {
            void *fn = eng__realloc_array(mem, o->fname, o->nfields + 1, sizeof *o->fname);
            if (fn)
                o->fname = fn;
            void *ft = fn ? eng__realloc_array(mem, o->ftype, o->nfields + 1, 1) : NULL;
            if (ft)
                o->ftype = ft;
            if (!fn || !ft)
                rc = eng__nomem();
            else {
                snprintf(o->fname[o->nfields], sizeof o->fname[0], "%s", name);
                o->ftype[o->nfields++] = (uint8_t)type;
                o->dirty = 1;
                if (!(rc = eng__rcols_fields(&o->rtail, mem, o->nfields)))
                    rc = eng__ev_flush(ev);
            }
            rc = rc ? eng__ev_fail(e, rc) : eng__ev_commit(e);
        }
    }
    eng__leave(e);
    return rc;
}

int eng__txn_field(eng_engine *e, const char *org, const char *name, uint32_t *index, int *type)
{
    eng__ev *ev;
    eng__evorg *o;
    int rc = eng__ev_get(e, &ev);
    if (rc)
        return rc;
    if (!org || !name || eng__ev_org(ev, org, 0, &o))
        return ENG_ENOTFOUND;
    int f = field_index(o, name, strlen(name));
    if (f < 0)
        return ENG_ENOTFOUND;
    *index = (uint32_t)f;
    *type = o->ftype[f];
    return ENG_OK;
}

/* ---- one row ---- */

typedef struct span {
    const char *p;
    size_t n;
} span;

typedef struct txctx {
    eng_engine *e;
    eng__ev *ev;
    eng__evorg *o;
    eng__aud *a;
    eng_event_report *rep;
    /* the row being built */
    span id, cust, store;
    eng_time time;
    int64_t amount;
    span *items;
    size_t nitems, itemcap;
    int64_t *fv;
    uint8_t *fset;
    /* CSV: what each column is (C_* or C_NBUILTIN + field), and where each built-in
     * column is (1-based; 0: absent), so that add_row's errors name the file's column */
    uint32_t ncols;
    uint32_t bpos[C_NBUILTIN];
    int colkind[ENG__CSV_MAX_FIELDS];
} txctx;

static int push_item(txctx *x, const char *p, size_t n)
{
    if (x->nitems + 1 > x->itemcap &&
        eng__grow(&x->e->mem, (void **)&x->items, &x->itemcap, x->nitems + 1, sizeof *x->items))
        return eng__nomem();
    x->items[x->nitems].p = p;
    x->items[x->nitems++].n = n;
    return ENG_OK;
}

/* A field's text to its stored value (strings are interned in the org's dictionary). */
static int parse_field(txctx *x, uint32_t f, const char *s, size_t n, const char **why)
{
    int64_t v = 0;
    int rc, b;
    uint32_t code;
    switch (x->o->ftype[f]) {
    case ENG_COL_STRING:
        if (n > ENG__STR_MAX) {
            *why = "longer than 4096 bytes";
            return ENG_ETOOBIG;
        }
        if ((rc = eng__val_utf8(s, n, why)))
            return rc;
        if ((rc = eng__dict_intern(&x->o->fstr, s, n, &code)))
            return rc;
        v = code;
        break;
    case ENG_COL_INT64: rc = eng__val_int64(s, n, &v, why); break;
    case ENG_COL_DECIMAL: rc = eng__val_decimal(s, n, &v, why); break;
    case ENG_COL_DATE: rc = eng__val_date(s, n, &v, why); break;
    default:
        rc = eng__val_bool(s, n, &b, why);
        v = b;
        break;
    }
    if (rc)
        return rc;
    x->fv[f] = v;
    x->fset[f] = 1;
    return ENG_OK;
}

static int bad(eng__rowerr *err, uint32_t col, int code, const char *why)
{
    err->col = col;
    err->code = code;
    err->why = why;
    return 1;
}

/* Check and append the row in x; 0, 1 (bad row, err filled) or a fatal code. */
static int add_row(txctx *x, eng__rowerr *err)
{
    const char *why;
    if (x->id.n == 0 || x->id.n > ENG__ID_MAX || eng__val_utf8(x->id.p, x->id.n, &why))
        return bad(err, C_ID + 1, ENG_EINVAL, "the id must be 1..255 bytes of UTF-8");
    if (x->cust.n == 0 || x->cust.n > ENG__ID_MAX || eng__val_utf8(x->cust.p, x->cust.n, &why))
        return bad(err, C_CUSTOMER + 1, ENG_EINVAL, "the customer must be 1..255 bytes of UTF-8");
    if (x->store.n > ENG__ID_MAX || (x->store.n && eng__val_utf8(x->store.p, x->store.n, &why)))
        return bad(err, C_STORE + 1, ENG_EINVAL, "the store must be at most 255 bytes of UTF-8");
    if (x->nitems > ENG__TXN_MAX_ITEMS)
        return bad(err, C_ITEMS + 1, ENG_ETOOBIG, "more than 1024 items");
    for (size_t k = 0; k < x->nitems; k++)
        if (x->items[k].n == 0 || x->items[k].n > ENG__ID_MAX || eng__val_utf8(x->items[k].p, x->items[k].n, &why))
            return bad(err, C_ITEMS + 1, ENG_EINVAL, "an item SKU must be 1..255 bytes of UTF-8");
    const eng__mem *mem = &x->e->mem;
    eng__evorg *o = x->o;
    int dup, rc = eng__txid_add(o, mem, x->id.p, x->id.n, &dup);
    if (rc)
        return rc;
    if (dup) {
        x->rep->duplicates++;
        return 0;
    }
    uint32_t cust;
    int unknown = eng__customer_find(&x->a->t, x->cust.p, x->cust.n, &cust) != ENG_OK;
    eng__rcols *t = &o->rtail;
    if (t->n >= eng__seg_seal_rows && (rc = eng__rtail_seal(x->ev, o)))
        return rc;
    if ((rc = eng__rcols_reserve(t, mem, 1, x->nitems, x->id.n + (unknown ? x->cust.n : 0))))
        return rc;
    uint32_t store = 0, code;
    if (x->store.n) {
        if ((rc = eng__dict_intern(&o->store, x->store.p, x->store.n, &code)))
            return rc;
        store = code + 1;
    }
    for (size_t k = 0; k < x->nitems; k++) {
        if ((rc = eng__dict_intern(&o->sku, x->items[k].p, x->items[k].n, &code)))
            return rc;
        t->items[t->nitems + k] = code;
    }
    size_t r = t->n;
    t->customer[r] = unknown ? ENG__NO_CUSTOMER : cust;
    t->store[r] = store;
    t->time[r] = x->time;
    t->amount[r] = x->amount;
    t->nitems += x->nitems;
    t->item_off[r + 1] = (uint32_t)t->nitems;
    t->id_off[r] = (uint32_t)t->slen;
    memcpy(t->str + t->slen, x->id.p, x->id.n);
    t->slen += x->id.n;
    t->ext_off[r] = (uint32_t)t->slen;
    if (unknown) {
        memcpy(t->str + t->slen, x->cust.p, x->cust.n);
        t->slen += x->cust.n;
    }
    t->id_off[r + 1] = (uint32_t)t->slen;
    for (uint32_t f = 0; f < o->nfields; f++) {
        t->field[f][r] = x->fset[f] ? x->fv[f] : 0;
        if (x->fset[f])
            t->present[f][r >> 6] |= 1ull << (r & 63);
        else
            t->present[f][r >> 6] &= ~(1ull << (r & 63));
    }
    t->n++;
    x->rep->accepted++;
    x->rep->unknown_customers += (uint64_t)unknown;
    return 0;
}

static int ctx_start(txctx *x, eng_engine *e, const char *org, eng_event_report *rep)
{
    memset(x, 0, offsetof(txctx, colkind));
    x->e = e;
    x->rep = rep;
    int rc;
    if (!org)
        return eng__err(ENG_EINVAL, "org", "org is NULL");
    if ((rc = eng__ev_get(e, &x->ev)) || (rc = org_known(e, x->ev, org, &x->o)) || (rc = eng__aud_get(e, org, &x->a)))
        return rc;
    size_t nf = x->o->nfields ? x->o->nfields : 1;
    x->fv = eng__calloc(&e->mem, nf, sizeof *x->fv);
    x->fset = eng__calloc(&e->mem, nf, 1);
    if (!x->fv || !x->fset)
        return eng__nomem();
    return eng__rcols_fields(&x->o->rtail, &e->mem, x->o->nfields);
}

static void ctx_free(txctx *x)
{
    eng__free(&x->e->mem, x->items);
    eng__free(&x->e->mem, x->fv);
    eng__free(&x->e->mem, x->fset);
}

static void row_reset(txctx *x)
{
    x->id.n = x->cust.n = x->store.n = 0;
    x->nitems = 0;
    x->time = 0;
    x->amount = 0;
    if (x->o)
        memset(x->fset, 0, x->o->nfields);
}

/* ---- bulk append ---- */

static int bulk_bad(const eng_import_options *o, eng_event_report *rep, size_t row, uint32_t col, int code,
                    const char *why)
{
    static const char *const names[] = {"id", "customer", "time", "amount", "store", "items"};
    const char *field = col >= 1 && col <= C_NBUILTIN ? names[col - 1] : col ? "field" : "";
    rep->bad_rows++;
    if (o->error_fn) {
        eng_import_error ie = {row + 1, col, field, code, why};
        eng__callback_begin();
        o->error_fn(&ie, o->error_user);
        eng__callback_end();
    }
    if (o->on_error == ENG_IMPORT_SKIP_ROWS && rep->bad_rows <= o->max_bad_rows)
        return ENG_OK;
    char det[64];
    snprintf(det, sizeof det, "%zu:%u", row + 1, col);
    return eng__err(code, det, "row %zu, column %u (%s): %s; nothing was stored", row + 1, col, field, why);
}

static int bulk(txctx *x, const eng_txn_batch *b, const eng_import_options *o)
{
    int fmap[ENG__MAX_COLS];
    for (size_t k = 0; k < b->nfields; k++) {
        const char *n = b->field_names[k];
        fmap[k] = n ? field_index(x->o, n, strlen(n)) : -1;
        if (fmap[k] < 0) {
            char det[48];
            snprintf(det, sizeof det, "batch.field_names[%zu]", k);
            return eng__err(ENG_EINVAL, det, "%s", n ? "not a declared transaction field" : "field name is NULL");
        }
    }
    const char *const *items = b->items;
    int rc = ENG_OK;
    x->rep->rows = b->count;
    for (size_t i = 0; i < b->count && !rc; i++) {
        row_reset(x);
        eng__rowerr err = {0, 0, ""};
        int r = 0;
        x->id.p = b->ids[i];
        x->id.n = b->ids[i] ? strlen(b->ids[i]) : 0;
        x->cust.p = b->customers[i];
        x->cust.n = b->customers[i] ? strlen(b->customers[i]) : 0;
        x->time = b->times[i];
        x->amount = b->amounts[i];
        if (b->stores && b->stores[i]) {
            x->store.p = b->stores[i];
            x->store.n = strlen(b->stores[i]);
        }
        uint32_t ni = b->item_counts ? b->item_counts[i] : 0;
        for (uint32_t k = 0; k < ni && !rc; k++, items++)
            rc = *items ? push_item(x, *items, strlen(*items)) : push_item(x, "", 0);
        if (rc)
            break;
        for (size_t k = 0; k < b->nfields && !r; k++) {
            const char *v = b->field_values[i * b->nfields + k], *why = "";
            int prc;
            if (v && (prc = parse_field(x, (uint32_t)fmap[k], v, strlen(v), &why))) {
                if (prc == ENG_ENOMEM)
                    rc = prc;
                else
                    r = bad(&err, (uint32_t)(C_NBUILTIN + 1 + k), prc, why);
            }
        }
        if (!rc && !r)
            r = add_row(x, &err);
        if (r < 0)
            rc = r;
        else if (r == 1)
            rc = bulk_bad(o, x->rep, i, err.col, err.code, err.why);
    }
    return rc;
}

static int check_batch(const eng_txn_batch *b)
{
    if (!b)
        return eng__err(ENG_EINVAL, "batch", "batch is NULL");
    if (b->version != ENG_TXN_BATCH_VERSION)
        return eng__err(ENG_EVERSION, "batch.version", "unknown transaction batch version %u", b->version);
    if (b->count && (!b->ids || !b->customers || !b->times || !b->amounts))
        return eng__err(ENG_EINVAL, "batch", "ids, customers, times and amounts are required");
    if (b->count && b->item_counts && !b->items) {
        size_t total = 0;
        for (size_t i = 0; i < b->count; i++)
            total += b->item_counts[i];
        if (total)
            return eng__err(ENG_EINVAL, "batch.items", "item_counts given without items");
    }
    if (b->nfields && (!b->field_names || (b->count && !b->field_values)))
        return eng__err(ENG_EINVAL, "batch.field_names", "field names and values are required");
    if (b->nfields > ENG__MAX_COLS)
        return eng__err(ENG_ETOOBIG, "batch.nfields", "at most %d fields", ENG__MAX_COLS);
    return ENG_OK;
}

ENG_API int eng_txn_append(eng_engine *e, const char *org, const eng_txn_batch *batch, const eng_import_options *opts,
                           eng_event_report *report)
{
    eng__out_clear(report, ENG__SIZES(sizeof *report));
    int rc = eng__enter(e);
    if (rc)
        return rc;
    eng_event_report tmp, *rep = &tmp;
    eng_import_options o;
    txctx *x = NULL;
    if (!(rc = eng__ev_report_start(report, &tmp, &rep)) && !(rc = eng__import_opts(opts, &o)) &&
        !(rc = check_batch(batch)) && !(rc = eng__kv_begin(e->store))) {
        if (!(x = eng__malloc(&e->mem, sizeof *x)))
            rc = eng__nomem();
        else if (!(rc = ctx_start(x, e, org, rep)) && !(rc = bulk(x, batch, &o)))
            rc = eng__ev_flush(x->ev);
        if (x)
            ctx_free(x);
        eng__free(&e->mem, x);
        rc = rc ? eng__ev_fail(e, rc) : eng__ev_commit(e);
        if (rc)
            rep->accepted = rep->duplicates = rep->unknown_customers = 0;
        eng__log(e, ENG_LOG_DEBUG, "transactions appended: org %s: %llu given, %llu new, %llu duplicates", org,
                 (unsigned long long)batch->count, (unsigned long long)rep->accepted,
                 (unsigned long long)rep->duplicates);
    }
    eng__leave(e);
    return rc;
}

ENG_API int eng_txn_batch_init(eng_txn_batch *b, unsigned int version)
{
    if (!b)
        return eng__err(ENG_EINVAL, "batch", "batch is NULL");
    if (version != ENG_TXN_BATCH_VERSION)
        return eng__err(ENG_EVERSION, "version", "unknown transaction batch version %u", version);
    eng_txn_batch def = ENG_TXN_BATCH_INIT;
    *b = def;
    return ENG_OK;
}

/* ---- CSV ---- */

static int csv_hdr(void *ctx, const eng__csv *c, eng__rowerr *err)
{
    txctx *x = ctx;
    int seen[C_NBUILTIN] = {0};
    x->ncols = c->nf;
    memset(x->bpos, 0, sizeof x->bpos);
    for (uint32_t i = 0; i < c->nf; i++) {
        const char *s = c->base + c->start[i];
        size_t n = c->flen[i];
        int k = -1;
        for (int b = 0; b < C_NBUILTIN; b++)
            if (strlen(builtin[b]) == n && memcmp(builtin[b], s, n) == 0)
                k = b;
        if (k >= 0) {
            if (seen[k]++)
                return bad(err, i + 1, ENG_EPARSE, "repeated column");
            x->colkind[i] = k;
            x->bpos[k] = i + 1;
            continue;
        }
        int f = field_index(x->o, s, n);
        if (f < 0)
            return bad(err, i + 1, ENG_EPARSE,
                       "unknown column (id, customer, time, amount, store, items or a declared field)");
        for (uint32_t j = 0; j < i; j++)
            if (x->colkind[j] == C_NBUILTIN + f)
                return bad(err, i + 1, ENG_EPARSE, "repeated column");
        x->colkind[i] = C_NBUILTIN + f;
    }
    for (int b = C_ID; b <= C_AMOUNT; b++)
        if (!seen[b])
            return bad(err, 0, ENG_EPARSE, "the header needs id, customer, time and amount");
    return 0;
}

static int parse_time(const char *s, size_t n, eng_time *out, const char **why)
{
    size_t k = n && s[0] == '-' ? 1 : 0;
    while (k < n && s[k] >= '0' && s[k] <= '9')
        k++;
    if (n && k == n)
        return eng__val_int64(s, n, out, why); /* ms since the epoch */
    return eng__val_date(s, n, out, why);
}

static int csv_row(void *ctx, const eng__csv *c, uint64_t line, eng__rowerr *err)
{
    txctx *x = ctx;
    (void)line;
    row_reset(x);
    for (uint32_t i = 0; i < c->nf; i++) {
        const char *s = c->base + c->start[i], *why = "";
        size_t n = c->flen[i];
        int rc = 0;
        switch (x->colkind[i]) {
        case C_ID: x->id.p = s, x->id.n = n; break;
        case C_CUSTOMER: x->cust.p = s, x->cust.n = n; break;
        case C_STORE: x->store.p = s, x->store.n = n; break;
        case C_TIME: rc = parse_time(s, n, &x->time, &why); break;
        case C_AMOUNT: rc = eng__val_decimal(s, n, &x->amount, &why); break;
        case C_ITEMS:
            for (size_t a = 0, b = 0; n && b <= n && !rc; b++)
                if (b == n || s[b] == '|') {
                    rc = push_item(x, s + a, b - a);
                    a = b + 1;
                }
            if (rc)
                return rc;
            break;
        default:
            if (n && (rc = parse_field(x, (uint32_t)(x->colkind[i] - C_NBUILTIN), s, n, &why)) == ENG_ENOMEM)
                return rc;
            break;
        }
        if (rc)
            return bad(err, i + 1, rc, why);
    }
    int r = add_row(x, err);
    /* add_row numbers the built-in columns as a batch orders them; the file may not */
    if (r == 1 && err->col >= 1 && err->col <= C_NBUILTIN && x->bpos[err->col - 1])
        err->col = x->bpos[err->col - 1];
    return r;
}

static int import_csv(eng_engine *e, const char *org, eng_read_fn read, void *user, const eng_import_options *opts,
                      eng_event_report *report)
{
    eng_event_report tmp, *rep = &tmp;
    eng_import_options o;
    int rc = eng__ev_report_start(report, &tmp, &rep);
    if (rc || (rc = eng__import_opts(opts, &o)) || (rc = eng__kv_begin(e->store)))
        return rc;
    txctx *x = eng__malloc(&e->mem, sizeof *x);
    eng__csv c;
    int csv_ok = 0;
    eng_import_report ir = ENG_IMPORT_REPORT_INIT;
    if (!x)
        rc = eng__nomem();
    else if (!(rc = ctx_start(x, e, org, rep)) && !(rc = eng__csv_init(&c, &e->mem, read, user, o.max_field_bytes))) {
        csv_ok = 1;
        rc = eng__import_drive(e, "events.txn_import", &c, csv_hdr, csv_row, NULL, x, &o, &ir);
        if (!rc)
            rc = eng__ev_flush(x->ev);
    }
    rep->rows = ir.rows;
    rep->bad_rows = ir.bad_rows;
    rep->bytes = ir.bytes;
    if (csv_ok)
        eng__csv_free(&c);
    if (x)
        ctx_free(x);
    eng__free(&e->mem, x);
    rc = rc ? eng__ev_fail(e, rc) : eng__ev_commit(e);
    if (rc)
        rep->accepted = rep->duplicates = rep->unknown_customers = 0;
    eng__log_import(e, "transaction import", org, rc, rep->rows, rep->accepted, "duplicates", rep->duplicates,
                    rep->bad_rows);
    return rc;
}

ENG_API int eng_txn_import_csv(eng_engine *e, const char *org, eng_read_fn read, void *user,
                               const eng_import_options *opts, eng_event_report *report)
{
    eng__out_clear(report, ENG__SIZES(sizeof *report));
    int rc = eng__enter(e);
    if (rc)
        return rc;
    if (!read)
        rc = eng__err(ENG_EINVAL, "read", "read callback is NULL");
    else
        rc = import_csv(e, org, read, user, opts, report);
    eng__leave(e);
    return rc;
}

ENG_API int eng_txn_import_csv_buffer(eng_engine *e, const char *org, const char *data, size_t len,
                                      const eng_import_options *opts, eng_event_report *report)
{
    eng__out_clear(report, ENG__SIZES(sizeof *report));
    int rc = eng__enter(e);
    if (rc)
        return rc;
    eng__memsrc src = {data, len, 0};
    if (!data && len)
        rc = eng__err(ENG_EINVAL, "data", "data is NULL");
    else
        rc = import_csv(e, org, eng__memsrc_read, &src, opts, report);
    eng__leave(e);
    return rc;
}

/* ---- the model's goal conditions see the org's custom fields ---- */

static eng_rule_type rule_type_of(int t)
{
    switch (t) {
    case ENG_COL_STRING: return ENG_RT_STRING;
    case ENG_COL_INT64: return ENG_RT_INT;
    case ENG_COL_DECIMAL: return ENG_RT_DECIMAL;
    case ENG_COL_DATE: return ENG_RT_DATE;
    default: return ENG_RT_BOOL;
    }
}

/* Inside eng__enter: the declared fields of @p org as rule fields, then its customers'
 * attributes whose names are not taken (the report from the stores joins them on:
 * measure/goalcols.c); names borrowed from the events and audience states. */
static int txn_fields(eng_engine *e, const char *org, eng_rule_field *out, size_t cap, size_t *n)
{
    eng__ev *ev;
    eng__evorg *o;
    eng__aud *a;
    *n = 0;
    int rc = eng__ev_get(e, &ev);
    if (rc)
        return rc;
    if (eng__ev_org(ev, org, 0, &o) == ENG_OK)
        for (uint32_t f = 0; f < o->nfields && *n < cap; f++) {
            out[*n].name = o->fname[f];
            out[*n].type = rule_type_of(o->ftype[f]);
            out[*n].scale = o->ftype[f] == ENG_COL_DECIMAL ? 4 : 0;
            (*n)++;
        }
    /* A customer table that cannot be read is the answer: without its attributes a goal naming
     * one would be judged "unknown field" (a validation failure) during a storage outage. */
    if ((rc = eng__aud_get(e, org, &a)))
        return rc;
    static const char *const goal_builtin[] = {"amount", "store", "items", "time"};
    for (uint32_t i = 0; i < a->t.ncols && *n < cap; i++) {
        const char *name = a->t.cols[i].name;
        int taken = 0;
        for (size_t k = 0; k < sizeof goal_builtin / sizeof *goal_builtin && !taken; k++)
            taken = strcmp(goal_builtin[k], name) == 0;
        for (size_t k = 0; k < *n && !taken; k++)
            taken = strcmp(out[k].name, name) == 0;
        if (taken)
            continue;
        out[*n].name = name;
        out[*n].type = rule_type_of(a->t.cols[i].type);
        out[*n].scale = a->t.cols[i].type == ENG_COL_DECIMAL ? 4 : 0;
        (*n)++;
    }
    return ENG_OK;
}

/* The model sits below this layer and cannot include it: it declares the
 * hook (model/txn_schema.h) and this layer, which holds eng_txn_field_add(),
 * the only way to declare a field, defines it. */
const eng__txn_fields_fn eng__txn_fields_provider = txn_fields;
