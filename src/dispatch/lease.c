/* Leases: several engines sharing one store (storage contract v3, `changes`)
 * work one execution together. Each chunk of the execution (a run of
 * consecutive customers of the frozen test group, in dense-id order) is a
 * shard; an engine plans, sends and records a chunk only while it holds the
 * chunk's lease, a record naming the engine (its random instance id) and when
 * the lease expires. Taking, extending and releasing a lease are reads and
 * writes in a storage batch, so two engines racing for one lease conflict in
 * the database and one of them loses (ENG_EBUSY: it moves on). A chunk's sends
 * take the lease in their intent batch (eng__lease_claim), which also checks
 * that the ledger chunk they were planned from is unchanged; points awards and
 * POC copies take it in a batch of its own (eng__lease_take). An engine that
 * dies holding a lease stops extending it; once it expires another engine
 * takes the chunk and resumes it from the ledger with the same idempotency
 * keys. A store of one engine (contract v1, v2) needs none of this: the
 * in-memory claims of exec.c keep its threads apart. */
#include "dispatch/dispatch_impl.h"
#include "base/hash.h"

#include <stdio.h>

#define LEASE_LEN 16 /* owner u64, expiry i64 */

static void lease_key(char *buf, size_t cap, uint64_t msg, uint32_t occ, uint32_t chunk)
{
    snprintf(buf, cap, "d/k/%016llx/%08x/%08x", (unsigned long long)msg, occ, chunk);
}

/* The stored lease: ENG_ENOTFOUND when there is none. */
static int lease_get(eng_engine *e, const char *key, uint64_t *owner, eng_time *until)
{
    eng__rec rec;
    int rc = eng__rec_get(e->store, ENG__K(key), ENG__REC_DSP_LEASE, ENG__DSP_SCHEMA, &rec);
    if (rc)
        return rc;
    if (rec.len != LEASE_LEN) {
        eng__rec_free(e->store, &rec);
        return eng__err(ENG_ECORRUPT, key, "lease record has length %zu", rec.len);
    }
    *owner = eng__get64(rec.payload);
    *until = (eng_time)eng__get64(rec.payload + 8);
    eng__rec_free(e->store, &rec);
    return ENG_OK;
}

static int lease_put(eng_engine *e, const char *key, eng_time until)
{
    uint8_t v[LEASE_LEN];
    eng__put64(v, e->instance);
    eng__put64(v + 8, (uint64_t)until);
    return eng__rec_put(e->store, ENG__K(key), ENG__REC_DSP_LEASE, ENG__DSP_SCHEMA, v, sizeof v);
}

int eng__lease_take(eng_engine *e, uint64_t msg, uint32_t occ, uint32_t chunk, eng_time ttl, int *got,
                    int *planned, eng_time *held_until)
{
    char key[64], ck[64];
    lease_key(key, sizeof key, msg, occ, chunk);
    eng__chunk_key(ck, sizeof ck, msg, occ, chunk);
    *got = 0;
    *planned = 0;
    *held_until = 0;
    eng_time now = eng__now(e);
    int rc = eng__kv_begin_inside(e->store);
    if (rc)
        return rc == ENG_EBUSY ? ENG_OK : rc; /* another engine changed things: try elsewhere, later */
    uint64_t owner = 0;
    eng_time until = 0;
    rc = lease_get(e, key, &owner, &until);
    if (rc == ENG_OK && owner != e->instance && until > now) {
        *held_until = until; /* another engine is working on it */
        eng__kv_rollback(e->store);
        return ENG_OK;
    }
    if (rc == ENG_OK || eng__absent(rc))
        rc = lease_put(e, key, now + ttl);
    eng__val v = {0};
    if (rc == ENG_OK) { /* planned since this engine's cache was built? the ledger says */
        int g = eng__kv_get(e->store, ENG__K(ck), &v);
        *planned = g == ENG_OK;
        eng__val_free(e->store, &v);
        rc = eng__absent(g) ? ENG_OK : g;
    }
    if (rc == ENG_OK && (rc = eng__kv_commit(e->store)) == ENG_OK) {
        *got = 1;
        return ENG_OK;
    }
    eng__kv_rollback(e->store);
    if (rc == ENG_EBUSY) { /* lost the race: not an error, the winner works the chunk */
        eng_error_clear();
        *planned = 0;
        return ENG_OK;
    }
    return rc;
}

int eng__lease_keep(eng_engine *e, uint64_t msg, uint32_t occ, uint32_t chunk, eng_time ttl)
{
    char key[64];
    lease_key(key, sizeof key, msg, occ, chunk);
    uint64_t owner = 0;
    eng_time until = 0;
    int rc = lease_get(e, key, &owner, &until);
    if (eng__absent(rc) || (rc == ENG_OK && owner != e->instance)) {
        eng__log(e, ENG_LOG_WARN, "%s: the lease passed to another engine", key);
        return ENG__LEASE_LOST;
    }
    if (rc)
        return rc;
    return ttl > 0 ? lease_put(e, key, eng__now(e) + ttl) : eng__kv_del(e->store, ENG__K(key));
}

int eng__lease_peek(eng_engine *e, uint64_t msg, uint32_t occ, uint32_t chunk, eng_time *held_until)
{
    char key[64];
    lease_key(key, sizeof key, msg, occ, chunk);
    uint64_t owner = 0;
    eng_time until = 0;
    *held_until = 0;
    int rc = lease_get(e, key, &owner, &until);
    if (rc == ENG_OK && owner != e->instance && until > eng__now(e))
        *held_until = until;
    return eng__absent(rc) ? ENG_OK : rc;
}

int eng__lease_claim(eng_engine *e, const eng__dsp_at *at, eng_time ttl)
{
    char key[64];
    lease_key(key, sizeof key, at->msg, at->occ, at->chunk);
    uint64_t owner = 0;
    eng_time until = 0, now = eng__now(e);
    int rc = lease_get(e, key, &owner, &until);
    if (rc == ENG_OK && owner != e->instance && until > now)
        return ENG__LEASE_LOST; /* another engine took it since the chunk was read */
    if (rc != ENG_OK && !eng__absent(rc))
        return rc;
    int had = rc == ENG_OK;
    /* the ledger chunk is still the one the sends were made from (another engine's intent or
     * outcome since then: read it again; the lease alone does not say, a holder may have come and gone) */
    char ck[64];
    eng__chunk_key(ck, sizeof ck, at->msg, at->occ, at->chunk);
    eng__rec rec;
    rc = eng__rec_get(e->store, ENG__K(ck), ENG__REC_DSP_CHUNK, ENG__DSP_CHUNK_SCHEMA, &rec);
    if (rc != ENG_OK && !eng__absent(rc))
        return rc;
    uint64_t h = rc == ENG_OK ? eng__hash64(rec.payload, rec.len, 0) : 0;
    int same = rc == ENG_OK ? !at->fresh && h == at->read_hash : at->fresh;
    if (rc == ENG_OK)
        eng__rec_free(e->store, &rec);
    if (!same)
        return eng__err(ENG_EBUSY, ck, "the ledger chunk changed since it was read: retry");
    if (ttl > 0)
        return lease_put(e, key, now + ttl);
    return had ? eng__kv_del(e->store, ENG__K(key)) : ENG_OK;
}
