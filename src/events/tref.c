/* Sealed touch segments that name their tail chunks' records (payload kind 5, record schema 2).
 *
 * Every batch stores its rows as a tail chunk, and the seal put them into the file a
 * second time inside the segment (kind 4 copies the chunks' payloads: tblock.c), about
 * 1.3x the segments' bytes written again at W6 (docs/events.md). A kind-5 record holds
 * the kind-4 header and, per block, either the number, length and record checksum of a
 * chunk record left in the store, or the block's bytes (small chunks, the sealing batch's
 * own rows):
 *
 *   u8 kind (5), uvar n, uvar nsent, zone (as kinds 1-4), uvar nblocks (>= 2),
 *   nblocks x uvar v: v & 1: the chunk record e/<org>/t/c/<id << 32 | v >> 1>, then uvar
 *                    its payload's length and u32 its record's CRC (record.h);
 *                    else v >> 1 bytes of a kind-2 payload
 *
 * A segment names only chunks numbered from its own id (id << 32, eng__ttail_base), so
 * the chunks a segment names are those of its id's prefix, and an org's tail never has
 * them (the tail's chunks are read by prefixes outside the named ones: eng__tchunks_scan).
 * Read back, a kind-5 record is resolved into the kind-4 payload of the same rows (the
 * engine keeps and decodes that); a chunk missing, of another length or checksum gives
 * ENG_ECORRUPT naming it. A rewrite or deletion of the segment (retention, compaction)
 * deletes the chunks it names in the same batch, so their rows leave the store with it. */
#include "events/ev_state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint8_t eng__tseg_refs = 1;

static size_t uvar_len(uint64_t v)
{
    size_t n = 1;
    while (v >>= 7)
        n++;
    return n;
}

/* The header of a kind-4 or -5 payload: *hlen its bytes up to its blocks, *nb their count. */
static int head(const uint8_t *p, size_t len, const char *key, uint8_t want, eng__seg *z, size_t *hlen, uint64_t *nb)
{
    eng__rd r;
    uint64_t nkey;
    uint8_t kind;
    eng__rd_init(&r, p, len);
    int rc = eng__tseg_head(&r, key, z, &nkey, &kind);
    if (rc)
        return rc;
    *nb = eng__rd_uvar(&r);
    if (!eng__rd_ok(&r) || kind != want || *nb < 2 || *nb > z->n)
        return eng__err(ENG_ECORRUPT, key, "touch segment %s: bad block count", key);
    *hlen = len - eng__rd_left(&r);
    return ENG_OK;
}

/* The blocks after a kind-4 or -5 header, one at a time: kind 4, a block's bytes; kind 5, those or
 * the number, length and CRC of the chunk record it names. */
typedef struct blk {
    int named;            /* kind 5: names chunk seq (its number within the segment id) */
    uint64_t seq, len;    /* len: the block's bytes, or the named chunk's payload */
    uint32_t crc;         /* the named chunk's record CRC */
    const uint8_t *bytes; /* not named: the block's bytes */
} blk;

typedef struct blk_it {
    eng__rd r;
    uint8_t kind;
} blk_it;

static void blk_start(blk_it *it, const uint8_t *p, size_t hlen, size_t len, uint8_t kind)
{
    eng__rd_init(&it->r, p + hlen, len - hlen);
    it->kind = kind;
}

/* 1 with the next block in *b; 0 when the payload is cut short there. */
static int blk_next(blk_it *it, blk *b)
{
    uint64_t v = eng__rd_uvar(&it->r);
    memset(b, 0, sizeof *b);
    if (it->kind == 5 && (v & 1)) {
        b->named = 1;
        b->seq = v >> 1;
        b->len = eng__rd_uvar(&it->r);
        b->crc = eng__rd_u32(&it->r);
        return eng__rd_ok(&it->r) && b->seq <= UINT32_MAX;
    }
    b->len = it->kind == 5 ? v >> 1 : v;
    if (!eng__rd_ok(&it->r) || b->len > eng__rd_left(&it->r))
        return 0;
    b->bytes = eng__rd_bytes(&it->r, (size_t)b->len);
    return 1;
}

/* The chunk of block i, when the segment id may name it: its record's number. */
static int nameable(const eng__evorg *o, uint32_t id, const eng__tblk *b, size_t len, uint64_t *seq)
{
    if (!b->chunk)
        return 0;
    const eng__tchunk *h = &o->tch[b->chunk - 1];
    *seq = o->tchunk_first + b->chunk - 1;
    return h->p && h->len == len && *seq >> 32 == id;
}

