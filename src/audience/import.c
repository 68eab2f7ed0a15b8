/* The import driver (header, rows, error mode, progress) and the customer
 * import on top of it: validate every row into delta parts, write them in one
 * batch, then replay them into the table. */
#include "audience/import_impl.h"
#include "audience/import_field.h"
#include "base/handle.h"
#include "audience/values.h"
#include "base/codec.h"

#include <stdio.h>
#include <string.h>

/* Rows per stored part. A part is written to the store's batch as soon as
 * it is complete, while it is still in cache (the checksum and the store's
 * copy then cost little); about 0.7 MB at 90 bytes a row. */
uint32_t eng__aud_part_rows = 8192; /* rows per stored delta part; tests lower it */
unsigned eng__aud_delta_write_v = ENG__DELTA_V;
/* Imports whose parts went through the applier's thread (tests check the path was taken). */
uint64_t eng__aud_applier_runs;
/* Imports that sized the table from the input's size or hint (tests check the path was taken). */
uint64_t eng__aud_sized_runs;

int eng__import_opts(const eng_import_options *in, eng_import_options *out)
{
    eng_import_options def = ENG_IMPORT_OPTIONS_INIT;
    if (!in) {
        *out = def;
        return ENG_OK;
    }
    if (in->version == 0 || in->version > ENG_IMPORT_OPTIONS_VERSION)
        return eng__err(ENG_EVERSION, "options.version", "unknown import options version %u", in->version);
    if (in->on_error != ENG_IMPORT_REJECT_FILE && in->on_error != ENG_IMPORT_SKIP_ROWS)
        return eng__err(ENG_EINVAL, "options.on_error", "unknown error mode %d", in->on_error);
    if (in->max_field_bytes == 0 || in->max_field_bytes > 65536)
        return eng__err(ENG_EINVAL, "options.max_field_bytes", "max_field_bytes must be 1..65536");
    /* Only the fields of the caller's version are read: a version 1 struct ends before size_hint. */
    *out = def;
    memcpy(out, in, in->version == 1 ? ENG__UPTO(eng_import_options, error_user) : sizeof *out);
    return ENG_OK;
}

ENG_API int eng_import_report_init(eng_import_report *x, unsigned int version)
{
    static const eng_import_report init = ENG_IMPORT_REPORT_INIT;
    return eng__struct_init(x, &init, ENG__SIZES(sizeof init), version, "eng_import_report");
}

ENG_API int eng_import_options_init(eng_import_options *opts, unsigned int version)
{
    static const eng_import_options init = ENG_IMPORT_OPTIONS_INIT;
    return eng__struct_init(opts, &init, ENG__SIZES(ENG__UPTO(eng_import_options, error_user), sizeof init), version,
                            "eng_import_options");
}

int eng__report_start(eng_import_report *in, eng_import_report *tmp, eng_import_report **out)
{
    *tmp = (eng_import_report)ENG_IMPORT_REPORT_INIT;
    *out = in ? in : tmp;
    return in ? eng__out_open(in, ENG__SIZES(sizeof *in), "eng_import_report", "report") : ENG_OK;
}

int eng__bad_row(eng__drv *d, uint64_t line, uint32_t col, int code, const char *why)
{
    d->rep->bad_rows++;
    const char *field = col >= 1 && col <= d->nh ? d->hnames[col - 1] : "";
    if (d->o->error_fn) {
        eng_import_error ie = {line, col, field, code, why};
        eng__callback_begin();
        d->o->error_fn(&ie, d->o->error_user);
        eng__callback_end();
    }
    if (d->o->on_error == ENG_IMPORT_REJECT_FILE || d->rep->bad_rows > d->o->max_bad_rows) {
        const char *verb = d->verb ? d->verb : "imported";
        char det[64];
        snprintf(det, sizeof det, "%llu:%u", (unsigned long long)line, col);
        if (d->o->on_error == ENG_IMPORT_REJECT_FILE)
            return eng__err(code, det, "line %llu, column %u%s%s%s: %s; nothing was %s", (unsigned long long)line,
                            col, *field ? " (" : "", field, *field ? ")" : "", why, verb);
        return eng__err(code, det, "line %llu, column %u%s%s%s: %s; more than %llu bad rows, nothing was %s",
                        (unsigned long long)line, col, *field ? " (" : "", field, *field ? ")" : "", why,
                        (unsigned long long)d->o->max_bad_rows, verb);
    }
    return ENG_OK;
}

