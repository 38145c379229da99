/*
 * test_sdk_helpers.c - the SDK's connector helpers (sdk/leadhub-helpers.h): URLs encode
 * what must be encoded, provider times land on the instant they name (and agree with the
 * host's own RFC 3339 code), checkpoint keys hide what they hash, rate-limit headers give
 * the delay they say, writes are retried on 429 only, and the polling cursor emits each
 * change once without skipping a late one.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "leadhub-helpers.h"
#include "testutil.h"
#include "util.h"

/* 2026-11-27T09:00:00Z */
#define T0_MS 1795770000000LL

/* --- a host with only what the helpers call ---------------------------------------------- */

static struct {
    json_t *checkpoints; /* key -> value */
    lh_status_t get_status;
    char error[256];
    int64_t retry_after_ms;
    /* the scripted answer of http(), and what it was asked */
    lh_status_t http_status;
    long answer_status;
    lh_header_t answer_headers[4];
    size_t answer_header_count;
    int seen_max_attempts;
    const char *seen_retry_hint;
    int http_calls;
} fake;

static lh_status_t fake_checkpoint_get(lh_ctx_t *ctx, const char *key, json_t **value_out)
{
    (void)ctx;
    if (fake.get_status != LH_OK) {
        return fake.get_status;
    }
    *value_out = json_incref(json_object_get(fake.checkpoints, key));
    return LH_OK;
}

static lh_status_t fake_checkpoint_put(lh_ctx_t *ctx, const char *key, json_t *value)
{
    (void)ctx;
    return json_object_set_new(fake.checkpoints, key, value) == 0 ? LH_OK : LH_RETRY;
}

static void fake_set_error(lh_ctx_t *ctx, const char *fmt, ...)
{
    (void)ctx;
    va_list args;
    va_start(args, fmt);
    vsnprintf(fake.error, sizeof(fake.error), fmt, args);
    va_end(args);
}

static void fake_set_retry_after(lh_ctx_t *ctx, int64_t delay_ms)
{
    (void)ctx;
    fake.retry_after_ms = delay_ms;
}

static int64_t fake_now_ms(lh_ctx_t *ctx)
{
    (void)ctx;
    return T0_MS;
}

static lh_status_t fake_http(lh_ctx_t *ctx, const lh_http_request_t *request,
                             lh_http_response_t *response)
{
    (void)ctx;
    fake.http_calls++;
    fake.seen_max_attempts = request->max_attempts;
    fake.seen_retry_hint = request->retry_hint_header;
    if (fake.http_status != LH_OK) {
        fake_set_error(ctx, "connection reset");
        return fake.http_status;
    }
    response->status = fake.answer_status;
    response->body = strdup("{}");
    response->body_len = 2;
    response->headers = fake.answer_headers;
    response->header_count = fake.answer_header_count;
    response->retry_after_ms = -1;
    return LH_OK;
}

static void fake_http_response_free(lh_http_response_t *response)
{
    free(response->body);
    response->body = NULL;
}

static lh_host_t host = {
    .struct_size = sizeof(lh_host_t),
    .set_error = fake_set_error,
    .set_retry_after = fake_set_retry_after,
    .checkpoint_get = fake_checkpoint_get,
    .checkpoint_put = fake_checkpoint_put,
    .http = fake_http,
    .http_response_free = fake_http_response_free,
    .now_ms = fake_now_ms,
};

static void fake_setup(void)
{
    memset(&fake, 0, sizeof(fake));
    fake.checkpoints = json_object();
    fake.retry_after_ms = -2;
}

static void fake_teardown(void)
{
    json_decref(fake.checkpoints);
}

/* --- URLs ----------------------------------------------------------------------------------- */

static void assert_url(lh_url_t *url, const char *expected)
{
    char *text = lh_url_take(url);
    ck_assert_ptr_nonnull(text);
    ck_assert_str_eq(text, expected);
    free(text);
}

