/*
 * lh_test_host.c - the fake host's table: the services a callback uses (errors, events,
 * checkpoints, notifications, identities, metrics, clock, OAuth, signatures), with the
 * rules the real host applies to each, and the getters a test asserts with.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../leadhub-helpers.h"
#include "event.h"
#include "lh_test_internal.h"

static lh_test_t *test_of(lh_ctx_t *ctx)
{
    return ctx != NULL ? ctx->t : NULL;
}

static char *vformat(const char *fmt, va_list args)
{
    va_list copy;
    va_copy(copy, args);
    int len = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    if (len < 0) {
        return NULL;
    }
    char *text = malloc((size_t)len + 1);
    if (text != NULL) {
        vsnprintf(text, (size_t)len + 1, fmt, args);
    }
    return text;
}

void lh_test_note_misuse(lh_test_t *t, const char *fmt, ...)
{
    if (t == NULL || t->misuse != NULL) {
        return; /* the first one is the one to fix */
    }
    va_list args;
    va_start(args, fmt);
    t->misuse = vformat(fmt, args);
    va_end(args);
}

bool lh_test_key_valid(const char *key)
{
    size_t len = key != NULL ? strlen(key) : 0;
    if (len == 0 || len > LH_KEY_MAX) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (!lh_key_char_valid((unsigned char)key[i])) {
            return false;
        }
    }
    return true;
}

static const char *call_name(enum lh_test_call call)
{
    static const char *const names[] = {
        "outside a callback", "validate", "init", "poll", "webhook", "deliver", "score"};
    return names[call];
}

/* --- every callback ------------------------------------------------------------------- */

static void host_log(lh_ctx_t *ctx, lh_log_level_t level, const char *fmt, ...)
{
    static const char *const levels[] = {"debug", "info", "warn", "error"};
    lh_test_t *t = test_of(ctx);
    va_list args;
    va_start(args, fmt);
    char *text = vformat(fmt, args);
    va_end(args);
    if (text == NULL) {
        return;
    }
    const char *name = level <= LH_LOG_ERROR ? levels[level] : "?";
    if (getenv("LH_TEST_LOG") != NULL) {
        fprintf(stderr, "%s %s: %s\n", name, t != NULL ? t->instance : "-", text);
    }
    if (t != NULL) {
        json_array_append_new(t->logs, json_sprintf("%s %s", name, text));
    }
    free(text);
}

static const char *host_instance_name(lh_ctx_t *ctx)
{
    lh_test_t *t = test_of(ctx);
    return t != NULL ? t->instance : "";
}

static void host_set_error(lh_ctx_t *ctx, const char *fmt, ...)
{
    lh_test_t *t = test_of(ctx);
    if (t == NULL) {
        return;
    }
    va_list args;
    va_start(args, fmt);
    char *text = vformat(fmt, args);
    va_end(args);
    free(t->error);
    t->error = text;
}

static void host_set_retry_after(lh_ctx_t *ctx, int64_t delay_ms)
{
    lh_test_t *t = test_of(ctx);
    if (t != NULL) {
        t->retry_after_ms = delay_ms < 0 ? 0 : delay_ms;
    }
}

/* --- events and state ---------------------------------------------------------------------- */

static lh_status_t host_emit(lh_ctx_t *ctx, json_t *event)
{
    lh_test_t *t = test_of(ctx);
    if (t == NULL || (t->call != LH_TEST_CALL_POLL && t->call != LH_TEST_CALL_WEBHOOK)) {
        json_decref(event);
        lh_test_note_misuse(t, "emit() from %s: only poll and webhook emit",
                            t != NULL ? call_name(t->call) : "no context");
        return LH_PERMANENT;
    }
    struct event_record record;
    char *error = NULL;
    if (event_validate(event, t->instance, &record, &error) != 0) {
        t->refused++;
        free(t->error);
        t->error = error;
        return LH_PERMANENT;
    }
    json_array_append(t->staged_events, record.event);
    event_record_clear(&record);
    return LH_OK;
}

