/*
 * log.h - JSON log lines on stdout: one object per line with ts, level, msg, and the
 * plugin/instance a line is about. Thread-safe. Never pass secrets to it.
 */
#ifndef LEADHUB_LOG_H
#define LEADHUB_LOG_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
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

/*
 * Rate-limited lines, for what a stranger can make happen as often as they like (refused
 * webhooks, refused connections): at most `burst` lines per window; the rest are counted,
 * and the next line written after them (or log_limiter_flush(), once the window is over)
 * is preceded by a summary: "N <what> suppressed in the last S s".
 * Initialize with LOG_LIMITER_INIT; thread-safe.
 */
struct log_limiter {
    pthread_mutex_t mutex;
    unsigned burst;
    int64_t window_ms;
    const char *what; /* "webhook refusals": a constant */
    int64_t window_start_ms;
    unsigned written;    /* in this window */
    unsigned suppressed; /* since the last summary */
    int64_t first_suppressed_ms;
};

#define LOG_LIMITER_INIT(burst, window_ms, what)                                                   \
    {                                                                                              \
        PTHREAD_MUTEX_INITIALIZER, (burst), (window_ms), (what), 0, 0, 0, 0                        \
    }

/* log_limited - log_write() unless the limiter's burst is spent. Returns whether it wrote. */
bool log_limited(struct log_limiter *limiter, enum log_level level, const char *plugin,
                 const char *instance, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* log_limiter_flush - write the summary of what was suppressed, once its window is over. */
void log_limiter_flush(struct log_limiter *limiter);

/* log_limiter_suppressed - lines suppressed and not yet summarized (for tests). */
unsigned log_limiter_suppressed(struct log_limiter *limiter);

#define log_debug(...) log_write(LOG_LEVEL_DEBUG, NULL, NULL, NULL, __VA_ARGS__)
#define log_info(...)  log_write(LOG_LEVEL_INFO, NULL, NULL, NULL, __VA_ARGS__)
#define log_warn(...)  log_write(LOG_LEVEL_WARN, NULL, NULL, NULL, __VA_ARGS__)
#define log_error(...) log_write(LOG_LEVEL_ERROR, NULL, NULL, NULL, __VA_ARGS__)

#endif
