/*
 * hubspot_sink_meetings.c - meeting events become meeting engagements.
 *
 * The first event of a meeting creates the engagement (POST /crm/v3/objects/meetings) with
 * its associations to the attendees' contacts; its id is remembered in the checkpoint
 * "meeting:<source>:<external_id>" (written at once from deliver()), with the contacts
 * associated, the start and the outcome, so that later events PATCH the same engagement
 * instead of creating another, and only associate contacts not yet associated. An
 * engagement deleted in HubSpot (404 on PATCH) is created again.
 *
 * Creation is idempotent across lost answers. HubSpot takes no idempotency key, so the
 * engagement carries a marker ("leadhub-ref:" and the checkpoint key, in
 * hs_internal_meeting_notes), and a creation is recorded in the checkpoint before it is
 * sent. An attempt that finds a creation recorded without an id first reads the meetings
 * associated with the meeting's contacts and takes the marked one, if any, instead of
 * creating another.
 *
 * Attendees are associated when HubSpot has a contact with their email: the event's lead
 * was upserted in the contacts phase; the other attendees are looked up with one batch
 * read by email for the whole batch. Attendees without a contact (colleagues, usually)
 * are left out, not created.
 *
 * The association type is discovered once per instance (GET /crm/v4/associations/
 * meetings/contacts/labels: the HUBSPOT_DEFINED type without a label), falling back to
 * the documented 200 when HubSpot does not say.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strdup */
#endif

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hubspot.h"

#define PATH_MEETINGS         "/crm/v3/objects/meetings"
#define PATH_LABELS           "/crm/v4/associations/meetings/contacts/labels"
#define PATH_ASSOCIATE        "/crm/v4/associations/meetings/contacts/batch/create"
#define PATH_READ_CONTACT     "/crm/v3/objects/contacts/batch/read"
#define PATH_READ_MEETING     "/crm/v3/objects/meetings/batch/read"
#define PATH_CONTACT_MEETINGS "/crm/v4/associations/contacts/meetings/batch/read"
#define MEETING_KEY_MAX       128
#define MARKER_PROPERTY       "hs_internal_meeting_notes"
#define MARKER_PREFIX         "leadhub-ref:"

static bool is_meeting(const struct hubspot_batch *batch, size_t i)
{
    const char *type = json_string_value(json_object_get(batch->deliveries[i]->event, "type"));
    return type != NULL && strncmp(type, "meeting.", 8) == 0;
}

/* The association type id for meeting -> contact. */
static long association_type(struct hubspot_batch *batch)
{
    struct hubspot *hs = batch->hs;
    if (hs->meeting_association_type > 0) {
        return hs->meeting_association_type;
    }
    if (batch->abort_status != LH_OK) {
        return HUBSPOT_MEETING_ASSOC;
    }
    struct hubspot_response response;
    lh_status_t status = hubspot_call(hs, batch->ctx, "GET", PATH_LABELS, NULL, &response);
    long found = 0;
    size_t i;
    const json_t *label;
    json_array_foreach(json_object_get(response.body, "results"), i, label)
    {
        const char *category = json_string_value(json_object_get(label, "category"));
        json_int_t type_id = json_integer_value(json_object_get(label, "typeId"));
        if (status != LH_OK || category == NULL || strcmp(category, "HUBSPOT_DEFINED") != 0 ||
            type_id <= 0) {
            continue;
        }
        /* the unlabeled (default) type wins over labeled ones */
        if (found == 0 || json_is_null(json_object_get(label, "label")) ||
            json_object_get(label, "label") == NULL) {
            found = (long)type_id;
        }
    }
    if (found > 0) {
        hs->meeting_association_type = found;
    } else {
        hs->host->log(batch->ctx, LH_LOG_WARN,
                      "the meeting -> contact association type could not be discovered (%s); "
                      "using HubSpot's documented %d",
                      status == LH_OK ? "no HUBSPOT_DEFINED type in the answer" : response.reason,
                      HUBSPOT_MEETING_ASSOC);
        /* a refusal (a missing scope included) will not change soon: stop asking. A
         * passing failure asks again with a later batch. */
        if (status == LH_OK || status == LH_PERMANENT || status == LH_CONFIG) {
            hs->meeting_association_type = HUBSPOT_MEETING_ASSOC;
        }
        found = HUBSPOT_MEETING_ASSOC;
    }
    hubspot_response_clear(&response);
    return found;
}

