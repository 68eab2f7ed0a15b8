/* The transport's every call against the engine's ledger (soak_filestore).
 *
 * The provider appends each call it gets, "key<TAB>message<TAB>occurrence<TAB>
 * customer<TAB>channel", to a call log before it answers (a repeated key too: the
 * accepted log holds a key once). After every kill the parent reads the calls made
 * since the last check and, for each key not yet final, the send's ledger entry
 * (eng_send_get), and checks the exactly-once ledger against the transport's log:
 *   - no call without its attempt stored first (calls <= the entry's attempts);
 *   - a send stored final (accepted, rejected, expired, skipped) is never handed
 *     to the transport again, whatever kills come after;
 *   - stored accepted: the provider holds its key; skipped or rejected: it does not;
 *   - in doubt (the provider holds it, the ledger does not say final: the child
 *     died between the transport's answer and the outcome's commit): it is sent
 *     again under its key after recovery, and at the world's end it is final,
 *     accepted (or expired); every send ever handed over is final then.
 * Kept apart from the soak's rounds: one concept, the ledger against the log. */
#ifndef SOAK_CALLS_H
#define SOAK_CALLS_H

typedef struct call_rec {
    char key[160];
    uint64_t message;
    uint32_t occurrence, customer;
    int channel;
    uint32_t calls;      /* calls the transport logged with its key */
    int64_t final_calls; /* calls when its ledger entry was first seen final (-1: not yet) */
    int64_t doubt_calls; /* calls when first seen in doubt (-1: never) */
    int held;            /* the provider's accepted log holds it */
} call_rec;

typedef struct call_map {
    call_rec *r;
    size_t n, cap;
    uint32_t *slot; /* open addressing: index + 1 */
    size_t nslot;
    long off;       /* the call log read up to here (whole lines) */
    uint64_t in_doubt, resent, finals;
} call_map;

static call_map calls;
static char calls_path[4200];

static void calls_reset(void)
{
    free(calls.r);
    free(calls.slot);
    memset(&calls, 0, sizeof calls);
}

static call_rec *calls_find(const char *key, int add)
{
    if (add && (calls.n + 1) * 2 > calls.nslot) {
        size_t ns = calls.nslot ? calls.nslot * 2 : 4096;
        uint32_t *s = calloc(ns, sizeof *s);
        CHECK(s != NULL);
        for (size_t i = 0; i < calls.n; i++) {
            size_t j = fnv(calls.r[i].key) & (ns - 1);
            while (s[j])
                j = (j + 1) & (ns - 1);
            s[j] = (uint32_t)i + 1;
        }
        free(calls.slot);
        calls.slot = s;
        calls.nslot = ns;
    }
    if (!calls.nslot)
        return NULL;
    size_t j = fnv(key) & (calls.nslot - 1);
    for (; calls.slot[j]; j = (j + 1) & (calls.nslot - 1))
        if (strcmp(calls.r[calls.slot[j] - 1].key, key) == 0)
            return &calls.r[calls.slot[j] - 1];
    if (!add)
        return NULL;
    if (calls.n == calls.cap) {
        calls.cap = calls.cap ? calls.cap * 2 : 4096;
        CHECK((calls.r = realloc(calls.r, calls.cap * sizeof *calls.r)) != NULL);
    }
    call_rec *c = &calls.r[calls.n];
    memset(c, 0, sizeof *c);
    snprintf(c->key, sizeof c->key, "%s", key);
    c->final_calls = c->doubt_calls = -1;
    calls.slot[j] = (uint32_t)++calls.n;
    return c;
}

/* The provider's side: one line a call, before its answer. */
static void calls_log(int fd, const eng_envelope *env)
{
    char line[256];
    int len = snprintf(line, sizeof line, "%s\t%llu\t%u\t%u\t%d\n", env->idempotency_key,
                       (unsigned long long)env->message, env->occurrence, env->customer, env->channel);
    CHECK(len > 0 && (size_t)len < sizeof line && write(fd, line, (size_t)len) == len);
}

/* The calls logged since the last read (a torn last line, from a kill mid-write, is read
 * when whole: the next child appends whole lines after it only if it was whole). */
