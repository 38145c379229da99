/*
 * linkedin_api.c - every request to LinkedIn's /rest API goes through linkedin_call(): the
 * instance's OAuth token (the host's service: consent, refresh, days left), the headers
 * every call needs (LinkedIn-Version, X-Restli-Protocol-Version 2.0.0), and what an answer
 * means:
 *
 *   2xx                      LH_OK
 *   401 (65600, expired)     LH_AUTH: the host forgets the token, refreshes, calls once more
 *   403                      LH_CONFIG: a scope the app lacks, or a role the member lacks
 *   426 / version errors     LH_CONFIG: the LinkedIn-Version was sunset ("update
 *                            linkedin_version")
 *   429 "... DAY limit ..."  LH_RETRY_AFTER, li->daily_limit_hit set: LinkedIn counts per
 *                            day and sends no Retry-After; the poll holds the account, or
 *                            the instance, until after midnight UTC
 *   429 other, 5xx           LH_RETRY: the host's backoff
 *   other 4xx                LH_PERMANENT (404: the response or form is gone)
 *
 * Error bodies are LinkedIn's {"status", "serviceErrorCode", "code", "message"}; the message
 * is quoted in reasons, cut short, with control characters blanked.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linkedin.h"

#define MESSAGE_MAX    200
#define MAX_ATTEMPTS   2 /* the host retries a 5xx once, with backoff */
#define METRIC_ERRORS  "linkedin_api_errors_total"
#define METRIC_LIMITED "linkedin_daily_limit_total"

void linkedin_answer_clear(struct linkedin_answer *answer)
{
    json_decref(answer->body);
    free(answer->restli_id);
    memset(answer, 0, sizeof(*answer));
}

/* LinkedIn's message, fit for a reason (never holds a token: LinkedIn does not echo one). */
static void quote(const json_t *body, char out[MESSAGE_MAX + 1])
{
    const char *message = json_string_value(json_object_get(body, "message"));
    snprintf(out, MESSAGE_MAX + 1, "%s", message != NULL ? message : "no message");
    for (char *p = out; *p != '\0'; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            *p = ' ';
        }
    }
    /* never end inside a UTF-8 sequence */
    size_t len = strlen(out);
    while (len > 0 && ((unsigned char)out[len - 1] & 0xC0) == 0x80) {
        len--;
    }
    if (len > 0 && ((unsigned char)out[len - 1] & 0x80) != 0) {
        len--;
    }
    if (strlen(out) == MESSAGE_MAX) {
        out[len] = '\0';
    }
}

static bool version_refused(long status, const json_t *body)
{
    const char *code = json_string_value(json_object_get(body, "code"));
    if (status == 426) {
        return true;
    }
    return code != NULL &&
           (strcmp(code, "NONEXISTENT_VERSION") == 0 || strcmp(code, "VERSION_MISSING") == 0 ||
            strcmp(code, "VERSION_SUNSET") == 0);
}

static bool daily_limit(const json_t *body)
{
    const char *message = json_string_value(json_object_get(body, "message"));
    return message != NULL && strstr(message, "DAY limit") != NULL;
}

