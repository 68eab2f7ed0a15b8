/* The scheduler: eng_run_due() finds the org's approved or executing
 * messages, the occurrences of their schedules that are due, and works each
 * execution that is not finished or refused. */
#include "dispatch/dispatch_impl.h"

#include "base/lower.h"

#include <stdio.h>
#include <stdlib.h>

ENG_API int eng_run_options_init(eng_run_options *opts, unsigned int version)
{
    static const eng_run_options init = ENG_RUN_OPTIONS_INIT; /* padding included: init == INIT byte for byte */
    return eng__struct_init(opts, &init, ENG__SIZES(ENG__UPTO(eng_run_options, max_batches), sizeof init), version, "eng_run_options");
}

typedef struct ids {
    const eng__mem *mem;
    uint64_t *v;
    size_t n, cap;
} ids;

static int collect(const void *key, size_t klen, const void *val, size_t vlen, void *u)
{
    (void)val;
    (void)vlen;
    ids *l = u;
    char k[40];
    if (klen != 20) /* m/g/<16 hex> */
        return 0;
    memcpy(k, key, klen);
    k[klen] = 0;
    if (eng__grow(l->mem, (void **)&l->v, &l->cap, l->n + 1, sizeof *l->v))
        return eng__nomem();
    l->v[l->n++] = strtoull(k + 4, NULL, 16);
    return 0;
}

static eng_time step_of(const eng_schedule *s)
{
    eng_time u = s->unit == ENG_EVERY_HOURS ? ENG_HOUR : s->unit == ENG_EVERY_DAYS ? ENG_DAY : 7 * ENG_DAY;
    return u * (eng_time)(s->every ? s->every : 1);
}

uint64_t eng__sched_occurrences(const eng_schedule *s)
{
    if (s->kind == ENG_SCHEDULE_NONE)
        return 0;
    if (s->kind != ENG_SCHEDULE_RECURRING || s->until < s->at)
        return 1;
    return (uint64_t)((s->until - s->at) / step_of(s)) + 1;
}

/* A store written before bd2a903 may hold a recurring message that its last occurrence's
 * finish made executed while an earlier occurrence still had a send waiting for its
 * retry. Its occurrences still running are worked to their end; the message stays
 * executed (a final state). Once none is left running, this engine does not look
 * again; once no executed message of the store has one, the store's metadata says so
 * (eng_run_due) and no engine looks again. */
static int finish_left(eng__runctx *r, uint64_t id, const eng_schedule *s, int mine)
{
    eng__dsp *d = eng__dsp_get(r->e);
    if (!d)
        return eng__nomem();
    size_t lo = eng__lower_u64(d->settled, d->nsettled, id);
    if (lo < d->nsettled && d->settled[lo] == id)
        return ENG_OK;
    eng_time step = s->kind == ENG_SCHEDULE_RECURRING ? step_of(s) : 0;
    uint64_t n = eng__sched_occurrences(s);
    int left = 0, rc = ENG_OK;
    for (uint64_t k = 0; k < n && !rc; k++) {
        eng_time t = s->at + (eng_time)k * step;
        eng__xrec x;
        rc = eng__exec_load(r->e, id, (uint32_t)k, &x);
        if (rc == ENG_ENOTFOUND) { /* never started: not this repair's to start */
            eng_error_clear();
            rc = ENG_OK;
        } else if (!rc && x.state == ENG_EXEC_RUNNING) {
            left = 1; /* looked at again next time, until it is final */
            if (mine && t <= r->now) /* another org's (or unit's) is its actors' to run */
                rc = eng__exec_work(r, id, (uint32_t)k, t, 1);
        }
    }
    r->left |= left;
    if (rc || left)
        return rc;
    if ((rc = eng__grow(&r->e->mem, (void **)&d->settled, &d->csettled, d->nsettled + 1, sizeof *d->settled)))
        return rc;
    memmove(d->settled + lo + 1, d->settled + lo, (d->nsettled - lo) * sizeof *d->settled);
    d->settled[lo] = id;
    d->nsettled++;
    return ENG_OK;
}

