/*
 * poller.c - poll threads, one per source instance (see poller.h).
 *
 * A thread sleeps in poll(2) on its session's socket (for sync notifications) and an
 * eventfd (to be stopped), until its next poll is due. (Not select(): a daemon with
 * thousands of connections open hands out descriptors past FD_SETSIZE.)
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/eventfd.h>
#include <poll.h>
#include <unistd.h>

#include "log.h"
#include "poll_lease.h"
#include "poller.h"
#include "store_pg.h"
#include "util.h"

#define POLLER_RECONNECT_MS     1000
#define POLLER_UNINITIALIZED_MS 5000 /* recheck an instance whose init failed */
#define POLLER_RETRY_BASE_MS    1000

static const char sql_started[] =
    "INSERT INTO connector_status (instance, owner, last_poll_started_at, updated_at) "
    "VALUES ($1, $2, now(), now()) ON CONFLICT (instance) DO UPDATE SET owner = $2, "
    "last_poll_started_at = now(), updated_at = now()";

/* last_success_at and consecutive_failures (migration 0014) feed the connector health; a
 * poll the provider holds (retry_after: a rate limit) is no failure */
static const char sql_finished[] =
    "UPDATE connector_status SET last_poll_finished_at = now(), last_poll_outcome = $2, "
    "last_poll_events = $3::int, last_error = $4, polls = polls + 1, updated_at = now(), "
    "last_success_at = CASE WHEN $2 = 'ok' THEN now() ELSE last_success_at END, "
    "consecutive_failures = CASE WHEN $2 = 'ok' THEN 0 WHEN $2 = 'retry_after' THEN "
    "consecutive_failures ELSE consecutive_failures + 1 END "
    "WHERE instance = $1";

struct poll_thread {
    struct poller *poller;
    struct instance *source; /* a reference */
    pthread_t thread;
    int wake_fd;
    atomic_bool stopping;
    atomic_bool finished;
    struct poll_thread *next;
};

struct poller {
    char *database_url;
    char *replica;
    struct ingest *ingest;
    struct metrics *metrics;
    pthread_mutex_t mutex; /* guards threads */
    struct poll_thread *threads;
    /* Its own lock: poller_stop joins threads holding `mutex`, maybe before the gate opens. */
    pthread_mutex_t open_mutex;
    pthread_cond_t opened; /* signalled by poller_open */
    bool open;
};

static uint64_t fnv1a64(const char *text)
{
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++) {
        h = (h ^ *p) * 1099511628211ULL;
    }
    return h;
}

char *poller_sync_channel(const char *instance)
{
    /* a hash keeps the channel a short plain identifier whatever the instance name */
    return util_printf("lh_sync_%016llx", (unsigned long long)fnv1a64(instance));
}

void poll_result_clear(struct poll_result *result)
{
    free(result->error);
    memset(result, 0, sizeof(*result));
}

static bool exec_params(PGconn *conn, const char *sql, int count, const char *const *params)
{
    PGresult *res = PQexecParams(conn, sql, count, NULL, params, NULL, NULL, 0);
    ExecStatusType status = PQresultStatus(res);
    PQclear(res);
    return status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
}

static void count_poll(struct metrics *metrics, const char *instance, const char *outcome,
                       unsigned new_events)
{
    metrics_counter_add(metrics, "leadhub_polls_total", "Polls, by instance and outcome.", 1,
                        "instance", instance, "outcome", outcome, METRICS_END);
    metrics_counter_add(metrics, "leadhub_poll_events_total",
                        "New events stored by polls, by instance.", (double)new_events, "instance",
                        instance, METRICS_END);
    /* Poll lag for alerts: only the replica that polls an instance sets it, so the max
     * over replicas is the last success anywhere. */
    if (strcmp(outcome, "ok") == 0) {
        metrics_gauge_set(metrics, "leadhub_poll_last_success_timestamp_seconds",
                          "Unix time of the instance's last successful poll on this replica.",
                          (double)time(NULL), "instance", instance, METRICS_END);
    }
}

