/*
 * test_host_api.c - the function table plugins receive: every slot filled, and each
 * service keeping its promises (emit validates and batches, checkpoints stay in the call
 * until commit, plugin metrics are named safely, the HTTP client retries as documented).
 */
#include <check.h>
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "fake_http.h"
#include "instance.h"
#include "poller.h"
#include "metrics.h"
#include "util.h"
#include "testutil.h"

static const lh_config_field_t empty_schema[] = {LH_FIELD_END};
static const lh_plugin_t test_descriptor = {
    LH_PLUGIN_HEADER, .kind = LH_KIND_SOURCE, .name = "tester",
    .version = "1",   .description = "test",  .config_schema = empty_schema,
};
static const struct plugin test_plugin = {
    .name = "tester", .path = "/dev/null", .desc = &test_descriptor};

static struct host_services services;
static struct instance instance;
static struct config_instance config_instance = {.name = "unit"};
static atomic_bool stopping;

static void setup(void)
{
    memset(&services, 0, sizeof(services));
    services.metrics = metrics_create();
    atomic_init(&stopping, false);
    services.stopping = &stopping;
    pthread_mutex_init(&services.store_mutex, NULL);
    ck_assert_int_eq(
        instance_setup(&instance, &config_instance, &test_plugin, json_object(), &services), 0);
}

static void teardown(void)
{
    instance_teardown(&instance);
    pthread_mutex_destroy(&services.store_mutex);
    metrics_free(services.metrics);
}

START_TEST(test_host_table_has_every_slot_filled)
{
    const lh_host_t *host = host_api_table();
    ck_assert_uint_eq(host->struct_size, sizeof(lh_host_t));
    ck_assert_int_eq(host->abi_major, LH_ABI_MAJOR);
    ck_assert_int_eq(host->abi_minor, LH_ABI_MINOR);
    /* Everything after the header is a function pointer: none may be NULL. */
    typedef void (*any_fn)(void);
    size_t first = offsetof(lh_host_t, log);
    size_t slots = (sizeof(lh_host_t) - first) / sizeof(any_fn);
    ck_assert_uint_eq(slots, 28); /* ABI 2.1: grows with each minor; every new slot is checked */
    for (size_t i = 0; i < slots; i++) {
        any_fn fn;
        memcpy(&fn, (const char *)host + first + i * sizeof(any_fn), sizeof(fn));
        ck_assert_msg(fn != NULL, "host table slot %zu is empty", i);
    }
    ck_assert(LH_HOST_HAS(host, lead_identity_put));
    ck_assert(LH_HOST_HAS(host, poll_soon));
}
END_TEST

START_TEST(test_emit_validates_and_collects_into_the_call_batch)
{
    const lh_host_t *host = host_api_table();
    struct ingest_batch batch = {0};
    struct lh_ctx ctx;
    ctx_init(&ctx, &instance, &batch);
    json_t *good = json_pack("{s:s,s:s,s:s}", "type", "email.sent", "source_id", "m1",
                             "occurred_at", "2026-11-27T10:00:00Z");
    ck_assert_int_eq(host->emit(&ctx, good), LH_OK);
    ck_assert_uint_eq(batch.event_count, 1);
    ck_assert_str_eq(batch.events[0].source, "unit");

    json_t *bad = json_pack("{s:s,s:s}", "type", "email.sent", "source_id", "m2");
    ck_assert_int_eq(host->emit(&ctx, bad), LH_PERMANENT);
    ck_assert_str_eq(ctx.error, "event 2: occurred_at: required, an RFC 3339 date-time");
    ck_assert_uint_eq(batch.event_count, 1);
    ck_assert_int_eq(metrics_get(services.metrics, "leadhub_events_rejected_total", "instance",
                                 "unit", "type", "email.sent", METRICS_END),
                     1);
    ctx_clear(&ctx);
    ingest_batch_clear(&batch);
}
END_TEST

