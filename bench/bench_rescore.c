/*
 * bench_rescore.c - `leadhubd rescore --all` as a user runs it after changing scorers.
 *
 * The leads carry a few events each (over 90 days, of the types the scorers weigh) and are
 * scored by the example config's scorers, rules `fit` and engagement `activity`. The first
 * run finds no scores: it writes every one, with its history, and emits lead.scored for
 * each lead that reaches a band. The second finds the same scores: it computes them and
 * writes nothing. The third is `rescore --since 1d`, which finds every lead touched (they all
 * are) and scores them again: the finding must cost little beside the scoring.
 *
 * Baseline, in the same run and database: a bare libpq loop writing what the first run
 * must write at the least (one current-score row and one history row per lead and scorer,
 * 500 leads a transaction, into copies of the two tables with their indexes), as leads/s.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "util.h"

#define RESCORE_CHUNK 500

static const char scorers_yaml[] = "scoring:\n"
                                   "  - name: fit\n"
                                   "    plugin: rules\n"
                                   "    settings:\n"
                                   "      rules:\n"
                                   "        - name: senior_title\n"
                                   "          points: 40\n"
                                   "          when:\n"
                                   "            lead.title: {min_seniority: director}\n"
                                   "        - name: work_email\n"
                                   "          points: 30\n"
                                   "          when:\n"
                                   "            lead.email: {free_mail: false}\n"
                                   "        - name: replied_recently\n"
                                   "          points: 30\n"
                                   "          when:\n"
                                   "            events.email.replied: {at_least: 1, within: 30d}\n"
                                   "    thresholds: {hot: 70, warm: 40}\n"
                                   "  - name: activity\n"
                                   "    plugin: engagement\n"
                                   "    thresholds: {hot: 60, warm: 30}\n";

static int exec_ok(PGconn *conn, const char *sql)
{
    PGresult *r = PQexec(conn, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok) {
        fprintf(stderr, "bench: rescore: %s", PQerrorMessage(conn));
    }
    PQclear(r);
    return ok ? 0 : -1;
}

/* `leads` leads with `events_per_lead` events each, analyzed. */
static int seed(PGconn *conn, long leads, int events_per_lead)
{
    char *insert_leads = util_printf(
        "INSERT INTO leads (email, first_name, company, title) SELECT 'lead' || i || "
        "CASE WHEN i %% 4 = 0 THEN '@gmail.com' ELSE '@corp' || (i %% 997) || '.example' END, "
        "'N' || i, 'Company ' || (i %% 2000), (ARRAY['VP Sales', 'Engineer', 'Head of Ops', "
        "'Intern', 'Chief Executive Officer'])[1 + i %% 5] FROM generate_series(1, %ld) i",
        leads);
    char *insert_events =
        util_printf("INSERT INTO events (source, source_id, type, occurred_at, lead_id, payload) "
                    "SELECT 'inbound', 'rescore-' || i, (ARRAY['email.received', 'email.replied', "
                    "'meeting.scheduled', 'meeting.canceled', 'payment.succeeded'])[1 + i %% 5], "
                    "now() - make_interval(hours => (i * 7) %% 2160), 1 + i %% %ld, '{}'::jsonb "
                    "FROM generate_series(1, %ld) i",
                    leads, leads * events_per_lead);
    int rc = exec_ok(conn, insert_leads);
    rc = rc == 0 ? exec_ok(conn, insert_events) : rc;
    rc = rc == 0 ? exec_ok(conn, "VACUUM ANALYZE") : rc;
    free(insert_leads);
    free(insert_events);
    return rc;
}

