/*
 * test_webhook_ingest.c - the real daemon, over real HTTP, against a real PostgreSQL:
 * signed webhook events land durably and idempotently; nothing is acknowledged before it
 * is committed, or lost after.
 */
#include <check.h>
#include <curl/curl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon_harness.h"
#include "http_client.h"
#include "raw_http.h"
#include "testdb.h"
#include "testutil.h"
#include "util.h"

#define SECRET "e2e-secret-do-not-use"

static struct test_daemon td;
static PGconn *db;

static void start_daemon(void)
{
    td_init(&td, NULL);
    PGconn *conn = testdb_connect(td.db_url);
    PQfinish(conn);
    td_webhook_instance(&td, "inbound", SECRET);
    int rc = td_start(&td);
    if (rc != 0) {
        char *log = td_log(&td);
        ck_abort_msg("daemon did not become ready (%d):\n%s", rc, log);
    }
    db = testdb_connect(td.db_url);
}

static void stop_daemon(void)
{
    if (db != NULL) {
        PQfinish(db);
        db = NULL;
    }
    if (td.pid != 0) {
        int status = td_stop(&td);
        if (status != 0) {
            char *log = td_log(&td);
            fprintf(stderr, "daemon exit status %d; log:\n%s\n", status, log);
            free(log);
        }
        ck_assert_int_eq(status, 0);
    }
    td_cleanup(&td);
}

static char *lead_event(const char *source_id, const char *email)
{
    return util_printf("{\"type\":\"lead.created\",\"source_id\":\"%s\","
                       "\"occurred_at\":\"2026-11-27T10:00:00Z\","
                       "\"lead\":{\"email\":\"%s\",\"first_name\":\"Test\"}}",
                       source_id, email);
}

/* POSTs body to the instance, signed with `secret` at `timestamp`. */
static void post_signed(const char *instance, const char *secret, long long timestamp,
                        const char *body, struct http_result *out)
{
    char *signature[2];
    http_sign_webhook(secret, timestamp, body, signature);
    const char *headers[] = {signature[0], signature[1], "Content-Type: application/json", NULL};
    char *path = util_printf("/webhooks/%s", instance);
    char *url = td_url(&td, path);
    http_request("POST", url, headers, body, strlen(body), out);
    free(url);
    free(path);
    free(signature[0]);
    free(signature[1]);
}

static void post(const char *body, struct http_result *out)
{
    post_signed("inbound", SECRET, (long long)time(NULL), body, out);
}

static long event_count(void)
{
    return testdb_scalar(db, "SELECT count(*) FROM events");
}

START_TEST(test_signed_event_is_stored_and_acknowledged_after_commit)
{
    char *body = lead_event("form-1", "Ada@Example.com");
    struct http_result r;
    post(body, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "{\"accepted\":1,\"duplicates\":0}");
    http_result_free(&r);
    /* acknowledged means committed: visible from another connection right away */
    ck_assert_int_eq(event_count(), 1);
    char *email = testdb_text(db, "SELECT l.email FROM events e JOIN leads l ON l.id = e.lead_id");
    ck_assert_str_eq(email, "ada@example.com");
    free(email);
    char *source = testdb_text(db, "SELECT source || '/' || source_id || '/' || type FROM events");
    ck_assert_str_eq(source, "inbound/form-1/lead.created");
    free(source);
    free(body);
}
END_TEST

START_TEST(test_resent_event_stores_nothing_and_still_answers_2xx)
{
    char *body = lead_event("form-2", "bob@example.com");
    struct http_result r;
    post(body, &r);
    ck_assert_int_eq(r.status, 200);
    http_result_free(&r);
    post(body, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "{\"accepted\":0,\"duplicates\":1}");
    http_result_free(&r);
    ck_assert_int_eq(event_count(), 1);
    free(body);
}
END_TEST

