/* test_store.c - migrations and batch writes against a real PostgreSQL. */
#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "event.h"
#include "migrate.h"
#include "poll_lease.h"
#include "store_pg.h"
#include "testdb.h"
#include "util.h"
#include "testutil.h"

static char *db_url;
static struct store *store;
static PGconn *check_conn;

static void setup_migrated(void)
{
    db_url = testdb_create_migrated();
    char *error = NULL;
    store = store_open(db_url, &error);
    ck_assert_msg(store != NULL, "store_open: %s", error);
    check_conn = testdb_connect(db_url);
}

static void teardown_migrated(void)
{
    PQfinish(check_conn);
    store_close(store);
    testdb_drop(db_url);
}

/* A validated record of `text` emitted by `instance`. */
static struct event_record record_of(const char *instance, const char *text)
{
    json_error_t jerr;
    json_t *event = json_loads(text, 0, &jerr);
    ck_assert_msg(event != NULL, "bad test JSON: %s", jerr.text);
    struct event_record r;
    char *error = NULL;
    ck_assert_msg(event_validate(event, instance, &r, &error) == 0, "invalid: %s", error);
    return r;
}

static void clear_records(struct event_record *records, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        event_record_clear(&records[i]);
    }
}

static void write_ok(struct event_record *records, size_t n)
{
    char *error = NULL;
    ck_assert_msg(store_write_batch(store, records, n, NULL, NULL, NULL, &error) == STORE_OK,
                  "write: %s", error);
}

#define MEETING_EVENT(id)                                                                          \
    "{\"type\":\"meeting.scheduled\",\"source_id\":\"" id "\",\"occurred_at\":"                    \
    "\"2026-11-27T10:00:00Z\",\"meeting\":{\"external_id\":\"" id "\",\"title\":\"Demo\"}}"

#define LEAD(id, email, extra)                                                                     \
    "{\"type\":\"lead.created\",\"source_id\":\"" id                                               \
    "\",\"occurred_at\":\"2026-11-27T10:00:00Z\","                                                 \
    "\"lead\":{\"email\":\"" email "\"" extra "}}"

START_TEST(test_migrate_applies_once_and_is_idempotent)
{
    char *url = testdb_create();
    PGconn *conn = testdb_connect(url);
    int applied = -1, current = -1, latest = -1;
    char *error = NULL;
    ck_assert_int_eq(migrate_status(conn, &current, &latest), 0);
    ck_assert_int_eq(current, 0);
    ck_assert_int_eq(migrate_apply(conn, &applied, &error), 0);
    ck_assert_int_eq(applied, (int)migration_count);
    ck_assert_int_eq(migrate_apply(conn, &applied, &error), 0);
    ck_assert_int_eq(applied, 0);
    ck_assert_int_eq(migrate_status(conn, &current, &latest), 0);
    ck_assert_int_eq(current, latest);
    ck_assert_int_eq(testdb_scalar(conn, "SELECT count(*) FROM schema_migrations"),
                     (long)migration_count);
    PQfinish(conn);
    testdb_drop(url);
}
END_TEST

START_TEST(test_migrate_keys_the_first_stored_report_of_each_stripe_payment)
{
    /* a database written before payments were keyed: a subscription Checkout and its
     * invoice.paid both stored as payments of in_1, and a payment-mode Checkout */
    char *url = testdb_create();
    PGconn *conn = testdb_connect(url);
    size_t before = 0;
    while (before < migration_count && migrations[before].version < 10) {
        before++;
    }
    int applied = 0;
    char *error = NULL;
    ck_assert_int_eq(migrate_apply_list(conn, migrations, before, &applied, &error), 0);
    testdb_exec(
        conn, "INSERT INTO events (source, source_id, type, occurred_at, payload) VALUES "
              "('billing', 'evt_c', 'payment.succeeded', now(), '{\"data\":{\"stripe_event_type\":"
              "\"checkout.session.completed\",\"invoice\":\"in_1\",\"amount\":100}}'), "
              "('billing', 'evt_i', 'payment.succeeded', now(), '{\"data\":{\"stripe_event_type\":"
              "\"invoice.paid\",\"invoice\":\"in_1\",\"amount\":100}}'), "
              "('billing', 'evt_p', 'payment.succeeded', now(), '{\"data\":{\"stripe_event_type\":"
              "\"checkout.session.completed\",\"payment_intent\":\"pi_2\",\"amount\":50}}')");
    ck_assert_int_eq(migrate_apply(conn, &applied, &error), 0);
    char *keys = testdb_text(conn, "SELECT string_agg(source_id || '=' || coalesce(payment_key, "
                                   "'-'), ',' ORDER BY id) FROM events");
    ck_assert_str_eq(keys, "evt_c=in_1,evt_i=-,evt_p=pi_2");
    free(keys);
    PQfinish(conn);

    /* a report of in_1 arriving after the upgrade is the payment stored already */
    struct store *s = store_open(url, &error);
    struct event_record late[] = {record_of(
        "billing", "{\"type\":\"payment.succeeded\",\"source_id\":\"evt_late\",\"occurred_at\":"
                   "\"2026-11-27T10:00:00Z\",\"data\":{\"payment\":\"in_1\",\"amount\":100}}")};
    ck_assert_int_eq(store_write_batch(s, late, 1, NULL, NULL, NULL, &error), STORE_OK);
    ck_assert(late[0].duplicate);
    clear_records(late, 1);
    store_close(s);
    testdb_drop(url);
}
END_TEST

struct migrate_thread {
    const char *url;
    int rc;
    int applied;
};

static void *migrate_in_thread(void *arg)
{
    struct migrate_thread *t = arg;
    PGconn *conn = testdb_connect(t->url);
    char *error = NULL;
    t->rc = PQstatus(conn) == CONNECTION_OK ? migrate_apply(conn, &t->applied, &error) : -1;
    free(error);
    PQfinish(conn);
    return NULL;
}

START_TEST(test_migrate_from_several_replicas_at_once_applies_each_migration_once)
{
    char *url = testdb_create();
    struct migrate_thread threads[6];
    pthread_t ids[6];
    for (int i = 0; i < 6; i++) {
        threads[i] = (struct migrate_thread){.url = url, .rc = -1};
        pthread_create(&ids[i], NULL, migrate_in_thread, &threads[i]);
    }
    int total = 0;
    for (int i = 0; i < 6; i++) {
        pthread_join(ids[i], NULL);
        ck_assert_int_eq(threads[i].rc, 0);
        total += threads[i].applied;
    }
    ck_assert_int_eq(total, (int)migration_count);
    PGconn *conn = testdb_connect(url);
    ck_assert_int_eq(testdb_scalar(conn, "SELECT count(*) FROM schema_migrations"),
                     (long)migration_count);
    PQfinish(conn);
    testdb_drop(url);
}
END_TEST

START_TEST(test_migrate_failure_rolls_back_and_names_the_migration)
{
    char *url = testdb_create();
    PGconn *conn = testdb_connect(url);
    const struct migration list[] = {
        {1, "good", "CREATE TABLE t_good (id int);", 0},
        {2, "bad", "CREATE TABLE t_half (id int); SELECT * FROM no_such_table;", 0},
    };
    int applied = 0;
    char *error = NULL;
    ck_assert_int_eq(migrate_apply_list(conn, list, 2, &applied, &error), -1);
    ck_assert_int_eq(applied, 1);
    ck_assert_ptr_nonnull(strstr(error, "migration 0002_bad failed"));
    ck_assert_ptr_nonnull(strstr(error, "no_such_table"));
    free(error);
    /* the failed migration left nothing behind; the good one stays */
    ck_assert_int_eq(testdb_scalar(conn, "SELECT count(*) FROM pg_tables WHERE "
                                         "tablename = 't_half'"),
                     0);
    ck_assert_int_eq(testdb_scalar(conn, "SELECT max(version) FROM schema_migrations"), 1);
    PQfinish(conn);
    testdb_drop(url);
}
END_TEST

START_TEST(test_migrate_refuses_database_newer_than_daemon)
{
    char *url = testdb_create();
    PGconn *conn = testdb_connect(url);
    const struct migration list[] = {{1, "a", "SELECT 1;", 0}, {2, "b", "SELECT 1;", 0}};
    char *error = NULL;
    ck_assert_int_eq(migrate_apply_list(conn, list, 2, NULL, &error), 0);
    ck_assert_int_eq(migrate_apply_list(conn, list, 1, NULL, &error), -1);
    ck_assert_ptr_nonnull(strstr(error, "newer than this leadhubd knows"));
    free(error);
    PQfinish(conn);
    testdb_drop(url);
}
END_TEST

/* A session that calls itself what a replica of release `generation` does. */
static PGconn *connect_as_release(const char *url, int generation)
{
    char name[64];
    snprintf(name, sizeof(name), "leadhubd/0.0.9 schema=%d", generation);
    const char *const keys[] = {"dbname", "application_name", NULL};
    const char *const values[] = {url, name, NULL};
    PGconn *conn = PQconnectdbParams(keys, values, 1);
    ck_assert_int_eq(PQstatus(conn), CONNECTION_OK);
    return conn;
}

