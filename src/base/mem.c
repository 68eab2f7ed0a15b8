#include "base/mem.h"
#include "base/error.h"

#include <stdlib.h>
#include <string.h>
#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#endif

static void *sys_malloc(size_t n, void *u) { (void)u; return malloc(n); }
static void *sys_realloc(void *p, size_t n, void *u) { (void)u; return realloc(p, n); }
static void sys_free(void *p, void *u) { (void)u; free(p); }

ENG_API int eng_allocator_init(eng_allocator *alloc, unsigned int version)
{
    if (!alloc)
        return eng__err(ENG_EINVAL, "allocator", "allocator is NULL");
    if (version == 0 || version > ENG_ALLOCATOR_VERSION)
        return eng__err(ENG_EVERSION, "allocator.version", "unsupported eng_allocator version %u", version);
    memset(alloc, 0, sizeof(*alloc));
    alloc->version = version;
    alloc->malloc_fn = sys_malloc;
    alloc->realloc_fn = sys_realloc;
    alloc->free_fn = sys_free;
    return ENG_OK;
}

int eng__mem_init(eng__mem *mem, const eng_allocator *alloc)
{
    if (!alloc)
        return eng_allocator_init(&mem->a, ENG_ALLOCATOR_VERSION);
    if (alloc->version == 0 || alloc->version > ENG_ALLOCATOR_VERSION)
        return eng__err(ENG_EVERSION, "allocator.version", "unsupported eng_allocator version %u",
                        alloc->version);
    if (!alloc->malloc_fn && !alloc->realloc_fn && !alloc->free_fn) /* ENG_ALLOCATOR_INIT */
        return eng_allocator_init(&mem->a, ENG_ALLOCATOR_VERSION);
    if (!alloc->malloc_fn || !alloc->realloc_fn || !alloc->free_fn)
        return eng__err(ENG_EINVAL, "allocator", "allocator hooks malloc_fn, realloc_fn and free_fn are all required");
    mem->a = *alloc;
    return ENG_OK;
}

void *eng__malloc(const eng__mem *mem, size_t n)
{
    return mem->a.malloc_fn(n ? n : 1, mem->a.user);
}

void *eng__calloc(const eng__mem *mem, size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size)
        return NULL;
    void *p = eng__malloc(mem, count * size);
    if (p)
        memset(p, 0, (count * size) != 0 ? count * size : 1);
    return p;
}

void *eng__malloc_big(const eng__mem *mem, size_t n, int *zeroed)
{
    *zeroed = mem->a.malloc_fn == sys_malloc;
    return *zeroed ? calloc(n ? n : 1, 1) : eng__malloc(mem, n);
}

void *eng__realloc(const eng__mem *mem, void *p, size_t n)
{
    if (!p)
        return eng__malloc(mem, n);
    return mem->a.realloc_fn(p, n ? n : 1, mem->a.user);
}

void *eng__realloc_array(const eng__mem *mem, void *p, size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size)
        return NULL;
    return eng__realloc(mem, p, count * size);
}

void eng__free(const eng__mem *mem, void *p)
{
    if (p)
        mem->a.free_fn(p, mem->a.user);
}

void *eng__memdup(const eng__mem *mem, const void *p, size_t n)
{
    void *q = eng__malloc(mem, n);
    if (q && n)
        memcpy(q, p, n);
    return q;
}

char *eng__strndup(const eng__mem *mem, const char *s, size_t n)
{
    char *q = eng__malloc(mem, n + 1);
    if (q) {
        memcpy(q, s, n);
        q[n] = '\0';
    }
    return q;
}

char *eng__strdup(const eng__mem *mem, const char *s)
{
    return eng__strndup(mem, s, strlen(s));
}

int eng__grow(const eng__mem *mem, void **arr, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return ENG_OK;
    size_t ncap = *cap ? *cap : 8;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2)
            return eng__err(ENG_ENOMEM, "", "array size overflow");
        ncap *= 2;
    }
    void *p = eng__realloc_array(mem, *arr, ncap, size);
    if (!p)
        return eng__err(ENG_ENOMEM, "", "out of memory growing an array to %zu items", ncap);
    *arr = p;
    *cap = ncap;
    return ENG_OK;
}

void eng__mem_hint_huge(const eng__mem *mem, void *p, size_t n)
{
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    const uintptr_t huge = (uintptr_t)2 << 20;
    long ps = sysconf(_SC_PAGESIZE);
    const uintptr_t pg = ps > 0 ? (uintptr_t)ps : 4096;
    if (!p || n < 2 * huge || mem->a.malloc_fn != sys_malloc)
        return;
    /* Every page holding a byte of the block, not just its whole 2 MiB pages: a block this
     * large is a mapping of glibc's own, and advice over part of a mapping splits it, after
     * which realloc's mremap fails and it copies the block (mem_big.c) */
    uintptr_t lo = (uintptr_t)p & ~(pg - 1), hi = ((uintptr_t)p + n + pg - 1) & ~(pg - 1);
    (void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE); /* advice only: a refusal changes nothing */
#else
    (void)mem;
    (void)p;
    (void)n;
#endif
}

uint8_t eng__mem_populate_hosts = 0;

int eng__mem_populate(const eng__mem *mem, void *p, size_t n)
{
#if defined(__linux__) && defined(MADV_POPULATE_WRITE)
    long ps = sysconf(_SC_PAGESIZE);
    const uintptr_t pg = ps > 0 ? (uintptr_t)ps : 4096;
    if (!p || !n || !eng__mem_populates(mem))
        return -1;
    uintptr_t lo = (uintptr_t)p & ~(pg - 1), hi = ((uintptr_t)p + n + pg - 1) & ~(pg - 1);
    return madvise((void *)lo, hi - lo, MADV_POPULATE_WRITE) == 0 ? 0 : -1;
#else
    (void)mem;
    (void)p;
    (void)n;
    return -1;
#endif
}

int eng__mem_system(const eng__mem *mem)
{
    return mem->a.malloc_fn == sys_malloc;
}

int eng__mem_populates(const eng__mem *mem)
{
#if defined(__linux__) && defined(MADV_POPULATE_WRITE)
    return mem->a.malloc_fn == sys_malloc || eng__mem_populate_hosts;
#else
    (void)mem;
    return 0;
#endif
}
