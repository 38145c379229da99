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
 * than inserted and then updated. Every statement takes its rows ORDER BY their key, so
 * two writers locking overlapping rows lock them in the same order (no deadlocks); rows
 * with the same key are merged here first, since one statement may not update a row twice.
 */
#include <stdlib.h>
#include <string.h>

#include "rowset.h"
#include "router.h"
#include "store_pg.h"
#include "util.h"

static const char sql_existing[] =
    "SELECT k.i FROM jsonb_to_recordset($1::jsonb) AS k(i int, source text, source_id text, "
    "type text) JOIN events e ON e.source = k.source AND e.source_id = k.source_id AND "
    "e.type = k.type";

/*
 * Lead fields in event time order (migration 0006): what an event newer than the lead's
 * fields_at carries overwrites; what an older one carries only fills gaps. NEW_FIELDS is
 * the test, FIELD(target, new) one column, for the upsert (l, EXCLUDED) and the updates by
 * id (the table, parameters).
 */
#define FIELD_NEWER(target, at) "(" target "fields_at IS NULL OR " at " >= " target "fields_at)"
#define FIELD(target, name, value, at)                                                             \
    name " = CASE WHEN " FIELD_NEWER(target, at) " THEN coalesce(" value ", " target name          \
                                                 ") ELSE coalesce(" target name ", " value         \
                                                 ") END, "
#define FIELD_ATTRIBUTES(target, value, at)                                                        \
    "attributes = CASE WHEN " FIELD_NEWER(                                                         \
        target, at) " THEN " target "attributes || " value " ELSE " value " || " target            \
                    "attributes END, fields_at = greatest(" target "fields_at, " at "), "
#define FIELDS_BY_ID(at)                                                                           \
    FIELD("", "first_name", "$2", at)                                                              \
    FIELD("", "last_name", "$3", at)                                                               \
    FIELD("", "company", "$4", at)                                                                 \
    FIELD("", "title", "$5", at)                                                                   \
    FIELD("", "phone", "$6", at)                                                                   \
    FIELD("", "linkedin_url", "$7", at)                                                            \
    FIELD_ATTRIBUTES("", "coalesce($8::jsonb, '{}'::jsonb)", at)

static const char sql_lead_upsert[] =
    "INSERT INTO leads AS l (email, first_name, last_name, company, title, phone, "
    "linkedin_url, attributes, fields_at) "
    "SELECT r.email, r.first_name, r.last_name, r.company, r.title, r.phone, r.linkedin_url, "
    "coalesce(r.attributes, '{}'::jsonb), r.at "
    "FROM jsonb_to_recordset($1::jsonb) AS r(email text, first_name text, last_name text, "
    "company text, title text, phone text, linkedin_url text, attributes jsonb, "
    "at timestamptz) "
    "ORDER BY r.email "
    "ON CONFLICT (email) DO UPDATE SET " FIELD("l.", "first_name", "EXCLUDED.first_name",
                                               "EXCLUDED.fields_at")
        FIELD("l.", "last_name", "EXCLUDED.last_name", "EXCLUDED.fields_at")
            FIELD("l.", "company", "EXCLUDED.company", "EXCLUDED.fields_at")
                FIELD("l.", "title", "EXCLUDED.title", "EXCLUDED.fields_at")
                    FIELD("l.", "phone", "EXCLUDED.phone", "EXCLUDED.fields_at")
                        FIELD("l.", "linkedin_url", "EXCLUDED.linkedin_url", "EXCLUDED.fields_at")
                            FIELD_ATTRIBUTES("l.", "EXCLUDED.attributes",
                                             "EXCLUDED.fields_at") "updated_at = now()";

static const char sql_identity_lookup[] =
    "SELECT lead_id FROM lead_identities WHERE source = $1 AND external_id = $2";

static const char sql_lead_update_by_id[] =
    "UPDATE leads SET " FIELDS_BY_ID("$9::timestamptz") "updated_at = now() WHERE id = $1";