START_TEST(test_url_encodes_path_segments_and_query_values)
{
    lh_url_t url;
    lh_url_init(&url, "https://api.example.com/v1");
    lh_url_add_path(&url, "persons");
    lh_url_add_path(&url, "a/b c");
    lh_url_add_query(&url, "since", "2026-11-27T10:00:00+01:00");
    lh_url_add_query(&url, "email", "ada+x@example.com");
    lh_url_add_query(&url, "absent", NULL);
    lh_url_add_query(&url, "name", "Zoë & co");
    lh_url_add_query_int(&url, "limit", 100);
    assert_url(&url, "https://api.example.com/v1/persons/a%2Fb%20c"
                     "?since=2026-11-27T10%3A00%3A00%2B01%3A00&email=ada%2Bx%40example.com"
                     "&name=Zo%C3%AB%20%26%20co&limit=100");
}
END_TEST

START_TEST(test_url_continues_a_base_that_already_has_a_query)
{
    lh_url_t url;
    lh_url_init(&url, "https://x.example/list?api_version=2");
    lh_url_add_query(&url, "cursor", "a=b");
    assert_url(&url, "https://x.example/list?api_version=2&cursor=a%3Db");
    lh_url_init(&url, "https://x.example/list?");
    lh_url_add_query(&url, "a", "1");
    assert_url(&url, "https://x.example/list?a=1");
    lh_url_init(&url, "https://x.example/");
    lh_url_add_path(&url, "v1");
    assert_url(&url, "https://x.example/v1");
}
END_TEST

START_TEST(test_url_builds_form_bodies_and_refuses_a_path_after_the_query)
{
    lh_url_t form;
    lh_url_init(&form, NULL);
    lh_url_add_query(&form, "grant_type", "refresh_token");
    lh_url_add_query(&form, "refresh_token", "a+b/c=");
    assert_url(&form, "grant_type=refresh_token&refresh_token=a%2Bb%2Fc%3D");

    lh_url_t url;
    lh_url_init(&url, "https://x.example");
    lh_url_add_query(&url, "a", "1");
    lh_url_add_path(&url, "late");
    ck_assert_ptr_null(lh_url_take(&url));
}
END_TEST

START_TEST(test_percent_encode_reports_the_length_it_needs)
{
    char small[4];
    ck_assert_uint_eq(lh_percent_encode("a b", small, sizeof(small)), 5);
    ck_assert_str_eq(small, "a%2");
    char big[16];
    ck_assert_uint_eq(lh_percent_encode("-._~Az09", big, sizeof(big)), 8);
    ck_assert_str_eq(big, "-._~Az09");
}
END_TEST

/* --- times ---------------------------------------------------------------------------------- */

static void assert_normalized(const char *text, const char *tz, const char *expected)
{
    char out[LH_TIME_TEXT_SIZE];
    ck_assert_msg(lh_time_normalize(text, tz, out) == 0, "refused: %s", text);
    ck_assert_msg(strcmp(out, expected) == 0, "%s -> %s, expected %s", text, out, expected);
}

static void assert_refused(const char *text, const char *tz)
{
    char out[LH_TIME_TEXT_SIZE];
    ck_assert_msg(lh_time_normalize(text, tz, out) == -1, "accepted: %s -> %s", text, out);
    ck_assert_str_eq(out, "");
}

START_TEST(test_time_format_agrees_with_the_host_across_the_range)
{
    /* the host's own formatter and parser are the reference */
    int64_t ms = -62167219200000LL;
    for (int i = 0; ms <= 253402300799999LL; i++) {
        char mine[LH_TIME_TEXT_SIZE], host_text[32];
        ck_assert_int_eq(lh_time_format(ms, mine), 0);
        util_format_rfc3339(ms, host_text);
        ck_assert_msg(strcmp(mine, host_text) == 0, "%lld: %s != %s", (long long)ms, mine,
                      host_text);
        int64_t back;
        ck_assert_int_eq(lh_time_parse_iso8601(mine, NULL, &back), 0);
        ck_assert(back == ms);
        ms += 15778800000LL + 86399999LL * (i % 7) + 997; /* about half a year, odd steps */
    }
    char out[LH_TIME_TEXT_SIZE];
    ck_assert_int_eq(lh_time_format(253402300799999LL, out), 0);
    ck_assert_str_eq(out, "9999-12-31T23:59:59.999Z");
    ck_assert_int_eq(lh_time_format(253402300800000LL, out), -1);
    ck_assert_int_eq(lh_time_format(-62167219200001LL, out), -1);
}
END_TEST

