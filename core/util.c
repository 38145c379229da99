/* util.c - helpers shared by the core. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

static void strbuf_reserve(struct strbuf *sb, size_t extra)
{
    if (sb->failed) {
        return;
    }
    if (sb->len + extra + 1 <= sb->cap) {
        return;
    }
    size_t cap = sb->cap ? sb->cap : 64;
    while (cap < sb->len + extra + 1) {
        cap *= 2;
    }
    char *data = realloc(sb->data, cap);
    if (data == NULL) {
        sb->failed = true;
        return;
    }
    sb->data = data;
    sb->cap = cap;
}

void strbuf_presize(struct strbuf *sb, size_t total)
{
    if (sb->failed || total + 1 <= sb->cap) {
        return;
    }
    char *data = realloc(sb->data, total + 1);
    if (data == NULL) {
        sb->failed = true;
        return;
    }
    sb->data = data;
    sb->cap = total + 1;
}

void strbuf_append_len(struct strbuf *sb, const char *text, size_t len)
{
    strbuf_reserve(sb, len);
    if (sb->failed) {
        return;
    }
    memcpy(sb->data + sb->len, text, len);
    sb->len += len;
    sb->data[sb->len] = '\0';
}

void strbuf_append(struct strbuf *sb, const char *text)
{
    strbuf_append_len(sb, text, strlen(text));
}

void strbuf_appendv(struct strbuf *sb, const char *fmt, va_list args)
{
    va_list copy;
    va_copy(copy, args);
    int n = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    if (n < 0) {
        sb->failed = true;
        return;
    }
    strbuf_reserve(sb, (size_t)n);
    if (sb->failed) {
        return;
    }
    vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, args);
    sb->len += (size_t)n;
}

void strbuf_appendf(struct strbuf *sb, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    strbuf_appendv(sb, fmt, args);
    va_end(args);
}

const char *strbuf_value(const struct strbuf *sb)
{
    return sb->data != NULL ? sb->data : "";
}

char *strbuf_take(struct strbuf *sb)
{
    char *data = NULL;
    if (!sb->failed) {
        data = sb->data != NULL ? sb->data : strdup("");
    } else {
        free(sb->data);
    }
    sb->data = NULL;
    sb->len = sb->cap = 0;
    sb->failed = false;
    return data;
}

void strbuf_free(struct strbuf *sb)
{
    free(sb->data);
    sb->data = NULL;
    sb->len = sb->cap = 0;
    sb->failed = false;
}

char *util_printf(const char *fmt, ...)
{
    struct strbuf sb = {0};
    va_list args;
    va_start(args, fmt);
    strbuf_appendv(&sb, fmt, args);
    va_end(args);
    return strbuf_take(&sb);
}

int util_parse_duration_ms(const char *text, int64_t *ms_out)
{
    static const struct {
        const char *suffix;
        int64_t ms;
    } units[] = {
        /* "ms" before "m" so that the longer suffix wins. */
        {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000},
    };
    const char *p = text;
    int64_t total = 0;
    if (*p == '\0') {
        return -1;
    }
    while (*p != '\0') {
        if (*p < '0' || *p > '9') {
            return -1;
        }
        int64_t number = 0;
        while (*p >= '0' && *p <= '9') {
            if (number > (INT64_MAX / 10) - 9) {
                return -1;
            }
            number = number * 10 + (*p - '0');
            p++;
        }
        size_t unit = UTIL_ARRAY_LEN(units);
        for (size_t i = 0; i < UTIL_ARRAY_LEN(units); i++) {
            size_t n = strlen(units[i].suffix);
            if (strncmp(p, units[i].suffix, n) == 0) {
                unit = i;
                p += n;
                break;
            }
        }
        if (unit == UTIL_ARRAY_LEN(units)) {
            return -1;
        }
        if (number > INT64_MAX / units[unit].ms / 4 || total > INT64_MAX / 4) {
            return -1; /* far beyond any useful duration */
        }
        total += number * units[unit].ms;
    }
    *ms_out = total;
    return 0;
}

