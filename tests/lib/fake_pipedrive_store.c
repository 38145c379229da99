/*
 * fake_pipedrive_store.c - the fake Pipedrive's records and what its API does with them:
 * validation as Pipedrive's v2 does it (a name required, unknown fields refused), writes
 * that move update_time, listings by update time with a keyset cursor, exact searches
 * behind a lagging index. Every function runs with fp->mutex held.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fake_pipedrive_internal.h"
#include "util.h"

#define LIST_LIMIT_DEFAULT 100
#define LIST_LIMIT_MAX     500

/* The fields a write may send, per kind; anything else is refused as Pipedrive's v2 does
 * (a typo in a connector must not pass silently). */
static const char *const PERSON_FIELDS[] = {
    "name",   "first_name", "last_name",  "owner_id",      "org_id",           "emails",
    "phones", "label_ids",  "visible_to", "custom_fields", "marketing_status", NULL};
static const char *const ORGANIZATION_FIELDS[] = {
    "name", "owner_id", "address", "label_ids", "custom_fields", "visible_to", NULL};
static const char *const DEAL_FIELDS[] = {
    "title", "person_id", "org_id",   "pipeline_id", "stage_id",      "status",
    "value", "currency",  "owner_id", "lost_reason", "custom_fields", "expected_close_date",
    NULL};
static const char *const ACTIVITY_FIELDS[] = {
    "subject",  "type", "due_date",     "due_time", "duration", "done",   "busy",
    "location", "note", "participants", "owner_id", "deal_id",  "org_id", "public_description",
    NULL};

struct fp_answer fp_error(int status, const char *message, const char *hint)
{
    json_t *body = json_pack("{s:b, s:s, s:s, s:n}", "success", 0, "error", message, "error_info",
                             hint != NULL ? hint : "Please check developers.pipedrive.com", "data");
    if (status == 401 || status == 429) {
        json_object_set_new(body, "errorCode", json_integer(status));
    }
    return (struct fp_answer){status, body, -1};
}

static struct fp_answer ok(json_t *data, json_t *additional)
{
    json_t *body = json_pack("{s:b, s:o}", "success", 1, "data", data != NULL ? data : json_null());
    if (additional != NULL) {
        json_object_set_new(body, "additional_data", additional);
    }
    return (struct fp_answer){200, body, -1};
}

void fp_format_time(time_t t, char *out)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 24, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

time_t fp_store_tick(struct fake_pipedrive *fp)
{
    if (fp->pinned_s != 0) {
        return fp->pinned_s;
    }
    time_t now = (time_t)(util_now_ms() / 1000);
    fp->last_s = now > fp->last_s ? now : fp->last_s + 1;
    return fp->last_s;
}

static void table_init(struct fp_table *t, const char *kind, long first_id)
{
    memset(t, 0, sizeof(*t));
    t->kind = kind;
    t->next_id = first_id;
}

static void table_free(struct fp_table *t)
{
    for (size_t i = 0; i < t->count; i++) {
        json_decref(t->items[i].object);
    }
    free(t->items);
}

static struct fp_record *table_add(struct fake_pipedrive *fp, struct fp_table *t)
{
    if (t->count == t->capacity) {
        size_t capacity = t->capacity ? t->capacity * 2 : 32;
        struct fp_record *grown = realloc(t->items, capacity * sizeof(*grown));
        if (grown == NULL) {
            return NULL;
        }
        t->items = grown;
        t->capacity = capacity;
    }
    struct fp_record *r = &t->items[t->count++];
    memset(r, 0, sizeof(*r));
    r->id = t->next_id++;
    r->object = json_object();
    r->created_ms = util_now_ms();
    r->created_searches = fp->searches;
    return r;
}

struct fp_record *fp_store_find(struct fp_table *table, long id)
{
    for (size_t i = 0; i < table->count; i++) {
        if (table->items[i].id == id && !table->items[i].deleted) {
            return &table->items[i];
        }
    }
    return NULL;
}

