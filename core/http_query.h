/*
 * http_query.h - the query string of a request target, parsed from the raw bytes the
 * client sent (not from libmicrohttpd's decoded copy, which drops what does not decode
 * and stops at a NUL): every name and value is percent-decoded, '+' read as a space, and
 * refused when it holds a NUL or is not valid UTF-8, naming the parameter. Untrusted
 * input: the fuzz target tests/fuzz/fuzz_http_query.c runs it.
 */
#ifndef LEADHUB_HTTP_QUERY_H
#define LEADHUB_HTTP_QUERY_H

#include <jansson.h>

/*
 * http_query_parse - "a=1&b=x%20y" (without the '?') into {"a": "1", "b": "x y"}; the
 * first of a repeated name wins; empty segments ("a=1&&b=2") are skipped; a segment
 * without '=' has the value "".
 *   query:      NUL-terminated, may be NULL (no parameters).
 *   out:        on success a NEW object.
 *   bad_out:    with -1, the malloc'd name of the parameter at fault: as decoded when
 *               that is valid text, else as sent (escapes kept, at most 64 bytes).
 *   Returns 0; -1 when a name or value holds a NUL or is not valid UTF-8; -2 when out of
 *   memory. Nothing is left in *out on failure.
 */
int http_query_parse(const char *query, json_t **out, char **bad_out);

/*
 * http_path_has_nul - whether the raw path (up to '?' or the end) encodes a NUL (%00):
 * libmicrohttpd would hand over the path cut at it.
 */
int http_path_has_nul(const char *raw_target);

#endif
