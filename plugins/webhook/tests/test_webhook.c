/*
 * test_webhook.c - the `webhook` plugin as built (build/plugins/webhook.so), loaded by the
 * real loader and called through the real host table: signature and timestamp rules,
 * secret rolling, and all-or-nothing bodies.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "crypto.h"
#include "instance.h"
#include "loader.h"
#include "testutil.h"
#include "util.h"

static struct plugin_registry registry;
static struct host_services services;
static struct instance instance;
static struct config_instance config_instance;
static atomic_bool stopping;

/* Starts an instance whose settings are `settings_yaml`-like JSON. */
static lh_status_t start_instance(const char *settings_json)
{
    char *path = util_printf("%s/plugins/webhook.so", tu_build_dir());
    ck_assert_int_eq(loader_load_file(&registry, path), 0);
    free(path);
    const struct plugin *plugin = loader_find(&registry, "webhook");
    ck_assert_ptr_nonnull(plugin);
    config_instance = (struct config_instance){
        .name = "hooks", .plugin = "webhook", .enabled = true, .file = "hooks.yaml"};
    config_instance.settings = json_loads(settings_json, 0, NULL);
    ck_assert_ptr_nonnull(config_instance.settings);
    struct diag_list diags = {0};
    json_t *settings =
        config_settings_validate(&config_instance, plugin->desc->config_schema, &diags);
    ck_assert_msg(settings != NULL, "settings invalid: %s",
                  diags.count ? diags.items[0].message : "?");
    diag_list_free(&diags);
    services.metrics = metrics_create();
    atomic_init(&stopping, false);
    services.stopping = &stopping;
    pthread_mutex_init(&services.store_mutex, NULL);
    ck_assert_int_eq(instance_setup(&instance, &config_instance, plugin, settings, &services), 0);
    return instance_init(&instance);
}

static void stop_instance(void)
{
    instance_teardown(&instance);
    json_decref(config_instance.settings);
    pthread_mutex_destroy(&services.store_mutex);
    metrics_free(services.metrics);
    loader_free(&registry);
}

/* Calls the webhook with the given headers and body; returns the status, keeping the
 * context's error and batch for inspection. */
static lh_status_t call(const char *timestamp, const char *signature, const char *body,
                        struct lh_ctx *ctx, struct ingest_batch *batch)
{
    lh_header_t headers[2];
    size_t count = 0;
    if (timestamp != NULL) {
        headers[count++] = (lh_header_t){"x-leadhub-timestamp", timestamp};
    }
    if (signature != NULL) {
        headers[count++] = (lh_header_t){"X-Leadhub-Signature", signature};
    }
    lh_webhook_request_t request = {(uint32_t)sizeof(lh_webhook_request_t),
                                    "POST",
                                    "/webhooks/hooks",
                                    "",
                                    headers,
                                    count,
                                    (const unsigned char *)body,
                                    strlen(body),
                                    "127.0.0.1"};
    ctx_init(ctx, &instance, batch);
    return instance_webhook(&instance, ctx, &request);
}

static char *sign(const char *secret, const char *timestamp, const char *body, int uppercase)
{
    char *text = util_printf("%s.%s", timestamp, body);
    unsigned char digest[32];
    crypto_hmac_sha256(secret, strlen(secret), text, strlen(text), digest);
    free(text);
    char hex[65];
    lh_hex_encode(digest, 32, hex);
    for (char *p = hex; uppercase && *p; p++) {
        *p = (char)(*p >= 'a' && *p <= 'f' ? *p - 32 : *p);
    }
    return util_printf("sha256=%s", hex);
}

static const char event_body[] = "{\"type\":\"email.sent\",\"source_id\":\"s1\","
                                 "\"occurred_at\":\"2026-11-27T10:00:00Z\"}";

static void now_text(char *out, size_t size, long offset)
{
    snprintf(out, size, "%ld", (long)time(NULL) + offset);
}

