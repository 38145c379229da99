/* http_pool.c - bounded worker pools with per-lane limits (see http_pool.h). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_pool.h"
#include "util.h"

/* Lanes running at least one job: few at a time (instances), so a list does. */
struct lane {
    const void *key;
    unsigned running;
    struct lane *next;
};

struct http_pool {
    char name[32];
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    struct http_job *head; /* FIFO */
    struct http_job *tail;
    size_t queued;
    size_t queue_max;
    unsigned busy;
    bool stopping;
    struct lane *lanes;
    pthread_t *threads;
    unsigned thread_count;
};

static struct lane *lane_find(struct http_pool *pool, const void *key)
{
    for (struct lane *l = pool->lanes; l != NULL; l = l->next) {
        if (l->key == key) {
            return l;
        }
    }
    return NULL;
}

static bool lane_has_room(struct http_pool *pool, const struct http_job *job)
{
    if (job->lane == NULL || job->lane_limit == 0) {
        return true;
    }
    const struct lane *l = lane_find(pool, job->lane);
    return l == NULL || l->running < job->lane_limit;
}

/* Counts a job in its lane (out of memory, it runs uncounted). */
static void lane_enter(struct http_pool *pool, const struct http_job *job)
{
    if (job->lane == NULL || job->lane_limit == 0) {
        return;
    }
    struct lane *l = lane_find(pool, job->lane);
    if (l == NULL) {
        l = calloc(1, sizeof(*l));
        if (l == NULL) {
            return;
        }
        l->key = job->lane;
        l->next = pool->lanes;
        pool->lanes = l;
    }
    l->running++;
}

static void lane_leave(struct http_pool *pool, const struct http_job *job)
{
    for (struct lane **link = &pool->lanes; *link != NULL; link = &(*link)->next) {
        struct lane *l = *link;
        if (l->key == job->lane) {
            if (--l->running == 0) {
                *link = l->next;
                free(l);
            }
            return;
        }
    }
}

static void unlink_job(struct http_pool *pool, struct http_job *previous, struct http_job *job)
{
    if (previous != NULL) {
        previous->next = job->next;
    } else {
        pool->head = job->next;
    }
    if (pool->tail == job) {
        pool->tail = previous;
    }
    job->next = NULL;
    pool->queued--;
}

/*
 * The first queued job whose lane has room, unlinked; cancelled jobs met on the way are
 * unlinked into *dropped (for done() outside the lock). NULL when none can run now.
 */
static struct http_job *take_runnable(struct http_pool *pool, struct http_job **dropped)
{
    struct http_job *previous = NULL;
    for (struct http_job *job = pool->head; job != NULL;) {
        struct http_job *next = job->next;
        if (atomic_load(&job->cancelled)) {
            unlink_job(pool, previous, job);
            job->next = *dropped;
            *dropped = job;
        } else if (lane_has_room(pool, job)) {
            unlink_job(pool, previous, job);
            return job;
        } else {
            previous = job;
        }
        job = next;
    }
    return NULL;
}

static void finish_dropped(struct http_job *dropped)
{
    while (dropped != NULL) {
        struct http_job *next = dropped->next;
        dropped->next = NULL;
        dropped->done(dropped);
        dropped = next;
    }
}

static void *worker_main(void *arg)
{
    struct http_pool *pool = arg;
    pthread_mutex_lock(&pool->mutex);
    for (;;) {
        struct http_job *dropped = NULL;
        struct http_job *job = NULL;
        while (!pool->stopping && (job = take_runnable(pool, &dropped)) == NULL &&
               dropped == NULL) {
            pthread_cond_wait(&pool->cond, &pool->mutex);
        }
        if (pool->stopping) {
            if (job != NULL) {
                job->next = dropped;
                dropped = job;
            }
            pthread_mutex_unlock(&pool->mutex);
            finish_dropped(dropped);
            return NULL;
        }
        if (job != NULL) {
            lane_enter(pool, job);
            pool->busy++;
        }
        pthread_mutex_unlock(&pool->mutex);
        finish_dropped(dropped);
        if (job != NULL) {
            job->run(job);
        }
        pthread_mutex_lock(&pool->mutex);
        if (job != NULL) {
            lane_leave(pool, job);
            pool->busy--;
            /* a lane freed up: another worker may now take a job that waited for it */
            pthread_cond_broadcast(&pool->cond);
            pthread_mutex_unlock(&pool->mutex);
            job->done(job);
            pthread_mutex_lock(&pool->mutex);
        }
    }
}

