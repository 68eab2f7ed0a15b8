/* Attribution of one campaign: the run's first half.
 *
 * 1. The goal condition selects the qualifying transactions (one batch
 *    evaluation per chunk); their customers get a bit in `hasq`.
 * 2. One pass over the touch log: each (customer, message, channel, status)
 *    is counted once (a bitmap per status/message/channel that occurs, set
 *    per bucket of customer range, see flush_bucket — or, for the rows of a
 *    message the events layer vouches for, other than `sent`, a plain count),
 *    and the starting-status touches of customers with a bit in `hasq` are
 *    kept. This is the only pass over the big column set, and it is sequential.
 * 3. (walk.c) Both small sides are radix-sorted by customer and walked
 *    together; the model splits each qualifying transaction among its
 *    eligible touches; control customers are looked up.
 * Both inputs come in chunks, so the events layer's segment scans feed it
 * directly; eng_measure_campaign() feeds whole columns. */
#include "measure/measure_impl.h"
#include "base/handle.h"
#include "base/lower.h"

#include <stdlib.h>
#include <string.h>

typedef eng__cand cand;
typedef eng__attr run;

#define BIT(bm, c) (((bm)[(c) >> 6] >> ((c) & 63)) & 1u)

static unsigned msg_slow(const run *x, uint32_t id)
{
    if (!x->keys_are_ids)
        return 0;
    for (size_t i = 0; i < x->nmsg; i++)
        if (x->sp.messages[i] == id)
            return (unsigned)i + 1;
    return 0;
}

static int check_inputs(const eng_touch_columns *tc, const eng_txn_columns *xc, const eng_measure_spec *sp)
{
    if (!tc || !xc || !sp)
        return eng__err(ENG_EINVAL, !tc ? "touches" : !xc ? "txns" : "spec", "eng_measure_campaign: NULL argument");
    if (tc->version != 1 && tc->version != ENG_TOUCH_COLUMNS_VERSION)
        return eng__err(ENG_EVERSION, "touches.version", "unsupported eng_touch_columns version %u", tc->version);
    if (xc->version != ENG_TXN_COLUMNS_VERSION)
        return eng__err(ENG_EVERSION, "txns.version", "unsupported eng_txn_columns version %u", xc->version);
    if (sp->version != ENG_MEASURE_SPEC_VERSION)
        return eng__err(ENG_EVERSION, "spec.version", "unsupported eng_measure_spec version %u", sp->version);
    if (tc->n && (!tc->customer || !tc->message || !tc->channel || !tc->status || !tc->time))
        return eng__err(ENG_EINVAL, "touches", "a touch column is NULL");
    if (xc->n && (!xc->customer || !xc->time || !xc->amount))
        return eng__err(ENG_EINVAL, "txns", "a transaction column is NULL");
    if (xc->amount_scale < 0 || xc->amount_scale > ENG_RULE_MAX_SCALE)
        return eng__err(ENG_ERANGE, "txns.amount_scale", "amount scale %d is outside 0..9", xc->amount_scale);
    if (sp->n_messages > ENG__MEASURE_MAX_MESSAGES)
        return eng__err(ENG_ETOOBIG, "spec.messages", "at most %d messages per report", ENG__MEASURE_MAX_MESSAGES);
    if (sp->n_messages && !sp->messages)
        return eng__err(ENG_EINVAL, "spec.messages", "messages is NULL");
    if (sp->n_control && !sp->control)
        return eng__err(ENG_EINVAL, "spec.control", "control is NULL");
    if (sp->currency_places < 0 || sp->currency_places > 4)
        return eng__err(ENG_ERANGE, "spec.currency_places", "%d places is outside 0..4", sp->currency_places);
    if (sp->half_life < 0)
        return eng__err(ENG_ERANGE, "spec.half_life", "negative half-life");
    if (sp->has_goal) {
        const eng_goal_spec *g = sp->goal;
        if (!g)
            return eng__err(ENG_EINVAL, "spec.goal", "has_goal is set but goal is NULL");
        int rc = eng__sub_version(g, ENG_GOAL_SPEC_VERSION, "spec.goal", "eng_goal_spec");
        if (rc)
            return rc;
        if (g->window_days < 1 || g->window_days > 90)
            return eng__err(ENG_ERANGE, "spec.goal.window_days", "tracking period %u days is outside 1..90",
                            g->window_days);
        if (g->start_on < ENG_GOAL_ON_SENT || g->start_on > ENG_GOAL_ON_CLICKED)
            return eng__err(ENG_EINVAL, "spec.goal.start_on", "%d is not an eng_goal_start", g->start_on);
        if (g->attribution < ENG_ATTR_LAST_TOUCH || g->attribution > ENG_ATTR_POSITION)
            return eng__err(ENG_EINVAL, "spec.goal.attribution", "%d is not an eng_attribution", g->attribution);
    }
    for (size_t i = 0; i < sp->n_messages; i++)
        for (size_t j = 0; j < i; j++)
            if (sp->messages[i] == sp->messages[j])
                return eng__err(ENG_EINVAL, "spec.messages", "message %u is listed twice", sp->messages[i]);
    return ENG_OK;
}

