/* The ledger chunk's X-Engage fields: an explored choice's propensity is
 * stored exactly as logged (chunk schema 2) and read back bit for bit; a
 * schema 1 chunk (written before the propensity was stored) reads back with
 * the uniform bucket's 1 / reachable; a stored propensity outside (0, 1] or
 * cut short is ENG_ECORRUPT naming the chunk, and a newer schema ENG_EVERSION. */
#include <math.h>
#include <string.h>

#include "dispatch_fixture.h"
#include "dispatch/dispatch_impl.h"
#include "base/codec.h"
#include "store/record.h"

#define MSG 0x7e57u

/* Customers 10 (explored: 3 reachable, channel 1 at 0.3), 11 (scored, 2 reachable), 12 (priority). */
static void three(eng__chunk *c, eng__lcust *k, eng__lsend *s)
{
    memset(c, 0, sizeof *c);
    memset(k, 0, 3 * sizeof *k);
    k[0] = (eng__lcust){10, 1u << 1, -1, ENG__RULE_XENGAGE, (uint8_t)(1u | 3u << 2), 0, 0x7u, 0.3f};
    k[1] = (eng__lcust){11, 1u << 0, -1, ENG__RULE_XENGAGE, (uint8_t)(2u << 2), 0, 0x3u, 0};
    k[2] = (eng__lcust){12, 1u << 2, -1, ENG__RULE_PRIORITY, 0, 0, 0, 0};
    s[0] = (eng__lsend){0, 1, ENG_LEDGER_PENDING, 0, 0, 0};
    c->ncust = 3, c->cust = k, c->nsend = 1, c->send = s;
}

typedef struct fx { /* an engine and the chunk of three() */
    dx f;
    eng__chunk c;
    eng__lcust k[3];
    eng__lsend s[1];
} fx;

static void setup(fx *x)
{
    dx_world(&x->f, 40, 16, 1, 1);
    three(&x->c, x->k, x->s);
}

/* The payload of schema 1: as eng__chunk_store wrote it before schema 2 (no propensity). */
static void schema1(eng__wr *w, const eng__chunk *c)
{
    uint32_t prev = 0;
    eng__wr_uvar(w, c->ncust);
    for (uint32_t i = 0; i < c->ncust; i++) {
        const eng__lcust *k = &c->cust[i];
        eng__wr_uvar(w, k->id - prev);
        prev = k->id;
        eng__wr_uvar(w, k->planned);
        eng__wr_u8(w, k->rule);
        eng__wr_u8(w, k->detail);
        eng__wr_uvar(w, (uint64_t)(k->variant + 1));
        eng__wr_u8(w, k->unreach);
        if (k->rule == ENG__RULE_XENGAGE)
            eng__wr_uvar(w, k->reach);
    }
    eng__wr_uvar(w, c->nsend);
    eng__wr_uvar(w, c->send[0].cust);
    eng__wr_u8(w, c->send[0].ch);
    eng__wr_u8(w, c->send[0].state);
}

static void exact_roundtrip(void **state)
{
    (void)state;
    fx x;
    setup(&x);
    dx *f = &x.f;
    eng__chunk back;
    x.k[0].prop = 0.1234567f; /* not 1 / anything */
    assert_int_equal(eng__chunk_store(f->e, MSG, 0, &x.c), ENG_OK);
    assert_int_equal(eng__chunk_load(f->e, MSG, 0, 0, &back), ENG_OK);
    assert_int_equal(back.ncust, 3);
    assert_true(back.cust[0].prop == 0.1234567f);
    assert_int_equal(back.cust[0].reach, 0x7u);
    assert_true(back.cust[1].prop == 0); /* scored, not explored: none stored */
    assert_int_equal(back.cust[2].id, 12);
    assert_int_equal(back.nsend, 1);
    eng__chunk_free(&back);
    dx_close(f);
}

