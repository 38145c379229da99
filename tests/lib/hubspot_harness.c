/* hubspot_harness.c - see hubspot_harness.h. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "hubspot_harness.h"
#include "metrics.h"
#include "seal.h"
#include "sealed_state.h"
#include "testdb.h"
#include "testutil.h"
#include "util.h"

void hh_setup(struct hubspot_harness *h)
{
    memset(h, 0, sizeof(*h));
    setenv("HH_TOKEN", HH_TOKEN, 1);
    setenv("HH_CLIENT_SECRET", HH_CLIENT_SECRET, 1);
    setenv("HH_REFRESH_TOKEN", HH_REFRESH_TOKEN, 1);
    setenv("HH_WEBHOOK_SECRET", HH_WEBHOOK_SECRET, 1);
    char *path = util_printf("%s/plugins/hubspot.so", tu_build_dir());
    ck_assert_int_eq(loader_load_file(&h->registry, path), 0);
    free(path);
    h->plugin = loader_find(&h->registry, "hubspot");
    ck_assert_ptr_nonnull(h->plugin);
    h->fake = fake_hubspot_start();
    ck_assert_ptr_nonnull(h->fake);
    fake_hubspot_allow_token(h->fake, HH_TOKEN);
    fake_hubspot_oauth_client(h->fake, "client-1", HH_CLIENT_SECRET, HH_REFRESH_TOKEN, 1800);
    h->db_url = testdb_create_migrated();
    h->db = testdb_connect(h->db_url);
    h->services.metrics = metrics_create();
    h->services.database_url = h->db_url;
    atomic_init(&h->stopping, false);
    h->services.stopping = &h->stopping;
    const char *keys[] = {HH_SECRETS_KEY};
    size_t bad = 0;
    const char *why = NULL;
    h->services.keyring = seal_keyring_new(keys, 1, &bad, &why);
    ck_assert_ptr_nonnull(h->services.keyring);
    pthread_mutex_init(&h->services.store_mutex, NULL);
    struct ingest_options options = {.database_url = h->db_url,
                                     .writers = 1,
                                     .batch_max = 20000,
                                     .queue_max = 100000,
                                     .metrics = h->services.metrics};
    h->services.ingest = ingest_start(&options);
    ck_assert_ptr_nonnull(h->services.ingest);
}

static void stop_instance(struct hubspot_harness *h)
{
    if (h->started) {
        instance_teardown(&h->instance);
        json_decref(h->config.settings);
        h->config.settings = NULL;
        h->started = false;
    }
}

void hh_teardown(struct hubspot_harness *h)
{
    stop_instance(h);
    ingest_stop(h->services.ingest);
    store_close(h->services.store);
    pthread_mutex_destroy(&h->services.store_mutex);
    metrics_free(h->services.metrics);
    seal_keyring_free((struct seal_keyring *)h->services.keyring);
    fake_hubspot_stop(h->fake);
    PQfinish(h->db);
    testdb_drop(h->db_url);
    loader_free(&h->registry);
}

json_t *hh_private_settings(struct hubspot_harness *h)
{
    char *base = fake_hubspot_url(h->fake, "");
    json_t *settings = json_pack("{s:s, s:s, s:s, s:s}", "auth", "private_app", "access_token",
                                 "${HH_TOKEN}", "api_base", base, "search_interval", "0s");
    free(base);
    ck_assert_ptr_nonnull(settings);
    return settings;
}

json_t *hh_oauth_settings(struct hubspot_harness *h, int expires_in)
{
    fake_hubspot_oauth_client(h->fake, "client-1", HH_CLIENT_SECRET, HH_REFRESH_TOKEN, expires_in);
    char *base = fake_hubspot_url(h->fake, "");
    char *token_url = fake_hubspot_url(h->fake, "/oauth/v1/token");
    json_t *settings =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "auth", "oauth", "client_id", "client-1",
                  "client_secret", "${HH_CLIENT_SECRET}", "refresh_token", "${HH_REFRESH_TOKEN}",
                  "token_url", token_url, "api_base", base, "search_interval", "0s");
    free(base);
    free(token_url);
    ck_assert_ptr_nonnull(settings);
    return settings;
}

void hh_with_webhooks(json_t *settings, const char *webhook_url)
{
    json_object_set_new(settings, "webhook_client_secret", json_string("${HH_WEBHOOK_SECRET}"));
    json_object_set_new(settings, "webhook_url", json_string(webhook_url));
}

lh_status_t hh_start(struct hubspot_harness *h, json_t *settings)
{
    stop_instance(h);
    h->config = (struct config_instance){
        .name = HH_INSTANCE, .plugin = "hubspot", .enabled = true, .file = "crm.yaml"};
    h->config.settings = settings;
    h->config.poll_interval_ms = 60000;
    struct diag_list diags = {0};
    json_t *validated =
        config_settings_validate(&h->config, h->plugin->desc->config_schema, &diags);
    ck_assert_msg(validated != NULL, "settings invalid: %s",
                  diags.count ? diags.items[0].message : "?");
    diag_list_free(&diags);
    ck_assert_int_eq(instance_setup(&h->instance, &h->config, h->plugin, validated, &h->services),
                     0);
    h->started = true;
    return instance_init(&h->instance);
}

void hh_assert_no_secret(const char *text)
{
    static const char *const secrets[] = {HH_TOKEN, HH_CLIENT_SECRET, HH_REFRESH_TOKEN,
                                          HH_WEBHOOK_SECRET};
    for (size_t i = 0; text != NULL && i < sizeof(secrets) / sizeof(secrets[0]); i++) {
        ck_assert_msg(strstr(text, secrets[i]) == NULL, "a secret leaked: %s", text);
    }
}

char *hh_init_refusal(struct hubspot_harness *h, json_t *settings)
{
    ck_assert_int_eq(hh_start(h, settings), LH_CONFIG);
    ck_assert_ptr_nonnull(h->instance.last_error);
    char *reason = strdup(h->instance.last_error);
    hh_assert_no_secret(reason);
    stop_instance(h);
    return reason;
}

long hh_lead(struct hubspot_harness *h, const char *email)
{
    char *sql = util_printf("INSERT INTO leads (email) VALUES ('%s') RETURNING id", email);
    long id = testdb_scalar(h->db, sql);
    free(sql);
    return id;
}

static lh_status_t deliver(struct hubspot_harness *h, const json_t *event, long lead_id,
                           const json_t *lead, char **error_out, int64_t *retry_after_out)
{
    lh_delivery_t delivery = {.struct_size = sizeof(lh_delivery_t),
                              .id = 1,
                              .idempotency_key = "k-1",
                              .event = event,
                              .attempt = 1,
                              .lead_id = lead_id,
                              .lead = lead};
    struct lh_ctx ctx;
    ctx_init(&ctx, &h->instance, NULL);
    ctx.in_delivery = true;
    lh_status_t status = instance_deliver(&h->instance, &ctx, &delivery);
    if (status == LH_AUTH) {
        host_oauth2_invalidate(&ctx);
        free(ctx.error);
        ctx.error = NULL;
        status = instance_deliver(&h->instance, &ctx, &delivery);
    }
    if (error_out != NULL) {
        *error_out = ctx.error != NULL ? strdup(ctx.error) : NULL;
    }
    if (retry_after_out != NULL) {
        *retry_after_out = ctx.retry_after_ms;
    }
    hh_assert_no_secret(ctx.error);
    ctx_clear(&ctx);
    return status;
}

lh_status_t hh_deliver(struct hubspot_harness *h, const json_t *event, long lead_id,
                       char **error_out, int64_t *retry_after_out)
{
    return deliver(h, event, lead_id, NULL, error_out, retry_after_out);
}

lh_status_t hh_deliver_resolved(struct hubspot_harness *h, const json_t *event, long lead_id,
                                const json_t *lead, char **error_out)
{
    return deliver(h, event, lead_id, lead, error_out, NULL);
}

void hh_deliver_batch(struct hubspot_harness *h, json_t *const *events, const long *lead_ids,
                      size_t count, lh_status_t *results, char **messages, int64_t *retry_after_out)
{
    lh_delivery_t *deliveries = calloc(count, sizeof(*deliveries));
    char(*keys)[24] = calloc(count, sizeof(*keys));
    for (size_t i = 0; i < count; i++) {
        snprintf(keys[i], sizeof(keys[i]), "k-%zu", i);
        deliveries[i] = (lh_delivery_t){.struct_size = sizeof(lh_delivery_t),
                                        .id = (int64_t)i + 1,
                                        .idempotency_key = keys[i],
                                        .event = events[i],
                                        .attempt = 1,
                                        .lead_id = lead_ids != NULL ? lead_ids[i] : 0};
    }
    struct lh_ctx ctx;
    ctx_init(&ctx, &h->instance, NULL);
    ctx.in_delivery = true;
    instance_deliver_batch(&h->instance, &ctx, deliveries, count, results, messages);
    bool auth = false;
    for (size_t i = 0; i < count; i++) {
        auth |= results[i] == LH_AUTH;
    }
    if (auth) {
        host_oauth2_invalidate(&ctx);
        for (size_t i = 0; i < count; i++) {
            free(messages[i]);
            messages[i] = NULL;
        }
        instance_deliver_batch(&h->instance, &ctx, deliveries, count, results, messages);
    }
    for (size_t i = 0; i < count; i++) {
        hh_assert_no_secret(messages[i]);
        if (results[i] != LH_OK && messages[i] == NULL && ctx.error != NULL) {
            messages[i] = strdup(ctx.error); /* what the dispatcher records for it */
        }
    }
    hh_assert_no_secret(ctx.error);
    if (retry_after_out != NULL) {
        *retry_after_out = ctx.retry_after_ms;
    }
    ctx_clear(&ctx);
    free(deliveries);
    free(keys);
}

