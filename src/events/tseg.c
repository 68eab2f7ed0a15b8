/* Touch columns, their segment encoding, and an org's touch tail.
 *
 * Payload of a touch segment or tail chunk (record 0x0403, schema 1):
 *   u8 kind (1), uvar n, uvar nsent,
 *   zone: svar tmin, svar tmax, uvar statuses, uvar channels,
 *         uvar customer min, max, uvar ctx min, max
 *   packed columns (colpack.h): time, customer, ctx, channel, status, send, detail
 *   nsent x u64: the idempotency-key hash of each sent row, in row order;
 *     with ENG__TSEG_SKEYS in the kind byte (kinds 2 and 3, schema 3, since 2026-12-08):
 *     uvar nstored, a bitmap of the sent rows whose key is stored when 0 < nstored < nsent,
 *     the nstored keys (a row whose key is not stored is flagged `first`: its key is its
 *     context's prefix, its customer and its channel, hashed again where needed: sends.c)
 *   kind 2 and 3: packed column `first` (0/1 per row; kind 1: all 0)
 *   kind 3 only: the table of tsum.c (rows ordered by (status, customer)):
 *     uvar n, n x {u8 status, uvar ctx, u8 channel, uvar rows, uvar first rows}
 * kind 4 (tblock.c): the same header, then uvar nblocks and each block as
 *   uvar len and a kind-2 payload of its rows
 * Tail chunks are kind 2; a sealed segment (and its rewrite) is kind 3 when
 * eng__tseg_ordered is set (tsum.c), else kind 4 when the seal keeps chunks' bytes
 * (tblock.c), else kind 2. */
#include "events/ev_state.h"
#include "events/colpack.h"
#include "base/simd.h"
#include "store/file_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The newest schema of a touch record this library reads. */
#define TSEG_V ENG__TSEG_V_SKEYS

uint8_t eng__tseg_skeys = 1;

void eng__tcols_free(eng__tcols *c, const eng__mem *mem)
{
    eng__free(mem, c->time);
    eng__free(mem, c->customer);
    eng__free(mem, c->ctx);
    eng__free(mem, c->send);
    eng__free(mem, c->detail);
    eng__free(mem, c->channel);
    eng__free(mem, c->status);
    eng__free(mem, c->first);
    eng__free(mem, c->keyhash);
    eng__free(mem, c->sum);
    memset(c, 0, sizeof *c);
}

int eng__tcols_reserve(eng__tcols *c, const eng__mem *mem, size_t more)
{
    size_t need = c->n + more;
    if (need <= c->cap)
        return ENG_OK;
    size_t cap = c->cap ? c->cap : 256;
    while (cap < need)
        cap *= 2;
#define G(f)                                                                   \
    do {                                                                       \
        void *p = eng__realloc_array(mem, c->f, cap, sizeof *c->f);            \
        if (!p)                                                                \
            return eng__nomem();                                               \
        c->f = p;                                                              \
    } while (0)
    G(time);
    G(customer);
    G(ctx);
    G(send);
    G(detail);
    G(channel);
    G(status);
    G(first);
#undef G
    c->cap = cap;
    return ENG_OK;
}

int eng__tcols_key_reserve(eng__tcols *c, const eng__mem *mem, size_t more)
{
    if (c->nkey + more <= c->keycap)
        return ENG_OK;
    return eng__grow(mem, (void **)&c->keyhash, &c->keycap, c->nkey + more, sizeof *c->keyhash) ? eng__nomem()
                                                                                                : ENG_OK;
}

void eng__tseg_zone_put(eng__wr *w, uint8_t kind, size_t n, size_t nkey, const eng__seg *z)
{
    eng__wr_u8(w, kind);
    eng__wr_uvar(w, n);
    eng__wr_uvar(w, nkey);
    eng__wr_svar(w, z->tmin);
    eng__wr_svar(w, z->tmax);
    eng__wr_uvar(w, z->statuses);
    eng__wr_uvar(w, z->channels);
    eng__wr_uvar(w, z->cmin);
    eng__wr_uvar(w, z->cmax);
    eng__wr_uvar(w, z->xmin);
    eng__wr_uvar(w, z->xmax);
}

void eng__tseg_encode(eng__wr *w, const eng__tcols *c, size_t from, size_t n, size_t key_from, size_t nkey,
                      int ordered)
{
    eng__seg z;
    eng__tseg_zone_of(c, from, n, &z);
    eng__tseg_zone_put(w, eng__tseg_kind(ordered), n, nkey, &z);
    for (int part = 0; part < ENG__TSEG_PARTS; part++)
        eng__tseg_encode_part(w, c, from, n, key_from, nkey, &z, part);
    if (ordered)
        eng__tsum_encode(w, c);
}

/* The zone of rows [from, from + n), n > 0: a loop a column (each one stream, two
 * accumulators), compiled once a level (below): the packers take these bounds rather than
 * finding them again. */
