/* The libengage demo: opens the engine on the embedded default store.
 * Grows with the library into the full campaign walk-through. */
#include <stdio.h>
#include "engage.h"

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    eng_engine *engine;
    if (eng_open(NULL, &engine) != ENG_OK) {
        fprintf(stderr, "eng_open: %s\n", eng_error_last()->message);
        return 1;
    }
    printf("libengage %s\n", eng_version_string());
    eng_close(engine);
    return 0;
}
