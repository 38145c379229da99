/*
 * test_meetings.c - meeting outcomes through the real daemon: a calendar-like source (the
 * `webhook` plugin) reports meetings, and the hub says what became of them. A meeting that
 * ended uncanceled with an accepted guest is held (its status through the REST API, and a
 * meeting.held event routed to a sink); a moved one is rescheduled with its previous start;
 * one nobody accepted stays scheduled.
 */
#include <check.h>
#include <curl/curl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "daemon_harness.h"
#include "fake_http.h"
#include "http_client.h"
#include "testdb.h"
#include "testutil.h"
#include "util.h"

#define SECRET     "meetings-inbound-secret"
#define OUT_SECRET "meetings-receiver-secret"
#define API_TOKEN  "meetings-read-token-4c1d"

static struct fake_http *receiver;
static struct test_daemon td;

static void setup(void)
{
    receiver = fake_http_start();
    fake_http_push(receiver, (struct fake_response){200, "{}", NULL, 0});
    td_init(&td, NULL);
    td_webhook_instance(&td, "calendar", SECRET);
    setenv("LHTEST_OUT_SECRET", OUT_SECRET, 1);
    setenv("LHTEST_API_TOKEN", API_TOKEN, 1);
    char *url = fake_http_url(receiver, "/events");
    char *out = util_printf("name: crm\nplugin: http\nsettings:\n  url: %s\n"
                            "  secret: ${LHTEST_OUT_SECRET}\n",
                            url);
    td_connector(&td, "crm", out);
    free(out);
    free(url);
    td.extra_main = strdup("routes:\n  - name: outcomes\n    from: calendar\n"
                           "    types: [\"meeting.held\"]\n    to: [crm]\n"
                           "api:\n  tokens:\n    - name: reader\n      token: ${LHTEST_API_TOKEN}\n"
                           "      scopes: [read]\n");
    int rc = td_start(&td);
    if (rc != 0) {
        char *log = td_log(&td);
        ck_abort_msg("daemon did not become ready (%d):\n%s", rc, log);
    }
}

static void teardown(void)
{
    if (td.pid != 0) {
        ck_assert_int_eq(td_stop(&td), 0);
    }
    td_cleanup(&td);
    fake_http_stop(receiver);
}

/* Posts meeting `id` of type `type`, from start_min to end_min minutes from now. */
static void post_meeting(const char *type, const char *id, int start_min, int end_min,
                         const char *guest_response)
{
    char start[32], end[32], occurred[32];
    util_format_rfc3339(util_now_ms() + (int64_t)start_min * 60000, start);
    util_format_rfc3339(util_now_ms() + (int64_t)end_min * 60000, end);
    util_format_rfc3339(util_now_ms() - 24LL * 3600 * 1000, occurred);
    char *body = util_printf(
        "{\"type\":\"%s\",\"source_id\":\"%s-%d\",\"occurred_at\":\"%s\",\"lead\":{\"email\":"
        "\"%s@prospect.example\"},\"meeting\":{\"external_id\":\"%s\",\"title\":\"Intro\","
        "\"starts_at\":\"%s\",\"ends_at\":\"%s\",\"organizer\":{\"email\":\"rep@us.example\"},"
        "\"attendees\":[{\"email\":\"rep@us.example\",\"response\":\"accepted\"},"
        "{\"email\":\"%s@prospect.example\",\"response\":\"%s\"}]}}",
        type, id, start_min, occurred, id, id, start, end, id, guest_response);
    ck_assert_int_eq(td_post(&td, "calendar", SECRET, body, NULL), 200);
    free(body);
}

/* GET /v1/meetings?status=... as the reader; the page's meetings (NEW). */
static json_t *meetings(const char *query)
{
    char *url = td_url(&td, query);
    const char *headers[] = {"Authorization: Bearer " API_TOKEN, NULL};
    struct http_result r;
    http_request("GET", url, headers, NULL, 0, &r);
    ck_assert_msg(r.status == 200, "%s: %ld %s", query, r.status, r.body);
    json_t *page = json_loads(r.body, 0, NULL);
    json_t *data = json_incref(json_object_get(page, "data"));
    json_decref(page);
    http_result_free(&r);
    free(url);
    return data;
}

static bool one_held(void *arg)
{
    (void)arg;
    json_t *held = meetings("/v1/meetings?status=held");
    bool found = json_array_size(held) >= 1;
    json_decref(held);
    return found && fake_http_request_count(receiver) >= 1;
}

START_TEST(test_the_hub_says_what_became_of_each_meeting)
{
    post_meeting("meeting.scheduled", "ada", -120, -90, "accepted");
    post_meeting("meeting.scheduled", "bob", -120, -90, "needs_action");
    post_meeting("meeting.scheduled", "cy", 60 * 24, 60 * 24 + 30, "accepted");
    post_meeting("meeting.updated", "cy", 60 * 48, 60 * 48 + 30, "accepted");
    ck_assert_msg(td_wait_until(one_held, NULL, 30000), "no meeting held, or none delivered");

    json_t *held = meetings("/v1/meetings?status=held");
    ck_assert_uint_eq(json_array_size(held), 1);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(held, 0), "external_id")),
                     "ada");
    json_decref(held);
    json_t *moved = meetings("/v1/meetings?status=rescheduled");
    ck_assert_uint_eq(json_array_size(moved), 1);
    json_t *cy = json_array_get(moved, 0);
    ck_assert_str_eq(json_string_value(json_object_get(cy, "external_id")), "cy");
    ck_assert(json_is_string(json_object_get(cy, "previous_starts_at")));
    json_decref(moved);
    json_t *open = meetings("/v1/meetings?status=scheduled");
    ck_assert_uint_eq(json_array_size(open), 1);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(open, 0), "external_id")),
                     "bob");
    json_decref(open);

    /* the sink got the outcome, as the hub's own */
    struct fake_request request = fake_http_request(receiver, 0);
    json_t *event = json_loads(request.body, 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(event, "type")), "meeting.held");
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(event, "meeting"), "status")), "held");
    ck_assert(json_is_true(json_object_get(json_object_get(event, "data"), "derived")));
    json_decref(event);
    fake_http_request_free(&request);
    ck_assert_uint_eq(fake_http_request_count(receiver), 1);
}
END_TEST

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    Suite *s = suite_create("meetings");
    TCase *tc = tcase_create("outcomes");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 90);
    tcase_add_test(tc, test_the_hub_says_what_became_of_each_meeting);
    suite_add_tcase(s, tc);
    int failed = tu_run_suite(s);
    curl_global_cleanup();
    return failed;
}
