/*
 * google.h - the `google` connector: one instance per Google mailbox, Gmail and Google
 * Calendar, read-only.
 *
 *   google.c           descriptor, settings, init/destroy
 *   google_api.c       authorized calls: token, quota spend, Google's error bodies
 *   google_quota.c     the per-mailbox quota budget (units per second, a bucket)
 *   google_gmail.c     Gmail sync: backfill / full resync (messages.list), history.list
 *   google_message.c   one message's metadata -> classification -> events
 *   google_calendar.c  Calendar sync: events.list with syncToken, 410
 *   google_meeting.c   one Calendar event -> a meeting event
 *   google_webhook.c   Pub/Sub push and Calendar channel notifications -> poll
 *   google_watch.c     users.watch and events.watch, renewed from the poll
 *
 * Checkpoints (the instance's namespace):
 *   gmail.cursor       {"mode": "history"|"full", "history_id", "page_token", "skip",
 *                       "cutoff_ms"}: where the Gmail sync stands
 *   calendar.<id>      {"sync_token", "page_token"} per calendar
 */
#ifndef LEADHUB_GOOGLE_H
#define LEADHUB_GOOGLE_H

#include <stdbool.h>
#include <stdint.h>

#include <leadhub.h>

#define GOOGLE_DEFAULT_TOKEN_URL  "https://oauth2.googleapis.com/token"
#define GOOGLE_DEFAULT_AUTH_URL   "https://accounts.google.com/o/oauth2/v2/auth"
#define GOOGLE_DEFAULT_GMAIL_BASE "https://gmail.googleapis.com"
#define GOOGLE_DEFAULT_CAL_BASE   "https://www.googleapis.com/calendar/v3"
#define GOOGLE_DEFAULT_CERTS_URL  "https://www.googleapis.com/oauth2/v3/certs"
#define GOOGLE_URL_MAX            4096
#define GOOGLE_POLL_MESSAGES_MAX  500 /* messages one poll reads before coming back */

/* Quota costs of the methods used (Gmail's table; Calendar counts requests). */
#define GOOGLE_COST_PROFILE       1
#define GOOGLE_COST_HISTORY_LIST  2
#define GOOGLE_COST_MESSAGES_LIST 5
#define GOOGLE_COST_THREADS_GET   10
#define GOOGLE_COST_WATCH         100
#define GOOGLE_COST_CALENDAR      1

/* The per-mailbox budget: a bucket of quota units refilled at `rate` per second. */
struct google_quota {
    double rate;     /* units per second */
    double capacity; /* the most it holds: one second's worth */
    double units;
    int64_t updated_ms;
};

struct google {
    const lh_host_t *host;
    char *mailbox;
    char **internal_domains;
    size_t internal_domain_count;
    bool gmail;
    bool calendar;
    char **calendar_ids;
    size_t calendar_id_count;
    int64_t backfill_ms;
    bool include_snippet;
    char *push_token;           /* NULL: push refused */
    char *push_audience;        /* OIDC push: the `aud` Pub/Sub's token must carry, or NULL */
    char *push_service_account; /* OIDC push: the `email` it must carry, or NULL: any */
    char *oidc_certs_url;       /* where Google publishes the keys */
    char *pubsub_topic;         /* users.watch topic, or NULL: no Gmail push asked for */
    char *calendar_push_url;    /* events.watch address, or NULL */
    char *gmail_base;
    char *calendar_base;
    char *token_url;
    int message_get_cost;
    lh_oauth2_t oauth;
    /* domain-wide delegation: from service_account_key, owned (the key wiped when freed) */
    char *sa_email;
    char *sa_private_key;
    char *scope; /* the scopes, space-separated, for the assertion */
    struct google_quota quota;
    /* what pushes and polls learn, kept across polls */
    char **aliases; /* sendAs addresses, the mailbox first */
    size_t alias_count;
    int64_t aliases_at_ms;
};

/* A call's answer: the status, Google's `reason`, and the parsed body. */
struct google_response {
    long http_status;
    char reason[64]; /* error.errors[0].reason, or "" */
    json_t *body;    /* parsed JSON, or NULL */
};

void google_response_clear(struct google_response *response);

/*
 * google_get - an authorized GET of url costing `cost` quota units.
 *   Returns LH_OK with out filled for 2xx and for the statuses the caller handles itself
 *   (404, 410: check out->http_status); LH_RETRY_AFTER for quota answers (403
 *   userRateLimitExceeded/rateLimitExceeded, 429) and an empty budget, the delay set;
 *   LH_AUTH for 401 (the token dropped); LH_CONFIG when the grant is refused (needs
 *   consent); LH_RETRY / LH_PERMANENT otherwise, the reason set.
 */
lh_status_t google_get(struct google *g, lh_ctx_t *ctx, const char *url, int cost,
                       struct google_response *out);

/* google_post_json - likewise, a POST with a JSON body (users.watch, events.watch). */
lh_status_t google_post_json(struct google *g, lh_ctx_t *ctx, const char *url, int cost,
                             const char *body, struct google_response *out);

/* Quota bucket (google_quota.c). */
void google_quota_init(struct google_quota *quota, double units_per_second, int64_t now_ms);
/* Takes `units` when the bucket holds them: 0; else -1 and *wait_ms the time until it will. */
int google_quota_take(struct google_quota *quota, double units, int64_t now_ms, int64_t *wait_ms);

/* Percent-encodes text into out (RFC 3986 unreserved kept); -1 when it does not fit. */
int google_url_escape(const char *text, char *out, size_t out_size);

/* Gmail (google_gmail.c). */
lh_status_t google_gmail_poll(struct google *g, lh_ctx_t *ctx);
/* The message ids of a messages.list page, or of a history.list page's messagesAdded, each
 * once, in order (NEW array). */
json_t *google_gmail_page_ids(const json_t *body, bool history);

/*
 * google_message_emit - classify one message (format=metadata) and emit its events.
 *   thread_sent: for the thread check, see google_message.c.
 *   Returns LH_OK (also for a message skipped and counted), or a failed call's status.
 */
lh_status_t google_message_emit(struct google *g, lh_ctx_t *ctx, const json_t *message,
                                json_t *thread_cache);

/* Calendar (google_calendar.c). */
lh_status_t google_calendar_poll(struct google *g, lh_ctx_t *ctx);
json_t *google_meeting_event(const struct google *g, const char *calendar_id, const json_t *item,
                             const char *default_timezone, const char **skip_reason);

/* Push subscriptions, renewed from the poll (google_watch.c). */
lh_status_t google_watch_renew(struct google *g, lh_ctx_t *ctx);

/* Webhook (google_webhook.c). */
lh_status_t google_webhook(void *state, lh_ctx_t *ctx, const lh_webhook_request_t *request);

/* Whether address is one of the mailbox's own. */
bool google_is_own_address(const struct google *g, const char *address);

#endif
