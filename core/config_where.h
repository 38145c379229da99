/*
 * config_where.h - where a config value came from (file and key path -> line map), so that
 * every check can report file, line and key without threading three arguments through.
 */
#ifndef LEADHUB_CONFIG_WHERE_H
#define LEADHUB_CONFIG_WHERE_H

#include <jansson.h>

#include "diag.h"

struct config_where {
    const char *file;    /* for diagnostics; may be NULL (schema defaults) */
    const json_t *lines; /* key path ("settings.secret") -> line number; may be NULL */
};

/*
 * config_where_line - the line of `key`, or of its nearest enclosing key that has one
 * ("settings.api_key" falls back to "settings"), or 0 when unknown.
 *   where, key: borrowed; either may be NULL.
 */
int config_where_line(const struct config_where *where, const char *key);

/*
 * config_where_error - diag_add() an error at `key` in where's file, on config_where_line().
 *   detail, hint: may be NULL; copied.
 */
void config_where_error(struct diag_list *diags, const struct config_where *where, const char *key,
                        const char *detail, const char *hint, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/*
 * config_key_join - the key path of a member: "prefix.name", or "name" when prefix is
 * empty or NULL. NEW string (free()), NULL when out of memory.
 */
char *config_key_join(const char *prefix, const char *name);

/* config_key_index - "prefix[index]". NEW string (free()), NULL when out of memory. */
char *config_key_index(const char *prefix, size_t index);

#endif
