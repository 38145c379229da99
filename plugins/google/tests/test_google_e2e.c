/*
 * test_google_e2e.c - the real leadhubd with `google` instances, a real PostgreSQL and the
 * fake Google (tests/lib/fake_google.h): two mailboxes as two instances; a burst of 14
 * mails stored once each; a reply, an out-of-office, a bounce and a newsletter classified
 * right; a stale history id and an expired sync token recovered with nothing lost or
 * doubled; a push taken while the daemon is killed before its poll still stored after the
 * restart; quota refusals held, not failed; a revoked refresh token shown as needing
 * consent on /v1/connectors and in /readyz; the conversation every mail connector is
 * tested with (tests/lib/mail_script.h) classified as the Microsoft connector does.
 *
 * Needs $LEADHUB_TEST_DATABASE_URL (scripts/run-tests.sh starts a throwaway server).
 */
#include <check.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto.h"
#include "daemon_harness.h"
#include "fake_google.h"
#include "http_client.h"
#include "mail_script.h"
#include "testdb.h"
#include "testutil.h"
#include "util.h"

#define MAYA        "maya.chen@leadhub-demo.com"
#define SAM         "sam.ortiz@leadhub-demo.com"
#define PUSH_TOKEN  "push-token-3f9c1a7e5b2d4c68"
#define ADMIN_TOKEN "google-admin-token-51c0e7"
#define WAIT_MS     60000

static struct fake_google *maya_google;
static struct fake_google *sam_google;
static struct fake_google *rep_google; /* the shared script's mailbox, when a test makes it */
static struct test_daemon td;
static PGconn *db;

static long long ms_ago(long long ms)
{
    return (long long)time(NULL) * 1000 - ms;
}

static void setup(void)
{
    setenv("LHTEST_G_SECRET", "google-client-secret-1d8e4b", 1);
    setenv("LHTEST_G_RT_MAYA", "1//maya-refresh-token-7c2a", 1);
    setenv("LHTEST_G_RT_SAM", "1//sam-refresh-token-9e4f", 1);
    setenv("LHTEST_G_PUSH", PUSH_TOKEN, 1);
    setenv("LHTEST_G_ADMIN", ADMIN_TOKEN, 1);
    maya_google = fake_google_start(MAYA, "1//maya-refresh-token-7c2a");
    sam_google = fake_google_start(SAM, "1//sam-refresh-token-9e4f");
    ck_assert_ptr_nonnull(maya_google);
    ck_assert_ptr_nonnull(sam_google);
    rep_google = NULL;
    db = NULL;
    td_init(&td, NULL);
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
    fake_google_stop(maya_google);
    fake_google_stop(sam_google);
    fake_google_stop(rep_google);
}

static void add_instance(const char *name, const char *mailbox, struct fake_google *fake,
                         const char *rt_env, const char *poll_interval, const char *extra)
{
    char *token = fake_google_url(fake, "/token");
    char *gmail = fake_google_url(fake, "");
    char *calendar = fake_google_url(fake, "/calendar/v3");
    char *yaml = util_printf("name: %s\nplugin: google\npoll_interval: %s\nsettings:\n"
                             "  mailbox: %s\n  client_id: 1234-test.apps.googleusercontent.com\n"
                             "  client_secret: ${LHTEST_G_SECRET}\n  refresh_token: ${%s}\n"
                             "  push_token: ${LHTEST_G_PUSH}\n  backfill: 7d\n"
                             "  token_url: %s\n  gmail_api_base: %s\n  calendar_api_base: %s\n%s",
                             name, poll_interval, mailbox, rt_env, token, gmail, calendar,
                             extra != NULL ? extra : "");
    td_connector(&td, name, yaml);
    free(yaml);
    free(calendar);
    free(gmail);
    free(token);
}

static void start(void)
{
    free(td.extra_main);
    td.extra_main = strdup("api:\n  tokens:\n    - name: ops\n      token: ${LHTEST_G_ADMIN}\n"
                           "      scopes: [read, write, admin]\n");
    int rc = td_start(&td);
    if (rc != 0) {
        char *log = td_log(&td);
        ck_abort_msg("daemon did not become ready (%d):\n%s", rc, log);
    }
    if (db == NULL) {
        db = testdb_connect(td.db_url);
    }
}

static long count(const char *sql)
{
    return testdb_scalar(db, sql);
}

struct count_is {
    const char *sql;
    long want;
};

static bool count_reached(void *arg)
{
    struct count_is *c = arg;
    return count(c->sql) >= c->want;
}

static void wait_count(const char *sql, long want)
{
    struct count_is c = {sql, want};
    if (!td_wait_until(count_reached, &c, WAIT_MS)) {
        char *log = td_log(&td);
        fprintf(stderr, "%s\n", log);
        free(log);
        ck_abort_msg("%s: %ld, wanted %ld", sql, count(sql), want);
    }
}

