/*
 * test_stripe_e2e.c - the real leadhubd with a `stripe` instance, a real PostgreSQL and the
 * fake Stripe API: signed webhooks over HTTP stored once whatever their order, signature
 * failures answered 400 and counted, webhook and poll overlapping on the same events
 * storing each once, names split only when the shared parser is sure, and a refused key
 * failing polls (connector_status, /readyz, /metrics) while webhooks go on.
 *
 * Needs $LEADHUB_TEST_DATABASE_URL (scripts/run-tests.sh starts a throwaway server).
 */
#include <check.h>
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon_harness.h"
#include "fake_stripe.h"
#include "http_client.h"
#include "stripe_test.h"
#include "testdb.h"

static struct fake_stripe *fake;
static struct test_daemon td;
static PGconn *db;

static void setup(void)
{
    setenv("ST_API_KEY", ST_API_KEY, 1);
    setenv("ST_WEBHOOK_SECRET", ST_WEBHOOK_SECRET, 1);
    fake = fake_stripe_start(ST_API_KEY);
    ck_assert_ptr_nonnull(fake);
    db = NULL;
}

static void teardown(void)
{
    if (db != NULL) {
        PQfinish(db);
    }
    if (td.pid != 0) {
        ck_assert_int_eq(td_stop(&td), 0);
    }
    td_cleanup(&td);
    fake_stripe_stop(fake);
}

/* A daemon with instance `billing` of the stripe plugin; `api_key_ref` names the env var. */
static void start_daemon(const char *api_key_ref, const char *poll_interval)
{
    td_init(&td, NULL);
    char *url = fake_stripe_base_url(fake);
    char *yaml = util_printf("name: billing\nplugin: stripe\npoll_interval: %s\nsettings:\n"
                             "  api_key: ${%s}\n  webhook_secret: ${ST_WEBHOOK_SECRET}\n"
                             "  api_base: %s\n  backfill: 1d\n",
                             poll_interval, api_key_ref, url);
    td_connector(&td, "billing", yaml);
    free(yaml);
    free(url);
    int rc = td_start(&td);
    if (rc != 0) {
        char *log = td_log(&td);
        ck_abort_msg("daemon did not become ready (%d):\n%s", rc, log);
    }
    db = testdb_connect(td.db_url);
}

/* POSTs body to /webhooks/billing with `signature` as Stripe-Signature (NULL: none). */
static void post(const char *signature, const char *body, struct http_result *out)
{
    char *header = signature != NULL ? util_printf("Stripe-Signature: %s", signature) : NULL;
    const char *headers[] = {"Content-Type: application/json; charset=utf-8", header, NULL};
    char *url = td_url(&td, "/webhooks/billing");
    http_request("POST", url, headers, body, strlen(body), out);
    free(url);
    free(header);
}

static void post_signed(const char *body, struct http_result *out)
{
    char *signature = st_sign(ST_WEBHOOK_SECRET, (long long)time(NULL), body);
    post(signature, body, out);
    free(signature);
}

static long count(const char *sql)
{
    return testdb_scalar(db, sql);
}

START_TEST(test_stripe_e2e_webhooks_store_each_event_once_whatever_their_order)
{
    start_daemon("ST_API_KEY", "1h");
    /* newest first, then redeliveries: Stripe retries and does not keep order */
    const char *order[] = {"event.customer.subscription.deleted.json",
                           "event.invoice.paid.json",
                           "event.customer.created.json",
                           "event.checkout.session.completed.json",
                           "event.customer.created.json",
                           "event.invoice.paid.json"};
    /* the checkout is a checkout, and the payment of the invoice invoice.paid stored */
    const char *answers[] = {
        "{\"accepted\":1,\"duplicates\":0}", "{\"accepted\":1,\"duplicates\":0}",
        "{\"accepted\":1,\"duplicates\":0}", "{\"accepted\":1,\"duplicates\":1}",
        "{\"accepted\":0,\"duplicates\":1}", "{\"accepted\":0,\"duplicates\":1}"};
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        char *body = st_fixture_text(order[i]);
        struct http_result r;
        post_signed(body, &r);
        ck_assert_msg(r.status == 200, "%s: %ld %s", order[i], r.status, r.body);
        ck_assert_str_eq(r.body, answers[i]);
        http_result_free(&r);
        free(body);
    }
    ck_assert_int_eq(count("SELECT count(*) FROM events"), 4);
    char *stored = testdb_text(db, "SELECT string_agg(source_id || ' ' || type, ', ' ORDER BY "
                                   "source_id) FROM events WHERE source = 'billing'");
    ck_assert_str_eq(stored, "evt_1QzW5jK8Lm2Np4Qr6StUv7Wx customer.created, "
                             "evt_1QzW5nK8Lm2Np4QrMn7Op8Qr checkout.completed, "
                             "evt_1QzW5oK8Lm2Np4QrRs9Tu0Vw payment.succeeded, "
                             "evt_1RVc9eK8Lm2Np4QrXy1Za2Bc subscription.canceled");
    free(stored);
    /* every event is attached to a lead; the buyer's email lead carries the amount paid */
    ck_assert_int_eq(count("SELECT count(*) FROM events WHERE lead_id IS NULL"), 0);
    ck_assert_int_eq(count("SELECT (payload #>> '{data,amount}')::int FROM events e JOIN leads l "
                           "ON l.id = e.lead_id WHERE e.source_id = "
                           "'evt_1QzW5oK8Lm2Np4QrRs9Tu0Vw' AND l.email = "
                           "'billing@northwind-analytics.com'"),
                     187500);
}
END_TEST

