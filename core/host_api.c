/*
 * host_api.c - the lh_host_t function table every plugin receives at init(). Each
 * function checks what the plugin hands it: a plugin's mistake becomes a status and a
 * reason, never a crash of the host.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "event.h"
#include "host_http.h"
#include "host_jwt.h"
#include "instance.h"
#include "log.h"
#include "poller.h"
#include "seal.h"
#include "sealed_state.h"
#include "util.h"

/* The most a plugin may ask the host to wait before retrying. */
#define HOST_RETRY_AFTER_MAX_MS (60LL * 60 * 1000)
#define HOST_POLL_HOLD_MAX_MS   (25LL * 60 * 60 * 1000) /* a daily limit, and some margin */
#define HOST_CHECKPOINT_KEY_MAX 128
#define HOST_NOTIFICATION_MAX   (64 * 1024) /* bytes of a notification's value as JSON */
#define HOST_NOTIFICATIONS_TAKE 100         /* notifications_take(ctx, 0, ...) */
#define HOST_RESPONSE_MAX       (64 * 1024) /* bytes of a respond() body */
#define HOST_CONFIG_KEY_MAX     200         /* bytes of a config_error() key shown */

/* A context of a running instance: every service but config_error() and log() needs one
 * (an offline validate() has none). */
static bool live(const struct lh_ctx *ctx)
{
    return ctx != NULL && ctx->instance != NULL && !ctx->validating;
}

static const char *plugin_name(const struct lh_ctx *ctx)
{
    return ctx != NULL && ctx->instance != NULL ? ctx->instance->plugin->name : NULL;
}

static const char *instance_name_of(const struct lh_ctx *ctx)
{
    return ctx != NULL && ctx->instance != NULL ? ctx->instance->name : NULL;
}

static void host_log(lh_ctx_t *ctx, lh_log_level_t level, const char *fmt, ...)
{
    static const enum log_level levels[] = {LOG_LEVEL_DEBUG, LOG_LEVEL_INFO, LOG_LEVEL_WARN,
                                            LOG_LEVEL_ERROR};
    enum log_level mapped =
        (unsigned)level < UTIL_ARRAY_LEN(levels) ? levels[level] : LOG_LEVEL_ERROR;
    va_list args;
    va_start(args, fmt);
    log_writev(mapped, plugin_name(ctx), instance_name_of(ctx), NULL, fmt, args);
    va_end(args);
}

static const char *host_instance_name(lh_ctx_t *ctx)
{
    if (ctx != NULL && ctx->instance == NULL && ctx->report != NULL) {
        return ctx->report->name != NULL ? ctx->report->name : ""; /* offline validate() */
    }
    const char *name = instance_name_of(ctx);
    return name != NULL ? name : "";
}

static void set_error_v(struct lh_ctx *ctx, const char *fmt, va_list args)
{
    struct strbuf sb = {0};
    strbuf_appendv(&sb, fmt, args);
    char *text = strbuf_take(&sb);
    if (text != NULL) {
        util_utf8_sanitize(text);
        free(ctx->error);
        ctx->error = text;
    }
}

static void host_set_error(lh_ctx_t *ctx, const char *fmt, ...)
{
    if (ctx == NULL) {
        return;
    }
    va_list args;
    va_start(args, fmt);
    set_error_v(ctx, fmt, args);
    va_end(args);
}

