/*
 * fake_pipedrive.h - a local Pipedrive for connector tests, on the kit's fake_http server
 * (127.0.0.1, a free port). It keeps persons, organizations, deals (with pipelines and
 * stages) and activities in memory and speaks Pipedrive's API v2 as the wire contract the
 * `pipedrive` plugin follows says (docs/connectors/pipedrive.md):
 *
 *   GET   /api/v2/{persons,organizations,deals,activities}   updated_since (inclusive),
 *         sort_by=update_time|id, sort_direction, limit (<= 500), an opaque cursor
 *         (additional_data.next_cursor); activities also by person_id
 *   GET   /api/v2/{persons,organizations,deals,activities}/{id}   404 when unknown
 *   GET   /api/v2/{persons,organizations}/search   term, fields (email | name),
 *         exact_match (case-insensitive); the index lags creations when told to
 *   POST  /api/v2/{persons,organizations,deals,activities}   400 for a missing name, an
 *         unknown field, a malformed value; no idempotency: a repeated POST makes a second
 *         record
 *   PATCH /api/v2/{persons,organizations,deals,activities}/{id}   only the fields sent
 *   DELETE /api/v2/{persons,organizations,deals,activities}/{id}   404 when unknown
 *   GET   /api/v2/stages, /api/v2/pipelines   pipeline 1 "Sales", stages 1-4
 *
 * Every answer is the envelope {"success", "data", "additional_data"} (errors: "error",
 * "error_info") and carries x-ratelimit-limit, x-ratelimit-remaining, x-ratelimit-reset
 * (the 2-second burst window) and, for API-token requests, x-daily-requests-left.
 * Requests authenticate with `x-api-token: <token>` or `Authorization: Bearer <token>`
 * (401 otherwise). Every record's update_time moves on every write, never backwards, and
 * each write lands on a later second than the one before (Pipedrive's times are whole
 * seconds) unless the clock is pinned. The fake is safe to use from the test's thread
 * while the daemon talks to it.
 */
#ifndef LEADHUB_FAKE_PIPEDRIVE_H
#define LEADHUB_FAKE_PIPEDRIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct fake_pipedrive;

/* Starts a fake that accepts `api_token` (copied) as x-api-token. NULL when the server
 * cannot start. */
struct fake_pipedrive *fake_pipedrive_start(const char *api_token);
void fake_pipedrive_stop(struct fake_pipedrive *fp);

/* "http://127.0.0.1:PORT" + path, malloc'd: the plugin's api_base is fake_pipedrive_url(fp,
 * ""). */
char *fake_pipedrive_url(const struct fake_pipedrive *fp, const char *path);

/* Accepts `token` as an OAuth access token (Authorization: Bearer) too. */
void fake_pipedrive_allow_bearer(struct fake_pipedrive *fp, const char *token);

/* --- a rep at work in Pipedrive -------------------------------------------------------- */

/* Adds a person as POST /api/v2/persons would (fields as JSON text); its id, or 0 when the
 * fields are refused. */
long fake_pipedrive_person_add(struct fake_pipedrive *fp, const char *fields_json);
/* A rep edits a person: as PATCH /api/v2/persons/{id}; false when refused or unknown. */
bool fake_pipedrive_person_update(struct fake_pipedrive *fp, long id, const char *fields_json);
/* Adds an organization; its id. */
long fake_pipedrive_org_add(struct fake_pipedrive *fp, const char *name);
/* Adds a deal ({"title", "person_id", "org_id", "stage_id", "value", "currency", ...});
 * pipeline 1, stage 1 and status "open" unless given. Its id, or 0. */
long fake_pipedrive_deal_add(struct fake_pipedrive *fp, const char *fields_json);
/* A rep edits a deal (a stage move: {"stage_id": 3}); stage_change_time moves with the
 * stage or pipeline. */
bool fake_pipedrive_deal_update(struct fake_pipedrive *fp, long id, const char *fields_json);

/* Every write from now on gets update_time `at` exactly (records sharing a second, as
 * Pipedrive's whole-second times do); 0 lets the clock run again. */
void fake_pipedrive_clock_pin(struct fake_pipedrive *fp, time_t at);

/* --- what Pipedrive holds -------------------------------------------------------------- */

/* How many (live) persons hold this email, compared case-insensitively: the duplicate
 * check. */
