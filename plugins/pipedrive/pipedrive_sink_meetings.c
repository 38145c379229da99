/*
 * pipedrive_sink_meetings.c - one Pipedrive activity of type meeting per leadhub meeting.
 *
 * The activity id is kept under `meeting:<source>:<external_id>` (a hashed key when that
 * is too long or not a key); later events of the meeting PATCH it. Its participants are
 * the lead's person and the attendees' persons Pipedrive already has (an attendee without
 * one is left out: a meeting does not create persons); an event without attendees leaves
 * them as they are. Its note's first line,
 * "leadhub-ref: <key>", is how an attempt whose creation answer was lost finds it in the
 * person's activities instead of creating a second one.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipedrive.h"

/* The checkpoint key of a meeting into key (LH_KEY_SIZE bytes). */
static bool meeting_key(const char *source, const char *external_id, char key[LH_KEY_SIZE])
{
    int n = snprintf(key, LH_KEY_SIZE, "meeting:%s:%s", source, external_id);
    bool plain = n > 0 && n <= LH_KEY_MAX;
    for (const char *p = key; plain && *p != '\0'; p++) {
        plain = lh_key_char_valid((unsigned char)*p);
    }
    if (plain) {
        return true;
    }
    char *both = NULL;
    if (asprintf(&both, "%s:%s", source, external_id) < 0) {
        return false;
    }
    long len = lh_key_hash("meeting", both, strlen(both), key, LH_KEY_SIZE);
    free(both);
    return len > 0;
}

/* An activity whose note begins with the marker line of `arg` (the key). */
static bool match_marker(const json_t *item, const void *arg)
{
    const char *note = json_string_value(json_object_get(item, "note"));
    size_t prefix = strlen(PIPEDRIVE_MARKER), key = strlen(arg);
    return note != NULL && strncmp(note, PIPEDRIVE_MARKER, prefix) == 0 &&
           strncmp(note + prefix, arg, key) == 0 &&
           (note[prefix + key] == '\0' || note[prefix + key] == '\n');
}

/* The participants: the lead's person first, then the attendees' persons Pipedrive has. */
static lh_status_t participants(struct pipedrive *pd, lh_ctx_t *ctx, const json_t *meeting,
                                const char *person_id, json_t **out)
{
    *out = json_array();
    json_array_append_new(*out, json_pack("{s:I, s:b}", "person_id",
                                          (json_int_t)strtoll(person_id, NULL, 10), "primary", 1));
    size_t i;
    const json_t *attendee;
    json_array_foreach(json_object_get(meeting, "attendees"), i, attendee)
    {
        char *email = pipedrive_normalize_email(json_string_value(json_object_get(attendee, "email")));
        char id[PIPEDRIVE_ID_MAX] = "";
        lh_status_t status = email != NULL ? pipedrive_person_by_email(pd, ctx, email, id) : LH_OK;
        free(email);
        if (status != LH_OK) {
            return status;
        }
        json_int_t value = (json_int_t)strtoll(id, NULL, 10);
        bool listed = id[0] == '\0';
        size_t k;
        const json_t *have;
        json_array_foreach(*out, k, have)
        {
            listed = listed || json_integer_value(json_object_get(have, "person_id")) == value;
        }
        if (!listed) {
            json_array_append_new(*out, json_pack("{s:I, s:b}", "person_id", value, "primary", 0));
        }
    }
    return LH_OK;
}

/* "First Last", else the email, of the lead the meeting is with. Malloc'd or NULL. */
static char *meeting_lead_name(const lh_delivery_t *delivery)
{
    const json_t *lead = LH_HAS_FIELD(lh_delivery_t, delivery, lead) && delivery->lead != NULL
                             ? delivery->lead
                             : json_object_get(delivery->event, "lead");
    const char *first = json_string_value(json_object_get(lead, "first_name"));
    const char *last = json_string_value(json_object_get(lead, "last_name"));
    const char *email = json_string_value(json_object_get(lead, "email"));
    char *name = NULL;
    if (first != NULL || last != NULL) {
        if (asprintf(&name, "%s%s%s", first ? first : "", first && last ? " " : "",
                     last ? last : "") < 0) {
            name = NULL;
        }
    } else if (email != NULL) {
        name = strdup(email);
    }
    return name;
}

lh_status_t pipedrive_meeting_deliver(struct pipedrive *pd, lh_ctx_t *ctx,
                                      const lh_delivery_t *delivery, const char *type,
                                      const char *person_id)
{
    const lh_host_t *host = pd->host;
    const json_t *meeting = json_object_get(delivery->event, "meeting");
    const char *source = json_string_value(json_object_get(delivery->event, "source"));
    const char *external_id = json_string_value(json_object_get(meeting, "external_id"));
    char key[LH_KEY_SIZE], id[PIPEDRIVE_ID_MAX];
    if (external_id == NULL || !meeting_key(source != NULL ? source : "", external_id, key)) {
        host->set_error(ctx, "a meeting event without a usable meeting.external_id");
        return LH_PERMANENT;
    }
    char *name = meeting_lead_name(delivery);
    json_t *body = pipedrive_activity_body(type, meeting, name, key);
    json_t *people = NULL;
    free(name);
    if (body == NULL) {
        host->set_error(ctx, "out of memory");
        return LH_RETRY;
    }
    lh_status_t status = participants(pd, ctx, meeting, person_id, &people);
    if (status != LH_OK) {
        goto out;
    }
    status = pipedrive_remembered_id(pd, ctx, key, id);
    /* an event without attendees keeps the activity's participants (docs/events.md: it
     * keeps the stored list); a creation always names the lead's person */
    if (id[0] == '\0' || json_object_get(meeting, "attendees") != NULL) {
        json_object_set(body, "participants", people);
    }
    if (status == LH_OK && id[0] != '\0') {
        lh_url_t builder;
        pipedrive_url(pd, &builder, "/api/v2/activities");
        lh_url_add_path(&builder, id);
        char *url = lh_url_take(&builder);
        struct pipedrive_response answer = {0};
        status = url != NULL ? pipedrive_call(pd, ctx, "PATCH", url, body, &answer) : LH_RETRY;
        free(url);
        if (status == LH_PERMANENT && answer.status == 404) {
            /* deleted in Pipedrive: the meeting gets a new activity */
            host->log(ctx, LH_LOG_INFO, "activity %s is gone from Pipedrive: created again", id);
            status = host->checkpoint_put(ctx, key, json_null());
            id[0] = '\0';
        }
        pipedrive_response_clear(&answer);
        if (status != LH_OK || id[0] != '\0') {
            goto out;
        }
    }
    if (status == LH_OK) {
        status = pipedrive_create_once(pd, ctx, key, "/api/v2/activities", "person_id", person_id,
                                       body, match_marker, key, id, NULL);
    }
out:
    json_decref(body);
    json_decref(people);
    return status;
}
