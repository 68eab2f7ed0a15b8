/* Ad audiences leave through the host's export callback, not the transport
 * (the hooks are set here). Identifiers: the customer's contact on the ad channel,
 * normalised the way the platform matches it, then SHA-256 in lower-case hex.
 *   email (has '@'): surrounding white space trimmed, ASCII lower-cased;
 *   phone, Meta (facebook, instagram): the digits only, country code first, no '+';
 *   phone, Google (google, youtube): E.164, '+' and the digits.
 * A leading international "00" counts as the '+'. A phone with fewer than 7
 * or more than 15 digits is not a usable identifier. */
#include "dispatch/dispatch_impl.h"
#include "base/hash.h"

#include <stdio.h>

int eng__ad_channel(int channel)
{
    return channel == ENG_CH_FACEBOOK || channel == ENG_CH_INSTAGRAM || channel == ENG_CH_GOOGLE ||
           channel == ENG_CH_YOUTUBE;
}

size_t eng__ad_normalise(int channel, const char *s, size_t n, char *out, size_t cap)
{
    while (n && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n'))
        s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        n--;
    if (!n || !eng__ad_channel(channel))
        return 0;
    if (memchr(s, '@', n)) {
        if (n >= cap)
            return 0;
        for (size_t i = 0; i < n; i++)
            out[i] = s[i] >= 'A' && s[i] <= 'Z' ? (char)(s[i] - 'A' + 'a') : s[i];
        out[n] = 0;
        return n;
    }
    size_t k = 0;
    if (channel == ENG_CH_GOOGLE || channel == ENG_CH_YOUTUBE)
        out[k++] = '+';
    size_t start = k;
    int lead00 = n >= 2 && s[0] == '0' && s[1] == '0';
    for (size_t i = lead00 ? 2 : 0; i < n; i++) {
        if (s[i] >= '0' && s[i] <= '9') {
            if (k + 1 >= cap)
                return 0;
            out[k++] = s[i];
        } else if (!(s[i] == '+' || s[i] == ' ' || s[i] == '-' || s[i] == '(' || s[i] == ')' || s[i] == '.')) {
            return 0; /* letters or other marks: not a phone number */
        }
    }
    if (k - start < 7 || k - start > 15)
        return 0;
    out[k] = 0;
    return k;
}

size_t eng__ad_hash(int channel, const char *contact, size_t n, char hex[65])
{
    char norm[320];
    size_t m = eng__ad_normalise(channel, contact, n, norm, sizeof norm);
    if (!m)
        return 0;
    uint8_t h[32];
    eng__sha256(norm, m, h);
    eng__hex(h, 32, hex);
    hex[64] = 0;
    return 64;
}

ENG_API int eng_ad_identifier_hash(int channel, const char *contact, char *out, size_t cap)
{
    if (out && cap)
        out[0] = 0;
    if (!out || cap < 65)
        return eng__err(ENG_EINVAL, "out", "the output needs 65 bytes");
    if (!eng__ad_channel(channel))
        return eng__err(ENG_EINVAL, "channel", "channel %d is not an ad channel", channel);
    if (!contact)
        return eng__err(ENG_EINVAL, "contact", "contact is NULL");
    if (!eng__ad_hash(channel, contact, strlen(contact), out))
        return eng__err(ENG_EINVAL, "contact", "not a usable email address or phone number");
    return ENG_OK;
}

ENG_API int eng_ad_manifest_init(eng_ad_manifest *x, unsigned int version)
{
    static const eng_ad_manifest init = ENG_AD_MANIFEST_INIT;
    return eng__struct_init(x, &init, ENG__SIZES(sizeof init), version, "eng_ad_manifest");
}

ENG_API int eng_dispatch_hooks_init(eng_dispatch_hooks *x, unsigned int version)
{
    static const eng_dispatch_hooks init = ENG_DISPATCH_HOOKS_INIT;
    return eng__struct_init(x, &init,
                            ENG__SIZES(ENG__UPTO(eng_dispatch_hooks, ad_export), ENG__UPTO(eng_dispatch_hooks, rate_limit),
                                       sizeof init),
                            version, "eng_dispatch_hooks");
}

ENG_API int eng_tiny_url_request_init(eng_tiny_url_request *x, unsigned int version)
{
    static const eng_tiny_url_request init = ENG_TINY_URL_REQUEST_INIT;
    return eng__struct_init(x, &init, ENG__SIZES(sizeof init), version, "eng_tiny_url_request");
}

ENG_API int eng_dispatch_hooks_set(eng_engine *e, const eng_dispatch_hooks *hooks, void *user)
{
    if (hooks && (hooks->version == 0 || hooks->version > ENG_DISPATCH_HOOKS_VERSION))
        return eng__err(ENG_EVERSION, "hooks.version", "unsupported eng_dispatch_hooks version %u", hooks->version);
    int rc = eng__enter(e);
    if (rc)
        return rc;
    eng__dsp *d = eng__dsp_get(e);
    if (!d) {
        rc = eng__nomem();
    } else {
        memset(&d->hooks, 0, sizeof d->hooks);
        d->hooks.version = ENG_DISPATCH_HOOKS_VERSION;
        if (hooks)
            d->hooks.ad_export = hooks->ad_export;
        if (hooks && hooks->version >= 2) {
            d->hooks.tiny_url = hooks->tiny_url;
            memcpy(d->hooks.rate_limit, hooks->rate_limit, sizeof d->hooks.rate_limit);
        }
        if (hooks && hooks->version >= 3)
            d->hooks.points = hooks->points;
        d->hooks_user = user;
    }
    eng__leave(e);
    return rc;
}

size_t eng__ad_part_key(char *buf, size_t cap, const char *keypfx, size_t plen, uint32_t part, int channel)
{
    /* The send-key prefix ends in "/u" (the customer follows); a part has "/p<part>/<channel>" instead. */
    const char *ch = eng_channel_name(channel);
    int n = snprintf(buf, cap, "%.*sp%u/%s", (int)(plen ? plen - 1 : 0), keypfx, part, ch ? ch : "?");
    return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}

void eng__ad_list_hash(const char *const *hashes, size_t n, char hex[65])
{
    eng__sha256_ctx s;
    eng__sha256_init(&s);
    for (size_t i = 0; i < n; i++) {
        eng__sha256_update(&s, hashes[i], strlen(hashes[i]));
        eng__sha256_update(&s, "\n", 1);
    }
    uint8_t h[32];
    eng__sha256_final(&s, h);
    eng__hex(h, 32, hex);
    hex[64] = 0;
}
