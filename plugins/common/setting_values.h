/*
 * setting_values.h - checks of setting values that several connectors share, so that a
 * base URL or a secret is refused for the same reasons whichever plugin reads it. Pure:
 * the caller reports the reason with host->config_error() under its own key.
 */
#ifndef LEADHUB_COMMON_SETTING_VALUES_H
#define LEADHUB_COMMON_SETTING_VALUES_H

#include <jansson.h>

/* What a check says. */
enum setting_check { SETTING_OK = 0, SETTING_REFUSED = -1, SETTING_NO_MEMORY = -2 };

/*
 * setting_url - a base URL: http(s), a host, no user:password@, no spaces, control
 * characters, query or fragment.
 *   SETTING_OK: *out is a malloc'd copy without trailing '/' (caller frees).
 *   SETTING_REFUSED: *reason says why (a static string); *out NULL.
 */
enum setting_check setting_url(const char *value, char **out, const char **reason);

/*
 * setting_secret - one secret value (a reference the host resolved): a non-empty string
 * without control characters. value: BORROWED, NULL when the setting is absent (then
 * SETTING_OK with *out NULL). A list is refused: only settings that roll keys take one.
 *   SETTING_OK: *out a malloc'd copy, or NULL when absent (caller wipes and frees).
 */
enum setting_check setting_secret(const json_t *value, char **out, const char **reason);

#endif
