/*
 * hubspot_sink.c - deliver and deliver_batch: what each event asks of HubSpot.
 *
 *   lead.created, lead.updated, customer.created  contact upsert by email (mapped fields)
 *   lead.scored                                   the scorer's property on the contact
 *   lead.deleted, lead.merged                     done without a request (another source's
 *                                                 records; the contact stays)
 *   lead.erased                                   the lead's contact deleted (on_erased),
 *                                                 after the batch's other writes
 *   payment.succeeded                             lifecyclestage = customer
 *   meeting.scheduled / updated / canceled        the event's lead upserted (when it has an
 *                                                 email), then the meeting engagement
 *
 * Every contact write of a batch goes into as few batch requests as possible: deliveries
 * touching the same contact are merged into one input (HubSpot refuses a batch naming one
 * id twice), later events winning. The contact is the one of the lead the hub resolved the
 * event to (delivery->lead): its email, not whatever address the event carried (a payer
 * paying for a known lead marks the known lead a customer). A lead without an email is
 * written by its HubSpot id when the hub knows one for this instance; one with neither is
 * held (LH_HOLD) until its email arrives, not dead-lettered.
 *
 * An event this very instance emitted (a lead.updated routed back here) is done without a
 * request: HubSpot already holds it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strdup */
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hubspot.h"

void hubspot_batch_decide(struct hubspot_batch *batch, size_t i, lh_status_t status,
                          const char *reason)
{
    if (batch->decided[i]) {
        return;
    }
    batch->decided[i] = true;
    batch->results[i] = status;
    free(batch->messages[i]);
    batch->messages[i] = NULL;
    if (status != LH_OK && reason != NULL && reason[0] != '\0') {
        batch->messages[i] = strdup(reason);
        hubspot_redact(batch->hs, batch->messages[i]);
    }
}

void hubspot_batch_note_failure(struct hubspot_batch *batch, lh_status_t status, const char *reason)
{
    if (status == LH_OK || status == LH_PERMANENT || batch->abort_status != LH_OK) {
        return;
    }
    batch->abort_status = status;
    batch->abort_reason = reason != NULL && reason[0] != '\0' ? strdup(reason) : NULL;
}

long hubspot_contact_input_add(struct hubspot_batch *batch, const char *key, bool by_id,
                               const char *email, const json_t *properties)
{
    for (size_t k = 0; k < batch->input_count; k++) {
        struct hubspot_contact_input *input = &batch->inputs[k];
        if (input->by_id == by_id && hubspot_same_value(by_id ? "id" : "email", input->key, key)) {
            if (json_object_update(input->properties, (json_t *)properties) != 0) {
                return -1;
            }
            if (input->email == NULL && email != NULL) {
                input->email = strdup(email);
            }
            return (long)k;
        }
    }
    struct hubspot_contact_input *input = &batch->inputs[batch->input_count];
    memset(input, 0, sizeof(*input));
    input->key = strdup(key);
    input->email = email != NULL ? strdup(email) : NULL;
    input->properties = json_deep_copy(properties);
    if (input->key == NULL || input->properties == NULL ||
        (email != NULL && input->email == NULL)) {
        free(input->key);
        free(input->email);
        json_decref(input->properties);
        memset(input, 0, sizeof(*input));
        return -1;
    }
    input->by_id = by_id;
    input->status = LH_OK;
    return (long)batch->input_count++;
}

/* The score a lead.scored carries as text, or NULL. */
static char *score_text(const json_t *data)
{
    const json_t *score = json_object_get(data, "score");
    return json_is_number(score) ? hubspot_value_text(score) : NULL;
}

/*
 * A payment makes the contact a customer, with what the event says of the buyer (name,
 * company, phone...): a buyer first seen through a payment is not a nameless contact. When
 * the hub resolved the event to a lead with another address (an accounts department paid
 * for a known lead), what the event says is the payer's, not the lead's: only the stage is
 * written, on the lead's own contact. NEW, or NULL when out of memory.
 */
static json_t *payment_properties(const struct hubspot_batch *batch, size_t i, const json_t *lead)
{
    const lh_delivery_t *delivery = batch->deliveries[i];
    const json_t *resolved = LH_HAS_FIELD(lh_delivery_t, delivery, lead) ? delivery->lead : NULL;
    const char *lead_email = json_string_value(json_object_get(resolved, "email"));
    const char *payer_email = json_string_value(json_object_get(lead, "email"));
    bool payer_is_lead =
        !json_is_object(resolved) || payer_email == NULL ||
        (lead_email != NULL && hubspot_same_value("email", lead_email, payer_email));
    json_t *properties =
        payer_is_lead ? hubspot_contact_properties(&batch->hs->mapping, lead) : json_object();
    if (properties != NULL &&
        json_object_set_new(properties, "lifecyclestage", json_string("customer")) != 0) {
        json_decref(properties);
        return NULL;
    }
    return properties;
}

