/*
 * readiness.h - what /readyz answers: "send this process traffic", or not. The rules are
 * in one function; the daemon gathers the facts (daemon_readiness()).
 *
 * Ready means this process can take webhooks: the database is reachable, its schema is
 * one this release runs on (schema_policy.h), and the daemon is neither starting nor
 * stopping. A connector instance or scorer that failed is reported (the /readyz body,
 * /v1/connectors, leadhub_instance_up) and refuses its own webhooks with 503, but it does
 * not take the pod out of service: every replica shares the configuration, so one bad sink
 * would otherwise empty the Service and fail every provider's webhooks. The setting
 * `readiness.connectors: require` restores the strict rule for those who want it.
 */
#ifndef LEADHUB_READINESS_H
#define LEADHUB_READINESS_H

#include <stdbool.h>
#include <stddef.h>

struct readiness_facts {
    bool starting;           /* start-up has not finished */
    bool stopping;           /* SIGTERM received */
    bool database_reachable; /* the probe connected and read schema_migrations */
    bool writers_up;         /* the last ingest commit did not fail for want of a database */
    bool schema_compatible;  /* schema_policy_judge() */
    bool require_connectors; /* readiness.connectors: require */
    size_t instances_failed; /* enabled connector instances not initialized */
    size_t scorers_failed;   /* scorers not running */
};

/*
 * readiness_decide - ready or not, by the rules above.
 *   reason_out: unless NULL, set to why not (a constant), or NULL when ready.
 */
bool readiness_decide(const struct readiness_facts *facts, const char **reason_out);

#endif