/* Waits (up to 30 s) until no session calls itself `application_name`. */
static void wait_for_sessions_gone(PGconn *conn, const char *application_name)
{
    const char *const params[] = {application_name};
    for (int i = 0; i < 3000; i++) {
        PGresult *res = PQexecParams(conn,
                                     "SELECT count(*) FROM pg_stat_activity "
                                     "WHERE application_name = $1",
                                     1, NULL, params, NULL, NULL, 0);
        ck_assert_int_eq(PQresultStatus(res), PGRES_TUPLES_OK);
        long count = strtol(PQgetvalue(res, 0, 0), NULL, 10);
        PQclear(res);
        if (count == 0) {
            return;
        }
        struct timespec pause = {0, 10 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    ck_abort_msg("a session named %s is still connected after 30 s", application_name);
}

/* Expand (2, release 1 runs on it), contract (3, only release 2 and later). */
static const struct migration rollout[] = {
    {1, "base", "CREATE TABLE t_items (id int, old_name text);", 0},
    {2, "expand", "ALTER TABLE t_items ADD COLUMN new_name text;", 1},
    {3, "contract", "ALTER TABLE t_items DROP COLUMN old_name;", 0},
};
static const struct schema_compat rollout_compat[] = {{3, 2}};

/*
 * While a replica of release 1 is connected, migrate applies the expanding migration and
 * holds the contracting one back, naming the replica and how to force it; once that
 * replica is gone (or with force) the contraction goes in, and each migration's runs_from
 * is recorded for older releases to read.
 */
START_TEST(test_migrate_holds_back_a_contraction_while_an_older_release_is_connected)
{
    char *url = testdb_create();
    PGconn *conn = testdb_connect(url);
    struct schema_policy v1 = {rollout, 1, rollout_compat, 1, 1};
    struct schema_policy v3 = {rollout, 3, rollout_compat, 1, 2};
    struct migrate_result result;
    char *error = NULL;
    ck_assert_int_eq(migrate_apply_policy(conn, &v1, NULL, &result, &error), 0);
    ck_assert_int_eq(result.applied, 1);

    PGconn *old_replica = connect_as_release(url, 1);
    PGconn *new_replica = connect_as_release(url, 3);
    ck_assert_int_eq(migrate_apply_policy(conn, &v3, NULL, &result, &error), 0);
    ck_assert_int_eq(result.applied, 1);
    ck_assert_int_eq(result.held_version, 3);
    ck_assert_ptr_nonnull(strstr(result.held_reason, "0003_contract is held back"));
    ck_assert_ptr_nonnull(strstr(result.held_reason, "schema=1"));
    ck_assert_ptr_null(strstr(result.held_reason, "schema=3"));
    ck_assert_ptr_nonnull(strstr(result.held_reason, "--force"));
    free(result.held_reason);
    ck_assert_int_eq(testdb_scalar(conn, "SELECT max(version) FROM schema_migrations"), 2);
    ck_assert_int_eq(testdb_scalar(conn, "SELECT runs_from FROM schema_migrations "
                                         "WHERE version = 2"),
                     1);
    /* release 1 still runs on it; release 3 too (it runs on 2 and later) */
    struct schema_state state;
    ck_assert_int_eq(migrate_read_schema(conn, &v1, &state, NULL), 0);
    ck_assert(schema_policy_judge(&v1, &state, NULL));
    ck_assert_int_eq(migrate_read_schema(conn, &v3, &state, NULL), 0);
    ck_assert(schema_policy_judge(&v3, &state, NULL));

    /* the old replica gone: the contraction goes in, declared for release 2 on. A backend
     * leaves pg_stat_activity a moment after its client hangs up, so wait for that. */
    PQfinish(old_replica);
    wait_for_sessions_gone(conn, "leadhubd/0.0.9 schema=1");
    ck_assert_int_eq(migrate_apply_policy(conn, &v3, NULL, &result, &error), 0);
    ck_assert_int_eq(result.applied, 1);
    ck_assert_ptr_null(result.held_reason);
    ck_assert_int_eq(testdb_scalar(conn, "SELECT runs_from FROM schema_migrations "
                                         "WHERE version = 3"),
                     2);
    /* a rollback to release 1 would not run on it, and says so */
    ck_assert_int_eq(migrate_read_schema(conn, &v1, &state, NULL), 0);
    ck_assert_int_eq(state.newer_runs_from, 2);
    char *detail = NULL;
    ck_assert(!schema_policy_judge(&v1, &state, &detail));
    ck_assert_ptr_nonnull(strstr(detail, "upgrade it"));
    free(detail);
    PQfinish(new_replica);
    PQfinish(conn);
    testdb_drop(url);
}
END_TEST

START_TEST(test_migrate_force_applies_a_contraction_despite_older_replicas)
{
    char *url = testdb_create();
    PGconn *conn = testdb_connect(url);
    struct schema_policy v3 = {rollout, 3, rollout_compat, 1, 2};
    struct schema_policy v1 = {rollout, 1, rollout_compat, 1, 1};
    struct migrate_result result;
    char *error = NULL;
    ck_assert_int_eq(migrate_apply_policy(conn, &v1, NULL, &result, &error), 0);
    PGconn *old_replica = connect_as_release(url, 1);
    /* a release from before the policy declares no schema: it counts as the oldest */
    PGconn *ancient = connect_as_release(url, 0);
    PQclear(PQexec(ancient, "SET application_name = 'leadhubd'"));
    ck_assert_int_eq(migrate_apply_policy(conn, &v3, NULL, &result, &error), 0);
    ck_assert_int_eq(result.held_version, 2); /* even the expansion: 'leadhubd' needs 1 */
    ck_assert_ptr_nonnull(strstr(result.held_reason, "leadhubd at"));
    free(result.held_reason);
    const struct migrate_options force = {.force = true};
    ck_assert_int_eq(migrate_apply_policy(conn, &v3, &force, &result, &error), 0);
    ck_assert_int_eq(result.applied, 2);
    ck_assert_int_eq(testdb_scalar(conn, "SELECT max(version) FROM schema_migrations"), 3);
    PQfinish(ancient);
    PQfinish(old_replica);
    PQfinish(conn);
    testdb_drop(url);
}
END_TEST

/* A database set up before runs_from existed gains the column; its rows read as
 * contracting (NULL), which is the safe reading. */
START_TEST(test_migrate_adds_runs_from_to_an_older_schema_migrations)
{
    char *url = testdb_create();
    PGconn *conn = testdb_connect(url);
    PQclear(PQexec(conn, "CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text "
                         "NOT NULL, applied_at timestamptz NOT NULL DEFAULT now()); INSERT INTO "
                         "schema_migrations (version, name) VALUES (1, 'base'), (2, 'expand');"
                         "CREATE TABLE t_items (id int, old_name text, new_name text)"));
    struct schema_policy v1 = {rollout, 1, rollout_compat, 1, 1};
    struct schema_state state;
    ck_assert_int_eq(migrate_read_schema(conn, &v1, &state, NULL), 0);
    ck_assert_int_eq(state.current, 2);
    ck_assert_int_eq(state.newer_runs_from, 2); /* no column: its own version */
    ck_assert(!schema_policy_judge(&v1, &state, NULL));
    struct schema_policy v3 = {rollout, 3, rollout_compat, 1, 2};
    struct migrate_result result;
    char *error = NULL;
    ck_assert_int_eq(migrate_apply_policy(conn, &v3, NULL, &result, &error), 0);
    ck_assert_int_eq(result.applied, 1);
    ck_assert_int_eq(testdb_scalar(conn, "SELECT count(*) FROM schema_migrations "
                                         "WHERE runs_from IS NULL"),
                     2);
    PQfinish(conn);
    testdb_drop(url);
}
END_TEST

START_TEST(test_store_batch_stores_events_and_resolves_leads_by_email)
{
    struct event_record r[] = {
        record_of("inbound", LEAD("a1", "Ada@Example.com", ",\"first_name\":\"Ada\"")),
        record_of("inbound", LEAD("a2", "ada@example.com", ",\"company\":\"Analytical\"")),
        record_of("inbound", LEAD("b1", "bob@example.com", "")),
    };
    write_ok(r, 3);
    ck_assert(!r[0].duplicate && !r[1].duplicate && !r[2].duplicate);
    ck_assert(r[0].id > 0 && r[1].id > 0 && r[2].id > 0);
    ck_assert_int_eq(r[0].lead_id, r[1].lead_id);
    ck_assert_int_ne(r[0].lead_id, r[2].lead_id);
    ck_assert_int_eq(testdb_scalar(check_conn, "SELECT count(*) FROM events"), 3);
    ck_assert_int_eq(testdb_scalar(check_conn, "SELECT count(*) FROM leads"), 2);
    char *merged = testdb_text(check_conn, "SELECT first_name || '/' || company FROM leads "
                                           "WHERE email = 'ada@example.com'");
    ck_assert_str_eq(merged, "Ada/Analytical");
    free(merged);
    ck_assert_int_eq(testdb_scalar(check_conn, "SELECT count(*) FROM events WHERE lead_id IS NULL"),
                     0);
    clear_records(r, 3);
}
END_TEST

START_TEST(test_store_batch_resent_events_are_duplicates_and_store_nothing)
{
    struct event_record first[] = {record_of("inbound", LEAD("x1", "x@example.com", ""))};
    write_ok(first, 1);
    struct event_record again[] = {
        record_of("inbound", LEAD("x1", "x@example.com", ",\"company\":\"Changed\"")),
        record_of("inbound", LEAD("x2", "y@example.com", "")),
        record_of("inbound", LEAD("x2", "y@example.com", "")),
        /* same source_id from another instance is another event */
        record_of("other", LEAD("x1", "x@example.com", "")),
    };
    write_ok(again, 4);
    ck_assert(again[0].duplicate);
    ck_assert_int_eq(again[0].id, 0);
    ck_assert(!again[1].duplicate);
    ck_assert(again[2].duplicate);
    ck_assert(!again[3].duplicate);
    ck_assert_int_eq(testdb_scalar(check_conn, "SELECT count(*) FROM events"), 3);
    /* a redelivered event does not re-apply its lead fields */
    ck_assert_int_eq(
        testdb_scalar(check_conn, "SELECT count(*) FROM leads WHERE company = 'Changed'"), 0);
    clear_records(first, 1);
    clear_records(again, 4);
}
END_TEST

START_TEST(test_store_batch_identity_only_lead_is_found_again_by_identity)
{
    struct event_record r1[] = {record_of(
        "crm", "{\"type\":\"lead.updated\",\"source_id\":\"c1\",\"occurred_at\":"
               "\"2026-11-27T10:00:00Z\",\"lead\":{\"external_id\":\"501\",\"title\":\"CTO\"}}")};
    write_ok(r1, 1);
    struct event_record r2[] = {record_of(
        "crm",
        "{\"type\":\"lead.updated\",\"source_id\":\"c2\",\"occurred_at\":"
        "\"2026-11-27T11:00:00Z\",\"lead\":{\"external_id\":\"501\",\"phone\":\"+1 555\"}}")};
    write_ok(r2, 1);
    ck_assert(r1[0].lead_id > 0);
    ck_assert_int_eq(r1[0].lead_id, r2[0].lead_id);
    char *fields = testdb_text(check_conn, "SELECT title || '|' || phone FROM leads");
    ck_assert_str_eq(fields, "CTO|+1 555");
    free(fields);
    ck_assert_int_eq(testdb_scalar(check_conn, "SELECT count(*) FROM lead_identities WHERE "
                                               "source = 'crm' AND external_id = '501'"),
                     1);
    clear_records(r1, 1);
    clear_records(r2, 1);
}
END_TEST

START_TEST(test_store_batch_identity_only_lead_takes_the_email_that_comes_with_its_identity)
{
    /* a subscription names the customer before any event carries its email */
    struct event_record r1[] = {record_of(
        "billing", "{\"type\":\"subscription.started\",\"source_id\":\"s1\",\"occurred_at\":"
                   "\"2026-11-27T10:00:00Z\",\"lead\":{\"external_id\":\"cus_9\"}}")};
    write_ok(r1, 1);
    /* then the customer, with its email: the same lead, not a second one */
    struct event_record r2[] = {
        record_of("billing", LEAD("c1", "late@example.com", ",\"external_id\":\"cus_9\""))};
    write_ok(r2, 1);
    /* no blank lead was made for the identity alone: the event waited without one ... */
    ck_assert_int_eq(r1[0].lead_id, 0);
    ck_assert(r2[0].lead_id > 0);
    ck_assert_int_eq(testdb_scalar(check_conn, "SELECT count(*) FROM leads"), 1);
    char *email = testdb_text(check_conn, "SELECT email FROM leads");
    ck_assert_str_eq(email, "late@example.com");
    free(email);
    /* ... and belongs to the lead its identity has now */
    char *sql = util_printf("SELECT count(*) FROM events WHERE source_id = 's1' AND lead_id = %lld",
                            (long long)r2[0].lead_id);
    ck_assert_int_eq(testdb_scalar(check_conn, sql), 1);
    free(sql);

    /* the identity's email is another lead's already: that lead is the customer */
    struct event_record r3[] = {record_of("billing", LEAD("c2", "taken@example.com", "")),
                                record_of("billing",
                                          "{\"type\":\"subscription.started\",\"source_id\":\"s2\","
                                          "\"occurred_at\":\"2026-11-27T10:00:00Z\",\"lead\":{"
                                          "\"external_id\":\"cus_10\"}}")};
    write_ok(r3, 2);
    ck_assert_int_eq(r3[1].lead_id, 0);
    struct event_record r4[] = {
        record_of("billing", LEAD("c3", "taken@example.com", ",\"external_id\":\"cus_10\""))};
    write_ok(r4, 1);
    ck_assert_int_eq(r4[0].lead_id, r3[0].lead_id);
    ck_assert_int_eq(testdb_scalar(check_conn, "SELECT count(*) FROM leads WHERE email IS NULL"),
                     0);
    sql = util_printf("SELECT count(*) FROM events WHERE source_id = 's2' AND lead_id = %lld",
                      (long long)r3[0].lead_id);
    ck_assert_int_eq(testdb_scalar(check_conn, sql), 1);
    free(sql);
    clear_records(r1, 1);
    clear_records(r2, 1);
    clear_records(r3, 2);
    clear_records(r4, 1);
}
END_TEST

/* A lead event at `time` for lead JSON members `lead`. */
#define AT(id, time, lead)                                                                         \
    "{\"type\":\"lead.updated\",\"source_id\":\"" id "\",\"occurred_at\":\"2026-11-27T" time       \
    "Z\",\"lead\":{" lead "}}"

static char *lead_fields(const char *where)
{
    char *sql = util_printf("SELECT coalesce(company, '-') || '|' || coalesce(title, '-') || '|' "
                            "|| coalesce(phone, '-') || '|' || attributes::text FROM leads "
                            "WHERE %s",
                            where);
    char *text = testdb_text(check_conn, sql);
    free(sql);
    return text;
}

START_TEST(test_store_batch_lead_fields_follow_event_time_not_arrival)
{
    struct event_record r1[] = {
        record_of("crm", AT("t1", "11:00:00",
                            "\"email\":\"t@example.com\",\"company\":\"New Co\","
                            "\"attributes\":{\"plan\":\"pro\"}"))};
    write_ok(r1, 1);
    /* older, arriving late: fills what is missing, overwrites nothing */
    struct event_record r2[] = {
        record_of("crm", AT("t2", "10:00:00",
                            "\"email\":\"t@example.com\",\"company\":\"Old Co\",\"title\":"
                            "\"CTO\",\"attributes\":{\"plan\":\"free\",\"seats\":3}"))};
    write_ok(r2, 1);
    char *fields = lead_fields("email = 't@example.com'");
    ck_assert_str_eq(fields, "New Co|CTO|-|{\"plan\": \"pro\", \"seats\": 3}");
    free(fields);
    /* newer: overwrites */
    struct event_record r3[] = {record_of(
        "crm", AT("t3", "12:00:00", "\"email\":\"t@example.com\",\"company\":\"Newest\""))};
    write_ok(r3, 1);
    fields = lead_fields("email = 't@example.com'");
    ck_assert_str_eq(fields, "Newest|CTO|-|{\"plan\": \"pro\", \"seats\": 3}");
    free(fields);

    /* within one batch, the same: the newer event's company, the older one's phone */
    struct event_record r4[] = {
        record_of("crm", AT("b1", "11:00:00", "\"email\":\"b@example.com\",\"company\":\"A\"")),
        record_of("crm", AT("b2", "10:00:00",
                            "\"email\":\"b@example.com\",\"company\":\"B\",\"phone\":\"555\""))};
    write_ok(r4, 2);
    fields = lead_fields("email = 'b@example.com'");
    ck_assert_str_eq(fields, "A|-|555|{}");
    free(fields);

    /* and for a lead known by its identity alone */
    struct event_record r5[] = {
        record_of("crm", AT("i1", "11:00:00", "\"external_id\":\"77\",\"title\":\"VP\""))};
    write_ok(r5, 1);
    struct event_record r6[] = {
        record_of("crm", AT("i2", "10:00:00",
                            "\"external_id\":\"77\",\"title\":\"Intern\",\"phone\":\"1\""))};
    write_ok(r6, 1);
    fields = lead_fields("email IS NULL");
    ck_assert_str_eq(fields, "-|VP|1|{}");
    free(fields);
    clear_records(r1, 1);
    clear_records(r2, 1);
    clear_records(r3, 1);
    clear_records(r4, 2);
    clear_records(r5, 1);
    clear_records(r6, 1);
}
END_TEST

START_TEST(test_store_batch_lead_with_an_email_keeps_it_when_its_identity_brings_another)
{
    struct event_record r1[] = {
        record_of("billing", LEAD("c1", "first@example.com", ",\"external_id\":\"cus_1\""))};
    write_ok(r1, 1);
    long long lead = r1[0].lead_id;
    ck_assert(lead > 0);
    /* the same customer, by its identity, now with another address */
    struct event_record r2[] = {
        record_of("billing", LEAD("c2", "second@example.com", ",\"external_id\":\"cus_1\""))};
    write_ok(r2, 1);
    ck_assert_int_eq(r2[0].lead_id, lead);
    char *sql = util_printf("SELECT email FROM leads WHERE id = %lld", lead);
    char *email = testdb_text(check_conn, sql);
    ck_assert_str_eq(email, "first@example.com");
    free(email);
    free(sql);
    /* the other address is recorded on the lead, not made a second lead */
    ck_assert_int_eq(
        testdb_scalar(check_conn, "SELECT count(*) FROM leads WHERE email = 'second@example.com'"),
        0);
    sql = util_printf("SELECT count(*) FROM lead_addresses WHERE lead_id = %lld AND email = "
                      "'second@example.com' AND source = 'billing'",
                      lead);
    ck_assert_int_eq(testdb_scalar(check_conn, sql), 1);
    free(sql);
    sql = util_printf("SELECT count(*) FROM lead_identities WHERE source = 'billing' AND "
                      "external_id = 'cus_1' AND lead_id = %lld",
                      lead);
    ck_assert_int_eq(testdb_scalar(check_conn, sql), 1);
    free(sql);
    /* so a later event with the first address still finds that lead, not a new one */
    struct event_record r3[] = {record_of("inbound", LEAD("f1", "first@example.com", ""))};
    write_ok(r3, 1);
    ck_assert_int_eq(r3[0].lead_id, lead);
    ck_assert_int_eq(
        testdb_scalar(check_conn, "SELECT count(*) FROM leads WHERE email = 'first@example.com'"),
        1);
    /* and a lead that took its email through its identity keeps that one too */
    struct event_record r4[] = {record_of(
        "billing", "{\"type\":\"subscription.started\",\"source_id\":\"s1\",\"occurred_at\":"
                   "\"2026-11-27T10:00:00Z\",\"lead\":{\"external_id\":\"cus_2\"}}")};
    write_ok(r4, 1);
    struct event_record r5[] = {
        record_of("billing", LEAD("c3", "adopted@example.com", ",\"external_id\":\"cus_2\""))};
    write_ok(r5, 1);
    struct event_record r6[] = {
        record_of("billing", LEAD("c4", "other@example.com", ",\"external_id\":\"cus_2\""))};
    write_ok(r6, 1);
    ck_assert_int_eq(r6[0].lead_id, r5[0].lead_id);
    sql = util_printf("SELECT email FROM leads WHERE id = %lld", (long long)r5[0].lead_id);
    email = testdb_text(check_conn, sql);
    ck_assert_str_eq(email, "adopted@example.com");
    free(email);
    free(sql);
    clear_records(r1, 1);
    clear_records(r2, 1);
    clear_records(r3, 1);
    clear_records(r4, 1);
    clear_records(r5, 1);
    clear_records(r6, 1);
}
END_TEST

START_TEST(test_store_batch_later_event_wins_for_equal_time_within_a_batch_as_across_batches)
{
    /* across batches: the later arrival of the same time overwrites */
    struct event_record b1[] = {record_of(
        "crm", AT("x1", "10:00:00", "\"email\":\"x@example.com\",\"company\":\"First\""))};
    write_ok(b1, 1);
    struct event_record b2[] = {record_of(
        "crm", AT("x2", "10:00:00", "\"email\":\"x@example.com\",\"company\":\"Second\""))};
    write_ok(b2, 1);
    char *fields = lead_fields("email = 'x@example.com'");
    ck_assert_str_eq(fields, "Second|-|-|{}");
    free(fields);
    /* within one batch, the same: the later event's company, the earlier one's title */
    struct event_record w[] = {
        record_of("crm", AT("w1", "10:00:00",
                            "\"email\":\"w@example.com\",\"company\":\"First\",\"title\":\"CTO\","
                            "\"attributes\":{\"plan\":\"free\"}")),
        record_of("crm", AT("w2", "10:00:00",
                            "\"email\":\"w@example.com\",\"company\":\"Second\","
                            "\"attributes\":{\"plan\":\"pro\"}"))};
    write_ok(w, 2);
    fields = lead_fields("email = 'w@example.com'");
    ck_assert_str_eq(fields, "Second|CTO|-|{\"plan\": \"pro\"}");
    free(fields);
    /* and for a lead known by its identity alone */
    struct event_record i[] = {
        record_of("crm", AT("i1", "10:00:00", "\"external_id\":\"88\",\"title\":\"First\"")),
        record_of("crm", AT("i2", "10:00:00", "\"external_id\":\"88\",\"title\":\"Second\""))};
    write_ok(i, 2);
    fields = lead_fields("email IS NULL");
    ck_assert_str_eq(fields, "-|Second|-|{}");
    free(fields);
    clear_records(b1, 1);
    clear_records(b2, 1);
    clear_records(w, 2);
    clear_records(i, 2);
}
END_TEST

START_TEST(test_store_batch_a_key_repeated_in_one_batch_leaves_the_lead_as_its_first_copy_says)
{
    struct event_record r[] = {
        record_of("crm", AT("d1", "10:00:00",
                            "\"email\":\"d@example.com\",\"company\":\"First copy\","
                            "\"attributes\":{\"plan\":\"free\"}")),
        record_of("crm", AT("d1", "10:00:00",
                            "\"email\":\"d@example.com\",\"company\":\"Second copy\","
                            "\"title\":\"CEO\",\"attributes\":{\"plan\":\"pro\"}")),
        /* and for a lead known by its identity alone */
        record_of("crm", AT("d2", "10:00:00", "\"external_id\":\"99\",\"title\":\"First copy\"")),
        record_of("crm", AT("d2", "10:00:00", "\"external_id\":\"99\",\"title\":\"Second copy\""))};
    write_ok(r, 4);
    ck_assert(!r[0].duplicate && r[1].duplicate && !r[2].duplicate && r[3].duplicate);
    ck_assert_int_eq(testdb_scalar(check_conn, "SELECT count(*) FROM events"), 2);
    char *fields = lead_fields("email = 'd@example.com'");
    ck_assert_str_eq(fields, "First copy|-|-|{\"plan\": \"free\"}");
    free(fields);
    fields = lead_fields("email IS NULL");
    ck_assert_str_eq(fields, "-|First copy|-|{}");
    free(fields);
    clear_records(r, 4);
}
END_TEST

START_TEST(test_store_batch_records_identities_of_email_leads)
{
    struct event_record r[] = {
        record_of("billing", LEAD("e1", "pay@example.com",
                                  ",\"external_id\":\"cus_1\",\"external_ids\":{\"crm\":\"77\"}"))};
    write_ok(r, 1);
    ck_assert_int_eq(testdb_scalar(check_conn, "SELECT count(*) FROM lead_identities i JOIN leads "
                                               "l ON l.id = i.lead_id WHERE l.email = "
                                               "'pay@example.com'"),
                     2);
    clear_records(r, 1);
}
END_TEST

START_TEST(test_store_batch_leads_named_by_id_are_written_once_per_batch_in_event_time)
{
    struct event_record first[] = {
        record_of("inbound", LEAD("g1", "given@example.com", "")),
        record_of("inbound", "{\"type\":\"lead.created\",\"source_id\":\"g2\",\"occurred_at\":"
                             "\"2026-11-27T10:00:00Z\",\"lead\":{\"external_id\":\"x9\","
                             "\"last_name\":\"Nine\"}}")};
    write_ok(first, 2);
    long long a = first[0].lead_id, b = first[1].lead_id;
    /* one batch: two events for lead a (the newer one's company wins, the older one's phone
     * fills in), one for lead b with an email, one that brings nothing new */
    char *batch_text[4];
    batch_text[0] = util_printf(AT("n1", "12:00:00", "\"id\":%lld,\"company\":\"Newer\""), a);
    batch_text[1] =
        util_printf(AT("n2", "11:00:00", "\"id\":%lld,\"company\":\"Older\",\"phone\":\"555\""), a);
    batch_text[2] = util_printf(AT("n3", "11:00:00", "\"id\":%lld,\"email\":\"b@example.com\""), b);
    batch_text[3] =
        util_printf(AT("n4", "13:00:00", "\"id\":%lld,\"email\":\"given@example.com\""), a);
    struct event_record batch[4];
    for (size_t i = 0; i < 4; i++) {
        batch[i] = record_of("api", batch_text[i]);
        free(batch_text[i]);
    }
    write_ok(batch, 4);
    ck_assert_int_eq(batch[0].lead_id, a);
    ck_assert_int_eq(batch[1].lead_id, a);
    ck_assert_int_eq(batch[2].lead_id, b);
    ck_assert_int_eq(batch[3].lead_id, a);
    char *fields = lead_fields("email = 'given@example.com'");
    ck_assert_str_eq(fields, "Newer|-|555|{}");
    free(fields);
    char *sql = util_printf("SELECT email FROM leads WHERE id = %lld", b);
    char *email = testdb_text(check_conn, sql);
    ck_assert_str_eq(email, "b@example.com");
    free(email);
    free(sql);

    /* an event that brings nothing new (a lead.scored) leaves the lead as it was */
    sql = util_printf("SELECT updated_at::text FROM leads WHERE id = %lld", a);
    char *before = testdb_text(check_conn, sql);
    char *scored_text =
        util_printf(AT("s1", "14:00:00", "\"id\":%lld,\"email\":\"given@example.com\""), a);
    struct event_record scored[] = {record_of("fit", scored_text)};
    free(scored_text);
    write_ok(scored, 1);
    ck_assert_int_eq(scored[0].lead_id, a);
    char *after = testdb_text(check_conn, sql);
    ck_assert_str_eq(after, before);
    free(after);
    free(before);
    free(sql);
    clear_records(scored, 1);
    clear_records(first, 2);
    clear_records(batch, 4);
}
END_TEST

START_TEST(test_store_batch_lead_id_links_an_existing_lead_before_email)
{
    struct event_record first[] = {record_of("inbound", LEAD("l1", "known@example.com", ""))};
    write_ok(first, 1);
    char *sql = util_printf("{\"type\":\"payment.succeeded\",\"source_id\":\"pay1\","
                            "\"occurred_at\":\"2026-11-27T10:00:00Z\",\"lead\":{\"id\":\"%lld\","
                            "\"email\":\"billing@other.example\",\"external_id\":\"cus_9\"}}",
                            (long long)first[0].lead_id);
    struct event_record paid[] = {record_of("billing", sql)};
    free(sql);
    write_ok(paid, 1);
    ck_assert_int_eq(paid[0].lead_id, first[0].lead_id);
    /* the known lead keeps its email; the other email does not become a new lead */
    ck_assert_int_eq(testdb_scalar(check_conn, "SELECT count(*) FROM leads"), 1);
    ck_assert_int_eq(testdb_scalar(check_conn, "SELECT count(*) FROM lead_identities WHERE "
                                               "external_id = 'cus_9'"),
                     1);
    /* an id that does not exist falls back to the email */
    struct event_record unknown[] = {
        record_of("billing", "{\"type\":\"payment.succeeded\",\"source_id\":\"pay2\","
                             "\"occurred_at\":\"2026-11-27T10:00:00Z\",\"lead\":{\"id\":999999,"
                             "\"email\":\"fresh@example.com\"}}")};
    write_ok(unknown, 1);
    ck_assert_int_ne(unknown[0].lead_id, first[0].lead_id);
    ck_assert_int_eq(testdb_scalar(check_conn, "SELECT count(*) FROM leads"), 2);
    struct event_record only_id[] = {
        record_of("billing", "{\"type\":\"payment.succeeded\",\"source_id\":\"pay3\","
                             "\"occurred_at\":\"2026-11-27T10:00:00Z\",\"lead\":{\"id\":999999}}")};
    write_ok(only_id, 1);
    ck_assert_int_eq(only_id[0].lead_id, 0);
    clear_records(first, 1);
    clear_records(paid, 1);
    clear_records(unknown, 1);
    clear_records(only_id, 1);
}
END_TEST

START_TEST(test_store_batch_lead_erased_by_id_erases_that_lead_and_nobody_else)
{
    struct event_record leads[] = {
        record_of("inbound", LEAD("l1", "ada@example.com",
                                  ",\"first_name\":\"Ada\",\"attributes\":{\"team\":\"ops\"}")),
        record_of("inbound", LEAD("l2", "grace@example.com", ",\"first_name\":\"Grace\""))};
    write_ok(leads, 2);
    char *text = util_printf("{\"type\":\"lead.updated\",\"source_id\":\"u1\","
                             "\"occurred_at\":\"2026-11-27T11:00:00Z\",\"lead\":{\"id\":%lld,"
                             "\"email\":\"ada@other.example\"},\"raw\":{\"name\":\"Ada\"}}",
                             (long long)leads[0].lead_id);
    struct event_record update[] = {record_of("crm", text)};
    free(text);
    write_ok(update, 1);
    ck_assert_int_eq(testdb_scalar(check_conn, "SELECT count(*) FROM lead_addresses"), 1);
    /* an app asks for Ada's erasure by her lead id (POST /v1/events) */
    text = util_printf("{\"type\":\"lead.erased\",\"source_id\":\"gdpr-1\","
                       "\"occurred_at\":\"2026-11-28T09:00:00Z\",\"lead\":{\"id\":%lld}}",
                       (long long)leads[0].lead_id);
    struct event_record erase[] = {record_of("privacy", text)};
    write_ok(erase, 1);
    ck_assert_int_eq(erase[0].lead_id, leads[0].lead_id);
    char *sql = util_printf("SELECT concat_ws('|', coalesce(email, '-'), coalesce(first_name, "
                            "'-'), attributes ? 'erased_at', attributes ? 'team') FROM leads "
                            "WHERE id = %lld",
                            (long long)leads[0].lead_id);
    char *ada = testdb_text(check_conn, sql);
    ck_assert_str_eq(ada, "-|-|t|f");
    free(ada);
    free(sql);
    ck_assert_int_eq(testdb_scalar(check_conn, "SELECT count(*) FROM lead_addresses"), 0);
    ck_assert_int_eq(testdb_scalar(check_conn, "SELECT count(*) FROM events WHERE payload::text "
                                               "LIKE '%ada%' OR payload::text LIKE '%Ada%'"),
                     0);
    /* Grace is untouched */
    char *grace = testdb_text(check_conn, "SELECT concat_ws('|', email, first_name) FROM leads "
                                          "WHERE email = 'grace@example.com'");
    ck_assert_str_eq(grace, "grace@example.com|Grace");
    free(grace);
    ck_assert_int_eq(testdb_scalar(check_conn, "SELECT count(*) FROM events WHERE payload #>> "
                                               "'{lead,email}' = 'grace@example.com'"),
                     1);
    /* a redelivered erasure is a duplicate */
    struct event_record again[] = {record_of("privacy", text)};
    write_ok(again, 1);
    ck_assert(again[0].duplicate);
    free(text);
    clear_records(leads, 2);
    clear_records(update, 1);
    clear_records(erase, 1);
    clear_records(again, 1);
}
END_TEST

/* An erased person's addresses leave the meetings they took part in: their own meeting
 * events, the meeting events of another lead they attended, and meetings.organizer_*. The
 * rest of those meetings stays, and so does everybody else in them. */
START_TEST(test_store_batch_lead_erased_leaves_the_meetings_it_took_part_in)
{
    struct event_record leads[] = {
        record_of("inbound", LEAD("l1", "ada@example.com", ",\"first_name\":\"Ada\"")),
        record_of("inbound", LEAD("l2", "grace@example.com", ",\"first_name\":\"Grace\""))};
    write_ok(leads, 2);
    /* Grace's meeting, which Ada attended under her other address too; Ada's own meeting,
     * which she organized */
    struct event_record meetings[] = {
        record_of("cal", "{\"type\":\"meeting.scheduled\",\"source_id\":\"m1\",\"occurred_at\":"
                         "\"2026-11-27T10:00:00Z\",\"lead\":{\"email\":\"grace@example.com\"},"
                         "\"meeting\":{\"external_id\":\"g-1\",\"title\":\"Demo\","
                         "\"organizer\":{\"email\":\"rep@ourco.example\",\"name\":\"Sam\"},"
                         "\"attendees\":[{\"email\":\"grace@example.com\"},{\"email\":"
                         "\"Ada@Example.com\",\"name\":\"Ada L\"},{\"email\":"
                         "\"rep@ourco.example\"}]}}"),
        record_of("cal", "{\"type\":\"meeting.scheduled\",\"source_id\":\"m2\",\"occurred_at\":"
                         "\"2026-11-27T10:00:00Z\",\"lead\":{\"email\":\"ada@example.com\"},"
                         "\"meeting\":{\"external_id\":\"a-1\",\"title\":\"Intro\","
                         "\"organizer\":{\"email\":\"ada@example.com\",\"name\":\"Ada\"},"
                         "\"attendees\":[{\"email\":\"ada@example.com\"},{\"email\":"
                         "\"rep@ourco.example\"}]}}")};
    write_ok(meetings, 2);
    ck_assert_int_eq(testdb_scalar(check_conn, "SELECT count(*) FROM events WHERE "
                                               "lower(payload::text) LIKE '%ada%'"),
                     3);
    struct event_record erase[] = {
        record_of("privacy", "{\"type\":\"lead.erased\",\"source_id\":\"gdpr-1\","
                             "\"occurred_at\":\"2026-11-28T09:00:00Z\",\"lead\":{\"email\":"
                             "\"ada@example.com\"}}")};
    write_ok(erase, 1);
    ck_assert_int_eq(erase[0].lead_id, leads[0].lead_id);
    /* nothing stored names her any more, in any case */
    ck_assert_int_eq(testdb_scalar(check_conn, "SELECT count(*) FROM events WHERE "
                                               "lower(payload::text) LIKE '%ada%'"),
                     0);
    ck_assert_int_eq(testdb_scalar(check_conn, "SELECT count(*) FROM meetings WHERE "
                                               "lower(organizer_email) LIKE '%ada%' OR "
                                               "lower(organizer_name) LIKE '%ada%'"),
                     0);
    /* Grace's meeting keeps Grace, the rep, its organizer and its order */
    char *grace = testdb_text(check_conn, "SELECT payload -> 'meeting' FROM events WHERE "
                                          "source_id = 'm1'");
    json_t *meeting = json_loads(grace, 0, NULL);
    ck_assert_ptr_nonnull(meeting);
    const json_t *attendees = json_object_get(meeting, "attendees");
    ck_assert_uint_eq(json_array_size(attendees), 2);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(attendees, 0), "email")),
                     "grace@example.com");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(attendees, 1), "email")),
                     "rep@ourco.example");
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(meeting, "organizer"), "email")),
        "rep@ourco.example");
    ck_assert_str_eq(json_string_value(json_object_get(meeting, "title")), "Demo");
    json_decref(meeting);
    free(grace);
    /* Ada's own meeting keeps what happened */
    char *intro = testdb_text(check_conn, "SELECT payload #>> '{meeting,title}' FROM events "
                                          "WHERE source_id = 'm2'");
    ck_assert_str_eq(intro, "Intro");
    free(intro);
    ck_assert_int_eq(testdb_scalar(check_conn, "SELECT count(*) FROM meetings"), 2);
    ck_assert_int_eq(testdb_scalar(check_conn, "SELECT count(*) FROM events WHERE payload::text "
                                               "LIKE '%grace@example.com%'"),
                     2);
    clear_records(leads, 2);
    clear_records(meetings, 2);
    clear_records(erase, 1);
}
END_TEST

