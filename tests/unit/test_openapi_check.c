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

/* A document with one of each problem the document check looks for. */
static const char broken_doc[] = "openapi: 3.0.3\n"
                                 "info: {title: t}\n"
                                 "paths:\n"
                                 "  /v1/things/{id}:\n"
                                 "    get:\n"
                                 "      operationId: getThing\n"
                                 "      parameters:\n"
                                 "        - {name: ident, in: path, schema: {type: integer}}\n"
                                 "        - {name: q, in: body, schema: {type: string}}\n"
                                 "      responses:\n"
                                 "        '200':\n"
                                 "          content:\n"
                                 "            application/json:\n"
                                 "              schema: {$ref: '#/components/schemas/Missing'}\n"
                                 "        '2x0': {description: odd}\n"
                                 "  /v1/others:\n"
                                 "    get:\n"
                                 "      operationId: getThing\n"
                                 "      responses: {}\n"
                                 "    fetch: {}\n"
                                 "  /v1/empty: {}\n"
                                 "security:\n"
                                 "  - basic: []\n"
                                 "components:\n"
                                 "  schemas:\n"
                                 "    Unused: {type: string}\n"
                                 "    Closed:\n"
                                 "      type: object\n"
                                 "      required: [id, nmae]\n"
                                 "      additionalProperties: false\n"
                                 "      properties:\n"
                                 "        id: {type: integer, contentEncoding: base64}\n";

START_TEST(test_the_document_check_catches_each_problem)
{
    tu_write_file(dir, "broken.yaml", broken_doc);
    char *path = tu_path(dir, "broken.yaml");
    char *error = NULL;
    struct openapi *broken = openapi_load(path, &error);
    ck_assert_msg(broken != NULL, "%s", error);
    free(path);
    char *problems = openapi_check_document(broken);
    ck_assert_ptr_nonnull(problems);
    static const char *const expected[] = {
        "openapi: expected 3.1.x, got 3.0.3",
        "info: needs a title and a version",
        "$ref #/components/schemas/Missing resolves to nothing",
        "get /v1/things/{id}: {id} is not a declared path parameter",
        "path parameter ident is not in the path",
        "path parameter ident must be required",
        "parameter q is \"in\" body",
        "get /v1/things/{id} -> 200: a response needs a description",
        "\"2x0\" is not a status code",
        "get /v1/others: operationId getThing is used twice",
        "get /v1/others: no responses",
        "/v1/others: \"fetch\" is not a method",
        "/v1/empty: no operation",
        "security: no scheme basic",
        "#/components/schemas/Unused is never used",
        "required \"nmae\" is not among its properties",
        "\"contentEncoding\" is not a keyword the checker understands",
    };
    for (size_t i = 0; i < UTIL_ARRAY_LEN(expected); i++) {
        ck_assert_msg(strstr(problems, expected[i]) != NULL, "\"%s\" not reported in:\n%s",
                      expected[i], problems);
    }
    free(problems);
    openapi_free(broken);
}
END_TEST

/* --- docs/openapi.yaml itself ---------------------------------------------------------- */

START_TEST(test_the_document_is_a_sound_openapi_3_1_document)
{
    char *error = NULL;
    char *path = tu_path(tu_source_dir(), "docs/openapi.yaml");
    struct openapi *real = openapi_load(path, &error);
    ck_assert_msg(real != NULL, "%s", error);
    free(path);
    char *problems = openapi_check_document(real);
    ck_assert_msg(problems == NULL, "docs/openapi.yaml:\n%s", problems);
    openapi_free(real);
}
END_TEST

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

/*
 * What the daemon can answer to each operation (core/rest*.c and core/http_server.c),
 * statuses in ascending order. Every /v1 request: 401 (checked first), 403 (scope), 405
 * (method), 500 (a query refused, no memory), 503 (the database, saturation, shutdown);
 * every operation refuses unknown and empty query parameters (400); a POST's body may be
 * too large (413).
 */
static const struct {
    const char *operation;
    const char *statuses;
} daemon_answers[] = {
    {"listLeads", "200 400 401 403 405 500 503"},
    {"getLead", "200 400 401 403 404 405 500 503"},
    {"listMeetings", "200 400 401 403 405 500 503"},
    {"getMeeting", "200 400 401 403 404 405 500 503"},
    {"listEvents", "200 400 401 403 405 500 503"},
    {"postEvents", "200 201 207 400 401 403 405 413 415 422 500 503"},
    {"listConnectors", "200 400 401 403 405 500 503"},
    {"getConnector", "200 400 401 403 404 405 500 503"},
    {"syncConnector", "202 400 401 403 404 405 409 413 500 503"},
    {"connectConnector", "201 400 401 403 404 405 409 413 500 503"},
    {"listDeliveries", "200 400 401 403 405 500 503"},
    {"replayDelivery", "202 400 401 403 404 405 409 413 500 503"},
    {"replayDeliveries", "200 202 400 401 403 405 413 415 500 503"},
    {"getLeadTimeline", "200 400 401 403 404 405 500 503"},
    {"getConnectorHealth", "200 400 401 403 404 405 500 503"},
    {"getFunnelReport", "200 400 401 403 405 500 503"},
    {"getMeetingsReport", "200 400 401 403 405 500 503"},
    {"getToken", "200 400 401 405 500 503"},
};

static int compare_words(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "503 200 401" -> "200 401 503" (malloc'd). */
static char *sort_words(const char *text)
{
    char *copy = strdup(text);
    char *words[64];
    size_t n = 0;
    char *save = NULL;
    for (char *w = strtok_r(copy, " ", &save); w != NULL && n < 64;
         w = strtok_r(NULL, " ", &save)) {
        words[n++] = w;
    }
    qsort(words, n, sizeof(words[0]), compare_words);
    struct strbuf out = {0};
    for (size_t i = 0; i < n; i++) {
        strbuf_appendf(&out, "%s%s", i ? " " : "", words[i]);
    }
    free(copy);
    return strbuf_take(&out);
}

START_TEST(test_the_document_loads_and_documents_each_operations_errors)
{
    size_t seen = 0;
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
            const char *id = json_string_value(json_object_get(operation, "operationId"));
            ck_assert_msg(id != NULL, "%s %s has no operationId", method, template);
            const char *answers = NULL;
            for (size_t i = 0; i < UTIL_ARRAY_LEN(daemon_answers); i++) {
                if (strcmp(daemon_answers[i].operation, id) == 0) {
                    answers = daemon_answers[i].statuses;
                    seen++;
                }
            }
            ck_assert_msg(answers != NULL, "%s: the daemon's answers are not listed here", id);
            /* the statuses documented are exactly those the daemon answers */
            struct strbuf documented = {0};
            const char *code;
            const json_t *response;
            json_object_foreach((json_t *)responses, code, response)
            {
                strbuf_appendf(&documented, "%s%s", documented.len ? " " : "", code);
            }
            char *sorted = sort_words(strbuf_value(&documented));
            ck_assert_msg(strcmp(sorted, answers) == 0, "%s documents %s; the daemon answers %s",
                          id, sorted, answers);
            free(sorted);
            strbuf_free(&documented);
        }
    }
    ck_assert_uint_eq(seen, UTIL_ARRAY_LEN(daemon_answers));
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
    tcase_add_test(tc, test_the_document_check_catches_each_problem);
    suite_add_tcase(s, tc);
    TCase *document = tcase_create("document");
    tcase_add_test(document, test_the_document_is_a_sound_openapi_3_1_document);
    tcase_add_test(document, test_the_document_loads_and_documents_each_operations_errors);
    suite_add_tcase(s, document);
    return tu_run_suite(s);
}
