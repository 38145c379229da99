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

/* Writes the summary line; limiter->mutex held. */
static void write_summary(struct log_limiter *limiter, int64_t now)
{
    if (limiter->suppressed == 0) {
        return;
    }
    double seconds = (double)(now - limiter->first_suppressed_ms) / 1000.0;
    log_write(LOG_LEVEL_WARN, NULL, NULL, NULL, "%u %s suppressed in the last %.0f s",
              limiter->suppressed, limiter->what, seconds < 1 ? 1 : seconds);
    limiter->suppressed = 0;
}

bool log_limited(struct log_limiter *limiter, enum log_level level, const char *plugin,
                 const char *instance, const char *fmt, ...)
{
    if (level < min_level) {
        return false;
    }
    int64_t now = util_monotonic_ms();
    pthread_mutex_lock(&limiter->mutex);
    if (now - limiter->window_start_ms >= limiter->window_ms) {
        limiter->window_start_ms = now;
        limiter->written = 0;
    }
    bool allowed = limiter->written < limiter->burst;
    if (allowed) {
        limiter->written++;
        write_summary(limiter, now);
    } else if (limiter->suppressed++ == 0) {
        limiter->first_suppressed_ms = now;
    }
    pthread_mutex_unlock(&limiter->mutex);
    if (allowed) {
        va_list args;
        va_start(args, fmt);
        log_writev(level, plugin, instance, NULL, fmt, args);
        va_end(args);
    }
    return allowed;
}

void log_limiter_flush(struct log_limiter *limiter)
{
    int64_t now = util_monotonic_ms();
    pthread_mutex_lock(&limiter->mutex);
    if (limiter->suppressed > 0 && now - limiter->window_start_ms >= limiter->window_ms) {
        write_summary(limiter, now);
    }
    pthread_mutex_unlock(&limiter->mutex);
}

unsigned log_limiter_suppressed(struct log_limiter *limiter)
{
    pthread_mutex_lock(&limiter->mutex);
    unsigned n = limiter->suppressed;
    pthread_mutex_unlock(&limiter->mutex);
    return n;
}