/* Adds email -> contact id for every attendee HubSpot has a contact for. */
static void look_up_attendees(struct hubspot_batch *batch, json_t *known)
{
    struct hubspot *hs = batch->hs;
    json_t *wanted = json_array();
    json_t *asked = json_object();
    if (wanted == NULL || asked == NULL) {
        goto out;
    }
    for (size_t i = 0; i < batch->count; i++) {
        if (batch->decided[i] || !is_meeting(batch, i)) {
            continue;
        }
        const json_t *meeting = json_object_get(batch->deliveries[i]->event, "meeting");
        size_t a;
        const json_t *attendee;
        json_array_foreach(json_object_get(meeting, "attendees"), a, attendee)
        {
            char *email =
                hubspot_normalize_email(json_string_value(json_object_get(attendee, "email")));
            if (email != NULL && json_object_get(known, email) == NULL &&
                json_object_get(asked, email) == NULL) {
                json_object_set_new(asked, email, json_true());
                json_array_append_new(wanted, json_string(email));
            }
            free(email);
        }
    }
    size_t total = json_array_size(wanted);
    for (size_t start = 0; start < total && batch->abort_status == LH_OK;
         start += HUBSPOT_BATCH_MAX) {
        size_t n = total - start < HUBSPOT_BATCH_MAX ? total - start : HUBSPOT_BATCH_MAX;
        json_t *inputs = json_array();
        struct hubspot_batch_item *items = calloc(n, sizeof(*items));
        for (size_t j = 0; items != NULL && inputs != NULL && j < n; j++) {
            items[j].key = json_string_value(json_array_get(wanted, start + j));
            json_array_append_new(inputs, json_pack("{s:s}", "id", items[j].key));
        }
        json_t *body = json_pack("{s:s, s:[s], s:o}", "idProperty", "email", "properties", "email",
                                 "inputs", inputs);
        struct hubspot_response response;
        lh_status_t status =
            body != NULL && items != NULL
                ? hubspot_call(hs, batch->ctx, "POST", PATH_READ_CONTACT, body, &response)
                : LH_RETRY;
        if (body == NULL || items == NULL) {
            memset(&response, 0, sizeof(response));
        }
        if (status == LH_OK && json_is_object(response.body)) {
            hubspot_batch_results(response.body, "email", items, n);
            for (size_t j = 0; j < n; j++) {
                if (items[j].id[0] != '\0') {
                    json_object_set_new(known, items[j].key, json_string(items[j].id));
                }
            }
        } else if (status != LH_OK) {
            /* associations are a courtesy; a passing failure stops the batch anyway */
            hubspot_batch_note_failure(batch, status, response.reason);
            hs->host->log(batch->ctx, LH_LOG_WARN,
                          "attendees could not be looked up in HubSpot: %s",
                          response.reason[0] != '\0' ? response.reason : "no answer");
        }
        hubspot_response_clear(&response);
        json_decref(body);
        free(items);
    }
out:
    json_decref(wanted);
    json_decref(asked);
}

/* The checkpoint key of a meeting: readable when it fits, else a digest of it. */
static void meeting_key(const struct hubspot *hs, const char *source, const char *external_id,
                        char *out)
{
    int len = snprintf(out, MEETING_KEY_MAX + 1, "meeting:%s:%s", source, external_id);
    bool fits = len > 0 && len <= MEETING_KEY_MAX;
    for (const char *p = out; fits && *p != '\0'; p++) {
        fits = isalnum((unsigned char)*p) || *p == '_' || *p == '.' || *p == ':' || *p == '-';
    }
    if (fits) {
        return;
    }
    /* an HMAC with a fixed key is the hash the host table offers */
    static const char salt[] = "leadhub-hubspot-meeting-key";
    size_t source_len = strlen(source), id_len = strlen(external_id);
    char *text = malloc(source_len + id_len + 2);
    unsigned char digest[32];
    memset(digest, 0, sizeof(digest));
    if (text != NULL) {
        memcpy(text, source, source_len);
        text[source_len] = '\n';
        memcpy(text + source_len + 1, external_id, id_len + 1);
        hs->host->hmac_sha256(salt, sizeof(salt) - 1, text, source_len + id_len + 1, digest);
        free(text);
    }
    char hex[65];
    lh_hex_encode(digest, sizeof(digest), hex);
    snprintf(out, MEETING_KEY_MAX + 1, "meeting:sha256:%s", hex);
}

