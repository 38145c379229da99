/*
 * scorer_common.h - helpers shared by the rules and engagement scorers: RFC 3339 times,
 * durations, number formatting and rounding, the event type names of docs/events.md, and
 * "did you mean" suggestions for config errors.
 *
 * Header-only (static inline), unlike the rest of plugins/common (README.md there): each
 * plugin stays one self-contained shared object (jansson and libc), and what two plugins
 * need alike is written once here. Its natural home is the SDK's inline helpers, once the
 * SDK grows some for scorers.
 *
 * Everything here is pure: no globals, no allocation, safe from any thread.
 */
#ifndef LEADHUB_SCORER_COMMON_H
#define LEADHUB_SCORER_COMMON_H

#include <fnmatch.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "leadhub.h"

#define SCORER_MS_PER_SECOND 1000LL
#define SCORER_MS_PER_MINUTE 60000LL
#define SCORER_MS_PER_HOUR   3600000LL
#define SCORER_MS_PER_DAY    86400000LL

/* Longest event type (docs/events.md) and longest word scorer_suggest() compares. */
#define SCORER_MAX_WORD 64

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static inline int64_t scorer_days_from_civil(int64_t year, int64_t month, int64_t day)
{
    year -= month <= 2;
    int64_t era = (year >= 0 ? year : year - 399) / 400;
    int64_t year_of_era = year - era * 400;
    int64_t day_of_year = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
    int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    return era * 146097 + day_of_era - 719468;
}

/* `count` decimal digits at p into *out; -1 at the first non-digit (a NUL included, so a
 * short string is never read past its end). */
static inline int scorer_digits(const char *p, int count, int *out)
{
    int value = 0;
    for (int i = 0; i < count; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return -1;
        }
        value = value * 10 + (p[i] - '0');
    }
    *out = value;
    return 0;
}

static inline int scorer_days_in_month(int year, int month)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return month == 2 ? 28 + leap : days[month - 1];
}

/*
 * scorer_parse_time - an RFC 3339 time ("2026-11-27T10:00:00.000Z", "2026-11-27 11:00:00+01:00")
 * into milliseconds since the Unix epoch. Digits of a fraction beyond milliseconds are
 * ignored.
 *   Returns 0, or -1 when text (NULL included) is not such a time.
 */
static inline int scorer_parse_time(const char *text, int64_t *ms_out)
{
    int year, month, day, hour, minute, second;
    const char *p = text;
    if (p == NULL || scorer_digits(p, 4, &year) != 0 || p[4] != '-' ||
        scorer_digits(p + 5, 2, &month) != 0 || p[7] != '-' || scorer_digits(p + 8, 2, &day) != 0 ||
        (p[10] != 'T' && p[10] != 't' && p[10] != ' ') || scorer_digits(p + 11, 2, &hour) != 0 ||
        p[13] != ':' || scorer_digits(p + 14, 2, &minute) != 0 || p[16] != ':' ||
        scorer_digits(p + 17, 2, &second) != 0) {
        return -1;
    }
    if (month < 1 || month > 12 || day < 1 || day > scorer_days_in_month(year, month) ||
        hour > 23 || minute > 59 || second > 60) {
        return -1;
    }
    p += 19;
    int64_t fraction_ms = 0;
    if (*p == '.') {
        p++;
        int digits = 0;
        while (*p >= '0' && *p <= '9') {
            if (digits < 3) {
                fraction_ms = fraction_ms * 10 + (*p - '0');
            }
            digits++;
            p++;
        }
        if (digits == 0 || digits > 9) {
            return -1;
        }
        for (int i = digits; i < 3; i++) {
            fraction_ms *= 10;
        }
    }
    int64_t offset_ms = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int offset_hours, offset_minutes;
        if (scorer_digits(p + 1, 2, &offset_hours) != 0 || p[3] != ':' ||
            scorer_digits(p + 4, 2, &offset_minutes) != 0 || offset_hours > 23 ||
            offset_minutes > 59) {
            return -1;
        }
        offset_ms = (offset_hours * 60 + offset_minutes) * SCORER_MS_PER_MINUTE;
        if (*p == '-') {
            offset_ms = -offset_ms;
        }
        p += 6;
    } else {
        return -1;
    }
    if (*p != '\0') {
        return -1;
    }
    int64_t days = scorer_days_from_civil(year, month, day);
    *ms_out = days * SCORER_MS_PER_DAY + ((hour * 60LL + minute) * 60 + second) * 1000 +
              fraction_ms - offset_ms;
    return 0;
}