START_TEST(test_webhook_accepts_any_secret_of_a_rolling_list)
{
    setenv("WH_OLD", "old-secret-2e7a9c41", 1);
    setenv("WH_NEW", "new-secret-5b3d8f60", 1);
    ck_assert_int_eq(start_instance("{\"secret\":[\"${WH_OLD}\",\"${WH_NEW}\"]}"), LH_OK);
    char ts[24];
    now_text(ts, sizeof(ts), 0);
    const char *secrets[] = {"old-secret-2e7a9c41", "new-secret-5b3d8f60"};
    for (int i = 0; i < 2; i++) {
        struct ingest_batch batch = {0};
        struct lh_ctx ctx;
        char *signature = sign(secrets[i], ts, event_body, i);
        ck_assert_int_eq(call(ts, signature, event_body, &ctx, &batch), LH_OK);
        ck_assert_uint_eq(batch.event_count, 1);
        free(signature);
        ctx_clear(&ctx);
        ingest_batch_clear(&batch);
    }
    struct ingest_batch batch = {0};
    struct lh_ctx ctx;
    char *signature = sign("third-secret", ts, event_body, 0);
    ck_assert_int_eq(call(ts, signature, event_body, &ctx, &batch), LH_AUTH);
    ck_assert_uint_eq(batch.event_count, 0);
    free(signature);
    ctx_clear(&ctx);
    stop_instance();
}
END_TEST

START_TEST(test_webhook_refuses_malformed_headers_and_future_timestamps)
{
    setenv("WH_SECRET", "s3cret-s3cret-s3cret", 1);
    ck_assert_int_eq(start_instance("{\"secret\":\"${WH_SECRET}\",\"tolerance\":\"1m\"}"), LH_OK);
    char ts[24], future[24];
    now_text(ts, sizeof(ts), 0);
    now_text(future, sizeof(future), 120);
    char *good = sign("s3cret-s3cret-s3cret", ts, event_body, 0);
    char *future_sig = sign("s3cret-s3cret-s3cret", future, event_body, 0);
    struct {
        const char *timestamp;
        const char *signature;
        const char *reason;
    } cases[] = {
        {ts, good + 7, "must be sha256="},     /* hex without the prefix */
        {ts, "sha256=abc", "must be sha256="}, /* too short */
        {"12x4", good, "must be unix seconds"},
        {"-5", good, "must be unix seconds"},
        {future, future_sig, "away from the server's clock"},
        {ts, NULL, "missing X-Leadhub-Signature"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct ingest_batch batch = {0};
        struct lh_ctx ctx;
        ck_assert_int_eq(call(cases[i].timestamp, cases[i].signature, event_body, &ctx, &batch),
                         LH_AUTH);
        ck_assert_msg(ctx.error != NULL && strstr(ctx.error, cases[i].reason) != NULL,
                      "case %zu: error \"%s\" lacks \"%s\"", i, ctx.error, cases[i].reason);
        ctx_clear(&ctx);
        ingest_batch_clear(&batch);
    }
    /* the body is signed byte for byte: one space more fails */
    struct ingest_batch batch = {0};
    struct lh_ctx ctx;
    char *spaced = util_printf("%s ", event_body);
    ck_assert_int_eq(call(ts, good, spaced, &ctx, &batch), LH_AUTH);
    ctx_clear(&ctx);
    free(spaced);
    free(good);
    free(future_sig);
    stop_instance();
}
END_TEST

START_TEST(test_webhook_default_tolerance_refuses_a_signature_over_five_minutes_old)
{
    setenv("WH_SECRET", "s3cret-s3cret-s3cret", 1);
    /* no tolerance setting: the schema's default applies, as in a daemon's config */
    ck_assert_int_eq(start_instance("{\"secret\":\"${WH_SECRET}\"}"), LH_OK);
    const long refused[] = {-360, -600, 360, 600}; /* 6 and 10 minutes, either way */
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        char ts[24];
        now_text(ts, sizeof(ts), refused[i]);
        char *signature = sign("s3cret-s3cret-s3cret", ts, event_body, 0);
        struct ingest_batch batch = {0};
        struct lh_ctx ctx;
        lh_status_t status = call(ts, signature, event_body, &ctx, &batch);
        ck_assert_msg(status == LH_AUTH, "signed %+ld s away: status %d", refused[i], status);
        ck_assert_msg(ctx.error != NULL && strstr(ctx.error, "(tolerance 300 s)") != NULL,
                      "error \"%s\"", ctx.error);
        ck_assert_uint_eq(batch.event_count, 0);
        free(signature);
        ctx_clear(&ctx);
        ingest_batch_clear(&batch);
    }
    /* inside the five minutes, a correctly signed request passes */
    const long accepted[] = {-240, 240};
    for (size_t i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++) {
        char ts[24];
        now_text(ts, sizeof(ts), accepted[i]);
        char *signature = sign("s3cret-s3cret-s3cret", ts, event_body, 0);
        struct ingest_batch batch = {0};
        struct lh_ctx ctx;
        lh_status_t status = call(ts, signature, event_body, &ctx, &batch);
        ck_assert_msg(status == LH_OK, "signed %+ld s away: %s", accepted[i], ctx.error);
        ck_assert_uint_eq(batch.event_count, 1);
        free(signature);
        ctx_clear(&ctx);
        ingest_batch_clear(&batch);
    }
    stop_instance();
}
END_TEST

