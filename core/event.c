/*
 * event.c - validation and normalization of events at the plugin boundary.
 *
 * The normalized event is rebuilt member by member rather than patched in place, so that
 * whatever reaches the store has exactly the documented shape (docs/events.md) and
 * nothing a plugin added by mistake.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "util.h"

#define EVENT_MAX_DEPTH 64

static const char *const standard_types[] = {
    "lead.created",
    "lead.updated",
    "lead.scored",
    "lead.deleted",
    "lead.merged",
    "lead.erased",
    "email.received",
    "email.sent",
    "email.replied",
    "email.bounced",
    "meeting.scheduled",
    "meeting.updated",
    "meeting.rescheduled",
    "meeting.canceled",
    "meeting.held",
    "meeting.no_show",
    "deal.stage_changed",
    "customer.created",
    "checkout.completed",
    "payment.succeeded",
    "payment.failed",
    "payment.refunded",
    "subscription.started",
    "subscription.trial_started",
    "subscription.cancel_scheduled",
    "subscription.cancel_unscheduled",
    "subscription.canceled",
};

/* Types whose data.payment says what was paid: the store keeps one payment.succeeded and
 * one payment.failed per (source, data.payment), whichever provider event reports it. */
static const char *const payment_types[] = {"payment.succeeded", "payment.failed",
                                            "payment.refunded", "checkout.completed"};

/* Types that make no sense without a lead or a meeting. */
static const char *const types_needing_lead[] = {"lead.created", "lead.updated", "customer.created",
                                                 "lead.erased"};

/* Types about a source's own record of a person (deleted, merged): lead.external_id names
 * the record and the lead carries nothing else, so that such an event never makes a lead
 * nor changes one's fields (store_lead_lifecycle.c). */
static const char *const record_types[] = {"lead.deleted", "lead.merged"};

#define EVENT_MERGED_IDS_MAX 100

static const char *const event_keys[] = {"type", "source",  "source_id", "occurred_at",
                                         "lead", "meeting", "data",      "raw"};
static const char *const lead_text_keys[] = {"email", "first_name", "last_name",    "company",
                                             "title", "phone",      "linkedin_url", "external_id"};
static const char *const lead_keys[] = {
    "email",        "first_name",  "last_name",    "company",    "title", "phone",
    "linkedin_url", "external_id", "external_ids", "attributes", "id"};
static const char *const meeting_text_keys[] = {"external_id", "title", "timezone", "location",
                                                "online_url"};
static const char *const meeting_keys[] = {"external_id", "title",     "starts_at", "ends_at",
                                           "timezone",    "organizer", "attendees", "location",
                                           "online_url",  "status",    "all_day"};
static const char *const meeting_statuses[] = {"scheduled", "rescheduled", "canceled", "held",
                                               "no_show"};
static const char *const attendee_keys[] = {"email", "name", "response", "optional"};
static const char *const attendee_responses[] = {"accepted", "declined", "tentative",
                                                 "needs_action"};

static int fail(char **error_out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(char **error_out, const char *fmt, ...)
{
    struct strbuf sb = {0};
    va_list args;
    va_start(args, fmt);
    strbuf_appendv(&sb, fmt, args);
    va_end(args);
    *error_out = strbuf_take(&sb);
    return -1;
}

static bool in_list(const char *value, const char *const *list, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (strcmp(value, list[i]) == 0) {
            return true;
        }
    }
    return false;
}

static char *join_list(const char *const *list, size_t count)
{
    struct strbuf sb = {0};
    for (size_t i = 0; i < count; i++) {
        strbuf_appendf(&sb, "%s%s", i ? ", " : "", list[i]);
    }
    return strbuf_take(&sb);
}

static int fail_unknown_key(char **error_out, const char *path, const char *key,
                            const char *const *allowed, size_t count)
{
    char *list = join_list(allowed, count);
    /* the key comes from the plugin; cut it short so an error never carries a payload */
    int rc = fail(error_out, "%s%s%.64s: unknown field (allowed: %s)", path, path[0] ? "." : "",
                  key, list ? list : "?");
    free(list);
    return rc;
}

/* data.merged_external_ids of a lead.merged: 1-EVENT_MERGED_IDS_MAX ids of records merged
 * into lead.external_id, each 1-EVENT_SOURCE_ID_MAX bytes without U+0000. */
