/*
 * fake_hubspot.h - a local HubSpot for connector tests: a libmicrohttpd server on
 * 127.0.0.1 that keeps contacts, deals and meetings in memory and speaks HubSpot's JSON
 * for the endpoints the hubspot plugin uses:
 *
 *   POST /oauth/v1/token, /oauth/v3/token    refresh_token grant; rotation; invalid_grant
 *                                            or HubSpot's BAD_REFRESH_TOKEN when revoked;
 *                                            BAD_CLIENT_ID / BAD_CLIENT_SECRET
 *   POST /crm/v3/objects/contacts/batch/upsert   idProperty email; 200, or 207 with the
 *                                            rejected inputs' errors; 400 for duplicate
 *                                            ids, more than 100 inputs, or (when asked) a
 *                                            rejected email failing the whole request;
 *                                            409 "Contact already exists. Existing ID: N"
 *                                            for an email that is contact N's additional
 *                                            address (hs_additional_emails, ';'-separated)
 *   POST /crm/v3/objects/{contacts,deals}/batch/{read,update}   207 for unknown ids
 *   POST /crm/v3/objects/{contacts,deals}/search   lastmodifieddate / hs_lastmodifieddate
 *                                            GTE filter, ascending sort, `after` offsets,
 *                                            400 past the 10,000-result cap; a contact
 *                                            edited between two pages (when asked)
 *   POST /crm/v3/objects/meetings, PATCH /crm/v3/objects/meetings/{id} (404 when gone),
 *   POST /crm/v3/objects/meetings/batch/read, POST /crm/v3/objects/meetings/search
 *   POST /crm/v4/associations/{contacts/meetings,meetings/contacts}/batch/read
 *   GET  /crm/v4/associations/meetings/contacts/labels
 *   POST /crm/v4/associations/meetings/contacts/batch/create
 *   POST /crm/v4/associations/deals/contacts/batch/read
 *
 * Every /crm request needs a bearer token the fake issued or was told to accept (401
 * otherwise, EXPIRED_AUTHENTICATION for expired ones). Failures are scripted with
 * fake_hubspot_fail (5xx, ...) and fake_hubspot_rate_limit (HubSpot's 429s, with their
 * headers). Every request is recorded.
 * Times are the wall clock in ms, strictly increasing from one write to the next.
 */
#ifndef LEADHUB_FAKE_HUBSPOT_H
#define LEADHUB_FAKE_HUBSPOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fake_hubspot;

struct fake_hubspot *fake_hubspot_start(void);
void fake_hubspot_stop(struct fake_hubspot *hs);

/* "http://127.0.0.1:PORT" + path; malloc'd. */
char *fake_hubspot_url(const struct fake_hubspot *hs, const char *path);

/* --- credentials ------------------------------------------------------------------- */

/* Accepts `token` as a bearer token (a private app's). */
void fake_hubspot_allow_token(struct fake_hubspot *hs, const char *token);

/* The OAuth app: refresh grants with these credentials get access tokens that live
 * expires_in seconds, answered as HubSpot does (examples/hubspot/oauth.token.response.json,
 * plus hub_id, user_id and scopes). Another client_id is answered 400 BAD_CLIENT_ID, another
 * client_secret 400 BAD_CLIENT_SECRET, in HubSpot's {status, message, correlationId}. */
void fake_hubspot_oauth_client(struct fake_hubspot *hs, const char *client_id,
                               const char *client_secret, const char *refresh_token,
                               int expires_in);

/* The nth access token the fake issues (1 for the first): 320 characters, like HubSpot's
 * long ones. Malloc'd. */
char *fake_hubspot_access_token(int n);

/* The next token answer carries new_refresh_token, the only one accepted after it. */
void fake_hubspot_oauth_rotate(struct fake_hubspot *hs, const char *new_refresh_token);

enum fake_hubspot_revocation {
    FAKE_HUBSPOT_INVALID_GRANT,    /* 400 {"error":"invalid_grant",...} (OAuth 2.0) */
    FAKE_HUBSPOT_BAD_REFRESH_TOKEN /* 400 {"status":"BAD_REFRESH_TOKEN",...} (HubSpot v1) */
};

/* Refresh grants are refused from now on, in the given style. */
void fake_hubspot_oauth_revoke(struct fake_hubspot *hs, enum fake_hubspot_revocation style);

/* The app is installed again (a new consent): refresh_token is the one accepted from now
 * on, and an earlier revocation is over. */
