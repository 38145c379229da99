/*
 * test_pipedrive_e2e.c - the pipedrive plugin end to end, as a connector author runs it:
 * each test brings up the daemon with `sdk/leadhub-dev up` (build/plugins on the plugin
 * path; a throwaway PostgreSQL, or in `make test` a fresh database of the suite's server
 * through --database-url), posts signed events to a `webhook` instance
 * "inbound" routed to the `pipedrive` instance "crm" on the fake Pipedrive
 * (tests/lib/fake_pipedrive.h), waits with `leadhub-dev wait-deliveries` / `wait-events`
 * and reads the hub's tables with `leadhub-dev sql`:
 *
 *   - leads become one person each; a second event for a lead updates its person;
 *   - a payment adds the customer label to the person, keeping its labels;
 *   - a meeting booked, moved, then canceled is one activity in its final state;
 *   - a POST whose answer is lost (and whose person the search does not find yet) does
 *     not make a second person; a meeting's activity whose answer was lost is not made
 *     twice either;
 *   - a burst of 429s holds deliveries, which then go through without spending attempts;
 *   - a rep's change in Pipedrive (a person edited, a deal moved) comes back once, and
 *     what the hub wrote does not come back.
 */
#include <check.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fake_pipedrive.h"
#include "reaper.h"
#include "testutil.h"
#include "util.h"

#define TOKEN          "pd-e2e-token-81c0d2"
#define INBOUND_SECRET "pd-e2e-inbound-secret"
#define CUSTOMER_LABEL 5

static struct fake_pipedrive *fake;
static char *dir;     /* the test's folder: conf.d/, main.yaml, dev/ (the session) */
static char *dev_cmd; /* "LEADHUB_DEV_DAEMON=... .../sdk/leadhub-dev" */

/* Runs `leadhub-dev <args> --dir <session>`; its output (malloc'd). Fails the test (with
 * the output and the daemon's log) unless it exits 0. */
__attribute__((format(printf, 1, 2))) static char *dev(const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    char *command_args = NULL;
    if (vasprintf(&command_args, fmt, args) < 0) {
        command_args = NULL;
    }
    va_end(args);
    ck_assert_ptr_nonnull(command_args);
    char *command = util_printf("%s %s --dir '%s/dev'", dev_cmd, command_args, dir);
    char *output = NULL;
    int rc = tu_run(command, &output);
    if (rc != 0) {
        char *log = util_printf("%s log --dir '%s/dev' | tail -n 40", dev_cmd, dir);
        char *log_output = NULL;
        tu_run(log, &log_output);
        ck_abort_msg("leadhub-dev %s: exit %d\n%s\n--- daemon log ---\n%s", command_args, rc,
                     output, log_output != NULL ? log_output : "");
    }
    free(command);
    free(command_args);
    return output;
}

/* The one value of a query (leadhub-dev sql --values), as a long. */
static long sql_long(const char *sql)
{
    char *output = dev("sql --values \"%s\"", sql);
    long value = strtol(output, NULL, 10);
    free(output);
    return value;
}

/* The rows of a query, trimmed (malloc'd). */
static char *sql_text(const char *sql)
{
    char *output = dev("sql --values \"%s\"", sql);
    size_t len = strlen(output);
    while (len > 0 && output[len - 1] == '\n') {
        output[--len] = '\0';
    }
    return output;
}

