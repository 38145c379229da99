/*
 * test_pipedrive_poll.c - the pipedrive plugin as a source on the fake host: persons paged
 * by update time with a seen-set for records sharing a second, organizations' names on
 * persons, deals' stage changes emitted once, the sink's own writes not read back, a rate
 * limit ending a poll with what it read, and pages that are not Pipedrive's JSON.
 */
#include "pipedrive_test.h"

#define PERSONS_LIST "/api/v2/persons?updated_since="
#define ORGS_LIST    "/api/v2/organizations?updated_since="
#define DEALS_LIST   "/api/v2/deals?updated_since="

static void teardown(void)
{
    pt_teardown();
}

/* A listed person: id, update time, email. */
static char *person(int id, const char *updated, const char *email)
{
    char *text = NULL;
    ck_assert_int_ge(asprintf(&text,
                              "{\"id\": %d, \"name\": \"Ada Lovelace\", \"first_name\": \"Ada\", "
                              "\"last_name\": \"Lovelace\", \"org_id\": 3, \"emails\": "
                              "[{\"value\": \"%s\", \"primary\": true, \"label\": \"work\"}], "
                              "\"phones\": [{\"value\": \"+44 20 7946 0000\", \"primary\": "
                              "true}], \"label_ids\": [5], \"update_time\": \"%s\", "
                              "\"add_time\": \"2026-11-01T00:00:00Z\", \"is_deleted\": false}",
                              id, email, updated),
                     0);
    return text;
}

static void persons_page(const char *url, const char *next, int n, ...)
{
    va_list args;
    va_start(args, n);
    char data[8192] = "[";
    for (int i = 0; i < n; i++) {
        char *item = va_arg(args, char *);
        strncat(data, item, sizeof(data) - strlen(data) - 3);
        strcat(data, i + 1 < n ? ", " : "");
        free(item);
    }
    strcat(data, "]");
    va_end(args);
    pt_page(url, data, next);
}

static const char *event_text(size_t i, const char *member)
{
    return json_string_value(json_object_get(lh_test_event(t, i), member));
}

START_TEST(test_pipedrive_poll_pages_persons_and_skips_those_seen_at_the_same_second)
{
    pt_start(", \"pull\": [\"organizations\", \"persons\"]");
    pt_page(ORGS_LIST, "[{\"id\": 3, \"name\": \"Analytical Engines\", \"update_time\": "
                       "\"2026-11-27T09:30:00Z\"}]",
            NULL);
    persons_page(PERSONS_LIST, "c2", 2, person(1, "2026-11-27T10:00:00Z", "ada@a.example"),
                 person(2, "2026-11-27T10:00:00Z", "bob@a.example"));
    persons_page("cursor=c2", NULL, 1, person(3, "2026-11-27T10:00:00Z", "cy@a.example"));
    ck_assert_int_eq(lh_test_poll(t), LH_OK);
    ck_assert_uint_eq(lh_test_event_count(t), 3);
    ck_assert_str_eq(event_text(0, "type"), "lead.updated");
    ck_assert_str_eq(event_text(0, "source_id"), "person:1:2026-11-27T10:00:00.000Z");
    pt_assert_json(json_object_get(lh_test_event(t, 0), "lead"),
                   "{\"external_id\": \"1\", \"email\": \"ada@a.example\", \"first_name\": "
                   "\"Ada\", \"last_name\": \"Lovelace\", \"phone\": \"+44 20 7946 0000\", "
                   "\"company\": \"Analytical Engines\", \"attributes\": {\"pipedrive_labels\": "
                   "[5]}}");
    /* the first listing starts now (no backfill), sorted by update time */
    const char *first = pt_request("GET", PERSONS_LIST, 0)->url;
    ck_assert_ptr_nonnull(strstr(first, "updated_since=2026-11-27T09%3A00%3A00Z"));
    ck_assert_ptr_nonnull(strstr(first, "sort_by=update_time&sort_direction=asc&limit=100"));
    pt_assert_token_only_in_header();

    /* the next poll asks from the newest second again: the three are not emitted twice, a
     * fourth of that second is, and a later change of one is */
    persons_page(PERSONS_LIST "2026-11-27T10%3A00%3A00Z", NULL, 4,
                 person(1, "2026-11-27T10:00:00Z", "ada@a.example"),
                 person(3, "2026-11-27T10:00:00Z", "cy@a.example"),
                 person(4, "2026-11-27T10:00:00Z", "dee@a.example"),
                 person(2, "2026-11-27T10:00:05Z", "bob@a.example"));
    pt_page(ORGS_LIST, "[]", NULL);
    ck_assert_int_eq(lh_test_poll(t), LH_OK);
    ck_assert_uint_eq(lh_test_event_count(t), 5);
    ck_assert_str_eq(event_text(3, "source_id"), "person:4:2026-11-27T10:00:00.000Z");
    ck_assert_str_eq(event_text(4, "source_id"), "person:2:2026-11-27T10:00:05.000Z");
    ck_assert_uint_eq(lh_test_duplicate_count(t), 0);
    ck_assert_str_eq(json_string_value(json_object_get(lh_test_checkpoint(t, "cursor:persons"),
                                                       "time")),
                     "2026-11-27T10:00:05.000Z");
    ck_assert_uint_eq(lh_test_unanswered(t), 0);
}
END_TEST

