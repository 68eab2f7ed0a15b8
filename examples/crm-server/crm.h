/* A CRM back end embedding libengage: shared declarations of the HTTP
 * plumbing (server.c), the endpoints (handlers.c) and the simulated provider
 * (outbox.c). */
#ifndef CRM_H
#define CRM_H

#include <jansson.h>
#include <pthread.h>
#include "engage.h"

/* One HTTP answer: a status and a JSON body (owned). */
typedef struct crm_reply {
    unsigned status;
    json_t *body;
} crm_reply;

/* The request as the router hands it over. */
typedef struct crm_request {
    const char *method;
    const char *path;        /* without the query */
    const char *actor;       /* X-Actor header, or NULL */
    const char *content_type;
    const char *body;        /* NUL-terminated */
    size_t body_len;
} crm_request;

/* The one engine every thread of the server shares, and the provider's outbox. */
typedef struct crm_app {
    eng_engine *engine;
    pthread_mutex_t outbox_lock;
    char **outbox;           /* idempotency keys the provider accepted, in order */
    uint32_t *outbox_customer;
    int *outbox_channel;
    size_t noutbox, capoutbox;
    eng_time clock_offset;   /* added to the system clock (tests move time forward) */
} crm_app;

/* Route one request; fills @p out. */
void crm_handle(crm_app *app, const crm_request *rq, crm_reply *out);

/* The simulated provider (eng_transport_methods) over the app's outbox. */
extern const eng_transport_methods crm_transport;

/* The system clock in ms (the app's clock adds clock_offset). */
eng_time crm_system_ms(void);

/* Replies. */
void crm_error(crm_reply *out, unsigned status, const char *code, const char *message, const char *field);
void crm_engine_error(crm_reply *out, int rc);
unsigned crm_status_of(int rc);

#endif
