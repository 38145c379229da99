/*
 * test_microsoft_e2e.c - the real leadhubd with a `microsoft` instance, a real PostgreSQL
 * and the fake Microsoft identity platform + Graph (tests/lib/fake_msgraph.h): app-only
 * over two mailboxes (an outreach, a prospect's reply, an out-of-office, a new prospect,
 * delta pages, an expired delta link resynced without duplicates); a meeting moved across
 * a daylight-saving change in a Windows time zone; subscriptions made with the fake's own
 * validation handshake, notifications and a forged clientState, a `missed` lifecycle event,
 * subscriptions lapsed while the daemon was down recreated at start; Retry-After honoured;
 * an expired client secret shown as what to fix; a delegated grant whose rotated refresh
 * token survives a restart.
 *
 * Needs $LEADHUB_TEST_DATABASE_URL (scripts/run-tests.sh starts a throwaway server).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "connect_cli.h"
#include "daemon_harness.h"
#include "fake_msgraph.h"
#include "fake_oauth.h"
#include "http_client.h"
#include "mail_script.h"
#include "testdb.h"
#include "testutil.h"
#include "util.h"

#define TENANT        "contoso.onmicrosoft.com"
#define CLIENT_ID     "24d3b144-21ae-4080-943f-7067b395b913"
#define CLIENT_SECRET "fake-graph-client-secret-5d1f"
#define CLIENT_STATE  "lh_7Qm2xV9cTz4RkP1sWb8N"
#define MAYA          "maya@contoso.example"
#define RAJ           "raj@contoso.example"
#define KEY           "bWljcm9zb2Z0LXRlc3RzLXNlYWwta2V5LTMyLWJ5dGU="
#define WAIT_MS       30000

static struct fake_msgraph *graph;
static struct test_daemon td;
static PGconn *db;

static void setup(void)
{
    setenv("LHTEST_MS_SECRET", CLIENT_SECRET, 1);
    setenv("LHTEST_MS_STATE", CLIENT_STATE, 1);
    setenv("LHTEST_MS_KEY", KEY, 1);
    graph = fake_msgraph_start(TENANT, CLIENT_ID, CLIENT_SECRET);
    fake_msgraph_add_mailbox(graph, MAYA);
    fake_msgraph_add_mailbox(graph, RAJ);
    memset(&td, 0, sizeof(td));
    td_init(&td, NULL);
    db = NULL;
}

static void teardown(void)
{
    if (db != NULL) {
        PQfinish(db);
    }
    if (td.pid != 0) {
        int status = td_stop(&td);
        if (status != 0) {
            char *log = td_log(&td);
            fprintf(stderr, "daemon exit %d:\n%s\n", status, log);
            free(log);
        }
        ck_assert_int_eq(status, 0);
    }
    td_cleanup(&td);
    fake_msgraph_stop(graph);
}

/* The end of the daemon's log (a failure message must stay short enough for Check). */
static const char *log_tail(char *log)
{
    size_t len = strlen(log);
    return len > 3000 ? log + len - 3000 : log;
}

/* Writes the instance `graph` (app-only unless `settings` says otherwise) and starts. */
static void start_with(const char *poll_interval, const char *settings)
{
    char *login = fake_msgraph_url(graph, "");
    char *api = fake_msgraph_url(graph, "/v1.0");
    char *yaml = util_printf("name: graph\nplugin: microsoft\npoll_interval: %s\nsettings:\n"
                             "  tenant: " TENANT "\n  client_id: " CLIENT_ID "\n"
                             "  client_secret: ${LHTEST_MS_SECRET}\n"
                             "  login_base: %s\n  graph_api_base: %s\n%s",
                             poll_interval, login, api, settings);
    td_connector(&td, "graph", yaml);
    free(yaml);
    free(api);
    free(login);
    free(td.extra_main);
    td.extra_main = strdup("secrets_key: ${LHTEST_MS_KEY}\n");
    int rc = td_start(&td);
    if (rc != 0) {
        char *log = td_log(&td);
        ck_abort_msg("daemon did not become ready (%d):\n%s", rc, log_tail(log));
    }
    if (db == NULL) {
        db = testdb_connect(td.db_url);
    }
}

