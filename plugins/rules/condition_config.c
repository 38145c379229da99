/*
 * condition_config.c - one member of a rule's `when`, `field: {operator: value, ...}`,
 * checked and compiled. Every refusal names the setting path and says what to write
 * instead, because the host can only report it as this instance's init failure.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules.h"
#include "scorer_common.h"

#define MAX_COUNT 1000000

static const char *const lead_text_fields[] = {"email", "first_name", "last_name",   "company",
                                               "title", "phone",      "linkedin_url"};

/* What a misspelt field is compared with for a suggestion. */
static const char *const known_fields[] = {"lead.email",       "lead.first_name", "lead.last_name",
                                           "lead.company",     "lead.title",      "lead.phone",
                                           "lead.linkedin_url"};

static const char *const event_operators[] = {"at_least", "at_most", "within"};
static const char *const value_operators[] = {"exists", "equals",    "in",        "contains",
                                              "regex",  "free_mail", "seniority", "min_seniority"};

#define FIELDS_HINT                                                                                \
    "fields: lead.email, lead.first_name, lead.last_name, lead.company, lead.title, "              \
    "lead.phone, lead.linkedin_url, lead.attributes.<name>, identities.<source>, "                 \
    "events.<type>"

static int fail(char *error, size_t size, const char *fmt, ...) LH_PRINTF(3, 4);

static int fail(char *error, size_t size, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    vsnprintf(error, size, fmt, args);
    va_end(args);
    return -1;
}

static bool in_list(const char *word, const char *const *list, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (strcmp(word, list[i]) == 0) {
            return true;
        }
    }
    return false;
}

/* " (did you mean X?)" or "". */
static void did_you_mean(const char *suggestion, const char *prefix, char *out, size_t size)
{
    if (suggestion == NULL) {
        out[0] = '\0';
    } else {
        snprintf(out, size, " (did you mean %s%s?)", prefix, suggestion);
    }
}

/* "a.b.c" -> {"a", "b", "c"}; -1 for an empty segment or out of memory. */
static int split_segments(struct condition *c, const char *path)
{
    size_t count = 1;
    for (const char *p = path; *p != '\0'; p++) {
        count += *p == '.';
    }
    c->segments = calloc(count, sizeof(*c->segments));
    if (c->segments == NULL) {
        return -1;
    }
    const char *start = path;
    for (size_t i = 0; i < count; i++) {
        const char *end = strchr(start, '.');
        size_t length = end != NULL ? (size_t)(end - start) : strlen(start);
        if (length == 0) {
            return -1;
        }
        c->segments[i] = strndup(start, length);
        if (c->segments[i] == NULL) {
            return -1;
        }
        c->segment_count++;
        start += length + 1;
    }
    return 0;
}

static bool starts_with(const char *text, const char *prefix)
{
    return strncmp(text, prefix, strlen(prefix)) == 0;
}