/* For the host's own reasons (same as set_error, but callable with a constant). */
static void ctx_fail(struct lh_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void ctx_fail(struct lh_ctx *ctx, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    set_error_v(ctx, fmt, args);
    va_end(args);
}

static void host_set_retry_after(lh_ctx_t *ctx, int64_t delay_ms)
{
    if (ctx == NULL) {
        return;
    }
    if (delay_ms < 0) {
        delay_ms = 0;
    }
    /* A poll may be held for a provider's day (LinkedIn's limits reset at midnight UTC);
     * anything else waits an hour at most. */
    int64_t max = ctx->in_poll ? HOST_POLL_HOLD_MAX_MS : HOST_RETRY_AFTER_MAX_MS;
    ctx->retry_after_ms = delay_ms > max ? max : delay_ms;
}

static lh_status_t host_emit(lh_ctx_t *ctx, json_t *event)
{
    if (!live(ctx) || ctx->batch == NULL) {
        json_decref(event);
        if (ctx != NULL) {
            ctx_fail(ctx, "emit is only allowed during poll and webhook callbacks");
        }
        return LH_PERMANENT;
    }
    struct event_record record;
    char *error = NULL;
    /* the type, for the rejection metric, before the event is handed over */
    const char *type_label = event_type_label(json_string_value(json_object_get(event, "type")));
    char type_copy[EVENT_TYPE_MAX + 1];
    snprintf(type_copy, sizeof(type_copy), "%s", type_label);

    if (event_validate(event, ctx->instance->name, &record, &error) != 0) {
        ctx->rejected++;
        metrics_counter_add(ctx->instance->services->metrics, "leadhub_events_rejected_total",
                            "Events refused at the plugin boundary as malformed.", 1, "instance",
                            ctx->instance->name, "type", type_copy, METRICS_END);
        ctx_fail(ctx, "event %u: %s", ctx->emitted + ctx->rejected, error ? error : "invalid");
        free(error);
        return LH_PERMANENT;
    }
    if (ingest_batch_add_event(ctx->batch, &record) != 0) {
        event_record_clear(&record);
        ctx_fail(ctx, "out of memory");
        return LH_RETRY;
    }
    ctx->emitted++;
    return LH_OK;
}

static bool checkpoint_key_valid(const char *key)
{
    size_t len = key != NULL ? strlen(key) : 0;
    if (len == 0 || len > HOST_CHECKPOINT_KEY_MAX) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)key[i];
        if (!(isalnum(c) || c == '_' || c == '.' || c == ':' || c == '-')) {
            return false;
        }
    }
    return true;
}

static lh_status_t host_checkpoint_get(lh_ctx_t *ctx, const char *key, json_t **value_out)
{
    if (value_out == NULL) {
        return LH_PERMANENT;
    }
    *value_out = NULL;
    if (!live(ctx) || !checkpoint_key_valid(key)) {
        if (ctx != NULL) {
            ctx_fail(ctx, "checkpoint key must be 1-%d characters of [A-Za-z0-9_.:-]",
                     HOST_CHECKPOINT_KEY_MAX);
        }
        return LH_PERMANENT;
    }
    struct host_services *services = ctx->instance->services;
    lh_status_t status = LH_RETRY;
    char *error = NULL;
    json_t *pending = ctx->batch != NULL ? ingest_batch_find_checkpoint(ctx->batch, key) : NULL;
    if (pending != NULL && !seal_is_sealed(pending)) {
        *value_out = json_incref(pending);
        return LH_OK;
    }
    if (pending != NULL) {
        struct seal_place place = sealed_state_place(ctx->instance->name, key);
        *value_out = seal_open(services->keyring, &place, pending, NULL, &error);
        status = *value_out != NULL ? LH_OK : LH_CONFIG;
    } else {
        struct store *store = services_store_lock(services, &error);
        if (store != NULL) {
            /* sealed values open here (and are sealed again when their key is old) */
            enum store_result rc = sealed_state_get(store, services->keyring, ctx->instance->name,
                                                    key, false, value_out, &error);
            /* rejected: a sealed value without its key, which only the operator can give */
            status = rc == STORE_OK ? LH_OK : rc == STORE_REJECTED ? LH_CONFIG : LH_RETRY;
            services_store_unlock(services);
        }
    }
    if (status != LH_OK) {
        ctx_fail(ctx, "checkpoint %s could not be read: %s", key, error ? error : "?");
    }
    free(error);
    return status;
}

