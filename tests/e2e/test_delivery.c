/*
 * test_delivery.c - events routed webhook -> http to a real local receiver, through the
 * real daemon and PostgreSQL: exactly once while everything is healthy, at least once and
 * deduplicable across kill -9, retried then done when the receiver recovers, dead (then
 * replayable) when it never does, shared by two daemons without double sends, drained on
 * SIGTERM without loss.
 */
#include <check.h>
#include <curl/curl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto.h"
#include "daemon_harness.h"
#include "http_client.h"
#include "leadhub.h"
#include "fake_http.h"
#include "testdb.h"
#include "testutil.h"
#include "util.h"

#define SECRET     "delivery-secret-7c"
#define OUT_SECRET "receiver-secret-91"

static struct fake_http *receiver;
static struct test_daemon td;
static PGconn *db;

/* A daemon with `inbound` (webhook) routed to `out` (http -> the receiver). */
static void start_pipeline(struct test_daemon *t, const char *db_url, const char *delivery)
{
    td_init(t, db_url);
    td_webhook_instance(t, "inbound", SECRET);
    setenv("LHTEST_OUT_SECRET", OUT_SECRET, 1);
    char *url = fake_http_url(receiver, "/events");
    char *out = util_printf("name: out\nplugin: http\nsettings:\n  url: %s\n"
                            "  secret: ${LHTEST_OUT_SECRET}\n  timeout: 5s\n",
                            url);
    td_connector(t, "out", out);
    free(out);
    free(url);
    t->extra_main = util_printf("routes:\n"
                                "  - name: everything-out\n"
                                "    from: inbound\n"
                                "    types: [\"*\"]\n"
                                "    to: [out]\n"
                                "delivery:\n%s",
                                delivery);
    int rc = td_start(t);
    if (rc != 0) {
        char *log = td_log(t);
        ck_abort_msg("daemon did not start (%d):\n%s", rc, log);
    }
}

static const char fast_retries[] = "  backoff_base: 20ms\n"
                                   "  backoff_cap: 200ms\n"
                                   "  max_attempts: 10\n"
                                   "  breaker_failures: 1000\n";

/* A daemon with `inbound` (webhook) routed to `out`, an instance of the fixture plugin
 * `fixture` (copied into a plugin directory of its own) whose `url` is the receiver's
 * `path`. */
static void start_fixture_pipeline(struct test_daemon *t, const char *fixture, const char *path,
                                   const char *delivery)
{
    td_init(t, NULL);
    char *plugins = tu_path(t->dir, "plugins");
    char *copy = util_printf("mkdir -p '%s' && cp '%s/tests/fixtures/%s.so' '%s/'", plugins,
                             tu_build_dir(), fixture, plugins);
    ck_assert_int_eq(tu_run(copy, NULL), 0);
    free(copy);
    t->extra_plugin_dir = plugins;
    td_webhook_instance(t, "inbound", SECRET);
    char *url = fake_http_url(receiver, path);
    char *out = util_printf("name: out\nplugin: %s\nsettings:\n  url: %s\n", fixture, url);
    td_connector(t, "out", out);
    free(out);
    free(url);
    t->extra_main = util_printf("routes:\n"
                                "  - name: everything-out\n"
                                "    from: inbound\n"
                                "    types: [\"*\"]\n"
                                "    to: [out]\n"
                                "delivery:\n%s",
                                delivery);
    int rc = td_start(t);
    if (rc != 0) {
        char *log = td_log(t);
        ck_abort_msg("daemon did not start (%d):\n%s", rc, log);
    }
}

static void setup(void)
{
    receiver = fake_http_start();
    ck_assert_ptr_nonnull(receiver);
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
    fake_http_stop(receiver);
}

/* Posts `count` distinct events (ids prefix-0..), in arrays of 100. */
static void post_events(struct test_daemon *t, const char *prefix, size_t count)
{
    for (size_t first = 0; first < count; first += 100) {
        struct strbuf body = {0};
        strbuf_append(&body, "[");
        for (size_t i = first; i < count && i < first + 100; i++) {
            strbuf_appendf(&body,
                           "%s{\"type\":\"lead.created\",\"source_id\":\"%s-%zu\","
                           "\"occurred_at\":\"2026-11-27T10:00:00Z\","
                           "\"lead\":{\"email\":\"%s%zu@example.com\"}}",
                           i > first ? "," : "", prefix, i, prefix, i % 50);
        }
        strbuf_append(&body, "]");
        int status = td_post(t, "inbound", SECRET, strbuf_value(&body), NULL);
        ck_assert_int_eq(status, 200);
        strbuf_free(&body);
    }
}

/* The value of header `name` in a "name: value\n" list, copied into out. */
static bool header_value(const char *headers, const char *name, char *out, size_t size)
{
    size_t n = strlen(name);
    for (const char *line = headers; line != NULL && *line != '\0';) {
        if (strncasecmp(line, name, n) == 0 && line[n] == ':') {
            const char *value = line + n + 1 + (line[n + 1] == ' ');
            size_t len = strcspn(value, "\n");
            snprintf(out, size, "%.*s", (int)(len < size ? len : size - 1), value);
            return true;
        }
        line = strchr(line, '\n');
        line = line != NULL ? line + 1 : NULL;
    }
    return false;
}

/* What the receiver got: requests, distinct idempotency keys, distinct source_ids, and
 * whether every key always came with the same source_id. */
struct received {
    size_t requests;
    size_t keys;
    size_t events;
    bool consistent;
};

static struct received tally(void)
{
    struct received r = {.consistent = true};
    json_t *by_key = json_object();
    json_t *by_event = json_object();
    r.requests = fake_http_request_count(receiver);
    for (size_t i = 0; i < r.requests; i++) {
        struct fake_request req = fake_http_request(receiver, i);
        char key[64] = "";
        header_value(req.headers, "Idempotency-Key", key, sizeof(key));
        json_t *event = json_loads(req.body ? req.body : "", 0, NULL);
        const char *source_id = json_string_value(json_object_get(event, "source_id"));
        if (source_id != NULL && key[0] != '\0') {
            json_t *seen = json_object_get(by_key, key);
            if (seen != NULL && strcmp(json_string_value(seen), source_id) != 0) {
                r.consistent = false;
            }
            json_object_set_new(by_key, key, json_string(source_id));
            json_object_set_new(by_event, source_id, json_true());
        }
        json_decref(event);
        fake_http_request_free(&req);
    }
    r.keys = json_object_size(by_key);
    r.events = json_object_size(by_event);
    json_decref(by_key);
    json_decref(by_event);
    return r;
}

struct expect {
    size_t events;
};

static bool all_events_received(void *arg)
{
    const struct expect *e = arg;
    return tally().events >= e->events;
}

static long deliveries(const char *status)
{
    char *sql = util_printf("SELECT count(*) FROM deliveries WHERE status = '%s'", status);
    long n = testdb_scalar(db, sql);
    free(sql);
    return n;
}

struct status_wait {
    const char *status;
    long count;
};

static bool deliveries_reach(void *arg)
{
    const struct status_wait *w = arg;
    return deliveries(w->status) >= w->count;
}

/* The value of the series `series` (name and labels, as rendered) in the daemon's /metrics,
 * or -1 when it is absent. */
