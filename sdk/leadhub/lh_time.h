/*
 * lh_time.h - provider time formats to the RFC 3339 UTC text events carry (part of the
 * leadhub SDK helpers: include <leadhub-helpers.h>). libc only, no locale, no TZ variable,
 * no tz database: safe on any thread.
 *
 * Every event time a plugin emits may be written as lh_time_format() writes it
 * ("2026-11-27T10:00:00.000Z"), which is also how the host stores it.
 *
 *     char when[LH_TIME_TEXT_SIZE];
 *     if (lh_time_normalize(json_string_value(updated), NULL, when) != 0) { ...skip... }
 *     json_object_set_new(event, "occurred_at", json_string(when));
 */
#ifndef LEADHUB_LH_TIME_H
#define LEADHUB_LH_TIME_H

#include <stdint.h>
#include <string.h>
#include <strings.h>

/* Bytes lh_time_format() writes, with the NUL: "YYYY-MM-DDTHH:MM:SS.mmmZ". */
#define LH_TIME_TEXT_SIZE 25

/* lh_time_days_from_civil - days since 1970-01-01 of a proleptic Gregorian date. */
static inline int64_t lh_time_days_from_civil(int64_t year, unsigned month, unsigned day)
{
    year -= month <= 2;
    int64_t era = (year >= 0 ? year : year - 399) / 400;
    unsigned year_of_era = (unsigned)(year - era * 400);
    unsigned day_of_year = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
    unsigned day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    return era * 146097 + (int64_t)day_of_era - 719468;
}

static inline int lh_time__valid_date(int year, int month, int day)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (year < 0 || year > 9999 || month < 1 || month > 12 || day < 1) {
        return 0;
    }
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return day <= days[month - 1] + (month == 2 && leap);
}

/* Milliseconds since the epoch of a UTC wall time (fields already checked). */
static inline int64_t lh_time__ms(int year, int month, int day, int hour, int minute, int second,
                                  int millis)
{
    int64_t days = lh_time_days_from_civil(year, (unsigned)month, (unsigned)day);
    return ((days * 24 + hour) * 60 + minute) * 60000 + (int64_t)second * 1000 + millis;
}

/*
 * lh_time_format - write `ms` (milliseconds since the Unix epoch) as RFC 3339 in UTC with
 * milliseconds, "2026-11-27T10:00:00.000Z", into out (LH_TIME_TEXT_SIZE bytes).
 *   Returns: 0; -1 (out set to "") for a time outside the years 0000-9999.
 */
static inline int lh_time_format(int64_t ms, char out[LH_TIME_TEXT_SIZE])
{
    /* the range the years 0000-9999 cover */
    if (ms < -62167219200000LL || ms > 253402300799999LL) {
        out[0] = '\0';
        return -1;
    }
    int64_t days = ms >= 0 ? ms / 86400000 : -((-ms + 86399999) / 86400000);
    int64_t in_day = ms - days * 86400000;
    /* civil date from days (H. Hinnant's algorithm) */
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned day_of_era = (unsigned)(z - era * 146097);
    unsigned year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
    unsigned day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    unsigned mp = (5 * day_of_year + 2) / 153;
    unsigned day = day_of_year - (153 * mp + 2) / 5 + 1;
    unsigned month = mp < 10 ? mp + 3 : mp - 9;
    int64_t year = (int64_t)year_of_era + era * 400 + (month <= 2);
    unsigned fields[] = {(unsigned)year,
                         month,
                         day,
                         (unsigned)(in_day / 3600000),
                         (unsigned)(in_day / 60000 % 60),
                         (unsigned)(in_day / 1000 % 60),
                         (unsigned)(in_day % 1000)};
    static const int widths[] = {4, 2, 2, 2, 2, 2, 3};
    static const char after[] = "--T::.Z";
    char *p = out;
    for (int i = 0; i < 7; i++) {
        for (int k = widths[i] - 1; k >= 0; k--) {
            p[k] = (char)('0' + fields[i] % 10);
            fields[i] /= 10;
        }
        p += widths[i];
        *p++ = after[i];
    }
    *p = '\0';
    return 0;
}

/* lh_time_from_epoch_s / _ms - lh_time_format() of seconds (Stripe's `created`) or
 * milliseconds (HubSpot's `lastmodifieddate` as a number) since the epoch. */
static inline int lh_time_from_epoch_s(int64_t seconds, char out[LH_TIME_TEXT_SIZE])
{
    if (seconds < -62167219200LL || seconds > 253402300799LL) {
        out[0] = '\0';
        return -1;
    }
    return lh_time_format(seconds * 1000, out);
}

static inline int lh_time_from_epoch_ms(int64_t ms, char out[LH_TIME_TEXT_SIZE])
{
    return lh_time_format(ms, out);
}

