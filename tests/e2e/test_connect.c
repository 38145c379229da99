/*
 * test_connect.c - OAuth consent end to end, with the real daemon, PostgreSQL, the fake
 * authorization server (tests/lib/fake_oauth.h) and a source whose plugin declares its
 * provider the way Microsoft's or Google's would (tests/fixtures/plugins/consent_source.c):
 * `leadhubd connect` with its loopback redirect and with --no-browser; the REST flow
 * begun on one replica and completed on another, once; the grant sealed at rest and still
 * readable after a key rotation; a revoked grant shown as needing consent, and a new
 * consent that takes over; a refresh token's days left.
 */
#include <check.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connect_cli.h"
#include "daemon_harness.h"
#include "fake_http.h"
#include "fake_oauth.h"
#include "http_client.h"
#include "openapi_check.h"
#include "seal.h"
#include "testdb.h"
#include "testutil.h"
#include "util.h"

#define CLIENT_ID     "app-1"
#define CLIENT_SECRET "app-secret-7f3a9c2e"
#define ADMIN_TOKEN   "connect-admin-token-6b1d9e"
#define MAILBOX       "ada@contoso.example"
/* secrets_key before and after a rotation (base64 of 32 bytes) */
#define KEY_OLD "Y29ubmVjdC10ZXN0cy1vbGQta2V5LTMyLWJ5dGVzISE="
#define KEY_NEW "Y29ubmVjdC10ZXN0cy1uZXcta2V5LTMyLWJ5dGVzISE="

static struct fake_oauth *idp;
static struct fake_http *api;    /* what the source's polls fetch with their token */
static struct test_daemon td;    /* replica A */
static struct test_daemon other; /* replica B, when a test starts one */
static PGconn *db;
static char *config_path;

/* The config of a replica: the consent source `mail`, a webhook instance, an admin token;
 * redirect_to: the replica whose /oauth/callback the provider sends browsers to. */
static void configure(struct test_daemon *d, const char *keys,
                      const struct test_daemon *redirect_to)
{
    char *plugins = tu_path(d->dir, "plugins");
    char *copy = util_printf("mkdir -p '%s' && cp '%s/tests/fixtures/consent_source.so' '%s/'",
                             plugins, tu_build_dir(), plugins);
    ck_assert_int_eq(tu_run(copy, NULL), 0);
    free(copy);
    free(d->extra_plugin_dir);
    d->extra_plugin_dir = plugins;
    char *base = fake_oauth_url(idp, "");
    char *items = fake_http_url(api, "/items");
    char *yaml = util_printf("name: mail\nplugin: consent_source\npoll_interval: 1s\n"
                             "settings:\n  oauth_base: %s\n  tenant: contoso\n"
                             "  mailbox: " MAILBOX "\n  client_id: " CLIENT_ID "\n"
                             "  client_secret: ${LHTEST_APP_SECRET}\n  api_url: %s\n",
                             base, items);
    td_connector(d, "mail", yaml);
    free(yaml);
    free(items);
    free(base);
    td_webhook_instance(d, "inbound", "connect-inbound-secret");
    char *redirect =
        redirect_to != NULL
            ? util_printf("oauth:\n  redirect_url: %s/oauth/callback\n", redirect_to->base_url)
            : strdup("");
    free(d->extra_main);
    d->extra_main = util_printf("secrets_key: %s\n%s"
                                "api:\n  tokens:\n    - name: ops\n"
                                "      token: ${LHTEST_CONNECT_ADMIN}\n"
                                "      scopes: [read, write, admin]\n",
                                keys, redirect);
    free(redirect);
}

static void start(struct test_daemon *d)
{
    int rc = td_start(d);
    if (rc != 0) {
        char *log = td_log(d);
        ck_abort_msg("daemon did not start (%d):\n%s", rc, log);
    }
}

