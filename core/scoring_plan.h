/*
 * scoring_plan.h - the `scoring` section of the main config: which scorer instances run,
 * in which order, with which settings, thresholds and event window.
 *
 *   scoring:
 *     - name: fit                 # [a-z0-9_-], unique among scorers and connector instances
 *       plugin: rules
 *       settings: {...}           # checked against the plugin's schema
 *       thresholds: {hot: 70, warm: 40}
 *       window: 90d               # events and meetings in the snapshot (default 90d)
 *     - name: overall             # a composite comes after its parts
 *       plugin: composite
 *       settings: {parts: [{scorer: fit, weight: 1}]}
 */
#ifndef LEADHUB_SCORING_PLAN_H
#define LEADHUB_SCORING_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "config.h"
#include "diag.h"
#include "loader.h"

struct scoring_band {
    char *name;
    double min; /* the band holds scores >= min */
};

struct scorer_def {
    struct config_instance instance; /* name, plugin, settings as written, file, lines */
    json_t *settings;                /* normalized; owned */
    struct scoring_band *bands;      /* sorted by min, highest first */
    size_t band_count;
    int64_t window_ms;
    const struct plugin *plugin; /* borrowed from the registry */
};

struct scoring_plan {
    struct scorer_def *scorers; /* in config order (the order they run in) */
    size_t count;
};

/*
 * scoring_plan_build - parse and check config->scoring: entries against their schema,
 * names unique (among scorers and connector instances: a scorer's name is the `source` of
 * the lead.scored events it causes), plugins that exist and are scorers, settings against
 * the plugin's schema (messages name "scoring[i].settings.<key>"), thresholds numbers in
 * 0..100 under identifier names, and a composite's parts naming scorers listed before it.
 *   Returns a new plan (possibly empty), or NULL when diags got errors.
 */
struct scoring_plan *scoring_plan_build(const struct config *config,
                                        const struct plugin_registry *plugins,
                                        struct diag_list *diags);

void scoring_plan_free(struct scoring_plan *plan);

/* scoring_band - the band a score falls in: the highest band whose min it reaches, or
 * "none". The string is owned by the definition. */
const char *scoring_band(const struct scorer_def *scorer, double score);

#endif
