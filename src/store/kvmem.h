/* In-memory key-value state with batch semantics (read-your-writes, atomic
 * commit, rollback), shared by the memory backend and the file backend (which
 * persists each batch as a frame before applying it here). */
#ifndef ENG_STORE_KVMEM_H
#define ENG_STORE_KVMEM_H

#include "engage/store.h"
#include "store/omap.h"

/* Reads the value of an in_file node (eng__onode) into *buf (grown with the
 * map's allocator as needed, *cap its size). ENG_OK or an I/O error. */
typedef int (*eng__kvmem_load_fn)(void *ctx, const eng__onode *n, uint8_t **buf, size_t *cap);

typedef struct eng__kvmem {
    eng__omap main;   /* committed state */
    eng__omap pend;   /* open batch: values and tombstones */
    int in_batch;
    eng__kvmem_load_fn load; /* NULL when no value is ever in_file (memory store) */
    void *load_ctx;
    uint8_t *getbuf;  /* get's scratch for in_file values */
    size_t getcap;
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
