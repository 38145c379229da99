/*
 * http_api.c - /v1: the token checked before any body is read, the query parsed from the
 * raw target (http_query.c), then rest_handle() on an API worker within http.api_timeout
 * (each worker reads through its own database connection); POST /v1/events commits
 * through ingest with the connection suspended, like a webhook.
 *
 * Handlers see only struct rest_request and fill struct rest_response (rest.h): a new
 * endpoint is a new handler in a rest_*.c file, nothing here.
 */
#include <stdlib.h>
#include <string.h>

#include "http_internal.h"
#include "http_query.h"

static struct rest_request rest_request_of(struct request *req)
{
    return (struct rest_request){
        .daemon = req->server->daemon,
        .method = req->method,
        .path = req->url,
        .query = req->query,
        .authorization = req->authorization,
        .content_type = req->content_type,
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
        return http_send_error(req, 500, "internal", "out of memory", NULL, NULL);
    }
    if (rest->www_authenticate) {
        return http_send_json(req, rest->status, body, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                              "Bearer realm=\"leadhub\"");
    }
    if (rest->allow != NULL) {
        return http_send_json(req, rest->status, body, MHD_HTTP_HEADER_ALLOW, rest->allow);
    }
    if (rest->status == 503) {
        return http_send_json(req, rest->status, body, MHD_HTTP_HEADER_RETRY_AFTER, "1");
    }
    return http_send_json(req, rest->status, body, NULL, NULL);
}

static char *header_copy(struct request *req, const char *name)
{
    const char *value = MHD_lookup_connection_value(req->connection, MHD_HEADER_KIND, name);
    return value != NULL ? strdup(value) : NULL;
}

/* The token is checked before the body is read: no buffering for strangers. */
enum MHD_Result http_api_start(struct request *req)
{
    req->authorization = header_copy(req, MHD_HTTP_HEADER_AUTHORIZATION);
    struct rest_request request = rest_request_of(req);
    if (!rest_authenticate_early(&request, &req->rest)) {
        if (req->has_body) {
            req->close = true;
        }
        return send_rest(req);
    }
    const char *length = MHD_lookup_connection_value(req->connection, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (length != NULL && strtoull(length, NULL, 10) > req->server->body_limit) {
        http_count_refusal(req->server, "too_large");
        return http_refuse_early(req, 413, "payload_too_large", "the body exceeds http.body_limit",
                                 NULL);
    }
    pthread_mutex_lock(&req->mutex);
    req->phase = PHASE_BODY;
    pthread_mutex_unlock(&req->mutex);
    return MHD_YES;
}

/* On an API worker. */
static void run_handler(struct http_job *job)
{
    struct request *req = (struct request *)((char *)job - offsetof(struct request, job));
    if (!http_start_running(req)) {
        return; /* it expired while queued */
    }
    struct rest_request request = rest_request_of(req);
    rest_handle(&request, &req->rest, &req->batch);
    if (req->rest.commit && http_commit(req)) {
        return; /* the writer resumes it */
    }
    /* a commit that could not be queued leaves batch.result unavailable: 503 */
    http_resume(req);
}

enum MHD_Result http_api_run(struct request *req)
{
    struct http_server *server = req->server;
    char *bad = NULL;
    const char *mark = strchr(req->raw_uri, '?');
    int parsed = http_query_parse(mark != NULL ? mark + 1 : NULL, &req->query, &bad);
    if (parsed == -1) {
        /* dropping it would skip a filter and answer with everything */
        json_t *details = json_pack("{s:s}", "parameter", bad);
        rest_error(&req->rest, 400, "bad_parameter", details, "%s: not valid UTF-8, or holds a NUL",
                   bad);
        json_decref(details);
        free(bad);
        return send_rest(req);
    }
    req->content_type = header_copy(req, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (parsed != 0) {
        return http_send_error(req, 503, "unavailable", "out of memory",
                               MHD_HTTP_HEADER_RETRY_AFTER, "1");
    }
    req->job.run = run_handler;
    req->job.lane = NULL;
    if (http_submit(req, server->api_pool, server->limits.api_timeout_ms, "api_timeout") != 0) {
        http_count_refusal(server, "queue_full");
        return http_send_error(req, 503, "unavailable", "too many requests waiting; retry",
                               MHD_HTTP_HEADER_RETRY_AFTER, "1");
    }
    return MHD_YES;
}

enum MHD_Result http_api_answer(struct request *req)
{
    if (req->rest.commit) {
        rest_events_answer(&req->rest, &req->batch);
    }
    return send_rest(req);
}
