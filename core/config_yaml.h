/*
 * config_yaml.h - config files (YAML, or JSON for names ending in ".json") into a jansson
 * tree plus a line map: every key path ("settings.secret", "routes[0].from") -> the line
 * it is written on, so that later checks can point at the line.
 *
 * YAML follows the YAML 1.2 core schema for plain scalars: true/false (any case) -> bool,
 * null, ~ or nothing -> null, integers -> integer, floats -> real, anything else (yes, no,
 * on, off included) -> string; quoted and block scalars are always strings. Refused, each
 * with a diagnostic naming the line: syntax errors (with the column and libyaml's text),
 * more than one document, duplicate keys (both lines named), anchors and aliases, tags
 * other than the standard ones, keys that are not scalars, NUL characters, nesting deeper
 * than CONFIG_PARSE_MAX_DEPTH and files larger than CONFIG_PARSE_MAX_FILE.
 */
#ifndef LEADHUB_CONFIG_YAML_H
#define LEADHUB_CONFIG_YAML_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "diag.h"

#define CONFIG_PARSE_MAX_DEPTH 64
#define CONFIG_PARSE_MAX_FILE  (1024 * 1024)

/*
 * config_yaml_parse - parse one YAML document held in memory.
 *   text, len:  borrowed; need not be NUL-terminated.
 *   file:       name used in diagnostics; may be NULL.
 *   tree_out:   NEW reference to the value; json null for an empty document.
 *   lines_out:  NEW reference to the line map; may be NULL when not wanted.
 *   Returns 0, or -1 with an error appended to diags and both outputs NULL.
 */
int config_yaml_parse(const char *text, size_t len, const char *file, json_t **tree_out,
                      json_t **lines_out, struct diag_list *diags);

/*
 * config_json_parse - the same for JSON (jansson), with the same line map, duplicate-key
 * and depth rules. Whitespace only is an empty document (json null).
 */
int config_json_parse(const char *text, size_t len, const char *file, json_t **tree_out,
                      json_t **lines_out, struct diag_list *diags);

/*
 * config_parse_file - read `path` (at most CONFIG_PARSE_MAX_FILE bytes) and parse it as
 * JSON when its name ends in ".json", as YAML otherwise. Outputs as above; diagnostics
 * name `path`.
 */
int config_parse_file(const char *path, json_t **tree_out, json_t **lines_out,
                      struct diag_list *diags);

#endif
