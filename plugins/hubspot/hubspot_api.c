/*
 * hubspot_api.c - every request to HubSpot goes through hubspot_call(): the credentials
 * (a private app's static token, or an OAuth access token from the host's OAuth2
 * service), JSON in and out, and what an answer means for the caller:
 *
 *   2xx (207 included)  LH_OK
 *   401                 OAuth: LH_AUTH (the host forgets the token and calls once more);
 *                       private app: LH_CONFIG (a static token cannot be refreshed)
 *   403 MISSING_SCOPES  LH_CONFIG (the app lacks a scope)
 *   429                 LH_RETRY_AFTER: Retry-After, else by policyName (DAILY: until the
 *                       next midnight UTC, at most an hour; the others one window of
 *                       X-HubSpot-RateLimit-Interval-Milliseconds, else 10 s, SECONDLY
 *                       1 s); later calls fail fast until then
 *   408, 425, 5xx       LH_RETRY (LH_RETRY_AFTER with Retry-After)
 *   other 4xx           LH_PERMANENT with HubSpot's category and message
 *
 * A refused OAuth refresh marks the instance failed: every call then fails fast with
 * LH_CONFIG and a reason saying to re-authorize, instead of asking the token endpoint
 * again for each delivery; it asks once more every 15 minutes, in case HubSpot erred.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strdup, explicit_bzero */
#endif

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hubspot.h"

#define REDACTED "[redacted]"

void hubspot_response_clear(struct hubspot_response *response)
{
    json_decref(response->body);
    response->body = NULL;
}

/* Replaces `secret` in text, in place. Secrets shorter than the replacement are left:
 * they would grow the text, and such short values are not real credentials. */
static void redact_one(char *text, const char *secret)
{
    size_t secret_len = secret != NULL ? strlen(secret) : 0;
    if (secret_len < strlen(REDACTED)) {
        return;
    }
    char *hit;
    while ((hit = strstr(text, secret)) != NULL) {
        memcpy(hit, REDACTED, strlen(REDACTED));
        memmove(hit + strlen(REDACTED), hit + secret_len, strlen(hit + secret_len) + 1);
    }
}

void hubspot_redact(const struct hubspot *hs, char *text)
{
    if (text == NULL) {
        return;
    }
    redact_one(text, hs->access_token);
    redact_one(text, hs->client_secret);
    redact_one(text, hs->refresh_token);
    for (size_t i = 0; i < hs->webhook_secret_count; i++) {
        redact_one(text, hs->webhook_secrets[i]);
    }
}

/* Formats the failure's reason into out->reason, redacted, and sets it as the call's
 * error. */
static void fail(const struct hubspot *hs, lh_ctx_t *ctx, struct hubspot_response *out,
                 const char *fmt, ...) LH_PRINTF(4, 5);

static void fail(const struct hubspot *hs, lh_ctx_t *ctx, struct hubspot_response *out,
                 const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    vsnprintf(out->reason, sizeof(out->reason), fmt, args);
    va_end(args);
    hubspot_redact(hs, out->reason);
    hs->host->set_error(ctx, "%s", out->reason);
}

void hubspot_auth_fail(struct hubspot *hs, lh_ctx_t *ctx, const char *reason)
{
    const lh_host_t *host = hs->host;
    char *copy = strdup(reason != NULL ? reason : "the OAuth refresh was refused");
    if (copy != NULL) {
        hubspot_redact(hs, copy);
        free(hs->auth_failed_reason);
        hs->auth_failed_reason = copy;
    }
    hs->auth_failed = true;
    hs->auth_failed_at_ms = host->now_ms(ctx);
    host->gauge_set(ctx, "hubspot_auth_failed", NULL, NULL, 1);
    host->log(ctx, LH_LOG_ERROR,
              "HubSpot OAuth failed: %s. Re-authorize the app in HubSpot (`leadhubd "
              "connect`), or correct client_id and client_secret and reload; until then "
              "every call fails",
              hs->auth_failed_reason != NULL ? hs->auth_failed_reason : "no reason given");
}

