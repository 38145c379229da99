/*
 * hubspot_sink_contacts.c - contact writes: POST /crm/v3/objects/contacts/batch/upsert
 * (idProperty email) for leads with an email, batch/update for leads known only by their
 * HubSpot id; at most batch_size inputs a request.
 *
 * The answer decides each input on its own: a 207's failed inputs fail alone (retried when
 * HubSpot's category says it is passing, else dead letters with HubSpot's message), the
 * others are done. A 400 refusing a whole request of several inputs is narrowed down:
 * inputs its message names fail and the rest go again; otherwise the request is split in
 * halves until each culprit stands alone. An input is dead-lettered by a whole-request
 * refusal only when it was named or refused alone.
 *
 * A 409 "Contact already exists. Existing ID: N" (an input's email is one of contact N's
 * additional addresses, so HubSpot will not create another contact for it) is resolved to
 * an update of contact N by id, which becomes the lead's identity; in a request of several
 * inputs it is first narrowed down to the input it is about.
 *
 * Results are matched to inputs by email, never by position (HubSpot does not promise
 * the inputs' order): when an answer's results lack their emails, the contacts are looked
 * up by email with one batch read, and an input still unknown is retried.
 *
 * For every written contact: the delivery's lead gets the contact id as its identity in
 * this instance, and what was written is remembered (checkpoint "contact:<id>:written",
 * each property with HubSpot's updatedAt), so that polling does not echo it back.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strdup */
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hubspot.h"

#define PATH_UPSERT "/crm/v3/objects/contacts/batch/upsert"
#define PATH_UPDATE "/crm/v3/objects/contacts/batch/update"
#define PATH_READ   "/crm/v3/objects/contacts/batch/read"

static void input_fail(struct hubspot_contact_input *input, lh_status_t status, const char *reason)
{
    input->status = status;
    free(input->message);
    input->message = reason != NULL && reason[0] != '\0' ? strdup(reason) : NULL;
}

/* Merges what was just written into the contact's "written" record. */
static void remember_written(struct hubspot_batch *batch, const struct hubspot_contact_input *input,
                             int64_t updated_ms)
{
    struct hubspot *hs = batch->hs;
    const lh_host_t *host = hs->host;
    char key[64];
    snprintf(key, sizeof(key), "contact:%s:written", input->id);
    json_t *record = NULL;
    if (host->checkpoint_get(batch->ctx, key, &record) != LH_OK || !json_is_object(record)) {
        json_decref(record);
        record = json_object();
    }
    json_t *written = json_object_get(record, "p");
    bool failed = record == NULL;
    if (!failed && !json_is_object(written)) {
        written = json_object();
        failed = json_object_set_new(record, "p", written) != 0;
    }
    int64_t at = updated_ms >= 0 ? updated_ms : host->now_ms(batch->ctx);
    const char *property;
    json_t *value;
    json_object_foreach(input->properties, property, value)
    {
        if (failed) {
            break;
        }
        failed =
            json_object_set_new(written, property,
                                json_pack("{s:O, s:I}", "v", value, "at", (json_int_t)at)) != 0;
    }
    if (failed) {
        /* out of memory: the old record stays, and the miss is counted below */
        json_decref(record);
        record = NULL;
    }
    if (record == NULL || host->checkpoint_put(batch->ctx, key, record) != LH_OK) {
        /* the write is done; only the echo of it may come back as a lead.updated */
        host->counter_add(batch->ctx, "hubspot_state_write_failures_total", "key", "written", 1);
        host->log(batch->ctx, LH_LOG_WARN,
                  "contact %s: what the hub wrote could not be remembered; polling may echo it",
                  input->id);
    }
}