static int check_merged_ids(const json_t *ids, char **error_out)
{
    if (!json_is_array(ids) || json_array_size(ids) == 0 ||
        json_array_size(ids) > EVENT_MERGED_IDS_MAX) {
        return fail(error_out,
                    "data.merged_external_ids: required for lead.merged, an array of 1-%d ids",
                    EVENT_MERGED_IDS_MAX);
    }
    size_t i;
    const json_t *id;
    json_array_foreach(ids, i, id)
    {
        if (!json_is_string(id) || json_string_length(id) == 0 ||
            json_string_length(id) > EVENT_SOURCE_ID_MAX ||
            strlen(json_string_value(id)) != json_string_length(id)) {
            return fail(error_out, "data.merged_external_ids[%zu]: expected an id, 1-%d bytes", i,
                        EVENT_SOURCE_ID_MAX);
        }
    }
    return 0;
}

bool event_type_known(const char *type)
{
    if (in_list(type, standard_types, UTIL_ARRAY_LEN(standard_types))) {
        return true;
    }
    if (strncmp(type, "custom.", 7) != 0 || type[7] == '\0') {
        return false;
    }
    for (const char *p = type + 7; *p != '\0'; p++) {
        if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_' || *p == '.')) {
            return false;
        }
    }
    return true;
}

const char *event_type_label(const char *type)
{
    if (type != NULL && in_list(type, standard_types, UTIL_ARRAY_LEN(standard_types))) {
        return type;
    }
    return type != NULL && event_type_known(type) ? EVENT_TYPE_LABEL_CUSTOM : "invalid";
}

char *event_normalize_email(const char *email)
{
    while (isspace((unsigned char)*email)) {
        email++;
    }
    size_t len = strlen(email);
    while (len > 0 && isspace((unsigned char)email[len - 1])) {
        len--;
    }
    if (len == 0 || len > EVENT_EMAIL_MAX) {
        return NULL;
    }
    const char *at = memchr(email, '@', len);
    if (at == NULL || at == email || at == email + len - 1 ||
        memchr(at + 1, '@', len - (size_t)(at + 1 - email)) != NULL) {
        return NULL;
    }
    char *out = malloc(len + 1);
    if (out == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)email[i];
        if (c <= ' ' || c == 0x7f || c == ',' || c == '<' || c == '>') {
            free(out);
            return NULL;
        }
        out[i] = (char)tolower(c);
    }
    out[len] = '\0';
    return out;
}

/* PostgreSQL text and jsonb cannot hold U+0000; refuse it anywhere rather than fail later
 * at commit, where one bad event would fail a whole batch. */
static int check_tree(const json_t *value, const char *path, int depth, char **error_out)
{
    if (depth > EVENT_MAX_DEPTH) {
        return fail(error_out, "%s: nested deeper than %d levels", path, EVENT_MAX_DEPTH);
    }
    if (json_is_string(value)) {
        if (strlen(json_string_value(value)) != json_string_length(value)) {
            return fail(error_out, "%s: strings may not contain U+0000", path);
        }
    } else if (json_is_object(value)) {
        const char *key;
        json_t *member;
        json_object_foreach((json_t *)value, key, member)
        {
            if (check_tree(member, path, depth + 1, error_out) != 0) {
                return -1;
            }
        }
    } else if (json_is_array(value)) {
        size_t i;
        json_t *member;
        json_array_foreach(value, i, member)
        {
            if (check_tree(member, path, depth + 1, error_out) != 0) {
                return -1;
            }
        }
    } else if (json_is_real(value)) {
        double d = json_real_value(value);
        if (d != d || d > 1e300 || d < -1e300) {
            return fail(error_out, "%s: numbers must be finite", path);
        }
    }
    return 0;
}

/*
 * Copies a text member into `out` trimmed; an empty value is left out (providers send ""
 * for unknown names). Returns 0, or -1 for a non-string or an over-long value.
 */
static int copy_text(json_t *out, const json_t *in, const char *key, const char *path,
                     char **error_out)
{
    const json_t *value = json_object_get(in, key);
    if (value == NULL || json_is_null(value)) {
        return 0;
    }
    if (!json_is_string(value)) {
        return fail(error_out, "%s.%s: expected a string", path, key);
    }
    const char *text = json_string_value(value);
    size_t len = json_string_length(value);
    while (len > 0 && isspace((unsigned char)*text)) {
        text++;
        len--;
    }
    while (len > 0 && isspace((unsigned char)text[len - 1])) {
        len--;
    }
    if (len > EVENT_FIELD_MAX) {
        return fail(error_out, "%s.%s: longer than %d bytes", path, key, EVENT_FIELD_MAX);
    }
    if (len == 0) {
        return 0;
    }
    json_t *copy = json_stringn(text, len);
    if (copy == NULL || json_object_set_new(out, key, copy) != 0) {
        return fail(error_out, "%s.%s: out of memory", path, key);
    }
    return 0;
}

