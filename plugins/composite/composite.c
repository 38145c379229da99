/*
 * composite.c - the `composite` scorer: a weighted mean of other scorers' scores.
 *
 *     score = sum(weight_i * score_i) / sum(weight_i)
 *
 * It reads the parts' scores from the snapshot's `scores`, which holds the results of the
 * scorers listed before it in `scoring` in the same pass: a composite is listed after its
 * parts. A part without a score fails the lead's scoring (LH_PERMANENT) rather than
 * silently weighing the others more. The explanation has one contribution per part,
 * weight_i * score_i / sum(weight_i), adding up to the score to within rounding.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scorer_common.h"

#include "leadhub.h"

#define OUT_OF_MEMORY     "out of memory"
#define ERROR_SIZE        512
#define WHY_SIZE          256
#define NAME_MAX_LENGTH   63
#define WEIGHT_LIMIT      1e6
#define NUMBER_TEXT_SIZE  32
#define NUMBER_MAX_DIGITS 6

static const lh_config_field_t composite_schema[] = {
    LH_FIELD(.name = "parts", .type = LH_CONFIG_JSON, .flags = LH_FIELD_REQUIRED,
             .description =
                 "The scorers to combine, each listed earlier in `scoring`: "
                 "[{scorer: fit, weight: 0.6}, {scorer: activity, weight: 0.4}]. Weights "
                 "are relative."),
    LH_FIELD_END,
};

struct part {
    char *scorer;
    double weight;
};

struct composite_state {
    const lh_host_t *host;
    struct part *parts;
    size_t part_count;
    double weight_sum;
};

static int fail(char *error, size_t size, const char *fmt, ...) LH_PRINTF(3, 4);

static int fail(char *error, size_t size, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    vsnprintf(error, size, fmt, args);
    va_end(args);
    return -1;
}

/* Instance names, as the config allows them: 1 to 63 of [a-z0-9_-]. */
static int scorer_name_valid(const char *name)
{
    size_t length = strlen(name);
    if (length == 0 || length > NAME_MAX_LENGTH) {
        return 0;
    }
    for (const char *p = name; *p != '\0'; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-')) {
            return 0;
        }
    }
    return 1;
}

/* v with at most 6 decimals, trailing zeros dropped: 0.6 -> "0.6", 64 -> "64". */
static void format_number(double v, char *out, size_t size)
{
    snprintf(out, size, "%.*f", NUMBER_MAX_DIGITS, v);
    char *dot = strchr(out, '.');
    if (dot != NULL) {
        char *end = out + strlen(out);
        while (end > dot + 1 && end[-1] == '0') {
            *--end = '\0';
        }
        if (end == dot + 1) {
            *dot = '\0';
        }
    }
}

/* v rounded to 2 decimals, halves away from zero: scores are published so. */
static double round2(double v)
{
    double scaled = v * 100.0;
    long long whole = (long long)(scaled + (scaled >= 0 ? 0.5 : -0.5));
    return (double)whole / 100.0;
}

static int parse_part(struct composite_state *state, size_t index, const json_t *item,
                      const char *self, char *error, size_t size)
{
    if (!json_is_object(item)) {
        return fail(error, size, "parts[%zu]: write {scorer: NAME, weight: NUMBER}", index);
    }
    const char *key;
    const json_t *value;
    json_object_foreach((json_t *)item, key, value)
    {
        if (strcmp(key, "scorer") != 0 && strcmp(key, "weight") != 0) {
            return fail(error, size, "parts[%zu].%s: unknown key; a part has scorer and weight",
                        index, key);
        }
    }
    const char *scorer = json_string_value(json_object_get(item, "scorer"));
    if (scorer == NULL || !scorer_name_valid(scorer)) {
        return fail(error, size,
                    "parts[%zu].scorer: %s; write the name of a scorer listed earlier in "
                    "scoring",
                    index, scorer == NULL ? "missing" : "not a scorer's name");
    }
    if (self != NULL && strcmp(scorer, self) == 0) {
        return fail(error, size, "parts[%zu].scorer: \"%s\" is this composite itself", index,
                    scorer);
    }
    for (size_t i = 0; i < index; i++) {
        if (state->parts[i].scorer != NULL && strcmp(state->parts[i].scorer, scorer) == 0) {
            return fail(error, size, "parts[%zu].scorer: \"%s\" is also parts[%zu]", index, scorer,
                        i);
        }
    }
    const json_t *weight = json_object_get(item, "weight");
    double number = json_number_value(weight);
    if (!json_is_number(weight) || !isfinite(number) || !(number > 0) || number > WEIGHT_LIMIT) {
        return fail(error, size,
                    "parts[%zu].weight: %s; write a positive number (weights are relative: 3 "
                    "and 2 weigh like 0.6 and 0.4)",
                    index, weight == NULL ? "missing" : "not a number above 0, up to 1000000");
    }
    struct part *part = &state->parts[index];
    part->scorer = strdup(scorer);
    if (part->scorer == NULL) {
        return fail(error, size, OUT_OF_MEMORY);
    }
    part->weight = number;
    state->part_count++;
    state->weight_sum += number;
    return 0;
}

static void composite_destroy(void *state_ptr)
{
    struct composite_state *state = state_ptr;
    if (state == NULL) {
        return;
    }
    for (size_t i = 0; i < state->part_count; i++) {
        free(state->parts[i].scorer);
    }
    free(state->parts);
    free(state);
}

/* Reads the settings into a new state (*state_out, NULL on failure): shared by validate()
 * and init(). A part may not name this scorer itself (its name: instance_name()). */
