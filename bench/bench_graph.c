/*
 * bench_graph.c - the Microsoft Graph backfill figure: the real daemon with a `microsoft`
 * instance reading a mailbox with thousands of messages from the fake Graph
 * (tests/lib/fake_msgraph.c), which enforces Outlook's per-mailbox limits scaled down in
 * time (the same shape, 10,000 requests per 10 minutes becomes BUDGET per WINDOW_MS, and 4
 * concurrent requests). The figure is the rate of requests the fake served over whole
 * windows, against the rate it allows: the plugin paces itself to 95% of the budget, so the
 * floor is 0.9; and no request may be refused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "bench.h"
#include "fake_msgraph.h"
#include "util.h"

#define TENANT        "bench.onmicrosoft.com"
#define CLIENT_ID     "bench-client"
#define CLIENT_SECRET "bench-graph-client-secret"
#define MAILBOX       "backfill@bench.example"
#define BUDGET        200
#define WINDOW_MS     10000
#define PAGE_SIZE     10
#define FLOOR         0.9

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int write_instance(const struct bench_daemon *d, const struct fake_msgraph *graph)
{
    char *login = fake_msgraph_url(graph, "");
    char *api = fake_msgraph_url(graph, "/v1.0");
    char *path = util_printf("%s/conf.d/graph.yaml", d->dir);
    FILE *f = fopen(path, "w");
    int rc = -1;
    if (f != NULL) {
        fprintf(f,
                "name: graph\nplugin: microsoft\npoll_interval: 1s\nsettings:\n"
                "  tenant: " TENANT "\n  client_id: " CLIENT_ID "\n"
                "  client_secret: ${LEADHUB_BENCH_GRAPH_SECRET}\n  auth: app\n"
                "  mailboxes: [" MAILBOX "]\n  calendar: false\n  backfill: 30d\n"
                "  login_base: %s\n  graph_api_base: %s\n  page_size: %d\n"
                "  request_budget: %d\n  request_budget_window: %dms\n",
                login, api, PAGE_SIZE, BUDGET, WINDOW_MS);
        rc = fclose(f) == 0 ? 0 : -1;
    }
    free(path);
    free(api);
    free(login);
    return rc;
}

int bench_run_graph(const char *admin_url, const char *build_dir, const char *secret, bool quick,
                    struct bench_report *report)
{
    int windows = quick ? 2 : 3;
    /* more mail than the run can read: the budget, not the backlog, must end each window */
    int messages = (windows + 1) * BUDGET * PAGE_SIZE;
    setenv("LEADHUB_BENCH_GRAPH_SECRET", CLIENT_SECRET, 1);
    struct fake_msgraph *graph = fake_msgraph_start(TENANT, CLIENT_ID, CLIENT_SECRET);
    fake_msgraph_add_mailbox(graph, MAILBOX);
    fake_msgraph_limits(graph, BUDGET, WINDOW_MS, 4);
    time_t now = time(NULL) - 3600;
    struct tm tm;
    gmtime_r(&now, &tm);
    char received[32];
    strftime(received, sizeof(received), "%Y-%m-%dT%H:%M:%SZ", &tm);
    for (int i = 0; i < messages; i++) {
        char *json = util_printf(
            "{\"internetMessageId\":\"<b%d@bench.example>\",\"conversationId\":\"c%d\","
            "\"subject\":\"Pricing\",\"isDraft\":false,\"receivedDateTime\":\"%s\","
            "\"from\":{\"emailAddress\":{\"name\":\"Prospect %d\",\"address\":"
            "\"p%d@prospects.example\"}},\"toRecipients\":[{\"emailAddress\":{\"address\":"
            "\"" MAILBOX "\"}}],\"internetMessageHeaders\":[]}",
            i, i, received, i, i);
        free(fake_msgraph_add_message(graph, MAILBOX, "inbox", json));
        free(json);
    }
    char *db = bench_db_create(admin_url, "graph");
    struct bench_daemon d;
    int rc = -1;
    if (db == NULL || bench_daemon_configure(&d, build_dir, db, secret, NULL, NULL) != 0) {
        goto out;
    }
    if (write_instance(&d, graph) != 0 || bench_daemon_start(&d, build_dir) != 0) {
        bench_daemon_cleanup(&d, false);
        goto out;
    }
    /* the windows start with the first request the fake serves */
    int64_t deadline = util_monotonic_ms() + 60000;
    while (fake_msgraph_served(graph, MAILBOX) == 0 && util_monotonic_ms() < deadline) {
        sleep_ms(5);
    }
    int64_t started = util_monotonic_ms();
    sleep_ms((long)windows * WINDOW_MS - 1);
    size_t served = fake_msgraph_served(graph, MAILBOX);
    int64_t elapsed = util_monotonic_ms() - started;
    size_t refused = fake_msgraph_refused(graph);
    int peak = fake_msgraph_peak_concurrency(graph);
    bench_daemon_stop(&d);
    bench_daemon_cleanup(&d, false);

    double allowed = (double)BUDGET * 1000.0 / WINDOW_MS;
    double rate = (double)served * 1000.0 / (double)(elapsed > 0 ? elapsed : 1);
    char note[160];
    snprintf(note, sizeof(note),
             "%zu requests over %d windows of %d s; Outlook's 10,000/10 min scaled to %d/%d s",
             served, windows, WINDOW_MS / 1000, BUDGET, WINDOW_MS / 1000);
    bench_figure(report, "graph backfill, requests per second per mailbox", rate, "req/s",
                 "the rate the fake allows", allowed, FLOOR, note);
    bench_check(report, "graph requests refused (429)", (double)refused, "", "==", 0, refused == 0);
    bench_check(report, "graph concurrent requests per mailbox", (double)peak, "", "<=", 4,
                peak <= 4);
    rc = 0;
out:
    if (db != NULL) {
        bench_db_drop(admin_url, db);
    }
    fake_msgraph_stop(graph);
    return rc;
}