/* Sets kind, name, label and segments from the field as written. */
static int classify_field(struct condition *c, const char *path, char *error, size_t size)
{
    const char *field = c->field;
    char hint[160];
    if (starts_with(field, "lead.attributes.")) {
        c->kind = FIELD_ATTRIBUTE;
        c->label = strdup(field + strlen("lead."));
        if (c->label == NULL) {
            return fail(error, size, "out of memory");
        }
        if (split_segments(c, field + strlen("lead.attributes.")) != 0) {
            return fail(error, size,
                        "%s: \"%s\" is not an attribute path; write lead.attributes.<name>, "
                        "or lead.attributes.<name>.<name> for a nested one",
                        path, field);
        }
        return 0;
    }
    if (starts_with(field, "lead.") &&
        in_list(field + strlen("lead."), lead_text_fields,
                sizeof(lead_text_fields) / sizeof(lead_text_fields[0]))) {
        c->kind = FIELD_LEAD;
        c->name = strdup(field + strlen("lead."));
        c->label = strdup(field + strlen("lead."));
        return c->name != NULL && c->label != NULL ? 0 : fail(error, size, "out of memory");
    }
    if (starts_with(field, "identities.") && field[strlen("identities.")] != '\0') {
        c->kind = FIELD_IDENTITY;
        c->name = strdup(field + strlen("identities."));
        c->label = strdup(field);
        return c->name != NULL && c->label != NULL ? 0 : fail(error, size, "out of memory");
    }
    if (starts_with(field, "events.")) {
        const char *glob = field + strlen("events.");
        if (!scorer_event_glob_valid(glob)) {
            size_t count;
            const char *const *types = scorer_event_types(&count);
            did_you_mean(scorer_suggest(glob, types, count), "events.", hint, sizeof(hint));
            return fail(error, size,
                        "%s: unknown event type \"%s\"%s; use a type of docs/events.md, "
                        "custom.<name>, or a glob such as meeting.*",
                        path, glob, hint);
        }
        c->kind = FIELD_EVENTS;
        c->name = strdup(glob);
        c->label = strdup(glob);
        return c->name != NULL && c->label != NULL ? 0 : fail(error, size, "out of memory");
    }
    did_you_mean(
        scorer_suggest(field, known_fields, sizeof(known_fields) / sizeof(known_fields[0])), "",
        hint, sizeof(hint));
    return fail(error, size, "%s: unknown field \"%s\"%s; " FIELDS_HINT, path, field, hint);
}

/* A text field (lead.<field>, identities.<source>) compares with strings only. */
static bool is_text_field(const struct condition *c)
{
    return c->kind == FIELD_LEAD || c->kind == FIELD_IDENTITY;
}

static int check_scalar(const struct condition *c, const json_t *value, const char *path,
                        char *error, size_t size)
{
    if (json_is_string(value)) {
        return 0;
    }
    if (is_text_field(c)) {
        return fail(error, size, "%s: %s is text: compare it with a string (quote numbers)", path,
                    c->field);
    }
    if (json_is_number(value) || json_is_boolean(value)) {
        return 0;
    }
    return fail(error, size, "%s: compare with a string, a number or true/false", path);
}

static int parse_level(const json_t *value, const char *path, int *level_out, char *error,
                       size_t size)
{
    size_t count;
    const char *const *names = seniority_names(&count);
    const char *name = json_string_value(value);
    int level = name != NULL ? seniority_from_name(name) : -1;
    if (level < 0) {
        char hint[96];
        did_you_mean(name != NULL ? scorer_suggest(name, names, count) : NULL, "", hint,
                     sizeof(hint));
        return fail(error, size,
                    "%s: \"%s\" is not a seniority level%s; levels: c_level, founder, vp, head, "
                    "director, manager, other",
                    path, name != NULL ? name : "(not a string)", hint);
    }
    *level_out = level;
    return 0;
}

static int parse_seniority(struct condition *c, const json_t *value, const char *path, char *error,
                           size_t size)
{
    int level = 0;
    if (!json_is_array(value)) {
        if (parse_level(value, path, &level, error, size) != 0) {
            return -1;
        }
        c->seniority_mask = 1U << level;
        return 0;
    }
    if (json_array_size(value) == 0) {
        return fail(error, size, "%s: the list is empty; name at least one level", path);
    }
    size_t i;
    const json_t *item;
    json_array_foreach(value, i, item)
    {
        char item_path[RULES_ERROR_SIZE + 32];
        snprintf(item_path, sizeof(item_path), "%s[%zu]", path, i);
        if (parse_level(item, item_path, &level, error, size) != 0) {
            return -1;
        }
        c->seniority_mask |= 1U << level;
    }
    return 0;
}

static int parse_regex(struct condition *c, const json_t *value, const char *path, char *error,
                       size_t size)
{
    const char *source = json_string_value(value);
    if (source == NULL || source[0] == '\0') {
        return fail(error, size, "%s: write a regular expression (POSIX extended) as a string",
                    path);
    }
    int code = regcomp(&c->regex, source, REG_EXTENDED | REG_ICASE | REG_NOSUB);
    if (code != 0) {
        char reason[128];
        regerror(code, &c->regex, reason, sizeof(reason));
        /* a failed regcomp leaves nothing to regfree */
        return fail(error, size, "%s: \"%.200s\" is not a valid regular expression: %s", path,
                    source, reason);
    }
    c->regex_src = strdup(source);
    if (c->regex_src == NULL) {
        regfree(&c->regex);
        return fail(error, size, "out of memory");
    }
    return 0;
}