/* The contact ids of a meeting: the lead's, then the attendees' HubSpot knows. NEW. */
static json_t *meeting_contacts(const struct hubspot_batch *batch, size_t i, const json_t *known)
{
    json_t *ids = json_array();
    long k = batch->input_of[i];
    if (ids != NULL && k >= 0 && batch->inputs[k].id[0] != '\0') {
        json_array_append_new(ids, json_string(batch->inputs[k].id));
    }
    const json_t *meeting = json_object_get(batch->deliveries[i]->event, "meeting");
    size_t a;
    const json_t *attendee;
    json_array_foreach(json_object_get(meeting, "attendees"), a, attendee)
    {
        char *email =
            hubspot_normalize_email(json_string_value(json_object_get(attendee, "email")));
        const char *id = email != NULL ? json_string_value(json_object_get(known, email)) : NULL;
        bool present = false;
        size_t j;
        const json_t *have;
        json_array_foreach(ids, j, have)
        {
            present |= id != NULL && strcmp(json_string_value(have), id) == 0;
        }
        if (id != NULL && !present) {
            json_array_append_new(ids, json_string(id));
        }
        free(email);
    }
    return ids;
}

static json_t *association_types(long type_id)
{
    return json_pack("[{s:s, s:I}]", "associationCategory", "HUBSPOT_DEFINED", "associationTypeId",
                     (json_int_t)type_id);
}

/* Creates the engagement; its id into id_out. */
static lh_status_t create_meeting(struct hubspot_batch *batch, json_t *properties,
                                  const json_t *contacts, long type_id, const char *marker,
                                  char *id_out, struct hubspot_response *response)
{
    if (json_object_set_new(properties, MARKER_PROPERTY, json_string(marker)) != 0) {
        memset(response, 0, sizeof(*response));
        snprintf(response->reason, sizeof(response->reason), "out of memory");
        return LH_RETRY;
    }
    json_t *associations = json_array();
    size_t j;
    const json_t *contact;
    json_array_foreach(contacts, j, contact)
    {
        json_array_append_new(associations, json_pack("{s:{s:O}, s:o}", "to", "id", contact,
                                                      "types", association_types(type_id)));
    }
    json_t *body = json_pack("{s:O, s:o}", "properties", properties, "associations", associations);
    if (body == NULL) {
        memset(response, 0, sizeof(*response));
        snprintf(response->reason, sizeof(response->reason), "out of memory");
        return LH_RETRY;
    }
    lh_status_t status = hubspot_call(batch->hs, batch->ctx, "POST", PATH_MEETINGS, body, response);
    json_decref(body);
    if (status == LH_OK && !hubspot_id_from_json(json_object_get(response->body, "id"), id_out)) {
        /* it may exist now: a retry could duplicate it, so this is not retried */
        snprintf(response->reason, sizeof(response->reason),
                 "HubSpot answered the meeting creation (HTTP %ld) without an id",
                 response->status);
        return LH_PERMANENT;
    }
    return status;
}

/* True when text holds marker as a whole (not the start of a longer key). */
static bool holds_marker(const char *text, const char *marker)
{
    size_t len = strlen(marker);
    for (const char *at = text != NULL ? strstr(text, marker) : NULL; at != NULL;
         at = strstr(at + 1, marker)) {
        char next = at[len];
        if (!isalnum((unsigned char)next) && next != '_' && next != '.' && next != ':' &&
            next != '-') {
            return true;
        }
    }
    return false;
}

/* Of the meetings ids[from..from+n), the one whose marker property holds marker, into
 * id_out (left "" when none does). */
