/*
 * stripe_webhook.c - POST /webhooks/{instance}: one Stripe event per request.
 *
 * The signature is checked before the body is parsed, so unsigned bytes never reach the
 * JSON parser. Every refusal is a 400 with its reason (the host's answer to LH_PERMANENT)
 * and stores nothing. An event the instance does not store (another mode, a type not
 * enabled, an unpaid checkout) is answered 200 so that Stripe stops sending it, and
 * counted. The event's id is its source_id: a redelivery, or the poll finding the same
 * event, stores nothing twice.
 */
#include <string.h>

#include "stripe.h"

#define METRIC_SKIPPED "stripe_events_skipped_total"

lh_status_t stripe_webhook(void *state, lh_ctx_t *ctx, const lh_webhook_request_t *request)
{
    const struct stripe *stripe = state;
    const lh_host_t *host = stripe->host;
    lh_status_t status = stripe_signature_verify(stripe, ctx, request);
    if (status != LH_OK) {
        return status;
    }
    json_error_t error;
    json_t *body =
        json_loadb((const char *)request->body, request->body_len, JSON_REJECT_DUPLICATES, &error);
    if (body == NULL) {
        return stripe_webhook_reject(stripe, ctx, "malformed_json",
                                     "body is not valid JSON: %s (line %d, column %d)", error.text,
                                     error.line, error.column);
    }
    struct stripe_filter filter = {.types = stripe->types, .livemode = stripe->livemode};
    struct stripe_outcome outcome;
    switch (stripe_normalize(body, &filter, &outcome)) {
    case STRIPE_EMIT: {
        size_t emitted;
        status = stripe_emit_outcome(host, ctx, &outcome, &emitted);
        if (status == LH_PERMANENT) {
            /* the host's reason is already the call's error */
            host->counter_add(ctx, "stripe_webhook_rejected_total", "reason", "invalid_event", 1);
        }
        break;
    }
    case STRIPE_SKIP:
        host->counter_add(ctx, METRIC_SKIPPED, "reason", outcome.reason, 1);
        host->log(ctx, LH_LOG_DEBUG, "skipped: %s", outcome.detail);
        status = LH_OK;
        break;
    case STRIPE_INVALID:
        status = stripe_webhook_reject(stripe, ctx, "invalid_event", "%s", outcome.detail);
        break;
    case STRIPE_NO_MEMORY:
        host->set_error(ctx, "%s", outcome.detail);
        status = LH_RETRY;
        break;
    }
    json_decref(body);
    return status;
}