/* Pub/Sub's push of the mailbox's new history id, as Google sends it. */
static long push_gmail(const char *instance, const char *mailbox, unsigned long long history_id,
                       const char *token)
{
    char *data =
        util_printf("{\"emailAddress\":\"%s\",\"historyId\":\"%llu\"}", mailbox, history_id);
    char encoded[512];
    crypto_base64_encode(data, strlen(data), encoded);
    char *body = util_printf("{\"message\":{\"data\":\"%s\",\"messageId\":\"1373408128%llu\","
                             "\"publishTime\":\"2026-12-07T16:00:13.482Z\"},\"subscription\":"
                             "\"projects/leadhub-prod/subscriptions/gmail-push\"}",
                             encoded, history_id);
    char *url = util_printf("%s/webhooks/%s?token=%s", td.base_url, instance, token);
    const char *headers[] = {"Content-Type: application/json", NULL};
    struct http_result r;
    ck_assert_int_eq(http_request("POST", url, headers, body, strlen(body), &r), 0);
    long status = r.status;
    http_result_free(&r);
    free(url);
    free(body);
    free(data);
    return status;
}

/* A Calendar channel's notification: headers only, an empty body. */
static long push_calendar(const char *state, const char *number, const char *token)
{
    char *h_token = util_printf("X-Goog-Channel-Token: %s", token);
    char *h_state = util_printf("X-Goog-Resource-State: %s", state);
    char *h_number = util_printf("X-Goog-Message-Number: %s", number);
    const char *headers[] = {"X-Goog-Channel-ID: leadhub-0-1",
                             h_token,
                             h_state,
                             h_number,
                             "X-Goog-Resource-ID: o3hgv1538sdjfh_Kq9sAIrYtEw",
                             "Content-Length: 0",
                             NULL};
    char *url = td_url(&td, "/webhooks/maya");
    struct http_result r;
    ck_assert_int_eq(http_request("POST", url, headers, "", 0, &r), 0);
    long status = r.status;
    http_result_free(&r);
    free(url);
    free(h_number);
    free(h_state);
    free(h_token);
    return status;
}

static void add_mail(struct fake_google *fake, const char *id, const char *thread,
                     const char *labels, const char *headers)
{
    fake_google_add_message(fake, id, thread, labels, ms_ago(3600 * 1000), headers);
}

/* The conversation both mail connectors are checked against: maya writes to Priya and to a
 * bad address; Priya replies; Devon's out-of-office answers; the bad address bounces; a
 * newsletter arrives. */
static void script_conversation(struct fake_google *fake)
{
    add_mail(fake, "m-sent-1", "t-priya", "SENT",
             "From: Maya Chen <" MAYA
             ">\nTo: Priya Natarajan <priya.natarajan@northwind-analytics.com>\n"
             "Subject: Leadhub demo\nMessage-ID: <sent-1@leadhub-demo.com>");
    add_mail(fake, "m-sent-2", "t-bad", "SENT",
             "From: Maya Chen <" MAYA ">\nTo: nobody@defunct-corp.example\n"
             "Subject: Intro\nMessage-ID: <sent-2@leadhub-demo.com>");
    add_mail(fake, "m-sent-3", "t-devon", "SENT",
             "From: " MAYA "\nTo: \"Brooks, Devon\" <devon.brooks@northwind-analytics.com>\n"
             "Subject: Follow-up\nMessage-ID: <sent-3@leadhub-demo.com>");
    add_mail(fake, "m-reply", "t-priya", "INBOX,UNREAD",
             "From: Priya Natarajan <priya.natarajan@northwind-analytics.com>\nTo: " MAYA "\n"
             "Subject: Re: Leadhub demo\nMessage-ID: <reply-1@northwind-analytics.com>\n"
             "In-Reply-To: <sent-1@leadhub-demo.com>\nReferences: <sent-1@leadhub-demo.com>");
    add_mail(fake, "m-ooo", "t-devon", "INBOX",
             "From: Devon Brooks <devon.brooks@northwind-analytics.com>\nTo: " MAYA "\n"
             "Subject: Automatic reply: Follow-up\nAuto-Submitted: auto-replied\n"
             "In-Reply-To: <sent-3@leadhub-demo.com>\nMessage-ID: <ooo-1@northwind-analytics.com>");
    add_mail(fake, "m-bounce", "t-bad", "INBOX",
             "From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>\nTo: " MAYA "\n"
             "Subject: Delivery Status Notification (Failure)\n"
             "X-Failed-Recipients: nobody@defunct-corp.example\n"
             "Content-Type: multipart/report; report-type=delivery-status; boundary=x\n"
             "Message-ID: <bounce-1@mail.gmail.com>");
    add_mail(fake, "m-news", "t-news", "INBOX,CATEGORY_PROMOTIONS",
             "From: Pipeline Weekly <news@pipeline-weekly.example>\nTo: " MAYA "\n"
             "Subject: This week in pipelines\nList-Unsubscribe: "
             "<mailto:unsub@pipeline-weekly.example>\n"
             "Message-ID: <news-1@pipeline-weekly.example>");
}

static char *text(const char *sql)
{
    return testdb_text(db, sql);
}

