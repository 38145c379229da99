/*
 * bench_db.c - throwaway databases, and the ceilings ingest is judged against: what a bare
 * libpq loop can write of the very same events into the very same table, with the two
 * bulk paths PostgreSQL has (multi-row INSERT ... ON CONFLICT DO NOTHING, and COPY), and
 * what one durable single-row commit costs.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "event.h"
#include "loadgen.h"
#include "migrate.h"
#include "util.h"

#define ROWS_PER_INSERT 1000
#define SOURCE          "inbound"

static void ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

PGconn *bench_db_connect(const char *url)
{
    PGconn *conn = PQconnectdb(url);
    if (PQstatus(conn) != CONNECTION_OK) {
        fprintf(stderr, "bench: cannot connect: %s", PQerrorMessage(conn));
        PQfinish(conn);
        return NULL;
    }
    PQsetNoticeProcessor(conn, ignore_notice, NULL);
    return conn;
}

static int exec_ok(PGconn *conn, const char *sql)
{
    PGresult *result = PQexec(conn, sql);
    ExecStatusType status = PQresultStatus(result);
    int rc = status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK ? 0 : -1;
    if (rc != 0) {
        fprintf(stderr, "bench: %s: %s", sql, PQerrorMessage(conn));
    }
    PQclear(result);
    return rc;
}

long long bench_db_scalar(PGconn *conn, const char *sql)
{
    PGresult *result = PQexec(conn, sql);
    long long value = -1;
    if (PQresultStatus(result) == PGRES_TUPLES_OK && PQntuples(result) > 0 &&
        !PQgetisnull(result, 0, 0)) {
        value = strtoll(PQgetvalue(result, 0, 0), NULL, 10);
    } else if (PQresultStatus(result) != PGRES_TUPLES_OK) {
        fprintf(stderr, "bench: %s: %s", sql, PQerrorMessage(conn));
    }
    PQclear(result);
    return value;
}

/* admin_url with its dbname replaced, as a keyword/value string. NEW string or NULL. */
static char *url_with_dbname(const char *admin_url, const char *dbname)
{
    char *error = NULL;
    PQconninfoOption *options = PQconninfoParse(admin_url, &error);
    if (options == NULL) {
        fprintf(stderr, "bench: bad database URL: %s\n", error != NULL ? error : "?");
        PQfreemem(error);
        return NULL;
    }
    struct strbuf sb = {0};
    for (PQconninfoOption *o = options; o->keyword != NULL; o++) {
        const char *value = strcmp(o->keyword, "dbname") == 0 ? dbname : o->val;
        if (value == NULL || value[0] == '\0') {
            continue;
        }
        strbuf_appendf(&sb, "%s%s='", sb.len ? " " : "", o->keyword);
        for (const char *p = value; *p != '\0'; p++) {
            if (*p == '\'' || *p == '\\') {
                strbuf_append(&sb, "\\");
            }
            strbuf_append_len(&sb, p, 1);
        }
        strbuf_append(&sb, "'");
    }
    PQconninfoFree(options);
    return strbuf_take(&sb);
}

static char *dbname_of(const char *url)
{
    PQconninfoOption *options = PQconninfoParse(url, NULL);
    char *name = NULL;
    for (PQconninfoOption *o = options; o != NULL && o->keyword != NULL; o++) {
        if (strcmp(o->keyword, "dbname") == 0 && o->val != NULL && name == NULL) {
            name = strdup(o->val);
        }
    }
    PQconninfoFree(options);
    return name;
}

char *bench_db_create(const char *admin_url, const char *label)
{
    static int counter;
    char name[64];
    snprintf(name, sizeof(name), "lh_bench_%d_%d_%s", (int)getpid(), counter++, label);
    PGconn *admin = bench_db_connect(admin_url);
    if (admin == NULL) {
        return NULL;
    }
    char *sql = util_printf("CREATE DATABASE %s", name);
    int rc = exec_ok(admin, sql);
    free(sql);
    PQfinish(admin);
    if (rc != 0) {
        return NULL;
    }
    char *url = url_with_dbname(admin_url, name);
    PGconn *conn = url != NULL ? bench_db_connect(url) : NULL;
    char *error = NULL;
    if (conn == NULL || migrate_apply(conn, NULL, &error) != 0) {
        fprintf(stderr, "bench: migrating %s: %s\n", name, error != NULL ? error : "?");
        free(error);
        PQfinish(conn);
        free(url);
        return NULL;
    }
    PQfinish(conn);
    return url;
}

