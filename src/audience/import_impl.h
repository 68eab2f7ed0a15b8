/* The customer import's parts shared by its two drivers: import.c (one
 * thread, and the API upsert) and import_par.c (the CSV cut into chunks
 * parsed on several threads). An import (cimp) holds what is decided once —
 * the column map, the store batch, the applier — and each parsing thread a
 * parser (cpar): the rows it checked and encoded into the part it is
 * filling. A parser either stores a full part at once (the caller's
 * thread) or hands it to its chunk (eng__par_emit), which the caller
 * stores later, in input order. */
#ifndef ENG_AUDIENCE_IMPORT_IMPL_H
#define ENG_AUDIENCE_IMPORT_IMPL_H

#include "audience/audience_impl.h"
#include "audience/applier.h"
#include "base/codec.h"

/* The driver's state for error reports (import.c). */
typedef struct eng__drv {
    const eng_import_options *o;
    eng_import_report *rep;
    const eng__mem *mem;
    char (*hnames)[ENG__COLNAME_MAX + 1];
    uint32_t nh;
    const char *verb; /* "nothing was <verb>" when the input is refused; NULL: "imported" */
} eng__drv;

/* Report a bad row; returns 0 to go on or the code that aborts the import. */
int eng__bad_row(eng__drv *d, uint64_t line, uint32_t col, int code, const char *why);
/* The header from the first eng__csv_next result (rc, got): names kept in d, hdr() called. */
int eng__drive_header(eng__drv *d, eng__csv *c, eng__hdr_fn hdr, void *ctx, int rc, int got);
/* The rows to the end of @p c, progress at base + c->bytes; blk (or NULL)
 * takes blocks of rows before row() is asked for the next one. */
int eng__drive_rows(eng__drv *d, eng__csv *c, eng__row_fn row, eng__blk_fn blk, void *ctx, struct eng__prog *pg,
                    uint64_t base);

typedef struct col_map {
    uint8_t kind; /* 0 = id, ENG__DK_* otherwise */
    uint8_t type; /* ENG__DK_ATTR: the column's ENG_COL_* type; ENG__DK_CONTACT: 1 for a phone channel */
    uint32_t idx;
} col_map;

struct cimp;
struct eng__pslot;

typedef struct cpar {
    struct cimp *ci;
    eng__wr part; /* values of the current part's rows (schema 2) */
    eng__wr *colw; /* schema 3: the values by column, colw[i] for field i >= 1 */
    uint32_t ncolw;
    size_t colroom; /* bytes every colw[i] has room for at least */
    size_t colslack; /* headroom eng__cpar_room adds beyond the need: grows 4 -> 64 KiB */
    eng__wr ids;  /* their ids (stored ahead of the values: see delta.c) */
    eng__wr rec;  /* the part being framed, header room first (reused) */
    uint64_t part_rows;
    struct eng__pslot *out; /* NULL: full parts are stored at once */
    /* Delta string slots (audience_impl.h): per slotted column, where the
     * last value of each slot lies in its writer (`part` or colw); a row's new slot values are
     * pending until the row is accepted, so a rejected row leaves none. */
    struct dslot {
        size_t off;
        uint32_t len;
        uint32_t used;
        uint64_t a, b; /* eng__dslot_words: the value itself when len <= 16 */
    } slot[ENG__DSLOT_COLS][ENG__DSLOT_N];
    struct dpend {
        size_t off;
        uint32_t len;
        uint8_t sc, k;
        uint64_t a, b;
    } pend[ENG__DSLOT_COLS];
    uint32_t npend;
    /* Column-wise blocks (import_block.c): the fields of the block's records
     * by column, and how many rows still go row by row after a block that
     * had a bad row (so the row path reports it, and then blocks resume). */
    uint32_t *bfs, *bfl;
    void *bslot; /* the slots as they were before the block */
    uint32_t rowwise;
} cpar;

