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

void crypto_sha256(const void *data, size_t len, unsigned char out[32])
{
    unsigned int digest_len = 0;
    if (EVP_Digest(len ? data : "", len, out, &digest_len, sha256(), NULL) != 1) {
        memset(out, 0, 32);
    }
}

size_t crypto_base64url_encode(const void *data, size_t len, char *out)
{
    size_t n = crypto_base64_encode(data, len, out);
    while (n > 0 && out[n - 1] == '=') {
        n--;
    }
    out[n] = '\0';
    for (size_t i = 0; i < n; i++) {
        out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
    }
    return n;
}

static int base64_digit(char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* By hand rather than EVP_DecodeBlock, which counts padding as decoded zero bytes and
 * accepts whitespace. */
long crypto_base64_decode(const char *text, unsigned char *out, size_t out_size)
{
    size_t total = strlen(text);
    size_t pad = 0;
    while (pad < 2 && total > pad && text[total - 1 - pad] == '=') {
        pad++;
    }
    size_t len = total - pad;
    if (len % 4 == 1 || (pad > 0 && total % 4 != 0)) {
        return -1;
    }
    size_t written = 0;
    uint32_t bits = 0;
    int held = 0;
    for (size_t i = 0; i < len; i++) {
        int digit = base64_digit(text[i]);
        if (digit < 0) {
            return -1;
        }
        bits = (bits << 6) | (uint32_t)digit;
        held += 6;
        if (held >= 8) {
            held -= 8;
            if (written == out_size) {
                return -1;
            }
            out[written++] = (unsigned char)(bits >> held);
            bits &= (1U << held) - 1;
        }
    }
    /* the leftover bits of a canonical encoding are zero */
    return bits == 0 ? (long)written : -1;
}

int crypto_random(void *out, size_t len)
{
    return len > 0 && len <= INT32_MAX && RAND_bytes(out, (int)len) == 1 ? 0 : -1;
}

int crypto_aes256gcm_seal(const unsigned char key[CRYPTO_GCM_KEY], const void *aad, size_t aad_len,
                          const void *plain, size_t plain_len, unsigned char *out)
{
    int ok = 0;
    int n = 0;
    unsigned char *nonce = out;
    unsigned char *cipher = out + CRYPTO_GCM_NONCE;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL || plain_len > INT32_MAX || aad_len > INT32_MAX ||
        crypto_random(nonce, CRYPTO_GCM_NONCE) != 0 ||
        EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, nonce) != 1 ||
        (aad_len > 0 && EVP_EncryptUpdate(ctx, NULL, &n, aad, (int)aad_len) != 1) ||
        (plain_len > 0 && EVP_EncryptUpdate(ctx, cipher, &n, plain, (int)plain_len) != 1) ||
        EVP_EncryptFinal_ex(ctx, cipher + plain_len, &n) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, CRYPTO_GCM_TAG, cipher + plain_len) != 1) {
        goto out;
    }
    ok = 1;
out:
    EVP_CIPHER_CTX_free(ctx);
    return ok ? 0 : -1;
}

int crypto_aes256gcm_open(const unsigned char key[CRYPTO_GCM_KEY], const void *aad, size_t aad_len,
                          const unsigned char *sealed, size_t sealed_len, unsigned char *plain)
{
    if (sealed_len < CRYPTO_GCM_NONCE + CRYPTO_GCM_TAG || sealed_len > INT32_MAX ||
        aad_len > INT32_MAX) {
        return -1;
    }
    size_t cipher_len = sealed_len - CRYPTO_GCM_NONCE - CRYPTO_GCM_TAG;
    const unsigned char *cipher = sealed + CRYPTO_GCM_NONCE;
    unsigned char tag[CRYPTO_GCM_TAG];
    memcpy(tag, cipher + cipher_len, sizeof(tag));
    int ok = 0;
    int n = 0;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL || EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, sealed) != 1 ||
        (aad_len > 0 && EVP_DecryptUpdate(ctx, NULL, &n, aad, (int)aad_len) != 1) ||
        (cipher_len > 0 && EVP_DecryptUpdate(ctx, plain, &n, cipher, (int)cipher_len) != 1) ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, CRYPTO_GCM_TAG, tag) != 1 ||
        EVP_DecryptFinal_ex(ctx, plain + cipher_len, &n) != 1) {
        goto out;
    }
    ok = 1;
out:
    EVP_CIPHER_CTX_free(ctx);
    if (!ok && cipher_len > 0) {
        OPENSSL_cleanse(plain, cipher_len); /* nothing unauthenticated leaves */
    }
    return ok ? 0 : -1;
}