static double metric(const struct test_daemon *t, const char *series)
{
    char *url = td_url(t, "/metrics");
    struct http_result m;
    http_get(url, &m);
    double value = -1;
    size_t len = strlen(series);
    for (const char *line = m.body; line != NULL && *line != '\0';) {
        if (strncmp(line, series, len) == 0 && line[len] == ' ') {
            value = strtod(line + len + 1, NULL);
            break;
        }
        line = strchr(line, '\n');
        line = line != NULL ? line + 1 : NULL;
    }
    http_result_free(&m);
    free(url);
    return value;
}

/* The status of the delivery of the event with `source_id`, malloc'd ("" when none). */
static char *delivery_status_of(const char *source_id)
{
    const char *params[] = {source_id};
    PGresult *r = PQexecParams(db,
                               "SELECT coalesce(max(d.status), '') FROM deliveries d JOIN events e "
                               "ON e.id = d.event_id WHERE e.source_id = $1",
                               1, NULL, params, NULL, NULL, 0);
    char *status = strdup(PQresultStatus(r) == PGRES_TUPLES_OK ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
    return status;
}

struct one_wait {
    const char *source_id;
    const char *status;
};

static bool delivery_of_is(void *arg)
{
    const struct one_wait *w = arg;
    char *status = delivery_status_of(w->source_id);
    bool reached = strcmp(status, w->status) == 0;
    free(status);
    return reached;
}

START_TEST(test_10000_routed_events_arrive_exactly_once)
{
    start_pipeline(&td, NULL, fast_retries);
    db = testdb_connect(td.db_url);
    post_events(&td, "once", 10000);
    ck_assert_int_eq(testdb_scalar(db, "SELECT count(*) FROM deliveries"), 10000);
    struct expect e = {10000};
    ck_assert_msg(td_wait_until(all_events_received, &e, 120000), "only %zu of 10000 arrived",
                  tally().events);
    struct status_wait done = {"done", 10000};
    ck_assert(td_wait_until(deliveries_reach, &done, 10000));
    /* nothing more arrives: exactly once */
    struct timespec settle = {1, 0};
    nanosleep(&settle, NULL);
    struct received r = tally();
    ck_assert_uint_eq(r.requests, 10000);
    ck_assert_uint_eq(r.keys, 10000);
    ck_assert_uint_eq(r.events, 10000);
    ck_assert(r.consistent);

    /* each request is signed the way the webhook plugin verifies */
    struct fake_request first = fake_http_request(receiver, 0);
    char timestamp[32] = "", signature[80] = "";
    ck_assert(header_value(first.headers, "X-Leadhub-Timestamp", timestamp, sizeof(timestamp)));
    ck_assert(header_value(first.headers, "X-Leadhub-Signature", signature, sizeof(signature)));
    char *signed_text = util_printf("%s.%s", timestamp, first.body);
    unsigned char digest[32];
    crypto_hmac_sha256(OUT_SECRET, strlen(OUT_SECRET), signed_text, strlen(signed_text), digest);
    char hex[65];
    lh_hex_encode(digest, sizeof(digest), hex);
    ck_assert_str_eq(signature + strlen("sha256="), hex);
    free(signed_text);
    fake_http_request_free(&first);
}
END_TEST

static bool some_received(void *arg)
{
    return fake_http_request_count(receiver) >= *(size_t *)arg;
}

START_TEST(test_kill_9_mid_delivery_then_restart_delivers_every_event_dedupably)
{
    /* a slower receiver, so that the kill lands mid-run */
    fake_http_push(receiver, (struct fake_response){200, "{}", NULL, 1});
    start_pipeline(&td, NULL, fast_retries);
    db = testdb_connect(td.db_url);
    post_events(&td, "kill", 10000);
    size_t some = 1500;
    ck_assert(td_wait_until(some_received, &some, 60000));
    td_kill(&td);
    size_t at_kill = fake_http_request_count(receiver);
    ck_assert_uint_lt(at_kill, 10000);

    ck_assert_int_eq(td_start(&td), 0);
    struct expect e = {10000};
    ck_assert_msg(td_wait_until(all_events_received, &e, 180000), "only %zu of 10000 arrived",
                  tally().events);
    struct status_wait done = {"done", 10000};
    ck_assert(td_wait_until(deliveries_reach, &done, 20000));
    struct received r = tally();
    ck_assert_uint_eq(r.events, 10000);
    ck_assert_uint_eq(r.keys, 10000); /* a resend reuses its key: the receiver can dedupe */
    ck_assert(r.consistent);
    ck_assert_uint_ge(r.requests, 10000);
}
END_TEST

/* The backoff of the policy below: base 200 ms, doubling, capped at 800 ms. */
#define RETRY_BASE_MS         200
#define RETRY_CAP_MS          800
#define RETRY_ANSWER_DELAY_MS 400 /* each answer takes this long */

/* The full-jitter ceiling of the delay after failed attempt `attempt` (1 = the first). */
static long retry_ceiling_ms(long attempt)
{
    long ceiling = RETRY_BASE_MS;
    for (long i = 1; i < attempt && ceiling < RETRY_CAP_MS; i++) {
        ceiling *= 2;
    }
    return ceiling < RETRY_CAP_MS ? ceiling : RETRY_CAP_MS;
}

/*
 * A receiver answering 500 four times, then 200: one delivery, five attempts under one key,
 * and the delays between them within the configured backoff. Full jitter draws each delay
 * in [0, ceiling), so a single delay may be short whatever the attempt: what is certain,
 * and asserted, is the upper bound. Twice: from the table, where each failed attempt
 * leaves next_attempt_at - updated_at = the delay drawn (sampled while the next answer is
 * slow to come), and from the receiver's clock, where each gap is that answer's delay, the
 * backoff and the time to claim again.
 */
START_TEST(test_failing_receiver_is_retried_until_it_recovers)
{
    for (int i = 0; i < 4; i++) {
        fake_http_push(receiver, (struct fake_response){500, "{\"error\":\"down\"}", NULL,
                                                        RETRY_ANSWER_DELAY_MS});
    }
    /* slow too, so that the last retry's state can be sampled */
    fake_http_push(receiver, (struct fake_response){200, "{}", NULL, RETRY_ANSWER_DELAY_MS});
    char *policy = util_printf("  backoff_base: %dms\n  backoff_cap: %dms\n  max_attempts: 10\n"
                               "  breaker_failures: 1000\n",
                               RETRY_BASE_MS, RETRY_CAP_MS);
    start_pipeline(&td, NULL, policy);
    free(policy);
    db = testdb_connect(td.db_url);
    post_events(&td, "retry", 1);

    /* sample the row until it is done: the delay each failed attempt drew */
    long drawn[8];
    for (size_t i = 0; i < UTIL_ARRAY_LEN(drawn); i++) {
        drawn[i] = -1;
    }
    int64_t deadline = util_monotonic_ms() + 60000;
    bool done = false;
    while (!done && util_monotonic_ms() < deadline) {
        PGresult *r = PQexec(db, "SELECT status, attempts, round(extract(epoch FROM "
                                 "next_attempt_at - updated_at) * 1000)::bigint FROM deliveries");
        ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
        if (PQntuples(r) == 1) {
            long attempts = strtol(PQgetvalue(r, 0, 1), NULL, 10);
            done = strcmp(PQgetvalue(r, 0, 0), "done") == 0;
            if (strcmp(PQgetvalue(r, 0, 0), "retrying") == 0 && attempts >= 1 &&
                attempts < (long)UTIL_ARRAY_LEN(drawn)) {
                drawn[attempts] = strtol(PQgetvalue(r, 0, 2), NULL, 10);
            }
        }
        PQclear(r);
        struct timespec pause = {0, 20 * 1000000L};
        nanosleep(&pause, NULL);
    }
    ck_assert_msg(done, "the delivery is not done after 60 s");
    ck_assert_int_eq(testdb_scalar(db, "SELECT attempts FROM deliveries"), 5);
    ck_assert_uint_eq(fake_http_request_count(receiver), 5);
    ck_assert_uint_eq(tally().keys, 1); /* the same key on every attempt */

    int sampled = 0;
    for (long attempt = 1; attempt <= 4; attempt++) {
        if (drawn[attempt] < 0) {
            continue; /* the test was not scheduled while that state lasted */
        }
        sampled++;
        ck_assert_msg(drawn[attempt] >= 0 && drawn[attempt] <= retry_ceiling_ms(attempt),
                      "attempt %ld drew a %ld ms delay; its ceiling is %ld ms", attempt,
                      drawn[attempt], retry_ceiling_ms(attempt));
    }
    /* each state lasts at least RETRY_ANSWER_DELAY_MS: most are seen even on a busy machine */
    ck_assert_msg(sampled >= 3, "only %d of 4 retry delays sampled", sampled);

    /* Scheduling on a loaded machine adds to a gap, never takes away: generous slack. */
    const long slack_ms = 1000;
    for (size_t k = 1; k < 5; k++) {
        struct fake_request before = fake_http_request(receiver, k - 1);
        struct fake_request after = fake_http_request(receiver, k);
        long long gap = after.at_ms - before.at_ms;
        long bound = RETRY_ANSWER_DELAY_MS + retry_ceiling_ms((long)k) + slack_ms;
        ck_assert_msg(gap <= bound, "attempt %zu came %lld ms after attempt %zu (at most %ld)",
                      k + 1, gap, k, bound);
        ck_assert_msg(gap >= RETRY_ANSWER_DELAY_MS, "attempt %zu came %lld ms after attempt %zu",
                      k + 1, gap, k);
        fake_http_request_free(&before);
        fake_http_request_free(&after);
    }
}
END_TEST

START_TEST(test_receiver_failing_forever_goes_dead_then_replay_delivers)
{
    fake_http_push(receiver, (struct fake_response){503, "{\"error\":\"down\"}", NULL, 0});
    start_pipeline(&td, NULL,
                   "  backoff_base: 20ms\n  backoff_cap: 100ms\n  max_attempts: 3\n"
                   "  breaker_failures: 1000\n");
    db = testdb_connect(td.db_url);
    post_events(&td, "dead", 3);
    struct status_wait dead = {"dead", 3};
    ck_assert(td_wait_until(deliveries_reach, &dead, 30000));
    ck_assert_int_eq(testdb_scalar(db, "SELECT min(attempts) FROM deliveries"), 3);
    char *error = testdb_text(db, "SELECT last_error FROM deliveries LIMIT 1");
    ck_assert_msg(strstr(error, "gave up after 3 attempts") && strstr(error, "503"), "%s", error);
    free(error);
    size_t sent = fake_http_request_count(receiver);
    ck_assert_uint_eq(sent, 9);

    /* the receiver recovers; replay one by id, then the rest by destination */
    fake_http_push(receiver, (struct fake_response){200, "{}", NULL, 0});
    char *config = tu_path(td.dir, "leadhub.yaml");
    long first = testdb_scalar(db, "SELECT min(id) FROM deliveries");
    char *command = util_printf("'%s' replay -c '%s' --id %ld", td_binary(), config, first);
    char *out = NULL;
    ck_assert_int_eq(tu_run(command, &out), 0);
    ck_assert_msg(strstr(out, "re-queued 1 dead delivery") != NULL, "%s", out);
    free(out);
    free(command);
    struct status_wait one = {"done", 1};
    ck_assert(td_wait_until(deliveries_reach, &one, 20000));

    command = util_printf("'%s' replay -c '%s' --destination out --dry-run", td_binary(), config);
    ck_assert_int_eq(tu_run(command, &out), 0);
    ck_assert_msg(strstr(out, "would re-queue 2 dead deliveries") != NULL, "%s", out);
    free(out);
    free(command);
    command =
        util_printf("'%s' replay -c '%s' --destination out --type 'lead.*'", td_binary(), config);
    ck_assert_int_eq(tu_run(command, &out), 0);
    ck_assert_msg(strstr(out, "re-queued 2 dead deliveries") != NULL, "%s", out);
    free(out);
    free(command);
    struct status_wait all = {"done", 3};
    ck_assert(td_wait_until(deliveries_reach, &all, 20000));
    ck_assert_uint_eq(tally().events, 3);
    free(config);
}
END_TEST

START_TEST(test_a_destination_asking_to_wait_holds_deliveries_without_spending_attempts)
{
    /* six "come back later" (429 + Retry-After: 0), then accepted: with max_attempts 2 a
     * hold that spent attempts would be dead after the second */
    for (int i = 0; i < 6; i++) {
        fake_http_push(receiver, (struct fake_response){429, "{\"error\":\"slow down\"}",
                                                        "Retry-After: 0", 0});
    }
    fake_http_push(receiver, (struct fake_response){200, "{}", NULL, 0});
    start_pipeline(&td, NULL,
                   "  backoff_base: 20ms\n  backoff_cap: 100ms\n  max_attempts: 2\n"
                   "  breaker_failures: 1000\n");
    db = testdb_connect(td.db_url);
    post_events(&td, "wait", 1);
    struct status_wait done = {"done", 1};
    ck_assert_msg(td_wait_until(deliveries_reach, &done, 30000), "not done; status %s",
                  delivery_status_of("wait-0"));
    /* one answer counted as an attempt (the one that took it), six holds */
    char *row =
        testdb_text(db, "SELECT attempts || '|' || holds || '|' || coalesce(held_since::text, "
                        "'-') || '|' || coalesce(hold_reason, '-') FROM deliveries");
    ck_assert_str_eq(row, "1|6|-|-");
    free(row);
    ck_assert_uint_eq(fake_http_request_count(receiver), 7);
    ck_assert_uint_eq(tally().keys, 1);
    ck_assert(metric(&td, "leadhub_deliveries_total{destination=\"out\",outcome=\"held\"}") == 6);
}
END_TEST

START_TEST(test_a_hold_that_never_ends_is_dead_after_max_hold_and_shows_why_meanwhile)
{
    /* a destination that says "later" for ever */
    fake_http_push(receiver,
                   (struct fake_response){503, "{\"error\":\"maintenance\"}", "Retry-After: 1", 0});
    setenv("LHTEST_READ_TOKEN", "read-token-held-3b9d", 1);
    start_pipeline(&td, NULL,
                   "  backoff_base: 20ms\n  backoff_cap: 100ms\n  max_attempts: 2\n"
                   "  breaker_failures: 1000\n  max_hold: 4s\n"
                   "api:\n  tokens:\n    - name: reader\n      token: ${LHTEST_READ_TOKEN}\n"
                   "      scopes: [read]\n");
    db = testdb_connect(td.db_url);
    post_events(&td, "later", 1);
    /* held: shown as such through the API, with the destination's reason */
    struct one_wait held_row = {"later-0", "retrying"};
    ck_assert(td_wait_until(delivery_of_is, &held_row, 20000));
    char *url = td_url(&td, "/v1/deliveries?status=held");
    const char *headers[] = {"Authorization: Bearer read-token-held-3b9d", NULL};
    struct http_result r;
    http_request("GET", url, headers, NULL, 0, &r);
    ck_assert_int_eq(r.status, 200);
    json_t *page = json_loads(r.body, 0, NULL);
    json_t *item = json_array_get(json_object_get(page, "data"), 0);
    ck_assert_msg(item != NULL, "no held delivery listed: %s", r.body);
    ck_assert_str_eq(json_string_value(json_object_get(item, "status")), "held");
    ck_assert_int_eq(json_integer_value(json_object_get(item, "attempts")), 0);
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(item, "hold_reason")), "503"));
    ck_assert(json_is_string(json_object_get(item, "held_since")));
    json_decref(page);
    http_result_free(&r);
    free(url);
    /* the hold ends: dead after max_hold, saying so, with no attempt spent */
    struct status_wait dead = {"dead", 1};
    ck_assert(td_wait_until(deliveries_reach, &dead, 30000));
    char *error = testdb_text(db, "SELECT last_error FROM deliveries");
    ck_assert_msg(strstr(error, "longer than delivery.max_hold") && strstr(error, "503"), "%s",
                  error);
    free(error);
    ck_assert_int_eq(testdb_scalar(db, "SELECT attempts FROM deliveries"), 0);
    ck_assert(testdb_scalar(db, "SELECT holds FROM deliveries") >= 3);
}
END_TEST

