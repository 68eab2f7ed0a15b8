/* Figures of a report scope from its exact accumulators: money rounded once,
 * half-even; hit rates, the lift with its 95 % interval and p-value; unknown
 * figures flagged rather than divided by zero. */
#include "measure/measure_impl.h"
#include "base/handle.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Beyond every int64 (the wide results below say "does not fit" with it). */
#define WIDE_OUT ((eng__i128)INT64_MAX + 1)

static int fits(eng__i128 v)
{
    return v >= INT64_MIN && v <= INT64_MAX;
}

/* x (amount units x ENG__SHARE_DEN) / extra_den in minor units of the currency, or WIDE_OUT. */
static eng__i128 to_minor(const eng_report *r, eng__i128 x, eng__i128 extra_den)
{
    int d = r->places - r->amount_scale;
    eng__i128 den = (eng__i128)ENG__SHARE_DEN * extra_den;
    if (d > 0 && __builtin_mul_overflow(x, eng__pow10_128(d), &x))
        return WIDE_OUT;
    if (d < 0)
        den *= eng__pow10_128(-d);
    return eng__div_half_even(x, den);
}

static eng__i128 incremental(const eng_report *r, const eng__acc *a, uint64_t n_c, uint64_t r_c)
{
    /* (r_t/n_t - r_c/n_c) x n_t x S/r_t = S x (r_t n_c - r_c n_t) / (r_t n_c) */
    eng__i128 q = (eng__i128)a->responders * n_c - (eng__i128)r_c * a->contacted;
    eng__i128 den = (eng__i128)a->responders * n_c, num;
    if (!__builtin_mul_overflow(a->sales, q, &num))
        return to_minor(r, num, den);
    long double v = (long double)a->sales * ((long double)q / (long double)den) / ENG__SHARE_DEN;
    int d = r->places - r->amount_scale;
    v *= powl(10.0L, d);
    v = nearbyintl(v); /* default rounding mode: half-even */
    /* Converting a value beyond int64 would be undefined: say it does not fit instead. */
    return fabsl(v) < 0x1p63L ? (eng__i128)v : WIDE_OUT;
}

const char *eng__report_figures(const eng_report *r, const eng__acc *a, const eng__acc *ctl, eng_report_figures *f)
{
    const char *wide = NULL;
    eng__i128 v;
    memset(f, 0, sizeof *f);
    f->version = ENG_REPORT_FIGURES_VERSION;
    f->responder_def = r->responder_def;
    f->currency_places = r->places;
    f->contacted = a->contacted;
    f->sent = a->count[ENG_TOUCH_SENT];
    f->delivered = a->count[ENG_TOUCH_DELIVERED];
    f->not_delivered = a->count[ENG_TOUCH_FAILED] + a->count[ENG_TOUCH_BOUNCED];
    f->opened = a->count[ENG_TOUCH_OPENED];
    f->clicked = a->count[ENG_TOUCH_CLICKED];
    f->unsubscribed = a->count[ENG_TOUCH_UNSUBSCRIBED];
    f->responders = a->responders;
    f->conversions = a->conversions;
    f->hit_rate = a->contacted ? 100.0 * (double)a->responders / (double)a->contacted : 0.0;
    f->responder_sales = (int64_t)(v = to_minor(r, a->sales, 1));
    if (!fits(v))
        wide = "responder_sales";
    if (a->responders) {
        f->spend_per_responder_known = 1;
        f->spend_per_responder = (int64_t)(v = to_minor(r, a->sales, (eng__i128)a->responders));
        if (!fits(v) && !wide)
            wide = "spend_per_responder";
    }
    f->credits_spent = a->credits;
    f->control_contacted = ctl->control_n;
    f->control_responders = ctl->control_resp;
    if (ctl->control_n) {
        f->control_known = 1;
        f->control_hit_rate = 100.0 * (double)ctl->control_resp / (double)ctl->control_n;
    }
    if (ctl->control_n && a->contacted) {
        double nt = (double)a->contacted, nc = (double)ctl->control_n;
        double pt = (double)a->responders / nt, pc = (double)ctl->control_resp / nc;
        double se = sqrt(pt * (1 - pt) / nt + pc * (1 - pc) / nc);
        f->lift_known = 1;
        f->lift = 100.0 * (pt - pc);
        f->lift_ci_low = 100.0 * (pt - pc - 1.959963984540054 * se);
        f->lift_ci_high = 100.0 * (pt - pc + 1.959963984540054 * se);
        double pp = ((double)a->responders + (double)ctl->control_resp) / (nt + nc);
        double sp = sqrt(pp * (1 - pp) * (1 / nt + 1 / nc));
        f->p_value = sp > 0 ? erfc(fabs(pt - pc) / sp / sqrt(2.0)) : 1.0;
        if (a->responders) {
            f->incremental_known = 1;
            f->incremental_sales = (int64_t)(v = incremental(r, a, ctl->control_n, ctl->control_resp));
            if (!fits(v) && !wide)
                wide = "incremental_sales";
        }
    }
    return wide;
}

