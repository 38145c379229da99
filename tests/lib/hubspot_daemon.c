/* hubspot_daemon.c - see hubspot_daemon.h. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

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
