/*
 * test_http_sink_unit.c - the `http` sink alone, on the fake host (leadhub-test.h): the
 * wire format and signature, the meaning of each answer, what errors quote, its counters,
 * its batch size. test_http_sink.c keeps what needs the real host's HTTP client
 * (transport failures, timeouts, threads, batches through the instance wrappers).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "leadhub-test.h"
#include "testutil.h"

#include "../http.c"

#define SECRET "whsec-test-7f3a91c2"
#define TOKEN  "tok-test-b81d44e0"
#define URL    "https://crm.example/hooks/leadhub?team=sales"

static lh_test_t *t;

/* As the host stores it: already normalized, so the body posted must equal it. */
static const char lead_event[] =
    "{\"type\":\"lead.created\",\"source\":\"linkedin_ads\",\"source_id\":\"form-42\","
    "\"occurred_at\":\"2026-11-27T10:42:00.000Z\",\"lead\":{\"email\":\"ada@analytical.example\","
    "\"first_name\":\"Ada\",\"last_name\":\"Lovelace\"},\"raw\":{\"form_id\":\"f-17\"}}";

static void setup(void)
{
    setenv("HTTP_SECRET", SECRET, 1);
    setenv("HTTP_TOKEN", TOKEN, 1);
    t = lh_test_new(leadhub_plugin_entry(), "crm_out");
    ck_assert_ptr_nonnull(t);
}

static void teardown(void)
{
    ck_assert_ptr_null(lh_test_misuse(t));
    lh_test_free(t);
}

static void start(const char *extra_settings)
{
    char settings[512];
    snprintf(settings, sizeof(settings), "{\"url\":\"%s\",\"secret\":\"${HTTP_SECRET}\"%s%s}", URL,
             extra_settings != NULL ? "," : "", extra_settings != NULL ? extra_settings : "");
    ck_assert_msg(lh_test_init(t, settings) == LH_OK, "init: %s%s", lh_test_error(t),
                  lh_test_config_errors(t));
}

static void answer(long status, const char *headers, const char *body)
{
    lh_test_http_script(t, LH_TEST_ANSWER(.method = "POST", .url_contains = "crm.example",
                                          .status = status, .headers = headers, .body = body));
}

static void assert_no_secret(const char *text)
{
    ck_assert_msg(strstr(text, SECRET) == NULL && strstr(text, TOKEN) == NULL, "leak: %s", text);
}

START_TEST(test_http_sink_posts_the_event_as_compact_json_with_a_verifiable_signature)
{
    start(NULL);
    answer(200, NULL, "{}");
    ck_assert_int_eq(lh_test_deliver(t, lead_event, NULL, 1), LH_OK);
    ck_assert_uint_eq(lh_test_request_count(t), 1);
    const lh_test_request_t *seen = lh_test_request(t, 0);
    ck_assert_str_eq(seen->method, "POST");
    ck_assert_str_eq(seen->url, URL);
    json_t *sent = json_loads(seen->body, 0, NULL);
    json_t *expected = json_loads(lead_event, 0, NULL);
    ck_assert_msg(json_equal(sent, expected), "posted %s", seen->body);
    ck_assert_ptr_null(strstr(seen->body, "\": ")); /* compact */
    json_decref(sent);
    json_decref(expected);
    ck_assert_str_eq(lh_test_request_header(seen, "Content-Type"), "application/json");
    ck_assert_ptr_null(lh_test_request_header(seen, "Authorization"));
    /* the signature verifies as a receiver computes it, with the host's clock */
    const char *timestamp = lh_test_request_header(seen, "X-Leadhub-Timestamp");
    ck_assert_ptr_nonnull(timestamp);
    ck_assert_int_eq(atoll(timestamp), lh_test_clock(t) / 1000);
    char *signed_text = NULL;
    ck_assert_int_ge(asprintf(&signed_text, "%s.%s", timestamp, seen->body), 0);
    unsigned char digest[32];
    lh_test_host(t)->hmac_sha256(SECRET, strlen(SECRET), signed_text, strlen(signed_text), digest);
    free(signed_text);
    char hex[65], signature[80];
    lh_hex_encode(digest, 32, hex);
    snprintf(signature, sizeof(signature), "sha256=%s", hex);
    ck_assert_str_eq(lh_test_request_header(seen, "X-Leadhub-Signature"), signature);
}
END_TEST

