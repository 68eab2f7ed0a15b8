/* The customer import's CSV parsed on several threads (see import_impl.h). */
#include "audience/import_impl.h"
#include "base/handle.h"
#include "base/error.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

size_t eng__aud_chunk_bytes = (size_t)4 << 20;
uint64_t eng__aud_par_redone;

#define HELPERS_MAX 7
#define NSLOT (HELPERS_MAX + 2)

enum { S_FREE, S_FILLED, S_CLAIMED, S_DONE };

typedef struct perr {
    uint64_t row, line; /* row index and line, both within the chunk */
    uint32_t col, nf;   /* nf: the field count of a record of the wrong width (why is NULL) */
    int code;
    const char *why;
} perr;

/* A chunk of input and what parsing it gave. */
struct eng__pslot {
    int state;
    const char *p;
    size_t n;
    char *buf; /* owned bytes (callback sources) */
    size_t cap;
    int final;    /* ends at the end of the input */
    int seq_only; /* a read failed in it: only the caller's sequential parser takes it */
    eng__wr *parts;    /* framed parts; entries past nparts are spare buffers */
    uint64_t *pdone;   /* rows of the chunk read when part i was complete */
    uint32_t *prows;   /* rows in part i */
    size_t nparts, pcap;
    perr *errs;
    size_t nerr, ecap;
    uint64_t rows, lines;
    int unclean; /* the parse ended inside a quoted field: the cut was wrong */
    int rc;      /* a fatal error (no memory) and its text */
    char det[128], msg[512];
};

typedef struct worker {
    struct par *P;
    cpar cp;
    eng__csv c;
    pthread_t tid;
    int started;
} worker;

typedef struct par {
    cimp *ci;
    eng_engine *e;
    const eng__mem *mem;
    eng_read_fn read;
    void *user;
    eng__memsrc *msrc; /* a memory source (cut in place), else NULL */
    size_t maxf;
    pthread_mutex_t mu;
    pthread_cond_t work, finished; /* a chunk to parse / a chunk parsed */
    struct eng__pslot slot[NSLOT];
    unsigned nslot;
    uint64_t next_fill, next_claim, next_commit;
    int stop;
    int in_end;       /* the input is read to its end (or a read failed) */
    char *carry;      /* read past the last cut (callback sources) */
    size_t clen, ccap;
    long saved_n;     /* a failed read: what the callback returned, and the error it left */
    int saved_rc;
    char saved_det[128], saved_msg[512];
    uint64_t bytes;   /* bytes read */
    uint64_t done;    /* bytes of the header and the chunks taken back (progress) */
    worker w[HELPERS_MAX];
    unsigned nw;
} par;

/* ---- the parse of one chunk (any thread) ---- */

int eng__par_emit(struct eng__pslot *s, eng__wr *rec, uint32_t rows, const eng__mem *mem)
{
    if (s->nparts == s->pcap) {
        size_t cap = s->pcap ? 2 * s->pcap : 8;
        eng__wr *np = eng__realloc_array(mem, s->parts, cap, sizeof *np);
        if (!np)
            return eng__nomem();
        s->parts = np;
        for (size_t i = s->pcap; i < cap; i++)
            eng__wr_init(&s->parts[i], mem);
        uint64_t *pd = eng__realloc_array(mem, s->pdone, cap, sizeof *pd);
        if (!pd)
            return eng__nomem();
        s->pdone = pd;
        uint32_t *pr = eng__realloc_array(mem, s->prows, cap, sizeof *pr);
        if (!pr)
            return eng__nomem();
        s->prows = pr;
        s->pcap = cap;
    }
    eng__wr spare = s->parts[s->nparts]; /* swapped: the parser frames its next part in a spare */
    s->parts[s->nparts] = *rec;
    *rec = spare;
    rec->len = 0;
    s->pdone[s->nparts] = s->rows;
    s->prows[s->nparts] = rows;
    s->nparts++;
    return ENG_OK;
}

static int add_err(struct eng__pslot *s, const eng__mem *mem, uint64_t line, uint32_t col, int code, const char *why,
                   uint32_t nf)
{
    if (s->nerr == s->ecap && eng__grow(mem, (void **)&s->errs, &s->ecap, s->nerr + 1, sizeof *s->errs))
        return ENG_ENOMEM;
    s->errs[s->nerr++] = (perr){s->rows, line, col, nf, code, why};
    s->rows++;
    return ENG_OK;
}

