/*
 * leadhub-bench - speed, measured against baselines taken in the same run.
 *
 *   leadhub-bench [--database-url URL] [--build DIR] [--json FILE|-] [--duration S]
 *                 [--deliveries N] [--history N] [--quick]
 *                 [--only ingest|fresh|delivery|footprint|rescore|reports|graph|google]
 *   leadhub-bench load --port P [--connections N] [--batch K] [--duration S]
 *                 [--prefix ID] [--secret S]      (only the load generator, for profiling
 *                                                  a daemon started by hand)
 *
 * What it measures (docs/performance.md explains each figure and what limits it):
 *   ceilings   the same events written into the same table by a bare libpq loop:
 *              1,000-row INSERT ... ON CONFLICT DO NOTHING, and COPY; one durable
 *              single-row commit (latency). Measured before and after the ingest runs;
 *              the higher throughput and the lower latency are the baselines.
 *   ingest     signed `webhook` posts (one event per request, and arrays of 100) from
 *              N = 1, 8, 64 keep-alive connections against the real daemon, each
 *              acknowledged only after its commit: events/s and acknowledgement latency.
 *              N = 64 again on a fresh, empty database (a new installation), against the
 *              same case on one with history (floor 0.8).
 *   delivery   N queued deliveries to the `http` sink against a local receiver that
 *              answers 2xx at once, compared with the receiver's own rate.
 *   footprint  RSS idle with every plugin loaded and under load; exec to /readyz 200.
 *   graph      the `microsoft` connector's backfill against the fake Graph enforcing
 *              Outlook's per-mailbox limits (scaled in time): requests/s against the rate
 *              allowed (floor 0.9), none refused (bench_graph.c).
 *   rescore    `leadhubd rescore --all` over fresh leads, the first time (every score
 *              written) and again (none changed), against bare writes of the same scores.
 *   reports    the funnel and meetings reports over 100,000 leads and a million events,
 *              against a one-row page of leads and the 200 ms promise; and the events
 *              insert with and without the trigger that keeps lead_milestones.
 *
 * The database is $LEADHUB_TEST_DATABASE_URL (bench/run.sh starts a throwaway cluster);
 * each run gets fresh databases in it, dropped afterwards. Exit status 1 when a floor
 * or a check failed, 2 when the benchmark itself could not run.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "loadgen.h"
#include "util.h"

#define SECRET             "bench-secret-not-for-production"
#define INSERT_STATEMENTS  100 /* x 1,000 rows */
#define COPY_COUNT         20
#define COPY_ROWS          10000
#define COMMIT_SAMPLES     2000
#define STARTUP_SAMPLES    5
#define FLOOR_INSERT_RATIO 0.5
#define FLOOR_P99_MS       50.0

struct options {
    const char *admin_url;
    const char *build;
    const char *json;
    int duration_s;
    uint64_t deliveries;
    uint64_t history; /* older events in every ingest and ceiling database */
    bool quick;
    const char *only;
};

struct baselines {
    double insert_rows_per_s; /* best of the samples */
    double copy_rows_per_s;
    double insert_pg_cpu_us_per_row; /* lowest of the samples */
    double copy_pg_cpu_us_per_row;
    struct commit_latency commit; /* lowest p50 of the samples */
    int samples;
};

struct footprint {
    long rss_under_load_kb; /* highest VmHWM over the ingest runs */
};

static bool wanted(const struct options *o, const char *part)
{
    return o->only == NULL || strcmp(o->only, part) == 0;
}

static void sleep_ms(long ms)
{
    struct timespec pause = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&pause, NULL);
}

/* --- the run's circumstances ----------------------------------------------------------- */

static char *first_line_with(const char *path, const char *prefix)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return NULL;
    }
    char line[512];
    char *found = NULL;
    while (found == NULL && fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, prefix, strlen(prefix)) == 0) {
            line[strcspn(line, "\n")] = '\0';
            const char *value = strchr(line, ':');
            found = strdup(value != NULL ? value + 1 + (value[1] == ' ') : line);
        }
    }
    fclose(f);
    return found;
}

static void load_average(struct bench_report *report, const char *key)
{
    char *line = NULL;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f != NULL) {
        char text[128];
        if (fgets(text, sizeof(text), f) != NULL) {
            text[strcspn(text, "\n")] = '\0';
            line = strdup(text);
        }
        fclose(f);
    }
    bench_info(report, key, line != NULL ? line : "?");
    free(line);
}

static void describe_machine(struct bench_report *report, const struct options *o)
{
    char *cpu = first_line_with("/proc/cpuinfo", "model name");
    char *memory = first_line_with("/proc/meminfo", "MemTotal");
    struct utsname uts;
    uname(&uts);
    char text[512];
    snprintf(text, sizeof(text), "%ld x %s, %s RAM, Linux %s", sysconf(_SC_NPROCESSORS_ONLN),
             cpu != NULL ? cpu : "?", memory != NULL ? memory : "?", uts.release);
    bench_info(report, "machine", text);
    free(cpu);
    free(memory);
    PGconn *conn = bench_db_connect(o->admin_url);
    if (conn != NULL) {
        PGresult *r = PQexec(conn, "SELECT current_setting('server_version') || ', fsync=' || "
                                   "current_setting('fsync') || ', synchronous_commit=' || "
                                   "current_setting('synchronous_commit') || ', shared_buffers=' "
                                   "|| current_setting('shared_buffers')");
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
            bench_info(report, "postgresql", PQgetvalue(r, 0, 0));
        }
        PQclear(r);
        PQfinish(conn);
    }
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm);
    bench_info(report, "date", text);
    snprintf(text, sizeof(text),
             "%d s per ingest run (1 s warm-up not measured); %llu older events in each ingest "
             "and ceiling database; %llu deliveries%s",
             o->duration_s, (unsigned long long)o->history, (unsigned long long)o->deliveries,
             o->quick ? " (--quick)" : "");
    bench_info(report, "settings", text);
    load_average(report, "load_before");
}