struct http_pool *http_pool_start(const char *name, unsigned workers, unsigned queue_max)
{
    struct http_pool *pool = calloc(1, sizeof(*pool));
    if (pool == NULL) {
        return NULL;
    }
    snprintf(pool->name, sizeof(pool->name), "%s", name);
    pool->queue_max = queue_max > 0 ? queue_max : 1;
    pool->threads = calloc(workers > 0 ? workers : 1, sizeof(*pool->threads));
    if (pool->threads == NULL) {
        free(pool);
        return NULL;
    }
    pthread_mutex_init(&pool->mutex, NULL);
    pthread_cond_init(&pool->cond, NULL);
    for (unsigned i = 0; i < (workers > 0 ? workers : 1); i++) {
        if (pthread_create(&pool->threads[i], NULL, worker_main, pool) != 0) {
            break;
        }
        pool->thread_count++;
    }
    if (pool->thread_count == 0) {
        http_pool_stop(pool, 0);
        return NULL;
    }
    return pool;
}

int http_pool_submit(struct http_pool *pool, struct http_job *job)
{
    job->next = NULL;
    pthread_mutex_lock(&pool->mutex);
    if (pool->stopping || pool->queued >= pool->queue_max) {
        pthread_mutex_unlock(&pool->mutex);
        return -1;
    }
    if (pool->tail != NULL) {
        pool->tail->next = job;
    } else {
        pool->head = job;
    }
    pool->tail = job;
    pool->queued++;
    pthread_cond_signal(&pool->cond);
    pthread_mutex_unlock(&pool->mutex);
    return 0;
}

void http_pool_cancel(struct http_pool *pool, struct http_job *job)
{
    atomic_store(&job->cancelled, true);
    /* dropped from the queue now, so that a lane that never frees up does not keep it */
    pthread_mutex_lock(&pool->mutex);
    struct http_job *previous = NULL;
    struct http_job *found = NULL;
    for (struct http_job *j = pool->head; j != NULL; previous = j, j = j->next) {
        if (j == job) {
            unlink_job(pool, previous, j);
            found = j;
            break;
        }
    }
    pthread_mutex_unlock(&pool->mutex);
    if (found != NULL) {
        found->done(found);
    }
}

size_t http_pool_queued(struct http_pool *pool)
{
    pthread_mutex_lock(&pool->mutex);
    size_t n = pool->queued;
    pthread_mutex_unlock(&pool->mutex);
    return n;
}

unsigned http_pool_busy(struct http_pool *pool)
{
    pthread_mutex_lock(&pool->mutex);
    unsigned n = pool->busy;
    pthread_mutex_unlock(&pool->mutex);
    return n;
}

bool http_pool_stop(struct http_pool *pool, int64_t timeout_ms)
{
    if (pool == NULL) {
        return true;
    }
    pthread_mutex_lock(&pool->mutex);
    pool->stopping = true;
    struct http_job *queued = pool->head;
    pool->head = pool->tail = NULL;
    pool->queued = 0;
    pthread_cond_broadcast(&pool->cond);
    pthread_mutex_unlock(&pool->mutex);
    finish_dropped(queued);
    struct timespec until;
    util_deadline(timeout_ms, &until);
    for (unsigned i = 0; i < pool->thread_count; i++) {
        if (pthread_timedjoin_np(pool->threads[i], NULL, &until) != 0) {
            return false;
        }
    }
    while (pool->lanes != NULL) {
        struct lane *next = pool->lanes->next;
        free(pool->lanes);
        pool->lanes = next;
    }
    pthread_cond_destroy(&pool->cond);
    pthread_mutex_destroy(&pool->mutex);
    free(pool->threads);
    free(pool);
    return true;
}