static void parse_chunk(par *P, cpar *cp, eng__csv *c, struct eng__pslot *s)
{
    eng__memsrc src = {s->p, s->n, 0};
    int reject = P->ci->o->on_error == ENG_IMPORT_REJECT_FILE, got, rc = ENG_OK;
    eng__csv_chunk(c, &src, 0);
    s->nparts = s->nerr = 0;
    s->rows = s->lines = 0;
    s->unclean = 0;
    s->rc = ENG_OK;
    cp->out = s;
    cp->rowwise = 0;
    uint32_t nh = P->ci->ncols;
    for (;;) {
        uint64_t bn;
        if ((rc = eng__cimp_block(cp, c, &bn)))
            break;
        if (bn) {
            s->rows += bn;
            if (cp->part_rows >= eng__aud_part_rows && (rc = eng__cimp_flush(cp)))
                break;
            continue;
        }
        rc = eng__csv_next(c, &got);
        if (rc == ENG_EPARSE || rc == ENG_ETOOBIG) {
            if (c->eof_in_quote && !s->final) {
                s->unclean = 1; /* not where the sequential parse would be: the caller redoes it */
                rc = ENG_OK;
                break;
            }
            if ((rc = add_err(s, P->mem, c->e_line, c->e_col, rc, c->e_why, 0)))
                break;
            if (reject)
                break; /* the commit stops at this row */
            continue;
        }
        if (rc || !got)
            break;
        if (c->nf != nh) {
            if ((rc = add_err(s, P->mem, c->rec_line, 0, ENG_EPARSE, NULL, c->nf)) || reject)
                break;
            continue;
        }
        eng__rowerr err = {0, 0, ""};
        s->rows++;
        rc = eng__cimp_row(cp, c, &err);
        if (rc == 1) {
            s->rows--;
            if ((rc = add_err(s, P->mem, c->rec_line, err.col, err.code, err.why, 0)) || reject)
                break;
            continue;
        }
        if (rc)
            break;
    }
    if (!rc)
        rc = eng__cimp_flush(cp);
    s->lines = c->line - 1;
    if (rc) {
        s->rc = rc;
        snprintf(s->det, sizeof s->det, "%s", eng_error_last()->detail);
        snprintf(s->msg, sizeof s->msg, "%s", eng_error_last()->message);
    }
    cp->out = NULL;
    eng__cimp_reset(cp); /* a rejected or failed chunk leaves no half part behind */
}

/* Claim the oldest chunk nobody parses yet (mu held); NULL if none. */
static struct eng__pslot *claim(par *P)
{
    if (P->stop || P->next_claim == P->next_fill)
        return NULL;
    struct eng__pslot *s = &P->slot[P->next_claim % P->nslot];
    if (s->state != S_FILLED || s->seq_only)
        return NULL;
    s->state = S_CLAIMED;
    P->next_claim++;
    return s;
}

static void *run(void *arg)
{
    worker *w = arg;
    par *P = w->P;
    pthread_mutex_lock(&P->mu);
    for (;;) {
        struct eng__pslot *s;
        while (!(s = claim(P)) && !P->stop)
            pthread_cond_wait(&P->work, &P->mu);
        if (!s)
            break;
        pthread_mutex_unlock(&P->mu);
        parse_chunk(P, &w->cp, &w->c, s);
        pthread_mutex_lock(&P->mu);
        s->state = S_DONE;
        pthread_cond_broadcast(&P->finished);
    }
    pthread_mutex_unlock(&P->mu);
    return NULL;
}

/* ---- reading and cutting (the caller's thread) ---- */

/* A failed read as the sequential reader reports it (csv.c refill). */
static void read_failed(par *P, long n, size_t cap)
{
    int rc = n < 0 && n > -1000 ? (int)n : ENG_EIO;
    if (n < 0 && eng_error_last()->code != rc)
        eng__err(rc, "", "the CSV read callback failed (%ld)", n);
    else if (n >= 0 && (size_t)n > cap)
        eng__err(ENG_EIO, "", "the CSV read callback returned more bytes than asked");
    P->saved_n = n;
    P->saved_rc = rc;
    snprintf(P->saved_det, sizeof P->saved_det, "%s", eng_error_last()->detail);
    snprintf(P->saved_msg, sizeof P->saved_msg, "%s", eng_error_last()->message);
}