void fp_store_init(struct fake_pipedrive *fp)
{
    table_init(&fp->persons, "person", 1);
    table_init(&fp->organizations, "organization", 1);
    table_init(&fp->deals, "deal", 1);
    table_init(&fp->activities, "activity", 1);
    fp->pipelines = json_pack("[{s:i, s:s, s:i, s:b}]", "id", 1, "name", "Sales", "order_nr", 1,
                              "is_deleted", 0);
    fp->stages = json_array();
    const char *names[] = {"Qualified", "Contact made", "Proposal made", "Negotiations started"};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(names); i++) {
        json_array_append_new(fp->stages, json_pack("{s:i, s:s, s:i, s:i, s:b}", "id", (int)i + 1,
                                                    "name", names[i], "pipeline_id", 1, "order_nr",
                                                    (int)i + 1, "is_deleted", 0));
    }
}

void fp_store_free(struct fake_pipedrive *fp)
{
    table_free(&fp->persons);
    table_free(&fp->organizations);
    table_free(&fp->deals);
    table_free(&fp->activities);
    json_decref(fp->pipelines);
    json_decref(fp->stages);
}

const char *fp_person_email(const json_t *person)
{
    const json_t *emails = json_object_get(person, "emails");
    size_t i;
    const json_t *email;
    json_array_foreach(emails, i, email)
    {
        if (json_is_true(json_object_get(email, "primary"))) {
            return json_string_value(json_object_get(email, "value"));
        }
    }
    return json_string_value(json_object_get(json_array_get(emails, 0), "value"));
}

bool fp_activity_has_person(const json_t *activity, long person_id)
{
    size_t i;
    const json_t *participant;
    json_array_foreach(json_object_get(activity, "participants"), i, participant)
    {
        if (json_integer_value(json_object_get(participant, "person_id")) == person_id) {
            return true;
        }
    }
    return false;
}

/* --- validation ------------------------------------------------------------------------ */

static bool field_allowed(const char *const *fields, const char *name)
{
    for (size_t i = 0; fields[i] != NULL; i++) {
        if (strcmp(fields[i], name) == 0) {
            return true;
        }
    }
    return false;
}

/* [{"value": text, "primary": bool, "label": text}, ...] */
static bool valid_contact_list(const json_t *list)
{
    if (!json_is_array(list)) {
        return false;
    }
    size_t i;
    const json_t *item;
    json_array_foreach(list, i, item)
    {
        if (!json_is_object(item) || !json_is_string(json_object_get(item, "value"))) {
            return false;
        }
        const json_t *primary = json_object_get(item, "primary");
        const json_t *label = json_object_get(item, "label");
        if ((primary != NULL && !json_is_boolean(primary)) ||
            (label != NULL && !json_is_string(label))) {
            return false;
        }
    }
    return true;
}

static bool valid_id_list(const json_t *list)
{
    if (!json_is_array(list)) {
        return false;
    }
    size_t i;
    const json_t *item;
    json_array_foreach(list, i, item)
    {
        if (!json_is_integer(item)) {
            return false;
        }
    }
    return true;
}

static bool valid_pattern(const char *text, const char *pattern)
{
    /* '9' a digit, anything else itself */
    if (text == NULL || strlen(text) != strlen(pattern)) {
        return false;
    }
    for (size_t i = 0; pattern[i] != '\0'; i++) {
        if (pattern[i] == '9' ? !isdigit((unsigned char)text[i]) : text[i] != pattern[i]) {
            return false;
        }
    }
    return true;
}

/* NULL when the fields are fine for this kind, else what is wrong (a static message or
 * one written into `message`). */
