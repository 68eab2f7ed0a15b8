/* Serialised rules: a small blob with the canonical text and the name, type
 * and scale of every field the rule reads, checked by CRC32C. Loading
 * recompiles the text against the caller's schema after checking that every
 * stored field is still there with the same type: a changed schema is a clear
 * ENG_ETYPE, never a silently different rule. Stored as record type 0x0201
 * under "r/<name>". */
#include "rules/rules_impl.h"

#include <stdio.h>
#include <string.h>

#include "core/engine_impl.h"
#include "base/codec.h"
#include "base/hash.h"
#include "store/record.h"

#define ENG__REC_RULE 0x0201
#define BLOB_MAGIC 0x4c555245u /* "ERUL" */
#define BLOB_FORMAT 1

ENG_API int eng_rule_serialize(const eng_rule *rule, void **out, size_t *len)
{
    if (out)
        *out = NULL;
    if (len)
        *len = 0;
    int rc = eng__rule_check(rule);
    if (rc)
        return rc;
    if (!out || !len)
        return eng__err(ENG_EINVAL, !out ? "out" : "len", "eng_rule_serialize: %s is NULL", !out ? "out" : "len");
    char *text;
    size_t tlen;
    if ((rc = eng__rule_print(rule, &rule->mem, &text, &tlen)))
        return rc;
    eng__wr w;
    eng__wr_init(&w, &rule->mem);
    eng__wr_u32(&w, BLOB_MAGIC);
    eng__wr_u16(&w, BLOB_FORMAT);
    eng__wr_u16(&w, 0);
    size_t nused = 0;
    for (size_t i = 0; i < rule->nfields; i++)
        nused += rule->used[i];
    eng__wr_uvar(&w, nused);
    for (size_t i = 0; i < rule->nfields; i++)
        if (rule->used[i]) {
            eng__wr_str(&w, rule->fields[i].name);
            eng__wr_u8(&w, (uint8_t)rule->fields[i].type);
            eng__wr_u8(&w, (uint8_t)rule->fields[i].scale);
        }
    eng__wr_blob(&w, text, tlen);
    eng__free(&rule->mem, text);
    if (!w.err)
        eng__wr_u32(&w, eng__crc32c(0, w.data, w.len));
    if (w.err) {
        eng__wr_free(&w);
        return eng__nomem();
    }
    *out = eng__wr_take(&w, len);
    return ENG_OK;
}

static const eng_rule_field *find_field(const eng_rule_options *o, const char *name, size_t n)
{
    for (size_t i = 0; i < o->nfields; i++)
        if (o->fields[i].name && strlen(o->fields[i].name) == n && memcmp(o->fields[i].name, name, n) == 0)
            return &o->fields[i];
    return NULL;
}

/* Called with the engine entered. */
static int load_blob(eng_engine *e, const uint8_t *data, size_t len, const eng_rule_options *opts, eng_rule **out)
{
    if (len < 12 || eng__get32(data) != BLOB_MAGIC)
        return eng__err(ENG_ECORRUPT, "data", "not a serialised rule");
    if (eng__crc32c(0, data, len - 4) != eng__get32(data + len - 4))
        return eng__err(ENG_ECORRUPT, "data", "serialised rule fails its checksum");
    if (eng__get16(data + 4) > BLOB_FORMAT)
        return eng__err(ENG_EVERSION, "data", "serialised rule format %u is newer than this library's %d",
                        eng__get16(data + 4), BLOB_FORMAT);
    if (!opts)
        return eng__err(ENG_EINVAL, "opts", "rule options are NULL");
    eng__rd rd;
    eng__rd_init(&rd, data + 8, len - 12);
    uint64_t nused = eng__rd_uvar(&rd);
    for (uint64_t k = 0; k < nused && eng__rd_ok(&rd); k++) {
        size_t nlen;
        const char *name = (const char *)eng__rd_blob(&rd, &nlen);
        uint8_t type = eng__rd_u8(&rd), scale = eng__rd_u8(&rd);
        if (!eng__rd_ok(&rd))
            break;
        const eng_rule_field *f = opts->nfields && opts->fields ? find_field(opts, name, nlen) : NULL;
        char fname[140];
        snprintf(fname, sizeof fname, "%.*s", (int)(nlen > 128 ? 128 : nlen), name);
        if (!f)
            return eng__err(ENG_ETYPE, fname, "the stored rule reads field '%s', which the schema does not have", fname);
        if ((int)f->type != type || f->scale != scale)
            return eng__err(ENG_ETYPE, fname, "the stored rule reads field '%s' as %s (scale %u); the schema has %s (scale %d)",
                            fname, eng__rtype_name(type), scale, eng__rtype_name(f->type), f->scale);
    }
    size_t tlen = 0;
    const char *text = (const char *)eng__rd_blob(&rd, &tlen);
    if (!eng__rd_ok(&rd) || eng__rd_left(&rd) != 0)
        return eng__err(ENG_ECORRUPT, "data", "serialised rule is malformed");
    return eng__rule_build(e, text, tlen, opts, out);
}

ENG_API int eng_rule_deserialize(eng_engine *engine, const void *data, size_t len, const eng_rule_options *opts,
                                 eng_rule **out)
{
    int rc = eng__enter_ptr(engine, out, "out");
    if (rc)
        return rc;
    rc = !data ? eng__err(ENG_EINVAL, "data", "eng_rule_deserialize: data is NULL") : load_blob(engine, data, len, opts, out);
    eng__leave(engine);
    return rc;
}

static int make_key(const char *name, char *key, size_t cap, size_t *klen)
{
    if (!name)
        return eng__err(ENG_EINVAL, "name", "rule name is NULL");
    size_t n = strlen(name);
    if (n == 0 || n > 200)
        return eng__err(ENG_EINVAL, "name", "rule name must be 1..200 bytes (got %zu)", n);
    if (n + 3 > cap)
        return eng__err(ENG_EINVAL, "name", "rule name too long");
    memcpy(key, "r/", 2);
    memcpy(key + 2, name, n);
    *klen = n + 2;
    return ENG_OK;
}

ENG_API int eng_rule_save(const eng_rule *rule, const char *name)
{
    int rc = eng__rule_check(rule);
    if (rc)
        return rc;
    char key[208];
    size_t klen = 0;
    if ((rc = make_key(name, key, sizeof key, &klen)))
        return rc;
    void *blob;
    size_t len;
    if ((rc = eng_rule_serialize(rule, &blob, &len)))
        return rc;
    if (!(rc = eng__enter(rule->engine))) {
        rc = eng__rec_put(rule->engine->store, key, klen, ENG__REC_RULE, 1, blob, len);
        eng__leave(rule->engine);
    }
    eng__free(&rule->mem, blob);
    return rc;
}

ENG_API int eng_rule_load(eng_engine *engine, const char *name, const eng_rule_options *opts, eng_rule **out)
{
    char key[208];
    size_t klen = 0;
    int rc = eng__enter_ptr(engine, out, "out");
    if (rc)
        return rc;
    eng__rec rec;
    if (!(rc = make_key(name, key, sizeof key, &klen)) &&
        !(rc = eng__rec_get(engine->store, key, klen, ENG__REC_RULE, 1, &rec))) {
        rc = load_blob(engine, rec.payload, rec.len, opts, out);
        if (rc == ENG_ECORRUPT)
            eng__err(ENG_ECORRUPT, key, "stored rule '%s' is corrupt", name);
        eng__rec_free(engine->store, &rec);
    }
    eng__leave(engine);
    return rc;
}