/* The value under key: staged in this call first, then committed. Borrowed. */
static json_t *checkpoint_lookup(lh_test_t *t, const char *key, bool *sealed)
{
    json_t *value = json_object_get(t->staged_checkpoints, key);
    if (value != NULL) {
        *sealed = json_is_true(json_object_get(t->staged_sealed, key));
        return value;
    }
    *sealed = json_object_get(t->sealed, key) != NULL;
    return json_object_get(t->checkpoints, key);
}

static bool state_call(lh_test_t *t, const char *what)
{
    if (t == NULL || t->call == LH_TEST_CALL_NONE || t->call == LH_TEST_CALL_VALIDATE ||
        t->call == LH_TEST_CALL_SCORE) {
        lh_test_note_misuse(t, "%s from %s: no host I/O there", what,
                            t != NULL ? call_name(t->call) : "no context");
        return false;
    }
    return true;
}

static lh_status_t host_checkpoint_get(lh_ctx_t *ctx, const char *key, json_t **value_out)
{
    lh_test_t *t = test_of(ctx);
    *value_out = NULL;
    if (!state_call(t, "checkpoint_get()")) {
        return LH_PERMANENT;
    }
    bool sealed;
    *value_out = json_incref(checkpoint_lookup(t, key, &sealed));
    return LH_OK;
}

static lh_status_t checkpoint_store(lh_ctx_t *ctx, const char *key, json_t *value, bool sealed)
{
    lh_test_t *t = test_of(ctx);
    if (t == NULL || (t->call != LH_TEST_CALL_POLL && t->call != LH_TEST_CALL_WEBHOOK &&
                      t->call != LH_TEST_CALL_DELIVER)) {
        json_decref(value);
        lh_test_note_misuse(t, "%s from %s: poll, webhook and deliver only",
                            sealed ? "checkpoint_put_secret()" : "checkpoint_put()",
                            t != NULL ? call_name(t->call) : "no context");
        return LH_PERMANENT;
    }
    if (!lh_test_key_valid(key) || value == NULL) {
        json_decref(value);
        lh_test_note_misuse(t, "checkpoint key \"%s\": up to 128 bytes of [A-Za-z0-9_.:-]",
                            key != NULL ? key : "(null)");
        host_set_error(ctx, "checkpoint_put: bad key");
        return LH_PERMANENT;
    }
    /* poll and webhook commit with their events; deliver writes at once */
    bool staged = t->call == LH_TEST_CALL_POLL || t->call == LH_TEST_CALL_WEBHOOK;
    json_t *values = staged ? t->staged_checkpoints : t->checkpoints;
    json_t *seals = staged ? t->staged_sealed : t->sealed;
    json_object_set_new(values, key, value);
    if (sealed) {
        json_object_set_new(seals, key, json_true());
    } else {
        json_object_del(seals, key);
        if (staged) {
            json_object_set_new(t->staged_sealed, key, json_false());
        }
    }
    return LH_OK;
}

static lh_status_t host_checkpoint_put(lh_ctx_t *ctx, const char *key, json_t *value)
{
    return checkpoint_store(ctx, key, value, false);
}

static lh_status_t host_checkpoint_put_secret(lh_ctx_t *ctx, const char *key, json_t *value)
{
    return checkpoint_store(ctx, key, value, true);
}

static void host_respond(lh_ctx_t *ctx, int http_status, const char *content_type, const char *body,
                         size_t body_len)
{
    lh_test_t *t = test_of(ctx);
    if (t == NULL || t->call != LH_TEST_CALL_WEBHOOK) {
        lh_test_note_misuse(t, "respond() from %s: only webhook answers",
                            t != NULL ? call_name(t->call) : "no context");
        return;
    }
    if (body_len > 64 * 1024 || http_status < 100 || http_status > 599) {
        lh_test_note_misuse(t, "respond(): status %d, %zu bytes (100-599, at most 64 KiB)",
                            http_status, body_len);
        return;
    }
    free(t->response_type);
    free(t->response_body);
    t->responded = true;
    t->response_status = http_status;
    t->response_type = strdup(content_type != NULL ? content_type : "text/plain");
    t->response_body = malloc(body_len + 1);
    if (t->response_body != NULL) {
        memcpy(t->response_body, body != NULL ? body : "", body_len);
        t->response_body[body_len] = '\0';
    }
    t->response_len = body_len;
}

