/* fake_http.c - see fake_http.h. */
#include <microhttpd.h>
#include <pthread.h>
#include <sys/socket.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fake_http.h"
#include "fake_http_internal.h"
#include "util.h"

struct scripted {
    int status;
    char *body;
    char *headers; /* "Name: value" lines separated by '\n', or NULL */
    int delay_ms;
    char *url; /* routes only */
    int times; /* routes only: 0 = always */
    int used;
};

struct fake_http {
    struct MHD_Daemon *mhd;
    int port;
    pthread_mutex_t mutex;
    struct scripted *script;
    size_t script_count;
    size_t script_next;
    struct scripted *routes;
    size_t route_count;
    struct fake_request *received;
    size_t received_count;
    char *bearer; /* required "Bearer <token>", or NULL */
    fake_http_handler_fn handler;
    void *handler_arg;
    void *owned_arg; /* a recorder or replayer the server made: freed by fake_http_stop */
    void (*owned_free)(void *arg);
};

struct upload {
    char *raw_uri; /* with the query string, as received */
    bool started;
    struct strbuf body;
};

static void fill(struct scripted *s, struct fake_response response);

/* Adds each "Name: value" line of `headers` (separated by '\n'; NULL: none). */
static void add_headers(struct MHD_Response *response, const char *headers)
{
    for (const char *line = headers; line != NULL && *line != '\0';) {
        const char *end = strchr(line, '\n');
        size_t len = end != NULL ? (size_t)(end - line) : strlen(line);
        const char *colon = memchr(line, ':', len);
        if (colon != NULL) {
            char *name = strndup(line, (size_t)(colon - line));
            const char *value = colon + 1;
            while (value < line + len && *value == ' ') {
                value++;
            }
            char *text = strndup(value, (size_t)(line + len - value));
            MHD_add_response_header(response, name, text);
            free(text);
            free(name);
        }
        line = end != NULL ? end + 1 : NULL;
    }
}

static void scripted_free(struct scripted *s)
{
    free(s->body);
    free(s->headers);
    free(s->url);
    memset(s, 0, sizeof(*s));
}