START_TEST(test_google_e2e_two_mailboxes_classify_a_conversation_and_store_a_burst_once)
{
    script_conversation(maya_google);
    add_mail(sam_google, "s-1", "s-t1", "INBOX",
             "From: Ana de la Cruz <ana@acme-prospect.example>\nTo: " SAM "\nSubject: Pricing\n"
             "Message-ID: <s-1@acme-prospect.example>");
    /* internal mail (a colleague) is not a prospect's */
    add_mail(maya_google, "m-internal", "t-int", "INBOX",
             "From: Sam Ortiz <" SAM ">\nTo: " MAYA "\nSubject: lunch?");
    add_instance("maya", MAYA, maya_google, "LHTEST_G_RT_MAYA", "1h", NULL);
    add_instance("sam", SAM, sam_google, "LHTEST_G_RT_SAM", "1h", NULL);
    start();
    /* the first poll is the backfill: the conversation, then history from the profile */
    wait_count("SELECT count(*) FROM events WHERE source = 'maya'", 5);
    wait_count("SELECT count(*) FROM events WHERE source = 'sam'", 1);
    char *maya_events =
        text("SELECT string_agg(e.type || ' ' || l.email, ', ' ORDER BY e.type, l.email) "
             "FROM events e JOIN leads l ON l.id = e.lead_id WHERE e.source = 'maya'");
    ck_assert_str_eq(maya_events, "email.bounced nobody@defunct-corp.example, "
                                  "email.replied priya.natarajan@northwind-analytics.com, "
                                  "email.sent devon.brooks@northwind-analytics.com, "
                                  "email.sent nobody@defunct-corp.example, "
                                  "email.sent priya.natarajan@northwind-analytics.com");
    free(maya_events);
    char *sam_events = text("SELECT e.type || ' ' || l.email || ' ' || l.first_name || '/' || "
                            "l.last_name FROM events e JOIN leads l ON l.id = e.lead_id WHERE "
                            "e.source = 'sam'");
    ck_assert_str_eq(sam_events, "email.received ana@acme-prospect.example Ana/de la Cruz");
    free(sam_events);
    /* the mailbox and its colleague never became leads */
    ck_assert_int_eq(count("SELECT count(*) FROM leads WHERE email LIKE '%@leadhub-demo.com'"), 0);
    /* the out-of-office did not count as a reply, and each skip is counted by reason */
    char *metrics_url = td_url(&td, "/metrics");
    struct http_result m;
    http_get(metrics_url, &m);
    const char *series[] = {
        "leadhub_plugin_google_mail_skipped_total{instance=\"maya\",reason=\"auto_reply\"} 1",
        "leadhub_plugin_google_mail_skipped_total{instance=\"maya\",reason=\"list\"} 1",
        "leadhub_plugin_google_mail_skipped_total{instance=\"maya\",reason=\"internal\"} 1",
    };
    for (size_t i = 0; i < sizeof(series) / sizeof(series[0]); i++) {
        ck_assert_msg(strstr(m.body, series[i]) != NULL, "no %s in /metrics", series[i]);
    }
    http_result_free(&m);

    /* a burst of 14 mails arriving together, on history pages of 5, announced by 14
     * pushes (Pub/Sub redelivers some): each stored once */
    fake_google_page_size(maya_google, 5);
    unsigned long long last = 0;
    for (int i = 0; i < 14; i++) {
        char id[32], from[160];
        snprintf(id, sizeof(id), "m-burst-%02d", i);
        snprintf(from, sizeof(from),
                 "From: Prospect %02d <p%02d@prospect-%02d.example>\nTo: " MAYA "\n"
                 "Subject: Question %02d",
                 i, i, i, i);
        last = fake_google_add_message(maya_google, id, id, "INBOX", ms_ago(1000), from);
        ck_assert_int_eq(push_gmail("maya", MAYA, last, PUSH_TOKEN), 200);
    }
    ck_assert_int_eq(push_gmail("maya", MAYA, last, PUSH_TOKEN), 200); /* a redelivery */
    wait_count("SELECT count(*) FROM events WHERE source = 'maya' AND type = 'email.received'", 14);
    /* one more poll over the same history changes nothing */
    ck_assert_int_eq(push_gmail("maya", MAYA, last + 1, PUSH_TOKEN), 200);
    wait_count("SELECT count(*) FROM connector_state WHERE instance = 'maya' AND key = "
               "'gmail.cursor' AND value->>'mode' = 'history'",
               1);
    ck_assert_int_eq(count("SELECT count(*) FROM events WHERE source = 'maya' AND type = "
                           "'email.received'"),
                     14);
    ck_assert_int_eq(count("SELECT count(DISTINCT source_id) FROM events WHERE source = 'maya'"),
                     count("SELECT count(*) FROM events WHERE source = 'maya'"));
    /* a push with a wrong token is refused, and stores nothing */
    ck_assert_int_eq(push_gmail("maya", MAYA, last + 2, "not-the-push-token-at-all"), 401);
    free(metrics_url);
    char *log = td_log(&td);
    ck_assert_ptr_null(strstr(log, PUSH_TOKEN));
    ck_assert_ptr_null(strstr(log, "refresh-token"));
    free(log);
}
END_TEST

/* The conversation every mail connector is tested with (tests/lib/mail_script.h), as Gmail
 * gives it: each message with its RFC 5322 headers in its thread, SENT or INBOX. */