/* A sink learns which record a lead is (HubSpot's 409 "Existing ID: N"), while the same
 * instance's poll had already read that record into a lead of its own: one person, one
 * lead. A lead anyone else knows keeps the identity. */
START_TEST(test_store_identity_put_folds_the_lead_that_was_only_that_identity)
{
    /* the CRM's poll read contact N (its primary address); the hub's lead has another */
    struct event_record polled[] = {
        record_of("crm", "{\"type\":\"lead.updated\",\"source_id\":\"c-N\",\"occurred_at\":"
                         "\"2026-11-27T09:00:00Z\",\"lead\":{\"external_id\":\"N\",\"email\":"
                         "\"grace.hopper@navy.example\",\"last_name\":\"Hopper\"}}")};
    struct event_record hub[] = {
        record_of("inbound", LEAD("l1", "grace@navy.example", ",\"first_name\":\"Grace\""))};
    write_ok(polled, 1);
    write_ok(hub, 1);
    ck_assert_int_ne(polled[0].lead_id, hub[0].lead_id);
    char *error = NULL;
    ck_assert_int_eq(store_identity_put(store, "crm", "N", hub[0].lead_id, &error), STORE_OK);
    free(error);
    char *sql = util_printf("SELECT concat_ws('|', l.id = %lld, l.email, l.first_name, "
                            "l.last_name) FROM lead_identities i JOIN leads l ON l.id = i.lead_id "
                            "WHERE i.source = 'crm' AND i.external_id = 'N'",
                            (long long)hub[0].lead_id);
    char *holder = testdb_text(check_conn, sql);
    ck_assert_str_eq(holder, "t|grace@navy.example|Grace|Hopper");
    free(holder);
    free(sql);
    ck_assert_int_eq(testdb_scalar(check_conn, "SELECT count(*) FROM leads"), 1);
    ck_assert_int_eq(testdb_scalar(check_conn, "SELECT count(*) FROM lead_addresses WHERE "
                                               "email = 'grace.hopper@navy.example'"),
                     1);
    ck_assert_int_eq(testdb_scalar(check_conn, "SELECT count(DISTINCT lead_id) FROM events"), 1);
    /* said again: nothing changes */
    ck_assert_int_eq(store_identity_put(store, "crm", "N", hub[0].lead_id, &error), STORE_OK);
    ck_assert_int_eq(testdb_scalar(check_conn, "SELECT count(*) FROM leads"), 1);

    /* a lead another source knows is a person of its own: the identity stays with it */
    struct event_record other[] = {
        record_of("crm", "{\"type\":\"lead.updated\",\"source_id\":\"c-M\",\"occurred_at\":"
                         "\"2026-11-27T09:00:00Z\",\"lead\":{\"external_id\":\"M\",\"email\":"
                         "\"ada@example.com\"}}"),
        record_of("inbound", LEAD("l2", "ada@example.com", "")),
        record_of("inbound", LEAD("l3", "lovelace@example.com", ""))};
    write_ok(other, 3);
    ck_assert_int_eq(other[0].lead_id, other[1].lead_id);
    ck_assert_int_eq(store_identity_put(store, "crm", "M", other[2].lead_id, &error), STORE_OK);
    ck_assert_int_eq(testdb_scalar(check_conn, "SELECT count(*) FROM leads"), 3);
    sql = util_printf("SELECT lead_id FROM lead_identities WHERE source = 'crm' AND "
                      "external_id = 'M'");
    ck_assert_int_eq(testdb_scalar(check_conn, sql), other[0].lead_id);
    free(sql);
    clear_records(polled, 1);
    clear_records(hub, 1);
    clear_records(other, 3);
}
END_TEST

