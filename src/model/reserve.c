/* X-Engage credit reservations (issue 16): approving an X-Engage message
 * reserves its credits (test-group recipients x the org's cost), so two
 * messages cannot both be approved on the same credits and a drained account
 * stops the next approval. One record per org, m/r/<org>: (message, amount)
 * pairs. A reservation is released whenever its message leaves approved /
 * executing (voided by an edit, stopped, finished, deleted). Available =
 * X-Engage balance - reserved by other messages. */
#include "model/model_impl.h"

#include <stdio.h>

typedef struct resv {
    size_t n;
    uint64_t *msg;
    int64_t *amt;
} resv;

static void resv_free(eng_engine *e, resv *r)
{
    eng__free(&e->mem, r->msg);
    eng__free(&e->mem, r->amt);
    memset(r, 0, sizeof *r);
}

static void resv_key(char *key, size_t n, const char *org)
{
    snprintf(key, n, "m/r/%s", org);
}

/* Room for one more entry is always allocated. */
static int resv_load(eng_engine *e, const char *org, resv *r)
{
    char key[96];
    resv_key(key, sizeof key, org);
    memset(r, 0, sizeof *r);
    eng__rec rec;
    int rc = eng__rec_get(e->store, ENG__K(key), ENG__REC_RESERVE, ENG__MODEL_SCHEMA, &rec);
    if (rc && !eng__absent(rc))
        return rc;
    eng__rd rd;
    uint64_t n = 0;
    if (rc == ENG_OK) {
        eng__rd_init(&rd, rec.payload, rec.len);
        n = eng__rd_uvar(&rd);
    }
    if (rc == ENG_OK && n > rec.len) { /* each entry takes at least 9 bytes: a corrupt count */
        eng__rec_free(e->store, &rec);
        return eng__err(ENG_ECORRUPT, key, "reservation record does not decode");
    }
    r->msg = eng__calloc(&e->mem, (size_t)n + 1, sizeof *r->msg);
    r->amt = eng__calloc(&e->mem, (size_t)n + 1, sizeof *r->amt);
    if (!r->msg || !r->amt) {
        if (rc == ENG_OK)
            eng__rec_free(e->store, &rec);
        resv_free(e, r);
        return eng__nomem();
    }
    if (eng__absent(rc))
        return ENG_OK;
    for (uint64_t i = 0; i < n; i++) {
        r->msg[i] = eng__rd_u64(&rd);
        r->amt[i] = eng__rd_svar(&rd);
    }
    r->n = (size_t)n;
    int ok = eng__rd_ok(&rd) && !eng__rd_left(&rd);
    eng__rec_free(e->store, &rec);
    if (!ok) {
        resv_free(e, r);
        return eng__err(ENG_ECORRUPT, key, "reservation record does not decode");
    }
    return ENG_OK;
}

static int resv_store(eng_engine *e, const char *org, const resv *r)
{
    char key[96];
    resv_key(key, sizeof key, org);
    if (!r->n)
        return eng__kv_del(e->store, ENG__K(key));
    eng__wr w;
    eng__wr_init(&w, &e->mem);
    eng__wr_uvar(&w, r->n);
    for (size_t i = 0; i < r->n; i++) {
        eng__wr_u64(&w, r->msg[i]);
        eng__wr_svar(&w, r->amt[i]);
    }
    return eng__rec_put_wr(e->store, ENG__K(key), ENG__REC_RESERVE, ENG__MODEL_SCHEMA, &w);
}

int eng__xengage_reserved(eng_engine *e, const char *org, uint64_t except, int64_t *total)
{
    resv r;
    *total = 0;
    int rc = resv_load(e, org, &r);
    if (rc)
        return rc;
    for (size_t i = 0; i < r.n; i++)
        if (r.msg[i] != except)
            *total += r.amt[i];
    resv_free(e, &r);
    return ENG_OK;
}

int eng__xengage_reserve(eng_engine *e, const char *org, uint64_t msg, int64_t amount)
{
    resv r;
    int rc = resv_load(e, org, &r);
    if (rc)
        return rc;
    size_t i = 0;
    while (i < r.n && r.msg[i] != msg)
        i++;
    r.msg[i] = msg;
    r.amt[i] = amount;
    if (i == r.n)
        r.n++;
    rc = resv_store(e, org, &r);
    resv_free(e, &r);
    return rc;
}

int eng__xengage_release(eng_engine *e, const char *org, uint64_t msg)
{
    resv r;
    int rc = resv_load(e, org, &r);
    if (rc)
        return rc;
    size_t k = 0;
    for (size_t i = 0; i < r.n; i++)
        if (r.msg[i] != msg) {
            r.msg[k] = r.msg[i];
            r.amt[k++] = r.amt[i];
        }
    if (k != r.n) {
        r.n = k;
        rc = resv_store(e, org, &r);
    }
    resv_free(e, &r);
    return rc;
}

/* An X-Engage send the provider accepted: its recipient's X-Engage credits are
 * charged and the same amount leaves the message's reservation (inside the
 * send outcome's batch), so balance - reserved stays what approvals may use
 * while the message executes. The charge stands even past zero: the
 * reservation made at approval already paid for it. */
int eng__xengage_consume(eng_engine *e, const char *org, uint64_t msg, int64_t amount)
{
    if (amount <= 0)
        return ENG_OK;
    resv r;
    int rc = resv_load(e, org, &r);
    if (rc)
        return rc;
    size_t k = 0;
    for (size_t i = 0; i < r.n; i++) {
        if (r.msg[i] == msg)
            r.amt[i] -= amount < r.amt[i] ? amount : r.amt[i];
        if (r.amt[i] > 0 || r.msg[i] != msg) {
            r.msg[k] = r.msg[i];
            r.amt[k++] = r.amt[i];
        }
    }
    r.n = k;
    rc = resv_store(e, org, &r);
    resv_free(e, &r);
    int64_t bal[2];
    if (!rc)
        rc = eng__credits_get(e, org, bal);
    if (!rc) {
        bal[ENG_CREDITS_XENGAGE] -= amount;
        rc = eng__credits_put(e, org, bal);
    }
    return rc;
}
