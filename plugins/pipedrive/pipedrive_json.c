/*
 * pipedrive_json.c - pure mapping between leadhub's events and Pipedrive's v2 objects: no
 * host, no I/O (the fuzz target drives these).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strdup, strndup */
#endif

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "person_name.h"
#include "pipedrive.h"

char *pipedrive_normalize_email(const char *text)
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
    for (size_t i = 0; out != NULL && i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c <= ' ' || c == 0x7f || c == ',' || c == '<' || c == '>') {
            free(out);
            return NULL;
        }
        out[i] = (char)tolower(c);
    }
    return out;
}

bool pipedrive_id_text(const json_t *value, char out[PIPEDRIVE_ID_MAX])
{
    out[0] = '\0';
    if (json_is_integer(value)) {
        if (json_integer_value(value) <= 0) {
            return false;
        }
        snprintf(out, PIPEDRIVE_ID_MAX, "%lld", (long long)json_integer_value(value));
        return true;
    }
    const char *text = json_string_value(value);
    size_t len = text != NULL ? strlen(text) : 0;
    if (len == 0 || len > 19 || len != json_string_length(value)) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (text[i] < '0' || text[i] > '9') {
            return false;
        }
    }
    if (text[0] == '0') {
        return false;
    }
    memcpy(out, text, len + 1);
    return true;
}

bool pipedrive_time(const json_t *value, int64_t *ms_out)
{
    const char *text = json_string_value(value);
    return text != NULL && lh_time_parse_iso8601(text, NULL, ms_out) == 0;
}

int pipedrive_since_text(int64_t ms, char out[LH_TIME_TEXT_SIZE])
{
    int64_t floored = ms >= 0 ? ms - ms % 1000 : ms - (1000 + ms % 1000) % 1000;
    if (lh_time_format(floored, out) != 0) {
        return -1;
    }
    char *dot = strchr(out, '.');
    if (dot != NULL) {
        memcpy(dot, "Z", 2);
    }
    return 0;
}

/* The address of one entry of a person's emails: {"value": ...} or a plain string. */
static const char *email_value(const json_t *entry)
{
    return json_is_object(entry) ? json_string_value(json_object_get(entry, "value"))
                                 : json_string_value(entry);
}

bool pipedrive_person_has_email(const json_t *person, const char *email)
{
    size_t i;
    const json_t *entry;
    json_array_foreach(json_object_get(person, "emails"), i, entry)
    {
        char *normalized = pipedrive_normalize_email(email_value(entry));
        bool same = normalized != NULL && email != NULL && strcasecmp(normalized, email) == 0;
        free(normalized);
        if (same) {
            return true;
        }
    }
    return false;
}

char *pipedrive_person_email(const json_t *person)
{
    const json_t *emails = json_object_get(person, "emails");
    size_t i;
    const json_t *entry;
    json_array_foreach(emails, i, entry)
    {
        if (json_is_true(json_object_get(entry, "primary"))) {
            char *email = pipedrive_normalize_email(email_value(entry));
            if (email != NULL) {
                return email;
            }
        }
    }
    json_array_foreach(emails, i, entry)
    {
        char *email = pipedrive_normalize_email(email_value(entry));
        if (email != NULL) {
            return email;
        }
    }
    return NULL;
}

/* A lead field's text ("title", "attributes.tier"): a string, or a number printed. NULL
 * when absent or empty. Malloc'd. */
static char *lead_value(const json_t *lead, const char *field)
{
    const json_t *value = strncmp(field, "attributes.", 11) == 0
                              ? json_object_get(json_object_get(lead, "attributes"), field + 11)
                              : json_object_get(lead, field);
    char number[64];
    if (json_is_integer(value)) {
        snprintf(number, sizeof(number), "%lld", (long long)json_integer_value(value));
        return strdup(number);
    }
    if (json_is_real(value)) {
        snprintf(number, sizeof(number), "%.17g", json_real_value(value));
        return strdup(number);
    }
    const char *text = json_string_value(value);
    return text != NULL && text[0] != '\0' ? strdup(text) : NULL;
}

