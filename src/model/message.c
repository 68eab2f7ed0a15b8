/* Messages: fields, the structural check for drafts and the full check for
 * submission, the content hash, persistence (m/g/<id>) and snapshots. */
#include "model/model_impl.h"
#include "base/handle.h"

#include <stdio.h>

ENG_API int eng_message_spec_init(eng_message_spec *m, unsigned int version)
{
    if (!m)
        return eng__err(ENG_EINVAL, "message", "message spec is NULL");
    if (version == 0 || version > ENG_MESSAGE_SPEC_VERSION)
        return eng__err(ENG_EVERSION, "message.version", "unsupported eng_message_spec version %u", version);
    memset(m, 0, version >= 2 ? sizeof(*m) : ENG__UPTO(eng_message_spec, delivery));
    m->version = version;
    m->type = ENG_MESSAGE_BROADCAST;
    m->strategy = ENG_STRATEGY_NONE;
    return ENG_OK;
}

static const eng_incentive no_incentive = ENG_INCENTIVE_INIT;
static const eng_schedule no_schedule = ENG_SCHEDULE_INIT;
static const eng_delivery no_delivery = ENG_DELIVERY_INIT;
static const eng_xengage_options no_xengage = ENG_XENGAGE_OPTIONS_INIT;

ENG_API int eng_incentive_init(eng_incentive *in, unsigned int version)
{
    return eng__struct_init(in, &no_incentive, ENG__SIZES(sizeof no_incentive), version, "eng_incentive");
}

ENG_API int eng_schedule_init(eng_schedule *s, unsigned int version)
{
    return eng__struct_init(s, &no_schedule, ENG__SIZES(sizeof no_schedule), version, "eng_schedule");
}

ENG_API int eng_delivery_init(eng_delivery *d, unsigned int version)
{
    return eng__struct_init(d, &no_delivery, ENG__SIZES(sizeof no_delivery), version, "eng_delivery");
}

ENG_API int eng_xengage_options_init(eng_xengage_options *x, unsigned int version)
{
    return eng__struct_init(x, &no_xengage, ENG__SIZES(ENG__UPTO(eng_xengage_options, credit_cap), sizeof no_xengage),
                            version, "eng_xengage_options");
}

double eng__xengage_cpu(const eng_xengage_options *x)
{
    return x && x->version >= 2 && x->credits_per_unit > 0 ? x->credits_per_unit : 0;
}

void eng__msg_spec_parts(const eng_message_spec *in, eng_message_spec *out)
{
    /* A version 1 caller's struct ends before xengage. */
    memset(out, 0, sizeof *out);
    memcpy(out, in, in->version >= 2 ? sizeof *in : ENG__UPTO(eng_message_spec, delivery));
    out->version = ENG_MESSAGE_SPEC_VERSION;
    if (!out->xengage)
        out->xengage = &no_xengage;
    if (!out->incentive)
        out->incentive = &no_incentive;
    if (!out->schedule)
        out->schedule = &no_schedule;
    if (!out->delivery)
        out->delivery = &no_delivery;
}

/* ---- codec ---- */

void eng__msg_spec_enc(eng__wr *w, const eng_message_spec *s)
{
    eng__wr_str(w, s->title);
    eng__wr_svar(w, s->type);
    eng__wr_svar(w, s->strategy);
    eng__wr_uvar(w, s->variants ? s->n_variants : 0);
    for (size_t i = 0; s->variants && i < s->n_variants; i++) {
        eng__wr_svar(w, s->variants[i].dimension);
        eng__wr_str(w, s->variants[i].rule);
        eng__wr_svar(w, s->variants[i].channel);
        eng__wr_str(w, s->variants[i].body);
    }
    eng__wr_uvar(w, s->channel_priority ? s->n_channel_priority : 0);
    for (size_t i = 0; s->channel_priority && i < s->n_channel_priority; i++)
        eng__wr_svar(w, s->channel_priority[i]);
    eng__strs_enc(w, s->include, s->n_include);
    eng__strs_enc(w, s->exclude, s->n_exclude);
    eng__wr_uvar(w, s->creatives ? s->n_creatives : 0);
    for (size_t i = 0; s->creatives && i < s->n_creatives; i++) {
        eng__wr_svar(w, s->creatives[i].channel);
        eng__wr_u8(w, s->creatives[i].subject != NULL);
        eng__wr_str(w, s->creatives[i].subject);
        eng__wr_str(w, s->creatives[i].body);
    }
    const eng_incentive *in = s->incentive ? s->incentive : &no_incentive;
    eng__wr_svar(w, in->kind);
    eng__wr_str(w, in->offer_id);
    eng__wr_svar(w, in->coupon_source);
    eng__wr_str(w, in->coupon_code);
    eng__wr_str(w, in->coupon_pool);
    eng__wr_svar(w, in->points);
    eng__wr_uvar(w, in->points_expiry_days);
    const eng_schedule *sc = s->schedule ? s->schedule : &no_schedule;
    eng__wr_svar(w, sc->kind);
    eng__wr_svar(w, sc->at);
    eng__wr_uvar(w, sc->every);
    eng__wr_svar(w, sc->unit);
    eng__wr_svar(w, sc->until);
    const eng_delivery *d = s->delivery ? s->delivery : &no_delivery;
    eng__wr_uvar(w, d->senders ? d->n_senders : 0);
    for (size_t i = 0; d->senders && i < d->n_senders; i++) {
        eng__wr_svar(w, d->senders[i].channel);
        eng__wr_str(w, d->senders[i].id);
    }
    eng__strs_enc(w, d->poc, d->n_poc);
    eng__wr_svar(w, d->tiny_url);
    /* Optional tail (absent in messages stored before it, whose content hash it keeps): tag 1, credit cap;
     * tag 2, credits per unit of currency (the double's bits). */
    const eng_xengage_options *x = s->version >= 2 ? s->xengage : NULL;
    if (x && x->credit_cap) {
        eng__wr_u8(w, 1);
        eng__wr_svar(w, x->credit_cap);
    }
    double cpu = eng__xengage_cpu(x);
    if (cpu > 0) {
        uint64_t bits;
        memcpy(&bits, &cpu, sizeof bits);
        eng__wr_u8(w, 2);
        eng__wr_u64(w, bits);
    }
}

