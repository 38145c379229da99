/*
 * test_pipedrive_sink.c - the pipedrive plugin as a sink on the fake host: persons created
 * or updated by email, by a known id, a lost creation answer looked up rather than sent
 * twice, rate limits as waits, a refused token, holds, payments as a label, meetings as one
 * activity each, and answers that are not Pipedrive's JSON.
 */
#include "pipedrive_test.h"

#define ADA_SEARCH "/api/v2/persons/search?term=ada%40analytical.example"
#define ORG_SEARCH "/api/v2/organizations/search"
#define PERSON_7   "/api/v2/persons/7"
#define PERSONS    "/api/v2/persons"
#define LIST_SINCE "/api/v2/persons?updated_since="
#define ACTIVITIES "/api/v2/activities"

#define LEAD_EVENT                                                                                 \
    "{\"type\": \"lead.created\", \"source\": \"forms\", \"source_id\": \"f-1\", "               \
    "\"occurred_at\": \"2026-11-27T08:00:00Z\", \"lead\": {\"email\": "                         \
    "\"Ada@Analytical.example\", \"first_name\": \"Ada\", \"last_name\": \"Lovelace\", "        \
    "\"company\": \"Analytical Engines\", \"phone\": \"+44 20 7946 0000\"}}"
#define LEAD_42                                                                                    \
    "{\"id\": 42, \"email\": \"ada@analytical.example\", \"first_name\": \"Ada\", "             \
    "\"last_name\": \"Lovelace\", \"identities\": []}"
#define PERSON_7_JSON                                                                              \
    "{\"id\": 7, \"name\": \"Ada Lovelace\", \"first_name\": \"Ada\", \"last_name\": "          \
    "\"Lovelace\", \"owner_id\": 1, \"org_id\": 3, \"emails\": [{\"value\": "                    \
    "\"ada@analytical.example\", \"primary\": true, \"label\": \"work\"}], \"phones\": "        \
    "[{\"value\": \"+44 20 7946 0000\", \"primary\": true, \"label\": \"work\"}], "             \
    "\"label_ids\": [3], \"add_time\": \"2026-11-27T08:00:00Z\", \"update_time\": "             \
    "\"2026-11-27T09:00:00Z\", \"custom_fields\": {}, \"is_deleted\": false}"
#define FOUND_7   "{\"items\": [{\"result_score\": 1.0, \"item\": {\"id\": 7, \"name\": \"Ada Lovelace\", \"emails\": [\"ada@analytical.example\"]}}]}"
#define FOUND_ORG "{\"items\": [{\"result_score\": 1.0, \"item\": {\"id\": 3, \"name\": \"Analytical Engines\"}}]}"
#define NONE      "{\"items\": []}"

static void setup(void)
{
    pt_setup();
}

static void teardown(void)
{
    pt_teardown();
}

START_TEST(test_pipedrive_creates_the_person_when_the_search_finds_none)
{
    pt_answer("GET", ADA_SEARCH, NONE);
    pt_answer("GET", ORG_SEARCH, FOUND_ORG);
    pt_answer("POST", PERSONS, PERSON_7_JSON);
    ck_assert_int_eq(lh_test_deliver(t, LEAD_EVENT, LEAD_42, 1), LH_OK);
    json_t *body = pt_body("POST", PERSONS, 0);
    pt_assert_json(body, "{\"name\": \"Ada Lovelace\", \"emails\": [{\"value\": "
                         "\"ada@analytical.example\", \"primary\": true, \"label\": \"work\"}], "
                         "\"phones\": [{\"value\": \"+44 20 7946 0000\", \"primary\": true, "
                         "\"label\": \"work\"}], \"org_id\": 3}");
    json_decref(body);
    ck_assert_uint_eq(pt_count("POST", PERSONS), 1);
    ck_assert_str_eq(lh_test_identity(t, 42), "7");
    pt_assert_json(lh_test_checkpoint(t, "written:7"), "{\"t\": \"2026-11-27T09:00:00Z\"}");
    ck_assert_uint_eq(lh_test_unanswered(t), 0);
    pt_assert_token_only_in_header();
}
END_TEST

START_TEST(test_pipedrive_updates_the_person_the_search_finds_with_what_differs)
{
    pt_answer("GET", ADA_SEARCH, FOUND_7);
    pt_answer("GET", PERSON_7, "{\"id\": 7, \"name\": \"Ada L.\", \"org_id\": 3, \"emails\": "
                               "[{\"value\": \"ada@analytical.example\", \"primary\": true, "
                               "\"label\": \"work\"}], \"phones\": [{\"value\": \"+1 555 0100\", "
                               "\"primary\": true, \"label\": \"home\"}], \"label_ids\": [], "
                               "\"update_time\": \"2026-11-27T08:30:00Z\"}");
    pt_answer("GET", ORG_SEARCH, FOUND_ORG);
    pt_answer("PATCH", PERSON_7, PERSON_7_JSON);
    ck_assert_int_eq(lh_test_deliver(t, LEAD_EVENT, LEAD_42, 1), LH_OK);
    json_t *body = pt_body("PATCH", PERSON_7, 0);
    /* the name that differs; the phone added to the person's own (a PATCH replaces the list) */
    pt_assert_json(body, "{\"name\": \"Ada Lovelace\", \"phones\": [{\"value\": \"+1 555 0100\", "
                         "\"primary\": true, \"label\": \"home\"}, {\"value\": \"+44 20 7946 "
                         "0000\", \"primary\": false, \"label\": \"work\"}]}");
    json_decref(body);
    ck_assert_uint_eq(pt_count("POST", PERSONS), 0);
    ck_assert_str_eq(lh_test_identity(t, 42), "7");
}
END_TEST

