/* Opting customers out of a channel from inside another layer's storage
 * batch (the events layer does it for unsubscribe and complaint receipts).
 * The change is an ordinary import delta (one OPTOUT column per channel), so
 * the replay at load and compaction treat it like any other; one part per
 * channel and source, each with its origin record (chist.c), so the consent
 * history can tell an unsubscribe from a complaint. */
#include "audience/audience_impl.h"
#include "base/codec.h"

#include <stdio.h>
#include <string.h>

#define DELTA_V 1

static int take(const eng__table *t, const uint32_t *ids, const uint8_t *channels, const uint8_t *sources, size_t i,
                int ch, int src)
{
    return channels[i] == ch && sources[i] == src && !eng__table_erased(t, ids[i]); /* erased: nothing left to opt out */
}

int eng__aud_optout(eng_engine *e, const char *org, const uint32_t *ids, const uint8_t *channels,
                    const uint8_t *sources, const eng_time *ts, size_t n)
{
    if (n == 0)
        return ENG_OK;
    eng__aud *a;
    int rc = eng__aud_get(e, org, &a);
    if (rc)
        return rc;
    eng__table *t = &a->t;
    for (size_t i = 0; i < n; i++)
        if (ids[i] >= t->n)
            return eng__err(ENG_ENOTFOUND, "customer", "no customer %u", ids[i]);
    uint32_t part = 0;
    eng_time now = eng__now(e);
    for (int ch = 0; ch < ENG_CH_COUNT && !rc; ch++) {
        for (int src = ENG_CONSENT_SOURCE_UNSUBSCRIBE; src <= ENG_CONSENT_SOURCE_COMPLAINT && !rc; src++) {
            size_t rows = 0;
            for (size_t i = 0; i < n; i++)
                rows += (size_t)take(t, ids, channels, sources, i, ch, src);
            if (!rows)
                continue;
            eng__wr w;
            eng__wr_init(&w, &e->mem);
            eng__wr_uvar(&w, 1);
            eng__wr_u8(&w, ENG__DK_OPTOUT);
            eng__wr_uvar(&w, (uint64_t)ch);
            eng__wr_u8(&w, (uint8_t)t->idkind);
            eng__wr_uvar(&w, rows);
            for (size_t i = 0; i < n; i++) {
                if (!take(t, ids, channels, sources, i, ch, src))
                    continue;
                if (t->idkind == ENG_ID_STRING) {
                    size_t l;
                    const char *s = eng__dict_str(&t->sid, ids[i], &l);
                    eng__wr_blob(&w, s, l);
                } else {
                    eng__wr_svar(&w, t->iid[ids[i]]);
                }
            }
            for (size_t i = 0; i < n; i++) {
                if (!take(t, ids, channels, sources, i, ch, src))
                    continue;
                eng__wr_u8(&w, 1);
                eng__wr_u8(&w, 1);
                eng__wr_svar(&w, ts[i]);
            }
            char key[ENG__AUD_KEY_MAX];
            eng__aud_delta_key(a, key, sizeof key, a->next_seq, part++);
            rc = eng__rec_put_wr(e->store, ENG__K(key), ENG__REC_AUD_DELTA, DELTA_V, &w);
            if (!rc)
                rc = eng__chist_put_origin(a, key, src, "", now);
            for (size_t i = 0; i < n && !rc; i++)
                if (take(t, ids, channels, sources, i, ch, src))
                    rc = eng__table_set_optout(t, ch, ids[i], 1, ts[i]);
        }
    }
    if (!rc)
        a->next_seq++;
    return rc;
}