/*
 * scorer_parse_duration - "250ms", "30s", "5m", "1h30m", "2d" (the grammar of the host's
 * duration settings) into milliseconds.
 *   Returns 0, or -1 when text is not a duration. "0s" is a duration.
 */
static inline int scorer_parse_duration(const char *text, int64_t *ms_out)
{
    static const struct {
        const char *suffix;
        int64_t ms;
    } units[] = {
        /* "ms" before "m" so that the longer suffix wins */
        {"ms", 1},
        {"s", SCORER_MS_PER_SECOND},
        {"m", SCORER_MS_PER_MINUTE},
        {"h", SCORER_MS_PER_HOUR},
        {"d", SCORER_MS_PER_DAY},
    };
    const size_t unit_count = sizeof(units) / sizeof(units[0]);
    const char *p = text;
    int64_t total = 0;
    if (p == NULL || *p == '\0') {
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
        size_t unit = unit_count;
        for (size_t i = 0; i < unit_count; i++) {
            size_t length = strlen(units[i].suffix);
            if (strncmp(p, units[i].suffix, length) == 0) {
                unit = i;
                p += length;
                break;
            }
        }
        if (unit == unit_count) {
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

/* scorer_format_duration - exact, largest units first: "30d", "1h30m", "250ms", "0s". */
static inline void scorer_format_duration(int64_t ms, char *out, size_t size)
{
    static const struct {
        const char *suffix;
        int64_t ms;
    } units[] = {{"d", SCORER_MS_PER_DAY},
                 {"h", SCORER_MS_PER_HOUR},
                 {"m", SCORER_MS_PER_MINUTE},
                 {"s", SCORER_MS_PER_SECOND},
                 {"ms", 1}};
    size_t used = 0;
    out[0] = '\0';
    if (ms <= 0) {
        snprintf(out, size, "0s");
        return;
    }
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]) && used < size; i++) {
        if (ms >= units[i].ms) {
            int n = snprintf(out + used, size - used, "%lld%s", (long long)(ms / units[i].ms),
                             units[i].suffix);
            used += n > 0 ? (size_t)n : 0;
            ms %= units[i].ms;
        }
    }
}

/*
 * scorer_format_number - v with at most `decimals` decimals, trailing zeros dropped:
 * 10 -> "10", 0.6 -> "0.6", 21.2132 -> "21.21" (decimals 2). Never "-0".
 */
static inline void scorer_format_number(double v, int decimals, char *out, size_t size)
{
    snprintf(out, size, "%.*f", decimals, v);
    char *dot = strchr(out, '.');
    if (dot != NULL) {
        char *end = out + strlen(out);
        while (end > dot + 1 && end[-1] == '0') {
            *--end = '\0';
        }
        if (end == dot + 1) {
            *dot = '\0';
        }
    }
    if (strcmp(out, "-0") == 0) {
        snprintf(out, size, "0");
    }
}

/*
 * scorer_format_age - an approximate age for explanations: "14d", "2.5d", "5h", "30m",
 * "10s" (one decimal at most, in the largest unit that is at least 1).
 */
static inline void scorer_format_age(int64_t ms, char *out, size_t size)
{
    static const struct {
        const char *suffix;
        int64_t ms;
    } units[] = {{"d", SCORER_MS_PER_DAY},
                 {"h", SCORER_MS_PER_HOUR},
                 {"m", SCORER_MS_PER_MINUTE},
                 {"s", SCORER_MS_PER_SECOND}};
    size_t i = 0;
    while (i + 1 < sizeof(units) / sizeof(units[0]) && ms < units[i].ms) {
        i++;
    }
    char number[32];
    scorer_format_number((double)(ms < 0 ? 0 : ms) / (double)units[i].ms, 1, number,
                         sizeof(number));
    snprintf(out, size, "%s%s", number, units[i].suffix);
}

/*
 * scorer_round2 - v rounded to 2 decimals, halves away from zero (on v's binary value:
 * 1.005 is 1.00499999... and gives 1). Scores and points are published rounded, so that
 * they read well and compare exactly. Non-finite or huge values are returned as they are.
 */
static inline double scorer_round2(double v)
{
    if (!(v > -1e12 && v < 1e12)) {
        return v;
    }
    double scaled = v * 100.0;
    int64_t whole = (int64_t)(scaled + (scaled >= 0 ? 0.5 : -0.5));
    return (double)whole / 100.0;
}

