/* instance.c - connector instances at run time and their call contexts. */
#include <stdlib.h>
#include <string.h>

#include "instance.h"
#include "log.h"
#include "util.h"

void ctx_init(struct lh_ctx *ctx, struct instance *instance, struct ingest_batch *batch)
{
    memset(ctx, 0, sizeof(*ctx));
    ctx->instance = instance;
    ctx->batch = batch;
    ctx->retry_after_ms = -1;
}

void ctx_clear(struct lh_ctx *ctx)
{
    if (ctx->oauth2_token != NULL) {
        explicit_bzero(ctx->oauth2_token, strlen(ctx->oauth2_token));
        free(ctx->oauth2_token);
        ctx->oauth2_token = NULL;
    }
    free(ctx->error);
    free(ctx->response_content_type);
    free(ctx->response_body);
    ctx->error = ctx->response_content_type = ctx->response_body = NULL;
}

const char *instance_token_state_name(int state)
{
    static const char *const names[] = {"none", "valid", "refreshing", "failed", "needs_consent"};
    return state >= 0 && state < (int)UTIL_ARRAY_LEN(names) ? names[state] : "none";
}

const char *instance_status_name(lh_status_t status)
{
    switch (status) {
    case LH_OK:
        return "ok";
    case LH_RETRY:
        return "retry";
    case LH_RETRY_AFTER:
        return "retry_after";
    case LH_AUTH:
        return "auth";
    case LH_PERMANENT:
        return "permanent";
    case LH_CONFIG:
        return "config";
    case LH_HOLD:
        return "hold";
    }
    return "unknown";
}

int instance_setup(struct instance *instance, const struct config_instance *config,
                   const struct plugin *plugin, json_t *settings, struct host_services *services)
{
    memset(instance, 0, sizeof(*instance));
    instance->name = strdup(config->name);
    if (instance->name == NULL) {
        json_decref(settings);
        return -1;
    }
    instance->poll_interval_ms = config->poll_interval_ms;
    instance->plugin = plugin;
    instance->settings = settings;
    instance->services = services;
    instance->batch_size = INSTANCE_DEFAULT_BATCH;
    instance->init_retry_after_ms = -1;
    atomic_init(&instance->initialized, false);
    atomic_init(&instance->references, 1);
    pthread_mutex_init(&instance->status_mutex, NULL);
    host_jwks_init(&instance->jwks);
    pthread_mutex_init(&instance->oauth2.mutex, NULL);
    atomic_init(&instance->oauth2.state, INSTANCE_TOKEN_NONE);
    return pthread_mutex_init(&instance->call_mutex, NULL) == 0 ? 0 : -1;
}

/* Serializes callbacks of instances whose plugin did not declare itself reentrant. */
static bool lock_for_call(struct instance *instance)
{
    if (instance->plugin->desc->flags & LH_PLUGIN_REENTRANT) {
        return false;
    }
    pthread_mutex_lock(&instance->call_mutex);
    return true;
}

static void observe_callback(struct instance *instance, const char *callback, int64_t started,
                             lh_status_t status)
{
    double seconds = (double)(util_monotonic_ms() - started) / 1000.0;
    metrics_observe(instance->services->metrics, "leadhub_plugin_callback_seconds",
                    "Time spent in plugin callbacks.", metrics_latency_buckets,
                    metrics_latency_bucket_count, seconds, "instance", instance->name, "callback",
                    callback, METRICS_END);
    metrics_counter_add(instance->services->metrics, "leadhub_plugin_callbacks_total",
                        "Plugin callbacks, by outcome.", 1, "instance", instance->name, "callback",
                        callback, "status", instance_status_name(status), METRICS_END);
}

