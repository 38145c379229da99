/*
 * router.h - routes from the main config: which events go to which sink instances.
 *
 *   routes:
 *     - name: leads-to-crm
 *       from: "linkedin*"                 # source instance name or glob
 *       types: [lead.*, customer.created] # event type globs
 *       where:                            # optional; every condition must hold
 *         lead.email: {exists: true}
 *         lead.company: {not_equals: "Acme"}
 *       to: [crm]                         # sink instances
 *       settle: 1m                        # optional; deliveries wait this long first
 *
 * A router is built and checked once per configuration (start-up, SIGHUP, check-config)
 * and never changes afterwards, so matching takes no lock.
 */
#ifndef LEADHUB_ROUTER_H
#define LEADHUB_ROUTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "config.h"
#include "diag.h"
#include "loader.h"

struct router;

/*
 * router_build - parse config->routes and check them against the config's instances and
 * their plugins: an unknown instance in `from` or `to`, a `to` that is not a sink, a
 * `from` that is not a source, malformed globs and conditions are errors; a `from` glob
 * matching no source, types no matched source declares it emits, and disabled sinks are
 * warnings.
 *   Returns a new router (free with router_free()), or NULL when diags got errors.
 */
struct router *router_build(const struct config *config, const struct plugin_registry *plugins,
                            struct diag_list *diags);

/* router_free - drop the builder's reference (see router_acquire). Accepts NULL. */
void router_free(struct router *router);

/* router_acquire / router_release - routers are shared by threads across a reload: each
 * user holds a reference, and the last release frees it. */
struct router *router_acquire(struct router *router);
void router_release(struct router *router);

size_t router_count(const struct router *router);

/* router_find - the index of the route named `name`, or -1. */
long router_find(const struct router *router, const char *name);

/* router_settle_ms - how long deliveries of route `route` wait before their first attempt
 * (its `settle`); 0 for an unknown route. */
int64_t router_settle_ms(const struct router *router, const char *route);

/* The callback router_match() calls for each destination; route and destination are
 * borrowed from the router. */
typedef void (*router_emit_fn)(const char *route, const char *destination, void *arg);

/*
 * router_match - every destination the event goes to, each once (the first route that
 * sends it there names the delivery).
 *   event: the normalized event (borrowed).
 *   only_route: -1 for all routes, or one route's index (replaying a route).
 *   Returns the number of destinations emitted.
 */
size_t router_match(const struct router *router, const json_t *event, long only_route,
                    router_emit_fn emit, void *arg);

#endif
