/*
 * google_meeting.c - one Calendar event (events.list item, singleEvents=true) to a meeting
 * event. Only meetings with someone outside are meetings with a prospect: an attendee who
 * is not the mailbox, not one of its aliases, not in an internal domain and not a room.
 *
 *   status cancelled            -> meeting.canceled (Google guarantees only the id)
 *   sequence 0                  -> meeting.scheduled
 *   sequence > 0 (edited)       -> meeting.updated
 * Either way the hub compares the start with the stored one: a moved meeting is
 * rescheduled, the previous start kept.
 * source_id is <calendar>/<event id>@<updated>: one event per version, so a full resync
 * (410) that reads a version again stores nothing new.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "google.h"
#include "mail_address.h"
#include "person_name.h"


static bool is_internal(const struct google *g, const char *address)
{
    if (google_is_own_address(g, address)) {
        return true;
    }
    const char *domain = mail_address_domain(address);
    for (size_t i = 0; i < g->internal_domain_count; i++) {
        if (mail_domain_within(domain, g->internal_domains[i])) {
            return true;
        }
    }
    return false;
}

static const char *response_name(const char *google)
{
    if (google == NULL) {
        return NULL;
    }
    if (strcmp(google, "accepted") == 0 || strcmp(google, "declined") == 0 ||
        strcmp(google, "tentative") == 0) {
        return google;
    }
    return strcmp(google, "needsAction") == 0 ? "needs_action" : NULL;
}

/* start/end {dateTime | date, timeZone} into the meeting; false when unreadable. */
static bool set_time(json_t *meeting, const char *key, const json_t *when, bool *all_day)
{
    const char *date_time = json_string_value(json_object_get(when, "dateTime"));
    if (date_time != NULL) {
        return json_object_set_new(meeting, key, json_string(date_time)) == 0;
    }
    const char *date = json_string_value(json_object_get(when, "date"));
    int y, m, d;
    if (date == NULL || strlen(date) != 10 || sscanf(date, "%4d-%2d-%2d", &y, &m, &d) != 3) {
        return false;
    }
    char text[32];
    snprintf(text, sizeof(text), "%04d-%02d-%02dT00:00:00Z", y, m, d);
    *all_day = true;
    return json_object_set_new(meeting, key, json_string(text)) == 0;
}

static const char *video_link(const json_t *item)
{
    size_t i;
    const json_t *entry;
    json_array_foreach(json_object_get(json_object_get(item, "conferenceData"), "entryPoints"), i,
                       entry)
    {
        const char *type = json_string_value(json_object_get(entry, "entryPointType"));
        const char *uri = json_string_value(json_object_get(entry, "uri"));
        if (type != NULL && uri != NULL && strcmp(type, "video") == 0) {
            return uri;
        }
    }
    return json_string_value(json_object_get(item, "hangoutLink"));
}

static void set_string(json_t *object, const char *key, const char *value)
{
    if (value != NULL && value[0] != '\0' && strlen(value) <= 1024) {
        json_object_set_new(object, key, json_string(value));
    }
}

/* Attendees without rooms; *lead_out the first outside one (NEW lead object or NULL). */
static json_t *attendees(const struct google *g, const json_t *item, json_t **lead_out)
{
    json_t *list = json_array();
    size_t i;
    const json_t *a;
    json_array_foreach(json_object_get(item, "attendees"), i, a)
    {
        const char *raw = json_string_value(json_object_get(a, "email"));
        if (raw == NULL || json_is_true(json_object_get(a, "resource"))) {
            continue;
        }
        char *email = mail_address_normalize(raw, strlen(raw));
        if (email == NULL) {
            continue;
        }
        const char *name = json_string_value(json_object_get(a, "displayName"));
        json_t *attendee = json_pack("{s:s}", "email", email);
        set_string(attendee, "name", name);
        const char *response = response_name(json_string_value(json_object_get(a, "responseStatus")));
        set_string(attendee, "response", response);
        if (json_is_true(json_object_get(a, "optional"))) {
            json_object_set_new(attendee, "optional", json_true());
        }
        json_array_append_new(list, attendee);
        if (*lead_out == NULL && !is_internal(g, email)) {
            *lead_out = json_pack("{s:s}", "email", email);
            if (name != NULL && *lead_out != NULL) {
                person_name_set_lead(*lead_out, name, strlen(name), 1024);
            }
        }
        free(email);
    }
    return list;
}

