/* Reading the ledger: an execution's state and counters, and one send's entry. */
#include "dispatch/dispatch_impl.h"

#include <stddef.h>

#include <stdio.h>

ENG_API int eng_execution_get(eng_engine *e, const char *actor, uint64_t message, uint32_t occurrence,
                              eng_execution_info *out)
{
    int rc = eng__enter_out(e, out, ENG__EXECUTION_INFO_SIZES, "eng_execution_info", "out");
    if (rc)
        return rc;
    eng__msg_ctx x;
    if ((rc = eng__msg_ctx_load(e, actor, message, ENG_OP_READ, &x)) == ENG_OK) {
        eng__xrec r;
        rc = eng__exec_load(e, message, occurrence, &r);
        if (eng__absent(rc)) { /* not started: ENG_EXEC_NONE */
            rc = ENG_OK;
        } else if (rc == ENG_OK) {
            out->state = r.state;
            out->due = r.due;
            out->audience = r.audience;
            out->planned = r.planned;
            out->sends = r.sends;
            out->accepted = r.accepted;
            out->rejected = r.rejected;
            out->expired = r.expired;
            out->skipped = r.skipped;
            out->unreachable = r.unreachable;
            out->credits = r.credits;
            snprintf(out->reason, sizeof out->reason, "%s", r.reason);
            if (out->version >= 2) {
                out->points_awards = r.pts_planned;
                out->points_awarded = r.pts_awarded;
                out->points_rejected = r.pts_rejected;
                out->points_expired = r.pts_expired;
                out->points = r.pts_sum;
            }
        }
        eng__msg_ctx_free(&x);
    }
    eng__leave(e);
    return rc;
}

ENG_API int eng_send_get(eng_engine *e, const char *actor, uint64_t message, uint32_t occurrence, uint32_t customer,
                         int channel, eng_send_info *out)
{
    int rc = eng__enter_out(e, out, ENG__SIZES(sizeof(eng_send_info)), "eng_send_info", "out");
    if (rc)
        return rc;
    if (channel < 0 || channel >= ENG_CH_COUNT) {
        eng__leave(e);
        return eng__err(ENG_EINVAL, "channel", "%d is not an eng_channel", channel);
    }
    eng__msg_ctx x;
    if ((rc = eng__msg_ctx_load(e, actor, message, ENG_OP_READ, &x)))
        goto out;
    eng__xrec r;
    int64_t pos;
    int control;
    if ((rc = eng__exec_load(e, message, occurrence, &r)) == ENG_OK &&
        (rc = eng__audience_where(e, actor, &x, customer, &pos, &control)) == ENG_OK) {
        eng__chunk c;
        rc = ENG_ENOTFOUND;
        if (pos >= 0 && (rc = eng__chunk_load(e, message, occurrence, (uint32_t)(pos / r.chunk_size), &c)) == ENG_OK) {
            rc = ENG_ENOTFOUND;
            for (uint32_t i = 0; i < c.nsend; i++) {
                const eng__lsend *s = &c.send[i];
                if (c.cust[s->cust].id == customer && s->ch == channel) {
                    out->state = s->state;
                    out->attempts = s->attempts;
                    out->next_at = s->next_at;
                    eng__send_key(out->key, sizeof out->key, x.o.id, x.c.id, message, r.version, occurrence,
                                  customer, channel);
                    rc = ENG_OK;
                }
            }
            eng__chunk_free(&c);
        }
        if (rc == ENG_ENOTFOUND)
            rc = eng__err(ENG_ENOTFOUND, "customer", "no send of customer %u on %s is planned", customer,
                          eng_channel_name(channel));
    }
    eng__msg_ctx_free(&x);
out:
    eng__leave(e);
    return rc;
}

