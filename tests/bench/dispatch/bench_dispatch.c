/* W5: execute one message to N customers through the whole dispatch path —
 * strategy, reachability re-check, template rendering (an attribute with a
 * default and the opt-out tag), the send ledger (intent and outcome records,
 * counters, credits) — to a no-op transport that accepts every batch.
 * Prints messages/s and ledger bytes per send (keys + values under d/ after
 * the run) for the memory store and the file store (no fsync; the figure with
 * fsync at every commit is printed at S only).
 * Sizes (ENG_BENCH_SIZE): S = 10^4, M = 10^5 (default), L = 10^6 messages. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engage.h"
#include "bench_org.h"
#include "core/engine_impl.h"
#include "bench_util.h"


static void check(const char *what, int rc) { bench_check("bench_dispatch", what, rc); }

static eng_time fixed_clock(void *u)
{
    (void)u;
    return 1767225600000;
}

static int noop_batch(const eng_envelope *env, size_t n, int *status, void *user)
{
    size_t *bytes = user;
    for (size_t i = 0; i < n; i++) {
        *bytes += env[i].body_len;
        status[i] = ENG_SEND_ACCEPTED;
    }
    return ENG_OK;
}

static int noop_send(const eng_envelope *env, int *status, void *user)
{
    return noop_batch(env, 1, status, user);
}

static int sum_cb(const void *k, size_t kl, const void *v, size_t vl, void *u)
{
    (void)k;
    (void)v;
    *(size_t *)u += kl + vl;
    return 0;
}

static void run(const char *store_kind, eng_store *store, unsigned long n, const char *label)
{
    eng_schedule sched = ENG_SCHEDULE_INIT;
    size_t body_bytes = 0;
    eng_transport_methods tm = {ENG_TRANSPORT_METHODS_VERSION, noop_send, NULL, noop_batch, 1, 4096};
    eng_config cfg;
    eng_config_init(&cfg, ENG_CONFIG_VERSION);
    cfg.clock_fn = fixed_clock;
    cfg.store = store;
    cfg.transport = &tm;
    cfg.transport_user = &body_bytes;
    eng_engine *e;
    check("open", eng_open(&cfg, &e));
    bench_org_with_actors(e, "bench_dispatch");
    check("credits", eng_credits_adjust(e, "root", ENG_CREDITS_CAMPAIGN, 1000000000));
    check("column", eng_customers_add_column(e, "root", "first_name", ENG_COL_STRING));
    char *csv = malloc(n * 64 + 64), *p = csv;
    if (!csv)
        exit(1);
    p += sprintf(p, "id,first_name,contact.sms,consent.sms\n");
    for (unsigned long i = 0; i < n; i++)
        p += sprintf(p, "c%lu,%s,+1555%07lu,yes\n", i, i % 10 ? "Asha" : "", i);
    check("import", eng_customers_import_csv_buffer(e, "root", csv, (size_t)(p - csv), NULL, NULL));
    free(csv);
    uint32_t g;
    check("group", eng_group_create_filter(e, "root", "all", "true", &g));
    eng_campaign_spec c;
    eng_campaign_spec_init(&c, ENG_CAMPAIGN_SPEC_VERSION);
    c.name = "W5";
    c.start = fixed_clock(NULL) + ENG_DAY;
    c.end = fixed_clock(NULL) + 30 * ENG_DAY;
    c.control_percent = 0;
    uint64_t cid, mid;
    check("campaign", eng_campaign_create(e, "ann", &c, &cid, NULL));
    static const char *const groups[] = {"all"};
    static const eng_creative cr[] = {{ENG_CH_SMS, NULL, "Hi {{first_name | \"there\"}}, 20% off today. {{optout}}"}};
    eng_message_spec m;
    eng_message_spec_init(&m, ENG_MESSAGE_SPEC_VERSION);
    m.title = "W5";
    m.include = groups;
    m.n_include = 1;
    m.creatives = cr;
    m.n_creatives = 1;
    sched.kind = ENG_SCHEDULE_ONCE;
    sched.at = fixed_clock(NULL) + 2 * ENG_DAY;
    m.schedule = &sched;
    check("message", eng_message_create(e, "ann", cid, &m, &mid, NULL));
    check("submit", eng_message_submit(e, "ann", mid, NULL));
    check("approve", eng_message_approve(e, "bob", mid, NULL, "ok"));
    eng_run_report rep = ENG_RUN_REPORT_INIT;
    double t = bench_wall_s(), c0 = bench_cpu_s();
    check("run", eng_run_due(e, "root", m.schedule->at, NULL, &rep));
    double dt = bench_wall_s() - t, dc = bench_cpu_s() - c0;
    if (rep.accepted != n || rep.finished != 1) {
        fprintf(stderr, "bench_dispatch: %llu accepted of %lu\n", (unsigned long long)rep.accepted, n);
        exit(1);
    }
    size_t ledger = 0;
    check("scan", eng__kv_scan(e->store, "d/", 2, sum_cb, &ledger));
    /* CPU time is the figure on a shared machine; wall time is printed beside it. */
    printf("W5 %s %s: %lu messages, cpu %.3f s = %.2f M messages/s (wall %.3f s = %.2f M/s); ledger %.1f "
           "bytes/send (keys+values under d/); %zu batches\n",
           label, store_kind, n, dc, (double)n / dc / 1e6, dt, (double)n / dt / 1e6, (double)ledger / (double)n,
           (size_t)rep.batches);
    eng_close(e);
}

int main(void)
{
    const char *size = getenv("ENG_BENCH_SIZE");
    unsigned long n = 100000;
    const char *label = "M";
    if (size && strcmp(size, "S") == 0)
        n = 10000, label = "S";
    else if (size && strcmp(size, "L") == 0)
        n = 1000000, label = "L";
    run("memory store", NULL, n, label);
    char path[] = "/tmp/eng-w5-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return 1;
    close(fd);
    unlink(path);
    eng_store *fs;
    check("file store", eng_store_file_open(path, ENG_STORE_CREATE | ENG_STORE_NOSYNC, NULL, &fs));
    run("file store (no fsync)", fs, n, label);
    unlink(path);
    if (n <= 10000) {
        check("file store", eng_store_file_open(path, ENG_STORE_CREATE, NULL, &fs));
        run("file store (fsync per commit)", fs, n, label);
        unlink(path);
    }
    return 0;
}
