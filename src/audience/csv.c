/* Streaming RFC 4180 reader (see csv.h). */
#include "audience/csv.h"
#include "base/handle.h"
#include "base/error.h"

#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define CSV_EOF (-1)
#define CSV_ERR (-2)
#define CSV_BUF 65536 /* the read buffer at most (it starts at 4 KiB: see refill) */
#define CSV_WINDOW (1u << 20) /* window over a memory source */

int eng__csv_init(eng__csv *c, const eng__mem *mem, eng_read_fn read, void *user, size_t max_field)
{
    memset(c, 0, sizeof *c);
    c->mem = mem;
    c->read = read;
    c->user = user;
    c->line = 1;
    c->max_field = max_field;
    c->cap = 4096;
    c->in = ""; /* buf is allocated on the first callback read: a memory source is read in place */
    /* The record buffer exists from the start, so a record of empty fields
     * still has a base to point into (no NULL + 0, no memcpy from NULL). */
    c->dcap = 256;
    c->data = eng__malloc(mem, c->dcap);
    if (!c->data) {
        eng__csv_free(c);
        return eng__nomem();
    }
    return ENG_OK;
}

void eng__csv_free(eng__csv *c)
{
    eng__free(c->mem, c->buf);
    eng__free(c->mem, c->data);
    eng__free(c->mem, c->start);
    eng__free(c->mem, c->flen);
    eng__free(c->mem, c->fq);
    c->fq = NULL;
    c->buf = c->data = NULL;
    c->start = c->flen = NULL;
}

typedef struct rd {
    eng__csv *c;
    int err; /* read callback failure */
} rd;

static int refill(rd *r)
{
    eng__csv *c = r->c;
    if (c->eof)
        return CSV_EOF;
    if (c->read == eng__memsrc_read) {
        /* Read a memory source in place, a window at a time (progress stays byte-accurate). */
        eng__memsrc *m = c->user;
        size_t n = m->n - m->off < CSV_WINDOW ? m->n - m->off : CSV_WINDOW;
        if (n == 0) {
            c->eof = 1;
            return CSV_EOF;
        }
        c->in = m->p + m->off;
        m->off += n;
        c->len = n;
        c->pos = 0;
        c->bytes += n;
        return 0;
    }
    if (c->buf && c->len == c->cap && c->cap < CSV_BUF) {
        /* The callback filled the buffer: read more at a time. Nothing points into it
         * now (a record split across reads is in data), so it is replaced, not copied.
         * Growing from 4 KiB: a short stream does not cost a 64 KiB buffer. */
        eng__free(c->mem, c->buf);
        c->buf = NULL;
        c->cap *= 2;
    }
    if (!c->buf && !(c->buf = eng__malloc(c->mem, c->cap))) {
        r->err = eng__nomem();
        return CSV_ERR;
    }
    eng__callback_begin();
    long n = c->read(c->buf, c->cap, c->user);
    eng__callback_end();
    if (n < 0 || (size_t)n > c->cap) {
        r->err = n < 0 && n > -1000 ? (int)n : ENG_EIO;
        if (n < 0 && eng_error_last()->code != r->err)
            eng__err(r->err, "", "the CSV read callback failed (%ld)", n);
        else if (n >= 0)
            eng__err(ENG_EIO, "", "the CSV read callback returned more bytes than asked");
        return CSV_ERR;
    }
    if (n == 0) {
        c->eof = 1;
        return CSV_EOF;
    }
    c->in = c->buf;
    c->len = (size_t)n;
    c->pos = 0;
    c->bytes += (uint64_t)n;
    return 0;
}

static inline int getc_(rd *r)
{
    eng__csv *c = r->c;
    if (c->pos < c->len)
        return (unsigned char)c->in[c->pos++];
    int rc = refill(r);
    return rc ? rc : (unsigned char)c->in[c->pos++];
}

static inline int peek_(rd *r)
{
    eng__csv *c = r->c;
    if (c->pos < c->len)
        return (unsigned char)c->in[c->pos];
    int rc = refill(r);
    return rc ? rc : (unsigned char)c->in[c->pos];
}

static int put_(eng__csv *c, char ch)
{
    if (c->dlen == c->dcap && eng__grow(c->mem, (void **)&c->data, &c->dcap, c->dlen + 1, 1))
        return eng__nomem();
    c->data[c->dlen++] = ch;
    return ENG_OK;
}

