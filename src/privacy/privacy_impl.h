/* The privacy layer (docs/privacy.md): erasure and export of one customer's
 * data across every layer below, checked and audited as an admin operation.
 *
 * Storage (record types 0x08xx):
 *   p/v    keys an erasure deleted or replaced, not yet told to the backend   0x0801 */
#ifndef ENG_PRIVACY_IMPL_H
#define ENG_PRIVACY_IMPL_H

#include "engage/privacy.h"
#include "audience/audience_impl.h"
#include "base/hash.h"

enum { ENG__REC_PRIV_VACUUM = 0x0801 };
#define PRIV_SCHEMA 1
#define MAX_ERASE ((size_t)1 << 24)

/* The model's side (admin.c, the one file that includes the model's internals):
 * the org an acting admin administers (ENG_EDENIED otherwise), and the audit
 * entry of one erasure, inside the open batch: object "customer/<SHA-256 hex
 * of the external id>", action "erase". */
int eng__privacy_admin(eng_engine *e, const char *actor, char *org, size_t cap);
int eng__privacy_audit(eng_engine *e, const char *org, const char *actor, const char *ext, size_t len,
                       const char *action);
/* Tell the backend the keys an earlier erasure committed but left untold (a crash
 * between its commit and the backend's rewrite, or a failed `erased`): ENG_OK when
 * there were none. Every erasure call runs it first, one that finds nobody too (the
 * host retrying an erasure whose process died: its customers are already gone). */
int eng__privacy_vacuum(eng_engine *e);
/* Erase the customers in @p ids (dense) whose external ids are ext[0..n) in one
 * batch, audited one entry each, then tell the backend (erase.c). Call inside eng__enter.
 * "privacy.erase" progress (@p pg, started by the caller: 2 units per id asked
 * for, looked up then erased) steps once per id erased and ends before the commit. */
int eng__privacy_erase(eng_engine *e, const char *actor, const char *org, const eng__idset *ids,
                       const char *const *ext, const size_t *ext_len, size_t n, eng__prog *pg);

/* Write the JSON object of one customer (export.c); touches and transactions of @p org.
 * Starts "privacy.export" progress in @p pg once the customer is found; the caller ends it. */
int eng__privacy_export(eng_engine *e, const char *org, const char *ext, eng__wr *w, eng__prog *pg);

#endif