START_TEST(test_stripe_e2e_signature_failures_are_400_with_a_reason_and_counted)
{
    start_daemon("ST_API_KEY", "1h");
    char *body = st_fixture_text("event.invoice.paid.json");
    char *forged = st_sign("whsec_not_this_endpoints", (long long)time(NULL), body);
    char *stale = st_sign(ST_WEBHOOK_SECRET, (long long)time(NULL) - 3600, body);
    /* a POST without the header the plugin declares is refused by the host, 401, before
     * its body is read; the others by the plugin, 400 */
    struct {
        const char *signature;
        const char *reason;
        long status;
    } cases[] = {
        {forged, "no v1 signature in Stripe-Signature matches the body", 400},
        {stale, "Stripe-Signature timestamp is 36", 400},
        {NULL, "missing Stripe-Signature header", 401},
        {"v1=abc", "Stripe-Signature has no t= timestamp", 400},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct http_result r;
        post(cases[i].signature, body, &r);
        ck_assert_int_eq(r.status, cases[i].status);
        ck_assert_msg(strstr(r.body, cases[i].reason) != NULL, "%s", r.body);
        http_result_free(&r);
    }
    ck_assert_int_eq(count("SELECT count(*) FROM events"), 0);
    char *metrics_url = td_url(&td, "/metrics");
    struct http_result m;
    http_get(metrics_url, &m);
    const char *series[] = {
        "leadhub_plugin_stripe_webhook_rejected_total{instance=\"billing\","
        "reason=\"no_matching_signature\"} 1",
        "leadhub_plugin_stripe_webhook_rejected_total{instance=\"billing\","
        "reason=\"stale_timestamp\"} 1",
        "leadhub_http_refused_total{reason=\"missing_signature\"} 1",
        "leadhub_plugin_stripe_webhook_rejected_total{instance=\"billing\","
        "reason=\"malformed_header\"} 1",
    };
    for (size_t i = 0; i < sizeof(series) / sizeof(series[0]); i++) {
        ck_assert_msg(strstr(m.body, series[i]) != NULL, "no %s in /metrics", series[i]);
    }
    http_result_free(&m);
    free(metrics_url);
    char *log = td_log(&td);
    ck_assert_ptr_null(strstr(log, ST_WEBHOOK_SECRET));
    ck_assert_ptr_null(strstr(log, ST_API_KEY));
    free(log);
    free(stale);
    free(forged);
    free(body);
}
END_TEST

/* The example event `name` re-timed into the poll's reach (backfill 1d). */
static json_t *recent(const char *name, long long created)
{
    json_t *event = st_fixture(name);
    json_object_set_new(event, "created", json_integer(created));
    return event;
}

/* A poll now, and its outcome. The deadline is generous: on a 2-core machine shared by
 * several builds, `make test` once saw no poll finish within 20 s. */
static char *sync_poll(void)
{
    char *config = tu_path(td.dir, "leadhub.yaml");
    char *command = util_printf("'%s' sync billing -c '%s' --timeout 90s", td_binary(), config);
    char *out = NULL;
    int rc = tu_run(command, &out);
    ck_assert_msg(rc == 0, "sync: %s", out);
    free(command);
    free(config);
    return out;
}

