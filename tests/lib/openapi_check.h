/*
 * openapi_check.h - checks real responses against docs/openapi.yaml.
 *
 * The document is read with the daemon's own YAML reader. A response is looked up by
 * method, concrete path (matched against the path templates) and status, and its JSON
 * body validated against that response's application/json schema. The JSON Schema
 * subset understood is the one the document uses: $ref, type (one or a list), enum,
 * const, properties, required, additionalProperties, unevaluatedProperties: false (the
 * properties of the schema, its $ref and its allOf count as evaluated), items, minItems,
 * maxItems, minLength, maxLength, minimum, maximum, pattern (POSIX extended), format
 * date-time, allOf, anyOf, oneOf. Anything else in a schema is reported, so the checker
 * never silently accepts what it does not understand.
 */
#ifndef LEADHUB_OPENAPI_CHECK_H
#define LEADHUB_OPENAPI_CHECK_H

struct openapi;

/* Loads the document at `path`; NULL with *error (malloc'd) set on failure. */
struct openapi *openapi_load(const char *path, char **error);

void openapi_free(struct openapi *api);

/*
 * openapi_check_response - NULL when the response conforms: the operation exists, it
 * declares every query parameter of `url` ("/v1/leads?limit=2"), it documents `status`,
 * and `body` validates against the documented schema. Otherwise a malloc'd description
 * of the first difference.
 */
char *openapi_check_response(const struct openapi *api, const char *method, const char *url,
                             long status, const char *body);

/* openapi_check_schema - NULL when `json_text` validates against components/schemas/<name>. */
char *openapi_check_schema(const struct openapi *api, const char *name, const char *json_text);

/*
 * openapi_check_document - NULL when the document itself is sound, as far as this checker
 * sees: openapi 3.1.x with a title and version; every $ref resolves; every path has
 * operations, each with a unique operationId, its path parameters declared (required)
 * and used, and responses keyed by status code, each with a description; every schema
 * uses only keywords the checker understands; every security scheme named exists; every
 * component is used. Otherwise a malloc'd list of the problems, one a line.
 */
char *openapi_check_document(const struct openapi *api);

#endif