/* --- ceilings ---------------------------------------------------------------------------- */

static int measure_ceilings(const struct options *o, struct baselines *b, int round)
{
    char label[16];
    snprintf(label, sizeof(label), "ceil%d", round);
    char *url = bench_db_create(o->admin_url, label);
    if (url == NULL || bench_db_add_history(url, o->history) != 0) {
        bench_db_drop(o->admin_url, url);
        return -1;
    }
    struct commit_latency commit;
    struct ceiling insert, copy;
    size_t statements = o->quick ? INSERT_STATEMENTS / 4 : INSERT_STATEMENTS;
    size_t copies = o->quick ? COPY_COUNT / 4 : COPY_COUNT;
    int rc = -1;
    fprintf(stderr, "bench: ceilings, round %d ...\n", round);
    if (bench_commit_latency(url, "commit", o->quick ? COMMIT_SAMPLES / 4 : COMMIT_SAMPLES,
                             &commit) != 0) {
        goto out;
    }
    /* fresh tables for each bulk path, so that neither inherits the other's index */
    bench_db_drop(o->admin_url, url);
    url = bench_db_create(o->admin_url, label);
    if (url == NULL || bench_db_add_history(url, o->history) != 0 ||
        bench_ceiling_insert(url, "ins", 0, statements, &insert) != 0) {
        goto out;
    }
    bench_db_drop(o->admin_url, url);
    url = bench_db_create(o->admin_url, label);
    if (url == NULL || bench_db_add_history(url, o->history) != 0 ||
        bench_ceiling_copy(url, "copy", 0, copies, COPY_ROWS, &copy) != 0) {
        goto out;
    }
    fprintf(stderr,
            "bench:   commit p50 %.2f ms p99 %.2f ms; INSERT x1000 %.0f rows/s; COPY %.0f rows/s\n",
            commit.p50_ms, commit.p99_ms, insert.rows_per_s, copy.rows_per_s);
    if (insert.pg_cpu_us_per_row > 0 && (b->insert_pg_cpu_us_per_row <= 0 ||
                                         insert.pg_cpu_us_per_row < b->insert_pg_cpu_us_per_row)) {
        b->insert_pg_cpu_us_per_row = insert.pg_cpu_us_per_row;
    }
    if (copy.pg_cpu_us_per_row > 0 &&
        (b->copy_pg_cpu_us_per_row <= 0 || copy.pg_cpu_us_per_row < b->copy_pg_cpu_us_per_row)) {
        b->copy_pg_cpu_us_per_row = copy.pg_cpu_us_per_row;
    }
    if (insert.rows_per_s > b->insert_rows_per_s) {
        b->insert_rows_per_s = insert.rows_per_s;
    }
    if (copy.rows_per_s > b->copy_rows_per_s) {
        b->copy_rows_per_s = copy.rows_per_s;
    }
    if (b->samples == 0 || commit.p50_ms < b->commit.p50_ms) {
        b->commit = commit;
    }
    b->samples++;
    rc = 0;
out:
    bench_db_drop(o->admin_url, url);
    return rc;
}

static void report_ceilings(struct bench_report *report, const struct baselines *b)
{
    /* the ceilings are baselines themselves: compared with each other for context */
    bench_figure(report, "ceiling.insert_1000.rows_per_s", b->insert_rows_per_s, "rows/s",
                 "ceiling.copy.rows_per_s", b->copy_rows_per_s, 0,
                 "bare libpq: 1,000-row INSERT ... ON CONFLICT DO NOTHING, autocommit");
    bench_figure(report, "ceiling.copy.rows_per_s", b->copy_rows_per_s, "rows/s",
                 "ceiling.insert_1000.rows_per_s", b->insert_rows_per_s, 0,
                 "bare libpq: COPY FROM STDIN, 10,000 rows per COPY");
    bench_figure(report, "ceiling.insert_1000.pg_cpu_us_per_row", b->insert_pg_cpu_us_per_row, "us",
                 "ceiling.copy.pg_cpu_us_per_row", b->copy_pg_cpu_us_per_row, 0,
                 "PostgreSQL CPU (all its processes) per row written");
    bench_figure(report, "ceiling.copy.pg_cpu_us_per_row", b->copy_pg_cpu_us_per_row, "us", NULL, 0,
                 0, NULL);
    bench_figure(report, "ceiling.commit_1_row.p50_ms", b->commit.p50_ms, "ms", NULL, 0, 0,
                 "one single-row INSERT in autocommit, one client: the least an ack costs");
    bench_figure(report, "ceiling.commit_1_row.p99_ms", b->commit.p99_ms, "ms", NULL, 0, 0, NULL);
    bench_figure(report, "ceiling.commit_1_row.p999_ms", b->commit.p999_ms, "ms", NULL, 0, 0, NULL);
}

/* --- ingest ------------------------------------------------------------------------------ */

struct ingest_case {
    unsigned per_request;
    unsigned connections;
    bool fresh; /* a new, empty database (no history, never analyzed): a new installation */
};

