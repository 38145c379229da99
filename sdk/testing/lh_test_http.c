/*
 * lh_test_http.c - the fake host's HTTP client: scripted answers, a log of every request,
 * and the real host's retry rules (max_attempts, retried statuses, retry hints,
 * Retry-After) played on the test's clock instead of sleeping.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../leadhub-helpers.h"
#include "lh_test_internal.h"

/* As the host: a Retry-After longer than this is handed back rather than waited out. */
#define LH_TEST_RETRY_AFTER_WAIT_MAX_MS 60000
#define LH_TEST_DEFAULT_TIMEOUT_MS      30000

static char *copy(const char *text)
{
    return text != NULL ? strdup(text) : NULL;
}

void lh_test_http_script(lh_test_t *t, lh_test_answer_t answer)
{
    struct lh_test_script *grown = realloc(t->scripts, (t->script_count + 1) * sizeof(*t->scripts));
    if (grown == NULL) {
        return;
    }
    t->scripts = grown;
    struct lh_test_script *script = &t->scripts[t->script_count++];
    script->answer = answer;
    script->answer.method = copy(answer.method);
    script->answer.url_contains = copy(answer.url_contains);
    script->answer.headers = copy(answer.headers);
    script->answer.body = copy(answer.body);
    script->answer.transport_error = copy(answer.transport_error);
    script->left = answer.times < 0 ? -1 : answer.times == 0 ? 1 : answer.times;
}

static void log_request(lh_test_t *t, const lh_http_request_t *request)
{
    struct lh_test_logged_request *grown =
        realloc(t->requests, (t->request_count + 1) * sizeof(*t->requests));
    if (grown == NULL) {
        return;
    }
    t->requests = grown;
    struct lh_test_logged_request *logged = &t->requests[t->request_count++];
    memset(logged, 0, sizeof(*logged));
    logged->headers = calloc(request->header_count + 1, sizeof(lh_header_t));
    for (size_t i = 0; logged->headers != NULL && i < request->header_count; i++) {
        logged->headers[i].name = copy(request->headers[i].name);
        logged->headers[i].value = copy(request->headers[i].value);
    }
    char *body = malloc(request->body_len + 1);
    if (body != NULL) {
        memcpy(body, request->body != NULL ? request->body : "", request->body_len);
        body[request->body_len] = '\0';
    }
    logged->view = (lh_test_request_t){
        .method = copy(request->method != NULL ? request->method : "GET"),
        .url = copy(request->url),
        .headers = logged->headers,
        .header_count = logged->headers != NULL ? request->header_count : 0,
        .body = body,
        .body_len = request->body_len,
        .max_attempts = request->max_attempts,
        .timeout_ms = request->timeout_ms,
        .retry_hint_header = copy(request->retry_hint_header),
    };
}

static struct lh_test_script *find_answer(lh_test_t *t, const lh_http_request_t *request)
{
    const char *method = request->method != NULL ? request->method : "GET";
    for (size_t i = 0; i < t->script_count; i++) {
        struct lh_test_script *script = &t->scripts[i];
        if (script->left == 0 ||
            (script->answer.method != NULL && strcasecmp(script->answer.method, method) != 0) ||
            (script->answer.url_contains != NULL &&
             strstr(request->url, script->answer.url_contains) == NULL)) {
            continue;
        }
        if (script->left > 0) {
            script->left--;
        }
        return script;
    }
    return NULL;
}

/* "Name: value\n" lines into lowercased headers. */
static void parse_headers(const char *text, lh_http_response_t *response)
{
    size_t count = 0;
    for (const char *p = text; p != NULL && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        count++;
    }
    response->headers = calloc(count + 1, sizeof(lh_header_t));
    if (response->headers == NULL) {
        return;
    }
    for (const char *p = text; p != NULL && *p;) {
        const char *end = strchr(p, '\n');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        const char *colon = memchr(p, ':', len);
        if (colon != NULL) {
            char *name = strndup(p, (size_t)(colon - p));
            const char *value = colon + 1;
            while (*value == ' ') {
                value++;
            }
            size_t value_len = len - (size_t)(value - p);
            while (value_len > 0 && (value[value_len - 1] == '\r' || value[value_len - 1] == ' ')) {
                value_len--;
            }
            for (char *c = name; c != NULL && *c; c++) {
                *c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
            }
            response->headers[response->header_count].name = name;
            response->headers[response->header_count].value = strndup(value, value_len);
            response->header_count++;
        }
        p = end != NULL ? end + 1 : NULL;
    }
}

void lh_test_http_response_free_fn(lh_http_response_t *response)
{
    if (response == NULL) {
        return;
    }
    for (size_t i = 0; i < response->header_count; i++) {
        free((char *)response->headers[i].name);
        free((char *)response->headers[i].value);
    }
    free(response->headers);
    free(response->body);
    response->headers = NULL;
    response->header_count = 0;
    response->body = NULL;
    response->body_len = 0;
}

/* Whether the host would try again after this answer. */
static bool answer_retryable(const lh_http_response_t *response, const char *hint_name)
{
    long s = response->status;
    if (hint_name != NULL && s >= 400) {
        const char *hint = lh_response_header(response, hint_name);
        if (hint != NULL && strcmp(hint, "true") == 0) {
            return true;
        }
        if (hint != NULL && strcmp(hint, "false") == 0) {
            return false;
        }
    }
    return s == 408 || s == 425 || s == 429 || (s >= 500 && s < 600);
}

