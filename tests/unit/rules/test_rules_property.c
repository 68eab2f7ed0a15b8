/* Property test: thousands of random expressions over random data. For each,
 * the compiled rule evaluated row by row and over the column batch must agree
 * with the small reference interpreter below, which walks its own syntax tree
 * plainly (materialised strings, strcmp, 128-bit cross-scaled integers,
 * libc's timegm/gmtime for dates). Deterministic seed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "rules_test_util.h"
#include "test_util.h"

/* ---------- deterministic RNG ---------- */
static uint64_t rng_state;
static uint32_t rnd(void)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(rng_state >> 33);
}
static int rn(int n) { return (int)(rnd() % (uint32_t)n); }

/* ---------- schema ---------- */
enum { F_S1, F_S2, F_I1, F_I2, F_D1, F_B1, F_DT, F_TS, F_L1, NF };
static const eng_rule_field fields[NF] = {
    {"s1", ENG_RT_STRING, 0}, {"s2", ENG_RT_STRING, 0}, {"i1", ENG_RT_INT, 0},
    {"i2", ENG_RT_INT, 0},    {"d1", ENG_RT_DECIMAL, 2}, {"b1", ENG_RT_BOOL, 0},
    {"dt", ENG_RT_DATE, 0},   {"ts", ENG_RT_TIMESTAMP, 0}, {"l1", ENG_RT_STRING_LIST, 0}};
static const char *const dict[] = {"Pune", "pune", "PUNE", "Mumbai", "", "Delhi NCR", "\xc3\xa9-ville", "un", "gold",
                                   "Gold"};
#define NDICT 10
#define TODAY 20782 /* RT_NOW's day */
#define DAYMS 86400000LL

/* ---------- reference values ---------- */
enum { FAM_NUM, FAM_STR, FAM_DATE, FAM_TS, FAM_BOOL, FAM_LIST };
typedef struct rv {
    int null;
    int fam;
    __int128 i; int scale; /* NUM: i / 10^scale; DATE, TS, BOOL: i */
    char s[64];            /* STR */
    int list[4], nlist;    /* LIST: dict codes */
} rv;

/* ---------- data ---------- */
#define MAXROWS 300
typedef struct cell { int null; int64_t i; uint32_t code; int nlist; uint32_t list[4]; } cell;
static cell data[MAXROWS][NF];
static int nrows, dscale; /* dscale: scale the d1 column is stored at (2 or 3) */

/* ---------- reference syntax tree ---------- */
enum { K_LIT, K_FIELD, K_CALL, K_AND, K_OR, K_NOT, K_CMP, K_IN, K_BETWEEN, K_ISNULL, K_STROP, K_QUANT, K_VAR };
enum { FN_LOWER, FN_UPPER, FN_LEN, FN_DAYS, FN_TODAY };
typedef struct tn {
    int k, op, neg, fam, field;
    rv lit;
    struct tn *kid[8];
    int nk;
} tn;
static tn pool[4096];
static int npool;
static tn *mk(int k)
{
    tn *n = &pool[npool++];
    memset(n, 0, sizeof *n);
    n->k = k;
    return n;
}

static int64_t pow10i(int k) { int64_t p = 1; while (k--) p *= 10; return p; }

static tn *gen_literal(int fam)
{
    tn *n = mk(K_LIT);
    n->fam = fam;
    n->lit.fam = fam;
    switch (fam) {
    case FAM_NUM:
        n->lit.scale = rn(3) ? 0 : rn(4);
        n->lit.i = (__int128)(rn(60) - 6) * pow10i(n->lit.scale) + (n->lit.scale ? rn((int)pow10i(n->lit.scale)) : 0);
        if (rn(8) == 0)
            n->lit.i = -n->lit.i;
        break;
    case FAM_STR: {
        static const char *const extra[] = {"P", "ne", "NE", "pu", "x", "Delhi", "ville", "\xc3\xa9", "a\"b", "u"};
        const char *s = rn(2) ? dict[rn(NDICT)] : extra[rn(10)];
        snprintf(n->lit.s, sizeof n->lit.s, "%s", s);
        break;
    }
    case FAM_DATE: n->lit.i = TODAY - 40 + rn(50); break;
    case FAM_TS: n->lit.i = ((int64_t)TODAY - 10 + rn(12)) * DAYMS + (int64_t)rn(24) * 3600000; break;
    default: n->lit.i = rn(2); break;
    }
    return n;
}

static tn *field_node(int f, int fam)
{
    tn *n = mk(K_FIELD);
    n->field = f;
    n->fam = fam;
    return n;
}

static int in_quant; /* generating the condition of any()/count(): the item x is in scope */
static tn *gen_bool(int depth);

/* any(x in l1, cond) or count(x in l1, cond) */
static tn *gen_quant(int is_count)
{
    tn *n = mk(K_QUANT);
    n->op = is_count;
    n->fam = is_count ? FAM_NUM : FAM_BOOL;
    n->kid[0] = field_node(F_L1, FAM_LIST);
    in_quant = 1;
    n->kid[1] = gen_bool(1);
    in_quant = 0;
    n->nk = 2;
    return n;
}