static int fill(par *P, struct eng__pslot *s)
{
    size_t chunk = eng__aud_chunk_bytes ? eng__aud_chunk_bytes : 1;
    s->final = s->seq_only = 0;
    if (P->msrc) { /* in place */
        eng__memsrc *m = P->msrc;
        size_t left = m->n - m->off, want = chunk;
        s->p = m->p + m->off;
        for (;;) {
            if (want >= left) {
                s->n = left;
                s->final = 1;
                break;
            }
            size_t cut = eng__csv_cut(s->p, want);
            if (cut) {
                s->n = cut;
                break;
            }
            want = want > left / 2 ? left : 2 * want;
        }
        m->off += s->n;
        P->bytes += s->n;
        if (s->final)
            P->in_end = 1;
        return ENG_OK;
    }
    size_t n = 0;
    if (s->cap < chunk + P->clen) {
        size_t cap = chunk + P->clen;
        char *b = eng__realloc(P->mem, s->buf, cap);
        if (!b)
            return eng__nomem();
        s->buf = b;
        s->cap = cap;
    }
    if (P->clen)
        memcpy(s->buf, P->carry, P->clen);
    n = P->clen;
    P->clen = 0;
    size_t want = chunk;
    for (;;) {
        while (n < want) {
            if (n == s->cap) {
                size_t cap = 2 * s->cap;
                char *b = eng__realloc(P->mem, s->buf, cap);
                if (!b)
                    return eng__nomem();
                s->buf = b;
                s->cap = cap;
            }
            size_t room = s->cap - n;
            eng__callback_begin();
            long got = P->read(s->buf + n, room, P->user);
            eng__callback_end();
            if (got < 0 || (size_t)got > room) {
                read_failed(P, got, room);
                s->seq_only = 1; /* the caller's sequential parser meets the failure where one thread would */
                s->final = 1;
                P->in_end = 1;
                break;
            }
            if (got == 0) {
                s->final = 1;
                P->in_end = 1;
                break;
            }
            n += (size_t)got;
            P->bytes += (uint64_t)got;
        }
        if (s->final)
            break;
        size_t cut = eng__csv_cut(s->buf, n);
        if (cut) {
            if (n - cut > P->ccap) {
                char *b = eng__realloc(P->mem, P->carry, n - cut);
                if (!b)
                    return eng__nomem();
                P->carry = b;
                P->ccap = n - cut;
            }
            if (n > cut)
                memcpy(P->carry, s->buf + cut, n - cut);
            P->clen = n - cut;
            n = cut;
            break;
        }
        want = 2 * n; /* one record longer than the chunk: read more */
    }
    s->p = s->buf;
    s->n = n;
    return ENG_OK;
}

/* ---- the sequential rest after a wrong cut or a failed read ---- */

typedef struct replay {
    par *P;
    uint64_t from; /* the chunk to start at */
    size_t off;    /* within it */
    int tail;      /* 0: chunks, 1: the carry, 2: the source */
} replay;

static long replay_read(void *buf, size_t cap, void *user)
{
    replay *r = user;
    par *P = r->P;
    while (r->tail == 0) {
        if (r->from == P->next_fill) {
            r->tail = 1;
            r->off = 0;
            break;
        }
        struct eng__pslot *s = &P->slot[r->from % P->nslot];
        if (r->off < s->n) {
            size_t k = s->n - r->off < cap ? s->n - r->off : cap;
            memcpy(buf, s->p + r->off, k);
            r->off += k;
            return (long)k;
        }
        r->from++;
        r->off = 0;
    }
    if (r->tail == 1) {
        const char *p = P->carry;
        size_t n = P->clen;
        if (P->msrc) {
            p = P->msrc->p + P->msrc->off;
            n = P->msrc->n - P->msrc->off;
        }
        if (r->off < n) {
            size_t k = n - r->off < cap ? n - r->off : cap;
            memcpy(buf, p + r->off, k);
            r->off += k;
            if (P->msrc)
                P->bytes += k;
            return (long)k;
        }
        r->tail = 2;
    }
    if (P->saved_rc) { /* the failure, with the text it had */
        if (P->saved_n >= 0)
            return (long)cap + 1; /* "more bytes than asked" again */
        eng__err(P->saved_rc, P->saved_det, "%s", P->saved_msg);
        return P->saved_n;
    }
    if (P->msrc || (P->in_end && !P->saved_rc))
        return 0;
    long n = P->read(buf, cap, P->user);
    if (n > 0 && (size_t)n <= cap)
        P->bytes += (uint64_t)n;
    return n;
}

/* Wait for the helpers' chunks in flight (mu not held), so the rest is the caller's alone. */
static void quiesce(par *P)
{
    pthread_mutex_lock(&P->mu);
    P->stop = 1;
    pthread_cond_broadcast(&P->work);
    for (;;) {
        int busy = 0;
        for (unsigned i = 0; i < P->nslot; i++)
            busy |= P->slot[i].state == S_CLAIMED;
        if (!busy)
            break;
        pthread_cond_wait(&P->finished, &P->mu);
    }
    pthread_mutex_unlock(&P->mu);
}

