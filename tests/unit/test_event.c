/* test_event.c - the normalized event model: what is accepted, how it is normalized, and
 * that every malformed event is refused with a reason naming the field. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "testutil.h"
#include "util.h"

/* Validates `text` as emitted by instance "inbound"; returns 0 or -1, with the record or
 * the error left for the caller. */
static int validate_text(const char *text, struct event_record *record, char **error)
{
    json_error_t jerr;
    json_t *event = json_loads(text, 0, &jerr);
    ck_assert_msg(event != NULL, "test input is not JSON: %s", jerr.text);
    return event_validate(event, "inbound", record, error);
}

/* Asserts that `text` is refused with an error containing `expected`. */
static void assert_refused(const char *text, const char *expected)
{
    struct event_record record;
    char *error = NULL;
    ck_assert_int_eq(validate_text(text, &record, &error), -1);
    ck_assert_ptr_nonnull(error);
    ck_assert_msg(strstr(error, expected) != NULL, "error \"%s\" lacks \"%s\"", error, expected);
    ck_assert_ptr_null(record.event);
    free(error);
}

START_TEST(test_event_minimal_lead_created_is_normalized)
{
    struct event_record r;
    char *error = NULL;
    ck_assert_int_eq(validate_text("{\"type\":\"lead.created\",\"source_id\":\"f-1\","
                                   "\"occurred_at\":\"2026-11-27T10:00:00+01:00\","
                                   "\"lead\":{\"email\":\"  Ada@Example.COM \","
                                   "\"first_name\":\" Ada \",\"company\":\"\"}}",
                                   &r, &error),
                     0);
    ck_assert_str_eq(r.type, "lead.created");
    ck_assert_str_eq(r.source, "inbound");
    ck_assert_str_eq(r.source_id, "f-1");
    ck_assert_str_eq(r.lead_email, "ada@example.com");
    ck_assert_str_eq(json_string_value(json_object_get(r.event, "occurred_at")),
                     "2026-11-27T09:00:00.000Z");
    json_t *lead = json_object_get(r.event, "lead");
    ck_assert_str_eq(json_string_value(json_object_get(lead, "first_name")), "Ada");
    /* an empty provider field is left out rather than stored as "" */
    ck_assert_ptr_null(json_object_get(lead, "company"));
    ck_assert_int_eq(r.occurred_at_ms, 1795770000000LL);
    event_record_clear(&r);
}
END_TEST

START_TEST(test_event_source_is_set_by_host_and_must_not_be_spoofed)
{
    assert_refused("{\"type\":\"email.received\",\"source\":\"other\",\"source_id\":\"m1\","
                   "\"occurred_at\":\"2026-11-27T10:00:00Z\"}",
                   "source: must be absent or \"inbound\"");
    struct event_record r;
    char *error = NULL;
    ck_assert_int_eq(validate_text("{\"type\":\"email.received\",\"source\":\"inbound\","
                                   "\"source_id\":\"m1\",\"occurred_at\":\"2026-11-27T10:00:00Z\"}",
                                   &r, &error),
                     0);
    event_record_clear(&r);
}
END_TEST

START_TEST(test_event_refuses_missing_or_unknown_type)
{
    assert_refused("{\"source_id\":\"1\",\"occurred_at\":\"2026-11-27T10:00:00Z\"}",
                   "type: required");
    assert_refused("{\"type\":\"lead.exploded\",\"source_id\":\"1\","
                   "\"occurred_at\":\"2026-11-27T10:00:00Z\"}",
                   "\"lead.exploded\" is not an event type");
}
END_TEST

START_TEST(test_event_accepts_every_mail_event_type)
{
    /* the types plugins/common/mail_classify.h decides between */
    const char *types[] = {"email.received", "email.sent", "email.replied", "email.bounced"};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        char *text = util_printf("{\"type\":\"%s\",\"source_id\":\"m1\","
                                 "\"occurred_at\":\"2026-11-27T10:00:00Z\","
                                 "\"lead\":{\"email\":\"ada@analytical.example\"}}",
                                 types[i]);
        struct event_record r;
        char *error = NULL;
        ck_assert_msg(validate_text(text, &r, &error) == 0, "%s: %s", types[i], error);
        ck_assert_str_eq(r.type, types[i]);
        event_record_clear(&r);
        free(text);
    }
}
END_TEST

START_TEST(test_event_accepts_custom_types)
{
    struct event_record r;
    char *error = NULL;
    ck_assert_int_eq(validate_text("{\"type\":\"custom.webinar_attended\",\"source_id\":\"w1\","
                                   "\"occurred_at\":\"2026-11-27T10:00:00Z\","
                                   "\"data\":{\"webinar\":\"Q4\"}}",
                                   &r, &error),
                     0);
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(r.event, "data"), "webinar")), "Q4");
    event_record_clear(&r);
    assert_refused("{\"type\":\"custom.\",\"source_id\":\"1\","
                   "\"occurred_at\":\"2026-11-27T10:00:00Z\"}",
                   "is not an event type");
}
END_TEST

