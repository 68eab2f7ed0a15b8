/* Compaction: the customer table is stored as the import deltas that built
 * it, so storage and reload time grow with every import. Compacting writes
 * the current table as one delta (rows in dense-id order, so every customer
 * keeps its id) and deletes the old deltas, in one batch. The cached table is
 * then dropped and rebuilt from the new delta on next use, which also frees
 * replaced contact strings. */
#include "audience/audience_impl.h"
#include "base/codec.h"

#include <stdio.h>
#include <string.h>

#define DELTA_V 1
/* Rows per delta part of a rewrite (tests lower it): a part is replayed in
 * one step when the table is next loaded, so as small as an import's. */
uint32_t eng__aud_rewrite_rows = 8192;


/* Append customer id's values for every column to w. */
static void put_row(eng__wr *w, const eng__table *t, uint32_t id, const uint8_t *kind, const uint32_t *idx, uint32_t nc)
{
    for (uint32_t i = 0; i < nc; i++) {
        switch (kind[i]) {
        case ENG__DK_ATTR: {
            const eng__col *c = &t->cols[idx[i]];
            if (!eng__bit(c->present, id)) {
                eng__wr_u8(w, 0);
                break;
            }
            eng__wr_u8(w, 1);
            if (c->type == ENG_COL_STRING) {
                size_t l;
                const char *s = eng__dict_str(&c->dict, c->code[id], &l);
                eng__wr_blob(w, s, l);
            } else if (c->type == ENG_COL_BOOL) {
                eng__wr_u8(w, (uint8_t)eng__bit(c->bits, id));
            } else {
                eng__wr_svar(w, c->i64[id]);
            }
            break;
        }
        case ENG__DK_CONTACT: {
            size_t l;
            const char *s = eng__table_contact(t, (int)idx[i], id, &l);
            eng__wr_u8(w, s != NULL);
            if (s)
                eng__wr_blob(w, s, l);
            break;
        }
        case ENG__DK_CONSENT:
        case ENG__DK_OPTOUT: {
            const eng__chan *ch = &t->ch[idx[i]];
            int yes = eng__idset_contains(kind[i] == ENG__DK_CONSENT ? &ch->consent : &ch->optout, id);
            eng__wr_u8(w, (uint8_t)yes);
            if (yes) {
                eng__wr_u8(w, 1);
                eng__wr_svar(w, kind[i] == ENG__DK_CONSENT ? eng__table_consent_ts(t, (int)idx[i], id) : ch->optout_ts[id]);
            }
            break;
        }
        default: {
            int yes = eng__idset_contains(&t->suppressed, id);
            eng__wr_u8(w, (uint8_t)yes);
            if (yes)
                eng__wr_u8(w, 1);
            break;
        }
        }
    }
}

/* The id written for a row: an erased row's tombstone replaces its external
 * id (a string no import can produce; for integer ids, no id at all: flagged). */
static void put_id(eng__wr *ids, const eng__table *t, uint32_t id, int erased, int flagged)
{
    if (t->idkind == ENG_ID_STRING) {
        char tomb[ENG__TOMB_LEN];
        size_t l = 0; /* set when not erased; gcc -O1 with TSan cannot see it */
        const char *s = erased ? (eng__tombstone(id, tomb), tomb) : eng__dict_str(&t->sid, id, &l);
        eng__wr_blob(ids, s, erased ? sizeof tomb : l);
    } else if (flagged) {
        eng__wr_u8(ids, (uint8_t)erased);
        if (!erased)
            eng__wr_svar(ids, t->iid[id]);
    } else {
        eng__wr_svar(ids, t->iid[id]);
    }
}

