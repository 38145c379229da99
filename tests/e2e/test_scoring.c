/*
 * test_scoring.c - the scoring host. In the real daemon: leads touched by new events are
 * re-scored, changed scores written with their history, a threshold crossing emits exactly
 * one lead.scored event that routes like any other, `leadhubd rescore` is idempotent, and a
 * failing scorer blocks nothing. The engine itself (core/scoring.c against PostgreSQL, at a
 * fixed clock): what a composite may read of its parts.
 */
#include <check.h>
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "binding.h"
#include "config.h"
#include "daemon_harness.h"
#include "fake_http.h"
#include "http_client.h"
#include "instance.h"
#include "loader.h"
#include "metrics.h"
#include "scoring.h"
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

/* --- the engine, at a fixed clock ------------------------------------------------------
 *
 * No daemon: the scoring engine of core/scoring.c, built from a config file as `leadhubd
 * rescore` builds it, scoring the leads a test wrote into a fresh database.
 */

#define ENGINE_NOW "2026-11-27T10:00:00.000Z"

static char *engine_db_url;
static PGconn *engine_db;

struct engine {
    char *dir;
    struct config *config;
    struct plugin_registry plugins;
    struct host_services services;
    atomic_bool stopping;
    struct scoring *scoring;
};

static void engine_setup(void)
{
    engine_db_url = testdb_create_migrated();
    engine_db = testdb_connect(engine_db_url);
}

static void engine_teardown(void)
{
    PQfinish(engine_db);
    testdb_drop(engine_db_url);
}

static void diags_assert_none(struct diag_list *diags, const char *what)
{
    char *first = diags->count > 0 ? diag_format_one(&diags->items[0]) : NULL;
    ck_assert_msg(diag_error_count(diags) == 0, "%s: %s", what, first ? first : "?");
    free(first);
    diag_list_free(diags);
}

/*
 * Starts an engine with `scoring` (the main file's `scoring:` section, YAML) and the clock
 * fixed at `now`. The plugins are the built ones and the event_count_scorer fixture. A
 * scorer whose init() fails stays in the plan, not running, as in the daemon.
 */
static void engine_start(struct engine *e, const char *scoring, const char *now)
{
    memset(e, 0, sizeof(*e));
    e->dir = tu_tmpdir();
    char *copy = util_printf("mkdir -p '%s/plugins' '%s/conf.d' && cp "
                             "'%s/tests/fixtures/event_count_scorer.so' '%s/plugins/'",
                             e->dir, e->dir, tu_build_dir(), e->dir);
    ck_assert_int_eq(tu_run(copy, NULL), 0);
    free(copy);
    char *main_yaml = util_printf("database_url: \"%s\"\n"
                                  "plugin_path: [\"%s/plugins\", \"%s/plugins\"]\n"
                                  "connectors_dir: conf.d\n"
                                  "%s",
                                  engine_db_url, tu_build_dir(), e->dir, scoring);
    tu_write_file(e->dir, "leadhub.yaml", main_yaml);
    free(main_yaml);
    char *path = tu_path(e->dir, "leadhub.yaml");
    struct diag_list diags = {0};
    config_load(path, &e->config, &diags);
    free(path);
    diags_assert_none(&diags, "config");
    binding_load_plugins(e->config, &e->plugins, &diags);
    struct scoring_plan *plan = scoring_plan_build(e->config, &e->plugins, &diags);
    diags_assert_none(&diags, "scoring plan");
    ck_assert_ptr_nonnull(plan);

    atomic_init(&e->stopping, false);
    e->services.metrics = metrics_create();
    e->services.stopping = &e->stopping;
    e->services.database_url = e->config->database_url;
    pthread_mutex_init(&e->services.store_mutex, NULL);
    struct instance **scorers = calloc(plan->count + 1, sizeof(*scorers));
    ck_assert_ptr_nonnull(scorers);
    for (size_t i = 0; i < plan->count; i++) {
        const struct scorer_def *def = &plan->scorers[i];
        scorers[i] =
            instance_new(&def->instance, def->plugin, json_incref(def->settings), &e->services);
        ck_assert_ptr_nonnull(scorers[i]);
        instance_init(scorers[i]);
    }
    int64_t now_ms = 0;
    ck_assert_int_eq(util_parse_rfc3339(now, &now_ms), 0);
    struct scoring_options options = {
        .database_url = e->config->database_url, .metrics = e->services.metrics, .now_ms = now_ms};
    e->scoring = scoring_start(&options, plan, scorers);
    ck_assert_ptr_nonnull(e->scoring);
}

