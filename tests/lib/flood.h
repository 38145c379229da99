/*
 * flood.h - hostile clients for the hostile-load tests, on one epoll thread each:
 *
 *   bodies     many connections, each sending a request with a large body (a webhook with
 *              a bad signature: unauthenticated bytes), reconnecting as each is answered
 *              or closed, for a duration;
 *   slowloris  many connections each sending a request line and then one header line
 *              every `trickle_ms`, never finishing: how long each lives is recorded.
 *
 * And a prober: a request (GET /healthz, or a signed webhook) every interval on a new
 * connection from its own source address, each answer's latency recorded.
 */
#ifndef LEADHUB_FLOOD_H
#define LEADHUB_FLOOD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum flood_kind { FLOOD_BODIES, FLOOD_SLOWLORIS };

struct flood_options {
    enum flood_kind kind;
    const char *source; /* local address, e.g. "127.0.0.1" */
    int port;
    unsigned connections; /* open at once */
    const char *head;     /* request line and headers up to the blank line (excluded) */
    size_t body_size;     /* FLOOD_BODIES: this many bytes of body (Content-Length added) */
    int64_t trickle_ms;   /* FLOOD_SLOWLORIS: one header line this often */
    int64_t duration_ms;  /* then every connection is closed */
    bool reconnect;       /* open a new connection when one ends (else once each) */
};

struct flood_result {
    uint64_t opened;           /* connections established */
    uint64_t refused;          /* connect failed, or closed before a byte was answered within
                                  100 ms of opening (refused at accept) */
    uint64_t answered;         /* got an HTTP answer */
    uint64_t answers_503;      /* of which 503 */
    uint64_t answers_other;    /* of which neither 503 nor 401 nor 413 */
    uint64_t closed_by_server; /* ended by the server without an answer (after 100 ms) */
    uint64_t still_open;       /* alive at the end of the duration */
    uint64_t bytes_sent;
    /* FLOOD_SLOWLORIS: lifetimes of connections the server closed (after the first 100 ms),
     * in ms; sorted */
    int64_t *lifetimes_ms;
    size_t lifetime_count;
    char error[160];
};

/* flood_run - run until duration_ms has passed (or *stop turns true). 0, or -1 with
 * result->error when it could not start. */
int flood_run(const struct flood_options *options, atomic_bool *stop, struct flood_result *result);

void flood_result_free(struct flood_result *result);

/* flood_raise_fd_limit - lift this process's descriptor limit to its hard limit. */
void flood_raise_fd_limit(void);

/* A prober on its own thread. */
struct prober {
    const char *source; /* e.g. "127.0.0.3" */
    int port;
    int64_t interval_ms;
    /* the request to send (NULL: GET /healthz); called on the prober thread; malloc'd */
    char *(*request)(void *arg);
    void *request_arg;
    pthread_t thread;
    atomic_bool stop;
    pthread_mutex_t mutex;
    int64_t *latencies_us; /* answered requests */
    int *statuses;
    size_t count;
    size_t capacity;
    uint64_t unanswered; /* no answer within 5 s */
};

void prober_start(struct prober *p);
void prober_stop(struct prober *p);

/* Percentile q (0..1) of the latencies of answers with `status` (0: any), in ms; -1 when
 * none. And how many there were. */
double prober_percentile_ms(struct prober *p, int status, double q, size_t *count_out);

/* Answers with a status outside [low, high]. */
size_t prober_count_outside(struct prober *p, int low, int high);

void prober_free(struct prober *p);

#endif
