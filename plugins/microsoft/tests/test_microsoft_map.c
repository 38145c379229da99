/*
 * test_microsoft_map.c - what Graph's payloads become, without the host: messages (headers
 * made from Graph's fields, the shared classification, replies, auto-replies, bounces,
 * drafts), calendar events (UTC times, Windows zones, rooms, outside attendees,
 * cancellations), notification collections (clientState, lifecycle events), times.
 * Payloads are Graph's documented examples (tests/fixtures/, from the provider notes).
 * The plugin's sources are included so that their functions are called directly.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "../ms_api.c"      // NOLINT(bugprone-suspicious-include)
#include "../ms_calendar.c" // NOLINT(bugprone-suspicious-include)
#include "../ms_delta.c"    // NOLINT(bugprone-suspicious-include)
#include "../ms_mail.c"     // NOLINT(bugprone-suspicious-include)
#include "../ms_text.c"     // NOLINT(bugprone-suspicious-include)
#include "../ms_tz.c"       // NOLINT(bugprone-suspicious-include)
#include "../ms_webhook.c"  // NOLINT(bugprone-suspicious-include)
#include "testutil.h"
#include "util.h"

#define MAYA "maya.chen@leadhubdemo.onmicrosoft.com"

static char *internal[] = {"leadhubdemo.onmicrosoft.com"};
static struct microsoft ms;
static struct ms_mailbox maya;

static void setup(void)
{
    memset(&ms, 0, sizeof(ms));
    ms.internal_domains = internal;
    ms.internal_domain_count = 1;
    ms.window_past_ms = 30LL * 86400000;
    ms.window_future_ms = 90LL * 86400000;
    memset(&maya, 0, sizeof(maya));
    maya.address = MAYA;
    ms_hash_key(MAYA, NULL, maya.key);
}

static json_t *fixture(const char *name)
{
    char *path = util_printf("%s/plugins/microsoft/tests/fixtures/%s", tu_source_dir(), name);
    json_error_t error;
    json_t *value = json_load_file(path, 0, &error);
    ck_assert_msg(value != NULL, "%s: %s", path, error.text);
    free(path);
    return value;
}

/* The first message of the example delta page, with changes applied by the caller. */
static json_t *example_message(void)
{
    json_t *page = fixture("messages.delta.page-1.json");
    json_t *message = json_incref(json_array_get(json_object_get(page, "value"), 0));
    json_decref(page);
    return message;
}

static json_t *map(const json_t *message, const json_t *thread, const char **skip, json_t **sent_to)
{
    json_t *events = NULL;
    ck_assert_int_eq(ms_mail_map(&ms, &maya, message, thread, &events, skip, sent_to), 0);
    return events;
}

static const char *str(const json_t *value, const char *path)
{
    /* "a.b.c" into objects */
    char copy[128];
    snprintf(copy, sizeof(copy), "%s", path);
    const json_t *at = value;
    for (char *save = NULL, *key = strtok_r(copy, ".", &save); key != NULL;
         key = strtok_r(NULL, ".", &save)) {
        at = json_object_get(at, key);
    }
    return json_string_value(at);
}

START_TEST(test_microsoft_a_prospects_first_mail_is_received_with_a_split_name)
{
    json_t *message = example_message();
    const char *skip = NULL;
    json_t *sent_to = NULL;
    json_t *events = map(message, NULL, &skip, &sent_to);
    ck_assert_int_eq(json_array_size(events), 1);
    json_t *event = json_array_get(events, 0);
    ck_assert_str_eq(str(event, "type"), "email.received");
    ck_assert_str_eq(str(event, "lead.email"), "tomas.herrera@fabrikam-logistics.com");
    ck_assert_str_eq(str(event, "lead.first_name"), "Tomás");
    ck_assert_str_eq(str(event, "lead.last_name"), "Herrera");
    ck_assert_str_eq(str(event, "occurred_at"), "2025-03-06T16:02:44.000Z");
    ck_assert_str_eq(str(event, "data.conversation_id"),
                     "AAQkAGI2THVSAAA-QAQAK8f1r2uZ0EKv5bJ4qXkT8E=");
    /* keyed by the mailbox and the RFC Message-ID (the Graph id changes with the folder) */
    char expected[256];
    snprintf(expected, sizeof(expected),
             "%s:<DM6PR11MB4073A1B2C3D4E5F6A7B8C9D0AB@"
             "DM6PR11MB4073.namprd11.prod.outlook.com>",
             maya.key);
    ck_assert_str_eq(str(event, "source_id"), expected);
    ck_assert_ptr_null(sent_to);
    json_decref(events);
    json_decref(message);
}
END_TEST