static void setup(void)
{
    reaper_start();
    fake = fake_pipedrive_start(TOKEN);
    ck_assert_ptr_nonnull(fake);
    dir = tu_tmpdir();
    char *build = realpath(tu_build_dir(), NULL);
    char *source = realpath(tu_source_dir(), NULL);
    ck_assert_ptr_nonnull(build);
    ck_assert_ptr_nonnull(source);
    dev_cmd = util_printf("LEADHUB_DEV_DAEMON='%s/leadhubd' '%s/sdk/leadhub-dev'", build, source);
    setenv("PD_E2E_TOKEN", TOKEN, 1);
    setenv("PD_E2E_INBOUND_SECRET", INBOUND_SECRET, 1);
    char *base = fake_pipedrive_url(fake, "");
    char *crm = util_printf("name: crm\nplugin: pipedrive\npoll_interval: 1s\nsettings:\n"
                            "  api_token: ${PD_E2E_TOKEN}\n  api_base: %s\n"
                            "  customer_label_id: %d\n",
                            base, CUSTOMER_LABEL);
    tu_write_file(dir, "conf.d/crm.yaml", crm);
    tu_write_file(
        dir, "conf.d/inbound.yaml",
        "name: inbound\nplugin: webhook\nsettings:\n  secret: ${PD_E2E_INBOUND_SECRET}\n");
    /* two attempts: a 429 that spent one would dead-letter a delivery after two */
    tu_write_file(dir, "main.yaml",
                  "routes:\n  - name: to-crm\n    from: inbound\n"
                  "    types: [\"lead.*\", \"meeting.*\", \"payment.succeeded\"]\n"
                  "    to: [crm]\n"
                  "delivery:\n  backoff_base: 20ms\n  backoff_cap: 200ms\n  max_attempts: 2\n");
    char *chmod = util_printf("chmod 755 '%s'", dir);
    ck_assert_int_eq(tu_run(chmod, NULL), 0);
    free(chmod);
    /* in `make test`, a database of the suite's server: no cluster of its own to start */
    const char *server = getenv("LEADHUB_TEST_DATABASE_URL");
    char *database = server != NULL ? util_printf("--database-url '%s'", server) : strdup("");
    char *up = dev("up --plugin-path '%s/plugins' --instances '%s/conf.d' --main-extra "
                   "'%s/main.yaml' %s",
                   build, dir, dir, database);
    free(database);
    ck_assert_msg(strstr(up, "leadhub-dev: up") != NULL, "%s", up);
    free(up);
    char *pid_path = util_printf("%s/dev/daemon.pid", dir);
    char *cluster = util_printf("%s/dev/pg", dir);
    FILE *pid_file = fopen(pid_path, "r");
    int pid = 0;
    ck_assert_ptr_nonnull(pid_file);
    ck_assert_int_eq(fscanf(pid_file, "%d", &pid), 1);
    fclose(pid_file);
    reaper_watch_pid((pid_t)pid);
    reaper_watch_cluster(server == NULL ? cluster : NULL);
    free(cluster);
    free(pid_path);
    free(crm);
    free(base);
    free(source);
    free(build);
}

static void teardown(void)
{
    /* leadhub-dev is not the daemon's parent: its exit status says nothing of a sanitizer's
     * report at exit, so its log is read instead */
    char *down = dev("down");
    free(down);
    char *log = dev("log");
    ck_assert_msg(strstr(log, "AddressSanitizer") == NULL && strstr(log, "runtime error") == NULL &&
                      strstr(log, "LeakSanitizer") == NULL,
                  "sanitizer report:\n%s", log);
    free(log);
    free(dev("down --clean"));
    reaper_release();
    /* the token never went into a URL or a body */
    ck_assert_uint_eq(fake_pipedrive_requests_containing(fake, TOKEN), 0);
    fake_pipedrive_stop(fake);
    tu_rmrf(dir);
    free(dir);
    free(dev_cmd);
}

/* Posts a JSON array of events to "inbound", signed, and checks they were accepted. */
static void post(const char *events)
{
    tu_write_file(dir, "post.json", events);
    char *output = dev("post inbound '%s/post.json' --secret '%s'", dir, INBOUND_SECRET);
    ck_assert_msg(strncmp(output, "200\n", 4) == 0, "%s", output);
    free(output);
}

