/* The audit log: entries for every change, a hash chain that verifies after
 * reopen and fails when any stored entry is altered or the tail is cut. */
#include "model_fixture.h"

#include <stdlib.h>

#include "core/engine_impl.h"
#include "base/codec.h"
#include "base/hash.h"
#include "model/model_impl.h"
#include "store/record.h"

typedef struct row {
    uint64_t seq;
    char actor[16], object[32], action[16], state[65], prev[65], hash[65];
} row;

static size_t read_log(eng_engine *e, const char *actor, row *rows, size_t max)
{
    eng_audit_iter *it;
    assert_int_equal(eng_audit_open(e, actor, &it), ENG_OK);
    eng_audit_entry x = ENG_AUDIT_ENTRY_INIT;
    size_t n = 0;
    int rc;
    while ((rc = eng_audit_next(it, &x)) == ENG_OK) {
        assert_true(n < max);
        rows[n].seq = x.seq;
        snprintf(rows[n].actor, sizeof rows[n].actor, "%s", x.actor);
        snprintf(rows[n].object, sizeof rows[n].object, "%s", x.object);
        snprintf(rows[n].action, sizeof rows[n].action, "%s", x.action);
        snprintf(rows[n].state, sizeof rows[n].state, "%s", x.state_hash);
        snprintf(rows[n].prev, sizeof rows[n].prev, "%s", x.prev_hash);
        snprintf(rows[n].hash, sizeof rows[n].hash, "%s", x.hash);
        assert_int_equal(strlen(x.state_hash), 64);
        assert_true(x.time > 0);
        n++;
    }
    assert_int_equal(rc, ENG_ITEROVER);
    eng_audit_free(it);
    return n;
}

static uint64_t workflow(fx *f)
{
    eng_campaign_spec c = fx_campaign("Diwali");
    uint64_t cid, id;
    assert_int_equal(eng_campaign_create(f->e, "ann", &c, &cid, NULL), ENG_OK);
    eng_message_spec m = fx_message();
    assert_int_equal(eng_message_create(f->e, "ann", cid, &m, &id, NULL), ENG_OK);
    assert_int_equal(eng_message_submit(f->e, "ann", id, NULL), ENG_OK);
    assert_int_equal(eng_message_reject(f->e, "bob", id, "no"), ENG_OK);
    assert_int_equal(eng_message_update(f->e, "ann", id, &m, NULL), ENG_OK);
    assert_int_equal(eng_message_submit(f->e, "ann", id, NULL), ENG_OK);
    assert_int_equal(eng_message_approve(f->e, "bob", id, NULL, "ok"), ENG_OK);
    return id;
}

/* Rewrite one stored entry's payload byte and fix the record CRC, as a careful forger would. */
static void forge(test_store *ts, const char *key, size_t at, uint8_t xor_with, int fix_crc)
{
    uint8_t *raw;
    size_t len;
    assert_int_equal(test_store_raw_get(ts, key, &raw, &len), ENG_OK);
    assert_true(at < len - ENG__REC_HEADER);
    raw[ENG__REC_HEADER + at] ^= xor_with;
    if (fix_crc)
        eng__put32(raw + 12, eng__crc32c(eng__crc32c(0, raw, 12), raw + ENG__REC_HEADER, len - ENG__REC_HEADER));
    assert_int_equal(test_store_raw_put(ts, key, raw, len), ENG_OK);
    free(raw);
}

