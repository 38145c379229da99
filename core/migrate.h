/*
 * migrate.h - applies the SQL migrations compiled into the daemon, in version order, each
 * in its own transaction, under an advisory lock so several replicas may start at once.
 */
#ifndef LEADHUB_MIGRATE_H
#define LEADHUB_MIGRATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "migrations.h"
#include "schema_policy.h"

struct migrate_options {
    bool force;         /* apply contracting migrations even while older replicas serve */
    bool newer_is_fine; /* a schema newer than the release is not an error here */
};

struct migrate_result {
    int applied;       /* migrations this call applied */
    int held_version;  /* the first migration held back for older replicas, 0 for none */
    char *held_reason; /* malloc'd: which, why, and how to force it; NULL for none */
};

/*
 * migrate_apply_policy - apply what the database lacks of policy->migrations, in order,
 * each in its own transaction, under an advisory lock. Unless options->force, a migration
 * whose runs_from is newer than a connected leadhubd's release (pg_stat_activity) is held
 * back with those after it: older replicas keep running until they are replaced.
 *   options:    NULL for the defaults (no force; a newer schema is an error).
 *   result_out: filled in every case (may be NULL); the caller frees held_reason.
 *   error_out:  on failure a malloc'd message naming the migration and the SQL error.
 *   Returns 0 (some may be held back: see result_out), or -1.
 */
int migrate_apply_policy(PGconn *conn, const struct schema_policy *policy,
                         const struct migrate_options *options, struct migrate_result *result_out,
                         char **error_out);

/*
 * migrate_read_schema - the schema as schema_policy_judge() needs it. A database with no
 * schema_migrations table reads as version 0.
 *   error_out: may be NULL; else a malloc'd message on failure.
 *   Returns 0, or -1 when the database cannot be read.
 */
int migrate_read_schema(PGconn *conn, const struct schema_policy *policy,
                        struct schema_state *state_out, char **error_out);

/*
 * migrate_read_schema_within - the same, waiting at most ms for the database's answer:
 * for the readiness checker, which must never wait on a database that hangs. After a -1
 * for want of an answer the connection's state is unknown: close it.
 */
int migrate_read_schema_within(PGconn *conn, const struct schema_policy *policy, int64_t ms,
                               struct schema_state *state_out, char **error_out);

/*
 * migrate_apply - bring the schema up to date.
 *   applied_out: how many migrations this call applied (may be NULL).
 *   error_out:   on failure a malloc'd message naming the migration and the SQL error.
 *   Returns 0, or -1 (the failed migration was rolled back; earlier ones stay applied).
 */
int migrate_apply(PGconn *conn, int *applied_out, char **error_out);

/* migrate_apply_list - the same, for a given list sorted by version (tests): a migration
 * held back is an error here. */
int migrate_apply_list(PGconn *conn, const struct migration *list, size_t count, int *applied_out,
                       char **error_out);

/*
 * migrate_status - the newest applied version (0 for none), and the newest this daemon
 * knows. Returns 0, or -1 when the database cannot be read.
 */
int migrate_status(PGconn *conn, int *current_out, int *latest_out);

#endif