START_TEST(test_permanent_rejection_is_dead_at_once)
{
    fake_http_push(receiver, (struct fake_response){422, "{\"error\":\"bad lead\"}", NULL, 0});
    start_pipeline(&td, NULL, fast_retries);
    db = testdb_connect(td.db_url);
    post_events(&td, "perm", 1);
    struct status_wait dead = {"dead", 1};
    ck_assert(td_wait_until(deliveries_reach, &dead, 20000));
    ck_assert_int_eq(testdb_scalar(db, "SELECT attempts FROM deliveries"), 1);
    char *error = testdb_text(db, "SELECT last_error FROM deliveries");
    ck_assert_msg(strstr(error, "HTTP 422") != NULL, "%s", error);
    free(error);
}
END_TEST

/* Whether /readyz's body holds `arg` (a string). */
static bool readyz_says(void *arg)
{
    char *url = td_url(&td, "/readyz");
    struct http_result r;
    http_get(url, &r);
    bool says = r.body != NULL && strstr(r.body, arg) != NULL;
    http_result_free(&r);
    free(url);
    return says;
}

/* How often the daemon's log says the circuit opened (a failed half-open probe opens it
 * again). */
static int circuit_openings(void)
{
    int seen = 0;
    char *log = td_log(&td);
    for (const char *p = log; p != NULL && (p = strstr(p, "delivery circuit open")) != NULL; p++) {
        seen++;
    }
    free(log);
    return seen;
}

