/*
 * pipedrive_api.c - every request to Pipedrive goes through pipedrive_call(): the
 * credentials (x-api-token, or an OAuth bearer from the host), JSON in and out, the pace
 * Pipedrive's rate-limit headers ask for, and what an answer means (pipedrive.h).
 *
 * Pacing: an answer saying x-ratelimit-remaining: 0 makes the next call wait until its
 * x-ratelimit-reset; a 429 makes every call wait its delay (Retry-After, else the reset),
 * and a write's 429 with x-daily-requests-left: 0 makes every write wait until midnight UTC
 * (the day's budget counts writes; reads go on). A call during a wait is not sent: it
 * returns LH_RETRY_AFTER with the time left, which holds a delivery without spending an
 * attempt.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strdup, explicit_bzero */
#endif

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipedrive.h"

#define REDACTED "[redacted]"
#define DAY_MS   86400000LL

void pipedrive_response_clear(struct pipedrive_response *response)
{
    json_decref(response->body);
    memset(response, 0, sizeof(*response));
}

void pipedrive_url(const struct pipedrive *pd, lh_url_t *url, const char *path)
{
    lh_url_init(url, pd->api_base);
    /* the path is ours ("/api/v2/persons"): one segment at a time, through the kit's
     * public builder (each segment is plain text, encoding changes nothing) */
    char segment[64];
    for (const char *p = path; *p != '\0';) {
        p += strspn(p, "/");
        size_t len = strcspn(p, "/");
        if (len == 0 || len >= sizeof(segment)) {
            break;
        }
        memcpy(segment, p, len);
        segment[len] = '\0';
        lh_url_add_path(url, segment);
        p += len;
    }
}

static void redact_one(char *text, const char *secret)
{
    size_t secret_len = secret != NULL ? strlen(secret) : 0;
    if (secret_len < strlen(REDACTED)) {
        return; /* would grow the text; not a real credential anyway */
    }
    char *hit;
    while ((hit = strstr(text, secret)) != NULL) {
        memcpy(hit, REDACTED, strlen(REDACTED));
        memmove(hit + strlen(REDACTED), hit + secret_len, strlen(hit + secret_len) + 1);
    }
}

void pipedrive_redact(const struct pipedrive *pd, char *text)
{
    if (text != NULL) {
        redact_one(text, pd->api_token);
        redact_one(text, pd->client_secret);
        redact_one(text, pd->refresh_token);
    }
}

/* Sets the call's error, redacted. */
static void api_fail(const struct pipedrive *pd, lh_ctx_t *ctx, const char *fmt, ...)
    LH_PRINTF(3, 4);

static void api_fail(const struct pipedrive *pd, lh_ctx_t *ctx, const char *fmt, ...)
{
    char reason[PIPEDRIVE_MESSAGE_MAX + 256];
    va_list args;
    va_start(args, fmt);
    vsnprintf(reason, sizeof(reason), fmt, args);
    va_end(args);
    pipedrive_redact(pd, reason);
    pd->host->set_error(ctx, "%s", reason);
}

/* The wait a request is under (a burst for every request, the daily budget for writes):
 * LH_RETRY_AFTER with the time left, or LH_OK. */
static lh_status_t waiting(struct pipedrive *pd, lh_ctx_t *ctx, bool write)
{
    int64_t now = pd->host->now_ms(ctx);
    bool daily = write && pd->daily_until_ms > now && pd->daily_until_ms >= pd->wait_until_ms;
    int64_t until = daily ? pd->daily_until_ms : pd->wait_until_ms;
    if (until <= now) {
        return LH_OK;
    }
    pd->host->set_retry_after(ctx, until - now);
    api_fail(pd, ctx, "Pipedrive %s: waiting %lld ms before the next %s",
             daily ? "daily request budget spent" : "rate limit", (long long)(until - now),
             daily ? "write" : "request");
    return LH_RETRY_AFTER;
}

/* x-daily-requests-left: 0 (the day's writes spent). */
static bool daily_spent(const lh_http_response_t *response)
{
    const char *left = lh_response_header(response, "x-daily-requests-left");
    return left != NULL && strtol(left, NULL, 10) <= 0 && left[0] >= '0' && left[0] <= '9';
}