/* Waits for `count` deliveries to crm done, then checks none is anything else. */
static void wait_done(int count)
{
    free(dev("wait-deliveries --destination crm --status done --count %d --timeout 60", count));
    char *others = sql_text("SELECT count(*) FROM deliveries WHERE status <> 'done'");
    ck_assert_msg(strcmp(others, "0") == 0, "deliveries not done: %s",
                  dev("deliveries --destination crm"));
    free(others);
}

/* Waits until the fake has answered `more` person listings (the source's polls) after
 * the ones it had answered when called: a poll that began after everything before it. */
static void wait_polls(size_t more)
{
    const char *listing = "/api/v2/persons?";
    size_t target = fake_pipedrive_count(fake, "GET", listing) + more + 1;
    int64_t deadline = util_monotonic_ms() + 60000;
    while (fake_pipedrive_count(fake, "GET", listing) < target) {
        ck_assert_msg(util_monotonic_ms() < deadline, "the source did not poll");
        struct timespec pause = {0, 50 * 1000000L};
        nanosleep(&pause, NULL);
    }
}

#define LEAD_EVENT(id, type, lead)                                                                 \
    "{\"type\":\"" type "\",\"source_id\":\"" id "\",\"occurred_at\":\"2026-12-01T10:00:00Z\","    \
    "\"lead\":" lead "}"

START_TEST(test_pipedrive_e2e_leads_become_one_person_each)
{
    post("[" LEAD_EVENT(
        "f-1", "lead.created",
        "{\"email\":\"ada@analytical.example\",\"first_name\":\"Ada\","
        "\"last_name\":\"Lovelace\",\"company\":\"Analytical Engines\"}") "," LEAD_EVENT("f-2",
                                                                                         "lead."
                                                                                         "created",
                                                                                         "{\"email"
                                                                                         "\":"
                                                                                         "\"grace@"
                                                                                         "navy."
                                                                                         "example\""
                                                                                         ",\"first_"
                                                                                         "name\":"
                                                                                         "\"Grace\""
                                                                                         "}") "]");
    wait_done(2);
    post("[" LEAD_EVENT("f-3", "lead.updated",
                        "{\"email\":\"Ada@Analytical.Example\",\"first_name\":\"Ada\","
                        "\"last_name\":\"King\",\"phone\":\"+44 20 7946 0000\"}") "]");
    wait_done(3);
    ck_assert_uint_eq(fake_pipedrive_persons_with_email(fake, "ada@analytical.example"), 1);
    ck_assert_uint_eq(fake_pipedrive_persons_with_email(fake, "grace@navy.example"), 1);
    ck_assert_uint_eq(fake_pipedrive_person_count(fake), 2);
    long ada = fake_pipedrive_person_id(fake, "ada@analytical.example");
    json_t *person = NULL;
    char *text = fake_pipedrive_person(fake, ada);
    person = json_loads(text, 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(person, "name")), "Ada King");
    ck_assert_msg(strstr(text, "+44 20 7946 0000") != NULL, "phone not written: %s", text);
    ck_assert_msg(json_integer_value(json_object_get(person, "org_id")) > 0, "no organization: %s",
                  text);
    json_decref(person);
    free(text);
    ck_assert_uint_eq(fake_pipedrive_org_count(fake), 1);
    /* the person id is the lead's identity in the instance */
    char *identity = sql_text("SELECT i.external_id FROM lead_identities i JOIN leads l ON l.id = "
                              "i.lead_id WHERE i.source = 'crm' AND l.email = "
                              "'ada@analytical.example'");
    char *expected = util_printf("%ld", ada);
    ck_assert_str_eq(identity, expected);
    free(expected);
    free(identity);
    ck_assert_uint_eq(fake_pipedrive_count(fake, "POST", "/api/v2/persons"), 2);
}
END_TEST

