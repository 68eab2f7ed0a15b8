/* Large arrays that grow and live long (the events layer's per-send arrays).
 *
 * With the system allocator on Linux, an array of ENG__BIG_MAP bytes or more is a
 * mapping of its own, grown by mremap: the kernel moves its page tables, no byte is
 * copied, and pages never written (a mapped send's key hash) stay out of memory.
 * glibc's realloc of a large block is an mremap too, but only while the block's
 * mapping is whole: huge-page advice on part of it (eng__mem_hint_huge before
 * 2026-12-07) split it, the mremap failed (EFAULT) and realloc copied the whole array
 * into fresh pages, the never-written key hashes included; below glibc's mmap
 * threshold (up to 32 MiB) realloc copies anyway. No huge pages by default: on the
 * benchmarks' VM a fresh 2 MiB page can cost several times the system time a byte of
 * 4 KiB pages does (docs/events.md, 2026-12-07 early morning), and an array written
 * in order gains little from them. An array read at random (the sends' status record a
 * receipt reads) asks for them (eng__big_realloc_huge): its data then starts on a
 * 2 MiB boundary and stays on one when it moves, because in a VM a TLB miss walks two
 * levels of page tables (~60 ns a read at 40 MB of 4 KiB pages against ~13 ns with
 * huge pages, 2026-12-07 morning). Elsewhere (a host's allocator,
 * another system, a small array) the allocator's malloc and realloc, so a counting or
 * failing allocator sees them.
 *
 * Every array has a header just before its data saying which it is. */
#include "base/mem.h"

#include <string.h>
#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#endif

enum { HDR = 64 }; /* bytes before the data: keeps malloc's alignment */

typedef struct big_hdr {
    size_t map;   /* bytes of the mapping (its first page holds this header), 0: from the allocator */
    size_t bytes; /* of data asked for */
    size_t huge;  /* 1: the data starts on a 2 MiB boundary, huge pages advised (eng__big_realloc_huge) */
} big_hdr;

static big_hdr *hdr_of(void *p)
{
    return (big_hdr *)((char *)p - HDR);
}

#if defined(__linux__) && defined(MREMAP_MAYMOVE)
#define BIG_MAPS 1
static size_t page_sz(void)
{
    long ps = sysconf(_SC_PAGESIZE);
    return ps > 0 ? (size_t)ps : 4096;
}

/* Mapping bytes for @p bytes of data: a page for the header, then the data's pages. */
static size_t map_len(size_t bytes)
{
    size_t pg = page_sz();
    return pg + (bytes + pg - 1) / pg * pg;
}

enum { HUGE = 2 << 20 };

/* Where a mapping of @p len bytes goes whose data (a page in) starts on a 2 MiB
 * boundary: inside room reserved for it with @p prot, the rest of that room given
 * back. MAP_FAILED: no room. */
static char *huge_place(size_t len, int prot)
{
    size_t pg = page_sz(), room = len + HUGE;
    char *r = mmap(NULL, room, prot, MAP_PRIVATE | MAP_ANONYMOUS | (prot == PROT_NONE ? MAP_NORESERVE : 0), -1, 0);
    if (r == MAP_FAILED)
        return r;
    char *base = (char *)(((uintptr_t)r + pg + HUGE - 1) & ~(uintptr_t)(HUGE - 1)) - pg;
    if (base > r)
        munmap(r, (size_t)(base - r));
    if (r + room > base + len)
        munmap(base + len, (size_t)(r + room - (base + len)));
    return base;
}

static void *map_new(size_t bytes, int huge)
{
    size_t len = map_len(bytes);
    char *base = huge ? huge_place(len, PROT_READ | PROT_WRITE)
                      : mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED)
        return NULL;
#if defined(MADV_HUGEPAGE)
    if (huge) /* the whole mapping, header page too: advice on part of it would split it, and mremap needs it whole */
        (void)madvise(base, len, MADV_HUGEPAGE);
#endif
    char *p = base + page_sz();
    *hdr_of(p) = (big_hdr){len, bytes, (size_t)huge};
    return p;
}

/* Mapping @p p to @p bytes: the kernel moves its page tables, not its bytes (in place
 * when the addresses after it are free). A huge-page mapping moves only to a place
 * where its data starts on a 2 MiB boundary again, so that its huge pages move whole
 * (elsewhere the kernel splits them into 4 KiB mappings). NULL: @p p as it was. */
static void *map_resize(void *p, size_t bytes)
{
    big_hdr h = *hdr_of(p);
    size_t len = map_len(bytes), pg = page_sz();
    char *base = (char *)p - pg, *nb = base;
    if (len != h.map && h.huge) {
        if ((nb = mremap(base, h.map, len, 0)) == MAP_FAILED) { /* in place, else to a place of its own */
            char *to = huge_place(len, PROT_NONE);
            if (to == MAP_FAILED)
                return NULL;
            if ((nb = mremap(base, h.map, len, MREMAP_MAYMOVE | MREMAP_FIXED, to)) == MAP_FAILED) {
                munmap(to, len);
                return NULL;
            }
        }
    } else if (len != h.map && (nb = mremap(base, h.map, len, MREMAP_MAYMOVE)) == MAP_FAILED) {
        return NULL;
    }
    p = nb + pg;
    *hdr_of(p) = (big_hdr){len, bytes, h.huge};
    return p;
}
#else
#define BIG_MAPS 0
#endif

size_t eng__big_map_min = ENG__BIG_MAP;
uint8_t eng__big_map_hosts = 0;

int eng__big_maps(const eng__mem *mem, size_t bytes)
{
    return BIG_MAPS && bytes >= eng__big_map_min && (eng__mem_system(mem) || eng__big_map_hosts);
}

static void *big_realloc(const eng__mem *mem, void *p, size_t bytes, int huge)
{
    if (bytes > SIZE_MAX / 2)
        return NULL;
#if BIG_MAPS
    if (p && hdr_of(p)->map)
        return map_resize(p, bytes);
    if (eng__big_maps(mem, bytes)) { /* from the allocator (smaller) to a mapping: one copy */
        void *q = map_new(bytes, huge);
        if (q && p) {
            memcpy(q, p, hdr_of(p)->bytes < bytes ? hdr_of(p)->bytes : bytes);
            eng__free(mem, hdr_of(p));
        }
        return q;
    }
#else
    (void)huge;
#endif
    char *q = eng__realloc(mem, p ? (void *)hdr_of(p) : NULL, HDR + bytes);
    if (!q)
        return NULL;
    *(big_hdr *)q = (big_hdr){0, bytes, 0};
    return q + HDR;
}

void *eng__big_realloc(const eng__mem *mem, void *p, size_t bytes)
{
    return big_realloc(mem, p, bytes, 0);
}

void *eng__big_realloc_huge(const eng__mem *mem, void *p, size_t bytes)
{
    return big_realloc(mem, p, bytes, 1);
}

void eng__big_free(const eng__mem *mem, void *p)
{
    if (!p)
        return;
#if BIG_MAPS
    big_hdr *h = hdr_of(p);
    if (h->map) {
        munmap((char *)p - page_sz(), h->map);
        return;
    }
#endif
    eng__free(mem, hdr_of(p));
}