static inline __attribute__((always_inline)) void zone_scan(const eng__tcols *c, size_t from, size_t n, eng__seg *z)
{
    eng_time tmin = c->time[from], tmax = tmin;
    uint32_t st = 0, ch = 0, cmin = c->customer[from], cmax = cmin, xmin = c->ctx[from], xmax = xmin;
    for (size_t i = from; i < from + n; i++) {
        tmin = c->time[i] < tmin ? c->time[i] : tmin;
        tmax = c->time[i] > tmax ? c->time[i] : tmax;
    }
    for (size_t i = from; i < from + n; i++) {
        cmin = c->customer[i] < cmin ? c->customer[i] : cmin;
        cmax = c->customer[i] > cmax ? c->customer[i] : cmax;
    }
    for (size_t i = from; i < from + n; i++) {
        xmin = c->ctx[i] < xmin ? c->ctx[i] : xmin;
        xmax = c->ctx[i] > xmax ? c->ctx[i] : xmax;
    }
    for (size_t i = from; i < from + n; i++) {
        st |= 1u << c->status[i];
        ch |= 1u << c->channel[i];
    }
    *z = (eng__seg){.tmin = tmin, .tmax = tmax, .statuses = st, .channels = ch, .cmin = cmin, .cmax = cmax,
                    .xmin = xmin, .xmax = xmax};
}

static void zone_scalar(const eng__tcols *c, size_t from, size_t n, eng__seg *z)
{
    zone_scan(c, from, n, z);
}

#if ENG__SIMD_X86
/* The same loops where the CPU has AVX2 (the baseline has no 64-bit compare and no
 * unsigned 32-bit min/max): the same bounds, integer min, max and or being exact. */
ENG__AVX2 static void zone_avx2(const eng__tcols *c, size_t from, size_t n, eng__seg *z)
{
    zone_scan(c, from, n, z);
}

/* AVX-512 has the 64-bit min and max (vpminsq, vpmaxsq) the times need. */
ENG__AVX512 static void zone_avx512(const eng__tcols *c, size_t from, size_t n, eng__seg *z)
{
    zone_scan(c, from, n, z);
}
#endif

void eng__tseg_zone_of(const eng__tcols *c, size_t from, size_t n, eng__seg *z)
{
    void (*zone)(const eng__tcols *, size_t, size_t, eng__seg *) = zone_scalar;
#if ENG__SIMD_X86
    if (eng__isa() >= ENG__ISA_AVX2)
        zone = eng__isa() >= ENG__ISA_AVX512 ? zone_avx512 : zone_avx2;
#endif
    memset(z, 0, sizeof *z);
    if (n)
        zone(c, from, n, z);
}

size_t eng__tseg_part_room(size_t n, size_t nkey, int part)
{
    /* packed columns of at most 8, 1 or 4 bytes a row, each with its header and 8 bytes of
     * slack (colpack.c), and the keys' hashes */
    static const size_t row[ENG__TSEG_PARTS] = {8, 4, 4, 2, 4, 4, 1}, cols[ENG__TSEG_PARTS] = {1, 1, 1, 2, 1, 1, 1};
    return n * row[part] + cols[part] * 24 + (part == ENG__TSEG_PARTS - 1 ? nkey * 8 + nkey / 8 + 16 : 0);
}

/* kh[0, n) as 8 bytes each into w (n of them reserved). */
static void keys_copy(eng__wr *w, const uint64_t *kh, size_t n)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    /* the bytes eng__put64 writes; its byte stores may alias the column, so a loop of them
     * reloaded both pointers every value */
    if (n)
        memcpy(w->data + w->len, kh, n * 8);
#else
    for (size_t k = 0; k < n; k++)
        eng__put64(w->data + w->len + 8 * k, kh[k]);
#endif
    w->len += n * 8;
}

/* The `sent` rows' keys kh[0, nkey): every one (the format before), or (@p skeys) those stored,
 * the keys 0 left out (tseg.c's header). */
static void keys_put(eng__wr *w, const uint64_t *kh, size_t nkey, int skeys)
{
    if (!skeys) {
        if (!eng__wr_reserve(w, nkey * 8))
            keys_copy(w, kh, nkey);
        return;
    }
    size_t ns = 0;
    for (size_t k = 0; k < nkey; k++)
        ns += kh[k] != 0;
    eng__wr_uvar(w, ns);
    if (ns == nkey) {
        if (!eng__wr_reserve(w, nkey * 8))
            keys_copy(w, kh, nkey);
        return;
    }
    size_t nb = ns ? (nkey + 7) / 8 : 0;
    if (eng__wr_reserve(w, nb + ns * 8))
        return;
    uint8_t *bits = w->data + w->len, *out = bits + nb;
    memset(bits, 0, nb);
    for (size_t k = 0, m = 0; m < ns; k++)
        if (kh[k]) {
            bits[k / 8] |= (uint8_t)(1u << k % 8);
            eng__put64(out + 8 * m++, kh[k]);
        }
    w->len += nb + ns * 8;
}