static const char sql_lead_insert[] =
    "INSERT INTO leads (first_name, last_name, company, title, phone, linkedin_url, attributes, "
    "fields_at) VALUES ($1, $2, $3, $4, $5, $6, coalesce($7::jsonb, '{}'::jsonb), "
    "$8::timestamptz) RETURNING id";

static const char sql_identity_claim[] =
    "INSERT INTO lead_identities (source, external_id, lead_id) VALUES ($1, $2, $3) "
    "ON CONFLICT (source, external_id) DO NOTHING RETURNING lead_id";

static const char sql_lead_delete[] = "DELETE FROM leads WHERE id = $1";

/* A lead first known by an identity alone gets the email when one arrives with that
 * identity, unless another lead has the email already. Rows are unique by email; each lead
 * takes one, so the statement cannot collide with itself on leads' unique email. */
static const char sql_lead_adopt_email[] =
    "UPDATE leads AS l SET email = a.email, updated_at = now() FROM (SELECT DISTINCT ON "
    "(i.lead_id) i.lead_id, r.email FROM jsonb_to_recordset($1::jsonb) AS r(source text, "
    "external_id text, email text) JOIN lead_identities i ON i.source = r.source AND "
    "i.external_id = r.external_id ORDER BY i.lead_id, r.email) a "
    "WHERE l.id = a.lead_id AND l.email IS NULL "
    "AND NOT EXISTS (SELECT 1 FROM leads o WHERE o.email = a.email)";

/* A row names its lead by id, or by the email the lead upsert before it has written. */
static const char sql_identities_insert[] =
    "INSERT INTO lead_identities (source, external_id, lead_id) "
    "SELECT r.source, r.external_id, coalesce(r.lead_id, l.id) FROM jsonb_to_recordset($1::jsonb) "
    "AS r(source text, external_id text, lead_id bigint, email text) "
    "LEFT JOIN leads l ON l.email = r.email "
    "WHERE coalesce(r.lead_id, l.id) IS NOT NULL ORDER BY r.source, r.external_id "
    "ON CONFLICT (source, external_id) DO NOTHING";

/*
 * The events, each with its lead (by id, or by the email the upsert before it wrote), and
 * in the same statement the outbox: a delivery for each (event, destination) of $2 whose
 * event this statement inserted - never one for an event stored before.
 */
static const char sql_events_insert[] =
    "WITH ins AS (INSERT INTO events (source, source_id, type, occurred_at, lead_id, payload) "
    "SELECT r.source, r.source_id, r.type, r.occurred_at, coalesce(r.lead_id, l.id), r.payload "
    "FROM jsonb_to_recordset($1::jsonb) AS r(source text, source_id text, type text, "
    "occurred_at timestamptz, lead_id bigint, email text, payload jsonb) "
    "LEFT JOIN leads l ON l.email = r.email "
    "ORDER BY r.source, r.source_id, r.type "
    "ON CONFLICT ON CONSTRAINT events_idempotency_key DO NOTHING "
    "RETURNING id, source, source_id, type, lead_id), "
    "outbox AS (INSERT INTO deliveries (event_id, destination, route, lead_id) "
    "SELECT ins.id, d.destination, d.route, ins.lead_id FROM ins "
    "JOIN jsonb_to_recordset($2::jsonb) AS d(source text, source_id text, type text, "
    "destination text, route text) ON d.source = ins.source AND d.source_id = ins.source_id "
    "AND d.type = ins.type ORDER BY ins.id, d.destination "
    "ON CONFLICT ON CONSTRAINT deliveries_event_destination DO NOTHING) "
    "SELECT id, source, source_id, type, lead_id FROM ins";

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
    "status = EXCLUDED.status, lead_id = coalesce(EXCLUDED.lead_id, m.lead_id), "
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
    {"ingest_lead_upsert", sql_lead_upsert, 1},
    {"ingest_lead_adopt_email", sql_lead_adopt_email, 1},
    {"ingest_identities", sql_identities_insert, 1},
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
    return STORE_OK;
}