static int put_n(eng__csv *c, const char *p, size_t n)
{
    if (c->dlen + n > c->dcap && eng__grow(c->mem, (void **)&c->data, &c->dcap, c->dlen + n, 1))
        return eng__nomem();
    memcpy(c->data + c->dlen, p, n);
    c->dlen += n;
    return ENG_OK;
}

static int new_field(eng__csv *c)
{
    if (c->nf == c->scap) {
        size_t cap = c->scap;
        if (eng__grow(c->mem, (void **)&c->start, &cap, (size_t)c->nf + 1, sizeof *c->start))
            return eng__nomem();
        size_t *fl = eng__realloc_array(c->mem, c->flen, cap, sizeof *fl);
        if (!fl)
            return eng__nomem();
        c->flen = fl;
        uint8_t *fq = eng__realloc_array(c->mem, c->fq, cap, 1);
        if (!fq)
            return eng__nomem();
        c->fq = fq;
        c->scap = cap;
    }
    c->start[c->nf] = c->dlen;
    c->flen[c->nf] = 0;
    c->fq[c->nf] = 0;
    c->nf++;
    return ENG_OK;
}

/* Skip to just past the next line feed (or the end). */
static int resync(rd *r)
{
    for (;;) {
        int ch = getc_(r);
        if (ch == CSV_ERR)
            return r->err;
        if (ch == CSV_EOF)
            return ENG_OK;
        if (ch == '\n') {
            r->c->line++;
            return ENG_OK;
        }
    }
}

static int bad(rd *r, int code, uint64_t line, uint32_t col, const char *why, int sync)
{
    eng__csv *c = r->c;
    c->e_line = line;
    c->e_col = col;
    c->e_why = why;
    if (sync) {
        int rc = resync(r);
        if (rc)
            return rc;
    }
    return code;
}

/* Bit i set: byte i of p[0..16) is ',', '\n' or '"'; *hi: bit i set when byte i has its high bit. */
static inline uint32_t scan16(const char *p, uint32_t *hi)
{
#if defined(__SSE2__)
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(',')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\n'))),
                             _mm_cmpeq_epi8(v, _mm_set1_epi8('"')));
    *hi = (uint32_t)_mm_movemask_epi8(v);
    return (uint32_t)_mm_movemask_epi8(m);
#else
    uint32_t m = 0, h = 0;
    for (int i = 0; i < 16; i++) {
        unsigned char b = (unsigned char)p[i];
        m |= (uint32_t)(b == ',' || b == '\n' || b == '"') << i;
        h |= (uint32_t)(b >> 7) << i;
    }
    *hi = h;
    return m;
#endif
}

/* scan16 of in[p..p+16), or of the bytes up to len when fewer are left. */
static inline uint32_t scan_at(const char *in, size_t p, size_t len, uint32_t *hi)
{
    if (len - p >= 16)
        return scan16(in + p, hi);
    char tail[16] = {0};
    memcpy(tail, in + p, len - p);
    uint32_t keep = (1u << (len - p)) - 1, m = scan16(tail, hi) & keep;
    *hi &= keep;
    return m;
}

/* Split one plain record lying wholly in the window, without copying.
 * Returns 1 when done, 0 to leave the record (untouched) to the byte-wise
 * path: a quote, no line feed before the window ends, a blank line, a field
 * over the limit, or more fields than start/flen have room for. */
static int fast_record(eng__csv *c)
{
    const char *in = c->in;
    size_t pos = c->pos, len = c->len, fs = pos;
    uint32_t nf = 0, hiacc = 0, room = c->scap < ENG__CSV_MAX_FIELDS ? (uint32_t)c->scap : ENG__CSV_MAX_FIELDS;
    for (size_t p = pos; p < len; p += 16) {
        uint32_t hi, m = scan_at(in, p, len, &hi);
        while (m) {
            unsigned i = (unsigned)__builtin_ctz(m);
            m &= m - 1;
            size_t q = p + i;
            char ch = in[q];
            if (ch == '"' || nf == room)
                return 0;
            size_t fl = q - fs;
            if (ch == '\n' && fl && in[q - 1] == '\r')
                fl--;
            if (fl > c->max_field)
                return 0;
            c->start[nf] = fs;
            c->flen[nf] = fl;
            nf++;
            fs = q + 1;
            if (ch == '\n') {
                if (nf == 1 && fl == 0)
                    return 0; /* blank line */
                c->ascii = (hiacc | (hi & ((2u << i) - 1))) == 0;
                c->base = in;
                c->quoted = 0; /* a record with a quote never takes this path */
                c->nf = nf;
                c->rec_line = c->line++;
                c->pos = q + 1;
                return 1;
            }
        }
        hiacc |= hi;
    }
    return 0;
}