struct ingest_outcome {
    struct ingest_case c;
    struct loadgen_result r; /* acked freed; the figures kept */
    long long stored;        /* events in the database afterwards */
    /* where the time went, over the whole run (warm-up included), per event acknowledged */
    double daemon_cpu_us;
    double pg_cpu_us;
    double loadgen_cpu_us;
    double events_per_transaction; /* the daemon's leadhub_ingest_batch_events mean */
    double transaction_ms;         /* and its leadhub_ingest_commit_seconds mean */
    int exit_status;               /* of the daemon, stopped after the load (0: clean) */
    bool ran;
};

static double self_cpu_seconds(void)
{
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    return (double)usage.ru_utime.tv_sec + (double)usage.ru_utime.tv_usec / 1e6 +
           (double)usage.ru_stime.tv_sec + (double)usage.ru_stime.tv_usec / 1e6;
}

static int run_ingest(const struct options *o, const struct ingest_case *c,
                      struct ingest_outcome *outcome, struct footprint *fp)
{
    char label[32], prefix[32];
    const char *kind = c->per_request == 1 ? "single" : "batch100";
    snprintf(label, sizeof(label), "%s_n%u%s", kind, c->connections, c->fresh ? "_fresh" : "");
    snprintf(prefix, sizeof(prefix), "%s-n%u%s", kind, c->connections, c->fresh ? "-fresh" : "");
    outcome->c = *c;
    char *url = bench_db_create(o->admin_url, label);
    if (url == NULL || bench_db_add_history(url, c->fresh ? 0 : o->history) != 0) {
        bench_db_drop(o->admin_url, url);
        return -1;
    }
    struct bench_daemon d;
    int rc = -1;
    if (bench_daemon_configure(&d, o->build, url, SECRET, NULL, NULL) != 0 ||
        bench_daemon_start(&d, o->build) != 0) {
        goto out;
    }
    fprintf(stderr, "bench: ingest %s N=%u%s for %d s ...\n", kind, c->connections,
            c->fresh ? " on a fresh database" : "", o->duration_s);
    struct loadgen_options lo = {
        .host = "127.0.0.1",
        .port = d.port,
        .path = "/webhooks/inbound",
        .secret = SECRET,
        .connections = c->connections,
        .events_per_request = c->per_request,
        .id_prefix = prefix,
        .duration_ms = (int64_t)o->duration_s * 1000 + 1000,
        .warmup_ms = 1000,
        .timeout_ms = 30000,
    };
    struct loadgen_result *r = &outcome->r;
    double daemon_cpu = bench_process_cpu_seconds(d.pid);
    double pg_cpu = bench_pg_cpu_seconds(o->admin_url);
    double own_cpu = self_cpu_seconds();
    if (loadgen_run(&lo, r) != 0) {
        fprintf(stderr, "bench: %s\n", r->error);
        goto out;
    }
    loadgen_result_free(r);
    double events = r->events_acked > 0 ? (double)r->events_acked : 1;
    outcome->loadgen_cpu_us = (self_cpu_seconds() - own_cpu) * 1e6 / events;
    outcome->daemon_cpu_us = (bench_process_cpu_seconds(d.pid) - daemon_cpu) * 1e6 / events;
    double pg_after = bench_pg_cpu_seconds(o->admin_url);
    outcome->pg_cpu_us = pg_cpu >= 0 && pg_after >= 0 ? (pg_after - pg_cpu) * 1e6 / events : -1;
    double batch_sum = bench_daemon_metric(&d, "leadhub_ingest_batch_events_sum");
    double batch_count = bench_daemon_metric(&d, "leadhub_ingest_batch_events_count");
    double commit_sum = bench_daemon_metric(&d, "leadhub_ingest_commit_seconds_sum");
    if (batch_count > 0) {
        outcome->events_per_transaction = batch_sum / batch_count;
        outcome->transaction_ms = commit_sum * 1000.0 / batch_count;
    }
    long hwm = bench_hwm_kb(d.pid);
    if (hwm > fp->rss_under_load_kb) {
        fp->rss_under_load_kb = hwm;
    }
    PGconn *conn = bench_db_connect(url);
    char *count_sql =
        util_printf("SELECT count(*) FROM events WHERE source_id LIKE '%s-%%'", prefix);
    outcome->stored = conn != NULL ? bench_db_scalar(conn, count_sql) : -1;
    free(count_sql);
    PQfinish(conn);
    int exit_code = bench_daemon_stop(&d);
    fprintf(stderr,
            "bench:   %.1f events per transaction, %.2f ms each; CPU per event: daemon %.0f us, "
            "PostgreSQL %.0f us, load generator %.0f us\n",
            outcome->events_per_transaction, outcome->transaction_ms, outcome->daemon_cpu_us,
            outcome->pg_cpu_us, outcome->loadgen_cpu_us);
    fprintf(stderr,
            "bench:   %.0f events/s, p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms; %llu acked, "
            "%lld stored, %llu 503, %llu failed, %llu other\n",
            r->events_per_s, r->latency_p50_ms, r->latency_p99_ms, r->latency_p999_ms,
            (unsigned long long)r->events_acked, outcome->stored,
            (unsigned long long)r->requests_503, (unsigned long long)r->requests_failed,
            (unsigned long long)r->requests_other);
    /* a daemon that died under load is a result (a failed check), not a broken benchmark:
     * the other runs go on */
    outcome->exit_status = exit_code;
    outcome->ran = true;
    rc = 0;
out:
    bench_daemon_cleanup(&d, rc != 0 || outcome->exit_status != 0);
    bench_db_drop(o->admin_url, url);
    return rc;
}

