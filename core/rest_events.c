/*
 * rest_events.c - GET /v1/events and POST /v1/events.
 *
 * Posted events pass the same validation as a plugin's (event_validate), commit through
 * ingest with the same idempotency, and are answered only after the commit. An event's
 * `source` names the internal system that sent it (default "api"); the names of
 * configured connector instances and scorers are theirs alone.
 */
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "rest_internal.h"
#include "util.h"

#define REST_DEFAULT_SOURCE "api"

static const char sql_list[] =
    "SELECT coalesce(json_agg(json_build_object('id', e.id, 'type', e.type, 'source', e.source, "
    "'source_id', e.source_id, 'occurred_at', e.occurred_at, 'received_at', e.received_at, "
    "'lead_id', e.lead_id, 'event', e.payload) ORDER BY e.id), '[]'::json) FROM "
    "(SELECT * FROM events ee WHERE ($1::bigint IS NULL OR ee.id > $1::bigint) "
    "AND ($2::text IS NULL OR ee.type LIKE $2::text) "
    "AND ($3::text IS NULL OR ee.source = $3::text) "
    "AND ($4::bigint IS NULL OR ee.lead_id = $4::bigint) "
    "AND ($5::timestamptz IS NULL OR ee.occurred_at >= $5::timestamptz) "
    "AND ($6::timestamptz IS NULL OR ee.occurred_at < $6::timestamptz) "
    "ORDER BY ee.id LIMIT $7::int) e";

void rest_events_list(const struct rest_request *request, struct rest_response *response)
{
    static const char *const allowed[] = {"limit",   "after", "type",  "source",
                                          "lead_id", "since", "until", NULL};
    int limit = 0;
    char after[24], lead[24], since[32], until[32], limit_text[16];
    if (!rest_params_only(request, response, allowed) ||
        !rest_param_limit(request, response, &limit) ||
        !rest_param_id(request, response, "after", after) ||
        !rest_param_id(request, response, "lead_id", lead) ||
        !rest_param_time(request, response, "since", since) ||
        !rest_param_time(request, response, "until", until)) {
        return;
    }
    const char *type = rest_param(request, "type");
    char *type_like = type != NULL ? util_glob_to_like(type) : NULL;
    snprintf(limit_text, sizeof(limit_text), "%d", limit);
    const char *params[] = {after, type_like, rest_param(request, "source"), lead, since,
                            until, limit_text};
    json_t *rows = rest_query_json(request->daemon, response, "rest_events", sql_list, 7, params);
    free(type_like);
    if (rows != NULL) {
        rest_page(response, rows, limit, "id");
    }
}

/* Why `source` may not be used by an API client, or NULL when it may. */
static const char *source_refused(struct daemon *daemon, const char *source)
{
    if (!util_instance_name_valid(source)) {
        return "source: expected [a-z0-9_-], at most 63 characters";
    }
    const char *reason = NULL;
    pthread_rwlock_rdlock(&daemon->config_lock);
    const struct config *config = daemon->config;
    if (config_instance_find(config, source) != NULL) {
        reason = "source: that name belongs to a connector instance";
    }
    size_t i;
    const json_t *scorer;
    json_array_foreach(config->scoring, i, scorer)
    {
        const char *name = json_string_value(json_object_get(scorer, "name"));
        if (name != NULL && strcmp(name, source) == 0) {
            reason = "source: that name belongs to a scorer";
        }
    }
    pthread_rwlock_unlock(&daemon->config_lock);
    return reason;
}

