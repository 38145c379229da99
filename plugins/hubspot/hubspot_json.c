/*
 * hubspot_json.c - pure mapping between leadhub and HubSpot: times, property text, the
 * lead <-> contact mapping, what changed in a contact or a deal, meeting properties, rate
 * limit delays and error texts. No host, no I/O: tests and fuzz targets call these
 * directly.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* timegm, strndup */
#endif

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hubspot.h"

#define DAY_MS (24LL * 60 * 60 * 1000)

static bool digits_only(const char *text, size_t len)
{
    if (len == 0) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (text[i] < '0' || text[i] > '9') {
            return false;
        }
    }
    return true;
}

/* Reads exactly n digits at *p, advancing it; -1 when they are not there. */
static int read_digits(const char **p, int n)
{
    int value = 0;
    for (int i = 0; i < n; i++) {
        if ((*p)[i] < '0' || (*p)[i] > '9') {
            return -1;
        }
        value = value * 10 + ((*p)[i] - '0');
    }
    *p += n;
    return value;
}

int hubspot_parse_time(const char *text, int64_t *ms_out)
{
    if (text == NULL) {
        return -1;
    }
    size_t len = strlen(text);
    if (digits_only(text, len)) {
        if (len > 15) { /* beyond year 33658: not a time */
            return -1;
        }
        *ms_out = (int64_t)strtoll(text, NULL, 10);
        return 0;
    }
    const char *p = text;
    int year = read_digits(&p, 4);
    if (year < 1970 || *p++ != '-') {
        return -1;
    }
    int month = read_digits(&p, 2);
    if (month < 1 || month > 12 || *p++ != '-') {
        return -1;
    }
    int day = read_digits(&p, 2);
    if (day < 1 || day > 31 || (*p != 'T' && *p != 't' && *p != ' ')) {
        return -1;
    }
    p++;
    int hour = read_digits(&p, 2);
    if (hour < 0 || hour > 23 || *p++ != ':') {
        return -1;
    }
    int minute = read_digits(&p, 2);
    if (minute < 0 || minute > 59) {
        return -1;
    }
    int second = 0;
    if (*p == ':') {
        p++;
        second = read_digits(&p, 2);
        if (second < 0 || second > 60) {
            return -1;
        }
    }
    int64_t millis = 0;
    if (*p == '.') {
        p++;
        int digits = 0;
        while (*p >= '0' && *p <= '9') {
            if (digits < 3) {
                millis = millis * 10 + (*p - '0');
            }
            digits++;
            p++;
        }
        if (digits == 0) {
            return -1;
        }
        for (; digits < 3; digits++) {
            millis *= 10;
        }
    }
    int64_t offset_minutes = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1;
        p++;
        int oh = read_digits(&p, 2);
        if (oh < 0 || oh > 23) {
            return -1;
        }
        if (*p == ':') {
            p++;
        }
        int om = read_digits(&p, 2);
        if (om < 0 || om > 59) {
            return -1;
        }
        offset_minutes = sign * (oh * 60 + om);
    } else {
        return -1;
    }
    if (*p != '\0') {
        return -1;
    }
    struct tm tm = {0};
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = minute;
    tm.tm_sec = second;
    time_t seconds = timegm(&tm);
    if (seconds == (time_t)-1) {
        return -1;
    }
    *ms_out = ((int64_t)seconds - offset_minutes * 60) * 1000 + millis;
    return 0;
}

