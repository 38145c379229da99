/*
 * lh_key.h - SHA-256 and checkpoint keys derived from text that may not appear in one
 * (part of the leadhub SDK helpers: include <leadhub-helpers.h>). libc only.
 *
 * Checkpoint and notification keys are at most 128 bytes of [A-Za-z0-9_.:-], and are
 * visible to operators: an email, a URL or a provider's long id cannot be a key. Hash it:
 *
 *     char key[LH_KEY_SIZE];
 *     lh_key_hash_email("contact", email, key, sizeof(key));   // "contact:3f1c...e0"
 *     host->checkpoint_put(ctx, key, json_string(contact_id));
 */
#ifndef LEADHUB_LH_KEY_H
#define LEADHUB_LH_KEY_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The longest key the host accepts, and a buffer for one with its NUL. */
#define LH_KEY_MAX  128
#define LH_KEY_SIZE (LH_KEY_MAX + 1)
/* Hex digits of the hash part of a key: 128 bits, collision-free for any practical count. */
#define LH_KEY_HASH_HEX 32

typedef struct lh_sha256 {
    uint32_t state[8];
    uint64_t length; /* bytes hashed so far */
    unsigned char block[64];
    size_t used; /* bytes in block */
} lh_sha256_t;

static inline uint32_t lh_sha256__rotr(uint32_t x, int n)
{
    return (x >> n) | (x << (32 - n));
}