int eng__drive_header(eng__drv *d, eng__csv *c, eng__hdr_fn hdr, void *ctx, int rc, int got)
{
    eng__rowerr err = {0, 0, ""};
    if (rc == ENG_EPARSE || rc == ENG_ETOOBIG) {
        char det[64];
        snprintf(det, sizeof det, "%llu:%u", (unsigned long long)c->e_line, c->e_col);
        return eng__err(rc, det, "header, line %llu, column %u: %s", (unsigned long long)c->e_line, c->e_col, c->e_why);
    }
    if (rc)
        return rc;
    if (!got)
        return eng__err(ENG_EPARSE, "1:0", "the input is empty (a header row is required)");
    d->nh = c->nf;
    d->hnames = eng__calloc(d->mem, c->nf, sizeof *d->hnames);
    if (!d->hnames)
        return eng__nomem();
    for (uint32_t i = 0; i < c->nf; i++) {
        size_t l = c->flen[i] < ENG__COLNAME_MAX ? c->flen[i] : ENG__COLNAME_MAX;
        memcpy(d->hnames[i], c->base + c->start[i], l);
    }
    rc = hdr(ctx, c, &err);
    if (rc == 1) {
        char det[64];
        snprintf(det, sizeof det, "1:%u", err.col);
        rc = eng__err(err.code, det, "header, column %u: %s", err.col, err.why);
    }
    return rc;
}

int eng__drive_rows(eng__drv *d, eng__csv *c, eng__row_fn row, eng__blk_fn blk, void *ctx, eng__prog *pg,
                    uint64_t base)
{
    eng_import_report *rep = d->rep;
    eng__rowerr err = {0, 0, ""};
    int got, rc;
    for (;;) {
        uint64_t n = 0;
        if (blk && (rc = blk(ctx, c, &n)))
            return rc;
        if (n) {
            rep->rows += n;
            ENG__WORK(n);
            if ((rc = eng__prog_batch(pg, base + c->bytes))) /* a block is many rows: read the clock */
                return rc;
            continue;
        }
        rc = eng__csv_next(c, &got);
        if (rc == ENG_EPARSE || rc == ENG_ETOOBIG) {
            rep->rows++;
            if ((rc = eng__bad_row(d, c->e_line, c->e_col, rc, c->e_why)))
                return rc;
            continue;
        }
        if (rc || !got)
            return rc;
        rep->rows++;
        if (c->nf != d->nh) {
            char why[96];
            snprintf(why, sizeof why, "expected %u fields, found %u", d->nh, c->nf);
            /* the message is copied by eng__err before `why` goes away */
            if ((rc = eng__bad_row(d, c->rec_line, 0, ENG_EPARSE, why)))
                return rc;
            continue;
        }
        rc = row(ctx, c, c->rec_line, &err);
        if (rc == 1) {
            if ((rc = eng__bad_row(d, c->rec_line, err.col, err.code, err.why)))
                return rc;
        } else if (rc) {
            return rc;
        }
        ENG__WORK(1);
        if ((rc = eng__prog_step(pg, base + c->bytes)))
            return rc;
    }
}

int eng__import_drive(eng_engine *e, const char *op, eng__csv *c, eng__hdr_fn hdr, eng__row_fn row, eng__blk_fn blk,
                      void *ctx, const eng_import_options *o, eng_import_report *rep)
{
    eng__drv d = {o, rep, &e->mem, NULL, 0, NULL};
    if (strncmp(op, "privacy.", 8) == 0)
        d.verb = "erased"; /* an erasure CSV's errors say what did not happen */
    eng__prog pg;
    int got, rc = eng__prog_start(&pg, e, op, c->read == eng__memsrc_read ? ((const eng__memsrc *)c->user)->n : 0);
    if (!rc) {
        rc = eng__csv_next(c, &got);
        rc = eng__drive_header(&d, c, hdr, ctx, rc, got);
    }
    if (!rc)
        rc = eng__drive_rows(&d, c, row, blk, ctx, &pg, 0);
    if (!rc)
        rc = eng__prog_end(&pg);
    rep->bytes = c->bytes;
    eng__free(&e->mem, d.hnames);
    return rc;
}

/* ---- customer import ---- */

static int chan_of(const char *s, size_t n)
{
    for (int ch = 0; ch < ENG_CH_COUNT; ch++) {
        const char *nm = eng_channel_name(ch);
        if (strlen(nm) == n && memcmp(nm, s, n) == 0)
            return ch;
    }
    return -1;
}

static int prefixed(const char *s, size_t n, const char *p)
{
    size_t l = strlen(p);
    return n > l && memcmp(s, p, l) == 0;
}

