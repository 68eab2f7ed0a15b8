/* A write of the file store finished by one of the engine's threads (file_behind.c).
 * Private to src/store. */
#ifndef ENG_STORE_FILE_BEHIND_H
#define ENG_STORE_FILE_BEHIND_H

#include "base/mem.h"
#include "base/tpool.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* Write the first @p limit bytes of the n pieces at off; returns 0, an errno value,
 * or, when all limit bytes were written, @p injected (a test's fault after them). */
int eng__write_limited(int fd, const struct iovec *in, int n, uint64_t off, size_t limit, int injected);

typedef struct eng__behind {
    eng__pipe pp; /* the write: one job, the caller's at the join when no worker has taken it */
    int running;  /* a write started and not yet joined */
    int fd, injected, err;
    uint8_t *buf; /* the pieces copied, kept from one write to the next (its pages stay) */
    size_t cap, len, limit, crc_from;
    uint64_t off;
    uint32_t crc; /* eng__crc32c(crc given, the bytes from crc_from on): the frame's running CRC */
} eng__behind;

/* Copy the n pieces (at most 3) and write them at off on a worker of @p pool, as
 * eng__write_limited(fd, ..., limit, injected) would, and there also take b->crc
 * of their bytes from @p crc_from on, continuing @p crc. 1: taken (the results once
 * eng__behind_join returns); 0: not (no memory for the copy, or the pool has no
 * worker): the caller writes them itself. None may be running. */
int eng__behind_start(eng__behind *b, const eng__mem *mem, eng__tpool *pool, int fd, const struct iovec *in, int n,
                      uint64_t off, size_t limit, int injected, size_t crc_from, uint32_t crc);
/* Wait for the write started last, if any (written now when no worker has taken
 * it): 0 or its errno value (once). */
int eng__behind_join(eng__behind *b);
/* Join, then release the copy's buffer. */
void eng__behind_free(eng__behind *b, const eng__mem *mem);
/* Writes taken by eng__behind_start since the process started (for the tests). */
extern _Atomic size_t eng__behind_writes;

#endif
