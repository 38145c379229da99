/*
 * engagement.h - the `engagement` scorer's internals: the weights setting (weights.c) and
 * the arithmetic of decay and of the score curve (decay.c). engagement.c is the plugin.
 */
#ifndef LEADHUB_ENGAGEMENT_H
#define LEADHUB_ENGAGEMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "leadhub.h"

#define ENGAGEMENT_ERROR_SIZE 1024

/* --- weights.c ----------------------------------------------------------------------------- */

/* One entry of the weights setting: an event type or a glob of types, and its points. */
struct weight {
    char *pattern;
    bool is_glob;
    double points;
};

struct weights {
    struct weight *items; /* in the order the setting lists them */
    size_t count;
};

/*
 * weights_parse - check and copy the weights setting, a mapping of event types (or globs
 * such as meeting.*) to points.
 *   Returns 0, or -1 with "weights...: <what is wrong>; <hint>" in `error`; what was built
 *   is left for weights_free() either way.
 */
int weights_parse(struct weights *weights, const json_t *setting, char *error, size_t error_size);
void weights_free(struct weights *weights);

/* weights_find - the entry for `type`: its own, else the first glob that matches it, else
 * NULL. */
const struct weight *weights_find(const struct weights *weights, const char *type);

/* --- decay.c -----------------------------------------------------------------------------------
 */

/* decay_factor - 2^(-age / half_life): 1 for age 0, 0.5 after one half-life. age >= 0. */
double decay_factor(int64_t age_ms, int64_t half_life_ms);

/* decay_curve - 100 * (1 - e^(-sum / scale)) for sum > 0, and 0 otherwise. scale > 0. */
double decay_curve(double sum, double scale);

/* decay_exp - e^x, for the two above: the plugin links no libm (see decay.c). */
double decay_exp(double x);

#endif
