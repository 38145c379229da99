/*
 * ingest_stats.h - statistics refreshed as the first rows arrive.
 *
 * A new installation starts with empty tables. Sessions that write events cache plans made
 * then (the events' lead foreign-key check, the duplicate lookup: sequential scans of
 * tables that were empty) and keep them until the planner's statistics change, which
 * autovacuum does only after a minute or more: a fresh database ingested at a fraction of
 * the rate of one with history. So while the events table is small, every time the events
 * committed since the last look have doubled it, a thread of its own runs ANALYZE on the
 * tables ingest writes (events, leads, lead_identities, deliveries): their statistics
 * follow the growth, and every session's cached plans on them are made again.
 * Past INGEST_STATS_UNTIL rows it stops: autovacuum's thresholds are fine from there.
 */
#ifndef LEADHUB_INGEST_STATS_H
#define LEADHUB_INGEST_STATS_H

#include <stddef.h>
#include <stdint.h>

#define INGEST_STATS_FIRST 500     /* the first ANALYZE, at this many events */
#define INGEST_STATS_UNTIL 1000000 /* none once the table holds this many */

struct metrics;
struct ingest_stats;

/* ingest_stats_start - read how many events the table holds, and start the thread unless
 * it is past INGEST_STATS_UNTIL already. NULL when there is nothing to do (or it cannot
 * start: the planner then learns as autovacuum goes). */
struct ingest_stats *ingest_stats_start(const char *database_url, struct metrics *metrics);

/* ingest_stats_add - `rows` new events committed. Never blocks beyond a mutex. NULL ok. */
void ingest_stats_add(struct ingest_stats *stats, size_t rows);

/* ingest_stats_stop - stop the thread (an ANALYZE in progress finishes first). NULL ok. */
void ingest_stats_stop(struct ingest_stats *stats);

#endif