static void start_app(const char *poll_interval, const char *extra)
{
    char *settings = util_printf("  auth: app\n  mailboxes: [" MAYA ", " RAJ "]\n"
                                 "  internal_domains: [contoso.example]\n%s",
                                 extra);
    start_with(poll_interval, settings);
    free(settings);
}

static long count(const char *sql)
{
    return testdb_scalar(db, sql);
}

struct wait {
    const char *sql;
    long expected;
};

static bool reached(void *arg)
{
    const struct wait *w = arg;
    return testdb_scalar(db, w->sql) == w->expected;
}

static void wait_for(const char *sql, long expected)
{
    struct wait w = {sql, expected};
    if (!td_wait_until(reached, &w, WAIT_MS)) {
        char *log = td_log(&td);
        ck_abort_msg("waited in vain for %ld from %s (it is %ld); daemon log ends:\n%s", expected,
                     sql, testdb_scalar(db, sql), log_tail(log));
    }
}

/* RFC 3339 UTC of now + offset seconds. */
static char *when(long offset)
{
    time_t t = time(NULL) + offset;
    struct tm tm;
    gmtime_r(&t, &tm);
    char text[32];
    strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return strdup(text);
}

/* A Graph message from `from` to `to` (addresses with display names), in `conversation`,
 * with extra internetMessageHeaders (a JSON array's items, may be ""). */
static char *message(const char *id, const char *from_name, const char *from, const char *to,
                     const char *subject, const char *conversation, const char *headers)
{
    char *now = when(-60);
    char *json = util_printf(
        "{\"id\":\"%s\",\"internetMessageId\":\"<%s@mail.example>\",\"conversationId\":\"%s\","
        "\"subject\":\"%s\",\"isDraft\":false,\"receivedDateTime\":\"%s\",\"sentDateTime\":\"%s\","
        "\"from\":{\"emailAddress\":{\"name\":\"%s\",\"address\":\"%s\"}},"
        "\"toRecipients\":[{\"emailAddress\":{\"name\":\"%s\",\"address\":\"%s\"}}],"
        "\"ccRecipients\":[],\"bccRecipients\":[],\"internetMessageHeaders\":[%s]}",
        id, id, conversation, subject, now, now, from_name, from, to, to, headers);
    free(now);
    return json;
}

static void add_message(const char *upn, const char *folder, char *json)
{
    free(fake_msgraph_add_message(graph, upn, folder, json));
    free(json);
}

static const char *const EVENTS_BY_PERSON =
    "SELECT string_agg(type || ' ' || (payload #>> '{lead,email}'), ', ' ORDER BY type, "
    "payload #>> '{lead,email}') FROM events WHERE source = 'graph' AND type LIKE 'email.%'";

