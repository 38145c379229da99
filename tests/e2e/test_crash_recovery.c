/*
 * test_crash_recovery.c - nothing acknowledged is lost, nothing is stored twice, across
 * kill -9 at random moments under ingest load.
 *
 * Two load generators post signed events to the real daemon (single events from several
 * keep-alive connections, and arrays of 20), recording every acknowledged event. The
 * test kills the daemon with SIGKILL at a random moment, restarts it, and repeats. Like a
 * provider, the generators send again whatever was not acknowledged (the kill cut the
 * answer off, or the daemon was down). Afterwards:
 *   - every acknowledged event is in the database exactly once, and nothing else is;
 *   - every stored event has its one delivery to the routed `http` sink, none dead, and
 *     once the daemon has drained them all are done and the receiver got every event
 *     (at least once, always under the same Idempotency-Key).
 *
 * Short form in `make test` (3 rounds); `make soak` runs 20 rounds with longer loads
 * (LEADHUB_SOAK=1). LEADHUB_CRASH_ROUNDS and LEADHUB_CRASH_SEED override the rounds and
 * the random seed (printed, so a failing run can be repeated).
 */
#include <check.h>
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon_harness.h"
#include "fake_http.h"
#include "http_client.h"
#include "loadgen.h"
#include "testdb.h"
#include "testutil.h"
#include "util.h"

#define SECRET     "crash-secret"
#define OUT_SECRET "crash-receiver-secret"
#define MAX_EVENTS 2000000

static bool soak(void)
{
    const char *value = getenv("LEADHUB_SOAK");
    return value != NULL && value[0] != '\0' && strcmp(value, "0") != 0;
}

static long env_long(const char *name, long fallback)
{
    const char *value = getenv(name);
    return value != NULL && value[0] != '\0' ? strtol(value, NULL, 10) : fallback;
}

static void sleep_ms(long ms)
{
    struct timespec pause = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&pause, NULL);
}

/* One load generator on its own thread. */
struct load {
    const char *prefix;
    struct loadgen_options options;
    struct loadgen_result result;
    pthread_t thread;
    int rc;
    atomic_ullong acked;      /* events acknowledged so far, for progress lines */
    atomic_ullong duplicates; /* found already stored when sent again */
};

static void count_acked(const struct loadgen_answer *answer, void *arg)
{
    struct load *load = arg;
    if (answer->status >= 200 && answer->status < 300) {
        atomic_fetch_add(&load->acked, answer->event_count);
        atomic_fetch_add(&load->duplicates, answer->duplicates);
    }
}

static void *load_main(void *arg)
{
    struct load *load = arg;
    load->rc = loadgen_run(&load->options, &load->result);
    return NULL;
}

static atomic_bool finish;

static void load_start(struct load *load, const struct test_daemon *td, const char *prefix,
                       unsigned connections, unsigned per_request)
{
    memset(load, 0, sizeof(*load));
    load->prefix = prefix;
    load->options = (struct loadgen_options){
        .host = "127.0.0.1",
        .port = td->port,
        .path = "/webhooks/inbound",
        .secret = SECRET,
        .connections = connections,
        .events_per_request = per_request,
        .id_prefix = prefix,
        .max_events = MAX_EVENTS,
        .timeout_ms = 20000,
        .reconnect_ms = 20,
        .resend_failed = true,
        .finish = &finish,
        .on_answer = count_acked,
        .on_answer_arg = load,
    };
    ck_assert_int_eq(pthread_create(&load->thread, NULL, load_main, load), 0);
}

/* Events acknowledged so far by all loads. */
static uint64_t acked_so_far(struct load *loads, size_t count)
{
    uint64_t total = 0;
    for (size_t i = 0; i < count; i++) {
        total += atomic_load(&loads[i].acked);
    }
    return total;
}

/* Per event of one load: how often it is stored, has a delivery, reached the receiver. */
struct tally {
    uint32_t *stored;
    uint32_t *deliveries;
    uint32_t *open_deliveries; /* pending or retrying */
    uint32_t *dead;
    uint8_t *received;
    uint64_t max;
};