START_TEST(test_pipedrive_lead_with_a_known_person_id_is_written_by_it_never_created)
{
    const char *lead = "{\"id\": 42, \"email\": \"ada@analytical.example\", \"identities\": "
                       "[{\"source\": \"crm\", \"external_id\": \"7\"}]}";
    pt_answer("GET", PERSON_7, "{\"id\": 7, \"name\": \"Someone\", \"org_id\": 3, \"emails\": [], "
                               "\"phones\": [], \"update_time\": \"2026-11-27T08:30:00Z\"}");
    pt_answer("GET", ORG_SEARCH, FOUND_ORG);
    pt_answer("PATCH", PERSON_7, PERSON_7_JSON);
    ck_assert_int_eq(lh_test_deliver(t, LEAD_EVENT, lead, 1), LH_OK);
    ck_assert_uint_eq(pt_count("GET", "/persons/search"), 0);
    ck_assert_uint_eq(pt_count("POST", PERSONS), 0);
    ck_assert_uint_eq(pt_count("PATCH", PERSON_7), 1);
    /* the same again: Pipedrive already holds it all, nothing is written */
    pt_answer("GET", PERSON_7, PERSON_7_JSON);
    ck_assert_int_eq(lh_test_deliver(t, LEAD_EVENT, lead, 1), LH_OK);
    ck_assert_uint_eq(pt_count("PATCH", PERSON_7), 1);
    ck_assert_uint_eq(pt_count("POST", PERSONS), 0);
    ck_assert_uint_eq(lh_test_unanswered(t), 0);
}
END_TEST

START_TEST(test_pipedrive_lost_creation_answer_is_found_in_the_listing_not_created_twice)
{
    pt_answer("GET", ADA_SEARCH, NONE);
    pt_answer("GET", ORG_SEARCH, FOUND_ORG);
    pt_error("POST", PERSONS, 502, NULL, "Bad gateway");
    ck_assert_int_eq(lh_test_deliver(t, LEAD_EVENT, LEAD_42, 1), LH_RETRY);
    char key[LH_KEY_SIZE];
    ck_assert_int_gt(lh_key_hash_email("person", "ada@analytical.example", key, sizeof(key)), 0);
    ck_assert_ptr_nonnull(json_object_get(lh_test_checkpoint(t, key), "creating"));
    lh_test_clock_advance(t, 60000);
    /* the search index lags: the person the lost POST made is not found by it yet */
    pt_answer("GET", ADA_SEARCH, NONE);
    pt_page(LIST_SINCE, "[{\"id\": 6, \"name\": \"Other\", \"emails\": [{\"value\": "
                        "\"other@example.com\", \"primary\": true}], \"update_time\": "
                        "\"2026-11-27T08:59:00Z\"}, " PERSON_7_JSON "]",
            NULL);
    ck_assert_int_eq(lh_test_deliver(t, LEAD_EVENT, LEAD_42, 2), LH_OK);
    ck_assert_uint_eq(pt_count("POST", PERSONS), 1);
    ck_assert_str_eq(lh_test_identity(t, 42), "7");
    /* listed from before the recorded creation */
    ck_assert_ptr_nonnull(strstr(pt_request("GET", LIST_SINCE, 0)->url,
                                 "updated_since=2026-11-27T08%3A55%3A00Z"));
    ck_assert_uint_eq(lh_test_unanswered(t), 0);
}
END_TEST

START_TEST(test_pipedrive_lost_creation_that_did_not_land_is_created_once_more)
{
    pt_answer("GET", ADA_SEARCH, NONE);
    pt_answer("GET", ORG_SEARCH, FOUND_ORG);
    lh_test_http_script(t, LH_TEST_ANSWER(.method = "POST", .url_contains = PERSONS,
                                          .transport_error = "operation timed out"));
    ck_assert_int_eq(lh_test_deliver(t, LEAD_EVENT, LEAD_42, 1), LH_RETRY);
    pt_answer("GET", ADA_SEARCH, NONE);
    pt_page(LIST_SINCE, "[]", NULL);
    pt_answer("POST", PERSONS, PERSON_7_JSON);
    ck_assert_int_eq(lh_test_deliver(t, LEAD_EVENT, LEAD_42, 2), LH_OK);
    ck_assert_uint_eq(pt_count("POST", PERSONS), 2);
    ck_assert_uint_eq(pt_count("GET", LIST_SINCE), 1);
}
END_TEST

