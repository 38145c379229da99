/*
 * http_server.c - the HTTP listener (libmicrohttpd, internal epoll threads).
 *
 * A webhook request goes: route -> read the body (refusing past the limit) -> plugin
 * callback (verifies, parses, emits) -> the batch is queued for commit and the connection
 * suspended -> a writer thread commits and resumes it -> the answer is sent. No thread
 * waits on the database, so a handful of threads carry thousands of concurrent requests.
 *
 * The raw request URI (with its query string, which MHD does not keep) is captured by the
 * URI log callback, which also creates the per-request state: that way every request,
 * even one that dies before the access handler runs, is counted in and out of the
 * in-flight total that shutdown waits on.
 */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cpu_quota.h"
#include "daemon.h"
#include "http_console.h"
#include "http_server.h"
#include "log.h"
#include "rest.h"
#include "util.h"

#define WEBHOOK_PREFIX "/webhooks/"

struct http_server {
    struct daemon *daemon;
    struct MHD_Daemon *mhd;
    int port;
    size_t body_limit;
    atomic_bool quiesced;
    pthread_mutex_t mutex;
    pthread_cond_t idle;
    unsigned in_flight;
};

enum route {
    ROUTE_UNKNOWN,
    ROUTE_WEBHOOK,
    ROUTE_HEALTHZ,
    ROUTE_READYZ,
    ROUTE_METRICS,
    ROUTE_API,
    ROUTE_CONSOLE
};

static const char *const route_labels[] = {
    "other", "/webhooks/{instance}", "/healthz", "/readyz", "/metrics", "/v1", "/console"};

enum phase {
    PHASE_NEW,     /* nothing looked at yet */
    PHASE_BODY,    /* reading the request body */
    PHASE_WAITING, /* suspended until the batch commits */
    PHASE_ANSWERED
};

struct request {
    struct http_server *server;
    struct MHD_Connection *connection;
    char *raw_uri;
    int64_t started_ms;
    enum route route;
    enum phase phase;
    struct instance *instance;
    struct strbuf body;
    bool too_large;
    pthread_mutex_t mutex; /* orders suspend (MHD thread) against resume (writer thread) */
    bool suspended;
    struct ingest_batch batch;
    struct lh_ctx ctx;
    bool ctx_ready;
    struct rest_response rest; /* /v1 */
};

/* --- answering ---------------------------------------------------------------------- */

/* Queues `response` (destroyed here) and counts the request. */
static enum MHD_Result queue_response(struct request *req, int status,
                                      struct MHD_Response *response)
{
    if (atomic_load(&req->server->quiesced)) {
        MHD_add_response_header(response, MHD_HTTP_HEADER_CONNECTION, "close");
    }
    enum MHD_Result rc = MHD_queue_response(req->connection, (unsigned)status, response);
    MHD_destroy_response(response);
    req->phase = PHASE_ANSWERED;
    /* Counted when queued, so that a client holding the answer sees it counted. */
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
    return rc;
}

static enum MHD_Result send_response(struct request *req, int status, const char *content_type,
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
    return queue_response(req, status, response);
}

static enum MHD_Result send_json(struct request *req, int status, json_t *body,
                                 const char *header_name, const char *header_value)
{
    char *text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(body);
    if (text == NULL) {
        return MHD_NO;
    }
    enum MHD_Result rc = send_response(req, status, "application/json", text, strlen(text),
                                       header_name, header_value);
    free(text);
    return rc;
}

/* The one error shape: {"error": {"code": ..., "message": ..., "details": null}}. */
static enum MHD_Result send_error(struct request *req, int status, const char *code,
                                  const char *message, const char *header_name,
                                  const char *header_value)
{
    json_t *body = json_pack("{s:{s:s,s:s,s:n}}", "error", "code", code, "message",
                             message != NULL ? message : "", "details");
    if (body == NULL) {
        return MHD_NO;
    }
    return send_json(req, status, body, header_name, header_value);
}