static const char *invalid_fields(struct fake_pipedrive *fp, const struct fp_table *table,
                                  const json_t *fields, bool creating, char *message, size_t size)
{
    const char *const *allowed = table == &fp->persons         ? PERSON_FIELDS
                                 : table == &fp->organizations ? ORGANIZATION_FIELDS
                                 : table == &fp->deals         ? DEAL_FIELDS
                                                               : ACTIVITY_FIELDS;
    if (!json_is_object(fields)) {
        return "The request body must be a JSON object";
    }
    const char *name;
    const json_t *value;
    json_object_foreach((json_t *)fields, name, value)
    {
        if (!field_allowed(allowed, name)) {
            snprintf(message, size, "Unknown field: %s", name);
            return message;
        }
    }
    const json_t *title = json_object_get(fields, table == &fp->deals ? "title" : "name");
    bool named = json_is_string(title) && json_string_length(title) > 0;
    if (table == &fp->persons && ((creating && !named) || (title != NULL && !named))) {
        return "Person name is required";
    }
    if (table == &fp->organizations && ((creating && !named) || (title != NULL && !named))) {
        return "Organization name is required";
    }
    if (table == &fp->deals && creating && !named) {
        return "Deal title is required";
    }
    const json_t *emails = json_object_get(fields, "emails");
    const json_t *phones = json_object_get(fields, "phones");
    if ((emails != NULL && !valid_contact_list(emails)) ||
        (phones != NULL && !valid_contact_list(phones))) {
        return "emails and phones must be arrays of {value, primary, label}";
    }
    const json_t *labels = json_object_get(fields, "label_ids");
    if (labels != NULL && !valid_id_list(labels)) {
        return "label_ids must be an array of integers";
    }
    const json_t *org = json_object_get(fields, "org_id");
    if (org != NULL && !json_is_null(org) &&
        (!json_is_integer(org) ||
         fp_store_find(&fp->organizations, (long)json_integer_value(org)) == NULL)) {
        return "Organization not found";
    }
    const json_t *custom = json_object_get(fields, "custom_fields");
    if (custom != NULL && !json_is_object(custom)) {
        return "custom_fields must be an object";
    }
    if (table == &fp->activities) {
        const json_t *date = json_object_get(fields, "due_date");
        const json_t *time = json_object_get(fields, "due_time");
        const json_t *duration = json_object_get(fields, "duration");
        const json_t *done = json_object_get(fields, "done");
        if ((date != NULL && !valid_pattern(json_string_value(date), "9999-99-99")) ||
            (time != NULL && !valid_pattern(json_string_value(time), "99:99")) ||
            (duration != NULL && !valid_pattern(json_string_value(duration), "99:99"))) {
            return "due_date is YYYY-MM-DD, due_time and duration HH:MM";
        }
        if (done != NULL && !json_is_boolean(done)) {
            return "done must be a boolean";
        }
        const json_t *location = json_object_get(fields, "location");
        if (location != NULL && !json_is_null(location) &&
            !(json_is_object(location) && json_is_string(json_object_get(location, "value")))) {
            return "location must be {\"value\": ...}";
        }
        size_t i;
        const json_t *participant;
        const json_t *participants = json_object_get(fields, "participants");
        if (participants != NULL && !json_is_array(participants)) {
            return "participants must be an array of {person_id, primary}";
        }
        json_array_foreach(participants, i, participant)
        {
            const json_t *person = json_object_get(participant, "person_id");
            if (!json_is_integer(person) ||
                fp_store_find(&fp->persons, (long)json_integer_value(person)) == NULL) {
                return "Participant person not found";
            }
        }
    }
    if (table == &fp->deals) {
        const json_t *stage = json_object_get(fields, "stage_id");
        if (stage != NULL && !json_is_integer(stage)) {
            return "stage_id must be an integer";
        }
    }
    return NULL;
}

/* --- writes ---------------------------------------------------------------------------- */

/* first_name / last_name from a name Pipedrive was given alone. */
static void split_name(json_t *object, const json_t *fields)
{
    const char *name = json_string_value(json_object_get(object, "name"));
    if (name == NULL || json_object_get(fields, "first_name") != NULL ||
        json_object_get(fields, "last_name") != NULL) {
        return;
    }
    const char *space = strchr(name, ' ');
    json_object_set_new(object, "first_name",
                        space != NULL ? json_stringn(name, (size_t)(space - name))
                                      : json_string(name));
    json_object_set_new(object, "last_name", space != NULL ? json_string(space + 1) : json_null());
}

/* What a new record of each kind holds before its fields: Pipedrive's defaults, as JSON
 * text (parsed once per record; the fake is not about speed). */
static const char PERSON_DEFAULTS[] =
    "{\"owner_id\": 1, \"org_id\": null, \"emails\": [], \"phones\": [], \"label_ids\": [], "
    "\"custom_fields\": {}, \"is_deleted\": false}";
static const char ORGANIZATION_DEFAULTS[] =
    "{\"owner_id\": 1, \"label_ids\": [], \"custom_fields\": {}, \"is_deleted\": false}";
static const char DEAL_DEFAULTS[] =
    "{\"owner_id\": 1, \"person_id\": null, \"org_id\": null, \"pipeline_id\": 1, "
    "\"stage_id\": 1, \"status\": \"open\", \"value\": 0, \"currency\": \"EUR\", "
    "\"stage_change_time\": null, \"is_deleted\": false}";
