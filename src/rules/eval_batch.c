/* Column-batch evaluator: the fast path.
 *
 * Every boolean node is evaluated over a selection bitmap into two bitmaps,
 * TRUE and FALSE (rows in neither are null). and/or narrow the selection as
 * they go (a row already false for `and` is not looked at again), so
 * short-circuiting is per row. Leaves use a plan made once per call:
 *  - TABLE: a subtree that reads only one dictionary-encoded string (or bool)
 *    column is evaluated once per dictionary entry; rows then look their code
 *    up (so `tier in (...)`, `lower(city) == "pune"`, `city starts with "P"`
 *    cost one load per row whatever the operator);
 *  - RANGE: numeric/date column (or days_since(date or timestamp column))
 *    against constants becomes an inclusive int64
 *    interval in the column's own units (exact for decimals of any scale);
 *  - INSET: numeric column in a constant set (binary search);
 *  - ISNULL: the null bitmap itself;
 *  - otherwise the row evaluator runs for the selected rows only.
 * Rows are processed in chunks of CHUNKW words so scratch stays in cache. */
#include "rules/batch_impl.h"

/* An and/or whose kids are being evaluated (bool_eval's explicit stack). */
typedef struct bframe {
    int32_t idx;
    uint32_t k;      /* kids done */
    unsigned level;  /* its scratch: cur, tk, fk */
    uint64_t *T, *F; /* its result */
} bframe;

/* A leaf plan over the chunk; 0 when idx is an and/or/not. */
static int leaf_eval(bctx *c, const bplan *p, int32_t idx, const uint64_t *sel, uint64_t *T, uint64_t *F)
{
    size_t nw = c->nw;
    switch (p->kind) {
    case P_CONST:
        for (size_t w = 0; w < nw; w++) {
            T[w] = p->cval ? sel[w] : 0;
            F[w] = p->cval ? 0 : sel[w];
        }
        return 1;
    case P_TABLE: eng__batch_table(c, p, sel, T, F); return 1;
    case P_RANGE: eng__batch_range(c, p, sel, T, F); return 1;
    case P_INSET: eng__batch_inset(c, p, sel, T, F); return 1;
    case P_ISNULL: {
        const eng_rule_column *col = col_of(c, p->field);
        for (size_t w = 0; w < nw; w++) {
            uint64_t nb = null_word(col, c, w);
            T[w] = (p->neg ? ~nb : nb) & sel[w];
            F[w] = (p->neg ? nb : ~nb) & sel[w];
        }
        return 1;
    }
    case P_BOOLOP: return 0;
    default: eng__batch_generic(c, idx, sel, T, F); return 1;
    }
}

/* Evaluate boolean node idx over sel into T/F. Iterative: `not` swaps T and F
 * and goes on with its child; and/or push a frame (c->bstack, bool_depth + 2
 * deep) and narrow their selection as each kid decides rows. */
static void bool_eval(bctx *c, int32_t idx, const uint64_t *sel, uint64_t *T, uint64_t *F)
{
    bframe *st = c->bstack;
    size_t top = 0, nw = c->nw;
    unsigned level = 0;
    for (;;) {
        /* down: idx over sel into T/F at level */
        for (;;) {
            const bplan *p = &c->plan[idx];
            if (leaf_eval(c, p, idx, sel, T, F))
                break;
            const eng__rnode *n = &c->r->nodes[idx];
            /* an and/or all of whose kids go in one pass: as a leaf */
            if (p->nfused && p->nfused == n->n && eng__batch_fused(c, p, n, sel, T, F))
                break;
            level++;
            if (n->kind == N_NOT) {
                uint64_t *t = T;
                T = F;
                F = t;
                idx = n->a;
                continue;
            }
            uint64_t *cur = c->scratch + (size_t)level * 3 * CHUNKW, *tk = cur + CHUNKW, *fk = tk + CHUNKW;
            int is_and = n->kind == N_AND;
            memcpy(cur, sel, nw * sizeof *cur);
            for (size_t w = 0; w < nw; w++) {
                T[w] = is_and ? sel[w] : 0;
                F[w] = is_and ? 0 : sel[w];
            }
            st[top++] = (bframe){idx, 0, level, T, F};
            if (c->plan[idx].nfused && c->plan[idx].nfused < n->n && eng__batch_fused(c, &c->plan[idx], n, cur, tk, fk)) {
                st[top - 1].k = c->plan[idx].nfused - 1u; /* folded below as one kid */
                break;
            }
            idx = c->r->kids[n->first + c->plan[idx].order[0]];
            sel = cur;
            T = tk;
            F = fk;
        }
        /* up: fold the kid just done into its and/or */
        for (;;) {
            if (!top)
                return;
            bframe *f = &st[top - 1];
            const eng__rnode *n = &c->r->nodes[f->idx];
            uint64_t *cur = c->scratch + (size_t)f->level * 3 * CHUNKW, *tk = cur + CHUNKW, *fk = tk + CHUNKW;
            uint64_t any = 0;
            if (n->kind == N_AND) {
                for (size_t w = 0; w < nw; w++) {
                    f->F[w] |= fk[w];
                    f->T[w] &= tk[w];
                    cur[w] &= ~fk[w];
                    any |= cur[w];
                }
            } else {
                for (size_t w = 0; w < nw; w++) {
                    f->T[w] |= tk[w];
                    f->F[w] &= fk[w];
                    cur[w] &= ~tk[w];
                    any |= cur[w];
                }
            }
            /* stop when every selected row is decided (false for and, true for or) */
            if (any && ++f->k < n->n && !c->err) {
                idx = c->r->kids[n->first + c->plan[f->idx].order[f->k]];
                sel = cur;
                T = tk;
                F = fk;
                level = f->level;
                break;
            }
            top--;
        }
    }
}

