/*
 * test_meeting_outcomes.c - the hub's own meeting outcome, against a real PostgreSQL: a
 * meeting that ended uncanceled while an attendee other than its organizer had accepted is
 * found held (its status, and one meeting.held event, data.derived) by the engine's thread
 * soon after its meetings commit; every other meeting keeps the status its source gave.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon_harness.h"
#include "event.h"
#include "meeting_outcomes.h"
#include "store_pg.h"
#include "testdb.h"
#include "testutil.h"
#include "util.h"

static char *db_url;
static struct store *store;
static PGconn *check_conn;
static struct metrics *metrics;

static void setup(void)
{
    db_url = testdb_create_migrated();
    char *error = NULL;
    store = store_open(db_url, &error);
    ck_assert_msg(store != NULL, "store_open: %s", error);
    check_conn = testdb_connect(db_url);
    metrics = metrics_create();
}

static void teardown(void)
{
    PQfinish(check_conn);
    store_close(store);
    metrics_free(metrics);
    testdb_drop(db_url);
}

/* now + minutes, as RFC 3339 (out: 32 bytes) */
static void at(int64_t minutes, char *out)
{
    util_format_rfc3339(util_now_ms() + minutes * 60000, out);
}

/*
 * Writes a meeting event of instance "cal", occurred `occurred_min` minutes from now:
 * meeting `id` from `start_min` to `end_min` minutes from now, organized by
 * rep@us.example, with the attendees JSON given.
 */
static void meeting_at(const char *type, const char *id, int64_t occurred_min, int64_t start_min,
                       int64_t end_min, const char *attendees)
{
    char start[32], end[32], occurred[32];
    at(start_min, start);
    at(end_min, end);
    at(occurred_min, occurred);
    char *text = util_printf("{\"type\":\"%s\",\"source_id\":\"%s-%s\",\"occurred_at\":\"%s\","
                             "\"lead\":{\"email\":\"guest-%s@example.com\"},"
                             "\"meeting\":{\"external_id\":\"%s\",\"starts_at\":\"%s\","
                             "\"ends_at\":\"%s\",\"organizer\":{\"email\":\"rep@us.example\"},"
                             "\"attendees\":%s}}",
                             type, id, type, occurred, id, id, start, end, attendees);
    json_t *event = json_loads(text, 0, NULL);
    ck_assert_ptr_nonnull(event);
    free(text);
    struct event_record record;
    char *error = NULL;
    ck_assert_msg(event_validate(event, "cal", &record, &error) == 0, "%s", error);
    ck_assert_msg(store_write_batch(store, &record, 1, NULL, NULL, NULL, &error) == STORE_OK,
                  "write: %s", error);
    event_record_clear(&record);
}

/* The same, booked a day before it starts. */
static void meeting(const char *type, const char *id, int64_t start_min, int64_t end_min,
                    const char *attendees)
{
    meeting_at(type, id, start_min - 60 * 24, start_min, end_min, attendees);
}

static bool two_held(void *arg)
{
    (void)arg;
    return testdb_scalar(check_conn, "SELECT count(*) FROM events WHERE type = 'meeting.held'") >=
           2;
}

static char *status_of(const char *id)
{
    char *sql = util_printf("SELECT status FROM meetings WHERE external_id = '%s'", id);
    char *status = testdb_text(check_conn, sql);
    free(sql);
    return status;
}

