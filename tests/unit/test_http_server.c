/*
 * test_http_server.c - the HTTP layer in-process, with stand-in connector instances whose
 * plugins the test defines: what libmicrohttpd's threads refuse unread (a webhook without
 * any of its plugin's signature headers), the deadlines of work on the worker pools (a
 * callback past http.webhook_timeout), lanes (a slow instance never takes every worker),
 * and the connection budgets (per address, unauthenticated bytes, time to send a request),
 * plus admin_listen's split of the routes.
 *
 * The stand-in plugins emit nothing, so no database is needed: a request's work ends with
 * the callback.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "http_console.h"
#include "http_server.h"
#include "metrics.h"
#include "raw_http.h"
#include "testutil.h"
#include "util.h"

static atomic_int calls;      /* webhook callbacks that ran */
static atomic_int late_calls; /* slow callbacks that returned */
static int slow_ms = 3000;    /* how long the slow plugin's callback takes */

static lh_status_t quick_webhook(void *state, lh_ctx_t *ctx, const lh_webhook_request_t *request)
{
    (void)state;
    (void)ctx;
    (void)request;
    atomic_fetch_add(&calls, 1);
    return LH_OK;
}

static lh_status_t slow_webhook(void *state, lh_ctx_t *ctx, const lh_webhook_request_t *request)
{
    (void)state;
    (void)ctx;
    (void)request;
    atomic_fetch_add(&calls, 1);
    struct timespec pause = {slow_ms / 1000, (long)(slow_ms % 1000) * 1000000L};
    nanosleep(&pause, NULL);
    atomic_fetch_add(&late_calls, 1);
    return LH_OK;
}

static void destroy(void *state)
{
    (void)state;
}

static const lh_config_field_t no_settings[] = {LH_FIELD_END};
static const lh_plugin_t quick_descriptor = {
    LH_PLUGIN_HEADER,
    .kind = LH_KIND_SOURCE,
    .flags = LH_PLUGIN_REENTRANT,
    .name = "quick",
    .version = "1",
    .description = "answers at once",
    .config_schema = no_settings,
    .webhook = quick_webhook,
    .destroy = destroy,
};
static const lh_plugin_t slow_descriptor = {
    LH_PLUGIN_HEADER,
    .kind = LH_KIND_SOURCE,
    .name = "slow",
    .version = "1",
    .description = "answers late",
    .config_schema = no_settings,
    .webhook = slow_webhook,
    .destroy = destroy,
};
static const lh_plugin_t slow_reentrant_descriptor = {
    LH_PLUGIN_HEADER,
    .kind = LH_KIND_SOURCE,
    .flags = LH_PLUGIN_REENTRANT,
    .name = "slow_reentrant",
    .version = "1",
    .description = "answers late, in parallel",
    .config_schema = no_settings,
    .webhook = slow_webhook,
    .destroy = destroy,
};
static const char *const signature_headers[] = {"X-Test-Signature", "X-Test-Signature-V2", NULL};

#define INSTANCES 4
static struct plugin plugins[INSTANCES];
static struct config_instance config_instances[INSTANCES] = {
    {.name = "signed"}, {.name = "plain"}, {.name = "slow"}, {.name = "slow-reentrant"}};
static struct instance *instances[INSTANCES];
static struct config config;
static struct daemon hub;
static struct http_server *server;

/* A daemon with just what the HTTP layer reads, and these limits. */
static void start_with(void (*adjust)(struct config *))
{
    memset(&hub, 0, sizeof(hub));
    memset(&config, 0, sizeof(config));
    config.listen_host = "127.0.0.1";
    config.listen_port = 0;
    config.http_body_limit = 1024 * 1024;
    config.http_threads = 2;
    config.http_connection_limit = 1024;
    config.http_timeout_ms = 30000;
    config.http = (struct config_http_limits){
        .connections_per_address = 512,
        .request_timeout_ms = 10000,
        .unauthenticated_bytes = 32u << 20,
        .unauthenticated_bytes_per_address = 8u << 20,
        .webhook_timeout_ms = 800,
        .commit_timeout_ms = 5000,
        .api_timeout_ms = 20000,
        .webhook_workers = 4,
        .api_workers = 2,
    };
    if (adjust != NULL) {
        adjust(&config);
    }
    hub.config = &config;
    hub.metrics = metrics_create();
    hub.services.metrics = hub.metrics;
    hub.services.stopping = &hub.stopping;
    pthread_mutex_init(&hub.services.store_mutex, NULL);
    pthread_rwlock_init(&hub.instances_lock, NULL);
    pthread_rwlock_init(&hub.config_lock, NULL);
    atomic_init(&hub.stopping, false);

    plugins[0] = (struct plugin){.name = "quick",
                                 .path = "-",
                                 .desc = &quick_descriptor,
                                 .webhook_signature_headers = signature_headers};
    plugins[1] = (struct plugin){.name = "quick", .path = "-", .desc = &quick_descriptor};
    plugins[2] = (struct plugin){.name = "slow", .path = "-", .desc = &slow_descriptor};
    plugins[3] =
        (struct plugin){.name = "slow_reentrant", .path = "-", .desc = &slow_reentrant_descriptor};
    for (size_t i = 0; i < INSTANCES; i++) {
        instances[i] =
            instance_new(&config_instances[i], &plugins[i], json_object(), &hub.services);
        ck_assert_ptr_nonnull(instances[i]);
        atomic_store(&instances[i]->initialized, true);
    }
    hub.instances = instances;
    hub.instance_count = INSTANCES;
    atomic_init(&calls, 0);
    atomic_init(&late_calls, 0);
    char *error = NULL;
    server = http_server_start(&hub, &error);
    ck_assert_msg(server != NULL, "%s", error ? error : "?");
}

