#include "base/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MSG_MAX 1024
#define DETAIL_MAX 256

static _Thread_local struct {
    eng_error pub;
    char message[MSG_MAX];
    char detail[DETAIL_MAX];
} tls;

static void set_detail(const char *detail)
{
    snprintf(tls.detail, sizeof tls.detail, "%s", detail ? detail : "");
}

int eng__err(int code, const char *detail, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tls.message, sizeof tls.message, fmt, ap);
    va_end(ap);
    set_detail(detail);
    tls.pub.code = code;
    return code;
}

int eng__err_wrap(int code, const char *fmt, ...)
{
    char prefix[MSG_MAX], old[MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, tls.message, sizeof old);
    /* Both halves are cut to fit; the message stays NUL-terminated. */
    size_t n = strlen(prefix);
    if (n > MSG_MAX / 2)
        n = MSG_MAX / 2;
    memcpy(tls.message, prefix, n);
    tls.message[n] = '\0';
    strncat(tls.message, ": ", MSG_MAX - 1 - strlen(tls.message));
    strncat(tls.message, old[0] ? old : eng_errstr(code), MSG_MAX - 1 - strlen(tls.message));
    tls.pub.code = code;
    return code;
}

int eng__nomem(void)
{
    snprintf(tls.message, sizeof tls.message, "out of memory");
    tls.detail[0] = '\0';
    tls.pub.code = ENG_ENOMEM;
    return ENG_ENOMEM;
}

ENG_API const eng_error *eng_error_last(void)
{
    tls.pub.message = tls.message;
    tls.pub.detail = tls.detail;
    return &tls.pub;
}

ENG_API void eng_error_clear(void)
{
    tls.pub.code = ENG_OK;
    tls.message[0] = '\0';
    tls.detail[0] = '\0';
}

ENG_API void eng_error_set(int code, const char *message)
{
    snprintf(tls.message, sizeof tls.message, "%s", message ? message : "");
    tls.detail[0] = '\0';
    tls.pub.code = code;
}

ENG_API const char *eng_errstr(int code)
{
    switch (code) {
    case ENG_OK: return "success";
    case ENG_ERROR: return "error";
    case ENG_ENOMEM: return "out of memory";
    case ENG_EINVAL: return "invalid argument";
    case ENG_ENOTFOUND: return "not found";
    case ENG_EEXISTS: return "already exists";
    case ENG_EMISUSE: return "library misuse (bad or closed handle)";
    case ENG_EVERSION: return "unsupported version";
    case ENG_ESTORAGE: return "storage failure";
    case ENG_ECORRUPT: return "corrupted stored record";
    case ENG_ETRANSPORT: return "transport failure";
    case ENG_EBUSY: return "busy";
    case ENG_ERANGE: return "value out of range";
    case ENG_ETOOBIG: return "too big";
    case ENG_ESTATE: return "not allowed in the current state";
    case ENG_EDENIED: return "permission denied";
    case ENG_EVALIDATION: return "validation failed";
    case ENG_EPARSE: return "parse error";
    case ENG_ETYPE: return "type error";
    case ENG_ECANCELLED: return "cancelled";
    case ENG_EIO: return "I/O error";
    case ENG_ECYCLE: return "cycle";
    case ENG_EUNSUPPORTED: return "not supported";
    case ENG_ECREDITS: return "not enough credits";
    case ENG_EUSER: return "host callback error";
    case ENG_ITEROVER: return "iteration over";
    default: return "unknown error";
    }
}

int eng__struct_init(void *dst, const void *init, const size_t *sizes, unsigned n, unsigned int version,
                     const char *type)
{
    if (!dst)
        return eng__err(ENG_EINVAL, type, "%s_init: the struct is NULL", type);
    if (version == 0 || version > n)
        return eng__err(ENG_EVERSION, "version", "unsupported %s version %u", type, version);
    memcpy(dst, init, sizes[version - 1]);
    memcpy(dst, &version, sizeof version);
    return ENG_OK;
}

int eng__sub_version(const void *sub, unsigned n, const char *field, const char *type)
{
    unsigned v;
    if (!sub)
        return ENG_OK;
    memcpy(&v, sub, sizeof v);
    if (v >= 1 && v <= n)
        return ENG_OK;
    char detail[96];
    snprintf(detail, sizeof detail, "%s.version", field);
    return eng__err(ENG_EVERSION, detail, "unsupported %s version %u", type, v);
}

unsigned eng__out_clear(void *out, const size_t *sizes, unsigned n)
{
    unsigned v;
    if (!out)
        return 0;
    memcpy(&v, out, sizeof v);
    if (v == 0 || v > n)
        return 0;
    memset(out, 0, sizes[v - 1]);
    memcpy(out, &v, sizeof v);
    return v;
}

int eng__out_open(void *out, const size_t *sizes, unsigned n, const char *type, const char *field)
{
    if (!out)
        return eng__err(ENG_EINVAL, field, "%s is NULL", field);
    if (!eng__out_clear(out, sizes, n)) {
        char detail[64];
        unsigned v;
        memcpy(&v, out, sizeof v);
        snprintf(detail, sizeof detail, "%s.version", field);
        return eng__err(ENG_EVERSION, detail, "unsupported %s version %u", type, v);
    }
    return ENG_OK;
}
