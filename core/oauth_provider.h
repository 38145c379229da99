/*
 * oauth_provider.h - a plugin's OAuth provider declaration (lh_oauth_provider_t): checked
 * when the plugin is loaded, and resolved against an instance's settings into the URLs,
 * scopes, parameters and client credentials of that instance.
 */
#ifndef LEADHUB_OAUTH_PROVIDER_H
#define LEADHUB_OAUTH_PROVIDER_H

#include <stdbool.h>

#include <jansson.h>

#include "leadhub.h"

/* An instance's provider, resolved. Every string owned; free with oauth_endpoints_clear(). */
struct oauth_endpoints {
    char *authorization_url;
    char *token_url;
    char *scope;         /* "" when none */
    json_t *params;      /* extra authorization parameters: [[name, value], ...] */
    char *client_id;     /* never NULL once resolved */
    char *client_secret; /* NULL for a public client; a secret: never print */
    bool pkce;
    bool token_scope;
};

/* The provider a (normalized) descriptor declares, or NULL. */
const lh_oauth_provider_t *oauth_provider_of(const lh_plugin_t *desc);

/*
 * oauth_provider_check - is a declaration well formed for this (normalized) schema?
 * (struct_size, flags,
 * both URLs present and starting with http(s):// or a {setting}, templates closed, every
 * {setting} in the schema, the client id setting in the schema.)
 *   Returns 0, or -1 with *error_out (malloc'd) naming the fault.
 */
int oauth_provider_check(const lh_oauth_provider_t *provider, const lh_config_field_t *schema,
                         char **error_out);

/*
 * oauth_provider_resolve - the declaration with the instance's settings (normalized, as
 * init() receives them; BORROWED) filled in.
 *   Returns 0, or -1 with *error_out (malloc'd, never a secret): a setting it names is
 *   unset or cannot go where the template puts it.
 */
int oauth_provider_resolve(const lh_oauth_provider_t *provider, const json_t *settings,
                           struct oauth_endpoints *out, char **error_out);

void oauth_endpoints_clear(struct oauth_endpoints *endpoints);

/*
 * oauth_authorization_url - where to send the browser: the authorization URL with
 * response_type=code, client_id, redirect_uri, scope, state, the PKCE challenge (when the
 * provider takes PKCE; challenge may be NULL otherwise) and the extra parameters.
 * malloc'd (NULL when out of memory).
 */
char *oauth_authorization_url(const struct oauth_endpoints *endpoints, const char *redirect_uri,
                              const char *state, const char *challenge);

/* oauth_form_append - "&key=value" (no '&' first) in application/x-www-form-urlencoded;
 * nothing when value is NULL. */
struct strbuf;
void oauth_form_append(struct strbuf *sb, const char *key, const char *value);

#endif
