/* Internals of the file store that tests reach: I/O fault injection and counters. */
#ifndef ENG_STORE_FILE_IMPL_H
#define ENG_STORE_FILE_IMPL_H

#include <stddef.h>
#include <stdint.h>
#include "base/tpool.h"
#include "engage/store.h"

enum eng__io_op { ENG__IO_WRITE, ENG__IO_FSYNC, ENG__IO_TRUNCATE, ENG__IO_RENAME };

/* When set, called before each I/O of the given kind. Returning an errno value
 * makes the call fail with it; for writes, *n may first be lowered so that a
 * prefix is written before the failure (a short write). For ENG__IO_FSYNC, -1
 * skips the sync and reports success: tests whose crashes are kills (the page
 * cache outlives a killed process) skip thousands of syncs that would only make
 * them wait on a busy disk. NULL in production. */
extern int (*eng__file_io_fault)(int op, size_t *n);

/* Values of at least this many bytes are read from the file instead of being
 * kept in memory (default 1024; tests set 1 to serve every value from the file). */
extern size_t eng__file_ref_min;
/* Values of at least this many bytes put inside a batch are written to the file
 * at once instead of at commit (default 64 KiB; tests lower it). */
extern size_t eng__file_spill_min;

/* A close writes a key index (kbase.h) when the frames after the last one take
 * at least this many bytes (default 1 MiB; tests set 0) and more than the index would. */
extern uint64_t eng__file_checkpoint_min;
/* After a commit, a key index is written (and the in-memory map emptied for
 * its mapping) when the frames since the last one take at least
 * eng__file_checkpoint_every bytes (default 64 MiB) and eng__file_checkpoint_ratio
 * times the index (default 16: a store of large values, not one of small
 * records, whose close writes its index). Tests lower both. */
extern uint64_t eng__file_checkpoint_every;
extern uint64_t eng__file_checkpoint_ratio;

/* pool != NULL: the values of the open batch put from now on that are spilled (at
 * least eng__file_spill_min bytes) are copied and written by a worker of @p pool
 * while the caller goes on; the store's next write, read, commit or rollback waits
 * for the write (or writes it, when no worker has taken it), and a failed one fails
 * that call and leaves the batch to be rolled back (as a failed commit does). NULL:
 * written by the put, as before. No-op for other stores. The engine turns it on for
 * a sealed segment's record when it may run threads (eng_config.threads > 0: tseg.c),
 * with its own pool, which must outlive the batch. */
void eng__file_behind(eng_store *s, eng__tpool *pool);

typedef struct eng__file_stats {
    uint64_t frames;        /* frames in the file (replayed at open plus appended) */
    uint64_t file_bytes;    /* bytes of valid data in the file */
    uint64_t dropped_bytes; /* torn tail dropped when the file was opened */
    uint64_t live_bytes;    /* key and value bytes of live keys */
    uint64_t live_file_bytes; /* bytes the live keys and values take in the file (as frame ops) */
    uint64_t dead_bytes;    /* the rest of the file: replaced and deleted entries, headers */
    uint64_t compactions;   /* compactions run since open (called or automatic) */
    uint64_t auto_compactions; /* of which started by the policy */
    uint64_t index_keys;    /* keys served from the mapped key index (0: none, every frame was replayed) */
    int broken;             /* an ambiguous I/O failure: writes refused until reopened */
} eng__file_stats;

/* ENG_OK, or ENG_EMISUSE when @p s is not a file store. */
int eng__file_stats_get(eng_store *s, eng__file_stats *out);

#endif
