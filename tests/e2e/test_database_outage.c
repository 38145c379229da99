/*
 * test_database_outage.c - the daemon against a private PostgreSQL cluster that the test
 * stops and starts: while the database is down webhooks are answered 503 (so providers
 * retry) and /readyz says why; when it is back the daemon reconnects by itself and
 * nothing acknowledged is missing. Once with single requests, once under load (with
 * deliveries in flight); `make soak` (LEADHUB_SOAK=1) restarts it five times under load.
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

#define SECRET "outage-secret-5e3d"

static char *cluster_dir;
static int cluster_port;
static char *cluster(const char *action)
{
    char *command = util_printf("'%s/scripts/pg.sh' %s '%s' %d", tu_source_dir(), action,
                                cluster_dir, cluster_port);
    char *output = NULL;
    int rc = tu_run(command, &output);
    ck_assert_msg(rc == 0, "%s failed (%d): %s", command, rc, output);
    free(command);
    size_t len = strlen(output);
    while (len > 0 && output[len - 1] == '\n') {
        output[--len] = '\0';
    }
    return output;
}

static int post_event(struct test_daemon *td, const char *source_id)
{
    char *body = util_printf("{\"type\":\"email.received\",\"source_id\":\"%s\","
                             "\"occurred_at\":\"2026-11-27T10:00:00Z\"}",
                             source_id);
    char *signature[2];
    http_sign_webhook(SECRET, (long long)time(NULL), body, signature);
    const char *headers[] = {signature[0], signature[1], NULL};
    char *url = td_url(td, "/webhooks/inbound");
    struct http_result r;
    http_request("POST", url, headers, body, strlen(body), &r);
    int status = (int)r.status;
    http_result_free(&r);
    free(url);
    free(signature[0]);
    free(signature[1]);
    free(body);
    return status;
}

static int get_status(struct test_daemon *td, const char *path)
{
    char *url = td_url(td, path);
    struct http_result r;
    http_get(url, &r);
    int status = (int)r.status;
    http_result_free(&r);
    free(url);
    return status;
}

START_TEST(test_database_down_answers_503_then_recovers_without_loss)
{
    char *base = tu_tmpdir();
    cluster_dir = tu_path(base, "pg");
    cluster_port = tu_free_port();
    char *url = cluster("start");

    struct test_daemon td;
    td_init(&td, url);
    td_webhook_instance(&td, "inbound", SECRET);
    ck_assert_int_eq(td_start(&td), 0);
    ck_assert_int_eq(post_event(&td, "before"), 200);

    free(cluster("stop"));
    /* The first request after the outage may still find its old connection; every answer
     * must be a 503, never a 2xx for something that was not stored. */
    int status = post_event(&td, "during");
    ck_assert_int_eq(status, 503);
    ck_assert_int_eq(post_event(&td, "during-2"), 503);
    ck_assert_int_eq(get_status(&td, "/readyz"), 503);
    ck_assert_int_eq(get_status(&td, "/healthz"), 200);

    free(cluster("start"));
    int64_t deadline = util_monotonic_ms() + 20000;
    while ((status = post_event(&td, "after")) != 200 && util_monotonic_ms() < deadline) {
        ck_assert_int_eq(status, 503);
        struct timespec pause = {0, 200 * 1000000L};
        nanosleep(&pause, NULL);
    }
    ck_assert_int_eq(status, 200);
    /* readiness probes the database at most once a second */
    deadline = util_monotonic_ms() + 5000;
    while (get_status(&td, "/readyz") != 200 && util_monotonic_ms() < deadline) {
        struct timespec pause = {0, 100 * 1000000L};
        nanosleep(&pause, NULL);
    }
    ck_assert_int_eq(get_status(&td, "/readyz"), 200);

    PGconn *db = testdb_connect(url);
    char *ids = testdb_text(db, "SELECT string_agg(source_id, ',' ORDER BY id) FROM events");
    ck_assert_str_eq(ids, "before,after");
    free(ids);
    PQfinish(db);

    ck_assert_int_eq(td_stop(&td), 0);
    char *log = td_log(&td);
    ck_assert_ptr_nonnull(strstr(log, "database unreachable"));
    ck_assert_ptr_nonnull(strstr(log, "database connection established"));
    free(log);
    td_cleanup(&td);
    free(cluster("stop"));
    tu_rmrf(base);
    free(base);
    free(cluster_dir);
    cluster_dir = NULL;
    free(url);
}
END_TEST