void fake_hubspot_oauth_reinstall(struct fake_hubspot *hs, const char *refresh_token);

/* Every access token issued so far is answered 401 EXPIRED_AUTHENTICATION. */
void fake_hubspot_expire_tokens(struct fake_hubspot *hs);

/* --- data ---------------------------------------------------------------------------- */

/* Adds a contact with these properties (a JSON object of strings), modified at
 * modified_ms (0: now). Returns its id, malloc'd. */
char *fake_hubspot_contact_add(struct fake_hubspot *hs, const char *properties_json,
                               int64_t modified_ms);

/* Adds n contacts n0@bulk.example ... modified at first_ms, first_ms + 1, ... */
void fake_hubspot_contacts_add_many(struct fake_hubspot *hs, size_t n, int64_t first_ms);

/* A rep edits a contact: these properties change, lastmodifieddate = modified_ms (0: now). */
void fake_hubspot_contact_update(struct fake_hubspot *hs, const char *id,
                                 const char *properties_json, int64_t modified_ms);

/* The same edit, made by the fake itself right after it answers the nth contacts search
 * from now on (1: the next one): a record modified while a poll pages through them. */
void fake_hubspot_contact_update_after_search(struct fake_hubspot *hs, const char *id,
                                              const char *properties_json, size_t nth);

/* Adds n contacts same0@bulk.example ... all modified at modified_ms. */
void fake_hubspot_contacts_add_at(struct fake_hubspot *hs, size_t n, int64_t modified_ms);

/* A rep deletes a contact: it is read and searched no more (archived); its email is free
 * for a new contact. */
void fake_hubspot_contact_delete(struct fake_hubspot *hs, const char *id);
/* A rep restores a deleted contact (within HubSpot's 90 days): unchanged, but
 * lastmodifieddate moves. */
void fake_hubspot_contact_restore(struct fake_hubspot *hs, const char *id);
/* A rep merges contact `merged` into `primary` (HubSpot keeps the primary's id): the
 * primary keeps its values and takes those it lacks, the merged email becomes one of its
 * hs_additional_emails, the merged contact is gone, the primary's lastmodifieddate moves. */
void fake_hubspot_contact_merge(struct fake_hubspot *hs, const char *primary, const char *merged);
/* The contact's properties as JSON text (malloc'd), or NULL. */
char *fake_hubspot_contact(struct fake_hubspot *hs, const char *id);

/* "live", "archived" (DELETE: restorable), "purged" (GDPR delete: gone for good), or NULL
 * for an id it never had. Static strings. */
const char *fake_hubspot_contact_state(struct fake_hubspot *hs, const char *id);

/* The id of the contact with this email (malloc'd), or NULL. */
char *fake_hubspot_contact_id(struct fake_hubspot *hs, const char *email);

size_t fake_hubspot_contact_count(struct fake_hubspot *hs);

/* Adds a deal associated with contact_id (may be NULL); its id, malloc'd. */
char *fake_hubspot_deal_add(struct fake_hubspot *hs, const char *properties_json,
                            const char *contact_id, int64_t modified_ms);

/* A rep edits a deal. */
void fake_hubspot_deal_update(struct fake_hubspot *hs, const char *id, const char *properties_json,
                              int64_t modified_ms);

size_t fake_hubspot_meeting_count(struct fake_hubspot *hs);

/* Meeting i (in creation order) as {"id", "properties", "contacts": [{"id", "type"}]} text,
 * malloc'd, or NULL. */
char *fake_hubspot_meeting(struct fake_hubspot *hs, size_t i);

/* A rep books a meeting in HubSpot: properties (JSON object of strings), associated with
 * contact_id (may be NULL), modified at modified_ms (0: now). Its id, malloc'd. */
char *fake_hubspot_meeting_add(struct fake_hubspot *hs, const char *properties_json,
                               const char *contact_id, int64_t modified_ms);

/* A rep edits a meeting (its outcome, say): properties change, hs_lastmodifieddate moves. */
void fake_hubspot_meeting_update(struct fake_hubspot *hs, const char *id,
                                 const char *properties_json, int64_t modified_ms);

/* Deletes the meeting with this id (a rep removed it). */
void fake_hubspot_meeting_delete(struct fake_hubspot *hs, const char *id);

/* The association type ids the labels endpoint reports for meeting -> contact (default
 * 200, plus a labeled USER_DEFINED one). */
void fake_hubspot_meeting_association_type(struct fake_hubspot *hs, int type_id);