int bench_db_add_history(const char *url, uint64_t rows)
{
    if (rows == 0) {
        return 0;
    }
    size_t per_copy = rows < 10000 ? (size_t)rows : 10000;
    size_t copies = (size_t)((rows + per_copy - 1) / per_copy);
    struct ceiling ignored;
    if (bench_ceiling_copy(url, "history", 0, copies, per_copy, &ignored) != 0) {
        return -1;
    }
    /* each older event with its lead, as the daemon would have stored them */
    PGconn *conn = bench_db_connect(url);
    int rc = conn != NULL ? 0 : -1;
    static const char insert_leads[] =
        "INSERT INTO leads (email, first_name, last_name, company) "
        "SELECT payload->'lead'->>'email', payload->'lead'->>'first_name', "
        "payload->'lead'->>'last_name', payload->'lead'->>'company' FROM events "
        "WHERE source_id LIKE 'history-%' ON CONFLICT (email) DO NOTHING";
    static const char link_leads[] =
        "UPDATE events e SET lead_id = l.id FROM leads l "
        "WHERE l.email = e.payload->'lead'->>'email' AND e.source_id LIKE 'history-%'";
    static const char *const steps[] = {insert_leads, link_leads, "VACUUM ANALYZE"};
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]) && rc == 0; i++) {
        rc = exec_ok(conn, steps[i]);
    }
    PQfinish(conn);
    return rc;
}

void bench_db_drop(const char *admin_url, char *url)
{
    if (url == NULL) {
        return;
    }
    char *name = dbname_of(url);
    PGconn *admin = name != NULL ? bench_db_connect(admin_url) : NULL;
    if (admin != NULL && strncmp(name, "lh_bench_", 9) == 0) {
        char *sql = util_printf("DROP DATABASE IF EXISTS %s WITH (FORCE)", name);
        exec_ok(admin, sql);
        free(sql);
    }
    PQfinish(admin);
    free(name);
    free(url);
}

/* The parent of a process, or -1. */
static long parent_of(long pid)
{
    long long ppid = -1;
    return bench_proc_stat_field(pid, 4, &ppid) == 0 ? (long)ppid : -1;
}

/* cutime + cstime: CPU of the children a process has waited for, seconds; -1 on failure. */
static double process_reaped_children_seconds(long pid)
{
    long long cutime = 0, cstime = 0;
    if (bench_proc_stat_field(pid, 16, &cutime) != 0 ||
        bench_proc_stat_field(pid, 17, &cstime) != 0) {
        return -1;
    }
    return (double)(cutime + cstime) / (double)sysconf(_SC_CLK_TCK);
}

double bench_pg_cpu_seconds(const char *admin_url)
{
    PGconn *conn = bench_db_connect(admin_url);
    long long backend = conn != NULL ? bench_db_scalar(conn, "SELECT pg_backend_pid()") : -1;
    /* read while connected: the backend process goes away with the connection */
    long postmaster = backend > 0 ? parent_of((long)backend) : -1;
    PQfinish(conn);
    if (postmaster <= 1) {
        return -1;
    }
    /* the postmaster's own time plus that of children it has reaped (backends that are
     * gone), then the children alive now */
    double total = bench_process_cpu_seconds((pid_t)postmaster);
    double reaped = process_reaped_children_seconds(postmaster);
    if (total < 0 || reaped < 0) {
        return -1;
    }
    total += reaped;
    DIR *proc = opendir("/proc");
    if (proc == NULL) {
        return -1;
    }
    struct dirent *entry;
    while ((entry = readdir(proc)) != NULL) {
        char *end = NULL;
        long pid = strtol(entry->d_name, &end, 10);
        if (end == NULL || *end != '\0' || pid <= 0 || parent_of(pid) != postmaster) {
            continue;
        }
        double seconds = bench_process_cpu_seconds((pid_t)pid);
        if (seconds > 0) {
            total += seconds;
        }
    }
    closedir(proc);
    return total;
}