START_TEST(test_start_fails_clearly_when_database_unreachable)
{
    struct test_daemon td;
    td_init(&td, "postgresql://postgres:hunter2@127.0.0.1:1/none");
    td_webhook_instance(&td, "inbound", SECRET);
    ck_assert_int_eq(td_start(&td), 3);
    char *log = td_log(&td);
    ck_assert_ptr_nonnull(strstr(log, "cannot connect to the database"));
    ck_assert_ptr_null(strstr(log, "hunter2"));
    free(log);
    td_cleanup(&td);
}
END_TEST

static bool soak(void)
{
    const char *value = getenv("LEADHUB_SOAK");
    return value != NULL && value[0] != '\0' && strcmp(value, "0") != 0;
}

static void sleep_ms(long ms)
{
    struct timespec pause = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&pause, NULL);
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

/* Fails the test with what the daemon says: /readyz and the end of its log. */
static void fail_with_daemon_state(struct test_daemon *td, const char *what)
{
    char *url = td_url(td, "/readyz");
    struct http_result ready;
    http_get(url, &ready);
    char *log = td_log(td);
    size_t len = strlen(log);
    char process[64] = "running";
    int status = 0;
    if (td->pid != 0 && waitpid(td->pid, &status, WNOHANG) == td->pid) {
        td->pid = 0;
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

/* When the database was down: from `stop` returning to `start` being called. */
struct outage {
    int64_t down_us;
    int64_t up_us;
};

START_TEST(test_database_restarts_under_load_answer_503_and_lose_nothing)
{
    int cycles = soak() ? 5 : 1;
    long down_ms = soak() ? 5000 : 1500;
    char *base = tu_tmpdir();
    cluster_dir = tu_path(base, "pg");
    cluster_port = tu_free_port();
    reaper_start(); /* a failed check must not leave the cluster or the daemon running */
    char *url = cluster("start");
    reaper_watch_cluster(cluster_dir);
    struct fake_http *receiver = fake_http_start();
    ck_assert_ptr_nonnull(receiver);

    struct test_daemon td;
    td_init(&td, url);
    td_webhook_instance(&td, "inbound", SECRET);
    setenv("LHTEST_OUTAGE_OUT_SECRET", "outage-receiver-secret", 1);
    char *sink_url = fake_http_url(receiver, "/events");
    char *out = util_printf("name: out\nplugin: http\nsettings:\n  url: %s\n"
                            "  secret: ${LHTEST_OUTAGE_OUT_SECRET}\n  timeout: 5s\n",
                            sink_url);
    td_connector(&td, "out", out);
    free(out);
    free(sink_url);
    td.extra_main = strdup("routes:\n  - name: all-out\n    from: inbound\n    types: [\"*\"]\n"
                           "    to: [out]\n"
                           "delivery:\n  backoff_base: 20ms\n  backoff_cap: 500ms\n"
                           "  max_attempts: 1000\n  breaker_failures: 1000\n");
    ck_assert_int_eq(td_start(&td), 0);
    reaper_watch_pid(td.pid);

    atomic_bool finish;
    atomic_init(&finish, false);
    struct loadgen_options options = {
        .host = "127.0.0.1",
        .port = td.port,
        .path = "/webhooks/inbound",
        .secret = SECRET,
        .connections = 8,
        .events_per_request = 1,
        .id_prefix = "outage-single",
        .max_events = 1000000,
        .timeout_ms = 20000,
        .reconnect_ms = 20,
        .resend_failed = true,
        .finish = &finish,
    };
    struct load_thread loads[2];
    load_thread_start(&loads[0], &options, true);
    options.connections = 2;
    options.events_per_request = 10;
    options.id_prefix = "outage-batch";
    load_thread_start(&loads[1], &options, true);

    struct outage outages[5];
    bool saw_unready = false;
    for (int c = 0; c < cycles; c++) {
        sleep_ms(800);
        uint64_t acked_before = load_threads_acked(loads, 2);
        free(cluster("stop"));
        outages[c].down_us = loadgen_now_us();
        int64_t deadline = outages[c].down_us + down_ms * 1000;
        while (loadgen_now_us() < deadline) {
            saw_unready |= get_status(&td, "/readyz") == 503;
            sleep_ms(100);
        }
        outages[c].up_us = loadgen_now_us();
        free(cluster("start"));
        printf("outage %d: database down %ld ms; %llu events acknowledged before it\n", c + 1,
               down_ms, (unsigned long long)acked_before);
        fflush(stdout);
    }
    sleep_ms(1000);
    if (!load_threads_finish(loads, 2, &finish, 60000)) {
        fail_with_daemon_state(&td, "not every event was acknowledged within 60 s of the "
                                    "database's return");
    }
    ck_assert(saw_unready);

    /* every request sent while the database was down was answered 503: never a 2xx for
     * something not stored, never a dropped connection */
    size_t during = 0, wrong = 0;
    for (size_t l = 0; l < 2; l++) {
        ck_assert_uint_eq(loads[l].result.requests_other, 0);
        for (size_t i = 0; i < loads[l].answer_count; i++) {
            const struct load_answer *a = &loads[l].answers[i];
            for (int c = 0; c < cycles; c++) {
                if (a->sent_us >= outages[c].down_us && a->done_us <= outages[c].up_us) {
                    during++;
                    if (a->status != 503) {
                        wrong++;
                        printf("answered %d while the database was down\n", a->status);
                    }
                }
            }
        }
    }
    printf("outage: %zu requests sent and answered while the database was down, %zu not 503\n",
           during, wrong);
    ck_assert_uint_gt(during, 0);
    ck_assert_uint_eq(wrong, 0);

    /* nothing acknowledged lost, nothing stored twice; every delivery made once it is back */
    PGconn *db = testdb_connect(td.db_url);
    struct load_check check;
    load_check_run(db, loads, 2, "out", NULL, &check);
    struct done_wait wait = {db, (long)check.started};
    if (!td_wait_until(deliveries_all_done, &wait, 120000)) {
        fail_with_daemon_state(&td, "deliveries not all done within 120 s");
    }
    load_check_run(db, loads, 2, "out", receiver, &check);
    char *summary = load_check_describe(&check);
    printf("outage under load: %s\n", summary);
    free(summary);
    ck_assert_uint_gt(check.started, 0);
    ck_assert_uint_eq(check.not_acked, 0);
    ck_assert_uint_eq(check.lost, 0);
    ck_assert_uint_eq(check.duplicated, 0);
    ck_assert_uint_eq(check.unknown, 0);
    ck_assert_uint_eq(check.without_delivery, 0);
    ck_assert_uint_eq(check.dead, 0);
    ck_assert_uint_eq(check.not_received, 0);
    ck_assert(check.keys_consistent);
    PQfinish(db);

    int64_t deadline = util_monotonic_ms() + 5000;
    while (get_status(&td, "/readyz") != 200 && util_monotonic_ms() < deadline) {
        sleep_ms(100);
    }
    ck_assert_int_eq(get_status(&td, "/readyz"), 200);
    int status = td_stop(&td);
    char *log = td_log(&td);
    if (status != 0) {
        size_t len = strlen(log);
        fprintf(stderr, "daemon exit %d; its log ends:\n%s\n", status,
                len > 6000 ? log + len - 6000 : log);
    }
    ck_assert_int_eq(status, 0);
    ck_assert_ptr_nonnull(strstr(log, "database unreachable"));
    ck_assert_ptr_nonnull(strstr(log, "database connection established"));
    free(log);
    load_thread_free(&loads[0]);
    load_thread_free(&loads[1]);
    td_cleanup(&td);
    fake_http_stop(receiver);
    free(cluster("stop"));
    reaper_release();
    tu_rmrf(base);
    free(base);
    free(cluster_dir);
    cluster_dir = NULL;
    free(url);
}
END_TEST

static Suite *outage_suite(void)
{
    Suite *s = suite_create("database_outage");
    TCase *tc = tcase_create("outage");
    tcase_set_timeout(tc, soak() ? 1800 : 180);
    tcase_add_test(tc, test_database_down_answers_503_then_recovers_without_loss);
    tcase_add_test(tc, test_database_restarts_under_load_answer_503_and_lose_nothing);
    tcase_add_test(tc, test_start_fails_clearly_when_database_unreachable);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = tu_run_suite(outage_suite());
    curl_global_cleanup();
    return rc;
}