START_TEST(test_emit_and_checkpoint_put_outside_poll_or_webhook_are_refused)
{
    const lh_host_t *host = host_api_table();
    struct lh_ctx ctx;
    ctx_init(&ctx, &instance, NULL);
    json_t *event = json_pack("{s:s,s:s,s:s}", "type", "email.sent", "source_id", "m1",
                              "occurred_at", "2026-11-27T10:00:00Z");
    ck_assert_int_eq(host->emit(&ctx, event), LH_PERMANENT);
    ck_assert_ptr_nonnull(strstr(ctx.error, "only allowed during poll and webhook"));
    ck_assert_int_eq(host->checkpoint_put(&ctx, "cursor", json_integer(1)), LH_PERMANENT);
    ctx_clear(&ctx);
}
END_TEST

START_TEST(test_checkpoint_put_is_seen_by_get_in_the_same_call)
{
    const lh_host_t *host = host_api_table();
    struct ingest_batch batch = {0};
    struct lh_ctx ctx;
    ctx_init(&ctx, &instance, &batch);
    ck_assert_int_eq(host->checkpoint_put(&ctx, "history:id", json_integer(7)), LH_OK);
    ck_assert_int_eq(host->checkpoint_put(&ctx, "history:id", json_integer(8)), LH_OK);
    json_t *value = NULL;
    ck_assert_int_eq(host->checkpoint_get(&ctx, "history:id", &value), LH_OK);
    ck_assert_int_eq(json_integer_value(value), 8);
    json_decref(value);
    ck_assert_int_eq(host->checkpoint_put(&ctx, "bad key!", json_integer(1)), LH_PERMANENT);
    ck_assert_int_eq(host->checkpoint_get(&ctx, "", &value), LH_PERMANENT);
    ctx_clear(&ctx);
    ingest_batch_clear(&batch);
}
END_TEST

START_TEST(test_plugin_metrics_are_prefixed_and_bad_names_ignored)
{
    const lh_host_t *host = host_api_table();
    struct lh_ctx ctx;
    ctx_init(&ctx, &instance, NULL);
    host->counter_add(&ctx, "pages_fetched", NULL, NULL, 2);
    host->counter_add(&ctx, "pages_fetched", NULL, NULL, 3);
    host->gauge_set(&ctx, "cursor_age_seconds", "kind", "history", 42);
    host->counter_add(&ctx, "Bad-Name", NULL, NULL, 1);
    host->counter_add(&ctx, "ok", "instance", "spoofed", 1);
    ck_assert_int_eq(metrics_get(services.metrics, "leadhub_plugin_pages_fetched", "instance",
                                 "unit", METRICS_END),
                     5);
    ck_assert_int_eq(metrics_get(services.metrics, "leadhub_plugin_cursor_age_seconds", "instance",
                                 "unit", "kind", "history", METRICS_END),
                     42);
    char *text = metrics_render(services.metrics);
    ck_assert_ptr_null(strstr(text, "Bad-Name"));
    ck_assert_ptr_null(strstr(text, "spoofed"));
    free(text);
    ctx_clear(&ctx);
}
END_TEST

START_TEST(test_set_error_retry_after_and_respond_are_kept_in_the_context)
{
    const lh_host_t *host = host_api_table();
    struct lh_ctx ctx;
    ctx_init(&ctx, &instance, NULL);
    host->set_error(&ctx, "first %d", 1);
    host->set_error(&ctx, "second %s", "reason");
    ck_assert_str_eq(ctx.error, "second reason");
    host->set_retry_after(&ctx, 90000000);
    ck_assert_int_eq(ctx.retry_after_ms, 3600000); /* capped at an hour */
    /* a poll may be held for a provider's day (LinkedIn's limits reset at midnight UTC) */
    ctx.in_poll = true;
    host->set_retry_after(&ctx, 20LL * 3600 * 1000);
    ck_assert_int_eq(ctx.retry_after_ms, 20LL * 3600 * 1000);
    host->set_retry_after(&ctx, 90000000);
    ck_assert_int_eq(ctx.retry_after_ms, 25LL * 3600 * 1000);
    ctx.in_poll = false;
    host->respond(&ctx, 202, "text/plain", "challenge", 9);
    ck_assert_int_eq(ctx.response_status, 202);
    ck_assert_str_eq(ctx.response_body, "challenge");
    host->respond(&ctx, 42, "text/plain", "x", 1); /* not an HTTP status: ignored */
    ck_assert_int_eq(ctx.response_status, 202);
    ck_assert_str_eq(host->instance_name(&ctx), "unit");
    ck_assert_int_eq(host->should_stop(&ctx), 0);
    atomic_store(&stopping, true);
    ck_assert_int_eq(host->should_stop(&ctx), 1);
    ctx_clear(&ctx);
}
END_TEST