static int cimp_hdr(void *ctx, const eng__csv *c, eng__rowerr *err)
{
    cimp *ci = ctx;
    uint32_t nslot = 0; /* the same order as delta.c: the part's STRING columns, first come */
    ci->ncols = c->nf;
    for (uint32_t i = 0; i < c->nf; i++) {
        const char *s = c->base + c->start[i];
        size_t n = c->flen[i];
        col_map *m = &ci->map[i];
        err->col = i + 1;
        err->code = ENG_EINVAL;
        if (i == 0) {
            if (n != 2 || memcmp(s, "id", 2)) {
                err->why = "the first column must be \"id\"";
                return 1;
            }
            m->kind = 0;
            continue;
        }
        int ch = -1, col;
        m->type = 0;
        if (prefixed(s, n, "contact.") && (ch = chan_of(s + 8, n - 8)) >= 0) {
            m->kind = ENG__DK_CONTACT;
            m->type = (uint8_t)eng__val_is_phone(ch); /* 1: a phone channel */
        }
        else if (prefixed(s, n, "consent.") && (ch = chan_of(s + 8, n - 8)) >= 0)
            m->kind = ENG__DK_CONSENT;
        else if (prefixed(s, n, "optout.") && (ch = chan_of(s + 7, n - 7)) >= 0)
            m->kind = ENG__DK_OPTOUT;
        else if (n == 10 && memcmp(s, "suppressed", 10) == 0)
            m->kind = ENG__DK_SUPP;
        else if ((col = eng__table_col_index(&ci->a->t, s, n)) >= 0) {
            m->kind = ENG__DK_ATTR;
            m->type = (uint8_t)ci->a->t.cols[col].type;
            ch = col;
        } else {
            err->code = ENG_ENOTFOUND;
            err->why = "unknown column (declare it with eng_customers_add_column, or use "
                       "contact./consent./optout.<channel> or suppressed)";
            return 1;
        }
        m->idx = ch < 0 ? 0 : (uint32_t)ch;
        ci->scol[i] = NO_SLOT;
        if (m->kind == ENG__DK_ATTR && m->type == ENG_COL_STRING && nslot < ENG__DSLOT_COLS)
            ci->scol[i] = (uint8_t)nslot++;
        if (m->kind == ENG__DK_CONSENT || m->kind == ENG__DK_OPTOUT)
            ci->consent_cols = 1;
        for (uint32_t k = 1; k < i; k++)
            if (ci->map[k].kind == m->kind && ci->map[k].idx == m->idx) {
                err->why = "duplicate column";
                return 1;
            }
    }
    ci->nslot = nslot;
    return 0;
}

/* The index hash of each string id of a part (blobs, as the ids writer holds
 * them), after the record: the applier then only probes the id index. The
 * hashes are only read back within this import (see eng__cimp_rec_len). */
static void put_id_hashes(eng__wr *w, const uint8_t *ids, size_t n, uint64_t rows)
{
    if (eng__wr_reserve(w, 4 * rows))
        return;
    eng__rd r;
    eng__rd_init(&r, ids, n);
    uint8_t *o = w->data + w->len;
    for (uint64_t k = 0; k < rows; k++) {
        const uint8_t *b = r.p, *id = b + 1; /* an id's length is one varint byte below 128 */
        size_t l = b < r.end ? b[0] : 0;
        if (b < r.end && l < 0x80 && (size_t)(r.end - id) >= l)
            r.p = id + l;
        else if (!(id = eng__rd_blob(&r, &l)))
            l = 0;
        uint32_t h = eng__dict_hash((const char *)id, l);
        memcpy(o + 4 * k, &h, 4);
    }
    w->len += 4 * rows;
}

/* A part: header (columns, id kind), row count, all ids, then all values.
 * It is framed in place (record header room first) in a buffer reused for
 * every part and not kept: the replay reads the parts back from the store,
 * so the import holds one copy of its delta (the store's), not two. */
