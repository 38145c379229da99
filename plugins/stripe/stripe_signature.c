/*
 * stripe_signature.c - Stripe-Signature, exactly as Stripe documents and its libraries do:
 *
 *   Stripe-Signature: t=1741290127,v1=5257a869...,v1=...,v0=...
 *
 *   expected = hex(HMAC-SHA256(key = the endpoint secret "whsec_..." as it is,
 *                              msg = "<t>.<raw body>"))
 *
 * The request passes when any v1 equals `expected` for any configured secret (several
 * while a secret is rolled), compared in constant time, and t is not older than the
 * tolerance. As in Stripe's libraries the signature is checked before the timestamp, a
 * timestamp in the future is accepted (only Stripe can sign one; our clock may lag), v0
 * (a test-only legacy scheme) and unknown schemes are ignored, and the signed t is the
 * parsed integer written back in decimal.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stripe.h"

#define TIMESTAMP_DIGITS_MAX 12 /* unix seconds until the year 33658 */
#define HEX_SIGNATURE_LEN    64
#define METRIC_REJECTED      "stripe_webhook_rejected_total"

lh_status_t stripe_webhook_reject(const struct stripe *stripe, lh_ctx_t *ctx, const char *reason,
                                  const char *fmt, ...)
{
    const lh_host_t *host = stripe->host;
    char message[256];
    va_list args;
    va_start(args, fmt);
    vsnprintf(message, sizeof(message), fmt, args);
    va_end(args);
    host->counter_add(ctx, METRIC_REJECTED, "reason", reason, 1);
    host->set_error(ctx, "%s", message);
    return LH_PERMANENT;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

int stripe_signature_parse(const char *header, struct stripe_signature_header *out,
                           const char **problem_out)
{
    memset(out, 0, sizeof(*out));
    out->timestamp = -1;
    *problem_out = NULL;
    bool too_many = false;
    for (const char *item = header; *item != '\0';) {
        size_t item_len = strcspn(item, ",");
        const char *next = item[item_len] == ',' ? item + item_len + 1 : item + item_len;
        /* optional whitespace around items and around '=' costs nothing and helps proxies
         * that reformat headers */
        while (item_len > 0 && is_space(*item)) {
            item++;
            item_len--;
        }
        while (item_len > 0 && is_space(item[item_len - 1])) {
            item_len--;
        }
        const char *equals = memchr(item, '=', item_len);
        if (equals == NULL) {
            item = next;
            continue; /* not a key=value item: ignored, as Stripe's libraries do */
        }
        size_t key_len = (size_t)(equals - item);
        while (key_len > 0 && is_space(item[key_len - 1])) {
            key_len--;
        }
        const char *value = equals + 1;
        size_t value_len = item_len - (size_t)(value - item);
        while (value_len > 0 && is_space(*value)) {
            value++;
            value_len--;
        }
        if (key_len == 1 && item[0] == 't' && out->timestamp < 0) {
            /* the first t counts; digits only (no sign, no spaces inside) */
            if (value_len == 0 || value_len > TIMESTAMP_DIGITS_MAX) {
                *problem_out = "Stripe-Signature: t must be unix seconds";
                return -1;
            }
            int64_t t = 0;
            for (size_t i = 0; i < value_len; i++) {
                if (value[i] < '0' || value[i] > '9') {
                    *problem_out = "Stripe-Signature: t must be unix seconds";
                    return -1;
                }
                t = t * 10 + (value[i] - '0');
            }
            out->timestamp = t;
        } else if (key_len == 2 && item[0] == 'v' && item[1] == '1') {
            if (out->signature_count < STRIPE_SIGNATURES_MAX) {
                out->signatures[out->signature_count] = value;
                out->signature_lengths[out->signature_count] = value_len;
                out->signature_count++;
            } else {
                too_many = true;
            }
        }
        item = next;
    }
    if (out->timestamp < 0) {
        *problem_out = "Stripe-Signature has no t= timestamp";
        return -1;
    }
    if (out->signature_count == 0) {
        *problem_out = "Stripe-Signature has no v1 signature (v0 is not accepted)";
        return -1;
    }
    if (too_many) {
        *problem_out = "Stripe-Signature has more v1 signatures than Stripe ever sends";
        return -1;
    }
    return 0;
}

/* True when hex(HMAC(secret, signed)) equals one of the header's v1, in constant time:
 * every v1 is compared whatever matched before. */
static bool signature_matches(const struct stripe *stripe, const char *secret,
                              const unsigned char *signed_bytes, size_t signed_len,
                              const struct stripe_signature_header *header)
{
    unsigned char digest[32];
    char expected[HEX_SIGNATURE_LEN + 1];
    stripe->host->hmac_sha256(secret, strlen(secret), signed_bytes, signed_len, digest);
    lh_hex_encode(digest, sizeof(digest), expected);
    int matched = 0;
    for (size_t i = 0; i < header->signature_count; i++) {
        /* the length is public (always 64 for Stripe); only the content is compared in
         * constant time. Uppercase hex never matches, as in Stripe's libraries. */
        if (header->signature_lengths[i] == HEX_SIGNATURE_LEN) {
            matched |=
                stripe->host->digest_equal(expected, header->signatures[i], HEX_SIGNATURE_LEN);
        }
    }
    explicit_bzero(digest, sizeof(digest));
    return matched != 0;
}

lh_status_t stripe_signature_verify(const struct stripe *stripe, lh_ctx_t *ctx,
                                    const lh_webhook_request_t *request)
{
    const lh_host_t *host = stripe->host;
    if (stripe->webhook_secret_count == 0) {
        return stripe_webhook_reject(stripe, ctx, "not_configured",
                                     "this instance has no webhook_secret: it cannot verify "
                                     "webhooks (set webhook_secret to the endpoint's whsec_ "
                                     "secret)");
    }
    const char *text = lh_request_header(request, "Stripe-Signature");
    if (text == NULL) {
        return stripe_webhook_reject(stripe, ctx, "missing_header",
                                     "missing Stripe-Signature "
                                     "header");
    }
    struct stripe_signature_header header;
    const char *problem = NULL;
    if (stripe_signature_parse(text, &header, &problem) != 0) {
        return stripe_webhook_reject(stripe, ctx, "malformed_header", "%s", problem);
    }
    char timestamp[24];
    int timestamp_len = snprintf(timestamp, sizeof(timestamp), "%lld", (long long)header.timestamp);
    size_t signed_len = (size_t)timestamp_len + 1 + request->body_len;
    unsigned char *signed_bytes = malloc(signed_len);
    if (signed_bytes == NULL) {
        host->set_error(ctx, "out of memory");
        return LH_RETRY;
    }
    memcpy(signed_bytes, timestamp, (size_t)timestamp_len);
    signed_bytes[timestamp_len] = '.';
    if (request->body_len > 0) {
        memcpy(signed_bytes + timestamp_len + 1, request->body, request->body_len);
    }
    bool matched = false;
    for (size_t i = 0; i < stripe->webhook_secret_count; i++) {
        /* every secret is tried whatever matched: the time taken says nothing */
        matched |= signature_matches(stripe, stripe->webhook_secrets[i], signed_bytes, signed_len,
                                     &header);
    }
    free(signed_bytes);
    if (!matched) {
        return stripe_webhook_reject(stripe, ctx, "no_matching_signature",
                                     "no v1 signature in Stripe-Signature matches the body "
                                     "(each endpoint has its own whsec_ secret: check "
                                     "webhook_secret)");
    }
    int64_t age = host->now_ms(ctx) / 1000 - header.timestamp;
    if (age > stripe->tolerance_s) {
        return stripe_webhook_reject(stripe, ctx, "stale_timestamp",
                                     "Stripe-Signature timestamp is %lld s old (tolerance %lld s): "
                                     "refused as a possible replay",
                                     (long long)age, (long long)stripe->tolerance_s);
    }
    return LH_OK;
}
