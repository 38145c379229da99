/* replay.c - see replay.h. */
#include <stdlib.h>

#include "replay.h"
#include "util.h"

static const char sql_requeue[] =
    "UPDATE deliveries AS d SET status = 'pending', attempts = 0, next_attempt_at = now(), "
    "held_since = NULL, hold_reason = NULL, holds = 0, "
    "updated_at = now() FROM events e WHERE e.id = d.event_id AND d.status = 'dead' "
    "AND ($1::bigint[] IS NULL OR d.id = ANY($1::bigint[])) "
    "AND ($2::text IS NULL OR d.destination = $2) "
    "AND ($3::text IS NULL OR e.type LIKE $3) "
    "AND ($4::timestamptz IS NULL OR d.created_at >= $4) "
    "AND ($5::timestamptz IS NULL OR d.created_at < $5) "
    "RETURNING d.id";

static const char sql_count[] =
    "SELECT count(*) FROM deliveries d JOIN events e ON e.id = d.event_id "
    "WHERE d.status = 'dead' "
    "AND ($1::bigint[] IS NULL OR d.id = ANY($1::bigint[])) "
    "AND ($2::text IS NULL OR d.destination = $2) "
    "AND ($3::text IS NULL OR e.type LIKE $3) "
    "AND ($4::timestamptz IS NULL OR d.created_at >= $4) "
    "AND ($5::timestamptz IS NULL OR d.created_at < $5)";

enum store_result replay_dead(struct store *store, const char *ids, const char *destination,
                              const char *type_glob, const char *since, const char *until,
                              bool dry_run, long *count_out, char **error_out)
{
    *count_out = 0;
    char *type_like = type_glob != NULL ? util_glob_to_like(type_glob) : NULL;
    const char *params[] = {ids, destination, type_like, since, until};
    PGresult *result = NULL;
    enum store_result rc =
        dry_run ? store_exec(store, "replay_count", sql_count, 5, params, &result, error_out)
                : store_exec(store, "replay_requeue", sql_requeue, 5, params, &result, error_out);
    if (rc == STORE_OK) {
        *count_out = dry_run ? strtol(PQgetvalue(result, 0, 0), NULL, 10) : PQntuples(result);
        PQclear(result);
    }
    free(type_like);
    return rc;
}
