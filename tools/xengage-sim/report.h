/* Metrics over seeds: mean and 95 % interval, the comparison tables and the
 * SVG chart of share-of-oracle per wave. */
#ifndef XSIM_REPORT_H
#define XSIM_REPORT_H

#include <stdio.h>
#include "sim.h"

typedef struct xs_summary {
    double mean, lo, hi, median, min, max;
} xs_summary;
void xs_summarize(const double *x, size_t n, xs_summary *s);

/* A policy's totals over waves from..to (1-based) of one seed. */
xs_wm xs_total(const xs_seed_result *r, int policy, unsigned from, unsigned to);
/* x[k] = scale * (policy's measure / ref's measure) over all waves of seed k; 0 when a seed's reference is
 * not positive (a world where send_all costs nothing, or every policy loses money), where the ratio would
 * say nothing. XS_COST is the cost in the net value: credits + fatigue. */
enum { XS_NET, XS_INCR, XS_CREDITS, XS_COST };
/* A per-wave table's title and header: "| policy | wave 1 | ... |" and its rule. */
void xs_wave_header(FILE *f, const char *title, unsigned W);
int xs_ratios(double *x, const xs_seed_result *r, size_t seeds, int pol, int ref, unsigned W, int what, double scale);

/* Reference of "share of oracle": the budgeted oracle when a cap is set. */
int xs_reference(const xs_params *p);
double xs_share(const xs_seed_result *r, const xs_params *p, int policy, unsigned w_from, unsigned w_to);

void xs_report_tables(FILE *f, const xs_params *p, const xs_seed_result *r, size_t seeds, unsigned policies);
/* Cost on both readings: credits (the table above) and credits + fatigue (what net value subtracts), each
 * against send_all's and per incremental conversion, and the cost target of BENCHMARKS.md on each. */
void xs_report_cost(FILE *f, const xs_params *p, const xs_seed_result *r, size_t seeds, unsigned policies);
/* --calib (direct driver): xengage's estimates against the truth (calib.c); nothing when not collected. */
void xs_report_calib(FILE *f, const xs_params *p, const xs_seed_result *r, size_t seeds);
/* The engine driver's credit caps: prints their table; returns how many waves were charged past their cap
 * or other than what the transport saw leave (0 without caps). */
size_t xs_report_credits(FILE *f, const xs_params *p, const xs_seed_result *r, size_t seeds);
int xs_report_svg(const char *path, const xs_params *p, const xs_seed_result *r, size_t seeds, unsigned policies,
                  const char *title);

#endif
