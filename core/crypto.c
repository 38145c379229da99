/* crypto.c - see crypto.h. */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "crypto.h"

/*
 * SHA-256 fetched once. OpenSSL 3's HMAC() and EVP_sha256() look the algorithm up in the
 * provider tables on every call, which cost more than hashing a webhook body; an explicitly
 * fetched EVP_MD skips that. Never freed: it lives as long as the process.
 */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static const EVP_MD *sha256(void)
{
    pthread_once(&sha256_once, sha256_fetch);
    return sha256_md != NULL ? sha256_md : EVP_sha256();
}

enum { SHA256_BLOCK = 64, SHA256_LEN = 32 };

/* HMAC (RFC 2104) with one digest context: H(K ^ opad || H(K ^ ipad || data)). */
static int hmac_sha256(const void *key, size_t key_len, const void *data, size_t data_len,
                       unsigned char out[32])
{
    unsigned char block[SHA256_BLOCK] = {0};
    unsigned char pad[SHA256_BLOCK];
    unsigned char inner[SHA256_LEN];
    int ok = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL) {
        goto out;
    }
    if (key_len > SHA256_BLOCK) {
        if (EVP_DigestInit_ex(ctx, sha256(), NULL) != 1 ||
            EVP_DigestUpdate(ctx, key, key_len) != 1 || EVP_DigestFinal_ex(ctx, block, NULL) != 1) {
            goto out;
        }
    } else if (key_len > 0) {
        memcpy(block, key, key_len);
    }
    for (size_t i = 0; i < SHA256_BLOCK; i++) {
        pad[i] = block[i] ^ 0x36;
    }
    if (EVP_DigestInit_ex(ctx, sha256(), NULL) != 1 ||
        EVP_DigestUpdate(ctx, pad, sizeof(pad)) != 1 ||
        (data_len > 0 && EVP_DigestUpdate(ctx, data, data_len) != 1) ||
        EVP_DigestFinal_ex(ctx, inner, NULL) != 1) {
        goto out;
    }
    for (size_t i = 0; i < SHA256_BLOCK; i++) {
        pad[i] = block[i] ^ 0x5c;
    }
    if (EVP_DigestInit_ex(ctx, sha256(), NULL) != 1 ||
        EVP_DigestUpdate(ctx, pad, sizeof(pad)) != 1 ||
        EVP_DigestUpdate(ctx, inner, sizeof(inner)) != 1 ||
        EVP_DigestFinal_ex(ctx, out, NULL) != 1) {
        goto out;
    }
    ok = 1;
out:
    OPENSSL_cleanse(block, sizeof(block));
    OPENSSL_cleanse(pad, sizeof(pad));
    EVP_MD_CTX_free(ctx);
    return ok;
}

void crypto_hmac_sha256(const void *key, size_t key_len, const void *data, size_t data_len,
                        unsigned char out[32])
{
    if (!hmac_sha256(key, key_len, data, data_len, out)) {
        /* Never leave a predictable digest behind: a caller comparing it against an
         * attacker's signature must not find a match. */
        if (RAND_bytes(out, 32) != 1) {
            memset(out, 0xa5, 32);
            out[0] ^= (unsigned char)(uintptr_t)&key_len;
        }
    }
}

void crypto_sha256_hex(const void *data, size_t len, char out[65])
{
    static const char digits[] = "0123456789abcdef";
    unsigned char digest[32];
    unsigned int digest_len = 0;
    if (EVP_Digest(len ? data : "", len, digest, &digest_len, sha256(), NULL) != 1) {
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
