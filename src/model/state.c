/* The model layer's engine slot (host hooks), the id sequence and the batch
 * helper every write path ends with. */
#include "model/model_impl.h"

#include <stdio.h>

static void state_free(eng_engine *e, void *p)
{
    eng__model_state *st = p;
    if (st->has_scratch)
        eng__org_free(&st->settings_scratch);
    if (st->has_actor_scratch)
        eng__actor_free(&st->actor_scratch);
    if (st->has_offer_scratch)
        eng__offer_free(&st->offer_scratch);
    eng__model_schemas_free(e, st);
    eng__who_drop(e, st);
    eng__free(&e->mem, st);
}

eng__model_state *eng__model(eng_engine *e)
{
    eng__model_state *st = eng__slot_get(e, ENG__SLOT_MODEL);
    if (!st) {
        st = eng__calloc(&e->mem, 1, sizeof(*st));
        if (!st)
            return NULL;
        eng__slot_set(e, ENG__SLOT_MODEL, st, state_free);
    }
    return st;
}

void eng__emit(eng_engine *e, int kind, const char *org, uint64_t campaign, uint64_t message, const char *actor,
               const char *comment)
{
    eng__model_state *st = eng__slot_get(e, ENG__SLOT_MODEL);
    if (!st || !st->event_fn)
        return;
    eng_model_event ev = {ENG_MODEL_EVENT_VERSION, kind, org, campaign, message, actor, comment ? comment : ""};
    st->event_fn(&ev, st->event_user);
    eng_error_clear(); /* what the host's calls back into the engine failed with is not this call's error */
}

ENG_API int eng_model_set_event_callback(eng_engine *e, eng_model_event_fn fn, void *user)
{
    int rc = eng__enter(e);
    if (rc)
        return rc;
    eng__model_state *st = eng__model(e);
    if (st) {
        st->event_fn = fn;
        st->event_user = user;
    }
    eng__leave(e);
    return st ? ENG_OK : eng__nomem();
}

ENG_API int eng_model_event_init(eng_model_event *x, unsigned int version)
{
    static const eng_model_event init = ENG_MODEL_EVENT_INIT;
    return eng__struct_init(x, &init, ENG__SIZES(sizeof init), version, "eng_model_event");
}

ENG_API int eng_model_set_audience_counter(eng_engine *e, eng_audience_count_fn fn, void *user)
{
    int rc = eng__enter(e);
    if (rc)
        return rc;
    eng__model_state *st = eng__model(e);
    if (st) {
        st->count_fn = fn;
        st->count_user = user;
    }
    eng__leave(e);
    return st ? ENG_OK : eng__nomem();
}

void eng__key_id(char *buf, size_t n, char kind, uint64_t id)
{
    snprintf(buf, n, "m/%c/%016llx", kind, (unsigned long long)id);
}

int eng__next_id(eng_engine *e, uint64_t *id)
{
    eng__rec r;
    uint64_t last = 0;
    int rc = eng__rec_get(e->store, ENG__K("m/s"), ENG__REC_SEQ, ENG__MODEL_SCHEMA, &r);
    if (rc == ENG_OK) {
        if (r.len != 8) {
            eng__rec_free(e->store, &r);
            return eng__err(ENG_ECORRUPT, "m/s", "id sequence record has length %zu", r.len);
        }
        last = eng__get64(r.payload);
        eng__rec_free(e->store, &r);
    } else if (!eng__absent(rc)) {
        return rc;
    }
    uint8_t b[8];
    eng__put64(b, last + 1);
    rc = eng__rec_put(e->store, ENG__K("m/s"), ENG__REC_SEQ, ENG__MODEL_SCHEMA, b, 8);
    if (rc == ENG_OK)
        *id = last + 1;
    return rc;
}

/* Finish a batch begun by the caller: commit when everything went well,
 * otherwise (or when the commit fails) roll back, keeping the first error's record. */
int eng__batch_end(eng_engine *e, int rc)
{
    if (rc == ENG_OK && (rc = eng__kv_commit(e->store)) == ENG_OK)
        return ENG_OK;
    /* A failed commit leaves the batch open: roll it back too. */
    const eng_error *le = eng_error_last();
    int code = le->code;
    char detail[256], msg[512];
    snprintf(detail, sizeof detail, "%s", le->detail);
    snprintf(msg, sizeof msg, "%s", le->message);
    eng__kv_rollback(e->store);
    eng__err(code == rc ? code : rc, detail, "%s", msg);
    return rc;
}
