/* oauth_provider.c - see oauth_provider.h. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "oauth_provider.h"
#include "util.h"

#define KNOWN_OAUTH_FLAGS (LH_OAUTH_PKCE | LH_OAUTH_TOKEN_SCOPE)

/* The parameters the host sets itself: a provider may not declare them again. */
static const char *const host_params[] = {
    "response_type", "client_id",      "redirect_uri",         "scope",
    "state",         "code_challenge", "code_challenge_method"};

enum position { IN_URL, IN_SCOPES, IN_PARAM };

const lh_oauth_provider_t *oauth_provider_of(const lh_plugin_t *desc)
{
    /* a loaded plugin's descriptor is the host's normalized copy: the field is there, and
     * points to the provider's copy (loader.c) */
    return desc != NULL ? desc->oauth_provider : NULL;
}

void oauth_form_append(struct strbuf *sb, const char *key, const char *value)
{
    if (value == NULL) {
        return;
    }
    strbuf_appendf(sb, "%s%s=", sb->len ? "&" : "", key);
    for (const unsigned char *p = (const unsigned char *)value; *p != '\0'; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.' || *p == '~') {
            strbuf_append_len(sb, (const char *)p, 1);
        } else {
            strbuf_appendf(sb, "%%%02X", *p);
        }
    }
}

static const lh_config_field_t *schema_field(const lh_config_field_t *schema, const char *name,
                                             size_t len)
{
    for (const lh_config_field_t *f = schema; f != NULL && f->name != NULL; f++) {
        if (strlen(f->name) == len && strncmp(f->name, name, len) == 0) {
            return f;
        }
    }
    return NULL;
}

/* Checks one template: braces closed, names in the schema. what: for the message. */
static int check_template(const char *text, const char *what, const lh_config_field_t *schema,
                          char **error_out)
{
    for (const char *p = text; *p != '\0'; p++) {
        if (*p == '}') {
            *error_out = util_printf("%s: a '}' without its '{'", what);
            return -1;
        }
        if (*p != '{') {
            continue;
        }
        const char *close = strchr(p, '}');
        size_t len = close != NULL ? (size_t)(close - p - 1) : 0;
        if (close == NULL || len == 0 || memchr(p + 1, '{', len) != NULL) {
            *error_out = util_printf("%s: a '{' without a setting name and its '}'", what);
            return -1;
        }
        if (schema_field(schema, p + 1, len) == NULL) {
            *error_out = util_printf("%s: {%.*s} names no setting of the plugin's schema", what,
                                     (int)len, p + 1);
            return -1;
        }
        p = close;
    }
    return 0;
}

static int check_url(const char *url, const char *what, const lh_config_field_t *schema,
                     char **error_out)
{
    if (url == NULL ||
        (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0 && url[0] != '{')) {
        *error_out = util_printf("%s must be an http(s) URL, or start with the {setting} "
                                 "holding one",
                                 what);
        return -1;
    }
    return check_template(url, what, schema, error_out);
}

