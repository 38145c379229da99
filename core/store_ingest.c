/*
 * store_ingest.c - writes one ingest batch in one transaction.
 *
 * Each step is one set-based statement whose rows arrive as a single jsonb parameter
 * (jsonb_to_recordset), and nothing is ever spliced into SQL text. The statements go in
 * libpq pipelines, so that a batch costs as few round trips as its steps allow: the common
 * batch (events whose leads carry an email, their deliveries, a poll's checkpoints) costs
 * two. First the events already stored are found; then, in one implicit transaction, the
 * leads of the new ones are upserted, identities recorded, the events inserted with their
 * lead (joined by email in the statement itself) and their deliveries (the outbox), and
 * checkpoints saved. A batch that also needs answers between steps - leads named by id,
 * leads known only by an identity, meetings - runs in an explicit transaction and takes a
 * few more round trips for those steps.
 *
 * Leads come before events so that an event row is written once, with its lead_id, rather
 * than inserted and then updated; store_leads.c resolves them (store_batch.h). Every statement
 * takes its rows ORDER BY their key, so two writers locking overlapping rows lock them in the same
 * order (no deadlocks); rows with the same key are merged here first, since one statement may not
 * update a row twice.
 */
#include <stdlib.h>
#include <string.h>

#include "rowset.h"
#include "router.h"
#include "store_batch.h"
#include "util.h"

static const char sql_existing[] =
    "SELECT k.i FROM jsonb_to_recordset($1::jsonb) AS k(i int, source text, source_id text, "
    "type text) JOIN events e ON e.source = k.source AND e.source_id = k.source_id AND "
    "e.type = k.type";

/*
 * The events, each with its lead (by id, or by the email the upsert before it wrote), and
 * in the same statement the outbox: a delivery for each (event, destination) of $2 whose
 * event this statement inserted - never one for an event stored before, nor for a payment
 * another event of its source reported first (same payment_key).
 */
static const char sql_events_insert[] =
    "WITH ins AS (INSERT INTO events (source, source_id, type, occurred_at, lead_id, payload, "
    "payment_key) "
    "SELECT r.source, r.source_id, r.type, r.occurred_at, coalesce(r.lead_id, l.id), r.payload, "
    "r.payment_key FROM jsonb_to_recordset($1::jsonb) AS r(source text, source_id text, "
    "type text, occurred_at timestamptz, lead_id bigint, email text, payload jsonb, "
    "payment_key text) "
    "LEFT JOIN leads l ON l.email = r.email "
    "ORDER BY r.source, r.source_id, r.type "
    /* any arbiter: the idempotency key, or a payment another event reported (0010) */
    "ON CONFLICT DO NOTHING "
    "RETURNING id, source, source_id, type, lead_id), "
    "outbox AS (INSERT INTO deliveries (event_id, destination, route, lead_id, "
    "next_attempt_at) "
    "SELECT ins.id, d.destination, d.route, ins.lead_id, "
    "now() + coalesce(d.settle_ms, 0) * interval '1 millisecond' FROM ins "
    "JOIN jsonb_to_recordset($2::jsonb) AS d(source text, source_id text, type text, "
    "destination text, route text, settle_ms bigint) ON d.source = ins.source AND "
    "d.source_id = ins.source_id "
    "AND d.type = ins.type ORDER BY ins.id, d.destination "
    "ON CONFLICT ON CONSTRAINT deliveries_event_destination DO NOTHING) "
    "SELECT id, source, source_id, type, lead_id FROM ins";

/*
 * A meeting's status (migration 0013): an outcome the event states (canceled, held,
 * no_show) is taken; a start that moved makes it rescheduled, the start before kept; a
 * plain re-send of the calendar entry ("scheduled", the default) keeps what is known of it
 * (held, no-show, rescheduled), so that a calendar sync never undoes a CRM's outcome nor
 * the hub's own.
 */
#define MEETING_MOVED                                                                              \
    "(m.starts_at IS NOT NULL AND EXCLUDED.starts_at IS NOT NULL AND "                             \
    "EXCLUDED.starts_at <> m.starts_at AND EXCLUDED.status IN ('scheduled', 'rescheduled'))"