/* --- webhooks --------------------------------------------------------------------------- */

struct header_list {
    lh_header_t *items;
    size_t count;
    size_t capacity;
};

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
    (void)kind;
    struct header_list *list = cls;
    if (list->count == list->capacity) {
        size_t capacity = list->capacity ? list->capacity * 2 : 16;
        lh_header_t *items = realloc(list->items, capacity * sizeof(*items));
        if (items == NULL) {
            return MHD_NO;
        }
        list->items = items;
        list->capacity = capacity;
    }
    list->items[list->count].name = key;
    list->items[list->count].value = value != NULL ? value : "";
    list->count++;
    return MHD_YES;
}

static void remote_address(struct MHD_Connection *connection, char *out, size_t out_size)
{
    snprintf(out, out_size, "unknown");
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (info == NULL || info->client_addr == NULL) {
        return;
    }
    const struct sockaddr *addr = info->client_addr;
    if (addr->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)addr)->sin_addr, out,
                  (socklen_t)out_size);
    } else if (addr->sa_family == AF_INET6) {
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)addr)->sin6_addr, out,
                  (socklen_t)out_size);
    }
}

static void count_webhook(struct request *req, const char *outcome)
{
    metrics_counter_add(req->server->daemon->metrics, "leadhub_webhook_requests_total",
                        "Webhook requests, by instance and outcome.", 1, "instance",
                        req->instance->name, "outcome", outcome, METRICS_END);
}

/* The answer once the events are committed (or could not be). */
static enum MHD_Result answer_webhook(struct request *req)
{
    struct ingest_batch *batch = &req->batch;
    if (batch->result != STORE_OK) {
        count_webhook(req, "unavailable");
        if (batch->result == STORE_REJECTED) {
            return send_error(req, 500, "not_stored",
                              "the database refused the events; nothing was stored", NULL, NULL);
        }
        return send_error(req, 503, "unavailable",
                          "the events could not be stored right now; nothing was stored, retry",
                          MHD_HTTP_HEADER_RETRY_AFTER, "1");
    }
    count_webhook(req, "accepted");
    if (req->ctx.response_status != 0) {
        return send_response(req, req->ctx.response_status, req->ctx.response_content_type,
                             req->ctx.response_body, req->ctx.response_body_len, NULL, NULL);
    }
    size_t duplicates = 0;
    for (size_t i = 0; i < batch->event_count; i++) {
        duplicates += batch->events[i].duplicate;
    }
    /* the answer every webhook request gets: formatted here, not built and dumped */
    char body[64];
    int len = snprintf(body, sizeof(body), "{\"accepted\":%zu,\"duplicates\":%zu}",
                       batch->event_count - duplicates, duplicates);
    return send_response(req, 200, "application/json", body, (size_t)len, NULL, NULL);
}

/*
 * Runs on a writer thread when the batch is committed or failed. The connection is resumed
 * only after the mutex is released: once resumed, an MHD thread may answer and free the
 * request at once, so nothing of it may be touched after MHD_resume_connection(). While
 * the connection is suspended the request cannot be completed, so it is alive until then.
 */
static void on_batch_done(struct ingest_batch *batch, void *arg)
{
    (void)batch;
    struct request *req = arg;
    struct MHD_Connection *resume = NULL;
    pthread_mutex_lock(&req->mutex);
    if (req->suspended) {
        req->suspended = false;
        resume = req->connection;
    }
    pthread_mutex_unlock(&req->mutex);
    if (resume != NULL) {
        MHD_resume_connection(resume);
    }
}

/*
 * Hands req->batch to ingest and suspends the connection until on_batch_done() resumes it;
 * MHD then calls on_request() again in PHASE_WAITING. -1 when ingest's queue is full (the
 * connection is not suspended).
 */
