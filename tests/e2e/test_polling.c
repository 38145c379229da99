/*
 * test_polling.c - a polling source (the paging_source fixture plugin, paging through a
 * fake provider) in the real daemon: pages and cursor commit together, a failed poll keeps
 * the cursor, one replica polls and another takes over when it dies, `leadhubd sync`.
 */
#include <check.h>
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon_harness.h"
#include "fake_http.h"
#include "http_client.h"
#include "testdb.h"
#include "testutil.h"
#include "util.h"

static struct fake_http *provider;
static struct test_daemon td;
static PGconn *db;

static const char page_1[] =
    "{\"events\":[{\"type\":\"lead.created\",\"source_id\":\"p1\",\"occurred_at\":"
    "\"2026-11-27T10:00:00Z\",\"lead\":{\"email\":\"p1@example.com\"}},"
    "{\"type\":\"lead.created\",\"source_id\":\"p2\",\"occurred_at\":\"2026-11-27T10:01:00Z\","
    "\"lead\":{\"email\":\"p2@example.com\"}}],\"next\":\"c1\"}";
static const char page_2[] =
    "{\"events\":[{\"type\":\"lead.updated\",\"source_id\":\"p3\",\"occurred_at\":"
    "\"2026-11-27T10:02:00Z\",\"lead\":{\"email\":\"p1@example.com\",\"company\":\"Initech\"}}],"
    "\"next\":null}";
static const char empty_page[] = "{\"events\":[],\"next\":null}";

/* A daemon with a `pager` instance of the paging_source fixture (copied into a plugin
 * directory of its own, since the fixtures' directory also holds broken plugins). */
static void start_pager(struct test_daemon *t, const char *db_url, const char *interval)
{
    td_init(t, db_url);
    char *plugins = tu_path(t->dir, "plugins");
    char *copy = util_printf("mkdir -p '%s' && cp '%s/tests/fixtures/paging_source.so' '%s/'",
                             plugins, tu_build_dir(), plugins);
    ck_assert_int_eq(tu_run(copy, NULL), 0);
    char *url = fake_http_url(provider, "/leads");
    char *pager = util_printf("name: pager\nplugin: paging_source\npoll_interval: %s\n"
                              "settings:\n  url: %s\n",
                              interval, url);
    td_connector(t, "pager", pager);
    t->extra_plugin_dir = plugins;
    free(pager);
    free(url);
    free(copy);
}

static void setup(void)
{
    provider = fake_http_start();
    db = NULL;
}

static void teardown(void)
{
    if (db != NULL) {
        PQfinish(db);
    }
    if (td.pid != 0) {
        ck_assert_int_eq(td_stop(&td), 0);
    }
    td_cleanup(&td);
    fake_http_stop(provider);
}

static bool events_reach(void *arg)
{
    return testdb_scalar(db, "SELECT count(*) FROM events") >= *(long *)arg;
}

static bool polls_reach(void *arg)
{
    return fake_http_request_count(provider) >= *(size_t *)arg;
}

/* connector_status counts a poll once its end is recorded, after its events commit */
static bool recorded_polls_reach(void *arg)
{
    return testdb_scalar(db, "SELECT coalesce(max(polls), 0) FROM connector_status") >=
           *(long *)arg;
}

