/*
 * fuzz_oauth_redirect.c - libFuzzer target for what arrives at the end of a consent from
 * outside: the query of GET /oauth/callback and of the loopback redirect, and the address
 * an operator pastes into `leadhubd connect --no-browser` (oauth_redirect_parse()). Beyond
 * "no crash, no leak, no UB" it checks that a parse that succeeds holds exactly one of a
 * code or an error, with no control character in any value.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oauth_consent.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_value(const char *value)
{
    for (const unsigned char *p = (const unsigned char *)value; p != NULL && *p != '\0'; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (text == NULL) {
        return 0;
    }
    memcpy(text, data, size);
    text[size] = '\0';
    struct oauth_redirect redirect;
    if (oauth_redirect_parse(text, &redirect) == 0) {
        if ((redirect.code != NULL) == (redirect.error != NULL)) {
            abort();
        }
        check_value(redirect.code);
        check_value(redirect.state);
        check_value(redirect.error);
        check_value(redirect.error_description);
        (void)oauth_state_matches(redirect.state, "expected-state");
        oauth_redirect_clear(&redirect);
    }
    free(text);
    return 0;
}
