/*
 * linkedin.h - internal interfaces of the `linkedin_leadgen` source plugin (not part of the
 * SDK): LinkedIn Lead Gen Forms, pulled by owner (sponsored ad account) and pushed by lead
 * notifications.
 *
 *   linkedin.c           descriptor, settings, init/destroy
 *   linkedin_restli.c    Rest.li 2.0 query encoding and LinkedIn ids (pure)
 *   linkedin_api.c       every request to LinkedIn: headers, token, errors mapped
 *   linkedin_map.c       a leadFormResponse and its form -> a lead.created event (pure)
 *   linkedin_forms.c     form definitions fetched and cached per form version
 *   linkedin_webhook.c   GET ?challengeCode= and signed LEAD_ACTION notifications
 *   linkedin_poll.c      notifications taken, then each owner's responses paged
 *
 * The webhook reads only what init() built (LH_PLUGIN_WEBHOOK_CONCURRENT). The poll, never
 * run twice at once, owns the mutable part of the state: the forms cache and the owners'
 * daily-limit holds.
 */
#ifndef LEADHUB_LINKEDIN_H
#define LEADHUB_LINKEDIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "leadhub.h"

#define LINKEDIN_DEFAULT_API   "https://api.linkedin.com/rest"
#define LINKEDIN_DEFAULT_OAUTH "https://www.linkedin.com/oauth/v2"
/* LinkedIn keeps lead data 365 days: no backfill reaches further. */
#define LINKEDIN_RETENTION_MS (365LL * 24 * 3600 * 1000)
#define LINKEDIN_ID_MAX       120 /* a response id ("7d1f...-3"): "lead:<id>" fits a 128-byte key */
#define LINKEDIN_FORMS_CACHED 256 /* form versions kept; the cache starts over past it */
#define LINKEDIN_DAY_MS       (24LL * 3600 * 1000)
/* A daily-limit hold ends this long after midnight UTC (LinkedIn's clock may lag ours). */
#define LINKEDIN_HOLD_MARGIN_MS (5LL * 60 * 1000)

/* One owner: a sponsored ad account. */
struct linkedin_owner {
    char id[32];        /* digits */
    char *param;        /* "(sponsoredAccount:urn%3Ali%3AsponsoredAccount%3A<id>)" */
    int64_t held_until; /* daily limit reached: not asked before this (epoch ms); poll-owned */
};

struct linkedin {
    const lh_host_t *host;
    char *client_secret;    /* the webhook signing key too: wiped in destroy */
    char *api_base;         /* no trailing '/' */
    char *version;          /* LinkedIn-Version: YYYYMM */
    char *notification_url; /* NULL: poll only */
    struct linkedin_owner *owners;
    size_t owner_count;
    char **form_ids; /* filter (digits), NULL-terminated; NULL: every form */
    int64_t backfill_ms;
    int64_t overlap_ms;
    int64_t timeout_ms;
    int page_size;
    bool include_test_leads;
    lh_oauth2_t oauth;
    json_t *forms;        /* poll-owned cache: "formId:version" -> form definition */
    bool daily_limit_hit; /* poll-owned: a call of this owner's turn met the daily limit */
};

/* ---------------------------------------------------------------------------------------
 * Rest.li and ids (linkedin_restli.c): pure.
 * ------------------------------------------------------------------------------------- */

/* Percent-encodes text for a Rest.li 2.0 value: everything but unreserved characters
 * (A-Z a-z 0-9 - . _ ~) is escaped, ':' included; `keep` lists characters left literal (the
 * tuple syntax "(),:" of the outer level). Returns a malloc'd string or NULL. */
char *linkedin_restli_encode(const char *text, const char *keep);

/* The owner tuple for an ad account id: "(sponsoredAccount:urn%3Ali%3AsponsoredAccount%3AN)".
 * Malloc'd, or NULL. */
char *linkedin_owner_param(const char *account_id);

/* An account or form id as configured: digits, or "urn:li:sponsoredAccount:<digits>" /
 * "urn:li:leadGenForm:<digits>" (prefix given); the digits into out (32 bytes). */
bool linkedin_parse_numeric_id(const char *text, const char *urn_prefix, char out[32]);

/* A response id as LinkedIn writes them: 1..LINKEDIN_ID_MAX of [A-Za-z0-9_-]. */
bool linkedin_response_id_valid(const char *id);

/* "urn:li:versionedLeadGenForm:(urn:li:leadGenForm:<form>,<version>)" -> form and version
 * digits (32 bytes each). */
bool linkedin_parse_versioned_form(const char *urn, char form_out[32], char version_out[32]);

/* The next midnight UTC after now_ms, plus LINKEDIN_HOLD_MARGIN_MS. */
int64_t linkedin_next_midnight(int64_t now_ms);

/* epoch ms -> "YYYY-MM-DDTHH:MM:SS.mmmZ" (25 bytes); false when out of range. */
bool linkedin_format_time(int64_t ms, char out[32]);

/* ---------------------------------------------------------------------------------------
 * Mapping (linkedin_map.c): pure, no host calls, so the fuzz target runs it alone.
 * ------------------------------------------------------------------------------------- */

