/*
 * host_oauth2.c - OAuth2 access tokens for plugins (host->oauth2_token).
 *
 * One token per instance, refreshed under the instance's OAuth2 mutex so that concurrent
 * callbacks of a reentrant plugin trigger one refresh, not several.
 *
 * Which refresh token: the grant stored by consent (oauth_grant.h, `leadhubd connect`),
 * unless the provider refused it; else the refresh_token the plugin configured, or the
 * token the provider rotated it into (stored with a fingerprint of the configured one, so
 * that a changed configured token, after an operator re-authorized by hand, takes over
 * again). The stored grant is read before each refresh: a consent given meanwhile, or a
 * token another replica rotated, is used at once, and an access token another replica
 * fetched is used without a refresh of our own. Tokens are stored sealed (seal.h); without
 * secrets_key a rotated token lives in memory only, and the log says how to make a key.
 *
 * A refusal (invalid_grant) marks the instance as needing consent, in memory for this
 * replica and in the grant's status row for every reader: the refused token is never
 * offered again, and until another grant is stored each call fails at once, reading the
 * store at most every OAUTH2_RECHECK_MS to notice one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "instance.h"
#include "log.h"
#include "oauth_grant.h"
#include "oauth_provider.h"
#include "oauth_token.h"
#include "sdk_abi.h"
#include "util.h"

#define OAUTH2_SKEW_MS       60000 /* refresh this long before the token expires */
#define OAUTH2_RECHECK_MS    2000  /* after a refusal: how often to look for a new grant */
#define OAUTH2_WARN_DAYS     14    /* warn this many days before the refresh token ends */
#define OAUTH2_WARN_EVERY_MS (24LL * 3600 * 1000)
#define DAY_MS               (24LL * 3600 * 1000)

static void wipe_free(char *secret)
{
    if (secret != NULL) {
        explicit_bzero(secret, strlen(secret));
        free(secret);
    }
}

void host_oauth2_clear(struct instance *instance)
{
    struct instance_oauth2 *o = &instance->oauth2;
    wipe_free(o->access_token);
    wipe_free(o->refresh_token);
    free(o->refused_reason);
    o->access_token = NULL;
    o->refresh_token = NULL;
    o->refused_reason = NULL;
    o->refused_sha256[0] = '\0';
    o->expires_at_ms = 0;
}

void host_oauth2_forget(struct instance *instance)
{
    if (instance == NULL) {
        return;
    }
    pthread_mutex_lock(&instance->oauth2.mutex);
    host_oauth2_clear(instance);
    instance->oauth2.checked_ms = 0;
    pthread_mutex_unlock(&instance->oauth2.mutex);
}

static void set_state(struct instance_oauth2 *o, enum instance_token_state state)
{
    atomic_store(&o->state, (int)state);
}

static bool is_refresh_grant(const lh_oauth2_t *config)
{
    return config->grant_type == NULL || strcmp(config->grant_type, "refresh_token") == 0;
}

#define JWT_BEARER_GRANT     "urn:ietf:params:oauth:grant-type:jwt-bearer"
#define ASSERTION_LIFETIME_S 3600 /* Google's most */

static bool is_jwt_bearer_grant(const lh_oauth2_t *config)
{
    return config->grant_type != NULL && strcmp(config->grant_type, JWT_BEARER_GRANT) == 0;
}

/* The signed assertion of a jwt-bearer grant (malloc'd), or NULL with the reason set. */
static char *assertion_of(struct lh_ctx *ctx, const lh_oauth2_t *config, const char *token_url)
{
    long long now = (long long)(util_now_ms() / 1000);
    json_t *claims = json_pack(
        "{s:s?, s:s?, s:s, s:s?, s:I, s:I}", "iss", config->assertion_issuer, "sub",
        config->assertion_subject, "aud",
        config->assertion_audience != NULL ? config->assertion_audience : token_url, "scope",
        config->scope, "iat", (json_int_t)now, "exp", (json_int_t)(now + ASSERTION_LIFETIME_S));
    const char *why = "out of memory";
    char *jwt = claims != NULL && config->assertion_issuer != NULL
                    ? host_jwt_sign_rs256(config->assertion_key, claims, &why)
                    : NULL;
    if (config->assertion_issuer == NULL) {
        why = "assertion_issuer is required";
    }
    json_decref(claims);
    if (jwt == NULL) {
        host_api_table()->set_error(ctx, "oauth2: %s", why);
    }
    return jwt;
}

