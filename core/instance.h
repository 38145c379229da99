/*
 * instance.h - a configured connector instance at run time: its plugin, validated
 * settings and state, and the per-call context (struct lh_ctx) handed to its callbacks.
 * The host function table plugins receive is in host_api.c.
 */
#ifndef LEADHUB_INSTANCE_H
#define LEADHUB_INSTANCE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "config.h"
#include "config_where.h"
#include "host_jwt.h"
#include "ingest.h"
#include "loader.h"
#include "metrics.h"
#include "store_pg.h"

/* deliver_batch() capacity unless the plugin sets another, and the most it may set. */
#define INSTANCE_DEFAULT_BATCH 100
#define INSTANCE_MAX_BATCH     1000

/* What the host lends every instance: shared by all of them, owned by the daemon. */
struct seal_keyring;

struct host_services {
    struct metrics *metrics;
    struct ingest *ingest;
    atomic_bool *stopping;
    /* checkpoint_get reads through one shared connection */
    pthread_mutex_t store_mutex;
    struct store *store;      /* opened lazily */
    const char *database_url; /* borrowed from the config */
    /* the keys that seal tokens and secret state (secrets_key); NULL when none is
       configured; borrowed, lives as long as the services */
    const struct seal_keyring *keyring;
};

/* What GET /v1/connectors shows of an instance's host-managed OAuth2 token. */
enum instance_token_state {
    INSTANCE_TOKEN_NONE,          /* never asked for */
    INSTANCE_TOKEN_VALID,         /* held */
    INSTANCE_TOKEN_REFRESHING,    /* the token endpoint is being asked */
    INSTANCE_TOKEN_FAILED,        /* the last refresh failed */
    INSTANCE_TOKEN_NEEDS_CONSENT, /* no grant, or the provider refused it: consent again */
};

/* "none", "valid", "refreshing", "failed" or "needs_consent" (a constant). */
const char *instance_token_state_name(int state);

struct instance {
    char *name;               /* owned copy of the config's */
    int64_t poll_interval_ms; /* from the config */
    const struct plugin *plugin;
    json_t *settings; /* normalized settings; owned */
    void *state;      /* what init() returned */
    atomic_bool initialized;
    char *last_error;            /* last init failure, for readiness; owned */
    lh_status_t init_status;     /* what init() last returned */
    int64_t init_retry_after_ms; /* its set_retry_after() delay, -1 when none */
    /* Init retries (daemon_retry.c), touched only under the daemon's control mutex. */
    unsigned init_failures;     /* retryable init failures in a row */
    int64_t init_retry_at_ms;   /* monotonic: when to try init() again; 0: never */
    pthread_mutex_t call_mutex; /* one callback at a time unless REENTRANT */
    size_t batch_size;          /* deliver_batch() capacity (host->set_batch_size) */
    struct host_services *services;
    atomic_int references; /* instance_new() instances: freed at the last release */
    struct instance_oauth2 {
        pthread_mutex_t mutex;
        char *access_token;            /* cached; owned, wiped when freed */
        int64_t expires_at_ms;         /* wall clock */
        char *refresh_token;           /* the one the access token came from; owned, wiped */
        int origin;                    /* enum oauth_grant_origin of refresh_token */
        char configured_sha256[65];    /* the configured token refresh_token descends from */
        char refused_sha256[65];       /* the refresh token the provider refused ("" none): not
                                          offered again until another grant is stored */
        char *refused_reason;          /* why, for every call until then; owned */
        char dropped_sha256[65];       /* the access token invalidated last: a stored copy of it
                                          is not used again */
        int64_t checked_ms;            /* monotonic: when the stored grant was last read */
        int64_t refresh_expires_at_ms; /* the refresh token's end, when the provider said */
        int64_t warned_ms;             /* monotonic: the last "re-consent soon" warning */
        /* enum instance_token_state, for status: atomic, since a refresh holds the mutex
         * for as long as the token endpoint takes and status must not wait for it */
        atomic_int state;
    } oauth2;
    struct host_jwks jwks;        /* host->jwt_verify()'s keys (host_jwt.h) */
    pthread_mutex_t status_mutex; /* guards the poll status below */
    char last_poll_outcome[16];   /* "" before the first poll */
    char *last_poll_error;        /* owned; NULL when the last poll succeeded */
    int64_t poll_held_until_ms;   /* wall clock: the last poll asked to wait (a provider's
                                     limit) until then; 0 when it did not */
};