static int report_new(run *x);
static void free_units(run *x);

int eng__attr_begin(eng_engine *e, const eng_measure_spec *sp, int amount_scale, run **out)
{
    *out = NULL;
    run *x = eng__calloc(&e->mem, 1, sizeof *x);
    if (!x)
        return eng__nomem();
    x->e = e;
    x->mem = &e->mem;
    x->sp = *sp;
    if (sp->has_goal) {
        x->goal = *sp->goal;
        x->sp.goal = &x->goal;
    } else {
        x->sp.goal = NULL;
    }
    x->nmsg = sp->n_messages;
    x->words = ((size_t)sp->n_customers + 63) / 64;
    x->window = sp->has_goal ? (eng_time)sp->goal->window_days * ENG_DAY : 0;
    x->hasq = eng__calloc(x->mem, x->words ? x->words : 1, sizeof *x->hasq);
    int rc = x->hasq ? report_new(x) : eng__nomem();
    if (!rc)
        rc = eng__attr_units(x, 0, NULL, NULL);
    if (!rc)
        rc = eng__kept_init(&x->kept, x->mem, sp->n_customers);
    if (rc) {
        eng__attr_free(x);
        return rc;
    }
    x->r->amount_scale = amount_scale;
    *out = x;
    return ENG_OK;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t p = *(const uint64_t *)a, q = *(const uint64_t *)b;
    return p < q ? -1 : p > q;
}

/* The slots' bitmaps and counts and the units' tables for nmsg + n units (the message
 * occurrence 0s keep their trust), ranked in (message, occurrence) order. */
int eng__attr_units(run *x, size_t n, const uint16_t *msg, const uint32_t *occ)
{
    if (x->touches_seen)
        return eng__err(ENG_EMISUSE, "touches", "units are set before the touches");
    const size_t nu = x->nmsg + n, n1 = nu ? nu : 1, old = x->nunit;
    if (nu > ENG__MEASURE_MAX_UNITS)
        return eng__err(ENG_ETOOBIG, "touches.occurrence",
                        "%zu sendings (message occurrences) in one report, at most %d", nu, ENG__MEASURE_MAX_UNITS);
    const size_t nslots = (size_t)ENG_TOUCH_STATUS_COUNT * n1 * ENG_MAX_CHANNELS;
    const eng__mem *mem = x->mem;
    uint64_t **bits = eng__calloc(mem, nslots, sizeof *bits), *cnt = eng__calloc(mem, nslots, sizeof *cnt);
    uint64_t *key = eng__malloc(mem, n1 * sizeof *key);
    uint16_t *um = eng__malloc(mem, n1 * sizeof *um), *ur = eng__malloc(mem, n1 * sizeof *ur);
    uint32_t *uo = eng__malloc(mem, n1 * sizeof *uo);
    uint8_t *tr = eng__calloc(mem, n1, 1);
    eng_time *sa = eng__malloc(mem, n1 * sizeof *sa);
    if (!bits || !cnt || !key || !um || !ur || !uo || !tr || !sa) {
        eng__free(mem, bits), eng__free(mem, cnt), eng__free(mem, key), eng__free(mem, um);
        eng__free(mem, ur), eng__free(mem, uo), eng__free(mem, tr), eng__free(mem, sa);
        return eng__nomem();
    }
    for (size_t u = 0; u < nu; u++) {
        um[u] = (uint16_t)(u < x->nmsg ? u : msg[u - x->nmsg]);
        uo[u] = u < x->nmsg ? 0 : occ[u - x->nmsg];
        sa[u] = INT64_MAX;
        key[u] = (uint64_t)um[u] << 48 | (uint64_t)uo[u] << 16 | u; /* the low bits: the unit */
    }
    qsort(key, nu, sizeof *key, cmp_u64);
    for (size_t k = 0; k < nu; k++)
        ur[key[k] & 0xffff] = (uint16_t)k;
    eng__free(mem, key);
    if (old)
        memcpy(tr, x->trust, x->nmsg);
    free_units(x);
    x->bits = bits, x->cnt = cnt, x->umsg = um, x->urank = ur, x->uocc = uo, x->trust = tr, x->sent_at = sa;
    x->nunit = nu;
    return ENG_OK;
}

int eng__attr_map(run *x, const uint16_t *map, size_t n)
{
    eng__free(x->mem, x->mtab);
    x->mtab = NULL;
    x->mtab_n = 0;
    x->keys_are_ids = 0;
    if (!n)
        return ENG_OK;
    x->mtab = eng__memdup(x->mem, map, n * sizeof *map);
    if (!x->mtab)
        return eng__nomem();
    x->mtab_n = n;
    return ENG_OK;
}

