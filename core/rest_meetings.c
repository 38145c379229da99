/* rest_meetings.c - GET /v1/meetings and GET /v1/meetings/{id}. */
#include <stdlib.h>
#include <string.h>

#include "rest_internal.h"

#define MEETING_OBJECT                                                                             \
    "json_build_object('id', m.id, 'source', m.source, 'external_id', m.external_id, 'title', "    \
    "m.title, 'starts_at', m.starts_at, 'ends_at', m.ends_at, 'timezone', m.timezone, "            \
    "'organizer', CASE WHEN m.organizer_email IS NULL AND m.organizer_name IS NULL THEN NULL "     \
    "ELSE json_build_object('email', m.organizer_email, 'name', m.organizer_name) END, "           \
    "'location', m.location, 'online_url', m.online_url, 'status', m.status, "                     \
    "'previous_starts_at', m.previous_starts_at, 'lead_id', m.lead_id, 'created_at', "             \
    "m.created_at, 'updated_at', m.updated_at"

/* A lead's meetings (its own and those it attends) are gathered into an array first: an
 * index condition on the key, where an IN inside the optional filter's OR would make
 * PostgreSQL test every meeting against a hash. */
static const char sql_list[] =
    "SELECT coalesce(json_agg(" MEETING_OBJECT ") ORDER BY m.id), '[]'::json) FROM "
    "(SELECT * FROM meetings mm WHERE ($1::bigint IS NULL OR mm.id > $1::bigint) "
    "AND ($2::timestamptz IS NULL OR mm.starts_at >= $2::timestamptz) "
    "AND ($3::timestamptz IS NULL OR mm.starts_at < $3::timestamptz) "
    "AND ($4::text IS NULL OR mm.status = $4::text) "
    "AND ($5::bigint IS NULL OR mm.id = ANY (ARRAY(SELECT o.id FROM meetings o WHERE "
    "o.lead_id = $5::bigint UNION SELECT a.meeting_id FROM meeting_attendees a WHERE "
    "a.lead_id = $5::bigint))) "
    "AND ($6::text IS NULL OR mm.source = $6::text) "
    "ORDER BY mm.id LIMIT $7::int) m";

static const char sql_get[] =
    "SELECT " MEETING_OBJECT ", 'attendees', (SELECT coalesce(json_agg(json_build_object("
    "'email', a.email, 'name', a.name, 'response', a.response, 'lead_id', a.lead_id) "
    "ORDER BY a.email), '[]'::json) FROM meeting_attendees a WHERE a.meeting_id = m.id)) "
    "FROM meetings m WHERE m.id = $1::bigint";

void rest_meetings_list(const struct rest_request *request, struct rest_response *response)
{
    static const char *const allowed[] = {"limit",  "after",   "since",  "until",
                                          "status", "lead_id", "source", NULL};
    int limit = 0;
    char after[24], since[32], until[32], lead[24], limit_text[16];
    if (!rest_params_only(request, response, allowed) ||
        !rest_param_limit(request, response, &limit) ||
        !rest_param_id(request, response, "after", after) ||
        !rest_param_time(request, response, "since", since) ||
        !rest_param_time(request, response, "until", until) ||
        !rest_param_id(request, response, "lead_id", lead)) {
        return;
    }
    static const char *const statuses[] = {"scheduled", "rescheduled", "canceled", "held",
                                           "no_show"};
    const char *status = rest_param(request, "status");
    bool known = status == NULL;
    for (size_t i = 0; !known && i < sizeof(statuses) / sizeof(statuses[0]); i++) {
        known = strcmp(status, statuses[i]) == 0;
    }
    if (!known) {
        rest_bad_parameter(response, "status",
                           "expected scheduled, rescheduled, canceled, held or no_show");
        return;
    }
    snprintf(limit_text, sizeof(limit_text), "%d", limit);
    const char *params[] = {after,     since, until, status, lead, rest_param(request, "source"),
                            limit_text};
    json_t *rows = rest_query_json(request->daemon, response, "rest_meetings", sql_list, 7, params);
    if (rows != NULL) {
        rest_page(response, rows, limit, "id");
    }
}

void rest_meeting_get(const struct rest_request *request, struct rest_response *response,
                      const char *id)
{
    rest_get_by_id(request, response, id, "meeting", "rest_meeting", sql_get);
}
