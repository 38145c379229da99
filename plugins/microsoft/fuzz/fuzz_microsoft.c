/*
 * fuzz_microsoft.c - libFuzzer target for what Graph sends the plugin: any bytes go through
 * the notification parser (change and lifecycle collections); bytes that parse as JSON go,
 * as a delta page (its value[] items, or the object itself), through the message and event
 * mappings. Nothing may crash or leak, and whatever a mapping emits must pass the host's own
 * validation (core/event.c): an event the host refuses would be a message or meeting lost.
 *
 * Built by `make fuzz` with the plugin's files and the core library. Seeds:
 * corpus_microsoft/ (Graph's documented examples: delta pages, notifications, an event).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../microsoft.h"
#include "event.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void must_validate(const json_t *event)
{
    struct event_record record;
    char *error = NULL;
    if (event_validate(json_incref((json_t *)event), "fuzz", &record, &error) != 0) {
        fprintf(stderr, "the host refuses an emitted event: %s\n", error ? error : "?");
        abort();
    }
    event_record_clear(&record);
}

static int plain_equal(const void *a, const void *b, size_t len)
{
    return memcmp(a, b, len) == 0;
}

static void take_item(const struct microsoft *ms, const struct ms_mailbox *mailbox,
                      const json_t *item)
{
    json_t *thread = json_pack("[s]", "tomas.herrera@fabrikam-logistics.com");
    for (int with_thread = 0; with_thread < 2; with_thread++) {
        json_t *events = NULL, *sent_to = NULL;
        const char *skip = NULL;
        if (ms_mail_map(ms, mailbox, item, with_thread ? thread : NULL, &events, &skip, &sent_to) ==
            0) {
            if (json_array_size(events) == 0 && skip == NULL) {
                fprintf(stderr, "a message became nothing without a reason\n");
                abort();
            }
            size_t i;
            const json_t *event;
            json_array_foreach(events, i, event)
            {
                must_validate(event);
            }
        }
        json_decref(events);
        json_decref(sent_to);
    }
    json_decref(thread);
    for (int known = 0; known < 2; known++) {
        const char *skip = NULL;
        json_t *meeting = ms_calendar_map(ms, mailbox, item, known, &skip);
        if (meeting != NULL) {
            must_validate(meeting);
        } else if (skip == NULL) {
            fprintf(stderr, "an event became nothing without a reason\n");
            abort();
        }
        json_decref(meeting);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char *internal[] = {"leadhubdemo.onmicrosoft.com"};
    struct microsoft ms = {.internal_domains = internal, .internal_domain_count = 1};
    struct ms_mailbox mailbox = {.address = "maya.chen@leadhubdemo.onmicrosoft.com"};
    ms_hash_key(mailbox.address, NULL, mailbox.key);

    size_t mismatched = 0;
    json_t *notes = ms_webhook_parse((const char *)data, size, "lh_7Qm2xV9cTz4RkP1sWb8N",
                                     plain_equal, &mismatched);
    size_t i;
    const json_t *note;
    json_array_foreach(notes, i, note)
    {
        const char *key = json_string_value(json_object_get(note, "key"));
        if (key == NULL || strlen(key) > 128 || !json_is_string(json_object_get(note, "value"))) {
            fprintf(stderr, "a notification key the host would refuse\n");
            abort();
        }
    }
    json_decref(notes);

    json_t *root = json_loadb((const char *)data, size, 0, NULL);
    const json_t *items = json_object_get(root, "value");
    if (json_is_array(items)) {
        const json_t *item;
        json_array_foreach(items, i, item)
        {
            take_item(&ms, &mailbox, item);
        }
    } else if (json_is_object(root)) {
        take_item(&ms, &mailbox, root);
    }
    json_decref(root);
    return 0;
}