void poller_run_once(struct instance *source, struct ingest *ingest, PGconn *conn,
                     const char *replica, const struct poll_lease *lease, struct metrics *metrics,
                     atomic_bool *cancel, struct poll_result *result)
{
    memset(result, 0, sizeof(*result));
    result->retry_after_ms = -1;
    const char *started[] = {source->name, replica};
    if (conn != NULL && !exec_params(conn, sql_started, 2, started)) {
        result->status = LH_RETRY;
        snprintf(result->outcome, sizeof(result->outcome), "no_database");
        result->error = util_printf("cannot record the poll: %s", PQerrorMessage(conn));
        return;
    }
    struct ingest_batch batch = {0};
    struct lh_ctx ctx;
    ctx_init(&ctx, source, &batch);
    int64_t budget = source->poll_interval_ms < POLLER_DEADLINE_MAX_MS ? source->poll_interval_ms
                                                                       : POLLER_DEADLINE_MAX_MS;
    ctx.deadline_ms = util_monotonic_ms() + budget;
    ctx.cancel = cancel;
    lh_status_t status = instance_poll(source, &ctx);
    if (status == LH_AUTH && host_oauth2_drop(&ctx)) {
        /* a refused host-managed token: refresh it and poll once more, from a clean batch */
        ingest_batch_clear(&batch);
        ctx_clear(&ctx);
        ctx_init(&ctx, source, &batch);
        ctx.deadline_ms = util_monotonic_ms() + budget;
        ctx.cancel = cancel;
        status = instance_poll(source, &ctx);
    }
    result->events = ctx.emitted;
    snprintf(result->outcome, sizeof(result->outcome), "%s", instance_status_name(status));
    if (status == LH_OK && !ingest_batch_empty(&batch)) {
        if (lease != NULL) {
            batch.fence = (struct store_fence){source->name, lease->fence};
        }
        enum store_result stored = ingest_submit_wait(ingest, &batch);
        if (stored == STORE_FENCED) {
            status = LH_RETRY;
            result->fenced = true;
            snprintf(result->outcome, sizeof(result->outcome), "fenced");
            result->error = strdup("another replica took over the instance's polls while this "
                                   "one polled: nothing stored");
        } else if (stored != STORE_OK) {
            status = LH_RETRY;
            snprintf(result->outcome, sizeof(result->outcome), "commit_failed");
            result->error = util_printf("its events could not be stored: %s",
                                        batch.error != NULL ? batch.error : "database unavailable");
        } else {
            for (size_t i = 0; i < batch.event_count; i++) {
                result->new_events += !batch.events[i].duplicate;
            }
        }
    }
    result->committed = status == LH_OK;
    result->status = status;
    result->retry_after_ms = ctx.retry_after_ms;
    if (status != LH_OK && result->error == NULL) {
        result->error = strdup(ctx.error != NULL ? ctx.error : "the plugin gave no reason");
    }
    ctx_clear(&ctx);
    ingest_batch_clear(&batch);

    if (conn != NULL) {
        char events[16];
        snprintf(events, sizeof(events), "%u", result->new_events);
        const char *finished[] = {source->name, result->outcome, events, result->error};
        exec_params(conn, sql_finished, 4, finished);
    }
    count_poll(metrics, source->name, result->outcome, result->new_events);
    /* a hold (a provider's daily limit) is shown with its end, and is no failure */
    int64_t held_until = status == LH_RETRY_AFTER && result->retry_after_ms > 0
                             ? util_now_ms() + result->retry_after_ms
                             : 0;
    instance_set_poll_status(source, result->outcome, result->error, held_until);
    if (status == LH_OK) {
        log_write(LOG_LEVEL_DEBUG, source->plugin->name, source->name, NULL,
                  "poll: %u event(s), %u new", result->events, result->new_events);
    } else {
        log_write(status == LH_RETRY || status == LH_RETRY_AFTER ? LOG_LEVEL_WARN : LOG_LEVEL_ERROR,
                  source->plugin->name, source->name, NULL, "poll failed (%s): %s", result->outcome,
                  result->error != NULL ? result->error : "");
    }
}