/* Runs validate() in ctx; LH_CONFIG when it reported anything, whatever it returned. */
static lh_status_t call_validate(const struct plugin *plugin, struct lh_ctx *ctx,
                                 const json_t *settings)
{
    if (plugin->desc->validate == NULL) {
        return LH_OK;
    }
    ctx->validating = true;
    lh_status_t status = plugin->desc->validate(ctx, host_api_table(), settings);
    ctx->validating = false;
    if (ctx->config_errors > 0 && status != LH_RETRY) {
        return LH_CONFIG;
    }
    if (status == LH_CONFIG && ctx->config_errors == 0) {
        /* refused without saying why: still refused, with the host's word for it */
        host_api_table()->config_error(ctx, NULL, "the plugin's validate() named no setting",
                                       "the plugin refused its settings");
    }
    return status == LH_OK || status == LH_CONFIG || status == LH_RETRY ? status : LH_CONFIG;
}

lh_status_t instance_validate_offline(const struct plugin *plugin, const char *name,
                                      const json_t *settings, const struct config_where *where,
                                      const char *prefix, struct diag_list *diags)
{
    struct ctx_report report = {.diags = diags, .where = where, .prefix = prefix, .name = name};
    struct lh_ctx ctx;
    ctx_init(&ctx, NULL, NULL);
    ctx.report = &report;
    lh_status_t status = call_validate(plugin, &ctx, settings);
    if (status == LH_RETRY) {
        config_where_error(diags, where, prefix, NULL, NULL, "%s",
                           ctx.error != NULL ? ctx.error : "out of memory");
    }
    ctx_clear(&ctx);
    return status;
}

/* Calls validate() then init(): the state on success; otherwise destroy()s what init() left
 * and says why (and, when not NULL, *retry_after_out gets its set_retry_after() delay, or
 * -1). */
static lh_status_t call_init(struct instance *instance, void **state_out, char **error_out,
                             int64_t *retry_after_out)
{
    struct lh_ctx ctx;
    ctx_init(&ctx, instance, NULL);
    *state_out = NULL;
    *error_out = NULL;
    lh_status_t status = call_validate(instance->plugin, &ctx, instance->settings);
    if (status != LH_OK) {
        *error_out = util_printf("init failed (%s): %s", instance_status_name(status),
                                 ctx.error ? ctx.error : "no reason given");
        if (retry_after_out != NULL) {
            *retry_after_out = -1;
        }
        ctx_clear(&ctx);
        return status;
    }
    ctx.in_init = true;
    void *state = NULL;
    int64_t started = util_monotonic_ms();
    status = instance->plugin->desc->init(&ctx, host_api_table(), instance->settings, &state);
    observe_callback(instance, "init", started, status);
    if (status == LH_OK) {
        *state_out = state;
    } else {
        /* A failing init may still have built state; its destroy() accepts anything
         * init() left behind, NULL included. */
        instance->plugin->desc->destroy(state);
        *error_out = util_printf("init failed (%s): %s", instance_status_name(status),
                                 ctx.error ? ctx.error : "no reason given");
    }
    if (retry_after_out != NULL) {
        *retry_after_out = ctx.retry_after_ms;
    }
    ctx_clear(&ctx);
    return status;
}

lh_status_t instance_init(struct instance *instance)
{
    void *state = NULL;
    free(instance->last_error);
    instance->last_error = NULL;
    lh_status_t status =
        call_init(instance, &state, &instance->last_error, &instance->init_retry_after_ms);
    instance->init_status = status;
    if (status == LH_OK) {
        instance->state = state;
        atomic_store(&instance->initialized, true);
        log_write(LOG_LEVEL_INFO, instance->plugin->name, instance->name, NULL,
                  "instance initialized");
    } else {
        log_write(LOG_LEVEL_ERROR, instance->plugin->name, instance->name, NULL, "%s",
                  instance->last_error);
    }
    return status;
}

