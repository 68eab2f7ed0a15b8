/* Shared by the measure tests: a touch log and transactions built row by row
 * (transactions have the event schema amount DECIMAL(2), store STRING, items
 * STRING_LIST-free), handed to eng_measure_campaign() as columns. */
#ifndef MEASURE_FIXTURE_H
#define MEASURE_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "engage.h"
#include "test_alloc.h"
#include "test_util.h"

#define MX_MAX 200000
#define MX_STORES 32

typedef struct mx {
    size_t nt;
    uint32_t tcust[MX_MAX], tmsg[MX_MAX], tocc[MX_MAX]; /* tocc: the occurrence (0 unless mx_touch_occ) */
    uint8_t tch[MX_MAX], tst[MX_MAX];
    eng_time tt[MX_MAX];
    size_t nx;
    uint32_t xcust[MX_MAX];
    eng_time xt[MX_MAX];
    int64_t xamt[MX_MAX]; /* cents */
    uint32_t xstore[MX_MAX];
    eng_rule_column cols[3];
    eng_rule_field fields[3];
    const char *stores[MX_STORES];
    eng_touch_columns tc;
    eng_txn_columns xc;
} mx;

static const char *const mx_store_names[MX_STORES] = {
    "S0", "S1", "S2", "S3", "S4", "S5", "S6", "S7", "S8", "S9", "S10", "S11", "S12", "S13", "S14", "S15",
    "S16", "S17", "S18", "S19", "S20", "S21", "S22", "S23", "S24", "S25", "S26", "S27", "S28", "S29", "S30", "S31"};

static inline mx *mx_new(void)
{
    mx *m = calloc(1, sizeof *m);
    assert_non_null(m);
    return m;
}

/* A touch of occurrence @p occ of a recurring message's schedule. */
static inline void mx_touch_occ(mx *m, uint32_t c, uint32_t msg, uint32_t occ, int ch, int st, eng_time t)
{
    assert_true(m->nt < MX_MAX);
    m->tocc[m->nt] = occ;
    m->tcust[m->nt] = c;
    m->tmsg[m->nt] = msg;
    m->tch[m->nt] = (uint8_t)ch;
    m->tst[m->nt] = (uint8_t)st;
    m->tt[m->nt] = t;
    m->nt++;
}

static inline void mx_touch(mx *m, uint32_t c, uint32_t msg, int ch, int st, eng_time t)
{
    mx_touch_occ(m, c, msg, 0, ch, st, t);
}

static inline void mx_txn(mx *m, uint32_t c, eng_time t, int64_t cents, uint32_t store)
{
    assert_true(m->nx < MX_MAX);
    m->xcust[m->nx] = c;
    m->xt[m->nx] = t;
    m->xamt[m->nx] = cents;
    m->xstore[m->nx] = store;
    m->nx++;
}

/* Columns over the rows added so far. */
static inline void mx_columns(mx *m)
{
    eng_touch_columns tc = ENG_TOUCH_COLUMNS_INIT;
    tc.n = m->nt;
    tc.customer = m->tcust;
    tc.message = m->tmsg;
    tc.channel = m->tch;
    tc.status = m->tst;
    tc.time = m->tt;
    m->tc = tc;
    m->fields[0] = (eng_rule_field){"amount", ENG_RT_DECIMAL, 2};
    m->fields[1] = (eng_rule_field){"store", ENG_RT_STRING, 0};
    m->fields[2] = (eng_rule_field){"time", ENG_RT_TIMESTAMP, 0};
    memset(m->cols, 0, sizeof m->cols);
    m->cols[0].type = ENG_RT_DECIMAL;
    m->cols[0].scale = 2;
    m->cols[0].data = m->xamt;
    m->cols[1].type = ENG_RT_STRING;
    m->cols[1].data = m->xstore;
    m->cols[1].dict = mx_store_names;
    m->cols[1].dict_size = MX_STORES;
    m->cols[2].type = ENG_RT_TIMESTAMP;
    m->cols[2].data = m->xt;
    eng_txn_columns xc = ENG_TXN_COLUMNS_INIT;
    xc.n = m->nx;
    xc.customer = m->xcust;
    xc.time = m->xt;
    xc.amount = m->xamt;
    xc.amount_scale = 2;
    xc.fields = m->fields;
    xc.nfields = 3;
    xc.columns = m->cols;
    m->xc = xc;
}

static inline eng_engine *mx_engine(void)
{
    test_alloc_reset();
    eng_store *st = NULL;
    assert_int_equal(eng_store_memory_new(test_alloc_get(), &st), ENG_OK);
    return test_engine_open(st);
}

#endif