START_TEST(test_webhook_body_is_all_or_nothing)
{
    setenv("WH_SECRET", "s3cret-s3cret-s3cret", 1);
    ck_assert_int_eq(start_instance("{\"secret\":\"${WH_SECRET}\"}"), LH_OK);
    char ts[24];
    now_text(ts, sizeof(ts), 0);
    const char *bodies[] = {
        "[]",
        "\"just a string\"",
        "{\"type\":\"email.sent\",\"type\":\"email.sent\"}", /* duplicate keys */
        ("[{\"type\":\"email.sent\",\"source_id\":\"a\",\"occurred_at\":\"2026-11-27T10:00:00Z\"},"
         "{\"type\":\"email.sent\"}]"),
        /* an invalid event between two valid ones */
        ("[{\"type\":\"email.sent\",\"source_id\":\"a\",\"occurred_at\":\"2026-11-27T10:00:00Z\"},"
         "{\"type\":\"email.sent\"},"
         "{\"type\":\"email.sent\",\"source_id\":\"c\",\"occurred_at\":\"2026-11-27T10:00:00Z\"}]"),
    };
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        struct ingest_batch batch = {0};
        struct lh_ctx ctx;
        char *signature = sign("s3cret-s3cret-s3cret", ts, bodies[i], 0);
        lh_status_t status = call(ts, signature, bodies[i], &ctx, &batch);
        ck_assert_msg(status == LH_PERMANENT, "body %zu: status %d", i, status);
        free(signature);
        ctx_clear(&ctx);
        ingest_batch_clear(&batch);
    }
    stop_instance();
}
END_TEST

START_TEST(test_webhook_refuses_a_literal_secret_in_its_settings)
{
    char *path = util_printf("%s/plugins/webhook.so", tu_build_dir());
    ck_assert_int_eq(loader_load_file(&registry, path), 0);
    free(path);
    const struct plugin *plugin = loader_find(&registry, "webhook");
    struct config_instance ci = {.name = "hooks", .plugin = "webhook", .file = "hooks.yaml"};
    ci.settings = json_pack("{s:s}", "secret", "written-in-the-file");
    struct diag_list diags = {0};
    ck_assert_ptr_null(config_settings_validate(&ci, plugin->desc->config_schema, &diags));
    ck_assert_uint_eq(diag_error_count(&diags), 1);
    ck_assert_ptr_null(strstr(diags.items[0].message, "written-in-the-file"));
    diag_list_free(&diags);
    json_decref(ci.settings);
    loader_free(&registry);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("webhook_plugin");
    TCase *tc = tcase_create("webhook");
    tcase_add_test(tc, test_webhook_accepts_any_secret_of_a_rolling_list);
    tcase_add_test(tc, test_webhook_refuses_malformed_headers_and_future_timestamps);
    tcase_add_test(tc, test_webhook_default_tolerance_refuses_a_signature_over_five_minutes_old);
    tcase_add_test(tc, test_webhook_body_is_all_or_nothing);
    tcase_add_test(tc, test_webhook_refuses_a_literal_secret_in_its_settings);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
