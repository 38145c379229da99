/* replay.h - dead deliveries back into the queue (`leadhubd replay`, POST /v1/deliveries/...). */
#ifndef LEADHUB_REPLAY_H
#define LEADHUB_REPLAY_H

#include <stdbool.h>

#include "store_pg.h"

/*
 * replay_dead - put the dead deliveries matching every filter given back in the queue
 * (status pending, attempts 0, due now), or only count them with dry_run.
 *   ids:         a PostgreSQL array literal of delivery ids ("{1,2}"), or NULL
 *   destination: a sink instance, or NULL
 *   type_glob:   the event's type as a glob ("lead.*"), or NULL
 *   since/until: RFC 3339 bounds on when the delivery was routed, or NULL
 *   count_out:   how many were (or would be) re-queued
 */
enum store_result replay_dead(struct store *store, const char *ids, const char *destination,
                              const char *type_glob, const char *since, const char *until,
                              bool dry_run, long *count_out, char **error_out);

#endif
