/*
 * pipedrive_sink_persons.c - the person of a delivery's lead, created or updated.
 *
 * Whose person: the lead the hub resolved the event to (delivery->lead), as for HubSpot:
 * its identity in this instance, else its email. A known person id is written by id
 * (PATCH), never created again. Otherwise the person is searched by email (exact), and
 * created only when none is found, at most once (pipedrive_create_once: the search index
 * lags, a lost answer is looked for in the listing first). Before a PATCH the person is
 * read, so that only what differs is written (the daily budget counts writes) and the
 * lists a PATCH replaces whole (emails, phones, label_ids) keep the person's own entries.
 *
 * What the sink wrote is remembered per person (`written:<id>`, the update_time
 * Pipedrive answered), so the poll does not read it back as a rep's change.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipedrive.h"

void pipedrive_written_key(const char *person_id, char *out, size_t size)
{
    snprintf(out, size, "written:%s", person_id);
}

static bool match_email(const json_t *item, const void *arg)
{
    return pipedrive_person_has_email(item, arg);
}

static bool match_name(const json_t *item, const void *arg)
{
    const char *name = json_string_value(json_object_get(item, "name"));
    return name != NULL && strcasecmp(name, arg) == 0;
}

/* "person:<hash>": where the sink keeps what it knows of an email's person. */
static bool email_key(const char *email, char key[LH_KEY_SIZE])
{
    return lh_key_hash_email("person", email, key, LH_KEY_SIZE) > 0;
}

lh_status_t pipedrive_person_by_email(struct pipedrive *pd, lh_ctx_t *ctx, const char *email,
                                      char id_out[PIPEDRIVE_ID_MAX])
{
    char key[LH_KEY_SIZE];
    id_out[0] = '\0';
    if (!email_key(email, key)) {
        return LH_OK;
    }
    lh_status_t status = pipedrive_remembered_id(pd, ctx, key, id_out);
    if (status != LH_OK || id_out[0] != '\0') {
        return status;
    }
    return pipedrive_search(pd, ctx, "persons", "email", email, match_email, email, id_out);
}

/* The organization named `name`: remembered, searched, else created once. */
static lh_status_t organization_id(struct pipedrive *pd, lh_ctx_t *ctx, const char *name,
                                   char id_out[PIPEDRIVE_ID_MAX])
{
    char key[LH_KEY_SIZE];
    if (lh_key_hash_email("orgname", name, key, sizeof(key)) <= 0) { /* trimmed, any case */
        id_out[0] = '\0';
        return LH_OK;
    }
    lh_status_t status = pipedrive_remembered_id(pd, ctx, key, id_out);
    if (status == LH_OK && id_out[0] == '\0') {
        status = pipedrive_search(pd, ctx, "organizations", "name", name, match_name, name, id_out);
    }
    if (status == LH_OK && id_out[0] != '\0') {
        return pd->host->checkpoint_put(ctx, key, json_pack("{s:s}", "id", id_out));
    }
    if (status != LH_OK) {
        return status;
    }
    json_t *body = json_pack("{s:s}", "name", name);
    status = pipedrive_create_once(pd, ctx, key, "/api/v2/organizations", NULL, NULL, body,
                                   match_name, name, id_out, NULL);
    json_decref(body);
    return status;
}

/* This instance's person id of the lead: the resolved lead's identities, else the event's
 * lead.external_ids.<instance>. */
static bool known_id(const json_t *resolved, const json_t *event_lead, const char *self,
                     char id[PIPEDRIVE_ID_MAX])
{
    size_t k;
    const json_t *identity;
    json_array_foreach(json_object_get(resolved, "identities"), k, identity)
    {
        const char *source = json_string_value(json_object_get(identity, "source"));
        if (source != NULL && strcmp(source, self) == 0 &&
            pipedrive_id_text(json_object_get(identity, "external_id"), id)) {
            return true;
        }
    }
    return pipedrive_id_text(json_object_get(json_object_get(event_lead, "external_ids"), self),
                             id);
}

bool pipedrive_known_person_id(struct pipedrive *pd, lh_ctx_t *ctx, const lh_delivery_t *delivery,
                               char id_out[PIPEDRIVE_ID_MAX])
{
    const json_t *resolved = LH_HAS_FIELD(lh_delivery_t, delivery, lead) ? delivery->lead : NULL;
    const char *self = pd->host->instance_name(ctx);
    id_out[0] = '\0';
    return self != NULL && known_id(json_is_object(resolved) ? resolved : NULL,
                                    json_object_get(delivery->event, "lead"), self, id_out);
}

