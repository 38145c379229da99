/* meeting_outcomes.c - see meeting_outcomes.h. */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "log.h"
#include "meeting_outcomes.h"
#include "util.h"

#define SWEEP_INTERVAL_MS 60000 /* a held meeting is known within a minute of its end */
#define SWEEP_LIMIT       500   /* meetings per transaction; a backlog takes a few */
#define RECONNECT_WAIT_MS 5000

/*
 * Meetings that ended in the last week still scheduled or rescheduled, with an attendee
 * other than the organizer who accepted. The event's time is the end, or the meeting's
 * last event when that is later, so that it applies in event time order (the upsert keeps
 * what is newer). A week bounds what each sweep reads; a meeting the hub learns of later
 * than that keeps the status its source gave.
 */
static const char sql_due[] =
    "SELECT m.source, m.external_id, coalesce(m.lead_id, 0), "
    "(extract(epoch FROM greatest(m.ends_at, m.last_event_at)) * 1000)::bigint "
    "FROM meetings m WHERE m.status IN ('scheduled', 'rescheduled') "
    "AND m.ends_at <= now() AND m.ends_at > now() - interval '7 days' "
    "AND EXISTS (SELECT 1 FROM meeting_attendees a WHERE a.meeting_id = m.id "
    "AND a.response = 'accepted' AND a.email IS DISTINCT FROM m.organizer_email) "
    "ORDER BY m.ends_at, m.id LIMIT $1 FOR UPDATE OF m SKIP LOCKED";

struct meeting_outcomes {
    char *database_url;
    struct metrics *metrics;
    ingest_deliveries_fn on_deliveries;
    void *on_deliveries_arg;

    pthread_mutex_t mutex; /* guards everything below */
    pthread_cond_t cond;
    struct router *router;
    bool woken;
    bool stopping;
    bool thread_started;
    pthread_t thread;
};

/* The meeting.held event of one due row (validated), or -1 when it cannot be built. */
static int held_event(const PGresult *result, int row, struct event_record *record)
{
    const char *source = PQgetvalue(result, row, 0);
    const char *external_id = PQgetvalue(result, row, 1);
    int64_t lead_id = strtoll(PQgetvalue(result, row, 2), NULL, 10);
    char occurred_at[32];
    util_format_rfc3339(strtoll(PQgetvalue(result, row, 3), NULL, 10), occurred_at);
    /* one per state of the meeting: held, moved or re-sent by its source, and held again,
     * is another event (a repeated id would be a duplicate, and change nothing) */
    char *source_id = util_printf("%s:held:%s", external_id, PQgetvalue(result, row, 3));
    json_t *event = json_pack("{s:s,s:s,s:s,s:{s:s,s:s},s:{s:b,s:s}}", "type", "meeting.held",
                              "source_id", source_id, "occurred_at", occurred_at, "meeting",
                              "external_id", external_id, "status", "held", "data", "derived", 1,
                              "reason", "it ended uncanceled, with an attendee who had accepted");
    free(source_id);
    if (event != NULL && lead_id > 0) {
        json_object_set_new(event, "lead", json_pack("{s:I}", "id", (json_int_t)lead_id));
    }
    char *error = NULL;
    /* event_validate steals the event, and refuses what the model does not allow */
    if (event == NULL || event_validate(event, source, record, &error) != 0) {
        log_warn("meeting %s of %s: its meeting.held event was refused: %s", external_id, source,
                 error != NULL ? error : "out of memory");
        free(error);
        return -1;
    }
    return 0;
}

enum store_result meeting_outcomes_sweep(struct meeting_outcomes *outcomes, struct store *store,
                                         size_t *held_out, char **error_out)
{
    PGresult *result = NULL;
    struct event_record *records = NULL;
    size_t count = 0;
    json_t *destinations = json_object();
    *held_out = 0;
    *error_out = NULL;
    enum store_result rc = store_begin(store, error_out);
    if (rc != STORE_OK) {
        goto out;
    }
    char limit[16];
    snprintf(limit, sizeof(limit), "%d", SWEEP_LIMIT);
    const char *params[] = {limit};
    if ((rc = store_exec(store, "meetings_due", sql_due, 1, params, &result, error_out)) !=
        STORE_OK) {
        goto rollback;
    }
    int rows = PQntuples(result);
    if (rows == 0) {
        rc = store_commit(store, error_out);
        goto out;
    }
    if ((records = calloc((size_t)rows, sizeof(*records))) == NULL || destinations == NULL) {
        *error_out = strdup("out of memory");
        rc = STORE_UNAVAILABLE;
        goto rollback;
    }
    for (int row = 0; row < rows; row++) {
        if (held_event(result, row, &records[count]) == 0) {
            count++;
        }
    }
    pthread_mutex_lock(&outcomes->mutex);
    struct router *router = router_acquire(outcomes->router);
    pthread_mutex_unlock(&outcomes->mutex);
    rc = store_write_events(store, records, count, router, destinations, error_out);
    router_release(router);
    if (rc != STORE_OK) {
        goto rollback;
    }
    if ((rc = store_commit(store, error_out)) != STORE_OK) {
        goto out;
    }
    *held_out = count;
    metrics_counter_add(outcomes->metrics, "leadhub_meeting_outcomes_derived_total",
                        "Meetings the hub found held (ended uncanceled, an attendee accepted).",
                        (double)count, METRICS_END);
    if (outcomes->on_deliveries != NULL) {
        const char *destination;
        json_t *ignored;
        json_object_foreach(destinations, destination, ignored)
        {
            outcomes->on_deliveries(destination, outcomes->on_deliveries_arg);
        }
    }
    goto out;
rollback:
    store_rollback(store);
out:
    if (result != NULL) {
        PQclear(result);
    }
    for (size_t i = 0; i < count; i++) {
        event_record_clear(&records[i]);
    }
    free(records);
    json_decref(destinations);
    return rc;
}