/* When the next poll is due after `result`, in ms from now. */
static int64_t next_delay(const struct instance *source, const struct poll_result *result,
                          unsigned failures)
{
    int64_t interval = source->poll_interval_ms;
    if (result->status == LH_RETRY_AFTER && result->retry_after_ms >= 0) {
        return result->retry_after_ms;
    }
    if (result->status == LH_OK && result->retry_after_ms >= 0) {
        /* a poll that committed what it had and paces itself (a provider's Retry-After
         * mid-backlog, a request budget spent): come back then, sooner or later than the
         * interval (set_retry_after() capped it) */
        return result->retry_after_ms;
    }
    if (result->status == LH_RETRY) {
        /* transient: retry sooner than a full interval, backing off */
        return util_backoff_ceiling_ms(POLLER_RETRY_BASE_MS, interval, failures);
    }
    return interval;
}

static PGconn *session_open(struct poll_thread *t)
{
    char *error = NULL;
    PGconn *conn = store_connect(t->poller->database_url, &error);
    if (conn == NULL) {
        free(error);
        return NULL;
    }
    char *channel = poller_sync_channel(t->source->name);
    char *listen = channel != NULL ? util_printf("LISTEN %s", channel) : NULL;
    PGresult *res = listen != NULL ? PQexec(conn, listen) : NULL;
    bool ok = res != NULL && PQresultStatus(res) == PGRES_COMMAND_OK;
    PQclear(res);
    free(listen);
    free(channel);
    if (!ok) {
        PQfinish(conn);
        return NULL;
    }
    return conn;
}

/* What the session's notifications asked for. */
struct asked {
    bool synced;   /* `leadhubd sync`: poll now, whatever the backoff */
    bool notified; /* a notification or poll_soon: poll now, unless holding back */
};

/* Takes the notifications libpq holds already (they may have arrived with the answer to
 * the poll's own statements, and no longer make the socket readable). */
static void take_notifies(PGconn *conn, struct asked *asked)
{
    PGnotify *notify;
    while ((notify = PQnotifies(conn)) != NULL) {
        if (notify->extra != NULL && strcmp(notify->extra, STORE_WAKE_PAYLOAD) == 0) {
            asked->notified = true;
        } else {
            asked->synced = true;
        }
        PQfreemem(notify);
    }
}

/* Waits up to ms for the session's socket or the wake fd. Returns false when the session
 * broke; records in *asked what the notifications that arrived ask for. */
static bool wait_for_work(struct poll_thread *t, PGconn *conn, int64_t ms, struct asked *asked)
{
    if (conn != NULL) {
        take_notifies(conn, asked);
        if (asked->synced || asked->notified) {
            return true;
        }
    }
    struct pollfd fds[2] = {{.fd = t->wake_fd, .events = POLLIN}, {.fd = -1, .events = POLLIN}};
    int sock = conn != NULL ? PQsocket(conn) : -1;
    fds[1].fd = sock; /* poll() skips a negative descriptor */
    int timeout = ms > INT32_MAX ? INT32_MAX : (int)(ms < 0 ? 0 : ms);
    int ready = poll(fds, 2, timeout);
    if (ready <= 0) {
        return true;
    }
    if (fds[0].revents & POLLIN) {
        uint64_t ignored;
        if (read(t->wake_fd, &ignored, sizeof(ignored)) < 0 && errno != EAGAIN) {
            return true;
        }
    }
    if (sock >= 0 && fds[1].revents != 0) {
        if (!PQconsumeInput(conn)) {
            return false;
        }
        take_notifies(conn, asked);
    }
    return true;
}

/* Until poller_open(); a stopping thread leaves within a tick (its stop signal writes the
 * thread's eventfd, not this condition). */
static void wait_until_open(struct poll_thread *t)
{
    struct poller *p = t->poller;
    pthread_mutex_lock(&p->open_mutex);
    while (!p->open && !atomic_load(&t->stopping)) {
        util_cond_wait_ms(&p->opened, &p->open_mutex, 100);
    }
    pthread_mutex_unlock(&p->open_mutex);
}