START_TEST(test_pipedrive_burst_429_is_a_wait_and_later_calls_wait_without_sending)
{
    pt_answer("GET", ADA_SEARCH, NONE);
    pt_answer("GET", ORG_SEARCH, FOUND_ORG);
    pt_error("POST", PERSONS, 429, "retry-after: 7\nx-ratelimit-remaining: 0\nx-ratelimit-reset: 2\n",
             "Too many requests");
    ck_assert_int_eq(lh_test_deliver(t, LEAD_EVENT, LEAD_42, 1), LH_RETRY_AFTER);
    ck_assert_int_eq(lh_test_retry_after(t), 7000);
    size_t sent = lh_test_request_count(t);
    lh_test_clock_advance(t, 3000);
    ck_assert_int_eq(lh_test_deliver(t, LEAD_EVENT, LEAD_42, 1), LH_RETRY_AFTER);
    ck_assert_int_eq(lh_test_retry_after(t), 4000);
    ck_assert_uint_eq(lh_test_request_count(t), sent);
    lh_test_clock_advance(t, 4000);
    pt_answer("GET", ADA_SEARCH, NONE);
    pt_answer("POST", PERSONS, PERSON_7_JSON);
    ck_assert_int_eq(lh_test_deliver(t, LEAD_EVENT, LEAD_42, 1), LH_OK);
    /* a 429 applied nothing: no lookup for a lost answer */
    ck_assert_uint_eq(pt_count("GET", LIST_SINCE), 0);
    ck_assert_uint_eq(pt_count("POST", PERSONS), 2);
}
END_TEST

START_TEST(test_pipedrive_daily_budget_429_waits_until_midnight_utc)
{
    pt_answer("GET", ADA_SEARCH, NONE);
    pt_answer("GET", ORG_SEARCH, FOUND_ORG);
    pt_error("POST", PERSONS, 429, "x-ratelimit-remaining: 30\nx-daily-requests-left: 0\n",
             "Too many requests");
    ck_assert_int_eq(lh_test_deliver(t, LEAD_EVENT, LEAD_42, 1), LH_RETRY_AFTER);
    /* the clock is at 09:00 UTC: 15 hours to the budget's reset */
    ck_assert_int_eq(lh_test_retry_after(t), 15LL * 3600 * 1000);
    ck_assert_ptr_nonnull(strstr(lh_test_error(t), "daily"));
    /* the budget counts writes: an hour later reads still go, the write waits unsent */
    lh_test_clock_advance(t, 3600 * 1000);
    pt_answer("GET", ADA_SEARCH, NONE);
    ck_assert_int_eq(lh_test_deliver(t, LEAD_EVENT, LEAD_42, 1), LH_RETRY_AFTER);
    ck_assert_int_eq(lh_test_retry_after(t), 14LL * 3600 * 1000);
    ck_assert_uint_eq(pt_count("GET", ADA_SEARCH), 2);
    ck_assert_uint_eq(pt_count("POST", PERSONS), 1);
    ck_assert_uint_eq(lh_test_unanswered(t), 0);
}
END_TEST

START_TEST(test_pipedrive_remaining_zero_paces_the_next_request)
{
    lh_test_http_script(t, LH_TEST_ANSWER(.method = "GET", .url_contains = ADA_SEARCH,
                                          .status = 200,
                                          .headers = "x-ratelimit-remaining: 0\nx-ratelimit-reset: 2\n",
                                          .body = "{\"success\": true, \"data\": " FOUND_7 "}"));
    ck_assert_int_eq(lh_test_deliver(t, LEAD_EVENT, LEAD_42, 1), LH_RETRY_AFTER);
    ck_assert_int_eq(lh_test_retry_after(t), 2000);
    ck_assert_uint_eq(lh_test_request_count(t), 1);
}
END_TEST

START_TEST(test_pipedrive_401_names_the_setting_never_the_token)
{
    pt_error("GET", ADA_SEARCH, 401, NULL, "unauthorized access for " PT_TOKEN);
    ck_assert_int_eq(lh_test_deliver(t, LEAD_EVENT, LEAD_42, 1), LH_CONFIG);
    ck_assert_ptr_nonnull(strstr(lh_test_error(t), "api_token"));
    ck_assert_ptr_null(strstr(lh_test_error(t), PT_TOKEN));
    ck_assert_ptr_null(strstr(lh_test_error(t), "5f2c9a17"));
}
END_TEST

START_TEST(test_pipedrive_lead_without_email_or_person_id_is_held)
{
    const char *event = "{\"type\": \"customer.created\", \"source\": \"billing\", "
                        "\"source_id\": \"c-1\", \"occurred_at\": \"2026-11-27T08:00:00Z\", "
                        "\"lead\": {\"external_id\": \"cus_1\", \"first_name\": \"Ada\"}}";
    ck_assert_int_eq(lh_test_deliver(t, event, "{\"id\": 42, \"identities\": []}", 1), LH_HOLD);
    ck_assert_ptr_nonnull(strstr(lh_test_error(t), "waiting for the lead's email"));
    ck_assert_uint_eq(lh_test_request_count(t), 0);
}
END_TEST

