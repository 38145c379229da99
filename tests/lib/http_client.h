/* http_client.h - blocking HTTP requests for tests (libcurl). */
#ifndef LEADHUB_HTTP_CLIENT_H
#define LEADHUB_HTTP_CLIENT_H

#include <stddef.h>

struct http_result {
    long status;   /* 0 when no response arrived */
    char *body;    /* malloc'd, NUL-terminated */
    char *headers; /* raw response headers, malloc'd */
};

/*
 * http_request - method on url with extra header lines ("Name: value", NULL-terminated
 * list, may be NULL) and a body (may be NULL). Returns 0 when a response arrived.
 */
int http_request(const char *method, const char *url, const char *const *headers, const char *body,
                 size_t body_len, struct http_result *out);

int http_get(const char *url, struct http_result *out);

void http_result_free(struct http_result *result);

/* The two signature headers for a leadhub `webhook` post, as "Name: value" lines in
 * out[0..1] (malloc'd; free them). */
void http_sign_webhook(const char *secret, long long timestamp, const char *body, char *out[2]);

/*
 * http_post_many - POST bodies[i] to url with headers[i] (NULL-terminated lists), up to
 * `parallel` at once over separate connections (libcurl multi).
 *   statuses: out, one per request (0 when no response arrived).
 *   on_progress: called after each completion with the number done so far (may be NULL).
 */
void http_post_many(const char *url, char *const *bodies, char **const *headers, size_t count,
                    size_t parallel, long *statuses, void (*on_progress)(size_t done, void *arg),
                    void *arg);
#endif
