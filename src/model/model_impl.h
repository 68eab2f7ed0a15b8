/* The model layer's internals: stored objects, their record tags and keys,
 * the per-object string pool, the validation report and the audit append.
 *
 * Nothing is cached: each call reads what it needs from the store, checks,
 * and writes every changed key plus one audit entry in a single batch, so a
 * refused or failed call leaves stored state as it was and a second engine on
 * the same store sees the same model. */
#ifndef ENG_MODEL_IMPL_H
#define ENG_MODEL_IMPL_H

#include <stdint.h>
#include <string.h>
#include "engage/model.h"
#include "engage/channel.h"
#include "core/engine_impl.h"
#include "base/codec.h"
#include "base/hash.h"
#include "store/record.h"
#include "base/utf8.h"
#include "model/txn_schema.h"
#include "model/xengage_opts.h"
#include "model/report_limit.h"

/* Record type tags (0x01xx) and keys (under "m/"). */
enum {
    ENG__REC_ORG = 0x0101,      /* m/o/<org>            settings + unit tree */
    ENG__REC_ACTOR = 0x0102,    /* m/a/<actor>          org, roles, scope */
    ENG__REC_CREDITS = 0x0103,  /* m/k/<org>            balances */
    ENG__REC_CAMPAIGN = 0x0104, /* m/c/<id:016x>        campaign */
    ENG__REC_NAME = 0x0105,     /* m/n/<org>/<name>     name -> campaign id */
    ENG__REC_MESSAGE = 0x0106,  /* m/g/<id:016x>        message */
    ENG__REC_AUDIT = 0x0107,    /* m/l/<seq:016x>       audit entry */
    ENG__REC_AUDIT_HEAD = 0x0108, /* m/h               last seq + hash */
    ENG__REC_SEQ = 0x0109,      /* m/s                  id sequence */
    ENG__REC_RESERVE = 0x0120,  /* m/r/<org>            X-Engage credit reservations */
    ENG__REC_OFFER = 0x010a,    /* m/f/<org>/<offer>    an offer of the catalogue */
};
#define ENG__MODEL_SCHEMA 1
#define ENG__ID_MAX 64
#define ENG__NAME_MAX 128
#define ENG__COMMENT_MAX 4096
#define ENG__LIST_MAX 10000
/* Times are kept within 1970..9999 so sums of times and intervals cannot overflow. */
#define ENG__TIME_MAX ((eng_time)253402300799999)
static inline int eng__time_ok(eng_time t) { return t >= 0 && t <= ENG__TIME_MAX; }

/* ---- pool: every block of a decoded object, freed together ---- */
typedef struct eng__pool {
    const eng__mem *mem;
    void *head;
    int oom; /* an allocation failed (the reader's sticky error would say ECORRUPT) */
} eng__pool;
void eng__pool_init(eng__pool *p, const eng__mem *mem);
void *eng__pool_alloc(eng__pool *p, size_t n); /* zeroed */
char *eng__pool_str(eng__pool *p, const char *s); /* NULL -> "" */
void eng__pool_free(eng__pool *p);
/* Read a string into the pool (sets the reader's error on failure). */
char *eng__pool_rdstr(eng__rd *r, eng__pool *p);

/* ---- objects: one record each (object.c) ---- */
/* Decode a record's payload into @p obj; nonzero when the fields it read do
 * not make a valid object (the reader's own errors count without it). */
typedef int (*eng__obj_dec_fn)(eng__rd *r, eng__pool *p, void *obj);
typedef void (*eng__obj_enc_fn)(eng__wr *w, const void *obj);
/* Read the record @p tag under @p key into @p obj (@p size bytes, zeroed
 * first; @p pool is its pool). ENG_ENOTFOUND and storage errors as read; a
 * record that does not decode or has bytes left over is ENG_ECORRUPT naming
 * the key and @p what. On failure the pool is freed and @p obj zeroed. */
int eng__obj_load(eng_engine *e, const char *key, uint16_t tag, const char *what, void *obj, size_t size,
                  eng__pool *pool, eng__obj_dec_fn dec);
/* The same; with @p raw, the record as read is handed over too (free it with eng__val_free). */
int eng__obj_load_raw(eng_engine *e, const char *key, uint16_t tag, const char *what, void *obj, size_t size,
                      eng__pool *pool, eng__obj_dec_fn dec, eng__val *raw);