int eng__cimp_flush(cpar *p)
{
    cimp *ci = p->ci;
    if (p->part.err || p->ids.err)
        return eng__nomem();
    if (p->part_rows == 0)
        return ENG_OK;
    eng__wr *w = &p->rec;
    int bycol = eng__aud_delta_write_v >= 3;
    size_t vlen = p->part.len;
    for (uint32_t i = 1; bycol && i < ci->ncols; i++)
        vlen += p->colw[i].len;
    w->len = 0;
    if (eng__wr_reserve(w, ENG__REC_HEADER + vlen + p->ids.len + 64 + 26u * ci->ncols +
                               (ci->id_hashes ? 4 * p->part_rows : 0)))
        return eng__nomem();
    w->len = ENG__REC_HEADER;
    eng__wr_uvar(w, ci->ncols - 1);
    for (uint32_t i = 1; i < ci->ncols; i++) {
        eng__wr_u8(w, ci->map[i].kind);
        eng__wr_uvar(w, ci->map[i].idx);
    }
    eng__wr_u8(w, (uint8_t)ci->a->t.idkind);
    eng__wr_svar(w, ci->now);
    eng__wr_uvar(w, p->part_rows);
    eng__wr_bytes(w, p->ids.data, p->ids.len);
    if (bycol) {
        for (uint32_t i = 1; i < ci->ncols; i++) {
            eng__wr_uvar(w, p->colw[i].len);
            eng__wr_bytes(w, p->colw[i].data, p->colw[i].len);
        }
    } else {
        eng__wr_bytes(w, p->part.data, p->part.len);
    }
    if (ci->id_hashes && !w->err)
        put_id_hashes(w, p->ids.data, p->ids.len, p->part_rows);
    if (w->err)
        return eng__nomem();
    uint32_t rows = (uint32_t)p->part_rows;
    eng__cimp_reset(p);
    return p->out ? eng__par_emit(p->out, w, rows, &ci->e->mem) : eng__cimp_store(ci, w, rows);
}

void eng__cimp_reset(cpar *p)
{
    p->part_rows = 0;
    p->part.len = 0;
    p->ids.len = 0;
    for (uint32_t i = 0; i < p->ncolw; i++)
        p->colw[i].len = 0;
    p->colroom = 0;
    memset(p->slot, 0, sizeof p->slot); /* slots are per part */
}

/* Before the applier starts on an input of known size: the table and the id
 * index sized once for the rows the first part's bytes a row predict (a
 * thirty-second more), instead of doubling and rehashing their way there
 * (trimmed after the import; more rows than predicted double as before).
 * A size the host only hinted (eng_import_options.size_hint) may be wrong:
 * a reservation it makes fail leaves the table as it was, growing as
 * without a hint. */
#define HINT_ROWS_MAX ((uint64_t)1 << 27)

static int size_table(cimp *ci, uint32_t rows)
{
    if (!ci->in_bytes || !ci->at_bytes || ci->at_bytes > ci->in_bytes)
        return ENG_OK;
    uint64_t est = (uint64_t)((double)ci->in_bytes / (double)ci->at_bytes * rows * (1.0 + 1.0 / 32));
    if (est > ci->in_bytes / 2 + 1) /* a row takes two bytes at least */
        est = ci->in_bytes / 2 + 1;
    if (est <= rows)
        return ENG_OK;
    if (ci->in_hinted && est >= UINT32_MAX - 1 - ci->a->t.n)
        return ENG_OK; /* more than a table holds: the hint is wrong */
    if (ci->in_hinted && est > HINT_ROWS_MAX)
        est = HINT_ROWS_MAX; /* the id index is touched whole: bound what a wrong hint costs (2^28 slots, 1 GiB) */
    int rc = eng__table_reserve(&ci->a->t, (size_t)est);
    if (rc == ENG_OK)
        __atomic_add_fetch(&eng__aud_sized_runs, 1, __ATOMIC_RELAXED);
    return ci->in_hinted ? ENG_OK : rc;
}

/* Store it now, in the import's batch (committed or rolled back at the end). */
int eng__cimp_store(cimp *ci, eng__wr *w, uint32_t rows)
{
    eng_store *st = ci->e->store;
    int rc = ci->batch ? ENG_OK : eng__kv_begin(st);
    if (!rc) {
        char key[ENG__AUD_KEY_MAX];
        ci->batch = 1;
        eng__aud_delta_key(ci->a, key, sizeof key, ci->a->next_seq, (uint32_t)ci->nparts);
        size_t rlen = eng__cimp_rec_len(ci, w, rows);
        rc = eng__rec_put_framed(st, key, strlen(key), ENG__REC_AUD_DELTA, eng__aud_delta_write_v, w->data,
                                 rlen);
        if (!rc && ci->consent_cols) /* who changed consent, how and when (the consent history) */
            rc = eng__chist_put_origin(ci->a, key, ci->source, ci->cx ? ci->cx->actor : NULL, ci->now);
        /* A big import (its first part full) into an empty table: apply the
         * parts from these bytes as they come, on a second thread. */
        if (!rc && !ci->ap && ci->nparts == 0 && rows >= eng__aud_part_rows && ci->may_thread &&
            ci->e->threads > 0 && ci->a->t.n == 0) {
            rc = size_table(ci, rows);
            if (!rc && (ci->ap = eng__applier_start(&ci->a->t, &ci->e->mem)))
                __atomic_add_fetch(&eng__aud_applier_runs, 1, __ATOMIC_RELAXED);
        }
        if (!rc && ci->ap)
            rc = eng__applier_push(ci->ap, w, rlen, key);
    }
    if (rc)
        return rc;
    ci->nparts++;
    ci->rows += rows;
    return ENG_OK;
}

