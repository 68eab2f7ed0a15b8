/* The X-Engage part of a customer's decision trace (eng_trace version 2):
 * the decision replayed from what it used — the execution's starting
 * checkpoint (the customer's own counts and segment) and the population
 * statistics stored for the scheduler time of the customer's chunk — so the
 * estimates, the cost, the draw and the propensity are those of the decision,
 * not of the model as it stands when the trace is asked.
 *
 * Loading the checkpoint costs as much as the model (every customer's
 * counts), so a per-customer pass over an audience would be quadratic: the
 * engine keeps the checkpoints of the last few executions traced (decide's
 * slot, under the engine lock), each with the population of the scheduler
 * time it last replayed. A checkpoint and a snapshot are written once, by the
 * executor, which drops the cache when it writes one
 * (eng__xengage_trace_forget); another engine's commit of any "d/" key drops
 * it too (core's watch). */
#include "decide/decide.h"
#include "decide/xengage_impl.h"
#include "decide/xengage_rec.h"

#include <string.h>

size_t eng__xe_trace_cache_max = 2; /* executions whose checkpoint is kept; tests set 0 (no cache) */
#define TC_CAP 8                    /* the most eng__xe_trace_cache_max can ask for */

typedef struct tc_entry {
    uint64_t message;
    uint32_t occurrence;
    eng__xe *xe;     /* the checkpoint's counts, then the population of pop_now */
    float *value;    /* the customers' values of a conversion the execution used (NULL: the org's mean) */
    int has_pop;     /* xe holds the population of pop_now (a failed load leaves it partly written) */
    eng_time pop_now;
    uint32_t channels;
    uint64_t used;   /* last use, for eviction */
} tc_entry;

typedef struct tcache {
    tc_entry v[TC_CAP];
    size_t n;
    uint64_t tick;
} tcache;

static void tc_free(eng_engine *e, void *state)
{
    tcache *c = state;
    for (size_t i = 0; i < c->n; i++) {
        eng__xe_free(c->v[i].xe);
        eng__free(&e->mem, c->v[i].value);
    }
    eng__free(&e->mem, c);
}

void eng__xengage_trace_forget(eng_engine *e)
{
    tcache *c = eng__slot_get(e, ENG__SLOT_DECIDE);
    if (!c)
        return;
    eng__slot_set(e, ENG__SLOT_DECIDE, NULL, NULL);
    tc_free(e, c);
}

/* The execution's checkpoint counts and customers' values, from the cache or loaded into it (*owned = 1:
 * not cached, the caller frees them). ENG_ENOTFOUND: no checkpoint. */
static int tc_counts(eng_engine *e, uint64_t message, uint32_t occurrence, tc_entry **slot, eng__xe **xe,
                     float **value, int *owned)
{
    char key[96];
    eng__xe_key_exec(key, sizeof key, message, occurrence);
    *slot = NULL;
    *owned = 0;
    size_t max = eng__xe_trace_cache_max < TC_CAP ? eng__xe_trace_cache_max : TC_CAP;
    tcache *c = max ? eng__slot_get(e, ENG__SLOT_DECIDE) : NULL;
    if (max && !c) {
        if (!(c = eng__calloc(&e->mem, 1, sizeof *c)))
            return eng__nomem();
        eng__slot_set(e, ENG__SLOT_DECIDE, c, tc_free);
    }
    for (size_t i = 0; c && i < c->n; i++)
        if (c->v[i].message == message && c->v[i].occurrence == occurrence) {
            c->v[i].used = ++c->tick;
            *slot = &c->v[i];
            *xe = c->v[i].xe;
            *value = c->v[i].value;
            return ENG_OK;
        }
    *value = NULL;
    int rc = eng__xe_load_counts(&e->mem, e->store, key, xe);
    if (!rc) {
        rc = eng__xe_value_get(e->store, &e->mem, message, occurrence, eng__xe_cfg(*xe)->customers, value);
        rc = eng__absent(rc) ? ENG_OK : rc;
        if (rc) {
            eng__xe_free(*xe);
            *xe = NULL;
        }
    }
    if (rc || !c) {
        *owned = !rc;
        return rc;
    }
    size_t at = c->n;
    if (c->n >= max) { /* full: the least recently used goes */
        at = 0;
        for (size_t i = 1; i < c->n; i++)
            if (c->v[i].used < c->v[at].used)
                at = i;
        eng__xe_free(c->v[at].xe);
        eng__free(&e->mem, c->v[at].value);
    } else {
        c->n++;
    }
    c->v[at] = (tc_entry){message, occurrence, *xe, *value, 0, 0, 0, ++c->tick};
    *slot = &c->v[at];
    return ENG_OK;
}

/* Put the population of scheduler time @p now into @p xe (unless the cache says it is there). */
static int tc_population(eng_engine *e, uint64_t message, uint32_t occurrence, eng_time now, tc_entry *slot,
                         eng__xe *xe, uint32_t *channels)
{
    if (slot && slot->has_pop && slot->pop_now == now) {
        *channels = slot->channels;
        return ENG_OK;
    }
    char key[96];
    eng__xe_key_snap(key, sizeof key, message, occurrence, now);
    if (slot)
        slot->has_pop = 0;
    int rc = eng__xe_load_population(xe, e->store, key, channels);
    if (!rc && slot) {
        slot->has_pop = 1;
        slot->pop_now = now;
        slot->channels = *channels;
    }
    return rc;
}