/* The access token to send, or a status with the reason set. */
static lh_status_t access_token(struct hubspot *hs, lh_ctx_t *ctx, struct hubspot_response *out,
                                const char **token_out)
{
    const lh_host_t *host = hs->host;
    *token_out = hs->access_token;
    if (hs->auth != HUBSPOT_AUTH_OAUTH) {
        return LH_OK;
    }
    /* A refused grant is remembered by the host, which asks nobody until a new consent is
     * stored and notices one within seconds; refused client credentials only here. */
    if (hs->auth_failed && !hs->auth_failed_grant &&
        host->now_ms(ctx) - hs->auth_failed_at_ms < HUBSPOT_AUTH_RECHECK_MS) {
        fail(hs, ctx, out,
             "HubSpot OAuth failed (%s): check client_id and client_secret, or re-authorize "
             "the app in HubSpot (`leadhubd connect %s`) and reload the configuration",
             hs->auth_failed_reason != NULL ? hs->auth_failed_reason : "?",
             host->instance_name(ctx));
        return LH_CONFIG;
    }
    lh_status_t status = host->oauth2_token(ctx, &hs->oauth, token_out);
    if (status == LH_RETRY || status == LH_RETRY_AFTER) {
        return status; /* the token endpoint is down or throttling: the grant may be fine */
    }
    if (status != LH_OK || *token_out == NULL) {
        /* A refused grant (invalid_grant, HubSpot's 400 BAD_REFRESH_TOKEN), or none given
         * yet, arrives as LH_AUTH; OAuth's 401 invalid_client as LH_CONFIG. HubSpot refuses
         * its client credentials its own way, 400 BAD_CLIENT_ID or BAD_CLIENT_SECRET, which
         * the host can only call LH_PERMANENT: the token endpoint refused the request, for
         * the client or for the token, so both fixes are named. Each needs a person, not
         * another attempt per delivery. */
        const char *why = status == LH_CONFIG ? "the client credentials were refused"
                          : status == LH_AUTH ? "no usable grant: none given yet, or the "
                                                "refresh token is invalid (invalid_grant)"
                                              : "the token endpoint refused the refresh";
        if (!hs->auth_failed) {
            hubspot_auth_fail(hs, ctx, why);
        }
        hs->auth_failed_grant = status == LH_AUTH;
        if (status == LH_AUTH) {
            fail(hs, ctx, out,
                 "HubSpot OAuth failed (%s): re-authorize the app in HubSpot: run `leadhubd "
                 "connect %s` (or POST /v1/connectors/%s/connect), or set a new refresh_token",
                 why, host->instance_name(ctx), host->instance_name(ctx));
        } else {
            fail(hs, ctx, out,
                 "HubSpot OAuth failed (%s): check client_id and client_secret, or "
                 "re-authorize the app in HubSpot (`leadhubd connect %s`)",
                 why, host->instance_name(ctx));
        }
        return LH_CONFIG;
    }
    if (hs->auth_failed) {
        hs->auth_failed = false;
        hs->auth_failed_grant = false;
        host->gauge_set(ctx, "hubspot_auth_failed", NULL, NULL, 0);
        host->log(ctx, LH_LOG_INFO, "HubSpot accepts the OAuth grant again");
    }
    return LH_OK;
}

static void wipe_free(char *secret)
{
    if (secret != NULL) {
        explicit_bzero(secret, strlen(secret));
        free(secret);
    }
}

/* X-HubSpot-RateLimit-Interval-Milliseconds, or -1 when absent or not a number. */
static int64_t rate_limit_interval(const lh_http_response_t *response)
{
    const char *text = lh_response_header(response, "x-hubspot-ratelimit-interval-milliseconds");
    if (text == NULL || text[0] < '0' || text[0] > '9' || strlen(text) > 9) {
        return -1;
    }
    char *end = NULL;
    long long value = strtoll(text, &end, 10);
    return *end == '\0' ? (int64_t)value : -1;
}

/* The meaning of a 429: the delay by policy, remembered so later calls fail fast. */
static lh_status_t rate_limited(struct hubspot *hs, lh_ctx_t *ctx,
                                const lh_http_response_t *response, struct hubspot_response *out)
{
    const lh_host_t *host = hs->host;
    const char *policy = json_string_value(json_object_get(out->body, "policyName"));
    int64_t now = host->now_ms(ctx);
    int64_t delay = hubspot_rate_limit_delay(policy, response->retry_after_ms,
                                             rate_limit_interval(response), now);
    hs->throttled_until_ms = now + delay;
    snprintf(hs->throttle_policy, sizeof(hs->throttle_policy), "%s",
             policy != NULL ? policy : "unknown");
    for (char *p = hs->throttle_policy; *p != '\0'; p++) {
        *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : (*p >= 'a' && *p <= 'z') ? *p : '_');
    }
    host->counter_add(ctx, HUBSPOT_METRIC_RATELIMIT, "policy", hs->throttle_policy, 1);
    host->set_retry_after(ctx, delay);
    fail(hs, ctx, out, "HubSpot rate limit (%s): retry in %lld ms", hs->throttle_policy,
         (long long)delay);
    return LH_RETRY_AFTER;
}

