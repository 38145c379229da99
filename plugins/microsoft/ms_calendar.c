/*
 * ms_calendar.c - the primary calendar: calendarView/delta over the rolling window
 * (occurrences of recurring meetings come one by one), each event with an outside attendee
 * a meeting.* event. Times are asked for in UTC (Prefer: outlook.timezone="UTC"), so Graph
 * applies the daylight-saving rules of the meeting's Windows zone; the zone itself is kept
 * as its IANA name. A moved meeting is emitted with its new start: the hub keeps the start
 * before (meetings.previous_starts_at) and calls it rescheduled.
 *
 * What the poll remembers per meeting ("mtg.<mailbox>.<hash of id>" = its start): that it
 * was stored (a later change is meeting.updated), and where it was, so that an @removed
 * (which carries only the id, and also names meetings that merely left the window) cancels
 * only a meeting stored and still inside the window.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail_address.h"
#include "microsoft.h"
#include "person_name.h"

#define TEXT_MAX 1024

static bool internal_address(const struct microsoft *ms, const struct ms_mailbox *mailbox,
                             const char *address)
{
    const char *at = address != NULL ? strrchr(address, '@') : NULL;
    if (at == NULL || ms_same(address, mailbox->address)) {
        return true;
    }
    for (size_t i = 0; i < ms->internal_domain_count; i++) {
        if (mail_domain_within(at + 1, ms->internal_domains[i])) {
            return true;
        }
    }
    return false;
}

/* accepted, declined, tentative, needs_action (Graph's values compared ignoring case). */
static const char *response_of(const json_t *attendee)
{
    const char *r =
        json_string_value(json_object_get(json_object_get(attendee, "status"), "response"));
    if (ms_same(r, "accepted") || ms_same(r, "organizer")) {
        return "accepted";
    }
    if (ms_same(r, "declined")) {
        return "declined";
    }
    if (ms_same(r, "tentativelyAccepted")) {
        return "tentative";
    }
    return "needs_action";
}

/* A dateTimeTimeZone in UTC ({"dateTime": "...0000000", "timeZone": "UTC"}) as ms, or -1
 * (another zone: Graph did not honour the Prefer header). */
static int64_t utc_ms(const json_t *value)
{
    const char *zone = json_string_value(json_object_get(value, "timeZone"));
    if (zone != NULL && !ms_same(zone, "UTC") && !ms_same(zone, "Etc/UTC") &&
        !ms_same(zone, "Coordinated Universal Time")) {
        return -1;
    }
    return ms_parse_time(json_string_value(json_object_get(value, "dateTime")));
}

static json_t *person(const json_t *email_address)
{
    const char *address = json_string_value(json_object_get(email_address, "address"));
    const char *name = json_string_value(json_object_get(email_address, "name"));
    if (!ms_address_ok(address)) {
        return NULL;
    }
    json_t *p = json_pack("{s:s}", "email", address);
    if (p != NULL && name != NULL && name[0] != '\0' && !ms_same(name, address) &&
        strlen(name) <= TEXT_MAX) {
        json_object_set_new(p, "name", json_string(name));
    }
    return p;
}

