/* setting_values.c - see setting_values.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strdup */
#endif

#include <stdlib.h>
#include <string.h>

#include "setting_values.h"

enum setting_check setting_url(const char *value, char **out, const char **reason)
{
    *out = NULL;
    size_t scheme = value == NULL                        ? 0
                    : strncmp(value, "https://", 8) == 0 ? 8
                    : strncmp(value, "http://", 7) == 0  ? 7
                                                         : 0;
    if (scheme == 0) {
        *reason = "must start with https:// (or http://)";
        return SETTING_REFUSED;
    }
    size_t authority = strcspn(value + scheme, "/?#");
    if (authority == 0 || memchr(value + scheme, '@', authority) != NULL) {
        *reason = "must name a host, without user:password@";
        return SETTING_REFUSED;
    }
    for (const char *p = value; *p != '\0'; p++) {
        if ((unsigned char)*p <= ' ' || *p == 0x7f || *p == '#' || *p == '?') {
            *reason = "must not contain spaces, a query or a fragment";
            return SETTING_REFUSED;
        }
    }
    *out = strdup(value);
    if (*out == NULL) {
        *reason = "out of memory";
        return SETTING_NO_MEMORY;
    }
    size_t len = strlen(*out);
    while (len > scheme + authority && (*out)[len - 1] == '/') {
        (*out)[--len] = '\0';
    }
    return SETTING_OK;
}

enum setting_check setting_secret(const json_t *value, char **out, const char **reason)
{
    *out = NULL;
    if (value == NULL) {
        return SETTING_OK;
    }
    if (json_is_array(value)) {
        *reason = "give one value, not a list";
        return SETTING_REFUSED;
    }
    const char *text = json_string_value(value);
    if (text == NULL || text[0] == '\0' || strlen(text) != json_string_length(value)) {
        *reason = "must be a non-empty string";
        return SETTING_REFUSED;
    }
    for (const char *p = text; *p != '\0'; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            *reason = "must not contain control characters";
            return SETTING_REFUSED;
        }
    }
    *out = strdup(text);
    if (*out == NULL) {
        *reason = "out of memory";
        return SETTING_NO_MEMORY;
    }
    return SETTING_OK;
}
