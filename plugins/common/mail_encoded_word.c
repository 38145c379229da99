/*
 * mail_encoded_word.c - RFC 2047 decoding (see mail_encoded_word.h).
 */
#include "mail_encoded_word.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "mail_charset.h"
#include "text_buffer.h"
#include "text_utf8.h"

#define CHARSET_MAX 40

struct encoded_word {
    const char *charset; /* into the text */
    size_t charset_length;
    char encoding;    /* 'B' or 'Q' */
    const char *data; /* the encoded text */
    size_t data_length;
    size_t end; /* offset just past "?=" */
};

/* RFC 2045 token characters, which a charset name is made of. */
static bool token_char(unsigned char c)
{
    return c > ' ' && c < 0x7F && strchr("()<>@,;:\"/[]?.=", c) == NULL;
}

static bool data_valid(const struct encoded_word *word);

/* The encoded word starting at text[start] ("=?"), or false when there is none there. */
static bool parse_word(const char *text, size_t length, size_t start, struct encoded_word *word)
{
    size_t limit = length - start > MAIL_ENCODED_WORD_MAX ? start + MAIL_ENCODED_WORD_MAX : length;
    size_t p = start + 2;
    if (p > limit || text[start] != '=' || text[start + 1] != '?') {
        return false;
    }
    size_t charset_start = p;
    while (p < limit && token_char((unsigned char)text[p]) && text[p] != '*') {
        p++;
    }
    word->charset = text + charset_start;
    word->charset_length = p - charset_start;
    if (p < limit && text[p] == '*') { /* RFC 2231 language: skipped */
        p++;
        while (p < limit && token_char((unsigned char)text[p])) {
            p++;
        }
    }
    if (word->charset_length == 0 || word->charset_length > CHARSET_MAX || p + 3 > limit ||
        text[p] != '?' || text[p + 2] != '?') {
        return false;
    }
    char encoding = text[p + 1];
    if (encoding == 'b' || encoding == 'q') {
        encoding = (char)(encoding - 32);
    }
    if (encoding != 'B' && encoding != 'Q') {
        return false;
    }
    word->encoding = encoding;
    p += 3;
    size_t data_start = p;
    while (p + 1 < limit && !(text[p] == '?' && text[p + 1] == '=')) {
        unsigned char c = (unsigned char)text[p];
        if (c <= ' ' || c >= 0x7F) {
            return false; /* encoded text is printable ASCII without spaces */
        }
        p++;
    }
    if (p + 1 >= limit) {
        return false;
    }
    word->data = text + data_start;
    word->data_length = p - data_start;
    word->end = p + 2;
    return mail_charset_known(word->charset, word->charset_length) && data_valid(word);
}

static int base64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == '+') {
        return 62;
    }
    if (c == '/') {
        return 63;
    }
    return -1;
}

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

/* Is the encoded text well-formed for its encoding? B: base64 characters, then padding only;
 * Q: "=" always followed by two hex digits. */
static bool data_valid(const struct encoded_word *word)
{
    const unsigned char *data = (const unsigned char *)word->data;
    size_t length = word->data_length;
    size_t i = 0;
    if (word->encoding == 'B') {
        while (i < length && data[i] != '=') {
            if (base64_value(data[i++]) < 0) {
                return false;
            }
        }
        while (i < length) {
            if (data[i++] != '=') {
                return false;
            }
        }
        return true;
    }
    for (; i < length; i++) {
        if (data[i] == '=') {
            if (i + 2 >= length || hex_value(data[i + 1]) < 0 || hex_value(data[i + 2]) < 0) {
                return false;
            }
            i += 2;
        }
    }
    return true;
}

/* The word's bytes (data_valid() holds) appended to out. 0, or -1 when out of memory. */
static int decode_data(const struct encoded_word *word, struct text_buffer *out)
{
    const unsigned char *data = (const unsigned char *)word->data;
    size_t length = word->data_length;
    if (word->encoding == 'B') {
        uint32_t bits = 0;
        int count = 0;
        for (size_t i = 0; i < length && data[i] != '='; i++) {
            bits = (bits << 6) | (uint32_t)base64_value(data[i]);
            count += 6;
            if (count >= 8) {
                count -= 8;
                if (text_buffer_append_byte(out, (unsigned char)(bits >> count)) != 0) {
                    return -1;
                }
                bits &= (1U << count) - 1;
            }
        }
        return 0;
    }
    for (size_t i = 0; i < length; i++) {
        unsigned char c = data[i];
        if (c == '_') {
            c = ' ';
        } else if (c == '=') {
            c = (unsigned char)(hex_value(data[i + 1]) * 16 + hex_value(data[i + 2]));
            i += 2;
        }
        if (text_buffer_append_byte(out, c) != 0) {
            return -1;
        }
    }
    return 0;
}

