/* The engine's own record ("e/meta"): the data format the stored state is in,
 * when it was created, how often it was opened, and which states older versions
 * may have left were found repaired (absent in records of versions before it: none;
 * versions before it read the record without it, and write it without it, so that
 * a store an older version opened is looked at again). A store written by a newer
 * data format is refused (ENG_EVERSION) instead of being misread. */
#include "core/engine_impl.h"
#include "store/record.h"
#include "store/file_impl.h"
#include "base/codec.h"

#include <string.h>

#define META_KEY "e/meta"
#define DATA_FORMAT 1u

static int decode(eng_engine *e, const eng__rec *r)
{
    eng__rd rd;
    eng__rd_init(&rd, r->payload, r->len);
    e->meta.format = eng__rd_u32(&rd);
    if (eng__rd_ok(&rd) && e->meta.format > DATA_FORMAT) /* before anything a newer format may change */
        return eng__err(ENG_EVERSION, META_KEY, "the store holds data format %u; this library reads up to %u",
                        e->meta.format, DATA_FORMAT);
    e->meta.created = eng__rd_svar(&rd);
    e->meta.opens = eng__rd_uvar(&rd);
    e->meta.last_opened = eng__rd_svar(&rd);
    e->meta.repaired = eng__rd_ok(&rd) && eng__rd_left(&rd) ? eng__rd_uvar(&rd) : 0;
    if (!eng__rd_ok(&rd))
        return eng__err(ENG_ECORRUPT, META_KEY, "engine metadata record '%s' does not decode", META_KEY);
    return ENG_OK;
}

static int put(eng_engine *e)
{
    eng__wr w;
    eng__wr_init(&w, &e->mem);
    eng__wr_u32(&w, e->meta.format);
    eng__wr_svar(&w, e->meta.created);
    eng__wr_uvar(&w, e->meta.opens);
    eng__wr_svar(&w, e->meta.last_opened);
    eng__wr_uvar(&w, e->meta.repaired);
    return eng__rec_put_wr(e->store, ENG__K(META_KEY), ENG__REC_META, 1, &w);
}

int eng__meta_open(eng_engine *e)
{
    eng__rec r;
    eng_time now = eng__now(e);
    int rc = eng__rec_get(e->store, ENG__K(META_KEY), ENG__REC_META, 1, &r);
    if (rc == ENG_OK) {
        rc = decode(e, &r);
        eng__rec_free(e->store, &r);
        if (rc)
            return rc;
    } else if (eng__absent(rc)) {
        e->meta.format = DATA_FORMAT;
        e->meta.created = now;
        e->meta.opens = 0;
        e->meta.repaired = ENG__REPAIRED_EXECUTED_RUNNING; /* a new store: nothing an older version wrote */
    } else {
        return eng__err_wrap(rc, "eng_open: reading the engine metadata");
    }
    e->meta.opens++;
    e->meta.last_opened = now;
    if (eng__store_readonly(e->store))
        return ENG_OK;
    return put(e);
}

int eng__meta_repaired(eng_engine *e, uint64_t bits)
{
    e->meta.repaired |= bits;
    return put(e);
}

/* eng_info version 1 ends after store_kind, version 2 after store_compactions. */
static const size_t info_sizes[] = {ENG__UPTO(eng_info, store_kind), ENG__UPTO(eng_info, store_compactions),
                                    sizeof(eng_info)};

ENG_API int eng_info_init(eng_info *x, unsigned int version)
{
    static const eng_info init = ENG_INFO_INIT;
    return eng__struct_init(x, &init, ENG__SIZES_OF(info_sizes), version, "eng_info");
}

ENG_API int eng_info_get(eng_engine *engine, eng_info *info)
{
    int rc = eng__enter_out(engine, info, ENG__SIZES_OF(info_sizes), "eng_info", "info");
    if (rc)
        return rc;
    static const char *const kinds[] = {"custom", "memory", "file"};
    eng_info full = {info->version, engine->meta.format, engine->meta.created, engine->meta.last_opened,
                     engine->meta.opens, kinds[engine->store->kind], 0, 0, 0, 0,
                     engine->evcache.segments, engine->evcache.resident, engine->evcache.reads};
    eng__file_stats st;
    if (engine->store->kind == ENG__STORE_FILE && eng__file_stats_get(engine->store, &st) == ENG_OK) {
        full.store_file_bytes = st.file_bytes;
        full.store_live_bytes = st.live_file_bytes;
        full.store_dead_bytes = st.dead_bytes;
        full.store_compactions = st.compactions;
    }
    memcpy(info, &full, info_sizes[info->version - 1]); /* only the caller's version's fields */
    eng__leave(engine);
    return ENG_OK;
}
