/* A compressed set of 32-bit customer ids (roaring-style).
 *
 * The id space is cut into 2^16 chunks keyed by the high 16 bits; each
 * non-empty chunk is a container, kept sorted by key:
 *   - array:  up to 4096 sorted uint16 low halves (2 bytes per id),
 *   - bitmap: 1024 uint64 words (8 KiB, fixed), when the chunk holds more.
 * 4096 is the break-even point (4096 * 2 bytes = 8 KiB). Run containers are
 * used only in the serialised form, where a chunk is written as runs when
 * that is smaller than both other forms (full ranges, contiguous imports);
 * in memory runs would cost a third code path in every operation for little
 * gain at the densities audiences have (reachability sets are 40-95 % dense).
 *
 * All operations are out-of-place into an initialised, empty output set that
 * must not alias an input; the *_into helpers wrap that for in-place use. On
 * failure (ENG_ENOMEM) the output is left empty and the inputs untouched. */
#ifndef ENG_AUDIENCE_IDSET_H
#define ENG_AUDIENCE_IDSET_H

#include <stddef.h>
#include <stdint.h>
#include "base/mem.h"
#include "base/codec.h"

#define ENG__CT_ARRAY 1
#define ENG__CT_BITMAP 2
#define ENG__CT_ARRAY_MAX 4096u
#define ENG__CT_WORDS 1024u

typedef struct eng__ctr {
    uint16_t key;
    uint8_t type;
    uint32_t card;
    uint32_t cap; /* array capacity in elements (bitmaps: ENG__CT_WORDS) */
    union {
        uint16_t *arr;
        uint64_t *bits;
    } u;
} eng__ctr;

typedef struct eng__idset {
    const eng__mem *mem;
    eng__ctr *c;
    uint32_t n, cap;
} eng__idset;

enum eng__idset_op { ENG__SET_OR, ENG__SET_AND, ENG__SET_ANDNOT };

void eng__idset_init(eng__idset *s, const eng__mem *mem);
void eng__idset_free(eng__idset *s); /* releases contents; the set is empty and reusable */
/* Move src into dst (dst's old contents freed); src becomes empty. */
void eng__idset_move(eng__idset *dst, eng__idset *src);
int eng__idset_copy(eng__idset *out, const eng__idset *a);

/* Any add (eng__idset_add calls it past its inline cases). */
int eng__idset_add_any(eng__idset *s, uint32_t id);
/* Inline for the cases an import hits for nearly every id (each customer
 * adds to a few sets): appending in order to the last array container, or
 * into the last container once it is a bitmap. */
static inline int eng__idset_add(eng__idset *s, uint32_t id)
{
    uint16_t key = (uint16_t)(id >> 16), lo = (uint16_t)id;
    if (s->n) {
        eng__ctr *l = &s->c[s->n - 1];
        if (l->key == key && l->type == ENG__CT_BITMAP) {
            uint64_t m = 1ull << (lo & 63), *w = &l->u.bits[lo >> 6];
            l->card += !(*w & m);
            *w |= m;
            return 0;
        }
        if (l->key == key && l->type == ENG__CT_ARRAY && l->card && l->card < l->cap &&
            l->card < ENG__CT_ARRAY_MAX && l->u.arr[l->card - 1] < lo) {
            l->u.arr[l->card++] = lo;
            return 0;
        }
    }
    return eng__idset_add_any(s, id);
}
/* Add ids[0..n), strictly ascending: the same set as eng__idset_add one id
 * at a time, but a chunk that is (or becomes, with more than
 * ENG__CT_ARRAY_MAX of them) a bitmap takes its ids a word at a time. */
int eng__idset_add_many(eng__idset *s, const uint32_t *ids, size_t n);
int eng__idset_remove(eng__idset *s, uint32_t id);
/* Remove ids[0..n), strictly ascending: the same set as eng__idset_remove one
 * id at a time, but ids past the set's last chunk cost nothing and a bitmap
 * that stays one loses its ids a word at a time. */
