/**
 * @file engage/rules.h
 * @brief The rule engine: one expression language for audience filters,
 *        conversion-goal conditions, personalization and validation.
 *
 * A rule is text such as
 * @code
 *   tier in ("gold", "silver") and days_since_purchase > 30 and city == "Pune"
 * @endcode
 * compiled once against a schema (named, typed fields) into an opaque
 * #eng_rule, then evaluated against one row (eng_rule_eval_row()) or against a
 * column batch (eng_rule_eval_batch(), the fast path). The language is
 * described in docs/rules-language.md.
 *
 * Null semantics are SQL's three-valued logic: a missing attribute is null, a
 * comparison with null is null (unknown), `and`/`or`/`not` follow Kleene
 * logic, and a row is selected only when the rule is true.
 *
 * Thread safety: a compiled #eng_rule is immutable; any number of threads may
 * evaluate the same rule at once. Compiling, serialising and freeing take the
 * engine's lock. A #eng_rule_builder belongs to one thread at a time.
 */
#ifndef ENGAGE_RULES_H
#define ENGAGE_RULES_H

#include "common.h"

ENG_BEGIN_DECLS

/** Types of values and fields in the rule language. Values are part of the ABI. */
typedef enum eng_rule_type {
    ENG_RT_NULL = 0,      /**< The type of the `null` literal; not valid for a field. */
    ENG_RT_BOOL = 1,      /**< Boolean; in a batch column one uint8_t per row (0 or 1). */
    ENG_RT_INT = 2,       /**< 64-bit signed integer; batch column int64_t. */
    ENG_RT_DECIMAL = 3,   /**< Fixed-point decimal: int64_t units of 10^-scale (money keeps its cents). */
    ENG_RT_STRING = 4,    /**< UTF-8 string; in a batch column uint32_t codes into a dictionary. */
    ENG_RT_DATE = 5,      /**< Calendar date: days since 1970-01-01; batch column int32_t. */
    ENG_RT_TIMESTAMP = 6, /**< Point in time: #eng_time milliseconds since the epoch; batch column int64_t. */
    ENG_RT_STRING_LIST = 7 /**< List of strings (for example the item codes of a transaction). */
} eng_rule_type;

/** Largest decimal scale (digits after the point) a field or literal may have. */
#define ENG_RULE_MAX_SCALE 9

/** One named, typed field of a schema. */
typedef struct eng_rule_field {
    const char *name;   /**< Identifier: letters, digits, '_' and '.', not starting with a digit. */
    int type;           /**< An #eng_rule_type, any but #ENG_RT_NULL. */
    int scale;          /**< For #ENG_RT_DECIMAL: 0..#ENG_RULE_MAX_SCALE; otherwise 0. */
} eng_rule_field;

/**
 * One value crossing the API: a row accessor's answer, or a builder operand.
 * Strings are borrowed (not copied) and need not be NUL-terminated.
 */
typedef struct eng_rule_value {
    int type;           /**< An #eng_rule_type; #ENG_RT_NULL means "missing" (null). */
    int scale;          /**< For #ENG_RT_DECIMAL: the scale of @c v.i. */
    union {
        int64_t i;      /**< INT, DECIMAL (scaled units), TIMESTAMP. */
        int32_t date;   /**< DATE: days since the epoch. */
        int b;          /**< BOOL: 0 or 1. */
        struct {
            const char *ptr;  /**< STRING bytes (UTF-8). */
            size_t len;       /**< Length in bytes. */
        } s;                  /**< STRING. */
        struct {
            const char *const *items; /**< Item pointers. */
            const size_t *lens;       /**< Item lengths; NULL: items are NUL-terminated. */
            size_t count;             /**< Number of items. */
        } list;                       /**< STRING_LIST. */
    } v;                /**< The value, chosen by @c type. */
} eng_rule_value;

/** A compiled rule. Immutable; made by eng_rule_compile(), released by eng_rule_free(). */
typedef struct eng_rule eng_rule;

/** Version of #eng_rule_options. */
#define ENG_RULE_OPTIONS_VERSION 1