/* The table of the public path: message id -> index + 1, ids above 2^22 looked up. */
static int map_ids(run *x)
{
    uint32_t max = 0;
    for (size_t i = 0; i < x->nmsg; i++)
        if (x->sp.messages[i] > max)
            max = x->sp.messages[i];
    size_t n = x->nmsg ? (size_t)(max < (1u << 22) ? max : (1u << 22) - 1) + 1 : 0;
    uint16_t *t = eng__calloc(x->mem, n ? n : 1, sizeof *t);
    if (!t)
        return eng__nomem();
    for (size_t i = 0; i < x->nmsg; i++)
        if (x->sp.messages[i] < n)
            t[x->sp.messages[i]] = (uint16_t)(i + 1);
    int rc = eng__attr_map(x, t, n);
    eng__free(x->mem, t);
    x->keys_are_ids = 1;
    return rc;
}

int eng__attr_txns(run *x, size_t n, const uint32_t *cust, const eng_time *t, const int64_t *amount,
                   const uint64_t *sel)
{
    if (x->touches_seen)
        return eng__err(ENG_EMISUSE, "txns", "transactions must be fed before touches");
    uint32_t ncust = x->sp.n_customers;
    const eng_time end = x->sp.end, from = x->from, to = x->to;
    const int hit_rate = !x->sp.has_goal;
    /* Word by word through the selection: only the rows whose condition holds are read. */
    for (size_t w = 0; w < (n + 63) / 64; w++) {
        int rc;
        if (!(w * 64 & (eng__attr_beat_rows - 1)) && x->pg && (rc = eng__prog_batch(x->pg, x->pg_row + w * 64)))
            return rc;
        ENG__WORK(64);
        uint64_t bits = sel ? sel[w] : ~0ull;
        if (w == n / 64)
            bits &= (n % 64) ? (1ull << (n % 64)) - 1 : 0;
        while (bits) {
            size_t i = w * 64 + (size_t)__builtin_ctzll(bits);
            bits &= bits - 1;
            uint32_t c = cust[i];
            if (c >= ncust)
                return eng__err(ENG_EINVAL, "txns.customer", "row %zu: customer %u is not below n_customers %u", i, c,
                                ncust);
            if ((hit_rate && t[i] > end) || (to && (t[i] < from || t[i] > to)))
                continue;
            if (x->nq == x->capq) {
                if (eng__grow(x->mem, (void **)&x->qtx, &x->capq, x->nq + 1, sizeof *x->qtx))
                    return eng__nomem();
                eng__mem_hint_huge(x->mem, x->qtx, x->capq * sizeof *x->qtx);
            }
            eng__qtx *q = &x->qtx[x->nq++];
            q->t = t[i];
            q->amount = amount[i];
            q->cust = c;
            q->row = (uint32_t)i;
            x->hasq[c >> 6] |= 1ull << (c & 63);
        }
    }
    return ENG_OK;
}

/* The touch pass. Each row is read once, in order: it is mapped to its slot
 * (status, message, channel) and checked, and the earliest send is kept. A row
 * of a trusted message (eng__attr.trust) other than `sent` is counted; any
 * other row puts a key (slot, customer) into the bucket of the customer's range
 * (at most PART_MAX buckets). A full bucket (and every bucket at the end of the
 * call) sets its deduplication bits: the bitmap words one bucket touches are a
 * narrow range of each bitmap, so they stay in cache instead of each row
 * waiting on memory (at L the bitmaps are 1.25 MB each and there are dozens).
 * The buckets are flushed when full and once at the end of the pass
 * (eng__attr_flush), not at the end of each call: the events layer feeds a
 * segment a call, and a flush per segment would set the bits of a few keys per
 * bitmap line, every line of every bitmap a segment (at L, 5 MB a segment).
 * A starting-status touch is kept when its customer has a qualifying
 * transaction: `hasq` (1.25 MB at L) is read in the pass, prefetched 32 rows
 * ahead, which at M cost 10-25 ms less CPU than waiting in the buckets for it. */
enum { PART_MAX = ENG__ATTR_BUCKETS };
/* Keys buffered in all (the buckets in use share them; at most 32 MB), and buckets of 2^17
 * customers (16 KB of each bitmap) or wider so that there are at most
 * PART_MAX. Variables only so that the reference test can run tiny buckets. */
size_t eng__attr_part_rows = (size_t)1 << 22;
unsigned eng__attr_part_min_shift = 17;

static unsigned part_shift(uint32_t ncust)
{
    unsigned bits = 0;
    while (bits < 32 && ((uint64_t)1 << bits) < ncust)
        bits++;
    return bits > 6 + eng__attr_part_min_shift ? bits - 6 : eng__attr_part_min_shift;
}

