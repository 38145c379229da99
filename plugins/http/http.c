/*
 * http.c - the generic outbound sink. Each delivered event is POSTed to a URL as compact
 * JSON, signed the way the inbound `webhook` plugin verifies, so one leadhub can feed
 * another:
 *
 *   X-Leadhub-Timestamp: <unix seconds>
 *   X-Leadhub-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">
 *   Idempotency-Key:     <the delivery's key; a batch joins its keys with ",">
 *
 * With batch_size > 1 the host hands over several deliveries and they go as one JSON array
 * in one request; the one answer decides every item. The plugin never retries itself: the
 * host's dispatcher owns retries and backoff, so each call is one request (max_attempts 1).
 *
 * The state is read-only after init(), so the host may deliver to one instance from
 * several threads at once (LH_PLUGIN_REENTRANT).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* explicit_bzero, strdup (the tree's build defines it already) */
#endif

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "leadhub.h"

#define SIGNATURE_PREFIX   "sha256="
#define METRIC_RESPONSES   "http_sink_responses_total"
#define ERROR_BODY_MAX     200 /* bytes of a refusing answer's body quoted in the error */
#define REDACTED           "[redacted]"
#define DEFAULT_TIMEOUT_MS 10000
#define FIXED_HEADERS      6 /* Content-Type, timestamp, signature, key, attempt, bearer */

static const lh_config_field_t http_schema[] = {
    LH_FIELD(.name = "url", .type = LH_CONFIG_STRING, .flags = LH_FIELD_REQUIRED,
             .description = "Where events are POSTed: an http:// or https:// URL."),
    LH_FIELD(.name = "secret", .type = LH_CONFIG_SECRET,
             .flags = LH_FIELD_REQUIRED | LH_FIELD_HAS_MIN, .min = 16,
             .description =
                 "HMAC-SHA256 key that signs every request (X-Leadhub-Signature); at least "
                 "16 bytes."),
    LH_FIELD(.name = "bearer_token", .type = LH_CONFIG_SECRET,
             .description = "Sent as Authorization: Bearer <token> when set."),
    LH_FIELD(.name = "timeout", .type = LH_CONFIG_DURATION,
             .flags = LH_FIELD_HAS_MIN | LH_FIELD_HAS_MAX, .default_value = "10s", .min = 100,
             .max = 300000,
             .description = "Whole-request timeout; a request that takes longer is retried later."),
    LH_FIELD(.name = "batch_size", .type = LH_CONFIG_INT,
             .flags = LH_FIELD_HAS_MIN | LH_FIELD_HAS_MAX, .default_value = "1", .min = 1,
             .max = 1000,
             .description =
                 "Events per request: 1 sends one event object, more sends a JSON array."),
    LH_FIELD(.name = "headers", .type = LH_CONFIG_JSON,
             .description = "An object of extra header names and string values sent with every "
                            "request (not for secrets: use bearer_token)."),
    LH_FIELD_END,
};

/* Headers the plugin sets itself or that frame the request: configuring them would
 * break the signature, the idempotency contract or the message framing. */
static const char *const owned_headers[] = {
    "Authorization", "Content-Type", "Idempotency-Key", "Content-Length", "Transfer-Encoding", NULL,
};
#define OWNED_PREFIX "X-Leadhub-"

struct http_sink {
    const lh_host_t *host;
    char *url;
    char *secret;
    char *authorization;  /* "Bearer <token>", or NULL */
    const char *token;    /* the token inside authorization, for redaction; or NULL */
    lh_header_t *headers; /* configured headers; names and values owned */
    size_t header_count;
    int64_t timeout_ms;
    size_t batch_size;
};

/* A growable byte buffer; `failed` sticks after the first allocation failure. */
struct text {
    char *data;
    size_t len;
    size_t capacity;
    bool failed;
};