static void *sweep_main(void *arg)
{
    struct meeting_outcomes *outcomes = arg;
    struct store *store = NULL;
    pthread_mutex_lock(&outcomes->mutex);
    while (!outcomes->stopping) {
        outcomes->woken = false;
        pthread_mutex_unlock(&outcomes->mutex);
        char *error = NULL;
        int64_t wait_ms = SWEEP_INTERVAL_MS;
        if (store == NULL) {
            store = store_open(outcomes->database_url, &error);
        } else if (store_ensure(store, &error) != STORE_OK) {
            store_close(store);
            store = NULL;
        }
        size_t held = SWEEP_LIMIT;
        /* a full sweep means more may be due: go on at once */
        while (store != NULL && held == SWEEP_LIMIT) {
            free(error);
            error = NULL;
            if (meeting_outcomes_sweep(outcomes, store, &held, &error) != STORE_OK) {
                log_warn("deriving meeting outcomes: %s", error != NULL ? error : "?");
                wait_ms = RECONNECT_WAIT_MS;
                break;
            }
        }
        free(error);
        pthread_mutex_lock(&outcomes->mutex);
        if (!outcomes->stopping && !outcomes->woken) {
            util_cond_wait_ms(&outcomes->cond, &outcomes->mutex, wait_ms);
        }
    }
    pthread_mutex_unlock(&outcomes->mutex);
    store_close(store);
    return NULL;
}

struct meeting_outcomes *meeting_outcomes_start(const struct meeting_outcomes_options *options)
{
    struct meeting_outcomes *outcomes = calloc(1, sizeof(*outcomes));
    if (outcomes == NULL || (outcomes->database_url = strdup(options->database_url)) == NULL) {
        free(outcomes);
        return NULL;
    }
    outcomes->metrics = options->metrics;
    outcomes->on_deliveries = options->on_deliveries;
    outcomes->on_deliveries_arg = options->on_deliveries_arg;
    pthread_mutex_init(&outcomes->mutex, NULL);
    pthread_cond_init(&outcomes->cond, NULL);
    outcomes->thread_started = pthread_create(&outcomes->thread, NULL, sweep_main, outcomes) == 0;
    if (!outcomes->thread_started) {
        log_error("cannot start the meeting outcome thread: meetings are not found held");
    }
    return outcomes;
}

void meeting_outcomes_set_router(struct meeting_outcomes *outcomes, struct router *router)
{
    if (outcomes == NULL) {
        return;
    }
    router_acquire(router);
    pthread_mutex_lock(&outcomes->mutex);
    struct router *previous = outcomes->router;
    outcomes->router = router;
    pthread_mutex_unlock(&outcomes->mutex);
    router_release(previous);
}

void meeting_outcomes_wake(struct meeting_outcomes *outcomes)
{
    if (outcomes == NULL) {
        return;
    }
    pthread_mutex_lock(&outcomes->mutex);
    outcomes->woken = true;
    pthread_cond_broadcast(&outcomes->cond);
    pthread_mutex_unlock(&outcomes->mutex);
}

void meeting_outcomes_stop(struct meeting_outcomes *outcomes)
{
    if (outcomes == NULL) {
        return;
    }
    pthread_mutex_lock(&outcomes->mutex);
    outcomes->stopping = true;
    pthread_cond_broadcast(&outcomes->cond);
    pthread_mutex_unlock(&outcomes->mutex);
    if (outcomes->thread_started) {
        pthread_join(outcomes->thread, NULL);
    }
    router_release(outcomes->router);
    pthread_cond_destroy(&outcomes->cond);
    pthread_mutex_destroy(&outcomes->mutex);
    free(outcomes->database_url);
    free(outcomes);
}
