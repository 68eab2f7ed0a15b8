/* The libengage demo: opens an engine on the embedded default store (one
 * crash-safe file), shows what the stored state holds, closes it and opens it
 * again to show that it persisted. Grows with the library into the full
 * campaign walk-through.
 *
 * usage: engage-demo [store-file]     (default: engage.db in the current folder) */
#define _POSIX_C_SOURCE 200809L /* gmtime_r */
#include <stdio.h>
#include <time.h>
#include "engage.h"

static int fail(const char *what)
{
    const eng_error *e = eng_error_last();
    fprintf(stderr, "engage-demo: %s: %s (%s%s%s)\n", what, e->message, eng_errstr(e->code),
            e->detail[0] ? ", at " : "", e->detail);
    return 1;
}

static void show_time(const char *label, eng_time ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    char buf[64];
    gmtime_r(&t, &tm);
    strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
    printf("  %-12s %s\n", label, buf);
}

/* Open the engine on the file, print what it knows, close it. */
static int session(const char *path)
{
    eng_config cfg;
    eng_engine *engine;
    eng_config_init(&cfg, ENG_CONFIG_VERSION);
    if (eng_store_file_open(&cfg.store, path, ENG_STORE_CREATE, NULL) != ENG_OK)
        return fail("opening the store");
    if (eng_open(&cfg, &engine) != ENG_OK) /* the engine now owns the store */
        return fail("opening the engine");
    eng_info info = {.version = ENG_INFO_VERSION};
    if (eng_info_get(engine, &info) != ENG_OK)
        return fail("reading engine info");
    printf("engine open on %s (%s store, data format %u)\n", path, info.store_kind, info.data_format);
    show_time("created", info.created);
    show_time("opened", info.last_opened);
    printf("  %-12s %llu time%s\n", "open count", (unsigned long long)info.open_count,
           info.open_count == 1 ? "" : "s");
    return eng_close(engine) == ENG_OK ? 0 : fail("closing");
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "engage.db";
    printf("libengage %s\n", eng_version_string());
    if (session(path))
        return 1;
    printf("closed; opening again to read back what was stored:\n");
    return session(path);
}
