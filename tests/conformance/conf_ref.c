#include "conf_ref.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

int conf_keycmp(const void *a, size_t al, const void *b, size_t bl)
{
    size_t n = al < bl ? al : bl;
    int c = n ? memcmp(a, b, n) : 0;
    if (c)
        return c;
    return al < bl ? -1 : al > bl;
}

static uint8_t *dup(const void *p, size_t n)
{
    uint8_t *d = malloc(n ? n : 1);
    assert_non_null(d);
    if (n)
        memcpy(d, p, n);
    return d;
}

/* Index of the first entry not below k. */
static size_t lower(const conf_ref *r, const void *k, size_t kl)
{
    size_t lo = 0, hi = r->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (conf_keycmp(r->e[mid].k, r->e[mid].kl, k, kl) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

const conf_kv *conf_ref_find(const conf_ref *r, const void *k, size_t kl)
{
    size_t i = lower(r, k, kl);
    return i < r->n && conf_keycmp(r->e[i].k, r->e[i].kl, k, kl) == 0 ? &r->e[i] : NULL;
}

void conf_ref_put(conf_ref *r, const void *k, size_t kl, const void *v, size_t vl)
{
    size_t i = lower(r, k, kl);
    if (i < r->n && conf_keycmp(r->e[i].k, r->e[i].kl, k, kl) == 0) {
        free(r->e[i].v);
        r->e[i].v = dup(v, vl);
        r->e[i].vl = vl;
        return;
    }
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 64;
        r->e = realloc(r->e, r->cap * sizeof *r->e);
        assert_non_null(r->e);
    }
    memmove(&r->e[i + 1], &r->e[i], (r->n - i) * sizeof *r->e);
    r->e[i] = (conf_kv){dup(k, kl), dup(v, vl), kl, vl};
    r->n++;
}

void conf_ref_del(conf_ref *r, const void *k, size_t kl)
{
    size_t i = lower(r, k, kl);
    if (i < r->n && conf_keycmp(r->e[i].k, r->e[i].kl, k, kl) == 0) {
        free(r->e[i].k);
        free(r->e[i].v);
        memmove(&r->e[i], &r->e[i + 1], (r->n - i - 1) * sizeof *r->e);
        r->n--;
    }
}

void conf_ref_free(conf_ref *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->e[i].k);
        free(r->e[i].v);
    }
    free(r->e);
    memset(r, 0, sizeof *r);
}

void conf_ref_copy(conf_ref *dst, const conf_ref *src)
{
    conf_ref_free(dst);
    for (size_t i = 0; i < src->n; i++)
        conf_ref_put(dst, src->e[i].k, src->e[i].kl, src->e[i].v, src->e[i].vl);
}

/* Appends without sorting: the order is the store's, checked by the caller. */
static int append_cb(const void *k, size_t kl, const void *v, size_t vl, void *u)
{
    conf_ref *r = u;
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 64;
        r->e = realloc(r->e, r->cap * sizeof *r->e);
        if (!r->e)
            return ENG_ENOMEM;
    }
    r->e[r->n++] = (conf_kv){dup(k, kl), dup(v, vl), kl, vl};
    return 0;
}

int conf_scan_into(eng_store *s, const void *prefix, size_t plen, conf_ref *out)
{
    return eng__kv_scan(s, prefix, plen, append_cb, out);
}

static int has_prefix(const conf_kv *e, const void *p, size_t pl)
{
    return e->kl >= pl && (pl == 0 || memcmp(e->k, p, pl) == 0);
}

/* Compare; returns 0 or a line describing the first difference in @p why. */
static int compare(eng_store *s, const conf_ref *want, const void *p, size_t pl, char *why, size_t wsz)
{
    conf_ref got = {0};
    int rc = conf_scan_into(s, p, pl, &got);
    if (rc) {
        snprintf(why, wsz, "scan failed: %d %s", rc, eng_error_last()->message);
        conf_ref_free(&got);
        return 1;
    }
    size_t j = 0, bad = 0;
    for (size_t i = 0; i < want->n && !bad; i++) {
        if (!has_prefix(&want->e[i], p, pl))
            continue;
        const conf_kv *w = &want->e[i];
        if (j >= got.n) {
            snprintf(why, wsz, "scan ended after %zu keys; missing key #%zu (%zu bytes)", got.n, i, w->kl);
            bad = 1;
        } else if (conf_keycmp(got.e[j].k, got.e[j].kl, w->k, w->kl) != 0) {
            snprintf(why, wsz, "scan position %zu: wrong key (%zu bytes, want %zu)", j, got.e[j].kl, w->kl);
            bad = 1;
        } else if (got.e[j].vl != w->vl || (w->vl && memcmp(got.e[j].v, w->v, w->vl) != 0)) {
            snprintf(why, wsz, "scan position %zu: wrong value (%zu bytes, want %zu)", j, got.e[j].vl, w->vl);
            bad = 1;
        }
        j++;
    }
    if (!bad && j != got.n) {
        snprintf(why, wsz, "scan gave %zu keys, want %zu", got.n, j);
        bad = 1;
    }
    conf_ref_free(&got);
    /* get reads back up to 32 of the keys, spread over the range (the scan
     * above saw them all; a round trip per key would make network stores slow) */
    size_t step = want->n > 32 ? want->n / 32 : 1;
    for (size_t i = 0; i < want->n && !bad; i += step) {
        const conf_kv *w = &want->e[i];
        if (!has_prefix(w, p, pl))
            continue;
        eng__val v;
        rc = eng__kv_get(s, w->k, w->kl, &v);
        if (rc) {
            snprintf(why, wsz, "get of scanned key #%zu: %d %s", i, rc, eng_error_last()->message);
            return 1;
        }
        if (v.len != w->vl || (w->vl && memcmp(v.data, w->v, w->vl) != 0)) {
            snprintf(why, wsz, "get of key #%zu: wrong value (%zu bytes, want %zu)", i, v.len, w->vl);
            bad = 1;
        }
        eng__val_free(s, &v);
    }
    return (int)bad;
}

void conf_assert_prefix(eng_store *s, const conf_ref *want, const void *prefix, size_t plen)
{
    char why[300];
    if (compare(s, want, prefix, plen, why, sizeof why))
        fail_msg("store differs from the reference (prefix of %zu bytes): %s", plen, why);
}

void conf_assert_equals(eng_store *s, const conf_ref *want) { conf_assert_prefix(s, want, "", 0); }

int conf_equals(eng_store *s, const conf_ref *want)
{
    char why[300];
    if (compare(s, want, "", 0, why, sizeof why)) {
        fprintf(stderr, "%s\n", why);
        return 1;
    }
    return 0;
}
