/*
 * linkedin_restli.c - Rest.li 2.0 query encoding and LinkedIn's ids, pure.
 *
 * Rest.li 2.0 writes complex parameters as tuples, "(key:value,key:value)", whose syntax
 * characters stay literal while a URN inside must have its own ':' percent-encoded:
 *   owner=(sponsoredAccount:urn%3Ali%3AsponsoredAccount%3A508974412)
 * A bare URN parameter is percent-encoded whole. LinkedIn answers a wrongly encoded URN
 * with 400, so every URN the plugin sends is built here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "linkedin.h"

#define ACCOUNT_URN "urn:li:sponsoredAccount:"
#define FORM_URN    "urn:li:leadGenForm:"
#define VFORM_URN   "urn:li:versionedLeadGenForm:("

static bool unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

char *linkedin_restli_encode(const char *text, const char *keep)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t len = strlen(text);
    char *out = malloc(3 * len + 1);
    if (out == NULL) {
        return NULL;
    }
    size_t used = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (unreserved(c) || (keep != NULL && c != '\0' && strchr(keep, c) != NULL)) {
            out[used++] = (char)c;
        } else {
            out[used++] = '%';
            out[used++] = hex[c >> 4];
            out[used++] = hex[c & 0x0f];
        }
    }
    out[used] = '\0';
    return out;
}

char *linkedin_owner_param(const char *account_id)
{
    char urn[64];
    snprintf(urn, sizeof(urn), ACCOUNT_URN "%s", account_id);
    char *encoded = linkedin_restli_encode(urn, NULL);
    if (encoded == NULL) {
        return NULL;
    }
    size_t size = strlen(encoded) + sizeof("(sponsoredAccount:)");
    char *param = malloc(size);
    if (param != NULL) {
        snprintf(param, size, "(sponsoredAccount:%s)", encoded);
    }
    free(encoded);
    return param;
}

static bool digits(const char *text, size_t max)
{
    size_t len = strlen(text);
    if (len == 0 || len > max) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (text[i] < '0' || text[i] > '9') {
            return false;
        }
    }
    return true;
}

bool linkedin_parse_numeric_id(const char *text, const char *urn_prefix, char out[32])
{
    if (text == NULL) {
        return false;
    }
    if (urn_prefix != NULL && strncmp(text, urn_prefix, strlen(urn_prefix)) == 0) {
        text += strlen(urn_prefix);
    }
    if (!digits(text, 20)) {
        return false;
    }
    snprintf(out, 32, "%s", text);
    return true;
}

bool linkedin_response_id_valid(const char *id)
{
    size_t len = id != NULL ? strlen(id) : 0;
    if (len == 0 || len > LINKEDIN_ID_MAX) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)id[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_')) {
            return false;
        }
    }
    return true;
}

bool linkedin_parse_versioned_form(const char *urn, char form_out[32], char version_out[32])
{
    if (urn == NULL || strncmp(urn, VFORM_URN FORM_URN, strlen(VFORM_URN FORM_URN)) != 0) {
        return false;
    }
    const char *p = urn + strlen(VFORM_URN FORM_URN);
    const char *comma = strchr(p, ',');
    const char *close = comma != NULL ? strchr(comma, ')') : NULL;
    if (comma == NULL || close == NULL || close[1] != '\0') {
        return false;
    }
    char form[32], version[32];
    size_t form_len = (size_t)(comma - p), version_len = (size_t)(close - comma - 1);
    if (form_len == 0 || form_len >= sizeof(form) || version_len == 0 ||
        version_len >= sizeof(version)) {
        return false;
    }
    memcpy(form, p, form_len);
    form[form_len] = '\0';
    memcpy(version, comma + 1, version_len);
    version[version_len] = '\0';
    if (!digits(form, 20) || !digits(version, 20)) {
        return false;
    }
    memcpy(form_out, form, form_len + 1);
    memcpy(version_out, version, version_len + 1);
    return true;
}

int64_t linkedin_next_midnight(int64_t now_ms)
{
    int64_t day = now_ms >= 0 ? now_ms / LINKEDIN_DAY_MS : 0;
    return (day + 1) * LINKEDIN_DAY_MS + LINKEDIN_HOLD_MARGIN_MS;
}

bool linkedin_format_time(int64_t ms, char out[32])
{
    /* 0001-01-01 .. 9999-12-31: what the host accepts */
    if (ms < 0 || ms > 253402300799999LL) {
        return false;
    }
    time_t seconds = (time_t)(ms / 1000);
    struct tm tm;
    if (gmtime_r(&seconds, &tm) == NULL) {
        return false;
    }
    char date[24];
    if (strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
        return false;
    }
    snprintf(out, 32, "%.19s.%03dZ", date, (int)(ms % 1000));
    return true;
}