static const struct pipedrive_field *mapped(const struct pipedrive_mapping *mapping,
                                            enum pipedrive_target target)
{
    for (size_t i = 0; i < mapping->count; i++) {
        if (mapping->fields[i].target == target) {
            return &mapping->fields[i];
        }
    }
    return NULL;
}

const char *pipedrive_lead_company(const struct pipedrive_mapping *mapping, const json_t *lead)
{
    const struct pipedrive_field *org = mapped(mapping, PD_ORG);
    if (org == NULL) {
        return NULL;
    }
    const char *text = json_string_value(json_object_get(lead, org->field));
    return text != NULL && text[0] != '\0' ? text : NULL;
}

/* A name part of the lead, else of the person it updates; NULL when neither has one. */
static const char *name_part(const json_t *lead, const json_t *current, const char *key)
{
    const char *text = json_string_value(json_object_get(lead, key));
    if (text == NULL || text[0] == '\0') {
        text = json_string_value(json_object_get(current, key));
    }
    return text != NULL && text[0] != '\0' ? text : NULL;
}

/* The name a lead gives a person: "First Last" (either alone), a part the lead lacks taken
 * from the person it updates (a lead.updated with only a new last name keeps the first);
 * NULL when the lead names neither. Malloc'd. */
static char *lead_name(const json_t *lead, const json_t *current)
{
    if (name_part(lead, NULL, "first_name") == NULL && name_part(lead, NULL, "last_name") == NULL) {
        return NULL;
    }
    const char *first = name_part(lead, current, "first_name");
    const char *last = name_part(lead, current, "last_name");
    char *name = NULL;
    if (asprintf(&name, "%s%s%s", first != NULL ? first : "", first && last ? " " : "",
                 last != NULL ? last : "") < 0) {
        return NULL;
    }
    return name;
}

/* Adds {"value", "primary", "label"} to a list that lacks the value (a PATCH replaces the
 * whole list: the person's own entries are kept). Returns 1 when added, 0 when present. */
static int list_add(json_t *list, const char *value, bool is_email)
{
    size_t i;
    const json_t *entry;
    json_array_foreach(list, i, entry)
    {
        const char *have = email_value(entry);
        char *normalized = is_email ? pipedrive_normalize_email(have) : NULL;
        bool same = is_email ? normalized != NULL && strcmp(normalized, value) == 0
                             : have != NULL && strcmp(have, value) == 0;
        free(normalized);
        if (same) {
            return 0;
        }
    }
    json_array_append_new(list, json_pack("{s:s, s:b, s:s}", "value", value, "primary",
                                          json_array_size(list) == 0, "label", "work"));
    return 1;
}

/* A copy of a person's list (emails, phones) as {"value","primary","label"} objects. */
static json_t *list_copy(const json_t *list)
{
    json_t *copy = json_array();
    size_t i;
    const json_t *entry;
    json_array_foreach(list, i, entry)
    {
        const char *value = email_value(entry);
        if (value == NULL) {
            continue;
        }
        const char *label = json_string_value(json_object_get(entry, "label"));
        json_array_append_new(copy, json_pack("{s:s, s:b, s:s}", "value", value, "primary",
                                              json_is_true(json_object_get(entry, "primary")),
                                              "label", label != NULL ? label : "work"));
    }
    return copy;
}