START_TEST(test_time_epoch_seconds_and_milliseconds)
{
    char out[LH_TIME_TEXT_SIZE];
    ck_assert_int_eq(lh_time_from_epoch_s(1795770000, out), 0);
    ck_assert_str_eq(out, "2026-11-27T09:00:00.000Z");
    ck_assert_int_eq(lh_time_from_epoch_ms(1795770000123LL, out), 0);
    ck_assert_str_eq(out, "2026-11-27T09:00:00.123Z");
    ck_assert_int_eq(lh_time_from_epoch_ms(-1, out), 0);
    ck_assert_str_eq(out, "1969-12-31T23:59:59.999Z");
    ck_assert_int_eq(lh_time_from_epoch_s(253402300800LL, out), -1);
    assert_normalized("1795770000", NULL, "2026-11-27T09:00:00.000Z");
    assert_normalized("1795770000123", NULL, "2026-11-27T09:00:00.123Z");
    assert_normalized(" 1795770000.25 ", NULL, "2026-11-27T09:00:00.250Z");
    assert_refused("-1795770000", NULL);
    assert_refused("1795770000x", NULL);
    assert_refused("1795770000.", NULL);
}
END_TEST

START_TEST(test_time_iso8601_with_zones_offsets_and_fractions)
{
    assert_normalized("2026-11-27T09:00:00Z", NULL, "2026-11-27T09:00:00.000Z");
    assert_normalized("2026-11-27T10:00:00+01:00", NULL, "2026-11-27T09:00:00.000Z");
    assert_normalized("2026-11-27T04:30:00-0430", NULL, "2026-11-27T09:00:00.000Z");
    assert_normalized("2026-11-27T11:00:00+02", NULL, "2026-11-27T09:00:00.000Z");
    assert_normalized("2026-11-27t09:00:00.123456z", NULL, "2026-11-27T09:00:00.123Z");
    assert_normalized("2026-11-27T09:00:00.5Z", NULL, "2026-11-27T09:00:00.500Z");
    assert_normalized("2026-11-27 09:00Z", NULL, "2026-11-27T09:00:00.000Z");
    assert_normalized("2026-12-31T23:59:60Z", NULL, "2026-12-31T23:59:59.000Z");
    assert_normalized("2026-11-28T00:30:00+01:00", NULL, "2026-11-27T23:30:00.000Z");
    assert_normalized("2028-02-29T00:00:00Z", NULL, "2028-02-29T00:00:00.000Z");
    assert_refused("2026-02-29T00:00:00Z", NULL);
    assert_refused("2026-11-27T24:00:00Z", NULL);
    assert_refused("2026-11-27T09:00:00Zjunk", NULL);
    assert_refused("2026-11-27T09:00:00+25:00", NULL);
    assert_refused("2026-11-27T09:00:00.Z", NULL);
    assert_refused("2026-13-01T00:00:00Z", NULL);
}
END_TEST