START_TEST(test_array_of_events_is_all_or_nothing)
{
    struct http_result r;
    post("[{\"type\":\"email.received\",\"source_id\":\"m1\",\"occurred_at\":\"2026-11-27T10:00:"
         "00Z\"},"
         "{\"type\":\"email.received\",\"source_id\":\"m2\",\"occurred_at\":\"not a time\"}]",
         &r);
    ck_assert_int_eq(r.status, 400);
    ck_assert_ptr_nonnull(strstr(r.body, "event 2: occurred_at"));
    http_result_free(&r);
    ck_assert_int_eq(event_count(), 0);

    post("[{\"type\":\"email.received\",\"source_id\":\"m1\",\"occurred_at\":\"2026-11-27T10:00:"
         "00Z\"},"
         "{\"type\":\"email.replied\",\"source_id\":\"m2\",\"occurred_at\":\"2026-11-27T10:01:"
         "00Z\"}]",
         &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "{\"accepted\":2,\"duplicates\":0}");
    http_result_free(&r);
    ck_assert_int_eq(event_count(), 2);
}
END_TEST

START_TEST(test_array_with_an_invalid_event_in_the_middle_stores_nothing)
{
    const char *first =
        "{\"type\":\"lead.created\",\"source_id\":\"mid-1\","
        "\"occurred_at\":\"2026-11-27T10:00:00Z\",\"lead\":{\"email\":\"one@example.com\"}}";
    const char *last =
        "{\"type\":\"lead.created\",\"source_id\":\"mid-3\","
        "\"occurred_at\":\"2026-11-27T10:02:00Z\",\"lead\":{\"email\":\"three@example.com\"}}";
    char *body = util_printf("[%s,{\"type\":\"lead.created\",\"source_id\":\"mid-2\","
                             "\"occurred_at\":\"2026-11-27T10:01:00Z\",\"lead\":{\"email\":"
                             "\"not an address\"}},%s]",
                             first, last);
    struct http_result r;
    post(body, &r);
    ck_assert_int_eq(r.status, 400);
    ck_assert_msg(strstr(r.body, "event 2: lead.email") != NULL, "%s", r.body);
    http_result_free(&r);
    /* neither the event before the invalid one nor the one after it, nor their leads */
    ck_assert_int_eq(event_count(), 0);
    ck_assert_int_eq(testdb_scalar(db, "SELECT count(*) FROM leads"), 0);
    free(body);

    /* the valid two, sent again without it, are new: nothing of them was kept */
    body = util_printf("[%s,%s]", first, last);
    post(body, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "{\"accepted\":2,\"duplicates\":0}");
    http_result_free(&r);
    ck_assert_int_eq(event_count(), 2);
    free(body);
}
END_TEST

START_TEST(test_bad_signature_stale_timestamp_and_missing_headers_are_401)
{
    char *body = lead_event("form-3", "eve@example.com");
    struct http_result r;
    post_signed("inbound", "wrong-secret", (long long)time(NULL), body, &r);
    ck_assert_int_eq(r.status, 401);
    ck_assert_ptr_nonnull(strstr(r.body, "does not match"));
    http_result_free(&r);

    post_signed("inbound", SECRET, (long long)time(NULL) - 3600, body, &r);
    ck_assert_int_eq(r.status, 401);
    ck_assert_ptr_nonnull(strstr(r.body, "away from the server's clock"));
    http_result_free(&r);

    /* no signature header: refused by the host (the plugin declares it), naming it */
    char *url = td_url(&td, "/webhooks/inbound");
    http_request("POST", url, NULL, body, strlen(body), &r);
    ck_assert_int_eq(r.status, 401);
    ck_assert_ptr_nonnull(strstr(r.body, "missing X-Leadhub-Signature"));
    http_result_free(&r);
    /* signed but without its timestamp: refused by the plugin */
    char *signature[2];
    http_sign_webhook(SECRET, (long long)time(NULL), body, signature);
    const char *headers[] = {signature[1], NULL};
    http_request("POST", url, headers, body, strlen(body), &r);
    ck_assert_int_eq(r.status, 401);
    ck_assert_ptr_nonnull(strstr(r.body, "missing X-Leadhub-Timestamp"));
    http_result_free(&r);
    free(signature[0]);
    free(signature[1]);
    free(url);

    ck_assert_int_eq(event_count(), 0);
    /* the secret itself never appears in the log */
    char *log = td_log(&td);
    ck_assert_ptr_null(strstr(log, SECRET));
    free(log);
    free(body);
}
END_TEST

