/*
 * hubspot.h - internal interface of the HubSpot CRM connector (source and sink).
 *
 * Files, one job each:
 *   hubspot.c               descriptor, settings, init/destroy, the callbacks' entry points
 *   hubspot_api.c           requests to HubSpot: credentials, answers, rate limits
 *   hubspot_json.c          pure mapping: lead <-> contact properties, times, changes
 *   hubspot_batch.c         pure reading of HubSpot's batch answers (200, 207, 400)
 *   hubspot_sink.c          deliver / deliver_batch: what each event asks of HubSpot
 *   hubspot_sink_contacts.c contacts batch upsert/update, identities, what the hub wrote
 *   hubspot_sink_meetings.c meeting engagements and their associations
 *   hubspot_changes.c       contacts and deals seen through search or webhooks -> events
 *   hubspot_meeting_json.c  pure: meeting engagements read from HubSpot, by their outcome
 *   hubspot_meeting_changes.c  meeting engagements seen through search or webhooks -> events
 *   hubspot_source.c        search polling, paged by modification time
 *   hubspot_webhook.c       X-HubSpot-Signature-v3 and notification batches
 *
 * The pure functions (no host, no I/O) are the ones the fuzz targets and tests drive.
 */
#ifndef LEADHUB_HUBSPOT_H
#define LEADHUB_HUBSPOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "leadhub.h"

#define HUBSPOT_BATCH_MAX         100   /* inputs per batch request (HubSpot's limit) */
#define HUBSPOT_SEARCH_CAP        10000 /* results one search query can page through */
#define HUBSPOT_SEARCH_LIMIT      100   /* results per search page (HubSpot allows 200) */
#define HUBSPOT_SEARCH_OVERLAP    10000 /* ms a finished pass's watermark steps back */
#define HUBSPOT_MAX_PAGES         100   /* search pages per poll, per object type */
#define HUBSPOT_TEXT_MAX          1024  /* what an event's text field may hold */
#define HUBSPOT_ID_MAX            24    /* digits of a HubSpot object id, with NUL */
#define HUBSPOT_MESSAGE_MAX       300   /* bytes of HubSpot's message quoted in an error */
#define HUBSPOT_MEETING_ASSOC     200   /* documented meeting -> contact association type */
#define HUBSPOT_AUTH_RECHECK_MS   (15LL * 60 * 1000)
#define HUBSPOT_DAILY_RECHECK_MS  (60LL * 60 * 1000) /* a DAILY 429 is asked again hourly */
#define HUBSPOT_INTERVAL_MAX_MS   600000 /* a rate-limit window longer than this is not believed */
#define HUBSPOT_WEBHOOK_WINDOW    300000 /* ms a v3 signature's timestamp may be off */
#define HUBSPOT_NOTIFICATIONS     200    /* pending notifications a poll takes at once */
#define HUBSPOT_NOTIFIED_ROUNDS   10     /* takes per poll before it asks to come back */
#define HUBSPOT_DEFAULT_BASE      "https://api.hubapi.com"
#define HUBSPOT_DEFAULT_TOKEN     "https://api.hubapi.com/oauth/v1/token"
#define HUBSPOT_DEFAULT_AUTHORIZE "https://app.hubspot.com/oauth/authorize"
#define HUBSPOT_METRIC_SKIPPED    "hubspot_skipped_total"
#define HUBSPOT_METRIC_RATELIMIT  "hubspot_rate_limited_total"

enum hubspot_auth { HUBSPOT_AUTH_PRIVATE_APP, HUBSPOT_AUTH_OAUTH };

/* What a lead.erased does to the lead's contact (setting on_erased). */
enum hubspot_erasure { HUBSPOT_ERASE_GDPR_DELETE, HUBSPOT_ERASE_ARCHIVE, HUBSPOT_ERASE_KEEP };

/* A lead field ("first_name", "attributes.tier") and the contact property it maps to. */
struct hubspot_field {
    char *field;
    char *property;
};