static void text_append(struct text *text, const char *bytes, size_t len)
{
    if (text->failed) {
        return;
    }
    if (text->len + len + 1 > text->capacity) {
        size_t capacity = text->capacity > 0 ? text->capacity : 256;
        while (capacity < text->len + len + 1) {
            capacity *= 2;
        }
        char *grown = realloc(text->data, capacity);
        if (grown == NULL) {
            text->failed = true;
            return;
        }
        text->data = grown;
        text->capacity = capacity;
    }
    memcpy(text->data + text->len, bytes, len);
    text->len += len;
    text->data[text->len] = '\0';
}

/* Overwrites a secret before freeing it: it should not linger in freed memory.
 * explicit_bzero, because a memset right before free() may be optimized away. */
static void free_secret(char *secret)
{
    if (secret != NULL) {
        explicit_bzero(secret, strlen(secret));
        free(secret);
    }
}

static void http_destroy(void *state_ptr)
{
    struct http_sink *sink = state_ptr;
    if (sink == NULL) {
        return;
    }
    free(sink->url);
    free_secret(sink->secret);
    free_secret(sink->authorization);
    for (size_t i = 0; i < sink->header_count; i++) {
        free((char *)sink->headers[i].name);
        free((char *)sink->headers[i].value);
    }
    free(sink->headers);
    free(sink);
}

/* RFC 9110 token characters: what a header name may be made of. */
static bool header_name_valid(const char *name)
{
    if (name[0] == '\0') {
        return false;
    }
    for (const char *p = name; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && strchr("!#$%&'*+-.^_`|~", c) == NULL) {
            return false;
        }
    }
    return true;
}

/* No CR, LF or other control characters (tab aside): nothing that could end the header
 * line and smuggle another one in. */
static bool header_value_valid(const char *value, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)value[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            return false;
        }
    }
    return true;
}

static bool header_owned(const char *name)
{
    for (size_t i = 0; owned_headers[i] != NULL; i++) {
        if (strcasecmp(name, owned_headers[i]) == 0) {
            return true;
        }
    }
    return strncasecmp(name, OWNED_PREFIX, strlen(OWNED_PREFIX)) == 0;
}

/* The URL is never quoted back: its query string may carry a token. */
static lh_status_t init_url(struct http_sink *sink, lh_ctx_t *ctx, const json_t *settings)
{
    const lh_host_t *host = sink->host;
    const char *url = lh_setting_string(settings, "url", "");
    /* the same test host->http() applies, so a URL that passes here is never refused
     * at delivery time */
    size_t scheme = strncmp(url, "https://", 8) == 0 ? 8 : strncmp(url, "http://", 7) == 0 ? 7 : 0;
    if (scheme == 0) {
        host->config_error(ctx, "url", NULL, "must start with http:// or https://");
        return LH_CONFIG;
    }
    if (!header_value_valid(url, strlen(url)) || strchr(url, ' ') != NULL ||
        strchr(url, '\t') != NULL) {
        host->config_error(ctx, "url", NULL, "must not contain spaces or control characters");
        return LH_CONFIG;
    }
    size_t authority = strcspn(url + scheme, "/?#");
    if (authority == 0) {
        host->config_error(ctx, "url", NULL, "names no host after the scheme");
        return LH_CONFIG;
    }
    /* user:password@ would be logged with the URL; credentials belong in secrets */
    if (memchr(url + scheme, '@', authority) != NULL) {
        host->config_error(ctx, "url", NULL,
                           "must not carry credentials (user:password@host); "
                           "use bearer_token");
        return LH_CONFIG;
    }
    sink->url = strdup(url);
    if (sink->url == NULL) {
        host->set_error(ctx, "out of memory");
        return LH_RETRY;
    }
    return LH_OK;
}

/*
 * A copy of the secret field `key`, or NULL when absent. Secrets are never quoted in a
 * reason, not even in part.
 */