json_t *ms_calendar_map(const struct microsoft *ms, const struct ms_mailbox *mailbox,
                        const json_t *event, bool known, const char **skip_reason_out)
{
    *skip_reason_out = NULL;
    const char *id = json_string_value(json_object_get(event, "id"));
    const char *type = json_string_value(json_object_get(event, "type"));
    if (id == NULL || id[0] == '\0' || strlen(id) > 512) {
        *skip_reason_out = "no_id";
        return NULL;
    }
    if (ms_same(type, "seriesMaster")) {
        *skip_reason_out = "series_master"; /* its occurrences come one by one */
        return NULL;
    }
    int64_t starts = utc_ms(json_object_get(event, "start"));
    int64_t ends = utc_ms(json_object_get(event, "end"));
    if (starts < 0 || ends < starts) {
        *skip_reason_out = "times";
        return NULL;
    }
    json_t *attendees = json_array();
    json_t *lead = NULL;
    const json_t *organizer_address =
        json_object_get(json_object_get(event, "organizer"), "emailAddress");
    const char *organizer_email = json_string_value(json_object_get(organizer_address, "address"));
    bool outside = organizer_email != NULL && !internal_address(ms, mailbox, organizer_email);
    if (outside) {
        lead = person(organizer_address);
    }
    size_t i;
    const json_t *a;
    json_array_foreach(json_object_get(event, "attendees"), i, a)
    {
        if (ms_same(json_string_value(json_object_get(a, "type")), "resource")) {
            continue; /* a room */
        }
        json_t *p = person(json_object_get(a, "emailAddress"));
        if (p == NULL) {
            continue;
        }
        const char *email = json_string_value(json_object_get(p, "email"));
        if (!internal_address(ms, mailbox, email)) {
            outside = true;
            if (lead == NULL) {
                lead = json_deep_copy(p);
            }
        }
        json_object_set_new(p, "response", json_string(response_of(a)));
        if (ms_same(json_string_value(json_object_get(a, "type")), "optional")) {
            json_object_set_new(p, "optional", json_true());
        }
        json_array_append_new(attendees, p);
    }
    if (!outside) {
        json_decref(attendees);
        json_decref(lead);
        *skip_reason_out = "internal";
        return NULL;
    }
    if (lead != NULL) {
        /* the lead's name fields, split by the shared parser */
        const char *name = json_string_value(json_object_get(lead, "name"));
        char *copy = name != NULL ? strdup(name) : NULL;
        json_object_del(lead, "name");
        if (copy != NULL) {
            person_name_set_lead(lead, copy, strlen(copy), TEXT_MAX);
            free(copy);
        }
    }
    bool canceled = json_is_true(json_object_get(event, "isCancelled"));
    char starts_text[32], ends_text[32], occurred[32];
    ms_format_time(starts, starts_text);
    ms_format_time(ends, ends_text);
    int64_t modified =
        ms_parse_time(json_string_value(json_object_get(event, "lastModifiedDateTime")));
    ms_format_time(modified >= 0 ? modified : starts, occurred);
    json_t *meeting = json_pack("{s:s, s:s, s:s, s:o, s:s}", "external_id", id, "starts_at",
                                starts_text, "ends_at", ends_text, "attendees", attendees, "status",
                                canceled ? "canceled" : "scheduled");
    const char *subject = json_string_value(json_object_get(event, "subject"));
    if (meeting != NULL && subject != NULL && subject[0] != '\0' && strlen(subject) <= TEXT_MAX) {
        json_object_set_new(meeting, "title", json_string(subject));
    }
    const char *zone = json_string_value(json_object_get(event, "originalStartTimeZone"));
    const char *iana = ms_tz_iana(zone);
    if (meeting != NULL && iana != NULL) {
        json_object_set_new(meeting, "timezone", json_string(iana));
    }
    json_t *organizer = person(organizer_address);
    if (meeting != NULL && organizer != NULL) {
        json_object_set_new(meeting, "organizer", organizer);
    } else {
        json_decref(organizer);
    }
    const char *join =
        json_string_value(json_object_get(json_object_get(event, "onlineMeeting"), "joinUrl"));
    if (join == NULL) {
        join = json_string_value(json_object_get(event, "onlineMeetingUrl"));
    }
    if (meeting != NULL && join != NULL && join[0] != '\0' && strlen(join) <= TEXT_MAX) {
        json_object_set_new(meeting, "online_url", json_string(join));
    }
    const char *where =
        json_string_value(json_object_get(json_object_get(event, "location"), "displayName"));
    if (meeting != NULL && where != NULL && where[0] != '\0' && strlen(where) <= TEXT_MAX) {
        json_object_set_new(meeting, "location", json_string(where));
    }
    if (meeting != NULL && json_is_true(json_object_get(event, "isAllDay"))) {
        json_object_set_new(meeting, "all_day", json_true());
    }
    const char *change = json_string_value(json_object_get(event, "changeKey"));
    char stamp[24];
    snprintf(stamp, sizeof(stamp), "%lld", (long long)(modified >= 0 ? modified : starts));
    char *sid =
        ms_source_id(mailbox->key, id, change != NULL && change[0] != '\0' ? change : stamp);
    const char *event_type = canceled ? "meeting.canceled"
                             : known  ? "meeting.updated"
                                      : "meeting.scheduled";
    json_t *out = meeting != NULL && sid != NULL
                      ? json_pack("{s:s, s:s, s:s, s:o}", "type", event_type, "source_id", sid,
                                  "occurred_at", occurred, "meeting", meeting)
                      : NULL;
    free(sid);
    if (out == NULL) {
        json_decref(lead);
        return NULL;
    }
    if (lead != NULL) {
        json_object_set_new(out, "lead", lead);
    }
    json_object_set_new(out, "raw", json_deep_copy(event));
    return out;
}

/* The delta round --------------------------------------------------------------------- */

static char *calendar_initial_url(struct microsoft *ms, struct ms_mailbox *mailbox, int64_t now,
                                  void *arg)
{
    (void)arg;
    char from[32], to[32];
    ms_format_time(now - ms->window_past_ms, from);
    ms_format_time(now + ms->window_future_ms, to);
    size_t size = strlen(ms->graph_base) + strlen(mailbox->path) + 160;
    char *url = malloc(size);
    if (url != NULL) {
        snprintf(url, size, "%s%s/calendarView/delta?startDateTime=%s&endDateTime=%s",
                 ms->graph_base, mailbox->path, from, to);
    }
    return url;
}

