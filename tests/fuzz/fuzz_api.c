/* Fuzz target over SEQUENCES of public API calls. The input is a small program:
 * byte 0 configures the engine (transport batch size, threads), then each op is
 * one byte (which call) followed by the bytes its arguments are drawn from --
 * valid values from the world built so far, boundaries, NULL, "", over-long
 * and raw strings, unknown actors and ids. The world starts as an org with an
 * author, an approver, a viewer, a unit author, an admin of a second org, some
 * customers, groups and a draft message on a host store (so it can reopen).
 * After every call, whatever the input:
 *  - a failing call returns a code that eng_error_last() repeats, with a message;
 *  - a failing call leaves the store byte for byte as it was (its digest);
 *  - the transport never sees again a key whose outcome it gave as final
 *    (accepted or rejected), even across reopens (test sends included: their
 *    keys are unique per call);
 *  - counts read back agree: an audience's parts add up and the test count
 *    equals eng_audience_test_count(), a run report counts what the transport
 *    saw and the credits it charged, receipts are all accounted for, and every
 *    accepted send of a campaign (and every one expired in doubt whose receipt
 *    came) has one furthest status in its touch counts.
 * Storage faults (byte 0 & 0x44 == 0x40): a byte before each op may arm a
 * failing write or commit for it (arm_fault); a call that meets it fails named
 * and changed nothing (but a commit that applied, or a run's batches before
 * it), one that succeeds met none, and a reopen after it restores the store. */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "test_store.h"
#include "test_util.h"
#include "../unit/model/store_digest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define T0 1767225600000 /* 2026-01-01T00:00:00Z */
#define NCUST 16
#define MAXC 8  /* campaigns, messages, groups kept */
#define MAXKEYS 4096

typedef struct prog {
    const uint8_t *p;
    size_t n, i;
} prog;

static uint8_t u8(prog *g) { return g->i < g->n ? g->p[g->i++] : 0; }
static uint16_t u16(prog *g) { return (uint16_t)(u8(g) << 8 | u8(g)); }

/* A sent key the transport saw: its send (campaign, message, occurrence, customer,
 * channel), whether its outcome was final (accepted or rejected) or accepted, and whether
 * a receipt of it was appended (a send expired in doubt is then touched). */
typedef struct sent {
    char *key;
    uint64_t campaign, message;
    uint32_t occurrence, customer;
    int channel, final, accepted, receipted;
    unsigned call; /* the run that last handed it over (W.call) */
} sent;

static struct world {
    test_store *ts;
    eng_engine *e;
    eng_time now;
    uint64_t rng;
    uint64_t camp[MAXC], msg[MAXC];
    size_t ncamp, nmsg;
    uint32_t grp[MAXC];
    size_t ngrp;
    sent keys[MAXKEYS];
    size_t nkeys;
    /* what the transport saw during the current call */
    uint64_t seen, seen_accepted, seen_rejected;
    int64_t seen_cost;
    int64_t cost[ENG_CH_COUNT];
    int in_call;    /* transport calls are expected only inside these calls */
    int reenter;    /* the callbacks may call back into the engine (chosen by the input's first byte) */
    int reentered;  /* they did during the current call */
    /* storage faults (byte 0 & 0x44 == 0x40): a failing write or commit armed before an op */
    int faults, fmode;  /* on; the armed failure's test_fail_mode */
    int reads;          /* the sweep's failure is a read's (a read may be retried: the call may succeed) */
    uint64_t failures;  /* test_store_failures() when the current call started */
    int faulted;        /* an injected failure fired during the current call */
    unsigned call;      /* the current run's number */
    unsigned ready;     /* op_ready's campaigns so far (their names: a run's own, as the sweep's runs compare) */
} W;

/* ------------------------------------------------------------ argument values */

static char huge[70000];
static char ring[64][400]; /* more than one call's strings */
static unsigned ringi;

static const char *str_of(prog *g, const char *const *pool, size_t n)
{
    uint8_t s = u8(g);
    if (s < 0xc0)
        return pool[s % n];
    if (s < 0xcc)
        return NULL;
    if (s < 0xd8)
        return "";
    if (s < 0xdc)
        return huge;
    char *b = ring[ringi++ % 64];
    if (s < 0xe4) { /* just over the usual limits (64, 128, 255, 256 bytes) */
        size_t l = (size_t)(s - 0xdc) * 40 + 60;
        memset(b, 'x', l);
        b[l] = 0;
        return b;
    }
    size_t l = u8(g) % 48; /* raw bytes: control characters, invalid UTF-8 */
    for (size_t k = 0; k < l; k++)
        b[k] = (char)u8(g);
    b[l] = 0;
    return b;
}

static const char *const ACTORS[] = {"root", "ann", "bob", "vic", "sam", "nat", "rex", "zed", "ann", "root"};
static const char *actor_of(prog *g) { return str_of(g, ACTORS, sizeof ACTORS / sizeof *ACTORS); }

static uint64_t id_of(prog *g, const uint64_t *ids, size_t n)
{
    uint8_t s = u8(g);
    if (s < 0xe0 && n)
        return ids[s % n];
    switch (s & 3) {
    case 0: return 0;
    case 1: return UINT64_MAX;
    case 2: return n ? ids[n - 1] + 1 : 1;
    default: return (uint64_t)1 << 40;
    }
}

static eng_time time_of(prog *g)
{
    uint8_t s = u8(g);
    int8_t d = (int8_t)u8(g);
    switch (s % 12) {
    case 0: return 0;
    case 1: return -1;
    case 2: return INT64_MAX;
    case 3: return INT64_MIN;
    case 4: case 5: case 6: return W.now + d * ENG_HOUR;
    default: return W.now + d * ENG_DAY;
    }
}

static int enum_of(prog *g, int n)
{
    uint8_t s = u8(g);
    if (s < 0xf0)
        return s % n;
    return s & 1 ? -1 : (s & 2 ? n : 1 << 30);
}

/* ------------------------------------------------------------ invariants */

static int sent_find(const char *key)
{
    for (size_t i = 0; i < W.nkeys; i++)
        if (strcmp(W.keys[i].key, key) == 0)
            return (int)i;
    return -1;
}

static int trace = -1; /* FUZZ_API_TRACE=1: print each call and its outcome (to read what an input does) */

static uint64_t rnd(void) { return test_splitmix(&W.rng); }

/* Calls the transport may make back into the engine (engage/engine.h, "Callbacks"): a
 * provider's receipt arriving during the batch, the message edited or stopped, the
 * customer erased. Their effects are theirs: the store may change under a failing outer
 * call (reentered). */
static void reenter_from_transport(const eng_envelope *env)
{
    W.reentered = 1;
    W.reenter = 0; /* one level */
    const char *key = env->idempotency_key;
    int st = ENG_TOUCH_DELIVERED;
    eng_time t = W.now;
    eng_receipts r = ENG_RECEIPTS_INIT;
    r.count = 1, r.keys = &key, r.statuses = &st, r.times = &t;
    char ext[32];
    switch (rnd() % 4) {
    case 0:
        if (eng_touch_append(W.e, &r, NULL) == ENG_OK && sent_find(key) >= 0)
            W.keys[sent_find(key)].receipted = 1;
        break;
    case 1: eng_message_execute(W.e, "root", env->message, ENG_ACT_STOP); break;
    case 2: {
        eng_message_spec m;
        eng_message_spec_init(&m, ENG_MESSAGE_SPEC_VERSION);
        m.title = "Edited in flight";
        eng_message_update(W.e, "ann", env->message, &m, NULL);
        break;
    }
    default:
        if (env->customer != ENG_POC_CUSTOMER &&
            eng_customer_external_id(W.e, "root", env->customer, ext, sizeof ext) == ENG_OK)
            eng_customer_erase(W.e, "root", ext);
        break;
    }
    W.reenter = 1;
}

static int send_batch(const eng_envelope *env, size_t n, int *status, void *user)
{
    (void)user;
    CHECK(W.in_call); /* the transport is called only by run-due and test sends */
    uint64_t r = rnd();
    int broken = r % 23 == 0; /* the whole batch fails: every outcome unknown */
    for (size_t i = 0; i < n; i++) {
        CHECK(env[i].idempotency_key && strlen(env[i].idempotency_key) <= ENG_SEND_KEY_MAX);
        int k = sent_find(env[i].idempotency_key);
        if (k >= 0) /* never again after a final outcome */
            CHECK(!W.keys[k].final);
        if (k < 0 && W.nkeys < MAXKEYS) {
            k = (int)W.nkeys++;
            W.keys[k] = (sent){strdup(env[i].idempotency_key), env[i].campaign, env[i].message, env[i].occurrence,
                               env[i].customer, env[i].channel, 0, 0, 0, 0};
        }
        if (k >= 0)
            W.keys[k].call = W.call;
        W.seen++;
        uint64_t v = rnd() % 16;
        status[i] = v < 9 ? ENG_SEND_ACCEPTED : v < 11 ? ENG_SEND_REJECTED : v < 13 ? ENG_SEND_RETRY
                  : v < 15 ? ENG_SEND_UNKNOWN : -1;
        if (broken || k < 0)
            continue;
        if (status[i] == ENG_SEND_ACCEPTED || status[i] == ENG_SEND_REJECTED)
            W.keys[k].final = 1;
        /* test sends and POC copies are no customer's send: not in the report's counts */
        if (env[i].occurrence == UINT32_MAX || env[i].customer == ENG_POC_CUSTOMER)
            continue;
        if (status[i] == ENG_SEND_ACCEPTED) {
            W.keys[k].accepted = 1;
            W.seen_accepted++;
            W.seen_cost += W.cost[env[i].channel] * (int64_t)(env[i].segments ? env[i].segments : 1);
        } else if (status[i] == ENG_SEND_REJECTED) {
            W.seen_rejected++;
        }
    }
    if (trace > 0)
        fprintf(stderr, "  transport: %zu envelopes%s, first %s\n", n, broken ? " (broken)" : "",
                n ? env[0].idempotency_key : "");
    if (n && W.reenter && rnd() % 6 == 0)
        reenter_from_transport(&env[rnd() % n]);
    return broken ? ENG_ETRANSPORT : ENG_OK;
}

/* The store's committed data's digest (@p all: e/meta too), read beside the engine: its reads
 * may be set to fail. */
