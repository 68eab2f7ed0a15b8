/* The demo's HTML report: one self-contained file (inline CSS and SVG, no
 * script, no network) with the headline figures, a funnel per channel, the
 * hit rate of test and control with their intervals, and X-Engage's channel
 * mix and open rate per batch. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "demo.h"

static const int chans[] = {ENG_CH_EMAIL, ENG_CH_SMS, ENG_CH_WHATSAPP};
static const char *const colour[] = {"#4e79a7", "#f28e2b", "#59a14f"};
#define NCH 3

static void money(FILE *f, int64_t minor)
{
    fprintf(f, "%s%lld.%02lld", minor < 0 ? "-" : "", (long long)llabs(minor) / 100, (long long)llabs(minor) % 100);
}

/* 95 % normal interval of a rate in percent, clamped to [0, 100]. */
static void interval(double pct, uint64_t n, double *lo, double *hi)
{
    double p = pct / 100, h = n ? 1.96 * sqrt(p * (1 - p) / (double)n) : 0;
    *lo = fmax(0, p - h) * 100, *hi = fmin(1, p + h) * 100;
}

static void funnel(FILE *f, const demo_result *r)
{
    fprintf(f, "<h2>Funnel per channel</h2>\n<svg width=\"760\" height=\"%d\" role=\"img\" "
               "aria-label=\"funnel per channel\">\n", 40 + NCH * 130);
    static const char *const step[] = {"sent", "delivered", "opened", "clicked", "responders"};
    int y = 20;
    for (int k = 0; k < NCH; k++) {
        const eng_report_figures *x = &r->channel[chans[k]];
        if (!r->has_channel[chans[k]])
            continue;
        uint64_t v[5] = {x->sent, x->delivered, x->opened, x->clicked, x->responders};
        fprintf(f, "<text x=\"0\" y=\"%d\" font-weight=\"bold\">%s</text>\n", y + 12, eng_channel_name(chans[k]));
        for (int s = 0; s < 5; s++) {
            double w = x->sent ? 560.0 * (double)v[s] / (double)x->sent : 0;
            int yy = y + 18 + s * 20;
            fprintf(f, "<text x=\"0\" y=\"%d\" font-size=\"12\">%s</text>"
                       "<rect x=\"90\" y=\"%d\" width=\"%.1f\" height=\"16\" fill=\"%s\" opacity=\"%.2f\"/>"
                       "<text x=\"%.1f\" y=\"%d\" font-size=\"12\">%llu</text>\n",
                    yy + 12, step[s], yy, w, colour[k], 1.0 - 0.15 * s, 96 + w, yy + 12, (unsigned long long)v[s]);
        }
        y += 130;
    }
    fprintf(f, "</svg>\n");
}

static void hitrate(FILE *f, const demo_result *r)
{
    const eng_report_figures *t = &r->total;
    double lo[2], hi[2], rate[2] = {t->hit_rate, t->control_hit_rate};
    interval(t->hit_rate, t->contacted, &lo[0], &hi[0]);
    interval(t->control_hit_rate, t->control_contacted, &lo[1], &hi[1]);
    double top = fmax(hi[0], hi[1]) * 1.25 + 0.5, scale = 560 / top;
    fprintf(f, "<h2>Hit rate: test vs control</h2>\n<svg width=\"760\" height=\"150\" role=\"img\" "
               "aria-label=\"hit rate test versus control\">\n");
    static const char *const name[] = {"test", "control"};
    static const char *const fill[] = {"#4e79a7", "#bab0ac"};
    for (int g = 0; g < 2; g++) {
        int y = 20 + g * 50;
        fprintf(f, "<text x=\"0\" y=\"%d\">%s</text><rect x=\"90\" y=\"%d\" width=\"%.1f\" height=\"28\" fill=\"%s\"/>"
                   "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" stroke=\"black\" stroke-width=\"2\"/>"
                   "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" stroke=\"black\"/>"
                   "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" stroke=\"black\"/>"
                   "<text x=\"%.1f\" y=\"%d\" font-size=\"12\">%.2f%% (95%% interval %.2f&#8211;%.2f)</text>\n",
                y + 19, name[g], y, rate[g] * scale, fill[g], 90 + lo[g] * scale, 90 + hi[g] * scale, y + 14, y + 14,
                90 + lo[g] * scale, 90 + lo[g] * scale, y + 6, y + 22, 90 + hi[g] * scale, 90 + hi[g] * scale, y + 6,
                y + 22, 100 + hi[g] * scale, y + 19, rate[g], lo[g], hi[g]);
    }
    fprintf(f, "<text x=\"0\" y=\"140\" font-size=\"13\">");
    if (t->lift_known)
        fprintf(f, "Lift %+.2f points, 95%% interval %+.2f to %+.2f (p = %.2g)", t->lift, t->lift_ci_low,
                t->lift_ci_high, t->p_value);
    else
        fprintf(f, "Lift unknown (an empty group)");
    fprintf(f, "</text>\n</svg>\n");
}