START_TEST(test_http_sink_sends_the_idempotency_key_attempt_token_and_headers)
{
    start("\"bearer_token\":\"${HTTP_TOKEN}\",\"headers\":{\"X-Team\":\"sales\"}");
    answer(201, NULL, "{\"id\":\"c-1\"}");
    ck_assert_int_eq(lh_test_deliver(t, lead_event, NULL, 3), LH_OK);
    const lh_test_request_t *seen = lh_test_request(t, 0);
    ck_assert_str_eq(lh_test_request_header(seen, "Idempotency-Key"), "test-1");
    ck_assert_str_eq(lh_test_request_header(seen, "X-Leadhub-Delivery-Attempt"), "3");
    ck_assert_str_eq(lh_test_request_header(seen, "Authorization"), "Bearer " TOKEN);
    ck_assert_str_eq(lh_test_request_header(seen, "X-Team"), "sales");
    /* one attempt: the host's dispatcher retries, never its HTTP client */
    ck_assert_int_le(seen->max_attempts, 1);
}
END_TEST

START_TEST(test_http_sink_answers_mean_ok_permanent_retry_and_hold)
{
    start(NULL);
    struct {
        long status;
        const char *headers;
        lh_status_t expected;
        int64_t retry_after_ms;
    } cases[] = {
        {200, NULL, LH_OK, -1},
        {204, NULL, LH_OK, -1},
        {400, NULL, LH_PERMANENT, -1},
        {401, NULL, LH_PERMANENT, -1}, /* a static token: nothing to refresh */
        {422, NULL, LH_PERMANENT, -1},
        {408, NULL, LH_RETRY, -1},
        {429, NULL, LH_RETRY, -1},
        {503, NULL, LH_RETRY, -1},
        {429, "Retry-After: 30\n", LH_RETRY_AFTER, 30000},
        {503, "Retry-After: 120\n", LH_RETRY_AFTER, 120000},
    };
    size_t count = sizeof(cases) / sizeof(cases[0]);
    for (size_t i = 0; i < count; i++) {
        answer(cases[i].status, cases[i].headers, "{\"error\":\"nope\"}");
    }
    for (size_t i = 0; i < count; i++) {
        lh_status_t status = lh_test_deliver(t, lead_event, NULL, 1);
        ck_assert_msg(status == cases[i].expected, "HTTP %ld: status %d", cases[i].status, status);
        ck_assert(lh_test_retry_after(t) == cases[i].retry_after_ms);
        if (status != LH_OK) {
            char expected[64];
            snprintf(expected, sizeof(expected), "HTTP %ld: {\"error\":\"nope\"}", cases[i].status);
            ck_assert_str_eq(lh_test_error(t), expected);
        }
    }
    ck_assert_uint_eq(lh_test_request_count(t), count); /* one request each */
    ck_assert(lh_test_counter(t, METRIC_RESPONSES, "2xx") == 2);
    ck_assert(lh_test_counter(t, METRIC_RESPONSES, "4xx") == 6); /* 408 and 429 too */
    ck_assert(lh_test_counter(t, METRIC_RESPONSES, "5xx") == 2);
}
END_TEST

START_TEST(test_http_sink_error_quotes_at_most_200_printable_bytes_of_the_body)
{
    start(NULL);
    char long_body[301];
    memset(long_body, 'x', 300);
    long_body[300] = '\0';
    long_body[10] = '\n';
    long_body[11] = '\r';
    long_body[12] = '\t';
    answer(422, NULL, long_body);
    char utf8_body[256];
    memset(utf8_body, 'a', 199);
    strcpy(utf8_body + 199, "\xc3\xa9 and more"); /* the cut at 200 would split the é */
    answer(400, NULL, utf8_body);
    answer(404, NULL, "");
    ck_assert_int_eq(lh_test_deliver(t, lead_event, NULL, 1), LH_PERMANENT);
    ck_assert_uint_eq(strlen(lh_test_error(t)), strlen("HTTP 422: ") + 200 + strlen("..."));
    ck_assert_ptr_null(strpbrk(lh_test_error(t), "\r\n\t"));
    ck_assert_int_eq(lh_test_deliver(t, lead_event, NULL, 1), LH_PERMANENT);
    char expected[260];
    snprintf(expected, sizeof(expected), "HTTP 400: %.199s...", utf8_body);
    ck_assert_str_eq(lh_test_error(t), expected);
    ck_assert_int_eq(lh_test_deliver(t, lead_event, NULL, 1), LH_PERMANENT);
    ck_assert_str_eq(lh_test_error(t), "HTTP 404: (empty body)");
}
END_TEST

