/* The customers CSV shared by the audience benchmarks (W1 setup, W3): a fixed
 * seed, the same bytes for libengage, SQLite and DuckDB. */
#ifndef ENG_BENCH_GEN_H
#define ENG_BENCH_GEN_H

#include <stddef.h>
#include <stdint.h>

/* Header of the generated CSV (column order of every row). */
#define BENCH_CSV_HEADER "id,city,tier,age,spend,last_purchase,contact.email,consent.email,contact.sms,consent.sms\n"

/* n customers from @p seed into a malloc'd buffer (*len bytes); reach_email[i]
 * receives whether customer i has an email contact and consents to it. */
char *bench_gen_customers(uint64_t seed, size_t n, size_t *len, uint8_t *reach_email);

/* The same CSV written to @p path without keeping it in memory; 0 or -1. */
int bench_gen_customers_file(uint64_t seed, size_t n, const char *path, size_t *len, uint8_t *reach_email);

#endif
