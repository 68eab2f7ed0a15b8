/* One trial of a storage-fault sweep: for nth = 1, 2, ... a test makes the nth storage call of an
 * operation fail, checks that the refused operation left the store as it was, retries it, and stops
 * at the first nth the operation no longer reaches. fault_nth() is the part every such sweep shares
 * (arm, run, disarm, the code and the unchanged store); what each test checks besides (its readers,
 * a reopen, the retry) stays in the test. Include after cmocka.h. */
#ifndef TEST_FAULT_SWEEP_H
#define TEST_FAULT_SWEEP_H

#include "test_store.h"
#include "../unit/model/store_digest.h"

/* Make the @p nth call among @p mask of @p ts fail as @p mode (once, test_store_fail), run
 * @p op(@p user) on engine @p e, disarm. Returns 0 when the failure did not fire: the operation made
 * fewer calls and must have succeeded (asserted), the sweep is over. Returns 1 when it fired: the
 * operation must have failed with a message, and for TF_ERROR (a call without effect) @p e's store
 * must hold byte for byte what it held before (asserted; a TF_COMMITTED_ERROR commit did apply). */
static inline int fault_nth(test_store *ts, eng_engine *e, unsigned mask, uint64_t nth, int mode,
                            int (*op)(void *user), void *user)
{
    uint8_t before[ENG__SHA256_LEN], after[ENG__SHA256_LEN];
    store_digest(e, before);
    uint64_t fired = test_store_failures(ts);
    test_store_fail(ts, mask, nth, 0, mode);
    int rc = op(user);
    int failed = test_store_failures(ts) > fired;
    test_store_nofail(ts);
    if (!failed) {
        assert_int_equal(rc, ENG_OK);
        return 0;
    }
    assert_int_not_equal(rc, ENG_OK);
    assert_true(eng_error_last()->message[0] != 0);
    if (mode == TF_ERROR) {
        store_digest(e, after);
        assert_memory_equal(before, after, sizeof before);
    }
    return 1;
}

#endif
