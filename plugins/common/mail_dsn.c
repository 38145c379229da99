/*
 * mail_dsn.c - failed recipients of an RFC 3464 delivery status report (see mail_dsn.h).
 */
#include "mail_dsn.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "text_utf8.h"

#define FIELD_MAX 512 /* longer field values are cut: an address is at most 254 bytes */

struct block {
    char action[FIELD_MAX];
    char final_recipient[FIELD_MAX];
    char original_recipient[FIELD_MAX];
    char *last; /* the field a continuation line extends, or NULL */
};

static void append(char *field, const char *text, size_t length)
{
    size_t used = strlen(field);
    if (length > FIELD_MAX - 1 - used) {
        length = FIELD_MAX - 1 - used;
    }
    memcpy(field + used, text, length);
    field[used + length] = '\0';
}

static const char *trim(const char *text, size_t *length)
{
    while (*length > 0 && (*text == ' ' || *text == '\t')) {
        text++;
        (*length)--;
    }
    while (*length > 0 && (text[*length - 1] == ' ' || text[*length - 1] == '\t')) {
        (*length)--;
    }
    return text;
}

static int add_failed(const struct block *block, struct mail_address_list *out)
{
    size_t action_length = strlen(block->action);
    const char *action = trim(block->action, &action_length);
    if (!text_ascii_prefix(action, action_length, "failed")) {
        return 0;
    }
    const char *field =
        block->final_recipient[0] != '\0' ? block->final_recipient : block->original_recipient;
    const char *semicolon = strchr(field, ';');
    if (semicolon == NULL) {
        return 0;
    }
    size_t type_length = (size_t)(semicolon - field);
    const char *type = trim(field, &type_length);
    if (!text_ascii_equal_n(type, type_length, "rfc822", 6) &&
        !text_ascii_equal_n(type, type_length, "utf-8", 5)) {
        return 0;
    }
    size_t address_length = strlen(semicolon + 1);
    const char *text = trim(semicolon + 1, &address_length);
    char *address = mail_address_normalize(text, address_length);
    if (address == NULL) {
        return 0; /* unreadable, or out of memory: either way nothing to add */
    }
    for (size_t i = 0; i < out->count; i++) {
        if (mail_address_same(out->items[i].address, address)) {
            free(address);
            return 0;
        }
    }
    if (out->count >= MAIL_ADDRESS_LIST_MAX) {
        out->skipped++;
        free(address);
        return 0;
    }
    struct mail_address *items = realloc(out->items, (out->count + 1) * sizeof(*items));
    if (items == NULL) {
        free(address);
        return -1;
    }
    out->items = items;
    items[out->count++] = (struct mail_address){
        .address = address,
        .domain = mail_address_domain(address),
    };
    return 0;
}

int mail_dsn_failed_recipients(const char *text, size_t length, struct mail_address_list *out)
{
    memset(out, 0, sizeof(*out));
    struct block *block = calloc(1, sizeof(*block));
    if (block == NULL) {
        return -1;
    }
    int rc = 0;
    size_t p = 0;
    while (p < length && rc == 0) {
        const char *line = text + p;
        const char *newline = memchr(line, '\n', length - p);
        size_t line_length = newline != NULL ? (size_t)(newline - line) : length - p;
        p += line_length + 1;
        if (line_length > 0 && line[line_length - 1] == '\r') {
            line_length--;
        }
        size_t trimmed_length = line_length;
        trim(line, &trimmed_length);
        if (trimmed_length == 0) {
            /* a blank line ends a block (the end of the text too) */
            rc = add_failed(block, out);
            memset(block, 0, sizeof(*block));
            continue;
        }
        if (line[0] == ' ' || line[0] == '\t') {
            if (block->last != NULL) {
                append(block->last, line, line_length);
            }
            continue;
        }
        const char *colon = memchr(line, ':', line_length);
        block->last = NULL;
        if (colon == NULL) {
            continue;
        }
        size_t name_length = (size_t)(colon - line);
        const char *name = trim(line, &name_length);
        if (text_ascii_equal_n(name, name_length, "Action", 6)) {
            block->last = block->action;
        } else if (text_ascii_equal_n(name, name_length, "Final-Recipient", 15)) {
            block->last = block->final_recipient;
        } else if (text_ascii_equal_n(name, name_length, "Original-Recipient", 18)) {
            block->last = block->original_recipient;
        }
        if (block->last != NULL) {
            block->last[0] = '\0';
            append(block->last, colon + 1, line_length - (size_t)(colon + 1 - line));
        }
    }
    if (rc == 0) {
        rc = add_failed(block, out); /* the last block, when no blank line ended it */
    }
    free(block);
    if (rc != 0) {
        mail_address_list_clear(out);
    }
    return rc;
}