int bench_event_row(const char *prefix, uint64_t n, char **source_id, char **occurred_at,
                    char **payload)
{
    char *text = loadgen_event_json(prefix, n);
    json_t *event = text != NULL ? json_loads(text, 0, NULL) : NULL;
    free(text);
    struct event_record record;
    char *error = NULL;
    if (event == NULL || event_validate(event, SOURCE, &record, &error) != 0) {
        fprintf(stderr, "bench: the benchmark's own event does not validate: %s\n",
                error != NULL ? error : "?");
        free(error);
        return -1;
    }
    char time_text[40];
    util_format_rfc3339(record.occurred_at_ms, time_text);
    *source_id = strdup(record.source_id);
    *occurred_at = strdup(time_text);
    *payload = json_dumps(record.event, JSON_COMPACT);
    event_record_clear(&record);
    return *source_id != NULL && *occurred_at != NULL && *payload != NULL ? 0 : -1;
}

static const char *const event_type = "lead.created";

/* "INSERT ... VALUES ($1..$5), ..., ($4996..$5000) ON CONFLICT DO NOTHING" */
static char *insert_sql(void)
{
    struct strbuf sb = {0};
    strbuf_append(&sb,
                  "INSERT INTO events (source, source_id, type, occurred_at, payload) VALUES ");
    for (int i = 0; i < ROWS_PER_INSERT; i++) {
        int p = i * 5;
        strbuf_appendf(&sb, "%s($%d,$%d,$%d,$%d::timestamptz,$%d::jsonb)", i ? "," : "", p + 1,
                       p + 2, p + 3, p + 4, p + 5);
    }
    strbuf_append(&sb, " ON CONFLICT ON CONSTRAINT events_idempotency_key DO NOTHING");
    return strbuf_take(&sb);
}

struct rows {
    char **source_ids;
    char **occurred_ats;
    char **payloads;
    size_t count;
};

static void rows_free(struct rows *rows)
{
    for (size_t i = 0; i < rows->count; i++) {
        free(rows->source_ids[i]);
        free(rows->occurred_ats[i]);
        free(rows->payloads[i]);
    }
    free(rows->source_ids);
    free(rows->occurred_ats);
    free(rows->payloads);
    memset(rows, 0, sizeof(*rows));
}

/* Rows first..first+count-1, made before the clock starts: the ceiling is the database's. */
static int rows_make(struct rows *rows, const char *prefix, uint64_t first, size_t count)
{
    rows->source_ids = calloc(count, sizeof(char *));
    rows->occurred_ats = calloc(count, sizeof(char *));
    rows->payloads = calloc(count, sizeof(char *));
    if (rows->source_ids == NULL || rows->occurred_ats == NULL || rows->payloads == NULL) {
        rows_free(rows);
        return -1;
    }
    for (size_t i = 0; i < count; i++) {
        if (bench_event_row(prefix, first + i, &rows->source_ids[i], &rows->occurred_ats[i],
                            &rows->payloads[i]) != 0) {
            rows->count = i + 1;
            rows_free(rows);
            return -1;
        }
        rows->count = i + 1;
    }
    return 0;
}

