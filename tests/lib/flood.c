/* flood.c - hostile clients and a prober (see flood.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "flood.h"
#include "raw_http.h"
#include "util.h"

#define REFUSED_WITHIN_US 100000

enum state { FREE, CONNECTING, SENDING, WAITING };

struct conn {
    int fd;
    enum state state;
    int64_t opened_us;
    size_t sent;
    int64_t next_trickle_us;
    unsigned trickles;
    char answer[16];
    size_t answer_len;
};

struct flood {
    const struct flood_options *o;
    struct flood_result *r;
    int epoll_fd;
    struct conn *conns;
    char *request; /* the whole request (FLOOD_BODIES), or the head (FLOOD_SLOWLORIS) */
    size_t request_len;
    struct sockaddr_in to;
    struct sockaddr_in from;
    size_t lifetime_capacity;
};

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void flood_raise_fd_limit(void)
{
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &limit);
    }
}

static void record_lifetime(struct flood *f, int64_t ms)
{
    struct flood_result *r = f->r;
    if (r->lifetime_count == f->lifetime_capacity) {
        size_t capacity = f->lifetime_capacity ? f->lifetime_capacity * 2 : 256;
        int64_t *grown = realloc(r->lifetimes_ms, capacity * sizeof(*grown));
        if (grown == NULL) {
            return;
        }
        r->lifetimes_ms = grown;
        f->lifetime_capacity = capacity;
    }
    r->lifetimes_ms[r->lifetime_count++] = ms;
}

static void conn_open(struct flood *f, struct conn *c)
{
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        f->r->refused++;
        c->state = FREE;
        return;
    }
    if (f->o->source != NULL && bind(c->fd, (struct sockaddr *)&f->from, sizeof(f->from)) != 0) {
        close(c->fd);
        f->r->refused++;
        c->state = FREE;
        return;
    }
    c->opened_us = now_us();
    c->sent = 0;
    c->trickles = 0;
    c->answer_len = 0;
    int rc = connect(c->fd, (struct sockaddr *)&f->to, sizeof(f->to));
    if (rc != 0 && errno != EINPROGRESS) {
        close(c->fd);
        f->r->refused++;
        c->state = FREE;
        return;
    }
    c->state = CONNECTING;
    struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN | EPOLLRDHUP, .data.ptr = c};
    epoll_ctl(f->epoll_fd, EPOLL_CTL_ADD, c->fd, &ev);
}

