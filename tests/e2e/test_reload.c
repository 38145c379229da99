/*
 * test_reload.c - SIGHUP: connector files added, removed, changed or broken, and routes
 * changed, while the daemon keeps serving.
 */
#include <check.h>
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon_harness.h"
#include "fake_http.h"
#include "testdb.h"
#include "testutil.h"
#include "util.h"

static struct test_daemon td;

static const char event[] = "{\"type\":\"email.received\",\"source_id\":\"%s\","
                            "\"occurred_at\":\"2026-11-27T10:00:00Z\"}";

static int post(const char *instance, const char *secret, const char *id)
{
    char *body = util_printf(event, id);
    int status = td_post(&td, instance, secret, body, NULL);
    free(body);
    return status;
}

struct expect_status {
    const char *instance;
    const char *secret;
    int status;
};

static bool answers(void *arg)
{
    struct expect_status *e = arg;
    char id[32];
    snprintf(id, sizeof(id), "probe-%lld", (long long)util_monotonic_ms());
    return post(e->instance, e->secret, id) == e->status;
}

static bool log_says(void *arg)
{
    char *log = td_log(&td);
    bool found = strstr(log, (const char *)arg) != NULL;
    free(log);
    return found;
}

static void remove_connector(const char *name)
{
    char *file = util_printf("%s/conf.d/%s.yaml", td.dir, name);
    ck_assert_int_eq(unlink(file), 0);
    free(file);
}

START_TEST(test_sighup_adds_removes_and_refuses_broken_connectors)
{
    /* the daemon's environment is fixed when it starts: the files added later refer to
     * variables that are already there */
    setenv("LHTEST_SECRET_SECOND", "second-secret-7d2e4b", 1);
    setenv("LHTEST_SECRET_FOURTH", "fourth-secret-1a8c5e", 1);
    td_init(&td, NULL);
    td_webhook_instance(&td, "inbound", "first-secret-3f9a1c");
    ck_assert_int_eq(td_start(&td), 0);
    ck_assert_int_eq(post("second", "second-secret-7d2e4b", "a"), 404);

    /* added */
    td_webhook_instance(&td, "second", "second-secret-7d2e4b");
    td_signal(&td, SIGHUP);
    struct expect_status second_ok = {"second", "second-secret-7d2e4b", 200};
    ck_assert(td_wait_until(answers, &second_ok, 10000));
    ck_assert(log_says("reload applied: 1 instance(s) kept, 0 stopped, 1 started"));

    /* removed */
    remove_connector("second");
    td_signal(&td, SIGHUP);
    struct expect_status second_gone = {"second", "second-secret-7d2e4b", 404};
    ck_assert(td_wait_until(answers, &second_gone, 10000));

    /* broken: refused as a whole, the running configuration stays */
    td_connector(&td, "third", "name: third\nplugin: no_such_plugin\n");
    td_webhook_instance(&td, "fourth", "fourth-secret-1a8c5e");
    td_signal(&td, SIGHUP);
    ck_assert(td_wait_until(log_says, "reload refused", 10000));
    ck_assert(log_says("unknown plugin \\\"no_such_plugin\\\""));
    ck_assert_int_eq(post("inbound", "first-secret-3f9a1c", "still-here"), 200);
    ck_assert_int_eq(post("fourth", "fourth-secret-1a8c5e", "x"), 404);

    /* fixed: applied */
    remove_connector("third");
    td_signal(&td, SIGHUP);
    struct expect_status fourth_ok = {"fourth", "fourth-secret-1a8c5e", 200};
    ck_assert(td_wait_until(answers, &fourth_ok, 10000));
    ck_assert_int_eq(td_stop(&td), 0);
    td_cleanup(&td);
}
END_TEST

START_TEST(test_sighup_restarts_a_changed_instance_and_applies_new_routes)
{
    struct fake_http *receiver = fake_http_start();
    td_init(&td, NULL);
    td_webhook_instance(&td, "inbound", "old-secret-9b4f2d6e");
    setenv("LHTEST_RELOAD_NEW", "new-secret-8c3b1f2a", 1);
    setenv("LHTEST_RELOAD_OUT", "out-secret-5d7e9a1c", 1);
    char *url = fake_http_url(receiver, "/in");
    char *out = util_printf("name: out\nplugin: http\nsettings:\n  url: %s\n"
                            "  secret: ${LHTEST_RELOAD_OUT}\n",
                            url);
    td_connector(&td, "out", out);
    ck_assert_int_eq(td_start(&td), 0);
    PGconn *db = testdb_connect(td.db_url);

    ck_assert_int_eq(post("inbound", "old-secret-9b4f2d6e", "before"), 200);
    ck_assert_int_eq(testdb_scalar(db, "SELECT count(*) FROM deliveries"), 0);

    /* the secret changes and a route appears */
    td_connector(&td, "inbound",
                 "name: inbound\nplugin: webhook\nsettings:\n  secret: ${LHTEST_RELOAD_NEW}\n");
    char *main_yaml = util_printf("routes:\n  - name: to-out\n    from: inbound\n"
                                  "    types: [email.*]\n    to: [out]\n");
    td.extra_main = main_yaml;
    /* rewrite the main file with the route (the harness writes it at start) */
    char *yaml = util_printf("database_url: \"%s\"\nlisten: 127.0.0.1:%d\n"
                             "plugin_path: [\"%s/plugins\"]\n%s",
                             td.db_url, td.port, tu_build_dir(), main_yaml);
    tu_write_file(td.dir, "leadhub.yaml", yaml);
    td_signal(&td, SIGHUP);
    struct expect_status new_ok = {"inbound", "new-secret-8c3b1f2a", 200};
    ck_assert(td_wait_until(answers, &new_ok, 10000));
    ck_assert(log_says("reload applied: 1 instance(s) kept, 1 stopped, 1 started"));
    ck_assert_int_eq(post("inbound", "old-secret-9b4f2d6e", "old-refused"), 401);
    ck_assert_int_eq(post("inbound", "new-secret-8c3b1f2a", "after"), 200);
    /* events committed after the reload are routed; the one before is not resent */
    ck_assert_int_ge(testdb_scalar(db, "SELECT count(*) FROM deliveries"), 1);
    ck_assert_int_eq(testdb_scalar(db, "SELECT count(*) FROM deliveries d JOIN events e ON "
                                       "e.id = d.event_id WHERE e.source_id = 'before'"),
                     0);
    ck_assert_int_eq(td_stop(&td), 0);
    PQfinish(db);
    free(yaml);
    free(out);
    free(url);
    td_cleanup(&td);
    fake_http_stop(receiver);
}
END_TEST