START_TEST(test_poll_commits_pages_with_their_cursor)
{
    fake_http_push(provider, (struct fake_response){200, page_1, NULL, 0});
    fake_http_push(provider, (struct fake_response){200, page_2, NULL, 0});
    fake_http_push(provider, (struct fake_response){200, empty_page, NULL, 0});
    start_pager(&td, NULL, "1s");
    ck_assert_int_eq(td_start(&td), 0);
    db = testdb_connect(td.db_url);
    long three = 3;
    ck_assert(td_wait_until(events_reach, &three, 20000));
    char *cursor = testdb_text(db, "SELECT value #>> '{}' FROM connector_state WHERE "
                                   "instance = 'pager' AND key = 'cursor'");
    ck_assert_str_eq(cursor, "c1");
    free(cursor);
    /* the next poll starts from the saved cursor */
    size_t four = 4;
    ck_assert(td_wait_until(polls_reach, &four, 20000));
    struct fake_request first = fake_http_request(provider, 0);
    struct fake_request second = fake_http_request(provider, 1);
    struct fake_request third = fake_http_request(provider, 3);
    ck_assert_str_eq(first.url, "/leads?after=0");
    ck_assert_str_eq(second.url, "/leads?after=c1");
    ck_assert_str_eq(third.url, "/leads?after=c1");
    fake_http_request_free(&first);
    fake_http_request_free(&second);
    fake_http_request_free(&third);
    char *url = td_url(&td, "/readyz");
    struct http_result ready;
    http_get(url, &ready);
    ck_assert_msg(strstr(ready.body, "\"polls\":{\"pager\":{\"outcome\":\"ok\",\"error\":null}}") !=
                      NULL,
                  "%s", ready.body);
    http_result_free(&ready);
    free(url);
    /* the poll-lag gauge alerts read: a recent Unix time */
    url = td_url(&td, "/metrics");
    struct http_result metrics;
    http_get(url, &metrics);
    const char *gauge = strstr(metrics.body, "leadhub_poll_last_success_timestamp_seconds{"
                                             "instance=\"pager\"} ");
    ck_assert_msg(gauge != NULL, "%s", metrics.body);
    double at = strtod(strchr(gauge, '}') + 2, NULL);
    ck_assert_msg(at > (double)time(NULL) - 60 && at <= (double)time(NULL) + 1, "%f", at);
    http_result_free(&metrics);
    free(url);
    char *status = testdb_text(db, "SELECT last_poll_outcome || ' ' || owner FROM "
                                   "connector_status WHERE instance = 'pager'");
    char replica[32];
    snprintf(replica, sizeof(replica), ":%d", (int)td.pid);
    ck_assert_msg(strncmp(status, "ok ", 3) == 0 && strstr(status, replica) != NULL, "%s", status);
    free(status);
    /* the lead was created by the first page and updated by the second */
    char *company = testdb_text(db, "SELECT company FROM leads WHERE email = 'p1@example.com'");
    ck_assert_str_eq(company, "Initech");
    free(company);
}
END_TEST

START_TEST(test_failed_poll_stores_nothing_and_keeps_the_cursor)
{
    fake_http_route(provider, "/leads?after=0", (struct fake_response){200, page_1, NULL, 0}, 0);
    /* page 2 fails three times in a row (one poll, its HTTP retries included); then works */
    fake_http_route(provider, "/leads?after=c1", (struct fake_response){500, "{}", NULL, 0}, 3);
    fake_http_route(provider, "/leads?after=c1", (struct fake_response){200, page_2, NULL, 0}, 0);
    start_pager(&td, NULL, "1s");
    ck_assert_int_eq(td_start(&td), 0);
    db = testdb_connect(td.db_url);
    long three = 3;
    ck_assert(td_wait_until(events_reach, &three, 30000));
    /* the failed poll committed nothing, its cursor included: page 1 was fetched again */
    ck_assert_int_eq(testdb_scalar(db, "SELECT count(*) FROM events"), 3);
    size_t page_1_fetches = 0;
    for (size_t i = 0; i < fake_http_request_count(provider); i++) {
        struct fake_request req = fake_http_request(provider, i);
        page_1_fetches += strcmp(req.url, "/leads?after=0") == 0;
        fake_http_request_free(&req);
    }
    ck_assert_uint_ge(page_1_fetches, 2);
    long two = 2;
    ck_assert(td_wait_until(recorded_polls_reach, &two, 30000));
    char *metrics_url = td_url(&td, "/metrics");
    struct http_result r;
    http_get(metrics_url, &r);
    ck_assert_ptr_nonnull(
        strstr(r.body, "leadhub_polls_total{instance=\"pager\",outcome=\"retry\"}"));
    http_result_free(&r);
    free(metrics_url);
}
END_TEST

struct owner_wait {
    char *not_owner;
};

static bool owner_changed(void *arg)
{
    struct owner_wait *w = arg;
    char *owner = testdb_text(db, "SELECT coalesce(owner, '') FROM connector_status WHERE "
                                  "instance = 'pager' AND last_poll_started_at > now() - "
                                  "interval '3 seconds'");
    bool changed = owner != NULL && owner[0] != '\0' && strcmp(owner, w->not_owner) != 0;
    free(owner);
    return changed;
}

static bool has_status(void *arg)
{
    (void)arg;
    return testdb_scalar(db, "SELECT count(*) FROM connector_status") > 0;
}

/* The polls a daemon made of `pager`, by its own leadhub_polls_total (every outcome). */
static double polls_by(const struct test_daemon *t)
{
    static const char series[] = "leadhub_polls_total{instance=\"pager\",";
    char *url = td_url(t, "/metrics");
    struct http_result m;
    http_get(url, &m);
    ck_assert_int_eq(m.status, 200);
    double total = 0;
    for (const char *line = m.body; line != NULL && *line != '\0';) {
        if (strncmp(line, series, strlen(series)) == 0) {
            const char *value = strchr(line, ' ');
            total += value != NULL ? strtod(value + 1, NULL) : 0;
        }
        line = strchr(line, '\n');
        line = line != NULL ? line + 1 : NULL;
    }
    http_result_free(&m);
    free(url);
    return total;
}