#define PAYMENT(type, id, key)                                                                     \
    "{\"type\":\"" type "\",\"source_id\":\"" id "\",\"occurred_at\":\"2026-11-27T10:00:00Z\","    \
    "\"lead\":{\"email\":\"payer@example.com\"},\"data\":{\"amount\":1200,\"payment\":\"" key      \
    "\"}}"

START_TEST(test_store_batch_one_payment_per_what_was_paid_whichever_event_reports_it)
{
    /* a checkout naming its invoice, and that invoice's invoice.paid: one payment */
    struct event_record first[] = {
        record_of("billing", PAYMENT("payment.succeeded", "evt_c", "in_1"))};
    write_ok(first, 1);
    ck_assert(!first[0].duplicate);
    struct event_record again[] = {
        record_of("billing", PAYMENT("payment.succeeded", "evt_i", "in_1")),
        /* a failure of the same invoice is another fact; another instance's is its own */
        record_of("billing", PAYMENT("payment.failed", "evt_f", "in_1")),
        record_of("other", PAYMENT("payment.succeeded", "evt_i", "in_1")),
        /* two reports of one payment in one batch */
        record_of("billing", PAYMENT("payment.succeeded", "evt_x", "pi_2")),
        record_of("billing", PAYMENT("payment.succeeded", "evt_y", "pi_2")),
        /* refunds are not one per payment */
        record_of("billing", PAYMENT("payment.refunded", "evt_r1", "in_1")),
        record_of("billing", PAYMENT("payment.refunded", "evt_r2", "in_1")),
    };
    write_ok(again, 7);
    ck_assert(again[0].duplicate);
    ck_assert_int_eq(again[0].id, 0);
    ck_assert(!again[1].duplicate);
    ck_assert(!again[2].duplicate);
    ck_assert_int_eq(again[3].duplicate + again[4].duplicate, 1);
    ck_assert(!again[5].duplicate);
    ck_assert(!again[6].duplicate);
    ck_assert_int_eq(testdb_scalar(check_conn, "SELECT count(*) FROM events WHERE type = "
                                               "'payment.succeeded' AND source = 'billing'"),
                     2);
    ck_assert_int_eq(testdb_scalar(check_conn, "SELECT count(*) FROM events"), 6);
    /* the first report is the one kept */
    char *kept = testdb_text(check_conn, "SELECT source_id FROM events WHERE source = 'billing' "
                                         "AND type = 'payment.succeeded' AND payment_key = 'in_1'");
    ck_assert_str_eq(kept, "evt_c");
    free(kept);
    clear_records(first, 1);
    clear_records(again, 7);
}
END_TEST

/* A Stripe-like event of instance billing about customer `customer` paid from `email`,
 * naming lead `lead_id` when it is not 0. */
static struct event_record billing_event(const char *source_id, const char *email,
                                         const char *customer, long long lead_id)
{
    char *id = lead_id != 0 ? util_printf(",\"id\":%lld", lead_id) : strdup("");
    char *text = util_printf("{\"type\":\"payment.succeeded\",\"source_id\":\"%s\","
                             "\"occurred_at\":\"2026-11-27T10:00:00Z\",\"lead\":{\"email\":\"%s\","
                             "\"external_id\":\"%s\",\"company\":\"Northwind\"%s}}",
                             source_id, email, customer, id);
    struct event_record r = record_of("billing", text);
    free(text);
    free(id);
    return r;
}

START_TEST(test_store_batch_a_lead_that_was_only_an_identity_merges_into_the_lead_named)
{
    /* the lead the business knows */
    struct event_record known[] = {
        record_of("inbound", LEAD("f1", "priya@example.com", ",\"first_name\":\"Priya\""))};
    write_ok(known, 1);
    long long a = known[0].lead_id;
    /* the Stripe customer, created before its Checkout, from the payer's address; its
     * first invoice; and a score the hub gave it meanwhile */
    struct event_record customer[] = {billing_event("evt_cus", "billing@example.com", "cus_X", 0),
                                      billing_event("evt_inv1", "billing@example.com", "cus_X", 0)};
    write_ok(customer, 2);
    long long b = customer[0].lead_id;
    ck_assert(b > 0 && b != a);
    ck_assert_int_eq(customer[1].lead_id, b);
    char *text = util_printf("{\"type\":\"lead.scored\",\"source_id\":\"%lld:h1\","
                             "\"occurred_at\":\"2026-11-27T10:00:00Z\",\"lead\":{\"id\":%lld}}",
                             b, b);
    struct event_record scored[] = {record_of("fit", text)};
    free(text);
    write_ok(scored, 1);
    char *sql = util_printf("INSERT INTO deliveries (event_id, destination, route, lead_id) "
                            "SELECT id, 'crm', 'r', lead_id FROM events WHERE lead_id = %lld",
                            b);
    testdb_exec(check_conn, sql);
    free(sql);

    /* the Checkout names the lead it was made for: cus_X is that lead's */
    struct event_record checkout[] = {billing_event("evt_cs", "billing@example.com", "cus_X", a)};
    write_ok(checkout, 1);
    ck_assert_int_eq(checkout[0].lead_id, a);
    sql = util_printf("SELECT count(*) FROM leads WHERE id = %lld", b);
    ck_assert_int_eq(testdb_scalar(check_conn, sql), 0);
    free(sql);
    sql = util_printf("SELECT count(*) FROM events WHERE lead_id = %lld", a);
    ck_assert_int_eq(testdb_scalar(check_conn, sql), 5);
    free(sql);
    sql = util_printf("SELECT count(*) FROM deliveries WHERE lead_id = %lld", a);
    ck_assert_int_eq(testdb_scalar(check_conn, sql), 3);
    free(sql);
    sql = util_printf("SELECT lead_id FROM lead_identities WHERE external_id = 'cus_X'");
    ck_assert_int_eq(testdb_scalar(check_conn, sql), a);
    free(sql);
    /* the lead keeps its email and name, records the payer's address, takes the company */
    sql = util_printf("SELECT email || '|' || first_name || '|' || company FROM leads WHERE id = "
                      "%lld",
                      a);
    char *lead = testdb_text(check_conn, sql);
    ck_assert_str_eq(lead, "priya@example.com|Priya|Northwind");
    free(lead);
    free(sql);
    sql = util_printf("SELECT count(*) FROM lead_addresses WHERE lead_id = %lld AND email = "
                      "'billing@example.com'",
                      a);
    ck_assert_int_eq(testdb_scalar(check_conn, sql), 1);
    free(sql);
    /* renewals, from the payer's address, are the same lead's */
    struct event_record renewal[] = {billing_event("evt_inv2", "billing@example.com", "cus_X", 0)};
    write_ok(renewal, 1);
    ck_assert_int_eq(renewal[0].lead_id, a);
    ck_assert_int_eq(testdb_scalar(check_conn, "SELECT count(*) FROM leads"), 1);
    clear_records(known, 1);
    clear_records(customer, 2);
    clear_records(scored, 1);
    clear_records(checkout, 1);
    clear_records(renewal, 1);
}
END_TEST

