/*
 * test_api.c - the REST API (/v1) of the real daemon over real HTTP, with a real
 * PostgreSQL: every endpoint, filter and error, pagination to the end, each auth outcome.
 * Every answer is also checked against docs/openapi.yaml.
 *
 * One daemon serves the whole suite (started by an unchecked fixture); each test writes
 * its own data (its own emails, sources, dates) so that tests do not see each other's.
 * Tests observe through HTTP and the database only: the fake providers run in the parent
 * process, which the forked tests cannot see into.
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <jansson.h>

#include "daemon_harness.h"
#include "fake_http.h"
#include "http_client.h"
#include "openapi_check.h"
#include "raw_http.h"
#include "testdb.h"
#include "testutil.h"
#include "util.h"

#define READ_TOKEN  "read-token-0c6f1e7b5a"
#define WRITE_TOKEN "write-token-93b2d4a1fe"
#define ADMIN_TOKEN "admin-token-5e8a7c2d40"
#define HOOK_SECRET "hook-secret-1f2e3d4c"
#define SINK_SECRET "sink-secret-a9b8c7d6"
/* the OAuth2 sink's: configured, and what its token endpoint hands out */
#define OAUTH_CLIENT_SECRET "oauth-client-secret-6c2f8e"
#define OAUTH_REFRESH_TOKEN "oauth-configured-refresh-9b3e1d"
#define OAUTH_ACCESS_TOKEN  "oauth-access-token-7d1e5c9b2a"
#define OAUTH_ROTATED_TOKEN "oauth-rotated-refresh-4f8a2c"
/* how long the token endpoint takes to refuse the second refresh: "refreshing" shows */
#define OAUTH_REFUSAL_DELAY_MS 4000

static struct test_daemon td;
static struct fake_http *crm;
static struct fake_http *warehouse;
static struct fake_http *provider;
static struct fake_http *idp; /* the OAuth2 sink's token endpoint */
static struct openapi *spec;

static const char empty_page[] = "{\"events\":[],\"next\":null}";
/* the pager's first poll stores two events and a cursor; later polls find nothing new */
static const char first_page[] =
    "{\"events\":[{\"type\":\"lead.created\",\"source_id\":\"pg-1\",\"occurred_at\":"
    "\"2026-11-27T10:00:00Z\",\"lead\":{\"email\":\"one@pager.test\"}},"
    "{\"type\":\"lead.created\",\"source_id\":\"pg-2\",\"occurred_at\":"
    "\"2026-11-27T10:01:00Z\",\"lead\":{\"email\":\"two@pager.test\"}}],\"next\":\"c1\"}";

static void suite_setup(void)
{
    char *error = NULL;
    char *doc = tu_path(tu_source_dir(), "docs/openapi.yaml");
    spec = openapi_load(doc, &error);
    ck_assert_msg(spec != NULL, "docs/openapi.yaml: %s", error ? error : "?");
    free(doc);

    crm = fake_http_start();
    warehouse = fake_http_start();
    provider = fake_http_start();
    idp = fake_http_start();
    /* the warehouse fails its first three deliveries (dead at once: max_attempts 1) */
    fake_http_route(warehouse, "/wh", (struct fake_response){500, "{}", NULL, 0}, 3);
    fake_http_route(provider, "/leads?after=0", (struct fake_response){200, first_page, NULL, 0},
                    0);
    fake_http_route(provider, "/leads?after=c1", (struct fake_response){200, empty_page, NULL, 0},
                    0);
    /* the OAuth2 sink: a token (and a rotated refresh token) once, its first delivery taken;
     * then the CRM refuses that token, and the endpoint, after a while, the refresh */
    fake_http_route(idp, "/token",
                    (struct fake_response){
                        200,
                        "{\"access_token\":\"" OAUTH_ACCESS_TOKEN
                        "\",\"expires_in\":3600,\"refresh_token\":\"" OAUTH_ROTATED_TOKEN "\"}",
                        NULL, 0},
                    1);
    fake_http_route(idp, "/token",
                    (struct fake_response){400,
                                           "{\"error\":\"invalid_grant\",\"error_description\":"
                                           "\"the refresh token was revoked\"}",
                                           NULL, OAUTH_REFUSAL_DELAY_MS},
                    0);
    fake_http_route(crm, "/oauth-crm", (struct fake_response){200, "{}", NULL, 0}, 1);
    fake_http_route(crm, "/oauth-crm", (struct fake_response){401, "{}", NULL, 0}, 1);
    fake_http_route(crm, "/oauth-crm", (struct fake_response){200, "{}", NULL, 0}, 0);

    setenv("LHTEST_READ_TOKEN", READ_TOKEN, 1);
    setenv("LHTEST_WRITE_TOKEN", WRITE_TOKEN, 1);
    setenv("LHTEST_ADMIN_TOKEN", ADMIN_TOKEN, 1);
    setenv("LHTEST_SINK_SECRET", SINK_SECRET, 1);
    setenv("LHTEST_OAUTH_CLIENT_SECRET", OAUTH_CLIENT_SECRET, 1);
    setenv("LHTEST_OAUTH_REFRESH_TOKEN", OAUTH_REFRESH_TOKEN, 1);

    td_init(&td, NULL);
    char *plugins = tu_path(td.dir, "plugins");
    char *copy = util_printf("mkdir -p '%s' && cp '%s/tests/fixtures/paging_source.so' "
                             "'%s/tests/fixtures/event_count_scorer.so' "
                             "'%s/tests/fixtures/oauth_sink.so' '%s/'",
                             plugins, tu_build_dir(), tu_build_dir(), tu_build_dir(), plugins);
    ck_assert_int_eq(tu_run(copy, NULL), 0);
    free(copy);
    td.extra_plugin_dir = plugins;

    td_webhook_instance(&td, "inbound", HOOK_SECRET);
    char *url = fake_http_url(provider, "/leads");
    char *yaml = util_printf("name: pager\nplugin: paging_source\npoll_interval: 1h\n"
                             "settings:\n  url: %s\n",
                             url);
    td_connector(&td, "pager", yaml);
    free(yaml);
    free(url);
    url = fake_http_url(crm, "/crm");
    yaml = util_printf("name: crm\nplugin: http\nsettings:\n  url: %s\n"
                       "  secret: ${LHTEST_SINK_SECRET}\n",
                       url);
    td_connector(&td, "crm", yaml);
    free(yaml);
    free(url);
    url = fake_http_url(warehouse, "/wh");
    yaml = util_printf("name: warehouse\nplugin: http\nsettings:\n  url: %s\n"
                       "  secret: ${LHTEST_SINK_SECRET}\n",
                       url);
    td_connector(&td, "warehouse", yaml);
    free(yaml);
    free(url);
    url = fake_http_url(crm, "/oauth-crm");
    char *token_url = fake_http_url(idp, "/token");
    yaml = util_printf("name: oauthcrm\nplugin: oauth_sink\nsettings:\n  url: %s\n"
                       "  token_url: %s\n  client_secret: ${LHTEST_OAUTH_CLIENT_SECRET}\n"
                       "  refresh_token: ${LHTEST_OAUTH_REFRESH_TOKEN}\n",
                       url, token_url);
    td_connector(&td, "oauthcrm", yaml);
    free(yaml);
    free(token_url);
    free(url);
    url = fake_http_url(crm, "/dormant");
    yaml = util_printf("name: dormant\nplugin: http\nenabled: false\nsettings:\n  url: %s\n"
                       "  secret: ${LHTEST_SINK_SECRET}\n",
                       url);
    td_connector(&td, "dormant", yaml);
    free(yaml);
    free(url);

    setenv("LHTEST_SECRETS_KEY", "YXBpLXRlc3Qtc2VjcmV0cy1rZXktMzItYnl0ZXMtISE=", 1);
    td.extra_main = strdup("secrets_key: ${LHTEST_SECRETS_KEY}\n"
                           "http:\n"
                           "  body_limit: 65536\n"
                           "api:\n"
                           "  tokens:\n"
                           "    - name: reader\n"
                           "      token: ${LHTEST_READ_TOKEN}\n"
                           "      scopes: [read]\n"
                           "    - name: writer\n"
                           "      token: ${LHTEST_WRITE_TOKEN}\n"
                           "      scopes: [write]\n"
                           "    - name: ops\n"
                           "      token: ${LHTEST_ADMIN_TOKEN}\n"
                           "      scopes: [read, write, admin]\n"
                           "scoring:\n"
                           "  - name: activity\n"
                           "    plugin: event_count_scorer\n"
                           "    settings: {per_event: 10}\n"
                           "    thresholds: {hot: 30}\n"
                           "routes:\n"
                           "  - name: orders-to-warehouse\n"
                           "    from: ops-app\n"
                           "    types: [custom.order]\n"
                           "    to: [warehouse]\n"
                           "  - name: syncs-to-oauthcrm\n"
                           "    from: oauth-app\n"
                           "    types: [custom.sync]\n"
                           "    to: [oauthcrm]\n"
                           "delivery:\n"
                           "  max_attempts: 1\n");
    int rc = td_start(&td);
    if (rc != 0) {
        char *log = td_log(&td);
        ck_abort_msg("daemon did not start (%d):\n%s", rc, log);
    }
}

static void suite_teardown(void)
{
    ck_assert_int_eq(td_stop(&td), 0);
    td_cleanup(&td);
    fake_http_stop(crm);
    fake_http_stop(warehouse);
    fake_http_stop(provider);
    fake_http_stop(idp);
    openapi_free(spec);
}

/* --- calling the API ------------------------------------------------------------------ */

struct answer {
    long status;
    char *body;
    char *headers;
    json_t *json;
};

static void answer_free(struct answer *a)
{
    free(a->body);
    free(a->headers);
    json_decref(a->json);
    memset(a, 0, sizeof(*a));
}

/* A request with its own header lines; the answer is checked against the document when
 * `documented`. */
static struct answer call_with(const char *method, const char *path, const char *const *headers,
                               const char *body, bool documented)
{
    char *url = td_url(&td, path);
    struct http_result result;
    ck_assert_int_eq(
        http_request(method, url, headers, body, body != NULL ? strlen(body) : 0, &result), 0);
    free(url);
    struct answer a = {result.status, result.body, result.headers, NULL};
    a.json = json_loads(a.body != NULL ? a.body : "", JSON_DECODE_ANY, NULL);
    if (documented) {
        char *problem = openapi_check_response(spec, method, path, a.status, a.body);
        ck_assert_msg(problem == NULL, "%s", problem);
    }
    ck_assert_msg(strstr(a.headers, "application/json") != NULL, "%s %s: not JSON:\n%s", method,
                  path, a.headers);
    return a;
}

/* A request with a bearer token (or none) and, with a body, Content-Type JSON. */
static struct answer call(const char *method, const char *path, const char *token, const char *body)
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
    struct answer a = call_with(method, path, headers, body, true);
    free(auth);
    return a;
}

static struct answer get(const char *path)
{
    return call("GET", path, READ_TOKEN, NULL);
}

/* Asserts the one error shape, its status and code, and (when given) the parameter or
 * field it names. */
