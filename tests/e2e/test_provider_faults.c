/*
 * test_provider_faults.c - the real daemon against providers that misbehave the way real
 * ones do (tests/lib/fake_http scripts each fault): 429 with Retry-After, 500, 503 for
 * good, answers slower than the timeout, connection resets, connections closed without an
 * answer, malformed and oversized bodies, an expired token (401). The `http` sink and a
 * polling source (the paging_source fixture) must retry, back off, dead-letter what will
 * never succeed, store and deliver everything else exactly as promised, and never crash.
 *
 * `make soak` (LEADHUB_SOAK=1) runs the random-fault delivery test with 5,000 events
 * instead of 300.
 */
#include <check.h>
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon_harness.h"
#include "fake_http.h"
#include "http_client.h"
#include "reaper.h"
#include "testdb.h"
#include "testutil.h"
#include "util.h"

#define SECRET     "faults-secret-2b8e"
#define OUT_SECRET "faults-receiver-secret"

static struct fake_http *provider;
static struct fake_http *oauth_provider; /* requires a bearer token the sink does not have */
static struct test_daemon td;
static PGconn *db;

static bool soak(void)
{
    const char *value = getenv("LEADHUB_SOAK");
    return value != NULL && value[0] != '\0' && strcmp(value, "0") != 0;
}

static void setup(void)
{
    reaper_start(); /* a failed check must not leave the daemon running */
    provider = fake_http_start();
    oauth_provider = fake_http_start();
    ck_assert_ptr_nonnull(provider);
    ck_assert_ptr_nonnull(oauth_provider);
    db = NULL;
}

static void teardown(void)
{
    if (db != NULL) {
        PQfinish(db);
    }
    if (td.pid != 0) {
        /* whatever the providers did, the daemon is alive and stops cleanly */
        char *url = td_url(&td, "/healthz");
        struct http_result r;
        http_get(url, &r);
        ck_assert_int_eq(r.status, 200);
        http_result_free(&r);
        free(url);
        int status = td_stop(&td);
        if (status != 0) {
            char *log = td_log(&td);
            size_t len = strlen(log);
            fprintf(stderr, "daemon exit %d; log ends:\n%s\n", status,
                    len > 6000 ? log + len - 6000 : log);
            free(log);
        }
        ck_assert_int_eq(status, 0);
    }
    td_cleanup(&td);
    reaper_release();
    fake_http_stop(provider);
    fake_http_stop(oauth_provider);
}

static void add_sink(struct strbuf *routes, const char *name, const struct fake_http *server,
                     const char *extra_settings)
{
    char *path = util_printf("/%s", name);
    char *url = fake_http_url(server, path);
    char *yaml = util_printf("name: %s\nplugin: http\nsettings:\n  url: %s\n"
                             "  secret: ${LHTEST_FAULTS_OUT_SECRET}\n  timeout: 1s\n%s",
                             name, url, extra_settings != NULL ? extra_settings : "");
    td_connector(&td, name, yaml);
    strbuf_appendf(routes,
                   "  - name: to-%s\n    from: inbound\n    types: [\"*\"]\n"
                   "    where:\n      source_id: {matches: \"%s*\"}\n    to: [%s]\n",
                   name, name, name);
    free(yaml);
    free(url);
    free(path);
}

static void post_event(const char *source_id)
{
    char *body = util_printf("{\"type\":\"lead.created\",\"source_id\":\"%s\","
                             "\"occurred_at\":\"2026-11-27T10:00:00Z\","
                             "\"lead\":{\"email\":\"%s@example.com\"}}",
                             source_id, source_id);
    ck_assert_int_eq(td_post(&td, "inbound", SECRET, body, NULL), 200);
    free(body);
}

struct final_wait {
    const char *source_id;
    const char *status;
};

static bool delivery_is(void *arg)
{
    const struct final_wait *w = arg;
    const char *params[] = {w->source_id, w->status};
    PGresult *r = PQexecParams(db,
                               "SELECT count(*) FROM deliveries d JOIN events e ON "
                               "e.id = d.event_id WHERE e.source_id = $1 AND d.status = $2",
                               2, NULL, params, NULL, NULL, 0);
    bool done = PQresultStatus(r) == PGRES_TUPLES_OK && strcmp(PQgetvalue(r, 0, 0), "1") == 0;
    PQclear(r);
    return done;
}

