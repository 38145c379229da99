/*
 * connect_loopback.h - the redirect receiver of `leadhubd connect` (RFC 8252 section 7.3):
 * an HTTP listener on 127.0.0.1 that waits for the provider to send the browser to
 * /callback with the consent's state, then shows the browser the outcome.
 *
 * Any local process can reach a loopback port, so a callback whose state is not the
 * consent's is answered 400 and ignored: the wait goes on for the real one.
 */
#ifndef LEADHUB_CONNECT_LOOPBACK_H
#define LEADHUB_CONNECT_LOOPBACK_H

#include <stdint.h>

struct connect_loopback;

/*
 * connect_loopback_start - listen on 127.0.0.1:port (0: a free port).
 *   state: the consent's state (borrowed until connect_loopback_stop()).
 *   Returns the listener, or NULL with *error_out (malloc'd).
 */
struct connect_loopback *connect_loopback_start(int port, const char *state, char **error_out);

/* The port listened on. */
int connect_loopback_port(const struct connect_loopback *loopback);

/*
 * connect_loopback_wait - the query of the callback that carried the consent's state, or
 * NULL when none came within timeout_ms. malloc'd; the browser that sent it waits for
 * connect_loopback_answer().
 */
char *connect_loopback_wait(struct connect_loopback *loopback, int64_t timeout_ms);

/* connect_loopback_answer - the page that browser gets (status, a line of text; copied).
 * Returns once it is sent (or after a few seconds). */
void connect_loopback_answer(struct connect_loopback *loopback, int status, const char *title,
                             const char *text);

/* connect_loopback_stop - accepts NULL. */
void connect_loopback_stop(struct connect_loopback *loopback);

#endif
