/*
 * stripe_build.h - what the mapping files share while they turn one Stripe event into
 * leadhub events (not part of the SDK, not used outside the normalizer):
 *
 *   stripe_normalize.c        the envelope, the type table, these helpers, customers
 *   stripe_map_payment.c      checkouts, invoices, refunds: payments keyed by what was paid
 *   stripe_map_subscription.c subscriptions: started, trials, scheduled cancellations, ends
 *
 * Pure: no host calls. A failed allocation sticks in `failed` and turns the whole verdict
 * into STRIPE_NO_MEMORY, so the mappings read straight through without checking each step.
 */
#ifndef LEADHUB_STRIPE_BUILD_H
#define LEADHUB_STRIPE_BUILD_H

#include "stripe.h"

/* Everything the mapping of one Stripe event builds. */
struct build {
    const json_t *event;  /* the Stripe event (borrowed) */
    const json_t *object; /* its data.object (borrowed) */
    const char *id;       /* its id (borrowed) */
    unsigned type;        /* enum stripe_type */
    char occurred_at[21];
    json_t *data;   /* owned: the `data` every event of this Stripe event carries */
    json_t *lead;   /* owned: the `lead`, attached when something identifies it */
    json_t *events; /* owned: the events built so far, in emitting order */
    bool failed;
    struct stripe_outcome *out;
};

enum stripe_verdict stripe_verdict_set(struct stripe_outcome *out, enum stripe_verdict v,
                                       const char *reason, const char *fmt, ...) LH_PRINTF(4, 5);

/* Whether value is the string `expected`. */
bool stripe_text_is(const json_t *value, const char *expected);

/* A short token fit for a log line ("unpaid"), or "(unreadable)". Borrowed from value. */
const char *stripe_token(const json_t *value);

/*
 * stripe_build_emit - adds an event of `type` (static storage) to b->events: source_id the
 * Stripe event id, occurred_at its creation, a copy of b->data and of b->lead (when it
 * identifies someone), and the Stripe event as `raw`. Call it after the data and the lead
 * are complete; data added afterwards goes only into later events.
 */
void stripe_build_emit(struct build *b, const char *type);

/* Setters that record allocation failure in b->failed. `value` is STOLEN. */
void stripe_put(struct build *b, json_t *object, const char *key, json_t *value);
void stripe_note(struct build *b, int rc);
/* data[key] = the non-empty string at object[field]. */
void stripe_data_string(struct build *b, const char *key, const json_t *object, const char *field);
/* data[key] = the integer value, when it is one. */
void stripe_data_integer(struct build *b, const char *key, const json_t *value);
/* data[key] = the id of the expandable field object[field]. */
void stripe_data_id(struct build *b, const char *key, const json_t *object, const char *field);
/* data[key] = unix seconds at object[field] as RFC 3339. */
void stripe_data_time(struct build *b, const char *key, const json_t *object, const char *field);

/* lead.email = the first usable candidate. */
void stripe_lead_email_first(struct build *b, const json_t *const *candidates, size_t count);
/* lead[key] = first, else second (trimmed text). */
void stripe_lead_text_first(struct build *b, const char *key, const json_t *first,
                            const json_t *second);
/* lead.id = the first candidate holding a leadhub lead id. */
void stripe_lead_id_first(struct build *b, const json_t *const *candidates, size_t count);
/* lead.external_id = the Stripe customer id, when there is one. */
void stripe_lead_external_id(struct build *b, const char *customer_id);

/* metadata.leadhub_lead_id of an object (borrowed), or NULL. */
const json_t *stripe_metadata_lead_id(const json_t *object);
/* The expanded customer object of `object`, or NULL when it is only an id. Borrowed. */
const json_t *stripe_expanded_customer(const json_t *object);
/* The object's own id when valid, or NULL. Borrowed. */
const char *stripe_object_id(const struct build *b);
/* The changed fields' names from data.previous_attributes, as data.changed. */
void stripe_data_changed(struct build *b);

/* The mappings. Each returns STRIPE_EMIT with at least one event in b->events, or the
 * verdict and reason of a skip or refusal. */
enum stripe_verdict stripe_map_checkout(struct build *b);
enum stripe_verdict stripe_map_invoice(struct build *b);
enum stripe_verdict stripe_map_refund(struct build *b);
enum stripe_verdict stripe_map_subscription(struct build *b);

#endif