/*
 * fake_hubspot_crm_view - what HubSpot holds, in the CRM-neutral view of crm_view.h
 * (JSON text, malloc'd): every live contact with its email, "firstname lastname" as name,
 * its company property, customer when its lifecyclestage is customer, and the meetings associated
 * with it (hs_meeting_title, hs_meeting_start_time, hs_meeting_outcome: SCHEDULED and RESCHEDULED
 * are booked, CANCELED canceled, COMPLETED held, NO_SHOW no_show).
 */
char *fake_hubspot_crm_view(struct fake_hubspot *hs);

/* --- failures ------------------------------------------------------------------------ */

/* The next `times` requests with this method (NULL: any) whose path starts with
 * path_prefix answer `status` with `body` and extra headers ("Name: value" lines separated
 * by \n, or NULL). */
void fake_hubspot_fail(struct fake_hubspot *hs, const char *method, const char *path_prefix,
                       int status, const char *body, const char *header, int times);

/* The same, once `skip` matching requests have been answered normally. */
void fake_hubspot_fail_later(struct fake_hubspot *hs, const char *method, const char *path_prefix,
                             int skip, int status, const char *body, const char *header, int times);

/* The next `times` matching requests are carried out, but their answers are lost on the
 * way back: the client gets a 504 from HubSpot's edge instead (as when HubSpot took the
 * write and its answer timed out). */
void fake_hubspot_lose_answers(struct fake_hubspot *hs, const char *method, const char *path_prefix,
                               int times);

/*
 * fake_hubspot_rate_limit - the next `times` matching requests answer HubSpot's 429: the
 * body of examples/hubspot/error.429.ten_secondly.json with `policy` ("TEN_SECONDLY_ROLLING",
 * "SECONDLY", "DAILY") as policyName, and, as HubSpot documents, the X-HubSpot-RateLimit-*
 * headers (Max, Remaining, Interval-Milliseconds = interval_ms, Daily, Daily-Remaining:
 * 0 for DAILY), except for SECONDLY, the search API's limit, whose answers carry none.
 */
void fake_hubspot_rate_limit(struct fake_hubspot *hs, const char *method, const char *path_prefix,
                             const char *policy, int interval_ms, int times);

/* Upserts of `email` are refused with this category and message (times: 0 = always). */
void fake_hubspot_reject_email(struct fake_hubspot *hs, const char *email, const char *category,
                               const char *message, int times);

/* With true, a refused email fails its whole upsert request with a 400 naming it (as
 * HubSpot's validation does), instead of a 207 for that input alone. */
void fake_hubspot_reject_whole_request(struct fake_hubspot *hs, bool whole);

/* With true, upsert answers leave the email out of their results' properties and list the
 * results in reverse order: only their ids say which contact each is. */
void fake_hubspot_anonymous_upserts(struct fake_hubspot *hs, bool anonymous);

/* The upsert result of `email` alone leaves its email out (the others keep theirs, in the
 * inputs' order); NULL turns it off. */
void fake_hubspot_anonymous_upsert_of(struct fake_hubspot *hs, const char *email);

/* --- latency ------------------------------------------------------------------------- */

/* Every request from now on is answered latency_ms after it arrives (0: at once), from the
 * data of that moment: a slow HubSpot. A change wakes the requests being held, which then
 * go on at the new pace (0 lets them all go at once). */
void fake_hubspot_latency(struct fake_hubspot *hs, int64_t latency_ms);

/* How many requests are being held by the latency now. */
size_t fake_hubspot_held(struct fake_hubspot *hs);

/* --- requests ------------------------------------------------------------------------ */

struct fake_hubspot_request {
    char *method;
    char *path; /* with the query */
    char *body;
    char *authorization;
    int64_t received_ms; /* wall clock (util_now_ms()) when it arrived */
};

size_t fake_hubspot_request_count(struct fake_hubspot *hs);

/* A copy of request i (free with fake_hubspot_request_free). */
struct fake_hubspot_request fake_hubspot_request(struct fake_hubspot *hs, size_t i);

/* How many requests had this method (NULL: any) and a path starting with path_prefix. */
size_t fake_hubspot_count(struct fake_hubspot *hs, const char *method, const char *path_prefix);

/* The nth (from 0) such request, or a zeroed one. */
struct fake_hubspot_request fake_hubspot_find(struct fake_hubspot *hs, const char *method,
                                              const char *path_prefix, size_t nth);

void fake_hubspot_request_free(struct fake_hubspot_request *request);

#endif