/* A deliver() checkpoint: there is no batch to commit with, so it is written at once. */
static lh_status_t checkpoint_write_through(struct lh_ctx *ctx, const char *key, json_t *value)
{
    struct host_services *services = ctx->instance->services;
    char *error = NULL;
    lh_status_t status = LH_RETRY;
    struct store *store = services_store_lock(services, &error);
    if (store != NULL) {
        status = store_checkpoint_put(store, ctx->instance->name, key, value, &error) == STORE_OK
                     ? LH_OK
                     : LH_RETRY;
        services_store_unlock(services);
    }
    json_decref(value);
    if (status != LH_OK) {
        ctx_fail(ctx, "checkpoint %s could not be written: %s", key, error ? error : "?");
    }
    free(error);
    return status;
}

static lh_status_t host_checkpoint_put(lh_ctx_t *ctx, const char *key, json_t *value)
{
    bool allowed = live(ctx) && (ctx->batch != NULL || ctx->in_delivery);
    if (!allowed || value == NULL || !checkpoint_key_valid(key)) {
        json_decref(value);
        if (ctx != NULL) {
            ctx_fail(ctx, !allowed ? "checkpoint_put is only allowed during poll, webhook and "
                                     "deliver callbacks"
                                   : "checkpoint_put needs a value and a key of [A-Za-z0-9_.:-]");
        }
        return LH_PERMANENT;
    }
    if (ctx->batch == NULL) {
        return checkpoint_write_through(ctx, key, value);
    }
    if (ingest_batch_put_checkpoint(ctx->batch, ctx->instance->name, key, value) != 0) {
        ctx_fail(ctx, "out of memory");
        return LH_RETRY;
    }
    return LH_OK;
}

static lh_status_t host_checkpoint_put_secret(lh_ctx_t *ctx, const char *key, json_t *value)
{
    if (!live(ctx) || value == NULL || !checkpoint_key_valid(key)) {
        return host_checkpoint_put(ctx, key, value); /* refuses it, saying why */
    }
    struct seal_place place = sealed_state_place(ctx->instance->name, key);
    char *error = NULL;
    json_t *sealed = seal_value(ctx->instance->services->keyring, &place, value, &error);
    json_decref(value);
    if (sealed == NULL) {
        ctx_fail(ctx, "checkpoint %s is a secret and cannot be stored: %s", key,
                 error != NULL ? error : "out of memory");
        free(error);
        return LH_CONFIG;
    }
    return host_checkpoint_put(ctx, key, sealed);
}

static lh_status_t host_lead_identity_put(lh_ctx_t *ctx, const lh_delivery_t *delivery,
                                          const char *external_id)
{
    if (!live(ctx) || !ctx->in_delivery || delivery == NULL || external_id == NULL ||
        external_id[0] == '\0' || strlen(external_id) > EVENT_FIELD_MAX) {
        if (ctx != NULL) {
            ctx_fail(ctx, "lead_identity_put needs a delivery and an external id, in deliver()");
        }
        return LH_PERMANENT;
    }
    if (delivery->lead_id <= 0) {
        ctx_fail(ctx, "delivery %lld is about no lead", (long long)delivery->id);
        return LH_PERMANENT;
    }
    struct host_services *services = ctx->instance->services;
    char *error = NULL;
    lh_status_t status = LH_RETRY;
    struct store *store = services_store_lock(services, &error);
    if (store != NULL) {
        status = store_identity_put(store, ctx->instance->name, external_id, delivery->lead_id,
                                    &error) == STORE_OK
                     ? LH_OK
                     : LH_RETRY;
        services_store_unlock(services);
    }
    if (status != LH_OK) {
        ctx_fail(ctx, "the lead's identity could not be written: %s", error ? error : "?");
    }
    free(error);
    return status;
}