int eng__tref_build(eng__ev *ev, eng__evorg *o, eng__tseal *s, uint32_t id, const uint8_t *k4, size_t len,
                    const eng__tblk *b, size_t nb, size_t *named)
{
    *named = 0;
    if (!eng__tseg_refs || eng__tseg_ordered || o->ntch != o->tchunk_next - o->tchunk_first)
        return ENG_OK;
    eng__seg z;
    size_t hlen = 0, most = 0;
    uint64_t n = 0;
    if (head(k4, len, s->key, 4, &z, &hlen, &n) || n != nb)
        return ENG_OK; /* not a segment of these blocks: stored as it is */
    blk_it it;
    blk bk;
    uint64_t seq;
    blk_start(&it, k4, hlen, len, 4);
    for (size_t i = 0; i < nb; i++) {
        if (!blk_next(&it, &bk))
            return ENG_OK;
        if (nameable(o, id, &b[i], (size_t)bk.len, &seq))
            ++*named, most += 24;
        else
            most += 10 + (size_t)bk.len;
    }
    if (!*named)
        return ENG_OK;
    const eng__mem *mem = &ev->e->mem;
    size_t cap = o->trefcap;
    if (o->ntref + *named > cap && eng__grow(mem, (void **)&o->tref, &cap, o->ntref + *named, sizeof *o->tref))
        return eng__nomem();
    o->trefcap = (uint32_t)cap;
    eng__wr *w = &s->rec;
    if (!w->mem)
        eng__wr_init(w, mem);
    w->len = 0;
    w->err = 0;
    if (eng__wr_reserve(w, ENG__REC_HEADER + hlen + most))
        return eng__nomem();
    memset(w->data, 0, ENG__REC_HEADER);
    w->len = ENG__REC_HEADER;
    eng__wr_bytes(w, k4, hlen);
    w->data[ENG__REC_HEADER] = 5;
    blk_start(&it, k4, hlen, len, 4);
    for (size_t i = 0; i < nb && blk_next(&it, &bk); i++) {
        if (nameable(o, id, &b[i], (size_t)bk.len, &seq)) {
            eng__wr_uvar(w, (seq & 0xffffffffu) << 1 | 1);
            eng__wr_uvar(w, bk.len);
            eng__wr_u32(w, o->tch[b[i].chunk - 1].crc);
        } else {
            eng__wr_uvar(w, bk.len << 1);
            eng__wr_bytes(w, bk.bytes, (size_t)bk.len);
        }
    }
    return w->err ? eng__nomem() : ENG_OK;
}

int eng__tref_named(const eng__evorg *o, uint64_t seq)
{
    size_t lo = 0, hi = o->ntref;
    while (lo < hi) {
        size_t m = lo + (hi - lo) / 2;
        if (o->tref[m] < seq)
            lo = m + 1;
        else
            hi = m;
    }
    return lo < o->ntref && o->tref[lo] == seq;
}

/* seq among o's named chunks (room reserved), kept ascending. */
static void add(eng__evorg *o, uint64_t seq)
{
    uint32_t at = o->ntref;
    while (at && o->tref[at - 1] > seq)
        at--;
    if (at && o->tref[at - 1] == seq)
        return;
    memmove(o->tref + at + 1, o->tref + at, (o->ntref - at) * sizeof *o->tref);
    o->tref[at] = seq;
    o->ntref++;
}

void eng__tref_add(eng__evorg *o, const eng__tseal *s, uint32_t id)
{
    /* the record just built: its named chunks in its blocks */
    eng__seg z;
    size_t hlen = 0;
    uint64_t nb = 0;
    const uint8_t *p = s->rec.data + ENG__REC_HEADER;
    size_t len = s->rec.len - ENG__REC_HEADER;
    if (head(p, len, s->key, 5, &z, &hlen, &nb))
        return;
    blk_it it;
    blk b;
    blk_start(&it, p, hlen, len, 5);
    for (uint64_t i = 0; i < nb && blk_next(&it, &b); i++)
        if (b.named)
            add(o, (uint64_t)id << 32 | b.seq);
}

/* The org code and segment id of a key e/<org>/t/s/<id>. */
static int key_ids(const char *key, uint16_t *org, uint32_t *id)
{
    uint64_t a, b;
    if (strlen(key) != 19 || !eng__hex_u64(key + 2, 4, &a) || !eng__hex_u64(key + 11, 8, &b))
        return eng__err(ENG_ECORRUPT, key, "bad touch segment key %s", key);
    *org = (uint16_t)a;
    *id = (uint32_t)b;
    return ENG_OK;
}

