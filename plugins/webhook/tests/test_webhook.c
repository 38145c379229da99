/*
 * test_webhook.c - the `webhook` plugin on the fake host (leadhub-test.h): signature and
 * timestamp rules on the test's clock, secret rolling, all-or-nothing bodies, and settings
 * checked by the host's own schema rules.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "leadhub-test.h"
#include "testutil.h"

/* The plugin under test, compiled into this program; its descriptor comes from its entry,
 * as the loader gets it. */
#include "../webhook.c"

static lh_test_t *t;

static void setup(void)
{
    setenv("WH_OLD", "old-secret-2e7a9c41", 1);
    setenv("WH_NEW", "new-secret-5b3d8f60", 1);
    setenv("WH_SECRET", "s3cret-s3cret-s3cret", 1);
    t = lh_test_new(leadhub_plugin_entry(), "hooks");
    ck_assert_ptr_nonnull(t);
}

static void teardown(void)
{
    ck_assert_ptr_null(lh_test_misuse(t));
    lh_test_free(t);
}

/* The test clock's time plus offset, as unix seconds text. */
static void clock_text(char *out, size_t size, long offset)
{
    snprintf(out, size, "%lld", (long long)(lh_test_clock(t) / 1000 + offset));
}

/* "sha256=<hex>" of "<timestamp>.<body>", with the fake host's own HMAC. */
static void sign(const char *secret, const char *timestamp, const char *body, int uppercase,
                 char out[72])
{
    size_t len = strlen(timestamp) + 1 + strlen(body);
    char *text = malloc(len + 1);
    ck_assert_ptr_nonnull(text);
    snprintf(text, len + 1, "%s.%s", timestamp, body);
    unsigned char digest[32];
    lh_test_host(t)->hmac_sha256(secret, strlen(secret), text, len, digest);
    free(text);
    char hex[65];
    lh_hex_encode(digest, 32, hex);
    for (char *p = hex; uppercase && *p; p++) {
        *p = (char)(*p >= 'a' && *p <= 'f' ? *p - 32 : *p);
    }
    snprintf(out, 72, "sha256=%s", hex);
}

/* POSTs body with the given headers (either may be NULL). */
static lh_status_t post(const char *timestamp, const char *signature, const char *body)
{
    lh_header_t headers[2];
    size_t count = 0;
    if (timestamp != NULL) {
        headers[count++] = (lh_header_t){"x-leadhub-timestamp", timestamp};
    }
    if (signature != NULL) {
        headers[count++] = (lh_header_t){"X-Leadhub-Signature", signature};
    }
    return lh_test_webhook(t, "POST", NULL, headers, count, body, strlen(body));
}

static const char event_body[] = "{\"type\":\"email.sent\",\"source_id\":\"s1\","
                                 "\"occurred_at\":\"2026-11-27T10:00:00Z\"}";

START_TEST(test_webhook_accepts_any_secret_of_a_rolling_list)
{
    ck_assert_int_eq(lh_test_init(t, "{\"secret\":[\"${WH_OLD}\",\"${WH_NEW}\"]}"), LH_OK);
    char ts[24], signature[72];
    clock_text(ts, sizeof(ts), 0);
    const char *secrets[] = {"old-secret-2e7a9c41", "new-secret-5b3d8f60"};
    for (int i = 0; i < 2; i++) {
        sign(secrets[i], ts, event_body, i, signature);
        ck_assert_int_eq(post(ts, signature, event_body), LH_OK);
    }
    /* the same event twice: stored once */
    ck_assert_uint_eq(lh_test_event_count(t), 1);
    ck_assert_uint_eq(lh_test_duplicate_count(t), 1);
    ck_assert_str_eq(json_string_value(json_object_get(lh_test_event(t, 0), "source")), "hooks");
    sign("third-secret", ts, event_body, 0, signature);
    ck_assert_int_eq(post(ts, signature, event_body), LH_AUTH);
    ck_assert_uint_eq(lh_test_event_count(t), 1);
}
END_TEST