static void setup(void)
{
    setenv("LHTEST_APP_SECRET", CLIENT_SECRET, 1);
    setenv("LHTEST_CONNECT_ADMIN", ADMIN_TOKEN, 1);
    setenv("LHTEST_KEY_OLD", KEY_OLD, 1);
    setenv("LHTEST_KEY_NEW", KEY_NEW, 1);
    idp = fake_oauth_start(CLIENT_ID, CLIENT_SECRET);
    api = fake_http_start();
    fake_http_push(api, (struct fake_response){200, "{\"id\":\"item-1\"}", NULL, 0});
    td_init(&td, NULL);
    memset(&other, 0, sizeof(other));
    configure(&td, "${LHTEST_KEY_OLD}", NULL);
    start(&td);
    db = testdb_connect(td.db_url);
    config_path = tu_path(td.dir, "leadhub.yaml");
}

static void teardown(void)
{
    PQfinish(db);
    if (other.dir != NULL) {
        td_stop(&other);
        td_cleanup(&other);
    }
    if (td.pid != 0) {
        int status = td_stop(&td);
        if (status != 0) {
            char *log = td_log(&td);
            fprintf(stderr, "daemon exit %d:\n%s\n", status, log);
            free(log);
        }
        ck_assert_int_eq(status, 0);
    }
    td_cleanup(&td);
    fake_http_stop(api);
    fake_oauth_stop(idp);
    free(config_path);
}

/* --- helpers ------------------------------------------------------------------------- */

static long scalar(const char *sql)
{
    return testdb_scalar(db, sql);
}

static void assert_contains(const char *text, const char *expected)
{
    ck_assert_msg(text != NULL && strstr(text, expected) != NULL, "\"%s\" lacks \"%s\"",
                  text ? text : "(null)", expected);
}

static void assert_param(const char *url, const char *name, const char *expected)
{
    char *value = fake_oauth_query_param(url, name);
    ck_assert_msg(value != NULL && strcmp(value, expected) == 0, "%s=%s in %s (expected %s)", name,
                  value ? value : "(absent)", url, expected);
    free(value);
}

/* A GET with the admin token against replica d; the JSON answer (NEW), status in *status. */
static json_t *admin_call(const struct test_daemon *d, const char *method, const char *path,
                          long *status)
{
    char *url = td_url(d, path);
    const char *headers[] = {"Authorization: Bearer " ADMIN_TOKEN, NULL};
    struct http_result result;
    ck_assert_int_eq(http_request(method, url, headers, NULL, 0, &result), 0);
    free(url);
    *status = result.status;
    json_t *body = json_loads(result.body, 0, NULL);
    ck_assert_msg(body != NULL, "not JSON: %s", result.body);
    ck_assert_ptr_null(strstr(result.body, "fake-oauth-rt-"));
    ck_assert_ptr_null(strstr(result.body, "fake-oauth-at-"));
    ck_assert_ptr_null(strstr(result.body, CLIENT_SECRET));
    http_result_free(&result);
    return body;
}

/* The `oauth` member of GET /v1/connectors/mail on replica d (NEW). */
static json_t *consent_status(const struct test_daemon *d)
{
    long status = 0;
    json_t *body = admin_call(d, "GET", "/v1/connectors/mail", &status);
    ck_assert_int_eq(status, 200);
    json_t *oauth = json_incref(json_object_get(body, "oauth"));
    json_decref(body);
    return oauth;
}

static bool consent_state_is(void *arg)
{
    json_t *oauth = consent_status(&td);
    bool same = strcmp(json_string_value(json_object_get(oauth, "state")), arg) == 0;
    json_decref(oauth);
    return same;
}

/* Events the source fetched with a consented token. */
static bool fetched(void *arg)
{
    (void)arg;
    return scalar("SELECT count(*) FROM events WHERE source = 'mail' AND type = "
                  "'custom.fetched'") > 0;
}

/* The Authorization of the api's last request (malloc'd; NULL when none). */
static char *last_bearer(void)
{
    size_t n = fake_http_request_count(api);
    if (n == 0) {
        return NULL;
    }
    struct fake_request r = fake_http_request(api, n - 1);
    char *auth = r.authorization != NULL ? strdup(r.authorization) : NULL;
    fake_http_request_free(&r);
    return auth;
}

