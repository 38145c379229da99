/*
 * bench_reports.c - the console's reports over a hub of some size: 100,000 leads with a
 * million events between them over the last year, 50,000 meetings (half of the leads
 * meet, a tenth of them again as attendees) - the numbers docs/api.md promises answers
 * in under 200 ms for.
 *
 * Each report is asked over HTTP of the real daemon, after two warm-up requests, 15 times;
 * the figure is the median, next to the same daemon's median for a one-row page of leads
 * (GET /v1/leads?limit=1: the fixed cost of a request), and checked against 200 ms.
 *
 * And what the reports cost ingest: the trigger that keeps lead_milestones, measured as
 * 1,000-row INSERT statements into events with it and without it (disabled), alternated in
 * the same database: events of known leads (the common case: the trigger writes nothing),
 * and events each of a new lead (the worst: a milestone row each).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "http_client.h"
#include "util.h"

#define REPORT_TOKEN       "bench-reports-token-5f0c2a9e"
#define REPORT_ROUNDS      15
#define REPORT_WARMUPS     2
#define REPORT_LIMIT_MS    200.0
#define TRIGGER_STATEMENTS 40 /* per side, 1,000 rows each */

static int exec_ok(PGconn *conn, const char *sql)
{
    PGresult *r = PQexec(conn, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok) {
        fprintf(stderr, "bench: reports: %s", PQerrorMessage(conn));
    }
    PQclear(r);
    return ok ? 0 : -1;
}

/* `leads` leads, ten events each over the last year (in ten statements, each through the
 * milestones trigger as ingest's are), and meetings for half of them. */
static int seed(PGconn *conn, long leads)
{
    char *sql = util_printf(
        "INSERT INTO leads (email, company, created_at) SELECT 'lead' || i || '@reports.bench', "
        "'Company ' || (i %% 3000), now() - make_interval(secs => (i * 313) %% 31536000) "
        "FROM generate_series(1, %ld) i",
        leads);
    int rc = exec_ok(conn, sql);
    free(sql);
    static const char *const types =
        "ARRAY['lead.created','email.received','email.received','email.sent','email.sent',"
        "'email.received','email.replied','meeting.scheduled','payment.succeeded','custom.note']";
    for (int part = 0; part < 10 && rc == 0; part++) {
        /* event n of lead l: occurred some time after the lead's first, within the year */
        sql = util_printf("INSERT INTO events (source, source_id, type, occurred_at, lead_id, "
                          "payload) SELECT 'src' || (l %% 8), 'e' || l || '-' || %d, "
                          "(%s)[1 + (l * 7 + %d) %% 10], now() - make_interval(secs => "
                          "(l * 313) %% 31536000) + make_interval(hours => %d * (1 + l %% 5)), "
                          "l, '{}'::jsonb FROM generate_series(1, %ld) l",
                          part, types, part, part, leads);
        rc = exec_ok(conn, sql);
        free(sql);
    }
    if (rc == 0) {
        sql = util_printf(
            "INSERT INTO meetings (source, external_id, title, starts_at, status, lead_id, "
            "last_event_at) SELECT 'cal' || (i %% 4), 'm' || i, 'Meeting ' || i, "
            "now() - make_interval(secs => (i * 617) %% 31536000), CASE WHEN i %% 10 = 0 THEN "
            "'canceled' ELSE 'scheduled' END, i * 2, now() FROM generate_series(1, %ld) i;"
            "INSERT INTO meeting_attendees (meeting_id, email, lead_id) SELECT i, "
            "'lead' || (i * 2 + 1) || '@reports.bench', i * 2 + 1 FROM "
            "generate_series(1, %ld, 10) i",
            leads / 2, leads / 2);
        rc = exec_ok(conn, sql);
        free(sql);
    }
    return rc == 0 ? exec_ok(conn, "VACUUM ANALYZE") : rc;
}

/* PostgreSQL's CPU seconds for `statements` 1,000-row INSERTs into events: of known leads
 * spread over the table, or each of a lead created beforehand (as ingest upserts leads
 * before events). CPU rather than wall time: the machine is shared. */