/* --- metrics, clock, lifecycle ------------------------------------------------------------- */

static void metric_set(lh_ctx_t *ctx, const char *name, const char *label_value, double value,
                       bool add)
{
    lh_test_t *t = test_of(ctx);
    if (t == NULL) {
        return;
    }
    char *key = NULL;
    if (asprintf(&key, "%s\n%s", name, label_value != NULL ? label_value : "") < 0) {
        return;
    }
    double old = json_number_value(json_object_get(t->metrics, key));
    json_object_set_new(t->metrics, key, json_real(add ? old + value : value));
    free(key);
}

static void host_counter_add(lh_ctx_t *ctx, const char *name, const char *label_name,
                             const char *label_value, double delta)
{
    metric_set(ctx, name, label_name != NULL ? label_value : NULL, delta, true);
}

static void host_gauge_set(lh_ctx_t *ctx, const char *name, const char *label_name,
                           const char *label_value, double value)
{
    metric_set(ctx, name, label_name != NULL ? label_value : NULL, value, false);
}

static int64_t host_now_ms(lh_ctx_t *ctx)
{
    lh_test_t *t = test_of(ctx);
    return t != NULL ? t->now_ms : 0;
}

static int host_should_stop(lh_ctx_t *ctx)
{
    lh_test_t *t = test_of(ctx);
    if (t == NULL || t->stop_after < 0) {
        return 0;
    }
    if (t->stop_after == 0) {
        return 1;
    }
    t->stop_after--;
    return 0;
}

/* --- signatures --------------------------------------------------------------------------- */

static void host_hmac_sha256(const void *key, size_t key_len, const void *data, size_t data_len,
                             unsigned char out[32])
{
    unsigned char block[64] = {0};
    if (key_len > sizeof(block)) {
        lh_sha256(key, key_len, block);
    } else {
        memcpy(block, key, key_len);
    }
    unsigned char pad[64], inner[32];
    lh_sha256_t h;
    for (int i = 0; i < 64; i++) {
        pad[i] = block[i] ^ 0x36;
    }
    lh_sha256_init(&h);
    lh_sha256_update(&h, pad, sizeof(pad));
    lh_sha256_update(&h, data, data_len);
    lh_sha256_final(&h, inner);
    for (int i = 0; i < 64; i++) {
        pad[i] = block[i] ^ 0x5c;
    }
    lh_sha256_init(&h);
    lh_sha256_update(&h, pad, sizeof(pad));
    lh_sha256_update(&h, inner, sizeof(inner));
    lh_sha256_final(&h, out);
}

static int host_digest_equal(const void *a, const void *b, size_t len)
{
    const unsigned char *x = a, *y = b;
    unsigned char diff = 0;
    for (size_t i = 0; i < len; i++) {
        diff |= x[i] ^ y[i];
    }
    return diff == 0;
}

static size_t host_base64_encode(const void *data, size_t len, char *out)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *p = data;
    size_t used = 0;
    for (size_t i = 0; i < len; i += 3) {
        unsigned value = (unsigned)p[i] << 16;
        value |= i + 1 < len ? (unsigned)p[i + 1] << 8 : 0;
        value |= i + 2 < len ? p[i + 2] : 0;
        out[used++] = alphabet[value >> 18 & 63];
        out[used++] = alphabet[value >> 12 & 63];
        out[used++] = i + 1 < len ? alphabet[value >> 6 & 63] : '=';
        out[used++] = i + 2 < len ? alphabet[value & 63] : '=';
    }
    out[used] = '\0';
    return used;
}

/* --- sinks, OAuth, identities --------------------------------------------------------------- */

static void host_set_batch_size(lh_ctx_t *ctx, size_t max_deliveries)
{
    lh_test_t *t = test_of(ctx);
    if (t != NULL && t->call == LH_TEST_CALL_INIT) {
        t->batch_size = max_deliveries == 0 ? 100 : max_deliveries > 1000 ? 1000 : max_deliveries;
    }
}

