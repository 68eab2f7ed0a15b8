/* crm-server: a multi-threaded HTTP service (GNU libmicrohttpd, a thread pool)
 * embedding one shared libengage engine, with JSON endpoints (jansson):
 *
 *   POST /orgs                      {"org","admin"}               create an org and its admin
 *   POST /actors                    {"id","roles":[...]}          add a user (X-Actor: an admin)
 *   POST /customers                 CSV body                      import customers
 *   POST /groups                    {"name","filter"|"ids"}       create an audience group
 *   POST /campaigns                 {"name","start","end",...}    create a campaign
 *   POST /campaigns/<id>/messages   {"title","include","creatives","send_at"}
 *   GET  /messages/<id>                                           state and content hash
 *   POST /messages/<id>/submit                                    send for approval (422 lists every problem)
 *   POST /messages/<id>/approve     {"content_hash","comment"}
 *   POST /run                       {"now","message"}             run what is due
 *   GET  /outbox                                                  what the simulated provider accepted
 *   POST /receipts                  {"receipts":[{"key","status","time"}]}
 *   POST /transactions              {"org","transactions":[{"id","customer","time","amount"}]}
 *   GET  /campaigns/<id>/report                                   the campaign report (JSON)
 *   POST /clock                     {"now"}                       move the service's clock (demo and tests)
 *
 * The acting user is the X-Actor header. Library errors map to HTTP statuses
 * (crm_status_of()); bodies are {"error":{"code","message","field"}}.
 * How the host wires the engine: storage (the file store, or memory), the
 * transport (outbox.c; eng_run_due calls it outside the engine's lock), the
 * clock (system time plus an offset), threads (every request thread calls
 * the one engine; it locks itself), and errors (per-thread eng_error_last()).
 *
 * usage: crm-server [--port N] [--store FILE] [--threads N]
 *        (port 0: any free port; it prints "listening on 127.0.0.1:<port>") */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "crm.h"

#define MAX_BODY (64u << 20)

eng_time crm_system_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (eng_time)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static eng_time app_clock(void *user)
{
    crm_app *app = user;
    return crm_system_ms() + __atomic_load_n(&app->clock_offset, __ATOMIC_SEQ_CST);
}

typedef struct upload {
    char *data;
    size_t len, cap;
    int too_big;
} upload;

static enum MHD_Result reply(struct MHD_Connection *c, const crm_reply *r)
{
    char *text = json_dumps(r->body, JSON_COMPACT);
    struct MHD_Response *resp = MHD_create_response_from_buffer(text ? strlen(text) : 0, text ? text : "",
                                                                MHD_RESPMEM_MUST_FREE);
    if (!text)
        resp = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(resp, "Content-Type", "application/json");
    enum MHD_Result ret = MHD_queue_response(c, r->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *data, size_t *size, void **con_cls)
{
    (void)version;
    upload *u = *con_cls;
    if (!u) { /* first call: headers only */
        if (!(u = calloc(1, sizeof *u)))
            return MHD_NO;
        *con_cls = u;
        return MHD_YES;
    }
    if (*size) { /* a piece of the body */
        if (u->len + *size > MAX_BODY)
            u->too_big = 1;
        else {
            if (u->len + *size + 1 > u->cap) {
                size_t cap = (u->len + *size + 1) * 2;
                char *d = realloc(u->data, cap);
                if (!d)
                    return MHD_NO;
                u->data = d, u->cap = cap;
            }
            memcpy(u->data + u->len, data, *size);
            u->len += *size;
        }
        *size = 0;
        return MHD_YES;
    }
    crm_reply r = {500, NULL};
    if (u->too_big) {
        crm_error(&r, 413, "too_big", "the body is larger than 64 MiB", "body");
    } else {
        crm_request rq = {method, url, MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Actor"),
                          MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type"),
                          u->data ? u->data : "", u->len};
        if (u->data)
            u->data[u->len] = '\0';
        crm_handle(cls, &rq, &r);
    }
    enum MHD_Result ret = reply(c, &r);
    json_decref(r.body);
    return ret;
}

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)c, (void)toe;
    upload *u = *con_cls;
    if (u)
        free(u->data), free(u);
    *con_cls = NULL;
}

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

int main(int argc, char **argv)
{
    unsigned port = 8080, threads = 4;
    const char *store_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
            port = (unsigned)atoi(argv[++i]);
        else if (strcmp(argv[i], "--store") == 0 && i + 1 < argc)
            store_path = argv[++i];
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            threads = (unsigned)atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: crm-server [--port N] [--store FILE] [--threads N]\n");
            return 2;
        }
    }
    static crm_app app;
    pthread_mutex_init(&app.outbox_lock, NULL);
    eng_config cfg = ENG_CONFIG_INIT;
    if (store_path && eng_store_file_open(store_path, ENG_STORE_CREATE, NULL, &cfg.store) != ENG_OK) {
        fprintf(stderr, "crm-server: %s: %s\n", store_path, eng_error_last()->message);
        return 1;
    }
    cfg.transport = &crm_transport, cfg.transport_user = &app;
    cfg.clock_fn = app_clock, cfg.clock_user = &app;
    if (eng_open(&cfg, &app.engine) != ENG_OK) {
        fprintf(stderr, "crm-server: %s\n", eng_error_last()->message);
        return 1;
    }
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, (uint16_t)port, NULL,
                                            NULL, on_request, &app, MHD_OPTION_SOCK_ADDR, &addr,
                                            MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_NOTIFY_COMPLETED, on_done,
                                            NULL, MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "crm-server: cannot listen on 127.0.0.1:%u\n", port);
        eng_close(app.engine);
        return 1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    printf("listening on 127.0.0.1:%u with %u threads\n", info ? info->port : port, threads);
    fflush(stdout);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    while (!stop)
        pause();
    MHD_stop_daemon(d);
    int rc = eng_close(app.engine);
    for (size_t i = 0; i < app.noutbox; i++)
        free(app.outbox[i]);
    free(app.outbox), free(app.outbox_customer), free(app.outbox_channel);
    return rc == ENG_OK ? 0 : 1;
}
