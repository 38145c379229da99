/*
 * config_yaml.c - YAML (libyaml's event API) -> jansson tree and line map, and the file
 * entry point that picks YAML or JSON. The event API rather than libyaml's document API:
 * it hands us each key with its position before the value, which the duplicate-key and
 * line-map rules need, and never expands aliases behind our back.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "config_where.h"
#include "config_yaml.h"
#include "util.h"

#define YAML_TAG_PREFIX "tag:yaml.org,2002:"

struct yaml_frame {
    json_t *node; /* borrowed: owned by the tree */
    char *path;   /* key path of node, "" for the root; owned */
    char *key;    /* mapping: the key waiting for its value, or NULL; owned */
    int key_line;
    size_t index; /* sequence: the next item's index */
};

struct yaml_build {
    const char *file;
    struct diag_list *diags;
    json_t *root;  /* owned */
    json_t *lines; /* owned */
    struct yaml_frame stack[CONFIG_PARSE_MAX_DEPTH];
    size_t depth;
    int documents;
};

static void build_error(struct yaml_build *b, int line, const char *key, const char *hint,
                        const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void build_error(struct yaml_build *b, int line, const char *key, const char *hint,
                        const char *fmt, ...)
{
    struct strbuf message = {0};
    va_list args;
    va_start(args, fmt);
    strbuf_appendv(&message, fmt, args);
    va_end(args);
    diag_add(b->diags, DIAG_ERROR, b->file, line, key, NULL, hint, "%s",
             message.failed ? "out of memory" : strbuf_value(&message));
    strbuf_free(&message);
}

static int mark_line(const yaml_mark_t *mark)
{
    return (int)mark->line + 1;
}

/* Returns 1 and *out for a YAML 1.2 core-schema integer, 0 when text is not one, -1 when
 * it is one but does not fit in 64 bits. */
static int parse_core_int(const char *text, json_int_t *out)
{
    const char *digits = text;
    int base = 10;
    if (strncmp(text, "0o", 2) == 0) {
        base = 8;
        digits = text + 2;
    } else if (strncmp(text, "0x", 2) == 0) {
        base = 16;
        digits = text + 2;
    } else if (text[0] == '-' || text[0] == '+') {
        digits = text + 1;
    }
    if (digits[0] == '\0') {
        return 0;
    }
    for (const char *p = digits; *p != '\0'; p++) {
        bool ok = base == 8    ? (*p >= '0' && *p <= '7')
                  : base == 16 ? ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') ||
                                  (*p >= 'A' && *p <= 'F'))
                               : (*p >= '0' && *p <= '9');
        if (!ok) {
            return 0;
        }
    }
    errno = 0;
    char *end = NULL;
    long long value = strtoll(base == 10 ? text : digits, &end, base);
    if (errno == ERANGE || *end != '\0') {
        return -1;
    }
    *out = (json_int_t)value;
    return 1;
}

/* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? - the core schema's float. */
static bool is_core_float(const char *text)
{
    const char *p = text;
    if (*p == '-' || *p == '+') {
        p++;
    }
    size_t int_digits = 0;
    while (*p >= '0' && *p <= '9') {
        p++;
        int_digits++;
    }
    size_t frac_digits = 0;
    if (*p == '.') {
        p++;
        while (*p >= '0' && *p <= '9') {
            p++;
            frac_digits++;
        }
    }
    if (int_digits == 0 && frac_digits == 0) {
        return false;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '-' || *p == '+') {
            p++;
        }
        if (*p < '0' || *p > '9') {
            return false;
        }
        while (*p >= '0' && *p <= '9') {
            p++;
        }
    }
    return *p == '\0';
}

static bool is_core_inf_or_nan(const char *text)
{
    const char *p = (text[0] == '-' || text[0] == '+') ? text + 1 : text;
    return strcmp(p, ".inf") == 0 || strcmp(p, ".Inf") == 0 || strcmp(p, ".INF") == 0 ||
           strcmp(text, ".nan") == 0 || strcmp(text, ".NaN") == 0 || strcmp(text, ".NAN") == 0;
}

static bool is_core_null(const char *text)
{
    return text[0] == '\0' || strcmp(text, "~") == 0 || strcasecmp(text, "null") == 0;
}