static lh_status_t init_secret(const struct http_sink *sink, lh_ctx_t *ctx, const json_t *settings,
                               const char *key, char **out)
{
    const lh_host_t *host = sink->host;
    const json_t *value = json_object_get(settings, key);
    *out = NULL;
    if (value == NULL) {
        return LH_OK;
    }
    if (json_is_array(value)) {
        /* one key signs; rolling happens on the receiver, which accepts old and new */
        host->config_error(ctx, key, NULL,
                           "give one value: the sink sends a single one (a receiver rolling "
                           "secrets accepts the old and the new while you switch)");
        return LH_CONFIG;
    }
    if (!json_is_string(value) || json_string_length(value) == 0) {
        host->config_error(ctx, key, NULL, "must be a non-empty string");
        return LH_CONFIG;
    }
    const char *text = json_string_value(value);
    if (strlen(text) != json_string_length(value) ||
        !header_value_valid(text, json_string_length(value))) {
        host->config_error(ctx, key, NULL,
                           "must not contain CR, LF, NUL or other control characters");
        return LH_CONFIG;
    }
    *out = strdup(text);
    if (*out == NULL) {
        host->set_error(ctx, "out of memory");
        return LH_RETRY;
    }
    return LH_OK;
}

static lh_status_t init_credentials(struct http_sink *sink, lh_ctx_t *ctx, const json_t *settings)
{
    const lh_host_t *host = sink->host;
    lh_status_t status = init_secret(sink, ctx, settings, "secret", &sink->secret);
    if (status != LH_OK) {
        return status;
    }
    if (sink->secret == NULL) {
        host->config_error(ctx, "secret", NULL, "required");
        return LH_CONFIG;
    }
    char *token = NULL;
    status = init_secret(sink, ctx, settings, "bearer_token", &token);
    if (status != LH_OK || token == NULL) {
        return status;
    }
    static const char scheme[] = "Bearer ";
    size_t token_len = strlen(token);
    sink->authorization = malloc(sizeof(scheme) + token_len);
    if (sink->authorization == NULL) {
        free_secret(token);
        host->set_error(ctx, "out of memory");
        return LH_RETRY;
    }
    memcpy(sink->authorization, scheme, sizeof(scheme) - 1);
    memcpy(sink->authorization + sizeof(scheme) - 1, token, token_len + 1);
    sink->token = sink->authorization + sizeof(scheme) - 1;
    free_secret(token);
    return LH_OK;
}

/* Checks one configured header; LH_OK or LH_CONFIG with the reason set. */
static lh_status_t check_header(const struct http_sink *sink, lh_ctx_t *ctx, const char *name,
                                const json_t *value)
{
    const lh_host_t *host = sink->host;
    if (!header_name_valid(name)) {
        host->config_error(ctx, "headers", NULL,
                           "\"%s\" is not a valid header name (letters, digits and "
                           "!#$%%&'*+-.^_`|~ only)",
                           name);
        return LH_CONFIG;
    }
    if (strcasecmp(name, "Authorization") == 0) {
        host->config_error(ctx, "headers", NULL, "\"%s\" is set by the plugin; use bearer_token",
                           name);
        return LH_CONFIG;
    }
    if (header_owned(name)) {
        host->config_error(ctx, "headers", NULL,
                           "\"%s\" is set by the plugin and cannot be configured", name);
        return LH_CONFIG;
    }
    for (size_t i = 0; i < sink->header_count; i++) {
        if (strcasecmp(sink->headers[i].name, name) == 0) {
            host->config_error(ctx, "headers", NULL, "\"%s\" is given twice (names ignore case)",
                               name);
            return LH_CONFIG;
        }
    }
    if (!json_is_string(value)) {
        host->config_error(ctx, "headers", NULL,
                           "the value of \"%s\" must be a string (quote numbers)", name);
        return LH_CONFIG;
    }
    const char *text = json_string_value(value);
    if (strlen(text) != json_string_length(value) ||
        !header_value_valid(text, json_string_length(value))) {
        host->config_error(ctx, "headers", NULL,
                           "the value of \"%s\" must not contain CR, LF (a newline) or "
                           "other control characters",
                           name);
        return LH_CONFIG;
    }
    return LH_OK;
}