static double insert_rounds(PGconn *conn, const char *admin_url, int statements, bool trigger,
                            bool new_leads, long leads, long *serial)
{
    if (exec_ok(conn, trigger ? "ALTER TABLE events ENABLE TRIGGER events_note_lead_milestones"
                              : "ALTER TABLE events DISABLE TRIGGER events_note_lead_milestones") !=
        0) {
        return -1;
    }
    long first = *serial;
    *serial += 1000L * statements;
    if (new_leads) {
        char *sql = util_printf("INSERT INTO leads (email) SELECT 'new' || i || '@reports.bench' "
                                "FROM generate_series(%ld, %ld) i",
                                first, *serial - 1);
        int rc = exec_ok(conn, sql);
        free(sql);
        if (rc != 0) {
            return -1;
        }
    }
    double cpu_before = bench_pg_cpu_seconds(admin_url);
    for (int s = 0; s < statements; s++) {
        long from = first + 1000L * s;
        char *lead = new_leads ? util_printf("(SELECT id FROM leads WHERE email = 'new' || i || "
                                             "'@reports.bench')")
                               : util_printf("1 + (i::bigint * 7919) %% %ld", leads);
        char *sql = util_printf(
            "INSERT INTO events (source, source_id, type, occurred_at, lead_id, payload) "
            "SELECT 'ingest', 'x' || i, 'email.received', now(), %s, '{}'::jsonb FROM "
            "generate_series(%ld, %ld) i ON CONFLICT DO NOTHING",
            lead, from, from + 999);
        int rc = exec_ok(conn, sql);
        free(lead);
        free(sql);
        if (rc != 0) {
            return -1;
        }
    }
    return bench_pg_cpu_seconds(admin_url) - cpu_before;
}

/* PostgreSQL CPU us per event inserted with the trigger and without it, the least of
 * alternated rounds each. */
static int trigger_cost(PGconn *conn, const char *admin_url, long leads, bool new_leads,
                        double *with_out, double *without_out)
{
    long serial = new_leads ? 10000000 : 20000000;
    double with = 0, without = 0;
    for (int round = 0; round < 6; round++) {
        bool on = round % 2 == 0;
        double seconds =
            insert_rounds(conn, admin_url, TRIGGER_STATEMENTS / 2, on, new_leads, leads, &serial);
        if (seconds <= 0) {
            return -1;
        }
        double us = seconds * 1e6 / (TRIGGER_STATEMENTS / 2 * 1000.0);
        if (on && (with == 0 || us < with)) {
            with = us;
        } else if (!on && (without == 0 || us < without)) {
            without = us;
        }
    }
    *with_out = with;
    *without_out = without;
    return exec_ok(conn, "ALTER TABLE events ENABLE TRIGGER events_note_lead_milestones");
}

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/*
 * The median ms of GET path over REPORT_ROUNDS requests (after warm-ups); -1 on error.
 * *cpu_ms gets the CPU time the daemon and PostgreSQL spent per request meanwhile: what the
 * request costs whatever else the machine runs (wall times on a shared machine swing with
 * its load; CPU time much less).
 */
static double median_ms(const struct bench_daemon *d, const char *admin_url, const char *path,
                        double *cpu_ms)
{
    char *url = util_printf("http://127.0.0.1:%d%s", d->port, path);
    const char *headers[] = {"Authorization: Bearer " REPORT_TOKEN, NULL};
    double samples[REPORT_ROUNDS];
    double median = -1;
    double cpu_before = 0;
    for (int i = -REPORT_WARMUPS; i < REPORT_ROUNDS; i++) {
        if (i == 0) {
            cpu_before = bench_pg_cpu_seconds(admin_url) + bench_process_cpu_seconds(d->pid);
        }
        struct http_result result;
        int64_t started = now_us();
        int rc = http_request("GET", url, headers, NULL, 0, &result);
        double ms = (double)(now_us() - started) / 1000.0;
        long status = result.status;
        http_result_free(&result);
        if (rc != 0 || status != 200) {
            fprintf(stderr, "bench: %s answered %ld\n", path, status);
            goto out;
        }
        if (i >= 0) {
            samples[i] = ms;
        }
    }
    *cpu_ms = (bench_pg_cpu_seconds(admin_url) + bench_process_cpu_seconds(d->pid) - cpu_before) *
              1000.0 / REPORT_ROUNDS;
    qsort(samples, REPORT_ROUNDS, sizeof(double), compare_double);
    median = samples[REPORT_ROUNDS / 2];
out:
    free(url);
    return median;
}