START_TEST(test_crypto_helpers_match_known_vectors)
{
    const lh_host_t *host = host_api_table();
    /* RFC 4231, test case 2 */
    unsigned char digest[32];
    host->hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, digest);
    char hex[65];
    lh_hex_encode(digest, 32, hex);
    ck_assert_str_eq(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    unsigned char other[32];
    memcpy(other, digest, 32);
    ck_assert_int_eq(host->digest_equal(digest, other, 32), 1);
    other[31] ^= 1;
    ck_assert_int_eq(host->digest_equal(digest, other, 32), 0);
    char b64[16];
    ck_assert_uint_eq(host->base64_encode("hi!?", 4, b64), 8);
    ck_assert_str_eq(b64, "aGkhPw==");
}
END_TEST

START_TEST(test_http_returns_response_with_lowercased_headers)
{
    struct fake_http *server = fake_http_start();
    fake_http_push(server, (struct fake_response){201, "{\"id\":1}", "X-Request-Id: abc", 0});
    char *url = fake_http_url(server, "/v1/things?limit=2");
    const lh_header_t headers[] = {{"Authorization", "Bearer sk_test_secret"}};
    lh_http_request_t request = LH_HTTP_REQUEST(.method = "POST", .url = url, .headers = headers,
                                                .header_count = 1, .body = "{}", .body_len = 2);
    lh_http_response_t response = LH_HTTP_RESPONSE_INIT;
    const lh_host_t *host = host_api_table();
    struct lh_ctx ctx;
    ctx_init(&ctx, &instance, NULL);
    ck_assert_int_eq(host->http(&ctx, &request, &response), LH_OK);
    ck_assert_int_eq(response.status, 201);
    ck_assert_str_eq(response.body, "{\"id\":1}");
    ck_assert_str_eq(lh_response_header(&response, "x-request-id"), "abc");
    ck_assert_int_eq(response.retry_after_ms, -1);
    ck_assert_int_eq(lh_http_classify(&response), LH_OK);
    host->http_response_free(&response);
    struct fake_request seen = fake_http_request(server, 0);
    ck_assert_str_eq(seen.method, "POST");
    ck_assert_str_eq(seen.url, "/v1/things?limit=2");
    ck_assert_str_eq(seen.body, "{}");
    ck_assert_str_eq(seen.authorization, "Bearer sk_test_secret");
    fake_http_request_free(&seen);
    ctx_clear(&ctx);
    free(url);
    fake_http_stop(server);
}
END_TEST

START_TEST(test_http_retries_429_honouring_retry_after_then_succeeds)
{
    struct fake_http *server = fake_http_start();
    fake_http_push(server, (struct fake_response){429, "{}", "Retry-After: 1", 0});
    fake_http_push(server, (struct fake_response){503, "{}", NULL, 0});
    fake_http_push(server, (struct fake_response){200, "{\"ok\":true}", NULL, 0});
    char *url = fake_http_url(server, "/events");
    lh_http_request_t request = LH_HTTP_REQUEST(.method = "GET", .url = url, .max_attempts = 4);
    lh_http_response_t response = LH_HTTP_RESPONSE_INIT;
    const lh_host_t *host = host_api_table();
    struct lh_ctx ctx;
    ctx_init(&ctx, &instance, NULL);
    int64_t started = util_monotonic_ms();
    ck_assert_int_eq(host->http(&ctx, &request, &response), LH_OK);
    ck_assert_int_eq(response.status, 200);
    ck_assert_uint_eq(fake_http_request_count(server), 3);
    ck_assert_int_ge(util_monotonic_ms() - started, 1000); /* waited as told */
    host->http_response_free(&response);
    ck_assert_int_eq(metrics_get(services.metrics, "leadhub_http_client_requests_total", "instance",
                                 "unit", "status", "429", METRICS_END),
                     1);
    ctx_clear(&ctx);
    free(url);
    fake_http_stop(server);
}
END_TEST