static void fake_request_free_fields(struct fake_request *r)
{
    free(r->method);
    free(r->url);
    free(r->body);
    free(r->authorization);
    free(r->headers);
    memset(r, 0, sizeof(*r));
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

static enum MHD_Result add_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
    (void)kind;
    strbuf_appendf(cls, "%s: %s\n", key, value ? value : "");
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *connection, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    struct fake_http *server = cls;
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
    struct strbuf headers = {0};
    MHD_get_connection_values(connection, MHD_HEADER_KIND, add_header, &headers);
    struct strbuf full_url = {0};
    strbuf_append(&full_url, upload->raw_uri != NULL ? upload->raw_uri : url);
    const char *auth =
        MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);

    pthread_mutex_lock(&server->mutex);
    struct fake_request *grown =
        realloc(server->received, (server->received_count + 1) * sizeof(*grown));
    if (grown != NULL) {
        server->received = grown;
        server->received[server->received_count++] = (struct fake_request){
            .method = strdup(method),
            .url = strbuf_take(&full_url),
            .body = strbuf_take(&upload->body),
            .authorization = auth ? strdup(auth) : NULL,
            .headers = strbuf_take(&headers),
            .at_ms = util_monotonic_ms(),
        };
    }
    size_t own_index = server->received_count - 1; /* this request's entry in the log */
    struct scripted answer = {200, "{}", NULL, 0, NULL, 0, 0};
    struct scripted own_answer = {0}; /* a handler's, freed below */
    bool handled = false;
    struct scripted *route = NULL;
    bool unauthorized =
        server->bearer != NULL && (auth == NULL || strcmp(auth, server->bearer) != 0);
    if (unauthorized) {
        answer = (struct scripted){401,
                                   "{\"error\":\"invalid_token\"}",
                                   "WWW-Authenticate: Bearer error=\"invalid_token\"",
                                   0,
                                   NULL,
                                   0,
                                   0};
    } else if (server->handler != NULL) {
        fake_http_handler_fn handler = server->handler;
        void *arg = server->handler_arg;
        struct fake_request seen = {0};
        if (grown != NULL) {
            const struct fake_request *r = &server->received[own_index];
            seen = (struct fake_request){strdup(r->method),
                                         strdup(r->url),
                                         strdup(r->body != NULL ? r->body : ""),
                                         r->authorization ? strdup(r->authorization) : NULL,
                                         strdup(r->headers != NULL ? r->headers : ""),
                                         r->at_ms};
        }
        pthread_mutex_unlock(&server->mutex);
        struct fake_response chosen = {0};
        handled = grown != NULL && handler(arg, &seen, &chosen) == 1;
        fake_request_free_fields(&seen);
        pthread_mutex_lock(&server->mutex);
        if (handled) {
            fill(&own_answer, chosen);
            free((char *)chosen.body);
            free((char *)chosen.header);
            answer = own_answer;
        }
    }
    /* after the handler: the lock was let go meanwhile, so the log may have moved */
    const char *received_url = grown != NULL ? server->received[own_index].url : "";
    for (size_t r = 0; r < server->route_count && route == NULL && !handled && !unauthorized; r++) {
        struct scripted *candidate = &server->routes[r];
        size_t len = strlen(candidate->url);
        bool prefix = len > 0 && candidate->url[len - 1] == '*';
        bool matches = prefix ? strncmp(candidate->url, received_url, len - 1) == 0
                              : strcmp(candidate->url, received_url) == 0;
        if (matches && (candidate->times == 0 || candidate->used < candidate->times)) {
            route = candidate;
        }
    }
    if (!unauthorized && !handled && route != NULL) {
        route->used++;
        answer = *route;
    } else if (!unauthorized && !handled && server->script_count > 0) {
        size_t i = server->script_next < server->script_count ? server->script_next++
                                                              : server->script_count - 1;
        answer = server->script[i];
    }
    pthread_mutex_unlock(&server->mutex);
    strbuf_free(&full_url);
    strbuf_free(&headers);

    if (answer.delay_ms > 0) {
        struct timespec pause = {answer.delay_ms / 1000, (answer.delay_ms % 1000) * 1000000L};
        nanosleep(&pause, NULL);
    }
    if (handled) {
        /* the handler's copy lives until the answer is queued */
        answer = own_answer;
    }
    if (answer.status == FAKE_RESET) {
        /* a zero linger makes the close send RST instead of FIN */
        const union MHD_ConnectionInfo *info =
            MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (info != NULL) {
            struct linger reset = {.l_onoff = 1, .l_linger = 0};
            setsockopt(info->connect_fd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
        }
        scripted_free(&own_answer);
        return MHD_NO;
    }
    if (answer.status == FAKE_CLOSE) {
        scripted_free(&own_answer);
        return MHD_NO;
    }
    struct MHD_Response *response = MHD_create_response_from_buffer(
        strlen(answer.body), (void *)answer.body, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(response, "Content-Type", "application/json");
    add_headers(response, answer.headers);
    enum MHD_Result rc = MHD_queue_response(connection, (unsigned)answer.status, response);
    MHD_destroy_response(response);
    scripted_free(&own_answer);
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

struct fake_http *fake_http_start(void)
{
    struct fake_http *server = calloc(1, sizeof(*server));
    pthread_mutex_init(&server->mutex, NULL);
    server->mhd =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL,
                         NULL, on_request, server, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
                         server, MHD_OPTION_URI_LOG_CALLBACK, on_uri, server, MHD_OPTION_END);
    if (server->mhd == NULL) {
        free(server);
        return NULL;
    }
    server->port = MHD_get_daemon_info(server->mhd, MHD_DAEMON_INFO_BIND_PORT)->port;
    return server;
}

int fake_http_port(const struct fake_http *server)
{
    return server->port;
}

char *fake_http_url(const struct fake_http *server, const char *path)
{
    return util_printf("http://127.0.0.1:%d%s", server->port, path);
}

static void fill(struct scripted *s, struct fake_response response)
{
    memset(s, 0, sizeof(*s));
    s->status = response.status;
    s->body = strdup(response.body != NULL ? response.body : "");
    s->headers = response.header != NULL ? strdup(response.header) : NULL;
    s->delay_ms = response.delay_ms;
}

void fake_http_push(struct fake_http *server, struct fake_response response)
{
    pthread_mutex_lock(&server->mutex);
    struct scripted *grown = realloc(server->script, (server->script_count + 1) * sizeof(*grown));
    if (grown != NULL) {
        server->script = grown;
        fill(&server->script[server->script_count++], response);
    }
    pthread_mutex_unlock(&server->mutex);
}

void fake_http_route(struct fake_http *server, const char *url, struct fake_response response,
                     int times)
{
    pthread_mutex_lock(&server->mutex);
    struct scripted *grown = realloc(server->routes, (server->route_count + 1) * sizeof(*grown));
    if (grown != NULL) {
        server->routes = grown;
        struct scripted *s = &server->routes[server->route_count++];
        fill(s, response);
        s->url = strdup(url);
        s->times = times;
    }
    pthread_mutex_unlock(&server->mutex);
}

void fake_http_handler(struct fake_http *server, fake_http_handler_fn handler, void *arg)
{
    pthread_mutex_lock(&server->mutex);
    server->handler = handler;
    server->handler_arg = arg;
    pthread_mutex_unlock(&server->mutex);
}

void fake_http_own(struct fake_http *server, fake_http_handler_fn handler, void *arg,
                   void (*free_arg)(void *arg))
{
    pthread_mutex_lock(&server->mutex);
    server->handler = handler;
    server->handler_arg = arg;
    if (server->owned_free != NULL) {
        server->owned_free(server->owned_arg);
    }
    server->owned_arg = arg;
    server->owned_free = free_arg;
    pthread_mutex_unlock(&server->mutex);
}

void fake_http_require_bearer(struct fake_http *server, const char *token)
{
    pthread_mutex_lock(&server->mutex);
    free(server->bearer);
    server->bearer = token != NULL ? util_printf("Bearer %s", token) : NULL;
    pthread_mutex_unlock(&server->mutex);
}

size_t fake_http_request_count(struct fake_http *server)
{
    pthread_mutex_lock(&server->mutex);
    size_t n = server->received_count;
    pthread_mutex_unlock(&server->mutex);
    return n;
}

static char *dup_or_null(const char *text)
{
    return text != NULL ? strdup(text) : NULL;
}

struct fake_request fake_http_request(struct fake_http *server, size_t i)
{
    struct fake_request copy = {0};
    pthread_mutex_lock(&server->mutex);
    if (i < server->received_count) {
        const struct fake_request *r = &server->received[i];
        copy = (struct fake_request){dup_or_null(r->method),  dup_or_null(r->url),
                                     dup_or_null(r->body),    dup_or_null(r->authorization),
                                     dup_or_null(r->headers), r->at_ms};
    }
    pthread_mutex_unlock(&server->mutex);
    return copy;
}

void fake_http_request_free(struct fake_request *r)
{
    fake_request_free_fields(r);
}

void fake_http_stop(struct fake_http *server)
{
    if (server == NULL) {
        return;
    }
    MHD_stop_daemon(server->mhd);
    for (size_t i = 0; i < server->script_count; i++) {
        free(server->script[i].body);
        free(server->script[i].headers);
    }
    free(server->script);
    for (size_t i = 0; i < server->route_count; i++) {
        free(server->routes[i].body);
        free(server->routes[i].headers);
        free(server->routes[i].url);
    }
    free(server->routes);
    for (size_t i = 0; i < server->received_count; i++) {
        fake_http_request_free(&server->received[i]);
    }
    free(server->received);
    free(server->bearer);
    if (server->owned_free != NULL) {
        server->owned_free(server->owned_arg);
    }
    pthread_mutex_destroy(&server->mutex);
    free(server);
}
