/*
 * test_hubspot_json.c - the hubspot plugin's pure helpers alone (hubspot_json.c compiled
 * into the test), where the daemon's clock and allocator cannot reach: how long a 429
 * holds the instance, by policy, header and time of day, and answers that are whole or
 * NULL when memory runs out; meetings read from HubSpot and what their outcome makes them.
 */
#include <check.h>

#include "../hubspot_json.c"         // NOLINT(bugprone-suspicious-include)
#include "../hubspot_meeting_json.c" // NOLINT(bugprone-suspicious-include)
#include "testutil.h"

#define HOUR_MS (60LL * 60 * 1000)

/* 2026-11-27T10:00:00Z and 23:30:00Z, as epoch ms (date -u -d ... +%s). */
#define MORNING_MS 1795773600000LL
#define LATE_MS    1795822200000LL

START_TEST(test_hubspot_ten_secondly_waits_the_window_hubspot_states)
{
    ck_assert_int_eq(hubspot_rate_limit_delay("TEN_SECONDLY_ROLLING", -1, 10000, MORNING_MS),
                     10000);
    ck_assert_int_eq(hubspot_rate_limit_delay("TEN_SECONDLY_ROLLING", -1, 5000, MORNING_MS), 5000);
}
END_TEST

START_TEST(test_hubspot_ten_secondly_without_headers_waits_ten_seconds)
{
    ck_assert_int_eq(hubspot_rate_limit_delay("TEN_SECONDLY_ROLLING", -1, -1, MORNING_MS), 10000);
    /* no policy named: the burst window, not a hammering second */
    ck_assert_int_eq(hubspot_rate_limit_delay(NULL, -1, -1, MORNING_MS), 10000);
}
END_TEST

START_TEST(test_hubspot_secondly_without_headers_waits_one_second)
{
    ck_assert_int_eq(hubspot_rate_limit_delay("SECONDLY", -1, -1, MORNING_MS), 1000);
}
END_TEST

START_TEST(test_hubspot_retry_after_wins_over_the_policy)
{
    ck_assert_int_eq(hubspot_rate_limit_delay("TEN_SECONDLY_ROLLING", 7000, 10000, MORNING_MS),
                     7000);
    ck_assert_int_eq(hubspot_rate_limit_delay("DAILY", 120000, -1, MORNING_MS), 120000);
}
END_TEST

START_TEST(test_hubspot_an_unbelievable_interval_is_not_waited)
{
    ck_assert_int_eq(hubspot_rate_limit_delay("TEN_SECONDLY_ROLLING", -1, 0, MORNING_MS), 10000);
    ck_assert_int_eq(hubspot_rate_limit_delay("TEN_SECONDLY_ROLLING", -1, 86400000, MORNING_MS),
                     10000);
}
END_TEST

START_TEST(test_hubspot_daily_is_asked_again_within_the_hour)
{
    /* 14 hours before midnight UTC: the account's own midnight may come much sooner */
    ck_assert_int_eq(hubspot_rate_limit_delay("DAILY", -1, 10000, MORNING_MS), HOUR_MS);
    /* half an hour before midnight UTC: that comes first */
    ck_assert_int_eq(hubspot_rate_limit_delay("DAILY", -1, 10000, LATE_MS), HOUR_MS / 2);
}
END_TEST

/* jansson's allocations fail once `budget` of them succeeded (-1: never). */
static long budget = -1;

static void *budgeted_malloc(size_t size)
{
    if (budget == 0) {
        return NULL;
    }
    if (budget > 0) {
        budget--;
    }
    return malloc(size);
}

static void fail_after(long allocations)
{
    budget = allocations;
    json_set_alloc_funcs(budgeted_malloc, free);
}

static void allocations_work(void)
{
    json_set_alloc_funcs(malloc, free);
    budget = -1;
}