/* A count read from a record, bounded by the bytes left (each element takes >= 1). */
static size_t rd_count(eng__rd *r, size_t elem_size, eng__pool *p, void **arr)
{
    uint64_t n = eng__rd_uvar(r);
    *arr = NULL;
    if (!eng__rd_ok(r) || n == 0)
        return 0;
    if (n > eng__rd_left(r)) {
        r->err = ENG_ECORRUPT;
        return 0;
    }
    *arr = eng__pool_alloc(p, (size_t)n * elem_size);
    if (!*arr) {
        r->err = ENG_ENOMEM;
        return 0;
    }
    return (size_t)n;
}

void eng__msg_spec_dec(eng__rd *r, eng__pool *p, eng_message_spec *s)
{
    memset(s, 0, sizeof(*s));
    s->version = ENG_MESSAGE_SPEC_VERSION;
    s->title = eng__pool_rdstr(r, p);
    s->type = (int)eng__rd_svar(r);
    s->strategy = (int)eng__rd_svar(r);
    eng_variant *va;
    s->n_variants = rd_count(r, sizeof(*va), p, (void **)&va);
    for (size_t i = 0; eng__rd_ok(r) && i < s->n_variants; i++) {
        va[i].dimension = (int)eng__rd_svar(r);
        va[i].rule = eng__pool_rdstr(r, p);
        va[i].channel = (int)eng__rd_svar(r);
        va[i].body = eng__pool_rdstr(r, p);
    }
    s->variants = va;
    int *cp;
    s->n_channel_priority = rd_count(r, sizeof(*cp), p, (void **)&cp);
    for (size_t i = 0; eng__rd_ok(r) && i < s->n_channel_priority; i++)
        cp[i] = (int)eng__rd_svar(r);
    s->channel_priority = cp;
    s->include = eng__strs_dec(r, p, &s->n_include);
    s->exclude = eng__strs_dec(r, p, &s->n_exclude);
    eng_creative *cr;
    s->n_creatives = rd_count(r, sizeof(*cr), p, (void **)&cr);
    for (size_t i = 0; eng__rd_ok(r) && i < s->n_creatives; i++) {
        cr[i].channel = (int)eng__rd_svar(r);
        int has_subject = eng__rd_u8(r);
        char *subj = eng__pool_rdstr(r, p);
        cr[i].subject = has_subject ? subj : NULL;
        cr[i].body = eng__pool_rdstr(r, p);
    }
    s->creatives = cr;
    eng_incentive in = {.version = ENG_INCENTIVE_VERSION};
    in.kind = (int)eng__rd_svar(r);
    in.offer_id = eng__pool_rdstr(r, p);
    in.coupon_source = (int)eng__rd_svar(r);
    in.coupon_code = eng__pool_rdstr(r, p);
    in.coupon_pool = eng__pool_rdstr(r, p);
    in.points = eng__rd_svar(r);
    in.points_expiry_days = (uint32_t)eng__rd_uvar(r);
    eng_schedule sc = {.version = ENG_SCHEDULE_VERSION};
    sc.kind = (int)eng__rd_svar(r);
    sc.at = eng__rd_svar(r);
    sc.every = (uint32_t)eng__rd_uvar(r);
    sc.unit = (int)eng__rd_svar(r);
    sc.until = eng__rd_svar(r);
    eng_delivery d = {.version = ENG_DELIVERY_VERSION};
    eng_sender *se;
    d.n_senders = rd_count(r, sizeof(*se), p, (void **)&se);
    for (size_t i = 0; eng__rd_ok(r) && i < d.n_senders; i++) {
        se[i].channel = (int)eng__rd_svar(r);
        se[i].id = eng__pool_rdstr(r, p);
    }
    d.senders = se;
    d.poc = eng__strs_dec(r, p, &d.n_poc);
    d.tiny_url = (int)eng__rd_svar(r);
    eng_xengage_options x = ENG_XENGAGE_OPTIONS_INIT;
    for (unsigned last = 0; eng__rd_ok(r) && eng__rd_left(r);) {
        unsigned tag = eng__rd_u8(r);
        if (tag <= last || tag > 2) { /* each tag once, in order */
            r->err = ENG_ECORRUPT;
            break;
        }
        if (tag == 1)
            x.credit_cap = eng__rd_svar(r);
        else {
            uint64_t bits = eng__rd_u64(r);
            memcpy(&x.credits_per_unit, &bits, sizeof bits);
        }
        last = tag;
    }
    /* The parts live in the pool, like every string of the spec. */
    struct {
        eng_incentive in;
        eng_schedule sc;
        eng_delivery d;
        eng_xengage_options x;
    } *parts = eng__pool_alloc(p, sizeof *parts);
    if (!parts) {
        r->err = ENG_ENOMEM;
        return;
    }
    parts->in = in, parts->sc = sc, parts->d = d, parts->x = x;
    s->incentive = &parts->in;
    s->schedule = &parts->sc;
    s->delivery = &parts->d;
    s->xengage = &parts->x;
}

