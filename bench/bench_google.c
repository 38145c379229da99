/*
 * bench_google.c - the Google connector's backfill against the fake Google
 * (tests/lib/fake_google.h), which enforces a per-user quota of 250 units/s and refuses
 * (403 userRateLimitExceeded) beyond it: 20,000 messages (2,000 with --quick) read by the
 * real daemon. Figures: the quota units spent per second as a ratio to the quota (floor
 * 0.9: the connector paces itself close under it), no request refused, the daemon's peak
 * RSS under 40 MB.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "bench.h"
#include "fake_google.h"
#include "util.h"

#define MAILBOX       "maya.chen@leadhub-demo.com"
#define REFRESH_TOKEN "1//bench-refresh-token"
#define QUOTA_UNITS_S 250.0
#define RSS_LIMIT_KB  (40 * 1024)

static int write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        return -1;
    }
    int rc = fputs(text, f) >= 0 ? 0 : -1;
    return fclose(f) == 0 ? rc : -1;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int bench_run_google(const char *admin_url, const char *build_dir, const char *secret, bool quick,
                     struct bench_report *report)
{
    size_t messages = quick ? 2000 : 20000;
    struct fake_google *fake = fake_google_start(MAILBOX, REFRESH_TOKEN);
    char *db_url = bench_db_create(admin_url, "google");
    struct bench_daemon d = {0};
    PGconn *conn = NULL;
    int rc = -1;
    if (fake == NULL || db_url == NULL) {
        goto out;
    }
    long long now_ms = (long long)time(NULL) * 1000;
    for (size_t i = 0; i < messages; i++) {
        char id[32], headers[256];
        snprintf(id, sizeof(id), "b%06zu", i);
        snprintf(headers, sizeof(headers),
                 "From: Prospect %zu <p%zu@prospect-%zu.example>\nTo: " MAILBOX
                 "\nSubject: Question %zu\nMessage-ID: <%s@prospect.example>",
                 i, i, i % 500, i, id);
        /* spread over the last 20 days, inside the 30-day backfill */
        fake_google_add_message(fake, id, id, "INBOX", now_ms - 60000 - (long long)i * 86000,
                                headers);
    }
    fake_google_quota(fake, QUOTA_UNITS_S, true);
    setenv("LEADHUB_BENCH_SECRET", secret, 1);
    setenv("LEADHUB_BENCH_GOOGLE_RT", REFRESH_TOKEN, 1);
    setenv("LEADHUB_BENCH_GOOGLE_CS", "bench-google-client-secret", 1);
    if (bench_daemon_configure(&d, build_dir, db_url, secret, NULL, NULL) != 0) {
        goto out;
    }
    char *base = fake_google_url(fake, "");
    char *token = fake_google_url(fake, "/token");
    /* the budget a little under the quota Google (the fake) enforces: 14,250/min */
    char *yaml =
        util_printf("name: maya\nplugin: google\npoll_interval: 1h\nsettings:\n"
                    "  mailbox: " MAILBOX "\n  client_id: bench.apps.googleusercontent.com\n"
                    "  client_secret: ${LEADHUB_BENCH_GOOGLE_CS}\n"
                    "  refresh_token: ${LEADHUB_BENCH_GOOGLE_RT}\n  calendar: false\n"
                    "  quota_per_minute: 14250\n  token_url: %s\n  gmail_api_base: %s\n",
                    token, base);
    char *path = util_printf("%s/conf.d/maya.yaml", d.dir);
    int written = write_text(path, yaml);
    free(path);
    free(yaml);
    free(token);
    free(base);
    if (written != 0 || bench_daemon_start(&d, build_dir) != 0) {
        goto out;
    }
    double started = now_s();
    double spent_at_start = fake_google_units_spent(fake);
    conn = bench_db_connect(db_url);
    long long stored = 0;
    double deadline = started + (double)messages * 5 / QUOTA_UNITS_S * 3 + 60;
    while (conn != NULL && now_s() < deadline) {
        stored = bench_db_scalar(conn, "SELECT count(*) FROM events WHERE source = 'maya'");
        if (stored >= (long long)messages) {
            break;
        }
        struct timespec pause = {0, 200 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    double elapsed = now_s() - started;
    double spent = fake_google_units_spent(fake) - spent_at_start;
    long hwm = bench_hwm_kb(d.pid);
    size_t refused = fake_google_quota_refusals(fake);
    char note[160];
    snprintf(note, sizeof(note), "%lld of %zu messages in %.1f s, %.0f units; shared machine",
             stored, messages, elapsed, spent);
    bench_figure(report, "google.backfill.quota_used", spent / elapsed, "units/s", "google.quota",
                 QUOTA_UNITS_S, 0.9, note);
    bench_check(report, "google.backfill.stored", (double)stored, "messages",
                ">=", (double)messages, stored >= (long long)messages);
    bench_check(report, "google.backfill.refused", (double)refused, "requests", "==", 0,
                refused == 0);
    bench_check(report, "google.backfill.rss_peak", (double)hwm / 1024.0, "MB", "<",
                RSS_LIMIT_KB / 1024.0, hwm > 0 && hwm < RSS_LIMIT_KB);
    rc = 0;
out:
    if (conn != NULL) {
        PQfinish(conn);
    }
    if (d.pid != 0) {
        bench_daemon_stop(&d);
    }
    if (d.dir != NULL) {
        bench_daemon_cleanup(&d, rc != 0);
    }
    if (db_url != NULL) {
        bench_db_drop(admin_url, db_url);
    }
    fake_google_stop(fake);
    return rc;
}
