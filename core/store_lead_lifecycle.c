/*
 * store_lead_lifecycle.c - what a source did to its own record of a person: deleted it
 * (lead.deleted) or merged several into one (lead.merged). Runs in the batch's resolve step
 * (store_leads_resolve), inside its transaction, after the events' identities are looked
 * up: the identities change with the event that says so, or not at all.
 *
 *   lead.deleted  lead.external_id no longer names anyone: its identity is removed, so a
 *                 later event with that id finds no lead by it (and makes one if it says
 *                 who). The lead keeps its history, other identities and fields, and the
 *                 event is recorded on it.
 *   lead.merged   lead.external_id is the record kept, data.merged_external_ids the ones
 *                 merged into it. Each merged identity ends on the kept record's lead: the
 *                 lead it named is folded into it when that lead was only ever this
 *                 source's identity (store_lead_merge); a lead known to anyone else keeps
 *                 its history and loses only that identity. When the kept id is not known
 *                 yet, the lead of the first known merged id becomes its lead.
 * Both events carry lead.external_id alone (event.c): they never make a lead nor change
 * one's fields.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store_batch.h"

static const char sql_identity_delete[] =
    "DELETE FROM lead_identities WHERE source = $1 AND external_id = $2";

static const char sql_identity_find[] =
    "SELECT lead_id FROM lead_identities WHERE source = $1 AND external_id = $2 FOR UPDATE";

/* an identity nobody knew, or one whose lead stays a person of its own, moves over */
static const char sql_identity_point[] =
    "INSERT INTO lead_identities (source, external_id, lead_id) VALUES ($1, $2, $3::bigint) "
    "ON CONFLICT (source, external_id) DO UPDATE SET lead_id = EXCLUDED.lead_id";

bool store_lead_record_deleted(const struct event_record *e)
{
    return strcmp(e->type, "lead.deleted") == 0;
}

/* The lead (source, external_id) names, 0 when none. */
static enum store_result identity_lead(struct batch *b, const char *source, const char *external_id,
                                       int64_t *lead_out)
{
    PGresult *result = NULL;
    const char *params[] = {source, external_id};
    *lead_out = 0;
    enum store_result rc = store_exec(b->store, "lifecycle_identity_find", sql_identity_find, 2,
                                      params, &result, &b->error);
    if (rc == STORE_OK && PQntuples(result) == 1) {
        *lead_out = strtoll(PQgetvalue(result, 0, 0), NULL, 10);
    }
    PQclear(result);
    return rc;
}

static enum store_result point_identity(struct batch *b, const char *source,
                                        const char *external_id, int64_t lead)
{
    char lead_text[24];
    snprintf(lead_text, sizeof(lead_text), "%lld", (long long)lead);
    const char *params[] = {source, external_id, lead_text};
    return store_exec(b->store, "lifecycle_identity_point", sql_identity_point, 3, params, NULL,
                      &b->error);
}

/* Events of this batch no older than the merge that carry a merged id follow it. */
static void follow_identity(struct batch *b, const struct event_record *merge,
                            const char *external_id, int64_t into)
{
    for (size_t i = 0; i < b->count; i++) {
        struct event_record *e = &b->events[i];
        const char *id = store_batch_lead_text(json_object_get(e->event, "lead"), "external_id");
        if (!b->skip[i] && id != NULL && strcmp(id, external_id) == 0 &&
            strcmp(e->source, merge->source) == 0 && e->occurred_at_ms >= merge->occurred_at_ms) {
            e->lead_id = into;
            b->by_id[i] = true;
        }
    }
}

static enum store_result reflect_merge(struct batch *b, size_t index)
{
    struct event_record *e = &b->events[index];
    const char *kept = store_batch_lead_text(json_object_get(e->event, "lead"), "external_id");
    const json_t *merged =
        json_object_get(json_object_get(e->event, "data"), "merged_external_ids");
    enum store_result rc = STORE_OK;
    size_t i;
    const json_t *id;
    int64_t into = b->by_id[index] ? e->lead_id : 0;
    if (into == 0) {
        /* the kept id is new to the hub: it is the first known merged id's person */
        json_array_foreach(merged, i, id)
        {
            if ((rc = identity_lead(b, e->source, json_string_value(id), &into)) != STORE_OK) {
                return rc;
            }
            if (into != 0) {
                break;
            }
        }
        if (into == 0) {
            return STORE_OK; /* none of them is known: nothing to reflect */
        }
        if ((rc = point_identity(b, e->source, kept, into)) != STORE_OK) {
            return rc;
        }
        e->lead_id = into;
        b->by_id[index] = true;
    }
    json_array_foreach(merged, i, id)
    {
        const char *external_id = json_string_value(id);
        int64_t from = 0;
        if (strcmp(external_id, kept) == 0) {
            continue;
        }
        if ((rc = identity_lead(b, e->source, external_id, &from)) != STORE_OK) {
            return rc;
        }
        bool folded = false;
        if (from != 0 && from != into &&
            (rc = store_lead_merge(b->store, from, into, e->source, &folded, &b->error)) !=
                STORE_OK) {
            return rc;
        }
        if (folded) {
            store_leads_follow_merge(b, from, into);
        } else if (from != into &&
                   (rc = point_identity(b, e->source, external_id, into)) != STORE_OK) {
            return rc;
        }
        follow_identity(b, e, external_id, into);
    }
    return STORE_OK;
}

enum store_result store_leads_reflect_records(struct batch *b)
{
    enum store_result rc = STORE_OK;
    for (size_t i = 0; i < b->count && rc == STORE_OK; i++) {
        struct event_record *e = &b->events[i];
        if (b->skip[i]) {
            continue;
        }
        if (store_lead_record_deleted(e)) {
            const char *params[] = {
                e->source, store_batch_lead_text(json_object_get(e->event, "lead"), "external_id")};
            rc = store_exec(b->store, "lifecycle_identity_delete", sql_identity_delete, 2, params,
                            NULL, &b->error);
            if (rc == STORE_OK && e->lead_id != 0) {
                log_write(LOG_LEVEL_INFO, NULL, e->source, NULL,
                          "lead %lld: this instance deleted its record of it; the identity is "
                          "removed, the lead and its history kept",
                          (long long)e->lead_id);
            }
        } else if (strcmp(e->type, "lead.merged") == 0) {
            rc = reflect_merge(b, i);
        }
    }
    return rc;
}
