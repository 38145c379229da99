/*
 * test_http_sink.c - the `http` sink as built (build/plugins/http.so), loaded by the real
 * loader, its settings checked by the real validator, and called through the real
 * instance wrappers and host table against a real HTTP server: what needs the host's own
 * HTTP client (transport failures, timeouts, requests from several threads), batches
 * through the instance wrappers, init refusals, and secrets kept out of every error. The
 * plugin alone (wire format, signature, the meaning of each answer, counters) is tested
 * on the fake host in test_http_sink_unit.c.
 */
#include <check.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "config.h"
#include "crypto.h"
#include "fake_http.h"
#include "instance.h"
#include "loader.h"
#include "metrics.h"
#include "testutil.h"
#include "util.h"

/* What ${HTTP_SECRET} and ${HTTP_TOKEN} resolve to: never to be seen in an error. */
#define SECRET "whsec-test-7f3a91c2"
#define TOKEN  "tok-test-b81d44e0"

static struct plugin_registry registry;
static const struct plugin *plugin;
static struct host_services services;
static struct instance instance;
static struct config_instance config_instance;
static bool instance_started;
static atomic_bool stopping;
static struct fake_http *server;

static void setup(void)
{
    setenv("HTTP_SECRET", SECRET, 1);
    setenv("HTTP_TOKEN", TOKEN, 1);
    char *path = util_printf("%s/plugins/http.so", tu_build_dir());
    ck_assert_int_eq(loader_load_file(&registry, path), 0);
    free(path);
    plugin = loader_find(&registry, "http");
    ck_assert_ptr_nonnull(plugin);
    memset(&services, 0, sizeof(services));
    services.metrics = metrics_create();
    atomic_init(&stopping, false);
    services.stopping = &stopping;
    pthread_mutex_init(&services.store_mutex, NULL);
    server = fake_http_start();
    ck_assert_ptr_nonnull(server);
}

static void stop_sink(void)
{
    if (instance_started) {
        instance_teardown(&instance);
        json_decref(config_instance.settings);
        instance_started = false;
    }
}

static void teardown(void)
{
    stop_sink();
    fake_http_stop(server);
    pthread_mutex_destroy(&services.store_mutex);
    metrics_free(services.metrics);
    loader_free(&registry);
}

/* Settings posting to `path` on the fake server, secrets as references. NEW reference. */
static json_t *settings_for(const char *path)
{
    char *url = fake_http_url(server, path);
    json_t *settings = json_pack("{s:s, s:s}", "url", url, "secret", "${HTTP_SECRET}");
    free(url);
    ck_assert_ptr_nonnull(settings);
    return settings;
}

/* Validates `settings` (STOLEN) as the daemon would, then runs init(). */
static lh_status_t start_sink(json_t *settings)
{
    stop_sink();
    config_instance = (struct config_instance){
        .name = "crm_out", .plugin = "http", .enabled = true, .file = "crm_out.yaml"};
    config_instance.settings = settings;
    struct diag_list diags = {0};
    json_t *validated =
        config_settings_validate(&config_instance, plugin->desc->config_schema, &diags);
    ck_assert_msg(validated != NULL, "settings invalid: %s",
                  diags.count ? diags.items[0].message : "?");
    diag_list_free(&diags);
    ck_assert_int_eq(instance_setup(&instance, &config_instance, plugin, validated, &services), 0);
    instance_started = true;
    return instance_init(&instance);
}

static void assert_no_secret(const char *text)
{
    if (text != NULL) {
        ck_assert_msg(strstr(text, SECRET) == NULL, "secret leaked: %s", text);
        ck_assert_msg(strstr(text, TOKEN) == NULL, "bearer token leaked: %s", text);
    }
}

/* init's refusal reason, with the instance torn down again. */
static char *init_refusal(json_t *settings)
{
    ck_assert_int_eq(start_sink(settings), LH_CONFIG);
    ck_assert_ptr_nonnull(instance.last_error);
    char *reason = strdup(instance.last_error);
    assert_no_secret(reason);
    stop_sink();
    return reason;
}

