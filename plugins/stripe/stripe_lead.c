/*
 * stripe_lead.c - the `lead` of a Stripe object. Pure: no host calls.
 *
 * Stripe's customer fields are free text typed by buyers and admins. The host refuses an
 * event whose lead carries a malformed email or an over-long field, and one bad field
 * should not cost a payment event, so each setter here leaves an unusable value out
 * instead (the Stripe payload stays in `raw`).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "person_name.h"
#include "stripe.h"

#define LEAD_TEXT_MAX  1024 /* the host's limit for lead text fields */
#define LEAD_EMAIL_MAX 254
#define LEAD_ID_DIGITS 18 /* fits in int64; the host's own bound */

bool stripe_id_valid(const char *id)
{
    size_t len = id != NULL ? strlen(id) : 0;
    if (len == 0 || len > STRIPE_ID_MAX) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char c = id[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-';
        if (!ok) {
            return false;
        }
    }
    return true;
}

const char *stripe_expandable_id(const json_t *object, const char *key)
{
    const json_t *value = json_object_get(object, key);
    if (json_is_object(value)) {
        value = json_object_get(value, "id");
    }
    const char *id = json_string_value(value);
    return stripe_id_valid(id) ? id : NULL;
}

/* The trimmed extent of a JSON string, or false for a non-string, an embedded NUL, or
 * nothing left after trimming. */
static bool trimmed(const json_t *value, const char **start_out, size_t *len_out)
{
    if (!json_is_string(value)) {
        return false;
    }
    const char *text = json_string_value(value);
    size_t len = json_string_length(value);
    if (strlen(text) != len) {
        return false;
    }
    while (len > 0 && isspace((unsigned char)*text)) {
        text++;
        len--;
    }
    while (len > 0 && isspace((unsigned char)text[len - 1])) {
        len--;
    }
    *start_out = text;
    *len_out = len;
    return len > 0;
}

/* 1 when set, 0 when left out, -1 when out of memory. */
static int set_new(json_t *object, const char *key, json_t *value)
{
    return value != NULL && json_object_set_new(object, key, value) == 0 ? 1 : -1;
}

int stripe_lead_set_text(json_t *lead, const char *key, const json_t *value)
{
    const char *text;
    size_t len;
    if (!trimmed(value, &text, &len) || len > LEAD_TEXT_MAX) {
        return 0;
    }
    return set_new(lead, key, json_stringn(text, len));
}

/* The host's rule (core/event.c): one '@' inside, no spaces or control characters, no
 * ',', '<', '>' (a list or a display name is not one address). */
int stripe_lead_set_email(json_t *lead, const json_t *value)
{
    const char *text;
    size_t len;
    if (!trimmed(value, &text, &len) || len > LEAD_EMAIL_MAX) {
        return 0;
    }
    const char *at = memchr(text, '@', len);
    if (at == NULL || at == text || at == text + len - 1 ||
        memchr(at + 1, '@', len - (size_t)(at + 1 - text)) != NULL) {
        return 0;
    }
    char lowered[LEAD_EMAIL_MAX + 1];
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c <= ' ' || c == 0x7f || c == ',' || c == '<' || c == '>') {
            return 0;
        }
        lowered[i] = (char)tolower(c);
    }
    /* stored lowercased by the host anyway; lowercased here so tests see what is stored */
    return set_new(lead, "email", json_stringn(lowered, len));
}

/*
 * Stripe's `name` is one free-text field that may hold a person ("Priya Natarajan") or a
 * company ("Northwind Analytics Inc."). It goes through the name parser every connector
 * shares (plugins/common/person_name.h): a person's name split into first_name and
 * last_name only when the parser is sure, else kept whole in attributes.full_name; a
 * company's name in company; an email address, digits and the like nowhere (the text
 * stays in the event's data and raw).
 */
int stripe_lead_set_name(json_t *lead, const json_t *value)
{
    const char *text;
    size_t len;
    if (!trimmed(value, &text, &len) || len > LEAD_TEXT_MAX) {
        return 0;
    }
    return person_name_set_lead(lead, text, len, LEAD_TEXT_MAX);
}

int stripe_lead_set_id(json_t *lead, const json_t *value)
{
    json_int_t id = 0;
    if (json_is_integer(value)) {
        id = json_integer_value(value);
    } else if (json_is_string(value)) {
        const char *text = json_string_value(value);
        size_t len = json_string_length(value);
        if (len == 0 || len > LEAD_ID_DIGITS || strlen(text) != len) {
            return 0;
        }
        for (size_t i = 0; i < len; i++) {
            if (text[i] < '0' || text[i] > '9') {
                return 0; /* "ld_01JN...", "+5", " 5": not a leadhub lead id */
            }
            id = id * 10 + (text[i] - '0');
        }
    }
    if (id <= 0) {
        return 0;
    }
    return set_new(lead, "id", json_integer(id));
}