size_t fake_pipedrive_persons_with_email(struct fake_pipedrive *fp, const char *email);
/* The id of the first person holding this email, or 0. */
long fake_pipedrive_person_id(struct fake_pipedrive *fp, const char *email);
size_t fake_pipedrive_person_count(struct fake_pipedrive *fp);
/* The person as the API shows it (JSON text, malloc'd), or NULL. */
char *fake_pipedrive_person(struct fake_pipedrive *fp, long id);
/* The person's label_ids as JSON text ("[5, 7]"), malloc'd, or NULL when unknown. */
char *fake_pipedrive_person_labels(struct fake_pipedrive *fp, long id);
/* The activities a person takes part in (participants), as a JSON array text, malloc'd. */
char *fake_pipedrive_activities_of(struct fake_pipedrive *fp, long person_id);
size_t fake_pipedrive_activity_count(struct fake_pipedrive *fp);
size_t fake_pipedrive_org_count(struct fake_pipedrive *fp);

/*
 * fake_pipedrive_crm_view - what the CRM holds, normalized for comparison with another
 * CRM's fake (fake_hubspot_crm_view), crm_view.h's shape: a JSON array text (malloc'd) of
 * {"email", "name", "company": its organization's name, "customer": the person has label
 * customer_label_id, "meetings": the activities of type meeting it takes part in, as
 * {"title" (without a "Canceled: " / "No-show: " prefix), "start" ("YYYY-MM-DDTHH:MM:SSZ"),
 * "status": booked (not done), canceled, no_show (by the prefix), held (done)}}.
 */
char *fake_pipedrive_crm_view(struct fake_pipedrive *fp, long customer_label_id);

/* --- faults ---------------------------------------------------------------------------- */

/* The next `times` requests with this method (NULL: any) whose path starts with
 * path_prefix are refused 429 with Retry-After: retry_after_s, before anything is applied
 * (a burst over the rate limit). */
void fake_pipedrive_rate_limit(struct fake_pipedrive *fp, const char *method,
                               const char *path_prefix, int retry_after_s, int times);

/* The burst limit per 2-second window (default 80): requests past it in a window are
 * answered 429 (Retry-After: the seconds left in the window), and x-ratelimit-remaining
 * counts down to it. */
void fake_pipedrive_burst_limit(struct fake_pipedrive *fp, int limit);

/* The writes (POST, PUT, PATCH, DELETE) left today; each write spends one. At 0, writes
 * are answered 429 with x-daily-requests-left: 0, and Retry-After: retry_after_s when it
 * is >= 0 (Pipedrive: the seconds to UTC midnight). left < 0: no daily budget (the header
 * says 10000). */
void fake_pipedrive_daily_budget(struct fake_pipedrive *fp, long left, int retry_after_s);

/* How an answer is lost. */
enum fake_pipedrive_loss {
    FAKE_PIPEDRIVE_LOSE_502,  /* a 502 from Pipedrive's edge instead */
    FAKE_PIPEDRIVE_LOSE_RESET /* the connection reset, no answer */
};

/* The next `times` matching requests are carried out (the write applied), then their
 * answers lost on the way back. */
void fake_pipedrive_lose_answers(struct fake_pipedrive *fp, const char *method,
                                 const char *path_prefix, int times, enum fake_pipedrive_loss how);

/* The next `times` matching requests fail with `status` (a 5xx, say) and are not carried
 * out. */
void fake_pipedrive_fail(struct fake_pipedrive *fp, const char *method, const char *path_prefix,
                         int status, int times);

/* Every answer from now on comes latency_ms after its request (0: at once). */
void fake_pipedrive_latency(struct fake_pipedrive *fp, int latency_ms);

/* The search index lags creations: a person (or organization) created less than lag_ms
 * ago, or fewer than lag_searches searches ago, is not found by the search endpoints
 * (listing finds it at once). (0, 0): no lag. */
void fake_pipedrive_search_lag(struct fake_pipedrive *fp, int lag_ms, int lag_searches);

/* --- requests -------------------------------------------------------------------------- */

/* How many requests had this method (NULL: any) and a path (with its query) starting with
 * path_prefix. */
size_t fake_pipedrive_count(struct fake_pipedrive *fp, const char *method, const char *path_prefix);
/* The URL (path and query) and body of the nth (from 0) such request, malloc'd (NULL when
 * there is none): *body_out too when not NULL. */
char *fake_pipedrive_find(struct fake_pipedrive *fp, const char *method, const char *path_prefix,
                          size_t nth, char **body_out);
/* How many requests carried `text` in their URL or body (a token leaked into a query
 * string). */
size_t fake_pipedrive_requests_containing(struct fake_pipedrive *fp, const char *text);

#endif