int eng__msg_hash(const eng__mem *mem, const eng_campaign_spec *c, const eng_message_spec *m, uint8_t out[32])
{
    eng__wr w;
    eng__wr_init(&w, mem);
    eng__camp_spec_enc(&w, c);
    eng__msg_spec_enc(&w, m);
    int rc = w.err;
    if (!rc)
        eng__sha256(w.data, w.len, out);
    eng__wr_free(&w);
    return rc ? eng__nomem() : ENG_OK;
}

/* ---- checks ---- */

static void creative_path(char *buf, size_t n, int ch)
{
    const char *name = eng_channel_name(ch);
    if (name)
        snprintf(buf, n, "message.creative[%s]", name);
    else
        snprintf(buf, n, "message.creative[%d]", ch);
}

static const eng_creative *find_creative(const eng_message_spec *s, int ch)
{
    for (size_t i = 0; s->creatives && i < s->n_creatives; i++)
        if (s->creatives[i].channel == ch)
            return &s->creatives[i];
    return NULL;
}

void eng__msg_check_structure(eng_validation *v, const eng_message_spec *s)
{
    if (eng__empty(s->title))
        eng__vr_add(v, ENG_EINVAL, "message.title", "a message needs a title");
    else if (strlen(s->title) > ENG__NAME_MAX)
        eng__vr_add(v, ENG_ETOOBIG, "message.title", "title longer than %d bytes", ENG__NAME_MAX);
    else
        eng__vr_text(v, "message.title", s->title, ENG__TEXT_NAME);
    if (s->type != ENG_MESSAGE_BROADCAST)
        eng__vr_add(v, ENG_EINVAL, "message.type", "%d is not an eng_message_type", s->type);
    if (s->strategy < ENG_STRATEGY_NONE || s->strategy > ENG_STRATEGY_XENGAGE)
        eng__vr_add(v, ENG_EINVAL, "message.strategy", "%d is not an eng_strategy", s->strategy);
    eng__strs_check(v, s->include, s->n_include, "message.audience.include", ENG__ID_MAX);
    eng__strs_check(v, s->exclude, s->n_exclude, "message.audience.exclude", ENG__ID_MAX);
    /* Creatives: valid channel, at most one per channel, bounded. */
    if (s->n_creatives && !s->creatives)
        eng__vr_add(v, ENG_EINVAL, "message.creatives", "creatives announced but the array is NULL");
    else if (s->n_creatives > ENG_CH_COUNT)
        eng__vr_add(v, ENG_ETOOBIG, "message.creatives", "at most one creative per channel (%d)", ENG_CH_COUNT);
    else
        for (size_t i = 0; i < s->n_creatives; i++) {
            char p[64];
            int ch = s->creatives[i].channel;
            creative_path(p, sizeof p, ch);
            if (ch < 0 || ch >= ENG_CH_COUNT) {
                eng__vr_add(v, ENG_EINVAL, p, "%d is not an eng_channel", ch);
                continue;
            }
            for (size_t j = 0; j < i; j++)
                if (s->creatives[j].channel == ch)
                    eng__vr_add(v, ENG_EEXISTS, p, "only one creative per channel");
            if ((s->creatives[i].body && strlen(s->creatives[i].body) > 1024 * 1024) ||
                (s->creatives[i].subject && strlen(s->creatives[i].subject) > 4096))
                eng__vr_add(v, ENG_ETOOBIG, p, "creative larger than the 1 MiB bound");
            else {
                char q[96];
                snprintf(q, sizeof q, "%s.subject", p);
                eng__vr_text(v, q, s->creatives[i].subject, ENG__TEXT_NAME);
                snprintf(q, sizeof q, "%s.body", p);
                eng__vr_text(v, q, s->creatives[i].body, 0);
            }
        }
    if (s->n_variants && (!s->variants || s->n_variants > 100))
        eng__vr_add(v, ENG_ETOOBIG, "message.variants", "at most 100 variants (and a non-NULL array)");
    else if (s->n_variants && s->strategy != ENG_STRATEGY_PERSONALIZATION)
        eng__vr_add(v, ENG_EINVAL, "message.variants", "variants belong to the personalization strategy");
    else
        for (size_t i = 0; i < s->n_variants; i++) {
            char p[64];
            snprintf(p, sizeof p, "message.variants[%zu].rule", i);
            eng__vr_text(v, p, s->variants[i].rule, 0);
            snprintf(p, sizeof p, "message.variants[%zu].body", i);
            eng__vr_text(v, p, s->variants[i].body, 0);
        }
    if (s->n_channel_priority && (!s->channel_priority || s->n_channel_priority > ENG_CH_COUNT))
        eng__vr_add(v, ENG_ETOOBIG, "message.channel_priority", "at most one entry per channel");
    else if (s->n_channel_priority && s->strategy != ENG_STRATEGY_CHANNEL_PRIORITY &&
             s->strategy != ENG_STRATEGY_XENGAGE) /* X-Engage: the guard rail and the priority its report estimates */
        eng__vr_add(v, ENG_EINVAL, "message.channel_priority",
                    "a channel list belongs to the channel priority and X-Engage strategies");
    eng__incentive_check(v, s->incentive, 0);
    eng__schedule_check(v, s->schedule, NULL, 0);
    const eng_xengage_options *xo = s->version >= 2 ? s->xengage : NULL;
    if (xo && xo->credit_cap < 0)
        eng__vr_add(v, ENG_EINVAL, "message.xengage.credit_cap", "a credit cap is 0 (none) or positive");
    else if (xo && xo->credit_cap && s->strategy != ENG_STRATEGY_XENGAGE)
        eng__vr_add(v, ENG_EINVAL, "message.xengage.credit_cap", "a credit cap belongs to the X-Engage strategy");
    if (xo && xo->version >= 2 && !(xo->credits_per_unit == 0 || (xo->credits_per_unit > 0 && xo->credits_per_unit <= 1e9)))
        eng__vr_add(v, ENG_ERANGE, "message.xengage.credits_per_unit",
                    "credits per unit of currency is 0 (one) or positive, at most 1e9");
    else if (eng__xengage_cpu(xo) > 0 && s->strategy != ENG_STRATEGY_XENGAGE)
        eng__vr_add(v, ENG_EINVAL, "message.xengage.credits_per_unit",
                    "credits per unit of currency belongs to the X-Engage strategy");
    const eng_delivery *d = s->delivery;
    if (d->n_senders && (!d->senders || d->n_senders > ENG_CH_COUNT))
        eng__vr_add(v, ENG_ETOOBIG, "message.delivery.senders", "at most one sender id per channel");
    else
        for (size_t i = 0; i < d->n_senders; i++) {
            char p[80];
            const char *name = eng_channel_name(d->senders[i].channel);
            snprintf(p, sizeof p, "message.delivery.sender[%s]", name ? name : "?");
            if (!name)
                eng__vr_add(v, ENG_EINVAL, p, "%d is not an eng_channel", d->senders[i].channel);
            else if (eng__empty(d->senders[i].id) || strlen(d->senders[i].id) > 64 ||
                     eng__name_flaw(d->senders[i].id))
                eng__vr_add(v, ENG_EINVAL, p, "a sender id is 1..64 bytes of UTF-8 without control characters");
            for (size_t j = 0; name && j < i; j++)
                if (d->senders[j].channel == d->senders[i].channel)
                    eng__vr_add(v, ENG_EEXISTS, p, "only one sender id per channel");
        }
    eng__strs_check(v, d->poc, d->n_poc, "message.delivery.poc", 254);
    if (d->n_poc > 100)
        eng__vr_add(v, ENG_ETOOBIG, "message.delivery.poc", "at most 100 POC recipients");
    for (size_t i = 0; d->poc && i < d->n_poc && i < 100; i++)
        if (d->poc[i] && *d->poc[i] && !eng__poc_channels(d->poc[i])) {
            char p[64];
            snprintf(p, sizeof p, "message.delivery.poc[%zu]", i);
            eng__vr_add(v, ENG_EINVAL, p, "'%.64s' is neither an email address nor a phone number (+ and 7..15 digits)",
                        d->poc[i]);
        }
}

