/* http_guard.c - per-connection budgets: addresses, unauthenticated bytes, deadlines. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http_guard.h"
#include "util.h"

#define GUARD_BUCKETS      4096
#define GUARD_LINGER_MAX   256          /* sockets lingering at once */
#define GUARD_LINGER_MS    1000         /* the longest one lingers */
#define GUARD_LINGER_BYTES (256u << 10) /* the most read from one: a moment, not a body */
#define GUARD_LINGER_TICK                                                                          \
    (1u << 20) /* the most read from all of them per tick: under a                                 \
                  flood of refused bodies, reading stays cheap */

/* One source address: its connections and reserved bytes; freed when both are zero. */
struct http_guard_address {
    uint8_t key[16]; /* IPv6, or IPv4 mapped into it */
    unsigned connections;
    size_t reserved;
    struct http_guard_address *next; /* bucket chain */
};

struct http_guard_conn {
    struct http_guard_address *address;
    int fd;
    enum http_guard_phase phase;
    int64_t since_ms;
    bool shut; /* a deadline shut it down */
    struct http_guard_conn *prev, *next;
};

struct lingering_socket {
    int fd;
    int64_t until_ms;
    size_t read;
};

struct http_guard {
    struct http_guard_limits limits;
    pthread_mutex_t mutex;
    struct http_guard_address *buckets[GUARD_BUCKETS];
    struct http_guard_conn *conns; /* every open connection */
    size_t conn_count;
    size_t reserved; /* unauthenticated bytes, all addresses */
    struct lingering_socket lingering[GUARD_LINGER_MAX];
    size_t linger_count;
};

/* The 16-byte key of an address; false for other families. */
static bool address_key(const struct sockaddr *addr, uint8_t key[16])
{
    memset(key, 0, 16);
    if (addr == NULL) {
        return false;
    }
    if (addr->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)addr;
        key[10] = key[11] = 0xff;
        memcpy(key + 12, &in->sin_addr, 4);
        return true;
    }
    if (addr->sa_family == AF_INET6) {
        memcpy(key, &((const struct sockaddr_in6 *)(const void *)addr)->sin6_addr, 16);
        return true;
    }
    return false;
}

static size_t bucket_of(const uint8_t key[16])
{
    uint64_t h = 1469598103934665603ULL;
    for (int i = 0; i < 16; i++) {
        h = (h ^ key[i]) * 1099511628211ULL;
    }
    return (size_t)(h % GUARD_BUCKETS);
}

/* The address's entry; created when `create` (NULL when out of memory). Mutex held. */
static struct http_guard_address *address_get(struct http_guard *guard, const uint8_t key[16],
                                              bool create)
{
    size_t b = bucket_of(key);
    for (struct http_guard_address *a = guard->buckets[b]; a != NULL; a = a->next) {
        if (memcmp(a->key, key, 16) == 0) {
            return a;
        }
    }
    if (!create) {
        return NULL;
    }
    struct http_guard_address *a = calloc(1, sizeof(*a));
    if (a != NULL) {
        memcpy(a->key, key, 16);
        a->next = guard->buckets[b];
        guard->buckets[b] = a;
    }
    return a;
}

/* Frees the entry once nothing is counted on it. Mutex held. */
static void address_put(struct http_guard *guard, struct http_guard_address *address)
{
    if (address->connections > 0 || address->reserved > 0) {
        return;
    }
    size_t b = bucket_of(address->key);
    for (struct http_guard_address **link = &guard->buckets[b]; *link != NULL;
         link = &(*link)->next) {
        if (*link == address) {
            *link = address->next;
            free(address);
            return;
        }
    }
}

struct http_guard *http_guard_create(const struct http_guard_limits *limits)
{
    struct http_guard *guard = calloc(1, sizeof(*guard));
    if (guard == NULL) {
        return NULL;
    }
    guard->limits = *limits;
    pthread_mutex_init(&guard->mutex, NULL);
    return guard;
}