static void calls_read(void)
{
    FILE *f = fopen(calls_path, "r");
    if (!f)
        return;
    CHECK(fseek(f, calls.off, SEEK_SET) == 0);
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (!strchr(line, '\n'))
            break;
        calls.off += (long)strlen(line);
        char key[160];
        unsigned long long m;
        unsigned o, c;
        int ch;
        if (sscanf(line, "%159[^\t]\t%llu\t%u\t%u\t%d", key, &m, &o, &c, &ch) != 5)
            continue;
        call_rec *r = calls_find(key, 1);
        r->message = m;
        r->occurrence = o;
        r->customer = c;
        r->channel = ch;
        r->calls++;
    }
    fclose(f);
}

static int ledger_final(int state)
{
    return state == ENG_LEDGER_ACCEPTED || state == ENG_LEDGER_REJECTED || state == ENG_LEDGER_EXPIRED ||
           state == ENG_LEDGER_SKIPPED;
}

/* The checks above on engine @p e, the provider's accepted log @p l (n); @p final: the
 * world's last check, after everything due ran to completion. Returns checks made. */
static uint64_t calls_check(eng_engine *e, const logged *l, size_t n, int final)
{
    calls_read();
    uint64_t checks = 0;
    for (size_t i = 0; i < n; i++) {
        call_rec *r = calls_find(l[i].key, 0);
        if (!r) { /* accepted without a call: its call line torn by a kill (never seen) */
            fprintf(stderr, "soak: the provider accepted %s, its call log has no call of it\n", l[i].key);
            _exit(1);
        }
        r->held = 1;
    }
    for (size_t i = 0; i < calls.n; i++) {
        call_rec *r = &calls.r[i];
        if (r->final_calls >= 0) { /* final: never handed over again */
            if (r->calls != (uint64_t)r->final_calls) {
                fprintf(stderr, "soak: %s sent again after its final outcome was stored (%u calls, %lld then)\n",
                        r->key, r->calls, (long long)r->final_calls);
                _exit(1);
            }
            checks++;
            continue;
        }
        eng_send_info s = ENG_SEND_INFO_INIT;
        CHECK(eng_send_get(e, ADMIN, r->message, r->occurrence, r->customer, r->channel, &s) == ENG_OK);
        CHECK(strcmp(s.key, r->key) == 0);
        if (r->calls > s.attempts) {
            fprintf(stderr, "soak: %s: %u calls at the transport, %u attempts stored\n", r->key, r->calls, s.attempts);
            _exit(1);
        }
        checks += 2;
        if (ledger_final(s.state)) {
            if ((s.state == ENG_LEDGER_ACCEPTED && !r->held) ||
                ((s.state == ENG_LEDGER_SKIPPED || s.state == ENG_LEDGER_REJECTED) && r->held) ||
                (r->doubt_calls >= 0 && s.state != ENG_LEDGER_ACCEPTED && s.state != ENG_LEDGER_EXPIRED)) {
                fprintf(stderr, "soak: %s stored final %d, the provider %s it (in doubt at %lld calls)\n", r->key,
                        s.state, r->held ? "holds" : "does not hold", (long long)r->doubt_calls);
                _exit(1);
            }
            if (r->doubt_calls >= 0 && s.state == ENG_LEDGER_ACCEPTED) {
                if (r->calls <= (uint64_t)r->doubt_calls) { /* the engine could not know: it asked again */
                    fprintf(stderr, "soak: %s in doubt at %lld calls, stored accepted with no call since\n",
                            r->key, (long long)r->doubt_calls);
                    _exit(1);
                }
                calls.resent++;
            }
            r->final_calls = r->calls;
            calls.finals++;
            checks++;
        } else if (r->held && r->doubt_calls < 0) {
            r->doubt_calls = r->calls;
            calls.in_doubt++;
        }
        if (final && !ledger_final(s.state)) {
            fprintf(stderr, "soak: %s (%s by the provider) still %d in the ledger after the final drain\n", r->key,
                    r->held ? "held" : "not held", s.state);
            _exit(1);
        }
    }
    return checks;
}

#endif