START_TEST(test_http_gives_up_after_max_attempts_with_the_last_response)
{
    struct fake_http *server = fake_http_start();
    fake_http_push(server, (struct fake_response){500, "{\"error\":\"boom\"}", NULL, 0});
    char *url = fake_http_url(server, "/fail");
    lh_http_request_t request = LH_HTTP_REQUEST(.method = "GET", .url = url, .max_attempts = 2);
    lh_http_response_t response = LH_HTTP_RESPONSE_INIT;
    const lh_host_t *host = host_api_table();
    struct lh_ctx ctx;
    ctx_init(&ctx, &instance, NULL);
    ck_assert_int_eq(host->http(&ctx, &request, &response), LH_OK);
    ck_assert_int_eq(response.status, 500);
    ck_assert_int_eq(lh_http_classify(&response), LH_RETRY);
    ck_assert_uint_eq(fake_http_request_count(server), 2);
    host->http_response_free(&response);
    ctx_clear(&ctx);
    free(url);
    fake_http_stop(server);
}
END_TEST

/* A GET of `path` with up to four attempts and the retry hint naming Stripe-Should-Retry;
 * returns the last answer's status and how many requests the server saw. */
static long get_with_retry_hint(struct fake_http *server, const char *path, size_t *requests_out,
                                char **hint_out)
{
    char *url = fake_http_url(server, path);
    const lh_header_t headers[] = {{"Accept", "application/json"}};
    lh_http_request_t request =
        LH_HTTP_REQUEST(.method = "GET", .url = url, .headers = headers, .header_count = 1,
                        .max_attempts = 4, .retry_hint_header = "Stripe-Should-Retry");
    lh_http_response_t response = LH_HTTP_RESPONSE_INIT;
    const lh_host_t *host = host_api_table();
    struct lh_ctx ctx;
    ctx_init(&ctx, &instance, NULL);
    ck_assert_int_eq(host->http(&ctx, &request, &response), LH_OK);
    long status = response.status;
    const char *hint = lh_response_header(&response, "stripe-should-retry");
    *hint_out = hint != NULL ? strdup(hint) : NULL;
    *requests_out = fake_http_request_count(server);
    host->http_response_free(&response);
    ctx_clear(&ctx);
    free(url);
    return status;
}

START_TEST(test_http_retry_hint_false_stops_the_retries_of_a_5xx)
{
    struct fake_http *server = fake_http_start();
    fake_http_push(server, (struct fake_response){503, "{}", "Stripe-Should-Retry: false", 0});
    size_t requests = 0;
    char *hint = NULL;
    ck_assert_int_eq(get_with_retry_hint(server, "/v1/events", &requests, &hint), 503);
    ck_assert_uint_eq(requests, 1);  /* max_attempts 4, but the provider said it will not pass */
    ck_assert_str_eq(hint, "false"); /* the plugin sees the hint too */
    /* the hint is the host's: only the plugin's own headers reach the provider */
    struct fake_request seen = fake_http_request(server, 0);
    ck_assert_ptr_null(strcasestr(seen.headers, "stripe-should-retry"));
    ck_assert_ptr_nonnull(strcasestr(seen.headers, "accept: application/json"));
    fake_http_request_free(&seen);
    free(hint);
    fake_http_stop(server);
}
END_TEST

START_TEST(test_http_retry_hint_true_retries_a_status_the_host_would_not)
{
    struct fake_http *server = fake_http_start();
    fake_http_push(server, (struct fake_response){409, "{\"error\":{\"code\":\"lock_timeout\"}}",
                                                  "Stripe-Should-Retry: true", 0});
    fake_http_push(server, (struct fake_response){200, "{\"data\":[]}", NULL, 0});
    size_t requests = 0;
    char *hint = NULL;
    ck_assert_int_eq(get_with_retry_hint(server, "/v1/events", &requests, &hint), 200);
    ck_assert_uint_eq(requests, 2);
    ck_assert_ptr_null(hint);
    fake_http_stop(server);
}
END_TEST