static void fingerprint(const char *token, char out[65])
{
    if (token == NULL) {
        out[0] = '\0';
        return;
    }
    crypto_sha256_hex(token, strlen(token), out);
}

static const char *instance_of(const struct lh_ctx *ctx)
{
    return ctx->instance->name;
}

static void gauge(struct lh_ctx *ctx, const char *name, const char *help, double value)
{
    metrics_gauge_set(ctx->instance->services->metrics, name, help, value, "instance",
                      instance_of(ctx), METRICS_END);
}

/* The token endpoint and client of this call: the plugin's config, with what it leaves
 * NULL taken from its oauth_provider declaration. */
struct client {
    const char *token_url;
    const char *client_id;
    const char *client_secret;
    struct oauth_endpoints endpoints; /* when the provider was resolved */
};

static lh_status_t client_of(struct lh_ctx *ctx, const lh_oauth2_t *config, struct client *c)
{
    memset(c, 0, sizeof(*c));
    c->token_url = config->token_url;
    c->client_id = config->client_id;
    c->client_secret = config->client_secret;
    const lh_oauth_provider_t *provider = oauth_provider_of(ctx->instance->plugin->desc);
    if ((c->token_url == NULL || c->client_id == NULL || c->client_secret == NULL) &&
        provider != NULL) {
        char *error = NULL;
        if (oauth_provider_resolve(provider, ctx->instance->settings, &c->endpoints, &error) == 0) {
            c->token_url = c->token_url != NULL ? c->token_url : c->endpoints.token_url;
            c->client_id = c->client_id != NULL ? c->client_id : c->endpoints.client_id;
            c->client_secret =
                c->client_secret != NULL ? c->client_secret : c->endpoints.client_secret;
        } else if (c->token_url == NULL || (c->client_id == NULL && !is_jwt_bearer_grant(config))) {
            host_api_table()->set_error(ctx, "oauth2: %s", error != NULL ? error : "?");
            free(error);
            return LH_CONFIG;
        }
        free(error);
    }
    if (c->token_url == NULL || (c->client_id == NULL && !is_jwt_bearer_grant(config)) ||
        (strncmp(c->token_url, "https://", 8) != 0 && strncmp(c->token_url, "http://", 7) != 0)) {
        host_api_table()->set_error(ctx, "oauth2: token_url (http or https) and client_id are "
                                         "required");
        oauth_endpoints_clear(&c->endpoints);
        return LH_CONFIG;
    }
    return LH_OK;
}