static void wait_delivery(const char *source_id, const char *status)
{
    struct final_wait w = {source_id, status};
    if (!td_wait_until(delivery_is, &w, 60000)) {
        char *sql = util_printf("SELECT d.status || ' after ' || d.attempts || ': ' || "
                                "coalesce(d.last_error, '') FROM deliveries d JOIN events e ON "
                                "e.id = d.event_id WHERE e.source_id = '%s'",
                                source_id);
        char *state = testdb_text(db, sql);
        ck_abort_msg("delivery of %s is not %s: %s", source_id, status, state);
    }
}

/* A counter of the delivery of the event with source_id: "attempts" or "holds". */
static long counter_of(const char *column, const char *source_id)
{
    char *sql = util_printf("SELECT d.%s FROM deliveries d JOIN events e ON "
                            "e.id = d.event_id WHERE e.source_id = '%s'",
                            column, source_id);
    long n = testdb_scalar(db, sql);
    free(sql);
    return n;
}

static long attempts_of(const char *source_id)
{
    return counter_of("attempts", source_id);
}

static char *last_error_of(const char *source_id)
{
    char *sql = util_printf("SELECT coalesce(d.last_error, '') FROM deliveries d JOIN events e "
                            "ON e.id = d.event_id WHERE e.source_id = '%s'",
                            source_id);
    char *text = testdb_text(db, sql);
    free(sql);
    return text;
}

/* The requests a server got for one path, and the times they arrived. */
static size_t requests_for(struct fake_http *server, const char *path, long long *at_ms, size_t max)
{
    size_t found = 0;
    size_t count = fake_http_request_count(server);
    for (size_t i = 0; i < count; i++) {
        struct fake_request r = fake_http_request(server, i);
        if (r.url != NULL && strcmp(r.url, path) == 0) {
            if (found < max && at_ms != NULL) {
                at_ms[found] = r.at_ms;
            }
            found++;
        }
        fake_http_request_free(&r);
    }
    return found;
}

