/* rest_leads.c - GET /v1/leads, GET /v1/leads/{id} and GET /v1/leads/{id}/timeline. */
#include <stdlib.h>
#include <string.h>

#include "rest_internal.h"

#define LEAD_FIELDS                                                                                \
    "l.id, l.email, l.first_name, l.last_name, l.company, l.title, l.phone, l.linkedin_url, "      \
    "l.attributes, l.created_at, l.updated_at"

/* Pages walk leads by id, and the source and score filters are probed per lead, through
 * lead_identities_source_idx, events_lead_idx and lead_scores' key: a page reads the leads
 * it walks, never every lead a source or scorer touched (OFFSET 0 keeps PostgreSQL from
 * turning a probe into a hash of all of them). */
static const char sql_list[] =
    "SELECT coalesce(json_agg(x ORDER BY x.id), '[]'::json) FROM (SELECT " LEAD_FIELDS ", "
    "(SELECT coalesce(json_object_agg(s.scorer, s.score), '{}'::json) FROM lead_scores s "
    "WHERE s.lead_id = l.id) AS scores FROM leads l "
    "WHERE ($1::bigint IS NULL OR l.id > $1::bigint) "
    "AND ($2::text IS NULL OR l.email = lower(btrim($2::text))) "
    "AND ($3::text IS NULL OR lower(l.company) = lower($3::text)) "
    "AND ($4::text IS NULL OR EXISTS (SELECT 1 FROM lead_identities i WHERE i.source = $4::text "
    "AND i.lead_id = l.id OFFSET 0) OR EXISTS (SELECT 1 FROM events e WHERE e.lead_id = l.id "
    "AND e.source = $4::text OFFSET 0)) "
    "AND ($5::timestamptz IS NULL OR l.updated_at >= $5::timestamptz) "
    "AND ($6::text IS NULL OR EXISTS (SELECT 1 FROM lead_scores s WHERE s.lead_id = l.id "
    "AND s.scorer = $6::text AND s.score >= coalesce($7::double precision, 0) "
    "AND ($9::text IS NULL OR s.band = $9::text) OFFSET 0)) "
    "ORDER BY l.id LIMIT $8::int) x";

static const char sql_get[] =
    "SELECT json_build_object('id', l.id, 'email', l.email, 'first_name', l.first_name, "
    "'last_name', l.last_name, 'company', l.company, 'title', l.title, 'phone', l.phone, "
    "'linkedin_url', l.linkedin_url, 'attributes', l.attributes, 'created_at', l.created_at, "
    "'updated_at', l.updated_at, "
    "'identities', (SELECT coalesce(json_agg(json_build_object('source', i.source, "
    "'external_id', i.external_id) ORDER BY i.source, i.external_id), '[]'::json) "
    "FROM lead_identities i WHERE i.lead_id = l.id), "
    "'addresses', (SELECT coalesce(json_agg(json_build_object('email', a.email, 'source', "
    "a.source, 'first_seen_at', a.first_seen_at) ORDER BY a.first_seen_at, a.email), "
    "'[]'::json) FROM lead_addresses a WHERE a.lead_id = l.id), "
    "'scores', (SELECT coalesce(json_agg(json_build_object('scorer', s.scorer, 'score', s.score, "
    "'band', s.band, 'explanation', s.explanation, 'scored_at', s.scored_at) "
    "ORDER BY s.scorer), '[]'::json) FROM lead_scores s WHERE s.lead_id = l.id), "
    "'recent_events', (SELECT coalesce(json_agg(json_build_object('id', e.id, 'type', e.type, "
    "'source', e.source, 'source_id', e.source_id, 'occurred_at', e.occurred_at) "
    "ORDER BY e.occurred_at DESC, e.id DESC), '[]'::json) FROM (SELECT * FROM events "
    "WHERE lead_id = l.id ORDER BY occurred_at DESC, id DESC LIMIT 20) e), "
    "'meetings', (SELECT coalesce(json_agg(json_build_object('id', m.id, 'source', m.source, "
    "'external_id', m.external_id, 'title', m.title, 'starts_at', m.starts_at, 'ends_at', "
    "m.ends_at, 'status', m.status) ORDER BY m.starts_at DESC NULLS LAST, m.id DESC), "
    "'[]'::json) FROM (SELECT mm.* FROM meetings mm WHERE mm.id IN (SELECT o.id FROM meetings "
    "o WHERE o.lead_id = l.id UNION SELECT a.meeting_id FROM meeting_attendees a "
    "WHERE a.lead_id = l.id) ORDER BY mm.starts_at DESC NULLS LAST, mm.id DESC LIMIT 20) m)) "
    "FROM leads l WHERE l.id = $1::bigint";