static bool circuit_opened_times(void *arg)
{
    return circuit_openings() >= *(int *)arg;
}

START_TEST(test_circuit_opens_on_a_failing_destination_and_closes_after_it_recovers)
{
    fake_http_push(receiver, (struct fake_response){500, "{}", NULL, 0});
    start_pipeline(&td, NULL,
                   "  backoff_base: 10ms\n  backoff_cap: 50ms\n  max_attempts: 1000\n"
                   "  breaker_failures: 3\n  breaker_cooldown: 500ms\n  concurrency: 4\n");
    db = testdb_connect(td.db_url);
    post_events(&td, "breaker", 20);
    /* opened, probed after its cooldown, opened again: two cooldowns in which 10-50 ms
     * retries of 20 records would have made dozens of attempts */
    int twice = 2;
    ck_assert_msg(td_wait_until(circuit_opened_times, &twice, 30000),
                  "the circuit did not open, then open again after a failed probe");
    /* 3 failures open it (at most 3 more were in flight on the 4 workers); after that one
     * probe per cooldown, each failing probe opening it again, one more perhaps under way.
     * Openings are read after attempts, so they count every probe the attempts include. */
    size_t attempts = fake_http_request_count(receiver);
    int openings = circuit_openings();
    ck_assert_msg(attempts <= (size_t)(3 + 3 + openings), "%zu attempts in %d openings", attempts,
                  openings);
    char *url = td_url(&td, "/readyz");
    ck_assert(td_wait_until(readyz_says, "\"out\":{\"circuit\":\"open\"", 5000) ||
              td_wait_until(readyz_says, "\"out\":{\"circuit\":\"half_open\"", 5000));

    fake_http_push(receiver, (struct fake_response){200, "{}", NULL, 0});
    struct status_wait done = {"done", 20};
    ck_assert(td_wait_until(deliveries_reach, &done, 30000));
    /* /readyz shows the readiness checker's last look, a moment behind */
    ck_assert_msg(td_wait_until(readyz_says, "\"out\":{\"circuit\":\"closed\"", 5000),
                  "the circuit was not shown closed");
    free(url);
}
END_TEST

/* What test_permanent_failures_leave_the_circuit_closed_with_default_settings waits for:
 * every outcome recorded, or the circuit opening (the failure it looks for, seen at once
 * rather than after a cooldown). */
static bool outcomes_recorded_or_circuit_opened(void *arg)
{
    (void)arg;
    char *log = td_log(&td);
    bool opened = strstr(log, "delivery circuit open") != NULL;
    free(log);
    return opened || (deliveries("dead") == 8 && deliveries("done") == 1);
}

START_TEST(test_permanent_failures_leave_the_circuit_closed_with_default_settings)
{
    /* eight records the receiver refuses for good (422), then one it takes */
    for (int i = 0; i < 8; i++) {
        fake_http_push(receiver, (struct fake_response){422, "{\"error\":\"bad lead\"}", NULL, 0});
    }
    fake_http_push(receiver, (struct fake_response){200, "{}", NULL, 0});
    /* no delivery settings at all: breaker_failures 5, breaker_cooldown 30s */
    start_pipeline(&td, NULL, "");
    db = testdb_connect(td.db_url);
    post_events(&td, "perm", 9);
    ck_assert(td_wait_until(outcomes_recorded_or_circuit_opened, NULL, 60000));
    char *log = td_log(&td);
    const char *opened = strstr(log, "delivery circuit open");
    ck_assert_msg(opened == NULL, "eight permanent failures opened the circuit: %.200s", opened);
    free(log);
    ck_assert_int_eq(deliveries("dead"), 8);
    ck_assert_int_eq(deliveries("done"), 1);
    ck_assert_int_eq(testdb_scalar(db, "SELECT max(attempts) FROM deliveries"), 1);
    ck_assert_uint_eq(fake_http_request_count(receiver), 9);
    ck_assert(metric(&td, "leadhub_delivery_circuit_state{destination=\"out\"}") == 0);
    char *url = td_url(&td, "/readyz");
    struct http_result r;
    http_get(url, &r);
    ck_assert_msg(strstr(r.body, "\"out\":{\"circuit\":\"closed\"") != NULL, "%s", r.body);
    http_result_free(&r);
    free(url);

    /* and a good record after them goes at once, not after a cooldown */
    post_events(&td, "good", 1);
    struct status_wait done = {"done", 2};
    ck_assert(td_wait_until(deliveries_reach, &done, 20000));
}
END_TEST

