/*
 * test_hubspot_oauth.c - the hubspot plugin with auth: oauth, through the host's OAuth2
 * service and the fake HubSpot's token endpoint: tokens fetched from the configured
 * token_url and refreshed before expires_in runs out, a refused token refreshed once, the
 * newest refresh token kept, and a refused grant failing the connector with a message
 * saying to re-authorize instead of asking again for every delivery.
 */
#include <check.h>
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "hubspot_harness.h"
#include "oauth_grant.h"
#include "testdb.h"
#include "testutil.h"
#include "util.h"

#define TOKEN  "/oauth/v1/token"
#define UPSERT "/crm/v3/objects/contacts/batch/upsert"

static struct hubspot_harness h;

static void setup(void)
{
    hh_setup(&h);
}

static void teardown(void)
{
    hh_teardown(&h);
}

static json_t *lead_event(const char *email)
{
    json_t *event =
        json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:s}}", "type", "lead.created", "source",
                  "linkedin", "source_id", email, "occurred_at", "2026-11-27T10:42:00.000Z", "lead",
                  "email", email, "first_name", "Ada");
    ck_assert_ptr_nonnull(event);
    return event;
}

static lh_status_t deliver(const char *email, char **error_out)
{
    json_t *event = lead_event(email);
    lh_status_t status = hh_deliver(&h, event, 0, error_out, NULL);
    json_decref(event);
    return status;
}

/* Asserts that authorization carries the fake's nth access token, whole (320 characters). */
static void assert_bearer(const char *authorization, int n)
{
    char *token = fake_hubspot_access_token(n);
    char *expected = util_printf("Bearer %s", token);
    ck_assert_uint_eq(strlen(token), 320);
    ck_assert_str_eq(authorization, expected);
    free(expected);
    free(token);
}

START_TEST(test_hubspot_oauth_exchanges_the_refresh_token_at_the_configured_token_url)
{
    ck_assert_int_eq(hh_start(&h, hh_oauth_settings(&h, 1800)), LH_OK);
    ck_assert_int_eq(deliver("ada@analytical.example", NULL), LH_OK);
    ck_assert_uint_eq(fake_hubspot_count(h.fake, "POST", TOKEN), 1);
    struct fake_hubspot_request token = fake_hubspot_find(h.fake, "POST", TOKEN, 0);
    ck_assert_str_eq(token.body, "grant_type=refresh_token&refresh_token=" HH_REFRESH_TOKEN
                                 "&client_id=client-1&client_secret=" HH_CLIENT_SECRET);
    fake_hubspot_request_free(&token);
    struct fake_hubspot_request upsert = fake_hubspot_find(h.fake, "POST", UPSERT, 0);
    assert_bearer(upsert.authorization, 1);
    fake_hubspot_request_free(&upsert);
}
END_TEST

START_TEST(test_hubspot_oauth_token_is_reused_until_shortly_before_expires_in)
{
    ck_assert_int_eq(hh_start(&h, hh_oauth_settings(&h, 1800)), LH_OK);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(deliver("ada@analytical.example", NULL), LH_OK);
    }
    ck_assert_uint_eq(fake_hubspot_count(h.fake, "POST", TOKEN), 1);
}
END_TEST

START_TEST(test_hubspot_oauth_token_is_refreshed_before_expires_in_runs_out)
{
    /* 30 s of life is inside the host's 60 s skew: each call gets a fresh token first */
    ck_assert_int_eq(hh_start(&h, hh_oauth_settings(&h, 30)), LH_OK);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(deliver("ada@analytical.example", NULL), LH_OK);
    }
    ck_assert_uint_eq(fake_hubspot_count(h.fake, "POST", TOKEN), 3);
    struct fake_hubspot_request last = fake_hubspot_find(h.fake, "POST", UPSERT, 2);
    assert_bearer(last.authorization, 3);
    fake_hubspot_request_free(&last);
}
END_TEST

