/* Fuzz target for the `{{tag}}` templates: the tokenizer the model validates
 * creatives with, the compiler dispatch runs once per message and the renderer
 * run per customer. Beyond "no crash, no leak":
 *  - the tokens tile the template: each starts where the previous ended and a
 *    text token is exactly those bytes;
 *  - the compiler accepts exactly the templates the tokenizer reads without an
 *    error token (the model and dispatch never disagree about a creative);
 *  - rendering for an email body escapes the customer's value and nothing else:
 *    with a value free of & < > " ' it equals the plain rendering, and it never
 *    contains a raw '<' that the plain rendering of the literals lacks;
 *  - the SMS parts of any rendering are at least one and at most its length.
 * Input: byte 0 flags; then the template up to a NUL; the rest is the
 * customer's first_name (NULL when it is not valid UTF-8).
 * Each input still gets its own engine (one shared between inputs keeps
 * allocations past an input, and libFuzzer then runs LSan after each), but the
 * org and its column are built once in a host store and each engine opens on a
 * copy: creating them per input was half of an input's time. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "base/template.h"
#include "core/engine_impl.h"
#include "dispatch/dispatch_impl.h"
#include "model/model_impl.h"
#include "test_store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static test_store *seed;

static void build_seed(void)
{
    seed = test_store_new();
    CHECK(seed != NULL);
    eng_engine *e;
    CHECK(test_store_open(seed, NULL, &e) == ENG_OK);
    CHECK(eng_org_create(e, "t", NULL, "t-admin", NULL) == ENG_OK); /* customers belong to an org */
    CHECK(eng_customers_add_column(e, "t-admin", "first_name", ENG_COL_STRING) == ENG_OK);
    CHECK(eng_close(e) == ENG_OK);
}

/* An engine on a copy of the seed (its store in *ts) with customer c0 named @p value. */
static eng_engine *engine_with(const char *value, test_store **ts)
{
    if (!seed)
        build_seed();
    *ts = test_store_clone(seed);
    CHECK(*ts != NULL);
    eng_engine *e;
    CHECK(test_store_open(*ts, NULL, &e) == ENG_OK);
    const char *names[] = {"id", "first_name"};
    const char *vals[] = {"c0", value};
    if (eng_customers_upsert(e, "t-admin", names, 2, vals, 1, NULL, NULL) != ENG_OK) { /* not valid UTF-8, too long, ... */
        vals[1] = NULL;
        CHECK(eng_customers_upsert(e, "t-admin", names, 2, vals, 1, NULL, NULL) == ENG_OK);
    }
    return e;
}

/* Render @p t for customer 0; returns a malloc'd NUL-terminated copy (length in *n). */
static char *render(eng_engine *e, const eng__tpl *t, size_t *n)
{
    eng__rctx r = {e, 0, ENG_CH_EMAIL, "CPN-1", "https://u.example/x?a=1&b=2", "Diwali <Sale>", "t", NULL, NULL, NULL};
    eng__wr w;
    eng__wr_init(&w, &e->mem);
    CHECK(eng__enter(e) == ENG_OK);
    int rc = eng__tpl_render(t, &r, &w);
    eng__leave(e);
    CHECK(rc == ENG_OK);
    char *out = malloc(w.len + 1);
    CHECK(out != NULL);
    if (w.len)
        memcpy(out, w.data, w.len);
    out[w.len] = 0;
    *n = w.len;
    eng__wr_free(&w);
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) { /* the empty input: free what is kept between inputs */
        test_store_free(seed);
        seed = NULL;
    }
    if (size < 1)
        return 0;
    const char *body = (const char *)data + 1;
    size_t rest = size - 1, tlen = 0;
    while (tlen < rest && body[tlen])
        tlen++;
    char *text = malloc(tlen + 1), *value = malloc(rest - tlen + 1);
    CHECK(text && value);
    memcpy(text, body, tlen);
    text[tlen] = 0;
    size_t vlen = tlen < rest ? rest - tlen - 1 : 0;
    if (vlen)
        memcpy(value, body + tlen + 1, vlen);
    value[vlen] = 0;
    if (strlen(value) != vlen)
        value[0] = 0; /* a NUL inside: no value */

    /* The tokens tile the template. */
    int bad = 0;
    const char *p = text;
    size_t at = 0;
    for (;;) {
        eng__ttok t;
        const char *next = eng__ttok_next(text, p, &t);
        if (t.kind == ENG__TT_END)
            break;
        if (t.kind < 0) {
            bad = 1;
            break;
        }
        CHECK(t.offset == at && next > p && (size_t)(next - text) <= tlen);
        if (t.kind == ENG__TT_TEXT)
            CHECK(t.len == (size_t)(next - p) && memcmp(t.text, p, t.len) == 0);
        at = (size_t)(next - text);
        p = next;
    }
    if (!bad)
        CHECK(at == tlen);

    test_store *ts;
    eng_engine *e = engine_with(value, &ts);
    eng__tpl *plain = NULL, *html = NULL;
    int rp = eng__tpl_compile(&e->mem, text, 0, &plain);
    int rh = eng__tpl_compile(&e->mem, text, 1, &html);
    CHECK(rp == rh);
    CHECK((rp == ENG_OK) == !bad); /* dispatch compiles what the tokenizer reads */
    /* The model's creative check (the one send-for-approval runs) parses the same way. */
    eng_validation *v = eng__vr_new(&e->mem);
    CHECK(v != NULL);
    eng__template_check(v, text, "creative.body");
    int parse_fail = 0;
    for (size_t i = 0; i < eng_validation_count(v); i++) {
        int code;
        eng_validation_item(v, i, &code, NULL, NULL);
        parse_fail |= code == ENG_EPARSE;
    }
    CHECK(parse_fail == bad);
    eng_validation_free(v);
    if (rp == ENG_OK) {
        size_t np, nh;
        char *op = render(e, plain, &np), *oh = render(e, html, &nh);
        CHECK(nh >= np);
        if (!strpbrk(value, "&<>\"'") && !strpbrk("Diwali <Sale>https://u.example/x?a=1&b=2", "&<>\"'"))
            CHECK(np == nh && memcmp(op, oh, np) == 0);
        /* Raw '<' in the email body only where the author's literals put it. */
        size_t lt_plain_literals = 0, lt_html = 0;
        for (size_t i = 0; i < tlen; i++)
            lt_plain_literals += text[i] == '<';
        for (size_t i = 0; i < nh; i++)
            lt_html += oh[i] == '<';
        CHECK(lt_html <= lt_plain_literals);
        uint32_t seg = eng__sms_segments(op, np);
        CHECK(np == 0 || (seg >= 1 && seg <= np));
        free(op);
        free(oh);
    }
    eng__tpl_free(&e->mem, plain);
    eng__tpl_free(&e->mem, html);
    eng_close(e);
    test_store_free(ts);
    free(text);
    free(value);
    return 0;
}
