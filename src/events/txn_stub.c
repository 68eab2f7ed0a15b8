/* Transactions: not yet (temporary while the touch API lands). */
#include "events/ev_state.h"

#include <string.h>

void eng__rcols_free(eng__rcols *c, const eng__mem *mem) { (void)mem; memset(c, 0, sizeof *c); }
int eng__rtail_save(eng__ev *ev, eng__evorg *o) { (void)ev; (void)o; return ENG_OK; }
int eng__ev_load_txns(eng__ev *ev, eng__evorg *o) { (void)ev; (void)o; return ENG_OK; }
int eng__rtail_seal(eng__ev *ev, eng__evorg *o) { (void)ev; (void)o; return ENG_OK; }
int eng__retain_txns(eng__ev *ev, eng__evorg *o, eng_time cutoff, uint64_t *dropped)
{
    (void)ev; (void)o; (void)cutoff; (void)dropped;
    return ENG_OK;
}