static const char ACTIVITY_DEFAULTS[] =
    "{\"owner_id\": 1, \"type\": \"task\", \"done\": false, \"participants\": [], "
    "\"due_date\": null, \"due_time\": null, \"duration\": null, \"location\": null, "
    "\"note\": null, \"org_id\": null, \"deal_id\": null, \"is_deleted\": false}";

static void set_defaults(struct fake_pipedrive *fp, struct fp_table *table, json_t *object)
{
    const char *defaults = table == &fp->persons         ? PERSON_DEFAULTS
                           : table == &fp->organizations ? ORGANIZATION_DEFAULTS
                           : table == &fp->deals         ? DEAL_DEFAULTS
                                                         : ACTIVITY_DEFAULTS;
    json_t *values = json_loads(defaults, 0, NULL);
    json_object_update(object, values);
    json_decref(values);
}

/* Applies validated fields to a record (a creation when `created`), moving its times. */
static void apply(struct fake_pipedrive *fp, struct fp_table *table, struct fp_record *r,
                  const json_t *fields, bool created)
{
    bool stage_moved = false;
    if (table == &fp->deals && !created) {
        const char *keys[] = {"stage_id", "pipeline_id"};
        for (size_t i = 0; i < UTIL_ARRAY_LEN(keys); i++) {
            const json_t *wanted = json_object_get(fields, keys[i]);
            stage_moved |=
                wanted != NULL && !json_equal(wanted, json_object_get(r->object, keys[i]));
        }
    }
    if (created) {
        set_defaults(fp, table, r->object);
    }
    json_object_update(r->object, (json_t *)fields);
    if (table == &fp->persons) {
        split_name(r->object, fields);
    }
    r->update_s = fp_store_tick(fp);
    char when[24];
    fp_format_time(r->update_s, when);
    json_object_set_new(r->object, "id", json_integer(r->id));
    json_object_set_new(r->object, "update_time", json_string(when));
    if (created) {
        json_object_set_new(r->object, "add_time", json_string(when));
    }
    if (table == &fp->deals && (created || stage_moved)) {
        json_object_set_new(r->object, "stage_change_time",
                            created ? json_null() : json_string(when));
    }
}

long fp_store_write(struct fake_pipedrive *fp, struct fp_table *table, long id,
                    const json_t *fields)
{
    char message[160];
    if (invalid_fields(fp, table, fields, id == 0, message, sizeof(message)) != NULL) {
        return 0;
    }
    struct fp_record *r = id == 0 ? table_add(fp, table) : fp_store_find(table, id);
    if (r == NULL) {
        return 0;
    }
    apply(fp, table, r, fields, id == 0);
    return r->id;
}

/* --- queries --------------------------------------------------------------------------- */

/* The value of query parameter `name`, %-decoded (malloc'd), or NULL. */
static char *query_param(const char *query, const char *name)
{
    size_t name_len = strlen(name);
    for (const char *p = query; p != NULL && *p != '\0';) {
        const char *end = strchr(p, '&');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        if (len > name_len && strncmp(p, name, name_len) == 0 && p[name_len] == '=') {
            struct strbuf value = {0};
            strbuf_append(&value, "");
            for (size_t i = name_len + 1; i < len; i++) {
                char c = p[i];
                if (c == '%' && i + 2 < len && isxdigit((unsigned char)p[i + 1]) &&
                    isxdigit((unsigned char)p[i + 2])) {
                    char hex[3] = {p[i + 1], p[i + 2], '\0'};
                    c = (char)strtol(hex, NULL, 16);
                    i += 2;
                } else if (c == '+') {
                    c = ' ';
                }
                strbuf_append_len(&value, &c, 1);
            }
            return strbuf_take(&value);
        }
        p = end != NULL ? end + 1 : NULL;
    }
    return NULL;
}

struct listing {
    time_t since; /* update_time >= since; 0: all */
    bool by_update_time;
    bool descending;
    long person_id; /* activities: with this participant; 0: all */
};

static int compare_records(const void *a, const void *b, void *arg)
{
    const struct listing *listing = arg;
    const struct fp_record *x = *(struct fp_record *const *)a;
    const struct fp_record *y = *(struct fp_record *const *)b;
    int order = 0;
    if (listing->by_update_time && x->update_s != y->update_s) {
        order = x->update_s < y->update_s ? -1 : 1;
    } else if (x->id != y->id) {
        order = x->id < y->id ? -1 : 1;
    }
    return listing->descending ? -order : order;
}

