/*
 * scoring.h - the scoring engine: leads touched by newly committed events are re-scored a
 * moment later (debounced and batched), by every scorer of the plan in order, from
 * snapshots read in sets of leads. Changed scores are written to lead_scores (and their
 * history); a change of band (a threshold crossing) emits one lead.scored event, in the
 * same transaction, routable like any other event. Unchanged scores write nothing. Leads
 * whose pass failed on the database are scored again after a backoff.
 *
 * A transaction-level advisory lock per lead serializes replicas scoring the same lead,
 * so a crossing is emitted once however many replicas saw the events.
 */
#ifndef LEADHUB_SCORING_H
#define LEADHUB_SCORING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ingest.h"
#include "instance.h"
#include "metrics.h"
#include "router.h"
#include "scoring_plan.h"
#include "store_pg.h"

struct scoring;

struct scoring_options {
    const char *database_url;           /* copied */
    struct metrics *metrics;            /* borrowed */
    int64_t debounce_ms;                /* wait after the first touch before scoring; 0: 1000 */
    bool background;                    /* start the thread that serves scoring_touch() */
    ingest_deliveries_fn on_deliveries; /* wakes lanes after lead.scored commits; may be NULL */
    void *on_deliveries_arg;
    int64_t now_ms; /* the scoring clock, ms since the epoch, for every pass; 0: the wall
                     * clock. A fixed one makes a pass reproducible (tests, worked examples) */
};

/*
 * scoring_start - an engine for `plan`.
 *   plan:    STOLEN.
 *   scorers: plan->count instances (references STOLEN); an entry may be NULL or not
 *            initialized, and that scorer is then skipped (and counted).
 *   Returns NULL when out of memory (plan and references are released).
 */
struct scoring *scoring_start(const struct scoring_options *options, struct scoring_plan *plan,
                              struct instance **scorers);

/* scoring_set_router - route the lead.scored events committed from now on (a reference is
 * taken). */
void scoring_set_router(struct scoring *scoring, struct router *router);

/* scoring_touch - these leads changed: score them soon. Cheap; any thread. */
void scoring_touch(struct scoring *scoring, const int64_t *lead_ids, size_t count);

struct scoring_stats {
    size_t leads;     /* leads scored */
    size_t changed;   /* scores written */
    size_t crossings; /* lead.scored events */
    size_t errors;    /* scorer failures */
};

/*
 * scoring_run - score `lead_ids` now on this thread (the engine's thread and `leadhubd
 * rescore` use it), in chunks, through `store`.
 *   only: -1 for every scorer, each seeing the results of those before it in this pass;
 *         or the index of one, which sees the stored scores of those before it instead.
 *   Returns 0, or -1 with *error_out (malloc'd) when the database failed.
 */
int scoring_run(struct scoring *scoring, struct store *store, const int64_t *lead_ids, size_t count,
                long only, struct scoring_stats *stats, char **error_out);

/* scoring_find - the index of the scorer named `name`, or -1. */
long scoring_find(const struct scoring *scoring, const char *name);

/* scoring_status - each scorer's state: {"name": "ok" | why it is not running}; sets *ready
 * false when one is not. NEW reference. */
json_t *scoring_status(struct scoring *scoring, bool *ready);

/* scoring_stop - score what is pending, stop the thread, release everything. NULL ok. */
void scoring_stop(struct scoring *scoring);

#endif