START_TEST(test_http_sink_retries_backs_off_and_dead_letters_each_provider_fault)
{
    /* what each destination does; after its faults it answers 200 (unless said) */
    fake_http_route(provider, "/s429",
                    (struct fake_response){429, "{\"error\":\"slow down\"}", "Retry-After: 1", 0},
                    1);
    fake_http_route(
        provider, "/s500",
        (struct fake_response){500, "<html><body>Internal Server Error</body>", NULL, 0}, 2);
    fake_http_route(provider, "/s503", (struct fake_response){503, "{\"error\":\"down\"}", NULL, 0},
                    0);
    fake_http_route(provider, "/sslow", (struct fake_response){200, "{}", NULL, 2500}, 1);
    fake_http_route(provider, "/sreset", (struct fake_response){FAKE_RESET, NULL, NULL, 0}, 1);
    fake_http_route(provider, "/sclose", (struct fake_response){FAKE_CLOSE, NULL, NULL, 0}, 1);
    fake_http_route(provider, "/smalformed",
                    (struct fake_response){200, "{\"ok\": tru\x01\xff", NULL, 0}, 0);
    /* a refusal with a large binary body: the error kept must stay short and printable */
    size_t garbage_len = 100000;
    char *garbage = malloc(garbage_len + 1);
    for (size_t i = 0; i < garbage_len; i++) {
        garbage[i] = (char)(1 + (i * 7919) % 255);
    }
    garbage[garbage_len] = '\0';
    fake_http_route(provider, "/sgarbage", (struct fake_response){502, garbage, NULL, 0}, 1);
    free(garbage);
    fake_http_route(provider, "/*", (struct fake_response){200, "{}", NULL, 0}, 0);
    /* the token the sink has expired: the provider only takes a newer one */
    fake_http_require_bearer(oauth_provider, "fresh-token");

    td_init(&td, NULL);
    td_webhook_instance(&td, "inbound", SECRET);
    setenv("LHTEST_FAULTS_OUT_SECRET", OUT_SECRET, 1);
    setenv("LHTEST_FAULTS_TOKEN", "expired-token", 1);
    struct strbuf routes = {0};
    strbuf_append(&routes, "routes:\n");
    static const char *const sinks[] = {"s429",   "s500",   "s503",       "sslow",
                                        "sreset", "sclose", "smalformed", "sgarbage"};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(sinks); i++) {
        add_sink(&routes, sinks[i], provider, NULL);
    }
    add_sink(&routes, "s401", oauth_provider, "  bearer_token: ${LHTEST_FAULTS_TOKEN}\n");
    strbuf_append(&routes, "delivery:\n  backoff_base: 50ms\n  backoff_cap: 200ms\n"
                           "  max_attempts: 4\n  breaker_failures: 1000\n");
    td.extra_main = strbuf_take(&routes);
    ck_assert_int_eq(td_start(&td), 0);
    reaper_watch_pid(td.pid);
    db = testdb_connect(td.db_url);

    for (size_t i = 0; i < UTIL_ARRAY_LEN(sinks); i++) {
        post_event(sinks[i]);
    }
    post_event("s401");

    /* 429: held, retried once, no sooner than Retry-After says; waiting spent no attempt */
    wait_delivery("s429", "done");
    long long at[8];
    ck_assert_uint_eq(requests_for(provider, "/s429", at, 8), 2);
    ck_assert_msg(at[1] - at[0] >= 900, "retried %lld ms after a 429 with Retry-After: 1",
                  at[1] - at[0]);
    ck_assert_int_eq(attempts_of("s429"), 1);
    ck_assert_int_eq(counter_of("holds", "s429"), 1);
    /* 500 twice: retried with backoff, then done */
    wait_delivery("s500", "done");
    ck_assert_int_eq(attempts_of("s500"), 3);
    ck_assert_uint_eq(requests_for(provider, "/s500", NULL, 0), 3);
    /* 503 for good: dead after max_attempts, the reason kept for replay */
    wait_delivery("s503", "dead");
    ck_assert_int_eq(attempts_of("s503"), 4);
    ck_assert_uint_eq(requests_for(provider, "/s503", NULL, 0), 4);
    char *error = last_error_of("s503");
    ck_assert_msg(strstr(error, "503") != NULL && strstr(error, "gave up after 4 attempts"), "%s",
                  error);
    free(error);
    /* slower than the sink's 1 s timeout: abandoned, retried, done */
    wait_delivery("sslow", "done");
    ck_assert_int_eq(attempts_of("sslow"), 2);
    /* reset, and closed without an answer: transport failures, retried */
    wait_delivery("sreset", "done");
    ck_assert_int_eq(attempts_of("sreset"), 2);
    wait_delivery("sclose", "done");
    ck_assert_int_eq(attempts_of("sclose"), 2);
    /* a 2xx with a body that is not JSON is still an acceptance */
    wait_delivery("smalformed", "done");
    ck_assert_int_eq(attempts_of("smalformed"), 1);
    /* a 502 with 100 kB of binary: retried, and nothing unprintable or long was kept */
    wait_delivery("sgarbage", "done");
    ck_assert_int_eq(attempts_of("sgarbage"), 2);
    /* 401 with a static token: nothing to refresh, dead at once */
    wait_delivery("s401", "dead");
    ck_assert_int_eq(attempts_of("s401"), 1);
    error = last_error_of("s401");
    ck_assert_msg(strstr(error, "HTTP 401") != NULL, "%s", error);
    ck_assert_ptr_null(strstr(error, "expired-token"));
    free(error);
    ck_assert_int_eq(testdb_scalar(db, "SELECT count(*) FROM deliveries WHERE "
                                       "length(coalesce(last_error, '')) > 600 OR "
                                       "last_error ~ '[\\x01-\\x08\\x0b-\\x1f\\x7f]'"),
                     0);
    char *log = td_log(&td);
    ck_assert_ptr_null(strstr(log, "expired-token"));
    free(log);
}
END_TEST

