/*
 * http_server.c - the listeners (libmicrohttpd, internal epoll threads), the life of a
 * request, and the clock that enforces deadlines.
 *
 * libmicrohttpd's threads only parse and answer. What may wait runs elsewhere with the
 * connection suspended (holding no thread): a webhook's plugin callback and a /v1 handler
 * on worker pools (http_pool.c), a commit on an ingest writer. /healthz answers at once,
 * /readyz from the readiness checker's last verdict, /metrics from memory. Every request
 * that is suspended has a deadline; the clock thread answers 503 for one that passes it.
 * Every connection lives within the guard's budgets (http_guard.c).
 *
 * The raw request URI (with its query string, which libmicrohttpd does not keep) is
 * captured by the URI log callback, which also creates the per-request state: that way
 * every request, even one that dies before the access handler runs, is counted in and out
 * of the in-flight total that shutdown waits on.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cpu_quota.h"
#include "http_console.h"
#include "http_internal.h"
#include "http_query.h"
#include "readiness_checker.h"

#define CLOCK_TICK_MS 50  /* job deadlines */
#define GUARD_TICK_MS 250 /* connection deadlines, lingering sockets, gauges */

static const char *const route_labels[] = {
    "other", "/webhooks/{instance}", "/healthz", "/readyz", "/metrics",
    "/v1",   "/oauth/callback",      "/console"};

/* --- answering ---------------------------------------------------------------------- */

/* Counted when queued, so that a client holding the answer sees it counted. */
static void count_answer(struct request *req, int status)
{
    char status_text[8];
    snprintf(status_text, sizeof(status_text), "%d", status);
    struct metrics *metrics = req->server->daemon->metrics;
    metrics_counter_add(metrics, "leadhub_http_requests_total",
                        "HTTP requests, by route and status.", 1, "route", route_labels[req->route],
                        "status", status_text, METRICS_END);
    metrics_observe(metrics, "leadhub_http_request_seconds",
                    "HTTP request latency, from request line to response queued.",
                    metrics_latency_buckets, metrics_latency_bucket_count,
                    (double)(util_monotonic_ms() - req->started_ms) / 1000.0, "route",
                    route_labels[req->route], METRICS_END);
}

static void set_phase(struct request *req, enum phase phase)
{
    pthread_mutex_lock(&req->mutex);
    req->phase = phase;
    pthread_mutex_unlock(&req->mutex);
}

/* Queues `response` (destroyed here) and counts the request. */
static enum MHD_Result send_prepared(struct request *req, int status, struct MHD_Response *response)
{
    if (req->close || atomic_load(&req->server->quiesced)) {
        MHD_add_response_header(response, MHD_HTTP_HEADER_CONNECTION, "close");
    }
    enum MHD_Result rc = MHD_queue_response(req->connection, (unsigned)status, response);
    MHD_destroy_response(response);
    set_phase(req, PHASE_ANSWERED);
    http_guard_phase(req->server->guard, req->guard_conn, HTTP_GUARD_SENDING);
    count_answer(req, status);
    return rc;
}

enum MHD_Result http_send(struct request *req, int status, const char *content_type,
                          const char *body, size_t body_len, const char *header_name,
                          const char *header_value)
{
    struct MHD_Response *response =
        MHD_create_response_from_buffer(body_len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (response == NULL) {
        return MHD_NO;
    }
    MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    if (header_name != NULL) {
        MHD_add_response_header(response, header_name, header_value);
    }
    return send_prepared(req, status, response);
}

enum MHD_Result http_send_json(struct request *req, int status, json_t *body,
                               const char *header_name, const char *header_value)
{
    char *text = body != NULL ? json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(body);
    if (text == NULL) {
        return MHD_NO;
    }
    enum MHD_Result rc =
        http_send(req, status, "application/json", text, strlen(text), header_name, header_value);
    free(text);
    return rc;
}

/* The one error shape: {"error": {"code": ..., "message": ..., "details": null}}. */
static json_t *error_body(const char *code, const char *message)
{
    return json_pack("{s:{s:s,s:s,s:n}}", "error", "code", code, "message",
                     message != NULL ? message : "", "details");
}

enum MHD_Result http_send_error(struct request *req, int status, const char *code,
                                const char *message, const char *header_name,
                                const char *header_value)
{
    json_t *body = error_body(code, message);
    if (body == NULL) {
        return MHD_NO;
    }
    return http_send_json(req, status, body, header_name, header_value);
}

void http_count_refusal(struct http_server *server, const char *reason)
{
    metrics_counter_add(server->daemon->metrics, "leadhub_http_refused_total",
                        "Requests and connections refused to keep the daemon within its budgets, "
                        "by reason.",
                        1, "reason", reason, METRICS_END);
}

static int connection_fd(struct MHD_Connection *connection)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    return info != NULL ? info->connect_fd : -1;
}