static int check_columns(const eng_rule *r, const eng_rule_batch *b, const uint8_t *cw)
{
    if (b->ncolumns < r->nfields || (r->nfields && !b->columns))
        return eng__err(ENG_EINVAL, "batch.columns", "batch has %zu columns, the schema %zu fields", b->ncolumns,
                        r->nfields);
    for (size_t i = 0; cw && i < r->nfields; i++) {
        const char *name = r->fields[i].name;
        if (r->fields[i].type == ENG_RT_STRING && cw[i] != 1 && cw[i] != 2 && cw[i] != 4)
            return eng__err(ENG_EINVAL, name, "column '%s': code width %u (a STRING column's codes are 1, 2 or 4 "
                            "bytes)", name, cw[i]);
        if (r->fields[i].type == ENG_RT_INT && cw[i] != 0 && cw[i] != 2 && cw[i] != 4 && cw[i] != 8)
            return eng__err(ENG_EINVAL, name, "column '%s': value width %u (an INT column's values are 2, 4 or 8 "
                            "bytes; 0 means 8)", name, cw[i]);
        if (r->fields[i].type != ENG_RT_STRING && r->fields[i].type != ENG_RT_INT && cw[i] != 0)
            return eng__err(ENG_EINVAL, name, "column '%s': width %u given for a %s column (only STRING and INT "
                            "columns take one; 0 here)", name, cw[i], eng__rtype_name(r->fields[i].type));
    }
    for (size_t i = 0; i < r->nfields; i++) {
        if (!r->used[i])
            continue;
        const eng_rule_column *col = &b->columns[i];
        const char *name = r->fields[i].name;
        if ((int)col->type != (int)r->fields[i].type)
            return eng__err(ENG_EINVAL, name, "column '%s' has type %s, the schema says %s", name,
                            eng__rtype_name(col->type), eng__rtype_name(r->fields[i].type));
        if (b->nrows && !col->data)
            return eng__err(ENG_EINVAL, name, "column '%s' has no data", name);
        if (col->type == ENG_RT_DECIMAL && (col->scale < 0 || col->scale > ENG_RULE_MAX_SCALE))
            return eng__err(ENG_EINVAL, name, "column '%s' has a bad scale %d", name, col->scale);
        if ((col->type == ENG_RT_STRING || col->type == ENG_RT_STRING_LIST) && col->dict_size && !col->dict)
            return eng__err(ENG_EINVAL, name, "column '%s' has no dictionary", name);

        if (col->type == ENG_RT_STRING_LIST && b->nrows && !col->list_codes && ((const uint32_t *)col->data)[b->nrows])
            return eng__err(ENG_EINVAL, name, "list column '%s' has no item codes", name);
    }
    return ENG_OK;
}

/* A failed evaluation selects no one: a caller that ignores the code must not
 * send to every row it passed in. sel is cleared before anything is checked
 * (for a NULL or freed rule too); only a batch too large for any buffer
 * (> 2^40 rows) leaves it untouched. */
static int fail_clear(int rc, const eng_rule_batch *batch, uint64_t *sel)
{
    if (batch && sel && batch->nrows <= ((size_t)1 << 40))
        memset(sel, 0, (batch->nrows + 63) / 64 * sizeof *sel);
    return rc;
}

