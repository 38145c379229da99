/*
 * bench.h - the pieces of leadhub-bench (bench/main.c drives them): throwaway databases
 * and the bare-libpq ceilings (bench_db.c), the daemon as a child process (bench_daemon.c),
 * a receiver that answers 2xx at once (bench_receiver.c), and the figures: a readable
 * table plus one JSON object per figure (bench_report.c).
 *
 * Every figure is reported next to a baseline measured in the same run, because the
 * machines it runs on are shared and noisy: the ratio is the number to compare.
 */
#ifndef LEADHUB_BENCH_H
#define LEADHUB_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <libpq-fe.h>

/* --- databases and ceilings (bench_db.c) ---------------------------------------------- */

/* A fresh database in the server at admin_url, migrated to the daemon's schema. Returns
 * its connection string (malloc'd), or NULL with the reason on stderr. */
char *bench_db_create(const char *admin_url, const char *label);

/*
 * bench_db_add_history - `rows` older events ("history-<n>", COPY) and their leads, then
 * VACUUM ANALYZE: tables in the state a running system has (statistics, indexes of some
 * size). On empty tables PostgreSQL caches plans made for no rows for the whole session
 * (a sequential scan for the foreign-key check on leads, for instance), and a ten-second
 * run never sees autovacuum replace them. Returns 0 or -1.
 */
int bench_db_add_history(const char *url, uint64_t rows);

/* Drops a database bench_db_create() made and frees url. */
void bench_db_drop(const char *admin_url, char *url);

/* Connects; NULL with the reason on stderr. */
PGconn *bench_db_connect(const char *url);

/* The first column of the first row as a long long; -1 on failure. */
long long bench_db_scalar(PGconn *conn, const char *sql);

struct ceiling {
    double rows_per_s;
    size_t rows;
    double seconds;
    double pg_cpu_us_per_row; /* server CPU per row (bench_pg_cpu_seconds), or -1 */
};

/*
 * bench_ceiling_insert - the same events loadgen posts (normalized as the daemon stores
 * them) written by a bare libpq loop of `statements` 1,000-row
 * INSERT ... ON CONFLICT DO NOTHING statements, each its own transaction, into `events`.
 * Events are numbered from `first` with id prefix `prefix`. Returns 0 or -1.
 */
int bench_ceiling_insert(const char *url, const char *prefix, uint64_t first, size_t statements,
                         struct ceiling *out);

/* bench_ceiling_copy - the same with COPY ... FROM STDIN, `rows_per_copy` rows per COPY (one
 * transaction each), `copies` times. */
int bench_ceiling_copy(const char *url, const char *prefix, uint64_t first, size_t copies,
                       size_t rows_per_copy, struct ceiling *out);

struct commit_latency {
    double p50_ms;
    double p99_ms;
    double p999_ms;
    size_t samples;
};

/* bench_commit_latency - `count` single-event INSERT ... ON CONFLICT DO NOTHING statements
 * in autocommit from one connection: what one durable acknowledgement costs at least. */
int bench_commit_latency(const char *url, const char *prefix, size_t count,
                         struct commit_latency *out);

/*
 * bench_pg_cpu_seconds - CPU time (user + system) used so far by every process of the
 * PostgreSQL server at admin_url: the postmaster and all its children (backends, WAL
 * writer, checkpointer, autovacuum). Only meaningful for a server on this machine that
 * serves nothing else (bench/run.sh starts one). -1 when it cannot be read.
 */
double bench_pg_cpu_seconds(const char *admin_url);

/* The normalized event n as the daemon stores it (event_validate of loadgen's event).
 * Fills the row's text columns; NEW payload string in *payload (free it). */
int bench_event_row(const char *prefix, uint64_t n, char **source_id, char **occurred_at,
                    char **payload);

/* --- the daemon (bench_daemon.c) ------------------------------------------------------ */

struct bench_daemon {
    char *dir;    /* config dir (leadhub.yaml, conf.d/) and log */
    char *config; /* dir/leadhub.yaml */
    char *log;    /* dir/daemon.log */
    int port;
    pid_t pid;
    double ready_ms; /* exec to first /readyz 200 */
    int exit_status; /* when it exited by itself (bench_daemon_exited) */
};

/* Writes a config for `db_url` with a `webhook` instance `inbound` (secret from the
 * environment) and, when sink_url is set, an `http` instance `out` posting there plus a
 * route inbound -> out. extra_main is appended to the main file (may be NULL). With
 * secret NULL the daemon is bare: no plugins (an empty plugin directory), no instances. */
int bench_daemon_configure(struct bench_daemon *d, const char *build_dir, const char *db_url,
                           const char *secret, const char *sink_url, const char *extra_main);

/* Starts it and waits for /readyz 200 (ready_ms set). Returns 0, or -1 (the log's tail on
 * stderr). */
int bench_daemon_start(struct bench_daemon *d, const char *build_dir);

/* True when the daemon has exited by itself (it is reaped; *status gets its exit status,
 * 128 + signal when killed). */
