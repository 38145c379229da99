/*
 * fuzz_hubspot_search.c - libFuzzer target for what HubSpot answers: search pages and
 * batch answers, run through the normalizers that turn them into events (contacts ->
 * lead.updated, deals -> deal.stage_changed, meetings -> meeting.*), the batch-answer reader (200 /
 * 207) and the error-text extractor. Built with the plugin's own sources (make fuzz); pure
 * functions.
 *
 * The input is an answer body. Properties checked beyond "no crash, no leak":
 *   - a contact's lead carries its id as external_id, text fields leadhub can hold (no
 *     U+0000, at most 1024 bytes) and a normalized email;
 *   - seeing the same contact again (its own "seen" record) changes nothing;
 *   - a contact whose every value the hub wrote after it was last seen changes nothing
 *     (loop suppression);
 *   - a deal seen again with its own record is no stage change;
 *   - a meeting engagement never seen is news, with an end never before its start, and
 *     seen again with its own record is none;
 *   - every batch input ends with an id or a failure, never both, never neither;
 *   - error texts are NUL-terminated within their buffer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../hubspot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct hubspot_field fields[] = {
    {(char *)"email", (char *)"email"},          {(char *)"first_name", (char *)"firstname"},
    {(char *)"last_name", (char *)"lastname"},   {(char *)"company", (char *)"company"},
    {(char *)"title", (char *)"jobtitle"},       {(char *)"phone", (char *)"phone"},
    {(char *)"attributes.tier", (char *)"tier"},
};
static char *pulled[] = {(char *)"hubspot_owner_id", (char *)"lifecyclestage"};
static const struct hubspot_mapping mapping = {fields, sizeof(fields) / sizeof(fields[0]), pulled,
                                               sizeof(pulled) / sizeof(pulled[0])};

static void check_text(const json_t *value)
{
    if (json_is_string(value)) {
        if (strlen(json_string_value(value)) != json_string_length(value) ||
            json_string_length(value) > HUBSPOT_TEXT_MAX || json_string_length(value) == 0) {
            abort();
        }
        return;
    }
    const char *key;
    const json_t *member;
    json_object_foreach((json_t *)value, key, member)
    {
        check_text(member);
    }
}

/* The "written" record of a contact whose every seen value the hub wrote later. NEW. */
static json_t *written_from(const json_t *seen, int64_t at)
{
    json_t *p = json_object();
    const char *property;
    const json_t *value;
    json_object_foreach(json_object_get(seen, "p"), property, value)
    {
        json_object_set_new(p, property, json_pack("{s:O, s:I}", "v", value, "at", (json_int_t)at));
    }
    return json_pack("{s:o}", "p", p);
}

static void check_contact(const json_t *contact)
{
    struct hubspot_contact_change change;
    if (hubspot_contact_observe(&mapping, contact, NULL, NULL, &change) != 0) {
        return;
    }
    if (change.seen == NULL) {
        abort();
    }
    if (change.lead != NULL) {
        const char *external = json_string_value(json_object_get(change.lead, "external_id"));
        const char *email = json_string_value(json_object_get(change.lead, "email"));
        if (external == NULL || strcmp(external, change.id) != 0 || change.changed == 0) {
            abort();
        }
        check_text(change.lead);
        if (email != NULL) {
            char *normalized = hubspot_normalize_email(email);
            if (normalized == NULL || strcmp(normalized, email) != 0) {
                abort();
            }
            free(normalized);
        }
    }
    struct hubspot_contact_change again;
    if (hubspot_contact_observe(&mapping, contact, change.seen, NULL, &again) != 0 ||
        again.lead != NULL) {
        abort(); /* seen as it is: nothing changed */
    }
    hubspot_contact_change_clear(&again);
    json_t *written = written_from(change.seen, change.modified_ms + 1);
    struct hubspot_contact_change echo;
    if (hubspot_contact_observe(&mapping, contact, NULL, written, &echo) != 0 ||
        echo.lead != NULL) {
        abort(); /* only the hub's own values: nothing to tell */
    }
    hubspot_contact_change_clear(&echo);
    json_decref(written);
    hubspot_contact_change_clear(&change);
}

static void check_deal(const json_t *deal)
{
    struct hubspot_deal_change change;
    if (hubspot_deal_observe(deal, NULL, &change) != 0) {
        return;
    }
    if (change.data != NULL) {
        check_text(json_object_get(change.data, "stage"));
    }
    struct hubspot_deal_change again;
    if (hubspot_deal_observe(deal, change.seen, &again) != 0 || again.data != NULL) {
        abort();
    }
    hubspot_deal_change_clear(&again);
    hubspot_deal_change_clear(&change);
}

/* A meeting's times as leadhub takes them: an end never before the start. */
static void check_meeting(const json_t *object)
{
    struct hubspot_meeting_change change;
    if (hubspot_meeting_observe(object, NULL, &change) != 0) {
        return;
    }
    if (change.type == NULL || change.meeting == NULL || change.seen == NULL) {
        abort(); /* never seen: always news */
    }
    const char *starts = json_string_value(json_object_get(change.meeting, "starts_at"));
    const char *ends = json_string_value(json_object_get(change.meeting, "ends_at"));
    int64_t start_ms = 0, end_ms = 0;
    if (starts != NULL && ends != NULL &&
        (hubspot_parse_time(starts, &start_ms) != 0 || hubspot_parse_time(ends, &end_ms) != 0 ||
         end_ms < start_ms)) {
        abort();
    }
    check_text(json_object_get(change.meeting, "title"));
    check_text(json_object_get(change.meeting, "location"));
    struct hubspot_meeting_change again;
    if (hubspot_meeting_observe(object, change.seen, &again) != 0 || again.type != NULL) {
        abort();
    }
    hubspot_meeting_change_clear(&again);
    hubspot_meeting_change_clear(&change);
}

static void check_batch(const json_t *body)
{
    struct hubspot_batch_item items[4];
    const char *keys[4] = {"lucas.ferreira@meridian-biotech.com", "80145", "a@b.c", "80211"};
    for (int pass = 0; pass < 2; pass++) {
        memset(items, 0, sizeof(items));
        for (size_t i = 0; i < 4; i++) {
            items[i].key = keys[i];
        }
        size_t failed = hubspot_batch_results(body, pass == 0 ? "email" : NULL, items, 4);
        size_t counted = 0;
        for (size_t i = 0; i < 4; i++) {
            bool answered = items[i].id[0] != '\0';
            if (answered == items[i].failed ||
                memchr(items[i].message, '\0', sizeof(items[i].message)) == NULL) {
                abort();
            }
            counted += items[i].failed;
        }
        if (counted != failed) {
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char message[HUBSPOT_MESSAGE_MAX + 64];
    hubspot_error_text((const char *)data, size, message, sizeof(message));
    if (memchr(message, '\0', sizeof(message)) == NULL) {
        abort();
    }
    json_t *body = json_loadb((const char *)data, size, JSON_ALLOW_NUL, NULL);
    if (body == NULL) {
        return 0;
    }
    const json_t *results = json_object_get(body, "results");
    if (json_is_array(body)) {
        results = body;
    } else if (!json_is_array(results)) {
        results = NULL;
    }
    size_t i;
    const json_t *object;
    json_array_foreach(results, i, object)
    {
        check_contact(object);
        check_deal(object);
        check_meeting(object);
    }
    if (json_is_object(body)) {
        check_contact(body);
        check_deal(body);
        check_batch(body);
    }
    json_decref(body);
    return 0;
}
