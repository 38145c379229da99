/*
 * http_server.h - the daemon's HTTP listeners (libmicrohttpd):
 *   POST /webhooks/{instance}   to the instance's webhook callback (on a worker); answered
 *                               2xx only after the events it emitted are committed
 *   GET  /healthz               alive (answered at once, whatever else is busy)
 *   GET  /readyz                the readiness checker's last verdict (readiness_checker.h)
 *   GET  /metrics               Prometheus text format
 *   /v1/...                     the REST API (rest.h), on its own workers
 * With admin_listen, /readyz, /metrics and /v1 are served on that second address only,
 * and the first keeps /webhooks and /healthz.
 *
 * libmicrohttpd's threads only parse and answer: a webhook callback, a REST handler and a
 * commit each run elsewhere with the connection suspended (holding no thread), within a
 * deadline past which the answer is 503. Every connection lives within budgets: per
 * address, unauthenticated bytes, and time (http_guard.h). docs/architecture.md, "Threads",
 * says who runs what.
 */
#ifndef LEADHUB_HTTP_SERVER_H
#define LEADHUB_HTTP_SERVER_H

#include <stdbool.h>
#include <stdint.h>

struct daemon;
struct http_server;

/*
 * http_server_start - listen on config->listen_host:listen_port (and admin_listen), start
 * the worker pools and the clock. daemon->ingest, metrics and readiness must be running.
 *   error_out: malloc'd reason on failure (port in use, bad address).
 */
struct http_server *http_server_start(struct daemon *daemon, char **error_out);

/* http_server_port - the port actually bound (useful with port 0); admin_port: 0 when
 * there is no admin listener. */
int http_server_port(const struct http_server *server);
int http_server_admin_port(const struct http_server *server);

/* http_server_quiesce - stop accepting new connections; requests on open connections are
 * answered 503 with Connection: close. */
void http_server_quiesce(struct http_server *server);

/* http_server_wait_idle - wait until no request is alive (answered, and no worker or
 * commit holds it) or timeout_ms passes. Returns the number still alive. */
unsigned http_server_wait_idle(struct http_server *server, int64_t timeout_ms);

/* http_server_detach_ingest - no request submits a batch from now on (they answer 503):
 * before ingest_stop(), so that a late worker cannot reach a stopped ingest. */
void http_server_detach_ingest(struct http_server *server);

/*
 * http_server_stop - stop the clock, the pools (waiting up to grace_ms for work in
 * progress) and the listeners, and free everything; every suspended request must have
 * completed (stop ingest first). False when a worker is still running after grace_ms: then
 * nothing is freed (the process exits around it). Accepts NULL.
 */
bool http_server_stop(struct http_server *server, int64_t grace_ms);

#endif
