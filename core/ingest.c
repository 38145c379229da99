/*
 * ingest.c - the group-commit queue and its writer threads.
 *
 * Batching is what makes durable ingest fast: while one transaction waits for its commit
 * to reach the disk, the next requests queue up, and the next transaction takes them all.
 * No timer is involved, so a lone request is committed at once.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ingest.h"
#include "ingest_stats.h"
#include "log.h"
#include "router.h"
#include "util.h"

/* While the database is down, a writer tries to reconnect at most this often; batches
 * arriving in between fail at once instead of each waiting for a connect attempt. */
#define INGEST_RECONNECT_INTERVAL_MS 250
#define INGEST_CONFLICT_RETRIES      3

struct ingest {
    char *database_url;
    unsigned batch_max;
    unsigned queue_max;
    struct metrics *metrics;
    ingest_deliveries_fn on_deliveries;
    void *on_deliveries_arg;
    ingest_leads_fn on_leads;
    void *on_leads_arg;
    ingest_meetings_fn on_meetings;
    void *on_meetings_arg;
    void (*on_database_state)(bool up, void *arg);
    void *on_database_state_arg;
    struct router *router; /* guarded by mutex; writers hold their own reference */

    pthread_mutex_t mutex;
    pthread_cond_t cond;
    struct ingest_batch *head;
    struct ingest_batch *tail;
    size_t queued_events;
    bool stopping;

    struct ingest_stats *stats; /* NULL unless refreshing statistics */
    atomic_bool database_up;
    atomic_llong next_connect_ms; /* monotonic; no connect attempt before it */

    pthread_t *threads;
    unsigned thread_count;
};

int ingest_batch_add_event(struct ingest_batch *batch, struct event_record *record)
{
    if (batch->event_count == batch->event_capacity) {
        size_t capacity = batch->event_capacity ? batch->event_capacity * 2 : 4;
        struct event_record *events = realloc(batch->events, capacity * sizeof(*events));
        if (events == NULL) {
            return -1;
        }
        batch->events = events;
        batch->event_capacity = capacity;
    }
    batch->events[batch->event_count++] = *record;
    memset(record, 0, sizeof(*record));
    return 0;
}

int ingest_batch_put_checkpoint(struct ingest_batch *batch, const char *instance, const char *key,
                                json_t *value)
{
    if (batch->checkpoint_count == batch->checkpoint_capacity) {
        size_t capacity = batch->checkpoint_capacity ? batch->checkpoint_capacity * 2 : 2;
        struct store_checkpoint *checkpoints =
            realloc(batch->checkpoints, capacity * sizeof(*checkpoints));
        if (checkpoints == NULL) {
            json_decref(value);
            return -1;
        }
        batch->checkpoints = checkpoints;
        batch->checkpoint_capacity = capacity;
    }
    struct store_checkpoint cp = {strdup(instance), strdup(key), value};
    if (cp.instance == NULL || cp.key == NULL) {
        free(cp.instance);
        free(cp.key);
        json_decref(value);
        return -1;
    }
    batch->checkpoints[batch->checkpoint_count++] = cp;
    return 0;
}

json_t *ingest_batch_find_checkpoint(const struct ingest_batch *batch, const char *key)
{
    for (size_t i = batch->checkpoint_count; i > 0; i--) {
        if (strcmp(batch->checkpoints[i - 1].key, key) == 0) {
            return batch->checkpoints[i - 1].value;
        }
    }
    return NULL;
}

/* Makes room for one more item in an array of item_size-byte items. */
static int grow(void **items, size_t count, size_t *capacity, size_t item_size)
{
    if (count < *capacity) {
        return 0;
    }
    size_t wanted = *capacity ? *capacity * 2 : 4;
    void *grown = realloc(*items, wanted * item_size);
    if (grown == NULL) {
        return -1;
    }
    *items = grown;
    *capacity = wanted;
    return 0;
}