json_t *pipedrive_person_body(const struct pipedrive_mapping *mapping, const json_t *lead,
                              const char *email, const json_t *current)
{
    json_t *body = json_object();
    if (body == NULL) {
        return NULL;
    }
    char *name = lead_name(lead, current);
    if (name == NULL && current == NULL && email != NULL) {
        name = strndup(email, strcspn(email, "@")); /* Pipedrive requires a name */
    }
    const char *have_name = json_string_value(json_object_get(current, "name"));
    if (name != NULL && (have_name == NULL || strcmp(have_name, name) != 0)) {
        json_object_set_new(body, "name", json_string(name));
    }
    free(name);
    if (email != NULL) {
        json_t *emails = list_copy(json_object_get(current, "emails"));
        if (list_add(emails, email, true)) {
            json_object_set_new(body, "emails", emails);
        } else {
            json_decref(emails);
        }
    }
    const struct pipedrive_field *phone_field = mapped(mapping, PD_PHONE);
    char *phone = phone_field != NULL ? lead_value(lead, phone_field->field) : NULL;
    if (phone != NULL) {
        json_t *phones = list_copy(json_object_get(current, "phones"));
        if (list_add(phones, phone, false)) {
            json_object_set_new(body, "phones", phones);
        } else {
            json_decref(phones);
        }
    }
    free(phone);
    json_t *custom = json_object();
    const json_t *have_custom = json_object_get(current, "custom_fields");
    for (size_t i = 0; i < mapping->count; i++) {
        const struct pipedrive_field *f = &mapping->fields[i];
        if (f->target != PD_CUSTOM) {
            continue;
        }
        char *value = lead_value(lead, f->field);
        const char *have = json_string_value(json_object_get(have_custom, f->key));
        if (value != NULL && (have == NULL || strcmp(have, value) != 0)) {
            json_object_set_new(custom, f->key, json_string(value));
        }
        free(value);
    }
    if (json_object_size(custom) > 0) {
        json_object_set_new(body, "custom_fields", custom);
    } else {
        json_decref(custom);
    }
    return body;
}

/* Sets key to text when it is usable in an event (1..PIPEDRIVE_TEXT_MAX bytes, no NUL). */
static void set_text(json_t *object, const char *key, const json_t *value)
{
    const char *text = json_string_value(value);
    if (text != NULL && text[0] != '\0' && json_string_length(value) == strlen(text) &&
        strlen(text) <= PIPEDRIVE_TEXT_MAX) {
        json_object_set_new(object, key, json_string(text));
    }
}

/* The primary (else first) value of a person's phones. */
static const json_t *primary_value(const json_t *list)
{
    size_t i;
    const json_t *entry;
    json_array_foreach(list, i, entry)
    {
        if (json_is_true(json_object_get(entry, "primary"))) {
            return json_object_get(entry, "value");
        }
    }
    entry = json_array_get(list, 0);
    return json_is_object(entry) ? json_object_get(entry, "value") : entry;
}

json_t *pipedrive_person_lead(const struct pipedrive_mapping *mapping, const json_t *person,
                              const char *org_name)
{
    char id[PIPEDRIVE_ID_MAX];
    if (!json_is_object(person) || !pipedrive_id_text(json_object_get(person, "id"), id)) {
        return NULL;
    }
    json_t *lead = json_pack("{s:s}", "external_id", id);
    char *email = pipedrive_person_email(person);
    if (email != NULL) {
        json_object_set_new(lead, "email", json_string(email));
        free(email);
    }
    set_text(lead, "first_name", json_object_get(person, "first_name"));
    set_text(lead, "last_name", json_object_get(person, "last_name"));
    const char *name = json_string_value(json_object_get(person, "name"));
    if (json_object_get(lead, "first_name") == NULL && json_object_get(lead, "last_name") == NULL &&
        name != NULL && person_name_set_lead(lead, name, strlen(name), PIPEDRIVE_TEXT_MAX) < 0) {
        json_decref(lead);
        return NULL;
    }
    const struct pipedrive_field *phone = mapped(mapping, PD_PHONE);
    if (phone != NULL && strncmp(phone->field, "attributes.", 11) != 0) {
        set_text(lead, phone->field, primary_value(json_object_get(person, "phones")));
    }
    const struct pipedrive_field *org = mapped(mapping, PD_ORG);
    if (org != NULL && org_name != NULL && strncmp(org->field, "attributes.", 11) != 0) {
        json_t *text = json_string(org_name);
        set_text(lead, org->field, text);
        json_decref(text);
    }
    json_t *attributes = json_object();
    const json_t *custom = json_object_get(person, "custom_fields");
    for (size_t i = 0; i < mapping->count; i++) {
        const struct pipedrive_field *f = &mapping->fields[i];
        const json_t *value = f->target == PD_CUSTOM ? json_object_get(custom, f->key) : NULL;
        if (value == NULL || (!json_is_string(value) && !json_is_number(value))) {
            continue;
        }
        if (strncmp(f->field, "attributes.", 11) == 0) {
            json_object_set(attributes, f->field + 11, (json_t *)value);
        } else if (json_is_string(value)) {
            set_text(lead, f->field, value);
        }
    }
    const json_t *labels = json_object_get(person, "label_ids");
    if (json_is_array(labels)) {
        json_t *ids = json_array();
        size_t i;
        const json_t *label;
        json_array_foreach(labels, i, label)
        {
            if (json_is_integer(label)) {
                json_array_append(ids, (json_t *)label);
            }
        }
        json_object_set_new(attributes, "pipedrive_labels", ids);
    }
    if (json_object_size(attributes) > 0) {
        json_object_set_new(lead, "attributes", attributes);
    } else {
        json_decref(attributes);
    }
    return lead;
}