/** Options of eng_rule_compile() and eng_rule_load(). */
typedef struct eng_rule_options {
    unsigned int version;          /**< #ENG_RULE_OPTIONS_VERSION. */
    const eng_rule_field *fields;  /**< The schema; copied. */
    size_t nfields;                /**< Number of fields (at most 4096). */
    /**
     * Reference time for `days_since()` and `today()`; 0: the engine's clock at
     * compile time. The rule keeps it, so one compiled rule gives the same
     * answers all day.
     */
    eng_time now;
    /**
     * Nesting limit; 0: 64. At most 1000. Compiling, printing, loading and
     * evaluating use explicit heap stacks, so any accepted depth is safe on a
     * thread with a 128 KiB stack (evaluating a rule more than 16 levels deep
     * allocates that stack per call).
     */
    unsigned int max_depth;
    unsigned int max_nodes;        /**< Size limit in syntax nodes; 0: 10000. At most 1000000. */
} eng_rule_options;

/** Static initialiser equal to what eng_rule_options_init() produces. */
#define ENG_RULE_OPTIONS_INIT {ENG_RULE_OPTIONS_VERSION, NULL, 0, 0, 0, 0}

/**
 * Fill @p opts with defaults (no fields, engine clock, default limits).
 * @param opts the struct to fill.
 * @param version #ENG_RULE_OPTIONS_VERSION.
 * @return #ENG_OK, #ENG_EINVAL (NULL @p opts), #ENG_EVERSION (unknown version).
 */
ENG_API int eng_rule_options_init(eng_rule_options *opts, unsigned int version);

/**
 * Compile rule text against a schema.
 *
 * On a syntax error the result is #ENG_EPARSE and eng_error_last()->detail is
 * "line:column" of the offending token; on a type error (unknown field,
 * comparing a string with a number, ...) #ENG_ETYPE with detail
 * "line:column" and the message naming the field (with a suggestion for a
 * misspelt name). A too deep or too large expression gives #ENG_ETOOBIG.
 *
 * @param engine the engine (supplies the allocator and the clock); the rule
 *        holds a reference to it until eng_rule_free().
 * @param text the expression, UTF-8, NUL-terminated; at most 1 MiB.
 * @param opts the schema and limits.
 * @param[out] out the compiled rule; set to NULL on failure.
 * @return #ENG_OK; #ENG_EINVAL (NULL argument, bad schema: empty,
 *         duplicate or keyword field name, bad type or scale; detail
 *         "fields[i]"); #ENG_ERANGE (max_depth or max_nodes above its
 *         maximum); #ENG_EVERSION; #ENG_EMISUSE (bad engine); #ENG_EPARSE;
 *         #ENG_ETYPE; #ENG_ETOOBIG (also: more than 4096 fields, or text
 *         over 1 MiB); #ENG_ENOMEM.
 */
ENG_API int eng_rule_compile(eng_engine *engine, const char *text, const eng_rule_options *opts,
                             eng_rule **out);

/**
 * Release a compiled rule and its reference to the engine. NULL is a no-op.
 * @param rule the rule; invalid after the call.
 */
ENG_API void eng_rule_free(eng_rule *rule);

/**
 * Print a compiled rule back as canonical text (one spelling per operator,
 * parentheses only where the structure needs them, `in` lists sorted,
 * constants folded but `today()` kept as written, control characters in
 * strings escaped). Compiling the canonical text gives the same program,
 * within the same depth and size limits as the text it came from.
 * @param rule the rule.
 * @param buf where to write (NUL-terminated); may be NULL when @p cap is 0.
 * @param cap size of @p buf in bytes.
 * @param[out] needed bytes required including the NUL; may be NULL.
 * @return #ENG_OK; #ENG_ERANGE when @p cap is too small (buf then holds a
 *         truncated, NUL-terminated prefix when cap > 0); #ENG_EINVAL; #ENG_EMISUSE.
 */
ENG_API int eng_rule_text(const eng_rule *rule, char *buf, size_t cap, size_t *needed);