START_TEST(test_microsoft_app_only_two_mailboxes_replies_auto_replies_and_a_resync)
{
    /* maya wrote to Tomás; he answered; Lena's out-of-office came back; a new prospect
     * wrote to raj; a newsletter reached raj */
    add_message(MAYA, "sentitems",
                message("m1", "Maya Chen", MAYA, "tomas.herrera@fabrikam.example",
                        "Leadhub for Fabrikam", "conv-1", ""));
    add_message(MAYA, "inbox",
                message("m2", "Herrera, Tomás", "tomas.herrera@fabrikam.example", MAYA,
                        "RE: Leadhub for Fabrikam", "conv-1",
                        "{\"name\":\"In-Reply-To\",\"value\":\"<m1@mail.example>\"}"));
    add_message(MAYA, "inbox",
                message("m3", "Lena Vogt", "lena.vogt@fabrikam.example", MAYA,
                        "Automatic reply: Leadhub for Fabrikam", "conv-1",
                        "{\"name\":\"Auto-Submitted\",\"value\":\"auto-replied\"},"
                        "{\"name\":\"In-Reply-To\",\"value\":\"<m1@mail.example>\"}"));
    add_message(RAJ, "inbox",
                message("r1", "Ana Souza", "ana@northwind.example", RAJ, "Pricing?", "conv-2", ""));
    add_message(
        RAJ, "inbox",
        message("r2", "Northwind News", "news@northwind.example", RAJ, "Our May news", "conv-3",
                "{\"name\":\"List-Unsubscribe\",\"value\":\"<mailto:u@northwind.example>\"}"));
    start_app("1s", "  calendar: false\n  page_size: 2\n");
    wait_for("SELECT count(*) FROM events WHERE source = 'graph'", 3);
    char *events = testdb_text(db, EVENTS_BY_PERSON);
    ck_assert_str_eq(events, "email.received ana@northwind.example, "
                             "email.replied tomas.herrera@fabrikam.example, "
                             "email.sent tomas.herrera@fabrikam.example");
    free(events);
    /* "Last, First" split by the shared parser */
    char *name = testdb_text(db, "SELECT first_name || '/' || last_name FROM leads WHERE email = "
                                 "'tomas.herrera@fabrikam.example'");
    ck_assert_str_eq(name, "Tomás/Herrera");
    free(name);
    ck_assert_int_eq(count("SELECT count(*) FROM leads WHERE email LIKE 'lena%'"), 0);

    /* the first round asked for the fields the mapping needs, page by page */
    char *first =
        fake_msgraph_request_url(graph, "GET", "/v1.0/users/" MAYA "/mailFolders/inbox", 0);
    ck_assert_ptr_nonnull(strstr(first, "$select="));
    ck_assert_ptr_nonnull(strstr(first, "internetMessageHeaders"));
    ck_assert_ptr_nonnull(strstr(first, "$filter=receivedDateTime+ge+"));
    free(first);
    char *second =
        fake_msgraph_request_url(graph, "GET", "/v1.0/users/" MAYA "/mailFolders/inbox", 1);
    ck_assert_ptr_nonnull(strstr(second, "$skiptoken="));
    free(second);

    /* the delta links die (410 resyncRequired): the next poll starts over, stores the new
     * mail, and nothing twice */
    size_t before = fake_msgraph_count(graph, "GET", "/v1.0/users/" RAJ "/mailFolders/inbox");
    fake_msgraph_expire_links(graph);
    add_message(RAJ, "inbox",
                message("r3", "Bo Lind", "bo@lindqvist.example", RAJ, "Hello", "conv-4", ""));
    wait_for("SELECT count(*) FROM events WHERE source = 'graph'", 4);
    ck_assert_int_gt(fake_msgraph_count(graph, "GET", "/v1.0/users/" RAJ "/mailFolders/inbox"),
                     before);
    /* a few more polls: still four */
    size_t polls = fake_msgraph_count(graph, "GET", "/v1.0/users/" RAJ "/mailFolders/inbox");
    for (int i = 0;
         i < 600 &&
         fake_msgraph_count(graph, "GET", "/v1.0/users/" RAJ "/mailFolders/inbox") < polls + 4;
         i++) {
        struct timespec ts = {0, 50000000};
        nanosleep(&ts, NULL);
    }
    ck_assert_int_eq(count("SELECT count(*) FROM events WHERE source = 'graph'"), 4);
    ck_assert_int_eq(fake_msgraph_refused(graph), 0);
}
END_TEST

/* The conversation every mail connector is tested with (tests/lib/mail_script.h), as Graph
 * gives it: sent items in Sent Items without internetMessageHeaders, received mail in Inbox
 * with them. */