START_TEST(test_pipedrive_e2e_payment_marks_the_person_a_customer)
{
    /* a rep had the person already, with a label of their own */
    long bo = fake_pipedrive_person_add(
        fake, "{\"name\":\"Bo Rep-Made\",\"label_ids\":[3],\"emails\":[{\"value\":"
              "\"bo@buyer.example\",\"primary\":true}]}");
    ck_assert_int_gt(bo, 0);
    post("[" LEAD_EVENT(
        "f-1", "lead.created",
        "{\"email\":\"bo@buyer.example\",\"first_name\":\"Bo\"}") ","
                                                                  "{\"type\":\"payment.succeeded\","
                                                                  "\"source_id\":\"p-1\","
                                                                  "\"occurred_at\":"
                                                                  "\"2026-12-01T11:00:00Z\","
                                                                  "\"lead\":{\"email\":\"bo@buyer."
                                                                  "example\"},\"data\":{"
                                                                  "\"amount\":4900,\"currency\":"
                                                                  "\"eur\",\"payment\":\"in_1\"}}"
                                                                  "]");
    wait_done(2);
    ck_assert_uint_eq(fake_pipedrive_person_count(fake), 1);
    char *labels = fake_pipedrive_person_labels(fake, bo);
    json_t *got = json_loads(labels, 0, NULL);
    ck_assert_msg(json_array_size(got) == 2 &&
                      (json_integer_value(json_array_get(got, 0)) == CUSTOMER_LABEL ||
                       json_integer_value(json_array_get(got, 1)) == CUSTOMER_LABEL) &&
                      (json_integer_value(json_array_get(got, 0)) == 3 ||
                       json_integer_value(json_array_get(got, 1)) == 3),
                  "labels %s, expected 3 kept and %d added", labels, CUSTOMER_LABEL);
    json_decref(got);
    free(labels);
}
END_TEST

#define MEETING_EVENT(id, type, starts, ends, status)                                              \
    "[{\"type\":\"" type "\",\"source_id\":\"" id "\",\"occurred_at\":\"2026-12-02T09:00:00Z\","   \
    "\"lead\":{\"email\":\"cy@client.example\",\"first_name\":\"Cy\"},\"meeting\":{"               \
    "\"external_id\":\"mtg-1\",\"title\":\"Kick-off\",\"starts_at\":\"" starts "\","               \
    "\"ends_at\":\"" ends "\",\"location\":\"Room 4\",\"status\":\"" status "\"}}]"

START_TEST(test_pipedrive_e2e_meeting_booked_moved_canceled_is_one_activity)
{
    post(MEETING_EVENT("m-1", "meeting.scheduled", "2027-02-01T09:00:00Z", "2027-02-01T09:45:00Z",
                       "scheduled"));
    wait_done(1);
    post(MEETING_EVENT("m-2", "meeting.rescheduled", "2027-02-03T14:30:00Z", "2027-02-03T15:15:00Z",
                       "rescheduled"));
    wait_done(2);
    post(MEETING_EVENT("m-3", "meeting.canceled", "2027-02-03T14:30:00Z", "2027-02-03T15:15:00Z",
                       "canceled"));
    wait_done(3);
    ck_assert_uint_eq(fake_pipedrive_activity_count(fake), 1);
    long cy = fake_pipedrive_person_id(fake, "cy@client.example");
    ck_assert_int_gt(cy, 0);
    char *text = fake_pipedrive_activities_of(fake, cy);
    json_t *activities = json_loads(text, 0, NULL);
    json_t *activity = json_array_get(activities, 0);
    ck_assert_msg(json_array_size(activities) == 1, "%s", text);
    ck_assert_str_eq(json_string_value(json_object_get(activity, "subject")), "Canceled: Kick-off");
    ck_assert(json_is_true(json_object_get(activity, "done")));
    ck_assert_str_eq(json_string_value(json_object_get(activity, "type")), "meeting");
    ck_assert_str_eq(json_string_value(json_object_get(activity, "due_date")), "2027-02-03");
    ck_assert_str_eq(json_string_value(json_object_get(activity, "due_time")), "14:30");
    ck_assert_str_eq(json_string_value(json_object_get(activity, "duration")), "00:45");
    json_decref(activities);
    free(text);
    ck_assert_uint_eq(fake_pipedrive_count(fake, "POST", "/api/v2/activities"), 1);
    ck_assert_uint_eq(fake_pipedrive_count(fake, "PATCH", "/api/v2/activities/"), 2);
}
END_TEST

