/* Templates compiled once per message: the text is split into literal runs
 * and tags (base/template.h) when the execution is loaded, so rendering a
 * customer is a walk over a few segments, never a parse. Values from customer
 * attributes are HTML-escaped in email bodies (literals are the author's HTML
 * and stay as written). SMS segments follow GSM 03.38: a text entirely in the
 * GSM-7 alphabet takes 160 septets in one part or 153 per part when split
 * (extension characters take two); anything else goes as UCS-2, 70 or 67
 * UTF-16 units per part. */
#include "dispatch/dispatch_impl.h"
#include "audience/audience_link.h"
#include "base/template.h"
#include "base/handle.h"

#include <pthread.h>
#include <string.h>

enum seg_kind { SEG_TEXT, SEG_FIELD, SEG_OPTOUT, SEG_UNSUB, SEG_COUPON, SEG_CAMPAIGN, SEG_TINY };

typedef struct seg {
    int kind;
    char *text; /* literal, or the column a field reads */
    size_t len;
    char *def;  /* default for a missing value, or NULL */
    size_t def_len;
} seg;

struct eng__tpl {
    int html;
    size_t n;
    seg *s;
};

#define OPTOUT_TEXT "Reply STOP to opt out"

void eng__tpl_free(const eng__mem *mem, eng__tpl *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++) {
        eng__free(mem, t->s[i].text);
        eng__free(mem, t->s[i].def);
    }
    eng__free(mem, t->s);
    eng__free(mem, t);
}

static int tag_kind(const char *name, size_t n)
{
    static const struct {
        const char *name;
        int kind;
    } fixed[] = {{"optout", SEG_OPTOUT}, {"unsubscribe", SEG_UNSUB}, {"coupon_code", SEG_COUPON},
                 {"campaign_name", SEG_CAMPAIGN}, {"tiny_url", SEG_TINY}};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        if (strlen(fixed[i].name) == n && memcmp(fixed[i].name, name, n) == 0)
            return fixed[i].kind;
    return SEG_FIELD;
}

int eng__tpl_compile(const eng__mem *mem, const char *text, int html, eng__tpl **out)
{
    *out = NULL;
    eng__tpl *t = eng__calloc(mem, 1, sizeof *t);
    if (!t)
        return eng__nomem();
    t->html = html;
    size_t cap = 0;
    eng__ttok k;
    const char *p = text ? text : "";
    int rc = ENG_OK;
    for (;;) {
        p = eng__ttok_next(text ? text : "", p, &k);
        if (k.kind == ENG__TT_END)
            break;
        if (k.kind < 0) {
            rc = eng__err(ENG_EPARSE, "template", "template does not parse at byte %zu", k.offset);
            break;
        }
        if (eng__grow(mem, (void **)&t->s, &cap, t->n + 1, sizeof *t->s)) {
            rc = eng__nomem();
            break;
        }
        seg *s = &t->s[t->n];
        memset(s, 0, sizeof *s);
        s->kind = k.kind == ENG__TT_TEXT ? SEG_TEXT : tag_kind(k.text, k.len);
        const char *src = k.text;
        size_t len = k.len;
        if (s->kind == SEG_FIELD && len > 7 && memcmp(src, "custom.", 7) == 0) {
            src += 7; /* custom.<column> reads the column itself */
            len -= 7;
        }
        s->text = eng__strndup(mem, src, len);
        s->len = len;
        if (k.has_def)
            s->def = eng__strndup(mem, k.def, k.def_len);
        s->def_len = k.def_len;
        t->n++;
        if (!s->text || (k.has_def && !s->def)) {
            rc = eng__nomem();
            break;
        }
    }
    if (rc) {
        eng__tpl_free(mem, t);
        return rc;
    }
    *out = t;
    return ENG_OK;
}

int eng__tpl_has_unsubscribe(const eng__tpl *t)
{
    for (size_t i = 0; t && i < t->n; i++)
        if (t->s[i].kind == SEG_UNSUB)
            return 1;
    return 0;
}

int eng__tpl_has_tiny(const eng__tpl *t)
{
    for (size_t i = 0; t && i < t->n; i++)
        if (t->s[i].kind == SEG_TINY)
            return 1;
    return 0;
}

/* The host's short link for one {{tiny_url}} tag (its default is the long link). */
static int tiny_link(const eng__rctx *r, const seg *s, char *out, size_t cap, size_t *n)
{
    eng_tiny_url_request q = *r->tiny_req;
    q.url = s->def ? s->def : "";
    out[0] = 0;
    eng__callback_begin();
    int rc = r->tiny(&q, out, cap, r->tiny_user);
    eng__callback_end();
    eng_error_clear(); /* a failed shortener is a retry, not this call's error */
    out[cap - 1] = 0;
    *n = strlen(out);
    for (size_t i = 0; i < *n; i++)
        if ((unsigned char)out[i] <= ' ')
            rc = -1; /* a link with white space or a line break is not a link */
    return rc < 0 || *n == 0 ? ENG__RENDER_LATER : ENG_OK;
}

static void put_escaped(eng__wr *w, const char *v, size_t n)
{
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        const char *rep = NULL;
        switch (v[i]) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&#39;"; break;
        default: continue;
        }
        eng__wr_bytes(w, v + run, i - run);
        eng__wr_bytes(w, rep, strlen(rep));
        run = i + 1;
    }
    eng__wr_bytes(w, v + run, n - run);
}