/* Work every due occurrence of one message. */
static int run_message(eng__runctx *r, const eng__actor *a, const eng__org *o, uint64_t id, int named)
{
    eng_engine *e = r->e;
    eng__msg m;
    int rc = eng__msg_load(e, id, &m);
    if (rc)
        return rc;
    eng__camp c;
    if ((rc = eng__camp_load(e, m.campaign, &c))) {
        eng__msg_free(&m);
        return rc;
    }
    int ours = strcmp(c.org, o->id) == 0, mine = ours && eng__may(a, o, ENG_OP_EXECUTE, c.spec.unit);
    if (!ours) {
        rc = named ? eng__err(ENG_EDENIED, "actor", "message %llu belongs to another org", (unsigned long long)id) : 0;
    } else if (!mine) {
        rc = named ? eng__access(a, o, ENG_OP_EXECUTE, c.spec.unit) : 0;
    } else if (m.state == ENG_STATE_APPROVED || m.state == ENG_STATE_EXECUTING) {
        const eng_schedule *s = m.spec.schedule;
        int recurring = s->kind == ENG_SCHEDULE_RECURRING;
        eng_time step = recurring ? step_of(s) : 0;
        uint64_t n = eng__sched_occurrences(s);
        /* once the last occurrence is due, the finish of any may be the message's (work.c) */
        int last = n && s->at + (eng_time)(n - 1) * step <= r->now, worked = 0, last_finished = 0;
        uint64_t final = 0;
        for (uint32_t k = 0; s->kind != ENG_SCHEDULE_NONE && !rc; k++) {
            eng_time t = s->at + (eng_time)k * step;
            if (t > r->now || (recurring && t > s->until) || (!recurring && k > 0))
                break;
            eng__xrec x;
            int lr = eng__exec_load(e, id, k, &x);
            if (lr == ENG_OK && x.state != ENG_EXEC_RUNNING) {
                final++;
                last_finished = k + 1 == n && x.state == ENG_EXEC_FINISHED;
                continue;
            }
            worked = 1;
            if (lr != ENG_OK && !eng__absent(lr))
                rc = lr;
            else
                rc = eng__exec_work(r, id, k, t, last);
        }
        /* Every occurrence final, the last finished, and the message still executing: the
         * occurrence that finished last did so under a `now` before the last one's due time
         * (a host's clock set back), so its finish could not tell. Done now. */
        if (!rc && last && !worked && final == n && last_finished && m.state == ENG_STATE_EXECUTING)
            rc = eng__exec_message_done(r, o->id, id);
    }
    if (!rc && m.state == ENG_STATE_EXECUTED && m.spec.schedule->kind != ENG_SCHEDULE_NONE &&
        !(e->meta.repaired & ENG__REPAIRED_EXECUTED_RUNNING))
        rc = finish_left(r, id, m.spec.schedule, mine);
    eng__camp_free(&c);
    eng__msg_free(&m);
    return rc;
}

ENG_API int eng_run_due(eng_engine *e, const char *actor, eng_time now, const eng_run_options *opts,
                        eng_run_report *report)
{
    eng_run_report tmp = ENG_RUN_REPORT_INIT;
    eng_run_options dflt = ENG_RUN_OPTIONS_INIT;
    int rc = report ? eng__enter_out(e, report, ENG__SIZES(sizeof *report), "eng_run_report", "report")
                    : eng__enter(e);
    if (rc)
        return rc;
    if (!opts)
        opts = &dflt;
    if (opts->version == 0 || opts->version > ENG_RUN_OPTIONS_VERSION)
        rc = eng__err(ENG_EVERSION, "opts.version", "unsupported eng_run_options version %u", opts->version);
    else if (!e->has_transport)
        rc = eng__err(ENG_ETRANSPORT, "config.transport", "no transport configured: nothing can be sent");
    /* the retry times and leases count from now: kept within 1970..9999 they cannot overflow */
    else if (!eng__time_ok(now))
        rc = eng__err(ENG_ERANGE, "now", "now must be a time from 1970 to 9999 (got %lld ms)", (long long)now);
    else if (opts->version >= 2 && opts->lease_ms > (uint64_t)ENG__TIME_MAX)
        rc = eng__err(ENG_ERANGE, "opts.lease_ms", "a lease of %llu ms is longer than any schedule",
                      (unsigned long long)opts->lease_ms);
    if (rc) {
        eng__leave(e);
        return rc;
    }
    eng__actor a;
    eng__org o;
    if ((rc = eng__who(e, actor, &a, &o))) {
        eng__leave(e);
        return rc;
    }
    eng__engine_ref(e); /* held while transport calls run without the lock */
    eng__runctx r = {e, a.id, now, opts, report ? report : &tmp, {0}, 0};
    ids l = {&e->mem, NULL, 0, 0};
    if ((rc = eng__prog_start(&r.pg, e, "dispatch.run", 0)))
        ;
    else if (opts->message)
        rc = run_message(&r, &a, &o, opts->message, 1);
    else if ((rc = eng__kv_scan(e->store, ENG__K("m/g/"), collect, &l)) == ENG_OK) {
        int sweep = !(e->meta.repaired & ENG__REPAIRED_EXECUTED_RUNNING);
        for (size_t i = 0; i < l.n && !rc; i++)
            rc = run_message(&r, &a, &o, l.v[i], 0);
        /* Every message of the store looked at and no executed one left running (another
         * org's counted, not run): the store says so, and no engine looks again. Only an
         * optimisation: when it cannot be written, the next run looks again. */
        if (!rc && sweep && !r.left && eng__meta_repaired(e, ENG__REPAIRED_EXECUTED_RUNNING) != ENG_OK)
            eng_error_clear();
    }
    if (!rc)
        rc = eng__prog_end(&r.pg);
    eng__free(&e->mem, l.v);
    eng__org_free(&o);
    eng__actor_free(&a);
    eng__leave(e);
    eng__engine_unref(e);
    return rc;
}
