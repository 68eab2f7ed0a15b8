/* Shared by the rules tests: an engine on the counting allocator, a small
 * customer schema, and a row made of eng_rule_value cells. */
#ifndef RULES_TEST_UTIL_H
#define RULES_TEST_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "engage.h"
#include "test_alloc.h"

/* 2026-11-25T12:00:00Z */
#define RT_NOW ((eng_time)1795608000000)

static const eng_rule_field rt_fields[] = {
    {"tier", ENG_RT_STRING, 0},
    {"city", ENG_RT_STRING, 0},
    {"days_since_purchase", ENG_RT_INT, 0},
    {"amount", ENG_RT_DECIMAL, 2},
    {"vip", ENG_RT_BOOL, 0},
    {"birthday", ENG_RT_DATE, 0},
    {"last_seen", ENG_RT_TIMESTAMP, 0},
    {"items", ENG_RT_STRING_LIST, 0},
};
#define RT_NFIELDS (sizeof rt_fields / sizeof rt_fields[0])

static inline eng_rule_options rt_opts(void)
{
    eng_rule_options o;
    eng_rule_options_init(&o, ENG_RULE_OPTIONS_VERSION);
    o.fields = rt_fields;
    o.nfields = RT_NFIELDS;
    o.now = RT_NOW;
    return o;
}

typedef struct rt_row {
    eng_rule_value v[16];
} rt_row;

static inline int rt_get(uint32_t field, eng_rule_value *out, void *user)
{
    *out = ((rt_row *)user)->v[field];
    return ENG_OK;
}

static inline eng_rule_value rt_str(const char *s)
{
    eng_rule_value v;
    memset(&v, 0, sizeof v);
    v.type = ENG_RT_STRING;
    v.v.s.ptr = s;
    v.v.s.len = strlen(s);
    return v;
}

static inline eng_rule_value rt_int(eng_rule_type t, int64_t i, int scale)
{
    eng_rule_value v;
    memset(&v, 0, sizeof v);
    v.type = t;
    v.scale = scale;
    if (t == ENG_RT_DATE)
        v.v.date = (int32_t)i;
    else if (t == ENG_RT_BOOL)
        v.v.b = (int)i;
    else
        v.v.i = i;
    return v;
}

static inline eng_rule_value rt_null(void)
{
    eng_rule_value v;
    memset(&v, 0, sizeof v);
    return v;
}

static inline eng_engine *rt_engine(void)
{
    eng_config cfg;
    eng_config_init(&cfg, ENG_CONFIG_VERSION);
    cfg.allocator = test_alloc_get();
    eng_engine *e = NULL;
    if (eng_open(&cfg, &e) != ENG_OK)
        return NULL;
    return e;
}

/* The dictionary c0 .. c<n-1> (rt_free_dict frees it). */
static inline char **rt_make_dict(uint32_t n)
{
    char **d = malloc(n * sizeof *d);
    for (uint32_t k = 0; d && k < n; k++) {
        d[k] = malloc(12);
        if (d[k])
            snprintf(d[k], 12, "c%u", k);
    }
    return d;
}

static inline void rt_free_dict(char **d, uint32_t n)
{
    for (uint32_t k = 0; d && k < n; k++)
        free(d[k]);
    free(d);
}

#endif
