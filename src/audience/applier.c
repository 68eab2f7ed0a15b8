/* Delta parts applied on a second thread (see applier.h). A ring of a few
 * part buffers: the caller fills one while the applier reads another, and
 * buffers change hands by swapping writers, so only the caller allocates or
 * frees them. */
#include "audience/applier.h"
#include "audience/audience_impl.h"
#include "base/error.h"
#include "store/record.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define RING 3

struct eng__applier {
    const eng__mem *mem;
    eng__table *t;
    pthread_t tid;
    pthread_mutex_t mu;
    pthread_cond_t more, room; /* a part was queued / a part was applied (or the applier stopped) */
    struct slot {
        eng__wr w;
        size_t rlen; /* the record's bytes in w; the id hashes follow */
        char key[ENG__AUD_KEY_MAX];
    } ring[RING];
    unsigned head, count; /* next part to apply; parts queued (a part leaves when applied) */
    int stop, done;       /* the caller asked to stop; the thread has left its loop */
    uint64_t ins, upd;    /* rows applied so far, new and updated (under mu) */
    int rc;               /* first error, with its message */
    char det[256], msg[768];
};

static void *run(void *arg)
{
    eng__applier *ap = arg;
    pthread_mutex_lock(&ap->mu);
    for (;;) {
        while (!ap->count && !ap->stop)
            pthread_cond_wait(&ap->more, &ap->mu);
        if (ap->stop)
            break;
        struct slot *s = &ap->ring[ap->head];
        uint64_t ins = 0, upd = 0;
        int rc = ap->rc;
        pthread_mutex_unlock(&ap->mu);
        if (!rc) /* after a failure the parts are only drained */
            rc = eng__delta_apply(ap->t, s->w.data + ENG__REC_HEADER, s->rlen - ENG__REC_HEADER,
                                  eng__aud_delta_write_v, s->key, s->w.len > s->rlen ? s->w.data + s->rlen : NULL,
                                  &ins, &upd);
        pthread_mutex_lock(&ap->mu);
        if (rc && !ap->rc) {
            ap->rc = rc;
            snprintf(ap->det, sizeof ap->det, "%s", eng_error_last()->detail);
            snprintf(ap->msg, sizeof ap->msg, "%s", eng_error_last()->message);
        }
        ap->ins += ins;
        ap->upd += upd;
        ap->head = (ap->head + 1) % RING;
        ap->count--;
        pthread_cond_signal(&ap->room);
    }
    ap->done = 1;
    pthread_cond_signal(&ap->room);
    pthread_mutex_unlock(&ap->mu);
    return NULL;
}

eng__applier *eng__applier_start(eng__table *t, const eng__mem *mem)
{
    eng__applier *ap = eng__calloc(mem, 1, sizeof *ap);
    if (!ap)
        return NULL;
    ap->mem = mem;
    ap->t = t;
    /* The id index doubles a dozen times from empty: keep the ids' hashes
     * meanwhile so that it does not hash every id again each time. */
    if (t->idkind == ENG_ID_STRING && eng__dict_keep_hashes(&t->sid, 1)) {
        eng__free(mem, ap);
        return NULL;
    }
    for (int i = 0; i < RING; i++)
        eng__wr_init(&ap->ring[i].w, mem);
    if (pthread_mutex_init(&ap->mu, NULL)) {
        eng__free(mem, ap);
        return NULL;
    }
    if (pthread_cond_init(&ap->more, NULL) == 0) {
        if (pthread_cond_init(&ap->room, NULL) == 0) {
            if (pthread_create(&ap->tid, NULL, run, ap) == 0)
                return ap;
            pthread_cond_destroy(&ap->room);
        }
        pthread_cond_destroy(&ap->more);
    }
    pthread_mutex_destroy(&ap->mu);
    eng__dict_keep_hashes(&t->sid, 0);
    eng__free(mem, ap);
    return NULL;
}

/* The applier's error on this thread (called with mu held). */
static int reraise(eng__applier *ap)
{
    return ap->rc == ENG_ENOMEM ? eng__nomem() : eng__err(ap->rc, ap->det, "%s", ap->msg);
}

int eng__applier_push(eng__applier *ap, eng__wr *w, size_t rlen, const char *key)
{
    pthread_mutex_lock(&ap->mu);
    while (ap->count == RING && !ap->rc)
        pthread_cond_wait(&ap->room, &ap->mu);
    if (ap->rc) {
        int rc = reraise(ap);
        pthread_mutex_unlock(&ap->mu);
        return rc;
    }
    struct slot *s = &ap->ring[(ap->head + ap->count) % RING];
    eng__wr mine = s->w; /* the buffer of a part applied earlier: reused */
    s->w = *w;
    s->rlen = rlen;
    *w = mine;
    w->len = 0;
    snprintf(s->key, sizeof s->key, "%s", key);
    ap->count++;
    pthread_cond_signal(&ap->more);
    pthread_mutex_unlock(&ap->mu);
    return ENG_OK;
}

int eng__applier_finish(eng__applier *ap, eng__prog *pg, uint64_t *ins, uint64_t *upd)
{
    int rc = ENG_OK;
    pthread_mutex_lock(&ap->mu);
    while (ap->count && !ap->rc && !rc) {
        pthread_cond_wait(&ap->room, &ap->mu);
        uint64_t done = ap->ins + ap->upd;
        if (pg) { /* the callback runs outside the lock */
            pthread_mutex_unlock(&ap->mu);
            rc = eng__prog_batch(pg, done);
            pthread_mutex_lock(&ap->mu);
        }
    }
    if (!rc && ap->rc)
        rc = reraise(ap);
    *ins += ap->ins;
    *upd += ap->upd;
    pthread_mutex_unlock(&ap->mu);
    return rc;
}

void eng__applier_free(eng__applier *ap)
{
    if (!ap)
        return;
    pthread_mutex_lock(&ap->mu);
    ap->stop = 1;
    pthread_cond_signal(&ap->more);
    pthread_mutex_unlock(&ap->mu);
    pthread_join(ap->tid, NULL);
    eng__dict_keep_hashes(&ap->t->sid, 0);
    pthread_cond_destroy(&ap->room);
    pthread_cond_destroy(&ap->more);
    pthread_mutex_destroy(&ap->mu);
    for (int i = 0; i < RING; i++)
        eng__wr_free(&ap->ring[i].w);
    eng__free(ap->mem, ap);
}