int eng__tref_resolve(eng__ev *ev, eng__evorg *note, const char *key, const uint8_t *p, size_t len, uint8_t **out,
                      size_t *outlen)
{
    const eng__mem *mem = &ev->e->mem;
    eng__seg z;
    size_t hlen = 0, total = 0;
    uint64_t nb = 0;
    uint16_t org = 0;
    uint32_t id = 0;
    int rc;
    *out = NULL;
    if ((rc = key_ids(key, &org, &id)) || (rc = head(p, len, key, 5, &z, &hlen, &nb)))
        return rc;
    eng__rec *rec = eng__calloc(mem, (size_t)nb, sizeof *rec);
    if (!rec)
        return eng__nomem();
    blk_it it;
    blk b;
    blk_start(&it, p, hlen, len, 5);
    uint64_t i = 0, named = 0;
    for (; i < nb && !rc; i++) {
        if (!blk_next(&it, &b)) {
            rc = eng__err(ENG_ECORRUPT, key, "touch segment %s: block %llu cut short", key, (unsigned long long)i);
            break;
        }
        if (b.named) {
            char ck[48];
            eng__ev_key(ck, sizeof ck, org, "t/c", (uint64_t)id << 32 | b.seq, 1);
            rc = eng__rec_get(ev->e->store, ENG__K(ck), ENG__REC_EV_TSEG, ENG__TSEG_V_SKEYS, &rec[i]);
            if (eng__absent(rc))
                rc = eng__err(ENG_ECORRUPT, ck, "touch segment %s names chunk %s, which is missing", key, ck);
            else if (!rc && (rec[i].len != b.len || eng__get32(rec[i].raw.data + 12) != b.crc))
                rc = eng__err(ENG_ECORRUPT, ck, "touch segment %s names chunk %s, which is not the chunk it names", key,
                              ck);
            named++;
        }
        total += uvar_len(b.len) + (size_t)b.len;
    }
    if (!rc && (eng__rd_left(&it.r) || !named))
        rc = eng__err(ENG_ECORRUPT, key, "touch segment %s: bad blocks", key);
    size_t cap = note ? note->trefcap : 0;
    if (!rc && note && note->ntref + named > cap &&
        eng__grow(mem, (void **)&note->tref, &cap, note->ntref + (size_t)named, sizeof *note->tref))
        rc = eng__nomem();
    if (note)
        note->trefcap = (uint32_t)cap;
    eng__wr w;
    eng__wr_init(&w, mem);
    if (!rc && !eng__wr_reserve(&w, ENG__REC_HEADER + hlen + total)) {
        memset(w.data, 0, ENG__REC_HEADER);
        w.len = ENG__REC_HEADER;
        eng__wr_bytes(&w, p, hlen);
        w.data[ENG__REC_HEADER] = 4; /* what the engine keeps: the kind-4 payload of the same blocks */
        blk_start(&it, p, hlen, len, 5);
        for (uint64_t k = 0; k < nb && blk_next(&it, &b); k++) {
            eng__wr_uvar(&w, b.len);
            eng__wr_bytes(&w, b.named ? rec[k].payload : b.bytes, (size_t)b.len);
            if (b.named && note)
                add(note, (uint64_t)id << 32 | b.seq);
        }
    }
    for (uint64_t k = 0; k < i; k++)
        eng__rec_free(ev->e->store, &rec[k]);
    eng__free(mem, rec);
    if (!rc && w.err)
        rc = eng__nomem();
    if (rc) {
        eng__wr_free(&w);
        return rc;
    }
    *out = w.data;
    *outlen = w.len;
    return ENG_OK;
}

int eng__tref_drop(eng__ev *ev, eng__evorg *o, uint32_t id)
{
    uint64_t lo = (uint64_t)id << 32;
    size_t a = 0;
    while (a < o->ntref && o->tref[a] < lo)
        a++;
    size_t e = a;
    int rc = ENG_OK;
    for (; e < o->ntref && o->tref[e] >> 32 == id && !rc; e++) {
        char ck[48];
        eng__ev_key(ck, sizeof ck, o->code, "t/c", o->tref[e], 1);
        rc = eng__kv_del(ev->e->store, ENG__K(ck));
    }
    if (rc || e == a) /* none (o->tref may be NULL) */
        return rc;
    memmove(o->tref + a, o->tref + e, (o->ntref - e) * sizeof *o->tref);
    o->ntref -= (uint32_t)(e - a);
    return ENG_OK;
}

/* Chunk records of o numbered [lo << 32, hi << 32), ascending: one scan a hex prefix that
 * covers a block of ids inside the range (at most 2 x 15 a digit). */
static int scan_ids(eng__ev *ev, const eng__evorg *o, uint64_t lo, uint64_t hi, eng_store_scan_fn cb, void *user)
{
    int rc = ENG_OK;
    while (lo < hi && !rc) {
        int k = 0; /* the block: 16^k ids */
        while (k < 8 && !(lo & ((1ull << 4 * (k + 1)) - 1)) && lo + (1ull << 4 * (k + 1)) <= hi)
            k++;
        char prefix[48];
        snprintf(prefix, sizeof prefix, "e/%04x/t/c/%08llx", (unsigned)o->code, (unsigned long long)lo);
        rc = eng__kv_scan(ev->e->store, prefix, 11 + 8 - (size_t)k, cb, user);
        lo += 1ull << 4 * k;
    }
    return rc;
}

int eng__tchunks_scan(eng__ev *ev, const eng__evorg *o, eng_store_scan_fn cb, void *user)
{
    uint64_t lo = 0;
    int rc = ENG_OK;
    for (uint32_t i = 0; i < o->ntref && !rc; i++) {
        uint64_t id = o->tref[i] >> 32;
        if (id < lo)
            continue;
        rc = scan_ids(ev, o, lo, id, cb, user);
        lo = id + 1;
    }
    return rc ? rc : scan_ids(ev, o, lo, 1ull << 32, cb, user);
}
