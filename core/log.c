/* log.c - JSON log lines. One mutex keeps lines whole when threads log at once. */
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

static const char *const level_names[] = {"debug", "info", "warn", "error"};

/* Start-up configuration, then read-only: set before threads start. */
static enum log_level min_level = LOG_LEVEL_INFO;
static FILE *log_stream;
static pthread_mutex_t log_mutex = PTHREAD_MUTEX_INITIALIZER;

void log_set_level(enum log_level level)
{
    min_level = level;
}

enum log_level log_get_level(void)
{
    return min_level;
}

void log_set_stream(FILE *stream)
{
    log_stream = stream;
}

int log_level_parse(const char *name, enum log_level *level)
{
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *level = (enum log_level)i;
            return 0;
        }
    }
    return -1;
}

const char *log_level_name(enum log_level level)
{
    return level_names[level];
}

void log_writev(enum log_level level, const char *plugin, const char *instance,
                const json_t *fields, const char *fmt, va_list args)
{
    if (level < min_level) {
        return;
    }
    char msg[2048];
    vsnprintf(msg, sizeof(msg), fmt, args);
    util_utf8_sanitize(msg); /* truncation or a plugin's bytes must not break the line */

    char ts[40];
    util_format_rfc3339(util_now_ms(), ts);

    json_t *line = json_object();
    if (line == NULL) {
        return;
    }
    json_object_set_new(line, "ts", json_string(ts));
    json_object_set_new(line, "level", json_string(level_names[level]));
    json_object_set_new(line, "msg", json_string(msg));
    if (plugin != NULL) {
        json_object_set_new(line, "plugin", json_string(plugin));
    }
    if (instance != NULL) {
        json_object_set_new(line, "instance", json_string(instance));
    }
    if (fields != NULL) {
        const char *key;
        json_t *value;
        json_object_foreach((json_t *)fields, key, value)
        {
            json_object_set(line, key, value);
        }
    }
    char *text = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(line);
    if (text == NULL) {
        return;
    }
    FILE *out = log_stream != NULL ? log_stream : stdout;
    pthread_mutex_lock(&log_mutex);
    fputs(text, out);
    fputc('\n', out);
    fflush(out);
    pthread_mutex_unlock(&log_mutex);
    free(text);
}

void log_write(enum log_level level, const char *plugin, const char *instance, const json_t *fields,
               const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    log_writev(level, plugin, instance, fields, fmt, args);
    va_end(args);
}
