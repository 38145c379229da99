/*
 * stripe_api.c - GET /v1/events through the host's HTTP client.
 *
 * The host owns retries: 429, 5xx and transport failures are retried there with backoff
 * and Retry-After (a GET is idempotent), and Stripe-Should-Retry, named to the host as the
 * request's retry_hint_header, overrides the status there (true: a 409 lock timeout is retried;
 * false: a 503 is not). What is left when it gives up is mapped here: 401/403 are the
 * key's fault (LH_CONFIG: the poll fails with a clear reason until the key is fixed),
 * Stripe-Should-Retry again overrides the status code's usual meaning, and a starting_after
 * Stripe no longer knows is reported so the poll can walk again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stripe.h"

#define EVENTS_PATH       "/v1/events"
#define PAGE_LIMIT        100   /* Stripe's maximum */
#define API_MAX_ATTEMPTS  4     /* the first try and three retries, by the host */
#define API_TIMEOUT_MS    30000 /* one page, one request */
#define ERROR_MESSAGE_MAX 200   /* bytes of Stripe's error message quoted in a reason */
#define METRIC_ERRORS     "stripe_api_errors_total"
#define METRIC_KEY        "stripe_api_key_rejected"

static char *list_url(const struct stripe *stripe, int64_t created_gte, const char *starting_after)
{
    /* starting_after is a checked id ([A-Za-z0-9_-]): nothing to escape */
    size_t size = strlen(stripe->api_base) + sizeof(EVENTS_PATH) + 64 +
                  strlen(stripe->types_query) +
                  (starting_after != NULL ? strlen(starting_after) + 16 : 0);
    char *url = malloc(size);
    if (url == NULL) {
        return NULL;
    }
    snprintf(url, size, "%s" EVENTS_PATH "?created%%5Bgte%%5D=%lld&limit=%d%s%s%s",
             stripe->api_base, (long long)created_gte, PAGE_LIMIT, stripe->types_query,
             starting_after != NULL ? "&starting_after=" : "",
             starting_after != NULL ? starting_after : "");
    return url;
}

/*
 * Stripe's error message, fit for a reason: at most ERROR_MESSAGE_MAX bytes, control
 * characters as spaces, a cut that never splits a UTF-8 sequence, and the api_key, should
 * Stripe ever echo it, as [redacted].
 */
static void quote_message(const struct stripe *stripe, const char *message, char *out,
                          size_t out_size)
{
    const char *key = stripe->authorization + strlen("Bearer ");
    size_t key_len = strlen(key);
    size_t used = 0;
    for (const char *p = message; *p != '\0' && used + 16 < out_size;) {
        if (used >= ERROR_MESSAGE_MAX) {
            while (used > 0 && ((unsigned char)out[used - 1] & 0xc0) == 0x80) {
                used--; /* back to the start of a sequence */
            }
            if (used > 0 && (unsigned char)out[used - 1] >= 0xc0) {
                used--;
            }
            memcpy(out + used, "...", 3);
            used += 3;
            break;
        }
        if (key_len > 0 && strncmp(p, key, key_len) == 0) {
            memcpy(out + used, "[redacted]", 10);
            used += 10;
            p += key_len;
            continue;
        }
        unsigned char c = (unsigned char)*p++;
        out[used++] = (char)(c < 0x20 || c == 0x7f ? ' ' : c);
    }
    out[used] = '\0';
}

/* "HTTP 429 rate_limit: Request rate limit exceeded." from an error answer. */
static void describe_error(const struct stripe *stripe, const lh_http_response_t *response,
                           const json_t *body, char *out, size_t out_size)
{
    const json_t *error = json_object_get(body, "error");
    const char *code = json_string_value(json_object_get(error, "code"));
    if (code == NULL) {
        code = json_string_value(json_object_get(error, "type"));
    }
    const char *message = json_string_value(json_object_get(error, "message"));
    char quoted[ERROR_MESSAGE_MAX + 24];
    quote_message(stripe, message != NULL ? message : "(no message)", quoted, sizeof(quoted));
    char code_text[48];
    quote_message(stripe, code != NULL ? code : "error", code_text, sizeof(code_text));
    snprintf(out, out_size, "HTTP %ld %s: %s", response->status, code_text, quoted);
}

/* Is `page` a list page we can walk? Every item needs an id and a created time. */
static bool page_valid(const json_t *page)
{
    const json_t *object = json_object_get(page, "object");
    const json_t *items = json_object_get(page, "data");
    if (!json_is_object(page) || (object != NULL && !json_is_string(object)) ||
        (object != NULL && strcmp(json_string_value(object), "list") != 0) ||
        !json_is_array(items) || !json_is_boolean(json_object_get(page, "has_more"))) {
        return false;
    }
    size_t i;
    const json_t *item;
    json_array_foreach(items, i, item)
    {
        const json_t *created = json_object_get(item, "created");
        if (!stripe_id_valid(json_string_value(json_object_get(item, "id"))) ||
            !json_is_integer(created)) {
            return false;
        }
    }
    return true;
}

