#define _DEFAULT_SOURCE /* MAP_* */
#include "store/kbase.h"
#include "store/frame.h"
#include "base/codec.h"
#include "base/error.h"
#include "base/hash.h"
#include "engage/store.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int damaged(const eng__kbase *b, uint64_t off, const char *why)
{
    char detail[64];
    snprintf(detail, sizeof detail, "%llu", (unsigned long long)off);
    return eng__err(ENG_ECORRUPT, detail, "file store '%s' is damaged at byte offset %llu: %s", b->path,
                    (unsigned long long)off, why);
}

void eng__kbase_free(eng__kbase *b)
{
    if (!b)
        return;
    if (b->map)
        munmap((void *)b->map, b->maplen);
    eng__free(b->mem, b->frame);
    eng__free(b->mem, b->checked);
    eng__free(b->mem, b);
}

/* The index frame at @p at (header already checked): its payload's checksum and shape. */
static int take_index(eng__kbase *b, uint64_t at, const eng__frame_hdr *h)
{
    const uint8_t *p = b->map + at + ENG__FRAME_HEADER;
    if (h->len < ENG__KBASE_HEAD || eng__crc32c(0, p, h->len) != h->pcrc)
        return 0;
    uint64_t n = eng__get64(p);
    if (n != (h->len - ENG__KBASE_HEAD) / 8 || (h->len - ENG__KBASE_HEAD) % 8)
        return 0;
    b->n = n;
    b->bytes = eng__get64(p + 8);
    b->enc = eng__get64(p + 16);
    b->ent = p + ENG__KBASE_HEAD;
    return 1;
}

int eng__kbase_open(const eng__mem *mem, const char *path, int fd, uint64_t size, eng__kbase **out, uint64_t *end)
{
    *out = NULL;
    *end = 0;
    if (size <= ENG__FILE_HEADER || size > (uint64_t)SIZE_MAX)
        return ENG_OK;
    void *map = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED)
        return ENG_OK; /* replay instead */
    const uint8_t *m = map;
    /* Walk the frame headers (not their payloads) for the last index frame. */
    uint64_t pos = ENG__FILE_HEADER, seq = 1, last = 0, nframes = 0;
    eng__frame_hdr h, lh;
    while (size - pos >= ENG__FRAME_HEADER && eng__frame_header_decode(m + pos, &h) == ENG_OK && h.seq == seq &&
           h.len <= size - pos - ENG__FRAME_HEADER) {
        if (h.index) {
            last = pos;
            lh = h;
            nframes = seq;
        }
        pos += ENG__FRAME_HEADER + h.len;
        seq++;
    }
    eng__kbase *b = NULL;
    int rc = ENG_OK;
    if (!last)
        goto none;
    if (!(b = eng__calloc(mem, 1, sizeof *b))) {
        rc = eng__nomem();
        goto none;
    }
    b->mem = mem;
    b->fd = fd;
    b->path = path;
    b->map = m;
    b->maplen = (size_t)size;
    if (!take_index(b, last, &lh))
        goto none;
    b->frame = eng__malloc(mem, (size_t)nframes * sizeof *b->frame);
    b->checked = eng__calloc(mem, (size_t)nframes, 1);
    if (!b->frame || !b->checked) {
        rc = eng__nomem();
        goto none;
    }
    pos = ENG__FILE_HEADER;
    for (uint64_t i = 0; i < nframes; i++) {
        b->frame[i] = pos;
        pos += ENG__FRAME_HEADER + eng__get32(m + pos + 4);
    }
    b->nframes = (size_t)nframes;
    b->checked[nframes - 1] = 1; /* the index itself */
    *out = b;
    *end = pos;
    return ENG_OK;
none:
    if (b) {
        b->map = NULL;
        eng__kbase_free(b);
    }
    munmap(map, (size_t)size);
    return rc;
}