static void start_default(void)
{
    start_with(NULL);
}

static void stop(void)
{
    http_server_quiesce(server);
    http_server_stop(server, 10000);
    for (size_t i = 0; i < INSTANCES; i++) {
        instance_release(instances[i]);
    }
    metrics_free(hub.metrics);
}

/* Sends `head` (request line and headers) on a new connection and waits up to ms for an
 * answer; returns its status (0: none). The connection is left in *fd_out when not NULL. */
static int answer_to_head(const char *source, int port, const char *head, int64_t ms, int *fd_out)
{
    int fd = raw_connect(source, port);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(send(fd, head, strlen(head), MSG_NOSIGNAL), (ssize_t)strlen(head));
    char buffer[2048] = {0};
    size_t got = 0;
    int64_t until = util_monotonic_ms() + ms;
    while (got < sizeof(buffer) - 1 && strstr(buffer, "\r\n\r\n") == NULL) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int64_t left = until - util_monotonic_ms();
        if (left <= 0 || poll(&p, 1, (int)left) <= 0) {
            break;
        }
        ssize_t n = recv(fd, buffer + got, sizeof(buffer) - 1 - got, 0);
        if (n <= 0) {
            break;
        }
        got += (size_t)n;
    }
    if (fd_out != NULL) {
        *fd_out = fd;
    } else {
        close(fd);
    }
    return strncmp(buffer, "HTTP/1.1 ", 9) == 0 ? (int)strtol(buffer + 9, NULL, 10) : 0;
}

/* Waits up to ms for the server to close fd; true when it did. */
static bool closed_within(int fd, int64_t ms)
{
    int64_t until = util_monotonic_ms() + ms;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int64_t left = until - util_monotonic_ms();
        if (left <= 0 || poll(&p, 1, (int)left) <= 0) {
            return false;
        }
        char buffer[4096];
        ssize_t n = recv(fd, buffer, sizeof(buffer), MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN)) {
            return true;
        }
    }
}

static double refused(const char *reason)
{
    return metrics_get(hub.metrics, "leadhub_http_refused_total", "reason", reason, METRICS_END);
}

/* The clock counts a connection it shut just after shutting it: wait for the count. */
static bool refused_at_least(const char *reason, double n)
{
    int64_t until = util_monotonic_ms() + 3000;
    while (refused(reason) < n && util_monotonic_ms() < until) {
        struct timespec pause = {0, 20 * 1000000L};
        nanosleep(&pause, NULL);
    }
    return refused(reason) >= n;
}

/* --- early refusal: the plugin's signature headers (the host side of SDK 2.0's
 *     webhook_signature_headers) ---------------------------------------------------------- */

START_TEST(test_a_webhook_carrying_none_of_its_signature_headers_is_refused_before_its_body)
{
    /* 200 KiB announced, none sent: the answer comes without waiting for a byte of it */
    int port = http_server_port(server);
    int status = answer_to_head(NULL, port,
                                "POST /webhooks/signed HTTP/1.1\r\nHost: x\r\n"
                                "Content-Length: 204800\r\nX-Other: 1\r\n\r\n",
                                5000, NULL);
    ck_assert_int_eq(status, 401);
    ck_assert_int_eq(atomic_load(&calls), 0);
    ck_assert(refused("missing_signature") == 1);

    /* any one of the declared names will do (matched without regard to case) */
    status = answer_to_head(NULL, port,
                            "POST /webhooks/signed HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
                            "x-test-signature-v2: abc\r\n\r\n",
                            5000, NULL);
    ck_assert_int_eq(status, 200);
    ck_assert_int_eq(atomic_load(&calls), 1);
}
END_TEST

