/*
 * lh_test_calls.c - the fake host's lifecycle and callbacks: settings checked by the host's
 * own schema validator (core/config_settings.c) and the plugin's validate(), then init(),
 * poll(), webhook(), deliver(), deliver_batch() and score(), each run as the host runs it
 * (lh_test_begin_call / lh_test_end_call apply the commit rules).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "diag.h"
#include "event.h"
#include "lh_test_internal.h"

/* 2026-11-27T09:00:00Z: a fixed start, so that tests are repeatable. */
#define LH_TEST_EPOCH_MS 1795770000000LL

lh_test_t *lh_test_new(const lh_plugin_t *plugin, const char *instance)
{
    lh_test_t *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        return NULL;
    }
    t->plugin = plugin;
    t->instance = strdup(instance != NULL ? instance : "test");
    t->ctx.t = t;
    lh_test_fill_table(&t->host);
    t->retry_after_ms = -1;
    t->events = json_array();
    t->event_keys = json_object();
    t->checkpoints = json_object();
    t->sealed = json_object();
    t->notifications = json_object();
    t->identities = json_array();
    t->metrics = json_object();
    t->logs = json_array();
    t->staged_events = json_array();
    t->staged_checkpoints = json_object();
    t->staged_sealed = json_object();
    t->staged_notifications = json_object();
    t->taken = json_object();
    t->kept = json_object();
    t->batch_size = 100;
    t->now_ms = LH_TEST_EPOCH_MS;
    t->stop_after = -1;
    t->oauth_status = LH_AUTH;
    if (t->instance == NULL || t->events == NULL || t->event_keys == NULL ||
        t->checkpoints == NULL || t->sealed == NULL || t->notifications == NULL ||
        t->identities == NULL || t->metrics == NULL || t->logs == NULL ||
        t->staged_events == NULL || t->staged_checkpoints == NULL || t->staged_sealed == NULL ||
        t->staged_notifications == NULL || t->taken == NULL || t->kept == NULL) {
        lh_test_free(t);
        return NULL;
    }
    return t;
}

static void destroy_instance(lh_test_t *t)
{
    if (t->initialized) {
        t->plugin->destroy(t->state);
    }
    t->state = NULL;
    t->initialized = false;
}

void lh_test_free(lh_test_t *t)
{
    if (t == NULL) {
        return;
    }
    destroy_instance(t);
    lh_test_http_free(t);
    json_t *objects[] = {t->events,        t->event_keys,
                         t->checkpoints,   t->sealed,
                         t->notifications, t->identities,
                         t->metrics,       t->logs,
                         t->staged_events, t->staged_checkpoints,
                         t->staged_sealed, t->staged_notifications,
                         t->taken,         t->kept};
    for (size_t i = 0; i < sizeof(objects) / sizeof(objects[0]); i++) {
        json_decref(objects[i]);
    }
    free(t->instance);
    free(t->error);
    free(t->response_type);
    free(t->response_body);
    free(t->config_errors);
    free(t->oauth_token);
    free(t->misuse);
    free(t);
}

const lh_host_t *lh_test_host(lh_test_t *t)
{
    return &t->host;
}

void *lh_test_state(lh_test_t *t)
{
    return t->state;
}

const char *lh_test_config_errors(lh_test_t *t)
{
    return t->config_errors != NULL ? t->config_errors : "";
}

