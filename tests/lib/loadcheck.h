/*
 * loadcheck.h - for the durability tests: load generators (loadgen.h) on their own
 * threads, recording what they were told, and the checks that what was acknowledged is
 * in the database exactly once, routed, and delivered.
 *
 * The loads run with resend_failed and a shared `finish` flag: when the test sets it,
 * each load stops starting new events and sends again whatever was not acknowledged,
 * until everything it started is acknowledged. So afterwards the set of events started,
 * the set acknowledged, and (if nothing was lost) the set stored are all the same.
 */
#ifndef LEADHUB_LOADCHECK_H
#define LEADHUB_LOADCHECK_H

#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "fake_http.h"
#include "loadgen.h"

/* One answer as the load saw it (record_answers). */
struct load_answer {
    int status; /* 0: no answer */
    int64_t sent_us;
    int64_t done_us;
};

struct load_thread {
    struct loadgen_options options; /* as given to load_thread_start(), callback set */
    struct loadgen_result result;   /* valid after load_thread_join() */
    pthread_t thread;
    int rc;
    atomic_ullong acked;      /* events acknowledged so far */
    atomic_ullong duplicates; /* events answered as already stored (resent after a lost answer) */
    atomic_ullong answered_503;
    atomic_bool done; /* loadgen_run() returned */
    atomic_bool stop; /* handed to loadgen as options.stop */
    bool record_answers;
    pthread_mutex_t mutex; /* guards answers */
    struct load_answer *answers;
    size_t answer_count;
    size_t answer_capacity;
};

/*
 * load_thread_start - run loadgen_run(options) on a new thread. options is copied; its
 * on_answer and stop are taken over (progress counters, every answer kept when
 * record_answers, and a stop for load_threads_finish()).
 * id_prefix must stay valid and differ between the loads of one test.
 */
void load_thread_start(struct load_thread *load, const struct loadgen_options *options,
                       bool record_answers);

/* load_thread_join - wait for the load to end; fails the test if it could not run. */
void load_thread_join(struct load_thread *load);

/*
 * load_threads_finish - set *finish, then wait up to timeout_ms for every load to settle
 * (everything it started acknowledged). Past the deadline the loads are stopped.
 * Returns true when they all settled in time; joins them either way.
 */
bool load_threads_finish(struct load_thread *loads, size_t count, atomic_bool *finish,
                         int64_t timeout_ms);

/* load_thread_free - after join. */
void load_thread_free(struct load_thread *load);

/* Acknowledged events of all loads so far. */
uint64_t load_threads_acked(struct load_thread *loads, size_t count);

/* What the database and the receiver hold for the loads' events. */
struct load_check {
    uint64_t started;          /* events the loads started */
    uint64_t not_acked;        /* started but never acknowledged (after finish: a bug) */
    uint64_t acked_twice;      /* acknowledged more than once (a bug) */
    uint64_t resent;           /* sends after the first */
    uint64_t duplicates;       /* resent events found already stored */
    uint64_t lost;             /* acknowledged, not stored */
    uint64_t duplicated;       /* stored more than once */
    uint64_t unknown;          /* stored, but no load started them */
    uint64_t without_delivery; /* stored, no delivery to the destination */
    uint64_t extra_deliveries; /* more than one delivery to it */
    uint64_t dead;             /* deliveries dead */
    uint64_t open;             /* deliveries pending or retrying */
    uint64_t not_received;     /* never reached the receiver */
    size_t receiver_requests;  /* requests the receiver got */
    bool keys_consistent;      /* each event always came with the same Idempotency-Key */
};

/*
 * load_check_run - fill `out` from the loads' records (after join), the database's
 * `events` (source_id "<prefix>-<n>") and, when destination is not NULL, its deliveries
 * to that destination, and when receiver is not NULL, what it received.
 */
void load_check_run(PGconn *db, struct load_thread *loads, size_t count, const char *destination,
                    struct fake_http *receiver, struct load_check *out);

/* One line describing a check, for the test's output; malloc'd. */
char *load_check_describe(const struct load_check *check);

#endif
