/* Incentives: none, a coupon offer (common code, uploaded pool, generated
 * codes) or a points strategy (allocation and expiry). */
#include "model/model_impl.h"

static int code_ok(const char *s)
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
            eng__vr_add(v, ENG_EINVAL, "message.incentive.offer_id", "a coupon incentive needs an offer id");
        if (in->coupon_source == ENG_COUPON_COMMON && (eng__empty(in->coupon_code) || !code_ok(in->coupon_code)))
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