uint32_t eng__poc_channels(const char *a)
{
    if (!a || !*a)
        return 0;
    for (const char *p = a; *p; p++)
        if ((unsigned char)*p <= ' ' && *p != ' ')
            return 0; /* control characters: never in an address */
    const char *at = strchr(a, '@');
    if (at) {
        size_t n = strlen(a);
        const char *dot = strrchr(at + 1, '.');
        if (at == a || strchr(at + 1, '@') || !dot || dot == at + 1 || a[n - 1] == '.' || strchr(a, ' '))
            return 0;
        return 1u << ENG_CH_EMAIL;
    }
    size_t digits = 0;
    const char *p = a + (*a == '+');
    for (; *p; p++)
        if (*p >= '0' && *p <= '9')
            digits++;
        else if (*p != ' ' && *p != '-' && *p != '(' && *p != ')')
            return 0;
    if (digits < 7 || digits > 15)
        return 0;
    return 1u << ENG_CH_SMS | 1u << ENG_CH_WHATSAPP | 1u << ENG_CH_VIBER | 1u << ENG_CH_RCS;
}

void eng__msg_check_full(eng_engine *e, eng_validation *v, const eng__org *o, const eng__camp *c,
                         const eng_message_spec *s)
{
    eng_time now = eng__now(e);
    size_t before = v ? v->n : 0;
    eng__msg_check_structure(v, s);
    if (v && v->n > before)
        return; /* a broken structure makes the deeper checks meaningless */
    /* The campaign's own rules again: org settings may have changed since it was saved.
     * A goal kept from before conversion goals were switched off is not the author's to fix. */
    eng__camp_check(e, v, &c->spec, o);
    eng__vr_drop(v, "campaign.goal", ENG_EUNSUPPORTED);
    if (s->n_include == 0)
        eng__vr_add(v, ENG_EINVAL, "message.audience.include", "add at least one audience group");
    /* A POC recipient no creative can reach would silently get nothing. */
    for (size_t i = 0; i < s->delivery->n_poc && i < 100; i++) {
        uint32_t fit = eng__poc_channels(s->delivery->poc[i]), has = 0;
        for (size_t k = 0; k < s->n_creatives; k++)
            if (s->creatives[k].channel >= 0 && s->creatives[k].channel < ENG_CH_COUNT)
                has |= 1u << s->creatives[k].channel;
        if (!(fit & has)) {
            char p[64];
            snprintf(p, sizeof p, "message.delivery.poc[%zu]", i);
            eng__vr_add(v, ENG_EINVAL, p,
                        "POC recipient '%.64s' fits none of the message's channels (an email address needs an email "
                        "creative; a phone number SMS, WhatsApp, Viber or RCS)",
                        s->delivery->poc[i]);
        }
    }
    eng__audience_refs_check(e, v, o->id, s);
    if (s->n_creatives == 0 && s->strategy != ENG_STRATEGY_XENGAGE)
        eng__vr_add(v, ENG_EINVAL, "message.creatives", "add at least one creative");
    for (size_t i = 0; i < s->n_creatives; i++) {
        char p[64];
        int ch = s->creatives[i].channel;
        creative_path(p, sizeof p, ch);
        /* Ad channels are valid with every strategy (the broadcast seed's "Facebook ... and more"): their
         * sends leave through the host's ad export whatever chose them (dispatch/adexport.c). */
        eng__creative_check(v, &s->creatives[i], p);
    }
    if (s->strategy == ENG_STRATEGY_PERSONALIZATION) {
        if (s->n_variants == 0)
            eng__vr_add(v, ENG_EINVAL, "message.variants", "personalization needs at least one variant");
        for (size_t i = 0; i < s->n_variants; i++) {
            const eng_variant *va = &s->variants[i];
            char p[64];
            snprintf(p, sizeof p, "message.variants[%zu]", i);
            char q[96];
            if (va->dimension < ENG_VARIANT_PRODUCT || va->dimension > ENG_VARIANT_TIME) {
                snprintf(q, sizeof q, "%s.dimension", p);
                eng__vr_add(v, ENG_EINVAL, q, "%d is not an eng_variant_dim", va->dimension);
            }
            snprintf(q, sizeof q, "%s.rule", p);
            if (eng__empty(va->rule))
                eng__vr_add(v, ENG_EINVAL, q, "a variant needs a rule");
            else
                eng__model_rule_check_org(e, v, o->id, va->rule, ENG_SCHEMA_CUSTOMER, q);
            const eng_creative *base = find_creative(s, va->channel);
            if (!base) {
                snprintf(q, sizeof q, "%s.channel", p);
                eng__vr_add(v, ENG_ENOTFOUND, q, "the variant's channel has no creative");
            } else {
                eng_creative alt = {va->channel, base->subject, va->body};
                eng__creative_check(v, &alt, p);
            }
        }
    }
    if (s->strategy == ENG_STRATEGY_CHANNEL_PRIORITY) {
        if (s->n_channel_priority == 0)
            eng__vr_add(v, ENG_EINVAL, "message.channel_priority", "channel priority needs an ordered channel list");
        for (size_t i = 0; i < s->n_channel_priority; i++) {
            char p[64];
            snprintf(p, sizeof p, "message.channel_priority[%zu]", i);
            int ch = s->channel_priority[i];
            if (!eng_channel_name(ch))
                eng__vr_add(v, ENG_EINVAL, p, "%d is not an eng_channel", ch);
            else if (!find_creative(s, ch))
                eng__vr_add(v, ENG_ENOTFOUND, p, "channel %s has no creative", eng_channel_name(ch));
            for (size_t j = 0; j < i; j++)
                if (s->channel_priority[j] == ch)
                    eng__vr_add(v, ENG_EEXISTS, p, "channel listed twice");
        }
    }
    eng__incentive_check(v, s->incentive, 1);
    eng__offer_claim_check(e, v, o->id, &c->spec, s->incentive);
    eng__schedule_check(v, s->schedule, &c->spec, 1);
    if (s->schedule->kind != ENG_SCHEDULE_NONE && s->schedule->at < now)
        eng__vr_add(v, ENG_ERANGE, "message.schedule.at", "the send time is in the past");
    if (s->strategy == ENG_STRATEGY_XENGAGE)
        eng__xengage_check(e, v, o, c, s, now);
}

