/*
 * http_internal.h - what the HTTP layer's files share: the server, a request's life, and
 * the answers. http_server.c owns the listeners, libmicrohttpd's callbacks, the clock and
 * the suspend/resume machinery; http_webhook.c and http_api.c are the two routes whose
 * work runs on a worker pool.
 *
 * A request's life, and who may touch what:
 *
 *   NEW, BODY            libmicrohttpd's thread alone: routing, early refusals, the body.
 *   QUEUED -> RUNNING    suspended; the job is on a pool, then a worker runs it (plugin
 *                        callback, REST handler). Only the worker touches the work (ctx,
 *                        batch, headers, body, REST response).
 *   COMMITTING           suspended; its batch waits for a writer.
 *   READY                resumed with the work's result: libmicrohttpd's thread answers it.
 *   EXPIRED              resumed by the clock because a deadline passed: answered 503 at
 *                        once; a worker or writer still holding the request finishes with
 *                        it and its result is dropped (nothing acknowledged).
 *   ANSWERED
 *
 * Phases after BODY change under req->mutex. A request is reference counted: libmicrohttpd
 * (until it completes the request), a queued or running job, and a batch in ingest each
 * hold one, so the work may outlive its connection. Lock order: req->mutex, then the
 * server's suspended-list mutex (never the other way round).
 */
#ifndef LEADHUB_HTTP_INTERNAL_H
#define LEADHUB_HTTP_INTERNAL_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "daemon.h"
#include "http_guard.h"
#include "http_pool.h"
#include "http_server.h"
#include "instance.h"
#include "log.h"
#include "rest.h"
#include "util.h"

#define WEBHOOK_PREFIX "/webhooks/"

/* What libmicrohttpd may hold per connection (its default is 32 KiB): half of it reads,
 * and with a thousand connections from an attacker it is most of what they cost. Request
 * line and headers must fit in about half of it. */
#define HTTP_CONNECTION_MEMORY (16 * 1024)

/* A refusal before the body lingers (reads and drops what follows for a moment) only for
 * bodies up to this size: a larger one is not read just to be thrown away. */
#define HTTP_LINGER_BODY_MAX (256 * 1024)

/* Pools: queued jobs at most (past it 503); what a webhook lane may use when reentrant. */
#define HTTP_WEBHOOK_QUEUE_MAX 1024
#define HTTP_API_QUEUE_MAX     256

enum route {
    ROUTE_UNKNOWN,
    ROUTE_WEBHOOK,
    ROUTE_HEALTHZ,
    ROUTE_READYZ,
    ROUTE_METRICS,
    ROUTE_API,
    ROUTE_OAUTH_CALLBACK,
    ROUTE_CONSOLE
};

enum phase {
    PHASE_NEW,
    PHASE_BODY,
    PHASE_QUEUED,
    PHASE_RUNNING,
    PHASE_COMMITTING,
    PHASE_READY,
    PHASE_EXPIRED,
    PHASE_ANSWERED
};

/* One listening socket: the public one (webhooks) and, with admin_listen, the admin one. */
struct listener {
    struct http_server *server;
    struct MHD_Daemon *mhd;
    int port;
    bool serves_webhooks;
    bool serves_admin; /* /readyz, /metrics, /v1 */
};

struct request;

struct http_server {
    struct daemon *daemon;
    struct listener listeners[2];
    size_t listener_count;
    size_t body_limit;
    struct config_http_limits limits; /* a copy: a reload does not change them */
    atomic_bool quiesced;

    struct http_guard *guard;
    struct http_pool *webhook_pool;
    unsigned webhook_workers;
    struct http_pool *api_pool;

    /* ingest, while requests may still submit to it (NULL once detached at shutdown) */
    pthread_rwlock_t ingest_lock;
    struct ingest *ingest;

    pthread_mutex_t mutex; /* in_flight */
    pthread_cond_t idle;
    unsigned in_flight; /* requests alive (created, not yet freed) */

    pthread_mutex_t suspended_mutex; /* the list of suspended requests, with deadlines */
    struct request *suspended;

    pthread_t clock;
    bool clock_started;
    pthread_mutex_t clock_mutex;
    pthread_cond_t clock_wake;
    bool clock_stopping;

    struct log_limiter refusal_log;    /* webhooks refused */
    struct log_limiter connection_log; /* connections refused or timed out */
};

struct request {
    struct http_server *server;
    struct listener *listener;
    struct MHD_Connection *connection; /* NULL once libmicrohttpd completed the request */
    struct http_guard_conn *guard_conn;
    atomic_int refs;
    char *raw_uri; /* the request target as sent (query included) */
    char *method;  /* copies: a worker may use them after libmicrohttpd is done */
    char *url;     /* decoded path */
    char remote[64];
    int64_t started_ms;
    enum route route;
    bool close; /* answer with Connection: close */
    bool has_body;
    unsigned long long announced; /* Content-Length (0 when none or chunked) */