/* The baseline: leads/s of bare score writes, or -1. */
static double bare_writes(PGconn *conn, long leads)
{
    static const char *const setup[] = {
        "CREATE TABLE bench_scores (LIKE lead_scores INCLUDING ALL)",
        "CREATE TABLE bench_history (LIKE lead_score_history INCLUDING ALL)",
    };
    for (size_t i = 0; i < sizeof(setup) / sizeof(setup[0]); i++) {
        if (exec_ok(conn, setup[i]) != 0) {
            return -1;
        }
    }
    static const char explanation[] =
        "'[{\"rule\": \"r\", \"points\": 40, \"why\": \"w\"}]'::jsonb";
    int64_t started = util_monotonic_ms();
    for (long first = 1; first <= leads; first += RESCORE_CHUNK) {
        long last = first + RESCORE_CHUNK - 1;
        char *sql = util_printf(
            "BEGIN; INSERT INTO bench_scores (lead_id, scorer, score, band, explanation) "
            "SELECT id, s, 50, 'warm', %s FROM leads, unnest(ARRAY['fit', 'activity']) s "
            "WHERE id BETWEEN %ld AND %ld ORDER BY id, s; "
            "INSERT INTO bench_history (lead_id, scorer, score, band, explanation) "
            "SELECT id, s, 50, 'warm', %s FROM leads, unnest(ARRAY['fit', 'activity']) s "
            "WHERE id BETWEEN %ld AND %ld; COMMIT",
            explanation, first, last, explanation, first, last);
        int rc = exec_ok(conn, sql);
        free(sql);
        if (rc != 0) {
            return -1;
        }
    }
    double seconds = (double)(util_monotonic_ms() - started) / 1000.0;
    exec_ok(conn, "DROP TABLE bench_scores; DROP TABLE bench_history");
    return seconds > 0 ? (double)leads / seconds : -1;
}

/* One `leadhubd rescore --all` (since NULL) or `--since SINCE`: leads/s, or -1. */
static double rescore(const char *build_dir, const char *config, const char *since, long leads)
{
    char *binary = util_printf("%s/leadhubd", build_dir);
    char *all[] = {binary, "rescore", "--all", "-c", (char *)config, NULL};
    char *touched[] = {binary, "rescore", "--since", (char *)since, "-c", (char *)config, NULL};
    char **argv = since != NULL ? touched : all;
    double ms = 0;
    long ignored = 0;
    int status = bench_run_command(argv, &ms, &ignored);
    free(binary);
    if (status != 0 || ms <= 0) {
        fprintf(stderr, "bench: leadhubd rescore exited %d\n", status);
        return -1;
    }
    return (double)leads / (ms / 1000.0);
}

int bench_run_rescore(const char *admin_url, const char *build_dir, const char *secret, bool quick,
                      struct bench_report *report)
{
    long leads = quick ? 10000 : 50000;
    int events_per_lead = 5;
    char *url = bench_db_create(admin_url, "rescore");
    PGconn *conn = url != NULL ? bench_db_connect(url) : NULL;
    struct bench_daemon d = {0};
    int rc = -1;
    if (conn == NULL) {
        goto out;
    }
    fprintf(stderr, "bench: rescore over %ld leads ...\n", leads);
    if (seed(conn, leads, events_per_lead) != 0 ||
        bench_daemon_configure(&d, build_dir, url, secret, NULL, scorers_yaml) != 0) {
        goto out;
    }
    double baseline = bare_writes(conn, leads);
    double first = rescore(build_dir, d.config, NULL, leads);
    double again = rescore(build_dir, d.config, NULL, leads);
    double since = rescore(build_dir, d.config, "1d", leads);
    long long written = bench_db_scalar(conn, "SELECT count(*) FROM lead_scores");
    if (baseline <= 0 || first <= 0 || again <= 0 || since <= 0 || written != 2LL * leads) {
        fprintf(stderr, "bench: rescore did not complete (%lld scores written)\n", written);
        goto out;
    }
    char note[128];
    snprintf(note, sizeof(note), "%ld leads, %d events each, 2 scorers", leads, events_per_lead);
    bench_figure(report, "rescore, first (every score written)", first, "leads/s",
                 "bare score writes", baseline, 0, note);
    bench_figure(report, "rescore, again (nothing changed)", again, "leads/s", "bare score writes",
                 baseline, 0, note);
    bench_figure(report, "rescore --since 1d (all touched)", since, "leads/s",
                 "rescore --all, again", again, 0, note);
    bench_check(report, "rescore, first", first, "leads/s", ">=", 10000, first >= 10000);
    rc = 0;
out:
    bench_daemon_cleanup(&d, false);
    PQfinish(conn);
    bench_db_drop(admin_url, url);
    return rc;
}