struct hubspot_mapping {
    struct hubspot_field *fields; /* pushed and pulled; "email" always first */
    size_t field_count;
    char **pulled; /* read-only properties, pulled into lead.attributes.<property> */
    size_t pulled_count;
};

/* The instance. Callbacks of one instance never run at once (the plugin is not
 * reentrant), so the mutable part below needs no lock. */
struct hubspot {
    const lh_host_t *host;
    enum hubspot_auth auth;
    char *access_token; /* private app */
    char *client_id;    /* oauth */
    char *client_secret;
    char *refresh_token; /* NULL: the grant given by consent (`leadhubd connect`) */
    char *token_url;
    lh_oauth2_t oauth; /* points into the strings above */
    char *api_base;    /* without a trailing slash */
    char **webhook_secrets;
    size_t webhook_secret_count;
    char *webhook_url;
    struct hubspot_mapping mapping;
    json_t *score_properties; /* scorer name -> property; owned */
    size_t batch_size;
    int64_t timeout_ms;
    int64_t search_interval_ms;
    int64_t backfill_ms;
    enum hubspot_erasure on_erased;
    bool pull_contacts;
    bool pull_deals;
    bool pull_meetings;

    /* mutable state */
    int64_t throttled_until_ms; /* wall clock; HubSpot said 429 */
    char throttle_policy[32];
    bool auth_failed;       /* the OAuth grant was refused: re-authorize */
    bool auth_failed_grant; /* ...by the grant: the host fails fast until a new one */
    int64_t auth_failed_at_ms;
    char *auth_failed_reason;
    long meeting_association_type; /* 0 until discovered */
    int64_t last_search_ms;        /* wall clock of the last search answer */
    int first_kind;                /* the kind whose search was not due last poll goes first */
};

/* ---------------------------------------------------------------------------------------
 * hubspot_json.c - pure helpers.
 * ------------------------------------------------------------------------------------- */

/* Epoch milliseconds from HubSpot's ISO-8601 text ("2025-03-06T10:15:02.447Z", offsets
 * allowed) or an epoch-milliseconds string; -1 when it is neither. */
int hubspot_parse_time(const char *text, int64_t *ms_out);

/* "YYYY-MM-DDTHH:MM:SS.mmmZ" (out: 32 bytes). */
void hubspot_format_time(int64_t ms, char *out);

/* The text HubSpot stores for a JSON value (every property is a string there): strings
 * trimmed, integers and reals printed, booleans "true"/"false"; NULL for anything else,
 * for "", and for strings holding U+0000. Malloc'd. */
char *hubspot_value_text(const json_t *value);

/* A trimmed, lowercased email when it looks like one (as leadhub checks it), else NULL.
 * Malloc'd. */
char *hubspot_normalize_email(const char *text);

/* True when `id` is a HubSpot object id: 1-20 digits. */
bool hubspot_id_valid(const char *id);

/* An object id from JSON (a string of digits or a non-negative integer) into out
 * (HUBSPOT_ID_MAX bytes); false when it is neither. */
bool hubspot_id_from_json(const json_t *value, char *out);

/* Whether two property values are the same for HubSpot: equal after trimming, and for
 * email also ignoring case. */
bool hubspot_same_value(const char *property, const char *a, const char *b);

/*
 * hubspot_contact_properties - the contact properties for an event's lead, through the
 * mapping: every mapped field the lead carries, as text; `email` normalized.
 *   lead: BORROWED. Returns a NEW object (possibly empty), NULL when out of memory.
 */
json_t *hubspot_contact_properties(const struct hubspot_mapping *mapping, const json_t *lead);

/* Every property a contact is read with (mapped and pulled, plus lastmodifieddate), as a
 * NEW array of strings; NULL when out of memory. */
json_t *hubspot_contact_property_names(const struct hubspot_mapping *mapping);

