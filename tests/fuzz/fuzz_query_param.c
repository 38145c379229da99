/*
 * fuzz_query_param.c - libFuzzer target for lh_query_param() (sdk/leadhub.h), the helper a
 * plugin reads a webhook's raw query with (LinkedIn's challengeCode, Microsoft Graph's
 * validationToken): the query comes from anyone who can reach the port.
 *
 * The input is the query. Properties beyond "no crash, no read past the string":
 *   - a value found fits the buffer with its NUL, holds no NUL, and is as long as returned,
 *     with every buffer size (a value that does not fit is refused, never cut);
 *   - encoding a value found (percent-escaping every byte) and decoding it again gives it
 *     back unchanged.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "leadhub.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const names[] = {"challengeCode", "validationToken", "a", ""};

static void check_round_trip(const char *value, long len)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t query_len = 2 + 3 * (size_t)len + 1;
    char *query = malloc(query_len);
    char *again = malloc((size_t)len + 1);
    if (query == NULL || again == NULL) {
        free(query);
        free(again);
        return;
    }
    size_t used = 0;
    query[used++] = 'v';
    query[used++] = '=';
    for (long i = 0; i < len; i++) {
        unsigned char c = (unsigned char)value[i];
        query[used++] = '%';
        query[used++] = hex[c >> 4];
        query[used++] = hex[c & 0x0f];
    }
    query[used] = '\0';
    if (lh_query_param(query, "v", again, (size_t)len + 1) != len ||
        memcmp(again, value, (size_t)len) != 0) {
        abort();
    }
    free(query);
    free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *query = malloc(size + 1);
    if (query == NULL) {
        return 0;
    }
    memcpy(query, data, size);
    query[size] = '\0';
    char out[256];
    for (size_t n = 0; n < sizeof(names) / sizeof(names[0]); n++) {
        for (size_t out_size = 0; out_size <= sizeof(out); out_size += 37) {
            memset(out, 'Z', sizeof(out));
            long len = lh_query_param(query, names[n], out, out_size);
            if (len < 0) {
                continue;
            }
            if ((size_t)len + 1 > out_size || out[len] != '\0' || strlen(out) != (size_t)len) {
                abort();
            }
            check_round_trip(out, len);
        }
    }
    free(query);
    return 0;
}