int eng__idset_remove_many(eng__idset *s, const uint32_t *ids, size_t n);
/* Add every id in [lo, hi) (hi exclusive; hi > lo). */
int eng__idset_add_range(eng__idset *s, uint32_t lo, uint64_t hi);
int eng__idset_contains(const eng__idset *s, uint32_t id);
uint64_t eng__idset_count(const eng__idset *s);
int eng__idset_equal(const eng__idset *a, const eng__idset *b);
/* Largest id + 1 (0 for the empty set). */
uint64_t eng__idset_bound(const eng__idset *s);

/* Build from ids in any order (duplicates allowed). */
int eng__idset_from_ids(eng__idset *out, const uint32_t *ids, size_t n);
/* Build from a dense bitmap: bit i of words[i/64] is id i. */
int eng__idset_from_words(eng__idset *out, const uint64_t *words, size_t nwords);
/* Append chunk @p key from its words (card bits set; 0: nothing appended);
 * key must be above every key in s. */
int eng__idset_push_words(eng__idset *s, uint16_t key, const uint64_t *w, uint32_t card);
/* Append chunk @p key as a bitmap whose words the caller then writes (the
 * 1024 words come uninitialised) and seals with eng__idset_seal_last before
 * any other use of s; NULL on ENG_ENOMEM. key must be above every key in s. */
uint64_t *eng__idset_push_bitmap(eng__idset *s, uint16_t key);
/* The last container holds @p card ids: it stays a bitmap above
 * ENG__CT_ARRAY_MAX, becomes an array up to it and goes when 0; on
 * ENG_ENOMEM it goes too. */
int eng__idset_seal_last(eng__idset *s, uint32_t card);
/* Write the set as a dense bitmap over nwords words (ids beyond are dropped). */
void eng__idset_to_words(const eng__idset *s, uint64_t *words, size_t nwords);
/* Copy all ids in ascending order; out must hold eng__idset_count() ids. */
size_t eng__idset_to_array(const eng__idset *s, uint32_t *out);

int eng__idset_op(int op, eng__idset *out, const eng__idset *a, const eng__idset *b);
/* a = a op b. */
int eng__idset_op_into(int op, eng__idset *a, const eng__idset *b);

/* Ascending iteration in batches: fill up to n ids, return how many (0 at end). */
typedef struct eng__idset_it {
    const eng__idset *s;
    uint32_t ci;  /* container index */
    uint32_t pos; /* array index or bit index within the container */
} eng__idset_it;
void eng__idset_it_init(eng__idset_it *it, const eng__idset *s);
size_t eng__idset_it_next(eng__idset_it *it, uint32_t *out, size_t n);

/* |a AND b| without building it. */
uint64_t eng__idset_and_count(const eng__idset *a, const eng__idset *b);
/* Copy up to cap ids starting at rank @p offset (0-based, ascending); returns how many. */
size_t eng__idset_select(const eng__idset *s, uint64_t offset, uint32_t *out, size_t cap);
/* eng__idset_select() of a ∪ b, two disjoint sets, without building it. */
size_t eng__idset_select_union(const eng__idset *a, const eng__idset *b, uint64_t offset, uint32_t *out, size_t cap);
/* Split s by a stable hash of (seed, id): test gets about ratio of it. */
int eng__idset_split(const eng__idset *s, uint64_t seed, double ratio, eng__idset *test, eng__idset *control);
/* The same split from a bitmap of the test side: bit (id % 64) of side[id / 64]
 * (split_cache.c keeps one per seed); the words must cover every chunk of s
 * (a multiple of 1024 words), else ENG_ERROR. */
int eng__idset_split_words(const eng__idset *s, const uint64_t *side, size_t nwords, eng__idset *test,
                           eng__idset *control);
/* The side eng__idset_split() puts @p id on: 1 test, 0 control. */
int eng__idset_split_side(uint64_t seed, double ratio, uint32_t id);
/* The hash threshold of a test share: test when mix64(mix64(seed) ^ id) is below it. */
uint64_t eng__split_threshold(double ratio);

/* Serialised form: uvar count, containers, then CRC32C of everything before it.
 * Reading verifies structure and checksum; ENG_ECORRUPT (detail @p what) otherwise. */
void eng__idset_write(const eng__idset *s, eng__wr *w);
int eng__idset_read(eng__idset *out, eng__rd *r, const char *what);
/* Heap bytes held by the set. */
size_t eng__idset_bytes(const eng__idset *s);

#endif
