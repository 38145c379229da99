/*
 * daemon_retry.c - init() retries (see daemon_internal.h).
 *
 * A retry never calls init() again on the instance that failed: other threads read that
 * one's fields without a lock (readiness, the REST API, a webhook holding it), so the
 * retry builds a fresh instance from the same plugin and settings, initializes it out of
 * sight, and swaps it into daemon->instances in one step under the write lock: a lookup
 * always finds one of the two, never none. The old one is then retired (its poll thread
 * stops) and released; whoever still holds it sees an uninitialized instance, as before.
 *
 * The thread works under control_mutex, as start-up and reloads do, so an instance is
 * never started, stopped or retried by two of them at once.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon_internal.h"
#include "log.h"
#include "util.h"

#define INIT_RETRY_BASE_MS        1000               /* the first retry: within a second */
#define INIT_RETRY_CAP_MS         (60LL * 1000)      /* then doubling, up to a minute */
#define INIT_RETRY_AFTER_MAX_MS   (60LL * 60 * 1000) /* a plugin's own delay: an hour at most */
#define INIT_RETRY_CHECK_MS       1000               /* the longest the thread sleeps */
#define INIT_RETRY_SHORTEST_SLEEP 20

static bool retryable(lh_status_t status)
{
    return status == LH_RETRY || status == LH_RETRY_AFTER;
}

void daemon_schedule_init_retry(struct daemon *daemon, struct instance *instance)
{
    if (atomic_load(&instance->initialized) || !retryable(instance->init_status)) {
        instance->init_failures = 0;
        instance->init_retry_at_ms = 0;
        return;
    }
    instance->init_failures++;
    int64_t delay;
    if (instance->init_status == LH_RETRY_AFTER && instance->init_retry_after_ms >= 0) {
        delay = instance->init_retry_after_ms < INIT_RETRY_AFTER_MAX_MS
                    ? instance->init_retry_after_ms
                    : INIT_RETRY_AFTER_MAX_MS;
    } else {
        int64_t ceiling =
            util_backoff_ceiling_ms(INIT_RETRY_BASE_MS, INIT_RETRY_CAP_MS, instance->init_failures);
        /* half fixed, half jitter: replicas that failed together do not retry together,
         * and no retry comes right after the failure */
        delay = ceiling / 2 +
                (int64_t)((unsigned)rand_r(&daemon->control_seed) % (unsigned)(ceiling / 2 + 1));
    }
    instance->init_retry_at_ms = util_monotonic_ms() + delay;
    char *amended = util_printf("%s (init is tried again: %u attempt(s) failed)",
                                instance->last_error != NULL ? instance->last_error : "init failed",
                                instance->init_failures);
    if (amended != NULL) {
        free(instance->last_error);
        instance->last_error = amended;
    }
    log_write(LOG_LEVEL_INFO, instance->plugin->name, instance->name, NULL,
              "init is tried again in %lld ms", (long long)delay);
}

/* Tries init() again on a fresh copy of `old` (held by daemon->instances) and swaps it in.
 * Under control_mutex. */
static void retry_instance(struct daemon *daemon, struct instance *old)
{
    struct config_instance config = {.name = old->name, .poll_interval_ms = old->poll_interval_ms};
    json_t *settings = json_deep_copy(old->settings);
    struct instance *fresh =
        settings != NULL ? instance_new(&config, old->plugin, settings, &daemon->services) : NULL;
    if (fresh == NULL) {
        old->init_retry_at_ms = util_monotonic_ms() + INIT_RETRY_BASE_MS; /* out of memory */
        return;
    }
    fresh->init_failures = old->init_failures;
    instance_init(fresh);
    daemon_schedule_init_retry(daemon, fresh);

    bool swapped = false;
    pthread_rwlock_wrlock(&daemon->instances_lock);
    for (size_t i = 0; i < daemon->instance_count && !swapped; i++) {
        if (daemon->instances[i] == old) {
            daemon->instances[i] = fresh;
            swapped = true;
        }
    }
    pthread_rwlock_unlock(&daemon->instances_lock);
    if (!swapped) {
        /* cannot happen under control_mutex: only a reload retires instances */
        instance_release(fresh);
        return;
    }
    daemon_retire_instance(daemon, old);
    instance_release(old);
    daemon_start_instance(daemon, fresh);
}

/* One pass: retries what is due. Returns how long to sleep. Under control_mutex. */
static int64_t retry_due(struct daemon *daemon)
{
    int64_t now = util_monotonic_ms();
    int64_t next = now + INIT_RETRY_CHECK_MS;
    struct instance **due = NULL;
    size_t due_count = 0;
    pthread_rwlock_rdlock(&daemon->instances_lock);
    due = calloc(daemon->instance_count + 1, sizeof(*due));
    for (size_t i = 0; i < daemon->instance_count && due != NULL; i++) {
        struct instance *instance = daemon->instances[i];
        if (instance->init_retry_at_ms == 0) {
            continue;
        }
        if (instance->init_retry_at_ms <= now) {
            due[due_count++] = instance; /* held by the array; only we replace it */
        } else if (instance->init_retry_at_ms < next) {
            next = instance->init_retry_at_ms;
        }
    }
    pthread_rwlock_unlock(&daemon->instances_lock);
    for (size_t i = 0; i < due_count && !atomic_load(&daemon->stopping); i++) {
        log_write(LOG_LEVEL_INFO, due[i]->plugin->name, due[i]->name, NULL,
                  "trying init again (%u attempt(s) failed)", due[i]->init_failures);
        retry_instance(daemon, due[i]);
    }
    free(due);
    int64_t sleep = next - util_monotonic_ms();
    return sleep < INIT_RETRY_SHORTEST_SLEEP ? INIT_RETRY_SHORTEST_SLEEP : sleep;
}

static void *retry_main(void *arg)
{
    struct daemon *daemon = arg;
    pthread_mutex_lock(&daemon->retry_mutex);
    while (!daemon->retry_stopping) {
        pthread_mutex_unlock(&daemon->retry_mutex);
        pthread_mutex_lock(&daemon->control_mutex);
        int64_t sleep = retry_due(daemon);
        pthread_mutex_unlock(&daemon->control_mutex);
        pthread_mutex_lock(&daemon->retry_mutex);
        if (!daemon->retry_stopping) {
            util_cond_wait_ms(&daemon->retry_cond, &daemon->retry_mutex, sleep);
        }
    }
    pthread_mutex_unlock(&daemon->retry_mutex);
    return NULL;
}

int daemon_init_retry_start(struct daemon *daemon)
{
    daemon->retry_stopping = false;
    daemon->retry_started = pthread_create(&daemon->retry_thread, NULL, retry_main, daemon) == 0;
    return daemon->retry_started ? 0 : -1;
}

void daemon_init_retry_stop(struct daemon *daemon)
{
    if (!daemon->retry_started) {
        return;
    }
    pthread_mutex_lock(&daemon->retry_mutex);
    daemon->retry_stopping = true;
    pthread_cond_broadcast(&daemon->retry_cond);
    pthread_mutex_unlock(&daemon->retry_mutex);
    pthread_join(daemon->retry_thread, NULL);
    daemon->retry_started = false;
}