int eng__aud_rewrite(eng_engine *e, const char *op, eng__aud *a, const eng__idset *erase, eng__keys *old_keys)
{
    const eng__table *t = &a->t;
    uint8_t kind[ENG__MAX_COLS + 3 * ENG_CH_COUNT + 1];
    uint32_t idx[ENG__MAX_COLS + 3 * ENG_CH_COUNT + 1], nc = 0;
    for (uint32_t i = 0; i < t->ncols; i++) {
        kind[nc] = ENG__DK_ATTR;
        idx[nc++] = i;
    }
    for (int ch = 0; ch < ENG_CH_COUNT; ch++) {
        if (!t->ch[ch].used)
            continue;
        for (int k = ENG__DK_CONTACT; k <= ENG__DK_OPTOUT; k++) {
            kind[nc] = (uint8_t)k;
            idx[nc++] = (uint32_t)ch;
        }
    }
    kind[nc] = ENG__DK_SUPP;
    idx[nc++] = 0;

    /* The consent history first: it replays the deltas about to go. */
    eng__prog pg;
    int rc = eng__prog_start(&pg, e, op, t->n);
    if (rc)
        return rc;
    eng__chist h;
    eng__chist_init(&h, &e->mem, ENG__CHIST_ALL);
    rc = eng__chist_build(a, &h, &pg);
    if (!rc)
        rc = eng__chist_rewrite(a, &h, erase, old_keys, &pg);
    eng__chist_free(&h);
    if (rc)
        return rc;
    rc = eng__aud_del_keys(a, "t/", old_keys); /* the old deltas */
    uint64_t seq = a->next_seq;
    eng__wr ids, vals, w;
    eng__wr_init(&ids, &e->mem);
    eng__wr_init(&vals, &e->mem);
    eng__wr_init(&w, &e->mem);
    uint8_t *blank = eng__calloc(&e->mem, nc, 1); /* an erased row: every value NULL / cleared */
    if (!blank && !rc)
        rc = eng__nomem();
    const uint32_t part_rows = eng__aud_rewrite_rows;
    for (uint32_t start = 0, part = 0; start < t->n && !rc; start += part_rows, part++) {
        uint32_t end = t->n - start > part_rows ? start + part_rows : t->n;
        ids.len = vals.len = w.len = 0;
        int flagged = 0; /* integer ids: the tombstone encoding when the part has an erased row */
        for (uint32_t id = start; id < end && t->idkind == ENG_ID_INT64 && !flagged; id++)
            flagged = eng__table_erased(t, id) || (erase && eng__idset_contains(erase, id));
        for (uint32_t id = start; id < end && !rc; id++) {
            ENG__WORK(1);
            if ((rc = eng__prog_step(&pg, id))) /* per row: a part is 2^16 of them */
                break;
            int gone = eng__table_erased(t, id) || (erase && eng__idset_contains(erase, id));
            put_id(&ids, t, id, gone, flagged);
            if (gone)
                eng__wr_bytes(&vals, blank, nc);
            else
                put_row(&vals, t, id, kind, idx, nc);
        }
        if (rc)
            break;
        eng__wr_uvar(&w, nc);
        for (uint32_t i = 0; i < nc; i++) {
            eng__wr_u8(&w, kind[i]);
            eng__wr_uvar(&w, idx[i]);
        }
        eng__wr_u8(&w, flagged ? (uint8_t)ENG__IDK_INT_TOMB : (uint8_t)t->idkind);
        eng__wr_uvar(&w, end - start);
        eng__wr_bytes(&w, ids.data, ids.len);
        eng__wr_bytes(&w, vals.data, vals.len);
        if (ids.err || vals.err || w.err) {
            rc = eng__nomem();
            break;
        }
        char key[ENG__AUD_KEY_MAX];
        eng__aud_delta_key(a, key, sizeof key, seq, part);
        rc = eng__rec_put(e->store, key, strlen(key), ENG__REC_AUD_DELTA, DELTA_V, w.data, w.len);
        if (!rc)
            rc = eng__prog_batch(&pg, end);
    }
    if (!rc)
        rc = eng__prog_end(&pg);
    eng__free(&e->mem, blank);
    eng__wr_free(&ids);
    eng__wr_free(&vals);
    eng__wr_free(&w);
    return rc;
}

static int compact(eng_engine *e, const eng__aud_cx *cx)
{
    eng__aud *a;
    int rc = eng__aud_get_cx(e, cx, &a);
    if (rc || (rc = eng__kv_begin(e->store)))
        return rc;
    if ((rc = eng__aud_rewrite(e, "audience.compact", a, NULL, NULL)))
        return eng__aud_abort(e->store, rc);
    snprintf(a->detail, sizeof a->detail, "compact %u customers", (unsigned)a->t.n);
    if ((rc = eng__aud_commit(a, cx)))
        return rc;
    eng__aud_drop(e); /* rebuilt from the compacted delta on next use */
    return ENG_OK;
}

int eng__aud_customers_compact(eng_engine *e, const eng__aud_cx *cx)
{
    int rc = eng__enter(e);
    if (rc)
        return rc;
    rc = compact(e, cx);
    eng__leave(e);
    return rc;
}