START_TEST(test_store_batch_a_lead_known_elsewhere_is_never_merged)
{
    struct event_record known[] = {record_of("inbound", LEAD("f1", "priya@example.com", ""))};
    write_ok(known, 1);
    long long a = known[0].lead_id;
    /* the accounts department wrote to us before it paid: a person of its own */
    struct event_record other[] = {record_of("inbound", LEAD("f2", "billing@example.com", "")),
                                   billing_event("evt_cus", "billing@example.com", "cus_X", 0)};
    write_ok(other, 2);
    long long b = other[0].lead_id;
    ck_assert_int_eq(other[1].lead_id, b);
    struct event_record checkout[] = {billing_event("evt_cs", "billing@example.com", "cus_X", a)};
    write_ok(checkout, 1);
    /* the payment is the named lead's; the identity and the other lead stay as they were */
    ck_assert_int_eq(checkout[0].lead_id, a);
    ck_assert_int_eq(testdb_scalar(check_conn, "SELECT count(*) FROM leads"), 2);
    ck_assert_int_eq(
        testdb_scalar(check_conn,
                      "SELECT lead_id FROM lead_identities WHERE external_id = 'cus_X'"),
        b);
    clear_records(known, 1);
    clear_records(other, 2);
    clear_records(checkout, 1);
}
END_TEST

START_TEST(test_store_batch_an_identity_without_email_merges_into_the_lead_its_email_names)
{
    /* a customer known by name only; later its address arrives, and it is a known lead's */
    struct event_record known[] = {record_of("inbound", LEAD("f1", "priya@example.com", ""))};
    write_ok(known, 1);
    struct event_record named[] = {record_of(
        "billing", "{\"type\":\"customer.created\",\"source_id\":\"evt_1\",\"occurred_at\":"
                   "\"2026-11-27T09:00:00Z\",\"lead\":{\"external_id\":\"cus_Y\","
                   "\"first_name\":\"Priya\"}}")};
    write_ok(named, 1);
    ck_assert(named[0].lead_id > 0 && named[0].lead_id != known[0].lead_id);
    struct event_record updated[] = {
        record_of("billing", "{\"type\":\"lead.updated\",\"source_id\":\"evt_2\",\"occurred_at\":"
                             "\"2026-11-27T10:00:00Z\",\"lead\":{\"external_id\":\"cus_Y\","
                             "\"email\":\"priya@example.com\"}}")};
    write_ok(updated, 1);
    ck_assert_int_eq(updated[0].lead_id, known[0].lead_id);
    ck_assert_int_eq(testdb_scalar(check_conn, "SELECT count(*) FROM leads"), 1);
    ck_assert_int_eq(testdb_scalar(check_conn, "SELECT count(*) FROM events WHERE lead_id IS NULL"),
                     0);
    clear_records(known, 1);
    clear_records(named, 1);
    clear_records(updated, 1);
}
END_TEST

/* --- what a source did to its records of people: lead.deleted, lead.merged ----------- */

/* A CRM contact `id` seen at `at` (HH:MM), with `email` ("" for none) and a first name. */
static struct event_record crm_contact(const char *id, const char *at, const char *email)
{
    char *text = util_printf("{\"type\":\"lead.updated\",\"source_id\":\"contact:%s:%s\","
                             "\"occurred_at\":\"2026-11-27T%s:00Z\",\"lead\":{\"external_id\":"
                             "\"%s\",\"first_name\":\"N%s\"%s%s%s}}",
                             id, at, at, id, id, email[0] ? ",\"email\":\"" : "", email,
                             email[0] ? "\"" : "");
    struct event_record r = record_of("crm", text);
    free(text);
    return r;
}

static struct event_record crm_deleted(const char *id, const char *at)
{
    char *text = util_printf("{\"type\":\"lead.deleted\",\"source_id\":\"contact.deleted:%s:%s\","
                             "\"occurred_at\":\"2026-11-27T%s:00Z\",\"lead\":{\"external_id\":"
                             "\"%s\"}}",
                             id, at, at, id);
    struct event_record r = record_of("crm", text);
    free(text);
    return r;
}

static struct event_record crm_merged(const char *kept, const char *merged, const char *at)
{
    char *text = util_printf("{\"type\":\"lead.merged\",\"source_id\":\"contact.merge:%s:%s\","
                             "\"occurred_at\":\"2026-11-27T%s:00Z\",\"lead\":{\"external_id\":"
                             "\"%s\"},\"data\":{\"merged_external_ids\":[%s]}}",
                             kept, at, at, kept, merged);
    struct event_record r = record_of("crm", text);
    free(text);
    return r;
}

static long long identity_of(const char *external_id)
{
    char *sql = util_printf("SELECT coalesce((SELECT lead_id FROM lead_identities WHERE source = "
                            "'crm' AND external_id = '%s'), 0)",
                            external_id);
    long long lead = testdb_scalar(check_conn, sql);
    free(sql);
    return lead;
}

static long long events_of(long long lead)
{
    char *sql = util_printf("SELECT count(*) FROM events WHERE lead_id = %lld", lead);
    long long n = testdb_scalar(check_conn, sql);
    free(sql);
    return n;
}

START_TEST(test_store_batch_a_deleted_record_loses_its_identity_and_the_lead_keeps_its_history)
{
    struct event_record seen[] = {crm_contact("501", "09:00", "ada@example.com"),
                                  crm_contact("777", "09:00", "bob@example.com")};
    write_ok(seen, 2);
    long long a = seen[0].lead_id;
    ck_assert_int_eq(identity_of("501"), a);
    struct event_record deleted[] = {crm_deleted("501", "10:00")};
    write_ok(deleted, 1);
    /* recorded on the lead; the lead, its fields and history stay; the id names nobody */
    ck_assert_int_eq(deleted[0].lead_id, a);
    ck_assert_int_eq(identity_of("501"), 0);
    ck_assert_int_eq(identity_of("777"), seen[1].lead_id);
    ck_assert_int_eq(events_of(a), 2);
    ck_assert_int_eq(testdb_scalar(check_conn, "SELECT count(*) FROM leads WHERE email = "
                                               "'ada@example.com' AND first_name = 'N501'"),
                     1);
    /* the deletion sent again changes nothing */
    struct event_record again[] = {crm_deleted("501", "10:00")};
    write_ok(again, 1);
    ck_assert(again[0].duplicate);
    /* a later write with that id and no address no longer lands on the lead */
    struct event_record later[] = {crm_contact("501", "11:00", "")};
    write_ok(later, 1);
    ck_assert(later[0].lead_id != a);
    /* a deletion in the same batch as an older sighting of the record is not undone by it */
    struct event_record batch[] = {crm_contact("777", "12:00", "bob@example.com"),
                                   crm_deleted("777", "12:30")};
    write_ok(batch, 2);
    ck_assert_int_eq(identity_of("777"), 0);
    ck_assert_int_eq(batch[1].lead_id, seen[1].lead_id);
    clear_records(seen, 2);
    clear_records(deleted, 1);
    clear_records(again, 1);
    clear_records(later, 1);
    clear_records(batch, 2);
}
END_TEST

START_TEST(test_store_batch_a_merge_folds_a_lead_that_was_only_the_merged_record)
{
    struct event_record seen[] = {crm_contact("501", "09:00", "ada@example.com"),
                                  crm_contact("502", "09:00", "ada@work.example")};
    write_ok(seen, 2);
    long long a = seen[0].lead_id, b = seen[1].lead_id;
    ck_assert(a != b);
    struct event_record merged[] = {crm_merged("501", "\"502\"", "10:00")};
    write_ok(merged, 1);
    ck_assert_int_eq(merged[0].lead_id, a);
    ck_assert_int_eq(identity_of("502"), a);
    ck_assert_int_eq(testdb_scalar(check_conn, "SELECT count(*) FROM leads"), 1);
    ck_assert_int_eq(events_of(a), 3);
    /* the merged record's address is one of the lead's */
    char *sql = util_printf("SELECT count(*) FROM lead_addresses WHERE lead_id = %lld AND "
                            "email = 'ada@work.example'",
                            a);
    ck_assert_int_eq(testdb_scalar(check_conn, sql), 1);
    free(sql);
    /* a later event naming the merged id lands on the kept lead */
    struct event_record later[] = {crm_contact("502", "11:00", "")};
    write_ok(later, 1);
    ck_assert_int_eq(later[0].lead_id, a);
    clear_records(seen, 2);
    clear_records(merged, 1);
    clear_records(later, 1);
}
END_TEST

START_TEST(test_store_batch_a_merge_moves_only_the_identity_of_a_lead_known_elsewhere)
{
    struct event_record seen[] = {crm_contact("501", "09:00", "ada@example.com"),
                                  crm_contact("502", "09:00", "ada@work.example"),
                                  record_of("inbound", LEAD("f1", "ada@work.example", ""))};
    write_ok(seen, 3);
    long long a = seen[0].lead_id, b = seen[1].lead_id;
    ck_assert_int_eq(seen[2].lead_id, b);
    /* the kept id is new (HubSpot may give a merge a new id): the first merged one's lead
     * takes it, and the rest follow */
    struct event_record merged[] = {crm_merged("900", "\"501\", \"502\"", "10:00"),
                                    crm_contact("502", "10:30", "")};
    write_ok(merged, 2);
    ck_assert_int_eq(merged[0].lead_id, a);
    ck_assert_int_eq(identity_of("900"), a);
    ck_assert_int_eq(identity_of("501"), a);
    ck_assert_int_eq(identity_of("502"), a);
    ck_assert_int_eq(merged[1].lead_id, a);
    /* the other lead is a person of its own: kept, with its history */
    ck_assert_int_eq(testdb_scalar(check_conn, "SELECT count(*) FROM leads"), 2);
    ck_assert_int_eq(events_of(b), 2);
    clear_records(seen, 3);
    clear_records(merged, 2);
}
END_TEST

START_TEST(test_store_batch_record_events_name_the_record_alone)
{
    static const char *const refused[] = {
        "{\"type\":\"lead.deleted\",\"source_id\":\"d1\",\"occurred_at\":\"2026-11-27T10:00:00Z\","
        "\"lead\":{\"external_id\":\"501\",\"email\":\"ada@example.com\"}}",
        "{\"type\":\"lead.deleted\",\"source_id\":\"d1\",\"occurred_at\":\"2026-11-27T10:00:00Z\"}",
        "{\"type\":\"lead.merged\",\"source_id\":\"m1\",\"occurred_at\":\"2026-11-27T10:00:00Z\","
        "\"lead\":{\"external_id\":\"501\"}}",
        "{\"type\":\"lead.merged\",\"source_id\":\"m1\",\"occurred_at\":\"2026-11-27T10:00:00Z\","
        "\"lead\":{\"external_id\":\"501\"},\"data\":{\"merged_external_ids\":[502]}}",
        "{\"type\":\"lead.merged\",\"source_id\":\"m1\",\"occurred_at\":\"2026-11-27T10:00:00Z\","
        "\"lead\":{\"external_id\":\"501\"},\"data\":{\"merged_external_ids\":[]}}",
    };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        json_t *event = json_loads(refused[i], 0, NULL);
        struct event_record r;
        char *error = NULL;
        ck_assert_msg(event_validate(event, "crm", &r, &error) != 0, "accepted: %s", refused[i]);
        free(error);
    }
}
END_TEST

START_TEST(test_store_events_in_a_callers_transaction_resolve_leads_named_by_id)
{
    /* the scoring engine writes lead.scored events inside its own transaction */
    struct event_record first[] = {record_of("inbound", LEAD("l1", "known@example.com", ""))};
    write_ok(first, 1);
    char *text = util_printf("{\"type\":\"lead.scored\",\"source_id\":\"%lld:h1\","
                             "\"occurred_at\":\"2026-11-27T10:00:00Z\",\"lead\":{\"id\":%lld}}",
                             (long long)first[0].lead_id, (long long)first[0].lead_id);
    struct event_record scored[] = {
        record_of("scoring", text),
        record_of("cal", MEETING_EVENT("m9")),
    };
    free(text);
    char *error = NULL;
    ck_assert_int_eq(store_begin(store, &error), STORE_OK);
    ck_assert_msg(store_write_events(store, scored, 2, NULL, NULL, &error) == STORE_OK, "write: %s",
                  error);
    ck_assert_int_eq(store_commit(store, &error), STORE_OK);
    ck_assert(!scored[0].duplicate);
    ck_assert_int_eq(scored[0].lead_id, first[0].lead_id);
    ck_assert_int_eq(testdb_scalar(check_conn, "SELECT count(*) FROM events WHERE type = "
                                               "'lead.scored' AND lead_id IS NOT NULL"),
                     1);
    ck_assert_int_eq(testdb_scalar(check_conn, "SELECT count(*) FROM meetings"), 1);
    clear_records(first, 1);
    clear_records(scored, 2);
}
END_TEST