static int parse_count(const json_t *value, long long *out, const char *path, char *error,
                       size_t size)
{
    if (!json_is_integer(value) || json_integer_value(value) < 0 ||
        json_integer_value(value) > MAX_COUNT) {
        return fail(error, size, "%s: write a whole number of events, 0 to %d", path, MAX_COUNT);
    }
    *out = (long long)json_integer_value(value);
    return 0;
}

static int parse_within(struct condition *c, const json_t *value, const char *path, char *error,
                        size_t size)
{
    if (json_is_number(value)) {
        return fail(error, size, "%s: a duration needs a unit: write e.g. 30d, 12h or 90m", path);
    }
    const char *text = json_string_value(value);
    int64_t ms = 0;
    if (text == NULL || scorer_parse_duration(text, &ms) != 0 || ms <= 0) {
        return fail(error, size,
                    "%s: \"%s\" is not a duration; write a number and a unit (ms, s, m, h, d), "
                    "e.g. 30d or 1h30m",
                    path, text != NULL ? text : "(not a string)");
    }
    c->within_ms = ms;
    return 0;
}

/* Operators of a field's mapping that are not for this field, or misspelt. */
static int unknown_operator(const struct condition *c, const char *op, const char *path,
                            char *error, size_t size)
{
    if (strcmp(op, "free_mail") == 0 && c->kind != FIELD_EVENTS) {
        return fail(error, size, "%s: free_mail applies to lead.email only", path);
    }
    if ((strcmp(op, "seniority") == 0 || strcmp(op, "min_seniority") == 0) &&
        c->kind != FIELD_EVENTS) {
        return fail(error, size, "%s: %s applies to lead.title only", path, op);
    }
    const char *const *ops = c->kind == FIELD_EVENTS ? event_operators : value_operators;
    size_t count = c->kind == FIELD_EVENTS ? sizeof(event_operators) / sizeof(event_operators[0])
                                           : sizeof(value_operators) / sizeof(value_operators[0]);
    char hint[96];
    did_you_mean(scorer_suggest(op, ops, count), "", hint, sizeof(hint));
    const char *listed = c->kind == FIELD_EVENTS ? "at_least, at_most, within"
                         : strcmp(c->field, "lead.email") == 0
                             ? "exists, equals, in, contains, regex, free_mail"
                         : strcmp(c->field, "lead.title") == 0
                             ? "exists, equals, in, contains, regex, seniority, min_seniority"
                             : "exists, equals, in, contains, regex";
    return fail(error, size, "%s: unknown operator \"%s\"%s; operators for %s: %s", path, op, hint,
                c->field, listed);
}

