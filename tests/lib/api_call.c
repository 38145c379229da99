/* api_call.c - see api_call.h. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "api_call.h"
#include "http_client.h"
#include "testutil.h"
#include "util.h"

void api_answer_free(struct api_answer *answer)
{
    free(answer->body);
    free(answer->headers);
    json_decref(answer->json);
    memset(answer, 0, sizeof(*answer));
}

struct api_answer api_call(const struct test_daemon *td, const struct openapi *spec,
                           const char *method, const char *path, const char *token,
                           const char *body)
{
    char *auth = token != NULL ? util_printf("Authorization: Bearer %s", token) : NULL;
    const char *headers[3] = {0};
    size_t n = 0;
    if (auth != NULL) {
        headers[n++] = auth;
    }
    if (body != NULL) {
        headers[n++] = "Content-Type: application/json";
    }
    char *url = td_url(td, path);
    struct http_result result;
    ck_assert_int_eq(
        http_request(method, url, headers, body, body != NULL ? strlen(body) : 0, &result), 0);
    free(url);
    free(auth);
    struct api_answer answer = {result.status, result.body, result.headers, NULL};
    answer.json = json_loads(answer.body != NULL ? answer.body : "", JSON_DECODE_ANY, NULL);
    if (spec != NULL) {
        char *problem = openapi_check_response(spec, method, path, answer.status, answer.body);
        ck_assert_msg(problem == NULL, "%s %s: %s", method, path, problem);
    }
    return answer;
}

void api_assert_error(const struct openapi *spec, const struct api_answer *answer, long status,
                      const char *code, const char *names)
{
    ck_assert_msg(answer->status == status, "expected %ld, got %ld: %s", status, answer->status,
                  answer->body);
    char *problem = openapi_check_schema(spec, "Error", answer->body);
    ck_assert_msg(problem == NULL, "%s", problem);
    const json_t *error = json_object_get(answer->json, "error");
    ck_assert_str_eq(json_string_value(json_object_get(error, "code")), code);
    if (names != NULL) {
        const json_t *details = json_object_get(error, "details");
        const char *named = json_string_value(json_object_get(details, "parameter"));
        if (named == NULL) {
            named = json_string_value(json_object_get(details, "field"));
        }
        ck_assert_msg(named != NULL && strcmp(named, names) == 0, "expected %s named: %s", names,
                      answer->body);
    }
}

struct openapi *api_spec_load(void)
{
    char *error = NULL;
    char *path = tu_path(tu_source_dir(), "docs/openapi.yaml");
    struct openapi *spec = openapi_load(path, &error);
    ck_assert_msg(spec != NULL, "docs/openapi.yaml: %s", error != NULL ? error : "?");
    free(path);
    return spec;
}