START_TEST(test_stripe_e2e_webhook_and_poll_overlap_store_each_event_once)
{
    start_daemon("ST_API_KEY", "1h"); /* polls once at start: the fake is empty then */
    long long now = (long long)time(NULL);
    const char *names[] = {"event.customer.created.json", "event.checkout.session.completed.json",
                           "event.invoice.paid.json", "event.customer.subscription.deleted.json"};
    json_t *events[4];
    for (size_t i = 0; i < 4; i++) {
        events[i] = recent(names[i], now - 600 + (long long)i);
    }
    /* webhooks deliver the first and the third ... */
    for (size_t i = 0; i < 4; i += 2) {
        char *body = json_dumps(events[i], 0);
        struct http_result r;
        post_signed(body, &r);
        ck_assert_int_eq(r.status, 200);
        http_result_free(&r);
        free(body);
    }
    ck_assert_int_eq(count("SELECT count(*) FROM events"), 2);
    /* ... the poll finds all four */
    for (size_t i = 0; i < 4; i++) {
        fake_stripe_add_event(fake, events[i]);
    }
    char *out = sync_poll();
    ck_assert_msg(strstr(out, "ok, 2 new event(s)") != NULL, "%s", out);
    free(out);
    ck_assert_int_eq(count("SELECT count(*) FROM events"), 4);
    ck_assert_int_eq(count("SELECT count(DISTINCT source_id) FROM events"), 4);
    /* and a late webhook of a polled event is a duplicate */
    char *body = json_dumps(events[3], 0);
    struct http_result r;
    post_signed(body, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "{\"accepted\":0,\"duplicates\":1}");
    http_result_free(&r);
    free(body);
    ck_assert_int_eq(count("SELECT count(*) FROM events"), 4);
    /* the checkpoint committed with the poll's events */
    ck_assert_int_eq(count("SELECT (value->>'created')::bigint FROM connector_state WHERE "
                           "instance = 'billing' AND key = 'events'"),
                     now - 600 + 3);
    for (size_t i = 0; i < 4; i++) {
        json_decref(events[i]);
    }
}
END_TEST

/* A customer.created event for customer `id` named `name`, created `created`. */
static json_t *named_customer(const char *event_id, const char *id, const char *email,
                              const char *name, long long created)
{
    json_t *event = recent("event.customer.created.json", created);
    json_object_set_new(event, "id", json_string(event_id));
    json_t *customer = st_object(event);
    json_object_set_new(customer, "id", json_string(id));
    json_object_set_new(customer, "email", json_string(email));
    json_object_set_new(customer, "name", json_string(name));
    json_object_del(customer, "phone");
    return event;
}

START_TEST(test_stripe_e2e_names_arrive_split_only_when_sure_and_companies_as_companies)
{
    start_daemon("ST_API_KEY", "1h");
    long long now = (long long)time(NULL);
    json_t *events[] = {
        named_customer("evt_name_1", "cus_Name1", "jose@example.es", "Dr. José María Gutiérrez",
                       now - 300),
        named_customer("evt_name_2", "cus_Name2", "marek@example.pl", "Kowalski, Marek", now - 299),
        named_customer("evt_name_3", "cus_Name3", "info@test.example.jp", "株式会社テスト",
                       now - 298),
        named_customer("evt_name_4", "cus_Name4", "gabo@example.co", "Gabriel García Márquez",
                       now - 297),
        named_customer("evt_name_5", "cus_Name5", "zakupy@romashka.example.ru", "ООО «Ромашка»",
                       now - 296),
    };
    /* two by signed webhook over HTTP ... */
    for (size_t i = 0; i < 2; i++) {
        char *body = json_dumps(events[i], 0);
        struct http_result r;
        post_signed(body, &r);
        ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
        http_result_free(&r);
        free(body);
    }
    /* ... the rest found by the reconciliation poll in the fake Stripe */
    for (size_t i = 2; i < sizeof(events) / sizeof(events[0]); i++) {
        fake_stripe_add_event(fake, events[i]);
    }
    char *out = sync_poll();
    ck_assert_msg(strstr(out, "ok, 3 new event(s)") != NULL, "%s", out);
    free(out);
    char *leads = testdb_text(
        db, "SELECT string_agg(email || ' | ' || coalesce(first_name, '-') || ' | ' || "
            "coalesce(last_name, '-') || ' | ' || coalesce(company, '-') || ' | ' || "
            "coalesce(attributes->>'full_name', '-'), E'\\n' ORDER BY email) FROM leads");
    ck_assert_str_eq(leads, "gabo@example.co | - | - | - | Gabriel García Márquez\n"
                            "info@test.example.jp | - | - | 株式会社テスト | -\n"
                            "jose@example.es | José María | Gutiérrez | - | -\n"
                            "marek@example.pl | Marek | Kowalski | - | -\n"
                            "zakupy@romashka.example.ru | - | - | ООО «Ромашка» | -");
    free(leads);
    for (size_t i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
        json_decref(events[i]);
    }
}
END_TEST