static int parse_value_operator(struct condition *c, const char *op, const json_t *value,
                                const char *path, char *error, size_t size)
{
    bool is_email = strcmp(c->field, "lead.email") == 0;
    bool is_title = strcmp(c->field, "lead.title") == 0;
    if (strcmp(op, "exists") == 0) {
        if (!json_is_boolean(value)) {
            return fail(error, size, "%s: write true or false", path);
        }
        c->exists = json_is_true(value);
        return 0;
    }
    if (strcmp(op, "equals") == 0) {
        if (check_scalar(c, value, path, error, size) != 0) {
            return -1;
        }
        c->equals = json_deep_copy(value);
        return c->equals != NULL ? 0 : fail(error, size, "out of memory");
    }
    if (strcmp(op, "in") == 0) {
        if (!json_is_array(value) || json_array_size(value) == 0) {
            return fail(error, size, "%s: write a non-empty list of values", path);
        }
        size_t i;
        const json_t *item;
        json_array_foreach(value, i, item)
        {
            char item_path[RULES_ERROR_SIZE + 32];
            snprintf(item_path, sizeof(item_path), "%s[%zu]", path, i);
            if (check_scalar(c, item, item_path, error, size) != 0) {
                return -1;
            }
        }
        c->in = json_deep_copy(value);
        return c->in != NULL ? 0 : fail(error, size, "out of memory");
    }
    if (strcmp(op, "contains") == 0) {
        const char *text = json_string_value(value);
        if (text == NULL || text[0] == '\0') {
            return fail(error, size, "%s: write the text to look for, a non-empty string", path);
        }
        c->contains = strdup(text);
        return c->contains != NULL ? 0 : fail(error, size, "out of memory");
    }
    if (strcmp(op, "regex") == 0) {
        return parse_regex(c, value, path, error, size);
    }
    if (strcmp(op, "free_mail") == 0 && is_email) {
        if (!json_is_boolean(value)) {
            return fail(error, size, "%s: write true or false", path);
        }
        c->free_mail = json_is_true(value);
        return 0;
    }
    if (strcmp(op, "seniority") == 0 && is_title) {
        return parse_seniority(c, value, path, error, size);
    }
    if (strcmp(op, "min_seniority") == 0 && is_title) {
        return parse_level(value, path, &c->min_seniority, error, size);
    }
    return unknown_operator(c, op, path, error, size);
}

static int parse_event_operator(struct condition *c, const char *op, const json_t *value,
                                const char *path, char *error, size_t size)
{
    if (strcmp(op, "at_least") == 0) {
        return parse_count(value, &c->at_least, path, error, size);
    }
    if (strcmp(op, "at_most") == 0) {
        return parse_count(value, &c->at_most, path, error, size);
    }
    if (strcmp(op, "within") == 0) {
        return parse_within(c, value, path, error, size);
    }
    return unknown_operator(c, op, path, error, size);
}

int condition_parse(struct condition *c, const char *field, const json_t *spec, const char *path,
                    char *error, size_t size)
{
    c->exists = -1;
    c->free_mail = -1;
    c->min_seniority = -1;
    c->at_least = -1;
    c->at_most = -1;
    c->field = strdup(field);
    if (c->field == NULL) {
        return fail(error, size, "out of memory");
    }
    if (classify_field(c, path, error, size) != 0) {
        return -1;
    }
    if (!json_is_object(spec) || json_object_size(spec) == 0) {
        return fail(error, size, "%s: write a mapping of operators, e.g. {%s}", path,
                    c->kind == FIELD_EVENTS ? "at_least: 1, within: 30d" : "exists: true");
    }
    const char *op;
    const json_t *value;
    json_object_foreach((json_t *)spec, op, value)
    {
        char op_path[RULES_ERROR_SIZE];
        snprintf(op_path, sizeof(op_path), "%s.%s", path, op);
        int status = c->kind == FIELD_EVENTS
                         ? parse_event_operator(c, op, value, op_path, error, size)
                         : parse_value_operator(c, op, value, op_path, error, size);
        if (status != 0) {
            return -1;
        }
    }
    if (c->exists == 0 && json_object_size(spec) > 1) {
        return fail(error, size,
                    "%s: exists: false holds only for an absent value, which no other operator "
                    "matches; write exists: false alone",
                    path);
    }
    if (c->kind == FIELD_EVENTS) {
        if (c->at_least < 0 && c->at_most < 0) {
            c->at_least = 1;
        }
        if (c->at_least >= 0 && c->at_most >= 0 && c->at_least > c->at_most) {
            return fail(error, size, "%s: at_least (%lld) is more than at_most (%lld)", path,
                        c->at_least, c->at_most);
        }
    }
    return 0;
}

void condition_free(struct condition *c)
{
    free(c->field);
    free(c->label);
    free(c->name);
    for (size_t i = 0; i < c->segment_count; i++) {
        free(c->segments[i]);
    }
    free(c->segments);
    json_decref(c->equals);
    json_decref(c->in);
    free(c->contains);
    if (c->regex_src != NULL) {
        regfree(&c->regex);
        free(c->regex_src);
    }
    memset(c, 0, sizeof(*c));
}
