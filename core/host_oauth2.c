/*
 * host_oauth2.c - OAuth2 access tokens for plugins (host->oauth2_token).
 *
 * One token per instance, refreshed under the instance's OAuth2 mutex so that concurrent
 * callbacks of a reentrant plugin trigger one refresh, not several. A refresh token the
 * provider rotates is kept in connector_state next to a fingerprint of the configured one:
 * after a restart the rotated token is used, unless the configured token changed since
 * (an operator re-authorized), which then wins.
 */
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "host_http.h"
#include "instance.h"
#include "log.h"
#include "sdk_abi.h"
#include "util.h"

#define OAUTH2_SKEW_MS          60000 /* refresh this long before the token expires */
#define OAUTH2_DEFAULT_LIFETIME 3600  /* seconds, when the answer has no expires_in */
#define OAUTH2_STATE_KEY        "leadhub.oauth2.refresh_token"
#define OAUTH2_REASON_MAX       200

static void wipe_free(char *secret)
{
    if (secret != NULL) {
        explicit_bzero(secret, strlen(secret));
        free(secret);
    }
}

void host_oauth2_clear(struct instance *instance)
{
    wipe_free(instance->oauth2.access_token);
    wipe_free(instance->oauth2.refresh_token);
    instance->oauth2.access_token = NULL;
    instance->oauth2.refresh_token = NULL;
}

static void set_state(struct instance_oauth2 *o, enum instance_token_state state)
{
    atomic_store(&o->state, (int)state);
}

/* application/x-www-form-urlencoded */
static void form_append(struct strbuf *sb, const char *key, const char *value)
{
    if (value == NULL) {
        return;
    }
    strbuf_appendf(sb, "%s%s=", sb->len ? "&" : "", key);
    for (const unsigned char *p = (const unsigned char *)value; *p != '\0'; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.' || *p == '~') {
            strbuf_append_len(sb, (const char *)p, 1);
        } else {
            strbuf_appendf(sb, "%%%02X", *p);
        }
    }
}

static bool is_refresh_grant(const lh_oauth2_t *config)
{
    return config->grant_type == NULL || strcmp(config->grant_type, "refresh_token") == 0;
}

/* Uses the rotated refresh token kept in the database when it belongs to the configured
 * one. Called once per instance, under the OAuth2 mutex. */
static void load_rotated(struct lh_ctx *ctx, const lh_oauth2_t *config)
{
    struct instance_oauth2 *o = &ctx->instance->oauth2;
    o->loaded = true;
    if (!is_refresh_grant(config) || config->refresh_token == NULL) {
        return;
    }
    json_t *stored = NULL;
    if (host_api_table()->checkpoint_get(ctx, OAUTH2_STATE_KEY, &stored) != LH_OK) {
        free(ctx->error); /* no stored token is fine: use the configured one */
        ctx->error = NULL;
        return;
    }
    char fingerprint[65];
    crypto_sha256_hex(config->refresh_token, strlen(config->refresh_token), fingerprint);
    const char *owner = json_string_value(json_object_get(stored, "configured_sha256"));
    const char *rotated = json_string_value(json_object_get(stored, "refresh_token"));
    if (owner != NULL && rotated != NULL && strcmp(owner, fingerprint) == 0) {
        o->refresh_token = strdup(rotated);
    }
    json_decref(stored);
}

/* Keeps a rotated refresh token. Failing to is logged: the token still works in memory. */
static void store_rotated(struct lh_ctx *ctx, const lh_oauth2_t *config, const char *rotated)
{
    if (config->refresh_token == NULL) {
        return; /* nothing configured to tie it to: it lives in memory only */
    }
    char fingerprint[65];
    crypto_sha256_hex(config->refresh_token, strlen(config->refresh_token), fingerprint);
    json_t *value =
        json_pack("{s:s,s:s}", "configured_sha256", fingerprint, "refresh_token", rotated);
    struct host_services *services = ctx->instance->services;
    char *error = NULL;
    struct store *store = value != NULL ? services_store_lock(services, &error) : NULL;
    enum store_result rc = STORE_UNAVAILABLE;
    if (store != NULL) {
        rc = store_checkpoint_put(store, ctx->instance->name, OAUTH2_STATE_KEY, value, &error);
        services_store_unlock(services);
    }
    if (rc != STORE_OK) {
        log_write(LOG_LEVEL_WARN, ctx->instance->plugin->name, ctx->instance->name, NULL,
                  "the provider rotated the refresh token and it could not be saved (%s): a "
                  "restart before the next refresh needs re-authorizing",
                  error ? error : "out of memory");
    }
    free(error);
    json_decref(value);
}

