/*
 * hubspot_records.c - what HubSpot's webhooks said of contacts themselves, recorded by
 * the webhook (hubspot_webhook.c) and taken by the poll, becomes events without a fetch
 * (there is nothing left to read of a deleted or merged-away contact):
 *
 *   "contact.deleted:<id>" {"at", "privacy"}  ->  lead.deleted, lead {external_id: id},
 *        data {privacy: false}; source_id "contact.deleted:<id>:<at>". What was seen of
 *        the contact is forgotten, so that a contact restored or made again is read in
 *        full. A privacy deletion (HubSpot's GDPR delete: the person asked to be
 *        forgotten) is lead.erased instead, data {reason: "hubspot_privacy_deletion"}:
 *        the hub erases the person's data everywhere and routes the erasure on.
 *   "contact.merged:<id>" {"at", "into"}      ->  lead.merged, lead {external_id: into},
 *        data {merged_external_ids: [id]}; source_id "contact.merged:<id>:<at>" (one per
 *        record taken away: a merge's ids may be taken by two polls).
 *
 * The hub removes the deleted identity, or moves the merged one to the kept record's lead
 * (docs/events.md).
 */
#include <stdio.h>
#include <string.h>

#include "hubspot.h"

#define PREFIX_DELETED "contact.deleted:"
#define PREFIX_MERGED  "contact.merged:"

static const char *record_id(const char *key, const char *prefix)
{
    size_t len = strlen(prefix);
    return strncmp(key, prefix, len) == 0 && hubspot_id_valid(key + len) ? key + len : NULL;
}

bool hubspot_record_change_key(const char *key)
{
    return record_id(key, PREFIX_DELETED) != NULL || record_id(key, PREFIX_MERGED) != NULL;
}

/* The event one taken notification says, or NULL when it is not one of these. NEW. */
static json_t *record_event(const char *key, const json_t *value, char *id_out, size_t id_size)
{
    const char *deleted = record_id(key, PREFIX_DELETED);
    const char *merged = record_id(key, PREFIX_MERGED);
    const json_t *at_value = json_object_get(value, "at");
    int64_t at = json_is_integer(at_value) ? json_integer_value(at_value) : 0;
    char source_id[HUBSPOT_ID_MAX + 48], occurred[32];
    hubspot_format_time(at, occurred);
    if (deleted != NULL) {
        snprintf(id_out, id_size, "%s", deleted);
        snprintf(source_id, sizeof(source_id), "%s%s:%lld", PREFIX_DELETED, deleted, (long long)at);
        if (json_is_true(json_object_get(value, "privacy"))) {
            return json_pack("{s:s, s:s, s:s, s:{s:s}, s:{s:s}}", "type", "lead.erased",
                             "source_id", source_id, "occurred_at", occurred, "lead", "external_id",
                             deleted, "data", "reason", "hubspot_privacy_deletion");
        }
        return json_pack("{s:s, s:s, s:s, s:{s:s}, s:{s:b}}", "type", "lead.deleted", "source_id",
                         source_id, "occurred_at", occurred, "lead", "external_id", deleted, "data",
                         "privacy", 0);
    }
    const char *into = json_string_value(json_object_get(value, "into"));
    if (merged == NULL || into == NULL || !hubspot_id_valid(into)) {
        return NULL;
    }
    snprintf(id_out, id_size, "%s", merged);
    snprintf(source_id, sizeof(source_id), "%s%s:%lld", PREFIX_MERGED, merged, (long long)at);
    return json_pack("{s:s, s:s, s:s, s:{s:s}, s:{s:[s]}}", "type", "lead.merged", "source_id",
                     source_id, "occurred_at", occurred, "lead", "external_id", into, "data",
                     "merged_external_ids", merged);
}

lh_status_t hubspot_emit_record_changes(struct hubspot *hs, lh_ctx_t *ctx, const json_t *items)
{
    size_t i;
    const json_t *item;
    json_array_foreach(items, i, item)
    {
        const char *key = json_string_value(json_object_get(item, "key"));
        char id[HUBSPOT_ID_MAX];
        json_t *event =
            key != NULL ? record_event(key, json_object_get(item, "value"), id, sizeof(id)) : NULL;
        if (event == NULL) {
            continue;
        }
        bool deleted =
            strcmp(json_string_value(json_object_get(event, "type")), "lead.merged") != 0;
        lh_status_t status = hubspot_emit(hs, ctx, event, "contact", id);
        if (status == LH_OK && deleted) {
            char seen_key[48];
            snprintf(seen_key, sizeof(seen_key), "contact:%s", id);
            status = hs->host->checkpoint_put(ctx, seen_key, json_null());
        }
        if (status != LH_OK) {
            return status;
        }
    }
    return LH_OK;
}
