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
#include "mail_event.h"
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

static bool digits(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return false;
        }
    }
    return true;
}

static int number(const char *p, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        v = v * 10 + (p[i] - '0');
    }
    return v;
}

/* Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm). */
static long long days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    long long yoe = y - era * 400;
    long long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    return era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
}

/* An RFC 3339 time ("2025-03-11T14:00:00-04:00", "…Z", "…​.5Z") as UTC seconds; false
 * when it is not one (the host would refuse the event). */
static bool rfc3339_seconds(const char *t, long long *out)
{
    size_t len = strlen(t);
    if (len < 20 || !digits(t, 4) || t[4] != '-' || !digits(t + 5, 2) || t[7] != '-' ||
        !digits(t + 8, 2) || (t[10] != 'T' && t[10] != 't') || !digits(t + 11, 2) || t[13] != ':' ||
        !digits(t + 14, 2) || t[16] != ':' || !digits(t + 17, 2)) {
        return false;
    }
    int y = number(t, 4), mo = number(t + 5, 2), d = number(t + 8, 2);
    int h = number(t + 11, 2), mi = number(t + 14, 2), s = number(t + 17, 2);
    static const int month_days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > month_days[mo - 1] || h > 23 || mi > 59 ||
        s > 60) {
        return false;
    }
    const char *p = t + 19;
    if (*p == '.') {
        p++;
        const char *start = p;
        while (*p >= '0' && *p <= '9') {
            p++;
        }
        if (p == start) {
            return false;
        }
    }
    long long offset = 0;
    if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
        offset = 0;
    } else if ((*p == '+' || *p == '-') && strlen(p) == 6 && digits(p + 1, 2) && p[3] == ':' &&
               digits(p + 4, 2) && number(p + 1, 2) < 24 && number(p + 4, 2) < 60) {
        offset = (number(p + 1, 2) * 60LL + number(p + 4, 2)) * 60 * (*p == '+' ? 1 : -1);
    } else {
        return false;
    }
    long long seconds = days_from_civil(y, mo, d) * 86400 + h * 3600LL + mi * 60LL + s - offset;
    /* within what the host stores: 0001-01-01 to 9999-12-31 once in UTC */
    if (seconds < -62135596800LL || seconds > 253402300799LL) {
        return false;
    }
    *out = seconds;
    return true;
}

/* start/end {dateTime | date, timeZone} into the meeting, its instant in *seconds; false
 * when unreadable. All-day dates are taken at 00:00 UTC. */
static bool set_time(json_t *meeting, const char *key, const json_t *when, bool *all_day,
                     long long *seconds)
{
    const char *date_time = json_string_value(json_object_get(when, "dateTime"));
    if (date_time != NULL) {
        return rfc3339_seconds(date_time, seconds) &&
               json_object_set_new(meeting, key, json_string(date_time)) == 0;
    }
    const char *date = json_string_value(json_object_get(when, "date"));
    if (date == NULL || strlen(date) != 10) {
        return false;
    }
    char text[32];
    snprintf(text, sizeof(text), "%sT00:00:00Z", date);
    if (!rfc3339_seconds(text, seconds)) {
        return false;
    }
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
        if (email == NULL || !mail_event_address_ok(email)) {
            free(email);
            continue;
        }
        const char *name = json_string_value(json_object_get(a, "displayName"));
        json_t *attendee = json_pack("{s:s}", "email", email);
        set_string(attendee, "name", name);
        const char *response =
            response_name(json_string_value(json_object_get(a, "responseStatus")));
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
    const char *version =
        updated != NULL ? updated : json_string_value(json_object_get(item, "etag"));
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
    long long updated_at = 0;
    if (updated != NULL && !rfc3339_seconds(updated, &updated_at)) {
        *skip_reason = "malformed";
        return NULL;
    }
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
        long long starts = 0, ends = 0;
        if (!set_time(meeting, "starts_at", json_object_get(item, "start"), &all_day, &starts) ||
            !set_time(meeting, "ends_at", json_object_get(item, "end"), &all_day, &ends) ||
            ends < starts) {
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
    if (organizer_email != NULL && mail_event_address_ok(organizer_email)) {
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
                      "occurred_at", updated != NULL ? updated : "1970-01-01T00:00:00Z", "meeting",
                      meeting, "data", data);
    if (event != NULL && lead != NULL) {
        json_object_set(event, "lead", lead);
    }
out:
    json_decref(lead);
    json_decref(list);
    json_decref(meeting);
    return event;
}
