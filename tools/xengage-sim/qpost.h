/* --truth qpost|qfit: the exact posterior mean of a customer's engagement under a logit-normal model
 * (qpost.c), a diagnostic of the direct driver. */
#ifndef XSIM_QPOST_H
#define XSIM_QPOST_H

#include "world.h"
#include "decide/xengage.h"

typedef struct xs_qpost xs_qpost;
/* @p fit 0: the world's own model (qpost); 1: X-Engage's fitted one, read from @p xe (qfit); 2: the world's
 * with each customer's responsiveness r known (qr). NULL: no memory. */
xs_qpost *xs_qpost_open(const xs_world *w, const eng__xe *xe, int fit);
/* A resolved send (flags ENG__XE_*): the customer's counts. */
void xs_qpost_observe(xs_qpost *q, uint32_t i, unsigned c, unsigned flags);
/* The tables again: the world's segment effects of the wave (qpost), X-Engage's fits as they stand (qfit). */
void xs_qpost_refresh(xs_qpost *q);
/* Posterior mean of customer i's engagement on channel c. */
double xs_qpost_mean(xs_qpost *q, uint32_t i, unsigned c);
void xs_qpost_close(xs_qpost *q);

#endif