/* ---- records ---- */

static void msg_enc(eng__wr *w, const void *obj)
{
    const eng__msg *m = obj;
    eng__wr_u64(w, m->id);
    eng__wr_u64(w, m->campaign);
    eng__wr_svar(w, m->state);
    eng__wr_str(w, m->created_by);
    eng__wr_str(w, m->edited_by);
    eng__wr_svar(w, m->created_at);
    eng__wr_svar(w, m->updated_at);
    eng__wr_str(w, m->decided_by);
    eng__wr_svar(w, m->decided_at);
    eng__wr_str(w, m->comment);
    eng__wr_u8(w, (uint8_t)(m->approved != 0));
    eng__wr_bytes(w, m->approved_hash, 32);
    eng__msg_spec_enc(w, &m->spec);
}

static int msg_dec(eng__rd *r, eng__pool *p, void *obj)
{
    eng__msg *m = obj;
    m->id = eng__rd_u64(r);
    m->campaign = eng__rd_u64(r);
    m->state = (int)eng__rd_svar(r);
    m->created_by = eng__pool_rdstr(r, p);
    m->edited_by = eng__pool_rdstr(r, p);
    m->created_at = eng__rd_svar(r);
    m->updated_at = eng__rd_svar(r);
    m->decided_by = eng__pool_rdstr(r, p);
    m->decided_at = eng__rd_svar(r);
    m->comment = eng__pool_rdstr(r, p);
    m->approved = eng__rd_u8(r);
    const uint8_t *h = eng__rd_bytes(r, 32);
    if (h)
        memcpy(m->approved_hash, h, 32);
    eng__msg_spec_dec(r, p, &m->spec);
    return m->state < 0 || m->state > ENG_STATE_STOPPED;
}