void hubspot_format_time(int64_t ms, char *out)
{
    time_t seconds = (time_t)(ms / 1000);
    int millis = (int)(ms % 1000);
    if (millis < 0) {
        millis += 1000;
        seconds--;
    }
    struct tm tm;
    if (gmtime_r(&seconds, &tm) == NULL || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 0) {
        snprintf(out, 32, "1970-01-01T00:00:00.000Z");
        return;
    }
    /* the fields are in range; the compiler cannot know, hence the roomy buffer */
    char text[96];
    snprintf(text, sizeof(text), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
    snprintf(out, 32, "%.31s", text);
}

/* A trimmed copy of len bytes, or NULL when empty or holding U+0000. */
static char *trimmed_copy(const char *text, size_t len)
{
    if (memchr(text, '\0', len) != NULL) {
        return NULL;
    }
    while (len > 0 && isspace((unsigned char)*text)) {
        text++;
        len--;
    }
    while (len > 0 && isspace((unsigned char)text[len - 1])) {
        len--;
    }
    return len > 0 ? strndup(text, len) : NULL;
}

char *hubspot_value_text(const json_t *value)
{
    char buffer[64];
    if (json_is_string(value)) {
        return trimmed_copy(json_string_value(value), json_string_length(value));
    }
    if (json_is_integer(value)) {
        snprintf(buffer, sizeof(buffer), "%lld", (long long)json_integer_value(value));
        return strdup(buffer);
    }
    if (json_is_real(value)) {
        double d = json_real_value(value);
        if (d != d || d > 1e300 || d < -1e300) {
            return NULL;
        }
        snprintf(buffer, sizeof(buffer), "%.15g", d);
        return strdup(buffer);
    }
    if (json_is_boolean(value)) {
        return strdup(json_is_true(value) ? "true" : "false");
    }
    return NULL;
}

char *hubspot_normalize_email(const char *text)
{
    if (text == NULL) {
        return NULL;
    }
    while (isspace((unsigned char)*text)) {
        text++;
    }
    size_t len = strlen(text);
    while (len > 0 && isspace((unsigned char)text[len - 1])) {
        len--;
    }
    if (len == 0 || len > 254) {
        return NULL;
    }
    const char *at = memchr(text, '@', len);
    if (at == NULL || at == text || at == text + len - 1 ||
        memchr(at + 1, '@', len - (size_t)(at + 1 - text)) != NULL) {
        return NULL;
    }
    char *out = calloc(len + 1, 1);
    if (out == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c <= ' ' || c == 0x7f || c == ',' || c == '<' || c == '>') {
            free(out);
            return NULL;
        }
        out[i] = (char)tolower(c);
    }
    out[len] = '\0';
    return out;
}

bool hubspot_id_valid(const char *id)
{
    size_t len = id != NULL ? strlen(id) : 0;
    return len <= 20 && digits_only(id, len);
}

bool hubspot_id_from_json(const json_t *value, char *out)
{
    if (json_is_string(value)) {
        const char *text = json_string_value(value);
        if (strlen(text) == json_string_length(value) && hubspot_id_valid(text)) {
            snprintf(out, HUBSPOT_ID_MAX, "%s", text);
            return true;
        }
        return false;
    }
    if (json_is_integer(value) && json_integer_value(value) >= 0) {
        snprintf(out, HUBSPOT_ID_MAX, "%lld", (long long)json_integer_value(value));
        return true;
    }
    return false;
}

bool hubspot_same_value(const char *property, const char *a, const char *b)
{
    if (a == NULL || b == NULL) {
        return a == b;
    }
    while (isspace((unsigned char)*a)) {
        a++;
    }
    while (isspace((unsigned char)*b)) {
        b++;
    }
    size_t la = strlen(a), lb = strlen(b);
    while (la > 0 && isspace((unsigned char)a[la - 1])) {
        la--;
    }
    while (lb > 0 && isspace((unsigned char)b[lb - 1])) {
        lb--;
    }
    if (la != lb) {
        return false;
    }
    if (strcmp(property, "email") == 0) {
        return strncasecmp(a, b, la) == 0;
    }
    return memcmp(a, b, la) == 0;
}

/* The value of a mapped lead field ("title", "attributes.tier") in an event's lead. */
static const json_t *lead_field(const json_t *lead, const char *field)
{
    if (strncmp(field, "attributes.", 11) == 0) {
        return json_object_get(json_object_get(lead, "attributes"), field + 11);
    }
    return json_object_get(lead, field);
}

json_t *hubspot_contact_properties(const struct hubspot_mapping *mapping, const json_t *lead)
{
    json_t *properties = json_object();
    if (properties == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < mapping->field_count; i++) {
        const struct hubspot_field *f = &mapping->fields[i];
        char *text = hubspot_value_text(lead_field(lead, f->field));
        if (text == NULL) {
            continue;
        }
        if (strcmp(f->property, "email") == 0) {
            char *email = hubspot_normalize_email(text);
            free(text);
            text = email;
            if (text == NULL) {
                continue;
            }
        }
        if (json_object_set_new(properties, f->property, json_string(text)) != 0) {
            free(text);
            json_decref(properties);
            return NULL;
        }
        free(text);
    }
    return properties;
}

