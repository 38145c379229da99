/*
 * fake_oauth.h - an OAuth 2.0 authorization server for tests (libmicrohttpd on 127.0.0.1),
 * speaking RFC 6749's authorization-code and refresh grants with RFC 7636's PKCE, the way
 * Google, Microsoft, LinkedIn and HubSpot do:
 *
 *   GET  /authorize   the consent screen, where the "user" allows at once (or refuses, when
 *                     told to): 302 to redirect_uri with code and state (or error and
 *                     state). Checks response_type=code, the client id, a redirect_uri (and
 *                     that it starts with the registered prefix, when one is set), and an
 *                     S256 code_challenge when PKCE is required; a bad client or
 *                     redirect_uri is answered 400 here, never redirected.
 *   POST /token       grant_type=authorization_code: the code once, for the same client and
 *                     redirect_uri, its PKCE verifier checked; grant_type=refresh_token:
 *                     a live refresh token, rotated when told (the old one dies); answers
 *                     {access_token, expires_in, refresh_token, scope, token_type} and, when
 *                     told, LinkedIn's refresh_token_expires_in; errors as RFC 6749 5.2
 *                     (invalid_grant, invalid_client, unsupported_grant_type).
 *
 * Any path ending in /authorize or /token (LinkedIn's /authorization and /accessToken) is
 * served (a tenant may come first, as in Microsoft's). Every request is recorded. Tokens
 * are "fake-oauth-at-N" and "fake-oauth-rt-N".
 */
#ifndef LEADHUB_FAKE_OAUTH_H
#define LEADHUB_FAKE_OAUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "fake_http.h"

struct fake_oauth;

/* Starts the server for one client (the app registered at the provider). */
struct fake_oauth *fake_oauth_start(const char *client_id, const char *client_secret);
void fake_oauth_stop(struct fake_oauth *fake);

/* "http://127.0.0.1:PORT" + path; malloc'd. */
char *fake_oauth_url(const struct fake_oauth *fake, const char *path);

/* Behaviour (each may be changed at any time). */
void fake_oauth_require_pkce(struct fake_oauth *fake, bool required);        /* default true */
void fake_oauth_rotate_refresh_tokens(struct fake_oauth *fake, bool rotate); /* default false */
void fake_oauth_access_lifetime(struct fake_oauth *fake, int seconds);       /* default 3600 */
/* refresh_token_expires_in in every answer (LinkedIn: counting down from consent); 0: not
 * said (the default). */
void fake_oauth_refresh_lifetime(struct fake_oauth *fake, int seconds);
/* Only redirect_uris starting with prefix are accepted (NULL: any). */
void fake_oauth_register_redirect(struct fake_oauth *fake, const char *prefix);
/* The user refuses at the consent screen: error (e.g. "access_denied"); NULL: allows. */
void fake_oauth_deny(struct fake_oauth *fake, const char *error);
/* Every refresh token dies (a user revoked the app): refreshes get invalid_grant. */
void fake_oauth_revoke_all(struct fake_oauth *fake);

/* The nth access token it issues, 1 for the first (malloc'd). */
char *fake_oauth_access_token(int n);

/* Whether access_token was issued and is still alive. */
bool fake_oauth_token_alive(struct fake_oauth *fake, const char *access_token);

/* Requests received with method whose path starts with path_prefix. */
size_t fake_oauth_count(struct fake_oauth *fake, const char *method, const char *path_prefix);
/* A copy of the nth of them (0 first; free with fake_http_request_free); aborts the test
 * when there is none. */
struct fake_request fake_oauth_request(struct fake_oauth *fake, const char *method,
                                       const char *path_prefix, size_t nth);

/*
 * fake_oauth_browse - what a browser does with an authorization URL: GET it (without
 * following the redirect) and return the Location the server sends it to (malloc'd), or
 * NULL when it answered something else (its status in *status_out when not NULL).
 */
char *fake_oauth_browse(const char *authorization_url, long *status_out);

/* The value of query parameter `name` in url, percent-decoded (malloc'd), or NULL. */
char *fake_oauth_query_param(const char *url, const char *name);

#endif
