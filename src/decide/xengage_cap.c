/* X-Engage's credit cap through the engine (eng_xengage_options.credit_cap).
 *
 * Each chunk's decisions store what they plan to spend and the plan
 * (eng__xe_cap_plan) they were made with (d/xb/<message>/<occurrence>/<first customer>, written
 * in the batch of the chunk's trace record). What an execution has planned is
 * the sum of those records, read back from the store at every chunk, so a
 * resumed or reopened execution starts from what was really planned; the
 * chunk being planned again after a crash leaves its own older record out.
 * A send is charged only when the provider accepts it, so what is charged never
 * exceeds what was planned, whatever retries, rejections or expiries follow. */
#include "decide/xengage_impl.h"
#include "decide/xengage_rec.h"
#include "base/error.h"

#include <stdio.h>
#include <string.h>

static void cap_key(char *buf, size_t cap, uint64_t msg, uint32_t occ, uint32_t first, int prefix)
{
    if (prefix)
        snprintf(buf, cap, "d/xb/%016llx/%08x/", (unsigned long long)msg, (unsigned)occ);
    else
        snprintf(buf, cap, "d/xb/%016llx/%08x/%08x", (unsigned long long)msg, (unsigned)occ, (unsigned)first);
}

static void plan_wr(eng__wr *w, const eng__xe_plan *p)
{
    eng__xe_wr_f64(w, p->hi);
    eng__xe_wr_f64(w, p->lo);
    eng__wr_u32(w, p->until);
}

static int plan_rd(eng__rd *r, eng__xe_plan *p)
{
    p->hi = eng__xe_rd_f64(r);
    p->lo = eng__xe_rd_f64(r);
    p->until = eng__rd_u32(r);
    return eng__rd_ok(r) && !eng__rd_left(r) && p->hi >= 0 && p->lo >= 0;
}

static int cap_decode(const void *key, size_t klen, eng__rd *r, int64_t *cost, eng__xe_plan *plan)
{
    *cost = eng__rd_svar(r);
    if (!plan_rd(r, plan) || *cost < 0)
        return eng__err(ENG_ECORRUPT, "xengage.cap", "X-Engage budget record %.*s is damaged", (int)klen,
                        (const char *)key);
    return ENG_OK;
}

int eng__xe_cap_put(eng_store *s, uint64_t msg, uint32_t occ, uint32_t first, int64_t cost, const eng__xe_plan *plan)
{
    char key[96];
    cap_key(key, sizeof key, msg, occ, first, 0);
    eng__wr w;
    eng__wr_init(&w, &s->mem);
    eng__wr_svar(&w, cost);
    plan_wr(&w, plan);
    return eng__xe_rec_put(s, key, ENG__XE_CAP_SCHEMA, &w);
}

int eng__xe_cap_get(eng_store *s, uint64_t msg, uint32_t occ, uint32_t first, int64_t *cost, eng__xe_plan *plan)
{
    char key[96];
    cap_key(key, sizeof key, msg, occ, first, 0);
    eng__rec rec;
    eng__rd r;
    *cost = 0;
    memset(plan, 0, sizeof *plan);
    int rc = eng__xe_rec_open(s, key, ENG__XE_CAP_SCHEMA, &rec, &r);
    if (rc)
        return rc;
    rc = cap_decode(key, strlen(key), &r, cost, plan);
    eng__rec_free(s, &rec);
    return rc;
}

/* The plan of a learning time, kept so that a resumed execution decides the rest of that time's chunks
 * with the very plan the first ones had (computed again over fewer customers, a bisection would land a
 * hair away). */
static void lambda_key(char *buf, size_t cap, uint64_t msg, uint32_t occ, int64_t now)
{
    snprintf(buf, cap, "d/xl/%016llx/%08x/%016llx", (unsigned long long)msg, (unsigned)occ, (unsigned long long)now);
}

int eng__xe_cap_plan_put(eng_store *s, uint64_t msg, uint32_t occ, int64_t now, const eng__xe_plan *plan)
{
    char key[96];
    lambda_key(key, sizeof key, msg, occ, now);
    eng__wr w;
    eng__wr_init(&w, &s->mem);
    plan_wr(&w, plan);
    return eng__xe_rec_put(s, key, ENG__XE_CAP_SCHEMA, &w);
}

int eng__xe_cap_plan_get(eng_store *s, uint64_t msg, uint32_t occ, int64_t now, eng__xe_plan *plan)
{
    char key[96];
    lambda_key(key, sizeof key, msg, occ, now);
    eng__rec rec;
    eng__rd r;
    memset(plan, 0, sizeof *plan);
    int rc = eng__xe_rec_open(s, key, ENG__XE_CAP_SCHEMA, &rec, &r);
    if (rc)
        return rc;
    static const char what[] = "X-Engage multiplier record is damaged";
    if (!plan_rd(&r, plan))
        rc = eng__err(ENG_ECORRUPT, key, what);
    return eng__xe_rec_close(s, &rec, &r, rc, key, what);
}

typedef struct sum_ctx {
    const char *skip; /* the key of the chunk being planned again */
    int64_t sum;
} sum_ctx;

static int sum_cb(const void *key, size_t klen, const void *val, size_t vlen, void *u)
{
    sum_ctx *c = u;
    if (klen == strlen(c->skip) && memcmp(key, c->skip, klen) == 0)
        return 0;
    eng__rec rec;
    int64_t cost;
    eng__xe_plan plan;
    eng__rd r;
    int rc = eng__rec_decode(key, klen, val, vlen, ENG__REC_XENGAGE, ENG__XE_CAP_SCHEMA, &rec);
    if (!rc) {
        eng__rd_init(&r, rec.payload, rec.len);
        rc = cap_decode(key, klen, &r, &cost, &plan);
    }
    if (!rc)
        c->sum += cost;
    return rc;
}

int eng__xe_cap_planned(eng_store *s, uint64_t msg, uint32_t occ, uint32_t first, int64_t *out)
{
    char prefix[96], skip[96];
    cap_key(prefix, sizeof prefix, msg, occ, 0, 1);
    cap_key(skip, sizeof skip, msg, occ, first, 0);
    sum_ctx c = {skip, 0};
    int rc = eng__kv_scan(s, ENG__K(prefix), sum_cb, &c);
    *out = rc ? 0 : c.sum;
    return rc;
}
