/*
 * rest.c - /v1: authentication, routing, and the helpers every handler uses.
 *
 * Handlers run on the API workers (http_api.c), never on libmicrohttpd's threads, and read
 * through a connection per worker; PostgreSQL builds the JSON of list answers itself
 * (json_agg), so a page is one statement and one parse.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "crypto.h"
#include "log.h"
#include "rest_internal.h"
#include "util.h"

enum scope_need { NEED_READ, NEED_WRITE, NEED_ADMIN };

static pthread_key_t store_key;
static pthread_once_t store_once = PTHREAD_ONCE_INIT;

static void store_destroy(void *store)
{
    store_close(store);
}

static void store_key_create(void)
{
    pthread_key_create(&store_key, store_destroy);
}

struct store *rest_store(struct daemon *daemon, struct rest_response *response)
{
    pthread_once(&store_once, store_key_create);
    struct store *store = pthread_getspecific(store_key);
    char *error = NULL;
    if (store != NULL && store_ensure(store, NULL) != STORE_OK) {
        store_close(store);
        store = NULL;
        pthread_setspecific(store_key, NULL);
    }
    if (store == NULL) {
        store = store_open(daemon->database_url, &error);
        if (store != NULL) {
            /* UTC: timestamps read as RFC 3339 with +00:00. Custom plans: the optional
             * filters ("$n IS NULL OR ...") fold away only when the values are known, which
             * keeps the index choices of tests/e2e/test_api_plans.c after the fifth call.
             * A bounded statement time: no request holds a connection for long. No JIT:
             * compiling a report's plan (its estimates grow with the tables) costs more
             * than the query it would speed up, on every request. */
            PQclear(PQexec(store_connection(store),
                           "SET TIME ZONE 'UTC'; SET plan_cache_mode = force_custom_plan; "
                           "SET statement_timeout = '15s'; SET jit = off"));
            pthread_setspecific(store_key, store);
        }
    }
    if (store == NULL) {
        rest_error(response, 503, "unavailable", NULL, "the database is unavailable; retry");
        free(error);
    }
    return store;
}

void rest_response_clear(struct rest_response *response)
{
    json_decref(response->body);
    json_decref(response->items);
    memset(response, 0, sizeof(*response));
}

void rest_error(struct rest_response *response, int status, const char *code, const json_t *details,
                const char *fmt, ...)
{
    struct strbuf message = {0};
    va_list args;
    va_start(args, fmt);
    strbuf_appendv(&message, fmt, args);
    va_end(args);
    json_decref(response->body);
    response->status = status;
    response->body = json_pack("{s:{s:s,s:s,s:O?}}", "error", "code", code, "message",
                               strbuf_value(&message), "details", (json_t *)details);
    strbuf_free(&message);
}

void rest_ok(struct rest_response *response, int status, json_t *body)
{
    json_decref(response->body);
    response->status = status;
    response->body = body;
    if (body == NULL) {
        rest_error(response, 500, "internal", NULL, "out of memory");
    }
}

/* --- authentication -------------------------------------------------------------------- */

/* The scopes of the bearer token, or -1 when there is no valid one; its configured name
 * into name_out (may be NULL). Every configured token is compared, whatever matched, on
 * SHA-256 digests: constant time, whatever the lengths. */
static long token_lookup(struct daemon *daemon, const char *authorization, char name_out[64])
{
    if (authorization == NULL || strncasecmp(authorization, "Bearer ", 7) != 0) {
        return -1;
    }
    const char *token = authorization + 7;
    while (*token == ' ') {
        token++;
    }
    char presented[65];
    crypto_sha256_hex(token, strlen(token), presented);
    long scopes = -1;
    pthread_rwlock_rdlock(&daemon->config_lock);
    const struct config *config = daemon->config;
    for (size_t i = 0; i < config->token_count; i++) {
        char expected[65];
        crypto_sha256_hex(config->tokens[i].token, strlen(config->tokens[i].token), expected);
        if (crypto_digest_equal(presented, expected, 64)) {
            scopes = (long)config->tokens[i].scopes;
            if (name_out != NULL) {
                snprintf(name_out, 64, "%s", config->tokens[i].name);
            }
        }
    }
    pthread_rwlock_unlock(&daemon->config_lock);
    explicit_bzero(presented, sizeof(presented));
    return scopes;
}