enum MHD_Result http_refuse_early(struct request *req, int status, const char *code,
                                  const char *message, const char *retry_after)
{
    /* libmicrohttpd closes a connection answered before its body was read; lingering on
     * it lets a client finish sending a small body and read this, instead of a reset. A
     * large one is not read just to be thrown away: its client finds the answer after
     * the reset (the kernel keeps what arrived before it). */
    if (req->has_body) {
        req->close = true;
        int fd = connection_fd(req->connection);
        if (fd >= 0 && req->announced <= HTTP_LINGER_BODY_MAX) {
            http_guard_linger(req->server->guard, fd);
        }
    }
    return http_send_error(req, status, code, message,
                           retry_after != NULL ? MHD_HTTP_HEADER_RETRY_AFTER : NULL, retry_after);
}

/*
 * Mid-upload, libmicrohttpd will not queue an answer (only before the body or after it),
 * yet reading a stranger's body to its end to answer 413 or 503 is what must not happen.
 * So the answer is written to the socket here, behind its back, and the access handler
 * returns MHD_NO: the connection is closed with the rest of the body unread, lingering so
 * that the client reads the answer. The answer is small: it fits the socket buffer.
 */
enum MHD_Result http_refuse_mid_upload(struct request *req, int status, const char *code,
                                       const char *message, const char *retry_after)
{
    int fd = connection_fd(req->connection);
    json_t *error = error_body(code, message);
    char *body = error != NULL ? json_dumps(error, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(error);
    if (fd >= 0 && body != NULL) {
        char *answer = util_printf("HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                                   "%s%s%sContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
                                   status, MHD_get_reason_phrase_for((unsigned)status),
                                   retry_after != NULL ? "Retry-After: " : "",
                                   retry_after != NULL ? retry_after : "",
                                   retry_after != NULL ? "\r\n" : "", strlen(body), body);
        if (answer != NULL && send(fd, answer, strlen(answer), MSG_NOSIGNAL | MSG_DONTWAIT) > 0) {
            shutdown(fd, SHUT_WR);
            http_guard_linger(req->server->guard, fd);
        }
        free(answer);
    }
    free(body);
    count_answer(req, status);
    set_phase(req, PHASE_ANSWERED);
    return MHD_NO;
}

/* --- a request's life ------------------------------------------------------------------ */

static struct request *request_new(struct listener *listener, const char *uri)
{
    struct request *req = calloc(1, sizeof(*req));
    if (req == NULL) {
        return NULL;
    }
    struct http_server *server = listener->server;
    req->server = server;
    req->listener = listener;
    req->raw_uri = strdup(uri != NULL ? uri : "");
    req->started_ms = util_monotonic_ms();
    atomic_init(&req->refs, 1);
    atomic_init(&req->cancel, false);
    pthread_mutex_init(&req->mutex, NULL);
    if (req->raw_uri == NULL) {
        pthread_mutex_destroy(&req->mutex);
        free(req);
        return NULL;
    }
    pthread_mutex_lock(&server->mutex);
    server->in_flight++;
    pthread_mutex_unlock(&server->mutex);
    return req;
}

/* Out of the suspended list (idempotent). req->mutex held, or the last reference. */
static void unlink_suspended(struct request *req)
{
    struct http_server *server = req->server;
    pthread_mutex_lock(&server->suspended_mutex);
    if (req->linked) {
        if (req->prev != NULL) {
            req->prev->next = req->next;
        } else {
            server->suspended = req->next;
        }
        if (req->next != NULL) {
            req->next->prev = req->prev;
        }
        req->prev = req->next = NULL;
        req->linked = false;
    }
    pthread_mutex_unlock(&server->suspended_mutex);
}

static void request_free(struct request *req)
{
    struct http_server *server = req->server;
    unlink_suspended(req);
    http_guard_release(server->guard, &req->reservation);
    if (req->ctx_ready) {
        ctx_clear(&req->ctx);
    }
    ingest_batch_clear(&req->batch);
    instance_release(req->instance);
    strbuf_free(&req->body);
    rest_response_clear(&req->rest);
    json_decref(req->query);
    for (size_t i = 0; i < req->header_count; i++) {
        free((char *)req->headers[i].name);
        free((char *)req->headers[i].value);
    }
    free(req->headers);
    free(req->authorization);
    free(req->content_type);
    free(req->page);
    free(req->raw_uri);
    free(req->method);
    free(req->url);
    pthread_mutex_destroy(&req->mutex);
    free(req);

    pthread_mutex_lock(&server->mutex);
    server->in_flight--;
    if (server->in_flight == 0) {
        pthread_cond_broadcast(&server->idle);
    }
    pthread_mutex_unlock(&server->mutex);
}

struct request *http_request_ref(struct request *req)
{
    atomic_fetch_add(&req->refs, 1);
    return req;
}

void http_request_unref(struct request *req)
{
    if (req != NULL && atomic_fetch_sub(&req->refs, 1) == 1) {
        request_free(req);
    }
}

enum phase http_phase(struct request *req)
{
    pthread_mutex_lock(&req->mutex);
    enum phase phase = req->phase;
    pthread_mutex_unlock(&req->mutex);
    return phase;
}

/* Sets the deadline the clock watches, and links the request. req->mutex held. */
static void watch(struct request *req, int64_t deadline_ms, const char *reason)
{
    struct http_server *server = req->server;
    pthread_mutex_lock(&server->suspended_mutex);
    req->deadline_ms = deadline_ms;
    req->expired_reason = reason;
    if (!req->linked) {
        req->prev = NULL;
        req->next = server->suspended;
        if (server->suspended != NULL) {
            server->suspended->prev = req;
        }
        server->suspended = req;
        req->linked = true;
    }
    pthread_mutex_unlock(&server->suspended_mutex);
}

static void job_done(struct http_job *job)
{
    http_request_unref((struct request *)((char *)job - offsetof(struct request, job)));
}

int http_submit(struct request *req, struct http_pool *pool, int64_t deadline_ms,
                const char *reason)
{
    req->job.done = job_done;
    atomic_init(&req->job.cancelled, false);
    http_guard_phase(req->server->guard, req->guard_conn, HTTP_GUARD_WAITING);
    http_request_ref(req); /* the job's */
    /* under the mutex: the work cannot resume the connection before it is suspended */
    pthread_mutex_lock(&req->mutex);
    req->phase = PHASE_QUEUED;
    if (http_pool_submit(pool, &req->job) != 0) {
        req->phase = PHASE_BODY;
        pthread_mutex_unlock(&req->mutex);
        http_request_unref(req);
        http_guard_phase(req->server->guard, req->guard_conn, HTTP_GUARD_RECEIVING);
        return -1;
    }
    req->suspended = true;
    watch(req, util_monotonic_ms() + deadline_ms, reason);
    MHD_suspend_connection(req->connection);
    pthread_mutex_unlock(&req->mutex);
    return 0;
}

bool http_start_running(struct request *req)
{
    pthread_mutex_lock(&req->mutex);
    bool run = req->phase == PHASE_QUEUED;
    if (run) {
        req->phase = PHASE_RUNNING;
    }
    pthread_mutex_unlock(&req->mutex);
    return run;
}

/* READY and resumed, unless expired. req->mutex held; returns the connection to resume
 * (after unlocking) or NULL. */
static struct MHD_Connection *ready_locked(struct request *req)
{
    if (req->phase == PHASE_EXPIRED) {
        return NULL;
    }
    req->phase = PHASE_READY;
    if (!req->suspended) {
        return NULL;
    }
    req->suspended = false;
    unlink_suspended(req);
    return req->connection;
}

bool http_resume(struct request *req)
{
    pthread_mutex_lock(&req->mutex);
    bool expired = req->phase == PHASE_EXPIRED;
    struct MHD_Connection *connection = ready_locked(req);
    pthread_mutex_unlock(&req->mutex);
    /* once resumed, libmicrohttpd may answer and complete the request at once: the
     * caller's reference keeps the memory, nothing else of it is touched here */
    if (connection != NULL) {
        MHD_resume_connection(connection);
    }
    return !expired;
}

/* A writer's completion: the batch committed or failed. Must not block. */
static void on_batch_done(struct ingest_batch *batch, void *arg)
{
    (void)batch;
    struct request *req = arg;
    http_resume(req);
    http_request_unref(req); /* ingest's */
}

bool http_commit(struct request *req)
{
    struct http_server *server = req->server;
    pthread_mutex_lock(&req->mutex);
    if (req->phase == PHASE_EXPIRED) {
        pthread_mutex_unlock(&req->mutex);
        return true; /* dropped: nothing to answer from here */
    }
    req->phase = PHASE_COMMITTING;
    watch(req, util_monotonic_ms() + server->limits.commit_timeout_ms, "commit_timeout");
    req->batch.done = on_batch_done;
    req->batch.done_arg = http_request_ref(req); /* ingest's */
    pthread_rwlock_rdlock(&server->ingest_lock);
    bool queued = server->ingest != NULL && ingest_submit(server->ingest, &req->batch) == 0;
    pthread_rwlock_unlock(&server->ingest_lock);
    if (!queued) {
        req->phase = PHASE_RUNNING;
        req->batch.result = STORE_UNAVAILABLE;
        atomic_fetch_sub(&req->refs, 1); /* not the last: the caller holds one */
    }
    pthread_mutex_unlock(&req->mutex);
    return queued;
}

/* The clock: answer 503 for suspended requests past their deadline. */
static void expire_overdue(struct http_server *server, int64_t now)
{
    for (;;) {
        struct request *overdue[64];
        size_t count = 0;
        pthread_mutex_lock(&server->suspended_mutex);
        for (struct request *r = server->suspended; r != NULL && count < 64; r = r->next) {
            if (r->deadline_ms <= now) {
                overdue[count++] = http_request_ref(r);
            }
        }
        pthread_mutex_unlock(&server->suspended_mutex);
        for (size_t i = 0; i < count; i++) {
            struct request *req = overdue[i];
            struct MHD_Connection *connection = NULL;
            bool was_queued = false;
            pthread_mutex_lock(&req->mutex);
            if (req->suspended && (req->phase == PHASE_QUEUED || req->phase == PHASE_RUNNING ||
                                   req->phase == PHASE_COMMITTING)) {
                was_queued = req->phase == PHASE_QUEUED;
                req->phase = PHASE_EXPIRED;
                atomic_store(&req->cancel, true);
                req->suspended = false;
                unlink_suspended(req);
                connection = req->connection;
            } else {
                unlink_suspended(req); /* resumed meanwhile: nothing to watch */
            }
            pthread_mutex_unlock(&req->mutex);
            if (was_queued) {
                http_pool_cancel(req->route == ROUTE_WEBHOOK ? server->webhook_pool
                                                             : server->api_pool,
                                 &req->job);
            }
            if (connection != NULL) {
                MHD_resume_connection(connection);
            }
            http_request_unref(req);
        }
        if (count < 64) {
            return;
        }
    }
}

/* --- the console (/console/) --------------------------------------------------------------- */

/* Files come from memory (http_console.c): nothing here waits on a disk. */
static enum MHD_Result answer_console(struct request *req, const char *method, const char *url)
{
    struct http_console *console = req->server->daemon->console;
    if (console == NULL) {
        return http_send_error(req, 404, "not_found", "the console is not installed", NULL, NULL);
    }
    unsigned status = 0;
    const char *if_none_match = MHD_lookup_connection_value(req->connection, MHD_HEADER_KIND,
                                                            MHD_HTTP_HEADER_IF_NONE_MATCH);
    struct MHD_Response *response =
        http_console_response(console, url, method, if_none_match, &status);
    if (response == NULL) {
        return MHD_NO;
    }
    return send_prepared(req, (int)status, response);
}

/* --- other routes ----------------------------------------------------------------------- */

static enum MHD_Result answer_get(struct request *req, const char *method)
{
    if (req->route == ROUTE_UNKNOWN) {
        /* whatever the method: there is nothing here to allow */
        return http_send_error(req, 404, "not_found", "no such endpoint", NULL, NULL);
    }
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
        return http_send_error(req, 405, "method_not_allowed", "this endpoint takes GET",
                               MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    }
    struct daemon *daemon = req->server->daemon;
    switch (req->route) {
    case ROUTE_HEALTHZ:
        return http_send(req, 200, "application/json", "{\"status\":\"ok\"}", 15, NULL, NULL);
    case ROUTE_READYZ: {
        /* the checker's last verdict: nothing waits here */
        char *body = NULL;
        int status = readiness_answer(daemon->readiness, &body);
        if (body == NULL) {
            return MHD_NO;
        }
        enum MHD_Result rc =
            http_send(req, status, "application/json", body, strlen(body), NULL, NULL);
        free(body);
        return rc;
    }
    case ROUTE_METRICS: {
        daemon_refresh_gauges(daemon);
        char *text = metrics_render(daemon->metrics);
        if (text == NULL) {
            return MHD_NO;
        }
        enum MHD_Result rc =
            http_send(req, 200, "text/plain; version=0.0.4", text, strlen(text), NULL, NULL);
        free(text);
        return rc;
    }
    default:
        return http_send_error(req, 404, "not_found", "no such endpoint", NULL, NULL);
    }
}

/* The route of a path on this listener: what it does not serve does not exist here. */
static enum route route_of(const struct listener *listener, const char *url)
{
    enum route route = ROUTE_UNKNOWN;
    if (strncmp(url, WEBHOOK_PREFIX, strlen(WEBHOOK_PREFIX)) == 0 &&
        util_instance_name_valid(url + strlen(WEBHOOK_PREFIX))) {
        route = ROUTE_WEBHOOK;
    } else if (strcmp(url, "/healthz") == 0) {
        route = ROUTE_HEALTHZ;
    } else if (strcmp(url, "/readyz") == 0) {
        route = ROUTE_READYZ;
    } else if (strcmp(url, "/metrics") == 0) {
        route = ROUTE_METRICS;
    } else if (strcmp(url, "/v1") == 0 || strncmp(url, "/v1/", 4) == 0) {
        route = ROUTE_API;
    } else if (strcmp(url, HTTP_CONSOLE_PREFIX) == 0 ||
               strncmp(url, HTTP_CONSOLE_PREFIX "/", strlen(HTTP_CONSOLE_PREFIX "/")) == 0) {
        route = ROUTE_CONSOLE;
    } else if (strcmp(url, "/oauth/callback") == 0) {
        /* on every listener: a browser follows the redirect to whichever one oauth
         * redirect_url names, and the single-use state is the credential */
        route = ROUTE_OAUTH_CALLBACK;
    }
    if (route == ROUTE_WEBHOOK && !listener->serves_webhooks) {
        return ROUTE_UNKNOWN;
    }
    /* the console where its API is: one origin, no CORS */
    if ((route == ROUTE_READYZ || route == ROUTE_METRICS || route == ROUTE_API ||
         route == ROUTE_CONSOLE) &&
        !listener->serves_admin) {
        return ROUTE_UNKNOWN;
    }
    return route;
}

/* How a request's body is framed: its Content-Length and Transfer-Encoding headers. */
struct framing {
    unsigned lengths;
    unsigned codings;
    bool chunked; /* the (only) Transfer-Encoding says chunked */
};

static enum MHD_Result count_framing(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    (void)kind;
    struct framing *f = cls;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
        f->lengths++;
    } else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
        f->codings++;
        f->chunked = value != NULL && strcasecmp(value, "chunked") == 0;
    }
    return MHD_YES;
}

