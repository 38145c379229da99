/* crypto.c - see crypto.h. */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdint.h>
#include <string.h>

#include "crypto.h"

void crypto_hmac_sha256(const void *key, size_t key_len, const void *data, size_t data_len,
                        unsigned char out[32])
{
    unsigned int out_len = 32;
    /* OpenSSL wants non-NULL pointers even for empty input. */
    static const unsigned char empty = 0;
    if (HMAC(EVP_sha256(), key_len ? key : &empty, (int)key_len, data_len ? data : &empty, data_len,
             out, &out_len) == NULL) {
        /* Never leave a predictable digest behind: a caller comparing it against an
         * attacker's signature must not find a match. */
        if (RAND_bytes(out, 32) != 1) {
            memset(out, 0xa5, 32);
            out[0] ^= (unsigned char)(uintptr_t)&out_len;
        }
    }
}

void crypto_sha256_hex(const void *data, size_t len, char out[65])
{
    static const char digits[] = "0123456789abcdef";
    unsigned char digest[32];
    unsigned int digest_len = 0;
    if (EVP_Digest(len ? data : "", len, digest, &digest_len, EVP_sha256(), NULL) != 1) {
        memset(digest, 0, sizeof(digest));
    }
    for (size_t i = 0; i < 32; i++) {
        out[2 * i] = digits[digest[i] >> 4];
        out[2 * i + 1] = digits[digest[i] & 0x0f];
    }
    out[64] = '\0';
}

int crypto_digest_equal(const void *a, const void *b, size_t len)
{
    return CRYPTO_memcmp(a, b, len) == 0;
}

size_t crypto_base64_encode(const void *data, size_t len, char *out)
{
    return (size_t)EVP_EncodeBlock((unsigned char *)out, data, (int)len);
}
