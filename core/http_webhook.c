/*
 * http_webhook.c - POST /webhooks/{instance}.
 *
 * On libmicrohttpd's thread: route, refuse what can be refused unread (unknown instance,
 * no signature header the plugin needs, a body over the limit or over the unauthenticated
 * budget), read the body into a reservation of that budget. On a webhook worker, within
 * http.webhook_timeout: the plugin callback (verifies, parses, emits); then the batch goes
 * to ingest and the connection stays suspended until the commit (http.commit_timeout).
 * Back on libmicrohttpd's thread: the answer.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "http_internal.h"

static void count_webhook(struct request *req, const char *outcome)
{
    metrics_counter_add(req->server->daemon->metrics, "leadhub_webhook_requests_total",
                        "Webhook requests, by instance and outcome.", 1, "instance",
                        req->instance->name, "outcome", outcome, METRICS_END);
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

/* Whether the request carries at least one of `names` (NULL: no requirement). */
static bool carries_signature(struct MHD_Connection *connection, const char *const *names)
{
    if (names == NULL) {
        return true;
    }
    for (const char *const *name = names; *name != NULL; name++) {
        if (MHD_lookup_connection_value(connection, MHD_HEADER_KIND, *name) != NULL) {
            return true;
        }
    }
    return false;
}

/* "missing X-A or X-B header: ...": what a sender that forgot to sign is told (NULL: out of
 * memory). */
static char *missing_signature_message(const char *const *names)
{
    struct strbuf text = {0};
    strbuf_append(&text, "missing ");
    for (const char *const *name = names; *name != NULL; name++) {
        strbuf_append(&text, name == names ? "" : " or ");
        strbuf_append(&text, *name);
    }
    strbuf_append(&text, " header: this connector verifies every request by it");
    return strbuf_take(&text);
}

/* A refusal a stranger can cause at will: counted, logged at a bounded rate. */
static void log_refusal(struct request *req, const char *outcome, const char *reason)
{
    log_limited(&req->server->refusal_log, LOG_LEVEL_INFO, req->instance->plugin->name,
                req->instance->name, "webhook refused (%s): %s", outcome, reason);
}

static enum MHD_Result refuse_over_budget(struct request *req, int reserved, bool mid_upload)
{
    const char *why = reserved == -1 ? "unauthenticated_per_address" : "unauthenticated_total";
    http_count_refusal(req->server, why);
    count_webhook(req, "over_budget");
    log_refusal(req, "over_budget",
                reserved == -1 ? "this address holds its share of unverified bodies "
                                 "(http.unauthenticated_bytes_per_address)"
                               : "unverified bodies fill http.unauthenticated_bytes");
    const char *message = "too many unverified requests are being read; retry";
    return mid_upload ? http_refuse_mid_upload(req, 503, "unavailable", message, "1")
                      : http_refuse_early(req, 503, "unavailable", message, "1");
}

/* GET reaches a webhook callback only when its plugin declares challenge handshakes. */
static bool takes_get(const struct instance *instance)
{
    return instance->plugin->desc->webhook != NULL &&
           (instance->plugin->desc->flags & LH_PLUGIN_WEBHOOK_GET) != 0;
}

