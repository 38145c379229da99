/*
 * webhook.c - the generic inbound source. Internal systems POST normalized events to
 * /webhooks/{instance}: one event object, or an array of them, signed with
 *
 *   X-Leadhub-Timestamp: <unix seconds>
 *   X-Leadhub-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>">
 *
 * A request is all or nothing: one bad event refuses the whole request, nothing stored.
 * The signature is checked before the body is parsed, so unauthenticated input never
 * reaches the JSON parser.
 */
#include <stdlib.h>
#include <string.h>

#include "leadhub.h"

#define SIGNATURE_PREFIX     "sha256="
#define MAX_TIMESTAMP_DIGITS 12

static const lh_config_field_t webhook_schema[] = {
    LH_FIELD(.name = "secret", .type = LH_CONFIG_SECRET,
             .flags = LH_FIELD_REQUIRED | LH_FIELD_HAS_MIN, .min = 16,
             .description =
                 "HMAC-SHA256 key shared with the sender, at least 16 bytes. A list is "
                 "accepted while rolling secrets: a signature made with any of them passes."),
    LH_FIELD(.name = "tolerance", .type = LH_CONFIG_DURATION,
             .flags = LH_FIELD_HAS_MIN | LH_FIELD_HAS_MAX, .default_value = "5m", .min = 1000,
             .max = 86400000,
             .description = "How far X-Leadhub-Timestamp may be from the daemon's clock before a "
                            "request is refused as a possible replay."),
    LH_FIELD_END,
};

struct webhook_state {
    const lh_host_t *host;
    char **secrets; /* NUL-terminated copies */
    size_t secret_count;
    int64_t tolerance_ms;
};

static void webhook_destroy(void *state_ptr)
{
    struct webhook_state *state = state_ptr;
    if (state == NULL) {
        return;
    }
    for (size_t i = 0; i < state->secret_count; i++) {
        /* wipe before free: the secret should not linger in freed memory (explicit_bzero,
         * because a memset right before free() may be optimized away) */
        explicit_bzero(state->secrets[i], strlen(state->secrets[i]));
        free(state->secrets[i]);
    }
    free(state->secrets);
    free(state);
}

static int add_secret(struct webhook_state *state, const json_t *value)
{
    if (!json_is_string(value) || json_string_length(value) == 0) {
        return -1;
    }
    char *copy = strdup(json_string_value(value));
    if (copy == NULL) {
        return -1;
    }
    state->secrets[state->secret_count++] = copy;
    return 0;
}

/* Reads the settings into a new state (*state_out, NULL on failure), reporting what is
 * wrong with config_error(): shared by validate() and init(). */
static lh_status_t webhook_load(lh_ctx_t *ctx, const lh_host_t *host, const json_t *settings,
                                struct webhook_state **state_out)
{
    *state_out = NULL;
    struct webhook_state *state = calloc(1, sizeof(*state));
    if (state == NULL) {
        host->set_error(ctx, "out of memory");
        return LH_RETRY;
    }
    state->host = host;
    state->tolerance_ms = lh_setting_int(settings, "tolerance", 300000);
    const json_t *secret = json_object_get(settings, "secret");
    size_t count = json_is_array(secret) ? json_array_size(secret) : 1;
    state->secrets = calloc(count > 0 ? count : 1, sizeof(*state->secrets));
    if (state->secrets == NULL) {
        webhook_destroy(state);
        host->set_error(ctx, "out of memory");
        return LH_RETRY;
    }
    if (json_is_array(secret)) {
        size_t i;
        const json_t *item;
        json_array_foreach(secret, i, item)
        {
            if (add_secret(state, item) != 0) {
                webhook_destroy(state);
                host->config_error(ctx, "secret", NULL,
                                   "every secret in the list must be a non-empty string");
                return LH_CONFIG;
            }
        }
    } else if (add_secret(state, secret) != 0) {
        webhook_destroy(state);
        host->config_error(ctx, "secret", NULL, "must be a non-empty string");
        return LH_CONFIG;
    }
    if (state->secret_count == 0) {
        webhook_destroy(state);
        host->config_error(ctx, "secret", NULL, "at least one secret is required");
        return LH_CONFIG;
    }
    *state_out = state;
    return LH_OK;
}

