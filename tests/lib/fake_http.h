/*
 * fake_http.h - a scriptable HTTP server for tests (libmicrohttpd on 127.0.0.1): it answers
 * requests with a queue of scripted responses (status, headers, body, delay) and records
 * what it received. The fake providers of connector tests are built on it.
 */
#ifndef LEADHUB_FAKE_HTTP_H
#define LEADHUB_FAKE_HTTP_H

#include <stddef.h>

struct fake_http;

struct fake_response {
    int status;
    const char *body;   /* copied */
    const char *header; /* one extra "Name: value" header or NULL; copied */
    int delay_ms;       /* wait before answering */
};

/* What the server received, in order. */
struct fake_request {
    char *method;
    char *url; /* path and query as received */
    char *body;
    char *authorization; /* the Authorization header or NULL */
    char *headers;       /* every header, "name: value\n" each */
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
 * are used in the order they were added: "500 three times, then the page".
 */
void fake_http_route(struct fake_http *server, const char *url, struct fake_response response,
                     int times);

size_t fake_http_request_count(struct fake_http *server);
/* A copy of request i (free with fake_http_request_free). */
struct fake_request fake_http_request(struct fake_http *server, size_t i);
void fake_http_request_free(struct fake_request *request);

void fake_http_stop(struct fake_http *server);

#endif
