/*
 * fake_msgraph.h - the Microsoft identity platform and Microsoft Graph (Outlook mail and
 * calendar) for tests, on 127.0.0.1, speaking Graph's wire format and semantics as
 * /work/shared/providers/msgraph.md describes them:
 *
 *   POST /{tenant}/oauth2/v2.0/token   client_credentials (client id, secret, the .default
 *                                      scope); an expired secret answers 401 invalid_client
 *                                      AADSTS7000222. (Delegated tokens come from fake_oauth:
 *                                      fake_msgraph_accept() lets Graph take them.)
 *   GET  /v1.0/users/{upn}/mailFolders/{inbox|sentitems}/messages/delta
 *                                      $select (projected), $filter=receivedDateTime+ge+T,
 *                                      Prefer: odata.maxpagesize; @odata.nextLink pages,
 *                                      @odata.deltaLink rounds; changes since the round as
 *                                      the latest version, deletions as @removed; a link
 *                                      issued before fake_msgraph_expire_links() is 410 Gone
 *                                      with resyncRequired and a Location
 *   GET  /v1.0/users/{upn}/calendarView/delta?startDateTime&endDateTime
 *                                      occurrences in the window; a change outside it comes
 *                                      as @removed (as Graph does); times converted to UTC
 *                                      when Prefer: outlook.timezone="UTC" asks (Windows
 *                                      zones Pacific/Eastern (US rules) and Romance/W. Europe
 *                                      (EU rules)), else given in the event's own zone
 *   POST /v1.0/subscriptions           the validation handshake made by the fake itself: it
 *                                      POSTs ?validationToken= to notificationUrl (and the
 *                                      lifecycle URL) and requires 200 text/plain with the
 *                                      decoded token, else 400; expirationDateTime at most
 *                                      10,080 minutes ahead
 *   PATCH/DELETE /v1.0/subscriptions/{id}   renew (404 when unknown or lapsed) / delete
 *
 * Every Graph request needs a live bearer token (401 InvalidAuthenticationToken). Limits per
 * mailbox, as Outlook's: requests per window and concurrent requests; past them 429 with
 * Retry-After, counted as refused.
 */
#ifndef LEADHUB_FAKE_MSGRAPH_H
#define LEADHUB_FAKE_MSGRAPH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct fake_msgraph;

struct fake_msgraph *fake_msgraph_start(const char *tenant, const char *client_id,
                                        const char *client_secret);
void fake_msgraph_stop(struct fake_msgraph *fake);

/* "http://127.0.0.1:PORT" + path (malloc'd): login_base is url(""), graph_api_base
 * url("/v1.0"). */
char *fake_msgraph_url(const struct fake_msgraph *fake, const char *path);

/* --- identity --------------------------------------------------------------------------- */
/* The client secret expired (AADSTS7000222) from now on, or not. */
void fake_msgraph_expire_secret(struct fake_msgraph *fake, bool expired);
/* Graph also accepts tokens this function says are alive (fake_oauth's), or NULL. */
void fake_msgraph_accept(struct fake_msgraph *fake, bool (*alive)(void *arg, const char *token),
                         void *arg);
/* Every access token issued so far dies (Graph then answers 401). */
void fake_msgraph_revoke_tokens(struct fake_msgraph *fake);

/* --- mailboxes -------------------------------------------------------------------------- */
void fake_msgraph_add_mailbox(struct fake_msgraph *fake, const char *upn);
/* Adds a message (JSON text of a Graph message; "id" filled when absent) to folder "inbox"
 * or "sentitems"; returns its id (malloc'd). */
char *fake_msgraph_add_message(struct fake_msgraph *fake, const char *upn, const char *folder,
                               const char *json);
void fake_msgraph_delete_message(struct fake_msgraph *fake, const char *upn, const char *folder,
                                 const char *id);
/* Adds or replaces (by "id") an event: JSON text of a Graph event, start/end in their own
 * timeZone (a Windows name or UTC). */
void fake_msgraph_put_event(struct fake_msgraph *fake, const char *upn, const char *json);
void fake_msgraph_delete_event(struct fake_msgraph *fake, const char *upn, const char *id);
/* Every delta link issued so far answers 410 from now on (the sync state was dropped). */
void fake_msgraph_expire_links(struct fake_msgraph *fake);

/* --- limits ----------------------------------------------------------------------------- */
/* Per mailbox: at most `requests` per `window_ms`, `concurrent` at once (0: no limit). */
void fake_msgraph_limits(struct fake_msgraph *fake, int requests, int window_ms, int concurrent);
/* The next `count` Graph requests are answered 429 with Retry-After: seconds. */
void fake_msgraph_throttle_next(struct fake_msgraph *fake, int count, int retry_after_s);
/* Requests refused by the limits (not those of throttle_next). */
size_t fake_msgraph_refused(struct fake_msgraph *fake);
/* Graph requests answered 2xx for mailbox upn, and the most at once seen. */
size_t fake_msgraph_served(struct fake_msgraph *fake, const char *upn);
int fake_msgraph_peak_concurrency(struct fake_msgraph *fake);

/* --- subscriptions ---------------------------------------------------------------------- */
/* Live subscriptions (a copy: [{id, resource, expires_ms, notificationUrl, ...}]). */
json_t *fake_msgraph_subscriptions(struct fake_msgraph *fake);
/* Forgets every subscription (they lapsed, or Graph removed them). */
void fake_msgraph_drop_subscriptions(struct fake_msgraph *fake);
/* Sends a change notification for upn's "messages" or "events" to its subscription with
 * clientState (NULL: the subscription's own); returns the HTTP status (0 when there is no
 * such subscription or no answer). */
int fake_msgraph_notify(struct fake_msgraph *fake, const char *upn, const char *resource,
                        const char *client_state);
/* Sends a lifecycle notification for upn's subscription: reauthorizationRequired,
 * subscriptionRemoved (the subscription is then gone), missed. Returns the HTTP status. */
int fake_msgraph_lifecycle(struct fake_msgraph *fake, const char *upn, const char *resource,
                           const char *event);

/* --- what it received ------------------------------------------------------------------- */
/* Requests with method whose path (without the query) starts with prefix. */
size_t fake_msgraph_count(struct fake_msgraph *fake, const char *method, const char *prefix);
/* The url (path and query) of the nth of them (malloc'd), or NULL. */
char *fake_msgraph_request_url(struct fake_msgraph *fake, const char *method, const char *prefix,
                               size_t nth);
/* The headers ("name: value\n" each) of the nth of them (malloc'd), or NULL. */
char *fake_msgraph_request_headers(struct fake_msgraph *fake, const char *method,
                                   const char *prefix, size_t nth);

/* When the nth of them arrived (util_monotonic_ms()), or -1. */
long long fake_msgraph_request_at(struct fake_msgraph *fake, const char *method, const char *prefix,
                                  size_t nth);

#endif
