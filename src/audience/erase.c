/* Erasure of customers from the audience layer (docs/privacy.md). The table
 * is stored as import deltas, each holding the values as imported, so
 * deleting one customer's bytes means rewriting them: the table is compacted
 * into one delta in which the erased rows are tombstones. The dense id stays
 * (frozen audiences, the send ledger and touches name it, and their hashes
 * and totals must not move); everything that identified the person goes. */
#include "audience/audience_impl.h"

#include <string.h>

int eng__aud_erase(eng_engine *e, const char *org, const eng__idset *ids, eng__keys *keys)
{
    eng__aud *a;
    int rc = eng__aud_get(e, org, &a);
    if (rc)
        return rc;
    /* Uploaded groups: the members leave. Filter and combined groups hold no
     * ids of their own; frozen audiences keep the dense id as the tombstone. */
    for (uint32_t i = 0; i < a->ng && !rc; i++) {
        eng__group *g = &a->g[i];
        if (g->kind != ENG_GROUP_UPLOADED || eng__idset_and_count(&g->members, ids) == 0)
            continue;
        eng__idset left;
        eng__idset_init(&left, &e->mem);
        if (!(rc = eng__idset_op(ENG__SET_ANDNOT, &left, &g->members, ids)) &&
            !(rc = eng__group_put_members(a, g->id, &left))) {
            char mk[ENG__AUD_KEY_MAX];
            eng__aud_key(a, mk, sizeof mk, "m/", g->id);
            rc = eng__keys_add(keys, mk, strlen(mk));
        }
        eng__idset_free(&left);
    }
    if (!rc)
        rc = eng__aud_rewrite(e, "audience.erase_rewrite", a, ids, keys);
    return rc;
}