enum MHD_Result http_webhook_start(struct request *req)
{
    struct http_server *server = req->server;
    struct MHD_Connection *connection = req->connection;
    bool get = strcmp(req->method, MHD_HTTP_METHOD_GET) == 0;
    if (strcmp(req->method, MHD_HTTP_METHOD_POST) != 0 && !get) {
        req->close = req->has_body;
        return http_send_error(req, 405, "method_not_allowed", "webhooks take POST",
                               MHD_HTTP_HEADER_ALLOW, "POST");
    }
    const char *name = req->url + strlen(WEBHOOK_PREFIX);
    bool swapping = false;
    req->instance = daemon_lookup_instance(server->daemon, name, &swapping);
    if (swapping) {
        return http_refuse_early(req, 503, "unavailable",
                                 "the connector instance is restarting (configuration reload); "
                                 "retry",
                                 "1");
    }
    if (req->instance == NULL || req->instance->plugin->desc->webhook == NULL) {
        return http_refuse_early(req, 404, "not_found",
                                 req->instance == NULL
                                     ? "no enabled connector instance by that name"
                                     : "this connector instance takes no webhooks",
                                 NULL);
    }
    if (get && !takes_get(req->instance)) {
        req->close = req->has_body;
        return http_send_error(req, 405, "method_not_allowed", "webhooks take POST",
                               MHD_HTTP_HEADER_ALLOW, "POST");
    }
    if (!atomic_load(&req->instance->initialized)) {
        /* Only this instance's webhooks: the process stays ready for the others
         * (readiness.h). */
        count_webhook(req, "not_initialized");
        return http_refuse_early(req, 503, "unavailable",
                                 "the connector instance is not initialized", "5");
    }
    const char *length =
        MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    unsigned long long announced = length != NULL ? strtoull(length, NULL, 10) : 0;
    if (announced > server->body_limit) {
        http_count_refusal(server, "too_large");
        count_webhook(req, "too_large");
        return http_refuse_early(req, 413, "payload_too_large", "the body exceeds http.body_limit",
                                 NULL);
    }
    if (!get && !carries_signature(connection, req->instance->plugin->webhook_signature_headers)) {
        /* nothing could verify it: refused before a byte of its body is read */
        http_count_refusal(server, "missing_signature");
        count_webhook(req, "unsigned");
        log_refusal(req, "unsigned", "none of the signature headers the connector needs");
        char *message = missing_signature_message(req->instance->plugin->webhook_signature_headers);
        enum MHD_Result rc = http_refuse_early(
            req, 401, "unauthorized",
            message != NULL ? message : "the request carries no signature header", NULL);
        free(message);
        return rc;
    }
    if (announced > 0) {
        /* the whole announced body, up front: refused now rather than half-way */
        int reserved = http_guard_reserve(server->guard, req->guard_conn, (size_t)announced,
                                          &req->reservation);
        if (reserved != 0) {
            return refuse_over_budget(req, reserved, false);
        }
        strbuf_presize(&req->body, (size_t)announced);
    }
    remote_address(connection, req->remote, sizeof(req->remote));
    pthread_mutex_lock(&req->mutex);
    req->phase = PHASE_BODY;
    pthread_mutex_unlock(&req->mutex);
    return MHD_YES;
}

enum MHD_Result http_webhook_chunk(struct request *req, const char *data, size_t size)
{
    if (req->reservation.bytes < req->body.len + size) {
        /* a chunked body: reserved as it comes */
        int reserved =
            http_guard_reserve(req->server->guard, req->guard_conn,
                               req->body.len + size - req->reservation.bytes, &req->reservation);
        if (reserved != 0) {
            return refuse_over_budget(req, reserved, true);
        }
    }
    strbuf_append_len(&req->body, data, size);
    return MHD_YES;
}

/* Copies of the request's headers: the worker may use them after libmicrohttpd is done. */
static enum MHD_Result copy_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    (void)kind;
    struct request *req = cls;
    lh_header_t *items = realloc(req->headers, (req->header_count + 1) * sizeof(*items));
    if (items == NULL) {
        return MHD_NO;
    }
    req->headers = items;
    char *name = strdup(key);
    char *copy = strdup(value != NULL ? value : "");
    if (name == NULL || copy == NULL) {
        free(name);
        free(copy);
        return MHD_NO;
    }
    req->headers[req->header_count].name = name;
    req->headers[req->header_count].value = copy;
    req->header_count++;
    return MHD_YES;
}

/* On a webhook worker. */
static void run_callback(struct http_job *job)
{
    struct request *req = (struct request *)((char *)job - offsetof(struct request, job));
    if (!http_start_running(req)) {
        return; /* it expired while queued */
    }
    const char *query = strchr(req->raw_uri, '?');
    lh_webhook_request_t request = {
        .struct_size = (uint32_t)sizeof(lh_webhook_request_t),
        .method = req->method,
        .path = req->url,
        .query = query != NULL ? query + 1 : "",
        .headers = req->headers,
        .header_count = req->header_count,
        .body = (const unsigned char *)strbuf_value(&req->body),
        .body_len = req->body.len,
        .remote_addr = req->remote,
    };
    req->status = instance_webhook(req->instance, &req->ctx, &request);
    /* verified or refused, the body is no stranger's any more, and no longer needed */
    http_guard_release(req->server->guard, &req->reservation);
    strbuf_free(&req->body);
    if (req->status == LH_OK && !ingest_batch_empty(&req->batch)) {
        if (http_commit(req)) {
            return; /* the writer resumes it */
        }
        req->commit_refused = true;
    }
    http_resume(req);
}

