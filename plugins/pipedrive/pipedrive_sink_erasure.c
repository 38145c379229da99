/*
 * pipedrive_sink_erasure.c - lead.erased: the person asked to be forgotten; the hub has
 * erased its own copy (docs/events.md, "Erasure") and asks this instance to erase
 * Pipedrive's.
 *
 * The person is found by the lead's identity in this instance (its person id), never by
 * email: the erased lead has none left. By on_erased:
 *
 *   delete  DELETE /api/v2/persons/{id} (Pipedrive purges deleted persons after 30 days)
 *   keep    no request (erasure is done in Pipedrive by people)
 *
 * A person Pipedrive no longer has (404) is as good as deleted. A lead this instance never
 * wrote nor read has no person id here: done without a request, counted
 * (pipedrive_skipped_total{reason="erased_unknown"}). What the instance kept of the person
 * that holds personal data (its email, for deals' leads) is dropped with it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipedrive.h"

/* Drops the checkpoints about person id. */
static lh_status_t forget_person(struct pipedrive *pd, lh_ctx_t *ctx, const char *id)
{
    char key[64];
    snprintf(key, sizeof(key), "seen:person:%s", id);
    lh_status_t status = pd->host->checkpoint_put(ctx, key, json_null());
    if (status == LH_OK) {
        pipedrive_written_key(id, key, sizeof(key));
        status = pd->host->checkpoint_put(ctx, key, json_null());
    }
    return status;
}

lh_status_t pipedrive_erase(struct pipedrive *pd, lh_ctx_t *ctx, const lh_delivery_t *delivery)
{
    const lh_host_t *host = pd->host;
    char id[PIPEDRIVE_ID_MAX];
    if (pd->keep_erased) {
        host->counter_add(ctx, PIPEDRIVE_METRIC_SKIPPED, "reason", "erased_kept", 1);
        return LH_OK;
    }
    if (!pipedrive_known_person_id(pd, ctx, delivery, id)) {
        host->counter_add(ctx, PIPEDRIVE_METRIC_SKIPPED, "reason", "erased_unknown", 1);
        host->log(ctx, LH_LOG_INFO,
                  "lead.erased of a lead without a Pipedrive person id here: nothing to delete");
        return LH_OK;
    }
    lh_url_t builder;
    pipedrive_url(pd, &builder, "/api/v2/persons");
    lh_url_add_path(&builder, id);
    char *url = lh_url_take(&builder);
    if (url == NULL) {
        host->set_error(ctx, "out of memory");
        return LH_RETRY;
    }
    struct pipedrive_response answer;
    lh_status_t status = pipedrive_call(pd, ctx, "DELETE", url, NULL, &answer);
    free(url);
    if (status == LH_PERMANENT && answer.status == 404) {
        status = LH_OK; /* already gone */
    }
    pipedrive_response_clear(&answer);
    if (status == LH_OK) {
        status = forget_person(pd, ctx, id);
    }
    return status;
}
