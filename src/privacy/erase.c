/* Erasure ("delete me", docs/privacy.md). The top layer: it checks the actor
 * (model), erases in every layer below in ONE storage batch with one audit
 * entry per customer, commits, drops every cache that may hold the values,
 * then tells the backend which keys held them (storage contract v2) so that
 * the bytes leave the file or the host's database too.
 *
 * The keys to tell are kept under p/v in the same batch, and removed only
 * once the backend has been told: a crash or a failing vacuum in between is
 * repaired by the next erasure, which tells them again first. */
#include "privacy/privacy_impl.h"
#include "events/events_impl.h"
#include "dispatch/coupon.h"

#include <stdio.h>
#include <string.h>

#define VACUUM_KEY "p/v"


ENG_API int eng_erase_report_init(eng_erase_report *x, unsigned int version)
{
    static const eng_erase_report init = ENG_ERASE_REPORT_INIT;
    return eng__struct_init(x, &init, ENG__SIZES(sizeof init), version, "eng_erase_report");
}

/* Tell the backend about keys a previous erasure left untold (crash, failed vacuum). */
int eng__privacy_vacuum(eng_engine *e)
{
    eng__rec r;
    int rc = eng__rec_get(e->store, ENG__K(VACUUM_KEY), ENG__REC_PRIV_VACUUM, PRIV_SCHEMA, &r);
    if (rc == ENG_ENOTFOUND) {
        eng_error_clear();
        return ENG_OK;
    }
    if (rc)
        return rc;
    eng__keys keys;
    eng__keys_init(&keys, &e->mem);
    eng__rd rd;
    eng__rd_init(&rd, r.payload, r.len);
    uint64_t n = eng__rd_uvar(&rd);
    for (uint64_t i = 0; i < n && !rc && eng__rd_ok(&rd); i++) {
        size_t l;
        const uint8_t *k = eng__rd_blob(&rd, &l);
        if (k)
            rc = eng__keys_add(&keys, k, l);
    }
    if (!rc && !eng__rd_ok(&rd))
        rc = eng__err(ENG_ECORRUPT, VACUUM_KEY, "erased-keys record does not decode");
    eng__rec_free(e->store, &r);
    if (!rc && !(rc = eng__kv_erased(e->store, &keys)))
        rc = eng__kv_del(e->store, ENG__K(VACUUM_KEY));
    eng__keys_free(&keys);
    return rc;
}

static int put_vacuum(eng_engine *e, const eng__keys *keys)
{
    eng__wr w;
    eng__wr_init(&w, &e->mem);
    eng__wr_uvar(&w, keys->n);
    for (size_t i = 0; i < keys->n; i++)
        eng__wr_blob(&w, keys->key[i], keys->len[i]);
    return eng__rec_put_wr(e->store, ENG__K(VACUUM_KEY), ENG__REC_PRIV_VACUUM, PRIV_SCHEMA, &w);
}

typedef struct cpkeys {
    const char *org;
    uint32_t customer;
    eng__keys *keys;
} cpkeys;

static int on_coupon(const eng__coupon_row *r, void *user)
{
    cpkeys *x = user;
    char key[192];
    int n = snprintf(key, sizeof key, "d/ca/%s/%08x/%s", x->org, x->customer, r->pool); /* dispatch/coupon.h */
    return n > 0 && (size_t)n < sizeof key ? eng__keys_add(x->keys, key, (size_t)n) : 0;
}

/* The coupon codes the customers hold leave with them (the pools never hand
 * them out again); their keys go to the backend's vacuum. */
static int erase_coupons(eng_engine *e, const char *org, const eng__idset *ids, eng__keys *keys)
{
    eng__idset_it it;
    uint32_t buf[256];
    size_t got;
    int rc = ENG_OK;
    eng__idset_it_init(&it, ids);
    while (!rc && (got = eng__idset_it_next(&it, buf, 256)) > 0)
        for (size_t i = 0; i < got && !rc; i++) {
            cpkeys x = {org, buf[i], keys};
            if (!(rc = eng__coupons_each(e, org, buf[i], on_coupon, &x)))
                rc = eng__coupons_erase(e, org, buf[i]);
        }
    return rc;
}

int eng__privacy_erase(eng_engine *e, const char *actor, const char *org, const eng__idset *ids,
                       const char *const *ext, const size_t *ext_len, size_t n, eng__prog *pg)
{
    int rc = eng__privacy_vacuum(e);
    if (rc)
        return rc;
    eng__keys keys;
    eng__keys_init(&keys, &e->mem);
    if ((rc = eng__kv_begin(e->store))) {
        eng__keys_free(&keys);
        return rc;
    }
    eng__aud *a;
    if (!(rc = eng__aud_erase(e, org, ids, &keys)) && !(rc = eng__aud_get(e, org, &a)))
        rc = eng__events_erase(e, org, &a->t, ids, &keys); /* the cached table still has the external ids */
    if (!rc)
        rc = erase_coupons(e, org, ids, &keys);
    for (size_t i = 0; i < n && !rc; i++) {
        rc = eng__privacy_audit(e, org, actor, ext[i], ext_len[i], "erase");
        if (!rc)
            rc = eng__prog_step(pg, pg->done + 1);
    }
    if (!rc)
        rc = put_vacuum(e, &keys);
    if (!rc)
        rc = eng__prog_end(pg);
    if (!rc)
        rc = eng__kv_commit(e->store);
    if (rc) /* a failed commit may have applied: the caches are dropped below either way */
        rc = eng__aud_abort(e->store, rc);
    eng__events_abandon(e); /* the cached tables held the values: reload from the rewritten records */
    if (!rc && !(rc = eng__kv_erased(e->store, &keys)) && eng__kv_del(e->store, ENG__K(VACUUM_KEY))) {
        /* Erased and the backend told: only the list is left, and the next erasure tells it
         * again (telling twice is harmless). The call succeeded: "nothing was erased" would be
         * false (found by fuzz_api's storage faults). */
        eng__log(e, ENG_LOG_WARN, "erasure: the list of erased keys was not removed (%s); the next erasure tells "
                 "them again", eng_error_last()->message);
        eng_error_clear();
    }
    eng__keys_free(&keys);
    return rc;
}