static void assert_error(const struct answer *a, long status, const char *code, const char *names)
{
    ck_assert_msg(a->status == status, "expected %ld, got %ld: %s", status, a->status, a->body);
    char *problem = openapi_check_schema(spec, "Error", a->body);
    ck_assert_msg(problem == NULL, "%s", problem);
    const json_t *error = json_object_get(a->json, "error");
    ck_assert_str_eq(json_string_value(json_object_get(error, "code")), code);
    ck_assert(strlen(json_string_value(json_object_get(error, "message"))) > 0);
    if (names != NULL) {
        const json_t *details = json_object_get(error, "details");
        const char *named = json_string_value(json_object_get(details, "parameter"));
        if (named == NULL) {
            named = json_string_value(json_object_get(details, "field"));
        }
        ck_assert_msg(named != NULL && strcmp(named, names) == 0, "expected %s named: %s", names,
                      a->body);
    }
}

/* An RFC 3339 time `minutes` before now. */
static void minutes_ago(int minutes, char out[32])
{
    util_format_rfc3339(util_now_ms() - (int64_t)minutes * 60000, out);
}

/* Posts events (an object or an array, as JSON text) with the write token. */
static void post_events(const char *json_text)
{
    struct answer a = call("POST", "/v1/events", WRITE_TOKEN, json_text);
    ck_assert_msg(a.status == 201 || a.status == 207, "%ld: %s", a.status, a.body);
    if (a.status == 207) {
        size_t i;
        json_t *item;
        json_array_foreach(json_object_get(a.json, "results"), i, item)
        {
            ck_assert_msg(json_integer_value(json_object_get(item, "status")) == 201, "%s", a.body);
        }
    }
    answer_free(&a);
}

static json_t *data_of(const struct answer *a)
{
    ck_assert_msg(a->status == 200, "%ld: %s", a->status, a->body);
    json_t *data = json_object_get(a->json, "data");
    ck_assert(json_is_array(data));
    return data;
}

static size_t count_of(const char *path)
{
    struct answer a = get(path);
    size_t n = json_array_size(data_of(&a));
    answer_free(&a);
    return n;
}

static json_int_t lead_id_of(const char *email)
{
    char *path = util_printf("/v1/leads?email=%s", email);
    struct answer a = get(path);
    free(path);
    json_t *data = data_of(&a);
    ck_assert_msg(json_array_size(data) == 1, "%s: %s", email, a.body);
    json_int_t id = json_integer_value(json_object_get(json_array_get(data, 0), "id"));
    answer_free(&a);
    return id;
}

/*
 * Pages through `path` (which has a query already) with `limit`, to the end; checks the
 * page sizes, the ascending order and that no item repeats; returns every id in order.
 */
static json_t *page_to_end(const char *path, int limit, size_t expected_total)
{
    json_t *ids = json_array();
    char *after = NULL;
    json_int_t last = 0;
    for (int page = 0; page < 100; page++) {
        char *url = after != NULL ? util_printf("%s&limit=%d&after=%s", path, limit, after)
                                  : util_printf("%s&limit=%d", path, limit);
        struct answer a = get(url);
        free(url);
        json_t *data = data_of(&a);
        ck_assert_uint_le(json_array_size(data), (size_t)limit);
        size_t i;
        json_t *item;
        json_array_foreach(data, i, item)
        {
            json_int_t id = json_integer_value(json_object_get(item, "id"));
            ck_assert_msg(id > last, "ids not ascending: %lld after %lld", (long long)id,
                          (long long)last);
            last = id;
            json_array_append_new(ids, json_integer(id));
        }
        const json_t *next = json_object_get(a.json, "next");
        free(after);
        after = json_is_string(next) ? strdup(json_string_value(next)) : NULL;
        if (after == NULL) {
            ck_assert(json_is_null(next));
            /* only a short page ends the list */
            ck_assert_uint_lt(json_array_size(data), (size_t)limit);
        } else {
            ck_assert_uint_eq(json_array_size(data), (size_t)limit);
        }
        answer_free(&a);
        if (after == NULL) {
            break;
        }
    }
    ck_assert_msg(after == NULL, "pagination did not end");
    ck_assert_uint_eq(json_array_size(ids), expected_total);
    return ids;
}

/* --- authentication ------------------------------------------------------------------- */

START_TEST(test_a_request_without_a_valid_token_is_401_with_www_authenticate)
{
    struct answer a = call("GET", "/v1/leads", NULL, NULL);
    assert_error(&a, 401, "unauthorized", NULL);
    ck_assert_ptr_nonnull(strcasestr(a.headers, "WWW-Authenticate: Bearer"));
    answer_free(&a);

    a = call("GET", "/v1/leads", "not-a-token", NULL);
    assert_error(&a, 401, "unauthorized", NULL);
    answer_free(&a);

    /* a prefix of a real token is no token */
    a = call("GET", "/v1/leads", "read-token", NULL);
    assert_error(&a, 401, "unauthorized", NULL);
    answer_free(&a);

    const char *basic[] = {"Authorization: Basic cmVhZDpyZWFk", NULL};
    a = call_with("GET", "/v1/connectors", basic, NULL, true);
    assert_error(&a, 401, "unauthorized", NULL);
    answer_free(&a);

    /* checked before the body is read: a stranger's large upload is not buffered */
    char *big = malloc(200000);
    memset(big, 'x', 199999);
    big[199999] = '\0';
    a = call("POST", "/v1/events", NULL, big);
    assert_error(&a, 401, "unauthorized", NULL);
    answer_free(&a);
    free(big);
}
END_TEST

START_TEST(test_each_scope_opens_only_its_operations)
{
    struct answer a = call("POST", "/v1/events", READ_TOKEN,
                           "{\"type\":\"custom.ping\",\"source_id\":\"scope-1\","
                           "\"occurred_at\":\"2026-11-27T10:00:00Z\"}");
    assert_error(&a, 403, "forbidden", NULL);
    answer_free(&a);

    a = call("GET", "/v1/leads", WRITE_TOKEN, NULL);
    assert_error(&a, 403, "forbidden", NULL);
    answer_free(&a);

    a = call("POST", "/v1/connectors/pager/sync", READ_TOKEN, NULL);
    assert_error(&a, 403, "forbidden", NULL);
    answer_free(&a);

    a = call("POST", "/v1/deliveries/replay", WRITE_TOKEN, "{\"all\":true,\"dry_run\":true}");
    assert_error(&a, 403, "forbidden", NULL);
    answer_free(&a);

    a = call("POST", "/v1/deliveries/1/replay", READ_TOKEN, NULL);
    assert_error(&a, 403, "forbidden", NULL);
    answer_free(&a);

    /* and each token does what its scopes allow */
    a = call("GET", "/v1/leads", READ_TOKEN, NULL);
    ck_assert_int_eq(a.status, 200);
    answer_free(&a);
    a = call("POST", "/v1/events", WRITE_TOKEN,
             "{\"type\":\"custom.ping\",\"source_id\":\"scope-2\","
             "\"occurred_at\":\"2026-11-27T10:00:00Z\"}");
    ck_assert_int_eq(a.status, 201);
    answer_free(&a);
    a = call("POST", "/v1/deliveries/replay", ADMIN_TOKEN, "{\"all\":true,\"dry_run\":true}");
    ck_assert_int_eq(a.status, 200);
    answer_free(&a);
}
END_TEST

/* --- POST /v1/events ------------------------------------------------------------------- */

START_TEST(test_one_posted_event_is_committed_before_201_and_a_repeat_is_200)
{
    const char *event = "{\"type\":\"lead.created\",\"source\":\"signup-app\","
                        "\"source_id\":\"su-1\",\"occurred_at\":\"2026-11-27T10:00:00Z\","
                        "\"lead\":{\"email\":\" Post.One@Example.test \",\"company\":\"Posters\"}}";
    struct answer a = call("POST", "/v1/events", WRITE_TOKEN, event);
    ck_assert_int_eq(a.status, 201);
    ck_assert_str_eq(json_string_value(json_object_get(a.json, "result")), "stored");
    json_int_t id = json_integer_value(json_object_get(a.json, "id"));
    ck_assert_int_gt(id, 0);
    answer_free(&a);

    /* durable when answered: it is in the database already */
    PGconn *db = testdb_connect(td.db_url);
    char *sql = util_printf("SELECT count(*) FROM events WHERE id = %lld AND source = "
                            "'signup-app' AND type = 'lead.created'",
                            (long long)id);
    ck_assert_int_eq(testdb_scalar(db, sql), 1);
    free(sql);
    ck_assert_int_eq(
        testdb_scalar(db, "SELECT count(*) FROM leads WHERE email = 'post.one@example.test'"), 1);
    PQfinish(db);

    a = call("POST", "/v1/events", WRITE_TOKEN, event);
    ck_assert_int_eq(a.status, 200);
    ck_assert_str_eq(json_string_value(json_object_get(a.json, "result")), "duplicate");
    answer_free(&a);
    ck_assert_uint_eq(count_of("/v1/events?source=signup-app"), 1);

    /* without a source, the event is the API's */
    a = call("POST", "/v1/events", WRITE_TOKEN,
             "{\"type\":\"custom.note\",\"source_id\":\"no-source-1\","
             "\"occurred_at\":\"2026-11-27T10:00:00Z\"}");
    ck_assert_int_eq(a.status, 201);
    answer_free(&a);
    a = get("/v1/events?source=api&type=custom.note");
    json_t *data = data_of(&a);
    ck_assert_uint_ge(json_array_size(data), 1);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(data, 0), "source_id")),
                     "no-source-1");
    answer_free(&a);
}
END_TEST

START_TEST(test_an_array_gets_one_result_per_item_and_stores_the_valid_ones)
{
    struct answer a =
        call("POST", "/v1/events", WRITE_TOKEN,
             "[{\"type\":\"custom.batch\",\"source\":\"batch-app\",\"source_id\":\"b-1\","
             "\"occurred_at\":\"2026-11-27T10:00:00Z\"},"
             "{\"type\":\"no.such.type\",\"source\":\"batch-app\",\"source_id\":\"b-2\","
             "\"occurred_at\":\"2026-11-27T10:00:00Z\"},"
             "{\"type\":\"custom.batch\",\"source\":\"batch-app\",\"source_id\":\"b-1\","
             "\"occurred_at\":\"2026-11-27T10:00:00Z\"},"
             "42,"
             "{\"type\":\"custom.batch\",\"source\":\"inbound\",\"source_id\":\"b-3\","
             "\"occurred_at\":\"2026-11-27T10:00:00Z\"},"
             "{\"type\":\"custom.batch\",\"source\":\"batch-app\",\"source_id\":\"b-4\","
             "\"occurred_at\":\"yesterday\"}]");
    ck_assert_int_eq(a.status, 207);
    json_t *results = json_object_get(a.json, "results");
    ck_assert_uint_eq(json_array_size(results), 6);
    const int statuses[] = {201, 422, 200, 422, 422, 422};
    for (size_t i = 0; i < 6; i++) {
        json_t *item = json_array_get(results, i);
        ck_assert_int_eq(json_integer_value(json_object_get(item, "index")), (json_int_t)i);
        ck_assert_msg(json_integer_value(json_object_get(item, "status")) == statuses[i],
                      "item %zu: %s", i, a.body);
    }
    /* each refusal says why */
    const char *why = json_string_value(
        json_object_get(json_object_get(json_array_get(results, 4), "error"), "message"));
    ck_assert_ptr_nonnull(strstr(why, "connector instance"));
    why = json_string_value(
        json_object_get(json_object_get(json_array_get(results, 5), "error"), "message"));
    ck_assert_ptr_nonnull(strstr(why, "occurred_at"));
    answer_free(&a);
    ck_assert_uint_eq(count_of("/v1/events?source=batch-app"), 1);
    ck_assert_uint_eq(count_of("/v1/events?source=inbound&type=custom.batch"), 0);
}
END_TEST

