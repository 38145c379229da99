/*
 * lh_ratelimit.h - how long a provider asks to wait, and writes that must not be repeated
 * blindly (part of the leadhub SDK helpers: include <leadhub-helpers.h>).
 */
#ifndef LEADHUB_LH_RATELIMIT_H
#define LEADHUB_LH_RATELIMIT_H

#include <stdint.h>
#include <string.h>

#include "../leadhub.h"
#include "lh_time.h"

/* Longest delay these helpers return: a day. The host caps retry delays lower still. */
#define LH_RATELIMIT_MAX_MS 86400000LL

static inline int64_t lh_ratelimit__clamp(int64_t delay_ms)
{
    return delay_ms < 0 ? 0 : delay_ms > LH_RATELIMIT_MAX_MS ? LH_RATELIMIT_MAX_MS : delay_ms;
}

/*
 * lh_retry_after_ms - the delay a Retry-After value asks for (RFC 9110): delta-seconds
 * ("120") or an HTTP date ("Fri, 27 Nov 2026 10:02:00 GMT", RFC 850 too).
 *   now_ms: the current time (host->now_ms(ctx)), for the date form.
 *   Returns: milliseconds from now, 0 for a date already past, at most a day; -1 when the
 *            value is NULL or neither form.
 */
static inline int64_t lh_retry_after_ms(const char *value, int64_t now_ms)
{
    if (value == NULL) {
        return -1;
    }
    while (*value == ' ' || *value == '\t') {
        value++;
    }
    const char *p = value;
    int64_t seconds = 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        seconds = seconds < LH_RATELIMIT_MAX_MS ? seconds * 10 + (*p - '0') : seconds;
    }
    const char *end = p;
    while (*end == ' ' || *end == '\t') {
        end++;
    }
    if (p != value && *end == '\0') {
        return lh_ratelimit__clamp(seconds * 1000);
    }
    int64_t when;
    if (lh_time_parse_rfc2822(value, &when) != 0) {
        return -1;
    }
    return lh_ratelimit__clamp(when - now_ms);
}

/*
 * lh_ratelimit_reset_ms - the delay an x-ratelimit-reset (RateLimit-Reset,
 * X-Rate-Limit-Reset) value means. Providers disagree on its unit; the value decides:
 * 1000000000000 and more is epoch milliseconds, 1000000000 and more epoch seconds (GitHub,
 * Twitter), anything smaller seconds from now (the IETF draft, most APIs); a fraction is
 * allowed ("1.5").
 *   Returns: milliseconds from now (0 when past, at most a day); -1 when unreadable.
 */
static inline int64_t lh_ratelimit_reset_ms(const char *value, int64_t now_ms)
{
    if (value == NULL) {
        return -1;
    }
    while (*value == ' ') {
        value++;
    }
    const char *p = value;
    int64_t whole = 0, fraction_ms = 0, scale = 100;
    int digits = 0;
    for (; *p >= '0' && *p <= '9'; p++, digits++) {
        if (digits >= 15) {
            return -1;
        }
        whole = whole * 10 + (*p - '0');
    }
    if (digits == 0) {
        return -1;
    }
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++) {
            fraction_ms += (*p - '0') * scale;
            scale /= 10;
        }
    }
    while (*p == ' ') {
        p++;
    }
    if (*p != '\0') {
        return -1;
    }
    if (whole >= 1000000000000LL) {
        return lh_ratelimit__clamp(whole - now_ms);
    }
    if (whole >= 1000000000LL) {
        return lh_ratelimit__clamp(whole * 1000 + fraction_ms - now_ms);
    }
    return lh_ratelimit__clamp(whole * 1000 + fraction_ms);
}

/*
 * lh_http_retry_delay_ms - how long the provider's answer asks to wait before the next
 * request: its Retry-After (response->retry_after_ms, which the host parsed, or the
 * header); else, for a 429 or an answer whose X-RateLimit-Remaining (RateLimit-Remaining)
 * is 0, the reset of X-RateLimit-Reset, RateLimit-Reset or X-Rate-Limit-Reset.
 *   Returns: milliseconds (at most a day); -1 when the answer names no delay.
 *   Usage:   with LH_RETRY_AFTER: host->set_retry_after(ctx, delay).
 */