struct store *services_store_lock(struct host_services *services, char **error_out)
{
    pthread_mutex_lock(&services->store_mutex);
    if (services->store == NULL) {
        services->store = store_open(services->database_url, error_out);
    } else if (store_ensure(services->store, error_out) != STORE_OK) {
        store_close(services->store);
        services->store = NULL;
    }
    if (services->store == NULL) {
        pthread_mutex_unlock(&services->store_mutex);
        return NULL;
    }
    return services->store;
}

void services_store_unlock(struct host_services *services)
{
    pthread_mutex_unlock(&services->store_mutex);
}

/* A Content-Type a plugin may set: printable ASCII, no CR/LF (header injection). */
static bool content_type_valid(const char *type)
{
    size_t len = strlen(type);
    if (len == 0 || len > 200) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)type[i] < 0x20 || (unsigned char)type[i] >= 0x7f) {
            return false;
        }
    }
    return true;
}

static void host_respond(lh_ctx_t *ctx, int http_status, const char *content_type, const char *body,
                         size_t body_len)
{
    if (!live(ctx) || http_status < 100 || http_status > 599) {
        return;
    }
    if (content_type == NULL) {
        content_type = "text/plain";
    }
    if (!content_type_valid(content_type) || body_len > HOST_RESPONSE_MAX ||
        (body == NULL && body_len > 0)) {
        log_write(LOG_LEVEL_WARN, plugin_name(ctx), instance_name_of(ctx), NULL,
                  "respond ignored: a content type of printable characters and a body of at "
                  "most 64 KiB");
        return;
    }
    char *type_copy = strdup(content_type);
    char *body_copy = malloc(body_len + 1);
    if (type_copy == NULL || body_copy == NULL) {
        free(type_copy);
        free(body_copy);
        return;
    }
    if (body_len > 0) {
        memcpy(body_copy, body, body_len);
    }
    body_copy[body_len] = '\0';
    free(ctx->response_content_type);
    free(ctx->response_body);
    ctx->response_status = http_status;
    ctx->response_content_type = type_copy;
    ctx->response_body = body_copy;
    ctx->response_body_len = body_len;
}

static bool metric_name_valid(const char *name)
{
    if (name == NULL || name[0] == '\0' || strlen(name) > 64) {
        return false;
    }
    for (const char *p = name; *p != '\0'; p++) {
        if (!((*p >= 'a' && *p <= 'z') || *p == '_')) {
            return false;
        }
    }
    return true;
}

/* The series name for a plugin metric, or false (with a warning) for a bad name. */
static bool plugin_metric_name(struct lh_ctx *ctx, const char *name, const char *label_name,
                               char *out, size_t out_size)
{
    if (!metric_name_valid(name) || (label_name != NULL && (!metric_name_valid(label_name) ||
                                                            strcmp(label_name, "instance") == 0))) {
        log_write(LOG_LEVEL_WARN, plugin_name(ctx), instance_name_of(ctx), NULL,
                  "metric ignored: names and labels must be [a-z_]+ (and not \"instance\")");
        return false;
    }
    snprintf(out, out_size, "leadhub_plugin_%s", name);
    return true;
}

static void host_counter_add(lh_ctx_t *ctx, const char *name, const char *label_name,
                             const char *label_value, double delta)
{
    char series[96];
    if (!live(ctx) || !plugin_metric_name(ctx, name, label_name, series, sizeof(series))) {
        return;
    }
    struct metrics *m = ctx->instance->services->metrics;
    if (label_name != NULL) {
        metrics_counter_add(m, series, "Plugin counter.", delta, "instance", ctx->instance->name,
                            label_name, label_value != NULL ? label_value : "", METRICS_END);
    } else {
        metrics_counter_add(m, series, "Plugin counter.", delta, "instance", ctx->instance->name,
                            METRICS_END);
    }
}

