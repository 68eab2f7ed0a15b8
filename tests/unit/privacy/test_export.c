/* Export of one customer (docs/privacy.md): what was put in — typed
 * attributes, contacts, consent and opt-out times, groups, touches of the
 * actor's org, transactions — comes back as one JSON object, written out here
 * by hand from the inputs; other customers and other orgs stay out; the
 * export is audited and refused to non-admins, and finds nothing after an erasure. */
#include "../events/ev_fixture.h"
#include "engage/privacy.h"

static const char csv[] =
    "id,name,age,spend,born,vip,contact.email,contact.sms,consent.email,optout.sms,suppressed\n"
    "cust-PAT-77,\"Doe, \"\"Pat\"\" \\ \",42,12.5,1980-02-29,true,pat.doe@example.org,+4915112345678,"
    "2026-01-02T03:04:05Z,2026-02-01,false\n"
    "c1,One,25,1,2000-01-01,false,c1@example.com,+4917000000001,true,,true\n"
    "c2,Two,50,,,,c2@example.com,,,,\n";

static const char expected[] =
    "{\"external_id\":\"cust-PAT-77\",\"customer\":0,"
    "\"attributes\":{\"name\":\"Doe, \\\"Pat\\\" \\\\ \",\"age\":42,\"spend\":12.5,\"born\":\"1980-02-29\","
    "\"vip\":true},"
    "\"contacts\":{\"sms\":\"+4915112345678\",\"email\":\"pat.doe@example.org\"},"
    "\"consent\":{\"email\":\"2026-01-02T03:04:05Z\"},"
    "\"optout\":{\"sms\":\"2026-02-01\"},"
    "\"suppressed\":false,"
    "\"consent_history\":["
    "{\"channel\":\"email\",\"kind\":\"consent\",\"given\":true,\"time\":\"2026-01-02T03:04:05Z\","
    "\"recorded\":\"2026-01-01\",\"source\":\"import\",\"actor\":\"admin\"},"
    "{\"channel\":\"sms\",\"kind\":\"optout\",\"given\":true,\"time\":\"2026-02-01\","
    "\"recorded\":\"2026-01-01\",\"source\":\"import\",\"actor\":\"admin\"},"
    "{\"channel\":\"email\",\"kind\":\"consent\",\"given\":false,\"time\":\"2026-01-05T06:00:00Z\","
    "\"recorded\":\"2026-01-05T06:00:00Z\",\"source\":\"api\",\"actor\":\"admin\"},"
    "{\"channel\":\"email\",\"kind\":\"consent\",\"given\":true,\"time\":\"2026-01-02T03:04:05Z\","
    "\"recorded\":\"2026-01-06\",\"source\":\"import\",\"actor\":\"admin\"}],"
    "\"groups\":[\"vips\",\"older\"],"
    "\"contacted\":["
    "{\"campaign\":7,\"message\":70,\"occurrence\":0,\"channel\":\"email\",\"time\":\"2026-03-01T10:00:00Z\","
    "\"status\":\"sent\"},"
    "{\"campaign\":7,\"message\":70,\"occurrence\":0,\"channel\":\"email\",\"time\":\"2026-03-01T11:00:00Z\","
    "\"status\":\"delivered\"}],"
    "\"transactions\":[{\"id\":\"t-1\",\"time\":\"2026-03-02T09:30:00Z\",\"amount\":99.95,\"store\":\"S1\","
    "\"items\":[\"sku-a\",\"sku-b\"],"
    "\"fields\":{\"channel\":\"web \\\"shop\\\"\",\"units\":3,\"margin\":1.25,\"paid\":\"2026-03-03\",\"gift\":true}}],"
    "\"coupons\":[]}";

#define T_WITHDRAW 1767592800000 /* 2026-01-05T06:00:00Z */
#define T_AGAIN 1767657600000    /* 2026-01-06 */
#define T_SENT 1772359200000   /* 2026-03-01T10:00:00Z */
#define T_TXN 1772443800000    /* 2026-03-02T09:30:00Z */