/* An id member as text into out, "" when absent or not an id. */
static const char *id_or_null(const json_t *object, const char *key, char out[PIPEDRIVE_ID_MAX])
{
    return pipedrive_id_text(json_object_get(object, key), out) ? out : NULL;
}

int pipedrive_deal_data(const json_t *deal, const json_t *seen, const json_t *stages,
                        json_t **data_out, json_t **seen_out)
{
    *data_out = NULL;
    *seen_out = NULL;
    char id[PIPEDRIVE_ID_MAX], stage_buf[PIPEDRIVE_ID_MAX], pipeline_buf[PIPEDRIVE_ID_MAX],
        owner_buf[PIPEDRIVE_ID_MAX];
    if (!json_is_object(deal) || !pipedrive_id_text(json_object_get(deal, "id"), id)) {
        return -1;
    }
    const char *stage = id_or_null(deal, "stage_id", stage_buf);
    const char *pipeline = id_or_null(deal, "pipeline_id", pipeline_buf);
    const char *owner = id_or_null(deal, "owner_id", owner_buf);
    const char *status = json_string_value(json_object_get(deal, "status"));
    *seen_out = json_pack("{s:s?, s:s?, s:s?}", "stage", stage, "pipeline", pipeline, "status",
                          status);
    const char *seen_stage = json_string_value(json_object_get(seen, "stage"));
    const char *seen_pipeline = json_string_value(json_object_get(seen, "pipeline"));
    const char *seen_status = json_string_value(json_object_get(seen, "status"));
#define SAME(a, b) (((a) == NULL && (b) == NULL) || ((a) != NULL && (b) != NULL && strcmp(a, b) == 0))
    if (seen != NULL && SAME(stage, seen_stage) && SAME(pipeline, seen_pipeline) &&
        SAME(status, seen_status)) {
        return 0;
    }
#undef SAME
    const json_t *value = json_object_get(deal, "value");
    const json_t *stage_info = stage != NULL ? json_object_get(stages, stage) : NULL;
    json_t *data = json_pack("{s:s}", "deal_id", id);
    set_text(data, "deal_name", json_object_get(deal, "title"));
    if (pipeline != NULL) {
        json_object_set_new(data, "pipeline", json_string(pipeline));
    }
    if (stage != NULL) {
        json_object_set_new(data, "stage", json_string(stage));
    }
    if (seen_stage != NULL) {
        json_object_set_new(data, "previous_stage", json_string(seen_stage));
    }
    if (seen_pipeline != NULL) {
        json_object_set_new(data, "previous_pipeline", json_string(seen_pipeline));
    }
    if (json_is_number(value)) {
        json_object_set_new(data, "amount", json_real(json_number_value(value)));
    }
    if (owner != NULL) {
        json_object_set_new(data, "owner_id", json_string(owner));
    }
    set_text(data, "status", json_object_get(deal, "status"));
    set_text(data, "currency", json_object_get(deal, "currency"));
    set_text(data, "stage_name", json_object_get(stage_info, "name"));
    *data_out = data;
    return 0;
}

/* "YYYY-MM-DD" and "HH:MM" of ms in UTC. */
static void date_time(int64_t ms, char date[16], char time[8])
{
    char text[LH_TIME_TEXT_SIZE];
    if (lh_time_format(ms, text) != 0) {
        date[0] = time[0] = '\0';
        return;
    }
    snprintf(date, 16, "%.10s", text);
    snprintf(time, 8, "%.5s", text + 11);
}