/* The standard event types of docs/events.md. */
static inline const char *const *scorer_event_types(size_t *count_out)
{
    static const char *const types[] = {
        "lead.created",      "lead.updated",         "lead.scored",           "email.received",
        "email.sent",        "email.replied",        "email.bounced",         "meeting.scheduled",
        "meeting.updated",   "meeting.canceled",     "deal.stage_changed",    "customer.created",
        "payment.succeeded", "subscription.started", "subscription.canceled",
    };
    *count_out = sizeof(types) / sizeof(types[0]);
    return types;
}

/* Is `type` a standard type, or custom.<name> with <name> of [a-z0-9_.]? */
static inline int scorer_event_type_valid(const char *type)
{
    size_t count;
    const char *const *types = scorer_event_types(&count);
    for (size_t i = 0; i < count; i++) {
        if (strcmp(types[i], type) == 0) {
            return 1;
        }
    }
    const char *prefix = "custom.";
    size_t length = strlen(type);
    if (strncmp(type, prefix, strlen(prefix)) != 0 || length == strlen(prefix) ||
        length > SCORER_MAX_WORD) {
        return 0;
    }
    for (const char *p = type + strlen(prefix); *p != '\0'; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '.')) {
            return 0;
        }
    }
    return 1;
}

/*
 * scorer_event_glob_valid - a type, or a glob of types ("meeting.*", "*") that matches at
 * least one standard type or is custom.<glob>: a glob that can never match is a typo.
 */
static inline int scorer_event_glob_valid(const char *glob)
{
    if (strpbrk(glob, "*?[") == NULL) {
        return scorer_event_type_valid(glob);
    }
    if (strlen(glob) > SCORER_MAX_WORD) {
        return 0;
    }
    if (strncmp(glob, "custom.", strlen("custom.")) == 0) {
        return 1;
    }
    size_t count;
    const char *const *types = scorer_event_types(&count);
    for (size_t i = 0; i < count; i++) {
        if (fnmatch(glob, types[i], 0) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Levenshtein distance of two words of at most SCORER_MAX_WORD bytes; SIZE_MAX beyond. */
static inline size_t scorer_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > SCORER_MAX_WORD || lb > SCORER_MAX_WORD) {
        return SIZE_MAX;
    }
    size_t row[SCORER_MAX_WORD + 1];
    for (size_t j = 0; j <= lb; j++) {
        row[j] = j;
    }
    for (size_t i = 1; i <= la; i++) {
        size_t diagonal = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t above = row[j];
            size_t best = diagonal + (a[i - 1] != b[j - 1]);
            if (above + 1 < best) {
                best = above + 1;
            }
            if (row[j - 1] + 1 < best) {
                best = row[j - 1] + 1;
            }
            row[j] = best;
            diagonal = above;
        }
    }
    return row[lb];
}

/*
 * scorer_suggest - the candidate closest to `word` when it is close enough to be a typo
 * (one edit for short words, two from 5 bytes on), or NULL.
 */
static inline const char *scorer_suggest(const char *word, const char *const *candidates,
                                         size_t count)
{
    size_t limit = strlen(word) >= 5 ? 2 : 1;
    const char *best = NULL;
    size_t best_distance = SIZE_MAX;
    for (size_t i = 0; i < count; i++) {
        size_t distance = scorer_edit_distance(word, candidates[i]);
        if (distance <= limit && distance < best_distance) {
            best = candidates[i];
            best_distance = distance;
        }
    }
    return best;
}

/*
 * scorer_refuse_settings - report what a scorer's settings parser refused, a text such as
 * "rules[2].when.lead.title.regex: ...", with host->config_error() at the key before its
 * first ": " (the setting check-config then points at), or as the call's error when it is
 * "out of memory".
 *   Returns: LH_RETRY for "out of memory", LH_CONFIG otherwise.
 */
static inline lh_status_t scorer_refuse_settings(const lh_host_t *host, lh_ctx_t *ctx,
                                                 const char *error)
{
    if (strcmp(error, "out of memory") == 0) {
        host->set_error(ctx, "%s", error);
        return LH_RETRY;
    }
    const char *sep = strstr(error, ": ");
    size_t key_len = sep != NULL ? (size_t)(sep - error) : 0;
    char key[128];
    if (key_len == 0 || key_len >= sizeof(key) || memchr(error, ' ', key_len) != NULL) {
        host->config_error(ctx, NULL, NULL, "%s", error);
        return LH_CONFIG;
    }
    memcpy(key, error, key_len);
    key[key_len] = '\0';
    host->config_error(ctx, key, NULL, "%s", sep + 2);
    return LH_CONFIG;
}

#endif
