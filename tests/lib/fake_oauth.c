/* fake_oauth.c - see fake_oauth.h. */
#include <check.h>
#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "fake_oauth.h"
#include "http_client.h"
#include "util.h"

#define CODE_LIFETIME_MS 60000

struct fake_oauth {
    struct MHD_Daemon *mhd;
    int port;
    pthread_mutex_t mutex;
    char *client_id;
    char *client_secret;
    bool pkce;
    bool rotate;
    int access_lifetime;
    int refresh_lifetime;
    char *redirect_prefix;
    char *deny;
    json_t *codes;   /* code -> {client_id, redirect_uri, challenge, method, scope, at, used} */
    json_t *refresh; /* refresh token -> {scope} (alive ones only) */
    json_t *access;  /* access token -> expiry (monotonic ms) */
    int issued_codes, issued_access, issued_refresh;
    struct fake_request *received;
    size_t received_count;
};

struct upload {
    char *raw_uri;
    bool started;
    struct strbuf body;
};

static int hex_value(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

static char *percent_decode(const char *text, size_t len)
{
    char *out = malloc(len + 1);
    size_t n = 0;
    for (size_t i = 0; out != NULL && i < len; i++) {
        if (text[i] == '%' && i + 2 < len && hex_value(text[i + 1]) >= 0 &&
            hex_value(text[i + 2]) >= 0) {
            out[n++] = (char)(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2]));
            i += 2;
        } else {
            out[n++] = text[i] == '+' ? ' ' : text[i];
        }
    }
    if (out != NULL) {
        out[n] = '\0';
    }
    return out;
}

/* Parameters of a query or form body: name -> value (the first wins). NEW reference. */
static json_t *parse_params(const char *text)
{
    json_t *params = json_object();
    const char *p = text != NULL ? text : "";
    while (*p != '\0') {
        size_t len = strcspn(p, "&");
        const char *eq = memchr(p, '=', len);
        if (eq != NULL) {
            char *name = percent_decode(p, (size_t)(eq - p));
            char *value = percent_decode(eq + 1, len - (size_t)(eq - p) - 1);
            if (json_object_get(params, name) == NULL) {
                json_object_set_new(params, name, json_string(value));
            }
            free(name);
            free(value);
        }
        p += len + (p[len] == '&');
    }
    return params;
}

char *fake_oauth_query_param(const char *url, const char *name)
{
    const char *query = strchr(url, '?');
    json_t *params = parse_params(query != NULL ? query + 1 : "");
    const char *value = json_string_value(json_object_get(params, name));
    char *copy = value != NULL ? strdup(value) : NULL;
    json_decref(params);
    return copy;
}

static const char *param(const json_t *params, const char *name)
{
    return json_string_value(json_object_get(params, name));
}

static char *form_escape(const char *value)
{
    struct strbuf sb = {0};
    for (const unsigned char *p = (const unsigned char *)value; *p != '\0'; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.' || *p == '~') {
            strbuf_append_len(&sb, (const char *)p, 1);
        } else {
            strbuf_appendf(&sb, "%%%02X", *p);
        }
    }
    return strbuf_take(&sb);
}

struct answer {
    int status;
    char *body;     /* JSON or text */
    char *location; /* a redirect */
};

static struct answer json_answer(int status, json_t *body)
{
    struct answer a = {status, json_dumps(body, JSON_COMPACT), NULL};
    json_decref(body);
    return a;
}

static struct answer oauth_error(int status, const char *error, const char *description)
{
    return json_answer(status,
                       json_pack("{s:s,s:s}", "error", error, "error_description", description));
}

/* The redirect back to the client with these parameters (and the state). */
static struct answer redirect_back(const char *redirect_uri, const char *name, const char *value,
                                   const char *state)
{
    char *v = form_escape(value);
    char *s = state != NULL ? form_escape(state) : NULL;
    struct answer a = {302, strdup(""), NULL};
    a.location = util_printf("%s%c%s=%s%s%s", redirect_uri, strchr(redirect_uri, '?') ? '&' : '?',
                             name, v, s != NULL ? "&state=" : "", s != NULL ? s : "");
    free(v);
    free(s);
    return a;
}