/* Bits i of 64 bytes at p: *sep ',' or '\n', *nl '\n', *qt '"', *hi the high bit. */
static inline void scan64(const char *p, uint64_t *sep, uint64_t *nl, uint64_t *qt, uint64_t *hi)
{
#if defined(__SSE2__)
    uint64_t s = 0, n = 0, q = 0, h = 0;
    for (int k = 0; k < 4; k++) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + 16 * k));
        __m128i e = _mm_cmpeq_epi8(v, _mm_set1_epi8('\n'));
        uint64_t sh = 16u * (unsigned)k;
        s |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_or_si128(e, _mm_cmpeq_epi8(v, _mm_set1_epi8(',')))) << sh;
        n |= (uint64_t)(unsigned)_mm_movemask_epi8(e) << sh;
        q |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('"'))) << sh;
        h |= (uint64_t)(unsigned)_mm_movemask_epi8(v) << sh;
    }
    *sep = s, *nl = n, *qt = q, *hi = h;
#else
    uint64_t s = 0, n = 0, q = 0, h = 0;
    for (int i = 0; i < 64; i++) {
        unsigned char b = (unsigned char)p[i];
        s |= (uint64_t)(b == ',' || b == '\n') << i;
        n |= (uint64_t)(b == '\n') << i;
        q |= (uint64_t)(b == '"') << i;
        h |= (uint64_t)(b >> 7) << i;
    }
    *sep = s, *nl = n, *qt = q, *hi = h;
#endif
}

/* 64 bytes at a time: the separators before a block's first quote are taken
 * and the quote ends the block. A comma that would make a record too wide
 * ends it at once (the record is the row path's either way); a line feed,
 * told by its bit, drops a CR before it and closes the record. Offsets are
 * 32-bit (a window is far smaller) and go to fs/fl through pointers stepped
 * a column (max) at a time: the loop keeps everything in registers. */
uint32_t eng__csv_block(const eng__csv *c, uint32_t nf, uint32_t max, uint32_t *fs, uint32_t *fl, size_t *used,
                        int *ascii)
{
    *used = 0;
    *ascii = 1;
    if (c->started != 1 || c->pos >= c->len || nf == 0 || c->len - c->pos > UINT32_MAX - 64)
        return 0;
    const char *in = c->in + c->pos;
    const uint32_t len = (uint32_t)(c->len - c->pos), maxf = c->max_field < UINT32_MAX ? (uint32_t)c->max_field : UINT32_MAX;
    uint32_t fs0 = 0, rs = 0, p = 0, r = 0, k = 0, *pf = fs, *pl = fl;
    uint64_t hiacc = 0, hi = 0;
    for (; p < len; p += 64) {
        const char *b = in + p;
        char tail[64];
        if (len - p < 64) { /* zeros: no separator, no high bit */
            memset(tail, 0, sizeof tail);
            memcpy(tail, b, len - p);
            b = tail;
        }
        uint64_t m, nl, qt;
        scan64(b, &m, &nl, &qt, &hi);
        if (qt)
            m &= (qt & (0 - qt)) - 1; /* the separators before the first quote */
        while (m) {
            unsigned i = (unsigned)__builtin_ctzll(m);
            m &= m - 1;
            uint32_t q = p + i, l = q - fs0;
            if (!((nl >> i) & 1)) { /* a comma */
                if (++k == nf || l > maxf)
                    goto done;
                *pf = fs0;
                *pl = l;
                pf += max;
                pl += max;
                fs0 = q + 1;
                continue;
            }
            if (l && in[q - 1] == '\r')
                l--;
            if (l > maxf || k + 1 != nf || (nf == 1 && l == 0)) /* too long, the wrong width, or a blank line */
                goto done;
            *pf = fs0;
            *pl = l;
            k = 0;
            fs0 = rs = q + 1;
            if (++r == max)
                goto done;
            pf = fs + r;
            pl = fl + r;
        }
        if (qt)
            goto done;
        hiacc |= hi;
    }
done:
    if (p < len && rs > p) /* the high bits of the last block up to the last record's end */
        hiacc |= rs - p >= 64 ? hi : hi & ((1ull << (rs - p)) - 1);
    *used = rs;
    *ascii = hiacc == 0;
    return r;
}