/* One way to read the body, and only one: at most one Content-Length, or a lone
 * Transfer-Encoding: chunked. libmicrohttpd would read another coding until the connection
 * closes, and a request framed two ways may be read one way here and another by a proxy
 * in front (RFC 9112 6.1). */
static bool framing_acceptable(struct MHD_Connection *connection, struct request *req)
{
    struct framing f = {0};
    MHD_get_connection_values(connection, MHD_HEADER_KIND, count_framing, &f);
    const char *length =
        MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    req->announced = length != NULL ? strtoull(length, NULL, 10) : 0;
    req->has_body = f.codings > 0 || req->announced > 0;
    if (f.codings == 0) {
        return f.lengths <= 1;
    }
    return f.codings == 1 && f.chunked && f.lengths == 0;
}

/* --- libmicrohttpd's callbacks ---------------------------------------------------------- */

static enum MHD_Result on_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
    (void)addrlen;
    struct listener *listener = cls;
    if (http_guard_admit(listener->server->guard, addr)) {
        return MHD_YES;
    }
    http_count_refusal(listener->server, "connections_per_address");
    log_limited(&listener->server->connection_log, LOG_LEVEL_INFO, NULL, NULL,
                "connection refused: too many from one address (http.connections_per_address)");
    return MHD_NO;
}