static bool has_polled(void *arg)
{
    return polls_by(arg) > 0;
}

/*
 * What the design guarantees: the replica whose session holds the instance's advisory
 * lock is the only one that polls it, for as long as that session lives; the others try
 * to take the lock once per poll_interval. So over any stretch of time the non-owner's
 * poll counter stays 0, whatever the timing, and that is what is asserted. When the owner
 * dies, PostgreSQL ends its session (at once for a killed process on this host: the
 * socket closes), the lock goes with it, and another replica takes it at its next try:
 * within about one interval (1 s here). The 10 s allowed for the takeover is for a loaded
 * machine, not part of the guarantee.
 */
START_TEST(test_one_replica_polls_and_another_takes_over_when_it_dies)
{
    fake_http_push(provider, (struct fake_response){200, empty_page, NULL, 0});
    start_pager(&td, NULL, "1s");
    ck_assert_int_eq(td_start(&td), 0);
    db = testdb_connect(td.db_url);
    struct test_daemon second;
    start_pager(&second, td.db_url, "1s");
    ck_assert_int_eq(td_start(&second), 0);
    ck_assert(td_wait_until(has_status, NULL, 10000));

    /* several intervals in which both replicas could poll: one does, the other never */
    size_t polls = fake_http_request_count(provider) + 3;
    ck_assert(td_wait_until(polls_reach, &polls, 20000));
    double first_polls = polls_by(&td), second_polls = polls_by(&second);
    ck_assert_msg((first_polls >= 3 && second_polls == 0) ||
                      (second_polls >= 3 && first_polls == 0),
                  "polls: %g by the first replica, %g by the second", first_polls, second_polls);
    bool first_owns = first_polls > 0;

    char *owner = testdb_text(db, "SELECT owner FROM connector_status");
    char first_pid[16], second_pid[16];
    snprintf(first_pid, sizeof(first_pid), ":%d", (int)td.pid);
    snprintf(second_pid, sizeof(second_pid), ":%d", (int)second.pid);
    ck_assert_msg(strstr(owner, first_owns ? first_pid : second_pid) != NULL, "owner %s", owner);
    struct test_daemon *victim = first_owns ? &td : &second;
    struct test_daemon *survivor = first_owns ? &second : &td;
    struct owner_wait w = {owner};
    td_kill(victim);
    ck_assert_msg(td_wait_until(owner_changed, &w, 10000), "no replica took over from %s", owner);
    free(owner);
    ck_assert(td_wait_until(has_polled, survivor, 10000));
    if (victim == &second) {
        td_cleanup(&second);
    } else {
        ck_assert_int_eq(td_stop(&second), 0);
        td_cleanup(&second);
    }
}
END_TEST

START_TEST(test_sync_asks_the_owning_replica_or_polls_here)
{
    fake_http_push(provider, (struct fake_response){200, page_1, NULL, 0});
    fake_http_push(provider, (struct fake_response){200, page_2, NULL, 0});
    fake_http_push(provider, (struct fake_response){200, empty_page, NULL, 0});
    start_pager(&td, NULL, "1h");
    ck_assert_int_eq(td_start(&td), 0);
    db = testdb_connect(td.db_url);
    long three = 3;
    ck_assert(td_wait_until(events_reach, &three, 20000)); /* the poll at start */
    size_t polls = fake_http_request_count(provider);

    char *config = tu_path(td.dir, "leadhub.yaml");
    char *command = util_printf("'%s' sync pager -c '%s' --timeout 20s", td_binary(), config);
    char *out = NULL;
    ck_assert_int_eq(tu_run(command, &out), 0);
    ck_assert_msg(strstr(out, "asked it to poll now") && strstr(out, "ok, 0 new event(s)"), "%s",
                  out);
    free(out);
    ck_assert_uint_eq(fake_http_request_count(provider), polls + 1);

    /* with no daemon, the poll runs in the command itself */
    ck_assert_int_eq(td_stop(&td), 0);
    ck_assert_int_eq(tu_run(command, &out), 0);
    ck_assert_msg(strstr(out, "polled here: ok") != NULL, "%s", out);
    free(out);
    ck_assert_uint_eq(fake_http_request_count(provider), polls + 2);

    /* a name no instance has, one that does not poll, one disabled: each said plainly,
     * with the instances that do poll */
    td_webhook_instance(&td, "hooks", "s3cret-s3cret-s3cret");
    td_connector(&td, "resting",
                 "name: resting\nplugin: paging_source\nenabled: false\n"
                 "settings:\n  url: http://127.0.0.1:1/\n");
    const struct {
        const char *name;
        const char *expected;
    } cases[] = {
        {"nobody", "no instance named \"nobody\" in "},
        {"hooks", "instance \"hooks\" exists but does not poll: its plugin webhook takes "
                  "events by webhook only (POST /webhooks/hooks)"},
        {"resting", "instance \"resting\" is disabled (enabled: false in "},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *bad = util_printf("'%s' sync %s -c '%s'", td_binary(), cases[i].name, config);
        ck_assert_int_eq(tu_run(bad, &out), 1);
        ck_assert_msg(strstr(out, cases[i].expected) != NULL, "%s", out);
        ck_assert_msg(strstr(out, "instances that poll: pager\n") != NULL, "%s", out);
        free(out);
        free(bad);
    }
    free(command);
    free(config);
}
END_TEST

