/*
 * pipedrive.h - internal interface of the Pipedrive CRM connector (source and sink), written
 * against Pipedrive's API v2 (docs/connectors/pipedrive.md).
 *
 * Files, one job each:
 *   pipedrive.c                descriptor, settings, init/destroy
 *   pipedrive_api.c            requests: credentials, pacing, rate limits, errors, redaction
 *   pipedrive_json.c           pure mapping: lead <-> person, deal -> event data, meetings
 *   pipedrive_lookup.c         find by search, create once (the lost-answer lookup)
 *   pipedrive_sink.c           deliver: what each event asks of Pipedrive
 *   pipedrive_sink_persons.c   person create-or-update by email, organizations, labels
 *   pipedrive_sink_meetings.c  one meeting activity per meeting
 *   pipedrive_sink_erasure.c   lead.erased: the lead's person deleted
 *   pipedrive_source.c         poll: organizations, persons, deals by update time
 *
 * The pure functions (no host, no I/O) are the ones the fuzz target and tests drive.
 */
#ifndef LEADHUB_PIPEDRIVE_H
#define LEADHUB_PIPEDRIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "leadhub-helpers.h"

#define PIPEDRIVE_DEFAULT_BASE   "https://api.pipedrive.com"
#define PIPEDRIVE_DEFAULT_TOKEN  "https://oauth.pipedrive.com/oauth/token"
#define PIPEDRIVE_DEFAULT_AUTH   "https://oauth.pipedrive.com/oauth/authorize"
#define PIPEDRIVE_ID_MAX         24     /* digits of an id, with NUL */
#define PIPEDRIVE_MESSAGE_MAX    300    /* bytes of Pipedrive's error quoted in a reason */
#define PIPEDRIVE_TEXT_MAX       1024   /* what an event's text field may hold */
#define PIPEDRIVE_PAGE_MAX       500    /* Pipedrive's limit per listed page */
#define PIPEDRIVE_PAGES_PER_POLL 20     /* pages per object type per poll, then poll_soon */
#define PIPEDRIVE_LOOKUP_PAGES   10     /* pages a lost-answer lookup lists at most */
#define PIPEDRIVE_CREATE_MARGIN  300000 /* ms before a recorded creation the lookup lists from */
#define PIPEDRIVE_BURST_WAIT_MS  2000   /* a 429 naming no delay: one 2-second window */
#define PIPEDRIVE_MARKER         "leadhub-ref: "
#define PIPEDRIVE_METRIC_SKIPPED "pipedrive_skipped_total"
#define PIPEDRIVE_METRIC_LIMITED "pipedrive_rate_limited_total"

enum pipedrive_auth { PIPEDRIVE_AUTH_TOKEN, PIPEDRIVE_AUTH_OAUTH };

/* What a lead field becomes on a person: one of the built-in fields, or a custom field. */
enum pipedrive_target { PD_NAME_NONE, PD_EMAIL, PD_PHONE, PD_ORG, PD_CUSTOM };

struct pipedrive_field {
    char *field; /* "phone", "title", "attributes.tier" */
    enum pipedrive_target target;
    char *key; /* PD_CUSTOM: the custom field's key */
};

struct pipedrive_mapping {
    struct pipedrive_field *fields;
    size_t count;
};

/* The instance. Callbacks never run at once (not reentrant): no lock. */
struct pipedrive {
    const lh_host_t *host;
    enum pipedrive_auth auth;
    char *api_token;
    char *client_id;
    char *client_secret;
    char *refresh_token;
    char *token_url;
    char *authorization_url;
    lh_oauth2_t oauth;
    char *api_base; /* without a trailing slash */
    int64_t customer_label_id; /* 0: none */
    struct pipedrive_mapping mapping;
    json_t *score_fields; /* scorer -> custom field key; owned */
    bool pull_persons, pull_organizations, pull_deals;
    int64_t backfill_ms;
    int64_t page_size;
    int64_t timeout_ms;
    bool keep_erased; /* on_erased: keep */

    /* mutable */
    int64_t wait_until_ms;  /* wall clock: no request before (pacing, a burst 429) */
    int64_t daily_until_ms; /* wall clock: no write before (the day's budget is spent;
                               reads are not counted by it) */
    json_t *stages;        /* stage id text -> {"name", "pipeline_id"}; NULL until read */
};

/* ---------------------------------------------------------------------------------------
 * pipedrive_api.c
 * ------------------------------------------------------------------------------------- */

struct pipedrive_response {
    long status;   /* HTTP status, 0 when none arrived */
    json_t *body;  /* parsed answer, or NULL */
    json_t *data;  /* borrowed from body: its "data" */
    bool maybe_applied; /* a write whose fate is unknown (5xx, timeout) */
};