/* Normalizes an RFC 3339 member into UTC milliseconds form; absent is allowed. */
static int copy_time(json_t *out, const json_t *in, const char *key, const char *path,
                     int64_t *ms_out, char **error_out)
{
    const json_t *value = json_object_get(in, key);
    if (value == NULL || json_is_null(value)) {
        return 0;
    }
    int64_t ms;
    int parsed = json_is_string(value) ? util_parse_rfc3339(json_string_value(value), &ms) : -1;
    if (parsed == -2) {
        return fail(error_out, "%s%s%s: out of range: expected a time " UTIL_TIME_RANGE_TEXT, path,
                    path[0] ? "." : "", key);
    }
    if (parsed != 0) {
        return fail(error_out,
                    "%s%s%s: expected an RFC 3339 date-time such as 2026-11-27T10:00:00Z", path,
                    path[0] ? "." : "", key);
    }
    char text[32];
    util_format_rfc3339(ms, text);
    if (json_object_set_new(out, key, json_string(text)) != 0) {
        return fail(error_out, "%s: out of memory", key);
    }
    if (ms_out != NULL) {
        *ms_out = ms;
    }
    return 0;
}

static int check_keys(const json_t *object, const char *path, const char *const *allowed,
                      size_t count, char **error_out)
{
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)object, key, value)
    {
        if (!in_list(key, allowed, count)) {
            return fail_unknown_key(error_out, path, key, allowed, count);
        }
    }
    return 0;
}

static int normalize_lead(const json_t *in, json_t **out_lead, char **error_out)
{
    if (!json_is_object(in)) {
        return fail(error_out, "lead: expected an object");
    }
    if (check_keys(in, "lead", lead_keys, UTIL_ARRAY_LEN(lead_keys), error_out) != 0) {
        return -1;
    }
    json_t *lead = json_object();
    if (lead == NULL) {
        return fail(error_out, "lead: out of memory");
    }
    for (size_t i = 0; i < UTIL_ARRAY_LEN(lead_text_keys); i++) {
        if (copy_text(lead, in, lead_text_keys[i], "lead", error_out) != 0) {
            goto fail;
        }
    }
    const json_t *email = json_object_get(lead, "email");
    if (email != NULL) {
        char *normalized = event_normalize_email(json_string_value(email));
        if (normalized == NULL) {
            fail(error_out, "lead.email: not an email address");
            goto fail;
        }
        json_object_set_new(lead, "email", json_string(normalized));
        free(normalized);
    }
    /* lead.id: a leadhub lead id the provider carried back (a checkout's reference) */
    const json_t *id = json_object_get(in, "id");
    if (id != NULL && !json_is_null(id)) {
        json_int_t value = 0;
        if (json_is_integer(id)) {
            value = json_integer_value(id);
        } else if (json_is_string(id)) {
            const char *text = json_string_value(id);
            char *end = NULL;
            long long parsed = strtoll(text, &end, 10);
            value = end != text && *end == '\0' && strlen(text) <= 18 ? (json_int_t)parsed : 0;
        }
        if (value <= 0) {
            fail(error_out, "lead.id: expected a leadhub lead id (a positive integer)");
            goto fail;
        }
        json_object_set_new(lead, "id", json_integer(value));
    }
    if (json_object_get(lead, "email") == NULL && json_object_get(lead, "external_id") == NULL &&
        json_object_get(lead, "id") == NULL) {
        fail(error_out, "lead: has no email, external_id or id, so nothing identifies it");
        goto fail;
    }
    const json_t *external_ids = json_object_get(in, "external_ids");
    if (external_ids != NULL && !json_is_null(external_ids)) {
        if (!json_is_object(external_ids)) {
            fail(error_out, "lead.external_ids: expected an object of instance name -> id");
            goto fail;
        }
        const char *key;
        json_t *value;
        json_object_foreach((json_t *)external_ids, key, value)
        {
            if (!util_instance_name_valid(key)) {
                fail(error_out, "lead.external_ids: \"%.64s\" is not an instance name", key);
                goto fail;
            }
            if (!json_is_string(value) || json_string_length(value) == 0 ||
                json_string_length(value) > EVENT_FIELD_MAX) {
                fail(error_out, "lead.external_ids.%s: expected a non-empty string", key);
                goto fail;
            }
        }
        json_object_set_new(lead, "external_ids", json_deep_copy(external_ids));
    }
    const json_t *attributes = json_object_get(in, "attributes");
    if (attributes != NULL && !json_is_null(attributes)) {
        if (!json_is_object(attributes)) {
            fail(error_out, "lead.attributes: expected an object");
            goto fail;
        }
        json_object_set_new(lead, "attributes", json_deep_copy(attributes));
    }
    *out_lead = lead;
    return 0;
fail:
    json_decref(lead);
    return -1;
}