#define MEETING(id, at, status, extra)                                                             \
    "{\"type\":\"meeting." status "\",\"source_id\":\"" id "\",\"occurred_at\":\"" at "\","        \
    "\"meeting\":{\"external_id\":\"evt-1\",\"title\":\"Intro\"" extra "}}"

START_TEST(test_store_batch_meetings_upsert_in_event_time_order)
{
    struct event_record leads[] = {record_of("inbound", LEAD("l1", "guest@example.com", ""))};
    write_ok(leads, 1);
    struct event_record r1[] = {record_of(
        "cal",
        MEETING("m1", "2026-11-27T10:00:00Z", "scheduled",
                ",\"attendees\":[{\"email\":\"guest@example.com\",\"response\":\"accepted\"},"
                "{\"email\":\"rep@us.example\"}]"))};
    write_ok(r1, 1);
    struct event_record r2[] = {
        record_of("cal", MEETING("m3", "2026-11-27T12:00:00Z", "canceled", "")),
    };
    write_ok(r2, 1);
    /* an older update arriving after the cancellation must not revive the meeting */
    struct event_record r3[] = {
        record_of("cal", MEETING("m2", "2026-11-27T11:00:00Z", "updated",
                                 ",\"title\":\"Renamed\",\"attendees\":[]")),
    };
    write_ok(r3, 1);
    char *state = testdb_text(check_conn, "SELECT status || '|' || title FROM meetings");
    ck_assert_str_eq(state, "canceled|Intro");
    free(state);
    ck_assert_int_eq(testdb_scalar(check_conn, "SELECT count(*) FROM meeting_attendees"), 2);
    ck_assert_int_eq(testdb_scalar(check_conn, "SELECT count(*) FROM meeting_attendees a JOIN "
                                               "leads l ON l.id = a.lead_id"),
                     1);
    clear_records(leads, 1);
    clear_records(r1, 1);
    clear_records(r2, 1);
    clear_records(r3, 1);
}
END_TEST

/* A meeting event of instance `instance` at `at` for meeting "mx" starting at `start`. */
static struct event_record meeting_at(const char *instance, const char *type, const char *id,
                                      const char *at, const char *start)
{
    char *text = util_printf("{\"type\":\"%s\",\"source_id\":\"%s\",\"occurred_at\":\"%s\","
                             "\"meeting\":{\"external_id\":\"mx\",\"starts_at\":\"%s\"}}",
                             type, id, at, start);
    struct event_record r = record_of(instance, text);
    free(text);
    return r;
}

static char *meeting_state(void)
{
    return testdb_text(
        check_conn, "SELECT status || '|' || to_char(starts_at AT TIME ZONE 'UTC', 'HH24:MI') || "
                    "'|' || coalesce(to_char(previous_starts_at AT TIME ZONE 'UTC', "
                    "'HH24:MI'), '-') FROM meetings WHERE external_id = 'mx'");
}

START_TEST(test_store_batch_meeting_outcomes_follow_what_each_event_says)
{
    const char *expected[] = {
        "scheduled|15:00|-",       /* booked */
        "rescheduled|16:00|15:00", /* moved: the start before kept */
        "rescheduled|16:00|15:00", /* the calendar re-sends it: still rescheduled */
        "held|16:00|15:00",        /* the CRM says it was held */
        "held|16:00|15:00",        /* a later re-send of the calendar entry undoes nothing */
        "no_show|16:00|15:00",     /* the CRM corrects itself: no-show */
        "canceled|16:00|15:00",    "scheduled|16:00|15:00", /* booked again */
    };
    struct event_record steps[] = {
        meeting_at("cal", "meeting.scheduled", "a1", "2026-11-27T09:00:00Z",
                   "2026-11-28T15:00:00Z"),
        meeting_at("cal", "meeting.updated", "a2", "2026-11-27T09:10:00Z", "2026-11-28T16:00:00Z"),
        meeting_at("cal", "meeting.updated", "a3", "2026-11-27T09:20:00Z", "2026-11-28T16:00:00Z"),
        meeting_at("cal", "meeting.held", "a4", "2026-11-28T17:00:00Z", "2026-11-28T16:00:00Z"),
        meeting_at("cal", "meeting.updated", "a5", "2026-11-28T18:00:00Z", "2026-11-28T16:00:00Z"),
        meeting_at("cal", "meeting.no_show", "a6", "2026-11-28T19:00:00Z", "2026-11-28T16:00:00Z"),
        meeting_at("cal", "meeting.canceled", "a7", "2026-11-28T20:00:00Z", "2026-11-28T16:00:00Z"),
        meeting_at("cal", "meeting.scheduled", "a8", "2026-11-28T21:00:00Z",
                   "2026-11-28T16:00:00Z"),
    };
    for (size_t i = 0; i < UTIL_ARRAY_LEN(steps); i++) {
        write_ok(&steps[i], 1);
        char *state = meeting_state();
        ck_assert_msg(strcmp(state, expected[i]) == 0, "after %s: %s, expected %s", steps[i].type,
                      state, expected[i]);
        free(state);
    }
    /* a status a CRM gives in the meeting itself is taken too */
    struct event_record crm[] = {record_of(
        "cal",
        "{\"type\":\"meeting.updated\",\"source_id\":\"a9\",\"occurred_at\":"
        "\"2026-11-28T22:00:00Z\",\"meeting\":{\"external_id\":\"mx\",\"status\":\"held\"}}")};
    write_ok(crm, 1);
    char *state = meeting_state();
    ck_assert_str_eq(state, "held|16:00|15:00");
    free(state);
    clear_records(steps, UTIL_ARRAY_LEN(steps));
    clear_records(crm, 1);
}
END_TEST

START_TEST(test_store_batch_commits_checkpoints_with_events_last_put_wins)
{
    struct event_record r[] = {record_of("inbound", LEAD("k1", "k@example.com", ""))};
    struct store_checkpoint cps[] = {
        {"inbound", "cursor", json_integer(1)},
        {"inbound", "cursor", json_integer(2)},
        {"inbound", "page", json_string("abc")},
    };
    char *error = NULL;
    ck_assert_int_eq(
        store_write_batch(store, r, 1,
                          &(struct store_writes){.checkpoints = cps, .checkpoint_count = 3}, NULL,
                          NULL, &error),
        STORE_OK);
    json_t *value = NULL;
    ck_assert_int_eq(store_checkpoint_get(store, "inbound", "cursor", &value, &error), STORE_OK);
    ck_assert_int_eq(json_integer_value(value), 2);
    json_decref(value);
    ck_assert_int_eq(store_checkpoint_get(store, "inbound", "missing", &value, &error), STORE_OK);
    ck_assert_ptr_null(value);
    for (size_t i = 0; i < 3; i++) {
        json_decref(cps[i].value);
    }
    clear_records(r, 1);
}
END_TEST

/* A trigger that fails the events insert of the event with source_id 'poison'. */
static void install_poison(void)
{
    PGresult *res =
        PQexec(check_conn, "CREATE FUNCTION fail_poison() RETURNS trigger LANGUAGE plpgsql AS "
                           "$$BEGIN IF NEW.source_id = 'poison' THEN RAISE EXCEPTION 'poisoned'; "
                           "END IF; RETURN NEW; END$$;"
                           "CREATE TRIGGER poison BEFORE INSERT ON events FOR EACH ROW "
                           "EXECUTE FUNCTION fail_poison();");
    ck_assert_int_eq(PQresultStatus(res), PGRES_COMMAND_OK);
    PQclear(res);
}

START_TEST(test_store_batch_failure_stores_nothing_at_all)
{
    /* the leads upserted before the failing insert, in the same transaction, vanish too */
    install_poison();
    struct event_record r[] = {
        record_of("inbound", LEAD("ok", "fine@example.com", "")),
        record_of("inbound", LEAD("poison", "bad@example.com", "")),
    };
    struct store_checkpoint cps[] = {{"inbound", "cursor", json_integer(9)}};
    char *error = NULL;
    ck_assert_int_eq(
        store_write_batch(store, r, 2,
                          &(struct store_writes){.checkpoints = cps, .checkpoint_count = 1}, NULL,
                          NULL, &error),
        STORE_REJECTED);
    ck_assert_ptr_nonnull(strstr(error, "poisoned"));
    free(error);
    ck_assert_int_eq(r[0].id, 0);
    ck_assert_int_eq(testdb_scalar(check_conn, "SELECT count(*) FROM events"), 0);
    ck_assert_int_eq(testdb_scalar(check_conn, "SELECT count(*) FROM leads"), 0);
    ck_assert_int_eq(testdb_scalar(check_conn, "SELECT count(*) FROM connector_state"), 0);
    /* and the connection is usable for the next batch */
    struct event_record next[] = {record_of("inbound", LEAD("ok", "fine@example.com", ""))};
    write_ok(next, 1);
    ck_assert_int_eq(testdb_scalar(check_conn, "SELECT count(*) FROM events"), 1);
    json_decref(cps[0].value);
    clear_records(r, 2);
    clear_records(next, 1);
}
END_TEST

START_TEST(test_store_batch_with_steps_failure_stores_nothing_at_all)
{
    /* A meeting and a lead known only by its identity make the batch take several round
     * trips in one explicit transaction: a failure still leaves nothing behind. */
    install_poison();
    struct event_record r[] = {
        record_of("cal", MEETING("m1", "2026-11-27T10:00:00Z", "scheduled", "")),
        record_of("billing", "{\"type\":\"customer.created\",\"source_id\":\"c1\","
                             "\"occurred_at\":\"2026-11-27T10:00:00Z\","
                             "\"lead\":{\"external_id\":\"cus_1\",\"first_name\":\"Ada\"}}"),
        record_of("inbound", LEAD("poison", "bad@example.com", "")),
    };
    char *error = NULL;
    ck_assert_int_eq(store_write_batch(store, r, 3, NULL, NULL, NULL, &error), STORE_REJECTED);
    ck_assert_ptr_nonnull(strstr(error, "poisoned"));
    free(error);
    static const char *const tables[] = {"events", "leads", "lead_identities", "meetings"};
    for (size_t i = 0; i < 4; i++) {
        char *sql = util_printf("SELECT count(*) FROM %s", tables[i]);
        ck_assert_msg(testdb_scalar(check_conn, sql) == 0, "%s is not empty", tables[i]);
        free(sql);
    }
    /* the connection is back in a clean state: the same batch without the poison commits */
    struct event_record next[] = {
        record_of("cal", MEETING("m1", "2026-11-27T10:00:00Z", "scheduled", "")),
        record_of("billing", "{\"type\":\"customer.created\",\"source_id\":\"c1\","
                             "\"occurred_at\":\"2026-11-27T10:00:00Z\","
                             "\"lead\":{\"external_id\":\"cus_1\",\"first_name\":\"Ada\"}}"),
    };
    write_ok(next, 2);
    ck_assert(!next[0].duplicate && !next[1].duplicate);
    ck_assert_int_ne(next[1].lead_id, 0);
    ck_assert_int_eq(testdb_scalar(check_conn, "SELECT count(*) FROM meetings"), 1);
    ck_assert_int_eq(testdb_scalar(check_conn, "SELECT count(*) FROM lead_identities"), 1);
    clear_records(r, 3);
    clear_records(next, 2);
}
END_TEST

START_TEST(test_store_unreachable_database_is_unavailable)
{
    char *error = NULL;
    struct store *s = store_open("postgresql://postgres:hunter2@127.0.0.1:1/none", &error);
    ck_assert_ptr_null(s);
    ck_assert_ptr_nonnull(error);
    ck_assert_ptr_null(strstr(error, "hunter2"));
    free(error);
    char *redacted = store_redact_url("postgresql://u:hunter2@h:5/db");
    ck_assert_str_eq(redacted, "postgresql://u:****@h:5/db");
    free(redacted);
    redacted = store_redact_url("host=h password=hunter2 dbname=x");
    ck_assert_str_eq(redacted, "host=h password=**** dbname=x");
    free(redacted);
}
END_TEST

static void assert_redacted(const char *url, const char *expected)
{
    char *redacted = store_redact_url(url);
    ck_assert_ptr_nonnull(redacted);
    ck_assert_str_eq(redacted, expected);
    free(redacted);
}

START_TEST(test_store_redact_url_masks_every_way_of_writing_a_password)
{
    assert_redacted("postgresql://u:hunter2@h:5/db", "postgresql://u:****@h:5/db");
    assert_redacted("postgres://u:hunter2@h/db?sslmode=require",
                    "postgres://u:****@h/db?sslmode=require");
    assert_redacted("postgresql://u@h/db?sslmode=disable&password=hunter2&connect_timeout=3",
                    "postgresql://u@h/db?sslmode=disable&password=****&connect_timeout=3");
    assert_redacted("postgresql://u@h/db?pass%77ord=hunter2",
                    "postgresql://u@h/db?pass%77ord=****");
    assert_redacted("postgresql://u@h/db", "postgresql://u@h/db");
    assert_redacted("host=h password=hunter2 dbname=x", "host=h password=**** dbname=x");
    assert_redacted("host=h password = 'hun ter\\'2' dbname=x",
                    "host=h password = '****' dbname=x");
    assert_redacted("host=h user=u", "host=h user=u");
}
END_TEST

START_TEST(test_store_connection_errors_never_quote_the_password)
{
    /* libpq quotes what it cannot parse: a token, or the whole URI */
    static const char *const urls[] = {
        "postgresql://u:hun%zzter2@127.0.0.1:1/x",
        "postgresql://u:hunter2@[::1/x",
        "postgresql://u@127.0.0.1:1/x?password=hunter2&bogus=1",
        "host=127.0.0.1 port=1 password='hunter2' bogus=1",
        "postgresql://u:hunter2@127.0.0.1:1/x",
    };
    for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
        char *error = NULL;
        struct store *s = store_open(urls[i], &error);
        ck_assert_ptr_null(s);
        ck_assert_ptr_nonnull(error);
        ck_assert_msg(strstr(error, "hunter2") == NULL && strstr(error, "zzter2") == NULL,
                      "%s -> %s", urls[i], error);
        free(error);
    }
    char *masked = store_redact_message("postgresql://u:hun%zzter2@h/x",
                                        "invalid percent-encoded token: \"hun%zzter2\"");
    ck_assert_str_eq(masked, "invalid percent-encoded token: \"****\"");
    free(masked);
}
END_TEST

