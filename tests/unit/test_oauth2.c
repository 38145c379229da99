/*
 * test_oauth2.c - the host's OAuth2 service against a fake token endpoint, and the
 * sink-side host services that write at once (checkpoints in deliver, lead identities).
 */
#include <check.h>
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "fake_http.h"
#include "instance.h"
#include "metrics.h"
#include "testdb.h"
#include "testutil.h"
#include "util.h"

static const lh_config_field_t empty_schema[] = {LH_FIELD_END};
static const lh_plugin_t test_descriptor = {
    LH_PLUGIN_HEADER, .kind = LH_KIND_SINK,  .name = "tester",
    .version = "1",   .description = "test", .config_schema = empty_schema,
};
static const struct plugin test_plugin = {
    .name = "tester", .path = "/dev/null", .desc = &test_descriptor};

static struct host_services services;
static struct instance instance;
static struct config_instance config_instance = {.name = "crm"};
static atomic_bool stopping;
static struct fake_http *server;
static char *db_url;
static char *token_url;

static void setup(void)
{
    memset(&services, 0, sizeof(services));
    db_url = testdb_create_migrated();
    services.metrics = metrics_create();
    services.database_url = db_url;
    atomic_init(&stopping, false);
    services.stopping = &stopping;
    pthread_mutex_init(&services.store_mutex, NULL);
    ck_assert_int_eq(
        instance_setup(&instance, &config_instance, &test_plugin, json_object(), &services), 0);
    server = fake_http_start();
    token_url = fake_http_url(server, "/oauth/v1/token");
}

static void teardown(void)
{
    instance_teardown(&instance);
    store_close(services.store);
    pthread_mutex_destroy(&services.store_mutex);
    metrics_free(services.metrics);
    fake_http_stop(server);
    free(token_url);
    testdb_drop(db_url);
}

static lh_oauth2_t config(void)
{
    return (lh_oauth2_t)LH_OAUTH2(.token_url = token_url, .client_id = "client-1",
                                  .client_secret = "s3cret sauce",
                                  .refresh_token = "refresh-configured");
}

/* One oauth2_token() call in a fresh context; the token (copied) or NULL. */
static char *token(lh_status_t *status_out, char **error_out)
{
    struct lh_ctx ctx;
    ctx_init(&ctx, &instance, NULL);
    lh_oauth2_t c = config();
    const char *value = NULL;
    *status_out = host_api_table()->oauth2_token(&ctx, &c, &value);
    char *copy = value != NULL ? strdup(value) : NULL;
    if (error_out != NULL) {
        *error_out = ctx.error != NULL ? strdup(ctx.error) : NULL;
    }
    ctx_clear(&ctx);
    return copy;
}

START_TEST(test_oauth2_fetches_once_and_caches_until_near_expiry)
{
    fake_http_push(server, (struct fake_response){
                               200, "{\"access_token\":\"at-1\",\"expires_in\":1800}", NULL, 0});
    lh_status_t status;
    char *first = token(&status, NULL);
    ck_assert_int_eq(status, LH_OK);
    ck_assert_str_eq(first, "at-1");
    char *second = token(&status, NULL);
    ck_assert_str_eq(second, "at-1");
    ck_assert_uint_eq(fake_http_request_count(server), 1);
    struct fake_request request = fake_http_request(server, 0);
    ck_assert_str_eq(request.method, "POST");
    ck_assert_str_eq(request.body, "grant_type=refresh_token&refresh_token=refresh-configured"
                                   "&client_id=client-1&client_secret=s3cret%20sauce");
    ck_assert_ptr_nonnull(strstr(request.headers, "application/x-www-form-urlencoded"));
    fake_http_request_free(&request);
    ck_assert_str_eq(instance_token_state_name(atomic_load(&instance.oauth2.state)), "valid");
    free(first);
    free(second);
}
END_TEST

START_TEST(test_oauth2_refreshes_within_the_skew_and_after_invalidate)
{
    /* 30 s of life is within the 60 s skew: every call refreshes */
    fake_http_push(server, (struct fake_response){
                               200, "{\"access_token\":\"short\",\"expires_in\":30}", NULL, 0});
    lh_status_t status;
    free(token(&status, NULL));
    free(token(&status, NULL));
    ck_assert_uint_eq(fake_http_request_count(server), 2);

    fake_http_push(server, (struct fake_response){
                               200, "{\"access_token\":\"long\",\"expires_in\":3600}", NULL, 0});
    free(token(&status, NULL));
    size_t before = fake_http_request_count(server);
    struct lh_ctx ctx;
    ctx_init(&ctx, &instance, NULL);
    host_api_table()->oauth2_invalidate(&ctx);
    ctx_clear(&ctx);
    char *fresh = token(&status, NULL);
    ck_assert_int_eq(status, LH_OK);
    ck_assert_uint_eq(fake_http_request_count(server), before + 1);
    free(fresh);
}
END_TEST