#define STAGES                                                                                     \
    "[{\"id\": 2, \"name\": \"Proposal made\", \"pipeline_id\": 1, \"order_nr\": 2}, {\"id\": " \
    "3, \"name\": \"Negotiation\", \"pipeline_id\": 1, \"order_nr\": 3}]"

static void deal(const char *updated, int stage, const char *status)
{
    char data[1024];
    snprintf(data, sizeof(data),
             "[{\"id\": 11, \"title\": \"Acme - annual\", \"person_id\": 7, \"org_id\": 3, "
             "\"pipeline_id\": 1, \"stage_id\": %d, \"status\": \"%s\", \"value\": 1200.5, "
             "\"currency\": \"EUR\", \"owner_id\": 1, \"stage_change_time\": "
             "\"2026-11-27T09:30:00Z\", \"update_time\": \"%s\", \"add_time\": "
             "\"2026-11-01T00:00:00Z\"}]",
             stage, status, updated);
    pt_page(DEALS_LIST, data, NULL);
}

START_TEST(test_pipedrive_deal_stage_change_is_emitted_once)
{
    pt_start(", \"pull\": [\"deals\"]");
    pt_answer("GET", "/api/v2/stages", STAGES);
    deal("2026-11-27T10:00:00Z", 2, "open");
    ck_assert_int_eq(lh_test_poll(t), LH_OK);
    ck_assert_uint_eq(lh_test_event_count(t), 1);
    ck_assert_str_eq(event_text(0, "type"), "deal.stage_changed");
    ck_assert_str_eq(event_text(0, "occurred_at"), "2026-11-27T09:30:00.000Z");
    pt_assert_json(json_object_get(lh_test_event(t, 0), "data"),
                   "{\"deal_id\": \"11\", \"deal_name\": \"Acme - annual\", \"pipeline\": \"1\", "
                   "\"stage\": \"2\", \"amount\": 1200.5, \"owner_id\": \"1\", \"status\": "
                   "\"open\", \"currency\": \"EUR\", \"stage_name\": \"Proposal made\"}");
    pt_assert_json(json_object_get(lh_test_event(t, 0), "lead"), "{\"external_id\": \"7\"}");
    /* updated (its value), the stage the same: nothing */
    deal("2026-11-27T10:05:00Z", 2, "open");
    ck_assert_int_eq(lh_test_poll(t), LH_OK);
    ck_assert_uint_eq(lh_test_event_count(t), 1);
    /* moved on: once, with the stage before; the stages already known are not read again */
    deal("2026-11-27T10:10:00Z", 3, "open");
    ck_assert_int_eq(lh_test_poll(t), LH_OK);
    ck_assert_uint_eq(lh_test_event_count(t), 2);
    const json_t *data = json_object_get(lh_test_event(t, 1), "data");
    ck_assert_str_eq(json_string_value(json_object_get(data, "previous_stage")), "2");
    ck_assert_str_eq(json_string_value(json_object_get(data, "stage_name")), "Negotiation");
    /* won in the same stage: a change of status */
    deal("2026-11-27T10:20:00Z", 3, "won");
    ck_assert_int_eq(lh_test_poll(t), LH_OK);
    ck_assert_uint_eq(lh_test_event_count(t), 3);
    ck_assert_uint_eq(pt_count("GET", "/api/v2/stages"), 1);
    ck_assert_uint_eq(lh_test_unanswered(t), 0);
}
END_TEST

