/* The oracle: it knows the world's truth and sends each test customer the channel of the highest expected net
 * value (value x incremental probability - cost), or nothing; under a credit cap the budgeted oracle prices each
 * credit at 1 + lambda, with the smallest multiplier whose choices fit the cap. */
#ifndef XSIM_ORACLE_H
#define XSIM_ORACLE_H

#include "world.h"

/* Customer i's best channel at multiplier @p lambda (-1: none pays); *gain its score when @p gain. */
int xs_oracle_pick(const xs_world *w, uint32_t i, double lambda, double *gain);
/* Credits the oracle's choices at @p lambda spend over the test customers (batch[i] < 200). */
double xs_oracle_spend(const xs_world *w, const uint8_t *batch, double lambda);
/* The budgeted oracle's multiplier for @p budget credits over the wave's test customers (0 when the cap does not
 * bind). Its choices are the best net value for what they spend (a Lagrangian solution of the multiple-choice
 * knapsack), and within lambda x what they leave of the cap of the best under the cap (test_oracle.c). */
double xs_oracle_cap(const xs_world *w, const uint8_t *batch, double budget);

#endif
