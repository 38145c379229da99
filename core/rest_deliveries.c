/*
 * rest_deliveries.c - GET /v1/deliveries, POST /v1/deliveries/{id}/replay and
 * POST /v1/deliveries/replay: the outbox, and dead letters back into the queue (the same
 * code as `leadhubd replay`).
 */
#include <stdlib.h>
#include <string.h>

#include "replay.h"
#include "rest_internal.h"
#include "util.h"

/* A held delivery is stored 'retrying' with held_since set (migration 0012); the API
 * shows it as status "held", with why and since when. */
static const char sql_list[] =
    "SELECT coalesce(json_agg(json_build_object('id', d.id, 'event_id', d.event_id, "
    "'destination', d.destination, 'route', d.route, 'lead_id', d.lead_id, 'status', "
    "CASE WHEN d.status = 'retrying' AND d.held_since IS NOT NULL THEN 'held' ELSE d.status END, "
    "'attempts', d.attempts, 'holds', d.holds, 'held_since', d.held_since, 'hold_reason', "
    "d.hold_reason, 'next_attempt_at', d.next_attempt_at, 'last_error', d.last_error, "
    "'created_at', d.created_at, 'updated_at', d.updated_at, 'done_at', d.done_at) "
    "ORDER BY d.id), '[]'::json) FROM (SELECT * FROM deliveries dd "
    "WHERE ($1::bigint IS NULL OR dd.id > $1::bigint) "
    "AND ($2::text IS NULL OR dd.status = CASE WHEN $2::text = 'held' THEN 'retrying' "
    "ELSE $2::text END) "
    "AND ($2::text IS NULL OR $2::text NOT IN ('held', 'retrying') OR "
    "(dd.held_since IS NOT NULL) = ($2::text = 'held')) "
    "AND ($3::text IS NULL OR dd.destination = $3::text) "
    "AND ($5::text IS NULL OR dd.route = $5::text) "
    "AND ($6::text IS NULL OR dd.last_error ILIKE $6::text) "
    "ORDER BY dd.id LIMIT $4::int) d";

static const char *const statuses[] = {"pending", "retrying", "held", "dead", "done", NULL};

static bool known_status(const char *status)
{
    for (const char *const *s = statuses; *s != NULL; s++) {
        if (strcmp(*s, status) == 0) {
            return true;
        }
    }
    return false;
}

void rest_deliveries_list(const struct rest_request *request, struct rest_response *response)
{
    static const char *const allowed[] = {"limit", "after", "status", "destination",
                                          "route", "error", NULL};
    int limit = 0;
    char after[24], limit_text[16];
    if (!rest_params_only(request, response, allowed) ||
        !rest_param_limit(request, response, &limit) ||
        !rest_param_id(request, response, "after", after)) {
        return;
    }
    const char *status = rest_param(request, "status");
    if (status != NULL && !known_status(status)) {
        rest_bad_parameter(response, "status", "expected pending, retrying, held, dead or done");
        return;
    }
    snprintf(limit_text, sizeof(limit_text), "%d", limit);
    const char *error = rest_param(request, "error");
    char *error_like = error != NULL ? replay_error_like(error) : NULL;
    if (error != NULL && error_like == NULL) {
        rest_error(response, 500, "internal", NULL, "out of memory");
        return;
    }
    const char *params[] = {after,
                            status,
                            rest_param(request, "destination"),
                            limit_text,
                            rest_param(request, "route"),
                            error_like};
    json_t *rows =
        rest_query_json(request->daemon, response, "rest_deliveries", sql_list, 6, params);
    free(error_like);
    if (rows != NULL) {
        rest_page(response, rows, limit, "id");
    }
}

void rest_delivery_replay(const struct rest_request *request, struct rest_response *response,
                          const char *id)
{
    static const char *const allowed[] = {NULL};
    if (!rest_params_only(request, response, allowed)) {
        return;
    }
    if (!rest_id_valid(id)) {
        rest_error(response, 404, "not_found", NULL, "no delivery %.32s", id);
        return;
    }
    long long value = strtoll(id, NULL, 10);
    const char *params[] = {id};
    json_t *status =
        rest_query_json(request->daemon, response, "rest_delivery_status",
                        "SELECT to_json(status) FROM deliveries WHERE id = $1::bigint", 1, params);
    if (status == NULL) {
        return;
    }
    if (json_is_null(status)) {
        json_decref(status);
        rest_error(response, 404, "not_found", NULL, "no delivery %lld", value);
        return;
    }
    if (strcmp(json_string_value(status), "dead") != 0) {
        rest_error(response, 409, "not_dead", NULL,
                   "delivery %lld is %s: only dead deliveries are replayed", value,
                   json_string_value(status));
        json_decref(status);
        return;
    }
    json_decref(status);
    struct store *store = rest_store(request->daemon, response);
    if (store == NULL) {
        return;
    }
    char ids[32];
    snprintf(ids, sizeof(ids), "{%lld}", value);
    long count = 0;
    char *error = NULL;
    struct replay_filter filter = {.ids = ids};
    if (replay_dead(store, &filter, false, &count, &error) != STORE_OK) {
        rest_error(response, 503, "unavailable", NULL, "the database is unavailable; retry");
        free(error);
        return;
    }
    rest_ok(response, 202, json_pack("{s:I}", "replayed", (json_int_t)count));
}

