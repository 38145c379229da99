/*
 * config.c - config_load(): the main file, then every instance file in connectors_dir,
 * all mistakes collected in one run. The pieces: config_yaml.c / config_json.c (files to
 * trees with line numbers), config_ref.c (references), config_value.c and
 * config_object.c (the schema engine), config_main.c and config_instance.c.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config_internal.h"
#include "config_yaml.h"
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

int config_load(const char *path, struct config **out, struct diag_list *diags)
{
    size_t errors_before = diag_error_count(diags);
    json_t *tree = NULL;
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
    struct config_where where = {.file = config->file, .lines = config->lines};
    config_main_apply(config, tree, &where, diags);
    if (config->connectors_dir != NULL) {
        config_instances_load(config, &where, diags);
    }
out:
    json_decref(tree);
    if (diag_error_count(diags) > errors_before) {
        config_free(config);
        return -1;
    }
    *out = config;
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
    for (size_t i = 0; i < config->plugin_path_count; i++) {
        free(config->plugin_path[i]);
    }
    free(config->plugin_path);
    free(config->connectors_dir);
    for (size_t i = 0; i < config->token_count; i++) {
        free(config->tokens[i].name);
        free_secret(config->tokens[i].token);
    }
    free(config->tokens);
    json_decref(config->routes);
    json_decref(config->scoring);
    json_decref(config->delivery);
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