/* A fresh database against the same case on one with history: the first minutes of a new
 * installation may not be slower than its later life. */
#define FLOOR_FRESH_RATIO 0.8

static void report_fresh(struct bench_report *report, const struct ingest_outcome *fresh,
                         const struct ingest_outcome *outcomes, size_t count)
{
    const struct ingest_case *c = &fresh->c;
    const char *kind = c->per_request == 1 ? "single" : "batch100";
    for (size_t i = 0; i < count; i++) {
        const struct ingest_case *h = &outcomes[i].c;
        if (!outcomes[i].ran || h->fresh || h->per_request != c->per_request ||
            h->connections != c->connections) {
            continue;
        }
        char name[80], baseline[80], note[160];
        snprintf(name, sizeof(name), "ingest.%s.n%u.fresh_db.events_per_s", kind, c->connections);
        snprintf(baseline, sizeof(baseline), "ingest.%s.n%u.events_per_s", kind, c->connections);
        snprintf(note, sizeof(note),
                 "a new, empty database, never analyzed; %llu requests answered 503, %llu "
                 "unanswered",
                 (unsigned long long)fresh->r.requests_503,
                 (unsigned long long)fresh->r.requests_failed);
        bench_figure(report, name, fresh->r.events_per_s, "events/s", baseline,
                     outcomes[i].r.events_per_s, FLOOR_FRESH_RATIO, note);
        snprintf(name, sizeof(name), "ingest.%s.n%u.fresh_db.ack_p99_ms", kind, c->connections);
        snprintf(baseline, sizeof(baseline), "ingest.%s.n%u.ack_p99_ms", kind, c->connections);
        bench_figure(report, name, fresh->r.latency_p99_ms, "ms", baseline,
                     outcomes[i].r.latency_p99_ms, 0, NULL);
        snprintf(name, sizeof(name), "ingest.%s.n%u.fresh_db.stored_minus_acked", kind,
                 c->connections);
        long long difference = fresh->stored - (long long)fresh->r.events_acked;
        long long unanswered = (long long)fresh->r.requests_failed * (long long)c->per_request;
        bench_check(
            report, name, (double)difference, "events",
            unanswered > 0 ? "in [0, unanswered]" : "==", unanswered > 0 ? (double)unanswered : 0,
            difference >= 0 && difference <= unanswered);
    }
}

static void report_ingest(struct bench_report *report, const struct baselines *b,
                          const struct ingest_outcome *outcome)
{
    const struct ingest_case *c = &outcome->c;
    const struct loadgen_result *r = &outcome->r;
    const char *kind = c->per_request == 1 ? "single" : "batch100";
    char name[64];
    bool floor_case = c->per_request == 1 && c->connections == 64;
    char note[160];
    snprintf(note, sizeof(note), "%.1f s measured; %llu requests answered 503, %llu unanswered",
             r->window_s, (unsigned long long)r->requests_503,
             (unsigned long long)r->requests_failed);
    snprintf(name, sizeof(name), "ingest.%s.n%u.events_per_s", kind, c->connections);
    bench_figure(report, name, r->events_per_s, "events/s", "ceiling.insert_1000.rows_per_s",
                 b->insert_rows_per_s, floor_case ? FLOOR_INSERT_RATIO : 0, note);
    snprintf(name, sizeof(name), "ingest.%s.n%u.events_per_s_vs_copy", kind, c->connections);
    bench_figure(report, name, r->events_per_s, "events/s", "ceiling.copy.rows_per_s",
                 b->copy_rows_per_s, 0, NULL);
    const struct {
        const char *suffix;
        double value;
        const char *baseline;
        double baseline_value;
    } latencies[] = {
        {"ack_p50_ms", r->latency_p50_ms, "ceiling.commit_1_row.p50_ms", b->commit.p50_ms},
        {"ack_p99_ms", r->latency_p99_ms, "ceiling.commit_1_row.p99_ms", b->commit.p99_ms},
        {"ack_p999_ms", r->latency_p999_ms, "ceiling.commit_1_row.p999_ms", b->commit.p999_ms},
    };
    for (size_t i = 0; i < sizeof(latencies) / sizeof(latencies[0]); i++) {
        snprintf(name, sizeof(name), "ingest.%s.n%u.%s", kind, c->connections, latencies[i].suffix);
        bench_figure(report, name, latencies[i].value, "ms", latencies[i].baseline,
                     latencies[i].baseline_value, 0, NULL);
    }
    if (floor_case) {
        snprintf(name, sizeof(name), "ingest.%s.n%u.ack_p99_ms", kind, c->connections);
        bench_check(report, name, r->latency_p99_ms, "ms", "<", FLOOR_P99_MS,
                    r->latency_p99_ms < FLOOR_P99_MS);
    }
    /* where the time goes: how full the group commits are, and CPU per event */
    snprintf(name, sizeof(name), "ingest.%s.n%u.events_per_transaction", kind, c->connections);
    bench_figure(report, name, outcome->events_per_transaction, "events",
                 "events in flight (connections x events per request)",
                 (double)c->connections * c->per_request, 0, NULL);
    snprintf(name, sizeof(name), "ingest.%s.n%u.transaction_ms", kind, c->connections);
    bench_figure(report, name, outcome->transaction_ms, "ms", "ceiling.commit_1_row.p50_ms",
                 b->commit.p50_ms, 0, "mean time to write and commit one ingest transaction");
    const struct {
        const char *suffix;
        double value;
    } cpu[] = {
        {"pg_cpu_us_per_event", outcome->pg_cpu_us},
        {"daemon_cpu_us_per_event", outcome->daemon_cpu_us},
        {"loadgen_cpu_us_per_event", outcome->loadgen_cpu_us},
    };
    for (size_t i = 0; i < sizeof(cpu) / sizeof(cpu[0]); i++) {
        snprintf(name, sizeof(name), "ingest.%s.n%u.%s", kind, c->connections, cpu[i].suffix);
        bench_figure(report, name, cpu[i].value, "us", "ceiling.insert_1000.pg_cpu_us_per_row",
                     b->insert_pg_cpu_us_per_row, 0, NULL);
    }
    /* the daemon stopped cleanly on SIGTERM after the load (it did not die under it) */
    snprintf(name, sizeof(name), "ingest.%s.n%u.daemon_exit_status", kind, c->connections);
    bench_check(report, name, outcome->exit_status, "", "==", 0, outcome->exit_status == 0);
    /* every acknowledged event is in the database; beyond them, at most the events of
     * requests that got no answer (committed, then the answer was lost) */
    snprintf(name, sizeof(name), "ingest.%s.n%u.stored_minus_acked", kind, c->connections);
    long long difference = outcome->stored - (long long)r->events_acked;
    long long unanswered = (long long)r->requests_failed * (long long)c->per_request;
    bench_check(
        report, name, (double)difference, "events",
        unanswered > 0 ? "in [0, unanswered]" : "==", unanswered > 0 ? (double)unanswered : 0,
        difference >= 0 && difference <= unanswered);
}