/* Fixtures in the shape docs/events.md describes, as the host stores them. */
static json_t *lead_created(const char *source_id, const char *email)
{
    json_t *event = json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s, s:s}, s:{s:s, s:i}}", "type",
                              "lead.created", "source", "linkedin_ads", "source_id", source_id,
                              "occurred_at", "2026-11-27T10:42:00.000Z", "lead", "email", email,
                              "first_name", "Ada", "last_name", "Lovelace", "company",
                              "Analytical Engines", "raw", "form_id", "f-17", "answers", 3);
    ck_assert_ptr_nonnull(event);
    return event;
}

static json_t *meeting_scheduled(const char *source_id)
{
    json_t *event = json_pack(
        "{s:s, s:s, s:s, s:s, s:{s:s}, s:{s:s, s:s, s:s, s:s, s:[{s:s, s:s}], s:s}}", "type",
        "meeting.scheduled", "source", "calendar", "source_id", source_id, "occurred_at",
        "2026-11-27T10:42:00.000Z", "lead", "email", "ada@analytical.example", "meeting",
        "external_id", "7f3a", "title", "Intro call", "starts_at", "2026-11-28T15:00:00.000Z",
        "ends_at", "2026-11-28T15:30:00.000Z", "attendees", "email", "ada@analytical.example",
        "response", "accepted", "status", "scheduled");
    ck_assert_ptr_nonnull(event);
    return event;
}

/* One delivery through instance_deliver(); ctx keeps the error and retry delay. */
static lh_status_t deliver(const json_t *event, const char *key, int attempt, struct lh_ctx *ctx)
{
    lh_delivery_t delivery = {.struct_size = sizeof(lh_delivery_t),
                              .id = 7,
                              .idempotency_key = key,
                              .event = event,
                              .attempt = attempt};
    ctx_init(ctx, &instance, NULL);
    return instance_deliver(&instance, ctx, &delivery);
}

/* The value of header `name` (any case) as the server received it, malloc'd, or NULL. */
static char *received_header(const struct fake_request *request, const char *name)
{
    size_t name_len = strlen(name);
    for (const char *line = request->headers; line != NULL && *line != '\0';) {
        const char *end = strchr(line, '\n');
        size_t len = end != NULL ? (size_t)(end - line) : strlen(line);
        if (len > name_len + 1 && strncasecmp(line, name, name_len) == 0 && line[name_len] == ':') {
            const char *value = line + name_len + 1;
            while (*value == ' ') {
                value++;
            }
            return strndup(value, len - (size_t)(value - line));
        }
        line = end != NULL ? end + 1 : NULL;
    }
    return NULL;
}

static void assert_header(const struct fake_request *request, const char *name,
                          const char *expected)
{
    char *value = received_header(request, name);
    ck_assert_msg(value != NULL, "header %s missing", name);
    ck_assert_str_eq(value, expected);
    free(value);
}

/* Recomputes X-Leadhub-Signature from the received timestamp and body, as a receiver
 * (the webhook plugin) would. */
static void assert_signature_verifies(const struct fake_request *request)
{
    char *timestamp = received_header(request, "X-Leadhub-Timestamp");
    char *signature = received_header(request, "X-Leadhub-Signature");
    ck_assert_ptr_nonnull(timestamp);
    ck_assert_ptr_nonnull(signature);
    long long seconds = atoll(timestamp);
    ck_assert_int_le(llabs(seconds - (long long)time(NULL)), 60);
    char *signed_text = util_printf("%s.%s", timestamp, request->body);
    unsigned char digest[32];
    crypto_hmac_sha256(SECRET, strlen(SECRET), signed_text, strlen(signed_text), digest);
    char hex[65];
    lh_hex_encode(digest, sizeof(digest), hex);
    char *expected = util_printf("sha256=%s", hex);
    ck_assert_str_eq(signature, expected);
    free(expected);
    free(signed_text);
    free(signature);
    free(timestamp);
}

