/*
 * util.h - small helpers shared by the core: a growable string, durations, RFC 3339
 * times, names, files.
 */
#ifndef LEADHUB_UTIL_H
#define LEADHUB_UTIL_H

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define UTIL_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* A growable NUL-terminated string. Zero-initialize ({0}); free with strbuf_free(). On
 * allocation failure `failed` is set and later appends do nothing. */
struct strbuf {
    char *data;
    size_t len;
    size_t cap;
    bool failed;
};

void strbuf_append(struct strbuf *sb, const char *text);
void strbuf_append_len(struct strbuf *sb, const char *text, size_t len);
void strbuf_appendf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void strbuf_appendv(struct strbuf *sb, const char *fmt, va_list args)
    __attribute__((format(printf, 2, 0)));
/* strbuf_presize - room for `total` bytes (and the NUL) in one allocation of that size: for
 * a body whose length is known, no doubling (and no memory past it). */
void strbuf_presize(struct strbuf *sb, size_t total);
/* The string ("" when empty); owned by sb. */
const char *strbuf_value(const struct strbuf *sb);
/* Hands the buffer to the caller (free() it) and resets sb; NULL after a failure. */
char *strbuf_take(struct strbuf *sb);
void strbuf_free(struct strbuf *sb);

/* A malloc'd formatted string, or NULL when out of memory. */
char *util_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * util_parse_duration_ms - "250ms", "30s", "5m", "1h30m", "2d" -> milliseconds.
 * A bare integer is refused (the unit is mandatory). Returns 0, or -1 when malformed or
 * out of range.
 */
int util_parse_duration_ms(const char *text, int64_t *ms_out);

/* util_format_duration - ms -> "1h30m", "250ms", "0s" into out (at least 32 bytes). */
void util_format_duration(int64_t ms, char *out, size_t out_size);

/* The times leadhub takes: years 0001 to 9999 in UTC, what RFC 3339 can write and
 * PostgreSQL stores (year 0000 is not a year to it; an offset can push 0001-01-01 or
 * 9999-12-31 past either end). */
#define UTIL_TIME_MIN_MS     (-62135596800000LL) /* 0001-01-01T00:00:00Z */
#define UTIL_TIME_MAX_MS     253402300799999LL   /* 9999-12-31T23:59:59.999Z */
#define UTIL_TIME_RANGE_TEXT "between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z"

/*
 * util_parse_rfc3339 - "2026-11-27T19:02:26Z", "...26.123456+01:00" -> ms since epoch (UTC).
 * Returns 0; -1 when not a valid RFC 3339 date-time; -2 when valid but outside
 * UTIL_TIME_MIN_MS..UTIL_TIME_MAX_MS once in UTC (*ms_out untouched).
 */
int util_parse_rfc3339(const char *text, int64_t *ms_out);

/* util_format_rfc3339 - ms since epoch -> "2026-11-27T19:02:26.123Z" (out >= 32 bytes). */
void util_format_rfc3339(int64_t ms, char *out);

/* util_deadline - the CLOCK_REALTIME time `ms` from now, as pthread_cond_timedwait wants. */
void util_deadline(int64_t ms, struct timespec *out);

/* util_cond_wait_ms - pthread_cond_timedwait for at most `ms`; returns its result. */
int util_cond_wait_ms(pthread_cond_t *cond, pthread_mutex_t *mutex, int64_t ms);

/*
 * util_backoff_ceiling_ms - base * 2^(attempt - 1), at most cap: the longest wait before
 * retry number `attempt` (1 and 0 give base). Callers draw their jitter below it.
 */
int64_t util_backoff_ceiling_ms(int64_t base_ms, int64_t cap_ms, unsigned attempt);

/* Wall clock and monotonic clock, in milliseconds. */
int64_t util_now_ms(void);
int64_t util_monotonic_ms(void);

/* Instance names: [a-z0-9_-]{1,63}. Plugin names and schema keys: [a-z][a-z0-9_]{0,62}. */
bool util_instance_name_valid(const char *name);
bool util_identifier_valid(const char *name);

/* util_glob_to_like - a glob (* and ?) as a LIKE pattern, LIKE's own characters escaped;
 * malloc'd. */
char *util_glob_to_like(const char *glob);

/* Whether a NUL-terminated string is valid UTF-8 (no overlong forms or surrogates). */
bool util_utf8_valid(const char *text);

/* Replaces bytes that do not form valid UTF-8 with '?', in place. */
void util_utf8_sanitize(char *text);

/*
 * util_read_file - the whole file as a malloc'd NUL-terminated buffer.
 *   len_out: may be NULL. limit: refuse files larger than this.
 *   Returns NULL with errno set on failure (EFBIG past limit).
 */
char *util_read_file(const char *path, size_t limit, size_t *len_out);

/*
 * util_exe_dir - the directory of the running executable (/proc/self/exe), for defaults
 * found relative to where leadhubd is installed. malloc'd; NULL when it cannot be read.
 */
char *util_exe_dir(void);

#endif
