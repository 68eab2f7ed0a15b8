/* Every figure of a campaign report against two independent references on
 * generated data, for all five attribution models and three starting
 * statuses, and without a goal:
 *   - a brute-force computation written plainly here (every transaction
 *     against every touch, shares in long double), and
 *   - SQL run by the sqlite3 command-line tool on the same data exported as CSV.
 * Money must agree to the cent. The data has duplicate and late events,
 * transactions exactly at the window bounds, touches after transactions,
 * another campaign touching the same customers, a message on two channels,
 * and control customers with transactions. A second data set makes message 20
 * weekly (three occurrences, each a sending of its own: counted, charged and
 * attributed as such) and runs the same references over it. */
#include "measure_fixture.h"
#include "measure/measure_impl.h"

#include <math.h>
#include <sys/stat.h>

#define H ENG_HOUR
#define T0 ((eng_time)1767225600000)
#define NCUST 600
#define NTEST 520 /* customers below are the test group, the rest control */
#define NMSG 3
#define NOCC 3 /* occurrences of the weekly message 20 in the second data set */
static const uint32_t msgs[NMSG] = {3, 7, 20};
static const int64_t cost[ENG_MAX_CHANNELS] = {17, 3, 1, 86, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5};
static uint32_t ctl[NCUST];
static size_t nctl;

static uint64_t rng = 88172645463325252ull;
static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

/* Times on an hour grid so that transactions often fall exactly on a bound. With @p weekly,
 * message 20 goes out NOCC times a week apart (occurrences 0..NOCC-1, each to most customers,
 * its rows duplicated as the others'); without, once. */
static void generate(mx *m, int weekly)
{
    for (uint32_t c = 0; c < NTEST; c++) {
        for (int k = 0; k < NMSG; k++) {
            for (uint32_t occ = 0; occ < (weekly && k == 2 ? NOCC : 1u); occ++) {
            if (rnd(10) < 3)
                continue;
            eng_time sent = T0 + (eng_time)(k * 96 + (int)rnd(24)) * H + (eng_time)occ * 7 * ENG_DAY;
            int nch = k == 1 && rnd(3) == 0 ? 2 : 1; /* message 7 sometimes on sms and email */
            for (int j = 0; j < nch; j++) {
                int ch = k == 0 ? ENG_CH_SMS : k == 2 ? ENG_CH_PUSH : j ? ENG_CH_SMS : ENG_CH_EMAIL;
                mx_touch_occ(m, c, msgs[k], occ, ch, ENG_TOUCH_SENT, sent);
                if (rnd(10) < 8) {
                    eng_time dl = sent + (eng_time)rnd(3) * H;
                    mx_touch_occ(m, c, msgs[k], occ, ch, ENG_TOUCH_DELIVERED, dl);
                    if (rnd(10) == 0) /* duplicate, sometimes late */
                        mx_touch_occ(m, c, msgs[k], occ, ch, ENG_TOUCH_DELIVERED, dl + (eng_time)rnd(2) * 50 * H);
                    if (rnd(2)) {
                        mx_touch_occ(m, c, msgs[k], occ, ch, ENG_TOUCH_OPENED, dl + (eng_time)rnd(48) * H);
                        if (rnd(2))
                            mx_touch_occ(m, c, msgs[k], occ, ch, ENG_TOUCH_CLICKED, dl + (eng_time)(48 + rnd(48)) * H);
                    }
                    if (rnd(50) == 0)
                        mx_touch_occ(m, c, msgs[k], occ, ch, ENG_TOUCH_UNSUBSCRIBED, dl + H);
                } else {
                    mx_touch_occ(m, c, msgs[k], occ, ch, ENG_TOUCH_FAILED, sent + H);
                }
            }
            }
        }
        if (rnd(4) == 0) /* another campaign's message */
            mx_touch(m, c, 50, ENG_CH_SMS, ENG_TOUCH_DELIVERED, T0 + (eng_time)rnd(400) * H);
    }
    for (uint32_t c = NTEST; c < NCUST; c++)
        ctl[nctl++] = c;
    ctl[nctl++] = NTEST; /* listed twice: counted once */
    for (uint32_t c = 0; c < NCUST; c++) {
        int n = (int)rnd(5);
        for (int j = 0; j < n; j++) {
            eng_time t = T0 + ((eng_time)rnd(700) - 100) * H;
            mx_txn(m, c, t, 1 + (int64_t)rnd(700000), rnd(8));
        }
    }
    /* The first half of the control ids in no order (the engine's report passes them
     * ascending, a caller may not): the lookup of their transactions must not rely on it. */
    for (size_t i = (nctl - 1) / 2; i > 1; i--) {
        size_t j = rnd((uint32_t)i + 1);
        uint32_t v = ctl[i];
        ctl[i] = ctl[j], ctl[j] = v;
    }
}

/* ------------------------------------------------------------------ brute force */

typedef struct bf {
    uint64_t count[ENG_TOUCH_STATUS_COUNT], contacted, responders, control_resp, msg_resp[NMSG];
    uint64_t ch_resp[ENG_MAX_CHANNELS], msg_contacted[NMSG], ch_contacted[ENG_MAX_CHANNELS];
    int64_t sales, credits;
    long double msg_sales[NMSG], ch_sales[ENG_MAX_CHANNELS];
    /* Every model but time decay has rational weights: the same sales exactly, in units of
     * 1/XDEN of an amount unit, so a figure that is exactly half a cent is judged exactly. */
    int exact;
    __int128 msg_x[NMSG], ch_x[ENG_MAX_CHANNELS];
} bf;