START_TEST(test_bad_posts_get_400_413_415_and_422)
{
    /* not JSON */
    struct answer a = call("POST", "/v1/events", WRITE_TOKEN, "{\"type\":");
    assert_error(&a, 400, "bad_request", NULL);
    answer_free(&a);

    /* not declared JSON */
    const char *auth = "Authorization: Bearer " WRITE_TOKEN;
    const char *plain[] = {auth, "Content-Type: text/plain", NULL};
    a = call_with("POST", "/v1/events", plain, "{}", true);
    assert_error(&a, 415, "unsupported_media_type", NULL);
    answer_free(&a);
    const char *none[] = {auth, NULL};
    a = call_with("POST", "/v1/events", none, "{}", true);
    assert_error(&a, 415, "unsupported_media_type", NULL);
    answer_free(&a);
    const char *charset[] = {auth, "Content-Type: application/json; charset=utf-8", NULL};
    a = call_with("POST", "/v1/events", charset,
                  "{\"type\":\"custom.charset\",\"source_id\":\"cs-1\","
                  "\"occurred_at\":\"2026-11-27T10:00:00Z\"}",
                  true);
    ck_assert_int_eq(a.status, 201);
    answer_free(&a);

    /* valid JSON, not a valid event */
    a = call("POST", "/v1/events", WRITE_TOKEN,
             "{\"type\":\"lead.created\",\"source_id\":\"v-1\","
             "\"occurred_at\":\"2026-11-27T10:00:00Z\",\"lead\":{\"email\":\"not an address\"}}");
    assert_error(&a, 422, "invalid_event", NULL);
    ck_assert_ptr_nonnull(strstr(a.body, "email"));
    answer_free(&a);
    a = call("POST", "/v1/events", WRITE_TOKEN, "[]");
    assert_error(&a, 422, "invalid_event", NULL);
    answer_free(&a);
    a = call("POST", "/v1/events", WRITE_TOKEN, "\"event\"");
    assert_error(&a, 422, "invalid_event", NULL);
    answer_free(&a);
    a = call("POST", "/v1/events", WRITE_TOKEN,
             "{\"type\":\"custom.x\",\"source\":\"activity\",\"source_id\":\"v-2\","
             "\"occurred_at\":\"2026-11-27T10:00:00Z\"}");
    assert_error(&a, 422, "invalid_event", NULL);
    ck_assert_ptr_nonnull(strstr(a.body, "scorer"));
    answer_free(&a);

    /* larger than http.body_limit (64 KiB here) */
    size_t size = 70000;
    char *big = malloc(size + 1);
    memset(big, ' ', size);
    big[0] = '[';
    big[size - 1] = ']';
    big[size] = '\0';
    a = call("POST", "/v1/events", WRITE_TOKEN, big);
    assert_error(&a, 413, "payload_too_large", NULL);
    answer_free(&a);
    free(big);

    /* a query parameter where none is taken */
    a = call("POST", "/v1/events?dry_run=1", WRITE_TOKEN, "{}");
    assert_error(&a, 400, "bad_parameter", "dry_run");
    answer_free(&a);
}
END_TEST

/*
 * Sends `head` (the request line and headers, ending in an empty line), then `body` in
 * chunks of `chunk_size` bytes (chunked transfer coding, no Content-Length), over a socket
 * of its own; returns the answer's status, and its body in *answer_out (malloc'd).
 */
static long post_chunked(const char *head, const char *body, size_t chunk_size, char **answer_out)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct timeval timeout = {30, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)td.port)};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&address, sizeof(address)), 0);
    struct strbuf out = {0};
    strbuf_append(&out, head);
    size_t len = strlen(body);
    for (size_t at = 0; at < len; at += chunk_size) {
        size_t n = len - at < chunk_size ? len - at : chunk_size;
        strbuf_appendf(&out, "%zx\r\n", n);
        strbuf_append_len(&out, body + at, n);
        strbuf_append(&out, "\r\n");
    }
    strbuf_append(&out, "0\r\n\r\n");
    ck_assert(!out.failed);
    /* the server may answer (and close) before it has read everything: stop sending then */
    for (size_t sent = 0; sent < out.len;) {
        ssize_t n = send(fd, out.data + sent, out.len - sent, MSG_NOSIGNAL);
        if (n <= 0) {
            break;
        }
        sent += (size_t)n;
    }
    strbuf_free(&out);
    struct strbuf answer = {0};
    char buffer[4096];
    ssize_t n;
    while ((n = recv(fd, buffer, sizeof(buffer), 0)) > 0) {
        strbuf_append_len(&answer, buffer, (size_t)n);
    }
    close(fd);
    const char *text = strbuf_value(&answer);
    long status = strncmp(text, "HTTP/1.1 ", 9) == 0 ? strtol(text + 9, NULL, 10) : 0;
    const char *rest = strstr(text, "\r\n\r\n");
    *answer_out = strdup(rest != NULL ? rest + 4 : "");
    strbuf_free(&answer);
    return status;
}

START_TEST(test_a_chunked_upload_past_the_body_limit_is_413)
{
    const char head[] = "POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                        "Authorization: Bearer " WRITE_TOKEN "\r\n"
                        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
                        "Connection: close\r\n\r\n";
    /* 80,000 bytes without a Content-Length: past the 64 KiB limit only as it streams */
    size_t size = 80000;
    char *big = malloc(size + 1);
    ck_assert_ptr_nonnull(big);
    memset(big, ' ', size);
    big[0] = '[';
    big[size - 1] = ']';
    big[size] = '\0';
    char *body = NULL;
    long status = post_chunked(head, big, 8192, &body);
    free(big);
    ck_assert_msg(status == 413, "%ld: %s", status, body);
    char *problem = openapi_check_response(spec, "POST", "/v1/events", status, body);
    ck_assert_msg(problem == NULL, "%s", problem);
    struct answer a = {status, body, strdup(""), json_loads(body, 0, NULL)};
    assert_error(&a, 413, "payload_too_large", NULL);
    answer_free(&a);

    /* and it is cut off at the limit, not read to its end: 16 MiB offered, far less taken */
    size_t total = 16u * 1024 * 1024;
    struct strbuf request = {0};
    strbuf_append(&request, head);
    char *chunk = malloc(65536);
    ck_assert_ptr_nonnull(chunk);
    memset(chunk, ' ', 65536);
    while (request.len < total) {
        strbuf_appendf(&request, "%x\r\n", 65536);
        strbuf_append_len(&request, chunk, 65536);
        strbuf_append(&request, "\r\n");
    }
    free(chunk);
    ck_assert(!request.failed);
    struct raw_answer cut;
    raw_exchange(td.port, request.data, request.len, 30000, 5000, &cut);
    ck_assert_msg(cut.status == 413, "%d: %s", cut.status, cut.body);
    ck_assert_msg(cut.closed, "the connection was kept open");
    ck_assert_msg(cut.sent < total / 2, "the server read %zu of %zu bytes", cut.sent, total);
    raw_answer_free(&cut);
    strbuf_free(&request);

    /* the same coding under the limit is read whole and stored: the size was refused */
    status = post_chunked(head,
                          "{\"type\":\"custom.chunked\",\"source\":\"chunk-app\","
                          "\"source_id\":\"ch-1\",\"occurred_at\":\"2026-11-27T10:00:00Z\"}",
                          7, &body);
    ck_assert_msg(status == 201, "%ld: %s", status, body);
    free(body);
    ck_assert_uint_eq(count_of("/v1/events?source=chunk-app"), 1);
}
END_TEST

/* Values that pass a naive check and break later are refused where they come in. */
START_TEST(test_posted_times_postgresql_cannot_store_are_refused_per_item)
{
    /* one event: 422 naming the field (it was 503, "retry", for ever) */
    struct answer a = call("POST", "/v1/events", WRITE_TOKEN,
                           "{\"type\":\"custom.poison\",\"source\":\"poison-app\",\"source_id\":"
                           "\"p-0\",\"occurred_at\":\"0000-01-01T00:00:00Z\"}");
    assert_error(&a, 422, "invalid_event", NULL);
    ck_assert_msg(strstr(a.body, "occurred_at: out of range"), "%s", a.body);
    answer_free(&a);
    /* an array: the bad item refused, the good ones stored (the 207 contract) */
    a = call("POST", "/v1/events", WRITE_TOKEN,
             "[{\"type\":\"custom.poison\",\"source\":\"poison-app\",\"source_id\":\"p-1\","
             "\"occurred_at\":\"2026-11-27T10:00:00Z\"},"
             "{\"type\":\"custom.poison\",\"source\":\"poison-app\",\"source_id\":\"p-2\","
             "\"occurred_at\":\"0001-01-01T00:30:00+01:00\"},"
             "{\"type\":\"custom.poison\",\"source\":\"poison-app\",\"source_id\":\"p-3\","
             "\"occurred_at\":\"2026-11-27T10:01:00Z\"}]");
    ck_assert_msg(a.status == 207, "%ld: %s", a.status, a.body);
    const json_t *results = json_object_get(a.json, "results");
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(results, 0), "status")),
                     201);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(results, 1), "status")),
                     422);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(results, 2), "status")),
                     201);
    answer_free(&a);
    ck_assert_uint_eq(count_of("/v1/events?source=poison-app"), 2);
}
END_TEST

/* A number past 2^63 in `data` (1e19) is stored; every page that holds it must still read
 * (jsonb prints it back as a 20-digit integer). */
START_TEST(test_every_stored_number_reads_back)
{
    post_events("{\"type\":\"custom.big_number\",\"source\":\"bignum-app\",\"source_id\":\"b-1\","
                "\"occurred_at\":\"2026-11-27T10:00:00Z\",\"data\":{\"big\":1e19,\"n\":42,"
                "\"neg\":-9223372036854775808}}");
    post_events("{\"type\":\"custom.big_number\",\"source\":\"bignum-app\",\"source_id\":\"b-2\","
                "\"occurred_at\":\"2026-11-27T10:01:00Z\",\"data\":{\"n\":7}}");
    struct answer a = get("/v1/events?source=bignum-app");
    json_t *data = data_of(&a);
    ck_assert_uint_eq(json_array_size(data), 2);
    const json_t *first =
        json_object_get(json_object_get(json_array_get(data, 0), "event"), "data");
    ck_assert(json_number_value(json_object_get(first, "big")) == 1e19);
    /* only the number that needs it is read as a real: ids and the rest stay integers */
    ck_assert(json_is_integer(json_object_get(first, "n")));
    ck_assert(json_is_integer(json_object_get(first, "neg")));
    ck_assert(json_is_integer(json_object_get(json_array_get(data, 1), "id")));
    answer_free(&a);
}
END_TEST

