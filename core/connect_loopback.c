/* connect_loopback.c - see connect_loopback.h. */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "connect_loopback.h"
#include "oauth_consent.h"
#include "util.h"

#define ANSWER_WAIT_MS 120000 /* how long the browser waits for the exchange */
#define SENT_WAIT_MS   5000   /* how long the answer waits to reach the browser */

struct connect_loopback {
    struct MHD_Daemon *mhd;
    int port;
    const char *state;
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    char *query;   /* the callback that carried the state; taken by wait() */
    bool received; /* it came (the query may have been taken since) */
    bool answered; /* the outcome is known: status and page below */
    bool sent;     /* ...and was sent */
    int status;
    char *page;
};

/* The raw URI of each request, which the access handler does not get with its query. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *connection)
{
    (void)cls;
    (void)connection;
    return strdup(uri != NULL ? uri : "");
}

static void on_completed(void *cls, struct MHD_Connection *connection, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)connection;
    (void)toe;
    struct connect_loopback *l = cls;
    free(*con_cls);
    *con_cls = NULL;
    pthread_mutex_lock(&l->mutex);
    if (l->answered) {
        l->sent = true;
        pthread_cond_broadcast(&l->cond);
    }
    pthread_mutex_unlock(&l->mutex);
}

static enum MHD_Result send_page(struct MHD_Connection *connection, int status, const char *page)
{
    struct MHD_Response *response =
        MHD_create_response_from_buffer(strlen(page), (void *)page, MHD_RESPMEM_MUST_COPY);
    if (response == NULL) {
        return MHD_NO;
    }
    MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, "text/html; charset=utf-8");
    MHD_add_response_header(response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    enum MHD_Result rc = MHD_queue_response(connection, (unsigned)status, response);
    MHD_destroy_response(response);
    return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *connection, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    struct connect_loopback *l = cls;
    if (strcmp(method, "GET") != 0 || strcmp(url, "/callback") != 0) {
        char *page =
            oauth_consent_page("not found", "This address only takes the provider's redirect.");
        enum MHD_Result rc = send_page(connection, 404, page ? page : "");
        free(page);
        return rc;
    }
    const char *raw = *con_cls != NULL ? *con_cls : "";
    const char *query = strchr(raw, '?');
    struct oauth_redirect redirect;
    bool ours = query != NULL && oauth_redirect_parse(query + 1, &redirect) == 0;
    if (ours) {
        ours = oauth_state_matches(l->state, redirect.state);
        oauth_redirect_clear(&redirect);
    }
    if (!ours) {
        char *page =
            oauth_consent_page("not this consent", "The redirect does not carry this consent's "
                                                   "state; the command goes on waiting.");
        enum MHD_Result rc = send_page(connection, 400, page ? page : "");
        free(page);
        return rc;
    }
    pthread_mutex_lock(&l->mutex);
    if (l->received) {
        pthread_mutex_unlock(&l->mutex);
        char *page =
            oauth_consent_page("already received", "This consent's redirect came already.");
        enum MHD_Result rc = send_page(connection, 409, page ? page : "");
        free(page);
        return rc;
    }
    l->received = true;
    l->query = strdup(query + 1);
    pthread_cond_broadcast(&l->cond);
    int64_t deadline = util_monotonic_ms() + ANSWER_WAIT_MS;
    while (!l->answered && util_monotonic_ms() < deadline) {
        util_cond_wait_ms(&l->cond, &l->mutex, deadline - util_monotonic_ms());
    }
    char *page = l->answered && l->page != NULL ? strdup(l->page) : NULL;
    int status = l->answered ? l->status : 504;
    pthread_mutex_unlock(&l->mutex);
    enum MHD_Result rc = send_page(connection, status, page != NULL ? page : "");
    free(page);
    return rc;
}

struct connect_loopback *connect_loopback_start(int port, const char *state, char **error_out)
{
    struct connect_loopback *l = calloc(1, sizeof(*l));
    if (l == NULL) {
        *error_out = strdup("out of memory");
        return NULL;
    }
    l->state = state;
    pthread_mutex_init(&l->mutex, NULL);
    pthread_cond_init(&l->cond, NULL);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    l->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC, (uint16_t)port, NULL,
                              NULL, on_request, l, MHD_OPTION_SOCK_ADDR, &address,
                              MHD_OPTION_URI_LOG_CALLBACK, on_uri, l, MHD_OPTION_NOTIFY_COMPLETED,
                              on_completed, l, MHD_OPTION_CONNECTION_TIMEOUT, 30U, MHD_OPTION_END);
    if (l->mhd == NULL) {
        *error_out = util_printf("cannot listen on 127.0.0.1:%d (in use?)", port);
        connect_loopback_stop(l);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(l->mhd, MHD_DAEMON_INFO_BIND_PORT);
    l->port = info != NULL ? info->port : port;
    return l;
}

int connect_loopback_port(const struct connect_loopback *loopback)
{
    return loopback->port;
}

char *connect_loopback_wait(struct connect_loopback *l, int64_t timeout_ms)
{
    int64_t deadline = util_monotonic_ms() + timeout_ms;
    pthread_mutex_lock(&l->mutex);
    while (l->query == NULL && util_monotonic_ms() < deadline) {
        util_cond_wait_ms(&l->cond, &l->mutex, deadline - util_monotonic_ms());
    }
    char *query = l->query;
    l->query = NULL;
    pthread_mutex_unlock(&l->mutex);
    return query;
}

void connect_loopback_answer(struct connect_loopback *l, int status, const char *title,
                             const char *text)
{
    char *page = oauth_consent_page(title, text);
    pthread_mutex_lock(&l->mutex);
    free(l->page);
    l->page = page;
    l->status = status;
    l->answered = true;
    pthread_cond_broadcast(&l->cond);
    int64_t deadline = util_monotonic_ms() + SENT_WAIT_MS;
    while (l->received && !l->sent && util_monotonic_ms() < deadline) {
        util_cond_wait_ms(&l->cond, &l->mutex, deadline - util_monotonic_ms());
    }
    pthread_mutex_unlock(&l->mutex);
}

void connect_loopback_stop(struct connect_loopback *l)
{
    if (l == NULL) {
        return;
    }
    if (l->mhd != NULL) {
        MHD_stop_daemon(l->mhd);
    }
    pthread_cond_destroy(&l->cond);
    pthread_mutex_destroy(&l->mutex);
    if (l->query != NULL) {
        explicit_bzero(l->query, strlen(l->query));
    }
    free(l->query);
    free(l->page);
    free(l);
}
