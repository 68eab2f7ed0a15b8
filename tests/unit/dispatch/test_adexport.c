/* Ad audiences: identifiers normalised and hashed as the platforms match
 * them (checked against published vectors), customers chosen for an ad
 * channel leaving through the export callback in parts with a manifest —
 * never through the transport — each customer exported once per channel, a
 * retried part carrying the same key and list, and a message with an ad
 * creative refused while no export callback is set. */
#include "dispatch_fixture.h"
#include "dispatch/dispatch_impl.h"
#include "base/hash.h"

static void hash_of(int ch, const char *contact, char out[65])
{
    int rc = eng_ad_identifier_hash(ch, contact, out, 65);
    if (rc)
        fail_msg("hash of %s on %d: %s", contact, ch, eng_error_last()->message);
}

static void published_vectors(void **state)
{
    (void)state;
    char h[65];
    /* UID2 "Normalization and Encoding": USER@example.com -> user@example.com -> b4c9a289... */
    hash_of(ENG_CH_GOOGLE, "USER@example.com", h);
    assert_string_equal(h, "b4c9a289323b21a01c3e940f150eb9b8c542587f1abfd8f0e1cc1ffc5e475514");
    hash_of(ENG_CH_FACEBOOK, "  USER@example.com\t", h);
    assert_string_equal(h, "b4c9a289323b21a01c3e940f150eb9b8c542587f1abfd8f0e1cc1ffc5e475514");
    /* Same page: JANESaoirse@gmail.com -> janesaoirse@gmail.com, base64 ku4mBX7Z3qJTXWyLFB1INzkyR2WZGW4ANSJUiW21iI8=. */
    hash_of(ENG_CH_INSTAGRAM, "JANESaoirse@gmail.com", h);
    assert_string_equal(h, "92ee26057ed9dea2535d6c8b141d48373932476599196e00352254896db5888f");
    /* Phones: Google wants E.164 with '+' (UID2's example "1 (234) 567-8901" -> "+12345678901"), Meta the
     * digits with country code and no '+'. Digests from Python's hashlib over those strings. */
    hash_of(ENG_CH_GOOGLE, "+1 (234) 567-8901", h);
    assert_string_equal(h, "10e6f0b47054a83359477dcb35231db6de5c69fb1816e1a6b98e192de9e5b9ee");
    hash_of(ENG_CH_YOUTUBE, "0012345678901", h);
    assert_string_equal(h, "10e6f0b47054a83359477dcb35231db6de5c69fb1816e1a6b98e192de9e5b9ee");
    hash_of(ENG_CH_FACEBOOK, "+1 (234) 567-8901", h);
    assert_string_equal(h, "254aa248acb47dd654ca3ea53f48c2c26d641d23d7e2e93a1ec56258df7674c4");
    hash_of(ENG_CH_INSTAGRAM, "1.234.567.8901", h);
    assert_string_equal(h, "254aa248acb47dd654ca3ea53f48c2c26d641d23d7e2e93a1ec56258df7674c4");
    /* Refused: not an ad channel, not a phone, too short, too long, no room. */
    assert_int_equal(eng_ad_identifier_hash(ENG_CH_SMS, "+12345678901", h, sizeof h), ENG_EINVAL);
    assert_string_equal(eng_error_last()->detail, "channel");
    assert_string_equal(h, "");
    assert_int_equal(eng_ad_identifier_hash(ENG_CH_GOOGLE, "call me", h, sizeof h), ENG_EINVAL);
    assert_int_equal(eng_ad_identifier_hash(ENG_CH_GOOGLE, "+12345", h, sizeof h), ENG_EINVAL);
    assert_int_equal(eng_ad_identifier_hash(ENG_CH_GOOGLE, "+1234567890123456", h, sizeof h), ENG_EINVAL);
    assert_int_equal(eng_ad_identifier_hash(ENG_CH_GOOGLE, "   ", h, sizeof h), ENG_EINVAL);
    assert_int_equal(eng_ad_identifier_hash(ENG_CH_GOOGLE, "+12345678901", h, 64), ENG_EINVAL);
    assert_int_equal(eng_ad_identifier_hash(ENG_CH_GOOGLE, NULL, h, sizeof h), ENG_EINVAL);
}