/* Every custom.<name> an app posts shares one label of the ingest counter: a new type is
 * not a new series. */
START_TEST(test_custom_types_share_one_metric_label)
{
    post_events("[{\"type\":\"custom.label_one\",\"source\":\"label-app\",\"source_id\":\"l-1\","
                "\"occurred_at\":\"2026-11-27T10:00:00Z\"},"
                "{\"type\":\"custom.label_two\",\"source\":\"label-app\",\"source_id\":\"l-2\","
                "\"occurred_at\":\"2026-11-27T10:00:00Z\"}]");
    char *url = td_url(&td, "/metrics");
    struct http_result r;
    http_get(url, &r);
    free(url);
    ck_assert_int_eq(r.status, 200);
    ck_assert_msg(strstr(r.body, "custom.label_") == NULL, "a custom type became a label");
    ck_assert_msg(strstr(r.body, "leadhub_events_ingested_total{instance=\"label-app\","
                                 "type=\"custom.*\",outcome=\"stored\"} 2") != NULL,
                  "%s", r.body);
    http_result_free(&r);
}
END_TEST

/* --- leads ------------------------------------------------------------------------------ */

static bool grace_scored(void *arg)
{
    (void)arg;
    PGconn *db = testdb_connect(td.db_url);
    long n = testdb_scalar(db, "SELECT count(*) FROM lead_scores s JOIN leads l ON l.id = "
                               "s.lead_id WHERE l.email IN ('grace@filter.test', "
                               "'alan@filter.test') AND s.scorer = 'activity' AND s.score IN "
                               "(10, 30)");
    PQfinish(db);
    return n == 2;
}

START_TEST(test_lead_filters_each_narrow_the_list)
{
    /* the scores below count events in the scorer's 90-day window: dated from now */
    char t0[32], t1[32], t2[32];
    minutes_ago(180, t0);
    minutes_ago(179, t1);
    minutes_ago(178, t2);
    char *events =
        util_printf("[{\"type\":\"lead.created\",\"source\":\"filter-app\",\"source_id\":\"g-1\","
                    "\"occurred_at\":\"%s\",\"lead\":{\"email\":\"Grace@Filter.test\","
                    "\"company\":\"Filter Co\"}},"
                    "{\"type\":\"email.received\",\"source\":\"filter-app\",\"source_id\":\"g-2\","
                    "\"occurred_at\":\"%s\",\"lead\":{\"email\":\"grace@filter.test\"}},"
                    "{\"type\":\"email.received\",\"source\":\"filter-app\",\"source_id\":\"g-3\","
                    "\"occurred_at\":\"%s\",\"lead\":{\"email\":\"grace@filter.test\"}},"
                    "{\"type\":\"lead.created\",\"source\":\"filter-app\",\"source_id\":\"a-1\","
                    "\"occurred_at\":\"%s\",\"lead\":{\"email\":\"alan@filter.test\","
                    "\"company\":\"FILTER CO\"}},"
                    "{\"type\":\"lead.created\",\"source\":\"billing-app\",\"source_id\":\"e-1\","
                    "\"occurred_at\":\"%s\",\"lead\":{\"email\":\"edsger@filter.test\","
                    "\"company\":\"Other Co\",\"external_ids\":{\"ledger\":\"L-77\"}}}]",
                    t0, t1, t2, t0, t0);
    post_events(events);
    free(events);

    ck_assert_uint_eq(count_of("/v1/leads?email=GRACE@filter.test"), 1);
    ck_assert_uint_eq(count_of("/v1/leads?email=nobody@filter.test"), 0);
    ck_assert_uint_eq(count_of("/v1/leads?company=filter%20co"), 2);
    ck_assert_uint_eq(count_of("/v1/leads?company=Other%20Co"), 1);
    /* a source: the leads it reported events about, and those it knows by an identity */
    ck_assert_uint_eq(count_of("/v1/leads?source=filter-app"), 2);
    ck_assert_uint_eq(count_of("/v1/leads?source=billing-app"), 1);
    ck_assert_uint_eq(count_of("/v1/leads?source=ledger"), 1);
    ck_assert_uint_eq(count_of("/v1/leads?company=Filter%20Co&updated_since=2000-01-01T00:00:00Z"),
                      2);
    ck_assert_uint_eq(count_of("/v1/leads?company=Filter%20Co&updated_since=2999-01-01T00:00:00Z"),
                      0);

    /* scores: grace has three events (30), alan one (10) */
    ck_assert(td_wait_until(grace_scored, NULL, 20000));
    struct answer a = get("/v1/leads?company=Filter%20Co&scorer=activity&min_score=25");
    json_t *data = data_of(&a);
    ck_assert_uint_eq(json_array_size(data), 1);
    json_t *lead = json_array_get(data, 0);
    ck_assert_str_eq(json_string_value(json_object_get(lead, "email")), "grace@filter.test");
    ck_assert(json_number_value(json_object_get(json_object_get(lead, "scores"), "activity")) ==
              30.0);
    answer_free(&a);
    ck_assert_uint_eq(count_of("/v1/leads?company=Filter%20Co&scorer=activity"), 2);
    ck_assert_uint_eq(count_of("/v1/leads?company=Filter%20Co&scorer=activity&min_score=30.5"), 0);
    ck_assert_uint_eq(count_of("/v1/leads?company=Filter%20Co&scorer=nobody"), 0);
}
END_TEST

START_TEST(test_bad_list_parameters_are_400_naming_the_parameter)
{
    static const struct {
        const char *path;
        const char *parameter;
    } cases[] = {
        {"/v1/leads?limit=0", "limit"},
        {"/v1/leads?limit=501", "limit"},
        {"/v1/leads?limit=ten", "limit"},
        {"/v1/leads?after=-3", "after"},
        {"/v1/leads?after=1x", "after"},
        {"/v1/leads?updated_since=yesterday", "updated_since"},
        {"/v1/leads?min_score=high&scorer=activity", "min_score"},
        {"/v1/leads?min_score=10", "min_score"},
        {"/v1/leads?emial=a@b.c", "emial"},
        {"/v1/leads/1?verbose=1", "verbose"},
        {"/v1/meetings?status=maybe", "status"},
        {"/v1/meetings?since=2026-13-01T00:00:00Z", "since"},
        {"/v1/meetings?until=now", "until"},
        {"/v1/meetings?lead_id=abc", "lead_id"},
        {"/v1/events?lead_id=0", "lead_id"},
        {"/v1/events?since=2026-11-27", "since"},
        {"/v1/events?limit=1000", "limit"},
        {"/v1/deliveries?status=lost", "status"},
        {"/v1/deliveries?after=zero", "after"},
        {"/v1/connectors?page=2", "page"},
        /* an empty value is a mistake, not "no filter": it would answer everything */
        {"/v1/leads?source=", "source"},
        {"/v1/leads?source", "source"},
        {"/v1/leads?email=&company=Acme", "email"},
        {"/v1/leads?scorer=&min_score=10", "scorer"},
        {"/v1/leads?limit=", "limit"},
        {"/v1/meetings?source=", "source"},
        {"/v1/events?type=", "type"},
        {"/v1/deliveries?destination=", "destination"},
        /* not valid UTF-8: dropped, it would skip the filter, or pass as a known name */
        {"/v1/leads?email=%FF", "email"},
        {"/v1/leads?company=ok&email=a%C0%AF", "email"},
        {"/v1/events?source=x%00y", "source"},
        /* (a name that does not decode is named as sent) */
        {"/v1/leads?bogus%FF=1", "bogus%FF"},
        /* times PostgreSQL cannot hold: a 400 naming them, not a 500 */
        {"/v1/events?since=0000-01-01T00:00:00Z", "since"},
        {"/v1/meetings?until=9999-12-31T23:59:59-01:00", "until"},
    };
    for (size_t i = 0; i < UTIL_ARRAY_LEN(cases); i++) {
        struct answer a = get(cases[i].path);
        assert_error(&a, 400, "bad_parameter", cases[i].parameter);
        answer_free(&a);
    }
    /* the operations without parameters refuse them too */
    struct answer a = call("POST", "/v1/connectors/pager/sync?now=1", ADMIN_TOKEN, NULL);
    assert_error(&a, 400, "bad_parameter", "now");
    answer_free(&a);
    a = call("POST", "/v1/deliveries/1/replay?force=1", ADMIN_TOKEN, NULL);
    assert_error(&a, 400, "bad_parameter", "force");
    answer_free(&a);
}
END_TEST

START_TEST(test_leads_page_to_the_end_in_a_stable_order)
{
    struct strbuf body = {0};
    strbuf_append(&body, "[");
    for (int i = 0; i < 7; i++) {
        strbuf_appendf(&body,
                       "%s{\"type\":\"lead.created\",\"source\":\"paging-app\",\"source_id\":"
                       "\"p-%d\",\"occurred_at\":\"2026-11-27T10:00:00Z\",\"lead\":{\"email\":"
                       "\"page%d@paging.test\",\"company\":\"Paging Co\"}}",
                       i ? "," : "", i, i);
    }
    strbuf_append(&body, "]");
    post_events(strbuf_value(&body));
    strbuf_free(&body);

    json_t *by3 = page_to_end("/v1/leads?company=Paging%20Co", 3, 7);
    json_t *by7 = page_to_end("/v1/leads?company=Paging%20Co", 7, 7); /* a full last page */
    json_t *by500 = page_to_end("/v1/leads?company=Paging%20Co", 500, 7);
    ck_assert(json_equal(by3, by7));
    ck_assert(json_equal(by3, by500));
    json_decref(by3);
    json_decref(by7);
    json_decref(by500);
    /* the default page holds them all */
    ck_assert_uint_eq(count_of("/v1/leads?company=Paging%20Co"), 7);
}
END_TEST

static bool ada_scored(void *arg)
{
    (void)arg;
    PGconn *db = testdb_connect(td.db_url);
    long n = testdb_scalar(db, "SELECT count(*) FROM lead_scores s JOIN leads l ON l.id = "
                               "s.lead_id WHERE l.email = 'ada@detail.test' AND s.score = 20");
    PQfinish(db);
    return n == 1;
}

