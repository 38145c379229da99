/*
 * log.h - JSON log lines on stdout: one object per line with ts, level, msg, and the
 * plugin/instance a line is about. Thread-safe. Never pass secrets to it.
 */
#ifndef LEADHUB_LOG_H
#define LEADHUB_LOG_H

#include <stdio.h>

#include <jansson.h>

enum log_level { LOG_LEVEL_DEBUG = 0, LOG_LEVEL_INFO = 1, LOG_LEVEL_WARN = 2, LOG_LEVEL_ERROR = 3 };

/* Lines below `level` are dropped. Default: info. */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);

/* Where lines go (default stdout). The stream is borrowed; not thread-safe to change
 * while other threads log, so set it at start-up only. */
void log_set_stream(FILE *stream);

/* "debug"/"info"/"warn"/"error" -> 0 and *level set, or -1. */
int log_level_parse(const char *name, enum log_level *level);
const char *log_level_name(enum log_level level);

/*
 * log_write - write one line.
 *   plugin, instance: may be NULL.
 *   fields:           extra members, BORROWED; may be NULL.
 */
void log_write(enum log_level level, const char *plugin, const char *instance, const json_t *fields,
               const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void log_writev(enum log_level level, const char *plugin, const char *instance,
                const json_t *fields, const char *fmt, va_list args)
    __attribute__((format(printf, 5, 0)));

#define log_debug(...) log_write(LOG_LEVEL_DEBUG, NULL, NULL, NULL, __VA_ARGS__)
#define log_info(...)  log_write(LOG_LEVEL_INFO, NULL, NULL, NULL, __VA_ARGS__)
#define log_warn(...)  log_write(LOG_LEVEL_WARN, NULL, NULL, NULL, __VA_ARGS__)
#define log_error(...) log_write(LOG_LEVEL_ERROR, NULL, NULL, NULL, __VA_ARGS__)

#endif