static double responses(const char *class)
{
    return metrics_get(services.metrics, "leadhub_plugin_http_sink_responses_total", "instance",
                       "crm_out", "class", class, METRICS_END);
}

START_TEST(test_http_sink_descriptor_is_a_reentrant_sink_with_both_callbacks)
{
    const lh_plugin_t *desc = plugin->desc;
    ck_assert_uint_eq(desc->kind, LH_KIND_SINK);
    ck_assert_str_eq(desc->name, "http");
    ck_assert_str_eq(desc->version, "1.0.0");
    ck_assert_uint_eq(desc->flags, LH_PLUGIN_REENTRANT);
    ck_assert_ptr_nonnull(desc->deliver);
    ck_assert_ptr_nonnull(desc->deliver_batch);
    ck_assert_ptr_nonnull(desc->description);
    desc->destroy(NULL); /* must not crash */
}
END_TEST

START_TEST(test_http_sink_transport_failure_is_retry_with_the_hosts_reason)
{
    json_t *settings = settings_for("/in");
    char *closed = util_printf("http://127.0.0.1:%d/in", tu_free_port());
    json_object_set_new(settings, "url", json_string(closed));
    free(closed);
    ck_assert_int_eq(start_sink(settings), LH_OK);
    json_t *event = lead_created("form-42", "ada@analytical.example");
    struct lh_ctx ctx;
    ck_assert_int_eq(deliver(event, "k", 1, &ctx), LH_RETRY);
    ck_assert_ptr_nonnull(ctx.error);
    ck_assert_ptr_nonnull(strstr(ctx.error, "http POST"));
    ck_assert_int_eq(responses("transport"), 1);
    ctx_clear(&ctx);
    json_decref(event);
}
END_TEST

START_TEST(test_http_sink_timeout_is_retry)
{
    json_t *settings = settings_for("/in");
    json_object_set_new(settings, "timeout", json_string("300ms"));
    ck_assert_int_eq(start_sink(settings), LH_OK);
    fake_http_push(server, (struct fake_response){200, "{}", NULL, 2000});
    json_t *event = lead_created("form-42", "ada@analytical.example");
    struct lh_ctx ctx;
    int64_t started = util_monotonic_ms();
    ck_assert_int_eq(deliver(event, "k", 1, &ctx), LH_RETRY);
    ck_assert_int_lt(util_monotonic_ms() - started, 1500); /* gave up at the timeout */
    ck_assert_ptr_nonnull(ctx.error);
    ck_assert_int_eq(responses("transport"), 1);
    ctx_clear(&ctx);
    json_decref(event);
}
END_TEST

