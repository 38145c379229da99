/*
 * hubspot_batch.c - what a batch answer says about each input. HubSpot answers a batch
 * request with 200 (every input done) or 207 Multi-Status (results for some, errors for
 * the others). Results do not say which input they answer, and come in no promised order,
 * so they are matched by the input's key (the email of an upsert, the id of an update or
 * read), never by position; errors name their inputs in `context` or in the message. Pure:
 * no host, no I/O.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hubspot.h"

static void item_fail(struct hubspot_batch_item *item, const char *message, bool retryable)
{
    item->failed = true;
    item->retryable = retryable;
    snprintf(item->message, sizeof(item->message), "%s", message);
}

/* Characters that may continue an email address or an id on either side of a mention. */
static bool word_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '-' || c == '+' || c == '@' ||
           (unsigned char)c >= 0x80;
}

/* True when text mentions key as a whole word (case-insensitive). */
static bool text_names(const char *text, size_t text_len, const char *key)
{
    size_t key_len = strlen(key);
    if (key_len == 0 || key_len > text_len) {
        return false;
    }
    for (size_t i = 0; i + key_len <= text_len; i++) {
        if (strncasecmp(text + i, key, key_len) != 0) {
            continue;
        }
        bool before_ok = i == 0 || (!word_char(text[i - 1]) && text[i - 1] != '.');
        size_t end = i + key_len;
        bool after_ok = end == text_len || !word_char(text[end]);
        if (after_ok && end < text_len && text[end] == '.' && end + 1 < text_len &&
            isalnum((unsigned char)text[end + 1])) {
            after_ok = false; /* "a@b.co" inside "a@b.com" */
        }
        if (before_ok && after_ok) {
            return true;
        }
    }
    return false;
}

static bool same_key(const char *match_property, const char *a, const char *b)
{
    return match_property != NULL ? hubspot_same_value(match_property, a, b) : strcmp(a, b) == 0;
}

/* The input a result answers, or NULL. */
static struct hubspot_batch_item *match_result(const json_t *result, const char *match_property,
                                               struct hubspot_batch_item *items, size_t count,
                                               const char *id)
{
    const char *key = id;
    if (match_property != NULL) {
        key = json_string_value(
            json_object_get(json_object_get(result, "properties"), match_property));
    }
    if (key == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < count; i++) {
        if (items[i].id[0] == '\0' && !items[i].failed &&
            same_key(match_property, items[i].key, key)) {
            return &items[i];
        }
    }
    return NULL;
}

/* True when any string in the error's context (strings, or arrays of them, one level
 * down) is the item's key. */
static bool context_names(const json_t *context, const char *match_property, const char *key)
{
    const char *name;
    const json_t *value;
    json_object_foreach((json_t *)context, name, value)
    {
        if (json_is_string(value) && same_key(match_property, json_string_value(value), key)) {
            return true;
        }
        size_t i;
        const json_t *member;
        json_array_foreach(value, i, member)
        {
            if (json_is_string(member) &&
                same_key(match_property, json_string_value(member), key)) {
                return true;
            }
        }
    }
    return false;
}

/* The "CATEGORY: message" text of one error object. */
static void error_text(const json_t *error, char *out, size_t size)
{
    char *dumped = json_dumps(error, JSON_COMPACT);
    if (dumped != NULL) {
        hubspot_error_text(dumped, strlen(dumped), out, size);
        free(dumped);
    } else {
        snprintf(out, size, "HubSpot reported an error");
    }
}

bool hubspot_existing_id(const char *message, char *out)
{
    static const char marker[] = "Existing ID: ";
    const char *at = message != NULL ? strstr(message, marker) : NULL;
    if (at == NULL) {
        return false;
    }
    at += sizeof(marker) - 1;
    size_t digits = strspn(at, "0123456789");
    if (digits == 0 || digits >= HUBSPOT_ID_MAX - 1) {
        return false;
    }
    memcpy(out, at, digits);
    out[digits] = '\0';
    return hubspot_id_valid(out);
}

