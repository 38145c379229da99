/*
 * migrate.c - schema migrations. A session-level advisory lock serializes replicas that
 * start together: the first applies what is pending, the others wait, then find nothing
 * left to do.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "migrate.h"
#include "migrations.h"
#include "schema_policy.h"
#include "store_pg.h"
#include "util.h"

/* Arbitrary and fixed: the bytes of "leadhub", unlikely to collide with another app's. */
#define MIGRATE_LOCK_KEY "30510766455551330"

static int exec_ok(PGconn *conn, const char *sql, char **error_out)
{
    PGresult *result = PQexec(conn, sql);
    ExecStatusType status = PQresultStatus(result);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
        *error_out = store_error_message(conn, result);
        PQclear(result);
        return -1;
    }
    PQclear(result);
    return 0;
}

static int read_current_version(PGconn *conn, int *version_out, char **error_out)
{
    PGresult *result = PQexec(conn, "SELECT coalesce(max(version), 0) FROM schema_migrations");
    if (PQresultStatus(result) != PGRES_TUPLES_OK) {
        *error_out = store_error_message(conn, result);
        PQclear(result);
        return -1;
    }
    *version_out = (int)strtol(PQgetvalue(result, 0, 0), NULL, 10);
    PQclear(result);
    return 0;
}

static int apply_one(PGconn *conn, const struct migration *m, int runs_from, char **error_out)
{
    char *error = NULL;
    if (exec_ok(conn, "BEGIN", &error) != 0) {
        goto fail;
    }
    /* A migration file may hold many statements: the simple query protocol runs them all
     * in this transaction. The text is compiled in, never user input. */
    if (exec_ok(conn, m->sql, &error) != 0) {
        goto fail;
    }
    char version[16], runs[16];
    snprintf(version, sizeof(version), "%d", m->version);
    snprintf(runs, sizeof(runs), "%d", runs_from);
    const char *params[] = {version, m->name, runs};
    PGresult *result = PQexecParams(conn,
                                    "INSERT INTO schema_migrations (version, name, runs_from) "
                                    "VALUES ($1, $2, $3)",
                                    3, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(result) != PGRES_COMMAND_OK) {
        error = store_error_message(conn, result);
        PQclear(result);
        goto fail;
    }
    PQclear(result);
    if (exec_ok(conn, "COMMIT", &error) != 0) {
        goto fail;
    }
    return 0;
fail:
    PQclear(PQexec(conn, "ROLLBACK"));
    *error_out = util_printf("migration %04d_%s failed: %s", m->version, m->name,
                             error != NULL ? error : "unknown error");
    free(error);
    return -1;
}

/*
 * The releases connected to this database other than this session: the generation each
 * declares in its application_name (schema_policy.h), and a line naming them for messages.
 * Sessions of other roles show no application_name to an unprivileged role: they are not
 * seen (docs/operations.md says to run every replica and `migrate` as one role).
 */
struct connected_release {
    int generation;
    char *who; /* malloc'd: "leadhubd/0.1.0 schema=6 at 10.0.0.3 (pid 42)" */
};

static void connected_free(struct connected_release *list, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        free(list[i].who);
    }
    free(list);
}

static int read_connected(PGconn *conn, struct connected_release **list_out, size_t *count_out,
                          char **error_out)
{
    *list_out = NULL;
    *count_out = 0;
    PGresult *result =
        PQexec(conn, "SELECT application_name, coalesce(host(client_addr), 'local'), pid "
                     "FROM pg_stat_activity WHERE datname = current_database() "
                     "AND pid <> pg_backend_pid() AND application_name LIKE 'leadhubd%' "
                     "ORDER BY pid");
    if (PQresultStatus(result) != PGRES_TUPLES_OK) {
        *error_out = store_error_message(conn, result);
        PQclear(result);
        return -1;
    }
    int rows = PQntuples(result);
    struct connected_release *list = calloc((size_t)rows + 1, sizeof(*list));
    if (list == NULL) {
        PQclear(result);
        *error_out = strdup("out of memory");
        return -1;
    }
    size_t count = 0;
    for (int i = 0; i < rows; i++) {
        int generation = schema_policy_parse_application_name(PQgetvalue(result, i, 0));
        if (generation < 0) {
            continue; /* "leadhubdX": someone else's */
        }
        list[count].generation = generation;
        list[count].who = util_printf("%s at %s (pid %s)", PQgetvalue(result, i, 0),
                                      PQgetvalue(result, i, 1), PQgetvalue(result, i, 2));
        count++;
    }
    PQclear(result);
    *list_out = list;
    *count_out = count;
    return 0;
}