static lh_status_t webhook_validate(lh_ctx_t *ctx, const lh_host_t *host, const json_t *settings)
{
    struct webhook_state *state = NULL;
    lh_status_t status = webhook_load(ctx, host, settings, &state);
    webhook_destroy(state);
    return status;
}

static lh_status_t webhook_init(lh_ctx_t *ctx, const lh_host_t *host, const json_t *settings,
                                void **state_out)
{
    struct webhook_state *state = NULL;
    lh_status_t status = webhook_load(ctx, host, settings, &state);
    *state_out = state;
    return status;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* "sha256=<64 hex>" -> 32 bytes; -1 when malformed. */
static int parse_signature(const char *header, unsigned char out[32])
{
    size_t prefix = strlen(SIGNATURE_PREFIX);
    if (strncmp(header, SIGNATURE_PREFIX, prefix) != 0 || strlen(header + prefix) != 64) {
        return -1;
    }
    const char *hex = header + prefix;
    for (size_t i = 0; i < 32; i++) {
        int high = hex_value(hex[2 * i]);
        int low = hex_value(hex[2 * i + 1]);
        if (high < 0 || low < 0) {
            return -1;
        }
        out[i] = (unsigned char)(high << 4 | low);
    }
    return 0;
}

/* Unix seconds, digits only; -1 when malformed. */
static int64_t parse_timestamp(const char *text)
{
    size_t len = strlen(text);
    if (len == 0 || len > MAX_TIMESTAMP_DIGITS) {
        return -1;
    }
    int64_t value = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] < '0' || text[i] > '9') {
            return -1;
        }
        value = value * 10 + (text[i] - '0');
    }
    return value;
}

/* Checks timestamp and signature; LH_OK or LH_AUTH with the reason set. */
static lh_status_t verify(struct webhook_state *state, lh_ctx_t *ctx,
                          const lh_webhook_request_t *request)
{
    const lh_host_t *host = state->host;
    const char *timestamp_text = lh_request_header(request, "X-Leadhub-Timestamp");
    const char *signature_text = lh_request_header(request, "X-Leadhub-Signature");
    if (timestamp_text == NULL || signature_text == NULL) {
        host->counter_add(ctx, "webhook_rejected_total", "reason", "missing_header", 1);
        host->set_error(ctx, "missing %s header",
                        timestamp_text == NULL ? "X-Leadhub-Timestamp" : "X-Leadhub-Signature");
        return LH_AUTH;
    }
    int64_t timestamp = parse_timestamp(timestamp_text);
    unsigned char claimed[32];
    if (timestamp < 0 || parse_signature(signature_text, claimed) != 0) {
        host->counter_add(ctx, "webhook_rejected_total", "reason", "malformed_header", 1);
        host->set_error(ctx, timestamp < 0 ? "X-Leadhub-Timestamp must be unix seconds"
                                           : "X-Leadhub-Signature must be sha256=<64 hex digits>");
        return LH_AUTH;
    }
    int64_t skew = host->now_ms(ctx) - timestamp * 1000;
    if (skew > state->tolerance_ms || -skew > state->tolerance_ms) {
        host->counter_add(ctx, "webhook_rejected_total", "reason", "stale_timestamp", 1);
        host->set_error(ctx,
                        "X-Leadhub-Timestamp is %lld s away from the server's clock "
                        "(tolerance %lld s)",
                        (long long)(skew / 1000), (long long)(state->tolerance_ms / 1000));
        return LH_AUTH;
    }
    /* The signed string is "<timestamp>.<body>", exactly as received. */
    size_t ts_len = strlen(timestamp_text);
    size_t signed_len = ts_len + 1 + request->body_len;
    unsigned char *signed_bytes = malloc(signed_len + 1);
    if (signed_bytes == NULL) {
        host->set_error(ctx, "out of memory");
        return LH_RETRY;
    }
    memcpy(signed_bytes, timestamp_text, ts_len);
    signed_bytes[ts_len] = '.';
    if (request->body_len > 0) {
        memcpy(signed_bytes + ts_len + 1, request->body, request->body_len);
    }
    int matched = 0;
    for (size_t i = 0; i < state->secret_count; i++) {
        unsigned char expected[32];
        host->hmac_sha256(state->secrets[i], strlen(state->secrets[i]), signed_bytes, signed_len,
                          expected);
        /* no early exit: every secret is tried whatever matched, in constant time */
        matched |= host->digest_equal(expected, claimed, sizeof(expected));
    }
    free(signed_bytes);
    if (!matched) {
        host->counter_add(ctx, "webhook_rejected_total", "reason", "bad_signature", 1);
        host->set_error(ctx, "X-Leadhub-Signature does not match the body");
        return LH_AUTH;
    }
    return LH_OK;
}

