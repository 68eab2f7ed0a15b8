/* Credits per accepted send (the org's channel cost, times segments for SMS),
 * charged in the same storage batch as the ledger outcome. */
#include "dispatch/dispatch_impl.h"

int64_t eng__send_cost(const eng_org_settings *s, int channel, uint32_t segments)
{
    if (channel < 0 || channel >= ENG_CH_COUNT)
        return 0;
    return s->channel_cost[channel] * (int64_t)(segments ? segments : 1);
}

int eng__dsp_charge(eng_engine *e, const char *org, int64_t amount)
{
    if (amount == 0)
        return ENG_OK;
    int64_t bal[2];
    int rc = eng__credits_get(e, org, bal);
    if (rc)
        return rc;
    /* The provider already took these messages: the charge stands even past
     * zero. Forbidding overdraft stops planning new chunks instead. */
    bal[ENG_CREDITS_CAMPAIGN] -= amount;
    return eng__credits_put(e, org, bal);
}