static tn *gen_operand(int fam, int depth)
{
    int r = rn(10);
    tn *n;
    if (fam == FAM_STR && in_quant && rn(2)) {
        n = mk(K_VAR);
        n->fam = FAM_STR;
        return n;
    }
    if (fam == FAM_NUM && !in_quant && depth > 0 && rn(15) == 0)
        return gen_quant(1);
    switch (fam) {
    case FAM_NUM:
        if (r < 3) return field_node(F_I1, fam);
        if (r < 4) return field_node(F_I2, fam);
        if (r < 6) return field_node(F_D1, fam);
        if (r < 7 && depth > 0) {
            n = mk(K_CALL);
            n->fam = fam;
            int which = rn(3);
            n->op = which == 2 ? FN_DAYS : FN_LEN;
            n->kid[0] = which == 0 ? gen_operand(FAM_STR, depth - 1)
                        : which == 1 ? field_node(F_L1, FAM_LIST)
                        : rn(2) ? gen_operand(FAM_DATE, depth - 1) : field_node(F_TS, FAM_TS);
            n->nk = 1;
            return n;
        }
        return gen_literal(fam);
    case FAM_STR:
        if (r < 3) return field_node(F_S1, fam);
        if (r < 5) return field_node(F_S2, fam);
        if (r < 7 && depth > 0) {
            n = mk(K_CALL);
            n->fam = fam;
            n->op = rn(2) ? FN_LOWER : FN_UPPER;
            n->kid[0] = gen_operand(FAM_STR, depth - 1);
            n->nk = 1;
            return n;
        }
        return gen_literal(fam);
    case FAM_DATE:
        if (r < 5) return field_node(F_DT, fam);
        if (r < 6) { n = mk(K_CALL); n->fam = fam; n->op = FN_TODAY; return n; }
        return gen_literal(fam);
    case FAM_TS:
        if (r < 5) return field_node(F_TS, fam);
        return gen_literal(fam);
    default:
        if (r < 6) return field_node(F_B1, fam);
        return gen_literal(fam);
    }
}

static tn *gen_pred(void)
{
    int r = rn(20);
    tn *n;
    int fam = rn(5); /* NUM STR DATE TS BOOL */
    if (r < 6) {
        n = mk(K_CMP);
        n->op = fam == FAM_BOOL ? rn(2) : rn(6);
        n->kid[0] = gen_operand(fam, 2);
        n->kid[1] = gen_operand(fam, 2);
        n->nk = 2;
    } else if (r < 9) {
        n = mk(K_IN);
        n->neg = rn(3) == 0;
        n->kid[0] = gen_operand(fam, 2);
        n->nk = 1 + 1 + rn(5);
        for (int k = 1; k < n->nk; k++)
            n->kid[k] = gen_literal(fam);
    } else if (r < 11) {
        if (fam == FAM_BOOL)
            fam = FAM_NUM;
        n = mk(K_BETWEEN);
        n->neg = rn(3) == 0;
        n->kid[0] = gen_operand(fam, 2);
        n->kid[1] = rn(4) ? gen_literal(fam) : gen_operand(fam, 1);
        n->kid[2] = rn(4) ? gen_literal(fam) : gen_operand(fam, 1);
        n->nk = 3;
    } else if (r < 13) {
        n = mk(K_ISNULL);
        n->neg = rn(2);
        n->kid[0] = rn(6) == 0 ? field_node(F_L1, FAM_LIST) : gen_operand(fam, 1);
        n->nk = 1;
    } else if (r < 16) {
        n = mk(K_STROP);
        n->op = rn(3);
        n->neg = rn(4) == 0;
        n->kid[0] = gen_operand(FAM_STR, 2);
        n->kid[1] = rn(3) ? gen_literal(FAM_STR) : gen_operand(FAM_STR, 1);
        n->nk = 2;
    } else if (r < 17) {
        n = mk(K_STROP);
        n->op = 0;
        n->neg = rn(4) == 0;
        n->kid[0] = field_node(F_L1, FAM_LIST);
        n->kid[1] = gen_operand(FAM_STR, 1);
        n->nk = 2;
    } else if (r < 18 && !in_quant) {
        n = gen_quant(0);
    } else if (r < 19) {
        n = field_node(F_B1, FAM_BOOL);
    } else {
        n = gen_literal(FAM_BOOL);
    }
    if (n->k != K_FIELD && n->k != K_LIT)
        n->fam = FAM_BOOL;
    return n;
}


static tn *gen_bool(int depth)
{
    int r = rn(10);
    if (depth <= 0 || r < 4)
        return gen_pred();
    tn *n;
    if (r < 8) {
        n = mk(r < 6 ? K_AND : K_OR);
        n->nk = 2 + rn(3);
        for (int k = 0; k < n->nk; k++)
            n->kid[k] = gen_bool(depth - 1);
    } else {
        n = mk(K_NOT);
        n->kid[0] = gen_bool(depth - 1);
        n->nk = 1;
    }
    n->fam = FAM_BOOL;
    return n;
}

/* ---------- printing the text form ---------- */
typedef struct sb { char b[8192]; size_t n; } sb;
__attribute__((format(printf, 2, 3))) static void out(sb *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(s->b + s->n, sizeof s->b - s->n, fmt, ap);
    va_end(ap);
    if (k > 0)
        s->n += (size_t)k < sizeof s->b - s->n ? (size_t)k : sizeof s->b - s->n - 1;
}
static const char *kw(const char *lower, const char *upper) { return rn(4) ? lower : upper; }