int oauth_provider_check(const lh_oauth_provider_t *provider, const lh_config_field_t *schema,
                         char **error_out)
{
    *error_out = NULL;
    if (provider->struct_size < sizeof(lh_oauth_provider_t)) {
        *error_out = util_printf("oauth_provider.struct_size is %u; declare it with "
                                 "LH_OAUTH_PROVIDER(...)",
                                 (unsigned)provider->struct_size);
        return -1;
    }
    if ((provider->flags & ~(uint32_t)KNOWN_OAUTH_FLAGS) != 0) {
        *error_out = util_printf("oauth_provider.flags holds unknown bits 0x%x",
                                 (unsigned)(provider->flags & ~(uint32_t)KNOWN_OAUTH_FLAGS));
        return -1;
    }
    if (check_url(provider->authorization_url, "oauth_provider.authorization_url", schema,
                  error_out) != 0 ||
        check_url(provider->token_url, "oauth_provider.token_url", schema, error_out) != 0 ||
        (provider->scopes != NULL &&
         check_template(provider->scopes, "oauth_provider.scopes", schema, error_out) != 0)) {
        return -1;
    }
    for (const char *const *item = provider->authorization_params; item != NULL && *item != NULL;
         item++) {
        const char *equals = strchr(*item, '=');
        size_t name_len = equals != NULL ? (size_t)(equals - *item) : 0;
        if (name_len == 0 || strspn(*item, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                           "0123456789_.-") != name_len) {
            *error_out = util_printf("oauth_provider.authorization_params: \"%.64s\" is not "
                                     "name=value",
                                     *item);
            return -1;
        }
        for (size_t i = 0; i < UTIL_ARRAY_LEN(host_params); i++) {
            if (strlen(host_params[i]) == name_len &&
                strncmp(*item, host_params[i], name_len) == 0) {
                *error_out = util_printf("oauth_provider.authorization_params: %s is set by the "
                                         "host",
                                         host_params[i]);
                return -1;
            }
        }
        if (check_template(equals + 1, "oauth_provider.authorization_params", schema, error_out) !=
            0) {
            return -1;
        }
    }
    const char *id =
        provider->client_id_setting != NULL ? provider->client_id_setting : "client_id";
    const char *secret = provider->client_secret_setting;
    if (schema_field(schema, id, strlen(id)) == NULL) {
        *error_out = util_printf("oauth_provider: the client id setting \"%.64s\" is not in the "
                                 "plugin's schema",
                                 id);
        return -1;
    }
    if (secret != NULL && schema_field(schema, secret, strlen(secret)) == NULL) {
        *error_out = util_printf("oauth_provider: the client secret setting \"%.64s\" is not in "
                                 "the plugin's schema",
                                 secret);
        return -1;
    }
    return 0;
}

static bool url_safe(const char *text)
{
    return text[0] != '\0' && strspn(text, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                           "0123456789-._~") == strlen(text);
}

/* Appends the value of setting `name` for a {name} at `offset` of a template in `where`. */
static int expand_one(const json_t *settings, const char *name, enum position where, size_t offset,
                      struct strbuf *out, char **error_out)
{
    const json_t *value = json_object_get(settings, name);
    if (where == IN_SCOPES && json_is_array(value)) {
        size_t i;
        const json_t *item;
        json_array_foreach(value, i, item)
        {
            strbuf_appendf(out, "%s%s", i ? " " : "", json_string_value(item));
        }
        return 0;
    }
    const char *text = json_string_value(value);
    if (text == NULL || text[0] == '\0') {
        *error_out = util_printf("setting %s is needed for OAuth consent (the provider's "
                                 "declaration uses it): set it in the instance file",
                                 name);
        return -1;
    }
    if (where == IN_URL && offset == 0) {
        bool http = strncmp(text, "https://", 8) == 0 || strncmp(text, "http://", 7) == 0;
        if (!http || strpbrk(text, "?# ") != NULL) {
            *error_out = util_printf("setting %s must be an http(s) URL without query, to "
                                     "begin the provider's URL",
                                     name);
            return -1;
        }
        size_t len = strlen(text);
        while (len > 0 && text[len - 1] == '/') {
            len--;
        }
        strbuf_append_len(out, text, len);
        return 0;
    }
    if (where == IN_URL && !url_safe(text)) {
        *error_out = util_printf("setting %s may hold only letters, digits and -._~ to go into "
                                 "the provider's URL",
                                 name);
        return -1;
    }
    strbuf_append(out, text);
    return 0;
}

/* The template with its {settings} filled in; malloc'd, or NULL with *error_out. */
static char *expand(const char *template, enum position where, const json_t *settings,
                    char **error_out)
{
    struct strbuf out = {0};
    strbuf_append(&out, "");
    for (const char *p = template; *p != '\0'; p++) {
        const char *close = *p == '{' ? strchr(p, '}') : NULL;
        if (close == NULL) {
            strbuf_append_len(&out, p, 1);
            continue;
        }
        char *name = strndup(p + 1, (size_t)(close - p - 1));
        int rc = name != NULL
                     ? expand_one(settings, name, where, (size_t)(p - template), &out, error_out)
                     : -1;
        free(name);
        if (rc != 0) {
            strbuf_free(&out);
            return NULL;
        }
        p = close;
    }
    char *result = strbuf_take(&out);
    if (result == NULL && *error_out == NULL) {
        *error_out = strdup("out of memory");
    }
    return result;
}