static lh_status_t classify(struct linkedin *li, lh_ctx_t *ctx, const char *path,
                            const lh_http_response_t *response, struct linkedin_answer *answer)
{
    const lh_host_t *host = li->host;
    long s = response->status;
    char message[MESSAGE_MAX + 1];
    quote(answer->body, message);
    /* the path without its query: ids only, no personal data */
    char where[96];
    snprintf(where, sizeof(where), "%.*s", (int)strcspn(path, "?"), path);
    if (s >= 200 && s < 300) {
        return LH_OK;
    }
    if (version_refused(s, answer->body)) {
        host->counter_add(ctx, METRIC_ERRORS, "reason", "version", 1);
        host->set_error(ctx,
                        "LinkedIn refused LinkedIn-Version %s (%ld: %s): update linkedin_version "
                        "to a version LinkedIn still serves (YYYYMM, about the last 12 months)",
                        li->version, s, message);
        return LH_CONFIG;
    }
    if (s == 401) {
        host->counter_add(ctx, METRIC_ERRORS, "reason", "unauthorized", 1);
        host->set_error(ctx, "LinkedIn refused the access token on %s (401: %s)", where, message);
        return LH_AUTH;
    }
    if (s == 403) {
        host->counter_add(ctx, METRIC_ERRORS, "reason", "forbidden", 1);
        host->set_error(ctx,
                        "LinkedIn refused %s (403: %s): the app needs the Lead Sync product and "
                        "scope r_marketing_leadgen_automation, and the member who consented a "
                        "role on the ad account and its company page",
                        where, message);
        return LH_CONFIG;
    }
    if (s == 429) {
        answer->daily_limit = daily_limit(answer->body);
        host->counter_add(ctx, METRIC_LIMITED, "kind", answer->daily_limit ? "daily" : "other", 1);
        if (answer->daily_limit) {
            /* the poll decides what it holds (an account, or the instance: then it sets the
             * delay); a delay set here would also pace a poll that goes on with the other
             * accounts and succeeds */
            li->daily_limit_hit = true;
            host->set_error(ctx,
                            "LinkedIn's daily limit is reached (%s): held until after "
                            "00:00 UTC",
                            message);
            return LH_RETRY_AFTER;
        }
        host->set_error(ctx, "LinkedIn throttled %s (429: %s)", where, message);
        return LH_RETRY;
    }
    if (s >= 500 || s == 408) {
        host->counter_add(ctx, METRIC_ERRORS, "reason", "server", 1);
        host->set_error(ctx, "LinkedIn failed on %s (%ld: %s)", where, s, message);
        return LH_RETRY;
    }
    host->counter_add(ctx, METRIC_ERRORS, "reason", s == 404 ? "not_found" : "refused", 1);
    host->set_error(ctx, "LinkedIn refused %s (%ld: %s)", where, s, message);
    return LH_PERMANENT;
}

lh_status_t linkedin_call(struct linkedin *li, lh_ctx_t *ctx, const char *method,
                          const char *path_and_query, const char *body,
                          struct linkedin_answer *answer)
{
    const lh_host_t *host = li->host;
    memset(answer, 0, sizeof(*answer));
    const char *token = NULL;
    lh_status_t status = host->oauth2_token(ctx, &li->oauth, &token);
    if (status != LH_OK || token == NULL) {
        if (status == LH_AUTH || status == LH_OK) {
            host->set_error(ctx,
                            "no usable LinkedIn grant: run `leadhubd connect %s` (a member "
                            "with a role on the ad accounts consents)",
                            host->instance_name(ctx));
            status = LH_AUTH;
        }
        answer->status = status;
        return status;
    }
    size_t url_size = strlen(li->api_base) + strlen(path_and_query) + 1;
    size_t auth_size = strlen("Bearer ") + strlen(token) + 1;
    char *url = malloc(url_size);
    char *authorization = malloc(auth_size);
    if (url == NULL || authorization == NULL) {
        free(url);
        free(authorization);
        host->set_error(ctx, "out of memory");
        answer->status = LH_RETRY;
        return LH_RETRY;
    }
    snprintf(url, url_size, "%s%s", li->api_base, path_and_query);
    snprintf(authorization, auth_size, "Bearer %s", token);
    lh_header_t headers[] = {
        {"Authorization", authorization},
        {"LinkedIn-Version", li->version},
        {"X-Restli-Protocol-Version", "2.0.0"},
        {"Content-Type", "application/json"},
    };
    bool post = body != NULL;
    lh_http_request_t request =
        LH_HTTP_REQUEST(.method = method, .url = url, .headers = headers,
                        .header_count = post ? 4 : 3, .body = body,
                        .body_len = post ? strlen(body) : 0, .timeout_ms = li->timeout_ms,
                        .max_attempts = post ? 1 : MAX_ATTEMPTS);
    lh_http_response_t response = LH_HTTP_RESPONSE_INIT;
    status = host->http(ctx, &request, &response);
    explicit_bzero(authorization, strlen(authorization));
    free(authorization);
    free(url);
    if (status != LH_OK) {
        host->http_response_free(&response);
        answer->status = status;
        return status;
    }
    answer->http_status = response.status;
    if (response.body_len > 0) {
        answer->body = json_loadb(response.body, response.body_len, JSON_ALLOW_NUL, NULL);
    }
    const char *restli_id = lh_response_header(&response, "x-restli-id");
    if (restli_id != NULL) {
        answer->restli_id = strdup(restli_id);
    }
    status = classify(li, ctx, path_and_query, &response, answer);
    if (status == LH_OK && answer->body == NULL && response.body_len > 0) {
        host->set_error(ctx, "LinkedIn answered %s with a body that is not JSON", method);
        status = LH_RETRY;
    }
    host->http_response_free(&response);
    answer->status = status;
    return status;
}
