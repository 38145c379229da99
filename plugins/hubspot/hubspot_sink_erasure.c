/*
 * hubspot_sink_erasure.c - lead.erased: the person asked to be forgotten (a LinkedIn
 * DELETED lead action, a GDPR request); the hub has erased its own copy
 * (docs/events.md, "Erasure") and asks this instance to erase HubSpot's.
 *
 * The contact is found by the lead's identity in this instance (its contact id), never by
 * email: the erased lead has none left, and HubSpot's GDPR delete by an email it does not
 * know puts that address on a blocklist. Then, by on_erased:
 *
 *   gdpr_delete  POST /crm/v3/objects/contacts/gdpr-delete {"objectId": id}: permanent
 *   archive      DELETE /crm/v3/objects/contacts/{id}: restorable in HubSpot for 90 days
 *   keep         no request (erasure is done in HubSpot by people)
 *
 * A contact HubSpot no longer has (404) is as good as deleted. A lead this instance never
 * wrote nor read has no contact id here: done without a request, counted
 * (hubspot_skipped_total{reason="erased_unknown"}), since there is nothing left to find
 * the contact by. Erasures run after the batch's other writes, so an earlier event of the
 * same lead in the batch cannot write the contact back.
 */
#include <stdio.h>
#include <string.h>

#include "hubspot.h"

#define PATH_GDPR_DELETE "/crm/v3/objects/contacts/gdpr-delete"
#define PATH_CONTACT     "/crm/v3/objects/contacts/"

static const char *const erasure_actions[] = {"gdpr_delete", "archive", "keep"};

/* Deletes contact `id` as on_erased says; decides delivery i. */
static void erase_contact(struct hubspot_batch *batch, size_t i, const char *id)
{
    struct hubspot *hs = batch->hs;
    struct hubspot_response response = {0};
    lh_status_t status;
    if (hs->on_erased == HUBSPOT_ERASE_ARCHIVE) {
        char path[sizeof(PATH_CONTACT) + HUBSPOT_ID_MAX];
        snprintf(path, sizeof(path), PATH_CONTACT "%s", id);
        status = hubspot_call(hs, batch->ctx, "DELETE", path, NULL, &response);
    } else {
        json_t *body = json_pack("{s:s}", "objectId", id);
        if (body == NULL) {
            hubspot_batch_decide(batch, i, LH_RETRY, "out of memory");
            return;
        }
        status = hubspot_call(hs, batch->ctx, "POST", PATH_GDPR_DELETE, body, &response);
        json_decref(body);
    }
    const char *action = erasure_actions[hs->on_erased];
    if (status == LH_OK || response.status == 404) {
        hs->host->counter_add(batch->ctx, "hubspot_erasures_total", "action",
                              status == LH_OK ? action : "already_gone", 1);
        hubspot_batch_decide(batch, i, LH_OK, NULL);
    } else {
        hubspot_batch_note_failure(batch, status, response.reason);
        hubspot_batch_decide(batch, i, status, response.reason);
    }
    hubspot_response_clear(&response);
}

void hubspot_erasures_send(struct hubspot_batch *batch)
{
    struct hubspot *hs = batch->hs;
    const lh_host_t *host = hs->host;
    const char *self = host->instance_name(batch->ctx);
    for (size_t i = 0; i < batch->count; i++) {
        const lh_delivery_t *delivery = batch->deliveries[i];
        const char *type = json_string_value(json_object_get(delivery->event, "type"));
        if (batch->decided[i] || type == NULL || strcmp(type, "lead.erased") != 0) {
            continue;
        }
        if (hs->on_erased == HUBSPOT_ERASE_KEEP) {
            host->counter_add(batch->ctx, HUBSPOT_METRIC_SKIPPED, "reason", "erasure_kept", 1);
            hubspot_batch_decide(batch, i, LH_OK, NULL);
            continue;
        }
        if (batch->abort_status != LH_OK) {
            hubspot_batch_decide(batch, i, batch->abort_status, batch->abort_reason);
            continue;
        }
        const json_t *resolved =
            LH_HAS_FIELD(lh_delivery_t, delivery, lead) ? delivery->lead : NULL;
        char id[HUBSPOT_ID_MAX];
        if (self == NULL ||
            !hubspot_contact_id_of(resolved, json_object_get(delivery->event, "lead"), self, id)) {
            host->counter_add(batch->ctx, HUBSPOT_METRIC_SKIPPED, "reason", "erased_unknown", 1);
            hubspot_batch_decide(batch, i, LH_OK, NULL);
            continue;
        }
        erase_contact(batch, i, id);
    }
}