void eng__tseg_encode_part(eng__wr *w, const eng__tcols *c, size_t from, size_t n, size_t key_from, size_t nkey,
                           const eng__seg *z, int part)
{
    switch (part) {
    case 0: /* the packers take the zone's bounds rather than finding them again */
        eng__pack_i64_in(w, c->time + from, n, z->tmin, z->tmax);
        break;
    case 1:
        eng__pack_u32_in(w, c->customer + from, n, z->cmin, z->cmax);
        break;
    case 2:
        eng__pack_u32_in(w, c->ctx + from, n, z->xmin, z->xmax);
        break;
    case 3:
        eng__pack_u8(w, c->channel + from, n);
        eng__pack_u8(w, c->status + from, n);
        break;
    case 4:
        eng__pack_u32(w, c->send + from, n);
        break;
    case 5:
        eng__pack_u32(w, c->detail + from, n);
        break;
    default:
        keys_put(w, c->keyhash + key_from, nkey, eng__tseg_skeys);
        eng__pack_u8(w, c->first + from, n);
    }
}

static int zone_read(eng__rd *r, const char *key, eng__seg *z, uint64_t *nkey, uint8_t *kindp)
{
    uint8_t raw = eng__rd_u8(r), kind = raw & (uint8_t)~ENG__TSEG_SKEYS;
    *kindp = kind;
    uint64_t n = eng__rd_uvar(r);
    *nkey = eng__rd_uvar(r);
    z->tmin = eng__rd_svar(r);
    z->tmax = eng__rd_svar(r);
    uint64_t st = eng__rd_uvar(r), ch = eng__rd_uvar(r);
    uint64_t v[4];
    for (int i = 0; i < 4; i++)
        v[i] = eng__rd_uvar(r);
    if (!eng__rd_ok(r) || (kind < 1 || kind > 5) || (raw != kind && kind != 2 && kind != 3) || n > ENG__SEG_ROWS || *nkey > n || st >> ENG_TOUCH_STATUS_COUNT ||
        ch >> ENG_CH_COUNT || v[0] > v[1] || v[1] > UINT32_MAX || v[2] > v[3] || v[3] > UINT32_MAX ||
        z->tmin > z->tmax)
        return eng__err(ENG_ECORRUPT, key, "touch segment %s: bad header", key);
    z->n = (uint32_t)n;
    z->kind = kind;
    z->skeys = raw != kind;
    z->skew = 0;
    z->statuses = (uint32_t)st;
    z->channels = (uint32_t)ch;
    z->cmin = (uint32_t)v[0];
    z->cmax = (uint32_t)v[1];
    z->xmin = (uint32_t)v[2];
    z->xmax = (uint32_t)v[3];
    return ENG_OK;
}

int eng__tseg_head(eng__rd *r, const char *key, eng__seg *z, uint64_t *nkey, uint8_t *kind)
{
    return zone_read(r, key, z, nkey, kind);
}

int eng__tseg_zone(const uint8_t *p, size_t len, const char *key, eng__seg *z)
{
    eng__rd r;
    uint64_t nkey;
    uint8_t kind;
    eng__rd_init(&r, p, len);
    return zone_read(&r, key, z, &nkey, &kind);
}

/* The keys' bytes of a payload with zone z and nkey sent rows (r after its `detail` column):
 * *ns stored, *bits their bitmap (NULL: all stored, or none), *kh the keys; NULL: cut short
 * (r's error set). */
static const uint8_t *keys_read(eng__rd *r, const eng__seg *z, uint64_t nkey, uint64_t *ns, const uint8_t **bits)
{
    *ns = nkey;
    *bits = NULL;
    if (z->skeys) {
        *ns = eng__rd_uvar(r);
        if (!eng__rd_ok(r) || *ns > nkey) {
            r->err = ENG_ECORRUPT;
            return NULL;
        }
        if (*ns && *ns < nkey)
            *bits = eng__rd_bytes(r, (size_t)(nkey + 7) / 8);
    }
    return eng__rd_bytes(r, (size_t)*ns * 8);
}

void eng__tseg_keys_skip(eng__rd *r, const eng__seg *z, uint64_t nkey)
{
    uint64_t ns;
    const uint8_t *bits;
    (void)keys_read(r, z, nkey, &ns, &bits);
}

/* The columns of a kind 1-3 payload (r after its header, zone z) appended to c at
 * c->n and c->nkey, whose room the caller reserved; kind < 3: r must end with them. */