struct linkedin_map_options {
    bool include_test_leads; /* false: test leads are stored with data.routable false */
};

enum linkedin_map_result {
    LINKEDIN_MAPPED = 0, /* *event_out holds the event */
    LINKEDIN_INVALID,    /* not a response the plugin can read: detail says why */
    LINKEDIN_NO_MEMORY
};

/*
 * linkedin_map_response - a leadFormResponse into a lead.created event (docs/connectors/
 * linkedin.md has the table).
 *   response: BORROWED; any JSON value.
 *   form:     BORROWED form definition of the response's form version, or NULL when none
 *             could be had (answers are then kept under their question ids).
 *   event_out: NEW reference on LINKEDIN_MAPPED.
 *   detail:   why, on LINKEDIN_INVALID (ids and field names only, never an answer).
 */
enum linkedin_map_result linkedin_map_response(const json_t *response, const json_t *form,
                                               const struct linkedin_map_options *options,
                                               json_t **event_out, char detail[160]);

/* The lead.erased event for a deleted response (NEW), or NULL when out of memory. */
json_t *linkedin_erased_event(const char *response_id, int64_t occurred_at_ms);

/* ---------------------------------------------------------------------------------------
 * Notifications (linkedin_webhook.c).
 * ------------------------------------------------------------------------------------- */

enum linkedin_signature_reading {
    LINKEDIN_SIGNATURE_NONE = 0,
    LINKEDIN_SIGNATURE_PREFIXED_MESSAGE, /* A: hex(HMAC(secret, "hmacsha256=" + body)) */
    LINKEDIN_SIGNATURE_PREFIXED_HEADER   /* B: "hmacsha256=" + hex(HMAC(secret, body)) */
};

/*
 * linkedin_signature_match - which reading of X-LI-Signature the header matches: an
 * optional "hmacsha256=" prefix stripped, hex compared case-insensitively in constant time
 * against both computations over the raw body.
 *   hmac: the host's HMAC-SHA256; equal: its constant-time comparison.
 */
enum linkedin_signature_reading linkedin_signature_match(
    const char *secret, const char *header, const unsigned char *body, size_t body_len,
    void (*hmac)(const void *, size_t, const void *, size_t, unsigned char[32]),
    int (*equal)(const void *, const void *, size_t));

/* What one LEAD_ACTION notification asks for. */
struct linkedin_notification {
    char response_id[LINKEDIN_ID_MAX + 1];
    char owner[32];      /* the sponsored account's digits, "" when not one */
    bool deleted;        /* leadAction DELETED, else CREATED */
    int64_t occurred_at; /* epoch ms, 0 when absent */
};

/* Parses a notification body; -1 with a reason in detail when it is not one. */
int linkedin_notification_parse(const char *body, size_t len, struct linkedin_notification *out,
                                char detail[160]);

lh_status_t linkedin_webhook(void *state, lh_ctx_t *ctx, const lh_webhook_request_t *request);

/* ---------------------------------------------------------------------------------------
 * The API (linkedin_api.c).
 * ------------------------------------------------------------------------------------- */

struct linkedin_answer {
    lh_status_t status;
    long http_status;
    json_t *body;     /* NEW parsed JSON on 2xx (and error bodies when JSON), or NULL */
    char *restli_id;  /* x-restli-id of a create, malloc'd or NULL */
    bool daily_limit; /* a 429: LinkedIn's limits are per day */
};

void linkedin_answer_clear(struct linkedin_answer *answer);

/*
 * linkedin_call - one request to LinkedIn with the instance's token and headers.
 *   path_and_query: appended to api_base ("/leadForms/8843127").
 *   body: JSON text to send (POST), or NULL.
 *   Returns (and sets answer->status): LH_OK on 2xx; LH_AUTH on 401 (the host refreshes
 *   and calls once more); LH_CONFIG on 403 (scope or role) and on a sunset version (the
 *   reason says "update linkedin_version"); LH_RETRY_AFTER on a daily-limit 429, with
 *   li->daily_limit_hit set and no delay (the poll decides what waits until midnight UTC:
 *   an account, or the instance); LH_RETRY on 5xx and transport; LH_PERMANENT for other 4xx (404
 * among them: http_status says which). The reason is the call's error.
 */
lh_status_t linkedin_call(struct linkedin *li, lh_ctx_t *ctx, const char *method,
                          const char *path_and_query, const char *body,
                          struct linkedin_answer *answer);

/* ---------------------------------------------------------------------------------------
 * Forms (linkedin_forms.c) and the poll (linkedin_poll.c).
 * ------------------------------------------------------------------------------------- */

/*
 * linkedin_form - the definition of form `form_id` at `version` (borrowed from the cache
 * until the next call), fetched with GET /leadForms/{id} when not cached.
 *   form_out: NULL when LinkedIn does not have it (the response is mapped without it).
 *   Returns LH_OK, or the call's status when LinkedIn could not be asked.
 */
lh_status_t linkedin_form(struct linkedin *li, lh_ctx_t *ctx, const char *form_id,
                          const char *version, const json_t **form_out);

lh_status_t linkedin_poll(void *state, lh_ctx_t *ctx);

#endif
