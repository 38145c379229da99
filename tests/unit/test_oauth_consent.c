/*
 * test_oauth_consent.c - the pieces of consent that need no network: a provider's
 * declaration checked against its schema and resolved against an instance's settings, the
 * authorization URL it gives, PKCE, and the redirect a browser brings back (a callback's
 * query, an address pasted from a browser).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "oauth_consent.h"
#include "oauth_provider.h"
#include "testutil.h"
#include "util.h"

static const lh_config_field_t schema[] = {
    LH_FIELD(.name = "login_base", .type = LH_CONFIG_STRING, .description = "Identity base URL."),
    LH_FIELD(.name = "tenant", .type = LH_CONFIG_STRING, .description = "The directory."),
    LH_FIELD(.name = "mailbox", .type = LH_CONFIG_STRING, .description = "The mailbox."),
    LH_FIELD(.name = "client_id", .type = LH_CONFIG_STRING, .description = "Client id."),
    LH_FIELD(.name = "client_secret", .type = LH_CONFIG_SECRET, .description = "Client secret."),
    LH_FIELD(.name = "scopes", .type = LH_CONFIG_LIST, .description = "Scopes."),
    LH_FIELD_END,
};

static const char *const params[] = {"prompt=select_account", "login_hint={mailbox}", NULL};

static const lh_oauth_provider_t microsoft_like = {
    .struct_size = sizeof(lh_oauth_provider_t),
    .flags = LH_OAUTH_PKCE,
    .authorization_url = "{login_base}/{tenant}/oauth2/v2.0/authorize",
    .token_url = "{login_base}/{tenant}/oauth2/v2.0/token",
    .scopes = "offline_access {scopes}",
    .authorization_params = params,
};

static json_t *settings(void)
{
    json_t *s = json_pack("{s:s,s:s,s:s,s:s,s:[s,s],s:[s,s]}", "login_base",
                          "https://login.example.com/", "tenant", "contoso.onmicrosoft.com",
                          "mailbox", "ada+sales@contoso.com", "client_id", "c-1", "client_secret",
                          "secret-now", "secret-before", "scopes", "Mail.Read", "Calendars.Read");
    ck_assert_ptr_nonnull(s);
    return s;
}

START_TEST(test_provider_declaration_is_checked_against_the_schema)
{
    char *error = NULL;
    ck_assert_int_eq(oauth_provider_check(&microsoft_like, schema, &error), 0);
    struct {
        lh_oauth_provider_t provider;
        const char *expected;
    } bad[] = {
        {{.struct_size = 8, .authorization_url = "https://a/", .token_url = "https://a/"},
         "struct_size"},
        {{.struct_size = sizeof(lh_oauth_provider_t),
          .flags = 1U << 9,
          .authorization_url = "https://a/",
          .token_url = "https://a/"},
         "unknown bits"},
        {{.struct_size = sizeof(lh_oauth_provider_t),
          .authorization_url = "ftp://a/",
          .token_url = "https://a/"},
         "authorization_url must be an http(s) URL"},
        {{.struct_size = sizeof(lh_oauth_provider_t),
          .authorization_url = "https://a/{tenant",
          .token_url = "https://a/"},
         "without a setting name"},
        {{.struct_size = sizeof(lh_oauth_provider_t),
          .authorization_url = "https://a/",
          .token_url = "https://a/{region}/token"},
         "{region} names no setting"},
        {{.struct_size = sizeof(lh_oauth_provider_t),
          .authorization_url = "https://a/",
          .token_url = "https://a/",
          .authorization_params = (const char *const[]){"state=x", NULL}},
         "state is set by the host"},
        {{.struct_size = sizeof(lh_oauth_provider_t),
          .authorization_url = "https://a/",
          .token_url = "https://a/",
          .client_id_setting = "app_id"},
         "client id setting \"app_id\""},
    };
    for (size_t i = 0; i < UTIL_ARRAY_LEN(bad); i++) {
        ck_assert_int_eq(oauth_provider_check(&bad[i].provider, schema, &error), -1);
        ck_assert_msg(strstr(error, bad[i].expected) != NULL, "case %zu: %s", i, error);
        free(error);
    }
}
END_TEST

START_TEST(test_provider_resolves_templates_from_the_settings)
{
    json_t *s = settings();
    struct oauth_endpoints e;
    char *error = NULL;
    ck_assert_int_eq(oauth_provider_resolve(&microsoft_like, s, &e, &error), 0);
    /* a base URL's trailing slash does not double the path's */
    ck_assert_str_eq(e.authorization_url,
                     "https://login.example.com/contoso.onmicrosoft.com/oauth2/v2.0/authorize");
    ck_assert_str_eq(e.token_url,
                     "https://login.example.com/contoso.onmicrosoft.com/oauth2/v2.0/token");
    ck_assert_str_eq(e.scope, "offline_access Mail.Read Calendars.Read");
    ck_assert_str_eq(e.client_id, "c-1");
    ck_assert_str_eq(e.client_secret, "secret-now"); /* the first while rolling */
    ck_assert(e.pkce);

    char *url = oauth_authorization_url(&e, "http://127.0.0.1:8123/callback", "st-1", "ch-1");
    ck_assert_str_eq(url, "https://login.example.com/contoso.onmicrosoft.com/oauth2/v2.0/authorize"
                          "?response_type=code&client_id=c-1&redirect_uri=http%3A%2F%2F127.0.0.1"
                          "%3A8123%2Fcallback&scope=offline_access%20Mail.Read%20Calendars.Read"
                          "&state=st-1&code_challenge=ch-1&code_challenge_method=S256"
                          "&prompt=select_account&login_hint=ada%2Bsales%40contoso.com");
    free(url);
    oauth_endpoints_clear(&e);

    /* what cannot go where the template puts it, or is missing, is named */
    json_object_set_new(s, "tenant", json_string("contoso/../evil"));
    ck_assert_int_eq(oauth_provider_resolve(&microsoft_like, s, &e, &error), -1);
    ck_assert_ptr_nonnull(strstr(error, "setting tenant may hold only"));
    free(error);
    json_object_set_new(s, "tenant", json_string("contoso"));
    json_object_set_new(s, "login_base", json_string("https://login.example.com?x=1"));
    ck_assert_int_eq(oauth_provider_resolve(&microsoft_like, s, &e, &error), -1);
    ck_assert_ptr_nonnull(strstr(error, "setting login_base must be an http(s) URL"));
    free(error);
    json_object_del(s, "login_base");
    ck_assert_int_eq(oauth_provider_resolve(&microsoft_like, s, &e, &error), -1);
    ck_assert_ptr_nonnull(strstr(error, "setting login_base is needed"));
    free(error);
    json_object_del(s, "client_id");
    ck_assert_int_eq(oauth_provider_resolve(&microsoft_like, s, &e, &error), -1);
    ck_assert_ptr_nonnull(strstr(error, "setting client_id is not set"));
    free(error);
    json_decref(s);
}
END_TEST