/* The bearer tokens a server was sent on `path`, in order, joined by spaces. */
static char *bearers_for(struct fake_http *server, const char *path)
{
    struct strbuf out = {0};
    size_t count = fake_http_request_count(server);
    for (size_t i = 0; i < count; i++) {
        struct fake_request r = fake_http_request(server, i);
        if (r.url != NULL && strcmp(r.url, path) == 0) {
            strbuf_appendf(&out, "%s%s", out.len ? " " : "",
                           r.authorization != NULL ? r.authorization + strlen("Bearer ") : "-");
        }
        fake_http_request_free(&r);
    }
    return strbuf_take(&out);
}

START_TEST(test_a_refused_host_token_is_refreshed_and_only_refused_deliveries_go_again)
{
    /* the token endpoint hands out t1, then t2; the CRM refuses the first request (t1 went
     * stale there) and takes the rest */
    fake_http_route(
        oauth_provider, "/token",
        (struct fake_response){200, "{\"access_token\":\"t1\",\"expires_in\":3600}", NULL, 0}, 1);
    fake_http_route(
        oauth_provider, "/token",
        (struct fake_response){200, "{\"access_token\":\"t2\",\"expires_in\":3600}", NULL, 0}, 0);
    fake_http_route(provider, "/crm", (struct fake_response){401, "{}", NULL, 0}, 1);
    fake_http_route(provider, "/crm", (struct fake_response){200, "{}", NULL, 0}, 0);

    td_init(&td, NULL);
    char *plugins = tu_path(td.dir, "plugins");
    char *copy = util_printf("mkdir -p '%s' && cp '%s/tests/fixtures/oauth_sink.so' '%s/'", plugins,
                             tu_build_dir(), plugins);
    ck_assert_int_eq(tu_run(copy, NULL), 0);
    free(copy);
    td.extra_plugin_dir = plugins;
    td_webhook_instance(&td, "inbound", SECRET);
    char *url = fake_http_url(provider, "/crm");
    char *token_url = fake_http_url(oauth_provider, "/token");
    char *yaml = util_printf("name: crm\nplugin: oauth_sink\nsettings:\n  url: %s\n"
                             "  token_url: %s\n",
                             url, token_url);
    td_connector(&td, "crm", yaml);
    free(yaml);
    free(token_url);
    free(url);
    td.extra_main = strdup("routes:\n  - name: to-crm\n    from: inbound\n    types: [\"*\"]\n"
                           "    to: [crm]\n");
    ck_assert_int_eq(td_start(&td), 0);
    reaper_watch_pid(td.pid);
    db = testdb_connect(td.db_url);

    /* three events in one commit: their deliveries are claimed and sent as one batch */
    ck_assert_int_eq(td_post(&td, "inbound", SECRET,
                             "[{\"type\":\"lead.created\",\"source_id\":\"o1\",\"occurred_at\":"
                             "\"2026-11-27T10:00:00Z\",\"lead\":{\"email\":\"o1@example.com\"}},"
                             "{\"type\":\"lead.created\",\"source_id\":\"o2\",\"occurred_at\":"
                             "\"2026-11-27T10:00:00Z\",\"lead\":{\"email\":\"o2@example.com\"}},"
                             "{\"type\":\"lead.created\",\"source_id\":\"o3\",\"occurred_at\":"
                             "\"2026-11-27T10:00:00Z\",\"lead\":{\"email\":\"o3@example.com\"}}]",
                             NULL),
                     200);
    wait_delivery("o1", "done");
    wait_delivery("o2", "done");
    wait_delivery("o3", "done");
    /* one attempt each: the refused one went again at once with a fresh token, alone */
    ck_assert_int_eq(attempts_of("o1") + attempts_of("o2") + attempts_of("o3"), 3);
    ck_assert_uint_eq(requests_for(oauth_provider, "/token", NULL, 0), 2);
    char *bearers = bearers_for(provider, "/crm");
    ck_assert_str_eq(bearers, "t1 t1 t1 t2");
    free(bearers);
}
END_TEST