static void on_connection(void *cls, struct MHD_Connection *connection, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    struct listener *listener = cls;
    struct http_server *server = listener->server;
    if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        http_guard_close(server->guard, *socket_context);
        *socket_context = NULL;
        return;
    }
    const union MHD_ConnectionInfo *address =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const char *refused = NULL;
    *socket_context = http_guard_open(server->guard, address != NULL ? address->client_addr : NULL,
                                      connection_fd(connection), &refused);
    if (refused != NULL) {
        http_count_refusal(server, "connections_per_address");
        log_limited(&server->connection_log, LOG_LEVEL_INFO, NULL, NULL,
                    "connection refused: too many from one address "
                    "(http.connections_per_address)");
    }
}

static struct http_guard_conn *guard_conn_of(struct MHD_Connection *connection)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return info != NULL ? info->socket_context : NULL;
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *connection)
{
    struct listener *listener = cls;
    struct request *req = request_new(listener, uri);
    if (req != NULL) {
        req->guard_conn = guard_conn_of(connection);
        http_guard_phase(listener->server->guard, req->guard_conn, HTTP_GUARD_RECEIVING);
    }
    return req;
}

/* libmicrohttpd is done with the request (answered, or the connection died). */
static void on_completed(void *cls, struct MHD_Connection *connection, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)toe;
    struct listener *listener = cls;
    struct request *req = *con_cls;
    if (req == NULL) {
        return;
    }
    *con_cls = NULL;
    pthread_mutex_lock(&req->mutex);
    /* whoever still holds it must not resume what is gone */
    req->connection = NULL;
    req->suspended = false;
    pthread_mutex_unlock(&req->mutex);
    http_guard_phase(listener->server->guard, guard_conn_of(connection), HTTP_GUARD_IDLE);
    http_request_unref(req);
}