START_TEST(test_pipedrive_e2e_lost_post_answer_makes_no_second_person)
{
    /* the search index will not show the person for the rest of the test */
    fake_pipedrive_search_lag(fake, 600000, 0);
    fake_pipedrive_lose_answers(fake, "POST", "/api/v2/persons", 1, FAKE_PIPEDRIVE_LOSE_502);
    post("[" LEAD_EVENT("f-1", "lead.created",
                        "{\"email\":\"dee@lost.example\",\"first_name\":\"Dee\"}") "]");
    wait_done(1);
    ck_assert_uint_eq(fake_pipedrive_persons_with_email(fake, "dee@lost.example"), 1);
    ck_assert_uint_eq(fake_pipedrive_count(fake, "POST", "/api/v2/persons"), 1);
    /* ...and the lead knows the person it made */
    char *identity = sql_text("SELECT i.external_id FROM lead_identities i JOIN leads l ON l.id = "
                              "i.lead_id WHERE i.source = 'crm' AND l.email = 'dee@lost.example'");
    char *expected = util_printf("%ld", fake_pipedrive_person_id(fake, "dee@lost.example"));
    ck_assert_str_eq(identity, expected);
    free(expected);
    free(identity);
}
END_TEST

START_TEST(test_pipedrive_e2e_lost_activity_answer_makes_no_second_activity)
{
    /* the connection drops after Pipedrive made the activity */
    fake_pipedrive_lose_answers(fake, "POST", "/api/v2/activities", 1, FAKE_PIPEDRIVE_LOSE_RESET);
    post(MEETING_EVENT("m-1", "meeting.scheduled", "2027-02-01T09:00:00Z", "2027-02-01T09:45:00Z",
                       "scheduled"));
    wait_done(1);
    ck_assert_uint_eq(fake_pipedrive_activity_count(fake), 1);
    ck_assert_uint_eq(fake_pipedrive_count(fake, "POST", "/api/v2/activities"), 1);
    /* the next event of the meeting finds the activity the lost answer made */
    post(MEETING_EVENT("m-2", "meeting.canceled", "2027-02-01T09:00:00Z", "2027-02-01T09:45:00Z",
                       "canceled"));
    wait_done(2);
    ck_assert_uint_eq(fake_pipedrive_activity_count(fake), 1);
    char *text =
        fake_pipedrive_activities_of(fake, fake_pipedrive_person_id(fake, "cy@client.example"));
    ck_assert_msg(strstr(text, "\"subject\":\"Canceled: Kick-off\"") != NULL, "%s", text);
    free(text);
}
END_TEST

START_TEST(test_pipedrive_e2e_a_burst_of_429s_holds_then_delivers)
{
    /* three refusals in a row: more than the two attempts a delivery has */
    fake_pipedrive_rate_limit(fake, "POST", "/api/v2/persons", 1, 3);
    post("[" LEAD_EVENT("f-1", "lead.created",
                        "{\"email\":\"eve@burst.example\",\"first_name\":\"Eve\"}") "]");
    wait_done(1);
    ck_assert_uint_eq(fake_pipedrive_persons_with_email(fake, "eve@burst.example"), 1);
    /* four POSTs: three refused, one made the person */
    ck_assert_uint_eq(fake_pipedrive_count(fake, "POST", "/api/v2/persons"), 4);
    ck_assert_int_eq(sql_long("SELECT count(*) FROM deliveries WHERE status = 'dead'"), 0);
}
END_TEST