static bool poll_outcome_is_config(void *arg)
{
    (void)arg;
    return count("SELECT count(*) FROM connector_status WHERE instance = 'billing' AND "
                 "last_poll_outcome = 'config'") == 1;
}

/* /readyz, parsed (NEW), with its HTTP status in *status_out. */
static json_t *readyz(long *status_out)
{
    char *url = td_url(&td, "/readyz");
    struct http_result r;
    http_get(url, &r);
    free(url);
    *status_out = r.status;
    json_t *body = r.body != NULL ? json_loads(r.body, 0, NULL) : NULL;
    http_result_free(&r);
    return body;
}

static bool readyz_shows_the_config_outcome(void *arg)
{
    (void)arg;
    long status = 0;
    json_t *body = readyz(&status);
    const char *outcome = json_string_value(
        json_object_get(json_object_get(json_object_get(body, "polls"), "billing"), "outcome"));
    bool shown = outcome != NULL && strcmp(outcome, "config") == 0;
    json_decref(body);
    return shown;
}

START_TEST(test_stripe_e2e_refused_key_fails_polls_clearly_and_webhooks_go_on)
{
    setenv("ST_REVOKED_KEY", "sk_test_51RevokedKeyForLeadhubTests000000000000", 1);
    start_daemon("ST_REVOKED_KEY", "1s");
    ck_assert(td_wait_until(poll_outcome_is_config, NULL, 20000));
    /* readiness says why the polls fail, without the key, and keeps the replica in service:
     * its webhooks still work */
    ck_assert(td_wait_until(readyz_shows_the_config_outcome, NULL, 20000));
    long ready_status = 0;
    json_t *ready = readyz(&ready_status);
    ck_assert_int_eq(ready_status, 200);
    const json_t *poll = json_object_get(json_object_get(ready, "polls"), "billing");
    const char *poll_error = json_string_value(json_object_get(poll, "error"));
    ck_assert_ptr_nonnull(poll_error);
    ck_assert_ptr_nonnull(strstr(poll_error, "Stripe refused the api_key (HTTP 401)"));
    ck_assert_ptr_null(strstr(poll_error, "sk_test_51Revoked"));
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(ready, "instances"), "billing")), "ok");
    json_decref(ready);
    char *error = testdb_text(db, "SELECT last_error FROM connector_status WHERE instance = "
                                  "'billing'");
    ck_assert_ptr_nonnull(strstr(error, "Stripe refused the api_key (HTTP 401)"));
    free(error);
    char *metrics_url = td_url(&td, "/metrics");
    struct http_result m;
    http_get(metrics_url, &m);
    ck_assert_ptr_nonnull(
        strstr(m.body, "leadhub_polls_total{instance=\"billing\",outcome=\"config\"}"));
    ck_assert_ptr_nonnull(strstr(m.body, "leadhub_plugin_stripe_api_key_rejected{instance="
                                         "\"billing\"} 1"));
    http_result_free(&m);
    free(metrics_url);
    /* the webhook endpoint does not need the key */
    char *body = st_fixture_text("event.customer.created.json");
    struct http_result r;
    post_signed(body, &r);
    ck_assert_int_eq(r.status, 200);
    http_result_free(&r);
    free(body);
    char *log = td_log(&td);
    ck_assert_ptr_nonnull(strstr(log, "Stripe refused the api_key"));
    ck_assert_ptr_null(strstr(log, "sk_test_51Revoked"));
    free(log);
}
END_TEST

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    Suite *s = suite_create("stripe_e2e");
    TCase *tc = tcase_create("e2e");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_stripe_e2e_webhooks_store_each_event_once_whatever_their_order);
    tcase_add_test(tc, test_stripe_e2e_signature_failures_are_400_with_a_reason_and_counted);
    tcase_add_test(tc, test_stripe_e2e_webhook_and_poll_overlap_store_each_event_once);
    tcase_add_test(tc,
                   test_stripe_e2e_names_arrive_split_only_when_sure_and_companies_as_companies);
    tcase_add_test(tc, test_stripe_e2e_refused_key_fails_polls_clearly_and_webhooks_go_on);
    suite_add_tcase(s, tc);
    int rc = tu_run_suite(s);
    curl_global_cleanup();
    return rc;
}
