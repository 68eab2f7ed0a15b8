/* Serialised id sets.
 *
 *   u8   format (1)
 *   uvar number of containers
 *   per container: u16 key, u8 form, uvar cardinality, then
 *     form 1 (array):  card x u16 ascending
 *     form 2 (bitmap): 1024 x u64
 *     form 3 (runs):   uvar nruns, nruns x (u16 start, u16 length-1)
 *   u32  CRC32C of every byte above
 * The writer picks the smallest form per container, so contiguous id ranges
 * (whole imports, "everyone reachable") cost 4 bytes per run. The reader
 * checks every structural rule and the checksum and rebuilds the canonical
 * in-memory form, so a hostile or torn value can only give ENG_ECORRUPT. */
#include "audience/idset.h"
#include "base/error.h"
#include "base/hash.h"

#include <string.h>

#define IDSET_FORMAT 1
enum { FORM_ARRAY = 1, FORM_BITMAP = 2, FORM_RUNS = 3 };

static void ctr_words(const eng__ctr *c, uint64_t *w)
{
    if (c->type == ENG__CT_BITMAP) {
        memcpy(w, c->u.bits, ENG__CT_WORDS * sizeof *w);
        return;
    }
    memset(w, 0, ENG__CT_WORDS * sizeof *w);
    for (uint32_t k = 0; k < c->card; k++)
        w[c->u.arr[k] >> 6] |= 1ull << (c->u.arr[k] & 63);
}

static uint32_t count_runs(const uint64_t *w)
{
    uint32_t runs = 0;
    uint64_t carry = 0; /* top bit of the previous word */
    for (uint32_t i = 0; i < ENG__CT_WORDS; i++) {
        uint64_t starts = w[i] & ~((w[i] << 1) | carry);
        runs += (uint32_t)__builtin_popcountll(starts);
        carry = w[i] >> 63;
    }
    return runs;
}

/* The first v' >= v whose bit is set (flip 0) or clear (flip ~0), or 65536: a word at a time, so a
 * sparse container costs its 1,024 words, not 65,536 bit tests. */
static uint32_t next_bit(const uint64_t *w, uint32_t v, uint64_t flip)
{
    while (v < 65536) {
        uint64_t x = (w[v >> 6] ^ flip) >> (v & 63);
        if (x)
            return v + (uint32_t)__builtin_ctzll(x);
        v = (v | 63) + 1;
    }
    return 65536;
}

void eng__idset_write(const eng__idset *s, eng__wr *w)
{
    size_t start = w->len;
    uint64_t words[ENG__CT_WORDS];
    eng__wr_u8(w, IDSET_FORMAT);
    eng__wr_uvar(w, s->n);
    for (uint32_t i = 0; i < s->n; i++) {
        const eng__ctr *c = &s->c[i];
        ctr_words(c, words);
        uint32_t runs = count_runs(words);
        size_t as_runs = 4u * runs + 3, as_arr = 2u * c->card, as_bits = ENG__CT_WORDS * 8u;
        eng__wr_u16(w, c->key);
        if (as_runs < as_arr && as_runs < as_bits) {
            eng__wr_u8(w, FORM_RUNS);
            eng__wr_uvar(w, c->card);
            eng__wr_uvar(w, runs);
            for (uint32_t v = next_bit(words, 0, 0); v < 65536;) {
                uint32_t end = next_bit(words, v, ~0ull); /* one past the run */
                eng__wr_u16(w, (uint16_t)v);
                eng__wr_u16(w, (uint16_t)(end - 1 - v));
                v = next_bit(words, end, 0);
            }
        } else if (c->card <= ENG__CT_ARRAY_MAX) {
            eng__wr_u8(w, FORM_ARRAY);
            eng__wr_uvar(w, c->card);
            for (uint32_t k = 0; k < c->card; k++)
                eng__wr_u16(w, c->u.arr[k]);
        } else {
            eng__wr_u8(w, FORM_BITMAP);
            eng__wr_uvar(w, c->card);
            for (uint32_t k = 0; k < ENG__CT_WORDS; k++)
                eng__wr_u64(w, words[k]);
        }
    }
    if (!w->err)
        eng__wr_u32(w, eng__crc32c(0, w->data + start, w->len - start));
}