static void msg_key(char *key, size_t n, char *obj, size_t on, uint64_t id)
{
    eng__key_id(key, n, 'g', id);
    snprintf(obj, on, "message/%llu", (unsigned long long)id);
}

int eng__msg_store(eng_engine *e, const eng__msg *m)
{
    char key[32], obj[48];
    msg_key(key, sizeof key, obj, sizeof obj, m->id);
    return eng__obj_put(e, key, ENG__REC_MESSAGE, msg_enc, m, NULL, NULL, NULL, NULL);
}

int eng__msg_load(eng_engine *e, uint64_t id, eng__msg *m)
{
    char key[32];
    eng__key_id(key, sizeof key, 'g', id);
    int rc = eng__obj_load(e, key, ENG__REC_MESSAGE, "message", m, sizeof *m, &m->pool, msg_dec);
    if (rc == ENG_ENOTFOUND)
        return eng__err(ENG_ENOTFOUND, "message", "message %llu does not exist", (unsigned long long)id);
    if (rc == ENG_OK && m->id != id) {
        eng__msg_free(m);
        return eng__err(ENG_ECORRUPT, key, "message record does not decode");
    }
    return rc;
}

void eng__msg_free(eng__msg *m)
{
    eng__pool_free(&m->pool);
    memset(m, 0, sizeof(*m));
}

int eng__msg_put_audited(eng_engine *e, const char *org, const char *actor, const eng__msg *m, const char *action)
{
    int rc = ENG_OK;
    /* leaving approved/executing (voided, stopped, finished) releases its X-Engage credits */
    if (m->state != ENG_STATE_APPROVED && m->state != ENG_STATE_EXECUTING)
        rc = eng__xengage_release(e, org, m->id);
    char key[32], obj[48];
    msg_key(key, sizeof key, obj, sizeof obj, m->id);
    return rc ? rc : eng__obj_put(e, key, ENG__REC_MESSAGE, msg_enc, m, org, actor, obj, action);
}

int eng__msg_write(eng_engine *e, const eng__msg_ctx *x, const char *action)
{
    return eng__msg_put_audited(e, x->o.id, x->a.id, &x->m, action);
}

int eng__msg_ctx_load(eng_engine *e, const char *actor, uint64_t id, int op, eng__msg_ctx *x)
{
    memset(x, 0, sizeof(*x));
    eng__pool_init(&x->c.pool, &e->mem);
    eng__pool_init(&x->m.pool, &e->mem);
    int rc = eng__who(e, actor, &x->a, &x->o);
    if (rc)
        return rc;
    if ((rc = eng__msg_load(e, id, &x->m)) == ENG_OK && (rc = eng__camp_load(e, x->m.campaign, &x->c)) == ENG_OK)
        rc = eng__camp_access(&x->a, &x->o, &x->c, op, "message", id);
    if (rc)
        eng__msg_ctx_free(x);
    return rc;
}

void eng__msg_ctx_free(eng__msg_ctx *x)
{
    eng__msg_free(&x->m);
    eng__camp_free(&x->c);
    eng__org_free(&x->o);
    eng__actor_free(&x->a);
}

static int spec_arg(const eng_message_spec *s)
{
    if (!s)
        return eng__err(ENG_EINVAL, "message", "message spec is NULL");
    if (s->version == 0 || s->version > ENG_MESSAGE_SPEC_VERSION)
        return eng__err(ENG_EVERSION, "message.version", "unsupported eng_message_spec version %u", s->version);
    int rc = eng__sub_version(s->incentive, ENG_INCENTIVE_VERSION, "message.incentive", "eng_incentive");
    if (!rc)
        rc = eng__sub_version(s->schedule, ENG_SCHEDULE_VERSION, "message.schedule", "eng_schedule");
    if (!rc)
        rc = eng__sub_version(s->delivery, ENG_DELIVERY_VERSION, "message.delivery", "eng_delivery");
    if (!rc && s->version >= 2)
        rc = eng__sub_version(s->xengage, ENG_XENGAGE_OPTIONS_VERSION, "message.xengage", "eng_xengage_options");
    return rc;
}

static int spec_copy(eng__pool *p, const eng_message_spec *in, eng_message_spec *out)
{
    eng__wr w;
    eng__wr_init(&w, p->mem);
    eng__msg_spec_enc(&w, in);
    if (w.err) {
        eng__wr_free(&w);
        return eng__nomem();
    }
    eng__rd r;
    eng__rd_init(&r, w.data, w.len);
    eng__msg_spec_dec(&r, p, out);
    eng__wr_free(&w);
    return r.err ? eng__nomem() : ENG_OK;
}