/*
 * pipedrive_call - one request to Pipedrive: url is absolute (pipedrive_url()), body NULL
 * or JSON. Writes (POST) are sent once and only a 429 is called safe to repeat
 * (lh_http_write); PATCHes and reads are sent once too, the host's dispatcher and poller
 * retrying later. Answers:
 *   2xx with success:true  LH_OK, out->data set
 *   401                    LH_AUTH (oauth: the host refreshes) / LH_CONFIG (api_token)
 *   429                    LH_RETRY_AFTER: Retry-After, the daily budget (to midnight UTC),
 *                          else x-ratelimit-reset; later calls wait without sending
 *   404                    LH_PERMANENT with out->status 404 (callers look at it)
 *   408, 5xx, transport    LH_RETRY (maybe_applied for a POST)
 *   other / bad JSON       LH_PERMANENT
 * The reason is set (never a secret). Free out with pipedrive_response_clear().
 */
lh_status_t pipedrive_call(struct pipedrive *pd, lh_ctx_t *ctx, const char *method,
                           const char *url, const json_t *body, struct pipedrive_response *out);
void pipedrive_response_clear(struct pipedrive_response *response);

/* pipedrive_url - api_base + path ("/api/v2/persons"), ready for lh_url_add_*. */
void pipedrive_url(const struct pipedrive *pd, lh_url_t *url, const char *path);

/* Replaces every configured secret in text (in place) with "[redacted]". */
void pipedrive_redact(const struct pipedrive *pd, char *text);

/* ---------------------------------------------------------------------------------------
 * pipedrive_json.c - pure.
 * ------------------------------------------------------------------------------------- */

/* A trimmed, lowercased email when it looks like one, else NULL. Malloc'd. */
char *pipedrive_normalize_email(const char *text);

/* An id from JSON (a positive integer, or a string of 1-19 digits) into out; false if
 * neither. */
bool pipedrive_id_text(const json_t *value, char out[PIPEDRIVE_ID_MAX]);

/* Epoch ms of an RFC 3339 time in JSON; false when it is not one. */
bool pipedrive_time(const json_t *value, int64_t *ms_out);

/* updated_since's text: RFC 3339 to the second, as Pipedrive documents it
 * ("2026-12-07T10:20:30Z"), the milliseconds dropped (an earlier bound: inclusive lists
 * lose nothing). 0, or -1 when out of range. */
int pipedrive_since_text(int64_t ms, char out[LH_TIME_TEXT_SIZE]);

/* True when the person (a list item, a search item, a person object) carries `email`
 * among its emails (objects {"value"} or plain strings), ignoring case. */
bool pipedrive_person_has_email(const json_t *person, const char *email);

/* The person's primary email (else its first), normalized; NULL when none. Malloc'd. */
char *pipedrive_person_email(const json_t *person);

/*
 * pipedrive_person_body - the fields of a POST/PATCH /persons for a lead, through the
 * mapping: name from first/last name (for a new person, from the email's local part when
 * those are absent), emails, phones, custom fields. The company is left to the caller (an
 * organization to find).
 *   current: the person as Pipedrive has it (GET), or NULL for a creation. Only what
 *            differs from it is set; emails and phones, which a PATCH replaces whole, keep
 *            the person's own entries. An empty object: nothing to write.
 * NEW; NULL when out of memory.
 */
json_t *pipedrive_person_body(const struct pipedrive_mapping *mapping, const json_t *lead,
                              const char *email, const json_t *current);

/* The lead's company when the mapping sends it to the organization, else NULL
 * (borrowed from lead). */
const char *pipedrive_lead_company(const struct pipedrive_mapping *mapping, const json_t *lead);

/*
 * pipedrive_person_lead - the `lead` of a lead.updated for a person seen in Pipedrive:
 * external_id, email, first/last name (split from name when absent), phone, company
 * (org_name, may be NULL), custom fields mapped back, attributes.pipedrive_labels.
 * NEW; NULL when the person has no usable id.
 */
json_t *pipedrive_person_lead(const struct pipedrive_mapping *mapping, const json_t *person,
                              const char *org_name);

/*
 * pipedrive_deal_data - data of a deal.stage_changed when the deal's stage, pipeline or
 * status differs from `seen` ({"stage", "pipeline", "status"} or NULL: never seen), with
 * hubspot's keys (deal_id, deal_name, pipeline, stage, previous_stage, previous_pipeline,
 * amount, owner_id) plus status, currency, stage_name (from stages, may be NULL).
 *   data_out: NEW or NULL (nothing changed); seen_out: NEW, the record to keep.
 *   Returns 0, -1 when the deal has no usable id.
 */
int pipedrive_deal_data(const json_t *deal, const json_t *seen, const json_t *stages,
                        json_t **data_out, json_t **seen_out);

