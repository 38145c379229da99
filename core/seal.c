/* seal.c - see seal.h. */
#include <ctype.h>
#include <openssl/crypto.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "seal.h"
#include "util.h"

#define SEAL_MARKER    "leadhub_sealed"
#define SEAL_VERSION   "v1"
#define SEAL_AAD_LABEL "leadhub-sealed-v1" /* the version is part of the associated data */
#define SEAL_PLAIN_MAX (1024 * 1024)       /* a token or a cursor, not a data set */

struct seal_key {
    char id[SEAL_KEY_ID_LEN + 1];
    unsigned char aes[CRYPTO_GCM_KEY];
};

struct seal_keyring {
    struct seal_key *keys; /* keys[0] seals */
    size_t count;
};

static int hex_digit(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* 32 key bytes from base64 or 64 hex digits; surrounding whitespace ignored. */
static int key_decode(const char *text, unsigned char out[32])
{
    while (isspace((unsigned char)*text)) {
        text++;
    }
    size_t len = strlen(text);
    while (len > 0 && isspace((unsigned char)text[len - 1])) {
        len--;
    }
    char *trimmed = strndup(text, len);
    if (trimmed == NULL) {
        return -1;
    }
    int rc = -1;
    if (len == 64) {
        rc = 0;
        for (size_t i = 0; i < 32 && rc == 0; i++) {
            int high = hex_digit(trimmed[2 * i]);
            int low = hex_digit(trimmed[2 * i + 1]);
            rc = high < 0 || low < 0 ? -1 : 0;
            out[i] = (unsigned char)(high * 16 + low);
        }
    }
    if (rc != 0) {
        unsigned char decoded[33];
        rc = crypto_base64_decode(trimmed, decoded, sizeof(decoded)) == 32 ? 0 : -1;
        memcpy(out, decoded, 32);
        OPENSSL_cleanse(decoded, sizeof(decoded));
    }
    OPENSSL_cleanse(trimmed, len);
    free(trimmed);
    return rc;
}

static void key_derive(const unsigned char master[32], struct seal_key *key)
{
    static const char id_label[] = "leadhub key id v1";
    static const char aes_label[] = "leadhub seal key v1";
    unsigned char digest[32];
    crypto_hmac_sha256(master, 32, id_label, strlen(id_label), digest);
    for (size_t i = 0; i < SEAL_KEY_ID_LEN / 2; i++) {
        snprintf(key->id + 2 * i, 3, "%02x", digest[i]);
    }
    crypto_hmac_sha256(master, 32, aes_label, strlen(aes_label), key->aes);
}

struct seal_keyring *seal_keyring_new(const char *const *keys, size_t count, size_t *bad_index,
                                      const char **why)
{
    *bad_index = 0;
    if (count == 0) {
        *why = "no key given";
        return NULL;
    }
    struct seal_keyring *ring = calloc(1, sizeof(*ring));
    if (ring == NULL || (ring->keys = calloc(count, sizeof(*ring->keys))) == NULL) {
        free(ring);
        *why = "out of memory";
        return NULL;
    }
    for (size_t i = 0; i < count; i++) {
        unsigned char master[32];
        if (keys[i] == NULL || key_decode(keys[i], master) != 0) {
            *bad_index = i;
            *why = "not a 32-byte key: expected 44 characters of base64 "
                   "(`openssl rand -base64 32`) or 64 hex digits";
            seal_keyring_free(ring);
            return NULL;
        }
        key_derive(master, &ring->keys[i]);
        OPENSSL_cleanse(master, sizeof(master));
        for (size_t j = 0; j < i; j++) {
            if (strcmp(ring->keys[j].id, ring->keys[i].id) == 0) {
                *bad_index = i;
                *why = "the same key is given twice";
                ring->count = i + 1;
                seal_keyring_free(ring);
                return NULL;
            }
        }
        ring->count = i + 1;
    }
    return ring;
}

void seal_keyring_free(struct seal_keyring *ring)
{
    if (ring == NULL) {
        return;
    }
    if (ring->keys != NULL) {
        OPENSSL_cleanse(ring->keys, ring->count * sizeof(*ring->keys));
    }
    free(ring->keys);
    free(ring);
}

const char *seal_keyring_current_id(const struct seal_keyring *ring)
{
    return ring != NULL && ring->count > 0 ? ring->keys[0].id : NULL;
}

char *seal_keyring_ids(const struct seal_keyring *ring)
{
    if (ring == NULL) {
        return NULL;
    }
    struct strbuf sb = {0};
    for (size_t i = 0; i < ring->count; i++) {
        strbuf_appendf(&sb, "%s%s", i ? ", " : "", ring->keys[i].id);
    }
    return strbuf_take(&sb);
}

/* The associated data: every part NUL-terminated, so no two places share it. */
static char *associated_data(const struct seal_place *place, const char *key_id, size_t *len_out)
{
    const char *parts[] = {SEAL_AAD_LABEL, place->purpose, place->owner, place->name, key_id};
    size_t len = 0;
    for (size_t i = 0; i < UTIL_ARRAY_LEN(parts); i++) {
        len += strlen(parts[i] != NULL ? parts[i] : "") + 1;
    }
    char *aad = malloc(len);
    if (aad == NULL) {
        return NULL;
    }
    char *p = aad;
    for (size_t i = 0; i < UTIL_ARRAY_LEN(parts); i++) {
        size_t n = strlen(parts[i] != NULL ? parts[i] : "") + 1;
        memcpy(p, parts[i] != NULL ? parts[i] : "", n);
        p += n;
    }
    *len_out = len;
    return aad;
}

bool seal_is_sealed(const json_t *value)
{
    return json_is_object(value) && json_object_size(value) == 3 &&
           json_is_string(json_object_get(value, SEAL_MARKER)) &&
           json_is_string(json_object_get(value, "key_id")) &&
           json_is_string(json_object_get(value, "data"));
}

static void set_error(char **error_out, char *message)
{
    if (error_out != NULL) {
        *error_out = message != NULL ? message : strdup("out of memory");
    } else {
        free(message);
    }
}

json_t *seal_value(const struct seal_keyring *ring, const struct seal_place *place,
                   const json_t *value, char **error_out)
{
    if (ring == NULL || ring->count == 0) {
        set_error(error_out, strdup("no secrets_key is configured, so secrets cannot be "
                                    "stored: " SEAL_KEY_HINT));
        return NULL;
    }
    const struct seal_key *key = &ring->keys[0];
    char *plain = json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT);
    size_t plain_len = plain != NULL ? strlen(plain) : 0;
    size_t aad_len = 0;
    char *aad = associated_data(place, key->id, &aad_len);
    size_t sealed_len = CRYPTO_GCM_NONCE + plain_len + CRYPTO_GCM_TAG;
    unsigned char *sealed = plain != NULL ? malloc(sealed_len) : NULL;
    char *encoded = sealed != NULL ? malloc(4 * ((sealed_len + 2) / 3) + 1) : NULL;
    json_t *result = NULL;
    if (plain_len > SEAL_PLAIN_MAX) {
        set_error(error_out, util_printf("the value is larger than %d bytes", SEAL_PLAIN_MAX));
        goto out;
    }
    if (aad == NULL || encoded == NULL) {
        set_error(error_out, NULL);
        goto out;
    }
    if (crypto_aes256gcm_seal(key->aes, aad, aad_len, plain, plain_len, sealed) != 0) {
        set_error(error_out, strdup("encryption failed (OpenSSL)"));
        goto out;
    }
    crypto_base64_encode(sealed, sealed_len, encoded);
    result =
        json_pack("{s:s,s:s,s:s}", SEAL_MARKER, SEAL_VERSION, "key_id", key->id, "data", encoded);
    if (result == NULL) {
        set_error(error_out, NULL);
    }
out:
    if (plain != NULL) {
        OPENSSL_cleanse(plain, plain_len);
    }
    free(plain);
    free(aad);
    free(sealed);
    free(encoded);
    return result;
}