static const char *const lead_fields[] = {"first_name", "last_name", "company",
                                          "title",      "phone",     "linkedin_url"};

/* Everything one batch write allocates, released in one place. */
struct batch {
    struct store *store;
    struct event_record *events;
    size_t count;
    bool *skip;       /* stored before this batch, or a later copy of a key within it */
    bool *by_id;      /* lead resolved through lead.id (an existing lead) */
    size_t *slots;    /* open-addressing index of the events by key: batch index + 1 */
    size_t slot_mask; /* slots has slot_mask + 1 entries */
    char *error;
    bool events_sent; /* the events insert is in the pipeline */
};

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

/* Runs `sql` now with the JSON text of `rows` (borrowed) as $1: for the steps whose answer
 * the next step needs. */
static enum store_result exec_rows(struct batch *b, const char *name, const char *sql,
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

/* Queues prepared statement `name` with `texts` as its parameters (borrowed; libpq copies
 * them). */
static enum store_result send_texts(struct batch *b, const char *name, int count,
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
    enum store_result rc = send_texts(b, name, 1, params);
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

/* Queues `name` with the values of `by_key` (merged by key) as rows; nothing when empty. */
static enum store_result send_merged(struct batch *b, const char *name, const json_t *by_key)
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
    enum store_result rc = send_texts(b, "ingest_existing", 1, params);
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

/* Later events' fields win; attributes merge. */
/*
 * The leads of a batch merged by key (an email, or a lead id), one record each, so that a
 * statement never updates a row twice. A record borrows its field values from the events'
 * JSON (alive for the whole batch) and owns only a merged copy of attributes.
 */
struct lead_record {
    const char *key;   /* the email, or id_text */
    char id_text[24];  /* a named lead's id */
    int64_t id;        /* a named lead's id; 0 for a lead by email */
    const char *email; /* the email column: a lead by email's own, or the first one that
                        * a named lead brings */
    const char *fields[UTIL_ARRAY_LEN(lead_fields)];
    json_t *attributes; /* owned */
    int64_t at_ms;      /* the newest event merged */
    bool exists;        /* a named lead found in the database */
};

struct lead_records {
    struct lead_record *items; /* room for one per event: never moved */
    size_t count;
    size_t *slots; /* item index + 1, by key */
    size_t mask;
};

static int lead_records_init(struct lead_records *records, size_t capacity)
{
    size_t size = 8;
    while (size < 2 * capacity) {
        size *= 2;
    }
    records->items = calloc(capacity + 1, sizeof(*records->items));
    records->slots = calloc(size, sizeof(*records->slots));
    records->count = 0;
    records->mask = size - 1;
    return records->items != NULL && records->slots != NULL ? 0 : -1;
}

static void lead_records_free(struct lead_records *records)
{
    for (size_t i = 0; i < records->count; i++) {
        json_decref(records->items[i].attributes);
    }
    free(records->items);
    free(records->slots);
}

static uint64_t text_hash(const char *text)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *text != '\0'; text++) {
        h = (h ^ (unsigned char)*text) * 1099511628211ULL;
    }
    return h;
}

/* The slot of `key`: its record's, or the empty one where it would go. */
static size_t lead_record_slot(const struct lead_records *records, const char *key)
{
    size_t i = text_hash(key) & records->mask;
    while (records->slots[i] != 0 && strcmp(records->items[records->slots[i] - 1].key, key) != 0) {
        i = (i + 1) & records->mask;
    }
    return i;
}

/* The record of lead `id`, or NULL. */
static struct lead_record *lead_record_find_id(const struct lead_records *records, int64_t id)
{
    char id_text[24];
    snprintf(id_text, sizeof(id_text), "%lld", (long long)id);
    size_t i = lead_record_slot(records, id_text);
    return records->slots[i] != 0 ? &records->items[records->slots[i] - 1] : NULL;
}

/* The record of `key` (an email) or of lead `id` (key NULL), added when new: at most one
 * per event, the capacity lead_records_init() was given. */