json_t *pipedrive_activity_body(const char *type, const json_t *meeting, const char *lead_name,
                                const char *marker)
{
    const char *title = json_string_value(json_object_get(meeting, "title"));
    const char *status = json_string_value(json_object_get(meeting, "status"));
    /* the event type says what happened; a meeting.updated may carry a CRM's outcome */
    const char *what = strcmp(type, "meeting.updated") == 0 && status != NULL ? status
                                                                                : type + 8;
    bool done = strcmp(what, "held") == 0 || strcmp(what, "no_show") == 0 ||
                strcmp(what, "canceled") == 0;
    const char *prefix = strcmp(what, "no_show") == 0    ? "No-show: "
                         : strcmp(what, "canceled") == 0 ? "Canceled: "
                                                         : "";
    char *subject = NULL;
    int n = title != NULL && title[0] != '\0'
                ? asprintf(&subject, "%s%s", prefix, title)
                : asprintf(&subject, "%sMeeting with %s", prefix,
                           lead_name != NULL ? lead_name : "a lead");
    if (n < 0) {
        return NULL;
    }
    json_t *body = json_pack("{s:s, s:s, s:b}", "subject", subject, "type", "meeting", "done", done);
    free(subject);
    if (body == NULL) {
        return NULL;
    }
    int64_t starts = 0, ends = 0;
    if (pipedrive_time(json_object_get(meeting, "starts_at"), &starts)) {
        char date[16], time[8];
        date_time(starts, date, time);
        json_object_set_new(body, "due_date", json_string(date));
        json_object_set_new(body, "due_time", json_string(time));
        if (pipedrive_time(json_object_get(meeting, "ends_at"), &ends) && ends >= starts) {
            int64_t minutes = (ends - starts) / 60000;
            /* HH:MM holds at most 99:59: a longer meeting says so */
            int hours = minutes / 60 > 99 ? 99 : (int)(minutes / 60);
            int rest = minutes / 60 > 99 ? 59 : (int)(minutes % 60);
            char duration[32];
            snprintf(duration, sizeof(duration), "%02d:%02d", hours, rest);
            json_object_set_new(body, "duration", json_string(duration));
        }
    }
    const char *location = json_string_value(json_object_get(meeting, "location"));
    if (location != NULL && location[0] != '\0') {
        json_object_set_new(body, "location", json_pack("{s:s}", "value", location));
    }
    const char *online = json_string_value(json_object_get(meeting, "online_url"));
    char *note = NULL;
    if (asprintf(&note, "%s%s%s%s", PIPEDRIVE_MARKER, marker, online != NULL ? "\n" : "",
                 online != NULL ? online : "") < 0) {
        json_decref(body);
        return NULL;
    }
    json_object_set_new(body, "note", json_string(note));
    free(note);
    return body;
}

void pipedrive_error_text(const char *body, size_t len, char *out, size_t size)
{
    if (size == 0) {
        return;
    }
    json_t *parsed = body != NULL && len > 0 ? json_loadb(body, len, 0, NULL) : NULL;
    const char *error = json_string_value(json_object_get(parsed, "error"));
    const char *info = json_string_value(json_object_get(parsed, "error_info"));
    if (error != NULL) {
        snprintf(out, size, "%.*s%s%.*s", PIPEDRIVE_MESSAGE_MAX / 2, error,
                 info != NULL ? " - " : "", PIPEDRIVE_MESSAGE_MAX / 2, info != NULL ? info : "");
    } else {
        snprintf(out, size, "%.*s", (int)(len < PIPEDRIVE_MESSAGE_MAX ? len : PIPEDRIVE_MESSAGE_MAX),
                 body != NULL ? body : "");
    }
    json_decref(parsed);
    for (char *p = out; *p != '\0'; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            *p = ' ';
        }
    }
    /* never end inside a UTF-8 sequence */
    size_t n = strlen(out);
    size_t start = n;
    while (start > 0 && ((unsigned char)out[start - 1] & 0xc0) == 0x80) {
        start--;
    }
    if (start > 0 && (unsigned char)out[start - 1] >= 0xc0) {
        unsigned char lead = (unsigned char)out[start - 1];
        size_t need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
        if (n - (start - 1) < need) {
            out[start - 1] = '\0';
        }
    }
}
