/* Ordered byte-string map (a treap) for the in-memory and file backends.
 * Keys compare as unsigned bytes (memcmp, shorter prefix first), which is the
 * scan order the storage contract promises. A node may be a tombstone ("dead")
 * so a pending batch can record deletions. */
#ifndef ENG_STORE_OMAP_H
#define ENG_STORE_OMAP_H

#include <stddef.h>
#include <stdint.h>
#include "base/mem.h"

typedef struct eng__onode {
    struct eng__onode *l, *r;
    uint32_t prio;
    uint8_t dead;
    uint8_t in_file; /* the value is not in memory: vlen bytes at offset foff of the file store's file */
    size_t klen, vlen;
    uint8_t *val;   /* separately allocated; NULL when vlen == 0, dead or in_file */
    uint64_t foff;  /* file offset of the value (in_file), or where the pending write put it */
    uint8_t key[];  /* klen bytes */
} eng__onode;

typedef struct eng__omap {
    const eng__mem *mem;
    eng__onode *root;
    size_t count;      /* nodes, tombstones included */
    size_t bytes;      /* sum of key and value lengths of live nodes */
    uint64_t enc;      /* bytes the live nodes take as frame ops (the file's live bytes) */
    uint32_t rng;
    int keep_dead;     /* merges and deletes leave tombstones (they hide keys of a file store's index) */
} eng__omap;

void eng__omap_init(eng__omap *m, const eng__mem *mem);
void eng__omap_clear(eng__omap *m);
/* Replace @p dst's contents with a copy of @p src's (tombstones and file references too),
 * node for node without a search; on ENG_ENOMEM dst is unchanged. */
int eng__omap_copy(eng__omap *dst, const eng__omap *src);
eng__onode *eng__omap_find(const eng__omap *m, const void *key, size_t klen);
/* Insert or replace (copies key and value). dead=1 records a tombstone. */
int eng__omap_put(eng__omap *m, const void *key, size_t klen, const void *val, size_t vlen, int dead);
/* The same for a live value that is also in the file store's file at @p foff. */
int eng__omap_put_at(eng__omap *m, const void *key, size_t klen, const void *val, size_t vlen, uint64_t foff);
/* Insert or replace a value that stays in the file store's file (vlen bytes at foff). */
int eng__omap_put_ref(eng__omap *m, const void *key, size_t klen, size_t vlen, uint64_t foff);
/* Drop a node's heap copy of its value: from now on it is read from the file at foff. */
void eng__omap_to_ref(eng__omap *m, eng__onode *n, uint64_t foff);
/* Remove a key; returns 1 if it was there. */
int eng__omap_del(eng__omap *m, const void *key, size_t klen);
/* Move every node of @p src into @p dst (src ends empty): live nodes replace,
 * tombstones delete (or replace, with dst->keep_dead). Allocates nothing, so it cannot fail half-way. */
void eng__omap_merge_into(eng__omap *dst, eng__omap *src);

/* In-order visit of nodes whose key starts with @p prefix (tombstones included).
 * cb returns 0 to go on, non-zero to stop; that value is returned. */
typedef int (*eng__omap_cb)(const eng__onode *n, void *user);
int eng__omap_scan(const eng__omap *m, const void *prefix, size_t plen, eng__omap_cb cb, void *user);

int eng__key_cmp(const void *a, size_t alen, const void *b, size_t blen);
/* What a put of these lengths takes in a frame: op byte, key and value with their lengths (frame.h). */
uint64_t eng__op_bytes(size_t klen, size_t vlen);

#endif