static void old_schema_reads_back(void **state)
{
    (void)state;
    fx x;
    setup(&x);
    dx *f = &x.f;
    eng__chunk back;
    eng__wr w;
    eng__wr_init(&w, &f->e->mem);
    schema1(&w, &x.c);
    char key[64];
    eng__chunk_key(key, sizeof key, MSG, 0, 0);
    assert_int_equal(eng__rec_put_wr(f->e->store, ENG__K(key), ENG__REC_DSP_CHUNK, 1, &w), ENG_OK);
    assert_int_equal(eng__chunk_load(f->e, MSG, 0, 0, &back), ENG_OK);
    assert_true(back.cust[0].prop == 1.0f / 3); /* the uniform bucket's, from the reachable count */
    assert_true(back.cust[1].prop == 0);
    assert_int_equal(back.cust[1].reach, 0x3u);
    assert_int_equal(back.send[0].ch, 1);
    /* stored again, it is schema 2 with that propensity */
    assert_int_equal(eng__chunk_store(f->e, MSG, 0, &back), ENG_OK);
    eng__chunk_free(&back);
    eng__rec rec;
    assert_int_equal(eng__rec_get(f->e->store, ENG__K(key), ENG__REC_DSP_CHUNK, ENG__DSP_CHUNK_SCHEMA, &rec), ENG_OK);
    assert_int_equal(rec.schema, 2);
    eng__rec_free(f->e->store, &rec);
    assert_int_equal(eng__chunk_load(f->e, MSG, 0, 0, &back), ENG_OK);
    assert_true(back.cust[0].prop == 1.0f / 3);
    eng__chunk_free(&back);
    dx_close(f);
}

/* Chunk 0 stored with customer 10's propensity @p p (its raw bits), or cut after @p cut bytes of it. */
static int load_with(dx *f, uint32_t bits, size_t cut, uint16_t schema)
{
    eng__chunk c, back;
    eng__lcust k[3];
    eng__lsend s[1];
    three(&c, k, s);
    memcpy(&k[0].prop, &bits, sizeof bits);
    eng__wr w;
    eng__wr_init(&w, &f->e->mem);
    eng__wr_uvar(&w, 1); /* customer 10 alone, no sends */
    eng__wr_uvar(&w, k[0].id);
    eng__wr_uvar(&w, k[0].planned);
    eng__wr_u8(&w, k[0].rule);
    eng__wr_u8(&w, k[0].detail);
    eng__wr_uvar(&w, 0);
    eng__wr_u8(&w, 0);
    eng__wr_uvar(&w, k[0].reach);
    eng__wr_u32(&w, bits);
    w.len -= cut;
    if (!cut)
        eng__wr_uvar(&w, 0);
    char key[64];
    eng__chunk_key(key, sizeof key, MSG, 0, 0);
    assert_int_equal(eng__rec_put_wr(f->e->store, ENG__K(key), ENG__REC_DSP_CHUNK, schema, &w), ENG_OK);
    int rc = eng__chunk_load(f->e, MSG, 0, 0, &back);
    if (rc == ENG_OK) {
        assert_int_equal(back.ncust, 1);
        eng__chunk_free(&back);
    } else {
        assert_non_null(strstr(eng_error_last()->detail, key));
    }
    return rc;
}

static void corrupt_propensity(void **state)
{
    (void)state;
    dx f;
    dx_world(&f, 40, 16, 1, 1);
    float ok = 0.25f, one = 1.0f, zero = 0.0f, big = 1.5f, neg = -0.25f, nan = NAN;
    uint32_t b;
    memcpy(&b, &ok, 4);
    assert_int_equal(load_with(&f, b, 0, 2), ENG_OK);
    memcpy(&b, &one, 4);
    assert_int_equal(load_with(&f, b, 0, 2), ENG_OK);
    const float bad[] = {zero, big, neg, nan};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        memcpy(&b, &bad[i], 4);
        assert_int_equal(load_with(&f, b, 0, 2), ENG_ECORRUPT);
    }
    memcpy(&b, &ok, 4);
    assert_int_equal(load_with(&f, b, 2, 2), ENG_ECORRUPT); /* cut inside the propensity */
    assert_int_equal(load_with(&f, b, 0, 1), ENG_ECORRUPT); /* schema 1 has no propensity: 5 bytes left over */
    assert_int_equal(load_with(&f, b, 0, 3), ENG_EVERSION); /* newer than this library */
    dx_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(exact_roundtrip),
        cmocka_unit_test(old_schema_reads_back),
        cmocka_unit_test(corrupt_propensity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