static int submit_and_suspend(struct request *req)
{
    req->batch.done = on_batch_done;
    req->batch.done_arg = req;
    pthread_mutex_lock(&req->mutex);
    if (ingest_submit(req->server->daemon->ingest, &req->batch) != 0) {
        pthread_mutex_unlock(&req->mutex);
        return -1;
    }
    req->phase = PHASE_WAITING;
    req->suspended = true;
    MHD_suspend_connection(req->connection);
    pthread_mutex_unlock(&req->mutex);
    return 0;
}

static enum MHD_Result answer_plugin_failure(struct request *req, lh_status_t status)
{
    const char *reason = req->ctx.error != NULL ? req->ctx.error : "rejected by the connector";
    count_webhook(req, instance_status_name(status));
    log_write(LOG_LEVEL_INFO, req->instance->plugin->name, req->instance->name, NULL,
              "webhook refused (%s): %s", instance_status_name(status), reason);
    if (req->ctx.response_status != 0) {
        return send_response(req, req->ctx.response_status, req->ctx.response_content_type,
                             req->ctx.response_body, req->ctx.response_body_len, NULL, NULL);
    }
    switch (status) {
    case LH_AUTH:
        return send_error(req, 401, "unauthorized", reason, NULL, NULL);
    case LH_PERMANENT:
        return send_error(req, 400, "bad_request", reason, NULL, NULL);
    case LH_CONFIG:
        return send_error(req, 500, "misconfigured",
                          "the connector instance is misconfigured; see the daemon's log", NULL,
                          NULL);
    case LH_RETRY_AFTER: {
        char seconds[24];
        int64_t delay = req->ctx.retry_after_ms > 0 ? (req->ctx.retry_after_ms + 999) / 1000 : 1;
        snprintf(seconds, sizeof(seconds), "%lld", (long long)delay);
        return send_error(req, 503, "unavailable", reason, MHD_HTTP_HEADER_RETRY_AFTER, seconds);
    }
    default:
        return send_error(req, 503, "unavailable", reason, MHD_HTTP_HEADER_RETRY_AFTER, "1");
    }
}

static enum MHD_Result run_webhook(struct request *req, const char *method, const char *url)
{
    struct header_list headers = {0};
    MHD_get_connection_values(req->connection, MHD_HEADER_KIND, collect_header, &headers);
    char remote[64];
    remote_address(req->connection, remote, sizeof(remote));
    const char *query = strchr(req->raw_uri != NULL ? req->raw_uri : "", '?');
    lh_webhook_request_t request = {
        .struct_size = (uint32_t)sizeof(lh_webhook_request_t),
        .method = method,
        .path = url,
        .query = query != NULL ? query + 1 : "",
        .headers = headers.items,
        .header_count = headers.count,
        .body = (const unsigned char *)strbuf_value(&req->body),
        .body_len = req->body.len,
        .remote_addr = remote,
    };
    ctx_init(&req->ctx, req->instance, &req->batch);
    req->ctx_ready = true;
    lh_status_t status = instance_webhook(req->instance, &req->ctx, &request);
    free(headers.items);
    if (status != LH_OK) {
        return answer_plugin_failure(req, status);
    }
    if (ingest_batch_empty(&req->batch)) {
        req->batch.result = STORE_OK;
        return answer_webhook(req);
    }
    if (submit_and_suspend(req) != 0) {
        count_webhook(req, "busy");
        return send_error(req, 503, "unavailable", "too many events waiting to be stored; retry",
                          MHD_HTTP_HEADER_RETRY_AFTER, "1");
    }
    return MHD_YES;
}

/* GET reaches a webhook callback only when its plugin declares challenge handshakes. */
static bool takes_get(const struct instance *instance)
{
    return instance != NULL && instance->plugin->desc->webhook != NULL &&
           (instance->plugin->desc->flags & LH_PLUGIN_WEBHOOK_GET) != 0;
}

