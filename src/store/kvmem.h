/* In-memory key-value state with batch semantics (read-your-writes, atomic
 * commit, rollback), shared by the memory backend and the file backend (which
 * persists each batch as a frame before applying it here). */
#ifndef ENG_STORE_KVMEM_H
#define ENG_STORE_KVMEM_H

#include "engage/store.h"
#include "store/omap.h"

typedef struct eng__kvmem {
    eng__omap main;   /* committed state */
    eng__omap pend;   /* open batch: values and tombstones */
    int in_batch;
} eng__kvmem;

void eng__kvmem_init(eng__kvmem *kv, const eng__mem *mem);
void eng__kvmem_clear(eng__kvmem *kv);
int eng__kvmem_get(eng__kvmem *kv, const void *key, size_t klen, eng_buf *out);
int eng__kvmem_put(eng__kvmem *kv, const void *key, size_t klen, const void *val, size_t vlen);
int eng__kvmem_del(eng__kvmem *kv, const void *key, size_t klen);
int eng__kvmem_scan(eng__kvmem *kv, const void *prefix, size_t plen, eng_store_scan_fn cb, void *cb_user);
int eng__kvmem_begin(eng__kvmem *kv);
/* Apply the batch to main. Never fails once in_batch is set. */
int eng__kvmem_commit(eng__kvmem *kv);
int eng__kvmem_rollback(eng__kvmem *kv);

#endif