/* What a contact seen in HubSpot means for leadhub. */
struct hubspot_contact_change {
    char id[HUBSPOT_ID_MAX];
    int64_t modified_ms;
    json_t *lead;        /* NEW: the lead of a lead.updated, or NULL when nothing changed */
    json_t *seen;        /* NEW: the record to keep under "contact:<id>" */
    unsigned changed;    /* fields carried in lead */
    unsigned suppressed; /* changed values that only echo what the hub wrote */
    unsigned dropped;    /* values leadhub cannot hold (too long, U+0000, bad email) */
};

/*
 * hubspot_contact_observe - compares a contact (a search or batch-read result) with what
 * was seen of it before and what the hub wrote to it, and builds the lead of a
 * lead.updated with only the fields that changed.
 *   seen:    BORROWED {"m": modified ms, "p": {property: value}} or NULL (never seen).
 *   written: BORROWED {"p": {property: {"v": value, "at": ms}}} or NULL.
 *   A changed value is an echo, and left out, when the hub wrote that very value after
 *   the last observation (written "at" later than seen "m", in HubSpot's clock).
 *   Returns 0, or -1 when the object has no usable id or modification time (out is then
 *   empty). On 0 the caller owns out->lead and out->seen (hubspot_contact_change_clear).
 */
int hubspot_contact_observe(const struct hubspot_mapping *mapping, const json_t *contact,
                            const json_t *seen, const json_t *written,
                            struct hubspot_contact_change *out);
void hubspot_contact_change_clear(struct hubspot_contact_change *change);

/* What a deal seen in HubSpot means for leadhub. */
struct hubspot_deal_change {
    char id[HUBSPOT_ID_MAX];
    int64_t modified_ms;
    json_t *data; /* NEW: data of a deal.stage_changed, or NULL when the stage is the same */
    json_t *seen; /* NEW: the record to keep under "deal:<id>" */
};

/*
 * hubspot_deal_observe - compares a deal with the stage seen before.
 *   seen: BORROWED {"m", "stage", "pipeline"} or NULL. A deal never seen with a stage is a
 *   change (it entered that stage). data: {"deal_id", "deal_name", "pipeline", "stage",
 *   "previous_stage", "previous_pipeline", "amount" (number), "owner_id"} as known.
 *   Returns 0, or -1 when the object has no usable id or modification time.
 */
int hubspot_deal_observe(const json_t *deal, const json_t *seen, struct hubspot_deal_change *out);
void hubspot_deal_change_clear(struct hubspot_deal_change *change);

/* The modification time of a HubSpot object: `property` (lastmodifieddate,
 * hs_lastmodifieddate), else updatedAt. 0, or -1 when it has neither. */
int hubspot_object_modified(const json_t *object, const char *property, int64_t *ms_out);

/* A string property's text (hubspot_value_text), NULL when absent, not a string, or over
 * HUBSPOT_TEXT_MAX bytes. Malloc'd. */
char *hubspot_property_text(const json_t *properties, const char *name);

/*
 * hubspot_meeting_outcome - hs_meeting_outcome for a meeting event: CANCELED for
 * meeting.canceled or a canceled meeting; COMPLETED, NO_SHOW, RESCHEDULED for the statuses
 * held, no_show, rescheduled; RESCHEDULED for a meeting.updated whose start moved from the
 * remembered one, or that was already RESCHEDULED; SCHEDULED otherwise.
 *   remembered: BORROWED {"starts_at", "outcome"} or NULL.
 */
const char *hubspot_meeting_outcome(const char *type, const json_t *meeting,
                                    const json_t *remembered);

/* hubspot_meeting_properties - the engagement's properties for a meeting event (NEW), or
 * NULL when out of memory. */
json_t *hubspot_meeting_properties(const json_t *event, const char *outcome);

/*
 * hubspot_rate_limit_delay - how long to wait after a 429.
 *   policy:         HubSpot's policyName (may be NULL).
 *   retry_after_ms: from Retry-After, or -1.
 *   interval_ms:    X-HubSpot-RateLimit-Interval-Milliseconds (the rolling window), or -1.
 *   Retry-After wins. DAILY: until the next midnight UTC, at most HUBSPOT_DAILY_RECHECK_MS
 *   (HubSpot resets at midnight in the account's time zone, which it does not say). The
 *   others: one window, interval_ms when it is 1..HUBSPOT_INTERVAL_MAX_MS, else 1 s for
 *   SECONDLY and 10 s for TEN_SECONDLY_ROLLING or an unnamed policy.
 */
