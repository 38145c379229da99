/*
 * config_instance.c - connector instance files: one file per instance in connectors_dir.
 * Kubernetes mounts a ConfigMap as symlinks into a "..data" directory, so symlinks to
 * regular files count and every name starting with "." is skipped.
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config_internal.h"
#include "config_object.h"
#include "config_value.h"
#include "config_yaml.h"
#include "util.h"

#define NO_RANGE 0, 0

static const lh_config_field_t instance_fields[] = {
    {CONFIG_FIELD_SIZE, "name", LH_CONFIG_STRING, LH_FIELD_REQUIRED, NULL, NO_RANGE, NULL,
     "The instance's name, unique across files: 1 to 63 of a-z, 0-9, _ and -. It appears in "
     "logs, metrics and /webhooks/{name}."},
    {CONFIG_FIELD_SIZE, "plugin", LH_CONFIG_STRING, LH_FIELD_REQUIRED, NULL, NO_RANGE, NULL,
     "The plugin that runs this instance, as `leadhubd plugins` lists it."},
    {CONFIG_FIELD_SIZE, "enabled", LH_CONFIG_BOOL, 0, "true", NO_RANGE, NULL,
     "false keeps the instance stopped."},
    {CONFIG_FIELD_SIZE, "poll_interval", LH_CONFIG_DURATION, LH_FIELD_HAS_MIN, "5m", 1000, 0, NULL,
     "Time between two polls of a source."},
    {CONFIG_FIELD_SIZE, "settings", LH_CONFIG_JSON, 0, "{}", NO_RANGE, NULL,
     "The plugin's settings, checked against its schema."},
    LH_FIELD_END,
};

static bool config_file_name(const char *name)
{
    static const char *const suffixes[] = {".yaml", ".yml", ".json"};
    size_t n = strlen(name);
    if (name[0] == '.') {
        return false;
    }
    for (size_t i = 0; i < UTIL_ARRAY_LEN(suffixes); i++) {
        size_t m = strlen(suffixes[i]);
        if (n > m && strcmp(name + n - m, suffixes[i]) == 0) {
            return true;
        }
    }
    return false;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **names, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        free(names[i]);
    }
    free(names);
}

/* The candidate file names in dir, sorted. Returns 0, or -1 with errno set. */
static int list_config_files(const char *dir, char ***names_out, size_t *count_out)
{
    char **names = NULL;
    size_t count = 0, capacity = 0;
    DIR *d = opendir(dir);
    if (d == NULL) {
        return -1;
    }
    int saved = 0;
    struct dirent *entry;
    while ((entry = readdir(d)) != NULL) {
        if (!config_file_name(entry->d_name)) {
            continue;
        }
        if (count == capacity) {
            capacity = capacity ? capacity * 2 : 16;
            char **grown = realloc(names, capacity * sizeof(*names));
            if (grown == NULL) {
                saved = ENOMEM;
                break;
            }
            names = grown;
        }
        names[count] = strdup(entry->d_name);
        if (names[count] == NULL) {
            saved = ENOMEM;
            break;
        }
        count++;
    }
    closedir(d);
    if (saved != 0) {
        free_names(names, count);
        errno = saved;
        return -1;
    }
    if (count > 0) {
        qsort(names, count, sizeof(*names), compare_names);
    }
    *names_out = names;
    *count_out = count;
    return 0;
}

/* Name, plugin and settings rules a field table cannot express. */
static void check_identity(const struct config *config, const json_t *checked, const json_t *tree,
                           const struct config_where *where, struct diag_list *diags)
{
    const char *name = json_string_value(json_object_get(checked, "name"));
    if (name != NULL && !util_instance_name_valid(name)) {
        config_where_error(diags, where, "name", NULL,
                           "use 1 to 63 characters of a-z, 0-9, _ and -",
                           "instance name \"%s\" is not valid", name);
    }
    for (size_t i = 0; name != NULL && i < config->instance_count; i++) {
        /* name is NULL only after an allocation failed, already reported */
        if (config->instances[i].name != NULL && strcmp(config->instances[i].name, name) == 0) {
            config_where_error(diags, where, "name", NULL,
                               "instance names must be unique across the files in connectors_dir",
                               "instance name \"%s\" is already used by %s", name,
                               config->instances[i].file);
        }
    }
    const char *plugin = json_string_value(json_object_get(checked, "plugin"));
    if (plugin != NULL && !util_identifier_valid(plugin)) {
        config_where_error(diags, where, "plugin", NULL,
                           "a plugin name is [a-z][a-z0-9_]*, as `leadhubd plugins` lists it",
                           "plugin name \"%s\" is not valid", plugin);
    }
    const json_t *settings = json_object_get(tree, "settings");
    if (settings != NULL && !json_is_null(settings) && !json_is_object(settings)) {
        config_where_error(diags, where, "settings", NULL,
                           "write the plugin's settings as \"key: value\" lines under it",
                           "expected a mapping, got %s", config_value_kind(settings));
    }
}

