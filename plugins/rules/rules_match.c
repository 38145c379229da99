/*
 * rules_match.c - does a rule hold for a lead snapshot, and why.
 *
 * Values: a lead field, attribute or identity that is missing, null, "" or [] is absent.
 * Strings compare ignoring case (equals, in, contains; regex is compiled with REG_ICASE),
 * numbers by value, booleans as themselves. An attribute that is a list matches when one
 * of its elements does. Reads only the compiled rules and the snapshot: reentrant.
 */
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "rules.h"
#include "scorer_common.h"

/* Longest value quoted in an explanation, in bytes. */
#define SHOW_MAX 80

static void why_add(char *why, size_t size, const char *fmt, ...) LH_PRINTF(3, 4);

/* Appends one reason, "; "-separated; what does not fit is cut. */
static void why_add(char *why, size_t size, const char *fmt, ...)
{
    size_t used = strlen(why);
    if (used > 0 && used + 2 < size) {
        memcpy(why + used, "; ", 3);
        used += 2;
    }
    if (used + 1 >= size) {
        return;
    }
    va_list args;
    va_start(args, fmt);
    vsnprintf(why + used, size - used, fmt, args);
    va_end(args);
}

/* Text as an explanation quotes it: in quotes, cut at SHOW_MAX bytes on a UTF-8
 * character boundary, control characters as spaces. */
static void show_text(const char *text, char *out, size_t size)
{
    size_t length = strlen(text);
    size_t cut = length;
    if (cut > SHOW_MAX) {
        cut = SHOW_MAX;
        while (cut > 0 && ((unsigned char)text[cut] & 0xC0) == 0x80) {
            cut--; /* back to the first byte of the character SHOW_MAX falls in */
        }
    }
    if (size < cut + 6) {
        out[0] = '\0';
        return;
    }
    size_t o = 0;
    out[o++] = '"';
    for (size_t i = 0; i < cut; i++) {
        unsigned char c = (unsigned char)text[i];
        out[o++] = (char)(c < 0x20 || c == 0x7f ? ' ' : c);
    }
    if (cut < length) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o++] = '"';
    out[o] = '\0';
}

/* A scalar value as an explanation shows it: numbers and booleans bare, text quoted. */
static void show(const json_t *value, char *out, size_t size)
{
    if (json_is_number(value)) {
        scorer_format_number(json_number_value(value), 6, out, size);
    } else if (json_is_boolean(value)) {
        snprintf(out, size, "%s", json_is_true(value) ? "true" : "false");
    } else {
        show_text(json_is_string(value) ? json_string_value(value) : "", out, size);
    }
}

static bool is_absent(const json_t *value)
{
    return value == NULL || json_is_null(value) ||
           (json_is_string(value) && json_string_length(value) == 0) ||
           (json_is_array(value) && json_array_size(value) == 0);
}

static const json_t *identity_of(const json_t *identities, const char *source)
{
    size_t i;
    const json_t *identity;
    json_array_foreach(identities, i, identity)
    {
        const char *name = json_string_value(json_object_get(identity, "source"));
        if (name != NULL && strcmp(name, source) == 0) {
            return json_object_get(identity, "external_id");
        }
    }
    return NULL;
}

/* The value a condition looks at, or NULL when absent. */
static const json_t *field_value(const struct condition *c, const struct lead_view *view)
{
    const json_t *value = NULL;
    switch (c->kind) {
    case FIELD_LEAD:
        value = json_object_get(view->lead, c->name);
        break;
    case FIELD_ATTRIBUTE:
        value = json_object_get(view->lead, "attributes");
        for (size_t i = 0; i < c->segment_count && value != NULL; i++) {
            value = json_is_object(value) ? json_object_get(value, c->segments[i]) : NULL;
        }
        break;
    case FIELD_IDENTITY:
        value = view->identities != NULL ? identity_of(view->identities, c->name) : NULL;
        break;
    case FIELD_EVENTS:
        break;
    }
    return is_absent(value) ? NULL : value;
}

static bool scalar_equals(const json_t *value, const json_t *expected)
{
    if (json_is_string(value) && json_is_string(expected)) {
        return strcasecmp(json_string_value(value), json_string_value(expected)) == 0;
    }
    if (json_is_number(value) && json_is_number(expected)) {
        return json_number_value(value) == json_number_value(expected);
    }
    if (json_is_boolean(value) && json_is_boolean(expected)) {
        return json_is_true(value) == json_is_true(expected);
    }
    return false;
}

typedef bool (*value_test_fn)(const struct condition *c, const json_t *value);

static bool test_equals(const struct condition *c, const json_t *value)
{
    return scalar_equals(value, c->equals);
}

static bool test_in(const struct condition *c, const json_t *value)
{
    size_t i;
    const json_t *item;
    json_array_foreach(c->in, i, item)
    {
        if (scalar_equals(value, item)) {
            return true;
        }
    }
    return false;
}

static bool test_contains(const struct condition *c, const json_t *value)
{
    return json_is_string(value) && strcasestr(json_string_value(value), c->contains) != NULL;
}

static bool test_regex(const struct condition *c, const json_t *value)
{
    /* regexec only reads the compiled pattern: safe from several threads at once */
    return json_is_string(value) && regexec(&c->regex, json_string_value(value), 0, NULL, 0) == 0;
}

/* The value, or the first element of a list value, that `test` accepts; NULL for none. */
static const json_t *find_match(const struct condition *c, const json_t *value, value_test_fn test)
{
    if (!json_is_array(value)) {
        return test(c, value) ? value : NULL;
    }
    size_t i;
    const json_t *item;
    json_array_foreach(value, i, item)
    {
        if (test(c, item)) {
            return item;
        }
    }
    return NULL;
}