/* The host's schema check: NEW normalized settings, or NULL with the reports kept. */
static json_t *schema_check(lh_test_t *t, const char *settings_json)
{
    free(t->config_errors);
    t->config_errors = NULL;
    json_error_t error;
    json_t *written = json_loads(settings_json != NULL ? settings_json : "{}", 0, &error);
    if (!json_is_object(written)) {
        json_decref(written);
        if (asprintf(&t->config_errors, "settings: not a JSON object: %s\n", error.text) < 0) {
            t->config_errors = NULL;
        }
        return NULL;
    }
    struct config_instance instance = {.name = t->instance,
                                       .plugin = (char *)t->plugin->name,
                                       .enabled = true,
                                       .settings = written,
                                       .file = "settings"};
    struct diag_list diags = {0};
    json_t *settings = config_settings_validate(&instance, t->plugin->config_schema, &diags);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    for (size_t i = 0; out != NULL && i < diags.count; i++) {
        const struct diag *d = &diags.items[i];
        if (d->severity != DIAG_ERROR) {
            continue;
        }
        fprintf(out, "%s%s%s%s%s%s\n", d->key != NULL ? d->key : "", d->key != NULL ? ": " : "",
                d->message, d->hint != NULL ? " (" : "", d->hint != NULL ? d->hint : "",
                d->hint != NULL ? ")" : "");
    }
    if (out != NULL) {
        fclose(out);
    }
    t->config_errors = text;
    diag_list_free(&diags);
    json_decref(written);
    return settings;
}

/* validate() as the host calls it: LH_CONFIG when it reported anything. */
static lh_status_t run_validate(lh_test_t *t, const json_t *settings)
{
    if (t->plugin->validate == NULL) {
        return LH_OK;
    }
    size_t before = t->config_errors != NULL ? strlen(t->config_errors) : 0;
    lh_test_begin_call(t, LH_TEST_CALL_VALIDATE);
    lh_status_t status = t->plugin->validate(&t->ctx, &t->host, settings);
    lh_test_end_call(t, status);
    bool reported = t->config_errors != NULL && strlen(t->config_errors) > before;
    if (reported && status != LH_RETRY) {
        return LH_CONFIG;
    }
    return status == LH_OK || status == LH_CONFIG || status == LH_RETRY ? status : LH_CONFIG;
}

lh_status_t lh_test_validate(lh_test_t *t, const char *settings_json)
{
    json_t *settings = schema_check(t, settings_json);
    if (settings == NULL) {
        return LH_CONFIG;
    }
    lh_status_t status = run_validate(t, settings);
    json_decref(settings);
    return status;
}

lh_status_t lh_test_init(lh_test_t *t, const char *settings_json)
{
    destroy_instance(t);
    json_t *settings = schema_check(t, settings_json);
    if (settings == NULL) {
        return LH_CONFIG;
    }
    lh_status_t status = run_validate(t, settings);
    if (status == LH_OK) {
        void *state = NULL;
        lh_test_begin_call(t, LH_TEST_CALL_INIT);
        status = t->plugin->init(&t->ctx, &t->host, settings, &state);
        lh_test_end_call(t, status);
        if (status == LH_OK) {
            t->state = state;
            t->initialized = true;
        } else {
            t->plugin->destroy(state);
        }
    }
    json_decref(settings);
    return status;
}

static bool ready(lh_test_t *t, const void *callback, const char *name)
{
    if (!t->initialized) {
        lh_test_note_misuse(t, "%s called before a successful lh_test_init()", name);
        return false;
    }
    if (callback == NULL) {
        lh_test_note_misuse(t, "the plugin has no %s()", name);
        return false;
    }
    return true;
}

lh_status_t lh_test_poll(lh_test_t *t)
{
    if (!ready(t, (const void *)t->plugin->poll, "poll")) {
        return LH_PERMANENT;
    }
    lh_test_begin_call(t, LH_TEST_CALL_POLL);
    lh_status_t status = t->plugin->poll(t->state, &t->ctx);
    lh_test_end_call(t, status);
    return status;
}