/** Results of eng_rule_eval_row(). */
typedef enum eng_rule_result {
    ENG_RULE_FALSE = 0, /**< The rule is false for the row. */
    ENG_RULE_TRUE = 1,  /**< The rule is true: the row is selected. */
    ENG_RULE_NULL = 2   /**< The rule is unknown (null): the row is not selected. */
} eng_rule_result;

/**
 * Row accessor: fill @p out with the value of schema field @p field for the
 * current row. Set out->type to the field's type (or #ENG_RT_NULL for a
 * missing value); for a decimal field out->scale may differ from the field's
 * scale (the value is rescaled). Return #ENG_OK, or a negative code that
 * eng_rule_eval_row() passes through.
 */
typedef int (*eng_rule_get_fn)(uint32_t field, eng_rule_value *out, void *user);

/**
 * Evaluate a rule on one row. Only the fields the rule uses are asked for.
 * @param rule the rule.
 * @param get the row accessor.
 * @param user passed last to @p get.
 * @param[out] result an #eng_rule_result; #ENG_RULE_NULL on failure.
 * @return #ENG_OK; #ENG_EINVAL (NULL argument, or the accessor gave a
 *         NULL string, list or list item; detail is the field name);
 *         #ENG_EMISUSE (bad rule); #ENG_ETYPE (the accessor gave a value of
 *         the wrong type or a bad decimal scale; detail is the field name);
 *         #ENG_ENOMEM (only for a rule more than 16 levels deep);
 *         any negative code returned by @p get (a positive one becomes
 *         #ENG_ERROR).
 */
ENG_API int eng_rule_eval_row(const eng_rule *rule, eng_rule_get_fn get, void *user, int *result);

/**
 * One column of a batch. The column for schema field i is columns[i]; a
 * column whose field the rule does not use may be left zeroed.
 */
typedef struct eng_rule_column {
    int type;                    /**< An #eng_rule_type; must equal the field's type. */
    int scale;                   /**< For #ENG_RT_DECIMAL: the scale of the stored units (may differ from the field's). */
    /**
     * Values, one per row: uint8_t (BOOL), int64_t (INT, or int32_t / int16_t as
     * #eng_rule_batch.code_widths says; DECIMAL, TIMESTAMP),
     * int32_t (DATE), dictionary codes (STRING: uint32_t, or uint8_t / uint16_t
     * as #eng_rule_batch.code_widths says), or for STRING_LIST
     * uint32_t offsets (nrows + 1 of them) into @c list_codes.
     */
    const void *data;
    /** Null bitmap: bit (r % 64) of word r / 64 set means row r is null; NULL: no nulls. */
    const uint64_t *nulls;
    /** STRING and STRING_LIST: the dictionary entries (UTF-8, need not be NUL-terminated). */
    const char *const *dict;
    /** Lengths of the dictionary entries; NULL: entries are NUL-terminated. */
    const uint32_t *dict_len;
    uint32_t dict_size;          /**< Number of dictionary entries; every code must be below it. */
    const uint32_t *list_codes;  /**< STRING_LIST: the items' dictionary codes. */
} eng_rule_column;

/** Version of #eng_rule_batch (2 added @c code_widths; version 1 is still accepted). */
#define ENG_RULE_BATCH_VERSION 2

/**
 * A column batch: typed column arrays, one per schema field, all of nrows
 * rows. This is the layout the audience layer keeps customers in.
 */
typedef struct eng_rule_batch {
    unsigned int version;            /**< #ENG_RULE_BATCH_VERSION. */
    size_t nrows;                    /**< Number of rows. */
    const eng_rule_column *columns;  /**< One per schema field, in schema order. */
    size_t ncolumns;                 /**< Must be at least the number of schema fields. */
    /**
     * Version 2: bytes per dictionary code or value, one entry per schema
     * field (indexed like @c columns): 1 (uint8_t codes), 2 (uint16_t) or 4
     * (uint32_t) for a STRING column; 2 (int16_t values), 4 (int32_t) or 8
     * (int64_t; 0 means the same) for an INT column; 0 for a column of any
     * other type. NULL: every STRING column has 4-byte codes and every INT
     * column 8-byte values, as in version 1. Narrow columns are a quarter or
     * half of the bytes a filter reads; a dictionary must still hold every
     * code.
     */
    const uint8_t *code_widths;
} eng_rule_batch;

