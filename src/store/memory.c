/* The in-memory backend: an eng__kvmem behind the storage table. */
#include "store/store_impl.h"
#include "store/kvmem.h"
#include "base/error.h"

typedef struct memstore {
    eng__mem mem;
    eng__kvmem kv;
} memstore;

static int m_get(const void *k, size_t kl, eng_buf *out, void *u) { return eng__kvmem_get(&((memstore *)u)->kv, k, kl, out); }
static int m_put(const void *k, size_t kl, const void *v, size_t vl, void *u) { return eng__kvmem_put(&((memstore *)u)->kv, k, kl, v, vl); }
static int m_del(const void *k, size_t kl, void *u) { return eng__kvmem_del(&((memstore *)u)->kv, k, kl); }
static int m_scan(const void *p, size_t pl, eng_store_scan_fn cb, void *cbu, void *u) { return eng__kvmem_scan(&((memstore *)u)->kv, p, pl, cb, cbu); }
static int m_begin(void *u) { return eng__kvmem_begin(&((memstore *)u)->kv); }
static int m_commit(void *u) { return eng__kvmem_commit(&((memstore *)u)->kv); }
static int m_rollback(void *u) { return eng__kvmem_rollback(&((memstore *)u)->kv); }

static void m_destroy(void *u)
{
    memstore *ms = u;
    eng__kvmem_clear(&ms->kv);
    eng__mem mem = ms->mem;
    eng__free(&mem, ms);
}

ENG_API int eng_store_memory_new(const eng_allocator *alloc, eng_store **out)
{
    if (out)
        *out = NULL;
    if (!out)
        return eng__err(ENG_EINVAL, "out", "eng_store_memory_new: out is NULL");
    eng__mem mem;
    int rc = eng__mem_init(&mem, alloc);
    if (rc)
        return rc;
    memstore *ms = eng__calloc(&mem, 1, sizeof(*ms));
    if (!ms)
        return eng__nomem();
    ms->mem = mem;
    eng__kvmem_init(&ms->kv, &ms->mem);
    static const eng_store_methods methods = {
        ENG_STORE_METHODS_VERSION, m_get, m_put, m_del, m_scan, m_begin, m_commit, m_rollback, m_destroy, NULL, NULL};
    return eng__store_wrap(out, ENG__STORE_MEMORY, &methods, ms, alloc);
}