/* The connected releases that cannot run on a schema needing release `runs_from`, named in
 * one malloc'd line; NULL when there are none. */
static char *blocking_releases(const struct connected_release *list, size_t count, int runs_from)
{
    struct strbuf names = {0};
    size_t found = 0;
    for (size_t i = 0; i < count; i++) {
        if (list[i].generation >= runs_from) {
            continue;
        }
        if (found < 3) {
            strbuf_appendf(&names, "%s%s", found ? ", " : "",
                           list[i].who != NULL ? list[i].who : "?");
        }
        found++;
    }
    if (found == 0) {
        strbuf_free(&names);
        return NULL;
    }
    if (found > 3) {
        strbuf_appendf(&names, " and %zu more", found - 3);
    }
    return strbuf_take(&names);
}

/* schema_migrations as this release keeps it: runs_from came with the schema policy, and
 * a database set up by an earlier release lacks it. */
static int ensure_bookkeeping(PGconn *conn, char **error_out)
{
    if (exec_ok(conn,
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version integer PRIMARY KEY,"
                " name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now(),"
                " runs_from integer)",
                error_out) != 0) {
        return -1;
    }
    /* ALTER takes an exclusive lock even when there is nothing to add: look first, so that
     * every replica's start does not queue behind other replicas' readiness probes. */
    PGresult *result =
        PQexec(conn, "SELECT 1 FROM pg_attribute WHERE attrelid = 'schema_migrations'::regclass "
                     "AND attname = 'runs_from' AND NOT attisdropped");
    if (PQresultStatus(result) != PGRES_TUPLES_OK) {
        *error_out = store_error_message(conn, result);
        PQclear(result);
        return -1;
    }
    bool present = PQntuples(result) > 0;
    PQclear(result);
    return present ? 0
                   : exec_ok(conn, "ALTER TABLE schema_migrations ADD COLUMN runs_from integer",
                             error_out);
}

