/* Incentives: none, a coupon offer (common code, uploaded pool, generated
 * codes) or a points strategy (allocation and expiry). */
#include "model/model_impl.h"

int eng__coupon_code_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f)
            return 0;
    return eng__name_flaw(s) == NULL;
}

void eng__incentive_check(eng_validation *v, const eng_incentive *in, int full)
{
    if (in->kind < ENG_INCENTIVE_NONE || in->kind > ENG_INCENTIVE_POINTS) {
        eng__vr_add(v, ENG_EINVAL, "message.incentive.kind", "%d is not an eng_incentive_kind", in->kind);
        return;
    }
    if (in->kind == ENG_INCENTIVE_COUPON) {
        if (in->coupon_source < ENG_COUPON_COMMON || in->coupon_source > ENG_COUPON_GENERATED)
            eng__vr_add(v, ENG_EINVAL, "message.incentive.coupon_source", "%d is not an eng_coupon_source",
                        in->coupon_source);
        if (!full)
            return;
        if (eng__empty(in->offer_id) || !eng__id_ok(in->offer_id))
            eng__vr_add(v, ENG_EINVAL, "message.incentive.offer_id", "a coupon incentive claims an offer of the catalogue (eng_offer_create)");
        if (in->coupon_source == ENG_COUPON_COMMON && (eng__empty(in->coupon_code) || !eng__coupon_code_ok(in->coupon_code)))
            eng__vr_add(v, ENG_EINVAL, "message.incentive.coupon_code",
                        "a common-code offer needs a code of 1..64 printable bytes without spaces");
        if (in->coupon_source == ENG_COUPON_UPLOADED && (eng__empty(in->coupon_pool) || !eng__id_ok(in->coupon_pool)))
            eng__vr_add(v, ENG_EINVAL, "message.incentive.coupon_pool", "an uploaded-codes offer needs a pool id");
    } else if (in->kind == ENG_INCENTIVE_POINTS && full) {
        if (in->points < 1 || in->points > 1000000000)
            eng__vr_add(v, ENG_ERANGE, "message.incentive.points", "points %lld outside 1..1e9",
                        (long long)in->points);
        if (in->points_expiry_days < 1 || in->points_expiry_days > 3650)
            eng__vr_add(v, ENG_ERANGE, "message.incentive.points_expiry_days", "expiry %u days outside 1..3650",
                        in->points_expiry_days);
    }
}

/* ---- claiming an offer of the catalogue ---- */

static int terms_set(const eng_incentive *in)
{
    return in->coupon_source != ENG_COUPON_COMMON || !eng__empty(in->coupon_code) || !eng__empty(in->coupon_pool);
}

static void within_campaign(eng_validation *v, const eng_offer_spec *of, const eng_campaign_spec *c)
{
    if (of->valid_from < c->start || of->valid_until > c->end)
        eng__vr_add(v, ENG_ERANGE, "message.incentive.offer_id",
                    "offer '%s' is valid %lld..%lld, not inside the campaign's dates %lld..%lld", of->id,
                    (long long)of->valid_from, (long long)of->valid_until, (long long)c->start, (long long)c->end);
}

int eng__offer_claim(eng_engine *e, eng_validation *v, const char *org, const eng_campaign_spec *c,
                     const eng_incentive *in, eng__offer *of, int *found)
{
    *found = 0;
    memset(of, 0, sizeof *of);
    eng__pool_init(&of->pool, &e->mem);
    if (in->kind != ENG_INCENTIVE_COUPON)
        return ENG_OK;
    if (eng__empty(in->offer_id)) {
        if (terms_set(in)) /* one path: coupon terms come from the catalogue */
            eng__vr_add(v, ENG_EINVAL, "message.incentive.offer_id",
                        "coupon terms come from an offer of the catalogue: name it in offer_id");
        return ENG_OK;
    }
    int rc = eng__offer_load(e, org, in->offer_id, of);
    if (rc == ENG_ENOTFOUND) {
        eng__vr_add(v, ENG_ENOTFOUND, "message.incentive.offer_id", "the org has no offer '%s' (eng_offer_create)",
                    in->offer_id);
        return ENG_OK;
    }
    if (rc)
        return rc;
    *found = 1;
    const eng_offer_spec *s = &of->s;
    if (in->coupon_source != ENG_COUPON_COMMON && in->coupon_source != s->coupon_source)
        eng__vr_add(v, ENG_EINVAL, "message.incentive.coupon_source", "set by the claimed offer: leave it unset");
    if (!eng__empty(in->coupon_code) && strcmp(in->coupon_code, s->coupon_code) != 0)
        eng__vr_add(v, ENG_EINVAL, "message.incentive.coupon_code", "set by the claimed offer: leave it unset");
    if (!eng__empty(in->coupon_pool) && strcmp(in->coupon_pool, s->coupon_pool) != 0)
        eng__vr_add(v, ENG_EINVAL, "message.incentive.coupon_pool", "set by the claimed offer: leave it unset");
    within_campaign(v, s, c);
    return ENG_OK;
}

int eng__offer_apply(eng__pool *p, const eng__offer *of, const eng_incentive **inp)
{
    eng_incentive *in = eng__pool_alloc(p, sizeof *in);
    if (!in)
        return eng__nomem();
    *in = **inp;
    *inp = in;
    in->coupon_source = of->s.coupon_source;
    in->coupon_code = eng__empty(of->s.coupon_code) ? NULL : eng__pool_str(p, of->s.coupon_code);
    in->coupon_pool = eng__empty(of->s.coupon_pool) ? NULL : eng__pool_str(p, of->s.coupon_pool);
    return p->oom ? eng__nomem() : ENG_OK;
}

void eng__offer_claim_check(eng_engine *e, eng_validation *v, const char *org, const eng_campaign_spec *c,
                            const eng_incentive *in)
{
    if (in->kind != ENG_INCENTIVE_COUPON || eng__empty(in->offer_id))
        return; /* eng__incentive_check reports a missing offer id */
    eng__offer of;
    int rc = eng__offer_load(e, org, in->offer_id, &of);
    if (rc == ENG_ENOTFOUND)
        eng__vr_add(v, ENG_ENOTFOUND, "message.incentive.offer_id",
                    "the claimed offer '%s' no longer exists: claim another", in->offer_id);
    else if (rc)
        eng__vr_add(v, rc, "message.incentive.offer_id", "%s", eng_error_last()->message);
    if (v && rc == ENG_ENOMEM)
        v->oom = 1; /* the call fails with ENG_ENOMEM, not a finding */
    if (rc)
        return;
    if (!eng__offer_terms_equal(&of.s, in))
        eng__vr_add(v, ENG_ESTATE, "message.incentive.offer_id",
                    "offer '%s' changed since the message claimed it: claim it again (eng_message_update)",
                    in->offer_id);
    within_campaign(v, &of.s, c);
    eng__offer_free(&of);
}
