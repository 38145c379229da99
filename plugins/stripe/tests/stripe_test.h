/*
 * stripe_test.h - helpers shared by the stripe plugin's test programs: the example
 * payloads (plugins/stripe/tests/fixtures/, copied from Stripe's documented shapes),
 * variants of them, and Stripe-Signature headers made the way Stripe makes them.
 * Static inline: each test program includes what it uses.
 */
#ifndef LEADHUB_STRIPE_TEST_H
#define LEADHUB_STRIPE_TEST_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "leadhub.h"
#include "testutil.h"
#include "util.h"

/* An example payload from plugins/stripe/tests/fixtures/ (NEW reference). */
static inline json_t *stripe_fixture(const char *name)
{
    char *path = util_printf("%s/plugins/stripe/tests/fixtures/%s", tu_source_dir(), name);
    json_error_t error;
    json_t *value = json_load_file(path, JSON_REJECT_DUPLICATES, &error);
    ck_assert_msg(value != NULL, "%s: %s", path, error.text);
    free(path);
    return value;
}

/* The same file's bytes, malloc'd. */
static inline char *stripe_fixture_text(const char *name)
{
    char *path = util_printf("%s/plugins/stripe/tests/fixtures/%s", tu_source_dir(), name);
    char *text = util_read_file(path, 1 << 20, NULL);
    ck_assert_msg(text != NULL, "cannot read %s", path);
    free(path);
    return text;
}

/* The event's data.object (borrowed). */
static inline json_t *stripe_object(json_t *event)
{
    return json_object_get(json_object_get(event, "data"), "object");
}

/* A copy of `event` with another id and created time (NEW reference). */
static inline json_t *stripe_event_as(const json_t *event, const char *id, long long created)
{
    json_t *copy = json_deep_copy(event);
    json_object_set_new(copy, "id", json_string(id));
    json_object_set_new(copy, "created", json_integer(created));
    return copy;
}

/* "t=<t>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>", malloc'd: what Stripe sends. */
static inline char *stripe_sign(const char *secret, long long timestamp, const char *body)
{
    char *signed_text = util_printf("%lld.%s", timestamp, body);
    unsigned char digest[32];
    crypto_hmac_sha256(secret, strlen(secret), signed_text, strlen(signed_text), digest);
    free(signed_text);
    char hex[65];
    lh_hex_encode(digest, sizeof(digest), hex);
    return util_printf("t=%lld,v1=%s", timestamp, hex);
}

/* The value of a string member, for assertions ("(absent)" when it is not a string). */
static inline const char *stripe_text(const json_t *object, const char *path)
{
    const json_t *value = object;
    char *copy = strdup(path);
    char *saveptr = NULL;
    for (char *part = strtok_r(copy, ".", &saveptr); part != NULL && value != NULL;
         part = strtok_r(NULL, ".", &saveptr)) {
        value = json_object_get(value, part);
    }
    free(copy);
    return json_is_string(value) ? json_string_value(value) : "(absent)";
}

#endif
