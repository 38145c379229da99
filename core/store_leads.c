/*
 * store_leads.c - the leads a batch's events are about (store_batch.h has the split).
 *
 * Who an event is about, in this order:
 *   1. lead.id, when that lead exists: a reference the provider carried back (a Checkout's
 *      client_reference_id);
 *   2. lead.external_id, the emitting instance's own id of the person, when it is known
 *      (lead_identities): a Stripe customer, a CRM contact, whatever address it now brings;
 *   3. lead.email, normalized: found, or made;
 *   4. an identity nobody knows, without an email: a lead is made only when the event says
 *      something about the person (a name, a company, a title, a phone); otherwise there
 *      is no lead yet, the event is stored without one, and it is attached to the lead its
 *      identity gets when an event brings that identity with an email.
 * A lead named by id or identity keeps its email; a different one the event carries is
 * recorded in lead_addresses (an accounts department paying for a known lead), never made
 * a second lead. When the lead named by id, or by an email, is another than the identity's
 * lead, and that lead was nothing but this source's identity, the two are one person and
 * are merged (store_lead_merge.c).
 *
 * Leads named by id or identity need answers before the events are written, so they are
 * resolved in a step of their own; leads by email are upserted in the pipeline that writes
 * the events. Rows go in key order so that concurrent writers cannot deadlock.
 */
#include <stdlib.h>
#include <string.h>

#include "rowset.h"
#include "store_batch.h"
#include "util.h"

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

static const char sql_lead_update_by_id[] =
    "UPDATE leads SET " FIELDS_BY_ID("$9::timestamptz") "updated_at = now() WHERE id = $1";

static const char sql_lead_insert[] =
    "INSERT INTO leads (first_name, last_name, company, title, phone, linkedin_url, attributes, "
    "fields_at) VALUES ($1, $2, $3, $4, $5, $6, coalesce($7::jsonb, '{}'::jsonb), "
    "$8::timestamptz) RETURNING id";

static const char sql_identity_lookup[] =
    "SELECT lead_id FROM lead_identities WHERE source = $1 AND external_id = $2";

static const char sql_identity_claim[] =
    "INSERT INTO lead_identities (source, external_id, lead_id) VALUES ($1, $2, $3) "
    "ON CONFLICT (source, external_id) DO NOTHING RETURNING lead_id";

static const char sql_lead_delete[] = "DELETE FROM leads WHERE id = $1";

/* A row names its lead by id, or by the email the lead upsert before it has written. */
static const char sql_identities_insert[] =
    "INSERT INTO lead_identities (source, external_id, lead_id) "
    "SELECT r.source, r.external_id, coalesce(r.lead_id, l.id) FROM jsonb_to_recordset($1::jsonb) "
    "AS r(source text, external_id text, lead_id bigint, email text) "
    "LEFT JOIN leads l ON l.email = r.email "
    "WHERE coalesce(r.lead_id, l.id) IS NOT NULL ORDER BY r.source, r.external_id "
    "ON CONFLICT (source, external_id) DO NOTHING";

/* Per event: the lead of its identity (whether that lead has an email), and the lead that
 * has its email. */
static const char sql_identities_lookup[] =
    "SELECT r.i, i.lead_id, il.email IS NULL, el.id "
    "FROM jsonb_to_recordset($1::jsonb) AS r(i int, source text, external_id text, email text) "
    "LEFT JOIN lead_identities i ON i.source = r.source AND i.external_id = r.external_id "
    "LEFT JOIN leads il ON il.id = i.lead_id LEFT JOIN leads el ON el.email = r.email";

static const char sql_leads_exist[] = "SELECT id FROM leads WHERE id = ANY($1::bigint[])";

/* Leads named by id or identity take what the events carry, in event time order; an email
 * only when the lead has none and no other lead has it (rows never share one). A row that
 * brings nothing new leaves its lead untouched, updated_at included (a lead.scored event). */
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

/* The addresses events brought for the leads they named, other than the lead's own. */
static const char sql_addresses_insert[] =
    "INSERT INTO lead_addresses (lead_id, email, source, first_seen_at) "
    "SELECT r.lead_id, r.email, r.source, r.at FROM jsonb_to_recordset($1::jsonb) AS "
    "r(lead_id bigint, email text, source text, at timestamptz) JOIN leads l ON l.id = r.lead_id "
    "WHERE l.email IS DISTINCT FROM r.email ORDER BY r.lead_id, r.email "
    "ON CONFLICT (lead_id, email) DO NOTHING";