static void digest_of(uint8_t out[ENG__SHA256_LEN], int all)
{
    eng__sha256_ctx s;
    eng__sha256_init(&s);
    CHECK(test_store_scan_raw(W.ts, all ? digest_cb : digest_not_meta, &s) == ENG_OK);
    eng__sha256_final(&s, out);
}

static void digest(uint8_t out[ENG__SHA256_LEN]) { digest_of(out, 1); }

static uint8_t dg_before[ENG__SHA256_LEN];
static int dg_valid; /* dg_before is the store's digest now (kept across failed calls, which change nothing) */
static const char *call_name;

/* Calls made of several storage batches, each committed on its own (docs/dispatch.md: a run
 * stores each chunk's intent, then its outcome): one failing keeps the batches before it. */
static int multi_batch(const char *name)
{
    return strncmp(name, "eng_run_due(", 12) == 0;
}

/* An erasure that succeeded with its last write failed: the list of erased keys it had told
 * the backend (p/v) not removed, which the next erasure tells again (docs/privacy.md). */
static int erased_list_left(const char *name)
{
    uint8_t *v = NULL;
    size_t n;
    if (!strstr(name, "_erase") || test_store_raw_get(W.ts, "p/v", &v, &n) != ENG_OK)
        return 0;
    free(v);
    return 1;
}

/* The sweep's unfaulted run of an input keeps each call's code and the store's digest after it,
 * so that a call that met a failed read, read it again and did not fail with the read's error is
 * held to what it did without the failure (its code, and the store it leaves). */
#define MAXCALLS 4096
static struct base_call {
    int rc;
    uint8_t dg[ENG__SHA256_LEN];
} base_calls[MAXCALLS];
static size_t base_n, ncall;
static int recording;
static uint64_t read_again_held; /* calls so held */

static void as_unfaulted(int rc, int reentered)
{
    size_t i = ncall - 1;
    if (recording && i < MAXCALLS) {
        base_calls[i].rc = rc;
        digest(base_calls[i].dg);
        base_n = i + 1;
        return;
    }
    /* (failing with the read's ENG_ESTORAGE is always right: post() checks the store unchanged) */
    if (!W.reads || !W.faulted || reentered || rc == ENG_ESTORAGE || !test_store_read_again(W.ts) || i >= base_n)
        return;
    uint8_t now[ENG__SHA256_LEN];
    digest(now);
    read_again_held++;
    if (rc != base_calls[i].rc || memcmp(now, base_calls[i].dg, sizeof now) != 0) {
        fprintf(stderr, "%s: read again after a failed read, it returned %d and left the store %s; without the "
                "failure it returned %d\n", call_name, rc, memcmp(now, base_calls[i].dg, sizeof now) ? "otherwise"
                : "the same", base_calls[i].rc);
        abort();
    }
}

static void pre(const char *name)
{
    call_name = name;
    ncall++;
    if (!dg_valid)
        digest(dg_before);
    dg_valid = 1;
    W.failures = W.faults ? test_store_failures(W.ts) : 0;
    eng_error_clear();
}

/* A failing call names itself and changed nothing. */
static int post(int rc)
{
    if (trace < 0)
        trace = getenv("FUZZ_API_TRACE") != NULL;
    if (trace)
        fprintf(stderr, "%-60.60s -> %s %s\n", call_name, rc ? eng_errstr(rc) : "ok",
                rc ? eng_error_last()->detail : "");
    const eng_error *err = eng_error_last();
    int reentered = W.reentered;
    W.reentered = 0;
    W.faulted = W.faults && test_store_failures(W.ts) != W.failures;
    if (W.faulted && trace)
        fprintf(stderr, "  (an injected storage failure fired in this call)\n");
    as_unfaulted(rc, reentered);
    if (rc == ENG_OK || rc == ENG_ITEROVER) {
        /* engage/errors.h: after a call that succeeds the record is ENG_OK */
        if (rc == ENG_OK && err->code != ENG_OK) {
            fprintf(stderr, "%s: succeeded but the last error is %d \"%s\" (%s)%s\n", call_name, err->code,
                    err->message, err->detail, reentered ? ", after a callback called back" : "");
            abort();
        }
        /* a storage call that failed fails the call (a write's effect would be lost; a read's
         * answer is unknown), but one a callback's own call met, or a read the library made again */
        if (W.faulted && !reentered && !erased_list_left(call_name) && !(W.reads && test_store_read_again(W.ts))) {
            fprintf(stderr, "%s: succeeded though a storage %s failed in it\n", call_name, W.reads ? "read" : "write");
            abort();
        }
        dg_valid = 0;
        return rc;
    }
    if (err->code != rc || !err->message || !err->message[0]) {
        fprintf(stderr, "%s: returned %d (%s) but the last error is %d \"%s\"\n", call_name, rc, eng_errstr(rc),
                err->code, err->message ? err->message : "(null)");
        abort();
    }
    /* a read that failed is told as it is, not as "not found", "corrupt" or a refusal (unless the
     * library read it again: then the call failed for a reason of its own) */
    if (W.reads && W.faulted && !reentered && rc != ENG_ESTORAGE && !test_store_read_again(W.ts)) {
        fprintf(stderr, "%s: a storage read failed in it, but it returned %s (%s at %s)\n", call_name, eng_errstr(rc),
                err->message, err->detail);
        abort();
    }
    char emsg[256], edet[128];
    snprintf(emsg, sizeof emsg, "%s", err->message);
    snprintf(edet, sizeof edet, "%s", err->detail);
    uint8_t after[ENG__SHA256_LEN];
    digest(after);
    /* what the callbacks did stays; a commit that applied and then reported failure (the
     * ambiguous outcome); a run keeps the batches it committed before the failing one */
    if (reentered || (W.faulted && (W.fmode == TF_COMMITTED_ERROR || multi_batch(call_name)))) {
        memcpy(dg_before, after, sizeof after);
        return rc;
    }
    if (memcmp(dg_before, after, sizeof after) != 0) {
        fprintf(stderr, "%s: failed with %s (%s at %s) but changed the store\n", call_name, eng_errstr(rc), emsg,
                edet);
        abort();
    }
    return rc;
}

#define CALL(expr) (pre(#expr), post(expr))

/* A call the harness needs to succeed. In the read sweep the injected read failure may land
 * on it: it fails with ENG_ESTORAGE, named and changing nothing (post() checked), and the
 * host's retry works (the failure fires once); the checks after it stand. */
#define OK(expr) (CALL(expr) == ENG_OK || (read_failed() && CALL(expr) == ENG_OK))

static int read_failed(void)
{
    if (!W.reads || !W.faulted || eng_error_last()->code != ENG_ESTORAGE)
        return 0;
    if (trace)
        fprintf(stderr, "  (retried after the injected read failure)\n");
    return 1;
}

static int keep(uint64_t *ids, size_t *n, uint64_t id)
{
    if (*n < MAXC)
        ids[(*n)++] = id;
    else
        ids[id % MAXC] = id;
    return 0;
}

/* Accepted sends of @p campaign: each has one furthest status in the touch counts, also once
 * its customer is erased (docs/privacy.md: touches keep the send, to a tombstone id). */
static uint64_t accepted_of(uint64_t campaign)
{
    uint64_t n = 0;
    for (size_t i = 0; i < W.nkeys; i++)
        n += W.keys[i].accepted && W.keys[i].campaign == campaign;
    return n;
}

/* The ledger's state of key @p k's send (-1: none, or not a customer's send). */
static int ledger_state(size_t k)
{
    const sent *x = &W.keys[k];
    if (x->occurrence == UINT32_MAX || x->customer == ENG_POC_CUSTOMER)
        return -1;
    eng_send_info s;
    eng_send_info_init(&s, ENG_SEND_INFO_VERSION);
    uint64_t f0 = W.faults ? test_store_failures(W.ts) : 0;
    int rc = eng_send_get(W.e, "root", x->message, x->occurrence, x->customer, x->channel, &s);
    if (rc == ENG_ESTORAGE && W.reads && test_store_failures(W.ts) != f0) /* the one injected read failure: again */
        rc = eng_send_get(W.e, "root", x->message, x->occurrence, x->customer, x->channel, &s);
    eng_error_clear();
    return rc == ENG_OK && strcmp(s.key, x->key) == 0 ? s.state : -1;
}

/* Sends of @p campaign expired in doubt with a receipt: touched too (docs/dispatch.md). */
static uint64_t proven_of(uint64_t campaign)
{
    uint64_t n = 0;
    for (size_t i = 0; i < W.nkeys; i++)
        if (!W.keys[i].accepted && W.keys[i].receipted && W.keys[i].campaign == campaign)
            n += ledger_state(i) == ENG_LEDGER_EXPIRED;
    return n;
}

/* After a run that failed on an injected storage fault: what the transport answered is
 * final only where the ledger stored it (the others are in doubt and go again, same key). */
static void reconcile(void)
{
    for (size_t j = 0; j < W.nkeys; j++) {
        sent *x = &W.keys[j];
        if (x->call != W.call)
            continue;
        int st = ledger_state(j);
        if (st < 0) { /* a POC copy: no public read of its outcome; in doubt, it may go again */
            x->final = x->customer == ENG_POC_CUSTOMER ? 0 : x->final;
            continue;
        }
        x->final = st == ENG_LEDGER_ACCEPTED || st == ENG_LEDGER_REJECTED;
        x->accepted = st == ENG_LEDGER_ACCEPTED;
    }
}

static void check_touch_counts(void)
{
    if (W.nkeys >= MAXKEYS)
        return;
    for (size_t c = 0; c < W.ncamp; c++) {
        uint64_t counts[ENG_CH_COUNT * ENG_TOUCH_STATUS_COUNT], n = 0;
        CHECK(OK(eng_touch_status_counts(W.e, "acme", W.camp[c], 0, counts, ENG_CH_COUNT * ENG_TOUCH_STATUS_COUNT)));
        for (size_t i = 0; i < ENG_CH_COUNT * ENG_TOUCH_STATUS_COUNT; i++)
            n += counts[i];
        uint64_t proven = proven_of(W.camp[c]);
        if (n != accepted_of(W.camp[c]) + proven) {
            fprintf(stderr, "campaign %llu: %llu sends in the touch counts, %llu accepted, %llu expired with receipts\n",
                    (unsigned long long)W.camp[c], (unsigned long long)n,
                    (unsigned long long)accepted_of(W.camp[c]), (unsigned long long)proven);
            for (size_t i = 0; i < W.nkeys; i++)
                if (W.keys[i].campaign == W.camp[c])
                    fprintf(stderr, "  %s: final %d accepted %d receipted %d, ledger %d\n", W.keys[i].key,
                            W.keys[i].final, W.keys[i].accepted, W.keys[i].receipted, ledger_state(i));
            abort();
        }
    }
}

