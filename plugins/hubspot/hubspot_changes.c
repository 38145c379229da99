/*
 * hubspot_changes.c - contacts and deals read from HubSpot (search pages or webhook
 * fetches) become events.
 *
 * What was last seen of each object is kept in checkpoints, committed with the events:
 *   "contact:<id>"          {"m": lastmodifieddate ms, "p": {property: value}}
 *   "deal:<id>"             {"m": hs_lastmodifieddate ms, "stage", "pipeline"}
 * and, written by the sink at once, what the hub itself wrote:
 *   "contact:<id>:written"  {"p": {property: {"v": value, "at": HubSpot's updatedAt}}}
 *
 * A contact becomes a lead.updated carrying only the fields that changed since it was
 * last seen, leaving out values the hub wrote after that (the echo of its own write: loop
 * suppression). A deal becomes a deal.stage_changed when its stage differs from the one
 * seen (or it is new), with its pipeline, stage, amount and associated contacts.
 *
 * source_id is "contact:<id>:<modified ms>" / "deal:<id>:<modified ms>": the same change
 * seen by a webhook fetch and by a poll is one event, stored once.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strdup */
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hubspot.h"

#define PATH_CONTACTS_READ "/crm/v3/objects/contacts/batch/read"
#define PATH_DEALS_READ    "/crm/v3/objects/deals/batch/read"
#define RAW_DEPTH          8

/*
 * A copy of a HubSpot object fit for an event's raw: strings holding U+0000 (which the
 * database cannot store) and anything nested deeper than RAW_DEPTH are left out. NEW.
 */
json_t *hubspot_raw_copy(const json_t *value, int depth)
{
    if (json_is_string(value)) {
        return strlen(json_string_value(value)) == json_string_length(value)
                   ? json_stringn(json_string_value(value), json_string_length(value))
                   : NULL;
    }
    if (json_is_real(value)) {
        double d = json_real_value(value);
        return d == d && d < 1e300 && d > -1e300 ? json_real(d) : NULL;
    }
    if (!json_is_object(value) && !json_is_array(value)) {
        return json_copy((json_t *)value);
    }
    if (depth >= RAW_DEPTH) {
        return NULL;
    }
    json_t *copy = json_is_object(value) ? json_object() : json_array();
    if (json_is_object(value)) {
        const char *key;
        const json_t *member;
        json_object_foreach((json_t *)value, key, member)
        {
            json_t *c = hubspot_raw_copy(member, depth + 1);
            if (c != NULL) {
                json_object_set_new(copy, key, c);
            }
        }
    } else {
        size_t i;
        const json_t *member;
        json_array_foreach(value, i, member)
        {
            json_t *c = hubspot_raw_copy(member, depth + 1);
            if (c != NULL) {
                json_array_append_new(copy, c);
            }
        }
    }
    return copy;
}

/*
 * Emits one event (STOLEN). An event leadhub refuses is skipped and counted: one odd
 * record must not hold back every change after it.
 *
 * Note: today's host cannot refuse what this file builds, so the skip is never taken. Every
 * field the host checks is checked here first: a known type; a source_id of at most 20 + 15
 * digits; occurred_at from hubspot_format_time() (a year outside 0-9999 becomes 1970); a
 * lead that always has external_id; text trimmed, at most 1024 bytes, without U+0000
 * (observe_property() and property_text() leave other values out); emails normalized by
 * the host's own rules; raw without U+0000 strings, non-finite numbers or deep nesting.
 * The skip stays for a host whose checks grow stricter (a new SDK); the poll test
 * test_hubspot_poll_skips_a_contact_whose_event_the_host_refuses_and_emits_the_rest drives
 * it through a host that refuses one contact.
 */
lh_status_t hubspot_emit(struct hubspot *hs, lh_ctx_t *ctx, json_t *event, const char *object,
                         const char *id)
{
    const lh_host_t *host = hs->host;
    if (event == NULL) {
        host->set_error(ctx, "out of memory");
        return LH_RETRY;
    }
    lh_status_t status = host->emit(ctx, event);
    if (status == LH_PERMANENT) {
        host->counter_add(ctx, HUBSPOT_METRIC_SKIPPED, "reason", "invalid_event", 1);
        host->log(ctx, LH_LOG_WARN, "%s %s: its event was refused and is skipped", object, id);
        return LH_OK;
    }
    if (status == LH_OK) {
        host->counter_add(ctx, "hubspot_changes_total", "object", object, 1);
    }
    return status;
}

/* A checkpoint value, or NULL when absent; LH_RETRY when it cannot be read. */
lh_status_t hubspot_state_get(struct hubspot *hs, lh_ctx_t *ctx, const char *key, json_t **out)
{
    lh_status_t status = hs->host->checkpoint_get(ctx, key, out);
    return status == LH_PERMANENT ? LH_OK : status;
}