lh_status_t instance_webhook(struct instance *instance, struct lh_ctx *ctx,
                             const lh_webhook_request_t *request)
{
    /* A webhook of a plugin that promises it only reads init()'s state runs unserialized:
     * never behind a poll's slow provider call. */
    bool locked = false;
    if (!(instance->plugin->desc->flags & (LH_PLUGIN_REENTRANT | LH_PLUGIN_WEBHOOK_CONCURRENT))) {
        /* a poll may hold the instance for minutes: wait no longer than the request may */
        struct timespec until;
        util_deadline(ctx->deadline_ms > 0 ? ctx->deadline_ms - util_monotonic_ms() : 0, &until);
        if (ctx->deadline_ms > 0 ? pthread_mutex_timedlock(&instance->call_mutex, &until) != 0
                                 : pthread_mutex_lock(&instance->call_mutex) != 0) {
            host_api_table()->set_error(ctx, "the connector instance is busy (a poll or another "
                                             "webhook); retry");
            return LH_RETRY;
        }
        locked = true;
    }
    int64_t started = util_monotonic_ms();
    lh_status_t status = instance->plugin->desc->webhook(instance->state, ctx, request);
    observe_callback(instance, "webhook", started, status);
    if (locked) {
        pthread_mutex_unlock(&instance->call_mutex);
    }
    return status;
}

lh_status_t instance_poll(struct instance *instance, struct lh_ctx *ctx)
{
    bool locked = lock_for_call(instance);
    int64_t started = util_monotonic_ms();
    ctx->in_poll = true;
    lh_status_t status = instance->plugin->desc->poll(instance->state, ctx);
    ctx->in_poll = false;
    observe_callback(instance, "poll", started, status);
    if (locked) {
        pthread_mutex_unlock(&instance->call_mutex);
    }
    return status;
}

lh_status_t instance_score(struct instance *instance, struct lh_ctx *ctx, const json_t *snapshot,
                           json_t **result_out)
{
    *result_out = NULL;
    int64_t started = util_monotonic_ms();
    lh_status_t status = instance->plugin->desc->score(instance->state, ctx, snapshot, result_out);
    observe_callback(instance, "score", started, status);
    if (status != LH_OK) {
        json_decref(*result_out);
        *result_out = NULL;
    }
    return status;
}

lh_status_t instance_deliver(struct instance *instance, struct lh_ctx *ctx,
                             const lh_delivery_t *delivery)
{
    const lh_plugin_t *desc = instance->plugin->desc;
    bool locked = lock_for_call(instance);
    int64_t started = util_monotonic_ms();
    lh_status_t status;
    if (desc->deliver != NULL) {
        status = desc->deliver(instance->state, ctx, delivery);
    } else if (desc->deliver_batch == NULL) {
        /* the loader refuses such a sink; a plugin that is not a sink gets here by mistake */
        host_api_table()->set_error(ctx, "%s cannot deliver", instance->plugin->name);
        status = LH_PERMANENT;
    } else {
        lh_status_t result = LH_OK;
        char *message = NULL;
        const lh_delivery_t *const one[] = {delivery};
        status = desc->deliver_batch(instance->state, ctx, one, 1, &result, &message);
        if (status == LH_OK) {
            status = result;
        }
        if (message != NULL && ctx->error == NULL) {
            ctx->error = message;
        } else {
            free(message);
        }
    }
    observe_callback(instance, "deliver", started, status);
    if (locked) {
        pthread_mutex_unlock(&instance->call_mutex);
    }
    return status;
}

