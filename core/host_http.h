/* host_http.h - the outbound HTTP client behind host->http() (libcurl). The process must
 * call curl_global_init() before any thread uses it. */
#ifndef LEADHUB_HOST_HTTP_H
#define LEADHUB_HOST_HTTP_H

#include "leadhub.h"

/* See lh_host_t.http in sdk/leadhub.h: the plugin's request and response are read and
 * written only within their struct_size. ctx may be NULL (tests). */
lh_status_t host_http_request(lh_ctx_t *ctx, const lh_http_request_t *request,
                              lh_http_response_t *response);

/*
 * host_http_perform - the same for the host's own calls, with structs of this host's
 * size: the request is used as is, and *response is overwritten (free it with
 * host_http_response_free()). ctx may be NULL.
 */
lh_status_t host_http_perform(lh_ctx_t *ctx, const lh_http_request_t *request,
                              lh_http_response_t *response);

/* See lh_host_t.http_response_free. */
void host_http_response_free(lh_http_response_t *response);

#endif
