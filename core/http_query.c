/* http_query.c - query strings from the raw request target (see http_query.h). */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_query.h"
#include "util.h"

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/*
 * Decodes [text, text + len) into a malloc'd NUL-terminated string: %XX escapes, '+' as a
 * space; a '%' not followed by two hex digits stays as it is (as libmicrohttpd keeps it).
 * NULL when out of memory or when the result holds a NUL or is not valid UTF-8 (*invalid
 * set then).
 */
static char *decode(const char *text, size_t len, bool *invalid)
{
    *invalid = false;
    char *out = malloc(len + 1);
    if (out == NULL) {
        return NULL;
    }
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        int high, low;
        if (text[i] == '%' && i + 2 < len && (high = hex_value(text[i + 1])) >= 0 &&
            (low = hex_value(text[i + 2])) >= 0) {
            char c = (char)(high * 16 + low);
            if (c == '\0') {
                *invalid = true;
                free(out);
                return NULL;
            }
            out[n++] = c;
            i += 2;
        } else {
            out[n++] = text[i] == '+' ? ' ' : text[i];
        }
    }
    out[n] = '\0';
    if (!util_utf8_valid(out)) {
        *invalid = true;
        free(out);
        return NULL;
    }
    return out;
}

/* What names a parameter in an error: decoded when that is valid text, else as sent (a
 * prefix of at most 64 bytes, escapes kept, control bytes and non-ASCII as '?'). */
static char *describe(const char *name, size_t name_len)
{
    bool invalid;
    char *decoded = decode(name, name_len, &invalid);
    if (decoded != NULL) {
        return decoded;
    }
    size_t len = name_len > 64 ? 64 : name_len;
    char *raw = malloc(len + 1);
    if (raw == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        raw[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    raw[len] = '\0';
    return raw;
}

int http_query_parse(const char *query, json_t **out, char **bad_out)
{
    *out = NULL;
    *bad_out = NULL;
    json_t *params = json_object();
    if (params == NULL) {
        return -2;
    }
    const char *p = query != NULL ? query : "";
    while (*p != '\0') {
        size_t segment = strcspn(p, "&");
        const char *equals = memchr(p, '=', segment);
        size_t name_len = equals != NULL ? (size_t)(equals - p) : segment;
        if (segment > 0) {
            bool invalid = false;
            char *name = decode(p, name_len, &invalid);
            char *value = NULL;
            if (name != NULL && equals != NULL) {
                value = decode(equals + 1, segment - name_len - 1, &invalid);
            }
            if (name == NULL || (equals != NULL && value == NULL)) {
                free(name);
                free(value);
                json_decref(params);
                if (!invalid) {
                    return -2;
                }
                *bad_out = describe(p, name_len);
                return *bad_out != NULL ? -1 : -2;
            }
            if (json_object_get(params, name) == NULL &&
                json_object_set_new(params, name, json_string(value != NULL ? value : "")) != 0) {
                free(name);
                free(value);
                json_decref(params);
                return -2;
            }
            free(name);
            free(value);
        }
        p += segment;
        if (*p == '&') {
            p++;
        }
    }
    *out = params;
    return 0;
}

int http_path_has_nul(const char *raw_target)
{
    size_t len = strcspn(raw_target, "?");
    for (size_t i = 0; i + 2 < len; i++) {
        if (raw_target[i] == '%' && raw_target[i + 1] == '0' && raw_target[i + 2] == '0') {
            return 1;
        }
    }
    return 0;
}
