/*
 * stripe.h - internal interfaces of the `stripe` source plugin (not part of the SDK).
 *
 *   stripe.c           descriptor, settings, init/destroy
 *   stripe_signature.c Stripe-Signature parsing (pure) and verification (host HMAC)
 *   stripe_webhook.c   POST /webhooks/{instance}: verify, parse, normalize, emit
 *   stripe_normalize.c a Stripe event -> normalized leadhub events, or skip, or invalid (pure):
 *                      the envelope and customers; stripe_build.h lists the mapping files
 *   stripe_map_payment.c, stripe_map_subscription.c   payments and subscriptions (pure)
 *   stripe_lead.c      the lead of a Stripe object: email, name, id checks (pure)
 *   stripe_emit.c      hands a normalized outcome's events to the host (webhook and poll)
 *   stripe_cursor.c    the poll's checkpoint: watermark, processed ids, window marks (pure)
 *   stripe_api.c       GET /v1/events through the host's HTTP client, errors mapped
 *   stripe_poll.c      the reconciliation poll: windows walked newest first, processed
 *                      oldest first
 *
 * The state built by init() is read-only afterwards (the plugin is LH_PLUGIN_REENTRANT): a
 * webhook may be verified while a poll runs. Everything a poll must remember lives in its
 * checkpoint, committed with its events.
 */
#ifndef LEADHUB_STRIPE_H
#define LEADHUB_STRIPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "leadhub.h"

/* Unix seconds of 9999-12-31T23:59:59Z: beyond it a time cannot be written as RFC 3339. */
#define STRIPE_TIME_MAX 253402300799LL
/* A Stripe object id: evt_..., cus_...; Stripe's are about 30 characters. */
#define STRIPE_ID_MAX 255
/* Stripe keeps events for 30 days: /v1/events reaches no further back. */
#define STRIPE_RETENTION_S (30LL * 24 * 3600)

/* ---------------------------------------------------------------------------------------
 * The Stripe event types the plugin understands, and what each becomes.
 * ------------------------------------------------------------------------------------- */
enum stripe_type {
    STRIPE_CUSTOMER_CREATED = 0,
    STRIPE_CUSTOMER_UPDATED,
    STRIPE_CHECKOUT_COMPLETED,
    STRIPE_INVOICE_PAID,
    STRIPE_SUBSCRIPTION_CREATED,
    STRIPE_SUBSCRIPTION_DELETED,
    STRIPE_CHECKOUT_ASYNC_SUCCEEDED,
    STRIPE_CHECKOUT_ASYNC_FAILED,
    STRIPE_INVOICE_PAYMENT_FAILED,
    STRIPE_SUBSCRIPTION_UPDATED,
    STRIPE_CHARGE_REFUNDED,
    STRIPE_TYPE_COUNT
};

/* The Stripe name of a type ("invoice.paid"); NULL past STRIPE_TYPE_COUNT. What each
 * becomes is docs/connectors/stripe.md: some Stripe events become two leadhub events (a
 * checkout and the payment it made), some none (a $0 invoice is no payment). */
const char *stripe_type_name(unsigned type);
/* The index of a Stripe type name, or -1 when the plugin does not handle it. */
int stripe_type_find(const char *name);

/* ---------------------------------------------------------------------------------------
 * The instance state (stripe.c). Read-only after init().
 * ------------------------------------------------------------------------------------- */
struct stripe {
    const lh_host_t *host;
    char *authorization;    /* "Bearer <api_key>": secret, wiped in destroy */
    char **webhook_secrets; /* whsec_... copies: secret, wiped in destroy; may be empty */
    size_t webhook_secret_count;
    int64_t tolerance_s;   /* webhook timestamps older than now - tolerance are refused */
    char *api_base;        /* "https://api.stripe.com", no trailing slash */
    char *stripe_version;  /* Stripe-Version header, or NULL */
    unsigned types;        /* enabled types: bit (1 << enum stripe_type) */
    char *types_query;     /* "&types%5B%5D=customer.created&..." for /v1/events */
    char *types_signature; /* "customer.created,invoice.paid": the filter a cursor was made for */
    int64_t backfill_s;    /* how far back the first poll reaches */
    size_t window;         /* events one poll round holds before processing them */
    bool livemode;         /* the api_key's mode: live events only, or test events only */
};

/* ---------------------------------------------------------------------------------------
 * Normalization (stripe_normalize.c, stripe_lead.c): pure functions, no host calls, so the
 * fuzz target and unit tests run them alone.
 * ------------------------------------------------------------------------------------- */
enum stripe_verdict {
    STRIPE_EMIT = 0, /* out->events holds the normalized events */
    STRIPE_SKIP,     /* a valid event the instance does not store (reason says why) */
    STRIPE_INVALID,  /* not a Stripe event the plugin can read (reason and detail say why) */
    STRIPE_NO_MEMORY /* could not be built: try again later */
};

struct stripe_filter {
    unsigned types; /* enabled types: bit (1 << enum stripe_type) */
    bool livemode;  /* events of the other mode are skipped */
};