static size_t skip_linear_space(const char *text, size_t length, size_t p)
{
    while (p < length &&
           (text[p] == ' ' || text[p] == '\t' || text[p] == '\r' || text[p] == '\n')) {
        p++;
    }
    return p;
}

/* A run of adjacent encoded words in one charset, waiting to be converted. */
struct pending {
    const char *charset; /* NULL: no run */
    size_t charset_length;
    const char *source; /* the run as written, for when it cannot be converted */
    size_t source_length;
    struct text_buffer bytes;
};

static int flush(struct pending *pending, struct text_buffer *out)
{
    if (pending->charset == NULL) {
        return 0;
    }
    size_t mark = out->length;
    int rc = mail_charset_to_utf8(pending->charset, pending->charset_length,
                                  (const unsigned char *)pending->bytes.data, pending->bytes.length,
                                  out);
    if (rc == -1 && !out->failed) {
        /* the charset is listed but iconv cannot open it here (no gconv modules): the
         * words stay as they were written */
        out->length = mark;
        rc = text_buffer_append(out, pending->source, pending->source_length);
    }
    pending->charset = NULL;
    text_buffer_reset(&pending->bytes);
    return rc != 0 || pending->bytes.failed ? -1 : 0;
}

static bool same_charset(const struct pending *pending, const struct encoded_word *word)
{
    return pending->charset != NULL && text_ascii_equal_n(pending->charset, pending->charset_length,
                                                          word->charset, word->charset_length);
}

/* Copies decoded text into out with controls turned into spaces. */
static int append_sanitized(struct text_buffer *out, const char *text, size_t length)
{
    size_t p = 0;
    while (p < length) {
        size_t start = p;
        int32_t codepoint = text_utf8_next(text, length, &p);
        int rc;
        if (codepoint < 0) {
            rc = text_buffer_append_codepoint(out, TEXT_REPLACEMENT);
        } else if (text_is_control((uint32_t)codepoint)) {
            rc = text_buffer_append_byte(out, ' ');
        } else {
            rc = text_buffer_append(out, text + start, p - start);
        }
        if (rc != 0) {
            return -1;
        }
    }
    return 0;
}

int mail_decode_words(const char *text, size_t length, struct text_buffer *out)
{
    struct text_buffer decoded = TEXT_BUFFER_INIT;
    struct pending pending = {NULL, 0, NULL, 0, TEXT_BUFFER_INIT};
    int rc = 0;
    size_t p = 0;
    while (p < length && rc == 0) {
        struct encoded_word word;
        if (text[p] == '=' && p + 1 < length && text[p + 1] == '?' &&
            parse_word(text, length, p, &word)) {
            if (!same_charset(&pending, &word)) {
                rc = flush(&pending, &decoded);
                pending.charset = word.charset;
                pending.charset_length = word.charset_length;
                pending.source = text + p;
            }
            pending.source_length = (size_t)(text + word.end - pending.source);
            if (rc == 0 && decode_data(&word, &pending.bytes) != 0) {
                rc = -1;
            }
            p = word.end;
            size_t next = skip_linear_space(text, length, p);
            struct encoded_word following;
            if (next > p && next + 1 < length && text[next] == '=' && text[next + 1] == '?' &&
                parse_word(text, length, next, &following)) {
                p = next; /* white space between encoded words is not text */
            }
            continue;
        }
        rc = flush(&pending, &decoded);
        if (rc == 0 && text_buffer_append_byte(&decoded, (unsigned char)text[p]) != 0) {
            rc = -1;
        }
        p++;
    }
    if (rc == 0) {
        rc = flush(&pending, &decoded);
    }
    if (rc == 0 && decoded.failed) {
        rc = -1;
    }
    if (rc == 0) {
        rc = append_sanitized(out, decoded.data != NULL ? decoded.data : "", decoded.length);
    }
    text_buffer_free(&pending.bytes);
    text_buffer_free(&decoded);
    return rc;
}

char *mail_decode_words_dup(const char *text, size_t length)
{
    struct text_buffer out = TEXT_BUFFER_INIT;
    if (mail_decode_words(text, length, &out) != 0) {
        text_buffer_free(&out);
        return NULL;
    }
    return text_buffer_take(&out);
}