static void *poll_thread_main(void *arg)
{
    struct poll_thread *t = arg;
    struct instance *source = t->source;
    PGconn *conn = NULL;
    bool owned = false;
    struct poll_lease lease;
    struct asked asked = {false, false};
    unsigned failures = 0;
    int64_t next_due = util_monotonic_ms();
    /* A notification brings the next poll forward to now, but not before this: the end of
     * a provider's Retry-After or of the backoff after a failed poll. */
    int64_t notified_not_before = 0;

    wait_until_open(t);
    next_due = util_monotonic_ms();
    while (!atomic_load(&t->stopping)) {
        if (conn == NULL) {
            conn = session_open(t);
            if (conn == NULL) {
                wait_for_work(t, NULL, POLLER_RECONNECT_MS, &asked);
                continue;
            }
        }
        if (asked.notified) {
            /* many before a poll starts make one poll */
            asked.notified = false;
            int64_t soonest = util_monotonic_ms();
            soonest = notified_not_before > soonest ? notified_not_before : soonest;
            next_due = soonest < next_due ? soonest : next_due;
        }
        bool synced = asked.synced;
        int64_t wait = next_due - util_monotonic_ms();
        if (wait > 0 && !synced && !wait_for_work(t, conn, wait, &asked)) {
            if (owned) {
                log_write(LOG_LEVEL_WARN, source->plugin->name, source->name, NULL,
                          "lost the polling session; another replica may take over");
            }
            PQfinish(conn);
            conn = NULL;
            owned = false;
            continue;
        }
        if (atomic_load(&t->stopping)) {
            break;
        }
        if (util_monotonic_ms() < next_due && !asked.synced) {
            continue; /* woken early: by a notification (handled above) or for nothing */
        }
        asked.synced = false;
        if (!atomic_load(&source->initialized)) {
            /* Checked before the lock: a replica that cannot poll must not keep one that
             * can from polling. (A retried init comes with a new instance and thread.) */
            next_due = util_monotonic_ms() + POLLER_UNINITIALIZED_MS;
            continue;
        }
        if (!owned) {
            char *error = NULL;
            int taken = poll_lease_acquire(conn, source->name, t->poller->replica, &lease, &error);
            owned = taken == 1;
            if (!owned) {
                if (taken < 0) {
                    log_write(LOG_LEVEL_WARN, source->plugin->name, source->name, NULL,
                              "cannot take the poll lease: %s", error ? error : "?");
                }
                free(error);
                /* polled by another replica (or the database failed); try again next
                 * interval */
                next_due = util_monotonic_ms() + source->poll_interval_ms;
                continue;
            }
            log_write(LOG_LEVEL_INFO, source->plugin->name, source->name, NULL,
                      "this replica polls the instance now (fence %lld)", (long long)lease.fence);
        }
        struct poll_result result;
        poller_run_once(source, t->poller->ingest, conn, t->poller->replica, &lease,
                        t->poller->metrics, &t->stopping, &result);
        if (result.fenced ||
            (strcmp(result.outcome, "no_database") == 0 && PQstatus(conn) != CONNECTION_OK)) {
            /* the session (and its lock) is gone, or another replica holds the lease now:
             * start over, from a new session that must take the lease again */
            if (result.fenced) {
                log_write(LOG_LEVEL_WARN, source->plugin->name, source->name, NULL,
                          "lost the poll lease to another replica; nothing of this poll was "
                          "stored");
            }
            PQfinish(conn);
            conn = NULL;
            owned = false;
        }
        failures = result.status == LH_OK ? 0 : failures + 1;
        next_due = util_monotonic_ms() + next_delay(source, &result, failures);
        /* a notification does not bring forward a poll that waits out a provider's delay */
        notified_not_before = result.status == LH_OK && result.retry_after_ms < 0 ? 0 : next_due;
        poll_result_clear(&result);
    }
    /* Ending the session releases the advisory lock: another replica may take over. */
    if (conn != NULL) {
        PQfinish(conn);
    }
    atomic_store(&t->finished, true);
    return NULL;
}