static json_t *make_real(struct yaml_build *b, int line, const char *text)
{
    errno = 0;
    double value = strtod(text, NULL);
    if (errno == ERANGE || !isfinite(value)) {
        build_error(b, line, NULL, "write a number that fits in a double, or quote it",
                    "number %s is out of range", text);
        return NULL;
    }
    json_t *real = json_real(value);
    if (real == NULL) {
        build_error(b, line, NULL, NULL, "out of memory");
    }
    return real;
}

static json_t *make_int(struct yaml_build *b, int line, const char *text, bool *matched)
{
    json_int_t value = 0;
    int rc = parse_core_int(text, &value);
    *matched = rc != 0;
    if (rc == 0) {
        return NULL;
    }
    if (rc < 0) {
        build_error(b, line, NULL, "integers must fit in 64 bits; quote it to keep it a string",
                    "integer %s is out of range", text);
        return NULL;
    }
    json_t *integer = json_integer(value);
    if (integer == NULL) {
        build_error(b, line, NULL, NULL, "out of memory");
    }
    return integer;
}

/* A plain (unquoted, untagged) scalar under the YAML 1.2 core schema. */
static json_t *resolve_plain(struct yaml_build *b, int line, const char *text)
{
    if (is_core_null(text)) {
        return json_null();
    }
    if (strcasecmp(text, "true") == 0) {
        return json_true();
    }
    if (strcasecmp(text, "false") == 0) {
        return json_false();
    }
    bool matched = false;
    json_t *integer = make_int(b, line, text, &matched);
    if (matched) {
        return integer;
    }
    if (is_core_float(text)) {
        return make_real(b, line, text);
    }
    if (is_core_inf_or_nan(text)) {
        build_error(b, line, NULL, "quote it to make it a string",
                    "infinite and NaN numbers are not supported (%s)", text);
        return NULL;
    }
    json_t *string = json_string(text);
    if (string == NULL) {
        build_error(b, line, NULL, NULL, "out of memory");
    }
    return string;
}

/* A scalar with an explicit standard tag (!!str, !!int, ...), or "!" (non-specific). */
static json_t *resolve_tagged(struct yaml_build *b, int line, const char *tag, const char *text)
{
    const char *name = strncmp(tag, YAML_TAG_PREFIX, strlen(YAML_TAG_PREFIX)) == 0
                           ? tag + strlen(YAML_TAG_PREFIX)
                           : NULL;
    if (strcmp(tag, "!") == 0 || (name != NULL && strcmp(name, "str") == 0)) {
        json_t *string = json_string(text);
        if (string == NULL) {
            build_error(b, line, NULL, NULL, "out of memory");
        }
        return string;
    }
    if (name != NULL && strcmp(name, "null") == 0 && is_core_null(text)) {
        return json_null();
    }
    if (name != NULL && strcmp(name, "bool") == 0) {
        if (strcasecmp(text, "true") == 0) {
            return json_true();
        }
        if (strcasecmp(text, "false") == 0) {
            return json_false();
        }
    }
    bool matched = false;
    if (name != NULL && (strcmp(name, "int") == 0 || strcmp(name, "float") == 0)) {
        json_t *integer = make_int(b, line, text, &matched);
        if (matched && integer != NULL && strcmp(name, "float") == 0) {
            json_t *real = json_real((double)json_integer_value(integer));
            json_decref(integer);
            if (real == NULL) {
                build_error(b, line, NULL, NULL, "out of memory");
            }
            return real;
        }
        if (matched) {
            return integer;
        }
        if (strcmp(name, "float") == 0 && is_core_float(text)) {
            return make_real(b, line, text);
        }
    }
    if (name != NULL && (strcmp(name, "null") == 0 || strcmp(name, "bool") == 0 ||
                         strcmp(name, "int") == 0 || strcmp(name, "float") == 0)) {
        build_error(b, line, NULL, "remove the tag or fix the value",
                    "\"%s\" is not a valid !!%s value", text, name);
        return NULL;
    }
    build_error(b, line, NULL,
                "remove the tag; only !!str, !!int, !!float, !!bool, !!null "
                "(and !!map, !!seq on collections) are understood",
                "unsupported YAML tag %s", tag);
    return NULL;
}