START_TEST(test_http_without_a_retry_hint_the_status_decides)
{
    /* the same answers without the directive: a 409 is not retried, a 503 is, whatever the
     * provider's header says */
    struct fake_http *server = fake_http_start();
    fake_http_push(server, (struct fake_response){409, "{}", "Stripe-Should-Retry: true", 0});
    char *url = fake_http_url(server, "/conflict");
    lh_http_request_t request = LH_HTTP_REQUEST(.method = "GET", .url = url, .max_attempts = 3);
    lh_http_response_t response = LH_HTTP_RESPONSE_INIT;
    const lh_host_t *host = host_api_table();
    struct lh_ctx ctx;
    ctx_init(&ctx, &instance, NULL);
    ck_assert_int_eq(host->http(&ctx, &request, &response), LH_OK);
    ck_assert_int_eq(response.status, 409);
    ck_assert_uint_eq(fake_http_request_count(server), 1);
    host->http_response_free(&response);
    fake_http_stop(server);
    free(url);

    server = fake_http_start();
    fake_http_push(server, (struct fake_response){503, "{}", "Stripe-Should-Retry: false", 0});
    fake_http_push(server, (struct fake_response){200, "{}", NULL, 0});
    url = fake_http_url(server, "/unavailable");
    request.url = url;
    ck_assert_int_eq(host->http(&ctx, &request, &response), LH_OK);
    ck_assert_int_eq(response.status, 200);
    ck_assert_uint_eq(fake_http_request_count(server), 2);
    host->http_response_free(&response);
    ctx_clear(&ctx);
    fake_http_stop(server);
    free(url);
}
END_TEST

START_TEST(test_http_long_retry_after_is_returned_not_slept)
{
    struct fake_http *server = fake_http_start();
    fake_http_push(server, (struct fake_response){429, "{}", "Retry-After: 3600", 0});
    char *url = fake_http_url(server, "/slow-down");
    lh_http_request_t request = LH_HTTP_REQUEST(.method = "GET", .url = url, .max_attempts = 5);
    lh_http_response_t response = LH_HTTP_RESPONSE_INIT;
    const lh_host_t *host = host_api_table();
    struct lh_ctx ctx;
    ctx_init(&ctx, &instance, NULL);
    ck_assert_int_eq(host->http(&ctx, &request, &response), LH_OK);
    ck_assert_int_eq(response.status, 429);
    ck_assert_int_eq(response.retry_after_ms, 3600000);
    ck_assert_int_eq(lh_http_classify(&response), LH_RETRY_AFTER);
    ck_assert_uint_eq(fake_http_request_count(server), 1);
    host->http_response_free(&response);
    ctx_clear(&ctx);
    free(url);
    fake_http_stop(server);
}
END_TEST

START_TEST(test_http_transport_failure_is_retry_with_reason)
{
    const lh_host_t *host = host_api_table();
    struct lh_ctx ctx;
    ctx_init(&ctx, &instance, NULL);
    lh_http_request_t request =
        LH_HTTP_REQUEST(.method = "GET", .url = "http://127.0.0.1:1/x?token=secret",
                        .timeout_ms = 2000);
    lh_http_response_t response = LH_HTTP_RESPONSE_INIT;
    ck_assert_int_eq(host->http(&ctx, &request, &response), LH_RETRY);
    ck_assert_ptr_nonnull(ctx.error);
    ck_assert_ptr_null(strstr(ctx.error, "secret")); /* queries may carry tokens */
    host->http_response_free(&response);

    lh_http_request_t bad = LH_HTTP_REQUEST(.method = "GET", .url = "file:///etc/passwd");
    ck_assert_int_eq(host->http(&ctx, &bad, &response), LH_PERMANENT);
    host->http_response_free(&response);
    ctx_clear(&ctx);
}
END_TEST

/* A provider that applies a POST and resets the connection before answering: the client
 * must not send the POST again by itself (libcurl does, on a reused connection). */