static bool api_saw(void *arg)
{
    char *auth = last_bearer();
    bool same = auth != NULL && strcmp(auth, arg) == 0;
    free(auth);
    return same;
}

/* The stored grant's row, as text. */
static char *grant_row(void)
{
    PGresult *res = PQexec(db, "SELECT value::text FROM connector_state WHERE instance = 'mail' "
                               "AND key = 'leadhub.oauth2.refresh_token'");
    ck_assert_int_eq(PQresultStatus(res), PGRES_TUPLES_OK);
    char *text = PQntuples(res) == 1 ? strdup(PQgetvalue(res, 0, 0)) : NULL;
    PQclear(res);
    return text;
}

static char *key_id_of(const char *key)
{
    const char *keys[] = {key};
    size_t bad = 0;
    const char *why = NULL;
    struct seal_keyring *ring = seal_keyring_new(keys, 1, &bad, &why);
    ck_assert_ptr_nonnull(ring);
    char *id = strdup(seal_keyring_current_id(ring));
    seal_keyring_free(ring);
    return id;
}

/* `leadhubd connect mail --no-browser` through the fake's consent screen, pasting the
 * address the browser is sent to; returns the exit status and the output. */
static int connect_pasting(const char *instance, char **output_out)
{
    const char *args[] = {instance, "-c", config_path, "--no-browser", "--timeout", "60s", NULL};
    struct connect_cli cli;
    char *url = connect_cli_start(&cli, args);
    if (url != NULL) {
        char *location = fake_oauth_browse(url, NULL);
        ck_assert_ptr_nonnull(location);
        connect_cli_paste(&cli, location);
        free(location);
        free(url);
    }
    return connect_cli_finish(&cli, output_out);
}

/* --- leadhubd connect ---------------------------------------------------------------- */

