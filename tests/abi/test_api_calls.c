/* Every public function called with NULL handles, NULL or poisoned out-parameters and a live
 * engine given nothing else (the calls are generated from the headers by gen_api_calls.py):
 * no call crashes, a failure is ENG_EMISUSE for a NULL handle, zeroes each out-parameter and
 * is the one eng_error_last() tells (docs/api-conventions.md). ENG_API_CALL=name runs one. */
#include <stdio.h>
#include <stdlib.h>

#include "api_calls.h"

unsigned long calls;
static unsigned long broken;
static eng_store *stores[8];
static size_t nstores;

void bad(const char *where, const char *param, const char *what)
{
    broken++;
    printf("FAIL %s: %s%s%s\n", where, param, *param ? " " : "", what);
}

void bad_code(const char *where, int rc, int want)
{
    broken++;
    printf("FAIL %s: %d (%s), want %d (%s)\n", where, rc, eng_errstr(rc), want, eng_errstr(want));
}

void told(const char *where, int rc)
{
    const eng_error *err = eng_error_last();
    if (!err || err->code != rc) {
        broken++;
        printf("FAIL %s: returned %d, eng_error_last() tells %d\n", where, rc, err ? err->code : 0);
    } else if (!err->message || !*err->message || !err->detail) {
        broken++;
        printf("FAIL %s: %d without a message or detail\n", where, rc);
    }
}

int all_zero(const void *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (((const unsigned char *)p)[i])
            return 0;
    return 1;
}

eng_engine *fresh_engine(eng_store **store)
{
    eng_store *st = NULL;
    eng_engine *e = NULL;
    eng_config cfg = ENG_CONFIG_INIT;
    eng_org_settings s = ENG_ORG_SETTINGS_INIT;
    if (eng_store_memory_new(NULL, &st) != ENG_OK || nstores == sizeof stores / sizeof *stores)
        abort();
    cfg.store = st;
    if (eng_open(&cfg, &e) != ENG_OK || eng_org_create(e, "acme", &s, "root", NULL) != ENG_OK)
        abort();
    if (store)
        *store = st;
    stores[nstores++] = st;
    return e;
}

int main(void)
{
    const char *only = getenv("ENG_API_CALL");
    eng_engine *e = fresh_engine(NULL);
    size_t run = 0;
    for (size_t i = 0; i < api_ncalls; i++) {
        if (only && strcmp(only, api_calls[i].name) != 0)
            continue;
        api_calls[i].call(e);
        run++;
    }
    /* The engine still answers after every call given nothing. */
    uint64_t n = 1;
    if (eng_customers_count(e, "root", &n) != ENG_OK || n != 0)
        bad("the engine after the calls", "", "does not answer");
    if (eng_close(e) != ENG_OK)
        bad("eng_close", "", "failed at the end");
    for (size_t i = 0; i < nstores; i++)
        eng_store_free(stores[i]);
    printf("%zu functions, %lu calls, %lu broken rules\n", run, calls, broken);
    return broken || !run ? 1 : 0;
}
