/* crypto.h - the few primitives the host lends plugins: HMAC-SHA256, constant-time
 * comparison, base64. OpenSSL underneath, so plugins need not link it. */
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

#endif