/* The spec's structure and its coupon offer's claim, in one report. A claim that failed (the offer's read) means
 * the spec was not judged: that failure is the answer, with no report, never a validation failure. */
static int check_and_claim(eng_engine *e, const eng__msg_ctx *x, const eng_message_spec *spec, eng__offer *of,
                           int *claimed, eng_validation **report)
{
    eng_validation *v = eng__vr_new(&e->mem);
    eng__msg_check_structure(v, spec);
    int rc = eng__offer_claim(e, v, x->o.id, &x->c.spec, spec->incentive, of, claimed);
    if (rc) {
        eng_validation_free(v);
        return rc;
    }
    return eng__vr_finish(v, report);
}

ENG_API int eng_message_create(eng_engine *e, const char *actor, uint64_t campaign, const eng_message_spec *spec,
                               uint64_t *id, eng_validation **report)
{
    if (id)
        *id = 0;
    if (report)
        *report = NULL;
    int rc = eng__enter(e);
    if (rc)
        return rc;
    if (!id) {
        rc = eng__err(ENG_EINVAL, "id", "id is NULL");
        goto out;
    }
    if ((rc = spec_arg(spec)))
        goto out;
    eng_message_spec given;
    eng__msg_spec_parts(spec, &given);
    spec = &given; /* NULL parts are their defaults from here on */
    eng__offer of;
    int claimed = 0;
    memset(&of, 0, sizeof of);
    eng__msg_ctx x;
    memset(&x, 0, sizeof(x));
    eng__pool_init(&x.c.pool, &e->mem);
    eng__pool_init(&x.m.pool, &e->mem);
    if ((rc = eng__who(e, actor, &x.a, &x.o)))
        goto out;
    if ((rc = eng__camp_load(e, campaign, &x.c)))
        goto done;
    if ((rc = eng__camp_access(&x.a, &x.o, &x.c, ENG_OP_EDIT, "campaign", campaign)))
        goto done;
    if ((rc = check_and_claim(e, &x, spec, &of, &claimed, report)))
        goto done;
    if (x.c.n_msgs >= ENG__LIST_MAX) {
        rc = eng__err(ENG_ETOOBIG, "campaign.messages", "a campaign has at most %d messages", ENG__LIST_MAX);
        goto done;
    }
    if ((rc = spec_copy(&x.m.pool, spec, &x.m.spec)))
        goto done;
    if (claimed && (rc = eng__offer_apply(&x.m.pool, &of, &x.m.spec.incentive)))
        goto done;
    uint64_t *ids = eng__pool_alloc(&x.c.pool, (x.c.n_msgs + 1) * sizeof(*ids));
    if (!ids) {
        rc = eng__nomem();
        goto done;
    }
    if (x.c.n_msgs)
        memcpy(ids, x.c.msgs, x.c.n_msgs * sizeof(*ids));
    x.m.campaign = campaign;
    x.m.state = ENG_STATE_DRAFT;
    x.m.created_by = x.m.edited_by = x.a.id;
    x.m.created_at = x.m.updated_at = eng__now(e);
    x.m.decided_by = x.m.comment = (char *)"";
    if ((rc = eng__kv_begin(e->store)))
        goto done;
    rc = eng__next_id(e, &x.m.id);
    if (rc == ENG_OK) {
        ids[x.c.n_msgs] = x.m.id;
        x.c.msgs = ids;
        x.c.n_msgs++;
        rc = eng__msg_write(e, &x, "create");
    }
    /* The campaign's message list changed too: its own entry, with its new state. */
    if (rc == ENG_OK)
        rc = eng__camp_write(e, &x.c, x.a.id, "message-add");
    if ((rc = eng__batch_end(e, rc)) == ENG_OK)
        *id = x.m.id;
done:
    eng__offer_free(&of);
    eng__msg_ctx_free(&x);
out:
    eng__leave(e);
    return rc;
}

ENG_API int eng_message_update(eng_engine *e, const char *actor, uint64_t id, const eng_message_spec *spec,
                               eng_validation **report)
{
    if (report)
        *report = NULL;
    int rc = eng__enter(e);
    if (rc)
        return rc;
    if ((rc = spec_arg(spec)))
        goto out;
    eng_message_spec given;
    eng__msg_spec_parts(spec, &given);
    spec = &given; /* NULL parts are their defaults from here on */
    eng__offer of;
    int claimed = 0;
    memset(&of, 0, sizeof of);
    eng__msg_ctx x;
    if ((rc = eng__msg_ctx_load(e, actor, id, ENG_OP_EDIT, &x)))
        goto out;
    int next = eng_message_transition(x.m.state, ENG_ACT_EDIT);
    if (next < 0) {
        rc = next;
        goto done;
    }
    if ((rc = check_and_claim(e, &x, spec, &of, &claimed, report)))
        goto done;
    if ((rc = spec_copy(&x.m.pool, spec, &x.m.spec)))
        goto done;
    if (claimed && (rc = eng__offer_apply(&x.m.pool, &of, &x.m.spec.incentive)))
        goto done;
    x.m.state = next;
    x.m.approved = 0; /* any change voids the approval */
    memset(x.m.approved_hash, 0, 32);
    x.m.edited_by = x.a.id;
    x.m.updated_at = eng__now(e);
    if ((rc = eng__kv_begin(e->store)) == ENG_OK)
        rc = eng__batch_end(e, eng__msg_write(e, &x, "update"));
done:
    eng__offer_free(&of);
    eng__msg_ctx_free(&x);
out:
    eng__leave(e);
    return rc;
}

