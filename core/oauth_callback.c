/* oauth_callback.c - see oauth_callback.h. */
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "log.h"
#include "oauth_callback.h"
#include "oauth_consent.h"
#include "util.h"

static void answer(int status, const char *title, const char *text, int *status_out,
                   char **page_out)
{
    *status_out = status;
    *page_out = oauth_consent_page(title, text);
}

/* The exchange for the instance whose consent it was; LH_OK or a reason in *error_out. */
static lh_status_t complete(struct daemon *daemon, struct store *store, const char *name,
                            const char *code, const char *redirect_uri, const char *verifier,
                            char **error_out)
{
    struct instance *instance = daemon_find_instance(daemon, name);
    const lh_oauth_provider_t *provider =
        instance != NULL ? oauth_provider_of(instance->plugin->desc) : NULL;
    if (provider == NULL) {
        instance_release(instance);
        *error_out = util_printf("instance %s is no longer enabled with an OAuth provider", name);
        return LH_CONFIG;
    }
    struct oauth_endpoints endpoints;
    lh_status_t status = LH_CONFIG;
    if (oauth_provider_resolve(provider, instance->settings, &endpoints, error_out) == 0) {
        struct lh_ctx ctx;
        struct oauth_grant grant;
        ctx_init(&ctx, instance, NULL);
        status = oauth_consent_complete(&ctx, &endpoints, code, redirect_uri, verifier, store,
                                        daemon->services.keyring, &grant, error_out);
        ctx_clear(&ctx);
        oauth_grant_clear(&grant);
        oauth_endpoints_clear(&endpoints);
    }
    if (status == LH_OK) {
        host_oauth2_forget(instance); /* this replica uses the new grant at once */
    }
    instance_release(instance);
    return status;
}

void oauth_callback_run(struct daemon *daemon, const char *query, int *status_out, char **page_out)
{
    struct oauth_redirect redirect;
    if (oauth_redirect_parse(query != NULL ? query : "", &redirect) != 0 ||
        redirect.state == NULL) {
        answer(400, "not a consent redirect",
               "This address takes the provider's redirect at the end of a consent begun "
               "with POST /v1/connectors/{name}/connect.",
               status_out, page_out);
        return;
    }
    char *error = NULL, *instance = NULL, *redirect_uri = NULL, *verifier = NULL;
    bool found = false, expired = false;
    struct store *store = store_open(daemon->database_url, &error);
    enum store_result rc =
        store != NULL ? oauth_consent_take(store, daemon->services.keyring, redirect.state, &found,
                                           &expired, &instance, &redirect_uri, &verifier, &error)
                      : STORE_UNAVAILABLE;
    if (rc != STORE_OK) {
        log_error("OAuth callback: the consent could not be read: %s", error ? error : "?");
        answer(503, "try again", "The database is unavailable; reload this page in a moment.",
               status_out, page_out);
    } else if (!found || expired) {
        answer(400, expired ? "consent expired" : "unknown consent",
               expired ? "This consent waited longer than 10 minutes: begin it again."
                       : "This consent is unknown or was completed already: begin it again.",
               status_out, page_out);
    } else if (redirect.error != NULL) {
        char *text = util_printf("The provider did not grant access to %s: %s%s%s", instance,
                                 redirect.error, redirect.error_description ? ": " : "",
                                 redirect.error_description ? redirect.error_description : "");
        log_write(LOG_LEVEL_WARN, NULL, instance, NULL, "OAuth consent refused: %s",
                  text ? text : "?");
        answer(400, "access not granted", text ? text : "", status_out, page_out);
        free(text);
    } else {
        free(error);
        error = NULL;
        lh_status_t status =
            complete(daemon, store, instance, redirect.code, redirect_uri, verifier, &error);
        if (status == LH_OK) {
            log_write(LOG_LEVEL_INFO, NULL, instance, NULL,
                      "OAuth consent completed: the grant is stored");
            char *text = util_printf("%s is connected. You can close this window.", instance);
            answer(200, "connected", text ? text : "", status_out, page_out);
            free(text);
        } else {
            log_write(LOG_LEVEL_WARN, NULL, instance, NULL, "OAuth consent failed: %s",
                      error ? error : "?");
            answer(status == LH_RETRY || status == LH_RETRY_AFTER ? 502 : 400, "consent failed",
                   error != NULL ? error : "?", status_out, page_out);
        }
    }
    store_close(store);
    free(error);
    free(instance);
    free(redirect_uri);
    if (verifier != NULL) {
        explicit_bzero(verifier, strlen(verifier));
    }
    free(verifier);
    oauth_redirect_clear(&redirect);
}