START_TEST(test_event_refuses_bad_source_id_and_time)
{
    assert_refused("{\"type\":\"email.sent\",\"occurred_at\":\"2026-11-27T10:00:00Z\"}",
                   "source_id: required");
    assert_refused("{\"type\":\"email.sent\",\"source_id\":\"\","
                   "\"occurred_at\":\"2026-11-27T10:00:00Z\"}",
                   "source_id: required");
    assert_refused("{\"type\":\"email.sent\",\"source_id\":\"1\"}", "occurred_at: required");
    /* null is as absent as a missing key: no event is stored at the epoch */
    assert_refused("{\"type\":\"email.sent\",\"source_id\":\"1\",\"occurred_at\":null}",
                   "occurred_at: required");
    assert_refused("{\"type\":\"email.sent\",\"source_id\":\"1\",\"occurred_at\":\"yesterday\"}",
                   "occurred_at: expected an RFC 3339 date-time");
    assert_refused("{\"type\":\"email.sent\",\"source_id\":\"1\","
                   "\"occurred_at\":\"2026-02-30T10:00:00Z\"}",
                   "occurred_at: expected an RFC 3339");
}
END_TEST

START_TEST(test_event_refuses_unknown_fields_listing_allowed_ones)
{
    assert_refused("{\"type\":\"email.sent\",\"source_id\":\"1\","
                   "\"occurred_at\":\"2026-11-27T10:00:00Z\",\"leed\":{}}",
                   "leed: unknown field (allowed: type, source, source_id");
    assert_refused("{\"type\":\"lead.created\",\"source_id\":\"1\","
                   "\"occurred_at\":\"2026-11-27T10:00:00Z\","
                   "\"lead\":{\"email\":\"a@b.c\",\"mail\":\"x\"}}",
                   "lead.mail: unknown field");
}
END_TEST

START_TEST(test_event_lead_needs_an_identity_and_a_real_email)
{
    assert_refused("{\"type\":\"lead.created\",\"source_id\":\"1\","
                   "\"occurred_at\":\"2026-11-27T10:00:00Z\"}",
                   "lead: required for lead.created");
    assert_refused("{\"type\":\"lead.created\",\"source_id\":\"1\","
                   "\"occurred_at\":\"2026-11-27T10:00:00Z\",\"lead\":{\"first_name\":\"A\"}}",
                   "has no email, external_id or id");
    assert_refused("{\"type\":\"lead.created\",\"source_id\":\"1\","
                   "\"occurred_at\":\"2026-11-27T10:00:00Z\",\"lead\":{\"email\":\"not-mail\"}}",
                   "lead.email: not an email address");
    assert_refused("{\"type\":\"lead.created\",\"source_id\":\"1\","
                   "\"occurred_at\":\"2026-11-27T10:00:00Z\",\"lead\":{\"email\":\"a b@c.d\"}}",
                   "lead.email: not an email address");
    assert_refused("{\"type\":\"lead.created\",\"source_id\":\"1\","
                   "\"occurred_at\":\"2026-11-27T10:00:00Z\",\"lead\":{\"email\":42}}",
                   "lead.email: expected a string");
}
END_TEST

START_TEST(test_event_refuses_nul_anywhere_including_raw)
{
    /* A plugin can build such a string (json_stringn) even though the parser refuses it. */
    json_t *event =
        json_pack("{s:s,s:s,s:s,s:{s:[o]}}", "type", "email.sent", "source_id", "1", "occurred_at",
                  "2026-11-27T10:00:00Z", "raw", "x", json_stringn("a\0b", 3));
    ck_assert_ptr_nonnull(event);
    struct event_record record;
    char *error = NULL;
    ck_assert_int_eq(event_validate(event, "inbound", &record, &error), -1);
    ck_assert_ptr_nonnull(strstr(error, "U+0000"));
    free(error);
}
END_TEST

