/**
 * @file engage/alloc.h
 * @brief Host-supplied memory allocator hooks.
 *
 * Every allocation libengage makes for an engine or store goes through the
 * allocator given when that object was created; there is no process-global
 * allocator, so several independent engines can live in one process.
 */
#ifndef ENGAGE_ALLOC_H
#define ENGAGE_ALLOC_H

#include "common.h"

ENG_BEGIN_DECLS

/** Current version of #eng_allocator. */
#define ENG_ALLOCATOR_VERSION 1

/**
 * Allocator hooks. Set all three functions, or none (all NULL, as
 * #ENG_ALLOCATOR_INIT leaves them: the system allocator). They must behave like
 * malloc, realloc and free: realloc(NULL, n) allocates, and the library never
 * calls any of them with size 0. They may be called from any thread that uses
 * the engine and from the threads eng_config.threads lets it start, so they
 * must be thread-safe (or threads set to 0 with one host thread).
 */
typedef struct eng_allocator {
    unsigned int version;                               /**< #ENG_ALLOCATOR_VERSION. */
    void *(*malloc_fn)(size_t size, void *user);        /**< Allocate; NULL on failure. */
    void *(*realloc_fn)(void *ptr, size_t size, void *user); /**< Resize; NULL on failure (ptr stays valid). */
    void (*free_fn)(void *ptr, void *user);             /**< Release; ptr may be NULL. */
    void *user;                                         /**< Passed last to every hook. */
} eng_allocator;

/** Static initialiser: version set, no hooks, which means the system allocator. */
#define ENG_ALLOCATOR_INIT {ENG_ALLOCATOR_VERSION, NULL, NULL, NULL, NULL}

/**
 * Fill @p alloc with the system allocator (malloc, realloc, free).
 * @param alloc the struct to fill.
 * @param version #ENG_ALLOCATOR_VERSION.
 * @return #ENG_OK, #ENG_EINVAL if @p alloc is NULL, #ENG_EVERSION for an unknown version.
 */
ENG_API int eng_allocator_init(eng_allocator *alloc, unsigned int version);

ENG_END_DECLS

#endif /* ENGAGE_ALLOC_H */