#define PAYMENT                                                                                    \
    "{\"type\": \"payment.succeeded\", \"source\": \"billing\", \"source_id\": \"pi_1\", "      \
    "\"occurred_at\": \"2026-11-27T08:00:00Z\", \"lead\": {\"email\": "                         \
    "\"ada@analytical.example\"}, \"data\": {\"amount\": 120000, \"currency\": \"eur\", "       \
    "\"payment\": \"pi_1\"}}"

START_TEST(test_pipedrive_payment_adds_the_customer_label_keeping_the_others)
{
    pt_answer("GET", ADA_SEARCH, FOUND_7);
    pt_answer("GET", PERSON_7, PERSON_7_JSON);
    pt_answer("PATCH", PERSON_7, PERSON_7_JSON);
    ck_assert_int_eq(lh_test_deliver(t, PAYMENT, LEAD_42, 1), LH_OK);
    json_t *body = pt_body("PATCH", PERSON_7, 0);
    pt_assert_json(body, "{\"label_ids\": [3, 5]}");
    json_decref(body);
    /* already a customer: nothing to write */
    pt_answer("GET", PERSON_7, "{\"id\": 7, \"name\": \"Ada Lovelace\", \"label_ids\": [5, 3], "
                               "\"emails\": [{\"value\": \"ada@analytical.example\"}]}");
    ck_assert_int_eq(lh_test_deliver(t, PAYMENT, LEAD_42, 1), LH_OK);
    ck_assert_uint_eq(pt_count("PATCH", PERSON_7), 1);
}
END_TEST

START_TEST(test_pipedrive_payment_without_customer_label_id_is_refused_naming_it)
{
    lh_test_free(t);
    pt_start("");
    ck_assert_int_eq(lh_test_deliver(t, PAYMENT, LEAD_42, 1), LH_PERMANENT);
    ck_assert_ptr_nonnull(strstr(lh_test_error(t), "customer_label_id"));
    ck_assert_uint_eq(lh_test_request_count(t), 0);
}
END_TEST

#define MEETING(type, status)                                                                      \
    "{\"type\": \"" type "\", \"source\": \"calendar\", \"source_id\": \"" type "\", "          \
    "\"occurred_at\": \"2026-11-27T08:00:00Z\", \"lead\": {\"email\": "                         \
    "\"ada@analytical.example\"}, \"meeting\": {\"external_id\": \"7f3a\", \"title\": \"Intro " \
    "call\", \"starts_at\": \"2026-11-28T16:00:00+01:00\", \"ends_at\": "                       \
    "\"2026-11-28T15:30:00Z\", \"location\": \"Room 4\", \"online_url\": "                      \
    "\"https://meet.example/abc\", \"status\": \"" status "\", \"attendees\": [{\"email\": "    \
    "\"ada@analytical.example\"}, {\"email\": \"rep@ourco.example\"}, {\"email\": "             \
    "\"bob@client.example\"}]}}"

static void meeting_person_answers(void)
{
    pt_answer("GET", PERSON_7, PERSON_7_JSON);
    pt_answer("GET", "/persons/search?term=rep%40ourco.example", NONE);
    pt_answer("GET", "/persons/search?term=bob%40client.example",
              "{\"items\": [{\"item\": {\"id\": 9, \"emails\": [\"bob@client.example\"]}}]}");
}

START_TEST(test_pipedrive_meeting_is_one_activity_created_once_then_patched)
{
    pt_answer("GET", ADA_SEARCH, FOUND_7);
    meeting_person_answers();
    pt_answer("POST", ACTIVITIES, "{\"id\": 21, \"type\": \"meeting\"}");
    ck_assert_int_eq(lh_test_deliver(t, MEETING("meeting.scheduled", "scheduled"), LEAD_42, 1),
                     LH_OK);
    json_t *body = pt_body("POST", ACTIVITIES, 0);
    pt_assert_json(body,
                   "{\"subject\": \"Intro call\", \"type\": \"meeting\", \"done\": false, "
                   "\"due_date\": \"2026-11-28\", \"due_time\": \"15:00\", \"duration\": "
                   "\"00:30\", \"location\": {\"value\": \"Room 4\"}, \"note\": \"leadhub-ref: "
                   "meeting:calendar:7f3a\\nhttps://meet.example/abc\", \"participants\": "
                   "[{\"person_id\": 7, \"primary\": true}, {\"person_id\": 9, \"primary\": "
                   "false}]}");
    json_decref(body);
    pt_assert_json(lh_test_checkpoint(t, "meeting:calendar:7f3a"), "{\"id\": \"21\"}");
    /* the person was unchanged: not written */
    ck_assert_uint_eq(pt_count("PATCH", PERSON_7), 0);

    meeting_person_answers();
    pt_answer("PATCH", ACTIVITIES "/21", "{\"id\": 21}");
    ck_assert_int_eq(lh_test_deliver(t, MEETING("meeting.canceled", "canceled"), LEAD_42, 1),
                     LH_OK);
    ck_assert_uint_eq(pt_count("POST", ACTIVITIES), 1);
    body = pt_body("PATCH", ACTIVITIES "/21", 0);
    ck_assert_str_eq(json_string_value(json_object_get(body, "subject")), "Canceled: Intro call");
    ck_assert(json_is_true(json_object_get(body, "done")));
    json_decref(body);
    ck_assert_uint_eq(lh_test_unanswered(t), 0);
}
END_TEST

