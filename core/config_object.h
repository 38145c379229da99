/*
 * config_object.h - check a mapping against a field table (lh_config_field_t, the same
 * tables plugins declare). One engine for plugin settings, the main file and instance
 * files, so every part of the config reports mistakes the same way.
 */
#ifndef LEADHUB_CONFIG_OBJECT_H
#define LEADHUB_CONFIG_OBJECT_H

#include <jansson.h>

#include "config_where.h"
#include "diag.h"
#include "leadhub.h"

/*
 * config_object_validate - unknown keys (error; the hint lists the allowed ones and
 * suggests a close one), each known value by its type (config_value_normalize, references
 * resolved), missing required keys (the hint is the field's description), defaults filled.
 * All mistakes are reported, not only the first.
 *   object: borrowed; anything but a mapping is an error.
 *   schema: borrowed; terminated by LH_FIELD_END; assumed well formed.
 *   prefix: key path of the object ("settings", "http"), "" for a file's top level.
 *   Returns a NEW object of normalized values (a field absent without a default is absent),
 *   or NULL when errors were added to diags.
 */
json_t *config_object_validate(const json_t *object, const lh_config_field_t *schema,
                               const char *prefix, const struct config_where *where,
                               struct diag_list *diags);

/*
 * config_object_normalize - the same checks, but returns what did check out even when
 * other keys had errors: the caller can go on checking those values and report every
 * mistake in one run. NEW object, or NULL when object is not a mapping (error added) or
 * memory ran out.
 */
json_t *config_object_normalize(const json_t *object, const lh_config_field_t *schema,
                                const char *prefix, const struct config_where *where,
                                struct diag_list *diags);

#endif
