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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "daemon_harness.h"
#include "fake_http.h"
#include "http_client.h"
#include "loadcheck.h"
#include "reaper.h"
#include "testdb.h"
#include "testutil.h"
#include "util.h"

#define SECRET     "crash-secret-6d1f0a"
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

static atomic_bool finish;
static struct test_daemon td;

static void start_load(struct load_thread *load, const struct test_daemon *daemon,
                       const char *prefix, unsigned connections, unsigned per_request)
{
    struct loadgen_options options = {
        .host = "127.0.0.1",
        .port = daemon->port,
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
    };
    load_thread_start(load, &options, false);
}

/* Fails the test with what the daemon says: /readyz and the end of its log. */
static void fail_with_daemon_state(struct test_daemon *daemon, const char *what)
{
    char *url = td_url(daemon, "/readyz");
    struct http_result ready;
    http_get(url, &ready);
    char *log = td_log(daemon);
    size_t len = strlen(log);
    char process[64] = "running";
    int status = 0;
    if (daemon->pid != 0 && waitpid(daemon->pid, &status, WNOHANG) == daemon->pid) {
        daemon->pid = 0;
        snprintf(process, sizeof(process), "DIED by itself (%s %d)",
                 WIFSIGNALED(status) ? "signal" : "exit",
                 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    }
    fprintf(stderr, "%s\ndaemon: %s; /readyz: %ld %s\ndaemon log ends:\n%s\n", what, process,
            ready.status, ready.body != NULL ? ready.body : "",
            len > 8000 ? log + len - 8000 : log);
    free(log);
    http_result_free(&ready);
    free(url);
    ck_abort_msg("%s (daemon %s)", what, process);
}

struct done_wait {
    PGconn *db;
    long expected;
};

static bool deliveries_all_done(void *arg)
{
    struct done_wait *w = arg;
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
    reaper_start(); /* a failed check must not leave the daemon running */
    ck_assert_int_eq(td_start(&td), 0);
    reaper_watch_pid(td.pid);

    atomic_init(&finish, false);
    struct load_thread loads[2];
    start_load(&loads[0], &td, "crash-single", soak() ? 16 : 8, 1);
    start_load(&loads[1], &td, "crash-batch", 2, 20);

    for (long round = 1; round <= rounds; round++) {
        uint64_t before = load_threads_acked(loads, 2);
        long delay = 100 + (long)(rand_r(&seed) % (unsigned)max_delay_ms);
        sleep_ms(delay);
        /* it must still be alive: dying by itself under load is a bug, not a round (peek
         * without reaping; fail_with_daemon_state() reaps and reports) */
        siginfo_t info = {0};
        if (waitid(P_PID, (id_t)td.pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
            info.si_pid == td.pid) {
            fail_with_daemon_state(&td, "the daemon died by itself under load");
        }
        td_kill(&td);
        uint64_t at_kill = load_threads_acked(loads, 2);
        printf("round %ld: killed after %ld ms; %llu events acknowledged so far (+%llu)\n", round,
               delay, (unsigned long long)at_kill, (unsigned long long)(at_kill - before));
        fflush(stdout);
        /* down for a moment: the generators' connections are refused meanwhile */
        sleep_ms((long)(rand_r(&seed) % 300));
        if (td_start(&td) != 0) {
            fail_with_daemon_state(&td, "the daemon did not restart");
        }
        reaper_watch_pid(td.pid);
    }
    /* a last stretch of load on the surviving daemon, then every unacknowledged event is
     * sent again until acknowledged */
    sleep_ms(500);
    if (!load_threads_finish(loads, 2, &finish, soak() ? 300000 : 60000)) {
        fail_with_daemon_state(&td, "not every event was acknowledged after the last restart");
    }
    for (size_t l = 0; l < 2; l++) {
        ck_assert_uint_eq(loads[l].result.requests_other, 0);
    }

    PGconn *db = testdb_connect(td.db_url);
    struct load_check check;
    load_check_run(db, loads, 2, "out", NULL, &check);
    char *summary = load_check_describe(&check);
    printf("crash test: %ld rounds; %s\n", rounds, summary);
    fflush(stdout);
    free(summary);
    ck_assert_uint_gt(check.started, 0);
    ck_assert_uint_eq(check.not_acked, 0);
    ck_assert_uint_eq(check.acked_twice, 0);
    ck_assert_uint_eq(check.lost, 0);
    ck_assert_uint_eq(check.duplicated, 0);
    ck_assert_uint_eq(check.unknown, 0);
    ck_assert_uint_eq(check.without_delivery, 0);
    ck_assert_uint_eq(check.extra_deliveries, 0);
    ck_assert_uint_eq(check.dead, 0);

    /* drained: every delivery done, every event at the receiver under one key */
    struct done_wait wait = {db, (long)check.started};
    if (!td_wait_until(deliveries_all_done, &wait, soak() ? 600000 : 180000)) {
        fail_with_daemon_state(&td, "not every delivery was done after the load");
    }
    load_check_run(db, loads, 2, "out", receiver, &check);
    summary = load_check_describe(&check);
    printf("crash test, drained: %s\n", summary);
    free(summary);
    ck_assert_uint_eq(check.not_received, 0);
    ck_assert(check.keys_consistent);
    ck_assert_uint_eq(check.open, 0);
    ck_assert_uint_ge(check.receiver_requests, check.started);

    PQfinish(db);
    ck_assert_int_eq(td_stop(&td), 0);
    for (size_t l = 0; l < 2; l++) {
        load_thread_free(&loads[l]);
    }
    td_cleanup(&td);
    reaper_release();
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
