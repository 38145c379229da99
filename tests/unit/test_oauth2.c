/*
 * test_oauth2.c - the host's OAuth2 service against a fake token endpoint: tokens cached
 * and refreshed, grants by consent preferred and kept sealed, refusals that ask for
 * consent once instead of at every call, refresh tokens whose end is reported; secret
 * plugin state; and the sink-side host services that write at once (checkpoints in
 * deliver, lead identities).
 */
#include <check.h>
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "fake_http.h"
#include "instance.h"
#include "metrics.h"
#include "oauth_grant.h"
#include "seal.h"
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

/* Two keys as `openssl rand -base64 32` prints them. */
#define KEY_OLD "q4Fq0wV0m0Xy1M3c8HcYl2qgkq7oR6y4mC3cW0b2bFQ="
#define KEY_NEW "Zm9yIHRlc3RzIG9ubHk6IHRoaXJ0eS10d28gYnl0ZXM="

static struct seal_keyring *keyring_of(const char *first, const char *second)
{
    const char *keys[] = {first, second};
    size_t bad = 0;
    const char *why = NULL;
    struct seal_keyring *ring = seal_keyring_new(keys, second != NULL ? 2 : 1, &bad, &why);
    ck_assert_ptr_nonnull(ring);
    return ring;
}

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
    seal_keyring_free((struct seal_keyring *)services.keyring);
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

/* A restart of the instance: its memory is gone, the database remembers. */
static void restart(void)
{
    instance_teardown(&instance);
    ck_assert_int_eq(
        instance_setup(&instance, &config_instance, &test_plugin, json_object(), &services), 0);
}

/* The stored value of one of the instance's keys, as text (NULL when absent). */
static char *stored_text(const char *key)
{
    PGconn *db = testdb_connect(db_url);
    const char *params[] = {key};
    PGresult *res = PQexecParams(db,
                                 "SELECT value::text FROM connector_state WHERE instance = 'crm' "
                                 "AND key = $1",
                                 1, NULL, params, NULL, NULL, 0);
    char *text = PQntuples(res) == 1 ? strdup(PQgetvalue(res, 0, 0)) : NULL;
    PQclear(res);
    PQfinish(db);
    return text;
}

/* Stores a consented grant as `leadhubd connect` would. */
static void store_consent(const char *refresh_token, const char *access_token,
                          int64_t expires_at_ms, int64_t refresh_expires_at_ms)
{
    struct oauth_grant grant = {.origin = OAUTH_GRANT_CONSENT,
                                .refresh_token = strdup(refresh_token),
                                .access_token = access_token ? strdup(access_token) : NULL,
                                .expires_at_ms = expires_at_ms,
                                .refresh_expires_at_ms = refresh_expires_at_ms,
                                .granted_at_ms = util_now_ms()};
    char *error = NULL;
    struct store *store = store_open(db_url, &error);
    ck_assert_ptr_nonnull(store);
    ck_assert_int_eq(oauth_grant_save(store, services.keyring, "crm", &grant, &error), STORE_OK);
    store_close(store);
    oauth_grant_clear(&grant);
}

/* oauth2_token() of an instance whose file has no refresh_token (consent only). */
static char *consented_token(lh_status_t *status_out, char **error_out)
{
    struct lh_ctx ctx;
    ctx_init(&ctx, &instance, NULL);
    lh_oauth2_t c = config();
    c.refresh_token = NULL;
    const char *value = NULL;
    *status_out = host_api_table()->oauth2_token(&ctx, &c, &value);
    char *copy = value != NULL ? strdup(value) : NULL;
    if (error_out != NULL) {
        *error_out = ctx.error != NULL ? strdup(ctx.error) : NULL;
    }
    ctx_clear(&ctx);
    return copy;
}

