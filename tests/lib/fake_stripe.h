/*
 * fake_stripe.h - a fake Stripe Events API for connector tests (libmicrohttpd on
 * 127.0.0.1). It holds a list of events and answers GET /v1/events the way Stripe does:
 * Bearer key authentication (401 with Stripe's error body otherwise), newest first,
 * created[gt|gte|lt|lte], types[] / type filters, limit (1-100), starting_after and
 * ending_before cursors (404 resource_missing for an unknown one), has_more, and Stripe's
 * error shape. Failures (429, 5xx, Stripe-Should-Retry) are scripted per request number.
 *
 * fake_http (tests/lib/fake_http.h) answers scripted responses by exact URL; a list whose
 * pages depend on the cursor and filters a client sends needs answers computed from the
 * request, hence this server of its own.
 */
#ifndef LEADHUB_FAKE_STRIPE_H
#define LEADHUB_FAKE_STRIPE_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

struct fake_stripe;

/* Starts a server accepting `api_key` as "Authorization: Bearer <api_key>". */
struct fake_stripe *fake_stripe_start(const char *api_key);
void fake_stripe_stop(struct fake_stripe *stripe);

/* "http://127.0.0.1:PORT", malloc'd: the api_base of the instance under test. */
char *fake_stripe_base_url(const struct fake_stripe *stripe);

/*
 * fake_stripe_add_event - add an event (copied). The list is kept as Stripe shows it:
 * newest `created` first; among events of one second, the one added last comes first.
 */
void fake_stripe_add_event(struct fake_stripe *stripe, const json_t *event);

/* fake_stripe_remove_event - forget an event, as Stripe does after 30 days. */
void fake_stripe_remove_event(struct fake_stripe *stripe, const char *id);

/* fake_stripe_set_page_size - answer at most n events per page whatever `limit` says
 * (0: limit decides), so that tests page through a few events. */
void fake_stripe_set_page_size(struct fake_stripe *stripe, size_t n);

/*
 * fake_stripe_fail - answer the list request number `request` (1 for the first one
 * received, counting every request) with `status`, `body` (Stripe's error JSON; copied)
 * and one extra "Name: value" header line or NULL (copied).
 */
void fake_stripe_fail(struct fake_stripe *stripe, size_t request, int status, const char *body,
                      const char *header);

/* fake_stripe_stop_after - set *flag to true once `requests` more requests have been
 * answered (a poll's deadline arriving mid-walk). NULL flag: no more. */
void fake_stripe_stop_after(struct fake_stripe *stripe, size_t requests, atomic_bool *flag);

/* What the server received. */
struct fake_stripe_request {
    char *url;            /* path and query as received */
    char *authorization;  /* or NULL */
    char *stripe_version; /* the Stripe-Version header, or NULL */
    int status;           /* what it answered */
};

size_t fake_stripe_request_count(struct fake_stripe *stripe);
/* A copy of request i (0-based); free with fake_stripe_request_free(). */
struct fake_stripe_request fake_stripe_request(struct fake_stripe *stripe, size_t i);
void fake_stripe_request_free(struct fake_stripe_request *request);

/* A minimal Stripe event (NEW reference): id, type, created, livemode false, and
 * data.object as given (STOLEN; NULL for an empty customer-like object). */
json_t *fake_stripe_event(const char *id, const char *type, long long created, json_t *object);

#endif
