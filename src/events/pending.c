/* Receipts that arrived before their send: kept (and stored) until the
 * `sent` with their key is written, then applied to it in the same batch.
 * The list is expected to be short (the dispatcher commits `sent` before the
 * provider can answer, except across a crash); a 64K-bit filter on the key
 * hash keeps the check for each new `sent` O(1) while it is.
 *
 * Record e/p/<seq:016x> (0x0405, schema 1): the whole list,
 *   uvar n, n x (u64 keyhash, svar time, u8 status, blob detail, blob key).
 * Each change rewrites it under a new sequence number and deletes the old. */
#include "events/ev_state.h"
#include "base/codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PEND_V 1

static void filter_set(eng__ev *ev, uint64_t h)
{
    ev->pend_filter[(h >> 6) & 1023] |= 1ull << (h & 63);
}

static int filter_has(const eng__ev *ev, uint64_t h)
{
    return (int)((ev->pend_filter[(h >> 6) & 1023] >> (h & 63)) & 1);
}

static void pend_clear(const eng__mem *mem, eng__pend *p)
{
    eng__free(mem, p->detail);
    eng__free(mem, p->key);
}

int eng__pend_add(eng__ev *ev, uint64_t keyhash, const char *key, uint8_t status, eng_time t, const char *detail,
                  int *dup)
{
    const eng__mem *mem = &ev->e->mem;
    *dup = 0;
    if (filter_has(ev, keyhash))
        for (size_t i = 0; i < ev->npend; i++)
            if (ev->pend[i].keyhash == keyhash && ev->pend[i].status == status) {
                *dup = 1;
                return ENG_OK;
            }
    if (ev->npend + 1 > ev->pendcap &&
        eng__grow(mem, (void **)&ev->pend, &ev->pendcap, ev->npend + 1, sizeof *ev->pend))
        return eng__nomem();
    eng__pend p = {keyhash, t, status, NULL, NULL};
    if ((detail && *detail && !(p.detail = eng__strdup(mem, detail))) || !(p.key = eng__strdup(mem, key))) {
        pend_clear(mem, &p);
        return eng__nomem();
    }
    ev->pend[ev->npend++] = p;
    filter_set(ev, keyhash);
    ev->pend_dirty = 1;
    return ENG_OK;
}

int eng__pend_join(eng__ev *ev, uint32_t send, uint64_t keyhash, uint64_t *joined, eng__optlist *opts)
{
    if (!ev->npend || !filter_has(ev, keyhash))
        return ENG_OK;
    const eng__mem *mem = &ev->e->mem;
    size_t j = 0;
    int rc = ENG_OK;
    for (size_t i = 0; i < ev->npend; i++) {
        eng__pend *p = &ev->pend[i];
        if (rc || p->keyhash != keyhash) {
            ev->pend[j++] = *p;
            continue;
        }
        int dup, opt;
        const char *d = p->detail ? p->detail : "";
        rc = eng__touch_apply(ev, send, p->status, p->time, d, strlen(d), &dup, &opt);
        if (rc) {
            ev->pend[j++] = *p;
            continue;
        }
        *joined += !dup;
        if (opt && (rc = eng__opt_push(mem, opts, send, p->time, p->status))) {
            ev->pend[j++] = *p;
            continue;
        }
        pend_clear(mem, p);
        ev->pend_dirty = 1;
    }
    ev->npend = j;
    return rc;
}

int eng__ev_pend_save(eng__ev *ev)
{
    eng_store *s = ev->e->store;
    char key[32];
    int rc = ENG_OK;
    for (uint64_t q = ev->pend_first; q < ev->pend_next && !rc; q++) {
        snprintf(key, sizeof key, "e/p/%016llx", (unsigned long long)q);
        rc = eng__kv_del(s, ENG__K(key));
    }
    if (rc)
        return rc;
    if (ev->npend) {
        eng__wr w;
        eng__wr_init(&w, &ev->e->mem);
        eng__wr_uvar(&w, ev->npend);
        for (size_t i = 0; i < ev->npend; i++) {
            const eng__pend *p = &ev->pend[i];
            eng__wr_u64(&w, p->keyhash);
            eng__wr_svar(&w, p->time);
            eng__wr_u8(&w, p->status);
            eng__wr_str(&w, p->detail);
            eng__wr_str(&w, p->key);
        }
        snprintf(key, sizeof key, "e/p/%016llx", (unsigned long long)ev->pend_next);
        if ((rc = eng__rec_put_wr(s, ENG__K(key), ENG__REC_EV_PENDING, PEND_V, &w)))
            return rc;
        ev->pend_first = ev->pend_next++;
    } else {
        ev->pend_first = ev->pend_next;
    }
    /* the filter may only over-approximate: rebuild it from what is left */
    memset(ev->pend_filter, 0, sizeof ev->pend_filter);
    for (size_t i = 0; i < ev->npend; i++)
        filter_set(ev, ev->pend[i].keyhash);
    ev->pend_dirty = 0;
    return ENG_OK;
}

static int load_cb(const void *key, size_t klen, const void *val, size_t vlen, void *user)
{
    eng__ev *ev = user;
    const eng__mem *mem = &ev->e->mem;
    char k[64];
    eng__key_printable(key, klen, k, sizeof k);
    eng__rec rec;
    int rc = eng__rec_decode(key, klen, val, vlen, ENG__REC_EV_PENDING, PEND_V, &rec);
    if (rc)
        return rc;
    if (klen != 4 + 16 || ev->npend)
        return eng__err(ENG_ECORRUPT, k, "bad or extra pending receipts record %s", k);
    uint64_t seq = strtoull(k + 4, NULL, 16);
    eng__rd r;
    eng__rd_init(&r, rec.payload, rec.len);
    uint64_t n = eng__rd_uvar(&r);
    if (!eng__rd_ok(&r) || n > rec.len)
        return eng__err(ENG_ECORRUPT, k, "bad pending receipts record %s", k);
    for (uint64_t i = 0; i < n; i++) {
        eng__pend p = {0, 0, 0, NULL, NULL};
        p.keyhash = eng__rd_u64(&r);
        p.time = eng__rd_svar(&r);
        p.status = eng__rd_u8(&r);
        p.detail = eng__rd_str(&r, mem);
        p.key = eng__rd_str(&r, mem);
        if (r.err == ENG_ENOMEM || (!p.key && eng__rd_ok(&r))) {
            pend_clear(mem, &p);
            return eng__nomem();
        }
        if (!eng__rd_ok(&r) || p.status == ENG_TOUCH_SENT || p.status >= ENG_TOUCH_STATUS_COUNT) {
            pend_clear(mem, &p);
            return eng__err(ENG_ECORRUPT, k, "bad pending receipt %llu in %s", (unsigned long long)i, k);
        }
        if (p.detail && !*p.detail) {
            eng__free(mem, p.detail);
            p.detail = NULL;
        }
        if (ev->npend + 1 > ev->pendcap &&
            eng__grow(mem, (void **)&ev->pend, &ev->pendcap, ev->npend + 1, sizeof *ev->pend)) {
            pend_clear(mem, &p);
            return eng__nomem();
        }
        ev->pend[ev->npend++] = p;
        filter_set(ev, p.keyhash);
    }
    ev->pend_first = seq;
    ev->pend_next = seq + 1;
    return ENG_OK;
}

int eng__ev_load_pending(eng__ev *ev)
{
    return eng__kv_scan(ev->e->store, "e/p/", 4, load_cb, ev);
}