START_TEST(test_connect_receives_the_redirect_on_a_loopback_port_and_stores_a_sealed_grant)
{
    const char *args[] = {"mail", "-c", config_path, "--timeout", "60s", NULL};
    struct connect_cli cli;
    char *url = connect_cli_start(&cli, args);
    ck_assert_msg(url != NULL, "no address printed:\n%s", strbuf_value(&cli.output));

    /* the provider's URL, from the declaration and the instance's settings */
    char *base = fake_oauth_url(idp, "/contoso/authorize?");
    ck_assert_msg(strncmp(url, base, strlen(base)) == 0, "%s", url);
    free(base);
    assert_param(url, "response_type", "code");
    assert_param(url, "client_id", CLIENT_ID);
    assert_param(url, "scope", "mail.read offline_access");
    assert_param(url, "code_challenge_method", "S256");
    assert_param(url, "access_type", "offline");
    assert_param(url, "prompt", "consent");
    assert_param(url, "login_hint", MAILBOX);
    char *state = fake_oauth_query_param(url, "state");
    char *challenge = fake_oauth_query_param(url, "code_challenge");
    ck_assert_uint_eq(strlen(state), 43);
    ck_assert_uint_eq(strlen(challenge), 43);
    char *redirect_uri = fake_oauth_query_param(url, "redirect_uri");
    ck_assert_msg(strncmp(redirect_uri, "http://127.0.0.1:", 17) == 0, "%s", redirect_uri);
    ck_assert(strstr(redirect_uri, "/callback") != NULL);

    /* any local process can reach the port: a callback without the state is turned away,
     * and the command goes on waiting for the real one */
    char *forged = util_printf("%s?code=stolen&state=guess", redirect_uri);
    struct http_result page;
    ck_assert_int_eq(http_get(forged, &page), 0);
    ck_assert_int_eq(page.status, 400);
    http_result_free(&page);
    free(forged);

    char *location = fake_oauth_browse(url, NULL);
    ck_assert_ptr_nonnull(location);
    ck_assert(strncmp(location, redirect_uri, strlen(redirect_uri)) == 0);
    ck_assert_int_eq(http_get(location, &page), 0);
    ck_assert_int_eq(page.status, 200);
    assert_contains(page.body, "mail is connected");
    http_result_free(&page);
    char *output = NULL;
    ck_assert_int_eq(connect_cli_finish(&cli, &output), 0);
    assert_contains(output, "mail is connected");
    ck_assert_ptr_null(strstr(output, "fake-oauth-rt-"));
    free(output);

    /* the exchange: the code, the same redirect_uri, the PKCE verifier, the scope */
    struct fake_request exchange = fake_oauth_request(idp, "POST", "/contoso/token", 0);
    assert_contains(exchange.body, "grant_type=authorization_code");
    assert_contains(exchange.body, "code=fake-oauth-code-1");
    assert_contains(exchange.body, "code_verifier=");
    assert_contains(exchange.body, "scope=mail.read%20offline_access");
    char *encoded = util_printf("redirect_uri=http%%3A%%2F%%2F127.0.0.1%%3A%s",
                                redirect_uri + strlen("http://127.0.0.1:"));
    for (char *p = strchr(encoded, '/'); p != NULL; p = strchr(encoded, '/')) {
        *p = '\0'; /* compare up to the port */
    }
    assert_contains(exchange.body, encoded);
    free(encoded);
    fake_http_request_free(&exchange);

    /* sealed at rest: no token readable in connector_state */
    char *row = grant_row();
    assert_contains(row, "leadhub_sealed");
    ck_assert_ptr_null(strstr(row, "fake-oauth-rt-1"));
    ck_assert_ptr_null(strstr(row, "fake-oauth-at-1"));
    free(row);
    ck_assert_int_eq(scalar("SELECT count(*) FROM connector_state WHERE instance = 'mail' AND "
                            "value::text LIKE '%fake-oauth-%'"),
                     0);

    /* the running daemon picks the grant up by itself and polls with its access token,
     * without a refresh of its own */
    ck_assert(td_wait_until(fetched, NULL, 20000));
    ck_assert(td_wait_until(api_saw, "Bearer fake-oauth-at-1", 5000));
    ck_assert_uint_eq(fake_oauth_count(idp, "POST", "/contoso/token"), 1);
    json_t *oauth = consent_status(&td);
    ck_assert_str_eq(json_string_value(json_object_get(oauth, "state")), "granted");
    ck_assert(json_is_null(json_object_get(oauth, "action")));
    ck_assert(json_is_null(json_object_get(oauth, "refresh_token_days_left")));
    json_decref(oauth);
    free(location);
    free(redirect_uri);
    free(challenge);
    free(state);
    free(url);
}
END_TEST

START_TEST(test_connect_no_browser_takes_the_pasted_address_and_only_its_own)
{
    /* an address of another consent (its state changed) is refused, nothing stored */
    const char *args[] = {"mail", "-c", config_path, "--no-browser", "--timeout", "60s", NULL};
    struct connect_cli cli;
    char *url = connect_cli_start(&cli, args);
    ck_assert_msg(url != NULL, "no address printed:\n%s", strbuf_value(&cli.output));
    assert_param(url, "redirect_uri", "http://127.0.0.1:8765/callback");
    char *location = fake_oauth_browse(url, NULL);
    char *state = fake_oauth_query_param(location, "state");
    char *tampered = strdup(location);
    char *at = strstr(tampered, state);
    at[0] = at[0] == 'A' ? 'B' : 'A';
    connect_cli_paste(&cli, tampered);
    char *output = NULL;
    ck_assert_int_eq(connect_cli_finish(&cli, &output), 1);
    assert_contains(output, "does not carry this consent's state");
    free(output);
    ck_assert_ptr_null(grant_row());
    free(tampered);
    free(state);
    free(location);
    free(url);

    /* the real one, pasted with the spaces a terminal adds */
    url = connect_cli_start(&cli, args);
    location = fake_oauth_browse(url, NULL);
    char *pasted = util_printf("   %s  ", location);
    connect_cli_paste(&cli, pasted);
    ck_assert_int_eq(connect_cli_finish(&cli, &output), 0);
    assert_contains(output, "mail is connected");
    assert_contains(output, "A refresh token was granted");
    free(output);
    free(pasted);
    free(location);
    free(url);
    ck_assert(td_wait_until(fetched, NULL, 20000));

    /* a rotation of secrets_key, the new key first: the grant stays readable, and is
     * sealed again with the new key when next read */
    char *old_id = key_id_of(KEY_OLD);
    char *new_id = key_id_of(KEY_NEW);
    char *row = grant_row();
    assert_contains(row, old_id);
    free(row);
    ck_assert_int_eq(td_stop(&td), 0);
    configure(&td, "[\"${LHTEST_KEY_NEW}\", \"${LHTEST_KEY_OLD}\"]", NULL);
    fake_http_require_bearer(api, "fake-oauth-at-2"); /* the old access token is refused */
    start(&td);
    ck_assert(td_wait_until(api_saw, "Bearer fake-oauth-at-2", 20000));
    row = grant_row();
    assert_contains(row, new_id);
    ck_assert_ptr_null(strstr(row, old_id));
    ck_assert_ptr_null(strstr(row, "fake-oauth-"));
    free(row);
    free(old_id);
    free(new_id);
}
END_TEST

