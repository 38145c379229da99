/*
 * readiness_checker.h - what GET /readyz answers, kept fresh by a thread of its own, so that the
 * HTTP threads never wait on the database (or on anything) to answer it.
 *
 * The checker probes the database every READINESS_PROBE_MS, each probe bounded in time
 * (a connect timeout, then READINESS_QUERY_MS for the query: a database that hangs is
 * "no answer", never a stuck thread), and every READINESS_REFRESH_MS asks
 * daemon_readiness() (daemon.c: the rules, in one place) for the verdict over the last
 * probe's facts and the daemon's own state (readiness_decide(), readiness.h, has the
 * rules). The answer is kept as rendered JSON.
 */
#ifndef LEADHUB_READINESS_CHECKER_H
#define LEADHUB_READINESS_CHECKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define READINESS_PROBE_MS   1000
#define READINESS_REFRESH_MS 250
#define READINESS_QUERY_MS   2000

struct daemon;

/* The facts of the last database probe, for daemon_readiness(). */
struct readiness_probe {
    bool done;              /* a probe has finished (false only at the very start) */
    bool reachable;         /* connected, and schema_migrations answered in time */
    bool schema_compatible; /* schema_policy_judge() */
    char detail[256];       /* why not reachable, or the judge's sentence ("ok", ...) */
};

struct readiness;

/* readiness_start - probe once and compute the first answer, then start the thread.
 * NULL when the thread cannot start. */
struct readiness *readiness_start(struct daemon *daemon);

/*
 * readiness_answer - the last verdict: its status (200 or 503) and its JSON body, copied
 * into *body_out (malloc'd). Never waits on anything but a short mutex.
 */
int readiness_answer(struct readiness *readiness, char **body_out);

/* readiness_refresh - compute the verdict again now (on the caller's thread, over the last
 * probe): for a change the answer must show at once (the daemon stopping). */
void readiness_refresh(struct readiness *readiness);

/* readiness_wake - have the checker compute the verdict again at once, on its own thread
 * (never blocks: for writer threads that find the database gone). NULL is ignored. */
void readiness_wake(struct readiness *readiness);

/* readiness_halt - end the checker's thread (waiting for a probe in progress), keeping its
 * last verdict readable; at shutdown, before what it reads (scorers, dispatcher) is freed.
 * readiness_stop() after it frees the rest. Accepts NULL. */
void readiness_halt(struct readiness *readiness);

/* readiness_stop - stop the thread (waiting for a probe in progress, bounded as above) and
 * free everything. Accepts NULL. */
void readiness_stop(struct readiness *readiness);

#endif