/* The connection ended; answered: whether an HTTP answer came on it. */
static void conn_end(struct flood *f, struct conn *c, bool by_server)
{
    int64_t lived_us = now_us() - c->opened_us;
    if (c->answer_len == 0 && by_server) {
        if (lived_us < REFUSED_WITHIN_US) {
            f->r->refused++;
        } else {
            f->r->closed_by_server++;
            if (f->o->kind == FLOOD_SLOWLORIS) {
                record_lifetime(f, lived_us / 1000);
            }
        }
    }
    epoll_ctl(f->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    c->state = FREE;
    if (f->o->reconnect) {
        conn_open(f, c);
    }
}

/* Sends what is due; false when the connection broke. */
static bool conn_send(struct flood *f, struct conn *c, int64_t now)
{
    if (f->o->kind == FLOOD_BODIES) {
        while (c->sent < f->request_len) {
            ssize_t n = send(c->fd, f->request + c->sent, f->request_len - c->sent,
                             MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n < 0) {
                return errno == EAGAIN;
            }
            c->sent += (size_t)n;
            f->r->bytes_sent += (uint64_t)n;
        }
        c->state = WAITING;
        return true;
    }
    /* slowloris: the head at once, then a line now and then */
    if (c->sent == 0) {
        ssize_t n = send(c->fd, f->request, f->request_len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n <= 0) {
            return n < 0 && errno == EAGAIN;
        }
        c->sent = (size_t)n;
        c->next_trickle_us = now + f->o->trickle_ms * 1000;
        c->state = WAITING;
        return true;
    }
    if (now >= c->next_trickle_us) {
        char line[32];
        int len = snprintf(line, sizeof(line), "X-Slow-%u: 1\r\n", c->trickles++);
        if (send(c->fd, line, (size_t)len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 && errno != EAGAIN) {
            return false;
        }
        c->next_trickle_us = now + f->o->trickle_ms * 1000;
    }
    return true;
}

/* Reads what came; true when the connection should end (an answer, or the end). */
static bool conn_read(struct flood *f, struct conn *c, bool *by_server)
{
    char buffer[16384];
    for (;;) {
        ssize_t n = recv(c->fd, buffer, sizeof(buffer), MSG_DONTWAIT);
        if (n > 0) {
            if (c->answer_len == 0) {
                size_t take = (size_t)n < sizeof(c->answer) - 1 ? (size_t)n : sizeof(c->answer) - 1;
                memcpy(c->answer, buffer, take);
                c->answer[take] = '\0';
                c->answer_len = take;
                if (strncmp(c->answer, "HTTP/1.", 7) == 0 && take >= 12) {
                    int status = (int)strtol(c->answer + 9, NULL, 10);
                    f->r->answered++;
                    f->r->answers_503 += status == 503;
                    f->r->answers_other += status != 503 && status != 401 && status != 413;
                }
            }
            continue;
        }
        if (n == 0 || errno != EAGAIN) {
            *by_server = true;
            return true;
        }
        /* an answer is enough: no need to wait for the close */
        return c->answer_len > 0;
    }
}

int flood_run(const struct flood_options *o, atomic_bool *stop, struct flood_result *r)
{
    memset(r, 0, sizeof(*r));
    struct flood f = {.o = o, .r = r, .lifetime_capacity = 0};
    f.to = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons((uint16_t)o->port)};
    f.to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    f.from = (struct sockaddr_in){.sin_family = AF_INET};
    if (o->source != NULL) {
        inet_pton(AF_INET, o->source, &f.from.sin_addr);
    }
    if (o->kind == FLOOD_BODIES) {
        char *head = util_printf("%s\r\nContent-Length: %zu\r\n\r\n", o->head, o->body_size);
        f.request_len = strlen(head) + o->body_size;
        f.request = malloc(f.request_len);
        if (head == NULL || f.request == NULL) {
            free(head);
            free(f.request);
            snprintf(r->error, sizeof(r->error), "out of memory");
            return -1;
        }
        memcpy(f.request, head, strlen(head));
        memset(f.request + strlen(head), 'x', o->body_size);
        free(head);
    } else {
        f.request = util_printf("%s\r\n", o->head);
        f.request_len = f.request != NULL ? strlen(f.request) : 0;
    }
    f.conns = calloc(o->connections, sizeof(*f.conns));
    f.epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (f.conns == NULL || f.epoll_fd < 0 || f.request == NULL) {
        snprintf(r->error, sizeof(r->error), "cannot start: %s", strerror(errno));
        free(f.conns);
        free(f.request);
        return -1;
    }
    for (unsigned i = 0; i < o->connections; i++) {
        f.conns[i].fd = -1;
        conn_open(&f, &f.conns[i]);
    }
    int64_t until = now_us() + o->duration_ms * 1000;
    int64_t next_tick = 0;
    struct epoll_event events[256];
    while (now_us() < until && (stop == NULL || !atomic_load(stop))) {
        int n = epoll_wait(f.epoll_fd, events, 256, 10);
        int64_t now = now_us();
        for (int i = 0; i < n; i++) {
            struct conn *c = events[i].data.ptr;
            if (c->state == FREE) {
                continue;
            }
            if (c->state == CONNECTING && (events[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
                int error = 0;
                socklen_t len = sizeof(error);
                getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &error, &len);
                if (error != 0) {
                    conn_end(&f, c, true);
                    continue;
                }
                r->opened++;
                c->state = SENDING;
                struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP |
                                                   (o->kind == FLOOD_BODIES ? EPOLLOUT : 0),
                                         .data.ptr = c};
                epoll_ctl(f.epoll_fd, EPOLL_CTL_MOD, c->fd, &ev);
            }
            bool by_server = false;
            if ((events[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) &&
                conn_read(&f, c, &by_server)) {
                conn_end(&f, c, by_server);
                continue;
            }
            if (c->state == SENDING && (events[i].events & EPOLLOUT) && !conn_send(&f, c, now)) {
                conn_end(&f, c, true);
                continue;
            }
            if (c->state == WAITING && o->kind == FLOOD_BODIES) {
                struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
                epoll_ctl(f.epoll_fd, EPOLL_CTL_MOD, c->fd, &ev);
            }
        }
        if (!o->reconnect) {
            bool active = false;
            for (unsigned i = 0; i < o->connections && !active; i++) {
                active = f.conns[i].state != FREE;
            }
            if (!active) {
                break; /* every connection has had its turn */
            }
        }
        if (o->kind == FLOOD_SLOWLORIS && now >= next_tick) {
            next_tick = now + 50000;
            for (unsigned i = 0; i < o->connections; i++) {
                struct conn *c = &f.conns[i];
                if ((c->state == SENDING || c->state == WAITING) && !conn_send(&f, c, now)) {
                    conn_end(&f, c, true);
                }
            }
        }
    }
    for (unsigned i = 0; i < o->connections; i++) {
        if (f.conns[i].state != FREE) {
            r->still_open += f.conns[i].state != CONNECTING;
            close(f.conns[i].fd);
        }
    }
    close(f.epoll_fd);
    free(f.conns);
    free(f.request);
    return 0;
}

void flood_result_free(struct flood_result *r)
{
    free(r->lifetimes_ms);
    r->lifetimes_ms = NULL;
}

/* --- the prober ---------------------------------------------------------------------------- */

static void probe_record(struct prober *p, int status, int64_t latency_us)
{
    pthread_mutex_lock(&p->mutex);
    if (p->count == p->capacity) {
        size_t capacity = p->capacity ? p->capacity * 2 : 512;
        int64_t *l = realloc(p->latencies_us, capacity * sizeof(*l));
        int *s = realloc(p->statuses, capacity * sizeof(*s));
        if (l != NULL) {
            p->latencies_us = l;
        }
        if (s != NULL) {
            p->statuses = s;
        }
        if (l != NULL && s != NULL) {
            p->capacity = capacity;
        }
    }
    if (p->count < p->capacity) {
        p->latencies_us[p->count] = latency_us;
        p->statuses[p->count] = status;
        p->count++;
    }
    pthread_mutex_unlock(&p->mutex);
}

static void *prober_main(void *arg)
{
    struct prober *p = arg;
    while (!atomic_load(&p->stop)) {
        int64_t started = now_us();
        char *request = p->request != NULL
                            ? p->request(p->request_arg)
                            : strdup("GET /healthz HTTP/1.1\r\nHost: probe\r\nConnection: "
                                     "close\r\n\r\n");
        int fd = raw_connect(p->source, p->port);
        int status = 0;
        if (fd >= 0 && request != NULL) {
            struct timeval timeout = {5, 0};
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            if (send(fd, request, strlen(request), MSG_NOSIGNAL) == (ssize_t)strlen(request)) {
                char buffer[4096];
                size_t got = 0;
                for (;;) {
                    ssize_t n = recv(fd, buffer + got, sizeof(buffer) - 1 - got, 0);
                    if (n <= 0) {
                        break;
                    }
                    got += (size_t)n;
                    buffer[got] = '\0';
                    const char *blank = strstr(buffer, "\r\n\r\n");
                    const char *length = strcasestr(buffer, "\r\nContent-Length:");
                    if (blank != NULL && length != NULL && length < blank &&
                        got >= (size_t)(blank - buffer) + 4 + strtoul(length + 17, NULL, 10)) {
                        break;
                    }
                    if (got >= sizeof(buffer) - 1) {
                        break;
                    }
                }
                if (got > 12 && strncmp(buffer, "HTTP/1.", 7) == 0) {
                    status = (int)strtol(buffer + 9, NULL, 10);
                }
            }
        }
        if (fd >= 0) {
            close(fd);
        }
        free(request);
        if (status != 0) {
            probe_record(p, status, now_us() - started);
        } else {
            pthread_mutex_lock(&p->mutex);
            p->unanswered++;
            pthread_mutex_unlock(&p->mutex);
        }
        int64_t left = p->interval_ms * 1000 - (now_us() - started);
        if (left > 0) {
            struct timespec pause = {(time_t)(left / 1000000), (long)(left % 1000000) * 1000};
            nanosleep(&pause, NULL);
        }
    }
    return NULL;
}

void prober_start(struct prober *p)
{
    atomic_init(&p->stop, false);
    pthread_mutex_init(&p->mutex, NULL);
    p->latencies_us = NULL;
    p->statuses = NULL;
    p->count = p->capacity = 0;
    p->unanswered = 0;
    pthread_create(&p->thread, NULL, prober_main, p);
}

void prober_stop(struct prober *p)
{
    atomic_store(&p->stop, true);
    pthread_join(p->thread, NULL);
}

static int compare_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

double prober_percentile_ms(struct prober *p, int status, double q, size_t *count_out)
{
    pthread_mutex_lock(&p->mutex);
    int64_t *picked = malloc((p->count + 1) * sizeof(*picked));
    size_t n = 0;
    for (size_t i = 0; picked != NULL && i < p->count; i++) {
        if (status == 0 || p->statuses[i] == status) {
            picked[n++] = p->latencies_us[i];
        }
    }
    pthread_mutex_unlock(&p->mutex);
    if (count_out != NULL) {
        *count_out = n;
    }
    if (n == 0) {
        free(picked);
        return -1;
    }
    qsort(picked, n, sizeof(*picked), compare_i64);
    size_t index = (size_t)(q * (double)(n - 1) + 0.5);
    double ms = (double)picked[index] / 1000.0;
    free(picked);
    return ms;
}

size_t prober_count_outside(struct prober *p, int low, int high)
{
    pthread_mutex_lock(&p->mutex);
    size_t n = 0;
    for (size_t i = 0; i < p->count; i++) {
        n += p->statuses[i] < low || p->statuses[i] > high;
    }
    pthread_mutex_unlock(&p->mutex);
    return n;
}

void prober_free(struct prober *p)
{
    free(p->latencies_us);
    free(p->statuses);
    pthread_mutex_destroy(&p->mutex);
}