/* Encode @p obj once and put it under @p key; with @p action, append the audit
 * entry (org, actor, object, action) whose state hash covers the same bytes
 * (inside a batch). */
int eng__obj_put(eng_engine *e, const char *key, uint16_t tag, eng__obj_enc_fn enc, const void *obj,
                 const char *org, const char *actor, const char *object, const char *action);

/* ---- validation report ---- */
#define ENG__VR_MAGIC 0x56524550u /* "VREP" */

struct eng_validation {
    uint32_t magic; /* a freed or foreign report gives ENG_EMISUSE */
    eng__mem mem;
    struct eng__vitem {
        int code;
        char *path;
        char *msg;
    } *items;
    size_t n, cap;
    int oom;
};
eng_validation *eng__vr_new(const eng__mem *mem);
void eng__vr_add(eng_validation *v, int code, const char *path, const char *fmt, ...) ENG__PRINTF(4, 5);
/* Remove the failures with this path and code. */
void eng__vr_drop(eng_validation *v, const char *path, int code);
/* Finish a call: OK when empty; else record the first failure as the last error,
 * hand the report to *out (or free it) and return ENG_EVALIDATION. */
int eng__vr_finish(eng_validation *v, eng_validation **out);
/* A check the store could not answer (an item of code ENG_ESTORAGE or ENG_EIO) is no finding
 * about the input: that code, recorded as the last error with the item's path and message
 * (the call fails with it, not ENG_EVALIDATION); 0 when none. */
int eng__vr_store_failed(const eng_validation *v);

/* ---- checks shared by validators ---- */
int eng__id_ok(const char *s); /* 1..64 of [A-Za-z0-9_.@-] */
/* Why a name is not acceptable (invalid UTF-8, control characters such as
 * line breaks or escapes), or NULL; the one check of base/utf8.h. */
const char *eng__name_flaw(const char *s);
/* Report @p s at @p path when it is not acceptable text (ENG__TEXT_* flags). */
void eng__vr_text(eng_validation *v, const char *path, const char *s, int flags);
static inline int eng__empty(const char *s) { return !s || !*s; }

/* ---- org ---- */
typedef struct eng__unit {
    char *id;
    char *parent; /* "" for the org */
} eng__unit;
typedef struct eng__org {
    eng__pool pool;
    char *id;
    eng_org_settings settings;
    eng__unit *units;
    size_t n_units;
    unsigned *lent; /* lent by eng__who (its pool holds only what the caller added): eng__org_free returns it */
} eng__org;
int eng__org_load(eng_engine *e, const char *org, eng__org *out); /* ENG_ENOTFOUND */
int eng__org_dec(eng__rd *r, eng__pool *p, void *obj); /* an eng__obj_dec_fn */
void eng__org_free(eng__org *o);
const eng__unit *eng__org_unit(const eng__org *o, const char *unit);
/* Is @p unit equal to or below @p ancestor? */
int eng__org_unit_within(const eng__org *o, const char *unit, const char *ancestor);
void eng__settings_enc(eng__wr *w, const eng_org_settings *s);
void eng__settings_dec(eng__rd *r, eng__pool *p, eng_org_settings *s);
/* Goals (goal.c). The record form always holds a goal: NULL encodes the INIT
 * defaults; the decoded goal lives in the pool (NULL when it runs out). */
void eng__goal_enc(eng__wr *w, const eng_goal_spec *g);
const eng_goal_spec *eng__goal_dec(eng__rd *r, eng__pool *p);
/* Check a goal; adds failures under @p path (a NULL goal is one, at @p path). */
void eng__goal_check(eng_validation *v, const eng_goal_spec *g, const char *path);

/* ---- actors and access ---- */
typedef struct eng__actor {
    eng__pool pool;
    char *id;
    char *org;
    unsigned roles;
    int scope;
    char **units;
    size_t n_units;
    unsigned *lent; /* as eng__org.lent */
} eng__actor;
int eng__actor_load(eng_engine *e, const char *id, eng__actor *out); /* ENG_ENOTFOUND */
void eng__actor_free(eng__actor *a);
/* Store an actor and audit it as done by @p by (inside a batch). */
int eng__actor_store(eng_engine *e, const eng_actor_spec *spec, const char *org, const char *by);
/* Load the actor and its org; ENG_EDENIED (detail "actor") when unknown. */
int eng__who(eng_engine *e, const char *actor, eng__actor *a, eng__org *o);
/* The prologue of every model entry point: eng__who, then with @p op >= 0
 * eng__access(op, @p unit). On failure nothing is held; else end with eng__who_free. */
