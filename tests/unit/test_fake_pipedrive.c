/*
 * test_fake_pipedrive.c - the fake Pipedrive where its logic is its own: paging by update
 * time with a cursor through records that share a second, the search index's lag, a write
 * whose answer is lost, the refusals and headers every answer carries, and its CRM view.
 * The connector's tests rely on these to mean what Pipedrive means.
 */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_pipedrive.h"
#include "http_client.h"
#include "testutil.h"
#include "util.h"

#define TOKEN "pd-unit-token-3f9a1c"

static struct fake_pipedrive *fp;

static void setup(void)
{
    fp = fake_pipedrive_start(TOKEN);
    ck_assert_ptr_nonnull(fp);
}

static void teardown(void)
{
    fake_pipedrive_stop(fp);
}

/* method on path with the token (when `authorized`); the answer's status and parsed body
 * (NEW, NULL when not JSON), its headers in *headers_out (malloc'd) when not NULL. */
static long call(const char *method, const char *path, const char *body, bool authorized,
                 json_t **json_out, char **headers_out)
{
    char *url = fake_pipedrive_url(fp, path);
    const char *headers[] = {"x-api-token: " TOKEN, "Content-Type: application/json", NULL};
    const char *anonymous[] = {"Content-Type: application/json", NULL};
    struct http_result result = {0};
    http_request(method, url, authorized ? headers : anonymous, body,
                 body != NULL ? strlen(body) : 0, &result);
    long status = result.status;
    if (json_out != NULL) {
        *json_out = result.body != NULL ? json_loads(result.body, 0, NULL) : NULL;
    }
    if (headers_out != NULL) {
        *headers_out = result.headers != NULL ? strdup(result.headers) : NULL;
    }
    http_result_free(&result);
    free(url);
    return status;
}

static long get(const char *path, json_t **json_out)
{
    return call("GET", path, NULL, true, json_out, NULL);
}

static size_t search_hits(const char *email)
{
    char *path = util_printf("/api/v2/persons/search?term=%s&fields=email&exact_match=true", email);
    json_t *answer = NULL;
    ck_assert_int_eq(get(path, &answer), 200);
    size_t n = json_array_size(json_object_get(json_object_get(answer, "data"), "items"));
    json_decref(answer);
    free(path);
    return n;
}

