/* The buffer of a tail's next first chunk, its pages faulted in ahead by a thread
 * (tseg.c: eng__ttail_seal starts it, eng__ttail_save takes it).
 *
 * A tail's first chunk is encoded into a buffer with room for its whole segment,
 * which the seal then builds around it (tblock.c) and keeps as the segment's bytes.
 * Those are new pages every segment, and their first touches were an eighth of W6's
 * receipts on the calling thread at L (docs/events.md, session 12). With threads
 * (eng_config.threads > 0) and an allocator whose pages can be populated, the seal
 * leaves the next such buffer allocated and a thread faulting in as many of its pages
 * as the segment just sealed took, while the batch goes on. One a engine, whichever
 * org's tail starts next: the memory it holds is bounded whatever the orgs. No byte
 * it holds changes (eng__mem_populate); a chunk that finds none allocates its own. */
#include "events/ev_state.h"

#include "base/thread.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

typedef struct spare {
    pthread_t t;
    const eng__mem *mem;
    uint8_t *p;
    size_t cap, n;
    int running;
} spare;

_Atomic size_t eng__tspare_taken; /* engines on other threads may count at once */

static void *spare_main(void *arg)
{
    spare *s = arg;
    eng__mem_populate(s->mem, s->p, s->n);
    return NULL;
}

void eng__tspare_start(eng__ev *ev, size_t cap, size_t used)
{
    const eng__mem *mem = &ev->e->mem;
    if (ev->spare || !ev->e->threads || !eng__mem_populates(mem))
        return;
    spare *s = eng__malloc(mem, sizeof *s);
    uint8_t *p = s ? eng__malloc(mem, cap) : NULL;
    if (!p) { /* not an error: the next first chunk allocates its own */
        eng__free(mem, s);
        return;
    }
    *s = (spare){.mem = mem, .p = p, .cap = cap, .n = used < cap ? used : cap};
    s->running = eng__thread_small(&s->t, spare_main, s) == 0;
    ev->spare = s;
}

/* Waited for, then its buffer handed to the caller (*p, *cap) or freed. */
static void spare_end(eng__ev *ev, uint8_t **p, size_t *cap)
{
    spare *s = ev->spare;
    if (s->running)
        pthread_join(s->t, NULL);
    if (p) {
        *p = s->p;
        *cap = s->cap;
    } else {
        eng__free(&ev->e->mem, s->p);
    }
    eng__free(&ev->e->mem, s);
    ev->spare = NULL;
}

int eng__tspare_take(eng__ev *ev, eng__wr *w, size_t need)
{
    if (!ev->spare || ((spare *)ev->spare)->cap < need)
        return 0;
    uint8_t *p;
    size_t cap;
    spare_end(ev, &p, &cap);
    *w = (eng__wr){&ev->e->mem, p, 0, cap, 0};
    atomic_fetch_add_explicit(&eng__tspare_taken, 1, memory_order_relaxed);
    return 1;
}

void eng__tspare_free(eng__ev *ev)
{
    if (ev->spare)
        spare_end(ev, NULL, NULL);
}
