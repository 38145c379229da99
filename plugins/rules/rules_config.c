/*
 * rules_config.c - the `groups` and `rules` settings, checked and compiled. They are JSON
 * settings (the host checks only that they are there), so every check of their shape is
 * here, each refusal naming the setting path: "rules[2].when.lead.title.regex: ...".
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules.h"
#include "scorer_common.h"

#define NAME_MAX_LENGTH 64
#define POINTS_LIMIT    1e6

static const char *const rule_keys[] = {"name", "group", "points", "when"};
static const char *const group_keys[] = {"max", "min"};

static int fail(char *error, size_t size, const char *fmt, ...) LH_PRINTF(3, 4);

static int fail(char *error, size_t size, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    vsnprintf(error, size, fmt, args);
    va_end(args);
    return -1;
}

/* -1 when `key` is not in `keys`, with the message naming it and the allowed keys. */
static int check_keys(const json_t *object, const char *const *keys, size_t count, const char *path,
                      const char *what, const char *allowed, char *error, size_t size)
{
    const char *key;
    const json_t *value;
    json_object_foreach((json_t *)object, key, value)
    {
        bool known = false;
        for (size_t i = 0; i < count; i++) {
            known |= strcmp(key, keys[i]) == 0;
        }
        if (!known) {
            const char *suggestion = scorer_suggest(key, keys, count);
            char hint[96] = "";
            if (suggestion != NULL) {
                snprintf(hint, sizeof(hint), " (did you mean %s?)", suggestion);
            }
            return fail(error, size, "%s.%s: unknown key%s; %s has %s", path, key, hint, what,
                        allowed);
        }
    }
    return 0;
}

/* Rule names: letters, digits, '_', '-', '.'; ':' stays free for the entries the scorer
 * adds itself ("cap:fit"). */
static bool rule_name_valid(const char *name)
{
    size_t length = strlen(name);
    if (length == 0 || length > NAME_MAX_LENGTH) {
        return false;
    }
    for (const char *p = name; *p != '\0'; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.')) {
            return false;
        }
    }
    return true;
}

/* Group names: [a-z][a-z0-9_]*, and not "total" (the name of the overall cap). */
static bool group_name_valid(const char *name)
{
    size_t length = strlen(name);
    if (length == 0 || length > NAME_MAX_LENGTH || name[0] < 'a' || name[0] > 'z' ||
        strcmp(name, "total") == 0) {
        return false;
    }
    for (const char *p = name; *p != '\0'; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_')) {
            return false;
        }
    }
    return true;
}

static int parse_bound(const json_t *spec, const char *key, const char *path, bool *has,
                       double *out, char *error, size_t size)
{
    const json_t *value = json_object_get(spec, key);
    if (value == NULL) {
        return 0;
    }
    if (!json_is_number(value) || !isfinite(json_number_value(value))) {
        return fail(error, size, "%s.%s: write a number of points", path, key);
    }
    *has = true;
    *out = json_number_value(value);
    return 0;
}

static int parse_groups(struct rules_state *state, const json_t *groups, char *error, size_t size)
{
    if (!json_is_object(groups)) {
        return fail(error, size,
                    "groups: write a mapping of group names to caps, e.g. "
                    "{fit: {max: 60}, behaviour: {max: 40}}");
    }
    state->groups = calloc(json_object_size(groups) + 1, sizeof(*state->groups));
    if (state->groups == NULL) {
        return fail(error, size, "out of memory");
    }
    const char *name;
    const json_t *spec;
    json_object_foreach((json_t *)groups, name, spec)
    {
        char path[RULES_ERROR_SIZE];
        snprintf(path, sizeof(path), "groups.%s", name);
        if (!group_name_valid(name)) {
            return fail(error, size,
                        "%s: \"%s\" is not a group name; use lowercase letters, digits and '_', "
                        "starting with a letter (\"total\" is reserved)",
                        path, name);
        }
        struct group *group = &state->groups[state->group_count];
        group->name = strdup(name);
        if (group->name == NULL) {
            return fail(error, size, "out of memory");
        }
        state->group_count++;
        if (json_is_null(spec)) {
            continue; /* a group without caps: a label for its rules */
        }
        if (!json_is_object(spec)) {
            return fail(error, size, "%s: write {max: N} and/or {min: N}, or {} for no caps", path);
        }
        if (check_keys(spec, group_keys, 2, path, "a group", "max and min", error, size) != 0 ||
            parse_bound(spec, "max", path, &group->has_max, &group->max, error, size) != 0 ||
            parse_bound(spec, "min", path, &group->has_min, &group->min, error, size) != 0) {
            return -1;
        }
        if (group->has_max && group->has_min && group->min > group->max) {
            return fail(error, size, "%s: min is more than max", path);
        }
    }
    return 0;
}

static int find_group(const struct rules_state *state, const char *name)
{
    for (size_t i = 0; i < state->group_count; i++) {
        if (strcmp(state->groups[i].name, name) == 0) {
            return (int)i;
        }
    }
    return -1;
}