json_t *seal_open(const struct seal_keyring *ring, const struct seal_place *place,
                  const json_t *sealed, bool *stale_out, char **error_out)
{
    if (stale_out != NULL) {
        *stale_out = false;
    }
    if (!seal_is_sealed(sealed) ||
        strcmp(json_string_value(json_object_get(sealed, SEAL_MARKER)), SEAL_VERSION) != 0) {
        set_error(error_out, strdup("not a sealed value of a version this leadhubd knows"));
        return NULL;
    }
    const char *key_id = json_string_value(json_object_get(sealed, "key_id"));
    const char *data = json_string_value(json_object_get(sealed, "data"));
    if (ring == NULL || ring->count == 0) {
        set_error(error_out, util_printf("the value is sealed (key %.16s) and no secrets_key "
                                         "is configured: set secrets_key to that key",
                                         key_id));
        return NULL;
    }
    const struct seal_key *key = NULL;
    for (size_t i = 0; i < ring->count && key == NULL; i++) {
        if (strcmp(ring->keys[i].id, key_id) == 0) {
            key = &ring->keys[i];
        }
    }
    if (key == NULL) {
        char *ids = seal_keyring_ids(ring);
        set_error(error_out, util_printf("the value is sealed with key %.16s, which is not in "
                                         "secrets_key (%s): add that key back to the list",
                                         key_id, ids != NULL ? ids : "?"));
        free(ids);
        return NULL;
    }
    size_t data_len = strlen(data);
    size_t capacity = data_len / 4 * 3 + 3;
    unsigned char *raw = malloc(capacity);
    long raw_len = raw != NULL ? crypto_base64_decode(data, raw, capacity) : -1;
    size_t aad_len = 0;
    char *aad = associated_data(place, key->id, &aad_len);
    bool long_enough = raw_len >= CRYPTO_GCM_NONCE + CRYPTO_GCM_TAG;
    size_t plain_len = long_enough ? (size_t)raw_len - CRYPTO_GCM_NONCE - CRYPTO_GCM_TAG : 0;
    unsigned char *plain = malloc(plain_len + 1);
    json_t *value = NULL;
    if (aad == NULL || raw == NULL || plain == NULL) {
        set_error(error_out, NULL);
        goto out;
    }
    if (!long_enough ||
        crypto_aes256gcm_open(key->aes, aad, aad_len, raw, (size_t)raw_len, plain) != 0) {
        set_error(error_out, util_printf("the sealed value does not open with key %s: it was "
                                         "altered, or copied from another instance or key",
                                         key->id));
        goto out;
    }
    plain[plain_len] = '\0';
    value = json_loadb((const char *)plain, plain_len, JSON_DECODE_ANY, NULL);
    if (value == NULL) {
        set_error(error_out, strdup("the sealed value opened but is not JSON"));
        goto out;
    }
    if (stale_out != NULL) {
        *stale_out = key != &ring->keys[0];
    }
out:
    if (plain != NULL) {
        OPENSSL_cleanse(plain, plain_len);
    }
    free(plain);
    free(raw);
    free(aad);
    return value;
}