START_TEST(test_malformed_json_and_invalid_events_are_400_with_reason)
{
    struct http_result r;
    post("{\"type\": ", &r);
    ck_assert_int_eq(r.status, 400);
    ck_assert_ptr_nonnull(strstr(r.body, "body is not valid JSON"));
    http_result_free(&r);

    post("{\"type\":\"lead.created\",\"source_id\":\"x\",\"occurred_at\":\"2026-11-27T10:00:00Z\","
         "\"lead\":{\"email\":\"nope\"}}",
         &r);
    ck_assert_int_eq(r.status, 400);
    ck_assert_ptr_nonnull(strstr(r.body, "lead.email: not an email address"));
    http_result_free(&r);

    post("42", &r);
    ck_assert_int_eq(r.status, 400);
    http_result_free(&r);
    ck_assert_int_eq(event_count(), 0);
}
END_TEST

START_TEST(test_unknown_instance_wrong_method_and_oversized_body)
{
    struct http_result r;
    post_signed("nobody", SECRET, (long long)time(NULL), "{}", &r);
    ck_assert_int_eq(r.status, 404);
    http_result_free(&r);

    char *url = td_url(&td, "/webhooks/inbound");
    http_get(url, &r);
    ck_assert_int_eq(r.status, 405);
    ck_assert_ptr_nonnull(strstr(r.headers, "Allow: POST"));
    http_result_free(&r);

    size_t big = 1024 * 1024 + 10;
    char *huge = malloc(big + 1);
    memset(huge, ' ', big);
    huge[big] = '\0';
    http_request("POST", url, NULL, huge, big, &r);
    ck_assert_int_eq(r.status, 413);
    http_result_free(&r);
    free(huge);
    free(url);

    char *other = td_url(&td, "/nope");
    http_get(other, &r);
    ck_assert_int_eq(r.status, 404);
    ck_assert_ptr_nonnull(strstr(r.body, "\"error\""));
    http_result_free(&r);
    free(other);
}
END_TEST