void util_format_duration(int64_t ms, char *out, size_t out_size)
{
    struct strbuf sb = {0};
    if (ms == 0) {
        snprintf(out, out_size, "0s");
        return;
    }
    static const struct {
        const char *suffix;
        int64_t ms;
    } units[] = {{"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000}, {"ms", 1}};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(units); i++) {
        if (ms >= units[i].ms) {
            strbuf_appendf(&sb, "%lld%s", (long long)(ms / units[i].ms), units[i].suffix);
            ms %= units[i].ms;
        }
    }
    snprintf(out, out_size, "%s", strbuf_value(&sb));
    strbuf_free(&sb);
}

static int parse_digits(const char **p, int count, int *out)
{
    int value = 0;
    for (int i = 0; i < count; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9') {
            return -1;
        }
        value = value * 10 + (c - '0');
    }
    *p += count;
    *out = value;
    return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static bool is_leap_year(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int util_parse_rfc3339(const char *text, int64_t *ms_out)
{
    static const int month_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const char *p = text;
    int year, month, day, hour, minute, second;
    if (parse_digits(&p, 4, &year) || *p++ != '-' || parse_digits(&p, 2, &month) || *p++ != '-' ||
        parse_digits(&p, 2, &day) || (*p != 'T' && *p != 't' && *p != ' ')) {
        return -1;
    }
    p++;
    if (parse_digits(&p, 2, &hour) || *p++ != ':' || parse_digits(&p, 2, &minute) || *p++ != ':' ||
        parse_digits(&p, 2, &second)) {
        return -1;
    }
    if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 60) {
        return -1;
    }
    int max_day = month_days[month - 1] + (month == 2 && is_leap_year(year));
    if (day > max_day) {
        return -1;
    }
    if (second == 60) {
        second = 59; /* a leap second folds into the second before it */
    }
    int millis = 0;
    if (*p == '.') {
        p++;
        int digits = 0;
        while (*p >= '0' && *p <= '9') {
            if (digits < 3) {
                millis = millis * 10 + (*p - '0');
            }
            digits++;
            p++;
        }
        if (digits == 0) {
            return -1;
        }
        for (int i = digits; i < 3; i++) {
            millis *= 10;
        }
    }
    int offset_minutes = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1;
        int oh, om;
        p++;
        if (parse_digits(&p, 2, &oh) || *p++ != ':' || parse_digits(&p, 2, &om) || oh > 23 ||
            om > 59) {
            return -1;
        }
        offset_minutes = sign * (oh * 60 + om);
    } else {
        return -1;
    }
    if (*p != '\0') {
        return -1;
    }
    int64_t days = days_from_civil(year, month, day);
    int64_t seconds = days * 86400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
    int64_t ms = seconds * 1000 + millis;
    if (ms < UTIL_TIME_MIN_MS || ms > UTIL_TIME_MAX_MS) {
        return -2;
    }
    *ms_out = ms;
    return 0;
}

/* `digits` decimal digits of value into out, zero-padded. */
static void put_digits(char *out, unsigned value, int digits)
{
    for (int i = digits - 1; i >= 0; i--) {
        out[i] = (char)('0' + value % 10);
        value /= 10;
    }
}

/* Written by hand rather than with snprintf: every stored event formats a time or two. */
void util_format_rfc3339(int64_t ms, char *out)
{
    time_t seconds = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    int millis = (int)(ms - (int64_t)seconds * 1000);
    struct tm tm;
    gmtime_r(&seconds, &tm);
    /* "YYYY-MM-DDTHH:MM:SS.mmmZ"; the modulo keeps a year past 9999 to four digits */
    put_digits(out, (unsigned)(tm.tm_year + 1900) % 10000U, 4);
    out[4] = '-';
    put_digits(out + 5, (unsigned)(tm.tm_mon + 1), 2);
    out[7] = '-';
    put_digits(out + 8, (unsigned)tm.tm_mday, 2);
    out[10] = 'T';
    put_digits(out + 11, (unsigned)tm.tm_hour, 2);
    out[13] = ':';
    put_digits(out + 14, (unsigned)tm.tm_min, 2);
    out[16] = ':';
    put_digits(out + 17, (unsigned)tm.tm_sec, 2);
    out[19] = '.';
    put_digits(out + 20, (unsigned)millis, 3);
    out[23] = 'Z';
    out[24] = '\0';
}