static void print_day(sb *s, int64_t days)
{
    time_t t = (time_t)(days * 86400);
    struct tm tm;
    gmtime_r(&t, &tm);
    out(s, "date(\"%04d-%02d-%02d\")", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

static void print_lit(sb *s, const rv *v)
{
    switch (v->fam) {
    case FAM_NUM: {
        __int128 a = v->i < 0 ? -v->i : v->i;
        int64_t p = pow10i(v->scale);
        if (v->scale)
            out(s, "%s%lld.%0*lld", v->i < 0 ? "-" : "", (long long)(a / p), v->scale, (long long)(a % p));
        else
            out(s, "%lld", (long long)v->i);
        break;
    }
    case FAM_STR: {
        char q = rn(2) ? '"' : '\'';
        out(s, "%c", q);
        for (const char *p = v->s; *p; p++)
            out(s, (*p == '"' || *p == '\'' || *p == '\\') ? "\\%c" : "%c", *p);
        out(s, "%c", q);
        break;
    }
    case FAM_DATE: print_day(s, (int64_t)v->i); break;
    case FAM_TS: {
        time_t t = (time_t)(v->i / 1000);
        struct tm tm;
        gmtime_r(&t, &tm);
        out(s, "timestamp(\"%04d-%02d-%02dT%02d:%02d:%02dZ\")", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
            tm.tm_hour, tm.tm_min, tm.tm_sec);
        break;
    }
    default: out(s, "%s", v->i ? kw("true", "TRUE") : kw("false", "False")); break;
    }
}

static void print_node(sb *s, const tn *n, int parent_prec);

static void print_operand(sb *s, const tn *n)
{
    /* operands of predicates are atoms unless compound: parenthesise compound ones */
    if (n->k == K_LIT || n->k == K_FIELD || n->k == K_CALL || n->k == K_VAR || n->k == K_QUANT)
        print_node(s, n, 10);
    else {
        out(s, "(");
        print_node(s, n, 0);
        out(s, ")");
    }
}

static void print_node(sb *s, const tn *n, int parent_prec)
{
    static const char *const cmps[] = {"==", "!=", "<", "<=", ">", ">="};
    static const char *const fns[] = {"lower", "upper", "len", "days_since", "today"};
    switch (n->k) {
    case K_LIT: print_lit(s, &n->lit); return;
    case K_FIELD: out(s, "%s", fields[n->field].name); return;
    case K_VAR: out(s, "x"); return;
    case K_QUANT:
        out(s, "%s(x in ", n->op ? "count" : "any");
        print_node(s, n->kid[0], 0);
        out(s, ", ");
        print_node(s, n->kid[1], 0);
        out(s, ")");
        return;
    case K_CALL:
        out(s, "%s(", fns[n->op]);
        if (n->nk)
            print_node(s, n->kid[0], 0);
        out(s, ")");
        return;
    case K_AND:
    case K_OR: {
        int prec = n->k == K_OR ? 1 : 2;
        int paren = prec < parent_prec || rn(5) == 0;
        if (paren)
            out(s, "(");
        for (int k = 0; k < n->nk; k++) {
            if (k)
                out(s, " %s ", n->k == K_AND ? kw("and", "AND") : kw("or", "Or"));
            print_node(s, n->kid[k], prec + 1);
        }
        if (paren)
            out(s, ")");
        return;
    }
    case K_NOT:
        out(s, "%s ", kw("not", "NOT"));
        print_node(s, n->kid[0], 3);
        return;
    default:
        break;
    }
    int paren = parent_prec > 3 || rn(6) == 0;
    if (paren)
        out(s, "(");
    print_operand(s, n->kid[0]);
    switch (n->k) {
    case K_CMP: {
        const char *op = cmps[n->op];
        if (n->op == 0 && rn(3) == 0) op = "=";
        if (n->op == 1 && rn(3) == 0) op = "<>";
        out(s, " %s ", op);
        print_operand(s, n->kid[1]);
        break;
    }
    case K_IN:
        out(s, n->neg ? " not in (" : " in (");
        for (int k = 1; k < n->nk; k++) {
            out(s, k > 1 ? ", " : "");
            print_operand(s, n->kid[k]);
        }
        out(s, ")");
        break;
    case K_BETWEEN:
        out(s, n->neg ? " not between " : " between ");
        print_operand(s, n->kid[1]);
        out(s, " and ");
        print_operand(s, n->kid[2]);
        break;
    case K_ISNULL: out(s, n->neg ? " is not null" : " is null"); break;
    case K_STROP:
        out(s, "%s%s ", n->neg ? " not" : "", n->op == 0 ? " contains" : n->op == 1 ? " starts with" : " ends with");
        print_operand(s, n->kid[1]);
        break;
    default: break;
    }
    if (paren)
        out(s, ")");
}

/* ---------- reference interpreter ---------- */
static rv vnull(void) { rv v; memset(&v, 0, sizeof v); v.null = 1; return v; }
static rv vbool(int b) { rv v; memset(&v, 0, sizeof v); v.fam = FAM_BOOL; v.i = b; return v; }
static int tri(const rv *v) { return v->null ? 2 : (int)(v->i != 0); }
static rv vtri(int t) { return t == 2 ? vnull() : vbool(t); }

static int ref_cmp(const rv *a, const rv *b)
{
    if (a->fam == FAM_STR) {
        int c = strcmp(a->s, b->s);
        return c < 0 ? -1 : c > 0;
    }
    __int128 x = a->i, y = b->i;
    if (a->fam == FAM_NUM) {
        x = a->i * pow10i(b->scale);
        y = b->i * pow10i(a->scale);
    }
    return x < y ? -1 : x > y;
}

static const char *cur_item; /* the item x while evaluating a quantifier's condition */

static rv ref_eval(const tn *n, int row)
{
    rv a, b, c;
    switch (n->k) {
    case K_LIT: return n->lit;
    case K_VAR: {
        rv v;
        memset(&v, 0, sizeof v);
        v.fam = FAM_STR;
        snprintf(v.s, sizeof v.s, "%s", cur_item);
        return v;
    }
    case K_QUANT: {
        a = ref_eval(n->kid[0], row);
        if (a.null)
            return vnull();
        int hits = 0, nulls = 0;
        for (int k = 0; k < a.nlist; k++) {
            cur_item = dict[a.list[k]];
            b = ref_eval(n->kid[1], row);
            hits += !b.null && b.i;
            nulls += b.null;
        }
        if (n->op) {
            rv v;
            memset(&v, 0, sizeof v);
            v.fam = FAM_NUM;
            v.i = hits;
            return v;
        }
        return hits ? vbool(1) : nulls ? vnull() : vbool(0);
    }
    case K_FIELD: {
        const cell *cl = &data[row][n->field];
        if (cl->null)
            return vnull();
        rv v;
        memset(&v, 0, sizeof v);
        v.fam = n->fam;
        switch (n->field) {
        case F_S1: case F_S2: snprintf(v.s, sizeof v.s, "%s", dict[cl->code]); break;
        case F_D1: v.i = cl->i; v.scale = dscale; break;
        case F_L1: v.nlist = cl->nlist; for (int k = 0; k < cl->nlist; k++) v.list[k] = (int)cl->list[k]; break;
        default: v.i = cl->i; break;
        }
        return v;
    }
    case K_CALL: {
        if (n->op == FN_TODAY) {
            rv v = vbool(0);
            v.fam = FAM_DATE;
            v.i = TODAY;
            return v;
        }
        a = ref_eval(n->kid[0], row);
        if (a.null)
            return vnull();
        rv v;
        memset(&v, 0, sizeof v);
        if (n->op == FN_LOWER || n->op == FN_UPPER) {
            v.fam = FAM_STR;
            for (size_t i = 0; a.s[i]; i++) {
                char ch = a.s[i];
                if (n->op == FN_LOWER && ch >= 'A' && ch <= 'Z') ch = (char)(ch + 32);
                if (n->op == FN_UPPER && ch >= 'a' && ch <= 'z') ch = (char)(ch - 32);
                v.s[i] = ch;
            }
            return v;
        }
        v.fam = FAM_NUM;
        if (n->op == FN_LEN) {
            if (a.fam == FAM_LIST)
                v.i = a.nlist;
            else
                for (size_t i = 0; a.s[i]; i++)
                    v.i += ((unsigned char)a.s[i] & 0xC0) != 0x80;
            return v;
        }
        /* days_since */
        int64_t day = a.fam == FAM_TS ? (int64_t)(a.i >= 0 ? a.i / DAYMS : -((-a.i + DAYMS - 1) / DAYMS)) : (int64_t)a.i;
        v.i = TODAY - day;
        return v;
    }
    case K_AND:
    case K_OR: {
        int isand = n->k == K_AND, res = isand ? 1 : 0;
        for (int k = 0; k < n->nk; k++) {
            rv x = ref_eval(n->kid[k], row);
            int t = tri(&x);
            if (isand)
                res = (res == 0 || t == 0) ? 0 : (res == 2 || t == 2) ? 2 : 1;
            else
                res = (res == 1 || t == 1) ? 1 : (res == 2 || t == 2) ? 2 : 0;
        }
        return vtri(res);
    }
    case K_NOT:
        a = ref_eval(n->kid[0], row);
        return a.null ? vnull() : vbool(!a.i);
    case K_CMP: {
        a = ref_eval(n->kid[0], row);
        b = ref_eval(n->kid[1], row);
        if (a.null || b.null)
            return vnull();
        int cm = ref_cmp(&a, &b);
        int r[] = {cm == 0, cm != 0, cm < 0, cm <= 0, cm > 0, cm >= 0};
        return vbool(r[n->op]);
    }
    case K_IN: {
        a = ref_eval(n->kid[0], row);
        if (a.null)
            return vnull();
        int found = 0;
        for (int k = 1; k < n->nk; k++) {
            b = ref_eval(n->kid[k], row);
            found |= ref_cmp(&a, &b) == 0;
        }
        return vbool(found != n->neg);
    }
    case K_BETWEEN: {
        a = ref_eval(n->kid[0], row);
        b = ref_eval(n->kid[1], row);
        c = ref_eval(n->kid[2], row);
        if (a.null)
            return vnull();
        int lo = b.null ? 2 : ref_cmp(&a, &b) >= 0, hi = c.null ? 2 : ref_cmp(&a, &c) <= 0;
        int res = (lo == 0 || hi == 0) ? 0 : (lo == 2 || hi == 2) ? 2 : 1;
        if (res == 2)
            return vnull();
        return vbool(n->neg ? !res : res);
    }
    case K_ISNULL:
        a = ref_eval(n->kid[0], row);
        return vbool(a.null != n->neg);
    case K_STROP: {
        a = ref_eval(n->kid[0], row);
        b = ref_eval(n->kid[1], row);
        if (a.null || b.null)
            return vnull();
        int r;
        if (a.fam == FAM_LIST) {
            r = 0;
            for (int k = 0; k < a.nlist; k++)
                r |= strcmp(dict[a.list[k]], b.s) == 0;
        } else if (n->op == 0) {
            r = strstr(a.s, b.s) != NULL;
        } else if (n->op == 1) {
            r = strncmp(a.s, b.s, strlen(b.s)) == 0;
        } else {
            size_t la = strlen(a.s), lb = strlen(b.s);
            r = lb <= la && strcmp(a.s + la - lb, b.s) == 0;
        }
        return vbool(n->neg ? !r : r);
    }
    default: return vnull();
    }
}

/* ---------- data, row accessor and batch ---------- */
static const char *items_of[MAXROWS][4];
static uint32_t col_codes[2][MAXROWS], col_lists_off[MAXROWS + 1], col_list_codes[MAXROWS * 4];
static int64_t col_i64[4][MAXROWS]; /* i1 i2 d1 ts */
static uint8_t col_b[MAXROWS];
static int32_t col_dt[MAXROWS];
static uint64_t col_nulls[NF][(MAXROWS + 63) / 64];
static eng_rule_column cols[NF];
static uint32_t dict_lens[NDICT];

static void gen_data(void)
{
    nrows = 1 + rn(MAXROWS);
    dscale = 2 + rn(2);
    memset(col_nulls, 0, sizeof col_nulls);
    uint32_t nl = 0;
    for (int r = 0; r < nrows; r++) {
        col_lists_off[r] = nl;
        for (int f = 0; f < NF; f++) {
            cell *c = &data[r][f];
            memset(c, 0, sizeof *c);
            c->null = rn(8) == 0;
            switch (f) {
            case F_S1: case F_S2: c->code = (uint32_t)rn(NDICT); break;
            case F_I1: case F_I2: c->i = rn(56) - 6; break;
            case F_D1: c->i = (int64_t)(rn(5600) - 600) * (dscale == 3 ? 10 : 1) + (dscale == 3 && rn(3) == 0 ? rn(10) : 0); break;
            case F_B1: c->i = rn(2); break;
            case F_DT: c->i = TODAY - 40 + rn(50); break;
            case F_TS: c->i = ((int64_t)TODAY - 10 + rn(12)) * DAYMS + (int64_t)rn(24) * 3600000 + (rn(4) == 0 ? rn(1000) : 0); break;
            case F_L1:
                c->nlist = rn(4);
                for (int k = 0; k < c->nlist; k++) {
                    c->list[k] = (uint32_t)rn(NDICT);
                    items_of[r][k] = dict[c->list[k]];
                }
                break;
            }
            if (c->null)
                col_nulls[f][r / 64] |= (uint64_t)1 << (r % 64);
            /* columns (null rows hold whatever was generated) */
            switch (f) {
            case F_S1: col_codes[0][r] = c->code; break;
            case F_S2: col_codes[1][r] = c->code; break;
            case F_I1: col_i64[0][r] = c->i; break;
            case F_I2: col_i64[1][r] = c->i; break;
            case F_D1: col_i64[2][r] = c->i; break;
            case F_TS: col_i64[3][r] = c->i; break;
            case F_B1: col_b[r] = (uint8_t)c->i; break;
            case F_DT: col_dt[r] = (int32_t)c->i; break;
            case F_L1:
                for (int k = 0; k < c->nlist; k++)
                    col_list_codes[nl++] = c->list[k];
                break;
            }
        }
    }
    col_lists_off[nrows] = nl;
    for (int i = 0; i < NDICT; i++)
        dict_lens[i] = (uint32_t)strlen(dict[i]);
    memset(cols, 0, sizeof cols);
    for (int f = 0; f < NF; f++) {
        cols[f].type = fields[f].type;
        cols[f].nulls = col_nulls[f];
    }
    cols[F_S1].data = col_codes[0];
    cols[F_S2].data = col_codes[1];
    cols[F_I1].data = col_i64[0];
    cols[F_I2].data = col_i64[1];
    cols[F_D1].data = col_i64[2];
    cols[F_D1].scale = dscale;
    cols[F_TS].data = col_i64[3];
    cols[F_B1].data = col_b;
    cols[F_DT].data = col_dt;
    cols[F_L1].data = col_lists_off;
    cols[F_L1].list_codes = col_list_codes;
    /* Half the time the dictionaries are padded past nrows + 64 entries (unused
     * ones): the batch evaluator then skips per-entry tables and reads rows. */
    static const char *big_dict[400];
    static char pad[400][8];
    static uint32_t big_lens[400];
    for (int i = 0; i < 400; i++) {
        if (i < NDICT) {
            big_dict[i] = dict[i];
        } else {
            snprintf(pad[i], sizeof pad[i], "zz%d", i);
            big_dict[i] = pad[i];
        }
        big_lens[i] = (uint32_t)strlen(big_dict[i]);
    }
    int padded = rn(2);
    for (int f = 0; f < NF; f++)
        if (f == F_S1 || f == F_S2 || f == F_L1) {
            cols[f].dict = padded ? big_dict : dict;
            cols[f].dict_len = rn(2) ? (padded ? big_lens : dict_lens) : NULL;
            cols[f].dict_size = padded ? 400 : NDICT;
        }
}

static int prop_get(uint32_t f, eng_rule_value *o, void *user)
{
    int r = *(int *)user;
    const cell *c = &data[r][f];
    memset(o, 0, sizeof *o);
    if (c->null)
        return ENG_OK;
    o->type = fields[f].type;
    switch (f) {
    case F_S1: case F_S2: o->v.s.ptr = dict[c->code]; o->v.s.len = strlen(dict[c->code]); break;
    case F_D1: o->scale = dscale; o->v.i = c->i; break;
    case F_B1: o->v.b = (int)c->i; break;
    case F_DT: o->v.date = (int32_t)c->i; break;
    case F_L1: o->v.list.items = items_of[r]; o->v.list.count = (size_t)c->nlist; break;
    default: o->v.i = c->i; break;
    }
    return ENG_OK;
}

static size_t seen[3];

static void check_rule(eng_rule *rule, const tn *t, const char *text)
{
    eng_rule_batch b = {ENG_RULE_BATCH_VERSION, (size_t)nrows, cols, NF, NULL};
    uint64_t in_sel[(MAXROWS + 63) / 64], sel[(MAXROWS + 63) / 64];
    int use_in = rn(3) == 0;
    for (size_t w = 0; w < sizeof in_sel / sizeof in_sel[0]; w++)
        in_sel[w] = ((uint64_t)rnd() << 32 | rnd()) | ((uint64_t)rnd() << 7);
    size_t count = 0, want_count = 0;
    int rc = eng_rule_eval_batch(rule, &b, use_in ? in_sel : NULL, sel, &count);
    if (rc)
        fail_msg("batch eval of '%s': %s", text, eng_error_last()->message);
    for (int r = 0; r < nrows; r++) {
        rv ref = ref_eval(t, r);
        int want = tri(&ref), got = -1;
        seen[want]++;
        rc = eng_rule_eval_row(rule, prop_get, &r, &got);
        if (rc || got != want)
            fail_msg("row %d of '%s': row eval %d (rc %d), reference %d", r, text, got, rc, want);
        int in = !use_in || (in_sel[r / 64] >> (r % 64) & 1);
        int bit = (int)(sel[r / 64] >> (r % 64) & 1);
        if (bit != (in && want == ENG_RULE_TRUE))
            fail_msg("row %d of '%s': batch bit %d, reference %d (in_sel %d)", r, text, bit, want, in);
        want_count += (size_t)(in && want == ENG_RULE_TRUE);
    }
    for (int r = nrows; r < ((nrows + 63) / 64) * 64; r++)
        assert_int_equal(sel[r / 64] >> (r % 64) & 1, 0);
    assert_int_equal(count, want_count);
}

static void random_expressions(void **s)
{
    (void)s;
    test_alloc_reset();
    eng_engine *e = rt_engine();
    assert_non_null(e);
    rng_state = 20261125;
    eng_rule_options o;
    eng_rule_options_init(&o, ENG_RULE_OPTIONS_VERSION);
    o.fields = fields;
    o.nfields = NF;
    o.now = RT_NOW;
    int n_expr = 0;
    /* 40 data sets, 10 under valgrind and tsan: the first 10 are the same in both runs */
    int datasets = test_slow_runtime() ? 10 : 40;
    for (int ds = 0; ds < datasets; ds++) {
        gen_data();
        for (int k = 0; k < 100; k++, n_expr++) {
            npool = 0;
            tn *t = gen_bool(3);
            sb text = {{0}, 0};
            print_node(&text, t, 0);
            eng_rule *rule = NULL;
            if (eng_rule_compile(e, text.b, &o, &rule) != ENG_OK)
                fail_msg("compile '%s': %s", text.b, eng_error_last()->message);
            check_rule(rule, t, text.b);
            /* the canonical text compiles to a rule that agrees too */
            char canon[8192];
            assert_int_equal(eng_rule_text(rule, canon, sizeof canon, NULL), ENG_OK);
            eng_rule *again = NULL;
            if (eng_rule_compile(e, canon, &o, &again) != ENG_OK)
                fail_msg("compile canonical '%s' (of '%s'): %s", canon, text.b, eng_error_last()->message);
            char canon2[8192];
            assert_int_equal(eng_rule_text(again, canon2, sizeof canon2, NULL), ENG_OK);
            assert_string_equal(canon, canon2);
            check_rule(again, t, canon);
            eng_rule_free(again);
            eng_rule_free(rule);
        }
    }
    assert_int_equal(n_expr, datasets * 100);
    print_message("results: %zu false, %zu true, %zu null\n", seen[0], seen[1], seen[2]);
    /* the generator must exercise all three outcomes substantially */
    assert_true(seen[0] > 10000 && seen[1] > 10000 && seen[2] > 10000);
    eng_close(e);
    test_alloc_assert_clean();
}

/* ---------- builder form ---------- */
static eng_rule_value to_value(const rv *v)
{
    eng_rule_value o;
    memset(&o, 0, sizeof o);
    switch (v->fam) {
    case FAM_NUM:
        o.type = v->scale ? ENG_RT_DECIMAL : ENG_RT_INT;
        o.scale = v->scale;
        o.v.i = (int64_t)v->i;
        break;
    case FAM_STR: o.type = ENG_RT_STRING; o.v.s.ptr = v->s; o.v.s.len = strlen(v->s); break;
    case FAM_DATE: o.type = ENG_RT_DATE; o.v.date = (int32_t)v->i; break;
    case FAM_TS: o.type = ENG_RT_TIMESTAMP; o.v.i = (int64_t)v->i; break;
    default: o.type = ENG_RT_BOOL; o.v.b = (int)v->i; break;
    }
    return o;
}

/* A random builder and the same condition as a reference tree. */
static tn *gen_builder(eng_rule_builder *b)
{
    static const int fam_of[NF] = {FAM_STR, FAM_STR, FAM_NUM, FAM_NUM, FAM_NUM, FAM_BOOL, FAM_DATE, FAM_TS, FAM_LIST};
    int ngroups = rn(4);
    tn *any = mk(K_OR);
    if (ngroups == 0) {
        tn *t = gen_literal(FAM_BOOL);
        t->lit.i = 1;
        return t;
    }
    for (int g = 0; g < ngroups; g++) {
        if (g)
            assert_int_equal(eng_rule_builder_group(b), ENG_OK);
        tn *all = mk(K_AND);
        all->nk = 1 + rn(3);
        for (int c = 0; c < all->nk; c++) {
            int f = rn(NF), fam = fam_of[f];
            int op;
            if (fam == FAM_LIST)
                op = rn(2) ? ENG_RULE_OP_CONTAINS : ENG_RULE_OP_IS_NULL;
            else if (fam == FAM_STR)
                op = rn(12);
            else if (fam == FAM_BOOL)
                op = (int[]){ENG_RULE_OP_EQ, ENG_RULE_OP_NE, ENG_RULE_OP_IN, ENG_RULE_OP_IS_NULL}[rn(4)];
            else
                op = (int[]){0, 1, 2, 3, 4, 5, ENG_RULE_OP_IN, ENG_RULE_OP_BETWEEN, ENG_RULE_OP_IS_NULL}[rn(9)];
            tn *cond;
            eng_rule_value vals[6];
            size_t nv = 0;
            int vfam = fam == FAM_LIST ? FAM_STR : fam;
            if (op <= ENG_RULE_OP_GE) {
                cond = mk(K_CMP);
                cond->op = op;
                cond->kid[1] = gen_literal(vfam);
                cond->nk = 2;
                vals[nv++] = to_value(&cond->kid[1]->lit);
            } else if (op == ENG_RULE_OP_IN) {
                cond = mk(K_IN);
                cond->nk = 2 + rn(4);
                for (int k = 1; k < cond->nk; k++) {
                    cond->kid[k] = gen_literal(vfam);
                    vals[nv++] = to_value(&cond->kid[k]->lit);
                }
            } else if (op == ENG_RULE_OP_BETWEEN) {
                cond = mk(K_BETWEEN);
                cond->kid[1] = gen_literal(vfam);
                cond->kid[2] = gen_literal(vfam);
                cond->nk = 3;
                vals[nv++] = to_value(&cond->kid[1]->lit);
                vals[nv++] = to_value(&cond->kid[2]->lit);
            } else if (op == ENG_RULE_OP_IS_NULL) {
                cond = mk(K_ISNULL);
                cond->nk = 1;
            } else {
                cond = mk(K_STROP);
                cond->op = op - ENG_RULE_OP_CONTAINS;
                cond->kid[1] = gen_literal(FAM_STR);
                cond->nk = 2;
                vals[nv++] = to_value(&cond->kid[1]->lit);
            }
            cond->kid[0] = field_node(f, fam);
            int exclude = rn(3) == 0;
            assert_int_equal(eng_rule_builder_add(b, fields[f].name, (eng_rule_op)op, exclude, vals, nv), ENG_OK);
            if (exclude) {
                tn *neg = mk(K_NOT);
                neg->kid[0] = cond;
                neg->nk = 1;
                cond = neg;
            }
            all->kid[c] = cond;
        }
        any->kid[any->nk++] = all;
    }
    return any;
}

static void builder_form(void **s)
{
    (void)s;
    test_alloc_reset();
    eng_engine *e = rt_engine();
    rng_state = 77;
    eng_rule_options o;
    eng_rule_options_init(&o, ENG_RULE_OPTIONS_VERSION);
    o.fields = fields;
    o.nfields = NF;
    o.now = RT_NOW;
    int datasets = test_slow_runtime() ? 6 : 20;
    for (int ds = 0; ds < datasets; ds++) {
        gen_data();
        for (int k = 0; k < 100; k++) {
            npool = 0;
            eng_rule_builder *b = NULL;
            assert_int_equal(eng_rule_builder_new(e, &b), ENG_OK);
            tn *t = gen_builder(b);
            eng_rule *rule = NULL;
            if (eng_rule_builder_compile(b, &o, &rule) != ENG_OK)
                fail_msg("builder compile: %s", eng_error_last()->message);
            char canon[8192];
            assert_int_equal(eng_rule_text(rule, canon, sizeof canon, NULL), ENG_OK);
            check_rule(rule, t, canon);
            /* the same condition written as text compiles to the same program */
            sb text = {{0}, 0};
            print_node(&text, t, 0);
            eng_rule *from_text = NULL;
            if (eng_rule_compile(e, text.b, &o, &from_text) != ENG_OK)
                fail_msg("compile '%s': %s", text.b, eng_error_last()->message);
            char canon2[8192];
            assert_int_equal(eng_rule_text(from_text, canon2, sizeof canon2, NULL), ENG_OK);
            assert_string_equal(canon, canon2);
            eng_rule_free(from_text);
            eng_rule_free(rule);
            eng_rule_builder_free(b);
        }
    }
    eng_close(e);
    test_alloc_assert_clean();
}

/* Batches longer than one evaluation chunk (16384 rows): the 300-row dataset
 * tiled 150 times, with an input selection; every output bit must equal the
 * reference for the row it copies. */
#define TILES 150
static void chunked_batches(void **st)
{
    (void)st;
    test_alloc_reset();
    eng_engine *e = rt_engine();
    rng_state = 4242;
    eng_rule_options o;
    eng_rule_options_init(&o, ENG_RULE_OPTIONS_VERSION);
    o.fields = fields;
    o.nfields = NF;
    o.now = RT_NOW;
    size_t big = (size_t)MAXROWS * TILES, words = (big + 63) / 64;
    uint32_t *codes[2] = {malloc(big * 4), malloc(big * 4)}, *offs = malloc((big + 1) * 4), *lc = malloc(big * 16);
    int64_t *i64[4] = {malloc(big * 8), malloc(big * 8), malloc(big * 8), malloc(big * 8)};
    uint8_t *bs = malloc(big);
    int32_t *dts = malloc(big * 4);
    uint64_t *nulls = calloc(NF * words, 8), *in_sel = malloc(words * 8), *sel = malloc(words * 8);
    int rounds = test_slow_runtime() ? 2 : 6;
    for (int round = 0; round < rounds; round++) {
        do
            gen_data();
        while (nrows != MAXROWS);
        memset(nulls, 0, NF * words * 8);
        uint32_t nl = 0;
        for (size_t r = 0; r < big; r++) {
            int b = (int)(r % MAXROWS);
            codes[0][r] = col_codes[0][b];
            codes[1][r] = col_codes[1][b];
            for (int k = 0; k < 4; k++)
                i64[k][r] = col_i64[k][b];
            bs[r] = col_b[b];
            dts[r] = col_dt[b];
            offs[r] = nl;
            for (int k = 0; k < data[b][F_L1].nlist; k++)
                lc[nl++] = data[b][F_L1].list[k];
            for (int f = 0; f < NF; f++)
                if (data[b][f].null)
                    nulls[(size_t)f * words + r / 64] |= (uint64_t)1 << (r % 64);
        }
        offs[big] = nl;
        eng_rule_column bc[NF];
        memcpy(bc, cols, sizeof bc);
        bc[F_S1].data = codes[0];
        bc[F_S2].data = codes[1];
        bc[F_I1].data = i64[0];
        bc[F_I2].data = i64[1];
        bc[F_D1].data = i64[2];
        bc[F_TS].data = i64[3];
        bc[F_B1].data = bs;
        bc[F_DT].data = dts;
        bc[F_L1].data = offs;
        bc[F_L1].list_codes = lc;
        for (int f = 0; f < NF; f++)
            bc[f].nulls = nulls + (size_t)f * words;
        eng_rule_batch b = {ENG_RULE_BATCH_VERSION, big, bc, NF, NULL};
        for (int k = 0; k < 25; k++) {
            npool = 0;
            tn *t = gen_bool(3);
            sb text = {{0}, 0};
            print_node(&text, t, 0);
            eng_rule *rule = NULL;
            if (eng_rule_compile(e, text.b, &o, &rule) != ENG_OK)
                fail_msg("compile '%s': %s", text.b, eng_error_last()->message);
            int want[MAXROWS];
            for (int r = 0; r < MAXROWS; r++) {
                rv v = ref_eval(t, r);
                want[r] = tri(&v);
            }
            int use_in = k % 2;
            for (size_t w = 0; w < words; w++)
                in_sel[w] = (uint64_t)rnd() << 32 | rnd();
            if (k % 4 == 1) /* long empty stretches in the input selection */
                for (size_t w = 0; w < words; w++)
                    if ((w / 100) % 2)
                        in_sel[w] = 0;
            size_t count = 0, want_count = 0;
            if (eng_rule_eval_batch(rule, &b, use_in ? in_sel : NULL, sel, &count) != ENG_OK)
                fail_msg("batch '%s': %s", text.b, eng_error_last()->message);
            for (size_t r = 0; r < big; r++) {
                int in = !use_in || (in_sel[r / 64] >> (r % 64) & 1);
                int bit = (int)(sel[r / 64] >> (r % 64) & 1), exp = in && want[r % MAXROWS] == ENG_RULE_TRUE;
                if (bit != exp)
                    fail_msg("row %zu of '%s': batch bit %d, reference %d", r, text.b, bit, exp);
                want_count += (size_t)exp;
            }
            assert_int_equal(count, want_count);
            eng_rule_free(rule);
        }
    }
    for (int k = 0; k < 2; k++)
        free(codes[k]);
    for (int k = 0; k < 4; k++)
        free(i64[k]);
    free(offs); free(lc); free(bs); free(dts); free(nulls); free(in_sel); free(sel);
    eng_close(e);
    test_alloc_assert_clean();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(random_expressions),
        cmocka_unit_test(builder_form),
        cmocka_unit_test(chunked_batches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