#define MEETING_STATUS                                                                             \
    "CASE WHEN EXCLUDED.status IN ('canceled', 'held', 'no_show') THEN EXCLUDED.status "           \
    "WHEN " MEETING_MOVED " OR EXCLUDED.status = 'rescheduled' THEN 'rescheduled' "                \
    "WHEN m.status IN ('held', 'no_show', 'rescheduled') THEN m.status ELSE 'scheduled' END"

static const char sql_meetings_upsert[] =
    "INSERT INTO meetings AS m (source, external_id, title, starts_at, ends_at, timezone, "
    "organizer_email, organizer_name, location, online_url, status, lead_id, last_event_at) "
    "SELECT r.source, r.external_id, r.title, r.starts_at, r.ends_at, r.timezone, "
    "r.organizer_email, r.organizer_name, r.location, r.online_url, r.status, r.lead_id, "
    "r.last_event_at FROM jsonb_to_recordset($1::jsonb) AS r(source text, external_id text, "
    "title text, starts_at timestamptz, ends_at timestamptz, timezone text, "
    "organizer_email text, organizer_name text, location text, online_url text, status text, "
    "lead_id bigint, last_event_at timestamptz) "
    "ORDER BY r.source, r.external_id "
    "ON CONFLICT (source, external_id) DO UPDATE SET "
    "title = coalesce(EXCLUDED.title, m.title), "
    "starts_at = coalesce(EXCLUDED.starts_at, m.starts_at), "
    "ends_at = coalesce(EXCLUDED.ends_at, m.ends_at), "
    "timezone = coalesce(EXCLUDED.timezone, m.timezone), "
    "organizer_email = coalesce(EXCLUDED.organizer_email, m.organizer_email), "
    "organizer_name = coalesce(EXCLUDED.organizer_name, m.organizer_name), "
    "location = coalesce(EXCLUDED.location, m.location), "
    "online_url = coalesce(EXCLUDED.online_url, m.online_url), "
    "status = " MEETING_STATUS ", "
    "previous_starts_at = CASE WHEN " MEETING_MOVED " THEN m.starts_at "
    "ELSE m.previous_starts_at END, "
    "lead_id = coalesce(EXCLUDED.lead_id, m.lead_id), "
    "last_event_at = EXCLUDED.last_event_at, updated_at = now() "
    /* an older event arriving late does not undo a newer one */
    "WHERE m.last_event_at <= EXCLUDED.last_event_at "
    "RETURNING m.id, m.source, m.external_id";

static const char sql_attendees_delete[] =
    "DELETE FROM meeting_attendees WHERE meeting_id IN "
    "(SELECT x::bigint FROM jsonb_array_elements_text($1::jsonb) AS x)";

static const char sql_attendees_insert[] =
    "INSERT INTO meeting_attendees (meeting_id, email, name, response, lead_id) "
    "SELECT r.meeting_id, r.email, r.name, r.response, l.id "
    "FROM jsonb_to_recordset($1::jsonb) AS r(meeting_id bigint, email text, name text, "
    "response text) LEFT JOIN leads l ON l.email = r.email "
    "ORDER BY r.meeting_id, r.email "
    "ON CONFLICT (meeting_id, email) DO NOTHING";

static const char sql_checkpoints_upsert[] =
    "INSERT INTO connector_state AS c (instance, key, value) "
    "SELECT r.instance, r.key, coalesce(r.value, 'null'::jsonb) "
    "FROM jsonb_to_recordset($1::jsonb) AS r(instance text, key text, value jsonb) "
    "ORDER BY r.instance, r.key "
    "ON CONFLICT (instance, key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()";

/* Every statement of a batch, prepared on a connection before its first pipeline. */
static const struct {
    const char *name;
    const char *sql;
    int nparams;
} statements[] = {
    {"ingest_existing", sql_existing, 1},
    {"ingest_events", sql_events_insert, 2},
    {"ingest_meetings", sql_meetings_upsert, 1},
    {"ingest_checkpoints", sql_checkpoints_upsert, 1},
    {"ingest_notifications_remove", store_sql_notifications_remove, 1},
    {"ingest_notifications_put", store_sql_notifications_put, 2},
    {"ingest_fence", "SELECT leadhub_poll_fence_check($1, $2::bigint)", 2},
};