static int normalize_person(const json_t *in, const char *path, const char *const *keys,
                            size_t key_count, json_t **out_person, char **error_out)
{
    if (!json_is_object(in)) {
        return fail(error_out, "%s: expected an object", path);
    }
    if (check_keys(in, path, keys, key_count, error_out) != 0) {
        return -1;
    }
    json_t *person = json_object();
    if (person == NULL) {
        return fail(error_out, "%s: out of memory", path);
    }
    if (copy_text(person, in, "email", path, error_out) != 0 ||
        copy_text(person, in, "name", path, error_out) != 0) {
        goto fail;
    }
    const json_t *email = json_object_get(person, "email");
    if (email != NULL) {
        char *normalized = event_normalize_email(json_string_value(email));
        if (normalized == NULL) {
            fail(error_out, "%s.email: not an email address", path);
            goto fail;
        }
        json_object_set_new(person, "email", json_string(normalized));
        free(normalized);
    }
    *out_person = person;
    return 0;
fail:
    json_decref(person);
    return -1;
}

static int normalize_attendees(const json_t *in, json_t *meeting, char **error_out)
{
    if (!json_is_array(in)) {
        return fail(error_out, "meeting.attendees: expected an array");
    }
    json_t *attendees = json_array();
    if (attendees == NULL || json_object_set_new(meeting, "attendees", attendees) != 0) {
        return fail(error_out, "meeting.attendees: out of memory");
    }
    size_t i;
    json_t *item;
    json_array_foreach(in, i, item)
    {
        char path[48];
        snprintf(path, sizeof(path), "meeting.attendees[%zu]", i);
        json_t *person = NULL;
        if (normalize_person(item, path, attendee_keys, UTIL_ARRAY_LEN(attendee_keys), &person,
                             error_out) != 0) {
            return -1;
        }
        json_array_append_new(attendees, person);
        if (json_object_get(person, "email") == NULL) {
            return fail(error_out, "%s.email: required", path);
        }
        const json_t *response = json_object_get(item, "response");
        if (response != NULL && !json_is_null(response)) {
            if (!json_is_string(response) ||
                !in_list(json_string_value(response), attendee_responses,
                         UTIL_ARRAY_LEN(attendee_responses))) {
                return fail(error_out,
                            "%s.response: expected accepted, declined, tentative or needs_action",
                            path);
            }
            json_object_set(person, "response", (json_t *)response);
        }
        const json_t *optional = json_object_get(item, "optional");
        if (optional != NULL && !json_is_null(optional)) {
            if (!json_is_boolean(optional)) {
                return fail(error_out, "%s.optional: expected true or false", path);
            }
            json_object_set(person, "optional", (json_t *)optional);
        }
    }
    return 0;
}

