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

static int apply_one(PGconn *conn, const struct migration *m, char **error_out)
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
    char version[16];
    snprintf(version, sizeof(version), "%d", m->version);
    const char *params[] = {version, m->name};
    PGresult *result =
        PQexecParams(conn, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", 2, NULL,
                     params, NULL, NULL, 0);
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

int migrate_apply_list(PGconn *conn, const struct migration *list, size_t count, int *applied_out,
                       char **error_out)
{
    int applied = 0;
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
    if (exec_ok(conn,
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version integer PRIMARY KEY,"
                " name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())",
                &error) != 0) {
        goto out;
    }
    int current = 0;
    if (read_current_version(conn, &current, &error) != 0) {
        goto out;
    }
    if (count > 0 && current > list[count - 1].version) {
        error = util_printf("the database is at schema version %d, newer than this leadhubd "
                            "knows (%d); run a newer leadhubd",
                            current, list[count - 1].version);
        goto out;
    }
    for (size_t i = 0; i < count; i++) {
        if (list[i].version <= current) {
            continue;
        }
        if (apply_one(conn, &list[i], &error) != 0) {
            goto out;
        }
        applied++;
    }
    rc = 0;
out:
    if (locked) {
        char *ignored = NULL;
        if (exec_ok(conn, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")", &ignored) != 0) {
            free(ignored);
        }
    }
    if (applied_out != NULL) {
        *applied_out = applied;
    }
    *error_out = error;
    return rc;
}

int migrate_apply(PGconn *conn, int *applied_out, char **error_out)
{
    return migrate_apply_list(conn, migrations, migration_count, applied_out, error_out);
}

int migrate_latest(void)
{
    return migration_count > 0 ? migrations[migration_count - 1].version : 0;
}

int migrate_status(PGconn *conn, int *current_out, int *latest_out)
{
    *latest_out = migrate_latest();
    *current_out = 0;
    PGresult *result = PQexec(conn, "SELECT coalesce(max(version), 0) FROM "
                                    "schema_migrations");
    if (PQresultStatus(result) != PGRES_TUPLES_OK) {
        const char *state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
        /* 42P01: the table does not exist yet, i.e. nothing applied */
        int rc = state != NULL && strcmp(state, "42P01") == 0 ? 0 : -1;
        PQclear(result);
        return rc;
    }
    *current_out = (int)strtol(PQgetvalue(result, 0, 0), NULL, 10);
    PQclear(result);
    return 0;
}
