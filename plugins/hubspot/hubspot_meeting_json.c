/*
 * hubspot_meeting_json.c - meeting engagements read from HubSpot, as leadhub's meetings.
 * Pure: no host, no I/O.
 *
 * A rep books, moves and closes meetings in HubSpot; its outcome (hs_meeting_outcome) is
 * the best word on whether a meeting was held. What leadhub keeps of a meeting (title,
 * start, end, place, link, outcome) is compared with what was seen of it before, and a
 * change becomes one meeting.* event whose type follows the outcome.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strdup */
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hubspot.h"

/* The properties kept, and the meeting member each becomes. */
static const struct {
    const char *property;
    const char *member;
} kept[] = {
    {"hs_meeting_title", "title"},
    {"hs_meeting_location", "location"},
    {"hs_meeting_external_url", "online_url"},
    {"hs_meeting_outcome", NULL},
    {"hs_meeting_start_time", NULL},
    {"hs_meeting_end_time", NULL},
    {"hs_timestamp", NULL},
};
#define KEPT (sizeof(kept) / sizeof(kept[0]))

const char *hubspot_meeting_status(const char *outcome)
{
    static const struct {
        const char *outcome;
        const char *status;
    } map[] = {
        {"SCHEDULED", "scheduled"}, {"COMPLETED", "held"},    {"RESCHEDULED", "rescheduled"},
        {"NO_SHOW", "no_show"},     {"CANCELED", "canceled"}, {"CANCELLED", "canceled"},
    };
    for (size_t i = 0; outcome != NULL && i < sizeof(map) / sizeof(map[0]); i++) {
        if (strcasecmp(outcome, map[i].outcome) == 0) {
            return map[i].status;
        }
    }
    return NULL;
}

json_t *hubspot_meeting_property_names(void)
{
    json_t *names = json_pack("[s, s]", "hs_lastmodifieddate", "hs_internal_meeting_notes");
    for (size_t i = 0; names != NULL && i < KEPT; i++) {
        if (json_array_append_new(names, json_string(kept[i].property)) != 0) {
            json_decref(names);
            return NULL;
        }
    }
    return names;
}

/* A time property as leadhub's text (out: 32 bytes); false when absent or unreadable. */
static bool time_text(const json_t *properties, const char *name, int64_t *ms, char *out)
{
    const char *text = json_string_value(json_object_get(properties, name));
    if (text == NULL || hubspot_parse_time(text, ms) != 0) {
        return false;
    }
    hubspot_format_time(*ms, out);
    return true;
}

/* The type of the event for a meeting in `status`, new or not. */
static const char *event_type(const char *status, bool is_new)
{
    if (status != NULL && strcmp(status, "canceled") == 0) {
        return "meeting.canceled";
    }
    if (status != NULL && strcmp(status, "held") == 0) {
        return "meeting.held";
    }
    if (status != NULL && strcmp(status, "no_show") == 0) {
        return "meeting.no_show";
    }
    if (status != NULL && strcmp(status, "rescheduled") == 0) {
        return "meeting.rescheduled";
    }
    return is_new ? "meeting.scheduled" : "meeting.updated";
}

int hubspot_meeting_observe(const json_t *object, const json_t *seen,
                            struct hubspot_meeting_change *out)
{
    memset(out, 0, sizeof(*out));
    const json_t *properties = json_object_get(object, "properties");
    if (!hubspot_id_from_json(json_object_get(object, "id"), out->id) ||
        hubspot_object_modified(object, "hs_lastmodifieddate", &out->modified_ms) != 0) {
        return -1;
    }
    const char *notes = json_string_value(json_object_get(properties, "hs_internal_meeting_notes"));
    out->own = notes != NULL && strstr(notes, HUBSPOT_MARKER_PREFIX) != NULL;
    json_t *now = json_object();
    out->seen = json_pack("{s:I, s:o}", "m", (json_int_t)out->modified_ms, "p", now);
    out->meeting = json_pack("{s:s}", "external_id", out->id);
    if (out->seen == NULL || out->meeting == NULL) {
        hubspot_meeting_change_clear(out);
        return -1;
    }
    const json_t *before = json_object_get(seen, "p");
    bool changed = seen == NULL;
    for (size_t i = 0; i < KEPT; i++) {
        char *text = hubspot_property_text(properties, kept[i].property);
        const char *was = json_string_value(json_object_get(before, kept[i].property));
        changed |= (text == NULL) != (was == NULL) || (text != NULL && strcmp(text, was) != 0);
        if (text != NULL) {
            json_object_set_new(now, kept[i].property, json_string(text));
            if (kept[i].member != NULL) {
                json_object_set_new(out->meeting, kept[i].member, json_string(text));
            }
        }
        free(text);
    }
    /* the start: hs_meeting_start_time, else hs_timestamp (HubSpot's required time) */
    char starts[32], ends[32];
    int64_t start_ms = 0, end_ms = 0;
    bool has_start = time_text(properties, "hs_meeting_start_time", &start_ms, starts) ||
                     time_text(properties, "hs_timestamp", &start_ms, starts);
    if (has_start) {
        json_object_set_new(out->meeting, "starts_at", json_string(starts));
    }
    if (time_text(properties, "hs_meeting_end_time", &end_ms, ends) &&
        (!has_start || end_ms >= start_ms)) {
        json_object_set_new(out->meeting, "ends_at", json_string(ends));
    }
    const char *status = hubspot_meeting_status(
        json_string_value(json_object_get(properties, "hs_meeting_outcome")));
    if (status != NULL) {
        json_object_set_new(out->meeting, "status", json_string(status));
    }
    if (changed) {
        out->type = event_type(status, seen == NULL);
    } else {
        json_decref(out->meeting);
        out->meeting = NULL;
    }
    return 0;
}

void hubspot_meeting_change_clear(struct hubspot_meeting_change *change)
{
    json_decref(change->meeting);
    json_decref(change->seen);
    change->meeting = NULL;
    change->seen = NULL;
    change->type = NULL;
}
