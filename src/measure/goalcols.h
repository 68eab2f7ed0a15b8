/* The transaction fields a goal condition may use beyond `amount` and `store` in the report from
 * the engine's stores: `items`, `time` and the org's custom fields (eng_txn_field_add), the
 * schema the goal is checked against when it is saved (model/rulecheck.c), then the customer's
 * attributes (the columns of the customer table, as they are when the report is made) joined
 * on. Read whole, a segment at a time, beside campaign.c's four columns; only a condition that
 * needs them pays, and only for the attributes it reads. */
#ifndef ENG_MEASURE_GOALCOLS_H
#define ENG_MEASURE_GOALCOLS_H

#include "engage/measure.h"
#include "events/events_impl.h"

typedef struct eng__goalcols {
    eng_engine *e;
    uint16_t org;
    size_t n, cap;           /* rows kept (customers known), room */
    uint32_t *item_off;      /* n + 1 offsets into items */
    size_t ni, capi;
    uint32_t *items, nsku;   /* SKU codes, all below nsku */
    size_t nf;               /* the org's custom fields */
    size_t na;               /* then the customer attributes (fields[4 + nf + k] is column acol[k]) */
    uint32_t *acol;
    const struct eng__table *table;
    int *reads;              /* per field: the condition reads it (eng__goalcols_check) */
    void **own;              /* the attributes' joined arrays, freed with the rest */
    size_t nown, capown;
    eng_rule_field *fields;  /* amount, store, items, time, then the custom fields */
    int64_t **fv;            /* fv[f][row]: as the events layer stores it */
    uint64_t **fnull;        /* bit set: null */
    uint32_t *fmax;          /* string fields: codes below it */
    void **conv;             /* per field, the rule column's data when it is not fv's */
    const char **dict;       /* the dictionaries (SKUs, then each string field's), one block */
    uint32_t *dict_len;
    eng_rule_column *cols;   /* 4 + nf + na columns; the first two are the caller's */
} eng__goalcols;

/* Non-zero when the goal's condition uses a field other than `amount` and `store`. */
int eng__goal_wide(eng_engine *e, const eng_goal_spec *g);
/* Ready @p g for the org's transactions (the custom fields' names borrowed: inside eng__enter). */
int eng__goalcols_init(eng__goalcols *g, eng_engine *e, const char *org);
/* The condition compiled over those fields: an unknown field's error says which there are. */
int eng__goalcols_check(eng__goalcols *g, const char *condition);
/* Append a segment's rows of known customers (the rows campaign.c's txn_copy keeps). */
int eng__goalcols_add(eng__goalcols *g, const eng__txn_cols *x);
/* The schema and columns over the rows: @p amount_store the caller's first two columns, @p cust
 * the rows' customers (the attributes are joined on them). */
int eng__goalcols_finish(eng__goalcols *g, const eng_rule_column amount_store[2], const eng_time *time,
                         const uint32_t *cust, eng_txn_columns *out);
void eng__goalcols_free(eng__goalcols *g);

#endif