START_TEST(test_google_e2e_the_shared_script_is_classified_like_every_mail_connector)
{
    rep_google = fake_google_start(MAIL_SCRIPT_MAILBOX, "1//rep-refresh-token-0b6d");
    ck_assert_ptr_nonnull(rep_google);
    setenv("LHTEST_G_RT_REP", "1//rep-refresh-token-0b6d", 1);
    for (size_t i = 0; i < mail_script_count; i++) {
        const struct mail_script_message *m = &mail_script[i];
        char *headers = util_printf("From: \"%s\" <%s>\nTo: \"%s\" <%s>\nSubject: %s\n"
                                    "Message-ID: <%s@script.example>",
                                    m->from_name, m->from, m->to_name, m->to, m->subject, m->id);
        if (m->in_reply_to != NULL) {
            char *more = util_printf("%s\nIn-Reply-To: <%s@script.example>\nReferences: "
                                     "<%s@script.example>",
                                     headers, m->in_reply_to, m->in_reply_to);
            free(headers);
            headers = more;
        }
        for (size_t h = 0; m->headers[h].name != NULL; h++) {
            char *more =
                util_printf("%s\n%s: %s", headers, m->headers[h].name, m->headers[h].value);
            free(headers);
            headers = more;
        }
        /* in the order the mailbox saw them, a minute apart */
        fake_google_add_message(rep_google, m->id, m->thread, m->sent ? "SENT" : "INBOX",
                                ms_ago(60000LL * (long long)(mail_script_count - i)), headers);
        free(headers);
    }
    add_instance("rep", MAIL_SCRIPT_MAILBOX, rep_google, "LHTEST_G_RT_REP", "1h",
                 "  internal_domains: [" MAIL_SCRIPT_INTERNAL_DOMAIN "]\n");
    start();
    wait_count("SELECT count(*) FROM events WHERE source = 'rep'",
               (long)mail_script_expected_count);
    char *events = mail_script_events(db, "rep");
    ck_assert_str_eq(events, mail_script_expected);
    free(events);
    ck_assert_int_eq(count("SELECT count(*) FROM events WHERE source = 'rep'"),
                     (long)mail_script_expected_count);
}
END_TEST

static json_t *meeting(const char *id, const char *start, const char *end, const char *guest)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:s}, s:{s:s, s:s}, s:{s:s, s:b}, "
                     "s:[{s:s, s:b, s:s}, {s:s, s:s, s:s}, {s:s, s:b, s:s}], s:s, s:i}",
                     "kind", "calendar#event", "id", id, "summary", "Leadhub demo", "created",
                     "2026-12-01T10:00:00.000Z", "start", "dateTime", start, "timeZone",
                     "America/New_York", "end", "dateTime", end, "timeZone", "America/New_York",
                     "organizer", "email", MAYA, "self", 1, "attendees", "email", MAYA, "self", 1,
                     "responseStatus", "accepted", "email", guest, "displayName", "Priya Natarajan",
                     "responseStatus", "accepted", "email", "room-4@resource.calendar.google.com",
                     "resource", 1, "responseStatus", "accepted", "hangoutLink",
                     "https://meet.google.com/xkr-pqvd-tzm", "sequence", 0);
}