START_TEST(test_health_readiness_and_metrics)
{
    struct http_result r;
    char *url = td_url(&td, "/healthz");
    http_get(url, &r);
    ck_assert_int_eq(r.status, 200);
    http_result_free(&r);
    free(url);

    url = td_url(&td, "/readyz");
    http_get(url, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(strstr(r.body, "\"inbound\":\"ok\""));
    http_result_free(&r);
    free(url);

    char *body = lead_event("form-m", "m@example.com");
    post(body, &r);
    http_result_free(&r);
    post(body, &r);
    http_result_free(&r);
    post("{", &r);
    http_result_free(&r);
    free(body);

    url = td_url(&td, "/metrics");
    http_get(url, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(strstr(r.body, "leadhub_events_ingested_total{instance=\"inbound\","
                                         "type=\"lead.created\",outcome=\"stored\"} 1"));
    ck_assert_ptr_nonnull(strstr(r.body, "leadhub_events_ingested_total{instance=\"inbound\","
                                         "type=\"lead.created\",outcome=\"duplicate\"} 1"));
    ck_assert_ptr_nonnull(strstr(r.body, "leadhub_ingest_commit_seconds_count"));
    ck_assert_ptr_nonnull(strstr(r.body, "leadhub_ingest_batch_events_bucket"));
    ck_assert_ptr_nonnull(strstr(r.body,
                                 "leadhub_http_requests_total{route=\"/webhooks/{instance}\","
                                 "status=\"400\"} 1"));
    ck_assert_ptr_nonnull(strstr(r.body,
                                 "leadhub_plugin_callback_seconds_bucket{instance=\"inbound\","
                                 "callback=\"webhook\""));
    ck_assert_ptr_nonnull(strstr(r.body,
                                 "leadhub_plugin_webhook_rejected_total{instance=\"inbound\","
                                 "reason=\"malformed_json\"} 1"));
    http_result_free(&r);
    free(url);
}
END_TEST

/* The value of `series` (name and labels as rendered) in a /metrics body, or -1. */
static double metric_in(const char *body, const char *series)
{
    size_t len = strlen(series);
    for (const char *line = body; line != NULL && *line != '\0';) {
        if (strncmp(line, series, len) == 0 && line[len] == ' ') {
            return strtod(line + len + 1, NULL);
        }
        line = strchr(line, '\n');
        line = line != NULL ? line + 1 : NULL;
    }
    return -1;
}

/* n signed single-event posts with distinct ids (prefix-i). */
static void build_posts(const char *prefix, size_t n, char ***bodies_out, char ****headers_out)
{
    char **bodies = calloc(n, sizeof(*bodies));
    char ***headers = calloc(n, sizeof(*headers));
    long long now = (long long)time(NULL);
    for (size_t i = 0; i < n; i++) {
        char id[64], email[64];
        snprintf(id, sizeof(id), "%s-%zu", prefix, i);
        snprintf(email, sizeof(email), "%s%zu@example.com", prefix, i % 97);
        bodies[i] = lead_event(id, email);
        headers[i] = calloc(3, sizeof(char *));
        http_sign_webhook(SECRET, now, bodies[i], headers[i]);
    }
    *bodies_out = bodies;
    *headers_out = headers;
}

static void free_posts(char **bodies, char ***headers, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(bodies[i]);
        free(headers[i][0]);
        free(headers[i][1]);
        free(headers[i]);
    }
    free(bodies);
    free(headers);
}

START_TEST(test_1000_concurrent_signed_posts_are_committed_exactly_once)
{
    const size_t n = 1000;
    char **bodies;
    char ***headers;
    build_posts("burst", n, &bodies, &headers);
    long *statuses = calloc(n, sizeof(*statuses));
    char *url = td_url(&td, "/webhooks/inbound");

    http_post_many(url, bodies, headers, n, n, statuses, NULL, NULL);
    size_t ok = 0;
    for (size_t i = 0; i < n; i++) {
        ok += statuses[i] == 200;
    }
    ck_assert_int_eq(ok, n);
    ck_assert_int_eq(event_count(), (long)n);
    ck_assert_int_eq(testdb_scalar(db, "SELECT count(DISTINCT source_id) FROM events"), (long)n);
    ck_assert_int_eq(testdb_scalar(db, "SELECT count(*) FROM leads"), 97);

    /* the same thousand again, concurrently: all acknowledged, nothing new stored */
    http_post_many(url, bodies, headers, n, 250, statuses, NULL, NULL);
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_eq(statuses[i], 200);
    }
    ck_assert_int_eq(event_count(), (long)n);

    /*
     * Group commit did batch. Every post carried one event, so a transaction with more
     * than one event (the histogram's count above its le="1" bucket) holds posts that
     * waited together. With a thousand posts in flight at once, the writers always find
     * several queued while they commit, however busy the machine: far fewer transactions
     * than posts, in each of the two bursts (2n posts, 2n events in all).
     */
    struct http_result r;
    char *metrics_url = td_url(&td, "/metrics");
    http_get(metrics_url, &r);
    double transactions = metric_in(r.body, "leadhub_ingest_batch_events_count");
    double single = metric_in(r.body, "leadhub_ingest_batch_events_bucket{le=\"1\"}");
    double events = metric_in(r.body, "leadhub_ingest_batch_events_sum");
    ck_assert_msg(transactions > 0 && single >= 0 && events == 2.0 * (double)n,
                  "transactions %g, single-event %g, events %g", transactions, single, events);
    ck_assert_msg(transactions - single >= 1, "no transaction carried more than one event (%g)",
                  transactions);
    ck_assert_msg(transactions <= (double)n, "%g transactions for %zu posts", transactions, 2 * n);
    http_result_free(&r);
    free(metrics_url);

    free(statuses);
    free(url);
    free_posts(bodies, headers, n);
}
END_TEST

struct async_post {
    char *body;
    struct http_result result;
    volatile int finished;
};

static void *post_in_thread(void *arg)
{
    struct async_post *p = arg;
    post(p->body, &p->result);
    p->finished = 1;
    return NULL;
}

