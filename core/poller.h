/*
 * poller.h - polls source instances every poll_interval.
 *
 * Each source instance with a poll callback gets a thread and its own PostgreSQL session.
 * Exactly one replica polls an instance: the one holding its lease (poll_lease.h: a
 * session-level advisory lock, and a fence its commits are checked against). The owner
 * keeps the lease while its session lives; the others try to take it every interval, so
 * when the owner dies (its session ends, the lock with it) one of them takes over within
 * an interval. A replica whose session died while it polled finds its commit refused
 * (the fence) and starts over. Each thread also LISTENs on the instance's sync channel, so
 * that `leadhubd sync INSTANCE` (from any machine) makes the owner poll at once, and so do
 * the notifications a webhook records and poll_soon() (payload STORE_WAKE_PAYLOAD, sent
 * when their transaction commits) - unless the last poll failed: then they wait for its
 * backoff or the provider's Retry-After, which `sync` does not. Everything that arrives
 * before a poll starts makes one poll.
 *
 * A poll's events and checkpoints commit together (through ingest) or not at all; a poll
 * that fails or cannot commit leaves the cursor where it was, and the next poll repeats
 * that page (deduplicated by the events' idempotency key).
 */
#ifndef LEADHUB_POLLER_H
#define LEADHUB_POLLER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "ingest.h"
#include "instance.h"
#include "metrics.h"

/* The longest a poll may run before should_stop() tells it to return what it has. */
#define POLLER_DEADLINE_MAX_MS (10LL * 60 * 1000)

struct poller;

struct poller_options {
    const char *database_url; /* copied */
    const char *replica;      /* this daemon's name in connector_status.owner; copied */
    struct ingest *ingest;    /* borrowed */
    struct metrics *metrics;  /* borrowed */
};

/* poller_start - a poller whose sources wait for poller_open() before their first poll. */
struct poller *poller_start(const struct poller_options *options);

/* poller_open - let the sources poll: once the daemon answers HTTP, because a first poll may
 * ask a provider to call back at once (a Graph subscription's validation request, a watch
 * confirmation) and the webhook must be there to answer it. Idempotent. */
void poller_open(struct poller *poller);

/* poller_add - start polling a source instance (a reference is taken). -1 when it has no
 * poll callback, is already polled, or a thread cannot start. */
int poller_add(struct poller *poller, struct instance *source);

/* poller_remove - stop polling it: waits for a poll in progress to end, releases the
 * advisory lock (another replica may take over) and the instance reference. */
void poller_remove(struct poller *poller, const char *name);

/* poller_stop - poller_remove() for every instance, waiting at most grace_ms for polls in
 * progress. Returns false when some are still running (then nothing is freed). */
bool poller_stop(struct poller *poller, int64_t grace_ms);

/* One poll's result. */
struct poll_result {
    lh_status_t status;  /* the callback's; LH_RETRY when its events could not commit */
    bool committed;      /* its events and checkpoints are stored */
    bool fenced;         /* refused: another replica holds the lease now */
    unsigned events;     /* events emitted */
    unsigned new_events; /* of which were not stored before */
    int64_t retry_after_ms;
    char outcome[16]; /* "ok", "retry", ..., "commit_failed" */
    char *error;      /* malloc'd reason, or NULL */
};

struct poll_lease;

/*
 * poller_run_once - poll `source` once and commit what it emitted through `ingest`,
 * recording start and end in connector_status through `conn` (may be NULL). Shared by the
 * poller threads and `leadhubd sync`. The caller holds the instance's lease, whose fence
 * the commit is checked against.
 *   cancel: may be NULL; when it turns true the poll's should_stop() says so.
 */
void poller_run_once(struct instance *source, struct ingest *ingest, PGconn *conn,
                     const char *replica, const struct poll_lease *lease, struct metrics *metrics,
                     atomic_bool *cancel, struct poll_result *result);

void poll_result_clear(struct poll_result *result);

/* The LISTEN/NOTIFY channel that asks the owner of `instance` to poll now: malloc'd. */
char *poller_sync_channel(const char *instance);

#endif