static enum store_result prepare_statements(struct store *store, char **error_out)
{
    for (size_t i = 0; i < UTIL_ARRAY_LEN(statements); i++) {
        enum store_result rc = store_prepare(store, statements[i].name, statements[i].sql,
                                             statements[i].nparams, error_out);
        if (rc != STORE_OK) {
            return rc;
        }
    }
    enum store_result rc = store_leads_prepare(store, error_out);
    return rc == STORE_OK ? store_erasure_prepare(store, error_out) : rc;
}

/* --- the events by key (source, source_id, type) ------------------------------------------ */

static uint64_t key_hash(const char *source, const char *source_id, const char *type)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a, with \x1f between the parts */
    const char *parts[] = {source, source_id, type};
    for (size_t p = 0; p < 3; p++) {
        for (const char *c = parts[p]; *c != '\0'; c++) {
            h = (h ^ (unsigned char)*c) * 1099511628211ULL;
        }
        h = (h ^ 0x1f) * 1099511628211ULL;
    }
    return h;
}

static bool key_equal(const struct event_record *e, const char *source, const char *source_id,
                      const char *type)
{
    return strcmp(e->source_id, source_id) == 0 && strcmp(e->type, type) == 0 &&
           strcmp(e->source, source) == 0;
}

/* The batch index of the first event with this key, or -1. */
static long key_find(const struct batch *b, const char *source, const char *source_id,
                     const char *type)
{
    size_t i = key_hash(source, source_id, type) & b->slot_mask;
    while (b->slots[i] != 0) {
        size_t index = b->slots[i] - 1;
        if (key_equal(&b->events[index], source, source_id, type)) {
            return (long)index;
        }
        i = (i + 1) & b->slot_mask;
    }
    return -1;
}

/* Indexes the events by key; a later copy of a key is skipped (reported as a duplicate,
 * as the provider's redelivery it is). -1 when out of memory. */
static int key_index(struct batch *b)
{
    size_t size = 8;
    while (size < 2 * b->count) {
        size *= 2;
    }
    if ((b->slots = calloc(size, sizeof(*b->slots))) == NULL) {
        return -1;
    }
    b->slot_mask = size - 1;
    for (size_t n = 0; n < b->count; n++) {
        const struct event_record *e = &b->events[n];
        size_t i = key_hash(e->source, e->source_id, e->type) & b->slot_mask;
        while (b->slots[i] != 0 &&
               !key_equal(&b->events[b->slots[i] - 1], e->source, e->source_id, e->type)) {
            i = (i + 1) & b->slot_mask;
        }
        if (b->slots[i] != 0) {
            b->skip[n] = true;
        } else {
            b->slots[i] = n + 1;
        }
    }
    return 0;
}

/* --- running statements ----------------------------------------------------------------- */

enum store_result store_batch_exec_rows(struct batch *b, const char *name, const char *sql,
                                        const json_t *rows, PGresult **result_out)
{
    char *text = json_dumps(rows, JSON_COMPACT | JSON_ENCODE_ANY);
    if (text == NULL) {
        b->error = strdup("out of memory");
        return STORE_UNAVAILABLE;
    }
    const char *params[] = {text};
    enum store_result rc = store_exec(b->store, name, sql, 1, params, result_out, &b->error);
    free(text);
    return rc;
}

enum store_result store_batch_send_texts(struct batch *b, const char *name, int count,
                                         const char *const *texts)
{
    for (int i = 0; i < count; i++) {
        if (texts[i] == NULL) {
            b->error = strdup("out of memory");
            return STORE_UNAVAILABLE;
        }
    }
    return store_pipeline_send(b->store, name, count, texts, &b->error);
}

/* Queues `name` with the JSON text of `rows` (borrowed) as $1. */
static enum store_result send_json_rows(struct batch *b, const char *name, const json_t *rows)
{
    char *text = json_dumps(rows, JSON_COMPACT | JSON_ENCODE_ANY);
    const char *params[] = {text};
    enum store_result rc = store_batch_send_texts(b, name, 1, params);
    free(text);
    return rc;
}

