/*
 * test_api_plans.c - the list endpoints stay on indexes when the tables are large.
 *
 * A database is filled with tens of thousands of leads, events, meetings, scores and
 * deliveries (most of them done, as in a hub that keeps up) and analyzed; the real daemon then
 * answers every list endpoint with each filter. PostgreSQL's own statistics (pg_stat_user_tables,
 * flushed when the daemon's connections close) must show no sequential scan of a large table over
 * that time, and index scans that prove the requests were counted at all.
 *
 * Connector instances named like the seeded sources and destinations are configured, so
 * that GET /v1/connectors counts their events and deliveries: those counts must stop at
 * their limit (docs/api.md) however many rows the tables hold, which PostgreSQL's count of
 * index entries read shows.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "daemon_harness.h"
#include "http_client.h"
#include "testdb.h"
#include "testutil.h"
#include "util.h"

#define TOKEN "plans-token-4b1d9e"

static const char *const large_tables[] = {"leads",     "lead_identities",   "events",
                                           "meetings",  "meeting_attendees", "lead_scores",
                                           "deliveries"};

static const char seed_sql[] =
    "INSERT INTO leads (email, company, first_name, updated_at) "
    "SELECT 'lead' || i || '@plans.test', 'Company ' || (i % 2000), 'N' || i, "
    "now() - make_interval(secs => i) FROM generate_series(1, 40000) i;"
    "INSERT INTO lead_identities (source, external_id, lead_id) "
    "SELECT 'crm' || (i % 8), 'x' || i, i FROM generate_series(1, 40000) i;"
    "INSERT INTO events (source, source_id, type, occurred_at, lead_id, payload) "
    "SELECT 'src' || (i % 50), 's' || i, (ARRAY['lead.created','email.received',"
    "'meeting.scheduled','custom.order'])[1 + i % 4], now() - make_interval(mins => i), "
    "1 + i % 40000, '{}'::jsonb FROM generate_series(1, 160000) i;"
    "INSERT INTO meetings (source, external_id, title, starts_at, status, lead_id, "
    "last_event_at) SELECT 'cal' || (i % 20), 'm' || i, 'Meeting ' || i, "
    "now() + make_interval(hours => i), CASE WHEN i % 10 = 0 THEN 'canceled' ELSE "
    "'scheduled' END, 1 + i % 40000, now() FROM generate_series(1, 40000) i;"
    "INSERT INTO meeting_attendees (meeting_id, email, lead_id) "
    "SELECT i, 'lead' || (1 + (i * 7) % 40000) || '@plans.test', 1 + (i * 7) % 40000 "
    "FROM generate_series(1, 40000) i;"
    "INSERT INTO lead_scores (lead_id, scorer, score, band, explanation) "
    "SELECT i, 'activity', i % 101, 'none', '[]'::jsonb FROM generate_series(1, 40000) i;"
    "INSERT INTO deliveries (event_id, destination, route, lead_id, status, attempts) "
    "SELECT i, 'dst' || (i % 6), 'r', 1 + i % 40000, CASE i % 100 WHEN 0 THEN 'pending' "
    "WHEN 1 THEN 'retrying' WHEN 2 THEN 'dead' ELSE 'done' END, i % 3 "
    "FROM generate_series(1, 80000) i;"
    /* a destination with far more dead deliveries than its health reads */
    "INSERT INTO deliveries (event_id, destination, route, status, attempts, last_error) "
    "SELECT i, 'dst5', 'r', 'dead', 10, 'HTTP ' || (500 + i % 3) FROM generate_series(90001, "
    "96000) i;"
    "INSERT INTO connector_state (instance, key, value) VALUES ('src1', 'cursor', '1');"
    /* a busy source: far more events than a status count reads, about half the leads */
    "INSERT INTO events (source, source_id, type, occurred_at, lead_id, payload) "
    "SELECT 'busy', 'b' || i, 'custom.order', now(), i, '{}'::jsonb "
    "FROM generate_series(1, 20000) i;"
    "ANALYZE;";

/* The instances of the seeded names: sources (webhooks, which do nothing by themselves)
 * and destinations (disabled sinks, so that no dispatcher changes the seeded deliveries;
 * the status lists them all the same). */
