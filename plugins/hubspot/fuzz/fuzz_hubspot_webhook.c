/*
 * fuzz_hubspot_webhook.c - libFuzzer target for what a HubSpot webhook request carries
 * once its signature passed: the notification batch parser, and the URI a v3 signature
 * covers. Built with the plugin's own sources (make fuzz); pure functions, no host.
 *
 * The input is the body. Properties checked beyond "no crash, no leak":
 *   - a parse either fails with a reason, or yields id lists of valid object ids without
 *     duplicates, accounting for every notification;
 *   - parsing again with the first parse's event ids as "already handled" fetches nothing
 *     that the first parse did not;
 *   - the signed URI of any query is stable: decoding it again changes nothing (the
 *     decoded characters never form a new escape).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../hubspot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool ids_valid_and_distinct(const json_t *ids)
{
    size_t i;
    const json_t *id;
    json_array_foreach(ids, i, id)
    {
        if (!json_is_string(id) || !hubspot_id_valid(json_string_value(id))) {
            return false;
        }
        for (size_t j = 0; j < i; j++) {
            if (json_equal(json_array_get(ids, j), id)) {
                return false;
            }
        }
    }
    return true;
}

static bool subset(const json_t *small, const json_t *large)
{
    size_t i;
    const json_t *id;
    json_array_foreach(small, i, id)
    {
        bool found = false;
        size_t j;
        const json_t *other;
        json_array_foreach(large, j, other)
        {
            found |= json_equal(id, other);
        }
        if (!found) {
            return false;
        }
    }
    return true;
}

static void check_parse(const char *body, size_t size)
{
    struct hubspot_notifications first;
    char *error = NULL;
    if (hubspot_notifications_parse(body, size, NULL, &first, &error) != 0) {
        if (error == NULL || error[0] == '\0') {
            abort(); /* a refusal always says why */
        }
        free(error);
        return;
    }
    if (error != NULL || !ids_valid_and_distinct(first.contact_ids) ||
        !ids_valid_and_distinct(first.deal_ids) ||
        json_array_size(first.contact_ids) + json_array_size(first.deal_ids) + first.ignored +
                first.duplicates >
            first.count) {
        abort();
    }
    struct hubspot_notifications again;
    if (hubspot_notifications_parse(body, size, first.event_ids, &again, &error) != 0) {
        abort(); /* the same body parsed a moment ago */
    }
    if (!subset(again.contact_ids, first.contact_ids) || !subset(again.deal_ids, first.deal_ids) ||
        json_array_size(again.event_ids) != 0) {
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