START_TEST(test_event_meeting_is_required_and_normalized)
{
    assert_refused("{\"type\":\"meeting.scheduled\",\"source_id\":\"1\","
                   "\"occurred_at\":\"2026-11-27T10:00:00Z\"}",
                   "meeting: required for meeting.scheduled");
    assert_refused("{\"type\":\"meeting.scheduled\",\"source_id\":\"1\","
                   "\"occurred_at\":\"2026-11-27T10:00:00Z\",\"meeting\":{\"title\":\"x\"}}",
                   "meeting.external_id: required");
    assert_refused("{\"type\":\"meeting.scheduled\",\"source_id\":\"1\","
                   "\"occurred_at\":\"2026-11-27T10:00:00Z\",\"meeting\":{\"external_id\":\"e\","
                   "\"starts_at\":\"2026-11-28T10:00:00Z\",\"ends_at\":\"2026-11-28T09:00:00Z\"}}",
                   "meeting.ends_at: before starts_at");
    assert_refused("{\"type\":\"meeting.scheduled\",\"source_id\":\"1\","
                   "\"occurred_at\":\"2026-11-27T10:00:00Z\",\"meeting\":{\"external_id\":\"e\","
                   "\"attendees\":[{\"email\":\"a@b.c\",\"response\":\"maybe\"}]}}",
                   "meeting.attendees[0].response");

    struct event_record r;
    char *error = NULL;
    ck_assert_int_eq(
        validate_text("{\"type\":\"meeting.canceled\",\"source_id\":\"1\","
                      "\"occurred_at\":\"2026-11-27T10:00:00Z\",\"meeting\":{\"external_id\":\"e\","
                      "\"status\":\"scheduled\",\"starts_at\":\"2026-11-28T10:00:00-05:00\","
                      "\"attendees\":[{\"email\":\"B@X.io\",\"response\":\"accepted\"}]}}",
                      &r, &error),
        0);
    json_t *meeting = json_object_get(r.event, "meeting");
    ck_assert_str_eq(json_string_value(json_object_get(meeting, "status")), "canceled");
    ck_assert_str_eq(json_string_value(json_object_get(meeting, "starts_at")),
                     "2026-11-28T15:00:00.000Z");
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(json_object_get(meeting, "attendees"), 0), "email")),
                     "b@x.io");
    event_record_clear(&r);
}
END_TEST

START_TEST(test_event_refuses_non_objects)
{
    assert_refused("[1,2]", "event: expected a JSON object");
    assert_refused("{\"type\":\"email.sent\",\"source_id\":\"1\","
                   "\"occurred_at\":\"2026-11-27T10:00:00Z\",\"data\":[1]}",
                   "data: expected an object");
}
END_TEST

START_TEST(test_event_normalize_email)
{
    char *e = event_normalize_email("  Mixed.Case+tag@Example.org\t");
    ck_assert_str_eq(e, "mixed.case+tag@example.org");
    free(e);
    ck_assert_ptr_null(event_normalize_email("@example.org"));
    ck_assert_ptr_null(event_normalize_email("a@"));
    ck_assert_ptr_null(event_normalize_email("a@b@c"));
    ck_assert_ptr_null(event_normalize_email(""));
}
END_TEST

/* Anyone may post a new custom.<name>: metrics label them all alike, or each would be a
 * series for ever. */
START_TEST(test_event_type_label_is_a_bounded_set)
{
    ck_assert_str_eq(event_type_label("lead.created"), "lead.created");
    ck_assert_str_eq(event_type_label("meeting.canceled"), "meeting.canceled");
    ck_assert_str_eq(event_type_label("custom.trial_started"), EVENT_TYPE_LABEL_CUSTOM);
    ck_assert_str_eq(event_type_label("custom.x1"), EVENT_TYPE_LABEL_CUSTOM);
    ck_assert_str_eq(event_type_label("custom."), "invalid");
    ck_assert_str_eq(event_type_label("Lead.Created"), "invalid");
    ck_assert_str_eq(event_type_label(NULL), "invalid");
}
END_TEST

static Suite *event_suite(void)
{
    Suite *s = suite_create("event");
    TCase *tc = tcase_create("validate");
    tcase_add_test(tc, test_event_minimal_lead_created_is_normalized);
    tcase_add_test(tc, test_event_source_is_set_by_host_and_must_not_be_spoofed);
    tcase_add_test(tc, test_event_refuses_missing_or_unknown_type);
    tcase_add_test(tc, test_event_accepts_every_mail_event_type);
    tcase_add_test(tc, test_event_accepts_custom_types);
    tcase_add_test(tc, test_event_refuses_bad_source_id_and_time);
    tcase_add_test(tc, test_event_refuses_unknown_fields_listing_allowed_ones);
    tcase_add_test(tc, test_event_lead_needs_an_identity_and_a_real_email);
    tcase_add_test(tc, test_event_refuses_nul_anywhere_including_raw);
    tcase_add_test(tc, test_event_meeting_is_required_and_normalized);
    tcase_add_test(tc, test_event_refuses_non_objects);
    tcase_add_test(tc, test_event_normalize_email);
    tcase_add_test(tc, test_event_type_label_is_a_bounded_set);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(event_suite());
}