/* The values of an object merged by key, as an array (each value's `member` when it is
 * non-NULL). NEW reference, or NULL when out of memory. */
static json_t *merged_rows(const json_t *by_key, const char *member)
{
    json_t *rows = json_array();
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)by_key, key, value)
    {
        json_t *row = member != NULL ? json_object_get(value, member) : value;
        if (rows == NULL || json_array_append(rows, row) != 0) {
            json_decref(rows);
            return NULL;
        }
    }
    return rows;
}

enum store_result store_batch_send_merged(struct batch *b, const char *name, const json_t *by_key)
{
    if (json_object_size(by_key) == 0) {
        return STORE_OK;
    }
    json_t *rows = merged_rows(by_key, NULL);
    enum store_result rc = rows != NULL ? send_json_rows(b, name, rows) : STORE_UNAVAILABLE;
    json_decref(rows);
    return rc;
}

/* Sends the queued statements and waits: results[0..count) as store_pipeline_sync(). */
static enum store_result sync_pipeline(struct batch *b, PGresult **results, size_t count)
{
    return store_pipeline_sync(b->store, results, count, &b->error);
}

static int64_t parse_id(const char *text)
{
    return strtoll(text, NULL, 10);
}

/* Queues the query for the events stored before this batch. */
static enum store_result send_find_existing(struct batch *b)
{
    struct rowset rows = {0};
    for (size_t i = 0; i < b->count; i++) {
        if (b->skip[i]) {
            continue;
        }
        rowset_row(&rows);
        rowset_int(&rows, "i", (int64_t)i);
        rowset_string(&rows, "source", b->events[i].source);
        rowset_string(&rows, "source_id", b->events[i].source_id);
        rowset_string(&rows, "type", b->events[i].type);
    }
    const char *params[] = {rowset_text(&rows)};
    enum store_result rc = store_batch_send_texts(b, "ingest_existing", 1, params);
    rowset_free(&rows);
    return rc;
}

static void mark_existing(struct batch *b, const PGresult *result)
{
    for (int row = 0; result != NULL && row < PQntuples(result); row++) {
        long i = strtol(PQgetvalue(result, row, 0), NULL, 10);
        if (i >= 0 && (size_t)i < b->count) {
            b->skip[i] = true;
        }
    }
}

struct outbox {
    struct rowset *rows;
    const struct router *router;
    const struct event_record *event;
    json_t *destinations;
};

static void add_delivery(const char *route, const char *destination, void *arg)
{
    struct outbox *o = arg;
    rowset_row(o->rows);
    rowset_string(o->rows, "source", o->event->source);
    rowset_string(o->rows, "source_id", o->event->source_id);
    rowset_string(o->rows, "type", o->event->type);
    rowset_string(o->rows, "destination", destination);
    rowset_string(o->rows, "route", route);
    int64_t settle_ms = router_settle_ms(o->router, route);
    if (settle_ms > 0) {
        rowset_int(o->rows, "settle_ms", settle_ms);
    }
    if (o->destinations != NULL) {
        json_object_set_new(o->destinations, destination, json_true());
    }
}

/* Queues the events not stored yet, with a delivery for every destination a route sends
 * each to (the outbox). */
static enum store_result send_events(struct batch *b, const struct router *router,
                                     json_t *destinations)
{
    struct rowset rows = {0};
    struct rowset deliveries = {0};
    struct outbox o = {.rows = &deliveries, .router = router, .destinations = destinations};
    for (size_t i = 0; i < b->count; i++) {
        const struct event_record *e = &b->events[i];
        if (b->skip[i]) {
            continue;
        }
        char occurred_at[32];
        util_format_rfc3339(e->occurred_at_ms, occurred_at);
        rowset_row(&rows);
        rowset_string(&rows, "source", e->source);
        rowset_string(&rows, "source_id", e->source_id);
        rowset_string(&rows, "type", e->type);
        rowset_string(&rows, "occurred_at", occurred_at);
        if (e->lead_id != 0) {
            rowset_int(&rows, "lead_id", e->lead_id);
        } else {
            rowset_string(&rows, "email", e->lead_email);
        }
        rowset_json(&rows, "payload", e->event);
        rowset_string(&rows, "payment_key", e->payment_key);
        if (router_count(router) > 0) {
            o.event = e;
            router_match(router, e->event, -1, add_delivery, &o);
        }
    }
    enum store_result rc = STORE_OK;
    if (rows.count > 0) {
        const char *params[] = {rowset_text(&rows), rowset_text(&deliveries)};
        rc = store_batch_send_texts(b, "ingest_events", 2, params);
        b->events_sent = rc == STORE_OK;
    }
    rowset_free(&deliveries);
    rowset_free(&rows);
    return rc;
}