static const char *const sources[] = {"busy", "src1", "src7", "src9"};
static const char *const destinations[] = {"dst0", "dst1", "dst2", "dst3", "dst4", "dst5"};

/* What a status count may read: docs/api.md's limit, per count. */
#define COUNT_LIMIT 1000

/* Every list endpoint, with each of its filters alone and a few together. */
static const char *const requests[] = {
    "/v1/leads",
    "/v1/leads?limit=500",
    "/v1/leads?after=39000",
    "/v1/leads?email=lead777@plans.test",
    "/v1/leads?company=company%2017",
    "/v1/leads?source=crm3",
    "/v1/leads?source=src7",
    "/v1/leads?updated_since=2000-01-01T00:00:00Z",
    "/v1/leads?scorer=activity&min_score=99",
    "/v1/leads?scorer=activity",
    "/v1/leads?company=Company%2017&scorer=activity&min_score=50",
    "/v1/leads/777",
    "/v1/leads/777/timeline",
    "/v1/leads/777/timeline?limit=1&before=120777",
    "/v1/leads?scorer=activity&band=none",
    "/v1/meetings",
    "/v1/meetings?since=2030-01-01T00:00:00Z",
    "/v1/meetings?until=2000-01-01T00:00:00Z",
    "/v1/meetings?status=canceled",
    "/v1/meetings?lead_id=777",
    "/v1/meetings?source=cal3",
    "/v1/meetings?source=cal3&status=canceled&after=100",
    "/v1/meetings/777",
    "/v1/events",
    "/v1/events?type=meeting.scheduled",
    "/v1/events?type=lead.*",
    "/v1/events?source=src9",
    "/v1/events?lead_id=777",
    "/v1/events?since=2000-01-01T00:00:00Z",
    "/v1/events?until=2000-01-01T00:00:00Z",
    "/v1/events?source=src9&type=custom.*&after=5000",
    "/v1/deliveries",
    "/v1/deliveries?status=dead",
    "/v1/deliveries?destination=dst2",
    "/v1/deliveries?status=retrying&destination=dst2",
    "/v1/deliveries?destination=dst2&route=r",
    "/v1/deliveries?destination=dst2&error=timeout",
    "/v1/deliveries?status=held",
    "/v1/connectors",
    "/v1/connectors/busy",
    "/v1/connectors/dst2/health",
};

static PGconn *stats_db;

static json_t *table_stats(void)
{
    json_t *stats = json_object();
    PGresult *r = PQexec(stats_db, "SELECT relname, seq_scan, coalesce(idx_scan, 0) FROM "
                                   "pg_stat_user_tables");
    ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
    for (int i = 0; i < PQntuples(r); i++) {
        json_object_set_new(stats, PQgetvalue(r, i, 0),
                            json_pack("{s:I,s:I}", "seq", (json_int_t)atoll(PQgetvalue(r, i, 1)),
                                      "idx", (json_int_t)atoll(PQgetvalue(r, i, 2))));
    }
    PQclear(r);
    return stats;
}

static json_int_t stat_of(const json_t *stats, const char *table, const char *kind)
{
    return json_integer_value(json_object_get(json_object_get(stats, table), kind));
}

/* Index entries read from `table`'s indexes so far (flushed statistics). */
static long long index_entries_read(const char *table)
{
    const char *params[] = {table};
    PGresult *r = PQexecParams(stats_db,
                               "SELECT coalesce(sum(idx_tup_read), 0) FROM pg_stat_user_indexes "
                               "WHERE relname = $1",
                               1, NULL, params, NULL, NULL, 0);
    ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
    long long n = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    return n;
}

static void configure_instances(struct test_daemon *td)
{
    for (size_t i = 0; i < UTIL_ARRAY_LEN(sources); i++) {
        td_webhook_instance(td, sources[i], "plans-webhook-secret");
    }
    setenv("LHTEST_PLANS_SINK_SECRET", "plans-sink-secret", 1);
    for (size_t i = 0; i < UTIL_ARRAY_LEN(destinations); i++) {
        char *yaml = util_printf("name: %s\nplugin: http\nenabled: false\nsettings:\n"
                                 "  url: http://127.0.0.1:9/%s\n"
                                 "  secret: ${LHTEST_PLANS_SINK_SECRET}\n",
                                 destinations[i], destinations[i]);
        td_connector(td, destinations[i], yaml);
        free(yaml);
    }
}