START_TEST(test_connect_refuses_what_cannot_consent_and_says_why)
{
    char *output = NULL;
    /* the provider's user said no */
    fake_oauth_deny(idp, "access_denied");
    ck_assert_int_eq(connect_pasting("mail", &output), 1);
    assert_contains(output, "the provider did not grant access: access_denied");
    free(output);
    fake_oauth_deny(idp, NULL);
    ck_assert_ptr_null(grant_row());

    /* an instance whose plugin has no provider, and one that does not exist */
    char *command = util_printf("'%s' connect inbound -c '%s'", td_binary(), config_path);
    ck_assert_int_eq(tu_run(command, &output), 1);
    assert_contains(output, "declares no OAuth provider");
    free(output);
    free(command);
    command = util_printf("'%s' connect nowhere -c '%s'", td_binary(), config_path);
    ck_assert_int_eq(tu_run(command, &output), 1);
    assert_contains(output, "no instance named \"nowhere\"");
    free(output);
    free(command);

    /* without secrets_key the grant could not be stored: refused before anything starts */
    char *dir = tu_tmpdir();
    char *main_yaml =
        util_printf("database_url: \"%s\"\nplugin_path: [\"%s/plugins\"]\n", td.db_url, td.dir);
    tu_write_file(dir, "leadhub.yaml", main_yaml);
    char *mail = util_printf("%s/conf.d/mail.yaml", td.dir);
    char *copy = util_printf("mkdir -p '%s/conf.d' && cp '%s' '%s/conf.d/'", dir, mail, dir);
    ck_assert_int_eq(tu_run(copy, NULL), 0);
    command = util_printf("'%s' connect mail -c '%s/leadhub.yaml'", td_binary(), dir);
    ck_assert_int_eq(tu_run(command, &output), 1);
    assert_contains(output, "no secrets_key is configured");
    assert_contains(output, "openssl rand -base64 32");
    free(output);
    free(command);
    free(copy);
    free(mail);
    free(main_yaml);
    tu_rmrf(dir);
    free(dir);
    ck_assert_uint_eq(fake_oauth_count(idp, "POST", "/contoso/token"), 0);
}
END_TEST