int64_t hubspot_rate_limit_delay(const char *policy, int64_t retry_after_ms, int64_t interval_ms,
                                 int64_t now_ms);

/*
 * hubspot_error_text - "CATEGORY: message" from a HubSpot error body, or the body itself,
 * cut to HUBSPOT_MESSAGE_MAX bytes, control characters made spaces, never splitting a
 * UTF-8 sequence. out: HUBSPOT_MESSAGE_MAX + 64 bytes.
 */
void hubspot_error_text(const char *body, size_t len, char *out, size_t size);

/* True for the error categories worth retrying (throttling, HubSpot's own failures). */
bool hubspot_category_retryable(const char *category);

/* ---------------------------------------------------------------------------------------
 * hubspot_meeting_json.c - pure: meetings read from HubSpot.
 * ------------------------------------------------------------------------------------- */

#define HUBSPOT_MARKER_PREFIX "leadhub-ref:" /* in hs_internal_meeting_notes of the hub's own */

/* The meeting status of an hs_meeting_outcome (SCHEDULED scheduled, COMPLETED held,
 * RESCHEDULED rescheduled, NO_SHOW no_show, CANCELED canceled, in any case); NULL for an
 * outcome the account made up. */
const char *hubspot_meeting_status(const char *outcome);

/* What a meeting engagement seen in HubSpot means for leadhub. */
struct hubspot_meeting_change {
    char id[HUBSPOT_ID_MAX];
    int64_t modified_ms;
    const char *type; /* the event's type, or NULL when nothing leadhub keeps changed */
    json_t *meeting;  /* NEW: the event's meeting (attendees left to the caller), or NULL */
    json_t *seen;     /* NEW: the record to keep under "engagement:<id>" */
    bool own;         /* it carries the hub's marker: an engagement the hub wrote */
};

/*
 * hubspot_meeting_observe - compares a meeting engagement (a search or batch-read result)
 * with what was seen of it, and builds the meeting of a meeting.* event when its title,
 * times, place or outcome changed (or it was never seen): the type follows its outcome
 * (meeting.canceled, .held, .no_show, .rescheduled), else meeting.scheduled when new and
 * meeting.updated otherwise. external_id is the engagement id.
 *   seen: BORROWED {"m", "p": {...}} or NULL. Returns 0, or -1 when the object has no
 *   usable id or modification time. On 0 free out with hubspot_meeting_change_clear().
 */
int hubspot_meeting_observe(const json_t *object, const json_t *seen,
                            struct hubspot_meeting_change *out);
void hubspot_meeting_change_clear(struct hubspot_meeting_change *change);

/* Every property a meeting is read with, as a NEW array of strings. */
json_t *hubspot_meeting_property_names(void);

/* ---------------------------------------------------------------------------------------
 * hubspot_batch.c - pure reading of batch answers.
 * ------------------------------------------------------------------------------------- */

/* One input of a batch request and what became of it. */
struct hubspot_batch_item {
    const char *key;         /* the input's id: an email (upsert, read by email) or an object id */
    char id[HUBSPOT_ID_MAX]; /* the object id HubSpot answered with; "" when none */
    int64_t updated_ms;      /* the result's updatedAt, or -1 */
    bool failed;
    bool retryable;
    bool unidentified; /* failed because results lacked the key: which one is its is unknown */
    char existing[HUBSPOT_ID_MAX]; /* failed as a conflict: the object that holds the key */
    char message[HUBSPOT_MESSAGE_MAX + 64];
};

/*
 * hubspot_existing_id - the id in HubSpot's conflict message, "Contact already exists.
 * Existing ID: N" (also "A contact with email X already exists. Existing ID: N"), into out
 * (HUBSPOT_ID_MAX bytes). False when the message names no existing object.
 */