START_TEST(test_hubspot_meeting_properties_are_whole_or_null_when_memory_runs_out)
{
    json_t *event =
        json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:s, s:s}}", "type", "meeting.scheduled",
                  "occurred_at", "2026-11-27T10:42:00.000Z", "meeting", "title", "Intro call",
                  "starts_at", "2026-12-28T15:00:00.000Z", "ends_at", "2026-12-28T15:30:00.000Z",
                  "location", "Google Meet", "online_url", "https://meet.example/abc");
    json_t *whole = hubspot_meeting_properties(event, "SCHEDULED");
    ck_assert_uint_eq(json_object_size(whole), 7);
    /* each allocation in turn fails: never an engagement missing hs_timestamp or a title */
    for (long n = 0; n < 64; n++) {
        fail_after(n);
        json_t *got = hubspot_meeting_properties(event, "SCHEDULED");
        allocations_work();
        ck_assert_msg(got == NULL || json_equal(got, whole), "a partial answer after %ld", n);
        json_decref(got);
    }
    json_decref(whole);
    json_decref(event);
}
END_TEST

START_TEST(test_hubspot_contact_property_names_are_whole_or_null_when_memory_runs_out)
{
    struct hubspot_field fields[] = {{"email", "email"}, {"first_name", "firstname"}};
    char *pulled[] = {"lifecyclestage"};
    struct hubspot_mapping mapping = {fields, 2, pulled, 1};
    json_t *whole = hubspot_contact_property_names(&mapping);
    ck_assert_uint_eq(json_array_size(whole), 4);
    /* a short list would poll contacts without some of their mapped properties */
    for (long n = 0; n < 32; n++) {
        fail_after(n);
        json_t *got = hubspot_contact_property_names(&mapping);
        allocations_work();
        ck_assert_msg(got == NULL || json_equal(got, whole), "a partial answer after %ld", n);
        json_decref(got);
    }
    json_decref(whole);
}
END_TEST

/* Observes a meeting engagement given as JSON text against `seen`. */
static void observe(const char *text, const json_t *seen, struct hubspot_meeting_change *out)
{
    json_t *object = json_loads(text, 0, NULL);
    ck_assert_ptr_nonnull(object);
    ck_assert_int_eq(hubspot_meeting_observe(object, seen, out), 0);
    json_decref(object);
}

#define MEETING(outcome, extra)                                                                    \
    "{\"id\":\"51830467701\",\"properties\":{\"hs_meeting_title\":\"Demo\","                       \
    "\"hs_meeting_start_time\":\"2026-12-01T15:00:00Z\",\"hs_meeting_end_time\":"                  \
    "\"2026-12-01T15:30:00Z\",\"hs_timestamp\":\"2026-12-01T15:00:00Z\","                          \
    "\"hs_meeting_outcome\":\"" outcome "\",\"hs_lastmodifieddate\":"                              \
    "\"2026-11-27T10:00:00.000Z\"" extra "}}"

