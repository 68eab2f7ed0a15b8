/* In-memory key-value state with batch semantics (read-your-writes, atomic
 * commit, rollback), shared by the memory backend and the file backend (which
 * persists each batch as a frame before applying it here). */
#ifndef ENG_STORE_KVMEM_H
#define ENG_STORE_KVMEM_H

#include "engage/store.h"
#include "store/kbase.h"
#include "store/omap.h"

/* Reads the @p vlen bytes at file offset @p foff (an in_file node's value, or a
 * large one of the base) into *buf (grown with the map's allocator as needed,
 * *cap its size). ENG_OK or an I/O error. */
typedef int (*eng__kvmem_load_fn)(void *ctx, uint64_t foff, size_t vlen, uint8_t **buf, size_t *cap);

typedef struct eng__kvmem {
    eng__omap main;   /* committed state */
    eng__omap pend;   /* open batch: values and tombstones */
    int in_batch;
    eng__kvmem_load_fn load; /* NULL when no value is ever in_file (memory store) */
    void *load_ctx;
    uint8_t *getbuf;  /* get's scratch for in_file values */
    size_t getcap;
    /* File store: the keys of its mapped index, under main (whose tombstones
     * then stay to hide them); NULL for none. base_bytes and base_enc are what
     * the base's keys not hidden by main add to main.bytes and main.enc. */
    eng__kbase *base;
    uint64_t base_bytes, base_enc;
    /* Values of the base this large are read with load, not from the mapping:
     * bulk data is copied where it is used and is not counted in the process's
     * resident memory (the mapping would be), as for in_file nodes. */
    size_t ref_min;
    int scanning; /* iterations under way: the base must not be swapped */
} eng__kvmem;

/* One entry of the merged view (pending batch over main over base). From a map
 * node (node set: its val is NULL when in_file) or from the base (node NULL). */
typedef struct eng__kitem {
    eng__kent e;
    const eng__onode *node;
} eng__kitem;
typedef int (*eng__kvmem_each_fn)(const eng__kitem *it, void *user);
/* The value of @p it: in memory, in the mapping, or read into *buf. */
int eng__kvmem_value(eng__kvmem *kv, const eng__kitem *it, uint8_t **buf, size_t *cap, const uint8_t **val);
/* In key order, the live entries with @p prefix; @p fn returns non-zero to
 * stop. ENG_OK (also when stopped) or the base's ENG_ECORRUPT. */
int eng__kvmem_each(eng__kvmem *kv, const void *prefix, size_t plen, eng__kvmem_each_fn fn, void *user);
/* Take @p base (owned from now on; NULL drops it) under main, after main has
 * been filled with what follows it in the file (tombstones included). */
int eng__kvmem_set_base(eng__kvmem *kv, eng__kbase *base);
/* What committing @p from into main takes off base_bytes and base_enc (keys of
 * the base that main does not hide yet). ENG_OK or ENG_ECORRUPT. */
int eng__kvmem_hidden(eng__kvmem *kv, const eng__omap *from, uint64_t *bytes, uint64_t *enc);

void eng__kvmem_init(eng__kvmem *kv, const eng__mem *mem);
void eng__kvmem_clear(eng__kvmem *kv);
int eng__kvmem_get(eng__kvmem *kv, const void *key, size_t klen, eng_buf *out);
int eng__kvmem_put(eng__kvmem *kv, const void *key, size_t klen, const void *val, size_t vlen);
int eng__kvmem_del(eng__kvmem *kv, const void *key, size_t klen);
int eng__kvmem_scan(eng__kvmem *kv, const void *prefix, size_t plen, eng_store_scan_fn cb, void *cb_user);
int eng__kvmem_begin(eng__kvmem *kv);
/* Apply the batch to main. Never fails once in_batch is set. A file store
 * with a base first takes eng__kvmem_hidden(pend) off base_bytes and base_enc. */
int eng__kvmem_commit(eng__kvmem *kv);
int eng__kvmem_rollback(eng__kvmem *kv);

#endif
