/* Durable high-water marks, one per id kind ("s/<kind>"): an id, once issued,
 * is never issued again — not after a delete, a reopen or a crash — so a
 * host's stale id can never name a newer object. */
#ifndef ENG_STORE_SEQ_H
#define ENG_STORE_SEQ_H

#include <stdint.h>
#include "engage/store.h"

/* The highest id of @p kind ever issued (0: none). */
int eng__seq_mark(eng_store *s, const char *kind, uint64_t *mark);
/* Issue the next id of @p kind: one past max(mark, @p floor - 1), the mark
 * moved to it. @p floor lets a store written before the mark existed start
 * past its highest stored id. Call inside the batch that stores the object,
 * so the object and its mark commit (or vanish) together. */
int eng__seq_issue(eng_store *s, const char *kind, uint64_t floor, uint64_t *id);
/* Record @p id as issued (the mark only moves up). Inside a batch. */
int eng__seq_raise(eng_store *s, const char *kind, uint64_t id);

#endif