void http_guard_free(struct http_guard *guard)
{
    if (guard == NULL) {
        return;
    }
    for (size_t i = 0; i < guard->linger_count; i++) {
        close(guard->lingering[i].fd);
    }
    for (size_t b = 0; b < GUARD_BUCKETS; b++) {
        while (guard->buckets[b] != NULL) {
            struct http_guard_address *next = guard->buckets[b]->next;
            free(guard->buckets[b]);
            guard->buckets[b] = next;
        }
    }
    while (guard->conns != NULL) {
        struct http_guard_conn *next = guard->conns->next;
        free(guard->conns);
        guard->conns = next;
    }
    pthread_mutex_destroy(&guard->mutex);
    free(guard);
}

bool http_guard_admit(struct http_guard *guard, const struct sockaddr *addr)
{
    uint8_t key[16];
    if (guard->limits.connections_per_address == 0 || !address_key(addr, key)) {
        return true;
    }
    pthread_mutex_lock(&guard->mutex);
    const struct http_guard_address *a = address_get(guard, key, false);
    bool room = a == NULL || a->connections < guard->limits.connections_per_address;
    pthread_mutex_unlock(&guard->mutex);
    return room;
}

struct http_guard_conn *http_guard_open(struct http_guard *guard, const struct sockaddr *addr,
                                        int fd, const char **refused_out)
{
    *refused_out = NULL;
    uint8_t key[16];
    address_key(addr, key); /* another family shares the all-zero key */
    struct http_guard_conn *conn = calloc(1, sizeof(*conn));
    pthread_mutex_lock(&guard->mutex);
    struct http_guard_address *a = conn != NULL ? address_get(guard, key, true) : NULL;
    if (a == NULL) {
        *refused_out = "out_of_memory";
    } else if (guard->limits.connections_per_address > 0 &&
               a->connections >= guard->limits.connections_per_address) {
        *refused_out = "per_address";
        address_put(guard, a);
    }
    if (*refused_out != NULL) {
        pthread_mutex_unlock(&guard->mutex);
        free(conn);
        shutdown(fd, SHUT_RDWR); /* libmicrohttpd sees the end and closes it */
        return NULL;
    }
    a->connections++;
    conn->address = a;
    conn->fd = fd;
    conn->phase = HTTP_GUARD_IDLE;
    conn->since_ms = util_monotonic_ms();
    conn->next = guard->conns;
    if (guard->conns != NULL) {
        guard->conns->prev = conn;
    }
    guard->conns = conn;
    guard->conn_count++;
    pthread_mutex_unlock(&guard->mutex);
    return conn;
}

void http_guard_close(struct http_guard *guard, struct http_guard_conn *conn)
{
    if (conn == NULL) {
        return;
    }
    pthread_mutex_lock(&guard->mutex);
    if (conn->prev != NULL) {
        conn->prev->next = conn->next;
    } else {
        guard->conns = conn->next;
    }
    if (conn->next != NULL) {
        conn->next->prev = conn->prev;
    }
    guard->conn_count--;
    conn->address->connections--;
    address_put(guard, conn->address);
    pthread_mutex_unlock(&guard->mutex);
    free(conn);
}

void http_guard_phase(struct http_guard *guard, struct http_guard_conn *conn,
                      enum http_guard_phase phase)
{
    if (conn == NULL) {
        return;
    }
    pthread_mutex_lock(&guard->mutex);
    conn->phase = phase;
    conn->since_ms = util_monotonic_ms();
    pthread_mutex_unlock(&guard->mutex);
}

int http_guard_reserve(struct http_guard *guard, struct http_guard_conn *conn, size_t bytes,
                       struct http_reservation *reservation)
{
    if (conn == NULL) {
        return -2;
    }
    int rc = 0;
    pthread_mutex_lock(&guard->mutex);
    struct http_guard_address *a = conn->address;
    if ((reservation->address != NULL && reservation->address != a) /* cannot happen */ ||
        a->reserved + bytes > guard->limits.unauthenticated_bytes_per_address) {
        rc = -1;
    } else if (guard->reserved + bytes > guard->limits.unauthenticated_bytes) {
        rc = -2;
    } else {
        a->reserved += bytes;
        guard->reserved += bytes;
        reservation->address = a;
        reservation->bytes += bytes;
    }
    pthread_mutex_unlock(&guard->mutex);
    return rc;
}