int ingest_batch_put_notification(struct ingest_batch *batch, const char *instance, const char *key,
                                  json_t *value, const char *wake)
{
    if (grow((void **)&batch->notifications, batch->notification_count,
             &batch->notification_capacity, sizeof(*batch->notifications)) != 0) {
        json_decref(value);
        return -1;
    }
    struct store_notification n = {strdup(instance), strdup(key), value,
                                   wake != NULL ? strdup(wake) : NULL};
    if (n.instance == NULL || n.key == NULL || (wake != NULL && n.wake == NULL)) {
        free(n.instance);
        free(n.key);
        free(n.wake);
        json_decref(value);
        return -1;
    }
    batch->notifications[batch->notification_count++] = n;
    return 0;
}

int ingest_batch_take(struct ingest_batch *batch, const char *instance, const char *key,
                      int64_t seq)
{
    if (grow((void **)&batch->taken, batch->taken_count, &batch->taken_capacity,
             sizeof(*batch->taken)) != 0) {
        return -1;
    }
    struct store_taken t = {strdup(instance), strdup(key), seq};
    if (t.instance == NULL || t.key == NULL) {
        free(t.instance);
        free(t.key);
        return -1;
    }
    batch->taken[batch->taken_count++] = t;
    return 0;
}

size_t ingest_batch_keep(struct ingest_batch *batch, const char *key)
{
    size_t kept = 0, used = 0;
    for (size_t i = 0; i < batch->taken_count; i++) {
        if (strcmp(batch->taken[i].key, key) == 0) {
            free(batch->taken[i].instance);
            free(batch->taken[i].key);
            kept++;
        } else {
            batch->taken[used++] = batch->taken[i];
        }
    }
    batch->taken_count = used;
    return kept;
}

int ingest_batch_wake(struct ingest_batch *batch, const char *channel)
{
    for (size_t i = 0; i < batch->wake_count; i++) {
        if (strcmp(batch->wake[i], channel) == 0) {
            return 0;
        }
    }
    char **grown = realloc(batch->wake, (batch->wake_count + 1) * sizeof(*grown));
    if (grown == NULL) {
        return -1;
    }
    batch->wake = grown;
    batch->wake[batch->wake_count] = strdup(channel);
    if (batch->wake[batch->wake_count] == NULL) {
        return -1;
    }
    batch->wake_count++;
    return 0;
}

bool ingest_batch_empty(const struct ingest_batch *batch)
{
    return batch->event_count == 0 && batch->checkpoint_count == 0 &&
           batch->notification_count == 0 && batch->taken_count == 0 && batch->wake_count == 0;
}

void ingest_batch_clear(struct ingest_batch *batch)
{
    for (size_t i = 0; i < batch->event_count; i++) {
        event_record_clear(&batch->events[i]);
    }
    free(batch->events);
    for (size_t i = 0; i < batch->checkpoint_count; i++) {
        free(batch->checkpoints[i].instance);
        free(batch->checkpoints[i].key);
        json_decref(batch->checkpoints[i].value);
    }
    free(batch->checkpoints);
    for (size_t i = 0; i < batch->notification_count; i++) {
        free(batch->notifications[i].instance);
        free(batch->notifications[i].key);
        free(batch->notifications[i].wake);
        json_decref(batch->notifications[i].value);
    }
    free(batch->notifications);
    for (size_t i = 0; i < batch->taken_count; i++) {
        free(batch->taken[i].instance);
        free(batch->taken[i].key);
    }
    free(batch->taken);
    for (size_t i = 0; i < batch->wake_count; i++) {
        free(batch->wake[i]);
    }
    free(batch->wake);
    free(batch->error);
    memset(batch, 0, sizeof(*batch));
}

static void complete(struct ingest *ingest, struct ingest_batch *batch, enum store_result result,
                     const char *error)
{
    (void)ingest;
    batch->result = result;
    free(batch->error);
    batch->error = result != STORE_OK && error != NULL ? strdup(error) : NULL;
    batch->done(batch, batch->done_arg);
}

/* Says when new events carried meetings: their outcomes may be due now. */
static void report_meetings(struct ingest *ingest, struct ingest_batch *list)
{
    if (ingest->on_meetings == NULL) {
        return;
    }
    for (struct ingest_batch *b = list; b != NULL; b = b->next) {
        for (size_t i = 0; i < b->event_count; i++) {
            if (!b->events[i].duplicate && json_object_get(b->events[i].event, "meeting") != NULL) {
                ingest->on_meetings(ingest->on_meetings_arg);
                return;
            }
        }
    }
}