static struct lead_record *lead_record_get(struct lead_records *records, const char *key,
                                           int64_t id)
{
    char id_text[24];
    if (key == NULL) {
        snprintf(id_text, sizeof(id_text), "%lld", (long long)id);
        key = id_text;
    }
    size_t i = lead_record_slot(records, key);
    if (records->slots[i] != 0) {
        return &records->items[records->slots[i] - 1];
    }
    struct lead_record *r = &records->items[records->count++];
    records->slots[i] = records->count;
    r->at_ms = INT64_MIN;
    if (key == id_text) {
        memcpy(r->id_text, id_text, sizeof(id_text));
        r->key = r->id_text;
        r->id = id;
    } else {
        r->key = key;
        r->email = key;
    }
    return r;
}

/*
 * Merges one event's lead into its record, in event time order as the store does (0006):
 * an event at least as new as the record overwrites, an older one fills gaps. -1 when out
 * of memory.
 */
static int lead_record_merge(struct lead_record *r, const json_t *lead, int64_t occurred_at_ms)
{
    bool newer = occurred_at_ms >= r->at_ms;
    for (size_t f = 0; f < UTIL_ARRAY_LEN(lead_fields); f++) {
        const char *value = json_string_value(json_object_get(lead, lead_fields[f]));
        if (value != NULL && (newer || r->fields[f] == NULL)) {
            r->fields[f] = value;
        }
    }
    json_t *attributes = json_object_get(lead, "attributes");
    int rc = 0;
    if (attributes != NULL && r->attributes == NULL) {
        rc = (r->attributes = json_deep_copy(attributes)) != NULL ? 0 : -1;
    } else if (attributes != NULL) {
        rc = newer ? json_object_update(r->attributes, attributes)
                   : json_object_update_missing(r->attributes, attributes);
    }
    if (newer) {
        r->at_ms = occurred_at_ms;
    }
    return rc;
}

/* The records (those that exist, when only_existing) as statement rows. */
static void lead_records_write(const struct lead_records *records, bool only_existing,
                               struct rowset *rows)
{
    for (size_t i = 0; i < records->count; i++) {
        const struct lead_record *r = &records->items[i];
        if (only_existing && !r->exists) {
            continue;
        }
        char at[32];
        util_format_rfc3339(r->at_ms, at);
        rowset_row(rows);
        if (r->id != 0) {
            rowset_int(rows, "id", r->id);
        }
        rowset_string(rows, "email", r->email);
        for (size_t f = 0; f < UTIL_ARRAY_LEN(lead_fields); f++) {
            rowset_string(rows, lead_fields[f], r->fields[f]);
        }
        rowset_json(rows, "attributes", r->attributes);
        rowset_string(rows, "at", at);
    }
}

/* Queues the upsert of the leads named by email, each merged over the batch first. */
static enum store_result send_upsert_email_leads(struct batch *b)
{
    struct lead_records records;
    struct rowset rows = {0};
    enum store_result rc = STORE_UNAVAILABLE;
    if (lead_records_init(&records, b->count) != 0) {
        goto out;
    }
    for (size_t i = 0; i < b->count; i++) {
        const char *email = b->events[i].lead_email;
        if (b->skip[i] || b->by_id[i] || email == NULL) {
            continue;
        }
        if (lead_record_merge(lead_record_get(&records, email, 0),
                              json_object_get(b->events[i].event, "lead"),
                              b->events[i].occurred_at_ms) != 0) {
            goto out;
        }
    }
    rc = STORE_OK;
    if (records.count > 0) {
        lead_records_write(&records, false, &rows);
        const char *params[] = {rowset_text(&rows)};
        rc = send_texts(b, "ingest_lead_upsert", 1, params);
    }
out:
    if (rc != STORE_OK && b->error == NULL) {
        b->error = strdup("out of memory");
    }
    rowset_free(&rows);
    lead_records_free(&records);
    return rc;
}

/* Text of a lead field, or NULL (SQL NULL) when absent. */
static const char *lead_text(const json_t *lead, const char *field)
{
    return json_string_value(json_object_get(lead, field));
}

