/*
 * test_scoring.c - the scoring host in the real daemon: leads touched by new events are
 * re-scored, changed scores written with their history, a threshold crossing emits exactly
 * one lead.scored event that routes like any other, `leadhubd rescore` is idempotent, and a
 * failing scorer blocks nothing.
 */
#include <check.h>
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "daemon_harness.h"
#include "fake_http.h"
#include "http_client.h"
#include "testdb.h"
#include "testutil.h"
#include "util.h"

#define SECRET "scoring-secret"

static struct test_daemon td;
static struct fake_http *receiver;
static PGconn *db;

static void setup(void)
{
    receiver = fake_http_start();
    td_init(&td, NULL);
    char *plugins = tu_path(td.dir, "plugins");
    char *copy = util_printf("mkdir -p '%s' && cp '%s/tests/fixtures/event_count_scorer.so' '%s/'",
                             plugins, tu_build_dir(), plugins);
    ck_assert_int_eq(tu_run(copy, NULL), 0);
    free(copy);
    td.extra_plugin_dir = plugins;
    td_webhook_instance(&td, "inbound", SECRET);
    setenv("LHTEST_SCORED_OUT", "out-secret", 1);
    char *url = fake_http_url(receiver, "/scored");
    char *out = util_printf("name: crm\nplugin: http\nsettings:\n  url: %s\n"
                            "  secret: ${LHTEST_SCORED_OUT}\n",
                            url);
    td_connector(&td, "crm", out);
    free(out);
    free(url);
    td.extra_main = strdup("scoring:\n"
                           "  - name: activity\n"
                           "    plugin: event_count_scorer\n"
                           "    settings: {per_event: 10}\n"
                           "    thresholds: {hot: 30, warm: 20}\n"
                           "routes:\n"
                           "  - name: scores-to-crm\n"
                           "    from: activity\n"
                           "    types: [lead.scored]\n"
                           "    to: [crm]\n");
    int rc = td_start(&td);
    if (rc != 0) {
        char *log = td_log(&td);
        ck_abort_msg("daemon did not start (%d):\n%s", rc, log);
    }
    db = testdb_connect(td.db_url);
}

static void teardown(void)
{
    PQfinish(db);
    ck_assert_int_eq(td_stop(&td), 0);
    td_cleanup(&td);
    fake_http_stop(receiver);
}

static void post_events(const char *email, const char *first_id, size_t count)
{
    struct strbuf body = {0};
    strbuf_append(&body, "[");
    for (size_t i = 0; i < count; i++) {
        strbuf_appendf(&body,
                       "%s{\"type\":\"email.received\",\"source_id\":\"%s-%zu\","
                       "\"occurred_at\":\"%s\",\"lead\":{\"email\":\"%s\"}}",
                       i ? "," : "", first_id, i, "2026-11-27T10:00:00Z", email);
    }
    strbuf_append(&body, "]");
    ck_assert_int_eq(td_post(&td, "inbound", SECRET, strbuf_value(&body), NULL), 200);
    strbuf_free(&body);
}

struct expected_score {
    const char *email;
    double score;
};

static bool score_is(void *arg)
{
    const struct expected_score *e = arg;
    char *sql = util_printf("SELECT coalesce((SELECT s.score FROM lead_scores s JOIN leads l ON "
                            "l.id = s.lead_id WHERE l.email = '%s' AND s.scorer = 'activity'), "
                            "-1)",
                            e->email);
    char *text = testdb_text(db, sql);
    bool reached = strtod(text, NULL) == e->score;
    free(text);
    free(sql);
    return reached;
}

static long scalar(const char *sql)
{
    return testdb_scalar(db, sql);
}

static bool receiver_got_one(void *arg)
{
    (void)arg;
    return fake_http_request_count(receiver) >= 1;
}

