/*
 * test_seal.c - sealed values (core/seal.c) and the primitives under them: AES-256-GCM
 * against a NIST test vector, base64 decoding, keys as operators write them, a value that
 * opens only in its own place and under its own key, rotation that keeps old values
 * readable and says they are stale.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "seal.h"
#include "testutil.h"
#include "util.h"

/* Two keys as `openssl rand -base64 32` prints them, and one as 64 hex digits. */
#define KEY_A "q4Fq0wV0m0Xy1M3c8HcYl2qgkq7oR6y4mC3cW0b2bFQ="
#define KEY_B "Zm9yIHRlc3RzIG9ubHk6IHRoaXJ0eS10d28gYnl0ZXM="
#define KEY_H "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

static const struct seal_place crm_token = {"state", "crm", "leadhub.oauth2.refresh_token"};

static struct seal_keyring *ring_of(const char *const *keys, size_t count)
{
    size_t bad = 99;
    const char *why = NULL;
    struct seal_keyring *ring = seal_keyring_new(keys, count, &bad, &why);
    ck_assert_msg(ring != NULL, "key %zu refused: %s", bad, why ? why : "?");
    return ring;
}

START_TEST(test_crypto_aes256gcm_round_trip_refuses_a_flipped_bit_or_other_aad)
{
    unsigned char key[32];
    memset(key, 0x42, sizeof(key));
    static const char aad[] = "leadhub-sealed-v1 place";
    static const char text[] = "rt-1//0gLq3EXAMPLE";
    size_t len = strlen(text);
    unsigned char sealed[12 + sizeof(text) + 16];
    size_t sealed_len = 12 + len + 16;
    ck_assert_int_eq(crypto_aes256gcm_seal(key, aad, sizeof(aad), text, len, sealed), 0);
    ck_assert(memmem(sealed, sealed_len, text, len) == NULL);
    unsigned char plain[sizeof(text)];
    ck_assert_int_eq(crypto_aes256gcm_open(key, aad, sizeof(aad), sealed, sealed_len, plain), 0);
    ck_assert_mem_eq(plain, text, len);
    for (size_t i = 0; i < sealed_len; i += 5) {
        sealed[i] ^= 0x01;
        ck_assert_int_eq(crypto_aes256gcm_open(key, aad, sizeof(aad), sealed, sealed_len, plain),
                         -1);
        sealed[i] ^= 0x01;
    }
    ck_assert_int_eq(crypto_aes256gcm_open(key, aad, sizeof(aad) - 1, sealed, sealed_len, plain),
                     -1);
    ck_assert_int_eq(crypto_aes256gcm_open(key, aad, sizeof(aad), sealed, 27, plain), -1);
}
END_TEST

START_TEST(test_crypto_aes256gcm_opens_the_nist_test_case_16_tag)
{
    /* Test case 16 with a 12-byte nonce: key, nonce, aad, plaintext (60 bytes) and the
     * expected ciphertext and tag from the GCM specification. */
    static const char *const hex[] = {
        "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
        "cafebabefacedbaddecaf888",
        "feedfacedeadbeeffeedfacedeadbeefabaddad2",
        "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e"
        "2449a6b525b16aedf5aa0de657ba637b39",
        "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b"
        "1056828838c5f61e6393ba7a0abcc9f662",
        "76fc6ece0f4e1768cddf8853bb2d551b",
    };
    unsigned char bytes[6][64];
    size_t lens[6];
    for (size_t v = 0; v < 6; v++) {
        lens[v] = strlen(hex[v]) / 2;
        for (size_t i = 0; i < lens[v]; i++) {
            unsigned int byte;
            sscanf(hex[v] + 2 * i, "%2x", &byte);
            bytes[v][i] = (unsigned char)byte;
        }
    }
    unsigned char sealed[12 + 60 + 16];
    memcpy(sealed, bytes[1], 12);
    memcpy(sealed + 12, bytes[4], 60);
    memcpy(sealed + 72, bytes[5], 16);
    unsigned char plain[60];
    ck_assert_int_eq(
        crypto_aes256gcm_open(bytes[0], bytes[2], lens[2], sealed, sizeof(sealed), plain), 0);
    ck_assert_mem_eq(plain, bytes[3], 60);
    sealed[80] ^= 0x80; /* the tag */
    ck_assert_int_eq(
        crypto_aes256gcm_open(bytes[0], bytes[2], lens[2], sealed, sizeof(sealed), plain), -1);
}
END_TEST