START_TEST(test_pipedrive_meeting_outcomes_map_to_subject_and_done)
{
    static const char *const cases[][3] = {
        {"meeting.scheduled", "Intro call", "false"},
        {"meeting.updated", "Intro call", "false"},
        {"meeting.rescheduled", "Intro call", "false"},
        {"meeting.held", "Intro call", "true"},
        {"meeting.no_show", "No-show: Intro call", "true"},
        {"meeting.canceled", "Canceled: Intro call", "true"},
    };
    json_t *meeting = json_pack("{s:s, s:s, s:s}", "external_id", "m", "title", "Intro call",
                                "starts_at", "2026-11-28T15:00:00Z");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *body = pipedrive_activity_body(cases[i][0], meeting, "Ada", "k");
        ck_assert_msg(strcmp(json_string_value(json_object_get(body, "subject")), cases[i][1]) == 0,
                      "%s: %s", cases[i][0], json_string_value(json_object_get(body, "subject")));
        ck_assert_int_eq(json_is_true(json_object_get(body, "done")),
                         strcmp(cases[i][2], "true") == 0);
        ck_assert_ptr_null(json_object_get(body, "duration")); /* no ends_at */
        json_decref(body);
    }
    /* a meeting.updated carrying a CRM's outcome; a meeting without a title */
    json_object_set_new(meeting, "status", json_string("no_show"));
    json_object_del(meeting, "title");
    json_t *body = pipedrive_activity_body("meeting.updated", meeting, "Ada Lovelace", "k");
    ck_assert_str_eq(json_string_value(json_object_get(body, "subject")),
                     "No-show: Meeting with Ada Lovelace");
    ck_assert(json_is_true(json_object_get(body, "done")));
    ck_assert_str_eq(json_string_value(json_object_get(body, "note")), "leadhub-ref: k");
    json_decref(body);
    json_decref(meeting);
}
END_TEST

START_TEST(test_pipedrive_lost_activity_creation_is_found_by_its_marker)
{
    pt_answer("GET", ADA_SEARCH, FOUND_7);
    meeting_person_answers();
    pt_error("POST", ACTIVITIES, 503, NULL, "Service unavailable");
    ck_assert_int_eq(lh_test_deliver(t, MEETING("meeting.scheduled", "scheduled"), LEAD_42, 1),
                     LH_RETRY);
    meeting_person_answers();
    /* a decoy whose marker only begins like this meeting's key, then the one */
    pt_page(ACTIVITIES "?person_id=7&updated_since=",
            "[{\"id\": 20, \"note\": \"leadhub-ref: meeting:calendar:7f3ab\", \"update_time\": "
            "\"2026-11-27T09:00:00Z\"}, {\"id\": 21, \"note\": \"leadhub-ref: "
            "meeting:calendar:7f3a\\nhttps://meet.example/abc\", \"update_time\": "
            "\"2026-11-27T09:00:00Z\"}]",
            NULL);
    ck_assert_int_eq(lh_test_deliver(t, MEETING("meeting.scheduled", "scheduled"), LEAD_42, 2),
                     LH_OK);
    ck_assert_uint_eq(pt_count("POST", ACTIVITIES), 1);
    pt_assert_json(lh_test_checkpoint(t, "meeting:calendar:7f3a"), "{\"id\": \"21\"}");
    ck_assert_uint_eq(lh_test_unanswered(t), 0);
}
END_TEST

START_TEST(test_pipedrive_own_events_unmapped_scores_and_other_types)
{
    const char *own = "{\"type\": \"lead.updated\", \"source\": \"crm\", \"source_id\": \"p\", "
                      "\"occurred_at\": \"2026-11-27T08:00:00Z\", \"lead\": {\"email\": "
                      "\"ada@analytical.example\"}}";
    ck_assert_int_eq(lh_test_deliver(t, own, LEAD_42, 1), LH_OK);
    const char *scored = "{\"type\": \"lead.scored\", \"source\": \"fit\", \"source_id\": "
                         "\"42:h1\", \"occurred_at\": \"2026-11-27T08:00:00Z\", \"lead\": "
                         "{\"id\": 42}, \"data\": {\"scorer\": \"fit\", \"score\": 80, "
                         "\"band\": \"hot\"}}";
    ck_assert_int_eq(lh_test_deliver(t, scored, LEAD_42, 1), LH_OK);
    ck_assert_uint_eq(lh_test_request_count(t), 0);
    const char *mail = "{\"type\": \"email.received\", \"source\": \"mail\", \"source_id\": "
                       "\"m1\", \"occurred_at\": \"2026-11-27T08:00:00Z\", \"lead\": "
                       "{\"email\": \"ada@analytical.example\"}}";
    ck_assert_int_eq(lh_test_deliver(t, mail, LEAD_42, 1), LH_PERMANENT);
    ck_assert_str_eq(lh_test_error(t),
                     "pipedrive does not take email.received events: check the routes");
    ck_assert_uint_eq(lh_test_request_count(t), 0);
}
END_TEST

