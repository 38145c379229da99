/*
 * test_database_outage.c - the daemon against a private PostgreSQL cluster that the test
 * stops and starts: while the database is down webhooks are answered 503 (so providers
 * retry) and /readyz says why; when it is back the daemon reconnects by itself and
 * nothing acknowledged is missing.
 */
#include <check.h>
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon_harness.h"
#include "http_client.h"
#include "testdb.h"
#include "testutil.h"
#include "util.h"

#define SECRET "outage-secret"

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

static Suite *outage_suite(void)
{
    Suite *s = suite_create("database_outage");
    TCase *tc = tcase_create("outage");
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, test_database_down_answers_503_then_recovers_without_loss);
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