void util_deadline(int64_t ms, struct timespec *out)
{
    clock_gettime(CLOCK_REALTIME, out);
    out->tv_sec += ms / 1000;
    out->tv_nsec += (ms % 1000) * 1000000L;
    if (out->tv_nsec >= 1000000000L) {
        out->tv_sec++;
        out->tv_nsec -= 1000000000L;
    }
}

int util_cond_wait_ms(pthread_cond_t *cond, pthread_mutex_t *mutex, int64_t ms)
{
    struct timespec deadline;
    util_deadline(ms, &deadline);
    return pthread_cond_timedwait(cond, mutex, &deadline);
}

int64_t util_backoff_ceiling_ms(int64_t base_ms, int64_t cap_ms, unsigned attempt)
{
    int64_t ceiling = base_ms;
    for (unsigned i = 1; i < attempt && ceiling < cap_ms; i++) {
        ceiling *= 2;
    }
    return ceiling < cap_ms ? ceiling : cap_ms;
}

int64_t util_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t util_monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool util_instance_name_valid(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 63) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) {
            return false;
        }
    }
    return true;
}

bool util_identifier_valid(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 63 || name[0] < 'a' || name[0] > 'z') {
        return false;
    }
    for (size_t i = 1; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
            return false;
        }
    }
    return true;
}

/* Length of the valid UTF-8 sequence at p, or 0 when it is not one. */
static size_t utf8_sequence_length(const unsigned char *p)
{
    unsigned char c = p[0];
    if (c < 0x80) {
        return 1;
    }
    size_t n;
    uint32_t cp;
    if ((c & 0xe0) == 0xc0) {
        n = 2;
        cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
        n = 3;
        cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    /* overlong forms, surrogates and values past U+10FFFF are invalid */
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
        (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) {
        return 0;
    }
    return n;
}

char *util_glob_to_like(const char *glob)
{
    struct strbuf sb = {0};
    for (const char *p = glob; *p != '\0'; p++) {
        if (*p == '*') {
            strbuf_append(&sb, "%");
        } else if (*p == '?') {
            strbuf_append(&sb, "_");
        } else if (*p == '%' || *p == '_' || *p == '\\') {
            strbuf_appendf(&sb, "\\%c", *p);
        } else {
            strbuf_append_len(&sb, p, 1);
        }
    }
    return strbuf_take(&sb);
}

bool util_utf8_valid(const char *text)
{
    const unsigned char *p = (const unsigned char *)text;
    while (*p != '\0') {
        size_t n = utf8_sequence_length(p);
        if (n == 0) {
            return false;
        }
        p += n;
    }
    return true;
}

void util_utf8_sanitize(char *text)
{
    unsigned char *p = (unsigned char *)text;
    while (*p != '\0') {
        size_t n = utf8_sequence_length(p);
        if (n == 0) {
            *p++ = '?';
        } else {
            p += n;
        }
    }
}

char *util_read_file(const char *path, size_t limit, size_t *len_out)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    struct strbuf sb = {0};
    char chunk[8192];
    size_t n;
    int saved = 0;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (sb.len + n > limit) {
            saved = EFBIG;
            break;
        }
        strbuf_append_len(&sb, chunk, n);
    }
    if (saved == 0 && ferror(f)) {
        saved = errno ? errno : EIO;
    }
    fclose(f);
    if (saved == 0 && sb.failed) {
        saved = ENOMEM;
    }
    if (saved != 0) {
        strbuf_free(&sb);
        errno = saved;
        return NULL;
    }
    if (len_out != NULL) {
        *len_out = sb.len;
    }
    return strbuf_take(&sb);
}

char *util_exe_dir(void)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0) {
        return NULL;
    }
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash == NULL) {
        return NULL;
    }
    *slash = '\0';
    return strdup(exe);
}
