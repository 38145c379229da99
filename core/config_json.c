/*
 * config_json.c - JSON config files: jansson parses and checks the syntax, then a small
 * walk over the (now known valid) text records the line of every key path and finds
 * duplicate keys, which jansson would otherwise keep silently (last one wins) or report
 * without the first line.
 */
#include <stdlib.h>
#include <string.h>

#include "config_where.h"
#include "config_yaml.h"
#include "util.h"

struct json_walk {
    const char *text;
    size_t len;
    size_t pos;
    int line;
    int depth;
    const char *file;
    struct diag_list *diags;
    json_t *lines; /* borrowed from the caller */
};

static void skip_space(struct json_walk *w)
{
    while (w->pos < w->len) {
        char c = w->text[w->pos];
        if (c == '\n') {
            w->line++;
        } else if (c != ' ' && c != '\t' && c != '\r') {
            return;
        }
        w->pos++;
    }
}

static char peek(const struct json_walk *w)
{
    return w->pos < w->len ? w->text[w->pos] : '\0';
}

/* Reads the string at pos (a '"'), returning it decoded (malloc'd), or NULL when out of
 * memory. The text is valid JSON, so the closing quote is there. */
static char *read_string(struct json_walk *w)
{
    size_t start = w->pos++;
    bool escaped = false;
    while (w->pos < w->len && w->text[w->pos] != '"') {
        if (w->text[w->pos] == '\\') {
            escaped = true;
            w->pos++;
        }
        w->pos++;
    }
    w->pos++; /* the closing quote */
    if (!escaped) {
        return strndup(w->text + start + 1, w->pos - start - 2);
    }
    json_t *decoded = json_loadb(w->text + start, w->pos - start, JSON_DECODE_ANY, NULL);
    char *copy = json_is_string(decoded) ? strdup(json_string_value(decoded)) : NULL;
    json_decref(decoded);
    return copy;
}

static int walk_value(struct json_walk *w, const char *path);

static int enter(struct json_walk *w)
{
    if (++w->depth > CONFIG_PARSE_MAX_DEPTH) {
        diag_add(w->diags, DIAG_ERROR, w->file, w->line, NULL, NULL, "flatten the structure",
                 "nesting is deeper than %d levels", CONFIG_PARSE_MAX_DEPTH);
        return -1;
    }
    w->pos++; /* '{' or '[' */
    return 0;
}

static int record(struct json_walk *w, const char *path, int line)
{
    if (json_object_set_new(w->lines, path, json_integer(line)) != 0) {
        diag_add(w->diags, DIAG_ERROR, w->file, line, NULL, NULL, NULL, "out of memory");
        return -1;
    }
    return 0;
}

static int walk_object(struct json_walk *w, const char *path)
{
    json_t *seen = NULL; /* key -> line, for duplicates */
    char *key = NULL;
    char *child = NULL;
    int rc = -1;
    if (enter(w) != 0) {
        return -1;
    }
    seen = json_object();
    if (seen == NULL) {
        goto oom;
    }
    skip_space(w);
    while (peek(w) == '"') {
        int line = w->line;
        key = read_string(w);
        child = key != NULL ? config_key_join(path, key) : NULL;
        if (child == NULL) {
            goto oom;
        }
        const json_t *first = json_object_get(seen, key);
        if (first != NULL) {
            diag_add(w->diags, DIAG_ERROR, w->file, line, child, NULL, "keep one of them",
                     "duplicate key \"%s\" (first on line %d, again on line %d)", key,
                     (int)json_integer_value(first), line);
            goto out;
        }
        if (json_object_set_new(seen, key, json_integer(line)) != 0) {
            goto oom;
        }
        if (record(w, child, line) != 0) {
            goto out;
        }
        skip_space(w);
        w->pos++; /* ':' */
        if (walk_value(w, child) != 0) {
            goto out;
        }
        free(key);
        free(child);
        key = child = NULL;
        skip_space(w);
        if (peek(w) == ',') {
            w->pos++;
            skip_space(w);
        }
    }
    w->pos++; /* '}' */
    w->depth--;
    rc = 0;
    goto out;
oom:
    diag_add(w->diags, DIAG_ERROR, w->file, w->line, NULL, NULL, NULL, "out of memory");
out:
    json_decref(seen);
    free(key);
    free(child);
    return rc;
}

static int walk_array(struct json_walk *w, const char *path)
{
    if (enter(w) != 0) {
        return -1;
    }
    skip_space(w);
    for (size_t index = 0; peek(w) != ']' && w->pos < w->len; index++) {
        char *child = config_key_index(path, index);
        if (child == NULL) {
            diag_add(w->diags, DIAG_ERROR, w->file, w->line, NULL, NULL, NULL, "out of memory");
            return -1;
        }
        int rc = record(w, child, w->line) == 0 ? walk_value(w, child) : -1;
        free(child);
        if (rc != 0) {
            return -1;
        }
        skip_space(w);
        if (peek(w) == ',') {
            w->pos++;
            skip_space(w);
        }
    }
    w->pos++; /* ']' */
    w->depth--;
    return 0;
}

static int walk_value(struct json_walk *w, const char *path)
{
    skip_space(w);
    char c = peek(w);
    if (c == '{') {
        return walk_object(w, path);
    }
    if (c == '[') {
        return walk_array(w, path);
    }
    if (c == '"') {
        w->pos++;
        while (w->pos < w->len && w->text[w->pos] != '"') {
            w->pos += w->text[w->pos] == '\\' ? 2 : 1;
        }
        w->pos++;
        return 0;
    }
    while (w->pos < w->len && strchr(",]} \t\r\n", w->text[w->pos]) == NULL) {
        w->pos++; /* number, true, false, null */
    }
    return 0;
}

int config_json_parse(const char *text, size_t len, const char *file, json_t **tree_out,
                      json_t **lines_out, struct diag_list *diags)
{
    json_t *tree = NULL;
    json_t *lines = NULL;
    int rc = -1;

    *tree_out = NULL;
    if (lines_out != NULL) {
        *lines_out = NULL;
    }
    size_t first = 0;
    while (first < len && strchr(" \t\r\n", text[first]) != NULL) {
        first++;
    }
    lines = json_object();
    if (lines == NULL) {
        diag_add(diags, DIAG_ERROR, file, 0, NULL, NULL, NULL, "out of memory");
        goto out;
    }
    if (first == len) {
        tree = json_null(); /* as for YAML: nothing written is an empty document */
    } else {
        json_error_t error;
        tree = json_loadb(text, len, JSON_DECODE_ANY, &error);
        if (tree == NULL) {
            diag_add(diags, DIAG_ERROR, file, error.line > 0 ? error.line : 0, NULL, NULL,
                     "check the commas, quotes and brackets around that spot",
                     "JSON syntax error at line %d, column %d: %s", error.line, error.column,
                     error.text);
            goto out;
        }
        struct json_walk w = {
            .text = text, .len = len, .line = 1, .file = file, .diags = diags, .lines = lines};
        if (walk_value(&w, "") != 0) {
            goto out;
        }
    }
    *tree_out = tree;
    tree = NULL;
    if (lines_out != NULL) {
        *lines_out = lines;
        lines = NULL;
    }
    rc = 0;
out:
    json_decref(tree);
    json_decref(lines);
    return rc;
}