/* At most this many leadhub events come of one Stripe event. */
#define STRIPE_EVENTS_MAX 3

struct stripe_outcome {
    json_t *events;     /* STRIPE_EMIT: NEW reference, the caller owns it: an array of 1 to
                           STRIPE_EVENTS_MAX normalized events, to be emitted in order */
    const char *reason; /* SKIP / INVALID: a metric label, static storage */
    char detail[200];   /* SKIP / INVALID: why, for logs and 400 answers; ids and field
                           names only, never a payload value that could be personal data */
};

/*
 * stripe_normalize - turn one Stripe event object into leadhub events (docs/events.md;
 * the mapping is docs/connectors/stripe.md).
 *   stripe_event: BORROWED; any JSON value (it may come from an attacker's body only
 *                 after the signature check, but the fuzzer sends anything).
 *   out:          filled in every case; out->events is a NEW reference on STRIPE_EMIT,
 *                 NULL otherwise.
 *   Returns the verdict. Every emitted event passes the host's validation: invalid emails
 *   and over-long texts are left out of the lead rather than failing the event.
 */
enum stripe_verdict stripe_normalize(const json_t *stripe_event, const struct stripe_filter *filter,
                                     struct stripe_outcome *out);

/* A Stripe id: 1..STRIPE_ID_MAX of [A-Za-z0-9_-]. Safe in a URL and as a source_id. */
bool stripe_id_valid(const char *id);

/* unix seconds -> "YYYY-MM-DDTHH:MM:SSZ" in out (21 bytes); false when out of range. */
bool stripe_format_time(json_int_t seconds, char out[21]);

/*
 * stripe_lead_* - building the `lead` member of an event. `lead` is a JSON object the
 * caller owns; values are copied. Each setter leaves the field out when the value is
 * unusable (absent, not a string, empty after trimming, too long, not an email), so that
 * an odd customer record never costs the whole event.
 *   Returns 1 when the field was set, 0 when it was left out, -1 when out of memory.
 */
int stripe_lead_set_email(json_t *lead, const json_t *value);
int stripe_lead_set_text(json_t *lead, const char *key, const json_t *value);
/* Free-text name, through the shared parser (plugins/common/person_name.h): a person's
 * name splits into first/last when sure, else stays whole in attributes.full_name; an
 * organization's becomes `company`; anything else is left out. */
int stripe_lead_set_name(json_t *lead, const json_t *value);
/* A leadhub lead id (a positive integer, or a string of 1-18 digits) -> lead.id. */
int stripe_lead_set_id(json_t *lead, const json_t *value);

/* The id of an expandable field: the string itself, or the object's "id". NULL otherwise.
 * Borrowed from `object`. */
const char *stripe_expandable_id(const json_t *object, const char *key);

/* ---------------------------------------------------------------------------------------
 * Webhook signatures (stripe_signature.c).
 * ------------------------------------------------------------------------------------- */
#define STRIPE_SIGNATURES_MAX 16 /* v1 values considered in one header */

struct stripe_signature_header {
    int64_t timestamp;                               /* t= */
    const char *signatures[STRIPE_SIGNATURES_MAX];   /* v1= values, pointing into the header */
    size_t signature_lengths[STRIPE_SIGNATURES_MAX]; /* their lengths */
    size_t signature_count;
};

/*
 * stripe_signature_parse - read a Stripe-Signature header: comma-separated items, each
 * split on its first '='; `t` (unix seconds, the first one counts), any number of `v1`;
 * `v0` and unknown schemes are ignored, as Stripe's libraries do.
 *   header: BORROWED; out's pointers point into it.
 *   problem_out: on failure, a static description of what is wrong.
 *   Returns 0, or -1 when there is no usable t or no v1 at all.
 */
int stripe_signature_parse(const char *header, struct stripe_signature_header *out,
                           const char **problem_out);

/*
 * stripe_signature_verify - check request's Stripe-Signature against every configured
 * secret: HMAC-SHA256 over "<t>.<raw body>", hex, compared in constant time with every v1;
 * then the timestamp against the tolerance. Counts each refusal in
 * stripe_webhook_rejected_total{reason} and sets the reason as the call's error.
 *   Returns LH_OK, LH_PERMANENT (refused: the host answers 400) or LH_RETRY (no memory).
 */
lh_status_t stripe_signature_verify(const struct stripe *stripe, lh_ctx_t *ctx,
                                    const lh_webhook_request_t *request);

/* Counts a refused webhook and says why; returns LH_PERMANENT. */
lh_status_t stripe_webhook_reject(const struct stripe *stripe, lh_ctx_t *ctx, const char *reason,
                                  const char *fmt, ...) LH_PRINTF(4, 5);

/*
 * stripe_emit_outcome - hand a STRIPE_EMIT outcome's events to the host, in order.
 *   outcome: its events are consumed (out->events is NULL afterwards).
 *   emitted_out: how many the host took.
 *   Returns LH_OK, or the first status emit() returned that was not LH_OK (LH_PERMANENT:
 *   the host refused one; its reason is the call's error). The poll and the webhook treat
 *   a refusal each in its own way; events already emitted stay in the call's batch.
 */
