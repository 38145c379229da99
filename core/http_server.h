/*
 * http_server.h - the daemon's one HTTP listener (libmicrohttpd):
 *   POST /webhooks/{instance}   to the instance's webhook callback; answered 2xx only
 *                               after the events it emitted are committed
 *   GET  /healthz               alive
 *   GET  /readyz                database reachable, schema current, instances initialized
 *   GET  /metrics               Prometheus text format
 * Webhook requests wait for their commit suspended (no thread held), so a few threads
 * serve many concurrent requests.
 */
#ifndef LEADHUB_HTTP_SERVER_H
#define LEADHUB_HTTP_SERVER_H

#include <stdint.h>

struct daemon;
struct http_server;

/*
 * http_server_start - listen on config->listen_host:listen_port.
 *   error_out: malloc'd reason on failure (port in use, bad address).
 */
struct http_server *http_server_start(struct daemon *daemon, char **error_out);

/* http_server_port - the port actually bound (useful with port 0). */
int http_server_port(const struct http_server *server);

/* http_server_quiesce - stop accepting new connections; requests on open connections are
 * answered 503 with Connection: close. */
void http_server_quiesce(struct http_server *server);

/* http_server_wait_idle - wait until no request is in flight or timeout_ms passes.
 * Returns the number still in flight. */
unsigned http_server_wait_idle(struct http_server *server, int64_t timeout_ms);

/* http_server_stop - close everything; every suspended request must have completed
 * (stop ingest first). Accepts NULL. */
void http_server_stop(struct http_server *server);

#endif
