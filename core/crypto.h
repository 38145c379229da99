/* crypto.h - the few primitives the host needs and lends plugins: HMAC-SHA256, SHA-256,
 * constant-time comparison, base64, random bytes and AES-256-GCM (sealed values, seal.h).
 * OpenSSL underneath, so plugins need not link it. */
#ifndef LEADHUB_CRYPTO_H
#define LEADHUB_CRYPTO_H

#include <stddef.h>

void crypto_hmac_sha256(const void *key, size_t key_len, const void *data, size_t data_len,
                        unsigned char out[32]);

/* SHA-256 of data as 64 lowercase hex digits and a NUL. */
void crypto_sha256_hex(const void *data, size_t len, char out[65]);

/* 1 when equal; the time taken depends only on len. */
int crypto_digest_equal(const void *a, const void *b, size_t len);

/* Standard base64 with padding into out (4 * ((len + 2) / 3) + 1 bytes); returns the
 * length written, excluding the NUL. */
size_t crypto_base64_encode(const void *data, size_t len, char *out);

/* SHA-256 of data into out. */
void crypto_sha256(const void *data, size_t len, unsigned char out[32]);

/* base64url without padding (RFC 4648 section 5; PKCE, state) into out
 * (4 * ((len + 2) / 3) + 1 bytes); returns the length written, excluding the NUL. */
size_t crypto_base64url_encode(const void *data, size_t len, char *out);

/*
 * crypto_base64_decode - standard base64 (padding optional, no whitespace) into out,
 * which holds out_size bytes. Returns the decoded length, or -1 when the text is not
 * base64 or decodes to more than out_size bytes.
 */
long crypto_base64_decode(const char *text, unsigned char *out, size_t out_size);

/* crypto_random - len bytes from the operating system's generator. 0, or -1 on failure. */
int crypto_random(void *out, size_t len);

enum { CRYPTO_GCM_KEY = 32, CRYPTO_GCM_NONCE = 12, CRYPTO_GCM_TAG = 16 };

/*
 * crypto_aes256gcm_seal - AES-256-GCM of plain under key, with a random nonce and aad.
 *   out: CRYPTO_GCM_NONCE + plain_len + CRYPTO_GCM_TAG bytes: nonce, ciphertext, tag.
 *   Returns 0, or -1 (OpenSSL or the random generator failed).
 */
int crypto_aes256gcm_seal(const unsigned char key[CRYPTO_GCM_KEY], const void *aad, size_t aad_len,
                          const void *plain, size_t plain_len, unsigned char *out);

/*
 * crypto_aes256gcm_open - the inverse: sealed is nonce, ciphertext, tag (sealed_len bytes,
 * at least CRYPTO_GCM_NONCE + CRYPTO_GCM_TAG); plain gets sealed_len - 28 bytes.
 *   Returns 0, or -1 when the tag does not verify (another key, another aad, altered bytes).
 */
int crypto_aes256gcm_open(const unsigned char key[CRYPTO_GCM_KEY], const void *aad, size_t aad_len,
                          const unsigned char *sealed, size_t sealed_len, unsigned char *plain);

#endif
