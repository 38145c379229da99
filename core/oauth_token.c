/* oauth_token.c - see oauth_token.h. */
#include <stdlib.h>
#include <string.h>

#include "host_http.h"
#include "oauth_token.h"
#include "util.h"

#define OAUTH_REASON_MAX 200

static void wipe_free(char *secret)
{
    if (secret != NULL) {
        explicit_bzero(secret, strlen(secret));
        free(secret);
    }
}

void oauth_token_answer_clear(struct oauth_token_answer *answer)
{
    wipe_free(answer->access_token);
    wipe_free(answer->refresh_token);
    free(answer->scope);
    memset(answer, 0, sizeof(*answer));
}

/*
 * The error code of a token endpoint's answer: RFC 6749's `error`, or, from endpoints that
 * answer in their own shape, `status` (HubSpot's refused refresh token is
 * {"status": "BAD_REFRESH_TOKEN", "message": ...}, without `error`).
 */
static const char *error_code(const json_t *body)
{
    const char *code = json_string_value(json_object_get(body, "error"));
    return code != NULL ? code : json_string_value(json_object_get(body, "status"));
}

/* Whether the answer says the grant itself is no good (a new consent is the only fix). */
static bool grant_refused(const json_t *body)
{
    const char *code = error_code(body);
    return code != NULL &&
           (strcmp(code, "invalid_grant") == 0 || strcmp(code, "BAD_REFRESH_TOKEN") == 0);
}

/* A short printable reason from a token endpoint's error answer (never its tokens). */
static char *error_reason(const json_t *body, long status)
{
    const char *code = error_code(body);
    const char *description = json_string_value(json_object_get(body, "error_description"));
    if (description == NULL) {
        description = json_string_value(json_object_get(body, "message"));
    }
    char *reason = code != NULL
                       ? util_printf("%s%s%.*s", code, description != NULL ? ": " : "",
                                     OAUTH_REASON_MAX, description != NULL ? description : "")
                       : util_printf("HTTP %ld", status);
    if (reason != NULL) {
        util_utf8_sanitize(reason);
    }
    return reason;
}

/* A positive integer member, given as a number or (some providers) as a string. */
static int64_t seconds_of(const json_t *body, const char *name)
{
    const json_t *value = json_object_get(body, name);
    if (json_is_integer(value)) {
        return json_integer_value(value) > 0 ? json_integer_value(value) : 0;
    }
    const char *text = json_string_value(value);
    if (text != NULL && text[0] >= '0' && text[0] <= '9' && strlen(text) <= 12) {
        return strtoll(text, NULL, 10);
    }
    return 0;
}

static char *copy_or_null(const char *text)
{
    return text != NULL && text[0] != '\0' ? strdup(text) : NULL;
}

lh_status_t oauth_token_request(struct lh_ctx *ctx, const char *token_url, struct strbuf *form,
                                int max_attempts, struct oauth_token_answer *answer,
                                char **reason_out)
{
    memset(answer, 0, sizeof(*answer));
    *reason_out = NULL;
    if (form->failed) {
        explicit_bzero(form->data, form->len);
        strbuf_free(form);
        *reason_out = strdup("out of memory");
        return LH_RETRY;
    }
    const lh_header_t headers[] = {{"Content-Type", "application/x-www-form-urlencoded"},
                                   {"Accept", "application/json"}};
    lh_http_request_t request =
        LH_HTTP_REQUEST(.method = "POST", .url = token_url, .headers = headers, .header_count = 2,
                        .body = form->data, .body_len = form->len, .max_attempts = max_attempts);
    lh_http_response_t response;
    lh_status_t status = host_http_perform(ctx, &request, &response);
    explicit_bzero(form->data, form->len);
    strbuf_free(form);
    if (status != LH_OK) {
        *reason_out = strdup(ctx->error != NULL ? ctx->error : "the token endpoint is unreachable");
        host_http_response_free(&response);
        return status; /* a transport failure: the reason is set */
    }
    answer->http_status = response.status;
    json_t *body = json_loads(response.body, 0, NULL);
    const char *token = json_string_value(json_object_get(body, "access_token"));
    const char *code = error_code(body);
    if (response.status >= 200 && response.status < 300 && token != NULL && token[0] != '\0') {
        answer->access_token = strdup(token);
        answer->refresh_token =
            copy_or_null(json_string_value(json_object_get(body, "refresh_token")));
        answer->scope = copy_or_null(json_string_value(json_object_get(body, "scope")));
        answer->expires_in_s = seconds_of(body, "expires_in");
        if (answer->expires_in_s == 0) {
            answer->expires_in_s = OAUTH_DEFAULT_LIFETIME_S;
        }
        answer->refresh_expires_in_s = seconds_of(body, "refresh_token_expires_in");
        status = LH_OK;
        if (answer->access_token == NULL) {
            *reason_out = strdup("out of memory");
            status = LH_RETRY;
        }
    } else if (grant_refused(body)) {
        *reason_out = error_reason(body, response.status);
        status = LH_AUTH;
    } else if (response.status == 401 ||
               (code != NULL && (strcmp(code, "invalid_client") == 0 ||
                                 strcmp(code, "unauthorized_client") == 0))) {
        *reason_out = error_reason(body, response.status);
        status = LH_CONFIG;
    } else if (response.status >= 200 && response.status < 300) {
        *reason_out = strdup("the token endpoint answered without an access_token");
        status = LH_RETRY;
    } else {
        *reason_out = error_reason(body, response.status);
        status = lh_http_classify(&response);
        if (status == LH_RETRY_AFTER) {
            host_api_table()->set_retry_after(ctx, response.retry_after_ms);
        }
        status = status == LH_OK || status == LH_AUTH ? LH_PERMANENT : status;
    }
    json_decref(body);
    host_http_response_free(&response);
    return status;
}
