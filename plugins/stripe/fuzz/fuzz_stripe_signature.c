/*
 * fuzz_stripe_signature.c - libFuzzer target for the Stripe-Signature parser: any header
 * text is parsed without reading past it, and what it returns points inside it.
 * Seeds: corpus_stripe_signature/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../stripe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *header = malloc(size + 1);
    if (header == NULL) {
        return 0;
    }
    memcpy(header, data, size);
    header[size] = '\0';
    struct stripe_signature_header parsed;
    const char *problem = NULL;
    int rc = stripe_signature_parse(header, &parsed, &problem);
    if (rc != 0 ? problem == NULL : parsed.signature_count == 0 || parsed.timestamp < 0) {
        abort();
    }
    size_t len = strlen(header);
    for (size_t i = 0; rc == 0 && i < parsed.signature_count; i++) {
        if (parsed.signatures[i] < header ||
            parsed.signatures[i] + parsed.signature_lengths[i] > header + len) {
            abort();
        }
    }
    free(header);
    return 0;
}