START_TEST(test_hubspot_oauth_401_gets_a_new_token_and_one_more_try)
{
    ck_assert_int_eq(hh_start(&h, hh_oauth_settings(&h, 1800)), LH_OK);
    ck_assert_int_eq(deliver("ada@analytical.example", NULL), LH_OK);
    fake_hubspot_expire_tokens(h.fake); /* HubSpot ended the token early */
    ck_assert_int_eq(deliver("ada@analytical.example", NULL), LH_OK);
    ck_assert_uint_eq(fake_hubspot_count(h.fake, "POST", TOKEN), 2);
    ck_assert_uint_eq(fake_hubspot_count(h.fake, "POST", UPSERT), 3);
    struct fake_hubspot_request refused = fake_hubspot_find(h.fake, "POST", UPSERT, 1);
    struct fake_hubspot_request retried = fake_hubspot_find(h.fake, "POST", UPSERT, 2);
    assert_bearer(refused.authorization, 1);
    assert_bearer(retried.authorization, 2);
    fake_hubspot_request_free(&refused);
    fake_hubspot_request_free(&retried);
}
END_TEST

START_TEST(test_hubspot_oauth_keeps_the_newest_refresh_token_in_the_instance_state)
{
    json_t *settings = hh_oauth_settings(&h, 30);
    json_t *same_settings = json_deep_copy(settings);
    ck_assert_int_eq(hh_start(&h, settings), LH_OK);
    fake_hubspot_oauth_rotate(h.fake, "rt-rotated-9f0e");
    ck_assert_int_eq(deliver("ada@analytical.example", NULL), LH_OK);
    ck_assert_int_eq(deliver("ada@analytical.example", NULL), LH_OK);
    struct fake_hubspot_request second = fake_hubspot_find(h.fake, "POST", TOKEN, 1);
    ck_assert_ptr_nonnull(strstr(second.body, "refresh_token=rt-rotated-9f0e"));
    fake_hubspot_request_free(&second);
    /* kept sealed: unreadable in connector_state, and it opens with the daemon's key */
    char *stored = testdb_text(h.db, "SELECT value::text FROM connector_state WHERE "
                                     "instance = 'crm' AND key = 'leadhub.oauth2.refresh_token'");
    ck_assert_ptr_null(strstr(stored, "rt-rotated-9f0e"));
    free(stored);
    json_t *opened = hh_checkpoint_opened(&h, "leadhub.oauth2.refresh_token");
    ck_assert_str_eq(json_string_value(json_object_get(opened, "refresh_token")),
                     "rt-rotated-9f0e");
    json_decref(opened);
    /* a restart goes on with the rotated token */
    ck_assert_int_eq(hh_start(&h, same_settings), LH_OK);
    ck_assert_int_eq(deliver("ada@analytical.example", NULL), LH_OK);
    struct fake_hubspot_request third = fake_hubspot_find(h.fake, "POST", TOKEN, 2);
    ck_assert_ptr_nonnull(strstr(third.body, "refresh_token=rt-rotated-9f0e"));
    fake_hubspot_request_free(&third);
}
END_TEST

START_TEST(test_hubspot_oauth_invalid_grant_fails_the_connector_and_says_to_re_authorize)
{
    ck_assert_int_eq(hh_start(&h, hh_oauth_settings(&h, 1800)), LH_OK);
    fake_hubspot_oauth_revoke(h.fake, FAKE_HUBSPOT_INVALID_GRANT);
    char *error = NULL;
    ck_assert_int_eq(deliver("ada@analytical.example", &error), LH_CONFIG);
    ck_assert_ptr_nonnull(strstr(error, "re-authorize the app in HubSpot"));
    ck_assert_ptr_nonnull(strstr(error, "invalid_grant"));
    free(error);
    ck_assert_int_eq(hh_metric(&h, "hubspot_auth_failed", NULL, NULL), 1);
    size_t asked = fake_hubspot_count(h.fake, "POST", TOKEN);
    /* not a silent loop: later calls fail at once with the same advice, asking nobody */
    ck_assert_int_eq(deliver("grace@navy.example", &error), LH_CONFIG);
    ck_assert_ptr_nonnull(strstr(error, "re-authorize the app in HubSpot"));
    free(error);
    ck_assert_int_eq(hh_poll(&h, NULL, &error), LH_CONFIG);
    ck_assert_ptr_nonnull(strstr(error, "re-authorize"));
    free(error);
    ck_assert_uint_eq(fake_hubspot_count(h.fake, "POST", TOKEN), asked);
    ck_assert_uint_eq(fake_hubspot_count(h.fake, "POST", "/crm/"), 0);
}
END_TEST