/* --- delivery ----------------------------------------------------------------------------- */

static int queue_deliveries(const char *url, uint64_t count)
{
    struct ceiling ignored;
    size_t rows = count < COPY_ROWS ? (size_t)count : COPY_ROWS;
    size_t copies = (size_t)((count + rows - 1) / rows);
    if (bench_ceiling_copy(url, "dlv", 0, copies, rows, &ignored) != 0) {
        return -1;
    }
    PGconn *conn = bench_db_connect(url);
    if (conn == NULL) {
        return -1;
    }
    char *sql = util_printf("INSERT INTO deliveries (event_id, destination, route) "
                            "SELECT id, 'out', 'bench' FROM events ORDER BY id LIMIT %llu",
                            (unsigned long long)count);
    PGresult *r = PQexec(conn, sql);
    int rc = PQresultStatus(r) == PGRES_COMMAND_OK && strtoull(PQcmdTuples(r), NULL, 10) == count
                 ? 0
                 : -1;
    if (rc != 0) {
        fprintf(stderr, "bench: queueing deliveries: %s", PQerrorMessage(conn));
    }
    PQclear(r);
    free(sql);
    PQexec(conn, "VACUUM ANALYZE deliveries");
    PQfinish(conn);
    return rc;
}

static int run_delivery(const struct options *o, struct bench_report *report)
{
    char *url = bench_db_create(o->admin_url, "delivery");
    struct bench_receiver *receiver = bench_receiver_start(2);
    struct bench_daemon d = {0};
    int rc = -1;
    if (url == NULL || receiver == NULL) {
        goto out;
    }
    fprintf(stderr, "bench: delivery: queueing %llu deliveries ...\n",
            (unsigned long long)o->deliveries);
    if (queue_deliveries(url, o->deliveries) != 0) {
        goto out;
    }
    /* the receiver's own rate: direct posts from as many connections as the sink's lane
     * has workers (delivery.concurrency, default 4) */
    struct loadgen_options lo = {
        .host = "127.0.0.1",
        .port = bench_receiver_port(receiver),
        .path = "/events",
        .secret = SECRET,
        .connections = 4,
        .events_per_request = 1,
        .id_prefix = "direct",
        .duration_ms = o->quick ? 2500 : 5500,
        .warmup_ms = 500,
    };
    struct loadgen_result direct;
    double own_cpu = self_cpu_seconds();
    if (loadgen_run(&lo, &direct) != 0) {
        fprintf(stderr, "bench: %s\n", direct.error);
        goto out;
    }
    loadgen_result_free(&direct);
    /* client and receiver both run in this process */
    double direct_cpu_us = (self_cpu_seconds() - own_cpu) * 1e6 /
                           (double)(direct.requests_2xx > 0 ? direct.requests_2xx : 1);
    fprintf(stderr, "bench:   receiver, direct posts from 4 connections: %.0f requests/s\n",
            direct.requests_per_s);
    bench_receiver_reset(receiver);

    char *sink_url = util_printf("http://127.0.0.1:%d/events", bench_receiver_port(receiver));
    int configured = bench_daemon_configure(&d, o->build, url, SECRET, sink_url, NULL);
    free(sink_url);
    if (configured != 0 || bench_daemon_start(&d, o->build) != 0) {
        goto out;
    }
    PGconn *conn = bench_db_connect(url);
    if (conn == NULL) {
        goto out;
    }
    double daemon_cpu = bench_process_cpu_seconds(d.pid);
    double pg_cpu = bench_pg_cpu_seconds(o->admin_url);
    own_cpu = self_cpu_seconds();
    int64_t deadline = loadgen_now_us() + 900 * 1000000LL;
    long long done = 0;
    int64_t first_us = 0, done_us = 0;
    int died = 0;
    while (loadgen_now_us() < deadline && !bench_daemon_exited(&d, &died)) {
        if (bench_receiver_count(receiver, &first_us, NULL) >= o->deliveries) {
            done = bench_db_scalar(conn, "SELECT count(*) FROM deliveries WHERE status = 'done'");
            if (done >= (long long)o->deliveries) {
                done_us = loadgen_now_us();
                break;
            }
            sleep_ms(20);
        } else {
            sleep_ms(50);
        }
    }
    double per = (double)o->deliveries;
    double daemon_cpu_us = (bench_process_cpu_seconds(d.pid) - daemon_cpu) * 1e6 / per;
    double pg_after = bench_pg_cpu_seconds(o->admin_url);
    double pg_cpu_us = pg_cpu >= 0 && pg_after >= 0 ? (pg_after - pg_cpu) * 1e6 / per : -1;
    double receiver_cpu_us = (self_cpu_seconds() - own_cpu) * 1e6 / per;
    long long dead = bench_db_scalar(conn, "SELECT count(*) FROM deliveries WHERE status = 'dead'");
    PQfinish(conn);
    uint64_t received = bench_receiver_count(receiver, NULL, NULL);
    int exit_code = bench_daemon_stop(&d);
    if (done_us == 0) {
        fprintf(stderr, "bench: deliveries did not finish: %lld of %llu done\n", done,
                (unsigned long long)o->deliveries);
        bench_check(report, "delivery.daemon_exit_status", exit_code, "", "==", 0, exit_code == 0);
        rc = exit_code != 0 ? 0 : -1; /* a crash is a result; a stall breaks the run */
        goto out;
    }
    double seconds = (double)(done_us - first_us) / 1e6;
    double rate = (double)o->deliveries / seconds;
    fprintf(stderr,
            "bench:   CPU per delivery: daemon %.0f us, PostgreSQL %.0f us, receiver %.0f us "
            "(a direct post: %.0f us client and receiver)\n",
            daemon_cpu_us, pg_cpu_us, receiver_cpu_us, direct_cpu_us);
    fprintf(stderr, "bench:   %.0f deliveries/s (%llu in %.1f s), %llu requests received\n", rate,
            (unsigned long long)o->deliveries, seconds, (unsigned long long)received);
    char note[160];
    snprintf(note, sizeof(note),
             "%llu queued deliveries, http sink defaults (4 workers, claim 50); "
             "first request to all recorded done",
             (unsigned long long)o->deliveries);
    bench_figure(report, "delivery.http.deliveries_per_s", rate, "deliveries/s",
                 "receiver.direct_posts_per_s", direct.requests_per_s, 0, note);
    const struct {
        const char *name;
        double value;
    } cpu[] = {
        {"delivery.http.daemon_cpu_us_per_delivery", daemon_cpu_us},
        {"delivery.http.pg_cpu_us_per_delivery", pg_cpu_us},
        {"delivery.http.receiver_cpu_us_per_delivery", receiver_cpu_us},
    };
    for (size_t i = 0; i < sizeof(cpu) / sizeof(cpu[0]); i++) {
        bench_figure(report, cpu[i].name, cpu[i].value, "us",
                     "receiver.direct_post_cpu_us (client + receiver)", direct_cpu_us, 0, NULL);
    }
    bench_check(report, "delivery.http.requests_per_delivery",
                (double)received / (double)o->deliveries, "requests", "==", 1,
                received == o->deliveries);
    bench_check(report, "delivery.http.dead", (double)dead, "deliveries", "==", 0, dead == 0);
    bench_check(report, "delivery.daemon_exit_status", exit_code, "", "==", 0, exit_code == 0);
    rc = 0;
out:
    bench_daemon_cleanup(&d, rc != 0);
    bench_receiver_stop(receiver);
    bench_db_drop(o->admin_url, url);
    return rc;
}

