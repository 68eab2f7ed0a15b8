/* The org dashboard: every campaign measured over the events of one period
 * (the last 7 days, 1, 3 or 6 calendar months), headline figures summed. */
#include "measure/measure_impl.h"

#include <string.h>

/* Days since 1970-01-01 of a civil date, and back (H. Hinnant's algorithms). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

/* now minus @p months calendar months, the day clamped to the target month's length. */
static eng_time months_back(eng_time now, unsigned months)
{
    int64_t day = now >= 0 ? now / ENG_DAY : -((-now + ENG_DAY - 1) / ENG_DAY);
    eng_time tod = now - day * ENG_DAY;
    int64_t y;
    unsigned m, d;
    civil_from_days(day, &y, &m, &d);
    int64_t mm = (int64_t)m - 1 - months;
    y += mm >= 0 ? mm / 12 : -((-mm + 11) / 12);
    m = (unsigned)(((mm % 12) + 12) % 12) + 1;
    static const unsigned len[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    unsigned ml = len[m - 1] + (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0));
    if (d > ml)
        d = ml;
    return days_from_civil(y, m, d) * ENG_DAY + tod;
}

static int measure_org(eng_engine *engine, const eng_touch_columns *touches, const eng_txn_columns *txns,
                       const eng_measure_spec *campaigns, size_t n, eng_time now, int period, int64_t credits_remaining,
                       eng_org_figures *out)
{
    int rc;
    if ((rc = eng__out_open(out, ENG__SIZES(sizeof(eng_org_figures)), "eng_org_figures", "out")))
        return rc;
    if (n && !campaigns)
        return eng__err(ENG_EINVAL, "campaigns", "eng_measure_org: campaigns is NULL");
    eng_org_figures f;
    memset(&f, 0, sizeof f);
    f.version = out->version;
    static const unsigned months[] = {0, 1, 3, 6};
    if (period < ENG_PERIOD_7_DAYS || period > ENG_PERIOD_6_MONTHS)
        return eng__err(ENG_EINVAL, "period", "%d is not an eng_org_period", period);
    f.to = now;
    f.from = period == ENG_PERIOD_7_DAYS ? now - 7 * ENG_DAY : months_back(now, months[period]);
    f.credits_remaining = credits_remaining;
    f.currency_places = n ? campaigns[0].currency_places : 2;
    eng__prog pg; /* "measure.org": campaigns measured */
    if ((rc = eng__prog_start(&pg, engine, "measure.org", n)))
        return rc;
    for (size_t i = 0; i < n; i++) {
        eng_report *r = NULL;
        rc = eng__measure_columns(engine, touches, eng__touch_occ(touches), txns, &campaigns[i], f.from, f.to, 0, NULL, 0, &r);
        if (rc)
            return eng__err_wrap(rc, "campaign %zu: ", i);
        if ((rc = eng__prog_batch(&pg, i + 1))) {
            eng_report_free(r);
            return rc;
        }
        eng_report_figures g = ENG_REPORT_FIGURES_INIT;
        eng_report_total(r, &g);
        eng_report_free(r);
        if (g.currency_places != f.currency_places)
            return eng__err(ENG_EINVAL, "campaigns", "campaign %zu: currency places differ from the first's", i);
        f.campaigns += g.sent > 0;
        f.contacted += g.contacted;
        f.sent += g.sent;
        f.delivered += g.delivered;
        f.responders += g.responders;
        /* Each campaign's figures fit an int64 (eng__report_range); their sum may not. */
        const char *wide = NULL;
        if (__builtin_add_overflow(f.responder_sales, g.responder_sales, &f.responder_sales))
            wide = "responder_sales";
        else if (__builtin_add_overflow(f.credits_spent, g.credits_spent, &f.credits_spent))
            wide = "credits_spent";
        else if (g.incremental_known &&
                 __builtin_add_overflow(f.incremental_sales, g.incremental_sales, &f.incremental_sales))
            wide = "incremental_sales";
        if (wide)
            return eng__err(ENG_ERANGE, "campaigns", "campaign %zu: the org's %s is beyond a 64-bit count", i, wide);
        f.incremental_known |= g.incremental_known;
    }
    if ((rc = eng__prog_end(&pg)))
        return rc;
    f.delivery_rate = f.sent ? 100.0 * (double)f.delivered / (double)f.sent : 0.0;
    f.hit_rate = f.contacted ? 100.0 * (double)f.responders / (double)f.contacted : 0.0;
    *out = f;
    return ENG_OK;
}

ENG_API int eng_measure_org(eng_engine *engine, const eng_touch_columns *touches, const eng_txn_columns *txns,
                            const eng_measure_spec *campaigns, size_t n, eng_time now, int period,
                            int64_t credits_remaining, eng_org_figures *out)
{
    eng__out_clear(out, ENG__SIZES(sizeof(eng_org_figures)));
    int rc = eng__engine_hold(engine); /* no lock, as eng_measure_campaign() */
    if (rc)
        return rc;
    rc = measure_org(engine, touches, txns, campaigns, n, now, period, credits_remaining, out);
    eng__engine_unhold(engine);
    return rc;
}
