/* The file backend: an eng__kvmem that holds the keys and small values in
 * memory, made durable by appending one checksummed frame per committed batch
 * (frame.h). A value of REF_MIN bytes or more is not kept in memory once it is
 * in the file: its node holds the value's file offset and reads go to the
 * file (the page cache), so the process keeps no second copy of bulk data
 * such as customer-table parts.
 * Opening replays the frames; a torn tail left by a crash is cut off; a damaged
 * committed frame refuses the open (ENG_ECORRUPT) instead of losing data.
 * Compaction writes the live state to a new file and renames it over the old.
 * Compaction, and a close after enough commits, end with a key index (kbase.h):
 * the next open maps the file up to it and replays only the frames after it. */
#define _DEFAULT_SOURCE /* flock, fsync */
#include "store/file_impl.h"
#include "store/file_behind.h"
#include "store/frame.h"
#include "store/kbase.h"
#include "base/hash.h"
#include "store/kvmem.h"
#include "store/store_impl.h"
#include "base/error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

int (*eng__file_io_fault)(int op, size_t *n) = NULL;

/* Small enough that the first read of a key, which checksums the frames its
 * index search touches, stays well under a millisecond. */
#define COMPACT_FRAME_BYTES ((size_t)256 << 10)
uint64_t eng__file_checkpoint_min = (uint64_t)1 << 20;
uint64_t eng__file_checkpoint_every = (uint64_t)64 << 20;
uint64_t eng__file_checkpoint_ratio = 16;
/* Values this large are served from the file; smaller ones (most records) stay
 * in memory, where a read costs no system call. Tests lower it to 1 so that
 * every crash, truncation and corruption case runs with values in the file. */
size_t eng__file_ref_min = 1024;
#define REF_MIN (eng__file_ref_min ? eng__file_ref_min : 1)
/* A value this large put inside a batch is written to the file at once, after
 * the frame's header room, instead of being held in memory until the commit:
 * an import of 10^7 customers would otherwise hold its 0.5 GB of parts twice
 * (the batch, then the frame built from it) before writing them. */
size_t eng__file_spill_min = (size_t)64 << 10;

typedef struct filestore {
    eng__mem mem;
    eng__kvmem kv;
    char *path;
    int fd;
    unsigned flags;
    uint64_t end;       /* offset after the last valid frame */
    uint64_t indexed;   /* offset after the last key index frame (0: none) */
    int loaded;         /* opened: a close may write a key index */
    uint32_t version;   /* of the file's format (frame.h) */
    uint64_t next_seq;
    uint64_t frames;
    uint64_t dropped;   /* torn-tail bytes cut off at open */
    uint64_t mended;    /* 1 + offset of a frame header mended at open (eng__frame_header_mend), or 0 */
    uint8_t mended_hdr[ENG__FRAME_HEADER]; /* that header, written over the cut one at open */
    int broken;
    eng_file_compaction policy;
    uint64_t retry_at;  /* after a failed automatic compaction: file size before trying again */
    uint64_t compactions, auto_compactions;
    uint64_t spill;     /* the open batch's payload bytes already written at end + frame header */
    uint32_t spill_crc; /* their CRC32C */
    int spill_lost;     /* a failed commit took them off the file: the batch can only be rolled back */
    eng__tpool *behind; /* the next spilled value is written by its worker (eng__file_behind) */
    eng__behind bg;     /* that write, joined before the store's next write, read or commit */
    int bg_crc;         /* 1: spill_crc is bg.crc once joined */
    uint64_t room;      /* the file's blocks are reserved up to here (reserve_ahead); 0: none */
    int no_room;        /* its file system cannot reserve them */
} filestore;

static int io_fail(const filestore *fs, int err, const char *what, uint64_t off)
{
    char detail[64];
    snprintf(detail, sizeof detail, "%llu", (unsigned long long)off);
    return eng__err(ENG_EIO, detail, "file store '%s': %s failed at offset %llu: %s", fs->path, what,
                    (unsigned long long)off, strerror(err));
}

static int corrupt(const filestore *fs, uint64_t off, const char *why)
{
    char detail[64];
    snprintf(detail, sizeof detail, "%llu", (unsigned long long)off);
    return eng__err(ENG_ECORRUPT, detail, "file store '%s' is damaged at byte offset %llu: %s", fs->path,
                    (unsigned long long)off, why);
}

static int fault(int op, size_t *n) { return eng__file_io_fault ? eng__file_io_fault(op, n) : 0; }

/* Write all of the n (at most 3) pieces, one after the other, at off; returns 0
 * or an errno value. An injected short write cuts the whole, not each piece. */
static int write_iov(int fd, const struct iovec *in, int n, uint64_t off)
{
    size_t len = 0;
    for (int i = 0; i < n; i++)
        len += in[i].iov_len;
    size_t allowed = len;
    int injected = fault(ENG__IO_WRITE, &allowed);
    return eng__write_limited(fd, in, n, off, injected && allowed < len ? allowed : len, injected);
}

/* Write all of buf at off; returns 0 or an errno value. */
static int write_all(int fd, const void *buf, size_t len, uint64_t off)
{
    struct iovec v = {(void *)buf, len};
    return write_iov(fd, &v, 1, off);
}

static int sync_fd(int fd)
{
    int injected = fault(ENG__IO_FSYNC, NULL);
    if (injected)
        return injected < 0 ? 0 : injected; /* < 0: a test skips the sync */
    return fsync(fd) == 0 ? 0 : errno;
}

static int truncate_fd(int fd, uint64_t len)
{
    int injected = fault(ENG__IO_TRUNCATE, NULL);
    if (injected)
        return injected;
    return ftruncate(fd, (off_t)len) == 0 ? 0 : errno;
}

/* The file's blocks reserved ahead of the writes that need them (fallocate, the size
 * unchanged), so that a batch's writes land in allocated blocks: on ext4 each page of a
 * write past the allocated end reserves its own delayed block (quota, extent status,
 * free-cluster counts), which was a quarter or more of the kernel's time of W6's
 * writes, the larger part of which run on the engine's workers (docs/events.md,
 * 2026-12-07 night). Steps of an eighth of the file, 1 to 64 MiB; best effort: where
 * the file system cannot, the writes are as before. A close gives back what the file
 * did not use (free_room); a reopen or compaction reserves again when it writes. */
