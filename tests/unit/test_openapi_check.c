/*
 * test_openapi_check.c - the checker the API tests validate answers with: it must refuse
 * what does not conform (or it proves nothing), and docs/openapi.yaml must be a document
 * it can read, with the error answers every operation needs.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "config_yaml.h"
#include "diag.h"
#include "openapi_check.h"
#include "testutil.h"
#include "util.h"

static const char doc[] = "openapi: 3.1.0\n"
                          "info: {title: t, version: '1'}\n"
                          "paths:\n"
                          "  /v1/things:\n"
                          "    get:\n"
                          "      parameters:\n"
                          "        - $ref: '#/components/parameters/limit'\n"
                          "        - {name: kind, in: query, schema: {type: string}}\n"
                          "      responses:\n"
                          "        '200':\n"
                          "          description: ok\n"
                          "          content:\n"
                          "            application/json:\n"
                          "              schema:\n"
                          "                type: object\n"
                          "                required: [data]\n"
                          "                additionalProperties: false\n"
                          "                properties:\n"
                          "                  data: {type: array, maxItems: 2, items: {$ref: "
                          "'#/components/schemas/Thing'}}\n"
                          "        '404': {$ref: '#/components/responses/Missing'}\n"
                          "  /v1/things/{id}:\n"
                          "    get:\n"
                          "      responses:\n"
                          "        '200':\n"
                          "          description: ok\n"
                          "          content:\n"
                          "            application/json:\n"
                          "              schema: {$ref: '#/components/schemas/Detail'}\n"
                          "  /v1/things/special:\n"
                          "    get:\n"
                          "      responses:\n"
                          "        '204': {description: nothing}\n"
                          "components:\n"
                          "  parameters:\n"
                          "    limit: {name: limit, in: query, schema: {type: integer}}\n"
                          "  responses:\n"
                          "    Missing:\n"
                          "      description: no\n"
                          "      content:\n"
                          "        application/json:\n"
                          "          schema: {type: object, required: [error]}\n"
                          "  schemas:\n"
                          "    Base:\n"
                          "      type: object\n"
                          "      required: [id]\n"
                          "      properties:\n"
                          "        id: {type: integer, minimum: 1}\n"
                          "        at: {type: [string, 'null'], format: date-time}\n"
                          "        state: {type: string, enum: [on, off]}\n"
                          "        code: {type: string, pattern: '^[a-z]+$'}\n"
                          "        either:\n"
                          "          oneOf:\n"
                          "            - {type: integer}\n"
                          "            - {type: number, minimum: 10}\n"
                          "    Thing:\n"
                          "      $ref: '#/components/schemas/Base'\n"
                          "      unevaluatedProperties: false\n"
                          "    Detail:\n"
                          "      allOf:\n"
                          "        - $ref: '#/components/schemas/Base'\n"
                          "        - type: object\n"
                          "          properties:\n"
                          "            extra: {type: boolean}\n"
                          "      unevaluatedProperties: false\n"
                          "    Odd:\n"
                          "      type: string\n"
                          "      contentEncoding: base64\n";

static char *dir;
static struct openapi *api;

static void setup(void)
{
    dir = tu_tmpdir();
    tu_write_file(dir, "openapi.yaml", doc);
    char *path = tu_path(dir, "openapi.yaml");
    char *error = NULL;
    api = openapi_load(path, &error);
    ck_assert_msg(api != NULL, "%s", error);
    free(path);
}

static void teardown(void)
{
    openapi_free(api);
    tu_rmrf(dir);
    free(dir);
}

/* The check's verdict: NULL (conforms) or a description that mentions `expected`. */
static void expect(const char *method, const char *url, long status, const char *body,
                   const char *expected)
{
    char *problem = openapi_check_response(api, method, url, status, body);
    if (expected == NULL) {
        ck_assert_msg(problem == NULL, "%s %s %s: %s", method, url, body, problem);
    } else {
        ck_assert_msg(problem != NULL, "%s %s %s: accepted", method, url, body);
        ck_assert_msg(strstr(problem, expected) != NULL, "\"%s\" lacks \"%s\"", problem, expected);
    }
    free(problem);
}

START_TEST(test_conforming_answers_pass)
{
    expect("GET", "/v1/things?limit=2&kind=a", 200,
           "{\"data\":[{\"id\":1,\"at\":\"2026-11-27T10:00:00.123+00:00\",\"state\":\"on\","
           "\"code\":\"abc\",\"either\":3},{\"id\":2,\"at\":null,\"either\":10.5}]}",
           NULL);
    expect("GET", "/v1/things/7", 200, "{\"id\":7,\"extra\":true}", NULL);
    expect("GET", "/v1/things", 404, "{\"error\":{}}", NULL);
    expect("GET", "/v1/things/special", 204, "", NULL);
}
END_TEST