START_TEST(test_two_daemons_share_deliveries_without_sending_twice)
{
    fake_http_push(receiver, (struct fake_response){200, "{}", NULL, 2});
    start_pipeline(&td, NULL, fast_retries);
    db = testdb_connect(td.db_url);
    struct test_daemon second;
    start_pipeline(&second, td.db_url, fast_retries);
    post_events(&td, "shared", 2000);
    struct expect e = {2000};
    ck_assert(td_wait_until(all_events_received, &e, 120000));
    struct timespec settle = {1, 0};
    nanosleep(&settle, NULL);
    struct received r = tally();
    ck_assert_uint_eq(r.events, 2000);
    ck_assert_uint_eq(r.requests, 2000); /* no delivery sent twice while both live */

    /* and both took part */
    const struct test_daemon *daemons[] = {&td, &second};
    for (int i = 0; i < 2; i++) {
        char *url = td_url(daemons[i], "/metrics");
        struct http_result m;
        http_get(url, &m);
        const char *line = strstr(m.body, "leadhub_deliveries_total{destination=\"out\","
                                          "outcome=\"done\"} ");
        ck_assert_msg(line != NULL, "daemon %d delivered nothing", i);
        http_result_free(&m);
        free(url);
    }
    ck_assert_int_eq(td_stop(&second), 0);
    td_cleanup(&second);
}
END_TEST

START_TEST(test_sigterm_drains_in_flight_deliveries_and_loses_nothing)
{
    fake_http_push(receiver, (struct fake_response){200, "{}", NULL, 100});
    start_pipeline(&td, NULL, fast_retries);
    db = testdb_connect(td.db_url);
    post_events(&td, "drain", 200);
    size_t some = 10;
    ck_assert(td_wait_until(some_received, &some, 30000));
    ck_assert_int_eq(td_stop(&td), 0);
    /* everything recorded done was received; nothing received is left unrecorded */
    size_t received = tally().events;
    long done = deliveries("done");
    ck_assert_int_eq(done, (long)received);
    ck_assert_int_lt(done, 200);
    ck_assert_int_eq(deliveries("pending") + deliveries("retrying") + done, 200);

    ck_assert_int_eq(td_start(&td), 0);
    struct status_wait all = {"done", 200};
    ck_assert(td_wait_until(deliveries_reach, &all, 60000));
    struct received r = tally();
    ck_assert_uint_eq(r.events, 200);
    ck_assert_uint_eq(r.requests, 200); /* a graceful stop sends nothing twice */
}
END_TEST

/* Runs `command`, expecting exit 0 and `expected` in its output. */
static void run_expecting(const char *command, const char *expected)
{
    char *out = NULL;
    ck_assert_int_eq(tu_run(command, &out), 0);
    ck_assert_msg(strstr(out, expected) != NULL, "expected \"%s\" in:\n%s", expected, out);
    free(out);
}

START_TEST(test_replay_route_sends_history_through_a_new_route)
{
    start_pipeline(&td, NULL, fast_retries);
    db = testdb_connect(td.db_url);
    post_events(&td, "history", 5);
    struct status_wait done = {"done", 5};
    ck_assert(td_wait_until(deliveries_reach, &done, 20000));
    /* a second route to the same sink sends nothing new: each event has its delivery, and
     * the dry run says so too */
    char *config = tu_path(td.dir, "leadhub.yaml");
    char *command =
        util_printf("'%s' replay -c '%s' --route everything-out --since 1h", td_binary(), config);
    char *dry = util_printf("%s --dry-run", command);
    run_expecting(dry, "5 event(s) in range, 5 matched, 0 deliveries would be made");
    run_expecting(command, "5 event(s) in range, 5 matched, 0 deliveries made");
    ck_assert_int_eq(testdb_scalar(db, "SELECT count(*) FROM deliveries"), 5);

    /* two of them lost (as if the route had been added later for them): the dry run counts
     * exactly the two the real run then makes */
    PQclear(PQexec(db, "DELETE FROM deliveries WHERE id IN "
                       "(SELECT id FROM deliveries ORDER BY id LIMIT 2)"));
    run_expecting(dry, "5 matched, 2 deliveries would be made");
    ck_assert_int_eq(testdb_scalar(db, "SELECT count(*) FROM deliveries"), 3);
    run_expecting(command, "5 matched, 2 deliveries made");
    struct status_wait again = {"done", 5};
    ck_assert(td_wait_until(deliveries_reach, &again, 20000));
    ck_assert_uint_eq(fake_http_request_count(receiver), 7);

    /* all of them lost: all five are made again */
    PQclear(PQexec(db, "DELETE FROM deliveries"));
    run_expecting(dry, "5 matched, 5 deliveries would be made");
    run_expecting(command, "5 matched, 5 deliveries made");
    free(dry);
    free(command);
    free(config);
    ck_assert(td_wait_until(deliveries_reach, &again, 20000));
    ck_assert_uint_eq(fake_http_request_count(receiver), 12);
}
END_TEST

START_TEST(test_replay_names_what_the_config_has_when_a_name_is_not_in_it)
{
    start_pipeline(&td, NULL, fast_retries);
    char *config = tu_path(td.dir, "leadhub.yaml");
    /* a destination no sink has: still exit 0 (nothing dead for it), with a warning */
    char *command = util_printf("'%s' replay -c '%s' --destination nosuch 2>&1 >/dev/null",
                                td_binary(), config);
    run_expecting(command, "warning: no sink named \"nosuch\"");
    run_expecting(command, "(sinks: out)");
    free(command);
    command = util_printf("'%s' replay -c '%s' --destination nosuch", td_binary(), config);
    run_expecting(command, "re-queued 0 dead deliveries");
    free(command);
    /* an instance that is not a sink */
    command = util_printf("'%s' replay -c '%s' --destination inbound", td_binary(), config);
    run_expecting(command, "warning: instance \"inbound\" is not a sink");
    free(command);
    /* a real sink: no warning */
    command = util_printf("'%s' replay -c '%s' --destination out", td_binary(), config);
    char *out = NULL;
    ck_assert_int_eq(tu_run(command, &out), 0);
    ck_assert_msg(strstr(out, "warning") == NULL, "%s", out);
    free(out);
    free(command);
    /* a route the config does not have: exit 1, with the ones it has */
    command = util_printf("'%s' replay -c '%s' --route nosuch --since 1h", td_binary(), config);
    ck_assert_int_eq(tu_run(command, &out), 1);
    ck_assert_msg(strstr(out, "no route named \"nosuch\"") != NULL &&
                      strstr(out, "(routes: everything-out)") != NULL,
                  "%s", out);
    free(out);
    free(command);
    free(config);
}
END_TEST

/*
 * PostgreSQL prints a jsonb 1e20 back as 100000000000000000000, an integer too big for
 * jansson's default decode: such an event is still delivered. A stored event that cannot
 * be decoded at all (1e400, which jsonb takes) goes dead at once with the reason instead
 * of staying pending, unattempted, for ever; sixty of them at the head of the queue (more
 * than a claim) do not hold back the events behind them.
 */
