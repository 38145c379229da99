/*
 * schema_policy.h - expand-then-contract: which database schemas a release runs on, so old
 * and new replicas serve side by side during a rolling update and a rollback can start.
 *
 * A release is named by its schema generation: the newest migration it carries. Numbers
 * of releases and of schemas therefore compare directly.
 *   - Each release declares the oldest schema it runs on (oldest_schema): it migrates up
 *     to its own generation when it may, and still runs when a contracting migration has
 *     to wait for older replicas to go.
 *   - Each migration declares the oldest release that still runs on a database it has been
 *     applied to (runs_from). An expanding migration (a new table, a nullable column, an
 *     index) keeps the previous release: runs_from < version. A contracting one (a drop, a
 *     rename, a new NOT NULL) does not: runs_from = version, or the release that stopped
 *     using what it removes.
 * Applied migrations are immutable, so the declarations live in a table in code keyed by
 * migration number (schema_policy.c), and migrate.c copies each migration's runs_from into
 * schema_migrations as it applies it: an older release reads there what it cannot know.
 */
#ifndef LEADHUB_SCHEMA_POLICY_H
#define LEADHUB_SCHEMA_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "migrations.h"

struct schema_compat {
    int version;   /* a migration */
    int runs_from; /* the oldest release that runs on a database with it applied */
};

struct schema_policy {
    const struct migration *migrations; /* what this release carries, sorted by version */
    size_t migration_count;
    const struct schema_compat *compat; /* sorted by version; missing: runs_from = version */
    size_t compat_count;
    int oldest_schema; /* the oldest schema this release runs on */
};

/* What a database says of its schema (migrate_read_schema()). */
struct schema_state {
    int current; /* newest applied migration, 0 for none */
    /* Of the applied migrations newer than this release: the largest runs_from (a missing
     * one counts as the migration's own version). 0 when there are none. */
    int newer_runs_from;
};

/* schema_policy_current - this release's policy: the compiled-in migrations and table. */
const struct schema_policy *schema_policy_current(void);

/* schema_policy_latest - the release's generation: its newest migration (0 for none). */
int schema_policy_latest(const struct schema_policy *policy);

/* schema_policy_runs_from - the oldest release that runs on migration `version`. */
int schema_policy_runs_from(const struct schema_policy *policy, int version);

/*
 * schema_policy_judge - can this release run on a database in `state`?
 *   detail_out: unless NULL, a malloc'd sentence for /readyz and logs, in every case.
 *   Returns true when it can.
 */
bool schema_policy_judge(const struct schema_policy *policy, const struct schema_state *state,
                         char **detail_out);

/*
 * schema_policy_application_name - "leadhubd/VERSION schema=N": what every connection of
 * this release calls itself, so that `leadhubd migrate` sees which releases are connected
 * (pg_stat_activity) before it applies a contracting migration. A constant.
 */
const char *schema_policy_application_name(void);

/*
 * schema_policy_parse_application_name - the generation a connection's application_name
 * declares: N from "leadhubd/... schema=N"; 0 for a leadhubd that declares none (a release
 * from before this policy, which needs its own schema exactly); -1 when it is not leadhubd.
 */
int schema_policy_parse_application_name(const char *name);

#endif