/* The export side: what the platform received, per key (first acceptance only, as a platform de-duplicates). */
typedef struct part_log {
    char key[ENG_SEND_KEY_MAX + 1];
    char list[65];
    int channel;
    uint64_t count;
    unsigned calls;
    int accepted;
} part_log;

typedef struct exporter {
    part_log parts[256];
    size_t nparts;
    char **hashes[ENG_CH_COUNT]; /* accepted identifiers per channel */
    size_t nhashes[ENG_CH_COUNT];
    unsigned retry_first;        /* answer RETRY to the first call of this many parts */
    unsigned calls, key_list_changed;
    uint64_t campaign, message;
} exporter;

static int record_export(const eng_ad_manifest *m, const char *const *hashes, int *status, void *user)
{
    exporter *x = user;
    x->calls++;
    assert_int_equal(m->version, ENG_AD_MANIFEST_VERSION);
    assert_int_equal(m->campaign, x->campaign);
    assert_int_equal(m->message, x->message);
    /* The manifest's list hash, recomputed here from the list. */
    eng__sha256_ctx s;
    eng__sha256_init(&s);
    for (uint64_t i = 0; i < m->count; i++) {
        assert_int_equal(strlen(hashes[i]), 64);
        eng__sha256_update(&s, hashes[i], 64);
        eng__sha256_update(&s, "\n", 1);
    }
    uint8_t d[32];
    char hex[65];
    eng__sha256_final(&s, d);
    eng__hex(d, 32, hex);
    hex[64] = 0;
    assert_string_equal(hex, m->list_sha256);
    part_log *p = NULL;
    for (size_t i = 0; i < x->nparts; i++)
        if (strcmp(x->parts[i].key, m->idempotency_key) == 0)
            p = &x->parts[i];
    if (!p) {
        assert_true(x->nparts < 256);
        p = &x->parts[x->nparts++];
        snprintf(p->key, sizeof p->key, "%s", m->idempotency_key);
        snprintf(p->list, sizeof p->list, "%s", m->list_sha256);
        p->channel = m->channel;
        p->count = m->count;
    } else if (strcmp(p->list, m->list_sha256) != 0 || p->channel != m->channel) {
        x->key_list_changed++;
    }
    p->calls++;
    if (x->retry_first && p->calls == 1 && (size_t)(p - x->parts) < x->retry_first) {
        *status = ENG_SEND_RETRY;
        return ENG_OK;
    }
    if (!p->accepted) {
        p->accepted = 1;
        for (uint64_t i = 0; i < m->count; i++) {
            x->hashes[m->channel] = realloc(x->hashes[m->channel], (x->nhashes[m->channel] + 1) * sizeof(char *));
            x->hashes[m->channel][x->nhashes[m->channel]++] = strdup(hashes[i]);
        }
    }
    *status = ENG_SEND_ACCEPTED;
    return ENG_OK;
}

static void exporter_free(exporter *x)
{
    for (int ch = 0; ch < ENG_CH_COUNT; ch++) {
        for (size_t i = 0; i < x->nhashes[ch]; i++)
            free(x->hashes[ch][i]);
        free(x->hashes[ch]);
    }
}

static void set_export(dx *f, exporter *x)
{
    eng_dispatch_hooks h = ENG_DISPATCH_HOOKS_INIT;
    h.ad_export = record_export;
    assert_int_equal(eng_dispatch_hooks_set(f->e, &h, x), ENG_OK);
    x->campaign = f->campaign;
    x->message = f->message;
}

static const eng_creative ad_creatives[] = {
    {ENG_CH_FACEBOOK, "Diwali offer", "20% off this week"},
    {ENG_CH_GOOGLE, "Diwali", "20% off"},
};