static struct http_result get(const struct test_daemon *td, const char *path)
{
    char *auth = util_printf("Authorization: Bearer %s", TOKEN);
    const char *headers[] = {auth, NULL};
    char *url = td_url(td, path);
    struct http_result result;
    ck_assert_int_eq(http_request("GET", url, headers, NULL, 0, &result), 0);
    ck_assert_msg(result.status == 200, "%s: %ld %s", path, result.status, result.body);
    free(url);
    free(auth);
    return result;
}

/*
 * What each configured instance's counts must be: the seeded data's, capped at the limit,
 * as {name: {"events_24h": n, "pending": n, ...}}. Counted over a connection of its own,
 * closed before the index statistics are read, so that these full counts are not taken
 * for the daemon's.
 */
static json_t *expected_counts(const char *db_url)
{
    PGconn *db = testdb_connect(db_url);
    PGresult *r = PQexec(
        db, "SELECT n.name, least(1000, (SELECT count(*) FROM events WHERE source = n.name)), "
            "least(1000, (SELECT count(*) FROM deliveries WHERE destination = n.name AND status = "
            "'pending')), least(1000, (SELECT count(*) FROM deliveries WHERE destination = n.name "
            "AND status = 'retrying')), least(1000, (SELECT count(*) FROM deliveries WHERE "
            "destination = n.name AND status = 'dead')), least(1000, (SELECT count(*) FROM "
            "deliveries WHERE destination = n.name AND status = 'done')) FROM unnest(ARRAY['busy', "
            "'src1', 'src7', 'src9', 'dst0', 'dst1', 'dst2', 'dst3', 'dst4', 'dst5']) n(name)");
    ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
    ck_assert_int_eq(PQntuples(r), (int)(UTIL_ARRAY_LEN(sources) + UTIL_ARRAY_LEN(destinations)));
    json_t *expected = json_object();
    for (int i = 0; i < PQntuples(r); i++) {
        json_object_set_new(expected, PQgetvalue(r, i, 0),
                            json_pack("{s:I,s:I,s:I,s:I,s:I}", "events_24h",
                                      (json_int_t)atoll(PQgetvalue(r, i, 1)), "pending",
                                      (json_int_t)atoll(PQgetvalue(r, i, 2)), "retrying",
                                      (json_int_t)atoll(PQgetvalue(r, i, 3)), "dead",
                                      (json_int_t)atoll(PQgetvalue(r, i, 4)), "done_24h",
                                      (json_int_t)atoll(PQgetvalue(r, i, 5))));
    }
    PQclear(r);
    PQfinish(db);
    return expected;
}

/* Each configured instance's counts in a GET /v1/connectors answer are the expected ones. */
static void assert_counts(const json_t *body, const json_t *expected)
{
    const json_t *list = json_object_get(body, "data");
    size_t i;
    const json_t *entry;
    json_array_foreach(list, i, entry)
    {
        const char *name = json_string_value(json_object_get(entry, "name"));
        const json_t *want = json_object_get(expected, name);
        ck_assert_msg(want != NULL, "%s was not configured", name);
        const json_t *deliveries = json_object_get(entry, "deliveries");
        ck_assert_int_eq(json_integer_value(json_object_get(entry, "events_24h")),
                         json_integer_value(json_object_get(want, "events_24h")));
        static const char *const statuses[] = {"pending", "retrying", "dead", "done_24h"};
        for (size_t k = 0; k < UTIL_ARRAY_LEN(statuses); k++) {
            ck_assert_msg(json_integer_value(json_object_get(deliveries, statuses[k])) ==
                              json_integer_value(json_object_get(want, statuses[k])),
                          "%s %s: %lld, expected %lld", name, statuses[k],
                          (long long)json_integer_value(json_object_get(deliveries, statuses[k])),
                          (long long)json_integer_value(json_object_get(want, statuses[k])));
        }
    }
    ck_assert_uint_eq(json_array_size(list), json_object_size(expected));
}