int eng__tseg_decode_cols(eng__rd *r, const char *key, const eng__seg *z, uint64_t nkey, uint8_t kind, eng__tcols *c)
{
    size_t n = z->n, at = c->n;
    int64_t *time = c->time + at;
    uint8_t *status = c->status + at, *channel = c->channel + at, *first = c->first + at;
    eng__unpack_i64(r, time, n);
    eng__unpack_u32(r, c->customer + at, n);
    eng__unpack_u32(r, c->ctx + at, n);
    eng__unpack_u8(r, channel, n);
    eng__unpack_u8(r, status, n);
    eng__unpack_u32(r, c->send + at, n);
    eng__unpack_u32(r, c->detail + at, n);
    uint64_t ns;
    const uint8_t *bits, *kh = keys_read(r, z, nkey, &ns, &bits);
    if (kind >= 2)
        eng__unpack_u8(r, first, n);
    else if (n) /* stored before the flag: not known */
        memset(first, 0, n);
    if (!eng__rd_ok(r) || (kind < 3 && eng__rd_left(r)))
        return eng__err(ENG_ECORRUPT, key, "touch segment %s: bad columns", key);
    size_t sent = 0, unflagged = 0; /* `sent` rows not flagged `first` */
    for (size_t i = 0; i < n; i++) {
        if (status[i] >= ENG_TOUCH_STATUS_COUNT || channel[i] >= ENG_CH_COUNT || first[i] > 1 || time[i] < z->tmin ||
            time[i] > z->tmax)
            return eng__err(ENG_ECORRUPT, key, "touch segment %s: bad row %zu", key, at + i);
        sent += status[i] == ENG_TOUCH_SENT;
        unflagged += (status[i] == ENG_TOUCH_SENT) & (first[i] ^ 1);
    }
    if (sent != nkey)
        return eng__err(ENG_ECORRUPT, key, "touch segment %s: %zu sent rows but %llu keys", key, sent,
                        (unsigned long long)nkey);
    if (bits) { /* as many bits set as keys stored, none past the last sent row */
        size_t set = 0;
        for (size_t b = 0; b < (nkey + 7) / 8; b++)
            set += (size_t)__builtin_popcount(bits[b]);
        if (set != ns || (nkey % 8 && bits[nkey / 8] >> nkey % 8))
            return eng__err(ENG_ECORRUPT, key, "touch segment %s: bad key bitmap", key);
    }
    uint64_t *out = c->keyhash + c->nkey, miss = 0;
    if (ns == nkey) {
        for (size_t k = 0; k < nkey; k++)
            miss |= (out[k] = eng__get64(kh + 8 * k)) == 0;
    } else if (ns == 0) { /* none stored (W6's): every `sent` row flagged */
        if (nkey)
            memset(out, 0, nkey * sizeof *out);
        miss = unflagged != 0;
    } else { /* a key not stored is a flagged row's, 0 here (rekey.c makes it again) */
        for (size_t i = 0, k = 0, m = 0; i < n; i++) {
            if (status[i] != ENG_TOUCH_SENT)
                continue;
            int stored = bits && (bits[k / 8] >> k % 8 & 1);
            miss |= !stored && !first[i];
            out[k] = stored ? eng__get64(kh + 8 * m++) : 0;
            miss |= stored && out[k] == 0;
            k++;
        }
    }
    /* a key hash is never 0 (eng__ev_keyhash): 0 is a key not stored, which only a flagged row may have */
    if (miss)
        return eng__err(ENG_ECORRUPT, key, "touch segment %s: a sent row's key hash missing or 0", key);
    c->n += n;
    c->nkey += nkey;
    return ENG_OK;
}

int eng__tseg_decode(const uint8_t *p, size_t len, const char *key, eng__tcols *c, const eng__mem *mem)
{
    eng__rd r;
    eng__seg z;
    uint64_t nkey;
    uint8_t kind;
    eng__rd_init(&r, p, len);
    int rc = zone_read(&r, key, &z, &nkey, &kind);
    if (rc)
        return rc;
    c->n = 0;
    c->nkey = 0;
    c->nsum = 0;
    c->ordered = 0;
    if (kind == 5) /* read through eng__tref_resolve, which gives kind 4 */
        return eng__err(ENG_ECORRUPT, key, "touch segment %s: chunk records named where none can be", key);
    if ((rc = eng__tcols_reserve(c, mem, z.n)) || (rc = eng__tcols_key_reserve(c, mem, nkey)))
        return rc;
    rc = kind == 4 ? eng__tblock_decode(&r, key, &z, nkey, c) : eng__tseg_decode_cols(&r, key, &z, nkey, kind, c);
    if (!rc && kind == 3 && ((rc = eng__tsum_decode(&r, key, c, mem)) || eng__rd_left(&r)))
        rc = rc ? rc : eng__err(ENG_ECORRUPT, key, "touch segment %s: bytes after the summary", key);
    if (rc)
        c->n = c->nkey = c->nsum = 0;
    return rc;
}

/* ---- the tail ---- */

/* The bytes of a writer's buffer for a record @p front bytes in with room for n rows and nkey keys. */
static size_t wr_room(size_t front, size_t n, size_t nkey)
{
    return front + ENG__REC_HEADER + 64 + n * 16 + nkey * 8;
}

/* eng__tseg_wr_start with the record @p front bytes in and room for @p rows rows and keys. */
static void wr_start_at(eng__wr *w, const eng__mem *mem, size_t front, size_t n, size_t nkey)
{
    eng__wr_init(w, mem);
    if (eng__wr_reserve(w, wr_room(front, n, nkey)) == ENG_OK) {
        memset(w->data, 0, front + ENG__REC_HEADER);
        w->len = front + ENG__REC_HEADER;
    }
}