/*
 * The contact properties delivery i writes (NEW), or NULL with the delivery decided
 * (done without a request, or refused).
 */
static json_t *event_properties(struct hubspot_batch *batch, size_t i, const char *type,
                                const json_t *event)
{
    struct hubspot *hs = batch->hs;
    const lh_host_t *host = hs->host;
    const json_t *lead = json_object_get(event, "lead");
    if (strcmp(type, "lead.created") == 0 || strcmp(type, "lead.updated") == 0 ||
        strcmp(type, "customer.created") == 0 || strncmp(type, "meeting.", 8) == 0) {
        return hubspot_contact_properties(&hs->mapping, lead);
    }
    if (strcmp(type, "payment.succeeded") == 0) {
        return payment_properties(batch, i, lead);
    }
    if (strcmp(type, "lead.deleted") == 0 || strcmp(type, "lead.merged") == 0) {
        /* another source's records of the person: nothing for the CRM's contact to take (a
         * record deleted elsewhere is no reason to delete the contact) */
        host->counter_add(batch->ctx, HUBSPOT_METRIC_SKIPPED, "reason", "record_event", 1);
        hubspot_batch_decide(batch, i, LH_OK, NULL);
        return NULL;
    }
    if (strcmp(type, "lead.scored") == 0) {
        const json_t *data = json_object_get(event, "data");
        const char *scorer = json_string_value(json_object_get(data, "scorer"));
        const char *property =
            scorer != NULL ? json_string_value(json_object_get(hs->score_properties, scorer))
                           : NULL;
        if (property == NULL) {
            /* not every scorer needs to reach the CRM */
            host->counter_add(batch->ctx, HUBSPOT_METRIC_SKIPPED, "reason", "unmapped_scorer", 1);
            hubspot_batch_decide(batch, i, LH_OK, NULL);
            return NULL;
        }
        char *score = score_text(data);
        if (score == NULL) {
            hubspot_batch_decide(batch, i, LH_PERMANENT,
                                 "lead.scored: data.score must be a number");
            return NULL;
        }
        json_t *properties = json_pack("{s:s}", property, score);
        free(score);
        return properties;
    }
    char reason[160];
    snprintf(reason, sizeof(reason),
             "hubspot does not take %.64s events: check the routes that send them here", type);
    hubspot_batch_decide(batch, i, LH_PERMANENT, reason);
    return NULL;
}

bool hubspot_contact_id_of(const json_t *resolved, const json_t *event_lead, const char *self,
                           char id[HUBSPOT_ID_MAX])
{
    size_t k;
    const json_t *identity;
    json_array_foreach(json_object_get(resolved, "identities"), k, identity)
    {
        const char *source = json_string_value(json_object_get(identity, "source"));
        if (source != NULL && strcmp(source, self) == 0 &&
            hubspot_id_from_json(json_object_get(identity, "external_id"), id)) {
            return true;
        }
    }
    const json_t *external = json_object_get(json_object_get(event_lead, "external_ids"), self);
    return hubspot_id_from_json(external, id);
}

