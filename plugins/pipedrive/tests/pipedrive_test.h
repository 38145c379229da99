/*
 * pipedrive_test.h - what the pipedrive unit tests share: the plugin's sources compiled into
 * the test program, an instance on the fake host (leadhub-test.h), and scripted answers in
 * the wire format of Pipedrive's API v2 (/work briefs: the contract the fake server uses).
 */
#ifndef PIPEDRIVE_TEST_H
#define PIPEDRIVE_TEST_H

#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "leadhub-test.h"
#include "testutil.h"

// NOLINTBEGIN(bugprone-suspicious-include)
#include "../pipedrive.c"
#include "../pipedrive_api.c"
#include "../pipedrive_json.c"
#include "../pipedrive_lookup.c"
#include "../pipedrive_sink.c"
#include "../pipedrive_sink_erasure.c"
#include "../pipedrive_sink_meetings.c"
#include "../pipedrive_sink_persons.c"
#include "../pipedrive_source.c"
// NOLINTEND(bugprone-suspicious-include)

#define PT_TOKEN "pd-token-5f2c9a17e3b4d6"
#define PT_BASE  "https://acme.pipedrive.example"
/* Pipedrive's rate-limit headers on an ordinary answer */
#define PT_HEADERS                                                                                 \
    "x-ratelimit-limit: 80\nx-ratelimit-remaining: 79\nx-ratelimit-reset: 2\n"                    \
    "x-daily-requests-left: 9000\n"

static lh_test_t *t;

/* An instance named "crm" with the given extra settings ("" or ", \"k\": v"). */
static void pt_start(const char *extra)
{
    setenv("PD_TOKEN", PT_TOKEN, 1);
    t = lh_test_new(leadhub_plugin_entry(), "crm");
    ck_assert_ptr_nonnull(t);
    char settings[1024];
    snprintf(settings, sizeof(settings),
             "{\"api_token\": \"${PD_TOKEN}\", \"api_base\": \"" PT_BASE "\"%s}", extra);
    ck_assert_msg(lh_test_init(t, settings) == LH_OK, "init: %s", lh_test_config_errors(t));
}

__attribute__((unused)) static void pt_setup(void)
{
    pt_start(", \"customer_label_id\": 5");
}

static void pt_teardown(void)
{
    ck_assert_ptr_null(lh_test_misuse(t));
    lh_test_free(t);
}

/* A 2xx answer with Pipedrive's envelope around data (JSON text). */
static void pt_answer(const char *method, const char *url_contains, const char *data)
{
    char *body = NULL;
    ck_assert_int_ge(asprintf(&body, "{\"success\": true, \"data\": %s}", data), 0);
    lh_test_http_script(t, LH_TEST_ANSWER(.method = method, .url_contains = url_contains,
                                          .status = 200, .headers = PT_HEADERS, .body = body));
    free(body);
}

/* A listed page: data and the next cursor (NULL: the last page). */
static void pt_page(const char *url_contains, const char *data, const char *next)
{
    char *body = NULL;
    ck_assert_int_ge(asprintf(&body,
                              "{\"success\": true, \"data\": %s, \"additional_data\": "
                              "{\"next_cursor\": %s%s%s}}",
                              data, next ? "\"" : "", next ? next : "null", next ? "\"" : ""),
                     0);
    lh_test_http_script(t, LH_TEST_ANSWER(.method = "GET", .url_contains = url_contains,
                                          .status = 200, .headers = PT_HEADERS, .body = body));
    free(body);
}

/* An error answer in Pipedrive's shape. */
static void pt_error(const char *method, const char *url_contains, long status,
                     const char *headers, const char *error)
{
    char *body = NULL;
    ck_assert_int_ge(asprintf(&body,
                              "{\"success\": false, \"error\": \"%s\", \"errorCode\": %ld, "
                              "\"data\": null}",
                              error, status),
                     0);
    lh_test_http_script(t, LH_TEST_ANSWER(.method = method, .url_contains = url_contains,
                                          .status = status,
                                          .headers = headers != NULL ? headers : PT_HEADERS,
                                          .body = body));
    free(body);
}

/* How many requests the plugin made with this method whose URL contains text. */
static size_t pt_count(const char *method, const char *text)
{
    size_t n = 0;
    for (size_t i = 0; i < lh_test_request_count(t); i++) {
        const lh_test_request_t *r = lh_test_request(t, i);
        if ((method == NULL || strcmp(r->method, method) == 0) && strstr(r->url, text) != NULL) {
            n++;
        }
    }
    return n;
}

/* The nth (0-based) request with this method whose URL contains text. */
static const lh_test_request_t *pt_request(const char *method, const char *text, size_t nth)
{
    for (size_t i = 0; i < lh_test_request_count(t); i++) {
        const lh_test_request_t *r = lh_test_request(t, i);
        if (strcmp(r->method, method) == 0 && strstr(r->url, text) != NULL && nth-- == 0) {
            return r;
        }
    }
    ck_abort_msg("no %s request to %s", method, text);
    return NULL;
}

/* The JSON body of that request (NEW). */
__attribute__((unused)) static json_t *pt_body(const char *method, const char *text, size_t nth)
{
    const lh_test_request_t *r = pt_request(method, text, nth);
    json_t *body = json_loadb(r->body, r->body_len, 0, NULL);
    ck_assert_msg(body != NULL, "%s %s sent no JSON", method, text);
    return body;
}

static void pt_assert_json(const json_t *actual, const char *expected_text)
{
    json_t *expected = json_loads(expected_text, 0, NULL);
    ck_assert_msg(expected != NULL, "bad expectation %s", expected_text);
    char *a = json_dumps(actual, JSON_COMPACT | JSON_SORT_KEYS);
    ck_assert_msg(json_equal(actual, expected), "got      %s\nexpected %s", a, expected_text);
    free(a);
    json_decref(expected);
}

/* No request carried the token anywhere but the x-api-token header. */
static void pt_assert_token_only_in_header(void)
{
    for (size_t i = 0; i < lh_test_request_count(t); i++) {
        const lh_test_request_t *r = lh_test_request(t, i);
        ck_assert_ptr_null(strstr(r->url, PT_TOKEN));
        ck_assert_ptr_null(strstr(r->body, PT_TOKEN));
        ck_assert_str_eq(lh_test_request_header(r, "x-api-token"), PT_TOKEN);
    }
}

#endif
