/* Unsubscribe links that cannot be forged. A token is
 *   <campaign>.<customer>.<channel>.<org as hex>.<HMAC-SHA-256 hex>
 * with the MAC over "v1|org|campaign|customer|channel" under the org's secret
 * (record d/u/<org>). Verification recomputes it with the secret of the org
 * that received the token, so a token of another org, an altered field or a
 * made-up MAC is refused before anything is recorded. */
#include "dispatch/dispatch_impl.h"
#include "base/hash.h"
#include "audience/audience_link.h"

#include <stdio.h>
#include <stdlib.h>

enum { ENG__REC_DSP_UNSUB = 0x0603 };
#define URL_MAX 512

static void unsub_key(char *buf, size_t cap, const char *org)
{
    snprintf(buf, cap, "d/u/%s", org);
}

int eng__unsub_load(eng_engine *e, const char *org, eng__unsub *out)
{
    char key[96];
    unsub_key(key, sizeof key, org);
    memset(out, 0, sizeof *out);
    eng__rec rec;
    int rc = eng__rec_get(e->store, ENG__K(key), ENG__REC_DSP_UNSUB, ENG__DSP_SCHEMA, &rec);
    if (rc)
        return rc;
    eng__rd r;
    eng__rd_init(&r, rec.payload, rec.len);
    size_t ul, sl;
    const uint8_t *u = eng__rd_blob(&r, &ul), *sc = eng__rd_blob(&r, &sl);
    int ok = u && sc && ul < sizeof out->url && sl <= sizeof out->secret && eng__rd_ok(&r) && !eng__rd_left(&r);
    if (ok) {
        memcpy(out->url, u, ul);
        out->url[ul] = 0;
        memcpy(out->secret, sc, sl);
        out->secret_len = sl;
    }
    eng__rec_free(e->store, &rec);
    return ok ? ENG_OK : eng__err(ENG_ECORRUPT, key, "unsubscribe record '%s' does not decode", key);
}

static void mac_of(const eng__unsub *u, const char *org, uint64_t campaign, uint32_t customer, int channel,
                   char hex[65])
{
    char msg[256];
    int n = snprintf(msg, sizeof msg, "v1|%s|%llu|%u|%d", org, (unsigned long long)campaign, customer, channel);
    uint8_t mac[32];
    eng__hmac_sha256(u->secret, u->secret_len, msg, (size_t)n, mac);
    eng__hex(mac, 32, hex);
}

size_t eng__unsub_url(const eng__unsub *u, const char *org, uint64_t campaign, uint32_t customer, int channel,
                      char *buf, size_t cap)
{
    char mac[65], orghex[2 * 64 + 1];
    size_t ol = strlen(org);
    eng__hex((const uint8_t *)org, ol < 64 ? ol : 64, orghex);
    mac_of(u, org, campaign, customer, channel, mac);
    int n = snprintf(buf, cap, "%s%ct=%llu.%u.%d.%s.%s", u->url, strchr(u->url, '?') ? '&' : '?',
                     (unsigned long long)campaign, customer, channel, orghex, mac);
    return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}

ENG_API int eng_unsubscribe_setup(eng_engine *e, const char *actor, const char *url, const void *secret, size_t slen)
{
    int rc = eng__enter(e);
    if (rc)
        return rc;
    eng__actor a;
    eng__org o;
    if ((rc = eng__who(e, actor, &a, &o)))
        goto out;
    if ((rc = eng__access(&a, &o, ENG_OP_ADMIN, NULL)) == ENG_OK) {
        size_t ul = url ? strlen(url) : 0;
        if (!url || ul == 0 || ul > URL_MAX || (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0) ||
            strpbrk(url, " \r\n\t"))
            rc = eng__err(ENG_EINVAL, "landing_url", "the landing page must be an http(s) URL of 1..512 bytes "
                                                     "without spaces or line breaks");
        else if (!secret || slen < 16 || slen > 256)
            rc = eng__err(ENG_EINVAL, "secret", "the secret must be 16..256 bytes");
        else if ((rc = eng__kv_begin(e->store)) == ENG_OK) {
            eng__wr w;
            eng__wr_init(&w, &e->mem);
            eng__wr_str(&w, url);
            eng__wr_blob(&w, secret, slen);
            char key[96];
            unsub_key(key, sizeof key, o.id);
            rc = eng__rec_put_wr(e->store, ENG__K(key), ENG__REC_DSP_UNSUB, ENG__DSP_SCHEMA, &w);
            rc = eng__dsp_commit(e, rc);
        }
    }
    eng__org_free(&o);
    eng__actor_free(&a);
out:
    eng__leave(e);
    return rc;
}

