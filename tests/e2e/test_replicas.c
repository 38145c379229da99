/*
 * test_replicas.c - two and three replicas on one database under load, as a Deployment
 * runs them: the replica that polls is killed with SIGKILL (a node lost), and with three,
 * the replica that took over is then drained with SIGTERM (a rolling update). Throughout,
 * webhooks are posted to every live replica.
 *
 * What must hold: every acknowledged event is stored, once; the polling of the source is
 * taken over by another replica within one poll interval of each loss; every stored event
 * is delivered, each delivery row done once, and the receiver gets every event under one
 * idempotency key, resent only from the killed replica's batch in flight (a drained one
 * resends nothing).
 *
 * `make test` runs the short form (about ten seconds of load); LEADHUB_SOAK=1 runs it for
 * minutes (`make soak`).
 */
#include <check.h>
#include <curl/curl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "daemon_harness.h"
#include "fake_http.h"
#include "http_client.h"
#include "testdb.h"
#include "testutil.h"
#include "util.h"

#define SECRET           "replicas-secret-2c9d"
#define OUT_SECRET       "replicas-receiver-secret"
#define POLL_INTERVAL_MS 1000
/* How far past one interval a takeover may run on a loaded 2-core machine: the next try of
 * a replica's poller is due within one interval; this is scheduling slack, more under the
 * sanitizers (scripts/run-tests.sh sets ASAN_OPTIONS for them). */
static int64_t takeover_slack_ms(void)
{
    return getenv("ASAN_OPTIONS") != NULL ? 6000 : 2000;
}
/* the most deliveries one replica has in flight: concurrency x claim_batch below */
#define IN_FLIGHT_MAX 10

static struct fake_http *provider, *receiver;
static struct test_daemon replicas[3];
static PGconn *db;

static bool soak(void)
{
    const char *value = getenv("LEADHUB_SOAK");
    return value != NULL && value[0] == '1';
}

static void setup(void)
{
    provider = fake_http_start();
    receiver = fake_http_start();
    /* the source has nothing new: each poll is a GET and an empty page */
    fake_http_push(provider, (struct fake_response){200, "{\"events\":[],\"next\":null}", NULL, 0});
    fake_http_push(receiver, (struct fake_response){200, "{}", NULL, 2});
    memset(replicas, 0, sizeof(replicas));
    db = NULL;
}

static void teardown(void)
{
    if (db != NULL) {
        PQfinish(db);
    }
    for (int i = 2; i >= 0; i--) {
        td_cleanup(&replicas[i]);
    }
    fake_http_stop(receiver);
    fake_http_stop(provider);
}

/* A replica: `inbound` (webhook) routed to `out` (http sink -> receiver), and `pager`
 * (paging_source, polling the provider every second). */
static void start_replica(struct test_daemon *t, const char *db_url)
{
    td_init(t, db_url);
    td_webhook_instance(t, "inbound", SECRET);
    char *plugins = tu_path(t->dir, "plugins");
    char *copy = util_printf("mkdir -p '%s' && cp '%s/tests/fixtures/paging_source.so' '%s/'",
                             plugins, tu_build_dir(), plugins);
    ck_assert_int_eq(tu_run(copy, NULL), 0);
    free(copy);
    t->extra_plugin_dir = plugins;
    char *url = fake_http_url(provider, "/leads");
    char *pager = util_printf("name: pager\nplugin: paging_source\npoll_interval: %dms\n"
                              "settings:\n  url: %s\n",
                              POLL_INTERVAL_MS, url);
    td_connector(t, "pager", pager);
    free(pager);
    free(url);
    setenv("LHTEST_OUT_SECRET", OUT_SECRET, 1);
    url = fake_http_url(receiver, "/events");
    char *out = util_printf("name: out\nplugin: http\nsettings:\n  url: %s\n"
                            "  secret: ${LHTEST_OUT_SECRET}\n  timeout: 5s\n",
                            url);
    td_connector(t, "out", out);
    free(out);
    free(url);
    t->extra_main = strdup("routes:\n  - name: everything-out\n    from: inbound\n"
                           "    types: [\"*\"]\n    to: [out]\n"
                           "delivery:\n  backoff_base: 20ms\n  backoff_cap: 200ms\n"
                           "  max_attempts: 100\n  breaker_failures: 1000\n"
                           "  concurrency: 2\n  claim_batch: 5\n");
    int rc = td_start(t);
    if (rc != 0) {
        char *log = td_log(t);
        ck_abort_msg("replica did not start (%d):\n%s", rc, log);
    }
}

