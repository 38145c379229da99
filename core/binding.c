/* binding.c - see binding.h. */
#include <stdlib.h>
#include <string.h>

#include "binding.h"
#include "instance.h"
#include "util.h"

static bool instance_uses(const struct config *config, const char *plugin)
{
    for (size_t i = 0; i < config->instance_count; i++) {
        if (config->instances[i].enabled && strcmp(config->instances[i].plugin, plugin) == 0) {
            return true;
        }
    }
    return false;
}

void binding_load_plugins(const struct config *config, struct plugin_registry *reg,
                          struct diag_list *diags)
{
    char **defaults = NULL;
    char **dirs = config->plugin_path;
    size_t dir_count = config->plugin_path_count;
    if (dir_count == 0) {
        dir_count = loader_default_path(&defaults);
        dirs = defaults;
    }
    size_t refused_before = reg->refused_count;
    loader_scan(reg, dirs, dir_count);
    for (size_t i = 0; defaults != NULL && i < dir_count; i++) {
        free(defaults[i]);
    }
    free(defaults);

    for (size_t r = refused_before; r < reg->refused_count; r++) {
        const struct plugin_refusal *refusal = &reg->refused[r];
        /* Another file may have provided the name (a duplicate was refused). */
        bool used = instance_uses(config, refusal->name) && loader_find(reg, refusal->name) == NULL;
        const struct diag *d = &refusal->diag;
        diag_add(diags, used ? DIAG_ERROR : DIAG_WARNING, d->file, d->line, d->key, d->detail,
                 d->hint, "%s%s", d->message,
                 used ? " (a connector instance uses this plugin)"
                      : " (no instance uses it: skipped)");
    }
}

/* "a, b, c" of the plugins found, malloc'd. */
static char *available_plugins(const struct plugin_registry *reg)
{
    struct strbuf sb = {0};
    for (size_t i = 0; i < reg->count; i++) {
        strbuf_appendf(&sb, "%s%s", i ? ", " : "", reg->plugins[i].name);
    }
    return strbuf_take(&sb);
}

json_t *binding_validate_settings(const struct config_instance *ci, const struct plugin *plugin,
                                  struct diag_list *diags)
{
    json_t *settings = config_settings_validate(ci, plugin->desc->config_schema, diags);
    if (settings == NULL) {
        return NULL; /* the plugin's checks assume settings that fit its schema */
    }
    struct config_where where = {.file = ci->file, .lines = ci->lines};
    if (instance_validate_offline(plugin, ci->name, settings, &where, "settings", diags) != LH_OK) {
        json_decref(settings);
        return NULL;
    }
    return settings;
}

void binding_check_instances(const struct config *config, const struct plugin_registry *reg,
                             bool include_disabled, json_t **settings_out, struct diag_list *diags)
{
    for (size_t i = 0; i < config->instance_count; i++) {
        const struct config_instance *ci = &config->instances[i];
        if (settings_out != NULL) {
            settings_out[i] = NULL;
        }
        if (!ci->enabled && !include_disabled) {
            continue;
        }
        const struct plugin *plugin = loader_find(reg, ci->plugin);
        if (plugin == NULL) {
            if (loader_find_refused(reg, ci->plugin) != NULL) {
                continue; /* binding_load_plugins already said why */
            }
            char *available = available_plugins(reg);
            char *hint = util_printf("plugins found: %s (`leadhubd plugins` lists them, with the "
                                     "plugin path searched)",
                                     available != NULL && available[0] ? available : "none");
            int line = (int)json_integer_value(json_object_get(ci->lines, "plugin"));
            diag_add(diags, DIAG_ERROR, ci->file, line, "plugin", NULL, hint,
                     "unknown plugin \"%s\"", ci->plugin);
            free(hint);
            free(available);
            continue;
        }
        json_t *settings = binding_validate_settings(ci, plugin, diags);
        if (settings_out != NULL) {
            settings_out[i] = settings;
        } else {
            json_decref(settings);
        }
    }
}
