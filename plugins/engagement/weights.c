/*
 * weights.c - the weights setting: event types (or globs of them) to points. It is a JSON
 * setting, unchecked by the host, so its whole shape is checked here, each refusal naming
 * the key: "weights.email.replyed: unknown event type ...".
 */
#include <fnmatch.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engagement.h"
#include "scorer_common.h"

#define POINTS_LIMIT 1e6

static int fail(char *error, size_t size, const char *fmt, ...) LH_PRINTF(3, 4);

static int fail(char *error, size_t size, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    vsnprintf(error, size, fmt, args);
    va_end(args);
    return -1;
}

int weights_parse(struct weights *weights, const json_t *setting, char *error, size_t size)
{
    if (!json_is_object(setting) || json_object_size(setting) == 0) {
        return fail(error, size,
                    "weights: write a mapping of event types to points, e.g. "
                    "{email.replied: 10, meeting.scheduled: 30}");
    }
    weights->items = calloc(json_object_size(setting), sizeof(*weights->items));
    if (weights->items == NULL) {
        return fail(error, size, "out of memory");
    }
    const char *type;
    const json_t *value;
    json_object_foreach((json_t *)setting, type, value)
    {
        if (!scorer_event_glob_valid(type)) {
            size_t count;
            const char *const *types = scorer_event_types(&count);
            const char *suggestion = scorer_suggest(type, types, count);
            return fail(error, size,
                        "weights.%s: unknown event type \"%s\"%s%s%s; use a type of "
                        "docs/events.md, custom.<name>, or a glob such as meeting.*",
                        type, type, suggestion ? " (did you mean " : "",
                        suggestion ? suggestion : "", suggestion ? "?)" : "");
        }
        double points = json_number_value(value);
        if (!json_is_number(value) || !isfinite(points) || points > POINTS_LIMIT ||
            points < -POINTS_LIMIT) {
            return fail(error, size,
                        "weights.%s: write a number of points, -1000000 to 1000000 (negative "
                        "for events that cool a lead down)",
                        type);
        }
        struct weight *weight = &weights->items[weights->count];
        weight->pattern = strdup(type);
        if (weight->pattern == NULL) {
            return fail(error, size, "out of memory");
        }
        weight->is_glob = strpbrk(type, "*?[") != NULL;
        weight->points = points;
        weights->count++;
    }
    return 0;
}

void weights_free(struct weights *weights)
{
    for (size_t i = 0; i < weights->count; i++) {
        free(weights->items[i].pattern);
    }
    free(weights->items);
    weights->items = NULL;
    weights->count = 0;
}

const struct weight *weights_find(const struct weights *weights, const char *type)
{
    for (size_t i = 0; i < weights->count; i++) {
        if (!weights->items[i].is_glob && strcmp(weights->items[i].pattern, type) == 0) {
            return &weights->items[i];
        }
    }
    for (size_t i = 0; i < weights->count; i++) {
        if (weights->items[i].is_glob && fnmatch(weights->items[i].pattern, type, 0) == 0) {
            return &weights->items[i];
        }
    }
    return NULL;
}