START_TEST(test_time_iso8601_without_zone_needs_a_fixed_offset_zone)
{
    /* refused rather than guessed */
    assert_refused("2026-11-27T09:00:00", NULL);
    assert_refused("2026-11-27T09:00:00", "Europe/Berlin");
    assert_refused("2026-11-27T09:00:00", "America/New_York");
    assert_refused("2026-11-27T09:00:00", "Etc/GMT+15");
    assert_refused("2026-11-27T09:00:00", "+0x:00");
    assert_normalized("2026-11-27T09:00:00", "UTC", "2026-11-27T09:00:00.000Z");
    assert_normalized("2026-11-27T09:00:00", "Etc/UTC", "2026-11-27T09:00:00.000Z");
    assert_normalized("2026-11-27", "GMT", "2026-11-27T00:00:00.000Z");
    /* POSIX sign: Etc/GMT+5 is five hours west of Greenwich */
    assert_normalized("2026-11-27T04:00:00", "Etc/GMT+5", "2026-11-27T09:00:00.000Z");
    assert_normalized("2026-11-27T14:00:00", "Etc/GMT-5", "2026-11-27T09:00:00.000Z");
    assert_normalized("2026-11-27T10:00:00", "+01:00", "2026-11-27T09:00:00.000Z");
    assert_normalized("2026-11-27T14:30:00", "UTC+05:30", "2026-11-27T09:00:00.000Z");
    assert_normalized("2026-11-27T06:00:00", "GMT-3", "2026-11-27T09:00:00.000Z");
    assert_normalized("2026-11-27T03:30:00", "-0530", "2026-11-27T09:00:00.000Z");
    /* a zone in the text wins over the name */
    assert_normalized("2026-11-27T09:00:00Z", "Etc/GMT+5", "2026-11-27T09:00:00.000Z");
}
END_TEST

START_TEST(test_time_rfc2822_mail_and_http_dates)
{
    assert_normalized("Fri, 27 Nov 2026 10:00:00 +0100", NULL, "2026-11-27T09:00:00.000Z");
    assert_normalized("27 Nov 2026 09:00 GMT", NULL, "2026-11-27T09:00:00.000Z");
    assert_normalized("Fri, 27 Nov 2026 09:00:00 -0000 (UTC)", NULL, "2026-11-27T09:00:00.000Z");
    assert_normalized("Fri,  7 Nov 2026 04:00:00 EST", NULL, "2026-11-07T09:00:00.000Z");
    assert_normalized("Fri, 27 nov 2026 01:00:00 PST", NULL, "2026-11-27T09:00:00.000Z");
    assert_normalized("Friday, 27-Nov-26 09:00:00 GMT", NULL, "2026-11-27T09:00:00.000Z");
    assert_normalized("27 Nov 99 09:00:00 UT", NULL, "1999-11-27T09:00:00.000Z");
    assert_refused("Fri, 31 Nov 2026 09:00:00 GMT", NULL);
    assert_refused("Fri, 27 Nox 2026 09:00:00 GMT", NULL);
    assert_refused("Fri, 27 Nov 2026 09:00:00", NULL);
    assert_refused("Fri, 27 Nov 2026 09:00:00 CET", NULL);
    assert_refused("Fri, 27 Nov 2026 09:00:00 +01", NULL);
    assert_refused("Fri 27 Nov 2026 09:00:00 GMT garbage", NULL);
    assert_refused("", NULL);
    assert_refused(NULL, NULL);
}
END_TEST

/* --- keys ----------------------------------------------------------------------------------- */

START_TEST(test_sha256_matches_the_host_and_the_standard_vectors)
{
    unsigned char mine[32], theirs[32];
    char hex[65];
    lh_sha256("abc", 3, mine);
    lh_hex_encode(mine, 32, hex);
    ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    lh_sha256("", 0, mine);
    lh_hex_encode(mine, 32, hex);
    ck_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    unsigned char data[300];
    for (size_t i = 0; i < sizeof(data); i++) {
        data[i] = (unsigned char)(i * 131 + 7);
    }
    for (size_t len = 0; len <= sizeof(data); len++) {
        /* in pieces of every size around the 64-byte block */
        lh_sha256_t h;
        lh_sha256_init(&h);
        size_t piece = len % 67 + 1;
        for (size_t at = 0; at < len; at += piece) {
            lh_sha256_update(&h, data + at, len - at < piece ? len - at : piece);
        }
        lh_sha256_final(&h, mine);
        crypto_sha256(data, len, theirs);
        ck_assert_msg(memcmp(mine, theirs, 32) == 0, "length %zu", len);
    }
}
END_TEST