static inline int64_t lh_http_retry_delay_ms(const lh_http_response_t *response, int64_t now_ms)
{
    static const char *const remaining_names[] = {"x-ratelimit-remaining", "ratelimit-remaining",
                                                  "x-rate-limit-remaining", NULL};
    static const char *const reset_names[] = {"x-ratelimit-reset", "ratelimit-reset",
                                              "x-rate-limit-reset", NULL};
    if (response->retry_after_ms >= 0) {
        return lh_ratelimit__clamp(response->retry_after_ms);
    }
    int64_t delay = lh_retry_after_ms(lh_response_header(response, "retry-after"), now_ms);
    if (delay >= 0) {
        return delay;
    }
    int exhausted = response->status == 429;
    for (int i = 0; !exhausted && remaining_names[i] != NULL; i++) {
        const char *remaining = lh_response_header(response, remaining_names[i]);
        exhausted = remaining != NULL && strcmp(remaining, "0") == 0;
    }
    for (int i = 0; exhausted && reset_names[i] != NULL; i++) {
        delay = lh_ratelimit_reset_ms(lh_response_header(response, reset_names[i]), now_ms);
        if (delay >= 0) {
            return delay;
        }
    }
    return -1;
}

/* The delay a 429 without any rate-limit header waits: a minute. */
#define LH_HTTP_WRITE_DEFAULT_DELAY_MS 60000

/*
 * lh_http_write - send a request that must not be repeated blindly (a create, a POST
 * without an idempotency key): one attempt, never retried inside the call, whatever
 * request->max_attempts says. Only a 429 proves that nothing was applied; it is the one
 * answer to retry as is, later:
 *   2xx                    LH_OK
 *   429                    LH_RETRY_AFTER, the delay (lh_http_retry_delay_ms(), a minute
 *                          when the answer names none) set with set_retry_after(): a
 *                          delivery is held without spending an attempt and sent again
 *   401                    LH_AUTH
 *   408, 5xx, a transport  LH_RETRY (LH_RETRY_AFTER with a Retry-After), *maybe_applied
 *   error (reset, timeout) set to 1: the provider may have done the write. Before sending it
 *                          again, look for it (search by email, by the idempotency key),
 *                          which is what a create-or-update does on every attempt anyway
 *   other statuses         LH_PERMANENT (the reason is in the answer's body)
 *   request:       BORROWED; as for host->http().
 *   response:      declared with LH_HTTP_RESPONSE_INIT; free with host->http_response_free()
 *                  in every case (it holds the answer's body for all but transport errors).
 *   maybe_applied: may be NULL; set to 0 or 1 in every case.
 *   Returns: the status above; set_error() is called for every status but LH_OK.
 */
static inline lh_status_t lh_http_write(const lh_host_t *host, lh_ctx_t *ctx,
                                        const lh_http_request_t *request,
                                        lh_http_response_t *response, int *maybe_applied)
{
    int unused = 0;
    maybe_applied = maybe_applied != NULL ? maybe_applied : &unused;
    *maybe_applied = 0;
    lh_http_request_t once = *request;
    once.struct_size = (uint32_t)sizeof(once);
    once.max_attempts = 1;
    once.retry_hint_header = NULL;
    lh_status_t status = host->http(ctx, &once, response);
    if (status == LH_RETRY) {
        *maybe_applied = 1; /* the reason (reset, timeout) is already the call's error */
        return LH_RETRY;
    }
    if (status != LH_OK) {
        return status;
    }
    long code = response->status;
    if (code >= 200 && code < 300) {
        return LH_OK;
    }
    int64_t delay = lh_http_retry_delay_ms(response, host->now_ms(ctx));
    if (code == 429) {
        host->set_retry_after(ctx, delay >= 0 ? delay : LH_HTTP_WRITE_DEFAULT_DELAY_MS);
        host->set_error(ctx, "%s answered 429 (rate limited): not applied, sent again later",
                        once.method != NULL ? once.method : "GET");
        return LH_RETRY_AFTER;
    }
    if (code == 401) {
        host->set_error(ctx, "the provider refused the credentials (401)");
        return LH_AUTH;
    }
    if (code == 408 || code >= 500) {
        *maybe_applied = 1;
        host->set_error(ctx, "the provider answered %ld: the write may have been applied", code);
        if (delay >= 0) {
            host->set_retry_after(ctx, delay);
            return LH_RETRY_AFTER;
        }
        return LH_RETRY;
    }
    host->set_error(ctx, "the provider refused the write (%ld)", code);
    return LH_PERMANENT;
}

#endif /* LEADHUB_LH_RATELIMIT_H */