/* ------------------------------------------------------------ the world */

static eng_time clock_fn(void *u)
{
    (void)u;
    return W.now;
}

static eng_transport_methods TM = {ENG_TRANSPORT_METHODS_VERSION, NULL, NULL, send_batch, 1, 8};
static unsigned threads;

/* The workflow event callback may call back into the engine too: it reads the message,
 * or rejects or edits it right after the change it hears of. */
static void on_event(const eng_model_event *ev, void *user)
{
    (void)user;
    if (!W.reenter || rnd() % 4)
        return;
    W.reentered = 1;
    W.reenter = 0;
    eng_message *m = NULL;
    switch (rnd() % 3) {
    case 0:
        if (eng_message_get(W.e, "root", ev->message, &m) == ENG_OK)
            eng_message_free(m);
        break;
    case 1: eng_message_reject(W.e, "bob", ev->message, "changed my mind"); break;
    default: {
        eng_message_spec sp;
        eng_message_spec_init(&sp, ENG_MESSAGE_SPEC_VERSION);
        sp.title = "Edited on event";
        eng_message_update(W.e, "ann", ev->message, &sp, NULL);
        break;
    }
    }
    W.reenter = 1;
}

static void open_engine(void)
{
    eng_config cfg;
    eng_config_init(&cfg, ENG_CONFIG_VERSION);
    cfg.store = test_store_handle(W.ts);
    cfg.transport = &TM;
    cfg.clock_fn = clock_fn;
    cfg.threads = threads;
    uint64_t failures = W.faults ? test_store_failures(W.ts) : 0;
    int rc = eng_open(&cfg, &W.e);
    if (rc != ENG_OK && W.faults && test_store_failures(W.ts) != failures) {
        /* the open's own write failed (an armed fault): a storage error, named; the next open works */
        CHECK(W.e == NULL && eng_error_last()->code == rc && eng_error_last()->message[0]);
        test_store_nofail(W.ts);
        cfg.store = test_store_handle(W.ts);
        rc = eng_open(&cfg, &W.e);
    }
    CHECK(rc == ENG_OK);
    CHECK(eng_model_set_event_callback(W.e, on_event, NULL) == ENG_OK);
    dg_valid = 0; /* an open counts itself in the store */
}

static void settings_costs(void)
{
    eng_org_settings s;
    eng_org_settings_init(&s, ENG_ORG_SETTINGS_VERSION);
    if (eng_org_settings_get(W.e, "root", &s) == ENG_OK)
        for (int c = 0; c < ENG_CH_COUNT; c++)
            W.cost[c] = s.channel_cost[c];
}

static void actor(const char *by, const char *id, unsigned roles, int scope, const char *unit)
{
    eng_actor_spec a;
    eng_actor_spec_init(&a, ENG_ACTOR_SPEC_VERSION);
    a.id = id;
    a.roles = roles;
    a.scope = scope;
    a.units = unit ? &unit : NULL;
    a.n_units = unit ? 1 : 0;
    CHECK(eng_actor_put(W.e, by, &a) == ENG_OK);
}

static const char *const GROUPS[] = {"all", "half", "flt", "nosuch", "1", "combo"};
static const char *const BODIES[] = {"Hi, 20% off today. {{optout}}", "<p>Hello {{city}}</p>{{unsubscribe}}",
                                     "{{unclosed", "Code {{coupon_code}}", "", "plain", "{{tiny_url}} x"};
static const char *const EXPRS[] = {"age > 30", "city == \"Pune\"", "age >", "nosuch > 1", "true", "city"};

/* The seed state, built once: org acme (units north; root admin, ann author, bob approver,
 * vic viewer, sam author+approver, nat author of north), org beta (admin rex), unsubscribe
 * links, 60 credits, NCUST customers with city and age, groups all, half and flt. Each input
 * starts from a copy (put back to the seed after it: only the keys it wrote). */
static test_store *seed, *copy;
static uint32_t seed_grp[3];

static void build_seed(void)
{
    CHECK((W.ts = seed = test_store_new()) != NULL);
    open_engine();
    eng_org_settings s;
    eng_org_settings_init(&s, ENG_ORG_SETTINGS_VERSION);
    s.channel_cost[ENG_CH_SMS] = 2;
    CHECK(eng_org_create(W.e, "acme", &s, "root", NULL) == ENG_OK);
    CHECK(eng_unit_add(W.e, "root", "north", NULL) == ENG_OK);
    actor("root", "ann", ENG_ROLE_AUTHOR, ENG_SCOPE_ORG, NULL);
    actor("root", "bob", ENG_ROLE_APPROVER, ENG_SCOPE_ORG, NULL);
    actor("root", "vic", ENG_ROLE_VIEWER, ENG_SCOPE_ORG, NULL);
    actor("root", "sam", ENG_ROLE_AUTHOR | ENG_ROLE_APPROVER, ENG_SCOPE_ORG, NULL);
    actor("root", "nat", ENG_ROLE_AUTHOR, ENG_SCOPE_UNIT, "north");
    CHECK(eng_org_create(W.e, "beta", NULL, "rex", NULL) == ENG_OK);
    CHECK(eng_unsubscribe_setup(W.e, "root", "https://acme.example/u", "0123456789abcdef-acme", 21) == ENG_OK);
    CHECK(eng_credits_adjust(W.e, "root", ENG_CREDITS_CAMPAIGN, 60) == ENG_OK);
    CHECK(eng_customers_add_column(W.e, "root", "city", ENG_COL_STRING) == ENG_OK);
    CHECK(eng_customers_add_column(W.e, "root", "age", ENG_COL_INT64) == ENG_OK);
    char csv[NCUST * 96 + 96], *p = csv;
    const char *ids[NCUST];
    char idb[NCUST][16];
    p += sprintf(p, "id,contact.sms,consent.sms,contact.email,consent.email,city,age\n");
    for (int i = 0; i < NCUST; i++) {
        snprintf(idb[i], sizeof idb[i], "c%d", i);
        ids[i] = idb[i];
        p += sprintf(p, "c%d,+1555%07d,%s,%s%d@example.com,yes,%s,%d\n", i, i, i % 5 ? "yes" : "no",
                     i % 3 ? "c" : "", i, i % 2 ? "Pune" : "Oslo", 20 + 2 * i);
    }
    CHECK(eng_customers_import_csv_buffer(W.e, "root", csv, (size_t)(p - csv), NULL, NULL) == ENG_OK);
    CHECK(eng_group_create_uploaded(W.e, "root", "all", &seed_grp[0]) == ENG_OK);
    CHECK(eng_group_upload_ids(W.e, "root", seed_grp[0], ids, NCUST, ENG_UPLOAD_REPLACE, NULL, NULL) == ENG_OK);
    CHECK(eng_group_create_uploaded(W.e, "ann", "half", &seed_grp[1]) == ENG_OK);
    CHECK(eng_group_upload_ids(W.e, "ann", seed_grp[1], ids, NCUST / 2, ENG_UPLOAD_REPLACE, NULL, NULL) == ENG_OK);
    CHECK(eng_group_create_filter(W.e, "ann", "flt", "age > 30", &seed_grp[2]) == ENG_OK);
    CHECK(eng_close(W.e) == ENG_OK);
    W.e = NULL;
}

/* An engine on a copy of the seed; byte @p cfgbyte chooses the transport's batch size,
 * the engine's threads, X-Engage and overdraft. */
static void world(uint8_t cfgbyte)
{
    ncall = 0;
    W.now = T0;
    W.rng = cfgbyte;
    W.reenter = (cfgbyte >> 5) & 1;
    TM.batch_size = 1 + cfgbyte % 7;
    threads = cfgbyte >> 7;
    if (!seed)
        build_seed();
    if (!copy)
        CHECK((copy = test_store_clone(seed)) != NULL);
    else
        CHECK(test_store_restore(copy, seed) == ENG_OK);
    W.ts = copy;
    open_engine();
    if (cfgbyte & 0x18) {
        eng_org_settings s;
        eng_org_settings_init(&s, ENG_ORG_SETTINGS_VERSION);
        s.channel_cost[ENG_CH_SMS] = 2;
        s.xengage = cfgbyte & 8 ? ENG_XENGAGE_UNLOCKED : ENG_XENGAGE_TRIAL;
        s.forbid_overdraft = (cfgbyte >> 4) & 1;
        CHECK(eng_org_settings_set(W.e, "root", &s, NULL) == ENG_OK);
    }
    memcpy(W.grp, seed_grp, sizeof seed_grp);
    W.ngrp = 3;
    settings_costs();
}

static void world_free(void)
{
    dg_valid = 0;
    if (W.e)
        CHECK(eng_close(W.e) == ENG_OK);
    for (size_t i = 0; i < W.nkeys; i++)
        free(W.keys[i].key);
    memset(&W, 0, sizeof W);
}

/* ------------------------------------------------------------ the ops */

typedef struct msgbuf {
    eng_message_spec m;
    eng_schedule sched;
    eng_incentive inc;
    eng_delivery del;
    eng_xengage_options xo;
    eng_creative cr[3];
    const char *inc_groups[3], *exc_groups[2];
    int prio[3];
    eng_sender snd[1];
    const char *poc[1];
} msgbuf;

