/* ms_text.c - checkpoint keys, times and URL pieces (pure); see microsoft.h. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "microsoft.h"

void ms_hash_key(const char *a, const char *b, char out[17])
{
    /* FNV-1a, 64 bits: keys need spread, not secrecy (the ids are no secret) */
    uint64_t hash = 0xcbf29ce484222325ULL;
    for (const unsigned char *p = (const unsigned char *)a; *p != '\0'; p++) {
        hash = (hash ^ *p) * 0x100000001b3ULL;
    }
    hash = (hash ^ '\n') * 0x100000001b3ULL;
    for (const unsigned char *p = (const unsigned char *)(b != NULL ? b : ""); *p != '\0'; p++) {
        hash = (hash ^ *p) * 0x100000001b3ULL;
    }
    snprintf(out, 17, "%016llx", (unsigned long long)hash);
}

void ms_format_time(int64_t ms, char out[32])
{
    time_t seconds = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&seconds, &tm);
    char base[24];
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, 32, "%s.%03dZ", base, (int)(ms % 1000));
}

static int digits(const char *p, int n)
{
    int value = 0;
    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return -1;
        }
        value = value * 10 + (p[i] - '0');
    }
    return value;
}

int64_t ms_parse_time(const char *text)
{
    if (text == NULL || strlen(text) < 19 || text[4] != '-' || text[7] != '-' ||
        (text[10] != 'T' && text[10] != 't') || text[13] != ':' || text[16] != ':') {
        return -1;
    }
    int year = digits(text, 4), month = digits(text + 5, 2), day = digits(text + 8, 2);
    int hour = digits(text + 11, 2), minute = digits(text + 14, 2), second = digits(text + 17, 2);
    if (year < 1 || month < 1 || month > 12 || day < 1 || day > 31 || hour < 0 || hour > 23 ||
        minute < 0 || minute > 59 || second < 0 || second > 60) {
        return -1;
    }
    const char *p = text + 19;
    int millis = 0;
    if (*p == '.') {
        p++;
        int scale = 100;
        if (*p < '0' || *p > '9') {
            return -1;
        }
        while (*p >= '0' && *p <= '9') {
            millis += (*p - '0') * scale;
            scale /= 10;
            p++;
        }
    }
    int64_t offset_s = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh = digits(p + 1, 2);
        int om = p[3] == ':' ? digits(p + 4, 2) : -1;
        if (oh < 0 || om < 0 || oh > 23 || om > 59) {
            return -1;
        }
        offset_s = (int64_t)(oh * 3600 + om * 60) * (*p == '+' ? 1 : -1);
        p += 6;
    }
    if (*p != '\0') {
        return -1;
    }
    struct tm tm = {.tm_year = year - 1900,
                    .tm_mon = month - 1,
                    .tm_mday = day,
                    .tm_hour = hour,
                    .tm_min = minute,
                    .tm_sec = second};
    time_t seconds = timegm(&tm);
    return ((int64_t)seconds - offset_s) * 1000 + millis;
}

char *ms_url_encode(const char *text)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t len = strlen(text);
    char *out = malloc(3 * len + 1);
    if (out == NULL) {
        return NULL;
    }
    size_t used = 0;
    for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++) {
        if (isalnum(*p) || *p == '-' || *p == '.' || *p == '_' || *p == '~' || *p == '@') {
            out[used++] = (char)*p;
        } else {
            out[used++] = '%';
            out[used++] = hex[*p >> 4];
            out[used++] = hex[*p & 15];
        }
    }
    out[used] = '\0';
    return out;
}

char *ms_lower_dup(const char *text)
{
    char *copy = strdup(text);
    for (char *p = copy; p != NULL && *p != '\0'; p++) {
        *p = (char)tolower((unsigned char)*p);
    }
    return copy;
}

bool ms_same(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcasecmp(a, b) == 0;
}

char *ms_source_id(const char *mailbox_key, const char *id, const char *suffix)
{
    size_t size = strlen(mailbox_key) + strlen(id) + (suffix != NULL ? strlen(suffix) : 0) + 4;
    char *text = malloc(size > 40 ? size : 40);
    if (text == NULL) {
        return NULL;
    }
    if (size <= 200) {
        snprintf(text, size, "%s:%s%s%s", mailbox_key, id, suffix != NULL ? ":" : "",
                 suffix != NULL ? suffix : "");
    } else {
        /* the store takes 256 bytes: a long Graph id is kept by its hash */
        char hash[17];
        ms_hash_key(id, suffix, hash);
        snprintf(text, 40, "%s:h%s", mailbox_key, hash);
    }
    return text;
}

bool ms_address_ok(const char *address)
{
    size_t len = address != NULL ? strlen(address) : 0;
    const char *at = len > 0 ? strchr(address, '@') : NULL;
    if (len > 254 || at == NULL || at == address || at[1] == '\0' || strchr(at + 1, '@') != NULL) {
        return false;
    }
    for (const unsigned char *p = (const unsigned char *)address; *p != '\0'; p++) {
        if (*p <= ' ' || *p == 0x7f || *p == ',' || *p == '<' || *p == '>') {
            return false;
        }
    }
    return true;
}