/* --- footprint ------------------------------------------------------------------------------ */

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int run_footprint(const struct options *o, struct bench_report *report,
                         const struct footprint *fp)
{
    char *url = bench_db_create(o->admin_url, "footprint");
    struct bench_receiver *receiver = bench_receiver_start(1);
    struct bench_daemon d = {0};
    int rc = -1;
    if (url == NULL || receiver == NULL) {
        goto out;
    }
    fprintf(stderr, "bench: footprint ...\n");
    char *sink_url = util_printf("http://127.0.0.1:%d/events", bench_receiver_port(receiver));
    int configured = bench_daemon_configure(&d, o->build, url, SECRET, sink_url, NULL);
    free(sink_url);
    if (configured != 0) {
        goto out;
    }
    /* the start-up baseline: the same binary doing the offline half of start-up (config,
     * plugins, schemas), without the database, threads or listener */
    char *binary = util_printf("%s/leadhubd", o->build);
    char *argv[] = {binary, "check-config", "-c", d.config, NULL};
    double check_ms[STARTUP_SAMPLES], ready_ms[STARTUP_SAMPLES];
    for (int i = 0; i < STARTUP_SAMPLES; i++) {
        long ignored = 0; /* a forked child's peak RSS counts the parent's: not used */
        if (bench_run_command(argv, &check_ms[i], &ignored) != 0) {
            fprintf(stderr, "bench: leadhubd check-config failed\n");
            free(binary);
            goto out;
        }
    }
    free(binary);
    /* the RSS baseline: the same daemon, bare (no plugins, no instances), settled */
    struct bench_daemon bare = {0};
    long bare_kb = -1;
    if (bench_daemon_configure(&bare, o->build, url, NULL, NULL, NULL) == 0 &&
        bench_daemon_start(&bare, o->build) == 0) {
        sleep_ms(2000);
        bare_kb = bench_rss_kb(bare.pid);
        bench_daemon_stop(&bare);
    }
    bench_daemon_cleanup(&bare, false);
    if (bare_kb < 0) {
        goto out;
    }
    long idle_kb = 0;
    for (int i = 0; i < STARTUP_SAMPLES; i++) {
        if (bench_daemon_start(&d, o->build) != 0) {
            goto out;
        }
        ready_ms[i] = d.ready_ms;
        if (i == STARTUP_SAMPLES - 1) {
            sleep_ms(2000); /* settled: every thread started, every lane idle */
            idle_kb = bench_rss_kb(d.pid);
        }
        if (bench_daemon_stop(&d) != 0) {
            goto out;
        }
    }
    qsort(check_ms, STARTUP_SAMPLES, sizeof(double), compare_double);
    qsort(ready_ms, STARTUP_SAMPLES, sizeof(double), compare_double);
    double check_median = check_ms[STARTUP_SAMPLES / 2];
    double ready_median = ready_ms[STARTUP_SAMPLES / 2];
    fprintf(stderr, "bench:   ready in %.1f ms (check-config %.1f ms); idle RSS %ld kB\n",
            ready_median, check_median, idle_kb);
    bench_figure(report, "footprint.rss_idle_kb", (double)idle_kb, "kB",
                 "footprint.rss_idle_bare_kb", (double)bare_kb, 0,
                 "webhook and http loaded, one instance each, a route, 2 s after ready");
    bench_figure(report, "footprint.rss_idle_bare_kb", (double)bare_kb, "kB", NULL, 0, 0,
                 "the same daemon without plugins or instances, 2 s after ready");
    if (fp->rss_under_load_kb > 0) {
        bench_figure(report, "footprint.rss_under_load_kb", (double)fp->rss_under_load_kb, "kB",
                     "footprint.rss_idle_kb", (double)idle_kb, 0,
                     "peak RSS (VmHWM) over the ingest runs");
    }
    char note[96];
    snprintf(note, sizeof(note), "median of %d starts on a migrated database", STARTUP_SAMPLES);
    bench_figure(report, "footprint.exec_to_ready_ms", ready_median, "ms",
                 "leadhubd check-config ms", check_median, 0, note);
    rc = 0;
out:
    bench_daemon_cleanup(&d, rc != 0);
    bench_receiver_stop(receiver);
    bench_db_drop(o->admin_url, url);
    return rc;
}