int bench_ceiling_insert(const char *url, const char *prefix, uint64_t first, size_t statements,
                         struct ceiling *out)
{
    memset(out, 0, sizeof(*out));
    struct rows rows = {0};
    const char **params = calloc(ROWS_PER_INSERT * 5, sizeof(char *));
    char *sql = insert_sql();
    PGconn *conn = bench_db_connect(url);
    int rc = -1;
    if (params == NULL || sql == NULL || conn == NULL ||
        rows_make(&rows, prefix, first, statements * ROWS_PER_INSERT) != 0) {
        goto out;
    }
    PGresult *prepared = PQprepare(conn, "ceiling_insert", sql, ROWS_PER_INSERT * 5, NULL);
    if (PQresultStatus(prepared) != PGRES_COMMAND_OK) {
        fprintf(stderr, "bench: prepare: %s", PQerrorMessage(conn));
        PQclear(prepared);
        goto out;
    }
    PQclear(prepared);
    double cpu_before = bench_pg_cpu_seconds(url);
    int64_t started = loadgen_now_us();
    for (size_t s = 0; s < statements; s++) {
        for (size_t i = 0; i < ROWS_PER_INSERT; i++) {
            size_t row = s * ROWS_PER_INSERT + i;
            params[i * 5] = SOURCE;
            params[i * 5 + 1] = rows.source_ids[row];
            params[i * 5 + 2] = event_type;
            params[i * 5 + 3] = rows.occurred_ats[row];
            params[i * 5 + 4] = rows.payloads[row];
        }
        PGresult *result =
            PQexecPrepared(conn, "ceiling_insert", ROWS_PER_INSERT * 5, params, NULL, NULL, 0);
        if (PQresultStatus(result) != PGRES_COMMAND_OK) {
            fprintf(stderr, "bench: insert: %s", PQerrorMessage(conn));
            PQclear(result);
            goto out;
        }
        PQclear(result);
    }
    out->seconds = (double)(loadgen_now_us() - started) / 1e6;
    out->rows = statements * ROWS_PER_INSERT;
    out->rows_per_s = (double)out->rows / out->seconds;
    double cpu_after = bench_pg_cpu_seconds(url);
    out->pg_cpu_us_per_row =
        cpu_before >= 0 && cpu_after >= 0 ? (cpu_after - cpu_before) * 1e6 / (double)out->rows : -1;
    rc = 0;
out:
    PQfinish(conn);
    free(sql);
    free(params);
    rows_free(&rows);
    return rc;
}

/* COPY text format: backslash, tab, newline and carriage return escaped. */
static void copy_field(struct strbuf *sb, const char *value)
{
    for (const char *p = value; *p != '\0'; p++) {
        switch (*p) {
        case '\\':
            strbuf_append(sb, "\\\\");
            break;
        case '\t':
            strbuf_append(sb, "\\t");
            break;
        case '\n':
            strbuf_append(sb, "\\n");
            break;
        case '\r':
            strbuf_append(sb, "\\r");
            break;
        default:
            strbuf_append_len(sb, p, 1);
        }
    }
}