static long token_scopes(struct daemon *daemon, const char *authorization)
{
    return token_lookup(daemon, authorization, NULL);
}

bool rest_authenticate_early(const struct rest_request *request, struct rest_response *response)
{
    if (token_scopes(request->daemon, request->authorization) < 0) {
        response->www_authenticate = true;
        rest_error(response, 401, "unauthorized", NULL,
                   request->authorization == NULL
                       ? "an Authorization: Bearer <token> header is required"
                       : "the bearer token is not valid");
        return false;
    }
    return true;
}

static bool has_scope(const struct rest_request *request, struct rest_response *response,
                      enum scope_need need)
{
    static const unsigned bits[] = {CONFIG_SCOPE_READ, CONFIG_SCOPE_WRITE, CONFIG_SCOPE_ADMIN};
    static const char *const names[] = {"read", "write", "admin"};
    long scopes = token_scopes(request->daemon, request->authorization);
    if (scopes < 0) {
        response->www_authenticate = true;
        rest_error(response, 401, "unauthorized", NULL, "the bearer token is not valid");
        return false;
    }
    if (((unsigned long)scopes & bits[need]) == 0) {
        rest_error(response, 403, "forbidden", NULL, "this token lacks the \"%s\" scope",
                   names[need]);
        return false;
    }
    return true;
}

/* GET /v1/token: the presented token's name and scopes (never the token), so that a client
 * can show what it may do. Any valid token may ask. */
void rest_token(const struct rest_request *request, struct rest_response *response)
{
    static const char *const allowed[] = {NULL};
    static const unsigned bits[] = {CONFIG_SCOPE_READ, CONFIG_SCOPE_WRITE, CONFIG_SCOPE_ADMIN};
    static const char *const names[] = {"read", "write", "admin"};
    if (!rest_params_only(request, response, allowed)) {
        return;
    }
    char name[64] = "";
    long scopes = token_lookup(request->daemon, request->authorization, name);
    if (scopes < 0) {
        response->www_authenticate = true;
        rest_error(response, 401, "unauthorized", NULL, "the bearer token is not valid");
        return;
    }
    json_t *list = json_array();
    for (size_t i = 0; i < UTIL_ARRAY_LEN(bits); i++) {
        if (((unsigned long)scopes & bits[i]) != 0) {
            json_array_append_new(list, json_string(names[i]));
        }
    }
    rest_ok(response, 200, json_pack("{s:s,s:o}", "name", name, "scopes", list));
}

/* --- parameters ------------------------------------------------------------------------------ */

bool rest_json_body(const struct rest_request *request, struct rest_response *response)
{
    const char *type = request->content_type;
    size_t len = type != NULL ? strcspn(type, "; \t") : 0;
    if (type != NULL && len == strlen("application/json") &&
        strncasecmp(type, "application/json", len) == 0) {
        return true;
    }
    rest_error(response, 415, "unsupported_media_type", NULL,
               "the body must be JSON, sent with Content-Type: application/json");
    return false;
}

const char *rest_param(const struct rest_request *request, const char *name)
{
    return json_string_value(json_object_get(request->query, name));
}

bool rest_params_only(const struct rest_request *request, struct rest_response *response,
                      const char *const *allowed)
{
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)request->query, key, value)
    {
        bool known = false;
        for (const char *const *a = allowed; *a != NULL && !known; a++) {
            known = strcmp(*a, key) == 0;
        }
        if (!known) {
            struct strbuf list = {0};
            for (const char *const *a = allowed; *a != NULL; a++) {
                strbuf_appendf(&list, "%s%s", a != allowed ? ", " : "", *a);
            }
            json_t *details = json_pack("{s:s}", "parameter", key);
            rest_error(response, 400, "bad_parameter", details,
                       "unknown parameter \"%.64s\" (allowed: %s)", key,
                       list.len ? strbuf_value(&list) : "none");
            json_decref(details);
            strbuf_free(&list);
            return false;
        }
        /* "?source=" is a filter with no value, not the absence of one: answering with
         * everything would hide the client's mistake */
        if (json_string_length(value) == 0) {
            json_t *details = json_pack("{s:s}", "parameter", key);
            rest_error(response, 400, "bad_parameter", details,
                       "%s: empty; give a value or leave the parameter out", key);
            json_decref(details);
            return false;
        }
    }
    return true;
}