START_TEST(test_crypto_base64_decode_is_strict)
{
    unsigned char out[16];
    ck_assert_int_eq(crypto_base64_decode("aGVsbG8=", out, sizeof(out)), 5);
    ck_assert_mem_eq(out, "hello", 5);
    ck_assert_int_eq(crypto_base64_decode("aGVsbG8", out, sizeof(out)), 5);
    ck_assert_int_eq(crypto_base64_decode("", out, sizeof(out)), 0);
    ck_assert_int_eq(crypto_base64_decode("aGVsbG8==", out, sizeof(out)), -1);
    ck_assert_int_eq(crypto_base64_decode("aGVs bG8=", out, sizeof(out)), -1);
    ck_assert_int_eq(crypto_base64_decode("aGVsbG9=", out, sizeof(out)), -1); /* stray bits */
    ck_assert_int_eq(crypto_base64_decode("a", out, sizeof(out)), -1);
    ck_assert_int_eq(crypto_base64_decode("aGVsbG8=", out, 4), -1); /* too long for out */
    char url[32];
    crypto_base64url_encode("\xfb\xff\xfe", 3, url);
    ck_assert_str_eq(url, "-__-");
}
END_TEST

START_TEST(test_seal_round_trip_hides_the_value)
{
    const char *keys[] = {KEY_A};
    struct seal_keyring *ring = ring_of(keys, 1);
    json_t *value = json_pack("{s:s,s:i}", "refresh_token", "rt-very-secret-1", "n", 7);
    char *error = NULL;
    json_t *sealed = seal_value(ring, &crm_token, value, &error);
    ck_assert_ptr_nonnull(sealed);
    ck_assert(seal_is_sealed(sealed));
    char *text = json_dumps(sealed, 0);
    ck_assert_ptr_null(strstr(text, "rt-very-secret-1"));
    ck_assert_ptr_nonnull(strstr(text, seal_keyring_current_id(ring)));
    free(text);
    bool stale = true;
    json_t *opened = seal_open(ring, &crm_token, sealed, &stale, &error);
    ck_assert_ptr_nonnull(opened);
    ck_assert(json_equal(opened, value));
    ck_assert(!stale);
    /* sealing twice never gives the same bytes (a fresh nonce each time) */
    json_t *again = seal_value(ring, &crm_token, value, &error);
    ck_assert(!json_equal(again, sealed));
    json_decref(again);
    json_decref(opened);
    json_decref(sealed);
    json_decref(value);
    seal_keyring_free(ring);
}
END_TEST

START_TEST(test_seal_value_moved_to_another_instance_or_key_does_not_open)
{
    const char *keys[] = {KEY_A};
    struct seal_keyring *ring = ring_of(keys, 1);
    json_t *value = json_string("rt-secret");
    json_t *sealed = seal_value(ring, &crm_token, value, NULL);
    const struct seal_place other_instance = {"state", "crm2", crm_token.name};
    const struct seal_place other_key = {"state", "crm", "cursor"};
    const struct seal_place other_purpose = {"consent", "crm", crm_token.name};
    const struct seal_place *elsewhere[] = {&other_instance, &other_key, &other_purpose};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(elsewhere); i++) {
        char *error = NULL;
        ck_assert_ptr_null(seal_open(ring, elsewhere[i], sealed, NULL, &error));
        ck_assert_ptr_nonnull(strstr(error, "copied from another instance or key"));
        free(error);
    }
    /* a key id edited to another key of the ring does not open either */
    const char *two[] = {KEY_A, KEY_B};
    struct seal_keyring *both = ring_of(two, 2);
    json_t *forged = json_deep_copy(sealed);
    char *ids = seal_keyring_ids(both);
    json_object_set_new(forged, "key_id", json_stringn(ids + 18, 16));
    char *error = NULL;
    ck_assert_ptr_null(seal_open(both, &crm_token, forged, NULL, &error));
    free(error);
    free(ids);
    json_decref(forged);
    seal_keyring_free(both);
    json_decref(sealed);
    json_decref(value);
    seal_keyring_free(ring);
}
END_TEST