static const char *state_now(void)
{
    return instance_token_state_name(atomic_load(&instance.oauth2.state));
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

START_TEST(test_oauth2_rotated_refresh_token_is_used_and_survives_a_restart_sealed)
{
    services.keyring = keyring_of(KEY_NEW, NULL);
    fake_http_push(server, (struct fake_response){
                               200,
                               "{\"access_token\":\"access-token-one-7c2e\",\"expires_in\":10,"
                               "\"refresh_token\":\"refresh-rotated\"}",
                               NULL, 0});
    lh_status_t status;
    free(token(&status, NULL));
    free(token(&status, NULL)); /* expires within the skew: refreshes with the rotated one */
    struct fake_request second = fake_http_request(server, 1);
    ck_assert_ptr_nonnull(strstr(second.body, "refresh_token=refresh-rotated"));
    fake_http_request_free(&second);

    /* stored sealed: neither token can be read in connector_state */
    char *stored = stored_text(OAUTH_GRANT_KEY);
    ck_assert_ptr_nonnull(stored);
    ck_assert_ptr_null(strstr(stored, "refresh-rotated"));
    ck_assert_ptr_null(strstr(stored, "access-token-one-7c2e"));
    ck_assert_ptr_nonnull(strstr(stored, seal_keyring_current_id(services.keyring)));
    free(stored);

    /* a restart: the instance's memory is gone, the database remembers */
    restart();
    fake_http_push(
        server,
        (struct fake_response){
            200, "{\"access_token\":\"access-token-two-9d4f\",\"expires_in\":3600}", NULL, 0});
    free(token(&status, NULL));
    size_t n = fake_http_request_count(server);
    struct fake_request third = fake_http_request(server, n - 1);
    ck_assert_ptr_nonnull(strstr(third.body, "refresh_token=refresh-rotated"));
    fake_http_request_free(&third);
}
END_TEST

START_TEST(test_oauth2_without_a_key_a_rotated_token_lives_in_memory_and_is_not_stored)
{
    fake_http_push(server, (struct fake_response){
                               200,
                               "{\"access_token\":\"access-token-one-7c2e\",\"expires_in\":10,"
                               "\"refresh_token\":\"refresh-rotated\"}",
                               NULL, 0});
    lh_status_t status;
    free(token(&status, NULL));
    ck_assert_int_eq(status, LH_OK);
    free(token(&status, NULL));
    struct fake_request second = fake_http_request(server, 1);
    ck_assert_ptr_nonnull(strstr(second.body, "refresh_token=refresh-rotated"));
    fake_http_request_free(&second);
    /* refused rather than written in plaintext */
    ck_assert_ptr_null(stored_text(OAUTH_GRANT_KEY));
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
    ck_assert_ptr_nonnull(strstr(error, "leadhubd connect crm"));
    ck_assert_ptr_null(strstr(error, "refresh-configured"));
    ck_assert_str_eq(state_now(), "needs_consent");
    free(error);
    /* the next scenario: an operator re-authorized (in memory only, as a consent would) */
    host_oauth2_forget(&instance);

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
    host_oauth2_forget(&instance);

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

START_TEST(test_oauth2_invalid_grant_is_not_asked_again_until_a_new_grant_is_stored)
{
    services.keyring = keyring_of(KEY_NEW, NULL);
    fake_http_route(server, "/oauth/v1/token",
                    (struct fake_response){400,
                                           "{\"error\":\"invalid_grant\",\"error_description\":"
                                           "\"Token has been expired or revoked.\"}",
                                           NULL, 0},
                    1);
    lh_status_t status;
    char *error = NULL;
    ck_assert_ptr_null(token(&status, &error));
    ck_assert_int_eq(status, LH_AUTH);
    free(error);
    ck_assert_double_eq(metrics_get(services.metrics, "leadhub_oauth2_needs_consent", "instance",
                                    "crm", METRICS_END),
                        1);
    /* every replica sees it: the status row */
    char *row = stored_text(OAUTH_STATUS_KEY);
    ck_assert_ptr_nonnull(row);
    ck_assert_ptr_nonnull(strstr(row, "\"state\": \"needs_consent\""));
    ck_assert_ptr_nonnull(strstr(row, "Token has been expired or revoked."));
    free(row);
    /* calls after it fail at once with the same advice, asking nobody, even past the
     * recheck interval: the refused token is never offered again */
    size_t asked = fake_http_request_count(server);
    for (int i = 0; i < 3; i++) {
        ck_assert_ptr_null(token(&status, &error));
        ck_assert_int_eq(status, LH_AUTH);
        ck_assert_ptr_nonnull(strstr(error, "leadhubd connect crm"));
        free(error);
    }
    instance.oauth2.checked_ms -= 5000; /* the recheck is due: the store has nothing new */
    ck_assert_ptr_null(token(&status, NULL));
    ck_assert_uint_eq(fake_http_request_count(server), asked);

    /* a consent stores a new grant: the next call past the recheck uses it */
    store_consent("refresh-consented", NULL, 0, 0);
    instance.oauth2.checked_ms -= 5000;
    fake_http_push(server, (struct fake_response){
                               200, "{\"access_token\":\"at-new\",\"expires_in\":3600}", NULL, 0});
    char *fresh = token(&status, &error);
    ck_assert_int_eq(status, LH_OK);
    ck_assert_str_eq(fresh, "at-new");
    struct fake_request last = fake_http_request(server, fake_http_request_count(server) - 1);
    ck_assert_ptr_nonnull(strstr(last.body, "refresh_token=refresh-consented"));
    fake_http_request_free(&last);
    ck_assert_str_eq(state_now(), "valid");
    ck_assert_double_eq(metrics_get(services.metrics, "leadhub_oauth2_needs_consent", "instance",
                                    "crm", METRICS_END),
                        0);
    row = stored_text(OAUTH_STATUS_KEY);
    ck_assert_ptr_nonnull(strstr(row, "\"state\": \"granted\""));
    free(row);
    free(fresh);
}
END_TEST

START_TEST(test_oauth2_consented_grant_is_used_without_a_configured_refresh_token)
{
    services.keyring = keyring_of(KEY_NEW, NULL);
    lh_status_t status;
    char *error = NULL;
    /* nothing consented yet: say how to consent, ask nobody */
    ck_assert_ptr_null(consented_token(&status, &error));
    ck_assert_int_eq(status, LH_AUTH);
    ck_assert_ptr_nonnull(strstr(error, "no OAuth2 grant for crm yet"));
    ck_assert_ptr_nonnull(strstr(error, "leadhubd connect crm"));
    ck_assert_str_eq(state_now(), "needs_consent");
    ck_assert_uint_eq(fake_http_request_count(server), 0);
    free(error);

    /* the consent's own access token is used as long as it lives: no refresh */
    store_consent("refresh-consented", "at-from-consent", util_now_ms() + 3600 * 1000, 0);
    host_oauth2_forget(&instance);
    char *first = consented_token(&status, NULL);
    ck_assert_int_eq(status, LH_OK);
    ck_assert_str_eq(first, "at-from-consent");
    ck_assert_uint_eq(fake_http_request_count(server), 0);
    free(first);

    /* the provider refused it (401): invalidated, it is not taken back from the store, where
     * it still looks alive; the consented refresh token gets a new one, kept (sealed) for
     * the other replicas */
    struct lh_ctx ctx;
    ctx_init(&ctx, &instance, NULL);
    host_api_table()->oauth2_invalidate(&ctx);
    ctx_clear(&ctx);
    fake_http_push(server,
                   (struct fake_response){
                       200, "{\"access_token\":\"at-refreshed\",\"expires_in\":3600}", NULL, 0});
    char *second = consented_token(&status, NULL);
    ck_assert_str_eq(second, "at-refreshed");
    struct fake_request request = fake_http_request(server, 0);
    ck_assert_str_eq(request.body, "grant_type=refresh_token&refresh_token=refresh-consented"
                                   "&client_id=client-1&client_secret=s3cret%20sauce");
    fake_http_request_free(&request);
    free(second);
    restart();
    second = consented_token(&status, NULL);
    ck_assert_str_eq(second, "at-refreshed");
    ck_assert_uint_eq(fake_http_request_count(server), 1);
    free(second);
    /* a consent wins over a refresh_token still in the file */
    host_oauth2_forget(&instance);
    second = token(&status, NULL);
    ck_assert_str_eq(second, "at-refreshed");
    free(second);
}
END_TEST

START_TEST(test_oauth2_refresh_token_days_left_are_recorded_and_warned_of)
{
    services.keyring = keyring_of(KEY_NEW, NULL);
    store_consent("refresh-linkedin", NULL, 0, 0);
    /* LinkedIn: the refresh token's own life, counting down from consent */
    fake_http_push(server, (struct fake_response){200,
                                                  "{\"access_token\":\"at-1\","
                                                  "\"expires_in\":5183999,\"refresh_token\":"
                                                  "\"refresh-linkedin\","
                                                  "\"refresh_token_expires_in\":864000}",
                                                  NULL, 0});
    lh_status_t status;
    free(consented_token(&status, NULL));
    ck_assert_int_eq(status, LH_OK);
    double days = metrics_get(services.metrics, "leadhub_oauth2_refresh_token_days_left",
                              "instance", "crm", METRICS_END);
    ck_assert_msg(days >= 9 && days <= 10, "days left: %g", days);
    char *row = stored_text(OAUTH_STATUS_KEY);
    ck_assert_ptr_nonnull(strstr(row, "\"refresh_token_expires_at\": \"20"));
    free(row);
    ck_assert_int_gt(instance.oauth2.warned_ms, 0); /* within 14 days: warned */
    /* a restart knows it from the store */
    restart();
    free(consented_token(&status, NULL));
    ck_assert_int_gt(instance.oauth2.refresh_expires_at_ms, util_now_ms() + 9 * 86400000LL);
}
END_TEST

START_TEST(test_oauth2_plaintext_grant_of_before_sealing_is_sealed_on_first_use)
{
    PGconn *db = testdb_connect(db_url);
    char fingerprint[65];
    crypto_sha256_hex("refresh-configured", strlen("refresh-configured"), fingerprint);
    char *row = util_printf("INSERT INTO connector_state (instance, key, value) VALUES ('crm', "
                            "'%s', '{\"configured_sha256\": \"%s\", \"refresh_token\": "
                            "\"refresh-rotated-long-ago\"}')",
                            OAUTH_GRANT_KEY, fingerprint);
    PQclear(PQexec(db, row));
    free(row);
    PQfinish(db);
    services.keyring = keyring_of(KEY_NEW, NULL);
    fake_http_push(server, (struct fake_response){
                               200, "{\"access_token\":\"at-1\",\"expires_in\":3600}", NULL, 0});
    lh_status_t status;
    free(token(&status, NULL));
    ck_assert_int_eq(status, LH_OK);
    struct fake_request request = fake_http_request(server, 0);
    ck_assert_ptr_nonnull(strstr(request.body, "refresh_token=refresh-rotated-long-ago"));
    fake_http_request_free(&request);
    char *stored = stored_text(OAUTH_GRANT_KEY);
    ck_assert_ptr_null(strstr(stored, "refresh-rotated-long-ago"));
    ck_assert_ptr_nonnull(strstr(stored, "leadhub_sealed"));
    free(stored);
}
END_TEST

START_TEST(test_oauth2_rotating_the_key_keeps_the_grant_readable_and_seals_it_anew)
{
    services.keyring = keyring_of(KEY_OLD, NULL);
    store_consent("refresh-consented", "at-live", util_now_ms() + 3600 * 1000, 0);
    char *before = stored_text(OAUTH_GRANT_KEY);
    ck_assert_ptr_nonnull(strstr(before, seal_keyring_current_id(services.keyring)));
    seal_keyring_free((struct seal_keyring *)services.keyring);
    services.keyring = keyring_of(KEY_NEW, KEY_OLD); /* the new key first */
    restart();
    lh_status_t status;
    char *value = consented_token(&status, NULL);
    ck_assert_int_eq(status, LH_OK);
    ck_assert_str_eq(value, "at-live");
    free(value);
    char *after = stored_text(OAUTH_GRANT_KEY);
    ck_assert_ptr_nonnull(strstr(after, seal_keyring_current_id(services.keyring)));
    /* the old key alone cannot read it any more; without the old key, the old row could
     * not have been read either: the reason names the key to add */
    seal_keyring_free((struct seal_keyring *)services.keyring);
    services.keyring = keyring_of(KEY_OLD, NULL);
    restart();
    char *error = NULL;
    ck_assert_ptr_null(consented_token(&status, &error));
    ck_assert_int_eq(status, LH_CONFIG);
    ck_assert_ptr_nonnull(strstr(error, "not in secrets_key"));
    free(error);
    free(before);
    free(after);
}
END_TEST

START_TEST(test_secret_state_is_sealed_at_rest_and_opened_when_read)
{
    const lh_host_t *host = host_api_table();
    struct lh_ctx ctx;
    ctx_init(&ctx, &instance, NULL);
    ctx.in_delivery = true;
    /* no key: refused, saying how to make one */
    ck_assert_int_eq(host->checkpoint_put_secret(&ctx, "signing_key", json_string("sk-123456")),
                     LH_CONFIG);
    ck_assert_ptr_nonnull(strstr(ctx.error, "openssl rand -base64 32"));
    services.keyring = keyring_of(KEY_NEW, NULL);
    ck_assert_int_eq(host->checkpoint_put_secret(&ctx, "signing_key", json_string("sk-123456")),
                     LH_OK);
    char *stored = stored_text("signing_key");
    ck_assert_ptr_null(strstr(stored, "sk-123456"));
    free(stored);
    json_t *value = NULL;
    ck_assert_int_eq(host->checkpoint_get(&ctx, "signing_key", &value), LH_OK);
    ck_assert_str_eq(json_string_value(value), "sk-123456");
    json_decref(value);
    ctx_clear(&ctx);
    /* in a poll's batch it is sealed before the commit, and read back opened */
    struct ingest_batch batch = {0};
    ctx_init(&ctx, &instance, &batch);
    ck_assert_int_eq(host->checkpoint_put_secret(&ctx, "page_token", json_string("pt-9")), LH_OK);
    ck_assert(seal_is_sealed(ingest_batch_find_checkpoint(&batch, "page_token")));
    ck_assert_int_eq(host->checkpoint_get(&ctx, "page_token", &value), LH_OK);
    ck_assert_str_eq(json_string_value(value), "pt-9");
    json_decref(value);
    ctx_clear(&ctx);
    ingest_batch_clear(&batch);
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
    tcase_add_test(tc, test_oauth2_rotated_refresh_token_is_used_and_survives_a_restart_sealed);
    tcase_add_test(tc, test_oauth2_without_a_key_a_rotated_token_lives_in_memory_and_is_not_stored);
    tcase_add_test(tc, test_oauth2_refusals_say_what_to_do_without_leaking_tokens);
    tcase_add_test(tc, test_deliver_writes_checkpoints_and_lead_identities_at_once);
    tcase_add_test(tc, test_oauth2_invalid_grant_is_not_asked_again_until_a_new_grant_is_stored);
    tcase_add_test(tc, test_oauth2_consented_grant_is_used_without_a_configured_refresh_token);
    tcase_add_test(tc, test_oauth2_refresh_token_days_left_are_recorded_and_warned_of);
    tcase_add_test(tc, test_oauth2_plaintext_grant_of_before_sealing_is_sealed_on_first_use);
    tcase_add_test(tc, test_oauth2_rotating_the_key_keeps_the_grant_readable_and_seals_it_anew);
    tcase_add_test(tc, test_secret_state_is_sealed_at_rest_and_opened_when_read);
    suite_add_tcase(s, tc);
    int rc = tu_run_suite(s);
    curl_global_cleanup();
    return rc;
}
