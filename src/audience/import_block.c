/* The customer import's column-wise parse: the plain records of a block
 * (eng__csv_block) checked and encoded a column at a time, each column in
 * a loop of its own kind, instead of a record's fields one after the other
 * through a switch per value. The values and their encoding are those of
 * the row path (the same inline eng__put_field); a block with any bad value
 * is dropped whole and its rows go through the row path, which reports the
 * first bad one with its line and column as always. */
#include "audience/import_field.h"

/* Rows per block (tests vary it; 0: no blocks, the row path only). */
uint32_t eng__aud_block_rows = 512;

/* One column of the block: n values from @p base, at fs/fl, appended at *op.
 * kind and type are constants in each caller below, so every loop is
 * specialised to its column kind. 1 on the first bad value. */
static inline __attribute__((always_inline)) int col_loop(cpar *p, uint32_t i, unsigned kind, unsigned type,
                                                            const char *base, const uint32_t *fs, const uint32_t *fl,
                                                            uint32_t n, int ascii, uint8_t **op, const uint8_t *wbase)
{
    eng__rowerr err;
    uint8_t *o = *op; /* a local, not *op: the values' byte stores could alias *op and force it to memory */
    for (uint32_t r = 0; r < n; r++) {
        p->npend = 0;
        if (eng__put_field(p, i, kind, type, base + fs[r], fl[r], ascii, 0, &o, wbase, &err))
            return 1;
        if (p->npend) { /* a new string value fills its slot at once: the next row may use it */
            const struct dpend *d = &p->pend[0];
            p->slot[d->sc][d->k] = (struct dslot){d->off, d->len, 1, d->a, d->b};
        }
    }
    *op = o;
    return 0;
}

static int column(cpar *p, uint32_t i, const char *base, const uint32_t *fs, const uint32_t *fl, uint32_t n, int ascii,
                  uint8_t **op, const uint8_t *wbase)
{
    const col_map *m = &p->ci->map[i];
    switch (m->kind) {
    case ENG__DK_ATTR:
        switch (m->type) {
        case ENG_COL_STRING:
            return col_loop(p, i, ENG__DK_ATTR, ENG_COL_STRING, base, fs, fl, n, ascii, op, wbase);
        case ENG_COL_INT64:
            return col_loop(p, i, ENG__DK_ATTR, ENG_COL_INT64, base, fs, fl, n, ascii, op, wbase);
        case ENG_COL_DECIMAL:
            return col_loop(p, i, ENG__DK_ATTR, ENG_COL_DECIMAL, base, fs, fl, n, ascii, op, wbase);
        case ENG_COL_DATE:
            return col_loop(p, i, ENG__DK_ATTR, ENG_COL_DATE, base, fs, fl, n, ascii, op, wbase);
        default:
            return col_loop(p, i, ENG__DK_ATTR, m->type, base, fs, fl, n, ascii, op, wbase);
        }
    case ENG__DK_CONTACT:
        if (m->type)
            return col_loop(p, i, ENG__DK_CONTACT, 1, base, fs, fl, n, ascii, op, wbase);
        return col_loop(p, i, ENG__DK_CONTACT, 0, base, fs, fl, n, ascii, op, wbase);
    case ENG__DK_CONSENT:
        return col_loop(p, i, ENG__DK_CONSENT, 0, base, fs, fl, n, ascii, op, wbase);
    default:
        return col_loop(p, i, m->kind, m->type, base, fs, fl, n, ascii, op, wbase);
    }
}

/* The id column into p->ids: 1 on the first bad id. */
static int id_column(cpar *p, const char *base, const uint32_t *fs, const uint32_t *fl, uint32_t n, uint8_t **op)
{
    const char *why;
    uint8_t *o = *op;
    if (p->ci->a->t.idkind == ENG_ID_STRING) {
        for (uint32_t r = 0; r < n; r++) {
            if (eng__val_extid_fast(base + fs[r], fl[r]) && eng__val_extid(base + fs[r], fl[r], &why))
                return 1;
            o = eng__enc_blob(o, base + fs[r], fl[r]);
        }
    } else {
        for (uint32_t r = 0; r < n; r++) {
            int64_t v;
            if (eng__val_int64_fast(base + fs[r], fl[r], &v) && eng__val_int64(base + fs[r], fl[r], &v, &why))
                return 1;
            o = eng__enc_svar(o, v);
        }
    }
    *op = o;
    return 0;
}

