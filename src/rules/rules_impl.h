/* The rule engine as its files see it.
 *
 * Pipeline: lexer.c (tokens) -> parser.c (syntax nodes in one flat array) ->
 * typecheck.c (field resolution, types, sets) -> compile.c (constant folding,
 * field-left comparisons, batch plan) -> eval_row.c / eval_batch.c.
 * text.c prints the program back as canonical text. The compiled program is
 * the typed, folded node array itself (a "closure tree" addressed by index):
 * small, position-carrying for errors, and walked without allocation. */
#ifndef ENG_RULES_IMPL_H
#define ENG_RULES_IMPL_H

#include <stdbool.h>
#include "engage/rules.h"
#include "engage/engine.h"
#include "rules/rules_link.h"
#include "base/error.h"
#include "base/mem.h"
#include "base/utf8.h"

#define ENG__RULE_MAGIC 0x52554c45u /* "RULE" */
#define ENG__RULE_MAX_TEXT ((size_t)1 << 20)
#define ENG__RULE_MAX_FIELDS 4096

/* ---- tokens ---- */
enum eng__tok {
    TK_EOF, TK_IDENT, TK_INT, TK_DEC, TK_STR, TK_LP, TK_RP, TK_COMMA, TK_MINUS,
    TK_EQ, TK_NE, TK_LT, TK_LE, TK_GT, TK_GE,
    /* keywords (case-insensitive) */
    TK_AND, TK_OR, TK_NOT, TK_IN, TK_BETWEEN, TK_IS, TK_NULL, TK_TRUE, TK_FALSE,
    TK_CONTAINS, TK_STARTS, TK_ENDS, TK_WITH
};

typedef struct eng__token {
    int kind;
    uint32_t line, col;
    const char *p; size_t len; /* source bytes (for strings: between the quotes) */
    int64_t i;                 /* INT / DEC units */
    int scale;                 /* DEC digits after the point */
    int big;                   /* INT / DEC of exactly 2^63 units: valid only after '-' (i is INT64_MIN) */
} eng__token;

typedef struct eng__lexer {
    const char *src, *p, *end;
    uint32_t line;
    const char *line_start;
} eng__lexer;

void eng__lex_init(eng__lexer *lx, const char *src, size_t len);
/* Next token; on a lexical error returns ENG_EPARSE with detail line:col. */
int eng__lex_next(eng__lexer *lx, eng__token *t);
const char *eng__tok_name(int kind);
/* Decode a string token's bytes (escapes checked by the lexer) into out, which
 * has room for n bytes (decoding never grows); returns the decoded length. */
size_t eng__unescape(const char *p, size_t n, char *out);

/* ---- nodes ---- */
enum eng__nkind {
    N_LIT,      /* literal value in .lit */
    N_FIELD,    /* .field */
    N_NOT,      /* a */
    N_AND,      /* kids[first .. first+n), n >= 2 */
    N_OR,       /* kids[first .. first+n), n >= 2 */
    N_CMP,      /* a op b (op: ENG_RULE_OP_EQ..GE) */
    N_IN,       /* a [not] in kids[first .. first+n); after typecheck .set */
    N_BETWEEN,  /* a [not] between b and c */
    N_ISNULL,   /* a is [not] null */
    N_STROP,    /* a op b (op: CONTAINS / STARTS_WITH / ENDS_WITH) */
    N_CALL,     /* .op = function id; args a (and b). F_ANY/F_COUNT: a = list, b = condition, .field = variable */
    N_VAR       /* the item variable of any()/count(): read as pseudo-field .field (= nfields + slot) */
};

enum eng__fn { F_LOWER, F_UPPER, F_LEN, F_DAYS_SINCE, F_TODAY, F_DATE, F_TIMESTAMP, F_ANY, F_COUNT, F__COUNT };
/* Nesting limit of any()/count() variables. */
#define ENG__RULE_MAX_VARS 8

/* A value while evaluating. Strings and lists are borrowed. */
typedef struct eng__rval {
    uint8_t t;      /* eng_rule_type; ENG_RT_NULL = null */
    uint8_t fold;   /* string case view: 0 as is, 1 lower, 2 upper (ASCII) */
    int8_t scale;   /* DECIMAL */
    int64_t i;      /* INT, DECIMAL units, TIMESTAMP, DATE, BOOL */
    const char *s; size_t len;
    /* STRING_LIST: either items/lens (row accessor) or codes into a column's dict */
    const char *const *items; const size_t *lens; size_t count;
    const uint32_t *codes; const eng_rule_column *col;
} eng__rval;

typedef struct eng__rstr { const char *s; size_t len; } eng__rstr;

typedef struct eng__rset {
    uint8_t type;   /* INT (also DECIMAL, DATE, TIMESTAMP), STRING, BOOL */
    size_t n;
    int64_t *ints;  /* sorted by value, unique */
    int8_t *scales; /* INT/DECIMAL: each item's own scale (ints[k] is units of 10^-scales[k]); else NULL */
    eng__rstr *strs;/* sorted by bytes, unique */
} eng__rset;

typedef struct eng__rnode {
    uint8_t kind, op, type, neg;
    int8_t scale;        /* DECIMAL result scale */
    uint8_t is_const;    /* no field reference below */
    uint8_t now_dep;     /* reads the rule's "now" (today(), days_since()) */
    uint8_t src_kind;    /* a folded N_LIT that reads "now": the kind it was, printed as written (children kept) */
    int32_t single;      /* batch plan: the one field this subtree reads, -1 none/many */
    uint32_t line, col;
    int32_t a, b, c;     /* children, -1 none */
    uint32_t first, n;   /* N_IN items in kids[] (before the set is built) */
    int32_t set;         /* N_IN: index into rule->sets after typecheck */
    uint32_t field;      /* N_FIELD */
    eng__rval lit;       /* N_LIT */
} eng__rnode;