/* Reads exactly `count` digits. */
static inline int lh_time__digits(const char **p, int count, int *out)
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

/* "+HH:MM", "+HHMM", "+HH" (and '-') into minutes east of UTC; p past it. */
static inline int lh_time__offset(const char **p, int *minutes_out)
{
    int sign = **p == '+' ? 1 : **p == '-' ? -1 : 0;
    int hours, minutes = 0;
    if (sign == 0) {
        return -1;
    }
    (*p)++;
    if (lh_time__digits(p, 2, &hours) != 0) {
        return -1;
    }
    if (**p == ':') {
        (*p)++;
        if (lh_time__digits(p, 2, &minutes) != 0) {
            return -1;
        }
    } else if (**p >= '0' && **p <= '9' && lh_time__digits(p, 2, &minutes) != 0) {
        return -1;
    }
    if (hours > 23 || minutes > 59) {
        return -1;
    }
    *minutes_out = sign * (hours * 60 + minutes);
    return 0;
}

/*
 * lh_time_zone_offset - minutes east of UTC of a zone name that has one fixed offset:
 * "UTC", "GMT", "Z", "UT", "Etc/UTC", "Etc/GMT", "Etc/GMT+5" (POSIX sign: 5 hours *west*),
 * "+02:00", "-0530", "UTC+02:00", "GMT-3".
 *   Returns: 0; -1 for anything else, deliberately including zones with daylight-saving
 *            rules ("Europe/Berlin", "America/New_York"): converting those needs the tz
 *            database and the date, and a wrong guess would move every event by an hour.
 *            Ask the provider for UTC or an offset instead (most APIs have a parameter).
 */
static inline int lh_time_zone_offset(const char *name, int *minutes_out)
{
    static const char *const utc[] = {
        "UTC",       "GMT",       "Z",         "UT",      "UCT",           "Zulu",
        "Universal", "Etc/UTC",   "Etc/GMT",   "Etc/UCT", "Etc/Universal", "Etc/Zulu",
        "Etc/GMT0",  "Etc/GMT+0", "Etc/GMT-0", NULL};
    if (name == NULL) {
        return -1;
    }
    for (int i = 0; utc[i] != NULL; i++) {
        if (strcasecmp(name, utc[i]) == 0) {
            *minutes_out = 0;
            return 0;
        }
    }
    const char *p = name;
    int posix = 0;
    if (strncasecmp(p, "Etc/GMT", 7) == 0) {
        p += 7;
        posix = 1;
    } else if (strncasecmp(p, "UTC", 3) == 0 || strncasecmp(p, "GMT", 3) == 0) {
        p += 3;
    }
    int sign = *p == '+' ? 1 : *p == '-' ? -1 : 0;
    if (sign == 0) {
        return -1;
    }
    if (posix || (p != name && strchr(p, ':') == NULL && strlen(p) <= 3)) {
        /* "Etc/GMT+5", "GMT-3": whole hours */
        p++;
        int hours = 0, digits = 0;
        for (; *p >= '0' && *p <= '9' && digits < 2; p++, digits++) {
            hours = hours * 10 + (*p - '0');
        }
        if (digits == 0 || *p != '\0' || hours > (posix ? 14 : 23)) {
            return -1;
        }
        *minutes_out = (posix ? -sign : sign) * hours * 60;
        return 0;
    }
    int minutes;
    if (lh_time__offset(&p, &minutes) != 0 || *p != '\0') {
        return -1;
    }
    *minutes_out = minutes;
    return 0;
}

/*
 * lh_time_parse_iso8601 - an ISO 8601 / RFC 3339 date-time into milliseconds since the
 * epoch: "2026-11-27T10:00:00Z", "2026-11-27T11:00:00.123456+01:00", "2026-11-27 10:00",
 * "2026-11-27T10:00:00+0100", "2026-11-27" (midnight). Fractions past milliseconds are
 * truncated; a leap second (:60) folds into :59.
 *   tz_name: for a text without a zone, the zone it is in (lh_time_zone_offset()); NULL
 *            refuses such a text rather than guess.
 *   Returns: 0; -1 when the text is not such a time, or names no zone and tz_name gives
 *            no fixed offset.
 */