START_TEST(test_hubspot_oauth_a_new_consent_ends_a_refused_grant_without_a_reload)
{
    ck_assert_int_eq(hh_start(&h, hh_oauth_settings(&h, 1800)), LH_OK);
    fake_hubspot_oauth_revoke(h.fake, FAKE_HUBSPOT_INVALID_GRANT);
    char *error = NULL;
    ck_assert_int_eq(deliver("ada@analytical.example", &error), LH_CONFIG);
    ck_assert_ptr_nonnull(strstr(error, "leadhubd connect crm"));
    free(error);
    /* the app is installed again through leadhubd connect: a grant is stored */
    fake_hubspot_oauth_reinstall(h.fake, "rt-consented-55aa");
    struct oauth_grant grant = {.origin = OAUTH_GRANT_CONSENT,
                                .refresh_token = strdup("rt-consented-55aa"),
                                .granted_at_ms = util_now_ms()};
    char *why = NULL;
    struct store *store = store_open(h.db_url, &why);
    ck_assert_ptr_nonnull(store);
    ck_assert_int_eq(oauth_grant_save(store, h.services.keyring, "crm", &grant, &why), STORE_OK);
    store_close(store);
    oauth_grant_clear(&grant);
    /* the host looks for a new grant every 2 s: no reload, no 15-minute wait */
    h.instance.oauth2.checked_ms -= 5000;
    ck_assert_int_eq(deliver("grace@navy.example", NULL), LH_OK);
    size_t n = fake_hubspot_count(h.fake, "POST", TOKEN);
    struct fake_hubspot_request last = fake_hubspot_find(h.fake, "POST", TOKEN, n - 1);
    ck_assert_ptr_nonnull(strstr(last.body, "refresh_token=rt-consented-55aa"));
    fake_hubspot_request_free(&last);
    ck_assert_int_eq(hh_metric(&h, "hubspot_auth_failed", NULL, NULL), 0);
}
END_TEST

START_TEST(test_hubspot_oauth_hubspots_bad_refresh_token_answer_also_says_to_re_authorize)
{
    ck_assert_int_eq(hh_start(&h, hh_oauth_settings(&h, 1800)), LH_OK);
    fake_hubspot_oauth_revoke(h.fake, FAKE_HUBSPOT_BAD_REFRESH_TOKEN);
    char *error = NULL;
    ck_assert_int_eq(deliver("ada@analytical.example", &error), LH_CONFIG);
    ck_assert_ptr_nonnull(strstr(error, "re-authorize the app in HubSpot"));
    free(error);
    ck_assert_int_eq(hh_metric(&h, "hubspot_auth_failed", NULL, NULL), 1);
}
END_TEST

START_TEST(test_hubspot_oauth_refused_client_credentials_say_to_check_them)
{
    json_t *settings = hh_oauth_settings(&h, 1800);
    setenv("HH_WRONG_SECRET", "cs-wrong-000000", 1);
    json_object_set_new(settings, "client_secret", json_string("${HH_WRONG_SECRET}"));
    ck_assert_int_eq(hh_start(&h, settings), LH_OK);
    char *error = NULL;
    /* HubSpot answers 400 BAD_CLIENT_SECRET, not OAuth's 401 invalid_client */
    ck_assert_int_eq(deliver("ada@analytical.example", &error), LH_CONFIG);
    ck_assert_ptr_nonnull(strstr(error, "check client_id and client_secret"));
    ck_assert_ptr_null(strstr(error, "cs-wrong-000000"));
    free(error);
    ck_assert_int_eq(hh_metric(&h, "hubspot_auth_failed", NULL, NULL), 1);
    ck_assert_uint_eq(fake_hubspot_count(h.fake, "POST", "/crm/"), 0);
}
END_TEST

