/*
 * rules.c - the `rules` scorer: fit and behaviour rules, HubSpot style.
 *
 * Each rule has conditions on the lead's fields, attributes, identities and event counts,
 * and points (negative allowed). A rule whose conditions all hold adds its points to its
 * group; each group may be capped (max) and floored (min); the groups' sum, capped at
 * max_score and floored at 0, is the score. The explanation lists every rule that held,
 * then every cap and floor that applied, as contributions that add up to the score.
 *
 * docs/scoring.md is the user's reference, with a worked example that
 * plugins/rules/tests/test_rules.c runs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules.h"
#include "scorer_common.h"

#define OUT_OF_MEMORY "out of memory"

static const lh_config_field_t rules_schema[] = {
    LH_FIELD(.name = "rules", .type = LH_CONFIG_JSON, .flags = LH_FIELD_REQUIRED,
             .description =
                 "The rules: a list of {name, points, group, when}, where `when` maps fields "
                 "(lead.<field>, lead.attributes.<name>, identities.<source>, events.<type>) "
                 "to conditions; see docs/scoring.md."),
    LH_FIELD(.name = "groups", .type = LH_CONFIG_JSON,
             .description = "Groups of rules with caps on their sum: {fit: {max: 60}, behaviour: "
                            "{max: 40, min: -20}}."),
    LH_FIELD(.name = "max_score", .type = LH_CONFIG_DOUBLE,
             .flags = LH_FIELD_HAS_MIN | LH_FIELD_HAS_MAX, .default_value = "100", .min = 1,
             .max = 100,
             .description = "The overall cap: a larger sum of points scores this much."),
    LH_FIELD(.name = "free_mail_domains", .type = LH_CONFIG_LIST,
             .description =
                 "Email domains (or globs such as mail.*) of free-mail providers, added to "
                 "the built-in list."),
    LH_FIELD(.name = "free_mail_builtin", .type = LH_CONFIG_BOOL, .default_value = "true",
             .description = "Whether the built-in free-mail list applies; false leaves "
                            "free_mail_domains alone."),
    LH_FIELD_END,
};

static void rules_destroy(void *state_ptr)
{
    struct rules_state *state = state_ptr;
    if (state == NULL) {
        return;
    }
    rules_config_free(state);
    free_mail_free(&state->free_mail);
    free(state);
}

/* Reads the settings into a new state (*state_out, NULL on failure): the rules compiled,
 * regexes included. Shared by validate() and init(), so that what check-config accepts
 * init() accepts too. */
static lh_status_t rules_load(lh_ctx_t *ctx, const lh_host_t *host, const json_t *settings,
                              struct rules_state **state_out)
{
    *state_out = NULL;
    struct rules_state *state = calloc(1, sizeof(*state));
    if (state == NULL) {
        host->set_error(ctx, OUT_OF_MEMORY);
        return LH_RETRY;
    }
    state->host = host;
    state->max_score = lh_setting_double(settings, "max_score", 100);
    char error[RULES_ERROR_SIZE] = "";
    if (free_mail_init(&state->free_mail, lh_setting_bool(settings, "free_mail_builtin", 1),
                       json_object_get(settings, "free_mail_domains"), error, sizeof(error)) != 0 ||
        rules_config_parse(state, settings, error, sizeof(error)) != 0) {
        rules_destroy(state);
        return scorer_refuse_settings(host, ctx, error);
    }
    *state_out = state;
    return LH_OK;
}

static lh_status_t rules_validate(lh_ctx_t *ctx, const lh_host_t *host, const json_t *settings)
{
    struct rules_state *state = NULL;
    lh_status_t status = rules_load(ctx, host, settings, &state);
    rules_destroy(state);
    return status;
}

static lh_status_t rules_init(lh_ctx_t *ctx, const lh_host_t *host, const json_t *settings,
                              void **state_out)
{
    struct rules_state *state = NULL;
    lh_status_t status = rules_load(ctx, host, settings, &state);
    *state_out = state;
    return status;
}

/* Appends {"rule", "points", "why"}; -1 when out of memory. */
static int add_contribution(json_t *contributions, const char *rule, double points, const char *why)
{
    return json_array_append_new(contributions, json_pack("{s:s, s:f, s:s}", "rule", rule, "points",
                                                          scorer_round2(points), "why", why));
}

/*
 * The snapshot's events that have a type and a valid occurred_at, into view (a malloc'd
 * array the caller frees); the others are counted in *skipped. -1 when `events` is there
 * but not a list, or out of memory.
 */
static int collect_events(const json_t *events, struct lead_view *view, size_t *skipped,
                          struct scored_event **storage)
{
    *storage = NULL;
    *skipped = 0;
    if (events == NULL) {
        return 0;
    }
    if (!json_is_array(events)) {
        return -1;
    }
    *storage = calloc(json_array_size(events) + 1, sizeof(**storage));
    if (*storage == NULL) {
        return -1;
    }
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
        (*storage)[view->event_count++] = (struct scored_event){type, at_ms};
    }
    view->events = *storage;
    return 0;
}