START_TEST(test_microsoft_a_reply_needs_in_reply_to_and_the_mailbox_in_the_thread)
{
    json_t *message = example_message();
    json_object_set_new(message, "internetMessageHeaders",
                        json_pack("[{s:s, s:s}]", "name", "In-Reply-To", "value", "<out-1@x>"));
    json_t *thread = json_pack("[s]", "tomas.herrera@fabrikam-logistics.com");
    const char *skip = NULL;
    json_t *sent_to = NULL;
    json_t *events = map(message, thread, &skip, &sent_to);
    ck_assert_str_eq(str(json_array_get(events, 0), "type"), "email.replied");
    json_decref(events);
    /* the same message in a conversation the mailbox never wrote in is only received */
    events = map(message, NULL, &skip, &sent_to);
    ck_assert_str_eq(str(json_array_get(events, 0), "type"), "email.received");
    json_decref(events);
    json_decref(thread);
    json_decref(message);
}
END_TEST

START_TEST(test_microsoft_auto_replies_newsletters_and_drafts_are_skipped)
{
    json_t *message = example_message();
    json_object_set_new(
        message, "internetMessageHeaders",
        json_pack("[{s:s, s:s}]", "name", "Auto-Submitted", "value", "auto-replied"));
    json_t *thread = json_pack("[s]", "tomas.herrera@fabrikam-logistics.com");
    const char *skip = NULL;
    json_t *sent_to = NULL;
    json_t *events = map(message, thread, &skip, &sent_to);
    ck_assert_int_eq(json_array_size(events), 0);
    ck_assert_str_eq(skip, "auto_reply");
    json_decref(events);
    json_object_set_new(message, "internetMessageHeaders",
                        json_pack("[{s:s, s:s}]", "name", "List-Id", "value", "<news.x>"));
    events = map(message, NULL, &skip, &sent_to);
    ck_assert_str_eq(skip, "list");
    json_decref(events);
    json_object_set_new(message, "isDraft", json_true());
    events = map(message, NULL, &skip, &sent_to);
    ck_assert_str_eq(skip, "draft");
    json_decref(events);
    json_decref(thread);
    json_decref(message);
}
END_TEST

START_TEST(test_microsoft_sent_mail_is_one_event_per_outside_recipient_and_remembered)
{
    json_t *message = example_message();
    json_object_set_new(message, "from",
                        json_pack("{s:{s:s, s:s}}", "emailAddress", "name", "Maya Chen", "address",
                                  "Maya.Chen@leadhubdemo.onmicrosoft.com"));
    json_object_set_new(message, "toRecipients",
                        json_pack("[{s:{s:s, s:s}}, {s:{s:s, s:s}}, {s:{s:s}}]", "emailAddress",
                                  "name", "Tomás Herrera", "address",
                                  "tomas.herrera@fabrikam-logistics.com", "emailAddress", "name",
                                  "Raj", "address", "raj.patel@leadhubdemo.onmicrosoft.com",
                                  "emailAddress", "address", "lena.vogt@fabrikam-logistics.com"));
    const char *skip = NULL;
    json_t *sent_to = NULL;
    json_t *events = map(message, NULL, &skip, &sent_to);
    ck_assert_int_eq(json_array_size(events), 2);
    ck_assert_str_eq(str(json_array_get(events, 0), "type"), "email.sent");
    ck_assert_str_eq(str(json_array_get(events, 0), "lead.email"),
                     "tomas.herrera@fabrikam-logistics.com");
    ck_assert_str_eq(str(json_array_get(events, 1), "lead.email"),
                     "lena.vogt@fabrikam-logistics.com");
    /* distinct source ids: one event per recipient */
    ck_assert_str_ne(str(json_array_get(events, 0), "source_id"),
                     str(json_array_get(events, 1), "source_id"));
    ck_assert_int_eq(json_array_size(sent_to), 2);
    json_decref(sent_to);
    json_decref(events);
    json_decref(message);
}
END_TEST

