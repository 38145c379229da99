/*
 * config_schema.c - plugin config schemas: the well-formedness check the loader runs on
 * every descriptor, the human description for `leadhubd plugins info`, and type names.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config_value.h"
#include "util.h"

#define DESCRIBE_WIDTH  80
#define DESCRIBE_INDENT "    "

const char *config_type_name(lh_config_type_t type)
{
    switch (type) {
    case LH_CONFIG_STRING:
        return "string";
    case LH_CONFIG_INT:
        return "int";
    case LH_CONFIG_BOOL:
        return "bool";
    case LH_CONFIG_DOUBLE:
        return "double";
    case LH_CONFIG_DURATION:
        return "duration";
    case LH_CONFIG_ENUM:
        return "enum";
    case LH_CONFIG_LIST:
        return "list";
    case LH_CONFIG_JSON:
        return "json";
    case LH_CONFIG_SECRET:
        return "secret";
    }
    return "unknown";
}

static bool type_known(lh_config_type_t type)
{
    return type >= LH_CONFIG_STRING && type <= LH_CONFIG_SECRET;
}

static bool type_has_range(lh_config_type_t type)
{
    return type == LH_CONFIG_INT || type == LH_CONFIG_DOUBLE || type == LH_CONFIG_DURATION ||
           type == LH_CONFIG_LIST || type == LH_CONFIG_STRING || type == LH_CONFIG_SECRET;
}

/* Does the default parse under the field's type and range? NULL, or a NEW message. */
static char *default_problem(const lh_config_field_t *field)
{
    struct diag_list diags = {0};
    char *problem = NULL;
    json_t *written = config_value_default(field, field->name, NULL, &diags);
    /* No reference resolution: a default must not depend on the environment. */
    json_t *normalized =
        written != NULL ? config_value_normalize(field, written, field->name, NULL, false, &diags)
                        : NULL;
    if (normalized == NULL) {
        problem = util_printf("field \"%s\": default \"%s\" is invalid: %s", field->name,
                              field->default_value,
                              diags.count > 0 ? diags.items[0].message : "out of memory");
        if (problem == NULL) {
            problem = strdup("out of memory");
        }
    }
    json_decref(written);
    json_decref(normalized);
    diag_list_free(&diags);
    return problem;
}

static char *enum_problem(const lh_config_field_t *field)
{
    if (field->type != LH_CONFIG_ENUM) {
        return field->enum_values == NULL
                   ? NULL
                   : util_printf("field \"%s\": enum_values is only for enum fields", field->name);
    }
    if (field->enum_values == NULL || field->enum_values[0] == NULL) {
        return util_printf("field \"%s\": an enum needs enum_values, a non-empty NULL-terminated "
                           "list of the allowed values",
                           field->name);
    }
    for (size_t i = 0; field->enum_values[i] != NULL; i++) {
        if (field->enum_values[i][0] == '\0') {
            return util_printf("field \"%s\": enum value %zu is empty", field->name, i + 1);
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(field->enum_values[i], field->enum_values[j]) == 0) {
                return util_printf("field \"%s\": enum value \"%s\" is listed twice", field->name,
                                   field->enum_values[i]);
            }
        }
    }
    return NULL;
}

static char *range_problem(const lh_config_field_t *field)
{
    unsigned range_flags = field->flags & (LH_FIELD_HAS_MIN | LH_FIELD_HAS_MAX);
    if (range_flags == 0) {
        return NULL;
    }
    if (!type_has_range(field->type)) {
        return util_printf("field \"%s\": min and max apply only to int, double, duration, "
                           "list, string and secret fields, not %s",
                           field->name, config_type_name(field->type));
    }
    if (((field->flags & LH_FIELD_HAS_MIN) && !isfinite(field->min)) ||
        ((field->flags & LH_FIELD_HAS_MAX) && !isfinite(field->max))) {
        return util_printf("field \"%s\": min and max must be finite numbers", field->name);
    }
    if (range_flags == (LH_FIELD_HAS_MIN | LH_FIELD_HAS_MAX) && field->min > field->max) {
        return util_printf("field \"%s\": min %g is greater than max %g", field->name, field->min,
                           field->max);
    }
    return NULL;
}

/* The first problem with one field, or NULL. NEW string. */
static char *field_problem(const lh_config_field_t *schema, size_t index)
{
    const lh_config_field_t *field = &schema[index];
    const unsigned known_flags = LH_FIELD_REQUIRED | LH_FIELD_HAS_MIN | LH_FIELD_HAS_MAX;
    if (!util_identifier_valid(field->name)) {
        return util_printf("field %zu: name \"%s\" is not valid: use [a-z][a-z0-9_]*, at most 63 "
                           "characters",
                           index + 1, field->name);
    }
    for (size_t j = 0; j < index; j++) {
        if (strcmp(schema[j].name, field->name) == 0) {
            return util_printf("field \"%s\": declared twice", field->name);
        }
    }
    if (!type_known(field->type)) {
        return util_printf("field \"%s\": unknown type %d", field->name, (int)field->type);
    }
    if (field->flags & ~known_flags) {
        return util_printf("field \"%s\": unknown flags 0x%x", field->name,
                           field->flags & ~known_flags);
    }
    if (field->description == NULL || field->description[0] == '\0') {
        return util_printf("field \"%s\": the description is missing", field->name);
    }
    char *problem = enum_problem(field);
    if (problem == NULL) {
        problem = range_problem(field);
    }
    if (problem != NULL || field->default_value == NULL) {
        return problem;
    }
    if (field->flags & LH_FIELD_REQUIRED) {
        return util_printf("field \"%s\": a required field cannot have a default", field->name);
    }
    if (field->type == LH_CONFIG_SECRET) {
        /* The default is not quoted: it may be a real secret written by mistake. */
        return util_printf("field \"%s\": a secret cannot have a default; it must come from a "
                           "reference in the instance file",
                           field->name);
    }
    return default_problem(field);
}