START_TEST(test_microsoft_the_shared_script_is_classified_like_every_mail_connector)
{
    fake_msgraph_add_mailbox(graph, MAIL_SCRIPT_MAILBOX);
    char *received = when(-60);
    for (size_t i = 0; i < mail_script_count; i++) {
        const struct mail_script_message *m = &mail_script[i];
        json_t *headers = json_array();
        if (!m->sent) {
            if (m->in_reply_to != NULL) {
                char *id = util_printf("<%s@script.example>", m->in_reply_to);
                json_array_append_new(headers,
                                      json_pack("{s:s, s:s}", "name", "In-Reply-To", "value", id));
                free(id);
            }
            for (size_t h = 0; m->headers[h].name != NULL; h++) {
                json_array_append_new(headers, json_pack("{s:s, s:s}", "name", m->headers[h].name,
                                                         "value", m->headers[h].value));
            }
        }
        char *message_id = util_printf("<%s@script.example>", m->id);
        json_t *message = json_pack(
            "{s:s, s:s, s:s, s:s, s:b, s:s, s:s, s:{s:{s:s, s:s}}, s:[{s:{s:s, s:s}}], s:[], s:[], "
            "s:o}",
            "id", m->id, "internetMessageId", message_id, "conversationId", m->thread, "subject",
            m->subject, "isDraft", 0, "receivedDateTime", received, "sentDateTime", received,
            "from", "emailAddress", "name", m->from_name, "address", m->from, "toRecipients",
            "emailAddress", "name", m->to_name, "address", m->to, "ccRecipients", "bccRecipients",
            "internetMessageHeaders", headers);
        char *text = json_dumps(message, JSON_COMPACT);
        free(fake_msgraph_add_message(graph, MAIL_SCRIPT_MAILBOX, m->sent ? "sentitems" : "inbox",
                                      text));
        free(text);
        json_decref(message);
        free(message_id);
    }
    free(received);
    start_with("1s", "  auth: app\n  mailboxes: [" MAIL_SCRIPT_MAILBOX "]\n  calendar: false\n"
                     "  internal_domains: [" MAIL_SCRIPT_INTERNAL_DOMAIN "]\n");
    wait_for("SELECT count(*) FROM events WHERE source = 'graph'",
             (long)mail_script_expected_count);
    char *events = mail_script_events(db, "graph");
    ck_assert_str_eq(events, mail_script_expected);
    free(events);
}
END_TEST

/* A meeting with a prospect, in Pacific time. */
static char *meeting(const char *id, const char *local_start, const char *local_end)
{
    return util_printf(
        "{\"id\":\"%s\",\"iCalUId\":\"ical-%s\",\"subject\":\"Leadhub x Fabrikam\","
        "\"type\":\"singleInstance\",\"isAllDay\":false,\"isCancelled\":false,"
        "\"originalStartTimeZone\":\"Pacific Standard Time\","
        "\"start\":{\"dateTime\":\"%s.0000000\",\"timeZone\":\"Pacific Standard Time\"},"
        "\"end\":{\"dateTime\":\"%s.0000000\",\"timeZone\":\"Pacific Standard Time\"},"
        "\"organizer\":{\"emailAddress\":{\"name\":\"Maya Chen\",\"address\":\"" MAYA "\"}},"
        "\"attendees\":["
        "{\"type\":\"required\",\"status\":{\"response\":\"accepted\"},\"emailAddress\":"
        "{\"name\":\"Tomás Herrera\",\"address\":\"tomas.herrera@fabrikam.example\"}},"
        "{\"type\":\"resource\",\"status\":{\"response\":\"accepted\"},\"emailAddress\":"
        "{\"name\":\"Room 4\",\"address\":\"room4@contoso.example\"}}],"
        "\"onlineMeeting\":{\"joinUrl\":\"https://teams.microsoft.com/l/meetup-join/19%%3a1\"}}",
        id, id, local_start, local_end);
}

START_TEST(test_microsoft_a_meeting_moved_across_a_daylight_saving_change)
{
    /* US daylight saving time starts on 2027-03-14: 09:00 in Los Angeles is 17:00Z on the
     * 10th and 16:00Z on the 17th */
    char *booked = meeting("evt-1", "2027-03-10T09:00:00", "2027-03-10T09:30:00");
    fake_msgraph_put_event(graph, MAYA, booked);
    free(booked);
    fake_msgraph_put_event(
        graph, MAYA,
        "{\"id\":\"evt-internal\",\"subject\":\"1:1\",\"type\":\"singleInstance\","
        "\"start\":{\"dateTime\":\"2027-03-10T10:00:00.0000000\",\"timeZone\":"
        "\"Pacific Standard Time\"},\"end\":{\"dateTime\":"
        "\"2027-03-10T10:30:00.0000000\",\"timeZone\":\"Pacific Standard Time\"},"
        "\"organizer\":{\"emailAddress\":{\"address\":\"" MAYA "\"}},"
        "\"attendees\":[{\"type\":\"required\",\"emailAddress\":{\"address\":\"" RAJ "\"}}]}");
    start_app("1s", "  mail: false\n  calendar_window_future: 180d\n");
    wait_for("SELECT count(*) FROM meetings WHERE source = 'graph' AND starts_at = "
             "'2027-03-10T17:00:00Z'",
             1);
    char *row = testdb_text(db, "SELECT timezone || ' ' || online_url || ' ' || status FROM "
                                "meetings WHERE source = 'graph'");
    ck_assert_str_eq(row, "America/Los_Angeles https://teams.microsoft.com/l/meetup-join/19%3a1 "
                          "scheduled");
    free(row);
    /* the room is no attendee; the internal 1:1 is no meeting with a prospect */
    ck_assert_int_eq(count("SELECT count(*) FROM meeting_attendees"), 1);
    ck_assert_int_eq(count("SELECT count(*) FROM meetings"), 1);
    /* times were asked for in UTC */
    char *headers =
        fake_msgraph_request_headers(graph, "GET", "/v1.0/users/" MAYA "/calendarView", 0);
    ck_assert_ptr_nonnull(strstr(headers, "outlook.timezone=\"UTC\""));
    free(headers);

    char *moved = meeting("evt-1", "2027-03-17T09:00:00", "2027-03-17T09:30:00");
    fake_msgraph_put_event(graph, MAYA, moved);
    free(moved);
    wait_for("SELECT count(*) FROM meetings WHERE source = 'graph' AND starts_at = "
             "'2027-03-17T16:00:00Z' AND previous_starts_at = '2027-03-10T17:00:00Z' AND status = "
             "'rescheduled'",
             1);

    fake_msgraph_delete_event(graph, MAYA, "evt-1");
    wait_for("SELECT count(*) FROM meetings WHERE source = 'graph' AND status = 'canceled'", 1);
    ck_assert_int_eq(count("SELECT count(*) FROM events WHERE type = 'meeting.canceled'"), 1);
}
END_TEST