/* Asks the token endpoint; the reason is set on failure. Called under the OAuth2 mutex. */
static lh_status_t fetch(struct lh_ctx *ctx, const lh_oauth2_t *config, const struct client *c,
                         const char *refresh_token, struct oauth_token_answer *answer)
{
    const lh_host_t *host = host_api_table();
    struct strbuf form = {0};
    oauth_form_append(&form, "grant_type",
                      config->grant_type != NULL ? config->grant_type : "refresh_token");
    if (is_jwt_bearer_grant(config)) {
        /* the assertion is the credential: no client, secret or refresh token */
        char *assertion = assertion_of(ctx, config, c->token_url);
        if (assertion == NULL) {
            strbuf_free(&form);
            memset(answer, 0, sizeof(*answer));
            return LH_CONFIG;
        }
        oauth_form_append(&form, "assertion", assertion);
        explicit_bzero(assertion, strlen(assertion));
        free(assertion);
    } else {
        oauth_form_append(&form, "refresh_token", refresh_token);
        oauth_form_append(&form, "client_id", c->client_id);
        oauth_form_append(&form, "client_secret", c->client_secret);
        oauth_form_append(&form, "scope", config->scope);
    }
    set_state(&ctx->instance->oauth2, INSTANCE_TOKEN_REFRESHING);
    char *reason = NULL;
    lh_status_t status = oauth_token_request(ctx, c->token_url, &form, 3, answer, &reason);
    long code = answer->http_status;
    metrics_counter_add(ctx->instance->services->metrics, "leadhub_oauth2_refreshes_total",
                        "OAuth2 token requests, by instance and HTTP status.", 1, "instance",
                        instance_of(ctx), "status",
                        code == 0    ? "transport"
                        : code < 300 ? "2xx"
                        : code < 500 ? "4xx"
                                     : "5xx",
                        METRICS_END);
    const char *why = reason != NULL ? reason : "?";
    switch (status) {
    case LH_OK:
        break;
    case LH_AUTH:
        host->set_error(ctx,
                        "the OAuth2 grant was refused (%s): re-authorize: run `leadhubd connect "
                        "%s` (or POST /v1/connectors/%s/connect), or set a new refresh_token",
                        why, instance_of(ctx), instance_of(ctx));
        break;
    case LH_CONFIG:
        host->set_error(ctx,
                        "the OAuth2 client credentials were refused (%s): check client_id and "
                        "client_secret",
                        why);
        break;
    default:
        if (code != 0) { /* a transport failure's reason is set already */
            host->set_error(ctx, "the token endpoint refused the request (%s)", why);
        }
        break;
    }
    free(reason);
    return status;
}

/* Fails the call the way the last refusal did. */
static lh_status_t refused(struct lh_ctx *ctx)
{
    struct instance_oauth2 *o = &ctx->instance->oauth2;
    host_api_table()->set_error(ctx, "%s", o->refused_reason != NULL ? o->refused_reason : "?");
    set_state(o, INSTANCE_TOKEN_NEEDS_CONSENT);
    return LH_AUTH;
}

/* Remembers a refusal (reason: the call's error) and tells every replica through the
 * grant's status row. */
static void remember_refusal(struct lh_ctx *ctx, const char *refresh_token)
{
    struct instance_oauth2 *o = &ctx->instance->oauth2;
    fingerprint(refresh_token, o->refused_sha256);
    free(o->refused_reason);
    o->refused_reason = strdup(ctx->error != NULL ? ctx->error : "the OAuth2 grant was refused");
    o->checked_ms = util_monotonic_ms();
    set_state(o, INSTANCE_TOKEN_NEEDS_CONSENT);
    gauge(ctx, "leadhub_oauth2_needs_consent",
          "1 while an instance has no usable OAuth grant: consent again.", 1);
    log_write(LOG_LEVEL_ERROR, ctx->instance->plugin->name, instance_of(ctx), NULL, "%s",
              o->refused_reason != NULL ? o->refused_reason : "the OAuth2 grant was refused");
    struct host_services *services = ctx->instance->services;
    char *error = NULL;
    struct store *store = services_store_lock(services, &error);
    if (store != NULL) {
        oauth_grant_mark_refused(store, instance_of(ctx), o->refused_reason, &error);
        services_store_unlock(services);
    }
    free(error); /* the status row is for display: memory still holds the refusal */
}

static void clear_refusal(struct lh_ctx *ctx)
{
    struct instance_oauth2 *o = &ctx->instance->oauth2;
    if (o->refused_reason != NULL || o->refused_sha256[0] != '\0') {
        free(o->refused_reason);
        o->refused_reason = NULL;
        o->refused_sha256[0] = '\0';
    }
    gauge(ctx, "leadhub_oauth2_needs_consent",
          "1 while an instance has no usable OAuth grant: consent again.", 0);
}

/* Reads the stored grant. LH_OK (found or not), LH_RETRY (database), LH_CONFIG (sealed with
 * a key we lack), with the reason set. */
