/*
 * test_rolling_update.c - a rolling update and a rollback that never take the service
 * down (expand-then-contract, core/schema_policy.h).
 *
 * "This release" is build/leadhubd; "the next release" is build/tests/leadhubd-next, the
 * same code carrying two more migrations (tests/fixtures/migrations/): 9001 expands (every
 * release runs on it), 9002 contracts (only the next release runs on it). While this
 * release serves webhooks under load, the next one's `migrate` applies 9001 and holds 9002
 * back; this release stays ready and loses nothing; the next release starts beside it; a
 * rollback to this release starts on the newer schema; the contraction goes in only with
 * --force, after which this release says it must be upgraded.
 */
#include <check.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon_harness.h"
#include "http_client.h"
#include "schema_policy.h"
#include "testdb.h"
#include "testutil.h"
#include "util.h"

#define SECRET "rolling-secret-7e3a"

static struct test_daemon current, next;

static void setup(void)
{
    memset(&current, 0, sizeof(current));
    memset(&next, 0, sizeof(next));
}

static void teardown(void)
{
    td_cleanup(&next);
    td_cleanup(&current);
}

/* Posts distinct events to one daemon and checks its /readyz between posts, until told
 * to stop; every answer is counted. */
struct load {
    struct test_daemon *daemon;
    const char *prefix;
    atomic_bool stop;
    pthread_t thread;
    long acknowledged; /* 200s: each a distinct source_id */
    long failed_posts; /* anything else */
    long unready;      /* /readyz answers other than 200 */
    long readyz_checks;
};

static void *load_run(void *arg)
{
    struct load *load = arg;
    char *readyz = td_url(load->daemon, "/readyz");
    for (long i = 0; !atomic_load(&load->stop); i++) {
        char event[256];
        snprintf(event, sizeof(event),
                 "{\"type\":\"lead.created\",\"source_id\":\"%s-%ld\",\"occurred_at\":"
                 "\"2026-11-27T10:00:00Z\",\"lead\":{\"email\":\"%s%ld@example.com\"}}",
                 load->prefix, i, load->prefix, i % 50);
        if (td_post(load->daemon, "inbound", SECRET, event, NULL) == 200) {
            load->acknowledged++;
        } else {
            load->failed_posts++;
        }
        struct http_result r;
        http_get(readyz, &r);
        load->unready += r.status != 200;
        load->readyz_checks++;
        http_result_free(&r);
    }
    free(readyz);
    return NULL;
}

static void load_start(struct load *load, struct test_daemon *daemon, const char *prefix)
{
    memset(load, 0, sizeof(*load));
    load->daemon = daemon;
    load->prefix = prefix;
    atomic_init(&load->stop, false);
    ck_assert_int_eq(pthread_create(&load->thread, NULL, load_run, load), 0);
}

static void load_stop(struct load *load)
{
    atomic_store(&load->stop, true);
    pthread_join(load->thread, NULL);
}

/* `leadhubd migrate` of `binary` on the shared database; its output in *out. */
static int migrate(const char *binary, const char *args, char **out)
{
    char *command = util_printf("'%s' migrate -d '%s' %s", binary, current.db_url, args);
    int rc = tu_run(command, out);
    free(command);
    return rc;
}

static void configure(struct test_daemon *t, const char *db_url, const char *binary)
{
    td_init(t, db_url);
    td_webhook_instance(t, "inbound", SECRET);
    if (binary != NULL) {
        t->binary = strdup(binary);
    }
}

static void start(struct test_daemon *t)
{
    int rc = td_start(t);
    if (rc != 0) {
        char *log = td_log(t);
        ck_abort_msg("daemon not ready (%d); its log:\n%s", rc, log);
    }
}

static char *readyz(struct test_daemon *t, long *status_out)
{
    char *url = td_url(t, "/readyz");
    struct http_result r;
    http_get(url, &r);
    free(url);
    *status_out = r.status;
    char *body = r.body;
    r.body = NULL;
    http_result_free(&r);
    return body;
}

static bool current_unready(void *arg)
{
    (void)arg;
    long status = 0;
    free(readyz(&current, &status));
    return status == 503;
}

/* /readyz of `current` answers 200 with `needle` in its detail. The checker reads the
 * schema once a second (READINESS_PROBE_MS), so a migration shows there within a probe,
 * not at once. */
static bool current_ready_saying(void *needle)
{
    long status = 0;
    char *body = readyz(&current, &status);
    bool found = status == 200 && body != NULL && strstr(body, needle) != NULL;
    free(body);
    return found;
}

static void assert_contains(const char *text, const char *needle)
{
    ck_assert_msg(text != NULL && strstr(text, needle) != NULL, "\"%s\" not in:\n%s", needle,
                  text != NULL ? text : "(null)");
}

