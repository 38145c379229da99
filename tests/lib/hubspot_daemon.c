/* hubspot_daemon.c - see hubspot_daemon.h. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "http_client.h"
#include "hubspot_daemon.h"
#include "util.h"

void hubspot_daemon_start(struct test_daemon *td, struct fake_hubspot *fake,
                          const struct hubspot_daemon_options *options)
{
    const struct hubspot_daemon_options none = {0};
    const struct hubspot_daemon_options *o = options != NULL ? options : &none;
    fake_hubspot_allow_token(fake, HD_TOKEN);
    td_webhook_instance(td, "inbound", HD_INBOUND_SECRET);
    setenv("LHTEST_HUBSPOT_TOKEN", HD_TOKEN, 1);
    setenv("LHTEST_HUBSPOT_WEBHOOK", HD_WEBHOOK_SECRET, 1);
    char *base = fake_hubspot_url(fake, "");
    char *hook = td_url(td, "/webhooks/crm");
    char *crm = util_printf("name: crm\nplugin: hubspot\npoll_interval: %s\nsettings:\n"
                            "  auth: private_app\n  access_token: ${LHTEST_HUBSPOT_TOKEN}\n"
                            "  api_base: %s\n  search_interval: 0s\n  pull: %s\n"
                            "  webhook_client_secret: ${LHTEST_HUBSPOT_WEBHOOK}\n"
                            "  webhook_url: %s\n%s",
                            o->poll_interval != NULL ? o->poll_interval : "1s", base,
                            o->pull != NULL ? o->pull : "[contacts]", hook,
                            o->settings != NULL ? o->settings : "");
    free(hook);
    td_connector(td, "crm", crm);
    free(crm);
    free(base);
    td->extra_main =
        util_printf("routes:\n"
                    "  - name: leads-to-crm\n"
                    "    from: inbound\n"
                    "    types: %s\n"
                    "    to: [crm]\n"
                    "delivery:\n"
                    "  backoff_base: 20ms\n"
                    "  backoff_cap: 200ms\n"
                    "  max_attempts: %d\n%s",
                    o->types != NULL ? o->types : "[\"lead.*\", \"meeting.*\"]",
                    o->max_attempts > 0 ? o->max_attempts : 3, o->main != NULL ? o->main : "");
    int rc = td_start(td);
    if (rc != 0) {
        char *log = td_log(td);
        ck_abort_msg("daemon did not start (%d):\n%s", rc, log);
    }
}

long hubspot_daemon_post_signed(const struct test_daemon *td, const char *secret, const char *body,
                                char **out)
{
    char *url = td_url(td, "/webhooks/crm");
    char ts[24];
    snprintf(ts, sizeof(ts), "%lld", (long long)util_now_ms());
    char *source = util_printf("POST%s%s%s", url, body, ts);
    unsigned char digest[32];
    crypto_hmac_sha256(secret, strlen(secret), source, strlen(source), digest);
    char signature[48];
    crypto_base64_encode(digest, sizeof(digest), signature);
    char *signature_header = util_printf("X-HubSpot-Signature-v3: %s", signature);
    char *timestamp_header = util_printf("X-HubSpot-Request-Timestamp: %s", ts);
    const char *headers[] = {"Content-Type: application/json", signature_header, timestamp_header,
                             NULL};
    struct http_result result;
    ck_assert_int_eq(http_request("POST", url, headers, body, strlen(body), &result), 0);
    long status = result.status;
    *out = strdup(result.body != NULL ? result.body : "");
    http_result_free(&result);
    free(signature_header);
    free(timestamp_header);
    free(source);
    free(url);
    return status;
}