void eng__csv_skip(eng__csv *c, uint32_t rows, size_t used)
{
    c->pos += used;
    c->rec_line = c->line + rows - 1;
    c->line += rows;
}

int eng__csv_next(eng__csv *c, int *got)
{
    rd r = {c, 0};
    *got = 0;
    c->eof_in_quote = 0;
    if (!c->started) {
        c->started = 2; /* the header always takes the byte-wise path */
        /* Skip a UTF-8 byte order mark. */
        int ch = peek_(&r);
        if (ch == 0xef) {
            /* Byte by byte: the mark may arrive split across reads. */
            c->pos++;
            int b2 = getc_(&r), b3 = b2 == 0xbb ? getc_(&r) : 0;
            if (b2 == CSV_ERR || b3 == CSV_ERR)
                return r.err;
            if (b2 != 0xbb || b3 != 0xbf)
                return bad(&r, ENG_EPARSE, 1, 1, "invalid byte order mark", 1);
        } else if (ch == CSV_ERR) {
            return r.err;
        }
    }
    if (c->started == 1 && c->pos < c->len && fast_record(c)) {
        *got = 1;
        return ENG_OK;
    }
    c->started = 1;
    c->ascii = 0;
    for (;;) {
        c->nf = 0;
        c->dlen = 0;
        c->rec_line = c->line;
        int ch = peek_(&r);
        if (ch == CSV_ERR)
            return r.err;
        if (ch == CSV_EOF)
            return ENG_OK;
        int quoted_any = 0, toobig = 0;
        uint64_t tb_line = 0;
        uint32_t tb_col = 0;
        for (;;) { /* one field per iteration */
            if (c->nf >= ENG__CSV_MAX_FIELDS)
                return bad(&r, ENG_ETOOBIG, c->line, c->nf, "more than 2048 fields in a record", 1);
            if (new_field(c))
                return ENG_ENOMEM;
            uint64_t fline = c->line;
            size_t flen = 0;
            int end = 0; /* 1: next field, 2: end of record */
            ch = getc_(&r);
            if (ch == '"') {
                quoted_any = 1;
                c->fq[c->nf - 1] = 1;
                for (;;) {
                    ch = getc_(&r);
                    if (ch == CSV_ERR)
                        return r.err;
                    if (ch == CSV_EOF) {
                        c->eof_in_quote = 1;
                        return bad(&r, ENG_EPARSE, fline, c->nf, "unterminated quoted field", 0);
                    }
                    if (ch == '"') {
                        int nx = peek_(&r);
                        if (nx == CSV_ERR)
                            return r.err;
                        if (nx != '"')
                            break;
                        c->pos++;
                    } else if (ch == '\n') {
                        c->line++;
                    }
                    if (flen >= c->max_field) {
                        if (!toobig) {
                            toobig = 1;
                            tb_line = fline;
                            tb_col = c->nf;
                        }
                    } else if (put_(c, (char)ch)) {
                        return ENG_ENOMEM;
                    }
                    flen++;
                }
                ch = getc_(&r);
                if (ch == ',')
                    end = 1;
                else if (ch == '\n' || ch == CSV_EOF)
                    end = 2;
                else if (ch == '\r' && peek_(&r) == '\n') {
                    c->pos++;
                    end = 2;
                } else if (ch == CSV_ERR)
                    return r.err;
                else
                    return bad(&r, ENG_EPARSE, c->line, c->nf, "unexpected character after a closing quote", 1);
                if (ch == '\n' || ch == '\r')
                    c->line++;
            } else {
                for (;;) {
                    if (ch == ',') {
                        end = 1;
                        break;
                    }
                    if (ch == '\n' || ch == CSV_EOF) {
                        if (ch == '\n')
                            c->line++;
                        end = 2;
                        break;
                    }
                    if (ch == CSV_ERR)
                        return r.err;
                    if (ch == '\r') {
                        int nx = peek_(&r);
                        if (nx == CSV_ERR)
                            return r.err;
                        if (nx == '\n') {
                            c->pos++;
                            c->line++;
                            end = 2;
                            break;
                        }
                    }
                    if (ch == '"')
                        return bad(&r, ENG_EPARSE, c->line, c->nf, "quote inside an unquoted field", 1);
                    if (flen >= c->max_field) {
                        if (!toobig) {
                            toobig = 1;
                            tb_line = fline;
                            tb_col = c->nf;
                        }
                    } else if (put_(c, (char)ch)) {
                        return ENG_ENOMEM;
                    }
                    flen++;
                    /* Fast path: copy the plain run that follows in one go. */
                    size_t st = c->pos;
                    while (c->pos < c->len) {
                        char x = c->in[c->pos];
                        if (x == ',' || x == '\n' || x == '\r' || x == '"')
                            break;
                        c->pos++;
                    }
                    size_t span = c->pos - st;
                    if (span) {
                        size_t room = flen < c->max_field ? c->max_field - flen : 0;
                        if (span > room && !toobig) {
                            toobig = 1;
                            tb_line = fline;
                            tb_col = c->nf;
                        }
                        if (put_n(c, c->in + st, span < room ? span : room))
                            return ENG_ENOMEM;
                        flen += span;
                    }
                    ch = getc_(&r);
                }
            }
            c->flen[c->nf - 1] = c->dlen - c->start[c->nf - 1];
            if (end == 2)
                break;
        }
        if (toobig)
            return bad(&r, ENG_ETOOBIG, tb_line, tb_col, "field longer than the limit", 0);
        if (c->nf == 1 && c->flen[0] == 0 && !quoted_any)
            continue; /* blank line */
        c->base = c->data; /* data may have moved while growing */
        c->quoted = quoted_any;
        *got = 1;
        return ENG_OK;
    }
}

