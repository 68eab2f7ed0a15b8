/* Every example in docs/rules-language.md (blocks marked `example`) compiles
 * and evaluates to what the page says, or fails with the code, position and
 * message it shows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "rules_test_util.h"

static const char *doc_path;

static const eng_rule_field doc_fields[] = {
    {"tier", ENG_RT_STRING, 0},   {"city", ENG_RT_STRING, 0},  {"days_since_purchase", ENG_RT_INT, 0},
    {"amount", ENG_RT_DECIMAL, 2}, {"vip", ENG_RT_BOOL, 0},    {"birthday", ENG_RT_DATE, 0},
    {"last_seen", ENG_RT_TIMESTAMP, 0}, {"items", ENG_RT_STRING_LIST, 0}, {"email", ENG_RT_STRING, 0},
    /* contact and consent, as filter groups see them (issue 16) */
    {"reachable.email", ENG_RT_BOOL, 0}, {"reachable.sms", ENG_RT_BOOL, 0}, {"consent.email", ENG_RT_BOOL, 0},
    {"consent.sms", ENG_RT_BOOL, 0}, {"optout.email", ENG_RT_TIMESTAMP, 0}, {"optout.sms", ENG_RT_TIMESTAMP, 0}};
#define DOC_NFIELDS (sizeof doc_fields / sizeof doc_fields[0])

static rt_row doc_row(void)
{
    rt_row r;
    memset(&r, 0, sizeof r);
    r.v[0] = rt_str("gold");
    r.v[1] = rt_str("Pune");
    r.v[2] = rt_int(ENG_RT_INT, 45, 0);
    r.v[3] = rt_int(ENG_RT_DECIMAL, 300050, 2);
    r.v[4] = rt_int(ENG_RT_BOOL, 1, 0);
    r.v[5] = rt_int(ENG_RT_DATE, 20000, 0); /* 2024-10-04 */
    r.v[6] = rt_int(ENG_RT_TIMESTAMP, RT_NOW - 3 * ENG_DAY, 0);
    static const char *const items[] = {"SKU-1", "SKU-22"};
    r.v[7].type = ENG_RT_STRING_LIST;
    r.v[7].v.list.items = items;
    r.v[7].v.list.count = 2;
    r.v[8] = rt_null();
    r.v[9] = rt_int(ENG_RT_BOOL, 1, 0);  /* reachable.email */
    r.v[10] = rt_int(ENG_RT_BOOL, 0, 0); /* reachable.sms */
    r.v[11] = rt_int(ENG_RT_BOOL, 1, 0); /* consent.email */
    r.v[12] = rt_int(ENG_RT_BOOL, 1, 0); /* consent.sms */
    r.v[13] = rt_null();                 /* optout.email */
    r.v[14] = rt_int(ENG_RT_TIMESTAMP, RT_NOW - 10 * ENG_DAY, 0); /* optout.sms */
    return r;
}

/* The same row as a one-row column batch: every example runs through the
 * batch evaluator too. */
typedef struct one_batch {
    eng_rule_column cols[DOC_NFIELDS];
    eng_rule_batch b;
    uint64_t nulls[DOC_NFIELDS];
    int64_t i64[DOC_NFIELDS];
    int32_t i32[DOC_NFIELDS];
    uint8_t u8[DOC_NFIELDS];
    uint32_t code[DOC_NFIELDS], off[2], list_codes[8];
    const char *dict[DOC_NFIELDS];
    uint32_t dict_len[DOC_NFIELDS];
} one_batch;

static void to_batch(const rt_row *r, one_batch *o)
{
    memset(o, 0, sizeof *o);
    for (size_t f = 0; f < DOC_NFIELDS; f++) {
        const eng_rule_value *v = &r->v[f];
        eng_rule_column *c = &o->cols[f];
        c->type = doc_fields[f].type;
        c->scale = doc_fields[f].scale;
        o->nulls[f] = v->type == ENG_RT_NULL;
        c->nulls = &o->nulls[f];
        switch (c->type) {
        case ENG_RT_BOOL: o->u8[f] = (uint8_t)(v->type != ENG_RT_NULL && v->v.b); c->data = &o->u8[f]; break;
        case ENG_RT_DATE: o->i32[f] = v->type == ENG_RT_NULL ? 0 : v->v.date; c->data = &o->i32[f]; break;
        case ENG_RT_STRING:
            o->dict[f] = v->type == ENG_RT_NULL ? "" : v->v.s.ptr;
            o->dict_len[f] = v->type == ENG_RT_NULL ? 0 : (uint32_t)v->v.s.len;
            c->dict = &o->dict[f];
            c->dict_len = &o->dict_len[f];
            c->dict_size = 1;
            c->data = &o->code[f];
            break;
        case ENG_RT_STRING_LIST:
            o->off[1] = v->type == ENG_RT_NULL ? 0 : (uint32_t)v->v.list.count;
            for (uint32_t k = 0; k < o->off[1]; k++)
                o->list_codes[k] = k;
            c->dict = v->type == ENG_RT_NULL ? o->dict : v->v.list.items;
            c->dict_size = o->off[1];
            c->list_codes = o->list_codes;
            c->data = o->off;
            break;
        default: o->i64[f] = v->type == ENG_RT_NULL ? 0 : v->v.i; c->data = &o->i64[f]; break;
        }
    }
    o->b = (eng_rule_batch){ENG_RULE_BATCH_VERSION, 1, o->cols, DOC_NFIELDS, NULL};
}