lh_status_t lh_test_webhook(lh_test_t *t, const char *method, const char *query,
                            const lh_header_t *headers, size_t header_count, const char *body,
                            size_t body_len)
{
    if (!ready(t, (const void *)t->plugin->webhook, "webhook")) {
        return LH_PERMANENT;
    }
    /* the host hands the exact bytes with a NUL after them */
    unsigned char *copy = malloc(body_len + 1);
    char *path = NULL;
    if (copy == NULL || asprintf(&path, "/webhooks/%s", t->instance) < 0) {
        free(copy);
        return LH_RETRY;
    }
    memcpy(copy, body != NULL ? body : "", body_len);
    copy[body_len] = '\0';
    method = method != NULL ? method : "POST";
    /* what the host refuses before webhook() runs */
    lh_status_t refused = LH_OK;
    if (strcmp(method, "GET") == 0 && !(t->plugin->flags & LH_PLUGIN_WEBHOOK_GET)) {
        lh_test_note_misuse(t, "a GET reaches webhook() only with LH_PLUGIN_WEBHOOK_GET "
                               "(the host answers 405)");
        refused = LH_PERMANENT;
    } else if (strcmp(method, "POST") == 0 && t->plugin->webhook_signature_headers != NULL) {
        bool signed_request = false;
        for (const char *const *name = t->plugin->webhook_signature_headers; *name != NULL;
             name++) {
            for (size_t i = 0; i < header_count; i++) {
                signed_request = signed_request || strcasecmp(headers[i].name, *name) == 0;
            }
        }
        if (!signed_request) {
            free(t->error);
            t->error = strdup("the request carries none of the plugin's signature headers "
                              "(the host answers 401 before reading the body)");
            refused = LH_AUTH;
        }
    }
    if (refused != LH_OK) {
        free(copy);
        free(path);
        return refused;
    }
    lh_webhook_request_t request = {.struct_size = sizeof(request),
                                    .method = method,
                                    .path = path,
                                    .query = query != NULL ? query : "",
                                    .headers = headers,
                                    .header_count = header_count,
                                    .body = copy,
                                    .body_len = body_len,
                                    .remote_addr = "127.0.0.1"};
    lh_test_begin_call(t, LH_TEST_CALL_WEBHOOK);
    lh_status_t status = t->plugin->webhook(t->state, &t->ctx, &request);
    lh_test_end_call(t, status);
    free(copy);
    free(path);
    return status;
}

/* A delivery of event_json as the host fills it. The event and lead are NEW references
 * kept in *event_out and *lead_out; the key in key (32 bytes). */
static int make_delivery(lh_test_t *t, const char *event_json, const char *lead_json, int attempt,
                         lh_delivery_t *delivery, json_t **event_out, json_t **lead_out,
                         char key[32])
{
    *event_out = NULL;
    *lead_out = NULL;
    json_t *event = json_loads(event_json != NULL ? event_json : "", 0, NULL);
    const char *source = json_string_value(json_object_get(event, "source"));
    char *source_copy = strdup(source != NULL ? source : "source");
    struct event_record record;
    char *error = NULL;
    int rc = source_copy != NULL && event != NULL
                 ? event_validate(event, source_copy, &record, &error)
                 : (json_decref(event), -1);
    free(source_copy);
    if (rc != 0) {
        lh_test_note_misuse(t, "the delivered event is not valid: %s",
                            error != NULL ? error : "not JSON");
        free(error);
        return -1;
    }
    *event_out = json_incref(record.event);
    event_record_clear(&record);
    if (lead_json != NULL) {
        *lead_out = json_loads(lead_json, 0, NULL);
        if (!json_is_object(*lead_out)) {
            lh_test_note_misuse(t, "the delivery's lead is not a JSON object");
            json_decref(*event_out);
            json_decref(*lead_out);
            *event_out = *lead_out = NULL;
            return -1;
        }
    }
    t->delivery_seq++;
    snprintf(key, 32, "test-%lld", (long long)t->delivery_seq);
    *delivery = (lh_delivery_t){
        .struct_size = sizeof(lh_delivery_t),
        .id = t->delivery_seq,
        .idempotency_key = key,
        .event = *event_out,
        .attempt = attempt > 0 ? attempt : 1,
        .lead_id = *lead_out != NULL ? json_integer_value(json_object_get(*lead_out, "id")) : 0,
        .lead = *lead_out,
    };
    return 0;
}

