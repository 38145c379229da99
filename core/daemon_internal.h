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

/* daemon_start_scoring - a scoring engine for `plan` (STOLEN): its scorer instances
 * created and initialized. NULL when out of memory. */
struct scoring *daemon_start_scoring(struct daemon *daemon, struct scoring_plan *plan);

/* daemon_run_instance - init() it, then give it a poller (sources) or a lane (sinks). */
void daemon_run_instance(struct daemon *daemon, struct instance *instance);

/* daemon_retire_instance - stop its poller and lane, waiting for work in flight. */
void daemon_retire_instance(struct daemon *daemon, struct instance *instance);

#endif