START_TEST(test_a_lead_comes_with_identities_scores_events_and_meetings)
{
    /* the score counts both events in the scorer's 90-day window: dated from now */
    char created[32], scheduled[32];
    minutes_ago(120, created);
    minutes_ago(60, scheduled);
    char *event =
        util_printf("{\"type\":\"lead.created\",\"source\":\"detail-app\",\"source_id\":\"d-1\","
                    "\"occurred_at\":\"%s\",\"lead\":{\"email\":\"ada@detail.test\","
                    "\"first_name\":\"Ada\",\"company\":\"Engines\",\"external_id\":\"DA-1\","
                    "\"external_ids\":{\"ledger\":\"L-1\"},\"attributes\":{\"tier\":\"gold\"}}}",
                    created);
    post_events(event);
    free(event);
    event = util_printf(
        "{\"type\":\"meeting.scheduled\",\"source\":\"detail-cal\",\"source_id\":\"dm-1\","
        "\"occurred_at\":\"%s\",\"lead\":{\"email\":\"ada@detail.test\"},"
        "\"meeting\":{\"external_id\":\"dm-1\","
        "\"title\":\"Intro\",\"starts_at\":\"2030-01-10T10:00:00Z\",\"ends_at\":"
        "\"2030-01-10T10:30:00Z\",\"attendees\":[{\"email\":\"ada@detail.test\","
        "\"response\":\"accepted\"}]}}",
        scheduled);
    post_events(event);
    free(event);
    ck_assert(td_wait_until(ada_scored, NULL, 20000));

    json_int_t id = lead_id_of("ada@detail.test");
    char *path = util_printf("/v1/leads/%lld", (long long)id);
    struct answer a = get(path);
    free(path);
    ck_assert_int_eq(a.status, 200);
    ck_assert_str_eq(json_string_value(json_object_get(a.json, "first_name")), "Ada");
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(a.json, "attributes"), "tier")), "gold");
    json_t *identities = json_object_get(a.json, "identities");
    ck_assert_uint_eq(json_array_size(identities), 2);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(identities, 0), "source")),
                     "detail-app");
    ck_assert_str_eq(
        json_string_value(json_object_get(json_array_get(identities, 0), "external_id")), "DA-1");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(identities, 1), "source")),
                     "ledger");
    json_t *scores = json_object_get(a.json, "scores");
    ck_assert_uint_eq(json_array_size(scores), 1);
    json_t *score = json_array_get(scores, 0);
    ck_assert_str_eq(json_string_value(json_object_get(score, "scorer")), "activity");
    ck_assert(json_number_value(json_object_get(score, "score")) == 20.0);
    ck_assert_str_eq(json_string_value(json_object_get(score, "band")), "none");
    json_t *why = json_array_get(json_object_get(score, "explanation"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(why, "why")), "2 event(s) in the window");
    json_t *events = json_object_get(a.json, "recent_events");
    ck_assert_uint_eq(json_array_size(events), 2);
    /* newest first */
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(events, 0), "type")),
                     "meeting.scheduled");
    json_t *meetings = json_object_get(a.json, "meetings");
    ck_assert_uint_eq(json_array_size(meetings), 1);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(meetings, 0), "title")),
                     "Intro");
    answer_free(&a);

    a = get("/v1/leads/999999999");
    assert_error(&a, 404, "not_found", NULL);
    answer_free(&a);
    a = get("/v1/leads/ada");
    assert_error(&a, 404, "not_found", NULL);
    answer_free(&a);
}
END_TEST

/* --- meetings ----------------------------------------------------------------------------- */

START_TEST(test_meeting_filters_pages_and_detail)
{
    post_events("{\"type\":\"lead.created\",\"source\":\"cal-app\",\"source_id\":\"ml-1\","
                "\"occurred_at\":\"2026-11-27T09:00:00Z\",\"lead\":{\"email\":\"mia@meet.test\"}}");
    post_events(
        "[{\"type\":\"meeting.scheduled\",\"source\":\"cal-app\",\"source_id\":\"ma\","
        "\"occurred_at\":\"2026-11-27T10:00:00Z\",\"meeting\":{\"external_id\":\"ma\","
        "\"title\":\"A\",\"starts_at\":\"2031-03-01T09:00:00Z\",\"timezone\":\"Europe/Paris\","
        "\"organizer\":{\"email\":\"owner@meet.test\",\"name\":\"Owner\"},"
        "\"attendees\":[{\"email\":\"mia@meet.test\",\"name\":\"Mia\","
        "\"response\":\"tentative\"},{\"email\":\"zed@meet.test\"}]}},"
        "{\"type\":\"meeting.canceled\",\"source\":\"cal-app\",\"source_id\":\"mb\","
        "\"occurred_at\":\"2026-11-27T10:00:00Z\",\"meeting\":{\"external_id\":\"mb\","
        "\"title\":\"B\",\"starts_at\":\"2031-03-02T09:00:00Z\"}},"
        "{\"type\":\"meeting.scheduled\",\"source\":\"cal-app\",\"source_id\":\"mc\","
        "\"occurred_at\":\"2026-11-27T10:00:00Z\",\"meeting\":{\"external_id\":\"mc\","
        "\"title\":\"C\",\"starts_at\":\"2031-03-03T09:00:00Z\"}},"
        "{\"type\":\"meeting.scheduled\",\"source\":\"other-cal\",\"source_id\":\"md\","
        "\"occurred_at\":\"2026-11-27T10:00:00Z\",\"meeting\":{\"external_id\":\"md\","
        "\"title\":\"D\",\"starts_at\":\"2031-03-02T12:00:00Z\"}}]");

    ck_assert_uint_eq(count_of("/v1/meetings?source=cal-app"), 3);
    ck_assert_uint_eq(count_of("/v1/meetings?source=other-cal"), 1);
    ck_assert_uint_eq(
        count_of("/v1/meetings?since=2031-03-02T00:00:00Z&until=2031-03-03T00:00:00Z"), 2);
    ck_assert_uint_eq(count_of("/v1/meetings?since=2031-03-02T00:00:00Z&until=2031-03-03T00:00:00Z"
                               "&source=cal-app"),
                      1);
    /* until is exclusive, since inclusive */
    ck_assert_uint_eq(
        count_of("/v1/meetings?since=2031-03-01T09:00:00Z&until=2031-03-01T09:00:01Z"), 1);
    ck_assert_uint_eq(
        count_of("/v1/meetings?since=2031-03-01T08:00:00Z&until=2031-03-01T09:00:00Z"), 0);

    struct answer a = get("/v1/meetings?status=canceled&source=cal-app");
    json_t *data = data_of(&a);
    ck_assert_uint_eq(json_array_size(data), 1);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(data, 0), "title")), "B");
    answer_free(&a);
    ck_assert_uint_eq(count_of("/v1/meetings?status=scheduled&source=cal-app"), 2);

    json_int_t mia = lead_id_of("mia@meet.test");
    char *path = util_printf("/v1/meetings?lead_id=%lld", (long long)mia);
    a = get(path);
    free(path);
    data = data_of(&a);
    ck_assert_uint_eq(json_array_size(data), 1);
    json_t *meeting = json_array_get(data, 0);
    ck_assert_str_eq(json_string_value(json_object_get(meeting, "title")), "A");
    ck_assert_str_eq(json_string_value(json_object_get(meeting, "timezone")), "Europe/Paris");
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(meeting, "organizer"), "name")), "Owner");
    json_int_t id = json_integer_value(json_object_get(meeting, "id"));
    answer_free(&a);

    json_t *ids = page_to_end("/v1/meetings?source=cal-app", 1, 3);
    json_decref(ids);
    ids = page_to_end("/v1/meetings?source=cal-app", 2, 3);
    json_decref(ids);

    path = util_printf("/v1/meetings/%lld", (long long)id);
    a = get(path);
    free(path);
    ck_assert_int_eq(a.status, 200);
    json_t *attendees = json_object_get(a.json, "attendees");
    ck_assert_uint_eq(json_array_size(attendees), 2);
    json_t *first = json_array_get(attendees, 0);
    ck_assert_str_eq(json_string_value(json_object_get(first, "email")), "mia@meet.test");
    ck_assert_str_eq(json_string_value(json_object_get(first, "response")), "tentative");
    ck_assert_int_eq(json_integer_value(json_object_get(first, "lead_id")), mia);
    ck_assert(json_is_null(json_object_get(json_array_get(attendees, 1), "lead_id")));
    answer_free(&a);

    a = get("/v1/meetings/999999999");
    assert_error(&a, 404, "not_found", NULL);
    answer_free(&a);
}
END_TEST

/* --- events ------------------------------------------------------------------------------- */

START_TEST(test_event_filters_and_pages)
{
    post_events(
        "{\"type\":\"lead.created\",\"source\":\"evt-app\",\"source_id\":\"el\","
        "\"occurred_at\":\"2031-05-01T08:00:00Z\",\"lead\":{\"email\":\"eve@events.test\"}}");
    struct strbuf body = {0};
    strbuf_append(&body, "[");
    for (int i = 0; i < 5; i++) {
        strbuf_appendf(&body,
                       "%s{\"type\":\"%s\",\"source\":\"evt-app\",\"source_id\":\"e-%d\","
                       "\"occurred_at\":\"2031-05-0%dT10:00:00Z\"%s}",
                       i ? "," : "", i < 3 ? "custom.alpha" : "custom.beta", i, i + 2,
                       i == 4 ? ",\"lead\":{\"email\":\"eve@events.test\"}" : "");
    }
    strbuf_append(&body, "]");
    post_events(strbuf_value(&body));
    strbuf_free(&body);

    ck_assert_uint_eq(count_of("/v1/events?source=evt-app"), 6);
    ck_assert_uint_eq(count_of("/v1/events?source=evt-app&type=custom.alpha"), 3);
    ck_assert_uint_eq(count_of("/v1/events?source=evt-app&type=custom.*"), 5);
    ck_assert_uint_eq(count_of("/v1/events?source=evt-app&type=*.beta"), 2);
    ck_assert_uint_eq(count_of("/v1/events?source=evt-app&type=lead.*"), 1);
    /* a glob's other characters are literal: '_' and '%' match only themselves */
    ck_assert_uint_eq(count_of("/v1/events?source=evt-app&type=custom_alpha"), 0);
    ck_assert_uint_eq(count_of("/v1/events?source=evt-app&type=custom%25"), 0);
    ck_assert_uint_eq(count_of("/v1/events?source=evt-app&since=2031-05-03T00:00:00Z"), 4);
    ck_assert_uint_eq(
        count_of("/v1/events?source=evt-app&since=2031-05-03T00:00:00Z&until=2031-05-05T00:00:00Z"),
        2);
    ck_assert_uint_eq(count_of("/v1/events?since=2031-05-01T00:00:00Z&until=2031-05-08T00:00:00Z"),
                      6);

    json_int_t eve = lead_id_of("eve@events.test");
    char *path = util_printf("/v1/events?lead_id=%lld", (long long)eve);
    struct answer a = get(path);
    free(path);
    json_t *data = data_of(&a);
    ck_assert_uint_eq(json_array_size(data), 2);
    json_t *stored = json_array_get(data, 1);
    ck_assert_str_eq(json_string_value(json_object_get(stored, "type")), "custom.beta");
    ck_assert_int_eq(json_integer_value(json_object_get(stored, "lead_id")), eve);
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(stored, "event"), "source_id")), "e-4");
    answer_free(&a);

    json_t *ids = page_to_end("/v1/events?source=evt-app", 2, 6);
    json_decref(ids);
    ids = page_to_end("/v1/events?source=evt-app", 4, 6);
    json_decref(ids);
    ids = page_to_end("/v1/events?source=evt-app&type=custom.alpha", 3, 3);
    json_decref(ids);
}
END_TEST

/* --- connectors --------------------------------------------------------------------------- */

static const json_t *find_named(const json_t *list, const char *name)
{
    size_t i;
    const json_t *item;
    json_array_foreach(list, i, item)
    {
        if (strcmp(json_string_value(json_object_get(item, "name")), name) == 0) {
            return item;
        }
    }
    return NULL;
}