START_TEST(test_rolling_update_and_rollback_keep_the_service_ready_and_lose_nothing)
{
    configure(&current, NULL, NULL);
    start(&current);
    PGconn *db = testdb_connect(current.db_url);

    /* 1. the next release migrates while this one serves under load */
    struct load load;
    load_start(&load, &current, "before");
    /* some traffic on each side of the migration */
    struct timespec pause = {0, 300 * 1000000L};
    nanosleep(&pause, NULL);
    char *out = NULL;
    ck_assert_int_eq(migrate(td_next_binary(), "", &out), 0);
    assert_contains(out, "applied 1 migration(s); schema version 9001");
    assert_contains(out, "9002_rollout_contract is held back");
    /* names the replica it waits for, by this release's schema generation */
    char *generation = util_printf("schema=%d", schema_policy_latest(schema_policy_current()));
    assert_contains(out, generation);
    free(generation);
    assert_contains(out, "--force");
    free(out);
    ck_assert_int_eq(testdb_scalar(db, "SELECT max(version) FROM schema_migrations"), 9001);
    nanosleep(&pause, NULL);

    /* 2. the next release starts beside it, on the same database */
    configure(&next, current.db_url, td_next_binary());
    start(&next);
    ck_assert_int_eq(td_post(&next, "inbound", SECRET,
                             "{\"type\":\"lead.created\",\"source_id\":\"next-1\",\"occurred_at\":"
                             "\"2026-11-27T10:00:00Z\",\"lead\":{\"email\":\"n@example.com\"}}",
                             NULL),
                     200);
    nanosleep(&pause, NULL);
    load_stop(&load);

    /* this release never left the Service, and every acknowledged event is stored once */
    ck_assert_msg(load.acknowledged > 10, "only %ld events acknowledged", load.acknowledged);
    ck_assert_int_eq(load.failed_posts, 0);
    ck_assert_int_eq(load.unready, 0);
    ck_assert_int_eq(testdb_scalar(db, "SELECT count(*) FROM events WHERE source_id LIKE "
                                       "'before-%'"),
                     load.acknowledged);
    ck_assert_int_eq(testdb_scalar(db, "SELECT count(DISTINCT source_id) FROM events WHERE "
                                       "source_id LIKE 'before-%'"),
                     load.acknowledged);
    char *compatible = util_printf("schema 9001, newer than this leadhubd's %d, declares "
                                   "release 1 and later compatible",
                                   schema_policy_latest(schema_policy_current()));
    long status = 0;
    char *body = NULL;
    if (!td_wait_until(current_ready_saying, compatible, 10000)) {
        body = readyz(&current, &status);
        ck_abort_msg("/readyz never said \"%s\" while ready; last (%ld):\n%s", compatible, status,
                     body != NULL ? body : "(null)");
    }
    free(compatible);

    /* 3. a rollback: this release restarts on the newer schema and serves */
    ck_assert_int_eq(td_stop(&current), 0);
    start(&current);
    ck_assert_int_eq(td_post(&current, "inbound", SECRET,
                             "{\"type\":\"lead.created\",\"source_id\":\"rolled-back\","
                             "\"occurred_at\":\"2026-11-27T10:00:00Z\",\"lead\":{\"email\":"
                             "\"rb@example.com\"}}",
                             NULL),
                     200);
    ck_assert_int_eq(migrate(td_binary(), "--status", &out), 0);
    assert_contains(out, "schema version 9001");
    free(out);
    ck_assert_int_eq(migrate(td_binary(), "", &out), 0); /* a rollback's migrate job: fine */
    assert_contains(out, "applied 0 migration(s)");
    free(out);

    /* 4. the contraction waits for this release; --force applies it, and this release
     * then says it must be upgraded (503), while the next one stays ready */
    ck_assert_int_eq(migrate(td_next_binary(), "", &out), 0);
    assert_contains(out, "9002_rollout_contract is held back");
    free(out);
    ck_assert_int_eq(migrate(td_next_binary(), "--force", &out), 0);
    assert_contains(out, "applied 1 migration(s); schema version 9002");
    free(out);
    ck_assert(td_wait_until(current_unready, NULL, 30000));
    body = readyz(&current, &status);
    assert_contains(body, "runs only with releases carrying schema 9001 or later");
    free(body);
    body = readyz(&next, &status);
    ck_assert_int_eq(status, 200);
    free(body);
    /* and this release's migrate says it cannot run there (exit 3) */
    ck_assert_int_eq(migrate(td_binary(), "", &out), 3);
    assert_contains(out, "cannot run on the database");
    free(out);

    ck_assert_int_eq(td_stop(&next), 0);
    ck_assert_int_eq(td_stop(&current), 0);
    PQfinish(db);
}
END_TEST

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    Suite *s = suite_create("rolling_update");
    TCase *tc = tcase_create("rolling_update");
    tcase_set_timeout(tc, 240);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_rolling_update_and_rollback_keep_the_service_ready_and_lose_nothing);
    suite_add_tcase(s, tc);
    int failed = tu_run_suite(s);
    curl_global_cleanup();
    return failed;
}