/* GET /authorize: the user consents at once (or refuses, when told). Under the mutex. */
static struct answer authorize(struct fake_oauth *f, const json_t *q)
{
    const char *client_id = param(q, "client_id");
    const char *redirect_uri = param(q, "redirect_uri");
    const char *state = param(q, "state");
    if (client_id == NULL || strcmp(client_id, f->client_id) != 0) {
        return (struct answer){400, strdup("unknown client_id"), NULL};
    }
    if (redirect_uri == NULL ||
        (f->redirect_prefix != NULL &&
         strncmp(redirect_uri, f->redirect_prefix, strlen(f->redirect_prefix)) != 0)) {
        return (struct answer){400, strdup("redirect_uri is not registered"), NULL};
    }
    const char *type = param(q, "response_type");
    if (type == NULL || strcmp(type, "code") != 0) {
        return redirect_back(redirect_uri, "error", "unsupported_response_type", state);
    }
    const char *challenge = param(q, "code_challenge");
    const char *method = param(q, "code_challenge_method");
    if (f->pkce && (challenge == NULL || method == NULL || strcmp(method, "S256") != 0)) {
        return redirect_back(redirect_uri, "error", "invalid_request", state);
    }
    if (f->deny != NULL) {
        return redirect_back(redirect_uri, "error", f->deny, state);
    }
    char code[48];
    snprintf(code, sizeof(code), "fake-oauth-code-%d", ++f->issued_codes);
    json_object_set_new(f->codes, code,
                        json_pack("{s:s,s:s,s:s?,s:s?,s:I,s:b}", "client_id", client_id,
                                  "redirect_uri", redirect_uri, "challenge", challenge, "scope",
                                  param(q, "scope"), "at", (json_int_t)util_monotonic_ms(), "used",
                                  0));
    return redirect_back(redirect_uri, "code", code, state);
}

/* A token answer for a grant of `scope`; refresh: the refresh token to hand out, or NULL for
 * a new one. Under the mutex. */
static struct answer grant(struct fake_oauth *f, const char *scope, const char *refresh)
{
    char access[48], fresh[48];
    snprintf(access, sizeof(access), "fake-oauth-at-%d", ++f->issued_access);
    json_object_set_new(f->access, access,
                        json_integer(util_monotonic_ms() + (json_int_t)f->access_lifetime * 1000));
    if (refresh == NULL) {
        snprintf(fresh, sizeof(fresh), "fake-oauth-rt-%d", ++f->issued_refresh);
        json_object_set_new(f->refresh, fresh, json_pack("{s:s?}", "scope", scope));
        refresh = fresh;
    }
    json_t *body = json_pack("{s:s,s:i,s:s,s:s,s:s}", "access_token", access, "expires_in",
                             f->access_lifetime, "refresh_token", refresh, "scope",
                             scope != NULL ? scope : "", "token_type", "Bearer");
    if (f->refresh_lifetime > 0) {
        json_object_set_new(body, "refresh_token_expires_in", json_integer(f->refresh_lifetime));
    }
    return json_answer(200, body);
}

/* POST /token. Under the mutex. */
static struct answer token(struct fake_oauth *f, const json_t *form)
{
    const char *client_id = param(form, "client_id");
    const char *secret = param(form, "client_secret");
    if (client_id == NULL || secret == NULL || strcmp(client_id, f->client_id) != 0 ||
        strcmp(secret, f->client_secret) != 0) {
        return oauth_error(401, "invalid_client", "Client authentication failed.");
    }
    const char *type = param(form, "grant_type");
    if (type != NULL && strcmp(type, "authorization_code") == 0) {
        const char *code = param(form, "code");
        json_t *issued = code != NULL ? json_object_get(f->codes, code) : NULL;
        if (issued == NULL || json_is_true(json_object_get(issued, "used"))) {
            return oauth_error(400, "invalid_grant", "The code is unknown or was used.");
        }
        json_object_set_new(issued, "used", json_true());
        const char *redirect_uri = param(form, "redirect_uri");
        if (util_monotonic_ms() - json_integer_value(json_object_get(issued, "at")) >
            CODE_LIFETIME_MS) {
            return oauth_error(400, "invalid_grant", "The code expired.");
        }
        if (redirect_uri == NULL ||
            strcmp(redirect_uri, json_string_value(json_object_get(issued, "redirect_uri"))) != 0) {
            return oauth_error(400, "invalid_grant", "redirect_uri does not match.");
        }
        const char *challenge = json_string_value(json_object_get(issued, "challenge"));
        if (challenge != NULL) {
            const char *verifier = param(form, "code_verifier");
            unsigned char digest[32];
            char computed[48] = "";
            if (verifier != NULL) {
                crypto_sha256(verifier, strlen(verifier), digest);
                crypto_base64url_encode(digest, sizeof(digest), computed);
            }
            if (verifier == NULL || strcmp(computed, challenge) != 0) {
                return oauth_error(400, "invalid_grant", "code_verifier does not match.");
            }
        }
        return grant(f, json_string_value(json_object_get(issued, "scope")), NULL);
    }
    if (type != NULL && strcmp(type, "refresh_token") == 0) {
        const char *refresh = param(form, "refresh_token");
        json_t *alive = refresh != NULL ? json_object_get(f->refresh, refresh) : NULL;
        if (alive == NULL) {
            return oauth_error(400, "invalid_grant", "Token has been expired or revoked.");
        }
        char *scope = json_string_value(json_object_get(alive, "scope")) != NULL
                          ? strdup(json_string_value(json_object_get(alive, "scope")))
                          : NULL;
        char *kept = strdup(refresh);
        if (f->rotate) {
            json_object_del(f->refresh, refresh);
        }
        struct answer a = grant(f, scope, f->rotate ? NULL : kept);
        free(kept);
        free(scope);
        return a;
    }
    return oauth_error(400, "unsupported_grant_type", "grant_type is not supported.");
}