START_TEST(test_http_sink_batch_is_one_request_with_an_array_body_and_joined_keys)
{
    json_t *settings = settings_for("/batch");
    json_object_set_new(settings, "batch_size", json_integer(50));
    ck_assert_int_eq(start_sink(settings), LH_OK);
    json_t *events[] = {lead_created("form-1", "ada@analytical.example"),
                        meeting_scheduled("evt-2"), lead_created("form-3", "grace@navy.example")};
    lh_delivery_t deliveries[] = {
        {.struct_size = sizeof(lh_delivery_t),
         .id = 1,
         .idempotency_key = "crm_out:1",
         .event = events[0],
         .attempt = 1},
        {.struct_size = sizeof(lh_delivery_t),
         .id = 2,
         .idempotency_key = "crm_out:2",
         .event = events[1],
         .attempt = 4},
        {.struct_size = sizeof(lh_delivery_t),
         .id = 3,
         .idempotency_key = "crm_out:3",
         .event = events[2],
         .attempt = 1},
    };
    lh_status_t results[3];
    char *messages[3];
    struct lh_ctx ctx;
    ctx_init(&ctx, &instance, NULL);
    instance_deliver_batch(&instance, &ctx, deliveries, 3, results, messages);
    ctx_clear(&ctx);

    ck_assert_uint_eq(fake_http_request_count(server), 1);
    struct fake_request seen = fake_http_request(server, 0);
    json_t *body = json_loads(seen.body, 0, NULL);
    ck_assert(json_is_array(body));
    ck_assert_uint_eq(json_array_size(body), 3);
    for (size_t i = 0; i < 3; i++) {
        ck_assert(json_equal(json_array_get(body, i), events[i]));
        ck_assert_int_eq(results[i], LH_OK);
        ck_assert_ptr_null(messages[i]);
    }
    char *compact = json_dumps(body, JSON_COMPACT);
    ck_assert_str_eq(seen.body, compact); /* compact, like a single event */
    assert_header(&seen, "Idempotency-Key", "crm_out:1,crm_out:2,crm_out:3");
    assert_header(&seen, "X-Leadhub-Delivery-Attempt", "1,4,1");
    assert_signature_verifies(&seen);
    free(compact);
    json_decref(body);
    fake_http_request_free(&seen);
    for (size_t i = 0; i < 3; i++) {
        json_decref(events[i]);
    }
}
END_TEST

START_TEST(test_http_sink_batch_answer_sets_every_result)
{
    json_t *settings = settings_for("/batch");
    json_object_set_new(settings, "batch_size", json_integer(10));
    ck_assert_int_eq(start_sink(settings), LH_OK);
    fake_http_push(server, (struct fake_response){422, "bad batch", NULL, 0});
    fake_http_push(server, (struct fake_response){503, "busy", NULL, 0});
    fake_http_push(server, (struct fake_response){429, "later", "Retry-After: 9", 0});
    json_t *events[] = {lead_created("form-1", "ada@analytical.example"),
                        lead_created("form-2", "grace@navy.example")};
    lh_delivery_t deliveries[] = {
        {.struct_size = sizeof(lh_delivery_t),
         .id = 1,
         .idempotency_key = "k1",
         .event = events[0],
         .attempt = 1},
        {.struct_size = sizeof(lh_delivery_t),
         .id = 2,
         .idempotency_key = "k2",
         .event = events[1],
         .attempt = 1},
    };
    const lh_status_t expected[] = {LH_PERMANENT, LH_RETRY, LH_RETRY_AFTER};
    for (size_t answer = 0; answer < 3; answer++) {
        lh_status_t results[2];
        char *messages[2];
        struct lh_ctx ctx;
        ctx_init(&ctx, &instance, NULL);
        instance_deliver_batch(&instance, &ctx, deliveries, 2, results, messages);
        for (size_t i = 0; i < 2; i++) {
            ck_assert_msg(results[i] == expected[answer], "answer %zu, item %zu: %s", answer, i,
                          instance_status_name(results[i]));
            free(messages[i]);
        }
        ck_assert_ptr_nonnull(ctx.error);
        if (expected[answer] == LH_RETRY_AFTER) {
            ck_assert_int_eq(ctx.retry_after_ms, 9000);
        }
        ctx_clear(&ctx);
    }
    ck_assert_uint_eq(fake_http_request_count(server), 3);
    json_decref(events[0]);
    json_decref(events[1]);
}
END_TEST

