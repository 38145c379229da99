/*
 * oauth_callback.h - GET /oauth/callback: where a provider sends the admin's browser back
 * after a consent begun with POST /v1/connectors/{name}/connect. No bearer token comes
 * with it: the state is the credential. The consent it names is taken from the database
 * (so it works once, on whichever replica), the code exchanged, the grant stored sealed,
 * and the browser shown the outcome.
 *
 * The exchange waits on the provider, so it never runs on an HTTP thread: the server
 * suspends the connection and runs oauth_callback_run() on an API worker (http_oauth.c).
 */
#ifndef LEADHUB_OAUTH_CALLBACK_H
#define LEADHUB_OAUTH_CALLBACK_H

struct daemon;

/*
 * oauth_callback_run - complete the consent the callback's query names.
 *   query:     the raw query string (without '?'), borrowed.
 *   status_out, page_out: the HTTP status and HTML page for the browser (page malloc'd).
 */
void oauth_callback_run(struct daemon *daemon, const char *query, int *status_out, char **page_out);

#endif
