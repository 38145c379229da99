/* oauth_grant.c - see oauth_grant.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oauth_grant.h"
#include "sealed_state.h"
#include "util.h"

static void wipe_free(char *secret)
{
    if (secret != NULL) {
        explicit_bzero(secret, strlen(secret));
        free(secret);
    }
}

void oauth_grant_clear(struct oauth_grant *grant)
{
    wipe_free(grant->refresh_token);
    wipe_free(grant->access_token);
    free(grant->scope);
    memset(grant, 0, sizeof(*grant));
}

const char *oauth_grant_origin_name(enum oauth_grant_origin origin)
{
    return origin == OAUTH_GRANT_CONSENT ? "consent" : "configured";
}

static char *string_member(const json_t *object, const char *name)
{
    const char *text = json_string_value(json_object_get(object, name));
    return text != NULL && text[0] != '\0' ? strdup(text) : NULL;
}

static int64_t integer_member(const json_t *object, const char *name)
{
    const json_t *value = json_object_get(object, name);
    return json_is_integer(value) ? (int64_t)json_integer_value(value) : 0;
}

enum store_result oauth_grant_load(struct store *store, const struct seal_keyring *ring,
                                   const char *instance, struct oauth_grant *grant, bool *found_out,
                                   char **error_out)
{
    memset(grant, 0, sizeof(*grant));
    *found_out = false;
    json_t *value = NULL;
    enum store_result rc =
        sealed_state_get(store, ring, instance, OAUTH_GRANT_KEY, true, &value, error_out);
    if (rc != STORE_OK || value == NULL) {
        return rc;
    }
    /* a row of before sealing has no origin: it descends from the configured token */
    const char *origin = json_string_value(json_object_get(value, "origin"));
    grant->origin = origin != NULL && strcmp(origin, "consent") == 0 ? OAUTH_GRANT_CONSENT
                                                                     : OAUTH_GRANT_CONFIGURED;
    const char *fingerprint = json_string_value(json_object_get(value, "configured_sha256"));
    snprintf(grant->configured_sha256, sizeof(grant->configured_sha256), "%s",
             fingerprint != NULL ? fingerprint : "");
    grant->refresh_token = string_member(value, "refresh_token");
    grant->access_token = string_member(value, "access_token");
    grant->scope = string_member(value, "scope");
    grant->expires_at_ms = integer_member(value, "expires_at_ms");
    grant->refresh_expires_at_ms = integer_member(value, "refresh_expires_at_ms");
    grant->granted_at_ms = integer_member(value, "granted_at_ms");
    json_decref(value);
    *found_out = grant->refresh_token != NULL || grant->access_token != NULL;
    return STORE_OK;
}

/* An RFC 3339 time as a JSON string, or null for 0. NEW reference. */
static json_t *time_or_null(int64_t ms)
{
    if (ms <= 0) {
        return json_null();
    }
    char text[32];
    util_format_rfc3339(ms, text);
    return json_string(text);
}

/* Writes the two rows in one statement; the status is merged into what is there. */
static enum store_result write_rows(struct store *store, const char *instance, const json_t *sealed,
                                    const json_t *status, char **error_out)
{
    char *sealed_text = sealed != NULL ? json_dumps(sealed, JSON_COMPACT) : NULL;
    char *status_text = json_dumps(status, JSON_COMPACT);
    enum store_result rc = STORE_UNAVAILABLE;
    if (status_text == NULL || (sealed != NULL && sealed_text == NULL)) {
        *error_out = strdup("out of memory");
        goto out;
    }
    const char *params[] = {instance, OAUTH_GRANT_KEY, sealed_text, OAUTH_STATUS_KEY, status_text};
    rc = store_exec(store, "oauth_grant_write",
                    "INSERT INTO connector_state AS c (instance, key, value) "
                    "SELECT $1, k, v FROM (VALUES ($2::text, $3::jsonb), ($4::text, $5::jsonb)) "
                    "AS r(k, v) WHERE v IS NOT NULL "
                    "ON CONFLICT (instance, key) DO UPDATE SET value = CASE WHEN c.key = $4 "
                    "THEN c.value || EXCLUDED.value ELSE EXCLUDED.value END, updated_at = now()",
                    5, params, NULL, error_out);
out:
    free(sealed_text);
    free(status_text);
    return rc;
}

enum store_result oauth_grant_save(struct store *store, const struct seal_keyring *ring,
                                   const char *instance, const struct oauth_grant *grant,
                                   char **error_out)
{
    json_t *value = json_pack(
        "{s:s,s:s?,s:s?,s:I,s:I,s:I,s:s?}", "origin", oauth_grant_origin_name(grant->origin),
        "refresh_token", grant->refresh_token, "access_token", grant->access_token, "expires_at_ms",
        (json_int_t)grant->expires_at_ms, "refresh_expires_at_ms",
        (json_int_t)grant->refresh_expires_at_ms, "granted_at_ms", (json_int_t)grant->granted_at_ms,
        "scope", grant->scope);
    if (value != NULL && grant->origin == OAUTH_GRANT_CONFIGURED) {
        json_object_set_new(value, "configured_sha256", json_string(grant->configured_sha256));
    }
    json_t *status = json_pack("{s:s,s:s,s:o,s:o,s:n}", "state", "granted", "origin",
                               oauth_grant_origin_name(grant->origin), "granted_at",
                               time_or_null(grant->granted_at_ms), "refresh_token_expires_at",
                               time_or_null(grant->refresh_expires_at_ms), "reason");
    struct seal_place place = sealed_state_place(instance, OAUTH_GRANT_KEY);
    json_t *sealed =
        value != NULL && status != NULL ? seal_value(ring, &place, value, error_out) : NULL;
    enum store_result rc = STORE_REJECTED;
    if (value == NULL || status == NULL) {
        *error_out = strdup("out of memory");
        rc = STORE_UNAVAILABLE;
    } else if (sealed != NULL) {
        rc = write_rows(store, instance, sealed, status, error_out);
    }
    if (value != NULL) {
        /* the plain tokens live in the reference's strings: wipe them before freeing */
        const char *keys[] = {"refresh_token", "access_token"};
        for (size_t i = 0; i < UTIL_ARRAY_LEN(keys); i++) {
            json_t *token = json_object_get(value, keys[i]);
            if (json_is_string(token)) {
                explicit_bzero((char *)json_string_value(token), json_string_length(token));
            }
        }
    }
    json_decref(value);
    json_decref(status);
    json_decref(sealed);
    return rc;
}

enum store_result oauth_grant_mark_refused(struct store *store, const char *instance,
                                           const char *reason, char **error_out)
{
    json_t *status = json_pack("{s:s,s:s}", "state", "needs_consent", "reason", reason);
    if (status == NULL) {
        *error_out = strdup("out of memory");
        return STORE_UNAVAILABLE;
    }
    enum store_result rc = write_rows(store, instance, NULL, status, error_out);
    json_decref(status);
    return rc;
}
