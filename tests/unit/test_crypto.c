/*
 * test_crypto.c - the host's HMAC-SHA256 against RFC 4231's test vectors (and a key of
 * exactly one block, an empty key and empty data, computed with Python's hmac module),
 * so that every signature scheme built on it rests on a known-answer check.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "crypto.h"
#include "testutil.h"

static void hex(const unsigned char digest[32], char out[65])
{
    for (size_t i = 0; i < 32; i++) {
        snprintf(out + 2 * i, 3, "%02x", digest[i]);
    }
}

static void check_hmac(const void *key, size_t key_len, const char *data, const char *expected)
{
    unsigned char digest[32];
    char text[65];
    crypto_hmac_sha256(key, key_len, data, strlen(data), digest);
    hex(digest, text);
    ck_assert_str_eq(text, expected);
}

START_TEST(test_crypto_hmac_sha256_matches_rfc4231_vectors)
{
    unsigned char key1[20];
    memset(key1, 0x0b, sizeof(key1));
    check_hmac(key1, sizeof(key1), "Hi There",
               "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    check_hmac("Jefe", 4, "what do ya want for nothing?",
               "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    /* a key longer than the block is hashed first */
    unsigned char key6[131];
    memset(key6, 0xaa, sizeof(key6));
    check_hmac(key6, sizeof(key6), "Test Using Larger Than Block-Size Key - Hash Key First",
               "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}
END_TEST

START_TEST(test_crypto_hmac_sha256_takes_block_sized_and_empty_keys_and_data)
{
    char key[64];
    memset(key, 'k', sizeof(key));
    check_hmac(key, sizeof(key), "exactly one block of key",
               "baa93ea4ccc7062ed6870c5e7937dbd35ad7791df4e29df9addeb429ff491acf");
    check_hmac("", 0, "", "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}
END_TEST

START_TEST(test_crypto_sha256_hex_of_abc)
{
    char text[65];
    crypto_sha256_hex("abc", 3, text);
    ck_assert_str_eq(text, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("crypto");
    TCase *tc = tcase_create("hmac");
    tcase_add_test(tc, test_crypto_hmac_sha256_matches_rfc4231_vectors);
    tcase_add_test(tc, test_crypto_hmac_sha256_takes_block_sized_and_empty_keys_and_data);
    tcase_add_test(tc, test_crypto_sha256_hex_of_abc);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