static void host_gauge_set(lh_ctx_t *ctx, const char *name, const char *label_name,
                           const char *label_value, double value)
{
    char series[96];
    if (!live(ctx) || !plugin_metric_name(ctx, name, label_name, series, sizeof(series))) {
        return;
    }
    struct metrics *m = ctx->instance->services->metrics;
    if (label_name != NULL) {
        metrics_gauge_set(m, series, "Plugin gauge.", value, "instance", ctx->instance->name,
                          label_name, label_value != NULL ? label_value : "", METRICS_END);
    } else {
        metrics_gauge_set(m, series, "Plugin gauge.", value, "instance", ctx->instance->name,
                          METRICS_END);
    }
}

static int64_t host_now_ms(lh_ctx_t *ctx)
{
    (void)ctx;
    return util_now_ms();
}

static int host_should_stop(lh_ctx_t *ctx)
{
    if (!live(ctx)) {
        return 0;
    }
    if (ctx->deadline_ms > 0 && util_monotonic_ms() >= ctx->deadline_ms) {
        return 1;
    }
    if (ctx->cancel != NULL && atomic_load(ctx->cancel)) {
        return 1;
    }
    atomic_bool *stopping = ctx->instance->services->stopping;
    return stopping != NULL && atomic_load(stopping);
}

static void host_set_batch_size(lh_ctx_t *ctx, size_t max_deliveries)
{
    if (!live(ctx) || !ctx->in_init) {
        return;
    }
    if (max_deliveries == 0) {
        max_deliveries = 1;
    }
    ctx->instance->batch_size =
        max_deliveries > INSTANCE_MAX_BATCH ? INSTANCE_MAX_BATCH : max_deliveries;
}

/* --- settings ---------------------------------------------------------------------------- */

static void host_config_error(lh_ctx_t *ctx, const char *key, const char *hint, const char *fmt,
                              ...)
{
    if (ctx == NULL || !(ctx->validating || ctx->in_init) || fmt == NULL) {
        return;
    }
    ctx->config_errors++;
    struct strbuf message = {0};
    va_list args;
    va_start(args, fmt);
    strbuf_appendv(&message, fmt, args);
    va_end(args);
    char *text = strbuf_take(&message);
    char *shown_key = key != NULL && key[0] != '\0' ? strndup(key, HOST_CONFIG_KEY_MAX) : NULL;
    char *shown_hint = hint != NULL && hint[0] != '\0' ? strdup(hint) : NULL;
    if (text != NULL) {
        util_utf8_sanitize(text);
    }
    if (shown_key != NULL) {
        util_utf8_sanitize(shown_key);
    }
    if (shown_hint != NULL) {
        util_utf8_sanitize(shown_hint);
    }
    const char *said = text != NULL ? text : "out of memory";
    if (ctx->report != NULL) {
        /* offline: a diagnostic at the setting's line, as the schema's own errors */
        char *path =
            shown_key != NULL ? util_printf("%s.%s", ctx->report->prefix, shown_key) : NULL;
        config_where_error(ctx->report->diags, ctx->report->where,
                           path != NULL ? path : ctx->report->prefix, NULL, shown_hint, "%s", said);
        free(path);
    } else {
        /* the call's error: every report, "key: message (hint)", joined */
        struct strbuf sb = {0};
        if (ctx->error != NULL && ctx->config_errors > 1) {
            strbuf_appendf(&sb, "%s; ", ctx->error);
        }
        strbuf_appendf(&sb, "%s%s%s%s%s%s", shown_key != NULL ? shown_key : "",
                       shown_key != NULL ? ": " : "", said, shown_hint != NULL ? " (" : "",
                       shown_hint != NULL ? shown_hint : "", shown_hint != NULL ? ")" : "");
        char *joined = strbuf_take(&sb);
        if (joined != NULL) {
            free(ctx->error);
            ctx->error = joined;
        }
    }
    free(text);
    free(shown_key);
    free(shown_hint);
}

/* --- push notifications --------------------------------------------------------------------- */