static lh_status_t init_headers(struct http_sink *sink, lh_ctx_t *ctx, const json_t *settings)
{
    const lh_host_t *host = sink->host;
    const json_t *headers = json_object_get(settings, "headers");
    if (headers == NULL || json_is_null(headers)) {
        return LH_OK;
    }
    if (!json_is_object(headers)) {
        host->config_error(ctx, "headers", NULL,
                           "must be an object of header names to string values");
        return LH_CONFIG;
    }
    if (json_object_size(headers) == 0) {
        return LH_OK;
    }
    sink->headers = calloc(json_object_size(headers), sizeof(*sink->headers));
    if (sink->headers == NULL) {
        host->set_error(ctx, "out of memory");
        return LH_RETRY;
    }
    const char *name;
    const json_t *value;
    lh_status_t status = LH_OK;
    json_object_foreach((json_t *)headers, name, value)
    {
        if (check_header(sink, ctx, name, value) != LH_OK) {
            status = LH_CONFIG; /* every header is checked: each problem is reported */
            continue;
        }
        char *name_copy = strdup(name);
        char *value_copy = strdup(json_string_value(value));
        if (name_copy == NULL || value_copy == NULL) {
            free(name_copy);
            free(value_copy);
            host->set_error(ctx, "out of memory");
            return LH_RETRY;
        }
        sink->headers[sink->header_count++] = (lh_header_t){name_copy, value_copy};
    }
    return status;
}

/*
 * Reads the settings into a new sink (*sink_out, NULL on failure), reporting every problem
 * with config_error(): shared by validate() and init(), so that what check-config accepts
 * init() accepts too.
 */
static lh_status_t http_load(lh_ctx_t *ctx, const lh_host_t *host, const json_t *settings,
                             struct http_sink **sink_out)
{
    *sink_out = NULL;
    struct http_sink *sink = calloc(1, sizeof(*sink));
    if (sink == NULL) {
        host->set_error(ctx, "out of memory");
        return LH_RETRY;
    }
    sink->host = host;
    sink->timeout_ms = lh_setting_int(settings, "timeout", DEFAULT_TIMEOUT_MS);
    sink->batch_size = (size_t)lh_setting_int(settings, "batch_size", 1);
    /* every part is read, so that each problem is reported at once */
    lh_status_t statuses[3];
    statuses[0] = init_url(sink, ctx, settings);
    statuses[1] = init_credentials(sink, ctx, settings);
    statuses[2] = init_headers(sink, ctx, settings);
    for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
        if (statuses[i] != LH_OK) {
            http_destroy(sink);
            return statuses[i] == LH_RETRY ? LH_RETRY : LH_CONFIG;
        }
    }
    *sink_out = sink;
    return LH_OK;
}

static lh_status_t http_validate(lh_ctx_t *ctx, const lh_host_t *host, const json_t *settings)
{
    struct http_sink *sink = NULL;
    lh_status_t status = http_load(ctx, host, settings, &sink);
    http_destroy(sink);
    return status;
}

static lh_status_t http_init(lh_ctx_t *ctx, const lh_host_t *host, const json_t *settings,
                             void **state_out)
{
    struct http_sink *sink = NULL;
    lh_status_t status = http_load(ctx, host, settings, &sink);
    if (status != LH_OK) {
        return status;
    }
    host->set_batch_size(ctx, sink->batch_size);
    *state_out = sink;
    return LH_OK;
}

/* Length of a secret that starts at `bytes`, or 0. */
static size_t secret_at(const struct http_sink *sink, const char *bytes, size_t len)
{
    const char *secrets[] = {sink->secret, sink->token};
    for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++) {
        size_t secret_len = secrets[i] != NULL ? strlen(secrets[i]) : 0;
        if (secret_len > 0 && secret_len <= len && memcmp(bytes, secrets[i], secret_len) == 0) {
            return secret_len;
        }
    }
    return 0;
}