/** Static initialiser equal to what eng_rule_batch_init() produces. */
#define ENG_RULE_BATCH_INIT {ENG_RULE_BATCH_VERSION, 0, NULL, 0, NULL}

/**
 * Fill @p x with the version and no columns (only the fields of that version are written).
 * @param x the struct. @param version 1 or #ENG_RULE_BATCH_VERSION.
 * @return #ENG_OK, #ENG_EINVAL (NULL @p x), #ENG_EVERSION (unknown version).
 */
ENG_API int eng_rule_batch_init(eng_rule_batch *x, unsigned int version);

/**
 * Evaluate a rule on every row of a batch.
 *
 * Bit (r % 64) of sel[r / 64] is set exactly when the rule is true for row r.
 * When @p in_sel is given, rows whose bit is clear there are skipped (their
 * output bit is 0); this is how a caller chains filters.
 *
 * @param rule the rule.
 * @param batch the columns.
 * @param in_sel optional input selection of (nrows + 63) / 64 words; NULL: all rows.
 * @param[out] sel output bitmap of (nrows + 63) / 64 words; bits past nrows are 0.
 * @param[out] count number of selected rows; may be NULL.
 * @return #ENG_OK; #ENG_EINVAL (NULL argument, column type mismatch, missing
 *         data or dictionary, a NULL dictionary entry, a code width other than
 *         1, 2 or 4 for a STRING column or other than 0 for another; detail
 *         names the field); #ENG_ERANGE (a string code past the dictionary, list offsets
 *         going backwards, detail names the field; more than 2^40 rows); #ENG_EVERSION;
 *         #ENG_EMISUSE; #ENG_ENOMEM (scratch space). On every failure the
 *         (nrows + 63) / 64 words of @p sel are all zero and @p count is 0, so a
 *         failed evaluation selects no one (only when @p batch or @p sel is
 *         NULL, or nrows is over 2^40, is @p sel left untouched).
 *
 * Scratch space comes from the engine's allocator, so concurrent calls need
 * a thread-safe allocator (the system one is).
 */
ENG_API int eng_rule_eval_batch(const eng_rule *rule, const eng_rule_batch *batch, const uint64_t *in_sel,
                                uint64_t *sel, size_t *count);

/**
 * Serialise a compiled rule: a small versioned, checksummed blob holding its
 * canonical text and the types of the fields it uses.
 * @param rule the rule.
 * @param[out] out the bytes, allocated with the engine's allocator; release with eng_free().
 * @param[out] len their length.
 * @return #ENG_OK; #ENG_EINVAL; #ENG_EMISUSE; #ENG_ENOMEM.
 */
ENG_API int eng_rule_serialize(const eng_rule *rule, void **out, size_t *len);

/**
 * Load a serialised rule, checking it against the schema in @p opts: every
 * field the rule uses must exist there with the same type and scale.
 * @param engine the engine.
 * @param data the bytes from eng_rule_serialize().
 * @param len their length.
 * @param opts the schema and limits.
 * @param[out] out the rule.
 * @return #ENG_OK; #ENG_ECORRUPT (bad blob); #ENG_EVERSION (newer format);
 *         #ENG_ETYPE (schema mismatch, detail is the field name); any error of
 *         eng_rule_compile().
 */
ENG_API int eng_rule_deserialize(eng_engine *engine, const void *data, size_t len, const eng_rule_options *opts,
                                 eng_rule **out);

/**
 * Store a compiled rule in the engine's store under @p name (record type
 * 0x0201, key "r/<name>"), replacing any rule of that name.
 * @param rule the rule.
 * @param name 1..200 bytes, no NUL.
 * @return #ENG_OK; #ENG_EINVAL; #ENG_EMISUSE; #ENG_ESTORAGE; #ENG_ENOMEM.
 */