/* instance_set_poll_status - record a poll's outcome (error may be NULL; copied) and, for a
 * poll that asked to wait (LH_RETRY_AFTER), until when (epoch ms; 0 otherwise). */
void instance_set_poll_status(struct instance *instance, const char *outcome, const char *error,
                              int64_t held_until_ms);

/* instance_poll_status - {"outcome": ..., "error": ..., "held_until": RFC 3339 or absent} of
 * the last poll, or NULL before the first one. NEW reference. */
json_t *instance_poll_status(struct instance *instance);

/* Where validate()'s config_error() reports go offline (check-config, start-up): errors
 * at "<prefix>.<key>" in the file the settings came from. */
struct ctx_report {
    struct diag_list *diags;
    const struct config_where *where;
    const char *prefix; /* "settings", "scoring[2].settings" */
    const char *name;   /* the instance's name to be: instance_name() */
};

/* The per-call context. Lives on the caller's stack or in a request; valid only during
 * the callback. */
struct lh_ctx {
    struct instance *instance;     /* NULL only in an offline validate() */
    struct ingest_batch *batch;    /* where emit/checkpoint_put go; NULL for init/deliver */
    char *error;                   /* set_error; owned */
    int64_t retry_after_ms;        /* -1 when not set */
    int64_t deadline_ms;           /* monotonic; 0 for none */
    bool deadline_cuts_http;       /* the host's HTTP requests end at the deadline too (a
                                      webhook's answer is due then; a poll finishes its call) */
    atomic_bool *cancel;           /* when set and true, should_stop() says stop; may be NULL */
    unsigned emitted;              /* events accepted by emit during this call */
    unsigned rejected;             /* events refused by emit */
    bool in_init;                  /* set_batch_size() is allowed now */
    bool in_delivery;              /* deliver(): checkpoints write through, identities allowed */
    bool in_poll;                  /* poll(): notifications may be taken */
    bool validating;               /* validate(): no I/O; config_error() reports */
    struct ctx_report *report;     /* validate offline: where config_error() goes; NULL: into
                                      error, "key: message" */
    unsigned config_errors;        /* config_error() calls so far */
    int64_t notifications_after;   /* the last notification seq taken in this call */
    const lh_delivery_t *delivery; /* the delivery being attempted, when one */
    char *oauth2_token;            /* what oauth2_token() returned this call; owned */
    /* respond() */
    int response_status; /* 0 when the plugin did not choose */
    char *response_content_type;
    char *response_body;
    size_t response_body_len;
};

void ctx_init(struct lh_ctx *ctx, struct instance *instance, struct ingest_batch *batch);
void ctx_clear(struct lh_ctx *ctx);

/* The host's OAuth2 service (host_oauth2.c): see lh_host_t.oauth2_token. */
lh_status_t host_oauth2_token(lh_ctx_t *ctx, const lh_oauth2_t *config, const char **token_out);
void host_oauth2_invalidate(lh_ctx_t *ctx);
/* host_oauth2_drop - invalidate; true when a host-managed token was held, that is when
 * calling again (with a fresh token) may succeed where an LH_AUTH came back. */
bool host_oauth2_drop(lh_ctx_t *ctx);
/* Frees an instance's OAuth2 state (teardown). */
void host_oauth2_clear(struct instance *instance);
/* host_oauth2_forget - a new grant was stored (consent): drop the cached token and any
 * refusal, so the next oauth2_token() reads the grant at once. */
void host_oauth2_forget(struct instance *instance);

/*
 * services_store_lock - the shared connection of the host services, locked for the
 * caller, (re)connected when needed. NULL (and unlocked) when the database cannot be
 * reached, with *error_out set (malloc'd). Release with services_store_unlock().
 */