int eng__xengage_trace(eng_engine *e, uint64_t message, uint32_t occurrence, uint32_t first, uint32_t customer,
                       uint32_t reach, eng__xe_why *out)
{
    memset(out, 0, sizeof *out);
    out->channel = -1;
    char key[96];
    eng__xe *xe = NULL;
    float *value = NULL;
    tc_entry *slot;
    int owned;
    int rc = tc_counts(e, message, occurrence, &slot, &xe, &value, &owned); /* the population comes from the snapshot */
    eng__rec rec;
    eng_time now = 0;
    uint8_t units = 0; /* the customer's SMS parts at the decision (0: one) */
    if (!rc) {
        eng__xe_key_chunk(key, sizeof key, message, occurrence, first);
        eng__rd r;
        if (!(rc = eng__xe_rec_open(e->store, key, ENG__XE_CHUNK_UNITS_SCHEMA, &rec, &r))) {
            now = (eng_time)eng__rd_u64(&r);
            uint32_t m = rec.schema == ENG__XE_CHUNK_UNITS_SCHEMA ? eng__rd_u32(&r) : 0;
            for (uint32_t i = 0; i < m && eng__rd_ok(&r); i++) {
                uint32_t c = eng__rd_u32(&r);
                uint8_t u = eng__rd_u8(&r);
                if (c == customer)
                    units = u;
            }
            static const char what[] = "X-Engage chunk record is truncated";
            if ((rec.schema == ENG__XE_CHUNK_UNITS_SCHEMA && !m) || rec.schema == ENG__XE_CAP_SCHEMA)
                rc = eng__err(ENG_ECORRUPT, key, what);
            rc = eng__xe_rec_close(e->store, &rec, &r, rc, key, what);
        }
    }
    uint32_t channels = 0;
    if (!rc)
        rc = tc_population(e, message, occurrence, now, slot, xe, &channels);
    if (eng__absent(rc)) { /* an execution from before traces were stored: nothing to replay */
        if (owned)
            eng__xe_free(xe), eng__free(&e->mem, value);
        return ENG_OK;
    }
    if (rc) {
        if (owned)
            eng__xe_free(xe), eng__free(&e->mem, value);
        return rc;
    }
    /* Optimizer channel j is the j-th channel of the message's mask, as the strategy numbered them. */
    int chan[ENG__XE_MAXK];
    unsigned k = 0;
    for (int ch = 0; ch < ENG_CH_COUNT && k < ENG__XE_MAXK; ch++)
        if (channels >> ch & 1u)
            chan[k++] = ch;
    if (k != eng__xe_cfg(xe)->k || customer >= eng__xe_cfg(xe)->customers) {
        if (owned)
            eng__xe_free(xe), eng__free(&e->mem, value);
        return eng__err(ENG_ECORRUPT, "xengage", "X-Engage model of message %llu does not match its trace",
                        (unsigned long long)message);
    }
    uint16_t r = 0;
    for (unsigned j = 0; j < k; j++)
        if (reach >> chan[j] & 1u)
            r |= (uint16_t)(1u << j);
    int sms = -1;
    for (unsigned j = 0; j < k; j++)
        if (chan[j] == ENG_CH_SMS)
            sms = (int)j;
    eng__xe_item it = {customer, (uint16_t)eng__xe_segment_of(xe, customer), r, value ? value[customer] : 0,
                       (uint8_t)(sms < 0 ? 0 : sms), sms < 0 ? 0 : units};
    eng__xe_trace t;
    int64_t spent;
    eng__xe_plan plan; /* the credit cap's plan the chunk was decided with (none without a cap) */
    rc = eng__xe_cap_get(e->store, message, occurrence, first, &spent, &plan);
    if (rc && !eng__absent(rc)) {
        if (owned)
            eng__xe_free(xe), eng__free(&e->mem, value);
        return rc;
    }
    eng__xe_explain(xe, occurrence, plan.hi, &it, &t);
    if (plan.hi > 0 && customer < plan.until) { /* the cap's rest went to this customer: lo's choice */
        eng__xe_trace lo;
        eng__xe_explain(xe, occurrence, plan.lo, &it, &lo);
        if (lo.channel != t.channel)
            t = lo;
    }
    out->known = 1;
    out->channel = t.channel >= 0 ? chan[t.channel] : -1;
    out->value = it.value > 0 ? it.value : eng__xe_cfg(xe)->value;
    out->model_time = now;
    out->segment = it.segment;
    for (unsigned j = 0; j < k; j++) {
        int ch = chan[j];
        if (!t.ch[j].reachable)
            continue;
        out->reachable |= 1u << ch;
        out->engagement[ch] = t.ch[j].q_mean;
        out->engagement_used[ch] = t.ch[j].q_draw;
        out->conversion[ch] = t.ch[j].pi_mean;
        out->conversion_used[ch] = t.ch[j].pi_draw;
        out->delivery[ch] = t.ch[j].delivery;
        out->cost[ch] = t.ch[j].cost;
        out->score[ch] = t.ch[j].score;
        out->sent[ch] = t.ch[j].sent;
        out->engaged[ch] = t.ch[j].engaged;
    }
    if (owned)
        eng__xe_free(xe), eng__free(&e->mem, value);
    return ENG_OK;
}