static const char page_1[] =
    "{\"events\":[{\"type\":\"lead.created\",\"source_id\":\"p1\",\"occurred_at\":"
    "\"2026-11-27T10:00:00Z\",\"lead\":{\"email\":\"p1@example.com\"}},"
    "{\"type\":\"lead.created\",\"source_id\":\"p2\",\"occurred_at\":\"2026-11-27T10:01:00Z\","
    "\"lead\":{\"email\":\"p2@example.com\"}}],\"next\":\"c1\"}";
static const char page_2[] =
    "{\"events\":[{\"type\":\"lead.updated\",\"source_id\":\"p3\",\"occurred_at\":"
    "\"2026-11-27T10:02:00Z\",\"lead\":{\"email\":\"p1@example.com\",\"company\":\"Initech\"}}],"
    "\"next\":null}";
static const char empty_page[] = "{\"events\":[],\"next\":null}";

static bool events_reach(void *arg)
{
    return testdb_scalar(db, "SELECT count(*) FROM events") >= *(long *)arg;
}

static bool requests_reach(void *arg)
{
    return fake_http_request_count(provider) >= *(size_t *)arg;
}

START_TEST(test_poller_survives_provider_faults_and_commits_each_page_once)
{
    /* first page: 500, 429 (Retry-After), reset: one poll's three attempts all fail */
    fake_http_route(provider, "/leads?after=0",
                    (struct fake_response){500, "{\"error\":\"boom\"}", NULL, 0}, 1);
    fake_http_route(provider, "/leads?after=0",
                    (struct fake_response){429, "{}", "Retry-After: 1", 0}, 1);
    fake_http_route(provider, "/leads?after=0", (struct fake_response){FAKE_RESET, NULL, NULL, 0},
                    1);
    /* next polls: a malformed page, a truncated one, an expired token, then the page */
    fake_http_route(provider, "/leads?after=0",
                    (struct fake_response){200, "{\"events\": [{\"type\":", NULL, 0}, 1);
    fake_http_route(provider, "/leads?after=0", (struct fake_response){200, "<html>", NULL, 0}, 1);
    fake_http_route(provider, "/leads?after=0",
                    (struct fake_response){401, "{\"error\":\"invalid_token\"}", NULL, 0}, 1);
    fake_http_route(provider, "/leads?after=0", (struct fake_response){200, page_1, NULL, 0}, 0);
    /* the second page's connection closes once: retried within the same poll */
    fake_http_route(provider, "/leads?after=c1", (struct fake_response){FAKE_CLOSE, NULL, NULL, 0},
                    1);
    fake_http_route(provider, "/leads?after=c1", (struct fake_response){200, page_2, NULL, 0}, 1);
    fake_http_route(provider, "/leads?after=c1", (struct fake_response){200, empty_page, NULL, 0},
                    0);

    td_init(&td, NULL);
    char *plugins = tu_path(td.dir, "plugins");
    char *copy = util_printf("mkdir -p '%s' && cp '%s/tests/fixtures/paging_source.so' '%s/'",
                             plugins, tu_build_dir(), plugins);
    ck_assert_int_eq(tu_run(copy, NULL), 0);
    free(copy);
    char *url = fake_http_url(provider, "/leads");
    char *pager = util_printf("name: pager\nplugin: paging_source\npoll_interval: 1s\n"
                              "settings:\n  url: %s\n",
                              url);
    td_connector(&td, "pager", pager);
    td.extra_plugin_dir = plugins;
    free(pager);
    free(url);
    ck_assert_int_eq(td_start(&td), 0);
    reaper_watch_pid(td.pid);
    db = testdb_connect(td.db_url);

    long three = 3;
    ck_assert_msg(td_wait_until(events_reach, &three, 60000), "only %ld events stored",
                  testdb_scalar(db, "SELECT count(*) FROM events"));
    /* a few more polls of the empty page: nothing is stored twice */
    size_t more = fake_http_request_count(provider) + 2;
    ck_assert(td_wait_until(requests_reach, &more, 20000));
    ck_assert_int_eq(testdb_scalar(db, "SELECT count(*) FROM events"), 3);
    ck_assert_int_eq(testdb_scalar(db, "SELECT count(DISTINCT source_id) FROM events"), 3);
    char *cursor = testdb_text(db, "SELECT value #>> '{}' FROM connector_state WHERE "
                                   "instance = 'pager' AND key = 'cursor'");
    ck_assert_str_eq(cursor, "c1");
    free(cursor);
    /* the 429's Retry-After was honoured inside the poll */
    long long at[16];
    size_t first_page = requests_for(provider, "/leads?after=0", at, 16);
    ck_assert_uint_ge(first_page, 7);
    ck_assert_msg(at[2] - at[1] >= 900, "retried %lld ms after a 429 with Retry-After: 1",
                  at[2] - at[1]);
    char *metrics_url = td_url(&td, "/metrics");
    struct http_result m;
    http_get(metrics_url, &m);
    ck_assert_ptr_nonnull(
        strstr(m.body, "leadhub_polls_total{instance=\"pager\",outcome=\"retry\"}"));
    ck_assert_ptr_nonnull(
        strstr(m.body, "leadhub_polls_total{instance=\"pager\",outcome=\"auth\"}"));
    ck_assert_ptr_nonnull(strstr(m.body, "leadhub_polls_total{instance=\"pager\",outcome=\"ok\"}"));
    http_result_free(&m);
    free(metrics_url);
    char *status = testdb_text(db, "SELECT last_poll_outcome FROM connector_status "
                                   "WHERE instance = 'pager'");
    ck_assert_str_eq(status, "ok");
    free(status);
}
END_TEST