ENG_API int eng_message_validate(eng_engine *e, const char *actor, uint64_t id, eng_validation **report)
{
    int rc = eng__enter_ptr(e, report, "report");
    if (rc)
        return rc;
    eng__msg_ctx x;
    if ((rc = eng__msg_ctx_load(e, actor, id, ENG_OP_READ, &x)))
        goto out;
    eng_validation *v = eng__vr_new(&e->mem);
    if (!v) {
        rc = eng__nomem();
    } else {
        eng__msg_check_full(e, v, &x.o, &x.c, &x.m.spec);
        if (v->oom) {
            eng_validation_free(v);
            rc = eng__nomem();
        } else if ((rc = eng__vr_store_failed(v))) {
            eng_validation_free(v);
        } else {
            rc = v->n ? eng__err(ENG_EVALIDATION, v->items[0].path, "%s", v->items[0].msg) : ENG_OK;
            *report = v;
        }
    }
    eng__msg_ctx_free(&x);
out:
    eng__leave(e);
    return rc;
}

/* ---- snapshots ---- */
struct eng_message {
    eng__child h;
    eng__msg m;
    char hash[65], approved[65];
};

ENG_API int eng_message_get(eng_engine *e, const char *actor, uint64_t id, eng_message **out)
{
    int rc = eng__enter_ptr(e, out, "out");
    if (rc)
        return rc;
    eng__msg_ctx x;
    if ((rc = eng__msg_ctx_load(e, actor, id, ENG_OP_READ, &x)))
        goto out;
    eng_message *h = eng__child_new(e, sizeof(*h), ENG__H_MESSAGE);
    uint8_t hash[32];
    if (!h) {
        rc = eng__nomem();
    } else if ((rc = eng__msg_hash(&e->mem, &x.c.spec, &x.m.spec, hash)) == ENG_OK) {
        eng__hex(hash, 32, h->hash);
        if (x.m.approved)
            eng__hex(x.m.approved_hash, 32, h->approved);
        h->m = x.m; /* take the message's pool */
        eng__pool_init(&x.m.pool, &e->mem);
        *out = eng__child_give(h);
    } else {
        eng__child_drop(h);
    }
    eng__msg_ctx_free(&x);
out:
    eng__leave(e);
    return rc;
}

ENG_API int eng_message_fields(const eng_message *m, const eng_message_spec **out)
{
    if (out)
        *out = NULL;
    int rc = eng__child_check(m, ENG__H_MESSAGE, "message", out);
    if (!rc)
        *out = &m->m.spec;
    return rc;
}

ENG_API int eng_message_status_init(eng_message_status *x, unsigned int version)
{
    static const eng_message_status init = ENG_MESSAGE_STATUS_INIT;
    return eng__struct_init(x, &init, ENG__SIZES(sizeof init), version, "eng_message_status");
}

ENG_API int eng_message_status_get(const eng_message *m, eng_message_status *out)
{
    int rc = eng__child_out(m, ENG__H_MESSAGE, "message", out, ENG__SIZES(sizeof *out), "eng_message_status");
    if (rc)
        return rc;
    const eng__msg *x = &m->m;
    eng_message_status full = {out->version, x->id, x->campaign, x->state, x->created_by, x->edited_by,
                               x->updated_at, x->decided_by, x->decided_at, x->comment, m->approved, m->hash};
    memcpy(out, &full, ENG__UPTO(eng_message_status, content_hash)); /* the fields of version 1 */
    return ENG_OK;
}

ENG_API void eng_message_free(eng_message *m)
{
    if (!eng__handle_live(m, ENG__H_MESSAGE))
        return;
    eng__msg_free(&m->m);
    eng__child_free(m);
}

ENG_API int eng_message_delete(eng_engine *e, const char *actor, uint64_t id)
{
    int rc = eng__enter(e);
    if (rc)
        return rc;
    eng__msg_ctx x;
    if ((rc = eng__msg_ctx_load(e, actor, id, ENG_OP_EDIT, &x)))
        goto out;
    if (x.m.state == ENG_STATE_EXECUTING || x.m.state == ENG_STATE_EXECUTED) {
        rc = eng__err(ENG_ESTATE, "message.state", "a message that is %s cannot be deleted",
                      eng__state_name(x.m.state));
        goto done;
    }
    size_t k = 0;
    for (size_t i = 0; i < x.c.n_msgs; i++)
        if (x.c.msgs[i] != id)
            x.c.msgs[k++] = x.c.msgs[i];
    x.c.n_msgs = k;
    if ((rc = eng__kv_begin(e->store)) == ENG_OK) {
        char key[32], obj[48];
        msg_key(key, sizeof key, obj, sizeof obj, id);
        rc = eng__kv_del(e->store, ENG__K(key));
        if (rc == ENG_OK)
            rc = eng__xengage_release(e, x.o.id, id);
        if (rc == ENG_OK)
            rc = eng__audit_append(e, x.o.id, x.a.id, obj, "delete", "", 0);
        if (rc == ENG_OK)
            rc = eng__camp_write(e, &x.c, x.a.id, "message-remove");
        rc = eng__batch_end(e, rc);
    }
done:
    eng__msg_ctx_free(&x);
out:
    eng__leave(e);
    return rc;
}
