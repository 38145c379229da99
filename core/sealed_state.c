/* sealed_state.c - see sealed_state.h. */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sealed_state.h"

/* Replaces `was` by `now` unless the row changed since it was read. updated_at stays: a
 * value sealed again is the same value, and cursor ages must not restart. */
static void seal_again(struct store *store, const char *instance, const char *key,
                       const json_t *was, const json_t *now)
{
    char *was_text = json_dumps(was, JSON_COMPACT | JSON_ENCODE_ANY);
    char *now_text = json_dumps(now, JSON_COMPACT | JSON_ENCODE_ANY);
    char *error = NULL;
    enum store_result rc = STORE_UNAVAILABLE;
    if (was_text != NULL && now_text != NULL) {
        const char *params[] = {instance, key, now_text, was_text};
        rc = store_exec(store, "sealed_state_reseal",
                        "UPDATE connector_state SET value = $3::jsonb WHERE instance = $1 AND "
                        "key = $2 AND value = $4::jsonb",
                        4, params, NULL, &error);
    }
    if (rc != STORE_OK) {
        log_write(LOG_LEVEL_WARN, NULL, instance, NULL,
                  "state %s could not be sealed again with the newest key (%s); it stays "
                  "readable and is tried again when next read",
                  key, error != NULL ? error : "out of memory");
    }
    free(error);
    if (was_text != NULL) {
        explicit_bzero(was_text, strlen(was_text));
    }
    free(was_text);
    free(now_text);
}

enum store_result sealed_state_get(struct store *store, const struct seal_keyring *ring,
                                   const char *instance, const char *key, bool secret,
                                   json_t **value_out, char **error_out)
{
    *value_out = NULL;
    json_t *raw = NULL;
    enum store_result rc = store_checkpoint_get(store, instance, key, &raw, error_out);
    if (rc != STORE_OK || raw == NULL) {
        return rc;
    }
    struct seal_place place = sealed_state_place(instance, key);
    if (!seal_is_sealed(raw)) {
        if (secret && ring != NULL) {
            json_t *sealed = seal_value(ring, &place, raw, NULL);
            if (sealed != NULL) {
                seal_again(store, instance, key, raw, sealed);
            }
            json_decref(sealed);
        }
        *value_out = raw;
        return STORE_OK;
    }
    bool stale = false;
    *value_out = seal_open(ring, &place, raw, &stale, error_out);
    if (*value_out == NULL) {
        json_decref(raw);
        return STORE_REJECTED;
    }
    if (stale) {
        json_t *sealed = seal_value(ring, &place, *value_out, NULL);
        if (sealed != NULL) {
            seal_again(store, instance, key, raw, sealed);
        }
        json_decref(sealed);
    }
    json_decref(raw);
    return STORE_OK;
}

enum store_result sealed_state_put(struct store *store, const struct seal_keyring *ring,
                                   const char *instance, const char *key, const json_t *value,
                                   char **error_out)
{
    struct seal_place place = sealed_state_place(instance, key);
    json_t *sealed = seal_value(ring, &place, value, error_out);
    if (sealed == NULL) {
        return STORE_REJECTED;
    }
    enum store_result rc = store_checkpoint_put(store, instance, key, sealed, error_out);
    json_decref(sealed);
    return rc;
}