typedef struct cimp {
    eng__aud *a;
    const eng__aud_cx *cx;
    eng_engine *e;
    const eng_import_options *o;
    eng_time now;
    col_map map[ENG__CSV_MAX_FIELDS];
    uint32_t ncols;
    uint8_t scol[ENG__CSV_MAX_FIELDS]; /* field -> slotted column, or NO_SLOT */
    uint32_t nslot;                    /* slotted columns */
    cpar p;        /* the caller's parser (stores its parts at once) */
    uint64_t rows; /* valid rows in the stored parts */
    size_t nparts; /* parts stored in the batch so far */
    int batch;     /* a store batch holding the parts so far is open */
    int may_thread;   /* a CSV import into a table empty at its start (eng_config.threads permitting) */
    /* The parts may go to the applier (string ids, threads, an empty table):
     * each framed part then carries its ids' index hashes after the record,
     * computed on the parsing thread (eng__cimp_rec_len). Set before parsing. */
    int id_hashes;
    eng__applier *ap; /* the parts are applied as they are stored, on the applier's thread */
    uint64_t in_bytes;  /* the input's size when known (a buffer) or hinted (eng_import_options.size_hint), else 0 */
    int in_hinted;      /* in_bytes is the host's hint, which may be wrong */
    uint64_t at_bytes;  /* input bytes up to the row being parsed (one thread) or the first part's end (chunks) */
    int source;       /* eng_consent_source of the consent changes */
    int consent_cols; /* the import has consent./optout. columns: parts get an origin (chist.c) */
} cimp;

void eng__cpar_init(cpar *p, cimp *ci);
void eng__cpar_free(cpar *p);
/* Forget the part being filled (a chunk that failed). */
void eng__cimp_reset(cpar *p);
/* One CSV record into p's part: 0, 1 (bad row, *err) or a fatal code. */
int eng__cimp_row(cpar *p, const eng__csv *c, eng__rowerr *err);
/* Up to a block of plain records of c's window, checked and encoded a
 * column at a time into p's part (none past the part's end; the caller
 * flushes a full part): *rows of them, all good, consumed. 0 rows: a record
 * the block does not take (quoted, split across reads, the wrong width...)
 * or a bad value in the block comes next: the row path takes it. A fatal
 * code (no memory) otherwise. */
int eng__cimp_block(cpar *p, eng__csv *c, uint64_t *rows);
/* eng__blk_fn over the caller's parser (ctx is the cimp), flushing a full part. */
int eng__cimp_csv_block(void *ctx, eng__csv *c, uint64_t *rows);
/* eng__row_fn over the caller's parser (ctx is the cimp). */
int eng__cimp_csv_row(void *ctx, const eng__csv *c, uint64_t line, eng__rowerr *err);
/* Frame the part being filled, if any, and pass it on. */
int eng__cimp_flush(cpar *p);
/* The record's length in a framed part of @p rows rows: what follows it, if
 * anything, is the rows' id hashes (ci->id_hashes), never stored. */
static inline size_t eng__cimp_rec_len(const cimp *ci, const eng__wr *w, uint32_t rows)
{
    return ci->id_hashes ? w->len - 4u * (size_t)rows : w->len;
}
/* Store a framed part of @p rows rows in the import's batch (caller's thread);
 * *w gets a buffer to frame the next one in. */
int eng__cimp_store(cimp *ci, eng__wr *w, uint32_t rows);

/* Chunks (import_par.c): bytes per chunk (tests lower it). */
extern size_t eng__aud_chunk_bytes;
/* Imports that went on on one thread after a wrong cut or a failed read (tests check the path ran). */
extern uint64_t eng__aud_par_redone;
/* Hand a framed part of @p rows rows to its chunk; *rec gets a spare buffer. */
int eng__par_emit(struct eng__pslot *s, eng__wr *rec, uint32_t rows, const eng__mem *mem);
/* Header and rows of the CSV from @p read on this thread and @p helpers others. */
int eng__import_par(cimp *ci, eng__drv *d, eng__hdr_fn hdr, eng_read_fn read, void *user, size_t maxf, unsigned helpers,
                    struct eng__prog *pg);

#endif