bool hubspot_existing_id(const char *message, char *out);

/*
 * hubspot_batch_results - reads a batch answer (200 or 207) into items[]: each result is
 * matched to its input by `match_property` (e.g. "email") or by id when NULL, never by
 * position (HubSpot does not promise the inputs' order; only a lone input takes a lone
 * result); each error of a 207 to the inputs its context or message names. Inputs left
 * without a result, while results without the key remain, fail retryable and
 * `unidentified` (the caller may look them up by key); the others fail with the errors no
 * input claimed (or "HubSpot returned no result for it"). An input failed by a conflict
 * naming the object that already holds its key gets that object's id in `existing`.
 *   body: BORROWED. Returns the number of failed items.
 */
size_t hubspot_batch_results(const json_t *body, const char *match_property,
                             struct hubspot_batch_item *items, size_t count);

/*
 * hubspot_batch_blame - the inputs a whole-request error message names (by key), marked
 * failed with `message`. Returns how many it named.
 */
size_t hubspot_batch_blame(const char *message, struct hubspot_batch_item *items, size_t count);

/* ---------------------------------------------------------------------------------------
 * hubspot_api.c - requests.
 * ------------------------------------------------------------------------------------- */

struct hubspot_response {
    long status;                            /* 0 when no answer came */
    json_t *body;                           /* NEW: the parsed body, NULL when empty or not JSON */
    char message[HUBSPOT_MESSAGE_MAX + 64]; /* HubSpot's error text for non-2xx */
    /* the reason handed to set_error for a failure; "" for a transport failure, whose
     * reason only the host knows (it is the call's error) */
    char reason[HUBSPOT_MESSAGE_MAX + 320];
};

/*
 * hubspot_call - one request to api_base + path with the instance's credentials.
 *   body: BORROWED, sent as JSON; NULL for none. Sent once (the host retries nothing:
 *   a 429's wait is the policy's, see hubspot_rate_limit_delay()).
 *   Returns LH_OK for 2xx (207 included) with out->body; otherwise the status the answer
 *   means, with the reason set: LH_AUTH (401, OAuth: the host refreshes and calls again),
 *   LH_CONFIG (a refused private app token, missing scopes, a refused OAuth grant),
 *   LH_RETRY_AFTER (429, with the policy's delay; later calls fail fast until it
 *   passes), LH_RETRY (5xx, transport), LH_PERMANENT (other 4xx). out->status and
 *   out->message tell the caller more (404, a 400's text). Free out with
 *   hubspot_response_clear() in every case.
 */
lh_status_t hubspot_call(struct hubspot *hs, lh_ctx_t *ctx, const char *method, const char *path,
                         const json_t *body, struct hubspot_response *out);
void hubspot_response_clear(struct hubspot_response *response);

/* Replaces every occurrence of the instance's secrets in text with "[redacted]". */
void hubspot_redact(const struct hubspot *hs, char *text);

/* Sets the "failed" state after a refused OAuth grant (reason copied). */
void hubspot_auth_fail(struct hubspot *hs, lh_ctx_t *ctx, const char *reason);

/* ---------------------------------------------------------------------------------------
 * Sink (hubspot_sink_contacts.c, hubspot_sink_meetings.c).
 * ------------------------------------------------------------------------------------- */

/* The sink's callbacks (hubspot_sink.c). */
lh_status_t hubspot_deliver(void *state, lh_ctx_t *ctx, const lh_delivery_t *delivery);
lh_status_t hubspot_deliver_batch(void *state, lh_ctx_t *ctx,
                                  const lh_delivery_t *const *deliveries, size_t count,
                                  lh_status_t *results, char **messages);

/* A contact write shared by the deliveries of one batch that touch the same contact. */
struct hubspot_contact_input {
    char *key;          /* normalized email, or a contact id with by_id */
    bool by_id;         /* batch/update by id rather than upsert by email */
    char *email;        /* by_id: the lead's email, upserted by when the id is gone; or NULL */
    json_t *properties; /* merged, later deliveries win */
    char id[HUBSPOT_ID_MAX];
    lh_status_t status;
    char *message;
};