json_t *hubspot_contact_property_names(const struct hubspot_mapping *mapping)
{
    json_t *names = json_array();
    json_t *seen = json_object();
    if (names == NULL || seen == NULL) {
        json_decref(names);
        json_decref(seen);
        return NULL;
    }
    for (size_t i = 0; i < mapping->field_count + mapping->pulled_count + 1; i++) {
        const char *name = i < mapping->field_count ? mapping->fields[i].property
                           : i < mapping->field_count + mapping->pulled_count
                               ? mapping->pulled[i - mapping->field_count]
                               : "lastmodifieddate";
        if (json_object_get(seen, name) == NULL &&
            (json_object_set_new(seen, name, json_true()) != 0 ||
             json_array_append_new(names, json_string(name)) != 0)) {
            json_decref(seen);
            json_decref(names);
            return NULL;
        }
    }
    json_decref(seen);
    return names;
}

/* The modification time of a HubSpot object: `property` (lastmodifieddate,
 * hs_lastmodifieddate), else updatedAt. */
int hubspot_object_modified(const json_t *object, const char *property, int64_t *ms_out)
{
    const json_t *properties = json_object_get(object, "properties");
    const char *text = json_string_value(json_object_get(properties, property));
    if (text != NULL && hubspot_parse_time(text, ms_out) == 0) {
        return 0;
    }
    text = json_string_value(json_object_get(object, "updatedAt"));
    return text != NULL && hubspot_parse_time(text, ms_out) == 0 ? 0 : -1;
}

/* Sets lead[field] (or lead.attributes[name]) to value. */
static int set_lead_field(json_t *lead, const char *field, const char *value)
{
    if (strncmp(field, "attributes.", 11) == 0) {
        json_t *attributes = json_object_get(lead, "attributes");
        if (attributes == NULL) {
            attributes = json_object();
            if (json_object_set_new(lead, "attributes", attributes) != 0) {
                return -1;
            }
        }
        return json_object_set_new(attributes, field + 11, json_string(value));
    }
    return json_object_set_new(lead, field, json_string(value));
}

/* One property of a contact against what was seen and written. */
struct observed {
    const char *field;    /* lead field it lands in */
    const char *property; /* HubSpot property */
};

static void observe_property(const struct observed *o, const json_t *properties, const json_t *seen,
                             const json_t *written, json_t *seen_out, json_t *lead,
                             struct hubspot_contact_change *out)
{
    const json_t *raw = json_object_get(properties, o->property);
    if (!json_is_string(raw)) {
        return; /* null: empty in HubSpot; a cleared value is not carried back */
    }
    char *value = trimmed_copy(json_string_value(raw), json_string_length(raw));
    if (value == NULL) {
        out->dropped += json_string_length(raw) > 0 &&
                        strlen(json_string_value(raw)) != json_string_length(raw);
        return;
    }
    if (strlen(value) > HUBSPOT_TEXT_MAX) {
        out->dropped++;
        free(value);
        return;
    }
    if (strcmp(o->property, "email") == 0) {
        char *email = hubspot_normalize_email(value);
        free(value);
        if (email == NULL) {
            out->dropped++;
            return;
        }
        value = email;
    }
    json_object_set_new(seen_out, o->property, json_string(value));
    const json_t *seen_props = json_object_get(seen, "p");
    const char *before = json_string_value(json_object_get(seen_props, o->property));
    bool is_email = strcmp(o->property, "email") == 0;
    bool changed = before == NULL || !hubspot_same_value(o->property, before, value);
    if (changed) {
        const json_t *w = json_object_get(json_object_get(written, "p"), o->property);
        const char *wrote = json_string_value(json_object_get(w, "v"));
        json_int_t wrote_at = json_integer_value(json_object_get(w, "at"));
        json_int_t seen_at = seen != NULL ? json_integer_value(json_object_get(seen, "m")) : -1;
        if (wrote != NULL && hubspot_same_value(o->property, wrote, value) && wrote_at > seen_at) {
            out->suppressed++;
            changed = false;
        }
    }
    /* the email identifies the lead: carried whenever known */
    if (changed || is_email) {
        if (set_lead_field(lead, o->field, value) == 0 && changed) {
            out->changed++;
        }
    }
    free(value);
}