/* A secret setting may be a list while rolling: the first value is the current one. */
static const char *setting_text(const json_t *settings, const char *name)
{
    const json_t *value = json_object_get(settings, name);
    return json_string_value(json_is_array(value) ? json_array_get(value, 0) : value);
}

int oauth_provider_resolve(const lh_oauth_provider_t *provider, const json_t *settings,
                           struct oauth_endpoints *out, char **error_out)
{
    memset(out, 0, sizeof(*out));
    *error_out = NULL;
    const char *id_setting =
        provider->client_id_setting != NULL ? provider->client_id_setting : "client_id";
    const char *secret_setting =
        provider->client_secret_setting != NULL ? provider->client_secret_setting : "client_secret";
    const char *client_id = setting_text(settings, id_setting);
    const char *client_secret = setting_text(settings, secret_setting);
    if (client_id == NULL || client_id[0] == '\0') {
        *error_out = util_printf("setting %s is not set: OAuth consent needs the app's client "
                                 "id (and its secret) in the instance file",
                                 id_setting);
        return -1;
    }
    out->client_id = strdup(client_id);
    out->client_secret = client_secret != NULL ? strdup(client_secret) : NULL;
    out->pkce = (provider->flags & LH_OAUTH_PKCE) != 0;
    out->token_scope = (provider->flags & LH_OAUTH_TOKEN_SCOPE) != 0;
    out->params = json_array();
    if (out->client_id == NULL || (client_secret != NULL && out->client_secret == NULL) ||
        out->params == NULL) {
        *error_out = strdup("out of memory");
        goto fail;
    }
    out->authorization_url = expand(provider->authorization_url, IN_URL, settings, error_out);
    out->token_url = out->authorization_url != NULL
                         ? expand(provider->token_url, IN_URL, settings, error_out)
                         : NULL;
    out->scope = out->token_url != NULL ? expand(provider->scopes != NULL ? provider->scopes : "",
                                                 IN_SCOPES, settings, error_out)
                                        : NULL;
    if (out->scope == NULL) {
        goto fail;
    }
    for (const char *const *item = provider->authorization_params; item != NULL && *item != NULL;
         item++) {
        const char *equals = strchr(*item, '=');
        char *value = expand(equals + 1, IN_PARAM, settings, error_out);
        if (value == NULL) {
            goto fail;
        }
        json_array_append_new(out->params,
                              json_pack("[s%,s]", *item, (size_t)(equals - *item), value));
        free(value);
    }
    return 0;
fail:
    oauth_endpoints_clear(out);
    return -1;
}

void oauth_endpoints_clear(struct oauth_endpoints *endpoints)
{
    free(endpoints->authorization_url);
    free(endpoints->token_url);
    free(endpoints->scope);
    json_decref(endpoints->params);
    free(endpoints->client_id);
    if (endpoints->client_secret != NULL) {
        explicit_bzero(endpoints->client_secret, strlen(endpoints->client_secret));
        free(endpoints->client_secret);
    }
    memset(endpoints, 0, sizeof(*endpoints));
}

char *oauth_authorization_url(const struct oauth_endpoints *endpoints, const char *redirect_uri,
                              const char *state, const char *challenge)
{
    struct strbuf query = {0};
    oauth_form_append(&query, "response_type", "code");
    oauth_form_append(&query, "client_id", endpoints->client_id);
    oauth_form_append(&query, "redirect_uri", redirect_uri);
    if (endpoints->scope[0] != '\0') {
        oauth_form_append(&query, "scope", endpoints->scope);
    }
    oauth_form_append(&query, "state", state);
    if (endpoints->pkce && challenge != NULL) {
        oauth_form_append(&query, "code_challenge", challenge);
        oauth_form_append(&query, "code_challenge_method", "S256");
    }
    size_t i;
    const json_t *pair;
    json_array_foreach(endpoints->params, i, pair)
    {
        oauth_form_append(&query, json_string_value(json_array_get(pair, 0)),
                          json_string_value(json_array_get(pair, 1)));
    }
    char *url = query.failed ? NULL
                             : util_printf("%s%c%s", endpoints->authorization_url,
                                           strchr(endpoints->authorization_url, '?') ? '&' : '?',
                                           strbuf_value(&query));
    strbuf_free(&query);
    return url;
}