lh_status_t lh_test_deliver_batch(lh_test_t *t, const char *const *events_json, size_t count,
                                  lh_status_t *results, char **messages)
{
    if (!ready(t, (const void *)t->plugin->deliver_batch, "deliver_batch")) {
        return LH_PERMANENT;
    }
    lh_delivery_t *deliveries = calloc(count + 1, sizeof(*deliveries));
    const lh_delivery_t **pointers = calloc(count + 1, sizeof(*pointers));
    json_t **owned = calloc(2 * count + 1, sizeof(*owned));
    char(*keys)[32] = calloc(count + 1, sizeof(*keys));
    char **own_messages = calloc(count + 1, sizeof(*own_messages));
    lh_status_t status = LH_RETRY;
    size_t made = 0;
    if (deliveries == NULL || pointers == NULL || owned == NULL || keys == NULL ||
        own_messages == NULL) {
        goto out;
    }
    status = LH_PERMANENT;
    for (; made < count; made++) {
        if (make_delivery(t, events_json[made], NULL, 1, &deliveries[made], &owned[2 * made],
                          &owned[2 * made + 1], keys[made]) != 0) {
            goto out;
        }
        pointers[made] = &deliveries[made];
        results[made] = LH_OK;
    }
    lh_test_begin_call(t, LH_TEST_CALL_DELIVER);
    status = t->plugin->deliver_batch(t->state, &t->ctx, pointers, count, results, own_messages);
    lh_test_end_call(t, status);
    for (size_t i = 0; i < count; i++) {
        if (results[i] == LH_OK && status != LH_OK) {
            results[i] = status; /* the call's return applies to those left LH_OK */
        }
        if (messages != NULL) {
            messages[i] = own_messages[i];
        } else {
            free(own_messages[i]);
        }
    }
out:
    for (size_t i = 0; owned != NULL && i < 2 * made; i++) {
        json_decref(owned[i]);
    }
    free(own_messages);
    free(keys);
    free(owned);
    free(pointers);
    free(deliveries);
    return status;
}

lh_status_t lh_test_deliver(lh_test_t *t, const char *event_json, const char *lead_json,
                            int attempt)
{
    bool batch_only = t->plugin->deliver == NULL && t->plugin->deliver_batch != NULL;
    if (!ready(t,
               batch_only ? (const void *)t->plugin->deliver_batch
                          : (const void *)t->plugin->deliver,
               "deliver")) {
        return LH_PERMANENT;
    }
    lh_delivery_t delivery;
    json_t *event, *lead;
    char key[32];
    if (make_delivery(t, event_json, lead_json, attempt, &delivery, &event, &lead, key) != 0) {
        return LH_PERMANENT;
    }
    lh_test_begin_call(t, LH_TEST_CALL_DELIVER);
    lh_status_t status;
    if (batch_only) {
        /* a batch of one, read back as the host reads it */
        const lh_delivery_t *one[] = {&delivery};
        lh_status_t result = LH_OK;
        char *message = NULL;
        status = t->plugin->deliver_batch(t->state, &t->ctx, one, 1, &result, &message);
        status = status != LH_OK ? status : result;
        if (message != NULL && t->error == NULL) {
            t->error = message;
        } else {
            free(message);
        }
    } else {
        status = t->plugin->deliver(t->state, &t->ctx, &delivery);
    }
    lh_test_end_call(t, status);
    json_decref(event);
    json_decref(lead);
    return status;
}

lh_status_t lh_test_score(lh_test_t *t, const char *snapshot_json, json_t **result_out)
{
    *result_out = NULL;
    if (!ready(t, (const void *)t->plugin->score, "score")) {
        return LH_PERMANENT;
    }
    json_t *snapshot = json_loads(snapshot_json, 0, NULL);
    if (snapshot == NULL) {
        lh_test_note_misuse(t, "the score snapshot is not JSON");
        return LH_PERMANENT;
    }
    lh_test_begin_call(t, LH_TEST_CALL_SCORE);
    lh_status_t status = t->plugin->score(t->state, &t->ctx, snapshot, result_out);
    lh_test_end_call(t, status);
    json_decref(snapshot);
    if (status != LH_OK) {
        json_decref(*result_out);
        *result_out = NULL;
    }
    return status;
}