static void chain(void **st)
{
    (void)st;
    fx f;
    fx_open(&f);
    uint64_t id = workflow(&f);
    row rows[64];
    size_t n = read_log(f.e, "root", rows, 64);
    /* org settings, its admin, 3 units, 5 actors, campaign, message create and the campaign's new message
     * list, message submit/reject/update/submit/approve, and the campaign's goal locked by that first approval */
    assert_int_equal(n, 1 + 1 + 3 + 5 + 1 + 2 + 5 + 1);
    char obj[32];
    snprintf(obj, sizeof obj, "message/%llu", (unsigned long long)id);
    assert_string_equal(rows[0].object, "org");
    assert_string_equal(rows[0].actor, "root");
    assert_string_equal(rows[1].object, "actor/root");
    assert_string_equal(rows[5].object, "actor/ann");
    assert_string_equal(rows[5].actor, "root"); /* who acted, not who was changed */
    assert_string_equal(rows[10].object, "campaign/1");
    assert_string_equal(rows[10].action, "create");
    assert_string_equal(rows[10].actor, "ann");
    assert_string_equal(rows[11].object, obj);
    assert_string_equal(rows[11].action, "create");
    assert_string_equal(rows[12].object, "campaign/1");
    assert_string_equal(rows[12].action, "message-add");
    assert_string_equal(rows[12].actor, "ann");
    assert_string_equal(rows[14].action, "reject");
    assert_string_equal(rows[14].actor, "bob");
    assert_string_equal(rows[n - 2].object, obj);
    assert_string_equal(rows[n - 2].action, "approve");
    assert_string_equal(rows[n - 1].object, "campaign/1");
    assert_string_equal(rows[n - 1].action, "lock-goal");
    /* Each entry links to the previous one's hash; the first to zeros. */
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(rows[i].seq, i + 1);
        if (i == 0)
            assert_string_equal(rows[i].prev, "0000000000000000000000000000000000000000000000000000000000000000");
        else
            assert_string_equal(rows[i].prev, rows[i - 1].hash);
    }
    uint64_t bad = 99;
    assert_int_equal(eng_audit_verify(f.e, "root", &bad), ENG_OK);
    assert_int_equal(bad, 0);
    /* Members without admin rights cannot read or verify the log. */
    eng_audit_iter *it;
    assert_int_equal(eng_audit_open(f.e, "ann", &it), ENG_EDENIED);
    assert_int_equal(eng_audit_verify(f.e, "sam", &bad), ENG_EDENIED);
    /* Another org's admin sees only their own entries. */
    assert_int_equal(eng_org_create(f.e, "globex", NULL, "gadmin", NULL), ENG_OK);
    size_t gn = read_log(f.e, "gadmin", rows, 64);
    assert_int_equal(gn, 2);
    assert_int_equal(rows[0].seq, n + 1);
    assert_int_equal(eng_audit_verify(f.e, "gadmin", &bad), ENG_OK);
    fx_close(&f);
}

static void tamper(void **st)
{
    (void)st;
    fx f;
    fx_open(&f);
    workflow(&f);
    fx_reopen(&f);
    uint64_t bad;
    assert_int_equal(eng_audit_verify(f.e, "root", &bad), ENG_OK);
    const char *key = "m/l/000000000000000c"; /* entry 12: message create by ann */
    uint8_t *orig;
    size_t olen;
    assert_int_equal(test_store_raw_get(f.ts, key, &orig, &olen), ENG_OK);
    /* A flipped byte: the record checksum catches it. */
    forge(f.ts, key, 20, 0x01, 0);
    assert_int_equal(eng_audit_verify(f.e, "root", &bad), ENG_ECORRUPT);
    assert_int_equal(bad, 12);
    /* Forged records with a valid checksum (every 7th payload byte changed in
     * turn): the entry hash or the next entry's link catches each one. */
    assert_int_equal(test_store_raw_put(f.ts, key, orig, olen), ENG_OK);
    assert_int_equal(eng_audit_verify(f.e, "root", &bad), ENG_OK);
    for (size_t at = 0; at < olen - ENG__REC_HEADER; at += 7) {
        forge(f.ts, key, at, 0x20, 1);
        int rc = eng_audit_verify(f.e, "root", &bad);
        assert_int_equal(rc, ENG_ECORRUPT);
        assert_true(bad == 12 || bad == 13);
        assert_int_equal(test_store_raw_put(f.ts, key, orig, olen), ENG_OK);
    }
    assert_int_equal(eng_audit_verify(f.e, "root", &bad), ENG_OK);
    /* Cutting the tail is caught by the head record. */
    assert_int_equal(eng__kv_del(f.e->store, ENG__K("m/l/0000000000000013")), ENG_OK);
    assert_int_equal(eng_audit_verify(f.e, "root", &bad), ENG_ECORRUPT);
    assert_int_equal(bad, 19);
    free(orig);
    fx_close(&f);
}