lh_status_t stripe_emit_outcome(const lh_host_t *host, lh_ctx_t *ctx,
                                struct stripe_outcome *outcome, size_t *emitted_out);

/* The webhook callback (stripe_webhook.c). */
lh_status_t stripe_webhook(void *state, lh_ctx_t *ctx, const lh_webhook_request_t *request);

/* ---------------------------------------------------------------------------------------
 * The poll's cursor (stripe_cursor.c): pure.
 *
 * Every event created before `created` has been processed, and so have the events created
 * in that very second whose ids are in `ids` (several events share a second, so the next
 * poll asks for created >= `created` and skips those ids). `marks` is a stack of
 * starting_after ids where windows of unprocessed events begin, top of the list first;
 * the deepest window is processed first. `floor` is the start of the last window
 * processed: everything after it in the list is processed, so a walk may stop there.
 * stripe_poll.c explains the walk.
 * ------------------------------------------------------------------------------------- */
struct stripe_cursor {
    int64_t created;               /* the watermark, unix seconds */
    json_t *ids;                   /* object used as a set: processed id -> true, at `created` */
    json_t *marks;                 /* array of ids, the deepest window's start last */
    char floor[STRIPE_ID_MAX + 1]; /* "" when unknown */
    int64_t polled_at;             /* start of the last walk that reached the top, unix s */
};

/*
 * stripe_cursor_load - the cursor saved by stripe_cursor_to_json(), or a fresh one.
 *   saved:     BORROWED; NULL for a first poll.
 *   types:     the instance's types_signature; a cursor made for other types restarts
 *              from min(watermark, fresh_from), keeping nothing else.
 *   fresh_from: the watermark of a fresh cursor (now - backfill).
 *   note_out:  set to a static message when the saved cursor was unusable or restarted,
 *              NULL otherwise.
 *   Returns 0, or -1 when out of memory. Free with stripe_cursor_clear().
 */
int stripe_cursor_load(const json_t *saved, const char *types, int64_t fresh_from,
                       struct stripe_cursor *out, const char **note_out);

/* The checkpoint value: {"created", "ids" (sorted), "marks", "floor", "types",
 * "polled_at"}.
 * Returns a NEW reference, or NULL when out of memory. */
json_t *stripe_cursor_to_json(const struct stripe_cursor *cursor, const char *types);

/* True when an event (id, created) was processed already. */
bool stripe_cursor_processed(const struct stripe_cursor *cursor, const char *id,
                             json_int_t created);

/* Record an event as processed: the watermark moves up to `created`. Returns 0 or -1. */
int stripe_cursor_advance(struct stripe_cursor *cursor, const char *id, json_int_t created);

/* The deepest window's start (borrowed), or NULL for the top of the list. */
const char *stripe_cursor_top_mark(const struct stripe_cursor *cursor);
int stripe_cursor_push_mark(struct stripe_cursor *cursor, const char *id);
/* Pops the deepest mark, whose window was just processed: it becomes the floor. */
void stripe_cursor_pop_mark(struct stripe_cursor *cursor);
/* Forgets every mark and the floor: the next walk starts from the top and reads down to
 * the end of the list (never loses anything, only costs requests). */
void stripe_cursor_forget_positions(struct stripe_cursor *cursor);

void stripe_cursor_clear(struct stripe_cursor *cursor);

/* ---------------------------------------------------------------------------------------
 * The Events API (stripe_api.c).
 * ------------------------------------------------------------------------------------- */

/*
 * stripe_api_list_events - GET /v1/events?created[gte]=...&limit=100&types[]=...
 * [&starting_after=...], with the host's retries for 429 and 5xx.
 *   starting_after: BORROWED, or NULL for the newest page.
 *   page_out:       NEW reference on LH_OK: an object with a "data" array (each item an
 *                   object with a valid id and an integer created) and a boolean
 *                   "has_more".
 *   stale_cursor_out: set when Stripe no longer knows starting_after (the status is then
 *                   LH_PERMANENT): the caller restarts from the top.
 *   Returns LH_OK; LH_CONFIG for 401/403 (the key); LH_RETRY / LH_RETRY_AFTER for what
 *   may pass (429, 5xx, transport, Stripe-Should-Retry: true); LH_PERMANENT otherwise.
 *   The reason is set as the call's error and counted in stripe_api_errors_total{reason}.
 */
lh_status_t stripe_api_list_events(const struct stripe *stripe, lh_ctx_t *ctx, int64_t created_gte,
                                   const char *starting_after, json_t **page_out,
                                   bool *stale_cursor_out);

/* The poll callback (stripe_poll.c). */
lh_status_t stripe_poll(void *state, lh_ctx_t *ctx);

/* Events a poll emits before it commits and leaves the rest to the next poll, checked
 * before each event (a poll_window may hold up to 100000): bounds the memory of one
 * transaction while a backlog drains. */
#define STRIPE_POLL_EVENT_BUDGET 5000

#endif
