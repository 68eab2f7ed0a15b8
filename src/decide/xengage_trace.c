/* The X-Engage part of a customer's decision trace (eng_trace version 2):
 * the decision replayed from what it used — the execution's starting
 * checkpoint (the customer's own counts and segment) and the population
 * statistics stored for the scheduler time of the customer's chunk — so the
 * estimates, the cost, the draw and the propensity are those of the decision,
 * not of the model as it stands when the trace is asked. */
#include "decide/decide.h"
#include "decide/xengage_impl.h"
#include "store/record.h"

#include <string.h>

int eng__xengage_trace(eng_engine *e, uint64_t message, uint32_t occurrence, uint32_t first, uint32_t customer,
                       uint32_t reach, eng__xe_why *out)
{
    memset(out, 0, sizeof *out);
    out->channel = -1;
    char key[96];
    eng__xe *xe = NULL;
    eng__xe_key_exec(key, sizeof key, message, occurrence);
    int rc = eng__xe_load_counts(&e->mem, e->store, key, &xe); /* the population comes from the snapshot */
    eng__rec rec;
    eng_time now = 0;
    if (!rc) {
        eng__xe_key_chunk(key, sizeof key, message, occurrence, first);
        if (!(rc = eng__rec_get(e->store, ENG__K(key), ENG__REC_XENGAGE, ENG__XE_CHUNK_SCHEMA, &rec))) {
            eng__rd r;
            eng__rd_init(&r, rec.payload, rec.len);
            now = (eng_time)eng__rd_u64(&r);
            if (!eng__rd_ok(&r) || eng__rd_left(&r))
                rc = eng__err(ENG_ECORRUPT, key, "X-Engage chunk record is truncated");
            eng__rec_free(e->store, &rec);
        }
    }
    uint32_t channels = 0;
    if (!rc) {
        eng__xe_key_snap(key, sizeof key, message, occurrence, now);
        rc = eng__xe_load_population(xe, e->store, key, &channels);
    }
    if (rc == ENG_ENOTFOUND) { /* an execution from before traces were stored: nothing to replay */
        eng__xe_free(xe);
        return ENG_OK;
    }
    if (rc) {
        eng__xe_free(xe);
        return rc;
    }
    /* Optimizer channel j is the j-th channel of the message's mask, as the strategy numbered them. */
    int chan[ENG__XE_MAXK];
    unsigned k = 0;
    for (int ch = 0; ch < ENG_CH_COUNT && k < ENG__XE_MAXK; ch++)
        if (channels >> ch & 1u)
            chan[k++] = ch;
    if (k != eng__xe_cfg(xe)->k || customer >= eng__xe_cfg(xe)->customers) {
        eng__xe_free(xe);
        return eng__err(ENG_ECORRUPT, "xengage", "X-Engage model of message %llu does not match its trace",
                        (unsigned long long)message);
    }
    uint16_t r = 0;
    for (unsigned j = 0; j < k; j++)
        if (reach >> chan[j] & 1u)
            r |= (uint16_t)(1u << j);
    eng__xe_item it = {customer, (uint16_t)eng__xe_segment_of(xe, customer), r, 0};
    eng__xe_trace t;
    eng__xe_explain(xe, occurrence, 0, &it, &t);
    out->known = 1;
    out->channel = t.channel >= 0 ? chan[t.channel] : -1;
    out->value = eng__xe_cfg(xe)->value;
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
    eng__xe_free(xe);
    return ENG_OK;
}
