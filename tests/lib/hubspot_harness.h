/*
 * hubspot_harness.h - the hubspot plugin as the daemon runs it, for its tests: the built
 * build/plugins/hubspot.so through the real loader, its settings through the real
 * validator, callbacks through the real instance wrappers and host table, a fresh
 * migrated database (checkpoints, lead identities, OAuth state), the real ingest (polls
 * and webhooks commit their events and cursors as the daemon commits them), and a fake
 * HubSpot (fake_hubspot.h) to talk to.
 */
#ifndef LEADHUB_HUBSPOT_HARNESS_H
#define LEADHUB_HUBSPOT_HARNESS_H

#include <stdatomic.h>
#include <stdbool.h>

#include <libpq-fe.h>

#include "config.h"
#include "fake_hubspot.h"
#include "ingest.h"
#include "instance.h"
#include "loader.h"

/* What the secret references of the harness's settings resolve to. */
#define HH_TOKEN          "pat-na1-test-8c1f2d"
#define HH_CLIENT_SECRET  "cs-test-41e5a9"
#define HH_REFRESH_TOKEN  "rt-test-77b0c3"
#define HH_WEBHOOK_SECRET "whs-test-2d9e61a7"
#define HH_INSTANCE       "crm"
/* The daemon's secrets_key in the harness (base64 of 32 bytes). */
#define HH_SECRETS_KEY "aHVic3BvdC1oYXJuZXNzLWtleS0zMi1ieXRlcy1sbmc="

struct hubspot_harness {
    struct plugin_registry registry;
    const struct plugin *plugin;
    struct host_services services; /* with a keyring of HH_SECRETS_KEY */
    struct instance instance;
    struct config_instance config;
    bool started;
    atomic_bool stopping;
    struct fake_hubspot *fake;
    char *db_url;
    PGconn *db;
};

/* Loads the plugin, starts the fake and the ingest, creates the database. */
void hh_setup(struct hubspot_harness *h);
void hh_teardown(struct hubspot_harness *h);

/* Settings for a private app on the fake (token ${HH_TOKEN}, search_interval 0). NEW. */
json_t *hh_private_settings(struct hubspot_harness *h);

/* Settings for OAuth on the fake's token endpoint (the fake knows the client). NEW. */
json_t *hh_oauth_settings(struct hubspot_harness *h, int expires_in);

/* Adds webhook_client_secret ${HH_WEBHOOK_SECRET} and webhook_url to settings. */
void hh_with_webhooks(json_t *settings, const char *webhook_url);

/* Validates settings (STOLEN) as the daemon would, then runs init(). */
lh_status_t hh_start(struct hubspot_harness *h, json_t *settings);

/* init's refusal reason (malloc'd), asserting that it is LH_CONFIG and holds no secret. */
char *hh_init_refusal(struct hubspot_harness *h, json_t *settings);

/* Asserts that text holds none of the harness's secrets. */
void hh_assert_no_secret(const char *text);

/* A lead in the database; its id. */
long hh_lead(struct hubspot_harness *h, const char *email);

/* One delivery through instance_deliver() as the dispatcher makes it (including its one
 * call more after LH_AUTH). The error is copied to *error_out when not NULL. */
lh_status_t hh_deliver(struct hubspot_harness *h, const json_t *event, long lead_id,
                       char **error_out, int64_t *retry_after_out);

/* The same, with `lead` (borrowed; may be NULL) as the lead the hub resolved the event to
 * (lh_delivery_t.lead), as the dispatcher hands it over. */
lh_status_t hh_deliver_resolved(struct hubspot_harness *h, const json_t *event, long lead_id,
                                const json_t *lead, char **error_out);

/* Deliveries through instance_deliver_batch() as the dispatcher makes them. messages[i]
 * are malloc'd (NULL when none): the caller frees them. */
void hh_deliver_batch(struct hubspot_harness *h, json_t *const *events, const long *lead_ids,
                      size_t count, lh_status_t *results, char **messages,
                      int64_t *retry_after_out);

/* A poll as the poller runs it (once more after LH_AUTH), committed through the ingest
 * when OK. The emitted events (normalized) are appended to *events_out when not NULL
 * (a NEW array the caller frees). */
lh_status_t hh_poll(struct hubspot_harness *h, json_t **events_out, char **error_out);

/* A webhook request signed with v3 for `url` (timestamp: now + skew_ms), committed when
 * OK. signature/timestamp override the computed ones when not NULL; an empty signature
 * sends neither header. */
lh_status_t hh_webhook(struct hubspot_harness *h, const char *url, const char *query,
                       const char *body, int64_t skew_ms, const char *signature,
                       const char *timestamp, json_t **events_out, char **error_out);

/* A webhook request with exactly these headers, committed when OK. */
lh_status_t hh_webhook_raw(struct hubspot_harness *h, const lh_header_t *headers,
                           size_t header_count, const char *query, const char *body,
                           json_t **events_out, char **error_out);

/* Now (plus skew_ms) as X-HubSpot-Request-Timestamp text (out: 24 bytes). */
void hh_timestamp(int64_t skew_ms, char *out);

/* The v3 signature of a request (malloc'd base64). */
char *hh_sign_v3(const char *secret, const char *method, const char *uri, const char *body,
                 const char *timestamp);

/* A checkpoint of the instance, as a NEW reference (NULL when absent): as stored, sealed
 * values sealed. */
json_t *hh_checkpoint(struct hubspot_harness *h, const char *key);

/* A checkpoint opened with the harness's key (NULL when absent). NEW reference. */
json_t *hh_checkpoint_opened(struct hubspot_harness *h, const char *key);

/* A plugin metric's value (0 when absent). */
double hh_metric(struct hubspot_harness *h, const char *name, const char *label, const char *value);

/* The request body of the fake's nth request with method and path prefix, parsed. NEW. */
json_t *hh_request_json(struct hubspot_harness *h, const char *method, const char *path,
                        size_t nth);

#endif