int bench_ceiling_copy(const char *url, const char *prefix, uint64_t first, size_t copies,
                       size_t rows_per_copy, struct ceiling *out)
{
    memset(out, 0, sizeof(*out));
    struct rows rows = {0};
    struct strbuf *chunks = calloc(copies, sizeof(*chunks));
    PGconn *conn = bench_db_connect(url);
    int rc = -1;
    if (chunks == NULL || conn == NULL ||
        rows_make(&rows, prefix, first, copies * rows_per_copy) != 0) {
        goto out;
    }
    for (size_t c = 0; c < copies; c++) {
        for (size_t i = 0; i < rows_per_copy; i++) {
            size_t row = c * rows_per_copy + i;
            strbuf_append(&chunks[c], SOURCE "\t");
            copy_field(&chunks[c], rows.source_ids[row]);
            strbuf_appendf(&chunks[c], "\t%s\t%s\t", event_type, rows.occurred_ats[row]);
            copy_field(&chunks[c], rows.payloads[row]);
            strbuf_append(&chunks[c], "\n");
        }
        if (chunks[c].failed) {
            goto out;
        }
    }
    double cpu_before = bench_pg_cpu_seconds(url);
    int64_t started = loadgen_now_us();
    for (size_t c = 0; c < copies; c++) {
        PGresult *result =
            PQexec(conn, "COPY events (source, source_id, type, occurred_at, payload) FROM STDIN");
        if (PQresultStatus(result) != PGRES_COPY_IN) {
            fprintf(stderr, "bench: copy: %s", PQerrorMessage(conn));
            PQclear(result);
            goto out;
        }
        PQclear(result);
        if (PQputCopyData(conn, strbuf_value(&chunks[c]), (int)chunks[c].len) != 1 ||
            PQputCopyEnd(conn, NULL) != 1) {
            fprintf(stderr, "bench: copy data: %s", PQerrorMessage(conn));
            goto out;
        }
        result = PQgetResult(conn);
        bool ok = PQresultStatus(result) == PGRES_COMMAND_OK;
        if (!ok) {
            fprintf(stderr, "bench: copy end: %s", PQerrorMessage(conn));
        }
        PQclear(result);
        while ((result = PQgetResult(conn)) != NULL) {
            PQclear(result);
        }
        if (!ok) {
            goto out;
        }
    }
    out->seconds = (double)(loadgen_now_us() - started) / 1e6;
    out->rows = copies * rows_per_copy;
    out->rows_per_s = (double)out->rows / out->seconds;
    double cpu_after = bench_pg_cpu_seconds(url);
    out->pg_cpu_us_per_row =
        cpu_before >= 0 && cpu_after >= 0 ? (cpu_after - cpu_before) * 1e6 / (double)out->rows : -1;
    rc = 0;
out:
    PQfinish(conn);
    if (chunks != NULL) {
        for (size_t c = 0; c < copies; c++) {
            strbuf_free(&chunks[c]);
        }
    }
    free(chunks);
    rows_free(&rows);
    return rc;
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double nearest_rank(const double *sorted, size_t count, double p)
{
    size_t rank = (size_t)(p * (double)count + 0.999999);
    rank = rank < 1 ? 1 : rank > count ? count : rank;
    return sorted[rank - 1];
}

int bench_commit_latency(const char *url, const char *prefix, size_t count,
                         struct commit_latency *out)
{
    memset(out, 0, sizeof(*out));
    struct rows rows = {0};
    double *samples = calloc(count, sizeof(*samples));
    PGconn *conn = bench_db_connect(url);
    int rc = -1;
    if (samples == NULL || conn == NULL || rows_make(&rows, prefix, 0, count) != 0) {
        goto out;
    }
    static const char sql[] = "INSERT INTO events (source, source_id, type, occurred_at, payload) "
                              "VALUES ($1, $2, $3, $4::timestamptz, $5::jsonb) "
                              "ON CONFLICT ON CONSTRAINT events_idempotency_key DO NOTHING";
    PGresult *prepared = PQprepare(conn, "commit_one", sql, 5, NULL);
    bool prepared_ok = PQresultStatus(prepared) == PGRES_COMMAND_OK;
    PQclear(prepared);
    if (!prepared_ok) {
        fprintf(stderr, "bench: prepare: %s", PQerrorMessage(conn));
        goto out;
    }
    for (size_t i = 0; i < count; i++) {
        const char *params[] = {SOURCE, rows.source_ids[i], event_type, rows.occurred_ats[i],
                                rows.payloads[i]};
        int64_t started = loadgen_now_us();
        PGresult *result = PQexecPrepared(conn, "commit_one", 5, params, NULL, NULL, 0);
        samples[i] = (double)(loadgen_now_us() - started) / 1000.0;
        bool ok = PQresultStatus(result) == PGRES_COMMAND_OK;
        PQclear(result);
        if (!ok) {
            fprintf(stderr, "bench: insert: %s", PQerrorMessage(conn));
            goto out;
        }
    }
    qsort(samples, count, sizeof(*samples), compare_double);
    out->p50_ms = nearest_rank(samples, count, 0.50);
    out->p99_ms = nearest_rank(samples, count, 0.99);
    out->p999_ms = nearest_rank(samples, count, 0.999);
    out->samples = count;
    rc = 0;
out:
    PQfinish(conn);
    free(samples);
    rows_free(&rows);
    return rc;
}
