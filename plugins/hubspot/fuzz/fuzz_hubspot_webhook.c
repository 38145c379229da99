/*
 * fuzz_hubspot_webhook.c - libFuzzer target for what a HubSpot webhook request carries
 * once its signature passed: the notification batch parser, and the URI a v3 signature
 * covers. Built with the plugin's own sources (make fuzz); pure functions, no host.
 *
 * The input is the body. Properties checked beyond "no crash, no leak":
 *   - a parse either fails with a reason, or yields records "contact:<id>" / "deal:<id>" /
 *     "meeting:<id>" of valid object ids with a non-negative "at", or what a deletion or a
 *     merge said of a contact ("contact.deleted:<id>", "contact.merged:<id>"), accounting
 *     for every notification;
 *   - parsing the same body again gives the same records: a redelivery, which records
 *     them again, must change nothing;
 *   - the signed URI of any query is stable: decoding it again changes nothing (the
 *     decoded characters never form a new escape).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../hubspot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every record is kind:id of a kind the connector fetches, with a usable time, or what a
 * notification said of a contact record itself (hubspot_webhook.c, record_contact_change):
 * "contact.deleted:<id>" {"at", "privacy"} or "contact.merged:<id>" {"at", "into": <id>}. */
static bool records_valid(const json_t *records, size_t *merged_out)
{
    const char *key;
    const json_t *value;
    *merged_out = 0;
    json_object_foreach((json_t *)records, key, value)
    {
        const json_t *at = json_object_get(value, "at");
        if (!json_is_integer(at) || json_integer_value(at) < 0) {
            return false;
        }
        if (strncmp(key, "contact.deleted:", 16) == 0) {
            if (!hubspot_id_valid(key + 16) || json_object_size(value) != 2 ||
                !json_is_boolean(json_object_get(value, "privacy"))) {
                return false;
            }
            continue;
        }
        if (strncmp(key, "contact.merged:", 15) == 0) {
            const char *into = json_string_value(json_object_get(value, "into"));
            if (!hubspot_id_valid(key + 15) || json_object_size(value) != 2 || into == NULL ||
                !hubspot_id_valid(into) || strcmp(into, key + 15) == 0) {
                return false;
            }
            (*merged_out)++;
            continue;
        }
        const char *id = strncmp(key, "contact:", 8) == 0   ? key + 8
                         : strncmp(key, "deal:", 5) == 0    ? key + 5
                         : strncmp(key, "meeting:", 8) == 0 ? key + 8
                                                            : NULL;
        if (id == NULL || !hubspot_id_valid(id) || json_object_size(value) != 1) {
            return false;
        }
    }
    return true;
}

static void check_parse(const char *body, size_t size)
{
    struct hubspot_notifications first;
    char *error = NULL;
    if (hubspot_notifications_parse(body, size, &first, &error) != 0) {
        if (error == NULL || error[0] == '\0') {
            abort(); /* a refusal always says why */
        }
        free(error);
        return;
    }
    /* every notification is accounted for; a merge may take several records away */
    size_t merged = 0;
    if (error != NULL || !records_valid(first.records, &merged) ||
        json_object_size(first.records) - merged + first.ignored + first.duplicates > first.count ||
        (merged > 0 && first.count == 0)) {
        abort();
    }
    struct hubspot_notifications again;
    if (hubspot_notifications_parse(body, size, &again, &error) != 0) {
        abort(); /* the same body parsed a moment ago */
    }
    if (!json_equal(again.records, first.records) || again.count != first.count) {
        abort();
    }
    hubspot_notifications_clear(&again);
    hubspot_notifications_clear(&first);
}

static void check_uri(const char *query)
{
    char *uri = hubspot_signature_uri("https://hooks.leadhub.example/webhooks/crm", query);
    if (uri == NULL) {
        return;
    }
    char *again = hubspot_signature_uri(uri, "");
    if (again == NULL || strcmp(uri, again) != 0 ||
        strlen(uri) > strlen("https://hooks.leadhub.example/webhooks/crm") + 1 + strlen(query)) {
        abort();
    }
    free(again);
    free(uri);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_parse((const char *)data, size);
    char *text = malloc(size + 1);
    if (text == NULL) {
        return 0;
    }
    memcpy(text, data, size);
    text[size] = '\0';
    check_uri(text);
    free(text);
    return 0;
}