START_TEST(test_http_sink_sets_the_hosts_batch_size_from_its_settings)
{
    start("\"batch_size\":25");
    ck_assert_uint_eq(lh_test_batch_size(t), 25);
    start(NULL);
    ck_assert_uint_eq(lh_test_batch_size(t), 1); /* the default: one event per request */
}
END_TEST

START_TEST(test_http_sink_batch_posts_one_array_and_sets_every_result)
{
    start("\"batch_size\":10");
    answer(200, NULL, "{}");
    answer(503, NULL, "busy");
    const char *events[] = {lead_event,
                            "{\"type\":\"lead.created\",\"source\":\"forms\",\"source_id\":\"f-3\","
                            "\"occurred_at\":\"2026-11-27T10:00:00.000Z\","
                            "\"lead\":{\"email\":\"grace@navy.example\"}}"};
    lh_status_t results[2];
    ck_assert_int_eq(lh_test_deliver_batch(t, events, 2, results, NULL), LH_OK);
    ck_assert_int_eq(results[0], LH_OK);
    ck_assert_int_eq(results[1], LH_OK);
    const lh_test_request_t *seen = lh_test_request(t, 0);
    json_t *sent = json_loads(seen->body, 0, NULL);
    ck_assert(json_is_array(sent));
    ck_assert_uint_eq(json_array_size(sent), 2);
    json_decref(sent);
    lh_test_deliver_batch(t, events, 2, results, NULL);
    ck_assert_int_eq(results[0], LH_RETRY);
    ck_assert_int_eq(results[1], LH_RETRY);
    ck_assert_uint_eq(lh_test_request_count(t), 2);
}
END_TEST

START_TEST(test_http_sink_refuses_bad_settings_without_echoing_secrets)
{
    ck_assert_int_eq(lh_test_init(t, "{\"url\":\"ftp://files.example/in\","
                                     "\"secret\":\"${HTTP_SECRET}\"}"),
                     LH_CONFIG);
    ck_assert_ptr_nonnull(strstr(lh_test_config_errors(t), "url: must start with http://"));
    ck_assert_int_eq(lh_test_init(t, "{\"url\":\"https://bot:" SECRET "@crm.example/\","
                                     "\"secret\":\"${HTTP_SECRET}\"}"),
                     LH_CONFIG);
    ck_assert_ptr_nonnull(strstr(lh_test_config_errors(t), "must not carry credentials"));
    assert_no_secret(lh_test_config_errors(t));
    ck_assert_int_eq(lh_test_init(t, "{\"url\":\"" URL "\",\"secret\":\"" SECRET "\"}"), LH_CONFIG);
    assert_no_secret(lh_test_config_errors(t));
    ck_assert_ptr_null(lh_test_state(t));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("http_sink_unit");
    TCase *tc = tcase_create("on the fake host");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_http_sink_posts_the_event_as_compact_json_with_a_verifiable_signature);
    tcase_add_test(tc, test_http_sink_sends_the_idempotency_key_attempt_token_and_headers);
    tcase_add_test(tc, test_http_sink_answers_mean_ok_permanent_retry_and_hold);
    tcase_add_test(tc, test_http_sink_error_quotes_at_most_200_printable_bytes_of_the_body);
    tcase_add_test(tc, test_http_sink_sets_the_hosts_batch_size_from_its_settings);
    tcase_add_test(tc, test_http_sink_batch_posts_one_array_and_sets_every_result);
    tcase_add_test(tc, test_http_sink_refuses_bad_settings_without_echoing_secrets);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
