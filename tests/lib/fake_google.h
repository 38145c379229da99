/*
 * fake_google.h - a fake Google for the `google` connector's tests (libmicrohttpd on
 * 127.0.0.1): one mailbox's Gmail and Calendar and the OAuth token endpoint, speaking the
 * documented wire formats and their semantics (../shared/providers/gmail.md):
 *
 *   POST /token                              refresh_token grant: the configured refresh
 *                                            token gives "g-at-N" (3599 s); a revoked one,
 *                                            or any other, 400 invalid_grant
 *   GET  /gmail/v1/users/me/profile          {emailAddress, messagesTotal, historyId}
 *   GET  /gmail/v1/users/me/settings/sendAs  the mailbox and its aliases
 *   GET  /gmail/v1/users/me/messages         ids newest first, maxResults (≤500), pageToken
 *   GET  /gmail/v1/users/me/messages/{id}    format=metadata: only the metadataHeaders
 *                                            asked for; 404 for an unknown id
 *   GET  /gmail/v1/users/me/threads/{id}     the thread's messages, oldest first
 *   GET  /gmail/v1/users/me/history          startHistoryId (404 notFound when older than
 *                                            the oldest it keeps), messageAdded records in
 *                                            increasing id order, pages, historyId
 *   POST /gmail/v1/users/me/watch            {historyId, expiration}
 *   POST /calendar/v3/calendars/{id}/events/watch   a Channel; POST .../channels/stop 204
 *   GET  /calendar/v3/calendars/{id}/events  singleEvents; timeMin; pages; nextSyncToken on
 *                                            the last page; syncToken: what changed since
 *                                            (cancellations included), 410
 *                                            fullSyncRequired once expired
 *
 * API calls need "Authorization: Bearer <a live access token>" (401 authError otherwise).
 * A quota meter charges Gmail's units per method (messages.get 5, history 2, ...) against a
 * per-second budget; a request beyond it is refused 429 rateLimitExceeded (or 403
 * userRateLimitExceeded) with Google's error body and counted.
 */
#ifndef LEADHUB_FAKE_GOOGLE_H
#define LEADHUB_FAKE_GOOGLE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct fake_google;

/* A mailbox `address` whose grant is `refresh_token`. */
struct fake_google *fake_google_start(const char *address, const char *refresh_token);
void fake_google_stop(struct fake_google *fake);

/* "http://127.0.0.1:PORT" + path (malloc'd). */
char *fake_google_url(const struct fake_google *fake, const char *path);

/*
 * fake_google_add_message - a message arrives (a messageAdded history record).
 *   headers: "Name: value" lines separated by "\n" (copied).
 *   labels: comma-separated label ids ("INBOX,UNREAD"; "SENT").
 *   Returns its history id.
 */
unsigned long long fake_google_add_message(struct fake_google *fake, const char *id,
                                           const char *thread_id, const char *labels,
                                           long long internal_date_ms, const char *headers);

/* Forget history older than now: a stored startHistoryId before this gets 404. */
void fake_google_expire_history(struct fake_google *fake);

/* A page holds at most n items whatever maxResults says (0: maxResults decides). */
void fake_google_page_size(struct fake_google *fake, size_t n);

/* Calendar: put (add or change) an event of calendar `calendar_id` (STOLEN; `id` required,
 * `updated` set by the fake); cancel one (status cancelled, only the id kept). */
void fake_google_put_event(struct fake_google *fake, const char *calendar_id, json_t *event);
void fake_google_cancel_event(struct fake_google *fake, const char *calendar_id, const char *id);
/* Every sync token given so far expires: the next use gets 410. */
void fake_google_expire_sync_tokens(struct fake_google *fake);

/* Quota: units per second per user (0: unlimited, the default); refusals counted. With
 * forbidden_403 the refusal is 403 userRateLimitExceeded, else 429. */
void fake_google_quota(struct fake_google *fake, double units_per_second, bool forbidden_403);
size_t fake_google_quota_refusals(struct fake_google *fake);
double fake_google_units_spent(struct fake_google *fake);

/* The next n API requests get 429 (Google's body) whatever the meter says. */
void fake_google_throttle_next(struct fake_google *fake, size_t n);

/* The grant dies (the user revoked access): refreshes get invalid_grant, and access tokens
 * issued before stop working. */
void fake_google_revoke(struct fake_google *fake);

/* Domain-wide delegation: POST /token also takes grant_type
 * urn:ietf:params:oauth:grant-type:jwt-bearer with an assertion signed RS256 by the key
 * whose PEM public key is given, iss = issuer, sub = the mailbox, aud = this /token, a
 * scope, exp at most an hour after iat (each checked; 400 invalid_grant otherwise). */
void fake_google_delegation(struct fake_google *fake, const char *public_key_pem,
                            const char *issuer);

/* GET /oauth2/v3/certs answers this JWKS document (copied; no authorization needed), with
 * Cache-Control max-age=3600, as Google publishes the keys of its identity tokens. */
void fake_google_set_jwks(struct fake_google *fake, const char *jwks);

/* Requests received whose path starts with prefix (method NULL: any). */
size_t fake_google_count(struct fake_google *fake, const char *method, const char *prefix);

#endif