/* The cursor after a record: opaque to clients ("c" + hex of "<update_s>:<id>"). */
static void cursor_after(const struct fp_record *r, char *out, size_t size)
{
    char plain[48];
    snprintf(plain, sizeof(plain), "%lld:%ld", (long long)r->update_s, r->id);
    size_t n = 0;
    out[n++] = 'c';
    for (size_t i = 0; plain[i] != '\0' && n + 3 < size; i++) {
        n += (size_t)snprintf(out + n, size - n, "%02x", (unsigned char)plain[i]);
    }
    out[n] = '\0';
}

static bool cursor_parse(const char *cursor, long long *update_s, long *id)
{
    char plain[48];
    size_t n = 0;
    if (cursor == NULL || cursor[0] != 'c') {
        return false;
    }
    for (const char *p = cursor + 1; p[0] != '\0' && p[1] != '\0' && n + 1 < sizeof(plain);
         p += 2) {
        char hex[3] = {p[0], p[1], '\0'};
        plain[n++] = (char)strtol(hex, NULL, 16);
    }
    plain[n] = '\0';
    return sscanf(plain, "%lld:%ld", update_s, id) == 2;
}

/* Whether r comes after the cursor's record in the listing's order. */
static bool after_cursor(const struct listing *l, const struct fp_record *r, long long cursor_s,
                         long cursor_id)
{
    int order = 0;
    if (l->by_update_time && (long long)r->update_s != cursor_s) {
        order = (long long)r->update_s < cursor_s ? -1 : 1;
    } else if (r->id != cursor_id) {
        order = r->id < cursor_id ? -1 : 1;
    }
    return l->descending ? order < 0 : order > 0;
}

static struct fp_answer list(struct fp_table *table, const char *query)
{
    struct listing l = {0};
    struct fp_answer answer = {0};
    char *since = query_param(query, "updated_since");
    char *sort_by = query_param(query, "sort_by");
    char *direction = query_param(query, "sort_direction");
    char *limit_text = query_param(query, "limit");
    char *cursor = query_param(query, "cursor");
    char *person = query_param(query, "person_id");
    struct fp_record **sorted = NULL;
    int64_t since_ms = 0;
    if (since != NULL && util_parse_rfc3339(since, &since_ms) != 0) {
        answer = fp_error(400, "updated_since must be an RFC 3339 date-time", NULL);
        goto out;
    }
    l.since = (time_t)(since_ms / 1000 + (since_ms % 1000 > 0)); /* whole seconds, inclusive */
    l.by_update_time = sort_by != NULL && strcmp(sort_by, "update_time") == 0;
    if (sort_by != NULL && !l.by_update_time && strcmp(sort_by, "id") != 0 &&
        strcmp(sort_by, "add_time") != 0) {
        answer = fp_error(400, "sort_by must be id, update_time or add_time", NULL);
        goto out;
    }
    l.descending = direction != NULL && strcmp(direction, "desc") == 0;
    l.person_id = person != NULL ? strtol(person, NULL, 10) : 0;
    long limit = limit_text != NULL ? strtol(limit_text, NULL, 10) : LIST_LIMIT_DEFAULT;
    if (limit < 1 || limit > LIST_LIMIT_MAX) {
        answer = fp_error(400, "limit must be between 1 and 500", NULL);
        goto out;
    }
    long long cursor_s = 0;
    long cursor_id = 0;
    if (cursor != NULL && !cursor_parse(cursor, &cursor_s, &cursor_id)) {
        answer = fp_error(400, "Invalid cursor", NULL);
        goto out;
    }
    sorted = calloc(table->count + 1, sizeof(*sorted));
    size_t n = 0;
    for (size_t i = 0; sorted != NULL && i < table->count; i++) {
        struct fp_record *r = &table->items[i];
        if (r->deleted || (since != NULL && r->update_s < l.since) ||
            (l.person_id != 0 && !fp_activity_has_person(r->object, l.person_id))) {
            continue;
        }
        sorted[n++] = r;
    }
    qsort_r(sorted, n, sizeof(*sorted), compare_records, &l);
    json_t *data = json_array();
    char next[96] = "";
    for (size_t i = 0; i < n; i++) {
        if (cursor != NULL && !after_cursor(&l, sorted[i], cursor_s, cursor_id)) {
            continue;
        }
        if ((long)json_array_size(data) == limit) {
            cursor_after(sorted[i - 1], next, sizeof(next));
            break;
        }
        json_array_append(data, sorted[i]->object);
    }
    answer = ok(data, json_pack("{s:s?}", "next_cursor", next[0] != '\0' ? next : NULL));
out:
    free(sorted);
    free(since);
    free(sort_by);
    free(direction);
    free(limit_text);
    free(cursor);
    free(person);
    return answer;
}

