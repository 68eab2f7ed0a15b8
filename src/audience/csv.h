/* A streaming RFC 4180 reader: records of fields from a read callback.
 * Handles quoted fields, "" escapes, CRLF and LF, line breaks inside quotes,
 * a UTF-8 BOM, and skips blank lines. A syntax error in a record is reported
 * with the line and field where it happened; the reader then resynchronises
 * at the next line break so the caller may skip the record and go on. */
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
    char *buf;
    size_t cap, len, pos;
    int eof, started;
    uint64_t line;  /* physical line of the next byte (1-based) */
    uint64_t bytes; /* bytes consumed */
    size_t max_field;
    /* The current record: field i is data[start[i] .. start[i] + flen[i]). */
    char *data;
    size_t dcap, dlen;
    size_t *start, *flen;
    size_t scap;
    uint32_t nf;
    uint64_t rec_line; /* line where the record starts */
    /* Error of the last record (when eng__csv_next returned an error code). */
    uint64_t e_line;
    uint32_t e_col;
    const char *e_why;
} eng__csv;

int eng__csv_init(eng__csv *c, const eng__mem *mem, eng_read_fn read, void *user, size_t max_field);
void eng__csv_free(eng__csv *c);
/* Read the next record. Returns ENG_OK with *got = 1 (a record) or 0 (end of
 * input); ENG_EPARSE / ENG_ETOOBIG for a bad record (e_* set; the caller may
 * continue with the next); ENG_ENOMEM or the read callback's code otherwise. */
int eng__csv_next(eng__csv *c, int *got);

/* A read callback over a memory buffer. */
typedef struct eng__memsrc {
    const char *p;
    size_t n, off;
} eng__memsrc;
long eng__memsrc_read(void *buf, size_t cap, void *user);

#endif