/* Appends the batch's events to *events_out and commits the batch. */
static void commit(struct hubspot_harness *h, struct ingest_batch *batch, json_t **events_out)
{
    if (events_out != NULL) {
        if (*events_out == NULL) {
            *events_out = json_array();
        }
        for (size_t i = 0; i < batch->event_count; i++) {
            json_array_append(*events_out, batch->events[i].event);
        }
    }
    if (!ingest_batch_empty(batch)) {
        enum store_result rc = ingest_submit_wait(h->services.ingest, batch);
        ck_assert_msg(rc == STORE_OK, "commit failed: %s", batch->error ? batch->error : "?");
    }
}

lh_status_t hh_poll(struct hubspot_harness *h, json_t **events_out, char **error_out)
{
    struct ingest_batch batch = {0};
    struct lh_ctx ctx;
    ctx_init(&ctx, &h->instance, &batch);
    lh_status_t status = instance_poll(&h->instance, &ctx);
    if (status == LH_AUTH) {
        host_oauth2_invalidate(&ctx);
        ingest_batch_clear(&batch);
        ctx_clear(&ctx);
        ctx_init(&ctx, &h->instance, &batch);
        status = instance_poll(&h->instance, &ctx);
    }
    if (status == LH_OK) {
        commit(h, &batch, events_out);
    }
    if (error_out != NULL) {
        *error_out = ctx.error != NULL ? strdup(ctx.error) : NULL;
    }
    hh_assert_no_secret(ctx.error);
    ctx_clear(&ctx);
    ingest_batch_clear(&batch);
    return status;
}

