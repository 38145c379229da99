/* ingest_stats.c - ANALYZE as the first rows arrive (see ingest_stats.h). */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "ingest_stats.h"
#include "log.h"
#include "metrics.h"
#include "store_pg.h"
#include "util.h"

struct ingest_stats {
    struct store *store; /* the thread's own session */
    struct metrics *metrics;
    pthread_t thread;
    pthread_mutex_t mutex; /* guards the counts and stopping */
    pthread_cond_t cond;
    int64_t rows;    /* events in the table, as far as this replica knows */
    int64_t next_at; /* the next ANALYZE, at this many */
    bool stopping;
};

static void *stats_main(void *arg)
{
    struct ingest_stats *s = arg;
    pthread_mutex_lock(&s->mutex);
    while (!s->stopping && s->next_at <= INGEST_STATS_UNTIL) {
        if (s->rows < s->next_at) {
            pthread_cond_wait(&s->cond, &s->mutex);
            continue;
        }
        int64_t rows = s->rows;
        pthread_mutex_unlock(&s->mutex);
        char *error = NULL;
        int64_t started = util_monotonic_ms();
        enum store_result rc = store_ensure(s->store, &error);
        if (rc == STORE_OK) {
            rc = store_exec(s->store, "ingest_analyze",
                            "ANALYZE events, leads, lead_identities, deliveries", 0, NULL, NULL,
                            &error);
        }
        if (rc == STORE_OK) {
            log_debug("statistics refreshed at about %lld events (%lld ms)", (long long)rows,
                      (long long)(util_monotonic_ms() - started));
            metrics_counter_add(s->metrics, "leadhub_ingest_analyze_total",
                                "ANALYZE runs while the tables grow from empty.", 1, METRICS_END);
        } else {
            /* not the owner of the tables, or the database away: autovacuum will do */
            log_warn("cannot refresh the tables' statistics: %s", error ? error : "?");
        }
        free(error);
        pthread_mutex_lock(&s->mutex);
        s->next_at = rows * 2;
        if (rc == STORE_REJECTED) {
            break; /* it would be refused again */
        }
    }
    pthread_mutex_unlock(&s->mutex);
    return NULL;
}

struct ingest_stats *ingest_stats_start(const char *database_url, struct metrics *metrics)
{
    char *error = NULL;
    struct store *store = store_open(database_url, &error);
    if (store == NULL) {
        free(error);
        return NULL;
    }
    /* reltuples: -1 never analyzed; the planner's idea of the size otherwise */
    PGresult *result = NULL;
    int64_t rows = -1;
    if (store_exec(store, "ingest_stats_rows",
                   "SELECT greatest(reltuples, 0)::bigint FROM pg_class "
                   "WHERE oid = 'events'::regclass",
                   0, NULL, &result, &error) == STORE_OK &&
        PQntuples(result) == 1) {
        rows = strtoll(PQgetvalue(result, 0, 0), NULL, 10);
    }
    PQclear(result);
    free(error);
    if (rows < 0 || rows >= INGEST_STATS_UNTIL / 2) {
        store_close(store);
        return NULL;
    }
    struct ingest_stats *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        store_close(store);
        return NULL;
    }
    s->store = store;
    s->metrics = metrics;
    s->rows = rows;
    s->next_at = rows * 2 > INGEST_STATS_FIRST ? rows * 2 : INGEST_STATS_FIRST;
    pthread_mutex_init(&s->mutex, NULL);
    pthread_cond_init(&s->cond, NULL);
    if (pthread_create(&s->thread, NULL, stats_main, s) != 0) {
        pthread_cond_destroy(&s->cond);
        pthread_mutex_destroy(&s->mutex);
        store_close(store);
        free(s);
        return NULL;
    }
    return s;
}

void ingest_stats_add(struct ingest_stats *s, size_t rows)
{
    if (s == NULL || rows == 0) {
        return;
    }
    pthread_mutex_lock(&s->mutex);
    s->rows += (int64_t)rows;
    if (s->rows >= s->next_at) {
        pthread_cond_signal(&s->cond);
    }
    pthread_mutex_unlock(&s->mutex);
}

void ingest_stats_stop(struct ingest_stats *s)
{
    if (s == NULL) {
        return;
    }
    pthread_mutex_lock(&s->mutex);
    s->stopping = true;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->mutex);
    pthread_join(s->thread, NULL);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->mutex);
    store_close(s->store);
    free(s);
}
