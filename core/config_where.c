/* config_where.c - file/line/key helpers for config diagnostics. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "config_where.h"
#include "util.h"

int config_where_line(const struct config_where *where, const char *key)
{
    if (where == NULL || where->lines == NULL || key == NULL) {
        return 0;
    }
    char *path = strdup(key);
    if (path == NULL) {
        return 0;
    }
    int line = 0;
    /* Walk up the path: "a.b[2].c" -> "a.b[2]" -> "a.b" -> "a". */
    for (;;) {
        const json_t *value = json_object_get(where->lines, path);
        if (json_is_integer(value)) {
            line = (int)json_integer_value(value);
            break;
        }
        char *dot = strrchr(path, '.');
        char *bracket = strrchr(path, '[');
        char *cut = dot > bracket ? dot : bracket;
        if (cut == NULL || cut == path) {
            break;
        }
        *cut = '\0';
    }
    free(path);
    return line;
}

void config_where_error(struct diag_list *diags, const struct config_where *where, const char *key,
                        const char *detail, const char *hint, const char *fmt, ...)
{
    struct strbuf message = {0};
    va_list args;
    va_start(args, fmt);
    strbuf_appendv(&message, fmt, args);
    va_end(args);
    /* Out of memory still records an error (diag_add counts it), so nothing passes. */
    diag_add(diags, DIAG_ERROR, where != NULL ? where->file : NULL, config_where_line(where, key),
             key, detail, hint, "%s", message.failed ? "out of memory" : strbuf_value(&message));
    strbuf_free(&message);
}

char *config_key_join(const char *prefix, const char *name)
{
    if (prefix == NULL || prefix[0] == '\0') {
        return strdup(name);
    }
    return util_printf("%s.%s", prefix, name);
}

char *config_key_index(const char *prefix, size_t index)
{
    return util_printf("%s[%zu]", prefix != NULL ? prefix : "", index);
}