char *hh_sign_v3(const char *secret, const char *method, const char *uri, const char *body,
                 const char *timestamp)
{
    char *source = util_printf("%s%s%s%s", method, uri, body, timestamp);
    unsigned char digest[32];
    crypto_hmac_sha256(secret, strlen(secret), source, strlen(source), digest);
    free(source);
    char *out = malloc(48);
    crypto_base64_encode(digest, sizeof(digest), out);
    return out;
}

void hh_timestamp(int64_t skew_ms, char *out)
{
    snprintf(out, 24, "%lld", (long long)(util_now_ms() + skew_ms));
}

lh_status_t hh_webhook_raw(struct hubspot_harness *h, const lh_header_t *headers,
                           size_t header_count, const char *query, const char *body,
                           json_t **events_out, char **error_out)
{
    lh_webhook_request_t request = {(uint32_t)sizeof(lh_webhook_request_t),
                                    "POST",
                                    "/webhooks/" HH_INSTANCE,
                                    query != NULL ? query : "",
                                    headers,
                                    header_count,
                                    (const unsigned char *)body,
                                    strlen(body),
                                    "127.0.0.1"};
    struct ingest_batch batch = {0};
    struct lh_ctx ctx;
    ctx_init(&ctx, &h->instance, &batch);
    lh_status_t status = instance_webhook(&h->instance, &ctx, &request);
    if (status == LH_OK) {
        commit(h, &batch, events_out);
    }
    if (error_out != NULL) {
        *error_out = ctx.error != NULL ? strdup(ctx.error) : NULL;
    }
    hh_assert_no_secret(ctx.error);
    ctx_clear(&ctx);
    ingest_batch_clear(&batch);
    return status;
}