void eng__tseg_wr_start(eng__wr *w, const eng__mem *mem, size_t n, size_t nkey)
{
    wr_start_at(w, mem, 0, n, nkey);
}

/* The record in w from @p front on (header room, then the payload) framed and put
 * under key; w's bytes then go to keep (a sealed segment: its zone and bytes) or
 * *take (a tail chunk's), else are freed. */
static int put_rec(eng__ev *ev, const char *key, eng__wr *w, size_t front, eng__seg *keep, eng__wr *take)
{
    if (w->err) {
        eng__wr_free(w);
        return eng__nomem();
    }
    uint8_t *rec = w->data + front;
    size_t len = w->len - front;
    int rc = eng__rec_put_framed(ev->e->store, ENG__K(key), ENG__REC_EV_TSEG, eng__tseg_schema(0), rec, len);
    if (!rc && keep && (rc = eng__tseg_zone(rec + ENG__REC_HEADER, len - ENG__REC_HEADER, key, keep)) == ENG_OK) {
        keep->buf = rec;
        keep->len = len;
        keep->skew = (uint16_t)front;
        return ENG_OK;
    }
    if (!rc && take) {
        *take = *w;
        return ENG_OK;
    }
    eng__wr_free(w);
    return rc;
}

/* keep != NULL: a sealed segment (or its rewrite), stored ordered (kind 3) when @p ordered.
 * front: the record that many bytes into its buffer, which has room for @p room rows. */
static int put_encoded(eng__ev *ev, const char *key, const eng__tcols *c, size_t from, size_t n, size_t key_from,
                       size_t nkey, eng__seg *keep, int ordered, eng__wr *take, size_t front, size_t room)
{
    ordered = keep && ordered;
    if (ordered) {
        int rc = eng__tseg_order(c, from, n, key_from, &ev->ord, &ev->ordtmp, &ev->ordtmp_cap, &ev->e->mem);
        if (rc)
            return rc;
        c = &ev->ord;
        from = key_from = 0;
    }
    eng__wr w;
    wr_start_at(&w, &ev->e->mem, front, n > room ? n : room, n > room ? nkey : room);
    eng__tseg_encode_par(ev, &w, c, from, n, key_from, nkey, ordered);
    return put_rec(ev, key, &w, front, keep, take);
}

int eng__ttail_save(eng__ev *ev, eng__evorg *o)
{
    eng__tcols *t = &o->tail;
    if (t->n == o->tail_saved)
        return ENG_OK;
    if (t->n >= eng__seg_seal_rows) /* full: one segment now, not a chunk re-encoded by the next batch */
        return eng__ttail_seal(ev, o);
    char key[48];
    eng__ev_key(key, sizeof key, o->code, "t/c", o->tchunk_next, 1);
    eng__wr buf;
    /* The tail's first chunk in a buffer with room for the whole segment, and before it
     * for the segment's header: the seal can build the segment around its bytes (tblock.c). */
    int first = !o->tail_saved && t->n >= eng__tblock_min_rows();
    size_t front = first ? ENG__TCHUNK_FRONT : 0, room = first ? eng__seg_seal_rows : 0;
    int rc = eng__tchunks_room(o, &ev->e->mem); /* first: nothing to undo after the put */
    if (rc || (rc = put_encoded(ev, key, t, o->tail_saved, t->n - o->tail_saved, o->tail_keys_saved,
                                t->nkey - o->tail_keys_saved, NULL, 0, &buf, front, room)))
        return rc;
    /* its bytes kept for the seal (tblock.c) */
    eng__tchunks_push(o, (uint32_t)t->n, (uint32_t)t->nkey, buf.data, buf.data + front + ENG__REC_HEADER,
                      buf.len - front - ENG__REC_HEADER, front ? buf.cap : 0, eng__get32(buf.data + front + 12));
    o->tchunk_next++;
    o->tail_saved = t->n;
    o->tail_keys_saved = t->nkey;
    return ENG_OK;
}

/* After a seal's record is put: the segment's id, its tail's chunk records deleted, the
 * segment added (its room reserved) and the chunks' bytes freed. */
static int sealed(eng__ev *ev, eng__evorg *o, eng__seg *z)
{
    char key[48];
    int rc = ENG_OK;
    z->id = o->tseg.next_id++;
    for (uint64_t s = o->tchunk_first; s < o->tchunk_next && !rc; s++) {
        if (eng__tref_named(o, s)) /* the segment's record names it: it stays (tref.c) */
            continue;
        eng__ev_key(key, sizeof key, o->code, "t/c", s, 1);
        rc = eng__kv_del(ev->e->store, ENG__K(key));
    }
    eng__seg_add(ev, &o->tseg, z); /* cannot fail: room reserved */
    if (rc)
        return rc;
    o->tchunk_first = o->tchunk_next = eng__ttail_base(o);
    eng__tchunks_keep(o, &ev->e->mem, 0);
    return ENG_OK;
}