int eng__report_range(const eng_report *r)
{
    eng_report_figures f;
    char scope[32], detail[64];
    const char *wide = eng__report_figures(r, &r->total, &r->total, &f);
    snprintf(scope, sizeof scope, "total");
    for (int ch = 0; ch < ENG_MAX_CHANNELS && !wide; ch++)
        if (r->chan[ch].used && (wide = eng__report_figures(r, &r->chan[ch], &r->total, &f)))
            snprintf(scope, sizeof scope, "channel[%d]", ch);
    for (size_t m = 0; m < r->nmsg && !wide; m++)
        if ((wide = eng__report_figures(r, &r->msg[m], &r->msg[m], &f)))
            snprintf(scope, sizeof scope, "message[%u]", r->msg_ids[m]);
    if (!wide)
        return ENG_OK;
    snprintf(detail, sizeof detail, "report.%s.%s", scope, wide);
    return eng__err(ENG_ERANGE, detail, "%s of the report's %s is beyond a 64-bit count of minor units "
                    "(amounts too large for currency_places)", wide, scope);
}

static int check(const eng_report *r, eng_report_figures *out)
{
    if (!eng__handle_live(r, ENG__H_REPORT)) {
        eng__out_clear(out, ENG__SIZES(sizeof(eng_report_figures)));
        return eng__err(ENG_EMISUSE, "report", "not a live report (NULL, freed or another kind of handle)");
    }
    return eng__out_open(out, ENG__SIZES(sizeof(eng_report_figures)), "eng_report_figures", "out");
}

ENG_API int eng_report_total(const eng_report *r, eng_report_figures *out)
{
    int rc = check(r, out);
    if (rc)
        return rc;
    eng__report_figures(r, &r->total, &r->total, out);
    return ENG_OK;
}

ENG_API int eng_report_channel(const eng_report *r, int channel, eng_report_figures *out)
{
    int rc = check(r, out);
    if (rc)
        return rc;
    if (channel < 0 || channel >= ENG_MAX_CHANNELS)
        return eng__err(ENG_ERANGE, "channel", "channel %d is outside 0..%d", channel, ENG_MAX_CHANNELS - 1);
    eng__report_figures(r, &r->chan[channel], &r->total, out);
    return ENG_OK;
}

ENG_API size_t eng_report_message_count(const eng_report *r)
{
    return eng__handle_live(r, ENG__H_REPORT) ? r->nmsg : 0;
}

ENG_API int eng_report_message(const eng_report *r, size_t i, uint32_t *message, eng_report_figures *out)
{
    if (message)
        *message = 0;
    int rc = check(r, out);
    if (rc)
        return rc;
    if (i >= r->nmsg)
        return eng__err(ENG_ERANGE, "i", "message index %zu is not below %zu", i, r->nmsg);
    if (message)
        *message = r->msg_ids[i];
    eng__report_figures(r, &r->msg[i], &r->msg[i], out);
    return ENG_OK;
}