START_TEST(test_connect_reports_when_the_refresh_token_ends)
{
    fake_oauth_refresh_lifetime(idp, 10 * 24 * 3600); /* LinkedIn's, ten days from its end */
    char *output = NULL;
    ck_assert_int_eq(connect_pasting("mail", &output), 0);
    ck_assert_msg(strstr(output, "(9 days)") != NULL || strstr(output, "(10 days)") != NULL, "%s",
                  output);
    free(output);
    json_t *oauth = consent_status(&td);
    json_int_t days = json_integer_value(json_object_get(oauth, "refresh_token_days_left"));
    ck_assert_msg(days == 9 || days == 10, "days left: %lld", (long long)days);
    ck_assert_ptr_nonnull(json_string_value(json_object_get(oauth, "refresh_token_expires_at")));
    /* within 14 days: what to do is said */
    assert_contains(json_string_value(json_object_get(json_object_get(oauth, "action"), "cli")),
                    "leadhubd connect mail");
    json_decref(oauth);
    ck_assert(td_wait_until(fetched, NULL, 20000));
    char *metrics_url = td_url(&td, "/metrics");
    struct http_result metrics;
    ck_assert_int_eq(http_get(metrics_url, &metrics), 0);
    assert_contains(metrics.body, "leadhub_oauth2_refresh_token_days_left{instance=\"mail\"}");
    http_result_free(&metrics);
    free(metrics_url);
}
END_TEST

/* --- the REST flow ------------------------------------------------------------------- */

/* POST /v1/connectors/mail/connect on replica d: the authorization URL (malloc'd). */
static char *begin_consent(const struct test_daemon *d, const struct openapi *spec)
{
    char *url = td_url(d, "/v1/connectors/mail/connect");
    const char *headers[] = {"Authorization: Bearer " ADMIN_TOKEN, NULL};
    struct http_result result;
    ck_assert_int_eq(http_request("POST", url, headers, NULL, 0, &result), 0);
    free(url);
    ck_assert_msg(result.status == 201, "%ld: %s", result.status, result.body);
    char *problem =
        openapi_check_response(spec, "POST", "/v1/connectors/mail/connect", 201, result.body);
    ck_assert_msg(problem == NULL, "%s", problem);
    json_t *body = json_loads(result.body, 0, NULL);
    char *authorization = strdup(json_string_value(json_object_get(body, "authorization_url")));
    json_decref(body);
    http_result_free(&result);
    return authorization;
}

/* The browser at the end of a consent: the page the daemon's callback shows (status). */
static long callback_page(const char *location, char **page_out)
{
    struct http_result page;
    ck_assert_int_eq(http_get(location, &page), 0);
    assert_contains(page.headers, "text/html");
    long status = page.status;
    *page_out = page.body;
    page.body = NULL;
    http_result_free(&page);
    return status;
}

static bool grant_refused(void *arg)
{
    (void)arg;
    return consent_state_is("needs_consent");
}

