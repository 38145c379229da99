/*
 * http_oauth.c - GET /oauth/callback: where a provider sends the browser at the end of a
 * consent begun through the REST API (docs/api.md, "OAuth consent"). The code exchange
 * waits on the provider's token endpoint, so it runs on an API worker with the connection
 * suspended, within http.api_timeout; the answer is a small HTML page. No bearer token:
 * the single-use `state` is the credential (oauth_callback.c).
 */
#include <stddef.h>
#include <string.h>

#include "http_internal.h"
#include "oauth_callback.h"

enum MHD_Result http_oauth_start(struct request *req)
{
    if (strcmp(req->method, MHD_HTTP_METHOD_GET) != 0) {
        if (req->has_body) {
            req->close = true;
        }
        return http_send_error(req, 405, "method_not_allowed", "the callback takes GET",
                               MHD_HTTP_HEADER_ALLOW, "GET");
    }
    pthread_mutex_lock(&req->mutex);
    req->phase = PHASE_BODY; /* nothing to read; the last call submits the exchange */
    pthread_mutex_unlock(&req->mutex);
    return MHD_YES;
}

/* On an API worker. */
static void run_callback(struct http_job *job)
{
    struct request *req = (struct request *)((char *)job - offsetof(struct request, job));
    if (!http_start_running(req)) {
        return; /* it expired while queued */
    }
    const char *mark = strchr(req->raw_uri, '?');
    oauth_callback_run(req->server->daemon, mark != NULL ? mark + 1 : "", &req->page_status,
                       &req->page);
    http_resume(req);
}

enum MHD_Result http_oauth_run(struct request *req)
{
    struct http_server *server = req->server;
    req->job.run = run_callback;
    req->job.lane = NULL;
    if (http_submit(req, server->api_pool, server->limits.api_timeout_ms, "api_timeout") != 0) {
        http_count_refusal(server, "queue_full");
        return http_send_error(req, 503, "unavailable", "too many requests waiting; retry",
                               MHD_HTTP_HEADER_RETRY_AFTER, "1");
    }
    return MHD_YES;
}

enum MHD_Result http_oauth_answer(struct request *req)
{
    const char *page = req->page != NULL ? req->page : "";
    return http_send(req, req->page_status != 0 ? req->page_status : 500,
                     "text/html; charset=utf-8", page, strlen(page), MHD_HTTP_HEADER_CACHE_CONTROL,
                     "no-store");
}
