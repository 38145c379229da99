/*
 * fuzz_pipedrive_json.c - libFuzzer target for what Pipedrive answers, run through the
 * normalizers that turn it into events and requests (pipedrive_json.c): persons -> the lead
 * of a lead.updated and back to a person body, deals -> deal.stage_changed data, meetings ->
 * activity bodies, and the error-text extractor. Built with the plugin's own sources (make
 * fuzz); pure functions.
 *
 * The input is an answer body ({"data": [...]} or any JSON). Properties checked beyond "no
 * crash, no leak":
 *   - a person's lead carries its id as external_id, text fields leadhub can hold (no
 *     U+0000, 1..1024 bytes) and a normalized email;
 *   - a person body is an object, and one built for the person a lead came from never
 *     sends an email the person already has;
 *   - a deal seen again with its own record is no stage change;
 *   - an activity body always has a subject and type meeting;
 *   - error texts are NUL-terminated within their buffer, without control characters.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../pipedrive.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct pipedrive_field fields[] = {
    {(char *)"email", PD_EMAIL, NULL},
    {(char *)"phone", PD_PHONE, NULL},
    {(char *)"company", PD_ORG, NULL},
    {(char *)"title", PD_CUSTOM, (char *)"0123456789abcdef0123456789abcdef01234567"},
    {(char *)"attributes.tier", PD_CUSTOM, (char *)"89abcdef0123456789abcdef0123456789abcdef"},
};
static const struct pipedrive_mapping mapping = {fields, sizeof(fields) / sizeof(fields[0])};

static void check_text(const json_t *value)
{
    if (json_is_string(value)) {
        if (strlen(json_string_value(value)) != json_string_length(value) ||
            json_string_length(value) > PIPEDRIVE_TEXT_MAX || json_string_length(value) == 0) {
            abort();
        }
        return;
    }
    const char *key;
    const json_t *member;
    json_object_foreach((json_t *)value, key, member)
    {
        if (strcmp(key, "attributes") != 0) {
            check_text(member);
        }
    }
}

static void one(const json_t *item)
{
    static const char *const types[] = {"meeting.scheduled", "meeting.updated",
                                        "meeting.canceled",  "meeting.held",
                                        "meeting.no_show",   "meeting.rescheduled"};
    const json_t *org = json_object_get(item, "org_name");
    json_t *lead = pipedrive_person_lead(&mapping, item, json_string_value(org));
    if (lead != NULL) {
        char id[PIPEDRIVE_ID_MAX];
        if (!pipedrive_id_text(json_object_get(lead, "external_id"), id)) {
            abort();
        }
        check_text(lead);
        const char *email = json_string_value(json_object_get(lead, "email"));
        if (email != NULL) {
            char *again = pipedrive_normalize_email(email);
            if (again == NULL || strcmp(again, email) != 0) {
                abort();
            }
            free(again);
        }
        json_t *body = pipedrive_person_body(&mapping, lead, email, item);
        if (body == NULL || !json_is_object(body) ||
            (email != NULL && json_object_get(body, "emails") != NULL)) {
            abort();
        }
        json_decref(body);
        json_decref(lead);
    }
    json_t *data = NULL, *seen = NULL;
    if (pipedrive_deal_data(item, NULL, item, &data, &seen) == 0) {
        json_t *again = NULL, *seen_again = NULL;
        if (data == NULL || seen == NULL ||
            pipedrive_deal_data(item, seen, NULL, &again, &seen_again) != 0 || again != NULL) {
            abort();
        }
        json_decref(seen_again);
    }
    json_decref(data);
    json_decref(seen);
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        json_t *body = pipedrive_activity_body(types[i], item, "Ada", "meeting:x:1");
        if (body == NULL || json_string_value(json_object_get(body, "subject")) == NULL ||
            strcmp(json_string_value(json_object_get(body, "type")), "meeting") != 0) {
            abort();
        }
        json_decref(body);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char text[PIPEDRIVE_MESSAGE_MAX + 64];
    pipedrive_error_text((const char *)data, size, text, sizeof(text));
    if (memchr(text, '\0', sizeof(text)) == NULL) {
        abort();
    }
    for (const char *p = text; *p != '\0'; p++) {
        if ((unsigned char)*p < 0x20) {
            abort();
        }
    }
    json_t *root = json_loadb((const char *)data, size, 0, NULL);
    const json_t *list = json_object_get(root, "data");
    if (json_is_array(list)) {
        size_t i;
        const json_t *item;
        json_array_foreach(list, i, item)
        {
            one(item);
        }
    } else if (root != NULL) {
        one(json_is_object(list) ? list : root);
    }
    json_decref(root);
    return 0;
}
