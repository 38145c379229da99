/*
 * fuzz_common_text.c - libFuzzer target for the text parsers every mail and billing
 * connector shares (plugins/common): each input goes through all of them, as
 *   - an address list header value (mail_address_list_parse),
 *   - text with RFC 2047 encoded words (mail_decode_words),
 *   - a person's name (person_name_parse, person_name_set_lead),
 *   - a header block "Name: value" per line, folded lines continuing the value: the
 *     message's headers, classified for a fixed mailbox (mail_classify) and decided
 *     (mail_event_decide) both in and out of the mailbox's thread,
 *   - a delivery status report (mail_dsn_failed_recipients).
 * It must never crash, leak or read out of bounds, and every string it hands on must be
 * well-formed UTF-8 without control characters; a classification must be consistent with
 * the event it decides.
 *
 * Built by `make fuzz` with the plugins/common sources and the core library. Seeds:
 * corpus_common_text/ and ../tests/fixtures/; dictionary fuzz_common_text.dict.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail_address.h"
#include "mail_classify.h"
#include "mail_dsn.h"
#include "mail_encoded_word.h"
#include "person_name.h"
#include "text_utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HEADERS_MAX 64

static void fail(const char *what, const char *text)
{
    fprintf(stderr, "%s: \"%s\"\n", what, text != NULL ? text : "(null)");
    abort();
}

/* Well-formed UTF-8, no control characters. */
static void check_text(const char *what, const char *text)
{
    if (text == NULL) {
        return;
    }
    size_t length = strlen(text), p = 0;
    while (p < length) {
        int32_t codepoint = text_utf8_next(text, length, &p);
        if (codepoint < 0 || text_is_control((uint32_t)codepoint)) {
            fail(what, text);
        }
    }
}

static void check_list(const struct mail_address_list *list)
{
    for (size_t i = 0; i < list->count; i++) {
        const struct mail_address *item = &list->items[i];
        check_text("address", item->address);
        check_text("display name", item->name);
        check_text("group", item->group);
        size_t length = strlen(item->address);
        if (length > MAIL_ADDRESS_MAX || item->domain <= item->address ||
            item->domain > item->address + length || item->domain[-1] != '@' ||
            item->domain[0] == '\0') {
            fail("address without a domain", item->address);
        }
    }
}

static void fuzz_addresses(const char *text, size_t size)
{
    struct mail_address_list list;
    if (mail_address_list_parse(text, size, &list) == 0) {
        check_list(&list);
    }
    mail_address_list_clear(&list);
    char *one = mail_address_normalize(text, size);
    check_text("normalized", one);
    free(one);
}

static void fuzz_words(const char *text, size_t size)
{
    char *decoded = mail_decode_words_dup(text, size);
    check_text("decoded", decoded);
    free(decoded);
}

static void fuzz_name(const char *text, size_t size)
{
    struct person_name name;
    if (person_name_parse(text, size, &name) == 0) {
        check_text("full_name", name.full_name);
        check_text("given_name", name.given_name);
        check_text("family_name", name.family_name);
        check_text("honorific", name.honorific);
        check_text("suffix", name.suffix);
        if (name.reason == NULL || name.full_name == NULL) {
            fail("no reason or full name", text);
        }
        if (name.kind != PERSON_NAME_PERSON &&
            (name.given_name != NULL || name.family_name != NULL)) {
            fail("a split that is not a person", name.full_name);
        }
    }
    person_name_clear(&name);
    json_t *lead = json_object();
    if (lead != NULL && person_name_set_lead(lead, text, size, 1024) >= 0) {
        const char *keys[] = {"first_name", "last_name", "company"};
        for (size_t i = 0; i < 3; i++) {
            check_text(keys[i], json_string_value(json_object_get(lead, keys[i])));
        }
        check_text("attributes.full_name", json_string_value(json_object_get(
                                               json_object_get(lead, "attributes"), "full_name")));
    }
    json_decref(lead);
}

/* Splits a header block in place: "Name: value" lines, continuation lines appended. */
static size_t header_block(char *text, struct mail_header *headers)
{
    size_t count = 0;
    char *line = text;
    while (line != NULL && *line != '\0') {
        char *newline = strchr(line, '\n');
        char *next = newline != NULL ? newline + 1 : NULL;
        bool continuation = (*line == ' ' || *line == '\t') && count > 0;
        if (continuation) {
            /* unfolded by turning the line break before it into a space */
            line[-1] = ' ';
        } else if (newline != NULL) {
            *newline = '\0';
        }
        if (!continuation) {
            char *colon = strchr(line, ':');
            if (colon != NULL && count < HEADERS_MAX) {
                *colon = '\0';
                headers[count++] = (struct mail_header){line, colon + 1};
            }
        } else if (newline != NULL) {
            *newline = '\0';
        }
        line = next;
    }
    return count;
}

static void fuzz_classify(const char *text, size_t size)
{
    char *copy = malloc(size + 1);
    if (copy == NULL) {
        return;
    }
    memcpy(copy, text, size);
    copy[size] = '\0';
    struct mail_header headers[HEADERS_MAX];
    size_t count = header_block(copy, headers);
    static const char *const own[] = {"rep@ourco.example", "sam.rep@ourco.example"};
    static const char *const internal[] = {"ourco.example"};
    const struct mail_mailbox mailbox = {own, 2, internal, 1};
    struct mail_classification c;
    if (mail_classify(headers, count, &mailbox, &c) == 0) {
        check_list(&c.from);
        check_list(&c.recipients);
        check_list(&c.bounced);
        check_text("subject", c.subject);
        for (size_t i = 0; i < c.counterpart_count; i++) {
            if (mail_domain_within(c.counterparts[i]->domain, "ourco.example")) {
                fail("an internal counterpart", c.counterparts[i]->address);
            }
        }
        for (int in_thread = 0; in_thread < 2; in_thread++) {
            const char *reason = NULL;
            enum mail_event event = mail_event_decide(&c, in_thread, &reason);
            bool person = c.kind == MAIL_KIND_PERSON;
            bool ok = event == MAIL_EVENT_SKIP
                          ? reason != NULL
                          : (event == MAIL_EVENT_BOUNCED ? c.kind == MAIL_KIND_BOUNCE && in_thread
                             : event == MAIL_EVENT_SENT
                                 ? person && c.direction == MAIL_DIRECTION_SENT
                                 : person && c.direction == MAIL_DIRECTION_RECEIVED &&
                                       (event == MAIL_EVENT_RECEIVED || (in_thread && c.is_reply)));
            if (!ok) {
                fail("an event its classification does not allow", mail_event_type(event));
            }
        }
    }
    mail_classification_clear(&c);
    free(copy);
}

static void fuzz_dsn(const char *text, size_t size)
{
    struct mail_address_list failed;
    if (mail_dsn_failed_recipients(text, size, &failed) == 0) {
        check_list(&failed);
    }
    mail_address_list_clear(&failed);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    fuzz_addresses(text, size);
    fuzz_words(text, size);
    fuzz_name(text, size);
    fuzz_classify(text, size);
    fuzz_dsn(text, size);
    return 0;
}
