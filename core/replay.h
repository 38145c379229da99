/* replay.h - dead deliveries back into the queue (`leadhubd replay`, POST /v1/deliveries/...). */
#ifndef LEADHUB_REPLAY_H
#define LEADHUB_REPLAY_H

#include <stdbool.h>

#include "store_pg.h"

/* Which dead deliveries: every member given (non-NULL) must match. */
struct replay_filter {
    const char *ids;         /* a PostgreSQL array literal of delivery ids ("{1,2}") */
    const char *destination; /* a sink instance */
    const char *type_glob;   /* the event's type as a glob ("lead.*") */
    const char *since;       /* RFC 3339 bounds on when the delivery was routed */
    const char *until;
    const char *route; /* the route that made the delivery */
    const char *error; /* text the last error contains (case-insensitive; * and ? are
                          wildcards) */
};

/*
 * replay_dead - put the dead deliveries matching `filter` back in the queue (status
 * pending, attempts 0, due now), or only count them with dry_run.
 *   count_out: how many were (or would be) re-queued
 */
enum store_result replay_dead(struct store *store, const struct replay_filter *filter, bool dry_run,
                              long *count_out, char **error_out);

/* replay_error_like - the ILIKE pattern of a `error` filter ("%text%", LIKE's own
 * characters escaped, * and ? as wildcards); malloc'd. Shared with the deliveries list. */
char *replay_error_like(const char *error);

#endif
