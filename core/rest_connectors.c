/*
 * rest_connectors.c - GET /v1/connectors, GET /v1/connectors/{name} and
 * POST /v1/connectors/{name}/sync. Status combines the configuration (every instance,
 * disabled ones too, and the scorers), this replica's view (initialized, token state,
 * circuit) and the database's (last poll, cursor age, counts, OAuth consent) — never a
 * secret.
 */
#include <stdlib.h>
#include <string.h>

#include "loader.h"
#include "oauth_provider.h"
#include "poller.h"
#include "rest_internal.h"
#include "util.h"

static const char sql_status[] =
    "SELECT coalesce(json_object_agg(n.name, json_build_object("
    "'last_poll', (SELECT json_build_object('started_at', s.last_poll_started_at, "
    "'finished_at', s.last_poll_finished_at, 'outcome', s.last_poll_outcome, 'events', "
    "s.last_poll_events, 'error', s.last_error, 'owner', s.owner) FROM connector_status s "
    "WHERE s.instance = n.name), "
    "'last_success_at', (SELECT s.last_success_at FROM connector_status s "
    "WHERE s.instance = n.name), "
    "'consecutive_failures', coalesce((SELECT s.consecutive_failures FROM connector_status s "
    "WHERE s.instance = n.name), 0), "
    "'cursor_updated_at', (SELECT max(c.updated_at) FROM connector_state c "
    "WHERE c.instance = n.name AND c.key NOT LIKE 'leadhub.%'), "
    "'cursor_age_seconds', (SELECT floor(extract(epoch FROM now() - max(c.updated_at)))::bigint "
    "FROM connector_state c WHERE c.instance = n.name AND c.key NOT LIKE 'leadhub.%'), "
    "'oauth_status', (SELECT c.value FROM connector_state c WHERE c.instance = n.name AND "
    "c.key = 'leadhub.oauth2.status'))), "
    "'{}'::json) FROM unnest($1::text[]) AS n(name)";

/*
 * Counts stay cheap however large events and deliveries grow: each is an index-only walk
 * of one index range that stops at COUNT_LIMIT entries, so a request reads at most five
 * COUNT_LIMITs of index entries per instance. Flow counts (events stored, deliveries done)
 * cover the last 24 hours; the backlog (pending, retrying, dead) is counted whatever its
 * age. Events are windowed by id, from the first event received in the window
 * (events_received_at_idx), and counted per source on events_source_id_idx: an event that
 * committed out of order across the window's start may be missed, which a status page can
 * afford. Totals and rates are in /metrics.
 *
 * The planner cannot tell which instance a row of unnest() names, and its average guess
 * makes scans that read far more look cheap: a bitmap scan (every matching entry is read
 * before a LIMIT applies) or a walk of events_pkey filtered by source (past every other
 * source's events). So the statement runs with sequential and bitmap scans off
 * (rest_query_json_with), and the events window is a row comparison, which only
 * events_source_id_idx can serve.
 */
#define COUNT_LIMIT  "1000"
#define COUNT_WINDOW "interval '24 hours'"

static const char sql_counts[] =
    "SELECT coalesce(json_object_agg(n.name, json_build_object("
    "'events_24h', (SELECT count(*) FROM (SELECT 1 FROM events e WHERE e.source = n.name "
    "AND (e.source, e.id) >= (n.name, w.first_id) LIMIT " COUNT_LIMIT ") c), "
    "'deliveries', json_build_object("
    "'pending', (SELECT count(*) FROM (SELECT 1 FROM deliveries d WHERE d.status = 'pending' "
    "AND d.destination = n.name ORDER BY d.updated_at LIMIT " COUNT_LIMIT ") c), "
    "'retrying', (SELECT count(*) FROM (SELECT 1 FROM deliveries d WHERE d.status = 'retrying' "
    "AND d.destination = n.name ORDER BY d.updated_at LIMIT " COUNT_LIMIT ") c), "
    "'dead', (SELECT count(*) FROM (SELECT 1 FROM deliveries d WHERE d.status = 'dead' "
    "AND d.destination = n.name ORDER BY d.updated_at LIMIT " COUNT_LIMIT ") c), "
    "'done_24h', (SELECT count(*) FROM (SELECT 1 FROM deliveries d WHERE d.status = 'done' "
    "AND d.destination = n.name AND d.updated_at >= now() - " COUNT_WINDOW
    " ORDER BY d.updated_at LIMIT " COUNT_LIMIT ") c)))), '{}'::json) "
    "FROM unnest($1::text[]) AS n(name), (SELECT (SELECT e.id FROM events e WHERE e.received_at "
    ">= now() - " COUNT_WINDOW " ORDER BY e.received_at, e.id LIMIT 1) AS first_id) w";