/* The first call for a request: route it and refuse what can be refused unread. */
static enum MHD_Result start(struct request *req, struct MHD_Connection *connection,
                             const char *url, const char *method)
{
    struct http_server *server = req->server;
    req->connection = connection;
    req->method = strdup(method);
    req->url = strdup(url);
    if (req->method == NULL || req->url == NULL) {
        return MHD_NO;
    }
    /* a NUL would cut the path short: "/webhooks/inbound%00evil" is not "inbound" */
    req->route = http_path_has_nul(req->raw_uri) ? ROUTE_UNKNOWN : route_of(req->listener, url);
    if (!framing_acceptable(connection, req)) {
        /* answered and closed: nothing after it can be smuggled in */
        http_count_refusal(server, "framing");
        return http_refuse_early(req, 400, "bad_request",
                                 "the body must be framed one way: one Content-Length, or "
                                 "Transfer-Encoding: chunked alone",
                                 NULL);
    }
    if (atomic_load(&server->quiesced) || atomic_load(&server->daemon->stopping)) {
        return http_refuse_early(req, 503, "stopping", "the daemon is shutting down", "1");
    }
    if (req->route == ROUTE_WEBHOOK) {
        return http_webhook_start(req);
    }
    if (req->route == ROUTE_API) {
        return http_api_start(req);
    }
    if (req->route == ROUTE_OAUTH_CALLBACK) {
        return http_oauth_start(req);
    }
    if (req->has_body) {
        /* nothing here reads a body */
        req->close = true;
    }
    if (req->route == ROUTE_CONSOLE) {
        return answer_console(req, method, url);
    }
    return answer_get(req, method);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *connection, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    struct request *req = *con_cls;
    if (req == NULL) {
        req = request_new(cls, url);
        if (req == NULL) {
            return MHD_NO;
        }
        *con_cls = req;
    }
    switch (http_phase(req)) {
    case PHASE_NEW:
        return start(req, connection, url, method);
    case PHASE_BODY:
        if (*upload_data_size > 0) {
            size_t size = *upload_data_size;
            *upload_data_size = 0;
            if (req->body.len + size > req->server->body_limit) {
                /* a chunked body past the limit is cut off here, not read to its end (one
                 * announced by Content-Length was refused before it was read) */
                http_count_refusal(req->server, "too_large");
                return http_refuse_mid_upload(req, 413, "payload_too_large",
                                              "the body exceeds http.body_limit", NULL);
            }
            if (req->route == ROUTE_WEBHOOK) {
                return http_webhook_chunk(req, upload_data, size);
            }
            strbuf_append_len(&req->body, upload_data, size);
            return MHD_YES;
        }
        if (req->body.failed) {
            return http_send_error(req, 503, "unavailable", "out of memory",
                                   MHD_HTTP_HEADER_RETRY_AFTER, "1");
        }
        if (req->route == ROUTE_OAUTH_CALLBACK) {
            return http_oauth_run(req);
        }
        return req->route == ROUTE_API ? http_api_run(req) : http_webhook_run(req);
    case PHASE_READY:
        if (req->route == ROUTE_OAUTH_CALLBACK) {
            return http_oauth_answer(req);
        }
        return req->route == ROUTE_API ? http_api_answer(req) : http_webhook_answer(req);
    case PHASE_EXPIRED: {
        const char *reason = req->expired_reason != NULL ? req->expired_reason : "timeout";
        http_count_refusal(req->server, reason);
        if (req->route == ROUTE_WEBHOOK && req->instance != NULL) {
            metrics_counter_add(req->server->daemon->metrics, "leadhub_webhook_requests_total",
                                "Webhook requests, by instance and outcome.", 1, "instance",
                                req->instance->name, "outcome", "timeout", METRICS_END);
            log_limited(&req->server->refusal_log, LOG_LEVEL_WARN, req->instance->plugin->name,
                        req->instance->name, "webhook answered 503: %s passed", reason);
        }
        return http_send_error(req, 503, "unavailable",
                               strcmp(reason, "commit_timeout") == 0
                                   ? "the events were not confirmed stored in time; retry (a "
                                     "retry of stored events is answered as a duplicate)"
                                   : "the request took too long; nothing was stored, retry",
                               MHD_HTTP_HEADER_RETRY_AFTER, "1");
    }
    case PHASE_QUEUED:
    case PHASE_RUNNING:
    case PHASE_COMMITTING:
        return MHD_YES; /* resumed spuriously: wait */
    case PHASE_ANSWERED:
        /* libmicrohttpd may call again while draining an upload after an early answer */
        *upload_data_size = 0;
        return MHD_YES;
    }
    return MHD_NO;
}