/* Validates one posted item into the batch; returns its entry for the answer. */
static json_t *take_item(struct daemon *daemon, json_t *item, size_t index,
                         struct ingest_batch *batch)
{
    const char *error = NULL;
    char *reason = NULL;
    const char *source = REST_DEFAULT_SOURCE;
    if (!json_is_object(item)) {
        error = "expected an event object";
    } else {
        const json_t *given = json_object_get(item, "source");
        if (json_is_string(given)) {
            source = json_string_value(given);
            error = source_refused(daemon, source);
        } else if (given != NULL && !json_is_null(given)) {
            error = "source: expected a string";
        }
    }
    if (error != NULL) {
        return json_pack("{s:I,s:i,s:{s:s,s:s}}", "index", (json_int_t)index, "status", 422,
                         "error", "code", "invalid_event", "message", error);
    }
    struct event_record record;
    if (event_validate(json_incref(item), source, &record, &reason) != 0) {
        json_t *entry = json_pack("{s:I,s:i,s:{s:s,s:s}}", "index", (json_int_t)index, "status",
                                  422, "error", "code", "invalid_event", "message",
                                  reason != NULL ? reason : "invalid event");
        free(reason);
        return entry;
    }
    size_t position = batch->event_count;
    if (ingest_batch_add_event(batch, &record) != 0) {
        event_record_clear(&record);
        return json_pack("{s:I,s:i,s:{s:s,s:s}}", "index", (json_int_t)index, "status", 503,
                         "error", "code", "unavailable", "message", "out of memory");
    }
    return json_pack("{s:I,s:I}", "index", (json_int_t)index, "batch", (json_int_t)position);
}

void rest_events_post(const struct rest_request *request, struct rest_response *response,
                      struct ingest_batch *batch)
{
    static const char *const allowed[] = {NULL};
    if (!rest_params_only(request, response, allowed) || !rest_json_body(request, response)) {
        return;
    }
    json_error_t jerr;
    json_t *body = json_loadb(request->body, request->body_len,
                              JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (body == NULL) {
        rest_error(response, 400, "bad_request", NULL,
                   "the body is not valid JSON: %s (line %d, column %d)", jerr.text, jerr.line,
                   jerr.column);
        return;
    }
    bool many = json_is_array(body);
    if (many && json_array_size(body) == 0) {
        json_decref(body);
        rest_error(response, 422, "invalid_event", NULL, "an empty array carries no events");
        return;
    }
    response->items = json_array();
    if (many) {
        size_t i;
        json_t *item;
        json_array_foreach(body, i, item)
        {
            json_array_append_new(response->items, take_item(request->daemon, item, i, batch));
        }
    } else {
        json_array_append_new(response->items, take_item(request->daemon, body, 0, batch));
    }
    json_decref(body);
    json_t *only = json_array_get(response->items, 0);
    if (!many && json_object_get(only, "error") != NULL) {
        json_t *error = json_object_get(only, "error");
        rest_error(response, (int)json_integer_value(json_object_get(only, "status")),
                   json_string_value(json_object_get(error, "code")), NULL, "%s",
                   json_string_value(json_object_get(error, "message")));
        return;
    }
    response->status = many ? 207 : 201;
    /* with items to store, commit first; otherwise answer now */
    response->commit = batch->event_count > 0;
    if (!response->commit) {
        rest_events_answer(response, batch);
    }
}

void rest_events_answer(struct rest_response *response, const struct ingest_batch *batch)
{
    if (batch->event_count > 0 && batch->result == STORE_REJECTED) {
        /* the database refused the data: the same request would be refused again */
        json_decref(response->items);
        response->items = NULL;
        rest_error(response, 500, "internal", NULL,
                   "the database refused the events; nothing was stored (see the daemon's log)");
        return;
    }
    if (batch->event_count > 0 && batch->result != STORE_OK) {
        json_decref(response->items);
        response->items = NULL;
        rest_error(response, 503, "unavailable", NULL,
                   "the events could not be stored right now; nothing was stored, retry");
        return;
    }
    json_t *results = json_array();
    size_t i;
    json_t *item;
    json_array_foreach(response->items, i, item)
    {
        json_t *position = json_object_get(item, "batch");
        if (position == NULL) {
            json_array_append(results, item);
            continue;
        }
        const struct event_record *e = &batch->events[json_integer_value(position)];
        json_t *entry =
            json_pack("{s:I,s:i,s:s}", "index", (json_int_t)i, "status", e->duplicate ? 200 : 201,
                      "result", e->duplicate ? "duplicate" : "stored");
        if (entry != NULL && !e->duplicate) {
            json_object_set_new(entry, "id", json_integer(e->id));
        }
        json_array_append_new(results, entry);
    }
    if (response->status == 201) {
        /* one event: its own answer */
        json_t *only = json_incref(json_array_get(results, 0));
        json_decref(results);
        int status = (int)json_integer_value(json_object_get(only, "status"));
        json_object_del(only, "index");
        json_object_del(only, "status");
        rest_ok(response, status, only);
        return;
    }
    rest_ok(response, 207, json_pack("{s:o}", "results", results));
}
