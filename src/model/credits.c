/* Credit accounts of an org (campaign credits, X-Engage credits). Balances
 * may go negative — the reports show the overdraft — unless the org forbids
 * it, in which case a charge past zero fails with ENG_ECREDITS. */
#include "model/model_impl.h"

#include <stdio.h>

#define DELTA_MAX 1000000000000000LL

int eng__credits_get(eng_engine *e, const char *org, int64_t bal[2])
{
    char key[96];
    snprintf(key, sizeof key, "m/k/%s", org);
    eng__rec rec;
    int rc = eng__rec_get(e->store, ENG__K(key), ENG__REC_CREDITS, ENG__MODEL_SCHEMA, &rec);
    if (eng__absent(rc)) {
        bal[0] = bal[1] = 0;
        return ENG_OK;
    }
    if (rc)
        return rc;
    eng__rd r;
    eng__rd_init(&r, rec.payload, rec.len);
    bal[0] = eng__rd_svar(&r);
    bal[1] = eng__rd_svar(&r);
    int ok = eng__rd_ok(&r) && !eng__rd_left(&r);
    eng__rec_free(e->store, &rec);
    return ok ? ENG_OK : eng__err(ENG_ECORRUPT, key, "credits record does not decode");
}

int eng__credits_put(eng_engine *e, const char *org, const int64_t bal[2])
{
    eng__wr w;
    eng__wr_init(&w, &e->mem);
    eng__wr_svar(&w, bal[0]);
    eng__wr_svar(&w, bal[1]);
    char key[96];
    snprintf(key, sizeof key, "m/k/%s", org);
    return eng__rec_put_wr(e->store, ENG__K(key), ENG__REC_CREDITS, ENG__MODEL_SCHEMA, &w);
}

/* For the dispatch layer: charge @p amount (>= 0) inside the caller's open
 * batch, with the org's overdraft rule; audited as done by @p actor. */
int eng__credits_charge(eng_engine *e, const char *org, const char *actor, int account, int64_t amount)
{
    if ((account != ENG_CREDITS_CAMPAIGN && account != ENG_CREDITS_XENGAGE) || amount < 0 || amount > DELTA_MAX)
        return eng__err(ENG_EINVAL, "amount", "bad account or amount for a charge");
    eng__org o;
    int rc = eng__org_load(e, org, &o);
    if (rc)
        return rc;
    int64_t bal[2];
    const char *path = account == ENG_CREDITS_CAMPAIGN ? "org.credits.campaign" : "org.credits.xengage";
    if ((rc = eng__credits_get(e, org, bal)) == ENG_OK) {
        if (bal[account] - amount < 0 && o.settings.forbid_overdraft) {
            rc = eng__err(ENG_ECREDITS, path, "balance %lld cannot cover %lld and org '%s' forbids overdraft",
                          (long long)bal[account], (long long)amount, org);
        } else if (bal[account] - amount < -4 * DELTA_MAX) {
            rc = eng__err(ENG_ERANGE, path, "balance would leave the supported range");
        } else {
            bal[account] -= amount;
            if ((rc = eng__credits_put(e, org, bal)) == ENG_OK) {
                uint8_t st[16];
                eng__put64(st, (uint64_t)bal[0]);
                eng__put64(st + 8, (uint64_t)bal[1]);
                rc = eng__audit_append(e, org, actor, account ? "credits/xengage" : "credits/campaign", "charge", st,
                                       sizeof st);
            }
        }
    }
    eng__org_free(&o);
    return rc;
}

static int account_ok(int account)
{
    return account == ENG_CREDITS_CAMPAIGN || account == ENG_CREDITS_XENGAGE;
}

ENG_API int eng_credits_balance(eng_engine *e, const char *actor, int account, int64_t *balance)
{
    if (balance)
        *balance = 0;
    int rc = eng__enter(e);
    if (rc)
        return rc;
    if (!balance || !account_ok(account)) {
        rc = eng__err(ENG_EINVAL, balance ? "account" : "balance", "bad account or NULL balance");
        goto out;
    }
    eng__actor a;
    eng__org o;
    if ((rc = eng__who(e, actor, &a, &o)))
        goto out;
    int64_t bal[2];
    if ((rc = eng__credits_get(e, o.id, bal)) == ENG_OK)
        *balance = bal[account];
    eng__who_free(&a, &o);
out:
    eng__leave(e);
    return rc;
}

ENG_API int eng_credits_adjust(eng_engine *e, const char *actor, int account, int64_t delta)
{
    int rc = eng__enter(e);
    if (rc)
        return rc;
    if (!account_ok(account)) {
        rc = eng__err(ENG_EINVAL, "account", "%d is not an eng_credit_account", account);
        goto out;
    }
    if (delta > DELTA_MAX || delta < -DELTA_MAX) {
        rc = eng__err(ENG_ERANGE, "delta", "|delta| must be at most 1e15");
        goto out;
    }
    eng__actor a;
    eng__org o;
    if ((rc = eng__who(e, actor, &a, &o)))
        goto out;
    int64_t bal[2];
    const char *path = account == ENG_CREDITS_CAMPAIGN ? "org.credits.campaign" : "org.credits.xengage";
    if ((rc = eng__access(&a, &o, ENG_OP_ADMIN, NULL)) == ENG_OK && (rc = eng__credits_get(e, o.id, bal)) == ENG_OK) {
        int64_t next = bal[account] + delta;
        if (delta < 0 && next < 0 && o.settings.forbid_overdraft) {
            rc = eng__err(ENG_ECREDITS, path, "balance %lld cannot cover %lld and org '%s' forbids overdraft",
                          (long long)bal[account], (long long)-delta, o.id);
        } else if (next > 4 * DELTA_MAX || next < -4 * DELTA_MAX) {
            rc = eng__err(ENG_ERANGE, path, "balance would leave the supported range");
        } else if ((rc = eng__kv_begin(e->store)) == ENG_OK) {
            bal[account] = next;
            rc = eng__credits_put(e, o.id, bal);
            if (rc == ENG_OK) {
                uint8_t st[16];
                eng__put64(st, (uint64_t)bal[0]);
                eng__put64(st + 8, (uint64_t)bal[1]);
                rc = eng__audit_append(e, o.id, a.id, account ? "credits/xengage" : "credits/campaign", "adjust",
                                       st, sizeof st);
            }
            rc = eng__batch_end(e, rc);
        }
    }
    eng__who_free(&a, &o);
out:
    eng__leave(e);
    return rc;
}