static void on_mhd_log(void *cls, const char *fmt, va_list args)
{
    (void)cls;
    char message[512];
    vsnprintf(message, sizeof(message), fmt, args);
    size_t len = strlen(message);
    while (len > 0 && message[len - 1] == '\n') {
        message[--len] = '\0';
    }
    log_write(LOG_LEVEL_DEBUG, NULL, NULL, NULL, "http: %s", message);
}

/* --- the clock ------------------------------------------------------------------------ */

static void update_gauges(struct http_server *server)
{
    struct metrics *m = server->daemon->metrics;
    metrics_gauge_set(m, "leadhub_http_unauthenticated_bytes",
                      "Bytes of request bodies held before their signature was checked.",
                      (double)http_guard_unauthenticated(server->guard), METRICS_END);
    metrics_gauge_set(m, "leadhub_http_connections", "Connections open.",
                      (double)http_guard_connections(server->guard), METRICS_END);
    metrics_gauge_set(m, "leadhub_http_worker_queue", "Jobs waiting for a worker, by pool.",
                      (double)http_pool_queued(server->webhook_pool), "pool", "webhook",
                      METRICS_END);
    metrics_gauge_set(m, "leadhub_http_worker_queue", "Jobs waiting for a worker, by pool.",
                      (double)http_pool_queued(server->api_pool), "pool", "api", METRICS_END);
    metrics_gauge_set(m, "leadhub_http_workers_busy", "Workers running a job, by pool.",
                      (double)http_pool_busy(server->webhook_pool), "pool", "webhook", METRICS_END);
    metrics_gauge_set(m, "leadhub_http_workers_busy", "Workers running a job, by pool.",
                      (double)http_pool_busy(server->api_pool), "pool", "api", METRICS_END);
}