START_TEST(test_hubspot_meeting_read_from_hubspot_takes_its_outcome)
{
    struct hubspot_meeting_change change;
    observe(MEETING("SCHEDULED", ""), NULL, &change);
    ck_assert_str_eq(change.type, "meeting.scheduled");
    ck_assert_str_eq(change.id, "51830467701");
    ck_assert(!change.own);
    json_t *expected = json_pack("{s:s, s:s, s:s, s:s, s:s}", "external_id", "51830467701", "title",
                                 "Demo", "starts_at", "2026-12-01T15:00:00.000Z", "ends_at",
                                 "2026-12-01T15:30:00.000Z", "status", "scheduled");
    ck_assert(json_equal(change.meeting, expected));
    json_decref(expected);
    json_t *seen = json_incref(change.seen);
    hubspot_meeting_change_clear(&change);

    /* seen again, unchanged (another property moved the modification time): nothing */
    observe(MEETING("SCHEDULED", ""), seen, &change);
    ck_assert_ptr_null(change.type);
    ck_assert_ptr_null(change.meeting);
    hubspot_meeting_change_clear(&change);

    const struct {
        const char *outcome, *type, *status;
    } outcomes[] = {
        {"COMPLETED", "meeting.held", "held"},
        {"NO_SHOW", "meeting.no_show", "no_show"},
        {"CANCELED", "meeting.canceled", "canceled"},
        {"RESCHEDULED", "meeting.rescheduled", "rescheduled"},
        {"completed", "meeting.held", "held"},
        {"DEMO_GIVEN", "meeting.updated", NULL}, /* an outcome the account made up */
    };
    for (size_t i = 0; i < sizeof(outcomes) / sizeof(outcomes[0]); i++) {
        char text[1024];
        snprintf(text, sizeof(text),
                 "{\"id\":\"7\",\"properties\":{\"hs_meeting_outcome\":\"%s\","
                 "\"hs_timestamp\":\"1764601200000\",\"hs_lastmodifieddate\":\"1764601200001\"}}",
                 outcomes[i].outcome);
        observe(text, seen, &change);
        ck_assert_str_eq(change.type, outcomes[i].type);
        const char *status = json_string_value(json_object_get(change.meeting, "status"));
        if (outcomes[i].status != NULL) {
            ck_assert_str_eq(status, outcomes[i].status);
        } else {
            ck_assert_ptr_null(status);
        }
        /* hs_timestamp stands in for a missing start */
        ck_assert_str_eq(json_string_value(json_object_get(change.meeting, "starts_at")),
                         "2025-12-01T15:00:00.000Z");
        hubspot_meeting_change_clear(&change);
    }
    json_decref(seen);

    /* the hub's own engagement is recognised by its marker; an end before the start is
     * left out (leadhub refuses such a meeting) */
    observe("{\"id\":\"9\",\"properties\":{\"hs_internal_meeting_notes\":"
            "\"leadhub-ref:meeting:calendar:7f3a\",\"hs_meeting_start_time\":"
            "\"2026-12-01T15:00:00Z\",\"hs_meeting_end_time\":\"2026-12-01T14:00:00Z\"},"
            "\"updatedAt\":\"2026-11-27T10:00:00.000Z\"}",
            NULL, &change);
    ck_assert(change.own);
    ck_assert_ptr_null(json_object_get(change.meeting, "ends_at"));
    hubspot_meeting_change_clear(&change);

    /* no id or no modification time: unreadable */
    json_t *bad = json_pack("{s:{s:s}}", "properties", "hs_meeting_title", "x");
    ck_assert_int_eq(hubspot_meeting_observe(bad, NULL, &change), -1);
    json_decref(bad);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("hubspot_json");
    TCase *memory = tcase_create("out_of_memory");
    tcase_add_test(memory, test_hubspot_meeting_properties_are_whole_or_null_when_memory_runs_out);
    tcase_add_test(memory,
                   test_hubspot_contact_property_names_are_whole_or_null_when_memory_runs_out);
    suite_add_tcase(s, memory);
    TCase *tc = tcase_create("rate_limits");
    tcase_add_test(tc, test_hubspot_ten_secondly_waits_the_window_hubspot_states);
    tcase_add_test(tc, test_hubspot_ten_secondly_without_headers_waits_ten_seconds);
    tcase_add_test(tc, test_hubspot_secondly_without_headers_waits_one_second);
    tcase_add_test(tc, test_hubspot_retry_after_wins_over_the_policy);
    tcase_add_test(tc, test_hubspot_an_unbelievable_interval_is_not_waited);
    tcase_add_test(tc, test_hubspot_daily_is_asked_again_within_the_hour);
    suite_add_tcase(s, tc);
    TCase *meetings = tcase_create("meetings");
    tcase_add_test(meetings, test_hubspot_meeting_read_from_hubspot_takes_its_outcome);
    suite_add_tcase(s, meetings);
    return tu_run_suite(s);
}