void http_guard_release(struct http_guard *guard, struct http_reservation *reservation)
{
    if (reservation->address == NULL) {
        return;
    }
    pthread_mutex_lock(&guard->mutex);
    reservation->address->reserved -= reservation->bytes;
    guard->reserved -= reservation->bytes;
    address_put(guard, reservation->address);
    pthread_mutex_unlock(&guard->mutex);
    reservation->address = NULL;
    reservation->bytes = 0;
}

size_t http_guard_unauthenticated(struct http_guard *guard)
{
    pthread_mutex_lock(&guard->mutex);
    size_t n = guard->reserved;
    pthread_mutex_unlock(&guard->mutex);
    return n;
}

size_t http_guard_connections(struct http_guard *guard)
{
    pthread_mutex_lock(&guard->mutex);
    size_t n = guard->conn_count;
    pthread_mutex_unlock(&guard->mutex);
    return n;
}

void http_guard_linger(struct http_guard *guard, int fd)
{
    pthread_mutex_lock(&guard->mutex);
    if (guard->linger_count < GUARD_LINGER_MAX) {
        int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
        if (copy >= 0) {
            fcntl(copy, F_SETFL, fcntl(copy, F_GETFL) | O_NONBLOCK);
            guard->lingering[guard->linger_count++] =
                (struct lingering_socket){copy, util_monotonic_ms() + GUARD_LINGER_MS, 0};
        }
    }
    pthread_mutex_unlock(&guard->mutex);
}

/* Reads what is there, within *budget; true when the socket is done (end, error, deadline,
 * enough). */
static bool drain(struct lingering_socket *l, int64_t now, size_t *budget)
{
    char sink[16384];
    for (int i = 0; i < 8 && *budget > 0; i++) {
        ssize_t n = recv(l->fd, sink, *budget < sizeof(sink) ? *budget : sizeof(sink), 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            return true;
        }
        if (n < 0) {
            break;
        }
        l->read += (size_t)n;
        *budget -= (size_t)n;
    }
    return now >= l->until_ms || l->read >= GUARD_LINGER_BYTES;
}

static int64_t deadline_of(const struct http_guard *guard, const struct http_guard_conn *conn)
{
    switch (conn->phase) {
    case HTTP_GUARD_IDLE:
        return guard->limits.idle_timeout_ms > 0 ? conn->since_ms + guard->limits.idle_timeout_ms
                                                 : INT64_MAX;
    case HTTP_GUARD_RECEIVING:
    case HTTP_GUARD_SENDING:
        return guard->limits.request_timeout_ms > 0
                   ? conn->since_ms + guard->limits.request_timeout_ms
                   : INT64_MAX;
    case HTTP_GUARD_WAITING:
        break;
    }
    return INT64_MAX;
}

unsigned http_guard_tick(struct http_guard *guard, int64_t now_ms)
{
    unsigned shut = 0;
    pthread_mutex_lock(&guard->mutex);
    for (struct http_guard_conn *c = guard->conns; c != NULL; c = c->next) {
        if (!c->shut && now_ms >= deadline_of(guard, c)) {
            /* under the mutex: the record (and so the descriptor) cannot go meanwhile */
            shutdown(c->fd, SHUT_RDWR);
            c->shut = true;
            shut++;
        }
    }
    size_t budget = GUARD_LINGER_TICK;
    for (size_t i = 0; i < guard->linger_count;) {
        if (drain(&guard->lingering[i], now_ms, &budget)) {
            close(guard->lingering[i].fd);
            guard->lingering[i] = guard->lingering[--guard->linger_count];
        } else {
            i++;
        }
    }
    pthread_mutex_unlock(&guard->mutex);
    return shut;
}
