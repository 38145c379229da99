/*
 * config_internal.h - the pieces of config_load(), shared by config.c, config_main.c and
 * config_instance.c only. Other modules use config.h.
 */
#ifndef LEADHUB_CONFIG_INTERNAL_H
#define LEADHUB_CONFIG_INTERNAL_H

#include <jansson.h>

#include "config.h"
#include "config_where.h"
#include "diag.h"

/*
 * config_main_apply - check the main file's tree and fill config's fields from it
 * (everything but instances). config->dir must be set: relative paths resolve from it.
 *   tree:  borrowed; json null counts as an empty mapping.
 *   where: the main file and its line map; borrowed.
 *   Errors go to diags; fields that checked out are set either way (config_free() frees
 *   whatever was set).
 */
void config_main_apply(struct config *config, const json_t *tree, const struct config_where *where,
                       struct diag_list *diags);

/*
 * config_instances_load - read every instance file in config->connectors_dir into
 * config->instances (sorted by file name). A missing directory is an error at the main
 * file's `connectors_dir` key (main_where). Every file is checked, whatever the others do.
 */
void config_instances_load(struct config *config, const struct config_where *main_where,
                           struct diag_list *diags);

/* config_instance_clear - free one instance's members (not the struct itself). */
void config_instance_clear(struct config_instance *instance);

/*
 * config_path_absolute - `path` made absolute against `dir` (already absolute paths are
 * returned as they are). NEW string, NULL when out of memory.
 */
char *config_path_absolute(const char *dir, const char *path);

#endif