/* The segment's record written by a thread of the file store while the batch goes on
 * (file_behind.c): its write was a quarter of W6's calling thread at L (session 13).
 * By a worker beyond the call's and the page job's, as by the thread of its own it had:
 * those are most often busy at a seal (the `sent` chunks, the page job), and a write no
 * worker has taken by the store's next write is the caller's (W6 at L: +0.5 s of the
 * calling thread's system time with two workers). */
static void behind(eng__ev *ev, int on)
{
    if (on && ev->e->threads)
        eng__tpool_grow(&ev->e->pool, ev->e->threads + 2);
    eng__file_behind(ev->e->store, on && ev->e->threads > 0 ? &ev->e->pool : NULL);
}

/* A sealed segment's record rec[0, len) (header room, then its payload) put under key: as a
 * record naming the tail's chunks it holds whole when it can (kind 5, tref.c), so that their
 * rows are not written to the store again, else as it is. The engine keeps rec either way. */
static int put_sealed(eng__ev *ev, eng__evorg *o, const char *key, uint8_t *rec, size_t len)
{
    eng__tseal *s = ev->seal;
    uint32_t id = o->tseg.next_id;
    size_t named = 0;
    int rc = s && s->nb > 1 ? eng__tref_build(ev, o, s, id, rec + ENG__REC_HEADER, len - ENG__REC_HEADER, s->b, s->nb,
                                              &named)
                            : ENG_OK;
    if (rc)
        return rc;
    if (!named)
        return eng__rec_put_framed(ev->e->store, ENG__K(key), ENG__REC_EV_TSEG, eng__tseg_schema(0), rec, len);
    if (!(rc = eng__rec_put_framed(ev->e->store, ENG__K(key), ENG__REC_EV_TSEG, eng__tseg_schema(1), s->rec.data,
                                   s->rec.len)))
        eng__tref_add(o, s, id);
    return rc;
}

int eng__ttail_put_around(eng__ev *ev, eng__evorg *o, const char *key, const eng__wr *w, size_t skew)
{
    eng__seg z;
    behind(ev, 1);
    int rc = put_sealed(ev, o, key, w->data + skew, w->len - skew);
    behind(ev, 0);
    if (rc || (rc = eng__tseg_zone(w->data + skew + ENG__REC_HEADER, w->len - skew - ENG__REC_HEADER, key, &z)))
        return rc;
    /* its buffer kept whole (room for 24 B a row, the pages not written not resident): a buffer
     * shrunk to an encoded segment's size left holes that compaction's buffers could not reuse
     * (resident after compaction at W6's L 25.5 -> 31.3 B/event; 26.8 kept whole) */
    z.buf = w->data + skew;
    z.len = w->len - skew;
    z.skew = (uint16_t)skew;
    o->tch[0].own = NULL;
    o->tch[0].p = NULL;
    o->tch[0].len = 0;
    return sealed(ev, o, &z);
}

int eng__ttail_put_plain(eng__ev *ev, eng__evorg *o, const char *key, eng__wr *w)
{
    eng__seg z;
    behind(ev, 1);
    int rc = put_rec(ev, key, w, 0, &z, NULL);
    behind(ev, 0);
    return rc ? rc : sealed(ev, o, &z);
}

static int tail_seal(eng__ev *ev, eng__evorg *o, int later)
{
    eng__tcols *t = &o->tail;
    int rc = eng__tseal_join(ev); /* the seal before: its columns are the ones the tail takes */
    if (rc || t->n == 0)
        return rc;
    eng__tseal *s;
    eng__seg z;
    if ((rc = eng__tseal_room(ev, &s)) || (rc = eng__segs_push(&o->tseg, &ev->e->mem, NULL))) /* room first: nothing to undo after the put */
        return rc;
    /* the spare columns the tail takes at the swap (tseal.c) as large as the tail's: one allocation
     * each, not a chain of doublings as the caller fills them */
    if ((rc = eng__tcols_reserve(&s->cols, &ev->e->mem, t->cap)) ||
        (rc = eng__tcols_key_reserve(&s->cols, &ev->e->mem, t->keycap)))
        return rc;
    eng__ev_key(s->key, sizeof s->key, o->code, "t/s", o->tseg.next_id, 0);
    eng__wr w;
    int blocked = 0; /* from the chunks' bytes (kind 4, tblock.c) */
    if (!eng__tseg_ordered && (rc = eng__tblock_seal(ev, o, s, &w, &blocked)))
        return rc;
    s->plain = 0;
    if (blocked == 2) /* around the first chunk's bytes, in its buffer (tseal.c) */
        return eng__tseal_start(ev, o, later);
    if (!blocked && !eng__tseg_ordered) { /* the rows whole (kind 2), in a buffer sized for them (tseal.c) */
        wr_start_at(&s->w, &ev->e->mem, 0, t->n, t->nkey);
        if (!s->w.err && !eng__tseal_parts(s, t->n, t->nkey)) {
            s->plain = 1;
            return eng__tseal_start(ev, o, later);
        }
        eng__wr_free(&s->w); /* no room: encoded below as before, which reports it */
    }
    behind(ev, 1);
    if (!blocked) {
        rc = put_encoded(ev, s->key, t, 0, t->n, 0, t->nkey, &z, eng__tseg_ordered, NULL, 0, 0);
    } else if (w.err) {
        eng__wr_free(&w);
        rc = eng__nomem();
    } else if ((rc = put_sealed(ev, o, s->key, w.data, w.len)) ||
               (rc = eng__tseg_zone(w.data + ENG__REC_HEADER, w.len - ENG__REC_HEADER, s->key, &z))) {
        eng__wr_free(&w);
    } else {
        z.buf = w.data;
        z.len = w.len;
        z.skew = 0;
    }
    s->nb = 0;
    behind(ev, 0);
    if (rc || (rc = sealed(ev, o, &z)))
        return rc;
    ev->seals++;
    t->n = t->nkey = 0;
    o->tail_saved = o->tail_keys_saved = 0;
    return ENG_OK;
}