/* Set a bucket's deduplication bits (a slot's count is its bitmap's population, eng__attr_tally). */
void eng__attr_flush_bucket(run *x, unsigned b)
{
    uint64_t *const *bits = x->bits;
    uint32_t n = x->bfill[b];
    enum { AHEAD = 16 };
    if (x->keys32) {
        const uint32_t *keys = x->keys32 + (size_t)b * x->bcap;
        const unsigned sh = x->shift;
        const uint32_t base = (uint32_t)b << sh, low = ((uint32_t)1 << sh) - 1;
        for (uint32_t j = 0; j < n; j++) {
            if (j + AHEAD < n) {
                uint32_t ka = keys[j + AHEAD];
                __builtin_prefetch(&bits[ka >> sh][(base | (ka & low)) >> 6], 1);
            }
            uint32_t k = keys[j], c = base | (k & low);
            bits[k >> sh][c >> 6] |= 1ull << (c & 63);
        }
        x->bfill[b] = 0;
        return;
    }
    const uint64_t *keys = x->keys + (size_t)b * x->bcap;
    for (uint32_t j = 0; j < n; j++) {
        if (j + AHEAD < n) {
            uint64_t ka = keys[j + AHEAD];
            __builtin_prefetch(&bits[ka >> 32][(uint32_t)ka >> 6], 1);
        }
        uint64_t k = keys[j];
        uint32_t c = (uint32_t)k;
        bits[k >> 32][c >> 6] |= 1ull << (c & 63);
    }
    x->bfill[b] = 0;
}

int eng__attr_keys_32 = 1;

int eng__attr_keys(run *x, size_t n)
{
    const uint32_t ncust = x->sp.n_customers;
    x->shift = part_shift(ncust);
    if (x->keys || x->keys32)
        return ENG_OK;
    /* 32-bit keys (slot, customer within the bucket) when every slot fits above the
     * customer's low bits (W7 at L: 400 slots, 9 bits, over 18): at L the keys go to
     * memory and back, so half the bytes, and twice the keys in the same buffer (each
     * bitmap line a flush touches set by twice the keys). */
    const size_t nslots = (size_t)ENG_TOUCH_STATUS_COUNT * x->nunit * ENG_MAX_CHANNELS;
    const int k32 = eng__attr_keys_32 && x->shift < 32 && nslots <= ((size_t)1 << (32 - x->shift));
    const size_t ksize = k32 ? sizeof *x->keys32 : sizeof *x->keys;
    /* The buckets in use share the buffer; no more of it than the first call's rows. */
    size_t nb = ncust ? (size_t)((ncust - 1) >> x->shift) + 1 : 1;
    size_t rows = x->feed_rows > n ? x->feed_rows : n;
    size_t total = rows > 4096 ? rows : 4096;
    if (total > eng__attr_part_rows * 8 / ksize)
        total = eng__attr_part_rows * 8 / ksize;
    /* About 16 keys per bitmap word of one slot (32 for 32-bit keys): with the couple of
     * dozen slots a campaign keys, several keys land in each bitmap line a flush touches,
     * and at 10^6 customers the buffer (2 MB) stays in the last-level cache
     * instead of going to memory and back (M: 139 -> 121 ms for the pass). */
    size_t enough = x->words * 128 / ksize > ((size_t)1 << 18) ? x->words * 128 / ksize : (size_t)1 << 18;
    if (total > enough)
        total = enough;
    x->bcap = total / nb ? total / nb : 1;
    void *buf = eng__malloc(x->mem, x->bcap * nb * ksize);
    if (!buf)
        return eng__nomem();
    eng__mem_hint_huge(x->mem, buf, x->bcap * nb * ksize);
    if (k32)
        x->keys32 = buf;
    else
        x->keys = buf;
    return ENG_OK;
}

