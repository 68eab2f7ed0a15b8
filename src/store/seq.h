/* Durable high-water marks, one per id kind ("s/<kind>"): an id, once issued,
 * is never issued again — not after a delete, a reopen or a crash — so a
 * host's stale id can never name a newer object. */
#ifndef ENG_STORE_SEQ_H
#define ENG_STORE_SEQ_H

#include <stdint.h>
#include "engage/store.h"

/* The highest id of @p kind ever issued (0: none). */
int eng__seq_mark(eng_store *s, const char *kind, uint64_t *mark);
/* Record @p id as issued (the mark only moves up). Inside a batch. */
int eng__seq_raise(eng_store *s, const char *kind, uint64_t id);

#endif