START_TEST(test_pipedrive_mapped_score_writes_its_custom_field)
{
    lh_test_free(t);
    pt_start(", \"score_fields\": {\"fit\": \"0123456789abcdef0123456789abcdef01234567\"}");
    const char *scored = "{\"type\": \"lead.scored\", \"source\": \"fit\", \"source_id\": "
                         "\"42:h1\", \"occurred_at\": \"2026-11-27T08:00:00Z\", \"lead\": "
                         "{\"id\": 42}, \"data\": {\"scorer\": \"fit\", \"score\": 80, "
                         "\"band\": \"hot\"}}";
    pt_answer("GET", ADA_SEARCH, FOUND_7);
    pt_answer("GET", PERSON_7, PERSON_7_JSON);
    pt_answer("PATCH", PERSON_7, PERSON_7_JSON);
    ck_assert_int_eq(lh_test_deliver(t, scored, LEAD_42, 1), LH_OK);
    json_t *body = pt_body("PATCH", PERSON_7, 0);
    pt_assert_json(body, "{\"custom_fields\": {\"0123456789abcdef0123456789abcdef01234567\": 80}}");
    json_decref(body);
}
END_TEST

START_TEST(test_pipedrive_answers_that_are_not_its_json_are_clear_errors)
{
    lh_test_http_script(t, LH_TEST_ANSWER(.method = "GET", .url_contains = ADA_SEARCH,
                                          .status = 200, .body = "{not json"));
    ck_assert_int_eq(lh_test_deliver(t, LEAD_EVENT, LEAD_42, 1), LH_PERMANENT);
    ck_assert_ptr_nonnull(strstr(lh_test_error(t), "not its JSON envelope"));
    lh_test_http_script(t, LH_TEST_ANSWER(.method = "GET", .url_contains = ADA_SEARCH,
                                          .status = 200, .body = "{\"success\": false}"));
    ck_assert_int_eq(lh_test_deliver(t, LEAD_EVENT, LEAD_42, 1), LH_PERMANENT);
    /* a 2xx to a POST that cannot be read may have created the person: retried, looked up */
    pt_answer("GET", ADA_SEARCH, NONE);
    pt_answer("GET", ORG_SEARCH, FOUND_ORG);
    lh_test_http_script(t, LH_TEST_ANSWER(.method = "POST", .url_contains = PERSONS,
                                          .status = 201, .body = "[1, 2"));
    ck_assert_int_eq(lh_test_deliver(t, LEAD_EVENT, LEAD_42, 1), LH_RETRY);
    pt_answer("GET", ADA_SEARCH, NONE);
    pt_page(LIST_SINCE, "[" PERSON_7_JSON "]", NULL);
    ck_assert_int_eq(lh_test_deliver(t, LEAD_EVENT, LEAD_42, 1), LH_OK);
    ck_assert_uint_eq(pt_count("POST", PERSONS), 1);
}
END_TEST

START_TEST(test_pipedrive_settings_are_checked)
{
    lh_test_free(t);
    t = lh_test_new(leadhub_plugin_entry(), "crm");
    setenv("PD_TOKEN", PT_TOKEN, 1);
    ck_assert_int_eq(lh_test_validate(t, "{}"), LH_CONFIG);
    ck_assert_ptr_nonnull(strstr(lh_test_config_errors(t), "api_token"));
    ck_assert_int_eq(lh_test_validate(t, "{\"api_token\": \"" PT_TOKEN "\"}"), LH_CONFIG);
    ck_assert_int_eq(lh_test_validate(t, "{\"api_token\": \"${PD_TOKEN}\", \"page_size\": 501}"),
                     LH_CONFIG);
    ck_assert_int_eq(lh_test_validate(t, "{\"api_token\": \"${PD_TOKEN}\", \"field_map\": "
                                         "{\"title\": \"jobtitle\"}}"),
                     LH_CONFIG);
    ck_assert_ptr_nonnull(strstr(lh_test_config_errors(t), "field_map"));
    ck_assert_int_eq(lh_test_validate(t, "{\"api_token\": \"${PD_TOKEN}\", \"pull\": [\"leads\"]}"),
                     LH_CONFIG);
    ck_assert_int_eq(lh_test_validate(t, "{\"auth\": \"oauth\", \"client_id\": \"c\", "
                                         "\"client_secret\": \"${PD_TOKEN}\"}"),
                     LH_OK);
    ck_assert_int_eq(lh_test_validate(t, "{\"api_token\": \"${PD_TOKEN}\", \"field_map\": "
                                         "{\"title\": \"0123456789abcdef0123456789abcdef01234567\", "
                                         "\"phone\": null}}"),
                     LH_OK);
    ck_assert_ptr_null(strstr(lh_test_config_errors(t), PT_TOKEN));
}
END_TEST