ENG_API int eng_rule_eval_batch(const eng_rule *rule, const eng_rule_batch *batch, const uint64_t *in_sel,
                                uint64_t *sel, size_t *count)
{
    /* a version-1 caller's struct ends before code_widths */
    const uint8_t *cw = batch && batch->version >= 2 && batch->version <= ENG_RULE_BATCH_VERSION ? batch->code_widths
                                                                                              : NULL;
    return eng__rule_eval_batch_cw(rule, batch, cw, in_sel, sel, count);
}

int eng__rule_eval_batch_cw(const eng_rule *rule, const eng_rule_batch *batch, const uint8_t *code_widths,
                            const uint64_t *in_sel, uint64_t *sel, size_t *count)
{
    if (count)
        *count = 0;
    eng_error_clear();
    int rc = eng__rule_check(rule);
    if (rc)
        return fail_clear(rc, batch, sel);
    if (!batch || !sel)
        return eng__err(ENG_EINVAL, !batch ? "batch" : "sel", "eng_rule_eval_batch: %s is NULL",
                        !batch ? "batch" : "sel");
    if (batch->version < 1 || batch->version > ENG_RULE_BATCH_VERSION)
        return fail_clear(eng__err(ENG_EVERSION, "batch.version", "unknown batch version %u", batch->version), batch,
                          sel);
    if (batch->nrows > ((size_t)1 << 40))
        return eng__err(ENG_ERANGE, "batch.nrows", "batch of %zu rows is too large (at most 2^40)", batch->nrows);
    if ((rc = check_columns(rule, batch, code_widths)))
        return fail_clear(rc, batch, sel);
    size_t nrows = batch->nrows, nwords = (nrows + 63) / 64;
    if (!nrows)
        return ENG_OK;
    bctx c;
    memset(&c, 0, sizeof c);
    c.r = rule;
    c.b = batch;
    c.isa = eng__isa();
    c.cw = code_widths;
    c.plan = eng__calloc(&rule->mem, rule->nnodes, sizeof *c.plan);
    c.scratch = eng__malloc(&rule->mem, ((size_t)rule->bool_depth + 2) * 3 * CHUNKW * sizeof *c.scratch +
                                            3 * CHUNKW * sizeof *c.scratch);
    c.bstack = eng__malloc(&rule->mem, ((size_t)rule->bool_depth + 2) * sizeof *c.bstack);
    c.pstack = eng__malloc(&rule->mem, (2 * rule->nnodes + 1) * sizeof *c.pstack);
    if (!c.plan || !c.scratch || !c.bstack || !c.pstack)
        rc = eng__nomem();
    if (!rc)
        rc = eng__batch_plan(&c, rule->root);
    uint64_t *insel = c.scratch ? c.scratch + ((size_t)rule->bool_depth + 2) * 3 * CHUNKW : NULL;
    uint64_t *fout = insel ? insel + CHUNKW : NULL;
    size_t total = 0;
    for (size_t w0 = 0; !rc && w0 < nwords; w0 += CHUNKW) {
        c.w0 = w0;
        c.nw = nwords - w0 < CHUNKW ? nwords - w0 : CHUNKW;
        if (in_sel)
            memcpy(insel, in_sel + w0, c.nw * sizeof *insel);
        else
            memset(insel, 0xff, c.nw * sizeof *insel);
        size_t full = full_words(&c); /* only the batch's last word can be partial */
        if (full < c.nw)
            insel[full] &= ((uint64_t)1 << rows_in_word(&c, full)) - 1;
        bool_eval(&c, rule->root, insel, sel + w0, fout);
        rc = c.err;
        if (!rc)
            total += (size_t)eng__words_count(sel + w0, c.nw);
    }
    if (c.plan) {
        for (size_t i = 0; i < rule->nnodes; i++) {
            eng__free(&rule->mem, c.plan[i].tab);
            eng__free(&rule->mem, c.plan[i].set);
            eng__free(&rule->mem, c.plan[i].order);
        }
    }
    eng__free(&rule->mem, c.plan);
    eng__free(&rule->mem, c.scratch);
    eng__free(&rule->mem, c.bstack);
    eng__free(&rule->mem, c.pstack);
    eng__estack_free(rule, &c.est);
    if (rc) {
        memset(sel, 0, nwords * sizeof *sel);
        return rc;
    }
    if (count)
        *count = total;
    return ENG_OK;
}