static lh_status_t host_oauth2_token(lh_ctx_t *ctx, const lh_oauth2_t *config,
                                     const char **token_out)
{
    lh_test_t *t = test_of(ctx);
    *token_out = NULL;
    if (!state_call(t, "oauth2_token()")) {
        return LH_PERMANENT;
    }
    if (config == NULL || config->struct_size == 0) {
        lh_test_note_misuse(t, "oauth2_token(): write the config with LH_OAUTH2()");
        return LH_PERMANENT;
    }
    if (t->oauth_token == NULL) {
        host_set_error(ctx, "oauth2: no grant for this instance: run `leadhubd connect %s`",
                       t->instance);
        return t->oauth_status;
    }
    *token_out = t->oauth_token;
    return LH_OK;
}

static void host_oauth2_invalidate(lh_ctx_t *ctx)
{
    lh_test_t *t = test_of(ctx);
    if (t != NULL) {
        t->oauth_invalidations++;
    }
}

static lh_status_t host_lead_identity_put(lh_ctx_t *ctx, const lh_delivery_t *delivery,
                                          const char *external_id)
{
    lh_test_t *t = test_of(ctx);
    if (t == NULL || t->call != LH_TEST_CALL_DELIVER) {
        lh_test_note_misuse(t, "lead_identity_put() from %s: deliver only",
                            t != NULL ? call_name(t->call) : "no context");
        return LH_PERMANENT;
    }
    if (delivery == NULL || delivery->lead_id == 0 || external_id == NULL || !*external_id) {
        return LH_PERMANENT;
    }
    json_array_append_new(t->identities,
                          json_pack("[I, s]", (json_int_t)delivery->lead_id, external_id));
    return LH_OK;
}

static void host_config_error(lh_ctx_t *ctx, const char *key, const char *hint, const char *fmt,
                              ...)
{
    lh_test_t *t = test_of(ctx);
    if (t == NULL || (t->call != LH_TEST_CALL_VALIDATE && t->call != LH_TEST_CALL_INIT)) {
        lh_test_note_misuse(t, "config_error() from %s: validate and init only",
                            t != NULL ? call_name(t->call) : "no context");
        return;
    }
    va_list args;
    va_start(args, fmt);
    char *message = vformat(fmt, args);
    va_end(args);
    char *line = NULL;
    if (message != NULL &&
        asprintf(&line, "%s%s%s%s%s%s\n", t->config_errors != NULL ? t->config_errors : "",
                 key != NULL ? key : "", key != NULL ? ": " : "", message, hint ? " (" : "",
                 hint ? hint : "") >= 0) {
        if (hint != NULL) {
            size_t len = strlen(line);
            char *closed = realloc(line, len + 2);
            if (closed != NULL) {
                line = closed;
                memcpy(line + len - 1, ")\n", 3);
            }
        }
        free(t->config_errors);
        t->config_errors = line;
    }
    if (t->call == LH_TEST_CALL_INIT && message != NULL) {
        host_set_error(ctx, "%s%s%s", key != NULL ? key : "", key != NULL ? ": " : "", message);
    }
    free(message);
}

/* --- push notifications --------------------------------------------------------------------- */

static lh_status_t host_notification_put(lh_ctx_t *ctx, const char *key, json_t *value)
{
    lh_test_t *t = test_of(ctx);
    if (t == NULL || (t->call != LH_TEST_CALL_POLL && t->call != LH_TEST_CALL_WEBHOOK &&
                      t->call != LH_TEST_CALL_DELIVER)) {
        json_decref(value);
        lh_test_note_misuse(t, "notification_put() from %s: poll, webhook and deliver only",
                            t != NULL ? call_name(t->call) : "no context");
        return LH_PERMANENT;
    }
    char *text = value != NULL ? json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    size_t size = text != NULL ? strlen(text) : 0;
    free(text);
    if (!lh_test_key_valid(key) || value == NULL || size > 64 * 1024) {
        json_decref(value);
        lh_test_note_misuse(t, "notification_put(\"%s\"): bad key or value",
                            key != NULL ? key : "(null)");
        return LH_PERMANENT;
    }
    if (t->call == LH_TEST_CALL_DELIVER) {
        const json_t *pending = json_object_get(json_object_get(t->notifications, key), "value");
        if (pending == NULL || !json_equal(pending, value)) {
            lh_test_notification_add(t, key, value);
            t->poll_soon++;
        } else {
            json_decref(value);
        }
        return LH_OK;
    }
    json_object_set_new(t->staged_notifications, key, value);
    return LH_OK;
}