/* A daemon whose `pager` instance is the flaky_init fixture (a source that GETs
 * <url>/poll); `refuse` makes its init() fail with LH_CONFIG. */
static void start_flaky_pager(struct test_daemon *t, const char *db_url, bool refuse)
{
    td_init(t, db_url);
    char *plugins = tu_path(t->dir, "plugins");
    char *copy = util_printf("mkdir -p '%s' && cp '%s/tests/fixtures/flaky_init.so' '%s/'", plugins,
                             tu_build_dir(), plugins);
    ck_assert_int_eq(tu_run(copy, NULL), 0);
    char *url = fake_http_url(provider, "");
    char *pager = util_printf("name: pager\nplugin: flaky_init\npoll_interval: 1s\n"
                              "settings:\n  url: %s\n  refuse: %s\n",
                              url, refuse ? "true" : "false");
    td_connector(t, "pager", pager);
    t->extra_plugin_dir = plugins;
    free(pager);
    free(url);
    free(copy);
}

static bool log_says(void *arg)
{
    char *log = td_log(&td);
    bool found = strstr(log, (const char *)arg) != NULL;
    free(log);
    return found;
}

/* A replica whose instance failed to initialize cannot poll it, so it must not hold the
 * instance's poll lock either: the replica that can takes it. */
START_TEST(test_a_replica_whose_init_failed_leaves_the_polls_to_another)
{
    fake_http_push(provider, (struct fake_response){200, "{}", NULL, 0});
    start_flaky_pager(&td, NULL, true);
    td_spawn(&td);
    ck_assert(td_wait_until(log_says, "init failed (config)", 20000));
    struct timespec settle = {1, 0}; /* its poll thread is up and has looked at the lock */
    nanosleep(&settle, NULL);
    struct test_daemon second;
    start_flaky_pager(&second, td.db_url, false);
    ck_assert_int_eq(td_start(&second), 0);
    size_t two = 2;
    ck_assert_msg(td_wait_until(polls_reach, &two, 20000), "%zu polls",
                  fake_http_request_count(provider));
    db = testdb_connect(td.db_url);
    char *owner = testdb_text(db, "SELECT owner FROM connector_status WHERE instance = 'pager'");
    char second_pid[16];
    snprintf(second_pid, sizeof(second_pid), ":%d", (int)second.pid);
    ck_assert_msg(owner != NULL && strstr(owner, second_pid) != NULL, "owner %s", owner);
    free(owner);
    ck_assert_int_eq(td_stop(&second), 0);
    td_cleanup(&second);
}
END_TEST

/* The backend of the session holding the pager's poll lease, or 0. */
static long lease_session(void)
{
    char *sql = util_printf("SELECT coalesce((SELECT l.pid FROM pg_locks l JOIN poll_leases p "
                            "ON l.objid = p.lock_id::oid WHERE p.instance = 'pager' AND "
                            "l.locktype = 'advisory' AND l.classid = %d AND l.objsubid = 2 AND "
                            "l.granted AND l.database = (SELECT oid FROM pg_database WHERE "
                            "datname = current_database())), 0)",
                            0x4c50);
    long pid = testdb_scalar(db, sql);
    free(sql);
    return pid;
}

static bool lease_held(void *arg)
{
    (void)arg;
    return lease_session() != 0;
}

static bool fenced_by(void *arg)
{
    char *url = td_url(arg, "/metrics");
    struct http_result m;
    http_get(url, &m);
    bool fenced =
        m.body != NULL &&
        strstr(m.body, "leadhub_polls_total{instance=\"pager\",outcome=\"fenced\"} 1") != NULL;
    http_result_free(&m);
    free(url);
    return fenced;
}

