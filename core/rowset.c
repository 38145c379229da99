/* rowset.c - see rowset.h. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "rowset.h"

void rowset_append_json_string(struct strbuf *sb, const char *value)
{
    static const char hex[] = "0123456789abcdef";
    strbuf_append_len(sb, "\"", 1);
    const char *run = value;
    for (const unsigned char *p = (const unsigned char *)value; *p != '\0'; p++) {
        if (*p >= 0x20 && *p != '"' && *p != '\\') {
            continue;
        }
        strbuf_append_len(sb, run, (size_t)((const char *)p - run));
        char escape[6] = {'\\', (char)*p, 0, 0, 0, 0};
        size_t len = 2;
        if (*p == '\n') {
            escape[1] = 'n';
        } else if (*p == '\t') {
            escape[1] = 't';
        } else if (*p == '\r') {
            escape[1] = 'r';
        } else if (*p < 0x20) {
            escape[1] = 'u';
            escape[2] = '0';
            escape[3] = '0';
            escape[4] = hex[*p >> 4];
            escape[5] = hex[*p & 0x0f];
            len = 6;
        }
        strbuf_append_len(sb, escape, len);
        run = (const char *)p + 1;
    }
    strbuf_append(sb, run);
    strbuf_append_len(sb, "\"", 1);
}

void rowset_row(struct rowset *rows)
{
    strbuf_append(&rows->text, rows->count == 0 ? "[{" : "},{");
    rows->count++;
    rows->field_open = false;
}

/* `"key":` after the separator the row needs. */
static void put_key(struct rowset *rows, const char *key)
{
    if (rows->field_open) {
        strbuf_append_len(&rows->text, ",", 1);
    }
    rows->field_open = true;
    strbuf_append_len(&rows->text, "\"", 1);
    strbuf_append(&rows->text, key);
    strbuf_append_len(&rows->text, "\":", 2);
}

void rowset_string(struct rowset *rows, const char *key, const char *value)
{
    if (value == NULL) {
        return;
    }
    put_key(rows, key);
    rowset_append_json_string(&rows->text, value);
}

void rowset_int(struct rowset *rows, const char *key, int64_t value)
{
    char digits[24];
    char *p = digits + sizeof(digits);
    /* by the magnitude as unsigned, so that INT64_MIN has one too */
    uint64_t magnitude = value < 0 ? 0 - (uint64_t)value : (uint64_t)value;
    do {
        *--p = (char)('0' + magnitude % 10);
        magnitude /= 10;
    } while (magnitude > 0);
    if (value < 0) {
        *--p = '-';
    }
    put_key(rows, key);
    strbuf_append_len(&rows->text, p, (size_t)(digits + sizeof(digits) - p));
}

void rowset_double(struct rowset *rows, const char *key, double value)
{
    char digits[32];
    int len = isfinite(value) ? snprintf(digits, sizeof(digits), "%.17g", value)
                              : snprintf(digits, sizeof(digits), "null");
    put_key(rows, key);
    strbuf_append_len(&rows->text, digits, (size_t)len);
}

static int append_dump(const char *buffer, size_t size, void *data)
{
    struct strbuf *sb = data;
    strbuf_append_len(sb, buffer, size);
    return sb->failed ? -1 : 0;
}

void rowset_json(struct rowset *rows, const char *key, const json_t *value)
{
    if (value == NULL) {
        return;
    }
    put_key(rows, key);
    if (json_dump_callback(value, append_dump, &rows->text, JSON_COMPACT | JSON_ENCODE_ANY) != 0) {
        rows->text.failed = true;
    }
}

const char *rowset_text(struct rowset *rows)
{
    if (!rows->closed) {
        strbuf_append(&rows->text, rows->count == 0 ? "[]" : "}]");
        rows->closed = true;
    }
    return rows->text.failed ? NULL : strbuf_value(&rows->text);
}

void rowset_free(struct rowset *rows)
{
    strbuf_free(&rows->text);
    rows->count = 0;
    rows->field_open = false;
    rows->closed = false;
}
