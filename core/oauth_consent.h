/*
 * oauth_consent.h - the authorization-code flow with PKCE (RFC 6749 section 4.1, RFC 7636)
 * for one instance, shared by `leadhubd connect` and the REST API:
 *
 *   oauth_consent_begin()     a state and a PKCE verifier (32 random bytes each);
 *   oauth_consent_address()   the URL to send the browser to;
 *   oauth_redirect_parse()    the code (or the provider's error) and the state of the URL
 *                             the provider redirected the browser to;
 *   oauth_consent_complete()  the code exchanged at the token endpoint, the grant stored
 *                             sealed where host->oauth2_token() finds it (oauth_grant.h).
 *
 * The REST flow keeps a begun consent in oauth_consents (migration 0008) so that whichever
 * replica the browser comes back to can complete it: oauth_consent_save() and
 * oauth_consent_take().
 */
#ifndef LEADHUB_OAUTH_CONSENT_H
#define LEADHUB_OAUTH_CONSENT_H

#include <stdbool.h>
#include <stdint.h>

#include "instance.h"
#include "oauth_grant.h"
#include "oauth_provider.h"
#include "seal.h"
#include "store_pg.h"

#define OAUTH_CONSENT_TTL_MS (10 * 60 * 1000) /* a begun REST consent waits this long */

/* A begun consent. The state and the verifier are secrets until used: never log them. */
struct oauth_consent {
    char state[48];          /* base64url, 43 characters */
    char verifier[48];       /* PKCE code_verifier, 43 characters */
    char challenge[48];      /* base64url(SHA-256(verifier)) */
    char *redirect_uri;      /* owned */
    char *authorization_url; /* owned */
};

/* oauth_consent_page - the small HTML page a browser gets at the end of a consent: title
 * and text are escaped. malloc'd (NULL when out of memory). */
char *oauth_consent_page(const char *title, const char *text);

/* oauth_consent_begin - a new state and verifier. 0, or -1 with *error_out (the random
 * generator failed). */
int oauth_consent_begin(struct oauth_consent *out, char **error_out);

/* oauth_consent_address - where the provider sends the browser back (redirect_uri) and
 * where to send the browser first (authorization_url). 0, or -1 with *error_out. */
int oauth_consent_address(struct oauth_consent *consent, const struct oauth_endpoints *endpoints,
                          const char *redirect_uri, char **error_out);
void oauth_consent_clear(struct oauth_consent *consent);

/* What the provider sent back, percent-decoded. Strings owned (NULL when absent). */
struct oauth_redirect {
    char *code;
    char *state;
    char *error; /* the provider's refusal: access_denied, ... */
    char *error_description;
};

/*
 * oauth_redirect_parse - the parameters of a redirect: a whole URL as pasted from a
 * browser's address bar (http://127.0.0.1:8123/callback?code=...&state=...) or just its
 * query. Surrounding whitespace is ignored; the fragment is not read.
 *   Returns 0, or -1 when it holds neither a code nor an error, or is malformed.
 */
int oauth_redirect_parse(const char *text, struct oauth_redirect *out);
void oauth_redirect_clear(struct oauth_redirect *redirect);

/* oauth_state_matches - constant-time comparison of a returned state with the one sent. */
bool oauth_state_matches(const char *expected, const char *received);

/*
 * oauth_consent_complete - exchange `code` at the token endpoint (ctx: a call context of the
 * instance, whose HTTP client is used) and store the grant, sealed with `ring`.
 *   granted_out: what was stored (tokens included); the caller clears it.
 *   Returns LH_OK; otherwise *error_out (malloc'd, never a token) says why and what to do:
 *   LH_AUTH the code was refused (expired, used, or another redirect_uri); LH_CONFIG the
 *   client was refused, or there is no key to seal with; LH_RETRY the endpoint or the
 *   database is down; LH_PERMANENT any other refusal.
 */
lh_status_t oauth_consent_complete(struct lh_ctx *ctx, const struct oauth_endpoints *endpoints,
                                   const char *code, const char *redirect_uri, const char *verifier,
                                   struct store *store, const struct seal_keyring *ring,
                                   struct oauth_grant *granted_out, char **error_out);

/* oauth_consent_save - keep a begun consent for OAUTH_CONSENT_TTL_MS; sweeps expired ones. */
enum store_result oauth_consent_save(struct store *store, const struct seal_keyring *ring,
                                     const char *instance, const struct oauth_consent *consent,
                                     char **error_out);

/*
 * oauth_consent_take - the consent begun with `state`, removed so it cannot be used again.
 *   found_out: false when there is none (unknown, or used already).
 *   expired_out: true when it was there but past its time (then nothing else is returned).
 *   instance_out, redirect_uri_out, verifier_out: malloc'd when found and not expired.
 */
enum store_result oauth_consent_take(struct store *store, const struct seal_keyring *ring,
                                     const char *state, bool *found_out, bool *expired_out,
                                     char **instance_out, char **redirect_uri_out,
                                     char **verifier_out, char **error_out);

#endif