START_TEST(test_microsoft_an_exchange_bounce_names_the_recipient_the_mailbox_wrote_to)
{
    json_t *message = example_message();
    json_object_set_new(message, "from",
                        json_pack("{s:{s:s, s:s}}", "emailAddress", "name", "Microsoft Outlook",
                                  "address",
                                  "MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@"
                                  "leadhubdemo.onmicrosoft.com"));
    json_object_set_new(message, "internetMessageHeaders",
                        json_pack("[{s:s, s:s}]", "name", "Content-Type", "value",
                                  "multipart/report; report-type=delivery-status; boundary=x"));
    json_t *thread = json_pack("[s]", "gone@defunct.example");
    const char *skip = NULL;
    json_t *sent_to = NULL;
    json_t *events = map(message, thread, &skip, &sent_to);
    ck_assert_int_eq(json_array_size(events), 1);
    ck_assert_str_eq(str(json_array_get(events, 0), "type"), "email.bounced");
    ck_assert_str_eq(str(json_array_get(events, 0), "lead.email"), "gone@defunct.example");
    json_decref(events);
    /* a bounce of nothing the mailbox sent says nothing */
    events = map(message, NULL, &skip, &sent_to);
    ck_assert_int_eq(json_array_size(events), 0);
    ck_assert_str_eq(skip, "bounce_unmatched");
    json_decref(events);
    json_decref(thread);
    json_decref(message);
}
END_TEST

START_TEST(test_microsoft_headers_are_made_from_graph_fields_when_graph_gives_none)
{
    json_t *message = example_message();
    json_object_set_new(message, "from",
                        json_pack("{s:{s:s, s:s}}", "emailAddress", "name", "Kowalski, \"Marek\"",
                                  "address", "marek@x.example"));
    json_t *headers = ms_mail_headers(message);
    const char *from = NULL;
    size_t i;
    json_t *h;
    json_array_foreach(headers, i, h)
    {
        if (strcmp(str(h, "name"), "From") == 0) {
            from = str(h, "value");
        }
    }
    ck_assert_str_eq(from, "\"Kowalski, \\\"Marek\\\"\" <marek@x.example>");
    json_decref(headers);
    json_decref(message);
}
END_TEST

static json_t *example_event(void)
{
    return fixture("events.get.json");
}

START_TEST(test_microsoft_an_event_with_a_prospect_is_a_meeting)
{
    json_t *event = example_event();
    const char *skip = NULL;
    json_t *out = ms_calendar_map(&ms, &maya, event, false, &skip);
    ck_assert_ptr_nonnull(out);
    ck_assert_str_eq(str(out, "type"), "meeting.scheduled");
    ck_assert_str_eq(str(out, "meeting.starts_at"), "2025-03-12T09:30:00.000Z");
    ck_assert_str_eq(str(out, "meeting.ends_at"), "2025-03-12T10:00:00.000Z");
    ck_assert_str_eq(str(out, "meeting.timezone"), "Europe/Paris"); /* Romance Standard Time */
    ck_assert_str_eq(str(out, "meeting.title"), "Leadhub x Fabrikam - pricing walkthrough");
    ck_assert_ptr_nonnull(strstr(str(out, "meeting.online_url"), "teams.microsoft.com"));
    ck_assert_str_eq(str(out, "meeting.organizer.email"), MAYA);
    ck_assert_str_eq(str(out, "lead.email"), "tomas.herrera@fabrikam-logistics.com");
    ck_assert_str_eq(str(out, "lead.first_name"), "Tomás");
    const json_t *attendees = json_object_get(json_object_get(out, "meeting"), "attendees");
    ck_assert_int_eq(json_array_size(attendees), 3);
    ck_assert_str_eq(str(json_array_get(attendees, 0), "response"), "accepted");
    ck_assert_str_eq(str(json_array_get(attendees, 1), "response"), "tentative");
    ck_assert(json_is_true(json_object_get(json_array_get(attendees, 1), "optional")));
    ck_assert_str_eq(str(json_array_get(attendees, 2), "response"), "needs_action");
    json_decref(out);
    /* known already: an update */
    out = ms_calendar_map(&ms, &maya, event, true, &skip);
    ck_assert_str_eq(str(out, "type"), "meeting.updated");
    json_decref(out);
    json_object_set_new(event, "isCancelled", json_true());
    out = ms_calendar_map(&ms, &maya, event, true, &skip);
    ck_assert_str_eq(str(out, "type"), "meeting.canceled");
    ck_assert_str_eq(str(out, "meeting.status"), "canceled");
    json_decref(out);
    json_decref(event);
}
END_TEST