static lh_status_t load(struct lh_ctx *ctx, struct oauth_grant *grant, bool *found)
{
    memset(grant, 0, sizeof(*grant));
    *found = false;
    struct host_services *services = ctx->instance->services;
    ctx->instance->oauth2.checked_ms = util_monotonic_ms();
    char *error = NULL;
    enum store_result rc = STORE_UNAVAILABLE;
    struct store *store = services_store_lock(services, &error);
    if (store != NULL) {
        rc = oauth_grant_load(store, services->keyring, instance_of(ctx), grant, found, &error);
        services_store_unlock(services);
    }
    lh_status_t status = rc == STORE_OK ? LH_OK : rc == STORE_REJECTED ? LH_CONFIG : LH_RETRY;
    if (status != LH_OK) {
        host_api_table()->set_error(ctx, "the stored OAuth2 grant could not be read: %s",
                                    error != NULL ? error : "out of memory");
    }
    free(error);
    return status;
}

/* Keeps a grant. Failing to is logged: the token still works in memory. */
static void save(struct lh_ctx *ctx, const struct oauth_grant *grant, bool rotated)
{
    struct host_services *services = ctx->instance->services;
    char *error = NULL;
    enum store_result rc = STORE_UNAVAILABLE;
    struct store *store = services_store_lock(services, &error);
    if (store != NULL) {
        rc = oauth_grant_save(store, services->keyring, instance_of(ctx), grant, &error);
        services_store_unlock(services);
    }
    if (rc != STORE_OK) {
        log_write(rotated ? LOG_LEVEL_WARN : LOG_LEVEL_INFO, ctx->instance->plugin->name,
                  instance_of(ctx), NULL, "%s could not be stored (%s)%s",
                  rotated ? "the provider rotated the refresh token, and the new one"
                          : "the fresh access token",
                  error != NULL ? error : "out of memory",
                  rotated ? ": a restart before the next refresh needs a new consent" : "");
    }
    free(error);
}

/* Takes the token the answer (or the store) gave. */
static void adopt(struct instance_oauth2 *o, const char *access_token, int64_t expires_at_ms,
                  const char *refresh_token, enum oauth_grant_origin origin,
                  const char *configured_sha256)
{
    char *access = strdup(access_token);
    char *refresh = refresh_token != NULL ? strdup(refresh_token) : NULL;
    wipe_free(o->access_token);
    wipe_free(o->refresh_token);
    o->access_token = access;
    o->refresh_token = refresh;
    o->origin = (int)origin;
    snprintf(o->configured_sha256, sizeof(o->configured_sha256), "%s",
             configured_sha256 != NULL ? configured_sha256 : "");
    o->expires_at_ms = expires_at_ms;
}

/* What one attempt uses: a refresh token (or a stored access token) and where it is from. */
struct choice {
    const char *refresh_token; /* borrowed from the config or the stored grant */
    enum oauth_grant_origin origin;
    bool stored; /* from the stored grant */
};

static bool is_refused(const struct instance_oauth2 *o, const char *refresh_token)
{
    char print[65];
    fingerprint(refresh_token, print);
    return refresh_token != NULL && o->refused_sha256[0] != '\0' &&
           strcmp(print, o->refused_sha256) == 0;
}

/*
 * Picks the grant to use (see the top of the file); false when there is none. The token in
 * memory counts where the store has nothing newer: a rotated token that could not be
 * stored (no secrets_key) is still the one to use.
 */
static bool choose(const struct instance_oauth2 *o, const lh_oauth2_t *config,
                   const struct oauth_grant *stored, bool found, struct choice *out)
{
    char configured[65];
    fingerprint(config->refresh_token, configured);
    bool store_usable = found && !is_refused(o, stored->refresh_token);
    bool memory_usable = o->refresh_token != NULL && !is_refused(o, o->refresh_token);
    if (store_usable && stored->origin == OAUTH_GRANT_CONSENT) {
        *out = (struct choice){stored->refresh_token, OAUTH_GRANT_CONSENT, true};
        return true;
    }
    if (config->refresh_token != NULL) {
        if (found && stored->origin == OAUTH_GRANT_CONFIGURED && stored->refresh_token != NULL &&
            strcmp(stored->configured_sha256, configured) == 0) {
            *out = (struct choice){stored->refresh_token, OAUTH_GRANT_CONFIGURED, true};
        } else if (memory_usable && o->origin == (int)OAUTH_GRANT_CONFIGURED &&
                   strcmp(o->configured_sha256, configured) == 0) {
            *out = (struct choice){o->refresh_token, OAUTH_GRANT_CONFIGURED, false};
        } else {
            *out = (struct choice){config->refresh_token, OAUTH_GRANT_CONFIGURED, false};
        }
        return true;
    }
    if (store_usable) {
        *out = (struct choice){stored->refresh_token, stored->origin, true};
        return true;
    }
    if (memory_usable) {
        *out = (struct choice){o->refresh_token, (enum oauth_grant_origin)o->origin, false};
        return true;
    }
    return false;
}