#define MAXTOUCH (NMSG * ENG_MAX_CHANNELS)

static __int128 gcd128(__int128 a, __int128 b)
{
    while (b) {
        __int128 t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* 5 x lcm(1..MAXTOUCH): every weight 1/k, 2/5 and 1/(5(k-2)) is a whole number of units. */
static __int128 xden(void)
{
    __int128 l = 1;
    for (int i = 2; i <= MAXTOUCH; i++)
        l = l / gcd128(l, i) * i;
    return l * 5;
}

/* Exact weight of touch a of n in units of 1/xden(). */
static __int128 xweight(int model, int a, int n)
{
    __int128 d = xden();
    switch (model) {
    case ENG_ATTR_LAST_TOUCH: return a == n - 1 ? d : 0;
    case ENG_ATTR_FIRST_TOUCH: return a == 0 ? d : 0;
    case ENG_ATTR_LINEAR: return d / n;
    default: /* position */
        if (n == 1)
            return d;
        if (n == 2)
            return d / 2;
        return (a == 0 || a == n - 1) ? d * 2 / 5 : d / (5 * (n - 2));
    }
}

/* x / xden() rounded half-even: the minor units the report must print. */
static int64_t xcents(__int128 x)
{
    __int128 d = xden(), q = x / d, r = x % d;
    if (2 * r > d || (2 * r == d && (q & 1)))
        q++;
    return (int64_t)q;
}

static int qualifies(const mx *m, size_t j, int has_goal)
{
    if (!has_goal)
        return 1;
    uint32_t s = m->xstore[j];
    return m->xamt[j] > 300000 && (s == 1 || s == 2 || s == 3 || s == 5);
}

static void brute(const mx *m, const eng_measure_spec *s, bf *o)
{
    memset(o, 0, sizeof *o);
    o->exact = !s->has_goal || s->goal->attribution != ENG_ATTR_TIME_DECAY;
    static eng_time first[NCUST][NMSG][NOCC][ENG_MAX_CHANNELS][ENG_TOUCH_STATUS_COUNT];
    /* the earliest time of each (customer, message, occurrence, channel, status); -1: none */
    memset(first, 0xff, sizeof first);
    for (size_t i = 0; i < m->nt; i++) {
        int k = -1;
        for (int j = 0; j < NMSG; j++)
            if (msgs[j] == m->tmsg[i])
                k = j;
        if (k < 0)
            continue;
        assert_true(m->tocc[i] < NOCC);
        eng_time *t = &first[m->tcust[i]][k][m->tocc[i]][m->tch[i]][m->tst[i]];
        if (*t < 0 || m->tt[i] < *t)
            *t = m->tt[i];
    }
    for (uint32_t c = 0; c < NCUST; c++) {
        int any = 0;
        int anych[ENG_MAX_CHANNELS] = {0};
        for (int k = 0; k < NMSG; k++) {
            int anym = 0;
            for (int oc = 0; oc < NOCC; oc++)
                for (int ch = 0; ch < ENG_MAX_CHANNELS; ch++)
                    for (int st = 0; st < ENG_TOUCH_STATUS_COUNT; st++)
                        if (first[c][k][oc][ch][st] >= 0) {
                            o->count[st]++;
                            if (st == ENG_TOUCH_SENT) {
                                any = anym = anych[ch] = 1;
                                o->credits += cost[ch];
                            }
                        }
            o->msg_contacted[k] += (uint64_t)anym;
        }
        o->contacted += (uint64_t)any;
        for (int ch = 0; ch < ENG_MAX_CHANNELS; ch++)
            o->ch_contacted[ch] += (uint64_t)anych[ch];
    }
    eng_time W = (eng_time)s->goal->window_days * ENG_DAY;
    int start = s->has_goal ? s->goal->start_on : ENG_TOUCH_SENT;
    long double hl = 7.0L * ENG_DAY;
    for (uint32_t c = 0; c < NTEST; c++) {
        int responded = 0, mr[NMSG] = {0}, cr[ENG_MAX_CHANNELS] = {0};
        eng_time firstsent = -1;
        for (int k = 0; k < NMSG; k++)
            for (int oc = 0; oc < NOCC; oc++)
                for (int ch = 0; ch < ENG_MAX_CHANNELS; ch++) {
                    eng_time t = first[c][k][oc][ch][ENG_TOUCH_SENT];
                    if (t >= 0 && (firstsent < 0 || t < firstsent))
                        firstsent = t;
                }
        for (size_t j = 0; j < m->nx; j++) {
            if (m->xcust[j] != c || !qualifies(m, j, s->has_goal))
                continue;
            eng_time at = m->xt[j];
            /* eligible touches (each occurrence's its own), sorted by (time, message, occurrence, channel) */
            struct { eng_time t; int k, oc, ch; } el[64];
            int n = 0;
            for (int k = 0; k < NMSG; k++)
                for (int oc = 0; oc < NOCC; oc++)
                    for (int ch = 0; ch < ENG_MAX_CHANNELS; ch++) {
                        eng_time t = first[c][k][oc][ch][start];
                        if (t < 0 || t > at)
                            continue;
                        if (s->has_goal && at - t > W)
                            continue;
                        el[n].t = t;
                        el[n].k = k;
                        el[n].oc = oc;
                        el[n].ch = ch;
                        n++;
                    }
            for (int a = 0; a < n; a++)
                for (int b = a + 1; b < n; b++)
                    if (el[b].t < el[a].t ||
                        (el[b].t == el[a].t &&
                         (el[b].k < el[a].k || (el[b].k == el[a].k && (el[b].oc < el[a].oc ||
                                                                        (el[b].oc == el[a].oc && el[b].ch < el[a].ch)))))) {
                        __typeof__(el[0]) tmp = el[a];
                        el[a] = el[b];
                        el[b] = tmp;
                    }
            int model = s->goal->attribution;
            if (!s->has_goal) { /* responder window: first touch .. end; credit to the last send before */
                if (firstsent < 0 || at < firstsent || at > s->end || n == 0)
                    continue;
                el[0] = el[n - 1];
                n = 1;
                model = ENG_ATTR_LAST_TOUCH;
            }
            if (n == 0)
                continue;
            responded = 1;
            o->sales += m->xamt[j];
            long double wsum = 0;
            for (int a = 0; a < n; a++)
                wsum += exp2l(-(long double)(at - el[a].t) / hl);
            for (int a = 0; a < n; a++) {
                long double w;
                switch (model) {
                case ENG_ATTR_LAST_TOUCH: w = a == n - 1; break;
                case ENG_ATTR_FIRST_TOUCH: w = a == 0; break;
                case ENG_ATTR_LINEAR: w = 1.0L / n; break;
                case ENG_ATTR_TIME_DECAY: w = exp2l(-(long double)(at - el[a].t) / hl) / wsum; break;
                default: w = n == 1 ? 1 : n == 2 ? 0.5L : (a == 0 || a == n - 1) ? 0.4L : 0.2L / (n - 2); break;
                }
                if (w == 0)
                    continue;
                o->msg_sales[el[a].k] += w * (long double)m->xamt[j];
                o->ch_sales[el[a].ch] += w * (long double)m->xamt[j];
                if (o->exact) {
                    __int128 x = xweight(model, a, n) * m->xamt[j];
                    o->msg_x[el[a].k] += x;
                    o->ch_x[el[a].ch] += x;
                }
                mr[el[a].k] = 1;
                cr[el[a].ch] = 1;
            }
        }
        o->responders += (uint64_t)responded;
        for (int k = 0; k < NMSG; k++)
            o->msg_resp[k] += (uint64_t)mr[k];
        for (int ch = 0; ch < ENG_MAX_CHANNELS; ch++)
            o->ch_resp[ch] += (uint64_t)cr[ch];
    }
    /* control: a qualifying transaction within a window opened by a sending's (a message
     * occurrence's) first send */
    eng_time sent_at[NMSG][NOCC];
    for (int k = 0; k < NMSG; k++)
        for (uint32_t oc = 0; oc < NOCC; oc++) {
            sent_at[k][oc] = -1;
            for (size_t i = 0; i < m->nt; i++)
                if (m->tmsg[i] == msgs[k] && m->tocc[i] == oc && m->tst[i] == ENG_TOUCH_SENT &&
                    (sent_at[k][oc] < 0 || m->tt[i] < sent_at[k][oc]))
                    sent_at[k][oc] = m->tt[i];
        }
    for (uint32_t c = NTEST; c < NCUST; c++) {
        int hit = 0;
        for (size_t j = 0; j < m->nx && !hit; j++) {
            if (m->xcust[j] != c || !qualifies(m, j, s->has_goal))
                continue;
            for (int k = 0; k < NMSG; k++)
                for (int oc = 0; oc < NOCC; oc++) {
                    eng_time from = sent_at[k][oc], to = s->has_goal ? from + W : s->end;
                    if (from >= 0 && m->xt[j] >= from && m->xt[j] <= to)
                        hit = 1;
                }
        }
        o->control_resp += (uint64_t)hit;
    }
}

/* ------------------------------------------------------------------ sqlite3 */

static int have_sqlite3(void)
{
    return system("sqlite3 -version >/dev/null 2>&1") == 0;
}

static void write_csv(const mx *m, const char *dir)
{
    char p[512];
    snprintf(p, sizeof p, "%s/touches.csv", dir);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    for (size_t i = 0; i < m->nt; i++)
        fprintf(f, "%u,%u,%u,%u,%u,%lld\n", m->tcust[i], m->tmsg[i], m->tocc[i], m->tch[i], m->tst[i],
                (long long)m->tt[i]);
    fclose(f);
    snprintf(p, sizeof p, "%s/txns.csv", dir);
    f = fopen(p, "w");
    assert_non_null(f);
    for (size_t j = 0; j < m->nx; j++)
        fprintf(f, "%zu,%u,%lld,%lld,%s\n", j, m->xcust[j], (long long)m->xt[j], (long long)m->xamt[j],
                mx_store_names[m->xstore[j]]);
    fclose(f);
    snprintf(p, sizeof p, "%s/control.csv", dir);
    f = fopen(p, "w");
    assert_non_null(f);
    for (size_t i = 0; i < nctl; i++)
        fprintf(f, "%u\n", ctl[i]);
    fclose(f);
}

/* The attribution in SQL; prints "key,value" lines. A sending is a (message, occurrence). */
static const char sql_text[] = /* an array: the format is checked at -O0 too */
    "create table touches(cust int, msg int, occ int, ch int, st int, t int);\n"
    "create table txns(id int, cust int, t int, amount int, store text);\n"
    "create table control(cust int);\n"
    ".import --csv touches.csv touches\n"
    ".import --csv txns.csv txns\n"
    ".import --csv control.csv control\n"
    "create table msgs(msg int); insert into msgs values (3), (7), (20);\n"
    "create table ft as select cust, msg, occ, ch, st, min(t) t from touches where msg in (select msg from msgs)\n"
    "  group by cust, msg, occ, ch, st;\n"
    "create table q as select * from txns where %s;\n"
    "create table sent_at as select msg, occ, min(t) t from ft where st = 0 group by msg, occ;\n"
    "create table firstsent as select cust, min(t) t from ft where st = 0 group by cust;\n"
    "create table elig as select q.id, q.cust, q.t tx_t, q.amount, f.msg, f.occ, f.ch, f.t from q\n"
    "  join ft f on f.cust = q.cust and f.st = %d and f.t <= q.t and %s\n"
    "  where q.cust not in (select cust from control);\n"
    "create table ranked as select *, row_number() over w rn, count(*) over (partition by id) k,\n"
    "  sum(power(2.0, -(tx_t - t) / (7.0 * 86400000))) over (partition by id) wsum from elig\n"
    "  window w as (partition by id order by t, msg, occ, ch);\n"
    "create table shares as select id, cust, msg, ch, amount * (case %d\n"
    "  when 0 then (rn = k) * 1.0 when 1 then (rn = 1) * 1.0 when 2 then 1.0 / k\n"
    "  when 3 then power(2.0, -(tx_t - t) / (7.0 * 86400000)) / wsum\n"
    "  else case when k = 1 then 1.0 when k = 2 then 0.5 when rn = 1 or rn = k then 0.4 else 0.2 / (k - 2) end end) share\n"
    "  from ranked;\n"
    "select 'contacted', count(distinct cust) from ft where st = 0;\n"
    "select 'count' || st, count(*) from ft group by st;\n"
    "select 'credits', sum(case ch when 0 then 17 when 1 then 3 when 2 then 1 when 3 then 86 else 5 end) from ft where st = 0;\n"
    "select 'responders', count(distinct cust) from elig;\n"
    "select 'sales', coalesce(sum(amount), 0) from q where id in (select id from elig);\n"
    "select 'msg_resp' || msg, count(distinct cust) from shares where share > 0 group by msg;\n"
    "select 'msg_sales' || msg, printf('%%.6f', sum(share)) from shares group by msg;\n"
    "select 'ch_resp' || ch, count(distinct cust) from shares where share > 0 group by ch;\n"
    "select 'ch_sales' || ch, printf('%%.6f', sum(share)) from shares group by ch;\n"
    "select 'control_n', count(distinct cust) from control;\n"
    "select 'control_resp', count(distinct q.cust) from q join sent_at s\n"
    "  on q.t >= s.t and q.t <= %s where q.cust in (select cust from control);\n";

typedef struct kvs {
    char key[64][32];
    long double val[64];
    int n;
} kvs;

static long double kv_get(const kvs *k, const char *key)
{
    for (int i = 0; i < k->n; i++)
        if (strcmp(k->key[i], key) == 0)
            return k->val[i];
    return 0; /* a group with no rows */
}

static void run_sql(const char *dir, const eng_measure_spec *s, kvs *out)
{
    char sql[8192], p[512], w[256], wc[96];
    const char *cond = s->has_goal ? "amount > 300000 and store in ('S1', 'S2', 'S3', 'S5')" : "1";
    if (s->has_goal) {
        snprintf(w, sizeof w, "q.t - f.t <= %lld", (long long)s->goal->window_days * ENG_DAY);
        snprintf(wc, sizeof wc, "s.t + %lld", (long long)s->goal->window_days * ENG_DAY);
    } else { /* first touch .. end, credited to the last send at or before it */
        snprintf(w, sizeof w,
                 "q.t <= %lld and f.t = (select max(t) from ft g where g.cust = q.cust and g.st = 0 and g.t <= q.t)",
                 (long long)s->end);
        snprintf(wc, sizeof wc, "%lld", (long long)s->end);
    }
    snprintf(sql, sizeof sql, sql_text, cond, s->has_goal ? s->goal->start_on : 0, w,
             s->has_goal ? s->goal->attribution : 0, wc);
    snprintf(p, sizeof p, "%s/attr.sql", dir);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(sql, f);
    fclose(f);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "cd '%s' && sqlite3 -csv :memory: < attr.sql > out.txt", dir);
    assert_int_equal(system(cmd), 0);
    snprintf(p, sizeof p, "%s/out.txt", dir);
    f = fopen(p, "r");
    assert_non_null(f);
    char line[256];
    out->n = 0;
    while (fgets(line, sizeof line, f) && out->n < 64) {
        char *comma = strchr(line, ',');
        assert_non_null(comma);
        *comma = 0;
        assert_true(strlen(line) < sizeof out->key[0]);
        memcpy(out->key[out->n], line, strlen(line) + 1);
        char *v = comma + 1;
        if (*v == '"')
            v++;
        out->val[out->n++] = strtold(v, NULL);
    }
    fclose(f);
}

/* ------------------------------------------------------------------ comparison */

static int64_t cents(long double v)
{
    return (int64_t)nearbyintl(v); /* half-even */
}

/* An approximate reference @p v (long double, or SQL's doubles) decides the cents unless it
 * is within @p tol of half a cent: there, where its own rounding error could tip it, either
 * neighbour of @p v is accepted. Exact figures are compared with xcents(), not this. */
static int money_near(int64_t have, long double v, long double tol)
{
    long double frac = v - floorl(v);
    if (fabsl(frac - 0.5L) > tol)
        return have == cents(v);
    return fabsl((long double)have - v) <= 0.5L + tol;
}

static void check_sales(int64_t have, const bf *b, __int128 x, long double v)
{
    if (b->exact)
        assert_int_equal(have, xcents(x));
    else
        assert_true(money_near(have, v, 1e-6L));
}

static void check(const mx *m, eng_report *r, const eng_measure_spec *s, const char *dir)
{
    bf b;
    brute(m, s, &b);
    eng_report_figures f = ENG_REPORT_FIGURES_INIT;
    assert_int_equal(eng_report_total(r, &f), ENG_OK);
    /* brute force */
    assert_int_equal(f.contacted, b.contacted);
    assert_int_equal(f.sent, b.count[0]);
    assert_int_equal(f.delivered, b.count[1]);
    assert_int_equal(f.opened, b.count[2]);
    assert_int_equal(f.clicked, b.count[3]);
    assert_int_equal(f.not_delivered, b.count[4]);
    assert_int_equal(f.unsubscribed, b.count[5]);
    assert_int_equal(f.credits_spent, b.credits);
    assert_int_equal(f.responders, b.responders);
    assert_true(f.hit_rate == 100.0 * (double)b.responders / (double)b.contacted);
    assert_int_equal(f.responder_sales, b.sales);
    assert_int_equal(f.spend_per_responder, cents((long double)b.sales / b.responders));
    assert_int_equal(f.control_contacted, NCUST - NTEST);
    assert_int_equal(f.control_responders, b.control_resp);
    long double thr = 100.0L * b.responders / b.contacted, chr = 100.0L * b.control_resp / (NCUST - NTEST);
    long double inc = (thr - chr) / 100 * b.contacted * ((long double)b.sales / b.responders);
    assert_int_equal(f.incremental_sales, cents(inc));
    assert_true(fabs(f.lift - (double)(thr - chr)) < 1e-9);
    /* the 95 % interval (normal, unpooled variance) and the two-sided p-value of the pooled
     * two-proportion z-test, from the brute-force counts */
    long double nt = b.contacted, nc = NCUST - NTEST, pt = b.responders / nt, pc = b.control_resp / nc;
    long double se = sqrtl(pt * (1 - pt) / nt + pc * (1 - pc) / nc), z975 = 1.959963984540054L;
    assert_true(f.lift_known);
    assert_true(fabsl(f.lift_ci_low - 100 * (pt - pc - z975 * se)) < 1e-9L);
    assert_true(fabsl(f.lift_ci_high - 100 * (pt - pc + z975 * se)) < 1e-9L);
    long double pool = (b.responders + b.control_resp) / (nt + nc);
    long double zs = fabsl(pt - pc) / sqrtl(pool * (1 - pool) * (1 / nt + 1 / nc));
    assert_true(fabsl(f.p_value - erfcl(zs / sqrtl(2))) < 1e-9L);
    for (int k = 0; k < NMSG; k++) {
        eng_report_figures g = ENG_REPORT_FIGURES_INIT;
        assert_int_equal(eng_report_message(r, (size_t)k, NULL, &g), ENG_OK);
        assert_int_equal(g.contacted, b.msg_contacted[k]);
        assert_int_equal(g.responders, b.msg_resp[k]);
        check_sales(g.responder_sales, &b, b.msg_x[k], b.msg_sales[k]);
    }
    for (int ch = 0; ch < ENG_MAX_CHANNELS; ch++) {
        eng_report_figures g = ENG_REPORT_FIGURES_INIT;
        assert_int_equal(eng_report_channel(r, ch, &g), ENG_OK);
        assert_int_equal(g.contacted, b.ch_contacted[ch]);
        assert_int_equal(g.responders, b.ch_resp[ch]);
        check_sales(g.responder_sales, &b, b.ch_x[ch], b.ch_sales[ch]);
    }
    if (!dir)
        return;
    /* sqlite3 */
    kvs q;
    char key[32];
    run_sql(dir, s, &q);
    assert_int_equal(f.contacted, (uint64_t)kv_get(&q, "contacted"));
    for (int st = 0; st <= ENG_TOUCH_UNSUBSCRIBED; st++) { /* the statuses the report counts */
        snprintf(key, sizeof key, "count%d", st);
        uint64_t want = (uint64_t)kv_get(&q, key);
        uint64_t have[] = {f.sent, f.delivered, f.opened, f.clicked, f.not_delivered, f.unsubscribed};
        assert_int_equal(have[st], want);
    }
    assert_int_equal(f.credits_spent, (int64_t)kv_get(&q, "credits"));
    assert_int_equal(f.responders, (uint64_t)kv_get(&q, "responders"));
    assert_int_equal(f.responder_sales, (int64_t)kv_get(&q, "sales"));
    assert_int_equal(f.control_contacted, (uint64_t)kv_get(&q, "control_n"));
    assert_int_equal(f.control_responders, (uint64_t)kv_get(&q, "control_resp"));
    for (int k = 0; k < NMSG; k++) {
        eng_report_figures g = ENG_REPORT_FIGURES_INIT;
        assert_int_equal(eng_report_message(r, (size_t)k, NULL, &g), ENG_OK);
        snprintf(key, sizeof key, "msg_resp%u", msgs[k]);
        assert_int_equal(g.responders, (uint64_t)kv_get(&q, key));
        snprintf(key, sizeof key, "msg_sales%u", msgs[k]);
        assert_true(money_near(g.responder_sales, kv_get(&q, key), 1e-3L));
    }
    for (int ch = 0; ch < ENG_MAX_CHANNELS; ch++) {
        eng_report_figures g = ENG_REPORT_FIGURES_INIT;
        assert_int_equal(eng_report_channel(r, ch, &g), ENG_OK);
        snprintf(key, sizeof key, "ch_resp%d", ch);
        assert_int_equal(g.responders, (uint64_t)kv_get(&q, key));
        snprintf(key, sizeof key, "ch_sales%d", ch);
        assert_true(money_near(g.responder_sales, kv_get(&q, key), 1e-3L));
    }
}

/* The campaign's spec: the generated messages, control and costs, a goal over amount and
 * store with a 10-day window (model and starting status set by the caller). */
static void spec_of(eng_measure_spec *s, eng_goal_spec *goal)
{
    assert_int_equal(eng_measure_spec_init(s, ENG_MEASURE_SPEC_VERSION), ENG_OK);
    s->n_customers = NCUST;
    s->messages = msgs;
    s->n_messages = NMSG;
    s->start = T0;
    s->end = T0 + 20 * ENG_DAY;
    s->control = ctl;
    s->n_control = nctl;
    s->channel_cost = cost;
    s->has_goal = 1;
    goal->event = "transaction";
    goal->condition = "amount > 3000 and store in (\"S1\", \"S2\", \"S3\", \"S5\")";
    goal->window_days = 10;
    s->goal = goal;
}

/* The data generated into @p m, and the directory of its CSV for SQL (NULL: no sqlite3). */
static char *data_of(mx *m, int weekly)
{
    generate(m, weekly);
    mx_columns(m);
    if (!have_sqlite3()) {
        fprintf(stderr, "sqlite3 not found: the SQL reference is skipped\n");
        return NULL;
    }
    char *dir = test_tmpdir();
    write_csv(m, dir);
    return dir;
}

static void test_models_against_references(void **state)
{
    eng_goal_spec s_goal = ENG_GOAL_SPEC_INIT;
    (void)state;
    eng_engine *e = mx_engine();
    mx *m = mx_new();
    char *dir = data_of(m, 0);
    eng_measure_spec s;
    spec_of(&s, &s_goal);
    int starts[] = {ENG_GOAL_ON_SENT, ENG_GOAL_ON_DELIVERED, ENG_GOAL_ON_OPENED};
    for (int a = ENG_ATTR_LAST_TOUCH; a <= ENG_ATTR_POSITION; a++)
        for (int si = 0; si < 3; si++) {
            s_goal.attribution = a;
            s_goal.start_on = starts[si];
            s.goal = &s_goal;
            eng_report *r = NULL;
            assert_int_equal(eng_measure_campaign(e, &m->tc, &m->xc, &s, &r), ENG_OK);
            check(m, r, &s, dir);
            eng_report_free(r);
        }
    /* The touch pass with buckets of 12 keys (of 32 and of 64 bits) over narrow customer
     * ranges (at L it buffers 2^22 keys in buckets of 2^18 customers), and the kept touches
     * in 4 buckets of many customers each, sorted within a bucket (at L 2^11 buckets of
     * 2^13): the same answers. */
    eng__attr_part_rows = 777;
    eng__attr_part_min_shift = 2;
    eng__kept_digit_max = 2;
    for (int a = ENG_ATTR_LAST_TOUCH; a <= 2 * ENG_ATTR_POSITION + 1; a++) {
        eng__attr_keys_32 = a > ENG_ATTR_POSITION;
        s_goal.attribution = a > ENG_ATTR_POSITION ? a - ENG_ATTR_POSITION - 1 : a;
        s_goal.start_on = ENG_GOAL_ON_DELIVERED;
        s.goal = &s_goal;
        eng_report *r = NULL;
        assert_int_equal(eng_measure_campaign(e, &m->tc, &m->xc, &s, &r), ENG_OK);
        check(m, r, &s, dir);
        eng_report_free(r);
    }
    s.has_goal = 0; /* the seed's hit rate */
    for (int round = 0; round < 2; round++) {
        eng_report *r = NULL;
        assert_int_equal(eng_measure_campaign(e, &m->tc, &m->xc, &s, &r), ENG_OK);
        check(m, r, &s, dir);
        eng_report_free(r);
        eng__attr_part_rows = (size_t)1 << 22;
        eng__attr_part_min_shift = 17;
        eng__kept_digit_max = 11;
    }
    if (dir) {
        test_rmtree(dir);
        free(dir);
    }
    free(m);
    assert_int_equal(eng_close(e), ENG_OK);
    test_alloc_assert_clean();
}

/* The internal run fed in chunks (as the events layer's segment scans feed
 * it) gives the same report as whole columns. */
static void test_chunked_feed(void **state)
{
    eng_goal_spec s_goal = ENG_GOAL_SPEC_INIT;
    (void)state;
    eng_engine *e = mx_engine();
    mx *m = mx_new();
    generate(m, 0);
    mx_columns(m);
    eng_measure_spec s;
    assert_int_equal(eng_measure_spec_init(&s, ENG_MEASURE_SPEC_VERSION), ENG_OK);
    s.n_customers = NCUST;
    s.messages = msgs;
    s.n_messages = NMSG;
    s.end = T0 + 20 * ENG_DAY;
    s.control = ctl;
    s.n_control = nctl;
    s.channel_cost = cost;
    s.has_goal = 1;
    s_goal = (eng_goal_spec){ENG_GOAL_SPEC_VERSION, "transaction",
            "amount > 3000 and store in (\"S1\", \"S2\", \"S3\", \"S5\")", 10, ENG_GOAL_ON_DELIVERED, ENG_ATTR_POSITION};
    s.goal = &s_goal;
    eng_report *whole = NULL, *parts = NULL;
    assert_int_equal(eng_measure_campaign(e, &m->tc, &m->xc, &s, &whole), ENG_OK);
    /* the goal condition over the whole batch, handed over in 64-row aligned slices */
    eng_rule_options o = ENG_RULE_OPTIONS_INIT;
    o.fields = m->fields;
    o.nfields = 3;
    eng_rule *rule = NULL;
    assert_int_equal(eng_rule_compile(e, s.goal->condition, &o, &rule), ENG_OK);
    uint64_t *sel = calloc((m->nx + 63) / 64, 8);
    eng_rule_batch b = {ENG_RULE_BATCH_VERSION, m->nx, m->cols, 3, NULL};
    assert_int_equal(eng_rule_eval_batch(rule, &b, NULL, sel, NULL), ENG_OK);
    eng_rule_free(rule);
    uint16_t map[21] = {0};
    map[3] = 1;
    map[7] = 2;
    map[20] = 3;
    eng__attr *a = NULL;
    assert_int_equal(eng__attr_begin(e, &s, 2, &a), ENG_OK);
    assert_int_equal(eng__attr_map(a, map, 21), ENG_OK);
    for (size_t i = 0; i < m->nx; i += 640) {
        size_t n = m->nx - i < 640 ? m->nx - i : 640;
        assert_int_equal(eng__attr_txns(a, n, m->xcust + i, m->xt + i, m->xamt + i, sel + i / 64), ENG_OK);
    }
    for (size_t i = 0; i < m->nt; i += 999) {
        size_t n = m->nt - i < 999 ? m->nt - i : 999;
        assert_int_equal(eng__attr_touches(a, n, m->tcust + i, m->tmsg + i, m->tch + i, m->tst + i, m->tt + i), ENG_OK);
    }
    assert_int_equal(eng__attr_txns(a, 0, NULL, NULL, NULL, NULL), ENG_EMISUSE); /* transactions come first */
    assert_int_equal(eng__attr_finish(a, &parts), ENG_OK);
    free(sel);
    char *x = NULL, *y = NULL;
    assert_int_equal(eng_report_export(whole, ENG_REPORT_JSON, &x, NULL), ENG_OK);
    assert_int_equal(eng_report_export(parts, ENG_REPORT_JSON, &y, NULL), ENG_OK);
    assert_string_equal(x, y);
    eng_free(e, x);
    eng_free(e, y);
    eng_report_free(whole);
    eng_report_free(parts);
    free(m);
    assert_int_equal(eng_close(e), ENG_OK);
    test_alloc_assert_clean();
}

/* The path of eng_campaign_report over rows the events layer flags (each the only
 * one of its customer, message, channel and status: eng__measure_columns with
 * every message trusted): on the generated log without its duplicate rows, the
 * same report as the exact path and the brute force's figures, for every model,
 * with the touch pass's usual buckets and tiny ones. */
static void test_trusted_rows(void **state)
{
    eng_goal_spec s_goal = ENG_GOAL_SPEC_INIT;
    (void)state;
    eng_engine *e = mx_engine();
    mx *m = mx_new();
    generate(m, 0);
    /* keep the first row of each (customer, message, channel, status) */
    uint8_t *seen = calloc((size_t)NCUST * 4 * ENG_MAX_CHANNELS * ENG_TOUCH_STATUS_COUNT, 1);
    size_t j = 0, dropped = 0;
    for (size_t i = 0; i < m->nt; i++) {
        size_t mi = m->tmsg[i] == 3 ? 0 : m->tmsg[i] == 7 ? 1 : m->tmsg[i] == 20 ? 2 : 3;
        size_t k = (((size_t)m->tcust[i] * 4 + mi) * ENG_MAX_CHANNELS + m->tch[i]) * ENG_TOUCH_STATUS_COUNT + m->tst[i];
        if (seen[k]++) {
            dropped++;
            continue;
        }
        m->tcust[j] = m->tcust[i], m->tmsg[j] = m->tmsg[i], m->tch[j] = m->tch[i], m->tst[j] = m->tst[i];
        m->tt[j++] = m->tt[i];
    }
    free(seen);
    assert_true(dropped > 0);
    m->nt = j;
    mx_columns(m);
    eng_measure_spec s;
    spec_of(&s, &s_goal);
    static const uint8_t trust[NMSG] = {1, 1, 1};
    for (int tiny = 0; tiny < 2; tiny++) {
        eng__attr_part_rows = tiny ? 777 : (size_t)1 << 22;
        eng__attr_part_min_shift = tiny ? 2 : 17;
        eng__kept_digit_max = tiny ? 2 : 11;
        for (int a = ENG_ATTR_LAST_TOUCH; a <= ENG_ATTR_POSITION; a++)
            for (int st = ENG_GOAL_ON_SENT; st <= ENG_GOAL_ON_OPENED; st++) {
                s_goal.attribution = a;
                s_goal.start_on = st;
                eng_report *exact = NULL, *flagged = NULL;
                assert_int_equal(eng_measure_campaign(e, &m->tc, &m->xc, &s, &exact), ENG_OK);
                assert_int_equal(eng__measure_columns(e, &m->tc, NULL, &m->xc, &s, 0, 0, 1, trust, 0, &flagged), ENG_OK);
                check(m, flagged, &s, NULL);
                char *x = NULL, *y = NULL;
                assert_int_equal(eng_report_export(exact, ENG_REPORT_JSON, &x, NULL), ENG_OK);
                assert_int_equal(eng_report_export(flagged, ENG_REPORT_JSON, &y, NULL), ENG_OK);
                assert_string_equal(x, y);
                eng_free(e, x);
                eng_free(e, y);
                eng_report_free(exact);
                eng_report_free(flagged);
            }
    }
    eng__attr_part_rows = (size_t)1 << 22;
    eng__attr_part_min_shift = 17;
    eng__kept_digit_max = 11;
    free(m);
    assert_int_equal(eng_close(e), ENG_OK);
    test_alloc_assert_clean();
}

/* Message 20 weekly (occurrences 0..2 in the touch rows): every occurrence's touches count
 * (sent, delivered, credits), contacted stays customers, a goal's window opens at each
 * occurrence's touch and the models pick among them; against the brute force and SQL, whole
 * columns on one thread and in parts on two, with the usual buckets and tiny ones. */
static void test_weekly_against_references(void **state)
{
    eng_goal_spec s_goal = ENG_GOAL_SPEC_INIT;
    (void)state;
    eng_engine *e = mx_engine();
    mx *m = mx_new();
    char *dir = data_of(m, 1);
    /* the old rule (a (customer, message, channel) once) would count fewer sends */
    uint64_t sends = 0, once = 0;
    static uint8_t seen[NCUST][NMSG][ENG_MAX_CHANNELS];
    memset(seen, 0, sizeof seen);
    for (size_t i = 0; i < m->nt; i++)
        for (int k = 0; k < NMSG; k++)
            if (m->tst[i] == ENG_TOUCH_SENT && m->tmsg[i] == msgs[k]) {
                sends++;
                once += !seen[m->tcust[i]][k][m->tch[i]]++;
            }
    assert_true(sends > once + NTEST);
    eng_measure_spec s;
    spec_of(&s, &s_goal);
    const size_t min_rows = eng__attr_split_min_rows;
    const uint64_t parts = eng__attr_split_runs[0];
    for (int a = ENG_ATTR_LAST_TOUCH; a <= ENG_ATTR_POSITION; a++)
        for (int st = ENG_GOAL_ON_SENT; st <= ENG_GOAL_ON_OPENED + 1; st++) {
            s_goal.attribution = a;
            s_goal.start_on = st <= ENG_GOAL_ON_OPENED ? st : ENG_GOAL_ON_DELIVERED;
            const int tiny = st > ENG_GOAL_ON_OPENED, threads = a & 1;
            eng__attr_part_rows = tiny ? 777 : (size_t)1 << 22;
            eng__attr_part_min_shift = tiny ? 2 : 17;
            eng__kept_digit_max = tiny ? 2 : 11;
            eng__attr_split_min_rows = threads ? 1000 : min_rows;
            eng_report *r = NULL;
            assert_int_equal(eng__measure_columns(e, &m->tc, m->tocc, &m->xc, &s, 0, 0, 1, NULL, (unsigned)threads, &r),
                             ENG_OK);
            check(m, r, &s, dir);
            eng_report_figures f = ENG_REPORT_FIGURES_INIT;
            assert_int_equal(eng_report_total(r, &f), ENG_OK);
            assert_int_equal(f.sent, sends);
            eng_report_free(r);
        }
    eng__attr_part_rows = (size_t)1 << 22;
    eng__attr_part_min_shift = 17;
    eng__kept_digit_max = 11;
    eng__attr_split_min_rows = min_rows;
    assert_true(eng__attr_split_runs[0] > parts); /* the touch pass in parts ran */
    s.has_goal = 0; /* the seed's hit rate: credit to the last sending before */
    eng_report *r = NULL;
    assert_int_equal(eng__measure_columns(e, &m->tc, m->tocc, &m->xc, &s, 0, 0, 1, NULL, 0, &r), ENG_OK);
    check(m, r, &s, dir);
    /* The public call: the occurrence column of a version 2 struct is this one; a version 1 caller's
     * struct ends before it (every row occurrence 0, as the internal call without one). */
    eng_report *pub = NULL, *v1 = NULL, *none = NULL;
    eng_touch_columns tc2 = m->tc, tc1;
    tc2.occurrence = m->tocc;
    memset(&tc1, 0xa5, sizeof tc1); /* past a version 1 struct: not read */
    memcpy(&tc1, &m->tc, offsetof(eng_touch_columns, occurrence));
    tc1.version = 1;
    assert_int_equal(eng_measure_campaign(e, &tc2, &m->xc, &s, &pub), ENG_OK);
    assert_int_equal(eng_measure_campaign(e, &tc1, &m->xc, &s, &v1), ENG_OK);
    assert_int_equal(eng__measure_columns(e, &m->tc, NULL, &m->xc, &s, 0, 0, 1, NULL, 0, &none), ENG_OK);
    char *x = NULL, *y = NULL, *z = NULL, *w = NULL;
    assert_int_equal(eng_report_export(r, ENG_REPORT_JSON, &x, NULL), ENG_OK);
    assert_int_equal(eng_report_export(pub, ENG_REPORT_JSON, &y, NULL), ENG_OK);
    assert_int_equal(eng_report_export(v1, ENG_REPORT_JSON, &z, NULL), ENG_OK);
    assert_int_equal(eng_report_export(none, ENG_REPORT_JSON, &w, NULL), ENG_OK);
    assert_string_equal(x, y);
    assert_string_equal(z, w);
    assert_string_not_equal(x, z);
    eng_free(e, x), eng_free(e, y), eng_free(e, z), eng_free(e, w);
    eng_report_free(pub), eng_report_free(v1), eng_report_free(none);
    eng_report_free(r);
    if (dir) {
        test_rmtree(dir);
        free(dir);
    }
    free(m);
    assert_int_equal(eng_close(e), ENG_OK);
    test_alloc_assert_clean();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_models_against_references),
        cmocka_unit_test(test_weekly_against_references),
        cmocka_unit_test(test_chunked_feed),
        cmocka_unit_test(test_trusted_rows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
