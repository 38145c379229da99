/*
 * config_suggest.h - "did you mean X?" for unknown keys and values, and the hint that
 * lists what is allowed.
 */
#ifndef LEADHUB_CONFIG_SUGGEST_H
#define LEADHUB_CONFIG_SUGGEST_H

#include <stddef.h>

/* Suggestions are offered within this many single-character edits (insert, delete,
 * substitute, swap two neighbours). */
#define CONFIG_SUGGEST_MAX_DISTANCE 2

/*
 * config_suggest_hint - "did you mean \"poll_interval\"? <what>: a, b, c", or just
 * "<what>: a, b, c" when no candidate is close to `given`.
 *   given:      what was written; borrowed.
 *   candidates: `count` allowed names; borrowed.
 *   what:       "allowed keys", "allowed values", ...
 *   Returns a NEW string (free()), or NULL when out of memory.
 */
char *config_suggest_hint(const char *given, const char *const *candidates, size_t count,
                          const char *what);

/* config_suggest_distance - the edit distance above, capped: anything beyond
 * CONFIG_SUGGEST_MAX_DISTANCE (or a name longer than 64 bytes) returns MAX_DISTANCE + 1. */
size_t config_suggest_distance(const char *a, const char *b);

#endif