/* The pending notifications not yet taken in this call, oldest first: NEW array of keys. */
static json_t *pending_oldest_first(lh_test_t *t)
{
    json_t *keys = json_array();
    const char *key;
    json_t *item;
    json_object_foreach(t->notifications, key, item)
    {
        if (json_object_get(t->taken, key) != NULL) {
            continue;
        }
        json_int_t seq = json_integer_value(json_object_get(item, "seq"));
        size_t at = json_array_size(keys);
        while (at > 0 && json_integer_value(json_object_get(
                             json_object_get(t->notifications,
                                             json_string_value(json_array_get(keys, at - 1))),
                             "seq")) > seq) {
            at--;
        }
        json_array_insert_new(keys, at, json_string(key));
    }
    return keys;
}

static lh_status_t host_notifications_take(lh_ctx_t *ctx, size_t max, json_t **items_out)
{
    lh_test_t *t = test_of(ctx);
    *items_out = NULL;
    if (t == NULL || t->call != LH_TEST_CALL_POLL) {
        lh_test_note_misuse(t, "notifications_take() from %s: poll only",
                            t != NULL ? call_name(t->call) : "no context");
        return LH_PERMANENT;
    }
    max = max == 0 ? 100 : max > 1000 ? 1000 : max;
    json_t *keys = pending_oldest_first(t);
    json_t *items = json_array();
    for (size_t i = 0; i < json_array_size(keys) && json_array_size(items) < max; i++) {
        const char *key = json_string_value(json_array_get(keys, i));
        json_t *item = json_object_get(t->notifications, key);
        json_array_append_new(items, json_pack("{s:s, s:O, s:O}", "key", key, "value",
                                               json_object_get(item, "value"), "received_at",
                                               json_object_get(item, "received_at")));
        json_object_set(t->taken, key, json_object_get(item, "value"));
    }
    json_decref(keys);
    *items_out = items;
    return LH_OK;
}

static lh_status_t host_notification_keep(lh_ctx_t *ctx, const char *key)
{
    lh_test_t *t = test_of(ctx);
    if (t == NULL || t->call != LH_TEST_CALL_POLL || json_object_get(t->taken, key) == NULL) {
        return LH_PERMANENT;
    }
    json_object_set_new(t->kept, key, json_true());
    return LH_OK;
}

static lh_status_t host_poll_soon(lh_ctx_t *ctx)
{
    lh_test_t *t = test_of(ctx);
    if (!state_call(t, "poll_soon()")) {
        return LH_PERMANENT;
    }
    if (t->call == LH_TEST_CALL_POLL || t->call == LH_TEST_CALL_WEBHOOK) {
        t->staged_poll_soon++;
    } else {
        t->poll_soon++;
    }
    return LH_OK;
}

void lh_test_fill_table(lh_host_t *host)
{
    memset(host, 0, sizeof(*host));
    host->struct_size = (uint32_t)sizeof(*host);
    host->abi_major = LH_ABI_MAJOR;
    host->abi_minor = LH_ABI_MINOR;
    host->log = host_log;
    host->instance_name = host_instance_name;
    host->set_error = host_set_error;
    host->set_retry_after = host_set_retry_after;
    host->emit = host_emit;
    host->checkpoint_get = host_checkpoint_get;
    host->checkpoint_put = host_checkpoint_put;
    host->respond = host_respond;
    host->http = lh_test_http_request_fn;
    host->http_response_free = lh_test_http_response_free_fn;
    host->counter_add = host_counter_add;
    host->gauge_set = host_gauge_set;
    host->now_ms = host_now_ms;
    host->should_stop = host_should_stop;
    host->hmac_sha256 = host_hmac_sha256;
    host->digest_equal = host_digest_equal;
    host->base64_encode = host_base64_encode;
    host->set_batch_size = host_set_batch_size;
    host->oauth2_token = host_oauth2_token;
    host->oauth2_invalidate = host_oauth2_invalidate;
    host->lead_identity_put = host_lead_identity_put;
    host->config_error = host_config_error;
    host->notification_put = host_notification_put;
    host->notifications_take = host_notifications_take;
    host->notification_keep = host_notification_keep;
    host->poll_soon = host_poll_soon;
    host->checkpoint_put_secret = host_checkpoint_put_secret;
}

