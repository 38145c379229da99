/*
 * rest.h - the REST API under /v1 (docs/openapi.yaml): leads, meetings, events,
 * connectors, deliveries. The HTTP server authenticates nothing itself: it hands every
 * /v1 request here with its headers' bearer token, query parameters and body, and sends
 * the response this module builds. POST /v1/events goes through ingest like a webhook:
 * the handler fills a batch, the server commits it with the connection suspended, and
 * rest_events_answer() builds the per-item answer after the commit.
 */
#ifndef LEADHUB_REST_H
#define LEADHUB_REST_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "ingest.h"

struct daemon;

struct rest_request {
    struct daemon *daemon;
    const char *method;        /* "GET", "POST", ... */
    const char *path;          /* "/v1/leads/7" */
    const json_t *query;       /* query parameters: name -> string value (borrowed) */
    const char *authorization; /* the Authorization header, or NULL */
    const char *content_type;  /* or NULL */
    const char *body;          /* NUL-terminated; "" for none */
    size_t body_len;
};

struct rest_response {
    int status;
    json_t *body;          /* owned; the answer's JSON */
    const char *allow;     /* with 405: the methods allowed (a constant) */
    bool www_authenticate; /* with 401 */
    /* POST /v1/events: the batch to commit before answering, and per-item state */
    bool commit;
    json_t *items; /* owned: one entry per submitted item */
};

/*
 * rest_authenticate_early - the token check alone, before a body is read, so that an
 * unauthenticated client cannot make the server buffer its upload. Returns true when the
 * request may go on; otherwise the response is set (401 or 403).
 */
bool rest_authenticate_early(const struct rest_request *request, struct rest_response *response);

/*
 * rest_handle - serve one /v1 request. On return either the response is complete, or
 * response->commit is set and `batch` holds events to commit first (then call
 * rest_events_answer()).
 *   batch: the request's batch (borrowed; events are added to it).
 */
void rest_handle(const struct rest_request *request, struct rest_response *response,
                 struct ingest_batch *batch);

/* rest_events_answer - after the batch committed (or failed): the per-item answer. */
void rest_events_answer(struct rest_response *response, const struct ingest_batch *batch);

/* rest_response_clear - free what a response holds. */
void rest_response_clear(struct rest_response *response);

/* rest_error - {"error": {"code", "message", "details"}}; details may be NULL (borrowed). */
void rest_error(struct rest_response *response, int status, const char *code, const json_t *details,
                const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#endif