static int parse_u64(const char **p, uint64_t *v)
{
    char *end;
    if (**p < '0' || **p > '9')
        return 0;
    *v = strtoull(*p, &end, 10);
    if (*end != '.')
        return 0;
    *p = end + 1;
    return 1;
}

/* campaign.customer.channel.<org hex>.<mac>: the fields, and where the mac starts (*dot + 1). */
static int token_parse(const char *org, const char *token, uint64_t *campaign, uint64_t *customer,
                       uint64_t *channel, const char **dot)
{
    if (!org || !token || strlen(token) > 512)
        return eng__err(ENG_EINVAL, "token", "token or org is NULL or too long");
    const char *p = token;
    if (!parse_u64(&p, campaign) || !parse_u64(&p, customer) || !parse_u64(&p, channel) ||
        *customer > UINT32_MAX || *channel >= ENG_CH_COUNT)
        return eng__err(ENG_EINVAL, "token", "malformed unsubscribe token");
    *dot = strchr(p, '.');
    char orghex[2 * 64 + 1];
    size_t ol = strlen(org);
    eng__hex((const uint8_t *)org, ol < 64 ? ol : 64, orghex);
    if (!*dot || strlen(*dot + 1) != 64)
        return eng__err(ENG_EINVAL, "token", "malformed unsubscribe token");
    if ((size_t)(*dot - p) != strlen(orghex) || memcmp(p, orghex, strlen(orghex)) != 0)
        return eng__err(ENG_EDENIED, "token", "the token was issued for another org");
    return ENG_OK;
}

ENG_API int eng_unsubscribe_apply(eng_engine *e, const char *org, const char *token, eng_unsubscribe_info *out)
{
    int rc = out ? eng__enter_out(e, out, ENG__SIZES(sizeof(eng_unsubscribe_info)), "eng_unsubscribe_info", "out")
                 : eng__enter(e);
    if (rc)
        return rc;
    uint64_t campaign = 0, customer = 0, channel = 0;
    const char *dot = NULL;
    eng__unsub u;
    rc = token_parse(org, token, &campaign, &customer, &channel, &dot);
    if (rc == ENG_OK && (rc = eng__unsub_load(e, org, &u)) == ENG_ENOTFOUND)
        rc = eng__err(ENG_ENOTFOUND, "org", "org '%s' has no unsubscribe set-up", org);
    if (rc == ENG_OK) {
        char mac[65];
        mac_of(&u, org, campaign, (uint32_t)customer, (int)channel, mac);
        unsigned diff = 0; /* compare in constant time */
        for (int i = 0; i < 64; i++)
            diff |= (unsigned)(mac[i] ^ dot[1 + i]);
        if (diff)
            rc = eng__err(ENG_EDENIED, "token", "the unsubscribe token is forged or altered");
    }
    char ext[256], col[32];
    eng__aud_cx cx = {org, NULL, NULL, NULL}; /* the signed token is the authority: the org's own customer */
    if (rc == ENG_OK && (rc = eng__aud_customer_external_id(e, &cx, (uint32_t)customer, ext, sizeof ext)) == ENG_OK) {
        snprintf(col, sizeof col, "optout.%s", eng_channel_name((int)channel));
        const char *names[] = {"id", col};
        const char *vals[] = {ext, "true"};
        rc = eng__aud_customers_upsert(e, &cx, names, 2, vals, 1, NULL, NULL);
    }
    if (rc == ENG_OK && out)
        *out = (eng_unsubscribe_info){out->version, campaign, (uint32_t)customer, (int)channel};
    eng__leave(e);
    return rc;
}