START_TEST(test_events_with_huge_numbers_are_delivered_and_undecodable_ones_go_dead)
{
    start_pipeline(&td, NULL, fast_retries);
    db = testdb_connect(td.db_url);
    ck_assert_int_eq(td_post(&td, "inbound", SECRET,
                             "{\"type\":\"lead.created\",\"source_id\":\"big\","
                             "\"occurred_at\":\"2026-11-27T10:00:00Z\","
                             "\"lead\":{\"email\":\"big@example.com\"},"
                             "\"raw\":{\"amount\":1e20,\"count\":3}}",
                             NULL),
                     200);
    struct one_wait big_done = {"big", "done"};
    ck_assert_msg(td_wait_until(delivery_of_is, &big_done, 30000), "the 1e20 event is %s",
                  delivery_status_of("big"));
    ck_assert_uint_eq(fake_http_request_count(receiver), 1);
    struct fake_request sent = fake_http_request(receiver, 0);
    json_t *event = json_loads(sent.body, 0, NULL);
    ck_assert_msg(event != NULL, "%s", sent.body);
    json_t *amount = json_object_get(json_object_get(event, "raw"), "amount");
    ck_assert(json_is_number(amount));
    ck_assert(json_number_value(amount) == 1e20);
    json_decref(event);
    fake_http_request_free(&sent);

    /* written as an older version or a manual fix might have: jsonb takes 1e400 */
    PQclear(PQexec(db, "INSERT INTO events (source, source_id, type, occurred_at, payload) "
                       "SELECT 'inbound', 'huge-' || g, 'lead.created', now(), "
                       "('{\"type\":\"lead.created\",\"source\":\"inbound\",\"source_id\":"
                       "\"huge-' || g || '\",\"occurred_at\":\"2026-11-27T10:00:00.000Z\","
                       "\"raw\":{\"n\":1e400}}')::jsonb FROM generate_series(1, 60) g"));
    ck_assert_int_eq(testdb_scalar(db, "SELECT count(*) FROM events"), 61);
    PQclear(PQexec(db, "INSERT INTO deliveries (event_id, destination, route) SELECT id, 'out', "
                       "'everything-out' FROM events WHERE source_id LIKE 'huge-%'"));
    /* and an event behind them */
    post_events(&td, "after", 1);
    struct one_wait after_done = {"after-0", "done"};
    ck_assert_msg(td_wait_until(delivery_of_is, &after_done, 30000), "the event behind is %s",
                  delivery_status_of("after-0"));
    struct status_wait dead = {"dead", 60};
    ck_assert(td_wait_until(deliveries_reach, &dead, 30000));
    ck_assert_int_eq(testdb_scalar(db, "SELECT count(*) FROM deliveries WHERE status = 'dead' "
                                       "AND attempts = 1 AND last_error LIKE "
                                       "'the stored event cannot be decoded%'"),
                     60);
    /* never sent: the receiver got the two readable events only */
    ck_assert_uint_eq(fake_http_request_count(receiver), 2);
    ck_assert(metric(&td, "leadhub_deliveries_total{destination=\"out\",outcome=\"dead\"}") == 60);
}
END_TEST

struct gauge_wait {
    const char *series;
    double at_least; /* reached when the value is >= at_least ... */
    double at_most;  /* ... and <= at_most */
};

static bool gauge_reaches(void *arg)
{
    const struct gauge_wait *w = arg;
    double value = metric(&td, w->series);
    return value >= w->at_least && value <= w->at_most;
}

/* The queue gauges are sampled every 5 s; a destination whose queue drained, or whose
 * dead letters were replayed, reads 0 rather than the last value it had. */
START_TEST(test_queue_gauges_return_to_zero_when_the_queue_drains)
{
    static const char depth[] = "leadhub_delivery_queue_depth{destination=\"out\"}";
    static const char dead_gauge[] = "leadhub_deliveries_dead{destination=\"out\"}";
    static const char oldest[] = "leadhub_delivery_oldest_due_seconds{destination=\"out\"}";
    fake_http_push(receiver, (struct fake_response){503, "{\"error\":\"down\"}", NULL, 0});
    start_pipeline(&td, NULL,
                   "  backoff_base: 20ms\n  backoff_cap: 200ms\n  max_attempts: 1000\n"
                   "  breaker_failures: 1000\n");
    db = testdb_connect(td.db_url);
    post_events(&td, "gauge", 5);
    struct gauge_wait filled = {depth, 1, 5};
    ck_assert_msg(td_wait_until(gauge_reaches, &filled, 30000), "queue depth %g",
                  metric(&td, depth));

    /* the receiver recovers: everything is done, nothing is waiting */
    fake_http_push(receiver, (struct fake_response){200, "{}", NULL, 0});
    struct status_wait done = {"done", 5};
    ck_assert(td_wait_until(deliveries_reach, &done, 30000));
    struct gauge_wait drained = {depth, 0, 0};
    ck_assert_msg(td_wait_until(gauge_reaches, &drained, 30000), "queue depth %g after draining",
                  metric(&td, depth));
    ck_assert(metric(&td, oldest) == 0);

    /* dead letters count until they are replayed and delivered */
    fake_http_push(receiver, (struct fake_response){422, "{\"error\":\"no\"}", NULL, 0});
    post_events(&td, "gauge-dead", 2);
    struct status_wait dead = {"dead", 2};
    ck_assert(td_wait_until(deliveries_reach, &dead, 30000));
    struct gauge_wait two_dead = {dead_gauge, 2, 2};
    ck_assert_msg(td_wait_until(gauge_reaches, &two_dead, 30000), "dead gauge %g",
                  metric(&td, dead_gauge));
    fake_http_push(receiver, (struct fake_response){200, "{}", NULL, 0});
    char *config = tu_path(td.dir, "leadhub.yaml");
    char *command = util_printf("'%s' replay -c '%s' --destination out", td_binary(), config);
    char *out = NULL;
    ck_assert_int_eq(tu_run(command, &out), 0);
    ck_assert_msg(strstr(out, "re-queued 2 dead deliveries") != NULL, "%s", out);
    free(out);
    free(command);
    free(config);
    struct status_wait all = {"done", 7};
    ck_assert(td_wait_until(deliveries_reach, &all, 30000));
    struct gauge_wait none_dead = {dead_gauge, 0, 0};
    ck_assert_msg(td_wait_until(gauge_reaches, &none_dead, 30000), "dead gauge %g after replay",
                  metric(&td, dead_gauge));
    ck_assert(metric(&td, depth) == 0);
}
END_TEST

/*
 * A sink that declares LH_PLUGIN_ORDERED gets one lead's deliveries in event order: while
 * a lead's create is failing (500, three times), its update waits, and reaches the
 * receiver only after the create was accepted. With the plain claim the update, claimed
 * with the create, would go at once.
 */