/* The inserted events' ids and leads; every other event is a duplicate. */
static void mark_inserted(struct batch *b, const PGresult *result)
{
    for (size_t i = 0; i < b->count; i++) {
        b->events[i].duplicate = true;
    }
    for (int row = 0; result != NULL && row < PQntuples(result); row++) {
        long i = key_find(b, PQgetvalue(result, row, 1), PQgetvalue(result, row, 2),
                          PQgetvalue(result, row, 3));
        if (i < 0) {
            continue;
        }
        struct event_record *e = &b->events[i];
        e->id = parse_id(PQgetvalue(result, row, 0));
        e->lead_id = PQgetisnull(result, row, 4) ? 0 : parse_id(PQgetvalue(result, row, 4));
        e->duplicate = false;
    }
}

static json_t *meeting_row(const struct event_record *e, const json_t *meeting)
{
    char last_event_at[32];
    util_format_rfc3339(e->occurred_at_ms, last_event_at);
    json_t *row = json_pack("{s:s,s:O,s:s,s:s}", "source", e->source, "external_id",
                            json_object_get(meeting, "external_id"), "status",
                            json_string_value(json_object_get(meeting, "status")), "last_event_at",
                            last_event_at);
    if (row == NULL) {
        return NULL;
    }
    static const char *const copied[] = {"title",    "starts_at", "ends_at",
                                         "timezone", "location",  "online_url"};
    for (size_t f = 0; f < UTIL_ARRAY_LEN(copied); f++) {
        json_t *value = json_object_get(meeting, copied[f]);
        if (value != NULL) {
            json_object_set(row, copied[f], value);
        }
    }
    const json_t *organizer = json_object_get(meeting, "organizer");
    if (organizer != NULL) {
        json_t *email = json_object_get(organizer, "email");
        json_t *name = json_object_get(organizer, "name");
        if (email != NULL) {
            json_object_set(row, "organizer_email", email);
        }
        if (name != NULL) {
            json_object_set(row, "organizer_name", name);
        }
    }
    if (e->lead_id != 0) {
        json_object_set_new(row, "lead_id", json_integer(e->lead_id));
    }
    return row;
}