START_TEST(test_pipedrive_e2e_rep_changes_come_back_once_and_hub_writes_do_not)
{
    /* a rep adds someone a few seconds after the start (the fake's clock moved on: Pipedrive's
     * whole-second times, compared with a start cursor in ms, make a change within the
     * start's own second a matter of rounding, not this test's): it comes back, and the
     * source's cursor is past the start */
    fake_pipedrive_clock_pin(fake, (time_t)(util_now_ms() / 1000) + 2);
    ck_assert_int_gt(fake_pipedrive_person_add(fake, "{\"name\":\"Gus Rep-Made\",\"emails\":["
                                                     "{\"value\":\"gus@rep.example\"}]}"),
                     0);
    fake_pipedrive_clock_pin(fake, 0);
    free(dev("wait-events --source crm --type lead.updated --count 1 --timeout 60"));
    /* the hub writes a person: later polls list it, and it does not come back */
    post("[" LEAD_EVENT("f-1", "lead.created",
                        "{\"email\":\"fay@rep.example\",\"first_name\":\"Fay\",\"last_name\":"
                        "\"Original\"}") "]");
    wait_done(1);
    long fay = fake_pipedrive_person_id(fake, "fay@rep.example");
    ck_assert_int_gt(fay, 0);
    wait_polls(2);
    ck_assert_int_eq(sql_long("SELECT count(*) FROM events WHERE source = 'crm'"), 1);

    /* a rep renames her and opens a deal, then moves it */
    ck_assert(fake_pipedrive_person_update(fake, fay, "{\"name\":\"Fay Edited\"}"));
    char *deal_fields =
        util_printf("{\"title\":\"Fay - annual\",\"person_id\":%ld,\"value\":1200}", fay);
    long deal = fake_pipedrive_deal_add(fake, deal_fields);
    free(deal_fields);
    ck_assert_int_gt(deal, 0);
    free(dev("wait-events --source crm --type lead.updated --count 2 --timeout 60"));
    free(dev("wait-events --source crm --type deal.stage_changed --count 1 --timeout 60"));
    ck_assert(fake_pipedrive_deal_update(fake, deal, "{\"stage_id\":3}"));
    free(dev("wait-events --source crm --type deal.stage_changed --count 2 --timeout 60"));
    /* a change that moves no stage is no stage change */
    ck_assert(fake_pipedrive_deal_update(fake, deal, "{\"value\":1500}"));
    wait_polls(2);
    ck_assert_int_eq(sql_long("SELECT count(*) FROM events WHERE source = 'crm' AND type = "
                              "'lead.updated'"),
                     2);
    ck_assert_int_eq(sql_long("SELECT count(*) FROM events WHERE source = 'crm' AND type = "
                              "'deal.stage_changed'"),
                     2);
    /* the changes landed on the leads they are about */
    ck_assert_int_eq(sql_long("SELECT count(*) FROM leads"), 2);
    char *last = sql_text("SELECT last_name FROM leads WHERE email = 'fay@rep.example'");
    ck_assert_str_eq(last, "Edited");
    free(last);
    char *stage = sql_text("SELECT payload->'data'->>'stage_name' FROM events WHERE type = "
                           "'deal.stage_changed' ORDER BY id DESC LIMIT 1");
    ck_assert_str_eq(stage, "Proposal made");
    free(stage);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pipedrive_e2e");
    TCase *tc = tcase_create("pipedrive e2e");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, test_pipedrive_e2e_leads_become_one_person_each);
    tcase_add_test(tc, test_pipedrive_e2e_payment_marks_the_person_a_customer);
    tcase_add_test(tc, test_pipedrive_e2e_meeting_booked_moved_canceled_is_one_activity);
    tcase_add_test(tc, test_pipedrive_e2e_lost_post_answer_makes_no_second_person);
    tcase_add_test(tc, test_pipedrive_e2e_lost_activity_answer_makes_no_second_activity);
    tcase_add_test(tc, test_pipedrive_e2e_a_burst_of_429s_holds_then_delivers);
    tcase_add_test(tc, test_pipedrive_e2e_rep_changes_come_back_once_and_hub_writes_do_not);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