static void *clock_main(void *arg)
{
    struct http_server *server = arg;
    int64_t next_guard = 0;
    pthread_mutex_lock(&server->clock_mutex);
    while (!server->clock_stopping) {
        pthread_mutex_unlock(&server->clock_mutex);
        int64_t now = util_monotonic_ms();
        expire_overdue(server, now);
        if (now >= next_guard) {
            next_guard = now + GUARD_TICK_MS;
            unsigned shut = http_guard_tick(server->guard, now);
            for (unsigned i = 0; i < shut; i++) {
                http_count_refusal(server, "request_timeout");
            }
            if (shut > 0) {
                log_limited(&server->connection_log, LOG_LEVEL_INFO, NULL, NULL,
                            "%u connection(s) closed: no request, or a request not received or "
                            "not read whole in time (http.timeout, http.request_timeout)",
                            shut);
            }
            log_limiter_flush(&server->refusal_log);
            log_limiter_flush(&server->connection_log);
            update_gauges(server);
        }
        pthread_mutex_lock(&server->clock_mutex);
        if (!server->clock_stopping) {
            util_cond_wait_ms(&server->clock_wake, &server->clock_mutex, CLOCK_TICK_MS);
        }
    }
    pthread_mutex_unlock(&server->clock_mutex);
    return NULL;
}

/* --- lifecycle -------------------------------------------------------------------------- */

static int start_listener(struct http_server *server, struct listener *listener, const char *host,
                          int port, unsigned threads, unsigned connection_limit, char **error_out)
{
    const struct config *config = server->daemon->config;
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *address = NULL;
    char port_text[16];
    snprintf(port_text, sizeof(port_text), "%d", port);
    int gai = getaddrinfo(host, port_text, &hints, &address);
    if (gai != 0) {
        *error_out = util_printf("listen address %s: %s", host, gai_strerror(gai));
        return -1;
    }
    listener->server = server;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ITC | MHD_USE_ERROR_LOG;
    if (address->ai_family == AF_INET6) {
        flags |= MHD_USE_IPv6;
    }
    /* the logger first, so that it hears about the options after it */
    struct MHD_OptionItem options[] = {
        {MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)on_mhd_log, server},
        {MHD_OPTION_SOCK_ADDR, 0, address->ai_addr},
        {MHD_OPTION_CONNECTION_LIMIT, connection_limit, NULL},
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT, HTTP_CONNECTION_MEMORY, NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)((config->http_timeout_ms + 999) / 1000), NULL},
        {MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)on_uri, listener},
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, listener},
        {MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, listener},
        /* a pool of one is no pool: the option only for two or more */
        {threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, threads, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    listener->mhd = MHD_start_daemon(flags, (uint16_t)port, on_accept, listener, on_request,
                                     listener, MHD_OPTION_ARRAY, options, MHD_OPTION_END);
    freeaddrinfo(address);
    if (listener->mhd == NULL) {
        *error_out =
            util_printf("cannot listen on %s:%d (address in use, or not permitted)", host, port);
        return -1;
    }
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(listener->mhd, MHD_DAEMON_INFO_BIND_PORT);
    listener->port = info != NULL ? info->port : port;
    return 0;
}

struct http_server *http_server_start(struct daemon *daemon, char **error_out)
{
    const struct config *config = daemon->config;
    struct http_server *server = calloc(1, sizeof(*server));
    if (server == NULL) {
        *error_out = strdup("out of memory");
        return NULL;
    }
    server->daemon = daemon;
    server->body_limit = config->http_body_limit;
    server->limits = config->http;
    server->ingest = daemon->ingest;
    atomic_init(&server->quiesced, false);
    pthread_mutex_init(&server->mutex, NULL);
    pthread_cond_init(&server->idle, NULL);
    pthread_mutex_init(&server->suspended_mutex, NULL);
    pthread_rwlock_init(&server->ingest_lock, NULL);
    pthread_mutex_init(&server->clock_mutex, NULL);
    pthread_cond_init(&server->clock_wake, NULL);
    server->refusal_log = (struct log_limiter)LOG_LIMITER_INIT(10, 10000, "webhook refusal lines");
    server->connection_log =
        (struct log_limiter)LOG_LIMITER_INIT(10, 10000, "connection refusal lines");

