/* diag.c - message / detail / hint diagnostics. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "log.h"
#include "util.h"

/* Set when an allocation failed while adding an error: the list must not look valid. */
static char oom_message[] = "out of memory";
static const struct diag oom_diag = {DIAG_ERROR, NULL, 0, NULL, oom_message, NULL, NULL};

static char *copy_or_null(const char *text)
{
    return text != NULL ? strdup(text) : NULL;
}

static void diag_free_one(struct diag *d)
{
    if (d->message == oom_message) {
        return;
    }
    free(d->file);
    free(d->key);
    free(d->message);
    free(d->detail);
    free(d->hint);
}

void diag_add(struct diag_list *list, enum diag_severity severity, const char *file, int line,
              const char *key, const char *detail, const char *hint, const char *fmt, ...)
{
    if (list->count == list->capacity) {
        size_t capacity = list->capacity ? list->capacity * 2 : 8;
        struct diag *items = realloc(list->items, capacity * sizeof(*items));
        if (items == NULL) {
            if (severity == DIAG_ERROR && list->count > 0) {
                diag_free_one(&list->items[list->count - 1]);
                list->items[list->count - 1] = oom_diag;
            }
            return;
        }
        list->items = items;
        list->capacity = capacity;
    }
    struct strbuf message = {0};
    va_list args;
    va_start(args, fmt);
    strbuf_appendv(&message, fmt, args);
    va_end(args);

    struct diag d = {
        .severity = severity,
        .file = copy_or_null(file),
        .line = line,
        .key = copy_or_null(key),
        .message = strbuf_take(&message),
        .detail = copy_or_null(detail),
        .hint = copy_or_null(hint),
    };
    if (d.message == NULL) {
        diag_free_one(&d);
        d = oom_diag;
        d.severity = severity;
    }
    list->items[list->count++] = d;
}

static size_t count_severity(const struct diag_list *list, enum diag_severity severity)
{
    size_t n = 0;
    for (size_t i = 0; i < list->count; i++) {
        n += list->items[i].severity == severity;
    }
    return n;
}

size_t diag_error_count(const struct diag_list *list)
{
    return count_severity(list, DIAG_ERROR);
}

size_t diag_warning_count(const struct diag_list *list)
{
    return count_severity(list, DIAG_WARNING);
}

static void format_location(struct strbuf *sb, const struct diag *d)
{
    if (d->file != NULL) {
        strbuf_append(sb, d->file);
        if (d->line > 0) {
            strbuf_appendf(sb, ":%d", d->line);
        }
        strbuf_append(sb, ": ");
    }
    if (d->key != NULL && d->key[0] != '\0') {
        strbuf_appendf(sb, "%s: ", d->key);
    }
}

char *diag_format_one(const struct diag *d)
{
    struct strbuf sb = {0};
    format_location(&sb, d);
    strbuf_append(&sb, d->message);
    return strbuf_take(&sb);
}

void diag_print(const struct diag_list *list, FILE *out)
{
    for (size_t i = 0; i < list->count; i++) {
        const struct diag *d = &list->items[i];
        struct strbuf sb = {0};
        format_location(&sb, d);
        strbuf_appendf(&sb, "%s: %s\n", d->severity == DIAG_ERROR ? "error" : "warning",
                       d->message);
        if (d->detail != NULL) {
            strbuf_appendf(&sb, "  detail: %s\n", d->detail);
        }
        if (d->hint != NULL) {
            strbuf_appendf(&sb, "  hint: %s\n", d->hint);
        }
        fputs(strbuf_value(&sb), out);
        strbuf_free(&sb);
    }
}

void diag_log(const struct diag_list *list)
{
    for (size_t i = 0; i < list->count; i++) {
        const struct diag *d = &list->items[i];
        json_t *fields = json_object();
        if (fields == NULL) {
            continue;
        }
        if (d->file != NULL) {
            json_object_set_new(fields, "file", json_string(d->file));
        }
        if (d->line > 0) {
            json_object_set_new(fields, "line", json_integer(d->line));
        }
        if (d->key != NULL) {
            json_object_set_new(fields, "key", json_string(d->key));
        }
        if (d->detail != NULL) {
            json_object_set_new(fields, "detail", json_string(d->detail));
        }
        if (d->hint != NULL) {
            json_object_set_new(fields, "hint", json_string(d->hint));
        }
        log_write(d->severity == DIAG_ERROR ? LOG_LEVEL_ERROR : LOG_LEVEL_WARN, NULL, NULL, fields,
                  "%s", d->message);
        json_decref(fields);
    }
}

void diag_move(struct diag_list *dst, struct diag_list *src)
{
    for (size_t i = 0; i < src->count; i++) {
        const struct diag *d = &src->items[i];
        diag_add(dst, d->severity, d->file, d->line, d->key, d->detail, d->hint, "%s", d->message);
    }
    diag_list_free(src);
}

void diag_list_free(struct diag_list *list)
{
    for (size_t i = 0; i < list->count; i++) {
        diag_free_one(&list->items[i]);
    }
    free(list->items);
    list->items = NULL;
    list->count = list->capacity = 0;
}