START_TEST(test_an_ordered_sink_gets_each_leads_update_only_after_its_create)
{
    enum { LEADS = 5 };
    for (int i = 0; i < LEADS; i++) {
        char path[32];
        snprintf(path, sizeof(path), "/o/create-%d", i);
        fake_http_route(receiver, path, (struct fake_response){500, "{}", NULL, 0}, 3);
    }
    fake_http_route(receiver, "/o/*", (struct fake_response){200, "{}", NULL, 0}, 0);
    start_fixture_pipeline(&td, "ordered_sink", "/o", fast_retries);
    db = testdb_connect(td.db_url);
    struct strbuf body = {0};
    strbuf_append(&body, "[");
    for (int i = 0; i < LEADS; i++) {
        strbuf_appendf(&body,
                       "%s{\"type\":\"lead.created\",\"source_id\":\"create-%d\","
                       "\"occurred_at\":\"2026-11-27T10:00:00Z\","
                       "\"lead\":{\"email\":\"ordered%d@example.com\"}},"
                       "{\"type\":\"lead.updated\",\"source_id\":\"update-%d\","
                       "\"occurred_at\":\"2026-11-27T10:05:00Z\","
                       "\"lead\":{\"email\":\"ordered%d@example.com\",\"company\":\"Initech\"}}",
                       i > 0 ? "," : "", i, i, i, i);
    }
    strbuf_append(&body, "]");
    ck_assert_int_eq(td_post(&td, "inbound", SECRET, strbuf_value(&body), NULL), 200);
    strbuf_free(&body);
    ck_assert_int_eq(testdb_scalar(db, "SELECT count(DISTINCT lead_id) FROM deliveries"), LEADS);
    struct status_wait done = {"done", 2 * LEADS};
    ck_assert(td_wait_until(deliveries_reach, &done, 60000));

    /* per lead: four creates (three refused), then its one update */
    for (int i = 0; i < LEADS; i++) {
        char create[32], update[32];
        snprintf(create, sizeof(create), "/o/create-%d", i);
        snprintf(update, sizeof(update), "/o/update-%d", i);
        size_t creates = 0, updates = 0, accepted_at = 0, update_at = 0;
        for (size_t k = 0; k < fake_http_request_count(receiver); k++) {
            struct fake_request r = fake_http_request(receiver, k);
            if (strcmp(r.url, create) == 0 && ++creates == 4) {
                accepted_at = k;
            } else if (strcmp(r.url, update) == 0) {
                updates++;
                update_at = k;
                ck_assert_msg(creates == 4,
                              "lead %d: its update was sent after %zu of its 4 create attempts", i,
                              creates);
            }
            fake_http_request_free(&r);
        }
        ck_assert_uint_eq(creates, 4);
        ck_assert_uint_eq(updates, 1);
        ck_assert_uint_gt(update_at, accepted_at);
    }
}
END_TEST

struct progress {
    long done;
    size_t requests;
};

static bool some_done(void *arg)
{
    struct progress *p = arg;
    p->done = deliveries("done");
    p->requests = fake_http_request_count(receiver);
    return p->done > 0;
}

/*
 * A worker commits what it sent once its transaction is two seconds old, instead of
 * holding a whole claim (50 rows, each up to the sink's timeout) locked and unrecorded.
 * One worker (the fixture is not reentrant), a receiver taking 400 ms per answer, twenty
 * deliveries claimed at once: outcomes are recorded while most are still to be sent. In
 * one transaction, nothing would be done until all twenty were.
 */
START_TEST(test_a_slow_destination_gets_its_outcomes_committed_as_it_goes)
{
    fake_http_push(receiver, (struct fake_response){200, "{}", NULL, 400});
    start_fixture_pipeline(&td, "ordered_sink", "/slow", fast_retries);
    db = testdb_connect(td.db_url);
    struct strbuf body = {0};
    strbuf_append(&body, "[");
    for (int i = 0; i < 20; i++) {
        strbuf_appendf(&body,
                       "%s{\"type\":\"email.received\",\"source_id\":\"slow-%d\","
                       "\"occurred_at\":\"2026-11-27T10:00:00Z\"}",
                       i > 0 ? "," : "", i);
    }
    strbuf_append(&body, "]");
    ck_assert_int_eq(td_post(&td, "inbound", SECRET, strbuf_value(&body), NULL), 200);
    strbuf_free(&body);
    struct progress first = {0};
    ck_assert(td_wait_until(some_done, &first, 60000));
    ck_assert_msg(first.requests < 20, "nothing was recorded done until all %zu were sent",
                  first.requests);
    struct status_wait all = {"done", 20};
    ck_assert(td_wait_until(deliveries_reach, &all, 60000));
    struct timespec settle = {0, 500 * 1000000L};
    nanosleep(&settle, NULL);
    ck_assert_uint_eq(fake_http_request_count(receiver), 20); /* and each sent once */
}
END_TEST

struct body_wait {
    const char *path;
    const char *needle;
    bool present;
};

static bool body_says(void *arg)
{
    const struct body_wait *w = arg;
    char *url = td_url(&td, w->path);
    struct http_result r;
    http_get(url, &r);
    bool found = r.body != NULL && strstr(r.body, w->needle) != NULL;
    http_result_free(&r);
    free(url);
    return found == w->present;
}

/*
 * A sink that answers LH_CONFIG (the destination refuses the instance's configuration:
 * here a 403) has its deliveries held, not dead-lettered: no attempt is spent, however
 * many times the destination refuses, so they all go once the configuration is fixed. Its
 * lane shows why in /readyz and a gauge until an attempt succeeds. Readiness itself stays:
 * every replica shares the configuration, and taking them all out of service would stop
 * the webhooks too.
 */
START_TEST(test_a_sink_refusing_its_configuration_is_held_and_shown_misconfigured)
{
    static const char gauge[] = "leadhub_delivery_misconfigured{destination=\"out\"}";
    fake_http_push(receiver, (struct fake_response){403, "{}", NULL, 0});
    /* two attempts would kill a refused delivery: four refusals must not */
    start_fixture_pipeline(&td, "ordered_sink", "/cfg",
                           "  backoff_base: 20ms\n  backoff_cap: 200ms\n  max_attempts: 2\n"
                           "  breaker_failures: 1000\n");
    db = testdb_connect(td.db_url);
    post_events(&td, "cfg", 1);
    struct body_wait shown = {"/readyz",
                              "\"misconfigured\":\"HTTP 403: the destination refuses this "
                              "configuration\"",
                              true};
    ck_assert(td_wait_until(body_says, &shown, 30000));
    size_t some = 4;
    ck_assert(td_wait_until(some_received, &some, 30000));
    ck_assert_int_eq(deliveries("dead"), 0);
    ck_assert_int_eq(deliveries("retrying"), 1);
    ck_assert_int_eq(testdb_scalar(db, "SELECT attempts FROM deliveries"), 0);
    ck_assert_int_ge(testdb_scalar(db, "SELECT holds FROM deliveries"), 3);
    char *reason = testdb_text(db, "SELECT hold_reason FROM deliveries");
    ck_assert_msg(reason != NULL && strstr(reason, "refuses this configuration") != NULL, "%s",
                  reason != NULL ? reason : "(null)");
    free(reason);
    ck_assert(metric(&td, gauge) == 1);
    char *url = td_url(&td, "/readyz");
    struct http_result r;
    http_get(url, &r);
    ck_assert_int_eq(r.status, 200);
    http_result_free(&r);
    free(url);
    char *log = td_log(&td);
    ck_assert_ptr_nonnull(strstr(log, "the destination refuses this instance's configuration"));
    free(log);

    /* fixed at the destination: delivered, and no longer shown */
    fake_http_push(receiver, (struct fake_response){200, "{}", NULL, 0});
    struct status_wait done = {"done", 1};
    ck_assert(td_wait_until(deliveries_reach, &done, 30000));
    struct body_wait cleared = {"/readyz", "misconfigured", false};
    ck_assert(td_wait_until(body_says, &cleared, 30000));
    ck_assert(metric(&td, gauge) == 0);
}
END_TEST