static lh_status_t find_marked(struct hubspot_batch *batch, const json_t *ids, size_t from,
                               size_t n, const char *marker, char *id_out)
{
    json_t *inputs = json_array();
    for (size_t j = 0; inputs != NULL && j < n; j++) {
        if (json_array_append_new(inputs,
                                  json_pack("{s:O}", "id", json_array_get(ids, from + j))) != 0) {
            json_decref(inputs);
            inputs = NULL;
        }
    }
    json_t *body = inputs != NULL
                       ? json_pack("{s:[s], s:o}", "properties", MARKER_PROPERTY, "inputs", inputs)
                       : NULL;
    struct hubspot_response response = {0};
    lh_status_t status = body != NULL ? hubspot_call(batch->hs, batch->ctx, "POST",
                                                     PATH_READ_MEETING, body, &response)
                                      : LH_RETRY;
    if (status != LH_OK) {
        hubspot_batch_note_failure(batch, status, response.reason);
        goto out;
    }
    size_t i;
    const json_t *result;
    json_array_foreach(json_object_get(response.body, "results"), i, result)
    {
        const char *notes = json_string_value(
            json_object_get(json_object_get(result, "properties"), MARKER_PROPERTY));
        if (holds_marker(notes, marker) &&
            hubspot_id_from_json(json_object_get(result, "id"), id_out)) {
            break;
        }
    }
out:
    hubspot_response_clear(&response);
    json_decref(body);
    return status;
}

/*
 * An earlier creation of this meeting was sent, and its answer never came (a timeout, a
 * 5xx from HubSpot's edge): the engagement may exist. If it does, it is associated with
 * the meeting's contacts (associations are made with the creation itself) and carries the
 * meeting's marker: the contacts' meetings are read (associations are read from the
 * record, not a search index, so a creation of a moment ago is there) and the marked one
 * is taken. id_out is left "" when there is none.
 */
static lh_status_t find_created(struct hubspot_batch *batch, const json_t *contacts,
                                const char *marker, char *id_out, char *reason, size_t reason_size)
{
    json_t *inputs = json_array();
    json_t *ids = json_array();
    json_t *seen = json_object();
    json_t *body = NULL;
    struct hubspot_response response = {0};
    lh_status_t status = LH_RETRY;
    snprintf(reason, reason_size, "out of memory");
    size_t i;
    const json_t *contact;
    json_array_foreach(contacts, i, contact)
    {
        if (inputs != NULL && i < HUBSPOT_BATCH_MAX) {
            json_array_append_new(inputs, json_pack("{s:O}", "id", contact));
        }
    }
    if (inputs == NULL || ids == NULL || seen == NULL) {
        goto out;
    }
    if (json_array_size(inputs) == 0) {
        status = LH_OK; /* nothing it could be associated with: it was not created */
        goto out;
    }
    body = json_pack("{s:O}", "inputs", inputs);
    status = body != NULL ? hubspot_call(batch->hs, batch->ctx, "POST", PATH_CONTACT_MEETINGS, body,
                                         &response)
                          : LH_RETRY;
    if (status != LH_OK) {
        hubspot_batch_note_failure(batch, status, response.reason);
        snprintf(reason, reason_size, "%s", response.reason);
        goto out;
    }
    const json_t *result;
    json_array_foreach(json_object_get(response.body, "results"), i, result)
    {
        size_t j;
        const json_t *to;
        json_array_foreach(json_object_get(result, "to"), j, to)
        {
            char id[HUBSPOT_ID_MAX];
            if (hubspot_id_from_json(json_object_get(to, "toObjectId"), id) &&
                json_object_get(seen, id) == NULL) {
                json_object_set_new(seen, id, json_true());
                json_array_append_new(ids, json_string(id));
            }
        }
    }
    size_t total = json_array_size(ids);
    for (size_t from = 0; from < total && id_out[0] == '\0'; from += HUBSPOT_BATCH_MAX) {
        size_t n = total - from < HUBSPOT_BATCH_MAX ? total - from : HUBSPOT_BATCH_MAX;
        status = find_marked(batch, ids, from, n, marker, id_out);
        if (status != LH_OK) {
            snprintf(reason, reason_size,
                     "whether an earlier creation of this meeting reached HubSpot could not be "
                     "read");
            goto out;
        }
    }
out:
    hubspot_response_clear(&response);
    json_decref(body);
    json_decref(inputs);
    json_decref(ids);
    json_decref(seen);
    return status;
}