/*
 * A lead known only by its id at the source: found through lead_identities, else created.
 * One statement or three per event; such leads are rare (most carry an email).
 */
static enum store_result resolve_identity_lead(struct batch *b, struct event_record *e)
{
    const json_t *lead = json_object_get(e->event, "lead");
    const char *external_id = lead_text(lead, "external_id");
    char *attributes = NULL;
    const json_t *attributes_json = json_object_get(lead, "attributes");
    if (attributes_json != NULL &&
        (attributes = json_dumps(attributes_json, JSON_COMPACT)) == NULL) {
        b->error = strdup("out of memory");
        return STORE_UNAVAILABLE;
    }
    PGresult *result = NULL;
    char at[32];
    util_format_rfc3339(e->occurred_at_ms, at);
    const char *lookup[] = {e->source, external_id};
    enum store_result rc = store_exec(b->store, "ingest_identity_lookup", sql_identity_lookup, 2,
                                      lookup, &result, &b->error);
    if (rc != STORE_OK) {
        goto out;
    }
    if (PQntuples(result) == 1) {
        e->lead_id = parse_id(PQgetvalue(result, 0, 0));
        const char *update[] = {PQgetvalue(result, 0, 0),
                                lead_text(lead, "first_name"),
                                lead_text(lead, "last_name"),
                                lead_text(lead, "company"),
                                lead_text(lead, "title"),
                                lead_text(lead, "phone"),
                                lead_text(lead, "linkedin_url"),
                                attributes,
                                at};
        rc = store_exec(b->store, "ingest_lead_update_by_id", sql_lead_update_by_id, 9, update,
                        NULL, &b->error);
        goto out;
    }
    PQclear(result);
    result = NULL;
    const char *insert[] = {lead_text(lead, "first_name"),
                            lead_text(lead, "last_name"),
                            lead_text(lead, "company"),
                            lead_text(lead, "title"),
                            lead_text(lead, "phone"),
                            lead_text(lead, "linkedin_url"),
                            attributes,
                            at};
    rc = store_exec(b->store, "ingest_lead_insert", sql_lead_insert, 8, insert, &result, &b->error);
    if (rc != STORE_OK) {
        goto out;
    }
    char lead_id[24];
    snprintf(lead_id, sizeof(lead_id), "%s", PQgetvalue(result, 0, 0));
    PQclear(result);
    result = NULL;
    const char *claim[] = {e->source, external_id, lead_id};
    rc = store_exec(b->store, "ingest_identity_claim", sql_identity_claim, 3, claim, &result,
                    &b->error);
    if (rc != STORE_OK) {
        goto out;
    }
    if (PQntuples(result) == 1) {
        e->lead_id = parse_id(lead_id);
        goto out;
    }
    /* Another writer created this identity's lead meanwhile: use theirs, drop ours. */
    PQclear(result);
    result = NULL;
    const char *drop[] = {lead_id};
    rc = store_exec(b->store, "ingest_lead_delete", sql_lead_delete, 1, drop, NULL, &b->error);
    if (rc != STORE_OK) {
        goto out;
    }
    rc = store_exec(b->store, "ingest_identity_lookup", sql_identity_lookup, 2, lookup, &result,
                    &b->error);
    if (rc == STORE_OK && PQntuples(result) == 1) {
        e->lead_id = parse_id(PQgetvalue(result, 0, 0));
    }
out:
    if (result != NULL) {
        PQclear(result);
    }
    free(attributes);
    return rc;
}

/*
 * Before emails are upserted: an event that carries an email and an identity whose lead
 * has no email yet (a Stripe subscription seen before its customer's email) names that
 * lead, which takes the email, rather than a second lead being made for it.
 */