START_TEST(test_without_declared_signature_headers_nothing_is_refused_early)
{
    /* an ABI 1 plugin cannot declare them: its callback decides, as before */
    int status = answer_to_head(NULL, http_server_port(server),
                                "POST /webhooks/plain HTTP/1.1\r\nHost: x\r\n"
                                "Content-Length: 2\r\n\r\n{}",
                                5000, NULL);
    ck_assert_int_eq(status, 200);
    ck_assert_int_eq(atomic_load(&calls), 1);
    ck_assert(refused("missing_signature") == 0);
}
END_TEST

/* --- work off libmicrohttpd's threads, within deadlines -------------------------------- */

static int64_t healthz_ms(int port)
{
    int64_t started = util_monotonic_ms();
    int status = answer_to_head(NULL, port, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 5000, NULL);
    ck_assert_int_eq(status, 200);
    return util_monotonic_ms() - started;
}

struct slow_post {
    int port;
    const char *instance;
    int status;
    int64_t ms;
    pthread_t thread;
};

static void *post_slow(void *arg)
{
    struct slow_post *p = arg;
    char *head = util_printf("POST /webhooks/%s HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                             "\r\n{}",
                             p->instance);
    int64_t started = util_monotonic_ms();
    p->status = answer_to_head(NULL, p->port, head, 10000, NULL);
    p->ms = util_monotonic_ms() - started;
    free(head);
    return NULL;
}

START_TEST(test_a_callback_past_webhook_timeout_is_answered_503_and_its_result_dropped)
{
    /* the slow instance takes 3 s, webhook_timeout is 800 ms: 503 on time, while /healthz
     * and another instance's webhooks keep answering */
    int port = http_server_port(server);
    struct slow_post posts[3];
    for (size_t i = 0; i < 3; i++) {
        posts[i] = (struct slow_post){.port = port, .instance = "slow"};
        pthread_create(&posts[i].thread, NULL, post_slow, &posts[i]);
    }
    struct timespec pause = {0, 200 * 1000000L};
    nanosleep(&pause, NULL);
    for (int i = 0; i < 10; i++) {
        ck_assert_int_lt(healthz_ms(port), 200);
        ck_assert_int_eq(answer_to_head(NULL, port,
                                        "POST /webhooks/plain HTTP/1.1\r\nHost: x\r\n"
                                        "Content-Length: 2\r\n\r\n{}",
                                        2000, NULL),
                         200);
    }
    for (size_t i = 0; i < 3; i++) {
        pthread_join(posts[i].thread, NULL);
        ck_assert_int_eq(posts[i].status, 503);
        /* 800 ms and the clock's tick; generous for a loaded machine, well short of 3 s */
        ck_assert_msg(posts[i].ms < 2000, "answered after %lld ms", (long long)posts[i].ms);
    }
    /* the slow instance is not reentrant: one callback at a time, the others expired
     * waiting for it and never ran */
    ck_assert_int_eq(atomic_load(&late_calls), 0);
    ck_assert(refused("webhook_timeout") == 3);
    ck_assert(metrics_get(hub.metrics, "leadhub_webhook_requests_total", "instance", "slow",
                          "outcome", "timeout", METRICS_END) == 3);
}
END_TEST

/* A reentrant instance may run several callbacks at once, but never on every worker: with
 * four workers and six slow requests in flight, one worker stays for the others. */
START_TEST(test_a_slow_instance_never_takes_every_worker)
{
    int port = http_server_port(server);
    struct slow_post posts[6];
    for (size_t i = 0; i < 6; i++) {
        posts[i] = (struct slow_post){.port = port, .instance = "slow-reentrant"};
        pthread_create(&posts[i].thread, NULL, post_slow, &posts[i]);
    }
    struct timespec pause = {0, 300 * 1000000L};
    nanosleep(&pause, NULL);
    for (int i = 0; i < 5; i++) {
        int64_t started = util_monotonic_ms();
        ck_assert_int_eq(answer_to_head(NULL, port,
                                        "POST /webhooks/plain HTTP/1.1\r\nHost: x\r\n"
                                        "Content-Length: 2\r\n\r\n{}",
                                        2000, NULL),
                         200);
        ck_assert_int_lt(util_monotonic_ms() - started, 500);
    }
    for (size_t i = 0; i < 6; i++) {
        pthread_join(posts[i].thread, NULL);
        ck_assert_int_eq(posts[i].status, 503);
    }
}
END_TEST

/* --- connection budgets ---------------------------------------------------------------- */

