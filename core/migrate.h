/*
 * migrate.h - applies the SQL migrations compiled into the daemon, in version order, each
 * in its own transaction, under an advisory lock so several replicas may start at once.
 */
#ifndef LEADHUB_MIGRATE_H
#define LEADHUB_MIGRATE_H

#include <stddef.h>

#include <libpq-fe.h>

#include "migrations.h"

/*
 * migrate_apply - bring the schema up to date.
 *   applied_out: how many migrations this call applied (may be NULL).
 *   error_out:   on failure a malloc'd message naming the migration and the SQL error.
 *   Returns 0, or -1 (the failed migration was rolled back; earlier ones stay applied).
 */
int migrate_apply(PGconn *conn, int *applied_out, char **error_out);

/* migrate_apply_list - the same, for a given list sorted by version (tests). */
int migrate_apply_list(PGconn *conn, const struct migration *list, size_t count, int *applied_out,
                       char **error_out);

/*
 * migrate_status - the newest applied version (0 for none), and the newest this daemon
 * knows. Returns 0, or -1 when the database cannot be read.
 */
int migrate_status(PGconn *conn, int *current_out, int *latest_out);

/* migrate_latest - the newest version this daemon knows. */
int migrate_latest(void);

#endif