/* A written contact: identities for the leads of its deliveries, the written record. */
static void record_success(struct hubspot_batch *batch, size_t k, int64_t updated_ms)
{
    const lh_host_t *host = batch->hs->host;
    struct hubspot_contact_input *input = &batch->inputs[k];
    input->status = LH_OK;
    host->counter_add(batch->ctx, "hubspot_contacts_written_total", NULL, NULL, 1);
    remember_written(batch, input, updated_ms);
    for (size_t i = 0; i < batch->count; i++) {
        if (batch->input_of[i] != (long)k || batch->decided[i] ||
            batch->deliveries[i]->lead_id <= 0) {
            continue;
        }
        lh_status_t status = host->lead_identity_put(batch->ctx, batch->deliveries[i], input->id);
        if (status != LH_OK) {
            /* written, but leadhub would not know the contact: a retry upserts again */
            hubspot_batch_decide(batch, i, status == LH_PERMANENT ? LH_PERMANENT : LH_RETRY,
                                 "the contact was written but the lead's hubspot identity "
                                 "could not be stored");
        }
    }
}

/* The request body for inputs[idx[0..n)]. NEW. */
static json_t *request_body(const struct hubspot_batch *batch, const size_t *idx, size_t n,
                            bool by_id)
{
    json_t *inputs = json_array();
    json_t *body = json_pack("{s:o}", "inputs", inputs);
    if (body == NULL) {
        return NULL;
    }
    for (size_t j = 0; j < n; j++) {
        const struct hubspot_contact_input *input = &batch->inputs[idx[j]];
        json_t *item =
            by_id ? json_pack("{s:s, s:O}", "id", input->key, "properties", input->properties)
                  : json_pack("{s:s, s:s, s:O}", "idProperty", "email", "id", input->key,
                              "properties", input->properties);
        if (item == NULL || json_array_append_new(inputs, item) != 0) {
            json_decref(body);
            return NULL;
        }
    }
    return body;
}

static void send_chunk(struct hubspot_batch *batch, const size_t *idx, size_t n, bool by_id);

/* The contact input k was to update by id is gone from HubSpot (deleted, or merged away):
 * the lead's contact is the one of its email, upserted instead. */
static void upsert_instead(struct hubspot_batch *batch, size_t k)
{
    struct hubspot_contact_input *input = &batch->inputs[k];
    batch->hs->host->log(batch->ctx, LH_LOG_INFO,
                         "contact %s is gone from HubSpot: the lead's contact is upserted by its "
                         "email",
                         input->key);
    if (json_object_set_new(input->properties, "email", json_string(input->email)) != 0) {
        input_fail(input, LH_RETRY, "out of memory");
        return;
    }
    free(input->key);
    input->key = input->email;
    input->email = NULL;
    input->by_id = false;
    send_chunk(batch, &k, 1, false);
}

/*
 * Looks up by email the inputs of an upsert answer that left them unidentified (results
 * without their emails, which HubSpot does not promise in the inputs' order): one batch
 * read, whose results carry the email asked for. Found inputs get their id and updatedAt
 * and are no longer failed; the others stay failed, to be retried (the upsert is safe to
 * repeat). items: BORROWED, n of them.
 */
static void identify_by_email(struct hubspot_batch *batch, struct hubspot_batch_item *items,
                              size_t n)
{
    size_t *which = calloc(n, sizeof(*which));
    struct hubspot_batch_item *lookup = calloc(n, sizeof(*lookup));
    json_t *inputs = json_array();
    json_t *body = NULL;
    struct hubspot_response response = {0};
    size_t m = 0;
    if (which == NULL || lookup == NULL || inputs == NULL) {
        goto out; /* they stay failed, retryable */
    }
    for (size_t j = 0; j < n; j++) {
        if (!items[j].unidentified) {
            continue;
        }
        if (json_array_append_new(inputs, json_pack("{s:s}", "id", items[j].key)) != 0) {
            goto out;
        }
        which[m] = j;
        lookup[m].key = items[j].key;
        m++;
    }
    if (m == 0) {
        goto out;
    }
    body = json_pack("{s:s, s:[s], s:O}", "idProperty", "email", "properties", "email", "inputs",
                     inputs);
    if (body == NULL ||
        hubspot_call(batch->hs, batch->ctx, "POST", PATH_READ, body, &response) != LH_OK) {
        goto out;
    }
    hubspot_batch_results(response.body, "email", lookup, m);
    for (size_t k = 0; k < m; k++) {
        struct hubspot_batch_item *item = &items[which[k]];
        if (!lookup[k].failed) {
            snprintf(item->id, sizeof(item->id), "%s", lookup[k].id);
            item->updated_ms = lookup[k].updated_ms;
            item->failed = item->retryable = item->unidentified = false;
            item->message[0] = '\0';
        }
    }
out:
    hubspot_response_clear(&response);
    json_decref(body);
    json_decref(inputs);
    free(lookup);
    free(which);
}