START_TEST(test_key_hash_hides_the_email_and_fits_the_key_rules)
{
    char key[LH_KEY_SIZE], same[LH_KEY_SIZE], other[LH_KEY_SIZE];
    ck_assert_int_eq(lh_key_hash_email("contact", "ada@example.com", key, sizeof(key)), 40);
    ck_assert_str_eq(key, "contact:b5fc85e55755f9e0d030a10ab4429b6b");
    ck_assert_int_eq(lh_key_hash_email("contact", "  Ada@Example.COM\t", same, sizeof(same)), 40);
    ck_assert_str_eq(key, same);
    ck_assert_int_eq(lh_key_hash_email("contact", "ada@example.org", other, sizeof(other)), 40);
    ck_assert_str_ne(key, other);
    for (const char *p = key; *p; p++) {
        ck_assert(lh_key_char_valid((unsigned char)*p));
    }
    ck_assert_int_eq(lh_key_hash(NULL, "x", 1, key, sizeof(key)), 32);
    ck_assert_int_eq(lh_key_hash("bad@prefix", "x", 1, key, sizeof(key)), -1);
    ck_assert_str_eq(key, "");
    ck_assert_int_eq(lh_key_hash("contact", "x", 1, key, 40), -1);
    char long_prefix[97];
    memset(long_prefix, 'p', 96);
    long_prefix[96] = '\0';
    ck_assert_int_eq(lh_key_hash(long_prefix, "x", 1, key, sizeof(key)), -1);
    long_prefix[95] = '\0';
    ck_assert_int_eq(lh_key_hash(long_prefix, "x", 1, key, sizeof(key)), LH_KEY_MAX);
    ck_assert_int_eq(lh_key_hash_email("contact", "   ", key, sizeof(key)), -1);
}
END_TEST

/* --- rate limits ---------------------------------------------------------------------------- */

START_TEST(test_retry_after_reads_seconds_and_http_dates)
{
    ck_assert_int_eq(lh_retry_after_ms("120", T0_MS), 120000);
    ck_assert_int_eq(lh_retry_after_ms(" 0 ", T0_MS), 0);
    ck_assert_int_eq(lh_retry_after_ms("Fri, 27 Nov 2026 09:01:30 GMT", T0_MS), 90000);
    ck_assert_int_eq(lh_retry_after_ms("Fri, 27 Nov 2026 08:00:00 GMT", T0_MS), 0);
    ck_assert_int_eq(lh_retry_after_ms("99999999999999999999", T0_MS), LH_RATELIMIT_MAX_MS);
    ck_assert_int_eq(lh_retry_after_ms("soon", T0_MS), -1);
    ck_assert_int_eq(lh_retry_after_ms("-5", T0_MS), -1);
    ck_assert_int_eq(lh_retry_after_ms(NULL, T0_MS), -1);
}
END_TEST

START_TEST(test_ratelimit_reset_reads_delta_epoch_seconds_and_epoch_ms)
{
    ck_assert_int_eq(lh_ratelimit_reset_ms("30", T0_MS), 30000);
    ck_assert_int_eq(lh_ratelimit_reset_ms("1.5", T0_MS), 1500);
    ck_assert_int_eq(lh_ratelimit_reset_ms("1795770010", T0_MS), 10000);
    ck_assert_int_eq(lh_ratelimit_reset_ms("1795770000250", T0_MS), 250);
    ck_assert_int_eq(lh_ratelimit_reset_ms("1795769000", T0_MS), 0);
    ck_assert_int_eq(lh_ratelimit_reset_ms("x", T0_MS), -1);
    ck_assert_int_eq(lh_ratelimit_reset_ms("", T0_MS), -1);
}
END_TEST

