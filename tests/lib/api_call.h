/*
 * api_call.h - calling the daemon's REST API from a test: a bearer token, a JSON body, and
 * every answer checked against docs/openapi.yaml (openapi_check.h).
 */
#ifndef LEADHUB_API_CALL_H
#define LEADHUB_API_CALL_H

#include <jansson.h>

#include "daemon_harness.h"
#include "openapi_check.h"

struct api_answer {
    long status;
    char *body;    /* malloc'd */
    char *headers; /* malloc'd: the raw response headers */
    json_t *json;  /* the body parsed, or NULL */
};

void api_answer_free(struct api_answer *answer);

/*
 * api_call - `method` on `path` ("/v1/leads?limit=2") with `token` (NULL: none) and a JSON
 * `body` (NULL: none, else sent as application/json). Asserts that an answer came and,
 * when `spec` is non-NULL, that it conforms to the document.
 */
struct api_answer api_call(const struct test_daemon *td, const struct openapi *spec,
                           const char *method, const char *path, const char *token,
                           const char *body);

/*
 * api_assert_error - the one error shape with `status` and `code`, and when `names` is
 * non-NULL, details naming that parameter or field.
 */
void api_assert_error(const struct openapi *spec, const struct api_answer *answer, long status,
                      const char *code, const char *names);

/* api_spec_load - docs/openapi.yaml of the source tree; aborts the test when it cannot. */
struct openapi *api_spec_load(void);

#endif