/* What a non-2xx answer means; the reason is set. */
static lh_status_t answer_status(struct hubspot *hs, lh_ctx_t *ctx, const char *method,
                                 const char *path, const lh_http_response_t *response,
                                 struct hubspot_response *out)
{
    const lh_host_t *host = hs->host;
    long code = response->status;
    const char *category = json_string_value(json_object_get(out->body, "category"));
    if (code == 401) {
        if (hs->auth == HUBSPOT_AUTH_OAUTH) {
            fail(hs, ctx, out, "HubSpot refused the access token (401): %s", out->message);
            return LH_AUTH;
        }
        fail(hs, ctx, out,
             "HubSpot refused the private app access token (401 %s): check access_token "
             "(rotated or revoked in HubSpot?)",
             out->message);
        return LH_CONFIG;
    }
    if (code == 403 && category != NULL && strcmp(category, "MISSING_SCOPES") == 0) {
        fail(hs, ctx, out,
             "HubSpot says the app lacks a scope for %s %s (%s): add it to the app "
             "(docs/connectors/hubspot.md lists them)",
             method, path, out->message);
        return LH_CONFIG;
    }
    if (code == 429) {
        return rate_limited(hs, ctx, response, out);
    }
    fail(hs, ctx, out, "HubSpot answered %s %s with HTTP %ld: %s", method, path, code,
         out->message);
    if (code == 408 || code == 425 || (code >= 500 && code < 600)) {
        if (response->retry_after_ms >= 0) {
            host->set_retry_after(ctx, response->retry_after_ms);
            return LH_RETRY_AFTER;
        }
        return LH_RETRY;
    }
    return LH_PERMANENT;
}

/* "2xx", "4xx": the label of the response counter. */
static const char *status_class(long status)
{
    static const char *const classes[] = {"1xx", "2xx", "3xx", "4xx", "5xx"};
    return status >= 100 && status < 600 ? classes[status / 100 - 1] : "other";
}

lh_status_t hubspot_call(struct hubspot *hs, lh_ctx_t *ctx, const char *method, const char *path,
                         const json_t *body, struct hubspot_response *out)
{
    const lh_host_t *host = hs->host;
    memset(out, 0, sizeof(*out));
    int64_t now = host->now_ms(ctx);
    if (hs->throttled_until_ms > now) {
        int64_t delay = hs->throttled_until_ms - now;
        host->set_retry_after(ctx, delay);
        fail(hs, ctx, out, "HubSpot rate limit (%s): retry in %lld ms", hs->throttle_policy,
             (long long)delay);
        return LH_RETRY_AFTER;
    }
    const char *token = NULL;
    lh_status_t status = access_token(hs, ctx, out, &token);
    if (status != LH_OK) {
        return status;
    }
    char *payload = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
    size_t url_len = strlen(hs->api_base) + strlen(path) + 1;
    size_t auth_len = strlen("Bearer ") + strlen(token) + 1;
    char *url = malloc(url_len);
    char *auth = malloc(auth_len);
    if ((body != NULL && payload == NULL) || url == NULL || auth == NULL) {
        free(payload);
        free(url);
        free(auth);
        fail(hs, ctx, out, "out of memory");
        return LH_RETRY;
    }
    snprintf(url, url_len, "%s%s", hs->api_base, path);
    snprintf(auth, auth_len, "Bearer %s", token);
    lh_header_t headers[3];
    size_t header_count = 0;
    headers[header_count++] = (lh_header_t){"Authorization", auth};
    if (payload != NULL) {
        headers[header_count++] = (lh_header_t){"Content-Type", "application/json"};
    }
    headers[header_count++] = (lh_header_t){"Accept", "application/json"};
    lh_http_request_t request =
        LH_HTTP_REQUEST(.method = method, .url = url, .headers = headers,
                        .header_count = header_count, .body = payload,
                        .body_len = payload != NULL ? strlen(payload) : 0,
                        .timeout_ms = hs->timeout_ms,
                        /* one attempt, reads included: the host would retry a 429 with its own
                         * short backoff (a DAILY one too), while rate_limited() knows how long
                         * HubSpot means; a 5xx fails the call, and the dispatcher, the poller or
                         * HubSpot's webhook redelivery tries again later */
                        .max_attempts = 1, );
    lh_http_response_t response = LH_HTTP_RESPONSE_INIT;
    status = host->http(ctx, &request, &response);
    wipe_free(auth);
    free(payload);
    free(url);
    if (status != LH_OK) {
        /* the host set its reason (refused, reset, timeout) */
        host->counter_add(ctx, "hubspot_responses_total", "class", "transport", 1);
        goto out;
    }
    out->status = response.status;
    host->counter_add(ctx, "hubspot_responses_total", "class", status_class(response.status), 1);
    if (response.body_len > 0) {
        /* U+0000 is let in: one such value is dropped where it is read (and counted),
         * rather than making a whole page unreadable, and a poll stuck on it */
        out->body = json_loadb(response.body, response.body_len, JSON_ALLOW_NUL, NULL);
    }
    if (response.status >= 200 && response.status < 300) {
        status = LH_OK;
        goto out;
    }
    hubspot_error_text(response.body, response.body_len, out->message, sizeof(out->message));
    hubspot_redact(hs, out->message);
    status = answer_status(hs, ctx, method, path, &response, out);
out:
    host->http_response_free(&response);
    return status;
}
