/*
 * test_notifications.c - the host's side of push notifications and webhook handshakes, in
 * the real daemon with PostgreSQL, through two fixture plugins:
 *   - notify_source: its webhook records notifications, its poll takes them. A webhook's
 *     notifications commit in its own transaction and bring the next poll forward (the
 *     instance polls only when asked: poll_interval 1h); the poll's commit removes what it
 *     took, except what it handed back; a failed poll removes nothing; a burst during a
 *     poll makes one more poll; a redelivery changes nothing;
 *   - challenge_source: GET /webhooks/{instance} reaches a plugin that declares it
 *     (LinkedIn's challengeCode), a Graph-style POST ?validationToken= is answered as
 *     text/plain, and a plugin that declares nothing keeps answering GET with 405.
 */
#include <check.h>
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "daemon_harness.h"
#include "fake_http.h"
#include "http_client.h"
#include "testdb.h"
#include "testutil.h"
#include "util.h"

#define CHALLENGE_SECRET "challenge-client-secret-8d2f"

static struct test_daemon td;
static struct fake_http *provider;
static PGconn *db;

static long scalar(const char *sql)
{
    return testdb_scalar(db, sql);
}

static bool polls_reach(void *arg)
{
    return scalar("SELECT coalesce(max(polls), 0) FROM connector_status WHERE "
                  "instance = 'notified'") >= *(long *)arg;
}

static long polls(void)
{
    return scalar("SELECT coalesce(max(polls), 0) FROM connector_status WHERE "
                  "instance = 'notified'");
}

static bool pending_is(void *arg)
{
    return scalar("SELECT count(*) FROM connector_notifications") == *(long *)arg;
}

static bool events_reach(void *arg)
{
    return scalar("SELECT count(*) FROM events WHERE source = 'notified'") >= *(long *)arg;
}

/* A daemon with a `notified` instance of notify_source and a `handshake` instance of
 * challenge_source (fixtures copied into a plugin directory of their own). */
static void setup(void)
{
    provider = fake_http_start();
    fake_http_push(provider, (struct fake_response){200, "{}", NULL, 0});
    td_init(&td, NULL);
    char *plugins = tu_path(td.dir, "plugins");
    char *copy = util_printf("mkdir -p '%s' && cp '%s/tests/fixtures/notify_source.so' "
                             "'%s/tests/fixtures/challenge_source.so' '%s/'",
                             plugins, tu_build_dir(), tu_build_dir(), plugins);
    ck_assert_int_eq(tu_run(copy, NULL), 0);
    char *hold = fake_http_url(provider, "/hold");
    char *notified = util_printf("name: notified\nplugin: notify_source\npoll_interval: 1h\n"
                                 "settings:\n  hold_url: %s\n",
                                 hold);
    td_connector(&td, "notified", notified);
    setenv("LHTEST_CHALLENGE_SECRET", CHALLENGE_SECRET, 1);
    td_connector(&td, "handshake",
                 "name: handshake\nplugin: challenge_source\n"
                 "settings:\n  secret: ${LHTEST_CHALLENGE_SECRET}\n");
    td_webhook_instance(&td, "inbound", "inbound-secret-4c7e1a");
    td.extra_plugin_dir = plugins; /* td_cleanup() frees it */
    int rc = td_start(&td);
    if (rc != 0) {
        char *log = td_log(&td);
        ck_abort_msg("daemon did not start (%d):\n%s", rc, log);
    }
    db = testdb_connect(td.db_url);
    long one = 1; /* the poll at start, so that every later one was asked for */
    ck_assert(td_wait_until(polls_reach, &one, 30000));
    free(notified);
    free(hold);
    free(copy);
}

static void teardown(void)
{
    PQfinish(db);
    ck_assert_int_eq(td_stop(&td), 0);
    td_cleanup(&td);
    fake_http_stop(provider);
}

/* POST body to /webhooks/<instance>(?query); the status; the answer in *result. */
static long post(const char *instance, const char *query, const char *body,
                 struct http_result *result)
{
    char *path = util_printf("/webhooks/%s%s%s", instance, query != NULL ? "?" : "",
                             query != NULL ? query : "");
    char *url = td_url(&td, path);
    const char *headers[] = {"Content-Type: application/json", NULL};
    ck_assert_int_eq(http_request("POST", url, headers, body, strlen(body), result), 0);
    free(url);
    free(path);
    return result->status;
}

static void notify(const char *body)
{
    struct http_result r;
    ck_assert_int_eq(post("notified", NULL, body, &r), 200);
    ck_assert_str_eq(r.body, "{\"accepted\":0,\"duplicates\":0}");
    http_result_free(&r);
}