START_TEST(test_http_sink_batch_leaves_out_a_delivery_without_an_event)
{
    json_t *settings = settings_for("/batch");
    json_object_set_new(settings, "batch_size", json_integer(10));
    ck_assert_int_eq(start_sink(settings), LH_OK);
    json_t *event = lead_created("form-1", "ada@analytical.example");
    json_t *not_an_event = json_string("oops");
    lh_delivery_t deliveries[] = {
        {.struct_size = sizeof(lh_delivery_t),
         .id = 1,
         .idempotency_key = "k1",
         .event = not_an_event,
         .attempt = 1},
        {.struct_size = sizeof(lh_delivery_t),
         .id = 2,
         .idempotency_key = "k2",
         .event = event,
         .attempt = 1},
    };
    lh_status_t results[2];
    char *messages[2];
    struct lh_ctx ctx;
    ctx_init(&ctx, &instance, NULL);
    instance_deliver_batch(&instance, &ctx, deliveries, 2, results, messages);
    ctx_clear(&ctx);
    ck_assert_int_eq(results[0], LH_PERMANENT);
    ck_assert_ptr_nonnull(messages[0]);
    ck_assert_int_eq(results[1], LH_OK);
    ck_assert_ptr_null(messages[1]);
    struct fake_request seen = fake_http_request(server, 0);
    json_t *body = json_loads(seen.body, 0, NULL);
    ck_assert_uint_eq(json_array_size(body), 1);
    ck_assert(json_equal(json_array_get(body, 0), event));
    assert_header(&seen, "Idempotency-Key", "k2");
    json_decref(body);
    fake_http_request_free(&seen);
    free(messages[0]);
    json_decref(not_an_event);
    json_decref(event);
}
END_TEST

#define PARALLEL_THREADS    4
#define PARALLEL_DELIVERIES 5

static void *deliver_several(void *arg)
{
    const json_t *event = arg;
    intptr_t failures = 0;
    for (int i = 0; i < PARALLEL_DELIVERIES; i++) {
        struct lh_ctx ctx;
        failures += deliver(event, "k", 1, &ctx) != LH_OK;
        ctx_clear(&ctx);
    }
    return (void *)failures;
}

START_TEST(test_http_sink_delivers_from_several_threads_at_once)
{
    ck_assert_int_eq(start_sink(settings_for("/in")), LH_OK);
    json_t *event = lead_created("form-42", "ada@analytical.example");
    pthread_t threads[PARALLEL_THREADS];
    for (int i = 0; i < PARALLEL_THREADS; i++) {
        ck_assert_int_eq(pthread_create(&threads[i], NULL, deliver_several, event), 0);
    }
    for (int i = 0; i < PARALLEL_THREADS; i++) {
        void *failures = NULL;
        pthread_join(threads[i], &failures);
        ck_assert_int_eq((intptr_t)failures, 0);
    }
    ck_assert_uint_eq(fake_http_request_count(server), PARALLEL_THREADS * PARALLEL_DELIVERIES);
    for (size_t i = 0; i < PARALLEL_THREADS * PARALLEL_DELIVERIES; i++) {
        struct fake_request seen = fake_http_request(server, i);
        assert_signature_verifies(&seen);
        fake_http_request_free(&seen);
    }
    json_decref(event);
}
END_TEST

START_TEST(test_http_sink_with_batch_size_one_sends_an_object_even_through_deliver_batch)
{
    ck_assert_int_eq(start_sink(settings_for("/in")), LH_OK);
    json_t *event = lead_created("form-1", "ada@analytical.example");
    lh_delivery_t delivery = {.struct_size = sizeof(lh_delivery_t),
                              .id = 1,
                              .idempotency_key = "k1",
                              .event = event,
                              .attempt = 2};
    lh_status_t result;
    char *message;
    struct lh_ctx ctx;
    ctx_init(&ctx, &instance, NULL);
    instance_deliver_batch(&instance, &ctx, &delivery, 1, &result, &message);
    ctx_clear(&ctx);
    ck_assert_int_eq(result, LH_OK);
    struct fake_request seen = fake_http_request(server, 0);
    char *compact = json_dumps(event, JSON_COMPACT);
    ck_assert_str_eq(seen.body, compact);
    assert_header(&seen, "Idempotency-Key", "k1");
    assert_header(&seen, "X-Leadhub-Delivery-Attempt", "2");
    free(compact);
    fake_http_request_free(&seen);
    json_decref(event);
}
END_TEST

