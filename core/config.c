/*
 * config.c - config_load(): the main file, then every instance file in connectors_dir,
 * all mistakes collected in one run. The pieces: config_yaml.c / config_json.c (files to
 * trees with line numbers), config_ref.c (references), config_value.c and
 * config_object.c (the schema engine), config_main.c and config_instance.c.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config_internal.h"
#include "config_ref.h"
#include "config_value.h"
#include "config_where.h"
#include "config_yaml.h"
#include "seal.h"
#include "util.h"

/* The main file's directory, absolute: relative paths in the file resolve from it, not from
 * wherever the daemon was started. NEW string, or NULL with errno set. */
static char *directory_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash == NULL   ? strdup(".")
                : slash == path ? strdup("/")
                                : strndup(path, (size_t)(slash - path));
    if (dir == NULL) {
        return NULL;
    }
    char *absolute = realpath(dir, NULL);
    free(dir);
    return absolute;
}

/* Overwrites a secret before its memory goes back to the allocator (explicit_bzero: a
 * memset before free() may be optimized away). */
static void free_secret(char *secret)
{
    if (secret != NULL) {
        explicit_bzero(secret, strlen(secret));
        free(secret);
    }
}

/* config_load() and config_load_partial(): keep_partial returns what checked out even
 * with errors, when the main file could be parsed. */
static int load(const char *path, bool keep_partial, struct config **out, struct diag_list *diags)
{
    size_t errors_before = diag_error_count(diags);
    json_t *tree = NULL;
    bool parsed = false;
    *out = NULL;
    struct config *config = calloc(1, sizeof(*config));
    if (config == NULL || (config->file = strdup(path)) == NULL) {
        diag_add(diags, DIAG_ERROR, path, 0, NULL, NULL, NULL, "out of memory");
        goto out;
    }
    config->log_level = LOG_LEVEL_INFO;
    if (config_parse_file(path, &tree, &config->lines, diags) != 0) {
        goto out;
    }
    config->dir = directory_of(path);
    if (config->dir == NULL) {
        diag_add(diags, DIAG_ERROR, path, 0, NULL, NULL, NULL,
                 "cannot resolve the file's directory: %s", strerror(errno));
        goto out;
    }
    parsed = true;
    struct config_where where = {.file = config->file, .lines = config->lines};
    config_main_apply(config, tree, &where, diags);
    size_t errors_before_instances = diag_error_count(diags);
    if (config->connectors_dir != NULL) {
        config_instances_load(config, &where, diags);
    }
    /* connectors_dir is NULL only when it had an error (it has a default) */
    config->instances_incomplete =
        config->connectors_dir == NULL || diag_error_count(diags) > errors_before_instances;
out:
    json_decref(tree);
    if (diag_error_count(diags) > errors_before && !(keep_partial && parsed)) {
        config_free(config);
        return -1;
    }
    *out = config;
    return diag_error_count(diags) > errors_before ? -1 : 0;
}

int config_load(const char *path, struct config **out, struct diag_list *diags)
{
    return load(path, false, out, diags);
}

int config_load_partial(const char *path, struct config **out, struct diag_list *diags)
{
    return load(path, true, out, diags);
}

int config_read_plugin_path(const char *path, char ***dirs_out, size_t *count_out,
                            struct diag_list *diags)
{
    size_t errors_before = diag_error_count(diags);
    json_t *tree = NULL;
    json_t *lines = NULL;
    char *dir = NULL;
    char **dirs = NULL;
    size_t count = 0;
    *dirs_out = NULL;
    *count_out = 0;
    if (config_parse_file(path, &tree, &lines, diags) != 0) {
        goto out;
    }
    if ((dir = directory_of(path)) == NULL) {
        diag_add(diags, DIAG_ERROR, path, 0, NULL, NULL, NULL,
                 "cannot resolve the file's directory: %s", strerror(errno));
        goto out;
    }
    struct config_where where = {.file = path, .lines = lines};
    const json_t *list = json_object_get(tree, "plugin_path");
    if (list == NULL || json_is_null(list)) {
        goto out;
    }
    if (!json_is_array(list)) {
        config_where_error(diags, &where, "plugin_path", NULL, "write a list of directories",
                           "expected a list, got %s", config_value_kind(list));
        goto out;
    }
    dirs = calloc(json_array_size(list) + 1, sizeof(*dirs));
    if (dirs == NULL) {
        diag_add(diags, DIAG_ERROR, path, 0, "plugin_path", NULL, NULL, "out of memory");
        goto out;
    }
    size_t index;
    const json_t *item;
    json_array_foreach(list, index, item)
    {
        char *key = config_key_index("plugin_path", index);
        char *resolved = NULL;
        if (!json_is_string(item)) {
            config_where_error(diags, &where, key, NULL, "write a directory path",
                               "expected a string, got %s", config_value_kind(item));
        } else if (config_ref_resolve(json_string_value(item), &where, key, &resolved, NULL,
                                      diags) == 0) {
            dirs[count] = config_path_absolute(dir, resolved);
            if (dirs[count] != NULL) {
                count++;
            }
        }
        free(resolved);
        free(key);
    }
out:
    json_decref(tree);
    json_decref(lines);
    free(dir);
    if (diag_error_count(diags) > errors_before) {
        for (size_t i = 0; i < count; i++) {
            free(dirs[i]);
        }
        free(dirs);
        return -1;
    }
    *dirs_out = dirs;
    *count_out = count;
    return 0;
}

void config_free(struct config *config)
{
    if (config == NULL) {
        return;
    }
    free(config->file);
    free(config->dir);
    free_secret(config->database_url);
    free(config->listen_host);
    free(config->admin_listen_host);
    for (size_t i = 0; i < config->plugin_path_count; i++) {
        free(config->plugin_path[i]);
    }
    free(config->plugin_path);
    free(config->connectors_dir);
    seal_keyring_free(config->keyring);
    free(config->oauth_redirect_url);
    free(config->console_dir);
    for (size_t i = 0; i < config->token_count; i++) {
        free(config->tokens[i].name);
        free_secret(config->tokens[i].token);
    }
    free(config->tokens);
    json_decref(config->routes);
    json_decref(config->scoring);
    for (size_t i = 0; i < config->instance_count; i++) {
        config_instance_clear(&config->instances[i]);
    }
    free(config->instances);
    json_decref(config->lines);
    free(config);
}

const struct config_instance *config_instance_find(const struct config *config, const char *name)
{
    for (size_t i = 0; config != NULL && i < config->instance_count; i++) {
        if (strcmp(config->instances[i].name, name) == 0) {
            return &config->instances[i];
        }
    }
    return NULL;
}
