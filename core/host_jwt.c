/*
 * host_jwt.c - see host_jwt.h. Only RS256 is accepted (the alg a token names is checked
 * against it, never trusted to choose); the signature is checked before any claim is read;
 * exp, iat/nbf with a minute of clock skew, iss among the issuers given, aud equal to the
 * audience given. Keys: a JWKS document ({"keys": [{"kty": "RSA", "kid", "n", "e"}]}),
 * cached for its Cache-Control max-age (between 5 minutes and a day; an hour without one).
 */
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto.h"
#include "host_http.h"
#include "host_jwt.h"
#include "instance.h"
#include "util.h"

#define TOKEN_MAX        8192
#define CLOCK_SKEW_S     60
#define JWKS_TTL_DEFAULT (3600 * 1000)
#define JWKS_TTL_MIN     (300 * 1000)
#define JWKS_TTL_MAX     (86400 * 1000)
#define JWKS_REFETCH_MS  (60 * 1000)
#define JWKS_TIMEOUT_MS  5000

void host_jwks_init(struct host_jwks *jwks)
{
    memset(jwks, 0, sizeof(*jwks));
    pthread_mutex_init(&jwks->mutex, NULL);
}

void host_jwks_clear(struct host_jwks *jwks)
{
    free(jwks->url);
    json_decref(jwks->keys);
    jwks->url = NULL;
    jwks->keys = NULL;
    pthread_mutex_destroy(&jwks->mutex);
}

/* base64url (padding optional) of text[0..len) into a malloc'd buffer; NULL when malformed. */
static unsigned char *b64url_decode(const char *text, size_t len, size_t *out_len)
{
    unsigned char *out = malloc(len / 4 * 3 + 4);
    if (out == NULL) {
        return NULL;
    }
    unsigned value = 0;
    int bits = 0;
    size_t used = 0;
    while (len > 0 && text[len - 1] == '=') {
        len--;
    }
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)text[i];
        int d = c >= 'A' && c <= 'Z'   ? c - 'A'
                : c >= 'a' && c <= 'z' ? c - 'a' + 26
                : c >= '0' && c <= '9' ? c - '0' + 52
                : c == '-'             ? 62
                : c == '_'             ? 63
                                       : -1;
        if (d < 0) {
            free(out);
            return NULL;
        }
        value = (value << 6) | (unsigned)d;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[used++] = (unsigned char)(value >> bits);
            value &= (1U << bits) - 1;
        }
    }
    if (bits >= 6) {
        free(out);
        return NULL;
    }
    out[used] = '\0';
    *out_len = used;
    return out;
}

static json_t *b64url_json(const char *text, size_t len)
{
    size_t n = 0;
    unsigned char *raw = b64url_decode(text, len, &n);
    json_t *value = raw != NULL ? json_loadb((const char *)raw, n, 0, NULL) : NULL;
    free(raw);
    return json_is_object(value) ? value : (json_decref(value), NULL);
}