START_TEST(test_http_write_sent_once_is_not_resent_after_a_reset)
{
    const lh_host_t *host = host_api_table();
    struct lh_ctx ctx;
    ctx_init(&ctx, &instance, NULL);
    struct fake_http *server = fake_http_start();
    fake_http_route(server, "/read", (struct fake_response){200, "{}", NULL, 0}, 0);
    fake_http_route(server, "/create", (struct fake_response){FAKE_RESET, NULL, NULL, 0}, 0);
    char *read_url = fake_http_url(server, "/read");
    char *create_url = fake_http_url(server, "/create");
    /* a read first: its connection is the one kept for the write */
    lh_http_request_t read = LH_HTTP_REQUEST(.method = "GET", .url = read_url);
    lh_http_response_t response = LH_HTTP_RESPONSE_INIT;
    ck_assert_int_eq(host->http(&ctx, &read, &response), LH_OK);
    host->http_response_free(&response);
    lh_http_request_t create = LH_HTTP_REQUEST(.method = "POST", .url = create_url, .body = "{}",
                                               .body_len = 2, .max_attempts = 1);
    ck_assert_int_eq(host->http(&ctx, &create, &response), LH_RETRY);
    host->http_response_free(&response);
    ck_assert_uint_eq(fake_http_request_count(server), 2);
    free(read_url);
    free(create_url);
    fake_http_stop(server);
    ctx_clear(&ctx);
}
END_TEST

START_TEST(test_http_does_not_follow_redirects)
{
    struct fake_http *server = fake_http_start();
    fake_http_push(server, (struct fake_response){302, "", "Location: http://127.0.0.1:1/", 0});
    char *url = fake_http_url(server, "/moved");
    lh_http_request_t request = LH_HTTP_REQUEST(.method = "GET", .url = url);
    lh_http_response_t response = LH_HTTP_RESPONSE_INIT;
    const lh_host_t *host = host_api_table();
    struct lh_ctx ctx;
    ctx_init(&ctx, &instance, NULL);
    ck_assert_int_eq(host->http(&ctx, &request, &response), LH_OK);
    ck_assert_int_eq(response.status, 302);
    ck_assert_int_eq(lh_http_classify(&response), LH_PERMANENT);
    host->http_response_free(&response);
    ctx_clear(&ctx);
    free(url);
    fake_http_stop(server);
}
END_TEST

START_TEST(test_respond_refuses_a_content_type_that_could_inject_a_header)
{
    const lh_host_t *host = host_api_table();
    struct lh_ctx ctx;
    ctx_init(&ctx, &instance, NULL);
    host->respond(&ctx, 200, "text/plain\r\nSet-Cookie: a=b", "x", 1);
    ck_assert_int_eq(ctx.response_status, 0);
    host->respond(&ctx, 200, NULL, "token", 5); /* NULL is text/plain */
    ck_assert_str_eq(ctx.response_content_type, "text/plain");
    ctx_clear(&ctx);
}
END_TEST

/* In a webhook the puts wait in the call's batch and ask for a poll; in a poll they wait
 * for the next one; elsewhere (no batch, no delivery) they are refused. */
START_TEST(test_notification_put_goes_with_the_call_and_asks_for_a_poll_from_webhooks_only)
{
    const lh_host_t *host = host_api_table();
    struct ingest_batch batch = {0};
    struct lh_ctx ctx;
    ctx_init(&ctx, &instance, &batch);
    ck_assert_int_eq(host->notification_put(&ctx, "contact:1", json_pack("{s:i}", "at", 1)), LH_OK);
    ctx.in_poll = true;
    ck_assert_int_eq(host->notification_put(&ctx, "contact:2", json_integer(2)), LH_OK);
    ck_assert_uint_eq(batch.notification_count, 2);
    char *channel = poller_sync_channel("unit");
    ck_assert_str_eq(batch.notifications[0].wake, channel);
    ck_assert_ptr_null(batch.notifications[1].wake);
    free(channel);

    /* a bad key, a value past 64 KiB: refused, the value stolen all the same */
    ck_assert_int_eq(host->notification_put(&ctx, "has space", json_integer(1)), LH_PERMANENT);
    char *big = malloc(70 * 1024);
    memset(big, 'x', 70 * 1024 - 1);
    big[70 * 1024 - 1] = '\0';
    ck_assert_int_eq(host->notification_put(&ctx, "big", json_string(big)), LH_PERMANENT);
    ck_assert_ptr_nonnull(strstr(ctx.error, "larger than 64 KiB"));
    free(big);
    ck_assert_uint_eq(batch.notification_count, 2);
    ctx_clear(&ctx);
    ingest_batch_clear(&batch);

    ctx_init(&ctx, &instance, NULL);
    ck_assert_int_eq(host->notification_put(&ctx, "contact:3", json_integer(3)), LH_PERMANENT);
    ck_assert_ptr_nonnull(strstr(ctx.error, "only allowed during poll, webhook and deliver"));
    ctx_clear(&ctx);
}
END_TEST

