/* How the simulator talks to the optimizer under test. The direct driver
 * calls the decide layer's internal API; an engine driver (org, campaign,
 * X-Engage message, run-due, transport callback, receipts through the events
 * API) implements the same calls. */
#ifndef XSIM_DRIVER_H
#define XSIM_DRIVER_H

#include <stdio.h>

#include "world.h"

typedef struct xs_choice {
    int8_t ch;        /* -1: none */
    uint8_t explored; /* from the exploration bucket (propensity is exact) */
    float propensity;
} xs_choice;

typedef struct xs_driver_opts {
    double explore, forget;
    int sample_q, sample_pi, guard_priority, skip_negative;
    unsigned threads;
    int customer_value; /* the host passes each customer's order value (else the world's mean) */
} xs_driver_opts;
void xs_driver_opts_default(xs_driver_opts *o);

typedef struct xs_driver xs_driver;
struct xs_driver {
    /* Decide for customers @p ids of wave @p wave; @p budget < 0: no cap. */
    void (*decide)(xs_driver *d, unsigned wave, const uint32_t *ids, size_t n, double budget, xs_choice *out);
    /* A resolved send (flags: ENG__XE_*), a control customer's wave, and the batch/wave boundaries. */
    void (*outcome)(xs_driver *d, uint32_t i, unsigned ch, unsigned flags);
    void (*control)(xs_driver *d, uint32_t i, int converted);
    void (*refresh)(xs_driver *d);
    void (*new_wave)(xs_driver *d);
    /* Model estimate of the reward (value x conversion - cost) of sending i channel c (-1: nothing). */
    double (*dm)(xs_driver *d, uint32_t i, int ch);
    /* Print why customer i gets its channel in wave @p wave (the optimizer's trace). Optional. */
    void (*explain)(xs_driver *d, unsigned wave, uint32_t i, FILE *f);
    void (*close)(xs_driver *d);
    const char *name;
};

xs_driver *xs_direct_open(const xs_world *w, uint64_t seed, const xs_driver_opts *o);

#endif