/* The payload of a stored record (after the record header), or NULL when the key is gone. */
static uint8_t *stored(test_store *ts, const char *key, size_t *len)
{
    uint8_t *raw;
    size_t n;
    if (test_store_raw_get(ts, key, &raw, &n) != ENG_OK)
        return NULL;
    assert_true(n >= ENG__REC_HEADER);
    memmove(raw, raw + ENG__REC_HEADER, n - ENG__REC_HEADER);
    *len = n - ENG__REC_HEADER;
    return raw;
}

static void hex(const uint8_t *h, char out[65])
{
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", h[i]);
}

/* The state hash an entry about @p object must carry now: SHA-256 of the
 * object's stored record, of its two balances for credits, of nothing once deleted. */
static void expected_state(fx *f, const char *object, char out[65])
{
    char key[64];
    uint8_t h[32];
    if (!strcmp(object, "org"))
        snprintf(key, sizeof key, "m/o/acme");
    else if (!strncmp(object, "actor/", 6))
        snprintf(key, sizeof key, "m/a/%s", object + 6);
    else if (!strncmp(object, "campaign/", 9))
        snprintf(key, sizeof key, "m/c/%016llx", strtoull(object + 9, NULL, 10));
    else if (!strncmp(object, "message/", 8))
        snprintf(key, sizeof key, "m/g/%016llx", strtoull(object + 8, NULL, 10));
    else {
        assert_int_equal(strncmp(object, "credits/", 8), 0);
        int64_t b[2];
        uint8_t st[16];
        assert_int_equal(eng_credits_balance(f->e, "root", ENG_CREDITS_CAMPAIGN, &b[0]), ENG_OK);
        assert_int_equal(eng_credits_balance(f->e, "root", ENG_CREDITS_XENGAGE, &b[1]), ENG_OK);
        eng__put64(st, (uint64_t)b[0]);
        eng__put64(st + 8, (uint64_t)b[1]);
        eng__sha256(st, sizeof st, h);
        hex(h, out);
        return;
    }
    size_t len = 0;
    uint8_t *p = stored(f->ts, key, &len);
    eng__sha256(p ? p : (const uint8_t *)"", len, h);
    free(p);
    hex(h, out);
}

/* The log grew by exactly the @p n (object, action) pairs in @p want, each
 * carrying the hash of its object's state now; the chain still verifies. */
static size_t log_len;
static void grew(fx *f, size_t n, const char *const want[][2])
{
    row rows[128];
    size_t got = read_log(f->e, "root", rows, 128);
    assert_int_equal(got, log_len + n);
    for (size_t i = 0; i < n; i++) {
        const row *r = &rows[log_len + i];
        assert_string_equal(r->object, want[i][0]);
        assert_string_equal(r->action, want[i][1]);
        int later = 0; /* an earlier state of an object changed again within the group is gone */
        for (size_t j = i + 1; j < n; j++)
            later |= !strcmp(want[j][0], want[i][0]);
        if (later)
            continue;
        char st[65];
        expected_state(f, r->object, st);
        if (strcmp(r->state, st) != 0)
            fprintf(stderr, "entry %llu %s %s: state hash is not the stored state's\n", (unsigned long long)r->seq,
                    r->object, r->action);
        assert_string_equal(r->state, st);
    }
    log_len = got;
    uint64_t bad;
    assert_int_equal(eng_audit_verify(f->e, "root", &bad), ENG_OK);
}

#define GREW(...)                                                            \
    do {                                                                     \
        const char *const want_[][2] = {__VA_ARGS__};                        \
        grew(&f, sizeof want_ / sizeof want_[0], want_);                     \
    } while (0)