/* Remembers the wait an answer asks for before the next request. */
static void note_pace(struct pipedrive *pd, lh_ctx_t *ctx, const lh_http_response_t *response,
                      bool write)
{
    int64_t now = pd->host->now_ms(ctx);
    const char *remaining = lh_response_header(response, "x-ratelimit-remaining");
    if (response->status == 429) {
        int64_t delay;
        bool daily = write && daily_spent(response); /* the budget counts writes only */
        if (response->retry_after_ms >= 0) {
            delay = response->retry_after_ms;
        } else if (daily) {
            delay = (now / DAY_MS + 1) * DAY_MS - now; /* the budget is per UTC day */
        } else {
            delay = lh_ratelimit_reset_ms(lh_response_header(response, "x-ratelimit-reset"), now);
            delay = delay > 0 ? delay : PIPEDRIVE_BURST_WAIT_MS;
        }
        if (daily) {
            pd->daily_until_ms = now + delay;
        } else {
            pd->wait_until_ms = now + delay;
        }
        pd->host->counter_add(ctx, PIPEDRIVE_METRIC_LIMITED, "kind", daily ? "daily" : "burst", 1);
        return;
    }
    if (remaining != NULL && strcmp(remaining, "0") == 0) {
        int64_t reset =
            lh_ratelimit_reset_ms(lh_response_header(response, "x-ratelimit-reset"), now);
        pd->wait_until_ms = now + (reset > 0 ? reset : PIPEDRIVE_BURST_WAIT_MS);
    }
}

/* The credentials' header into name/value (value malloc'd), or a status. */
static lh_status_t credentials(struct pipedrive *pd, lh_ctx_t *ctx, lh_header_t *header,
                               char **value_out)
{
    *value_out = NULL;
    if (pd->auth == PIPEDRIVE_AUTH_TOKEN) {
        *value_out = strdup(pd->api_token);
        *header = (lh_header_t){"x-api-token", *value_out};
        return *value_out != NULL ? LH_OK : LH_RETRY;
    }
    const char *token = NULL;
    lh_status_t status = pd->host->oauth2_token(ctx, &pd->oauth, &token);
    if (status != LH_OK || token == NULL) {
        if (status == LH_AUTH) {
            api_fail(pd, ctx,
                     "Pipedrive OAuth: no usable grant: run `leadhubd connect %s` or set a new "
                     "refresh_token",
                     pd->host->instance_name(ctx));
            return LH_CONFIG;
        }
        return status != LH_OK ? status : LH_AUTH;
    }
    size_t len = strlen("Bearer ") + strlen(token) + 1;
    *value_out = malloc(len);
    if (*value_out == NULL) {
        return LH_RETRY;
    }
    snprintf(*value_out, len, "Bearer %s", token);
    *header = (lh_header_t){"Authorization", *value_out};
    return LH_OK;
}

static void credential_free(char *secret)
{
    if (secret != NULL) {
        explicit_bzero(secret, strlen(secret));
        free(secret);
    }
}

/* The path of a URL (no query), for reasons: ids are not secret, queries may hold emails. */
static void url_path(const struct pipedrive *pd, const char *url, char *out, size_t size)
{
    const char *path =
        strncmp(url, pd->api_base, strlen(pd->api_base)) == 0 ? url + strlen(pd->api_base) : url;
    snprintf(out, size, "%.*s", (int)strcspn(path, "?"), path);
}

/* What a non-2xx answer means; the reason is set. */
static lh_status_t answer_status(struct pipedrive *pd, lh_ctx_t *ctx, const char *method,
                                 const char *path, const lh_http_response_t *response)
{
    char message[PIPEDRIVE_MESSAGE_MAX + 64];
    pipedrive_error_text(response->body, response->body_len, message, sizeof(message));
    pipedrive_redact(pd, message);
    long code = response->status;
    if (code == 401) {
        if (pd->auth == PIPEDRIVE_AUTH_OAUTH) {
            api_fail(pd, ctx, "Pipedrive refused the access token (401): %s", message);
            return LH_AUTH;
        }
        api_fail(pd, ctx,
                 "Pipedrive refused the API token (401 %s): check api_token (Settings > "
                 "Personal preferences > API in Pipedrive; regenerated or of a deactivated "
                 "user?)",
                 message);
        return LH_CONFIG;
    }
    if (code == 429) {
        bool daily = strcmp(method, "GET") != 0 && daily_spent(response);
        int64_t delay = (daily ? pd->daily_until_ms : pd->wait_until_ms) - pd->host->now_ms(ctx);
        pd->host->set_retry_after(ctx, delay > 0 ? delay : 0);
        api_fail(pd, ctx, "Pipedrive %s (429) on %s %s: not applied, sent again in %lld ms",
                 daily ? "daily request budget spent" : "rate limit", method, path,
                 (long long)(delay > 0 ? delay : 0));
        return LH_RETRY_AFTER;
    }
    api_fail(pd, ctx, "Pipedrive answered %s %s with HTTP %ld: %s", method, path, code, message);
    if (code == 408 || code == 425 || (code >= 500 && code < 600)) {
        if (response->retry_after_ms >= 0) {
            pd->host->set_retry_after(ctx, response->retry_after_ms);
            return LH_RETRY_AFTER;
        }
        return LH_RETRY;
    }
    if (code == 403) {
        return LH_CONFIG; /* the user or app may not do this: a person must fix it */
    }
    return LH_PERMANENT;
}