static void small_budgets(struct config *c)
{
    c->http.connections_per_address = 4;
    c->http.unauthenticated_bytes = 1u << 20;
    c->http.unauthenticated_bytes_per_address = 100000;
    c->http_body_limit = 64 * 1024;
    c->http.request_timeout_ms = 500;
    c->http_timeout_ms = 1000;
}

static void start_small(void)
{
    start_with(small_budgets);
}

START_TEST(test_connections_past_the_per_address_limit_are_refused)
{
    int port = http_server_port(server);
    int held[4];
    for (int i = 0; i < 4; i++) {
        held[i] = raw_connect("127.0.0.1", port);
        ck_assert_int_ge(held[i], 0);
    }
    /* the fifth from 127.0.0.1 is closed at once; 127.0.0.2 is another address */
    int fifth = raw_connect("127.0.0.1", port);
    ck_assert_int_ge(fifth, 0);
    ck_assert(closed_within(fifth, 2000));
    close(fifth);
    ck_assert_int_eq(
        answer_to_head("127.0.0.2", port, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 2000, NULL),
        200);
    ck_assert(refused_at_least("connections_per_address", 1));
    for (int i = 0; i < 4; i++) {
        close(held[i]);
    }
}
END_TEST

START_TEST(test_unverified_bodies_past_the_budget_are_503_with_retry_after)
{
    int port = http_server_port(server);
    /* 60,000 bytes announced and not sent: reserved against this address's 100,000 */
    int holder = -1;
    ck_assert_int_eq(answer_to_head("127.0.0.1", port,
                                    "POST /webhooks/plain HTTP/1.1\r\nHost: x\r\n"
                                    "Content-Length: 60000\r\n\r\n",
                                    300, &holder),
                     0);
    /* another 60,000 from the same address would pass its share: refused unread */
    int status = answer_to_head("127.0.0.1", port,
                                "POST /webhooks/plain HTTP/1.1\r\nHost: x\r\n"
                                "Content-Length: 60000\r\n\r\n",
                                3000, NULL);
    ck_assert_int_eq(status, 503);
    ck_assert(refused("unauthenticated_per_address") == 1);
    /* another address has its own share */
    int other = -1;
    ck_assert_int_eq(answer_to_head("127.0.0.2", port,
                                    "POST /webhooks/plain HTTP/1.1\r\nHost: x\r\n"
                                    "Content-Length: 60000\r\n\r\n",
                                    300, &other),
                     0);
    close(other);
    close(holder);
}
END_TEST

START_TEST(test_a_request_not_received_whole_in_time_is_closed)
{
    /* a request line and one header, then nothing: request_timeout is 500 ms, and
     * libmicrohttpd's idle timeout alone would wait seconds */
    int port = http_server_port(server);
    int fd = raw_connect(NULL, port);
    ck_assert_int_ge(fd, 0);
    const char head[] = "POST /webhooks/plain HTTP/1.1\r\nHost: x\r\n";
    ck_assert_int_eq(send(fd, head, strlen(head), MSG_NOSIGNAL), (ssize_t)strlen(head));
    int64_t started = util_monotonic_ms();
    /* trickle a header line every 150 ms: activity does not extend the deadline */
    bool closed = false;
    while (!closed && util_monotonic_ms() - started < 5000) {
        closed = closed_within(fd, 150);
        if (!closed) {
            send(fd, "X-A: b\r\n", 8, MSG_NOSIGNAL);
        }
    }
    int64_t took = util_monotonic_ms() - started;
    close(fd);
    ck_assert(closed);
    ck_assert_msg(took >= 400 && took < 2500, "closed after %lld ms", (long long)took);
    ck_assert(refused_at_least("request_timeout", 1));
}
END_TEST

START_TEST(test_a_connection_with_no_request_is_closed_after_http_timeout)
{
    /* the request line itself trickled a byte at a time: http.timeout (1 s) ends it */
    int fd = raw_connect(NULL, http_server_port(server));
    ck_assert_int_ge(fd, 0);
    int64_t started = util_monotonic_ms();
    const char *line = "GET /healthz HTTP/1.1";
    bool closed = false;
    for (size_t i = 0; !closed && util_monotonic_ms() - started < 6000; i++) {
        closed = closed_within(fd, 150);
        if (!closed) {
            send(fd, line + (i % strlen(line)), 1, MSG_NOSIGNAL);
        }
    }
    int64_t took = util_monotonic_ms() - started;
    close(fd);
    ck_assert(closed);
    ck_assert_msg(took >= 800 && took < 3500, "closed after %lld ms", (long long)took);
}
END_TEST

