/*
 * person_name_lead.c - a name text into a normalized event's lead fields, the same way in
 * every connector (see person_name_set_lead() in person_name.h).
 */
#include <string.h>

#include "person_name.h"

/* 1 when set, 0 when too long to set, -1 when out of memory. */
static int set_text(json_t *object, const char *key, const char *text, size_t max_bytes)
{
    size_t length = strlen(text);
    if (length == 0 || length > max_bytes) {
        return 0;
    }
    return json_object_set_new(object, key, json_stringn(text, length)) == 0 ? 1 : -1;
}

static int set_full_name(json_t *lead, const char *full_name, size_t max_bytes)
{
    json_t *attributes = json_object_get(lead, "attributes");
    if (attributes == NULL) {
        attributes = json_object();
        if (attributes == NULL || json_object_set_new(lead, "attributes", attributes) != 0) {
            return -1;
        }
    } else if (!json_is_object(attributes)) {
        return 0; /* not ours to replace */
    }
    return set_text(attributes, "full_name", full_name, max_bytes);
}

int person_name_set_lead(json_t *lead, const char *text, size_t length, size_t max_bytes)
{
    struct person_name name;
    if (person_name_parse(text, length, &name) != 0) {
        return -1;
    }
    int rc = 0;
    switch (name.kind) {
    case PERSON_NAME_PERSON:
        if (name.given_name != NULL && name.family_name != NULL &&
            strlen(name.given_name) <= max_bytes && strlen(name.family_name) <= max_bytes) {
            rc = set_text(lead, "first_name", name.given_name, max_bytes);
            if (rc == 1) {
                rc = set_text(lead, "last_name", name.family_name, max_bytes);
            }
            break;
        }
        if (name.family_name != NULL && name.given_name == NULL) {
            rc = set_text(lead, "last_name", name.family_name, max_bytes);
        }
        if (rc >= 0) {
            int full = set_full_name(lead, name.full_name, max_bytes);
            rc = full < 0 ? -1 : (rc | full);
        }
        break;
    case PERSON_NAME_ORGANIZATION:
        if (json_object_get(lead, "company") == NULL) {
            rc = set_text(lead, "company", name.full_name, max_bytes);
        }
        break;
    case PERSON_NAME_EMPTY:
    case PERSON_NAME_UNKNOWN:
        break;
    }
    person_name_clear(&name);
    return rc;
}
