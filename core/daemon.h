/*
 * daemon.h - the running daemon: config, plugins, instances, ingest, HTTP; start-up and
 * orderly shutdown. `leadhubd run` is a thin wrapper around it.
 */
#ifndef LEADHUB_DAEMON_H
#define LEADHUB_DAEMON_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include <jansson.h>

#include "config.h"
#include "ingest.h"
#include "instance.h"
#include "loader.h"
#include "metrics.h"

struct http_server;

struct daemon {
    struct config *config; /* owned */
    struct plugin_registry plugins;
    struct instance *instances; /* one per enabled config instance */
    size_t instance_count;
    struct metrics *metrics;
    struct ingest *ingest;
    struct http_server *http;
    struct host_services services;
    atomic_bool stopping;

    /* readiness: the database is probed at most once a second */
    pthread_mutex_t health_mutex;
    struct store *health_store;
    int64_t health_checked_ms;
    bool health_database_ok;
    char *health_database_detail;
};

/*
 * daemon_start - everything `leadhubd run` does before serving: load the config (already
 * given), load plugins, validate every instance's settings, migrate the database,
 * initialize instances, start ingest and the HTTP listener.
 *   config: STOLEN.
 *   Returns 0, or an EXIT_* code (commands.h) after logging why.
 */
int daemon_start(struct daemon *daemon, struct config *config);

/* daemon_find_instance - an enabled instance by name, or NULL. */
struct instance *daemon_find_instance(struct daemon *daemon, const char *name);

/*
 * daemon_readiness - ready to take traffic? (database reachable, schema current, every
 * enabled instance initialized)
 *   detail_out: NEW reference, an object describing each check.
 */
bool daemon_readiness(struct daemon *daemon, json_t **detail_out);

/*
 * daemon_stop - stop accepting, let in-flight requests finish and commit within the
 * shutdown grace period, stop ingest (which commits everything queued), destroy the
 * instances, free everything.
 */
void daemon_stop(struct daemon *daemon);

#endif