static inline void lh_sha256__compress(lh_sha256_t *h, const unsigned char *block)
{
    static const uint32_t k[64] = {
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2};
    uint32_t w[64];
    for (int i = 0; i < 16; i++) {
        w[i] = (uint32_t)block[4 * i] << 24 | (uint32_t)block[4 * i + 1] << 16 |
               (uint32_t)block[4 * i + 2] << 8 | (uint32_t)block[4 * i + 3];
    }
    for (int i = 16; i < 64; i++) {
        uint32_t s0 =
            lh_sha256__rotr(w[i - 15], 7) ^ lh_sha256__rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 =
            lh_sha256__rotr(w[i - 2], 17) ^ lh_sha256__rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h->state[0], b = h->state[1], c = h->state[2], d = h->state[3];
    uint32_t e = h->state[4], f = h->state[5], g = h->state[6], hh = h->state[7];
    for (int i = 0; i < 64; i++) {
        uint32_t s1 = lh_sha256__rotr(e, 6) ^ lh_sha256__rotr(e, 11) ^ lh_sha256__rotr(e, 25);
        uint32_t t1 = hh + s1 + ((e & f) ^ (~e & g)) + k[i] + w[i];
        uint32_t s0 = lh_sha256__rotr(a, 2) ^ lh_sha256__rotr(a, 13) ^ lh_sha256__rotr(a, 22);
        uint32_t t2 = s0 + ((a & b) ^ (a & c) ^ (b & c));
        hh = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    h->state[0] += a;
    h->state[1] += b;
    h->state[2] += c;
    h->state[3] += d;
    h->state[4] += e;
    h->state[5] += f;
    h->state[6] += g;
    h->state[7] += hh;
}

/* lh_sha256_init / _update / _final - SHA-256 (FIPS 180-4) over pieces. */
static inline void lh_sha256_init(lh_sha256_t *h)
{
    static const uint32_t initial[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                        0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(h->state, initial, sizeof(initial));
    h->length = 0;
    h->used = 0;
}

static inline void lh_sha256_update(lh_sha256_t *h, const void *data, size_t len)
{
    const unsigned char *p = (const unsigned char *)data;
    h->length += len;
    while (len > 0) {
        size_t take = 64 - h->used < len ? 64 - h->used : len;
        memcpy(h->block + h->used, p, take);
        h->used += take;
        p += take;
        len -= take;
        if (h->used == 64) {
            lh_sha256__compress(h, h->block);
            h->used = 0;
        }
    }
}

static inline void lh_sha256_final(lh_sha256_t *h, unsigned char out[32])
{
    uint64_t bits = h->length * 8;
    unsigned char pad = 0x80;
    lh_sha256_update(h, &pad, 1);
    pad = 0;
    while (h->used != 56) {
        lh_sha256_update(h, &pad, 1);
    }
    unsigned char length[8];
    for (int i = 0; i < 8; i++) {
        length[i] = (unsigned char)(bits >> (56 - 8 * i));
    }
    lh_sha256_update(h, length, 8);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (unsigned char)(h->state[i] >> 24);
        out[4 * i + 1] = (unsigned char)(h->state[i] >> 16);
        out[4 * i + 2] = (unsigned char)(h->state[i] >> 8);
        out[4 * i + 3] = (unsigned char)h->state[i];
    }
}

/* lh_sha256 - out = SHA-256(data). */
static inline void lh_sha256(const void *data, size_t len, unsigned char out[32])
{
    lh_sha256_t h;
    lh_sha256_init(&h);
    lh_sha256_update(&h, data, len);
    lh_sha256_final(&h, out);
}

/* lh_key_char_valid - a byte allowed in checkpoint and notification keys. */
static inline int lh_key_char_valid(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == ':' || c == '-';
}

/*
 * lh_key_hash - the key "<prefix>:<32 hex digits>", the hex being the first 128 bits of
 * SHA-256(data), into out. The same data always gives the same key; the key reveals
 * nothing of the data.
 *   prefix:   what the key is about ("contact", "seen"), [A-Za-z0-9_.:-], at most 95 bytes;
 *             NULL or "" for the bare hex.
 *   out_size: at least LH_KEY_SIZE is always enough.
 *   Returns: the key's length; -1 (out set to "" when it has room) for a bad prefix or an
 *            out too small.
 */
static inline long lh_key_hash(const char *prefix, const void *data, size_t len, char *out,
                               size_t out_size)
{
    static const char hex[] = "0123456789abcdef";
    size_t prefix_len = prefix != NULL ? strlen(prefix) : 0;
    size_t total = prefix_len + (prefix_len ? 1 : 0) + LH_KEY_HASH_HEX;
    int valid = total <= LH_KEY_MAX && out_size > total;
    for (size_t i = 0; valid && i < prefix_len; i++) {
        valid = lh_key_char_valid((unsigned char)prefix[i]);
    }
    if (!valid) {
        if (out_size > 0) {
            out[0] = '\0';
        }
        return -1;
    }
    unsigned char digest[32];
    lh_sha256(data, len, digest);
    size_t used = 0;
    if (prefix_len) {
        memcpy(out, prefix, prefix_len);
        out[prefix_len] = ':';
        used = prefix_len + 1;
    }
    for (size_t i = 0; i < LH_KEY_HASH_HEX / 2; i++) {
        out[used++] = hex[digest[i] >> 4];
        out[used++] = hex[digest[i] & 0x0f];
    }
    out[used] = '\0';
    return (long)used;
}

/*
 * lh_key_hash_email - lh_key_hash() of an email address as the hub compares them: blanks
 * around it trimmed, ASCII letters lowercased ("Ada@Example.COM " and "ada@example.com"
 * give one key).
 *   Returns: as lh_key_hash(); -1 also for an empty address or one over 254 bytes.
 */
static inline long lh_key_hash_email(const char *prefix, const char *email, char *out,
                                     size_t out_size)
{
    char normalized[255];
    while (*email == ' ' || *email == '\t') {
        email++;
    }
    size_t len = strlen(email);
    while (len > 0 && (email[len - 1] == ' ' || email[len - 1] == '\t')) {
        len--;
    }
    if (len == 0 || len >= sizeof(normalized)) {
        if (out_size > 0) {
            out[0] = '\0';
        }
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        char c = email[i];
        normalized[i] = (char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
    }
    return lh_key_hash(prefix, normalized, len, out, out_size);
}

#endif /* LEADHUB_LH_KEY_H */
