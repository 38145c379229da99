/*
 * scoring_plan.c - the `scoring` section, checked with the same schema engine as the rest
 * of the config and the same settings validation as connector instances.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "binding.h"
#include "config_internal.h"
#include "config_object.h"
#include "config_suggest.h"
#include "config_where.h"
#include "scoring_plan.h"
#include "util.h"

#define NO_RANGE 0, 0

static const lh_config_field_t scorer_fields[] = {
    {CONFIG_FIELD_SIZE, "name", LH_CONFIG_STRING, LH_FIELD_REQUIRED, NULL, NO_RANGE, NULL,
     "The scorer's name, [a-z0-9_-]: lead_scores and lead.scored events carry it."},
    {CONFIG_FIELD_SIZE, "plugin", LH_CONFIG_STRING, LH_FIELD_REQUIRED, NULL, NO_RANGE, NULL,
     "A scorer plugin: rules, engagement, composite, ..."},
    {CONFIG_FIELD_SIZE, "settings", LH_CONFIG_JSON, 0, "{}", NO_RANGE, NULL,
     "The plugin's settings."},
    {CONFIG_FIELD_SIZE, "thresholds", LH_CONFIG_JSON, 0, "{}", NO_RANGE, NULL,
     "Bands by lowest score, e.g. {hot: 70, warm: 40}: crossing one emits lead.scored."},
    {CONFIG_FIELD_SIZE, "window", LH_CONFIG_DURATION, LH_FIELD_HAS_MIN, "90d", 60000, 0, NULL,
     "How far back the events and meetings in a lead's snapshot reach."},
    LH_FIELD_END,
};

static void scorer_clear(struct scorer_def *s)
{
    config_instance_clear(&s->instance);
    json_decref(s->settings);
    for (size_t b = 0; b < s->band_count; b++) {
        free(s->bands[b].name);
    }
    free(s->bands);
}

void scoring_plan_free(struct scoring_plan *plan)
{
    if (plan == NULL) {
        return;
    }
    for (size_t i = 0; i < plan->count; i++) {
        scorer_clear(&plan->scorers[i]);
    }
    free(plan->scorers);
    free(plan);
}

const char *scoring_band(const struct scorer_def *scorer, double score)
{
    for (size_t b = 0; b < scorer->band_count; b++) {
        if (score >= scorer->bands[b].min) {
            return scorer->bands[b].name;
        }
    }
    return "none";
}

static int compare_bands(const void *a, const void *b)
{
    double x = ((const struct scoring_band *)a)->min;
    double y = ((const struct scoring_band *)b)->min;
    return x < y ? 1 : x > y ? -1 : 0;
}

static void parse_thresholds(struct scorer_def *s, const json_t *thresholds, const char *prefix,
                             const struct config_where *where, struct diag_list *diags)
{
    char *key = util_printf("%s.thresholds", prefix);
    if (!json_is_object(thresholds)) {
        config_where_error(diags, where, key, NULL, "write a mapping such as {hot: 70, warm: 40}",
                           "expected a mapping of band name -> lowest score");
        free(key);
        return;
    }
    s->bands = calloc(json_object_size(thresholds) + 1, sizeof(*s->bands));
    const char *band;
    json_t *value;
    json_object_foreach((json_t *)thresholds, band, value)
    {
        char *band_key = util_printf("%s.%s", key, band);
        if (!util_identifier_valid(band) || strcmp(band, "none") == 0) {
            config_where_error(diags, where, band_key, NULL,
                               "name bands [a-z][a-z0-9_]* (\"none\" is below every band)",
                               "\"%s\" is not a band name", band);
        } else if (!json_is_number(value) || json_number_value(value) < 0 ||
                   json_number_value(value) > 100) {
            config_where_error(diags, where, band_key, NULL, "scores run from 0 to 100",
                               "expected a number from 0 to 100");
        } else if (s->bands != NULL) {
            s->bands[s->band_count].name = strdup(band);
            s->bands[s->band_count].min = json_number_value(value);
            s->band_count++;
        }
        free(band_key);
    }
    if (s->bands != NULL) {
        qsort(s->bands, s->band_count, sizeof(*s->bands), compare_bands);
    }
    free(key);
}

/* The line map of the main file seen from one entry: "scoring[2].settings.x" -> "settings.x". */
static json_t *entry_lines(const json_t *lines, const char *prefix)
{
    json_t *out = json_object();
    size_t n = strlen(prefix);
    const char *key;
    json_t *line;
    json_object_foreach((json_t *)lines, key, line)
    {
        if (strncmp(key, prefix, n) == 0 && key[n] == '.') {
            json_object_set(out, key + n + 1, line);
        }
    }
    return out;
}

static bool name_taken(const struct config *config, const struct scoring_plan *plan,
                       const char *name, size_t upto)
{
    for (size_t i = 0; i < upto; i++) {
        if (plan->scorers[i].instance.name != NULL &&
            strcmp(plan->scorers[i].instance.name, name) == 0) {
            return true;
        }
    }
    return config_instance_find(config, name) != NULL;
}