static void meeting_key(const struct ms_mailbox *mailbox, const char *id, char key[64])
{
    char hash[17];
    ms_hash_key(mailbox->address, id, hash);
    snprintf(key, 64, "mtg.%s.%s", mailbox->key, hash);
}

/* A removed event: canceled when it was stored and its start is inside the window. */
static lh_status_t take_removal(struct microsoft *ms, lh_ctx_t *ctx, struct ms_mailbox *mailbox,
                                const char *id)
{
    const lh_host_t *host = ms->host;
    char key[64];
    meeting_key(mailbox, id, key);
    json_t *known = NULL;
    lh_status_t status = host->checkpoint_get(ctx, key, &known);
    if (status != LH_OK || known == NULL) {
        return status;
    }
    int64_t now = host->now_ms(ctx);
    int64_t starts = (int64_t)json_integer_value(json_object_get(known, "starts"));
    bool canceled = json_is_true(json_object_get(known, "canceled"));
    json_decref(known);
    if (canceled || starts < now - ms->window_past_ms || starts > now + ms->window_future_ms) {
        return LH_OK; /* left the window, or canceled already */
    }
    char starts_text[32], occurred[32];
    ms_format_time(starts, starts_text);
    ms_format_time(now, occurred);
    char *sid = ms_source_id(mailbox->key, id, "removed");
    json_t *event = sid != NULL
                        ? json_pack("{s:s, s:s, s:s, s:{s:s, s:s}}", "type", "meeting.canceled",
                                    "source_id", sid, "occurred_at", occurred, "meeting",
                                    "external_id", id, "status", "canceled")
                        : NULL;
    free(sid);
    json_t *mark = json_pack("{s:I, s:b}", "starts", (json_int_t)starts, "canceled", 1);
    if (event == NULL || mark == NULL) {
        json_decref(event);
        json_decref(mark);
        host->set_error(ctx, "out of memory");
        return LH_RETRY;
    }
    if (host->emit(ctx, event) != LH_OK) {
        host->counter_add(ctx, "events_skipped_total", "reason", "invalid", 1);
    }
    return host->checkpoint_put(ctx, key, mark);
}

static lh_status_t take_event(struct microsoft *ms, lh_ctx_t *ctx, struct ms_mailbox *mailbox,
                              const json_t *item, void *arg)
{
    (void)arg;
    const lh_host_t *host = ms->host;
    const char *id = json_string_value(json_object_get(item, "id"));
    if (id == NULL) {
        host->counter_add(ctx, "events_skipped_total", "reason", "no_id", 1);
        return LH_OK;
    }
    if (json_object_get(item, "@removed") != NULL) {
        return take_removal(ms, ctx, mailbox, id);
    }
    char key[64];
    meeting_key(mailbox, id, key);
    json_t *known = NULL;
    lh_status_t status = host->checkpoint_get(ctx, key, &known);
    if (status != LH_OK) {
        return status;
    }
    const char *skip = NULL;
    json_t *event = ms_calendar_map(ms, mailbox, item, known != NULL, &skip);
    json_decref(known);
    if (event == NULL) {
        host->counter_add(ctx, "events_skipped_total", "reason", skip != NULL ? skip : "memory", 1);
        return LH_OK;
    }
    const json_t *meeting = json_object_get(event, "meeting");
    int64_t starts = ms_parse_time(json_string_value(json_object_get(meeting, "starts_at")));
    bool canceled = ms_same(json_string_value(json_object_get(meeting, "status")), "canceled");
    json_t *mark = json_pack("{s:I, s:b}", "starts", (json_int_t)starts, "canceled", canceled);
    if (host->emit(ctx, event) != LH_OK) {
        host->counter_add(ctx, "events_skipped_total", "reason", "invalid", 1);
        json_decref(mark);
        return LH_OK;
    }
    if (mark == NULL) {
        host->set_error(ctx, "out of memory");
        return LH_RETRY;
    }
    return host->checkpoint_put(ctx, key, mark);
}

lh_status_t ms_calendar_poll(struct microsoft *ms, lh_ctx_t *ctx, struct ms_mailbox *mailbox,
                             int64_t *wait_out)
{
    char cursor_key[64];
    snprintf(cursor_key, sizeof(cursor_key), "cal.%s", mailbox->key);
    struct ms_delta delta = {.kind = MS_CALENDAR,
                             .cursor_key = cursor_key,
                             .initial_url = calendar_initial_url,
                             .item = take_event};
    lh_status_t status = ms_delta_run(ms, ctx, mailbox, &delta);
    *wait_out = delta.wait_ms;
    return status;
}