/* Items of inputs[idx[0..n)], keyed by their keys. */
static struct hubspot_batch_item *items_for(const struct hubspot_batch *batch, const size_t *idx,
                                            size_t n)
{
    struct hubspot_batch_item *items = calloc(n, sizeof(*items));
    for (size_t j = 0; items != NULL && j < n; j++) {
        items[j].key = batch->inputs[idx[j]].key;
    }
    return items;
}

/*
 * HubSpot would not create a contact for input k's email because contact `existing` holds
 * that address already (among its additional addresses: "Contact already exists. Existing
 * ID: N"). That contact is the person: it is updated by id instead, its addresses left as
 * they are, and becomes the identity of the leads written (so a replay meets no conflict:
 * the write is done).
 */
static void resolve_conflict(struct hubspot_batch *batch, size_t k, const char *existing)
{
    struct hubspot *hs = batch->hs;
    struct hubspot_contact_input *input = &batch->inputs[k];
    json_t *properties = json_deep_copy(input->properties);
    json_t *body = NULL;
    struct hubspot_response response = {0};
    if (properties == NULL || json_object_del(properties, "email") != 0) {
        input_fail(input, LH_RETRY, "out of memory");
        goto out;
    }
    hs->host->log(batch->ctx, LH_LOG_INFO,
                  "HubSpot has this address on contact %s already: that contact is updated",
                  existing);
    hs->host->counter_add(batch->ctx, "hubspot_conflicts_resolved_total", NULL, NULL, 1);
    int64_t updated_ms = -1;
    if (json_object_size(properties) > 0) {
        body = json_pack("{s:[{s:s, s:O}]}", "inputs", "id", existing, "properties", properties);
        lh_status_t status =
            body != NULL ? hubspot_call(hs, batch->ctx, "POST", PATH_UPDATE, body, &response)
                         : LH_RETRY;
        if (status != LH_OK || !json_is_object(response.body)) {
            status = status == LH_OK ? LH_RETRY : status;
            hubspot_batch_note_failure(batch, status, response.reason);
            input_fail(input, status, response.reason);
            goto out;
        }
        struct hubspot_batch_item item = {.key = existing};
        hubspot_batch_results(response.body, NULL, &item, 1);
        if (item.failed) {
            char reason[HUBSPOT_MESSAGE_MAX + 160];
            snprintf(reason, sizeof(reason),
                     "HubSpot refused contact %s, which holds this address: %s", existing,
                     item.message);
            input_fail(input, item.retryable ? LH_RETRY : LH_PERMANENT, reason);
            goto out;
        }
        updated_ms = item.updated_ms;
    }
    /* what was written (and is remembered against echoes) is all but the address */
    json_decref(input->properties);
    input->properties = properties;
    properties = NULL;
    snprintf(input->id, sizeof(input->id), "%s", existing);
    record_success(batch, k, updated_ms);
out:
    hubspot_response_clear(&response);
    json_decref(body);
    json_decref(properties);
}