/* --- calls: begin and end, with the host's commit rules ------------------------------------ */

void lh_test_begin_call(lh_test_t *t, enum lh_test_call call)
{
    t->call = call;
    free(t->error);
    t->error = NULL;
    t->retry_after_ms = -1;
    t->responded = false;
    json_array_clear(t->staged_events);
    json_object_clear(t->staged_checkpoints);
    json_object_clear(t->staged_sealed);
    json_object_clear(t->staged_notifications);
    json_object_clear(t->taken);
    json_object_clear(t->kept);
    t->staged_poll_soon = 0;
}

static void commit_event(lh_test_t *t, json_t *event)
{
    char *key = NULL;
    if (asprintf(&key, "%s\n%s\n%s", json_string_value(json_object_get(event, "source")),
                 json_string_value(json_object_get(event, "type")),
                 json_string_value(json_object_get(event, "source_id"))) < 0) {
        return;
    }
    if (json_object_get(t->event_keys, key) != NULL) {
        t->duplicates++;
    } else {
        json_object_set_new(t->event_keys, key, json_true());
        json_array_append(t->events, event);
    }
    free(key);
}

void lh_test_end_call(lh_test_t *t, lh_status_t status)
{
    bool batch = t->call == LH_TEST_CALL_POLL || t->call == LH_TEST_CALL_WEBHOOK;
    if (batch && status == LH_OK) {
        size_t i;
        json_t *value;
        json_array_foreach(t->staged_events, i, value)
        {
            commit_event(t, value);
        }
        const char *key;
        json_object_foreach(t->staged_checkpoints, key, value)
        {
            json_object_set(t->checkpoints, key, value);
            if (json_is_true(json_object_get(t->staged_sealed, key))) {
                json_object_set_new(t->sealed, key, json_true());
            } else {
                json_object_del(t->sealed, key);
            }
        }
        /* taken notifications go, unless kept or replaced by a newer value meanwhile */
        json_object_foreach(t->taken, key, value)
        {
            const json_t *now = json_object_get(json_object_get(t->notifications, key), "value");
            if (json_object_get(t->kept, key) == NULL && now != NULL && json_equal(now, value)) {
                json_object_del(t->notifications, key);
            }
        }
        bool changed = false;
        json_object_foreach(t->staged_notifications, key, value)
        {
            const json_t *pending =
                json_object_get(json_object_get(t->notifications, key), "value");
            if (pending == NULL || !json_equal(pending, value)) {
                lh_test_notification_add(t, key, json_incref(value));
                changed = true;
            }
        }
        t->poll_soon += t->staged_poll_soon + (changed && t->call == LH_TEST_CALL_WEBHOOK);
    }
    json_array_clear(t->staged_events);
    json_object_clear(t->staged_checkpoints);
    json_object_clear(t->staged_notifications);
    json_object_clear(t->taken);
    json_object_clear(t->kept);
    t->call = LH_TEST_CALL_NONE;
}

/* --- getters and setters ------------------------------------------------------------------- */

const char *lh_test_error(lh_test_t *t)
{
    return t->error != NULL ? t->error : "";
}

int64_t lh_test_retry_after(lh_test_t *t)
{
    return t->retry_after_ms;
}

int lh_test_response(lh_test_t *t, int *status, const char **content_type, const char **body,
                     size_t *body_len)
{
    if (!t->responded) {
        return 0;
    }
    if (status != NULL) {
        *status = t->response_status;
    }
    if (content_type != NULL) {
        *content_type = t->response_type;
    }
    if (body != NULL) {
        *body = t->response_body;
    }
    if (body_len != NULL) {
        *body_len = t->response_len;
    }
    return 1;
}