static int corrupt(eng__idset *out, const char *what, const char *why)
{
    eng__idset_free(out);
    return eng__err(ENG_ECORRUPT, what ? what : "", "id set: %s", why);
}

int eng__idset_read(eng__idset *out, eng__rd *r, const char *what)
{
    eng__idset_free(out);
    const uint8_t *start = r->p;
    uint64_t words[ENG__CT_WORDS];
    if (eng__rd_u8(r) != IDSET_FORMAT)
        return corrupt(out, what, "unknown format");
    uint64_t n = eng__rd_uvar(r);
    if (!eng__rd_ok(r) || n > 65536 || n > eng__rd_left(r) / 4)
        return corrupt(out, what, "bad container count");
    int32_t prev = -1;
    for (uint64_t i = 0; i < n; i++) {
        uint16_t key = eng__rd_u16(r);
        uint8_t form = eng__rd_u8(r);
        uint64_t card = eng__rd_uvar(r);
        if (!eng__rd_ok(r) || (int32_t)key <= prev || card == 0 || card > 65536)
            return corrupt(out, what, "bad container header");
        prev = key;
        memset(words, 0, sizeof words);
        uint64_t got = 0;
        if (form == FORM_ARRAY) {
            if (card > ENG__CT_ARRAY_MAX || eng__rd_left(r) < card * 2)
                return corrupt(out, what, "bad array container");
            int32_t last = -1;
            for (uint64_t k = 0; k < card; k++) {
                uint16_t v = eng__rd_u16(r);
                if ((int32_t)v <= last)
                    return corrupt(out, what, "array container not ascending");
                last = v;
                words[v >> 6] |= 1ull << (v & 63);
            }
            got = card;
        } else if (form == FORM_BITMAP) {
            if (eng__rd_left(r) < ENG__CT_WORDS * 8u)
                return corrupt(out, what, "short bitmap container");
            for (uint32_t k = 0; k < ENG__CT_WORDS; k++) {
                words[k] = eng__rd_u64(r);
                got += (uint64_t)__builtin_popcountll(words[k]);
            }
        } else if (form == FORM_RUNS) {
            uint64_t runs = eng__rd_uvar(r);
            if (!eng__rd_ok(r) || runs == 0 || runs > 32768 || eng__rd_left(r) < runs * 4)
                return corrupt(out, what, "bad run container");
            int64_t last_end = -1;
            for (uint64_t k = 0; k < runs; k++) {
                uint32_t a = eng__rd_u16(r), len = (uint32_t)eng__rd_u16(r) + 1u;
                /* runs must be ascending, apart (a gap of at least one), inside the chunk */
                if ((k && (int64_t)a <= last_end + 1) || a + len > 65536)
                    return corrupt(out, what, "run container overlaps or overflows");
                for (uint32_t v = a; v < a + len; v++)
                    words[v >> 6] |= 1ull << (v & 63);
                last_end = (int64_t)(a + len - 1);
                got += len;
            }
        } else {
            return corrupt(out, what, "unknown container form");
        }
        if (got != card)
            return corrupt(out, what, "cardinality does not match contents");
        /* Rebuild the canonical in-memory container through the public path. */
        eng__idset one;
        eng__idset_init(&one, out->mem);
        int rc = eng__idset_from_words(&one, words, ENG__CT_WORDS);
        if (rc) {
            eng__idset_free(out);
            return rc;
        }
        one.c[0].key = key;
        /* Keys ascend, so appending keeps the order. */
        size_t cap = out->cap;
        if (eng__grow(out->mem, (void **)&out->c, &cap, (size_t)out->n + 1, sizeof *out->c)) {
            eng__idset_free(&one);
            eng__idset_free(out);
            return eng__nomem();
        }
        out->cap = (uint32_t)cap;
        out->c[out->n++] = one.c[0];
        one.n = 0;
        eng__idset_free(&one);
    }
    size_t body = (size_t)(r->p - start);
    uint32_t crc = eng__rd_u32(r);
    if (!eng__rd_ok(r) || crc != eng__crc32c(0, start, body))
        return corrupt(out, what, "checksum mismatch");
    return ENG_OK;
}