START_TEST(test_rest_consent_begun_on_one_replica_completes_on_another_once)
{
    char *doc = tu_path(tu_source_dir(), "docs/openapi.yaml");
    char *error = NULL;
    struct openapi *spec = openapi_load(doc, &error);
    ck_assert_msg(spec != NULL, "%s", error ? error : "?");
    free(doc);
    /* replica B, on the same database, is where the provider sends browsers back; A gets
     * the same redirect_url */
    td_init(&other, td.db_url);
    configure(&other, "${LHTEST_KEY_OLD}", &other);
    start(&other);
    ck_assert_int_eq(td_stop(&td), 0);
    configure(&td, "${LHTEST_KEY_OLD}", &other);
    start(&td);
    fake_oauth_register_redirect(idp, other.base_url);

    char *authorization = begin_consent(&td, spec);
    assert_param(authorization, "code_challenge_method", "S256");
    char *location = fake_oauth_browse(authorization, NULL);
    ck_assert_ptr_nonnull(location);
    char *callback = td_url(&other, "/oauth/callback?");
    ck_assert_msg(strncmp(location, callback, strlen(callback)) == 0, "%s", location);
    free(callback);
    char *page = NULL;
    ck_assert_int_eq(callback_page(location, &page), 200);
    assert_contains(page, "mail is connected");
    free(page);
    /* the state worked once */
    ck_assert_int_eq(callback_page(location, &page), 400);
    assert_contains(page, "unknown or was completed already");
    free(page);
    ck_assert_int_eq(scalar("SELECT count(*) FROM oauth_consents"), 0);
    ck_assert(td_wait_until(consent_state_is, "granted", 5000));
    ck_assert(td_wait_until(fetched, NULL, 20000));
    free(location);
    free(authorization);

    /* a consent left waiting past its ten minutes is refused */
    authorization = begin_consent(&td, spec);
    location = fake_oauth_browse(authorization, NULL);
    PQclear(PQexec(db, "UPDATE oauth_consents SET expires_at = now() - interval '1 second'"));
    ck_assert_int_eq(callback_page(location, &page), 400);
    assert_contains(page, "waited longer than 10 minutes");
    free(page);
    free(location);
    free(authorization);

    /* the user revokes the app: the next refresh is refused, every replica shows that the
     * instance needs consent, and what to do */
    fake_oauth_revoke_all(idp);
    fake_http_require_bearer(api, "not-any-token-yet"); /* the access token is refused too */
    ck_assert(td_wait_until(grant_refused, NULL, 30000));
    json_t *oauth = consent_status(&other);
    assert_contains(json_string_value(json_object_get(oauth, "reason")), "invalid_grant");
    assert_contains(json_string_value(json_object_get(json_object_get(oauth, "action"), "api")),
                    "POST /v1/connectors/mail/connect");
    json_decref(oauth);

    /* a new consent takes over at once, on whichever replica polls */
    fake_http_require_bearer(api, NULL);
    size_t asked = fake_http_request_count(api);
    authorization = begin_consent(&other, spec);
    location = fake_oauth_browse(authorization, NULL);
    ck_assert_int_eq(callback_page(location, &page), 200);
    free(page);
    ck_assert(td_wait_until(consent_state_is, "granted", 5000));
    char *fresh = fake_oauth_access_token(2); /* the refused refresh issued none */
    char *bearer = util_printf("Bearer %s", fresh);
    ck_assert_msg(td_wait_until(api_saw, bearer, 20000), "last: %s", last_bearer());
    ck_assert_uint_gt(fake_http_request_count(api), asked);
    free(bearer);
    free(fresh);
    free(location);
    free(authorization);
    openapi_free(spec);
}
END_TEST

START_TEST(test_rest_consent_says_what_an_instance_lacks)
{
    /* no oauth.redirect_url on this replica: 409 with what to set */
    long status = 0;
    json_t *body = admin_call(&td, "POST", "/v1/connectors/mail/connect", &status);
    ck_assert_int_eq(status, 409);
    json_t *error = json_object_get(body, "error");
    ck_assert_str_eq(json_string_value(json_object_get(error, "code")), "consent_unavailable");
    assert_contains(json_string_value(json_object_get(error, "message")), "oauth.redirect_url");
    json_decref(body);
    body = admin_call(&td, "POST", "/v1/connectors/inbound/connect", &status);
    ck_assert_int_eq(status, 409);
    json_decref(body);
    body = admin_call(&td, "POST", "/v1/connectors/nowhere/connect", &status);
    ck_assert_int_eq(status, 404);
    json_decref(body);
    /* the callback without a consent's parameters */
    char *url = td_url(&td, "/oauth/callback");
    char *page = NULL;
    ck_assert_int_eq(callback_page(url, &page), 400);
    free(page);
    free(url);
    url = td_url(&td, "/oauth/callback?code=x&state=never-begun");
    ck_assert_int_eq(callback_page(url, &page), 400);
    assert_contains(page, "unknown");
    free(page);
    free(url);
}
END_TEST

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    Suite *s = suite_create("connect");
    TCase *tc = tcase_create("connect");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc,
                   test_connect_receives_the_redirect_on_a_loopback_port_and_stores_a_sealed_grant);
    tcase_add_test(tc, test_connect_no_browser_takes_the_pasted_address_and_only_its_own);
    tcase_add_test(tc, test_connect_refuses_what_cannot_consent_and_says_why);
    tcase_add_test(tc, test_connect_reports_when_the_refresh_token_ends);
    tcase_add_test(tc, test_rest_consent_begun_on_one_replica_completes_on_another_once);
    tcase_add_test(tc, test_rest_consent_says_what_an_instance_lacks);
    suite_add_tcase(s, tc);
    int rc = tu_run_suite(s);
    curl_global_cleanup();
    return rc;
}
