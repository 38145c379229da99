/* replay.c - see replay.h. */
#include <stdlib.h>
#include <string.h>

#include "replay.h"
#include "util.h"

#define FILTER                                                                                     \
    "AND ($1::bigint[] IS NULL OR d.id = ANY($1::bigint[])) "                                      \
    "AND ($2::text IS NULL OR d.destination = $2) "                                                \
    "AND ($3::text IS NULL OR e.type LIKE $3) "                                                    \
    "AND ($4::timestamptz IS NULL OR d.created_at >= $4) "                                         \
    "AND ($5::timestamptz IS NULL OR d.created_at < $5) "                                          \
    "AND ($6::text IS NULL OR d.route = $6) "                                                      \
    "AND ($7::text IS NULL OR d.last_error ILIKE $7) "

static const char sql_requeue[] =
    "UPDATE deliveries AS d SET status = 'pending', attempts = 0, next_attempt_at = now(), "
    "held_since = NULL, hold_reason = NULL, holds = 0, "
    "updated_at = now() FROM events e WHERE e.id = d.event_id AND d.status = 'dead' " FILTER
    "RETURNING d.id";

static const char sql_count[] = "SELECT count(*) FROM deliveries d JOIN events e ON e.id = "
                                "d.event_id WHERE d.status = 'dead' " FILTER;

char *replay_error_like(const char *error)
{
    char *glob = util_printf("*%s*", error);
    char *like = glob != NULL ? util_glob_to_like(glob) : NULL;
    free(glob);
    return like;
}

enum store_result replay_dead(struct store *store, const struct replay_filter *filter, bool dry_run,
                              long *count_out, char **error_out)
{
    *count_out = 0;
    char *type_like = filter->type_glob != NULL ? util_glob_to_like(filter->type_glob) : NULL;
    char *error_like = filter->error != NULL ? replay_error_like(filter->error) : NULL;
    const char *params[] = {filter->ids,   filter->destination, type_like, filter->since,
                            filter->until, filter->route,       error_like};
    PGresult *result = NULL;
    enum store_result rc = STORE_REJECTED;
    if ((filter->type_glob != NULL && type_like == NULL) ||
        (filter->error != NULL && error_like == NULL)) {
        /* a filter dropped for want of memory would replay more than asked */
        *error_out = strdup("out of memory");
        goto out;
    }
    rc = dry_run ? store_exec(store, "replay_count", sql_count, 7, params, &result, error_out)
                 : store_exec(store, "replay_requeue", sql_requeue, 7, params, &result, error_out);
    if (rc == STORE_OK) {
        *count_out = dry_run ? strtol(PQgetvalue(result, 0, 0), NULL, 10) : PQntuples(result);
        PQclear(result);
    }
out:
    free(type_like);
    free(error_like);
    return rc;
}