/* Scores every lead, with every scorer (only NULL) or with the one named `only`. */
static struct scoring_stats engine_run(struct engine *e, const char *only)
{
    long index = -1;
    if (only != NULL) {
        index = scoring_find(e->scoring, only);
        ck_assert_int_ge(index, 0);
    }
    PGresult *r = PQexec(engine_db, "SELECT id FROM leads ORDER BY id");
    ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
    size_t count = (size_t)PQntuples(r);
    int64_t *ids = calloc(count + 1, sizeof(*ids));
    ck_assert_ptr_nonnull(ids);
    for (size_t i = 0; i < count; i++) {
        ids[i] = strtoll(PQgetvalue(r, (int)i, 0), NULL, 10);
    }
    PQclear(r);
    char *error = NULL;
    struct store *store = store_open(engine_db_url, &error);
    ck_assert_msg(store != NULL, "store: %s", error);
    struct scoring_stats stats = {0};
    int rc = scoring_run(e->scoring, store, ids, count, index, &stats, &error);
    ck_assert_msg(rc == 0, "scoring_run: %s", error);
    store_close(store);
    free(ids);
    return stats;
}

static void engine_stop(struct engine *e)
{
    scoring_stop(e->scoring);
    store_close(e->services.store);
    metrics_free(e->services.metrics);
    pthread_mutex_destroy(&e->services.store_mutex);
    loader_free(&e->plugins);
    config_free(e->config);
    tu_rmrf(e->dir);
    free(e->dir);
}

static void sql(const char *statement)
{
    PGresult *r = PQexec(engine_db, statement);
    ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK,
                  "%s: %s", statement, PQerrorMessage(engine_db));
    PQclear(r);
}

/* A lead with `events` email.received events an hour before ENGINE_NOW. */
static void engine_lead(const char *email, int events)
{
    char *lead = util_printf("INSERT INTO leads (email) VALUES ('%s')", email);
    sql(lead);
    free(lead);
    char *rows =
        util_printf("INSERT INTO events (source, source_id, type, occurred_at, lead_id, payload) "
                    "SELECT 'inbound', '%s-' || i, 'email.received', '2026-11-27T09:00:00Z', "
                    "(SELECT id FROM leads WHERE email = '%s'), '{}' FROM generate_series(1, %d) i",
                    email, email, events);
    sql(rows);
    free(rows);
}

/* A score stored by an earlier pass. */
static void engine_stored_score(const char *email, const char *scorer, double score)
{
    char *row = util_printf("INSERT INTO lead_scores (lead_id, scorer, score, band, explanation) "
                            "SELECT id, '%s', %g, 'none', '[]' FROM leads WHERE email = '%s'",
                            scorer, score, email);
    sql(row);
    free(row);
}

/* The stored score of (email, scorer) as text, or "none". */
static char *engine_score(const char *email, const char *scorer)
{
    char *query = util_printf("SELECT coalesce((SELECT s.score::text FROM lead_scores s JOIN "
                              "leads l ON l.id = s.lead_id WHERE l.email = '%s' AND s.scorer = "
                              "'%s'), 'none')",
                              email, scorer);
    char *text = testdb_text(engine_db, query);
    free(query);
    return text;
}