/* GET /persons/{id}: the person (NEW) or NULL when Pipedrive has none (404). */
static lh_status_t person_get(struct pipedrive *pd, lh_ctx_t *ctx, const char *id, json_t **out)
{
    *out = NULL;
    lh_url_t builder;
    pipedrive_url(pd, &builder, "/api/v2/persons");
    lh_url_add_path(&builder, id);
    char *url = lh_url_take(&builder);
    if (url == NULL) {
        pd->host->set_error(ctx, "out of memory");
        return LH_RETRY;
    }
    struct pipedrive_response answer;
    lh_status_t status = pipedrive_call(pd, ctx, "GET", url, NULL, &answer);
    free(url);
    if (status == LH_OK && json_is_object(answer.data) &&
        !json_is_true(json_object_get(answer.data, "is_deleted"))) {
        *out = json_incref(answer.data);
    } else if (status == LH_OK || answer.status == 404) {
        status = LH_OK; /* deleted (or merged away) in Pipedrive */
    }
    pipedrive_response_clear(&answer);
    return status;
}

/* Remembers what the sink wrote to person id (its update_time), for the poll. */
static lh_status_t remember_written(struct pipedrive *pd, lh_ctx_t *ctx, const char *id,
                                    const json_t *update_time)
{
    if (!json_is_string(update_time)) {
        return LH_OK;
    }
    char key[64];
    pipedrive_written_key(id, key, sizeof(key));
    return pd->host->checkpoint_put(ctx, key, json_pack("{s:O}", "t", update_time));
}

/* PATCH /persons/{id} with what differs from current; nothing sent when nothing does. */
static lh_status_t person_update(struct pipedrive *pd, lh_ctx_t *ctx, const char *id,
                                 const json_t *current, json_t *body)
{
    if (json_object_size(body) == 0) {
        pd->host->counter_add(ctx, PIPEDRIVE_METRIC_SKIPPED, "reason", "unchanged", 1);
        return LH_OK;
    }
    (void)current;
    lh_url_t builder;
    pipedrive_url(pd, &builder, "/api/v2/persons");
    lh_url_add_path(&builder, id);
    char *url = lh_url_take(&builder);
    if (url == NULL) {
        pd->host->set_error(ctx, "out of memory");
        return LH_RETRY;
    }
    struct pipedrive_response answer;
    lh_status_t status = pipedrive_call(pd, ctx, "PATCH", url, body, &answer);
    free(url);
    if (status == LH_OK) {
        status = remember_written(pd, ctx, id, json_object_get(answer.data, "update_time"));
    }
    pipedrive_response_clear(&answer);
    return status;
}

/* Adds the organization and the label to a person body. */
static lh_status_t body_extras(struct pipedrive *pd, lh_ctx_t *ctx, json_t *body,
                               const json_t *fields, const json_t *current, int64_t add_label,
                               const json_t *custom)
{
    const char *field;
    const json_t *value;
    const json_t *have = json_object_get(current, "custom_fields");
    json_object_foreach((json_t *)custom, field, value)
    {
        if (!json_equal(json_object_get(have, field), (json_t *)value)) {
            json_t *fields_out = json_object_get(body, "custom_fields");
            if (fields_out == NULL) {
                json_object_set_new(body, "custom_fields", fields_out = json_object());
            }
            json_object_set(fields_out, field, (json_t *)value);
        }
    }
    const char *company = pipedrive_lead_company(&pd->mapping, fields);
    if (company != NULL && strlen(company) <= PIPEDRIVE_TEXT_MAX) {
        char org[PIPEDRIVE_ID_MAX], have_org[PIPEDRIVE_ID_MAX];
        lh_status_t status = organization_id(pd, ctx, company, org);
        if (status != LH_OK) {
            return status;
        }
        if (org[0] != '\0' && (!pipedrive_id_text(json_object_get(current, "org_id"), have_org) ||
                               strcmp(have_org, org) != 0)) {
            json_object_set_new(body, "org_id", json_integer(strtoll(org, NULL, 10)));
        }
    }
    if (add_label > 0) {
        const json_t *labels = json_object_get(current, "label_ids");
        size_t i;
        const json_t *label;
        json_array_foreach(labels, i, label)
        {
            if (json_is_integer(label) && json_integer_value(label) == add_label) {
                return LH_OK; /* already a customer */
            }
        }
        json_t *merged = json_is_array(labels) ? json_deep_copy(labels) : json_array();
        json_array_append_new(merged, json_integer(add_label));
        json_object_set_new(body, "label_ids", merged);
    }
    return LH_OK;
}

