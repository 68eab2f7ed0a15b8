/* xengage-sim: the decision-quality benchmark of X-Engage (BENCHMARKS.md).
 *
 *   xengage-sim [--world FILE] [--size S|M|L | --customers N] [--seeds N] [--seed0 S]
 *               [--waves W] [--sales-history WEEKS] [--order-sd X] [--budget SHARE] [--scenario NAME]... [--svg FILE] [--check]
 *               [--explore X] [--forget X] [--sample-q 0|1] [--sample-pi 0|1] [--guard] [--no-skip] [--customer-value] [--truth q,pi,value,delivery,qpost,qfit,qr]
 *               [--lgn] [--informed] [--threads T] [--policies a,b,...] [--trace CUSTOMER] [--driver direct|engine] [--verbose] [--no-history] [--no-segments]
 *
 * --driver engine plays the same campaign through the real engine's public API
 * (driver_engine.c) instead of the optimizer's internal API. --truth (direct driver,
 * diagnostics) puts the world's own engagement, conversion given engagement, order
 * value or delivery rate in place of X-Engage's estimates in its score; qpost / qfit
 * its engagement estimate by the exact posterior mean of a logit-normal model with the
 * world's own parameters / X-Engage's fitted ones (qpost.c); qr the same with each customer's
 * responsiveness r known (the ceiling of any information about it). --lgn (direct driver) turns
 * on X-Engage's logit-normal engagement estimate (xengage_lgn.c, off by default). --informed (direct driver)
 * caps each batch's spend at what the choices of X-Engage's own engagement draws would spend (eng__xe_sampled_spend:
 * an informed optimizer's spend by the posterior; the multiplier spends it where the means gain most). --calib (direct driver)
 * prints X-Engage's own estimates against the truth decision by decision (calib.c). --channels prints each wave's
 * sends and their exact net value per channel for xengage, the oracle and priority (where a world's shortfall is).
 *
 * Scenarios: outage, drift, budget, cheap, dear, lowvalue (K = 10 is a world
 * file). --budget SHARE (or the world file's `budget`) caps each wave's spend at
 * SHARE x send_all's cost on its test group; the engine driver passes it as the
 * message's credit cap and fails unless every wave is charged within it. --check exits 1 unless xengage's net value beats random_single's and
 * send_all's in every seed (the robust ordering the test suite asserts). */
