/*
 * oauth_token.h - one request to an OAuth 2.0 token endpoint (RFC 6749 section 4.1.3 and
 * 6: a form-encoded POST) through the host's HTTP client, and what its answer means. The
 * refresh of host->oauth2_token() and the code exchange of consent both use it, so both
 * read answers and errors the same way.
 */
#ifndef LEADHUB_OAUTH_TOKEN_H
#define LEADHUB_OAUTH_TOKEN_H

#include <stdint.h>

#include "instance.h"
#include "util.h"

#define OAUTH_DEFAULT_LIFETIME_S 3600 /* when an answer has no expires_in */

/* What a token endpoint granted. Strings owned (tokens wiped when cleared). */
struct oauth_token_answer {
    char *access_token;
    char *refresh_token;          /* NULL when the answer carries none */
    int64_t expires_in_s;         /* the access token's life (default when not said) */
    int64_t refresh_expires_in_s; /* refresh_token_expires_in; 0 when not said */
    char *scope;                  /* NULL when not said */
    long http_status;             /* of the answer; 0 when none arrived */
};

void oauth_token_answer_clear(struct oauth_token_answer *answer);

/*
 * oauth_token_request - POST `form` (application/x-www-form-urlencoded; wiped after) to
 * token_url for the call `ctx` (its instance's HTTP client, metrics and logs).
 *   max_attempts: as lh_http_request_t's; 1 for a code exchange, whose code a provider may
 *                 have used up with an attempt whose answer was lost.
 *   Returns LH_OK with answer filled; otherwise answer->http_status and *reason_out (a
 *   short printable reason from the answer, never a token; malloc'd) say why:
 *     LH_AUTH       the grant was refused (invalid_grant; HubSpot's BAD_REFRESH_TOKEN)
 *     LH_CONFIG     the client was refused (401, invalid_client, unauthorized_client)
 *     LH_RETRY, LH_RETRY_AFTER  the endpoint is down or throttling (set_retry_after done);
 *                   also a transport failure (ctx's error then says which)
 *     LH_PERMANENT  any other refusal (HubSpot's BAD_CLIENT_ID is one)
 */
lh_status_t oauth_token_request(struct lh_ctx *ctx, const char *token_url, struct strbuf *form,
                                int max_attempts, struct oauth_token_answer *answer,
                                char **reason_out);

#endif