static json_t *scalar_value(struct yaml_build *b, const yaml_event_t *ev)
{
    int line = mark_line(&ev->start_mark);
    const char *text = (const char *)ev->data.scalar.value;
    const char *tag = (const char *)ev->data.scalar.tag;
    if (tag != NULL) {
        return resolve_tagged(b, line, tag, text);
    }
    if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
        return resolve_plain(b, line, text);
    }
    json_t *string = json_string(text); /* quoted or block scalars are always strings */
    if (string == NULL) {
        build_error(b, line, NULL, NULL, "out of memory");
    }
    return string;
}

static int record_line(struct yaml_build *b, const char *path, int line)
{
    if (json_object_set_new(b->lines, path, json_integer(line)) != 0) {
        build_error(b, line, NULL, NULL, "out of memory");
        return -1;
    }
    return 0;
}

static bool expecting_key(const struct yaml_build *b)
{
    return b->depth > 0 && json_is_object(b->stack[b->depth - 1].node) &&
           b->stack[b->depth - 1].key == NULL;
}

/* A scalar in key position: check it, remember it until its value arrives. */
static int handle_key(struct yaml_build *b, const yaml_event_t *ev)
{
    struct yaml_frame *top = &b->stack[b->depth - 1];
    int line = mark_line(&ev->start_mark);
    const char *key = (const char *)ev->data.scalar.value;
    char *path = config_key_join(top->path, key);
    if (path == NULL) {
        build_error(b, line, NULL, NULL, "out of memory");
        return -1;
    }
    if (json_object_get(top->node, key) != NULL) {
        const json_t *first = json_object_get(b->lines, path);
        build_error(b, line, path, "keep one of them",
                    "duplicate key \"%s\" (first on line %d, again on line %d)", key,
                    json_is_integer(first) ? (int)json_integer_value(first) : 0, line);
        free(path);
        return -1;
    }
    int rc = record_line(b, path, line);
    free(path);
    if (rc != 0) {
        return -1;
    }
    top->key = strdup(key);
    top->key_line = line;
    if (top->key == NULL) {
        build_error(b, line, NULL, NULL, "out of memory");
        return -1;
    }
    return 0;
}

/*
 * Attach a new value to the current container (or make it the root).
 *   value: STOLEN.
 *   path_out: when not NULL, the value's key path (malloc'd) for a container frame.
 */
static int attach(struct yaml_build *b, json_t *value, int line, char **path_out)
{
    char *path = NULL;
    int rc = -1;
    if (b->depth == 0) {
        b->root = value;
        path = strdup("");
        value = NULL;
        if (path == NULL) {
            goto oom;
        }
    } else {
        struct yaml_frame *top = &b->stack[b->depth - 1];
        if (json_is_object(top->node)) {
            path = config_key_join(top->path, top->key);
            if (path == NULL) {
                goto oom;
            }
            int set = json_object_set_new(top->node, top->key, value);
            value = NULL; /* set_new steals it, even on failure */
            if (set != 0) {
                goto oom;
            }
            free(top->key);
            top->key = NULL;
        } else {
            path = config_key_index(top->path, top->index++);
            if (path == NULL) {
                goto oom;
            }
            int appended = json_array_append_new(top->node, value);
            value = NULL; /* append_new steals it, even on failure */
            if (appended != 0) {
                goto oom;
            }
            if (record_line(b, path, line) != 0) {
                goto out;
            }
        }
    }
    if (path_out != NULL) {
        *path_out = path;
        path = NULL;
    }
    rc = 0;
    goto out;
oom:
    build_error(b, line, NULL, NULL, "out of memory");
out:
    json_decref(value);
    free(path);
    return rc;
}

static int refuse_anchor(struct yaml_build *b, const yaml_event_t *ev, const yaml_char_t *anchor)
{
    if (anchor == NULL) {
        return 0;
    }
    build_error(b, mark_line(&ev->start_mark), NULL, "write the value out in full",
                "YAML anchors and aliases (&%s) are not supported", (const char *)anchor);
    return -1;
}