/*
 * A lead's timeline, newest first: its events walked backwards on events_lead_idx, each
 * with the type-specific `data` (never `raw`) and, for a meeting's events, the meeting as
 * it stands now. `before` is the id of the last event of the previous page; events never
 * change their occurred_at, so the id names the position. NULL (404) when no such lead.
 */
static const char sql_timeline[] =
    "SELECT CASE WHEN EXISTS (SELECT 1 FROM leads WHERE id = $1::bigint) THEN "
    "(SELECT coalesce(json_agg(json_build_object('id', e.id, 'type', e.type, 'source', e.source, "
    "'source_id', e.source_id, 'occurred_at', e.occurred_at, 'data', e.payload -> 'data', "
    "'meeting', (SELECT json_build_object('id', m.id, 'title', m.title, 'starts_at', m.starts_at, "
    "'status', m.status) FROM meetings m WHERE m.source = e.source "
    "AND m.external_id = e.payload -> 'meeting' ->> 'external_id')) "
    "ORDER BY e.occurred_at DESC, e.id DESC), '[]'::json) "
    "FROM (SELECT * FROM events ee WHERE ee.lead_id = $1::bigint AND ($2::bigint IS NULL OR "
    "(ee.occurred_at, ee.id) < (SELECT b.occurred_at, b.id FROM events b WHERE b.id = $2::bigint "
    "AND b.lead_id = $1::bigint)) ORDER BY ee.occurred_at DESC, ee.id DESC LIMIT $3::int) e) END";

void rest_lead_timeline(const struct rest_request *request, struct rest_response *response,
                        const char *id)
{
    static const char *const allowed[] = {"limit", "before", NULL};
    int limit = 0;
    char before[24], limit_text[16];
    if (!rest_params_only(request, response, allowed) ||
        !rest_param_limit(request, response, &limit) ||
        !rest_param_id(request, response, "before", before)) {
        return;
    }
    if (!rest_id_valid(id)) {
        rest_error(response, 404, "not_found", NULL, "no lead %.32s", id);
        return;
    }
    snprintf(limit_text, sizeof(limit_text), "%d", limit);
    const char *params[] = {id, before, limit_text};
    json_t *rows =
        rest_query_json(request->daemon, response, "rest_lead_timeline", sql_timeline, 3, params);
    if (rows == NULL) {
        return;
    }
    if (json_is_null(rows)) {
        json_decref(rows);
        rest_error(response, 404, "not_found", NULL, "no lead %s", id);
        return;
    }
    rest_page(response, rows, limit, "id");
}

void rest_leads_list(const struct rest_request *request, struct rest_response *response)
{
    static const char *const allowed[] = {"limit",     "after", "email",  "company",       "source",
                                          "min_score", "band",  "scorer", "updated_since", NULL};
    int limit = 0;
    char after[24], since[32], min_score[32], limit_text[16];
    if (!rest_params_only(request, response, allowed) ||
        !rest_param_limit(request, response, &limit) ||
        !rest_param_id(request, response, "after", after) ||
        !rest_param_time(request, response, "updated_since", since) ||
        !rest_param_number(request, response, "min_score", min_score)) {
        return;
    }
    if (min_score[0] != '\0' && rest_param(request, "scorer") == NULL) {
        rest_bad_parameter(response, "min_score", "give the scorer it applies to with scorer=NAME");
        return;
    }
    if (rest_param(request, "band") != NULL && rest_param(request, "scorer") == NULL) {
        rest_bad_parameter(response, "band", "give the scorer it applies to with scorer=NAME");
        return;
    }
    snprintf(limit_text, sizeof(limit_text), "%d", limit);
    const char *params[] = {after,
                            rest_param(request, "email"),
                            rest_param(request, "company"),
                            rest_param(request, "source"),
                            since,
                            rest_param(request, "scorer"),
                            min_score,
                            limit_text,
                            rest_param(request, "band")};
    json_t *rows = rest_query_json(request->daemon, response, "rest_leads", sql_list, 9, params);
    if (rows != NULL) {
        rest_page(response, rows, limit, "id");
    }
}

void rest_lead_get(const struct rest_request *request, struct rest_response *response,
                   const char *id)
{
    rest_get_by_id(request, response, id, "lead", "rest_lead", sql_get);
}