static bool received_some(void *arg)
{
    return fake_http_request_count((struct fake_http *)arg) > 0;
}

/*
 * While a reload swaps a changed webhook instance, the instance is gone from the table
 * and its successor not there yet: a webhook for it answers 503 with Retry-After (the
 * provider retries), never 404 (which a provider may take as "stop sending"). Here the
 * swap is held open by a sink, restarted in the same reload, that waits for the delivery
 * it has in flight (its receiver answers after 3 s).
 */
START_TEST(test_sighup_answers_503_not_404_while_it_swaps_an_instance)
{
    struct fake_http *receiver = fake_http_start();
    ck_assert_ptr_nonnull(receiver);
    fake_http_push(receiver, (struct fake_response){200, "{}", NULL, 3000});
    setenv("LHTEST_SWAP_OLD", "old-secret-9b4f2d6e", 1);
    setenv("LHTEST_SWAP_NEW", "new-secret-8c3b1f2a", 1);
    setenv("LHTEST_SWAP_OUT", "out-secret-5d7e9a1c", 1);
    td_init(&td, NULL);
    td_connector(&td, "inbound",
                 "name: inbound\nplugin: webhook\nsettings:\n  secret: ${LHTEST_SWAP_OLD}\n");
    char *url = fake_http_url(receiver, "/in");
    char *out = util_printf("name: out\nplugin: http\nsettings:\n  url: %s\n"
                            "  secret: ${LHTEST_SWAP_OUT}\n  timeout: %s\n",
                            url, "10s");
    td_connector(&td, "out", out);
    free(out);
    td.extra_main = strdup("routes:\n  - name: to-out\n    from: inbound\n"
                           "    types: [\"*\"]\n    to: [out]\n");
    ck_assert_int_eq(td_start(&td), 0);
    ck_assert_int_eq(post("inbound", "old-secret-9b4f2d6e", "in-flight"), 200);
    ck_assert(td_wait_until(received_some, receiver, 20000));

    /* both change: the webhook's secret, the sink's timeout */
    td_connector(&td, "inbound",
                 "name: inbound\nplugin: webhook\nsettings:\n  secret: ${LHTEST_SWAP_NEW}\n");
    out = util_printf("name: out\nplugin: http\nsettings:\n  url: %s\n"
                      "  secret: ${LHTEST_SWAP_OUT}\n  timeout: %s\n",
                      url, "9s");
    td_connector(&td, "out", out);
    free(out);
    free(url);
    td_signal(&td, SIGHUP);
    int seen[600] = {0};
    int64_t deadline = util_monotonic_ms() + 30000;
    while (seen[200] == 0 && util_monotonic_ms() < deadline) {
        char id[32];
        snprintf(id, sizeof(id), "swap-%lld", (long long)util_monotonic_ms());
        int status = post("inbound", "new-secret-8c3b1f2a", id);
        seen[status >= 0 && status < 600 ? status : 0]++;
        struct timespec pause = {0, 20 * 1000000L};
        nanosleep(&pause, NULL);
    }
    ck_assert_msg(seen[200] > 0, "the new instance never answered");
    ck_assert_msg(seen[404] == 0, "%d answers were 404 during the swap", seen[404]);
    ck_assert_msg(seen[503] > 0, "no answer came during the swap (401: %d)", seen[401]);
    ck_assert_int_eq(seen[0], 0);
    ck_assert(log_says("reload applied: 0 instance(s) kept, 2 stopped, 2 started"));

    /* afterwards an unknown name is 404 again */
    ck_assert_int_eq(post("nobody", "new-secret-8c3b1f2a", "x"), 404);
    ck_assert_int_eq(td_stop(&td), 0);
    td_cleanup(&td);
    fake_http_stop(receiver);
}
END_TEST

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    Suite *s = suite_create("reload");
    TCase *tc = tcase_create("reload");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_sighup_adds_removes_and_refuses_broken_connectors);
    tcase_add_test(tc, test_sighup_restarts_a_changed_instance_and_applies_new_routes);
    tcase_add_test(tc, test_sighup_answers_503_not_404_while_it_swaps_an_instance);
    suite_add_tcase(s, tc);
    int rc = tu_run_suite(s);
    curl_global_cleanup();
    return rc;
}
