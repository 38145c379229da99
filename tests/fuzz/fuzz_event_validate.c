/*
 * fuzz_event_validate.c - libFuzzer target for the normalized event model at the plugin
 * boundary (core/event.c): any bytes a plugin could turn into JSON go through
 * event_validate(). Beyond "no crash, no leak, no UB" it checks one property: a validated
 * event is a fixed point, so validating the normalized form again succeeds and changes
 * nothing (what the store writes is what a replay would write).
 *
 * The same input, as text, also feeds the smaller parsers validation relies on: e-mail
 * normalization, RFC 3339 times and durations.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "event.h"
#include "util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define INSTANCE "fuzz"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    json_object_seed(1); /* what the daemon does before its threads start; repeatable runs */
    return 0;
}

static void check_fixed_point(const struct event_record *record)
{
    json_t *again = json_deep_copy(record->event);
    struct event_record second;
    char *error = NULL;
    if (event_validate(again, INSTANCE, &second, &error) != 0) {
        /* a normalized event must validate: report it as a crash */
        abort();
    }
    if (!json_equal(second.event, record->event) || strcmp(second.type, record->type) != 0 ||
        strcmp(second.source_id, record->source_id) != 0 ||
        second.occurred_at_ms != record->occurred_at_ms ||
        (second.lead_email == NULL) != (record->lead_email == NULL) ||
        (second.lead_email != NULL && strcmp(second.lead_email, record->lead_email) != 0)) {
        abort();
    }
    event_record_clear(&second);
}

static void parse_texts(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (text == NULL) {
        return;
    }
    memcpy(text, data, size);
    text[size] = '\0';
    char *email = event_normalize_email(text);
    if (email != NULL) {
        /* normalizing twice changes nothing */
        char *twice = event_normalize_email(email);
        if (twice == NULL || strcmp(twice, email) != 0) {
            abort();
        }
        free(twice);
        free(email);
    }
    int64_t ms = 0;
    if (util_parse_rfc3339(text, &ms) == 0) {
        char formatted[40];
        util_format_rfc3339(ms, formatted);
        int64_t back = 0;
        if (util_parse_rfc3339(formatted, &back) != 0 || back != ms) {
            abort();
        }
    }
    (void)util_parse_duration_ms(text, &ms);
    (void)event_type_known(text);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    parse_texts(data, size);

    json_error_t json_error;
    json_t *event = json_loadb((const char *)data, size, JSON_DECODE_ANY, &json_error);
    if (event == NULL) {
        return 0;
    }
    struct event_record record;
    char *error = NULL;
    if (event_validate(event, INSTANCE, &record, &error) == 0) { /* event: stolen */
        if (error != NULL || record.event == NULL || record.type == NULL ||
            record.source_id == NULL || strcmp(record.source, INSTANCE) != 0) {
            abort();
        }
        check_fixed_point(&record);
        event_record_clear(&record);
    } else if (error == NULL) {
        abort(); /* a refusal always says why */
    }
    free(error);
    return 0;
}