START_TEST(test_pipedrive_payment_by_a_payer_marks_the_resolved_leads_person)
{
    /* accounts@ paid for Ada: Ada's person becomes a customer, nothing of the payer's is
     * written to it */
    const char *payment =
        "{\"type\": \"payment.succeeded\", \"source\": \"billing\", \"source_id\": \"pi_2\", "
        "\"occurred_at\": \"2026-11-27T08:00:00Z\", \"lead\": {\"email\": "
        "\"accounts@analytical.example\", \"first_name\": \"Accounts\"}, \"data\": "
        "{\"amount\": 500, \"currency\": \"eur\", \"payment\": \"pi_2\"}}";
    pt_answer("GET", ADA_SEARCH, FOUND_7);
    pt_answer("GET", PERSON_7, PERSON_7_JSON);
    pt_answer("PATCH", PERSON_7, PERSON_7_JSON);
    ck_assert_int_eq(lh_test_deliver(t, payment, LEAD_42, 1), LH_OK);
    json_t *body = pt_body("PATCH", PERSON_7, 0);
    pt_assert_json(body, "{\"label_ids\": [3, 5]}");
    json_decref(body);
    ck_assert_uint_eq(pt_count("GET", "accounts"), 0);
}
END_TEST

START_TEST(test_pipedrive_person_deleted_in_pipedrive_is_looked_up_again)
{
    const char *lead = "{\"id\": 42, \"email\": \"ada@analytical.example\", \"identities\": "
                       "[{\"source\": \"crm\", \"external_id\": \"6\"}]}";
    pt_error("GET", "/api/v2/persons/6", 404, NULL, "Person not found");
    pt_answer("GET", ADA_SEARCH, FOUND_7);
    pt_answer("GET", PERSON_7, PERSON_7_JSON);
    pt_answer("GET", ORG_SEARCH, FOUND_ORG);
    ck_assert_int_eq(lh_test_deliver(t, LEAD_EVENT, lead, 1), LH_OK);
    ck_assert_str_eq(lh_test_identity(t, 42), "7");
    ck_assert_uint_eq(pt_count("POST", PERSONS), 0);
    ck_assert_uint_eq(lh_test_unanswered(t), 0);
}
END_TEST

START_TEST(test_pipedrive_oauth_sends_a_bearer_and_401_asks_for_a_refresh)
{
    lh_test_free(t);
    setenv("PD_SECRET", "client-secret-8d1f", 1);
    t = lh_test_new(leadhub_plugin_entry(), "crm");
    ck_assert_int_eq(lh_test_init(t, "{\"auth\": \"oauth\", \"client_id\": \"app-1\", "
                                     "\"client_secret\": \"${PD_SECRET}\", \"api_base\": \"" PT_BASE "\"}"),
                     LH_OK);
    /* no grant yet: a clear configuration error naming the way out */
    ck_assert_int_eq(lh_test_deliver(t, LEAD_EVENT, LEAD_42, 1), LH_CONFIG);
    ck_assert_ptr_nonnull(strstr(lh_test_error(t), "leadhubd connect crm"));
    lh_test_oauth_token(t, "access-1", LH_OK);
    pt_error("GET", ADA_SEARCH, 401, NULL, "unauthorized access");
    ck_assert_int_eq(lh_test_deliver(t, LEAD_EVENT, LEAD_42, 1), LH_AUTH);
    const lh_test_request_t *r = pt_request("GET", ADA_SEARCH, 0);
    ck_assert_str_eq(lh_test_request_header(r, "Authorization"), "Bearer access-1");
    ck_assert_ptr_null(lh_test_request_header(r, "x-api-token"));
}
END_TEST

START_TEST(test_pipedrive_erased_lead_deletes_its_person_found_by_identity_only)
{
    const char *erased = "{\"type\": \"lead.erased\", \"source\": \"linkedin\", \"source_id\": "
                         "\"e-1\", \"occurred_at\": \"2026-11-27T08:00:00Z\", \"lead\": "
                         "{\"id\": 42}}";
    /* a lead this instance never knew: nothing to find it by, nothing sent */
    ck_assert_int_eq(lh_test_deliver(t, erased, "{\"id\": 42, \"identities\": []}", 1), LH_OK);
    ck_assert_uint_eq(lh_test_request_count(t), 0);
    ck_assert_double_eq(lh_test_counter(t, PIPEDRIVE_METRIC_SKIPPED, "erased_unknown"), 1);
    lh_test_checkpoint_set(t, "seen:person:7", json_pack("{s:s}", "email", "ada@a.example"));
    const char *known = "{\"id\": 42, \"identities\": [{\"source\": \"crm\", "
                        "\"external_id\": \"7\"}]}";
    pt_answer("DELETE", PERSON_7, "{\"id\": 7}");
    ck_assert_int_eq(lh_test_deliver(t, erased, known, 1), LH_OK);
    ck_assert_uint_eq(pt_count("DELETE", PERSON_7), 1);
    ck_assert(json_is_null(lh_test_checkpoint(t, "seen:person:7")));
    /* again, when Pipedrive has it no more: done */
    pt_error("DELETE", PERSON_7, 404, NULL, "Person not found");
    ck_assert_int_eq(lh_test_deliver(t, erased, known, 2), LH_OK);
    /* on_erased: keep */
    lh_test_free(t);
    pt_start(", \"on_erased\": \"keep\"");
    ck_assert_int_eq(lh_test_deliver(t, erased, known, 1), LH_OK);
    ck_assert_uint_eq(lh_test_request_count(t), 0);
}
END_TEST