static void message_spec(prog *g, msgbuf *b)
{
    eng_message_spec_init(&b->m, ENG_MESSAGE_SPEC_VERSION);
    eng_schedule_init(&b->sched, ENG_SCHEDULE_VERSION);
    eng_incentive_init(&b->inc, ENG_INCENTIVE_VERSION);
    eng_delivery_init(&b->del, ENG_DELIVERY_VERSION);
    eng_xengage_options_init(&b->xo, ENG_XENGAGE_OPTIONS_VERSION);
    static const char *const titles[] = {"Blast", "Promo"};
    b->m.title = str_of(g, titles, 2);
    uint8_t f = u8(g);
    b->m.strategy = f % 8 < 5 ? ENG_STRATEGY_NONE : f % 8 == 5 ? ENG_STRATEGY_CHANNEL_PRIORITY
                  : f % 8 == 6 ? ENG_STRATEGY_XENGAGE : enum_of(g, 4);
    b->m.n_include = 1 + (f >> 3) % 2;
    for (size_t i = 0; i < b->m.n_include; i++)
        b->inc_groups[i] = str_of(g, GROUPS, 6);
    b->m.include = f & 0x80 ? NULL : b->inc_groups;
    b->m.n_exclude = (f >> 5) & 1;
    b->exc_groups[0] = str_of(g, GROUPS, 6);
    b->m.exclude = b->exc_groups;
    uint8_t c = u8(g);
    b->m.n_creatives = c % 3;
    for (size_t i = 0; i < b->m.n_creatives; i++) {
        b->cr[i].channel = i == 0 ? ENG_CH_SMS : c & 0x80 ? ENG_CH_SMS : c & 0x40 ? enum_of(g, ENG_CH_COUNT)
                         : ENG_CH_EMAIL;
        b->cr[i].subject = b->cr[i].channel == ENG_CH_EMAIL ? "Offer" : NULL;
        b->cr[i].body = str_of(g, BODIES, 7);
    }
    b->m.creatives = b->cr;
    b->prio[0] = ENG_CH_EMAIL;
    b->prio[1] = ENG_CH_SMS;
    b->prio[2] = enum_of(g, ENG_CH_COUNT);
    b->m.channel_priority = b->prio;
    b->m.n_channel_priority = b->m.strategy == ENG_STRATEGY_CHANNEL_PRIORITY ? 2 + (c >> 5 & 1) : 0;
    uint8_t s = u8(g);
    if (s % 4) {
        b->sched.kind = s % 4 == 3 ? ENG_SCHEDULE_RECURRING : ENG_SCHEDULE_ONCE;
        b->sched.at = s & 0x80 ? time_of(g) : W.now + (s >> 2 & 7) * ENG_DAY + ENG_HOUR;
        b->sched.every = s & 0x40 ? u8(g) : 1;
        b->sched.unit = enum_of(g, 3);
        b->sched.until = s & 0x20 ? time_of(g) : b->sched.at > INT64_MAX - 3 * ENG_DAY ? INT64_MAX
                       : b->sched.at + 3 * ENG_DAY;
        b->m.schedule = &b->sched;
    }
    uint8_t x = u8(g);
    if (x & 1) {
        b->inc.kind = x & 2 ? ENG_INCENTIVE_POINTS : ENG_INCENTIVE_COUPON;
        b->inc.points = x & 4 ? 0 : 50;
        b->inc.points_expiry_days = 30;
        b->inc.offer_id = x & 8 ? "nooffer" : NULL;
        b->m.incentive = &b->inc;
    }
    if (x & 0x10) {
        b->snd[0] = (eng_sender){ENG_CH_SMS, x & 0x20 ? "ACME" : str_of(g, ACTORS, 2)};
        b->poc[0] = x & 0x40 ? "poc@example.com" : "+15559999999";
        b->del.senders = b->snd;
        b->del.n_senders = 1;
        b->del.poc = b->poc;
        b->del.n_poc = x >> 7;
        b->m.delivery = &b->del;
    }
    if (b->m.strategy == ENG_STRATEGY_XENGAGE) {
        b->xo.credit_cap = x & 0x20 ? 0 : (int64_t)u8(g) - 8;
        b->xo.credits_per_unit = x & 0x40 ? -1.0 : 1.0;
        b->m.xengage = &b->xo;
    }
}

static void op_campaign(prog *g, int update)
{
    eng_campaign_spec c;
    eng_campaign_spec_init(&c, ENG_CAMPAIGN_SPEC_VERSION);
    static const char *const names[] = {"Spring", "Summer", "Autumn"};
    static const char *const units[] = {"north", "nounit"};
    c.name = str_of(g, names, 3);
    c.start = W.now + ENG_DAY;
    c.end = W.now + 60 * ENG_DAY;
    uint8_t f = u8(g);
    if (f & 1)
        c.start = time_of(g);
    if (f & 2)
        c.end = time_of(g);
    c.objective = f & 4 ? enum_of(g, 10) : ENG_OBJ_BOOST_SALES;
    c.control_percent = f & 8 ? u8(g) : 10;
    c.unit = f & 0x10 ? str_of(g, units, 2) : NULL;
    c.goal_mode = f & 0x20 ? enum_of(g, 3) : ENG_GOAL_DEFAULT;
    c.control_group = f & 0x40 ? (uint32_t)id_of(g, NULL, 0) % 8 : 0;
    const char *by = actor_of(g);
    eng_validation *rep = NULL;
    if (update) {
        uint64_t id = id_of(g, W.camp, W.ncamp);
        CALL(eng_campaign_update(W.e, by, id, f & 0x80 ? NULL : &c, &rep));
    } else {
        uint64_t id = 0;
        if (CALL(eng_campaign_create(W.e, by, f & 0x80 ? NULL : &c, &id, &rep)) == ENG_OK)
            keep(W.camp, &W.ncamp, id);
    }
    eng_validation_free(rep);
}

static void op_message(prog *g, int update)
{
    msgbuf b;
    memset(&b, 0, sizeof b);
    message_spec(g, &b);
    const char *by = actor_of(g);
    uint8_t f = u8(g);
    eng_validation *rep = NULL;
    if (update) {
        CALL(eng_message_update(W.e, by, id_of(g, W.msg, W.nmsg), f & 1 ? NULL : &b.m, f & 2 ? NULL : &rep));
    } else {
        uint64_t id = 0;
        if (CALL(eng_message_create(W.e, by, id_of(g, W.camp, W.ncamp), f & 1 ? NULL : &b.m, &id,
                                    f & 2 ? NULL : &rep)) == ENG_OK)
            keep(W.msg, &W.nmsg, id);
    }
    eng_validation_free(rep);
}

/* The content hash of a message as its reader sees it, into @p out ("" when unreadable). */
static void content_hash(uint64_t id, char out[80])
{
    memset(out, 0, 80);
    eng_message *m = NULL;
    if (CALL(eng_message_get(W.e, "root", id, &m)) != ENG_OK)
        return;
    eng_message_status st;
    eng_message_status_init(&st, ENG_MESSAGE_STATUS_VERSION);
    CHECK(OK(eng_message_status_get(m, &st)));
    CHECK(strlen(st.content_hash) == 64);
    CHECK(st.id == id && st.state >= ENG_STATE_DRAFT && st.state <= ENG_STATE_STOPPED);
    snprintf(out, 80, "%s", st.content_hash);
    const eng_message_spec *sp = NULL;
    CHECK(OK(eng_message_fields(m, &sp)) && sp && sp->schedule && sp->incentive && sp->delivery);
    eng_message_free(m);
}

static void op_workflow(prog *g)
{
    uint8_t k = u8(g);
    const char *by = actor_of(g);
    uint64_t id = id_of(g, W.msg, W.nmsg);
    static const char *const comments[] = {"ok", "no"};
    const char *comment = str_of(g, comments, 2);
    eng_validation *rep = NULL;
    char hash[80];
    switch (k % 8) {
    case 0:
    case 1: CALL(eng_message_submit(W.e, by, id, k & 0x10 ? NULL : &rep)); break;
    case 2:
    case 3:
        content_hash(id, hash);
        if (k & 0x20)
            hash[k % 64] ^= 1;
        CALL(eng_message_approve(W.e, by, id, k & 0x40 ? NULL : hash, comment));
        break;
    case 4: CALL(eng_message_reject(W.e, by, id, comment)); break;
    case 5: CALL(eng_campaign_approve(W.e, by, id_of(g, W.camp, W.ncamp), comment)); break;
    case 6: CALL(eng_campaign_reject(W.e, by, id_of(g, W.camp, W.ncamp), comment)); break;
    default: CALL(eng_message_execute(W.e, by, id, enum_of(g, 8))); break;
    }
    eng_validation_free(rep);
}

static void op_run(prog *g)
{
    const char *by = actor_of(g);
    uint8_t f = u8(g);
    eng_time at = f & 1 ? time_of(g) : W.now + (f >> 1) * ENG_HOUR;
    eng_run_options o;
    eng_run_options_init(&o, ENG_RUN_OPTIONS_VERSION);
    o.message = f & 0x40 ? id_of(g, W.msg, W.nmsg) : 0;
    o.max_batches = f & 0x20 ? u8(g) % 3 : 0;
    eng_run_report rep = ENG_RUN_REPORT_INIT;
    int64_t bal0 = 0, bal1 = 0;
    CHECK(OK(eng_credits_balance(W.e, "root", ENG_CREDITS_CAMPAIGN, &bal0)));
    W.seen = W.seen_accepted = W.seen_rejected = 0;
    W.seen_cost = 0;
    W.in_call = 1;
    W.call++;
    int rc = CALL(eng_run_due(W.e, by, at, f & 0x80 ? NULL : &o, &rep));
    int faulted = W.faulted;
    W.in_call = 0;
    if (faulted) /* the batches before the failing one stay: the keys' outcomes as stored */
        reconcile();
    CHECK(OK(eng_credits_balance(W.e, "root", ENG_CREDITS_CAMPAIGN, &bal1)));
    if (rc != ENG_OK) {
        CHECK(faulted || (W.seen == 0 && bal0 == bal1));
        check_touch_counts();
        return;
    }
    CHECK(!faulted || W.reads); /* a write that failed fails the run (post(): a read failed, the run read it again) */
    if (rep.sent != W.seen || rep.accepted != W.seen_accepted || rep.rejected != W.seen_rejected ||
        bal0 - bal1 != W.seen_cost) {
        fprintf(stderr, "run report: sent %llu accepted %llu rejected %llu charged %lld; the transport saw %llu, "
                "accepted %llu, rejected %llu, cost %lld\n", (unsigned long long)rep.sent,
                (unsigned long long)rep.accepted, (unsigned long long)rep.rejected, (long long)(bal0 - bal1),
                (unsigned long long)W.seen, (unsigned long long)W.seen_accepted,
                (unsigned long long)W.seen_rejected, (long long)W.seen_cost);
        abort();
    }
    check_touch_counts();
}

/* The long way to sends in one op: a campaign and a valid message to the group "all" (SMS,
 * email or both; channel priority; once or recurring; a POC copy), sent for approval by ann,
 * approved by bob, and the clock at its send time. What an input then does with it (runs,
 * receipts, edits, erasures, reopens) is where the ledger is tested. */