/* One refresh with the chosen token, and what follows from the answer. */
static lh_status_t refresh_with(struct lh_ctx *ctx, const lh_oauth2_t *config,
                                const struct client *c, const struct choice *choice,
                                const struct oauth_grant *stored)
{
    struct instance_oauth2 *o = &ctx->instance->oauth2;
    struct oauth_token_answer answer;
    lh_status_t status = fetch(ctx, config, c, choice->refresh_token, &answer);
    if (status != LH_OK) {
        if (status != LH_AUTH) {
            set_state(o, INSTANCE_TOKEN_FAILED);
        }
        oauth_token_answer_clear(&answer);
        return status;
    }
    int64_t now = util_now_ms();
    bool rotated = answer.refresh_token != NULL && choice->refresh_token != NULL &&
                   strcmp(answer.refresh_token, choice->refresh_token) != 0;
    struct oauth_grant grant = {.origin = choice->origin};
    if (choice->origin == OAUTH_GRANT_CONFIGURED && config->refresh_token != NULL) {
        fingerprint(config->refresh_token, grant.configured_sha256);
    } else if (choice->origin == OAUTH_GRANT_CONFIGURED && choice->stored) {
        memcpy(grant.configured_sha256, stored->configured_sha256, sizeof(grant.configured_sha256));
    }
    const char *refresh_token = rotated ? answer.refresh_token : choice->refresh_token;
    grant.refresh_token = refresh_token != NULL ? strdup(refresh_token) : NULL;
    grant.access_token = strdup(answer.access_token);
    grant.expires_at_ms = now + answer.expires_in_s * 1000;
    grant.refresh_expires_at_ms = answer.refresh_expires_in_s > 0
                                      ? now + answer.refresh_expires_in_s * 1000
                                      : (choice->stored ? stored->refresh_expires_at_ms : 0);
    grant.granted_at_ms = choice->stored && stored->granted_at_ms > 0 ? stored->granted_at_ms : now;
    const char *scope = answer.scope != NULL ? answer.scope : choice->stored ? stored->scope : NULL;
    grant.scope = scope != NULL ? strdup(scope) : NULL;
    adopt(o, answer.access_token, grant.expires_at_ms, refresh_token, choice->origin,
          grant.configured_sha256);
    o->refresh_expires_at_ms = grant.refresh_expires_at_ms;
    /* A consented grant is kept with its access token (other replicas and a restart use
     * it); a configured one only once it differs from the file. */
    if (choice->origin == OAUTH_GRANT_CONSENT || rotated || answer.refresh_expires_in_s > 0) {
        save(ctx, &grant, rotated);
    }
    oauth_grant_clear(&grant);
    oauth_token_answer_clear(&answer);
    if (o->access_token == NULL) {
        set_state(o, INSTANCE_TOKEN_FAILED);
        host_api_table()->set_error(ctx, "out of memory");
        return LH_RETRY;
    }
    clear_refusal(ctx);
    set_state(o, INSTANCE_TOKEN_VALID);
    return LH_OK;
}