int eng__attr_touches(run *x, size_t n, const uint32_t *cu, const uint32_t *ms, const uint8_t *chs,
                      const uint8_t *sts, const eng_time *ts)
{
    x->touches_seen = 1;
    const uint32_t ncust = x->sp.n_customers;
    const unsigned want = x->sp.has_goal ? (unsigned)x->sp.goal->start_on : ENG_TOUCH_SENT;
    const size_t nunit = x->nunit, mtab_n = x->mtab_n;
    const uint16_t *mtab = x->mtab;
    int rc = eng__attr_keys(x, n);
    if (rc)
        return rc;
    const unsigned shift = x->shift;
    const size_t bcap = x->bcap;
    uint64_t *keys = x->keys;
    uint32_t *keys32 = x->keys32;
    const uint32_t low = shift < 32 ? ((uint32_t)1 << shift) - 1 : UINT32_MAX;

    uint32_t *fill = x->bfill;
    uint64_t **bits = x->bits;
    uint64_t *cnt = x->cnt;
    const uint64_t *hasq = x->hasq;
    /* Locals: the key stores (uint64_t) may alias int64_t fields, which would be reloaded per
     * row; a report of a few hundred units (one-off messages) keeps its tables on the stack. */
    enum { LOCAL = ENG__MEASURE_MAX_MESSAGES };
    uint8_t trust_l[LOCAL];
    eng_time sent_l[LOCAL];
    const int local = nunit <= LOCAL;
    const uint8_t *trust = local ? memcpy(trust_l, x->trust, nunit) : x->trust;
    eng_time *sent = local ? memcpy(sent_l, x->sent_at, nunit * sizeof *sent) : x->sent_at;
    const int timed = x->to != 0;
    const eng_time from = x->from, to = x->to;
    for (size_t i = 0; i < n; i++) {
        if (!(i & (eng__attr_beat_rows - 1))) {
            ENG__WORK(n - i < eng__attr_beat_rows ? n - i : eng__attr_beat_rows);
            if (i && x->pg && (rc = eng__prog_batch(x->pg, x->pg_row + i)))
                break;
        }
        if (i + 32 < n && cu[i + 32] < ncust)
            __builtin_prefetch(&hasq[cu[i + 32] >> 6]);
        uint32_t id = ms[i];
        unsigned m = id < mtab_n ? mtab[id] : msg_slow(x, id);
        if (!m)
            continue;
        m--;
        eng_time t = ts[i];
        if (timed && (t < from || t > to))
            continue;
        uint32_t c = cu[i];
        unsigned st = sts[i], ch = chs[i];
        if (c >= ncust || st >= ENG_TOUCH_STATUS_COUNT || ch >= ENG_MAX_CHANNELS) {
            rc = eng__err(ENG_EINVAL, c >= ncust ? "touches.customer" : st >= ENG_TOUCH_STATUS_COUNT ? "touches.status" : "touches.channel",
                          "row %zu: customer %u, status %u, channel %u out of range", x->row0 + i, c, st, ch);
            break;
        }
        size_t slot = ((size_t)st * nunit + m) * ENG_MAX_CHANNELS + ch;
        unsigned b = c >> shift;
        int full = 0;
        if (trust[m] && st != ENG_TOUCH_SENT) { /* the only row of its (customer, slot) */
            cnt[slot]++;
        } else {
            if (!bits[slot] && !(bits[slot] = eng__calloc(x->mem, x->words, sizeof **bits))) {
                rc = eng__nomem();
                break;
            }
            if (keys32)
                keys32[b * bcap + fill[b]] = (uint32_t)slot << shift | (c & low);
            else
                keys[b * bcap + fill[b]] = (uint64_t)slot << 32 | c;
            full = ++fill[b] == bcap;
        }
        if (st == want && BIT(hasq, c) && (rc = eng__attr_keep(x, c, m, ch, t)) != ENG_OK)
            break;
        if (full)
            eng__attr_flush_bucket(x, b);
        if (st == ENG_TOUCH_SENT && t < sent[m])
            sent[m] = t;
    }
    if (local)
        memcpy(x->sent_at, sent, nunit * sizeof *sent);
    return rc;
}

int eng__attr_flush(run *x)
{
    int rc = ENG_OK;
    for (unsigned b = 0; b < PART_MAX; b++) {
        if (x->bfill[b])
            eng__attr_flush_bucket(x, b);
        if (!rc && x->pg && (b & 15) == 15)
            rc = eng__prog_batch(x->pg, x->pg->done); /* up to the whole key buffer waits here */
    }
    return rc;
}

static void report_drop(const eng__mem *mem, eng_report *r);

/* The slots' bitmaps and counts and the earliest sends. */
static void free_slots(run *x)
{
    if (x->bits)
        for (size_t i = 0; i < (size_t)ENG_TOUCH_STATUS_COUNT * x->nunit * ENG_MAX_CHANNELS; i++)
            eng__free(x->mem, x->bits[i]);
    eng__free(x->mem, x->bits);
    eng__free(x->mem, x->cnt);
    eng__free(x->mem, x->sent_at);
    x->bits = NULL, x->cnt = NULL, x->sent_at = NULL;
}

static void free_units(run *x)
{
    free_slots(x);
    eng__free(x->mem, x->umsg), eng__free(x->mem, x->urank), eng__free(x->mem, x->uocc);
    eng__free(x->mem, x->trust);
}

void eng__attr_free_pass(run *x)
{
    free_slots(x);
    eng__kept_free(&x->kept, x->mem);
    eng__free(x->mem, x->keys);
    eng__free(x->mem, x->keys32);
}

void eng__attr_free(run *x)
{
    if (!x)
        return;
    eng__attr_free_pass(x);
    free_units(x);
    eng__free(x->mem, x->mtab);
    eng__free(x->mem, x->hasq);
    eng__free(x->mem, x->qtx);
    report_drop(x->mem, x->r);
    eng__free(x->mem, x);
}

size_t eng__attr_beat_rows = 65536;

int eng__attr_beat(run *x, int chunk)
{
    if (!x->pg)
        return ENG_OK;
    return chunk ? eng__prog_batch(x->pg, x->pg->done) : eng__prog_step(x->pg, x->pg->done);
}