int eng__cpar_room(cpar *p, size_t need)
{
    uint32_t n = p->ci->ncols;
    if (p->ncolw < n) {
        eng__wr *w = eng__realloc_array(&p->ci->e->mem, p->colw, n, sizeof *w);
        if (!w)
            return ENG_ENOMEM;
        for (uint32_t i = p->ncolw; i < n; i++)
            eng__wr_init(&w[i], &p->ci->e->mem);
        p->colw = w;
        p->ncolw = n;
    }
    /* Headroom, so that a room call is rare: it doubles up to 64 KiB, so a small import
     * does not reserve 64 KiB a column (under ASan, a fresh mapping each). */
    p->colslack = p->colslack ? (p->colslack < 65536 ? 2 * p->colslack : 65536) : 4096;
    need += p->colslack;
    for (uint32_t i = 1; i < n; i++)
        if (p->colw[i].cap - p->colw[i].len < need && eng__wr_reserve(&p->colw[i], need))
            return ENG_ENOMEM;
    p->colroom = need;
    return ENG_OK;
}

static int cimp_row_fields(cpar *p, const char *const *f, const size_t *fl, int ascii, const eng__csv *c,
                           eng__rowerr *err)
{
    const cimp *ci = p->ci;
    const char *why = "";
    int rc;
    /* Room for the whole row: each value is at most a tag, a varint (10)
     * and its bytes. */
    int bycol = eng__aud_delta_write_v >= 3;
    size_t need = 16, most = 0;
    for (uint32_t i = 1; i < ci->ncols; i++) {
        need += fl[i] + 12;
        most = fl[i] > most ? fl[i] : most;
    }
    if (bycol && p->colroom < most + 12 && eng__cpar_room(p, most + 12))
        return eng__nomem();
    if ((!bycol && p->part.cap - p->part.len < need && eng__wr_reserve(&p->part, need)) ||
        (p->ids.cap - p->ids.len < fl[0] + 16 && eng__wr_reserve(&p->ids, fl[0] + 16)))
        return eng__nomem();
    uint8_t *o = p->ids.data + p->ids.len;
    if (ci->a->t.idkind == ENG_ID_STRING) {
        if ((rc = eng__val_extid(f[0], fl[0], &why)))
            goto bad;
        o = eng__enc_blob(o, f[0], fl[0]);
    } else {
        int64_t v;
        if ((rc = eng__val_int64(f[0], fl[0], &v, &why)))
            goto bad;
        o = eng__enc_svar(o, v);
    }
    /* by column, `part` stays unallocated: NULL + 0 is undefined (clang's UBSan stops on it) */
    uint8_t *vo = bycol ? NULL : p->part.data + p->part.len, *co[ENG__CSV_MAX_FIELDS];
    p->npend = 0;
    /* Nothing is committed to any writer (nor to the slots) before every
     * field of the row is good. */
    if (bycol) {
        for (uint32_t i = 1; i < ci->ncols; i++) {
            eng__wr *w = &p->colw[i];
            co[i] = w->data + w->len;
            if (eng__put_field(p, i, ci->map[i].kind, ci->map[i].type, f[i], fl[i], ascii, c && eng__csv_quoted(c, i), &co[i], w->data, err))
                return 1;
        }
        p->colroom -= most + 12;
    } else {
        for (uint32_t i = 1; i < ci->ncols; i++)
            if (eng__put_field(p, i, ci->map[i].kind, ci->map[i].type, f[i], fl[i], ascii, c && eng__csv_quoted(c, i), &vo, p->part.data, err))
                return 1;
    }
    for (uint32_t k = 0; k < p->npend; k++) {
        const struct dpend *d = &p->pend[k];
        p->slot[d->sc][d->k] = (struct dslot){d->off, d->len, 1, d->a, d->b};
    }
    p->ids.len = (size_t)(o - p->ids.data);
    if (!bycol)
        p->part.len = (size_t)(vo - p->part.data);
    for (uint32_t i = 1; bycol && i < ci->ncols; i++)
        p->colw[i].len = (size_t)(co[i] - p->colw[i].data);
    if (++p->part_rows >= eng__aud_part_rows)
        return eng__cimp_flush(p);
    return 0;
bad:
    err->col = 1;
    err->code = rc;
    err->why = why;
    return 1;
}