static void round_trip(void **state)
{
    (void)state;
    evfx f;
    evfx_open(&f, 0);
    eng_engine *e = f.e;
    assert_int_equal(eng_org_create(e, "beta", NULL, "bea", NULL), ENG_OK);
    assert_int_equal(eng_customers_add_column(e, "admin", "name", ENG_COL_STRING), ENG_OK);
    assert_int_equal(eng_customers_add_column(e, "admin", "age", ENG_COL_INT64), ENG_OK);
    assert_int_equal(eng_customers_add_column(e, "admin", "spend", ENG_COL_DECIMAL), ENG_OK);
    assert_int_equal(eng_customers_add_column(e, "admin", "born", ENG_COL_DATE), ENG_OK);
    assert_int_equal(eng_customers_add_column(e, "admin", "vip", ENG_COL_BOOL), ENG_OK);
    assert_int_equal(eng_customers_add_column(e, "admin", "unused", ENG_COL_STRING), ENG_OK);
    assert_int_equal(eng_customers_import_csv_buffer(e, "admin", csv, sizeof csv - 1, NULL, NULL), ENG_OK);
    /* Consent history: withdrawn through the API, then the same import again (its
     * time given again: consent given again, recorded then). */
    test_clock_now = T_WITHDRAW;
    const char *cn[] = {"id", "consent.email"}, *cv[] = {"cust-PAT-77", "false"};
    assert_int_equal(eng_customers_upsert(e, "admin", cn, 2, cv, 1, NULL, NULL), ENG_OK);
    test_clock_now = T_AGAIN;
    assert_int_equal(eng_customers_import_csv_buffer(e, "admin", csv, sizeof csv - 1, NULL, NULL), ENG_OK);
    uint32_t g;
    assert_int_equal(eng_group_create_uploaded(e, "admin", "vips", &g), ENG_OK);
    const char *ids[] = {"cust-PAT-77", "c2"};
    assert_int_equal(eng_group_upload_ids(e, "admin", g, ids, 2, ENG_UPLOAD_REPLACE, NULL, NULL), ENG_OK);
    assert_int_equal(eng_group_create_filter(e, "admin", "older", "age > 40", &g), ENG_OK);
    assert_int_equal(eng_group_create_filter(e, "admin", "young", "age < 30", &g), ENG_OK);

    /* Touches: Pat (dense 0) and c1 in acme; Pat again in beta (not the actor's org). */
    evfx_send(&f, "acme", 7, 0, 2, ENG_CH_EMAIL, T_SENT);
    assert_int_equal(evfx_receipt(&f, 7, 0, ENG_CH_EMAIL, ENG_TOUCH_DELIVERED, T_SENT + 3600000, NULL, NULL), ENG_OK);
    evfx_send(&f, "beta", 9, 0, 1, ENG_CH_SMS, T_SENT);

    /* Transactions: Pat's and c1's in acme, Pat's in beta. */
    /* Custom fields of every type; c1's row leaves them NULL (left out of its export). */
    assert_int_equal(eng_txn_field_add(e, "acme", "channel", ENG_COL_STRING), ENG_OK);
    assert_int_equal(eng_txn_field_add(e, "acme", "units", ENG_COL_INT64), ENG_OK);
    assert_int_equal(eng_txn_field_add(e, "acme", "margin", ENG_COL_DECIMAL), ENG_OK);
    assert_int_equal(eng_txn_field_add(e, "acme", "paid", ENG_COL_DATE), ENG_OK);
    assert_int_equal(eng_txn_field_add(e, "acme", "gift", ENG_COL_BOOL), ENG_OK);
    const char *fnames[] = {"channel", "units", "margin", "paid", "gift"};
    const char *fvals[] = {"web \"shop\"", "3", "1.250", "2026-03-03", "yes", NULL, NULL, NULL, NULL, NULL};
    const char *tid[] = {"t-1", "t-2"}, *cust[] = {"cust-PAT-77", "c1"}, *stores[] = {"S1", NULL};
    const char *items[] = {"sku-a", "sku-b", "sku-c"};
    uint32_t nitems[] = {2, 1};
    eng_time times[] = {T_TXN, T_TXN};
    int64_t amounts[] = {999500, 10000};
    eng_txn_batch b = ENG_TXN_BATCH_INIT;
    b.count = 2;
    b.ids = tid;
    b.customers = cust;
    b.times = times;
    b.amounts = amounts;
    b.stores = stores;
    b.item_counts = nitems;
    b.items = items;
    b.nfields = 5;
    b.field_names = fnames;
    b.field_values = fvals;
    assert_int_equal(eng_txn_append(e, "acme", &b, NULL, NULL), ENG_OK);
    b.nfields = 0;
    const char *tid_b[] = {"t-9"};
    b.count = 1;
    b.ids = tid_b;
    b.stores = NULL;
    b.item_counts = NULL;
    b.items = NULL;
    assert_int_equal(eng_txn_append(e, "beta", &b, NULL, NULL), ENG_OK);

    char *json = (char *)1;
    size_t len = 1;
    assert_int_equal(eng_customer_export_json(e, "admin", "cust-PAT-77", &json, &len), ENG_OK);
    if (strcmp(json, expected) != 0)
        fprintf(stderr, "got:  %s\nwant: %s\n", json, expected);
    assert_string_equal(json, expected);
    assert_int_equal(len, strlen(expected));
    eng_free(e, json);

    /* Refusals leave the out-parameters cleared. */
    json = (char *)1;
    len = 1;
    assert_int_equal(eng_customer_export_json(e, "nobody", "cust-PAT-77", &json, &len), ENG_EDENIED);
    assert_null(json);
    assert_int_equal(len, 0);
    assert_int_equal(eng_customer_export_json(e, "admin", "cust-PAT-78", &json, &len), ENG_ENOTFOUND);
    assert_null(strstr(eng_error_last()->message, "PAT"));
    assert_int_equal(eng_customer_export_json(e, "admin", NULL, &json, &len), ENG_EINVAL);

    /* Audited by the hash of the id. */
    eng_audit_iter *it;
    eng_audit_entry x = ENG_AUDIT_ENTRY_INIT;
    int exports = 0, rc;
    assert_int_equal(eng_audit_open(e, "admin", &it), ENG_OK);
    while ((rc = eng_audit_next(it, &x)) == ENG_OK)
        if (strcmp(x.action, "export") == 0) {
            assert_non_null(strstr(x.object, "customer/"));
            assert_null(strstr(x.object, "PAT"));
            exports++;
        }
    assert_int_equal(rc, ENG_ITEROVER);
    eng_audit_free(it);
    assert_int_equal(exports, 1);

    /* After an erasure there is nothing to export; the others are unchanged. */
    assert_int_equal(eng_customer_erase(e, "admin", "cust-PAT-77"), ENG_OK);
    assert_int_equal(eng_customer_export_json(e, "admin", "cust-PAT-77", &json, &len), ENG_ENOTFOUND);
    assert_int_equal(eng_customer_export_json(e, "admin", "c2", &json, &len), ENG_OK);
    assert_non_null(strstr(json, "\"groups\":[\"vips\",\"older\"]"));
    assert_non_null(strstr(json, "\"transactions\":[]"));
    assert_non_null(strstr(json, "\"consent_history\":[]")); /* c2 never had consent */
    eng_free(e, json);
    evfx_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
