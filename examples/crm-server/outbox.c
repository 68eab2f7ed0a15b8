/* The simulated provider: accepts every message and keeps its idempotency key
 * in an outbox the test reads back (a real host would call its SMS/email
 * provider here). eng_run_due() calls it outside the engine's lock, so other
 * requests keep being served while a batch is "at the provider"; the outbox
 * has its own lock. */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>
#include "crm.h"

static int send_batch(const eng_envelope *env, size_t n, int *status, void *user)
{
    crm_app *app = user;
    int rc = ENG_OK;
    pthread_mutex_lock(&app->outbox_lock);
    if (app->noutbox + n > app->capoutbox) {
        size_t cap = (app->noutbox + n) * 2;
        char **k = realloc(app->outbox, cap * sizeof *k);
        if (k)
            app->outbox = k;
        uint32_t *c = k ? realloc(app->outbox_customer, cap * sizeof *c) : NULL;
        if (c)
            app->outbox_customer = c;
        int *h = c ? realloc(app->outbox_channel, cap * sizeof *h) : NULL;
        if (h)
            app->outbox_channel = h, app->capoutbox = cap;
        else
            rc = ENG_ENOMEM; /* every envelope counts as unknown: retried later with the same key */
    }
    for (size_t i = 0; i < n && rc == ENG_OK; i++) {
        char *key = strdup(env[i].idempotency_key);
        if (!key) {
            rc = ENG_ENOMEM;
            break;
        }
        app->outbox[app->noutbox] = key;
        app->outbox_customer[app->noutbox] = env[i].customer;
        app->outbox_channel[app->noutbox++] = env[i].channel;
        status[i] = ENG_SEND_ACCEPTED;
    }
    pthread_mutex_unlock(&app->outbox_lock);
    return rc;
}

const eng_transport_methods crm_transport = {ENG_TRANSPORT_METHODS_VERSION, NULL, NULL, send_batch, 4, 256};
