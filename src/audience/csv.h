/* A streaming RFC 4180 reader: records of fields from a read callback.
 * Handles quoted fields, "" escapes, CRLF and LF, line breaks inside quotes,
 * a UTF-8 BOM, and skips blank lines. A syntax error in a record is reported
 * with the line and field where it happened; the reader then resynchronises
 * at the next line break so the caller may skip the record and go on.
 *
 * Speed: most records are unquoted and lie inside the current input window;
 * those are split with a 16-byte structural-character scan and their fields
 * point straight into the window. Anything else (quotes, a record split
 * across reads, blank lines, oversized fields) takes the byte-wise path,
 * which copies into the record buffer and reports errors. A memory source
 * (eng__memsrc_read) is read in place, without copying. */
#ifndef ENG_AUDIENCE_CSV_H
#define ENG_AUDIENCE_CSV_H

#include <stddef.h>
#include <stdint.h>
#include "base/mem.h"
#include "engage/audience.h"

#define ENG__CSV_MAX_FIELDS 2048

typedef struct eng__csv {
    const eng__mem *mem;
    eng_read_fn read;
    void *user;
    char *buf;         /* owned read buffer (callback sources; allocated at the first read) */
    const char *in;    /* the current input window: buf, or the caller's memory */
    size_t cap, len, pos;
    int eof, started;
    uint64_t line;  /* physical line of the next byte (1-based) */
    uint64_t bytes; /* bytes consumed */
    size_t max_field;
    /* The current record: field i is base[start[i] .. start[i] + flen[i]).
     * base is the input window itself for a plain record (no copy) and the
     * data buffer for one with quotes or split across reads. */
    const char *base;
    int ascii;         /* 1: the record is known to be plain ASCII (UTF-8 checks may be skipped) */
    char *data;
    size_t dcap, dlen;
    size_t *start, *flen;
    uint8_t *fq;       /* per field: 1 when it was quoted (read only when quoted is set) */
    int quoted;        /* the record has a quoted field */
    size_t scap;
    uint32_t nf;
    uint64_t rec_line; /* line where the record starts */
    /* Error of the last record (when eng__csv_next returned an error code). */
    uint64_t e_line;
    uint32_t e_col;
    const char *e_why;
    int eof_in_quote; /* the last error: the input ended inside a quoted field */
} eng__csv;

int eng__csv_init(eng__csv *c, const eng__mem *mem, eng_read_fn read, void *user, size_t max_field);
void eng__csv_free(eng__csv *c);
/* Read the next record. Returns ENG_OK with *got = 1 (a record) or 0 (end of
 * input); ENG_EPARSE / ENG_ETOOBIG for a bad record (e_* set; the caller may
 * continue with the next); ENG_ENOMEM or the read callback's code otherwise. */
int eng__csv_next(eng__csv *c, int *got);
/* Whether field i of the current record was quoted: `""` is an empty string,
 * an unquoted empty field is NULL (PostgreSQL's CSV rule). */
static inline int eng__csv_quoted(const eng__csv *c, uint32_t i)
{
    return c->quoted && c->fq[i];
}

/* Up to @p max plain records of exactly @p nf fields from the window at the
 * current position, at once: none quoted, blank, with a field over the limit
 * or running past the window (where the first such record starts, the block
 * ends). Field i of record r is at offset fs[i * max + r] from the position,
 * fl[i * max + r] bytes long (a record's CR before its LF left out). Returns
 * the records, *used the bytes they span and *ascii whether those bytes are
 * all ASCII; nothing is consumed (eng__csv_skip does). The records are the
 * ones eng__csv_next would return, field for field. */
uint32_t eng__csv_block(const eng__csv *c, uint32_t nf, uint32_t max, uint32_t *fs, uint32_t *fl, size_t *used,
                        int *ascii);
/* Consume the @p rows records (@p used bytes) eng__csv_block found. */
void eng__csv_skip(eng__csv *c, uint32_t rows, size_t used);

/* A read callback over a memory buffer. */
struct eng__memsrc;
/* Start over on the chunk @p m of a larger input (import_par.c), reusing the
 * buffers: lines count from 1, and unless @p first (the input's start, with
 * its byte order mark and header) the chunk starts at a record. */
void eng__csv_chunk(eng__csv *c, struct eng__memsrc *m, int first);
/* Continue an input whose start was read elsewhere: the next byte is a
 * record's first, on physical line @p line. */
void eng__csv_resume(eng__csv *c, uint64_t line);
/* Where to cut p[0..n) for chunks: just past its last line feed with an even
 * number of double quotes before it (outside a quoted field when the quotes
 * are well formed), or 0 when there is none. */
size_t eng__csv_cut(const char *p, size_t n);

struct eng__memsrc {
    const char *p;
    size_t n, off;
};
typedef struct eng__memsrc eng__memsrc;
long eng__memsrc_read(void *buf, size_t cap, void *user);

#endif