/*
 * At most ERROR_BODY_MAX bytes of a response body, fit for an error message: control
 * characters become spaces, a secret the receiver echoed back (a 401 quoting the token)
 * becomes [redacted], and a cut never splits a UTF-8 sequence.
 *   out: ERROR_BODY_MAX + 4 bytes.
 */
static void body_excerpt(const struct http_sink *sink, const char *body, size_t len, char *out)
{
    size_t used = 0;
    size_t i = 0;
    while (i < len) {
        size_t skip = secret_at(sink, body + i, len - i);
        if (skip > 0) {
            if (used + strlen(REDACTED) > ERROR_BODY_MAX) {
                break;
            }
            memcpy(out + used, REDACTED, strlen(REDACTED));
            used += strlen(REDACTED);
            i += skip;
            continue;
        }
        if (used == ERROR_BODY_MAX) {
            break;
        }
        unsigned char c = (unsigned char)body[i++];
        out[used++] = (char)(c < 0x20 || c == 0x7f ? ' ' : c);
    }
    if (i < len) {
        if (((unsigned char)body[i] & 0xc0) == 0x80) {
            /* cut inside a sequence: drop its continuation bytes and its lead byte */
            while (used > 0 && ((unsigned char)out[used - 1] & 0xc0) == 0x80) {
                used--;
            }
            if (used > 0 && (unsigned char)out[used - 1] >= 0xc0) {
                used--;
            }
        }
        memcpy(out + used, "...", 3);
        used += 3;
    }
    out[used] = '\0';
}

/* "2xx" and so on: the label of the response counter. */
static const char *status_class(long status)
{
    static const char *const classes[] = {"1xx", "2xx", "3xx", "4xx", "5xx"};
    return status >= 100 && status < 600 ? classes[status / 100 - 1] : "other";
}

/*
 * What an answer means for the deliveries it covers. Unlike lh_http_classify(), 401 is
 * PERMANENT: the token is static, there is nothing to refresh.
 */
static lh_status_t answer_status(const struct http_sink *sink, lh_ctx_t *ctx,
                                 const lh_http_response_t *response)
{
    const lh_host_t *host = sink->host;
    long code = response->status;
    if (code >= 200 && code < 300) {
        return LH_OK;
    }
    char excerpt[ERROR_BODY_MAX + 4];
    if (response->body_len > 0) {
        body_excerpt(sink, response->body, response->body_len, excerpt);
    } else {
        snprintf(excerpt, sizeof(excerpt), "(empty body)");
    }
    host->set_error(ctx, "HTTP %ld: %s", code, excerpt);
    if (code == 408 || code == 425 || code == 429 || (code >= 500 && code < 600)) {
        if (response->retry_after_ms >= 0) {
            host->set_retry_after(ctx, response->retry_after_ms);
            return LH_RETRY_AFTER;
        }
        return LH_RETRY;
    }
    return LH_PERMANENT;
}

/* signature: "sha256=" + 64 hex digits + NUL, over "<timestamp>.<body>". */
static lh_status_t sign(const struct http_sink *sink, lh_ctx_t *ctx, const char *timestamp,
                        const char *body, size_t body_len, char *signature)
{
    size_t timestamp_len = strlen(timestamp);
    size_t signed_len = timestamp_len + 1 + body_len;
    char *signed_bytes = malloc(signed_len);
    if (signed_bytes == NULL) {
        sink->host->set_error(ctx, "out of memory");
        return LH_RETRY;
    }
    memcpy(signed_bytes, timestamp, timestamp_len);
    signed_bytes[timestamp_len] = '.';
    memcpy(signed_bytes + timestamp_len + 1, body, body_len);
    unsigned char digest[32];
    sink->host->hmac_sha256(sink->secret, strlen(sink->secret), signed_bytes, signed_len, digest);
    free(signed_bytes);
    memcpy(signature, SIGNATURE_PREFIX, strlen(SIGNATURE_PREFIX));
    lh_hex_encode(digest, sizeof(digest), signature + strlen(SIGNATURE_PREFIX));
    return LH_OK;
}

