/*
 * config_value.h - one value against one schema field: type check, reference resolution,
 * range, and the normalized form leadhub.h promises plugins (DURATION -> integer ms,
 * DOUBLE -> real, ...). Shared by plugin settings, the main file's sections and the schema
 * check of defaults, so that a default and a written value can never be read differently.
 */
#ifndef LEADHUB_CONFIG_VALUE_H
#define LEADHUB_CONFIG_VALUE_H

#include <stdbool.h>

#include <jansson.h>

#include "config_where.h"
#include "diag.h"
#include "leadhub.h"

/*
 * config_value_normalize - check `value` against `field`.
 *   value:   borrowed, as written in the file.
 *   key:     its key path, for diagnostics ("settings.tolerance").
 *   resolve: resolve references in STRING, INT, DOUBLE, DURATION, ENUM and LIST values
 *            (false for the schema check: a default must not depend on the environment).
 *            SECRET values are always resolved: they must be references.
 *   Returns a NEW reference to the normalized value, or NULL with errors in diags. A
 *   SECRET's value never appears in a diagnostic.
 */
json_t *config_value_normalize(const lh_config_field_t *field, const json_t *value, const char *key,
                               const struct config_where *where, bool resolve,
                               struct diag_list *diags);

/*
 * config_value_default - field->default_value as it would be written in a file: the text
 * itself for STRING, ENUM, DURATION and SECRET; for INT, BOOL, DOUBLE, LIST and JSON the
 * text read as a YAML value ("5", "true", "[read, write]", "{}").
 *   Returns a NEW reference (not yet normalized), or NULL with an error in diags.
 */
json_t *config_value_default(const lh_config_field_t *field, const char *key,
                             const struct config_where *where, struct diag_list *diags);

/* config_value_kind - "a string", "an integer", "a list", ... for messages. */
const char *config_value_kind(const json_t *value);

#endif
