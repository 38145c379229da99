/*
 * dispatch.h - delivery workers. Every sink instance gets a lane: `delivery.concurrency`
 * workers (one when the plugin is not reentrant), each with its own PostgreSQL connection,
 * claiming that destination's due deliveries with FOR UPDATE SKIP LOCKED, calling the
 * sink, and recording each outcome in the same transaction:
 *
 *   LH_OK -> done;  LH_RETRY (and AUTH) -> a refusal: retrying after full-jitter backoff
 *   between delivery.backoff_base and backoff_cap, dead once max_attempts refusals are
 *   spent;  LH_RETRY_AFTER (the destination asked to wait), LH_HOLD (the record waits for
 *   data) and LH_CONFIG (the destination refuses the configuration; the lane shows it
 *   misconfigured until an attempt succeeds) -> held: retrying after the delay given
 *   (CONFIG: backoff_cap), spending no attempt, dead only once held for delivery.max_hold
 *   (LH_HOLD leaves the circuit alone);  LH_PERMANENT -> dead, last error kept. A row
 *   whose stored event cannot be decoded goes dead at once, the sink never called. Each
 *   row goes to the sink with the lead its event is about, as it is now.
 *
 * A claimed row stays locked while its transaction is open, so no other worker or replica
 * can send it at the same time; a crashed worker's locks vanish with its connection and
 * the rows are sent again (at least once: sinks pass the idempotency key on).
 *
 * Lanes are independent: a destination that keeps failing opens its circuit (no claims
 * for delivery.breaker_cooldown, then one trial delivery) without taking workers from the
 * others.
 */
#ifndef LEADHUB_DISPATCH_H
#define LEADHUB_DISPATCH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "config.h"
#include "instance.h"
#include "metrics.h"

struct dispatcher;

struct dispatch_options {
    const char *database_url;      /* copied */
    struct config_delivery policy; /* copied */
    struct metrics *metrics;       /* borrowed */
};

struct dispatcher *dispatch_start(const struct dispatch_options *options);

/*
 * dispatch_add - start the lane of a sink instance (a reference is taken). Adding a
 * destination that already has a lane replaces nothing and returns -1.
 */
int dispatch_add(struct dispatcher *dispatcher, struct instance *sink);

/*
 * dispatch_remove - stop a destination's lane: workers finish the delivery in flight,
 * record what was attempted, leave the rest of their claim untouched (released by the
 * commit), and exit. Waits for them; the lane's instance reference is released.
 */
void dispatch_remove(struct dispatcher *dispatcher, const char *destination);

/* dispatch_wake - new deliveries were committed for destination: stop idling. */
void dispatch_wake(struct dispatcher *dispatcher, const char *destination);

/*
 * dispatch_status - {destination: {"circuit": "closed"|"open"|"half_open", "workers": n,
 * "misconfigured": reason (only while the sink answers LH_CONFIG)}}. NEW reference.
 */
json_t *dispatch_status(struct dispatcher *dispatcher);

/*
 * dispatch_quiesce - the first step of a shutdown: every lane stops claiming at once.
 * Workers finish the delivery in flight, record what they attempted, release the rest
 * of their claim and exit, while the rest of the daemon drains; nothing waits here.
 * dispatch_stop() then waits for them.
 */
void dispatch_quiesce(struct dispatcher *dispatcher);

/*
 * dispatch_stop - stop every lane as dispatch_remove() does, waiting at most grace_ms.
 * Returns true when every worker finished (the dispatcher is then freed); false when some
 * are still inside a sink call after the grace period: the dispatcher is then left running
 * for the process to exit around it.
 */
bool dispatch_stop(struct dispatcher *dispatcher, int64_t grace_ms);

/* Exposed for tests: the full-jitter delay before retry number `attempt` (1 = the retry
 * after the first failure), in [0, min(cap, base * 2^(attempt-1))). */
int64_t dispatch_backoff_ms(const struct config_delivery *policy, unsigned attempt, unsigned *seed);

#endif