int config_schema_check(const lh_config_field_t *schema, char **error_out)
{
    char *problem = NULL;
    if (schema == NULL) {
        problem = strdup("the config schema is missing (NULL); an empty one is { LH_FIELD_END }");
    } else {
        for (size_t i = 0; schema[i].name != NULL && problem == NULL; i++) {
            problem = field_problem(schema, i);
        }
    }
    if (error_out != NULL) {
        *error_out = problem;
    } else {
        free(problem);
    }
    return problem == NULL && schema != NULL ? 0 : -1;
}

static void append_bound(struct strbuf *sb, const lh_config_field_t *field, const char *label,
                         double bound)
{
    switch (field->type) {
    case LH_CONFIG_DURATION: {
        char text[32];
        util_format_duration((int64_t)bound, text, sizeof(text));
        strbuf_appendf(sb, ", %s %s", label, text);
        break;
    }
    case LH_CONFIG_LIST:
        strbuf_appendf(sb, ", %s %lld item%s", label, (long long)bound, bound == 1 ? "" : "s");
        break;
    case LH_CONFIG_STRING:
    case LH_CONFIG_SECRET:
        strbuf_appendf(sb, ", %s %lld byte%s", label, (long long)bound, bound == 1 ? "" : "s");
        break;
    case LH_CONFIG_INT:
        strbuf_appendf(sb, ", %s %lld", label, (long long)bound);
        break;
    default:
        strbuf_appendf(sb, ", %s %g", label, bound);
        break;
    }
}

/* Appends text word-wrapped to DESCRIBE_WIDTH, each line indented. */
static void append_wrapped(struct strbuf *sb, const char *text)
{
    const size_t room = DESCRIBE_WIDTH - strlen(DESCRIBE_INDENT);
    const char *p = text;
    while (*p != '\0') {
        while (*p == ' ') {
            p++;
        }
        size_t len = strlen(p);
        size_t take = len;
        if (len > room) {
            take = room;
            while (take > 0 && p[take] != ' ') {
                take--;
            }
            if (take == 0) {
                take = strcspn(p, " "); /* one long word: let it overflow */
            }
        }
        if (take > 0) {
            strbuf_appendf(sb, "%s%.*s\n", DESCRIBE_INDENT, (int)take, p);
        }
        p += take;
    }
}

void config_schema_describe(const lh_config_field_t *schema, FILE *out)
{
    if (schema == NULL || schema[0].name == NULL) {
        fputs("(no settings)\n", out);
        return;
    }
    for (const lh_config_field_t *field = schema; field->name != NULL; field++) {
        struct strbuf sb = {0};
        if (field != schema) {
            strbuf_append(&sb, "\n");
        }
        strbuf_appendf(&sb, "%s: %s, %s", field->name, config_type_name(field->type),
                       (field->flags & LH_FIELD_REQUIRED) ? "required" : "optional");
        /* Secrets cannot have defaults (config_schema_check), so nothing secret prints. */
        if (field->default_value != NULL && field->type != LH_CONFIG_SECRET) {
            bool quote = field->type == LH_CONFIG_STRING || field->type == LH_CONFIG_ENUM;
            strbuf_appendf(&sb, quote ? ", default \"%s\"" : ", default %s", field->default_value);
        }
        bool counted = field->type == LH_CONFIG_LIST || field->type == LH_CONFIG_STRING ||
                       field->type == LH_CONFIG_SECRET;
        if (field->flags & LH_FIELD_HAS_MIN) {
            append_bound(&sb, field, counted ? "at least" : "min", field->min);
        }
        if (field->flags & LH_FIELD_HAS_MAX) {
            append_bound(&sb, field, counted ? "at most" : "max", field->max);
        }
        strbuf_append(&sb, "\n");
        if (field->type == LH_CONFIG_ENUM && field->enum_values != NULL) {
            strbuf_append(&sb, DESCRIBE_INDENT "one of:");
            for (size_t i = 0; field->enum_values[i] != NULL; i++) {
                strbuf_appendf(&sb, "%s %s", i > 0 ? "," : "", field->enum_values[i]);
            }
            strbuf_append(&sb, "\n");
        }
        append_wrapped(&sb, field->description != NULL ? field->description : "");
        if (field->type == LH_CONFIG_SECRET) {
            strbuf_append(&sb, DESCRIBE_INDENT "from a reference only: ${ENV_VAR} or "
                                               "${file:/path}; never printed\n");
        } else if (field->type == LH_CONFIG_DURATION) {
            strbuf_append(&sb, DESCRIBE_INDENT "written with a unit: 250ms, 30s, 5m, 1h30m\n");
        }
        fputs(strbuf_value(&sb), out);
        strbuf_free(&sb);
    }
}