static lh_status_t composite_load(lh_ctx_t *ctx, const lh_host_t *host, const json_t *settings,
                                  struct composite_state **state_out)
{
    *state_out = NULL;
    struct composite_state *state = calloc(1, sizeof(*state));
    if (state == NULL) {
        host->set_error(ctx, OUT_OF_MEMORY);
        return LH_RETRY;
    }
    state->host = host;
    char error[ERROR_SIZE] = "";
    const json_t *parts = json_object_get(settings, "parts");
    int status = 0;
    if (!json_is_array(parts) || json_array_size(parts) == 0) {
        status = fail(error, sizeof(error),
                      "parts: write a non-empty list of {scorer, weight}, e.g. "
                      "[{scorer: fit, weight: 0.6}, {scorer: activity, weight: 0.4}]");
    } else if ((state->parts = calloc(json_array_size(parts), sizeof(*state->parts))) == NULL) {
        status = fail(error, sizeof(error), OUT_OF_MEMORY);
    } else {
        const char *self = host->instance_name(ctx);
        for (size_t i = 0; i < json_array_size(parts) && status == 0; i++) {
            status = parse_part(state, i, json_array_get(parts, i), self, error, sizeof(error));
        }
    }
    if (status != 0) {
        composite_destroy(state);
        return scorer_refuse_settings(host, ctx, error);
    }
    *state_out = state;
    return LH_OK;
}

static lh_status_t composite_validate(lh_ctx_t *ctx, const lh_host_t *host, const json_t *settings)
{
    struct composite_state *state = NULL;
    lh_status_t status = composite_load(ctx, host, settings, &state);
    composite_destroy(state);
    return status;
}

static lh_status_t composite_init(lh_ctx_t *ctx, const lh_host_t *host, const json_t *settings,
                                  void **state_out)
{
    struct composite_state *state = NULL;
    lh_status_t status = composite_load(ctx, host, settings, &state);
    *state_out = state;
    return status;
}

/* "fit scored 95 (hot), weighted 0.6 of 1" */
static void describe_part(const struct composite_state *state, const struct part *part,
                          double score, const char *band, char *why, size_t size)
{
    char shown_score[NUMBER_TEXT_SIZE], weight[NUMBER_TEXT_SIZE], sum[NUMBER_TEXT_SIZE];
    char shown_band[80] = "";
    format_number(score, shown_score, sizeof(shown_score));
    format_number(part->weight, weight, sizeof(weight));
    format_number(state->weight_sum, sum, sizeof(sum));
    if (band != NULL) {
        snprintf(shown_band, sizeof(shown_band), " (%.64s)", band);
    }
    snprintf(why, size, "%s scored %s%s, weighted %s of %s", part->scorer, shown_score, shown_band,
             weight, sum);
}

static lh_status_t composite_score(void *state_ptr, lh_ctx_t *ctx, const json_t *snapshot,
                                   json_t **result_out)
{
    const struct composite_state *state = state_ptr;
    const lh_host_t *host = state->host;
    if (!json_is_object(snapshot)) {
        host->set_error(ctx, "snapshot: not an object");
        return LH_PERMANENT;
    }
    const json_t *scores = json_object_get(snapshot, "scores");
    if (scores != NULL && !json_is_object(scores)) {
        host->set_error(ctx, "snapshot.scores: not an object");
        return LH_PERMANENT;
    }
    /* every part is checked before anything is built: a failure has nothing to free */
    for (size_t i = 0; i < state->part_count; i++) {
        const char *name = state->parts[i].scorer;
        const json_t *entry = json_object_get(scores, name);
        const json_t *value = json_object_get(entry, "score");
        double score = json_number_value(value);
        if (entry == NULL) {
            host->set_error(ctx,
                            "scorer \"%s\" has not run before composite: list it earlier in "
                            "scoring (or it failed for this lead)",
                            name);
            return LH_PERMANENT;
        }
        if (!json_is_number(value) || !isfinite(score) || score < 0 || score > 100) {
            host->set_error(ctx, "snapshot.scores.%s.score: not a number from 0 to 100", name);
            return LH_PERMANENT;
        }
    }
    json_t *contributions = json_array();
    double total = 0;
    int failed = contributions == NULL;
    for (size_t i = 0; i < state->part_count && !failed; i++) {
        const struct part *part = &state->parts[i];
        const json_t *entry = json_object_get(scores, part->scorer);
        double score = json_number_value(json_object_get(entry, "score"));
        double points = part->weight * score / state->weight_sum;
        char why[WHY_SIZE];
        describe_part(state, part, score, json_string_value(json_object_get(entry, "band")), why,
                      sizeof(why));
        failed |=
            json_array_append_new(contributions, json_pack("{s:s, s:f, s:s}", "rule", part->scorer,
                                                           "points", round2(points), "why", why));
        total += points;
    }
    /* a mean of numbers from 0 to 100 stays there; the clamp only guards rounding */
    total = total < 0 ? 0 : total > 100 ? 100 : total;
    json_t *result =
        failed ? NULL
               : json_pack("{s:f, s:O}", "score", round2(total), "contributions", contributions);
    json_decref(contributions);
    if (result == NULL) {
        host->set_error(ctx, OUT_OF_MEMORY);
        return LH_RETRY;
    }
    *result_out = result;
    return LH_OK;
}

static const lh_plugin_t composite_plugin = {
    LH_PLUGIN_HEADER,
    .kind = LH_KIND_SCORER,
    /* score() only reads what init() built */
    .flags = LH_PLUGIN_REENTRANT,
    .name = "composite",
    .version = "1.0.0",
    .description = "Scores leads with a weighted mean of the scores of scorers listed before "
                   "it.",
    .config_schema = composite_schema,
    .validate = composite_validate,
    .init = composite_init,
    .destroy = composite_destroy,
    .score = composite_score,
};

LH_PLUGIN_DECLARE(composite_plugin)