int eng__cimp_row(cpar *p, const eng__csv *c, eng__rowerr *err)
{
    if (p->rowwise)
        p->rowwise--;
    const char *f[ENG__CSV_MAX_FIELDS];
    for (uint32_t i = 0; i < c->nf; i++)
        f[i] = c->base + c->start[i];
    return cimp_row_fields(p, f, c->flen, c->ascii, c, err);
}

int eng__cimp_csv_row(void *ctx, const eng__csv *c, uint64_t line, eng__rowerr *err)
{
    (void)line;
    ((cimp *)ctx)->at_bytes = c->bytes - (c->len - c->pos);
    return eng__cimp_row(&((cimp *)ctx)->p, c, err);
}

void eng__cpar_init(cpar *p, cimp *ci)
{
    memset(p, 0, sizeof *p);
    p->ci = ci;
    eng__wr_init(&p->part, &ci->e->mem);
    eng__wr_init(&p->ids, &ci->e->mem);
    eng__wr_init(&p->rec, &ci->e->mem);
}

void eng__cpar_free(cpar *p)
{
    eng__free(&p->ci->e->mem, p->bfs);
    eng__free(&p->ci->e->mem, p->bfl);
    eng__free(&p->ci->e->mem, p->bslot);
    p->bfs = p->bfl = NULL;
    p->bslot = NULL;
    for (uint32_t i = 0; i < p->ncolw; i++)
        eng__wr_free(&p->colw[i]);
    if (p->colw)
        eng__free(&p->ci->e->mem, p->colw);
    p->colw = NULL;
    p->ncolw = 0;
    eng__wr_free(&p->rec);
    eng__wr_free(&p->part);
    eng__wr_free(&p->ids);
}

static void cimp_free(cimp *ci)
{
    eng__cpar_free(&ci->p);
}

/* Roll back the parts stored so far when the import fails; a table the
 * applier wrote to holds part of it then: dropped (loaded again on next use). */
static int cimp_finish(cimp *ci, int rc)
{
    int drop = ci->ap && rc;
    eng__applier_free(ci->ap); /* joins the thread before the table goes */
    ci->ap = NULL;
    if (rc && ci->batch) {
        ci->batch = 0;
        rc = eng__aud_abort(ci->e->store, rc);
    }
    if (drop)
        eng__aud_drop(ci->e);
    return rc;
}

/* Replay the stored parts into the table inside the import's batch (they are
 * read back as a load reads them), then commit. At 10^6 rows the replay is a
 * long step of its own, so it reports "audience.apply" (rows applied) and a
 * cancel there, like any failure, rolls the batch back and drops the cached
 * table (it is loaded again from storage on next use). */
static int cimp_commit(cimp *ci, eng_import_report *rep)
{
    eng_engine *e = ci->e;
    if (ci->nparts == 0)
        return ENG_OK;
    char key[ENG__AUD_KEY_MAX];
    uint64_t ins = 0, upd = 0;
    eng__prog pg;
    int rc = eng__prog_start(&pg, e, "audience.apply", ci->rows);
    if (ci->ap) { /* applied as they were stored: wait for the last ones */
        if (!rc)
            rc = eng__applier_finish(ci->ap, &pg, &ins, &upd);
        eng__applier_free(ci->ap);
        ci->ap = NULL;
        goto applied;
    }
    /* At most one new customer per row: size the table once (trimmed after). */
    eng__table_set_prog(&ci->a->t, &pg); /* the id index and a string column's dictionary may double */
    if (!rc)
        rc = eng__table_reserve(&ci->a->t, ci->rows);
    for (size_t i = 0; i < ci->nparts && !rc; i++) {
        eng__aud_delta_key(ci->a, key, sizeof key, ci->a->next_seq, (uint32_t)i);
        eng__rec rec;
        rc = eng__rec_get(e->store, key, strlen(key), ENG__REC_AUD_DELTA, ENG__DELTA_V, &rec);
        if (rc)
            break;
        rc = eng__delta_apply(&ci->a->t, rec.payload, rec.len, rec.schema, key, NULL, &ins, &upd);
        eng__rec_free(e->store, &rec);
        if (!rc)
            rc = eng__prog_batch(&pg, ins + upd);
    }
    eng__table_set_prog(&ci->a->t, NULL);
applied:
    if (!rc)
        rc = eng__prog_end(&pg);
    if (rc) { /* the table may hold part of the import: drop it */
        ci->batch = 0;
        rc = eng__aud_abort(e->store, rc);
        eng__aud_drop(e);
        return rc;
    }
    eng__table_trim(&ci->a->t);
    ci->batch = 0; /* committed, or rolled back by eng__aud_commit */
    snprintf(ci->a->obj, sizeof ci->a->obj, "customers");
    snprintf(ci->a->detail, sizeof ci->a->detail, "import %llu rows (%llu bad)", (unsigned long long)ci->rows,
             (unsigned long long)rep->bad_rows);
    if ((rc = eng__aud_commit(ci->a, ci->cx))) {
        eng__aud_drop(e); /* the table holds the import that was not stored */
        return rc;
    }
    ci->a->next_seq++;
    rep->inserted += ins;
    rep->updated += upd;
    return ENG_OK;
}