int eng__who_may(eng_engine *e, const char *actor, int op, const char *unit, eng__actor *a, eng__org *o);
void eng__who_free(eng__actor *a, eng__org *o);
/* ENG_OK or ENG_EDENIED with a message naming actor, op and object. */
int eng__access(const eng__actor *a, const eng__org *o, int op, const char *unit);
/* The same decision without recording an error. */
int eng__may(const eng__actor *a, const eng__org *o, int op, const char *unit);

/* ---- credits ---- */
int eng__credits_get(eng_engine *e, const char *org, int64_t bal[2]);
int eng__credits_put(eng_engine *e, const char *org, const int64_t bal[2]);
/* Charge credits inside the caller's batch (dispatch); ENG_ECREDITS when the
 * org forbids overdraft and the balance cannot cover @p amount. */
int eng__credits_charge(eng_engine *e, const char *org, const char *actor, int account, int64_t amount);

/* ---- ids, keys ---- */
int eng__next_id(eng_engine *e, uint64_t *id); /* inside a batch */
void eng__key_id(char *buf, size_t n, char kind, uint64_t id);

/* ---- campaigns ---- */
typedef struct eng__camp {
    eng__pool pool;
    uint64_t id;
    char *org;
    char *created_by;
    eng_time created_at, updated_at;
    int goal_locked;
    uint64_t *msgs;
    size_t n_msgs;
    eng_campaign_spec spec;
} eng__camp;
int eng__camp_load(eng_engine *e, uint64_t id, eng__camp *out);
int eng__camp_store(eng_engine *e, const eng__camp *c);
/* May @p a do @p op on campaign @p c (or its message @p what @p id)? An
 * actor of another org is denied before scope is judged. */
int eng__camp_access(const eng__actor *a, const eng__org *o, const eng__camp *c, int op, const char *what,
                     uint64_t id);
/* Store the campaign and append an audit entry for @p action (inside a batch). */
int eng__camp_write(eng_engine *e, const eng__camp *c, const char *actor, const char *action);
void eng__camp_free(eng__camp *c);
void eng__camp_spec_enc(eng__wr *w, const eng_campaign_spec *s);
void eng__camp_spec_dec(eng__rd *r, eng__pool *p, eng_campaign_spec *s);
/* Every campaign rule (not name uniqueness, which needs the store). */
void eng__camp_check(eng_engine *e, eng_validation *v, const eng_campaign_spec *s, const eng__org *o);

/* ---- messages ---- */
typedef struct eng__msg {
    eng__pool pool;
    uint64_t id, campaign;
    int state;
    char *created_by, *edited_by;
    eng_time created_at, updated_at;
    char *decided_by;
    eng_time decided_at;
    char *comment;
    int approved;                /* an approval is bound */
    uint8_t approved_hash[32];
    eng_message_spec spec;
} eng__msg;
int eng__msg_load(eng_engine *e, uint64_t id, eng__msg *out);
int eng__msg_store(eng_engine *e, const eng__msg *m);
void eng__msg_free(eng__msg *m);
void eng__msg_spec_enc(eng__wr *w, const eng_message_spec *s);
void eng__msg_spec_dec(eng__rd *r, eng__pool *p, eng_message_spec *s); /* parts in the pool, never NULL */
/* @p in with each NULL part (incentive, schedule, delivery) pointing at its INIT
 * defaults: the form every check and the dispatcher see. */
void eng__msg_spec_parts(const eng_message_spec *in, eng_message_spec *out);
/* SHA-256 over the campaign spec and the message spec. */
int eng__msg_hash(const eng__mem *mem, const eng_campaign_spec *c, const eng_message_spec *m, uint8_t out[32]);
/* Structure only (drafts). */
void eng__msg_check_structure(eng_validation *v, const eng_message_spec *s);
/* The channels a POC recipient's address can receive a copy on (bit per eng_channel): an email
 * address email; a phone number (+ and 7..15 digits) SMS, WhatsApp, Viber and RCS; else 0. */
uint32_t eng__poc_channels(const char *addr);
/* Everything a submission needs. */
void eng__msg_check_full(eng_engine *e, eng_validation *v, const eng__org *o, const eng__camp *c,
                         const eng_message_spec *s);