lh_status_t hubspot_emit_contacts(struct hubspot *hs, lh_ctx_t *ctx, const json_t *objects,
                                  int64_t *max_modified_out)
{
    const lh_host_t *host = hs->host;
    size_t i;
    const json_t *contact;
    json_array_foreach(objects, i, contact)
    {
        char id[HUBSPOT_ID_MAX];
        if (!hubspot_id_from_json(json_object_get(contact, "id"), id)) {
            host->counter_add(ctx, HUBSPOT_METRIC_SKIPPED, "reason", "unreadable_contact", 1);
            continue;
        }
        char seen_key[48], written_key[64];
        snprintf(seen_key, sizeof(seen_key), "contact:%s", id);
        snprintf(written_key, sizeof(written_key), "contact:%s:written", id);
        json_t *seen = NULL, *written = NULL;
        lh_status_t status = hubspot_state_get(hs, ctx, seen_key, &seen);
        if (status == LH_OK) {
            status = hubspot_state_get(hs, ctx, written_key, &written);
        }
        if (status != LH_OK) {
            json_decref(seen);
            return status;
        }
        struct hubspot_contact_change change;
        int rc = hubspot_contact_observe(&hs->mapping, contact, seen, written, &change);
        json_decref(seen);
        json_decref(written);
        if (rc != 0) {
            host->counter_add(ctx, HUBSPOT_METRIC_SKIPPED, "reason", "unreadable_contact", 1);
            continue;
        }
        if (change.modified_ms > *max_modified_out) {
            *max_modified_out = change.modified_ms;
        }
        if (change.suppressed > 0) {
            host->counter_add(ctx, "hubspot_echoes_suppressed_total", NULL, NULL,
                              change.suppressed);
        }
        if (change.dropped > 0) {
            host->counter_add(ctx, HUBSPOT_METRIC_SKIPPED, "reason", "unfit_value", change.dropped);
        }
        if (change.lead != NULL) {
            char source_id[64], occurred[32];
            snprintf(source_id, sizeof(source_id), "contact:%s:%lld", id,
                     (long long)change.modified_ms);
            hubspot_format_time(change.modified_ms, occurred);
            json_t *event = json_pack("{s:s, s:s, s:s, s:O, s:o*}", "type", "lead.updated",
                                      "source_id", source_id, "occurred_at", occurred, "lead",
                                      change.lead, "raw", hubspot_raw_copy(contact, 0));
            status = hubspot_emit(hs, ctx, event, "contact", id);
        }
        if (status == LH_OK) {
            status = host->checkpoint_put(ctx, seen_key, json_incref(change.seen));
        }
        hubspot_contact_change_clear(&change);
        if (status != LH_OK) {
            return status;
        }
    }
    return LH_OK;
}

/* One batch read by id: results of a 200 or 207 (missing objects are counted). */
lh_status_t hubspot_batch_read(struct hubspot *hs, lh_ctx_t *ctx, const char *path,
                               const json_t *properties, const json_t *ids, size_t start, size_t n,
                               json_t **results_out)
{
    *results_out = NULL;
    json_t *inputs = json_array();
    for (size_t j = 0; inputs != NULL && j < n; j++) {
        json_array_append_new(inputs, json_pack("{s:O}", "id", json_array_get(ids, start + j)));
    }
    json_t *body = json_pack("{s:O, s:o}", "properties", properties, "inputs", inputs);
    if (body == NULL) {
        hs->host->set_error(ctx, "out of memory");
        return LH_RETRY;
    }
    struct hubspot_response response;
    lh_status_t status = hubspot_call(hs, ctx, "POST", path, body, &response);
    json_decref(body);
    if (status == LH_OK) {
        json_t *results = json_object_get(response.body, "results");
        size_t missing = json_array_size(json_object_get(response.body, "errors"));
        if (missing > 0) {
            hs->host->counter_add(ctx, HUBSPOT_METRIC_SKIPPED, "reason", "not_found",
                                  (double)missing);
        }
        *results_out = json_is_array(results) ? json_incref(results) : json_array();
    }
    hubspot_response_clear(&response);
    return status;
}

lh_status_t hubspot_fetch_contacts(struct hubspot *hs, lh_ctx_t *ctx, const json_t *ids)
{
    json_t *properties = hubspot_contact_property_names(&hs->mapping);
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
            hubspot_batch_read(hs, ctx, PATH_CONTACTS_READ, properties, ids, start, n, &results);
        if (status == LH_OK) {
            int64_t latest = -1;
            status = hubspot_emit_contacts(hs, ctx, results, &latest);
        }
        json_decref(results);
    }
    json_decref(properties);
    return status;
}