/* The RSA public key of a JWK, or NULL. */
static EVP_PKEY *jwk_key(const json_t *jwk)
{
    const char *n_text = json_string_value(json_object_get(jwk, "n"));
    const char *e_text = json_string_value(json_object_get(jwk, "e"));
    const char *kty = json_string_value(json_object_get(jwk, "kty"));
    if (n_text == NULL || e_text == NULL || kty == NULL || strcmp(kty, "RSA") != 0) {
        return NULL;
    }
    size_t n_len = 0, e_len = 0;
    unsigned char *n_raw = b64url_decode(n_text, strlen(n_text), &n_len);
    unsigned char *e_raw = b64url_decode(e_text, strlen(e_text), &e_len);
    BIGNUM *n = n_raw != NULL ? BN_bin2bn(n_raw, (int)n_len, NULL) : NULL;
    BIGNUM *e = e_raw != NULL ? BN_bin2bn(e_raw, (int)e_len, NULL) : NULL;
    OSSL_PARAM_BLD *build = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *pctx = NULL;
    EVP_PKEY *key = NULL;
    if (n == NULL || e == NULL || build == NULL || n_len < 128 || n_len > 1024 ||
        !OSSL_PARAM_BLD_push_BN(build, OSSL_PKEY_PARAM_RSA_N, n) ||
        !OSSL_PARAM_BLD_push_BN(build, OSSL_PKEY_PARAM_RSA_E, e) ||
        (params = OSSL_PARAM_BLD_to_param(build)) == NULL ||
        (pctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) == NULL ||
        EVP_PKEY_fromdata_init(pctx) <= 0 ||
        EVP_PKEY_fromdata(pctx, &key, EVP_PKEY_PUBLIC_KEY, params) <= 0) {
        EVP_PKEY_free(key);
        key = NULL;
    }
    EVP_PKEY_CTX_free(pctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(build);
    BN_free(n);
    BN_free(e);
    free(n_raw);
    free(e_raw);
    return key;
}

static bool signature_ok(const json_t *jwk, const char *input, size_t input_len,
                         const unsigned char *sig, size_t sig_len)
{
    EVP_PKEY *key = jwk_key(jwk);
    EVP_MD_CTX *md = key != NULL ? EVP_MD_CTX_new() : NULL;
    bool ok = md != NULL && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
              EVP_DigestVerify(md, sig, sig_len, (const unsigned char *)input, input_len) == 1;
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(key);
    return ok;
}

static bool audience_ok(const json_t *aud, const char *audience)
{
    if (json_is_string(aud)) {
        return strcmp(json_string_value(aud), audience) == 0;
    }
    size_t i;
    const json_t *item;
    json_array_foreach(aud, i, item)
    {
        if (json_is_string(item) && strcmp(json_string_value(item), audience) == 0) {
            return true;
        }
    }
    return false;
}

int host_jwt_rs256_check(const char *token, const json_t *keys, const char *const *issuers,
                         const char *audience, long long now_s, json_t **claims_out,
                         const char **why)
{
    json_t *header = NULL;
    json_t *claims = NULL;
    unsigned char *sig = NULL;
    int rc = -1;
    size_t len = strlen(token);
    const char *dot1 = memchr(token, '.', len);
    const char *dot2 =
        dot1 != NULL ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
    if (len > TOKEN_MAX || dot2 == NULL ||
        memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token))) {
        *why = "not a signed JWT (three dot-separated parts)";
        goto out;
    }
    header = b64url_json(token, (size_t)(dot1 - token));
    const char *alg = json_string_value(json_object_get(header, "alg"));
    const char *kid = json_string_value(json_object_get(header, "kid"));
    if (header == NULL || alg == NULL || strcmp(alg, "RS256") != 0) {
        *why = "the JWT is not signed RS256";
        goto out;
    }
    size_t sig_len = 0;
    sig = b64url_decode(dot2 + 1, len - (size_t)(dot2 + 1 - token), &sig_len);
    if (sig == NULL || sig_len == 0) {
        *why = "the JWT's signature is not base64url";
        goto out;
    }
    const json_t *jwk = NULL;
    size_t i;
    const json_t *item;
    json_array_foreach(keys, i, item)
    {
        const char *key_id = json_string_value(json_object_get(item, "kid"));
        if (kid == NULL || (key_id != NULL && strcmp(key_id, kid) == 0)) {
            jwk = item;
            break;
        }
    }
    if (jwk == NULL) {
        *why = "the JWT's key (kid) is not among the published keys";
        rc = 1;
        goto out;
    }
    if (!signature_ok(jwk, token, (size_t)(dot2 - token), sig, sig_len)) {
        *why = "the JWT's signature does not verify";
        goto out;
    }
    claims = b64url_json(dot1 + 1, (size_t)(dot2 - dot1 - 1));
    const json_t *exp = json_object_get(claims, "exp");
    const json_t *iat = json_object_get(claims, "iat");
    const json_t *nbf = json_object_get(claims, "nbf");
    const char *iss = json_string_value(json_object_get(claims, "iss"));
    if (claims == NULL || !json_is_number(exp)) {
        *why = "the JWT has no exp";
    } else if (json_number_value(exp) + CLOCK_SKEW_S < (double)now_s) {
        *why = "the JWT has expired";
    } else if ((json_is_number(iat) && json_number_value(iat) - CLOCK_SKEW_S > (double)now_s) ||
               (json_is_number(nbf) && json_number_value(nbf) - CLOCK_SKEW_S > (double)now_s)) {
        *why = "the JWT is not valid yet (iat or nbf in the future)";
    } else if (audience == NULL || !audience_ok(json_object_get(claims, "aud"), audience)) {
        *why = "the JWT's audience (aud) is not this endpoint's";
    } else {
        bool issuer_ok = false;
        for (size_t k = 0; issuers != NULL && issuers[k] != NULL && !issuer_ok; k++) {
            issuer_ok = iss != NULL && strcmp(iss, issuers[k]) == 0;
        }
        if (!issuer_ok) {
            *why = "the JWT's issuer (iss) is not trusted";
        } else {
            rc = 0;
            if (claims_out != NULL) {
                *claims_out = json_incref(claims);
            }
        }
    }
out:
    json_decref(header);
    json_decref(claims);
    free(sig);
    return rc;
}

/* max-age of a Cache-Control header, clamped; the default without one. */
static int64_t keys_ttl(const lh_http_response_t *response)
{
    const char *cache = lh_response_header(response, "cache-control");
    const char *age = cache != NULL ? strstr(cache, "max-age=") : NULL;
    if (age == NULL) {
        return JWKS_TTL_DEFAULT;
    }
    long long ms = strtoll(age + 8, NULL, 10) * 1000;
    return ms < JWKS_TTL_MIN ? JWKS_TTL_MIN : ms > JWKS_TTL_MAX ? JWKS_TTL_MAX : ms;
}

