/*
 * engagement.c - the `engagement` scorer: recent activity, decayed by age.
 *
 * Each event of the snapshot whose type has a weight is worth
 *
 *     weight * 2^(-age / half_life)          (age measured from the snapshot's `now`)
 *
 * and the sum S of those values becomes the score through a bounded, increasing curve:
 *
 *     score = 100 * (1 - e^(-S / scale))  for S > 0,   0 for S <= 0.
 *
 * The explanation has one contribution per event type (its decayed points, largest first)
 * and a last one, `curve`, for what the curve adds or takes, so that they add up to the
 * score. docs/scoring.md works an example by hand; plugins/engagement/tests runs it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engagement.h"
#include "scorer_common.h"

#define OUT_OF_MEMORY "out of memory"
#define WHY_SIZE      512

static const lh_config_field_t engagement_schema[] = {
    LH_FIELD(.name = "weights", .type = LH_CONFIG_JSON,
             .default_value = "{email.replied: 10, meeting.scheduled: 30, meeting.canceled: -15, "
                              "payment.succeeded: 50}",
             .description =
                 "Points of one event of each type when it is new: event types, or globs "
                 "such as meeting.*, to numbers (negative allowed). Other types count 0."),
    LH_FIELD(.name = "half_life", .type = LH_CONFIG_DURATION,
             .flags = LH_FIELD_HAS_MIN | LH_FIELD_HAS_MAX, .default_value = "14d", .min = 60000,
             .max = 315360000000.0,
             .description = "Age at which an event is worth half its weight."),
    LH_FIELD(.name = "scale", .type = LH_CONFIG_DOUBLE,
             .flags = LH_FIELD_HAS_MIN | LH_FIELD_HAS_MAX, .default_value = "50", .min = 1,
             .max = 1000000,
             .description = "Decayed points at which the score reaches 63.2 (100 * (1 - 1/e)); "
                            "twice as many reach 86.5."),
    LH_FIELD(.name = "max_age", .type = LH_CONFIG_DURATION, .flags = LH_FIELD_HAS_MIN, .min = 60000,
             .description = "Events older than this count nothing. Without it, every event of the "
                            "snapshot counts, however small its decayed value."),
    LH_FIELD_END,
};

struct engagement_state {
    const lh_host_t *host;
    struct weights weights;
    int64_t half_life_ms;
    double scale;
    int64_t max_age_ms; /* 0: none */
};

/* The events of one type in a snapshot. */
struct type_total {
    const char *type; /* borrowed from the snapshot */
    const struct weight *weight;
    double points; /* decayed */
    size_t count;
    int64_t newest_age_ms, oldest_age_ms;
};

static void engagement_destroy(void *state_ptr)
{
    struct engagement_state *state = state_ptr;
    if (state == NULL) {
        return;
    }
    weights_free(&state->weights);
    free(state);
}

/* Reads the settings into a new state (*state_out, NULL on failure): shared by validate()
 * and init(). */
static lh_status_t engagement_load(lh_ctx_t *ctx, const lh_host_t *host, const json_t *settings,
                                   struct engagement_state **state_out)
{
    *state_out = NULL;
    struct engagement_state *state = calloc(1, sizeof(*state));
    if (state == NULL) {
        host->set_error(ctx, OUT_OF_MEMORY);
        return LH_RETRY;
    }
    state->host = host;
    state->half_life_ms = lh_setting_int(settings, "half_life", 14 * SCORER_MS_PER_DAY);
    state->scale = lh_setting_double(settings, "scale", 50);
    state->max_age_ms = lh_setting_int(settings, "max_age", 0);
    char error[ENGAGEMENT_ERROR_SIZE] = "";
    int status = -1;
    if (state->half_life_ms <= 0 || !(state->scale > 0)) {
        /* the schema's minimums keep these away; a host that did not check them is wrong */
        snprintf(error, sizeof(error), "half_life and scale must be positive");
    } else {
        status = weights_parse(&state->weights, json_object_get(settings, "weights"), error,
                               sizeof(error));
    }
    if (status != 0) {
        engagement_destroy(state);
        return scorer_refuse_settings(host, ctx, error);
    }
    *state_out = state;
    return LH_OK;
}