static enum store_result send_adopt_emails(struct batch *b)
{
    json_t *by_email = json_object();
    enum store_result rc = STORE_UNAVAILABLE;
    if (by_email == NULL) {
        goto out;
    }
    for (size_t i = 0; i < b->count; i++) {
        const json_t *lead = json_object_get(b->events[i].event, "lead");
        const char *email = b->events[i].lead_email;
        const char *external_id = lead_text(lead, "external_id");
        if (b->skip[i] || b->by_id[i] || email == NULL || external_id == NULL ||
            json_object_get(by_email, email) != NULL) {
            continue;
        }
        if (json_object_set_new(by_email, email,
                                json_pack("{s:s,s:s,s:s}", "source", b->events[i].source,
                                          "external_id", external_id, "email", email)) != 0) {
            goto out;
        }
    }
    rc = send_merged(b, "ingest_lead_adopt_email", by_email);
out:
    json_decref(by_email);
    return rc;
}

/* Adds (source, external_id) -> the event's lead (its id, else its email) unless the batch
 * already has that identity. */
static int add_identity(json_t *by_key, const char *source, const char *external_id,
                        const struct event_record *e)
{
    char *key = util_printf("%s\x1f%s", source, external_id);
    if (key == NULL) {
        return -1;
    }
    int rc = 0;
    if (json_object_get(by_key, key) == NULL) {
        json_t *row = e->lead_id != 0 ? json_pack("{s:s,s:s,s:I}", "source", source, "external_id",
                                                  external_id, "lead_id", (json_int_t)e->lead_id)
                                      : json_pack("{s:s,s:s,s:s}", "source", source, "external_id",
                                                  external_id, "email", e->lead_email);
        rc = row != NULL ? json_object_set_new(by_key, key, row) : -1;
    }
    free(key);
    return rc;
}

/*
 * Leads known only by an identity at their source are found or created now, one event at
 * a time (such leads are rare: most carry an email); then the identities the new events
 * bring are queued, for leads resolved by id or by email alike.
 */
static enum store_result resolve_identity_leads(struct batch *b)
{
    for (size_t i = 0; i < b->count; i++) {
        struct event_record *e = &b->events[i];
        const json_t *lead = json_object_get(e->event, "lead");
        if (b->skip[i] || lead == NULL || b->by_id[i] || e->lead_email != NULL ||
            lead_text(lead, "external_id") == NULL) {
            continue;
        }
        enum store_result rc = resolve_identity_lead(b, e);
        if (rc != STORE_OK) {
            return rc;
        }
    }
    return STORE_OK;
}

static enum store_result send_identities(struct batch *b)
{
    json_t *identities = json_object();
    enum store_result rc = STORE_UNAVAILABLE;
    if (identities == NULL) {
        goto out;
    }
    for (size_t i = 0; i < b->count; i++) {
        const struct event_record *e = &b->events[i];
        const json_t *lead = json_object_get(e->event, "lead");
        if (b->skip[i] || lead == NULL || (e->lead_id == 0 && e->lead_email == NULL)) {
            continue;
        }
        /* an identity-only lead claimed its own identity when it was resolved */
        const char *external_id = lead_text(lead, "external_id");
        if (external_id != NULL && (e->lead_email != NULL || b->by_id[i]) &&
            add_identity(identities, e->source, external_id, e) != 0) {
            goto out;
        }
        const char *instance;
        json_t *id;
        json_object_foreach(json_object_get(lead, "external_ids"), instance, id)
        {
            if (add_identity(identities, instance, json_string_value(id), e) != 0) {
                goto out;
            }
        }
    }
    rc = send_merged(b, "ingest_identities", identities);
out:
    json_decref(identities);
    return rc;
}

static const char sql_leads_exist[] = "SELECT id FROM leads WHERE id = ANY($1::bigint[])";

/* Leads named by id take what the events carry, in event time order; an email only when
 * the lead has none and no other lead has it (rows never share one). A row that brings
 * nothing new leaves its lead untouched, updated_at included (a lead.scored event). */