START_TEST(test_no_2xx_before_commit)
{
    /* Hold a lock that the events insert needs: the request must wait, unanswered. */
    PGconn *locker = testdb_connect(td.db_url);
    PQclear(PQexec(locker, "BEGIN"));
    PGresult *res = PQexec(locker, "LOCK TABLE events IN EXCLUSIVE MODE");
    ck_assert_int_eq(PQresultStatus(res), PGRES_COMMAND_OK);
    PQclear(res);

    struct async_post p = {.body = lead_event("held-1", "held@example.com")};
    pthread_t thread;
    pthread_create(&thread, NULL, post_in_thread, &p);
    struct timespec wait = {1, 500 * 1000000L};
    nanosleep(&wait, NULL);
    ck_assert_msg(!p.finished, "answered (%ld) while the commit was blocked", p.result.status);

    PQclear(PQexec(locker, "COMMIT"));
    pthread_join(thread, NULL);
    ck_assert_int_eq(p.result.status, 200);
    ck_assert_int_eq(event_count(), 1);
    http_result_free(&p.result);
    free(p.body);
    PQfinish(locker);
}
END_TEST

struct sigterm_trigger {
    pid_t pid;
    size_t at;
    int sent;
};

static void maybe_sigterm(size_t done, void *arg)
{
    struct sigterm_trigger *t = arg;
    if (!t->sent && done >= t->at) {
        kill(t->pid, SIGTERM);
        t->sent = 1;
    }
}

START_TEST(test_sigterm_with_requests_in_flight_loses_nothing_acknowledged)
{
    const size_t n = 600;
    char **bodies;
    char ***headers;
    build_posts("term", n, &bodies, &headers);
    long *statuses = calloc(n, sizeof(*statuses));
    char *url = td_url(&td, "/webhooks/inbound");
    struct sigterm_trigger trigger = {td.pid, 150, 0};

    http_post_many(url, bodies, headers, n, 64, statuses, maybe_sigterm, &trigger);
    ck_assert(trigger.sent);
    int status = td_wait(&td);
    ck_assert_int_eq(status, 0);

    size_t acknowledged = 0;
    for (size_t i = 0; i < n; i++) {
        if (statuses[i] < 200 || statuses[i] >= 300) {
            ck_assert_msg(statuses[i] == 0 || statuses[i] == 503, "unexpected status %ld",
                          statuses[i]);
            continue;
        }
        acknowledged++;
        char id[64];
        snprintf(id, sizeof(id), "term-%zu", i);
        const char *params[] = {id};
        PGresult *found = PQexecParams(db, "SELECT count(*) FROM events WHERE source_id = $1", 1,
                                       NULL, params, NULL, NULL, 0);
        ck_assert_str_eq(PQgetvalue(found, 0, 0), "1");
        PQclear(found);
    }
    ck_assert_uint_ge(acknowledged, 150);
    free(statuses);
    free(url);
    free_posts(bodies, headers, n);
}
END_TEST

START_TEST(test_two_instances_of_one_plugin_use_their_own_secrets)
{
    /* a second instance in the running config needs a restart: stop, add, start */
    ck_assert_int_eq(td_stop(&td), 0);
    td_webhook_instance(&td, "partner", "partner-secret-0e4d");
    ck_assert_int_eq(td_start(&td), 0);

    char *body = lead_event("shared-id", "two@example.com");
    struct http_result r;
    post_signed("partner", SECRET, (long long)time(NULL), body, &r);
    ck_assert_int_eq(r.status, 401);
    http_result_free(&r);
    post_signed("partner", "partner-secret-0e4d", (long long)time(NULL), body, &r);
    ck_assert_int_eq(r.status, 200);
    http_result_free(&r);
    post_signed("inbound", SECRET, (long long)time(NULL), body, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "{\"accepted\":1,\"duplicates\":0}");
    http_result_free(&r);
    /* one source_id from two instances: two events, one lead */
    ck_assert_int_eq(event_count(), 2);
    ck_assert_int_eq(testdb_scalar(db, "SELECT count(*) FROM leads"), 1);
    free(body);
}
END_TEST