size_t lh_test_event_count(lh_test_t *t)
{
    return json_array_size(t->events);
}

const json_t *lh_test_event(lh_test_t *t, size_t index)
{
    return json_array_get(t->events, index);
}

size_t lh_test_duplicate_count(lh_test_t *t)
{
    return t->duplicates;
}

size_t lh_test_refused_count(lh_test_t *t)
{
    return t->refused;
}

void lh_test_events_clear(lh_test_t *t)
{
    json_array_clear(t->events);
}

const json_t *lh_test_checkpoint(lh_test_t *t, const char *key)
{
    return json_object_get(t->checkpoints, key);
}

int lh_test_checkpoint_sealed(lh_test_t *t, const char *key)
{
    return json_object_get(t->sealed, key) != NULL;
}

void lh_test_checkpoint_set(lh_test_t *t, const char *key, json_t *value)
{
    json_object_set_new(t->checkpoints, key, value);
    json_object_del(t->sealed, key);
}

size_t lh_test_checkpoint_count(lh_test_t *t)
{
    return json_object_size(t->checkpoints);
}

void lh_test_notification_add(lh_test_t *t, const char *key, json_t *value)
{
    char when[LH_TIME_TEXT_SIZE];
    lh_time_format(t->now_ms, when);
    json_object_set_new(t->notifications, key,
                        json_pack("{s:o, s:s, s:I}", "value", value, "received_at", when, "seq",
                                  (json_int_t)++t->notification_seq));
}

const json_t *lh_test_notification(lh_test_t *t, const char *key)
{
    return json_object_get(json_object_get(t->notifications, key), "value");
}

size_t lh_test_notification_count(lh_test_t *t)
{
    return json_object_size(t->notifications);
}

int lh_test_poll_soon_count(lh_test_t *t)
{
    return t->poll_soon;
}

const char *lh_test_identity(lh_test_t *t, int64_t lead_id)
{
    const char *found = NULL;
    size_t i;
    json_t *pair;
    json_array_foreach(t->identities, i, pair)
    {
        if (json_integer_value(json_array_get(pair, 0)) == lead_id) {
            found = json_string_value(json_array_get(pair, 1));
        }
    }
    return found;
}

size_t lh_test_identity_count(lh_test_t *t)
{
    return json_array_size(t->identities);
}

double lh_test_counter(lh_test_t *t, const char *name, const char *label_value)
{
    char *key = NULL;
    if (asprintf(&key, "%s\n%s", name, label_value != NULL ? label_value : "") < 0) {
        return 0;
    }
    double value = json_number_value(json_object_get(t->metrics, key));
    free(key);
    return value;
}

int lh_test_logged(lh_test_t *t, const char *text)
{
    size_t i;
    json_t *line;
    json_array_foreach(t->logs, i, line)
    {
        if (strstr(json_string_value(line), text) != NULL) {
            return 1;
        }
    }
    return 0;
}

size_t lh_test_batch_size(lh_test_t *t)
{
    return t->batch_size;
}

void lh_test_clock_set(lh_test_t *t, int64_t now_ms)
{
    t->now_ms = now_ms;
}

void lh_test_clock_advance(lh_test_t *t, int64_t delta_ms)
{
    t->now_ms += delta_ms;
}

int64_t lh_test_clock(lh_test_t *t)
{
    return t->now_ms;
}

void lh_test_stop_after(lh_test_t *t, int calls)
{
    t->stop_after = calls;
}

void lh_test_oauth_token(lh_test_t *t, const char *token, lh_status_t status)
{
    free(t->oauth_token);
    t->oauth_token = token != NULL ? strdup(token) : NULL;
    t->oauth_status = token != NULL ? LH_OK : status;
}

int lh_test_oauth_invalidations(lh_test_t *t)
{
    return t->oauth_invalidations;
}

const char *lh_test_misuse(lh_test_t *t)
{
    return t->misuse;
}