/* One deliver_batch call. */
struct hubspot_batch {
    struct hubspot *hs;
    lh_ctx_t *ctx;
    const lh_delivery_t *const *deliveries;
    size_t count;
    lh_status_t *results;
    char **messages;
    bool *decided;  /* results[i] is final */
    long *input_of; /* per delivery: its contact input, or -1 */
    struct hubspot_contact_input *inputs;
    size_t input_count;
    /* after a failure that will fail every later request too (credentials, rate limit,
     * HubSpot down): the status and reason (NULL: the host's) for what is left */
    lh_status_t abort_status;
    char *abort_reason;
};

/* Marks delivery i decided with status and a reason (copied, redacted; NULL or "" leaves
 * the call's error as its reason). */
void hubspot_batch_decide(struct hubspot_batch *batch, size_t i, lh_status_t status,
                          const char *reason);

/* After a failed request: stops the batch's further requests when the failure is one
 * they would share (anything but LH_PERMANENT), keeping the status and reason. */
void hubspot_batch_note_failure(struct hubspot_batch *batch, lh_status_t status,
                                const char *reason);

/* Adds (or merges into) the contact input for key; returns its index or -1 (no memory).
 * properties: BORROWED. email: by_id, the lead's email to fall back on (copied), or NULL. */
long hubspot_contact_input_add(struct hubspot_batch *batch, const char *key, bool by_id,
                               const char *email, const json_t *properties);

/* Sends every contact input, records outcomes, identities and what the hub wrote. */
void hubspot_contacts_send(struct hubspot_batch *batch);

/* Creates or updates the engagement of every meeting delivery not yet decided. */
void hubspot_meetings_send(struct hubspot_batch *batch);

/* This instance's contact id of the lead: from the resolved lead's identities (BORROWED,
 * may be NULL), else from the event's lead.external_ids.<self>; false when neither has
 * one. */
bool hubspot_contact_id_of(const json_t *resolved, const json_t *event_lead, const char *self,
                           char id[HUBSPOT_ID_MAX]);

/* Deletes, as on_erased says, the contact of every lead.erased delivery not yet decided
 * (hubspot_sink_erasure.c). Runs after the batch's other writes. */
void hubspot_erasures_send(struct hubspot_batch *batch);

/* ---------------------------------------------------------------------------------------
 * Source (hubspot_changes.c, hubspot_source.c, hubspot_webhook.c).
 * ------------------------------------------------------------------------------------- */

/*
 * hubspot_emit_contacts / hubspot_emit_deals - turn contacts / deals fetched from HubSpot
 * into events, keeping what was seen in checkpoints (committed with the events).
 *   objects: BORROWED array of HubSpot objects. max_modified_out: the latest modification
 *   time among them (unchanged when none). Returns LH_OK, or a failure to pass on.
 */
lh_status_t hubspot_emit_contacts(struct hubspot *hs, lh_ctx_t *ctx, const json_t *objects,
                                  int64_t *max_modified_out);
lh_status_t hubspot_emit_deals(struct hubspot *hs, lh_ctx_t *ctx, const json_t *objects,
                               int64_t *max_modified_out);

/* Fetches contacts / deals / meetings by id (batch read) and emits what changed. ids:
 * array of strings, BORROWED. */
lh_status_t hubspot_fetch_contacts(struct hubspot *hs, lh_ctx_t *ctx, const json_t *ids);

/* --- hubspot_records.c: deletions and merges the webhook recorded --------------------- */

/* Whether a pending notification's key is a deletion or merge ("contact.deleted:<id>",
 * "contact.merged:<id>"), which hubspot_emit_record_changes() handles, not a fetch. */
bool hubspot_record_change_key(const char *key);

/* Emits lead.deleted / lead.merged for the deletions and merges among taken notification
 * items (borrowed); the others are left alone. */