START_TEST(test_notifications_of_a_webhook_are_taken_once_by_the_poll_they_ask_for)
{
    long before = polls();
    notify("{\"ids\": [\"ada\", \"grace\"]}");
    long two = 2, none = 0;
    ck_assert(td_wait_until(events_reach, &two, 30000));
    ck_assert(td_wait_until(pending_is, &none, 30000));
    /* the poll records its end just after its commit: wait for it, then count exactly */
    long one_more = before + 1;
    ck_assert(td_wait_until(polls_reach, &one_more, 30000));
    ck_assert_int_eq(polls(), before + 1);
    ck_assert_int_eq(scalar("SELECT count(*) FROM events WHERE source = 'notified' AND "
                            "source_id IN ('item:ada', 'item:grace')"),
                     2);

    /* the same notifications again: recorded, taken, fetched - and nothing new stored */
    notify("{\"ids\": [\"ada\", \"grace\"]}");
    long next = before + 2;
    ck_assert(td_wait_until(polls_reach, &next, 30000));
    ck_assert(td_wait_until(pending_is, &none, 30000));
    ck_assert_int_eq(scalar("SELECT count(*) FROM events WHERE source = 'notified'"), 2);
}
END_TEST

/* While a notification is pending, its redelivery changes nothing; another value does. */
START_TEST(test_a_redelivered_notification_changes_nothing_pending)
{
    /* a poll that fails on every notification keeps them all pending */
    notify("{\"ids\": [\"kept\"], \"value\": {\"keep\": true}}");
    long one = 1;
    long asked = polls() + 1;
    ck_assert(td_wait_until(polls_reach, &asked, 30000));
    ck_assert(td_wait_until(pending_is, &one, 30000));
    char *seq = testdb_text(db, "SELECT seq::text FROM connector_notifications");
    long before = polls();
    notify("{\"ids\": [\"kept\"], \"value\": {\"keep\": true}}");
    char *again = testdb_text(db, "SELECT seq::text FROM connector_notifications");
    ck_assert_str_eq(again, seq);
    /* nothing changed, so no poll was asked for */
    notify("{\"ids\": [\"other\"]}");
    long after = before + 1;
    ck_assert(td_wait_until(polls_reach, &after, 30000));
    ck_assert(td_wait_until(pending_is, &one, 30000));
    ck_assert_int_eq(polls(), before + 1);
    /* another value for the same key replaces the pending one */
    notify("{\"ids\": [\"kept\"], \"value\": {\"keep\": true, \"at\": 2}}");
    char *changed = testdb_text(db, "SELECT seq::text FROM connector_notifications");
    ck_assert_str_ne(changed, seq);
    free(changed);
    free(again);
    free(seq);
}
END_TEST

static bool poll_failed(void *arg);

/* A poll that fails removes nothing; one that hands a notification back keeps only that. */
START_TEST(test_a_failed_poll_removes_nothing_and_keep_holds_one_back)
{
    notify("{\"ids\": [\"later\"], \"value\": {\"keep\": true}}");
    notify("{\"ids\": [\"now\"]}");
    long one = 1;
    ck_assert(td_wait_until(events_reach, &one, 30000));
    ck_assert(td_wait_until(pending_is, &one, 30000));
    ck_assert_int_eq(scalar("SELECT count(*) FROM connector_notifications WHERE key = "
                            "'item:later'"),
                     1);

    notify("{\"ids\": [\"broken\"], \"value\": {\"fail\": true}}");
    long two = 2;
    ck_assert(td_wait_until(pending_is, &two, 30000));
    ck_assert(td_wait_until(poll_failed, NULL, 30000));
    /* the failed poll stored nothing, and took nothing away */
    ck_assert_int_eq(scalar("SELECT count(*) FROM events WHERE source = 'notified'"), 1);
    ck_assert_int_eq(scalar("SELECT count(*) FROM connector_notifications WHERE key IN "
                            "('item:later', 'item:broken')"),
                     2);
}
END_TEST

static bool poll_failed(void *arg)
{
    (void)arg;
    return scalar("SELECT count(*) FROM connector_status WHERE instance = 'notified' AND "
                  "last_poll_outcome = 'retry'") == 1;
}

static bool provider_holds_a_poll(void *arg)
{
    return fake_http_request_count(provider) >= *(size_t *)arg;
}

/* Notifications that arrive while a poll runs make one more poll, not one each. */
START_TEST(test_a_burst_of_notifications_during_a_poll_makes_one_more_poll)
{
    fake_http_push(provider, (struct fake_response){200, "{}", NULL, 1500});
    long before = polls();
    size_t requests = fake_http_request_count(provider) + 1;
    notify("{\"ids\": [\"first\"]}");
    ck_assert(td_wait_until(provider_holds_a_poll, &requests, 30000));
    for (int i = 0; i < 5; i++) {
        char *body = util_printf("{\"ids\": [\"burst%d\"]}", i);
        notify(body);
        free(body);
    }
    long six = 6, none = 0;
    ck_assert(td_wait_until(events_reach, &six, 30000));
    ck_assert(td_wait_until(pending_is, &none, 30000));
    long settled = before + 2;
    ck_assert(td_wait_until(polls_reach, &settled, 30000));
    ck_assert_int_eq(polls(), before + 2);
}
END_TEST