START_TEST(test_pipedrive_what_the_sink_wrote_is_not_read_back_a_reps_change_is)
{
    pt_start(", \"pull\": [\"persons\"], \"field_map\": {\"company\": null}");
    pt_answer("GET", "/persons/search", "{\"items\": []}");
    char *created = person(7, "2026-11-27T10:00:00Z", "ada@a.example");
    pt_answer("POST", "/api/v2/persons", created);
    free(created);
    const char *event = "{\"type\": \"lead.created\", \"source\": \"forms\", \"source_id\": "
                        "\"f-1\", \"occurred_at\": \"2026-11-27T08:00:00Z\", \"lead\": "
                        "{\"email\": \"ada@a.example\", \"first_name\": \"Ada\"}}";
    ck_assert_int_eq(lh_test_deliver(t, event, "{\"id\": 42, \"email\": \"ada@a.example\"}", 1),
                     LH_OK);
    persons_page(PERSONS_LIST, NULL, 1, person(7, "2026-11-27T10:00:00Z", "ada@a.example"));
    ck_assert_int_eq(lh_test_poll(t), LH_OK);
    ck_assert_uint_eq(lh_test_event_count(t), 0);
    ck_assert_double_eq(lh_test_counter(t, PIPEDRIVE_METRIC_SKIPPED, "own_write"), 1);
    /* a rep edits the person afterwards: read back, once */
    persons_page(PERSONS_LIST, NULL, 2, person(7, "2026-11-27T10:00:00Z", "ada@a.example"),
                 person(7, "2026-11-27T10:03:00Z", "ada@a.example"));
    ck_assert_int_eq(lh_test_poll(t), LH_OK);
    ck_assert_uint_eq(lh_test_event_count(t), 1);
    ck_assert_str_eq(event_text(0, "source_id"), "person:7:2026-11-27T10:03:00.000Z");
    persons_page(PERSONS_LIST, NULL, 1, person(7, "2026-11-27T10:03:00Z", "ada@a.example"));
    ck_assert_int_eq(lh_test_poll(t), LH_OK);
    ck_assert_uint_eq(lh_test_event_count(t), 1);
}
END_TEST

START_TEST(test_pipedrive_rate_limit_ends_the_poll_with_what_it_read)
{
    pt_start(", \"pull\": [\"persons\"]");
    persons_page(PERSONS_LIST, "c2", 1, person(1, "2026-11-27T10:00:00Z", "ada@a.example"));
    pt_error("GET", "cursor=c2", 429, "retry-after: 5\n", "Too many requests");
    ck_assert_int_eq(lh_test_poll(t), LH_OK);
    ck_assert_uint_eq(lh_test_event_count(t), 1);
    ck_assert_int_eq(lh_test_retry_after(t), 5000);
    ck_assert_str_eq(json_string_value(json_object_get(lh_test_checkpoint(t, "cursor:persons"),
                                                       "time")),
                     "2026-11-27T10:00:00.000Z");
    /* within the wait a poll sends nothing */
    size_t sent = lh_test_request_count(t);
    ck_assert_int_eq(lh_test_poll(t), LH_OK);
    ck_assert_uint_eq(lh_test_request_count(t), sent);
}
END_TEST

START_TEST(test_pipedrive_poll_of_a_page_that_is_not_its_json_fails_cleanly)
{
    pt_start(", \"pull\": [\"persons\"]");
    pt_answer("GET", PERSONS_LIST, "{\"not\": \"a list\"}");
    ck_assert_int_eq(lh_test_poll(t), LH_PERMANENT);
    ck_assert_ptr_nonnull(strstr(lh_test_error(t), "without a data array"));
    ck_assert_uint_eq(lh_test_checkpoint_count(t), 0);
    /* a record without an id or time is skipped and counted, the rest go on */
    pt_page(PERSONS_LIST, "[{\"id\": \"x\"}, 7, {\"id\": 2, \"update_time\": \"soon\"}, "
                          "{\"id\": 3, \"name\": \"Cy\", \"update_time\": "
                          "\"2026-11-27T10:00:00Z\"}]",
            NULL);
    ck_assert_int_eq(lh_test_poll(t), LH_OK);
    ck_assert_uint_eq(lh_test_event_count(t), 1);
    ck_assert_double_eq(lh_test_counter(t, PIPEDRIVE_METRIC_SKIPPED, "unreadable"), 3);
}
END_TEST