/* A token for a refresh_token grant: from the store, or refreshed. Under the mutex. */
static lh_status_t obtain_refreshed(struct lh_ctx *ctx, const lh_oauth2_t *config,
                                    const struct client *c)
{
    struct instance_oauth2 *o = &ctx->instance->oauth2;
    if (o->refused_reason != NULL && util_monotonic_ms() - o->checked_ms < OAUTH2_RECHECK_MS) {
        return refused(ctx);
    }
    lh_status_t status = LH_AUTH;
    /* twice at most: a refusal of a token another replica rotated meanwhile is tried once
     * more with the stored one */
    for (int attempt = 0; attempt < 2 && status == LH_AUTH; attempt++) {
        struct oauth_grant stored;
        bool found = false;
        struct choice choice;
        status = load(ctx, &stored, &found);
        if (status == LH_RETRY && o->refresh_token != NULL) {
            /* the database is down: go on with the token in hand */
            choice = (struct choice){o->refresh_token, (enum oauth_grant_origin)o->origin, false};
        } else if (status == LH_RETRY && config->refresh_token != NULL) {
            choice = (struct choice){config->refresh_token, OAUTH_GRANT_CONFIGURED, false};
        } else if (status != LH_OK) {
            set_state(o, INSTANCE_TOKEN_FAILED);
            oauth_grant_clear(&stored);
            return status;
        } else if (!choose(o, config, &stored, found, &choice)) {
            oauth_grant_clear(&stored);
            if (o->refused_reason != NULL) {
                return refused(ctx);
            }
            host_api_table()->set_error(ctx,
                                        "no OAuth2 grant for %s yet: run `leadhubd connect %s` "
                                        "(or POST /v1/connectors/%s/connect) to consent",
                                        instance_of(ctx), instance_of(ctx), instance_of(ctx));
            remember_refusal(ctx, NULL);
            return LH_AUTH;
        }
        if (is_refused(o, choice.refresh_token)) {
            oauth_grant_clear(&stored);
            return attempt == 0 ? refused(ctx) : LH_AUTH;
        }
        char stored_access[65];
        fingerprint(stored.access_token, stored_access);
        if (choice.stored && stored.access_token != NULL &&
            util_now_ms() + OAUTH2_SKEW_MS < stored.expires_at_ms &&
            strcmp(stored_access, o->dropped_sha256) != 0) {
            adopt(o, stored.access_token, stored.expires_at_ms, stored.refresh_token, choice.origin,
                  stored.configured_sha256);
            o->refresh_expires_at_ms = stored.refresh_expires_at_ms;
            oauth_grant_clear(&stored);
            if (o->access_token == NULL) {
                host_api_table()->set_error(ctx, "out of memory");
                return LH_RETRY;
            }
            clear_refusal(ctx);
            set_state(o, INSTANCE_TOKEN_VALID);
            return LH_OK;
        }
        if (choice.refresh_token == NULL) {
            /* an access token alone (a provider without refresh tokens), now expired */
            host_api_table()->set_error(ctx,
                                        "the OAuth2 access token of %s expired and the "
                                        "provider gave no refresh token: consent again (run "
                                        "`leadhubd connect %s`)",
                                        instance_of(ctx), instance_of(ctx));
            oauth_grant_clear(&stored);
            remember_refusal(ctx, NULL);
            return LH_AUTH;
        }
        /* the chosen token may be borrowed from o, which a success replaces */
        char *token = strdup(choice.refresh_token);
        if (token == NULL) {
            oauth_grant_clear(&stored);
            host_api_table()->set_error(ctx, "out of memory");
            return LH_RETRY;
        }
        choice.refresh_token = token;
        status = refresh_with(ctx, config, c, &choice, &stored);
        if (status == LH_AUTH) {
            remember_refusal(ctx, token);
        }
        wipe_free(token);
        oauth_grant_clear(&stored);
    }
    return status;
}