/*
 * An event's `source` names the instance that received it: here, this one. A sender's own
 * `source` (another leadhub's instance, forwarding through its `http` sink) is dropped
 * rather than refused, so that one leadhub can feed another.
 */
static void drop_sources(json_t *body)
{
    if (json_is_object(body)) {
        json_object_del(body, "source");
        return;
    }
    size_t i;
    json_t *event;
    json_array_foreach(body, i, event)
    {
        if (json_is_object(event)) {
            json_object_del(event, "source");
        }
    }
}

static lh_status_t webhook_receive(void *state_ptr, lh_ctx_t *ctx,
                                   const lh_webhook_request_t *request)
{
    struct webhook_state *state = state_ptr;
    const lh_host_t *host = state->host;
    lh_status_t status = verify(state, ctx, request);
    if (status != LH_OK) {
        return status;
    }
    json_error_t error;
    json_t *body =
        json_loadb((const char *)request->body, request->body_len, JSON_REJECT_DUPLICATES, &error);
    if (body == NULL) {
        host->counter_add(ctx, "webhook_rejected_total", "reason", "malformed_json", 1);
        host->set_error(ctx, "body is not valid JSON: %s (line %d, column %d)", error.text,
                        error.line, error.column);
        return LH_PERMANENT;
    }
    status = LH_OK;
    drop_sources(body);
    if (json_is_object(body)) {
        status = host->emit(ctx, json_incref(body));
    } else if (json_is_array(body) && json_array_size(body) > 0) {
        size_t i;
        json_t *event;
        json_array_foreach(body, i, event)
        {
            /* emit steals a reference; the array keeps its own */
            status = host->emit(ctx, json_incref(event));
            if (status != LH_OK) {
                break;
            }
        }
    } else {
        host->set_error(ctx, "body must be an event object or a non-empty array of them");
        status = LH_PERMANENT;
    }
    if (status != LH_OK) {
        host->counter_add(ctx, "webhook_rejected_total", "reason", "invalid_event", 1);
    }
    json_decref(body);
    return status;
}

/* What every genuine request carries: the host refuses a POST without it before reading
 * its body. */
static const char *const webhook_signature_headers[] = {"X-Leadhub-Signature", NULL};

static const lh_plugin_t webhook_plugin = {
    LH_PLUGIN_HEADER,
    .kind = LH_KIND_SOURCE,
    /* the state is read-only after init: requests may be verified in parallel */
    .flags = LH_PLUGIN_REENTRANT,
    .name = "webhook",
    .version = "1.0.0",
    .description = "Receives normalized leadhub events signed with HMAC-SHA256 from internal "
                   "systems.",
    .config_schema = webhook_schema,
    .webhook_signature_headers = webhook_signature_headers,
    .validate = webhook_validate,
    .init = webhook_init,
    .destroy = webhook_destroy,
    .webhook = webhook_receive,
};

LH_PLUGIN_DECLARE(webhook_plugin)
