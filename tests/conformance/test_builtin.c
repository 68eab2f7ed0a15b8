/* The built-in stores through the conformance suite: `test_conformance_builtin
 * memory` or `... file`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conformance.h"
#include "test_util.h"

static void *mem_create(void *arg)
{
    (void)arg;
    return (void *)1; /* nothing to prepare: every open is a new, empty store */
}

static int mem_open(void *ctx, const eng_allocator *alloc, eng_store **out)
{
    (void)ctx;
    return eng_store_memory_new(alloc, out);
}

static void mem_destroy(void *ctx) { (void)ctx; }

typedef struct file_loc {
    char *dir;
    char path[600];
} file_loc;

static void *file_create(void *arg)
{
    (void)arg;
    file_loc *l = calloc(1, sizeof *l);
    l->dir = test_tmpdir();
    snprintf(l->path, sizeof l->path, "%s/store.db", l->dir);
    return l;
}

static int file_open(void *ctx, const eng_allocator *alloc, eng_store **out)
{
    return eng_store_file_open(((file_loc *)ctx)->path, ENG_STORE_CREATE, alloc, out);
}

static void file_destroy(void *ctx)
{
    file_loc *l = ctx;
    test_rmtree(l->dir);
    free(l->dir);
    free(l);
}

int main(int argc, char **argv)
{
    static const conf_backend backends[] = {
        {"memory", 0, mem_create, mem_open, mem_destroy, NULL},
        {"file", 1, file_create, file_open, file_destroy, NULL},
    };
    const char *want = argc > 1 ? argv[1] : NULL;
    int failed = 0, ran = 0;
    for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++)
        if (!want || strcmp(want, backends[i].name) == 0) {
            failed += conf_run(&backends[i]);
            ran++;
        }
    if (!ran) {
        fprintf(stderr, "unknown backend '%s' (memory, file)\n", want);
        return 2;
    }
    return failed ? 1 : 0;
}