START_TEST(test_http_sink_init_refuses_a_url_that_is_not_http)
{
    struct {
        const char *url;
        const char *reason;
    } cases[] = {
        {"ftp://files.example/in", "url: must start with http:// or https://"},
        {"crm.example/hooks", "url: must start with http:// or https://"},
        {"HTTPS://crm.example/hooks", "url: must start with http:// or https://"},
        {"https:///hooks", "url: names no host"},
        {"https://crm.example/a b", "url: must not contain spaces"},
        {"https://bot:hunter2@crm.example/", "url: must not carry credentials"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *settings = settings_for("/in");
        json_object_set_new(settings, "url", json_string(cases[i].url));
        char *reason = init_refusal(settings);
        ck_assert_msg(strstr(reason, cases[i].reason) != NULL, "%s: \"%s\" lacks \"%s\"",
                      cases[i].url, reason, cases[i].reason);
        ck_assert_ptr_null(strstr(reason, "hunter2"));
        free(reason);
    }
}
END_TEST

START_TEST(test_http_sink_init_refuses_headers_the_plugin_sets_itself)
{
    const char *names[] = {"Authorization",       "content-type",        "Idempotency-Key",
                           "X-Leadhub-Signature", "x-leadhub-timestamp", "X-Leadhub-Anything",
                           "Content-Length"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        json_t *settings = settings_for("/in");
        json_object_set_new(settings, "headers", json_pack("{s:s}", names[i], "v"));
        char *reason = init_refusal(settings);
        char *expected = util_printf("headers: \"%s\" is set by the plugin", names[i]);
        ck_assert_msg(strstr(reason, expected) != NULL, "\"%s\" lacks \"%s\"", reason, expected);
        free(expected);
        free(reason);
    }
    json_t *settings = settings_for("/in");
    json_object_set_new(settings, "headers", json_pack("{s:s}", "Authorization", "Basic eA=="));
    char *reason = init_refusal(settings);
    ck_assert_ptr_nonnull(strstr(reason, "use bearer_token"));
    free(reason);
}
END_TEST

START_TEST(test_http_sink_init_refuses_a_header_value_with_a_newline)
{
    json_t *settings = settings_for("/in");
    json_object_set_new(settings, "headers",
                        json_pack("{s:s}", "X-Team", "sales\r\nX-Injected: yes"));
    char *reason = init_refusal(settings);
    ck_assert_ptr_nonnull(
        strstr(reason, "headers: the value of \"X-Team\" must not contain CR, LF (a newline)"));
    ck_assert_ptr_null(strstr(reason, "X-Injected")); /* the value is not echoed */
    free(reason);
}
END_TEST

START_TEST(test_http_sink_init_refuses_malformed_headers_settings)
{
    struct {
        json_t *headers;
        const char *reason;
    } cases[] = {
        {json_pack("[s]", "X-Team: sales"), "headers: must be an object"},
        {json_pack("{s:s}", "Bad Name", "v"), "headers: \"Bad Name\" is not a valid header name"},
        {json_pack("{s:s}", "", "v"), "headers: \"\" is not a valid header name"},
        {json_pack("{s:i}", "X-Tenant-Id", 42), "the value of \"X-Tenant-Id\" must be a string"},
        {json_pack("{s:s, s:s}", "X-Team", "a", "x-team", "b"), "\"x-team\" is given twice"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *settings = settings_for("/in");
        json_object_set_new(settings, "headers", cases[i].headers);
        char *reason = init_refusal(settings);
        ck_assert_msg(strstr(reason, cases[i].reason) != NULL, "case %zu: \"%s\" lacks \"%s\"", i,
                      reason, cases[i].reason);
        free(reason);
    }
}
END_TEST

START_TEST(test_http_sink_init_refuses_a_list_of_secrets)
{
    setenv("HTTP_SECRET_OLD", "old-" SECRET, 1);
    json_t *settings = settings_for("/in");
    json_object_set_new(settings, "secret",
                        json_pack("[s,s]", "${HTTP_SECRET_OLD}", "${HTTP_SECRET}"));
    char *reason = init_refusal(settings);
    ck_assert_ptr_nonnull(strstr(reason, "secret: give one value"));
    free(reason);
}
END_TEST

START_TEST(test_http_sink_keeps_secrets_out_of_every_error)
{
    json_t *settings = settings_for("/in");
    json_object_set_new(settings, "bearer_token", json_string("${HTTP_TOKEN}"));
    json_object_set_new(settings, "timeout", json_string("300ms"));
    ck_assert_int_eq(start_sink(settings), LH_OK);
    /* receivers that quote what they were sent back in their errors */
    fake_http_push(
        server, (struct fake_response){401, "invalid token " TOKEN " for this endpoint", NULL, 0});
    fake_http_push(server,
                   (struct fake_response){400, "{\"expected_key\":\"" SECRET "\"}", NULL, 0});
    fake_http_push(server, (struct fake_response){500, "Authorization: Bearer " TOKEN, NULL, 0});
    fake_http_push(server, (struct fake_response){429, TOKEN, "Retry-After: 1", 0});
    fake_http_push(server, (struct fake_response){200, "{}", NULL, 2000}); /* times out */
    json_t *event = lead_created("form-42", "ada@analytical.example");
    const lh_status_t expected[] = {LH_PERMANENT, LH_PERMANENT, LH_RETRY, LH_RETRY_AFTER, LH_RETRY};
    for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
        struct lh_ctx ctx;
        ck_assert_int_eq(deliver(event, "k", 1, &ctx), expected[i]);
        ck_assert_ptr_nonnull(ctx.error);
        assert_no_secret(ctx.error);
        if (i < 4) {
            ck_assert_msg(strstr(ctx.error, "[redacted]") != NULL, "%s", ctx.error);
        }
        ctx_clear(&ctx);
    }
    /* and init refusals, with both secrets resolved before the refusal */
    json_t *bad = settings_for("/in");
    json_object_set_new(bad, "bearer_token", json_string("${HTTP_TOKEN}"));
    json_object_set_new(bad, "headers", json_pack("{s:s}", "X-Leadhub-Signature", "x"));
    free(init_refusal(bad)); /* init_refusal asserts no secret in the reason */
    json_decref(event);
}
END_TEST

static Suite *http_sink_suite(void)
{
    Suite *s = suite_create("http_sink_plugin");
    TCase *tc = tcase_create("http_sink");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_http_sink_descriptor_is_a_reentrant_sink_with_both_callbacks);
    tcase_add_test(tc, test_http_sink_transport_failure_is_retry_with_the_hosts_reason);
    tcase_add_test(tc, test_http_sink_timeout_is_retry);
    tcase_add_test(tc, test_http_sink_batch_is_one_request_with_an_array_body_and_joined_keys);
    tcase_add_test(tc, test_http_sink_batch_answer_sets_every_result);
    tcase_add_test(tc, test_http_sink_batch_leaves_out_a_delivery_without_an_event);
    tcase_add_test(tc, test_http_sink_delivers_from_several_threads_at_once);
    tcase_add_test(tc,
                   test_http_sink_with_batch_size_one_sends_an_object_even_through_deliver_batch);
    tcase_add_test(tc, test_http_sink_init_refuses_a_url_that_is_not_http);
    tcase_add_test(tc, test_http_sink_init_refuses_headers_the_plugin_sets_itself);
    tcase_add_test(tc, test_http_sink_init_refuses_a_header_value_with_a_newline);
    tcase_add_test(tc, test_http_sink_init_refuses_malformed_headers_settings);
    tcase_add_test(tc, test_http_sink_init_refuses_a_list_of_secrets);
    tcase_add_test(tc, test_http_sink_keeps_secrets_out_of_every_error);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = tu_run_suite(http_sink_suite());
    curl_global_cleanup();
    return rc;
}
