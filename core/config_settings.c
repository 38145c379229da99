/* config_settings.c - an instance's settings against its plugin's schema. */
#include "config.h"
#include "config_object.h"

json_t *config_settings_validate(const struct config_instance *instance,
                                 const lh_config_field_t *schema, struct diag_list *diags)
{
    static const lh_config_field_t no_fields[] = {LH_FIELD_END};
    struct config_where where = {.file = instance->file, .lines = instance->lines};
    json_t *empty = NULL;
    if (schema == NULL) {
        schema = no_fields; /* the loader refuses such plugins; never crash on one */
    }
    const json_t *settings = instance->settings;
    if (settings == NULL) {
        empty = json_object();
        if (empty == NULL) {
            diag_add(diags, DIAG_ERROR, instance->file, 0, "settings", NULL, NULL, "out of memory");
            return NULL;
        }
        settings = empty;
    }
    json_t *result = config_object_validate(settings, schema, "settings", &where, diags);
    json_decref(empty);
    return result;
}

json_t *config_settings_redacted(const json_t *settings, const lh_config_field_t *schema)
{
    json_t *copy = json_deep_copy(settings);
    if (copy == NULL || !json_is_object(copy)) {
        return copy;
    }
    for (const lh_config_field_t *field = schema; field != NULL && field->name != NULL; field++) {
        if (field->type == LH_CONFIG_SECRET && json_object_get(copy, field->name) != NULL &&
            json_object_set_new(copy, field->name, json_string("[redacted]")) != 0) {
            json_decref(copy); /* better nothing than a copy that still holds the secret */
            return NULL;
        }
    }
    return copy;
}