static lh_status_t read_page(const struct stripe *stripe, lh_ctx_t *ctx,
                             const lh_http_response_t *response, json_t **page_out)
{
    const lh_host_t *host = stripe->host;
    json_t *page = json_loadb(response->body, response->body_len, 0, NULL);
    if (!page_valid(page)) {
        json_decref(page);
        host->counter_add(ctx, METRIC_ERRORS, "reason", "malformed_response", 1);
        host->set_error(ctx,
                        "GET " EVENTS_PATH ": HTTP %ld with a body that is not a list "
                        "of events",
                        response->status);
        return LH_RETRY;
    }
    host->gauge_set(ctx, METRIC_KEY, NULL, NULL, 0);
    *page_out = page;
    return LH_OK;
}

/* What an error answer means; sets the reason. */
static lh_status_t read_error(const struct stripe *stripe, lh_ctx_t *ctx,
                              const lh_http_response_t *response, const char *starting_after,
                              bool *stale_cursor_out)
{
    const lh_host_t *host = stripe->host;
    long status = response->status;
    json_t *body = json_loadb(response->body, response->body_len, 0, NULL);
    char description[ERROR_MESSAGE_MAX + 120];
    describe_error(stripe, response, body, description, sizeof(description));
    const json_t *error = json_object_get(body, "error");
    const char *code = json_string_value(json_object_get(error, "code"));
    const char *param = json_string_value(json_object_get(error, "param"));
    lh_status_t result;
    if (status == 401 || status == 403) {
        host->counter_add(ctx, METRIC_ERRORS, "reason",
                          status == 401 ? "unauthorized" : "forbidden", 1);
        host->gauge_set(ctx, METRIC_KEY, NULL, NULL, 1);
        /* Stripe's message is not quoted: it names the key (masked, but still) */
        host->set_error(
            ctx, status == 401 ? "Stripe refused the api_key (HTTP 401): the key is wrong, "
                                 "revoked or expired; set a valid secret (sk_) or restricted (rk_) "
                                 "key in api_key"
                               : "Stripe refused to list events with the api_key (HTTP 403): a "
                                 "restricted key needs read access to Events");
        result = LH_CONFIG;
        goto out;
    }
    if ((status == 400 || status == 404) && starting_after != NULL &&
        ((code != NULL && strcmp(code, "resource_missing") == 0) ||
         (param != NULL && strcmp(param, "starting_after") == 0))) {
        host->counter_add(ctx, METRIC_ERRORS, "reason", "stale_cursor", 1);
        host->set_error(ctx, "GET " EVENTS_PATH ": Stripe no longer knows starting_after %s (%s)",
                        starting_after, description);
        *stale_cursor_out = true;
        result = LH_PERMANENT;
        goto out;
    }
    bool retry = status == 408 || status == 409 || status == 425 || status == 429 ||
                 (status >= 500 && status < 600);
    /* Stripe says better than the status code whether a retry can help */
    const char *should_retry = lh_response_header(response, "stripe-should-retry");
    if (should_retry != NULL) {
        retry = strcmp(should_retry, "true") == 0;
    }
    host->counter_add(ctx, METRIC_ERRORS, "reason",
                      status == 429   ? "rate_limited"
                      : status >= 500 ? "server_error"
                                      : "bad_request",
                      1);
    host->set_error(ctx, "GET " EVENTS_PATH ": %s%s", description,
                    retry ? "" : " (not retried before the next poll)");
    if (!retry) {
        result = LH_PERMANENT;
    } else if (response->retry_after_ms >= 0) {
        host->set_retry_after(ctx, response->retry_after_ms);
        result = LH_RETRY_AFTER;
    } else {
        result = LH_RETRY;
    }
out:
    json_decref(body);
    return result;
}

lh_status_t stripe_api_list_events(const struct stripe *stripe, lh_ctx_t *ctx, int64_t created_gte,
                                   const char *starting_after, json_t **page_out,
                                   bool *stale_cursor_out)
{
    const lh_host_t *host = stripe->host;
    *page_out = NULL;
    *stale_cursor_out = false;
    char *url = list_url(stripe, created_gte, starting_after);
    if (url == NULL) {
        host->set_error(ctx, "out of memory");
        return LH_RETRY;
    }
    lh_header_t headers[4];
    size_t count = 0;
    headers[count++] = (lh_header_t){"Authorization", stripe->authorization};
    headers[count++] = (lh_header_t){"Accept", "application/json"};
    if (stripe->stripe_version != NULL) {
        headers[count++] = (lh_header_t){"Stripe-Version", stripe->stripe_version};
    }
    lh_http_request_t request =
        LH_HTTP_REQUEST(.method = "GET", .url = url, .headers = headers, .header_count = count,
                        .timeout_ms = API_TIMEOUT_MS, .max_attempts = API_MAX_ATTEMPTS,
                        .retry_hint_header = "Stripe-Should-Retry", );
    lh_http_response_t response = LH_HTTP_RESPONSE_INIT;
    lh_status_t status = host->http(ctx, &request, &response);
    if (status != LH_OK) {
        /* refused, reset, timed out after the host's retries: its reason is set */
        host->counter_add(ctx, METRIC_ERRORS, "reason", "transport", 1);
    } else if (response.status >= 200 && response.status < 300) {
        status = read_page(stripe, ctx, &response, page_out);
    } else {
        status = read_error(stripe, ctx, &response, starting_after, stale_cursor_out);
    }
    host->http_response_free(&response);
    free(url);
    return status;
}