int eng__pread_all(int fd, void *buf, size_t len, uint64_t off)
{
    uint8_t *p = buf;
    size_t done = 0;
    while (done < len) {
        ssize_t r = pread(fd, p + done, len - done, (off_t)(off + done));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return r < 0 ? errno : EIO; /* the file shrank under us */
        done += (size_t)r;
    }
    return 0;
}

/* The checksum of the @p n payload bytes of the frame at @p at, read with pread
 * rather than through the mapping: a frame of bulk values (customer-table parts)
 * is then not counted in the process's resident memory (see kvmem.h ref_min). */
static int check_payload(const eng__kbase *b, uint64_t at, uint32_t n, uint32_t want)
{
    uint8_t buf[16384];
    uint32_t crc = 0;
    for (uint64_t done = 0; done < n;) {
        size_t k = n - done < sizeof buf ? (size_t)(n - done) : sizeof buf;
        int err = eng__pread_all(b->fd, buf, k, at + ENG__FRAME_HEADER + done);
        if (err) {
            char detail[64];
            snprintf(detail, sizeof detail, "%llu", (unsigned long long)at);
            return eng__err(ENG_EIO, detail, "file store '%s': read failed at offset %llu: %s", b->path,
                            (unsigned long long)at, strerror(err));
        }
        crc = eng__crc32c(crc, buf, k);
        done += k;
    }
    return crc == want ? ENG_OK : damaged(b, at, "frame payload fails its checksum");
}

/* The payload of the frame holding file offset @p off, checksummed once. */
static int frame_of(eng__kbase *b, uint64_t off, const uint8_t **p, size_t *len)
{
    size_t lo = 0, hi = b->nframes - 1; /* the last frame is the index: ops are before it */
    while (lo + 1 < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (b->frame[mid] <= off)
            lo = mid;
        else
            hi = mid;
    }
    uint64_t at = b->frame[lo];
    const uint8_t *h = b->map + at;
    uint32_t n = eng__get32(h + 4);
    if (off < at + ENG__FRAME_HEADER || off >= at + ENG__FRAME_HEADER + n || hi == 0)
        return damaged(b, off, "the key index points outside the frames");
    if (!__atomic_load_n(&b->checked[lo], __ATOMIC_ACQUIRE)) {
        int rc = check_payload(b, at, n, eng__get32(h + 16));
        if (rc)
            return rc;
        __atomic_store_n(&b->checked[lo], 1, __ATOMIC_RELEASE);
    }
    *p = h + ENG__FRAME_HEADER;
    *len = n;
    return ENG_OK;
}

int eng__kbase_get(eng__kbase *b, uint64_t i, eng__kent *e)
{
    uint64_t op = eng__get64(b->ent + 8 * i);
    const uint8_t *p = NULL;
    size_t len = 0;
    int rc = frame_of(b, op, &p, &len);
    if (rc)
        return rc;
    uint64_t start = op - (uint64_t)(p - b->map);
    eng__rd r;
    eng__rd_init(&r, p + start, len - (size_t)start);
    uint8_t kind = eng__rd_u8(&r);
    e->key = eng__rd_blob(&r, &e->klen);
    e->val = eng__rd_blob(&r, &e->vlen);
    if (!eng__rd_ok(&r) || kind != ENG__OP_PUT || e->klen == 0 || e->klen > ENG_STORE_MAX_KEY)
        return damaged(b, op, "the key index points at no put");
    e->op = op;
    e->voff = (uint64_t)(e->val - b->map);
    return ENG_OK;
}

int eng__kbase_seek(eng__kbase *b, const void *key, size_t klen, uint64_t *pos, int *eq)
{
    uint64_t lo = 0, hi = b->n;
    *eq = 0;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        eng__kent e;
        int rc = eng__kbase_get(b, mid, &e);
        if (rc)
            return rc;
        int c = eng__key_cmp(e.key, e.klen, key, klen);
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
            if (c == 0)
                *eq = 1;
        }
    }
    *pos = lo;
    return ENG_OK;
}