START_TEST(test_oauth2_rotated_refresh_token_is_used_and_survives_a_restart)
{
    fake_http_push(server, (struct fake_response){200,
                                                  "{\"access_token\":\"a1\",\"expires_in\":10,"
                                                  "\"refresh_token\":\"refresh-rotated\"}",
                                                  NULL, 0});
    lh_status_t status;
    free(token(&status, NULL));
    free(token(&status, NULL)); /* expires within the skew: refreshes with the rotated one */
    struct fake_request second = fake_http_request(server, 1);
    ck_assert_ptr_nonnull(strstr(second.body, "refresh_token=refresh-rotated"));
    fake_http_request_free(&second);

    /* a restart: the instance's memory is gone, the database remembers */
    instance_teardown(&instance);
    ck_assert_int_eq(
        instance_setup(&instance, &config_instance, &test_plugin, json_object(), &services), 0);
    free(token(&status, NULL));
    size_t n = fake_http_request_count(server);
    struct fake_request third = fake_http_request(server, n - 1);
    ck_assert_ptr_nonnull(strstr(third.body, "refresh_token=refresh-rotated"));
    fake_http_request_free(&third);
    PGconn *db = testdb_connect(db_url);
    char *stored = testdb_text(db, "SELECT value->>'refresh_token' FROM connector_state "
                                   "WHERE instance = 'crm'");
    ck_assert_str_eq(stored, "refresh-rotated");
    free(stored);
    PQfinish(db);
}
END_TEST

START_TEST(test_oauth2_refusals_say_what_to_do_without_leaking_tokens)
{
    lh_status_t status;
    char *error = NULL;
    fake_http_route(server, "/oauth/v1/token",
                    (struct fake_response){400,
                                           "{\"error\":\"invalid_grant\",\"error_description\":"
                                           "\"refresh token revoked\"}",
                                           NULL, 0},
                    1);
    ck_assert_ptr_null(token(&status, &error));
    ck_assert_int_eq(status, LH_AUTH);
    ck_assert_ptr_nonnull(strstr(error, "re-authorize"));
    ck_assert_ptr_nonnull(strstr(error, "refresh token revoked"));
    ck_assert_ptr_null(strstr(error, "refresh-configured"));
    ck_assert_str_eq(instance_token_state_name(atomic_load(&instance.oauth2.state)), "failed");
    free(error);

    /* HubSpot's own shape for a revoked refresh token: no `error`, a `status` */
    fake_http_route(server, "/oauth/v1/token",
                    (struct fake_response){400,
                                           "{\"status\":\"BAD_REFRESH_TOKEN\",\"message\":"
                                           "\"missing or unknown refresh token\"}",
                                           NULL, 0},
                    1);
    ck_assert_ptr_null(token(&status, &error));
    ck_assert_int_eq(status, LH_AUTH);
    ck_assert_ptr_nonnull(strstr(error, "re-authorize"));
    ck_assert_ptr_nonnull(strstr(error, "BAD_REFRESH_TOKEN: missing or unknown refresh token"));
    free(error);

    fake_http_route(server, "/oauth/v1/token",
                    (struct fake_response){401, "{\"error\":\"invalid_client\"}", NULL, 0}, 1);
    ck_assert_ptr_null(token(&status, &error));
    ck_assert_int_eq(status, LH_CONFIG);
    ck_assert_ptr_nonnull(strstr(error, "client_id and client_secret"));
    ck_assert_ptr_null(strstr(error, "s3cret"));
    free(error);

    fake_http_route(server, "/oauth/v1/token", (struct fake_response){503, "{}", NULL, 0}, 3);
    ck_assert_ptr_null(token(&status, &error));
    ck_assert_int_eq(status, LH_RETRY);
    free(error);
}
END_TEST

START_TEST(test_deliver_writes_checkpoints_and_lead_identities_at_once)
{
    PGconn *db = testdb_connect(db_url);
    long lead = testdb_scalar(db, "INSERT INTO leads (email) VALUES ('x@example.com') "
                                  "RETURNING id");
    const lh_host_t *host = host_api_table();
    struct lh_ctx ctx;
    ctx_init(&ctx, &instance, NULL);
    ctx.in_delivery = true;
    lh_delivery_t delivery = {.struct_size = sizeof(lh_delivery_t),
                              .id = 1,
                              .idempotency_key = "k",
                              .attempt = 1,
                              .lead_id = lead};
    ck_assert_int_eq(host->checkpoint_put(&ctx, "meeting:evt-1", json_string("engagement-9")),
                     LH_OK);
    ck_assert_int_eq(host->lead_identity_put(&ctx, &delivery, "contact-501"), LH_OK);
    ck_assert_int_eq(host->lead_identity_put(&ctx, &delivery, "contact-501"), LH_OK);
    json_t *value = NULL;
    ck_assert_int_eq(host->checkpoint_get(&ctx, "meeting:evt-1", &value), LH_OK);
    ck_assert_str_eq(json_string_value(value), "engagement-9");
    json_decref(value);
    lh_delivery_t no_lead = {
        .struct_size = sizeof(lh_delivery_t), .id = 2, .idempotency_key = "k2", .attempt = 1};
    ck_assert_int_eq(host->lead_identity_put(&ctx, &no_lead, "contact-502"), LH_PERMANENT);
    ctx_clear(&ctx);
    ck_assert_int_eq(testdb_scalar(db, "SELECT count(*) FROM lead_identities WHERE source = "
                                       "'crm' AND external_id = 'contact-501'"),
                     1);
    PQfinish(db);
}
END_TEST

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    Suite *s = suite_create("oauth2");
    TCase *tc = tcase_create("oauth2");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_oauth2_fetches_once_and_caches_until_near_expiry);
    tcase_add_test(tc, test_oauth2_refreshes_within_the_skew_and_after_invalidate);
    tcase_add_test(tc, test_oauth2_rotated_refresh_token_is_used_and_survives_a_restart);
    tcase_add_test(tc, test_oauth2_refusals_say_what_to_do_without_leaking_tokens);
    tcase_add_test(tc, test_deliver_writes_checkpoints_and_lead_identities_at_once);
    suite_add_tcase(s, tc);
    int rc = tu_run_suite(s);
    curl_global_cleanup();
    return rc;
}