#include "report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(void)
{
    fprintf(stderr, "usage: xengage-sim [--world FILE] [--size S|M|L] [--customers N] [--seeds N] [--seed0 S] [--delay fit|true|off] "
                    "[--waves W] [--sales-history WEEKS] [--order-sd X] [--budget SHARE] [--scenario outage|drift|budget|cheap|dear|lowvalue]... [--svg FILE] [--check] "
                    "[--explore X] [--forget X] [--sample-q 0|1] [--sample-pi 0|1] [--guard] [--no-skip] [--customer-value] [--truth q,pi,value,delivery,qpost,qfit,qr] [--lgn] [--informed] [--calib] [--channels] "
                    "[--threads T] [--policies a,b,...] [--trace CUSTOMER] [--driver direct|engine] [--verbose] [--no-history] [--no-segments]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    xs_params p;
    xs_params_default(&p);
    xs_sim_opts o;
    xs_driver_opts_default(&o.drv);
    o.policies = (1u << P_COUNT) - 1;
    o.trace = -1;
    o.calib = 0;
    o.channels = 0;
    size_t seeds = 5;
    uint64_t seed0 = 1;
    long customers = -1, waves = -1, sales_weeks = -1;
    double budget = -1, order_sd = -1;
    const char *svg = NULL, *scen[8], *wname = "default";
    int nscen = 0, check = 0;
    char err[512];
    for (int a = 1; a < argc; a++) {
        const char *k = argv[a], *v = a + 1 < argc ? argv[a + 1] : NULL;
        if (strcmp(k, "--check") == 0) {
            check = 1;
            continue;
        }
        if (strcmp(k, "--guard") == 0) {
            o.drv.guard_priority = 1;
            continue;
        }
        if (strcmp(k, "--customer-value") == 0) {
            o.drv.customer_value = 1;
            continue;
        }
        if (strcmp(k, "--no-segments") == 0) {
            o.drv.no_segments = 1;
            continue;
        }
        if (strcmp(k, "--no-history") == 0) {
            o.drv.no_history = 1;
            continue;
        }
        if (strcmp(k, "--verbose") == 0) {
            o.drv.verbose = 1;
            continue;
        }
        if (strcmp(k, "--calib") == 0) {
            o.calib = 1;
            continue;
        }
        if (strcmp(k, "--channels") == 0) {
            o.channels = 1;
            continue;
        }
        if (strcmp(k, "--informed") == 0) {
            o.drv.informed = 1;
            continue;
        }
        if (strcmp(k, "--lgn") == 0) {
            o.drv.q_lgn = 1;
            continue;
        }
        if (strcmp(k, "--no-skip") == 0) {
            o.drv.skip_negative = 0;
            continue;
        }
        if (!v)
            usage();
        a++;
        if (strcmp(k, "--world") == 0) {
            const char *sl = strrchr(v, '/');
            wname = sl ? sl + 1 : v;
            if (xs_params_load(&p, v, err, sizeof err)) {
                fprintf(stderr, "xengage-sim: %s\n", err);
                return 2;
            }
        } else if (strcmp(k, "--size") == 0)
            customers = strcmp(v, "S") == 0 ? 10000 : strcmp(v, "M") == 0 ? 1000000 : strcmp(v, "L") == 0 ? 10000000 : -2;
        else if (strcmp(k, "--customers") == 0)
            customers = atol(v);
        else if (strcmp(k, "--driver") == 0) {
            if (strcmp(v, "engine") && strcmp(v, "direct"))
                usage();
            o.drv.engine = strcmp(v, "engine") == 0;
        } else if (strcmp(k, "--seeds") == 0)
            seeds = (size_t)atol(v);
        else if (strcmp(k, "--seed0") == 0)
            seed0 = strtoull(v, NULL, 10);
        else if (strcmp(k, "--waves") == 0)
            waves = atol(v);
        else if (strcmp(k, "--sales-history") == 0)
            sales_weeks = atol(v);
        else if (strcmp(k, "--order-sd") == 0)
            order_sd = atof(v);
        else if (strcmp(k, "--budget") == 0) {
            char *end;
            budget = strtod(v, &end);
            if (*end || !(budget > 0 && budget <= 1))
                usage();
        }
        else if (strcmp(k, "--scenario") == 0 && nscen < 8)
            scen[nscen++] = v;
        else if (strcmp(k, "--trace") == 0)
            o.trace = atol(v);
        else if (strcmp(k, "--svg") == 0)
            svg = v;
        else if (strcmp(k, "--explore") == 0)
            o.drv.explore = atof(v);
        else if (strcmp(k, "--forget") == 0)
            o.drv.forget = atof(v);
        else if (strcmp(k, "--sample-q") == 0)
            o.drv.sample_q = atoi(v);
        else if (strcmp(k, "--sample-pi") == 0)
            o.drv.sample_pi = atoi(v);
        else if (strcmp(k, "--truth") == 0) {
            char buf[128];
            snprintf(buf, sizeof buf, "%s", v);
            char *save = NULL;
            for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                static const char *const names[] = {"q", "pi", "value", "delivery", "qpost", "qfit", "qr"};
                int found = 0;
                for (unsigned q = 0; q < 7; q++)
                    if (strcmp(t, names[q]) == 0)
                        o.drv.truth |= 1u << q, found = 1;
                if (!found)
                    usage();
            }
        } else if (strcmp(k, "--delay") == 0) {
            if (strcmp(v, "fit") == 0)
                o.drv.delay = XS_DELAY_FIT;
            else if (strcmp(v, "true") == 0)
                o.drv.delay = XS_DELAY_TRUE;
            else if (strcmp(v, "off") == 0)
                o.drv.delay = XS_DELAY_OFF;
            else
                usage();
        } else if (strcmp(k, "--threads") == 0)
            o.drv.threads = (unsigned)atoi(v);
        else if (strcmp(k, "--policies") == 0) {
            o.policies = 1u << P_ORACLE;
            char buf[256];
            snprintf(buf, sizeof buf, "%s", v);
            char *save = NULL;
            for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                int found = 0;
                for (int q = 0; q < P_COUNT; q++)
                    if (strcmp(t, xs_policy_name[q]) == 0)
                        o.policies |= 1u << q, found = 1;
                if (!found)
                    usage();
            }
        } else
            usage();
    }
    if (customers == -2 || seeds < 1 || seeds > 1000)
        usage();
    if (o.drv.q_lgn && o.drv.engine) {
        fprintf(stderr, "xengage-sim: --lgn needs --driver direct (the engine's executions use the library's default)\n");
        return 2;
    }
    if (o.drv.informed && o.drv.engine) {
        fprintf(stderr, "xengage-sim: --informed needs --driver direct\n");
        return 2;
    }
    if (o.calib && o.drv.engine) {
        fprintf(stderr, "xengage-sim: --calib needs --driver direct\n");
        return 2;
    }
    if (o.drv.truth && o.drv.engine) {
        fprintf(stderr, "xengage-sim: --truth needs --driver direct\n");
        return 2;
    }
    if (customers > 0)
        p.customers = (uint32_t)customers;
    if (waves > 0)
        p.waves = (unsigned)waves;
    if (sales_weeks >= 0) /* the world file's sales_history_weeks and order_sd, from the command line */
        p.sales_weeks = (unsigned)sales_weeks;
    if (order_sd >= 0)
        p.order_sd = order_sd;
    for (int s = 0; s < nscen; s++)
        if (xs_params_scenario(&p, scen[s])) {
            fprintf(stderr, "xengage-sim: unknown scenario '%s'\n", scen[s]);
            return 2;
        }
    if (budget > 0) /* after the scenarios: the command line has the last word */
        p.budget = budget;
    if (p.budget > 0)
        o.policies |= 1u << P_ORACLE_BUDGET;
    else
        o.policies &= ~(1u << P_ORACLE_BUDGET);
    xs_seed_result *r = calloc(seeds, sizeof *r);
    if (!r)
        return 1;
    double xt = 0;
    int ok = 1;
    for (size_t k = 0; k < seeds; k++) {
        if (xs_run_seed(&p, seed0 + k, &o, &r[k])) {
            fprintf(stderr, "xengage-sim: out of memory\n");
            return 1;
        }
        xt += r[k].seconds_xengage;
        if (check) {
            double nx = 0, nr = 0, ns = 0;
            for (unsigned w = 0; w < p.waves; w++)
                nx += r[k].w[P_XENGAGE][w].net, nr += r[k].w[P_RANDOM][w].net, ns += r[k].w[P_SEND_ALL][w].net;
            int pass = nx > nr && nx > ns;
            printf("seed %llu: xengage %.0f, random_single %.0f, send_all %.0f: %s\n", (unsigned long long)(seed0 + k),
                   nx, nr, ns, pass ? "ok" : "FAIL");
            ok &= pass;
        }
    }
    printf("driver: %s; scenarios:", o.drv.engine ? "engine (the public API: org, campaign, X-Engage message, "
                                                    "approval, run-due, transport, receipts, transactions, report)"
                                                  : "direct (src/decide internal API)");
    for (int s = 0; s < nscen; s++)
        printf(" %s", scen[s]);
    printf("%s; xengage campaign time %.2f s per seed\n", nscen ? "" : " none", xt / seeds);
    xs_report_tables(stdout, &p, r, seeds, o.policies);
    xs_report_cost(stdout, &p, r, seeds, o.policies);
    xs_report_calib(stdout, &p, r, seeds);
    if (xs_report_credits(stdout, &p, r, seeds)) {
        fprintf(stderr, "xengage-sim: the engine charged a wave past its credit cap or other than what was sent\n");
        ok = 0;
    }
    if (svg && xs_report_svg(svg, &p, r, seeds, o.policies, nscen ? scen[0] : wname))
        fprintf(stderr, "xengage-sim: cannot write %s\n", svg);
    free(r);
    return ok ? 0 : 1;
}