static bool poll_in_flight(void *arg)
{
    struct fake_http *provider = arg;
    size_t n = fake_http_request_count(provider);
    if (n == 0) {
        return false;
    }
    struct fake_request last = fake_http_request(provider, n - 1);
    /* the provider answers 4 s after a request: this poll has 2 s or more to go */
    bool young = util_monotonic_ms() - last.at_ms < 2000;
    fake_http_request_free(&last);
    return young;
}

/*
 * On SIGTERM the lanes stop claiming first, before the HTTP drain, the polls in progress
 * and ingest: a daemon on its way out sends only what was already in flight. Here a poll
 * whose provider answers after 4 s holds the drain for seconds while 400 deliveries wait:
 * none may reach the receiver after the first second of the drain.
 */
START_TEST(test_sigterm_stops_claiming_deliveries_before_draining_the_rest)
{
    struct fake_http *provider = fake_http_start();
    ck_assert_ptr_nonnull(provider);
    fake_http_push(provider,
                   (struct fake_response){200, "{\"events\":[],\"next\":null}", NULL, 4000});
    fake_http_push(receiver, (struct fake_response){200, "{}", NULL, 200});
    td_init(&td, NULL);
    char *plugins = tu_path(td.dir, "plugins");
    char *copy = util_printf("mkdir -p '%s' && cp '%s/tests/fixtures/paging_source.so' '%s/'",
                             plugins, tu_build_dir(), plugins);
    ck_assert_int_eq(tu_run(copy, NULL), 0);
    free(copy);
    td.extra_plugin_dir = plugins;
    char *leads = fake_http_url(provider, "/leads");
    char *pager = util_printf("name: pager\nplugin: paging_source\npoll_interval: 1s\n"
                              "settings:\n  url: %s\n",
                              leads);
    td_connector(&td, "pager", pager);
    free(pager);
    free(leads);
    td_webhook_instance(&td, "inbound", SECRET);
    setenv("LHTEST_OUT_SECRET", OUT_SECRET, 1);
    char *url = fake_http_url(receiver, "/events");
    char *out = util_printf("name: out\nplugin: http\nsettings:\n  url: %s\n"
                            "  secret: ${LHTEST_OUT_SECRET}\n  timeout: 5s\n",
                            url);
    td_connector(&td, "out", out);
    free(out);
    free(url);
    td.extra_main = util_printf("routes:\n  - name: everything-out\n    from: inbound\n"
                                "    types: [\"*\"]\n    to: [out]\ndelivery:\n%s",
                                fast_retries);
    ck_assert_int_eq(td_start(&td), 0);
    db = testdb_connect(td.db_url);
    post_events(&td, "quiesce", 400);
    size_t some = 8;
    ck_assert(td_wait_until(some_received, &some, 30000));
    ck_assert(td_wait_until(poll_in_flight, provider, 30000));

    long long signalled = util_monotonic_ms();
    ck_assert_int_eq(td_stop(&td), 0);
    long long stopped = util_monotonic_ms();
    /* the drain did wait for the poll: the window below was there to fill */
    ck_assert_msg(stopped - signalled >= 1500, "stopped %lld ms after SIGTERM",
                  stopped - signalled);
    size_t late = 0, requests = fake_http_request_count(receiver);
    for (size_t i = 0; i < requests; i++) {
        struct fake_request r = fake_http_request(receiver, i);
        late += r.at_ms > signalled + 1000;
        fake_http_request_free(&r);
    }
    ck_assert_msg(late == 0, "%zu deliveries were sent more than 1 s into the drain", late);
    /* and nothing is lost: what was received is recorded done, the rest waits */
    long done = deliveries("done");
    ck_assert_int_eq(done, (long)tally().events);
    ck_assert_int_eq(deliveries("pending") + deliveries("retrying") + done, 400);
    fake_http_stop(provider);
}
END_TEST

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    Suite *s = suite_create("delivery");
    TCase *tc = tcase_create("delivery");
    tcase_set_timeout(tc, 600);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_10000_routed_events_arrive_exactly_once);
    tcase_add_test(tc, test_kill_9_mid_delivery_then_restart_delivers_every_event_dedupably);
    tcase_add_test(tc, test_failing_receiver_is_retried_until_it_recovers);
    tcase_add_test(tc, test_receiver_failing_forever_goes_dead_then_replay_delivers);
    tcase_add_test(tc,
                   test_a_destination_asking_to_wait_holds_deliveries_without_spending_attempts);
    tcase_add_test(tc, test_a_hold_that_never_ends_is_dead_after_max_hold_and_shows_why_meanwhile);
    tcase_add_test(tc, test_permanent_rejection_is_dead_at_once);
    tcase_add_test(tc, test_circuit_opens_on_a_failing_destination_and_closes_after_it_recovers);
    tcase_add_test(tc, test_two_daemons_share_deliveries_without_sending_twice);
    tcase_add_test(tc, test_replay_route_sends_history_through_a_new_route);
    tcase_add_test(tc, test_replay_names_what_the_config_has_when_a_name_is_not_in_it);
    suite_add_tcase(s, tc);
    TCase *shutdown = tcase_create("shutdown");
    tcase_set_timeout(shutdown, 600);
    tcase_add_checked_fixture(shutdown, setup, teardown);
    tcase_add_test(shutdown, test_sigterm_drains_in_flight_deliveries_and_loses_nothing);
    tcase_add_test(shutdown, test_sigterm_stops_claiming_deliveries_before_draining_the_rest);
    suite_add_tcase(s, shutdown);
    /* the circuit with the default delivery settings (CK_RUN_CASE=breaker) */
    TCase *breaker = tcase_create("breaker");
    tcase_set_timeout(breaker, 600);
    tcase_add_checked_fixture(breaker, setup, teardown);
    tcase_add_test(breaker, test_permanent_failures_leave_the_circuit_closed_with_default_settings);
    suite_add_tcase(s, breaker);
    /* how a lane treats what it claims (CK_RUN_CASE=lanes runs these alone) */
    TCase *lanes = tcase_create("lanes");
    tcase_set_timeout(lanes, 600);
    tcase_add_checked_fixture(lanes, setup, teardown);
    tcase_add_test(lanes, test_events_with_huge_numbers_are_delivered_and_undecodable_ones_go_dead);
    tcase_add_test(lanes, test_queue_gauges_return_to_zero_when_the_queue_drains);
    tcase_add_test(lanes, test_an_ordered_sink_gets_each_leads_update_only_after_its_create);
    tcase_add_test(lanes, test_a_slow_destination_gets_its_outcomes_committed_as_it_goes);
    tcase_add_test(lanes, test_a_sink_refusing_its_configuration_is_held_and_shown_misconfigured);
    suite_add_tcase(s, lanes);
    int rc = tu_run_suite(s);
    curl_global_cleanup();
    return rc;
}
