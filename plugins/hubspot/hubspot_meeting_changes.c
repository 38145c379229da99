/*
 * hubspot_meeting_changes.c - meeting engagements read from HubSpot (search pages or
 * webhook fetches) become meeting.* events: a meeting a rep books in HubSpot reaches the
 * hub, and its outcome (hs_meeting_outcome) says whether it was held.
 *
 * What was last seen of each engagement is kept in the checkpoint "engagement:<id>"
 * ({"m", "p"}), committed with the events; only a change of what leadhub keeps is emitted
 * (hubspot_meeting_json.c). The event's lead is the first associated contact HubSpot has an
 * email for, its attendees every associated contact with an email. source_id is
 * "meeting:<id>:<hs_lastmodifieddate ms>": one modification, seen by a webhook fetch and by
 * a poll, is stored once.
 *
 * Engagements the hub wrote itself (they carry its marker in hs_internal_meeting_notes:
 * hubspot_sink_meetings.c) are recorded as seen and emit nothing: the hub knows them under
 * their own source, and a second meeting of the same would be wrong.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hubspot.h"

#define PATH_MEETINGS_READ "/crm/v3/objects/meetings/batch/read"

/* The meeting.* event of a change, with its lead and attendees. NEW. */
static json_t *meeting_event(const struct hubspot_meeting_change *change, const json_t *object,
                             const json_t *contacts, const json_t *emails)
{
    char source_id[64], occurred[32];
    snprintf(source_id, sizeof(source_id), "meeting:%s:%lld", change->id,
             (long long)change->modified_ms);
    hubspot_format_time(change->modified_ms, occurred);
    json_t *meeting = json_deep_copy(change->meeting);
    json_t *attendees = json_array();
    json_t *lead = NULL;
    size_t i;
    const json_t *contact;
    json_array_foreach(contacts, i, contact)
    {
        const char *email = json_string_value(json_object_get(emails, json_string_value(contact)));
        if (email == NULL) {
            continue;
        }
        json_array_append_new(attendees, json_pack("{s:s}", "email", email));
        if (lead == NULL) {
            lead = json_pack("{s:s, s:O}", "email", email, "external_id", contact);
        }
    }
    if (json_array_size(attendees) > 0) {
        json_object_set_new(meeting, "attendees", attendees);
    } else {
        json_decref(attendees);
    }
    return json_pack("{s:s, s:s, s:s, s:o*, s:o, s:o*}", "type", change->type, "source_id",
                     source_id, "occurred_at", occurred, "lead", lead, "meeting", meeting, "raw",
                     hubspot_raw_copy(object, 0));
}

lh_status_t hubspot_emit_meetings(struct hubspot *hs, lh_ctx_t *ctx, const json_t *objects,
                                  int64_t *max_modified_out)
{
    const lh_host_t *host = hs->host;
    size_t count = json_array_size(objects);
    struct hubspot_meeting_change *changes = calloc(count > 0 ? count : 1, sizeof(*changes));
    json_t *changed_ids = json_array();
    json_t *contact_ids = json_array();
    json_t *contacts = NULL, *emails = NULL;
    lh_status_t status = LH_OK;
    if (changes == NULL || changed_ids == NULL || contact_ids == NULL) {
        host->set_error(ctx, "out of memory");
        status = LH_RETRY;
        goto out;
    }
    for (size_t i = 0; i < count; i++) {
        const json_t *object = json_array_get(objects, i);
        char id[HUBSPOT_ID_MAX], key[48];
        json_t *seen = NULL;
        if (!hubspot_id_from_json(json_object_get(object, "id"), id)) {
            host->counter_add(ctx, HUBSPOT_METRIC_SKIPPED, "reason", "unreadable_meeting", 1);
            continue;
        }
        snprintf(key, sizeof(key), "engagement:%s", id);
        status = hubspot_state_get(hs, ctx, key, &seen);
        if (status != LH_OK) {
            goto out;
        }
        if (hubspot_meeting_observe(object, seen, &changes[i]) != 0) {
            host->counter_add(ctx, HUBSPOT_METRIC_SKIPPED, "reason", "unreadable_meeting", 1);
        }
        json_decref(seen);
        if (changes[i].modified_ms > *max_modified_out) {
            *max_modified_out = changes[i].modified_ms;
        }
        if (changes[i].type != NULL && changes[i].own) {
            host->counter_add(ctx, HUBSPOT_METRIC_SKIPPED, "reason", "own_meeting", 1);
            changes[i].type = NULL;
        }
        if (changes[i].type != NULL) {
            json_array_append_new(changed_ids, json_string(changes[i].id));
        }
    }
    if (json_array_size(changed_ids) > 0) {
        status = hubspot_associated_contacts(hs, ctx, "meetings", changed_ids, &contacts);
        if (status != LH_OK) {
            goto out;
        }
        json_t *asked = json_object();
        const char *meeting;
        const json_t *ids;
        json_object_foreach(contacts, meeting, ids)
        {
            size_t j;
            const json_t *contact;
            json_array_foreach(ids, j, contact)
            {
                if (asked != NULL && json_object_get(asked, json_string_value(contact)) == NULL) {
                    json_object_set_new(asked, json_string_value(contact), json_true());
                    json_array_append(contact_ids, (json_t *)contact);
                }
            }
        }
        json_decref(asked);
        status = hubspot_contact_emails(hs, ctx, contact_ids, &emails);
        if (status != LH_OK) {
            goto out;
        }
    }
    for (size_t i = 0; i < count && status == LH_OK; i++) {
        if (changes[i].seen == NULL) {
            continue;
        }
        if (changes[i].type != NULL) {
            json_t *event = meeting_event(&changes[i], json_array_get(objects, i),
                                          json_object_get(contacts, changes[i].id), emails);
            status = hubspot_emit(hs, ctx, event, "meeting", changes[i].id);
        }
        if (status == LH_OK) {
            char key[48];
            snprintf(key, sizeof(key), "engagement:%s", changes[i].id);
            status = host->checkpoint_put(ctx, key, json_incref(changes[i].seen));
        }
    }
out:
    for (size_t i = 0; changes != NULL && i < count; i++) {
        hubspot_meeting_change_clear(&changes[i]);
    }
    free(changes);
    json_decref(changed_ids);
    json_decref(contact_ids);
    json_decref(contacts);
    json_decref(emails);
    return status;
}

lh_status_t hubspot_fetch_meetings(struct hubspot *hs, lh_ctx_t *ctx, const json_t *ids)
{
    json_t *properties = hubspot_meeting_property_names();
    if (properties == NULL) {
        hs->host->set_error(ctx, "out of memory");
        return LH_RETRY;
    }
    lh_status_t status = LH_OK;
    size_t total = json_array_size(ids);
    for (size_t start = 0; start < total && status == LH_OK; start += HUBSPOT_BATCH_MAX) {
        size_t n = total - start < HUBSPOT_BATCH_MAX ? total - start : HUBSPOT_BATCH_MAX;
        json_t *results = NULL;
        status =
            hubspot_batch_read(hs, ctx, PATH_MEETINGS_READ, properties, ids, start, n, &results);
        if (status == LH_OK) {
            int64_t latest = -1;
            status = hubspot_emit_meetings(hs, ctx, results, &latest);
        }
        json_decref(results);
    }
    json_decref(properties);
    return status;
}
