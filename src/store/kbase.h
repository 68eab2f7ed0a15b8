/* The file store's checkpoint: a key index frame (frame.h, magic "EIX1") that
 * lists, sorted by key, the file offset of the put op of every live key as of
 * the frames before it. Open maps the file up to the last valid index instead
 * of replaying those frames (only the frames after it are replayed), so open
 * costs the index's checksum (8 bytes a key) and not a tree node per key; keys
 * and values are read from the mapping. The frames the index points into are
 * checksummed when first read (their headers at open), so damage is still
 * ENG_ECORRUPT naming the frame, never a wrong answer. A missing, torn or
 * damaged index is never an error: the store then replays every frame. */
#ifndef ENG_STORE_KBASE_H
#define ENG_STORE_KBASE_H

#include <stddef.h>
#include <stdint.h>
#include "base/mem.h"

typedef struct eng__kbase {
    const eng__mem *mem;
    int fd;                /* the file, for checksums read without touching the mapping */
    const char *path;      /* for error messages (the store's) */
    const uint8_t *map;    /* the file from byte 0 to the end of the index frame */
    size_t maplen;
    uint64_t *frame;       /* start offsets of frames 1..nframes (the index is the last) */
    unsigned char *checked; /* frame payload checksum verified (set once, by any reader) */
    size_t nframes;
    const uint8_t *ent;    /* n little-endian u64 op offsets, sorted by key */
    uint64_t n;
    uint64_t bytes, enc;   /* key+value bytes and frame-op bytes of all entries */
} eng__kbase;

/* A key and value of the base, pointing into the mapping. */
typedef struct eng__kent {
    const uint8_t *key, *val;
    size_t klen, vlen;
    uint64_t op;   /* file offset of the put op */
    uint64_t voff; /* file offset of the value (val is not read until used) */
} eng__kent;

/* Look for the last index in the first @p size bytes of the file open on @p fd.
 * ENG_OK with *out set (and *end the offset after the index frame) or NULL
 * (no usable index: replay everything); ENG_ENOMEM. */
int eng__kbase_open(const eng__mem *mem, const char *path, int fd, uint64_t size, eng__kbase **out, uint64_t *end);
void eng__kbase_free(eng__kbase *b);
/* Read all @p len bytes at @p off (retrying short reads and EINTR); 0, or an errno
 * value (EIO when the file ends first). */
int eng__pread_all(int fd, void *buf, size_t len, uint64_t off);
/* Entry @p i; ENG_ECORRUPT (message names the damaged frame) when its frame fails its checksum. */
int eng__kbase_get(eng__kbase *b, uint64_t i, eng__kent *e);
/* Index of the first key >= @p key in *pos, and *eq when it is equal. ENG_OK or ENG_ECORRUPT. */
int eng__kbase_seek(eng__kbase *b, const void *key, size_t klen, uint64_t *pos, int *eq);

/* The index frame's payload: u64 n, u64 bytes, u64 enc, then n u64 op offsets. */
#define ENG__KBASE_HEAD 24

#endif