START_TEST(test_meetings_that_ended_with_an_accepted_guest_are_found_held_and_no_others)
{
    static const char guest_accepted[] =
        "[{\"email\":\"rep@us.example\",\"response\":\"accepted\"},"
        "{\"email\":\"guest@example.com\",\"response\":\"accepted\"}]";
    /* held: ended an hour ago, the guest accepted; and one that was moved first */
    meeting("meeting.scheduled", "held", -120, -60, guest_accepted);
    meeting("meeting.scheduled", "moved", -600, -570, guest_accepted);
    meeting("meeting.updated", "moved", -90, -30, guest_accepted);
    /* not known to be held: only the organizer accepted; the guest declined; canceled;
     * not over yet; ended too long ago for the hub to judge */
    meeting("meeting.scheduled", "organizer-only", -120, -60,
            "[{\"email\":\"rep@us.example\",\"response\":\"accepted\"},"
            "{\"email\":\"guest@example.com\",\"response\":\"needs_action\"}]");
    meeting("meeting.scheduled", "declined", -120, -60,
            "[{\"email\":\"guest@example.com\",\"response\":\"declined\"}]");
    meeting("meeting.canceled", "canceled", -120, -60, guest_accepted);
    meeting("meeting.scheduled", "future", 60, 90, guest_accepted);
    meeting("meeting.scheduled", "old", -60 * 24 * 10, -60 * 24 * 10 + 30, guest_accepted);

    struct meeting_outcomes_options options = {.database_url = db_url, .metrics = metrics};
    struct meeting_outcomes *outcomes = meeting_outcomes_start(&options);
    ck_assert_ptr_nonnull(outcomes);
    meeting_outcomes_wake(outcomes);
    ck_assert_msg(td_wait_until(two_held, NULL, 20000), "no meeting found held");

    const char *ids[] = {"held",   "moved", "organizer-only", "declined", "canceled",
                         "future", "old"};
    const char *expected[] = {"held",     "held",      "scheduled", "scheduled",
                              "canceled", "scheduled", "scheduled"};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(ids); i++) {
        char *status = status_of(ids[i]);
        ck_assert_msg(strcmp(status, expected[i]) == 0, "%s is %s, expected %s", ids[i], status,
                      expected[i]);
        free(status);
    }
    /* the event says it is the hub's derivation, and is about the meeting's lead */
    char *event = testdb_text(check_conn,
                              "SELECT e.payload #>> '{data,derived}' || '|' || l.email FROM events "
                              "e JOIN leads l ON l.id = e.lead_id WHERE e.type = 'meeting.held' "
                              "AND e.payload #>> '{meeting,external_id}' = 'held'");
    ck_assert_str_eq(event, "true|guest-held@example.com");
    free(event);

    /* nothing more is due, and a meeting is found held once */
    size_t held = 99;
    char *error = NULL;
    ck_assert_int_eq(meeting_outcomes_sweep(outcomes, store, &held, &error), STORE_OK);
    ck_assert_uint_eq(held, 0);
    ck_assert_int_eq(
        testdb_scalar(check_conn, "SELECT count(*) FROM events WHERE type = 'meeting.held'"), 2);
    ck_assert(metrics_get(metrics, "leadhub_meeting_outcomes_derived_total", METRICS_END) == 2);
    meeting_outcomes_stop(outcomes);
}
END_TEST

START_TEST(test_a_no_show_the_source_reports_later_wins_over_the_derived_held)
{
    meeting("meeting.scheduled", "crm", -120, -60,
            "[{\"email\":\"guest@example.com\",\"response\":\"accepted\"}]");
    struct meeting_outcomes_options options = {.database_url = db_url, .metrics = metrics};
    struct meeting_outcomes *outcomes = meeting_outcomes_start(&options);
    size_t held = 0;
    char *error = NULL;
    /* the thread may have swept first: either way it is held once */
    ck_assert_int_eq(meeting_outcomes_sweep(outcomes, store, &held, &error), STORE_OK);
    meeting_outcomes_stop(outcomes);
    char *status = status_of("crm");
    ck_assert_str_eq(status, "held");
    free(status);
    /* the rep records a no-show in the CRM afterwards: that is what happened */
    meeting_at("meeting.no_show", "crm", 0, -120, -60, "[]");
    status = status_of("crm");
    ck_assert_str_eq(status, "no_show");
    free(status);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("meeting_outcomes");
    TCase *tc = tcase_create("derived");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc,
                   test_meetings_that_ended_with_an_accepted_guest_are_found_held_and_no_others);
    tcase_add_test(tc, test_a_no_show_the_source_reports_later_wins_over_the_derived_held);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