START_TEST(test_hubspot_oauth_unknown_client_id_says_to_check_it)
{
    json_t *settings = hh_oauth_settings(&h, 1800);
    json_object_set_new(settings, "client_id", json_string("client-of-another-app"));
    ck_assert_int_eq(hh_start(&h, settings), LH_OK);
    char *error = NULL;
    ck_assert_int_eq(deliver("ada@analytical.example", &error), LH_CONFIG);
    ck_assert_ptr_nonnull(strstr(error, "check client_id and client_secret"));
    free(error);
    struct fake_hubspot_request token = fake_hubspot_find(h.fake, "POST", TOKEN, 0);
    ck_assert_ptr_nonnull(strstr(token.body, "client_id=client-of-another-app"));
    fake_hubspot_request_free(&token);
}
END_TEST

START_TEST(test_hubspot_oauth_token_endpoint_down_is_a_retry_not_a_failed_grant)
{
    ck_assert_int_eq(hh_start(&h, hh_oauth_settings(&h, 1800)), LH_OK);
    fake_hubspot_fail(h.fake, "POST", TOKEN, 503, "{}", NULL, 3);
    ck_assert_int_eq(deliver("ada@analytical.example", NULL), LH_RETRY);
    ck_assert_int_eq(hh_metric(&h, "hubspot_auth_failed", NULL, NULL), 0);
    ck_assert_int_eq(deliver("ada@analytical.example", NULL), LH_OK);
}
END_TEST

START_TEST(test_hubspot_oauth_v3_token_url_is_used_when_configured)
{
    json_t *settings = hh_oauth_settings(&h, 1800);
    char *v3 = fake_hubspot_url(h.fake, "/oauth/v3/token");
    json_object_set_new(settings, "token_url", json_string(v3));
    free(v3);
    ck_assert_int_eq(hh_start(&h, settings), LH_OK);
    ck_assert_int_eq(deliver("ada@analytical.example", NULL), LH_OK);
    ck_assert_uint_eq(fake_hubspot_count(h.fake, "POST", "/oauth/v3/token"), 1);
    ck_assert_uint_eq(fake_hubspot_count(h.fake, "POST", TOKEN), 0);
}
END_TEST

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    Suite *s = suite_create("hubspot_oauth");
    TCase *tc = tcase_create("oauth");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_hubspot_oauth_exchanges_the_refresh_token_at_the_configured_token_url);
    tcase_add_test(tc, test_hubspot_oauth_token_is_reused_until_shortly_before_expires_in);
    tcase_add_test(tc, test_hubspot_oauth_token_is_refreshed_before_expires_in_runs_out);
    tcase_add_test(tc, test_hubspot_oauth_401_gets_a_new_token_and_one_more_try);
    tcase_add_test(tc, test_hubspot_oauth_keeps_the_newest_refresh_token_in_the_instance_state);
    tcase_add_test(tc,
                   test_hubspot_oauth_invalid_grant_fails_the_connector_and_says_to_re_authorize);
    tcase_add_test(tc,
                   test_hubspot_oauth_hubspots_bad_refresh_token_answer_also_says_to_re_authorize);
    tcase_add_test(tc, test_hubspot_oauth_a_new_consent_ends_a_refused_grant_without_a_reload);
    tcase_add_test(tc, test_hubspot_oauth_refused_client_credentials_say_to_check_them);
    tcase_add_test(tc, test_hubspot_oauth_unknown_client_id_says_to_check_it);
    tcase_add_test(tc, test_hubspot_oauth_token_endpoint_down_is_a_retry_not_a_failed_grant);
    tcase_add_test(tc, test_hubspot_oauth_v3_token_url_is_used_when_configured);
    suite_add_tcase(s, tc);
    int rc = tu_run_suite(s);
    curl_global_cleanup();
    return rc;
}