static bool all_done(void *arg)
{
    return testdb_scalar(db, "SELECT count(*) FROM deliveries WHERE status = 'done'") >=
           *(long *)arg;
}

START_TEST(test_random_faults_under_load_every_delivery_done_once_none_dead)
{
    long events = soak() ? 5000 : 300;
    unsigned seed = 20261127;
    /* a long script of random faults, one answer per request, then 200 for ever */
    long scripted = events * 2;
    size_t faults = 0;
    for (long i = 0; i < scripted; i++) {
        unsigned pick = (unsigned)rand_r(&seed) % 20;
        struct fake_response r = {200, "{}", NULL, 0};
        switch (pick) {
        case 0:
            r = (struct fake_response){429, "{}", "Retry-After: 1", 0};
            break;
        case 1:
            r = (struct fake_response){500, "{\"error\":\"boom\"}", NULL, 0};
            break;
        case 2:
            r = (struct fake_response){503, "unavailable", NULL, 0};
            break;
        case 3:
            r = (struct fake_response){FAKE_RESET, NULL, NULL, 0};
            break;
        case 4:
            r = (struct fake_response){FAKE_CLOSE, NULL, NULL, 0};
            break;
        case 5:
            r = (struct fake_response){200, "{}", NULL, 700}; /* past the 500 ms timeout */
            break;
        case 6:
            r = (struct fake_response){200, "not json", NULL, 0};
            break;
        default:
            break;
        }
        faults += pick <= 5;
        fake_http_push(provider, r);
    }
    fake_http_push(provider, (struct fake_response){200, "{}", NULL, 0});

    td_init(&td, NULL);
    td_webhook_instance(&td, "inbound", SECRET);
    setenv("LHTEST_FAULTS_OUT_SECRET", OUT_SECRET, 1);
    char *url = fake_http_url(provider, "/events");
    char *out = util_printf("name: out\nplugin: http\nsettings:\n  url: %s\n"
                            "  secret: ${LHTEST_FAULTS_OUT_SECRET}\n  timeout: 500ms\n",
                            url);
    td_connector(&td, "out", out);
    free(out);
    free(url);
    td.extra_main = strdup("routes:\n  - name: all-out\n    from: inbound\n    types: [\"*\"]\n"
                           "    to: [out]\n"
                           "delivery:\n  backoff_base: 20ms\n  backoff_cap: 200ms\n"
                           "  max_attempts: 1000\n  breaker_failures: 1000\n");
    ck_assert_int_eq(td_start(&td), 0);
    reaper_watch_pid(td.pid);
    db = testdb_connect(td.db_url);
    for (long first = 0; first < events; first += 50) {
        struct strbuf body = {0};
        strbuf_append(&body, "[");
        for (long i = first; i < events && i < first + 50; i++) {
            strbuf_appendf(&body,
                           "%s{\"type\":\"email.received\",\"source_id\":\"rf-%ld\","
                           "\"occurred_at\":\"2026-11-27T10:00:00Z\"}",
                           i > first ? "," : "", i);
        }
        strbuf_append(&body, "]");
        ck_assert_int_eq(td_post(&td, "inbound", SECRET, strbuf_value(&body), NULL), 200);
        strbuf_free(&body);
    }
    ck_assert_msg(
        td_wait_until(all_done, &events, soak() ? 900000 : 180000), "%ld of %ld deliveries done",
        testdb_scalar(db, "SELECT count(*) FROM deliveries WHERE status = 'done'"), events);
    ck_assert_int_eq(testdb_scalar(db, "SELECT count(*) FROM deliveries WHERE status = 'dead'"), 0);
    ck_assert_int_eq(testdb_scalar(db, "SELECT count(*) FROM deliveries"), events);
    /* every event reached the receiver, always under its one key */
    json_t *key_of = json_object();
    size_t requests = fake_http_request_count(provider);
    bool consistent = true;
    for (size_t i = 0; i < requests; i++) {
        struct fake_request r = fake_http_request(provider, i);
        json_t *event = json_loads(r.body != NULL ? r.body : "", 0, NULL);
        const char *source_id = json_string_value(json_object_get(event, "source_id"));
        const char *key = strcasestr(r.headers != NULL ? r.headers : "", "Idempotency-Key: ");
        if (source_id != NULL && key != NULL) {
            key += strlen("Idempotency-Key: ");
            char *value = strndup(key, strcspn(key, "\n"));
            const char *seen = json_string_value(json_object_get(key_of, source_id));
            consistent &= seen == NULL || strcmp(seen, value) == 0;
            json_object_set_new(key_of, source_id, json_string(value));
            free(value);
        }
        json_decref(event);
        fake_http_request_free(&r);
    }
    printf("random faults: %ld events, %zu requests, %zu faults scripted in the first %ld\n",
           events, requests, faults, scripted);
    ck_assert_uint_eq(json_object_size(key_of), (size_t)events);
    ck_assert(consistent);
    json_decref(key_of);
}
END_TEST

