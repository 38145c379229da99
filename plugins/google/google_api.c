/*
 * google_api.c - authorized calls to Gmail and Calendar: the quota paid first, the access
 * token from the host (refreshed there), and Google's answers mapped to statuses. Quota
 * answers become holds (LH_RETRY_AFTER with a delay), never failures; the caller commits
 * what it has and comes back after the delay.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "google.h"

#define THROTTLE_DELAY_MS 2000 /* a quota refusal without Retry-After */
#define AUTHORIZATION_MAX 4096

void google_response_clear(struct google_response *response)
{
    json_decref(response->body);
    memset(response, 0, sizeof(*response));
}

int google_url_escape(const char *text, char *out, size_t out_size)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t used = 0;
    for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++) {
        bool plain = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                     (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' || *p == '~';
        size_t need = plain ? 1 : 3;
        if (used + need >= out_size) {
            return -1;
        }
        if (plain) {
            out[used++] = (char)*p;
        } else {
            out[used++] = '%';
            out[used++] = hex[*p >> 4];
            out[used++] = hex[*p & 0x0f];
        }
    }
    if (out_size == 0) {
        return -1;
    }
    out[used] = '\0';
    return 0;
}

/* Google's error reason (error.errors[0].reason), or "". */
static void read_reason(const json_t *body, char *out, size_t size)
{
    const json_t *error = json_object_get(body, "error");
    const char *reason = json_string_value(
        json_object_get(json_array_get(json_object_get(error, "errors"), 0), "reason"));
    if (reason == NULL) {
        reason = json_string_value(json_object_get(error, "status"));
    }
    snprintf(out, size, "%s", reason != NULL ? reason : "");
    for (char *p = out; *p != '\0'; p++) {
        bool ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9');
        if (!ok) {
            *p = '_'; /* a metric label, and text in a reason */
        }
    }
}

static bool quota_reason(const char *reason)
{
    return strcmp(reason, "userRateLimitExceeded") == 0 ||
           strcmp(reason, "rateLimitExceeded") == 0 || strcmp(reason, "dailyLimitExceeded") == 0 ||
           strcmp(reason, "quotaExceeded") == 0 || strcmp(reason, "RESOURCE_EXHAUSTED") == 0;
}

/* The access token, or LH_CONFIG with the reason when the grant is refused. */
static lh_status_t access_token(struct google *g, lh_ctx_t *ctx, const char **token_out)
{
    const lh_host_t *host = g->host;
    lh_status_t status = host->oauth2_token(ctx, &g->oauth, token_out);
    if (status == LH_OK && *token_out != NULL) {
        return LH_OK;
    }
    if (status == LH_RETRY || status == LH_RETRY_AFTER) {
        return status; /* the token endpoint is down or throttling: the grant may be fine */
    }
    const char *name = host->instance_name(ctx);
    if (g->sa_private_key != NULL) {
        /* invalid_grant here: the client is not delegated these scopes, the user is not in
         * the domain, or the key was deleted */
        host->set_error(ctx,
                        "Google refused the service account's assertion for %s: check the key, "
                        "and that its client id is granted these scopes under domain-wide "
                        "delegation in the Admin console",
                        g->mailbox);
    } else if (status == LH_AUTH) {
        /* invalid_grant (revoked, expired, password changed) or no consent yet: only a
         * person can fix it, and the host asks nobody until a new grant is stored */
        host->set_error(ctx,
                        "Google refused the mailbox's grant or none was given: re-consent this "
                        "mailbox (`leadhubd connect %s`, or POST /v1/connectors/%s/connect)",
                        name, name);
    } else {
        host->set_error(ctx, "Google refused the OAuth client: check client_id and client_secret");
    }
    host->counter_add(ctx, "google_auth_failed_total", NULL, NULL, 1);
    return LH_CONFIG;
}

static lh_status_t throttled(struct google *g, lh_ctx_t *ctx, const char *why, int64_t delay_ms)
{
    g->host->counter_add(ctx, "google_throttled_total", "reason", why, 1);
    g->host->set_retry_after(ctx, delay_ms);
    g->host->set_error(ctx, "Google quota: %s; waiting %lld ms", why, (long long)delay_ms);
    return LH_RETRY_AFTER;
}

static lh_status_t google_call(struct google *g, lh_ctx_t *ctx, const char *method, const char *url,
                               int cost, const char *body, struct google_response *out)
{
    const lh_host_t *host = g->host;
    memset(out, 0, sizeof(*out));
    int64_t wait_ms = 0;
    if (google_quota_take(&g->quota, cost, host->now_ms(ctx), &wait_ms) != 0) {
        return throttled(g, ctx, "budget", wait_ms);
    }
    const char *token = NULL;
    lh_status_t status = access_token(g, ctx, &token);
    if (status != LH_OK) {
        return status;
    }
    char authorization[AUTHORIZATION_MAX];
    if ((size_t)snprintf(authorization, sizeof(authorization), "Bearer %s", token) >=
        sizeof(authorization)) {
        host->set_error(ctx, "the access token is too long");
        return LH_RETRY;
    }
    lh_header_t headers[] = {{"Authorization", authorization},
                             {"Content-Type", "application/json"}};
    lh_http_request_t request =
        LH_HTTP_REQUEST(.method = method, .url = url, .headers = headers,
                        .header_count = body != NULL ? 2 : 1, .body = body,
                        .body_len = body != NULL ? strlen(body) : 0, .max_attempts = 1);
    lh_http_response_t response = LH_HTTP_RESPONSE_INIT;
    status = host->http(ctx, &request, &response);
    explicit_bzero(authorization, sizeof(authorization));
    if (status != LH_OK) {
        host->http_response_free(&response);
        return status;
    }
    out->http_status = response.status;
    out->body = json_loadb(response.body, response.body_len, 0, NULL);
    read_reason(out->body, out->reason, sizeof(out->reason));
    long s = response.status;
    int64_t retry_after = response.retry_after_ms;
    host->http_response_free(&response);
    if (s >= 200 && s < 300) {
        if (out->body == NULL) {
            host->set_error(ctx, "Google answered %ld with a body that is not JSON", s);
            return LH_RETRY;
        }
        return LH_OK;
    }
    if (s == 404 || s == 410) {
        return LH_OK; /* the caller's to handle: a stale history id, an expired sync token */
    }
    if (s == 429 || (s == 403 && quota_reason(out->reason))) {
        return throttled(g, ctx, s == 429 ? "too_many_requests" : out->reason,
                         retry_after >= 0 ? retry_after : THROTTLE_DELAY_MS);
    }
    if (s == 401) {
        host->set_error(ctx, "Google refused the access token (401 %s)", out->reason);
        return LH_AUTH;
    }
    if (s == 403) {
        host->set_error(ctx,
                        "Google refused the request (403 %s): the consent lacks a scope, or "
                        "the account may not use this API",
                        out->reason);
        return LH_CONFIG;
    }
    host->set_error(ctx, "Google answered %ld %s", s, out->reason);
    return s >= 500 || s == 408 ? LH_RETRY : LH_PERMANENT;
}

lh_status_t google_get(struct google *g, lh_ctx_t *ctx, const char *url, int cost,
                       struct google_response *out)
{
    return google_call(g, ctx, "GET", url, cost, NULL, out);
}

lh_status_t google_post_json(struct google *g, lh_ctx_t *ctx, const char *url, int cost,
                             const char *body, struct google_response *out)
{
    return google_call(g, ctx, "POST", url, cost, body, out);
}
