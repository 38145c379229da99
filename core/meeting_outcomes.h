/*
 * meeting_outcomes.h - a meeting's outcome, derived by the hub where no source says it.
 *
 * A meeting is scheduled, rescheduled (its start moved; the previous start kept), canceled,
 * held or no-show (docs/events.md). A CRM that records outcomes says which (its events
 * carry meeting.status, or are meeting.held / meeting.no_show); a calendar does not. For
 * every meeting source alike, the hub derives the one a calendar can support: a meeting
 * still scheduled or rescheduled when it ends, with an attendee other than its organizer
 * who accepted, was held. This engine finds such meetings once they end and stores one
 * meeting.held event for each (source: the meeting's, data.derived: true), which sets
 * meetings.status and routes like any other event. What a source said later still wins
 * (a CRM's no-show over a derived held). A meeting that ended with nobody's acceptance
 * keeps its status: whether it was held is not known.
 *
 * One thread per replica sweeps every minute, and soon after a batch of meeting events
 * commits; rows are taken FOR UPDATE SKIP LOCKED, so replicas never derive one twice.
 */
#ifndef LEADHUB_MEETING_OUTCOMES_H
#define LEADHUB_MEETING_OUTCOMES_H

#include <stdint.h>

#include "ingest.h"
#include "metrics.h"
#include "router.h"
#include "store_pg.h"

struct meeting_outcomes;

struct meeting_outcomes_options {
    const char *database_url;           /* copied */
    struct metrics *metrics;            /* borrowed */
    ingest_deliveries_fn on_deliveries; /* wakes lanes after meeting.held commits; may be NULL */
    void *on_deliveries_arg;
};

/* meeting_outcomes_start - the engine and its thread. NULL when out of memory. */
struct meeting_outcomes *meeting_outcomes_start(const struct meeting_outcomes_options *options);

/* meeting_outcomes_set_router - route the events committed from now on (a reference is
 * taken; the previous one released). */
void meeting_outcomes_set_router(struct meeting_outcomes *outcomes, struct router *router);

/* meeting_outcomes_wake - meeting events were committed: sweep soon. Cheap; any thread. */
void meeting_outcomes_wake(struct meeting_outcomes *outcomes);

/*
 * meeting_outcomes_sweep - one sweep now, on this thread, through `store`: every meeting
 * that ended held (as above) gets its meeting.held event and status, in one transaction.
 *   held_out: how many.
 *   Returns STORE_OK, or the failure (*error_out malloc'd).
 */
enum store_result meeting_outcomes_sweep(struct meeting_outcomes *outcomes, struct store *store,
                                         size_t *held_out, char **error_out);

/* meeting_outcomes_stop - stop the thread and release everything. NULL ok. */
void meeting_outcomes_stop(struct meeting_outcomes *outcomes);

#endif
