/*
 * fake_http.h - a scriptable HTTP server for tests (libmicrohttpd on 127.0.0.1): it answers
 * requests with a queue of scripted responses (status, headers, body, delay) and records
 * what it received. The fake providers of connector tests are built on it. Installed with
 * the SDK's fake host as <leadhub/fake_http.h> (pkg-config leadhub-test).
 *
 * Faults a provider shows, and how to script them:
 *   429 + Retry-After     {429, "{...}", "Retry-After: 2", 0}
 *   several headers       {429, "{...}", "Retry-After: 2\nX-RateLimit-Remaining: 0", 0}
 *   500 / 503             {500, "...", NULL, 0}
 *   slow past a timeout   {200, "{}", NULL, 5000}  (delay_ms before answering)
 *   connection reset      {FAKE_RESET, NULL, NULL, 0}  (TCP RST, no answer)
 *   closed, no answer     {FAKE_CLOSE, NULL, NULL, 0}
 *   malformed body        {200, "{\"events\": [", NULL, 0}  (any bytes, any status)
 *   expired token (401)   fake_http_require_bearer(): a request without the current
 *                         "Authorization: Bearer <token>" gets 401 invalid_token
 *   per URL, per count    fake_http_route(server, "/path?query" or "/prefix*", response, n)
 */
#ifndef LEADHUB_FAKE_HTTP_H
#define LEADHUB_FAKE_HTTP_H

#include <stddef.h>

struct fake_http;

/* Statuses that are not answers: what the server does instead (after delay_ms). */
#define FAKE_RESET (-1) /* reset the connection (RST): the client sees "connection reset" */
#define FAKE_CLOSE (-2) /* close it without an answer: the client sees an empty reply */

struct fake_response {
    int status;         /* an HTTP status, or FAKE_RESET / FAKE_CLOSE */
    const char *body;   /* copied */
    const char *header; /* extra headers, "Name: value" lines separated by '\n', or NULL;
                         * copied */
    int delay_ms;       /* wait before answering (or resetting, or closing) */
};

/* What the server received, in order. */
struct fake_request {
    char *method;
    char *url; /* path and query as received */
    char *body;
    char *authorization; /* the Authorization header or NULL */
    char *headers;       /* every header, "name: value\n" each */
    long long at_ms;     /* when it arrived (monotonic ms, util_monotonic_ms()) */
};

struct fake_http *fake_http_start(void);
int fake_http_port(const struct fake_http *server);
/* "http://127.0.0.1:PORT" + path; malloc'd */
char *fake_http_url(const struct fake_http *server, const char *path);

/* Queue a response; once the queue is empty, the last one answers every request. */
void fake_http_push(struct fake_http *server, struct fake_response response);

/*
 * fake_http_route - answer requests for exactly `url` (path and query, as received) with
 * `response`, `times` times (0: always), before the queue is consulted. Routes for one URL
 * are used in the order they were added: "500 three times, then the page". A `url` ending
 * in '*' matches every URL that starts with the rest ("/leads*").
 */
void fake_http_route(struct fake_http *server, const char *url, struct fake_response response,
                     int times);

/*
 * fake_http_handler - a function that answers requests itself, before routes and the queue
 * (after the bearer check): a fake provider with state (create a record, then answer 500:
 * the write applied, the answer lost). Called on the server's threads, one per connection,
 * so it locks what it shares.
 *   Returns 1 when it answered: answer->body and answer->header are then malloc'd by it (or
 *   NULL) and freed by the server; 0 to leave the request to routes and the queue.
 * NULL removes it.
 */
typedef int (*fake_http_handler_fn)(void *arg, const struct fake_request *request,
                                    struct fake_response *answer);
void fake_http_handler(struct fake_http *server, fake_http_handler_fn handler, void *arg);

/*
 * fake_http_record - from now on, forward every request to upstream_base + its path and
 * query (the real provider), hand its answer back, and append the exchange to the fixture
 * file at path as one JSON line {"method","url","body","status","header","answer"}, with
 * secrets scrubbed: Authorization, Cookie, API-key headers are not written; JSON string
 * values and query parameters whose name holds token, secret, password, key, signature or
 * code are written as "[scrubbed]". Returns 0, or -1 when the file cannot be opened.
 *
 * fake_http_replay - answer requests from such a fixture: each line answers one request of
 * its method and URL, in file order (the URL compared with its scrubbed parameters masked
 * the same way). Requests it has no line for go on to routes and the queue. Returns the
 * number of lines loaded, or -1.
 */
int fake_http_record(struct fake_http *server, const char *upstream_base, const char *path);
int fake_http_replay(struct fake_http *server, const char *path);

/*
 * fake_http_require_bearer - from now on, a request whose Authorization is not
 * "Bearer <token>" is answered 401 {"error":"invalid_token"} with WWW-Authenticate, before
 * routes and the queue (an expired or revoked token). NULL turns the check off. Calling it
 * again with a new token "rotates" it: the old one is refused from then on.
 */
void fake_http_require_bearer(struct fake_http *server, const char *token);

size_t fake_http_request_count(struct fake_http *server);
/* A copy of request i (free with fake_http_request_free). */
struct fake_request fake_http_request(struct fake_http *server, size_t i);
void fake_http_request_free(struct fake_request *request);

void fake_http_stop(struct fake_http *server);

#endif
