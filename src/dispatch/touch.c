/* The "sent" touches of accepted sends, written by the events layer into the
 * batch that stores the ledger outcome. The events layer keys each by our
 * idempotency key, so a provider receipt finds its send by key alone. Sends
 * expired in doubt are handed to it the same way, kept until a receipt proves
 * them (events_impl.h, eng__touch_doubt). */
#include "events/events_impl.h"

#include <string.h>

/* Declared in dispatch_impl.h (not included here: see there). */
typedef struct eng__dsp_sent {
    const char *key;
    uint32_t customer;
    uint8_t channel;
} eng__dsp_sent;
int eng__dsp_touch_sent(eng_engine *e, const char *org, uint64_t campaign, uint64_t message, eng_time version,
                        uint32_t occurrence, const eng__dsp_sent *rows, size_t n, eng_time at, int doubt);
void eng__dsp_touch_abandon(eng_engine *e);
int eng__dsp_touch_room(eng_engine *e, size_t n, eng__prog *pg);

int eng__dsp_touch_sent(eng_engine *e, const char *org, uint64_t campaign, uint64_t message, eng_time version,
                        uint32_t occurrence, const eng__dsp_sent *rows, size_t n, eng_time at, int doubt)
{
    if (n == 0)
        return ENG_OK;
    eng__sent_row *r = eng__calloc(&e->mem, n, sizeof *r);
    if (!r)
        return eng__nomem();
    for (size_t i = 0; i < n; i++)
        r[i] = (eng__sent_row){rows[i].key, strlen(rows[i].key), rows[i].customer, rows[i].channel, at};
    /* The execution's share of the key; the version is the approval second. */
    eng__send_ctx ctx = {org, campaign, message, (uint32_t)(version / 1000), occurrence};
    int rc = doubt ? eng__touch_doubt(e, &ctx, r, n) : eng__touch_sent(e, &ctx, r, n, NULL);
    eng__free(&e->mem, r);
    return rc;
}

int eng__dsp_touch_room(eng_engine *e, size_t n, eng__prog *pg)
{
    return eng__touch_sent_room(e, n, pg);
}

void eng__dsp_touch_abandon(eng_engine *e)
{
    eng__events_abandon_sent(e);
}
