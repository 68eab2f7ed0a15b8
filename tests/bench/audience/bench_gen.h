/* The customers CSV shared by the audience benchmarks (W1 setup, W3): a fixed
 * seed, the same bytes for libengage, SQLite and DuckDB; and the engine that
 * imports it. */
#ifndef ENG_BENCH_GEN_H
#define ENG_BENCH_GEN_H

#include <stddef.h>
#include <stdint.h>

#include "engage.h"
#include "bench_util.h"

/* Header of the generated CSV (column order of every row). */
#define BENCH_CSV_HEADER "id,city,tier,age,spend,last_purchase,contact.email,consent.email,contact.sms,consent.sms\n"

/* n customers from @p seed into a malloc'd buffer (*len bytes); reach_email[i]
 * receives whether customer i has an email contact and consents to it. */
char *bench_gen_customers(uint64_t seed, size_t n, size_t *len, uint8_t *reach_email);

/* The same CSV written to @p path without keeping it in memory; 0 or -1. */
int bench_gen_customers_file(uint64_t seed, size_t n, const char *path, size_t *len, uint8_t *reach_email);

/* Customers belong to an org: the benchmarks act as BENCH_TA, the admin of org "t". */
#define BENCH_TA "t-admin"

/* An engine over @p store (NULL: memory) with org "t" and the typed columns of the CSV;
 * ENG_OK or the failing call's error. */
int bench_gen_engine(eng_store *store, eng_engine **out);
/* eng_config.threads of those engines: ENG_BENCH_THREADS, default 2 (the
 * applier and one parsing helper beside the caller). */
unsigned bench_gen_threads(void);

/* Import the CSV at @p path through read(2) (eng_customers_import_csv), the time of the
 * call added to @p best; ENG_EIO when the file does not open. */
int bench_gen_import_file(eng_engine *e, const char *path, bench_best *best);

#endif