int hubspot_contact_observe(const struct hubspot_mapping *mapping, const json_t *contact,
                            const json_t *seen, const json_t *written,
                            struct hubspot_contact_change *out)
{
    memset(out, 0, sizeof(*out));
    if (!json_is_object(contact) ||
        !hubspot_id_from_json(json_object_get(contact, "id"), out->id) ||
        hubspot_object_modified(contact, "lastmodifieddate", &out->modified_ms) != 0) {
        memset(out, 0, sizeof(*out));
        return -1;
    }
    if (!json_is_object(seen)) {
        seen = NULL;
    }
    const json_t *properties = json_object_get(contact, "properties");
    json_t *lead = json_pack("{s:s}", "external_id", out->id);
    json_t *seen_props = json_object();
    out->seen = json_pack("{s:I, s:o}", "m", (json_int_t)out->modified_ms, "p", seen_props);
    if (lead == NULL || seen_props == NULL || out->seen == NULL) {
        json_decref(lead);
        hubspot_contact_change_clear(out);
        return -1;
    }
    if (json_is_object(properties)) {
        for (size_t i = 0; i < mapping->field_count + mapping->pulled_count; i++) {
            struct observed o;
            char attribute[160];
            if (i < mapping->field_count) {
                o = (struct observed){mapping->fields[i].field, mapping->fields[i].property};
            } else {
                const char *name = mapping->pulled[i - mapping->field_count];
                snprintf(attribute, sizeof(attribute), "attributes.%s", name);
                o = (struct observed){attribute, name};
            }
            observe_property(&o, properties, seen, written, seen_props, lead, out);
        }
    }
    if (out->changed > 0) {
        out->lead = lead;
    } else {
        json_decref(lead);
    }
    return 0;
}

void hubspot_contact_change_clear(struct hubspot_contact_change *change)
{
    json_decref(change->lead);
    json_decref(change->seen);
    change->lead = NULL;
    change->seen = NULL;
}

/* A property as text fit for an event, or NULL. */
char *hubspot_property_text(const json_t *properties, const char *name)
{
    const json_t *value = json_object_get(properties, name);
    char *text = json_is_string(value) ? hubspot_value_text(value) : NULL;
    if (text != NULL && strlen(text) > HUBSPOT_TEXT_MAX) {
        free(text);
        return NULL;
    }
    return text;
}

/* HubSpot's amount string as a JSON number; NULL when it is not a plain decimal. */
static json_t *amount_number(const char *text)
{
    if (text == NULL || *text == '\0' || strlen(text) > 40) {
        return NULL;
    }
    const char *p = text + (*text == '-');
    bool dot = false;
    size_t digits = 0;
    for (; *p != '\0'; p++) {
        if (*p == '.' && !dot) {
            dot = true;
        } else if (*p >= '0' && *p <= '9') {
            digits++;
        } else {
            return NULL;
        }
    }
    if (digits == 0) {
        return NULL;
    }
    if (!dot && digits <= 18) {
        return json_integer((json_int_t)strtoll(text, NULL, 10));
    }
    return json_real(strtod(text, NULL));
}

int hubspot_deal_observe(const json_t *deal, const json_t *seen, struct hubspot_deal_change *out)
{
    memset(out, 0, sizeof(*out));
    if (!json_is_object(deal) || !hubspot_id_from_json(json_object_get(deal, "id"), out->id) ||
        hubspot_object_modified(deal, "hs_lastmodifieddate", &out->modified_ms) != 0) {
        memset(out, 0, sizeof(*out));
        return -1;
    }
    if (!json_is_object(seen)) {
        seen = NULL;
    }
    const json_t *properties = json_object_get(deal, "properties");
    char *stage = hubspot_property_text(properties, "dealstage");
    char *pipeline = hubspot_property_text(properties, "pipeline");
    out->seen = json_pack("{s:I, s:s*, s:s*}", "m", (json_int_t)out->modified_ms, "stage", stage,
                          "pipeline", pipeline);
    const char *seen_stage = json_string_value(json_object_get(seen, "stage"));
    const char *seen_pipeline = json_string_value(json_object_get(seen, "pipeline"));
    bool changed =
        stage != NULL &&
        (seen_stage == NULL || strcmp(seen_stage, stage) != 0 ||
         (pipeline != NULL && seen_pipeline != NULL && strcmp(seen_pipeline, pipeline) != 0));
    if (changed && out->seen != NULL) {
        char *name = hubspot_property_text(properties, "dealname");
        char *amount = hubspot_property_text(properties, "amount");
        char *owner = hubspot_property_text(properties, "hubspot_owner_id");
        json_t *number = amount_number(amount);
        out->data = json_pack("{s:s, s:s*, s:s*, s:s, s:s*, s:s*, s:o*, s:s*}", "deal_id", out->id,
                              "deal_name", name, "pipeline", pipeline, "stage", stage,
                              "previous_stage", seen_stage, "previous_pipeline", seen_pipeline,
                              "amount", number, "owner_id", owner);
        free(name);
        free(amount);
        free(owner);
    }
    free(stage);
    free(pipeline);
    if (out->seen == NULL || (changed && out->data == NULL)) {
        hubspot_deal_change_clear(out);
        return -1;
    }
    return 0;
}