/* Hands the leads of the new events to the scoring engine. */
static void report_leads(struct ingest *ingest, struct ingest_batch *list)
{
    if (ingest->on_leads == NULL) {
        return;
    }
    size_t count = 0;
    for (struct ingest_batch *b = list; b != NULL; b = b->next) {
        count += b->event_count;
    }
    int64_t *ids = count > 0 ? malloc(count * sizeof(*ids)) : NULL;
    if (ids == NULL) {
        return;
    }
    size_t n = 0;
    for (struct ingest_batch *b = list; b != NULL; b = b->next) {
        for (size_t i = 0; i < b->event_count; i++) {
            if (!b->events[i].duplicate && b->events[i].lead_id > 0) {
                ids[n++] = b->events[i].lead_id;
            }
        }
    }
    if (n > 0) {
        ingest->on_leads(ids, n, ingest->on_leads_arg);
    }
    free(ids);
}

static void count_outcomes(struct ingest *ingest, struct ingest_batch *list)
{
    for (struct ingest_batch *b = list; b != NULL; b = b->next) {
        for (size_t i = 0; i < b->event_count; i++) {
            const struct event_record *e = &b->events[i];
            metrics_counter_add(ingest->metrics, "leadhub_events_ingested_total",
                                "Events committed, by instance, type and outcome (stored, or "
                                "duplicate of one stored before).",
                                1, "instance", e->source, "type", event_type_label(e->type),
                                "outcome", e->duplicate ? "duplicate" : "stored", METRICS_END);
        }
    }
}

/*
 * Writes the batches of `list` in one transaction. The records are copied side by side
 * (shallow: the JSON is shared) so the store sees one array, and the results copied back.
 */
/* Appends count items of item_size bytes at from to the array at *to (its *used items). */
static void append_items(void *to, size_t *used, const void *from, size_t count, size_t item_size)
{
    /* memcpy's pointers must be valid even for zero bytes */
    if (count > 0) {
        memcpy((char *)to + *used * item_size, from, count * item_size);
        *used += count;
    }
}

static enum store_result write_together(struct store *store, struct ingest_batch *list,
                                        const struct router *router, json_t *destinations,
                                        char **error_out)
{
    size_t events = 0;
    struct store_writes all = {0}, sizes = {0};
    for (struct ingest_batch *b = list; b != NULL; b = b->next) {
        events += b->event_count;
        sizes.checkpoint_count += b->checkpoint_count;
        sizes.notification_count += b->notification_count;
        sizes.taken_count += b->taken_count;
        sizes.wake_count += b->wake_count;
    }
    struct event_record *all_events = calloc(events + 1, sizeof(*all_events));
    all.checkpoints = calloc(sizes.checkpoint_count + 1, sizeof(*all.checkpoints));
    all.notifications = calloc(sizes.notification_count + 1, sizeof(*all.notifications));
    all.taken = calloc(sizes.taken_count + 1, sizeof(*all.taken));
    all.wake = calloc(sizes.wake_count + 1, sizeof(*all.wake));
    enum store_result rc = STORE_UNAVAILABLE;
    if (all_events == NULL || all.checkpoints == NULL || all.notifications == NULL ||
        all.taken == NULL || all.wake == NULL) {
        *error_out = strdup("out of memory");
        goto out;
    }
    size_t e = 0;
    for (struct ingest_batch *b = list; b != NULL; b = b->next) {
        append_items(all_events, &e, b->events, b->event_count, sizeof(*all_events));
        append_items(all.checkpoints, &all.checkpoint_count, b->checkpoints, b->checkpoint_count,
                     sizeof(*all.checkpoints));
        append_items(all.notifications, &all.notification_count, b->notifications,
                     b->notification_count, sizeof(*all.notifications));
        append_items(all.taken, &all.taken_count, b->taken, b->taken_count, sizeof(*all.taken));
        append_items(all.wake, &all.wake_count, b->wake, b->wake_count, sizeof(*all.wake));
    }
    /* a fenced batch is always alone in its list (writer_main) */
    all.fence = list->fence.instance != NULL ? &list->fence : NULL;
    rc = STORE_CONFLICT;
    for (int attempt = 0; rc == STORE_CONFLICT && attempt < INGEST_CONFLICT_RETRIES; attempt++) {
        free(*error_out);
        *error_out = NULL;
        json_object_clear(destinations);
        rc = store_write_batch(store, all_events, events, &all, router, destinations, error_out);
    }
    e = 0;
    for (struct ingest_batch *b = list; b != NULL; b = b->next) {
        for (size_t i = 0; i < b->event_count; i++, e++) {
            b->events[i].id = all_events[e].id;
            b->events[i].lead_id = all_events[e].lead_id;
            b->events[i].duplicate = all_events[e].duplicate;
        }
    }
out:
    free(all_events);
    free(all.checkpoints);
    free(all.notifications);
    free(all.taken);
    free(all.wake);
    return rc;
}

