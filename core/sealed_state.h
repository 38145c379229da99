/*
 * sealed_state.h - connector_state values that are secrets (seal.h): written sealed,
 * opened when read, and sealed again with the first key of secrets_key when they were
 * sealed with another one, or when a value known to be a secret was stored in plaintext
 * before sealing existed. Sealing again is a compare-and-swap: a value written meanwhile
 * (another replica) is never overwritten with an older one.
 */
#ifndef LEADHUB_SEALED_STATE_H
#define LEADHUB_SEALED_STATE_H

#include <stdbool.h>

#include <jansson.h>

#include "seal.h"
#include "store_pg.h"

/* The place (associated data) of connector_state (instance, key). */
static inline struct seal_place sealed_state_place(const char *instance, const char *key)
{
    return (struct seal_place){"state", instance, key};
}

/*
 * sealed_state_get - the value of (instance, key), opened.
 *   secret:    the key holds a secret: a plaintext value found there is sealed now (when a
 *              keyring is given; without one it is returned as it is).
 *   value_out: NEW reference, or NULL when nothing is stored.
 *   Returns STORE_OK; STORE_UNAVAILABLE; STORE_REJECTED when a sealed value cannot be opened
 *   (no key, a key missing from secrets_key, altered or moved), *error_out saying which.
 */
enum store_result sealed_state_get(struct store *store, const struct seal_keyring *ring,
                                   const char *instance, const char *key, bool secret,
                                   json_t **value_out, char **error_out);

/*
 * sealed_state_put - seal `value` (BORROWED) and write it now, in its own transaction.
 *   Returns STORE_OK; STORE_REJECTED when it cannot be sealed (no keyring: the reason says
 *   how to make a key); STORE_UNAVAILABLE.
 */
enum store_result sealed_state_put(struct store *store, const struct seal_keyring *ring,
                                   const char *instance, const char *key, const json_t *value,
                                   char **error_out);

#endif
