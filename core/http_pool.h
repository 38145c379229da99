/*
 * http_pool.h - the bounded worker pools that run what may wait (plugin webhook callbacks,
 * REST handlers) while the request's connection is suspended, so that libmicrohttpd's
 * threads only parse and answer.
 *
 * Jobs are queued (at most queue_max; past it a submit is refused and the caller answers
 * 503) and run in order, except that each job belongs to a lane (a connector instance, or
 * none) that may run at most `lane_limit` jobs at once: a slow or stuck instance holds
 * that many workers, never all of them. A job cancelled while queued (its deadline passed)
 * is dropped without running.
 */
#ifndef LEADHUB_HTTP_POOL_H
#define LEADHUB_HTTP_POOL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct http_pool;

struct http_job {
    const void *lane;    /* jobs with the same lane share its limit; NULL: no lane */
    unsigned lane_limit; /* at most this many of the lane at once (0: no limit) */
    atomic_bool cancelled;
    /* run on a worker thread, unless the job was cancelled while queued */
    void (*run)(struct http_job *job);
    /* called once, on the thread that drops the job, after run() or instead of it
     * (cancelled, or the pool stopping): the job is the pool's no more */
    void (*done)(struct http_job *job);
    struct http_job *next; /* the pool's */
};

/*
 * http_pool_start - `workers` threads (named `name` in logs), at most queue_max jobs
 * waiting. NULL when threads cannot start.
 */
struct http_pool *http_pool_start(const char *name, unsigned workers, unsigned queue_max);

/* http_pool_submit - queue a job (borrowed until its done()). -1 when the queue is full or
 * the pool stopping: nothing is called then. */
int http_pool_submit(struct http_pool *pool, struct http_job *job);

/* http_pool_cancel - the job will not run if it has not started (done() is still called,
 * by the worker that finds it, or at once when it is dropped from the queue here). */
void http_pool_cancel(struct http_pool *pool, struct http_job *job);

/* http_pool_queued / http_pool_busy - jobs waiting, and workers running one (gauges). */
size_t http_pool_queued(struct http_pool *pool);
unsigned http_pool_busy(struct http_pool *pool);

/* http_pool_stop - run no more jobs, drop the queued ones (done() each), wait up to
 * timeout_ms for the running ones, free the pool. False when a job is still running (a
 * plugin stuck past its deadline): then nothing is freed. Accepts NULL. */
bool http_pool_stop(struct http_pool *pool, int64_t timeout_ms);

#endif