bool rest_bad_parameter(struct rest_response *response, const char *name, const char *what)
{
    json_t *details = json_pack("{s:s}", "parameter", name);
    rest_error(response, 400, "bad_parameter", details, "%s: %s", name, what);
    json_decref(details);
    return false;
}

bool rest_param_limit(const struct rest_request *request, struct rest_response *response,
                      int *limit_out)
{
    *limit_out = REST_LIMIT_DEFAULT;
    const char *text = rest_param(request, "limit");
    if (text == NULL) {
        return true;
    }
    char *end = NULL;
    long value = strtol(text, &end, 10);
    if (end == text || *end != '\0' || value < 1 || value > REST_LIMIT_MAX) {
        return rest_bad_parameter(response, "limit", "expected an integer from 1 to 500");
    }
    *limit_out = (int)value;
    return true;
}

bool rest_param_id(const struct rest_request *request, struct rest_response *response,
                   const char *name, char out[24])
{
    out[0] = '\0';
    const char *text = rest_param(request, name);
    if (text == NULL) {
        return true;
    }
    if (!rest_id_valid(text)) {
        return rest_bad_parameter(response, name, "expected a positive integer");
    }
    snprintf(out, 24, "%lld", strtoll(text, NULL, 10));
    return true;
}

bool rest_param_time_ms(const struct rest_request *request, struct rest_response *response,
                        const char *name, int64_t *ms_out, bool *given_out)
{
    const char *text = rest_param(request, name);
    *given_out = text != NULL;
    if (text == NULL) {
        return true;
    }
    int parsed = util_parse_rfc3339(text, ms_out);
    if (parsed == -2) {
        return rest_bad_parameter(response, name,
                                  "out of range: expected a time " UTIL_TIME_RANGE_TEXT);
    }
    if (parsed != 0) {
        return rest_bad_parameter(response, name,
                                  "expected an RFC 3339 date-time such as 2026-11-27T10:00:00Z");
    }
    return true;
}

bool rest_param_time(const struct rest_request *request, struct rest_response *response,
                     const char *name, char out[32])
{
    out[0] = '\0';
    int64_t ms = 0;
    bool given = false;
    if (!rest_param_time_ms(request, response, name, &ms, &given)) {
        return false;
    }
    if (given) {
        util_format_rfc3339(ms, out);
    }
    return true;
}

bool rest_param_number(const struct rest_request *request, struct rest_response *response,
                       const char *name, char out[32])
{
    out[0] = '\0';
    const char *text = rest_param(request, name);
    if (text == NULL) {
        return true;
    }
    char *end = NULL;
    double value = strtod(text, &end);
    if (end == text || *end != '\0' || !(value >= -1e12 && value <= 1e12)) {
        return rest_bad_parameter(response, name, "expected a number");
    }
    snprintf(out, 32, "%.17g", value);
    return true;
}

/* --- queries ----------------------------------------------------------------------------- */

json_t *rest_query_json(struct daemon *daemon, struct rest_response *response, const char *name,
                        const char *sql, int nparams, const char *const *params)
{
    return rest_query_json_with(daemon, response, name, sql, nparams, params, false);
}

