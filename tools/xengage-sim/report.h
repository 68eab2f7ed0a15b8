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

/* Reference of "share of oracle": the budgeted oracle when a cap is set. */
int xs_reference(const xs_params *p);
double xs_share(const xs_seed_result *r, const xs_params *p, int policy, unsigned w_from, unsigned w_to);

void xs_report_tables(FILE *f, const xs_params *p, const xs_seed_result *r, size_t seeds, unsigned policies);
/* The engine driver's credit caps: prints their table; returns how many waves were charged past their cap
 * or other than what the transport saw leave (0 without caps). */
size_t xs_report_credits(FILE *f, const xs_params *p, const xs_seed_result *r, size_t seeds);
int xs_report_svg(const char *path, const xs_params *p, const xs_seed_result *r, size_t seeds, unsigned policies,
                  const char *title);

#endif