/* Associates contacts (array of ids) with engagement id. */
static lh_status_t associate(struct hubspot_batch *batch, const char *id, const json_t *contacts,
                             long type_id, struct hubspot_response *response)
{
    json_t *inputs = json_array();
    size_t j;
    const json_t *contact;
    json_array_foreach(contacts, j, contact)
    {
        json_array_append_new(inputs,
                              json_pack("{s:{s:s}, s:{s:O}, s:o}", "from", "id", id, "to", "id",
                                        contact, "types", association_types(type_id)));
    }
    json_t *body = json_pack("{s:o}", "inputs", inputs);
    if (body == NULL) {
        memset(response, 0, sizeof(*response));
        snprintf(response->reason, sizeof(response->reason), "out of memory");
        return LH_RETRY;
    }
    lh_status_t status =
        hubspot_call(batch->hs, batch->ctx, "POST", PATH_ASSOCIATE, body, response);
    json_decref(body);
    return status;
}

static bool contains(const json_t *ids, const char *id)
{
    size_t j;
    const json_t *have;
    json_array_foreach(ids, j, have)
    {
        if (json_is_string(have) && strcmp(json_string_value(have), id) == 0) {
            return true;
        }
    }
    return false;
}

/* Decides delivery i after a failed request. */
static void meeting_failed(struct hubspot_batch *batch, size_t i, lh_status_t status,
                           const struct hubspot_response *response)
{
    hubspot_batch_note_failure(batch, status, response->reason);
    hubspot_batch_decide(batch, i, status, response->reason);
}

static void deliver_meeting(struct hubspot_batch *batch, size_t i, const json_t *known,
                            long type_id)
{
    struct hubspot *hs = batch->hs;
    const lh_host_t *host = hs->host;
    const json_t *event = batch->deliveries[i]->event;
    const json_t *meeting = json_object_get(event, "meeting");
    const char *external_id = json_string_value(json_object_get(meeting, "external_id"));
    const char *source = json_string_value(json_object_get(event, "source"));
    const char *type = json_string_value(json_object_get(event, "type"));
    if (external_id == NULL || external_id[0] == '\0') {
        hubspot_batch_decide(batch, i, LH_PERMANENT, "meeting.external_id is required");
        return;
    }
    char key[MEETING_KEY_MAX + 1];
    meeting_key(hs, source != NULL ? source : "", external_id, key);
    json_t *remembered = NULL;
    if (host->checkpoint_get(batch->ctx, key, &remembered) != LH_OK) {
        hubspot_batch_decide(batch, i, LH_RETRY,
                             "the meeting's engagement id could not be read from the database");
        return;
    }
    json_t *contacts = meeting_contacts(batch, i, known);
    const char *outcome = hubspot_meeting_outcome(type, meeting, remembered);
    json_t *properties = hubspot_meeting_properties(event, outcome);
    char id[HUBSPOT_ID_MAX] = "";
    json_t *associated = NULL;
    struct hubspot_response response;
    memset(&response, 0, sizeof(response));
    if (contacts == NULL || properties == NULL) {
        hubspot_batch_decide(batch, i, LH_RETRY, "out of memory");
        goto out;
    }
    const char *action = "updated";
    char marker[MEETING_KEY_MAX + sizeof(MARKER_PREFIX)];
    snprintf(marker, sizeof(marker), MARKER_PREFIX "%s", key);
    if (!hubspot_id_from_json(json_object_get(remembered, "id"), id) &&
        json_object_get(remembered, "creating") != NULL) {
        char reason[HUBSPOT_MESSAGE_MAX + 320];
        lh_status_t status = find_created(batch, contacts, marker, id, reason, sizeof(reason));
        if (status != LH_OK) {
            hubspot_batch_decide(batch, i, status, reason);
            goto out;
        }
        if (id[0] != '\0') {
            host->log(batch->ctx, LH_LOG_INFO,
                      "meeting engagement %s was created by an earlier attempt whose answer "
                      "was lost: it is updated, not created again",
                      id);
            host->counter_add(batch->ctx, "hubspot_meetings_total", "action", "found", 1);
        }
    }
    if (id[0] != '\0') {
        char path[64];
        snprintf(path, sizeof(path), PATH_MEETINGS "/%s", id);
        json_t *body = json_pack("{s:O}", "properties", properties);
        lh_status_t status = hubspot_call(hs, batch->ctx, "PATCH", path, body, &response);
        json_decref(body);
        if (status == LH_PERMANENT && response.status == 404) {
            host->log(batch->ctx, LH_LOG_INFO,
                      "meeting engagement %s is gone from HubSpot: creating it again", id);
            id[0] = '\0';
        } else if (status != LH_OK) {
            meeting_failed(batch, i, status, &response);
            goto out;
        } else {
            /* associate the contacts not associated before */
            const json_t *before = json_object_get(remembered, "contacts");
            json_t *fresh = json_array();
            size_t j;
            const json_t *contact;
            json_array_foreach(contacts, j, contact)
            {
                if (!contains(before, json_string_value(contact))) {
                    json_array_append(fresh, (json_t *)contact);
                }
            }
            associated = json_is_array(before) ? json_deep_copy(before) : json_array();
            if (json_array_size(fresh) > 0) {
                hubspot_response_clear(&response);
                status = associate(batch, id, fresh, type_id, &response);
                if (status != LH_OK) {
                    json_decref(fresh);
                    meeting_failed(batch, i, status, &response);
                    goto out;
                }
                json_array_extend(associated, fresh);
            }
            json_decref(fresh);
        }
        hubspot_response_clear(&response);
    }
    if (id[0] == '\0') {
        action = "created";
        /* kept before the request: when its answer is lost, the next attempt looks for
         * the engagement before creating another */
        json_t *creating = json_pack("{s:I}", "creating", (json_int_t)host->now_ms(batch->ctx));
        lh_status_t put = creating != NULL
                              ? host->checkpoint_put(batch->ctx, key, creating) /* STOLEN */
                              : LH_RETRY;
        if (put != LH_OK) {
            hubspot_batch_decide(batch, i, LH_RETRY,
                                 "the meeting's creation could not be recorded before it was "
                                 "sent");
            goto out;
        }
        lh_status_t status =
            create_meeting(batch, properties, contacts, type_id, marker, id, &response);
        if (status != LH_OK) {
            meeting_failed(batch, i, status, &response);
            goto out;
        }
        json_decref(associated);
        associated = json_incref(contacts);
    }
    json_t *value =
        json_pack("{s:s, s:O, s:O*, s:s}", "id", id, "contacts", associated, "starts_at",
                  json_object_get(meeting, "starts_at"), "outcome", outcome);
    if (host->checkpoint_put(batch->ctx, key, value) != LH_OK) {
        /* the engagement exists and is marked: a later event of this meeting finds it
         * through its contacts (a creation recorded, no id), at the cost of two reads */
        host->counter_add(batch->ctx, "hubspot_state_write_failures_total", "key", "meeting", 1);
        host->log(batch->ctx, LH_LOG_WARN,
                  "meeting engagement %s: its id could not be remembered; the next event of "
                  "this meeting looks it up",
                  id);
    }
    host->counter_add(batch->ctx, "hubspot_meetings_total", "action", action, 1);
    hubspot_batch_decide(batch, i, LH_OK, NULL);
out:
    hubspot_response_clear(&response);
    json_decref(remembered);
    json_decref(contacts);
    json_decref(properties);
    json_decref(associated);
}