ENG_API int eng_trace_get(eng_engine *e, const char *actor, uint64_t message, uint32_t occurrence, uint32_t customer,
                          eng_trace *out)
{
    int rc = eng__enter_out(e, out, ENG__TRACE_SIZES, "eng_trace", "out");
    if (rc)
        return rc;
    unsigned v = out->version;
    /* Only the caller's version's fields are written: version 1 ends before xe_known. */
    eng_trace full;
    memset(&full, 0, sizeof full);
    out->variant = -1;
    full.xe_channel = -1;
    if (v >= 2)
        out->xe_channel = -1;
    for (int ch = 0; ch < ENG_CH_COUNT; ch++)
        out->state[ch] = -1;
    eng__msg_ctx x;
    if ((rc = eng__msg_ctx_load(e, actor, message, ENG_OP_READ, &x)))
        goto out;
    eng__xrec r;
    int64_t pos;
    int control;
    rc = eng__exec_load(e, message, occurrence, &r);
    if (rc == ENG_ENOTFOUND)
        rc = eng__err(ENG_ENOTFOUND, "occurrence", "occurrence %u of message %llu has not started", occurrence,
                      (unsigned long long)message);
    if (rc == ENG_OK && (rc = eng__audience_where(e, actor, &x, customer, &pos, &control)) == ENG_OK) {
        if (pos < 0) {
            out->reason = control ? ENG_TRACE_CONTROL : ENG_TRACE_NOT_IN_AUDIENCE;
        } else {
            eng__chunk c;
            rc = eng__chunk_load(e, message, occurrence, (uint32_t)(pos / r.chunk_size), &c);
            if (eng__absent(rc)) {
                out->reason = ENG_TRACE_NOT_PLANNED;
                rc = ENG_OK;
            } else if (rc == ENG_OK) {
                for (uint32_t i = 0; i < c.ncust; i++) {
                    const eng__lcust *k = &c.cust[i];
                    if (k->id != customer)
                        continue;
                    if (v >= 2 && k->rule == ENG__RULE_XENGAGE && c.ncust) {
                        /* Why this channel: the decision replayed from the model it used. */
                        eng__xe_why y;
                        if ((rc = eng__xengage_trace(e, message, occurrence, c.cust[0].id, customer, k->reach, &y)))
                            break;
                        full.xe_known = y.known;
                        full.xe_channel = y.channel;
                        full.xe_value = y.value;
                        full.xe_model_time = y.model_time;
                        full.xe_reachable = y.reachable;
                        full.xe_segment = y.segment;
                        for (int ch = 0; ch < ENG_CH_COUNT; ch++) {
                            full.xe_engagement[ch] = y.engagement[ch];
                            full.xe_engagement_used[ch] = y.engagement_used[ch];
                            full.xe_conversion[ch] = y.conversion[ch];
                            full.xe_conversion_used[ch] = y.conversion_used[ch];
                            full.xe_delivery[ch] = y.delivery[ch];
                            full.xe_cost[ch] = y.cost[ch];
                            full.xe_score[ch] = y.score[ch];
                            full.xe_sent[ch] = y.sent[ch];
                            full.xe_engaged[ch] = y.engaged[ch];
                        }
                        full.xe_explored = k->detail & 1u;
                        full.xe_guard = (k->detail >> 1) & 1u;
                        full.xe_propensity = full.xe_explored ? k->prop : 0;
                        if (k->detail & 0x80u) /* cut by the credit cap: the replay's channel was not sent */
                            full.xe_channel = -1;
                        memcpy(&out->xe_known, &full.xe_known, sizeof full - offsetof(eng_trace, xe_known));
                    }
                    out->reason = k->planned ? ENG_TRACE_CHOSEN : ENG_TRACE_UNREACHABLE;
                    out->rule = k->rule;
                    out->detail = k->detail;
                    out->variant = k->variant;
                    out->channels = k->planned;
                    if (!k->planned)
                        for (size_t j = 0; j < x.m.spec.n_creatives; j++) {
                            int ch = x.m.spec.creatives[j].channel;
                            if (ch >= 0 && ch < ENG_CH_COUNT) {
                                out->unreach[ch] = k->unreach;
                                break;
                            }
                        }
                }
                for (uint32_t i = 0; i < c.nsend; i++)
                    if (c.cust[c.send[i].cust].id == customer) {
                        out->state[c.send[i].ch] = c.send[i].state;
                        if (c.send[i].state == ENG_LEDGER_SKIPPED)
                            out->unreach[c.send[i].ch] = c.send[i].why;
                    }
                eng__chunk_free(&c);
            }
        }
    }
    eng__msg_ctx_free(&x);
out:
    if (rc) /* the states were set to -1 before the failure */
        eng__out_clear(out, ENG__TRACE_SIZES);
    eng__leave(e);
    return rc;
}

ENG_API int eng_dry_run(eng_engine *e, const char *actor, uint64_t message, eng_dry_report *out)
{
    int rc = eng__enter_out(e, out, ENG__DRY_REPORT_SIZES, "eng_dry_report", "out");
    if (rc)
        return rc;
    unsigned v = out->version;
    /* Only the caller's version's fields are written: version 1 ends before coupons_available. */
    size_t size = v >= 2 ? sizeof *out : ENG__UPTO(eng_dry_report, skipped);
    eng_dry_report full;
    memset(&full, 0, sizeof full);
    full.version = v;
    eng__xcache *xc;
    if ((rc = eng__xcache_dry(e, actor, message, &xc)) == ENG_OK) {
        eng_run_options o = ENG_RUN_OPTIONS_INIT;
        eng_run_report rep = ENG_RUN_REPORT_INIT;
        eng__runctx r = {e, actor, eng__now(e), &o, &rep, {0}, 0};
        rc = eng__dry_work(&r, xc, &full);
        eng_audience *aud;
        if (!rc && (rc = eng_message_audience(e, actor, message, &aud)) == ENG_OK) {
            eng_audience_count(aud, ENG_PART_CONTROL, &full.control);
            eng_audience_free(aud);
        }
        eng__xcache_free(e, xc);
    }
    if (rc) {
        memset(&full, 0, sizeof full);
        full.version = v;
    }
    memcpy(out, &full, size);
    eng__leave(e);
    return rc;
}