START_TEST(test_http_retry_delay_prefers_retry_after_then_an_exhausted_limit)
{
    lh_header_t headers[3] = {{"x-ratelimit-remaining", "0"}, {"x-ratelimit-reset", "12"}};
    lh_http_response_t response = {.struct_size = sizeof(response),
                                   .status = 200,
                                   .headers = headers,
                                   .header_count = 2,
                                   .retry_after_ms = -1};
    ck_assert_int_eq(lh_http_retry_delay_ms(&response, T0_MS), 12000);
    headers[0].value = "5"; /* not exhausted: no delay, whatever the reset says */
    ck_assert_int_eq(lh_http_retry_delay_ms(&response, T0_MS), -1);
    response.status = 429; /* a 429 is exhausted by definition */
    ck_assert_int_eq(lh_http_retry_delay_ms(&response, T0_MS), 12000);
    headers[2] = (lh_header_t){"retry-after", "3"};
    response.header_count = 3;
    ck_assert_int_eq(lh_http_retry_delay_ms(&response, T0_MS), 3000);
    response.retry_after_ms = 7000; /* what the host parsed wins */
    ck_assert_int_eq(lh_http_retry_delay_ms(&response, T0_MS), 7000);
    lh_header_t ietf[] = {{"ratelimit-reset", "4"}};
    lh_http_response_t plain = {.struct_size = sizeof(plain),
                                .status = 429,
                                .headers = ietf,
                                .header_count = 1,
                                .retry_after_ms = -1};
    ck_assert_int_eq(lh_http_retry_delay_ms(&plain, T0_MS), 4000);
    plain.header_count = 0;
    ck_assert_int_eq(lh_http_retry_delay_ms(&plain, T0_MS), -1);
}
END_TEST

/* One lh_http_write() against the scripted answer. */
static lh_status_t write_once(int *maybe_applied)
{
    lh_header_t headers[] = {{"Content-Type", "application/json"}};
    lh_http_request_t request =
        LH_HTTP_REQUEST(.method = "POST", .url = "https://crm.example/v1/persons",
                        .headers = headers, .header_count = 1, .body = "{}", .body_len = 2,
                        .max_attempts = 5, .retry_hint_header = "X-Should-Retry");
    lh_http_response_t response = LH_HTTP_RESPONSE_INIT;
    lh_status_t status = lh_http_write(&host, NULL, &request, &response, maybe_applied);
    host.http_response_free(&response);
    ck_assert_int_eq(fake.seen_max_attempts, 1);
    ck_assert_ptr_null(fake.seen_retry_hint);
    return status;
}

START_TEST(test_http_write_is_sent_once_and_retried_on_429_only)
{
    int maybe = -1;
    fake.answer_status = 201;
    ck_assert_int_eq(write_once(&maybe), LH_OK);
    ck_assert_int_eq(maybe, 0);

    fake.answer_status = 429;
    fake.answer_headers[0] = (lh_header_t){"retry-after", "7"};
    fake.answer_header_count = 1;
    ck_assert_int_eq(write_once(&maybe), LH_RETRY_AFTER);
    ck_assert_int_eq(maybe, 0);
    ck_assert_int_eq(fake.retry_after_ms, 7000);

    fake.answer_header_count = 0; /* a bare 429 waits a minute */
    ck_assert_int_eq(write_once(&maybe), LH_RETRY_AFTER);
    ck_assert_int_eq(fake.retry_after_ms, LH_HTTP_WRITE_DEFAULT_DELAY_MS);

    fake.retry_after_ms = -2;
    fake.answer_status = 503;
    ck_assert_int_eq(write_once(&maybe), LH_RETRY);
    ck_assert_int_eq(maybe, 1);
    ck_assert_int_eq(fake.retry_after_ms, -2);
    ck_assert_ptr_nonnull(strstr(fake.error, "may have been applied"));

    fake.answer_status = 408;
    ck_assert_int_eq(write_once(&maybe), LH_RETRY);
    ck_assert_int_eq(maybe, 1);

    fake.answer_status = 401;
    ck_assert_int_eq(write_once(&maybe), LH_AUTH);
    ck_assert_int_eq(maybe, 0);

    fake.answer_status = 422;
    ck_assert_int_eq(write_once(&maybe), LH_PERMANENT);
    ck_assert_int_eq(maybe, 0);

    fake.http_status = LH_RETRY; /* a reset after the request went out */
    ck_assert_int_eq(write_once(&maybe), LH_RETRY);
    ck_assert_int_eq(maybe, 1);
    ck_assert_int_eq(fake.http_calls, 8);
}
END_TEST