static bool subscribed(void *arg)
{
    size_t want = *(size_t *)arg;
    json_t *subs = fake_msgraph_subscriptions(graph);
    bool ok = json_array_size(subs) == want;
    json_decref(subs);
    return ok;
}

static void wait_subscriptions(size_t want)
{
    if (!td_wait_until(subscribed, &want, WAIT_MS)) {
        char *log = td_log(&td);
        ck_abort_msg("expected %zu live subscriptions; daemon log ends:\n%s", want, log_tail(log));
    }
}

START_TEST(test_microsoft_notifications_missed_and_lapsed_subscriptions)
{
    char *notify = td_url(&td, "/webhooks/graph");
    char *extra =
        util_printf("  notification_url: %s\n  client_state: ${LHTEST_MS_STATE}\n", notify);
    free(notify);
    /* polls only at start and when notified */
    start_app("1h", extra);
    /* messages and events of both mailboxes, each validated by the fake's handshake */
    wait_subscriptions(4);
    ck_assert_int_eq(fake_msgraph_count(graph, "POST", "/v1.0/subscriptions"), 4);
    char *before = td_log(&td);
    ck_assert_ptr_null(strstr(before, CLIENT_STATE));
    free(before);

    /* a notification: 202, and the poll it asks for stores the message */
    add_message(MAYA, "inbox",
                message("n1", "Ana Souza", "ana@northwind.example", MAYA, "Hi", "conv-n1", ""));
    ck_assert_int_eq(fake_msgraph_notify(graph, MAYA, "messages", NULL), 202);
    wait_for("SELECT count(*) FROM events WHERE source = 'graph'", 1);

    /* a forged clientState is refused and counted */
    ck_assert_int_eq(fake_msgraph_notify(graph, MAYA, "messages", "not-the-client-state-at-all"),
                     401);
    char *metrics_url = td_url(&td, "/metrics");
    struct http_result m;
    http_get(metrics_url, &m);
    ck_assert_ptr_nonnull(strstr(m.body, "leadhub_plugin_client_state_mismatches_total"));
    http_result_free(&m);
    free(metrics_url);

    /* notifications lost: Graph says `missed`; the delta it asks for stores the mail, once */
    add_message(RAJ, "inbox",
                message("n2", "Bo Lind", "bo@lindqvist.example", RAJ, "Hello", "conv-n2", ""));
    ck_assert_int_eq(fake_msgraph_lifecycle(graph, RAJ, "messages", "missed"), 202);
    wait_for("SELECT count(*) FROM events WHERE source = 'graph'", 2);
    ck_assert_int_eq(fake_msgraph_lifecycle(graph, RAJ, "messages", "missed"), 202);

    /* Graph removed a subscription: it is made again */
    ck_assert_int_eq(fake_msgraph_lifecycle(graph, RAJ, "events", "subscriptionRemoved"), 202);
    wait_subscriptions(4);
    ck_assert_int_eq(fake_msgraph_count(graph, "POST", "/v1.0/subscriptions"), 5);

    /* down past the expiry: the stored subscriptions lapsed at Graph; the next start makes
     * them again rather than renewing dead ones */
    ck_assert_int_eq(td_stop(&td), 0);
    fake_msgraph_drop_subscriptions(graph);
    testdb_exec(db, "UPDATE connector_state SET value = jsonb_set(value, '{expires}', "
                    "to_jsonb((extract(epoch FROM now()) * 1000)::bigint - 1000)) WHERE "
                    "instance = 'graph' AND key LIKE 'sub.%'");
    ck_assert_int_eq(td_start(&td), 0);
    wait_subscriptions(4);
    ck_assert_int_eq(fake_msgraph_count(graph, "POST", "/v1.0/subscriptions"), 9);
    ck_assert_int_eq(count("SELECT count(*) FROM events WHERE source = 'graph'"), 2);
    free(extra);
}
END_TEST