static int cimp_start(eng_engine *e, const eng__aud_cx *cx, cimp *ci)
{
    memset(ci, 0, sizeof *ci);
    ci->e = e;
    ci->cx = cx;
    ci->now = eng__now(e);
    ci->source = ENG_CONSENT_SOURCE_IMPORT;
    eng__cpar_init(&ci->p, ci);
    return eng__aud_get_cx(e, cx, &ci->a);
}

static int import_csv(eng_engine *e, const eng__aud_cx *cx, eng_read_fn read, void *user, const eng_import_options *opts,
                      eng_import_report *report)
{
    eng_import_options o;
    eng_import_report tmp, *rep = &tmp;
    int rc = eng__report_start(report, &tmp, &rep);
    if (rc || (rc = eng__import_opts(opts, &o)))
        return rc;
    cimp *ci = eng__malloc(&e->mem, sizeof *ci);
    if (!ci)
        return eng__nomem();
    if ((rc = cimp_start(e, cx, ci))) {
        cimp_free(ci);
        eng__free(&e->mem, ci);
        return rc;
    }
    ci->may_thread = 1;
    ci->in_bytes = read == eng__memsrc_read ? ((const eng__memsrc *)user)->n : o.size_hint;
    ci->in_hinted = read != eng__memsrc_read;
    ci->id_hashes = e->threads > 0 && ci->a->t.idkind == ENG_ID_STRING && ci->a->t.n == 0;
    ci->o = &o;
    if (e->threads >= 2) { /* the CSV parsed on threads - 1 helpers and this one (import_par.c) */
        eng__drv d = {&o, rep, &e->mem, NULL, 0, NULL};
        eng__prog pg;
        rc = eng__prog_start(&pg, e, "audience.import", read == eng__memsrc_read ? ((const eng__memsrc *)user)->n : 0);
        if (!rc)
            rc = eng__import_par(ci, &d, cimp_hdr, read, user, o.max_field_bytes, e->threads - 1, &pg);
        if (!rc)
            rc = eng__prog_end(&pg);
        eng__free(&e->mem, d.hnames);
    } else {
        eng__csv c;
        rc = eng__csv_init(&c, &e->mem, read, user, o.max_field_bytes);
        if (!rc)
            rc = eng__import_drive(e, "audience.import", &c, cimp_hdr, eng__cimp_csv_row, eng__cimp_csv_block, ci, &o, rep);
        eng__csv_free(&c);
    }
    if (!rc)
        rc = eng__cimp_flush(&ci->p);
    if (!rc)
        rc = cimp_commit(ci, rep);
    rc = cimp_finish(ci, rc);
    cimp_free(ci);
    eng__free(&e->mem, ci);
    return rc;
}

int eng__aud_customers_import_csv(eng_engine *e, const eng__aud_cx *cx, eng_read_fn read, void *user,
                                     const eng_import_options *opts, eng_import_report *report)
{
    int rc = eng__enter(e);
    if (rc)
        return rc;
    if (!read)
        rc = eng__err(ENG_EINVAL, "read", "read callback is NULL");
    else
        rc = import_csv(e, cx, read, user, opts, report);
    eng__leave(e);
    return rc;
}

int eng__aud_customers_import_csv_buffer(eng_engine *e, const eng__aud_cx *cx, const char *data, size_t len,
                                            const eng_import_options *opts, eng_import_report *report)
{
    int rc = eng__enter(e);
    if (rc)
        return rc;
    eng__memsrc src = {data, len, 0};
    if (!data && len)
        rc = eng__err(ENG_EINVAL, "data", "data is NULL");
    else
        rc = import_csv(e, cx, eng__memsrc_read, &src, opts, report);
    eng__leave(e);
    return rc;
}

/* ---- API upsert: same validation, rows from arrays ---- */

