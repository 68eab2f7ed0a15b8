/* Receipts for the events tests that script batches (test_tblock.c, test_tref.c): campaign 1's
 * email sends of customers [lo, hi), each status at a time of its own. Include after ev_fixture.h. */
#ifndef EV_RCPTS_H
#define EV_RCPTS_H

static inline eng_time rtime(uint32_t c, int st)
{
    return 100000 + (eng_time)c * 8 + st;
}

/* Receipts of status st for customers [lo, hi), in ascending order (so their rows
 * enter the tail in the order given: a batch's rows go in send order). */
static inline void rcpts(evfx *f, uint32_t lo, uint32_t hi, int st)
{
    size_t n = hi - lo;
    char (*keys)[64] = malloc(n * 64);
    const char **kp = malloc(n * sizeof *kp);
    int *sts = malloc(n * sizeof *sts);
    eng_time *ts = malloc(n * sizeof *ts);
    for (size_t i = 0; i < n; i++) {
        evfx_key(keys[i], 64, 1, 0, lo + (uint32_t)i, ENG_CH_EMAIL);
        kp[i] = keys[i];
        sts[i] = st;
        ts[i] = rtime(lo + (uint32_t)i, st);
    }
    eng_receipts r = evfx_receipts(n, kp, sts, ts, NULL);
    eng_event_report rep = ENG_EVENT_REPORT_INIT;
    assert_int_equal(eng_touch_append(f->e, &r, &rep), ENG_OK);
    assert_int_equal(rep.accepted, n);
    free(keys);
    free(kp);
    free(sts);
    free(ts);
}

#endif
