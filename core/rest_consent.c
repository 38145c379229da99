/*
 * rest_consent.c - POST /v1/connectors/{name}/connect: an admin begins the OAuth consent of
 * an instance and gets the address to send a browser to. The consent waits in the database
 * (oauth_consents) for the provider to send that browser to GET /oauth/callback, on any
 * replica (oauth_callback.c), for OAUTH_CONSENT_TTL_MS; its state works once.
 */
#include <stdlib.h>
#include <string.h>

#include "oauth_consent.h"
#include "rest_internal.h"
#include "util.h"

/* 409 consent_unavailable: the instance cannot take consent until its operator acts. */
static void unavailable(struct rest_response *response, const char *name, const char *why,
                        const char *hint)
{
    json_t *details = json_pack("{s:s,s:s}", "instance", name, "hint", hint);
    rest_error(response, 409, "consent_unavailable", details, "%s", why);
    json_decref(details);
}

/* Begins and stores the consent; the 201 answer, or the error, is set on response. */
static void begin(const struct rest_request *request, struct rest_response *response,
                  struct instance *instance, const char *redirect_url)
{
    struct daemon *daemon = request->daemon;
    const lh_oauth_provider_t *provider = oauth_provider_of(instance->plugin->desc);
    struct oauth_endpoints endpoints = {0};
    struct oauth_consent consent = {0};
    char *error = NULL;
    if (oauth_provider_resolve(provider, instance->settings, &endpoints, &error) != 0) {
        unavailable(response, instance->name, error != NULL ? error : "out of memory",
                    "complete the instance file (docs/connectors/), then reload");
        goto out;
    }
    if (oauth_consent_begin(&consent, &error) != 0 ||
        oauth_consent_address(&consent, &endpoints, redirect_url, &error) != 0) {
        rest_error(response, 500, "internal", NULL, "%s", error != NULL ? error : "?");
        goto out;
    }
    struct store *store = rest_store(daemon, response);
    if (store == NULL) {
        goto out;
    }
    enum store_result rc =
        oauth_consent_save(store, daemon->services.keyring, instance->name, &consent, &error);
    if (rc != STORE_OK) {
        log_error("REST consent of %s could not be stored: %s", instance->name,
                  error != NULL ? error : "?");
        rest_error(response, rc == STORE_REJECTED ? 500 : 503,
                   rc == STORE_REJECTED ? "internal" : "unavailable", NULL,
                   rc == STORE_REJECTED ? "the consent could not be stored; see the daemon's log"
                                        : "the database is unavailable; retry");
        goto out;
    }
    char expires[32];
    util_format_rfc3339(util_now_ms() + OAUTH_CONSENT_TTL_MS, expires);
    rest_ok(response, 201,
            json_pack("{s:s,s:s,s:s,s:s}", "instance", instance->name, "authorization_url",
                      consent.authorization_url, "redirect_uri", consent.redirect_uri, "expires_at",
                      expires));
out:
    free(error);
    oauth_consent_clear(&consent);
    oauth_endpoints_clear(&endpoints);
}

void rest_connector_connect(const struct rest_request *request, struct rest_response *response,
                            const char *name)
{
    static const char *const allowed[] = {NULL};
    if (!rest_params_only(request, response, allowed)) {
        return;
    }
    struct daemon *daemon = request->daemon;
    struct instance *instance =
        util_instance_name_valid(name) ? daemon_find_instance(daemon, name) : NULL;
    if (instance == NULL) {
        rest_error(response, 404, "not_found", NULL, "no enabled connector instance named %.64s",
                   name);
        return;
    }
    char *redirect_url = NULL;
    pthread_rwlock_rdlock(&daemon->config_lock);
    if (daemon->config->oauth_redirect_url != NULL) {
        redirect_url = strdup(daemon->config->oauth_redirect_url);
    }
    pthread_rwlock_unlock(&daemon->config_lock);
    if (oauth_provider_of(instance->plugin->desc) == NULL) {
        char *why = util_printf("%s takes no OAuth consent: its plugin %s declares no OAuth "
                                "provider",
                                name, instance->plugin->name);
        unavailable(response, name, why != NULL ? why : "no OAuth provider",
                    "only instances of plugins with an OAuth provider take consent");
        free(why);
    } else if (daemon->services.keyring == NULL) {
        unavailable(response, name,
                    "no secrets_key is configured, so the grant could not be stored",
                    SEAL_KEY_HINT);
    } else if (redirect_url == NULL) {
        unavailable(response, name,
                    "oauth.redirect_url is not configured: the provider would not know where "
                    "to send the browser back",
                    "set oauth.redirect_url to this daemon's /oauth/callback as the browser "
                    "reaches it, register the same URL with the provider's app, and reload "
                    "(or run `leadhubd connect` from a terminal)");
    } else {
        begin(request, response, instance, redirect_url);
    }
    free(redirect_url);
    instance_release(instance);
}