/* One attempt. LH_OK with an answer, or LH_RETRY (transport) with *reason. */
static lh_status_t attempt_once(lh_test_t *t, const lh_http_request_t *request,
                                lh_http_response_t *response, const char **reason)
{
    log_request(t, request);
    struct lh_test_script *script = find_answer(t, request);
    if (script == NULL) {
        t->unanswered++;
        *reason = "connection refused (no scripted answer)";
        return LH_RETRY;
    }
    const lh_test_answer_t *answer = &script->answer;
    int64_t timeout = request->timeout_ms > 0 ? request->timeout_ms : LH_TEST_DEFAULT_TIMEOUT_MS;
    if (answer->latency_ms > timeout) {
        t->now_ms += timeout;
        *reason = "timeout";
        return LH_RETRY;
    }
    t->now_ms += answer->latency_ms;
    if (answer->transport_error != NULL) {
        *reason = answer->transport_error;
        return LH_RETRY;
    }
    const char *body = answer->body != NULL ? answer->body : "";
    response->status = answer->status;
    response->body = strdup(body);
    response->body_len = strlen(body);
    parse_headers(answer->headers, response);
    response->retry_after_ms =
        lh_retry_after_ms(lh_response_header(response, "retry-after"), t->now_ms);
    return LH_OK;
}

lh_status_t lh_test_http_request_fn(lh_ctx_t *ctx, const lh_http_request_t *request,
                                    lh_http_response_t *response)
{
    lh_test_t *t = ctx != NULL ? ctx->t : NULL;
    if (response == NULL || response->struct_size < sizeof(lh_http_response_t)) {
        lh_test_note_misuse(t, "http(): declare the response with LH_HTTP_RESPONSE_INIT");
        return LH_PERMANENT;
    }
    uint32_t size = response->struct_size;
    memset(response, 0, sizeof(*response));
    response->struct_size = size;
    response->retry_after_ms = -1;
    if (t == NULL || t->call == LH_TEST_CALL_NONE || t->call == LH_TEST_CALL_VALIDATE ||
        t->call == LH_TEST_CALL_SCORE) {
        lh_test_note_misuse(t, "http() from %s: no network there",
                            t == NULL                          ? "no context"
                            : t->call == LH_TEST_CALL_VALIDATE ? "validate"
                            : t->call == LH_TEST_CALL_SCORE    ? "score"
                                                               : "outside a callback");
        return LH_PERMANENT;
    }
    if (request == NULL || request->struct_size < sizeof(lh_http_request_t) ||
        request->url == NULL) {
        lh_test_note_misuse(t, "http(): write the request with LH_HTTP_REQUEST() and a URL");
        return LH_PERMANENT;
    }
    int attempts = request->max_attempts > 1 ? request->max_attempts : 1;
    attempts = attempts > 10 ? 10 : attempts;
    lh_status_t status = LH_RETRY;
    for (int attempt = 1; attempt <= attempts; attempt++) {
        const char *reason = NULL;
        lh_test_http_response_free_fn(response);
        response->retry_after_ms = -1;
        response->status = 0;
        status = attempt_once(t, request, response, &reason);
        bool retry = status == LH_RETRY ||
                     (status == LH_OK && answer_retryable(response, request->retry_hint_header));
        if (!retry || attempt == attempts) {
            if (status != LH_OK) {
                ctx->t->host.set_error(ctx, "http %s %s: %s",
                                       request->method != NULL ? request->method : "GET",
                                       request->url, reason);
            }
            break;
        }
        int64_t delay = response->retry_after_ms >= 0 ? response->retry_after_ms : 0;
        if (delay > LH_TEST_RETRY_AFTER_WAIT_MAX_MS) {
            break;
        }
        t->now_ms += delay;
    }
    return status;
}

size_t lh_test_request_count(lh_test_t *t)
{
    return t->request_count;
}

const lh_test_request_t *lh_test_request(lh_test_t *t, size_t index)
{
    return index < t->request_count ? &t->requests[index].view : NULL;
}

const char *lh_test_request_header(const lh_test_request_t *request, const char *name)
{
    for (size_t i = 0; request != NULL && i < request->header_count; i++) {
        if (request->headers[i].name != NULL && strcasecmp(request->headers[i].name, name) == 0) {
            return request->headers[i].value;
        }
    }
    return NULL;
}

size_t lh_test_unanswered(lh_test_t *t)
{
    return t->unanswered;
}

size_t lh_test_answers_left(lh_test_t *t)
{
    size_t left = 0;
    for (size_t i = 0; i < t->script_count; i++) {
        left += t->scripts[i].left > 0 ? (size_t)t->scripts[i].left : 0;
    }
    return left;
}

void lh_test_http_free(lh_test_t *t)
{
    for (size_t i = 0; i < t->script_count; i++) {
        lh_test_answer_t *a = &t->scripts[i].answer;
        free((char *)a->method);
        free((char *)a->url_contains);
        free((char *)a->headers);
        free((char *)a->body);
        free((char *)a->transport_error);
    }
    free(t->scripts);
    for (size_t i = 0; i < t->request_count; i++) {
        struct lh_test_logged_request *r = &t->requests[i];
        for (size_t k = 0; r->headers != NULL && k < r->view.header_count; k++) {
            free((char *)r->headers[k].name);
            free((char *)r->headers[k].value);
        }
        free(r->headers);
        free((char *)r->view.method);
        free((char *)r->view.url);
        free((char *)r->view.body);
        free((char *)r->view.retry_hint_header);
    }
    free(t->requests);
}
