/*
 * test_scoring.c - the scoring host. In the real daemon: leads touched by new events are
 * re-scored, changed scores written with their history, a threshold crossing emits exactly
 * one lead.scored event that routes like any other, `leadhubd rescore` is idempotent, and a
 * failing scorer blocks nothing. The engine itself (core/scoring.c against PostgreSQL, at a
 * fixed clock): what a composite may read of its parts, the snapshot a scorer is handed (its
 * window, at the scoring clock), and the worked examples of docs/scoring.md, read from the
 * page, stored in the database and scored by the real rules, engagement and composite
 * plugins.
 */
#include <check.h>
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "binding.h"
#include "config.h"
#include "config_yaml.h"
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

#define SECRET "scoring-secret-4a2f"

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
    setenv("LHTEST_SCORED_OUT", "scored-out-secret-9e2b", 1);
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

/* The daemon scores at the wall clock: events it is to see are dated from it, a few weeks
 * back (inside the default 90-day window whenever the tests run). */
#define EVENT_AGE_MS (20LL * 24 * 3600 * 1000)

static void post_events(const char *email, const char *first_id, size_t count)
{
    char occurred_at[32];
    util_format_rfc3339(util_now_ms() - EVENT_AGE_MS, occurred_at);
    struct strbuf body = {0};
    strbuf_append(&body, "[");
    for (size_t i = 0; i < count; i++) {
        strbuf_appendf(&body,
                       "%s{\"type\":\"email.received\",\"source_id\":\"%s-%zu\","
                       "\"occurred_at\":\"%s\",\"lead\":{\"email\":\"%s\"}}",
                       i ? "," : "", first_id, i, occurred_at, email);
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
    /* the events are weeks old: the default 90-day window must still see them */
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

START_TEST(test_a_crossing_after_its_scores_were_deleted_is_emitted_again)
{
    post_events("ada@example.com", "a", 3); /* none -> hot */
    struct expected_score thirty = {"ada@example.com", 30};
    ck_assert(td_wait_until(score_is, &thirty, 15000));
    ck_assert_int_eq(scalar("SELECT count(*) FROM events WHERE type = 'lead.scored'"), 1);
    /* the current scores go (a reset, a restore); the history stays */
    PQclear(PQexec(db, "DELETE FROM lead_scores"));
    post_events("ada@example.com", "b", 1); /* none -> hot again, a new crossing */
    struct expected_score forty = {"ada@example.com", 40};
    ck_assert(td_wait_until(score_is, &forty, 15000));
    ck_assert_int_eq(scalar("SELECT version FROM lead_scores"), 1);
    ck_assert_int_eq(scalar("SELECT count(*) FROM events WHERE type = 'lead.scored'"), 2);
    /* each named by its history row */
    ck_assert_int_eq(scalar("SELECT count(*) FROM events e JOIN lead_score_history h ON "
                            "e.source_id = h.lead_id || ':h' || h.id WHERE e.type = "
                            "'lead.scored' AND e.source = h.scorer"),
                     2);
    ck_assert_int_eq(scalar("SELECT count(*) FROM deliveries d JOIN events e ON e.id = "
                            "d.event_id WHERE e.type = 'lead.scored' AND d.destination = 'crm'"),
                     2);
}
END_TEST

static bool a_pass_waits_on_the_lock(void *arg)
{
    PGconn *other = arg;
    return testdb_scalar(other, "SELECT count(*) FROM pg_stat_activity WHERE datname = "
                                "current_database() AND wait_event_type = 'Lock' AND query "
                                "LIKE '%lead_scores%'") > 0;
}

START_TEST(test_leads_whose_pass_failed_on_the_database_are_scored_later)
{
    /* the engine's pass blocks on the locked table, then loses its connection */
    PGconn *locker = testdb_connect(td.db_url);
    PQclear(PQexec(locker, "BEGIN"));
    PGresult *locked = PQexec(locker, "LOCK TABLE lead_scores IN ACCESS EXCLUSIVE MODE");
    ck_assert_int_eq(PQresultStatus(locked), PGRES_COMMAND_OK);
    PQclear(locked);
    post_events("late@example.com", "l", 1);
    ck_assert(td_wait_until(a_pass_waits_on_the_lock, db, 15000));
    ck_assert_int_eq(scalar("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                            "WHERE datname = current_database() AND wait_event_type = 'Lock' "
                            "AND query LIKE '%lead_scores%'"),
                     1);
    PQclear(PQexec(locker, "ROLLBACK"));
    PQfinish(locker);
    /* the lead is not lost: tried again once the database answers */
    struct expected_score ten = {"late@example.com", 10};
    ck_assert(td_wait_until(score_is, &ten, 30000));
    char *log = td_log(&td);
    ck_assert_msg(strstr(log, "scoring 1 lead(s) failed (1 time(s) in a row), trying again in "
                              "1000 ms: "),
                  "%s", log);
    free(log);
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

/*
 * Writes <td.dir>/<name>.yaml, a main file for `leadhubd rescore` on the daemon's database
 * with `scoring` (the section, YAML) and no connectors.
 */
static void rescore_config(const char *name, const char *scoring)
{
    char *file = util_printf("%s.yaml", name);
    char *text = util_printf("database_url: \"%s\"\n"
                             "plugin_path: [\"%s/plugins\", \"%s/plugins\"]\n"
                             "connectors_dir: %s.d\n"
                             "%s",
                             td.db_url, tu_build_dir(), td.dir, name, scoring);
    tu_write_file(td.dir, file, text);
    char *empty = util_printf("%s/%s.d", td.dir, name);
    ck_assert_int_eq(mkdir(empty, 0755), 0);
    free(empty);
    free(text);
    free(file);
}

/* `leadhubd rescore ARGS -c <td.dir>/<name>.yaml`: the exit code, the output in *out. */
static int rescore(const char *name, const char *args, char **out)
{
    char *command = util_printf("'%s' rescore %s -c '%s/%s.yaml'", td_binary(), args, td.dir, name);
    int rc = tu_run(command, out);
    free(command);
    return rc;
}

START_TEST(test_rescore_exits_1_and_scores_nothing_when_a_scorer_cannot_start)
{
    post_events("bob@example.com", "r", 2);
    struct expected_score twenty = {"bob@example.com", 20};
    ck_assert(td_wait_until(score_is, &twenty, 15000));
    PQclear(PQexec(db, "UPDATE lead_scores SET score = 95, band = 'hot'"));
    /* fit's settings are valid; its init() fails all the same (what it needs is down) */
    rescore_config("broken", "scoring:\n"
                             "  - name: activity\n"
                             "    plugin: event_count_scorer\n"
                             "    settings: {per_event: 10}\n"
                             "  - name: fit\n"
                             "    plugin: event_count_scorer\n"
                             "    settings: {init_fails: true}\n");
    char *out = NULL;
    ck_assert_int_eq(rescore("broken", "--all", &out), 1);
    ck_assert_msg(strstr(out, "scorer fit: init failed (retry): the scorer's service is down"),
                  "%s", out);
    ck_assert_msg(strstr(out, "nothing rescored"), "%s", out);
    free(out);
    struct expected_score untouched = {"bob@example.com", 95};
    ck_assert(score_is(&untouched));
    ck_assert_int_eq(scalar("SELECT count(*) FROM lead_score_history"), 1);
}
END_TEST

START_TEST(test_rescore_since_scores_the_leads_updated_or_with_events_received_since)
{
    post_events("old@example.com", "o", 1);
    post_events("new@example.com", "n", 2);
    struct expected_score old_ten = {"old@example.com", 10}, new_twenty = {"new@example.com", 20};
    ck_assert(td_wait_until(score_is, &old_ten, 15000));
    ck_assert(td_wait_until(score_is, &new_twenty, 15000));
    /* old@ last changed, and last sent an event, ten days ago */
    PQclear(PQexec(db, "UPDATE leads SET updated_at = now() - interval '10 days' "
                       "WHERE email = 'old@example.com'"));
    PQclear(PQexec(db, "UPDATE events SET received_at = now() - interval '10 days' WHERE "
                       "lead_id = (SELECT id FROM leads WHERE email = 'old@example.com')"));
    PQclear(PQexec(db, "UPDATE lead_scores SET score = 95, band = 'hot'"));
    char *config = tu_path(td.dir, "leadhub.yaml");
    char *command = util_printf("'%s' rescore --since 1d -c '%s'", td_binary(), config);
    char *out = NULL;
    ck_assert_int_eq(tu_run(command, &out), 0);
    ck_assert_msg(strstr(out, "rescored 1 lead(s)") && strstr(out, ": 1 score(s) changed"), "%s",
                  out);
    free(out);
    free(command);
    struct expected_score old_stale = {"old@example.com", 95};
    ck_assert(score_is(&old_stale));
    ck_assert(score_is(&new_twenty));
    /* an RFC 3339 time before both reaches both */
    char since[32];
    util_format_rfc3339(util_now_ms() - 11LL * 24 * 3600 * 1000, since);
    command = util_printf("'%s' rescore --since %s -c '%s'", td_binary(), since, config);
    ck_assert_int_eq(tu_run(command, &out), 0);
    ck_assert_msg(strstr(out, "rescored 2 lead(s)") && strstr(out, ": 1 score(s) changed"), "%s",
                  out);
    free(out);
    free(command);
    free(config);
    ck_assert(score_is(&old_ten));
}
END_TEST

static long score_of(const char *scorer, const char *column)
{
    char *query = util_printf("SELECT coalesce((SELECT s.%s FROM lead_scores s JOIN leads l ON "
                              "l.id = s.lead_id WHERE l.email = 'bob@example.com' AND s.scorer = "
                              "'%s'), -1)",
                              column, scorer);
    long value = scalar(query);
    free(query);
    return value;
}

START_TEST(test_rescore_scorer_runs_one_scorer_on_the_stored_scores_of_the_others)
{
    post_events("bob@example.com", "r", 2);
    struct expected_score twenty = {"bob@example.com", 20};
    ck_assert(td_wait_until(score_is, &twenty, 15000));
    rescore_config("more", "scoring:\n"
                           "  - name: activity\n"
                           "    plugin: event_count_scorer\n"
                           "    settings: {per_event: 10}\n"
                           "  - name: double\n"
                           "    plugin: event_count_scorer\n"
                           "    settings: {per_event: 20}\n"
                           "  - name: overall\n"
                           "    plugin: composite\n"
                           "    settings:\n"
                           "      parts: [{scorer: activity, weight: 1}, {scorer: double, weight: "
                           "1}]\n");
    /* `double` has no stored score yet: the composite cannot be computed */
    char *out = NULL;
    ck_assert_int_eq(rescore("more", "--all --scorer overall", &out), 0);
    ck_assert_msg(strstr(out, ": 0 score(s) changed, 0 threshold crossing(s), 1 scorer error(s)"),
                  "%s", out);
    free(out);
    ck_assert_int_eq(score_of("overall", "score"), -1);

    ck_assert_int_eq(rescore("more", "--all --scorer double", &out), 0);
    ck_assert_msg(strstr(out, ": 1 score(s) changed"), "%s", out);
    free(out);
    ck_assert_int_eq(score_of("double", "score"), 40);
    ck_assert_int_eq(score_of("overall", "score"), -1);

    /* now it mixes activity's 20 (scored by the daemon) and double's 40 */
    ck_assert_int_eq(rescore("more", "--all --scorer overall", &out), 0);
    ck_assert_msg(strstr(out, ": 1 score(s) changed, 0 threshold crossing(s), 0 scorer error(s)"),
                  "%s", out);
    free(out);
    ck_assert_int_eq(score_of("overall", "score"), 30);
    ck_assert_int_eq(score_of("activity", "version"), 1);
    ck_assert_int_eq(score_of("double", "version"), 1);
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
    /* logged, naming the lead, the reason and the scorer */
    long lead = scalar("SELECT id FROM leads WHERE email = 'fail@example.com'");
    char *expected = util_printf("could not score lead %ld: this lead cannot be scored\","
                                 "\"plugin\":\"event_count_scorer\",\"instance\":\"activity\"",
                                 lead);
    char *log = td_log(&td);
    ck_assert_msg(strstr(log, expected) != NULL, "the log lacks %s:\n%s", expected, log);
    free(log);
    free(expected);
    /* and ingest goes on: the lead's next event is taken and stored, the other lead's too */
    post_events("fail@example.com", "f2", 1);
    post_events("fine@example.com", "g2", 1);
    ck_assert_int_eq(scalar("SELECT count(*) FROM events e JOIN leads l ON l.id = e.lead_id "
                            "WHERE l.email = 'fail@example.com'"),
                     2);
    struct expected_score twenty = {"fine@example.com", 20};
    ck_assert(td_wait_until(score_is, &twenty, 15000));
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
    /* fit's init() fails (what it needs is down): it stays out of the pass, and its stored
     * score must not stand in for this pass's */
    engine_lead("ada@example.com", 1);
    engine_stored_score("ada@example.com", "fit", 80);
    struct engine e;
    engine_start(&e,
                 "scoring:\n"
                 "  - name: fit\n"
                 "    plugin: event_count_scorer\n"
                 "    settings: {init_fails: true}\n"
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

/* --- the snapshot and the worked examples of docs/scoring.md, at the fixed clock ---------- */

/* Runs `statement` with $1 = `param`; returns the first value of the first row (malloc'd)
 * or NULL when there is no row. */
static char *sql_param(const char *statement, const char *param)
{
    const char *params[] = {param};
    PGresult *r = PQexecParams(engine_db, statement, 1, NULL, params, NULL, NULL, 0);
    ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK,
                  "%s: %s", statement, PQerrorMessage(engine_db));
    char *value = PQntuples(r) > 0 ? strdup(PQgetvalue(r, 0, 0)) : NULL;
    PQclear(r);
    return value;
}

/*
 * Stores a lead as a docs/scoring.md snapshot shows it: its fields and attributes, its
 * identities, and its events (source_id "doc-<id>", `data` as the payload's). `email`
 * replaces the snapshot's when not NULL. Returns the lead's id (malloc'd text).
 */
static char *store_snapshot_lead(const json_t *snapshot, const char *email)
{
    json_t *lead = json_deep_copy(json_object_get(snapshot, "lead"));
    if (email != NULL) {
        json_object_set_new(lead, "email", json_string(email));
    }
    char *text = json_dumps(lead, JSON_COMPACT);
    char *id = sql_param("INSERT INTO leads (email, first_name, last_name, company, title, "
                         "attributes) SELECT email, first_name, last_name, company, title, "
                         "coalesce(attributes, '{}') FROM jsonb_to_record($1::jsonb) AS x(email "
                         "text, first_name text, last_name text, company text, title text, "
                         "attributes jsonb) RETURNING id",
                         text);
    free(text);
    json_decref(lead);
    json_t *members = json_pack("{s:s,s:O,s:O}", "lead", id, "identities",
                                json_object_get(snapshot, "identities"), "events",
                                json_object_get(snapshot, "events"));
    char *rows = json_dumps(members, JSON_COMPACT);
    json_decref(members);
    ck_assert_ptr_nonnull(rows);
    free(sql_param("INSERT INTO lead_identities (source, external_id, lead_id) SELECT i.source, "
                   "i.external_id, ($1::jsonb->>'lead')::bigint FROM jsonb_to_recordset($1::jsonb->"
                   "'identities') AS i(source text, external_id text)",
                   rows));
    free(sql_param("INSERT INTO events (source, source_id, type, occurred_at, lead_id, payload) "
                   "SELECT e.source, 'doc-' || e.id, e.type, e.occurred_at, ($1::jsonb->>'lead')"
                   "::bigint, jsonb_build_object('data', e.data) FROM jsonb_to_recordset($1::jsonb"
                   "->'events') AS e(id bigint, type text, source text, occurred_at timestamptz, "
                   "data jsonb)",
                   rows));
    free(rows);
    return id;
}

/* One more event for lead `id`: type, source, occurred_at. */
static void store_event(const char *id, const char *type, const char *source_id,
                        const char *occurred_at)
{
    char *row = util_printf("INSERT INTO events (source, source_id, type, occurred_at, lead_id, "
                            "payload) VALUES ('test', '%s', '%s', '%s', %s, '{}')",
                            source_id, type, occurred_at, id);
    sql(row);
    free(row);
}

/* The stored row of (lead id, scorer): {score, band, contributions}. NEW reference. */
static json_t *stored_result(const char *id, const char *scorer)
{
    char *query = util_printf("SELECT json_build_object('score', score, 'band', band, "
                              "'contributions', explanation)::text FROM lead_scores WHERE "
                              "lead_id = %s AND scorer = '%s'",
                              id, scorer);
    PGresult *r = PQexec(engine_db, query);
    ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
    ck_assert_msg(PQntuples(r) == 1, "lead %s has no %s score", id, scorer);
    json_t *row = json_loads(PQgetvalue(r, 0, 0), 0, NULL);
    ck_assert_ptr_nonnull(row);
    PQclear(r);
    free(query);
    return row;
}

/* Numbers compare by value: the page writes 15 where the scorer stored 15.0. */
static void assert_number(const json_t *value, double expected, const char *what)
{
    ck_assert_msg(json_is_number(value) && json_number_value(value) - expected < 1e-9 &&
                      expected - json_number_value(value) < 1e-9,
                  "%s: %g, expected %g", what, json_number_value(value), expected);
}

/* A stored score is exactly `expected` ({score, contributions: [{rule, points, why}]}). */
static void assert_stored(const char *id, const char *scorer, const char *band,
                          const json_t *expected)
{
    json_t *row = stored_result(id, scorer);
    char *shown = json_dumps(row, JSON_COMPACT);
    assert_number(json_object_get(row, "score"),
                  json_number_value(json_object_get(expected, "score")), shown);
    ck_assert_str_eq(json_string_value(json_object_get(row, "band")), band);
    const json_t *got = json_object_get(row, "contributions");
    const json_t *want = json_object_get(expected, "contributions");
    ck_assert_msg(json_array_size(got) == json_array_size(want), "%s", shown);
    for (size_t i = 0; i < json_array_size(want); i++) {
        const json_t *g = json_array_get(got, i), *w = json_array_get(want, i);
        ck_assert_msg(json_object_size(g) == 3, "%s", shown);
        ck_assert_str_eq(json_string_value(json_object_get(g, "rule")),
                         json_string_value(json_object_get(w, "rule")));
        ck_assert_str_eq(json_string_value(json_object_get(g, "why")),
                         json_string_value(json_object_get(w, "why")));
        assert_number(json_object_get(g, "points"), json_number_value(json_object_get(w, "points")),
                      shown);
    }
    free(shown);
    json_decref(row);
}

/* The text of the next ``` block of `language` after `from`, or NULL; *end_out after it. */
static char *fenced_block(const char *from, const char *language, const char **end_out)
{
    char *opening = util_printf("```%s\n", language);
    const char *start = strstr(from, opening);
    size_t skip = strlen(opening);
    free(opening);
    if (start == NULL) {
        return NULL;
    }
    start += skip;
    const char *end = strstr(start, "```");
    if (end == NULL) {
        return NULL;
    }
    *end_out = end + 3;
    return strndup(start, (size_t)(end - start));
}

static char *read_scoring_md(void)
{
    char *path = util_printf("%s/docs/scoring.md", tu_source_dir());
    char *page = util_read_file(path, 1 << 20, NULL);
    ck_assert_msg(page != NULL, "cannot read %s", path);
    free(path);
    return page;
}

static json_t *parse_yaml(const char *text)
{
    json_t *tree = NULL;
    struct diag_list diags = {0};
    int rc = config_yaml_parse(text, strlen(text), "docs/scoring.md", &tree, NULL, &diags);
    ck_assert_msg(rc == 0, "YAML: %s", diags.count ? diags.items[0].message : "?");
    diag_list_free(&diags);
    return tree;
}

/* The worked example marked <!-- example: NAME -->: its config (a YAML block), the snapshot
 * and the result (the two JSON blocks after it). NEW references. */
struct doc_example {
    json_t *config;
    json_t *snapshot;
    json_t *result;
};

static struct doc_example doc_example(const char *page, const char *name)
{
    char *marker = util_printf("<!-- example: %s -->", name);
    const char *at = strstr(page, marker);
    ck_assert_msg(at != NULL, "docs/scoring.md has no %s", marker);
    free(marker);
    char *config = fenced_block(at, "yaml", &at);
    char *snapshot = config ? fenced_block(at, "json", &at) : NULL;
    char *result = snapshot ? fenced_block(at, "json", &at) : NULL;
    ck_assert_msg(result != NULL, "example %s lacks a yaml block and two json blocks", name);
    struct doc_example example = {parse_yaml(config), json_loads(snapshot, 0, NULL),
                                  json_loads(result, 0, NULL)};
    ck_assert_msg(example.snapshot != NULL && example.result != NULL, "example %s: bad JSON", name);
    free(config);
    free(snapshot);
    free(result);
    return example;
}

static void doc_example_free(struct doc_example *example)
{
    json_decref(example->config);
    json_decref(example->snapshot);
    json_decref(example->result);
}

/* The entry of an example's `scoring` list named `name`. BORROWED. */
static json_t *doc_scorer(const struct doc_example *example, const char *name)
{
    size_t i;
    json_t *entry;
    json_array_foreach(json_object_get(example->config, "scoring"), i, entry)
    {
        if (strcmp(json_string_value(json_object_get(entry, "name")), name) == 0) {
            return entry;
        }
    }
    ck_abort_msg("the example configures no scorer named %s", name);
    return NULL;
}

START_TEST(test_engine_hands_each_scorer_its_window_at_the_scoring_clock)
{
    engine_lead("ada@example.com", 0);
    char *id = sql_param("SELECT id FROM leads WHERE email = $1", "ada@example.com");
    store_event(id, "email.replied", "new", "2026-11-20T10:00:00Z");       /* 7 days old */
    store_event(id, "email.received", "edge", "2026-10-28T10:00:00Z");     /* exactly 30d */
    store_event(id, "email.received", "old", "2026-10-28T09:59:59Z");      /* just over */
    store_event(id, "meeting.scheduled", "older", "2026-09-28T10:00:00Z"); /* 60 days */
    store_event(id, "lead.scored", "s-1", "2026-11-26T10:00:00Z");         /* its own: never */
    store_event(id, "email.sent", "later", "2026-11-28T10:00:00Z");        /* after now */
    char *rows = util_printf(
        "INSERT INTO lead_identities (source, external_id, lead_id) VALUES ('crm', '501', %s);"
        "INSERT INTO meetings (source, external_id, starts_at, status, lead_id, last_event_at) "
        "VALUES ('cal', 'soon', '2026-12-03T15:00:00Z', 'scheduled', %s, now()), "
        "('cal', 'past', '2026-10-01T15:00:00Z', 'scheduled', %s, now()), "
        "('cal', 'invited', '2026-11-25T15:00:00Z', 'scheduled', NULL, now());"
        "INSERT INTO meeting_attendees (meeting_id, email, lead_id) SELECT id, "
        "'ada@example.com', %s FROM meetings WHERE external_id = 'invited'",
        id, id, id, id);
    sql(rows);
    free(rows);
    struct engine e;
    engine_start(&e,
                 "scoring:\n"
                 "  - name: recent\n"
                 "    plugin: event_count_scorer\n"
                 "    settings: {per_event: 1, describe: true}\n"
                 "    window: 30d\n"
                 "  - name: all\n"
                 "    plugin: event_count_scorer\n"
                 "    settings: {per_event: 1, describe: true}\n",
                 ENGINE_NOW);
    engine_run(&e, NULL);
    engine_stop(&e);

    /* 30 days back from the scoring clock, not the wall clock; newest first */
    json_t *recent = stored_result(id, "recent");
    char *text = json_dumps(json_object_get(recent, "contributions"), JSON_COMPACT);
    ck_assert_str_eq(text,
                     "[{\"why\":\"3 event(s) in the window\",\"rule\":\"events\",\"points\":3},"
                     "{\"why\":\"2026-11-27T10:00:00.000Z\",\"rule\":\"now\",\"points\":0},"
                     "{\"why\":\"email.sent 2026-11-28T10:00:00.000Z\",\"rule\":\"event\","
                     "\"points\":0},"
                     "{\"why\":\"email.replied 2026-11-20T10:00:00.000Z\",\"rule\":\"event\","
                     "\"points\":0},"
                     "{\"why\":\"email.received 2026-10-28T10:00:00.000Z\",\"rule\":"
                     "\"event\",\"points\":0},"
                     "{\"why\":\"soon 2026-12-03T15:00:00.000Z\",\"rule\":\"meeting\","
                     "\"points\":0},"
                     "{\"why\":\"invited 2026-11-25T15:00:00.000Z\",\"rule\":\"meeting\","
                     "\"points\":0},"
                     "{\"why\":\"crm 501\",\"rule\":\"identity\",\"points\":0}]");
    free(text);
    json_decref(recent);
    /* the default window (90d) reaches the older ones; a later scorer sees the earlier one's
     * result of this pass */
    json_t *all = stored_result(id, "all");
    assert_number(json_object_get(all, "score"), 5, "all");
    json_t *last = json_array_get(json_object_get(all, "contributions"),
                                  json_array_size(json_object_get(all, "contributions")) - 1);
    ck_assert_str_eq(json_string_value(json_object_get(last, "why")), "recent 3");
    json_decref(all);
    free(id);
}
END_TEST

START_TEST(test_engine_scores_the_worked_examples_of_docs_scoring_md)
{
    char *page = read_scoring_md();
    struct doc_example rules = doc_example(page, "rules");
    struct doc_example engagement = doc_example(page, "engagement");
    struct doc_example composite = doc_example(page, "composite");
    free(page);
    /* the composite example's config, with the parts' settings of their own examples */
    json_t *scoring =
        json_pack("[O,O,O]", doc_scorer(&rules, "fit"), doc_scorer(&engagement, "activity"),
                  doc_scorer(&composite, "lead_score"));
    char *list = json_dumps(scoring, JSON_COMPACT);
    char *section = util_printf("scoring: %s\n", list);
    free(list);
    json_decref(scoring);

    /* lead A: the rules example's lead and history */
    char *a = store_snapshot_lead(rules.snapshot, NULL);
    /* lead B: the same kind of lead with the engagement example's history */
    json_t *b_snapshot = json_deep_copy(engagement.snapshot);
    json_object_set(b_snapshot, "lead", json_object_get(rules.snapshot, "lead"));
    json_object_set_new(b_snapshot, "identities",
                        json_pack("[{s:s,s:s}]", "source", "crm", "external_id", "502"));
    char *b = store_snapshot_lead(b_snapshot, "ada@engines.example");
    json_decref(b_snapshot);
    /* outside the 90-day window: they would change both leads' activity */
    store_event(a, "email.replied", "old-reply", "2026-08-19T10:00:00Z");
    store_event(b, "payment.succeeded", "old-payment", "2026-08-27T09:59:59Z");

    struct engine e;
    engine_start(&e, section, json_string_value(json_object_get(rules.snapshot, "now")));
    struct scoring_stats stats = engine_run(&e, NULL);
    engine_stop(&e);
    free(section);
    ck_assert_uint_eq(stats.errors, 0);
    ck_assert_uint_eq(stats.changed, 6);

    /* exactly what the page says each scorer returns */
    assert_stored(a, "fit", "hot", rules.result);
    assert_stored(b, "activity", "warm", engagement.result);
    assert_stored(b, "lead_score", "hot", composite.result);
    /* and the other three, worked by hand the same way */
    json_t *b_fit = json_deep_copy(rules.result);
    json_t *contributions = json_object_get(b_fit, "contributions");
    json_object_set_new(json_array_get(contributions, 0), "why",
                        json_string("email domain engines.example is not a free-mail provider"));
    json_object_set_new(json_array_get(contributions, 3), "why",
                        json_string("2 email.replied events in the last 30d (at least 1)"));
    assert_stored(b, "fit", "hot", b_fit);
    json_decref(b_fit);
    /*
     * A's activity: email.replied 3d and 40d old, meeting.scheduled 10d, meeting.canceled
     * 20d (the reply 100 days old is outside the window). Values 10 * 2^(-3/14) = 8.619728,
     * 10 * 2^(-40/14) = 1.380317, 30 * 2^(-10/14) = 18.285320, -15 * 2^(-20/14) = -5.572506;
     * S = 22.712859, 100 * (1 - e^(-S/50)) = 36.506 -> 36.51, and the curve makes up
     * 36.51 - (18.29 + 10 - 5.57) = 13.79.
     */
    json_t *a_activity =
        json_pack("{s:f,s:[{s:s,s:f,s:s},{s:s,s:f,s:s},{s:s,s:f,s:s},{s:s,s:f,s:s}]}", "score",
                  36.51, "contributions", "rule", "meeting.scheduled", "points", 18.29, "why",
                  "1 event worth 30, 10d ago, halved every 14d", "rule", "email.replied", "points",
                  10.0, "why", "2 events worth 10 each, 3d to 40d ago, halved every 14d", "rule",
                  "meeting.canceled", "points", -5.57, "why",
                  "1 event worth -15, 20d ago, halved every 14d", "rule", "curve", "points", 13.79,
                  "why", "the decayed sum 22.71 gives 100 * (1 - exp(-22.71 / 50)) = 36.51");
    assert_stored(a, "activity", "warm", a_activity);
    json_decref(a_activity);
    /* A's mix: 0.6 * 95 + 0.4 * 36.51 = 57 + 14.604 = 71.604 -> 71.6 */
    json_t *a_mix = json_pack(
        "{s:f,s:[{s:s,s:f,s:s},{s:s,s:f,s:s}]}", "score", 71.6, "contributions", "rule", "fit",
        "points", 57.0, "why", "fit scored 95 (hot), weighted 0.6 of 1", "rule", "activity",
        "points", 14.6, "why", "activity scored 36.51 (warm), weighted 0.4 of 1");
    assert_stored(a, "lead_score", "hot", a_mix);
    json_decref(a_mix);
    free(a);
    free(b);
    doc_example_free(&rules);
    doc_example_free(&engagement);
    doc_example_free(&composite);
}
END_TEST

/* --- check-config on the scoring section ---------------------------------------------- */

/*
 * Runs `leadhubd check-config` on a main file with `scoring` (the section, YAML) and no
 * connectors; returns the exit code, the output in *out.
 */
static int check_config(const char *scoring, char **out)
{
    char *dir = tu_tmpdir();
    char *main_yaml = util_printf("database_url: postgresql://localhost/x\n"
                                  "plugin_path: [\"%s/plugins\"]\n"
                                  "connectors_dir: conf.d\n"
                                  "%s",
                                  tu_build_dir(), scoring);
    tu_write_file(dir, "leadhub.yaml", main_yaml);
    char *confd = tu_path(dir, "conf.d");
    ck_assert_int_eq(mkdir(confd, 0755), 0);
    char *command = util_printf("'%s' check-config '%s/leadhub.yaml'", td_binary(), dir);
    int rc = tu_run(command, out);
    free(command);
    free(confd);
    free(main_yaml);
    tu_rmrf(dir);
    free(dir);
    return rc;
}

static void assert_contains(const char *text, const char *expected)
{
    ck_assert_msg(strstr(text, expected) != NULL, "output lacks \"%s\":\n%s", expected, text);
}

START_TEST(test_check_config_refuses_a_composite_part_that_names_no_scorer)
{
    char *out = NULL;
    ck_assert_int_eq(check_config("scoring:\n"
                                  "  - name: fit\n"
                                  "    plugin: rules\n"
                                  "    settings: {rules: [{name: r, points: 1, when: {lead.email: "
                                  "{exists: true}}}]}\n"
                                  "  - name: activity\n"
                                  "    plugin: engagement\n"
                                  "  - name: overall\n"
                                  "    plugin: composite\n"
                                  "    settings:\n"
                                  "      parts:\n"
                                  "        - {scorer: fit, weight: 1}\n"
                                  "        - {scorer: activty, weight: 1}\n",
                                  &out),
                     1);
    assert_contains(out, "leadhub.yaml:15: scoring[2].settings.parts[1].scorer: error: "
                         "\"activty\" names no scorer in scoring");
    assert_contains(out, "hint: did you mean \"activity\"? scorers listed before it: fit, "
                         "activity");
    assert_contains(out, "1 error(s)");
    free(out);
}
END_TEST

START_TEST(test_check_config_refuses_a_composite_listed_before_its_part)
{
    char *out = NULL;
    ck_assert_int_eq(check_config("scoring:\n"
                                  "  - name: overall\n"
                                  "    plugin: composite\n"
                                  "    settings:\n"
                                  "      parts: [{scorer: activity, weight: 1}]\n"
                                  "  - name: activity\n"
                                  "    plugin: engagement\n",
                                  &out),
                     1);
    assert_contains(out, "leadhub.yaml:8: scoring[0].settings.parts[0].scorer: error: scorer "
                         "\"activity\" is listed after composite \"overall\" (scoring[1]): a "
                         "composite reads only the scores computed before it");
    assert_contains(out, "hint: move \"activity\" above \"overall\" in scoring");
    free(out);
    /* in the right order it is valid */
    ck_assert_int_eq(check_config("scoring:\n"
                                  "  - name: activity\n"
                                  "    plugin: engagement\n"
                                  "  - name: overall\n"
                                  "    plugin: composite\n"
                                  "    settings:\n"
                                  "      parts: [{scorer: activity, weight: 1}]\n",
                                  &out),
                     0);
    free(out);
}
END_TEST

/*
 * Every YAML block of docs/scoring.md that configures `scoring` passes check-config, so
 * the page cannot drift from what the hub accepts. Other blocks (a `when:` fragment) are
 * not configs. An entry written without settings ("settings as in the rules example")
 * takes those of the entry of the same name and plugin in an earlier block.
 */
START_TEST(test_check_config_accepts_every_scoring_block_of_docs_scoring_md)
{
    char *page = read_scoring_md();
    json_t *seen = json_object(); /* "name plugin" -> settings, from earlier blocks */
    size_t checked = 0;
    const char *at = page;
    char *block;
    while ((block = fenced_block(at, "yaml", &at)) != NULL) {
        int line = 1;
        for (const char *p = page; p < at; p++) {
            line += *p == '\n';
        }
        json_t *tree = parse_yaml(block);
        json_t *scoring = json_object_get(tree, "scoring");
        size_t i;
        json_t *entry;
        json_array_foreach(scoring, i, entry)
        {
            char *key = util_printf("%s %s", json_string_value(json_object_get(entry, "name")),
                                    json_string_value(json_object_get(entry, "plugin")));
            json_t *settings = json_object_get(entry, "settings");
            if (settings == NULL && json_object_get(seen, key) != NULL) {
                json_object_set(entry, "settings", json_object_get(seen, key));
            } else if (settings != NULL) {
                json_object_set(seen, key, settings);
            }
            free(key);
        }
        if (json_is_array(scoring)) {
            char *list = json_dumps(scoring, JSON_COMPACT);
            char *section = util_printf("scoring: %s\n", list);
            char *out = NULL;
            int rc = check_config(section, &out);
            ck_assert_msg(rc == 0, "the block ending at docs/scoring.md:%d is refused:\n%s", line,
                          out);
            free(out);
            free(section);
            free(list);
            checked++;
        }
        json_decref(tree);
        free(block);
    }
    ck_assert_uint_ge(checked, 6);
    json_decref(seen);
    free(page);
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
    tcase_add_test(tc, test_a_crossing_after_its_scores_were_deleted_is_emitted_again);
    tcase_add_test(tc, test_leads_whose_pass_failed_on_the_database_are_scored_later);
    tcase_add_test(tc, test_rescore_is_idempotent_and_reports_what_it_did);
    tcase_add_test(tc, test_rescore_exits_1_and_scores_nothing_when_a_scorer_cannot_start);
    tcase_add_test(tc, test_rescore_since_scores_the_leads_updated_or_with_events_received_since);
    tcase_add_test(tc, test_rescore_scorer_runs_one_scorer_on_the_stored_scores_of_the_others);
    tcase_add_test(tc, test_a_failing_scorer_blocks_neither_ingest_nor_other_leads);
    suite_add_tcase(s, tc);
    TCase *engine = tcase_create("engine");
    tcase_set_timeout(engine, 120);
    tcase_add_checked_fixture(engine, engine_setup, engine_teardown);
    tcase_add_test(engine, test_engine_composite_fails_when_its_part_failed_in_this_pass);
    tcase_add_test(engine, test_engine_composite_fails_when_its_part_is_not_running);
    tcase_add_test(engine, test_engine_one_scorer_pass_reads_the_stored_scores_of_those_before_it);
    tcase_add_test(engine, test_engine_hands_each_scorer_its_window_at_the_scoring_clock);
    tcase_add_test(engine, test_engine_scores_the_worked_examples_of_docs_scoring_md);
    suite_add_tcase(s, engine);
    TCase *config = tcase_create("config");
    tcase_set_timeout(config, 120);
    tcase_add_test(config, test_check_config_refuses_a_composite_part_that_names_no_scorer);
    tcase_add_test(config, test_check_config_refuses_a_composite_listed_before_its_part);
    tcase_add_test(config, test_check_config_accepts_every_scoring_block_of_docs_scoring_md);
    suite_add_tcase(s, config);
    int rc = tu_run_suite(s);
    curl_global_cleanup();
    return rc;
}