static int normalize_meeting(const json_t *in, const char *type, json_t **out_meeting,
                             char **error_out)
{
    if (!json_is_object(in)) {
        return fail(error_out, "meeting: expected an object");
    }
    if (check_keys(in, "meeting", meeting_keys, UTIL_ARRAY_LEN(meeting_keys), error_out) != 0) {
        return -1;
    }
    json_t *meeting = json_object();
    if (meeting == NULL) {
        return fail(error_out, "meeting: out of memory");
    }
    for (size_t i = 0; i < UTIL_ARRAY_LEN(meeting_text_keys); i++) {
        if (copy_text(meeting, in, meeting_text_keys[i], "meeting", error_out) != 0) {
            goto fail;
        }
    }
    if (json_object_get(meeting, "external_id") == NULL) {
        fail(error_out, "meeting.external_id: required");
        goto fail;
    }
    int64_t starts = 0, ends = 0;
    if (copy_time(meeting, in, "starts_at", "meeting", &starts, error_out) != 0 ||
        copy_time(meeting, in, "ends_at", "meeting", &ends, error_out) != 0) {
        goto fail;
    }
    if (json_object_get(meeting, "starts_at") && json_object_get(meeting, "ends_at") &&
        ends < starts) {
        fail(error_out, "meeting.ends_at: before starts_at");
        goto fail;
    }
    const json_t *organizer = json_object_get(in, "organizer");
    if (organizer != NULL && !json_is_null(organizer)) {
        static const char *const organizer_keys[] = {"email", "name"};
        json_t *person = NULL;
        if (normalize_person(organizer, "meeting.organizer", organizer_keys,
                             UTIL_ARRAY_LEN(organizer_keys), &person, error_out) != 0) {
            goto fail;
        }
        json_object_set_new(meeting, "organizer", person);
    }
    const json_t *attendees = json_object_get(in, "attendees");
    if (attendees != NULL && !json_is_null(attendees) &&
        normalize_attendees(attendees, meeting, error_out) != 0) {
        goto fail;
    }
    const json_t *all_day = json_object_get(in, "all_day");
    if (all_day != NULL && !json_is_null(all_day)) {
        if (!json_is_boolean(all_day)) {
            fail(error_out, "meeting.all_day: expected true or false");
            goto fail;
        }
        json_object_set(meeting, "all_day", (json_t *)all_day);
    }
    const char *status = "scheduled";
    const json_t *status_json = json_object_get(in, "status");
    if (status_json != NULL && !json_is_null(status_json)) {
        if (!json_is_string(status_json) ||
            !in_list(json_string_value(status_json), meeting_statuses,
                     UTIL_ARRAY_LEN(meeting_statuses))) {
            fail(error_out, "meeting.status: expected scheduled, rescheduled, canceled, held or "
                            "no_show");
            goto fail;
        }
        status = json_string_value(status_json);
    }
    /* The type is the stronger statement: a cancellation cancels, an outcome is one. */
    static const struct {
        const char *type;
        const char *status;
    } stated[] = {{"meeting.canceled", "canceled"},
                  {"meeting.rescheduled", "rescheduled"},
                  {"meeting.held", "held"},
                  {"meeting.no_show", "no_show"}};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(stated); i++) {
        if (strcmp(type, stated[i].type) == 0) {
            status = stated[i].status;
        }
    }
    json_object_set_new(meeting, "status", json_string(status));
    *out_meeting = meeting;
    return 0;
fail:
    json_decref(meeting);
    return -1;
}