START_TEST(test_seal_rotation_keeps_old_values_readable_and_says_they_are_stale)
{
    const char *old_keys[] = {KEY_A};
    struct seal_keyring *old_ring = ring_of(old_keys, 1);
    json_t *value = json_string("rt-sealed-long-ago");
    json_t *sealed = seal_value(old_ring, &crm_token, value, NULL);
    const char *rotated_keys[] = {KEY_B, KEY_A}; /* the new key first */
    struct seal_keyring *rotated = ring_of(rotated_keys, 2);
    bool stale = false;
    json_t *opened = seal_open(rotated, &crm_token, sealed, &stale, NULL);
    ck_assert_ptr_nonnull(opened);
    ck_assert(json_equal(opened, value));
    ck_assert(stale);
    json_t *resealed = seal_value(rotated, &crm_token, opened, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(resealed, "key_id")),
                     seal_keyring_current_id(rotated));
    /* without the old key the old value is unreadable, and the reason names the key */
    const char *new_only[] = {KEY_B};
    struct seal_keyring *new_ring = ring_of(new_only, 1);
    char *error = NULL;
    ck_assert_ptr_null(seal_open(new_ring, &crm_token, sealed, NULL, &error));
    ck_assert_ptr_nonnull(strstr(error, seal_keyring_current_id(old_ring)));
    ck_assert_ptr_nonnull(strstr(error, "add that key back"));
    free(error);
    ck_assert_ptr_null(seal_open(NULL, &crm_token, sealed, NULL, &error));
    ck_assert_ptr_nonnull(strstr(error, "no secrets_key is configured"));
    free(error);
    json_decref(resealed);
    json_decref(opened);
    json_decref(sealed);
    json_decref(value);
    seal_keyring_free(new_ring);
    seal_keyring_free(rotated);
    seal_keyring_free(old_ring);
}
END_TEST

START_TEST(test_seal_keys_are_taken_as_openssl_prints_them_and_refused_otherwise)
{
    const char *forms[] = {KEY_A "\n", "  " KEY_H "  "};
    struct seal_keyring *ring = ring_of(forms, 2);
    ck_assert_uint_eq(strlen(seal_keyring_current_id(ring)), SEAL_KEY_ID_LEN);
    seal_keyring_free(ring);
    /* the same key as base64 and as hex has the same id */
    const char *as_hex[] = {KEY_H};
    const char *as_base64[] = {"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="};
    struct seal_keyring *h = ring_of(as_hex, 1);
    struct seal_keyring *b = ring_of(as_base64, 1);
    ck_assert_str_eq(seal_keyring_current_id(h), seal_keyring_current_id(b));
    seal_keyring_free(h);
    seal_keyring_free(b);

    const char *bad[][2] = {{KEY_A, "c2hvcnQ="},  /* 5 bytes */
                            {KEY_A, "CHANGE-ME"}, /* a placeholder */
                            {KEY_A, KEY_A}};      /* twice */
    const char *reasons[] = {"not a 32-byte key", "not a 32-byte key", "given twice"};
    for (size_t i = 0; i < 3; i++) {
        size_t index = 0;
        const char *why = NULL;
        ck_assert_ptr_null(seal_keyring_new(bad[i], 2, &index, &why));
        ck_assert_uint_eq(index, 1);
        ck_assert_ptr_nonnull(strstr(why, reasons[i]));
    }
    char *error = NULL;
    json_t *value = json_true();
    ck_assert_ptr_null(seal_value(NULL, &crm_token, value, &error));
    ck_assert_ptr_nonnull(strstr(error, "openssl rand -base64 32"));
    free(error);
    json_decref(value);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("seal");
    TCase *tc = tcase_create("seal");
    tcase_add_test(tc, test_crypto_aes256gcm_round_trip_refuses_a_flipped_bit_or_other_aad);
    tcase_add_test(tc, test_crypto_aes256gcm_opens_the_nist_test_case_16_tag);
    tcase_add_test(tc, test_crypto_base64_decode_is_strict);
    tcase_add_test(tc, test_seal_round_trip_hides_the_value);
    tcase_add_test(tc, test_seal_value_moved_to_another_instance_or_key_does_not_open);
    tcase_add_test(tc, test_seal_rotation_keeps_old_values_readable_and_says_they_are_stale);
    tcase_add_test(tc, test_seal_keys_are_taken_as_openssl_prints_them_and_refused_otherwise);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