/* Fetches the keys (mutex held). */
static lh_status_t fetch_keys(lh_ctx_t *ctx, struct host_jwks *jwks, const char *url)
{
    lh_http_request_t request =
        LH_HTTP_REQUEST(.method = "GET", .url = url, .timeout_ms = JWKS_TIMEOUT_MS);
    lh_http_response_t response = LH_HTTP_RESPONSE_INIT;
    jwks->fetched_ms = util_monotonic_ms();
    lh_status_t status = host_http_request(ctx, &request, &response);
    json_t *doc = status == LH_OK && response.status == 200
                      ? json_loadb(response.body, response.body_len, 0, NULL)
                      : NULL;
    json_t *keys = json_object_get(doc, "keys");
    if (!json_is_array(keys)) {
        json_decref(doc);
        host_http_response_free(&response);
        ctx->error =
            ctx->error != NULL ? ctx->error : util_printf("no keys could be read from %s", url);
        return LH_RETRY;
    }
    json_decref(jwks->keys);
    jwks->keys = json_incref(keys);
    free(jwks->url);
    jwks->url = strdup(url);
    jwks->expires_ms = jwks->fetched_ms + keys_ttl(&response);
    json_decref(doc);
    host_http_response_free(&response);
    return LH_OK;
}

lh_status_t host_jwt_verify(lh_ctx_t *ctx, const char *token, const char *jwks_url,
                            const char *const *issuers, const char *audience, json_t **claims_out)
{
    if (claims_out != NULL) {
        *claims_out = NULL;
    }
    if (ctx == NULL || ctx->instance == NULL || ctx->validating || token == NULL ||
        jwks_url == NULL || audience == NULL) {
        return LH_PERMANENT;
    }
    struct host_jwks *jwks = &ctx->instance->jwks;
    pthread_mutex_lock(&jwks->mutex);
    lh_status_t status = LH_OK;
    int64_t now = util_monotonic_ms();
    if (jwks->keys == NULL || jwks->url == NULL || strcmp(jwks->url, jwks_url) != 0 ||
        now >= jwks->expires_ms) {
        status = fetch_keys(ctx, jwks, jwks_url);
    }
    const char *why = NULL;
    int rc = status == LH_OK ? host_jwt_rs256_check(token, jwks->keys, issuers, audience,
                                                    (long long)time(NULL), claims_out, &why)
                             : -1;
    if (rc == 1 && now - jwks->fetched_ms >= JWKS_REFETCH_MS) {
        /* a key rotated in since the last fetch */
        status = fetch_keys(ctx, jwks, jwks_url);
        rc = status == LH_OK ? host_jwt_rs256_check(token, jwks->keys, issuers, audience,
                                                    (long long)time(NULL), claims_out, &why)
                             : -1;
    }
    pthread_mutex_unlock(&jwks->mutex);
    if (status != LH_OK) {
        return status;
    }
    if (rc != 0) {
        free(ctx->error);
        ctx->error = strdup(why != NULL ? why : "the JWT was refused");
        return LH_AUTH;
    }
    return LH_OK;
}

static char *b64url_text(const void *data, size_t len)
{
    char *out = malloc(len / 3 * 4 + 8);
    if (out != NULL) {
        crypto_base64url_encode(data, len, out);
    }
    return out;
}

char *host_jwt_sign_rs256(const char *pem, const json_t *claims, const char **why)
{
    char *token = NULL;
    char *payload = json_dumps(claims, JSON_COMPACT);
    char *h64 = NULL, *c64 = NULL, *input = NULL, *s64 = NULL;
    unsigned char *sig = NULL;
    BIO *bio = pem != NULL ? BIO_new_mem_buf(pem, -1) : NULL;
    EVP_PKEY *key = bio != NULL ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
    EVP_MD_CTX *md = NULL;
    static const char header[] = "{\"alg\":\"RS256\",\"typ\":\"JWT\"}";
    if (key == NULL || EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) {
        *why = "the assertion key is not a PEM RSA private key";
        goto out;
    }
    h64 = b64url_text(header, strlen(header));
    c64 = payload != NULL ? b64url_text(payload, strlen(payload)) : NULL;
    input = h64 != NULL && c64 != NULL ? util_printf("%s.%s", h64, c64) : NULL;
    size_t sig_len = 0;
    md = EVP_MD_CTX_new();
    if (input == NULL || md == NULL || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
        EVP_DigestSign(md, NULL, &sig_len, (const unsigned char *)input, strlen(input)) != 1 ||
        (sig = malloc(sig_len)) == NULL ||
        EVP_DigestSign(md, sig, &sig_len, (const unsigned char *)input, strlen(input)) != 1 ||
        (s64 = b64url_text(sig, sig_len)) == NULL) {
        *why = "the assertion could not be signed";
        goto out;
    }
    token = util_printf("%s.%s", input, s64);
out:
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(key);
    BIO_free(bio);
    free(sig);
    free(s64);
    free(input);
    free(c64);
    free(h64);
    free(payload);
    return token;
}
