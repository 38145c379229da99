/*
 * rest_reports.c - GET /v1/reports/funnel and GET /v1/reports/meetings: counts over a
 * period [from, to), grouped by week (ISO weeks, Monday 00:00 UTC) or by source.
 *
 * The funnel reads lead_milestones (migration 0014), which triggers on events and on the
 * meetings tables keep, so a report costs what its cohort holds, never what the events
 * table holds. docs/api.md ("Reports") defines every stage.
 */
#include <stdlib.h>
#include <string.h>

#include "rest_internal.h"
#include "util.h"

#define DAY_MS            (24LL * 3600 * 1000)
#define DEFAULT_PERIOD_MS (84 * DAY_MS)   /* twelve weeks */
#define MAX_PERIOD_MS     (3700 * DAY_MS) /* about ten years: at most ~530 weekly groups */

/*
 * $1 from, $2 to, $3 by ('week' or 'source'). Counts are made per (week, source) pair
 * first and summed into the groups asked for: one statement serves both, and the pairs
 * are few enough for a hash. A week is the UTC week a time falls in, as an expression
 * migration 0014 keeps statistics on (CREATE STATISTICS), so that PostgreSQL expects about
 * 53 weeks a year rather than one group per distinct time - which would make it sort a
 * hundred thousand rows, on disk, instead of hashing a few hundred pairs.
 */
#define WEEK_OF(at) "date_trunc('week', " at " AT TIME ZONE 'UTC')"

/* A pair's group key: its week's Monday (YYYY-MM-DD) or its source. */
#define GROUP_KEY "CASE WHEN $3::text = 'week' THEN to_char(week, 'YYYY-MM-DD') ELSE source END"

/* Every week of the period, counted or not, so that a chart's weeks are all there. */
#define PERIOD_WEEKS                                                                               \
    "SELECT to_char(w, 'YYYY-MM-DD') AS key FROM generate_series(" WEEK_OF(                        \
        "$1::timestamptz") ", ($2::timestamptz - interval '1 microsecond') AT TIME ZONE 'UTC', "   \
                           "interval '1 week') w "                                                 \
                           "WHERE $3::text = 'week'"

/* Weeks in time order; sources by their count, largest first, then by name. */
#define GROUP_ORDER(count) "CASE WHEN $3::text = 'week' THEN k.key END, " count " DESC, k.key"

#define PERIOD_FIELDS "'from', $1::timestamptz, 'to', $2::timestamptz, 'by', $3::text, "

/*
 * The cohort is the leads first seen in the period; each stage is a column of their
 * milestones (booked and held kept from the meetings tables, held reading meetings.status
 * so that the outcome statuses count as they land): the funnel reads the cohort's rows and
 * nothing else.
 */
static const char sql_funnel[] = "WITH pairs AS (SELECT " WEEK_OF(
    "lm.first_seen_at") " AS week, lm.first_source AS source, "
                        "count(*) AS leads, count(lm.replied_at) AS replied, count(*) FILTER "
                        "(WHERE lm.booked) "
                        "AS booked, count(*) FILTER (WHERE lm.held) AS held, count(lm.customer_at) "
                        "AS customers "
                        "FROM lead_milestones lm "
                        "WHERE lm.first_seen_at >= $1::timestamptz AND lm.first_seen_at < "
                        "$2::timestamptz "
                        "GROUP BY 1, 2), "
                        "counted AS (SELECT " GROUP_KEY " AS key, sum(leads)::bigint AS leads, "
                        "sum(replied)::bigint AS replied, sum(booked)::bigint AS booked, "
                        "sum(held)::bigint AS held, "
                        "sum(customers)::bigint AS customers FROM pairs GROUP BY 1), "
                        "keys AS (" PERIOD_WEEKS " UNION SELECT key FROM counted) "
                        "SELECT json_build_object(" PERIOD_FIELDS
                        "'totals', (SELECT json_build_object('leads', coalesce(sum(leads), "
                        "0)::bigint, "
                        "'replied', coalesce(sum(replied), 0)::bigint, 'booked', "
                        "coalesce(sum(booked), 0)::bigint, "
                        "'held', coalesce(sum(held), 0)::bigint, 'customers', "
                        "coalesce(sum(customers), 0)::bigint) "
                        "FROM counted), "
                        "'groups', (SELECT coalesce(json_agg(json_build_object('key', k.key, "
                        "'leads', coalesce(c.leads, 0), 'replied', coalesce(c.replied, 0), "
                        "'booked', coalesce(c.booked, 0), 'held', coalesce(c.held, 0), "
                        "'customers', coalesce(c.customers, 0)) ORDER BY " GROUP_ORDER(
                            "coalesce(c.leads, 0)") "), '[]'::json) FROM keys k LEFT JOIN counted "
                                                    "c ON c.key = k.key))";