START_TEST(test_consent_pkce_challenge_is_the_s256_of_its_verifier)
{
    struct oauth_consent a, b;
    char *error = NULL;
    ck_assert_int_eq(oauth_consent_begin(&a, &error), 0);
    ck_assert_int_eq(oauth_consent_begin(&b, &error), 0);
    ck_assert_uint_eq(strlen(a.state), 43);
    ck_assert_uint_eq(strlen(a.verifier), 43);
    ck_assert_uint_eq(strspn(a.verifier, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                         "0123456789-_"),
                      43);
    unsigned char digest[32];
    char expected[48];
    crypto_sha256(a.verifier, strlen(a.verifier), digest);
    crypto_base64url_encode(digest, sizeof(digest), expected);
    ck_assert_str_eq(a.challenge, expected);
    ck_assert_str_ne(a.state, b.state);
    ck_assert_str_ne(a.verifier, b.verifier);
    ck_assert(oauth_state_matches(a.state, a.state));
    ck_assert(!oauth_state_matches(a.state, b.state));
    ck_assert(!oauth_state_matches(a.state, NULL));
    oauth_consent_clear(&a);
    oauth_consent_clear(&b);
}
END_TEST

START_TEST(test_redirect_parse_takes_a_pasted_address_or_a_query)
{
    struct oauth_redirect r;
    ck_assert_int_eq(oauth_redirect_parse("  http://127.0.0.1:8765/callback?code=4%2F0AX4&"
                                          "state=Yq3x_9-a&scope=email+profile#_=_ \n",
                                          &r),
                     0);
    ck_assert_str_eq(r.code, "4/0AX4");
    ck_assert_str_eq(r.state, "Yq3x_9-a");
    ck_assert_ptr_null(r.error);
    oauth_redirect_clear(&r);
    ck_assert_int_eq(oauth_redirect_parse("error=access_denied&error_description=The+user+"
                                          "denied+access.&state=s1",
                                          &r),
                     0);
    ck_assert_str_eq(r.error, "access_denied");
    ck_assert_str_eq(r.error_description, "The user denied access.");
    ck_assert_ptr_null(r.code);
    oauth_redirect_clear(&r);

    const char *refused[] = {
        "",
        "http://127.0.0.1:8765/callback", /* no query */
        "state=s1",                       /* neither a code nor an error */
        "code=a&error=b&state=s",         /* both */
        "code=a&code=b&state=s",          /* which one? */
        "code=a%2&state=s",               /* malformed escape */
        "code=a%00b&state=s",             /* a NUL inside */
        "code=a%0Ab&state=s",             /* a control character */
        "code=&state=s",                  /* empty */
    };
    for (size_t i = 0; i < UTIL_ARRAY_LEN(refused); i++) {
        ck_assert_msg(oauth_redirect_parse(refused[i], &r) == -1, "accepted \"%s\"", refused[i]);
    }
    char *long_one = malloc(9000);
    memset(long_one, 'a', 8999);
    long_one[8999] = '\0';
    memcpy(long_one, "code=", 5);
    ck_assert_int_eq(oauth_redirect_parse(long_one, &r), -1);
    free(long_one);
}
END_TEST

START_TEST(test_consent_page_escapes_what_a_provider_said)
{
    char *page = oauth_consent_page("access not granted", "<script>alert(\"x\")</script>&");
    ck_assert_ptr_null(strstr(page, "<script>"));
    ck_assert_ptr_nonnull(strstr(page, "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;"));
    free(page);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("oauth_consent");
    TCase *tc = tcase_create("consent");
    tcase_add_test(tc, test_provider_declaration_is_checked_against_the_schema);
    tcase_add_test(tc, test_provider_resolves_templates_from_the_settings);
    tcase_add_test(tc, test_consent_pkce_challenge_is_the_s256_of_its_verifier);
    tcase_add_test(tc, test_redirect_parse_takes_a_pasted_address_or_a_query);
    tcase_add_test(tc, test_consent_page_escapes_what_a_provider_said);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