/* ---- committing chunks in order (the caller's thread) ---- */

static int commit(par *P, eng__drv *d, struct eng__pslot *s, uint64_t *line_base, eng__prog *pg)
{
    eng_import_report *rep = d->rep;
    uint64_t rows0 = rep->rows;
    size_t ei = 0;
    int rc = ENG_OK;
    for (size_t pi = 0; pi <= s->nparts && !rc; pi++) {
        uint64_t upto = pi < s->nparts ? s->pdone[pi] : UINT64_MAX;
        for (; ei < s->nerr && s->errs[ei].row < upto && !rc; ei++) {
            const perr *x = &s->errs[ei];
            rep->rows = rows0 + x->row + 1;
            if (x->why) {
                rc = eng__bad_row(d, x->line + *line_base - 1, x->col, x->code, x->why);
            } else {
                char why[96];
                snprintf(why, sizeof why, "expected %u fields, found %u", d->nh, x->nf);
                rc = eng__bad_row(d, x->line + *line_base - 1, 0, ENG_EPARSE, why);
            }
        }
        if (rc || pi == s->nparts)
            break;
        rep->rows = rows0 + s->pdone[pi];
        if (P->ci->nparts == 0 && s->rows) /* input bytes up to the first part's end, for size_table */
            P->ci->at_bytes = P->done + (uint64_t)((double)s->n * (double)s->pdone[pi] / (double)s->rows);
        rc = eng__cimp_store(P->ci, &s->parts[pi], s->prows[pi]);
    }
    if (rc)
        return rc;
    if (s->rc)
        return s->rc == ENG_ENOMEM ? eng__nomem() : eng__err(s->rc, s->det, "%s", s->msg);
    rep->rows = rows0 + s->rows;
    ENG__WORK(s->rows);
    *line_base += s->lines;
    P->done += s->n;
    return eng__prog_batch(pg, P->done);
}

/* ---- the driver ---- */

static void par_free(par *P)
{
    if (P->nw) {
        pthread_mutex_lock(&P->mu);
        P->stop = 1;
        pthread_cond_broadcast(&P->work);
        pthread_mutex_unlock(&P->mu);
    }
    for (unsigned i = 0; i < P->nw; i++) {
        pthread_join(P->w[i].tid, NULL);
        eng__csv_free(&P->w[i].c);
        eng__cpar_free(&P->w[i].cp);
    }
    for (unsigned i = 0; i < NSLOT; i++) {
        struct eng__pslot *s = &P->slot[i];
        for (size_t k = 0; k < s->pcap; k++)
            eng__wr_free(&s->parts[k]);
        eng__free(P->mem, s->parts);
        eng__free(P->mem, s->pdone);
        eng__free(P->mem, s->prows);
        eng__free(P->mem, s->errs);
        eng__free(P->mem, s->buf);
    }
    eng__free(P->mem, P->carry);
    pthread_cond_destroy(&P->work);
    pthread_cond_destroy(&P->finished);
    pthread_mutex_destroy(&P->mu);
}

static int start_helpers(par *P, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        worker *w = &P->w[i];
        w->P = P;
        eng__cpar_init(&w->cp, P->ci);
        if (eng__csv_init(&w->c, P->mem, eng__memsrc_read, NULL, P->maxf)) {
            eng__cpar_free(&w->cp);
            break;
        }
        if (pthread_create(&w->tid, NULL, run, w)) {
            eng__csv_free(&w->c);
            eng__cpar_free(&w->cp);
            break;
        }
        P->nw++;
    }
    return P->nw ? ENG_OK : ENG_ENOMEM;
}

/* The rows from chunk P->next_commit on, on this thread, as one thread reads them. */
static int sequential_rest(par *P, eng__drv *d, eng__hdr_fn hdr, uint64_t line_base, eng__prog *pg, int with_header)
{
    quiesce(P);
    __atomic_add_fetch(&eng__aud_par_redone, 1, __ATOMIC_RELAXED);
    replay r = {P, P->next_commit, 0, 0};
    eng__csv c;
    uint64_t before = P->done;
    int rc = eng__csv_init(&c, P->mem, replay_read, &r, P->maxf);
    if (rc)
        return rc;
    if (with_header) {
        int got;
        rc = eng__csv_next(&c, &got);
        rc = eng__drive_header(d, &c, hdr, P->ci, rc, got);
    } else {
        eng__csv_resume(&c, line_base);
    }
    if (!rc)
        rc = eng__drive_rows(d, &c, eng__cimp_csv_row, eng__cimp_csv_block, P->ci, pg, before);
    eng__csv_free(&c);
    return rc;
}