int bench_run_reports(const char *admin_url, const char *build_dir, bool quick,
                      struct bench_report *report)
{
    long leads = quick ? 20000 : 100000;
    char *url = bench_db_create(admin_url, "reports");
    PGconn *conn = url != NULL ? bench_db_connect(url) : NULL;
    struct bench_daemon d = {0};
    int rc = -1;
    if (conn == NULL) {
        goto out;
    }
    fprintf(stderr, "bench: reports over %ld leads and %ld events ...\n", leads, leads * 10);
    int64_t started = util_monotonic_ms();
    if (seed(conn, leads) != 0) {
        goto out;
    }
    fprintf(stderr, "bench:   seeded in %.1f s\n", (double)(util_monotonic_ms() - started) / 1000);
    setenv("LHBENCH_REPORTS_TOKEN", REPORT_TOKEN, 1);
    if (bench_daemon_configure(&d, build_dir, url, NULL, NULL,
                               "api:\n  tokens:\n    - name: bench\n"
                               "      token: ${LHBENCH_REPORTS_TOKEN}\n") != 0 ||
        bench_daemon_start(&d, build_dir) != 0) {
        goto out;
    }
    double baseline_cpu = 0;
    double baseline = median_ms(&d, admin_url, "/v1/leads?limit=1", &baseline_cpu);
    static const struct {
        const char *name;
        const char *path;
    } reports[] = {
        {"report: funnel, 52 weeks by week", "/v1/reports/funnel?from=%s&by=week"},
        {"report: funnel, 52 weeks by source", "/v1/reports/funnel?from=%s&by=source"},
        {"report: funnel, 12 weeks by week", "/v1/reports/funnel"},
        {"report: meetings, 52 weeks by week", "/v1/reports/meetings?from=%s&by=week"},
    };
    char from[32];
    util_format_rfc3339(util_now_ms() - 364LL * 24 * 3600 * 1000, from);
    char note[128];
    snprintf(note, sizeof(note), "median of %d; %ld leads, %ld events, %ld meetings", REPORT_ROUNDS,
             leads, leads * 10, leads / 2);
    for (size_t i = 0; i < UTIL_ARRAY_LEN(reports) && baseline > 0; i++) {
        char *path = util_printf(reports[i].path, from);
        double cpu = 0;
        double ms = median_ms(&d, admin_url, path, &cpu);
        free(path);
        if (ms < 0) {
            goto out;
        }
        bench_figure(report, reports[i].name, ms, "ms", "GET /v1/leads?limit=1", baseline, 0, note);
        char *cpu_name = util_printf("%s, CPU", reports[i].name);
        bench_figure(report, cpu_name, cpu, "ms", "GET /v1/leads?limit=1, CPU", baseline_cpu, 0,
                     "daemon and PostgreSQL CPU per request");
        free(cpu_name);
        bench_check(report, reports[i].name, ms, "ms", "<", REPORT_LIMIT_MS, ms < REPORT_LIMIT_MS);
    }
    if (baseline <= 0 || bench_daemon_stop(&d) != 0) {
        goto out;
    }

    double known_with = 0, known_without = 0, new_with = 0, new_without = 0;
    if (trigger_cost(conn, admin_url, leads, false, &known_with, &known_without) != 0 ||
        trigger_cost(conn, admin_url, leads, true, &new_with, &new_without) != 0) {
        goto out;
    }
    bench_figure(report, "events insert, trigger on (known leads), PG CPU", known_with, "us/event",
                 "the same, trigger disabled", known_without, 0,
                 "1,000-row INSERT ... ON CONFLICT DO NOTHING; least of 3 alternated rounds");
    bench_figure(report, "events insert, trigger on (new leads), PG CPU", new_with, "us/event",
                 "the same, trigger disabled", new_without, 0,
                 "each event a new lead's first: one milestone row per event");
    rc = 0;
out:
    bench_daemon_cleanup(&d, rc != 0);
    PQfinish(conn);
    bench_db_drop(admin_url, url);
    return rc;
}