/* --- what passes no check but would break later: refused at the boundary --------------- */

/* A raw request to `path` signed for `body`, with `extra` header lines ("" for none), then
 * `payload` (body as framed). */
static char *raw_signed_framed(const char *path, const char *extra, const char *body,
                               const char *payload)
{
    char *signature[2];
    http_sign_webhook(SECRET, (long long)time(NULL), body, signature);
    char *request = util_printf("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n%s\r\n"
                                "Content-Type: application/json\r\n%s\r\n%s",
                                path, signature[0], signature[1], extra, payload);
    free(signature[0]);
    free(signature[1]);
    return request;
}

static char *raw_signed(const char *path, const char *extra, const char *body)
{
    return raw_signed_framed(path, extra, body, body);
}

START_TEST(test_times_postgresql_cannot_store_are_400_naming_the_field)
{
    /* year 0000 is no year to PostgreSQL; an offset can push the first or last day past
     * either end of 0001..9999 */
    const char *times[] = {"0000-01-01T00:00:00Z", "0001-01-01T00:00:00+01:00",
                           "9999-12-31T23:59:59-01:00"};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(times); i++) {
        char *body = util_printf("{\"type\":\"lead.created\",\"source_id\":\"t-%zu\","
                                 "\"occurred_at\":\"%s\",\"lead\":{\"email\":\"t@example.com\"}}",
                                 i, times[i]);
        struct http_result r;
        post(body, &r);
        ck_assert_msg(r.status == 400, "%s: %ld %s", times[i], r.status, r.body);
        ck_assert_msg(strstr(r.body, "occurred_at: out of range") != NULL, "%s", r.body);
        http_result_free(&r);
        free(body);
    }
    /* a meeting's times too, and the edges themselves are fine */
    struct http_result r;
    post("{\"type\":\"meeting.scheduled\",\"source_id\":\"mt-1\","
         "\"occurred_at\":\"0001-01-01T00:00:00Z\",\"meeting\":{\"external_id\":\"m-1\","
         "\"starts_at\":\"0000-12-31T10:00:00Z\"}}",
         &r);
    ck_assert_msg(r.status == 400 && strstr(r.body, "meeting.starts_at: out of range"), "%ld %s",
                  r.status, r.body);
    http_result_free(&r);
    post("{\"type\":\"email.received\",\"source_id\":\"edge-1\","
         "\"occurred_at\":\"0001-01-01T00:00:00Z\"}",
         &r);
    ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
    http_result_free(&r);
    post("{\"type\":\"email.received\",\"source_id\":\"edge-2\","
         "\"occurred_at\":\"9999-12-31T23:59:59.999Z\"}",
         &r);
    ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
    http_result_free(&r);
    ck_assert_int_eq(event_count(), 2);
    ck_assert_int_eq(testdb_scalar(db, "SELECT count(*) FROM events WHERE occurred_at IN "
                                       "('0001-01-01T00:00:00Z', '9999-12-31T23:59:59.999Z')"),
                     2);
}
END_TEST

START_TEST(test_a_nul_in_the_path_is_404)
{
    const char body[] = "{\"type\":\"email.received\",\"source_id\":\"nul-1\","
                        "\"occurred_at\":\"2026-11-27T10:00:00Z\"}";
    char *extra = util_printf("Content-Length: %zu\r\n", strlen(body));
    char *request = raw_signed("/webhooks/inbound%00evil", extra, body);
    struct raw_answer a;
    raw_exchange(td.port, request, strlen(request), 10000, 0, &a);
    ck_assert_msg(a.status == 404, "%d %s", a.status, a.body);
    raw_answer_free(&a);
    free(request);
    /* the same request to the real path is taken: the NUL was the only difference */
    request = raw_signed("/webhooks/inbound", extra, body);
    raw_exchange(td.port, request, strlen(request), 10000, 0, &a);
    ck_assert_msg(a.status == 200, "%d %s", a.status, a.body);
    raw_answer_free(&a);
    free(request);
    free(extra);
    ck_assert_int_eq(event_count(), 1);
}
END_TEST

