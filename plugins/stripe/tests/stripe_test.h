/*
 * stripe_test.h - helpers shared by the stripe plugin's test programs: the example
 * payloads (plugins/stripe/tests/fixtures/, copied from Stripe's documented shapes),
 * variants of them, and Stripe-Signature headers made the way Stripe makes them.
 * Static inline: each test program includes what it uses.
 */
#ifndef LEADHUB_STRIPE_TEST_H
#define LEADHUB_STRIPE_TEST_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "crypto.h"
#include "instance.h"
#include "leadhub.h"
#include "loader.h"
#include "testutil.h"
#include "util.h"

/* What the tests configure: a test-mode key (events with livemode false are stored). */
#define ST_API_KEY        "sk_test_51FakeKeyForLeadhubTests0000000000000000"
#define ST_WEBHOOK_SECRET "whsec_test_5f1c6d1e0e8b4a2c9d7e3f1a2b3c4d5e"
#define ST_INSTANCE       "billing"

/* An example payload from plugins/stripe/tests/fixtures/ (NEW reference). */
static inline json_t *st_fixture(const char *name)
{
    char *path = util_printf("%s/plugins/stripe/tests/fixtures/%s", tu_source_dir(), name);
    json_error_t error;
    json_t *value = json_load_file(path, JSON_REJECT_DUPLICATES, &error);
    ck_assert_msg(value != NULL, "%s: %s", path, error.text);
    free(path);
    return value;
}

/* The same file's bytes, malloc'd. */
static inline char *st_fixture_text(const char *name)
{
    char *path = util_printf("%s/plugins/stripe/tests/fixtures/%s", tu_source_dir(), name);
    char *text = util_read_file(path, 1 << 20, NULL);
    ck_assert_msg(text != NULL, "cannot read %s", path);
    free(path);
    return text;
}

/* The event's data.object (borrowed). */
static inline json_t *st_object(json_t *event)
{
    return json_object_get(json_object_get(event, "data"), "object");
}

/* A copy of `event` with another id and created time (NEW reference). */
static inline json_t *st_event_as(const json_t *event, const char *id, long long created)
{
    json_t *copy = json_deep_copy(event);
    json_object_set_new(copy, "id", json_string(id));
    json_object_set_new(copy, "created", json_integer(created));
    return copy;
}

/* "t=<t>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>", malloc'd: what Stripe sends. */
static inline char *st_sign(const char *secret, long long timestamp, const char *body)
{
    char *signed_text = util_printf("%lld.%s", timestamp, body);
    unsigned char digest[32];
    crypto_hmac_sha256(secret, strlen(secret), signed_text, strlen(signed_text), digest);
    free(signed_text);
    char hex[65];
    lh_hex_encode(digest, sizeof(digest), hex);
    return util_printf("t=%lld,v1=%s", timestamp, hex);
}

/* The value of a string member, for assertions ("(absent)" when it is not a string). */
static inline const char *st_text(const json_t *object, const char *path)
{
    const json_t *value = object;
    char *copy = strdup(path);
    char *saveptr = NULL;
    for (char *part = strtok_r(copy, ".", &saveptr); part != NULL && value != NULL;
         part = strtok_r(NULL, ".", &saveptr)) {
        value = json_object_get(value, part);
    }
    free(copy);
    return json_is_string(value) ? json_string_value(value) : "(absent)";
}

/* The plugin as built, loaded by the real loader, its settings checked by the real
 * validator, running as an instance with the real host table. */
struct st_instance {
    struct plugin_registry registry;
    struct host_services services;
    struct instance instance;
    struct config_instance config;
    atomic_bool stopping;
    bool set_up;
};

/*
 * st_start - load build/plugins/stripe.so and init an instance "billing" with settings
 * (JSON; ${ST_API_KEY} and ${ST_WEBHOOK_SECRET} resolve to the constants above).
 *   database_url, ingest: where checkpoints are read and batches committed (NULL for
 *   webhook-only tests).
 *   Returns init's status (the reason is in t->instance.last_error).
 */
static inline lh_status_t st_start(struct st_instance *t, const char *settings_json,
                                   const char *database_url, struct ingest *ingest)
{
    memset(t, 0, sizeof(*t));
    setenv("ST_API_KEY", ST_API_KEY, 1);
    setenv("ST_WEBHOOK_SECRET", ST_WEBHOOK_SECRET, 1);
    char *path = util_printf("%s/plugins/stripe.so", tu_build_dir());
    ck_assert_int_eq(loader_load_file(&t->registry, path), 0);
    free(path);
    const struct plugin *plugin = loader_find(&t->registry, "stripe");
    ck_assert_ptr_nonnull(plugin);
    t->config = (struct config_instance){.name = ST_INSTANCE,
                                         .plugin = "stripe",
                                         .enabled = true,
                                         .file = "billing.yaml",
                                         .poll_interval_ms = 60000};
    t->config.settings = json_loads(settings_json, 0, NULL);
    ck_assert_msg(t->config.settings != NULL, "settings are not JSON: %s", settings_json);
    struct diag_list diags = {0};
    json_t *settings = config_settings_validate(&t->config, plugin->desc->config_schema, &diags);
    ck_assert_msg(settings != NULL, "settings invalid: %s",
                  diags.count ? diags.items[0].message : "?");
    diag_list_free(&diags);
    t->services.metrics = metrics_create();
    atomic_init(&t->stopping, false);
    t->services.stopping = &t->stopping;
    t->services.ingest = ingest;
    t->services.database_url = database_url;
    pthread_mutex_init(&t->services.store_mutex, NULL);
    ck_assert_int_eq(instance_setup(&t->instance, &t->config, plugin, settings, &t->services), 0);
    t->set_up = true;
    return instance_init(&t->instance);
}

static inline void st_stop(struct st_instance *t)
{
    if (!t->set_up) {
        return;
    }
    instance_teardown(&t->instance);
    json_decref(t->config.settings);
    if (t->services.store != NULL) {
        store_close(t->services.store);
    }
    pthread_mutex_destroy(&t->services.store_mutex);
    metrics_free(t->services.metrics);
    loader_free(&t->registry);
    t->set_up = false;
}

/* A plugin counter or gauge of the instance (0 when absent). */
static inline double st_metric(struct st_instance *t, const char *name, const char *label,
                               const char *value)
{
    char *series = util_printf("leadhub_plugin_%s", name);
    double result = label != NULL ? metrics_get(t->services.metrics, series, "instance",
                                                ST_INSTANCE, label, value, METRICS_END)
                                  : metrics_get(t->services.metrics, series, "instance",
                                                ST_INSTANCE, METRICS_END);
    free(series);
    return result;
}

#endif
