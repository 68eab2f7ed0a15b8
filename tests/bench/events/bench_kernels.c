/* The vector kernels of the touch ingest, alone, at every instruction-set level the
 * CPU has (eng__isa_force): the idempotency-key hash (ns a key, 65,536 keys of W6's
 * form "acme/c<campaign>/m<message>.1000/o0/u<customer>/<channel>") and the column
 * packers of a touch segment and their decoding (ns a row, columns of the widths W6's
 * segments have).
 * Thread CPU time, best of 9 runs; the values are checked equal across levels, so a
 * level that is fast but wrong shows here too. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hash.h"
#include "base/simd.h"
#include "events/colpack.h"
#include "bench_util.h"

#define NKEYS 65536
#define NROWS 65536
#define REPS 9

static uint64_t rnd(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static char *keybuf;
static const void *keys[NKEYS];
static size_t lens[NKEYS];
static uint64_t hout[NKEYS], href[NKEYS];

static void make_keys(void)
{
    static const char *ch[] = {"email", "sms", "push", "whatsapp"};
    keybuf = malloc((size_t)NKEYS * 64);
    uint64_t x = 7;
    for (size_t i = 0; i < NKEYS; i++) {
        char *k = keybuf + i * 64;
        int n = snprintf(k, 64, "acme/c%u/m%u.1000/o0/u%u/%s", 1 + (unsigned)(i / 20000), 10 + (unsigned)(i / 20000),
                         (unsigned)(rnd(&x) % 4000000), ch[rnd(&x) % 4]);
        keys[i] = k, lens[i] = (size_t)n;
    }
}

/* ns a key of one way of hashing all the keys */
static double time_hash(int way)
{
    double best = 1e9;
    for (int r = 0; r < REPS; r++) {
        double t0 = bench_thread_cpu_s();
        if (way == 0) {
            for (size_t i = 0; i < NKEYS; i++)
                hout[i] = eng__hash64(keys[i], lens[i], 0x6b657973);
        } else if (way == 1) {
            for (size_t i = 0; i < NKEYS; i += 4)
                eng__hash64_x4(keys + i, lens + i, 0x6b657973, hout + i);
        } else {
            for (size_t i = 0; i < NKEYS; i += 32) /* as keypar.c calls it */
                eng__hash64_n(keys + i, lens + i, 32, 0x6b657973, hout + i);
        }
        double t = bench_thread_cpu_s() - t0;
        best = t < best ? t : best;
    }
    if (way == 0)
        memcpy(href, hout, sizeof href);
    else if (memcmp(href, hout, sizeof href)) {
        fprintf(stderr, "kernels: hash way %d at %s differs\n", way, eng__isa_name(eng__isa()));
        exit(1);
    }
    return best * 1e9 / NKEYS;
}

/* A touch segment's columns as W6 fills them (a wave's times a few seconds apart,
 * customers of a range of 4 M, a few contexts, 4 channels, 8 statuses, dense send
 * ids, details mostly 0, `first` flags). */
static int64_t *c_time;
static uint32_t *c_cust, *c_ctx, *c_send, *c_detail;
static uint8_t *c_chan, *c_status, *c_first;

static void make_cols(void)
{
    uint64_t x = 11;
    c_time = malloc(NROWS * sizeof *c_time);
    c_cust = malloc(NROWS * 4), c_ctx = malloc(NROWS * 4), c_send = malloc(NROWS * 4), c_detail = malloc(NROWS * 4);
    c_chan = malloc(NROWS), c_status = malloc(NROWS), c_first = malloc(NROWS);
    for (size_t i = 0; i < NROWS; i++) {
        c_time[i] = 1780000000000 + (int64_t)(rnd(&x) % 86400000);
        c_cust[i] = (uint32_t)(rnd(&x) % 4000000);
        c_ctx[i] = 3 + (uint32_t)(rnd(&x) % 5);
        c_send[i] = 1000000 + (uint32_t)(rnd(&x) % 1000000);
        c_detail[i] = rnd(&x) % 50 ? 0 : (uint32_t)(rnd(&x) % 4);
        c_chan[i] = (uint8_t)(rnd(&x) % 4);
        c_status[i] = (uint8_t)(rnd(&x) % 8);
        c_first[i] = (uint8_t)(rnd(&x) % 2);
    }
}