/* What the config says of every instance and scorer (name, plugin, kind, enabled). */
static json_t *configured(struct daemon *daemon, const char *only)
{
    json_t *list = json_array();
    pthread_rwlock_rdlock(&daemon->config_lock);
    const struct config *config = daemon->config;
    for (size_t i = 0; i < config->instance_count; i++) {
        const struct config_instance *ci = &config->instances[i];
        if (only != NULL && strcmp(only, ci->name) != 0) {
            continue;
        }
        const struct plugin *plugin = loader_find(&daemon->plugins, ci->plugin);
        bool polls = plugin != NULL && plugin->desc->poll != NULL;
        json_array_append_new(
            list, json_pack("{s:s,s:s,s:s,s:b,s:o}", "name", ci->name, "plugin", ci->plugin, "kind",
                            plugin != NULL ? loader_kind_name(plugin->desc->kind) : "unknown",
                            "enabled", ci->enabled, "poll_interval_seconds",
                            polls ? json_integer(ci->poll_interval_ms / 1000) : json_null()));
    }
    size_t i;
    const json_t *entry;
    json_array_foreach(config->scoring, i, entry)
    {
        const char *name = json_string_value(json_object_get(entry, "name"));
        const char *plugin = json_string_value(json_object_get(entry, "plugin"));
        if (name != NULL && plugin != NULL && (only == NULL || strcmp(only, name) == 0)) {
            json_array_append_new(list, json_pack("{s:s,s:s,s:s,s:b,s:n}", "name", name, "plugin",
                                                  plugin, "kind", "scorer", "enabled", 1,
                                                  "poll_interval_seconds"));
        }
    }
    pthread_rwlock_unlock(&daemon->config_lock);
    return list;
}

/* Adds this replica's view of the instance: initialized, error, token state, circuit. */
static void add_runtime(struct daemon *daemon, json_t *entry, const json_t *circuits,
                        const json_t *scorers)
{
    const char *name = json_string_value(json_object_get(entry, "name"));
    struct instance *instance = daemon_find_instance(daemon, name);
    bool initialized = false;
    const char *error = NULL;
    const char *token = "none";
    int64_t held_until = 0;
    if (instance != NULL) {
        initialized = atomic_load(&instance->initialized);
        pthread_mutex_lock(&instance->status_mutex);
        held_until = instance->poll_held_until_ms;
        pthread_mutex_unlock(&instance->status_mutex);
        error = instance->last_error;
        /* not under the OAuth2 mutex: a refresh holds it while the endpoint answers */
        token = instance_token_state_name(atomic_load(&instance->oauth2.state));
    } else if (json_string_value(json_object_get(scorers, name)) != NULL) {
        const char *state = json_string_value(json_object_get(scorers, name));
        initialized = strcmp(state, "ok") == 0;
        error = initialized ? NULL : state;
    }
    json_object_set_new(entry, "initialized", json_boolean(initialized));
    json_object_set_new(entry, "error", error != NULL ? json_string(error) : json_null());
    json_object_set_new(entry, "token", json_string(token));
    /* a poll held by the provider's limit (LinkedIn's day), seen by the replica that polls */
    char held[32];
    if (held_until > 0) {
        util_format_rfc3339(held_until, held);
    }
    json_object_set_new(entry, "poll_held_until", held_until > 0 ? json_string(held) : json_null());
    const json_t *circuit = json_object_get(json_object_get(circuits, name), "circuit");
    json_object_set_new(entry, "circuit",
                        circuit != NULL ? json_incref((json_t *)circuit) : json_null());
    instance_release(instance);
}

#define CONSENT_WARN_DAYS 14

/*
 * The OAuth consent of an instance whose plugin has a provider and whose file names the
 * client: the grant's status as stored (any replica wrote it; never a token), the days its
 * refresh token has left when the provider said, and what to do when it needs a person.
 * null for the others. `status` is the stored status row (borrowed; may be NULL).
 */
static json_t *consent_of(struct daemon *daemon, const char *name, const json_t *status)
{
    struct instance *instance = daemon_find_instance(daemon, name);
    const lh_oauth_provider_t *provider =
        instance != NULL ? oauth_provider_of(instance->plugin->desc) : NULL;
    const char *id_setting = provider != NULL && provider->client_id_setting != NULL
                                 ? provider->client_id_setting
                                 : "client_id";
    bool uses = provider != NULL && json_object_get(instance->settings, id_setting) != NULL;
    instance_release(instance);
    if (!uses) {
        return json_null();
    }
    const char *state = json_string_value(json_object_get(status, "state"));
    const char *ends = json_string_value(json_object_get(status, "refresh_token_expires_at"));
    int64_t ends_ms = 0;
    json_t *days = json_null();
    if (ends != NULL && util_parse_rfc3339(ends, &ends_ms) == 0) {
        int64_t left = ends_ms - util_now_ms();
        days = json_integer(left > 0 ? left / (24LL * 3600 * 1000) : 0);
    }
    bool soon = json_is_integer(days) && json_integer_value(days) <= CONSENT_WARN_DAYS;
    const char *shown = state != NULL ? state : "none";
    json_t *action = json_null();
    if (strcmp(shown, "granted") != 0 || soon) {
        action = json_pack("{s:s++,s:s++}", "cli", "leadhubd connect ", name, "", "api",
                           "POST /v1/connectors/", name, "/connect");
    }
    json_t *reason = json_object_get(status, "reason");
    json_t *granted_at = json_object_get(status, "granted_at");
    json_t *ends_at = json_object_get(status, "refresh_token_expires_at");
    return json_pack("{s:s,s:O?,s:O?,s:O?,s:o,s:o}", "state", shown, "reason",
                     json_is_string(reason) ? reason : NULL, "granted_at",
                     json_is_string(granted_at) ? granted_at : NULL, "refresh_token_expires_at",
                     json_is_string(ends_at) ? ends_at : NULL, "refresh_token_days_left", days,
                     "action", action);
}