/* The refresh token's days left: a gauge, and a warning a day from 14 days before. */
static void report_expiry(struct lh_ctx *ctx)
{
    struct instance_oauth2 *o = &ctx->instance->oauth2;
    if (o->refresh_expires_at_ms <= 0) {
        return;
    }
    int64_t left_ms = o->refresh_expires_at_ms - util_now_ms();
    int64_t days = left_ms > 0 ? left_ms / DAY_MS : 0;
    gauge(ctx, "leadhub_oauth2_refresh_token_days_left",
          "Days until an instance's refresh token ends (when the provider says), then it "
          "needs consent again.",
          (double)days);
    int64_t now = util_monotonic_ms();
    if (days <= OAUTH2_WARN_DAYS &&
        (o->warned_ms == 0 || now - o->warned_ms >= OAUTH2_WARN_EVERY_MS)) {
        o->warned_ms = now;
        char when[32];
        util_format_rfc3339(o->refresh_expires_at_ms, when);
        log_write(LOG_LEVEL_WARN, ctx->instance->plugin->name, instance_of(ctx), NULL,
                  "the OAuth refresh token ends in %lld day(s), at %s: consent again before "
                  "then (run `leadhubd connect %s`, or POST /v1/connectors/%s/connect)",
                  (long long)days, when, instance_of(ctx), instance_of(ctx));
    }
}

lh_status_t host_oauth2_token(lh_ctx_t *ctx, const lh_oauth2_t *plugin_config,
                              const char **token_out)
{
    const lh_host_t *host = host_api_table();
    if (token_out == NULL || ctx == NULL) {
        return LH_PERMANENT;
    }
    *token_out = NULL;
    if (ctx->instance == NULL || ctx->validating) {
        host->set_error(ctx, "oauth2: validate() may not use the network");
        return LH_PERMANENT;
    }
    /* the plugin's struct is copied in (sdk_abi.h): never read in place */
    lh_oauth2_t own;
    if (!sdk_copy_in(&own, sizeof(own), plugin_config, SDK_OAUTH2_SIZE_2_0)) {
        host->set_error(ctx, "oauth2: the config has no struct_size: write it with LH_OAUTH2()");
        return LH_CONFIG;
    }
    const lh_oauth2_t *config = &own;
    struct instance_oauth2 *o = &ctx->instance->oauth2;
    lh_status_t status = LH_OK;
    pthread_mutex_lock(&o->mutex);
    if (o->access_token == NULL || util_now_ms() + OAUTH2_SKEW_MS >= o->expires_at_ms) {
        struct client c;
        status = client_of(ctx, config, &c);
        if (status == LH_OK && is_refresh_grant(config)) {
            status = obtain_refreshed(ctx, config, &c);
        } else if (status == LH_OK) {
            struct oauth_token_answer answer;
            status = fetch(ctx, config, &c, NULL, &answer);
            if (status == LH_OK) {
                adopt(o, answer.access_token, util_now_ms() + answer.expires_in_s * 1000, NULL,
                      OAUTH_GRANT_CONFIGURED, NULL);
                status = o->access_token != NULL ? LH_OK : LH_RETRY;
            }
            set_state(o, status == LH_OK ? INSTANCE_TOKEN_VALID : INSTANCE_TOKEN_FAILED);
            oauth_token_answer_clear(&answer);
        }
        oauth_endpoints_clear(&c.endpoints);
    }
    if (status == LH_OK) {
        wipe_free(ctx->oauth2_token);
        ctx->oauth2_token = strdup(o->access_token);
        status = ctx->oauth2_token != NULL ? LH_OK : LH_RETRY;
        *token_out = ctx->oauth2_token;
    }
    report_expiry(ctx);
    pthread_mutex_unlock(&o->mutex);
    return status;
}

bool host_oauth2_drop(lh_ctx_t *ctx)
{
    if (ctx == NULL || ctx->instance == NULL) {
        return false;
    }
    struct instance_oauth2 *o = &ctx->instance->oauth2;
    pthread_mutex_lock(&o->mutex);
    bool held = o->access_token != NULL;
    if (held) {
        fingerprint(o->access_token, o->dropped_sha256); /* refused: not from the store either */
    }
    wipe_free(o->access_token);
    o->access_token = NULL;
    o->expires_at_ms = 0;
    pthread_mutex_unlock(&o->mutex);
    return held;
}

void host_oauth2_invalidate(lh_ctx_t *ctx)
{
    (void)host_oauth2_drop(ctx);
}