START_TEST(test_each_kind_of_difference_is_caught)
{
    expect("GET", "/v1/things", 200, "{}", "required property \"data\"");
    expect("GET", "/v1/things", 200, "{\"data\":[],\"more\":1}", ".more: property not in");
    expect("GET", "/v1/things", 200, "{\"data\":[{\"id\":\"1\"}]}", "expected type");
    expect("GET", "/v1/things", 200, "{\"data\":[{\"id\":0}]}", "below the minimum");
    expect("GET", "/v1/things", 200, "{\"data\":[{\"id\":1,\"at\":\"2026-11-27 10:00\"}]}",
           "not an RFC 3339");
    expect("GET", "/v1/things", 200, "{\"data\":[{\"id\":1,\"at\":\"2026-11-27 10:00:00Z\"}]}",
           "not an RFC 3339");
    expect("GET", "/v1/things", 200, "{\"data\":[{\"id\":1,\"state\":\"maybe\"}]}",
           "not one of the enum");
    expect("GET", "/v1/things", 200, "{\"data\":[{\"id\":1,\"code\":\"ABC\"}]}", "does not match");
    expect("GET", "/v1/things", 200, "{\"data\":[{\"id\":1,\"either\":\"x\"}]}", "expected type");
    /* 12 is an integer and a number of at least 10: both alternatives */
    expect("GET", "/v1/things", 200, "{\"data\":[{\"id\":1,\"either\":12}]}", "exactly one");
    expect("GET", "/v1/things", 200, "{\"data\":[{\"id\":1},{\"id\":2},{\"id\":3}]}",
           "more than 2");
    /* unevaluatedProperties through $ref and allOf */
    expect("GET", "/v1/things", 200, "{\"data\":[{\"id\":1,\"extra\":true}]}",
           ".extra: property not in");
    expect("GET", "/v1/things/7", 200, "{\"id\":7,\"other\":1}", ".other: property not in");
    expect("GET", "/v1/things", 200, "not json", "not JSON");
    expect("GET", "/v1/things/special", 204, "{}", "declares none");
}
END_TEST

START_TEST(test_undocumented_paths_statuses_and_parameters_are_caught)
{
    expect("GET", "/v1/other", 200, "{}", "no path of the document matches");
    expect("POST", "/v1/things", 200, "{}", "has no POST operation");
    expect("GET", "/v1/things", 500, "{}", "not documented");
    expect("GET", "/v1/things?limt=2", 200, "{\"data\":[]}", "\"limt\" is not documented");
    /* the literal path wins over the template */
    expect("GET", "/v1/things/special", 200, "{\"id\":1}", "not documented");
}
END_TEST

START_TEST(test_unknown_schema_keywords_are_reported_not_ignored)
{
    char *problem = openapi_check_schema(api, "Odd", "\"aGk=\"");
    ck_assert_ptr_nonnull(problem);
    ck_assert_ptr_nonnull(strstr(problem, "contentEncoding"));
    free(problem);
}
END_TEST

/* --- docs/openapi.yaml itself ---------------------------------------------------------- */

static json_t *load_document(void)
{
    char *path = tu_path(tu_source_dir(), "docs/openapi.yaml");
    json_t *tree = NULL;
    struct diag_list diags = {0};
    int rc = config_parse_file(path, &tree, NULL, &diags);
    char *first = diags.count > 0 ? diag_format_one(&diags.items[0]) : NULL;
    ck_assert_msg(rc == 0, "%s", first ? first : path);
    free(first);
    diag_list_free(&diags);
    free(path);
    return tree;
}

START_TEST(test_the_document_loads_and_documents_each_operations_errors)
{
    char *error = NULL;
    char *path = tu_path(tu_source_dir(), "docs/openapi.yaml");
    struct openapi *real = openapi_load(path, &error);
    ck_assert_msg(real != NULL, "%s", error);
    openapi_free(real);
    free(path);

    json_t *tree = load_document();
    ck_assert_str_eq(json_string_value(json_object_get(tree, "openapi")), "3.1.0");
    const json_t *paths = json_object_get(tree, "paths");
    ck_assert_uint_ge(json_object_size(paths), 11);
    const char *template;
    const json_t *item;
    json_object_foreach((json_t *)paths, template, item)
    {
        const char *method;
        const json_t *operation;
        json_object_foreach((json_t *)item, method, operation)
        {
            const json_t *responses = json_object_get(operation, "responses");
            /* every operation: authentication, scopes, wrong method, an unavailable store */
            static const char *const needed[] = {"401", "403", "405", "503"};
            for (size_t i = 0; i < UTIL_ARRAY_LEN(needed); i++) {
                ck_assert_msg(json_object_get(responses, needed[i]) != NULL, "%s %s lacks %s",
                              method, template, needed[i]);
            }
            ck_assert_msg(json_is_string(json_object_get(operation, "operationId")),
                          "%s %s has no operationId", method, template);
        }
    }
    json_decref(tree);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("openapi_check");
    TCase *tc = tcase_create("checker");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_conforming_answers_pass);
    tcase_add_test(tc, test_each_kind_of_difference_is_caught);
    tcase_add_test(tc, test_undocumented_paths_statuses_and_parameters_are_caught);
    tcase_add_test(tc, test_unknown_schema_keywords_are_reported_not_ignored);
    suite_add_tcase(s, tc);
    TCase *document = tcase_create("document");
    tcase_add_test(document, test_the_document_loads_and_documents_each_operations_errors);
    suite_add_tcase(s, document);
    return tu_run_suite(s);
}