static lh_status_t engagement_validate(lh_ctx_t *ctx, const lh_host_t *host, const json_t *settings)
{
    struct engagement_state *state = NULL;
    lh_status_t status = engagement_load(ctx, host, settings, &state);
    engagement_destroy(state);
    return status;
}

static lh_status_t engagement_init(lh_ctx_t *ctx, const lh_host_t *host, const json_t *settings,
                                   void **state_out)
{
    struct engagement_state *state = NULL;
    lh_status_t status = engagement_load(ctx, host, settings, &state);
    *state_out = state;
    return status;
}

/* Largest points first; equal points by type name, so the order never depends on the
 * snapshot's. */
static int compare_totals(const void *a, const void *b)
{
    const struct type_total *x = a, *y = b;
    if (x->points != y->points) {
        return x->points > y->points ? -1 : 1;
    }
    return strcmp(x->type, y->type);
}

static struct type_total *total_for(struct type_total *totals, size_t *count, const char *type,
                                    const struct weight *weight)
{
    for (size_t i = 0; i < *count; i++) {
        if (strcmp(totals[i].type, type) == 0) {
            return &totals[i];
        }
    }
    totals[*count] = (struct type_total){.type = type, .weight = weight};
    return &totals[(*count)++];
}

/* Sums the weighted events of the snapshot into totals (one per type). */
static void add_events(const struct engagement_state *state, const json_t *events, int64_t now_ms,
                       struct type_total *totals, size_t *total_count, size_t *skipped)
{
    size_t i;
    const json_t *event;
    json_array_foreach(events, i, event)
    {
        const char *type = json_string_value(json_object_get(event, "type"));
        int64_t at_ms;
        if (type == NULL ||
            scorer_parse_time(json_string_value(json_object_get(event, "occurred_at")), &at_ms) !=
                0) {
            (*skipped)++;
            continue;
        }
        const struct weight *weight = weights_find(&state->weights, type);
        /* an event after `now` (clock skew between providers) counts as happening now */
        int64_t age_ms = now_ms > at_ms ? now_ms - at_ms : 0;
        if (weight == NULL || weight->points == 0 ||
            (state->max_age_ms > 0 && age_ms > state->max_age_ms)) {
            continue;
        }
        struct type_total *total = total_for(totals, total_count, type, weight);
        total->points += weight->points * decay_factor(age_ms, state->half_life_ms);
        if (total->count == 0 || age_ms < total->newest_age_ms) {
            total->newest_age_ms = age_ms;
        }
        if (total->count == 0 || age_ms > total->oldest_age_ms) {
            total->oldest_age_ms = age_ms;
        }
        total->count++;
    }
}

static int add_contribution(json_t *contributions, const char *rule, double points, const char *why)
{
    return json_array_append_new(contributions, json_pack("{s:s, s:f, s:s}", "rule", rule, "points",
                                                          scorer_round2(points), "why", why));
}

/* "2 events worth 10 each, 14d to 28d ago, halved every 14d" */
static void describe_total(const struct engagement_state *state, const struct type_total *total,
                           char *why, size_t size)
{
    char weight[32], newest[32], oldest[32], half_life[32], glob[80] = "";
    scorer_format_number(total->weight->points, 6, weight, sizeof(weight));
    scorer_format_age(total->newest_age_ms, newest, sizeof(newest));
    scorer_format_age(total->oldest_age_ms, oldest, sizeof(oldest));
    scorer_format_duration(state->half_life_ms, half_life, sizeof(half_life));
    if (total->weight->is_glob) {
        snprintf(glob, sizeof(glob), " (%.64s)", total->weight->pattern);
    }
    if (total->count == 1) {
        snprintf(why, size, "1 event worth %s%s, %s ago, halved every %s", weight, glob, newest,
                 half_life);
    } else {
        snprintf(why, size, "%zu events worth %s each%s, %s to %s ago, halved every %s",
                 total->count, weight, glob, newest, oldest, half_life);
    }
}