/* True when every input of inputs[idx[0..n)] was written. */
static bool all_written(const struct hubspot_batch *batch, const size_t *idx, size_t n)
{
    for (size_t j = 0; j < n; j++) {
        if (batch->inputs[idx[j]].status != LH_OK) {
            return false;
        }
    }
    return true;
}

/*
 * A whole request of several inputs was refused (400-class): find the culprits. An input
 * is failed by a whole-request refusal only when the message names it or when it was
 * refused alone: never for the company it kept, however alike the refusals look ([bad,
 * bad, good, good] with one message for all must still write both good ones).
 *
 * Nobody named: halves. When the first half is written, the refusal was the second
 * half's, so that half is split at once rather than sent whole again (for one input among
 * n, about 2 log2(n) requests). An error every input shares costs the full halving tree,
 * 2n - 1 requests with the first: each input has to be refused alone.
 */
static void narrow_down(struct hubspot_batch *batch, const size_t *idx, size_t n, bool by_id,
                        const char *reason, bool conflict)
{
    struct hubspot_batch_item *items = items_for(batch, idx, n);
    size_t *rest = calloc(n, sizeof(*rest));
    if (items == NULL || rest == NULL) {
        for (size_t j = 0; j < n; j++) {
            input_fail(&batch->inputs[idx[j]], LH_RETRY, "out of memory");
        }
        goto out;
    }
    size_t named = hubspot_batch_blame(reason, items, n);
    if (named > 0) {
        size_t rest_count = 0;
        for (size_t j = 0; j < n; j++) {
            if (items[j].failed && conflict) {
                send_chunk(batch, &idx[j], 1, by_id); /* alone, its conflict is resolved */
            } else if (items[j].failed) {
                input_fail(&batch->inputs[idx[j]], LH_PERMANENT, reason);
            } else {
                rest[rest_count++] = idx[j];
            }
        }
        if (rest_count > 0) {
            send_chunk(batch, rest, rest_count, by_id);
        }
        goto out;
    }
    const size_t *second = idx + n / 2;
    size_t second_count = n - n / 2;
    send_chunk(batch, idx, n / 2, by_id);
    /* (a conflict resolved in the first half says nothing of the second) */
    if (!conflict && second_count > 1 && all_written(batch, idx, n / 2)) {
        narrow_down(batch, second, second_count, by_id, reason, conflict);
    } else {
        send_chunk(batch, second, second_count, by_id);
    }
out:
    free(items);
    free(rest);
}