static enum MHD_Result start_webhook(struct request *req, const char *method, const char *url)
{
    bool get = strcmp(method, MHD_HTTP_METHOD_GET) == 0;
    if (strcmp(method, MHD_HTTP_METHOD_POST) != 0 && !get) {
        return send_error(req, 405, "method_not_allowed", "webhooks take POST",
                          MHD_HTTP_HEADER_ALLOW, "POST");
    }
    const char *name = url + strlen(WEBHOOK_PREFIX);
    bool swapping = false;
    req->instance = daemon_lookup_instance(req->server->daemon, name, &swapping);
    if (swapping) {
        return send_error(req, 503, "unavailable",
                          "the connector instance is restarting (configuration reload); retry",
                          MHD_HTTP_HEADER_RETRY_AFTER, "1");
    }
    if (req->instance == NULL || req->instance->plugin->desc->webhook == NULL) {
        return send_error(req, 404, "not_found",
                          req->instance == NULL ? "no enabled connector instance by that name"
                                                : "this connector instance takes no webhooks",
                          NULL, NULL);
    }
    if (get && !takes_get(req->instance)) {
        return send_error(req, 405, "method_not_allowed", "webhooks take POST",
                          MHD_HTTP_HEADER_ALLOW, "POST");
    }
    if (!atomic_load(&req->instance->initialized)) {
        /* Only this instance's webhooks: the process stays ready for the others
         * (readiness.h). */
        count_webhook(req, "not_initialized");
        return send_error(req, 503, "unavailable", "the connector instance is not initialized",
                          MHD_HTTP_HEADER_RETRY_AFTER, "5");
    }
    if (get) {
        /* a challenge handshake (LinkedIn's ?challengeCode=): no body to read */
        return run_webhook(req, method, url);
    }
    const char *length = MHD_lookup_connection_value(req->connection, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (length != NULL && strtoull(length, NULL, 10) > req->server->body_limit) {
        count_webhook(req, "too_large");
        return send_error(req, 413, "payload_too_large", "the body exceeds http.body_limit", NULL,
                          NULL);
    }
    req->phase = PHASE_BODY;
    return MHD_YES;
}

/* --- the REST API (/v1) ------------------------------------------------------------------ */

/* Query parameters into a JSON object; the first of a repeated name wins. */
static enum MHD_Result collect_param(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    (void)kind;
    json_t *params = cls;
    if (json_object_get(params, key) == NULL) {
        json_object_set_new(params, key, json_string(value != NULL ? value : ""));
    }
    return MHD_YES;
}

static struct rest_request rest_request_of(struct request *req, const char *method, const char *url,
                                           const json_t *query)
{
    return (struct rest_request){
        .daemon = req->server->daemon,
        .method = method,
        .path = url,
        .query = query,
        .authorization = MHD_lookup_connection_value(req->connection, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_AUTHORIZATION),
        .content_type = MHD_lookup_connection_value(req->connection, MHD_HEADER_KIND,
                                                    MHD_HTTP_HEADER_CONTENT_TYPE),
        .body = strbuf_value(&req->body),
        .body_len = req->body.len,
    };
}

/* Sends what the REST module built; the response's body is handed over. */
static enum MHD_Result send_rest(struct request *req)
{
    struct rest_response *rest = &req->rest;
    json_t *body = rest->body;
    rest->body = NULL;
    if (body == NULL) {
        return send_error(req, 500, "internal", "out of memory", NULL, NULL);
    }
    if (rest->www_authenticate) {
        return send_json(req, rest->status, body, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                         "Bearer realm=\"leadhub\"");
    }
    if (rest->allow != NULL) {
        return send_json(req, rest->status, body, MHD_HTTP_HEADER_ALLOW, rest->allow);
    }
    if (rest->status == 503) {
        return send_json(req, rest->status, body, MHD_HTTP_HEADER_RETRY_AFTER, "1");
    }
    return send_json(req, rest->status, body, NULL, NULL);
}

/* The token is checked before the body is read: no buffering for strangers. */
static enum MHD_Result start_api(struct request *req, const char *method, const char *url)
{
    struct rest_request request = rest_request_of(req, method, url, NULL);
    if (!rest_authenticate_early(&request, &req->rest)) {
        return send_rest(req);
    }
    const char *length = MHD_lookup_connection_value(req->connection, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (length != NULL && strtoull(length, NULL, 10) > req->server->body_limit) {
        return send_error(req, 413, "payload_too_large", "the body exceeds http.body_limit", NULL,
                          NULL);
    }
    req->phase = PHASE_BODY;
    return MHD_YES;
}

static enum MHD_Result run_api(struct request *req, const char *method, const char *url)
{
    json_t *query = json_object();
    if (query == NULL) {
        return send_error(req, 503, "unavailable", "out of memory", NULL, NULL);
    }
    MHD_get_connection_values(req->connection, MHD_GET_ARGUMENT_KIND, collect_param, query);
    struct rest_request request = rest_request_of(req, method, url, query);
    rest_handle(&request, &req->rest, &req->batch);
    json_decref(query);
    if (!req->rest.commit) {
        return send_rest(req);
    }
    if (submit_and_suspend(req) != 0) {
        return send_error(req, 503, "unavailable", "too many events waiting to be stored; retry",
                          MHD_HTTP_HEADER_RETRY_AFTER, "1");
    }
    return MHD_YES;
}

/* --- the console (/console/) --------------------------------------------------------------- */

/* Files come from memory (http_console.c): nothing here waits on a disk. */
static enum MHD_Result answer_console(struct request *req, const char *method, const char *url)
{
    if (req->server->daemon->console == NULL) {
        return send_error(req, 404, "not_found", "the console is not installed", NULL, NULL);
    }
    /* MHD decodes %00 into the path, which would end it early: "/console/%00x" would name
     * /console/. No file name holds a NUL. */
    if (req->raw_uri != NULL && strcasestr(req->raw_uri, "%00") != NULL) {
        return send_error(req, 400, "bad_request", "the path holds a NUL byte", NULL, NULL);
    }
    unsigned status = 0;
    const char *if_none_match = MHD_lookup_connection_value(req->connection, MHD_HEADER_KIND,
                                                            MHD_HTTP_HEADER_IF_NONE_MATCH);
    struct MHD_Response *response =
        http_console_response(req->server->daemon->console, url, method, if_none_match, &status);
    if (response == NULL) {
        return MHD_NO;
    }
    return queue_response(req, (int)status, response);
}

/* --- other routes ----------------------------------------------------------------------- */

static enum MHD_Result answer_get(struct request *req, const char *method)
{
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
        return send_error(req, 405, "method_not_allowed", "this endpoint takes GET",
                          MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    }
    struct daemon *daemon = req->server->daemon;
    switch (req->route) {
    case ROUTE_HEALTHZ:
        return send_json(req, 200, json_pack("{s:s}", "status", "ok"), NULL, NULL);
    case ROUTE_READYZ: {
        json_t *detail = NULL;
        bool ready = daemon_readiness(daemon, &detail);
        return send_json(req, ready ? 200 : 503, detail, NULL, NULL);
    }
    case ROUTE_METRICS: {
        daemon_refresh_gauges(daemon);
        char *text = metrics_render(daemon->metrics);
        if (text == NULL) {
            return MHD_NO;
        }
        enum MHD_Result rc =
            send_response(req, 200, "text/plain; version=0.0.4", text, strlen(text), NULL, NULL);
        free(text);
        return rc;
    }
    default:
        return send_error(req, 404, "not_found", "no such endpoint", NULL, NULL);
    }
}

static enum route route_of(const char *url)
{
    if (strncmp(url, WEBHOOK_PREFIX, strlen(WEBHOOK_PREFIX)) == 0 &&
        util_instance_name_valid(url + strlen(WEBHOOK_PREFIX))) {
        return ROUTE_WEBHOOK;
    }
    if (strcmp(url, "/healthz") == 0) {
        return ROUTE_HEALTHZ;
    }
    if (strcmp(url, "/readyz") == 0) {
        return ROUTE_READYZ;
    }
    if (strcmp(url, "/metrics") == 0) {
        return ROUTE_METRICS;
    }
    if (strcmp(url, "/v1") == 0 || strncmp(url, "/v1/", 4) == 0) {
        return ROUTE_API;
    }
    if (strcmp(url, HTTP_CONSOLE_PREFIX) == 0 ||
        strncmp(url, HTTP_CONSOLE_PREFIX "/", strlen(HTTP_CONSOLE_PREFIX "/")) == 0) {
        return ROUTE_CONSOLE;
    }
    return ROUTE_UNKNOWN;
}

/* --- MHD callbacks ---------------------------------------------------------------------- */

static struct request *request_new(struct http_server *server, const char *uri)
{
    struct request *req = calloc(1, sizeof(*req));
    if (req == NULL) {
        return NULL;
    }
    req->server = server;
    req->raw_uri = uri != NULL ? strdup(uri) : NULL;
    req->started_ms = util_monotonic_ms();
    pthread_mutex_init(&req->mutex, NULL);
    pthread_mutex_lock(&server->mutex);
    server->in_flight++;
    pthread_mutex_unlock(&server->mutex);
    return req;
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *connection)
{
    (void)connection;
    return request_new(cls, uri);
}

/* Frees the request once MHD is done with it (answered, or the connection died). */
static void on_completed(void *cls, struct MHD_Connection *connection, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)connection;
    (void)toe;
    struct http_server *server = cls;
    struct request *req = *con_cls;
    if (req == NULL) {
        return;
    }
    *con_cls = NULL;
    if (req->ctx_ready) {
        ctx_clear(&req->ctx);
    }
    ingest_batch_clear(&req->batch);
    instance_release(req->instance);
    strbuf_free(&req->body);
    rest_response_clear(&req->rest);
    pthread_mutex_destroy(&req->mutex);
    free(req->raw_uri);
    free(req);

