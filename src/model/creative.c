/* Per-channel creative validation and the template-tag checker.
 * SMS needs the opt-out tag; email needs a subject and the unsubscribe tag;
 * push has title and body limits; every channel bounds its sizes; every
 * `{{tag}}` or `{{tag | "default"}}` (base/template.h) must parse and name a
 * known field. */
#include "model/model_impl.h"
#include "base/template.h"

#include <stdio.h>

#define TAG_OPTOUT "optout"
#define TAG_UNSUBSCRIBE "unsubscribe"

/* Fields a template may name; "custom.<x>" and "product.<x>" are open namespaces. */
static const char *const known_tags[] = {
    "first_name", "last_name", "full_name", "email", "mobile", "city", "country", "birthday",
    "store_name", "store_city", "loyalty_tier", "points", "points_balance", "points_expiry",
    "coupon_code", "coupon_expiry", "offer_name", "campaign_name", "tiny_url", TAG_OPTOUT, TAG_UNSUBSCRIBE, NULL};

static int tag_known(const char *name, size_t n)
{
    for (const char *const *k = known_tags; *k; k++)
        if (strlen(*k) == n && memcmp(*k, name, n) == 0)
            return 1;
    if ((n > 7 && memcmp(name, "custom.", 7) == 0) || (n > 8 && memcmp(name, "product.", 8) == 0))
        return 1;
    return 0;
}

/* Check every tag of @p text; returns a bit set: 1 = has optout, 2 = has unsubscribe. */
int eng__template_check(eng_validation *v, const char *text, const char *path)
{
    int found = 0;
    if (!text)
        return 0;
    eng__ttok t;
    for (const char *p = text;; ) {
        p = eng__ttok_next(text, p, &t);
        switch (t.kind) {
        case ENG__TT_END:
            return found;
        case ENG__TT_TEXT:
            continue;
        case ENG__TT_STRAY_CLOSE:
            eng__vr_add(v, ENG_EPARSE, path, "'}}' at byte %zu closes no tag", t.offset);
            return found;
        case ENG__TT_UNCLOSED:
            eng__vr_add(v, ENG_EPARSE, path, "tag opened at byte %zu is not closed", t.offset);
            return found;
        case ENG__TT_MALFORMED:
            eng__vr_add(v, ENG_EPARSE, path, "malformed tag at byte %zu", t.offset);
            p = strstr(p + 2, "}}") + 2; /* the tokenizer found the close */
            continue;
        default:
            break;
        }
        if (!tag_known(t.text, t.len)) {
            eng__vr_add(v, ENG_ENOTFOUND, path, "tag {{%.*s}} names no known field", (int)t.len, t.text);
        } else {
            if (t.len == strlen(TAG_OPTOUT) && memcmp(t.text, TAG_OPTOUT, t.len) == 0)
                found |= 1;
            if (t.len == strlen(TAG_UNSUBSCRIBE) && memcmp(t.text, TAG_UNSUBSCRIBE, t.len) == 0)
                found |= 2;
        }
    }
}

/* Size limits per channel: body bytes, subject/title bytes (0: no subject used). */
static const struct {
    size_t body, subject;
} limits[ENG_CH_COUNT] = {
    [ENG_CH_SMS] = {1600, 0},        [ENG_CH_EMAIL] = {512 * 1024, 255}, [ENG_CH_PUSH] = {240, 65},
    [ENG_CH_WHATSAPP] = {4096, 60},  [ENG_CH_WECHAT] = {2048, 64},       [ENG_CH_VIBER] = {1000, 0},
    [ENG_CH_RCS] = {2048, 200},      [ENG_CH_ZALO] = {2000, 100},        [ENG_CH_INAPP] = {4096, 100},
    [ENG_CH_LINE] = {5000, 100},     [ENG_CH_CALLTASK] = {4096, 200},    [ENG_CH_FACEBOOK] = {2048, 40},
    [ENG_CH_INSTAGRAM] = {2200, 40}, [ENG_CH_GOOGLE] = {2048, 30},       [ENG_CH_YOUTUBE] = {2048, 100},
};

void eng__creative_check(eng_validation *v, const eng_creative *c, const char *base)
{
    char bp[96], sp[96];
    snprintf(bp, sizeof bp, "%s.body", base);
    snprintf(sp, sizeof sp, "%s.subject", base);
    int ch = c->channel;
    if (ch < 0 || ch >= ENG_CH_COUNT) {
        eng__vr_add(v, ENG_EINVAL, base, "%d is not an eng_channel", ch);
        return;
    }
    size_t blen = c->body ? strlen(c->body) : 0, slen = c->subject ? strlen(c->subject) : 0;
    if (blen == 0)
        eng__vr_add(v, ENG_EINVAL, bp, "the %s content is empty", eng_channel_name(ch));
    else if (blen > limits[ch].body)
        eng__vr_add(v, ENG_ETOOBIG, bp, "%zu bytes; %s allows %zu", blen, eng_channel_name(ch), limits[ch].body);
    if (slen && limits[ch].subject == 0)
        eng__vr_add(v, ENG_EINVAL, sp, "%s has no subject or title", eng_channel_name(ch));
    else if (slen > limits[ch].subject)
        eng__vr_add(v, ENG_ETOOBIG, sp, "%zu bytes; %s allows %zu", slen, eng_channel_name(ch), limits[ch].subject);
    int tags = eng__template_check(v, c->body, bp);
    eng__template_check(v, c->subject, sp);
    switch (ch) {
    case ENG_CH_SMS:
        if (blen && !(tags & 1))
            eng__vr_add(v, ENG_EINVAL, bp, "SMS content must contain the opt-out tag {{optout}}");
        break;
    case ENG_CH_EMAIL:
        if (slen == 0)
            eng__vr_add(v, ENG_EINVAL, sp, "an email needs a subject");
        if (blen && !(tags & 2))
            eng__vr_add(v, ENG_EINVAL, bp, "email content must contain the unsubscribe tag {{unsubscribe}}");
        break;
    case ENG_CH_PUSH:
        if (slen == 0)
            eng__vr_add(v, ENG_EINVAL, sp, "a push notification needs a title");
        break;
    default:
        break;
    }
}