/*
 * One signed POST of `body` and what its answer means (see answer_status). A transport
 * failure keeps the host's reason and status.
 *   body, idempotency_key, attempt: borrowed.
 */
static lh_status_t post(const struct http_sink *sink, lh_ctx_t *ctx, const char *body,
                        size_t body_len, const char *idempotency_key, const char *attempt)
{
    const lh_host_t *host = sink->host;
    if (!header_value_valid(idempotency_key, strlen(idempotency_key))) {
        host->set_error(ctx, "the idempotency key holds control characters: not sent");
        return LH_PERMANENT;
    }
    char timestamp[24];
    snprintf(timestamp, sizeof(timestamp), "%lld", (long long)(host->now_ms(ctx) / 1000));
    char signature[sizeof(SIGNATURE_PREFIX) + 64];
    lh_status_t status = sign(sink, ctx, timestamp, body, body_len, signature);
    if (status != LH_OK) {
        return status;
    }
    lh_http_response_t response = LH_HTTP_RESPONSE_INIT;
    lh_header_t *headers = malloc((FIXED_HEADERS + sink->header_count) * sizeof(*headers));
    if (headers == NULL) {
        host->set_error(ctx, "out of memory");
        return LH_RETRY;
    }
    size_t count = 0;
    headers[count++] = (lh_header_t){"Content-Type", "application/json"};
    headers[count++] = (lh_header_t){"X-Leadhub-Timestamp", timestamp};
    headers[count++] = (lh_header_t){"X-Leadhub-Signature", signature};
    if (idempotency_key[0] != '\0') {
        headers[count++] = (lh_header_t){"Idempotency-Key", idempotency_key};
    }
    headers[count++] = (lh_header_t){"X-Leadhub-Delivery-Attempt", attempt};
    if (sink->authorization != NULL) {
        headers[count++] = (lh_header_t){"Authorization", sink->authorization};
    }
    for (size_t i = 0; i < sink->header_count; i++) {
        headers[count++] = sink->headers[i];
    }
    lh_http_request_t request =
        LH_HTTP_REQUEST(.method = "POST", .url = sink->url, .headers = headers,
                        .header_count = count, .body = body, .body_len = body_len,
                        .timeout_ms = sink->timeout_ms,
                        .max_attempts = 1, /* the dispatcher owns retries */
        );
    status = host->http(ctx, &request, &response);
    if (status != LH_OK) {
        host->counter_add(ctx, METRIC_RESPONSES, "class", "transport", 1);
        goto out;
    }
    host->counter_add(ctx, METRIC_RESPONSES, "class", status_class(response.status), 1);
    status = answer_status(sink, ctx, &response);
out:
    host->http_response_free(&response);
    free(headers);
    return status;
}

/* The event as compact JSON; *body_out is malloc'd (free it). */
static lh_status_t dump_event(const struct http_sink *sink, lh_ctx_t *ctx,
                              const lh_delivery_t *delivery, char **body_out)
{
    *body_out = NULL;
    if (!json_is_object(delivery->event)) {
        sink->host->set_error(ctx, "delivery %lld carries no event object",
                              (long long)delivery->id);
        return LH_PERMANENT;
    }
    *body_out = json_dumps(delivery->event, JSON_COMPACT);
    if (*body_out == NULL) {
        sink->host->set_error(ctx, "out of memory");
        return LH_RETRY;
    }
    return LH_OK;
}