START_TEST(test_take_and_keep_belong_to_a_poll_and_poll_soon_wakes_once_per_call)
{
    const lh_host_t *host = host_api_table();
    struct ingest_batch batch = {0};
    struct lh_ctx ctx;
    ctx_init(&ctx, &instance, &batch); /* a webhook's context */
    json_t *items = (json_t *)&batch;  /* anything: it must come back NULL */
    ck_assert_int_eq(host->notifications_take(&ctx, 0, &items), LH_PERMANENT);
    ck_assert_ptr_null(items);
    ck_assert_int_eq(host->notification_keep(&ctx, "contact:1"), LH_PERMANENT);
    ck_assert_int_eq(host->poll_soon(&ctx), LH_OK);
    ck_assert_int_eq(host->poll_soon(&ctx), LH_OK);
    ck_assert_uint_eq(batch.wake_count, 1); /* one NOTIFY at commit, however often asked */
    /* keep: only what this call took */
    ctx.in_poll = true;
    ck_assert_int_eq(ingest_batch_take(&batch, "unit", "contact:7", 41), 0);
    ck_assert_int_eq(host->notification_keep(&ctx, "contact:8"), LH_PERMANENT);
    ck_assert_int_eq(host->notification_keep(&ctx, "contact:7"), LH_OK);
    ck_assert_uint_eq(batch.taken_count, 0);
    ctx_clear(&ctx);
    ingest_batch_clear(&batch);
}
END_TEST

/* In init(), each report names its setting and they all reach the call's error; outside
 * validate() and init() the function does nothing. */
START_TEST(test_config_error_in_init_names_each_setting)
{
    const lh_host_t *host = host_api_table();
    struct lh_ctx ctx;
    ctx_init(&ctx, &instance, NULL);
    host->config_error(&ctx, "url", NULL, "not now");
    ck_assert_ptr_null(ctx.error);
    ctx.in_init = true;
    host->config_error(&ctx, "url", "write https://...", "must start with %s", "https://");
    host->config_error(&ctx, "event_types[2]", NULL, "\"x\" is not mapped");
    ck_assert_str_eq(ctx.error, "url: must start with https:// (write https://...); "
                                "event_types[2]: \"x\" is not mapped");
    ck_assert_uint_eq(ctx.config_errors, 2);
    ctx_clear(&ctx);
}
END_TEST

/* validate() runs where no instance exists: no network, no state. And a plugin's structs
 * are read only as far as their struct_size says they go. */
START_TEST(test_http_refuses_validate_and_structs_without_their_size)
{
    const lh_host_t *host = host_api_table();
    struct lh_ctx ctx;
    ctx_init(&ctx, &instance, NULL);
    ctx.validating = true;
    lh_http_request_t request = LH_HTTP_REQUEST(.method = "GET", .url = "http://127.0.0.1:9/");
    lh_http_response_t response = LH_HTTP_RESPONSE_INIT;
    ck_assert_int_eq(host->http(&ctx, &request, &response), LH_PERMANENT);
    ck_assert_ptr_nonnull(strstr(ctx.error, "validate() may not use the network"));
    ck_assert_int_eq(response.retry_after_ms, -1);
    ck_assert_uint_eq(response.struct_size, sizeof(response)); /* its size kept */
    ctx.validating = false;
    lh_http_request_t unsized = {.method = "GET", .url = "http://127.0.0.1:9/"};
    ck_assert_int_eq(host->http(&ctx, &unsized, &response), LH_PERMANENT);
    ck_assert_ptr_nonnull(strstr(ctx.error, "LH_HTTP_REQUEST()"));
    lh_http_response_t bare = {0};
    ck_assert_int_eq(host->http(&ctx, &request, &bare), LH_PERMANENT);
    ck_assert_ptr_nonnull(strstr(ctx.error, "LH_HTTP_RESPONSE_INIT"));
    host->http_response_free(&bare); /* an unsized one is left alone */
    ctx_clear(&ctx);
}
END_TEST