int eng__cimp_block(cpar *p, eng__csv *c, uint64_t *rows)
{
    cimp *ci = p->ci;
    uint32_t nf = ci->ncols;
    *rows = 0;
    uint32_t blk = eng__aud_block_rows;
    if (!blk || p->rowwise || eng__aud_delta_write_v < 3 || c->started != 1 || c->pos >= c->len ||
        p->part_rows >= eng__aud_part_rows)
        return ENG_OK;
    if (!p->bfs) { /* a parser serves one import: its column count and block size are fixed */
        p->bfs = eng__malloc(&ci->e->mem, (size_t)nf * blk * sizeof *p->bfs);
        p->bfl = eng__malloc(&ci->e->mem, (size_t)nf * blk * sizeof *p->bfl);
        p->bslot = eng__malloc(&ci->e->mem, sizeof p->slot);
        if (!p->bfs || !p->bfl || !p->bslot) {
            eng__free(&ci->e->mem, p->bfs);
            eng__free(&ci->e->mem, p->bfl);
            eng__free(&ci->e->mem, p->bslot);
            p->bfs = p->bfl = NULL;
            p->bslot = NULL;
            return eng__nomem();
        }
    }
    uint32_t max = eng__aud_part_rows - (uint32_t)p->part_rows;
    max = max < blk ? max : blk;
    size_t used;
    int ascii;
    uint32_t n = eng__csv_block(c, nf, max, p->bfs, p->bfl, &used, &ascii);
    if (!n)
        return ENG_OK;
    /* Room: no column of the block holds more than its bytes, plus a tag
     * and a length of up to 10 bytes a value. */
    size_t need = used + 12u * n;
    if ((p->colroom < need && eng__cpar_room(p, need)) ||
        (p->ids.cap - p->ids.len < need && eng__wr_reserve(&p->ids, need)))
        return eng__nomem();
    const char *base = c->in + c->pos;
    size_t slots = ci->nslot * sizeof p->slot[0];
    memcpy(p->bslot, p->slot, slots);
    uint8_t *end[ENG__CSV_MAX_FIELDS];
    end[0] = p->ids.data + p->ids.len;
    /* Nothing is committed (lengths, rows, the input's position) before every column is good. */
    int bad = id_column(p, base, p->bfs, p->bfl, n, &end[0]);
    for (uint32_t i = 1; i < nf && !bad; i++) {
        eng__wr *w = &p->colw[i];
        end[i] = w->data + w->len;
        bad = column(p, i, base, p->bfs + (size_t)i * max, p->bfl + (size_t)i * max, n, ascii, &end[i], w->data);
    }
    if (bad) { /* as if the block had not been: the row path takes these rows, and stores what it always did */
        memcpy(p->slot, p->bslot, slots);
        p->rowwise = n;
        return ENG_OK;
    }
    p->ids.len = (size_t)(end[0] - p->ids.data);
    for (uint32_t i = 1; i < nf; i++)
        p->colw[i].len = (size_t)(end[i] - p->colw[i].data);
    p->colroom -= need;
    p->part_rows += n;
    eng__csv_skip(c, n, used);
    *rows = n;
    return ENG_OK;
}

int eng__cimp_csv_block(void *ctx, eng__csv *c, uint64_t *rows)
{
    cimp *ci = ctx;
    int rc = eng__cimp_block(&ci->p, c, rows);
    if (rc || !*rows)
        return rc;
    ci->at_bytes = c->bytes - (c->len - c->pos);
    return ci->p.part_rows >= eng__aud_part_rows ? eng__cimp_flush(&ci->p) : ENG_OK;
}
