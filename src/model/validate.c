/* Validation reports: validators add every failure (code, field path,
 * message) instead of stopping at the first, so a host shows them all. */
#include "model/model_impl.h"
#include "base/handle.h"

#include <stdarg.h>
#include <stdio.h>

eng_validation *eng__vr_new(const eng__mem *mem)
{
    eng_validation *v = eng__handle_new(mem, sizeof(*v), ENG__H_VALIDATION);
    if (v) {
        v->magic = ENG__VR_MAGIC;
        v->mem = *mem; /* a copy: the report may outlive the engine */
    }
    return v;
}

void eng__vr_add(eng_validation *v, int code, const char *path, const char *fmt, ...)
{
    if (!v || v->oom)
        return;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (eng__grow(&v->mem, (void **)&v->items, &v->cap, v->n + 1, sizeof(*v->items)) != ENG_OK) {
        v->oom = 1;
        return;
    }
    char *p = eng__strdup(&v->mem, path);
    char *m = eng__strdup(&v->mem, buf);
    if (!p || !m) {
        eng__free(&v->mem, p);
        eng__free(&v->mem, m);
        v->oom = 1;
        return;
    }
    v->items[v->n++] = (struct eng__vitem){code, p, m};
}

void eng__vr_drop(eng_validation *v, const char *path, int code)
{
    if (!v)
        return;
    size_t k = 0;
    for (size_t i = 0; i < v->n; i++) {
        if (v->items[i].code == code && strcmp(v->items[i].path, path) == 0) {
            eng__free(&v->mem, v->items[i].path);
            eng__free(&v->mem, v->items[i].msg);
        } else {
            v->items[k++] = v->items[i];
        }
    }
    v->n = k;
}

int eng__vr_store_failed(const eng_validation *v)
{
    for (size_t i = 0; v && i < v->n; i++)
        if (v->items[i].code == ENG_ESTORAGE || v->items[i].code == ENG_EIO)
            return eng__err(v->items[i].code, v->items[i].path, "%s", v->items[i].msg);
    return 0;
}

int eng__vr_finish(eng_validation *v, eng_validation **out)
{
    if (out)
        *out = NULL;
    if (!v)
        return eng__nomem();
    if (v->oom) {
        eng_validation_free(v);
        return eng__nomem();
    }
    int rc = eng__vr_store_failed(v); /* the input was not judged: not a validation failure */
    if (rc) {
        eng_validation_free(v);
        return rc;
    }
    if (v->n == 0) {
        eng_validation_free(v);
        return ENG_OK;
    }
    eng__err(ENG_EVALIDATION, v->items[0].path, "%zu validation failure%s; first: %s", v->n, v->n > 1 ? "s" : "",
             v->items[0].msg);
    if (out)
        *out = v;
    else
        eng_validation_free(v);
    return ENG_EVALIDATION;
}

ENG_API size_t eng_validation_count(const eng_validation *v)
{
    return eng__handle_live(v, ENG__H_VALIDATION) ? v->n : 0;
}

ENG_API int eng_validation_item(const eng_validation *v, size_t i, int *code, const char **path,
                                const char **message)
{
    if (code)
        *code = 0;
    if (path)
        *path = NULL;
    if (message)
        *message = NULL;
    if (!eng__handle_live(v, ENG__H_VALIDATION))
        return eng__err(ENG_EMISUSE, "report", "not a validation report (NULL or freed)");
    if (i >= v->n)
        return eng__err(ENG_ERANGE, "index", "index %zu is past the %zu failures", i, v->n);
    if (code)
        *code = v->items[i].code;
    if (path)
        *path = v->items[i].path;
    if (message)
        *message = v->items[i].msg;
    return ENG_OK;
}

ENG_API int eng_validation_find(const eng_validation *v, const char *path)
{
    if (!eng__handle_live(v, ENG__H_VALIDATION) || !path)
        return ENG_OK;
    for (size_t i = 0; i < v->n; i++)
        if (strcmp(v->items[i].path, path) == 0)
            return v->items[i].code;
    return ENG_OK;
}

ENG_API void eng_validation_free(eng_validation *v)
{
    if (!eng__handle_live(v, ENG__H_VALIDATION))
        return;
    v->magic = 0;
    for (size_t i = 0; i < v->n; i++) {
        eng__free(&v->mem, v->items[i].path);
        eng__free(&v->mem, v->items[i].msg);
    }
    eng__free(&v->mem, v->items);
    eng__mem m = v->mem;
    eng__handle_free(&m, v);
}