START_TEST(test_microsoft_internal_meetings_rooms_series_and_local_times_are_not_meetings)
{
    json_t *event = example_event();
    const char *skip = NULL;
    /* only internal people (and a room) */
    json_object_set_new(event, "attendees",
                        json_pack("[{s:s, s:{s:s}}, {s:s, s:{s:s}}]", "type", "resource",
                                  "emailAddress", "address", "room@fabrikam-logistics.com", "type",
                                  "required", "emailAddress", "address",
                                  "raj.patel@leadhubdemo.onmicrosoft.com"));
    ck_assert_ptr_null(ms_calendar_map(&ms, &maya, event, false, &skip));
    ck_assert_str_eq(skip, "internal");
    json_decref(event);
    event = example_event();
    json_object_set_new(event, "type", json_string("seriesMaster"));
    ck_assert_ptr_null(ms_calendar_map(&ms, &maya, event, false, &skip));
    ck_assert_str_eq(skip, "series_master");
    json_decref(event);
    /* Graph did not honour Prefer: outlook.timezone="UTC": the time cannot be read */
    event = example_event();
    json_object_set_new(json_object_get(event, "start"), "timeZone",
                        json_string("Pacific Standard Time"));
    ck_assert_ptr_null(ms_calendar_map(&ms, &maya, event, false, &skip));
    ck_assert_str_eq(skip, "times");
    json_decref(event);
}
END_TEST

START_TEST(test_microsoft_windows_zones_map_to_iana)
{
    ck_assert_str_eq(ms_tz_iana("Pacific Standard Time"), "America/Los_Angeles");
    ck_assert_str_eq(ms_tz_iana("pacific standard time"), "America/Los_Angeles");
    ck_assert_str_eq(ms_tz_iana("Romance Standard Time"), "Europe/Paris");
    ck_assert_str_eq(ms_tz_iana("W. Europe Standard Time"), "Europe/Berlin");
    ck_assert_str_eq(ms_tz_iana("Tokyo Standard Time"), "Asia/Tokyo");
    ck_assert_str_eq(ms_tz_iana("UTC"), "Etc/UTC");
    ck_assert_str_eq(ms_tz_iana("Europe/Lisbon"), "Europe/Lisbon");
    ck_assert_ptr_null(ms_tz_iana("Mars Standard Time"));
    ck_assert_ptr_null(ms_tz_iana(""));
}
END_TEST

START_TEST(test_microsoft_graph_times_are_read_as_utc)
{
    ck_assert_int_eq(ms_parse_time("2025-03-12T09:30:00.0000000"), 1741771800000LL);
    ck_assert_int_eq(ms_parse_time("2025-03-12T09:30:00Z"), 1741771800000LL);
    ck_assert_int_eq(ms_parse_time("2025-03-12T10:30:00.5+01:00"), 1741771800500LL);
    ck_assert_int_eq(ms_parse_time("2025-03-12T09:30"), -1);
    ck_assert_int_eq(ms_parse_time("2025-13-12T09:30:00Z"), -1);
    ck_assert_int_eq(ms_parse_time("2025-03-12T09:30:00Zjunk"), -1);
    ck_assert_int_eq(ms_parse_time(NULL), -1);
    char text[32];
    ms_format_time(1741771800500LL, text);
    ck_assert_str_eq(text, "2025-03-12T09:30:00.500Z");
}
END_TEST

static int plain_equal(const void *a, const void *b, size_t len)
{
    return memcmp(a, b, len) == 0;
}

static char *fixture_text(const char *name)
{
    json_t *value = fixture(name);
    char *text = json_dumps(value, 0);
    json_decref(value);
    return text;
}