int eng__attr_finish(run *x, eng_report **out)
{
    *out = NULL;
    int rc = eng__attr_tally(x);
    if (!rc)
        rc = x->threads ? eng__attr_walk_split(x, x->threads) : eng__attr_walk(x);
    if (!rc)
        rc = eng__attr_control(x);
    if (!rc) /* a money figure past int64 is an error, never a wrapped number */
        rc = eng__report_range(x->r);
    if (!rc) {
        rc = eng__enter(x->e);
        if (!rc) {
            eng__engine_ref(x->e);
            eng__leave(x->e);
            x->r->e = x->e;
            *out = x->r;
            x->r = NULL;
        }
    }
    eng__attr_free(x);
    return rc;
}

ENG_API int eng_measure_spec_init(eng_measure_spec *s, unsigned int version)
{
    static const eng_measure_spec init = ENG_MEASURE_SPEC_INIT; /* padding included: init == INIT byte for byte */
    return eng__struct_init(s, &init, ENG__SIZES(sizeof init), version, "eng_measure_spec");
}

static int report_new(run *x)
{
    eng_report *r = eng__handle_new(x->mem, sizeof *r, ENG__H_REPORT);
    if (!r)
        return eng__nomem();
    x->r = r;
    r->magic = ENG__REPORT_MAGIC;
    r->nmsg = x->nmsg;
    r->places = x->sp.currency_places;
        r->responder_def = x->sp.has_goal ? ENG_RESPONDER_GOAL : ENG_RESPONDER_HIT_RATE;
    r->msg = eng__calloc(x->mem, x->nmsg ? x->nmsg : 1, sizeof *r->msg);
    r->msg_ids = eng__malloc(x->mem, (x->nmsg ? x->nmsg : 1) * sizeof *r->msg_ids);
    if (!r->msg || !r->msg_ids)
        return eng__nomem();
    if (x->nmsg)
        memcpy(r->msg_ids, x->sp.messages, x->nmsg * sizeof *r->msg_ids);
    return ENG_OK;
}

static void report_drop(const eng__mem *mem, eng_report *r)
{
    if (!r)
        return;
    eng__free(mem, r->msg);
    eng__free(mem, r->msg_ids);
    r->magic = 0;
    eng__handle_free(mem, r);
}

/* The goal condition over the whole transaction batch: the selection bitmap, or NULL for all rows. */
/* The goal condition compiled over the transaction fields (NULL: no condition, every row). */
static int goal_rule(eng_engine *e, const eng_txn_columns *xc, const eng_measure_spec *sp, eng_rule **out)
{
    *out = NULL;
    if (!sp->has_goal || !sp->goal->condition || !sp->goal->condition[0])
        return ENG_OK;
    eng_rule_options o;
    eng_rule_options_init(&o, ENG_RULE_OPTIONS_VERSION);
    o.fields = xc->fields;
    o.nfields = xc->nfields;
    int rc = eng_rule_compile(e, sp->goal->condition, &o, out);
    return rc ? eng__err_wrap(rc, "goal condition") : ENG_OK;
}

/* The rows of xc whose condition holds, as a bitmap (NULL: every row). */
static int select_with(eng_engine *e, eng_rule *rule, const eng_txn_columns *xc, uint64_t **sel)
{
    *sel = NULL;
    if (!rule)
        return ENG_OK;
    size_t nw = (xc->n + 63) / 64;
    uint64_t *s = eng__calloc(&e->mem, nw ? nw : 1, sizeof *s);
    if (!s)
        return eng__nomem();
    eng_rule_batch b = {ENG_RULE_BATCH_VERSION, xc->n, xc->columns, xc->nfields, NULL};
    int rc = xc->n ? eng_rule_eval_batch(rule, &b, NULL, s, NULL) : ENG_OK;
    if (rc) {
        eng__free(&e->mem, s);
        return eng__err_wrap(rc, "goal condition");
    }
    *sel = s;
    return ENG_OK;
}

static int select_rows(eng_engine *e, const eng_txn_columns *xc, const eng_measure_spec *sp, uint64_t **sel)
{
    eng_rule *rule = NULL;
    int rc = goal_rule(e, xc, sp, &rule);
    if (!rc)
        rc = select_with(e, rule, xc, sel);
    eng_rule_free(rule);
    return rc;
}

int eng__attr_txn_copy(run *r, const run *x)
{
    *r = *x;
    r->qtx = NULL;
    r->nq = r->capq = 0;
    r->pg = NULL;
    r->hasq = eng__calloc(x->mem, x->words ? x->words : 1, sizeof *r->hasq);
    return r->hasq ? ENG_OK : eng__nomem();
}

int eng__attr_txn_fold(run *x, run *r)
{
    if (x->nq + r->nq > x->capq) {
        if (eng__grow(x->mem, (void **)&x->qtx, &x->capq, x->nq + r->nq, sizeof *x->qtx))
            return eng__nomem();
        eng__mem_hint_huge(x->mem, x->qtx, x->capq * sizeof *x->qtx);
    }
    if (r->nq)
        memcpy(x->qtx + x->nq, r->qtx, r->nq * sizeof *r->qtx);
    x->nq += r->nq;
    for (size_t w = 0; w < x->words; w++)
        x->hasq[w] |= r->hasq[w];
    ENG__WORK(r->nq + x->words);
    return ENG_OK;
}