/* The contributions for totals (sorted), then `curve`; the score in *score_out. */
static int explain(const struct engagement_state *state, struct type_total *totals, size_t count,
                   json_t *contributions, double *score_out)
{
    char why[WHY_SIZE];
    double sum = 0, listed = 0;
    int failed = 0;
    qsort(totals, count, sizeof(*totals), compare_totals);
    for (size_t i = 0; i < count; i++) {
        describe_total(state, &totals[i], why, sizeof(why));
        failed |= add_contribution(contributions, totals[i].type, totals[i].points, why);
        sum += totals[i].points;
        listed += scorer_round2(totals[i].points);
    }
    double score = scorer_round2(decay_curve(sum, state->scale));
    char shown_sum[32], scale[32], shown_score[32];
    scorer_format_number(sum, 2, shown_sum, sizeof(shown_sum));
    scorer_format_number(state->scale, 6, scale, sizeof(scale));
    scorer_format_number(score, 2, shown_score, sizeof(shown_score));
    if (count == 0) {
        snprintf(why, sizeof(why), "no weighted events: the score is 0");
    } else if (!(sum > 0)) {
        snprintf(why, sizeof(why), "the decayed sum %s is not positive: the score is 0", shown_sum);
    } else {
        snprintf(why, sizeof(why), "the decayed sum %s gives 100 * (1 - exp(-%s / %s)) = %s",
                 shown_sum, shown_sum, scale, shown_score);
    }
    /* what the curve adds or takes, against the rounded points listed above */
    failed |= add_contribution(contributions, "curve", score - listed, why);
    *score_out = score;
    return failed;
}

static lh_status_t engagement_score(void *state_ptr, lh_ctx_t *ctx, const json_t *snapshot,
                                    json_t **result_out)
{
    const struct engagement_state *state = state_ptr;
    const lh_host_t *host = state->host;
    int64_t now_ms;
    if (!json_is_object(snapshot)) {
        host->set_error(ctx, "snapshot: not an object");
        return LH_PERMANENT;
    }
    if (scorer_parse_time(json_string_value(json_object_get(snapshot, "now")), &now_ms) != 0) {
        host->set_error(ctx, "snapshot.now: missing or not an RFC 3339 time");
        return LH_PERMANENT;
    }
    const json_t *events = json_object_get(snapshot, "events");
    if (events != NULL && !json_is_array(events)) {
        host->set_error(ctx, "snapshot.events: not a list");
        return LH_PERMANENT;
    }
    size_t count = 0, skipped = 0;
    struct type_total *totals = calloc(json_array_size(events) + 1, sizeof(*totals));
    json_t *contributions = json_array();
    double score = 0;
    int failed = totals == NULL || contributions == NULL;
    if (!failed) {
        add_events(state, events, now_ms, totals, &count, &skipped);
        failed = explain(state, totals, count, contributions, &score);
    }
    if (!failed && skipped > 0) {
        char why[WHY_SIZE];
        snprintf(why, sizeof(why), "%zu event%s without a type or a valid occurred_at not counted",
                 skipped, skipped == 1 ? "" : "s");
        failed |= add_contribution(contributions, "note:skipped_events", 0, why);
    }
    json_t *result =
        failed ? NULL : json_pack("{s:f, s:O}", "score", score, "contributions", contributions);
    json_decref(contributions);
    free(totals);
    if (result == NULL) {
        host->set_error(ctx, OUT_OF_MEMORY);
        return LH_RETRY;
    }
    *result_out = result;
    return LH_OK;
}

static const lh_plugin_t engagement_plugin = {
    LH_PLUGIN_HEADER,
    .kind = LH_KIND_SCORER,
    /* score() only reads what init() built */
    .flags = LH_PLUGIN_REENTRANT,
    .name = "engagement",
    .version = "1.0.0",
    .description = "Scores leads by recent activity: weighted events decayed with a half-life, "
                   "mapped to 0-100.",
    .config_schema = engagement_schema,
    .validate = engagement_validate,
    .init = engagement_init,
    .destroy = engagement_destroy,
    .score = engagement_score,
};

LH_PLUGIN_DECLARE(engagement_plugin)