void hubspot_deal_change_clear(struct hubspot_deal_change *change)
{
    json_decref(change->data);
    json_decref(change->seen);
    change->data = NULL;
    change->seen = NULL;
}

const char *hubspot_meeting_outcome(const char *type, const json_t *meeting,
                                    const json_t *remembered)
{
    const char *status = json_string_value(json_object_get(meeting, "status"));
    if ((type != NULL && strcmp(type, "meeting.canceled") == 0) ||
        (status != NULL && strcmp(status, "canceled") == 0)) {
        return "CANCELED";
    }
    /* the outcomes of the event model (docs/events.md) */
    static const struct {
        const char *status;
        const char *outcome;
    } outcomes[] = {{"held", "COMPLETED"}, {"no_show", "NO_SHOW"}, {"rescheduled", "RESCHEDULED"}};
    for (size_t i = 0; status != NULL && i < sizeof(outcomes) / sizeof(outcomes[0]); i++) {
        if (strcmp(status, outcomes[i].status) == 0) {
            return outcomes[i].outcome;
        }
    }
    if (type == NULL || strcmp(type, "meeting.updated") != 0 || !json_is_object(remembered)) {
        return "SCHEDULED";
    }
    const char *before = json_string_value(json_object_get(remembered, "starts_at"));
    const char *now = json_string_value(json_object_get(meeting, "starts_at"));
    int64_t before_ms, now_ms;
    if (before != NULL && now != NULL && hubspot_parse_time(before, &before_ms) == 0 &&
        hubspot_parse_time(now, &now_ms) == 0 && before_ms != now_ms) {
        return "RESCHEDULED";
    }
    const char *outcome = json_string_value(json_object_get(remembered, "outcome"));
    return outcome != NULL && strcmp(outcome, "RESCHEDULED") == 0 ? "RESCHEDULED" : "SCHEDULED";
}

/* Copies meeting[key] (a string) into properties[property] when present; -1 when out of
 * memory. */
static int copy_string(json_t *properties, const char *property, const json_t *meeting,
                       const char *key)
{
    const json_t *value = json_object_get(meeting, key);
    if (!json_is_string(value)) {
        return 0;
    }
    char *text = hubspot_value_text(value);
    int rc = 0;
    if (text != NULL) {
        rc = json_object_set_new(properties, property, json_string(text));
    } else if (json_string_length(value) > 0 &&
               strlen(json_string_value(value)) == json_string_length(value)) {
        /* not blank, no U+0000: hubspot_value_text failed for want of memory */
        for (size_t i = 0; i < json_string_length(value); i++) {
            if (!isspace((unsigned char)json_string_value(value)[i])) {
                rc = -1;
                break;
            }
        }
    }
    free(text);
    return rc;
}

/* A time member as HubSpot's ISO text, or NULL when absent or unreadable. */
static bool time_member(const json_t *object, const char *key, char *out)
{
    int64_t ms;
    const char *text = json_string_value(json_object_get(object, key));
    if (text == NULL || hubspot_parse_time(text, &ms) != 0) {
        return false;
    }
    hubspot_format_time(ms, out);
    return true;
}

json_t *hubspot_meeting_properties(const json_t *event, const char *outcome)
{
    const json_t *meeting = json_object_get(event, "meeting");
    json_t *properties = json_object();
    if (properties == NULL) {
        return NULL;
    }
    char starts[32], ends[32], occurred[32];
    int failed = 0;
    bool has_start = time_member(meeting, "starts_at", starts);
    if (has_start) {
        failed |= json_object_set_new(properties, "hs_meeting_start_time", json_string(starts));
    }
    if (time_member(meeting, "ends_at", ends)) {
        failed |= json_object_set_new(properties, "hs_meeting_end_time", json_string(ends));
    }
    /* hs_timestamp is required: the start, else when the event happened */
    if (has_start) {
        failed |= json_object_set_new(properties, "hs_timestamp", json_string(starts));
    } else if (time_member(event, "occurred_at", occurred)) {
        failed |= json_object_set_new(properties, "hs_timestamp", json_string(occurred));
    }
    failed |= copy_string(properties, "hs_meeting_title", meeting, "title");
    failed |= copy_string(properties, "hs_meeting_location", meeting, "location");
    failed |= copy_string(properties, "hs_meeting_external_url", meeting, "online_url");
    failed |= json_object_set_new(properties, "hs_meeting_outcome", json_string(outcome));
    if (failed != 0) {
        json_decref(properties);
        return NULL; /* out of memory: a meeting without a required property is no use */
    }
    return properties;
}

