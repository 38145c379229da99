/*
 * microsoft.h - internal interfaces of the `microsoft` source plugin (Outlook mail and
 * calendar through Microsoft Graph; not part of the SDK).
 *
 *   microsoft.c        descriptor, settings, init/destroy
 *   ms_text.c          checkpoint keys (hashed ids), times, URL pieces (pure)
 *   ms_api.c           Graph requests: token, pacing per mailbox, errors mapped
 *   ms_delta.c         one delta round (nextLink pages, deltaLink cursor, resync): mail and
 *                      calendar alike
 *   ms_mail.c          a message -> headers -> plugins/common classification -> email.*
 *   ms_calendar.c      an event -> meeting.* (UTC times, Windows zone names, attendees)
 *   ms_tz.c            Windows time zone names -> IANA (CLDR windowsZones, territory 001)
 *   ms_subscription.c  change-notification subscriptions: create, renew, recreate
 *   ms_webhook.c       POST /webhooks/{instance}: validationToken, clientState, lifecycle
 *   ms_poll.c          the poll: notifications taken, subscriptions kept, deltas run
 *
 * The state built by init() is read-only afterwards except the pacing windows, which only
 * poll() touches (webhook() never reads them: LH_PLUGIN_WEBHOOK_CONCURRENT). Everything a
 * poll must remember (delta links, subscriptions, conversations the mailbox wrote in,
 * meetings it stored) lives in checkpoints, committed with the events.
 */
#ifndef LEADHUB_MICROSOFT_H
#define LEADHUB_MICROSOFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "leadhub.h"

#define MS_DEFAULT_GRAPH_BASE "https://graph.microsoft.com/v1.0"
#define MS_DEFAULT_LOGIN_BASE "https://login.microsoftonline.com"
/* Outlook subscriptions live at most 10,080 minutes; ask for a little less. */
#define MS_SUBSCRIPTION_LIFETIME_MS (10000LL * 60 * 1000)
/* Renewed once less than this is left: half the lifetime, so a daemon down for days still
 * finds it alive. */
#define MS_SUBSCRIPTION_RENEW_MS (MS_SUBSCRIPTION_LIFETIME_MS / 2)
/* Graph allows 10,000 requests per 10 minutes per app and mailbox: the plugin spends at most
 * this share of the configured budget, leaving room for clock skew and other tools. */
#define MS_BUDGET_SHARE 0.95
/* A throttled answer without Retry-After waits this long. */
#define MS_THROTTLE_DEFAULT_MS 30000

enum ms_kind { MS_MAIL = 0, MS_CALENDAR = 1 };

/* A mailbox the instance reads, and its request budget (touched by poll() only). */
struct ms_mailbox {
    char *address; /* user principal name, lowercased */
    char *path;    /* "/users/<address, percent-encoded>" */
    char key[17];  /* 16 hex digits of a hash of the address: checkpoint keys */
    /* send times (ms) of the requests in the current budget window, a ring */
    int64_t *sent;
    size_t sent_head, sent_count;
};

struct microsoft {
    const lh_host_t *host;
    bool app_only; /* client credentials; else delegated (consent) */
    lh_oauth2_t oauth;
    char *token_url;
    char *graph_base; /* no trailing '/' */
    struct ms_mailbox *mailboxes;
    size_t mailbox_count;
    bool mail, calendar;
    int64_t window_past_ms, window_future_ms;
    int64_t backfill_ms;
    char **internal_domains;
    size_t internal_domain_count;
    char *notification_url; /* NULL: poll only */
    char *client_state;     /* secret; NULL without notification_url */
    size_t budget;          /* requests per budget window per mailbox */
    int64_t budget_window_ms;
    int page_size;
};

/* ms_text.c ----------------------------------------------------------------------------- */

/* 16 hex digits naming `a` + "\n" + `b` (b may be NULL): a checkpoint key part for ids that
 * hold characters keys may not (Graph ids carry '=', '+', '/'). */
void ms_hash_key(const char *a, const char *b, char out[17]);
/* "<mailbox key>:<id>[:<suffix>]", or "<mailbox key>:h<hash>" past 200 bytes: an event's
 * source_id (malloc'd), or NULL. */
char *ms_source_id(const char *mailbox_key, const char *id, const char *suffix);
/* RFC 3339 UTC with milliseconds ("2026-12-07T18:00:00.000Z") of ms since the epoch. */
void ms_format_time(int64_t ms, char out[32]);
/* ms since the epoch of an RFC 3339 time, or of Graph's "2025-03-12T09:30:00.0000000"
 * (no offset: read as UTC); -1 when it is neither. */
int64_t ms_parse_time(const char *text);
/* Percent-encodes `text` for a URL path segment or query value (malloc'd), or NULL. */
char *ms_url_encode(const char *text);
/* strdup of a lowercased copy, or NULL. */
char *ms_lower_dup(const char *text);
/* Whether the host takes `address` as a lead's email (one '@', no spaces, controls, ',',
 * '<' or '>', at most 254 bytes): what is not is skipped, not emitted. */
bool ms_address_ok(const char *address);
/* Case-insensitive equality; NULLs are unequal. */
bool ms_same(const char *a, const char *b);

/* ms_api.c ------------------------------------------------------------------------------ */

enum ms_outcome {
    MS_DONE = 0,  /* a 2xx answer in *body_out (may be NULL for 204) */
    MS_WAIT,      /* throttled (429/503 with Retry-After) or the budget is spent: *wait_ms */
    MS_RESYNC,    /* 410, syncStateNotFound, resyncRequired: start the round again */
    MS_NOT_FOUND, /* 404 */
    MS_FAILED     /* anything else: *status_out and the call's error say what */
};