static bool visible_to_search(const struct fake_pipedrive *fp, const struct fp_record *r)
{
    return util_now_ms() - r->created_ms >= fp->search_lag_ms &&
           fp->searches - r->created_searches > (size_t)fp->search_lag_searches;
}

static bool term_matches(const char *value, const char *term, bool exact)
{
    if (value == NULL) {
        return false;
    }
    if (exact) {
        return strcasecmp(value, term) == 0;
    }
    return strcasestr(value, term) != NULL;
}

static json_t *search_item(struct fake_pipedrive *fp, struct fp_table *table,
                           const struct fp_record *r)
{
    const json_t *o = r->object;
    if (table == &fp->organizations) {
        return json_pack("{s:f, s:{s:I, s:s, s:O}}", "result_score", 1.0, "item", "id",
                         (json_int_t)r->id, "type", "organization", "name",
                         json_object_get(o, "name"));
    }
    json_t *emails = json_array();
    json_t *phones = json_array();
    size_t i;
    const json_t *item;
    json_array_foreach(json_object_get(o, "emails"), i, item)
    {
        json_array_append(emails, json_object_get(item, "value"));
    }
    json_array_foreach(json_object_get(o, "phones"), i, item)
    {
        json_array_append(phones, json_object_get(item, "value"));
    }
    json_t *organization = json_null();
    const struct fp_record *org =
        fp_store_find(&fp->organizations, (long)json_integer_value(json_object_get(o, "org_id")));
    if (org != NULL) {
        organization = json_pack("{s:I, s:O}", "id", (json_int_t)org->id, "name",
                                 json_object_get(org->object, "name"));
    }
    return json_pack("{s:f, s:{s:I, s:s, s:O, s:o, s:o, s:o, s:{s:i}, s:i}}", "result_score", 1.0,
                     "item", "id", (json_int_t)r->id, "type", "person", "name",
                     json_object_get(o, "name"), "emails", emails, "phones", phones, "organization",
                     organization, "owner", "id", 1, "visible_to", 3);
}

static struct fp_answer search(struct fake_pipedrive *fp, struct fp_table *table, const char *query)
{
    struct fp_answer answer = {0};
    char *term = query_param(query, "term");
    char *fields = query_param(query, "fields");
    char *exact = query_param(query, "exact_match");
    char *limit_text = query_param(query, "limit");
    const char *field = table == &fp->persons ? "email" : "name";
    if (term == NULL || strlen(term) < 2) {
        answer = fp_error(400, "term must be at least 2 characters long", NULL);
        goto out;
    }
    if (fields != NULL && strcmp(fields, field) != 0 && strcmp(fields, "name") != 0) {
        answer = fp_error(400, "fields: unsupported field", NULL);
        goto out;
    }
    const char *searched = fields != NULL ? fields : field;
    bool exact_match = exact != NULL && strcmp(exact, "true") == 0;
    long limit = limit_text != NULL ? strtol(limit_text, NULL, 10) : LIST_LIMIT_DEFAULT;
    fp->searches++;
    json_t *items = json_array();
    for (size_t i = 0; i < table->count && (long)json_array_size(items) < limit; i++) {
        const struct fp_record *r = &table->items[i];
        if (r->deleted || !visible_to_search(fp, r)) {
            continue;
        }
        bool found = false;
        if (strcmp(searched, "email") == 0) {
            size_t k;
            const json_t *email;
            json_array_foreach(json_object_get(r->object, "emails"), k, email)
            {
                found |= term_matches(json_string_value(json_object_get(email, "value")), term,
                                      exact_match);
            }
        } else {
            found = term_matches(json_string_value(json_object_get(r->object, "name")), term,
                                 exact_match);
        }
        if (found) {
            json_array_append_new(items, search_item(fp, table, r));
        }
    }
    answer = ok(json_pack("{s:o}", "items", items), json_pack("{s:n}", "next_cursor"));
out:
    free(term);
    free(fields);
    free(exact);
    free(limit_text);
    return answer;
}