void hubspot_meetings_send(struct hubspot_batch *batch)
{
    bool any = false;
    for (size_t i = 0; i < batch->count; i++) {
        if (batch->decided[i] || !is_meeting(batch, i)) {
            continue;
        }
        long k = batch->input_of[i];
        if (k >= 0 && batch->inputs[k].status != LH_OK) {
            /* its lead could not be written: the meeting waits with it */
            hubspot_batch_decide(batch, i, batch->inputs[k].status, batch->inputs[k].message);
            continue;
        }
        any = true;
    }
    if (!any) {
        return;
    }
    json_t *known = json_object();
    if (known == NULL) {
        return;
    }
    for (size_t k = 0; k < batch->input_count; k++) {
        if (!batch->inputs[k].by_id && batch->inputs[k].id[0] != '\0') {
            json_object_set_new(known, batch->inputs[k].key, json_string(batch->inputs[k].id));
        }
    }
    look_up_attendees(batch, known);
    long type_id = association_type(batch);
    for (size_t i = 0; i < batch->count; i++) {
        if (batch->decided[i] || !is_meeting(batch, i)) {
            continue;
        }
        if (batch->abort_status != LH_OK) {
            hubspot_batch_decide(batch, i, batch->abort_status, batch->abort_reason);
            continue;
        }
        deliver_meeting(batch, i, known, type_id);
    }
    json_decref(known);
}
