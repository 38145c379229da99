/*
 * new_plugin.h - the plugin skeleton `leadhubd new-plugin` writes: the files of
 * sdk/template/ (compiled in by scripts/embed-template.sh), rendered for a name and kind.
 */
#ifndef LEADHUB_NEW_PLUGIN_H
#define LEADHUB_NEW_PLUGIN_H

#include <stddef.h>

struct new_plugin_file {
    const char *path;      /* relative to the plugin's folder; may hold @NAME@ */
    const char *condition; /* the kinds that get it ("sink", "!scorer"), "" for all */
    const char *text;      /* with @NAME@, @NAME_UPPER@, @KIND@, @KIND_BITS@ and @IF kind@ lines */
};

extern const struct new_plugin_file new_plugin_files[];
extern const size_t new_plugin_file_count;

/* The kinds a skeleton can have (as given on the command line). */
#define NEW_PLUGIN_SOURCE (1U << 0)
#define NEW_PLUGIN_SINK   (1U << 1)
#define NEW_PLUGIN_SCORER (1U << 2)

/* new_plugin_kind_parse - "source", "sink", "source+sink" (or "sink+source"), "scorer"
 * into NEW_PLUGIN_* bits; 0 for anything else. */
unsigned new_plugin_kind_parse(const char *text);

/*
 * new_plugin_render - one template's text for the plugin `name` of `kind`: placeholders
 * replaced, the lines between "@IF k@" and "@END@" kept only when the kind has k ("!k":
 * when it has not).
 *   Returns a malloc'd string, or NULL when out of memory.
 */
char *new_plugin_render(const char *text, const char *name, unsigned kind);

/*
 * new_plugin_write - write every file of the skeleton into dir (created; it must not
 * exist, or be empty).
 *   error_out: on failure, a malloc'd reason.
 *   Returns 0, or -1.
 */
int new_plugin_write(const char *dir, const char *name, unsigned kind, char **error_out);

#endif
