/* config_object.c - a mapping against a field table; see config_object.h. */
#include <stdlib.h>
#include <string.h>

#include "config_object.h"
#include "config_suggest.h"
#include "config_value.h"
#include "util.h"

static const lh_config_field_t *field_find(const lh_config_field_t *schema, const char *name)
{
    for (const lh_config_field_t *f = schema; f->name != NULL; f++) {
        if (strcmp(f->name, name) == 0) {
            return f;
        }
    }
    return NULL;
}

static void unknown_key(const lh_config_field_t *schema, const char *prefix, const char *name,
                        const struct config_where *where, struct diag_list *diags)
{
    size_t count = 0;
    while (schema[count].name != NULL) {
        count++;
    }
    const char **names = calloc(count + 1, sizeof(*names));
    char *key = config_key_join(prefix, name);
    char *hint = NULL;
    if (names != NULL) {
        for (size_t i = 0; i < count; i++) {
            names[i] = schema[i].name;
        }
        hint = config_suggest_hint(name, names, count, "allowed keys");
    }
    config_where_error(diags, where, key != NULL ? key : name, NULL, hint, "unknown key \"%s\"",
                       name);
    free(hint);
    free(key);
    free(names);
}

/* One field: its value as written, or its default, normalized into result. */
static void check_field(const json_t *object, const lh_config_field_t *field, const char *prefix,
                        const struct config_where *where, json_t *result, struct diag_list *diags)
{
    char *key = config_key_join(prefix, field->name);
    json_t *written_default = NULL;
    if (key == NULL) {
        config_where_error(diags, where, prefix, NULL, NULL, "out of memory");
        return;
    }
    const json_t *value = json_object_get(object, field->name);
    if (value == NULL && (field->flags & LH_FIELD_REQUIRED)) {
        config_where_error(diags, where, key, NULL, field->description,
                           "missing required key \"%s\"", field->name);
        goto out;
    }
    if (value == NULL && field->default_value == NULL) {
        goto out; /* optional, no default: stays absent */
    }
    if (value == NULL) {
        written_default = config_value_default(field, key, where, diags);
        if (written_default == NULL) {
            goto out;
        }
        value = written_default;
    }
    json_t *normalized = config_value_normalize(field, value, key, where, true, diags);
    if (normalized != NULL && json_object_set_new(result, field->name, normalized) != 0) {
        config_where_error(diags, where, key, NULL, NULL, "out of memory");
    }
out:
    json_decref(written_default);
    free(key);
}

json_t *config_object_normalize(const json_t *object, const lh_config_field_t *schema,
                                const char *prefix, const struct config_where *where,
                                struct diag_list *diags)
{
    if (!json_is_object(object)) {
        if (prefix[0] == '\0') {
            config_where_error(diags, where, NULL, NULL, "write one \"key: value\" per line",
                               "expected a mapping of keys at the top of the file, got %s",
                               config_value_kind(object));
        } else {
            config_where_error(diags, where, prefix, NULL, "write one \"key: value\" per line",
                               "expected a mapping, got %s", config_value_kind(object));
        }
        return NULL;
    }
    json_t *result = json_object();
    if (result == NULL) {
        config_where_error(diags, where, prefix, NULL, NULL, "out of memory");
        return NULL;
    }
    const char *name;
    const json_t *value;
    json_object_foreach((json_t *)object, name, value)
    {
        if (field_find(schema, name) == NULL) {
            unknown_key(schema, prefix, name, where, diags);
        }
    }
    for (const lh_config_field_t *field = schema; field->name != NULL; field++) {
        check_field(object, field, prefix, where, result, diags);
    }
    return result;
}

json_t *config_object_validate(const json_t *object, const lh_config_field_t *schema,
                               const char *prefix, const struct config_where *where,
                               struct diag_list *diags)
{
    size_t errors_before = diag_error_count(diags);
    json_t *result = config_object_normalize(object, schema, prefix, where, diags);
    if (result != NULL && diag_error_count(diags) > errors_before) {
        json_decref(result);
        return NULL;
    }
    return result;
}
