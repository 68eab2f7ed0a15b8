/* The conformance suite's reference model: a sorted array of byte-string
 * pairs (memcmp order, a proper prefix first), and the assertions that compare
 * a store with it through get and scan. */
#ifndef CONF_REF_H
#define CONF_REF_H

#include <stddef.h>
#include <stdint.h>
#include "engage.h"
#include "store/store_impl.h"

typedef struct conf_kv {
    uint8_t *k, *v;
    size_t kl, vl;
} conf_kv;

typedef struct conf_ref {
    conf_kv *e;
    size_t n, cap;
} conf_ref;

/* The contract's key order, written plainly: memcmp, then the shorter first. */
int conf_keycmp(const void *a, size_t al, const void *b, size_t bl);
void conf_ref_put(conf_ref *r, const void *k, size_t kl, const void *v, size_t vl);
void conf_ref_del(conf_ref *r, const void *k, size_t kl);
const conf_kv *conf_ref_find(const conf_ref *r, const void *k, size_t kl);
void conf_ref_copy(conf_ref *dst, const conf_ref *src);
void conf_ref_free(conf_ref *r);

/* Scan @p prefix into @p out (appended in the order the store gives). */
int conf_scan_into(eng_store *s, const void *prefix, size_t plen, conf_ref *out);
/* The store's keys under @p prefix are exactly want's, in order, with the same
 * values (checked by scan, and by get for up to 32 of the keys). */
void conf_assert_prefix(eng_store *s, const conf_ref *want, const void *prefix, size_t plen);
void conf_assert_equals(eng_store *s, const conf_ref *want);
/* 0 when equal (used in forked children, which must not call cmocka). */
int conf_equals(eng_store *s, const conf_ref *want);

#endif