static void reserve_ahead(filestore *fs, uint64_t upto)
{
#if defined(__linux__) && defined(FALLOC_FL_KEEP_SIZE)
    if (upto <= fs->room || fs->no_room)
        return;
    uint64_t step = fs->end / 8, from = fs->room > fs->end ? fs->room : fs->end;
    step = step < ((uint64_t)1 << 20) ? (uint64_t)1 << 20 : step > ((uint64_t)64 << 20) ? (uint64_t)64 << 20 : step;
    if (fallocate(fs->fd, FALLOC_FL_KEEP_SIZE, (off_t)from, (off_t)(upto + step - from)) == 0)
        fs->room = upto + step;
    else if (errno == EOPNOTSUPP || errno == ENOSYS)
        fs->no_room = 1;
#else
    (void)fs, (void)upto;
#endif
}

/* The reserved blocks past the file's end given back (a cut to the same size frees them). */
static void free_room(filestore *fs)
{
    if (fs->room > fs->end && !fs->broken && !fs->spill && ftruncate(fs->fd, (off_t)fs->end) == 0)
        fs->room = 0;
}

/* The directory of @p path into @p dir (4096 bytes). */
static void dir_of(const char *path, char *dir)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, 4096, ".");
    else if (slash == path)
        snprintf(dir, 4096, "/");
    else
        snprintf(dir, 4096, "%.*s", (int)(slash - path), path);
}

