/* Threads of the library's own (base/thread.c). */
#ifndef ENG_BASE_THREAD_H
#define ENG_BASE_THREAD_H

#include <pthread.h>

/* pthread_create with a 256 KiB stack, for a thread that calls little (a write): a default stack (8 MiB) is mapped for it and, past glibc's cache of
 * stacks, unmapped again, and an unmapping empties the TLBs of the process's other
 * threads. 0 or an error number, as pthread_create. */
int eng__thread_small(pthread_t *t, void *(*fn)(void *), void *arg);

#endif