START_TEST(test_fake_pipedrive_pages_by_update_time_through_records_sharing_a_second)
{
    time_t second = (time_t)(util_now_ms() / 1000) - 3600;
    fake_pipedrive_clock_pin(fp, second - 10);
    long before = fake_pipedrive_person_add(fp, "{\"name\":\"Old One\"}");
    fake_pipedrive_clock_pin(fp, second);
    long ids[5];
    for (int i = 0; i < 5; i++) {
        char *fields = util_printf("{\"name\":\"Same %d\"}", i);
        ids[i] = fake_pipedrive_person_add(fp, fields);
        free(fields);
    }
    fake_pipedrive_clock_pin(fp, 0);
    /* an edit moves the first one past the others */
    ck_assert(fake_pipedrive_person_update(fp, ids[0], "{\"name\":\"Same 0 edited\"}"));
    ck_assert_int_gt(before, 0);

    char since[24];
    struct tm tm;
    gmtime_r(&second, &tm);
    strftime(since, sizeof(since), "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_t *seen = json_array();
    char *cursor = NULL;
    int pages = 0;
    do {
        char *path =
            util_printf("/api/v2/persons?updated_since=%s&sort_by=update_time&"
                        "sort_direction=asc&limit=2%s%s",
                        since, cursor != NULL ? "&cursor=" : "", cursor != NULL ? cursor : "");
        json_t *page = NULL;
        ck_assert_int_eq(get(path, &page), 200);
        free(path);
        free(cursor);
        cursor = NULL;
        ck_assert(json_is_true(json_object_get(page, "success")));
        size_t i;
        json_t *person;
        json_array_foreach(json_object_get(page, "data"), i, person)
        {
            json_array_append(seen, json_object_get(person, "id"));
        }
        const char *next = json_string_value(
            json_object_get(json_object_get(page, "additional_data"), "next_cursor"));
        cursor = next != NULL ? strdup(next) : NULL;
        json_decref(page);
        pages++;
    } while (cursor != NULL && pages < 10);
    /* updated_since is inclusive: the five of that second, in id order, then the edited one;
     * never the older one, never one twice */
    json_t *expected = json_pack("[I, I, I, I, I]", (json_int_t)ids[1], (json_int_t)ids[2],
                                 (json_int_t)ids[3], (json_int_t)ids[4], (json_int_t)ids[0]);
    char *got = json_dumps(seen, JSON_COMPACT);
    ck_assert_msg(json_equal(seen, expected), "paged %s", got);
    ck_assert_int_eq(pages, 3);
    free(got);
    json_decref(expected);
    json_decref(seen);
}
END_TEST

START_TEST(test_fake_pipedrive_search_lags_creations_by_searches_and_listing_does_not)
{
    fake_pipedrive_search_lag(fp, 0, 2);
    json_t *created = NULL;
    ck_assert_int_eq(call("POST", "/api/v2/persons",
                          "{\"name\":\"Ada Lovelace\",\"emails\":[{\"value\":\"Ada@Example.com\","
                          "\"primary\":true,\"label\":\"work\"}]}",
                          true, &created, NULL),
                     200);
    json_t *data = json_object_get(created, "data");
    ck_assert_str_eq(json_string_value(json_object_get(data, "first_name")), "Ada");
    ck_assert_ptr_nonnull(json_string_value(json_object_get(data, "update_time")));
    json_decref(created);
    ck_assert_uint_eq(search_hits("ada%40example.com"), 0);
    json_t *listed = NULL;
    ck_assert_int_eq(get("/api/v2/persons?sort_by=update_time", &listed), 200);
    ck_assert_uint_eq(json_array_size(json_object_get(listed, "data")), 1);
    json_decref(listed);
    ck_assert_uint_eq(search_hits("ada%40example.com"), 0);
    /* the third search finds it, whatever the case of the term */
    ck_assert_uint_eq(search_hits("ADA%40example.COM"), 1);
    ck_assert_uint_eq(search_hits("ada%40example.co"), 0);
}
END_TEST

START_TEST(test_fake_pipedrive_search_lags_creations_by_time)
{
    fake_pipedrive_search_lag(fp, 400, 0);
    fake_pipedrive_burst_limit(fp, 1000000); /* the loop below asks as fast as it can */
    int64_t created = util_monotonic_ms();
    ck_assert_int_gt(fake_pipedrive_person_add(
                         fp, "{\"name\":\"Bo\",\"emails\":[{\"value\":\"bo@example.com\"}]}"),
                     0);
    ck_assert_uint_eq(search_hits("bo%40example.com"), 0);
    while (search_hits("bo%40example.com") == 0) {
        ck_assert_msg(util_monotonic_ms() - created < 20000, "never found");
    }
    ck_assert_int_ge(util_monotonic_ms() - created, 390);
}
END_TEST

START_TEST(test_fake_pipedrive_applies_a_write_whose_answer_it_loses)
{
    fake_pipedrive_lose_answers(fp, "POST", "/api/v2/persons", 1, FAKE_PIPEDRIVE_LOSE_502);
    fake_pipedrive_lose_answers(fp, "POST", "/api/v2/persons", 1, FAKE_PIPEDRIVE_LOSE_RESET);
    const char *body = "{\"name\":\"Cy\",\"emails\":[{\"value\":\"cy@example.com\"}]}";
    ck_assert_int_eq(call("POST", "/api/v2/persons", body, true, NULL, NULL), 502);
    ck_assert_uint_eq(fake_pipedrive_persons_with_email(fp, "CY@example.com"), 1);
    ck_assert_int_eq(call("POST", "/api/v2/persons", body, true, NULL, NULL), 0);
    /* no idempotency: each POST made a person */
    ck_assert_uint_eq(fake_pipedrive_persons_with_email(fp, "cy@example.com"), 2);
    ck_assert_int_eq(call("POST", "/api/v2/persons", body, true, NULL, NULL), 200);
    ck_assert_uint_eq(fake_pipedrive_count(fp, "POST", "/api/v2/persons"), 3);
}
END_TEST

START_TEST(test_fake_pipedrive_refuses_as_pipedrive_does_with_its_headers)
{
    json_t *answer = NULL;
    char *headers = NULL;
    ck_assert_int_eq(call("GET", "/api/v2/persons", NULL, false, &answer, NULL), 401);
    ck_assert_str_eq(json_string_value(json_object_get(answer, "error")), "unauthorized access");
    json_decref(answer);
    ck_assert_int_eq(call("POST", "/api/v2/persons", "{\"emails\":[]}", true, &answer, &headers),
                     400);
    ck_assert_str_eq(json_string_value(json_object_get(answer, "error")),
                     "Person name is required");
    ck_assert(json_is_false(json_object_get(answer, "success")));
    ck_assert_msg(strstr(headers, "x-ratelimit-remaining: ") != NULL &&
                      strstr(headers, "x-ratelimit-reset: ") != NULL &&
                      strstr(headers, "x-daily-requests-left: 10000") != NULL,
                  "%s", headers);
    json_decref(answer);
    free(headers);
    ck_assert_int_eq(
        call("POST", "/api/v2/persons", "{\"name\":\"X\",\"person_id\":2}", true, NULL, NULL), 400);
    ck_assert_int_eq(call("PATCH", "/api/v2/persons/999", "{\"name\":\"X\"}", true, NULL, NULL),
                     404);
    ck_assert_int_eq(get("/api/v2/activities/999", NULL), 404);

    fake_pipedrive_rate_limit(fp, "GET", "/api/v2/deals", 3, 1);
    ck_assert_int_eq(call("GET", "/api/v2/deals", NULL, true, NULL, &headers), 429);
    ck_assert_msg(strstr(headers, "Retry-After: 3\r\n") != NULL, "%s", headers);
    free(headers);
    ck_assert_int_eq(get("/api/v2/deals", NULL), 200);

    fake_pipedrive_daily_budget(fp, 1, -1);
    ck_assert_int_eq(
        call("POST", "/api/v2/organizations", "{\"name\":\"Acme\"}", true, NULL, &headers), 200);
    ck_assert_msg(strstr(headers, "x-daily-requests-left: 0\r\n") != NULL, "%s", headers);
    free(headers);
    ck_assert_int_eq(call("POST", "/api/v2/organizations", "{\"name\":\"Beta\"}", true, NULL, NULL),
                     429);
    ck_assert_uint_eq(fake_pipedrive_org_count(fp), 1);
    ck_assert_int_eq(get("/api/v2/organizations", NULL), 200); /* reads are not counted */

    fake_pipedrive_burst_limit(fp, 2);
    long statuses[3];
    for (int i = 0; i < 3; i++) {
        statuses[i] = get("/api/v2/stages", NULL);
    }
    ck_assert_msg(statuses[2] == 429 || statuses[0] == 429 || statuses[1] == 429,
                  "3 requests within a burst limit of 2: %ld %ld %ld", statuses[0], statuses[1],
                  statuses[2]);
}
END_TEST

START_TEST(test_fake_pipedrive_crm_view_reads_labels_and_meeting_outcomes)
{
    long acme = fake_pipedrive_org_add(fp, "Acme");
    char *fields = util_printf(
        "{\"name\":\"Ada Lovelace\",\"label_ids\":[3,5],\"org_id\":%ld,\"emails\":["
        "{\"value\":\"x@a.example\"},{\"value\":\"Ada@Example.com\",\"primary\":true}]}",
        acme);
    long ada = fake_pipedrive_person_add(fp, fields);
    free(fields);
    long bo = fake_pipedrive_person_add(fp, "{\"name\":\"Bo\",\"label_ids\":[3]}");
    ck_assert_int_gt(ada, 0);
    const char *activities[] = {
        "{\"subject\":\"Canceled: Demo\",\"type\":\"meeting\",\"done\":true,\"due_date\":"
        "\"2027-01-05\",\"due_time\":\"15:00\",\"participants\":[{\"person_id\":%ld}]}",
        "{\"subject\":\"Intro\",\"type\":\"meeting\",\"done\":false,\"due_date\":"
        "\"2027-01-04\",\"due_time\":\"09:30\",\"participants\":[{\"person_id\":%ld}]}",
        "{\"subject\":\"No-show: Follow-up\",\"type\":\"meeting\",\"done\":true,\"due_date\":"
        "\"2027-01-06\",\"due_time\":\"10:00\",\"participants\":[{\"person_id\":%ld}]}",
        "{\"subject\":\"Review\",\"type\":\"meeting\",\"done\":true,\"due_date\":"
        "\"2027-01-07\",\"due_time\":\"10:00\",\"participants\":[{\"person_id\":%ld}]}",
        "{\"subject\":\"Call\",\"type\":\"call\",\"due_date\":"
        "\"2027-01-08\",\"due_time\":\"10:00\",\"participants\":[{\"person_id\":%ld}]}"};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(activities); i++) {
        char *body = util_printf(activities[i], ada);
        ck_assert_int_eq(call("POST", "/api/v2/activities", body, true, NULL, NULL), 200);
        free(body);
    }
    char *view = fake_pipedrive_crm_view(fp, 5);
    ck_assert_str_eq(
        view, "[{\"company\":null,\"customer\":false,\"email\":null,\"meetings\":[],"
              "\"name\":\"Bo\"},"
              "{\"company\":\"Acme\",\"customer\":true,\"email\":\"ada@example.com\","
              "\"meetings\":["
              "{\"start\":\"2027-01-04T09:30:00Z\",\"status\":\"booked\",\"title\":\"Intro\"},"
              "{\"start\":\"2027-01-05T15:00:00Z\",\"status\":\"canceled\",\"title\":\"Demo\"},"
              "{\"start\":\"2027-01-06T10:00:00Z\",\"status\":\"no_show\",\"title\":\"Follow-up\"},"
              "{\"start\":\"2027-01-07T10:00:00Z\",\"status\":\"held\",\"title\":\"Review\"}],"
              "\"name\":\"Ada Lovelace\"}]");
    free(view);
    ck_assert_int_gt(bo, 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("fake_pipedrive");
    TCase *tc = tcase_create("fake pipedrive");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_fake_pipedrive_pages_by_update_time_through_records_sharing_a_second);
    tcase_add_test(tc, test_fake_pipedrive_search_lags_creations_by_searches_and_listing_does_not);
    tcase_add_test(tc, test_fake_pipedrive_search_lags_creations_by_time);
    tcase_add_test(tc, test_fake_pipedrive_applies_a_write_whose_answer_it_loses);
    tcase_add_test(tc, test_fake_pipedrive_refuses_as_pipedrive_does_with_its_headers);
    tcase_add_test(tc, test_fake_pipedrive_crm_view_reads_labels_and_meeting_outcomes);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