/* One batch request for inputs[idx[0..n)], and what it decided for each. */
static void send_chunk(struct hubspot_batch *batch, const size_t *idx, size_t n, bool by_id)
{
    struct hubspot *hs = batch->hs;
    if (n == 0) {
        return;
    }
    if (batch->abort_status != LH_OK) {
        for (size_t j = 0; j < n; j++) {
            input_fail(&batch->inputs[idx[j]], batch->abort_status, batch->abort_reason);
        }
        return;
    }
    json_t *body = request_body(batch, idx, n, by_id);
    struct hubspot_response response;
    lh_status_t status = body != NULL
                             ? hubspot_call(hs, batch->ctx, "POST",
                                            by_id ? PATH_UPDATE : PATH_UPSERT, body, &response)
                             : LH_RETRY;
    json_decref(body);
    if (body == NULL) {
        memset(&response, 0, sizeof(response));
        snprintf(response.reason, sizeof(response.reason), "out of memory");
    }
    if (status == LH_OK && !json_is_object(response.body)) {
        status = LH_RETRY;
        snprintf(response.reason, sizeof(response.reason),
                 "HubSpot answered HTTP %ld without a readable batch result", response.status);
        hs->host->set_error(batch->ctx, "%s", response.reason);
    }
    if (status == LH_OK) {
        struct hubspot_batch_item *items = items_for(batch, idx, n);
        if (items == NULL) {
            for (size_t j = 0; j < n; j++) {
                input_fail(&batch->inputs[idx[j]], LH_RETRY, "out of memory");
            }
            goto out;
        }
        hubspot_batch_results(response.body, by_id ? NULL : "email", items, n);
        if (!by_id) {
            identify_by_email(batch, items, n);
        }
        size_t failed = 0;
        for (size_t j = 0; j < n; j++) {
            failed += items[j].failed;
        }
        for (size_t j = 0; j < n; j++) {
            struct hubspot_contact_input *input = &batch->inputs[idx[j]];
            if (items[j].failed && items[j].unidentified) {
                /* written, most likely, but under which id HubSpot did not say */
                input_fail(input, LH_RETRY,
                           "HubSpot's answer does not say which contact is this input's, nor "
                           "could it be looked up by email: sent again later");
                continue;
            }
            if (items[j].failed && items[j].existing[0] != '\0' && !by_id) {
                resolve_conflict(batch, idx[j], items[j].existing);
                continue;
            }
            if (items[j].failed && by_id && input->email != NULL &&
                strncmp(items[j].message, "OBJECT_NOT_FOUND", 16) == 0) {
                upsert_instead(batch, idx[j]);
                continue;
            }
            if (items[j].failed) {
                char reason[HUBSPOT_MESSAGE_MAX + 128];
                snprintf(reason, sizeof(reason), "HubSpot refused this contact: %s",
                         items[j].message);
                input_fail(input, items[j].retryable ? LH_RETRY : LH_PERMANENT, reason);
                hs->host->counter_add(batch->ctx, "hubspot_contact_errors_total", "retryable",
                                      items[j].retryable ? "true" : "false", 1);
                continue;
            }
            snprintf(input->id, sizeof(input->id), "%s", items[j].id);
            record_success(batch, idx[j], items[j].updated_ms);
        }
        if (failed > 0) {
            hs->host->log(batch->ctx, LH_LOG_WARN, "HubSpot refused %zu of %zu contacts (HTTP %ld)",
                          failed, n, response.status);
        }
        free(items);
        goto out;
    }
    char existing[HUBSPOT_ID_MAX];
    if (status == LH_PERMANENT && n == 1 && !by_id && response.status == 409 &&
        hubspot_existing_id(response.message, existing)) {
        resolve_conflict(batch, idx[0], existing);
        goto out;
    }
    if (status == LH_PERMANENT && n > 1 && response.status >= 400 && response.status < 500) {
        narrow_down(batch, idx, n, by_id, response.reason, response.status == 409);
        goto out;
    }
    hubspot_batch_note_failure(batch, status, response.reason);
    for (size_t j = 0; j < n; j++) {
        input_fail(&batch->inputs[idx[j]], status, response.reason);
    }
out:
    hubspot_response_clear(&response);
}

void hubspot_contacts_send(struct hubspot_batch *batch)
{
    size_t *idx = calloc(batch->input_count > 0 ? batch->input_count : 1, sizeof(*idx));
    if (idx == NULL) {
        for (size_t k = 0; k < batch->input_count; k++) {
            input_fail(&batch->inputs[k], LH_RETRY, "out of memory");
        }
        return;
    }
    for (int pass = 0; pass < 2; pass++) {
        bool by_id = pass == 1;
        size_t n = 0;
        for (size_t k = 0; k < batch->input_count; k++) {
            struct hubspot_contact_input *input = &batch->inputs[k];
            if (input->by_id != by_id) {
                continue;
            }
            if (by_id && json_object_size(input->properties) == 0) {
                /* nothing to write (a meeting's lead known by its contact): the id is all
                 * that is needed */
                snprintf(input->id, sizeof(input->id), "%s", input->key);
                input->status = LH_OK;
                continue;
            }
            idx[n++] = k;
        }
        for (size_t start = 0; start < n; start += batch->hs->batch_size) {
            size_t chunk = n - start < batch->hs->batch_size ? n - start : batch->hs->batch_size;
            send_chunk(batch, idx + start, chunk, by_id);
        }
    }
    free(idx);
}