START_TEST(test_pipedrive_deal_lead_carries_the_email_of_a_person_seen)
{
    pt_start(", \"pull\": [\"persons\", \"deals\"]");
    persons_page(PERSONS_LIST, NULL, 1, person(7, "2026-11-27T09:40:00Z", "ada@a.example"));
    pt_answer("GET", "/api/v2/stages", STAGES);
    deal("2026-11-27T10:00:00Z", 2, "open");
    ck_assert_int_eq(lh_test_poll(t), LH_OK);
    ck_assert_uint_eq(lh_test_event_count(t), 2);
    ck_assert_str_eq(event_text(1, "type"), "deal.stage_changed");
    pt_assert_json(json_object_get(lh_test_event(t, 1), "lead"),
                   "{\"external_id\": \"7\", \"email\": \"ada@a.example\"}");
}
END_TEST

START_TEST(test_pipedrive_person_of_an_organization_not_listed_reads_it_once)
{
    pt_start(", \"pull\": [\"organizations\", \"persons\"]");
    pt_page(ORGS_LIST, "[]", NULL);
    persons_page(PERSONS_LIST, NULL, 2, person(1, "2026-11-27T10:00:00Z", "ada@a.example"),
                 person(2, "2026-11-27T10:00:01Z", "bob@a.example"));
    pt_answer("GET", "/api/v2/organizations/3", "{\"id\": 3, \"name\": \"Old Org\", "
                                                "\"update_time\": \"2020-01-01T00:00:00Z\"}");
    ck_assert_int_eq(lh_test_poll(t), LH_OK);
    ck_assert_uint_eq(lh_test_event_count(t), 2);
    for (size_t i = 0; i < 2; i++) {
        ck_assert_str_eq(json_string_value(json_object_get(
                             json_object_get(lh_test_event(t, i), "lead"), "company")),
                         "Old Org");
    }
    ck_assert_uint_eq(pt_count("GET", "/api/v2/organizations/3"), 1);
    /* one Pipedrive cannot give: the person goes without a company */
    lh_test_free(t);
    pt_start(", \"pull\": [\"organizations\", \"persons\"]");
    pt_page(ORGS_LIST, "[]", NULL);
    persons_page(PERSONS_LIST, NULL, 1, person(1, "2026-11-27T10:00:00Z", "ada@a.example"));
    pt_error("GET", "/api/v2/organizations/3", 404, NULL, "Organization not found");
    ck_assert_int_eq(lh_test_poll(t), LH_OK);
    ck_assert_uint_eq(lh_test_event_count(t), 1);
    ck_assert_ptr_null(json_object_get(json_object_get(lh_test_event(t, 0), "lead"), "company"));
}
END_TEST

static Suite *poll_suite(void)
{
    Suite *s = suite_create("pipedrive_poll");
    TCase *tc = tcase_create("poll");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, test_pipedrive_poll_pages_persons_and_skips_those_seen_at_the_same_second);
    tcase_add_test(tc, test_pipedrive_deal_stage_change_is_emitted_once);
    tcase_add_test(tc, test_pipedrive_what_the_sink_wrote_is_not_read_back_a_reps_change_is);
    tcase_add_test(tc, test_pipedrive_rate_limit_ends_the_poll_with_what_it_read);
    tcase_add_test(tc, test_pipedrive_poll_of_a_page_that_is_not_its_json_fails_cleanly);
    tcase_add_test(tc, test_pipedrive_deal_lead_carries_the_email_of_a_person_seen);
    tcase_add_test(tc, test_pipedrive_person_of_an_organization_not_listed_reads_it_once);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(poll_suite());
}