/* validate() reports: init() is never called, and the instance fails with the reports. */
static int init_calls;

static lh_status_t refusing_validate(lh_ctx_t *ctx, const lh_host_t *host, const json_t *settings)
{
    (void)settings;
    host->config_error(ctx, "url", NULL, "is not https");
    return LH_CONFIG;
}

static lh_status_t counting_init(lh_ctx_t *ctx, const lh_host_t *host, const json_t *settings,
                                 void **state_out)
{
    (void)ctx, (void)host, (void)settings;
    init_calls++;
    *state_out = NULL;
    return LH_OK;
}

static void no_destroy(void *state)
{
    (void)state;
}

START_TEST(test_instance_init_runs_validate_first_and_stops_at_its_reports)
{
    static const lh_plugin_t refusing = {LH_PLUGIN_HEADER,
                                         .kind = LH_KIND_SOURCE,
                                         .name = "refusing",
                                         .version = "1",
                                         .description = "test",
                                         .config_schema = empty_schema,
                                         .validate = refusing_validate,
                                         .init = counting_init,
                                         .destroy = no_destroy};
    static const struct plugin plugin = {
        .name = "refusing", .path = "/dev/null", .desc = &refusing};
    struct instance refused;
    ck_assert_int_eq(instance_setup(&refused, &config_instance, &plugin, json_object(), &services),
                     0);
    init_calls = 0;
    ck_assert_int_eq(instance_init(&refused), LH_CONFIG);
    ck_assert_int_eq(init_calls, 0);
    ck_assert_str_eq(refused.last_error, "init failed (config): url: is not https");
    instance_teardown(&refused);
}
END_TEST

static Suite *host_api_suite(void)
{
    Suite *s = suite_create("host_api");
    TCase *tc = tcase_create("host");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_host_table_has_every_slot_filled);
    tcase_add_test(tc, test_emit_validates_and_collects_into_the_call_batch);
    tcase_add_test(tc, test_emit_and_checkpoint_put_outside_poll_or_webhook_are_refused);
    tcase_add_test(tc, test_checkpoint_put_is_seen_by_get_in_the_same_call);
    tcase_add_test(tc, test_plugin_metrics_are_prefixed_and_bad_names_ignored);
    tcase_add_test(tc, test_set_error_retry_after_and_respond_are_kept_in_the_context);
    tcase_add_test(tc, test_crypto_helpers_match_known_vectors);
    tcase_add_test(tc, test_http_returns_response_with_lowercased_headers);
    tcase_add_test(tc, test_http_retries_429_honouring_retry_after_then_succeeds);
    tcase_add_test(tc, test_http_gives_up_after_max_attempts_with_the_last_response);
    tcase_add_test(tc, test_http_retry_hint_false_stops_the_retries_of_a_5xx);
    tcase_add_test(tc, test_http_retry_hint_true_retries_a_status_the_host_would_not);
    tcase_add_test(tc, test_http_without_a_retry_hint_the_status_decides);
    tcase_add_test(tc, test_http_long_retry_after_is_returned_not_slept);
    tcase_add_test(tc, test_http_transport_failure_is_retry_with_reason);
    tcase_add_test(tc, test_http_write_sent_once_is_not_resent_after_a_reset);
    tcase_add_test(tc, test_http_does_not_follow_redirects);
    tcase_add_test(tc, test_respond_refuses_a_content_type_that_could_inject_a_header);
    tcase_add_test(tc,
                   test_notification_put_goes_with_the_call_and_asks_for_a_poll_from_webhooks_only);
    tcase_add_test(tc, test_take_and_keep_belong_to_a_poll_and_poll_soon_wakes_once_per_call);
    tcase_add_test(tc, test_config_error_in_init_names_each_setting);
    tcase_add_test(tc, test_http_refuses_validate_and_structs_without_their_size);
    tcase_add_test(tc, test_instance_init_runs_validate_first_and_stops_at_its_reports);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = tu_run_suite(host_api_suite());
    curl_global_cleanup();
    return rc;
}