void eng__attr_txn_free(run *r)
{
    eng__free(r->mem, r->qtx);
    eng__free(r->mem, r->hasq);
}

int eng__attr_txn_chunk(eng__attr *x, const eng_txn_columns *chunk)
{
    uint64_t *sel = NULL;
    int rc = select_with(x->e, x->goal_rule, chunk, &sel);
    if (!rc)
        rc = eng__attr_txns(x, chunk->n, chunk->customer, chunk->time, chunk->amount, sel);
    eng__free(x->mem, sel);
    return rc;
}

ENG_API int eng_measure_campaign(eng_engine *engine, const eng_touch_columns *touches, const eng_txn_columns *txns,
                                 const eng_measure_spec *spec, eng_report **out)
{
    if (out)
        *out = NULL;
    int rc = eng__engine_hold(engine); /* no lock: measures run on several threads at once */
    if (rc)
        return rc;
    if (!out)
        rc = eng__err(ENG_EINVAL, "out", "eng_measure_campaign: out is NULL");
    else
        rc = eng__measure_columns(engine, touches, eng__touch_occ(touches), txns, spec, 0, 0, 1, NULL, 0, out);
    eng__engine_unhold(engine);
    return rc;
}

/* The touch rows [0, n) on this thread, in slices when a caller watches the progress. */
typedef struct feed_ctx {
    const eng_touch_columns *tc;
    size_t ntx;
    eng__prog *p;
    int watched;
} feed_ctx;

static int feed(run *x, size_t n, void *user)
{
    const feed_ctx *f = user;
    const eng_touch_columns *tc = f->tc;
    /* Slices only for a progress callback, and no smaller than the touch pass's
     * key buffer (it is sized to the first call's rows). */
    size_t slice = f->p && f->watched ? eng__attr_part_rows : n;
    if (!slice)
        slice = 1;
    int rc = ENG_OK;
    for (size_t at = 0; !rc && (at == 0 || at < n); at += slice) {
        size_t k = n - at < slice ? n - at : slice;
        x->row0 = at;
        x->pg_row = f->ntx + at;
        rc = eng__attr_touches(x, k, tc->customer + at, tc->message + at, tc->channel + at, tc->status + at,
                               tc->time + at);
        if (!rc && f->p)
            rc = eng__prog_batch(f->p, f->ntx + at + k);
    }
    return rc;
}

/* Occurrences past 0 in @p occ: each (message, occurrence) of them a unit of the run, and
 * *ukey the rows' keys as units (UINT32_MAX: not the run's), mapped by an identity table.
 * None: *ukey NULL, the message ids stay the keys. */
static int occ_units(run *x, const eng_touch_columns *tc, const uint32_t *occ, uint32_t **ukey)
{
    *ukey = NULL;
    const uint32_t *id = tc->message;
    size_t k = 0;
    for (size_t i = 0; i < tc->n; i++)
        k += occ[i] && (id[i] < x->mtab_n ? x->mtab[id[i]] : msg_slow(x, id[i]));
    if (!k)
        return ENG_OK;
    const eng__mem *mem = x->mem;
    uint64_t *v = eng__malloc(mem, k * sizeof *v);
    if (!v)
        return eng__nomem();
    k = 0;
    for (size_t i = 0; i < tc->n; i++) {
        unsigned m = occ[i] ? id[i] < x->mtab_n ? x->mtab[id[i]] : msg_slow(x, id[i]) : 0;
        if (m)
            v[k++] = (uint64_t)(m - 1) << 32 | occ[i];
    }
    qsort(v, k, sizeof *v, cmp_u64);
    size_t nu = 0;
    for (size_t i = 0; i < k; i++)
        if (!nu || v[nu - 1] != v[i])
            v[nu++] = v[i];
    uint16_t *um = NULL, *map = NULL;
    uint32_t *uo = NULL;
    um = eng__malloc(mem, nu * sizeof *um), uo = eng__malloc(mem, nu * sizeof *uo);
    map = eng__malloc(mem, (x->nmsg + nu) * sizeof *map);
    *ukey = eng__malloc(mem, tc->n * sizeof **ukey);
    int rc = um && uo && map && *ukey ? ENG_OK : eng__nomem();
    for (size_t u = 0; !rc && u < nu; u++)
        um[u] = (uint16_t)(v[u] >> 32), uo[u] = (uint32_t)v[u];
    for (size_t u = 0; !rc && u < x->nmsg + nu; u++)
        map[u] = (uint16_t)(u + 1);
    for (size_t i = 0; !rc && i < tc->n; i++) {
        unsigned m = id[i] < x->mtab_n ? x->mtab[id[i]] : msg_slow(x, id[i]);
        uint32_t u = m ? m - 1 : UINT32_MAX;
        if (m && occ[i]) { /* its place among the sorted units */
            const uint64_t want = (uint64_t)(m - 1) << 32 | occ[i];
            u = (uint32_t)(x->nmsg + eng__lower_u64(v, nu, want));
        }
        (*ukey)[i] = u;
    }
    if (!rc)
        rc = eng__attr_units(x, nu, um, uo);
    if (!rc)
        rc = eng__attr_map(x, map, x->nmsg + nu);
    eng__free(mem, v), eng__free(mem, um), eng__free(mem, uo), eng__free(mem, map);
    if (rc) {
        eng__free(mem, *ukey);
        *ukey = NULL;
    }
    return rc;
}

