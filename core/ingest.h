/*
 * ingest.h - group commit. Webhook requests and polls each hand over a batch (the events
 * and checkpoints of one callback); writer threads take whatever batches are waiting, up
 * to ingest.batch_max events, and commit them in one transaction. Each batch learns its
 * outcome through its completion callback, only after the commit: that is when a webhook
 * may answer 2xx.
 */
#ifndef LEADHUB_INGEST_H
#define LEADHUB_INGEST_H

#include <stdbool.h>
#include <stddef.h>

#include "event.h"
#include "metrics.h"
#include "store_pg.h"

struct ingest_batch;

/* Called on a writer thread once the batch is committed or has failed; it must not
 * block. The batch stays owned by the submitter. */
typedef void (*ingest_done_fn)(struct ingest_batch *batch, void *arg);

struct ingest_batch {
    struct event_record *events; /* owned; results filled in on STORE_OK */
    size_t event_count;
    size_t event_capacity;
    struct store_checkpoint *checkpoints; /* owned */
    size_t checkpoint_count;
    size_t checkpoint_capacity;
    struct store_notification *notifications; /* owned: notification_put */
    size_t notification_count;
    size_t notification_capacity;
    struct store_taken *taken; /* owned: notifications_take, removed on commit */
    size_t taken_count;
    size_t taken_capacity;
    char **wake; /* owned: sync channels to NOTIFY on commit (poll_soon), no repeats */
    size_t wake_count;
    /* A poll's batch: committed only while this is still its instance's lease (borrowed;
     * fence.instance NULL for other batches). Such a batch is written alone. */
    struct store_fence fence;
    ingest_done_fn done;
    void *done_arg;
    enum store_result result;  /* set before done() */
    char *error;               /* set with a failure; owned */
    struct ingest_batch *next; /* queue link, owned by the ingest while queued */
};

/* ingest_batch_add_event - takes the record (its event reference moves into the batch). */
int ingest_batch_add_event(struct ingest_batch *batch, struct event_record *record);

/* ingest_batch_put_checkpoint - value STOLEN; instance and key copied. */
int ingest_batch_put_checkpoint(struct ingest_batch *batch, const char *instance, const char *key,
                                json_t *value);

/* ingest_batch_find_checkpoint - the last value put for key in this batch (borrowed) or
 * NULL. */
json_t *ingest_batch_find_checkpoint(const struct ingest_batch *batch, const char *key);

/* ingest_batch_put_notification - value STOLEN; instance, key and wake (a sync channel to
 * NOTIFY when the put changes something, or NULL) copied. 0, or -1 when out of memory. */
int ingest_batch_put_notification(struct ingest_batch *batch, const char *instance, const char *key,
                                  json_t *value, const char *wake);

/* ingest_batch_take - record that the notification (instance, key) at seq was taken: it is
 * removed when the batch commits. 0, or -1 when out of memory. */
int ingest_batch_take(struct ingest_batch *batch, const char *instance, const char *key,
                      int64_t seq);

/* ingest_batch_keep - forget the takes of key (it stays pending). Returns how many there
 * were. */
size_t ingest_batch_keep(struct ingest_batch *batch, const char *key);

/* ingest_batch_wake - NOTIFY channel when the batch commits (once however often asked).
 * 0, or -1 when out of memory. */
int ingest_batch_wake(struct ingest_batch *batch, const char *channel);

/* ingest_batch_empty - true when the batch has nothing to write. */
bool ingest_batch_empty(const struct ingest_batch *batch);

/* ingest_batch_clear - frees everything the batch holds and zeroes it. */
void ingest_batch_clear(struct ingest_batch *batch);

struct router;

/* Called after a commit for each destination that got new deliveries (wakes its workers);
 * runs on a writer thread and must not block. */
typedef void (*ingest_deliveries_fn)(const char *destination, void *arg);

/* Called after a commit with the leads its new events are about (to be re-scored); runs on
 * a writer thread and must not block. */
typedef void (*ingest_leads_fn)(const int64_t *lead_ids, size_t count, void *arg);

/* Called after a commit whose new events carried meetings (their outcomes may be due);
 * runs on a writer thread and must not block. */
typedef void (*ingest_meetings_fn)(void *arg);

struct ingest_options {
    const char *database_url;
    unsigned writers;                   /* connections committing in parallel */
    unsigned batch_max;                 /* events per transaction */
    unsigned queue_max;                 /* events waiting; past it submits are refused (503) */
    struct metrics *metrics;            /* borrowed, may be NULL */
    ingest_deliveries_fn on_deliveries; /* may be NULL */
    void *on_deliveries_arg;
    ingest_leads_fn on_leads; /* may be NULL */
    void *on_leads_arg;
    ingest_meetings_fn on_meetings; /* may be NULL */
    void *on_meetings_arg;
    /* Called on a writer thread when the writers find the database gone or back (must not
     * block; may be NULL). */
    void (*on_database_state)(bool up, void *arg);
    void *on_database_state_arg;
    /* ANALYZE the tables while they grow from small (ingest_stats.h): the daemon's */
    bool refresh_statistics;
};

struct ingest;

/*
 * ingest_start - start the writer threads. They connect lazily and reconnect by
 * themselves; while the database is down, batches fail quickly with STORE_UNAVAILABLE.
 * Returns NULL when out of memory or threads cannot start.
 */
struct ingest *ingest_start(const struct ingest_options *options);

/*
 * ingest_submit - queue a batch; done() runs later on a writer thread.
 *   Returns 0 when queued; -1 when the queue is full or the ingest is stopping (the
 *   caller answers 503 and done() is NOT called).
 */
int ingest_submit(struct ingest *ingest, struct ingest_batch *batch);

/*
 * ingest_submit_wait - queue a batch and wait for its outcome (pollers, CLI).
 * Returns batch->result, or STORE_UNAVAILABLE when it could not be queued.
 */
enum store_result ingest_submit_wait(struct ingest *ingest, struct ingest_batch *batch);

/*
 * ingest_set_router - route events committed from now on with `router` (a reference is
 * taken; the previous router is released once no writer uses it). NULL routes nothing.
 */
void ingest_set_router(struct ingest *ingest, struct router *router);

/* ingest_database_up - false while the writers cannot reach the database. */
bool ingest_database_up(const struct ingest *ingest);

/*
 * ingest_stop - refuse new batches, commit every queued one, then stop the writers and
 * free everything. Accepts NULL.
 */
void ingest_stop(struct ingest *ingest);

#endif