enum MHD_Result http_webhook_run(struct request *req)
{
    struct http_server *server = req->server;
    int headers = MHD_get_connection_values(req->connection, MHD_HEADER_KIND, NULL, NULL);
    MHD_get_connection_values(req->connection, MHD_HEADER_KIND, copy_header, req);
    if (headers < 0 || req->header_count != (size_t)headers) {
        return http_send_error(req, 503, "unavailable", "out of memory",
                               MHD_HTTP_HEADER_RETRY_AFTER, "1");
    }
    ctx_init(&req->ctx, req->instance, &req->batch);
    req->ctx_ready = true;
    req->ctx.deadline_ms = util_monotonic_ms() + server->limits.webhook_timeout_ms;
    req->ctx.cancel = &req->cancel;
    req->ctx.deadline_cuts_http = true; /* a provider call cannot outlast the answer */
    bool reentrant = (req->instance->plugin->desc->flags &
                      (LH_PLUGIN_REENTRANT | LH_PLUGIN_WEBHOOK_CONCURRENT)) != 0;
    req->job.run = run_callback;
    req->job.lane = req->instance;
    /* one instance never takes every worker: others keep answering while it is slow */
    req->job.lane_limit =
        reentrant ? (server->webhook_workers > 1 ? server->webhook_workers - 1 : 1) : 1;
    if (http_submit(req, server->webhook_pool, server->limits.webhook_timeout_ms,
                    "webhook_timeout") != 0) {
        http_count_refusal(server, "queue_full");
        count_webhook(req, "busy");
        return http_send_error(req, 503, "unavailable", "too many webhooks waiting; retry",
                               MHD_HTTP_HEADER_RETRY_AFTER, "1");
    }
    return MHD_YES;
}

static enum MHD_Result answer_plugin_failure(struct request *req)
{
    lh_status_t status = req->status;
    const char *reason = req->ctx.error != NULL ? req->ctx.error : "rejected by the connector";
    count_webhook(req, instance_status_name(status));
    log_refusal(req, instance_status_name(status), reason);
    if (req->ctx.response_status != 0) {
        return http_send(req, req->ctx.response_status, req->ctx.response_content_type,
                         req->ctx.response_body, req->ctx.response_body_len, NULL, NULL);
    }
    switch (status) {
    case LH_AUTH:
        return http_send_error(req, 401, "unauthorized", reason, NULL, NULL);
    case LH_PERMANENT:
        return http_send_error(req, 400, "bad_request", reason, NULL, NULL);
    case LH_CONFIG:
        return http_send_error(req, 500, "misconfigured",
                               "the connector instance is misconfigured; see the daemon's log",
                               NULL, NULL);
    case LH_RETRY_AFTER: {
        char seconds[24];
        int64_t delay = req->ctx.retry_after_ms > 0 ? (req->ctx.retry_after_ms + 999) / 1000 : 1;
        snprintf(seconds, sizeof(seconds), "%lld", (long long)delay);
        return http_send_error(req, 503, "unavailable", reason, MHD_HTTP_HEADER_RETRY_AFTER,
                               seconds);
    }
    default:
        return http_send_error(req, 503, "unavailable", reason, MHD_HTTP_HEADER_RETRY_AFTER, "1");
    }
}

/* Back on libmicrohttpd's thread with the callback's verdict and the commit's outcome. */
enum MHD_Result http_webhook_answer(struct request *req)
{
    if (req->status != LH_OK) {
        return answer_plugin_failure(req);
    }
    struct ingest_batch *batch = &req->batch;
    bool stored = batch->event_count > 0 || batch->checkpoint_count > 0;
    if (stored && req->commit_refused) {
        http_count_refusal(req->server, "ingest_full");
        count_webhook(req, "busy");
        return http_send_error(req, 503, "unavailable",
                               "too many events waiting to be stored; retry",
                               MHD_HTTP_HEADER_RETRY_AFTER, "1");
    }
    if (stored && batch->result != STORE_OK) {
        count_webhook(req, "unavailable");
        if (batch->result == STORE_REJECTED) {
            return http_send_error(req, 500, "not_stored",
                                   "the database refused the events; nothing was stored", NULL,
                                   NULL);
        }
        return http_send_error(req, 503, "unavailable",
                               "the events could not be stored right now; nothing was stored, "
                               "retry",
                               MHD_HTTP_HEADER_RETRY_AFTER, "1");
    }
    count_webhook(req, "accepted");
    if (req->ctx.response_status != 0) {
        return http_send(req, req->ctx.response_status, req->ctx.response_content_type,
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
    return http_send(req, 200, "application/json", body, (size_t)len, NULL, NULL);
}