static int dir_exists(const char *path)
{
    char dir[4096];
    struct stat st;
    dir_of(path, dir);
    return stat(dir, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Make a created or renamed entry durable: fsync its directory. */
static int sync_dir(const char *path)
{
    char dir[4096];
    dir_of(path, dir);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return errno;
    int err = sync_fd(dfd);
    close(dfd);
    return err;
}

/* ---- replay ---------------------------------------------------------------- */

/* Replay the frames from @p pos (where the frame of sequence fs->next_seq starts). */
static int replay(filestore *fs, uint64_t pos, uint64_t size)
{
    uint8_t hdr[ENG__FRAME_HEADER];
    uint8_t *buf = NULL;
    size_t cap = 0;
    int rc = ENG_OK;
    while (pos < size) {
        if (size - pos < ENG__FRAME_HEADER)
            break; /* torn: the header itself is incomplete */
        int err = eng__pread_all(fs->fd, hdr, sizeof hdr, pos);
        if (err) {
            rc = io_fail(fs, err, "read", pos);
            break;
        }
        eng__frame_hdr h;
        int mend = 0;
        if (eng__frame_header_decode(hdr, &h) != ENG_OK &&
            ((mend = eng__frame_header_mend(hdr, fs->next_seq)) != 2 || eng__frame_header_decode(hdr, &h) != ENG_OK)) {
            if (mend == 1)
                break; /* torn: a commit's header cut while written over its stand-in */
            rc = corrupt(fs, pos, "frame header fails its checksum");
            break;
        }
        if (mend) { /* the real header but for its checksum's last bytes: written whole at open */
            fs->mended = pos + 1;
            memcpy(fs->mended_hdr, hdr, sizeof hdr);
        }
        if (h.seq != fs->next_seq) {
            rc = corrupt(fs, pos, "frame out of sequence");
            break;
        }
        if (h.len > size - pos - ENG__FRAME_HEADER)
            break; /* torn: the payload was not fully written */
        uint64_t next = pos + ENG__FRAME_HEADER + h.len;
        if (h.index) { /* changes no key; one that was not used (damaged, or before the mapped one) is skipped */
            fs->next_seq++;
            fs->frames++;
            fs->indexed = pos = next;
            continue;
        }
        if (h.len > cap) {
            uint8_t *nb = eng__realloc(&fs->mem, buf, h.len);
            if (!nb) {
                rc = eng__nomem();
                break;
            }
            buf = nb;
            cap = h.len;
        }
        if ((err = eng__pread_all(fs->fd, buf, h.len, pos + ENG__FRAME_HEADER)) != 0) {
            rc = io_fail(fs, err, "read", pos);
            break;
        }
        if (!eng__frame_payload_ok(&h, buf)) {
            if (next == size)
                break; /* the last frame, never acknowledged: a torn tail */
            rc = corrupt(fs, pos, "frame payload fails its checksum");
            break;
        }
        rc = eng__frame_apply(&fs->kv.main, buf, h.len, pos + ENG__FRAME_HEADER, REF_MIN);
        if (rc == ENG_ENOMEM) {
            rc = eng__nomem();
            break;
        }
        if (rc != ENG_OK) {
            rc = corrupt(fs, pos, "frame payload does not decode");
            break;
        }
        fs->next_seq++;
        fs->frames++;
        pos = next;
    }
    eng__free(&fs->mem, buf);
    fs->end = pos;
    fs->dropped = size - pos;
    if (fs->mended > pos) /* the mended frame was a torn tail after all (its payload cut) */
        fs->mended = 0;
    return rc;
}

/* A file shorter than its header was torn while being created: accept it only
 * if what is there is a prefix of a valid header. */
static int check_short_file(filestore *fs, uint64_t size)
{
    uint8_t want[ENG__FILE_HEADER], old[ENG__FILE_HEADER], got[ENG__FILE_HEADER];
    eng__file_header_encode(want, ENG__FILE_VERSION);
    eng__file_header_encode(old, ENG__FILE_VERSION_MIN);
    int err = eng__pread_all(fs->fd, got, (size_t)size, 0);
    if (err)
        return io_fail(fs, err, "read", 0);
    return memcmp(want, got, (size_t)size) == 0 || memcmp(old, got, (size_t)size) == 0
               ? ENG_OK
               : corrupt(fs, 0, "not a libengage store file");
}

static int write_header(filestore *fs)
{
    uint8_t h[ENG__FILE_HEADER];
    eng__file_header_encode(h, ENG__FILE_VERSION);
    int err = truncate_fd(fs->fd, 0);
    if (!err)
        err = write_all(fs->fd, h, sizeof h, 0);
    if (!err && !(fs->flags & ENG_STORE_NOSYNC))
        err = sync_fd(fs->fd);
    if (!err && !(fs->flags & ENG_STORE_NOSYNC))
        err = sync_dir(fs->path);
    if (err)
        return io_fail(fs, err, "writing the file header", 0);
    fs->end = ENG__FILE_HEADER;
    fs->next_seq = 1;
    fs->version = ENG__FILE_VERSION;
    return ENG_OK;
}

static int load(filestore *fs)
{
    struct stat st;
    if (fstat(fs->fd, &st) != 0)
        return io_fail(fs, errno, "stat", 0);
    uint64_t size = (uint64_t)st.st_size;
    int ro = (fs->flags & ENG_STORE_READONLY) != 0;
    if (size < ENG__FILE_HEADER) {
        int rc = check_short_file(fs, size);
        if (rc)
            return rc;
        if (ro) {
            fs->end = size;
            return ENG_OK;
        }
        return write_header(fs);
    }
    uint8_t h[ENG__FILE_HEADER];
    int err = eng__pread_all(fs->fd, h, sizeof h, 0);
    if (err)
        return io_fail(fs, err, "read", 0);
    int rc = eng__file_header_check(h);
    if (rc == ENG_EVERSION)
        return eng__err(ENG_EVERSION, fs->path, "file store '%s' has format version %u; this library reads %u",
                        fs->path, (unsigned)eng__get32(h + 8), ENG__FILE_VERSION);
    if (rc)
        return corrupt(fs, 0, "not a libengage store file (bad header)");
    fs->version = eng__get32(h + 8);
    eng__kbase *base;
    uint64_t pos;
    if ((rc = eng__kbase_open(&fs->mem, fs->path, fs->fd, size, &base, &pos)) != ENG_OK)
        return rc;
    fs->next_seq = 1;
    if (base) { /* only the frames after the index are replayed, over it */
        fs->next_seq = fs->frames = base->nframes;
        fs->next_seq++;
        fs->indexed = pos;
        fs->kv.main.keep_dead = 1;
    } else {
        pos = ENG__FILE_HEADER;
    }
    rc = replay(fs, pos, size);
    if (!rc)
        rc = eng__kvmem_set_base(&fs->kv, base);
    else
        eng__kbase_free(base);
    if (rc != ENG_OK)
        return rc;
    if (fs->dropped && !ro) {
        /* Cut the torn tail so the next frame is appended after valid data. */
        if ((err = truncate_fd(fs->fd, fs->end)) != 0 ||
            (!(fs->flags & ENG_STORE_NOSYNC) && (err = sync_fd(fs->fd)) != 0))
            return io_fail(fs, err, "cutting the torn tail", fs->end);
    }
    if (fs->mended && !ro) {
        uint64_t at = fs->mended - 1;
        if ((err = write_all(fs->fd, fs->mended_hdr, ENG__FRAME_HEADER, at)) != 0 ||
            (!(fs->flags & ENG_STORE_NOSYNC) && (err = sync_fd(fs->fd)) != 0))
            return io_fail(fs, err, "mending a frame header", at);
    }
    return ENG_OK;
}

/* ---- batches ---------------------------------------------------------------- */

typedef struct build_ctx {
    eng__wr *w;
    uint64_t base; /* file offset the frame will be written at */
} build_ctx;

/* Pending nodes are ours: note where the value will sit in the file, so that
 * after the write the node can drop its heap copy (values_to_file). A pending
 * node in_file was written when it was put (spill): its op is in the file. */
static int add_op(const eng__onode *n, void *user)
{
    build_ctx *c = user;
    if (n->in_file)
        return 0;
    eng__frame_add_op(c->w, n);
    if (!n->dead)
        ((eng__onode *)n)->foff = c->base + (c->w->len - n->vlen);
    return 0;
}

static int to_file(const eng__onode *n, void *user)
{
    if (!n->dead && !n->in_file && n->vlen >= REF_MIN)
        eng__omap_to_ref(user, (eng__onode *)n, n->foff);
    return 0;
}

/* The batch's frame is written (and synced): large values are read from it from now on. */
static void values_to_file(filestore *fs)
{
    eng__omap_scan(&fs->kv.pend, "", 0, to_file, &fs->kv.pend);
}

/* eng__kvmem_load_fn: read a value from the file. */
static int f_load(void *ctx, uint64_t foff, size_t vlen, uint8_t **buf, size_t *cap)
{
    filestore *fs = ctx;
    if (vlen > *cap) {
        uint8_t *nb = eng__realloc(&fs->mem, *buf, vlen);
        if (!nb)
            return eng__nomem();
        *buf = nb;
        *cap = vlen;
    }
    int err = eng__pread_all(fs->fd, *buf, vlen, foff);
    return err ? io_fail(fs, err, "read", foff) : ENG_OK;
}

static int too_big(uint64_t plen)
{
    return eng__err(ENG_ETOOBIG, "batch", "a batch of %llu bytes exceeds the file store's frame limit",
                    (unsigned long long)plen);
}

/* Append the frame for @p ops (the pending batch) and make it durable. The
 * ops written when they were put (fs->spill bytes after the header room) come
 * first; the rest follows them, then the header makes the frame whole. */
static int append_frame(filestore *fs, const eng__omap *ops)
{
    eng__wr w;
    eng__wr_init(&w, &fs->mem);
    static const uint8_t zero[ENG__FRAME_HEADER];
    eng__wr_bytes(&w, zero, sizeof zero);
    build_ctx c = {&w, fs->end + fs->spill};
    eng__omap_scan(ops, "", 0, add_op, &c);
    if (w.err) {
        eng__wr_free(&w);
        return eng__nomem();
    }
    size_t rest = w.len - ENG__FRAME_HEADER;
    uint64_t plen = fs->spill + rest;
    if (plen > ENG__FRAME_MAX_PAYLOAD) {
        eng__wr_free(&w);
        return too_big(plen);
    }
    int err;
    reserve_ahead(fs, fs->end + ENG__FRAME_HEADER + plen);
    if (!fs->spill) {
        eng__frame_header_encode(w.data, fs->next_seq, w.data + ENG__FRAME_HEADER, plen);
        err = write_all(fs->fd, w.data, w.len, fs->end);
    } else {
        uint32_t crc = eng__crc32c(fs->spill_crc, w.data + ENG__FRAME_HEADER, rest);
        eng__frame_header_encode_crc(w.data, ENG__FRAME_MAGIC, fs->next_seq, crc, plen);
        err = write_all(fs->fd, w.data + ENG__FRAME_HEADER, rest, fs->end + ENG__FRAME_HEADER + fs->spill);
        if (!err)
            err = write_all(fs->fd, w.data, ENG__FRAME_HEADER, fs->end);
        if (err) { /* the cut below takes the spilled ops too */
            fs->spill = 0;
            fs->spill_lost = 1;
        }
    }
    uint64_t total = ENG__FRAME_HEADER + plen;
    eng__wr_free(&w);
    if (err) {
        /* Take the partial frame back off; if even that fails the file's tail is
         * unknown and only a reopen (which drops torn tails) can tell. */
        if (truncate_fd(fs->fd, fs->end) != 0)
            fs->broken = 1;
        return io_fail(fs, err, "append", fs->end);
    }
    if (!(fs->flags & ENG_STORE_NOSYNC) && (err = sync_fd(fs->fd)) != 0) {
        /* After a failed fsync the frame may or may not be on disk (and the page
         * cache may have dropped it): refuse further writes until reopened. */
        fs->broken = 1;
        return io_fail(fs, err, "fsync", fs->end);
    }
    fs->end += total;
    fs->spill = 0;
    fs->spill_crc = 0;
    fs->next_seq++;
    fs->frames++;
    return ENG_OK;
}

static int spill_lost(const filestore *fs)
{
    return eng__err(ENG_EIO, fs->path, "file store '%s': a failed write lost part of this batch; roll it back",
                    fs->path);
}

/* The write of a spilled value started on a thread (eng__file_behind), waited for.
 * When it failed, the batch's spilled ops are taken off the file, as by a failed
 * commit: the batch can only be rolled back. */
static int join_behind(filestore *fs)
{
    int err = eng__behind_join(&fs->bg);
    if (fs->bg_crc && !err)
        fs->spill_crc = fs->bg.crc;
    fs->bg_crc = 0;
    if (!err)
        return ENG_OK;
    fs->spill = 0;
    fs->spill_crc = 0;
    fs->spill_lost = 1;
    if (truncate_fd(fs->fd, fs->end) != 0)
        fs->broken = 1;
    return io_fail(fs, err, "append", fs->bg.off);
}

/* Write a large value's op at the end of the open batch's frame now and keep
 * only its place in memory. The first one of a batch goes with a stand-in
 * header (the batch's sequence, the largest length): a crash before the commit
 * leaves what a reopen takes for a torn frame and drops. The commit writes the
 * real header last. */
static int spill(filestore *fs, const void *k, size_t kl, const void *v, size_t vl)
{
    int rc = join_behind(fs);
    if (rc)
        return rc;
    if (fs->spill_lost)
        return spill_lost(fs);
    uint8_t hdr[ENG__FRAME_HEADER];
    eng__frame_standin_encode(hdr, fs->next_seq);
    size_t hl = fs->spill ? 0 : sizeof hdr;
    eng__wr w;
    eng__wr_init(&w, &fs->mem);
    eng__wr_u8(&w, ENG__OP_PUT);
    eng__wr_blob(&w, k, kl);
    eng__wr_uvar(&w, vl);
    if (w.err) {
        eng__wr_free(&w);
        return eng__nomem();
    }
    uint64_t at = fs->end + ENG__FRAME_HEADER + fs->spill, n = w.len + vl;
    if (fs->spill + n > ENG__FRAME_MAX_PAYLOAD)
        rc = too_big(fs->spill + n);
    struct iovec iov[3] = {{hdr, hl}, {w.data, w.len}, {(void *)v, vl}};
    int err = 0, np = hl ? 3 : 2, behind = 0;
    if (!rc) {
        reserve_ahead(fs, at + n);
        size_t len = hl + w.len + vl, allowed = len;
        int injected = fault(ENG__IO_WRITE, &allowed), lim = injected && allowed < len;
        /* a write behind reports its failure at the store's next call (join_behind) */
        if (fs->behind && eng__behind_start(&fs->bg, &fs->mem, fs->behind, fs->fd, hl ? iov : iov + 1, np, at - hl,
                                            lim ? allowed : len, injected, hl, fs->spill_crc))
            behind = 1;
        else
            err = eng__write_limited(fs->fd, hl ? iov : iov + 1, np, at - hl, lim ? allowed : len, injected);
    }
    if (err)
        rc = io_fail(fs, err, "append", at);
    if (!rc)
        rc = eng__omap_put_ref(&fs->kv.pend, k, kl, vl, at + w.len);
    if (!rc) {
        if (!behind) /* else taken by the thread: join_behind */
            fs->spill_crc = eng__crc32c(eng__crc32c(fs->spill_crc, w.data, w.len), v, vl);
        fs->bg_crc = behind;
        fs->spill += n;
    } else if (err || rc == ENG_ENOMEM) {
        /* The earlier spilled ops stay; if even the cut fails the tail is unknown. */
        eng__behind_join(&fs->bg);
        if (truncate_fd(fs->fd, at - hl) != 0)
            fs->broken = 1;
    }
    eng__wr_free(&w);
    return rc;
}

static int f_erased(const void *const *keys, const size_t *lens, size_t n, void *u);
static void checkpoint(filestore *fs);
static void maybe_checkpoint(filestore *fs);

static int writable(const filestore *fs)
{
    if (fs->flags & ENG_STORE_READONLY)
        return eng__err(ENG_EMISUSE, fs->path, "file store '%s' is open read-only", fs->path);
    if (fs->broken)
        return eng__err(ENG_EIO, fs->path,
                        "file store '%s' refuses writes after a failed write or fsync; reopen it", fs->path);
    return ENG_OK;
}

/* Reads wait for a write behind: a value of the batch may be read from the file. */
static int f_get(const void *k, size_t kl, eng_buf *out, void *u)
{
    int rc = join_behind(u);
    return rc ? rc : eng__kvmem_get(&((filestore *)u)->kv, k, kl, out);
}

static int f_scan(const void *p, size_t pl, eng_store_scan_fn cb, void *cbu, void *u)
{
    int rc = join_behind(u);
    return rc ? rc : eng__kvmem_scan(&((filestore *)u)->kv, p, pl, cb, cbu);
}

static int compact_fs(filestore *fs);

/* Bytes the live keys and values take in the file as frame ops. */
static uint64_t live_enc(const filestore *fs) { return fs->kv.main.enc + fs->kv.base_enc; }

static uint64_t dead_bytes(const filestore *fs)
{
    uint64_t live = ENG__FILE_HEADER + live_enc(fs);
    return fs->end > live ? fs->end - live : 0;
}

/* The automatic policy, after a commit that appended a frame. Its failure is
 * not the commit's: the store stays as it was, and the error is not reported. */
static void maybe_compact(filestore *fs)
{
    const eng_file_compaction *p = &fs->policy;
    uint64_t dead = dead_bytes(fs);
    if (!p->enabled || dead < p->min_dead_bytes || fs->end < fs->retry_at || fs->kv.scanning)
        return;
    if ((double)dead * 100.0 < (double)live_enc(fs) * (double)p->dead_percent)
        return;
    if (compact_fs(fs) == ENG_OK) {
        fs->auto_compactions++;
        fs->retry_at = 0;
    } else {
        fs->retry_at = fs->end + p->min_dead_bytes;
    }
}

static int f_begin(void *u)
{
    filestore *fs = u;
    if (fs->broken)
        return writable(fs);
    return eng__kvmem_begin(&fs->kv);
}

static int f_commit(void *u)
{
    filestore *fs = u;
    if (!fs->kv.in_batch)
        return eng__err(ENG_EMISUSE, "", "commit without an open batch");
    int jrc = join_behind(fs);
    if (jrc)
        return jrc; /* the batch stays open; the caller rolls it back */
    if (fs->spill_lost)
        return spill_lost(fs);
    if (fs->kv.pend.count || fs->spill) {
        uint64_t hid_bytes, hid_enc;
        int rc = writable(fs);
        if (!rc)
            rc = eng__kvmem_hidden(&fs->kv, &fs->kv.pend, &hid_bytes, &hid_enc);
        if (!rc)
            rc = append_frame(fs, &fs->kv.pend);
        if (rc)
            return rc; /* the batch stays open; the caller rolls it back */
        values_to_file(fs);
        fs->kv.base_bytes -= hid_bytes;
        fs->kv.base_enc -= hid_enc;
        eng__kvmem_commit(&fs->kv);
        maybe_compact(fs);
        maybe_checkpoint(fs);
        return ENG_OK;
    }
    return eng__kvmem_commit(&fs->kv);
}

/* Spilled ops of the batch are taken back off the file. */
static void drop_spill(filestore *fs)
{
    eng__behind_join(&fs->bg); /* its failure changes nothing: the cut below takes its bytes */
    if (fs->spill && truncate_fd(fs->fd, fs->end) != 0)
        fs->broken = 1;
    fs->spill = 0;
    fs->spill_crc = 0;
    fs->spill_lost = 0;
    fs->bg_crc = 0;
}

static int f_rollback(void *u)
{
    drop_spill(u);
    return eng__kvmem_rollback(&((filestore *)u)->kv);
}

/* A write outside a batch is a batch of one. */
static int single(filestore *fs, const void *k, size_t kl, const void *v, size_t vl, int del)
{
    int rc = writable(fs);
    if (rc)
        return rc;
    if (fs->kv.in_batch && !del && vl >= eng__file_spill_min)
        return spill(fs, k, kl, v, vl);
    if (fs->kv.in_batch)
        return del ? eng__kvmem_del(&fs->kv, k, kl) : eng__kvmem_put(&fs->kv, k, kl, v, vl);
    if ((rc = eng__kvmem_begin(&fs->kv)) != ENG_OK)
        return rc;
    rc = del ? eng__kvmem_del(&fs->kv, k, kl) : eng__kvmem_put(&fs->kv, k, kl, v, vl);
    if (rc == ENG_OK)
        rc = f_commit(fs);
    if (rc != ENG_OK)
        eng__kvmem_rollback(&fs->kv);
    return rc;
}

static int f_put(const void *k, size_t kl, const void *v, size_t vl, void *u) { return single(u, k, kl, v, vl, 0); }
static int f_del(const void *k, size_t kl, void *u) { return single(u, k, kl, NULL, 0, 1); }

static void f_destroy(void *u)
{
    filestore *fs = u;
    if (fs->fd >= 0 && fs->spill) /* closed inside a batch: leave no torn tail behind */
        drop_spill(fs);
    eng__behind_free(&fs->bg, &fs->mem);
    if (fs->fd >= 0) {
        checkpoint(fs);
        free_room(fs);
    }
    eng__kvmem_clear(&fs->kv);
    if (fs->fd >= 0)
        close(fs->fd); /* releases the lock */
    eng__mem mem = fs->mem;
    eng__free(&mem, fs->path);
    eng__free(&mem, fs);
}

/* ---- open ------------------------------------------------------------------- */

/* Open and lock the file; retry when compaction renamed a new file over it
 * between our open and our lock. */
static int open_locked(filestore *fs)
{
    int ro = (fs->flags & ENG_STORE_READONLY) != 0;
    int oflags = (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC | ((fs->flags & ENG_STORE_CREATE) ? O_CREAT : 0);
    for (int attempt = 0; attempt < 8; attempt++) {
        int fd = open(fs->path, oflags, 0644);
        if (fd < 0) {
            if (errno == ENOENT && !dir_exists(fs->path)) /* which is gone tells what removed it */
                return eng__err(ENG_ENOTFOUND, fs->path, "the directory of file store '%s' does not exist", fs->path);
            if (errno == ENOENT)
                return eng__err(ENG_ENOTFOUND, fs->path, "file store '%s' does not exist (pass ENG_STORE_CREATE)",
                                fs->path);
            return eng__err(ENG_EIO, fs->path, "cannot open file store '%s': %s", fs->path, strerror(errno));
        }
        if (flock(fd, (ro ? LOCK_SH : LOCK_EX) | LOCK_NB) != 0) {
            int e = errno;
            close(fd);
            if (e == EWOULDBLOCK)
                return eng__err(ENG_EBUSY, fs->path, "file store '%s' is in use by another handle or process",
                                fs->path);
            return eng__err(ENG_EIO, fs->path, "cannot lock file store '%s': %s", fs->path, strerror(e));
        }
        struct stat a, b;
        if (fstat(fd, &a) == 0 && stat(fs->path, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev) {
            fs->fd = fd;
            return ENG_OK;
        }
        close(fd);
    }
    return eng__err(ENG_EBUSY, fs->path, "file store '%s' keeps being replaced while opening", fs->path);
}

static char *tmp_path(const filestore *fs)
{
    size_t n = strlen(fs->path);
    char *t = eng__malloc(&fs->mem, n + sizeof ".compact");
    if (t) {
        memcpy(t, fs->path, n);
        memcpy(t + n, ".compact", sizeof ".compact");
    }
    return t;
}

ENG_API int eng_store_file_open(const char *path, unsigned int flags, const eng_allocator *alloc,
                                eng_store **out)
{
    if (out)
        *out = NULL;
    if (!out)
        return eng__err(ENG_EINVAL, "out", "eng_store_file_open: out is NULL");
    if (!path || !*path)
        return eng__err(ENG_EINVAL, "path", "eng_store_file_open: path is NULL or empty");
    if (strlen(path) >= 4000)
        return eng__err(ENG_ETOOBIG, "path", "eng_store_file_open: path is too long");
    if (flags & ~(ENG_STORE_CREATE | ENG_STORE_READONLY | ENG_STORE_NOSYNC))
        return eng__err(ENG_EINVAL, "flags", "eng_store_file_open: unknown flag bits 0x%x", flags);
    if ((flags & ENG_STORE_CREATE) && (flags & ENG_STORE_READONLY))
        return eng__err(ENG_EINVAL, "flags", "ENG_STORE_CREATE and ENG_STORE_READONLY exclude each other");
    eng__mem mem;
    int rc = eng__mem_init(&mem, alloc);
    if (rc)
        return rc;
    filestore *fs = eng__calloc(&mem, 1, sizeof(*fs));
    if (!fs)
        return eng__nomem();
    fs->mem = mem;
    fs->fd = -1;
    fs->flags = flags;
    eng__kvmem_init(&fs->kv, &fs->mem);
    fs->kv.load = f_load;
    fs->kv.load_ctx = fs;
    fs->kv.ref_min = REF_MIN;
    eng_file_compaction_init(&fs->policy, ENG_FILE_COMPACTION_VERSION);
    if (!(fs->path = eng__strdup(&fs->mem, path))) {
        f_destroy(fs);
        return eng__nomem();
    }
    if ((rc = open_locked(fs)) != ENG_OK || (rc = load(fs)) != ENG_OK) {
        f_destroy(fs);
        return rc;
    }
    fs->loaded = 1;
    if (!(flags & ENG_STORE_READONLY)) {
        char *t = tmp_path(fs); /* a compaction that crashed before its rename */
        if (t)
            unlink(t);
        eng__free(&fs->mem, t);
    }
    static const eng_store_methods methods = {
        ENG_STORE_METHODS_VERSION, f_get, f_put, f_del, f_scan, f_begin, f_commit, f_rollback, f_destroy, f_erased, NULL};
    return eng__store_wrap(out, ENG__STORE_FILE, &methods, fs, alloc);
}

void eng__file_behind(eng_store *s, eng__tpool *pool)
{
    if (s && s->kind == ENG__STORE_FILE)
        ((filestore *)s->user)->behind = pool;
}

/* The store-level query (store_impl.h): only the file store can be opened read-only. */
int eng__store_readonly(const eng_store *s)
{
    return s->kind == ENG__STORE_FILE && (((const filestore *)s->user)->flags & ENG_STORE_READONLY);
}

/* ---- key index ---------------------------------------------------------------- */

/* A key index payload under construction: its head, then one op offset a key. */
typedef struct index_wr {
    eng__wr w;
    uint64_t n, bytes, enc;
} index_wr;

static void index_init(index_wr *x, const eng__mem *mem)
{
    static const uint8_t head[ENG__KBASE_HEAD];
    eng__wr_init(&x->w, mem);
    eng__wr_bytes(&x->w, head, sizeof head);
    x->n = x->bytes = x->enc = 0;
}

static void index_add(index_wr *x, uint64_t op, size_t klen, size_t vlen)
{
    eng__wr_u64(&x->w, op);
    x->n++;
    x->bytes += klen + vlen;
    x->enc += eng__op_bytes(klen, vlen);
}

/* Write the index frame (sequence @p seq) at @p off; 0 or an errno value. */
static int index_write(index_wr *x, int fd, uint64_t off, uint64_t seq)
{
    eng__put64(x->w.data, x->n);
    eng__put64(x->w.data + 8, x->bytes);
    eng__put64(x->w.data + 16, x->enc);
    uint8_t hdr[ENG__FRAME_HEADER];
    eng__frame_header_encode_crc(hdr, ENG__INDEX_MAGIC, seq, eng__crc32c(0, x->w.data, x->w.len), x->w.len);
    struct iovec iov[2] = {{hdr, sizeof hdr}, {x->w.data, x->w.len}};
    return write_iov(fd, iov, 2, off);
}

/* eng__kvmem_each: where each live key's put op is in the file. */
static int index_key(const eng__kitem *it, void *user)
{
    index_wr *x = user;
    uint64_t op = it->node ? it->node->foff - (eng__op_bytes(it->e.klen, it->e.vlen) - it->e.vlen) : it->e.op;
    index_add(x, op, it->e.klen, it->e.vlen);
    return x->w.err;
}

/* Whether the frames since the last key index (@p min bytes at least, and
 * @p times the index's size) are worth an index now. */
static int index_due(const filestore *fs, uint64_t min, uint64_t times)
{
    if (!fs->loaded || fs->version < 2 || (fs->flags & ENG_STORE_READONLY) || fs->broken || fs->kv.in_batch ||
        fs->spill || fs->kv.scanning)
        return 0; /* a version 1 file gets its first index (and version 2) from a compaction */
    uint64_t tail = fs->end - (fs->indexed ? fs->indexed : ENG__FILE_HEADER);
    uint64_t keys = fs->kv.main.count + (fs->kv.base ? fs->kv.base->n : 0);
    return tail >= min && tail / times >= 8 * keys;
}

/* Append a key index of the live keys, in the frames they are in. On a failed
 * write the file is cut back (or, when even that or the fsync fails, refuses
 * writes until reopened, as for a frame). */
static int append_index(filestore *fs)
{
    index_wr x;
    index_init(&x, &fs->mem);
    int rc = eng__kvmem_each(&fs->kv, "", 0, index_key, &x);
    if (!rc && x.w.err)
        rc = eng__nomem();
    if (!rc) {
        int err = index_write(&x, fs->fd, fs->end, fs->next_seq);
        if (err && truncate_fd(fs->fd, fs->end) != 0)
            fs->broken = 1;
        if (!err && !(fs->flags & ENG_STORE_NOSYNC) && (err = sync_fd(fs->fd)) != 0)
            fs->broken = 1;
        if (err) {
            rc = io_fail(fs, err, "writing the key index", fs->end);
        } else {
            fs->end += ENG__FRAME_HEADER + x.w.len;
            fs->indexed = fs->end;
            fs->next_seq++;
            fs->frames++;
        }
    }
    eng__wr_free(&x.w);
    return rc;
}

/* At close: an index when the frames since the last one would take longer to
 * replay than it to read. Best effort: on failure the next open replays. */
static void checkpoint(filestore *fs)
{
    if (index_due(fs, eng__file_checkpoint_min, 1))
        append_index(fs);
}

/* After a commit, once the frames since the last index take
 * eng__file_checkpoint_every bytes and eng__file_checkpoint_ratio times a new index: a new one, and
 * the maps let go of their keys for the mapping of it, so that neither the next
 * open (after a crash too) nor the heap grows with what was written. Not the
 * commit's failure when it fails: the store goes on as it was. */
static void maybe_checkpoint(filestore *fs)
{
    if (!index_due(fs, eng__file_checkpoint_every, eng__file_checkpoint_ratio) || append_index(fs) != ENG_OK)
        return;
    eng__kbase *base;
    uint64_t end;
    if (eng__kbase_open(&fs->mem, fs->path, fs->fd, fs->end, &base, &end) != ENG_OK || !base)
        return;
    if (end != fs->end) {
        eng__kbase_free(base);
        return;
    }
    /* The frames are the same: those the old index found good stay so, and the
     * rest were checked by the replay at open or written since. */
    const eng__kbase *old = fs->kv.base;
    for (size_t i = 0; i < base->nframes; i++)
        base->checked[i] = old && i < old->nframes ? old->checked[i] : 1;
    eng__omap_clear(&fs->kv.main);
    eng__kvmem_set_base(&fs->kv, base); /* main is empty: nothing to look up, cannot fail */
}

/* ---- compaction --------------------------------------------------------------- */

typedef struct compact_ctx {
    filestore *fs;
    int fd;
    eng__wr w;
    uint64_t off, seq;
    int err; /* errno of a failed write */
    int rc;  /* a failed read of an in_file value, or no memory */
    uint8_t *vbuf; /* in_file values read back from the old file */
    size_t vcap;
    index_wr idx; /* the new file's key index */
} compact_ctx;

static int flush_frame(compact_ctx *c)
{
    size_t plen = c->w.len - ENG__FRAME_HEADER;
    if (plen == 0)
        return 0;
    eng__frame_header_encode(c->w.data, c->seq, c->w.data + ENG__FRAME_HEADER, plen);
    if ((c->err = write_all(c->fd, c->w.data, c->w.len, c->off)) != 0)
        return 1;
    c->off += c->w.len;
    c->seq++;
    c->w.len = ENG__FRAME_HEADER; /* keep the header slot for the next frame */
    return 0;
}

static int compact_add(const eng__kitem *it, void *user)
{
    compact_ctx *c = user;
    const uint8_t *val;
    if ((c->rc = eng__kvmem_value(&c->fs->kv, it, &c->vbuf, &c->vcap, &val)) != ENG_OK)
        return 1;
    index_add(&c->idx, c->off + c->w.len, it->e.klen, it->e.vlen);
    eng__frame_add_kv(&c->w, it->e.key, it->e.klen, val, it->e.vlen, 0);
    if (c->w.err || c->idx.w.err)
        return 1;
    return c->w.len - ENG__FRAME_HEADER >= COMPACT_FRAME_BYTES ? flush_frame(c) : 0;
}

ENG_API int eng_file_compaction_init(eng_file_compaction *x, unsigned int version)
{
    static const eng_file_compaction init = ENG_FILE_COMPACTION_INIT;
    return eng__struct_init(x, &init, ENG__SIZES(sizeof init), version, "eng_file_compaction");
}

ENG_API int eng_store_file_set_compaction(eng_store *store, const eng_file_compaction *policy)
{
    int rc = eng__store_check(store);
    if (rc)
        return rc;
    if (store->kind != ENG__STORE_FILE)
        return eng__err(ENG_EMISUSE, "store", "eng_store_file_set_compaction: not a file store");
    filestore *fs = store->user;
    if (fs->flags & ENG_STORE_READONLY)
        return eng__err(ENG_EMISUSE, "store", "eng_store_file_set_compaction: the store is read-only");
    if (!policy)
        return eng__err(ENG_EINVAL, "policy", "eng_store_file_set_compaction: policy is NULL");
    if (policy->version == 0 || policy->version > ENG_FILE_COMPACTION_VERSION)
        return eng__err(ENG_EVERSION, "policy.version", "unsupported eng_file_compaction version %u",
                        policy->version);
    if (policy->enabled != 0 && policy->enabled != 1)
        return eng__err(ENG_EINVAL, "policy.enabled", "eng_file_compaction.enabled must be 0 or 1, not %d",
                        policy->enabled);
    fs->policy = *policy;
    fs->retry_at = 0;
    return ENG_OK;
}

ENG_API int eng_store_file_compact(eng_store *store)
{
    int rc = eng__store_check(store);
    if (rc)
        return rc;
    if (store->kind != ENG__STORE_FILE)
        return eng__err(ENG_EMISUSE, "store", "eng_store_file_compact: not a file store");
    filestore *fs = store->user;
    if (store->in_batch || fs->kv.in_batch)
        return eng__err(ENG_EBUSY, "store", "eng_store_file_compact: a batch is open");
    return compact_fs(fs);
}

/* Contract version 2: erased personal data must leave the file, so the file
 * is rewritten with the live keys only (the old frames holding the erased
 * values go with the old file). */
static int f_erased(const void *const *keys, const size_t *lens, size_t n, void *u)
{
    (void)keys;
    (void)lens;
    (void)n;
    filestore *fs = u;
    if (fs->kv.in_batch)
        return eng__err(ENG_EBUSY, "store", "file store: erased keys told inside a batch");
    return compact_fs(fs);
}

static int compact_fs(filestore *fs)
{
    int rc;
    if ((rc = join_behind(fs)) != ENG_OK || (rc = writable(fs)) != ENG_OK)
        return rc;
    if (fs->kv.scanning)
        return eng__err(ENG_EBUSY, "store", "file store '%s': compaction inside a scan", fs->path);
    char *tmp = tmp_path(fs);
    if (!tmp)
        return eng__nomem();
    compact_ctx c = {.fs = fs, .off = ENG__FILE_HEADER, .seq = 1};
    eng__kbase *base = NULL;
    eng__wr_init(&c.w, &fs->mem);
    index_init(&c.idx, &fs->mem);
    c.fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (c.fd < 0) {
        rc = eng__err(ENG_EIO, tmp, "compaction cannot create '%s': %s", tmp, strerror(errno));
        goto out;
    }
    if (flock(c.fd, LOCK_EX | LOCK_NB) != 0) {
        rc = eng__err(ENG_EBUSY, tmp, "compaction file '%s' is locked", tmp);
        goto out;
    }
    uint8_t h[ENG__FILE_HEADER];
    eng__file_header_encode(h, ENG__FILE_VERSION);
    static const uint8_t zero[ENG__FRAME_HEADER];
    eng__wr_bytes(&c.w, zero, sizeof zero);
    if ((c.err = write_all(c.fd, h, sizeof h, 0)) == 0) {
        rc = eng__kvmem_each(&fs->kv, "", 0, compact_add, &c);
        if (rc)
            goto out; /* the base is damaged: nothing to copy it from */
        if (!c.rc && !c.w.err && !c.idx.w.err && !c.err && !flush_frame(&c) &&
            (c.err = index_write(&c.idx, c.fd, c.off, c.seq)) == 0) {
            c.off += ENG__FRAME_HEADER + c.idx.w.len;
            c.seq++;
        }
    }
    if (c.w.err || c.idx.w.err || c.rc) {
        rc = c.rc ? c.rc : eng__nomem();
        goto out;
    }
    const char *what = "write";
    if (!c.err) {
        what = "fsync"; /* always, even with NOSYNC: the rename must not expose unwritten data */
        c.err = sync_fd(c.fd);
    }
    if (!c.err) { /* map the new file before the rename, which then cannot fail half-way */
        uint64_t end;
        if ((rc = eng__kbase_open(&fs->mem, fs->path, c.fd, c.off, &base, &end)) != ENG_OK)
            goto out;
        what = "map";
        c.err = base && end == c.off ? 0 : EIO;
    }
    if (!c.err) {
        what = "rename";
        c.err = fault(ENG__IO_RENAME, NULL);
        if (!c.err && rename(tmp, fs->path) != 0)
            c.err = errno;
    }
    if (c.err) {
        rc = eng__err(ENG_EIO, tmp, "compaction of '%s' failed (%s): %s; the store is unchanged", fs->path, what,
                      strerror(c.err));
        goto out;
    }
    /* Renamed: the new file is the store now. A failed directory sync leaves
     * the old or the new name durable; both hold the same data. Every key is
     * in the new file's index: the maps let go of theirs. */
    sync_dir(fs->path);
    close(fs->fd);
    fs->fd = c.fd;
    c.fd = -1;
    fs->end = fs->indexed = c.off;
    fs->room = 0; /* the new file's: none */
    fs->version = ENG__FILE_VERSION;
    fs->frames = c.seq - 1;
    fs->next_seq = c.seq;
    eng__omap_clear(&fs->kv.main);
    eng__kvmem_set_base(&fs->kv, base); /* main is empty: nothing to look up, cannot fail */
    base = NULL;
    fs->compactions++;
out:
    eng__kbase_free(base);
    if (c.fd >= 0) {
        close(c.fd);
        unlink(tmp);
    }
    eng__wr_free(&c.w);
    eng__wr_free(&c.idx.w);
    eng__free(&fs->mem, c.vbuf);
    eng__free(&fs->mem, tmp);
    return rc;
}

int eng__file_stats_get(eng_store *s, eng__file_stats *out)
{
    if (eng__store_check(s) || s->kind != ENG__STORE_FILE)
        return eng__err(ENG_EMISUSE, "store", "not a file store");
    filestore *fs = s->user;
    join_behind(fs); /* a failed write behind: the batch's own error, at its next call */
    out->frames = fs->frames;
    out->file_bytes = fs->end;
    out->dropped_bytes = fs->dropped;
    out->live_bytes = fs->kv.main.bytes + fs->kv.base_bytes;
    out->live_file_bytes = live_enc(fs);
    out->dead_bytes = dead_bytes(fs);
    out->compactions = fs->compactions;
    out->auto_compactions = fs->auto_compactions;
    out->index_keys = fs->kv.base ? fs->kv.base->n : 0;
    out->broken = fs->broken;
    return ENG_OK;
}

