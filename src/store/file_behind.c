/* A write of the file store finished by one of the engine's threads (file.c, eng__file_behind).
 *
 * At W6 a quarter of the calling thread's time was the kernel copying the records
 * it wrote into new page-cache pages, the larger part the segment a batch seals
 * (docs/events.md, session 13). That record is put in the middle of its batch, long
 * before the commit, so its write can run beside the rest of the batch: its bytes
 * are copied into a buffer the store keeps (a copy into pages already the process's
 * costs a small part of the kernel's into new page-cache pages, and leaves the caller
 * free to change or free its own) and a thread writes them where the batch put them.
 * The thread also takes the frame's CRC of them. The store waits for it before its
 * next write, read or commit, so there is never more than one write in flight and
 * none outlives the batch. The thread is a worker of the engine's pool (base/tpool.c):
 * a thread started a write (155 at W6's M) cost the caller a clone each, and a join
 * waited for it to be scheduled where the caller now writes a value no worker has
 * taken. The write does not go first (eng__pipe_first): it is joined at the store's
 * next write, most often long after, and a worker that left the caller's chunks for
 * it left them to the caller (W6 at L: the `sent` calls' calling thread +12 %). */
#include "store/file_behind.h"
#include "base/hash.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

_Atomic size_t eng__behind_writes; /* engines on other stores may count at once */

int eng__write_limited(int fd, const struct iovec *in, int n, uint64_t off, size_t limit, int injected)
{
    struct iovec iov[3];
    size_t left = limit;
    int k = 0;
    for (int i = 0; i < n && i < 3 && left; i++) {
        iov[k] = in[i];
        if (iov[k].iov_len > left)
            iov[k].iov_len = left;
        left -= iov[k++].iov_len;
    }
    size_t done = 0;
    int i = 0;
    while (done < limit) {
        ssize_t w = pwritev(fd, iov + i, k - i, (off_t)(off + done));
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        done += (size_t)w;
        size_t adv = (size_t)w;
        while (i < k && adv >= iov[i].iov_len)
            adv -= iov[i++].iov_len;
        if (i < k && adv) { /* part of iov[i] was written */
            iov[i].iov_base = (uint8_t *)iov[i].iov_base + adv;
            iov[i].iov_len -= adv;
        }
    }
    return injected;
}

static void behind_run(void *arg, size_t k)
{
    (void)k;
    eng__behind *b = arg;
    struct iovec v = {b->buf, b->len};
    b->err = eng__write_limited(b->fd, &v, 1, b->off, b->limit, b->injected);
    b->crc = eng__crc32c(b->crc, b->buf + b->crc_from, b->len - b->crc_from);
}

int eng__behind_start(eng__behind *b, const eng__mem *mem, eng__tpool *pool, int fd, const struct iovec *in, int n,
                      uint64_t off, size_t limit, int injected, size_t crc_from, uint32_t crc)
{
    size_t len = 0;
    for (int i = 0; i < n; i++)
        len += in[i].iov_len;
    if (len > b->cap) {
        uint8_t *p = eng__malloc(mem, len);
        if (!p)
            return 0;
        eng__free(mem, b->buf);
        b->buf = p;
        b->cap = len;
    }
    len = 0;
    for (int i = 0; i < n; i++) {
        if (in[i].iov_len)
            memcpy(b->buf + len, in[i].iov_base, in[i].iov_len);
        len += in[i].iov_len;
    }
    b->running = 0;
    b->fd = fd, b->injected = injected, b->err = 0;
    b->len = len, b->limit = limit < len ? limit : len, b->crc_from = crc_from < len ? crc_from : len;
    b->off = off, b->crc = crc;
    eng__pipe_start(&b->pp, pool, 1, 1, behind_run, b);
    if (!b->pp.pool) {
        eng__pipe_drop(&b->pp); /* its job not run */
        return 0;               /* no worker: the caller writes from its own pieces */
    }
    b->running = 1;
    atomic_fetch_add_explicit(&eng__behind_writes, 1, memory_order_relaxed);
    return 1;
}

int eng__behind_join(eng__behind *b)
{
    if (!b->running)
        return 0;
    eng__pipe_end(&b->pp);
    b->running = 0;
    return b->err;
}

void eng__behind_free(eng__behind *b, const eng__mem *mem)
{
    eng__behind_join(b);
    eng__free(mem, b->buf);
    b->buf = NULL;
    b->cap = 0;
}