lh_status_t hh_webhook(struct hubspot_harness *h, const char *url, const char *query,
                       const char *body, int64_t skew_ms, const char *signature,
                       const char *timestamp, json_t **events_out, char **error_out)
{
    char now[24];
    hh_timestamp(skew_ms, now);
    const char *ts = timestamp != NULL ? timestamp : now;
    char *uri = query != NULL && query[0] != '\0' ? util_printf("%s?%s", url, query)
                                                  : util_printf("%s", url);
    char *computed = hh_sign_v3(HH_WEBHOOK_SECRET, "POST", uri, body, ts);
    lh_header_t headers[2] = {
        {"X-HubSpot-Signature-v3", signature != NULL ? signature : computed},
        {"X-HubSpot-Request-Timestamp", ts},
    };
    size_t header_count = signature != NULL && signature[0] == '\0' ? 0 : 2;
    lh_status_t status =
        hh_webhook_raw(h, headers, header_count, query, body, events_out, error_out);
    free(computed);
    free(uri);
    return status;
}

json_t *hh_checkpoint(struct hubspot_harness *h, const char *key)
{
    char *escaped = PQescapeLiteral(h->db, key, strlen(key));
    char *sql = util_printf("SELECT value::text FROM connector_state WHERE instance = '%s' AND "
                            "key = %s",
                            HH_INSTANCE, escaped);
    char *text = testdb_text(h->db, sql);
    json_t *value = text != NULL ? json_loads(text, 0, NULL) : NULL;
    free(text);
    free(sql);
    PQfreemem(escaped);
    return value;
}

json_t *hh_checkpoint_opened(struct hubspot_harness *h, const char *key)
{
    json_t *stored = hh_checkpoint(h, key);
    if (stored == NULL || !seal_is_sealed(stored)) {
        return stored;
    }
    struct seal_place place = sealed_state_place(HH_INSTANCE, key);
    char *error = NULL;
    json_t *opened = seal_open(h->services.keyring, &place, stored, NULL, &error);
    ck_assert_msg(opened != NULL, "%s does not open: %s", key, error ? error : "?");
    json_decref(stored);
    return opened;
}

double hh_metric(struct hubspot_harness *h, const char *name, const char *label, const char *value)
{
    char *series = util_printf("leadhub_plugin_%s", name);
    double v = label != NULL
                   ? metrics_get(h->services.metrics, series, "instance", HH_INSTANCE, label, value,
                                 METRICS_END)
                   : metrics_get(h->services.metrics, series, "instance", HH_INSTANCE, METRICS_END);
    free(series);
    return v;
}

json_t *hh_request_json(struct hubspot_harness *h, const char *method, const char *path, size_t nth)
{
    struct fake_hubspot_request r = fake_hubspot_find(h->fake, method, path, nth);
    ck_assert_msg(r.body != NULL, "no request %zu to %s %s", nth, method, path);
    json_t *body = json_loads(r.body, 0, NULL);
    fake_hubspot_request_free(&r);
    ck_assert_ptr_nonnull(body);
    return body;
}