    pthread_mutex_lock(&server->mutex);
    server->in_flight--;
    if (server->in_flight == 0) {
        pthread_cond_broadcast(&server->idle);
    }
    pthread_mutex_unlock(&server->mutex);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *connection, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    struct http_server *server = cls;
    struct request *req = *con_cls;
    if (req == NULL) {
        req = request_new(server, url);
        if (req == NULL) {
            return MHD_NO;
        }
        *con_cls = req;
    }
    switch (req->phase) {
    case PHASE_NEW:
        req->connection = connection;
        req->route = route_of(url);
        if (atomic_load(&server->quiesced) || atomic_load(&server->daemon->stopping)) {
            return send_error(req, 503, "stopping", "the daemon is shutting down",
                              MHD_HTTP_HEADER_RETRY_AFTER, "1");
        }
        if (req->route == ROUTE_WEBHOOK) {
            return start_webhook(req, method, url);
        }
        if (req->route == ROUTE_API) {
            return start_api(req, method, url);
        }
        if (req->route == ROUTE_CONSOLE) {
            return answer_console(req, method, url);
        }
        return answer_get(req, method);
    case PHASE_BODY:
        if (*upload_data_size > 0) {
            if (!req->too_large && req->body.len + *upload_data_size > server->body_limit) {
                req->too_large = true;
                strbuf_free(&req->body);
            }
            if (!req->too_large) {
                strbuf_append_len(&req->body, upload_data, *upload_data_size);
            }
            *upload_data_size = 0;
            return MHD_YES;
        }
        if (req->too_large) {
            if (req->route == ROUTE_WEBHOOK) {
                count_webhook(req, "too_large");
            }
            return send_error(req, 413, "payload_too_large", "the body exceeds http.body_limit",
                              NULL, NULL);
        }
        if (req->body.failed) {
            return send_error(req, 503, "unavailable", "out of memory", NULL, NULL);
        }
        if (req->route == ROUTE_API) {
            return run_api(req, method, url);
        }
        return run_webhook(req, method, url);
    case PHASE_WAITING:
        if (req->route == ROUTE_API) {
            rest_events_answer(&req->rest, &req->batch);
            return send_rest(req);
        }
        return answer_webhook(req);
    case PHASE_ANSWERED:
        /* MHD may call again while draining an upload after an early answer. */
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

/* --- lifecycle -------------------------------------------------------------------------- */

struct http_server *http_server_start(struct daemon *daemon, char **error_out)
{
    const struct config *config = daemon->config;
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *address = NULL;
    char port[16];
    snprintf(port, sizeof(port), "%d", config->listen_port);
    int gai = getaddrinfo(config->listen_host, port, &hints, &address);
    if (gai != 0) {
        *error_out = util_printf("listen address %s: %s", config->listen_host, gai_strerror(gai));
        return NULL;
    }
    struct http_server *server = calloc(1, sizeof(*server));
    if (server == NULL) {
        freeaddrinfo(address);
        *error_out = strdup("out of memory");
        return NULL;
    }
    server->daemon = daemon;
    server->body_limit = config->http_body_limit;
    atomic_init(&server->quiesced, false);
    pthread_mutex_init(&server->mutex, NULL);
    pthread_cond_init(&server->idle, NULL);

    unsigned threads = config->http_threads;
    if (threads == 0) {
        /* the container's CPU limit, not the node's CPU count */
        threads = cpu_quota_cpus();
    }
    log_info("http: %u server thread(s)%s", threads,
             config->http_threads == 0 ? ", one per CPU this process may use (cgroup quota)" : "");
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ITC | MHD_USE_ERROR_LOG;
    if (address->ai_family == AF_INET6) {
        flags |= MHD_USE_IPv6;
    }
    server->mhd = MHD_start_daemon(
        flags, (uint16_t)config->listen_port, NULL, NULL, on_request, server, MHD_OPTION_SOCK_ADDR,
        address->ai_addr, MHD_OPTION_THREAD_POOL_SIZE, threads > 1 ? threads : 0,
        MHD_OPTION_CONNECTION_LIMIT, config->http_connection_limit, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)((config->http_timeout_ms + 999) / 1000), MHD_OPTION_URI_LOG_CALLBACK, on_uri,
        server, MHD_OPTION_NOTIFY_COMPLETED, on_completed, server, MHD_OPTION_EXTERNAL_LOGGER,
        on_mhd_log, server, MHD_OPTION_END);
    freeaddrinfo(address);
    if (server->mhd == NULL) {
        *error_out = util_printf("cannot listen on %s:%d (address in use, or not permitted)",
                                 config->listen_host, config->listen_port);
        http_server_stop(server);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(server->mhd, MHD_DAEMON_INFO_BIND_PORT);
    server->port = info != NULL ? info->port : config->listen_port;
    return server;
}

int http_server_port(const struct http_server *server)
{
    return server->port;
}

void http_server_quiesce(struct http_server *server)
{
    if (server == NULL || server->mhd == NULL || atomic_exchange(&server->quiesced, true)) {
        return;
    }
    MHD_socket listen_fd = MHD_quiesce_daemon(server->mhd);
    if (listen_fd != MHD_INVALID_SOCKET) {
        close(listen_fd);
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

void http_server_stop(struct http_server *server)
{
    if (server == NULL) {
        return;
    }
    if (server->mhd != NULL) {
        MHD_stop_daemon(server->mhd);
    }
    pthread_cond_destroy(&server->idle);
    pthread_mutex_destroy(&server->mutex);
    free(server);
}