START_TEST(test_google_e2e_stale_history_and_expired_sync_token_lose_and_double_nothing)
{
    script_conversation(maya_google);
    fake_google_put_event(maya_google, "primary",
                          meeting("ev-demo", "2026-12-20T14:00:00-05:00",
                                  "2026-12-20T14:45:00-05:00",
                                  "priya.natarajan@northwind-analytics.com"));
    fake_google_put_event(maya_google, "primary",
                          meeting("ev-intro", "2026-12-21T10:00:00-05:00",
                                  "2026-12-21T10:30:00-05:00", "ana@acme-prospect.example"));
    json_t *internal =
        meeting("ev-standup", "2026-12-20T09:00:00-05:00", "2026-12-20T09:15:00-05:00", SAM);
    fake_google_put_event(maya_google, "primary", internal);
    add_instance("maya", MAYA, maya_google, "LHTEST_G_RT_MAYA", "1h",
                 "  pubsub_topic: projects/leadhub-prod/topics/gmail\n"
                 "  calendar_push_url: https://hooks.leadhub.example/webhooks/maya\n");
    start();
    wait_count("SELECT count(*) FROM events WHERE source = 'maya' AND type LIKE 'email.%'", 5);
    wait_count("SELECT count(*) FROM meetings WHERE source = 'maya'", 2);
    /* the pushes were asked for: Gmail's watch on the topic, a channel for the calendar */
    wait_count("SELECT count(*) FROM connector_state WHERE instance = 'maya' AND key = "
               "'calendar_watch.0'",
               1);
    ck_assert_int_eq(fake_google_count(maya_google, "POST", "/gmail/v1/users/me/watch"), 1);
    ck_assert_int_eq(
        fake_google_count(maya_google, "POST", "/calendar/v3/calendars/primary/events/watch"), 1);
    ck_assert_int_eq(count("SELECT count(*) FROM events WHERE source = 'maya' AND type = "
                           "'meeting.scheduled'"),
                     2);
    char *demo = text("SELECT starts_at AT TIME ZONE 'UTC' || ' ' || timezone || ' ' || "
                      "online_url FROM meetings WHERE external_id = 'primary/ev-demo'");
    ck_assert_str_eq(demo,
                     "2026-12-20 19:00:00 America/New_York https://meet.google.com/xkr-pqvd-tzm");
    free(demo);

    /* the organizer moves the demo: an edit (sequence 1), the previous start kept */
    json_t *moved = meeting("ev-demo", "2026-12-22T15:00:00-05:00", "2026-12-22T15:45:00-05:00",
                            "priya.natarajan@northwind-analytics.com");
    json_object_set_new(moved, "sequence", json_integer(1));
    fake_google_put_event(maya_google, "primary", moved);
    ck_assert_int_eq(push_calendar("sync", "1", PUSH_TOKEN), 200);
    ck_assert_int_eq(push_calendar("exists", "2", "not-the-channel-token-at-all"), 401);
    ck_assert_int_eq(push_calendar("exists", "2", PUSH_TOKEN), 200);
    wait_count("SELECT count(*) FROM meetings WHERE source = 'maya' AND status = 'rescheduled'", 1);
    char *previous = text("SELECT previous_starts_at AT TIME ZONE 'UTC' FROM meetings WHERE "
                          "external_id = 'primary/ev-demo'");
    ck_assert_str_eq(previous, "2026-12-20 19:00:00");
    free(previous);

    /* Google forgets the history id and a new mail arrives; the sync token expires and the
     * intro is canceled meanwhile: a full resync of each stores the new mail and the
     * cancellation, and nothing it reads again twice */
    fake_google_expire_history(maya_google);
    unsigned long long id = fake_google_add_message(
        maya_google, "m-after", "t-after", "INBOX", ms_ago(1000),
        "From: Lena Fischer <lena@fischer-gmbh.example>\nTo: " MAYA "\nSubject: Termin");
    fake_google_expire_sync_tokens(maya_google);
    fake_google_cancel_event(maya_google, "primary", "ev-intro");
    ck_assert_int_eq(push_gmail("maya", MAYA, id, PUSH_TOKEN), 200);
    wait_count("SELECT count(*) FROM events WHERE source = 'maya' AND source_id = 'm-after'", 1);
    wait_count("SELECT count(*) FROM meetings WHERE external_id = 'primary/ev-intro' AND status "
               "= 'canceled'",
               1);
    wait_count("SELECT count(*) FROM connector_state WHERE instance = 'maya' AND key = "
               "'gmail.cursor' AND value->>'mode' = 'history'",
               1);
    ck_assert_int_eq(count("SELECT count(*) FROM events WHERE source = 'maya' AND type LIKE "
                           "'email.%'"),
                     6);
    ck_assert_int_eq(count("SELECT count(*) FROM events WHERE source = 'maya' AND type = "
                           "'meeting.updated'"),
                     1);
    ck_assert_int_eq(count("SELECT count(*) FROM events WHERE source = 'maya' AND type = "
                           "'meeting.scheduled'"),
                     2);
    ck_assert_int_eq(count("SELECT count(*) FROM events WHERE source = 'maya' AND type = "
                           "'meeting.canceled'"),
                     1);
    ck_assert_int_eq(count("SELECT count(*) FROM meetings WHERE source = 'maya'"), 2);
    ck_assert_int_eq(count("SELECT count(*) FROM connector_state WHERE instance = 'maya' AND "
                           "key = 'calendar.primary' AND value ? 'sync_token'"),
                     1);
}
END_TEST

static bool consent_needed(void *arg)
{
    (void)arg;
    char *url = td_url(&td, "/readyz");
    struct http_result r;
    http_get(url, &r);
    free(url);
    json_t *body = json_loads(r.body != NULL ? r.body : "", 0, NULL);
    http_result_free(&r);
    const char *state = json_string_value(
        json_object_get(json_object_get(json_object_get(body, "consent"), "maya"), "state"));
    bool needed = state != NULL && strcmp(state, "needs_consent") == 0;
    json_decref(body);
    return needed;
}