/* Works out what delivery i asks for: a contact input, a meeting, or a decision now. */
static void plan_delivery(struct hubspot_batch *batch, size_t i)
{
    struct hubspot *hs = batch->hs;
    const lh_host_t *host = hs->host;
    const json_t *event = batch->deliveries[i]->event;
    const char *type = json_string_value(json_object_get(event, "type"));
    if (!json_is_object(event) || type == NULL) {
        hubspot_batch_decide(batch, i, LH_PERMANENT, "the delivery carries no event object");
        return;
    }
    const char *source = json_string_value(json_object_get(event, "source"));
    const char *self = host->instance_name(batch->ctx);
    if (source != NULL && self != NULL && strcmp(source, self) == 0) {
        /* what this instance read from HubSpot, routed back: HubSpot holds it already */
        host->counter_add(batch->ctx, HUBSPOT_METRIC_SKIPPED, "reason", "own_event", 1);
        hubspot_batch_decide(batch, i, LH_OK, NULL);
        return;
    }
    bool meeting = strncmp(type, "meeting.", 8) == 0;
    if (meeting && !json_is_object(json_object_get(event, "meeting"))) {
        hubspot_batch_decide(batch, i, LH_PERMANENT, "a meeting event without a meeting object");
        return;
    }
    if (strcmp(type, "lead.erased") == 0) {
        /* hubspot_erasures_send(), once the batch's writes are made */
        batch->input_of[i] = -1;
        return;
    }
    json_t *properties = event_properties(batch, i, type, event);
    if (properties == NULL) {
        if (!batch->decided[i]) {
            hubspot_batch_decide(batch, i, LH_RETRY, "out of memory");
        }
        return;
    }
    const json_t *lead = json_object_get(event, "lead");
    /* the lead the hub resolved the event to, when there is one: its own email */
    const lh_delivery_t *delivery = batch->deliveries[i];
    const json_t *resolved = LH_HAS_FIELD(lh_delivery_t, delivery, lead) ? delivery->lead : NULL;
    const json_t *target = json_is_object(resolved) ? resolved : lead;
    char *email = hubspot_normalize_email(json_string_value(json_object_get(target, "email")));
    char id[HUBSPOT_ID_MAX] = "";
    if (self == NULL || !hubspot_contact_id_of(resolved, lead, self, id)) {
        id[0] = '\0';
    }
    long input = -1;
    if (id[0] != '\0') {
        /* the contact id is the lead's identity: written by it, whatever address either
         * side has now (a rep may have changed the contact's; the event's may be a payer's).
         * The address is left as HubSpot has it. */
        json_object_del(properties, "email");
        input = hubspot_contact_input_add(batch, id, true, email, properties);
    } else if (email != NULL) {
        json_object_set_new(properties, "email", json_string(email));
        input = hubspot_contact_input_add(batch, email, false, NULL, properties);
    } else if (!meeting && lead != NULL) {
        /* a customer whose email is not known yet (or a lead the hub is still waiting for):
         * HubSpot matches contacts by email, so this waits for it */
        hubspot_batch_decide(batch, i, LH_HOLD,
                             "waiting for the lead's email: HubSpot contacts are matched by "
                             "email, and the hub knows none (nor a HubSpot id) for this lead yet");
    } else if (!meeting) {
        hubspot_batch_decide(batch, i, LH_PERMANENT,
                             "the event names no lead: HubSpot contacts are matched by email");
    }
    if ((email != NULL || id[0] != '\0') && input < 0) {
        hubspot_batch_decide(batch, i, LH_RETRY, "out of memory");
    }
    batch->input_of[i] = input;
    free(email);
    json_decref(properties);
}

static void batch_free(struct hubspot_batch *batch)
{
    for (size_t k = 0; k < batch->input_count; k++) {
        free(batch->inputs[k].key);
        free(batch->inputs[k].email);
        free(batch->inputs[k].message);
        json_decref(batch->inputs[k].properties);
    }
    free(batch->inputs);
    free(batch->decided);
    free(batch->input_of);
    free(batch->abort_reason);
}

lh_status_t hubspot_deliver_batch(void *state, lh_ctx_t *ctx,
                                  const lh_delivery_t *const *deliveries, size_t count,
                                  lh_status_t *results, char **messages)
{
    struct hubspot *hs = state;
    struct hubspot_batch batch = {
        .hs = hs,
        .ctx = ctx,
        .deliveries = deliveries,
        .count = count,
        .results = results,
        .messages = messages,
        .abort_status = LH_OK,
    };
    if (count == 0) {
        return LH_OK;
    }
    batch.decided = calloc(count, sizeof(*batch.decided));
    batch.input_of = calloc(count, sizeof(*batch.input_of));
    batch.inputs = calloc(count, sizeof(*batch.inputs));
    if (batch.decided == NULL || batch.input_of == NULL || batch.inputs == NULL) {
        batch_free(&batch);
        hs->host->set_error(ctx, "out of memory");
        return LH_RETRY;
    }
    for (size_t i = 0; i < count; i++) {
        results[i] = LH_OK;
        messages[i] = NULL;
        plan_delivery(&batch, i);
    }
    hubspot_contacts_send(&batch);
    hubspot_meetings_send(&batch);
    hubspot_erasures_send(&batch);
    for (size_t i = 0; i < count; i++) {
        long k = batch.input_of[i];
        if (!batch.decided[i] && k >= 0) {
            hubspot_batch_decide(&batch, i, batch.inputs[k].status, batch.inputs[k].message);
        }
        if (!batch.decided[i]) {
            hubspot_batch_decide(&batch, i, LH_OK, NULL);
        }
    }
    batch_free(&batch);
    return LH_OK;
}

lh_status_t hubspot_deliver(void *state, lh_ctx_t *ctx, const lh_delivery_t *delivery)
{
    struct hubspot *hs = state;
    lh_status_t result = LH_OK;
    char *message = NULL;
    const lh_delivery_t *const one[] = {delivery};
    lh_status_t status = hubspot_deliver_batch(state, ctx, one, 1, &result, &message);
    if (status == LH_OK) {
        status = result;
    }
    if (status != LH_OK && message != NULL) {
        hs->host->set_error(ctx, "%s", message);
    }
    free(message);
    return status;
}