    struct http_guard_limits guard = {
        .connections_per_address = config->http.connections_per_address,
        .unauthenticated_bytes = config->http.unauthenticated_bytes,
        .unauthenticated_bytes_per_address = config->http.unauthenticated_bytes_per_address,
        .idle_timeout_ms = config->http_timeout_ms,
        .request_timeout_ms = config->http.request_timeout_ms,
    };
    /* the container's CPU limit, not the node's CPU count */
    unsigned cpus = cpu_quota_cpus();
    server->webhook_workers = config->http.webhook_workers > 0 ? config->http.webhook_workers
                                                               : (2 * cpus > 4 ? 2 * cpus : 4);
    server->guard = http_guard_create(&guard);
    server->webhook_pool =
        http_pool_start("webhook", server->webhook_workers, HTTP_WEBHOOK_QUEUE_MAX);
    server->api_pool = http_pool_start("api", config->http.api_workers, HTTP_API_QUEUE_MAX);
    if (server->guard == NULL || server->webhook_pool == NULL || server->api_pool == NULL ||
        pthread_create(&server->clock, NULL, clock_main, server) != 0) {
        *error_out = strdup("cannot start the HTTP workers");
        http_server_stop(server, 5000);
        return NULL;
    }
    server->clock_started = true;

    unsigned threads = config->http_threads > 0 ? config->http_threads : cpus;
    log_info("http: %u server thread(s)%s, %u webhook worker(s), %u API worker(s)", threads,
             config->http_threads == 0 ? " (one per CPU this process may use: cgroup quota)" : "",
             server->webhook_workers, config->http.api_workers);
    bool admin = config->admin_listen_host != NULL;
    struct listener *public = &server->listeners[server->listener_count++];
    public->serves_webhooks = true;
    public->serves_admin = !admin;
    if (start_listener(server, public, config->listen_host, config->listen_port, threads,
                       config->http_connection_limit, error_out) != 0) {
        http_server_stop(server, 5000);
        return NULL;
    }
    if (admin) {
        /* operators and probes: one thread is plenty, and its own small connection limit */
        struct listener *second = &server->listeners[server->listener_count++];
        second->serves_admin = true;
        if (start_listener(server, second, config->admin_listen_host, config->admin_listen_port, 1,
                           256, error_out) != 0) {
            http_server_stop(server, 5000);
            return NULL;
        }
    }
    return server;
}

int http_server_port(const struct http_server *server)
{
    return server->listeners[0].port;
}

int http_server_admin_port(const struct http_server *server)
{
    return server->listener_count > 1 ? server->listeners[1].port : 0;
}

void http_server_quiesce(struct http_server *server)
{
    if (server == NULL || atomic_exchange(&server->quiesced, true)) {
        return;
    }
    for (size_t i = 0; i < server->listener_count; i++) {
        if (server->listeners[i].mhd != NULL) {
            MHD_socket listen_fd = MHD_quiesce_daemon(server->listeners[i].mhd);
            if (listen_fd != MHD_INVALID_SOCKET) {
                close(listen_fd);
            }
        }
    }
}

unsigned http_server_wait_idle(struct http_server *server, int64_t timeout_ms)
{
    struct timespec deadline;
    util_deadline(timeout_ms, &deadline);
    pthread_mutex_lock(&server->mutex);
    while (server->in_flight > 0) {
        if (pthread_cond_timedwait(&server->idle, &server->mutex, &deadline) != 0) {
            break;
        }
    }
    unsigned left = server->in_flight;
    pthread_mutex_unlock(&server->mutex);
    return left;
}

void http_server_detach_ingest(struct http_server *server)
{
    if (server == NULL) {
        return;
    }
    pthread_rwlock_wrlock(&server->ingest_lock);
    server->ingest = NULL;
    pthread_rwlock_unlock(&server->ingest_lock);
}

bool http_server_stop(struct http_server *server, int64_t grace_ms)
{
    if (server == NULL) {
        return true;
    }
    if (server->clock_started) {
        pthread_mutex_lock(&server->clock_mutex);
        server->clock_stopping = true;
        pthread_cond_broadcast(&server->clock_wake);
        pthread_mutex_unlock(&server->clock_mutex);
        pthread_join(server->clock, NULL);
        server->clock_started = false;
    }
    /* the work first: a worker may still resume a connection */
    if (!http_pool_stop(server->webhook_pool, grace_ms) ||
        !http_pool_stop(server->api_pool, grace_ms)) {
        log_warn("a webhook callback or REST handler is still running after the shutdown grace "
                 "period");
        return false;
    }
    server->webhook_pool = server->api_pool = NULL;
    for (size_t i = 0; i < server->listener_count; i++) {
        if (server->listeners[i].mhd != NULL) {
            MHD_stop_daemon(server->listeners[i].mhd);
        }
    }
    http_guard_free(server->guard);
    pthread_cond_destroy(&server->clock_wake);
    pthread_mutex_destroy(&server->clock_mutex);
    pthread_rwlock_destroy(&server->ingest_lock);
    pthread_mutex_destroy(&server->suspended_mutex);
    pthread_cond_destroy(&server->idle);
    pthread_mutex_destroy(&server->mutex);
    free(server);
    return true;
}
