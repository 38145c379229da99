/*
 * daemon.h - the running daemon: config, plugins, instances, ingest, delivery, polling,
 * HTTP; start-up, reload and orderly shutdown. `leadhubd run` is a thin wrapper around it.
 */
#ifndef LEADHUB_DAEMON_H
#define LEADHUB_DAEMON_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include <jansson.h>

#include "config.h"
#include "dispatch.h"
#include "ingest.h"
#include "instance.h"
#include "loader.h"
#include "metrics.h"
#include "poller.h"
#include "router.h"
#include "meeting_outcomes.h"
#include "scoring.h"

struct http_server;
struct http_console;

struct daemon {
    pthread_rwlock_t config_lock; /* REST reads the config while a reload may swap it */
    struct config *config;        /* the configuration in force; owned */
    char *database_url;           /* from the first config: changing it needs a restart */
    struct seal_keyring *keyring; /* secrets_key of the first config (likewise); NULL none */
    int64_t shutdown_grace_ms;
    char replica[128];              /* host:pid, in connector_status.owner */
    struct plugin_registry plugins; /* scanned once: new plugin files need a restart */

    pthread_rwlock_t instances_lock; /* guards instances, instance_count and swapping */
    struct instance **instances;     /* one reference each; enabled instances only */
    size_t instance_count;
    json_t *swapping; /* names a reload is stopping or starting right now (a set), or NULL */

    struct router *router;         /* reference held; swapped on reload */
    pthread_mutex_t scoring_mutex; /* guards the pointer: ingest threads touch it */
    struct scoring *scoring;
    struct meeting_outcomes *meeting_outcomes; /* set before ingest starts, stopped after it */
    struct metrics *metrics;
    struct ingest *ingest;
    struct dispatcher *dispatcher;
    struct poller *poller;
    struct http_server *http;
    struct http_console *console; /* /console/'s files, read again on every reload */
    struct host_services services;
    atomic_bool stopping;
    atomic_bool started; /* daemon_start() finished: /readyz says "starting" until then */

    /* Instance lifecycle: start-up, a reload and an init retry start, stop and swap
     * instances one at a time, under this mutex (the SDK's "control thread"). */
    pthread_mutex_t control_mutex;
    unsigned control_seed; /* jitter of init retries; under control_mutex */
    /* the init retry thread (daemon_retry.c) */
    pthread_mutex_t retry_mutex; /* guards retry_stopping */
    pthread_cond_t retry_cond;
    bool retry_stopping;
    bool retry_started;
    pthread_t retry_thread;

    struct readiness *readiness; /* the background checker behind GET /readyz */
    atomic_bool readiness_ready; /* set once it started, cleared before it stops */
    pthread_mutex_t gauges_mutex;
    json_t *gauged_instances; /* names leadhub_instance_up has shown; under gauges_mutex */
};

/*
 * daemon_start - everything `leadhubd run` does before serving: load plugins, validate
 * every instance's settings and the routes, migrate the database, start ingest, initialize
 * instances, start delivery lanes and pollers, listen.
 *   config: STOLEN.
 *   Returns 0, or an EXIT_* code (commands.h) after logging why.
 */
int daemon_start(struct daemon *daemon, struct config *config);

/*
 * daemon_reload - SIGHUP: read the configuration again. When it is valid, instances that
 * were added, removed or changed are started, stopped or restarted (work in flight on a
 * stopped one finishes first), unchanged ones keep running untouched, and the new routes
 * apply to events committed from then on. When it is not valid, every error is logged and
 * the running configuration stays. Returns 0 when applied, -1 when refused.
 */
int daemon_reload(struct daemon *daemon, const char *config_path);

/* daemon_find_instance - an enabled instance by name, with a reference the caller
 * releases (instance_release), or NULL. */
struct instance *daemon_find_instance(struct daemon *daemon, const char *name);

/*
 * daemon_lookup_instance - daemon_find_instance(), and when it finds none, whether that is
 * only for the moment: a reload is stopping or starting an instance of that name (in the
 * old or the new configuration). Webhooks answer 503 then, not 404.
 *   swapping_out: set in every case, unless NULL.
 */
struct instance *daemon_lookup_instance(struct daemon *daemon, const char *name,
                                        bool *swapping_out);

struct readiness_probe;

/*
 * daemon_readiness - ready to take traffic? The facts gathered here, judged by
 * readiness_decide() (readiness.h): database reachable (the checker's last probe answered,
 * and the writers' last commit did not find it gone), schema compatible, neither starting
 * nor stopping; failed instances and scorers are shown, and count only under
 * `readiness.connectors: require`. The detail also shows polls and each destination's
 * circuit, and "reason" when not ready. Called by the readiness checker
 * (readiness_checker.c), never on an HTTP thread; it takes only in-memory locks.
 *   probe:      the last database probe's facts (borrowed).
 *   detail_out: NEW reference.
 */
bool daemon_readiness(struct daemon *daemon, const struct readiness_probe *probe,
                      json_t **detail_out);

/* daemon_refresh_gauges - gauges read from state rather than counted as things happen
 * (leadhub_instance_up); called before /metrics renders. */
void daemon_refresh_gauges(struct daemon *daemon);

/*
 * daemon_stop - stop claiming deliveries (those in flight finish meanwhile), stop
 * accepting, let requests and polls in flight finish and commit, stop ingest (committing
 * everything queued), wait for the delivery workers, all within the shutdown grace
 * period, then free everything.
 */
void daemon_stop(struct daemon *daemon);

#endif