/* --- the polling cursor --------------------------------------------------------------------- */

static lh_cursor_t load(int64_t overlap_ms)
{
    lh_cursor_t cursor;
    ck_assert_int_eq(lh_cursor_load(&host, NULL, "persons", T0_MS - 3600000, overlap_ms, &cursor),
                     LH_OK);
    return cursor;
}

static void emit_if_new(lh_cursor_t *cursor, const char *id, int64_t updated_ms, int expected)
{
    int is_new = lh_cursor_is_new(cursor, id, updated_ms);
    ck_assert_msg(is_new == expected, "%s at %lld: is_new %d", id, (long long)updated_ms, is_new);
    if (is_new) {
        ck_assert_int_eq(lh_cursor_mark(cursor, id, updated_ms), 0);
    }
}

START_TEST(test_cursor_emits_each_change_once_and_catches_a_late_write_in_the_same_second)
{
    lh_cursor_t cursor = load(0);
    ck_assert(cursor.time_ms == T0_MS - 3600000);
    ck_assert(lh_cursor_since_ms(&cursor) == T0_MS - 3600000);
    emit_if_new(&cursor, "ada@example.com", T0_MS, 1);
    emit_if_new(&cursor, "501", T0_MS, 1);
    emit_if_new(&cursor, "501", T0_MS, 0); /* the same record again on the next page */
    ck_assert_int_eq(lh_cursor_save(&host, NULL, "persons", &cursor), LH_OK);
    lh_cursor_clear(&cursor);

    json_t *saved = json_object_get(fake.checkpoints, "persons");
    ck_assert_str_eq(json_string_value(json_object_get(saved, "time")), "2026-11-27T09:00:00.000Z");
    ck_assert_uint_eq(json_object_size(json_object_get(saved, "seen")), 2);
    char *text = json_dumps(saved, 0);
    ck_assert_ptr_null(strstr(text, "ada")); /* ids are hashed */
    free(text);

    cursor = load(0);
    ck_assert(lh_cursor_since_ms(&cursor) == T0_MS); /* asks again from the same second */
    emit_if_new(&cursor, "ada@example.com", T0_MS, 0);
    emit_if_new(&cursor, "501", T0_MS, 0);
    emit_if_new(&cursor, "502", T0_MS, 1);     /* written after the last poll, same second */
    emit_if_new(&cursor, "501", T0_MS + 1, 1); /* updated again */
    emit_if_new(&cursor, "400", T0_MS - 1, 0); /* before the window: already handled */
    ck_assert(cursor.time_ms == T0_MS + 1);
    ck_assert_int_eq(lh_cursor_save(&host, NULL, "persons", &cursor), LH_OK);
    lh_cursor_clear(&cursor);
    /* the marks of the earlier second left the window */
    saved = json_object_get(fake.checkpoints, "persons");
    ck_assert_uint_eq(json_object_size(json_object_get(saved, "seen")), 1);
}
END_TEST

