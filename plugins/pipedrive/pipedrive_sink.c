/*
 * pipedrive_sink.c - deliver: what each event asks of Pipedrive.
 *
 *   lead.created, lead.updated, customer.created  the lead's person, created or updated
 *   payment.succeeded                             ...with customer_label_id among its labels
 *   meeting.*                                     ...then the meeting's activity
 *   lead.scored                                   the scorer's custom field (score_fields),
 *                                                 or nothing for an unmapped scorer
 *   lead.erased                                   the lead's person deleted (on_erased)
 *   lead.deleted, lead.merged                     done without a request (another source's
 *                                                 records; the person stays)
 *   an event this instance emitted                done without a request
 *   anything else                                 refused: the routes are wrong
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipedrive.h"

static bool is_meeting(const char *type)
{
    static const char *const types[] = {"meeting.scheduled", "meeting.updated",
                                        "meeting.rescheduled", "meeting.canceled",
                                        "meeting.held", "meeting.no_show", NULL};
    for (size_t i = 0; types[i] != NULL; i++) {
        if (strcmp(type, types[i]) == 0) {
            return true;
        }
    }
    return false;
}

/* A payment's buyer is the lead unless the hub resolved it to a lead with another address
 * (an accounts department paying for a known lead): then only the label is written. */
static bool payer_is_lead(const lh_delivery_t *delivery)
{
    const json_t *resolved = LH_HAS_FIELD(lh_delivery_t, delivery, lead) ? delivery->lead : NULL;
    char *lead = pipedrive_normalize_email(json_string_value(json_object_get(resolved, "email")));
    char *payer = pipedrive_normalize_email(
        json_string_value(json_object_get(json_object_get(delivery->event, "lead"), "email")));
    bool same = !json_is_object(resolved) || payer == NULL || (lead != NULL && strcmp(lead, payer) == 0);
    free(lead);
    free(payer);
    return same;
}

static lh_status_t deliver_score(struct pipedrive *pd, lh_ctx_t *ctx,
                                 const lh_delivery_t *delivery)
{
    const json_t *data = json_object_get(delivery->event, "data");
    const char *scorer = json_string_value(json_object_get(data, "scorer"));
    const char *field =
        scorer != NULL ? json_string_value(json_object_get(pd->score_fields, scorer)) : NULL;
    if (field == NULL) {
        /* not every scorer needs to reach the CRM */
        pd->host->counter_add(ctx, PIPEDRIVE_METRIC_SKIPPED, "reason", "unmapped_scorer", 1);
        return LH_OK;
    }
    const json_t *score = json_object_get(data, "score");
    if (!json_is_number(score)) {
        pd->host->set_error(ctx, "lead.scored: data.score must be a number");
        return LH_PERMANENT;
    }
    json_t *custom = json_pack("{s:O}", field, score);
    char id[PIPEDRIVE_ID_MAX];
    lh_status_t status = custom != NULL
                             ? pipedrive_person_upsert(pd, ctx, delivery, 0, custom, true, id)
                             : LH_RETRY;
    json_decref(custom);
    return status;
}

lh_status_t pipedrive_deliver(void *state, lh_ctx_t *ctx, const lh_delivery_t *delivery)
{
    struct pipedrive *pd = state;
    const lh_host_t *host = pd->host;
    const json_t *event = delivery->event;
    const char *type = json_string_value(json_object_get(event, "type"));
    const char *source = json_string_value(json_object_get(event, "source"));
    const char *self = host->instance_name(ctx);
    char id[PIPEDRIVE_ID_MAX];
    if (type == NULL) {
        host->set_error(ctx, "the delivery carries no event type");
        return LH_PERMANENT;
    }
    if (source != NULL && self != NULL && strcmp(source, self) == 0) {
        /* what this instance read from Pipedrive, routed back: Pipedrive holds it already */
        host->counter_add(ctx, PIPEDRIVE_METRIC_SKIPPED, "reason", "own_event", 1);
        return LH_OK;
    }
    if (strcmp(type, "lead.created") == 0 || strcmp(type, "lead.updated") == 0 ||
        strcmp(type, "customer.created") == 0) {
        return pipedrive_person_upsert(pd, ctx, delivery, 0, NULL, false, id);
    }
    if (strcmp(type, "payment.succeeded") == 0) {
        if (pd->customer_label_id <= 0) {
            host->set_error(ctx, "payment.succeeded needs the setting customer_label_id (the "
                                 "person label that means customer): set it, or stop routing "
                                 "payments to this instance");
            return LH_PERMANENT;
        }
        return pipedrive_person_upsert(pd, ctx, delivery, pd->customer_label_id, NULL,
                                       !payer_is_lead(delivery), id);
    }
    if (is_meeting(type)) {
        if (!json_is_object(json_object_get(event, "meeting"))) {
            host->set_error(ctx, "a meeting event without a meeting object");
            return LH_PERMANENT;
        }
        lh_status_t status = pipedrive_person_upsert(pd, ctx, delivery, 0, NULL, false, id);
        return status == LH_OK ? pipedrive_meeting_deliver(pd, ctx, delivery, type, id) : status;
    }
    if (strcmp(type, "lead.scored") == 0) {
        return deliver_score(pd, ctx, delivery);
    }
    if (strcmp(type, "lead.erased") == 0) {
        return pipedrive_erase(pd, ctx, delivery);
    }
    if (strcmp(type, "lead.deleted") == 0 || strcmp(type, "lead.merged") == 0) {
        host->counter_add(ctx, PIPEDRIVE_METRIC_SKIPPED, "reason", "record_event", 1);
        return LH_OK;
    }
    host->set_error(ctx, "pipedrive does not take %.64s events: check the routes", type);
    return LH_PERMANENT;
}