/* The instance's sync channel (malloc'd), or NULL after setting the call's error. */
static char *sync_channel(struct lh_ctx *ctx)
{
    char *channel = poller_sync_channel(ctx->instance->name);
    if (channel == NULL) {
        ctx_fail(ctx, "out of memory");
    }
    return channel;
}

/* A notification put outside a batch (deliver): written, and its NOTIFY sent, at once. */
static lh_status_t notification_write_through(struct lh_ctx *ctx, const char *key, json_t *value,
                                              char *channel)
{
    struct host_services *services = ctx->instance->services;
    struct store_notification item = {ctx->instance->name, (char *)key, value, channel};
    char *error = NULL;
    lh_status_t status = LH_RETRY;
    struct store *store = services_store_lock(services, &error);
    if (store != NULL) {
        status = store_notification_put(store, &item, &error) == STORE_OK ? LH_OK : LH_RETRY;
        services_store_unlock(services);
    }
    if (status != LH_OK) {
        ctx_fail(ctx, "notification %s could not be written: %s", key, error ? error : "?");
    }
    free(error);
    return status;
}

static lh_status_t host_notification_put(lh_ctx_t *ctx, const char *key, json_t *value)
{
    bool allowed = live(ctx) && (ctx->batch != NULL || ctx->in_delivery);
    if (!allowed || value == NULL || !checkpoint_key_valid(key)) {
        json_decref(value);
        if (ctx != NULL) {
            ctx_fail(ctx, !allowed ? "notification_put is only allowed during poll, webhook and "
                                     "deliver callbacks"
                                   : "notification_put needs a value and a key of 1-128 "
                                     "characters of [A-Za-z0-9_.:-]");
        }
        return LH_PERMANENT;
    }
    char *text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
    size_t size = text != NULL ? strlen(text) : 0;
    free(text);
    if (text == NULL || size > HOST_NOTIFICATION_MAX) {
        json_decref(value);
        ctx_fail(ctx,
                 text == NULL ? "notification %s: the value cannot be encoded as JSON"
                              : "notification %s: the value is larger than 64 KiB as JSON",
                 key);
        return LH_PERMANENT;
    }
    /* a poll's own puts wait for the next poll; the others ask for one */
    char *channel = ctx->in_poll ? NULL : sync_channel(ctx);
    if (!ctx->in_poll && channel == NULL) {
        json_decref(value);
        return LH_RETRY;
    }
    lh_status_t status = LH_OK;
    if (ctx->batch == NULL) {
        status = notification_write_through(ctx, key, value, channel);
        json_decref(value);
    } else if (ingest_batch_put_notification(ctx->batch, ctx->instance->name, key, value,
                                             channel) != 0) {
        ctx_fail(ctx, "out of memory");
        status = LH_RETRY;
    }
    free(channel);
    return status;
}

static lh_status_t host_notifications_take(lh_ctx_t *ctx, size_t max, json_t **items_out)
{
    if (items_out == NULL) {
        return LH_PERMANENT;
    }
    *items_out = NULL;
    if (!live(ctx) || !ctx->in_poll || ctx->batch == NULL) {
        if (ctx != NULL) {
            ctx_fail(ctx, "notifications_take is only allowed during poll");
        }
        return LH_PERMANENT;
    }
    if (max == 0) {
        max = HOST_NOTIFICATIONS_TAKE;
    }
    if (max > STORE_NOTIFICATIONS_TAKE_MAX) {
        max = STORE_NOTIFICATIONS_TAKE_MAX;
    }
    struct host_services *services = ctx->instance->services;
    char *error = NULL;
    json_t *items = NULL;
    lh_status_t status = LH_RETRY;
    struct store *store = services_store_lock(services, &error);
    if (store != NULL) {
        status = store_notifications_take(store, ctx->instance->name, ctx->notifications_after, max,
                                          &items, &error) == STORE_OK
                     ? LH_OK
                     : LH_RETRY;
        services_store_unlock(services);
    }
    size_t i;
    json_t *item;
    json_array_foreach(items, i, item)
    {
        json_int_t seq = json_integer_value(json_object_get(item, "seq"));
        if (ingest_batch_take(ctx->batch, ctx->instance->name,
                              json_string_value(json_object_get(item, "key")), seq) != 0) {
            status = LH_RETRY;
            error = error != NULL ? error : strdup("out of memory");
            break;
        }
        if (seq > ctx->notifications_after) {
            ctx->notifications_after = seq;
        }
        json_object_del(item, "seq"); /* the host's business */
    }
    if (status != LH_OK) {
        json_decref(items);
        ctx_fail(ctx, "notifications could not be read: %s", error ? error : "?");
    } else {
        *items_out = items;
    }
    free(error);
    return status;
}