/* A poll that asks for more (poll_soon) is followed by another at once. */
START_TEST(test_poll_soon_from_a_poll_brings_the_next_one)
{
    long before = polls();
    notify("{\"ids\": [\"paged\"], \"value\": {\"more\": true}}");
    long wanted = before + 2; /* the one asked by the webhook, and the one it asked for */
    ck_assert(td_wait_until(polls_reach, &wanted, 30000));
}
END_TEST

static bool poll_held(void *arg)
{
    (void)arg;
    return scalar("SELECT count(*) FROM connector_status WHERE instance = 'notified' AND "
                  "last_poll_outcome = 'retry_after'") == 1;
}

/*
 * After a provider's Retry-After a notification does not bring the next poll forward: it
 * would only meet the same refusal. `leadhubd sync` does (an operator's explicit ask), so
 * it serves as the barrier: its poll comes after the notification's NOTIFY, and had that
 * one polled, there would be two polls, not one.
 */
START_TEST(test_a_notification_waits_out_a_providers_retry_after)
{
    notify("{\"ids\": [\"held\"], \"value\": {\"hold\": true}}");
    ck_assert(td_wait_until(poll_held, NULL, 30000));
    long before = polls();
    notify("{\"ids\": [\"fresh\"]}");
    char *config = tu_path(td.dir, "leadhub.yaml");
    char *command = util_printf("'%s' sync notified -c '%s' --timeout 20s", td_binary(), config);
    char *out = NULL;
    tu_run(command, &out); /* its poll is held too: exit 3, the count is what matters */
    ck_assert_msg(strstr(out, "asked it to poll now") != NULL, "%s", out);
    ck_assert_int_eq(polls(), before + 1);
    free(out);
    free(command);
    free(config);
}
END_TEST

/* LinkedIn validates an endpoint with GET ?challengeCode=: the plugin that declares
 * challenges answers it; a plugin that does not keeps answering GET with 405. */
START_TEST(test_webhook_get_reaches_only_a_plugin_that_declares_challenges)
{
    char *url = td_url(&td, "/webhooks/handshake?challengeCode=890e4665-4dfe-4ab1-b689");
    struct http_result r;
    ck_assert_int_eq(http_get(url, &r), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(strcasestr(r.headers, "content-type: application/json"));
    const char *code = "890e4665-4dfe-4ab1-b689";
    unsigned char digest[32];
    crypto_hmac_sha256(CHALLENGE_SECRET, strlen(CHALLENGE_SECRET), code, strlen(code), digest);
    char hex[65];
    for (size_t i = 0; i < 32; i++) {
        snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    }
    char *expected =
        util_printf("{\"challengeCode\":\"%s\",\"challengeResponse\":\"%s\"}", code, hex);
    ck_assert_str_eq(r.body, expected);
    free(expected);
    http_result_free(&r);
    free(url);

    url = td_url(&td, "/webhooks/inbound?challengeCode=x");
    ck_assert_int_eq(http_get(url, &r), 0);
    ck_assert_int_eq(r.status, 405);
    ck_assert_ptr_nonnull(strstr(r.headers, "Allow: POST"));
    http_result_free(&r);
    free(url);
}
END_TEST

/* Microsoft Graph validates a subscription's URL with POST ?validationToken=: answered 200,
 * text/plain, with the decoded token, and nothing stored. */
START_TEST(test_graph_validation_token_is_answered_as_text_plain)
{
    struct http_result r;
    ck_assert_int_eq(
        post("handshake", "validationToken=Validation%3A%20Testing%20client%20app", "", &r), 200);
    ck_assert_ptr_nonnull(strcasestr(r.headers, "content-type: text/plain"));
    ck_assert_str_eq(r.body, "Validation: Testing client app");
    http_result_free(&r);
    ck_assert_int_eq(scalar("SELECT count(*) FROM events"), 0);
}
END_TEST

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    Suite *s = suite_create("notifications");
    TCase *tc = tcase_create("notifications");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_notifications_of_a_webhook_are_taken_once_by_the_poll_they_ask_for);
    tcase_add_test(tc, test_a_redelivered_notification_changes_nothing_pending);
    tcase_add_test(tc, test_a_failed_poll_removes_nothing_and_keep_holds_one_back);
    tcase_add_test(tc, test_a_burst_of_notifications_during_a_poll_makes_one_more_poll);
    tcase_add_test(tc, test_poll_soon_from_a_poll_brings_the_next_one);
    tcase_add_test(tc, test_a_notification_waits_out_a_providers_retry_after);
    tcase_add_test(tc, test_webhook_get_reaches_only_a_plugin_that_declares_challenges);
    tcase_add_test(tc, test_graph_validation_token_is_answered_as_text_plain);
    suite_add_tcase(s, tc);
    int rc = tu_run_suite(s);
    curl_global_cleanup();
    return rc;
}