static void assert_no_secret(const char *text)
{
    static const char *const secrets[] = {
        READ_TOKEN,          WRITE_TOKEN,        ADMIN_TOKEN,
        HOOK_SECRET,         SINK_SECRET,        OAUTH_CLIENT_SECRET,
        OAUTH_REFRESH_TOKEN, OAUTH_ACCESS_TOKEN, OAUTH_ROTATED_TOKEN};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(secrets); i++) {
        ck_assert_msg(strstr(text, secrets[i]) == NULL, "a secret leaked: %s", text);
    }
}

/* The database's answer to `sql` (with %s for a name) for `name`, as a number. */
static long long db_number(const char *sql, const char *name)
{
    PGconn *db = testdb_connect(td.db_url);
    char *query = util_printf(sql, name);
    long long n = testdb_scalar(db, query);
    free(query);
    PQfinish(db);
    return n;
}

/* The counts of an instance's status, as the database holds them (the suite's data is all
 * from the last minutes, and far below the limit of 1000). */
static json_t *counts_in_db(const char *name)
{
    return json_pack(
        "{s:I,s:{s:I,s:I,s:I,s:I}}", "events_24h",
        (json_int_t)db_number("SELECT count(*) FROM events WHERE source = '%s'", name),
        "deliveries", "pending",
        (json_int_t)db_number(
            "SELECT count(*) FROM deliveries WHERE destination = '%s' AND status = 'pending'",
            name),
        "retrying",
        (json_int_t)db_number(
            "SELECT count(*) FROM deliveries WHERE destination = '%s' AND status = 'retrying'",
            name),
        "dead",
        (json_int_t)db_number(
            "SELECT count(*) FROM deliveries WHERE destination = '%s' AND status = 'dead'", name),
        "done_24h",
        (json_int_t)db_number(
            "SELECT count(*) FROM deliveries WHERE destination = '%s' AND status = 'done'", name));
}

static json_t *counts_of(const json_t *status)
{
    return json_pack("{s:O,s:O}", "events_24h", json_object_get(status, "events_24h"), "deliveries",
                     json_object_get(status, "deliveries"));
}

/* The counts of GET /v1/connectors/<name>, e.g. "{\"events_24h\":2,...}" (malloc'd). */
static char *status_counts(const char *name)
{
    char *path = util_printf("/v1/connectors/%s", name);
    struct answer a = get(path);
    free(path);
    ck_assert_msg(a.status == 200, "%ld: %s", a.status, a.body);
    json_t *counts = counts_of(a.json);
    char *text = json_dumps(counts, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(counts);
    answer_free(&a);
    return text;
}

struct expected_counts {
    const char *name;
    const char *counts; /* JSON, keys sorted */
};

static bool counts_are(void *arg)
{
    const struct expected_counts *want = arg;
    char *got = status_counts(want->name);
    bool same = strcmp(got, want->counts) == 0;
    free(got);
    return same;
}

/* Waits for an instance's counts to be `counts` (deliveries in flight settle), then
 * asserts them. */
static void assert_status_counts(const char *name, const char *counts)
{
    struct expected_counts want = {name, counts};
    if (!td_wait_until(counts_are, &want, 20000)) {
        char *got = status_counts(name);
        ck_abort_msg("%s: counts %s, expected %s", name, got, counts);
    }
}

START_TEST(test_connectors_show_every_instance_and_never_a_secret)
{
    /* the inbound webhook stores two events; the pager's first poll stored two */
    for (int i = 0; i < 2; i++) {
        char *body = util_printf("{\"type\":\"email.received\",\"source_id\":\"in-%d\","
                                 "\"occurred_at\":\"2026-11-27T10:00:00Z\"}",
                                 i);
        ck_assert_int_eq(td_post(&td, "inbound", HOOK_SECRET, body, NULL), 200);
        free(body);
    }
    static const char none[] = "{\"deliveries\":{\"dead\":0,\"done_24h\":0,\"pending\":0,"
                               "\"retrying\":0},\"events_24h\":0}";
    static const char two_events[] = "{\"deliveries\":{\"dead\":0,\"done_24h\":0,\"pending\":"
                                     "0,\"retrying\":0},\"events_24h\":2}";
    assert_status_counts("inbound", two_events);
    assert_status_counts("pager", two_events);
    assert_status_counts("crm", none);
    assert_status_counts("oauthcrm", none);
    assert_status_counts("dormant", none);

    struct answer a = get("/v1/connectors");
    json_t *data = data_of(&a);
    assert_no_secret(a.body);
    static const struct {
        const char *name, *plugin, *kind;
        bool enabled, initialized;
        const char *circuit; /* NULL: null (not a running destination) */
    } expected[] = {
        {"inbound", "webhook", "source", true, true, NULL},
        {"pager", "paging_source", "source", true, true, NULL},
        {"crm", "http", "sink", true, true, "closed"},
        {"warehouse", "http", "sink", true, true, "closed"},
        {"oauthcrm", "oauth_sink", "sink", true, true, "closed"},
        {"dormant", "http", "sink", false, false, NULL},
        {"activity", "event_count_scorer", "scorer", true, true, NULL},
    };
    ck_assert_uint_eq(json_array_size(data), UTIL_ARRAY_LEN(expected));
    for (size_t i = 0; i < UTIL_ARRAY_LEN(expected); i++) {
        const json_t *c = find_named(data, expected[i].name);
        ck_assert_msg(c != NULL, "%s missing: %s", expected[i].name, a.body);
        ck_assert_str_eq(json_string_value(json_object_get(c, "plugin")), expected[i].plugin);
        ck_assert_str_eq(json_string_value(json_object_get(c, "kind")), expected[i].kind);
        ck_assert(json_is_true(json_object_get(c, "enabled")) == expected[i].enabled);
        ck_assert_msg(json_is_true(json_object_get(c, "initialized")) == expected[i].initialized,
                      "%s: %s", expected[i].name, a.body);
        ck_assert(json_is_null(json_object_get(c, "error")));
        /* no instance has asked for a token yet (the OAuth2 sink's test comes next) */
        ck_assert_str_eq(json_string_value(json_object_get(c, "token")), "none");
        const json_t *circuit = json_object_get(c, "circuit");
        if (expected[i].circuit == NULL) {
            ck_assert_msg(json_is_null(circuit), "%s: %s", expected[i].name, a.body);
        } else {
            ck_assert_str_eq(json_string_value(circuit), expected[i].circuit);
        }
        /* the counts are the database's, whatever the other tests stored */
        json_t *stored = counts_in_db(expected[i].name);
        json_t *shown = counts_of(c);
        ck_assert_msg(json_equal(stored, shown), "%s: counts differ from the database's: %s",
                      expected[i].name, a.body);
        json_decref(stored);
        json_decref(shown);
        /* no settings of any kind come out */
        ck_assert_ptr_null(json_object_get(c, "settings"));
    }

    /* only a source that saved a cursor has one; its age is the database's */
    const json_t *pager = find_named(data, "pager");
    const char *cursor_at = json_string_value(json_object_get(pager, "cursor_updated_at"));
    ck_assert_ptr_nonnull(cursor_at);
    int64_t cursor_ms = 0;
    ck_assert_int_eq(util_parse_rfc3339(cursor_at, &cursor_ms), 0);
    long long stored_ms = db_number("SELECT floor(extract(epoch FROM max(updated_at)) * 1000) FROM "
                                    "connector_state WHERE instance = '%s' AND key = 'cursor'",
                                    "pager");
    ck_assert_int_le(llabs(cursor_ms - stored_ms), 1);
    json_int_t age = json_integer_value(json_object_get(pager, "cursor_age_seconds"));
    long long age_now = db_number("SELECT floor(extract(epoch FROM now() - max(updated_at))) FROM "
                                  "connector_state WHERE instance = '%s' AND key = 'cursor'",
                                  "pager");
    ck_assert(json_is_integer(json_object_get(pager, "cursor_age_seconds")));
    ck_assert_msg(age >= 0 && age <= age_now && age_now - age <= 10, "age %lld, now %lld",
                  (long long)age, age_now);
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(pager, "last_poll"), "outcome")), "ok");
    static const char *const cursorless[] = {"inbound", "crm", "oauthcrm", "dormant", "activity"};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(cursorless); i++) {
        const json_t *c = find_named(data, cursorless[i]);
        ck_assert(json_is_null(json_object_get(c, "cursor_updated_at")));
        ck_assert(json_is_null(json_object_get(c, "cursor_age_seconds")));
        ck_assert(json_is_null(json_object_get(c, "last_poll")));
    }
    answer_free(&a);

    a = get("/v1/connectors/warehouse");
    ck_assert_int_eq(a.status, 200);
    ck_assert_str_eq(json_string_value(json_object_get(a.json, "name")), "warehouse");
    ck_assert_ptr_nonnull(json_object_get(json_object_get(a.json, "deliveries"), "dead"));
    assert_no_secret(a.body);
    answer_free(&a);

    a = get("/v1/connectors/nothing-here");
    assert_error(&a, 404, "not_found", NULL);
    answer_free(&a);
    a = get("/v1/connectors/Bad.Name");
    assert_error(&a, 404, "not_found", NULL);
    answer_free(&a);
}
END_TEST

/* The token state of GET /v1/connectors/oauthcrm, checked for secrets (malloc'd). */
static char *oauth_token_state(void)
{
    struct answer a = get("/v1/connectors/oauthcrm");
    ck_assert_msg(a.status == 200, "%ld: %s", a.status, a.body);
    assert_no_secret(a.body);
    char *state = strdup(json_string_value(json_object_get(a.json, "token")));
    answer_free(&a);
    return state;
}

static bool oauth_token_is(void *arg)
{
    char *state = oauth_token_state();
    bool same = strcmp(state, (const char *)arg) == 0;
    free(state);
    return same;
}

static void post_sync_event(const char *source_id)
{
    char *event = util_printf("{\"type\":\"custom.sync\",\"source\":\"oauth-app\","
                              "\"source_id\":\"%s\",\"occurred_at\":\"2026-11-27T10:00:00Z\"}",
                              source_id);
    post_events(event);
    free(event);
}