static lh_status_t host_notification_keep(lh_ctx_t *ctx, const char *key)
{
    if (!live(ctx) || !ctx->in_poll || ctx->batch == NULL || key == NULL ||
        ingest_batch_keep(ctx->batch, key) == 0) {
        if (ctx != NULL) {
            ctx_fail(ctx, "notification_keep: %s was not taken in this poll",
                     key != NULL ? key : "(null)");
        }
        return LH_PERMANENT;
    }
    return LH_OK;
}

static lh_status_t host_poll_soon(lh_ctx_t *ctx)
{
    if (!live(ctx)) {
        if (ctx != NULL) {
            ctx_fail(ctx, "poll_soon is not allowed in validate()");
        }
        return LH_PERMANENT;
    }
    char *channel = sync_channel(ctx);
    if (channel == NULL) {
        return LH_RETRY;
    }
    lh_status_t status = LH_OK;
    if (ctx->batch != NULL) {
        /* sent by PostgreSQL when the call's batch commits */
        if (ingest_batch_wake(ctx->batch, channel) != 0) {
            ctx_fail(ctx, "out of memory");
            status = LH_RETRY;
        }
    } else {
        struct host_services *services = ctx->instance->services;
        char *error = NULL;
        status = LH_RETRY;
        struct store *store = services_store_lock(services, &error);
        if (store != NULL) {
            status = store_notify(store, channel, STORE_WAKE_PAYLOAD, &error) == STORE_OK
                         ? LH_OK
                         : LH_RETRY;
            services_store_unlock(services);
        }
        if (status != LH_OK) {
            ctx_fail(ctx, "poll_soon: %s", error ? error : "?");
        }
        free(error);
    }
    free(channel);
    return status;
}

static const lh_host_t host_table = {
    .struct_size = sizeof(lh_host_t),
    .abi_major = LH_ABI_MAJOR,
    .abi_minor = LH_ABI_MINOR,
    .log = host_log,
    .instance_name = host_instance_name,
    .set_error = host_set_error,
    .set_retry_after = host_set_retry_after,
    .emit = host_emit,
    .checkpoint_get = host_checkpoint_get,
    .checkpoint_put = host_checkpoint_put,
    .respond = host_respond,
    .http = host_http_request,
    .http_response_free = host_http_response_free,
    .counter_add = host_counter_add,
    .gauge_set = host_gauge_set,
    .now_ms = host_now_ms,
    .should_stop = host_should_stop,
    .hmac_sha256 = crypto_hmac_sha256,
    .digest_equal = crypto_digest_equal,
    .base64_encode = crypto_base64_encode,
    .set_batch_size = host_set_batch_size,
    .oauth2_token = host_oauth2_token,
    .oauth2_invalidate = host_oauth2_invalidate,
    .lead_identity_put = host_lead_identity_put,
    .config_error = host_config_error,
    .notification_put = host_notification_put,
    .notifications_take = host_notifications_take,
    .notification_keep = host_notification_keep,
    .poll_soon = host_poll_soon,
    .checkpoint_put_secret = host_checkpoint_put_secret,
    .jwt_verify = host_jwt_verify,
};

const lh_host_t *host_api_table(void)
{
    return &host_table;
}