static void op_ready(prog *g)
{
    uint8_t f = u8(g);
    char name[32];
    snprintf(name, sizeof name, "Ready %u", W.ready++);
    eng_campaign_spec c;
    eng_campaign_spec_init(&c, ENG_CAMPAIGN_SPEC_VERSION);
    c.name = name;
    c.start = W.now + ENG_DAY;
    c.end = W.now + 60 * ENG_DAY;
    c.objective = ENG_OBJ_BOOST_SALES;
    c.control_percent = f & 0x40 ? 0 : 10;
    uint64_t cid = 0, mid = 0;
    if (CALL(eng_campaign_create(W.e, "ann", &c, &cid, NULL)) != ENG_OK)
        return;
    keep(W.camp, &W.ncamp, cid);
    static const char *const all[] = {"all"};
    static const int prio[] = {ENG_CH_EMAIL, ENG_CH_SMS};
    static const char *const poc_email[] = {"poc@example.com"}, *const poc_phone[] = {"+15559999999"};
    eng_creative cr[2] = {{ENG_CH_SMS, NULL, BODIES[0]}, {ENG_CH_EMAIL, "Offer", BODIES[1]}};
    eng_schedule sc = ENG_SCHEDULE_INIT;
    eng_delivery dl = ENG_DELIVERY_INIT;
    eng_message_spec m;
    eng_message_spec_init(&m, ENG_MESSAGE_SPEC_VERSION);
    m.title = "Ready";
    m.include = all;
    m.n_include = 1;
    m.creatives = f % 3 == 1 ? cr + 1 : cr;
    m.n_creatives = f % 3 == 2 ? 2 : 1;
    if (f & 4 && m.n_creatives == 2) {
        m.strategy = ENG_STRATEGY_CHANNEL_PRIORITY;
        m.channel_priority = prio;
        m.n_channel_priority = 2;
    }
    sc.kind = f & 8 ? ENG_SCHEDULE_RECURRING : ENG_SCHEDULE_ONCE;
    sc.at = W.now + 2 * ENG_DAY;
    sc.every = 1;
    sc.unit = ENG_EVERY_DAYS;
    sc.until = sc.at + 2 * ENG_DAY;
    m.schedule = &sc;
    if (f & 0x10) {
        dl.poc = f % 3 == 1 ? poc_email : poc_phone;
        dl.n_poc = 1;
        m.delivery = &dl;
    }
    if (CALL(eng_message_create(W.e, "ann", cid, &m, &mid, NULL)) != ENG_OK)
        return;
    keep(W.msg, &W.nmsg, mid);
    if (CALL(eng_message_submit(W.e, "ann", mid, NULL)) == ENG_OK &&
        CALL(eng_message_approve(W.e, "bob", mid, NULL, "ok")) == ENG_OK && !(f & 0x20))
        W.now = sc.at;
}

static void op_test_send(prog *g)
{
    const char *by = actor_of(g);
    uint64_t id = id_of(g, W.msg, W.nmsg);
    static const char *const to[] = {"+15550001111", "a@example.com", "bad address\n"};
    const char *r[3];
    size_t n = u8(g) % 4;
    for (size_t i = 0; i < n; i++)
        r[i] = str_of(g, to, 3);
    int st[3];
    W.in_call = 1;
    CALL(eng_message_test_send(W.e, by, id, u8(g) & 1 ? ENG_PREVIEW_SAMPLE : u8(g) % NCUST, enum_of(g, 3),
                               n ? r : NULL, n, st));
    W.in_call = 0;
}

static void op_customers(prog *g)
{
    const char *by = actor_of(g);
    uint8_t f = u8(g);
    if (f & 1) { /* a CSV of a few rows, some bad */
        char csv[1024], *p = csv;
        p += sprintf(p, "%s\n", f & 2 ? "id,contact.sms,consent.sms,age" : "id,city,nosuchcolumn");
        size_t rows = u8(g) % 6;
        for (size_t i = 0; i < rows; i++) {
            uint8_t v = u8(g);
            p += sprintf(p, "c%u,+1555%07u,%s,%d\n", v % (NCUST + 4), v, v & 0x40 ? "yes" : "maybe",
                         v & 0x80 ? -1 : (int)v);
        }
        eng_import_options o;
        eng_import_options_init(&o, ENG_IMPORT_OPTIONS_VERSION);
        o.on_error = f & 4 ? ENG_IMPORT_SKIP_ROWS : ENG_IMPORT_REJECT_FILE;
        o.max_bad_rows = f >> 5;
        eng_import_report rep = ENG_IMPORT_REPORT_INIT;
        if (CALL(eng_customers_import_csv_buffer(W.e, by, csv, (size_t)(p - csv), f & 8 ? NULL : &o, &rep)) ==
            ENG_OK)
            CHECK(rep.rows == rows && rep.inserted + rep.updated + rep.bad_rows <= rows);
    } else { /* upsert with values drawn from the input */
        static const char *const cols[] = {"id", "city", "age", "consent.email", "contact.email", "nosuch"};
        static const char *const vals[] = {"c1", "c2", "Pune", "42", "yes", "x@example.com", "c99"};
        const char *names[3] = {"id", str_of(g, cols, 6), str_of(g, cols, 6)};
        const char *values[6];
        size_t nrows = u8(g) % 3;
        for (size_t i = 0; i < 6; i++)
            values[i] = str_of(g, vals, 7);
        CALL(eng_customers_upsert(W.e, by, f & 2 ? NULL : names, 1 + (f >> 2) % 3, values, nrows, NULL, NULL));
    }
}

static void op_groups(prog *g)
{
    const char *by = actor_of(g);
    static const char *const names[] = {"g1", "g2", "all", "combo"};
    uint8_t f = u8(g);
    uint32_t id = 0;
    uint64_t gids[MAXC];
    for (size_t i = 0; i < W.ngrp; i++)
        gids[i] = W.grp[i];
    switch (f % 6) {
    case 0:
        if (CALL(eng_group_create_uploaded(W.e, by, str_of(g, names, 4), &id)) == ENG_OK && W.ngrp < MAXC)
            W.grp[W.ngrp++] = id;
        break;
    case 1: {
        static const char *const ids[] = {"c1", "c3", "c5", "nobody", "c7"};
        const char *v[4];
        size_t n = u8(g) % 5;
        for (size_t i = 0; i < n && i < 4; i++)
            v[i] = str_of(g, ids, 5);
        eng_import_options o;
        eng_import_options_init(&o, ENG_IMPORT_OPTIONS_VERSION);
        o.on_error = f & 8 ? ENG_IMPORT_SKIP_ROWS : ENG_IMPORT_REJECT_FILE;
        o.max_bad_rows = 1;
        CALL(eng_group_upload_ids(W.e, by, (uint32_t)id_of(g, gids, W.ngrp), v, n > 4 ? 4 : n,
                                  enum_of(g, 3), &o, NULL));
        break;
    }
    case 2:
        if (CALL(eng_group_create_filter(W.e, by, str_of(g, names, 4), str_of(g, EXPRS, 6), &id)) == ENG_OK &&
            W.ngrp < MAXC)
            W.grp[W.ngrp++] = id;
        break;
    case 3: {
        uint32_t inc[2] = {(uint32_t)id_of(g, gids, W.ngrp), (uint32_t)id_of(g, gids, W.ngrp)};
        uint32_t exc[1] = {(uint32_t)id_of(g, gids, W.ngrp)};
        if (f & 0x10) {
            CALL(eng_group_set_combined(W.e, by, (uint32_t)id_of(g, gids, W.ngrp), enum_of(g, 3), inc,
                                        1 + (f >> 6 & 1), exc, f >> 7));
        } else if (CALL(eng_group_create_combined(W.e, by, str_of(g, names, 4), enum_of(g, 3), inc,
                                                  1 + (f >> 6 & 1), exc, f >> 7, &id)) == ENG_OK &&
                   W.ngrp < MAXC) {
            W.grp[W.ngrp++] = id;
        }
        break;
    }
    case 4: CALL(eng_group_delete(W.e, by, (uint32_t)id_of(g, gids, W.ngrp))); break;
    default: {
        uint64_t n = 0, all = 0;
        if (CALL(eng_group_count(W.e, by, (uint32_t)id_of(g, gids, W.ngrp), &n)) == ENG_OK &&
            CALL(eng_customers_count(W.e, "root", &all)) == ENG_OK)
            CHECK(n <= all);
        break;
    }
    }
}

static void op_audience(prog *g)
{
    eng_audience_query q;
    eng_audience_query_init(&q, ENG_AUDIENCE_QUERY_VERSION);
    const char *inc[2] = {str_of(g, GROUPS, 6), str_of(g, GROUPS, 6)};
    const char *exc[1] = {str_of(g, GROUPS, 6)};
    uint8_t f = u8(g);
    q.include = f & 0x80 ? NULL : inc;
    q.n_include = f % 3;
    q.exclude = exc;
    q.n_exclude = f >> 2 & 1;
    q.channels = f & 8 ? (uint32_t)u16(g) : 0;
    q.control_percent = f & 0x10 ? u8(g) : 10;
    q.split_seed = u8(g);
    q.control_group = f & 0x20 ? (uint32_t)u8(g) % 6 : 0;
    const char *by = actor_of(g);
    eng_audience *a = NULL;
    if (CALL(eng_audience_resolve(W.e, by, &q, &a)) != ENG_OK) {
        CHECK(a == NULL);
        return;
    }
    uint64_t all = 0, test = 0, ctl = 0, tc = 0;
    CHECK(OK(eng_audience_count(a, ENG_PART_ALL, &all)));
    CHECK(OK(eng_audience_count(a, ENG_PART_TEST, &test)));
    CHECK(OK(eng_audience_count(a, ENG_PART_CONTROL, &ctl)));
    CHECK(all == test + ctl);
    CHECK(OK(eng_audience_test_count(W.e, by, &q, &tc)) && tc == test);
    uint32_t ids[NCUST * 4];
    size_t n = 0;
    CHECK(OK(eng_audience_ids(a, ENG_PART_TEST, 0, ids, NCUST * 4, &n)));
    CHECK(n == test || (test > NCUST * 4 && n == NCUST * 4));
    for (size_t i = 1; i < n; i++)
        CHECK(ids[i - 1] < ids[i]);
    CALL(eng_audience_count(a, enum_of(g, 3), &all));
    CALL(eng_audience_ids(a, ENG_PART_ALL, (uint64_t)u8(g) << (u8(g) % 64), ids, u8(g) % 4, &n));
    if (f & 0x40) {
        static const char *const keys[] = {"k1", "k2"};
        CALL(eng_audience_freeze(a, actor_of(g), str_of(g, keys, 2)));
    }
    eng_audience_free(a);
    if (CALL(eng_message_audience(W.e, by, id_of(g, W.msg, W.nmsg), &a)) == ENG_OK) {
        CHECK(OK(eng_audience_count(a, ENG_PART_ALL, &all)));
        eng_audience_free(a);
    }
}