/* Adds the caps and floors of the groups and of the total; returns the score. */
static double apply_caps(const struct rules_state *state, const double *group_sums,
                         double ungrouped, json_t *contributions, int *failed)
{
    char name[RULES_ERROR_SIZE];
    char why[RULES_WHY_SIZE];
    char limit[32], sum[32];
    double total = ungrouped;
    for (size_t g = 0; g < state->group_count; g++) {
        const struct group *group = &state->groups[g];
        double capped = group_sums[g];
        scorer_format_number(group_sums[g], 2, sum, sizeof(sum));
        if (group->has_max && capped > group->max) {
            capped = group->max;
            scorer_format_number(group->max, 6, limit, sizeof(limit));
            snprintf(name, sizeof(name), "cap:%s", group->name);
            snprintf(why, sizeof(why), "group %s is capped at %s (its rules gave %s)", group->name,
                     limit, sum);
            *failed |= add_contribution(contributions, name, capped - group_sums[g], why);
        } else if (group->has_min && capped < group->min) {
            capped = group->min;
            scorer_format_number(group->min, 6, limit, sizeof(limit));
            snprintf(name, sizeof(name), "floor:%s", group->name);
            snprintf(why, sizeof(why), "group %s is floored at %s (its rules gave %s)", group->name,
                     limit, sum);
            *failed |= add_contribution(contributions, name, capped - group_sums[g], why);
        }
        total += capped;
    }
    scorer_format_number(total, 2, sum, sizeof(sum));
    if (total > state->max_score) {
        scorer_format_number(state->max_score, 6, limit, sizeof(limit));
        snprintf(why, sizeof(why), "the total is capped at max_score %s (it was %s)", limit, sum);
        *failed |= add_contribution(contributions, "cap:total", state->max_score - total, why);
        return state->max_score;
    }
    if (total < 0) {
        snprintf(why, sizeof(why), "a score is never below 0 (the total was %s)", sum);
        *failed |= add_contribution(contributions, "floor:total", -total, why);
        return 0;
    }
    return total;
}

static lh_status_t rules_score(void *state_ptr, lh_ctx_t *ctx, const json_t *snapshot,
                               json_t **result_out)
{
    const struct rules_state *state = state_ptr;
    const lh_host_t *host = state->host;
    struct lead_view view = {0};
    if (!json_is_object(snapshot)) {
        host->set_error(ctx, "snapshot: not an object");
        return LH_PERMANENT;
    }
    if (scorer_parse_time(json_string_value(json_object_get(snapshot, "now")), &view.now_ms) != 0) {
        host->set_error(ctx, "snapshot.now: missing or not an RFC 3339 time");
        return LH_PERMANENT;
    }
    view.lead = json_object_get(snapshot, "lead");
    if (!json_is_object(view.lead)) {
        host->set_error(ctx, "snapshot.lead: missing or not an object");
        return LH_PERMANENT;
    }
    view.identities = json_object_get(snapshot, "identities");
    if (view.identities != NULL && !json_is_array(view.identities)) {
        host->set_error(ctx, "snapshot.identities: not a list");
        return LH_PERMANENT;
    }
    const json_t *events = json_object_get(snapshot, "events");
    if (events != NULL && !json_is_array(events)) {
        host->set_error(ctx, "snapshot.events: not a list");
        return LH_PERMANENT;
    }
    struct scored_event *storage = NULL;
    size_t skipped = 0;
    double *group_sums = calloc(state->group_count + 1, sizeof(*group_sums));
    json_t *contributions = json_array();
    int failed = group_sums == NULL || contributions == NULL ||
                 collect_events(events, &view, &skipped, &storage) != 0;
    double ungrouped = 0;
    char why[RULES_WHY_SIZE];
    for (size_t i = 0; i < state->rule_count && !failed; i++) {
        const struct rule *rule = &state->rules[i];
        if (!rule_matches(state, rule, &view, why, sizeof(why))) {
            continue;
        }
        failed |= add_contribution(contributions, rule->name, rule->points, why);
        if (rule->group >= 0) {
            group_sums[rule->group] += rule->points;
        } else {
            ungrouped += rule->points;
        }
    }
    double score = failed ? 0 : apply_caps(state, group_sums, ungrouped, contributions, &failed);
    if (!failed && skipped > 0) {
        snprintf(why, sizeof(why), "%zu event%s without a type or a valid occurred_at not counted",
                 skipped, skipped == 1 ? "" : "s");
        failed |= add_contribution(contributions, "note:skipped_events", 0, why);
    }
    json_t *result = failed ? NULL
                            : json_pack("{s:f, s:O}", "score", scorer_round2(score),
                                        "contributions", contributions);
    json_decref(contributions);
    free(group_sums);
    free(storage);
    if (result == NULL) {
        host->set_error(ctx, OUT_OF_MEMORY);
        return LH_RETRY;
    }
    *result_out = result;
    return LH_OK;
}

static const lh_plugin_t rules_plugin = {
    LH_PLUGIN_HEADER,
    .kind = LH_KIND_SCORER,
    /* score() only reads what init() compiled */
    .flags = LH_PLUGIN_REENTRANT,
    .name = "rules",
    .version = "1.0.0",
    .description = "Scores leads with fit and behaviour rules: conditions on fields, title "
                   "seniority, free-mail domains and event counts, grouped and capped.",
    .config_schema = rules_schema,
    .validate = rules_validate,
    .init = rules_init,
    .destroy = rules_destroy,
    .score = rules_score,
};

LH_PLUGIN_DECLARE(rules_plugin)