START_TEST(test_microsoft_notifications_are_checked_and_keyed)
{
    char *body = fixture_text("change-notification.json");
    size_t mismatched = 0;
    json_t *notes =
        ms_webhook_parse(body, strlen(body), "lh_7Qm2xV9cTz4RkP1sWb8N", plain_equal, &mismatched);
    ck_assert_int_eq(json_array_size(notes), 1);
    ck_assert_int_eq(mismatched, 0);
    ck_assert_str_eq(str(json_array_get(notes, 0), "key"),
                     "sub.7f105c7d-2dc5-4530-97cd-4e7ae6534c07");
    json_decref(notes);
    /* the wrong client state, or one a character longer, is a mismatch */
    notes =
        ms_webhook_parse(body, strlen(body), "lh_7Qm2xV9cTz4RkP1sWb8X", plain_equal, &mismatched);
    ck_assert_int_eq(json_array_size(notes), 0);
    ck_assert_int_eq(mismatched, 1);
    json_decref(notes);
    notes =
        ms_webhook_parse(body, strlen(body), "lh_7Qm2xV9cTz4RkP1sWb8", plain_equal, &mismatched);
    ck_assert_int_eq(mismatched, 1);
    json_decref(notes);
    free(body);

    body = fixture_text("lifecycle-notification.reauthorizationRequired.json");
    notes =
        ms_webhook_parse(body, strlen(body), "lh_7Qm2xV9cTz4RkP1sWb8N", plain_equal, &mismatched);
    ck_assert_str_eq(str(json_array_get(notes, 0), "key"),
                     "life.reauthorize.7f105c7d-2dc5-4530-97cd-4e7ae6534c07");
    json_decref(notes);
    free(body);

    /* not a collection; a subscription id that cannot be a key */
    ck_assert_ptr_null(ms_webhook_parse("[]", 2, "x", plain_equal, &mismatched));
    ck_assert_ptr_null(ms_webhook_parse("{\"value\": 1}", 12, "x", plain_equal, &mismatched));
    const char *odd = "{\"value\":[{\"subscriptionId\":\"../../x\",\"clientState\":\"s\"}]}";
    notes = ms_webhook_parse(odd, strlen(odd), "s", plain_equal, &mismatched);
    ck_assert_int_eq(json_array_size(notes), 0);
    json_decref(notes);
}
END_TEST

START_TEST(test_microsoft_the_request_budget_is_a_sliding_window)
{
    struct microsoft budgeted = {.budget = 3, .budget_window_ms = 1000};
    int64_t sent[3] = {0};
    struct ms_mailbox box = {.sent = sent};
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(ms_budget_wait(&budgeted, &box, 100 + i), 0);
        budget_expire(&budgeted, &box, 100 + i);
        budget_spend(&budgeted, &box, 100 + i);
    }
    /* full: the first send leaves the window at 1100 */
    ck_assert_int_eq(ms_budget_wait(&budgeted, &box, 600), 500);
    budget_expire(&budgeted, &box, 1100);
    ck_assert_int_eq(ms_budget_wait(&budgeted, &box, 1100), 0);
    budget_spend(&budgeted, &box, 1100);
    /* the ring wrapped: the next to leave is the second send, at 1101 */
    ck_assert_int_eq(ms_budget_wait(&budgeted, &box, 1100), 1);
    /* a mailbox-less request (a subscription delete) is never held */
    ck_assert_int_eq(ms_budget_wait(&budgeted, NULL, 0), 0);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("microsoft_map");
    TCase *tc = tcase_create("map");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, test_microsoft_a_prospects_first_mail_is_received_with_a_split_name);
    tcase_add_test(tc, test_microsoft_a_reply_needs_in_reply_to_and_the_mailbox_in_the_thread);
    tcase_add_test(tc, test_microsoft_auto_replies_newsletters_and_drafts_are_skipped);
    tcase_add_test(tc, test_microsoft_sent_mail_is_one_event_per_outside_recipient_and_remembered);
    tcase_add_test(tc, test_microsoft_an_exchange_bounce_names_the_recipient_the_mailbox_wrote_to);
    tcase_add_test(tc, test_microsoft_headers_are_made_from_graph_fields_when_graph_gives_none);
    tcase_add_test(tc, test_microsoft_an_event_with_a_prospect_is_a_meeting);
    tcase_add_test(tc,
                   test_microsoft_internal_meetings_rooms_series_and_local_times_are_not_meetings);
    tcase_add_test(tc, test_microsoft_windows_zones_map_to_iana);
    tcase_add_test(tc, test_microsoft_graph_times_are_read_as_utc);
    tcase_add_test(tc, test_microsoft_notifications_are_checked_and_keyed);
    tcase_add_test(tc, test_microsoft_the_request_budget_is_a_sliding_window);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(suite());
}