/* Events stored without a lead, their identity now a lead's, are attached to it, and so
 * are their deliveries; one held for want of that lead is looked at again now. */
static const char sql_attach_waiting[] =
    "WITH attached AS (UPDATE events e SET lead_id = i.lead_id FROM (SELECT DISTINCT r.source, "
    "r.external_id FROM jsonb_to_recordset($1::jsonb) AS r(source text, external_id text)) k "
    "JOIN lead_identities i ON i.source = k.source AND i.external_id = k.external_id "
    "WHERE e.lead_id IS NULL AND e.payload #> '{lead,external_id}' IS NOT NULL AND "
    "e.source = k.source AND (e.payload #>> '{lead,external_id}') = k.external_id "
    "RETURNING e.id, e.lead_id) "
    "UPDATE deliveries d SET lead_id = a.lead_id, next_attempt_at = CASE WHEN "
    "d.status = 'retrying' AND d.held_since IS NOT NULL THEN least(d.next_attempt_at, now()) "
    "ELSE d.next_attempt_at END FROM attached a WHERE d.event_id = a.id";

/* Deliveries held while their lead had no email (a sink that matches contacts by email
 * said LH_HOLD) are looked at again now that an event brought one. */
static const char sql_wake_held[] =
    "UPDATE deliveries d SET next_attempt_at = now() FROM leads l "
    "WHERE l.id = ANY($1::bigint[]) AND l.email IS NOT NULL AND d.lead_id = l.id "
    "AND d.status = 'retrying' AND d.held_since IS NOT NULL AND d.next_attempt_at > now()";

/* The statements queued in pipelines, prepared beforehand. */
static const struct {
    const char *name;
    const char *sql;
} pipelined[] = {
    {"ingest_lead_upsert", sql_lead_upsert},    {"ingest_identities", sql_identities_insert},
    {"ingest_addresses", sql_addresses_insert}, {"ingest_attach_waiting", sql_attach_waiting},
    {"ingest_wake_held", sql_wake_held},
};

enum store_result store_leads_prepare(struct store *store, char **error_out)
{
    for (size_t i = 0; i < UTIL_ARRAY_LEN(pipelined); i++) {
        enum store_result rc =
            store_prepare(store, pipelined[i].name, pipelined[i].sql, 1, error_out);
        if (rc != STORE_OK) {
            return rc;
        }
    }
    return STORE_OK;
}

bool store_leads_need_steps(const json_t *lead)
{
    return json_object_get(lead, "id") != NULL || json_object_get(lead, "external_id") != NULL;
}

static const char *const lead_fields[] = {"first_name", "last_name", "company",
                                          "title",      "phone",     "linkedin_url"};

static int64_t parse_id(const char *text)
{
    return strtoll(text, NULL, 10);
}

const char *store_batch_lead_text(const json_t *lead, const char *field)
{
    return json_string_value(json_object_get(lead, field));
}

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
        rc = store_batch_send_texts(b, "ingest_lead_upsert", 1, params);
    }
out:
    if (rc != STORE_OK && b->error == NULL) {
        b->error = strdup("out of memory");
    }
    rowset_free(&rows);
    lead_records_free(&records);
    return rc;
}

/* Whether the event says anything about the person besides an identity: a lead row is
 * never made of an identity alone (every field would be empty). */
static bool lead_says_who(const json_t *lead)
{
    for (size_t f = 0; f < UTIL_ARRAY_LEN(lead_fields); f++) {
        if (store_batch_lead_text(lead, lead_fields[f]) != NULL) {
            return true;
        }
    }
    return false;
}

/*
 * An event whose lead is an identity nobody knows yet, without an email: a lead is made
 * for it when the event says who it is, else the event waits without one (attached when
 * its identity's email arrives). Found again first, in case another writer made it since
 * the batch's lookup. One statement or four per event; such leads are rare.
 */