/* --- admin_listen ------------------------------------------------------------------------ */

static void with_admin(struct config *c)
{
    c->admin_listen_host = "127.0.0.1";
    c->admin_listen_port = 0;
}

static void start_admin(void)
{
    start_with(with_admin);
}

static int status_of(int port, const char *request)
{
    return answer_to_head(NULL, port, request, 5000, NULL);
}

START_TEST(test_admin_listen_takes_metrics_and_the_api_off_the_public_port)
{
    int public = http_server_port(server);
    int admin = http_server_admin_port(server);
    ck_assert_int_gt(admin, 0);
    ck_assert_int_ne(admin, public);
    /* the public port: webhooks and /healthz only */
    ck_assert_int_eq(status_of(public, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"), 404);
    ck_assert_int_eq(status_of(public, "GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n"), 404);
    ck_assert_int_eq(status_of(public, "GET /v1/leads HTTP/1.1\r\nHost: x\r\n\r\n"), 404);
    ck_assert_int_eq(status_of(public, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"), 200);
    ck_assert_int_eq(status_of(public, "POST /webhooks/plain HTTP/1.1\r\nHost: x\r\n"
                                       "Content-Length: 2\r\n\r\n{}"),
                     200);
    /* the admin port: the rest, and no webhooks */
    ck_assert_int_eq(status_of(admin, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"), 200);
    ck_assert_int_eq(status_of(admin, "GET /v1/leads HTTP/1.1\r\nHost: x\r\n\r\n"), 401);
    ck_assert_int_eq(status_of(admin, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"), 200);
    ck_assert_int_eq(status_of(admin, "POST /webhooks/plain HTTP/1.1\r\nHost: x\r\n"
                                      "Content-Length: 2\r\n\r\n{}"),
                     404);
}
END_TEST

START_TEST(test_admin_listen_serves_the_console_beside_the_api)
{
    char *site = tu_tmpdir();
    tu_write_file(site, "index.html", "<!doctype html><title>console</title>");
    struct http_console *console = http_console_new();
    char *error = NULL;
    ck_assert_int_eq(http_console_load(console, site, &error), 1);
    hub.console = console;
    int public = http_server_port(server);
    int admin = http_server_admin_port(server);
    /* one origin with /v1: where the API is, and nowhere else */
    ck_assert_int_eq(status_of(admin, "GET /console/ HTTP/1.1\r\nHost: x\r\n\r\n"), 200);
    ck_assert_int_eq(status_of(public, "GET /console/ HTTP/1.1\r\nHost: x\r\n\r\n"), 404);
    ck_assert_int_eq(status_of(public, "GET /console HTTP/1.1\r\nHost: x\r\n\r\n"), 404);
    hub.console = NULL;
    http_console_free(console);
    tu_rmrf(site);
    free(site);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("http_server");
    TCase *seam = tcase_create("signature_headers");
    tcase_add_checked_fixture(seam, start_default, stop);
    tcase_set_timeout(seam, 30);
    tcase_add_test(
        seam, test_a_webhook_carrying_none_of_its_signature_headers_is_refused_before_its_body);
    tcase_add_test(seam, test_without_declared_signature_headers_nothing_is_refused_early);
    suite_add_tcase(s, seam);
    TCase *work = tcase_create("deadlines");
    tcase_add_checked_fixture(work, start_default, stop);
    tcase_set_timeout(work, 60);
    tcase_add_test(work,
                   test_a_callback_past_webhook_timeout_is_answered_503_and_its_result_dropped);
    tcase_add_test(work, test_a_slow_instance_never_takes_every_worker);
    suite_add_tcase(s, work);
    TCase *budgets = tcase_create("budgets");
    tcase_add_checked_fixture(budgets, start_small, stop);
    tcase_set_timeout(budgets, 60);
    tcase_add_test(budgets, test_connections_past_the_per_address_limit_are_refused);
    tcase_add_test(budgets, test_unverified_bodies_past_the_budget_are_503_with_retry_after);
    tcase_add_test(budgets, test_a_request_not_received_whole_in_time_is_closed);
    tcase_add_test(budgets, test_a_connection_with_no_request_is_closed_after_http_timeout);
    suite_add_tcase(s, budgets);
    TCase *admin = tcase_create("admin_listen");
    tcase_add_checked_fixture(admin, start_admin, stop);
    tcase_set_timeout(admin, 30);
    tcase_add_test(admin, test_admin_listen_takes_metrics_and_the_api_off_the_public_port);
    tcase_add_test(admin, test_admin_listen_serves_the_console_beside_the_api);
    suite_add_tcase(s, admin);
    return tu_run_suite(s);
}
