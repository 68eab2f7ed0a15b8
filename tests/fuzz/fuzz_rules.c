/* libFuzzer target: parse + type-check + compile + evaluate (row and batch) +
 * canonical text + serialise/load of arbitrary rule text. Any crash, leak,
 * sanitizer report or disagreement between row and batch results is a bug.
 * The same function runs over the checked-in corpus in the unit build
 * (replay_rules.c). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engage.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const eng_rule_field fields[] = {
    {"tier", ENG_RT_STRING, 0},    {"city", ENG_RT_STRING, 0}, {"days_since_purchase", ENG_RT_INT, 0},
    {"amount", ENG_RT_DECIMAL, 2}, {"vip", ENG_RT_BOOL, 0},    {"birthday", ENG_RT_DATE, 0},
    {"last_seen", ENG_RT_TIMESTAMP, 0}, {"items", ENG_RT_STRING_LIST, 0}};
#define NF (sizeof fields / sizeof fields[0])
#define NROWS 5

static const char *const dict[] = {"gold", "Pune", "", "SKU-1", "PUNE"};
static const uint32_t codes[NROWS] = {0, 1, 2, 3, 4};
static const int64_t ints[NROWS] = {-5, 0, 31, 3000, 9223372036854775807LL};
static const int32_t dates[NROWS] = {-1, 0, 20000, 20782, 2147483647};
static const uint8_t bools[NROWS] = {0, 1, 1, 0, 1};
static const uint32_t offs[NROWS + 1] = {0, 0, 1, 3, 3, 5};
static const uint32_t lcodes[5] = {3, 0, 1, 2, 3};
static const uint64_t nulls[1] = {0x12}; /* rows 1 and 4 null in every column */
static const char *items_row[NROWS][2];

static int get(uint32_t f, eng_rule_value *out, void *user)
{
    size_t r = *(size_t *)user;
    memset(out, 0, sizeof *out);
    if (nulls[0] >> r & 1)
        return 0;
    out->type = fields[f].type;
    switch (fields[f].type) {
    case ENG_RT_STRING: out->v.s.ptr = dict[codes[r]]; out->v.s.len = strlen(dict[codes[r]]); break;
    case ENG_RT_DECIMAL: out->scale = 2; out->v.i = ints[r]; break;
    case ENG_RT_BOOL: out->v.b = bools[r]; break;
    case ENG_RT_DATE: out->v.date = dates[r]; break;
    case ENG_RT_STRING_LIST:
        for (uint32_t k = offs[r]; k < offs[r + 1]; k++)
            items_row[r][k - offs[r]] = dict[lcodes[k]];
        out->v.list.items = items_row[r];
        out->v.list.count = offs[r + 1] - offs[r];
        break;
    default: out->v.i = ints[r]; break;
    }
    return 0;
}

static eng_engine *engine;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!engine && eng_open(NULL, &engine) != ENG_OK)
        abort();
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = 0;
    eng_rule_options o;
    eng_rule_options_init(&o, ENG_RULE_OPTIONS_VERSION);
    o.fields = fields;
    o.nfields = NF;
    o.now = (eng_time)1795608000000;
    eng_rule *r = NULL;
    if (eng_rule_compile(engine, text, &o, &r) == ENG_OK) {
        eng_rule_column cols[NF];
        memset(cols, 0, sizeof cols);
        for (size_t f = 0; f < NF; f++) {
            cols[f].type = fields[f].type;
            cols[f].nulls = nulls;
            cols[f].dict = dict;
            cols[f].dict_size = 5;
        }
        cols[0].data = cols[1].data = codes;
        cols[2].data = cols[3].data = cols[6].data = ints;
        cols[3].scale = 2;
        cols[4].data = bools;
        cols[5].data = dates;
        cols[7].data = offs;
        cols[7].list_codes = lcodes;
        eng_rule_batch b = {ENG_RULE_BATCH_VERSION, NROWS, cols, NF, NULL};
        uint64_t sel[1] = {0};
        if (eng_rule_eval_batch(r, &b, NULL, sel, NULL) != ENG_OK)
            abort();
        for (size_t row = 0; row < NROWS; row++) {
            int res = -1;
            if (eng_rule_eval_row(r, get, &row, &res) != ENG_OK)
                abort();
            if ((res == ENG_RULE_TRUE) != (int)(sel[0] >> row & 1))
                abort(); /* row and batch disagree */
        }
        size_t need = 0;
        eng_rule_text(r, NULL, 0, &need);
        char *canon = malloc(need);
        if (eng_rule_text(r, canon, need, NULL) != ENG_OK)
            abort();
        eng_rule *again = NULL;
        if (eng_rule_compile(engine, canon, &o, &again) != ENG_OK)
            abort(); /* canonical text must compile, within the same limits */
        size_t need2 = 0;
        eng_rule_text(again, NULL, 0, &need2);
        char *canon2 = malloc(need2);
        if (eng_rule_text(again, canon2, need2, NULL) != ENG_OK || strcmp(canon, canon2) != 0)
            abort(); /* and print the same text again */
        free(canon2);
        eng_rule_free(again);
        free(canon);
        void *blob = NULL;
        size_t len = 0;
        if (eng_rule_serialize(r, &blob, &len) != ENG_OK || eng_rule_deserialize(engine, blob, len, &o, &again) != ENG_OK)
            abort();
        eng_rule_free(again);
        eng_free(engine, blob);
        eng_rule_free(r);
    } else {
        const eng_error *err = eng_error_last();
        if (err->code >= 0 || !err->message[0])
            abort(); /* a failure always carries a code and a message */
    }
    free(text);
    return 0;
}
