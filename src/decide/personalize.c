/* Personalisation: every reachable channel with a creative (as strategy
 * none), and the content of the first variant, in the message's order, whose
 * rule matches the customer. Each variant's rule is evaluated once per
 * execution over the whole customer table (column batches, as filter groups
 * are); per customer it is then one bitmap lookup. A rule that does not
 * compile against the customer columns stops the execution with the error
 * instead of sending the base content to customers meant to get a variant. */
#include "decide/decide.h"
#include "audience/audience_link.h"
#include "audience/idset.h"

typedef struct pstate {
    const eng__mem *mem;
    size_t n;
    eng__idset *match; /* per variant */
} pstate;

static void p_close(void *st, const eng__dctx *ctx)
{
    (void)ctx;
    pstate *p = st;
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++)
        eng__idset_free(&p->match[i]);
    eng__free(p->mem, p->match);
    eng__free(p->mem, p);
}

static int p_open(const eng__dctx *ctx, void **out)
{
    const eng__mem *mem = &ctx->e->mem;
    size_t n = ctx->spec->n_variants;
    pstate *p = eng__calloc(mem, 1, sizeof *p);
    if (!p)
        return eng__nomem();
    p->mem = mem;
    p->match = eng__calloc(mem, n ? n : 1, sizeof *p->match);
    if (!p->match) {
        eng__free(mem, p);
        return eng__nomem();
    }
    for (size_t i = 0; i < n; i++)
        eng__idset_init(&p->match[i], mem);
    p->n = n;
    for (size_t i = 0; i < n; i++) {
        int rc = eng__audience_match_expr(ctx->e, ctx->org, ctx->spec->variants[i].rule, &p->match[i]);
        if (rc) {
            p_close(p, ctx);
            return eng__err_wrap(rc, "message.variants[%zu].rule", i);
        }
    }
    *out = p;
    return ENG_OK;
}

static int p_choose(void *st, const eng__dctx *ctx, const eng__dcust *in, size_t n, eng__dchoice *out)
{
    pstate *p = st;
    for (size_t i = 0; i < n; i++) {
        out[i] = (eng__dchoice){in[i].reach, -1, in[i].reach ? ENG__RULE_BASE : ENG__RULE_UNREACHABLE, 0, 0};
        if (!in[i].reach)
            continue;
        for (size_t v = 0; v < p->n && v < 256; v++) {
            int ch = ctx->spec->variants[v].channel;
            if (ch >= 0 && ch < ENG_CH_COUNT && (in[i].reach >> ch & 1u) &&
                eng__idset_contains(&p->match[v], in[i].id)) {
                out[i].variant = (int16_t)v;
                out[i].rule = ENG__RULE_VARIANT;
                out[i].detail = (uint8_t)v;
                break;
            }
        }
    }
    return ENG_OK;
}

const eng__strategy eng__strategy_personalization = {ENG_STRATEGY_PERSONALIZATION, "personalization", p_open,
                                                     p_choose, NULL, p_close, NULL};
