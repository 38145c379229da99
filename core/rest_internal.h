/* rest_internal.h - what the rest_*.c handlers share. */
#ifndef LEADHUB_REST_INTERNAL_H
#define LEADHUB_REST_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "daemon.h"
#include "rest.h"
#include "store_pg.h"

#define REST_LIMIT_DEFAULT 100
#define REST_LIMIT_MAX     500

/*
 * rest_store - this thread's database connection for REST reads (one per API worker,
 * opened on first use, sessions in UTC so timestamps read as RFC 3339 Z). NULL with a 503
 * set on the response when the database cannot be reached.
 */
struct store *rest_store(struct daemon *daemon, struct rest_response *response);

/* rest_params_only - 400 naming the first query parameter not in `allowed` (NULL-ended). */
bool rest_params_only(const struct rest_request *request, struct rest_response *response,
                      const char *const *allowed);

/* rest_json_body - 415 unless the request says its body is application/json. */
bool rest_json_body(const struct rest_request *request, struct rest_response *response);

/* The value of a parameter, or NULL. */
const char *rest_param(const struct rest_request *request, const char *name);

/* rest_param_limit - `limit` (default 100, 1..500) or a 400. */
bool rest_param_limit(const struct rest_request *request, struct rest_response *response,
                      int *limit_out);

/* rest_param_id - a positive integer parameter into text (for SQL), "" when absent; or a
 * 400 naming it. */
bool rest_param_id(const struct rest_request *request, struct rest_response *response,
                   const char *name, char out[24]);

/* rest_bad_parameter - 400 bad_parameter "<name>: <what>" naming it; returns false. */
bool rest_bad_parameter(struct rest_response *response, const char *name, const char *what);

/* rest_param_time_ms - an RFC 3339 parameter as Unix milliseconds (*given_out false when
 * absent, *ms_out then untouched); or 400. */
bool rest_param_time_ms(const struct rest_request *request, struct rest_response *response,
                        const char *name, int64_t *ms_out, bool *given_out);

/* rest_param_time - an RFC 3339 parameter normalized into out, "" when absent; or 400. */
bool rest_param_time(const struct rest_request *request, struct rest_response *response,
                     const char *name, char out[32]);

/* rest_param_number - a number parameter (text into out, "" when absent); or 400. */
bool rest_param_number(const struct rest_request *request, struct rest_response *response,
                       const char *name, char out[32]);

/*
 * rest_query_json - run a statement whose single row and column is JSON text, and parse
 * it. Params: NULL for SQL NULL ("" is turned into NULL: absent filters). On failure the
 * response is set (503 or 500) and NULL returned. NEW reference.
 */
json_t *rest_query_json(struct daemon *daemon, struct rest_response *response, const char *name,
                        const char *sql, int nparams, const char *const *params);

/*
 * rest_query_json_with - rest_query_json(), with sequential and bitmap scans off when
 * `index_scans_only` (in a transaction of its own, so that the settings end with it). For
 * a statement of index walks whose LIMITs must stop them, where a planner's guess could
 * pick a scan that reads far more (a bitmap scan reads every match before the LIMIT
 * applies). NEW reference.
 */
json_t *rest_query_json_with(struct daemon *daemon, struct rest_response *response,
                             const char *name, const char *sql, int nparams,
                             const char *const *params, bool index_scans_only);

/*
 * rest_get_by_id - GET of one row: `id` must be a positive integer (else 404, naming
 * `what`), `sql` takes it as $1 and yields the row's JSON, or nothing (404).
 */
void rest_get_by_id(const struct rest_request *request, struct rest_response *response,
                    const char *id, const char *what, const char *name, const char *sql);

/* rest_id_valid - the text of a positive id of at most 18 digits. */
bool rest_id_valid(const char *id);

/* rest_page - {"data": rows, "next": cursor or null}: next is the last row's `cursor_key`
 * when the page is full. `rows` is STOLEN. */
void rest_page(struct rest_response *response, json_t *rows, int limit, const char *cursor_key);

/* rest_ok - 200 (or `status`) with `body` STOLEN. */
void rest_ok(struct rest_response *response, int status, json_t *body);

/* Handlers: the request is routed and its scope checked. `id` is the path's {id}/{name}. */
void rest_leads_list(const struct rest_request *request, struct rest_response *response);
void rest_lead_get(const struct rest_request *request, struct rest_response *response,
                   const char *id);
void rest_meetings_list(const struct rest_request *request, struct rest_response *response);
void rest_meeting_get(const struct rest_request *request, struct rest_response *response,
                      const char *id);
void rest_events_list(const struct rest_request *request, struct rest_response *response);
void rest_events_post(const struct rest_request *request, struct rest_response *response,
                      struct ingest_batch *batch);
void rest_connectors_list(const struct rest_request *request, struct rest_response *response);
void rest_connector_get(const struct rest_request *request, struct rest_response *response,
                        const char *name);
void rest_connector_sync(const struct rest_request *request, struct rest_response *response,
                         const char *name);
void rest_connector_connect(const struct rest_request *request, struct rest_response *response,
                            const char *name);
void rest_connector_health(const struct rest_request *request, struct rest_response *response,
                           const char *name);
void rest_lead_timeline(const struct rest_request *request, struct rest_response *response,
                        const char *id);
void rest_report_funnel(const struct rest_request *request, struct rest_response *response);
void rest_report_meetings(const struct rest_request *request, struct rest_response *response);
void rest_token(const struct rest_request *request, struct rest_response *response);

/*
 * rest_connector_status - the status entries (docs/api.md, "Connector status") of the
 * configured instances and scorers named `only` (NULL: all). NULL with the response set
 * (503/500) when the database could not answer. NEW reference.
 */
json_t *rest_connector_status(const struct rest_request *request, struct rest_response *response,
                              const char *only);

/*
 * rest_connector_attention - what needs attention on one status entry (enabled instances
 * only): [{code, message}], codes not_running, needs_consent, token_failed,
 * consent_expiring, circuit_open, dead_deliveries, poll_failing, poll_lag. `now_ms` is the wall
 * clock (Unix ms). NEW reference.
 */
json_t *rest_connector_attention(const json_t *entry, int64_t now_ms);
void rest_deliveries_list(const struct rest_request *request, struct rest_response *response);
void rest_delivery_replay(const struct rest_request *request, struct rest_response *response,
                          const char *id);
void rest_deliveries_replay(const struct rest_request *request, struct rest_response *response);

#endif