static int handle_collection_start(struct yaml_build *b, const yaml_event_t *ev, bool mapping)
{
    int line = mark_line(&ev->start_mark);
    const yaml_char_t *anchor =
        mapping ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor;
    const char *tag =
        (const char *)(mapping ? ev->data.mapping_start.tag : ev->data.sequence_start.tag);
    if (refuse_anchor(b, ev, anchor) != 0) {
        return -1;
    }
    if (tag != NULL && strcmp(tag, "!") != 0 &&
        strcmp(tag, mapping ? YAML_TAG_PREFIX "map" : YAML_TAG_PREFIX "seq") != 0) {
        build_error(b, line, NULL, "remove the tag", "unsupported YAML tag %s on a %s", tag,
                    mapping ? "mapping" : "list");
        return -1;
    }
    if (expecting_key(b)) {
        build_error(b, line, b->stack[b->depth - 1].path[0] ? b->stack[b->depth - 1].path : NULL,
                    "keys must be plain strings", "a %s cannot be used as a key",
                    mapping ? "mapping" : "list");
        return -1;
    }
    if (b->depth == CONFIG_PARSE_MAX_DEPTH) {
        build_error(b, line, NULL, "flatten the structure", "nesting is deeper than %d levels",
                    CONFIG_PARSE_MAX_DEPTH);
        return -1;
    }
    json_t *node = mapping ? json_object() : json_array();
    if (node == NULL) {
        build_error(b, line, NULL, NULL, "out of memory");
        return -1;
    }
    char *path = NULL;
    if (attach(b, node, line, &path) != 0) {
        return -1;
    }
    b->stack[b->depth++] = (struct yaml_frame){.node = node, .path = path};
    return 0;
}

static int handle_scalar(struct yaml_build *b, const yaml_event_t *ev)
{
    int line = mark_line(&ev->start_mark);
    if (refuse_anchor(b, ev, ev->data.scalar.anchor) != 0) {
        return -1;
    }
    if (strlen((const char *)ev->data.scalar.value) != ev->data.scalar.length) {
        build_error(b, line, NULL, "remove the \\0 escape", "NUL characters are not allowed");
        return -1;
    }
    if (expecting_key(b)) {
        const char *tag = (const char *)ev->data.scalar.tag;
        if (tag != NULL && strcmp(tag, "!") != 0 && strcmp(tag, YAML_TAG_PREFIX "str") != 0) {
            build_error(b, line, NULL, "remove the tag; keys are strings",
                        "unsupported YAML tag %s on a key", tag);
            return -1;
        }
        return handle_key(b, ev);
    }
    json_t *value = scalar_value(b, ev);
    if (value == NULL) {
        return -1;
    }
    return attach(b, value, line, NULL);
}

static int handle_event(struct yaml_build *b, const yaml_event_t *ev)
{
    switch (ev->type) {
    case YAML_DOCUMENT_START_EVENT:
        if (++b->documents > 1) {
            build_error(b, mark_line(&ev->start_mark), NULL,
                        "remove the \"---\" line and what follows it, or split the file",
                        "a config file holds one YAML document; this is a second one");
            return -1;
        }
        return 0;
    case YAML_ALIAS_EVENT:
        build_error(b, mark_line(&ev->start_mark), NULL, "write the value out in full",
                    "YAML anchors and aliases (*%s) are not supported",
                    (const char *)ev->data.alias.anchor);
        return -1;
    case YAML_SCALAR_EVENT:
        return handle_scalar(b, ev);
    case YAML_SEQUENCE_START_EVENT:
        return handle_collection_start(b, ev, false);
    case YAML_MAPPING_START_EVENT:
        return handle_collection_start(b, ev, true);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT: {
        if (b->depth == 0) {
            return 0; /* libyaml pairs every end with a start; never trust that blindly */
        }
        struct yaml_frame *top = &b->stack[--b->depth];
        free(top->path);
        free(top->key);
        *top = (struct yaml_frame){0};
        return 0;
    }
    default: /* stream start/end, document end, no event */
        return 0;
    }
}