struct eng_rule {
    uint32_t magic;
    eng_engine *engine;
    eng__mem mem;
    eng__rnode *nodes; size_t nnodes, ncap;
    int32_t root;
    int32_t *kids; size_t nkids, kcap;
    eng__rset *sets; size_t nsets, scap;
    char **pool; size_t npool, pcap;     /* owned literal strings */
    eng_rule_field *fields; size_t nfields; /* copied schema (names owned) */
    uint8_t *used;                        /* per field: the program reads it */
    eng_time now;
    int32_t today;                        /* days since epoch of now */
    unsigned max_depth, max_nodes;
    unsigned bool_depth;                  /* nesting of boolean nodes (batch scratch) */
};

/* rule.c helpers */
int eng__rule_new(eng_engine *e, const eng_rule_options *opts, eng_rule **out);
void eng__rule_destroy(eng_rule *r);
int eng__rule_add_node(eng_rule *r, const eng__rnode *n, int32_t *idx);
int eng__rule_add_kid(eng_rule *r, int32_t kid);
/* Copy bytes into the rule's pool; *out points at the copy. */
int eng__rule_pool(eng_rule *r, const char *s, size_t len, const char **out);
int eng__rule_check(const eng_rule *r);
/* eng_rule_eval_batch with the width in bytes of each column's STRING codes
 * or INT values (@p code_widths[i] for field i: 1, 2 or 4 for a STRING field,
 * 0, 4 or 8 for an INT field, 0 for any other; NULL: 4-byte codes, 8-byte
 * INT values). */
int eng__rule_eval_batch_cw(const eng_rule *rule, const eng_rule_batch *batch, const uint8_t *code_widths,
                            const uint64_t *in_sel, uint64_t *sel, size_t *count);
int eng__rule_build(eng_engine *e, const char *text, size_t len, const eng_rule_options *opts, eng_rule **out);

/* parser.c: text -> r->nodes, r->root */
int eng__rule_parse(eng_rule *r, const char *text, size_t len);
/* typecheck.c */
int eng__rule_typecheck(eng_rule *r);
/* compile.c: fold node idx once typed (its children are folded already),
 * then plan the program. */
int eng__rule_fold_node(eng_rule *r, int32_t idx);
int eng__rule_compile_program(eng_rule *r);
/* eval_row.c */
typedef int (*eng__rget_fn)(void *ctx, uint32_t field, eng__rval *out);
/* Evaluate node with an explicit stack: up to ENG__EVAL_LOCAL levels in a
 * local array, deeper on the heap (ENG_ENOMEM possible only then). */
#define ENG__EVAL_LOCAL 16
int eng__rule_eval(const eng_rule *r, int32_t node, eng__rget_fn get, void *ctx, eng__rval *out);
/* The same with a caller-kept stack (start it zeroed; reused across calls,
 * e.g. per row of a batch; release with eng__estack_free). */
typedef struct eng__eframe eng__eframe;
typedef struct eng__estack {
    eng__eframe *f;
    size_t cap, top;
    int heap;
} eng__estack;
int eng__rule_eval_st(const eng_rule *r, int32_t node, eng__rget_fn get, void *ctx, eng__estack *st,
                      eng__rval *out);
void eng__estack_free(const eng_rule *r, eng__estack *st);
/* text.c: the one quoting routine (rule text and builder), and canonical
 * text into a growing buffer (NUL-terminated). */
struct eng__wr;
void eng__rule_quote(struct eng__wr *w, const char *s, size_t n);
int eng__rule_print(const eng_rule *r, const eng__mem *mem, char **out, size_t *len);

/* value.c */
int eng__rerr(int code, uint32_t line, uint32_t col, const char *fmt, ...) ENG__PRINTF(4, 5);
int eng__rval_cmp(const eng__rval *x, const eng__rval *y); /* same family, both non-null */
/* Exact compare of a (units of 10^-as) with b (units of 10^-bs). */
int eng__num_cmp(int64_t a, int as, int64_t b, int bs);
bool eng__rval_str_starts(const eng__rval *x, const eng__rval *y);
bool eng__rval_str_ends(const eng__rval *x, const eng__rval *y);
bool eng__rval_str_contains(const eng__rval *x, const eng__rval *y);
bool eng__rval_list_has(const eng__rval *list, const eng__rval *y);
int64_t eng__rval_list_len(const eng__rval *list);
void eng__rval_list_item(const eng__rval *list, size_t i, const char **s, size_t *n);
int64_t eng__utf8_len(const char *s, size_t n);
bool eng__utf8_valid(const char *s, size_t n);
bool eng__rset_has(const eng__rset *set, const eng__rval *v);
int eng__rstr_cmp(const char *a, size_t an, int afold, const char *b, size_t bn, int bfold);
/* Dates: "YYYY-MM-DD" <-> days; timestamps "YYYY-MM-DDTHH:MM:SS[.mmm]Z" <-> ms
 * (a space may stand for the T, as in the CSV import); years 0001..9999. */
bool eng__parse_date(const char *s, size_t n, int32_t *days);
bool eng__parse_timestamp(const char *s, size_t n, int64_t *ms);
void eng__format_date(int32_t days, char out[32]);
void eng__format_timestamp(int64_t ms, char out[64]);
int64_t eng__floor_div(int64_t a, int64_t b);
const char *eng__rtype_name(int t);
const char *eng__fn_name(int f);

#endif