/*
 * The error code of a token endpoint's answer: RFC 6749's `error`, or, from endpoints that
 * answer in their own shape, `status` (HubSpot's refused refresh token is
 * {"status": "BAD_REFRESH_TOKEN", "message": ...}, without `error`).
 */
static const char *error_code(const json_t *body)
{
    const char *code = json_string_value(json_object_get(body, "error"));
    return code != NULL ? code : json_string_value(json_object_get(body, "status"));
}

/* Whether the answer says the grant itself is no good (re-authorizing is the only fix). */
static bool grant_refused(const json_t *body)
{
    const char *code = error_code(body);
    return code != NULL &&
           (strcmp(code, "invalid_grant") == 0 || strcmp(code, "BAD_REFRESH_TOKEN") == 0);
}

/* A short printable reason from a token endpoint's error answer (never its tokens). */
static char *error_reason(const json_t *body, long status)
{
    const char *code = error_code(body);
    const char *description = json_string_value(json_object_get(body, "error_description"));
    if (description == NULL) {
        description = json_string_value(json_object_get(body, "message"));
    }
    char *reason =
        util_printf("%s%s%.*s", code != NULL ? code : "HTTP error", description != NULL ? ": " : "",
                    OAUTH2_REASON_MAX, description != NULL ? description : "");
    if (reason != NULL && code == NULL) {
        free(reason);
        reason = util_printf("HTTP %ld", status);
    }
    if (reason != NULL) {
        util_utf8_sanitize(reason);
    }
    return reason;
}