START_TEST(test_crossing_a_threshold_emits_one_routed_lead_scored_event)
{
    /* the events are a few months old: the default 90-day window must still see them */
    post_events("ada@example.com", "a", 1);
    struct expected_score ten = {"ada@example.com", 10};
    ck_assert(td_wait_until(score_is, &ten, 15000));
    ck_assert_int_eq(scalar("SELECT count(*) FROM events WHERE type = 'lead.scored'"), 0);

    post_events("ada@example.com", "b", 2); /* one batch: 10 -> 30, none -> hot */
    struct expected_score thirty = {"ada@example.com", 30};
    ck_assert(td_wait_until(score_is, &thirty, 15000));
    ck_assert_int_eq(scalar("SELECT count(*) FROM events WHERE type = 'lead.scored'"), 1);
    char *data = testdb_text(db, "SELECT payload->'data'->>'previous_band' || '>' || "
                                 "(payload->'data'->>'band') || ' from ' || source "
                                 "FROM events WHERE type = 'lead.scored'");
    ck_assert_str_eq(data, "none>hot from activity");
    free(data);
    /* it is about the right lead, and routed to the CRM sink */
    ck_assert_int_eq(scalar("SELECT count(*) FROM events e JOIN leads l ON l.id = e.lead_id "
                            "WHERE e.type = 'lead.scored' AND l.email = 'ada@example.com'"),
                     1);
    ck_assert(td_wait_until(receiver_got_one, NULL, 15000));
    struct fake_request sent = fake_http_request(receiver, 0);
    ck_assert_ptr_nonnull(strstr(sent.body, "\"type\":\"lead.scored\""));
    fake_http_request_free(&sent);

    /* still hot: a new score, no new crossing */
    post_events("ada@example.com", "c", 1);
    struct expected_score forty = {"ada@example.com", 40};
    ck_assert(td_wait_until(score_is, &forty, 15000));
    ck_assert_int_eq(scalar("SELECT count(*) FROM events WHERE type = 'lead.scored'"), 1);
    ck_assert_int_eq(scalar("SELECT version FROM lead_scores"), 3);
    ck_assert_int_eq(scalar("SELECT count(*) FROM lead_score_history"), 3);
    char *explanation = testdb_text(db, "SELECT explanation->0->>'why' FROM lead_scores");
    ck_assert_str_eq(explanation, "4 event(s) in the window");
    free(explanation);
}
END_TEST

START_TEST(test_rescore_is_idempotent_and_reports_what_it_did)
{
    post_events("bob@example.com", "r", 2);
    struct expected_score twenty = {"bob@example.com", 20};
    ck_assert(td_wait_until(score_is, &twenty, 15000));
    char *config = tu_path(td.dir, "leadhub.yaml");
    char *command = util_printf("'%s' rescore --all -c '%s'", td_binary(), config);
    char *out = NULL;
    ck_assert_int_eq(tu_run(command, &out), 0);
    ck_assert_msg(strstr(out, "rescored 1 lead(s)") && strstr(out, ": 0 score(s) changed, 0 "
                                                                   "threshold crossing(s)"),
                  "%s", out);
    free(out);
    /* a score changed behind the engine's back is put right, crossing back included */
    PQclear(PQexec(db, "UPDATE lead_scores SET score = 95, band = 'hot'"));
    ck_assert_int_eq(tu_run(command, &out), 0);
    ck_assert_msg(strstr(out, ": 1 score(s) changed, 1 threshold crossing(s)"), "%s", out);
    free(out);
    ck_assert_int_eq(tu_run(command, &out), 0);
    ck_assert_msg(strstr(out, ": 0 score(s) changed"), "%s", out);
    free(out);
    char *bad = util_printf("'%s' rescore --all --scorer nope -c '%s'", td_binary(), config);
    ck_assert_int_eq(tu_run(bad, &out), 1);
    ck_assert_ptr_nonnull(strstr(out, "no scorer named \"nope\""));
    free(out);
    free(bad);
    free(command);
    free(config);
}
END_TEST

START_TEST(test_a_failing_scorer_blocks_neither_ingest_nor_other_leads)
{
    post_events("fail@example.com", "f", 1);
    post_events("fine@example.com", "g", 1);
    struct expected_score ten = {"fine@example.com", 10};
    ck_assert(td_wait_until(score_is, &ten, 15000));
    ck_assert_int_eq(scalar("SELECT count(*) FROM lead_scores s JOIN leads l ON l.id = "
                            "s.lead_id WHERE l.email = 'fail@example.com'"),
                     0);
    char *url = td_url(&td, "/metrics");
    struct http_result r;
    http_get(url, &r);
    ck_assert_ptr_nonnull(strstr(r.body, "leadhub_scorer_errors_total{scorer=\"activity\"} 1"));
    http_result_free(&r);
    free(url);
}
END_TEST

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    Suite *s = suite_create("scoring");
    TCase *tc = tcase_create("scoring");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_crossing_a_threshold_emits_one_routed_lead_scored_event);
    tcase_add_test(tc, test_rescore_is_idempotent_and_reports_what_it_did);
    tcase_add_test(tc, test_a_failing_scorer_blocks_neither_ingest_nor_other_leads);
    suite_add_tcase(s, tc);
    int rc = tu_run_suite(s);
    curl_global_cleanup();
    return rc;
}