static const char sql_leads_update_given[] = "UPDATE leads AS l SET " FIELD(
    "l.", "first_name", "r.first_name",
    "r.at") FIELD("l.", "last_name", "r.last_name",
                  "r.at") FIELD("l.", "company", "r.company",
                                "r.at") FIELD("l.", "title", "r.title",
                                              "r.at") FIELD("l.", "phone", "r.phone", "r.at")
    FIELD("l.", "linkedin_url", "r.linkedin_url", "r.at") FIELD_ATTRIBUTES(
        "l.", "coalesce(r.attributes, '{}'::jsonb)",
        "r.at") "email = CASE WHEN l.email IS NULL AND r.email IS NOT NULL AND NOT EXISTS "
                "(SELECT 1 FROM leads o WHERE o.email = r.email) THEN r.email ELSE l.email END, "
                "updated_at = now() "
                "FROM jsonb_to_recordset($1::jsonb) AS r(id bigint, email text, first_name text, "
                "last_name text, company text, title text, phone text, linkedin_url text, "
                "attributes jsonb, at timestamptz) "
                "WHERE l.id = r.id AND (r.first_name IS NOT NULL OR r.last_name IS NOT NULL OR "
                "r.company IS NOT NULL OR r.title IS NOT NULL OR r.phone IS NOT NULL OR "
                "r.linkedin_url IS NOT NULL OR r.attributes IS NOT NULL OR "
                "(l.email IS NULL AND r.email IS NOT NULL))";

/* The given lead ids of the batch as a PostgreSQL array literal, and a record per id (in
 * event time order; the first email an id brings, unless another id brought it first).
 * NULL when out of memory. */
static char *given_ids(struct batch *b, struct lead_records *by_id, json_t *emails)
{
    struct strbuf ids = {0};
    strbuf_append(&ids, "{");
    for (size_t i = 0; i < b->count; i++) {
        const json_t *lead = json_object_get(b->events[i].event, "lead");
        const json_t *id = json_object_get(lead, "id");
        if (b->skip[i] || id == NULL) {
            continue;
        }
        size_t before = by_id->count;
        struct lead_record *record = lead_record_get(by_id, NULL, json_integer_value(id));
        if (by_id->count > before) {
            strbuf_appendf(&ids, "%s%s", ids.len > 1 ? "," : "", record->id_text);
        }
        if (lead_record_merge(record, lead, b->events[i].occurred_at_ms) != 0) {
            strbuf_free(&ids);
            return NULL;
        }
        const char *email = b->events[i].lead_email;
        if (email != NULL && record->email == NULL && json_object_get(emails, email) == NULL) {
            record->email = email;
            json_object_set_new(emails, email, json_true());
        }
    }
    strbuf_append(&ids, "}");
    return ids.failed ? (strbuf_free(&ids), NULL) : strbuf_take(&ids);
}

/*
 * Events whose lead names an existing leadhub lead (lead.id) resolve to it before email
 * or identity: a checkout carrying back the lead it was sent for. An id that does not
 * exist is ignored and the usual resolution applies. Two statements for the whole batch.
 */
static enum store_result resolve_given_ids(struct batch *b)
{
    struct lead_records by_id;
    json_t *emails = json_object();
    struct rowset rows = {0};
    char *ids = NULL;
    PGresult *result = NULL;
    enum store_result rc = STORE_UNAVAILABLE;
    if (lead_records_init(&by_id, b->count) != 0 || emails == NULL ||
        (ids = given_ids(b, &by_id, emails)) == NULL) {
        goto out;
    }
    rc = STORE_OK;
    if (by_id.count == 0) {
        goto out;
    }
    const char *params[] = {ids};
    rc = store_exec(b->store, "ingest_leads_exist", sql_leads_exist, 1, params, &result, &b->error);
    if (rc != STORE_OK) {
        goto out;
    }
    size_t existing = 0;
    for (int row = 0; row < PQntuples(result); row++) {
        struct lead_record *r =
            lead_record_find_id(&by_id, strtoll(PQgetvalue(result, row, 0), NULL, 10));
        if (r != NULL && !r->exists) {
            r->exists = true;
            existing++;
        }
    }
    for (size_t i = 0; i < b->count; i++) {
        const json_t *id = json_object_get(json_object_get(b->events[i].event, "lead"), "id");
        const struct lead_record *r =
            id != NULL ? lead_record_find_id(&by_id, json_integer_value(id)) : NULL;
        if (!b->skip[i] && r != NULL && r->exists) {
            b->events[i].lead_id = json_integer_value(id);
            b->by_id[i] = true;
        }
    }
    /* only the leads that exist are updated */
    if (existing > 0) {
        lead_records_write(&by_id, true, &rows);
        const char *text = rowset_text(&rows);
        const char *update[] = {text};
        rc = text != NULL ? store_exec(b->store, "ingest_leads_update_given",
                                       sql_leads_update_given, 1, update, NULL, &b->error)
                          : STORE_UNAVAILABLE;
    }
out:
    if (rc != STORE_OK && b->error == NULL) {
        b->error = strdup("out of memory");
    }
    if (result != NULL) {
        PQclear(result);
    }
    rowset_free(&rows);
    json_decref(emails);
    lead_records_free(&by_id);
    free(ids);
    return rc;
}