/* Ad contacts for customers c0..c{n-1}: a Facebook phone for all, a Google email for all but every 3rd. */
static void ad_contacts(dx *f)
{
    size_t cap = f->n * 128 + 128;
    char *csv = malloc(cap), *p = csv;
    p += sprintf(p, "id,contact.facebook,consent.facebook,contact.google,consent.google\n");
    for (size_t i = 0; i < f->n; i++) {
        if (i % 3)
            p += sprintf(p, "c%zu,+1-555-%07zu,yes,C%zu@Example.com,yes\n", i, i, i);
        else
            p += sprintf(p, "c%zu,(+1)555.%07zu,yes,,\n", i, i);
    }
    int rc = eng_customers_import_csv_buffer(f->e, "root", csv, (size_t)(p - csv), NULL, NULL);
    if (rc)
        fprintf(stderr, "import: %s\n", eng_error_last()->message);
    assert_int_equal(rc, ENG_OK);
    free(csv);
}

static eng_message_spec ad_message(void)
{
    eng_message_spec m = dx_message();
    m.creatives = ad_creatives;
    m.n_creatives = 2;
    return m;
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Exactly the identifiers of the customers whose send on each ad channel the
 * ledger holds as accepted, each once; returns how many in all. */
static size_t check_exported(dx *f, exporter *x)
{
    size_t n, all = 0;
    uint32_t *ids = dx_test_group(f, &n);
    for (int k = 0; k < 2; k++) {
        int ch = k ? ENG_CH_GOOGLE : ENG_CH_FACEBOOK;
        char **want = calloc(n ? n : 1, sizeof *want);
        size_t nw = 0;
        for (size_t i = 0; i < n; i++) {
            eng_send_info si = ENG_SEND_INFO_INIT;
            int rc = eng_send_get(f->e, "root", f->message, 0, ids[i], ch, &si);
            if (rc == ENG_ENOTFOUND)
                continue;
            assert_int_equal(rc, ENG_OK);
            assert_int_equal(si.state, ENG_LEDGER_ACCEPTED);
            size_t c = dx_ext(f, ids[i]);
            char contact[64], h[65];
            assert_true(ch != ENG_CH_GOOGLE || c % 3 != 0);
            if (ch == ENG_CH_GOOGLE)
                snprintf(contact, sizeof contact, "c%zu@example.com", c);
            else
                snprintf(contact, sizeof contact, "1555%07zu", c);
            uint8_t d[32];
            eng__sha256(contact, strlen(contact), d); /* the normalised form written out by hand */
            eng__hex(d, 32, h);
            h[64] = 0;
            want[nw++] = strdup(h);
        }
        assert_int_equal(x->nhashes[ch], nw);
        all += nw;
        qsort(want, nw, sizeof *want, str_cmp);
        if (nw)
            qsort(x->hashes[ch], nw, sizeof *x->hashes[ch], str_cmp);
        for (size_t i = 0; i < nw; i++) {
            assert_string_equal(x->hashes[ch][i], want[i]);
            free(want[i]);
        }
        free(want);
    }
    free(ids);
    return all;
}

/* An X-Engage message with ad creatives (a plain message may have them too, below): the history of
 * dx_xengage(), then an X-Engage message with only the two ad creatives. */
static void ad_world(dx *f, size_t n)
{
    dx_world(f, n, 32, 1, 1);
    ad_contacts(f);
    dx_xengage(f); /* approves an X-Engage message with the SMS/email creatives: stopped, replaced below */
    assert_int_equal(eng_message_execute(f->e, "root", f->message, ENG_ACT_STOP), ENG_OK);
    eng_message_spec m = ad_message();
    m.title = "Ads";
    m.strategy = ENG_STRATEGY_XENGAGE;
    dx_approve(f, &m);
}

static void audiences_leave_through_the_export(void **state)
{
    (void)state;
    dx f;
    exporter x;
    memset(&x, 0, sizeof x);
    ad_world(&f, 150);
    set_export(&f, &x);
    unsigned envelopes = f.prov.envelopes; /* the history's blast */
    x.retry_first = 2; /* the first two parts are refused once: retried with the same key and list */
    eng_run_report total = ENG_RUN_REPORT_INIT;
    dx_run_all(&f, f.t0, &total);
    assert_int_equal(f.prov.envelopes, envelopes); /* nothing went through the transport */
    assert_int_equal(x.key_list_changed, 0);
    size_t exported = check_exported(&f, &x);
    assert_true(exported > 0);
    assert_true(x.nparts >= 2);
    printf("ad export: %zu identifiers in %zu parts (facebook %zu, google %zu)\n", exported, x.nparts,
           x.nhashes[ENG_CH_FACEBOOK], x.nhashes[ENG_CH_GOOGLE]);
    for (size_t i = 0; i < x.nparts; i++) {
        assert_true(x.parts[i].accepted);
        assert_true(x.parts[i].count > 0 && x.parts[i].count <= 32);
        assert_int_equal(x.parts[i].calls, i < 2 ? 2 : 1);
        for (size_t j = 0; j < i; j++)
            assert_true(strcmp(x.parts[i].key, x.parts[j].key) != 0);
    }
    eng_execution_info xi = ENG_EXECUTION_INFO_INIT;
    assert_int_equal(eng_execution_get(f.e, "root", f.message, 0, &xi), ENG_OK);
    assert_int_equal(xi.state, ENG_EXEC_FINISHED);
    assert_int_equal(xi.accepted, exported);
    /* Reopened, with the hooks set again: nothing is exported twice. */
    unsigned calls = x.calls;
    dx_reopen(&f);
    set_export(&f, &x);
    dx_run_all(&f, f.t0 + ENG_DAY, NULL);
    assert_int_equal(x.calls, calls);
    exporter_free(&x);
    dx_close(&f);
}

/* Run f's message with no export callback set: refused at execution, with the reason; closes @p f. */
static void expect_refused(dx *f)
{
    eng_run_report rep = ENG_RUN_REPORT_INIT;
    assert_int_equal(eng_run_due(f->e, "root", f->t0, NULL, &rep), ENG_OK);
    assert_int_equal(rep.refused, 1);
    eng_execution_info xi = ENG_EXECUTION_INFO_INIT;
    assert_int_equal(eng_execution_get(f->e, "root", f->message, 0, &xi), ENG_OK);
    assert_non_null(strstr(xi.reason, "ad export callback"));
    dx_close(f);
}

static void refused_without_an_export(void **state)
{
    (void)state;
    dx f;
    ad_world(&f, 40);
    eng_dispatch_hooks bad = {.version = 9};
    assert_int_equal(eng_dispatch_hooks_set(f.e, &bad, NULL), ENG_EVERSION);
    assert_int_equal(eng_dispatch_hooks_set(NULL, NULL, NULL), ENG_EMISUSE);
    expect_refused(&f);
}

/* Erasure (docs/privacy.md): the library stores no identifier it exported --
 * the ledger holds dense ids and states as for any send -- and a part retried
 * after its customers were erased is rebuilt from their contacts, which are
 * gone: the platform never receives an erased customer's identifier again. */
static void erased_before_a_retry(void **state)
{
    (void)state;
    dx f;
    exporter x;
    memset(&x, 0, sizeof x);
    ad_world(&f, 60);
    set_export(&f, &x);
    x.retry_first = 256; /* every part is refused once */
    eng_run_report rep = ENG_RUN_REPORT_INIT;
    assert_int_equal(eng_run_due(f.e, "root", f.t0, NULL, &rep), ENG_OK);
    assert_true(x.calls > 0);
    for (int k = 0; k < ENG_CH_COUNT; k++)
        assert_int_equal(x.nhashes[k], 0);
    char gone[20][2][65];
    for (int i = 0; i < 20; i++) {
        char ext[16], mail[32], phone[32];
        snprintf(ext, sizeof ext, "c%d", i);
        snprintf(mail, sizeof mail, "C%d@Example.com", i);
        snprintf(phone, sizeof phone, "+1-555-%07d", i);
        assert_int_equal(eng_ad_identifier_hash(ENG_CH_GOOGLE, mail, gone[i][0], 65), ENG_OK);
        assert_int_equal(eng_ad_identifier_hash(ENG_CH_FACEBOOK, phone, gone[i][1], 65), ENG_OK);
        assert_int_equal(eng_customer_erase(f.e, "root", ext), ENG_OK);
    }
    dx_run_all(&f, f.t0 + ENG_DAY, NULL);
    size_t total = 0;
    for (int k = 0; k < ENG_CH_COUNT; k++)
        for (size_t j = 0; j < x.nhashes[k]; j++, total++)
            for (int i = 0; i < 20; i++)
                assert_true(strcmp(x.hashes[k][j], gone[i][0]) != 0 && strcmp(x.hashes[k][j], gone[i][1]) != 0);
    assert_true(total > 0); /* the others were exported */
    assert_int_equal(x.key_list_changed > 0, 1); /* the retried lists lost the erased customers */
    exporter_free(&x);
    dx_close(&f);
}

/* The re-entrancy rule (engine.h, "Callbacks"; the table of dispatch_reentry):
 * the ad-export hook runs without the engine lock, as the transport does, so a
 * call back into the engine from it works, and the export still completes. */
static eng_engine *nested_e;
static int nested_rc = 1;
static int reentrant_export(const eng_ad_manifest *m, const char *const *hashes, int *status, void *user)
{
    if (nested_rc == 1) {
        eng_actor_spec a = ENG_ACTOR_SPEC_INIT;
        a.id = "from-export";
        a.roles = ENG_ROLE_VIEWER;
        nested_rc = eng_actor_put(nested_e, "root", &a);
    }
    return record_export(m, hashes, status, user);
}

static void export_may_call_the_engine(void **state)
{
    (void)state;
    dx f;
    exporter x;
    memset(&x, 0, sizeof x);
    ad_world(&f, 40);
    eng_dispatch_hooks h = ENG_DISPATCH_HOOKS_INIT;
    h.ad_export = reentrant_export;
    assert_int_equal(eng_dispatch_hooks_set(f.e, &h, &x), ENG_OK);
    x.campaign = f.campaign;
    x.message = f.message;
    nested_e = f.e;
    dx_run_all(&f, f.t0, NULL);
    assert_int_equal(nested_rc, ENG_OK);
    eng_actor_spec a = ENG_ACTOR_SPEC_INIT;
    assert_int_equal(eng_actor_get(f.e, "root", "from-export", &a), ENG_OK);
    assert_true(check_exported(&f, &x) > 0);
    nested_e = NULL;
    exporter_free(&x);
    dx_close(&f);
}

/* ---- Ad creatives on plain messages: the same export, whatever strategy chose the channel ---- */

static const eng_creative plain_creatives[] = {
    {ENG_CH_EMAIL, "Offer for {{first_name | \"you\"}}", "<p>Hello {{first_name}}</p>{{unsubscribe}}"},
    {ENG_CH_FACEBOOK, "Diwali offer", "20% off this week"},
};
#define FB_COST 2

/* dx_world's customers (email for all but every 5th), ad contacts (a Facebook phone for all, consent
 * withdrawn for every 4th when @p fb_gaps), Facebook costing FB_COST, and a plain message (email +
 * Facebook) with @p strategy: f->message. */
static void plain_ad_world(dx *f, size_t n, unsigned batch, int strategy, int fb_gaps)
{
    dx_world(f, n, batch, 1, 1);
    ad_contacts(f);
    if (fb_gaps) {
        char *csv = malloc(n * 32 + 64), *p = csv;
        p += sprintf(p, "id,consent.facebook\n");
        for (size_t i = 0; i < n; i += 4)
            p += sprintf(p, "c%zu,no\n", i);
        assert_int_equal(eng_customers_import_csv_buffer(f->e, "root", csv, (size_t)(p - csv), NULL, NULL), ENG_OK);
        free(csv);
    }
    eng_org_settings s;
    assert_int_equal(eng_org_settings_get(f->e, "root", &s), ENG_OK);
    s.channel_cost[ENG_CH_FACEBOOK] = FB_COST;
    assert_int_equal(eng_org_settings_set(f->e, "root", &s, NULL), ENG_OK);
    eng_message_spec m = dx_message();
    m.creatives = plain_creatives;
    m.n_creatives = 2;
    m.strategy = strategy;
    static const int fb_first[] = {ENG_CH_FACEBOOK, ENG_CH_EMAIL};
    if (strategy == ENG_STRATEGY_CHANNEL_PRIORITY) {
        m.channel_priority = fb_first;
        m.n_channel_priority = 2;
    }
    dx_approve(f, &m);
}

/* What a finished plain execution must show: every email through the transport once and every
 * Facebook send through the export (check_exported: the ledger's accepted sends, each identifier
 * once), nothing else; the counters, one `sent` touch per send and the credits (email 1, Facebook
 * FB_COST) agree. @p priority: a customer reachable on Facebook gets no email. Returns the sends. */
static size_t check_plain(dx *f, exporter *x, int priority)
{
    size_t n, emails = 0, fb = 0;
    uint32_t *ids = dx_test_group(f, &n);
    for (size_t i = 0; i < n; i++) {
        size_t c = dx_ext(f, ids[i]);
        int fb_ok = !(priority == 2 && c % 4 == 0), mail_ok = c % 5 != 0 && !(priority && fb_ok);
        assert_int_equal(f->prov.delivered[dx_pair(ids[i], ENG_CH_EMAIL)], mail_ok);
        assert_int_equal(f->prov.delivered[dx_pair(ids[i], ENG_CH_FACEBOOK)], 0); /* never the transport */
        eng_send_info si = ENG_SEND_INFO_INIT;
        assert_int_equal(eng_send_get(f->e, "root", f->message, 0, ids[i], ENG_CH_FACEBOOK, &si),
                         fb_ok ? ENG_OK : ENG_ENOTFOUND);
        emails += (size_t)mail_ok;
        fb += (size_t)fb_ok;
    }
    free(ids);
    assert_int_equal(f->prov.key_changed, 0);
    assert_int_equal(x->key_list_changed, 0);
    assert_int_equal(check_exported(f, x), fb);
    assert_int_equal(x->nhashes[ENG_CH_GOOGLE], 0);
    uint64_t counts[ENG_CH_COUNT * ENG_TOUCH_STATUS_COUNT];
    assert_int_equal(eng_touch_status_counts(f->e, "acme", f->campaign, f->message, counts, ENG_CH_COUNT *
                                             ENG_TOUCH_STATUS_COUNT), ENG_OK);
    uint64_t touched[ENG_CH_COUNT] = {0};
    for (int ch = 0; ch < ENG_CH_COUNT; ch++)
        for (int st = 0; st < ENG_TOUCH_STATUS_COUNT; st++)
            touched[ch] += counts[ch * ENG_TOUCH_STATUS_COUNT + st];
    assert_int_equal(touched[ENG_CH_EMAIL], emails);
    assert_int_equal(touched[ENG_CH_FACEBOOK], fb);
    eng_execution_info xi = ENG_EXECUTION_INFO_INIT;
    assert_int_equal(eng_execution_get(f->e, "root", f->message, 0, &xi), ENG_OK);
    assert_int_equal(xi.state, ENG_EXEC_FINISHED);
    assert_int_equal(xi.accepted, emails + fb);
    assert_int_equal(xi.credits, (int64_t)(emails + FB_COST * fb));
    int64_t bal;
    assert_int_equal(eng_credits_balance(f->e, "root", ENG_CREDITS_CAMPAIGN, &bal), ENG_OK);
    assert_int_equal(bal, 1000000 - (int64_t)(emails + FB_COST * fb));
    return emails + fb;
}

/* A plain broadcast (every creative): email through the transport, Facebook through the export;
 * the run report counts both; reopened, nothing goes twice. */
static void plain_broadcast_exports_its_ads(void **state)
{
    (void)state;
    dx f;
    exporter x;
    memset(&x, 0, sizeof x);
    plain_ad_world(&f, 90, 16, ENG_STRATEGY_NONE, 0);
    set_export(&f, &x);
    x.retry_first = 1;
    eng_run_report total = ENG_RUN_REPORT_INIT;
    dx_run_all(&f, f.t0, &total);
    size_t sends = check_plain(&f, &x, 0);
    assert_int_equal(total.accepted, sends);
    size_t tg;
    free(dx_test_group(&f, &tg));
    assert_int_equal(x.nhashes[ENG_CH_FACEBOOK], tg); /* every customer of the test group has a Facebook phone */
    printf("plain broadcast: %zu sends, %zu exported to facebook in %zu parts\n", sends,
           x.nhashes[ENG_CH_FACEBOOK], x.nparts);
    unsigned calls = x.calls, env = f.prov.envelopes;
    dx_reopen(&f);
    set_export(&f, &x);
    dx_run_all(&f, f.t0 + ENG_DAY, NULL);
    assert_int_equal(x.calls, calls);
    assert_int_equal(f.prov.envelopes, env);
    exporter_free(&x);
    dx_close(&f);
}

/* A channel priority whose list puts Facebook first: the customers reachable there are exported,
 * the others (consent withdrawn) get the email. Without a callback the execution is refused. */
static void priority_puts_facebook_first(void **state)
{
    (void)state;
    dx f;
    exporter x;
    memset(&x, 0, sizeof x);
    plain_ad_world(&f, 80, 16, ENG_STRATEGY_CHANNEL_PRIORITY, 1);
    expect_refused(&f);
    plain_ad_world(&f, 80, 16, ENG_STRATEGY_CHANNEL_PRIORITY, 1);
    set_export(&f, &x);
    eng_run_report total = ENG_RUN_REPORT_INIT;
    dx_run_all(&f, f.t0, &total);
    assert_int_equal(total.accepted, check_plain(&f, &x, 2));
    size_t tg, fb = 0;
    uint32_t *ids = dx_test_group(&f, &tg);
    for (size_t i = 0; i < tg; i++)
        fb += dx_ext(&f, ids[i]) % 4 != 0;
    free(ids);
    assert_int_equal(x.nhashes[ENG_CH_FACEBOOK], fb);
    assert_true(fb > 0 && fb < tg);
    exporter_free(&x);
    dx_close(&f);
}

/* ---- exactly once for a plain message's ad sends: crash points, commits applied then failed,
 * conflicts and failed allocations (dispatch_fixture.h's loops), the platform kept across them ---- */

static exporter crash_x; /* the platform: it outlives the abandoned engine */

static void crash_opened(dx *f)
{
    set_export(f, &crash_x);
}

static void crash_setup(dx *f)
{
    exporter_free(&crash_x);
    memset(&crash_x, 0, sizeof crash_x);
    plain_ad_world(f, 40, 8, ENG_STRATEGY_NONE, 0);
    crash_opened(f);
}

static void crash_resume(dx *f)
{
    crash_opened(f);
    dx_run_all(f, f->t0, NULL);
    check_plain(f, &crash_x, 0);
}

static void crash_after(void)
{
    exporter_free(&crash_x);
    memset(&crash_x, 0, sizeof crash_x);
}

static void plain_ads_exactly_once(void **state)
{
    (void)state;
    const unsigned stride = test_slow_runtime() ? 8 : 1; /* every stride-th write abandoned */
    const dx_crash c = {crash_setup, crash_resume, crash_after, stride, crash_opened};
    dx_crash_counts k = dx_crash_loops(&c);
    unsigned conflicts = dx_conflict_loop(&c);
    uint64_t allocs = dx_alloc_loop(&(dx_crash){crash_setup, crash_resume, crash_after,
                                                test_slow_runtime() ? 40 : 5, NULL});
    printf("plain ad sends: abandoned at each of %llu writes, %llu commits applied-then-failed, a conflict at %u "
           "commits, allocations failed up to %llu: each identifier exported once, each email sent once\n",
           (unsigned long long)k.abandoned, (unsigned long long)k.applied, conflicts, (unsigned long long)allocs);
    assert_true(k.abandoned * stride > 10 && conflicts > 3); /* the run has more than 10 writes either way */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(published_vectors),
        cmocka_unit_test(audiences_leave_through_the_export),
        cmocka_unit_test(refused_without_an_export),
        cmocka_unit_test(export_may_call_the_engine),
        cmocka_unit_test(erased_before_a_retry),
        cmocka_unit_test(plain_broadcast_exports_its_ads),
        cmocka_unit_test(priority_puts_facebook_first),
        cmocka_unit_test(plain_ads_exactly_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