static void load_instance_file(struct config *config, const char *path, struct diag_list *diags)
{
    json_t *tree = NULL, *lines = NULL, *checked = NULL, *empty = NULL;
    size_t errors_before = diag_error_count(diags);
    if (config_parse_file(path, &tree, &lines, diags) != 0) {
        return;
    }
    struct config_where where = {.file = path, .lines = lines};
    if (json_is_null(tree)) {
        json_decref(tree);
        tree = json_object(); /* an empty file: reported as missing name and plugin */
        if (tree == NULL) {
            config_where_error(diags, &where, NULL, NULL, NULL, "out of memory");
            goto out;
        }
    }
    checked = config_object_normalize(tree, instance_fields, "", &where, diags);
    if (checked == NULL) {
        goto out;
    }
    check_identity(config, checked, tree, &where, diags);
    if (diag_error_count(diags) > errors_before) {
        goto out;
    }
    json_t *settings = json_object_get(tree, "settings");
    if (settings == NULL || json_is_null(settings)) {
        settings = empty = json_object();
    }
    struct config_instance *instance = &config->instances[config->instance_count++];
    instance->name = strdup(json_string_value(json_object_get(checked, "name")));
    instance->plugin = strdup(json_string_value(json_object_get(checked, "plugin")));
    instance->enabled = json_is_true(json_object_get(checked, "enabled"));
    instance->poll_interval_ms = json_integer_value(json_object_get(checked, "poll_interval"));
    instance->settings = json_incref(settings); /* as written: plugins resolve at validate */
    instance->file = strdup(path);
    instance->lines = lines;
    lines = NULL;
    if (instance->name == NULL || instance->plugin == NULL || instance->settings == NULL ||
        instance->file == NULL) {
        config_where_error(diags, &where, NULL, NULL, NULL, "out of memory");
    }
out:
    json_decref(tree);
    json_decref(lines);
    json_decref(checked);
    json_decref(empty);
}

void config_instances_load(struct config *config, const struct config_where *main_where,
                           struct diag_list *diags)
{
    char **names = NULL;
    size_t count = 0;
    if (list_config_files(config->connectors_dir, &names, &count) != 0) {
        config_where_error(diags, main_where, "connectors_dir",
                           "one file per connector instance (.yaml, .yml or .json) is read "
                           "from it",
                           "create the directory (it may be empty), or point connectors_dir at "
                           "the right one",
                           "cannot read connectors_dir %s: %s", config->connectors_dir,
                           strerror(errno));
        return;
    }
    if (count > 0) {
        config->instances = calloc(count, sizeof(*config->instances));
        if (config->instances == NULL) {
            config_where_error(diags, main_where, "connectors_dir", NULL, NULL, "out of memory");
            goto out;
        }
    }
    for (size_t i = 0; i < count; i++) {
        char *path = config_path_absolute(config->connectors_dir, names[i]);
        struct stat st;
        if (path == NULL) {
            config_where_error(diags, main_where, "connectors_dir", NULL, NULL, "out of memory");
        } else if (stat(path, &st) != 0) {
            /* e.g. a symlink whose target is gone */
            diag_add(diags, DIAG_ERROR, path, 0, NULL, NULL,
                     "fix or remove the file (a symlink whose target is missing?)",
                     "cannot read file: %s", strerror(errno));
        } else if (S_ISREG(st.st_mode)) {
            load_instance_file(config, path, diags);
        }
        free(path);
    }
out:
    free_names(names, count);
}

void config_instance_clear(struct config_instance *instance)
{
    free(instance->name);
    free(instance->plugin);
    json_decref(instance->settings);
    free(instance->file);
    json_decref(instance->lines);
    *instance = (struct config_instance){0};
}