/* The value of the series `series` (name and labels, as rendered) in /metrics, or -1. */
static double metric(const char *series)
{
    char *url = td_url(&td, "/metrics");
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

struct readyz_wait {
    const char *needle;
};

static bool readyz_says(void *arg)
{
    const struct readyz_wait *w = arg;
    char *url = td_url(&td, "/readyz");
    struct http_result r;
    http_get(url, &r);
    bool found = r.body != NULL && strstr(r.body, w->needle) != NULL;
    http_result_free(&r);
    free(url);
    return found;
}

struct metric_wait {
    const char *series;
    double at_least;
};

static bool metric_reaches(void *arg)
{
    const struct metric_wait *w = arg;
    return metric(w->series) >= w->at_least;
}

static bool provider_got(void *arg)
{
    return requests_for(provider, (const char *)arg, NULL, 0) > 0;
}

/*
 * init() says LH_RETRY while its provider is down: the host tries it again with backoff,
 * and once it works the instance polls and delivers, without a restart. One that says
 * LH_CONFIG is not tried again.
 */
START_TEST(test_an_instance_whose_init_is_retried_polls_and_delivers_without_a_restart)
{
    fake_http_route(provider, "/flaky/*", (struct fake_response){200, "{}", NULL, 0}, 0);
    td_init(&td, NULL);
    char *plugins = tu_path(td.dir, "plugins");
    char *copy = util_printf("mkdir -p '%s' && cp '%s/tests/fixtures/flaky_init.so' '%s/'", plugins,
                             tu_build_dir(), plugins);
    ck_assert_int_eq(tu_run(copy, NULL), 0);
    free(copy);
    td.extra_plugin_dir = plugins;
    char *down = tu_path(td.dir, "provider-down");
    tu_write_file(td.dir, "provider-down", "down\n");
    td_webhook_instance(&td, "inbound", SECRET);
    char *url = fake_http_url(provider, "/flaky");
    char *yaml = util_printf("name: flaky\nplugin: flaky_init\npoll_interval: 1s\n"
                             "settings:\n  url: %s\n  down_while: %s\n",
                             url, down);
    td_connector(&td, "flaky", yaml);
    free(yaml);
    yaml =
        util_printf("name: stuck\nplugin: flaky_init\nsettings:\n  url: %s\n  refuse: true\n", url);
    td_connector(&td, "stuck", yaml);
    free(yaml);
    free(url);
    td.extra_main = strdup("routes:\n  - name: to-flaky\n    from: inbound\n"
                           "    types: [\"*\"]\n    to: [flaky]\n");
    td_spawn(&td);
    reaper_watch_pid(td.pid);
    pid_t pid = td.pid;

    /* down: not ready, and init is tried again (not only at start) */
    struct readyz_wait failing = {"\"flaky\":\"init failed (retry): the provider is down"};
    ck_assert(td_wait_until(readyz_says, &failing, 30000));
    struct metric_wait retried = {"leadhub_plugin_callbacks_total{instance=\"flaky\","
                                  "callback=\"init\",status=\"retry\"}",
                                  2};
    ck_assert_msg(td_wait_until(metric_reaches, &retried, 30000), "init tried %g time(s)",
                  metric(retried.series));
    db = testdb_connect(td.db_url);
    post_event("waits");
    ck_assert_int_eq(testdb_scalar(db, "SELECT count(*) FROM deliveries WHERE status = 'pending'"),
                     1);
    ck_assert_uint_eq(requests_for(provider, "/flaky/deliver", NULL, 0), 0);
    ck_assert_uint_eq(requests_for(provider, "/flaky/poll", NULL, 0), 0);

    /* the provider is back: the next try initializes it, its lane and poller start */
    ck_assert_int_eq(unlink(down), 0);
    struct readyz_wait ok = {"\"flaky\":\"ok\""};
    ck_assert(td_wait_until(readyz_says, &ok, 120000));
    wait_delivery("waits", "done");
    ck_assert(td_wait_until(provider_got, "/flaky/poll", 30000));
    ck_assert_int_eq(td.pid, pid); /* the same process all along */
    char *log = td_log(&td);
    ck_assert_ptr_nonnull(strstr(log, "init is tried again in"));
    free(log);

    /* LH_CONFIG: failed once, never tried again */
    struct readyz_wait refused = {"\"stuck\":\"init failed (config): the provider refuses"};
    ck_assert(readyz_says(&refused));
    ck_assert(metric("leadhub_plugin_callbacks_total{instance=\"stuck\",callback=\"init\","
                     "status=\"config\"}") == 1);
    ck_assert(metric("leadhub_plugin_callbacks_total{instance=\"stuck\",callback=\"init\","
                     "status=\"retry\"}") == -1);
    free(down);
}
END_TEST

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    Suite *s = suite_create("provider_faults");
    TCase *tc = tcase_create("faults");
    tcase_set_timeout(tc, soak() ? 1800 : 300);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_http_sink_retries_backs_off_and_dead_letters_each_provider_fault);
    tcase_add_test(tc, test_poller_survives_provider_faults_and_commits_each_page_once);
    tcase_add_test(tc, test_a_refused_host_token_is_refreshed_and_only_refused_deliveries_go_again);
    tcase_add_test(tc, test_random_faults_under_load_every_delivery_done_once_none_dead);
    suite_add_tcase(s, tc);
    TCase *init = tcase_create("init");
    tcase_set_timeout(init, soak() ? 1800 : 300);
    tcase_add_checked_fixture(init, setup, teardown);
    tcase_add_test(init,
                   test_an_instance_whose_init_is_retried_polls_and_delivers_without_a_restart);
    suite_add_tcase(s, init);
    int rc = tu_run_suite(s);
    curl_global_cleanup();
    return rc;
}