void eng__csv_chunk(eng__csv *c, eng__memsrc *m, int first)
{
    c->read = eng__memsrc_read;
    c->user = m;
    c->in = "";
    c->len = c->pos = 0;
    c->eof = 0;
    c->started = first ? 0 : 1;
    c->line = 1;
    c->bytes = 0;
    c->nf = 0;
    c->eof_in_quote = 0;
}

void eng__csv_resume(eng__csv *c, uint64_t line)
{
    c->started = 1;
    c->line = line;
}

size_t eng__csv_cut(const char *p, size_t n)
{
    unsigned par = 0;
    size_t i = 0;
#if defined(__SSE2__)
    /* Only the quotes' parity matters: each byte lane of acc flips with a
     * quote in it, and the parity of the lanes' flips is the total's. A
     * count per 16 bytes cost a call (no popcnt in the baseline ISA) and
     * was 7 % of a W3 import; this pass runs near memory speed. */
    const __m128i q = _mm_set1_epi8('"');
    __m128i acc = _mm_setzero_si128(), acc2 = _mm_setzero_si128();
    for (; i + 32 <= n; i += 32) {
        acc = _mm_xor_si128(acc, _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)(p + i)), q));
        acc2 = _mm_xor_si128(acc2, _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)(p + i + 16)), q));
    }
    for (; i + 16 <= n; i += 16)
        acc = _mm_xor_si128(acc, _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)(p + i)), q));
    unsigned m = (unsigned)_mm_movemask_epi8(_mm_xor_si128(acc, acc2));
    m ^= m >> 8;
    m ^= m >> 4;
    m ^= m >> 2;
    m ^= m >> 1;
    par = m & 1;
#endif
    for (; i < n; i++)
        par += p[i] == '"';
    /* Back from the end: par is the parity of the quotes before byte i. */
    for (i = n; i-- > 0;) {
        if (p[i] == '"')
            par--;
        else if (p[i] == '\n' && !(par & 1))
            return i + 1;
    }
    return 0;
}

long eng__memsrc_read(void *buf, size_t cap, void *user)
{
    eng__memsrc *m = user;
    size_t n = m->n - m->off < cap ? m->n - m->off : cap;
    if (n == 0) /* also covers a NULL buffer of length 0 */
        return 0;
    memcpy(buf, m->p + m->off, n);
    m->off += n;
    return (long)n;
}
