/* Erasure in the events layer (docs/privacy.md). Touches, and transactions of
 * a customer known when they were stored, hold only the dense id, which stays
 * as the tombstone. A transaction stored while its customer was still unknown
 * holds the external id as given, and is joined to the customer when read;
 * for an erased customer such rows are bound to the dense id for good: the
 * external id leaves the record and the row still joins, so every total and
 * attribution stays as it was. */
#include "events/ev_state.h"

#include <string.h>

/* Bind c's unknown-customer rows whose external id belongs to a customer in ids. */
static size_t bind_rows(eng__rcols *c, const eng__table *t, const eng__idset *ids)
{
    size_t changed = 0;
    for (size_t i = 0; i < c->n; i++) {
        if (c->customer[i] != ENG__NO_CUSTOMER)
            continue;
        uint32_t f; /* the external id as given: text, also for integer ids */
        if (!eng__customer_find(t, c->str + c->ext_off[i], c->id_off[i + 1] - c->ext_off[i], &f) &&
            eng__idset_contains(ids, f)) {
            c->customer[i] = f;
            changed++;
        }
    }
    return changed;
}

static int erase_org(eng__ev *ev, eng__evorg *o, const eng__table *t, const eng__idset *ids, eng__keys *keys)
{
    const eng__mem *mem = &ev->e->mem;
    char key[48];
    int rc = ENG_OK;
    for (size_t i = 0; i < o->rseg.n && !rc; i++) {
        const uint8_t *p;
        size_t len;
        eng__ev_key(key, sizeof key, o->code, "r/s", o->rseg.v[i].id, 0);
        if ((rc = eng__rseg_payload(ev, o, i, &p, &len)) || (rc = eng__rseg_decode(p, len, key, &ev->rdec, mem)))
            break;
        if (bind_rows(&ev->rdec, t, ids) && !(rc = eng__rseg_replace(ev, o, i, &ev->rdec)))
            rc = eng__keys_add(keys, key, strlen(key));
    }
    if (rc || !bind_rows(&o->rtail, t, ids))
        return rc;
    /* the tail's chunks are replaced by one chunk of the whole tail */
    for (uint64_t s = o->rchunk_first; s < o->rchunk_next && !rc; s++) {
        eng__ev_key(key, sizeof key, o->code, "r/c", s, 1);
        if (!(rc = eng__kv_del(ev->e->store, ENG__K(key))))
            rc = eng__keys_add(keys, key, strlen(key));
    }
    if (rc)
        return rc;
    o->rchunk_first = o->rchunk_next;
    o->rtail_saved = 0;
    return eng__rtail_save(ev, o);
}

int eng__events_erase(eng_engine *e, const char *org, const eng__table *t, const eng__idset *ids, eng__keys *keys)
{
    eng__ev *ev;
    eng__evorg *o;
    int rc = eng__ev_get(e, &ev);
    if (rc || eng__ev_org(ev, org, 0, &o)) /* no events of the org: nothing to erase */
        return rc;
    return erase_org(ev, o, t, ids, keys);
}
