/* The registry of live public handles (issue 16: a NULL, freed or foreign
 * handle gives ENG_EMISUSE without the library reading freed memory).
 *
 * A handle is allocated with eng__handle_new(), which records its address and
 * kind in one process-wide table, and released with eng__handle_free(), which
 * marks the address retired before freeing it. Entry points ask
 * eng__handle_live(), which looks the address up and never dereferences it.
 * A new engine or store never lands on one of the last ENG__HANDLE_RETIRED
 * released handle addresses; a new child handle (rule, snapshot, iterator,
 * ...) avoids them for a few allocations and then takes what it gets, so a
 * stale child pointer is refused unless the allocator has since given its
 * block to a new handle of the same kind (engage/errors.h says so).
 */
#ifndef ENG_BASE_HANDLE_H
#define ENG_BASE_HANDLE_H

#include <stddef.h>
#include "base/mem.h"
#include "base/handle.h"

/* How many released handle addresses are kept from reuse. */
#define ENG__HANDLE_RETIRED 4096

enum eng__handle_kind {
    ENG__H_ENGINE = 1,
    ENG__H_STORE,
    ENG__H_RULE,
    ENG__H_RULE_BUILDER,
    ENG__H_AUDIENCE,
    ENG__H_CAMPAIGN,
    ENG__H_MESSAGE,
    ENG__H_VALIDATION,
    ENG__H_AUDIT_ITER,
    ENG__H_ACTOR_ITER,
    ENG__H_REPORT,
    ENG__H_CONSENT_ITER,
    ENG__H_OFFER_ITER,
    ENG__H_KIND_COUNT
};

/* Zeroed memory of @p size for a handle of @p kind, registered live; NULL on OOM. */
void *eng__handle_new(const eng__mem *mem, size_t size, int kind);
/* Retire and free a handle from eng__handle_new (NULL: no-op). */
void eng__handle_free(const eng__mem *mem, void *p);
/* 1 when @p p is a live handle of @p kind; never reads *p. */
int eng__handle_live(const void *p, int kind);
/* Under the table's lock: when @p p is a live handle of @p kind, call pin(p) (which may
 * only touch p's own fields) and return 1; else 0. With eng__handle_retire_if() this lets
 * an owner keep a handle from being destroyed between looking it up and using it. */
int eng__handle_pin(void *p, int kind, void (*pin)(void *p));
/* Under the table's lock: call letgo(p) when not NULL (a holder of @p p letting go), then
 * when unheld(p) is true retire @p p as eng__handle_free() does (its memory is not freed: the
 * caller frees it with eng__handle_free(), which then only frees) and return 1, so no
 * eng__handle_pin() can succeed after; else 0. A holder that lets go here never touches p
 * again unless it retired it. */
int eng__handle_retire_if(void *p, int kind, void (*letgo)(void *p), int (*unheld)(void *p));

/* Host callbacks that run in the middle of an engine call (storage, clock,
 * log, progress, read, row-error, scan and counter callbacks) are bracketed
 * by these: a call back into the same engine from inside one gives
 * ENG_EMISUSE (engage/engine.h, "Callbacks"). Per thread; nests. */
void eng__callback_begin(void);
void eng__callback_end(void);
int eng__in_callback(void);

#endif