int eng__import_par(cimp *ci, eng__drv *d, eng__hdr_fn hdr, eng_read_fn read, void *user, size_t maxf,
                    unsigned helpers, eng__prog *pg)
{
    par *P = eng__calloc(&ci->e->mem, 1, sizeof *P);
    if (!P)
        return eng__nomem();
    P->ci = ci;
    P->e = ci->e;
    P->mem = &ci->e->mem;
    P->read = read;
    P->user = user;
    P->msrc = read == eng__memsrc_read ? user : NULL;
    P->maxf = maxf;
    P->nslot = (helpers > HELPERS_MAX ? HELPERS_MAX : helpers) + 2;
    pthread_mutex_init(&P->mu, NULL);
    pthread_cond_init(&P->work, NULL);
    pthread_cond_init(&P->finished, NULL);
    cpar own; /* the caller's chunks */
    eng__cpar_init(&own, ci);
    eng__csv c;
    int rc = eng__csv_init(&c, P->mem, eng__memsrc_read, NULL, maxf), got;
    uint64_t line_base = 1;
    if (rc)
        goto out;
    /* The header, from the first chunk, on this thread. */
    struct eng__pslot *s0 = &P->slot[0];
    if ((rc = fill(P, s0)))
        goto out;
    P->next_fill = 1;
    s0->state = S_FILLED;
    if (s0->seq_only) {
        rc = sequential_rest(P, d, hdr, 1, pg, 1);
        goto out;
    }
    eng__memsrc src = {s0->p, s0->n, 0};
    eng__csv_chunk(&c, &src, 1);
    rc = eng__csv_next(&c, &got);
    if ((rc == ENG_EPARSE || rc == ENG_ETOOBIG) && c.eof_in_quote && !s0->final) {
        rc = sequential_rest(P, d, hdr, 1, pg, 1); /* the header runs past the first cut */
        goto out;
    }
    if ((rc = eng__drive_header(d, &c, hdr, ci, rc, got)))
        goto out;
    size_t used = (size_t)(c.bytes - c.len + c.pos);
    s0->p += used;
    s0->n -= used;
    P->done = used;
    line_base = c.line;
    if (start_helpers(P, P->nslot - 2))
        P->nslot = 2; /* no thread: the same path on this one */
    for (;;) {
        pthread_mutex_lock(&P->mu);
        /* read ahead into free slots */
        while (!P->in_end && P->next_fill - P->next_commit < P->nslot) {
            struct eng__pslot *s = &P->slot[P->next_fill % P->nslot];
            pthread_mutex_unlock(&P->mu);
            rc = fill(P, s);
            pthread_mutex_lock(&P->mu);
            if (rc)
                break;
            s->state = S_FILLED;
            P->next_fill++;
            pthread_cond_signal(&P->work);
        }
        if (rc) {
            pthread_mutex_unlock(&P->mu);
            break;
        }
        if (P->next_commit == P->next_fill) {
            pthread_mutex_unlock(&P->mu);
            break;
        }
        struct eng__pslot *s = &P->slot[P->next_commit % P->nslot];
        if (s->state == S_DONE) {
            pthread_mutex_unlock(&P->mu);
            if (s->unclean) {
                rc = sequential_rest(P, d, hdr, line_base, pg, 0);
                break;
            }
            if ((rc = commit(P, d, s, &line_base, pg)))
                break;
            pthread_mutex_lock(&P->mu);
            s->state = S_FREE;
            P->next_commit++;
            pthread_mutex_unlock(&P->mu);
            continue;
        }
        if (s->seq_only) {
            pthread_mutex_unlock(&P->mu);
            rc = sequential_rest(P, d, hdr, line_base, pg, 0);
            break;
        }
        struct eng__pslot *mine = claim(P);
        if (mine) { /* help: parse the oldest waiting chunk here */
            pthread_mutex_unlock(&P->mu);
            parse_chunk(P, &own, &c, mine);
            pthread_mutex_lock(&P->mu);
            mine->state = S_DONE;
        } else {
            pthread_cond_wait(&P->finished, &P->mu);
        }
        pthread_mutex_unlock(&P->mu);
    }
out:
    d->rep->bytes = P->bytes;
    eng__csv_free(&c);
    eng__cpar_free(&own);
    par_free(P);
    eng__free(P->mem, P);
    return rc;
}