static lh_status_t http_deliver(void *state_ptr, lh_ctx_t *ctx, const lh_delivery_t *delivery)
{
    const struct http_sink *sink = state_ptr;
    char *body = NULL;
    lh_status_t status = dump_event(sink, ctx, delivery, &body);
    if (status != LH_OK) {
        return status;
    }
    char attempt[16];
    snprintf(attempt, sizeof(attempt), "%d", delivery->attempt);
    const char *key = delivery->idempotency_key != NULL ? delivery->idempotency_key : "";
    status = post(sink, ctx, body, strlen(body), key, attempt);
    free(body);
    return status;
}

/*
 * Several deliveries in one request: the body is a JSON array of their events,
 * Idempotency-Key and X-Leadhub-Delivery-Attempt list their keys and attempts joined
 * with "," in body order. The one answer sets every result. The array is written from
 * each event's own dump rather than built as a json_t array, which would take references
 * to events the host only lends.
 *   messages: set only for a delivery left out for carrying no event; the call's error
 *             is the reason for the rest.
 */
static lh_status_t http_deliver_batch(void *state_ptr, lh_ctx_t *ctx,
                                      const lh_delivery_t *const *deliveries, size_t count,
                                      lh_status_t *results, char **messages)
{
    const struct http_sink *sink = state_ptr;
    if (count == 0) {
        return LH_OK;
    }
    /* batch_size 1 means "one event object per request" even when handed a batch */
    if (count == 1 && sink->batch_size == 1) {
        results[0] = http_deliver(state_ptr, ctx, deliveries[0]);
        return results[0];
    }
    struct text body = {0}, keys = {0}, attempts = {0};
    size_t included = 0;
    lh_status_t status = LH_OK;
    text_append(&body, "[", 1);
    for (size_t i = 0; i < count; i++) {
        char *event = NULL;
        status = dump_event(sink, ctx, deliveries[i], &event);
        if (status == LH_RETRY) {
            goto out; /* out of memory: the whole batch waits */
        }
        if (status != LH_OK) {
            results[i] = status;
            messages[i] = strdup("delivery carries no event object");
            continue;
        }
        const char *key = deliveries[i]->idempotency_key;
        char attempt[16];
        snprintf(attempt, sizeof(attempt), "%s%d", included > 0 ? "," : "", deliveries[i]->attempt);
        if (included > 0) {
            text_append(&body, ",", 1);
            text_append(&keys, ",", 1);
        }
        text_append(&body, event, strlen(event));
        text_append(&keys, key != NULL ? key : "", key != NULL ? strlen(key) : 0);
        text_append(&attempts, attempt, strlen(attempt));
        free(event);
        included++;
    }
    text_append(&body, "]", 1);
    text_append(&keys, "", 0); /* a NUL even when every key is empty */
    if (included == 0) {
        status = LH_PERMANENT; /* the reason is already set */
        goto out;
    }
    if (body.failed || keys.failed || attempts.failed) {
        sink->host->set_error(ctx, "out of memory");
        status = LH_RETRY;
        goto out;
    }
    status = post(sink, ctx, body.data, body.len, keys.data, attempts.data);
    for (size_t i = 0; i < count; i++) {
        if (json_is_object(deliveries[i]->event)) {
            results[i] = status;
        }
    }
out:
    free(body.data);
    free(keys.data);
    free(attempts.data);
    return status;
}

static const lh_plugin_t http_plugin = {
    LH_PLUGIN_HEADER,
    .kind = LH_KIND_SINK,
    /* the state is read-only after init: deliveries may run in parallel */
    .flags = LH_PLUGIN_REENTRANT,
    .name = "http",
    .version = "1.0.0",
    .description = "POSTs delivered events to a URL as JSON, signed with HMAC-SHA256.",
    .config_schema = http_schema,
    .validate = http_validate,
    .init = http_init,
    .destroy = http_destroy,
    .deliver = http_deliver,
    .deliver_batch = http_deliver_batch,
};

LH_PLUGIN_DECLARE(http_plugin)
