#include "test_util.h"
#include "test_alloc.h"

#include <dirent.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

eng_time test_clock_now = 1767225600000; /* 2026-01-01T00:00:00Z */

static eng_time clock_cb(void *u)
{
    (void)u;
    return test_clock_now;
}

int test_slow_runtime(void)
{
    const char *slow = getenv("ENG_TEST_SLOW"), *pre = getenv("LD_PRELOAD");
    return (slow && *slow && strcmp(slow, "0") != 0) || (pre && strstr(pre, "vgpreload"));
}

char *test_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char buf[512];
    snprintf(buf, sizeof buf, "%s/engage-test-XXXXXX", base && *base ? base : "/tmp");
    char *d = mkdtemp(buf);
    assert_non_null(d);
    return strdup(d);
}

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb; (void)flag; (void)ftw;
    return remove(p);
}

long test_file_size(const char *p)
{
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    return (long)st.st_size;
}

unsigned char *test_read_file(const char *p, long *n)
{
    *n = test_file_size(p);
    unsigned char *b = malloc((size_t)*n + 1);
    FILE *fp = fopen(p, "rb");
    assert_non_null(fp);
    assert_int_equal(fread(b, 1, (size_t)*n, fp), (size_t)*n);
    fclose(fp);
    return b;
}

void test_write_file(const char *p, const unsigned char *b, long n)
{
    (void)unlink(p);
    FILE *fp = fopen(p, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(b, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
}

void test_rmtree(const char *path)
{
    nftw(path, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

unsigned test_events_segments = ENG_EVENTS_SEGMENTS_DEFAULT;

eng_engine *test_engine_open(eng_store *store)
{
    eng_config cfg;
    assert_int_equal(eng_config_init(&cfg, ENG_CONFIG_VERSION), ENG_OK);
    cfg.events_segments = test_events_segments;
    cfg.allocator = test_alloc_get();
    cfg.store = store;
    cfg.clock_fn = clock_cb;
    eng_engine *e = NULL;
    int rc = eng_open(&cfg, &e);
    if (rc)
        fprintf(stderr, "eng_open: %s\n", eng_error_last()->message);
    assert_int_equal(rc, ENG_OK);
    return e;
}

void test_assert_customer_value(eng_engine *e, const char *actor, const char *ext, const char *col,
                                const char *want)
{
    uint32_t id;
    char buf[256];
    size_t len;
    assert_int_equal(eng_customer_find(e, actor, ext, &id), ENG_OK);
    assert_int_equal(eng_customer_get(e, actor, id, col, buf, sizeof buf, &len), ENG_OK);
    assert_string_equal(buf, want);
}

int test_org(eng_engine *e)
{
    int rc = eng_org_create(e, TEST_ORG, NULL, TA, NULL);
    return rc == ENG_EEXISTS ? ENG_OK : rc;
}

int test_aud_columns(eng_engine *e)
{
    static const struct {
        const char *name;
        int type;
    } cols[] = {{"city", ENG_COL_STRING}, {"age", ENG_COL_INT64}, {"spend", ENG_COL_DECIMAL}, {"last", ENG_COL_DATE}};
    for (size_t c = 0; c < sizeof cols / sizeof *cols; c++) {
        int rc = eng_customers_add_column(e, TA, cols[c].name, cols[c].type);
        if (rc)
            return rc;
    }
    return ENG_OK;
}

extern uint32_t eng__aud_part_rows;
extern size_t eng__aud_chunk_bytes;

test_aud_knobs test_aud_knobs_set(uint32_t part_rows, size_t chunk_bytes)
{
    test_aud_knobs was = {eng__aud_part_rows, eng__aud_chunk_bytes};
    if (part_rows)
        eng__aud_part_rows = part_rows;
    if (chunk_bytes)
        eng__aud_chunk_bytes = chunk_bytes;
    return was;
}

void test_aud_knobs_restore(test_aud_knobs saved)
{
    eng__aud_part_rows = saved.part_rows;
    eng__aud_chunk_bytes = saved.chunk_bytes;
}

eng_engine *test_engine_open_org(eng_store *store)
{
    eng_engine *e = test_engine_open(store);
    int rc = test_org(e);
    if (rc)
        fprintf(stderr, "test_org: %s\n", eng_error_last()->message);
    assert_int_equal(rc, ENG_OK);
    return e;
}

static int file_has_bytes(const char *path, const void *needle, size_t nlen)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc(n > 0 ? (size_t)n : 1);
    assert_non_null(buf);
    size_t got = n > 0 ? fread(buf, 1, (size_t)n, f) : 0;
    fclose(f);
    int found = memmem(buf, got, needle, nlen) != NULL;
    free(buf);
    return found;
}

int test_dir_has_bytes(const char *dir, const void *needle, size_t nlen)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        n += file_has_bytes(p, needle, nlen);
    }
    closedir(d);
    return n;
}

size_t test_phone_delta_bytes(const char *phone, unsigned char out[12])
{
    unsigned long long u = strtoull(phone + 1, NULL, 10);
    size_t n = 0;
    out[n++] = 2;
    for (; u >= 0x80; u >>= 7)
        out[n++] = (unsigned char)(u | 0x80);
    out[n++] = (unsigned char)u;
    return n;
}

int test_offer(eng_engine *e, const char *author, uint64_t campaign, const char *id, int source, const char *code,
               const char *pool)
{
    eng_campaign *c = NULL;
    const eng_campaign_spec *cs = NULL;
    int rc = eng_campaign_get(e, author, campaign, &c);
    if (rc == ENG_OK)
        rc = eng_campaign_fields(c, &cs);
    eng_offer_spec o;
    if (rc == ENG_OK)
        rc = eng_offer_spec_init(&o, ENG_OFFER_SPEC_VERSION);
    if (rc == ENG_OK) {
        o.id = id;
        o.name = id;
        o.valid_from = cs->start;
        o.valid_until = cs->end;
        o.coupon_source = source;
        o.coupon_code = code;
        o.coupon_pool = pool;
        rc = eng_offer_create(e, author, &o);
    }
    eng_campaign_free(c);
    return rc == ENG_EEXISTS ? ENG_OK : rc;
}