static inline int lh_time_parse_iso8601(const char *text, const char *tz_name, int64_t *ms_out)
{
    const char *p = text;
    int year, month, day, hour = 0, minute = 0, second = 0, millis = 0, offset = 0;
    if (lh_time__digits(&p, 4, &year) || *p++ != '-' || lh_time__digits(&p, 2, &month) ||
        *p++ != '-' || lh_time__digits(&p, 2, &day) || !lh_time__valid_date(year, month, day)) {
        return -1;
    }
    int zoned = 0;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        p++;
        if (lh_time__digits(&p, 2, &hour) || *p++ != ':' || lh_time__digits(&p, 2, &minute)) {
            return -1;
        }
        if (*p == ':') {
            p++;
            if (lh_time__digits(&p, 2, &second)) {
                return -1;
            }
            if (*p == '.' || *p == ',') {
                p++;
                int digits = 0;
                for (; *p >= '0' && *p <= '9'; p++, digits++) {
                    if (digits < 3) {
                        millis = millis * 10 + (*p - '0');
                    }
                }
                if (digits == 0) {
                    return -1;
                }
                for (; digits < 3; digits++) {
                    millis *= 10;
                }
            }
        }
        if (hour > 23 || minute > 59 || second > 60) {
            return -1;
        }
        second = second == 60 ? 59 : second;
        if (*p == 'Z' || *p == 'z') {
            p++;
            zoned = 1;
        } else if (*p == '+' || *p == '-') {
            if (lh_time__offset(&p, &offset) != 0) {
                return -1;
            }
            zoned = 1;
        }
    }
    if (*p != '\0') {
        return -1;
    }
    if (!zoned && lh_time_zone_offset(tz_name, &offset) != 0) {
        return -1;
    }
    *ms_out = lh_time__ms(year, month, day, hour, minute, second, millis) - (int64_t)offset * 60000;
    return 0;
}

/*
 * lh_time_parse_rfc2822 - an RFC 2822 / RFC 5322 date (mail headers, RSS, HTTP's
 * IMF-fixdate) into milliseconds since the epoch: "Fri, 27 Nov 2026 10:00:00 +0100",
 * "27 Nov 2026 10:00 GMT", "Fri, 27 Nov 2026 10:00:00 -0000 (UTC)". Also the obsolete
 * forms: two-digit years (< 50 is 20xx), zones UT/GMT/Z and the US ones (EST, EDT, CST,
 * CDT, MST, MDT, PST, PDT), and RFC 850's "Friday, 27-Nov-26 10:00:00 GMT".
 *   Returns: 0; -1 when the text is not such a date (a day name is not checked against
 *            the date).
 */
static inline int lh_time_parse_rfc2822(const char *text, int64_t *ms_out)
{
    static const char months[] = "janfebmaraprmayjunjulaugsepoctnovdec";
    static const struct {
        const char *name;
        int minutes;
    } zones[] = {{"UT", 0},        {"UTC", 0},       {"GMT", 0},       {"Z", 0},
                 {"EST", -5 * 60}, {"EDT", -4 * 60}, {"CST", -6 * 60}, {"CDT", -5 * 60},
                 {"MST", -7 * 60}, {"MDT", -6 * 60}, {"PST", -8 * 60}, {"PDT", -7 * 60}};
    const char *p = text;
    while (*p == ' ' || *p == '\t') {
        p++;
    }
    const char *comma = strchr(p, ',');
    if (comma != NULL) {
        for (const char *q = p; q < comma; q++) {
            if (!((*q >= 'A' && *q <= 'Z') || (*q >= 'a' && *q <= 'z'))) {
                return -1;
            }
        }
        p = comma + 1;
        while (*p == ' ' || *p == '\t') {
            p++;
        }
    }
    int day = 0, digits = 0;
    for (; *p >= '0' && *p <= '9' && digits < 2; p++, digits++) {
        day = day * 10 + (*p - '0');
    }
    char separator = *p;
    if (digits == 0 || (separator != ' ' && separator != '-')) {
        return -1;
    }
    while (*p == ' ' || *p == '-') {
        p++;
    }
    int month = 0;
    for (int m = 0; m < 12; m++) {
        if (strncasecmp(p, months + 3 * m, 3) == 0) {
            month = m + 1;
        }
    }
    if (month == 0) {
        return -1;
    }
    p += 3;
    if (*p != separator) {
        return -1;
    }
    while (*p == ' ' || *p == '-') {
        p++;
    }
    int year = 0;
    digits = 0;
    for (; *p >= '0' && *p <= '9' && digits < 4; p++, digits++) {
        year = year * 10 + (*p - '0');
    }
    if (digits == 2) {
        year += year < 50 ? 2000 : 1900;
    } else if (digits != 4) {
        return -1;
    }
    if (*p != ' ' || !lh_time__valid_date(year, month, day)) {
        return -1;
    }
    while (*p == ' ') {
        p++;
    }
    int hour, minute, second = 0;
    if (lh_time__digits(&p, 2, &hour) || *p++ != ':' || lh_time__digits(&p, 2, &minute)) {
        return -1;
    }
    if (*p == ':') {
        p++;
        if (lh_time__digits(&p, 2, &second)) {
            return -1;
        }
    }
    if (hour > 23 || minute > 59 || second > 60 || *p != ' ') {
        return -1;
    }
    second = second == 60 ? 59 : second;
    while (*p == ' ') {
        p++;
    }
    int offset = 0, found = 0;
    if (*p == '+' || *p == '-') {
        int hours, minutes;
        int sign = *p == '-' ? -1 : 1;
        p++;
        if (lh_time__digits(&p, 2, &hours) || lh_time__digits(&p, 2, &minutes) || minutes > 59) {
            return -1;
        }
        offset = sign * (hours * 60 + minutes);
        found = 1;
    } else {
        size_t len = 0;
        while ((p[len] >= 'A' && p[len] <= 'Z') || (p[len] >= 'a' && p[len] <= 'z')) {
            len++;
        }
        for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
            if (strlen(zones[i].name) == len && strncasecmp(p, zones[i].name, len) == 0) {
                offset = zones[i].minutes;
                found = 1;
            }
        }
        p += len;
    }
    if (!found) {
        return -1;
    }
    while (*p == ' ') {
        p++;
    }
    if (*p == '(') { /* a trailing comment: "(UTC)", "(CET)" */
        const char *close = strchr(p, ')');
        if (close == NULL) {
            return -1;
        }
        p = close + 1;
        while (*p == ' ') {
            p++;
        }
    }
    if (*p != '\0') {
        return -1;
    }
    *ms_out = lh_time__ms(year, month, day, hour, minute, second, 0) - (int64_t)offset * 60000;
    return 0;
}