/* Everything a call about one message needs, loaded and access-checked. */
typedef struct eng__msg_ctx {
    eng__actor a;
    eng__org o;
    eng__camp c;
    eng__msg m;
} eng__msg_ctx;
int eng__msg_ctx_load(eng_engine *e, const char *actor, uint64_t id, int op, eng__msg_ctx *x);
void eng__msg_ctx_free(eng__msg_ctx *x);
/* Store the message and append an audit entry for @p action whose state hash
 * covers the stored record (inside a batch). */
int eng__msg_put_audited(eng_engine *e, const char *org, const char *actor, const eng__msg *m, const char *action);
int eng__msg_write(eng_engine *e, const eng__msg_ctx *x, const char *action);
/* Approve or reject @p m in memory after every check (self-approval, content
 * hash when given, the X-Engage 48 hours); the caller stores and audits it. */
int eng__approve_msg(eng_engine *e, const eng__actor *a, const eng__org *o, const eng__camp *c, eng__msg *m,
                     const char *content_hash, const char *comment);
int eng__reject_msg(eng_engine *e, const eng__actor *a, eng__msg *m, const char *comment);
/* ENG_ETOOBIG for a comment over ENG__COMMENT_MAX bytes. */
int eng__comment_ok(const char *c);

/* ---- per-concept validators ---- */
void eng__creative_check(eng_validation *v, const eng_creative *c, const char *path);
int eng__template_check(eng_validation *v, const char *text, const char *path);
void eng__incentive_check(eng_validation *v, const eng_incentive *in, int full);
int eng__coupon_code_ok(const char *s); /* 1..64 printable bytes, no spaces */

/* ---- offers catalogue (offer.c) and claims (incentive.c) ---- */
typedef struct eng__offer {
    eng__pool pool;
    eng_offer_spec s; /* absent strings are "" */
} eng__offer;
int eng__offer_load(eng_engine *e, const char *org, const char *id, eng__offer *of); /* ENG_ENOTFOUND */
void eng__offer_free(eng__offer *of);
/* Whether a message's coupon terms are the offer's. */
int eng__offer_terms_equal(const eng_offer_spec *of, const eng_incentive *in);
/* The claim at message create/update: a coupon incentive naming an offer
 * loads it into @p of (*found = 1) and reports, into @p v, a missing offer,
 * caller-set terms that differ from it and a validity outside the campaign's
 * dates; terms set without an offer are refused too. Returns storage errors. */
int eng__offer_claim(eng_engine *e, eng_validation *v, const char *org, const eng_campaign_spec *c,
                     const eng_incentive *in, eng__offer *of, int *found);
/* Point *@p in at a copy, in @p p, of the incentive with the claimed offer's terms. */
int eng__offer_apply(eng__pool *p, const eng__offer *of, const eng_incentive **in);
/* At submit: the claimed offer still exists, has the message's terms and lies inside the campaign's dates. */
void eng__offer_claim_check(eng_engine *e, eng_validation *v, const char *org, const eng_campaign_spec *c,
                            const eng_incentive *in);
void eng__schedule_check(eng_validation *v, const eng_schedule *s, const eng_campaign_spec *c, int full);
/* The audience a message will contact: its groups, channels, the campaign's split. */
void eng__audience_query_of(const eng__org *o, const eng__camp *c, const eng_message_spec *s, eng_audience_query *q);
/* Storage key (below the audience layer's a/f/) of the audience frozen by an approval. */
void eng__frozen_audience_key(char *buf, size_t n, uint64_t campaign, uint64_t message, eng_time approved_at);
/* ENG_OK when @p c's approved messages (@p except left out) and @p adding more fit in one report,
 * else ENG_ETOOBIG at "campaign": an approval past it would leave a campaign no report can read. */
int eng__camp_report_room(eng_engine *e, const eng__camp *c, uint64_t except, size_t adding);
/* The same for a count of approved messages already made. */
int eng__report_room(const eng__camp *c, size_t approved);
/* With the built-in audience layer, resolve and freeze an approved message's audience (inside a batch). */
int eng__freeze_audience(eng_engine *e, const eng__org *o, const eng__camp *c, const eng__msg *m);
/* Unknown groups of a message (field paths message.audience.include[i] /
 * exclude[i]) into v; without v, the first is the error returned. */
int eng__audience_refs_check(eng_engine *e, eng_validation *v, const char *org, const eng_message_spec *s);
extern uint32_t eng__xengage_min_audience; /* the seed's 100,000; tests lower it */
void eng__xengage_check(eng_engine *e, eng_validation *v, const eng__org *o, const eng__camp *c,
                        const eng_message_spec *s, eng_time now);