/* "<prefix>-<n>" -> n, or -1. */
static long long event_number(const char *prefix, const char *source_id)
{
    size_t len = strlen(prefix);
    if (strncmp(source_id, prefix, len) != 0 || source_id[len] != '-') {
        return -1;
    }
    char *end = NULL;
    long long n = strtoll(source_id + len + 1, &end, 10);
    return end != NULL && *end == '\0' && n >= 0 ? n : -1;
}

/* The tally a source_id belongs to, its event number in *n; NULL for no event a load
 * started. */
static struct tally *tally_of(const char *source_id, const struct load *loads,
                              struct tally *tallies, size_t count, uint64_t *n)
{
    for (size_t l = 0; l < count; l++) {
        long long number = event_number(loads[l].prefix, source_id);
        if (number >= 0 && (uint64_t)number < tallies[l].max) {
            *n = (uint64_t)number;
            return &tallies[l];
        }
    }
    return NULL;
}

struct delivered_wait {
    PGconn *db;
    long expected;
};

static bool deliveries_all_done(void *arg)
{
    struct delivered_wait *w = arg;
    return testdb_scalar(w->db, "SELECT count(*) FROM deliveries WHERE status = 'done'") >=
           w->expected;
}

START_TEST(test_kill_9_under_load_loses_and_duplicates_nothing_acknowledged)
{
    long rounds = env_long("LEADHUB_CRASH_ROUNDS", soak() ? 20 : 3);
    unsigned seed = (unsigned)env_long("LEADHUB_CRASH_SEED", (long)time(NULL));
    long max_delay_ms = soak() ? 3000 : 1200;
    printf("crash test: %ld rounds of kill -9, seed %u (LEADHUB_CRASH_SEED)\n", rounds, seed);
    fflush(stdout);

    struct fake_http *receiver = fake_http_start();
    ck_assert_ptr_nonnull(receiver);
    struct test_daemon td;
    td_init(&td, NULL);
    td_webhook_instance(&td, "inbound", SECRET);
    setenv("LHTEST_CRASH_OUT_SECRET", OUT_SECRET, 1);
    char *sink_url = fake_http_url(receiver, "/events");
    char *out = util_printf("name: out\nplugin: http\nsettings:\n  url: %s\n"
                            "  secret: ${LHTEST_CRASH_OUT_SECRET}\n  timeout: 5s\n",
                            sink_url);
    td_connector(&td, "out", out);
    free(out);
    free(sink_url);
    td.extra_main = strdup("routes:\n  - name: all-out\n    from: inbound\n    types: [\"*\"]\n"
                           "    to: [out]\n"
                           "delivery:\n  backoff_base: 20ms\n  backoff_cap: 200ms\n"
                           "  max_attempts: 1000\n  breaker_failures: 1000\n");
    ck_assert_int_eq(td_start(&td), 0);

    atomic_init(&finish, false);
    struct load loads[2];
    load_start(&loads[0], &td, "crash-single", soak() ? 16 : 8, 1);
    load_start(&loads[1], &td, "crash-batch", 2, 20);

    for (long round = 1; round <= rounds; round++) {
        uint64_t before = acked_so_far(loads, 2);
        long delay = 100 + (long)(rand_r(&seed) % (unsigned)max_delay_ms);
        sleep_ms(delay);
        td_kill(&td);
        uint64_t at_kill = acked_so_far(loads, 2);
        printf("round %ld: killed after %ld ms; %llu events acknowledged so far (+%llu)\n", round,
               delay, (unsigned long long)at_kill, (unsigned long long)(at_kill - before));
        fflush(stdout);
        /* down for a moment: the generators' connections are refused meanwhile */
        sleep_ms((long)(rand_r(&seed) % 300));
        int rc = td_start(&td);
        if (rc != 0) {
            char *log = td_log(&td);
            ck_abort_msg("round %ld: the daemon did not restart (%d):\n%s", round, rc, log);
        }
    }
    /* a last stretch of load on the surviving daemon, then every unacknowledged event is
     * sent again until acknowledged */
    sleep_ms(500);
    atomic_store(&finish, true);
    for (size_t l = 0; l < 2; l++) {
        pthread_join(loads[l].thread, NULL);
        ck_assert_msg(loads[l].rc == 0, "load %s: %s", loads[l].prefix, loads[l].result.error);
        ck_assert_uint_eq(loads[l].result.requests_other, 0);
    }

    /* every event started was acknowledged in the end */
    struct tally tallies[2];
    uint64_t acked_total = 0, resent_total = 0, duplicates_total = 0;
    for (size_t l = 0; l < 2; l++) {
        const struct loadgen_result *r = &loads[l].result;
        uint64_t max = r->events_started;
        tallies[l] = (struct tally){.stored = calloc(max + 1, sizeof(uint32_t)),
                                    .deliveries = calloc(max + 1, sizeof(uint32_t)),
                                    .open_deliveries = calloc(max + 1, sizeof(uint32_t)),
                                    .dead = calloc(max + 1, sizeof(uint32_t)),
                                    .received = calloc(max + 1, 1),
                                    .max = max};
        ck_assert_ptr_nonnull(tallies[l].stored);
        ck_assert_ptr_nonnull(tallies[l].received);
        for (uint64_t n = 0; n < max; n++) {
            ck_assert_msg(r->acked[n] == 1, "%s-%llu acknowledged %u times", loads[l].prefix,
                          (unsigned long long)n, r->acked[n]);
        }
        acked_total += max;
        duplicates_total += atomic_load(&loads[l].duplicates);
        resent_total += r->events_resent;
    }
    ck_assert_uint_gt(acked_total, 0);

    PGconn *db = testdb_connect(td.db_url);
    /* exactly once: every acknowledged event stored one time, nothing else stored */
    PGresult *result = PQexec(db, "SELECT source_id, count(*) FROM events GROUP BY source_id");
    ck_assert_int_eq(PQresultStatus(result), PGRES_TUPLES_OK);
    long unknown = 0;
    for (int row = 0; row < PQntuples(result); row++) {
        uint64_t n;
        struct tally *t = tally_of(PQgetvalue(result, row, 0), loads, tallies, 2, &n);
        if (t == NULL) {
            unknown++;
            continue;
        }
        t->stored[n] += (uint32_t)strtoul(PQgetvalue(result, row, 1), NULL, 10);
    }
    PQclear(result);
    ck_assert_int_eq(unknown, 0);
    uint64_t lost = 0, duplicated = 0;
    for (size_t l = 0; l < 2; l++) {
        for (uint64_t n = 0; n < tallies[l].max; n++) {
            lost += tallies[l].stored[n] == 0;
            duplicated += tallies[l].stored[n] > 1;
        }
    }

    /* the outbox: one delivery per stored event, none dead */
    result = PQexec(db, "SELECT e.source_id, d.status FROM deliveries d "
                        "JOIN events e ON e.id = d.event_id WHERE d.destination = 'out'");
    ck_assert_int_eq(PQresultStatus(result), PGRES_TUPLES_OK);
    for (int row = 0; row < PQntuples(result); row++) {
        uint64_t n;
        struct tally *t = tally_of(PQgetvalue(result, row, 0), loads, tallies, 2, &n);
        const char *status = PQgetvalue(result, row, 1);
        if (t == NULL) {
            continue; /* its event is unknown: counted above */
        }
        t->deliveries[n]++;
        if (strcmp(status, "pending") == 0 || strcmp(status, "retrying") == 0) {
            t->open_deliveries[n]++;
        } else if (strcmp(status, "dead") == 0) {
            t->dead[n]++;
        }
    }
    PQclear(result);
    uint64_t without_delivery = 0, extra_deliveries = 0, dead = 0, open = 0;
    for (size_t l = 0; l < 2; l++) {
        for (uint64_t n = 0; n < tallies[l].max; n++) {
            without_delivery += tallies[l].deliveries[n] == 0;
            extra_deliveries += tallies[l].deliveries[n] > 1;
            dead += tallies[l].dead[n];
            open += tallies[l].open_deliveries[n];
        }
    }
    printf("crash test: %ld rounds, %llu events acknowledged (%llu sent again after a kill or "
           "a 503, of which %llu had been committed before the answer was lost), lost %llu, "
           "duplicated %llu; deliveries: missing %llu, extra %llu, dead %llu, still open at "
           "the end of the load %llu\n",
           rounds, (unsigned long long)acked_total, (unsigned long long)resent_total,
           (unsigned long long)duplicates_total, (unsigned long long)lost,
           (unsigned long long)duplicated, (unsigned long long)without_delivery,
           (unsigned long long)extra_deliveries, (unsigned long long)dead,
           (unsigned long long)open);
    fflush(stdout);
    ck_assert_uint_eq(lost, 0);
    ck_assert_uint_eq(duplicated, 0);
    ck_assert_uint_eq(without_delivery, 0);
    ck_assert_uint_eq(extra_deliveries, 0);
    ck_assert_uint_eq(dead, 0);

    /* drained: every delivery done, every event at the receiver under one key */
    struct delivered_wait wait = {db, (long)acked_total};
    ck_assert_msg(td_wait_until(deliveries_all_done, &wait, soak() ? 600000 : 180000),
                  "deliveries not all done: %ld of %llu",
                  testdb_scalar(db, "SELECT count(*) FROM deliveries WHERE status = 'done'"),
                  (unsigned long long)acked_total);
    json_t *key_of = json_object();
    size_t requests = fake_http_request_count(receiver);
    bool consistent = true;
    for (size_t i = 0; i < requests; i++) {
        struct fake_request req = fake_http_request(receiver, i);
        json_t *event = json_loads(req.body != NULL ? req.body : "", 0, NULL);
        const char *source_id = json_string_value(json_object_get(event, "source_id"));
        const char *key = strcasestr(req.headers != NULL ? req.headers : "", "Idempotency-Key: ");
        if (source_id != NULL && key != NULL) {
            key += strlen("Idempotency-Key: ");
            char *value = strndup(key, strcspn(key, "\n"));
            const char *seen = json_string_value(json_object_get(key_of, source_id));
            consistent &= seen == NULL || strcmp(seen, value) == 0;
            json_object_set_new(key_of, source_id, json_string(value));
            free(value);
            uint64_t n;
            struct tally *t = tally_of(source_id, loads, tallies, 2, &n);
            if (t != NULL) {
                t->received[n] = 1;
            }
        }
        json_decref(event);
        fake_http_request_free(&req);
    }
    json_decref(key_of);
    uint64_t not_received = 0;
    for (size_t l = 0; l < 2; l++) {
        for (uint64_t n = 0; n < tallies[l].max; n++) {
            not_received += tallies[l].received[n] == 0;
        }
    }
    printf("crash test: receiver got %zu requests for %llu events; %llu never arrived\n", requests,
           (unsigned long long)acked_total, (unsigned long long)not_received);
    ck_assert_uint_eq(not_received, 0);
    ck_assert(consistent);
    ck_assert_uint_ge(requests, acked_total);

    PQfinish(db);
    ck_assert_int_eq(td_stop(&td), 0);
    for (size_t l = 0; l < 2; l++) {
        free(tallies[l].stored);
        free(tallies[l].deliveries);
        free(tallies[l].open_deliveries);
        free(tallies[l].dead);
        free(tallies[l].received);
        loadgen_result_free(&loads[l].result);
    }
    td_cleanup(&td);
    fake_http_stop(receiver);
}
END_TEST

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    Suite *s = suite_create("crash_recovery");
    TCase *tc = tcase_create("kill9");
    tcase_set_timeout(tc, soak() ? 3600 : 600);
    tcase_add_test(tc, test_kill_9_under_load_loses_and_duplicates_nothing_acknowledged);
    suite_add_tcase(s, tc);
    int rc = tu_run_suite(s);
    curl_global_cleanup();
    return rc;
}