int eng__ttail_seal(eng__ev *ev, eng__evorg *o)
{
    return tail_seal(ev, o, 0);
}

int eng__ttail_seal_behind(eng__ev *ev, eng__evorg *o)
{
    return tail_seal(ev, o, 1);
}

/* Where an empty tail's chunks are numbered from: the segment ids' next << 32, so
 * every engine numbers the chunks after a seal alike, the sealer and one that
 * loads the org afterwards (catch-up reads chunk numbers in a row). */
uint64_t eng__ttail_base(const eng__evorg *o)
{
    return (uint64_t)o->tseg.next_id << 32;
}

/* ---- loading the tail's chunks (the sealed segments: tload.c) ---- */

typedef struct tload {
    eng__ev *ev;
    eng__evorg *o;
} tload;

/* The rows of tail chunk @p seq (payload p, len bytes, decoded in d) join the org's tail. */
static int tail_take(eng__ev *ev, eng__evorg *o, uint64_t seq, const eng__tcols *d, const char *k, const uint8_t *p,
                     size_t len, uint32_t crc)
{
    const eng__mem *mem = &ev->e->mem;
    eng__tcols *t = &o->tail;
    int rc;
    if (t->n + d->n > ENG__SEG_ROWS)
        return eng__err(ENG_ECORRUPT, k, "touch tail chunk %s overfills the tail", k);
    if ((rc = eng__tcols_reserve(t, mem, d->n)) || (rc = eng__tcols_key_reserve(t, mem, d->nkey)) ||
        (rc = eng__tchunks_room(o, mem)))
        return rc;
    /* its bytes kept for the seal when they are what this engine writes (kind 2;
     * the others are encoded again then, tblock.c) */
    uint8_t *keep = NULL;
    if (len && (p[0] & ~ENG__TSEG_SKEYS) == 2 && !(keep = eng__memdup(mem, p, len)))
        return eng__nomem();
    if (t->n == 0)
        eng__tchunks_keep(o, mem, 0);
    memcpy(t->time + t->n, d->time, d->n * sizeof *t->time);
    memcpy(t->customer + t->n, d->customer, d->n * sizeof *t->customer);
    memcpy(t->ctx + t->n, d->ctx, d->n * sizeof *t->ctx);
    memcpy(t->send + t->n, d->send, d->n * sizeof *t->send);
    memcpy(t->detail + t->n, d->detail, d->n * sizeof *t->detail);
    memcpy(t->channel + t->n, d->channel, d->n);
    memcpy(t->status + t->n, d->status, d->n);
    memcpy(t->first + t->n, d->first, d->n);
    if (d->nkey) /* a segment without keys may have no buffer: memcpy from NULL is undefined */
        memcpy(t->keyhash + t->nkey, d->keyhash, d->nkey * sizeof *t->keyhash);
    t->n += d->n;
    t->nkey += d->nkey;
    eng__tchunks_push(o, (uint32_t)t->n, (uint32_t)t->nkey, keep, keep, keep ? len : 0, 0, crc);
    if (t->n == d->n)
        o->tchunk_first = seq;
    o->tchunk_next = seq + 1;
    o->tail_saved = t->n;
    o->tail_keys_saved = t->nkey;
    return ENG_OK;
}

static int tload_cb(const void *key, size_t klen, const void *val, size_t vlen, void *user)
{
    tload *l = user;
    eng__evorg *o = l->o;
    const eng__mem *mem = &l->ev->e->mem;
    char k[64];
    eng__key_printable(key, klen, k, sizeof k);
    eng__rec rec;
    int rc = eng__rec_decode(key, klen, val, vlen, ENG__REC_EV_TSEG, TSEG_V, &rec);
    if (rc)
        return rc;
    char hex[17];
    if (klen != 11 + 16)
        return eng__err(ENG_ECORRUPT, k, "bad touch segment key %s", k);
    memcpy(hex, (const char *)key + 11, 16);
    hex[16] = 0;
    uint64_t seq = strtoull(hex, NULL, 16);
    eng__tcols *d = &l->ev->dec;
    if ((rc = eng__tseg_decode(rec.payload, rec.len, k, d, mem)) || (rc = eng__sends_load(l->ev, o, d, ENG__SEND_INDEX_LATER)) ||
        (rc = eng__ev_load_step(l->ev, d->n)))
        return rc;
    return tail_take(l->ev, o, seq, d, k, rec.payload, rec.len, eng__get32((const uint8_t *)val + 12));
}

