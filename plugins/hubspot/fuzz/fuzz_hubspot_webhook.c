/*
 * fuzz_hubspot_webhook.c - libFuzzer target for what a HubSpot webhook request carries
 * once its signature passed: the notification batch parser, and the URI a v3 signature
 * covers. Built with the plugin's own sources (make fuzz); pure functions, no host.
 *
 * The input is the body. Properties checked beyond "no crash, no leak":
 *   - a parse either fails with a reason, or yields records "contact:<id>" / "deal:<id>" /
 *     "meeting:<id>" of
 *     valid object ids with a non-negative "at", accounting for every notification;
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

/* Every record is kind:id of a kind the connector fetches, with a usable time. */
static bool records_valid(const json_t *records)
{
    const char *key;
    const json_t *value;
    json_object_foreach((json_t *)records, key, value)
    {
        const char *id = strncmp(key, "contact:", 8) == 0   ? key + 8
                         : strncmp(key, "deal:", 5) == 0    ? key + 5
                         : strncmp(key, "meeting:", 8) == 0 ? key + 8
                                                            : NULL;
        const json_t *at = json_object_get(value, "at");
        if (id == NULL || !hubspot_id_valid(id) || !json_is_integer(at) ||
            json_integer_value(at) < 0 || json_object_size(value) != 1) {
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
    if (error != NULL || !records_valid(first.records) ||
        json_object_size(first.records) + first.ignored + first.duplicates > first.count) {
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