static void parse_scorer(struct scoring_plan *plan, size_t index, const struct config *config,
                         const struct plugin_registry *plugins, const struct config_where *where,
                         struct diag_list *diags)
{
    struct scorer_def *s = &plan->scorers[index];
    char *prefix = config_key_index("scoring", index);
    json_t *values = config_object_validate(json_array_get(config->scoring, index), scorer_fields,
                                            prefix, where, diags);
    if (values == NULL) {
        free(prefix);
        return;
    }
    const char *name = json_string_value(json_object_get(values, "name"));
    const char *plugin_name = json_string_value(json_object_get(values, "plugin"));
    char *name_key = util_printf("%s.name", prefix);
    char *plugin_key = util_printf("%s.plugin", prefix);
    if (!util_instance_name_valid(name)) {
        config_where_error(diags, where, name_key, NULL, "use [a-z0-9_-], at most 63 characters",
                           "\"%s\" is not a valid scorer name", name);
    } else if (name_taken(config, plan, name, index)) {
        config_where_error(diags, where, name_key, NULL,
                           "scorers and connector instances share one namespace: rename it",
                           "the name \"%s\" is already used", name);
    }
    s->plugin = loader_find(plugins, plugin_name);
    if (s->plugin == NULL) {
        if (loader_find_refused(plugins, plugin_name) == NULL) {
            config_where_error(diags, where, plugin_key, NULL,
                               "`leadhubd plugins` lists the plugins found",
                               "unknown plugin \"%s\"", plugin_name);
        }
    } else if (s->plugin->desc->kind != LH_KIND_SCORER) {
        config_where_error(diags, where, plugin_key, NULL, "use a scorer plugin here",
                           "\"%s\" is a %s plugin, not a scorer", plugin_name,
                           loader_kind_name(s->plugin->desc->kind));
        s->plugin = NULL;
    }
    s->instance = (struct config_instance){
        .name = strdup(name),
        .plugin = strdup(plugin_name),
        .enabled = true,
        .settings = json_incref(json_object_get(values, "settings")),
        .file = strdup(config->file),
        .lines = entry_lines(config->lines, prefix),
    };
    s->window_ms = json_integer_value(json_object_get(values, "window"));
    parse_thresholds(s, json_object_get(values, "thresholds"), prefix, where, diags);
    if (s->plugin != NULL) {
        size_t before = diags->count;
        s->settings = binding_validate_settings(&s->instance, s->plugin, diags);
        /* The validator speaks of "settings.x"; here that is "scoring[i].settings.x". */
        for (size_t d = before; d < diags->count; d++) {
            char *key = util_printf("%s.%s", prefix,
                                    diags->items[d].key != NULL ? diags->items[d].key : "settings");
            if (key != NULL) {
                free(diags->items[d].key);
                diags->items[d].key = key;
            }
        }
    }
    free(name_key);
    free(plugin_key);
    json_decref(values);
    free(prefix);
}

/*
 * A composite reads its parts' results of the same pass, so each part must name a scorer
 * listed before it. The plugin's init() sees only its own settings; the order is the
 * plan's, so it is checked here. Note: the SDK has no way for a plugin to declare the
 * scorers it reads, so this knows the shipped `composite` plugin's `parts` by name; an
 * entry that is not {scorer: NAME, ...} is left to the plugin's own check.
 */
static void check_composite_parts(const struct scoring_plan *plan, size_t index,
                                  const struct config_where *where, struct diag_list *diags)
{
    const struct scorer_def *s = &plan->scorers[index];
    if (s->plugin == NULL || s->settings == NULL || strcmp(s->plugin->name, "composite") != 0) {
        return;
    }
    const char **before = calloc(index + 1, sizeof(*before));
    if (before == NULL) {
        diag_add(diags, DIAG_ERROR, where->file, 0, "scoring", NULL, NULL, "out of memory");
        return;
    }
    for (size_t i = 0; i < index; i++) {
        before[i] = plan->scorers[i].instance.name;
    }
    size_t k;
    const json_t *part;
    json_array_foreach(json_object_get(s->settings, "parts"), k, part)
    {
        const char *name = json_string_value(json_object_get(part, "scorer"));
        if (name == NULL || strcmp(name, s->instance.name) == 0) {
            continue; /* the plugin's init() names these */
        }
        size_t at = 0;
        while (at < plan->count && strcmp(plan->scorers[at].instance.name, name) != 0) {
            at++;
        }
        if (at < index) {
            continue;
        }
        char *key = util_printf("scoring[%zu].settings.parts[%zu].scorer", index, k);
        if (at < plan->count) {
            char *hint = util_printf("move \"%s\" above \"%s\" in scoring", name, s->instance.name);
            config_where_error(diags, where, key, NULL, hint,
                               "scorer \"%s\" is listed after composite \"%s\" (scoring[%zu]): "
                               "a composite reads only the scores computed before it",
                               name, s->instance.name, at);
            free(hint);
        } else {
            char *hint = index > 0
                             ? config_suggest_hint(name, before, index, "scorers listed before it")
                             : strdup("list the scorers it combines before it in scoring");
            config_where_error(diags, where, key, NULL, hint, "\"%s\" names no scorer in scoring",
                               name);
            free(hint);
        }
        free(key);
    }
    free(before);
}

struct scoring_plan *scoring_plan_build(const struct config *config,
                                        const struct plugin_registry *plugins,
                                        struct diag_list *diags)
{
    size_t errors_before = diag_error_count(diags);
    struct config_where where = {.file = config->file, .lines = config->lines};
    size_t n = json_array_size(config->scoring);
    struct scoring_plan *plan = calloc(1, sizeof(*plan));
    if (plan == NULL || (plan->scorers = calloc(n + 1, sizeof(*plan->scorers))) == NULL) {
        free(plan);
        diag_add(diags, DIAG_ERROR, config->file, 0, "scoring", NULL, NULL, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        parse_scorer(plan, i, config, plugins, &where, diags);
        plan->count++;
    }
    for (size_t i = 0; i < plan->count; i++) {
        check_composite_parts(plan, i, &where, diags);
    }
    if (diag_error_count(diags) > errors_before) {
        scoring_plan_free(plan);
        return NULL;
    }
    return plan;
}