/*
 * lh_time_parse_epoch - a decimal count since the epoch given as text ("1764237600",
 * "1764237600123", "1764237600.5") into milliseconds. Values of 100000000000 and more are
 * taken as milliseconds (seconds that large are past the year 5000), smaller ones as
 * seconds; call lh_time_from_epoch_s/_ms yourself when the provider documents the unit.
 *   Returns: 0; -1 when the text is not such a number or is negative.
 */
static inline int lh_time_parse_epoch(const char *text, int64_t *ms_out)
{
    const char *p = text;
    int64_t whole = 0;
    int digits = 0;
    for (; *p >= '0' && *p <= '9'; p++, digits++) {
        if (digits >= 15) {
            return -1;
        }
        whole = whole * 10 + (*p - '0');
    }
    if (digits == 0) {
        return -1;
    }
    int64_t fraction_ms = 0;
    int seconds = whole < 100000000000LL;
    if (*p == '.') {
        p++;
        int fraction_digits = 0;
        int64_t scale = seconds ? 100 : 0; /* milliseconds carry no useful fraction */
        for (; *p >= '0' && *p <= '9'; p++, fraction_digits++) {
            fraction_ms += (*p - '0') * scale;
            scale /= 10;
        }
        if (fraction_digits == 0) {
            return -1;
        }
    }
    if (*p != '\0') {
        return -1;
    }
    *ms_out = seconds ? whole * 1000 + fraction_ms : whole;
    return 0;
}

/*
 * lh_time_parse - any of the forms above into milliseconds: epoch digits
 * (lh_time_parse_epoch()), then ISO 8601 (lh_time_parse_iso8601(), tz_name for a text
 * without a zone), then RFC 2822. Leading and trailing blanks are ignored.
 *   Returns: 0; -1 when no form reads it.
 */
static inline int lh_time_parse(const char *text, const char *tz_name, int64_t *ms_out)
{
    char trimmed[128];
    if (text == NULL) {
        return -1;
    }
    while (*text == ' ' || *text == '\t') {
        text++;
    }
    size_t len = strlen(text);
    while (len > 0 && (text[len - 1] == ' ' || text[len - 1] == '\t')) {
        len--;
    }
    if (len == 0 || len >= sizeof(trimmed)) {
        return -1;
    }
    memcpy(trimmed, text, len);
    trimmed[len] = '\0';
    if (lh_time_parse_epoch(trimmed, ms_out) == 0) {
        return 0;
    }
    if (lh_time_parse_iso8601(trimmed, tz_name, ms_out) == 0) {
        return 0;
    }
    return lh_time_parse_rfc2822(trimmed, ms_out);
}

/*
 * lh_time_normalize - lh_time_parse() then lh_time_format(): a provider's time in any of
 * those forms to the RFC 3339 UTC text of an event, into out (LH_TIME_TEXT_SIZE bytes).
 *   Returns: 0; -1 (out set to "") when the text is not a time or is out of range.
 */
static inline int lh_time_normalize(const char *text, const char *tz_name,
                                    char out[LH_TIME_TEXT_SIZE])
{
    int64_t ms;
    if (lh_time_parse(text, tz_name, &ms) != 0) {
        out[0] = '\0';
        return -1;
    }
    return lh_time_format(ms, out);
}

#endif /* LEADHUB_LH_TIME_H */