ENG_API int eng_rule_save(const eng_rule *rule, const char *name);

/**
 * Load a rule stored with eng_rule_save(), checking it against @p opts.
 * @param engine the engine.
 * @param name the name it was saved under.
 * @param opts the schema and limits.
 * @param[out] out the rule.
 * @return #ENG_OK; #ENG_ENOTFOUND; #ENG_ECORRUPT; any error of eng_rule_deserialize().
 */
ENG_API int eng_rule_load(eng_engine *engine, const char *name, const eng_rule_options *opts, eng_rule **out);

/** Operators of a builder condition (the operators of the product UI). */
typedef enum eng_rule_op {
    ENG_RULE_OP_EQ = 0,          /**< field == value */
    ENG_RULE_OP_NE = 1,          /**< field != value */
    ENG_RULE_OP_LT = 2,          /**< field < value */
    ENG_RULE_OP_LE = 3,          /**< field <= value */
    ENG_RULE_OP_GT = 4,          /**< field > value */
    ENG_RULE_OP_GE = 5,          /**< field >= value */
    ENG_RULE_OP_IN = 6,          /**< field in (values...) */
    ENG_RULE_OP_BETWEEN = 7,     /**< field between values[0] and values[1] (the UI's IN RANGE) */
    ENG_RULE_OP_CONTAINS = 8,    /**< field contains value (substring, or list membership) */
    ENG_RULE_OP_STARTS_WITH = 9, /**< field starts with value */
    ENG_RULE_OP_ENDS_WITH = 10,  /**< field ends with value */
    ENG_RULE_OP_IS_NULL = 11     /**< field is null (no values) */
} eng_rule_op;

/**
 * Structured builder mirroring the product UI: condition groups; conditions
 * inside a group are joined with AND, groups with OR; each condition is
 * include (as written) or exclude (negated). Owned by one thread at a time.
 */
typedef struct eng_rule_builder eng_rule_builder;

/**
 * Make an empty builder.
 * @param engine the engine (allocator); the builder holds a reference.
 * @param[out] out the builder.
 * @return #ENG_OK; #ENG_EINVAL; #ENG_EMISUSE; #ENG_ENOMEM.
 */
ENG_API int eng_rule_builder_new(eng_engine *engine, eng_rule_builder **out);

/**
 * Start a new condition group (OR-ed with the previous groups). The first
 * condition added to a fresh builder starts a group by itself.
 * @param b the builder.
 * @return #ENG_OK; #ENG_EINVAL; #ENG_ETOOBIG (more than 1000 groups); #ENG_ENOMEM.
 */
ENG_API int eng_rule_builder_group(eng_rule_builder *b);

/**
 * Add a condition to the current group.
 * @param b the builder.
 * @param field the field name (checked when compiling).
 * @param op an #eng_rule_op.
 * @param exclude 0: include rows matching the condition; 1: exclude them (negate).
 * @param values the operand(s): none for IS_NULL, two for BETWEEN, one or more
 *        for IN, one otherwise. Strings are copied.
 * @param nvalues number of values (at most 10000).
 * @return #ENG_OK; #ENG_EINVAL (bad operator, value count, type or field name;
 *         the builder is unchanged); #ENG_ENOMEM.
 */
ENG_API int eng_rule_builder_add(eng_rule_builder *b, const char *field, int op, int exclude,
                                 const eng_rule_value *values, size_t nvalues);

/**
 * Compile the builder's conditions: the same program as the equivalent text.
 * An empty builder compiles to `true`.
 * @param b the builder (unchanged).
 * @param opts the schema and limits.
 * @param[out] out the rule.
 * @return any result of eng_rule_compile().
 */
ENG_API int eng_rule_builder_compile(const eng_rule_builder *b, const eng_rule_options *opts, eng_rule **out);

/**
 * Release a builder. NULL is a no-op.
 * @param b the builder; invalid after the call.
 */
ENG_API void eng_rule_builder_free(eng_rule_builder *b);

ENG_END_DECLS

#endif