START_TEST(test_microsoft_retry_after_is_honoured)
{
    add_message(MAYA, "inbox",
                message("t1", "Ana Souza", "ana@northwind.example", MAYA, "Hi", "conv-t1", ""));
    fake_msgraph_throttle_next(graph, 1, 2);
    start_with("1s", "  auth: app\n  mailboxes: [" MAYA "]\n  calendar: false\n");
    wait_for("SELECT count(*) FROM events WHERE source = 'graph'", 1);
    /* the throttled request and the next one are at least Retry-After apart */
    long long throttled = fake_msgraph_request_at(graph, "GET", "/v1.0/users/", 0);
    long long next = fake_msgraph_request_at(graph, "GET", "/v1.0/users/", 1);
    ck_assert_int_ge(next - throttled, 1900);
}
END_TEST

/* Graph's per-mailbox limit, scaled down: 10 requests per 2 s at the fake, the same budget
 * configured; 24 messages one per page take 26 requests or more, paced: all stored, none
 * refused. */
START_TEST(test_microsoft_requests_are_paced_under_the_mailbox_limit)
{
    fake_msgraph_limits(graph, 10, 2000, 4);
    for (int i = 0; i < 24; i++) {
        char id[16], conversation[24];
        snprintf(id, sizeof(id), "p%d", i);
        snprintf(conversation, sizeof(conversation), "conv-p%d", i);
        char *from = util_printf("prospect%d@northwind.example", i);
        add_message(MAYA, "inbox", message(id, "Ana Souza", from, MAYA, "Hi", conversation, ""));
        free(from);
    }
    start_with("1s", "  auth: app\n  mailboxes: [" MAYA "]\n  calendar: false\n"
                     "  page_size: 1\n  request_budget: 10\n  request_budget_window: 2s\n");
    wait_for("SELECT count(*) FROM events WHERE source = 'graph'", 24);
    ck_assert_int_eq(fake_msgraph_refused(graph), 0);
    ck_assert_int_le(fake_msgraph_peak_concurrency(graph), 1);
}
END_TEST

static bool poll_config(void *arg)
{
    (void)arg;
    return testdb_scalar(db, "SELECT count(*) FROM connector_status WHERE instance = 'graph' AND "
                             "last_poll_outcome = 'config'") == 1;
}

START_TEST(test_microsoft_expired_client_secret_says_what_to_fix)
{
    fake_msgraph_expire_secret(graph, true);
    start_app("1s", "  calendar: false\n");
    ck_assert(td_wait_until(poll_config, NULL, WAIT_MS));
    char *error =
        testdb_text(db, "SELECT last_error FROM connector_status WHERE instance = 'graph'");
    ck_assert_msg(strstr(error, "AADSTS7000222") != NULL, "%s", error);
    ck_assert_ptr_null(strstr(error, CLIENT_SECRET));
    free(error);
    /* a new secret fixes it without a restart of anything but the token */
    fake_msgraph_expire_secret(graph, false);
}
END_TEST

static bool token_alive(void *arg, const char *token)
{
    return fake_oauth_token_alive(arg, token);
}