static void learning(FILE *f, const demo_result *r)
{
    size_t nb = r->nbatches;
    if (!nb)
        return;
    double bw = 640.0 / (double)nb;
    fprintf(f, "<h2>X-Engage learning per batch</h2>\n<p>Each column is one transport batch of the X-Engage message "
               "(%zu in all, two hours apart): the share of each channel among its sends, and (line) the share of "
               "sends opened, from the provider's receipts.</p>\n<svg width=\"760\" height=\"260\" role=\"img\" "
               "aria-label=\"channel mix and open rate per batch\">\n", nb);
    double px = 0, py = 0;
    for (size_t b = 0; b < nb; b++) {
        const demo_batch *x = &r->batch[b];
        uint64_t tot = 0, op = 0;
        for (int k = 0; k < NCH; k++)
            tot += x->sent[chans[k]], op += x->opened[chans[k]];
        double y = 220, xx = 60 + (double)b * bw;
        for (int k = 0; k < NCH; k++) {
            double h = tot ? 200.0 * (double)x->sent[chans[k]] / (double)tot : 0;
            y -= h;
            fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>", xx, y, bw * 0.9, h,
                    colour[k]);
        }
        double ry = 220 - 200.0 * (tot ? (double)op / (double)tot : 0), rx = xx + bw * 0.45;
        if (b)
            fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"black\" stroke-width=\"2\"/>", px,
                    py, rx, ry);
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\"/>\n", rx, ry);
        px = rx, py = ry;
    }
    fprintf(f, "<text x=\"0\" y=\"24\" font-size=\"11\">100%%</text><text x=\"0\" y=\"224\" font-size=\"11\">0%%</text>"
               "<text x=\"60\" y=\"240\" font-size=\"11\">batch 1</text><text x=\"640\" y=\"240\" font-size=\"11\">"
               "batch %zu</text>\n", nb);
    for (int k = 0; k < NCH; k++)
        fprintf(f, "<rect x=\"%d\" y=\"248\" width=\"10\" height=\"10\" fill=\"%s\"/><text x=\"%d\" y=\"257\" "
                   "font-size=\"11\">%s</text>", 60 + k * 110, colour[k], 74 + k * 110, eng_channel_name(chans[k]));
    fprintf(f, "<line x1=\"400\" y1=\"253\" x2=\"420\" y2=\"253\" stroke=\"black\" stroke-width=\"2\"/>"
               "<text x=\"424\" y=\"257\" font-size=\"11\">opened</text>\n</svg>\n");
}

static void row(FILE *f, const char *scope, const eng_report_figures *x)
{
    fprintf(f, "<tr><td>%s</td><td>%llu</td><td>%llu</td><td>%llu</td><td>%llu</td><td>%llu</td><td>%.2f%%</td><td>",
            scope, (unsigned long long)x->contacted, (unsigned long long)x->sent, (unsigned long long)x->opened,
            (unsigned long long)x->clicked, (unsigned long long)x->responders, x->hit_rate);
    money(f, x->responder_sales);
    fprintf(f, "</td><td>%lld</td></tr>\n", (long long)x->credits_spent);
}

int demo_write_html(const char *path, const demo_result *r)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    const eng_report_figures *t = &r->total;
    fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Campaign report: New year "
               "sale</title>\n<style>body{font-family:sans-serif;margin:24px;max-width:820px;color:#222}"
               "table{border-collapse:collapse}td,th{border-bottom:1px solid #ddd;padding:3px 8px;text-align:right}"
               "td:first-child,th:first-child{text-align:left}.big{font-size:28px;font-weight:bold}"
               ".kpi{display:inline-block;margin-right:28px}</style></head><body>\n");
    fprintf(f, "<h1>Campaign report: New year sale</h1>\n<p>libengage %s demo on the %s: %llu customers, %llu "
               "purchases before the campaign, %llu during it.</p>\n", eng_version_string(), r->store_kind,
            (unsigned long long)r->customers, (unsigned long long)r->history_txns,
            (unsigned long long)r->campaign_txns);
    fprintf(f, "<div class=\"kpi\"><div class=\"big\">%llu</div>contacted</div><div class=\"kpi\"><div class=\"big\">"
               "%.2f%%</div>hit rate (control %.2f%%)</div><div class=\"kpi\"><div class=\"big\">",
            (unsigned long long)t->contacted, t->hit_rate, t->control_hit_rate);
    if (t->incremental_known)
        money(f, t->incremental_sales);
    else
        fprintf(f, "&#8211;");
    fprintf(f, "</div>incremental sales (INR)</div><div class=\"kpi\"><div class=\"big\">%lld</div>credits spent</div>\n",
            (long long)t->credits_spent);
    funnel(f, r);
    hitrate(f, r);
    learning(f, r);
    fprintf(f, "<h2>Figures</h2>\n<table><tr><th>scope</th><th>contacted</th><th>sent</th><th>opened</th>"
               "<th>clicked</th><th>responders</th><th>hit rate</th><th>sales (INR)</th><th>credits</th></tr>\n");
    row(f, "campaign", t);
    for (int k = 0; k < NCH; k++)
        if (r->has_channel[chans[k]])
            row(f, eng_channel_name(chans[k]), &r->channel[chans[k]]);
    for (size_t i = 0; i < r->nmsg; i++)
        row(f, r->msg_title[i], &r->msg[i]);
    fprintf(f, "</table>\n<h2>What other policies would have earned (off-policy estimates)</h2>\n<table><tr><th>"
               "policy</th><th>net credits per customer</th><th>95%% interval</th></tr>\n");
    static const char *const pol[] = {"X-Engage (as run)", "channel priority", "send on all", "greedy"};
    for (int p = 0; p < 4; p++) {
        if (r->ope[p].known)
            fprintf(f, "<tr><td>%s</td><td>%.2f</td><td>%.2f to %.2f</td></tr>\n", pol[p], r->ope[p].dr,
                    r->ope[p].dr_low, r->ope[p].dr_high);
        else
            fprintf(f, "<tr><td>%s</td><td colspan=\"2\">not estimable from these logs</td></tr>\n", pol[p]);
    }
    fprintf(f, "</table>\n</body></html>\n");
    return fclose(f) ? -1 : 0;
}
