/* JSON and CSV exports of a report: one record per scope (total, each channel
 * with touches, each message). Unknown figures are null / empty, never 0. */
#include "measure/measure_impl.h"
#include "base/handle.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef struct sbuf {
    const eng__mem *mem;
    char *p;
    size_t len, cap;
    int err;
} sbuf;

static void put(sbuf *b, const char *fmt, ...) ENG__PRINTF(2, 3);
static void put(sbuf *b, const char *fmt, ...)
{
    if (b->err)
        return;
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp) {
        b->err = ENG_ERROR;
        return;
    }
    if (eng__grow(b->mem, (void **)&b->p, &b->cap, b->len + (size_t)n + 1, 1)) {
        b->err = ENG_ENOMEM;
        return;
    }
    memcpy(b->p + b->len, tmp, (size_t)n + 1);
    b->len += (size_t)n;
}

static const char *const cols[] = {"scope", "responder_def", "contacted", "sent", "delivered", "not_delivered",
                                   "opened", "clicked", "unsubscribed", "responders", "conversions", "hit_rate",
                                   "responder_sales", "spend_per_responder", "credits_spent", "control_contacted",
                                   "control_responders", "control_hit_rate", "lift", "lift_ci_low", "lift_ci_high",
                                   "p_value", "incremental_sales"};
#define NCOLS (sizeof cols / sizeof cols[0])

/* The value of column i as text ("" when unknown). */
static void value(const eng_report_figures *f, size_t i, char *v, size_t cap)
{
    v[0] = 0;
    unsigned long long u[] = {f->contacted, f->sent, f->delivered, f->not_delivered, f->opened, f->clicked,
                              f->unsubscribed, f->responders, f->conversions};
    if (i >= 2 && i <= 10) {
        snprintf(v, cap, "%llu", u[i - 2]);
        return;
    }
    switch (i) {
    case 1: snprintf(v, cap, "%s", f->responder_def == ENG_RESPONDER_GOAL ? "goal" : "hit_rate"); break;
    case 11: snprintf(v, cap, "%.6f", f->hit_rate); break;
    case 12: eng__money_fmt(v, cap, f->responder_sales, f->currency_places); break;
    case 13: if (f->spend_per_responder_known) eng__money_fmt(v, cap, f->spend_per_responder, f->currency_places); break;
    case 14: snprintf(v, cap, "%lld", (long long)f->credits_spent); break;
    case 15: snprintf(v, cap, "%llu", (unsigned long long)f->control_contacted); break;
    case 16: snprintf(v, cap, "%llu", (unsigned long long)f->control_responders); break;
    case 17: if (f->control_known) snprintf(v, cap, "%.6f", f->control_hit_rate); break;
    case 18: if (f->lift_known) snprintf(v, cap, "%.6f", f->lift); break;
    case 19: if (f->lift_known) snprintf(v, cap, "%.6f", f->lift_ci_low); break;
    case 20: if (f->lift_known) snprintf(v, cap, "%.6f", f->lift_ci_high); break;
    case 21: if (f->lift_known) snprintf(v, cap, "%.6g", f->p_value); break;
    case 22: if (f->incremental_known) eng__money_fmt(v, cap, f->incremental_sales, f->currency_places); break;
    default: break;
    }
}

static void record(sbuf *b, int json, const char *scope, const eng_report_figures *f, int first)
{
    char v[64];
    if (json)
        put(b, "%s{\"scope\":\"%s\"", first ? "" : ",", scope);
    else
        put(b, "%s", scope);
    for (size_t i = 1; i < NCOLS; i++) {
        value(f, i, v, sizeof v);
        if (!json)
            put(b, ",%s", v);
        else if (!v[0])
            put(b, ",\"%s\":null", cols[i]);
        else if (i == 1 || i == 12 || i == 13 || i == 22) /* strings and exact money stay text */
            put(b, ",\"%s\":\"%s\"", cols[i], v);
        else
            put(b, ",\"%s\":%s", cols[i], v);
    }
    put(b, json ? "}" : "\r\n");
}

ENG_API int eng_report_export(const eng_report *r, int format, char **text, size_t *len)
{
    if (text)
        *text = NULL;
    if (len)
        *len = 0;
    if (!eng__handle_live(r, ENG__H_REPORT))
        return eng__err(ENG_EMISUSE, "report", "not a live report (NULL, freed or another kind of handle)");
    if (!text)
        return eng__err(ENG_EINVAL, "text", "text is NULL");
    if (format != ENG_REPORT_JSON && format != ENG_REPORT_CSV)
        return eng__err(ENG_EINVAL, "format", "%d is not an eng_report_format", format);
    int json = format == ENG_REPORT_JSON;
    sbuf b = {&r->e->mem, NULL, 0, 0, 0};
    eng_report_figures f;
    char scope[48];
    if (json) {
        put(&b, "{\"version\":1,\"total\":");
    } else {
        for (size_t i = 0; i < NCOLS; i++)
            put(&b, "%s%s", i ? "," : "", cols[i]);
        put(&b, "\r\n");
    }
    eng__report_figures(r, &r->total, &r->total, &f);
    record(&b, json, "total", &f, 1);
    if (json)
        put(&b, ",\"channels\":[");
    int first = 1;
    for (int ch = 0; ch < ENG_MAX_CHANNELS; ch++) {
        if (!r->chan[ch].used)
            continue;
        eng__report_figures(r, &r->chan[ch], &r->total, &f);
        snprintf(scope, sizeof scope, "channel:%d", ch);
        record(&b, json, scope, &f, first);
        first = 0;
    }
    if (json)
        put(&b, "],\"messages\":[");
    for (size_t m = 0; m < r->nmsg; m++) {
        eng__report_figures(r, &r->msg[m], &r->msg[m], &f);
        snprintf(scope, sizeof scope, "message:%u", r->msg_ids[m]);
        record(&b, json, scope, &f, m == 0);
    }
    if (json)
        put(&b, "]}");
    if (b.err) {
        eng__free(b.mem, b.p);
        return b.err == ENG_ENOMEM ? eng__nomem() : eng__err(ENG_ERROR, "report", "export failed");
    }
    *text = b.p;
    if (len)
        *len = b.len;
    return ENG_OK;
}