lh_status_t hubspot_emit_record_changes(struct hubspot *hs, lh_ctx_t *ctx, const json_t *items);
lh_status_t hubspot_fetch_deals(struct hubspot *hs, lh_ctx_t *ctx, const json_t *ids);
lh_status_t hubspot_fetch_meetings(struct hubspot *hs, lh_ctx_t *ctx, const json_t *ids);

/* hubspot_emit_meetings - meeting engagements fetched from HubSpot into meeting.* events
 * (hubspot_meeting_changes.c), as hubspot_emit_contacts. */
lh_status_t hubspot_emit_meetings(struct hubspot *hs, lh_ctx_t *ctx, const json_t *objects,
                                  int64_t *max_modified_out);

/* Helpers of hubspot_changes.c the other readers share. */

/* A copy of a HubSpot object fit for an event's raw (no U+0000 strings, no non-finite
 * numbers, nothing deeper than 8 levels). NEW. */
json_t *hubspot_raw_copy(const json_t *value, int depth);

/* Emits one event (STOLEN); an event the host refuses is skipped and counted (LH_OK).
 * object/id name it in the log and the hubspot_changes_total{object} counter. */
lh_status_t hubspot_emit(struct hubspot *hs, lh_ctx_t *ctx, json_t *event, const char *object,
                         const char *id);

/* A checkpoint value (NEW, NULL when absent); LH_RETRY when it cannot be read. */
lh_status_t hubspot_state_get(struct hubspot *hs, lh_ctx_t *ctx, const char *key, json_t **out);

/* One batch read of ids[start..start+n) at path: the results of a 200 or 207 (missing
 * objects counted as not_found) as a NEW array in *results_out. */
lh_status_t hubspot_batch_read(struct hubspot *hs, lh_ctx_t *ctx, const char *path,
                               const json_t *properties, const json_t *ids, size_t start, size_t n,
                               json_t **results_out);

/* id -> [contact ids] for objects of type `object` ("deals", "meetings"; ids: array of
 * strings) from the v4 associations batch read. NEW object in *out. A refusal (no scope,
 * say) leaves them without contacts rather than holding the changes back. */
lh_status_t hubspot_associated_contacts(struct hubspot *hs, lh_ctx_t *ctx, const char *object,
                                        const json_t *ids, json_t **out);

/* contact id -> normalized email for the contacts (array of ids), read by id. NEW object. */
lh_status_t hubspot_contact_emails(struct hubspot *hs, lh_ctx_t *ctx, const json_t *contact_ids,
                                   json_t **out);

lh_status_t hubspot_poll(void *state, lh_ctx_t *ctx);

/* The objects a webhook batch says changed. */
struct hubspot_notifications {
    /* NEW object: "contact:<id>" / "deal:<id>" -> {"at": the latest occurredAt the batch
     * gives it, epoch ms, 0 when none}: the pending notifications to record, each object
     * once. The same body always gives the same records (a redelivery changes nothing). */
    json_t *records;
    size_t count;      /* notifications in the body */
    size_t ignored;    /* subscription types the connector does not fetch */
    size_t duplicates; /* notifications whose eventId was already in this body */
};

/*
 * hubspot_notifications_parse - reads a webhook body (a JSON array of notifications).
 *   Returns 0, or -1 with *error_out (malloc'd) for a body that is not such an array.
 *   On 0, free out with hubspot_notifications_clear().
 */
int hubspot_notifications_parse(const char *body, size_t len, struct hubspot_notifications *out,
                                char **error_out);
void hubspot_notifications_clear(struct hubspot_notifications *notifications);

/*
 * hubspot_signature_uri - the URI a v3 signature covers: webhook_url, then "?" and the
 * raw query when there is one, with the escapes HubSpot decodes (%3A %2F %3F %40 %21 %24
 * %27 %28 %29 %2A %2C %3B) decoded. Malloc'd.
 */
char *hubspot_signature_uri(const char *webhook_url, const char *query);

lh_status_t hubspot_webhook(void *state, lh_ctx_t *ctx, const lh_webhook_request_t *request);

#endif