static enum store_result upsert_meetings(struct batch *b)
{
    /* key -> {row, attendees, at}; the newest event per meeting wins within the batch */
    json_t *by_key = json_object();
    json_t *rows = NULL;
    json_t *replaced = json_array();
    json_t *attendee_rows = json_array();
    PGresult *result = NULL;
    enum store_result rc = STORE_UNAVAILABLE;
    if (by_key == NULL || replaced == NULL || attendee_rows == NULL) {
        goto out;
    }
    for (size_t i = 0; i < b->count; i++) {
        struct event_record *e = &b->events[i];
        const json_t *meeting = json_object_get(e->event, "meeting");
        if (e->duplicate || meeting == NULL) {
            continue;
        }
        char *key = util_printf("%s\x1f%s", e->source,
                                json_string_value(json_object_get(meeting, "external_id")));
        if (key == NULL) {
            goto out;
        }
        json_t *entry = json_object_get(by_key, key);
        if (entry == NULL ||
            json_integer_value(json_object_get(entry, "at")) <= e->occurred_at_ms) {
            json_t *row = meeting_row(e, meeting);
            json_t *fresh =
                row ? json_pack("{s:o,s:I}", "row", row, "at", (json_int_t)e->occurred_at_ms)
                    : NULL;
            if (fresh == NULL) {
                free(key);
                goto out;
            }
            json_t *attendees = json_object_get(meeting, "attendees");
            if (attendees != NULL) {
                json_object_set(fresh, "attendees", attendees);
            }
            json_object_set_new(by_key, key, fresh);
        }
        free(key);
    }
    if (json_object_size(by_key) == 0) {
        rc = STORE_OK;
        goto out;
    }
    if ((rows = merged_rows(by_key, "row")) == NULL) {
        goto out;
    }
    rc = store_batch_exec_rows(b, "ingest_meetings", sql_meetings_upsert, rows, &result);
    if (rc != STORE_OK) {
        goto out;
    }
    for (int row = 0; row < PQntuples(result); row++) {
        char *row_key =
            util_printf("%s\x1f%s", PQgetvalue(result, row, 1), PQgetvalue(result, row, 2));
        json_t *matched = row_key ? json_object_get(by_key, row_key) : NULL;
        free(row_key);
        json_t *attendees = json_object_get(matched, "attendees");
        if (attendees == NULL) {
            continue; /* the event said nothing about attendees: keep them */
        }
        json_int_t meeting_id = parse_id(PQgetvalue(result, row, 0));
        json_array_append_new(replaced, json_integer(meeting_id));
        size_t a;
        json_t *attendee;
        json_array_foreach(attendees, a, attendee)
        {
            json_t *attendee_row = json_pack("{s:I,s:O}", "meeting_id", meeting_id, "email",
                                             json_object_get(attendee, "email"));
            if (attendee_row == NULL) {
                rc = STORE_UNAVAILABLE;
                goto out;
            }
            json_t *name = json_object_get(attendee, "name");
            json_t *response = json_object_get(attendee, "response");
            if (name != NULL) {
                json_object_set(attendee_row, "name", name);
            }
            if (response != NULL) {
                json_object_set(attendee_row, "response", response);
            }
            json_array_append_new(attendee_rows, attendee_row);
        }
    }
    if (json_array_size(replaced) > 0) {
        rc = store_batch_exec_rows(b, "ingest_attendees_delete", sql_attendees_delete, replaced,
                                   NULL);
        if (rc == STORE_OK && json_array_size(attendee_rows) > 0) {
            rc = store_batch_exec_rows(b, "ingest_attendees_insert", sql_attendees_insert,
                                       attendee_rows, NULL);
        }
    }
out:
    if (result != NULL) {
        PQclear(result);
    }
    json_decref(attendee_rows);
    json_decref(replaced);
    json_decref(rows);
    json_decref(by_key);
    return rc;
}

/* Queues the checkpoints; the last put of a key wins. */
static enum store_result send_checkpoints(struct batch *b, struct store_checkpoint *checkpoints,
                                          size_t count)
{
    if (count == 0) {
        return STORE_OK;
    }
    json_t *by_key = json_object();
    enum store_result rc = STORE_UNAVAILABLE;
    if (by_key == NULL) {
        goto out;
    }
    for (size_t i = 0; i < count; i++) {
        char *key = util_printf("%s\x1f%s", checkpoints[i].instance, checkpoints[i].key);
        json_t *row = json_pack("{s:s,s:s,s:O}", "instance", checkpoints[i].instance, "key",
                                checkpoints[i].key, "value", checkpoints[i].value);
        if (key == NULL || row == NULL) {
            free(key);
            json_decref(row);
            goto out;
        }
        int added = json_object_set_new(by_key, key, row);
        free(key);
        if (added != 0) {
            goto out;
        }
    }
    rc = store_batch_send_merged(b, "ingest_checkpoints", by_key);
out:
    json_decref(by_key);
    return rc;
}

/* Queues the removal of the notifications a poll took, then the puts and the wakes (in
 * that order: a poll that puts back a key it took keeps it pending). */