static void syntax_error(struct yaml_build *b, const yaml_parser_t *parser, const char *text,
                         size_t len)
{
    if (parser->error == YAML_MEMORY_ERROR) {
        build_error(b, 0, NULL, NULL, "out of memory");
        return;
    }
    if (parser->error == YAML_READER_ERROR) {
        /* Encoding problems carry a byte offset, not a mark: count the lines ourselves. */
        int line = 1;
        for (size_t i = 0; i < parser->problem_offset && i < len; i++) {
            line += text[i] == '\n';
        }
        build_error(b, line, NULL, "save the file as UTF-8", "cannot read YAML at byte %zu: %s",
                    parser->problem_offset, parser->problem ? parser->problem : "invalid input");
        return;
    }
    struct strbuf detail = {0};
    if (parser->context != NULL) {
        strbuf_appendf(&detail, "%s (line %d, column %d)", parser->context,
                       mark_line(&parser->context_mark), (int)parser->context_mark.column + 1);
    }
    diag_add(b->diags, DIAG_ERROR, b->file, mark_line(&parser->problem_mark), NULL,
             parser->context != NULL && !detail.failed ? strbuf_value(&detail) : NULL,
             "check the indentation, the \": \" after each key and the quoting on that line",
             "YAML syntax error at line %d, column %d: %s", mark_line(&parser->problem_mark),
             (int)parser->problem_mark.column + 1,
             parser->problem ? parser->problem : "unknown problem");
    strbuf_free(&detail);
}

int config_yaml_parse(const char *text, size_t len, const char *file, json_t **tree_out,
                      json_t **lines_out, struct diag_list *diags)
{
    struct yaml_build b = {.file = file, .diags = diags};
    yaml_parser_t parser;
    bool parser_ready = false;
    int rc = -1;

    *tree_out = NULL;
    if (lines_out != NULL) {
        *lines_out = NULL;
    }
    b.lines = json_object();
    if (b.lines == NULL || !yaml_parser_initialize(&parser)) {
        build_error(&b, 0, NULL, NULL, "out of memory");
        goto out;
    }
    parser_ready = true;
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            syntax_error(&b, &parser, text, len);
            goto out;
        }
        bool end = ev.type == YAML_STREAM_END_EVENT;
        int handled = handle_event(&b, &ev);
        yaml_event_delete(&ev);
        if (handled != 0) {
            goto out;
        }
        if (end) {
            break;
        }
    }
    *tree_out = b.root != NULL ? b.root : json_null();
    b.root = NULL;
    if (lines_out != NULL) {
        *lines_out = b.lines;
        b.lines = NULL;
    }
    rc = 0;
out:
    if (parser_ready) {
        yaml_parser_delete(&parser);
    }
    /* Every slot, not just those below depth: popped frames are zeroed, and this way
     * nothing depends on depth being right after an error. */
    for (size_t i = 0; i < CONFIG_PARSE_MAX_DEPTH; i++) {
        free(b.stack[i].path);
        free(b.stack[i].key);
    }
    json_decref(b.root);
    json_decref(b.lines);
    return rc;
}

static bool ends_with(const char *text, const char *suffix)
{
    size_t n = strlen(text), m = strlen(suffix);
    return n >= m && strcmp(text + n - m, suffix) == 0;
}

int config_parse_file(const char *path, json_t **tree_out, json_t **lines_out,
                      struct diag_list *diags)
{
    *tree_out = NULL;
    if (lines_out != NULL) {
        *lines_out = NULL;
    }
    size_t len = 0;
    char *text = util_read_file(path, CONFIG_PARSE_MAX_FILE, &len);
    if (text == NULL) {
        if (errno == EFBIG) {
            diag_add(diags, DIAG_ERROR, path, 0, NULL, NULL,
                     "config files are small; is this the right file?",
                     "file is larger than %d KiB", CONFIG_PARSE_MAX_FILE / 1024);
        } else {
            diag_add(diags, DIAG_ERROR, path, 0, NULL, NULL,
                     "check the path and that the daemon may read it", "cannot read file: %s",
                     strerror(errno));
        }
        return -1;
    }
    int rc = ends_with(path, ".json")
                 ? config_json_parse(text, len, path, tree_out, lines_out, diags)
                 : config_yaml_parse(text, len, path, tree_out, lines_out, diags);
    free(text);
    return rc;
}