static int parse_rule_group(const struct rules_state *state, struct rule *rule, const json_t *value,
                            const char *path, char *error, size_t size)
{
    const char *name = json_string_value(value);
    if (name == NULL) {
        return fail(error, size, "%s.group: write the name of a group declared under groups", path);
    }
    rule->group = find_group(state, name);
    if (rule->group >= 0) {
        return 0;
    }
    const char *names[64];
    size_t count = state->group_count < 64 ? state->group_count : 64;
    char declared[512] = "";
    size_t used = 0;
    for (size_t i = 0; i < count; i++) {
        names[i] = state->groups[i].name;
        int n = snprintf(declared + used, sizeof(declared) - used, "%s%s", i ? ", " : "", names[i]);
        used += n > 0 && (size_t)n < sizeof(declared) - used ? (size_t)n : 0;
    }
    const char *suggestion = scorer_suggest(name, names, count);
    return fail(error, size, "%s.group: \"%s\" is not declared under groups%s%s%s; declared: %s",
                path, name, suggestion ? " (did you mean " : "", suggestion ? suggestion : "",
                suggestion ? "?)" : "", count ? declared : "none");
}

static int parse_when(struct rule *rule, const json_t *when, const char *path, char *error,
                      size_t size)
{
    if (!json_is_object(when) || json_object_size(when) == 0) {
        return fail(error, size,
                    "%s.when: write a mapping of fields to conditions, e.g. "
                    "{lead.title: {min_seniority: director}}",
                    path);
    }
    rule->conditions = calloc(json_object_size(when), sizeof(*rule->conditions));
    if (rule->conditions == NULL) {
        return fail(error, size, "out of memory");
    }
    const char *field;
    const json_t *spec;
    json_object_foreach((json_t *)when, field, spec)
    {
        char field_path[RULES_ERROR_SIZE];
        snprintf(field_path, sizeof(field_path), "%s.when.%s", path, field);
        struct condition *c = &rule->conditions[rule->condition_count++];
        if (condition_parse(c, field, spec, field_path, error, size) != 0) {
            return -1;
        }
    }
    return 0;
}

static int parse_rule(struct rules_state *state, size_t index, const json_t *item, char *error,
                      size_t size)
{
    char path[64];
    snprintf(path, sizeof(path), "rules[%zu]", index);
    struct rule *rule = &state->rules[index];
    rule->group = -1;
    if (!json_is_object(item)) {
        return fail(error, size, "%s: write a mapping with name, points and when", path);
    }
    if (check_keys(item, rule_keys, sizeof(rule_keys) / sizeof(rule_keys[0]), path, "a rule",
                   "name, group, points and when", error, size) != 0) {
        return -1;
    }
    const char *name = json_string_value(json_object_get(item, "name"));
    if (name == NULL || !rule_name_valid(name)) {
        return fail(error, size,
                    "%s.name: %s; a rule needs a name of 1 to %d letters, digits, '_', '-' "
                    "or '.', shown in its score's explanation",
                    path, name == NULL ? "missing" : "not a valid name", NAME_MAX_LENGTH);
    }
    for (size_t i = 0; i < index; i++) {
        if (state->rules[i].name != NULL && strcmp(state->rules[i].name, name) == 0) {
            return fail(error, size, "%s.name: \"%s\" is also the name of rules[%zu]", path, name,
                        i);
        }
    }
    rule->name = strdup(name);
    if (rule->name == NULL) {
        return fail(error, size, "out of memory");
    }
    const json_t *points = json_object_get(item, "points");
    double value = json_number_value(points);
    if (!json_is_number(points) || !isfinite(value) || value > POINTS_LIMIT ||
        value < -POINTS_LIMIT) {
        return fail(error, size, "%s.points: %s; write a number (negative to subtract)", path,
                    points == NULL ? "missing" : "not a number between -1000000 and 1000000");
    }
    rule->points = value;
    const json_t *group = json_object_get(item, "group");
    if (group != NULL && parse_rule_group(state, rule, group, path, error, size) != 0) {
        return -1;
    }
    return parse_when(rule, json_object_get(item, "when"), path, error, size);
}

int rules_config_parse(struct rules_state *state, const json_t *settings, char *error, size_t size)
{
    const json_t *groups = json_object_get(settings, "groups");
    if (groups != NULL && parse_groups(state, groups, error, size) != 0) {
        return -1;
    }
    const json_t *rules = json_object_get(settings, "rules");
    if (!json_is_array(rules) || json_array_size(rules) == 0) {
        return fail(error, size,
                    "rules: write a non-empty list of rules, each {name, points, when}");
    }
    state->rules = calloc(json_array_size(rules), sizeof(*state->rules));
    if (state->rules == NULL) {
        return fail(error, size, "out of memory");
    }
    size_t i;
    const json_t *item;
    json_array_foreach(rules, i, item)
    {
        state->rule_count++;
        if (parse_rule(state, i, item, error, size) != 0) {
            return -1;
        }
    }
    return 0;
}

void rules_config_free(struct rules_state *state)
{
    for (size_t i = 0; i < state->rule_count; i++) {
        struct rule *rule = &state->rules[i];
        for (size_t j = 0; j < rule->condition_count; j++) {
            condition_free(&rule->conditions[j]);
        }
        free(rule->conditions);
        free(rule->name);
    }
    free(state->rules);
    for (size_t i = 0; i < state->group_count; i++) {
        free(state->groups[i].name);
    }
    free(state->groups);
    state->rules = NULL;
    state->groups = NULL;
    state->rule_count = state->group_count = 0;
}