static struct fp_answer write_record(struct fake_pipedrive *fp, struct fp_table *table, long id,
                                     const json_t *body, bool malformed)
{
    if (malformed) {
        return fp_error(400, "Invalid JSON in the request body", NULL);
    }
    if (id != 0 && fp_store_find(table, id) == NULL) {
        char message[64];
        snprintf(message, sizeof(message), "%c%s not found", toupper((unsigned char)table->kind[0]),
                 table->kind + 1);
        return fp_error(404, message, NULL);
    }
    char message[160];
    const char *invalid = invalid_fields(fp, table, body, id == 0, message, sizeof(message));
    if (invalid != NULL) {
        return fp_error(400, invalid, "Check the request body against the API reference");
    }
    long written = fp_store_write(fp, table, id, body);
    struct fp_record *r = fp_store_find(table, written);
    return r != NULL ? ok(json_incref(r->object), NULL) : fp_error(500, "out of memory", NULL);
}

/* "/api/v2/<collection>[/<rest>]" -> the table, and rest (or "" ) */
static struct fp_table *collection(struct fake_pipedrive *fp, const char *path, const char **rest)
{
    static const char prefix[] = "/api/v2/";
    if (strncmp(path, prefix, sizeof(prefix) - 1) != 0) {
        return NULL;
    }
    const char *name = path + sizeof(prefix) - 1;
    struct {
        const char *name;
        struct fp_table *table;
    } tables[] = {{"persons", &fp->persons},
                  {"organizations", &fp->organizations},
                  {"deals", &fp->deals},
                  {"activities", &fp->activities}};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(tables); i++) {
        size_t len = strlen(tables[i].name);
        if (strncmp(name, tables[i].name, len) == 0 && (name[len] == '\0' || name[len] == '/')) {
            *rest = name[len] == '/' ? name + len + 1 : "";
            return tables[i].table;
        }
    }
    return NULL;
}

static long parse_id(const char *text)
{
    char *end = NULL;
    long id = strtol(text, &end, 10);
    return end != text && *end == '\0' && id > 0 ? id : -1;
}

struct fp_answer fp_store_route(struct fake_pipedrive *fp, const char *method, const char *path,
                                const char *query, const json_t *body, bool body_malformed)
{
    bool get = strcmp(method, "GET") == 0;
    if (get && strcmp(path, "/api/v2/stages") == 0) {
        return ok(json_deep_copy(fp->stages), json_pack("{s:n}", "next_cursor"));
    }
    if (get && strcmp(path, "/api/v2/pipelines") == 0) {
        return ok(json_deep_copy(fp->pipelines), json_pack("{s:n}", "next_cursor"));
    }
    const char *rest = NULL;
    struct fp_table *table = collection(fp, path, &rest);
    if (table == NULL) {
        return fp_error(404, "Unknown method .", NULL);
    }
    bool searchable = table == &fp->persons || table == &fp->organizations;
    if (rest[0] == '\0') {
        if (get) {
            return list(table, query);
        }
        if (strcmp(method, "POST") == 0) {
            return write_record(fp, table, 0, body, body_malformed);
        }
        return fp_error(405, "Method not allowed", NULL);
    }
    if (get && searchable && strcmp(rest, "search") == 0) {
        return search(fp, table, query);
    }
    long id = parse_id(rest);
    if (id < 0) {
        return fp_error(404, "Unknown method .", NULL);
    }
    if (get) {
        struct fp_record *r = fp_store_find(table, id);
        if (r == NULL) {
            char message[64];
            snprintf(message, sizeof(message), "%c%s not found",
                     toupper((unsigned char)table->kind[0]), table->kind + 1);
            return fp_error(404, message, NULL);
        }
        return ok(json_incref(r->object), NULL);
    }
    if (strcmp(method, "PATCH") == 0) {
        return write_record(fp, table, id, body, body_malformed);
    }
    if (strcmp(method, "DELETE") == 0) {
        struct fp_record *r = fp_store_find(table, id);
        if (r == NULL) {
            return fp_error(404, "Not found", NULL);
        }
        r->deleted = true;
        json_object_set_new(r->object, "is_deleted", json_true());
        return ok(json_pack("{s:I}", "id", (json_int_t)id), NULL);
    }
    return fp_error(405, "Method not allowed", NULL);
}