/* A page of leads 1 to 10. */
static void assert_first_ten_leads(const json_t *body, const json_t *unused)
{
    (void)unused;
    const json_t *data = json_object_get(body, "data");
    ck_assert_uint_eq(json_array_size(data), 10);
    for (size_t i = 0; i < 10; i++) {
        ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(data, i), "id")),
                         (json_int_t)i + 1);
    }
}

struct reads {
    long long events;     /* index entries read from events' indexes */
    long long deliveries; /* and deliveries' */
};

/*
 * Starts the daemon, GETs `path` `rounds` times and stops it: the index entries its
 * connections read meanwhile (flushed as they close). `check` sees the first answer.
 */
static struct reads reads_of(struct test_daemon *td, const char *path, int rounds,
                             void (*check)(const json_t *body, const json_t *arg),
                             const json_t *arg)
{
    struct timespec settle = {1, 200 * 1000000L};
    nanosleep(&settle, NULL);
    struct reads before = {index_entries_read("events"), index_entries_read("deliveries")};
    ck_assert_int_eq(td_start(td), 0);
    for (int round = 0; round < rounds; round++) {
        struct http_result result = get(td, path);
        json_t *body = json_loads(result.body, 0, NULL);
        ck_assert_ptr_nonnull(body);
        if (round == 0) {
            check(body, arg);
        }
        json_decref(body);
        http_result_free(&result);
    }
    ck_assert_int_eq(td_stop(td), 0);
    nanosleep(&settle, NULL);
    return (struct reads){index_entries_read("events") - before.events,
                          index_entries_read("deliveries") - before.deliveries};
}

static void assert_nothing(const json_t *body, const json_t *unused)
{
    (void)body;
    (void)unused;
}

/* dst5's health: its 6,000 dead deliveries, of which it reads the newest 1,000. */
static void assert_health_errors(const json_t *body, const json_t *unused)
{
    (void)unused;
    const json_t *errors = json_object_get(body, "delivery_errors");
    ck_assert_uint_ge(json_array_size(errors), 1);
    json_int_t dead = 0;
    size_t i;
    const json_t *entry;
    json_array_foreach(errors, i, entry)
    {
        if (strcmp(json_string_value(json_object_get(entry, "status")), "dead") == 0) {
            dead += json_integer_value(json_object_get(entry, "count"));
        }
    }
    ck_assert_int_eq(dead, COUNT_LIMIT);
}

/*
 * The reports read lead_milestones (kept by triggers on events and the meetings tables) and,
 * for the meetings report, meetings: never the events. PostgreSQL counts no scan of events
 * while they answer, whatever their period. And the milestones the triggers wrote while the
 * seed's 180,000 events and 40,000 meetings went in agree with the tables themselves: each
 * lead's first sighting and its source, and whether a meeting names it.
 */