/*
 * pipedrive_activity_body - the activity of a meeting event (POST/PATCH /activities):
 * subject and done by the event type, due date/time and duration in UTC, location, and a
 * note whose first line is PIPEDRIVE_MARKER + marker. participants NOT set. NEW; NULL when
 * out of memory.
 *   lead_name: for "Meeting with <name>" when the meeting has no title.
 */
json_t *pipedrive_activity_body(const char *type, const json_t *meeting, const char *lead_name,
                                const char *marker);

/* pipedrive_error_text - Pipedrive's error (and error_info) from an answer's body, else the
 * body, cut to PIPEDRIVE_MESSAGE_MAX bytes, control characters made spaces. */
void pipedrive_error_text(const char *body, size_t len, char *out, size_t size);

/* ---------------------------------------------------------------------------------------
 * pipedrive_lookup.c
 * ------------------------------------------------------------------------------------- */

/* Whether a listed item is the one looked for. */
typedef bool (*pipedrive_match_fn)(const json_t *item, const void *arg);

/*
 * pipedrive_search - GET /api/v2/<collection>/search?term=&fields=<field>&exact_match=true:
 * the first item `match` accepts, its id into id_out ("" when none).
 */
lh_status_t pipedrive_search(struct pipedrive *pd, lh_ctx_t *ctx, const char *collection,
                             const char *field, const char *term, pipedrive_match_fn match,
                             const void *arg, char id_out[PIPEDRIVE_ID_MAX]);

/*
 * pipedrive_create_once - create a record that must not be created twice (Pipedrive takes
 * no idempotency key), remembering the attempt under checkpoint `key`:
 *   {"id": "7"}            done before: id_out
 *   {"creating": "<t>"}    an attempt whose answer was lost: GET <list_path>?updated_since=
 *                          t - margin (plus `filter`, "person_id=7" or NULL) pages, the
 *                          first item `match` accepts is it; none: POST again
 *   nothing                {"creating": now} is put, then POST <collection_path> body
 * On success {"id"} is put and the created item's update_time goes to *created (NEW, may
 * be NULL). A POST whose answer is lost returns its status with the marker kept.
 */
lh_status_t pipedrive_create_once(struct pipedrive *pd, lh_ctx_t *ctx, const char *key,
                                  const char *path, const char *filter_name,
                                  const char *filter_value, const json_t *body,
                                  pipedrive_match_fn match, const void *arg,
                                  char id_out[PIPEDRIVE_ID_MAX], json_t **created);

/* The id checkpointed under key ({"id"}), into id_out ("" when none). */
lh_status_t pipedrive_remembered_id(struct pipedrive *pd, lh_ctx_t *ctx, const char *key,
                                    char id_out[PIPEDRIVE_ID_MAX]);

/* ---------------------------------------------------------------------------------------
 * sink and source
 * ------------------------------------------------------------------------------------- */

/*
 * pipedrive_person_upsert - create or update the person of a delivery's lead: by its known
 * id, else by email (search, then the lost-answer creation). The id becomes the lead's
 * identity. For a payment, add_label is the customer label kept with the person's own.
 *   custom:    custom field key -> value to write too (a score), or NULL.
 *   lead_only: write nothing of the event's lead (a payer who is not the lead).
 *   Returns LH_OK with id_out; LH_HOLD when there is neither id nor email.
 */
lh_status_t pipedrive_person_upsert(struct pipedrive *pd, lh_ctx_t *ctx,
                                    const lh_delivery_t *delivery, int64_t add_label,
                                    const json_t *custom, bool lead_only,
                                    char id_out[PIPEDRIVE_ID_MAX]);

/* The person id of an email: remembered by the sink, else searched. "" when none. */
lh_status_t pipedrive_person_by_email(struct pipedrive *pd, lh_ctx_t *ctx, const char *email,
                                      char id_out[PIPEDRIVE_ID_MAX]);

/* This instance's person id of a delivery's lead, from its identities (the resolved lead's,
 * else the event's lead.external_ids.<instance>); false when it has none. */
bool pipedrive_known_person_id(struct pipedrive *pd, lh_ctx_t *ctx, const lh_delivery_t *delivery,
                               char id_out[PIPEDRIVE_ID_MAX]);

/* lead.erased: the lead's person deleted (or kept, by on_erased). */
lh_status_t pipedrive_erase(struct pipedrive *pd, lh_ctx_t *ctx, const lh_delivery_t *delivery);

/* The checkpoint key of what the sink wrote to a person (loop suppression). */
void pipedrive_written_key(const char *person_id, char *out, size_t size);

lh_status_t pipedrive_meeting_deliver(struct pipedrive *pd, lh_ctx_t *ctx,
                                      const lh_delivery_t *delivery, const char *type,
                                      const char *person_id);

lh_status_t pipedrive_deliver(void *state, lh_ctx_t *ctx, const lh_delivery_t *delivery);
lh_status_t pipedrive_poll(void *state, lh_ctx_t *ctx);

#endif