START_TEST(test_a_connector_shows_its_token_state_and_never_its_tokens)
{
    ck_assert(oauth_token_is("none"));

    /* the first delivery fetches a token (and a rotated refresh token) and is taken */
    post_sync_event("sync-1");
    assert_status_counts("oauthcrm", "{\"deliveries\":{\"dead\":0,\"done_24h\":1,"
                                     "\"pending\":0,\"retrying\":0},\"events_24h\":0}");
    ck_assert(oauth_token_is("valid"));

    /* the CRM refuses that token for the second: the host asks for a new one, and the
     * endpoint takes its time to refuse the refresh */
    post_sync_event("sync-2");
    ck_assert_msg(td_wait_until(oauth_token_is, "refreshing", 20000),
                  "the refresh was never seen in progress");
    ck_assert(td_wait_until(oauth_token_is, "needs_consent", OAUTH_REFUSAL_DELAY_MS + 20000));
    /* refused for good: dead at once (max_attempts 1) */
    assert_status_counts("oauthcrm", "{\"deliveries\":{\"dead\":1,\"done_24h\":1,"
                                     "\"pending\":0,\"retrying\":0},\"events_24h\":0}");

    /* the rotated refresh token is kept in connector_state, sealed, yet it is not a
     * cursor; no answer holds a token or secret, the dead delivery's reason included */
    ck_assert_int_eq(db_number("SELECT count(*) FROM connector_state WHERE instance = '%s' AND "
                               "key = 'leadhub.oauth2.refresh_token' AND value ? "
                               "'leadhub_sealed' AND value::text NOT LIKE '%%" OAUTH_ROTATED_TOKEN
                               "%%'",
                               "oauthcrm"),
                     1);
    struct answer a = get("/v1/connectors");
    assert_no_secret(a.body);
    const json_t *c = find_named(data_of(&a), "oauthcrm");
    ck_assert_str_eq(json_string_value(json_object_get(c, "token")), "needs_consent");
    ck_assert(json_is_null(json_object_get(c, "cursor_updated_at")));
    /* its plugin declares no provider: no consent to show, nor to begin */
    ck_assert(json_is_null(json_object_get(c, "oauth")));
    answer_free(&a);
    a = call("POST", "/v1/connectors/oauthcrm/connect", ADMIN_TOKEN, NULL);
    assert_error(&a, 409, "consent_unavailable", NULL);
    ck_assert_ptr_nonnull(strstr(a.body, "declares no OAuth provider"));
    answer_free(&a);
    /* /readyz names it, without taking the replica out of service for it (its checker
     * renews the verdict every moment: wait for the one that saw the refusal) */
    char *readyz = td_url(&td, "/readyz");
    bool named = false;
    char *last_body = NULL;
    for (int i = 0; i < 300 && !named; i++) {
        struct http_result ready;
        ck_assert_int_eq(http_get(readyz, &ready), 0);
        json_t *detail = json_loads(ready.body, 0, NULL);
        const char *state = json_string_value(json_object_get(
            json_object_get(json_object_get(detail, "consent"), "oauthcrm"), "state"));
        named = state != NULL && strcmp(state, "needs_consent") == 0;
        ck_assert_int_eq(ready.status, 200);
        json_decref(detail);
        free(last_body);
        last_body = strdup(ready.body);
        http_result_free(&ready);
        if (!named) {
            struct timespec pause = {0, 50 * 1000 * 1000};
            nanosleep(&pause, NULL);
        }
    }
    ck_assert_msg(named, "%s", last_body);
    free(last_body);
    free(readyz);
    a = get("/v1/deliveries?destination=oauthcrm&status=dead");
    ck_assert_uint_eq(json_array_size(data_of(&a)), 1);
    const char *why =
        json_string_value(json_object_get(json_array_get(data_of(&a), 0), "last_error"));
    ck_assert_msg(why != NULL && strstr(why, "invalid_grant") != NULL, "%s", a.body);
    assert_no_secret(a.body);
    answer_free(&a);
}
END_TEST

static long long pager_poll_count(void)
{
    PGconn *db = testdb_connect(td.db_url);
    /* the seconds-precision start of the last poll, as a number that only grows */
    long long n = testdb_scalar(db, "SELECT coalesce((SELECT floor(extract(epoch FROM "
                                    "last_poll_finished_at) * 1000) FROM connector_status WHERE "
                                    "instance = 'pager'), 0)");
    PQfinish(db);
    return n;
}

static bool pager_polled_after(void *arg)
{
    return pager_poll_count() > *(long long *)arg;
}

START_TEST(test_sync_polls_a_source_now)
{
    /* the first poll runs at start; the next would be an hour later */
    long long zero = 0;
    ck_assert(td_wait_until(pager_polled_after, &zero, 20000));
    long long before = pager_poll_count();
    struct answer a = call("POST", "/v1/connectors/pager/sync", ADMIN_TOKEN, NULL);
    ck_assert_int_eq(a.status, 202);
    ck_assert_str_eq(json_string_value(json_object_get(a.json, "status")), "requested");
    answer_free(&a);
    ck_assert(td_wait_until(pager_polled_after, &before, 20000));

    a = get("/v1/connectors/pager");
    ck_assert_int_eq(a.status, 200);
    const json_t *poll = json_object_get(a.json, "last_poll");
    ck_assert_str_eq(json_string_value(json_object_get(poll, "outcome")), "ok");
    ck_assert_ptr_nonnull(json_string_value(json_object_get(poll, "finished_at")));
    answer_free(&a);

    a = call("POST", "/v1/connectors/inbound/sync", ADMIN_TOKEN, NULL);
    assert_error(&a, 409, "not_pollable", NULL);
    answer_free(&a);
    a = call("POST", "/v1/connectors/dormant/sync", ADMIN_TOKEN, NULL);
    assert_error(&a, 404, "not_found", NULL);
    answer_free(&a);
    a = call("POST", "/v1/connectors/nothing/sync", ADMIN_TOKEN, NULL);
    assert_error(&a, 404, "not_found", NULL);
    answer_free(&a);
}
END_TEST

/* --- deliveries ----------------------------------------------------------------------------- */

struct delivery_count {
    const char *status;
    long expected;
};

static bool warehouse_deliveries_are(void *arg)
{
    const struct delivery_count *want = arg;
    PGconn *db = testdb_connect(td.db_url);
    char *sql = util_printf("SELECT count(*) FROM deliveries WHERE destination = 'warehouse' "
                            "AND status = '%s'",
                            want->status);
    long n = testdb_scalar(db, sql);
    free(sql);
    PQfinish(db);
    return n == want->expected;
}

START_TEST(test_deliveries_list_and_replay)
{
    post_events("[{\"type\":\"custom.order\",\"source\":\"ops-app\",\"source_id\":\"o-1\","
                "\"occurred_at\":\"2026-11-27T10:00:00Z\"},"
                "{\"type\":\"custom.order\",\"source\":\"ops-app\",\"source_id\":\"o-2\","
                "\"occurred_at\":\"2026-11-27T10:00:00Z\"},"
                "{\"type\":\"custom.order\",\"source\":\"ops-app\",\"source_id\":\"o-3\","
                "\"occurred_at\":\"2026-11-27T10:00:00Z\"}]");
    /* the warehouse refuses its first three: each is dead after its one attempt */
    struct delivery_count dead3 = {"dead", 3};
    ck_assert(td_wait_until(warehouse_deliveries_are, &dead3, 30000));
    assert_status_counts("warehouse", "{\"deliveries\":{\"dead\":3,\"done_24h\":0,"
                                      "\"pending\":0,\"retrying\":0},\"events_24h\":0}");

    struct answer a = get("/v1/deliveries?status=dead&destination=warehouse");
    json_t *data = data_of(&a);
    ck_assert_uint_eq(json_array_size(data), 3);
    json_t *first = json_array_get(data, 0);
    ck_assert_str_eq(json_string_value(json_object_get(first, "route")), "orders-to-warehouse");
    ck_assert_int_eq(json_integer_value(json_object_get(first, "attempts")), 1);
    ck_assert_ptr_nonnull(json_string_value(json_object_get(first, "last_error")));
    assert_no_secret(a.body);
    json_int_t id = json_integer_value(json_object_get(first, "id"));
    answer_free(&a);
    ck_assert_uint_eq(count_of("/v1/deliveries?destination=warehouse"), 3);
    ck_assert_uint_eq(count_of("/v1/deliveries?status=pending&destination=warehouse"), 0);
    ck_assert_uint_eq(count_of("/v1/deliveries?destination=nowhere"), 0);
    json_t *ids = page_to_end("/v1/deliveries?destination=warehouse", 2, 3);
    json_decref(ids);

    /* one, by id: queued again, delivered (the warehouse answers 200 now) */
    char *path = util_printf("/v1/deliveries/%lld/replay", (long long)id);
    a = call("POST", path, ADMIN_TOKEN, NULL);
    ck_assert_int_eq(a.status, 202);
    ck_assert_int_eq(json_integer_value(json_object_get(a.json, "replayed")), 1);
    answer_free(&a);
    struct delivery_count done1 = {"done", 1};
    ck_assert(td_wait_until(warehouse_deliveries_are, &done1, 30000));
    /* a delivery that is not dead is not replayed */
    a = call("POST", path, ADMIN_TOKEN, NULL);
    assert_error(&a, 409, "not_dead", NULL);
    answer_free(&a);
    free(path);
    a = call("POST", "/v1/deliveries/999999999/replay", ADMIN_TOKEN, NULL);
    assert_error(&a, 404, "not_found", NULL);
    answer_free(&a);

    /* the rest, by filter: a dry run first */
    a = call("POST", "/v1/deliveries/replay", ADMIN_TOKEN,
             "{\"destination\":\"warehouse\",\"dry_run\":true}");
    ck_assert_int_eq(a.status, 200);
    ck_assert_int_eq(json_integer_value(json_object_get(a.json, "would_replay")), 2);
    answer_free(&a);
    struct delivery_count dead2 = {"dead", 2};
    ck_assert(warehouse_deliveries_are(&dead2));
    a = call("POST", "/v1/deliveries/replay", ADMIN_TOKEN,
             "{\"destination\":\"warehouse\",\"type\":\"custom.*\","
             "\"since\":\"2000-01-01T00:00:00Z\"}");
    ck_assert_int_eq(a.status, 202);
    ck_assert_int_eq(json_integer_value(json_object_get(a.json, "replayed")), 2);
    answer_free(&a);
    struct delivery_count done3 = {"done", 3};
    ck_assert(td_wait_until(warehouse_deliveries_are, &done3, 30000));
    ck_assert_uint_eq(count_of("/v1/deliveries?status=done&destination=warehouse"), 3);
    assert_status_counts("warehouse", "{\"deliveries\":{\"dead\":0,\"done_24h\":3,"
                                      "\"pending\":0,\"retrying\":0},\"events_24h\":0}");
}
END_TEST

START_TEST(test_bad_replay_requests_are_refused)
{
    struct answer a = call("POST", "/v1/deliveries/replay", ADMIN_TOKEN, "{}");
    assert_error(&a, 400, "bad_request", NULL);
    answer_free(&a);
    a = call("POST", "/v1/deliveries/replay", ADMIN_TOKEN, "{\"destinaton\":\"crm\"}");
    assert_error(&a, 400, "bad_request", "destinaton");
    answer_free(&a);
    a = call("POST", "/v1/deliveries/replay", ADMIN_TOKEN, "{\"since\":\"last week\"}");
    assert_error(&a, 400, "bad_request", "since");
    answer_free(&a);
    a = call("POST", "/v1/deliveries/replay", ADMIN_TOKEN, "{\"destination\":7}");
    assert_error(&a, 400, "bad_request", "destination");
    answer_free(&a);
    a = call("POST", "/v1/deliveries/replay", ADMIN_TOKEN, "[1,2]");
    assert_error(&a, 400, "bad_request", NULL);
    answer_free(&a);
    const char *plain[] = {"Authorization: Bearer " ADMIN_TOKEN, NULL};
    a = call_with("POST", "/v1/deliveries/replay", plain, "{\"all\":true}", true);
    assert_error(&a, 415, "unsupported_media_type", NULL);
    answer_free(&a);
}
END_TEST