/* Receipts over keys the transport saw, near misses and junk. */
static void op_receipts(prog *g)
{
    enum { MAXR = 12 };
    const char *k[MAXR], *det[MAXR];
    char kb[MAXR][ENG_SEND_KEY_MAX + 2];
    int st[MAXR];
    eng_time t[MAXR];
    size_t n = u8(g) % (MAXR + 1);
    for (size_t i = 0; i < n; i++) {
        uint8_t s = u8(g);
        if (s < 0xa0 && W.nkeys) {
            k[i] = W.keys[s % W.nkeys].key;
        } else if (s < 0xc0 && W.nkeys) {
            snprintf(kb[i], sizeof kb[i], "%s", W.keys[s % W.nkeys].key);
            kb[i][s % strlen(kb[i])] ^= 1 + (s & 0x1f);
            k[i] = kb[i];
        } else {
            k[i] = str_of(g, ACTORS, 2);
        }
        st[i] = enum_of(g, ENG_TOUCH_STATUS_COUNT);
        t[i] = time_of(g);
        static const char *const d[] = {"link1", "mailbox full"};
        det[i] = str_of(g, d, 2);
    }
    eng_receipts rc;
    eng_receipts_init(&rc, ENG_RECEIPTS_VERSION);
    rc.count = n;
    rc.keys = k;
    rc.statuses = st;
    rc.times = t;
    rc.details = u8(g) & 1 ? NULL : det;
    eng_event_report rep = ENG_EVENT_REPORT_INIT;
    uint64_t p0 = 0, p1 = 0;
    CHECK(OK(eng_touch_pending(W.e, &p0)));
    if (CALL(eng_touch_append(W.e, &rc, &rep)) == ENG_OK) {
        CHECK(rep.accepted + rep.duplicates + rep.unmatched == n);
        CHECK(OK(eng_touch_pending(W.e, &p1)) && p1 == p0 + rep.unmatched);
        for (size_t i = 0; i < n; i++)
            if (st[i] != ENG_TOUCH_SENT && sent_find(k[i]) >= 0)
                W.keys[sent_find(k[i])].receipted = 1;
    }
    check_touch_counts();
}

static void op_txns(prog *g)
{
    enum { MAXT = 6 };
    static const char *const tids[] = {"t1", "t2", "t3", "t1"};
    static const char *const custs[] = {"c1", "c2", "c9", "ghost"};
    static const char *const stores[] = {"s1", "s2"};
    static const char *const items[] = {"sku1", "sku2"};
    const char *ids[MAXT], *cu[MAXT], *so[MAXT], *it[MAXT * 2];
    eng_time tm[MAXT];
    int64_t am[MAXT];
    uint32_t ic[MAXT];
    size_t n = u8(g) % (MAXT + 1), ni = 0;
    for (size_t i = 0; i < n; i++) {
        ids[i] = str_of(g, tids, 4);
        cu[i] = str_of(g, custs, 4);
        so[i] = str_of(g, stores, 2);
        tm[i] = time_of(g);
        uint8_t a = u8(g);
        am[i] = a & 0x80 ? (a & 1 ? INT64_MAX : INT64_MIN) : (int64_t)a * 10000;
        ic[i] = a % 3;
        for (uint32_t j = 0; j < ic[i]; j++)
            it[ni++] = str_of(g, items, 2);
    }
    eng_txn_batch b;
    eng_txn_batch_init(&b, ENG_TXN_BATCH_VERSION);
    uint8_t f = u8(g);
    b.count = n;
    b.ids = ids;
    b.customers = f & 1 ? NULL : cu;
    b.times = tm;
    b.amounts = am;
    b.stores = f & 2 ? so : NULL;
    b.item_counts = f & 4 ? ic : NULL;
    b.items = f & 4 ? it : NULL;
    eng_import_options o;
    eng_import_options_init(&o, ENG_IMPORT_OPTIONS_VERSION);
    o.on_error = f & 8 ? ENG_IMPORT_SKIP_ROWS : ENG_IMPORT_REJECT_FILE;
    o.max_bad_rows = f >> 6;
    eng_event_report rep = ENG_EVENT_REPORT_INIT;
    static const char *const orgs[] = {"acme", "beta", "nope"};
    if (CALL(eng_txn_append(W.e, str_of(g, orgs, 3), &b, &o, &rep)) == ENG_OK)
        CHECK(rep.accepted + rep.duplicates + rep.bad_rows == n);
}

static void op_report(prog *g)
{
    const char *by = actor_of(g);
    eng_campaign_report_options o;
    eng_campaign_report_options_init(&o, ENG_CAMPAIGN_REPORT_OPTIONS_VERSION);
    uint8_t f = u8(g);
    o.currency_places = f & 1 ? enum_of(g, 5) : 2;
    o.half_life = f & 2 ? time_of(g) : 0;
    o.credits_per_unit = f & 4 ? -1.0 : 1.0;
    eng_report *r = NULL;
    if (CALL(eng_campaign_report(W.e, by, id_of(g, W.camp, W.ncamp), f & 8 ? NULL : &o, &r)) == ENG_OK) {
        eng_report_figures t;
        eng_report_figures_init(&t, ENG_REPORT_FIGURES_VERSION);
        CHECK(OK(eng_report_total(r, &t)));
        char *text = NULL;
        size_t len = 0;
        if (CALL(eng_report_export(r, enum_of(g, 3), &text, &len)) == ENG_OK) {
            CHECK(text && strlen(text) == len);
            eng_free(W.e, text);
        }
        eng_report_free(r);
    } else {
        CHECK(r == NULL);
    }
}

static void op_privacy(prog *g)
{
    const char *by = actor_of(g);
    static const char *const ids[] = {"c1", "c2", "c3", "ghost", "c4"};
    uint8_t f = u8(g);
    if (f % 3 == 0) {
        char *json = NULL;
        size_t len = 0;
        if (CALL(eng_customer_export_json(W.e, by, str_of(g, ids, 5), &json, &len)) == ENG_OK) {
            CHECK(json && strlen(json) == len && json[0] == '{');
            eng_free(W.e, json);
        } else {
            CHECK(json == NULL && len == 0);
        }
        return;
    }
    const char *v[4];
    size_t n = f % 3 == 1 ? 1 : u8(g) % 5;
    for (size_t i = 0; i < n; i++)
        v[i] = str_of(g, ids, 5);
    eng_erase_report rep = ENG_ERASE_REPORT_INIT;
    if (f % 3 == 1)
        CALL(eng_customer_erase(W.e, by, v[0]));
    else if (CALL(eng_customers_erase(W.e, by, f & 0x80 ? NULL : v, n, &rep)) == ENG_OK)
        CHECK(rep.erased + rep.not_found <= n);
    check_touch_counts();
}

static void op_admin(prog *g)
{
    const char *by = actor_of(g);
    uint8_t f = u8(g);
    switch (f % 10) {
    case 5: {
        eng_global_control gc;
        eng_global_control_init(&gc, ENG_GLOBAL_CONTROL_VERSION);
        gc.mode = enum_of(g, 3);
        gc.percent = u8(g) % 64;
        gc.group = (uint32_t)u8(g) % 8;
        gc.seed = u8(g);
        if (CALL(eng_global_control_set(W.e, by, &gc)) == ENG_OK) {
            eng_global_control got;
            eng_global_control_init(&got, ENG_GLOBAL_CONTROL_VERSION);
            CHECK(OK(eng_global_control_get(W.e, by, &got)) && got.mode == gc.mode);
        }
        break;
    }
    case 6:
        if (f & 0x80) {
            CALL(eng_events_set_retention(W.e, by, u8(g) % 3 ? 400 : u8(g)));
            CALL(eng_events_compact(W.e));
        } else {
            CALL(eng_customers_compact(W.e, by));
        }
        break;
    case 7: {
        static const char *const csvs[] = {"id\nc1\nc2\n", "id,x\nghost,1\n", "noid\nc1\n", "id\n\"c3\n"};
        const char *csv = str_of(g, csvs, 4);
        eng_erase_report rep = ENG_ERASE_REPORT_INIT;
        CALL(eng_customers_erase_csv(W.e, by, csv, csv ? strlen(csv) : 0, &rep));
        break;
    }
    case 8: {
        static const char *const csvs[] = {"id,customer,time,amount\nt9,c1,2026-01-02,12.5\n",
                                           "id,customer,time,amount,items\nt8,c2,1767225600000,3,a|b\n",
                                           "id,customer,time\nt7,c1,x\n", "id,customer,time,amount,tier\nt6,c3,0,1,gold\n"};
        static const char *const orgs[] = {"acme", "beta", "nope"};
        const char *csv = str_of(g, csvs, 4);
        eng_event_report rep = ENG_EVENT_REPORT_INIT;
        if (CALL(eng_txn_import_csv_buffer(W.e, str_of(g, orgs, 3), csv, csv ? strlen(csv) : 0, NULL, &rep)) ==
            ENG_OK)
            CHECK(rep.accepted + rep.duplicates + rep.bad_rows == rep.rows);
        break;
    }
    case 9: {
        static const char *const names[] = {"tier", "amount", "9x", "channel_note"};
        static const char *const orgs[] = {"acme", "beta", "nope"};
        CALL(eng_txn_field_add(W.e, str_of(g, orgs, 3), str_of(g, names, 4), enum_of(g, 6)));
        break;
    }
    case 0: {
        eng_actor_spec a;
        eng_actor_spec_init(&a, ENG_ACTOR_SPEC_VERSION);
        static const char *const ids[] = {"ann", "bob", "newbie", "rex", "root"};
        static const char *const units[] = {"north", "nounit"};
        const char *u[1] = {str_of(g, units, 2)};
        a.id = str_of(g, ids, 5);
        a.roles = f & 0x80 ? u8(g) : ENG_ROLE_APPROVER;
        a.scope = enum_of(g, 3);
        a.units = u;
        a.n_units = f >> 5 & 1;
        CALL(eng_actor_put(W.e, by, f & 0x40 ? NULL : &a));
        break;
    }
    case 1: {
        static const char *const ids[] = {"bob", "sam", "root", "ghost"};
        CALL(eng_actor_remove(W.e, by, str_of(g, ids, 4)));
        break;
    }
    case 2: {
        eng_org_settings s;
        eng_org_settings_init(&s, ENG_ORG_SETTINGS_VERSION);
        s.xengage = enum_of(g, 3);
        s.allow_self_approval = f >> 3 & 1;
        s.forbid_overdraft = f >> 4 & 1;
        s.channel_cost[u8(g) % ENG_MAX_CHANNELS] = f & 0x20 ? -1 : u8(g);
        s.xengage_cost = f & 0x40 ? (int64_t)2e9 : 1;
        eng_validation *rep = NULL;
        CALL(eng_org_settings_set(W.e, by, &s, f & 0x80 ? NULL : &rep));
        eng_validation_free(rep);
        settings_costs();
        break;
    }
    case 3: {
        int64_t d = f & 0x80 ? (f & 0x40 ? INT64_MAX : INT64_MIN) : (int64_t)(int8_t)u8(g) * 10;
        CALL(eng_credits_adjust(W.e, by, enum_of(g, 2), d));
        break;
    }
    default: {
        static const char *const cols[] = {"tier", "age", "9bad", "id"};
        CALL(eng_customers_add_column(W.e, by, str_of(g, cols, 4), enum_of(g, 6)));
        break;
    }
    }
}