START_TEST(test_webhook_refuses_malformed_headers_and_future_timestamps)
{
    ck_assert_int_eq(lh_test_init(t, "{\"secret\":\"${WH_SECRET}\",\"tolerance\":\"1m\"}"), LH_OK);
    char ts[24], future[24], good[72], future_sig[72];
    clock_text(ts, sizeof(ts), 0);
    clock_text(future, sizeof(future), 120);
    sign("s3cret-s3cret-s3cret", ts, event_body, 0, good);
    sign("s3cret-s3cret-s3cret", future, event_body, 0, future_sig);
    struct {
        const char *timestamp;
        const char *signature;
        const char *reason;
    } cases[] = {
        {ts, good + 7, "must be sha256="},     /* hex without the prefix */
        {ts, "sha256=abc", "must be sha256="}, /* too short */
        {"12x4", good, "must be unix seconds"},
        {"-5", good, "must be unix seconds"},
        {future, future_sig, "away from the server's clock"},
        {NULL, good, "missing X-Leadhub-Timestamp"},
        /* refused by the host before the plugin: its declared signature header */
        {ts, NULL, "none of the plugin's signature headers"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ck_assert_int_eq(post(cases[i].timestamp, cases[i].signature, event_body), LH_AUTH);
        ck_assert_msg(strstr(lh_test_error(t), cases[i].reason) != NULL,
                      "case %zu: error \"%s\" lacks \"%s\"", i, lh_test_error(t), cases[i].reason);
    }
    /* the body is signed byte for byte: one space more fails */
    char spaced[sizeof(event_body) + 1];
    snprintf(spaced, sizeof(spaced), "%s ", event_body);
    ck_assert_int_eq(post(ts, good, spaced), LH_AUTH);
    ck_assert_uint_eq(lh_test_event_count(t), 0);
}
END_TEST

START_TEST(test_webhook_default_tolerance_refuses_a_signature_over_five_minutes_old)
{
    /* no tolerance setting: the schema's default applies, as in a daemon's config */
    ck_assert_int_eq(lh_test_init(t, "{\"secret\":\"${WH_SECRET}\"}"), LH_OK);
    const long refused[] = {-360, -600, 360, 600}; /* 6 and 10 minutes, either way */
    char ts[24], signature[72];
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        clock_text(ts, sizeof(ts), refused[i]);
        sign("s3cret-s3cret-s3cret", ts, event_body, 0, signature);
        lh_status_t status = post(ts, signature, event_body);
        ck_assert_msg(status == LH_AUTH, "signed %+ld s away: status %d", refused[i], status);
        ck_assert_msg(strstr(lh_test_error(t), "(tolerance 300 s)") != NULL, "error \"%s\"",
                      lh_test_error(t));
    }
    ck_assert_uint_eq(lh_test_event_count(t), 0);
    ck_assert(lh_test_counter(t, "webhook_rejected_total", "stale_timestamp") == 4);
    /* inside the five minutes, a correctly signed request passes; and the same request
     * replayed after the clock moved on is refused */
    clock_text(ts, sizeof(ts), -240);
    sign("s3cret-s3cret-s3cret", ts, event_body, 0, signature);
    ck_assert_msg(post(ts, signature, event_body) == LH_OK, "%s", lh_test_error(t));
    ck_assert_uint_eq(lh_test_event_count(t), 1);
    lh_test_clock_advance(t, 120 * 1000);
    ck_assert_int_eq(post(ts, signature, event_body), LH_AUTH);
    clock_text(ts, sizeof(ts), 240);
    sign("s3cret-s3cret-s3cret", ts, event_body, 0, signature);
    ck_assert_int_eq(post(ts, signature, event_body), LH_OK);
}
END_TEST

START_TEST(test_webhook_body_is_all_or_nothing)
{
    ck_assert_int_eq(lh_test_init(t, "{\"secret\":\"${WH_SECRET}\"}"), LH_OK);
    char ts[24], signature[72];
    clock_text(ts, sizeof(ts), 0);
    const char *bodies[] = {
        "[]",
        "\"just a string\"",
        "{\"type\":\"email.sent\",\"type\":\"email.sent\"}", /* duplicate keys */
        ("[{\"type\":\"email.sent\",\"source_id\":\"a\",\"occurred_at\":\"2026-11-27T10:00:00Z\"},"
         "{\"type\":\"email.sent\"}]"),
        /* an invalid event between two valid ones */
        ("[{\"type\":\"email.sent\",\"source_id\":\"a\",\"occurred_at\":\"2026-11-27T10:00:00Z\"},"
         "{\"type\":\"email.sent\"},"
         "{\"type\":\"email.sent\",\"source_id\":\"c\",\"occurred_at\":\"2026-11-27T10:00:00Z\"}]"),
    };
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        sign("s3cret-s3cret-s3cret", ts, bodies[i], 0, signature);
        lh_status_t status = post(ts, signature, bodies[i]);
        ck_assert_msg(status == LH_PERMANENT, "body %zu: status %d", i, status);
    }
    /* nothing of any of them was stored, not even the valid events beside an invalid one */
    ck_assert_uint_eq(lh_test_event_count(t), 0);
    /* a valid array is stored whole */
    const char *batch = "[{\"type\":\"email.sent\",\"source_id\":\"a\","
                        "\"occurred_at\":\"2026-11-27T10:00:00Z\"},"
                        "{\"type\":\"email.replied\",\"source_id\":\"b\","
                        "\"occurred_at\":\"2026-11-27T10:00:00Z\"}]";
    sign("s3cret-s3cret-s3cret", ts, batch, 0, signature);
    ck_assert_int_eq(post(ts, signature, batch), LH_OK);
    ck_assert_uint_eq(lh_test_event_count(t), 2);
}
END_TEST

START_TEST(test_webhook_refuses_a_literal_secret_in_its_settings)
{
    ck_assert_int_eq(lh_test_init(t, "{\"secret\":\"written-in-the-file\"}"), LH_CONFIG);
    ck_assert_ptr_nonnull(strstr(lh_test_config_errors(t), "secret"));
    ck_assert_ptr_null(strstr(lh_test_config_errors(t), "written-in-the-file"));
    ck_assert_ptr_null(lh_test_state(t));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("webhook_plugin");
    TCase *tc = tcase_create("webhook");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_webhook_accepts_any_secret_of_a_rolling_list);
    tcase_add_test(tc, test_webhook_refuses_malformed_headers_and_future_timestamps);
    tcase_add_test(tc, test_webhook_default_tolerance_refuses_a_signature_over_five_minutes_old);
    tcase_add_test(tc, test_webhook_body_is_all_or_nothing);
    tcase_add_test(tc, test_webhook_refuses_a_literal_secret_in_its_settings);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
