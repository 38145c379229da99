/* daemon_internal.h - what daemon.c shares with daemon_reload.c. */
#ifndef LEADHUB_DAEMON_INTERNAL_H
#define LEADHUB_DAEMON_INTERNAL_H

#include "daemon.h"

/*
 * daemon_check_config - the offline checks of a configuration against the daemon's
 * plugins (scanned on the first call): instances' settings and routes. Diagnostics are
 * logged.
 *   settings: config->instance_count slots receiving NEW references to each enabled
 *             instance's normalized settings.
 *   Returns 0 with *router_out set (a new router), or EXIT_INVALID.
 */
int daemon_check_config(struct daemon *daemon, const struct config *config, json_t **settings,
                        struct router **router_out, struct scoring_plan **plan_out);

/* daemon_load_console - (re)read config->console_dir for /console/, logging the outcome;
 * a failure leaves the files served so far in place. */
void daemon_load_console(struct daemon *daemon, const struct config *config);

/* daemon_start_scoring - a scoring engine for `plan` (STOLEN): its scorer instances
 * created and initialized. NULL when out of memory. */
struct scoring *daemon_start_scoring(struct daemon *daemon, struct scoring_plan *plan);

/* daemon_run_instance - init() it, then give it a poller (sources) or a lane (sinks).
 * An init() that returned LH_RETRY or LH_RETRY_AFTER is scheduled to be tried again. Call
 * it under control_mutex, before other threads can see the instance. */
void daemon_run_instance(struct daemon *daemon, struct instance *instance);

/* daemon_start_instance - the poller (sources) and, once initialized, the lane (sinks) of
 * an instance whose init() already ran. */
void daemon_start_instance(struct daemon *daemon, struct instance *instance);

/* daemon_retire_instance - stop its poller and lane, waiting for work in flight. */
void daemon_retire_instance(struct daemon *daemon, struct instance *instance);

/* daemon_warn_unsealable - logs a warning when the instance takes OAuth consent and the
 * daemon has no secrets_key to seal its grant with. */
void daemon_warn_unsealable(const struct daemon *daemon, const struct instance *instance);

/*
 * Init retries (daemon_retry.c). init() may return LH_RETRY "when a dependency is down";
 * such an instance, and one that returned LH_RETRY_AFTER, is tried again on a fresh
 * instance object, with capped backoff, until it initializes; then it gets its poller and
 * lane like any other. LH_CONFIG, LH_PERMANENT and LH_AUTH stay failed until a reload.
 *
 * daemon_schedule_init_retry - after instance_init(): when to try again, if ever. Under
 *   control_mutex, before the instance is visible (it may amend last_error).
 * daemon_init_retry_start - start the thread (0, or -1 when it cannot start).
 * daemon_init_retry_stop - stop it, waiting for an init in progress. Accepts a daemon
 *   whose thread never started.
 */
void daemon_schedule_init_retry(struct daemon *daemon, struct instance *instance);
int daemon_init_retry_start(struct daemon *daemon);
void daemon_init_retry_stop(struct daemon *daemon);

#endif