int event_validate(json_t *event, const char *instance, struct event_record *out, char **error_out)
{
    json_t *normalized = NULL;
    int rc = -1;
    memset(out, 0, sizeof(*out));
    *error_out = NULL;

    if (!json_is_object(event)) {
        fail(error_out, "event: expected a JSON object");
        goto out;
    }
    if (check_keys(event, "", event_keys, UTIL_ARRAY_LEN(event_keys), error_out) != 0 ||
        check_tree(event, "event", 0, error_out) != 0) {
        goto out;
    }
    const json_t *type = json_object_get(event, "type");
    if (!json_is_string(type)) {
        fail(error_out, "type: required, a string such as \"lead.created\"");
        goto out;
    }
    if (json_string_length(type) > EVENT_TYPE_MAX || !event_type_known(json_string_value(type))) {
        char *list = join_list(standard_types, UTIL_ARRAY_LEN(standard_types));
        fail(error_out, "type: \"%.64s\" is not an event type (known: %s; or custom.<name>)",
             json_string_value(type), list ? list : "?");
        free(list);
        goto out;
    }
    const char *type_name = json_string_value(type);
    const json_t *source = json_object_get(event, "source");
    if (source != NULL && !json_is_null(source) &&
        (!json_is_string(source) || strcmp(json_string_value(source), instance) != 0)) {
        fail(error_out, "source: must be absent or \"%s\" (the host sets it to the instance)",
             instance);
        goto out;
    }
    const json_t *source_id = json_object_get(event, "source_id");
    if (!json_is_string(source_id) || json_string_length(source_id) == 0) {
        fail(error_out, "source_id: required, a non-empty string (the provider's id)");
        goto out;
    }
    if (json_string_length(source_id) > EVENT_SOURCE_ID_MAX) {
        fail(error_out, "source_id: longer than %d bytes", EVENT_SOURCE_ID_MAX);
        goto out;
    }

    normalized = json_object();
    if (normalized == NULL) {
        fail(error_out, "event: out of memory");
        goto out;
    }
    json_object_set(normalized, "type", (json_t *)type);
    json_object_set_new(normalized, "source", json_string(instance));
    json_object_set(normalized, "source_id", (json_t *)source_id);
    /* null counts as absent: copy_time() skips it, as it may for the optional times */
    const json_t *occurred_at = json_object_get(event, "occurred_at");
    if (occurred_at == NULL || json_is_null(occurred_at)) {
        fail(error_out, "occurred_at: required, an RFC 3339 date-time");
        goto out;
    }
    if (copy_time(normalized, event, "occurred_at", "", &out->occurred_at_ms, error_out) != 0) {
        goto out;
    }

    const json_t *lead = json_object_get(event, "lead");
    if (lead != NULL && !json_is_null(lead)) {
        json_t *lead_normalized = NULL;
        if (normalize_lead(lead, &lead_normalized, error_out) != 0) {
            goto out;
        }
        json_object_set_new(normalized, "lead", lead_normalized);
    } else if (in_list(type_name, types_needing_lead, UTIL_ARRAY_LEN(types_needing_lead))) {
        fail(error_out, "lead: required for %s events", type_name);
        goto out;
    }

    if (in_list(type_name, record_types, UTIL_ARRAY_LEN(record_types))) {
        const json_t *normalized_lead = json_object_get(normalized, "lead");
        if (json_object_get(normalized_lead, "external_id") == NULL ||
            json_object_size(normalized_lead) != 1) {
            fail(error_out,
                 "lead: a %s event names the source's record by lead.external_id "
                 "alone",
                 type_name);
            goto out;
        }
        if (strcmp(type_name, "lead.merged") == 0 &&
            check_merged_ids(json_object_get(json_object_get(event, "data"), "merged_external_ids"),
                             error_out) != 0) {
            goto out;
        }
    }

    const json_t *meeting = json_object_get(event, "meeting");
    if (meeting != NULL && !json_is_null(meeting)) {
        json_t *meeting_normalized = NULL;
        if (normalize_meeting(meeting, type_name, &meeting_normalized, error_out) != 0) {
            goto out;
        }
        json_object_set_new(normalized, "meeting", meeting_normalized);
    } else if (strncmp(type_name, "meeting.", 8) == 0) {
        fail(error_out, "meeting: required for %s events", type_name);
        goto out;
    }

    const json_t *data = json_object_get(event, "data");
    if (data != NULL && !json_is_null(data)) {
        if (!json_is_object(data)) {
            fail(error_out, "data: expected an object");
            goto out;
        }
        const json_t *payment = json_object_get(data, "payment");
        if (payment != NULL && in_list(type_name, payment_types, UTIL_ARRAY_LEN(payment_types)) &&
            (!json_is_string(payment) || json_string_length(payment) == 0 ||
             json_string_length(payment) > EVENT_SOURCE_ID_MAX)) {
            fail(error_out, "data.payment: expected the id of what was paid, 1-%d bytes",
                 EVENT_SOURCE_ID_MAX);
            goto out;
        }
        json_object_set(normalized, "data", (json_t *)data);
    }
    const json_t *raw = json_object_get(event, "raw");
    if (raw != NULL) {
        json_object_set(normalized, "raw", (json_t *)raw);
    }

    out->event = normalized;
    out->type = json_string_value(json_object_get(normalized, "type"));
    out->source = json_string_value(json_object_get(normalized, "source"));
    out->source_id = json_string_value(json_object_get(normalized, "source_id"));
    out->lead_email =
        json_string_value(json_object_get(json_object_get(normalized, "lead"), "email"));
    if (strcmp(out->type, "payment.succeeded") == 0 || strcmp(out->type, "payment.failed") == 0) {
        out->payment_key =
            json_string_value(json_object_get(json_object_get(normalized, "data"), "payment"));
    }
    normalized = NULL;
    rc = 0;
out:
    json_decref(normalized);
    json_decref(event);
    if (rc != 0 && *error_out == NULL) {
        *error_out = strdup("event: out of memory");
    }
    return rc;
}

void event_record_clear(struct event_record *record)
{
    json_decref(record->event);
    memset(record, 0, sizeof(*record));
}
