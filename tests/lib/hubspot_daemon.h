/*
 * hubspot_daemon.h - the real leadhubd with a `hubspot` instance on the fake HubSpot, for
 * the connector's end-to-end suites: a `webhook` instance "inbound" whose events are routed
 * to the hubspot instance "crm" (a private app, HubSpot's webhooks signed with
 * HD_WEBHOOK_SECRET against the daemon's own /webhooks/crm).
 */
#ifndef LEADHUB_HUBSPOT_DAEMON_H
#define LEADHUB_HUBSPOT_DAEMON_H

#include "daemon_harness.h"
#include "fake_hubspot.h"

#define HD_INBOUND_SECRET "e2e-inbound-secret"
#define HD_TOKEN          "pat-na1-e2e-5a7c"
#define HD_WEBHOOK_SECRET "e2e-hubspot-client-secret"

struct hubspot_daemon_options {
    const char *pull;          /* the instance's `pull`, "[contacts]" unless set */
    const char *poll_interval; /* "1s" unless set */
    const char *types;         /* the route's types, "[\"lead.*\", \"meeting.*\"]" unless set */
    const char *settings;      /* more settings lines ("  key: value\n"), or NULL */
    const char *main;          /* more of the main file (after routes and delivery), or NULL */
    int max_attempts;          /* delivery.max_attempts, 3 unless set */
};

/* Configures td (td_init first) for the fake (which it tells to accept HD_TOKEN) and
 * starts it; aborts the test with the daemon's log when it does not start. */
void hubspot_daemon_start(struct test_daemon *td, struct fake_hubspot *fake,
                          const struct hubspot_daemon_options *options);

/* POSTs body to the daemon's /webhooks/crm as HubSpot does, signed with v3 by `secret`
 * now; the HTTP status, the answer's body in *out (malloc'd). */
long hubspot_daemon_post_signed(const struct test_daemon *td, const char *secret, const char *body,
                                char **out);

#endif
