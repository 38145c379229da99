/*
 * http_guard.h - the budgets every connection lives within, whatever its client does:
 *
 *   connections per source address (http.connections_per_address);
 *   bytes buffered for request bodies not yet authenticated, in all
 *   (http.unauthenticated_bytes) and per source address
 *   (http.unauthenticated_bytes_per_address): a webhook's body is a stranger's until its
 *   plugin has checked the signature;
 *   time: a connection with no request under way is closed http.timeout after it opened or
 *   its last request ended, and a request must arrive whole (headers and body) within
 *   http.request_timeout of its request line, and its answer be taken within as long
 *   again, however slowly the bytes trickle (libmicrohttpd's own timeout counts idle time
 *   only). While the daemon works on a request (suspended) its own deadlines apply.
 *
 * The guard learns of connections from libmicrohttpd's connection notifications and
 * closes one by shutting its socket down (libmicrohttpd then sees the end and cleans up):
 * the record is unlinked under the guard's mutex before the descriptor is closed, so a
 * descriptor is never shut after it was reused.
 *
 * It also lingers on connections answered before their body was read: the socket is kept
 * (a dup) and drained for a moment after libmicrohttpd closes it, so that the client reads
 * the refusal instead of a reset.
 *
 * Thread-safe: one mutex; the clock thread calls http_guard_tick().
 */
#ifndef LEADHUB_HTTP_GUARD_H
#define LEADHUB_HTTP_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct http_guard_limits {
    unsigned connections_per_address;         /* 0: no limit */
    size_t unauthenticated_bytes;             /* all addresses together */
    size_t unauthenticated_bytes_per_address; /* one address */
    int64_t idle_timeout_ms;                  /* no request under way */
    int64_t request_timeout_ms;               /* receiving a request, or sending its answer */
};

enum http_guard_phase {
    HTTP_GUARD_IDLE,      /* opened, or between requests */
    HTTP_GUARD_RECEIVING, /* request line seen, headers and body arriving */
    HTTP_GUARD_WAITING,   /* the daemon works on it: no guard deadline */
    HTTP_GUARD_SENDING,   /* the answer is queued, the client reads it */
};

struct http_guard;
struct http_guard_conn;    /* one connection */
struct http_guard_address; /* one source address's share */

/* Bytes of a request reserved against the unauthenticated budget. Zero-initialize. */
struct http_reservation {
    struct http_guard_address *address;
    size_t bytes;
};

struct http_guard *http_guard_create(const struct http_guard_limits *limits);

/* http_guard_free - closes lingering sockets; every connection must be closed. NULL ok. */
void http_guard_free(struct http_guard *guard);

/* http_guard_admit - may a connection from `addr` be accepted? (the accept policy: a
 * cheap early refusal; http_guard_open() has the last word) */
bool http_guard_admit(struct http_guard *guard, const struct sockaddr *addr);

/*
 * http_guard_open - a connection started (its socket `fd`). Returns its record, or NULL
 * when it is refused (over its address's limit, or out of memory): then the socket is
 * already shut down and *refused_out says why ("per_address").
 */
struct http_guard_conn *http_guard_open(struct http_guard *guard, const struct sockaddr *addr,
                                        int fd, const char **refused_out);

/* http_guard_close - the connection is closing; its record is freed. Accepts NULL. */
void http_guard_close(struct http_guard *guard, struct http_guard_conn *conn);

/* http_guard_phase - where the connection's current request is (NULL conn ignored). */
void http_guard_phase(struct http_guard *guard, struct http_guard_conn *conn,
                      enum http_guard_phase phase);

/*
 * http_guard_reserve - add `bytes` to the request's reservation on the connection's
 * address. Returns 0; -1 when the address's share would pass its limit, -2 when the total
 * would (nothing reserved then).
 */
int http_guard_reserve(struct http_guard *guard, struct http_guard_conn *conn, size_t bytes,
                       struct http_reservation *reservation);

/* http_guard_release - give a reservation back (idempotent: it is zeroed). It outlives
 * its connection: a request may finish after its client left. */
void http_guard_release(struct http_guard *guard, struct http_reservation *reservation);

/* http_guard_unauthenticated - bytes reserved now, in all. */
size_t http_guard_unauthenticated(struct http_guard *guard);

/* http_guard_connections - connections open now. */
size_t http_guard_connections(struct http_guard *guard);

/*
 * http_guard_linger - keep the socket `fd` (a duplicate) after libmicrohttpd closes it,
 * reading and dropping what the client still sends, until it stops, for a second or two
 * at most. For answers sent before a body was read. Past a bound on lingering sockets,
 * nothing is kept.
 */
void http_guard_linger(struct http_guard *guard, int fd);

/*
 * http_guard_tick - shut down connections past their deadlines; drain lingering sockets.
 * Returns the number of connections shut for a deadline.
 */
unsigned http_guard_tick(struct http_guard *guard, int64_t now_ms);

#endif
