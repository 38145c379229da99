/* readiness_checker.c - the background readiness checker (see readiness_checker.h). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "migrate.h"
#include "readiness_checker.h"
#include "schema_policy.h"
#include "store_pg.h"
#include "util.h"

struct readiness {
    struct daemon *daemon;
    PGconn *conn; /* the probe's session; the checker thread's alone */
    pthread_t thread;
    bool started;

    pthread_mutex_t mutex; /* guards everything below */
    pthread_cond_t wake;
    bool stopping;
    bool woken;                   /* compute now */
    struct readiness_probe probe; /* the last one */
    int status;                   /* 200 or 503 */
    char *body;                   /* rendered JSON; owned */
};

/* One bounded probe: connect if needed (connect timeout), then the schema within
 * READINESS_QUERY_MS. A session that did not answer in time is dropped. */
static void probe_database(struct readiness *r, struct readiness_probe *out)
{
    memset(out, 0, sizeof(*out));
    out->done = true;
    char *error = NULL;
    if (r->conn != NULL && PQstatus(r->conn) != CONNECTION_OK) {
        PQfinish(r->conn);
        r->conn = NULL;
    }
    if (r->conn == NULL) {
        r->conn = store_connect(r->daemon->database_url, &error);
    }
    if (r->conn == NULL) {
        snprintf(out->detail, sizeof(out->detail), "unreachable: %s", error ? error : "?");
        free(error);
        return;
    }
    const struct schema_policy *policy = schema_policy_current();
    struct schema_state state;
    if (migrate_read_schema_within(r->conn, policy, READINESS_QUERY_MS, &state, &error) != 0) {
        snprintf(out->detail, sizeof(out->detail), "unreachable: cannot read schema_migrations: %s",
                 error ? error : "?");
        free(error);
        /* it may still answer the abandoned query, or it is gone: a new session next time */
        PQfinish(r->conn);
        r->conn = NULL;
        return;
    }
    out->reachable = true;
    char *detail = NULL;
    out->schema_compatible = schema_policy_judge(policy, &state, &detail);
    /* the judge's sentence in every case ("ok", or how the schema relates to this release) */
    snprintf(out->detail, sizeof(out->detail), "%s",
             detail != NULL ? detail : (out->schema_compatible ? "ok" : "schema incompatible"));
    free(detail);
}

/* The verdict over the last probe, rendered; r->mutex NOT held (daemon_readiness takes the
 * daemon's own locks). */
static void compute(struct readiness *r)
{
    pthread_mutex_lock(&r->mutex);
    struct readiness_probe probe = r->probe;
    pthread_mutex_unlock(&r->mutex);
    json_t *detail = NULL;
    bool ready = daemon_readiness(r->daemon, &probe, &detail);
    char *body = detail != NULL ? json_dumps(detail, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(detail);
    pthread_mutex_lock(&r->mutex);
    if (body != NULL) {
        free(r->body);
        r->body = body;
        r->status = ready ? 200 : 503;
    }
    pthread_mutex_unlock(&r->mutex);
}

static void *checker_main(void *arg)
{
    struct readiness *r = arg;
    int64_t next_probe = util_monotonic_ms() + READINESS_PROBE_MS;
    pthread_mutex_lock(&r->mutex);
    while (!r->stopping) {
        if (!r->woken) {
            util_cond_wait_ms(&r->wake, &r->mutex, READINESS_REFRESH_MS);
        }
        r->woken = false;
        if (r->stopping) {
            break;
        }
        pthread_mutex_unlock(&r->mutex);
        if (util_monotonic_ms() >= next_probe) {
            struct readiness_probe probe;
            probe_database(r, &probe);
            next_probe = util_monotonic_ms() + READINESS_PROBE_MS;
            pthread_mutex_lock(&r->mutex);
            r->probe = probe;
            pthread_mutex_unlock(&r->mutex);
        }
        compute(r);
        pthread_mutex_lock(&r->mutex);
    }
    pthread_mutex_unlock(&r->mutex);
    return NULL;
}

struct readiness *readiness_start(struct daemon *daemon)
{
    struct readiness *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        return NULL;
    }
    r->daemon = daemon;
    r->status = 503;
    pthread_mutex_init(&r->mutex, NULL);
    pthread_cond_init(&r->wake, NULL);
    probe_database(r, &r->probe);
    compute(r);
    if (pthread_create(&r->thread, NULL, checker_main, r) != 0) {
        readiness_stop(r);
        return NULL;
    }
    r->started = true;
    return r;
}

int readiness_answer(struct readiness *r, char **body_out)
{
    pthread_mutex_lock(&r->mutex);
    int status = r->status;
    *body_out = strdup(r->body != NULL ? r->body : "{\"status\":\"not_ready\"}");
    pthread_mutex_unlock(&r->mutex);
    return status;
}

void readiness_refresh(struct readiness *r)
{
    if (r != NULL) {
        compute(r);
    }
}

void readiness_wake(struct readiness *r)
{
    if (r == NULL) {
        return;
    }
    pthread_mutex_lock(&r->mutex);
    r->woken = true;
    pthread_cond_signal(&r->wake);
    pthread_mutex_unlock(&r->mutex);
}

void readiness_halt(struct readiness *r)
{
    if (r == NULL) {
        return;
    }
    pthread_mutex_lock(&r->mutex);
    r->stopping = true;
    pthread_cond_broadcast(&r->wake);
    pthread_mutex_unlock(&r->mutex);
    if (r->started) {
        pthread_join(r->thread, NULL);
        r->started = false;
    }
}

void readiness_stop(struct readiness *r)
{
    if (r == NULL) {
        return;
    }
    readiness_halt(r);
    if (r->conn != NULL) {
        PQfinish(r->conn);
    }
    pthread_cond_destroy(&r->wake);
    pthread_mutex_destroy(&r->mutex);
    free(r->body);
    free(r);
}