json_t *rest_query_json_with(struct daemon *daemon, struct rest_response *response,
                             const char *name, const char *sql, int nparams,
                             const char *const *params, bool index_scans_only)
{
    struct store *store = rest_store(daemon, response);
    if (store == NULL) {
        return NULL;
    }
    const char *values[16];
    for (int i = 0; i < nparams && i < 16; i++) {
        values[i] = params[i] != NULL && params[i][0] != '\0' ? params[i] : NULL;
    }
    PGresult *result = NULL;
    char *error = NULL;
    enum store_result rc = STORE_OK;
    if (index_scans_only) {
        /* for this statement only: is_local settings end with its transaction */
        rc = store_begin(store, &error);
        if (rc == STORE_OK) {
            rc = store_exec(store, "rest_index_scans_only",
                            "SELECT set_config('enable_seqscan', 'off', true), "
                            "set_config('enable_bitmapscan', 'off', true)",
                            0, NULL, NULL, &error);
        }
    }
    if (rc == STORE_OK) {
        rc = store_exec(store, name, sql, nparams, values, &result, &error);
    }
    if (index_scans_only && rc == STORE_OK) {
        rc = store_commit(store, &error);
    }
    if (rc != STORE_OK) {
        PQclear(result);
        store_rollback(store);
        log_error("REST query %s failed: %s", name, error ? error : "?");
        rest_error(response, rc == STORE_REJECTED ? 500 : 503,
                   rc == STORE_REJECTED ? "internal" : "unavailable", NULL,
                   rc == STORE_REJECTED ? "the query failed; see the daemon's log"
                                        : "the database is unavailable; retry");
        free(error);
        return NULL;
    }
    json_t *value = PQntuples(result) == 1 && !PQgetisnull(result, 0, 0)
                        ? store_json_loads(PQgetvalue(result, 0, 0), JSON_DECODE_ANY, NULL)
                        : json_null();
    PQclear(result);
    if (value == NULL) {
        log_error("REST query %s: its answer does not decode", name);
        rest_error(response, 500, "internal", NULL, "the answer could not be read; see the log");
    }
    return value;
}

bool rest_id_valid(const char *id)
{
    char *end = NULL;
    long long value = strtoll(id, &end, 10);
    return end != id && *end == '\0' && value >= 1 && strlen(id) <= 18;
}

void rest_get_by_id(const struct rest_request *request, struct rest_response *response,
                    const char *id, const char *what, const char *name, const char *sql)
{
    static const char *const allowed[] = {NULL};
    if (!rest_params_only(request, response, allowed)) {
        return;
    }
    if (!rest_id_valid(id)) {
        rest_error(response, 404, "not_found", NULL, "no %s %.32s", what, id);
        return;
    }
    const char *params[] = {id};
    json_t *row = rest_query_json(request->daemon, response, name, sql, 1, params);
    if (row == NULL) {
        return;
    }
    if (json_is_null(row)) {
        json_decref(row);
        rest_error(response, 404, "not_found", NULL, "no %s %s", what, id);
        return;
    }
    rest_ok(response, 200, row);
}

void rest_page(struct rest_response *response, json_t *rows, int limit, const char *cursor_key)
{
    json_t *next = json_null();
    if (json_array_size(rows) == (size_t)limit) {
        json_t *last = json_object_get(json_array_get(rows, (size_t)limit - 1), cursor_key);
        if (json_is_integer(last)) {
            char cursor[24];
            snprintf(cursor, sizeof(cursor), "%lld", (long long)json_integer_value(last));
            next = json_string(cursor);
        }
    }
    rest_ok(response, 200, json_pack("{s:o,s:o}", "data", rows, "next", next));
}

/* --- routing --------------------------------------------------------------------------------- */

/* Splits "/v1/a/b/c" into up to four segments after /v1. */
static size_t segments(const char *path, char parts[4][128])
{
    size_t n = 0;
    const char *p = path + 3; /* after "/v1" */
    while (*p == '/' && n < 4) {
        p++;
        size_t len = strcspn(p, "/");
        if (len == 0 || len >= 128) {
            return len == 0 && *p == '\0' ? n : 5;
        }
        memcpy(parts[n], p, len);
        parts[n][len] = '\0';
        n++;
        p += len;
    }
    return *p == '\0' ? n : 5;
}

static void method_not_allowed(struct rest_response *response, const char *allow)
{
    response->allow = allow;
    rest_error(response, 405, "method_not_allowed", NULL, "this resource takes %s", allow);
}

static bool is(const struct rest_request *request, const char *method)
{
    return strcmp(request->method, method) == 0 ||
           (strcmp(method, "GET") == 0 && strcmp(request->method, "HEAD") == 0);
}