static void database_state_changed(struct ingest *ingest, bool up)
{
    if (ingest->on_database_state != NULL) {
        ingest->on_database_state(up, ingest->on_database_state_arg);
    }
}

/* Connects (or reconnects) unless a recent attempt failed; returns the store or NULL. */
static struct store *writer_connection(struct ingest *ingest, struct store **store,
                                       char **error_out)
{
    if (*store == NULL || !store_connected(*store)) {
        int64_t now = util_monotonic_ms();
        if (!atomic_load(&ingest->database_up) && now < atomic_load(&ingest->next_connect_ms)) {
            *error_out = strdup("database unavailable");
            return NULL;
        }
        atomic_store(&ingest->next_connect_ms, now + INGEST_RECONNECT_INTERVAL_MS);
        if (*store == NULL) {
            *store = store_open(ingest->database_url, error_out);
        } else if (store_ensure(*store, error_out) != STORE_OK) {
            store_close(*store);
            *store = NULL;
        }
    } else if (store_ensure(*store, error_out) != STORE_OK) {
        /* connected but left in a failed transaction that could not be rolled back */
        store_close(*store);
        *store = NULL;
    }
    if (*store == NULL) {
        if (atomic_exchange(&ingest->database_up, false)) {
            log_error("database unreachable, answering 503 until it is back: %s",
                      *error_out != NULL ? *error_out : "?");
            database_state_changed(ingest, false);
        }
        return NULL;
    }
    if (!atomic_exchange(&ingest->database_up, true)) {
        log_info("database connection established");
        database_state_changed(ingest, true);
    }
    return *store;
}

