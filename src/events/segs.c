/* The list of an org's sealed segments (touches or transactions). */
#include "events/ev_state.h"

#include <string.h>

int eng__segs_push(eng__segs *s, const eng__mem *mem, const eng__seg *z)
{
    if (s->n + 1 > s->cap && eng__grow(mem, (void **)&s->v, &s->cap, s->n + 1, sizeof *s->v))
        return eng__nomem();
    if (z)
        s->v[s->n++] = *z;
    return ENG_OK;
}

void eng__segs_free(eng__segs *s, const eng__mem *mem)
{
    for (size_t i = 0; i < s->n; i++)
        eng__seg_free_buf(mem, &s->v[i]);
    eng__free(mem, s->v);
    memset(s, 0, sizeof *s);
}
