/* Threads of the library's own: small stacks for short jobs (thread.h). */
#include "base/thread.h"

int eng__thread_small(pthread_t *t, void *(*fn)(void *), void *arg)
{
    pthread_attr_t a;
    if (pthread_attr_init(&a))
        return pthread_create(t, NULL, fn, arg);
    int rc = pthread_attr_setstacksize(&a, (size_t)256 << 10) ? pthread_create(t, NULL, fn, arg)
                                                              : pthread_create(t, &a, fn, arg);
    pthread_attr_destroy(&a);
    return rc;
}