static json_t *deal_property_names(void)
{
    return json_pack("[s,s,s,s,s,s]", "dealname", "dealstage", "pipeline", "amount",
                     "hubspot_owner_id", "hs_lastmodifieddate");
}

lh_status_t hubspot_fetch_deals(struct hubspot *hs, lh_ctx_t *ctx, const json_t *ids)
{
    json_t *properties = deal_property_names();
    if (properties == NULL) {
        hs->host->set_error(ctx, "out of memory");
        return LH_RETRY;
    }
    lh_status_t status = LH_OK;
    size_t total = json_array_size(ids);
    for (size_t start = 0; start < total && status == LH_OK; start += HUBSPOT_BATCH_MAX) {
        size_t n = total - start < HUBSPOT_BATCH_MAX ? total - start : HUBSPOT_BATCH_MAX;
        json_t *results = NULL;
        status = hubspot_batch_read(hs, ctx, PATH_DEALS_READ, properties, ids, start, n, &results);
        if (status == LH_OK) {
            int64_t latest = -1;
            status = hubspot_emit_deals(hs, ctx, results, &latest);
        }
        json_decref(results);
    }
    json_decref(properties);
    return status;
}

lh_status_t hubspot_associated_contacts(struct hubspot *hs, lh_ctx_t *ctx, const char *object,
                                        const json_t *deal_ids, json_t **out)
{
    char path[80];
    snprintf(path, sizeof(path), "/crm/v4/associations/%s/contacts/batch/read", object);
    *out = json_object();
    if (*out == NULL) {
        return LH_RETRY;
    }
    size_t total = json_array_size(deal_ids);
    for (size_t start = 0; start < total; start += HUBSPOT_BATCH_MAX) {
        size_t n = total - start < HUBSPOT_BATCH_MAX ? total - start : HUBSPOT_BATCH_MAX;
        json_t *inputs = json_array();
        for (size_t j = 0; inputs != NULL && j < n; j++) {
            json_array_append_new(inputs,
                                  json_pack("{s:O}", "id", json_array_get(deal_ids, start + j)));
        }
        json_t *body = json_pack("{s:o}", "inputs", inputs);
        struct hubspot_response response;
        lh_status_t status =
            body != NULL ? hubspot_call(hs, ctx, "POST", path, body, &response) : LH_RETRY;
        json_decref(body);
        if (body == NULL) {
            return LH_RETRY;
        }
        if (status == LH_PERMANENT) {
            hs->host->log(ctx, LH_LOG_WARN, "%s' contacts could not be read: %s", object,
                          response.reason);
        } else if (status != LH_OK) {
            hubspot_response_clear(&response);
            return status;
        }
        size_t i;
        const json_t *result;
        json_array_foreach(json_object_get(response.body, "results"), i, result)
        {
            char deal[HUBSPOT_ID_MAX];
            if (!hubspot_id_from_json(json_object_get(json_object_get(result, "from"), "id"),
                                      deal)) {
                continue;
            }
            json_t *contacts = json_array();
            size_t j;
            const json_t *to;
            json_array_foreach(json_object_get(result, "to"), j, to)
            {
                char contact[HUBSPOT_ID_MAX];
                const json_t *value = json_object_get(to, "toObjectId");
                if (value == NULL) {
                    value = json_object_get(to, "id");
                }
                if (hubspot_id_from_json(value, contact)) {
                    json_array_append_new(contacts, json_string(contact));
                }
            }
            json_object_set_new(*out, deal, contacts);
        }
        hubspot_response_clear(&response);
    }
    return LH_OK;
}

/* contact id -> email for the contacts (array of ids), read by id. NEW object. */
lh_status_t hubspot_contact_emails(struct hubspot *hs, lh_ctx_t *ctx, const json_t *contact_ids,
                                   json_t **out)
{
    *out = json_object();
    json_t *properties = json_pack("[s]", "email");
    if (*out == NULL || properties == NULL) {
        json_decref(properties);
        return LH_RETRY;
    }
    lh_status_t status = LH_OK;
    size_t total = json_array_size(contact_ids);
    for (size_t start = 0; start < total && status == LH_OK; start += HUBSPOT_BATCH_MAX) {
        size_t n = total - start < HUBSPOT_BATCH_MAX ? total - start : HUBSPOT_BATCH_MAX;
        json_t *results = NULL;
        status = hubspot_batch_read(hs, ctx, PATH_CONTACTS_READ, properties, contact_ids, start, n,
                                    &results);
        if (status == LH_PERMANENT) {
            status = LH_OK; /* the events go without the lead's email */
        }
        size_t i;
        const json_t *contact;
        json_array_foreach(results, i, contact)
        {
            char id[HUBSPOT_ID_MAX];
            const char *email =
                json_string_value(json_object_get(json_object_get(contact, "properties"), "email"));
            char *normalized = hubspot_normalize_email(email);
            if (normalized != NULL && hubspot_id_from_json(json_object_get(contact, "id"), id)) {
                json_object_set_new(*out, id, json_string(normalized));
            }
            free(normalized);
        }
        json_decref(results);
    }
    json_decref(properties);
    return status;
}

