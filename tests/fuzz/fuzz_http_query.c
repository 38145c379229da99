/*
 * fuzz_http_query.c - libFuzzer target for what a client's request target becomes before
 * any handler sees it (core/http_query.c): the query string and the path's NUL check.
 * Beyond "no crash, no leak, no UB" it checks what handlers rely on: every accepted name
 * and value is valid UTF-8 without a NUL, and a refusal always names a parameter.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "http_query.h"
#include "util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    json_object_seed(1);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (text == NULL) {
        return 0;
    }
    memcpy(text, data, size);
    text[size] = '\0'; /* what arrives is a C string: a NUL ends it */
    (void)http_path_has_nul(text);
    json_t *query = NULL;
    char *bad = NULL;
    int rc = http_query_parse(text, &query, &bad);
    if (rc == 0) {
        const char *key;
        json_t *value;
        json_object_foreach(query, key, value)
        {
            if (!util_utf8_valid(key) || !json_is_string(value) ||
                strlen(json_string_value(value)) != json_string_length(value) ||
                !util_utf8_valid(json_string_value(value))) {
                abort();
            }
        }
        json_decref(query);
    } else if (rc == -1 && bad == NULL) {
        abort();
    }
    free(bad);
    free(text);
    return 0;
}
