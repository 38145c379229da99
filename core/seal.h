/*
 * seal.h - sealed values: secrets at rest (OAuth tokens, plugin state marked secret, the
 * PKCE verifiers of consents in progress), encrypted with AES-256-GCM under a key from the
 * main config's `secrets_key`.
 *
 * A sealed value is a JSON object that sits wherever the plain value would (a jsonb
 * column):
 *     {"leadhub_sealed": "v1", "key_id": "5f0c3a9e1b7d2e44", "data": "<base64>"}
 * `data` is the nonce (12 bytes), the ciphertext of the value's compact JSON text and the
 * tag (16 bytes). The associated data binds it to its place: a purpose, an owner (the
 * instance), a name (the state key) and the key id. A sealed value copied to another
 * instance or another key does not open, nor does one whose key id was edited.
 *
 * Keys: `secrets_key` gives one or more 32-byte keys, written in base64
 * (`openssl rand -base64 32`) or as 64 hex digits. The first seals; every one opens. To
 * rotate, put the new key first and keep the old ones until every value has been sealed
 * again (values are sealed again with the first key when next read). A key's id is derived
 * from the key itself (HMAC-SHA256(key, "leadhub key id v1"), 8 bytes in hex), so there is
 * nothing to name or keep in step; the AES key is derived the same way under another label,
 * so the id reveals nothing usable about it.
 *
 * A keyring is immutable once built: threads share it without locks.
 */
#ifndef LEADHUB_SEAL_H
#define LEADHUB_SEAL_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* What to tell an operator who has no key yet. */
#define SEAL_KEY_HINT                                                                              \
    "make a key with `openssl rand -base64 32`, keep it in a secret and set secrets_key: "         \
    "${file:/run/secrets/leadhub_key} in the main config (docs/config.md)"

#define SEAL_KEY_ID_LEN 16

struct seal_keyring;

/*
 * seal_keyring_new - the keyring of keys[0..count) as written in secrets_key.
 *   Returns a new keyring (seal_keyring_free()), or NULL with *bad_index set to the key at
 *   fault and *why to a constant reason (count 0 is refused too, *bad_index 0).
 */
struct seal_keyring *seal_keyring_new(const char *const *keys, size_t count, size_t *bad_index,
                                      const char **why);

/* seal_keyring_free - wipes the keys. Accepts NULL. */
void seal_keyring_free(struct seal_keyring *ring);

/* The id of the key that seals (the first), or NULL for a NULL keyring. */
const char *seal_keyring_current_id(const struct seal_keyring *ring);

/* "id1, id2" of every key, malloc'd (NULL when out of memory or ring is NULL). */
char *seal_keyring_ids(const struct seal_keyring *ring);

/* Where a sealed value belongs: its associated data. Every field is required. */
struct seal_place {
    const char *purpose; /* "state" (connector_state), "consent" (a consent in progress) */
    const char *owner;   /* the instance */
    const char *name;    /* the state key, or the consent's state digest */
};

/* seal_is_sealed - does `value` have the shape of a sealed value? */
bool seal_is_sealed(const json_t *value);

/*
 * seal_value - the sealed form of `value` (BORROWED; any JSON value) for `place`.
 *   ring: NULL when no key is configured: refused, with SEAL_KEY_HINT in the reason.
 *   Returns a NEW reference, or NULL with *error_out (malloc'd; never a secret).
 */
json_t *seal_value(const struct seal_keyring *ring, const struct seal_place *place,
                   const json_t *value, char **error_out);

/*
 * seal_open - the plain value of a sealed one (BORROWED) that belongs to `place`.
 *   stale_out: may be NULL; set true when the value was sealed with a key other than the
 *              first (the caller should seal it again).
 *   Returns a NEW reference, or NULL with *error_out (malloc'd): no keyring, the key is not
 *   in it, or the value does not open there (altered, or moved from another place).
 */
json_t *seal_open(const struct seal_keyring *ring, const struct seal_place *place,
                  const json_t *sealed, bool *stale_out, char **error_out);

#endif
