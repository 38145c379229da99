/*
 * lh_url.h - URLs, query strings and form bodies built with percent-encoding (part of the
 * leadhub SDK helpers: include <leadhub-helpers.h>). libc only.
 *
 *     lh_url_t url;
 *     lh_url_init(&url, state->base_url);              // "https://api.example.com/v1"
 *     lh_url_add_path(&url, "persons");
 *     lh_url_add_path(&url, person_id);                  // "/" + encoded: '/' becomes %2F
 *     lh_url_add_query(&url, "since", cursor_text);     // "?since=2026-11-27T10%3A00..."
 *     lh_url_add_query_int(&url, "limit", 100);          // "&limit=100"
 *     char *text = lh_url_take(&url);                    // NEW: free(); NULL when out of memory
 *
 * The same builder writes an application/x-www-form-urlencoded body: lh_url_init(&form,
 * NULL), then lh_url_add_query() for each field ("a=1&b=2", no leading '?').
 */
#ifndef LEADHUB_LH_URL_H
#define LEADHUB_LH_URL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A URL (or form body) being built. Initialize with lh_url_init(); all fields private. */
typedef struct lh_url {
    char *text;
    size_t len;
    size_t cap;
    int form;      /* built from NULL: parameters joined by '&' only */
    int separator; /* the character the next parameter starts with: '?', '&' or 0 (none) */
    int failed;    /* an allocation failed: lh_url_take() returns NULL */
} lh_url_t;

/* lh_url_unreserved - RFC 3986 unreserved characters, the only ones never encoded. */
static inline int lh_url_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

/*
 * lh_percent_encode - `text` with every byte but the unreserved ones written as %XX
 * (uppercase hex), into out.
 *   Returns: the encoded length (excluding the NUL); when it is >= out_size nothing was
 *            written beyond out_size - 1 bytes (call again with a larger buffer, as
 *            snprintf()).
 */
static inline size_t lh_percent_encode(const char *text, char *out, size_t out_size)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t used = 0;
    for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++) {
        char piece[3] = {(char)*p, 0, 0};
        size_t n = 1;
        if (!lh_url_unreserved(*p)) {
            piece[0] = '%';
            piece[1] = hex[*p >> 4];
            piece[2] = hex[*p & 0x0f];
            n = 3;
        }
        for (size_t i = 0; i < n; i++, used++) {
            if (used + 1 < out_size) {
                out[used] = piece[i];
            }
        }
    }
    if (out_size > 0) {
        out[used < out_size ? used : out_size - 1] = '\0';
    }
    return used;
}

static inline void lh_url__append(lh_url_t *url, const char *text, size_t len)
{
    if (url->failed) {
        return;
    }
    if (url->len + len + 1 > url->cap) {
        size_t cap = url->cap ? url->cap : 128;
        while (cap < url->len + len + 1) {
            cap *= 2;
        }
        char *grown = (char *)realloc(url->text, cap);
        if (grown == NULL) {
            url->failed = 1;
            return;
        }
        url->text = grown;
        url->cap = cap;
    }
    memcpy(url->text + url->len, text, len);
    url->len += len;
    url->text[url->len] = '\0';
}

static inline void lh_url__append_encoded(lh_url_t *url, const char *text)
{
    size_t need = lh_percent_encode(text, NULL, 0);
    char *encoded = (char *)malloc(need + 1);
    if (encoded == NULL) {
        url->failed = 1;
        return;
    }
    lh_percent_encode(text, encoded, need + 1);
    lh_url__append(url, encoded, need);
    free(encoded);
}

/*
 * lh_url_init - start a URL from `base` (copied, as is: it may already carry a query, and
 * the parameters added then continue it with '&'), or a form body when base is NULL.
 */
static inline void lh_url_init(lh_url_t *url, const char *base)
{
    memset(url, 0, sizeof(*url));
    url->form = base == NULL;
    lh_url__append(url, "", 0);
    if (base == NULL) {
        return;
    }
    lh_url__append(url, base, strlen(base));
    const char *query = strchr(base, '?');
    if (query == NULL) {
        url->separator = '?';
    } else {
        char last = base[strlen(base) - 1];
        url->separator = last == '?' || last == '&' ? 0 : '&';
    }
}

/*
 * lh_url_add_path - append "/" and `segment` percent-encoded (a '/' inside it becomes %2F:
 * an id can never step into another path). A '/' already ending the URL is not doubled.
 * Call before any lh_url_add_query(): a path after the query is refused (lh_url_take()
 * returns NULL).
 */
static inline void lh_url_add_path(lh_url_t *url, const char *segment)
{
    if (url->form || url->separator != '?') {
        url->failed = 1;
        return;
    }
    if (url->len == 0 || url->text[url->len - 1] != '/') {
        lh_url__append(url, "/", 1);
    }
    lh_url__append_encoded(url, segment);
}

/*
 * lh_url_add_query - append name=value, both percent-encoded (a space is %20, which every
 * server reads; '+' is encoded as %2B). A NULL value adds nothing, so optional
 * parameters need no branch.
 */
static inline void lh_url_add_query(lh_url_t *url, const char *name, const char *value)
{
    if (value == NULL) {
        return;
    }
    if (url->separator != 0) {
        char c = (char)url->separator;
        lh_url__append(url, &c, 1);
    }
    url->separator = '&';
    lh_url__append_encoded(url, name);
    lh_url__append(url, "=", 1);
    lh_url__append_encoded(url, value);
}

/* lh_url_add_query_int - lh_url_add_query() of a decimal integer. */
static inline void lh_url_add_query_int(lh_url_t *url, const char *name, int64_t value)
{
    char text[24];
    snprintf(text, sizeof(text), "%lld", (long long)value);
    lh_url_add_query(url, name, text);
}

/*
 * lh_url_take - the URL built. NEW: the caller free()s it. NULL when an allocation failed
 * or a path was added after the query; either way the builder is reset (nothing to free).
 */
static inline char *lh_url_take(lh_url_t *url)
{
    char *text = url->failed ? NULL : url->text;
    if (url->failed) {
        free(url->text);
    }
    memset(url, 0, sizeof(*url));
    return text;
}

/* lh_url_free - abandon a URL being built. */
static inline void lh_url_free(lh_url_t *url)
{
    free(url->text);
    memset(url, 0, sizeof(*url));
}

#endif /* LEADHUB_LH_URL_H */
