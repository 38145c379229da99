/*
 * oauth_grant.h - an instance's OAuth grant as stored in connector_state:
 *
 *   leadhub.oauth2.refresh_token  the tokens, sealed (seal.h). Rows written before sealing
 *                                 existed ({configured_sha256, refresh_token} in plaintext)
 *                                 are read and sealed on first use.
 *   leadhub.oauth2.status         what may be shown of it, in plaintext, written with it:
 *                                 {"state": "granted" | "needs_consent", "origin",
 *                                  "granted_at", "refresh_token_expires_at", "reason"}
 *
 * Both keys begin with "leadhub.", which cursor ages leave out.
 */
#ifndef LEADHUB_OAUTH_GRANT_H
#define LEADHUB_OAUTH_GRANT_H

#include <stdbool.h>
#include <stdint.h>

#include "seal.h"
#include "store_pg.h"

#define OAUTH_GRANT_KEY  "leadhub.oauth2.refresh_token"
#define OAUTH_STATUS_KEY "leadhub.oauth2.status"

enum oauth_grant_origin {
    OAUTH_GRANT_CONSENT,   /* obtained by consent: `leadhubd connect`, or the REST API */
    OAUTH_GRANT_CONFIGURED /* descends from the refresh_token in the instance file */
};

/* Strings owned; tokens wiped by oauth_grant_clear(). */
struct oauth_grant {
    enum oauth_grant_origin origin;
    char configured_sha256[65];    /* CONFIGURED: the configured token it descends from */
    char *refresh_token;           /* NULL when the provider gave an access token only */
    char *access_token;            /* NULL when not kept */
    int64_t expires_at_ms;         /* the access token's end; 0 unknown */
    int64_t refresh_expires_at_ms; /* the refresh token's end, when the provider said; else 0 */
    int64_t granted_at_ms;         /* when consent gave it (or it was first stored) */
    char *scope;                   /* what the provider said it granted, or NULL */
};

void oauth_grant_clear(struct oauth_grant *grant);

/* "consent" or "configured". */
const char *oauth_grant_origin_name(enum oauth_grant_origin origin);

/*
 * oauth_grant_load - the stored grant of `instance`.
 *   found_out: false when none is stored (then STORE_OK and grant zeroed).
 *   Returns STORE_OK, STORE_UNAVAILABLE, or STORE_REJECTED when it cannot be opened (no key
 *   or another key: *error_out says which key to add).
 */
enum store_result oauth_grant_load(struct store *store, const struct seal_keyring *ring,
                                   const char *instance, struct oauth_grant *grant, bool *found_out,
                                   char **error_out);

/*
 * oauth_grant_save - store the grant sealed, and its status as "granted", in one statement.
 * Without a keyring nothing is stored: STORE_REJECTED with a reason saying how to make a
 * key.
 */
enum store_result oauth_grant_save(struct store *store, const struct seal_keyring *ring,
                                   const char *instance, const struct oauth_grant *grant,
                                   char **error_out);

/* oauth_grant_mark_refused - the status says the grant needs consent again, and why. */
enum store_result oauth_grant_mark_refused(struct store *store, const char *instance,
                                           const char *reason, char **error_out);

#endif