/* Any path ending in /authorize (/authorization) or /token (/accessToken): a tenant or
 * version may come first. */
static bool ends_with(const char *path, const char *end)
{
    size_t len = strlen(path), n = strlen(end);
    return len >= n && strcmp(path + len - n, end) == 0;
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *connection)
{
    (void)cls;
    (void)connection;
    struct upload *upload = calloc(1, sizeof(*upload));
    if (upload != NULL) {
        upload->raw_uri = strdup(uri);
    }
    return upload;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *connection, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    struct fake_oauth *f = cls;
    struct upload *upload = *con_cls;
    if (upload == NULL) {
        return MHD_NO;
    }
    if (!upload->started) {
        upload->started = true;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        strbuf_append_len(&upload->body, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    const char *raw = upload->raw_uri != NULL ? upload->raw_uri : url;
    const char *query = strchr(raw, '?');
    pthread_mutex_lock(&f->mutex);
    struct fake_request *grown = realloc(f->received, (f->received_count + 1) * sizeof(*grown));
    if (grown != NULL) {
        f->received = grown;
        f->received[f->received_count++] =
            (struct fake_request){.method = strdup(method),
                                  .url = strdup(raw),
                                  .body = strdup(strbuf_value(&upload->body)),
                                  .authorization = NULL,
                                  .headers = strdup(""),
                                  .at_ms = util_monotonic_ms()};
    }
    struct answer a = {404, strdup("not found"), NULL};
    /* LinkedIn names them /authorization and /accessToken */
    if (strcmp(method, "GET") == 0 &&
        (ends_with(url, "/authorize") || ends_with(url, "/authorization"))) {
        free(a.body);
        json_t *q = parse_params(query != NULL ? query + 1 : "");
        a = authorize(f, q);
        json_decref(q);
    } else if (strcmp(method, "POST") == 0 &&
               (ends_with(url, "/token") || ends_with(url, "/accessToken"))) {
        free(a.body);
        json_t *form = parse_params(strbuf_value(&upload->body));
        a = token(f, form);
        json_decref(form);
    }
    pthread_mutex_unlock(&f->mutex);
    const char *body = a.body != NULL ? a.body : "";
    struct MHD_Response *response =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(response, "Content-Type",
                            a.body != NULL && a.body[0] == '{' ? "application/json" : "text/plain");
    MHD_add_response_header(response, "Cache-Control", "no-store");
    if (a.location != NULL) {
        MHD_add_response_header(response, "Location", a.location);
    }
    enum MHD_Result rc = MHD_queue_response(connection, (unsigned)a.status, response);
    MHD_destroy_response(response);
    free(a.body);
    free(a.location);
    return rc;
}

static void on_completed(void *cls, struct MHD_Connection *connection, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)connection;
    (void)toe;
    struct upload *upload = *con_cls;
    if (upload != NULL) {
        strbuf_free(&upload->body);
        free(upload->raw_uri);
        free(upload);
        *con_cls = NULL;
    }
}

struct fake_oauth *fake_oauth_start(const char *client_id, const char *client_secret)
{
    struct fake_oauth *f = calloc(1, sizeof(*f));
    ck_assert_ptr_nonnull(f);
    pthread_mutex_init(&f->mutex, NULL);
    f->client_id = strdup(client_id);
    f->client_secret = strdup(client_secret);
    f->pkce = true;
    f->access_lifetime = 3600;
    f->codes = json_object();
    f->refresh = json_object();
    f->access = json_object();
    f->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0,
                              NULL, NULL, on_request, f, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
                              f, MHD_OPTION_URI_LOG_CALLBACK, on_uri, f, MHD_OPTION_END);
    ck_assert_ptr_nonnull(f->mhd);
    f->port = MHD_get_daemon_info(f->mhd, MHD_DAEMON_INFO_BIND_PORT)->port;
    return f;
}

void fake_oauth_stop(struct fake_oauth *f)
{
    if (f == NULL) {
        return;
    }
    MHD_stop_daemon(f->mhd);
    for (size_t i = 0; i < f->received_count; i++) {
        fake_http_request_free(&f->received[i]);
    }
    free(f->received);
    json_decref(f->codes);
    json_decref(f->refresh);
    json_decref(f->access);
    free(f->client_id);
    free(f->client_secret);
    free(f->redirect_prefix);
    free(f->deny);
    pthread_mutex_destroy(&f->mutex);
    free(f);
}