/* The deal.stage_changed event of a change. NEW. */
static json_t *deal_event(const struct hubspot_deal_change *change, const json_t *deal,
                          const json_t *contacts, const json_t *emails)
{
    char source_id[64], occurred[32];
    snprintf(source_id, sizeof(source_id), "deal:%s:%lld", change->id,
             (long long)change->modified_ms);
    hubspot_format_time(change->modified_ms, occurred);
    json_t *data = json_deep_copy(change->data);
    json_object_set_new(data, "contact_ids",
                        json_is_array(contacts) ? json_deep_copy(contacts) : json_array());
    /* the lead: the first associated contact, when its email is known (leadhub finds
     * leads by email; an id alone would start an email-less lead) */
    json_t *lead = NULL;
    const char *first = json_string_value(json_array_get(contacts, 0));
    const char *email = first != NULL ? json_string_value(json_object_get(emails, first)) : NULL;
    if (email != NULL) {
        lead = json_pack("{s:s, s:s}", "email", email, "external_id", first);
    }
    return json_pack("{s:s, s:s, s:s, s:o*, s:o, s:o*}", "type", "deal.stage_changed", "source_id",
                     source_id, "occurred_at", occurred, "lead", lead, "data", data, "raw",
                     hubspot_raw_copy(deal, 0));
}

lh_status_t hubspot_emit_deals(struct hubspot *hs, lh_ctx_t *ctx, const json_t *objects,
                               int64_t *max_modified_out)
{
    const lh_host_t *host = hs->host;
    size_t count = json_array_size(objects);
    struct hubspot_deal_change *changes = calloc(count > 0 ? count : 1, sizeof(*changes));
    json_t *changed_ids = json_array();
    json_t *first_contacts = json_array();
    json_t *contacts = NULL, *emails = NULL;
    lh_status_t status = LH_OK;
    if (changes == NULL || changed_ids == NULL || first_contacts == NULL) {
        host->set_error(ctx, "out of memory");
        status = LH_RETRY;
        goto out;
    }
    for (size_t i = 0; i < count; i++) {
        const json_t *deal = json_array_get(objects, i);
        char id[HUBSPOT_ID_MAX], key[48];
        json_t *seen = NULL;
        if (!hubspot_id_from_json(json_object_get(deal, "id"), id)) {
            continue;
        }
        snprintf(key, sizeof(key), "deal:%s", id);
        status = hubspot_state_get(hs, ctx, key, &seen);
        if (status != LH_OK) {
            goto out;
        }
        if (hubspot_deal_observe(deal, seen, &changes[i]) != 0) {
            host->counter_add(ctx, HUBSPOT_METRIC_SKIPPED, "reason", "unreadable_deal", 1);
        }
        json_decref(seen);
        if (changes[i].modified_ms > *max_modified_out) {
            *max_modified_out = changes[i].modified_ms;
        }
        if (changes[i].data != NULL) {
            json_array_append_new(changed_ids, json_string(changes[i].id));
        }
    }
    if (json_array_size(changed_ids) > 0) {
        status = hubspot_associated_contacts(hs, ctx, "deals", changed_ids, &contacts);
        if (status != LH_OK) {
            goto out;
        }
        const char *deal;
        const json_t *ids;
        json_object_foreach(contacts, deal, ids)
        {
            if (json_array_size(ids) > 0) {
                json_array_append(first_contacts, json_array_get(ids, 0));
            }
        }
        status = hubspot_contact_emails(hs, ctx, first_contacts, &emails);
        if (status != LH_OK) {
            goto out;
        }
    }
    for (size_t i = 0; i < count && status == LH_OK; i++) {
        if (changes[i].seen == NULL) {
            continue;
        }
        if (changes[i].data != NULL) {
            json_t *event = deal_event(&changes[i], json_array_get(objects, i),
                                       json_object_get(contacts, changes[i].id), emails);
            status = hubspot_emit(hs, ctx, event, "deal", changes[i].id);
        }
        if (status == LH_OK) {
            char key[48];
            snprintf(key, sizeof(key), "deal:%s", changes[i].id);
            status = host->checkpoint_put(ctx, key, json_incref(changes[i].seen));
        }
    }
out:
    for (size_t i = 0; changes != NULL && i < count; i++) {
        hubspot_deal_change_clear(&changes[i]);
    }
    free(changes);
    json_decref(changed_ids);
    json_decref(first_contacts);
    json_decref(contacts);
    json_decref(emails);
    return status;
}