static void process(struct ingest *ingest, struct store **store, struct ingest_batch *list)
{
    char *error = NULL;
    size_t events = 0;
    for (struct ingest_batch *b = list; b != NULL; b = b->next) {
        events += b->event_count;
    }
    enum store_result rc = STORE_UNAVAILABLE;
    int64_t started = util_monotonic_ms();
    pthread_mutex_lock(&ingest->mutex);
    struct router *router = router_acquire(ingest->router);
    pthread_mutex_unlock(&ingest->mutex);
    json_t *destinations = json_object();
    if (destinations == NULL) {
        error = strdup("out of memory");
    } else if (writer_connection(ingest, store, &error) != NULL) {
        rc = write_together(*store, list, router, destinations, &error);
    }
    router_release(router);
    if (rc == STORE_OK && ingest->on_deliveries != NULL) {
        const char *destination;
        json_t *ignored;
        json_object_foreach(destinations, destination, ignored)
        {
            ingest->on_deliveries(destination, ingest->on_deliveries_arg);
        }
    }
    json_decref(destinations);
    if (rc == STORE_OK) {
        metrics_observe(ingest->metrics, "leadhub_ingest_batch_events",
                        "Events per committed transaction.", metrics_size_buckets,
                        metrics_size_bucket_count, (double)events, METRICS_END);
        metrics_observe(ingest->metrics, "leadhub_ingest_commit_seconds",
                        "Time to write and commit one ingest transaction.", metrics_latency_buckets,
                        metrics_latency_bucket_count,
                        (double)(util_monotonic_ms() - started) / 1000.0, METRICS_END);
        count_outcomes(ingest, list);
        report_leads(ingest, list);
        report_meetings(ingest, list);
        size_t stored = 0;
        for (struct ingest_batch *b = list; b != NULL; b = b->next) {
            for (size_t i = 0; i < b->event_count; i++) {
                stored += !b->events[i].duplicate;
            }
        }
        ingest_stats_add(ingest->stats, stored);
    } else if (rc == STORE_UNAVAILABLE && *store != NULL) {
        /* the connection broke under the write: the next batch reconnects */
        if (atomic_exchange(&ingest->database_up, false)) {
            log_error("database unreachable, answering 503 until it is back: %s",
                      error != NULL ? error : "?");
            database_state_changed(ingest, false);
        }
    }

    if (rc == STORE_REJECTED && list->next != NULL) {
        /* One batch's data failed the transaction; find it by writing each alone, so that
         * the others still commit. */
        free(error);
        while (list != NULL) {
            struct ingest_batch *next = list->next;
            list->next = NULL;
            process(ingest, store, list);
            list = next;
        }
        return;
    }
    if (rc != STORE_OK) {
        metrics_counter_add(ingest->metrics, "leadhub_ingest_failures_total",
                            "Batches that could not be committed, by reason.", 1, "reason",
                            rc == STORE_REJECTED ? "rejected"
                            : rc == STORE_FENCED ? "fenced"
                                                 : "unavailable",
                            METRICS_END);
        if (rc == STORE_REJECTED) {
            log_error("ingest batch rejected by the database: %s", error ? error : "?");
        }
    }
    while (list != NULL) {
        struct ingest_batch *next = list->next;
        list->next = NULL;
        complete(ingest, list, rc, error);
        list = next;
    }
    free(error);
}

static void *writer_main(void *arg)
{
    struct ingest *ingest = arg;
    struct store *store = NULL;
    for (;;) {
        pthread_mutex_lock(&ingest->mutex);
        while (ingest->head == NULL && !ingest->stopping) {
            pthread_cond_wait(&ingest->cond, &ingest->mutex);
        }
        if (ingest->head == NULL) {
            pthread_mutex_unlock(&ingest->mutex);
            break;
        }
        /* Take the first batch whatever its size, then more while they fit. A poll's
         * batch, checked against its lease in its commit, goes alone: its fence failing
         * must not take others' events with it. */
        struct ingest_batch *list = ingest->head;
        struct ingest_batch *last = list;
        size_t taken = list->event_count;
        while (list->fence.instance == NULL && last->next != NULL &&
               last->next->fence.instance == NULL &&
               taken + last->next->event_count <= ingest->batch_max) {
            last = last->next;
            taken += last->event_count;
        }
        ingest->head = last->next;
        if (ingest->head == NULL) {
            ingest->tail = NULL;
        }
        last->next = NULL;
        ingest->queued_events -= taken;
        pthread_mutex_unlock(&ingest->mutex);

        process(ingest, &store, list);
    }
    store_close(store);
    return NULL;
}

struct ingest *ingest_start(const struct ingest_options *options)
{
    struct ingest *ingest = calloc(1, sizeof(*ingest));
    if (ingest == NULL) {
        return NULL;
    }
    ingest->database_url = strdup(options->database_url);
    ingest->batch_max = options->batch_max ? options->batch_max : 1000;
    ingest->queue_max = options->queue_max ? options->queue_max : 50000;
    ingest->metrics = options->metrics;
    ingest->on_deliveries = options->on_deliveries;
    ingest->on_deliveries_arg = options->on_deliveries_arg;
    ingest->on_leads = options->on_leads;
    ingest->on_leads_arg = options->on_leads_arg;
    ingest->on_meetings = options->on_meetings;
    ingest->on_meetings_arg = options->on_meetings_arg;
    ingest->on_database_state = options->on_database_state;
    ingest->on_database_state_arg = options->on_database_state_arg;
    unsigned writers = options->writers ? options->writers : 1;
    ingest->threads = calloc(writers, sizeof(*ingest->threads));
    if (ingest->database_url == NULL || ingest->threads == NULL) {
        free(ingest->database_url);
        free(ingest->threads);
        free(ingest);
        return NULL;
    }
    /* Assume the database is up until a writer finds otherwise: readiness is checked
     * separately, and the first batch tries to connect in any case. */
    atomic_init(&ingest->database_up, true);
    atomic_init(&ingest->next_connect_ms, 0);
    pthread_mutex_init(&ingest->mutex, NULL);
    pthread_cond_init(&ingest->cond, NULL);
    if (options->refresh_statistics) {
        ingest->stats = ingest_stats_start(ingest->database_url, ingest->metrics);
    }
    for (unsigned i = 0; i < writers; i++) {
        if (pthread_create(&ingest->threads[i], NULL, writer_main, ingest) != 0) {
            break;
        }
        ingest->thread_count++;
    }
    if (ingest->thread_count == 0) {
        ingest_stop(ingest);
        return NULL;
    }
    return ingest;
}