/* A string field of the filter body, or an error naming it. */
static bool filter_text(const json_t *body, const char *name, const char **out,
                        struct rest_response *response)
{
    const json_t *value = json_object_get(body, name);
    *out = NULL;
    if (value == NULL || json_is_null(value)) {
        return true;
    }
    if (!json_is_string(value)) {
        json_t *details = json_pack("{s:s}", "field", name);
        rest_error(response, 400, "bad_request", details, "%s: expected a string", name);
        json_decref(details);
        return false;
    }
    *out = json_string_value(value);
    return true;
}

void rest_deliveries_replay(const struct rest_request *request, struct rest_response *response)
{
    static const char *const allowed[] = {NULL};
    static const char *const fields[] = {"destination", "type",  "since", "until",
                                         "route",       "error", "all",   "dry_run"};
    if (!rest_params_only(request, response, allowed) || !rest_json_body(request, response)) {
        return;
    }
    json_t *body = json_loadb(request->body, request->body_len, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(body)) {
        json_decref(body);
        rest_error(response, 400, "bad_request", NULL,
                   "the body must be a JSON object: {\"destination\", \"type\", \"since\", "
                   "\"until\", \"all\", \"dry_run\"}");
        return;
    }
    const char *key;
    json_t *value;
    json_object_foreach(body, key, value)
    {
        bool known = false;
        for (size_t i = 0; i < UTIL_ARRAY_LEN(fields); i++) {
            known |= strcmp(fields[i], key) == 0;
        }
        if (!known) {
            json_t *details = json_pack("{s:s}", "field", key);
            rest_error(response, 400, "bad_request", details,
                       "unknown field \"%.64s\" (allowed: destination, type, since, until, "
                       "route, error, all, dry_run)",
                       key);
            json_decref(details);
            json_decref(body);
            return;
        }
    }
    const char *destination, *type, *since_text, *until_text, *route, *error_text;
    char since[32] = "", until[32] = "";
    int64_t ms;
    if (!filter_text(body, "destination", &destination, response) ||
        !filter_text(body, "type", &type, response) ||
        !filter_text(body, "since", &since_text, response) ||
        !filter_text(body, "until", &until_text, response) ||
        !filter_text(body, "route", &route, response) ||
        !filter_text(body, "error", &error_text, response)) {
        json_decref(body);
        return;
    }
    const char *times[] = {since_text, until_text};
    char *outs[] = {since, until};
    for (int t = 0; t < 2; t++) {
        if (times[t] == NULL) {
            continue;
        }
        if (util_parse_rfc3339(times[t], &ms) != 0) {
            json_t *details = json_pack("{s:s}", "field", t == 0 ? "since" : "until");
            rest_error(response, 400, "bad_request", details, "%s: expected an RFC 3339 time",
                       t == 0 ? "since" : "until");
            json_decref(details);
            json_decref(body);
            return;
        }
        util_format_rfc3339(ms, outs[t]);
    }
    /* destination and type point into body: it lives until the end */
    bool all = json_is_true(json_object_get(body, "all"));
    bool dry_run = json_is_true(json_object_get(body, "dry_run"));
    struct store *store = NULL;
    if (!all && destination == NULL && type == NULL && since[0] == '\0' && until[0] == '\0' &&
        route == NULL && error_text == NULL) {
        rest_error(response, 400, "bad_request", NULL,
                   "say what to replay (destination, type, since, until, route, error) or "
                   "\"all\": true");
    } else if ((store = rest_store(request->daemon, response)) != NULL) {
        long count = 0;
        char *error = NULL;
        struct replay_filter filter = {.destination = destination,
                                       .type_glob = type,
                                       .since = since[0] ? since : NULL,
                                       .until = until[0] ? until : NULL,
                                       .route = route,
                                       .error = error_text};
        if (replay_dead(store, &filter, dry_run, &count, &error) != STORE_OK) {
            rest_error(response, 503, "unavailable", NULL, "the database is unavailable; retry");
            free(error);
        } else {
            rest_ok(response, dry_run ? 200 : 202,
                    json_pack("{s:I}", dry_run ? "would_replay" : "replayed", (json_int_t)count));
        }
    }
    json_decref(body);
}