int eng__ev_load_touches(eng__ev *ev, eng__evorg *o)
{
    tload l = {ev, o};
    int rc = eng__tseg_load(ev, o); /* the sealed segments (tload.c), then the tail's chunks */
    if (rc)
        return rc;
    rc = eng__tchunks_scan(ev, o, tload_cb, &l); /* not the chunks sealed segments name */
    if (!rc && o->tail.n == 0)
        o->tchunk_first = o->tchunk_next = eng__ttail_base(o);
    return rc;
}

/* Replace sealed segment @p idx of an org by the rows of c (retention). An
 * empty c deletes it (its zone gets n = 0 for the caller to remove). */
int eng__tseg_rewrite(eng__ev *ev, eng__evorg *o, size_t idx, const eng__tcols *c, int ordered)
{
    eng__seg *z = &o->tseg.v[idx], nz;
    char key[48];
    eng__ev_key(key, sizeof key, o->code, "t/s", z->id, 0);
    int rc = eng__tref_drop(ev, o, z->id); /* the chunks it names go with it */
    if (rc)
        return rc;
    if (c->n == 0) {
        rc = eng__kv_del(ev->e->store, ENG__K(key));
        if (!rc)
            z->n = 0;
        return rc;
    }
    rc = put_encoded(ev, key, c, 0, c->n, 0, c->nkey, &nz, ordered, NULL, 0, 0);
    if (rc)
        return rc;
    eng__seg_replace(ev, z, &nz);
    return ENG_OK;
}

/* A segment read again: a record naming chunks resolved into the kind-4 payload the engine keeps. */
static int resolve(eng__ev *ev, const char *key, const uint8_t *p, size_t len, uint8_t **out, size_t *outlen)
{
    *out = NULL;
    return len && p[0] == 5 ? eng__tref_resolve(ev, NULL, key, p, len, out, outlen) : ENG_OK;
}

int eng__tseg_payload(eng__ev *ev, eng__evorg *o, size_t idx, const uint8_t **p, size_t *len)
{
    char key[48];
    eng__ev_key(key, sizeof key, o->code, "t/s", o->tseg.v[idx].id, 0);
    return eng__seg_payload_with(ev, &o->tseg.v[idx], key, ENG__REC_EV_TSEG, TSEG_V, eng__tseg_zone, resolve,
                                 p, len);
}

/* ---- another engine's appends ---- */

int eng__ttail_catch_up(eng__ev *ev, eng__evorg *o, uint64_t *chunks)
{
    *chunks = 0;
    for (;;) {
        char key[48];
        eng__ev_key(key, sizeof key, o->code, "t/c", o->tchunk_next, 1);
        eng__rec rec;
        int rc = eng__rec_get(ev->e->store, ENG__K(key), ENG__REC_EV_TSEG, TSEG_V, &rec);
        if (eng__absent(rc))
            return ENG_OK;
        if (rc)
            return rc;
        eng__tcols *d = &ev->dec;
        if (!(rc = eng__tseg_decode(rec.payload, rec.len, key, d, &ev->e->mem)) &&
            !(rc = eng__sends_load(ev, o, d, ENG__SEND_INDEX)))
            rc = tail_take(ev, o, o->tchunk_next, d, key, rec.payload, rec.len, eng__get32(rec.raw.data + 12));
        eng__rec_free(ev->e->store, &rec);
        if (rc)
            return rc;
        ENG__WORK(d->n);
        ++*chunks;
    }
}

typedef struct held {
    const eng__evorg *o;
    uint64_t n;
    int other;
} held;

static int held_cb(const void *key, size_t klen, const void *val, size_t vlen, void *user)
{
    (void)val;
    (void)vlen;
    held *h = user;
    char hex[17];
    if (klen != 27)
        return h->other = 1, ENG_OK;
    memcpy(hex, (const char *)key + 11, 16);
    hex[16] = 0;
    uint64_t seq = strtoull(hex, NULL, 16);
    if (seq < h->o->tchunk_first || seq >= h->o->tchunk_next)
        h->other = 1;
    h->n++;
    return ENG_OK;
}

int eng__ttail_matches(eng__ev *ev, const eng__evorg *o, int *same)
{
    held h = {o, 0, 0};
    int rc = eng__tchunks_scan(ev, o, held_cb, &h);
    *same = !rc && !h.other && h.n == (o->tail.n ? o->tchunk_next - o->tchunk_first : 0);
    return rc;
}