static bool events_hold(const struct condition *c, const struct lead_view *view, char *why,
                        size_t size)
{
    long long count = 0;
    for (size_t i = 0; i < view->event_count; i++) {
        const struct scored_event *event = &view->events[i];
        /* an event after `now` (clock skew between providers) counts as happening now */
        if (fnmatch(c->name, event->type, 0) == 0 &&
            (c->within_ms == 0 || view->now_ms - event->at_ms <= c->within_ms)) {
            count++;
        }
    }
    if ((c->at_least >= 0 && count < c->at_least) || (c->at_most >= 0 && count > c->at_most)) {
        return false;
    }
    char window[48] = "in the scoring window";
    if (c->within_ms > 0) {
        char duration[32];
        scorer_format_duration(c->within_ms, duration, sizeof(duration));
        snprintf(window, sizeof(window), "in the last %s", duration);
    }
    char bounds[64];
    if (c->at_least >= 0 && c->at_most >= 0) {
        snprintf(bounds, sizeof(bounds), "%lld to %lld", c->at_least, c->at_most);
    } else if (c->at_least >= 0) {
        snprintf(bounds, sizeof(bounds), "at least %lld", c->at_least);
    } else {
        snprintf(bounds, sizeof(bounds), "at most %lld", c->at_most);
    }
    why_add(why, size, "%lld %s event%s %s (%s)", count, c->name, count == 1 ? "" : "s", window,
            bounds);
    return true;
}

static bool free_mail_holds(const struct rules_state *state, const struct condition *c,
                            const json_t *value, char *why, size_t size)
{
    const char *email = json_string_value(value);
    const char *at = email != NULL ? strrchr(email, '@') : NULL;
    if (at == NULL || at[1] == '\0') {
        return false;
    }
    bool free_mail = free_mail_match(&state->free_mail, at + 1);
    if (free_mail != (c->free_mail == 1)) {
        return false;
    }
    why_add(why, size, "email domain %.*s is %sa free-mail provider", SHOW_MAX, at + 1,
            free_mail ? "" : "not ");
    return true;
}

static bool seniority_holds(const struct condition *c, const json_t *value, char *why, size_t size)
{
    if (!json_is_string(value)) {
        return false;
    }
    enum seniority level = seniority_of_title(json_string_value(value));
    char shown[SHOW_MAX + 8];
    show(value, shown, sizeof(shown));
    if (c->seniority_mask != 0) {
        if ((c->seniority_mask & (1U << level)) == 0) {
            return false;
        }
        why_add(why, size, "%s %s is %s", c->label, shown, seniority_name(level));
    }
    if (c->min_seniority >= 0) {
        if ((int)level < c->min_seniority) {
            return false;
        }
        why_add(why, size, "%s %s is %s, at least %s", c->label, shown, seniority_name(level),
                seniority_name((enum seniority)c->min_seniority));
    }
    return true;
}

/* One value operator: false when it is asked and does not hold. */
static bool operator_holds(const struct condition *c, const json_t *value, value_test_fn test,
                           const char *verb, const char *operand, char *why, size_t size)
{
    const json_t *match = find_match(c, value, test);
    if (match == NULL) {
        return false;
    }
    char shown[SHOW_MAX + 8];
    show(match, shown, sizeof(shown));
    if (operand == NULL) {
        why_add(why, size, "%s %s %s", c->label, verb, shown);
    } else {
        why_add(why, size, "%s %s %s %s", c->label, shown, verb, operand);
    }
    return true;
}

static bool only_exists_asked(const struct condition *c)
{
    return c->equals == NULL && c->in == NULL && c->contains == NULL && c->regex_src == NULL &&
           c->free_mail < 0 && c->seniority_mask == 0 && c->min_seniority < 0;
}

static bool condition_holds(const struct rules_state *state, const struct condition *c,
                            const struct lead_view *view, char *why, size_t size)
{
    if (c->kind == FIELD_EVENTS) {
        return events_hold(c, view, why, size);
    }
    const json_t *value = field_value(c, view);
    if (value == NULL) {
        if (c->exists == 0) {
            why_add(why, size, "%s is absent", c->label);
            return true;
        }
        return false;
    }
    if (c->exists == 0) {
        return false;
    }
    if (c->exists == 1 && only_exists_asked(c)) {
        why_add(why, size, "%s is present", c->label);
    }
    char operand[SHOW_MAX + 8];
    if (c->equals != NULL && !operator_holds(c, value, test_equals, "is", NULL, why, size)) {
        return false;
    }
    if (c->in != NULL && !operator_holds(c, value, test_in, "is", NULL, why, size)) {
        return false;
    }
    if (c->contains != NULL) {
        show_text(c->contains, operand, sizeof(operand));
        if (!operator_holds(c, value, test_contains, "contains", operand, why, size)) {
            return false;
        }
    }
    if (c->regex_src != NULL) {
        snprintf(operand, sizeof(operand), "/%.*s/", SHOW_MAX, c->regex_src);
        if (!operator_holds(c, value, test_regex, "matches", operand, why, size)) {
            return false;
        }
    }
    if (c->free_mail >= 0 && !free_mail_holds(state, c, value, why, size)) {
        return false;
    }
    if ((c->seniority_mask != 0 || c->min_seniority >= 0) &&
        !seniority_holds(c, value, why, size)) {
        return false;
    }
    return true;
}

bool rule_matches(const struct rules_state *state, const struct rule *rule,
                  const struct lead_view *view, char *why, size_t why_size)
{
    why[0] = '\0';
    for (size_t i = 0; i < rule->condition_count; i++) {
        if (!condition_holds(state, &rule->conditions[i], view, why, why_size)) {
            return false;
        }
    }
    return true;
}