START_TEST(test_google_e2e_quota_refusals_are_held_and_a_revoked_grant_needs_consent)
{
    script_conversation(maya_google);
    fake_google_throttle_next(maya_google, 3);
    add_instance("maya", MAYA, maya_google, "LHTEST_G_RT_MAYA", "1h", "  calendar: false\n");
    start();
    wait_count("SELECT count(*) FROM events WHERE source = 'maya'", 5);
    /* the 429s were holds: no poll failed */
    ck_assert_int_eq(count("SELECT count(*) FROM events WHERE source = 'maya'"), 5);
    char *metrics_url = td_url(&td, "/metrics");
    struct http_result m;
    http_get(metrics_url, &m);
    ck_assert_msg(strstr(m.body, "leadhub_plugin_google_throttled_total{instance=\"maya\","
                                 "reason=\"too_many_requests\"} 3") != NULL,
                  "%s", m.body);
    /* every poll succeeded: a hold commits what was read and comes back later */
    ck_assert_msg(strstr(m.body, "leadhub_polls_total{instance=\"maya\",outcome=\"ok\"}") != NULL,
                  "%s", m.body);
    ck_assert_ptr_null(strstr(m.body, "leadhub_polls_total{instance=\"maya\",outcome=\"retry"));
    http_result_free(&m);
    free(metrics_url);

    /* the user revokes the app: the refresh gets invalid_grant, never retried, and the
     * instance shows that it needs consent */
    fake_google_revoke(maya_google);
    unsigned long long id = fake_google_add_message(
        maya_google, "m-late", "t-late", "INBOX", ms_ago(1000),
        "From: Lena Fischer <lena@fischer-gmbh.example>\nTo: " MAYA "\nSubject: Termin");
    /* the cached access token dies with the grant: a 401, a refresh, invalid_grant */
    ck_assert_int_eq(push_gmail("maya", MAYA, id, PUSH_TOKEN), 200);
    if (!td_wait_until(consent_needed, NULL, WAIT_MS)) {
        char *log = td_log(&td);
        fprintf(stderr, "%s\n", log);
        free(log);
        ck_abort_msg("no needs_consent in /readyz");
    }
    char *url = td_url(&td, "/v1/connectors/maya");
    char *auth = util_printf("Authorization: Bearer %s", ADMIN_TOKEN);
    const char *headers[] = {auth, NULL};
    struct http_result r;
    ck_assert_int_eq(http_request("GET", url, headers, NULL, 0, &r), 0);
    ck_assert_int_eq(r.status, 200);
    json_t *body = json_loads(r.body, 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(body, "oauth"), "state")),
                     "needs_consent");
    ck_assert_ptr_null(strstr(r.body, "refresh-token"));
    json_decref(body);
    http_result_free(&r);
    size_t refreshes = fake_google_count(maya_google, "POST", "/token");
    ck_assert_int_eq(push_gmail("maya", MAYA, id + 1, PUSH_TOKEN), 200);
    /* the notification's poll ran (its outcome is recorded) without asking Google again */
    ck_assert_int_eq(fake_google_count(maya_google, "POST", "/token"), refreshes);
    free(auth);
    free(url);
}
END_TEST

START_TEST(test_google_e2e_a_push_taken_before_a_kill_is_stored_after_the_restart)
{
    add_instance("maya", MAYA, maya_google, "LHTEST_G_RT_MAYA", "1h", "  calendar: false\n");
    start();
    wait_count("SELECT count(*) FROM connector_state WHERE instance = 'maya' AND key = "
               "'gmail.cursor' AND value->>'mode' = 'history'",
               1);
    /* Google stalls every call: the push is recorded, its poll cannot read */
    fake_google_throttle_next(maya_google, 1000000);
    unsigned long long id = fake_google_add_message(
        maya_google, "m-pushed", "t-pushed", "INBOX", ms_ago(1000),
        "From: Priya Natarajan <priya.natarajan@northwind-analytics.com>\nTo: " MAYA "\n"
        "Subject: Tuesday works");
    ck_assert_int_eq(push_gmail("maya", MAYA, id, PUSH_TOKEN), 200);
    td_kill(&td);
    fake_google_throttle_next(maya_google, 0);
    start();
    wait_count("SELECT count(*) FROM events WHERE source = 'maya' AND source_id = 'm-pushed'", 1);
    ck_assert_int_eq(count("SELECT count(*) FROM events WHERE source = 'maya'"), 1);
}
END_TEST

START_TEST(test_google_e2e_a_backfill_is_paced_under_the_users_quota)
{
    /* Google allows 200 units/s (403 userRateLimitExceeded beyond); the instance budgets
     * 190: 240 messages (1200 units of messages.get) arrive with no request refused */
    for (int i = 0; i < 240; i++) {
        char id[32], headers[200];
        snprintf(id, sizeof(id), "m-%03d", i);
        snprintf(headers, sizeof(headers),
                 "From: Prospect %03d <p%03d@prospect-%03d.example>\nTo: " MAYA "\nSubject: Hi", i,
                 i, i);
        fake_google_add_message(maya_google, id, id, "INBOX", ms_ago(60000LL * (i + 1)), headers);
    }
    fake_google_quota(maya_google, 200, true);
    add_instance("maya", MAYA, maya_google, "LHTEST_G_RT_MAYA", "1h",
                 "  calendar: false\n  quota_per_minute: 11400\n");
    start();
    wait_count("SELECT count(*) FROM events WHERE source = 'maya'", 240);
    ck_assert_msg(fake_google_quota_refusals(maya_google) == 0, "%zu refused, %.0f units spent",
                  fake_google_quota_refusals(maya_google), fake_google_units_spent(maya_google));
    ck_assert_int_eq(count("SELECT count(DISTINCT source_id) FROM events WHERE source = 'maya'"),
                     240);
}
END_TEST

/* --- Pub/Sub's OIDC-authenticated push ---------------------------------------------- */

static void b64url(const unsigned char *data, size_t len, char *out)
{
    crypto_base64url_encode(data, len, out);
}

/* A key's JWKS document, {"keys": [{kty, alg, use, kid, n, e}]} (malloc'd). */
static char *jwks_of(EVP_PKEY *key, const char *kid)
{
    BIGNUM *n = NULL, *e = NULL;
    ck_assert(EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n) == 1);
    ck_assert(EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &e) == 1);
    unsigned char raw[512];
    char n_text[700], e_text[16];
    b64url(raw, (size_t)BN_bn2bin(n, raw), n_text);
    b64url(raw, (size_t)BN_bn2bin(e, raw), e_text);
    BN_free(n);
    BN_free(e);
    return util_printf(
        "{\"keys\":[{\"kty\":\"RSA\",\"alg\":\"RS256\",\"use\":\"sig\",\"kid\":\"%s\","
        "\"n\":\"%s\",\"e\":\"%s\"}]}",
        kid, n_text, e_text);
}