struct outbox {
    struct rowset *rows;
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
    struct outbox o = {.rows = &deliveries, .destinations = destinations};
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
        if (router_count(router) > 0) {
            o.event = e;
            router_match(router, e->event, -1, add_delivery, &o);
        }
    }
    enum store_result rc = STORE_OK;
    if (rows.count > 0) {
        const char *params[] = {rowset_text(&rows), rowset_text(&deliveries)};
        rc = send_texts(b, "ingest_events", 2, params);
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
    rc = exec_rows(b, "ingest_meetings", sql_meetings_upsert, rows, &result);
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
        rc = exec_rows(b, "ingest_attendees_delete", sql_attendees_delete, replaced, NULL);
        if (rc == STORE_OK && json_array_size(attendee_rows) > 0) {
            rc = exec_rows(b, "ingest_attendees_insert", sql_attendees_insert, attendee_rows, NULL);
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
    rc = send_merged(b, "ingest_checkpoints", by_key);
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
    rc = send_texts(b, "ingest_notifications_put", 2, params);
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
 * by id or only by an identity, and meetings. */
static bool needs_steps(const struct batch *b)
{
    for (size_t i = 0; i < b->count; i++) {
        const json_t *event = b->events[i].event;
        const json_t *lead = json_object_get(event, "lead");
        if (json_object_get(event, "meeting") != NULL || json_object_get(lead, "id") != NULL ||
            (b->events[i].lead_email == NULL && json_object_get(lead, "external_id") != NULL)) {
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

    /* 2: leads that need answers first (named by id, or only by an identity) */
    if (steps) {
        store_pipeline_end(store);
        pipeline = false;
        if ((rc = resolve_given_ids(&b)) != STORE_OK ||
            (rc = resolve_identity_leads(&b)) != STORE_OK ||
            (rc = store_pipeline_begin(store, &b.error)) != STORE_OK) {
            goto out;
        }
        pipeline = true;
    }

    /* 3: leads by email, identities, events and their deliveries, checkpoints,
     * notifications; a poll's batch first checks (and holds) its lease, in the same
     * transaction */
    bool meetings = has_meetings(&b);
    if (fence != NULL) {
        char token[24];
        snprintf(token, sizeof(token), "%lld", (long long)fence->fence);
        const char *params[] = {fence->instance, token};
        if ((rc = send_texts(&b, "ingest_fence", 2, params)) != STORE_OK) {
            goto out;
        }
    }
    size_t events_at = 0;
    if ((rc = send_adopt_emails(&b)) != STORE_OK ||
        (rc = send_upsert_email_leads(&b)) != STORE_OK || (rc = send_identities(&b)) != STORE_OK) {
        goto out;
    }
    events_at = store_pipeline_pending(store);
    if ((rc = send_events(&b, router, destinations)) != STORE_OK ||
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
     * return rows too. */
    PGresult *results[8] = {NULL};
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