void rest_handle(const struct rest_request *request, struct rest_response *response,
                 struct ingest_batch *batch)
{
    char parts[4][128];
    size_t n = strncmp(request->path, "/v1", 3) == 0 ? segments(request->path, parts) : 5;
    const char *a = n > 0 ? parts[0] : "";
    if (n == 1 && strcmp(a, "events") == 0) {
        if (is(request, "GET")) {
            if (has_scope(request, response, NEED_READ)) {
                rest_events_list(request, response);
            }
        } else if (is(request, "POST")) {
            if (has_scope(request, response, NEED_WRITE)) {
                rest_events_post(request, response, batch);
            }
        } else {
            method_not_allowed(response, "GET, POST");
        }
        return;
    }
    if (n == 1 && strcmp(a, "token") == 0) {
        if (!is(request, "GET")) {
            method_not_allowed(response, "GET");
        } else {
            rest_token(request, response);
        }
        return;
    }
    /* reads below a resource: /v1/reports/{report}, /v1/leads/{id}/timeline,
     * /v1/connectors/{name}/health */
    static const struct {
        const char *collection;
        const char *leaf; /* the last segment */
        void (*report)(const struct rest_request *, struct rest_response *);
        void (*get)(const struct rest_request *, struct rest_response *, const char *);
    } below[] = {
        {"reports", "funnel", rest_report_funnel, NULL},
        {"reports", "meetings", rest_report_meetings, NULL},
        {"leads", "timeline", NULL, rest_lead_timeline},
        {"connectors", "health", NULL, rest_connector_health},
    };
    for (size_t i = 0; i < UTIL_ARRAY_LEN(below); i++) {
        bool report = below[i].report != NULL;
        if (n != (report ? 2u : 3u) || strcmp(a, below[i].collection) != 0 ||
            strcmp(parts[n - 1], below[i].leaf) != 0) {
            continue;
        }
        if (!is(request, "GET")) {
            method_not_allowed(response, "GET");
        } else if (has_scope(request, response, NEED_READ)) {
            if (report) {
                below[i].report(request, response);
            } else {
                below[i].get(request, response, parts[1]);
            }
        }
        return;
    }
    if (n == 3 && strcmp(a, "connectors") == 0 &&
        (strcmp(parts[2], "sync") == 0 || strcmp(parts[2], "connect") == 0)) {
        if (!is(request, "POST")) {
            method_not_allowed(response, "POST");
        } else if (has_scope(request, response, NEED_ADMIN)) {
            (strcmp(parts[2], "sync") == 0 ? rest_connector_sync
                                           : rest_connector_connect)(request, response, parts[1]);
        }
        return;
    }
    if (n == 2 && strcmp(a, "deliveries") == 0 && strcmp(parts[1], "replay") == 0) {
        if (!is(request, "POST")) {
            method_not_allowed(response, "POST");
        } else if (has_scope(request, response, NEED_ADMIN)) {
            rest_deliveries_replay(request, response);
        }
        return;
    }
    if (n == 3 && strcmp(a, "deliveries") == 0 && strcmp(parts[2], "replay") == 0) {
        if (!is(request, "POST")) {
            method_not_allowed(response, "POST");
        } else if (has_scope(request, response, NEED_ADMIN)) {
            rest_delivery_replay(request, response, parts[1]);
        }
        return;
    }
    static const struct {
        const char *collection;
        void (*list)(const struct rest_request *, struct rest_response *);
        void (*get)(const struct rest_request *, struct rest_response *, const char *);
    } readable[] = {
        {"leads", rest_leads_list, rest_lead_get},
        {"meetings", rest_meetings_list, rest_meeting_get},
        {"connectors", rest_connectors_list, rest_connector_get},
        {"deliveries", rest_deliveries_list, NULL},
    };
    for (size_t i = 0; i < UTIL_ARRAY_LEN(readable); i++) {
        if ((n != 1 && n != 2) || strcmp(a, readable[i].collection) != 0 ||
            (n == 2 && readable[i].get == NULL)) {
            continue;
        }
        if (!is(request, "GET")) {
            method_not_allowed(response, "GET");
        } else if (has_scope(request, response, NEED_READ)) {
            if (n == 1) {
                readable[i].list(request, response);
            } else {
                readable[i].get(request, response, parts[1]);
            }
        }
        return;
    }
    rest_error(response, 404, "not_found", NULL, "no such resource: %.128s", request->path);
}
