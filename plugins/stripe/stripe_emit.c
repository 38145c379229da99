/*
 * stripe_emit.c - hands the events one Stripe event became to the host, for the webhook
 * and the poll alike, so that both store exactly the same thing.
 */
#include "stripe.h"

lh_status_t stripe_emit_outcome(const lh_host_t *host, lh_ctx_t *ctx,
                                struct stripe_outcome *outcome, size_t *emitted_out)
{
    lh_status_t status = LH_OK;
    *emitted_out = 0;
    for (size_t i = 0; i < json_array_size(outcome->events) && status == LH_OK; i++) {
        /* emit steals its event: the array keeps its own reference until it goes */
        status = host->emit(ctx, json_incref(json_array_get(outcome->events, i)));
        if (status == LH_OK) {
            (*emitted_out)++;
        }
    }
    json_decref(outcome->events);
    outcome->events = NULL;
    return status;
}