static void assert_reports_never_read_events(struct test_daemon *td, const char *db_url)
{
    PGconn *db = testdb_connect(db_url);
    long wrong = testdb_scalar(
        db, "SELECT count(*) FROM (SELECT DISTINCT ON (lead_id) lead_id, occurred_at, source "
            "FROM events WHERE lead_id IS NOT NULL AND type <> 'lead.scored' "
            "ORDER BY lead_id, occurred_at, id) f FULL JOIN lead_milestones m USING (lead_id) "
            "WHERE m.lead_id IS NULL OR f.lead_id IS NULL OR m.first_seen_at <> f.occurred_at "
            "OR m.first_source <> f.source");
    ck_assert_msg(wrong == 0, "%ld leads whose milestones disagree with their events", wrong);
    wrong = testdb_scalar(
        db, "SELECT count(*) FROM lead_milestones m WHERE m.booked <> (EXISTS (SELECT 1 FROM "
            "meetings x WHERE x.lead_id = m.lead_id) OR EXISTS (SELECT 1 FROM meeting_attendees a "
            "WHERE a.lead_id = m.lead_id)) OR m.held");
    ck_assert_msg(wrong == 0, "%ld leads whose milestones disagree with their meetings", wrong);
    ck_assert_int_gt(testdb_scalar(db, "SELECT count(*) FROM lead_milestones WHERE booked"), 1000);
    long expected = testdb_scalar(
        db, "SELECT count(*) FROM (SELECT lead_id, min(occurred_at) AS first FROM events "
            "WHERE lead_id IS NOT NULL AND type <> 'lead.scored' GROUP BY lead_id) x "
            "WHERE first >= now() - interval '100 days'");
    PQfinish(db);
    ck_assert_int_gt(expected, 1000);

    /* the default period (twelve weeks: about 1,000 of the 40,000 leads' first sightings)
     * is found through lead_milestones' index; wider ones may read the table, whose rows
     * they mostly want, but none reads the events */
    static const char *const narrow[] = {"/v1/reports/funnel", "/v1/reports/funnel?by=source"};
    static const char *const wide[] = {
        "/v1/reports/funnel?from=2020-01-01T00:00:00Z&by=week",
        "/v1/reports/meetings",
        "/v1/reports/meetings?by=source&from=2020-01-01T00:00:00Z",
    };
    struct timespec settle = {1, 200 * 1000000L};
    nanosleep(&settle, NULL);
    json_t *before = table_stats();
    ck_assert_int_eq(td_start(td), 0);
    for (size_t i = 0; i < UTIL_ARRAY_LEN(narrow); i++) {
        struct http_result result = get(td, narrow[i]);
        http_result_free(&result);
    }
    ck_assert_int_eq(td_stop(td), 0);
    nanosleep(&settle, NULL);
    json_t *middle = table_stats();
    ck_assert_int_eq(stat_of(middle, "lead_milestones", "seq"),
                     stat_of(before, "lead_milestones", "seq"));
    ck_assert_int_gt(stat_of(middle, "lead_milestones", "idx"),
                     stat_of(before, "lead_milestones", "idx"));

    char from[32], url[128];
    util_format_rfc3339(util_now_ms() - 100LL * 24 * 3600 * 1000, from);
    snprintf(url, sizeof(url), "/v1/reports/funnel?by=source&from=%s", from);
    ck_assert_int_eq(td_start(td), 0);
    for (size_t i = 0; i < UTIL_ARRAY_LEN(wide); i++) {
        struct http_result result = get(td, wide[i]);
        http_result_free(&result);
    }
    struct http_result result = get(td, url);
    json_t *body = json_loads(result.body, 0, NULL);
    http_result_free(&result);
    ck_assert_int_eq(td_stop(td), 0);
    nanosleep(&settle, NULL);
    json_t *after = table_stats();
    ck_assert_int_eq(stat_of(after, "events", "seq"), stat_of(before, "events", "seq"));
    ck_assert_int_eq(stat_of(after, "events", "idx"), stat_of(before, "events", "idx"));
    /* and the period's cohort is the one the events say */
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(body, "totals"), "leads")),
                     expected);
    json_int_t by_source = 0;
    size_t i;
    json_t *group;
    json_array_foreach(json_object_get(body, "groups"), i, group)
    {
        by_source += json_integer_value(json_object_get(group, "leads"));
    }
    ck_assert_int_eq(by_source, expected);
    json_decref(body);
    json_decref(before);
    json_decref(middle);
    json_decref(after);
}