struct poller *poller_start(const struct poller_options *options)
{
    struct poller *p = calloc(1, sizeof(*p));
    if (p == NULL) {
        return NULL;
    }
    p->database_url = strdup(options->database_url);
    p->replica = strdup(options->replica);
    if (p->database_url == NULL || p->replica == NULL) {
        free(p->database_url);
        free(p->replica);
        free(p);
        return NULL;
    }
    p->ingest = options->ingest;
    p->metrics = options->metrics;
    pthread_mutex_init(&p->mutex, NULL);
    pthread_mutex_init(&p->open_mutex, NULL);
    pthread_cond_init(&p->opened, NULL);
    return p;
}

void poller_open(struct poller *p)
{
    pthread_mutex_lock(&p->open_mutex);
    p->open = true;
    pthread_cond_broadcast(&p->opened);
    pthread_mutex_unlock(&p->open_mutex);
}

int poller_add(struct poller *p, struct instance *source)
{
    if (source->plugin->desc->poll == NULL) {
        return -1;
    }
    pthread_mutex_lock(&p->mutex);
    for (struct poll_thread *t = p->threads; t != NULL; t = t->next) {
        if (strcmp(t->source->name, source->name) == 0) {
            pthread_mutex_unlock(&p->mutex);
            return -1;
        }
    }
    struct poll_thread *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        pthread_mutex_unlock(&p->mutex);
        return -1;
    }
    t->poller = p;
    t->source = instance_acquire(source);
    atomic_init(&t->stopping, false);
    atomic_init(&t->finished, false);
    t->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (t->wake_fd < 0 || pthread_create(&t->thread, NULL, poll_thread_main, t) != 0) {
        if (t->wake_fd >= 0) {
            close(t->wake_fd);
        }
        instance_release(t->source);
        free(t);
        pthread_mutex_unlock(&p->mutex);
        return -1;
    }
    t->next = p->threads;
    p->threads = t;
    pthread_mutex_unlock(&p->mutex);
    return 0;
}

static void thread_signal(struct poll_thread *t)
{
    /* a poll in progress sees it through should_stop() */
    atomic_store(&t->stopping, true);
    uint64_t one = 1;
    if (write(t->wake_fd, &one, sizeof(one)) < 0) {
        /* the counter is saturated: the thread is being woken anyway */
    }
}

static void thread_free(struct poll_thread *t)
{
    pthread_join(t->thread, NULL);
    close(t->wake_fd);
    instance_release(t->source);
    free(t);
}

void poller_remove(struct poller *p, const char *name)
{
    pthread_mutex_lock(&p->mutex);
    struct poll_thread **link = &p->threads;
    while (*link != NULL && strcmp((*link)->source->name, name) != 0) {
        link = &(*link)->next;
    }
    struct poll_thread *t = *link;
    if (t != NULL) {
        *link = t->next;
    }
    pthread_mutex_unlock(&p->mutex);
    if (t != NULL) {
        thread_signal(t);
        thread_free(t);
    }
}

bool poller_stop(struct poller *p, int64_t grace_ms)
{
    if (p == NULL) {
        return true;
    }
    pthread_mutex_lock(&p->mutex);
    for (struct poll_thread *t = p->threads; t != NULL; t = t->next) {
        thread_signal(t);
    }
    int64_t deadline = util_monotonic_ms() + grace_ms;
    bool finished = false;
    while (!finished) {
        finished = true;
        for (struct poll_thread *t = p->threads; t != NULL; t = t->next) {
            finished &= atomic_load(&t->finished);
        }
        if (finished || util_monotonic_ms() >= deadline) {
            break;
        }
        struct timespec pause = {0, 20 * 1000000L};
        nanosleep(&pause, NULL);
    }
    if (!finished) {
        pthread_mutex_unlock(&p->mutex);
        log_warn("a poll is still running after the shutdown grace period");
        return false;
    }
    while (p->threads != NULL) {
        struct poll_thread *next = p->threads->next;
        thread_free(p->threads);
        p->threads = next;
    }
    pthread_mutex_unlock(&p->mutex);
    pthread_mutex_destroy(&p->mutex);
    pthread_mutex_destroy(&p->open_mutex);
    pthread_cond_destroy(&p->opened);
    free(p->database_url);
    free(p->replica);
    free(p);
    return true;
}