static void op_reads(prog *g)
{
    const char *by = actor_of(g);
    uint64_t id = id_of(g, W.msg, W.nmsg);
    uint8_t f = u8(g);
    switch (f % 12) {
    case 7: {
        eng_trace t;
        eng_trace_init(&t, ENG_TRACE_VERSION);
        CALL(eng_trace_get(W.e, by, id, u8(g) % 2, u8(g) % (NCUST + 2), &t));
        break;
    }
    case 8: {
        static const char *const cols[] = {"city", "age", "contact.sms", "consent.email", "nosuch", "id"};
        char buf[40];
        size_t len = 0;
        int reach = 0;
        uint32_t c = u8(g) % (NCUST + 2);
        if (CALL(eng_customer_get(W.e, by, c, str_of(g, cols, 6), buf, f & 0x10 ? 4 : sizeof buf, &len)) == ENG_OK)
            CHECK(strlen(buf) == len);
        CALL(eng_customer_reachable(W.e, by, c, enum_of(g, ENG_CH_COUNT), &reach));
        break;
    }
    case 9: {
        eng_consent_iter *it = NULL;
        if (CALL(eng_consent_history(W.e, by, u8(g) % (NCUST + 2), &it)) == ENG_OK) {
            eng_consent_change ch;
            eng_consent_change_init(&ch, ENG_CONSENT_CHANGE_VERSION);
            for (int k = 0; k < 64 && CALL(eng_consent_next(it, &ch)) == ENG_OK; k++)
                ;
            eng_consent_iter_free(it);
        }
        eng_actor_iter *ai = NULL;
        if (CALL(eng_actor_list(W.e, by, &ai)) == ENG_OK) {
            eng_actor_spec a;
            eng_actor_spec_init(&a, ENG_ACTOR_SPEC_VERSION);
            for (int k = 0; k < 64 && CALL(eng_actor_next(ai, &a)) == ENG_OK; k++)
                CHECK(a.id && a.id[0]);
            eng_actor_iter_free(ai);
        }
        break;
    }
    case 10: {
        uint32_t gid = 0;
        int kind = 0;
        if (CALL(eng_group_find(W.e, by, str_of(g, GROUPS, 6), &gid)) == ENG_OK) {
            CHECK(OK(eng_group_kind_of(W.e, by, gid, &kind)));
            CHECK(kind >= ENG_GROUP_UPLOADED && kind <= ENG_GROUP_COMBINED);
        }
        break;
    }
    case 11: {
        static const char *const keys[] = {"k1", "k2"};
        eng_audience *a = NULL;
        if (CALL(eng_audience_load_frozen(W.e, by, str_of(g, keys, 2), &a)) == ENG_OK) {
            uint64_t all = 0, test = 0, ctl = 0;
            CHECK(OK(eng_audience_count(a, ENG_PART_ALL, &all)));
            CHECK(OK(eng_audience_count(a, ENG_PART_TEST, &test)));
            CHECK(OK(eng_audience_count(a, ENG_PART_CONTROL, &ctl)));
            CHECK(all == test + ctl);
            eng_audience_free(a);
        }
        break;
    }
    case 0: {
        eng_execution_info x;
        eng_execution_info_init(&x, ENG_EXECUTION_INFO_VERSION);
        if (CALL(eng_execution_get(W.e, by, id, u8(g) % 3, &x)) == ENG_OK && x.state == ENG_EXEC_FINISHED)
            CHECK(x.accepted + x.rejected + x.expired + x.skipped == x.sends);
        break;
    }
    case 1: {
        eng_send_info s;
        eng_send_info_init(&s, ENG_SEND_INFO_VERSION);
        if (CALL(eng_send_get(W.e, by, id, u8(g) % 2, u8(g) % NCUST, enum_of(g, 2), &s)) == ENG_OK) {
            int k = sent_find(s.key);
            CHECK(s.state >= ENG_LEDGER_PENDING && s.state <= ENG_LEDGER_SKIPPED);
            CHECK(s.attempts <= ENG_SEND_MAX_ATTEMPTS);
            if (k >= 0 && W.keys[k].accepted)
                CHECK(s.state == ENG_LEDGER_ACCEPTED);
        }
        break;
    }
    case 2: {
        uint64_t *ids = NULL;
        size_t n = 0;
        if (CALL(eng_campaign_list(W.e, by, f & 8 ? NULL : &ids, &n)) == ENG_OK)
            eng_free(W.e, ids);
        break;
    }
    case 3: {
        eng_dry_report d;
        eng_dry_report_init(&d, ENG_DRY_REPORT_VERSION);
        CALL(eng_dry_run(W.e, by, id, &d));
        break;
    }
    case 4: {
        char body[64];
        eng_preview pv;
        eng_preview_init(&pv, ENG_PREVIEW_VERSION);
        CALL(eng_message_preview(W.e, by, id, f & 8 ? ENG_PREVIEW_SAMPLE : u8(g), enum_of(g, 3), body,
                                 f & 0x10 ? 0 : sizeof body, &pv));
        break;
    }
    case 5: {
        eng_validation *rep = NULL;
        CALL(eng_message_validate(W.e, by, id, f & 8 ? NULL : &rep));
        eng_validation_free(rep);
        break;
    }
    default: {
        eng_campaign *c = NULL;
        if (CALL(eng_campaign_get(W.e, by, id_of(g, W.camp, W.ncamp), &c)) == ENG_OK) {
            eng_campaign_status st;
            eng_campaign_status_init(&st, ENG_CAMPAIGN_STATUS_VERSION);
            CHECK(OK(eng_campaign_status_get(c, &st)));
            eng_campaign_free(c);
        }
        break;
    }
    }
}

/* Handles that are not live: NULL and closed ones give ENG_EMISUSE and change nothing. */
static void op_bad_handles(prog *g)
{
    uint8_t f = u8(g);
    uint64_t n = 0;
    uint64_t id = 0;
    eng_message *m = NULL;
    switch (f % 6) {
    case 0: CHECK(CALL(eng_customers_count(NULL, "root", &n)) == ENG_EMISUSE); break;
    case 1: CHECK(CALL(eng_message_submit(NULL, "ann", 1, NULL)) == ENG_EMISUSE); break;
    case 2: CHECK(CALL(eng_audience_count(NULL, ENG_PART_ALL, &n)) == ENG_EMISUSE); break;
    case 3: CHECK(CALL(eng_message_status_get(NULL, NULL)) != ENG_OK); break;
    case 4:
        if (CALL(eng_message_get(W.e, "root", id_of(g, W.msg, W.nmsg), &m)) == ENG_OK) {
            eng_message_free(m);
            eng_message_status st;
            eng_message_status_init(&st, ENG_MESSAGE_STATUS_VERSION);
            CHECK(CALL(eng_message_status_get(m, &st)) == ENG_EMISUSE); /* freed */
        }
        break;
    default: CHECK(CALL(eng_campaign_create(NULL, "ann", NULL, &id, NULL)) == ENG_EMISUSE); break;
    }
}

static void op_unsubscribe(prog *g)
{
    uint8_t f = u8(g);
    static const char *const urls[] = {"https://acme.example/u", "ftp://x", "https://a.example/u?x=1"};
    if (f & 1) {
        CALL(eng_unsubscribe_setup(W.e, actor_of(g), str_of(g, urls, 3), "0123456789abcdef-acme-2",
                                   f & 2 ? 8 : 23));
    } else {
        static const char *const tokens[] = {"abc", "", "x.y.z"};
        static const char *const orgs[] = {"acme", "beta"};
        eng_unsubscribe_info i = ENG_UNSUBSCRIBE_INFO_INIT;
        CALL(eng_unsubscribe_apply(W.e, str_of(g, orgs, 2), str_of(g, tokens, 3), &i));
    }
}

/* A failing call on a handle whose engine is closed: its code is the record's, with a message. */
static void closed_fails(int rc, int want)
{
    CHECK(rc == want && eng_error_last()->code == want && eng_error_last()->message[0]);
}

/* Close and open again on the same store. Children taken before the close (a message
 * snapshot, an audience) keep working as far as they need no engine, and refuse what needs
 * it; the closed engine's pointer is refused, not read. */