START_TEST(test_unknown_paths_are_404_for_every_method)
{
    const char *targets[][2] = {{"POST", "/nope"},
                                {"DELETE", "/nope"},
                                {"PUT", "/healthz/x"},
                                {"POST", "/webhooks/Not-A-Valid-Name"},
                                {"POST", "/webhooks/"}};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(targets); i++) {
        char *url = td_url(&td, targets[i][1]);
        struct http_result r;
        http_request(targets[i][0], url, NULL, "{}", 2, &r);
        ck_assert_msg(r.status == 404, "%s %s: %ld", targets[i][0], targets[i][1], r.status);
        ck_assert_msg(strstr(r.headers, "Allow:") == NULL, "%s", r.headers);
        http_result_free(&r);
        free(url);
    }
    /* where something is there, another method is still 405 with what it allows */
    char *url = td_url(&td, "/healthz");
    struct http_result r;
    http_request("POST", url, NULL, "{}", 2, &r);
    ck_assert_int_eq(r.status, 405);
    http_result_free(&r);
    free(url);
}
END_TEST

/* RFC 9112 6.1: a body framed two ways may be read one way here and another by a proxy in
 * front, so the request is refused and the connection closed. */
START_TEST(test_a_body_framed_two_ways_is_400_and_the_connection_closed)
{
    const char body[] = "{\"type\":\"email.received\",\"source_id\":\"smuggle-1\","
                        "\"occurred_at\":\"2026-11-27T10:00:00Z\"}";
    char *chunked = util_printf("%zx\r\n%s\r\n0\r\n\r\n", strlen(body), body);
    char *both =
        util_printf("Content-Length: %zu\r\nTransfer-Encoding: chunked\r\n", strlen(chunked));
    char *two_lengths =
        util_printf("Content-Length: %zu\r\nContent-Length: %zu\r\n", strlen(body), strlen(body));
    const char *cases[][2] = {
        {both, chunked}, {"Transfer-Encoding: gzip\r\n", body}, {two_lengths, body}};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(cases); i++) {
        char *request = raw_signed("/webhooks/inbound", cases[i][0], cases[i][1]);
        struct raw_answer a;
        raw_exchange(td.port, request, strlen(request), 10000, 5000, &a);
        ck_assert_msg(a.status == 400, "case %zu: %d %s", i, a.status, a.body);
        ck_assert_msg(a.closed, "case %zu: the connection was kept open", i);
        raw_answer_free(&a);
        free(request);
    }
    free(both);
    free(two_lengths);
    /* chunked alone is fine, and the connection stays open for the next request */
    char *extra = strdup("Transfer-Encoding: chunked\r\n");
    char *request = raw_signed_framed("/webhooks/inbound", extra, body, chunked);
    struct raw_answer a;
    raw_exchange(td.port, request, strlen(request), 10000, 1000, &a);
    ck_assert_msg(a.status == 200, "%d %s", a.status, a.body);
    ck_assert(!a.closed);
    raw_answer_free(&a);
    free(request);
    free(extra);
    free(chunked);
    ck_assert_int_eq(event_count(), 1);
}
END_TEST

/* A chunked body past http.body_limit is cut off at the limit, not read to its end. */
START_TEST(test_a_chunked_body_past_the_limit_is_cut_off_there)
{
    size_t total = 32u * 1024 * 1024;
    char *request = malloc(total + 1024);
    ck_assert_ptr_nonnull(request);
    int head = snprintf(request, 1024,
                        "POST /webhooks/inbound HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                        "X-Leadhub-Timestamp: 1\r\nX-Leadhub-Signature: sha256=00\r\n"
                        "Transfer-Encoding: chunked\r\n\r\n");
    size_t len = (size_t)head;
    /* 64 KiB chunks of spaces */
    while (len + 70000 < total) {
        len += (size_t)sprintf(request + len, "%x\r\n", 65536);
        memset(request + len, ' ', 65536);
        len += 65536;
        memcpy(request + len, "\r\n", 2);
        len += 2;
    }
    struct raw_answer a;
    raw_exchange(td.port, request, len, 30000, 5000, &a);
    free(request);
    ck_assert_msg(a.status == 413, "%d %s", a.status, a.body);
    ck_assert_msg(a.closed, "the connection was kept open");
    /* the limit is 1 MiB; what the socket buffers took on top is a few MiB at most */
    ck_assert_msg(a.sent < total / 2, "the server read %zu of %zu bytes", a.sent, total);
    raw_answer_free(&a);
}
END_TEST