/* --- load: one thread per replica posting distinct events ---------------------------- */

struct load {
    struct test_daemon *replica;
    int index;
    atomic_bool stop;
    pthread_t thread;
    json_t *acknowledged; /* source_ids answered 200, only this thread touches it */
    long refused;         /* anything else: a replica going away */
};

static void *load_run(void *arg)
{
    struct load *load = arg;
    for (long i = 0; !atomic_load(&load->stop); i++) {
        char id[64], event[256];
        snprintf(id, sizeof(id), "r%d-%ld", load->index, i);
        snprintf(event, sizeof(event),
                 "{\"type\":\"lead.created\",\"source_id\":\"%s\",\"occurred_at\":"
                 "\"2026-11-27T10:00:00Z\",\"lead\":{\"email\":\"%s@example.com\"}}",
                 id, id);
        if (td_post(load->replica, "inbound", SECRET, event, NULL) == 200) {
            json_array_append_new(load->acknowledged, json_string(id));
        } else {
            load->refused++; /* its replica is going or gone */
            struct timespec pause = {0, 20 * 1000000L};
            nanosleep(&pause, NULL);
        }
    }
    return NULL;
}

static void load_start(struct load *load, struct test_daemon *replica, int index)
{
    memset(load, 0, sizeof(*load));
    load->replica = replica;
    load->index = index;
    load->acknowledged = json_array();
    atomic_init(&load->stop, false);
    ck_assert_int_eq(pthread_create(&load->thread, NULL, load_run, load), 0);
}

static void load_stop(struct load *load)
{
    atomic_store(&load->stop, true);
    pthread_join(load->thread, NULL);
}

/* --- polling ownership -------------------------------------------------------------------- */

/* "host:pid" of the replica that polls `pager` now, or NULL. malloc'd. */
static char *poll_owner(void)
{
    PGresult *r = PQexec(db, "SELECT owner FROM connector_status WHERE instance = 'pager'");
    char *owner = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1
                      ? strdup(PQgetvalue(r, 0, 0))
                      : NULL;
    PQclear(r);
    return owner;
}

static int replica_of_owner(const char *owner, int count)
{
    for (int i = 0; owner != NULL && i < count; i++) {
        char suffix[32];
        snprintf(suffix, sizeof(suffix), ":%d", (int)replicas[i].pid);
        size_t n = strlen(owner), s = strlen(suffix);
        if (replicas[i].pid != 0 && n > s && strcmp(owner + n - s, suffix) == 0) {
            return i;
        }
    }
    return -1;
}

static bool someone_polls(void *arg)
{
    int count = *(int *)arg;
    char *owner = poll_owner();
    int index = replica_of_owner(owner, count);
    free(owner);
    return index >= 0;
}

/* A poll started after `since` (a database timestamp) by a replica other than `gone`. */
struct takeover {
    const char *since;
    const char *gone;
};

static bool taken_over(void *arg)
{
    const struct takeover *t = arg;
    const char *params[] = {t->since, t->gone};
    PGresult *r = PQexecParams(db,
                               "SELECT count(*) FROM connector_status WHERE instance = 'pager' "
                               "AND owner <> $2 AND last_poll_started_at > $1::timestamptz",
                               2, NULL, params, NULL, NULL, 0);
    bool done = PQresultStatus(r) == PGRES_TUPLES_OK && strcmp(PQgetvalue(r, 0, 0), "1") == 0;
    PQclear(r);
    return done;
}