struct store *services_store_lock(struct host_services *services, char **error_out);
void services_store_unlock(struct host_services *services);

/* The table handed to every plugin's init(). Static; never NULL. */
const lh_host_t *host_api_table(void);

/*
 * instance_setup - bind an instance to its plugin and validated settings.
 *   settings: STOLEN.
 */
int instance_setup(struct instance *instance, const struct config_instance *config,
                   const struct plugin *plugin, json_t *settings, struct host_services *services);

/*
 * instance_init - run the plugin's init(). On failure the reason is kept in
 * instance->last_error and returned (LH_CONFIG, LH_RETRY, ...), the status in init_status
 * and a set_retry_after() delay in init_retry_after_ms.
 * Note: it writes fields readers use without a lock: call it before the instance is
 * visible to other threads (a failed one is retried on a fresh instance, daemon_retry.c).
 */
lh_status_t instance_init(struct instance *instance);

/*
 * instance_validate_offline - run the plugin's validate() (when it has one) on settings
 * that passed the schema, where no instance exists (check-config, start-up, reload): each
 * config_error() becomes an error diagnostic at "<prefix>.<key>" in where's file.
 *   name: what instance_name() answers (the instance's configured name).
 *   Returns the callback's status (LH_CONFIG when it reported anything).
 */
lh_status_t instance_validate_offline(const struct plugin *plugin, const char *name,
                                      const json_t *settings, const struct config_where *where,
                                      const char *prefix, struct diag_list *diags);

/*
 * instance_webhook - run the webhook callback under the instance's call rules, timing it.
 * ctx: initialized by the caller with the batch the events go to; with a deadline, the
 *      wait for a non-reentrant instance (busy polling) ends there: LH_RETRY.
 */
lh_status_t instance_webhook(struct instance *instance, struct lh_ctx *ctx,
                             const lh_webhook_request_t *request);

/*
 * instance_poll - run the poll callback under the instance's call rules, timing it.
 * ctx: initialized by the caller with the batch the events go to and a deadline.
 */
lh_status_t instance_poll(struct instance *instance, struct lh_ctx *ctx);

/*
 * instance_score - run score() (scorers are reentrant: no lock), timing it.
 *   result_out: NEW reference on LH_OK.
 */
lh_status_t instance_score(struct instance *instance, struct lh_ctx *ctx, const json_t *snapshot,
                           json_t **result_out);

/*
 * instance_deliver - run deliver() (or a one-item deliver_batch() when the plugin only
 * has that) under the instance's call rules, timing it.
 */
lh_status_t instance_deliver(struct instance *instance, struct lh_ctx *ctx,
                             const lh_delivery_t *delivery);

/*
 * instance_deliver_batch - run deliver_batch() (or deliver() once per item when the plugin
 * only has that). results[i] gets each delivery's status: the call's own status for items
 * the plugin left LH_OK when the call failed as a whole. messages[i]: NULL or malloc'd,
 * the caller frees them.
 */
void instance_deliver_batch(struct instance *instance, struct lh_ctx *ctx,
                            const lh_delivery_t *deliveries, size_t count, lh_status_t *results,
                            char **messages);

/*
 * instance_new - instance_setup() on the heap, with one reference. Threads that use an
 * instance beyond a lookup (a request, a poll, a delivery worker) hold a reference, so a
 * reload can drop an instance while work on it finishes.
 *   settings: STOLEN (also on failure). Returns NULL when out of memory.
 */
struct instance *instance_new(const struct config_instance *config, const struct plugin *plugin,
                              json_t *settings, struct host_services *services);
struct instance *instance_acquire(struct instance *instance);
/* The last release tears the instance down (destroy() on its state) and frees it. */
void instance_release(struct instance *instance);

/* instance_teardown - destroy() the state and free what setup took. */
void instance_teardown(struct instance *instance);

/* "ok", "retry", "retry_after", "auth", "permanent", "config" */
const char *instance_status_name(lh_status_t status);

#endif