START_TEST(test_pipedrive_new_last_name_keeps_the_persons_first_name)
{
    const char *married = "{\"type\": \"lead.updated\", \"source\": \"forms\", \"source_id\": "
                          "\"f-2\", \"occurred_at\": \"2026-11-27T08:00:00Z\", \"lead\": "
                          "{\"email\": \"ada@analytical.example\", \"last_name\": \"King\"}}";
    pt_answer("GET", ADA_SEARCH, FOUND_7);
    pt_answer("GET", PERSON_7, PERSON_7_JSON);
    pt_answer("PATCH", PERSON_7, PERSON_7_JSON);
    ck_assert_int_eq(lh_test_deliver(t, married, LEAD_42, 1), LH_OK);
    json_t *body = pt_body("PATCH", PERSON_7, 0);
    pt_assert_json(body, "{\"name\": \"Ada King\"}");
    json_decref(body);
}
END_TEST

START_TEST(test_pipedrive_meeting_event_without_attendees_keeps_the_participants)
{
    pt_answer("GET", ADA_SEARCH, FOUND_7);
    meeting_person_answers();
    pt_answer("POST", ACTIVITIES, "{\"id\": 21, \"type\": \"meeting\"}");
    ck_assert_int_eq(lh_test_deliver(t, MEETING("meeting.scheduled", "scheduled"), LEAD_42, 1),
                     LH_OK);
    const char *moved =
        "{\"type\": \"meeting.rescheduled\", \"source\": \"calendar\", \"source_id\": \"r\", "
        "\"occurred_at\": \"2026-11-27T08:10:00Z\", \"lead\": {\"email\": "
        "\"ada@analytical.example\"}, \"meeting\": {\"external_id\": \"7f3a\", \"title\": "
        "\"Intro call\", \"starts_at\": \"2026-11-29T10:00:00Z\", \"status\": \"rescheduled\"}}";
    pt_answer("GET", PERSON_7, PERSON_7_JSON);
    pt_answer("PATCH", ACTIVITIES "/21", "{\"id\": 21}");
    ck_assert_int_eq(lh_test_deliver(t, moved, LEAD_42, 1), LH_OK);
    json_t *body = pt_body("PATCH", ACTIVITIES "/21", 0);
    ck_assert_ptr_null(json_object_get(body, "participants"));
    ck_assert_str_eq(json_string_value(json_object_get(body, "due_date")), "2026-11-29");
    json_decref(body);
    ck_assert_uint_eq(lh_test_unanswered(t), 0);
}
END_TEST

static Suite *sink_suite(void)
{
    Suite *s = suite_create("pipedrive_sink");
    TCase *tc = tcase_create("sink");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_pipedrive_creates_the_person_when_the_search_finds_none);
    tcase_add_test(tc, test_pipedrive_updates_the_person_the_search_finds_with_what_differs);
    tcase_add_test(tc, test_pipedrive_lead_with_a_known_person_id_is_written_by_it_never_created);
    tcase_add_test(tc, test_pipedrive_lost_creation_answer_is_found_in_the_listing_not_created_twice);
    tcase_add_test(tc, test_pipedrive_lost_creation_that_did_not_land_is_created_once_more);
    tcase_add_test(tc, test_pipedrive_burst_429_is_a_wait_and_later_calls_wait_without_sending);
    tcase_add_test(tc, test_pipedrive_daily_budget_429_waits_until_midnight_utc);
    tcase_add_test(tc, test_pipedrive_remaining_zero_paces_the_next_request);
    tcase_add_test(tc, test_pipedrive_401_names_the_setting_never_the_token);
    tcase_add_test(tc, test_pipedrive_lead_without_email_or_person_id_is_held);
    tcase_add_test(tc, test_pipedrive_payment_adds_the_customer_label_keeping_the_others);
    tcase_add_test(tc, test_pipedrive_payment_without_customer_label_id_is_refused_naming_it);
    tcase_add_test(tc, test_pipedrive_meeting_is_one_activity_created_once_then_patched);
    tcase_add_test(tc, test_pipedrive_meeting_outcomes_map_to_subject_and_done);
    tcase_add_test(tc, test_pipedrive_lost_activity_creation_is_found_by_its_marker);
    tcase_add_test(tc, test_pipedrive_own_events_unmapped_scores_and_other_types);
    tcase_add_test(tc, test_pipedrive_mapped_score_writes_its_custom_field);
    tcase_add_test(tc, test_pipedrive_answers_that_are_not_its_json_are_clear_errors);
    tcase_add_test(tc, test_pipedrive_settings_are_checked);
    tcase_add_test(tc, test_pipedrive_new_last_name_keeps_the_persons_first_name);
    tcase_add_test(tc, test_pipedrive_meeting_event_without_attendees_keeps_the_participants);
    tcase_add_test(tc, test_pipedrive_erased_lead_deletes_its_person_found_by_identity_only);
    tcase_add_test(tc, test_pipedrive_payment_by_a_payer_marks_the_resolved_leads_person);
    tcase_add_test(tc, test_pipedrive_person_deleted_in_pipedrive_is_looked_up_again);
    tcase_add_test(tc, test_pipedrive_oauth_sends_a_bearer_and_401_asks_for_a_refresh);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(sink_suite());
}