static enum store_result resolve_identity_lead(struct batch *b, struct event_record *e)
{
    const json_t *lead = json_object_get(e->event, "lead");
    const char *external_id = store_batch_lead_text(lead, "external_id");
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
                                store_batch_lead_text(lead, "first_name"),
                                store_batch_lead_text(lead, "last_name"),
                                store_batch_lead_text(lead, "company"),
                                store_batch_lead_text(lead, "title"),
                                store_batch_lead_text(lead, "phone"),
                                store_batch_lead_text(lead, "linkedin_url"),
                                attributes,
                                at};
        rc = store_exec(b->store, "ingest_lead_update_by_id", sql_lead_update_by_id, 9, update,
                        NULL, &b->error);
        goto out;
    }
    if (!lead_says_who(lead)) {
        goto out; /* no lead yet: the event waits for its identity's email */
    }
    PQclear(result);
    result = NULL;
    const char *insert[] = {store_batch_lead_text(lead, "first_name"),
                            store_batch_lead_text(lead, "last_name"),
                            store_batch_lead_text(lead, "company"),
                            store_batch_lead_text(lead, "title"),
                            store_batch_lead_text(lead, "phone"),
                            store_batch_lead_text(lead, "linkedin_url"),
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

/* Whether a lead.deleted of this batch, no older than `e`, removed the identity `e` carries:
 * what the source deleted is not recorded again by what it said before. */
static bool deleted_in_batch(const struct batch *b, const struct event_record *e,
                             const char *external_id)
{
    for (size_t i = 0; i < b->count; i++) {
        const struct event_record *d = &b->events[i];
        if (!b->skip[i] && store_lead_record_deleted(d) && d->occurred_at_ms >= e->occurred_at_ms &&
            strcmp(d->source, e->source) == 0 &&
            strcmp(store_batch_lead_text(json_object_get(d->event, "lead"), "external_id"),
                   external_id) == 0) {
            return true;
        }
    }
    return false;
}

/* Queues the identities the new events bring, for leads resolved by id, identity or email
 * alike (an identity-only lead claimed its own identity when it was made). */
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
        const char *external_id = store_batch_lead_text(lead, "external_id");
        if (external_id != NULL && (e->lead_email != NULL || b->by_id[i]) &&
            !deleted_in_batch(b, e, external_id) &&
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
    rc = store_batch_send_merged(b, "ingest_identities", identities);
out:
    json_decref(identities);
    return rc;
}

enum store_result store_leads_send(struct batch *b)
{
    enum store_result rc = send_upsert_email_leads(b);
    return rc == STORE_OK ? send_identities(b) : rc;
}

/* --- leads named by id or identity ---------------------------------------------------- */

/* The lead.id values of the batch as a PostgreSQL array literal ("{}" when none), or NULL
 * when out of memory. */
static char *given_ids(const struct batch *b)
{
    struct strbuf ids = {0};
    strbuf_append(&ids, "{");
    for (size_t i = 0; i < b->count; i++) {
        const json_t *id = json_object_get(json_object_get(b->events[i].event, "lead"), "id");
        if (!b->skip[i] && id != NULL) {
            strbuf_appendf(&ids, "%s%lld", ids.len > 1 ? "," : "",
                           (long long)json_integer_value(id));
        }
    }
    strbuf_append(&ids, "}");
    return ids.failed ? (strbuf_free(&ids), NULL) : strbuf_take(&ids);
}

/* Events naming an existing lead by lead.id resolve to it; an id that does not exist is
 * ignored and the usual resolution applies. */
static enum store_result find_given_ids(struct batch *b)
{
    char *ids = given_ids(b);
    if (ids == NULL) {
        b->error = strdup("out of memory");
        return STORE_UNAVAILABLE;
    }
    if (strcmp(ids, "{}") == 0) {
        free(ids);
        return STORE_OK;
    }
    PGresult *result = NULL;
    const char *params[] = {ids};
    enum store_result rc =
        store_exec(b->store, "ingest_leads_exist", sql_leads_exist, 1, params, &result, &b->error);
    free(ids);
    if (rc != STORE_OK) {
        return rc;
    }
    for (int row = 0; row < PQntuples(result); row++) {
        int64_t existing = parse_id(PQgetvalue(result, row, 0));
        for (size_t i = 0; i < b->count; i++) {
            const json_t *id = json_object_get(json_object_get(b->events[i].event, "lead"), "id");
            if (!b->skip[i] && id != NULL && json_integer_value(id) == existing) {
                b->events[i].lead_id = existing;
                b->by_id[i] = true;
            }
        }
    }
    PQclear(result);
    return STORE_OK;
}

/* A merge to try: `from`, the identity's lead, into `into`, the lead the event names. */
struct merge {
    int64_t from;
    int64_t into;
    const char *source;
    bool done;
};

void store_leads_follow_merge(struct batch *b, int64_t from, int64_t into)
{
    for (size_t i = 0; i < b->count; i++) {
        if (b->events[i].lead_id == from) {
            b->events[i].lead_id = into;
        }
    }
}

/*
 * Events carrying an identity that is known resolve to its lead, whatever email they
 * bring. Where the event names another lead - by lead.id, or by an email that lead has
 * while the identity's has none - the identity's lead is merged into it if it was nothing
 * but this source's identity; else the event keeps the lead it named (by id) or the
 * identity's (by email).
 */
static enum store_result resolve_identities(struct batch *b)
{
    struct rowset rows = {0};
    PGresult *result = NULL;
    struct merge *merges = calloc(b->count + 1, sizeof(*merges));
    size_t merge_count = 0;
    enum store_result rc = STORE_UNAVAILABLE;
    if (merges == NULL) {
        goto out;
    }
    for (size_t i = 0; i < b->count; i++) {
        const char *external_id =
            store_batch_lead_text(json_object_get(b->events[i].event, "lead"), "external_id");
        if (b->skip[i] || external_id == NULL) {
            continue;
        }
        rowset_row(&rows);
        rowset_int(&rows, "i", (int64_t)i);
        rowset_string(&rows, "source", b->events[i].source);
        rowset_string(&rows, "external_id", external_id);
        rowset_string(&rows, "email", b->events[i].lead_email);
    }
    rc = STORE_OK;
    if (rows.count == 0) {
        goto out;
    }
    const char *params[] = {rowset_text(&rows)};
    if (params[0] == NULL) {
        rc = STORE_UNAVAILABLE;
        goto out;
    }
    rc = store_exec(b->store, "ingest_identities_lookup", sql_identities_lookup, 1, params, &result,
                    &b->error);
    if (rc != STORE_OK) {
        goto out;
    }
    for (int row = 0; row < PQntuples(result); row++) {
        size_t i = (size_t)parse_id(PQgetvalue(result, row, 0));
        if (i >= b->count || PQgetisnull(result, row, 1)) {
            continue; /* an identity nobody knows: by email, or made later */
        }
        struct event_record *e = &b->events[i];
        int64_t identity_lead = parse_id(PQgetvalue(result, row, 1));
        bool identity_lead_has_no_email = PQgetvalue(result, row, 2)[0] == 't';
        int64_t email_lead = PQgetisnull(result, row, 3) ? 0 : parse_id(PQgetvalue(result, row, 3));
        int64_t named = 0;
        if (b->by_id[i]) {
            named = e->lead_id;
        } else if (identity_lead_has_no_email && email_lead != 0) {
            named = email_lead;
        }
        if (named != 0 && named != identity_lead) {
            merges[merge_count++] =
                (struct merge){.from = identity_lead, .into = named, .source = e->source};
        }
        if (!b->by_id[i]) {
            e->lead_id = identity_lead;
            b->by_id[i] = true;
        }
    }
    for (size_t m = 0; m < merge_count; m++) {
        bool merged = false;
        if (merges[m].from == merges[m].into) {
            continue;
        }
        rc = store_lead_merge(b->store, merges[m].from, merges[m].into, merges[m].source, &merged,
                              &b->error);
        if (rc != STORE_OK) {
            goto out;
        }
        if (merged) {
            /* later merges and the batch's events name what `from` became */
            store_leads_follow_merge(b, merges[m].from, merges[m].into);
            for (size_t k = m + 1; k < merge_count; k++) {
                if (merges[k].from == merges[m].from) {
                    merges[k].from = merges[m].into;
                }
                if (merges[k].into == merges[m].from) {
                    merges[k].into = merges[m].into;
                }
            }
        }
    }
out:
    if (rc != STORE_OK && b->error == NULL) {
        b->error = strdup("out of memory");
    }
    if (result != NULL) {
        PQclear(result);
    }
    rowset_free(&rows);
    free(merges);
    return rc;
}

/* The fields (and, for a lead without one, the email) of the leads events named by id or
 * identity, merged per lead in event time order; one statement for the batch. */
static enum store_result update_named_leads(struct batch *b)
{
    struct lead_records by_id;
    json_t *emails = json_object();
    struct rowset rows = {0};
    enum store_result rc = STORE_UNAVAILABLE;
    if (lead_records_init(&by_id, b->count) != 0 || emails == NULL) {
        goto out;
    }
    for (size_t i = 0; i < b->count; i++) {
        if (b->skip[i] || !b->by_id[i]) {
            continue;
        }
        struct lead_record *record = lead_record_get(&by_id, NULL, b->events[i].lead_id);
        if (lead_record_merge(record, json_object_get(b->events[i].event, "lead"),
                              b->events[i].occurred_at_ms) != 0) {
            goto out;
        }
        /* the first email an id brings, unless another id brought it first */
        const char *email = b->events[i].lead_email;
        if (email != NULL && record->email == NULL && json_object_get(emails, email) == NULL) {
            record->email = email;
            json_object_set_new(emails, email, json_true());
        }
        record->exists = true;
    }
    rc = STORE_OK;
    if (by_id.count > 0) {
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
    rowset_free(&rows);
    json_decref(emails);
    lead_records_free(&by_id);
    return rc;
}

enum store_result store_leads_resolve(struct batch *b)
{
    enum store_result rc = find_given_ids(b);
    if (rc == STORE_OK) {
        rc = resolve_identities(b);
    }
    if (rc == STORE_OK) {
        rc = store_leads_reflect_records(b);
    }
    if (rc == STORE_OK) {
        rc = update_named_leads(b);
    }
    for (size_t i = 0; i < b->count && rc == STORE_OK; i++) {
        struct event_record *e = &b->events[i];
        const json_t *lead = json_object_get(e->event, "lead");
        if (!b->skip[i] && !b->by_id[i] && e->lead_email == NULL &&
            store_batch_lead_text(lead, "external_id") != NULL) {
            rc = resolve_identity_lead(b, e);
        }
    }
    return rc;
}

/* --- after the events ----------------------------------------------------------------- */

enum store_result store_leads_send_after_events(struct batch *b)
{
    struct rowset addresses = {0};
    struct rowset identities = {0};
    struct strbuf emailed = {0}; /* leads named by id or identity that an email came with */
    strbuf_append(&emailed, "{");
    for (size_t i = 0; i < b->count; i++) {
        const struct event_record *e = &b->events[i];
        if (b->skip[i]) {
            continue;
        }
        char at[32];
        util_format_rfc3339(e->occurred_at_ms, at);
        if (b->by_id[i] && e->lead_email != NULL) {
            strbuf_appendf(&emailed, "%s%lld", emailed.len > 1 ? "," : "", (long long)e->lead_id);
            rowset_row(&addresses);
            rowset_int(&addresses, "lead_id", e->lead_id);
            rowset_string(&addresses, "email", e->lead_email);
            rowset_string(&addresses, "source", e->source);
            rowset_string(&addresses, "at", at);
        }
        const char *external_id =
            store_batch_lead_text(json_object_get(e->event, "lead"), "external_id");
        if (external_id != NULL && (e->lead_id != 0 || e->lead_email != NULL)) {
            rowset_row(&identities);
            rowset_string(&identities, "source", e->source);
            rowset_string(&identities, "external_id", external_id);
        }
    }
    enum store_result rc = STORE_OK;
    if (addresses.count > 0) {
        const char *params[] = {rowset_text(&addresses)};
        rc = store_batch_send_texts(b, "ingest_addresses", 1, params);
    }
    if (rc == STORE_OK && identities.count > 0) {
        const char *params[] = {rowset_text(&identities)};
        rc = store_batch_send_texts(b, "ingest_attach_waiting", 1, params);
    }
    strbuf_append(&emailed, "}");
    if (rc == STORE_OK && emailed.len > 2) {
        const char *params[] = {emailed.failed ? NULL : strbuf_value(&emailed)};
        rc = store_batch_send_texts(b, "ingest_wake_held", 1, params);
    }
    strbuf_free(&emailed);
    rowset_free(&addresses);
    rowset_free(&identities);
    return rc;
}