/* The webhook plugin declares X-Leadhub-Signature: a POST without it is answered 401 before
 * a byte of its body is read (here none is ever sent), while a signed one is waited for. */
START_TEST(test_an_unsigned_post_is_refused_before_its_body_is_read)
{
    const char *unsigned_head = "POST /webhooks/inbound HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                "Content-Type: application/json\r\nContent-Length: 900000\r\n\r\n";
    struct raw_answer a;
    raw_exchange(td.port, unsigned_head, strlen(unsigned_head), 5000, 5000, &a);
    ck_assert_msg(a.status == 401, "%d %s", a.status, a.body);
    ck_assert_ptr_nonnull(strstr(a.body, "missing X-Leadhub-Signature"));
    ck_assert_msg(a.closed, "the connection was kept open for a body nobody will read");
    raw_answer_free(&a);

    /* the same head signed: the server waits for the body (no answer yet) */
    const char *signed_head = "POST /webhooks/inbound HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                              "X-Leadhub-Timestamp: 1\r\nX-Leadhub-Signature: sha256=00\r\n"
                              "Content-Type: application/json\r\nContent-Length: 900000\r\n\r\n";
    raw_exchange(td.port, signed_head, strlen(signed_head), 1000, 0, &a);
    ck_assert_msg(a.status == 0, "answered %d before its body: %s", a.status, a.body);
    raw_answer_free(&a);

    char *url = td_url(&td, "/metrics");
    struct http_result r;
    http_get(url, &r);
    ck_assert_double_eq(
        metric_in(r.body, "leadhub_http_refused_total{reason=\"missing_signature\"}"), 1);
    http_result_free(&r);
    free(url);
    ck_assert_int_eq(event_count(), 0);
}
END_TEST

static Suite *ingest_suite(void)
{
    Suite *s = suite_create("webhook_ingest");
    TCase *tc = tcase_create("daemon");
    tcase_set_timeout(tc, 300);
    tcase_add_checked_fixture(tc, start_daemon, stop_daemon);
    tcase_add_test(tc, test_signed_event_is_stored_and_acknowledged_after_commit);
    tcase_add_test(tc, test_resent_event_stores_nothing_and_still_answers_2xx);
    tcase_add_test(tc, test_array_of_events_is_all_or_nothing);
    tcase_add_test(tc, test_array_with_an_invalid_event_in_the_middle_stores_nothing);
    tcase_add_test(tc, test_bad_signature_stale_timestamp_and_missing_headers_are_401);
    tcase_add_test(tc, test_malformed_json_and_invalid_events_are_400_with_reason);
    tcase_add_test(tc, test_unknown_instance_wrong_method_and_oversized_body);
    tcase_add_test(tc, test_health_readiness_and_metrics);
    tcase_add_test(tc, test_1000_concurrent_signed_posts_are_committed_exactly_once);
    tcase_add_test(tc, test_no_2xx_before_commit);
    tcase_add_test(tc, test_sigterm_with_requests_in_flight_loses_nothing_acknowledged);
    tcase_add_test(tc, test_two_instances_of_one_plugin_use_their_own_secrets);
    tcase_add_test(tc, test_times_postgresql_cannot_store_are_400_naming_the_field);
    tcase_add_test(tc, test_a_nul_in_the_path_is_404);
    tcase_add_test(tc, test_unknown_paths_are_404_for_every_method);
    tcase_add_test(tc, test_a_body_framed_two_ways_is_400_and_the_connection_closed);
    tcase_add_test(tc, test_a_chunked_body_past_the_limit_is_cut_off_there);
    tcase_add_test(tc, test_an_unsigned_post_is_refused_before_its_body_is_read);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = tu_run_suite(ingest_suite());
    curl_global_cleanup();
    return rc;
}