/* Touches from columns (@p touches, their occurrences @p occ or NULL: all 0), or from @p fn
 * when it is not NULL. */
static int measure(eng_engine *engine, const eng_touch_columns *touches, const uint32_t *occ,
                   const eng_txn_columns *txns, const eng_measure_spec *spec, eng_time from, eng_time to,
                   int progress, const uint8_t *trust, unsigned threads, eng__attr_feed_fn fn, void *fn_user,
                   size_t fn_rows, eng__attr_feed_fn txn_fn, eng_report **out)
{
    int rc = check_inputs(touches, txns, spec);
    if (rc)
        return rc;
    uint64_t *sel = NULL;
    eng_rule *rule = NULL;
    rc = txn_fn ? goal_rule(engine, txns, spec, &rule) : select_rows(engine, txns, spec, &sel);
    if (rc)
        return rc;
    /* Progress: rows fed (transactions, then touches in slices); building the report is the last step. */
    run *x = NULL;
    eng__prog pg = {NULL, NULL, 0, 0, 0, 0}, *p = progress ? &pg : NULL;
    if (p)
        rc = eng__prog_start(p, engine, "measure.attribute", (uint64_t)txns->n + touches->n + fn_rows);
    if (!rc)
        rc = eng__attr_begin(engine, spec, txns->amount_scale, &x);
    if (!rc) {
        x->from = from;
        x->to = to;
        x->pg = p && engine->progress_fn ? p : NULL;
        x->threads = threads < engine->threads ? threads : engine->threads;
        if (trust && x->nmsg)
            memcpy(x->trust, trust, x->nmsg);
        rc = map_ids(x);
    }
    eng_touch_columns tu = *touches; /* keyed by unit when there are occurrences past 0 */
    uint32_t *ukey = NULL;
    if (!rc && occ && !fn && !(rc = occ_units(x, touches, occ, &ukey)) && ukey)
        tu.message = ukey;
    if (!rc && txn_fn) {
        x->goal_rule = rule;
        rc = txn_fn(x, fn_user);
        x->goal_rule = NULL;
    } else if (!rc) {
        rc = eng__attr_txns(x, txns->n, txns->customer, txns->time, txns->amount, sel);
    }
    eng_rule_free(rule);
    eng__free(&engine->mem, sel);
    if (!rc && p)
        rc = eng__prog_batch(p, txns->n);
    feed_ctx fc = {&tu, txns->n, p, engine->progress_fn != NULL};
    if (!rc && fn)
        rc = fn(x, fn_user);
    else if (!rc)
        rc = x->threads ? eng__attr_touches_split(x, x->threads, tu.n, tu.customer, tu.message, tu.channel,
                                                  tu.status, tu.time, feed, &fc)
                        : feed(x, tu.n, &fc);
    eng__free(&engine->mem, ukey);
    if (!rc && p)
        rc = eng__prog_batch(p, txns->n + touches->n);
    if (rc) {
        eng__attr_free(x);
        return rc;
    }
    if ((rc = eng__attr_finish(x, out)) == ENG_OK && p && (rc = eng__prog_end(p))) {
        eng_report_free(*out);
        *out = NULL;
    }
    return rc;
}

int eng__measure_columns(eng_engine *engine, const eng_touch_columns *touches, const uint32_t *occ,
                         const eng_txn_columns *txns, const eng_measure_spec *spec, eng_time from, eng_time to,
                         int progress, const uint8_t *trust, unsigned threads, eng_report **out)
{
    return measure(engine, touches, occ, txns, spec, from, to, progress, trust, threads, NULL, NULL, 0, NULL, out);
}

int eng__measure_feed(eng_engine *engine, const eng_txn_columns *txns, const eng_measure_spec *spec, int progress,
                      const uint8_t *trust, unsigned threads, eng__attr_feed_fn fn, void *user, size_t rows,
                      eng__attr_feed_fn txn_fn, eng_report **out)
{
    const eng_touch_columns none = ENG_TOUCH_COLUMNS_INIT;
    return measure(engine, &none, NULL, txns, spec, 0, 0, progress, trust, threads, fn, user, rows, txn_fn, out);
}

ENG_API void eng_report_free(eng_report *r)
{
    if (!eng__handle_live(r, ENG__H_REPORT))
        return;
    eng_engine *e = r->e;
    report_drop(&e->mem, r);
    /* Not through eng__enter: a free leaves the error record alone, and a closed
     * engine waiting for its last child must still be released. */
    eng__engine_unref(e);
}
