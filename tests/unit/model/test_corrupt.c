/* Hostile stored records: every payload byte of a stored campaign, message,
 * org and actor record is altered in turn with the record checksum fixed, so
 * the decoders see the damage. Reads must fail cleanly (ECORRUPT) or succeed,
 * never crash or leak (run under ASan and valgrind). */
#include "model_fixture.h"

#include <stdlib.h>

#include "base/codec.h"
#include "base/hash.h"
#include "store/record.h"

static void put_fixed(test_store *ts, const char *key, uint8_t *raw, size_t len)
{
    eng__put32(raw + 12, eng__crc32c(eng__crc32c(0, raw, 12), raw + ENG__REC_HEADER, len - ENG__REC_HEADER));
    assert_int_equal(test_store_raw_put(ts, key, raw, len), ENG_OK);
}

static void sweep(fx *f, const char *key, int (*read)(fx *))
{
    uint8_t *orig, *raw;
    size_t len;
    assert_int_equal(test_store_raw_get(f->ts, key, &orig, &len), ENG_OK);
    raw = malloc(len);
    int corrupt = 0;
    for (size_t i = ENG__REC_HEADER; i < len; i++) {
        static const uint8_t flips[] = {0x01, 0x80, 0xff};
        for (size_t k = 0; k < sizeof flips; k++) {
            memcpy(raw, orig, len);
            raw[i] ^= flips[k];
            put_fixed(f->ts, key, raw, len);
            int rc = read(f);
            assert_true(rc == ENG_OK || rc == ENG_ECORRUPT || rc == ENG_EDENIED || rc == ENG_ENOTFOUND);
            corrupt += rc == ENG_ECORRUPT;
        }
    }
    /* Truncated payloads (header length fixed too). */
    for (size_t cut = ENG__REC_HEADER; cut < len; cut++) {
        memcpy(raw, orig, cut);
        eng__put32(raw + 8, (uint32_t)(cut - ENG__REC_HEADER));
        put_fixed(f->ts, key, raw, cut);
        int rc = read(f);
        assert_true(rc != ENG_OK || cut == len);
    }
    assert_true(corrupt > 0);
    assert_int_equal(test_store_raw_put(f->ts, key, orig, len), ENG_OK);
    assert_int_equal(read(f), ENG_OK);
    free(raw);
    free(orig);
}

static uint64_t g_cid, g_mid;

static int read_campaign(fx *f)
{
    eng_campaign *h = NULL;
    int rc = eng_campaign_get(f->e, "root", g_cid, &h);
    eng_campaign_free(h);
    return rc;
}

static int read_message(fx *f)
{
    eng_message *h = NULL;
    int rc = eng_message_get(f->e, "root", g_mid, &h);
    eng_message_free(h);
    return rc;
}

static int read_org(fx *f)
{
    eng_org_settings s;
    return eng_org_settings_get(f->e, "ann", &s);
}

static int read_actor(fx *f)
{
    return eng_access_check(f->e, "sam", ENG_OP_READ, "north");
}

static void hostile_records(void **st)
{
    eng_delivery dlv = ENG_DELIVERY_INIT;
    (void)st;
    fx f;
    fx_open(&f);
    const char *const items[] = {"SKU-1", "SKU-2"};
    eng_campaign_spec c = fx_campaign("Corrupt");
    c.objective = ENG_OBJ_PROMOTE_PRODUCTS;
    c.product_items = items;
    c.n_product_items = 2;
    assert_int_equal(eng_campaign_create(f.e, "ann", &c, &g_cid, NULL), ENG_OK);
    eng_message_spec m = fx_message();
    eng_sender s[] = {{ENG_CH_SMS, "ACME"}};
    dlv.senders = s;
    dlv.n_senders = 1;
    m.delivery = &dlv;
    assert_int_equal(eng_message_create(f.e, "ann", g_cid, &m, &g_mid, NULL), ENG_OK);
    char key[32];
    snprintf(key, sizeof key, "m/c/%016llx", (unsigned long long)g_cid);
    sweep(&f, key, read_campaign);
    snprintf(key, sizeof key, "m/g/%016llx", (unsigned long long)g_mid);
    sweep(&f, key, read_message);
    sweep(&f, "m/o/acme", read_org);
    sweep(&f, "m/a/sam", read_actor);
    fx_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hostile_records),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
