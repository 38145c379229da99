/*
 * fake_linkedin.h - a fake LinkedIn Marketing API (Lead Sync) for connector tests
 * (libmicrohttpd on 127.0.0.1, under /rest), speaking its documented wire format and
 * semantics:
 *
 *   GET  /rest/leadForms/{id}           a form definition (404 when unknown)
 *   GET  /rest/leadFormResponses?q=owner&owner=(sponsoredAccount:urn%3Ali%3A...)
 *        &leadType=(leadType:SPONSORED)&limitedToTestLeads=..&submittedAtTimeRange=
 *        (start:MS,end:MS)&start=N&count=N
 *                                       the owner's responses in the range, newest first,
 *                                       offset-paged with paging{start,count,total}. The raw
 *                                       query is checked as Rest.li 2.0 writes it: a URN whose
 *                                       ':' are not percent-encoded, or a tuple that is, is
 *                                       answered 400 as LinkedIn does
 *   GET  /rest/leadFormResponses/{id}   one response (404 once deleted)
 *   POST /rest/leadNotifications        a subscription: LinkedIn first validates the webhook
 *                                       with GET ?challengeCode= (the HMAC checked), then
 *                                       answers 201 with the id in x-restli-id
 *
 * Every call needs "Authorization: Bearer <token>" with a token the fake OAuth server
 * issued and still honours (else 401 as error.401.json), X-Restli-Protocol-Version 2.0.0
 * and a LinkedIn-Version not sunset (else 426 NONEXISTENT_VERSION). A daily limit (429 with
 * LinkedIn's APPLICATION DAY body, no Retry-After) and a missing role (403) are switched
 * on by the test. The sender posts LEAD_ACTION notifications signed with X-LI-Signature in
 * either reading of LinkedIn's documentation.
 */
#ifndef LEADHUB_FAKE_LINKEDIN_H
#define LEADHUB_FAKE_LINKEDIN_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "fake_oauth.h"

struct fake_linkedin;

/* Starts the API; tokens are checked against idp; client_secret signs notifications and
 * checks challenge answers. */
struct fake_linkedin *fake_linkedin_start(struct fake_oauth *idp, const char *client_secret);
void fake_linkedin_stop(struct fake_linkedin *fake);

/* "http://127.0.0.1:PORT/rest", malloc'd: the api_base of the instance under test. */
char *fake_linkedin_api_base(const struct fake_linkedin *fake);

/* Adds a form definition (copied): served by its "id". */
void fake_linkedin_add_form(struct fake_linkedin *fake, const json_t *form);
/* Adds a response (copied); its owner.sponsoredAccount decides which finder lists it. */
void fake_linkedin_add_response(struct fake_linkedin *fake, const json_t *response);
/* Deletes a response (a member's or GDPR deletion): 404 from then on. */
void fake_linkedin_delete_response(struct fake_linkedin *fake, const char *id);

/* Versions older than `oldest` (YYYYMM) are answered 426; NULL: every version served. */
void fake_linkedin_sunset_before(struct fake_linkedin *fake, const char *oldest);
/* The application's daily limit is reached (every call 429) or not. */
void fake_linkedin_daily_limit(struct fake_linkedin *fake, bool reached);
/* The member lacks a role on the ad account (finder calls 403) or not. */
void fake_linkedin_forbid(struct fake_linkedin *fake, bool forbidden);

/* Every finder call is answered only after delay_ms (a slow LinkedIn: a backfill that
 * takes a while). */
void fake_linkedin_finder_delay(struct fake_linkedin *fake, int delay_ms);

/* Finder, get and form calls answered so far with `status` (0: any); path_prefix e.g.
 * "/rest/leadFormResponses?" ("" for every path). */
size_t fake_linkedin_count(struct fake_linkedin *fake, const char *method, const char *path_prefix,
                           int status);
/* A copy of the nth (0 first) request matching method and path_prefix (free with
 * fake_http_request_free); aborts the test when there is none. */
struct fake_request fake_linkedin_request(struct fake_linkedin *fake, const char *method,
                                          const char *path_prefix, size_t nth);

/* The subscriptions created (NEW array of the request bodies). */
json_t *fake_linkedin_subscriptions(struct fake_linkedin *fake);

enum fake_linkedin_reading {
    FAKE_LINKEDIN_READING_A, /* hex(HMAC(secret, "hmacsha256=" + body)) */
    FAKE_LINKEDIN_READING_B  /* "hmacsha256=" + hex(HMAC(secret, body)) */
};

/* The body of a LEAD_ACTION notification for a response (malloc'd). */
char *fake_linkedin_notification(const char *response_id, const char *form_urn, const char *account,
                                 const char *action, long long occurred_at);

/* X-LI-Signature of body in a reading with secret (malloc'd, without the header name). */
char *fake_linkedin_sign(const char *secret, const char *body, enum fake_linkedin_reading reading);

/* POSTs a notification body to webhook_url signed in `reading`; returns the HTTP status (0:
 * no answer). */
long fake_linkedin_post(struct fake_linkedin *fake, const char *webhook_url, const char *body,
                        enum fake_linkedin_reading reading);

/* LinkedIn's endpoint validation: GET webhook_url?challengeCode=<uuid>. Returns the status;
 * *valid_out says whether the answer was application/json with the right HMAC. */
long fake_linkedin_challenge(struct fake_linkedin *fake, const char *webhook_url, bool *valid_out);

#endif
