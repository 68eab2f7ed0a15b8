/* The audit log: entries for every change, a hash chain that verifies after
 * reopen and fails when any stored entry is altered or the tail is cut. */
#include "model_fixture.h"

#include <stdlib.h>

#include "api/engine_impl.h"
#include "base/codec.h"
#include "base/hash.h"
#include "store/record.h"

typedef struct row {
    uint64_t seq;
    char actor[16], object[32], action[16], prev[65], hash[65];
} row;

static size_t read_log(eng_engine *e, const char *actor, row *rows, size_t max)
{
    eng_audit_iter *it;
    assert_int_equal(eng_audit_open(e, actor, &it), ENG_OK);
    eng_audit_entry x;
    size_t n = 0;
    int rc;
    while ((rc = eng_audit_next(it, &x)) == ENG_OK) {
        assert_true(n < max);
        rows[n].seq = x.seq;
        snprintf(rows[n].actor, sizeof rows[n].actor, "%s", x.actor);
        snprintf(rows[n].object, sizeof rows[n].object, "%s", x.object);
        snprintf(rows[n].action, sizeof rows[n].action, "%s", x.action);
        snprintf(rows[n].prev, sizeof rows[n].prev, "%s", x.prev_hash);
        snprintf(rows[n].hash, sizeof rows[n].hash, "%s", x.hash);
        assert_int_equal(strlen(x.state_hash), 64);
        assert_true(x.time > 0);
        n++;
    }
    assert_int_equal(rc, ENG_ENOTFOUND);
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
    /* org settings, its admin, 3 units, 5 actors, campaign, message create/submit/reject/update/submit/approve */
    assert_int_equal(n, 1 + 1 + 3 + 5 + 1 + 6);
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
    assert_string_equal(rows[13].action, "reject");
    assert_string_equal(rows[13].actor, "bob");
    assert_string_equal(rows[n - 1].object, obj);
    assert_string_equal(rows[n - 1].action, "approve");
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
    assert_int_equal(eng_org_create(f.e, "globex", NULL, "gadmin"), ENG_OK);
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
    assert_int_equal(eng__kv_del(f.e->store, ENG__K("m/l/0000000000000011")), ENG_OK);
    assert_int_equal(eng_audit_verify(f.e, "root", &bad), ENG_ECORRUPT);
    assert_int_equal(bad, 17);
    free(orig);
    fx_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(chain),
        cmocka_unit_test(tamper),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