struct ms_call {
    const char *method; /* NULL: GET */
    const char *url;
    const char *body; /* JSON or NULL */
    bool utc_times;   /* Prefer: outlook.timezone="UTC" */
    /* out */
    json_t *json;       /* NEW reference: the answer's JSON (NULL when none) */
    int64_t wait_ms;    /* MS_WAIT */
    lh_status_t status; /* MS_FAILED: what the poll should return */
    long http_status;   /* the answer's status (0 when none) */
};

/* One request for `mailbox` (NULL: not a mailbox's, e.g. a subscription delete), paced by
 * the mailbox's budget, with a token. call->json is the caller's to decref. */
enum ms_outcome ms_api_call(struct microsoft *ms, lh_ctx_t *ctx, struct ms_mailbox *mailbox,
                            struct ms_call *call);
/* ms until `mailbox` may send again (0: now). */
int64_t ms_budget_wait(const struct microsoft *ms, const struct ms_mailbox *mailbox, int64_t now);

/* ms_delta.c ---------------------------------------------------------------------------- */

/* Called for each item of a page; returns LH_OK, or a status that stops the round (the
 * page is then not committed: the poll fails). */
typedef lh_status_t (*ms_item_fn)(struct microsoft *ms, lh_ctx_t *ctx, struct ms_mailbox *mailbox,
                                  const json_t *item, void *arg);

struct ms_delta {
    enum ms_kind kind;
    const char *cursor_key; /* checkpoint key of the link to GET next */
    char *(*initial_url)(struct microsoft *ms, struct ms_mailbox *mailbox, int64_t now,
                         void *arg); /* malloc'd */
    ms_item_fn item;
    void *arg;
    /* out */
    int64_t wait_ms; /* > 0: the mailbox must wait (throttled or out of budget) */
    unsigned pages, items;
    bool resynced;
};

/* Runs a delta round for one mailbox until its deltaLink (or a wait, or should_stop),
 * committing the cursor with each page's events. */
lh_status_t ms_delta_run(struct microsoft *ms, lh_ctx_t *ctx, struct ms_mailbox *mailbox,
                         struct ms_delta *delta);

/* ms_mail.c ----------------------------------------------------------------------------- */

/* The delta rounds of a mailbox's Sent Items, then Inbox (a reply finds the conversation
 * the mailbox wrote in). wait_out: as ms_delta.wait_ms. */
lh_status_t ms_mail_poll(struct microsoft *ms, lh_ctx_t *ctx, struct ms_mailbox *mailbox,
                         int64_t *wait_out);

/* The events a message becomes, built without the host (pure, for tests and the fuzzer):
 *   thread: what the mailbox wrote in the message's conversation before (the outside
 *     recipients of its last message there, an array), or NULL when it did not.
 *   events_out: NEW array of normalized events (maybe empty); skip_reason_out: a static
 *     label when it is empty.
 *   sent_to_out: NEW array of the outside recipients when the mailbox wrote this message
 *     (the conversation to remember), else NULL.
 *   Returns 0, or -1 when out of memory. */
int ms_mail_map(const struct microsoft *ms, const struct ms_mailbox *mailbox, const json_t *message,
                const json_t *thread, json_t **events_out, const char **skip_reason_out,
                json_t **sent_to_out);
/* The headers plugins/common classifies, for a message: its internetMessageHeaders, with
 * From, To, Cc, Bcc and Subject made from Graph's fields where they lack (NEW array). */
json_t *ms_mail_headers(const json_t *message);

/* ms_calendar.c ------------------------------------------------------------------------- */

lh_status_t ms_calendar_poll(struct microsoft *ms, lh_ctx_t *ctx, struct ms_mailbox *mailbox,
                             int64_t *wait_out);

/* The meeting event of a Graph event (pure): NEW object, or NULL with *skip_reason_out set.
 * known: the meeting was emitted before (an update, not a new booking). */
json_t *ms_calendar_map(const struct microsoft *ms, const struct ms_mailbox *mailbox,
                        const json_t *event, bool known, const char **skip_reason_out);

/* ms_tz.c ------------------------------------------------------------------------------- */

/* The IANA name of a Windows time zone name ("Pacific Standard Time" ->
 * "America/Los_Angeles"), an IANA name given as is when it looks like one, NULL when
 * unknown. Static strings. */
const char *ms_tz_iana(const char *name);

/* ms_subscription.c --------------------------------------------------------------------- */

/* Every subscription of the instance exists and lives long enough: created when missing or
 * expired (a daemon down past the expiry), renewed when half its life is gone, renewed at
 * once when `reauthorize` names it, recreated when `removed` names it. */
lh_status_t ms_subscriptions_keep(struct microsoft *ms, lh_ctx_t *ctx, const json_t *reauthorize,
                                  const json_t *removed, int64_t *wait_out);

/* ms_webhook.c / ms_poll.c -------------------------------------------------------------- */

lh_status_t ms_webhook(void *state, lh_ctx_t *ctx, const lh_webhook_request_t *request);
/* What a notification body asks for, without the host (pure, for tests and the fuzzer):
 * NEW array of {"key": ..., "value": ...} notifications to record; *mismatched counts the
 * items whose clientState was wrong. Returns NULL when the body is not a notification
 * collection. equal: a constant-time comparison (the host's digest_equal). */
json_t *ms_webhook_parse(const char *body, size_t body_len, const char *client_state,
                         int (*equal)(const void *, const void *, size_t), size_t *mismatched);
lh_status_t ms_poll(void *state, lh_ctx_t *ctx);

#endif