static const char *code_name(int code)
{
    switch (code) {
    case ENG_EPARSE: return "ENG_EPARSE";
    case ENG_ETYPE: return "ENG_ETYPE";
    case ENG_ETOOBIG: return "ENG_ETOOBIG";
    case ENG_EINVAL: return "ENG_EINVAL";
    case ENG_OK: return "ENG_OK";
    default: return "other";
    }
}

static char *trim(char *s)
{
    while (*s == ' ')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = 0;
    return s;
}

static void doc_examples(void **st)
{
    (void)st;
    test_alloc_reset();
    eng_engine *e = rt_engine();
    eng_rule_options o = rt_opts();
    o.fields = doc_fields;
    o.nfields = DOC_NFIELDS;
    rt_row row = doc_row();
    static one_batch batch;
    to_batch(&row, &batch);
    FILE *f = fopen(doc_path, "r");
    assert_non_null(f);
    char line[1024];
    int in_block = 0, n = 0;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "```", 3) == 0) {
            in_block = !in_block && strncmp(line, "```example", 10) == 0;
            continue;
        }
        if (!in_block)
            continue;
        char *arrow = strstr(line, " =>");
        assert_non_null(arrow);
        *arrow = 0;
        char *want = trim(arrow + 3), *text = trim(line);
        /* "\n" in an example stands for a line break, "\xff" for the byte 0xff */
        for (char *p = text; (p = strstr(p, "\\n")) != NULL;) {
            *p = '\n';
            memmove(p + 1, p + 2, strlen(p + 2) + 1);
        }
        for (char *p = text; (p = strstr(p, "\\xff")) != NULL;) {
            *p = (char)0xff;
            memmove(p + 1, p + 4, strlen(p + 4) + 1);
        }
        eng_rule *r = NULL;
        int rc = eng_rule_compile(e, text, &o, &r);
        if (strncmp(want, "ENG_", 4) == 0) {
            char code[32], pos[32];
            int used = 0;
            assert_int_equal(sscanf(want, "%31s %31s %n", code, pos, &used), 2);
            const char *msg = want + used;
            if (strcmp(code_name(rc), code) != 0 || strcmp(eng_error_last()->detail, pos) != 0 ||
                !strstr(eng_error_last()->message, msg))
                fail_msg("'%s': got %s %s '%s', the docs say %s", text, code_name(rc), eng_error_last()->detail,
                         eng_error_last()->message, want);
        } else {
            if (rc)
                fail_msg("'%s': %s", text, eng_error_last()->message);
            int res = -1;
            assert_int_equal(eng_rule_eval_row(r, rt_get, &row, &res), ENG_OK);
            const char *got = res == ENG_RULE_TRUE ? "true" : res == ENG_RULE_FALSE ? "false" : "null";
            if (strcmp(got, want) != 0)
                fail_msg("'%s' gives %s, the docs say %s", text, got, want);
            uint64_t sel = 0;
            size_t cnt = 0;
            if (eng_rule_eval_batch(r, &batch.b, NULL, &sel, &cnt) != ENG_OK || (sel & 1) != (res == ENG_RULE_TRUE))
                fail_msg("'%s': the batch evaluator selects %d (%s)", text, (int)(sel & 1), eng_error_last()->message);
            eng_rule_free(r);
        }
        n++;
    }
    fclose(f);
    assert_true(n >= 50);

    /* the builder example */
    eng_rule_builder *b = NULL;
    assert_int_equal(eng_rule_builder_new(e, &b), ENG_OK);
    eng_rule_value tiers[2] = {rt_str("gold"), rt_str("silver")}, mumbai = rt_str("Mumbai");
    eng_rule_value range[2] = {rt_int(ENG_RT_INT, 1000, 0), rt_int(ENG_RT_INT, 5000, 0)};
    assert_int_equal(eng_rule_builder_add(b, "tier", ENG_RULE_OP_IN, 0, tiers, 2), ENG_OK);
    assert_int_equal(eng_rule_builder_add(b, "city", ENG_RULE_OP_EQ, 1, &mumbai, 1), ENG_OK);
    assert_int_equal(eng_rule_builder_group(b), ENG_OK);
    assert_int_equal(eng_rule_builder_add(b, "amount", ENG_RULE_OP_BETWEEN, 0, range, 2), ENG_OK);
    eng_rule *from_builder = NULL, *from_text = NULL;
    assert_int_equal(eng_rule_builder_compile(b, &o, &from_builder), ENG_OK);
    assert_int_equal(eng_rule_compile(e,
        "(tier in (\"gold\", \"silver\") and not city == \"Mumbai\") or amount between 1000 and 5000", &o,
        &from_text), ENG_OK);
    char t1[256], t2[256];
    assert_int_equal(eng_rule_text(from_builder, t1, sizeof t1, NULL), ENG_OK);
    assert_int_equal(eng_rule_text(from_text, t2, sizeof t2, NULL), ENG_OK);
    assert_string_equal(t1, t2);
    eng_rule_free(from_builder);
    eng_rule_free(from_text);
    eng_rule_builder_free(b);
    eng_close(e);
    test_alloc_assert_clean();
}

int main(int argc, char **argv)
{
    doc_path = argc > 1 ? argv[1] : "docs/rules-language.md";
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(doc_examples),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