size_t hubspot_batch_results(const json_t *body, const char *match_property,
                             struct hubspot_batch_item *items, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        items[i].id[0] = '\0';
        items[i].updated_ms = -1;
        items[i].failed = false;
        items[i].retryable = false;
        items[i].unidentified = false;
        items[i].existing[0] = '\0';
        items[i].message[0] = '\0';
    }
    const json_t *results = json_object_get(body, "results");
    const json_t *errors = json_object_get(body, "errors");
    size_t unmatched_results = 0;
    size_t i;
    const json_t *result;
    json_array_foreach(results, i, result)
    {
        char id[HUBSPOT_ID_MAX];
        if (!hubspot_id_from_json(json_object_get(result, "id"), id)) {
            continue;
        }
        struct hubspot_batch_item *item = match_result(result, match_property, items, count, id);
        if (item == NULL) {
            unmatched_results++;
            continue;
        }
        snprintf(item->id, sizeof(item->id), "%s", id);
        int64_t updated;
        const char *updated_text = json_string_value(json_object_get(result, "updatedAt"));
        if (updated_text != NULL && hubspot_parse_time(updated_text, &updated) == 0) {
            item->updated_ms = updated;
        }
    }
    /* A result without the matching property cannot be told apart from another: HubSpot
     * does not promise results in the inputs' order. Only a lone input and a lone result
     * belong together; otherwise those inputs are left unidentified (below). */
    if (count == 1 && unmatched_results == 1 && json_array_size(errors) == 0 &&
        items[0].id[0] == '\0') {
        json_array_foreach(results, i, result)
        {
            if (hubspot_id_from_json(json_object_get(result, "id"), items[0].id)) {
                const char *updated_text = json_string_value(json_object_get(result, "updatedAt"));
                int64_t updated;
                if (updated_text != NULL && hubspot_parse_time(updated_text, &updated) == 0) {
                    items[0].updated_ms = updated;
                }
                unmatched_results = 0;
                break;
            }
        }
    }
    char unclaimed[HUBSPOT_MESSAGE_MAX + 64] = "";
    bool unclaimed_retryable = false;
    const json_t *error;
    json_array_foreach(errors, i, error)
    {
        char text[HUBSPOT_MESSAGE_MAX + 64];
        error_text(error, text, sizeof(text));
        const char *category = json_string_value(json_object_get(error, "category"));
        bool retryable = hubspot_category_retryable(category);
        const json_t *context = json_object_get(error, "context");
        const char *message = json_string_value(json_object_get(error, "message"));
        size_t claimed = 0;
        for (size_t k = 0; k < count; k++) {
            if (items[k].id[0] != '\0' || items[k].failed) {
                continue;
            }
            if ((json_is_object(context) && context_names(context, match_property, items[k].key)) ||
                (message != NULL && text_names(message, strlen(message), items[k].key))) {
                item_fail(&items[k], text, retryable);
                if (message != NULL) {
                    hubspot_existing_id(message, items[k].existing);
                }
                claimed++;
            }
        }
        if (claimed == 0 && unclaimed[0] == '\0') {
            snprintf(unclaimed, sizeof(unclaimed), "%s", text);
            unclaimed_retryable = retryable;
        }
    }
    size_t failed = 0;
    for (size_t k = 0; k < count; k++) {
        if (items[k].id[0] == '\0' && !items[k].failed && unmatched_results > 0) {
            /* one of the results HubSpot did not name may well be this input's */
            item_fail(&items[k],
                      "HubSpot's answer does not say which of its results is this "
                      "input",
                      true);
            items[k].unidentified = true;
        } else if (items[k].id[0] == '\0' && !items[k].failed) {
            if (unclaimed[0] != '\0') {
                item_fail(&items[k], unclaimed, unclaimed_retryable);
            } else {
                /* a 200 that skipped an input: HubSpot's hiccup, worth another try */
                item_fail(&items[k], "HubSpot returned no result for this input", true);
            }
        }
        failed += items[k].failed;
    }
    return failed;
}

size_t hubspot_batch_blame(const char *message, struct hubspot_batch_item *items, size_t count)
{
    size_t named = 0;
    size_t len = message != NULL ? strlen(message) : 0;
    for (size_t i = 0; i < count && len > 0; i++) {
        if (!items[i].failed && text_names(message, len, items[i].key)) {
            item_fail(&items[i], message, false);
            named++;
        }
    }
    return named;
}