/* --- main ----------------------------------------------------------------------------------- */

static void usage(FILE *out)
{
    fprintf(out,
            "usage: leadhub-bench [--database-url URL] [--build DIR] [--json FILE|-]\n"
            "                     [--duration SECONDS] [--deliveries N] [--history N] [--quick]\n"
            "                     [--only ingest|fresh|delivery|footprint|rescore|reports|graph|\n"
            "                             google]\n"
            "       leadhub-bench load --port P [--connections N] [--batch K]\n"
            "                     [--duration SECONDS] [--prefix ID] [--secret S]\n");
}

static int parse_options(int argc, char **argv, struct options *o)
{
    *o = (struct options){
        .admin_url = getenv("LEADHUB_TEST_DATABASE_URL"),
        .build = getenv("LEADHUB_BUILD_DIR") != NULL ? getenv("LEADHUB_BUILD_DIR") : "build",
        .json = NULL,
        .duration_s = 10,
        .deliveries = 100000,
        .history = 100000,
    };
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(arg, "--quick") == 0) {
            o->quick = true;
            o->duration_s = 3;
            o->deliveries = 10000;
            o->history = 20000;
            continue;
        }
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            usage(stdout);
            exit(0);
        }
        if (value == NULL) {
            usage(stderr);
            return -1;
        }
        i++;
        if (strcmp(arg, "--database-url") == 0) {
            o->admin_url = value;
        } else if (strcmp(arg, "--build") == 0) {
            o->build = value;
        } else if (strcmp(arg, "--json") == 0) {
            o->json = value;
        } else if (strcmp(arg, "--duration") == 0) {
            o->duration_s = (int)strtol(value, NULL, 10);
        } else if (strcmp(arg, "--deliveries") == 0) {
            o->deliveries = strtoull(value, NULL, 10);
        } else if (strcmp(arg, "--history") == 0) {
            o->history = strtoull(value, NULL, 10);
        } else if (strcmp(arg, "--only") == 0) {
            o->only = value;
        } else {
            usage(stderr);
            return -1;
        }
    }
    if (o->admin_url == NULL || o->admin_url[0] == '\0') {
        fprintf(stderr, "leadhub-bench: no database: set LEADHUB_TEST_DATABASE_URL or pass "
                        "--database-url (bench/run.sh starts a throwaway PostgreSQL)\n");
        return -1;
    }
    if (o->duration_s < 1 || o->deliveries < 1) {
        usage(stderr);
        return -1;
    }
    return 0;
}