/* Takes the poller's owner out (SIGKILL or SIGTERM) and returns how long until another
 * replica polled. */
static int64_t lose_owner_and_time_takeover(int count, bool kill_it)
{
    char *owner = poll_owner();
    int index = replica_of_owner(owner, count);
    ck_assert_msg(index >= 0, "no live replica polls (owner %s)", owner ? owner : "none");
    char *since = testdb_text(db, "SELECT now()::text");
    int64_t lost_at = util_monotonic_ms();
    if (kill_it) {
        td_kill(&replicas[index]);
    } else {
        /* a rolling update's SIGTERM: it drains and exits 0; counted from its exit, since
         * it polls (and holds the lock) while it drains */
        ck_assert_int_eq(td_stop(&replicas[index]), 0);
        lost_at = util_monotonic_ms();
    }
    struct takeover t = {since, owner};
    ck_assert_msg(td_wait_until(taken_over, &t, 30000), "nobody took the polls over from %s",
                  owner);
    int64_t took = util_monotonic_ms() - lost_at;
    free(since);
    free(owner);
    return took;
}

/* --- checks ------------------------------------------------------------------------------- */

static long scalar_with(const char *sql, const char *param)
{
    const char *params[] = {param};
    PGresult *r = PQexecParams(db, sql, 1, NULL, params, NULL, NULL, 0);
    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql, PQerrorMessage(db));
    long value = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return value;
}

/* The receiver's view: requests, distinct idempotency keys, distinct events. */
static void received(size_t *requests, size_t *keys, size_t *events)
{
    json_t *by_key = json_object(), *by_event = json_object();
    *requests = fake_http_request_count(receiver);
    for (size_t i = 0; i < *requests; i++) {
        struct fake_request req = fake_http_request(receiver, i);
        const char *key = strcasestr(req.headers, "idempotency-key:");
        if (key != NULL) {
            key += strlen("idempotency-key:");
            key += strspn(key, " ");
            char copy[128];
            snprintf(copy, sizeof(copy), "%.*s", (int)strcspn(key, "\r\n"), key);
            json_object_set_new(by_key, copy, json_true());
        }
        json_t *event = json_loads(req.body != NULL ? req.body : "", 0, NULL);
        const char *id = json_string_value(json_object_get(event, "source_id"));
        if (id != NULL) {
            json_object_set_new(by_event, id, json_true());
        }
        json_decref(event);
        fake_http_request_free(&req);
    }
    *keys = json_object_size(by_key);
    *events = json_object_size(by_event);
    json_decref(by_key);
    json_decref(by_event);
}

static bool everything_delivered(void *arg)
{
    long stored = *(long *)arg;
    size_t requests, keys, events;
    received(&requests, &keys, &events);
    return (long)events >= stored &&
           testdb_scalar(db, "SELECT count(*) FROM deliveries WHERE status <> 'done'") == 0;
}

static void pause_ms(long ms)
{
    struct timespec pause = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&pause, NULL);
}