/* A JWT with these claims, signed RS256 by key under kid (malloc'd). */
static char *jwt(EVP_PKEY *key, const char *kid, const char *claims)
{
    char *header = util_printf("{\"alg\":\"RS256\",\"kid\":\"%s\",\"typ\":\"JWT\"}", kid);
    char h64[256], c64[1024];
    b64url((const unsigned char *)header, strlen(header), h64);
    b64url((const unsigned char *)claims, strlen(claims), c64);
    char *input = util_printf("%s.%s", h64, c64);
    unsigned char sig[512];
    size_t sig_len = sizeof(sig);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    ck_assert(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) == 1);
    ck_assert(EVP_DigestSign(md, sig, &sig_len, (const unsigned char *)input, strlen(input)) == 1);
    EVP_MD_CTX_free(md);
    char s64[700];
    b64url(sig, sig_len, s64);
    char *token = util_printf("%s.%s", input, s64);
    free(input);
    free(header);
    return token;
}

#define PUSH_AUDIENCE "https://hooks.leadhub.example/webhooks/maya"
#define PUSH_ACCOUNT  "pubsub-push@leadhub-prod.iam.gserviceaccount.com"

static char *claims(const char *iss, const char *aud, const char *email, long long exp)
{
    long long now = (long long)time(NULL);
    return util_printf("{\"iss\":\"%s\",\"aud\":\"%s\",\"email\":\"%s\",\"email_verified\":true,"
                       "\"iat\":%lld,\"exp\":%lld,\"sub\":\"1234567890\"}",
                       iss, aud, email, now - 10, now + exp);
}

/* POSTs a Pub/Sub envelope with Authorization: Bearer token and no URL token. */
static long push_oidc(unsigned long long history_id, const char *token)
{
    char *data = util_printf("{\"emailAddress\":\"%s\",\"historyId\":\"%llu\"}", MAYA, history_id);
    char encoded[512];
    crypto_base64_encode(data, strlen(data), encoded);
    char *body = util_printf("{\"message\":{\"data\":\"%s\",\"messageId\":\"9%llu\"},"
                             "\"subscription\":\"projects/p/subscriptions/s\"}",
                             encoded, history_id);
    char *auth = util_printf("Authorization: Bearer %s", token);
    const char *headers[] = {"Content-Type: application/json", auth, NULL};
    char *url = td_url(&td, "/webhooks/maya");
    struct http_result r;
    ck_assert_int_eq(http_request("POST", url, headers, body, strlen(body), &r), 0);
    long status = r.status;
    http_result_free(&r);
    free(url);
    free(auth);
    free(body);
    free(data);
    return status;
}

START_TEST(test_google_e2e_an_oidc_push_is_taken_only_signed_by_google_for_this_audience)
{
    EVP_PKEY *google_key = EVP_RSA_gen(2048);
    EVP_PKEY *other_key = EVP_RSA_gen(2048);
    ck_assert_ptr_nonnull(google_key);
    ck_assert_ptr_nonnull(other_key);
    char *jwks = jwks_of(google_key, "google-key-1");
    fake_google_set_jwks(maya_google, jwks);
    char *certs = fake_google_url(maya_google, "/oauth2/v3/certs");
    char *extra = util_printf("  calendar: false\n  push_audience: " PUSH_AUDIENCE "\n"
                              "  push_service_account: " PUSH_ACCOUNT "\n  oidc_certs_url: %s\n",
                              certs);
    add_instance("maya", MAYA, maya_google, "LHTEST_G_RT_MAYA", "1h", extra);
    start();
    wait_count("SELECT count(*) FROM connector_state WHERE instance = 'maya' AND key = "
               "'gmail.cursor' AND value->>'mode' = 'history'",
               1);
    unsigned long long id = fake_google_add_message(
        maya_google, "m-oidc", "t-oidc", "INBOX", ms_ago(1000),
        "From: Priya Natarajan <priya.natarajan@northwind-analytics.com>\nTo: " MAYA "\n"
        "Subject: Tuesday works");
    char *good = claims("https://accounts.google.com", PUSH_AUDIENCE, PUSH_ACCOUNT, 3600);
    char *expired = claims("https://accounts.google.com", PUSH_AUDIENCE, PUSH_ACCOUNT, -3600);
    char *other_aud =
        claims("https://accounts.google.com", "https://elsewhere.example/push", PUSH_ACCOUNT, 3600);
    char *other_iss = claims("https://evil.example", PUSH_AUDIENCE, PUSH_ACCOUNT, 3600);
    char *other_account =
        claims("https://accounts.google.com", PUSH_AUDIENCE, "someone@evil.example", 3600);
    struct {
        EVP_PKEY *key;
        const char *kid;
        const char *claims;
        long status;
    } cases[] = {
        {google_key, "google-key-1", expired, 401},
        {google_key, "google-key-1", other_aud, 401},
        {google_key, "google-key-1", other_iss, 401},
        {google_key, "google-key-1", other_account, 401},
        {other_key, "google-key-1", good, 401}, /* forged: another key under Google's kid */
        {other_key, "unknown-key", good, 401},  /* a kid Google never published */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *token = jwt(cases[i].key, cases[i].kid, cases[i].claims);
        ck_assert_msg(push_oidc(id, token) == cases[i].status, "case %zu", i);
        free(token);
    }
    ck_assert_int_eq(count("SELECT count(*) FROM events WHERE source = 'maya'"), 0);
    /* neither a URL token nor a Bearer: refused */
    ck_assert_int_eq(push_gmail("maya", MAYA, id, "no-such-token-at-all-here"), 401);
    char *token = jwt(google_key, "google-key-1", good);
    ck_assert_int_eq(push_oidc(id, token), 200);
    wait_count("SELECT count(*) FROM events WHERE source = 'maya' AND source_id = 'm-oidc'", 1);
    /* the keys were fetched once and cached (the unknown kid refetches at most once a
     * minute: within the first minute, not at all) */
    ck_assert_int_eq(fake_google_count(maya_google, "GET", "/oauth2/v3/certs"), 1);
    char *log = td_log(&td);
    ck_assert_ptr_null(strstr(log, token));
    free(log);
    free(token);
    free(other_account);
    free(other_iss);
    free(other_aud);
    free(expired);
    free(good);
    free(extra);
    free(certs);
    free(jwks);
    EVP_PKEY_free(other_key);
    EVP_PKEY_free(google_key);
}
END_TEST