/* Meetings starting in the period, counted per status as meetings.status holds it. */
static const char sql_meetings[] = "WITH pairs AS (SELECT " WEEK_OF(
    "m.starts_at") " AS week, m.source, m.status, "
                   "count(*) AS n FROM meetings m WHERE m.starts_at >= $1::timestamptz "
                   "AND m.starts_at < $2::timestamptz GROUP BY 1, 2, 3), "
                   "counted AS (SELECT " GROUP_KEY
                   " AS key, status, sum(n)::bigint AS n FROM pairs "
                   "GROUP BY 1, 2), "
                   "grouped AS (SELECT key, sum(n)::bigint AS meetings, "
                   "json_object_agg(status, n ORDER BY status) AS statuses FROM counted GROUP BY "
                   "key), "
                   "keys AS (" PERIOD_WEEKS " UNION SELECT key FROM grouped) "
                   "SELECT json_build_object(" PERIOD_FIELDS
                   "'totals', json_build_object('meetings', (SELECT coalesce(sum(n), 0)::bigint "
                   "FROM counted), "
                   "'statuses', (SELECT coalesce(json_object_agg(status, n ORDER BY status), "
                   "'{}'::json) FROM "
                   "(SELECT status, sum(n)::bigint AS n FROM counted GROUP BY status) s)), "
                   "'groups', (SELECT coalesce(json_agg(json_build_object('key', k.key, "
                   "'meetings', coalesce(g.meetings, 0), 'statuses', coalesce(g.statuses, "
                   "'{}'::json)) "
                   "ORDER BY " GROUP_ORDER(
                       "coalesce(g.meetings, 0)") "), '[]'::json) "
                                                  "FROM keys k LEFT JOIN grouped g ON g.key = "
                                                  "k.key))";

/* from, to (defaults: twelve weeks up to now) and by, into SQL text; or a 400. */
static bool period(const struct rest_request *request, struct rest_response *response,
                   char from[32], char to[32], const char **by_out)
{
    static const char *const allowed[] = {"from", "to", "by", NULL};
    int64_t from_ms = 0, to_ms = util_now_ms();
    bool from_given = false, to_given = false;
    if (!rest_params_only(request, response, allowed) ||
        !rest_param_time_ms(request, response, "from", &from_ms, &from_given) ||
        !rest_param_time_ms(request, response, "to", &to_ms, &to_given)) {
        return false;
    }
    if (!from_given) {
        from_ms = to_ms - DEFAULT_PERIOD_MS;
    }
    if (from_ms >= to_ms) {
        return rest_bad_parameter(response, from_given ? "from" : "to",
                                  "the period is empty: from must be before to");
    }
    if (to_ms - from_ms > MAX_PERIOD_MS) {
        return rest_bad_parameter(response, from_given ? "from" : "to",
                                  "the period is longer than 3700 days; ask for less");
    }
    const char *by = rest_param(request, "by");
    if (by == NULL) {
        by = "week";
    } else if (strcmp(by, "week") != 0 && strcmp(by, "source") != 0) {
        return rest_bad_parameter(response, "by", "expected week or source");
    }
    util_format_rfc3339(from_ms, from);
    util_format_rfc3339(to_ms, to);
    *by_out = by;
    return true;
}

static void report(const struct rest_request *request, struct rest_response *response,
                   const char *name, const char *sql)
{
    char from[32], to[32];
    const char *by = NULL;
    if (!period(request, response, from, to, &by)) {
        return;
    }
    const char *params[] = {from, to, by};
    json_t *body = rest_query_json(request->daemon, response, name, sql, 3, params);
    if (body != NULL) {
        rest_ok(response, 200, body);
    }
}

void rest_report_funnel(const struct rest_request *request, struct rest_response *response)
{
    report(request, response, "rest_report_funnel", sql_funnel);
}

void rest_report_meetings(const struct rest_request *request, struct rest_response *response)
{
    report(request, response, "rest_report_meetings", sql_meetings);
}