static void run_replicas(int count)
{
    const long phase_ms = soak() ? 60000 : 2500;
    start_replica(&replicas[0], NULL);
    db = testdb_connect(replicas[0].db_url);
    for (int i = 1; i < count; i++) {
        start_replica(&replicas[i], replicas[0].db_url);
    }
    ck_assert(td_wait_until(someone_polls, &count, 30000));

    struct load loads[3];
    for (int i = 0; i < count; i++) {
        load_start(&loads[i], &replicas[i], i);
    }
    pause_ms(phase_ms);

    /* a node lost: the polling replica dies with its work in flight */
    int64_t first = lose_owner_and_time_takeover(count, true);
    ck_assert_msg(first <= POLL_INTERVAL_MS + takeover_slack_ms(),
                  "polls taken over %lld ms after the owner was killed (interval %d ms)",
                  (long long)first, POLL_INTERVAL_MS);
    pause_ms(phase_ms);

    int64_t second = -1;
    if (count >= 3) {
        /* a rolling update: the new owner is drained with SIGTERM */
        second = lose_owner_and_time_takeover(count, false);
        ck_assert_msg(second <= POLL_INTERVAL_MS + takeover_slack_ms(),
                      "polls taken over %lld ms after the owner drained (interval %d ms)",
                      (long long)second, POLL_INTERVAL_MS);
        pause_ms(phase_ms);
    }
    for (int i = 0; i < count; i++) {
        load_stop(&loads[i]);
    }

    /* every acknowledged event stored, once */
    json_t *all = json_array();
    long acknowledged = 0, refused = 0;
    for (int i = 0; i < count; i++) {
        json_array_extend(all, loads[i].acknowledged);
        acknowledged += (long)json_array_size(loads[i].acknowledged);
        refused += loads[i].refused;
        json_decref(loads[i].acknowledged);
    }
    char *ids = json_dumps(all, JSON_COMPACT);
    json_decref(all);
    ck_assert_msg(acknowledged > 100, "only %ld events acknowledged", acknowledged);
    ck_assert_int_eq(scalar_with("SELECT count(*) FROM events WHERE source = 'inbound' AND "
                                 "source_id IN (SELECT jsonb_array_elements_text($1::jsonb))",
                                 ids),
                     acknowledged);
    free(ids);
    ck_assert_int_eq(testdb_scalar(db, "SELECT count(*) - count(DISTINCT source_id) FROM events"),
                     0);

    /* every stored event delivered: one delivery row each, done; the receiver has each
     * event under one key, resent at most for the killed replica's batch in flight */
    long stored = testdb_scalar(db, "SELECT count(*) FROM events WHERE source = 'inbound'");
    ck_assert_msg(td_wait_until(everything_delivered, &stored, 120000),
                  "not everything delivered: %ld stored, %ld deliveries not done", stored,
                  testdb_scalar(db, "SELECT count(*) FROM deliveries WHERE status <> 'done'"));
    ck_assert_int_eq(testdb_scalar(db, "SELECT count(*) FROM deliveries"), stored);
    size_t requests, keys, events;
    received(&requests, &keys, &events);
    ck_assert_int_eq((long)events, stored);
    ck_assert_int_eq((long)keys, stored);
    ck_assert_msg(requests - keys <= IN_FLIGHT_MAX,
                  "%zu deliveries sent twice (at most %d were "
                  "in flight on the killed replica)",
                  requests - keys, IN_FLIGHT_MAX);
    printf("replicas=%d: %ld acknowledged, %ld refused by replicas going away, %zu resent; "
           "polls taken over in %lld ms after SIGKILL",
           count, acknowledged, refused, requests - keys, (long long)first);
    if (second >= 0) {
        printf(", %lld ms after SIGTERM", (long long)second);
    }
    printf(" (interval %d ms)\n", POLL_INTERVAL_MS);

    for (int i = 0; i < count; i++) {
        if (replicas[i].pid != 0) {
            ck_assert_int_eq(td_stop(&replicas[i]), 0);
        }
    }
}

START_TEST(test_two_replicas_under_load_one_killed_lose_and_double_nothing)
{
    run_replicas(2);
}
END_TEST

START_TEST(test_three_replicas_under_load_one_killed_one_drained_lose_and_double_nothing)
{
    run_replicas(3);
}
END_TEST

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    Suite *s = suite_create("replicas");
    TCase *tc = tcase_create("replicas");
    tcase_set_timeout(tc, soak() ? 1800 : 300);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_two_replicas_under_load_one_killed_lose_and_double_nothing);
    tcase_add_test(tc,
                   test_three_replicas_under_load_one_killed_one_drained_lose_and_double_nothing);
    suite_add_tcase(s, tc);
    int failed = tu_run_suite(s);
    curl_global_cleanup();
    return failed;
}
