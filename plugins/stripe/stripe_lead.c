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

#include "stripe.h"

#define LEAD_TEXT_MAX  1024 /* the host's limit for lead text fields */
#define LEAD_EMAIL_MAX 254
#define LEAD_ID_DIGITS 18 /* fits in int64; the host's own bound */
#define NAME_WORDS_MAX 4  /* more words than this is not a name we dare to split */

/* Words that mark an organization's name (compared without dots or commas, lowercase). */
static const char *const organization_words[] = {
    "inc",  "incorporated", "llc",         "ltd",     "limited",   "corp",    "corporation",
    "co",   "company",      "plc",         "gmbh",    "ag",        "kg",      "sa",
    "sas",  "sarl",         "srl",         "spa",     "bv",        "nv",      "oy",
    "ab",   "aps",          "pty",         "pvt",     "lp",        "llp",     "kk",
    "sl",   "sro",          "group",       "holding", "holdings",  "gbr",     "ug",
    "ltda", "foundation",   "association", "agency",  "solutions", "studios",
};

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

/* A word without dots and commas, lowercased, into out (at most out_size - 1 bytes). */
static void word_key(const char *word, size_t len, char *out, size_t out_size)
{
    size_t used = 0;
    for (size_t i = 0; i < len && used + 1 < out_size; i++) {
        unsigned char c = (unsigned char)word[i];
        if (c != '.' && c != ',' && c != '(' && c != ')') {
            out[used++] = (char)tolower(c);
        }
    }
    out[used] = '\0';
}

static bool organization_word(const char *word, size_t len)
{
    char key[32];
    if (len >= sizeof(key)) {
        return false;
    }
    word_key(word, len, key, sizeof(key));
    for (size_t i = 0; i < sizeof(organization_words) / sizeof(organization_words[0]); i++) {
        if (strcmp(key, organization_words[i]) == 0) {
            return true;
        }
    }
    return false;
}

/*
 * Stripe's `name` is one free-text field that may hold a person ("Priya Natarajan") or a
 * company ("Northwind Analytics Inc."). The rule, deliberately conservative:
 *   - a legal-form or organization word (Inc, LLC, GmbH, Ltd, ...) or '&' -> company;
 *   - 1 to 4 words without digits or '@' -> first word is first_name, the rest last_name
 *     (particles stay with the surname: "Ana de la Cruz" -> "Ana" / "de la Cruz");
 *   - anything else is not split at all (it stays in the event's data and raw).
 */
int stripe_lead_set_name(json_t *lead, const json_t *value)
{
    const char *text;
    size_t len;
    if (!trimmed(value, &text, &len) || len > LEAD_TEXT_MAX) {
        return 0;
    }
    size_t words = 0;
    bool organization = false, odd = false;
    const char *first_end = NULL;
    for (size_t i = 0; i < len;) {
        while (i < len && isspace((unsigned char)text[i])) {
            i++;
        }
        size_t start = i;
        while (i < len && !isspace((unsigned char)text[i])) {
            unsigned char c = (unsigned char)text[i];
            odd |= isdigit(c) || c == '@' || c < ' ' || c == 0x7f;
            organization |= c == '&';
            i++;
        }
        if (i > start) {
            organization |= organization_word(text + start, i - start);
            if (words++ == 0) {
                first_end = text + i;
            }
        }
    }
    if (organization) {
        return set_new(lead, "company", json_stringn(text, len));
    }
    if (odd || words == 0 || words > NAME_WORDS_MAX) {
        return 0;
    }
    size_t first_len = (size_t)(first_end - text);
    if (set_new(lead, "first_name", json_stringn(text, first_len)) < 0) {
        return -1;
    }
    if (words > 1) {
        const char *rest = first_end;
        while (isspace((unsigned char)*rest)) {
            rest++;
        }
        return set_new(lead, "last_name", json_stringn(rest, len - (size_t)(rest - text)));
    }
    return 1;
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
