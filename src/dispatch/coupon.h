/* Coupon pools inside the library (coupon.c, coupon_code.c). Records:
 *   d/cp/<org>/<pool>                 the pool: kind, size, codes handed out, pattern, secret   0x0604
 *   d/cc/<org>/<pool>/<block:08x>     uploaded codes, ENG__COUPON_BLOCK per record              0x0605
 *   d/ca/<org>/<customer:08x>/<pool>  a customer's code: index, code, message, occurrence, time 0x0606
 * Keys by customer first, so one prefix scan lists what a customer holds
 * (the privacy export) and erasing a customer's codes is one prefix. */
#ifndef ENG_DISPATCH_COUPON_H
#define ENG_DISPATCH_COUPON_H

#include <stdint.h>
#include "engage/coupon.h"
#include "core/engine_impl.h"

#define ENG__COUPON_BLOCK 256

typedef struct eng__cpool {
    int kind;              /* eng_coupon_pool_kind */
    uint64_t size, drawn;  /* codes, and how many were handed out (the next index) */
    char pattern[ENG_COUPON_CODE_MAX + 1];
    uint8_t secret[256];
    size_t secret_len;
} eng__cpool;

int eng__cpool_load(eng_engine *e, const char *org, const char *pool, eng__cpool *out); /* ENG_ENOTFOUND */

/* Draw codes for @p n customers of one execution, in one storage batch of its
 * own (none may be open): a customer who holds a code of the pool keeps it;
 * the others get the next codes in order, stored before the caller renders
 * them. codes[i] is "" for a customer left without one (the pool is empty).
 * Customers must be distinct. */
int eng__coupon_draw(eng_engine *e, const char *org, const char *pool, uint64_t message, uint32_t occurrence,
                     eng_time now, const uint32_t *customers, size_t n, char (*codes)[ENG_COUPON_CODE_MAX + 1]);

/* The same without writing (the dry run): @p skip counts the new codes earlier
 * peeks of this run took (in, and out advanced); @p need is increased by the
 * customers that hold no code yet, whether or not one is left for them. */
int eng__coupon_peek(eng_engine *e, const char *org, const char *pool, const uint32_t *customers, size_t n,
                     uint64_t *skip, uint64_t *need, char (*codes)[ENG_COUPON_CODE_MAX + 1]);

/* How many of @p customers hold no code of the pool yet. */
int eng__coupon_missing(eng_engine *e, const char *org, const char *pool, const uint32_t *customers, size_t n,
                        uint64_t *out);

/* ---- what a customer holds (for the privacy export and erasure) ---- */
typedef struct eng__coupon_row {
    const char *pool;
    const char *code;
    uint64_t index, message;
    uint32_t occurrence;
    eng_time at;
} eng__coupon_row;
/* Return non-zero to stop (a negative value is returned as the error). */
typedef int (*eng__coupon_fn)(const eng__coupon_row *row, void *user);
/* Every code @p customer of @p org holds, in pool-id order. */
int eng__coupons_each(eng_engine *e, const char *org, uint32_t customer, eng__coupon_fn fn, void *user);
/* Delete them inside the caller's open batch (the pools never hand the codes out again). */
int eng__coupons_erase(eng_engine *e, const char *org, uint32_t customer);

/* ---- generated codes (coupon_code.c) ---- */
/* Capacity of a pattern (0 when it is not acceptable: then *why says why). */
uint64_t eng__cpattern_size(const char *pattern, const char **why);
/* The code at hand-out position @p index of a generated pool. */
void eng__cpattern_code(const eng__cpool *p, uint64_t index, char out[ENG_COUPON_CODE_MAX + 1]);

#endif