json_t *google_meeting_event(const struct google *g, const char *calendar_id, const json_t *item,
                             const char *default_timezone, const char **skip_reason)
{
    const char *id = json_string_value(json_object_get(item, "id"));
    const char *status = json_string_value(json_object_get(item, "status"));
    const char *updated = json_string_value(json_object_get(item, "updated"));
    const char *version = updated != NULL ? updated
                                          : json_string_value(json_object_get(item, "etag"));
    if (id == NULL || version == NULL || strlen(id) + strlen(calendar_id) > 200 ||
        strlen(version) > 48) {
        *skip_reason = "malformed";
        return NULL;
    }
    char external_id[256];
    char source_id[512];
    if ((size_t)snprintf(external_id, sizeof(external_id), "%s/%s", calendar_id, id) >=
            sizeof(external_id) ||
        (size_t)snprintf(source_id, sizeof(source_id), "%s@%s", external_id, version) >=
            sizeof(source_id)) {
        *skip_reason = "malformed";
        return NULL;
    }
    bool canceled = status != NULL && strcmp(status, "cancelled") == 0;
    json_t *lead = NULL;
    json_t *list = attendees(g, item, &lead);
    json_t *meeting = json_pack("{s:s, s:s}", "external_id", external_id, "status",
                                canceled ? "canceled" : "scheduled");
    json_t *event = NULL;
    if (!canceled && lead == NULL) {
        *skip_reason = json_array_size(list) == 0 ? "no_attendees" : "internal";
        goto out;
    }
    const char *event_type = json_string_value(json_object_get(item, "eventType"));
    if (event_type != NULL && strcmp(event_type, "default") != 0 && !canceled) {
        *skip_reason = "event_type"; /* out of office, focus time, working location */
        goto out;
    }
    bool all_day = false;
    if (!canceled || json_object_get(item, "start") != NULL) {
        if (!set_time(meeting, "starts_at", json_object_get(item, "start"), &all_day) ||
            !set_time(meeting, "ends_at", json_object_get(item, "end"), &all_day)) {
            if (!canceled) {
                *skip_reason = "malformed";
                goto out;
            }
            json_object_del(meeting, "starts_at");
            json_object_del(meeting, "ends_at");
        }
    }
    if (all_day) {
        json_object_set_new(meeting, "all_day", json_true());
    }
    const char *tz = json_string_value(json_object_get(json_object_get(item, "start"), "timeZone"));
    set_string(meeting, "timezone", tz != NULL ? tz : default_timezone);
    set_string(meeting, "title", json_string_value(json_object_get(item, "summary")));
    set_string(meeting, "location", json_string_value(json_object_get(item, "location")));
    set_string(meeting, "online_url", video_link(item));
    const json_t *organizer = json_object_get(item, "organizer");
    const char *organizer_email = json_string_value(json_object_get(organizer, "email"));
    if (organizer_email != NULL && strchr(organizer_email, '@') != NULL) {
        json_t *o = json_pack("{s:s}", "email", organizer_email);
        set_string(o, "name", json_string_value(json_object_get(organizer, "displayName")));
        json_object_set_new(meeting, "organizer", o);
    }
    if (json_array_size(list) > 0) {
        json_object_set(meeting, "attendees", list);
    }
    /* Google raises sequence when the organizer changes the time or place: an edit. A
     * response or a note changes only `updated`: the meeting re-sent as scheduled, which
     * the hub takes as "nothing new about its outcome". Decided from the item alone, so a
     * version read again (a resync) is the same event. */
    const char *type = canceled ? "meeting.canceled"
                       : json_integer_value(json_object_get(item, "sequence")) > 0
                           ? "meeting.updated"
                           : "meeting.scheduled";
    json_t *data = json_pack("{s:s}", "calendar_id", calendar_id);
    set_string(data, "ical_uid", json_string_value(json_object_get(item, "iCalUID")));
    set_string(data, "recurring_event_id",
               json_string_value(json_object_get(item, "recurringEventId")));
    event = json_pack("{s:s, s:s, s:s, s:O, s:o}", "type", type, "source_id", source_id,
                      "occurred_at", updated != NULL ? updated : "1970-01-01T00:00:00Z",
                      "meeting", meeting, "data", data);
    if (event != NULL && lead != NULL) {
        json_object_set(event, "lead", lead);
    }
out:
    json_decref(lead);
    json_decref(list);
    json_decref(meeting);
    return event;
}
