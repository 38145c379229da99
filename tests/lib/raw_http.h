/*
 * raw_http.h - HTTP/1.1 over a plain socket, for tests that send what a well-behaved
 * client library would not (conflicting framing, NULs, bodies past limits) or that must
 * choose their source address (127.0.0.2, ...), and need to see whether the server
 * closed the connection.
 */
#ifndef LEADHUB_RAW_HTTP_H
#define LEADHUB_RAW_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * raw_connect - a blocking TCP connection to 127.0.0.1:port from `source` (an IPv4
 * address on the loopback, e.g. "127.0.0.2"; NULL for any). Returns the socket or -1.
 */
int raw_connect(const char *source, int port);

struct raw_answer {
    int status;        /* 0 when no answer came */
    char *headers;     /* the status line and headers, malloc'd ("" when none) */
    char *body;        /* malloc'd ("" when none) */
    size_t sent;       /* bytes of the request the server took before it stopped reading */
    bool closed;       /* the server closed the connection after answering */
    int64_t answer_ms; /* from the first byte sent to the answer's end */
};

/*
 * raw_exchange - send `len` bytes of `request` on a new connection to 127.0.0.1:port
 * (stopping when the server stops taking them), read one answer (framed by its
 * Content-Length), then wait up to linger_ms for the server to close the connection.
 *   timeout_ms: the longest to wait for the answer.
 */
void raw_exchange(int port, const char *request, size_t len, int64_t timeout_ms, int64_t linger_ms,
                  struct raw_answer *out);

void raw_answer_free(struct raw_answer *answer);

#endif
