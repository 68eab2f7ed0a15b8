/* Where one customer sits in a message's frozen audience, for the per-customer
 * readers (eng_send_get, eng_trace_get). Loading and verifying a frozen
 * audience costs O(audience); a host that asks about each customer in turn
 * would pay it per call. A frozen audience never changes under its key (the
 * key names the approval), so the ids of the last one asked about are kept in
 * the dispatch slot and the lookup is a binary search. */
#include "dispatch/dispatch_impl.h"
#include "base/lower.h"

#include <stdio.h>

void eng__audpos_drop(eng_engine *e, eng__audpos *p)
{
    eng__free(&e->mem, p->test);
    eng__free(&e->mem, p->control);
    memset(p, 0, sizeof *p);
}

static int ids_of(eng_engine *e, const eng_audience *aud, int part, uint32_t **out, uint64_t *n)
{
    *out = NULL;
    int rc = eng_audience_count(aud, part, n);
    if (rc || *n == 0)
        return rc;
    uint32_t *ids = eng__malloc(&e->mem, (size_t)*n * sizeof *ids);
    if (!ids)
        return eng__err(ENG_ENOMEM, NULL, "out of memory for %llu audience ids", (unsigned long long)*n);
    size_t got = 0;
    if ((rc = eng_audience_ids(aud, part, 0, ids, (size_t)*n, &got)) == ENG_OK && got != *n)
        rc = eng__err(ENG_ECORRUPT, "message.audience", "the frozen audience gave %zu of %llu ids", got,
                      (unsigned long long)*n);
    if (rc) {
        eng__free(&e->mem, ids);
        return rc;
    }
    *out = ids;
    return ENG_OK;
}

static int64_t find(const uint32_t *ids, uint64_t n, uint32_t customer)
{
    size_t at = eng__lower_u32(ids, (size_t)n, customer);
    return at < n && ids[at] == customer ? (int64_t)at : -1;
}

int eng__audience_where(eng_engine *e, const char *actor, const eng__msg_ctx *x, uint32_t customer, int64_t *pos,
                        int *control)
{
    *pos = -1;
    *control = 0;
    eng__dsp *d = eng__dsp_get(e);
    if (!d)
        return eng__err(ENG_ENOMEM, NULL, "out of memory for the dispatch state");
    char key[ENG__AUDPOS_KEY];
    int n = snprintf(key, sizeof key, "%s/", x->o.id);
    eng__frozen_audience_key(key + n, sizeof key - (size_t)n, x->c.id, x->m.id, x->m.decided_at);
    int usable = x->m.approved && (x->m.state == ENG_STATE_APPROVED || x->m.state == ENG_STATE_EXECUTING ||
                                   x->m.state == ENG_STATE_EXECUTED);
    eng__audpos *p = &d->apos;
    if (!usable || strcmp(p->key, key) != 0) {
        /* Not kept: eng_message_audience checks the state and verifies the hash. */
        eng_audience *aud = NULL;
        int rc = eng_message_audience(e, actor, x->m.id, &aud);
        if (rc)
            return rc;
        eng__audpos fresh;
        memset(&fresh, 0, sizeof fresh);
        if ((rc = ids_of(e, aud, ENG_PART_TEST, &fresh.test, &fresh.ntest)) == ENG_OK &&
            (rc = ids_of(e, aud, ENG_PART_CONTROL, &fresh.control, &fresh.ncontrol)) != ENG_OK)
            eng__free(&e->mem, fresh.test);
        eng_audience_free(aud);
        if (rc)
            return rc;
        eng__audpos_drop(e, p);
        *p = fresh;
        snprintf(p->key, sizeof p->key, "%s", key);
    }
    *pos = find(p->test, p->ntest, customer);
    *control = *pos < 0 && find(p->control, p->ncontrol, customer) >= 0;
    return ENG_OK;
}