int64_t hubspot_rate_limit_delay(const char *policy, int64_t retry_after_ms, int64_t interval_ms,
                                 int64_t now_ms)
{
    if (retry_after_ms >= 0) {
        return retry_after_ms;
    }
    if (policy != NULL && strcasecmp(policy, "DAILY") == 0) {
        /* HubSpot resets the daily limit at midnight in the account's time zone, which the
         * API does not tell: midnight UTC is only right for UTC accounts, so ask again
         * within the hour rather than hold a day too long */
        int64_t until_midnight = (now_ms / DAY_MS + 1) * DAY_MS - now_ms;
        return until_midnight < HUBSPOT_DAILY_RECHECK_MS ? until_midnight
                                                         : HUBSPOT_DAILY_RECHECK_MS;
    }
    if (interval_ms > 0 && interval_ms <= HUBSPOT_INTERVAL_MAX_MS) {
        return interval_ms; /* one window of the rolling limit, as HubSpot states it */
    }
    if (policy != NULL && strcasecmp(policy, "SECONDLY") == 0) {
        return 1000;
    }
    return 10000; /* TEN_SECONDLY_ROLLING, and a policy HubSpot did not name: one window */
}

/* Appends at most `room` bytes of text to out (at *used), control characters made
 * spaces, never ending inside a UTF-8 sequence; returns false when it had to cut. */
static bool append_clean(char *out, size_t size, size_t *used, const char *text, size_t len,
                         size_t room)
{
    size_t i = 0;
    while (i < len && *used + 1 < size && room > 0) {
        unsigned char c = (unsigned char)text[i];
        size_t seq = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : 4;
        if ((c & 0xc0) == 0x80) {
            seq = 1; /* a stray continuation byte: copied alone */
        }
        if (seq > room || *used + seq + 1 > size || i + seq > len) {
            break;
        }
        for (size_t k = 0; k < seq; k++) {
            unsigned char b = (unsigned char)text[i + k];
            out[(*used)++] = (char)(b < 0x20 || b == 0x7f ? ' ' : b);
        }
        i += seq;
        room -= seq;
    }
    out[*used] = '\0';
    return i == len;
}

void hubspot_error_text(const char *body, size_t len, char *out, size_t size)
{
    size_t used = 0;
    out[0] = '\0';
    if (size == 0) {
        return;
    }
    json_t *parsed = body != NULL && len > 0 ? json_loadb(body, len, 0, NULL) : NULL;
    const char *category = json_string_value(json_object_get(parsed, "category"));
    const json_t *message = json_object_get(parsed, "message");
    if (category == NULL) {
        category = json_string_value(json_object_get(parsed, "policyName"));
    }
    if (category != NULL) {
        append_clean(out, size, &used, category, strlen(category), 64);
        append_clean(out, size, &used, ": ", 2, 2);
    }
    bool whole;
    if (json_is_string(message)) {
        whole = append_clean(out, size, &used, json_string_value(message),
                             json_string_length(message), HUBSPOT_MESSAGE_MAX);
    } else if (body != NULL && len > 0) {
        whole = append_clean(out, size, &used, body, len, HUBSPOT_MESSAGE_MAX);
    } else {
        whole = append_clean(out, size, &used, "(empty body)", 12, 12);
    }
    if (!whole) {
        append_clean(out, size, &used, "...", 3, 3);
    }
    json_decref(parsed);
}

bool hubspot_category_retryable(const char *category)
{
    static const char *const retryable[] = {
        "RATE_LIMIT", "RATE_LIMITS", "INTERNAL_ERROR", "SERVICE_UNAVAILABLE",
        "TIMEOUT",    "LOCKED",      "CONFLICT_RETRY",
    };
    if (category == NULL) {
        return false;
    }
    for (size_t i = 0; i < sizeof(retryable) / sizeof(retryable[0]); i++) {
        if (strcmp(category, retryable[i]) == 0) {
            return true;
        }
    }
    return false;
}