bool bench_daemon_exited(struct bench_daemon *d, int *status);

/* SIGTERM and wait; returns the exit status (128 + signal when killed). */
int bench_daemon_stop(struct bench_daemon *d);

/* Removes the config dir (keeps it when keep is true) and frees the strings. */
void bench_daemon_cleanup(struct bench_daemon *d, bool keep);

/* VmRSS and VmHWM of a process, kB; -1 when unreadable. */
long bench_rss_kb(pid_t pid);
long bench_hwm_kb(pid_t pid);

/* Field `number` (1-based, as proc(5) numbers them: 4 ppid, 14 utime, 16 cutime, ...) of
 * /proc/<pid>/stat into *out. Returns 0, or -1 when unreadable. */
int bench_proc_stat_field(long pid, int number, long long *out);

/* CPU time (user + system) of a process so far, seconds; -1 when unreadable. */
double bench_process_cpu_seconds(pid_t pid);

/* The value of the first sample line of `metric` (exact name, any labels) in the
 * daemon's /metrics; -1 when absent. */
double bench_daemon_metric(const struct bench_daemon *d, const char *metric);

/* Runs argv to completion; wall time in *ms and the child's ru_maxrss (kB) in *maxrss_kb
 * (which counts this process's memory at the fork: not the command's own peak). Returns
 * its exit status. */
int bench_run_command(char *const argv[], double *ms, long *maxrss_kb);

/* A TCP port on 127.0.0.1 that was free a moment ago. */
int bench_free_port(void);

/* --- the receiver (bench_receiver.c) --------------------------------------------------- */

struct bench_receiver;

/* An HTTP server on 127.0.0.1 answering every request 200 {} as soon as its body is in. */
struct bench_receiver *bench_receiver_start(unsigned threads);
int bench_receiver_port(const struct bench_receiver *r);
/* Requests answered so far, and the monotonic times (µs) of the first and the last. */
uint64_t bench_receiver_count(struct bench_receiver *r, int64_t *first_us, int64_t *last_us);
void bench_receiver_reset(struct bench_receiver *r);
void bench_receiver_stop(struct bench_receiver *r);

/* --- rescoring (bench_rescore.c) ------------------------------------------------------- */

struct bench_report;

/* `leadhubd rescore --all` twice over fresh leads (every score new, then none changed)
 * against bare score writes; reports the figures and the 10,000 leads/s check. Returns 0,
 * or -1 when it could not run. */
int bench_run_rescore(const char *admin_url, const char *build_dir, const char *secret, bool quick,
                      struct bench_report *report);

/* --- reports (bench_reports.c) ---------------------------------------------------------- */

/* The funnel and meetings reports over 100,000 leads and a million events (20,000 and
 * 200,000 with quick) against the 200 ms promise, and what their trigger costs an events
 * insert. Returns 0, or -1 when it could not run. */
int bench_run_reports(const char *admin_url, const char *build_dir, bool quick,
                      struct bench_report *report);

/* --- Microsoft Graph (bench_graph.c) --------------------------------------------------- */

/* The `microsoft` connector's backfill against the fake Graph enforcing Outlook's
 * per-mailbox limits, scaled in time: requests/s served against the rate allowed (floor
 * 0.9), and none refused. Returns 0, or -1 when it could not run. */
int bench_run_graph(const char *admin_url, const char *build_dir, const char *secret, bool quick,
                    struct bench_report *report);

/* --- the Google connector (bench_google.c) --------------------------------------------- */

/* The google plugin's backfill of 20,000 messages (2,000 with quick) from the fake Google
 * enforcing 250 quota units/s: units spent per second as a ratio to the quota (floor 0.9),
 * none refused, peak RSS under 40 MB. Returns 0, or -1 when it could not run. */
int bench_run_google(const char *admin_url, const char *build_dir, const char *secret, bool quick,
                     struct bench_report *report);

/* --- the report (bench_report.c) ------------------------------------------------------- */

struct bench_report;

/* json_path: where the JSON lines go ("-" for stdout after the table, NULL for none). */
struct bench_report *bench_report_open(const char *json_path);

/*
 * bench_figure - one figure: its value and unit, the baseline it is compared with (its
 * name and value, same unit) and the ratio value / baseline. floor_ratio > 0 makes it a
 * requirement: it passes when the ratio is at least floor_ratio. note: free text or NULL.
 */
void bench_figure(struct bench_report *report, const char *name, double value, const char *unit,
                  const char *baseline_name, double baseline, double floor_ratio, const char *note);

/* bench_check - a pass/fail requirement on an absolute value (e.g. p99 < 50 ms). */
void bench_check(struct bench_report *report, const char *name, double value, const char *unit,
                 const char *relation, double limit, bool pass);

/* bench_info - a key/value line about the run (machine, versions), also written as JSON. */
void bench_info(struct bench_report *report, const char *key, const char *value);

/* Prints the table; closes the JSON file. Returns the number of failed floors/checks. */
int bench_report_close(struct bench_report *report);

#endif