START_TEST(test_cursor_overlap_takes_late_records_and_keeps_their_marks)
{
    lh_cursor_t cursor = load(5000);
    emit_if_new(&cursor, "a", T0_MS, 1);
    ck_assert(lh_cursor_since_ms(&cursor) == T0_MS - 5000);
    emit_if_new(&cursor, "b", T0_MS - 4000, 1); /* listed late, inside the overlap */
    emit_if_new(&cursor, "c", T0_MS - 6000, 0); /* outside it */
    ck_assert(cursor.time_ms == T0_MS);
    ck_assert_int_eq(lh_cursor_save(&host, NULL, "persons", &cursor), LH_OK);
    lh_cursor_clear(&cursor);
    cursor = load(5000);
    emit_if_new(&cursor, "b", T0_MS - 4000, 0);
    emit_if_new(&cursor, "a", T0_MS, 0);
    lh_cursor_clear(&cursor);
}
END_TEST

START_TEST(test_cursor_reads_a_bare_time_and_refuses_anything_else)
{
    json_object_set_new(fake.checkpoints, "persons", json_string("2026-11-27T09:00:00Z"));
    lh_cursor_t cursor = load(0);
    ck_assert(cursor.time_ms == T0_MS);
    ck_assert_uint_eq(json_object_size(cursor.seen), 0);
    lh_cursor_clear(&cursor);

    const char *bad[] = {"42", "\"yesterday\"", "{\"time\": 5}",
                         "{\"time\": \"2026-11-27T09:00:00Z\", \"seen\": []}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_object_set_new(fake.checkpoints, "persons", json_loads(bad[i], JSON_DECODE_ANY, NULL));
        ck_assert_int_eq(lh_cursor_load(&host, NULL, "persons", 0, 0, &cursor), LH_PERMANENT);
        ck_assert_ptr_nonnull(strstr(fake.error, "persons"));
        lh_cursor_clear(&cursor);
    }
    fake.get_status = LH_RETRY;
    ck_assert_int_eq(lh_cursor_load(&host, NULL, "persons", 0, 0, &cursor), LH_RETRY);
    lh_cursor_clear(&cursor);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sdk helpers");
    TCase *pure = tcase_create("pure");
    tcase_add_test(pure, test_url_encodes_path_segments_and_query_values);
    tcase_add_test(pure, test_url_continues_a_base_that_already_has_a_query);
    tcase_add_test(pure, test_url_builds_form_bodies_and_refuses_a_path_after_the_query);
    tcase_add_test(pure, test_percent_encode_reports_the_length_it_needs);
    tcase_add_test(pure, test_time_format_agrees_with_the_host_across_the_range);
    tcase_add_test(pure, test_time_epoch_seconds_and_milliseconds);
    tcase_add_test(pure, test_time_iso8601_with_zones_offsets_and_fractions);
    tcase_add_test(pure, test_time_iso8601_without_zone_needs_a_fixed_offset_zone);
    tcase_add_test(pure, test_time_rfc2822_mail_and_http_dates);
    tcase_add_test(pure, test_sha256_matches_the_host_and_the_standard_vectors);
    tcase_add_test(pure, test_key_hash_hides_the_email_and_fits_the_key_rules);
    tcase_add_test(pure, test_retry_after_reads_seconds_and_http_dates);
    tcase_add_test(pure, test_ratelimit_reset_reads_delta_epoch_seconds_and_epoch_ms);
    tcase_add_test(pure, test_http_retry_delay_prefers_retry_after_then_an_exhausted_limit);
    suite_add_tcase(s, pure);
    TCase *hosted = tcase_create("with a host");
    tcase_add_checked_fixture(hosted, fake_setup, fake_teardown);
    tcase_add_test(hosted, test_http_write_is_sent_once_and_retried_on_429_only);
    tcase_add_test(hosted,
                   test_cursor_emits_each_change_once_and_catches_a_late_write_in_the_same_second);
    tcase_add_test(hosted, test_cursor_overlap_takes_late_records_and_keeps_their_marks);
    tcase_add_test(hosted, test_cursor_reads_a_bare_time_and_refuses_anything_else);
    suite_add_tcase(s, hosted);
    return tu_run_suite(s);
}
