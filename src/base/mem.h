/* Allocation through the host's hooks. Every allocation in the library goes
 * through an eng__mem so a counting or failing allocator sees all of it. */
#ifndef ENG_BASE_MEM_H
#define ENG_BASE_MEM_H

#include <stddef.h>
#include <stdint.h>
#include "engage/alloc.h"

typedef struct eng__mem {
    eng_allocator a;
} eng__mem;

/* Copy @p alloc (or the system allocator when NULL); rejects bad versions/NULL hooks. */
int eng__mem_init(eng__mem *mem, const eng_allocator *alloc);

void *eng__malloc(const eng__mem *mem, size_t n);
void *eng__calloc(const eng__mem *mem, size_t count, size_t size);
/* @p n bytes for a large table; *zeroed = 1 when they are already zero (the
 * system allocator's calloc: pages fresh from the kernel are not written
 * twice), else 0 and the caller zeroes them (in steps, if it reports progress). */
void *eng__malloc_big(const eng__mem *mem, size_t n, int *zeroed);
void *eng__realloc(const eng__mem *mem, void *p, size_t n);
/* realloc for arrays: fails (NULL) on count*size overflow. */
void *eng__realloc_array(const eng__mem *mem, void *p, size_t count, size_t size);
void eng__free(const eng__mem *mem, void *p);
char *eng__strdup(const eng__mem *mem, const char *s);
char *eng__strndup(const eng__mem *mem, const char *s, size_t n);
void *eng__memdup(const eng__mem *mem, const void *p, size_t n);

/* Ask for huge pages over the pages holding [p, p + n) (Linux, the system
 * allocator only, n >= 4 MiB): tables probed at random (the events key index,
 * key maps) then cost a cache miss, not also a TLB miss. */
void eng__mem_hint_huge(const eng__mem *mem, void *p, size_t n);

/* Fault in the pages holding [p, p + n) (memory of the process's, the allocation's
 * neighbours' included) as if written, without writing them (Linux's
 * MADV_POPULATE_WRITE, the system allocator only): another thread can take the
 * first-touch faults (the kernel's zeroing) of memory one is about to write. 0 when
 * done, -1 when not (not supported, or refused: no byte changes either way). */
int eng__mem_populate(const eng__mem *mem, void *p, size_t n);
/* 1 when eng__mem_populate can do anything here. */
int eng__mem_populates(const eng__mem *mem);
/* Tests: 1 lets eng__mem_populate work on a host's allocator too (the tests' counting
 * allocator hands out malloc's memory); 0 (default): the system allocator only, as a
 * host's memory may be a file's mapping, where a populate is not free. */
extern uint8_t eng__mem_populate_hosts;

/* 1 when @p mem is the system allocator (no host hooks). */
int eng__mem_system(const eng__mem *mem);

/* Arrays that grow large and live long (mem_big.c): from ENG__BIG_MAP bytes, with the
 * system allocator on Linux, a mapping of their own (huge pages only when asked), grown
 * without a copy; else the allocator's. Contents kept as realloc keeps them (new bytes
 * undefined); NULL: out of memory, @p p unchanged. Free with eng__big_free only. */
#define ENG__BIG_MAP ((size_t)4 << 20)
void *eng__big_realloc(const eng__mem *mem, void *p, size_t bytes);
/* The same for an array read at random: a mapping's data starts on a 2 MiB boundary,
 * huge pages advised, kept so when it grows (eng__big_realloc keeps that too). */
void *eng__big_realloc_huge(const eng__mem *mem, void *p, size_t bytes);
void eng__big_free(const eng__mem *mem, void *p);
/* 1 when an array of @p bytes is such a mapping (grows in O(1)). */
int eng__big_maps(const eng__mem *mem, size_t bytes);
/* Tests: the size from which arrays are mappings (default ENG__BIG_MAP), and 1 to map
 * them under a host's allocator too (0, default: the system allocator only). The kind
 * of each array is in its header, so changing these never confuses a free. */
extern size_t eng__big_map_min;
extern uint8_t eng__big_map_hosts;

/* Grow *arr (of *cap elements of @p size) so it holds at least @p need; doubles. */
int eng__grow(const eng__mem *mem, void **arr, size_t *cap, size_t need, size_t size);

#endif
