/*
 * binding.h - binds a config to the plugins on its plugin path: loads them, and checks
 * every connector instance against its plugin (found, not refused, settings valid).
 * `leadhubd run` and `leadhubd check-config` share it, so they can never disagree.
 */
#ifndef LEADHUB_BINDING_H
#define LEADHUB_BINDING_H

#include <stdbool.h>

#include <jansson.h>

#include "config.h"
#include "diag.h"
#include "loader.h"

/*
 * binding_load_plugins - scan config->plugin_path, or loader_default_path() when the
 * config names none, into reg. A refused plugin becomes an error diagnostic when an
 * enabled instance uses it, a warning otherwise.
 */
void binding_load_plugins(const struct config *config, struct plugin_registry *reg,
                          struct diag_list *diags);

/*
 * binding_validate_settings - an instance's (or a scorer's) settings checked against its
 * plugin's schema, then by the plugin's validate() (offline: no instance runs); every
 * problem an error diagnostic at "settings.<key>" in ci->file.
 *   Returns the normalized settings (NEW), or NULL when they are invalid.
 */
json_t *binding_validate_settings(const struct config_instance *ci, const struct plugin *plugin,
                                  struct diag_list *diags);

/*
 * binding_check_instances - for every instance (disabled ones too when include_disabled):
 * an error when its plugin is unknown (the available ones listed), and its settings
 * validated against the plugin's schema and by its validate().
 *   settings_out: NULL, or an array of config->instance_count slots receiving a NEW
 *                 reference to each valid instance's normalized settings (NULL for the
 *                 others); the caller decrefs them.
 */
void binding_check_instances(const struct config *config, const struct plugin_registry *reg,
                             bool include_disabled, json_t **settings_out, struct diag_list *diags);

#endif
