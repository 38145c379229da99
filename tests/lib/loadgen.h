/*
 * loadgen.h - a load generator for the `webhook` ingest path: signed POSTs of numbered
 * lead events from N concurrent keep-alive connections (raw sockets, one epoll thread,
 * closed loop: each connection sends its next request when the previous one is
 * answered). Used by the benchmark (bench/) and by the durability tests, which need to
 * know exactly which events were acknowledged.
 *
 * Events are numbered from 0; event n has source_id "<id_prefix>-<n>" and a lead with a
 * unique email, so every event is new to the database unless it is a resend. A request
 * is acknowledged by a 2xx answer, which the daemon sends only after the commit.
 *
 * Not thread-safe: one loadgen_run() per options at a time. `stop` and `finish` may be set
 * from another thread.
 */
#ifndef LEADHUB_LOADGEN_H
#define LEADHUB_LOADGEN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What happened to one request, for loadgen_options.on_answer. */
struct loadgen_answer {
    const uint64_t *events; /* the event numbers it carried (borrowed for the call) */
    size_t event_count;
    int status;          /* HTTP status, 0 when no answer came (refused, reset, timeout) */
    int64_t sent_us;     /* monotonic microseconds: first byte written */
    int64_t done_us;     /* monotonic microseconds: answer complete, or failure seen */
    unsigned duplicates; /* 2xx: the body's "duplicates" (events already stored) */
    bool accepted_new;   /* 2xx and the body said accepted >= 1 */
};

struct loadgen_options {
    const char *host; /* IPv4 address, e.g. "127.0.0.1" */
    int port;
    const char *source; /* local IPv4 address to connect from (e.g. "127.0.0.2"); NULL: any */
    const char *path;   /* "/webhooks/inbound" */
    const char *secret; /* the instance's signing secret */
    unsigned connections;
    unsigned events_per_request; /* 1: one event object per body; more: an array */
    const char *id_prefix;       /* source_id prefix; unique per run against one database */
    uint64_t max_events;         /* events 0..max_events-1, then stop (0: no limit; then the
                                    per-event record below is not kept) */
    int64_t duration_ms;         /* stop sending after this long (0: no limit) */
    int64_t warmup_ms;           /* answers completed before this are not measured */
    int64_t timeout_ms;          /* a request unanswered this long fails (default 30 s) */
    int64_t reconnect_ms;        /* a connection pauses this long after a failure (before
                                    reconnecting) or a 503 (default 20 ms) */
    bool resend_failed;          /* send again, later, events whose request was not acknowledged
                                    (a provider's retry); max_events must then be set */
    atomic_bool *stop;           /* stop sending when it becomes true (may be NULL) */
    atomic_bool *finish;         /* when it becomes true, start no new events but keep resending
                                    failed ones until every event started is acknowledged (or
                                    refused for good); may be NULL */
    /* Called on the loadgen thread after each request (may be NULL). */
    void (*on_answer)(const struct loadgen_answer *answer, void *arg);
    void *on_answer_arg;
};

struct loadgen_result {
    uint64_t requests; /* answered or failed, over the whole run */
    uint64_t requests_2xx;
    uint64_t requests_503;
    uint64_t requests_other;  /* any other status (a bug in the daemon or the generator) */
    uint64_t requests_failed; /* no answer */
    uint64_t events_acked;    /* events in 2xx answers, over the whole run */
    /* The measured window: answers completed after warmup_ms, before sending stopped. */
    double window_s;
    uint64_t window_requests_2xx;
    uint64_t window_events_acked;
    double events_per_s;   /* window_events_acked / window_s */
    double requests_per_s; /* window_requests_2xx / window_s */
    /* Acknowledgement latency of 2xx answers in the window, milliseconds. */
    double latency_p50_ms;
    double latency_p99_ms;
    double latency_p999_ms;
    double latency_max_ms;
    /* With max_events: which events were acknowledged (indexed by event number), how
     * many times (a resend of an acknowledged event would show 2). */
    uint8_t *acked; /* malloc'd, max_events entries; NULL without max_events */
    uint64_t max_events;
    uint64_t events_started; /* distinct events sent at least once */
    uint64_t events_resent;  /* sends of an event after its first */
    char error[256];         /* set when the run could not start */
};

/*
 * loadgen_run - run until duration_ms passes, max_events are all acknowledged (or, without
 * resend_failed, all sent), *stop becomes true, or *finish does and every event started is
 * settled; then wait for the requests in flight (up to timeout_ms) and close every
 * connection.
 *   Returns 0, or -1 with result->error set when it could not start.
 */
int loadgen_run(const struct loadgen_options *options, struct loadgen_result *result);

/* loadgen_result_free - free what loadgen_run() allocated in result. */
void loadgen_result_free(struct loadgen_result *result);

/*
 * loadgen_event_json - the body of event n as loadgen sends it (a JSON object), into a
 * malloc'd string: the same bytes the benchmark's database ceilings insert.
 */
char *loadgen_event_json(const char *id_prefix, uint64_t n);

/* loadgen_now_us - the monotonic clock loadgen_answer times use. */
int64_t loadgen_now_us(void);

#endif