static void pack_all(eng__wr *w)
{
    eng__pack_i64(w, c_time, NROWS);
    eng__pack_u32(w, c_cust, NROWS);
    eng__pack_u32(w, c_ctx, NROWS);
    eng__pack_u8(w, c_chan, NROWS);
    eng__pack_u8(w, c_status, NROWS);
    eng__pack_u32(w, c_send, NROWS);
    eng__pack_u32(w, c_detail, NROWS);
    eng__pack_u8(w, c_first, NROWS);
}

static uint8_t *pref;
static size_t preflen;

/* ns a row (all eight columns) */
static double time_pack(eng__mem *mem)
{
    double best = 1e9;
    eng__wr w;
    eng__wr_init(&w, mem);
    for (int r = 0; r < REPS; r++) {
        w.len = 0;
        double t0 = bench_thread_cpu_s();
        for (int k = 0; k < 8; k++) {
            w.len = 0;
            pack_all(&w);
        }
        double t = (bench_thread_cpu_s() - t0) / 8;
        best = t < best ? t : best;
    }
    if (!pref) {
        pref = malloc(w.len), preflen = w.len;
        memcpy(pref, w.data, w.len);
    } else if (w.len != preflen || memcmp(w.data, pref, preflen)) {
        fprintf(stderr, "kernels: packed bytes at %s differ\n", eng__isa_name(eng__isa()));
        exit(1);
    }
    eng__wr_free(&w);
    return best * 1e9 / NROWS;
}

/* ns a row to decode the eight columns packed by pack_all (as a reopen decodes a segment) */
static double time_unpack(void)
{
    static int64_t t[NROWS];
    static uint32_t u[NROWS];
    static uint8_t b[NROWS];
    double best = 1e9;
    for (int r = 0; r < REPS; r++) {
        eng__rd rd;
        eng__rd_init(&rd, pref, preflen);
        double t0 = bench_thread_cpu_s();
        eng__unpack_i64(&rd, t, NROWS);
        eng__unpack_u32(&rd, u, NROWS);
        eng__unpack_u32(&rd, u, NROWS);
        eng__unpack_u8(&rd, b, NROWS);
        eng__unpack_u8(&rd, b, NROWS);
        eng__unpack_u32(&rd, u, NROWS);
        eng__unpack_u32(&rd, u, NROWS);
        eng__unpack_u8(&rd, b, NROWS);
        double e = bench_thread_cpu_s() - t0;
        best = e < best ? e : best;
        if (!eng__rd_ok(&rd) || eng__rd_left(&rd) || memcmp(t, c_time, sizeof t) || memcmp(b, c_first, NROWS)) {
            fprintf(stderr, "kernels: decoded columns at %s differ\n", eng__isa_name(eng__isa()));
            exit(1);
        }
    }
    return best * 1e9 / NROWS;
}

int main(void)
{
    make_keys();
    make_cols();
    eng__mem mem;
    if (eng__mem_init(&mem, NULL))
        return 1;
    printf("kernels: cpu detected %s\n", eng__isa_name(eng__isa_detected()));
    for (int level = ENG__ISA_SCALAR; level <= ENG__ISA_AVX512; level++) {
        if (eng__isa_force(level) != level)
            continue;
        double one = time_hash(0), four = time_hash(1), many = time_hash(2);
        printf("kernels: %-6s key hash ns/key: one at a time %.2f, x4 %.2f, eng__hash64_n %.2f\n",
               eng__isa_name(level), one, four, many);
    }
    for (int level = ENG__ISA_SCALAR; level <= ENG__ISA_AVX512; level++) {
        if (eng__isa_force(level) != level)
            continue;
        const double t = time_pack(&mem);
        printf("kernels: %-6s packers ns/row (8 columns of a touch segment, %zu B): %.2f; decoding them %.2f\n",
               eng__isa_name(level), preflen, t, time_unpack());
    }
    eng__isa_force(-1);
    free(keybuf);
    return 0;
}