static int upsert(eng_engine *e, const eng__aud_cx *cx, const char *const *names, size_t ncols, const char *const *values,
                  size_t nrows, const eng_import_options *opts, eng_import_report *report)
{
    eng_import_options o;
    eng_import_report tmp, *rep = &tmp;
    int rc = eng__report_start(report, &tmp, &rep);
    if (rc || (rc = eng__import_opts(opts, &o)))
        return rc;
    if (!names || ncols == 0 || (!values && nrows))
        return eng__err(ENG_EINVAL, "names", "names and values are required");
    if (ncols > ENG__CSV_MAX_FIELDS)
        return eng__err(ENG_ETOOBIG, "ncols", "at most %d columns", ENG__CSV_MAX_FIELDS);
    cimp *ci = eng__malloc(&e->mem, sizeof *ci);
    if (!ci)
        return eng__nomem();
    eng__csv hc; /* a fake header record so one code path maps names */
    memset(&hc, 0, sizeof hc);
    size_t *st = eng__calloc(&e->mem, ncols, sizeof *st), *fl = eng__calloc(&e->mem, ncols, sizeof *fl);
    const char **f = eng__calloc(&e->mem, ncols, sizeof *f);
    if ((rc = cimp_start(e, cx, ci)))
        goto out;
    ci->source = ENG_CONSENT_SOURCE_API;
    if (!st || !fl || !f) {
        rc = eng__nomem();
        goto out;
    }
    for (size_t i = 0; i < ncols; i++)
        if (!names[i]) {
            rc = eng__err(ENG_EINVAL, "names", "column name %zu is NULL", i);
            goto out;
        }
    /* Header: concatenate names into a temporary buffer. */
    size_t total = 0;
    for (size_t i = 0; i < ncols; i++)
        total += strlen(names[i]);
    hc.data = eng__malloc(&e->mem, total + 1);
    if (!hc.data) {
        rc = eng__nomem();
        goto out;
    }
    total = 0;
    for (size_t i = 0; i < ncols; i++) {
        st[i] = total;
        fl[i] = strlen(names[i]);
        memcpy(hc.data + total, names[i], fl[i]);
        total += fl[i];
    }
    hc.base = hc.data;
    hc.start = st;
    hc.flen = fl;
    hc.nf = (uint32_t)ncols;
    eng__rowerr err = {0, 0, ""};
    eng__drv d = {&o, rep, &e->mem, NULL, 0, NULL};
    rc = cimp_hdr(ci, &hc, &err);
    if (rc == 1) {
        char det[32];
        snprintf(det, sizeof det, "1:%u", err.col);
        rc = eng__err(err.code, det, "column %u: %s", err.col, err.why); /* a refused name may be a value */
        goto out;
    }
    d.nh = (uint32_t)ncols;
    d.hnames = eng__calloc(&e->mem, ncols, sizeof *d.hnames);
    if (!d.hnames) {
        rc = eng__nomem();
        goto out;
    }
    for (size_t i = 0; i < ncols; i++)
        snprintf(d.hnames[i], sizeof d.hnames[i], "%s", names[i]);
    eng__prog pg; /* "audience.import": rows handled of nrows */
    rc = eng__prog_start(&pg, e, "audience.import", nrows);
    for (size_t r = 0; r < nrows && !rc; r++) {
        ENG__WORK(1);
        if ((rc = eng__prog_step(&pg, r)))
            break;
        for (size_t i = 0; i < ncols; i++) {
            const char *v = values[r * ncols + i];
            f[i] = v ? v : "";
            fl[i] = v ? strlen(v) : 0;
            if (fl[i] > o.max_field_bytes) {
                rep->rows++;
                rc = eng__bad_row(&d, r + 2, (uint32_t)i + 1, ENG_ETOOBIG, "field longer than the limit");
                goto next;
            }
        }
        rep->rows++;
        rc = cimp_row_fields(&ci->p, f, fl, 0, NULL, &err);
        if (rc == 1)
            rc = eng__bad_row(&d, r + 2, err.col, err.code, err.why);
    next:;
    }
    eng__free(&e->mem, d.hnames);
    if (!rc)
        rc = eng__prog_end(&pg);
    if (!rc)
        rc = eng__cimp_flush(&ci->p);
    if (!rc)
        rc = cimp_commit(ci, rep);
    rc = cimp_finish(ci, rc);
out:
    eng__free(&e->mem, hc.data);
    eng__free(&e->mem, st);
    eng__free(&e->mem, fl);
    eng__free(&e->mem, f);
    cimp_free(ci);
    eng__free(&e->mem, ci);
    return rc;
}

int eng__aud_customers_upsert(eng_engine *e, const eng__aud_cx *cx, const char *const *names, size_t ncols,
                                 const char *const *values, size_t nrows,
                                 const eng_import_options *opts, eng_import_report *report)
{
    int rc = eng__enter(e);
    if (rc)
        return rc;
    rc = upsert(e, cx, names, ncols, values, nrows, opts, report);
    eng__leave(e);
    return rc;
}