    pthread_mutex_t mutex;
    enum phase phase;
    bool suspended;
    int64_t deadline_ms;        /* while suspended */
    const char *expired_reason; /* set with EXPIRED */
    bool linked;                /* in the server's suspended list (its mutex) */
    struct request *prev, *next;
    atomic_bool cancel; /* the work's should_stop(): set when it expired */

    struct http_job job;
    struct instance *instance; /* webhooks: a reference */
    struct strbuf body;
    struct http_reservation reservation;
    /* the work (worker's while QUEUED..COMMITTING, then the answerer's) */
    struct ingest_batch batch;
    struct lh_ctx ctx;
    bool ctx_ready;
    lh_status_t status;
    bool commit_refused; /* ingest was full or stopping: nothing was queued */
    lh_header_t *headers;
    size_t header_count;
    json_t *query;       /* /v1 */
    char *authorization; /* /v1 */
    char *content_type;  /* /v1 */
    struct rest_response rest;
    int page_status; /* /oauth/callback: the answer its worker made */
    char *page;
};

/* --- answering (libmicrohttpd's thread) ---------------------------------------------- */

enum MHD_Result http_send(struct request *req, int status, const char *content_type,
                          const char *body, size_t body_len, const char *header_name,
                          const char *header_value);
enum MHD_Result http_send_json(struct request *req, int status, json_t *body,
                               const char *header_name, const char *header_value);
enum MHD_Result http_send_error(struct request *req, int status, const char *code,
                                const char *message, const char *header_name,
                                const char *header_value);

/* An answer before the body was read: the connection is closed after it, lingering so
 * that the client reads the answer rather than a reset. */
enum MHD_Result http_refuse_early(struct request *req, int status, const char *code,
                                  const char *message, const char *retry_after);

/* An answer in the middle of the body (libmicrohttpd cannot queue one then): written to
 * the socket directly, the connection closed. Returns MHD_NO (for the access handler). */
enum MHD_Result http_refuse_mid_upload(struct request *req, int status, const char *code,
                                       const char *message, const char *retry_after);

/* Counts a refusal in leadhub_http_refused_total{reason}. */
void http_count_refusal(struct http_server *server, const char *reason);

/* --- the work's life ------------------------------------------------------------------ */

/*
 * http_submit - hand the request to `pool` (job.run and job.lane set by the caller) and
 * suspend its connection until the work resumes it, or its deadline (deadline_ms from now,
 * `reason` then) passes. libmicrohttpd's thread. -1 when the pool is full (nothing
 * suspended: answer 503).
 */
int http_submit(struct request *req, struct http_pool *pool, int64_t deadline_ms,
                const char *reason);

/*
 * http_commit - from the worker, with the request RUNNING: hand req->batch to ingest; the
 * request stays suspended (COMMITTING, a new deadline: commit_timeout) until the writer
 * resumes it. Returns false when it could not be queued (ingest full or stopping): then
 * the caller answers as it will (http_resume).
 */
bool http_commit(struct request *req);

/*
 * http_resume - the work is done: READY, resumed, unless it expired meanwhile. Any thread.
 * Returns false when it had expired (the result is dropped: nothing was acknowledged).
 */
bool http_resume(struct request *req);

/* http_start_running - a worker takes the job: false when it expired while queued. */
bool http_start_running(struct request *req);

/* The phase under the request's mutex. */
enum phase http_phase(struct request *req);

struct request *http_request_ref(struct request *req);
void http_request_unref(struct request *req);

/* --- the routes ------------------------------------------------------------------------ */

/* Webhooks (http_webhook.c): the first call, a chunk of body, the body complete, resumed. */
enum MHD_Result http_webhook_start(struct request *req);
enum MHD_Result http_webhook_chunk(struct request *req, const char *data, size_t size);
enum MHD_Result http_webhook_run(struct request *req);
enum MHD_Result http_webhook_answer(struct request *req);

/* REST (http_api.c): the same steps. */
enum MHD_Result http_api_start(struct request *req);
enum MHD_Result http_api_run(struct request *req);
enum MHD_Result http_api_answer(struct request *req);

/* GET /oauth/callback (http_oauth.c): the consent's code exchanged on an API worker. */
enum MHD_Result http_oauth_start(struct request *req);
enum MHD_Result http_oauth_run(struct request *req);
enum MHD_Result http_oauth_answer(struct request *req);

#endif
