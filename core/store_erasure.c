/*
 * store_erasure.c - a lead's personal data erased, in the transaction of the lead.erased
 * event that asks for it (docs/events.md, "Erasure").
 *
 * A source emits lead.erased when the person asked to be forgotten (LinkedIn's DELETED
 * lead action, a GDPR request); the event resolves to its lead like any other (by id,
 * identity or email). In the same transaction as the event's insert:
 *   - the lead's personal fields (email, names, company, title, phone, LinkedIn URL) become
 *     NULL and its attributes are replaced by {"erased_at": ...};
 *   - its other addresses and its meeting attendances are deleted, and its addresses are
 *     taken out of the stored meetings it took part in: attendee entries dropped, an
 *     organizer removed, in its own events and in the meeting events of the other leads
 *     whose meetings it attended (and from meetings.organizer_*);
 *   - every event of the lead keeps what happened (type, source, source_id, occurred_at,
 *     data, meeting) but loses `raw` and, in `lead`, everything but its ids (external_id,
 *     external_ids, id). This is the one change ever made to a stored event: the event log
 *     is append-only except for erasure.
 * Identities stay: they are the provider's ids, not the person's data, and they keep a
 * redelivered or late event attached to the erased lead instead of making a new one.
 * The lead.erased event itself routes like any other, so a CRM sink can erase its copy.
 * Only a new lead.erased event erases: a redelivered one (stored before) changes nothing.
 */
#include <stdlib.h>
#include <string.h>

#include "store_batch.h"
#include "util.h"

/* The payload `p` with the erased addresses taken out of its meeting: attendees holding
 * one dropped, an organizer holding one removed. Other meeting fields stay (what
 * happened, not who). Needs the CTE erased_emails (lower-case addresses). */
#define SCRUB_MEETING(p)                                                                           \
    "CASE WHEN jsonb_typeof(" p " -> 'meeting') IS DISTINCT FROM 'object' THEN " p " ELSE "        \
    "jsonb_set(" p ", '{meeting}', (CASE WHEN lower(" p " #>> '{meeting,organizer,email}') IN "    \
    "(SELECT email FROM erased_emails) THEN (" p " -> 'meeting') - 'organizer' ELSE " p            \
    " -> 'meeting' END) || CASE WHEN jsonb_typeof(" p " #> '{meeting,attendees}') = 'array' "      \
    "THEN jsonb_build_object('attendees', (SELECT coalesce(jsonb_agg(x ORDER BY n), "              \
    "'[]'::jsonb) FROM jsonb_array_elements(" p " #> '{meeting,attendees}') WITH ORDINALITY "      \
    "AS t(x, n) WHERE NOT EXISTS (SELECT 1 FROM erased_emails z WHERE z.email = "                  \
    "lower(x ->> 'email')))) ELSE '{}'::jsonb END) END"
#define SCRUBBED_PAYLOAD SCRUB_MEETING("e.payload")

/* One statement, one snapshot: every part reads the lead as it was before its erasure
 * (its addresses, its attendances), and no row is changed by two parts. */
static const char sql_erase[] =
    "WITH target AS (SELECT DISTINCT e.lead_id AS id FROM jsonb_to_recordset($1::jsonb) AS "
    "r(source text, source_id text, type text) JOIN events e ON e.source = r.source AND "
    "e.source_id = r.source_id AND e.type = r.type WHERE e.lead_id IS NOT NULL), "
    "erased_emails AS (SELECT lower(l.email) AS email FROM leads l JOIN target ON l.id = "
    "target.id WHERE l.email IS NOT NULL UNION SELECT lower(a.email) FROM lead_addresses a "
    "JOIN target ON a.lead_id = target.id), "
    /* the meetings of other leads the person attended */
    "attended AS (SELECT DISTINCT m.id, m.source, m.external_id, m.lead_id FROM meetings m "
    "JOIN meeting_attendees a ON a.meeting_id = m.id JOIN target ON a.lead_id = target.id "
    "WHERE m.lead_id IS NOT NULL AND m.lead_id NOT IN (SELECT id FROM target)), "
    "erased_leads AS (UPDATE leads l SET email = NULL, first_name = NULL, last_name = NULL, "
    "company = NULL, title = NULL, phone = NULL, linkedin_url = NULL, "
    "attributes = jsonb_build_object('erased_at', to_char(now() AT TIME ZONE 'UTC', "
    "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')), updated_at = now() "
    "FROM target WHERE l.id = target.id RETURNING l.id), "
    "erased_addresses AS (DELETE FROM lead_addresses a USING target WHERE a.lead_id = target.id "
    "RETURNING 1), "
    "erased_attendees AS (DELETE FROM meeting_attendees m USING target "
    "WHERE m.lead_id = target.id RETURNING 1), "
    "erased_organizers AS (UPDATE meetings m SET organizer_email = NULL, organizer_name = NULL "
    "WHERE (m.lead_id IN (SELECT id FROM target) OR m.id IN (SELECT id FROM attended)) AND "
    "lower(m.organizer_email) IN (SELECT email FROM erased_emails) RETURNING 1), "
    "erased_events AS (UPDATE events e SET payload = CASE WHEN e.payload ? 'lead' THEN "
    "jsonb_set((" SCRUBBED_PAYLOAD ") - 'raw', '{lead}', "
    "jsonb_strip_nulls(jsonb_build_object("
    "'external_id', e.payload #> '{lead,external_id}', "
    "'external_ids', e.payload #> '{lead,external_ids}', 'id', e.payload #> '{lead,id}'))) "
    "ELSE (" SCRUBBED_PAYLOAD ") - 'raw' END FROM target WHERE e.lead_id = target.id "
    "RETURNING 1), "
    /* other leads' events of those meetings: found by their lead (indexed), never by a scan */
    "scrubbed_events AS (UPDATE events e SET payload = " SCRUBBED_PAYLOAD " FROM "
    "attended m WHERE e.lead_id = m.lead_id AND e.source = m.source AND e.type LIKE 'meeting.%' "
    "AND e.payload #>> '{meeting,external_id}' = m.external_id RETURNING 1) "
    "SELECT (SELECT count(*) FROM erased_leads), (SELECT count(*) FROM erased_events), "
    "(SELECT count(*) FROM scrubbed_events), (SELECT count(*) FROM erased_organizers)";

enum store_result store_erasure_prepare(struct store *store, char **error_out)
{
    return store_prepare(store, "ingest_erase", sql_erase, 1, error_out);
}

enum store_result store_erasure_send(struct batch *b)
{
    json_t *rows = NULL;
    for (size_t i = 0; i < b->count; i++) {
        const struct event_record *e = &b->events[i];
        if (b->skip[i] || strcmp(e->type, "lead.erased") != 0) {
            continue;
        }
        if (rows == NULL && (rows = json_array()) == NULL) {
            b->error = strdup("out of memory");
            return STORE_UNAVAILABLE;
        }
        if (json_array_append_new(rows, json_pack("{s:s, s:s, s:s}", "source", e->source,
                                                  "source_id", e->source_id, "type", e->type)) !=
            0) {
            json_decref(rows);
            b->error = strdup("out of memory");
            return STORE_UNAVAILABLE;
        }
    }
    if (rows == NULL) {
        return STORE_OK;
    }
    char *text = json_dumps(rows, JSON_COMPACT);
    json_decref(rows);
    const char *params[] = {text};
    enum store_result rc = store_batch_send_texts(b, "ingest_erase", 1, params);
    free(text);
    return rc;
}
