/* Model layer: campaigns created, messages created + sent for approval (every
 * validator) + approved, per second on the memory store; then the time to
 * iterate and verify the whole audit chain.
 * Sizes (ENG_BENCH_SIZE): S = 10^3, M = 10^4 (default), L = 10^5 campaigns. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engage.h"
#include "bench_org.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void check(const char *what, int rc) { bench_check("bench_model", what, rc); }

static eng_time fixed_clock(void *u)
{
    (void)u;
    return 1767225600000;
}

int main(void)
{
    eng_schedule sched = ENG_SCHEDULE_INIT;
    const char *size = getenv("ENG_BENCH_SIZE");
    unsigned long n = 10000;
    const char *label = "M";
    if (size && strcmp(size, "S") == 0)
        n = 1000, label = "S";
    else if (size && strcmp(size, "L") == 0)
        n = 100000, label = "L";
    eng_config cfg;
    eng_config_init(&cfg, ENG_CONFIG_VERSION);
    cfg.clock_fn = fixed_clock;
    eng_engine *e;
    check("open", eng_open(&cfg, &e));
    bench_org_with_actors(e, "bench_model");
    static const char *const groups[] = {"all"};
    static const eng_creative cr[] = {{ENG_CH_SMS, NULL, "Hi {{first_name}} {{optout}}"},
                                      {ENG_CH_EMAIL, "Sale", "<p>{{first_name}}</p>{{unsubscribe}}"}};
    eng_time t0 = fixed_clock(NULL);
    uint64_t *mids = malloc(n * sizeof(*mids));
    double s0 = now();
    for (unsigned long i = 0; i < n; i++) {
        eng_campaign_spec c;
        eng_campaign_spec_init(&c, ENG_CAMPAIGN_SPEC_VERSION);
        char name[32];
        snprintf(name, sizeof name, "campaign %lu", i);
        c.name = name;
        c.start = t0 + ENG_DAY;
        c.end = t0 + 30 * ENG_DAY;
        uint64_t cid;
        check("campaign", eng_campaign_create(e, "ann", &c, &cid, NULL));
        eng_message_spec m;
        eng_message_spec_init(&m, ENG_MESSAGE_SPEC_VERSION);
        m.title = "blast";
        m.include = groups;
        m.n_include = 1;
        m.creatives = cr;
        m.n_creatives = 2;
        sched.kind = ENG_SCHEDULE_ONCE;
        sched.at = t0 + 2 * ENG_DAY;
        m.schedule = &sched;
        check("message", eng_message_create(e, "ann", cid, &m, &mids[i], NULL));
    }
    double s1 = now();
    for (unsigned long i = 0; i < n; i++)
        check("submit", eng_message_submit(e, "ann", mids[i], NULL));
    double s2 = now();
    for (unsigned long i = 0; i < n; i++)
        check("approve", eng_message_approve(e, "bob", mids[i], NULL, "ok"));
    double s3 = now();
    eng_audit_iter *it;
    check("audit open", eng_audit_open(e, "root", &it));
    eng_audit_entry x = ENG_AUDIT_ENTRY_INIT;
    unsigned long entries = 0;
    while (eng_audit_next(it, &x) == ENG_OK)
        entries++;
    eng_audit_free(it);
    double s4 = now();
    uint64_t bad;
    check("verify", eng_audit_verify(e, "root", &bad));
    double s5 = now();
    printf("model create campaign+message [%s n=%lu]: %.0f pairs/s\n", label, n, n / (s1 - s0));
    printf("model submit (all validators) [%s n=%lu]: %.0f msgs/s\n", label, n, n / (s2 - s1));
    printf("model approve [%s n=%lu]: %.0f msgs/s\n", label, n, n / (s3 - s2));
    printf("model audit iterate [%s entries=%lu]: %.3f s\n", label, entries, s4 - s3);
    printf("model audit verify [%s entries=%lu]: %.3f s\n", label, entries, s5 - s4);
    free(mids);
    check("close", eng_close(e));
    return 0;
}