START_TEST(test_microsoft_delegated_rotated_refresh_token_survives_a_restart)
{
    struct fake_oauth *idp = fake_oauth_start(CLIENT_ID, CLIENT_SECRET);
    fake_oauth_rotate_refresh_tokens(idp, true);
    /* short-lived access tokens: every poll refreshes, and every refresh rotates */
    fake_oauth_access_lifetime(idp, 30);
    fake_msgraph_accept(graph, token_alive, idp);
    add_message(MAYA, "inbox",
                message("d1", "Ana Souza", "ana@northwind.example", MAYA, "Hi", "conv-d1", ""));
    char *login = fake_oauth_url(idp, "");
    char *api = fake_msgraph_url(graph, "/v1.0");
    char *yaml = util_printf("name: graph\nplugin: microsoft\npoll_interval: 1s\nsettings:\n"
                             "  tenant: contoso\n  client_id: " CLIENT_ID "\n"
                             "  client_secret: ${LHTEST_MS_SECRET}\n  auth: delegated\n"
                             "  mailbox: " MAYA "\n  calendar: false\n"
                             "  login_base: %s\n  graph_api_base: %s\n",
                             login, api);
    td_connector(&td, "graph", yaml);
    free(yaml);
    free(api);
    free(login);
    td.extra_main = strdup("secrets_key: ${LHTEST_MS_KEY}\n");
    ck_assert_int_eq(td_start(&td), 0);
    db = testdb_connect(td.db_url);

    char *config = tu_path(td.dir, "leadhub.yaml");
    const char *args[] = {"graph", "-c", config, "--no-browser", "--timeout", "60s", NULL};
    struct connect_cli cli;
    char *url = connect_cli_start(&cli, args);
    ck_assert_msg(url != NULL, "%s", strbuf_value(&cli.output));
    ck_assert_ptr_nonnull(strstr(url, "offline_access"));
    char *location = fake_oauth_browse(url, NULL);
    ck_assert_ptr_nonnull(location);
    connect_cli_paste(&cli, location);
    char *output = NULL;
    int exit_status = connect_cli_finish(&cli, &output);
    ck_assert_msg(exit_status == 0, "connect failed (%d): %s", exit_status, output);
    ck_assert_ptr_null(strstr(output, "fake-oauth-rt-"));
    free(output);
    free(location);
    free(url);
    free(config);
    wait_for("SELECT count(*) FROM events WHERE source = 'graph'", 1);

    /* the refresh token was rotated (the old one is dead): a restart must use the new one */
    ck_assert_int_eq(td_stop(&td), 0);
    size_t refreshes = fake_oauth_count(idp, "POST", "/contoso/oauth2/v2.0/token");
    ck_assert_int_ge(refreshes, 2); /* the code exchange and at least one refresh */
    add_message(MAYA, "inbox",
                message("d2", "Bo Lind", "bo@lindqvist.example", MAYA, "Hello", "conv-d2", ""));
    ck_assert_int_eq(td_start(&td), 0);
    wait_for("SELECT count(*) FROM events WHERE source = 'graph'", 2);
    char *log = td_log(&td);
    ck_assert_ptr_null(strstr(log, "invalid_grant"));
    ck_assert_ptr_null(strstr(log, "fake-oauth-rt-"));
    free(log);
    ck_assert_int_eq(td_stop(&td), 0);
    fake_msgraph_accept(graph, NULL, NULL);
    fake_oauth_stop(idp);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("microsoft_e2e");
    TCase *tc = tcase_create("e2e");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_microsoft_app_only_two_mailboxes_replies_auto_replies_and_a_resync);
    tcase_add_test(tc, test_microsoft_the_shared_script_is_classified_like_every_mail_connector);
    tcase_add_test(tc, test_microsoft_a_meeting_moved_across_a_daylight_saving_change);
    tcase_add_test(tc, test_microsoft_notifications_missed_and_lapsed_subscriptions);
    tcase_add_test(tc, test_microsoft_retry_after_is_honoured);
    tcase_add_test(tc, test_microsoft_requests_are_paced_under_the_mailbox_limit);
    tcase_add_test(tc, test_microsoft_expired_client_secret_says_what_to_fix);
    tcase_add_test(tc, test_microsoft_delegated_rotated_refresh_token_survives_a_restart);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(suite());
}
