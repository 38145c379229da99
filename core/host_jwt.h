/*
 * host_jwt.h - host->jwt_verify (ABI 2.1): RS256 JSON Web Tokens checked against the keys
 * a JWKS document publishes (OIDC-authenticated pushes: Google Pub/Sub), the keys fetched
 * with the host's HTTP client and cached per instance.
 */
#ifndef LEADHUB_HOST_JWT_H
#define LEADHUB_HOST_JWT_H

#include <pthread.h>

#include "leadhub.h"

/* The keys one instance trusts, fetched from jwks_url. Guarded by mutex: webhooks of a
 * WEBHOOK_CONCURRENT plugin verify at the same time. */
struct host_jwks {
    pthread_mutex_t mutex;
    char *url;          /* where keys came from; owned */
    json_t *keys;       /* the document's "keys" array; owned */
    int64_t expires_ms; /* monotonic: fetch again after this */
    int64_t fetched_ms; /* monotonic: the last fetch (an unknown kid refetches once a
                           minute at most) */
};

void host_jwks_init(struct host_jwks *jwks);
void host_jwks_clear(struct host_jwks *jwks);

lh_status_t host_jwt_verify(lh_ctx_t *ctx, const char *token, const char *jwks_url,
                            const char *const *issuers, const char *audience, json_t **claims_out);

/*
 * host_jwt_rs256_check - the pure part, for tests and fuzzing: verify token against the
 * JWKS keys array at time now_s. Returns 0, 1 when its kid is not among the keys (fetch
 * again), or -1 with *why set (a static string) when it is refused.
 */
int host_jwt_rs256_check(const char *token, const json_t *keys, const char *const *issuers,
                         const char *audience, long long now_s, json_t **claims_out,
                         const char **why);

/*
 * host_jwt_sign_rs256 - a compact JWT of claims (borrowed), signed RS256 with the PEM
 * private key pem. Returns a malloc'd token, or NULL with *why set (static; never the key).
 */
char *host_jwt_sign_rs256(const char *pem, const json_t *claims, const char **why);

#endif
