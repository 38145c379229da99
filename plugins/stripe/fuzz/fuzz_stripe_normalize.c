/*
 * fuzz_stripe_normalize.c - libFuzzer target for the Stripe normalizer: any bytes that
 * parse as JSON go through stripe_normalize() in both key modes. It must never crash or
 * leak, must say why it skips or refuses, and whatever it emits must pass the host's own
 * validation (core/event.c): an emitted event the host refuses would be skipped by a poll
 * and refused to Stripe by a webhook.
 *
 * Built by `make fuzz` with the plugin's files and the core library:
 *   clang -fsanitize=fuzzer,address,undefined -Isdk -Icore ...
 * Seeds: corpus_stripe_normalize/ (variants) and ../tests/fixtures/ (Stripe's example events).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "../stripe.h"
#include "event.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const json_t *stripe_event, bool livemode)
{
    struct stripe_filter filter = {.types = (1U << STRIPE_TYPE_COUNT) - 1, .livemode = livemode};
    struct stripe_outcome out;
    enum stripe_verdict verdict = stripe_normalize(stripe_event, &filter, &out);
    if (verdict != STRIPE_EMIT) {
        if (out.events != NULL || out.reason == NULL || out.detail[0] == '\0') {
            fprintf(stderr, "verdict %d without a reason, or with events\n", verdict);
            abort();
        }
        return;
    }
    size_t count = json_array_size(out.events);
    if (count == 0 || count > STRIPE_EVENTS_MAX) {
        fprintf(stderr, "%zu events emitted\n", count);
        abort();
    }
    for (size_t i = 0; i < count; i++) {
        struct event_record record;
        char *error = NULL;
        /* event_validate steals the event it checks */
        if (event_validate(json_incref(json_array_get(out.events, i)), "fuzz", &record, &error) !=
            0) {
            fprintf(stderr, "the host refuses emitted event %zu: %s\n", i, error ? error : "?");
            abort();
        }
        event_record_clear(&record);
    }
    json_decref(out.events);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *value = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
    if (value == NULL) {
        return 0;
    }
    check(value, false);
    check(value, true);
    json_decref(value);
    return 0;
}