char *fake_oauth_url(const struct fake_oauth *f, const char *path)
{
    return util_printf("http://127.0.0.1:%d%s", f->port, path);
}

void fake_oauth_require_pkce(struct fake_oauth *f, bool required)
{
    pthread_mutex_lock(&f->mutex);
    f->pkce = required;
    pthread_mutex_unlock(&f->mutex);
}

void fake_oauth_rotate_refresh_tokens(struct fake_oauth *f, bool rotate)
{
    pthread_mutex_lock(&f->mutex);
    f->rotate = rotate;
    pthread_mutex_unlock(&f->mutex);
}

void fake_oauth_access_lifetime(struct fake_oauth *f, int seconds)
{
    pthread_mutex_lock(&f->mutex);
    f->access_lifetime = seconds;
    pthread_mutex_unlock(&f->mutex);
}

void fake_oauth_refresh_lifetime(struct fake_oauth *f, int seconds)
{
    pthread_mutex_lock(&f->mutex);
    f->refresh_lifetime = seconds;
    pthread_mutex_unlock(&f->mutex);
}

void fake_oauth_register_redirect(struct fake_oauth *f, const char *prefix)
{
    pthread_mutex_lock(&f->mutex);
    free(f->redirect_prefix);
    f->redirect_prefix = prefix != NULL ? strdup(prefix) : NULL;
    pthread_mutex_unlock(&f->mutex);
}

void fake_oauth_deny(struct fake_oauth *f, const char *error)
{
    pthread_mutex_lock(&f->mutex);
    free(f->deny);
    f->deny = error != NULL ? strdup(error) : NULL;
    pthread_mutex_unlock(&f->mutex);
}

void fake_oauth_revoke_all(struct fake_oauth *f)
{
    pthread_mutex_lock(&f->mutex);
    json_object_clear(f->refresh);
    pthread_mutex_unlock(&f->mutex);
}

char *fake_oauth_access_token(int n)
{
    return util_printf("fake-oauth-at-%d", n);
}

bool fake_oauth_token_alive(struct fake_oauth *f, const char *access_token)
{
    pthread_mutex_lock(&f->mutex);
    json_t *expiry = json_object_get(f->access, access_token);
    bool alive = expiry != NULL && json_integer_value(expiry) > util_monotonic_ms();
    pthread_mutex_unlock(&f->mutex);
    return alive;
}

static bool matches(const struct fake_request *r, const char *method, const char *prefix)
{
    return strcmp(r->method, method) == 0 && strncmp(r->url, prefix, strlen(prefix)) == 0;
}

size_t fake_oauth_count(struct fake_oauth *f, const char *method, const char *path_prefix)
{
    size_t n = 0;
    pthread_mutex_lock(&f->mutex);
    for (size_t i = 0; i < f->received_count; i++) {
        n += matches(&f->received[i], method, path_prefix);
    }
    pthread_mutex_unlock(&f->mutex);
    return n;
}

struct fake_request fake_oauth_request(struct fake_oauth *f, const char *method,
                                       const char *path_prefix, size_t nth)
{
    struct fake_request copy = {0};
    bool found = false;
    pthread_mutex_lock(&f->mutex);
    for (size_t i = 0, n = 0; i < f->received_count && !found; i++) {
        if (matches(&f->received[i], method, path_prefix) && n++ == nth) {
            const struct fake_request *r = &f->received[i];
            copy = (struct fake_request){strdup(r->method),  strdup(r->url), strdup(r->body), NULL,
                                         strdup(r->headers), r->at_ms};
            found = true;
        }
    }
    pthread_mutex_unlock(&f->mutex);
    ck_assert_msg(found, "no %s %s request number %zu", method, path_prefix, nth);
    return copy;
}

char *fake_oauth_browse(const char *authorization_url, long *status_out)
{
    struct http_result result;
    int rc = http_get(authorization_url, &result);
    char *location = NULL;
    if (rc == 0 && result.status == 302 && result.headers != NULL) {
        for (const char *line = result.headers; line != NULL && *line != '\0';) {
            size_t len = strcspn(line, "\r\n");
            if (len > 9 && strncasecmp(line, "Location:", 9) == 0) {
                const char *value = line + 9;
                while (*value == ' ') {
                    value++;
                }
                location = strndup(value, len - (size_t)(value - line));
            }
            line += len;
            line += strspn(line, "\r\n");
        }
    }
    if (status_out != NULL) {
        *status_out = rc == 0 ? result.status : 0;
    }
    http_result_free(&result);
    return location;
}
