/*
 * test_readiness.c - /readyz means "send this process traffic": a connector instance whose
 * init() failed is reported (the /readyz body, /v1/connectors, leadhub_instance_up) and
 * refuses its own webhooks with 503, while the process stays ready and the other instances
 * keep working; `readiness.connectors: require` restores the strict rule.
 */
#include <check.h>
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "daemon_harness.h"
#include "http_client.h"
#include "testdb.h"
#include "testutil.h"
#include "util.h"

#define SECRET "readiness-secret"
#define TOKEN  "readiness-test-token"

static struct test_daemon td;

static void setup(void)
{
    memset(&td, 0, sizeof(td));
}

static void teardown(void)
{
    if (td.pid != 0) {
        ck_assert_int_eq(td_stop(&td), 0);
    }
    td_cleanup(&td);
}

/* `inbound` (webhook) routed to `refused` (flaky_init refusing its configuration, as a sink
 * with a wrong account would), plus `extra_main`. */
static void configure(const char *extra_main)
{
    td_init(&td, NULL);
    char *plugins = tu_path(td.dir, "plugins");
    char *copy = util_printf("mkdir -p '%s' && cp '%s/tests/fixtures/flaky_init.so' '%s/'", plugins,
                             tu_build_dir(), plugins);
    ck_assert_int_eq(tu_run(copy, NULL), 0);
    free(copy);
    td.extra_plugin_dir = plugins;
    td_webhook_instance(&td, "inbound", SECRET);
    td_connector(&td, "refused",
                 "name: refused\nplugin: flaky_init\nsettings:\n  url: http://127.0.0.1:9/x\n"
                 "  refuse: true\n");
    setenv("LHTEST_READINESS_TOKEN", TOKEN, 1);
    td.extra_main = util_printf("api:\n  tokens:\n    - name: t\n"
                                "      token: ${LHTEST_READINESS_TOKEN}\n"
                                "      scopes: [read]\n"
                                "routes:\n  - name: out\n    from: inbound\n    types: [\"*\"]\n"
                                "    to: [refused]\n%s",
                                extra_main);
}

static long get(const char *path, char **body_out)
{
    char *url = td_url(&td, path);
    const char *headers[] = {"Authorization: Bearer " TOKEN, NULL};
    struct http_result r;
    http_request("GET", url, headers, NULL, 0, &r);
    free(url);
    long status = r.status;
    *body_out = r.body;
    r.body = NULL;
    http_result_free(&r);
    return status;
}

static void assert_contains(const char *text, const char *needle)
{
    ck_assert_msg(text != NULL && strstr(text, needle) != NULL, "\"%s\" not in:\n%s", needle,
                  text != NULL ? text : "(null)");
}

START_TEST(test_a_failing_sink_leaves_the_pod_ready_and_refuses_only_its_own_webhooks)
{
    configure("");
    int rc = td_start(&td); /* waits for /readyz 200 */
    if (rc != 0) {
        char *log = td_log(&td);
        ck_abort_msg("the daemon did not get ready (%d); its log:\n%s", rc, log);
    }

    char *body = NULL;
    ck_assert_int_eq(get("/readyz", &body), 200);
    assert_contains(body, "\"status\":\"ready\"");
    assert_contains(body, "\"refused\":\"init failed (config): the provider refuses this account");
    assert_contains(body, "\"inbound\":\"ok\"");
    free(body);

    /* its own webhooks: 503, with a Retry-After */
    ck_assert_int_eq(td_post(&td, "refused", SECRET, "{}", &body), 503);
    assert_contains(body, "not initialized");
    free(body);

    /* the others work: stored, and routed to the failing sink's outbox to wait */
    const char event[] = "{\"type\":\"lead.created\",\"source_id\":\"r-1\",\"occurred_at\":"
                         "\"2026-11-27T10:00:00Z\",\"lead\":{\"email\":\"r1@example.com\"}}";
    ck_assert_int_eq(td_post(&td, "inbound", SECRET, event, &body), 200);
    assert_contains(body, "\"accepted\":1");
    free(body);
    PGconn *db = testdb_connect(td.db_url);
    ck_assert_int_eq(testdb_scalar(db, "SELECT count(*) FROM events WHERE source_id = 'r-1'"), 1);
    ck_assert_int_eq(testdb_scalar(db, "SELECT count(*) FROM deliveries WHERE "
                                       "destination = 'refused' AND status = 'pending'"),
                     1);
    PQfinish(db);

    /* reported in the API and the metrics */
    ck_assert_int_eq(get("/v1/connectors/refused", &body), 200);
    assert_contains(body, "\"initialized\":false");
    assert_contains(body, "the provider refuses this account");
    free(body);
    ck_assert_int_eq(get("/metrics", &body), 200);
    assert_contains(body, "leadhub_instance_up{instance=\"refused\"} 0");
    assert_contains(body, "leadhub_instance_up{instance=\"inbound\"} 1");
    assert_contains(body, "leadhub_webhook_requests_total{instance=\"refused\","
                          "outcome=\"not_initialized\"} 1");
    free(body);
}
END_TEST

static bool readyz_is_503(void *arg)
{
    (void)arg;
    char *body = NULL;
    long status = get("/readyz", &body);
    free(body);
    return status == 503;
}

START_TEST(test_readiness_connectors_require_makes_a_failing_sink_unready)
{
    configure("readiness:\n  connectors: require\n");
    td_spawn(&td);
    ck_assert(td_wait_until(readyz_is_503, NULL, 60000));
    char *body = NULL;
    ck_assert_int_eq(get("/readyz", &body), 503);
    assert_contains(body, "\"reason\":\"a connector instance failed (readiness.connectors: "
                          "require)\"");
    assert_contains(body, "\"database\":\"ok\"");
    free(body);
    /* unready is not dead: the other instances still take webhooks sent to this pod */
    const char event[] = "{\"type\":\"lead.created\",\"source_id\":\"r-2\",\"occurred_at\":"
                         "\"2026-11-27T10:00:00Z\",\"lead\":{\"email\":\"r2@example.com\"}}";
    ck_assert_int_eq(td_post(&td, "inbound", SECRET, event, NULL), 200);
}
END_TEST

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    Suite *s = suite_create("readiness");
    TCase *tc = tcase_create("readiness");
    tcase_set_timeout(tc, 180);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_a_failing_sink_leaves_the_pod_ready_and_refuses_only_its_own_webhooks);
    tcase_add_test(tc, test_readiness_connectors_require_makes_a_failing_sink_unready);
    suite_add_tcase(s, tc);
    int failed = tu_run_suite(s);
    curl_global_cleanup();
    return failed;
}