json_t *rest_connector_status(const struct rest_request *request, struct rest_response *response,
                              const char *only)
{
    struct daemon *daemon = request->daemon;
    json_t *list = configured(daemon, only);
    struct strbuf names = {0};
    size_t i;
    json_t *entry;
    strbuf_append(&names, "{");
    json_array_foreach(list, i, entry)
    {
        /* instance names are [a-z0-9_-]: nothing to escape */
        strbuf_appendf(&names, "%s\"%s\"", i ? "," : "",
                       json_string_value(json_object_get(entry, "name")));
    }
    strbuf_append(&names, "}");
    if (list == NULL || names.failed) {
        json_decref(list);
        strbuf_free(&names);
        rest_error(response, 500, "internal", NULL, "out of memory");
        return NULL;
    }
    const char *params[] = {strbuf_value(&names)};
    bool any = json_array_size(list) > 0;
    json_t *stored =
        any ? rest_query_json(daemon, response, "rest_connectors", sql_status, 1, params)
            : json_object();
    json_t *counts = any && stored != NULL
                         ? rest_query_json_with(daemon, response, "rest_connector_counts",
                                                sql_counts, 1, params, true)
                         : json_object();
    strbuf_free(&names);
    if (stored == NULL || counts == NULL) {
        json_decref(stored);
        json_decref(counts);
        json_decref(list);
        return NULL;
    }
    json_t *circuits = daemon->dispatcher != NULL ? dispatch_status(daemon->dispatcher) : NULL;
    bool ignored = true;
    pthread_mutex_lock(&daemon->scoring_mutex);
    json_t *scorers = scoring_status(daemon->scoring, &ignored);
    pthread_mutex_unlock(&daemon->scoring_mutex);
    json_array_foreach(list, i, entry)
    {
        const char *name = json_string_value(json_object_get(entry, "name"));
        add_runtime(daemon, entry, circuits, scorers);
        json_t *row = json_object_get(stored, name);
        json_object_set_new(entry, "oauth",
                            consent_of(daemon, name, json_object_get(row, "oauth_status")));
        json_object_del(row, "oauth_status");
        json_object_update(entry, row);
        json_object_update(entry, json_object_get(counts, name));
        json_object_set_new(entry, "attention", rest_connector_attention(entry, util_now_ms()));
    }
    json_decref(scorers);
    json_decref(circuits);
    json_decref(stored);
    json_decref(counts);
    return list;
}

void rest_connectors_list(const struct rest_request *request, struct rest_response *response)
{
    static const char *const allowed[] = {NULL};
    if (!rest_params_only(request, response, allowed)) {
        return;
    }
    json_t *list = rest_connector_status(request, response, NULL);
    if (list != NULL) {
        rest_ok(response, 200, json_pack("{s:o}", "data", list));
    }
}

void rest_connector_get(const struct rest_request *request, struct rest_response *response,
                        const char *name)
{
    static const char *const allowed[] = {NULL};
    if (!rest_params_only(request, response, allowed)) {
        return;
    }
    json_t *list = util_instance_name_valid(name) ? rest_connector_status(request, response, name)
                                                  : json_array();
    if (list == NULL) {
        return;
    }
    if (json_array_size(list) == 0) {
        json_decref(list);
        rest_error(response, 404, "not_found", NULL, "no connector instance named %.64s", name);
        return;
    }
    rest_ok(response, 200, json_incref(json_array_get(list, 0)));
    json_decref(list);
}

void rest_connector_sync(const struct rest_request *request, struct rest_response *response,
                         const char *name)
{
    static const char *const allowed[] = {NULL};
    if (!rest_params_only(request, response, allowed)) {
        return;
    }
    struct instance *instance =
        util_instance_name_valid(name) ? daemon_find_instance(request->daemon, name) : NULL;
    if (instance == NULL) {
        rest_error(response, 404, "not_found", NULL, "no enabled connector instance named %.64s",
                   name);
        return;
    }
    bool polls = instance->plugin->desc->poll != NULL;
    instance_release(instance);
    if (!polls) {
        rest_error(response, 409, "not_pollable", NULL, "%s does not poll: nothing to sync", name);
        return;
    }
    /* NOTIFY reaches whichever replica polls the instance */
    char *channel = poller_sync_channel(name);
    const char *params[] = {channel};
    json_t *done = rest_query_json(request->daemon, response, "rest_sync",
                                   "SELECT to_json(pg_notify($1, '') IS NULL)", 1, params);
    free(channel);
    if (done == NULL) {
        return;
    }
    json_decref(done);
    rest_ok(response, 202, json_pack("{s:s,s:s}", "instance", name, "status", "requested"));
}