/* Test-group recipients of a message's audience: the host's counter, or the
 * engine's groups resolved as the freeze resolves them. */
int eng__xengage_count(eng_engine *e, const eng__org *o, const eng__camp *c, const eng_message_spec *s,
                       uint64_t *count);
/* Approval of an X-Engage message, inside the approval's batch (after the
 * audience is frozen): the org still has X-Engage, the audience still has the
 * minimum, and its credits are available and get reserved. */
int eng__xengage_approve(eng_engine *e, const eng__org *o, const eng__camp *c, const eng__msg *m);
/* reserve.c: X-Engage credits reserved by approved messages (inside a batch). */
int eng__xengage_reserved(eng_engine *e, const char *org, uint64_t except_msg, int64_t *total);
int eng__xengage_reserve(eng_engine *e, const char *org, uint64_t msg, int64_t amount);
int eng__xengage_release(eng_engine *e, const char *org, uint64_t msg);
/* Accepted X-Engage sends: charge @p amount X-Engage credits and take it off the message's reservation. */
int eng__xengage_consume(eng_engine *e, const char *org, uint64_t msg, int64_t amount);

/* ---- lifecycle ---- */
const char *eng__state_name(int state);
const char *eng__action_name(int action);

/* ---- layer state (engine slot) ---- */
typedef struct eng__model_state {
    eng_model_event_fn event_fn;
    void *event_user;
    eng_audience_count_fn count_fn;
    void *count_user;
    struct {
        eng_rule_field *fields; /* names owned */
        size_t n;
    } schema[2];                /* by eng_rule_schema_kind */
    eng__org settings_scratch; /* backs eng_org_settings_get() strings */
    int has_scratch;
    eng__actor actor_scratch;  /* backs eng_actor_get() strings */
    int has_actor_scratch;
    eng__offer offer_scratch;  /* backs eng_offer_get() strings */
    int has_offer_scratch;
    struct {                   /* the actor and org eng__who decoded last, with their records as read (actor.c) */
        eng__actor a;
        eng__org o;
        eng__val araw, oraw;
        unsigned lent; /* copies of a and o that callers hold: replaced only at 0 */
        int ok;
    } who;
    struct {                   /* the audit head as this engine last wrote it, in the batch whose serial is batch */
        int batch;
        uint64_t seq;
        uint8_t hash[32];
    } head;
} eng__model_state;
/* Free eng__who's kept actor and org and their records (actor.c). */
void eng__who_drop(eng_engine *e, eng__model_state *st);
eng__model_state *eng__model(eng_engine *e); /* NULL on OOM */
void eng__emit(eng_engine *e, int kind, const char *org, uint64_t campaign, uint64_t message, const char *actor,
               const char *comment);

/* Compile @p text against the schema of @p kind when one is set; failures go
 * into the report at @p path. Does nothing for an empty text or no schema. */
void eng__model_rule_check(eng_engine *e, eng_validation *v, const char *text, int kind, const char *path);
/* A conversion goal's event and condition (path "campaign.goal" or
 * "org.settings.default_goal"): only transactions are events; without a host
 * event schema the condition is compiled against the built-in transaction
 * schema (amount DECIMAL(4), store, items, time) and the org's declared
 * custom fields. */
void eng__goal_rule_check(eng_engine *e, eng_validation *v, const char *org, const eng_goal_spec *g,
                          const char *path);
/* The same for a rule over @p org's customers (the org's own columns when the host set no customer schema). */
void eng__model_rule_check_org(eng_engine *e, eng_validation *v, const char *org, const char *text, int kind,
                               const char *path);
void eng__model_schemas_free(eng_engine *e, eng__model_state *st);

/* ---- audit ---- */
/* Append an entry inside the caller's batch. @p state: encoding of the new state. */
int eng__audit_append(eng_engine *e, const char *org, const char *actor, const char *object, const char *action,
                      const void *state, size_t state_len);

/* Run a write batch: begin, fn, commit or rollback. */
int eng__batch_end(eng_engine *e, int rc);

/* Encode a string list. */
void eng__strs_enc(eng__wr *w, const char *const *v, size_t n);
const char *const *eng__strs_dec(eng__rd *r, eng__pool *p, size_t *n);
/* Check a string list: count, each non-empty, length, no line breaks. */
void eng__strs_check(eng_validation *v, const char *const *list, size_t n, const char *path, size_t maxlen);

#endif
