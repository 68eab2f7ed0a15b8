/* An import's delta parts applied to the table on a second thread while the
 * calling thread parses the next ones (import.c). The calling thread keeps
 * everything that may call the host (read callback, progress, error
 * callback, store); the applier only writes the table, from the very bytes
 * that were stored (no read-back). Used only when the table was empty at the
 * start of the import (a failure then drops it: reloading an empty org costs
 * nothing). The host's allocator, if any, is called from both threads: its
 * contract (engage/alloc.h) already asks for thread-safe hooks. */
#ifndef ENG_AUDIENCE_APPLIER_H
#define ENG_AUDIENCE_APPLIER_H

#include <stdint.h>
#include "audience/table.h"
#include "base/codec.h"

struct eng__prog;
typedef struct eng__applier eng__applier;

/* Start the thread over @p t. NULL when it cannot (no memory, no thread):
 * the caller then replays the parts itself, as without it. */
eng__applier *eng__applier_start(eng__table *t, const eng__mem *mem);
/* Queue the framed part in @p w (ENG__REC_HEADER bytes of record header, then
 * the delta, schema ENG__DELTA_V, @p rlen bytes in all; past them, if w holds
 * more, the index hash of each row's string id) stored under @p key; *w
 * receives an empty writer to fill next. Blocks while the queue is full.
 * Returns the applier's first error (re-raised on this thread) so the import
 * stops early. */
int eng__applier_push(eng__applier *ap, eng__wr *w, size_t rlen, const char *key);
/* Wait until every queued part is applied, stepping @p pg (may be NULL) with
 * the rows applied; the counts are added to *ins / *upd. ENG_OK, the
 * applier's first error or the progress callback's cancel. */
int eng__applier_finish(eng__applier *ap, struct eng__prog *pg, uint64_t *ins, uint64_t *upd);
/* Stop (what is queued is dropped), join and free; NULL is a no-op. */
void eng__applier_free(eng__applier *ap);

#endif