static void assert_engine_score(const char *email, const char *scorer, const char *expected)
{
    char *score = engine_score(email, scorer);
    ck_assert_msg(strcmp(score, expected) == 0, "%s %s: %s, expected %s", email, scorer, score,
                  expected);
    free(score);
}

static const char activity_and_overall[] =
    "scoring:\n"
    "  - name: activity\n"
    "    plugin: event_count_scorer\n"
    "    settings: {per_event: 10}\n"
    "  - name: overall\n"
    "    plugin: composite\n"
    "    settings: {parts: [{scorer: activity, weight: 1}]}\n";

START_TEST(test_engine_composite_fails_when_its_part_failed_in_this_pass)
{
    /* the part scored 50 last time; this time it cannot score the lead */
    engine_lead("fail@example.com", 2);
    engine_stored_score("fail@example.com", "activity", 50);
    engine_lead("fine@example.com", 2);
    struct engine e;
    engine_start(&e, activity_and_overall, ENGINE_NOW);
    struct scoring_stats stats = engine_run(&e, NULL);
    engine_stop(&e);

    assert_engine_score("fail@example.com", "activity", "50");
    assert_engine_score("fail@example.com", "overall", "none");
    assert_engine_score("fine@example.com", "activity", "20");
    assert_engine_score("fine@example.com", "overall", "20");
    ck_assert_uint_eq(stats.errors, 2); /* activity, then the composite that needed it */
}
END_TEST

START_TEST(test_engine_composite_fails_when_its_part_is_not_running)
{
    /* fit's settings pass the schema but not its init(): it stays out of the pass, and its
     * stored score must not stand in for this pass's */
    engine_lead("ada@example.com", 1);
    engine_stored_score("ada@example.com", "fit", 80);
    struct engine e;
    engine_start(&e,
                 "scoring:\n"
                 "  - name: fit\n"
                 "    plugin: rules\n"
                 "    settings:\n"
                 "      rules: [{name: vp, points: 10, when: {lead.title: {regex: \"(vp\"}}}]\n"
                 "  - name: overall\n"
                 "    plugin: composite\n"
                 "    settings: {parts: [{scorer: fit, weight: 1}]}\n",
                 ENGINE_NOW);
    struct scoring_stats stats = engine_run(&e, NULL);
    engine_stop(&e);

    assert_engine_score("ada@example.com", "fit", "80");
    assert_engine_score("ada@example.com", "overall", "none");
    ck_assert_uint_eq(stats.errors, 2);
}
END_TEST

START_TEST(test_engine_one_scorer_pass_reads_the_stored_scores_of_those_before_it)
{
    /* `rescore --scorer overall`: activity does not run, its stored score feeds the mix */
    engine_lead("ada@example.com", 1);
    engine_stored_score("ada@example.com", "activity", 70);
    engine_lead("bob@example.com", 1); /* never scored by activity */
    struct engine e;
    engine_start(&e, activity_and_overall, ENGINE_NOW);
    struct scoring_stats stats = engine_run(&e, "overall");
    engine_stop(&e);

    assert_engine_score("ada@example.com", "activity", "70");
    assert_engine_score("ada@example.com", "overall", "70");
    assert_engine_score("bob@example.com", "activity", "none");
    assert_engine_score("bob@example.com", "overall", "none");
    ck_assert_uint_eq(stats.errors, 1);
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
    TCase *engine = tcase_create("engine");
    tcase_set_timeout(engine, 120);
    tcase_add_checked_fixture(engine, engine_setup, engine_teardown);
    tcase_add_test(engine, test_engine_composite_fails_when_its_part_failed_in_this_pass);
    tcase_add_test(engine, test_engine_composite_fails_when_its_part_is_not_running);
    tcase_add_test(engine, test_engine_one_scorer_pass_reads_the_stored_scores_of_those_before_it);
    suite_add_tcase(s, engine);
    int rc = tu_run_suite(s);
    curl_global_cleanup();
    return rc;
}