/* `leadhub-bench load ...`: the load generator alone, against a daemon already running. */
static int load_only(int argc, char **argv)
{
    struct loadgen_options lo = {
        .host = "127.0.0.1",
        .path = "/webhooks/inbound",
        .secret = getenv("LEADHUB_BENCH_SECRET") != NULL ? getenv("LEADHUB_BENCH_SECRET") : SECRET,
        .connections = 64,
        .events_per_request = 1,
        .id_prefix = "load",
        .duration_ms = 10000,
        .warmup_ms = 1000,
    };
    char prefix[64];
    snprintf(prefix, sizeof(prefix), "load-%lld", (long long)time(NULL));
    lo.id_prefix = prefix;
    for (int i = 2; i + 1 < argc; i += 2) {
        const char *arg = argv[i], *value = argv[i + 1];
        if (strcmp(arg, "--port") == 0) {
            lo.port = (int)strtol(value, NULL, 10);
        } else if (strcmp(arg, "--connections") == 0) {
            lo.connections = (unsigned)strtoul(value, NULL, 10);
        } else if (strcmp(arg, "--batch") == 0) {
            lo.events_per_request = (unsigned)strtoul(value, NULL, 10);
        } else if (strcmp(arg, "--duration") == 0) {
            lo.duration_ms = strtoll(value, NULL, 10) * 1000 + lo.warmup_ms;
        } else if (strcmp(arg, "--prefix") == 0) {
            lo.id_prefix = value;
        } else if (strcmp(arg, "--secret") == 0) {
            lo.secret = value;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (lo.port <= 0) {
        usage(stderr);
        return 2;
    }
    struct loadgen_result r;
    if (loadgen_run(&lo, &r) != 0) {
        fprintf(stderr, "leadhub-bench: %s\n", r.error);
        return 2;
    }
    printf("{\"events_per_s\":%.1f,\"requests_per_s\":%.1f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,"
           "\"p999_ms\":%.3f,\"max_ms\":%.3f,\"acked\":%llu,\"answered_503\":%llu,"
           "\"unanswered\":%llu,\"other\":%llu}\n",
           r.events_per_s, r.requests_per_s, r.latency_p50_ms, r.latency_p99_ms, r.latency_p999_ms,
           r.latency_max_ms, (unsigned long long)r.events_acked, (unsigned long long)r.requests_503,
           (unsigned long long)r.requests_failed, (unsigned long long)r.requests_other);
    loadgen_result_free(&r);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "load") == 0) {
        return load_only(argc, argv);
    }
    struct options o;
    if (parse_options(argc, argv, &o) != 0) {
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct bench_report *report = bench_report_open(o.json);
    if (report == NULL) {
        return 2;
    }
    describe_machine(report, &o);
    struct baselines b = {0};
    struct footprint fp = {0};
    int broken = 0;
    /* `--only fresh`: the fresh-database cases and the ones they are compared with */
    bool fresh_only = o.only != NULL && strcmp(o.only, "fresh") == 0;
    bool ingest = wanted(&o, "ingest") || fresh_only;
    if (ingest) {
        static const struct ingest_case all[] = {{1, 1, false},   {1, 8, false},   {1, 64, false},
                                                 {100, 1, false}, {100, 8, false}, {100, 64, false},
                                                 {1, 64, true},   {100, 64, true}};
        static const struct ingest_case fresh[] = {
            {1, 64, false}, {1, 64, true}, {100, 64, false}, {100, 64, true}};
        const struct ingest_case *cases = fresh_only ? fresh : all;
        size_t count = fresh_only ? sizeof(fresh) / sizeof(fresh[0]) : sizeof(all) / sizeof(all[0]);
        struct ingest_outcome outcomes[sizeof(all) / sizeof(all[0])];
        memset(outcomes, 0, sizeof(outcomes));
        /* ceilings before and after: the machine drifts; the best of the two is used */
        if (!fresh_only) {
            broken |= measure_ceilings(&o, &b, 1);
        }
        size_t ran = 0;
        for (; ran < count && broken == 0; ran++) {
            broken |= run_ingest(&o, &cases[ran], &outcomes[ran], &fp);
        }
        if (!fresh_only) {
            broken |= measure_ceilings(&o, &b, 2);
            report_ceilings(report, &b);
        }
        for (size_t i = 0; i < ran; i++) {
            if (outcomes[i].ran && !outcomes[i].c.fresh) {
                report_ingest(report, &b, &outcomes[i]);
            } else if (outcomes[i].ran) {
                report_fresh(report, &outcomes[i], outcomes, ran);
            }
        }
    }
    if (wanted(&o, "delivery") && broken == 0) {
        broken |= run_delivery(&o, report);
    }
    if (wanted(&o, "footprint") && broken == 0) {
        broken |= run_footprint(&o, report, &fp);
    }
    if (wanted(&o, "rescore") && broken == 0) {
        broken |= bench_run_rescore(o.admin_url, o.build, SECRET, o.quick, report) != 0;
    }
    if (wanted(&o, "reports") && broken == 0) {
        broken |= bench_run_reports(o.admin_url, o.build, o.quick, report) != 0;
    }
    if (wanted(&o, "graph") && broken == 0) {
        broken |= bench_run_graph(o.admin_url, o.build, SECRET, o.quick, report) != 0;
    }
    if (wanted(&o, "google") && broken == 0) {
        broken |= bench_run_google(o.admin_url, o.build, SECRET, o.quick, report) != 0;
    }
    load_average(report, "load_after");
    int failed = bench_report_close(report);
    curl_global_cleanup();
    if (broken != 0) {
        fprintf(stderr, "leadhub-bench: the benchmark could not complete\n");
        return 2;
    }
    if (failed > 0) {
        fprintf(stderr, "leadhub-bench: %d floor(s) or check(s) failed\n", failed);
        return 1;
    }
    return 0;
}