int migrate_apply_policy(PGconn *conn, const struct schema_policy *policy,
                         const struct migrate_options *options, struct migrate_result *result_out,
                         char **error_out)
{
    const struct migration *list = policy->migrations;
    size_t count = policy->migration_count;
    struct migrate_result result = {0};
    struct connected_release *connected = NULL;
    size_t connected_count = 0;
    int rc = -1;
    char *error = NULL;
    bool locked = false;

    *error_out = NULL;
    /* A migration (and the wait for another replica's) may take as long as it takes. */
    if (exec_ok(conn, "SET statement_timeout = 0", &error) != 0 ||
        exec_ok(conn, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", &error) != 0) {
        goto out;
    }
    locked = true;
    if (ensure_bookkeeping(conn, &error) != 0) {
        goto out;
    }
    int current = 0;
    if (read_current_version(conn, &current, &error) != 0) {
        goto out;
    }
    if (count > 0 && current > list[count - 1].version) {
        /* Nothing to apply; whether this release runs on it is schema_policy_judge()'s. */
        if (options == NULL || !options->newer_is_fine) {
            error = util_printf("the database is at schema version %d, newer than this leadhubd "
                                "knows (%d); run a newer leadhubd",
                                current, list[count - 1].version);
            goto out;
        }
    }
    bool force = options != NULL && options->force;
    bool pending = count > 0 && list[count - 1].version > current;
    if (pending && !force && read_connected(conn, &connected, &connected_count, &error) != 0) {
        goto out;
    }
    for (size_t i = 0; i < count; i++) {
        if (list[i].version <= current) {
            continue;
        }
        int runs_from = schema_policy_runs_from(policy, list[i].version);
        char *blockers = force ? NULL : blocking_releases(connected, connected_count, runs_from);
        if (blockers != NULL) {
            /* Contracting while older replicas still serve would take them down: stop
             * here; what came before stays applied. */
            result.held_version = list[i].version;
            result.held_reason = util_printf(
                "migration %04d_%s is held back: it needs every replica to carry schema %d or "
                "later, and older ones are connected: %s. It is applied once they are gone (the "
                "next `leadhubd migrate` or start), or now with `leadhubd migrate --force` (they "
                "then report the schema incompatible until replaced)",
                list[i].version, list[i].name, runs_from, blockers);
            free(blockers);
            break;
        }
        if (apply_one(conn, &list[i], runs_from, &error) != 0) {
            goto out;
        }
        result.applied++;
    }
    rc = 0;
out:
    if (locked) {
        char *ignored = NULL;
        if (exec_ok(conn, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")", &ignored) != 0) {
            free(ignored);
        }
    }
    connected_free(connected, connected_count);
    if (result_out != NULL) {
        *result_out = result;
    } else {
        free(result.held_reason);
    }
    *error_out = error;
    return rc;
}

int migrate_apply_list(PGconn *conn, const struct migration *list, size_t count, int *applied_out,
                       char **error_out)
{
    const struct schema_policy policy = {
        .migrations = list,
        .migration_count = count,
        .oldest_schema = count > 0 ? list[count - 1].version : 0,
    };
    struct migrate_result result;
    int rc = migrate_apply_policy(conn, &policy, NULL, &result, error_out);
    if (applied_out != NULL) {
        *applied_out = result.applied;
    }
    if (rc == 0 && result.held_reason != NULL) {
        *error_out = result.held_reason;
        return -1;
    }
    free(result.held_reason);
    return rc;
}

int migrate_apply(PGconn *conn, int *applied_out, char **error_out)
{
    const struct schema_policy *policy = schema_policy_current();
    return migrate_apply_list(conn, policy->migrations, policy->migration_count, applied_out,
                              error_out);
}

/* The newest applied version and the largest runs_from of those newer than the release.
 * to_jsonb(s): a database set up before runs_from existed has no such column, and each of
 * its migrations counts as contracting. */
static const char sql_read_schema[] =
    "SELECT coalesce(max(version), 0), coalesce(max(coalesce((to_jsonb(s)->>'runs_from')::int,"
    " version)) FILTER (WHERE version > $1::int), 0) FROM schema_migrations s";

/* Reads the schema state, waiting at most ms for the answer (0: as long as it takes). */
static int read_schema(PGconn *conn, const struct schema_policy *policy, int64_t ms,
                       struct schema_state *state_out, char **error_out)
{
    *state_out = (struct schema_state){0};
    char latest[16];
    snprintf(latest, sizeof(latest), "%d", schema_policy_latest(policy));
    const char *params[] = {latest};
    PGresult *result = NULL;
    char *error = NULL;
    enum store_result rc = STORE_OK;
    if (ms > 0) {
        rc = store_query_within(conn, sql_read_schema, 1, params, ms, &result, &error);
    } else {
        result = PQexecParams(conn, sql_read_schema, 1, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(result) != PGRES_TUPLES_OK) {
            rc = store_classify(conn, result);
            error = store_error_message(conn, result);
        }
    }
    if (rc != STORE_OK) {
        const char *state = result != NULL ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : NULL;
        /* 42P01: the table does not exist yet, i.e. nothing applied */
        int failed = state != NULL && strcmp(state, "42P01") == 0 ? 0 : -1;
        if (failed != 0 && error_out != NULL) {
            *error_out = error;
            error = NULL;
        }
        free(error);
        PQclear(result);
        return failed;
    }
    state_out->current = (int)strtol(PQgetvalue(result, 0, 0), NULL, 10);
    state_out->newer_runs_from = (int)strtol(PQgetvalue(result, 0, 1), NULL, 10);
    PQclear(result);
    return 0;
}

int migrate_read_schema(PGconn *conn, const struct schema_policy *policy,
                        struct schema_state *state_out, char **error_out)
{
    return read_schema(conn, policy, 0, state_out, error_out);
}

int migrate_read_schema_within(PGconn *conn, const struct schema_policy *policy, int64_t ms,
                               struct schema_state *state_out, char **error_out)
{
    return read_schema(conn, policy, ms > 0 ? ms : 1, state_out, error_out);
}

int migrate_status(PGconn *conn, int *current_out, int *latest_out)
{
    const struct schema_policy *policy = schema_policy_current();
    struct schema_state state;
    *latest_out = schema_policy_latest(policy);
    *current_out = 0;
    if (migrate_read_schema(conn, policy, &state, NULL) != 0) {
        return -1;
    }
    *current_out = state.current;
    return 0;
}
