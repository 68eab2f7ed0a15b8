/* The one thing the model asks of the events layer, which sits above it:
 * the custom transaction fields an org declared (eng_txn_field_add()), then
 * its customers' attributes, so that goal conditions are checked against them
 * at save time (the report from the stores offers the same: measure/goalcols.c). The model
 * declares the hook; the events layer defines it (src/events/txn.c), bound
 * by the linker: plain C11, no constructor, no include upward. */
#ifndef ENG_MODEL_TXN_SCHEMA_H
#define ENG_MODEL_TXN_SCHEMA_H

#include <stddef.h>
#include "engage/engine.h"
#include "engage/rules.h"

/* The org's declared fields, then its customers' attributes, into out (at most
 * cap; names borrowed while the engine lock is held); *n = 0 for an org without
 * any. Inside eng__enter. */
typedef int (*eng__txn_fields_fn)(eng_engine *e, const char *org, eng_rule_field *out, size_t cap, size_t *n);
extern const eng__txn_fields_fn eng__txn_fields_provider;

#endif