/* --- Workspace domain-wide delegation ------------------------------------------------ */

static char *pem_of(EVP_PKEY *key, bool private_part)
{
    BIO *bio = BIO_new(BIO_s_mem());
    ck_assert(private_part ? PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) == 1
                           : PEM_write_bio_PUBKEY(bio, key) == 1);
    char *data = NULL;
    long len = BIO_get_mem_data(bio, &data);
    char *copy = strndup(data, (size_t)len);
    BIO_free(bio);
    return copy;
}

#define SA_EMAIL "leadhub-sync@acme-leadhub.iam.gserviceaccount.com"

START_TEST(test_google_e2e_domain_wide_delegation_reads_the_mailbox_with_a_signed_assertion)
{
    EVP_PKEY *key = EVP_RSA_gen(2048);
    ck_assert_ptr_nonnull(key);
    char *private_pem = pem_of(key, true);
    char *public_pem = pem_of(key, false);
    fake_google_delegation(maya_google, public_pem, SA_EMAIL);
    json_t *key_file = json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", "service_account",
                                 "project_id", "acme-leadhub", "private_key_id", "8f2c1e",
                                 "private_key", private_pem, "client_email", SA_EMAIL);
    char *key_text = json_dumps(key_file, JSON_COMPACT);
    setenv("LHTEST_G_SA", key_text, 1);
    script_conversation(maya_google);
    char *token = fake_google_url(maya_google, "/token");
    char *base = fake_google_url(maya_google, "");
    char *yaml = util_printf("name: maya\nplugin: google\npoll_interval: 1h\nsettings:\n"
                             "  mailbox: " MAYA "\n  service_account_key: ${LHTEST_G_SA}\n"
                             "  calendar: false\n  token_url: %s\n  gmail_api_base: %s\n",
                             token, base);
    td_connector(&td, "maya", yaml);
    start();
    wait_count("SELECT count(*) FROM events WHERE source = 'maya'", 5);
    ck_assert_uint_ge(fake_google_count(maya_google, "POST", "/token"), 1);
    /* the key is never written anywhere the daemon writes */
    char *log = td_log(&td);
    ck_assert_ptr_null(strstr(log, "PRIVATE KEY"));
    free(log);
    ck_assert_int_eq(count("SELECT count(*) FROM connector_state WHERE value::text LIKE "
                           "'%PRIVATE KEY%'"),
                     0);
    free(yaml);
    free(base);
    free(token);
    free(key_text);
    json_decref(key_file);
    free(public_pem);
    free(private_pem);
    EVP_PKEY_free(key);
}
END_TEST

static Suite *google_e2e_suite(void)
{
    Suite *s = suite_create("google_e2e");
    TCase *tc = tcase_create("daemon");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc,
                   test_google_e2e_two_mailboxes_classify_a_conversation_and_store_a_burst_once);
    tcase_add_test(tc, test_google_e2e_the_shared_script_is_classified_like_every_mail_connector);
    tcase_add_test(tc,
                   test_google_e2e_stale_history_and_expired_sync_token_lose_and_double_nothing);
    tcase_add_test(tc, test_google_e2e_quota_refusals_are_held_and_a_revoked_grant_needs_consent);
    tcase_add_test(tc, test_google_e2e_a_push_taken_before_a_kill_is_stored_after_the_restart);
    tcase_add_test(tc, test_google_e2e_a_backfill_is_paced_under_the_users_quota);
    tcase_add_test(tc,
                   test_google_e2e_an_oidc_push_is_taken_only_signed_by_google_for_this_audience);
    tcase_add_test(
        tc, test_google_e2e_domain_wide_delegation_reads_the_mailbox_with_a_signed_assertion);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(google_e2e_suite());
}