static enum store_result send_notifications(struct batch *b, const struct store_writes *writes)
{
    if (writes == NULL) {
        return STORE_OK;
    }
    enum store_result rc = STORE_OK;
    if (writes->taken_count > 0) {
        json_t *rows = store_taken_rows(writes->taken, writes->taken_count);
        rc = rows != NULL ? send_json_rows(b, "ingest_notifications_remove", rows)
                          : STORE_UNAVAILABLE;
        json_decref(rows);
        if (rc != STORE_OK) {
            return rc;
        }
    }
    if (writes->notification_count == 0 && writes->wake_count == 0) {
        return STORE_OK;
    }
    json_t *rows = store_notification_rows(writes->notifications, writes->notification_count);
    json_t *wake = json_array();
    for (size_t i = 0; wake != NULL && i < writes->wake_count; i++) {
        if (json_array_append_new(wake, json_string(writes->wake[i])) != 0) {
            json_decref(wake);
            wake = NULL;
        }
    }
    char *rows_text = rows != NULL ? json_dumps(rows, JSON_COMPACT) : NULL;
    char *wake_text = wake != NULL ? json_dumps(wake, JSON_COMPACT) : NULL;
    const char *params[] = {rows_text, wake_text};
    rc = store_batch_send_texts(b, "ingest_notifications_put", 2, params);
    free(rows_text);
    free(wake_text);
    json_decref(rows);
    json_decref(wake);
    return rc;
}

static void reset_results(struct event_record *events, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        events[i].id = 0;
        events[i].lead_id = 0;
        events[i].duplicate = false;
    }
}

/* Whether the batch needs answers between its steps (an explicit transaction): leads named
 * by id or carrying an identity, and meetings. A batch of leads known by email alone (a
 * form's, an internal system's) takes two round trips. */
static bool needs_steps(const struct batch *b)
{
    for (size_t i = 0; i < b->count; i++) {
        const json_t *event = b->events[i].event;
        if (json_object_get(event, "meeting") != NULL ||
            store_leads_need_steps(json_object_get(event, "lead"))) {
            return true;
        }
    }
    return false;
}

static bool has_meetings(const struct batch *b)
{
    for (size_t i = 0; i < b->count; i++) {
        if (!b->skip[i] && json_object_get(b->events[i].event, "meeting") != NULL) {
            return true;
        }
    }
    return false;
}

/*
 * The batch write. With own_transaction false it runs inside the caller's transaction;
 * otherwise a batch without steps is one implicit transaction (the second sync commits
 * it), and one with steps is wrapped in BEGIN ... COMMIT.
 */