lh_status_t pipedrive_call(struct pipedrive *pd, lh_ctx_t *ctx, const char *method, const char *url,
                           const json_t *body, struct pipedrive_response *out)
{
    const lh_host_t *host = pd->host;
    memset(out, 0, sizeof(*out));
    char path[256];
    url_path(pd, url, path, sizeof(path));
    lh_status_t status = waiting(pd, ctx, strcmp(method, "GET") != 0);
    if (status != LH_OK) {
        return status;
    }
    lh_header_t headers[3];
    char *credential = NULL;
    status = credentials(pd, ctx, &headers[0], &credential);
    if (status != LH_OK) {
        credential_free(credential);
        return status;
    }
    size_t header_count = 1;
    headers[header_count++] = (lh_header_t){"Accept", "application/json"};
    char *payload = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
    if (body != NULL && payload == NULL) {
        credential_free(credential);
        api_fail(pd, ctx, "out of memory");
        return LH_RETRY;
    }
    if (payload != NULL) {
        headers[header_count++] = (lh_header_t){"Content-Type", "application/json"};
    }
    /* one attempt, reads included: the host would retry a 429 on its own short backoff,
     * while note_pace() knows how long Pipedrive means (a day, for the daily budget) */
    lh_http_request_t request = LH_HTTP_REQUEST(.method = method, .url = url, .headers = headers,
                                                .header_count = header_count, .body = payload,
                                                .body_len = payload != NULL ? strlen(payload) : 0,
                                                .timeout_ms = pd->timeout_ms, .max_attempts = 1);
    lh_http_response_t response = LH_HTTP_RESPONSE_INIT;
    int maybe_applied = 0;
    if (strcmp(method, "POST") == 0) {
        /* a create: never repeated blindly (Pipedrive takes no idempotency key) */
        status = lh_http_write(host, ctx, &request, &response, &maybe_applied);
        if (status != LH_OK && response.status == 0) {
            goto transport; /* no answer: the reason is the host's */
        }
    } else {
        status = host->http(ctx, &request, &response);
        if (status != LH_OK) {
            goto transport;
        }
    }
    out->status = response.status;
    host->counter_add(ctx, "pipedrive_responses_total", "class",
                      response.status >= 200 && response.status < 300   ? "2xx"
                      : response.status >= 400 && response.status < 500 ? "4xx"
                      : response.status >= 500                          ? "5xx"
                                                                        : "other",
                      1);
    note_pace(pd, ctx, &response, strcmp(method, "GET") != 0);
    if (response.status < 200 || response.status >= 300) {
        out->maybe_applied = maybe_applied != 0;
        status = answer_status(pd, ctx, method, path, &response);
        goto done;
    }
    json_error_t error;
    out->body = json_loadb(response.body, response.body_len, 0, &error);
    out->data = json_object_get(out->body, "data");
    if (!json_is_object(out->body) || !json_is_true(json_object_get(out->body, "success")) ||
        out->data == NULL) {
        /* a 2xx that is not Pipedrive's envelope: nothing of it can be trusted */
        api_fail(pd, ctx, "Pipedrive answered %s %s with HTTP %ld but not its JSON envelope (%s)",
                 method, path, response.status,
                 out->body == NULL ? error.text : "no success:true and data");
        json_decref(out->body);
        out->body = NULL;
        out->data = NULL;
        out->maybe_applied = strcmp(method, "GET") != 0;
        status = strcmp(method, "POST") == 0 ? LH_RETRY : LH_PERMANENT;
        goto done;
    }
    status = LH_OK;
    goto done;
transport:
    out->maybe_applied = strcmp(method, "GET") != 0;
    host->counter_add(ctx, "pipedrive_responses_total", "class", "transport", 1);
done:
    host->http_response_free(&response);
    credential_free(credential);
    free(payload);
    return status;
}