static void op_reopen(prog *g)
{
    uint8_t f = u8(g);
    eng_message *m = NULL;
    eng_audience *a = NULL;
    if (f & 1)
        CALL(eng_message_get(W.e, "root", id_of(g, W.msg, W.nmsg), &m));
    if (f & 2) {
        eng_audience_query q;
        eng_audience_query_init(&q, ENG_AUDIENCE_QUERY_VERSION);
        const char *inc[1] = {"all"};
        q.include = inc;
        q.n_include = 1;
        CALL(eng_audience_resolve(W.e, "ann", &q, &a));
    }
    eng_engine *old = W.e;
    CHECK(eng_close(W.e) == ENG_OK);
    W.e = NULL;
    uint64_t n = 0;
    if (m || a) { /* kept alive by its children: closed, not freed */
        closed_fails(eng_customers_count(old, "root", &n), ENG_EMISUSE);
        closed_fails(eng_close(old), ENG_EMISUSE);
    }
    if (m) {
        eng_message_status st;
        eng_message_status_init(&st, ENG_MESSAGE_STATUS_VERSION);
        CHECK(eng_message_status_get(m, &st) == ENG_OK && strlen(st.content_hash) == 64);
    }
    if (a) {
        CHECK(eng_audience_count(a, ENG_PART_ALL, &n) == ENG_OK);
        closed_fails(eng_audience_freeze(a, "ann", "k-closed"), ENG_EMISUSE);
    }
    if (f & 4) { /* the children freed in either order; the engine goes with the last */
        eng_audience_free(a);
        eng_message_free(m);
    } else {
        eng_message_free(m);
        eng_audience_free(a);
    }
    open_engine();
    check_touch_counts();
}

/* Storage faults: the op after fault byte @p fb (0x80 set) meets a failing write or commit
 * (fb & 0x20: a commit) at its (1 + fb % 16)th such call, one that applies nothing or (fb &
 * 0x10) a commit that applies and then reports failure. post() checks each call as ever: a
 * failing one names its error and changed nothing (but where the failure was a commit that
 * applied, or a run's later batch); no final key is sent again (a run's keys reconciled with
 * the ledger after its failure). */
static void arm_fault(uint8_t fb)
{
    W.fmode = fb & 0x10 ? TF_COMMITTED_ERROR : TF_ERROR;
    test_store_fail(W.ts, fb & 0x20 ? TV_COMMIT : TV_PUT | TV_DEL | TV_COMMIT, 1 + fb % 16, 0, W.fmode);
}

/* After the op: the fault disarmed; with fb & 0x40, a reopen restores what was committed
 * (the store's digest, the pending receipts and the touch counts the engine gave before). */
static void after_fault(uint8_t fb)
{
    test_store_nofail(W.ts);
    W.fmode = TF_ERROR;
    if (!(fb & 0x40))
        return;
    uint8_t d0[ENG__SHA256_LEN], d1[ENG__SHA256_LEN];
    uint64_t p0 = 0, p1 = 0, c0[ENG_CH_COUNT * ENG_TOUCH_STATUS_COUNT], c1[ENG_CH_COUNT * ENG_TOUCH_STATUS_COUNT];
    uint64_t camp = W.ncamp ? W.camp[W.ncamp - 1] : 1;
    digest_of(d0, 0);
    CHECK(eng_touch_pending(W.e, &p0) == ENG_OK);
    CHECK(eng_touch_status_counts(W.e, "acme", camp, 0, c0, ENG_CH_COUNT * ENG_TOUCH_STATUS_COUNT) == ENG_OK);
    CHECK(eng_close(W.e) == ENG_OK);
    open_engine();
    digest_of(d1, 0);
    CHECK(memcmp(d0, d1, sizeof d0) == 0);
    CHECK(eng_touch_pending(W.e, &p1) == ENG_OK && p1 == p0);
    CHECK(eng_touch_status_counts(W.e, "acme", camp, 0, c1, ENG_CH_COUNT * ENG_TOUCH_STATUS_COUNT) == ENG_OK);
    CHECK(memcmp(c0, c1, sizeof c0) == 0);
    check_touch_counts();
}

/* The sweep's modes: a write or commit failing (TF_ERROR), a commit applying and reporting
 * failure (TF_COMMITTED_ERROR), a get or scan failing, a scan cut after some of its keys. */
enum { READS = TF_COMMITTED_ERROR + 1, ITEMS, NMODES };
static const char *const MODE_NAMES[NMODES] = {"write", "commit that applies", "read", "scan's key"};

/* The sweep's fault of the current run, named when a check aborts it; the gets and scans the
 * last run made; FUZZ_API_SWEEP is set. */
static uint64_t sweep_at, run_reads;
static int sweeping;
static int sweep_mode;

static void sweep_abort(int sig)
{
    char line[96];
    int n = snprintf(line, sizeof line, "(in the sweep's run with a fault at %s %llu)\n", MODE_NAMES[sweep_mode],
                     (unsigned long long)sweep_at);
    if (sweep_at && write(2, line, (size_t)n) < 0)
        sig = 0;
    signal(SIGABRT, SIG_DFL);
    raise(sig ? sig : SIGABRT);
}

/* One run of the program; with @p fault_at > 0 its kth storage call of @p mode's kind after
 * its world is made fails, whatever its fault bytes. Returns 1 when the program reached it. */
static int run(const uint8_t *data, size_t size, uint64_t fault_at, int mode)
{
    prog g = {data, size, 0};
    uint8_t cfg = u8(&g);
    world(cfg);
    W.faults = (cfg & 0x44) == 0x40 || fault_at;
    uint64_t failures = test_store_failures(W.ts), reads = test_store_calls(W.ts, TV_GET | TV_SCAN);
    recording = sweeping && !fault_at;
    if (recording)
        base_n = 0;
    sweep_at = fault_at, sweep_mode = mode;
    if (fault_at) {
        static const unsigned masks[NMODES] = {TV_PUT | TV_DEL | TV_COMMIT, TV_COMMIT, TV_GET | TV_SCAN, TV_SCAN_ITEM};
        if (getenv("FUZZ_API_TRACE"))
            fprintf(stderr, "== storage fault at %s %llu\n", MODE_NAMES[mode], (unsigned long long)fault_at);
        W.fmode = mode == TF_COMMITTED_ERROR ? TF_COMMITTED_ERROR : TF_ERROR;
        W.reads = mode >= READS;
        test_store_fail(W.ts, masks[mode], fault_at, 0, W.fmode);
    }
    if (getenv("FUZZ_API_STORE_TRACE")) /* each storage call of the program, to find a failure's key */
        test_store_trace(W.ts, 1);
    for (int steps = 0; g.i < g.n && steps < 64; steps++) {
        uint8_t fb = W.faults && !fault_at ? u8(&g) : 0;
        if (fb & 0x80)
            arm_fault(fb);
        uint8_t op = u8(&g);
        switch (op % 20) {
        case 0: op_campaign(&g, 0); break;
        case 1: op_campaign(&g, 1); break;
        case 2: op_message(&g, 0); break;
        case 3: op_message(&g, 1); break;
        case 4: case 5: op_workflow(&g); break;
        case 6: op_run(&g); break;
        case 7:
            if (op >= 0x80)
                op_ready(&g);
            else
                W.now += (eng_time)(u8(&g) + 1) * ENG_HOUR;
            break;
        case 8: op_customers(&g); break;
        case 9: op_groups(&g); break;
        case 10: op_audience(&g); break;
        case 11: op_receipts(&g); break;
        case 12: op_txns(&g); break;
        case 13: op_report(&g); break;
        case 14: op_privacy(&g); break;
        case 15: op_admin(&g); break;
        case 16: op_reads(&g); break;
        case 17: op_bad_handles(&g); break;
        case 18: op >= 0x80 ? op_reopen(&g) : op_unsubscribe(&g); break;
        default:
            if (op & 0x80)
                op_test_send(&g);
            else if (op & 0x40)
                CALL(eng_campaign_delete(W.e, actor_of(&g), id_of(&g, W.camp, W.ncamp)));
            else
                CALL(eng_message_delete(W.e, actor_of(&g), id_of(&g, W.msg, W.nmsg)));
            break;
        }
        if (fb & 0x80)
            after_fault(fb);
    }
    check_touch_counts();
    int reached = fault_at && test_store_failures(W.ts) != failures;
    run_reads = test_store_calls(W.ts, TV_GET | TV_SCAN) - reads;
    if (W.faults)
        after_fault(0xc0); /* disarmed; a reopen restores what was committed */
    world_free();
    return reached;
}

/* FUZZ_API_SWEEP (opt-in, minutes): each input that arms no faults of its own is run again
 * with a fault at its 1st, 2nd, ... write or commit, then with its 1st, 2nd, ... commit
 * applying and reporting failure, then its 1st, 2nd, ... get or scan failing, then a scan cut
 * at its 1st, 2nd, ... key delivered, until the program no longer reaches it.
 * FUZZ_API_SWEEP=writes (the first two), reads (the last two), or any other value: all. */
static uint64_t sweep_runs[NMODES], sweep_inputs;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int sweep = -1, first = 0, last = NMODES - 1;
    if (sweep < 0) {
        const char *sw = getenv("FUZZ_API_SWEEP");
        sweep = sweeping = sw != NULL;
        if (sw && strcmp(sw, "writes") == 0)
            last = TF_COMMITTED_ERROR;
        if (sw && strcmp(sw, "reads") == 0)
            first = READS;
        if (sw)
            signal(SIGABRT, sweep_abort);
    }
    if (size == 0) { /* the replay's last call: free what is kept between inputs */
        test_store_free(copy);
        test_store_free(seed);
        copy = seed = NULL;
        if (sweep)
            fprintf(stderr, "fault sweep: %llu inputs; runs with a storage fault reached: %llu writes, %llu "
                    "commits that apply, %llu reads, %llu scans cut; %llu calls read again held to the unfaulted "
                    "run's\n", (unsigned long long)sweep_inputs,
                    (unsigned long long)sweep_runs[0], (unsigned long long)sweep_runs[1],
                    (unsigned long long)sweep_runs[2], (unsigned long long)sweep_runs[3],
                    (unsigned long long)read_again_held);
        return 0;
    }
    if (!huge[0])
        memset(huge, 'h', sizeof huge - 1);
    run(data, size, 0, TF_ERROR);
    if ((data[0] & 0x44) == 0x40)
        return 0;
    if (!sweep) { /* every replay and fuzzing run: the same with one read failing, at one its bytes choose */
        uint64_t h = 0;
        for (size_t i = 0; i < size; i++)
            h = h * 31 + data[i];
        if (run_reads)
            run(data, size, 1 + h % run_reads, READS);
        return 0;
    }
    sweep_inputs++;
    for (int mode = first; mode <= last; mode++)
        for (uint64_t k = 1; run(data, size, k, mode); k++)
            sweep_runs[mode]++;
    return 0;
}