static void put_value(const eng__tpl *t, eng__wr *w, const char *v, size_t n)
{
    if (t->html)
        put_escaped(w, v, n);
    else
        eng__wr_bytes(w, v, n);
}

int eng__tpl_render(const eng__tpl *t, const eng__rctx *r, eng__wr *w)
{
    for (size_t i = 0; i < t->n; i++) {
        const seg *s = &t->s[i];
        const char *v = NULL;
        size_t n = 0;
        char tmp[96], link[512];
        switch (s->kind) {
        case SEG_TEXT:
            eng__wr_bytes(w, s->text, s->len);
            continue;
        case SEG_OPTOUT:
            v = OPTOUT_TEXT;
            n = strlen(v);
            break;
        case SEG_UNSUB:
            v = r->unsubscribe;
            n = v ? strlen(v) : 0;
            break;
        case SEG_COUPON:
            v = r->coupon;
            n = v ? strlen(v) : 0;
            break;
        case SEG_CAMPAIGN:
            v = r->campaign_name;
            n = v ? strlen(v) : 0;
            break;
        case SEG_TINY: /* without a shortener the default is the (long) link itself */
            if (r->tiny) {
                if (tiny_link(r, s, link, sizeof link, &n))
                    return ENG__RENDER_LATER;
                v = link;
            }
            break;
        default:
            /* A column the customer table does not have reads as missing. */
            if (eng__customer_text(r->e, r->org, r->customer, s->text, tmp, sizeof tmp, &v, &n) != ENG_OK) {
                eng_error_clear(); /* not the call's failure (the preview's sample customer has no row) */
                n = 0;
            }
            break;
        }
        if (n == 0 && s->def) {
            v = s->def;
            n = s->def_len;
        }
        if (n)
            put_value(t, w, v, n);
    }
    return w->err ? eng__nomem() : ENG_OK;
}

/* GSM 03.38 basic set (as UTF-8 code points) and the extension set (2 septets). */
static int gsm_septets(uint32_t cp)
{
    static const uint16_t basic[] = {
        '@', 0xa3, '$', 0xa5, 0xe8, 0xe9, 0xf9, 0xec, 0xf2, 0xc7, '\n', 0xd8, 0xf8, '\r', 0xc5, 0xe5,
        0x394, '_', 0x3a6, 0x393, 0x39b, 0x3a9, 0x3a0, 0x3a8, 0x3a3, 0x398, 0x39e, 0xc6, 0xe6, 0xdf, 0xc9,
        ' ', '!', '"', '#', 0xa4, '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/', 0xa1, 0xc4, 0xd6,
        0xd1, 0xdc, 0xa7, 0xbf, 0xe4, 0xf6, 0xf1, 0xfc, 0xe0};
    static const char ext[] = "^{}\\[~]|";
    if ((cp >= '0' && cp <= '9') || (cp >= 'A' && cp <= 'Z') || (cp >= 'a' && cp <= 'z') || (cp >= ':' && cp <= '?'))
        return 1;
    for (size_t i = 0; i < sizeof basic / sizeof basic[0]; i++)
        if (basic[i] == cp)
            return 1;
    if (cp == 0x20ac)
        return 2; /* euro sign */
    if (cp < 128 && cp && strchr(ext, (int)cp))
        return 2;
    return 0;
}

/* Next code point of UTF-8 text (invalid bytes count as one non-GSM unit). */
static uint32_t next_cp(const unsigned char **p, const unsigned char *end)
{
    const unsigned char *s = *p;
    uint32_t c = s[0];
    int extra = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : c >= 0xc0 ? 1 : 0;
    if (c >= 0x80 && c < 0xc0) {
        *p = s + 1;
        return 0xfffd;
    }
    if (end - s <= extra) {
        *p = end;
        return 0xfffd;
    }
    if (extra)
        c &= 0x3fu >> extra;
    for (int i = 1; i <= extra; i++)
        c = c << 6 | (s[i] & 0x3f);
    *p = s + 1 + extra;
    return c;
}

/* Septets of each ASCII character: 1 basic, 2 escape, 0 not in GSM-7 (built on first use). */
static int8_t ascii_septets[128];

static void ascii_init(void)
{
    for (uint32_t c = 0; c < 128; c++)
        ascii_septets[c] = (int8_t)gsm_septets(c);
}

uint32_t eng__sms_segments(const char *text, size_t len)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, ascii_init);
    const unsigned char *p = (const unsigned char *)text, *end = p + len;
    size_t septets = 0, units = 0;
    int gsm = 1;
    while (p < end) {
        int s;
        if (*p < 128) {
            s = ascii_septets[*p++];
            units++;
        } else {
            uint32_t cp = next_cp(&p, end);
            s = gsm_septets(cp);
            units += cp > 0xffff ? 2 : 1;
        }
        if (!s)
            gsm = 0;
        septets += (size_t)s;
    }
    if (gsm)
        return septets <= 160 ? 1 : (uint32_t)((septets + 152) / 153);
    return units <= 70 ? 1 : (uint32_t)((units + 66) / 67);
}