START_TEST(test_list_endpoints_never_scan_a_large_table_sequentially)
{
    char *db_url = testdb_create_migrated();
    PGconn *seed = testdb_connect(db_url);
    PGresult *r = PQexec(seed, seed_sql);
    ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK, "%s", PQerrorMessage(seed));
    PQclear(r);
    PQfinish(seed); /* its statistics are flushed as it closes */

    struct test_daemon td;
    setenv("LHTEST_PLANS_TOKEN", TOKEN, 1);
    td_init(&td, db_url);
    configure_instances(&td);
    td.extra_main = strdup("api:\n  tokens:\n    - name: plans\n"
                           "      token: ${LHTEST_PLANS_TOKEN}\n");
    ck_assert_int_eq(td_start(&td), 0);

    stats_db = testdb_connect(db_url);
    struct timespec settle = {1, 200 * 1000000L};
    nanosleep(&settle, NULL);
    json_t *before = table_stats();

    for (size_t i = 0; i < UTIL_ARRAY_LEN(requests); i++) {
        struct http_result result = get(&td, requests[i]);
        http_result_free(&result);
    }
    /* the daemon's connections flush their statistics as they close */
    ck_assert_int_eq(td_stop(&td), 0);
    nanosleep(&settle, NULL);
    json_t *after = table_stats();

    struct strbuf report = {0};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(large_tables); i++) {
        const char *t = large_tables[i];
        json_int_t seq = stat_of(after, t, "seq") - stat_of(before, t, "seq");
        if (seq != 0) {
            strbuf_appendf(&report, "%s: %lld sequential scan(s); ", t, (long long)seq);
        }
    }
    ck_assert_msg(report.len == 0, "%s", strbuf_value(&report));
    /* and the requests were counted: each table the lists read was read by index */
    static const char *const read[] = {"leads",          "events",      "meetings",
                                       "deliveries",     "lead_scores", "meeting_attendees",
                                       "lead_identities"};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(read); i++) {
        ck_assert_msg(stat_of(after, read[i], "idx") > stat_of(before, read[i], "idx"),
                      "no index scan of %s was counted", read[i]);
    }
    strbuf_free(&report);
    json_decref(before);
    json_decref(after);

    /* the connectors' counts: right, and bounded by their limit, not by the tables. A
     * count(*) of every event of a source and every delivery of a destination reads the
     * busy source's 20,000 events and the destinations' 80,000 deliveries each time. */
    json_t *expected = expected_counts(db_url);
    const int rounds = 3;
    struct reads status = reads_of(&td, "/v1/connectors", rounds, assert_counts, expected);
    json_decref(expected);
    long long instances = (long long)(UTIL_ARRAY_LEN(sources) + UTIL_ARRAY_LEN(destinations));
    /* per instance: one count of events, four of deliveries; the window's start, once */
    ck_assert_msg(status.events <= rounds * (instances * COUNT_LIMIT + 1),
                  "%lld event index entries read for %d status requests", status.events, rounds);
    ck_assert_msg(status.deliveries <= rounds * instances * 4 * COUNT_LIMIT,
                  "%lld delivery index entries read for %d status requests", status.deliveries,
                  rounds);
    /* and they were read at all: the counts are not cut short by something else */
    ck_assert_int_ge(status.events, rounds * 3 * COUNT_LIMIT);
    ck_assert_int_ge(status.deliveries, rounds * 6 * COUNT_LIMIT);

    /* a destination's health reads, beyond its status, its newest dead and retrying
     * deliveries: at most 1000 of each, however many the table holds (dst5 has 6,000 dead).
     * The slack is one sample of the outbox gauges, which a daemon may take meanwhile. */
    struct reads alone = reads_of(&td, "/v1/connectors/dst5", rounds, assert_nothing, NULL);
    struct reads health =
        reads_of(&td, "/v1/connectors/dst5/health", rounds, assert_health_errors, NULL);
    ck_assert_msg(health.deliveries - alone.deliveries <= rounds * 2 * COUNT_LIMIT + 2500,
                  "%lld delivery index entries read for %d health requests, %lld for the status "
                  "alone",
                  health.deliveries, rounds, alone.deliveries);

    /* a page of a source's leads probes the leads it walks (the first ten all match), not
     * the 20,000 events of the busy source */
    struct reads page =
        reads_of(&td, "/v1/leads?source=busy&limit=10", rounds, assert_first_ten_leads, NULL);
    ck_assert_msg(page.events <= rounds * 10 * 20,
                  "%lld event index entries read for %d pages of 10 leads", page.events, rounds);

    assert_reports_never_read_events(&td, db_url);

    PQfinish(stats_db);
    td_cleanup(&td);
    testdb_drop(db_url);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("api_plans");
    TCase *tc = tcase_create("plans");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_list_endpoints_never_scan_a_large_table_sequentially);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