lh_status_t pipedrive_person_upsert(struct pipedrive *pd, lh_ctx_t *ctx,
                                    const lh_delivery_t *delivery, int64_t add_label,
                                    const json_t *custom, bool lead_only,
                                    char id_out[PIPEDRIVE_ID_MAX])
{
    const lh_host_t *host = pd->host;
    const json_t *event_lead = json_object_get(delivery->event, "lead");
    const json_t *resolved = LH_HAS_FIELD(lh_delivery_t, delivery, lead) ? delivery->lead : NULL;
    resolved = json_is_object(resolved) ? resolved : NULL;
    const json_t *target = resolved != NULL ? resolved : event_lead;
    /* what is written: the event's lead (a payer who is not the lead: nothing of theirs) */
    json_t *empty = json_object();
    const json_t *fields = lead_only ? empty : json_is_object(event_lead) ? event_lead : target;
    char *email = pipedrive_normalize_email(json_string_value(json_object_get(target, "email")));
    const char *self = host->instance_name(ctx);
    char key[LH_KEY_SIZE] = "";
    json_t *current = NULL, *body = NULL, *created = NULL;
    lh_status_t status = LH_OK;
    id_out[0] = '\0';
    if (empty == NULL) {
        host->set_error(ctx, "out of memory");
        status = LH_RETRY;
        goto out;
    }
    if (email != NULL && !email_key(email, key)) {
        key[0] = '\0';
    }
    if (!known_id(resolved, event_lead, self, id_out) && key[0] != '\0') {
        status = pipedrive_remembered_id(pd, ctx, key, id_out);
    }
    if (status == LH_OK && id_out[0] != '\0') {
        status = person_get(pd, ctx, id_out, &current);
        if (status == LH_OK && current == NULL) {
            host->log(ctx, LH_LOG_INFO, "person %s is gone from Pipedrive: looked up again",
                      id_out);
            id_out[0] = '\0';
            if (key[0] != '\0') {
                status = host->checkpoint_put(ctx, key, json_null());
            }
        }
    }
    if (status != LH_OK) {
        goto out;
    }
    if (id_out[0] == '\0' && email == NULL) {
        host->set_error(ctx, "waiting for the lead's email: Pipedrive persons are matched by "
                             "email, and the hub knows none (nor a person id) for this lead yet");
        status = LH_HOLD;
        goto out;
    }
    if (id_out[0] == '\0') {
        status = pipedrive_search(pd, ctx, "persons", "email", email, match_email, email, id_out);
        if (status == LH_OK && id_out[0] != '\0') {
            status = person_get(pd, ctx, id_out, &current);
            id_out[0] = current != NULL ? id_out[0] : '\0';
        }
        if (status != LH_OK) {
            goto out;
        }
    }
    body = pipedrive_person_body(&pd->mapping, fields, current == NULL ? email : NULL, current);
    if (body == NULL) {
        host->set_error(ctx, "out of memory");
        status = LH_RETRY;
        goto out;
    }
    status = body_extras(pd, ctx, body, fields, current, add_label, custom);
    if (status != LH_OK) {
        goto out;
    }
    if (current != NULL) {
        status = person_update(pd, ctx, id_out, current, body);
    } else {
        status = pipedrive_create_once(pd, ctx, key, "/api/v2/persons", NULL, NULL, body,
                                       match_email, email, id_out, &created);
        if (status == LH_OK) {
            status = remember_written(pd, ctx, id_out, created);
        }
    }
    if (status == LH_OK && key[0] != '\0') {
        status = host->checkpoint_put(ctx, key, json_pack("{s:s}", "id", id_out));
    }
    if (status == LH_OK && delivery->lead_id != 0) {
        /* the person id is the lead's identity here: later events about it find the lead */
        lh_status_t identity = host->lead_identity_put(ctx, delivery, id_out);
        status = identity == LH_PERMANENT ? LH_OK : identity;
    }
out:
    free(email);
    json_decref(empty);
    json_decref(current);
    json_decref(body);
    json_decref(created);
    return status;
}