/* Every kind of change appends its entries (and reads append none). */
static void every_change_audited(void **st)
{
    (void)st;
    fx f;
    fx_open(&f);
    row rows[128];
    log_len = read_log(f.e, "root", rows, 128);
    eng_org_settings s;
    assert_int_equal(eng_org_settings_get(f.e, "root", &s), ENG_OK);
    s.forbid_overdraft = 1;
    assert_int_equal(eng_org_settings_set(f.e, "root", &s, NULL), ENG_OK);
    GREW({"org", "settings"});
    assert_int_equal(eng_unit_add(f.e, "root", "east", "south"), ENG_OK);
    GREW({"org", "unit-add"});
    fx_actor(f.e, "zed", ENG_ROLE_VIEWER, ENG_SCOPE_ORG, NULL, 0);
    GREW({"actor/zed", "put"});
    fx_actor(f.e, "zed", ENG_ROLE_AUTHOR, ENG_SCOPE_ORG, NULL, 0); /* replaced */
    GREW({"actor/zed", "put"});
    assert_int_equal(eng_credits_adjust(f.e, "root", ENG_CREDITS_XENGAGE, 500), ENG_OK);
    GREW({"credits/xengage", "adjust"});
    assert_int_equal(eng_credits_adjust(f.e, "root", ENG_CREDITS_CAMPAIGN, 20), ENG_OK);
    GREW({"credits/campaign", "adjust"});
    assert_int_equal(eng__kv_begin(f.e->store), ENG_OK);
    assert_int_equal(eng__credits_charge(f.e, "acme", "dispatch", ENG_CREDITS_CAMPAIGN, 5), ENG_OK);
    assert_int_equal(eng__kv_commit(f.e->store), ENG_OK);
    GREW({"credits/campaign", "charge"});

    eng_campaign_spec c = fx_campaign("Diwali");
    uint64_t cid, id, id2;
    assert_int_equal(eng_campaign_create(f.e, "ann", &c, &cid, NULL), ENG_OK);
    char co[32], mo[32], mo2[32];
    snprintf(co, sizeof co, "campaign/%llu", (unsigned long long)cid);
    GREW({co, "create"});
    c.control_percent = 20;
    assert_int_equal(eng_campaign_update(f.e, "ann", cid, &c, NULL), ENG_OK);
    GREW({co, "update"});
    eng_message_spec m = fx_message();
    assert_int_equal(eng_message_create(f.e, "ann", cid, &m, &id, NULL), ENG_OK);
    snprintf(mo, sizeof mo, "message/%llu", (unsigned long long)id);
    GREW({mo, "create"}, {co, "message-add"}); /* the campaign's message list changed too */
    m.title = "Diwali v2";
    assert_int_equal(eng_message_update(f.e, "zed", id, &m, NULL), ENG_OK);
    GREW({mo, "update"});
    assert_int_equal(eng_message_submit(f.e, "ann", id, NULL), ENG_OK);
    GREW({mo, "submit"});
    assert_int_equal(eng_message_reject(f.e, "bob", id, "no"), ENG_OK);
    GREW({mo, "reject"});
    assert_int_equal(eng_message_update(f.e, "ann", id, &m, NULL), ENG_OK);
    assert_int_equal(eng_message_submit(f.e, "ann", id, NULL), ENG_OK);
    assert_int_equal(eng_message_approve(f.e, "bob", id, NULL, "ok"), ENG_OK);
    GREW({mo, "update"}, {mo, "submit"}, {mo, "approve"}, {co, "lock-goal"});
    /* A campaign edit voids the approval: the message's new state is logged too. */
    c.name = "Diwali 2026";
    assert_int_equal(eng_campaign_update(f.e, "ann", cid, &c, NULL), ENG_OK);
    GREW({co, "update"}, {mo, "void"});
    assert_int_equal(eng_message_submit(f.e, "ann", id, NULL), ENG_OK);
    assert_int_equal(eng_message_approve(f.e, "bob", id, NULL, "ok"), ENG_OK);
    GREW({mo, "submit"}, {mo, "approve"}); /* the goal is already locked */
    assert_int_equal(eng_message_execute(f.e, "root", id, ENG_ACT_STOP), ENG_OK);
    GREW({mo, "stop"});
    assert_int_equal(eng_message_update(f.e, "ann", id, &m, NULL), ENG_OK);
    assert_int_equal(eng_message_submit(f.e, "ann", id, NULL), ENG_OK);
    assert_int_equal(eng_message_approve(f.e, "bob", id, NULL, "ok"), ENG_OK);
    assert_int_equal(fx_start(f.e, "root", id), ENG_OK);
    assert_int_equal(eng_message_execute(f.e, "root", id, ENG_ACT_FINISH), ENG_OK);
    GREW({mo, "update"}, {mo, "submit"}, {mo, "approve"}, {mo, "start"}, {mo, "finish"});
    assert_int_equal(eng_message_create(f.e, "ann", cid, &m, &id2, NULL), ENG_OK);
    snprintf(mo2, sizeof mo2, "message/%llu", (unsigned long long)id2);
    GREW({mo2, "create"}, {co, "message-add"});
    assert_int_equal(eng_message_delete(f.e, "ann", id2), ENG_OK);
    GREW({mo2, "delete"}, {co, "message-remove"});
    /* Deleting a campaign logs each of its messages and then the campaign. */
    eng_campaign_spec d = fx_campaign("Gone");
    uint64_t did, d1, d2;
    char dobj[3][32];
    assert_int_equal(eng_campaign_create(f.e, "ann", &d, &did, NULL), ENG_OK);
    snprintf(dobj[2], sizeof dobj[2], "campaign/%llu", (unsigned long long)did);
    GREW({dobj[2], "create"});
    assert_int_equal(eng_message_create(f.e, "ann", did, &m, &d1, NULL), ENG_OK);
    snprintf(dobj[0], sizeof dobj[0], "message/%llu", (unsigned long long)d1);
    GREW({dobj[0], "create"}, {dobj[2], "message-add"});
    assert_int_equal(eng_message_create(f.e, "ann", did, &m, &d2, NULL), ENG_OK);
    snprintf(dobj[1], sizeof dobj[1], "message/%llu", (unsigned long long)d2);
    GREW({dobj[1], "create"}, {dobj[2], "message-add"});
    assert_int_equal(eng_campaign_delete(f.e, "ann", did), ENG_OK);
    GREW({dobj[0], "delete"}, {dobj[1], "delete"}, {dobj[2], "delete"});

    /* Reads append nothing. */
    eng_campaign *ch;
    eng_message *mh;
    eng_validation *v;
    uint64_t *ids;
    size_t n;
    int64_t b;
    assert_int_equal(eng_campaign_get(f.e, "vic", cid, &ch), ENG_OK);
    eng_campaign_free(ch);
    assert_int_equal(eng_message_get(f.e, "vic", id, &mh), ENG_OK);
    eng_message_free(mh);
    assert_int_equal(eng_message_validate(f.e, "vic", id, &v), ENG_OK);
    eng_validation_free(v);
    assert_int_equal(eng_campaign_list(f.e, "vic", &ids, &n), ENG_OK);
    eng_free(f.e, ids);
    assert_int_equal(eng_credits_balance(f.e, "vic", ENG_CREDITS_CAMPAIGN, &b), ENG_OK);
    assert_int_equal(eng_org_settings_get(f.e, "vic", &s), ENG_OK);
    assert_int_equal(eng_access_check(f.e, "vic", ENG_OP_READ, NULL), ENG_OK);
    assert_int_equal(read_log(f.e, "root", rows, 128), log_len);
    fx_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(chain),
        cmocka_unit_test(tamper),
        cmocka_unit_test(every_change_audited),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
