/*
 * bench_receiver.c - the delivery benchmark's destination: libmicrohttpd on 127.0.0.1
 * (epoll, a small thread pool), answering every request 200 {} the moment its body is
 * in, counting requests. Nothing is checked or kept: its own rate for direct posts is the
 * baseline the http sink is compared with.
 */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "loadgen.h"

struct bench_receiver {
    struct MHD_Daemon *mhd;
    struct MHD_Response *answer; /* shared, never changes */
    int port;
    atomic_ullong count;
    atomic_llong first_us;
    atomic_llong last_us;
};

static enum MHD_Result on_request(void *cls, struct MHD_Connection *connection, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)url;
    (void)method;
    (void)version;
    (void)upload_data;
    struct bench_receiver *r = cls;
    if (*con_cls == NULL) {
        *con_cls = r; /* first call: headers only */
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        *upload_data_size = 0; /* read and dropped */
        return MHD_YES;
    }
    int64_t now = loadgen_now_us();
    long long unset = 0;
    atomic_compare_exchange_strong(&r->first_us, &unset, now);
    atomic_store(&r->last_us, now);
    atomic_fetch_add(&r->count, 1);
    return MHD_queue_response(connection, MHD_HTTP_OK, r->answer);
}

struct bench_receiver *bench_receiver_start(unsigned threads)
{
    struct bench_receiver *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        return NULL;
    }
    static const char body[] = "{}";
    r->answer = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
    if (r->answer == NULL) {
        free(r);
        return NULL;
    }
    MHD_add_response_header(r->answer, "Content-Type", "application/json");
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = 0};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    r->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, 0, NULL, NULL,
                              on_request, r, MHD_OPTION_SOCK_ADDR, &address,
                              MHD_OPTION_THREAD_POOL_SIZE, threads > 1 ? threads : 0,
                              MHD_OPTION_CONNECTION_LIMIT, 1000, MHD_OPTION_END);
    if (r->mhd == NULL) {
        MHD_destroy_response(r->answer);
        free(r);
        return NULL;
    }
    r->port = MHD_get_daemon_info(r->mhd, MHD_DAEMON_INFO_BIND_PORT)->port;
    return r;
}

int bench_receiver_port(const struct bench_receiver *r)
{
    return r->port;
}

uint64_t bench_receiver_count(struct bench_receiver *r, int64_t *first_us, int64_t *last_us)
{
    if (first_us != NULL) {
        *first_us = atomic_load(&r->first_us);
    }
    if (last_us != NULL) {
        *last_us = atomic_load(&r->last_us);
    }
    return atomic_load(&r->count);
}

void bench_receiver_reset(struct bench_receiver *r)
{
    atomic_store(&r->count, 0);
    atomic_store(&r->first_us, 0);
    atomic_store(&r->last_us, 0);
}

void bench_receiver_stop(struct bench_receiver *r)
{
    if (r == NULL) {
        return;
    }
    MHD_stop_daemon(r->mhd);
    MHD_destroy_response(r->answer);
    free(r);
}