int ingest_submit(struct ingest *ingest, struct ingest_batch *batch)
{
    int rc = -1;
    batch->next = NULL;
    batch->result = STORE_UNAVAILABLE;
    pthread_mutex_lock(&ingest->mutex);
    bool full =
        ingest->head != NULL && ingest->queued_events + batch->event_count > ingest->queue_max;
    if (!ingest->stopping && !full) {
        if (ingest->tail != NULL) {
            ingest->tail->next = batch;
        } else {
            ingest->head = batch;
        }
        ingest->tail = batch;
        ingest->queued_events += batch->event_count;
        pthread_cond_signal(&ingest->cond);
        rc = 0;
    }
    pthread_mutex_unlock(&ingest->mutex);
    if (rc != 0) {
        metrics_counter_add(ingest->metrics, "leadhub_ingest_failures_total",
                            "Batches that could not be committed, by reason.", 1, "reason",
                            full ? "queue_full" : "stopping", METRICS_END);
    }
    return rc;
}

struct waiter {
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    bool done;
};

static void waiter_done(struct ingest_batch *batch, void *arg)
{
    (void)batch;
    struct waiter *w = arg;
    pthread_mutex_lock(&w->mutex);
    w->done = true;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->mutex);
}

enum store_result ingest_submit_wait(struct ingest *ingest, struct ingest_batch *batch)
{
    struct waiter w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false};
    batch->done = waiter_done;
    /* &w outlives its use: this function waits for done() before it returns */
    // cppcheck-suppress autoVariables
    batch->done_arg = &w;
    if (ingest_submit(ingest, batch) != 0) {
        return STORE_UNAVAILABLE;
    }
    pthread_mutex_lock(&w.mutex);
    while (!w.done) {
        pthread_cond_wait(&w.cond, &w.mutex);
    }
    pthread_mutex_unlock(&w.mutex);
    pthread_cond_destroy(&w.cond);
    pthread_mutex_destroy(&w.mutex);
    batch->done = NULL;
    batch->done_arg = NULL;
    return batch->result;
}

void ingest_set_router(struct ingest *ingest, struct router *router)
{
    router_acquire(router);
    pthread_mutex_lock(&ingest->mutex);
    struct router *previous = ingest->router;
    ingest->router = router;
    pthread_mutex_unlock(&ingest->mutex);
    router_release(previous);
}

bool ingest_database_up(const struct ingest *ingest)
{
    return atomic_load(&ingest->database_up);
}

void ingest_stop(struct ingest *ingest)
{
    if (ingest == NULL) {
        return;
    }
    pthread_mutex_lock(&ingest->mutex);
    ingest->stopping = true;
    pthread_cond_broadcast(&ingest->cond);
    pthread_mutex_unlock(&ingest->mutex);
    for (unsigned i = 0; i < ingest->thread_count; i++) {
        pthread_join(ingest->threads[i], NULL);
    }
    ingest_stats_stop(ingest->stats);
    router_release(ingest->router);
    pthread_cond_destroy(&ingest->cond);
    pthread_mutex_destroy(&ingest->mutex);
    free(ingest->threads);
    free(ingest->database_url);
    free(ingest);
}