void instance_deliver_batch(struct instance *instance, struct lh_ctx *ctx,
                            const lh_delivery_t *deliveries, size_t count, lh_status_t *results,
                            char **messages)
{
    const lh_plugin_t *desc = instance->plugin->desc;
    for (size_t i = 0; i < count; i++) {
        results[i] = LH_OK;
        messages[i] = NULL;
    }
    if (desc->deliver_batch == NULL) {
        for (size_t i = 0; i < count; i++) {
            free(ctx->error);
            ctx->error = NULL;
            results[i] = instance_deliver(instance, ctx, &deliveries[i]);
            if (results[i] != LH_OK && ctx->error != NULL) {
                messages[i] = strdup(ctx->error);
            }
        }
        return;
    }
    /* the plugin gets pointers: a delivery may grow in a later minor */
    const lh_delivery_t **pointers = calloc(count + 1, sizeof(*pointers));
    if (pointers == NULL) {
        for (size_t i = 0; i < count; i++) {
            results[i] = LH_RETRY;
        }
        return;
    }
    for (size_t i = 0; i < count; i++) {
        pointers[i] = &deliveries[i];
    }
    bool locked = lock_for_call(instance);
    int64_t started = util_monotonic_ms();
    lh_status_t status =
        desc->deliver_batch(instance->state, ctx, pointers, count, results, messages);
    observe_callback(instance, "deliver_batch", started, status);
    if (locked) {
        pthread_mutex_unlock(&instance->call_mutex);
    }
    free(pointers);
    if (status != LH_OK) {
        for (size_t i = 0; i < count; i++) {
            if (results[i] == LH_OK) {
                results[i] = status;
            }
        }
    }
}

void instance_teardown(struct instance *instance)
{
    if (instance->plugin == NULL) {
        return;
    }
    if (atomic_load(&instance->initialized)) {
        instance->plugin->desc->destroy(instance->state);
        atomic_store(&instance->initialized, false);
    }
    instance->state = NULL;
    json_decref(instance->settings);
    instance->settings = NULL;
    free(instance->last_error);
    instance->last_error = NULL;
    pthread_mutex_destroy(&instance->call_mutex);
    pthread_mutex_destroy(&instance->status_mutex);
    host_jwks_clear(&instance->jwks);
    host_oauth2_clear(instance);
    pthread_mutex_destroy(&instance->oauth2.mutex);
    free(instance->last_poll_error);
    instance->last_poll_error = NULL;
    free(instance->name);
    instance->name = NULL;
    instance->plugin = NULL;
}

void instance_set_poll_status(struct instance *instance, const char *outcome, const char *error,
                              int64_t held_until_ms)
{
    char *copy = error != NULL ? strdup(error) : NULL;
    pthread_mutex_lock(&instance->status_mutex);
    instance->poll_held_until_ms = held_until_ms;
    snprintf(instance->last_poll_outcome, sizeof(instance->last_poll_outcome), "%s", outcome);
    free(instance->last_poll_error);
    instance->last_poll_error = copy;
    pthread_mutex_unlock(&instance->status_mutex);
}

json_t *instance_poll_status(struct instance *instance)
{
    json_t *status = NULL;
    pthread_mutex_lock(&instance->status_mutex);
    if (instance->last_poll_outcome[0] != '\0') {
        status = json_pack("{s:s,s:s?}", "outcome", instance->last_poll_outcome, "error",
                           instance->last_poll_error);
        if (status != NULL && instance->poll_held_until_ms > 0) {
            char held[32];
            util_format_rfc3339(instance->poll_held_until_ms, held);
            json_object_set_new(status, "held_until", json_string(held));
        }
    }
    pthread_mutex_unlock(&instance->status_mutex);
    return status;
}

struct instance *instance_new(const struct config_instance *config, const struct plugin *plugin,
                              json_t *settings, struct host_services *services)
{
    struct instance *instance = calloc(1, sizeof(*instance));
    if (instance == NULL) {
        json_decref(settings);
        return NULL;
    }
    if (instance_setup(instance, config, plugin, settings, services) != 0) {
        free(instance);
        return NULL;
    }
    return instance;
}

struct instance *instance_acquire(struct instance *instance)
{
    if (instance != NULL) {
        atomic_fetch_add(&instance->references, 1);
    }
    return instance;
}

void instance_release(struct instance *instance)
{
    if (instance != NULL && atomic_fetch_sub(&instance->references, 1) == 1) {
        instance_teardown(instance);
        free(instance);
    }
}