START_TEST(test_store_reconnects_after_the_connection_is_killed)
{
    /* this test's own connection: the server may be shared with other daemons */
    long pid = testdb_scalar(check_conn, "SELECT pid FROM pg_stat_activity WHERE "
                                         "application_name LIKE 'leadhubd/%' AND "
                                         "datname = current_database() LIMIT 1");
    char *sql = util_printf("SELECT pg_terminate_backend(%ld)", pid);
    testdb_scalar(check_conn, "SELECT 1");
    PQclear(PQexec(check_conn, sql));
    free(sql);
    struct event_record r[] = {record_of("inbound", LEAD("r1", "r@example.com", ""))};
    char *error = NULL;
    ck_assert_int_eq(store_write_batch(store, r, 1, NULL, NULL, NULL, &error), STORE_UNAVAILABLE);
    free(error);
    ck_assert_int_eq(store_ensure(store, NULL), STORE_OK);
    write_ok(r, 1);
    ck_assert_int_eq(testdb_scalar(check_conn, "SELECT count(*) FROM events"), 1);
    clear_records(r, 1);
}
END_TEST

/* What jsonb prints back: 1e20 as the integer 100000000000000000000, beyond json_int_t.
 * store_json_loads() decodes it as a real, and only it: the other numbers of that text
 * keep their kind; ordinary texts keep their integers; a number beyond a double is an
 * error, not a crash. */
START_TEST(test_store_json_loads_reads_what_jsonb_prints_back)
{
    char *big = testdb_text(check_conn, "SELECT '{\"big\": 1e20, \"n\": 42}'::jsonb::text");
    ck_assert_str_eq(big, "{\"n\": 42, \"big\": 100000000000000000000}");
    ck_assert_ptr_null(json_loads(big, 0, NULL)); /* what the plain decode does */
    json_error_t error;
    json_t *value = store_json_loads(big, 0, &error);
    ck_assert_msg(value != NULL, "%s", error.text);
    ck_assert(json_is_real(json_object_get(value, "big")));
    ck_assert(json_real_value(json_object_get(value, "big")) == 1e20);
    ck_assert(json_is_integer(json_object_get(value, "n")));
    ck_assert_int_eq(json_integer_value(json_object_get(value, "n")), 42);
    json_decref(value);
    free(big);

    /* the edges of json_int_t stay integers; strings that look like numbers stay strings */
    value = store_json_loads("{\"min\": -9223372036854775808, \"max\": 9223372036854775807, "
                             "\"past\": -9223372036854775809, \"s\": \"100000000000000000000\", "
                             "\"a\": [1, 100000000000000000000, 2.5e3, -0.0]}",
                             0, &error);
    ck_assert_msg(value != NULL, "%s", error.text);
    ck_assert(json_is_integer(json_object_get(value, "min")));
    ck_assert(json_is_integer(json_object_get(value, "max")));
    ck_assert(json_is_real(json_object_get(value, "past")));
    ck_assert_str_eq(json_string_value(json_object_get(value, "s")), "100000000000000000000");
    const json_t *a = json_object_get(value, "a");
    ck_assert(json_is_integer(json_array_get(a, 0)));
    ck_assert(json_real_value(json_array_get(a, 1)) == 1e20);
    ck_assert(json_real_value(json_array_get(a, 2)) == 2500.0);
    json_decref(value);

    char *plain = testdb_text(check_conn, "SELECT '{\"n\": 42, \"x\": 1.5}'::jsonb::text");
    value = store_json_loads(plain, 0, NULL);
    ck_assert(json_is_integer(json_object_get(value, "n")));
    ck_assert_int_eq(json_integer_value(json_object_get(value, "n")), 42);
    ck_assert(json_is_real(json_object_get(value, "x")));
    json_decref(value);
    free(plain);

    char *huge = testdb_text(check_conn, "SELECT '{\"n\": 1e400}'::jsonb::text");
    ck_assert_ptr_null(store_json_loads(huge, 0, &error));
    ck_assert(error.text[0] != '\0');
    free(huge);
}
END_TEST

/* The value libpq uses for `keyword` on conn ("" when unset). */
static char *conninfo_value(PGconn *conn, const char *keyword)
{
    PQconninfoOption *options = PQconninfo(conn);
    char *value = NULL;
    for (PQconninfoOption *o = options; o != NULL && o->keyword != NULL; o++) {
        if (strcmp(o->keyword, keyword) == 0) {
            value = strdup(o->val != NULL ? o->val : "");
        }
    }
    PQconninfoFree(options);
    ck_assert_ptr_nonnull(value);
    return value;
}

static char *show(PGconn *conn, const char *setting)
{
    char *sql = util_printf("SHOW %s", setting);
    char *value = testdb_text(conn, sql);
    free(sql);
    return value;
}

/* A hung or vanished database cannot hold a session for ever: every connection notices a
 * dead peer (keepalives, tcp_user_timeout), gives up connecting, and the daemon's sessions
 * have a statement timeout. */
START_TEST(test_store_sessions_have_timeouts_and_keepalives)
{
    char *error = NULL;
    store_set_statement_timeout(STORE_STATEMENT_TIMEOUT_MS);
    PGconn *conn = store_connect(db_url, &error);
    ck_assert_msg(conn != NULL, "store_connect: %s", error);
    const char *expected[][2] = {{"connect_timeout", STORE_CONNECT_TIMEOUT_S},
                                 {"keepalives", "1"},
                                 {"keepalives_idle", STORE_KEEPALIVES_IDLE_S},
                                 {"keepalives_interval", STORE_KEEPALIVES_INTERVAL_S},
                                 {"keepalives_count", STORE_KEEPALIVES_COUNT},
                                 {"tcp_user_timeout", STORE_TCP_USER_TIMEOUT_MS}};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(expected); i++) {
        char *value = conninfo_value(conn, expected[i][0]);
        ck_assert_msg(strcmp(value, expected[i][1]) == 0, "%s = %s, expected %s", expected[i][0],
                      value, expected[i][1]);
        free(value);
    }
    char *timeout = show(conn, "statement_timeout");
    ck_assert_str_eq(timeout, "1min");
    free(timeout);
    PQfinish(conn);

    /* a store reconnecting gets the same */
    PQclear(PQexec(check_conn, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                               "WHERE application_name LIKE 'leadhubd%' AND datname = "
                               "current_database() "
                               "AND pid <> pg_backend_pid()"));
    ck_assert_int_eq(store_ensure(store, NULL), STORE_OK);
    PGresult *result = NULL;
    if (store_exec(store, "show_timeout", "SHOW statement_timeout", 0, NULL, &result, &error) !=
        STORE_OK) {
        /* the first use may find the killed connection: once more, reconnected */
        free(error);
        error = NULL;
        ck_assert_int_eq(store_ensure(store, NULL), STORE_OK);
        ck_assert_int_eq(
            store_exec(store, "show_timeout", "SHOW statement_timeout", 0, NULL, &result, &error),
            STORE_OK);
    }
    store_set_statement_timeout(0);
    ck_assert_str_eq(PQgetvalue(result, 0, 0), "1min");
    PQclear(result);
}
END_TEST

/* An operator's own statement timeout (the role's, the database's, the URL's) is kept. */
START_TEST(test_store_keeps_a_statement_timeout_the_database_gives)
{
    char *dbname = testdb_text(check_conn, "SELECT current_database()");
    char *sql = util_printf("ALTER DATABASE \"%s\" SET statement_timeout = '7s'", dbname);
    PQclear(PQexec(check_conn, sql));
    free(sql);
    free(dbname);
    store_set_statement_timeout(STORE_STATEMENT_TIMEOUT_MS);
    char *error = NULL;
    PGconn *conn = store_connect(db_url, &error);
    store_set_statement_timeout(0);
    ck_assert_msg(conn != NULL, "store_connect: %s", error);
    char *timeout = show(conn, "statement_timeout");
    ck_assert_str_eq(timeout, "7s");
    free(timeout);
    PQfinish(conn);

    /* and the command-line tools, which set none, leave the server's default */
    conn = store_connect(db_url, &error);
    ck_assert_ptr_nonnull(conn);
    timeout = show(conn, "statement_timeout");
    ck_assert_str_eq(timeout, "7s");
    free(timeout);
    PQfinish(conn);
}
END_TEST

/* --- poll leases: ownership as a fence -------------------------------------------------- */

static long long fence_of(const char *instance)
{
    char *sql = util_printf("SELECT fence FROM poll_leases WHERE instance = '%s'", instance);
    long long fence = testdb_scalar(check_conn, sql);
    free(sql);
    return fence;
}

/* A lease whose session was just closed is free once its backend has gone: try for a while. */
static int acquire_within(PGconn *conn, const char *instance, const char *owner,
                          struct poll_lease *lease, int64_t ms)
{
    int64_t until = util_monotonic_ms() + ms;
    for (;;) {
        char *error = NULL;
        int rc = poll_lease_acquire(conn, instance, owner, lease, &error);
        ck_assert_msg(rc >= 0, "%s", error ? error : "?");
        if (rc == 1 || util_monotonic_ms() >= until) {
            return rc;
        }
        struct timespec pause = {0, 20 * 1000000L};
        nanosleep(&pause, NULL);
    }
}

/* One session holds a lease; another cannot take it until the first ends; each taking
 * raises the fence. */
START_TEST(test_poll_lease_is_held_by_one_session_and_each_taking_raises_the_fence)
{
    PGconn *a = testdb_connect(db_url), *b = testdb_connect(db_url);
    struct poll_lease lease, other;
    char *error = NULL;
    ck_assert_int_eq(poll_lease_acquire(a, "pager", "replica-a", &lease, &error), 1);
    ck_assert_int_eq(lease.fence, 1);
    ck_assert(lease.legacy_held);
    ck_assert_int_eq(poll_lease_acquire(b, "pager", "replica-b", &other, &error), 0);
    ck_assert_int_eq(fence_of("pager"), 1);
    PQfinish(a); /* its locks go with the session */
    ck_assert_int_eq(acquire_within(b, "pager", "replica-b", &other, 5000), 1);
    ck_assert_int_eq(other.fence, 2);
    char *owner = testdb_text(check_conn, "SELECT owner FROM poll_leases WHERE instance = 'pager'");
    ck_assert_str_eq(owner, "replica-b");
    free(owner);
    PQfinish(b);
}
END_TEST

/* Lock keys the database hands out: two instances never share one, whatever their names
 * hash to. */
START_TEST(test_poll_lease_keys_cannot_collide)
{
    PGconn *a = testdb_connect(db_url);
    struct poll_lease one, two;
    char *error = NULL;
    ck_assert_int_eq(poll_lease_acquire(a, "one", "r", &one, &error), 1);
    ck_assert_int_eq(poll_lease_acquire(a, "two", "r", &two, &error), 1);
    ck_assert_int_ne(one.lock_id, two.lock_id);
    /* a session of this release holding the old (hashed) key of "two" (a name whose hash
     * collides) does not keep "two" from being polled */
    PGconn *b = testdb_connect(db_url), *c = testdb_connect(db_url);
    char *take =
        util_printf("SELECT pg_advisory_lock(%d, 424242), pg_advisory_lock(%d, %d)",
                    POLL_LEASE_LOCK_CLASS, POLL_LEASE_LEGACY_CLASS, poll_lease_legacy_key("three"));
    testdb_scalar(b, take);
    free(take);
    struct poll_lease three;
    ck_assert_int_eq(poll_lease_acquire(c, "three", "r", &three, &error), 1);
    ck_assert(!three.legacy_held);
    PQfinish(a);
    PQfinish(b);
    PQfinish(c);
}
END_TEST

/* While replicas of the previous release (the hashed lock alone) run, a new one leaves
 * their instances to them. */
START_TEST(test_poll_lease_leaves_an_instance_an_old_replica_polls)
{
    PGconn *old = testdb_connect(db_url), *new = testdb_connect(db_url);
    char *take = util_printf("SELECT pg_advisory_lock(%d, %d)", POLL_LEASE_LEGACY_CLASS,
                             poll_lease_legacy_key("pager"));
    testdb_scalar(old, take);
    free(take);
    struct poll_lease lease;
    char *error = NULL;
    ck_assert_int_eq(poll_lease_acquire(new, "pager", "new", &lease, &error), 0);
    PQfinish(old);
    ck_assert_int_eq(acquire_within(new, "pager", "new", &lease, 5000), 1);
    PQfinish(new);
}
END_TEST

/* A poll's batch commits only under the current fence: once another replica took the
 * lease, the old owner's events and cursor are refused, nothing stored. */