/*
 * The owner's poll session (and with it the advisory lock) dies while the owner lives and
 * is in the middle of a poll: another replica takes over within an interval and polls the
 * same page. Both fetch it; only one may commit it. A trigger records every cursor the
 * database takes: each cursor is committed once, by the new owner; the old one's commit
 * is refused (its fence is outdated), and every event is stored once.
 */
START_TEST(test_a_poll_whose_lock_session_died_commits_nothing)
{
    static const char slow_page[] =
        "{\"events\":[{\"type\":\"lead.created\",\"source_id\":\"f1\",\"occurred_at\":"
        "\"2026-11-27T10:00:00Z\",\"lead\":{\"email\":\"f1@example.com\"}},"
        "{\"type\":\"lead.created\",\"source_id\":\"f2\",\"occurred_at\":\"2026-11-27T10:01:00Z\","
        "\"lead\":{\"email\":\"f2@example.com\"}}],\"next\":\"c1\"}";
    fake_http_route(provider, "/leads?after=0", (struct fake_response){200, slow_page, NULL, 3000},
                    0);
    fake_http_route(provider, "/leads?after=c1", (struct fake_response){200, empty_page, NULL, 0},
                    0);
    start_pager(&td, NULL, "1s");
    ck_assert_int_eq(td_start(&td), 0);
    db = testdb_connect(td.db_url);
    PQclear(PQexec(db, "CREATE TABLE cursor_audit (value jsonb, at timestamptz DEFAULT "
                       "clock_timestamp());"
                       "CREATE FUNCTION audit_cursor() RETURNS trigger LANGUAGE plpgsql AS $$"
                       "BEGIN INSERT INTO cursor_audit (value) VALUES (NEW.value); RETURN NEW; "
                       "END$$;"
                       "CREATE TRIGGER audit AFTER INSERT OR UPDATE ON connector_state "
                       "FOR EACH ROW EXECUTE FUNCTION audit_cursor();"));
    ck_assert_int_eq(testdb_scalar(db, "SELECT count(*) FROM pg_trigger WHERE tgname = 'audit'"),
                     1);
    /* the first replica owns the lease and is in the middle of its first poll */
    ck_assert(td_wait_until(lease_held, NULL, 10000));
    size_t one = 1;
    ck_assert(td_wait_until(polls_reach, &one, 10000));
    struct test_daemon second;
    start_pager(&second, td.db_url, "1s");
    ck_assert_int_eq(td_start(&second), 0);

    long victim = lease_session();
    ck_assert_int_gt(victim, 0);
    char *kill = util_printf("SELECT pg_terminate_backend(%ld)", victim);
    PQclear(PQexec(db, kill));
    free(kill);

    /* the second takes over and fetches the same page; the first's commit is refused */
    ck_assert_msg(td_wait_until(fenced_by, &td, 20000), "the first replica's commit was not "
                                                        "refused");
    long two = 2;
    ck_assert(td_wait_until(events_reach, &two, 20000));
    ck_assert(td_wait_until(has_polled, &second, 10000));
    ck_assert_int_eq(testdb_scalar(db, "SELECT count(*) FROM events"), 2);
    ck_assert_int_eq(testdb_scalar(db, "SELECT count(*) FROM cursor_audit WHERE value = '\"c1\"'"),
                     1);
    ck_assert_int_eq(testdb_scalar(db, "SELECT count(*) FROM cursor_audit"), 1);
    ck_assert_int_eq(testdb_scalar(db, "SELECT fence FROM poll_leases WHERE instance = 'pager'"),
                     2);
    char *log = td_log(&td);
    ck_assert_ptr_nonnull(strstr(log, "lost the poll lease to another replica"));
    free(log);
    ck_assert_int_eq(td_stop(&second), 0);
    td_cleanup(&second);
}
END_TEST

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    Suite *s = suite_create("polling");
    TCase *tc = tcase_create("polling");
    tcase_set_timeout(tc, 300);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_poll_commits_pages_with_their_cursor);
    tcase_add_test(tc, test_failed_poll_stores_nothing_and_keeps_the_cursor);
    tcase_add_test(tc, test_one_replica_polls_and_another_takes_over_when_it_dies);
    tcase_add_test(tc, test_sync_asks_the_owning_replica_or_polls_here);
    tcase_add_test(tc, test_a_replica_whose_init_failed_leaves_the_polls_to_another);
    tcase_add_test(tc, test_a_poll_whose_lock_session_died_commits_nothing);
    suite_add_tcase(s, tc);
    int rc = tu_run_suite(s);
    curl_global_cleanup();
    return rc;
}