static enum store_result write_batch(struct store *store, struct event_record *events,
                                     size_t event_count, const struct store_writes *writes,
                                     const struct router *router, json_t *destinations,
                                     bool own_transaction, char **error_out)
{
    struct store_checkpoint *checkpoints = writes != NULL ? writes->checkpoints : NULL;
    const struct store_fence *fence = writes != NULL ? writes->fence : NULL;
    size_t checkpoint_count = writes != NULL ? writes->checkpoint_count : 0;
    bool state_writes =
        writes != NULL && (writes->checkpoint_count > 0 || writes->notification_count > 0 ||
                           writes->taken_count > 0 || writes->wake_count > 0);
    struct batch b = {.store = store, .events = events, .count = event_count};
    enum store_result rc = STORE_UNAVAILABLE;
    PGresult *existing = NULL;
    PGresult *inserted = NULL;
    bool explicit_transaction = false; /* BEGIN sent here, COMMIT to send */
    bool pipeline = false;

    if (error_out != NULL) {
        *error_out = NULL;
    }
    reset_results(events, event_count);
    if (event_count == 0 && !state_writes) {
        return STORE_OK;
    }
    b.skip = calloc(event_count + 1, sizeof(*b.skip));
    b.by_id = calloc(event_count + 1, sizeof(*b.by_id));
    if (b.skip == NULL || b.by_id == NULL || key_index(&b) != 0) {
        b.error = strdup("out of memory");
        goto out;
    }
    if ((rc = prepare_statements(store, &b.error)) != STORE_OK ||
        (rc = store_pipeline_begin(store, &b.error)) != STORE_OK) {
        goto out;
    }
    pipeline = true;
    /* a caller's transaction holds the steps already; ours needs BEGIN around them */
    bool steps = needs_steps(&b);
    explicit_transaction = own_transaction && steps;

    /* 1: which events are stored already (their leads must not take their fields again) */
    if (explicit_transaction &&
        (rc = store_pipeline_send_command(store, "BEGIN", &b.error)) != STORE_OK) {
        goto out;
    }
    if (event_count > 0 && (rc = send_find_existing(&b)) != STORE_OK) {
        goto out;
    }
    if (event_count > 0) {
        PGresult *first[2] = {NULL, NULL};
        rc = sync_pipeline(&b, first, 2);
        existing = first[explicit_transaction ? 1 : 0];
        PQclear(first[explicit_transaction ? 0 : 1]);
        if (rc != STORE_OK) {
            goto out;
        }
        mark_existing(&b, existing);
    }

    /* 2: leads that need answers first (named by id, or carrying an identity) */
    if (steps) {
        store_pipeline_end(store);
        pipeline = false;
        if ((rc = store_leads_resolve(&b)) != STORE_OK ||
            (rc = store_pipeline_begin(store, &b.error)) != STORE_OK) {
            goto out;
        }
        pipeline = true;
    }

    /* 3: leads by email, identities, events and their deliveries, other addresses, events
     * that waited for their lead, checkpoints, notifications; a poll's batch first checks
     * (and holds) its lease, in the same transaction */
    bool meetings = has_meetings(&b);
    if (fence != NULL) {
        char token[24];
        snprintf(token, sizeof(token), "%lld", (long long)fence->fence);
        const char *params[] = {fence->instance, token};
        if ((rc = store_batch_send_texts(&b, "ingest_fence", 2, params)) != STORE_OK) {
            goto out;
        }
    }
    size_t events_at = 0;
    if ((rc = store_leads_send(&b)) != STORE_OK) {
        goto out;
    }
    events_at = store_pipeline_pending(store);
    if ((rc = send_events(&b, router, destinations)) != STORE_OK ||
        (rc = store_leads_send_after_events(&b)) != STORE_OK ||
        (rc = store_erasure_send(&b)) != STORE_OK ||
        (rc = send_checkpoints(&b, checkpoints, checkpoint_count)) != STORE_OK ||
        (rc = send_notifications(&b, writes)) != STORE_OK) {
        goto out;
    }
    if (explicit_transaction && !meetings &&
        (rc = store_pipeline_send_command(store, "COMMIT", &b.error)) != STORE_OK) {
        goto out;
    }
    /* The events insert's rows say which events are new: found by its place in the
     * pipeline, as the fence check before it and the notifications' NOTIFY select after it
     * return rows too. Fewer than 16 statements come before it (a fence check, two for
     * leads). */
    PGresult *results[16] = {NULL};
    rc = sync_pipeline(&b, results, UTIL_ARRAY_LEN(results));
    for (size_t i = 0; i < UTIL_ARRAY_LEN(results); i++) {
        if (b.events_sent && i == events_at) {
            inserted = results[i];
        } else {
            PQclear(results[i]);
        }
    }
    store_pipeline_end(store);
    pipeline = false;
    if (rc != STORE_OK) {
        goto out;
    }
    mark_inserted(&b, inserted);

    /* 4: meetings, which need the events' leads and whether they were new */
    if (meetings) {
        if ((rc = upsert_meetings(&b)) != STORE_OK ||
            (explicit_transaction && (rc = store_commit(store, &b.error)) != STORE_OK)) {
            goto out;
        }
    }
out:
    if (pipeline) {
        store_pipeline_end(store);
    }
    PQclear(existing);
    PQclear(inserted);
    if (rc != STORE_OK) {
        /* An implicit transaction rolled back by itself; BEGIN's is rolled back here; a
         * caller's transaction is the caller's to roll back. */
        if (own_transaction) {
            store_rollback(store);
        }
        reset_results(events, event_count);
        if (b.error == NULL) {
            b.error = strdup("out of memory");
        }
    }
    if (error_out != NULL) {
        *error_out = b.error;
    } else {
        free(b.error);
    }
    free(b.slots);
    free(b.by_id);
    free(b.skip);
    return rc;
}

enum store_result store_write_batch(struct store *store, struct event_record *events,
                                    size_t event_count, const struct store_writes *writes,
                                    const struct router *router, json_t *destinations,
                                    char **error_out)
{
    return write_batch(store, events, event_count, writes, router, destinations, true, error_out);
}

enum store_result store_write_events(struct store *store, struct event_record *events,
                                     size_t event_count, const struct router *router,
                                     json_t *destinations, char **error_out)
{
    return write_batch(store, events, event_count, NULL, router, destinations, false, error_out);
}