/* Fetches a new token. Called under the OAuth2 mutex. */
static lh_status_t refresh(struct lh_ctx *ctx, const lh_oauth2_t *config)
{
    const lh_host_t *host = host_api_table();
    struct instance_oauth2 *o = &ctx->instance->oauth2;
    struct strbuf form = {0};
    form_append(&form, "grant_type",
                config->grant_type != NULL ? config->grant_type : "refresh_token");
    if (is_refresh_grant(config)) {
        form_append(&form, "refresh_token",
                    o->refresh_token != NULL ? o->refresh_token : config->refresh_token);
    }
    form_append(&form, "client_id", config->client_id);
    form_append(&form, "client_secret", config->client_secret);
    form_append(&form, "scope", config->scope);
    if (form.failed) {
        strbuf_free(&form);
        host->set_error(ctx, "out of memory");
        return LH_RETRY;
    }
    const lh_header_t headers[] = {{"Content-Type", "application/x-www-form-urlencoded"},
                                   {"Accept", "application/json"}};
    lh_http_request_t request =
        LH_HTTP_REQUEST(.method = "POST", .url = config->token_url, .headers = headers,
                        .header_count = 2, .body = form.data, .body_len = form.len,
                        .max_attempts = 3);
    lh_http_response_t response;
    set_state(o, INSTANCE_TOKEN_REFRESHING);
    lh_status_t status = host_http_perform(ctx, &request, &response);
    explicit_bzero(form.data, form.len);
    strbuf_free(&form);
    json_t *body = status == LH_OK ? json_loads(response.body, 0, NULL) : NULL;
    metrics_counter_add(ctx->instance->services->metrics, "leadhub_oauth2_refreshes_total",
                        "OAuth2 token requests, by instance and HTTP status.", 1, "instance",
                        ctx->instance->name, "status",
                        status == LH_OK ? (response.status < 300   ? "2xx"
                                           : response.status < 500 ? "4xx"
                                                                   : "5xx")
                                        : "transport",
                        METRICS_END);
    if (status != LH_OK) {
        /* the reason (transport failure) is already set */
        set_state(o, INSTANCE_TOKEN_FAILED);
        goto out;
    }
    const char *token = json_string_value(json_object_get(body, "access_token"));
    if (response.status >= 200 && response.status < 300 && token != NULL && token[0] != '\0') {
        json_int_t lifetime = json_integer_value(json_object_get(body, "expires_in"));
        lifetime = lifetime > 0 ? lifetime : OAUTH2_DEFAULT_LIFETIME;
        wipe_free(o->access_token);
        o->access_token = strdup(token);
        o->expires_at_ms = util_now_ms() + (int64_t)lifetime * 1000;
        const char *rotated = json_string_value(json_object_get(body, "refresh_token"));
        const char *current = o->refresh_token != NULL ? o->refresh_token : config->refresh_token;
        if (is_refresh_grant(config) && rotated != NULL && rotated[0] != '\0' &&
            (current == NULL || strcmp(rotated, current) != 0)) {
            wipe_free(o->refresh_token);
            o->refresh_token = strdup(rotated);
            store_rotated(ctx, config, rotated);
        }
        set_state(o, o->access_token != NULL ? INSTANCE_TOKEN_VALID : INSTANCE_TOKEN_FAILED);
        status = o->access_token != NULL ? LH_OK : LH_RETRY;
        goto out;
    }
    char *reason = error_reason(body, response.status);
    const char *code = error_code(body);
    set_state(o, INSTANCE_TOKEN_FAILED);
    if (grant_refused(body)) {
        host->set_error(ctx,
                        "the OAuth2 grant was refused (%s): re-authorize the connector and set "
                        "its new refresh_token",
                        reason ? reason : "invalid_grant");
        status = LH_AUTH;
    } else if (response.status == 401 ||
               (code != NULL && (strcmp(code, "invalid_client") == 0 ||
                                 strcmp(code, "unauthorized_client") == 0))) {
        host->set_error(ctx,
                        "the OAuth2 client credentials were refused (%s): check client_id "
                        "and client_secret",
                        reason ? reason : "401");
        status = LH_CONFIG;
    } else if (response.status >= 200 && response.status < 300) {
        host->set_error(ctx, "the token endpoint answered without an access_token");
        status = LH_RETRY;
    } else {
        status = lh_http_classify(&response);
        if (status == LH_RETRY_AFTER) {
            host->set_retry_after(ctx, response.retry_after_ms);
        }
        status = status == LH_OK || status == LH_AUTH ? LH_CONFIG : status;
        host->set_error(ctx, "the token endpoint refused the request (%s)",
                        reason ? reason : "error");
    }
    free(reason);
out:
    json_decref(body);
    host_http_response_free(&response);
    return status;
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
    lh_oauth2_t own;
    if (!sdk_copy_in(&own, sizeof(own), plugin_config, SDK_OAUTH2_SIZE_2_0)) {
        host->set_error(ctx, "oauth2: the config has no struct_size: write it with LH_OAUTH2()");
        return LH_CONFIG;
    }
    const lh_oauth2_t *config = &own;
    if (config->token_url == NULL || config->client_id == NULL ||
        (strncmp(config->token_url, "https://", 8) != 0 &&
         strncmp(config->token_url, "http://", 7) != 0) ||
        (is_refresh_grant(config) && config->refresh_token == NULL)) {
        host->set_error(ctx, "oauth2: token_url (http or https), client_id and, for the "
                             "refresh_token grant, refresh_token are required");
        return LH_CONFIG;
    }
    struct instance_oauth2 *o = &ctx->instance->oauth2;
    lh_status_t status = LH_OK;
    pthread_mutex_lock(&o->mutex);
    if (!o->loaded) {
        load_rotated(ctx, config);
    }
    if (o->access_token == NULL || util_now_ms() + OAUTH2_SKEW_MS >= o->expires_at_ms) {
        status = refresh(ctx, config);
    }
    if (status == LH_OK) {
        if (ctx->oauth2_token != NULL) {
            wipe_free(ctx->oauth2_token);
        }
        ctx->oauth2_token = strdup(o->access_token);
        status = ctx->oauth2_token != NULL ? LH_OK : LH_RETRY;
        *token_out = ctx->oauth2_token;
    }
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