START_TEST(test_store_fenced_batch_commits_only_under_the_current_fence)
{
    PGconn *a = testdb_connect(db_url), *b = testdb_connect(db_url);
    struct poll_lease first, second;
    char *error = NULL;
    ck_assert_int_eq(poll_lease_acquire(a, "pager", "a", &first, &error), 1);
    PQfinish(a); /* its session dies while its poll goes on */
    ck_assert_int_eq(acquire_within(b, "pager", "b", &second, 5000), 1);

    struct event_record r[] = {record_of("pager", LEAD("f1", "f1@example.com", ""))};
    struct store_checkpoint cp[] = {{"pager", "cursor", json_string("c1")}};
    struct store_fence stale = {"pager", first.fence};
    struct store_writes writes = {.checkpoints = cp, .checkpoint_count = 1, .fence = &stale};
    ck_assert_int_eq(store_write_batch(store, r, 1, &writes, NULL, NULL, &error), STORE_FENCED);
    ck_assert_msg(strstr(error, "taken over") != NULL, "%s", error);
    free(error);
    error = NULL;
    ck_assert_int_eq(testdb_scalar(check_conn, "SELECT count(*) FROM events"), 0);
    ck_assert_int_eq(testdb_scalar(check_conn, "SELECT count(*) FROM connector_state"), 0);
    ck_assert_int_eq(testdb_scalar(check_conn, "SELECT count(*) FROM leads"), 0);

    /* with a notification too: the fence check before the events insert and the NOTIFY
     * select after it return rows as well, and must not be taken for the insert's */
    struct store_fence current = {"pager", second.fence};
    struct store_notification put[] = {
        {(char *)"pager", (char *)"contact:1", json_string("x"), (char *)"lh_test_pager"}};
    writes = (struct store_writes){.checkpoints = cp,
                                   .checkpoint_count = 1,
                                   .notifications = put,
                                   .notification_count = 1,
                                   .fence = &current};
    ck_assert_int_eq(store_write_batch(store, r, 1, &writes, NULL, NULL, &error), STORE_OK);
    ck_assert(!r[0].duplicate);
    ck_assert_int_gt(r[0].id, 0);
    ck_assert_int_eq(testdb_scalar(check_conn, "SELECT count(*) FROM events"), 1);
    ck_assert_int_eq(testdb_scalar(check_conn, "SELECT count(*) FROM connector_notifications"), 1);
    json_decref(put[0].value);
    json_decref(cp[0].value);
    clear_records(r, 1);
    PQfinish(b);
}
END_TEST

/* --- notifications (connector_notifications) --------------------------------------------- */

/* Writes one batch of state: puts (key=value text pairs, wake channel), takes, wakes. */
static void write_notifications(struct store_notification *puts, size_t put_count,
                                struct store_taken *taken, size_t taken_count, char **wake,
                                size_t wake_count)
{
    struct store_writes writes = {.notifications = puts,
                                  .notification_count = put_count,
                                  .taken = taken,
                                  .taken_count = taken_count,
                                  .wake = wake,
                                  .wake_count = wake_count};
    char *error = NULL;
    ck_assert_msg(store_write_batch(store, NULL, 0, &writes, NULL, NULL, &error) == STORE_OK,
                  "write: %s", error);
}

static struct store_notification put_of(const char *key, const char *value, const char *wake)
{
    return (struct store_notification){(char *)"inbox", (char *)key, json_loads(value, 0, NULL),
                                       (char *)wake};
}

static int64_t seq_of(const char *key)
{
    char *sql = util_printf("SELECT coalesce(max(seq), 0) FROM connector_notifications WHERE "
                            "instance = 'inbox' AND key = '%s'",
                            key);
    int64_t seq = testdb_scalar(check_conn, sql);
    free(sql);
    return seq;
}

/* A notification is removed by the version a poll took; a newer one stays pending, and a
 * redelivery of the same value changes nothing. */
START_TEST(test_store_notifications_are_removed_by_the_version_taken)
{
    struct store_notification puts[] = {put_of("contact:1", "{\"at\": 1}", NULL),
                                        put_of("contact:2", "{\"at\": 5}", NULL)};
    write_notifications(puts, 2, NULL, 0, NULL, 0);
    int64_t first = seq_of("contact:1");
    ck_assert_int_gt(first, 0);

    json_t *items = NULL;
    char *error = NULL;
    ck_assert_int_eq(store_notifications_take(store, "inbox", 0, 10, &items, &error), STORE_OK);
    ck_assert_uint_eq(json_array_size(items), 2);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(items, 0), "key")),
                     "contact:1");
    ck_assert_int_eq(json_integer_value(
                         json_object_get(json_object_get(json_array_get(items, 0), "value"), "at")),
                     1);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(items, 0), "seq")), first);
    ck_assert_ptr_nonnull(json_object_get(json_array_get(items, 0), "received_at"));
    json_decref(items);

    /* the same value again: nothing changes; another value: a new version */
    write_notifications(puts, 1, NULL, 0, NULL, 0);
    ck_assert_int_eq(seq_of("contact:1"), first);
    struct store_notification newer[] = {put_of("contact:1", "{\"at\": 2}", NULL)};
    write_notifications(newer, 1, NULL, 0, NULL, 0);
    ck_assert_int_gt(seq_of("contact:1"), first);

    /* the poll that took the first version removes it, and only it */
    struct store_taken taken[] = {{(char *)"inbox", (char *)"contact:1", first},
                                  {(char *)"inbox", (char *)"contact:2", seq_of("contact:2")}};
    write_notifications(NULL, 0, taken, 2, NULL, 0);
    ck_assert_int_eq(testdb_scalar(check_conn, "SELECT count(*) FROM connector_notifications"), 1);
    ck_assert_int_eq(testdb_scalar(check_conn, "SELECT (value->>'at')::int FROM "
                                               "connector_notifications WHERE key = 'contact:1'"),
                     2);
    /* a take after a seq sees only what came later */
    ck_assert_int_eq(
        store_notifications_take(store, "inbox", seq_of("contact:1"), 10, &items, &error),
        STORE_OK);
    ck_assert_uint_eq(json_array_size(items), 0);
    json_decref(items);
    for (size_t i = 0; i < 2; i++) {
        json_decref(puts[i].value);
    }
    json_decref(newer[0].value);
}
END_TEST

/* Two puts of one key in one transaction (two webhooks committed together): the last wins,
 * as one statement may not touch a row twice. */
START_TEST(test_store_notifications_put_twice_in_one_batch_keeps_the_last)
{
    struct store_notification puts[] = {put_of("deal:9", "{\"at\": 1}", NULL),
                                        put_of("deal:9", "{\"at\": 3}", NULL)};
    write_notifications(puts, 2, NULL, 0, NULL, 0);
    ck_assert_int_eq(testdb_scalar(check_conn, "SELECT (value->>'at')::int FROM "
                                               "connector_notifications WHERE key = 'deal:9'"),
                     3);
    json_decref(puts[0].value);
    json_decref(puts[1].value);
}
END_TEST

/* The number of notifications waiting on conn for channel (with payload "notify"). */
static int notifies(PGconn *conn, const char *channel)
{
    PQconsumeInput(conn);
    int count = 0;
    PGnotify *n;
    while ((n = PQnotifies(conn)) != NULL) {
        count += strcmp(n->relname, channel) == 0 && strcmp(n->extra, STORE_WAKE_PAYLOAD) == 0;
        PQfreemem(n);
    }
    return count;
}

/* A put that changed something, and a wake asked for, NOTIFY their channel once the
 * transaction commits; a put that changed nothing notifies no one. */
START_TEST(test_store_notifications_notify_on_commit_only_what_changed)
{
    PGconn *listener = testdb_connect(db_url);
    PQclear(PQexec(listener, "LISTEN lh_test_inbox"));
    PQclear(PQexec(listener, "LISTEN lh_test_other"));
    struct store_notification puts[] = {put_of("contact:1", "{\"at\": 1}", "lh_test_inbox")};
    write_notifications(puts, 1, NULL, 0, NULL, 0);
    PQclear(PQexec(listener, "SELECT 1")); /* a round trip: what was sent has arrived */
    ck_assert_int_eq(notifies(listener, "lh_test_inbox"), 1);

    write_notifications(puts, 1, NULL, 0, NULL, 0); /* the same value: no change, no NOTIFY */
    PQclear(PQexec(listener, "SELECT 1"));
    ck_assert_int_eq(notifies(listener, "lh_test_inbox"), 0);

    char *wake[] = {(char *)"lh_test_other"};
    write_notifications(NULL, 0, NULL, 0, wake, 1);
    PQclear(PQexec(listener, "SELECT 1"));
    ck_assert_int_eq(notifies(listener, "lh_test_other"), 1);

    /* a batch whose events fail in the database stores no notification, notifies no one */
    install_poison();
    struct event_record r[] = {record_of("inbound", LEAD("poison", "bad@example.com", ""))};
    struct store_notification fresh[] = {put_of("contact:2", "{}", "lh_test_inbox")};
    struct store_writes writes = {.notifications = fresh, .notification_count = 1};
    char *error = NULL;
    ck_assert_int_eq(store_write_batch(store, r, 1, &writes, NULL, NULL, &error), STORE_REJECTED);
    free(error);
    PQclear(PQexec(listener, "SELECT 1"));
    ck_assert_int_eq(notifies(listener, "lh_test_inbox"), 0);
    ck_assert_int_eq(testdb_scalar(check_conn, "SELECT count(*) FROM connector_notifications "
                                               "WHERE key = 'contact:2'"),
                     0);
    clear_records(r, 1);
    json_decref(puts[0].value);
    json_decref(fresh[0].value);
    PQfinish(listener);
}
END_TEST

static Suite *store_suite(void)
{
    Suite *s = suite_create("store");
    TCase *migrate = tcase_create("migrate");
    tcase_add_test(migrate, test_migrate_applies_once_and_is_idempotent);
    tcase_add_test(migrate, test_migrate_keys_the_first_stored_report_of_each_stripe_payment);
    tcase_add_test(migrate, test_migrate_from_several_replicas_at_once_applies_each_migration_once);
    tcase_add_test(migrate, test_migrate_failure_rolls_back_and_names_the_migration);
    tcase_add_test(migrate, test_migrate_refuses_database_newer_than_daemon);
    tcase_add_test(migrate,
                   test_migrate_holds_back_a_contraction_while_an_older_release_is_connected);
    tcase_add_test(migrate, test_migrate_force_applies_a_contraction_despite_older_replicas);
    tcase_add_test(migrate, test_migrate_adds_runs_from_to_an_older_schema_migrations);
    suite_add_tcase(s, migrate);

    TCase *batch = tcase_create("batch");
    tcase_add_checked_fixture(batch, setup_migrated, teardown_migrated);
    tcase_add_test(batch, test_store_batch_stores_events_and_resolves_leads_by_email);
    tcase_add_test(batch, test_store_batch_resent_events_are_duplicates_and_store_nothing);
    tcase_add_test(batch, test_store_batch_identity_only_lead_is_found_again_by_identity);
    tcase_add_test(
        batch, test_store_batch_identity_only_lead_takes_the_email_that_comes_with_its_identity);
    tcase_add_test(batch, test_store_batch_records_identities_of_email_leads);
    tcase_add_test(batch,
                   test_store_batch_lead_with_an_email_keeps_it_when_its_identity_brings_another);
    tcase_add_test(
        batch, test_store_batch_later_event_wins_for_equal_time_within_a_batch_as_across_batches);
    tcase_add_test(
        batch, test_store_batch_a_key_repeated_in_one_batch_leaves_the_lead_as_its_first_copy_says);
    tcase_add_test(batch, test_store_batch_lead_fields_follow_event_time_not_arrival);
    tcase_add_test(batch, test_store_batch_lead_id_links_an_existing_lead_before_email);
    tcase_add_test(batch, test_store_batch_lead_erased_by_id_erases_that_lead_and_nobody_else);
    tcase_add_test(batch, test_store_batch_lead_erased_leaves_the_meetings_it_took_part_in);
    tcase_add_test(batch, test_store_identity_put_folds_the_lead_that_was_only_that_identity);
    tcase_add_test(batch,
                   test_store_batch_leads_named_by_id_are_written_once_per_batch_in_event_time);
    tcase_add_test(batch, test_store_batch_meetings_upsert_in_event_time_order);
    tcase_add_test(batch, test_store_batch_meeting_outcomes_follow_what_each_event_says);
    tcase_add_test(batch, test_store_events_in_a_callers_transaction_resolve_leads_named_by_id);
    tcase_add_test(batch,
                   test_store_batch_one_payment_per_what_was_paid_whichever_event_reports_it);
    tcase_add_test(batch,
                   test_store_batch_a_lead_that_was_only_an_identity_merges_into_the_lead_named);
    tcase_add_test(batch, test_store_batch_a_lead_known_elsewhere_is_never_merged);
    tcase_add_test(batch,
                   test_store_batch_an_identity_without_email_merges_into_the_lead_its_email_names);
    tcase_add_test(
        batch, test_store_batch_a_deleted_record_loses_its_identity_and_the_lead_keeps_its_history);
    tcase_add_test(batch, test_store_batch_a_merge_folds_a_lead_that_was_only_the_merged_record);
    tcase_add_test(batch,
                   test_store_batch_a_merge_moves_only_the_identity_of_a_lead_known_elsewhere);
    tcase_add_test(batch, test_store_batch_record_events_name_the_record_alone);
    tcase_add_test(batch, test_store_batch_commits_checkpoints_with_events_last_put_wins);
    tcase_add_test(batch, test_store_batch_failure_stores_nothing_at_all);
    tcase_add_test(batch, test_store_batch_with_steps_failure_stores_nothing_at_all);
    tcase_add_test(batch, test_store_unreachable_database_is_unavailable);
    tcase_add_test(batch, test_store_reconnects_after_the_connection_is_killed);
    tcase_add_test(batch, test_store_json_loads_reads_what_jsonb_prints_back);
    tcase_add_test(batch, test_store_sessions_have_timeouts_and_keepalives);
    tcase_add_test(batch, test_store_keeps_a_statement_timeout_the_database_gives);
    tcase_add_test(batch, test_poll_lease_is_held_by_one_session_and_each_taking_raises_the_fence);
    tcase_add_test(batch, test_poll_lease_keys_cannot_collide);
    tcase_add_test(batch, test_poll_lease_leaves_an_instance_an_old_replica_polls);
    tcase_add_test(batch, test_store_fenced_batch_commits_only_under_the_current_fence);
    tcase_add_test(batch, test_store_notifications_are_removed_by_the_version_taken);
    tcase_add_test(batch, test_store_notifications_put_twice_in_one_batch_keeps_the_last);
    tcase_add_test(batch, test_store_notifications_notify_on_commit_only_what_changed);
    suite_add_tcase(s, batch);
    TCase *redaction = tcase_create("redaction");
    tcase_add_test(redaction, test_store_redact_url_masks_every_way_of_writing_a_password);
    tcase_add_test(redaction, test_store_connection_errors_never_quote_the_password);
    suite_add_tcase(s, redaction);
    return s;
}

int main(void)
{
    return tu_run_suite(store_suite());
}