/* --- routing errors ----------------------------------------------------------------------- */

START_TEST(test_unknown_resources_are_404_and_wrong_methods_405)
{
    struct answer a = call("DELETE", "/v1/leads", ADMIN_TOKEN, NULL);
    assert_error(&a, 405, "method_not_allowed", NULL);
    ck_assert_ptr_nonnull(strcasestr(a.headers, "Allow: GET"));
    answer_free(&a);
    a = call("PUT", "/v1/events", ADMIN_TOKEN, "{}");
    assert_error(&a, 405, "method_not_allowed", NULL);
    ck_assert_ptr_nonnull(strcasestr(a.headers, "Allow: GET, POST"));
    answer_free(&a);
    a = call("GET", "/v1/connectors/pager/sync", ADMIN_TOKEN, NULL);
    assert_error(&a, 405, "method_not_allowed", NULL);
    ck_assert_ptr_nonnull(strcasestr(a.headers, "Allow: POST"));
    answer_free(&a);

    /* paths the document does not have: the same error shape */
    const char *auth[] = {"Authorization: Bearer " READ_TOKEN, NULL};
    static const char *const missing[] = {
        "/v1/nothing", "/v1", "/v1/", "/v1/deliveries/5", "/v1/leads/1/extra", "/v1//leads"};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(missing); i++) {
        a = call_with("GET", missing[i], auth, NULL, false);
        assert_error(&a, 404, "not_found", NULL);
        answer_free(&a);
    }
    /* and no token is still 401 there: nothing about the API shows without one */
    a = call_with("GET", "/v1/nothing", NULL, NULL, false);
    assert_error(&a, 401, "unauthorized", NULL);
    answer_free(&a);
}
END_TEST

/* Last: by now every kind of request has passed through the daemon's log. */
START_TEST(test_no_token_or_secret_reaches_the_log)
{
    struct answer a = call("GET", "/v1/leads", "wrong-" READ_TOKEN, NULL);
    ck_assert_int_eq(a.status, 401);
    answer_free(&a);
    char *log = td_log(&td);
    ck_assert_ptr_nonnull(strstr(log, "listening"));
    assert_no_secret(log);
    free(log);
}
END_TEST

/* --- a daemon of its own: the database away, tokens reloaded ------------------------------ */

/* GET path on `daemon` with `token`: the status (the answer checked against the document). */
static long status_with(const struct test_daemon *daemon, const char *path, const char *token,
                        struct answer *out)
{
    char *url = td_url(daemon, path);
    char *auth = util_printf("Authorization: Bearer %s", token);
    const char *headers[] = {auth, NULL};
    struct http_result result;
    ck_assert_int_eq(http_request("GET", url, headers, NULL, 0, &result), 0);
    free(url);
    free(auth);
    char *problem = openapi_check_response(spec, "GET", path, result.status, result.body);
    ck_assert_msg(problem == NULL, "%s", problem);
    long status = result.status;
    if (out != NULL) {
        *out = (struct answer){result.status, result.body, result.headers,
                               json_loads(result.body, 0, NULL)};
    } else {
        http_result_free(&result);
    }
    return status;
}

static struct test_daemon own;

static void own_setup(void)
{
    char *error = NULL;
    char *doc = tu_path(tu_source_dir(), "docs/openapi.yaml");
    spec = openapi_load(doc, &error);
    ck_assert_msg(spec != NULL, "docs/openapi.yaml: %s", error ? error : "?");
    free(doc);
    td_init(&own, NULL);
}

static void own_teardown(void)
{
    td_cleanup(&own);
    openapi_free(spec);
}

/* The name of the daemon's database (asked while it still takes connections). */
static const char *own_database_name(void)
{
    static char name[128];
    if (name[0] == '\0') {
        PGconn *own_db = testdb_connect(own.db_url);
        char *current = testdb_text(own_db, "SELECT current_database()");
        snprintf(name, sizeof(name), "%s", current);
        free(current);
        PQfinish(own_db);
    }
    return name;
}

/* Runs `sql` (with %s for the daemon's database name) on the server's maintenance database. */
static void on_server(const char *sql)
{
    const char *name = own_database_name();
    PGconn *db = testdb_connect(getenv("LEADHUB_TEST_DATABASE_URL"));
    char *query = util_printf(sql, name);
    PGresult *r = PQexec(db, query);
    ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK,
                  "%s: %s", query, PQerrorMessage(db));
    PQclear(r);
    free(query);
    PQfinish(db);
}

static bool own_database_has_no_backends(void *arg)
{
    (void)arg;
    const char *name = own_database_name();
    PGconn *db = testdb_connect(getenv("LEADHUB_TEST_DATABASE_URL"));
    char *query = util_printf("SELECT count(*) FROM pg_stat_activity WHERE datname = '%s'", name);
    long n = testdb_scalar(db, query);
    free(query);
    PQfinish(db);
    return n == 0;
}

struct token_answer {
    const char *token;
    long status;
};

static bool own_answers(void *arg)
{
    const struct token_answer *want = arg;
    return status_with(&own, "/v1/leads", want->token, NULL) == want->status;
}

START_TEST(test_the_database_away_is_503_with_retry_after_then_200_again)
{
    setenv("LHTEST_OWN_TOKEN", READ_TOKEN, 1);
    own.extra_main = strdup("api:\n  tokens:\n    - name: reader\n"
                            "      token: ${LHTEST_OWN_TOKEN}\n");
    ck_assert_int_eq(td_start(&own), 0);
    ck_assert_int_eq(status_with(&own, "/v1/leads", READ_TOKEN, NULL), 200);

    /* no new connection to the daemon's database, and its open ones ended */
    on_server("ALTER DATABASE \"%s\" WITH ALLOW_CONNECTIONS false");
    on_server("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '%s'");
    ck_assert(td_wait_until(own_database_has_no_backends, NULL, 20000));
    static const char *const paths[] = {"/v1/leads", "/v1/events?limit=5", "/v1/deliveries"};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(paths); i++) {
        struct answer a;
        status_with(&own, paths[i], READ_TOKEN, &a);
        assert_error(&a, 503, "unavailable", NULL);
        ck_assert_msg(strcasestr(a.headers, "Retry-After: ") != NULL, "%s", a.headers);
        answer_free(&a);
    }

    /* back: the daemon reconnects by itself */
    on_server("ALTER DATABASE \"%s\" WITH ALLOW_CONNECTIONS true");
    struct token_answer ok = {READ_TOKEN, 200};
    ck_assert(td_wait_until(own_answers, &ok, 20000));
    ck_assert_int_eq(td_stop(&own), 0);
}
END_TEST

static bool own_log_says(void *arg)
{
    char *log = td_log(&own);
    bool found = strstr(log, (const char *)arg) != NULL;
    free(log);
    return found;
}

START_TEST(test_tokens_change_with_a_reload)
{
    /* one token read from a file (a mounted secret that gets rotated) */
    static const char first[] = "first-token-3c9a7e51d2";
    static const char second[] = "second-token-8b2f4d6a0e";
    tu_write_file(own.dir, "api_token", first);
    char *file = tu_path(own.dir, "api_token");
    own.extra_main = util_printf("api:\n  tokens:\n    - name: rotating\n"
                                 "      token: ${file:%s}\n",
                                 file);
    ck_assert_int_eq(td_start(&own), 0);
    ck_assert_int_eq(status_with(&own, "/v1/leads", first, NULL), 200);
    ck_assert_int_eq(status_with(&own, "/v1/leads", second, NULL), 401);

    /* rotated: the new token works after SIGHUP, the old one no longer */
    tu_write_file(own.dir, "api_token", second);
    td_signal(&own, SIGHUP);
    struct token_answer new_works = {second, 200};
    ck_assert(td_wait_until(own_answers, &new_works, 20000));
    ck_assert_int_eq(status_with(&own, "/v1/leads", first, NULL), 401);

    /* a reload with a token too short to keep is refused, and the running tokens stay */
    tu_write_file(own.dir, "api_token", "short");
    td_signal(&own, SIGHUP);
    ck_assert(td_wait_until(own_log_says, "reload refused", 20000));
    ck_assert_int_eq(status_with(&own, "/v1/leads", second, NULL), 200);
    ck_assert_int_eq(status_with(&own, "/v1/leads", "short", NULL), 401);

    ck_assert_int_eq(td_stop(&own), 0);
    char *log = td_log(&own);
    ck_assert_ptr_nonnull(strstr(log, "api.tokens[0].token"));
    ck_assert_ptr_null(strstr(log, first));
    ck_assert_ptr_null(strstr(log, second));
    free(log);
    free(file);
}
END_TEST

static Suite *api_suite(void)
{
    Suite *s = suite_create("api");
    TCase *tc = tcase_create("v1");
    tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_a_request_without_a_valid_token_is_401_with_www_authenticate);
    tcase_add_test(tc, test_each_scope_opens_only_its_operations);
    tcase_add_test(tc, test_one_posted_event_is_committed_before_201_and_a_repeat_is_200);
    tcase_add_test(tc, test_an_array_gets_one_result_per_item_and_stores_the_valid_ones);
    tcase_add_test(tc, test_bad_posts_get_400_413_415_and_422);
    tcase_add_test(tc, test_a_chunked_upload_past_the_body_limit_is_413);
    tcase_add_test(tc, test_posted_times_postgresql_cannot_store_are_refused_per_item);
    tcase_add_test(tc, test_every_stored_number_reads_back);
    tcase_add_test(tc, test_custom_types_share_one_metric_label);
    tcase_add_test(tc, test_lead_filters_each_narrow_the_list);
    tcase_add_test(tc, test_bad_list_parameters_are_400_naming_the_parameter);
    tcase_add_test(tc, test_leads_page_to_the_end_in_a_stable_order);
    tcase_add_test(tc, test_a_lead_comes_with_identities_scores_events_and_meetings);
    tcase_add_test(tc, test_meeting_filters_pages_and_detail);
    tcase_add_test(tc, test_event_filters_and_pages);
    tcase_add_test(tc, test_connectors_show_every_instance_and_never_a_secret);
    tcase_add_test(tc, test_a_connector_shows_its_token_state_and_never_its_tokens);
    tcase_add_test(tc, test_sync_polls_a_source_now);
    tcase_add_test(tc, test_deliveries_list_and_replay);
    tcase_add_test(tc, test_bad_replay_requests_are_refused);
    tcase_add_test(tc, test_unknown_resources_are_404_and_wrong_methods_405);
    tcase_add_test(tc, test_no_token_or_secret_reaches_the_log);
    suite_add_tcase(s, tc);
    TCase *own_daemon = tcase_create("own_daemon");
    tcase_add_checked_fixture(own_daemon, own_setup, own_teardown);
    tcase_set_timeout(own_daemon, 120);
    tcase_add_test(own_daemon, test_the_database_away_is_503_with_retry_after_then_200_again);
    tcase_add_test(own_daemon, test_tokens_change_with_a_reload);
    suite_add_tcase(s, own_daemon);
    return s;
}

int main(void)
{
    return tu_run_suite(api_suite());
}
