/* loadgen.c - see loadgen.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "crypto.h"
#include "leadhub.h"
#include "loadgen.h"
#include "util.h"

#define DEFAULT_TIMEOUT_MS   30000
#define DEFAULT_RECONNECT_MS 20
#define RESPONSE_MAX         (64 * 1024)

enum conn_state {
    CONN_DOWN,       /* no socket; (re)connect at reconnect_at */
    CONN_CONNECTING, /* non-blocking connect in progress */
    CONN_IDLE,       /* connected, no request */
    CONN_SENDING,
    CONN_READING,
};

struct conn {
    int fd;
    enum conn_state state;
    int64_t reconnect_at_us;
    struct strbuf out; /* the request being sent */
    size_t out_sent;
    char *in; /* the answer so far */
    size_t in_len;
    size_t in_capacity;
    uint64_t *events; /* the request's event numbers */
    size_t event_count;
    int64_t sent_us;
};

/* A stack of event numbers waiting to be sent again. */
struct event_stack {
    uint64_t *items;
    size_t count;
    size_t capacity;
};

struct run {
    const struct loadgen_options *options;
    struct loadgen_result *result;
    struct sockaddr_in address;
    char host_header[80]; /* "host:port" */
    int epoll_fd;
    struct conn *conns;
    uint64_t next_new;         /* next never-sent event */
    struct event_stack resend; /* failed events to send again */
    uint64_t acked_events;     /* distinct events acknowledged (with max_events) */
    uint64_t abandoned_events; /* refused for good (4xx): never acknowledged, not resent */
    int64_t started_us;
    int64_t window_start_us;
    int64_t stop_sending_us; /* 0: no time limit */
    bool sending_stopped;
    uint32_t *latencies_us; /* 2xx answers in the window */
    size_t latency_count;
    size_t latency_capacity;
};

int64_t loadgen_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* n in decimal; the generator formats by hand, since its CPU is the daemon's too (they
 * share the machine) and printf would be most of it. */
static void append_u64(struct strbuf *sb, uint64_t n)
{
    char digits[24];
    char *p = digits + sizeof(digits);
    do {
        *--p = (char)('0' + n % 10);
        n /= 10;
    } while (n > 0);
    strbuf_append_len(sb, p, (size_t)(digits + sizeof(digits) - p));
}

static void append_event(struct strbuf *sb, const char *id_prefix, uint64_t n)
{
    /* a second apart from 2026-11-27T10:00:00Z: distinct times, as real events have (a
     * table full of one timestamp makes its time indexes one long list of duplicates) */
    int64_t at_ms = (1795773600 + (int64_t)(n % (10 * 365 * 86400ULL))) * 1000;
    char occurred_at[32];
    util_format_rfc3339(at_ms, occurred_at);
    strbuf_append(sb, "{\"type\":\"lead.created\",\"source_id\":\"");
    strbuf_append(sb, id_prefix);
    strbuf_append(sb, "-");
    append_u64(sb, n);
    strbuf_append(sb, "\",\"occurred_at\":\"");
    strbuf_append(sb, occurred_at);
    strbuf_append(sb, "\",\"lead\":{\"email\":\"");
    strbuf_append(sb, id_prefix);
    strbuf_append(sb, "-");
    append_u64(sb, n);
    strbuf_append(sb, "@bench.example\",\"first_name\":\"Ada\",\"last_name\":\"Lovelace\","
                      "\"company\":\"Analytical Engines\"}}");
}

char *loadgen_event_json(const char *id_prefix, uint64_t n)
{
    struct strbuf sb = {0};
    append_event(&sb, id_prefix, n);
    return strbuf_take(&sb);
}

static int stack_push(struct event_stack *stack, uint64_t value)
{
    if (stack->count == stack->capacity) {
        size_t capacity = stack->capacity ? stack->capacity * 2 : 256;
        uint64_t *items = realloc(stack->items, capacity * sizeof(*items));
        if (items == NULL) {
            return -1;
        }
        stack->items = items;
        stack->capacity = capacity;
    }
    stack->items[stack->count++] = value;
    return 0;
}

/* Picks up to events_per_request events for conn: resends first, then new ones. */
static bool finishing(const struct run *run)
{
    return run->options->finish != NULL && atomic_load(run->options->finish);
}

/* New events may still be started. */
static bool new_events_left(const struct run *run)
{
    const struct loadgen_options *o = run->options;
    return !finishing(run) && (o->max_events == 0 || run->next_new < o->max_events);
}

/* Picks up to events_per_request events for conn: resends first, then new ones. */
static size_t take_events(struct run *run, struct conn *conn)
{
    const struct loadgen_options *o = run->options;
    size_t want = o->events_per_request > 0 ? o->events_per_request : 1;
    conn->event_count = 0;
    while (conn->event_count < want) {
        if (run->resend.count > 0) {
            conn->events[conn->event_count++] = run->resend.items[--run->resend.count];
            run->result->events_resent++;
        } else if (new_events_left(run)) {
            conn->events[conn->event_count++] = run->next_new++;
        } else {
            break;
        }
    }
    return conn->event_count;
}

static int build_request(struct run *run, struct conn *conn)
{
    const struct loadgen_options *o = run->options;
    /* the signed text "<timestamp>.<body>", and the body is the rest of it */
    struct strbuf signed_text = {0};
    char timestamp[24];
    snprintf(timestamp, sizeof(timestamp), "%lld", (long long)time(NULL));
    size_t ts_len = strlen(timestamp);
    strbuf_append_len(&signed_text, timestamp, ts_len);
    strbuf_append_len(&signed_text, ".", 1);
    bool array = o->events_per_request > 1;
    if (array) {
        strbuf_append(&signed_text, "[");
    }
    for (size_t i = 0; i < conn->event_count; i++) {
        if (i > 0) {
            strbuf_append(&signed_text, ",");
        }
        append_event(&signed_text, o->id_prefix, conn->events[i]);
    }
    if (array) {
        strbuf_append(&signed_text, "]");
    }
    if (signed_text.failed) {
        strbuf_free(&signed_text);
        return -1;
    }
    const char *body = strbuf_value(&signed_text) + ts_len + 1;
    size_t body_len = signed_text.len - ts_len - 1;
    unsigned char digest[32];
    crypto_hmac_sha256(o->secret, strlen(o->secret), strbuf_value(&signed_text), signed_text.len,
                       digest);
    char hex[65];
    lh_hex_encode(digest, sizeof(digest), hex);

    strbuf_free(&conn->out);
    struct strbuf *out = &conn->out;
    strbuf_append(out, "POST ");
    strbuf_append(out, o->path);
    strbuf_append(out, " HTTP/1.1\r\nHost: ");
    strbuf_append(out, run->host_header);
    strbuf_append(out, "\r\nContent-Type: application/json\r\nX-Leadhub-Timestamp: ");
    strbuf_append_len(out, timestamp, ts_len);
    strbuf_append(out, "\r\nX-Leadhub-Signature: sha256=");
    strbuf_append_len(out, hex, 64);
    strbuf_append(out, "\r\nContent-Length: ");
    append_u64(out, body_len);
    strbuf_append(out, "\r\n\r\n");
    strbuf_append_len(out, body, body_len);
    strbuf_free(&signed_text);
    conn->out_sent = 0;
    conn->in_len = 0;
    return conn->out.failed ? -1 : 0;
}

static void conn_close(struct run *run, struct conn *conn, int64_t now)
{
    if (conn->fd >= 0) {
        epoll_ctl(run->epoll_fd, EPOLL_CTL_DEL, conn->fd, NULL);
        close(conn->fd);
    }
    conn->fd = -1;
    conn->state = CONN_DOWN;
    int64_t pause =
        run->options->reconnect_ms > 0 ? run->options->reconnect_ms : DEFAULT_RECONNECT_MS;
    conn->reconnect_at_us = now + pause * 1000;
}

static bool in_window(const struct run *run, int64_t done_us)
{
    return done_us >= run->window_start_us &&
           (run->stop_sending_us == 0 || done_us <= run->stop_sending_us);
}

static void record_latency(struct run *run, int64_t latency_us)
{
    if (run->latency_count == run->latency_capacity) {
        size_t capacity = run->latency_capacity ? run->latency_capacity * 2 : 4096;
        uint32_t *grown = realloc(run->latencies_us, capacity * sizeof(*grown));
        if (grown == NULL) {
            return;
        }
        run->latencies_us = grown;
        run->latency_capacity = capacity;
    }
    run->latencies_us[run->latency_count++] =
        latency_us > UINT32_MAX ? UINT32_MAX : (uint32_t)latency_us;
}

/* The request on conn ended with `status` (0: no answer). */
static void finish_request(struct run *run, struct conn *conn, int status, bool accepted_new,
                           unsigned duplicates, int64_t now)
{
    const struct loadgen_options *o = run->options;
    struct loadgen_result *r = run->result;
    bool ok = status >= 200 && status < 300;
    r->requests++;
    if (ok) {
        r->requests_2xx++;
        r->events_acked += conn->event_count;
        if (in_window(run, now)) {
            r->window_requests_2xx++;
            r->window_events_acked += conn->event_count;
            record_latency(run, now - conn->sent_us);
        }
    } else if (status == 503) {
        r->requests_503++;
    } else if (status == 0) {
        r->requests_failed++;
    } else {
        r->requests_other++;
    }
    for (size_t i = 0; i < conn->event_count; i++) {
        uint64_t n = conn->events[i];
        if (ok && r->acked != NULL && n < r->max_events) {
            if (r->acked[n] == 0) {
                run->acked_events++;
            }
            if (r->acked[n] < UINT8_MAX) {
                r->acked[n]++;
            }
        } else if (!ok && o->resend_failed && (status == 0 || status == 503)) {
            stack_push(&run->resend, n);
        } else if (!ok) {
            run->abandoned_events++;
        }
    }
    if (o->on_answer != NULL) {
        struct loadgen_answer answer = {.events = conn->events,
                                        .event_count = conn->event_count,
                                        .status = status,
                                        .sent_us = conn->sent_us,
                                        .done_us = now,
                                        .duplicates = duplicates,
                                        .accepted_new = accepted_new};
        o->on_answer(&answer, o->on_answer_arg);
    }
    conn->event_count = 0;
}

static void fail_request(struct run *run, struct conn *conn, int64_t now)
{
    if (conn->event_count > 0) {
        finish_request(run, conn, 0, false, 0, now);
    }
    conn_close(run, conn, now);
}

static void watch(struct run *run, struct conn *conn, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = conn};
    if (epoll_ctl(run->epoll_fd, EPOLL_CTL_MOD, conn->fd, &ev) != 0) {
        epoll_ctl(run->epoll_fd, EPOLL_CTL_ADD, conn->fd, &ev);
    }
}

static void conn_connect(struct run *run, struct conn *conn, int64_t now)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        conn_close(run, conn, now);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    conn->fd = fd;
    if (run->options->source != NULL) {
        struct sockaddr_in local = {.sin_family = AF_INET};
        inet_pton(AF_INET, run->options->source, &local.sin_addr);
        if (bind(fd, (const struct sockaddr *)&local, sizeof(local)) != 0) {
            conn_close(run, conn, now);
            return;
        }
    }
    if (connect(fd, (const struct sockaddr *)&run->address, sizeof(run->address)) == 0) {
        conn->state = CONN_IDLE;
        watch(run, conn, EPOLLIN);
        return;
    }
    if (errno != EINPROGRESS) {
        conn_close(run, conn, now);
        return;
    }
    conn->state = CONN_CONNECTING;
    watch(run, conn, EPOLLOUT);
}

static bool should_send(struct run *run, int64_t now)
{
    const struct loadgen_options *o = run->options;
    if (run->sending_stopped) {
        return false;
    }
    if ((o->stop != NULL && atomic_load(o->stop)) ||
        (run->stop_sending_us != 0 && now >= run->stop_sending_us)) {
        run->sending_stopped = true;
        if (run->stop_sending_us == 0 || now < run->stop_sending_us) {
            run->stop_sending_us = now;
        }
        return false;
    }
    return true;
}

static void try_send(struct run *run, struct conn *conn)
{
    while (conn->out_sent < conn->out.len) {
        ssize_t n = send(conn->fd, strbuf_value(&conn->out) + conn->out_sent,
                         conn->out.len - conn->out_sent, MSG_NOSIGNAL);
        if (n > 0) {
            conn->out_sent += (size_t)n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            watch(run, conn, EPOLLOUT);
            return;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        fail_request(run, conn, loadgen_now_us());
        return;
    }
    conn->state = CONN_READING;
    watch(run, conn, EPOLLIN);
}

/* Starts the next request on an idle connection, if there is work and time. */
static void start_request(struct run *run, struct conn *conn, int64_t now)
{
    if (!should_send(run, now) || take_events(run, conn) == 0) {
        return;
    }
    if (build_request(run, conn) != 0) {
        /* out of memory: put the events back and try later */
        for (size_t i = 0; i < conn->event_count; i++) {
            stack_push(&run->resend, conn->events[i]);
        }
        conn->event_count = 0;
        return;
    }
    conn->sent_us = now;
    conn->state = CONN_SENDING;
    try_send(run, conn);
}

/* Length of the header block ending in CRLFCRLF, or 0 when incomplete. */
static size_t header_end(const char *data, size_t len)
{
    for (size_t i = 3; i < len; i++) {
        if (data[i] == '\n' && data[i - 1] == '\r' && data[i - 2] == '\n' && data[i - 3] == '\r') {
            return i + 1;
        }
    }
    return 0;
}

/* The value of header `name` within the header block, or NULL; not NUL-terminated, its
 * length in *len. */
static const char *find_header(const char *head, size_t head_len, const char *name, size_t *len)
{
    size_t name_len = strlen(name);
    const char *line = memchr(head, '\n', head_len);
    while (line != NULL && (size_t)(line + 1 - head) < head_len) {
        line++;
        size_t left = head_len - (size_t)(line - head);
        if (left > name_len && strncasecmp(line, name, name_len) == 0 && line[name_len] == ':') {
            const char *value = line + name_len + 1;
            while (*value == ' ') {
                value++;
            }
            const char *end = memchr(value, '\r', left - (size_t)(value - line));
            *len = end != NULL ? (size_t)(end - value) : 0;
            return value;
        }
        line = memchr(line, '\n', left);
    }
    return NULL;
}

static void try_read(struct run *run, struct conn *conn)
{
    for (;;) {
        if (conn->in_capacity - conn->in_len < 4096) {
            size_t capacity = conn->in_capacity ? conn->in_capacity * 2 : 8192;
            char *grown = capacity <= RESPONSE_MAX ? realloc(conn->in, capacity) : NULL;
            if (grown == NULL) {
                fail_request(run, conn, loadgen_now_us());
                return;
            }
            conn->in = grown;
            conn->in_capacity = capacity;
        }
        ssize_t n =
            recv(conn->fd, conn->in + conn->in_len, conn->in_capacity - conn->in_len - 1, 0);
        if (n > 0) {
            conn->in_len += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        bool closed = n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
        int64_t now = loadgen_now_us();
        size_t head = header_end(conn->in, conn->in_len);
        if (head == 0) {
            if (closed) {
                fail_request(run, conn, now);
            }
            return;
        }
        /* "HTTP/1.x NNN ..." */
        int status = 0;
        if (strncmp(conn->in, "HTTP/1.", 7) == 0 && conn->in[8] == ' ') {
            status = (int)strtol(conn->in + 9, NULL, 10);
        }
        if (status < 100 || status > 999) {
            fail_request(run, conn, now);
            return;
        }
        size_t value_len = 0;
        const char *length = find_header(conn->in, head, "Content-Length", &value_len);
        size_t body_len = length != NULL ? strtoull(length, NULL, 10) : 0;
        if (conn->in_len < head + body_len) {
            if (closed) {
                fail_request(run, conn, now);
            }
            return;
        }
        conn->in[conn->in_len] = '\0';
        const char *accepted = strstr(conn->in + head, "\"accepted\":");
        bool accepted_new =
            accepted != NULL && strtol(accepted + strlen("\"accepted\":"), NULL, 10) > 0;
        const char *duplicates = strstr(conn->in + head, "\"duplicates\":");
        int duplicate_count =
            duplicates != NULL ? (int)strtol(duplicates + strlen("\"duplicates\":"), NULL, 10) : 0;
        const char *connection = find_header(conn->in, head, "Connection", &value_len);
        bool must_close = closed || (connection != NULL && value_len == 5 &&
                                     strncasecmp(connection, "close", 5) == 0);
        finish_request(run, conn, status, accepted_new,
                       duplicate_count > 0 ? (unsigned)duplicate_count : 0, now);
        if (must_close) {
            /* no pause: the server closed an answered connection */
            conn_close(run, conn, now);
            conn->reconnect_at_us = now;
            return;
        }
        conn->state = CONN_IDLE;
        conn->in_len = 0;
        watch(run, conn, EPOLLIN);
        if (status == 503) {
            /* "retry later": this connection pauses like after a failure (a provider
             * honouring Retry-After would wait longer still) */
            int64_t pause =
                run->options->reconnect_ms > 0 ? run->options->reconnect_ms : DEFAULT_RECONNECT_MS;
            conn->reconnect_at_us = now + pause * 1000;
            return;
        }
        start_request(run, conn, now);
        return;
    }
}

static void on_event(struct run *run, struct conn *conn, uint32_t events)
{
    int64_t now = loadgen_now_us();
    switch (conn->state) {
    case CONN_CONNECTING: {
        int error = 0;
        socklen_t len = sizeof(error);
        if (getsockopt(conn->fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0 || error != 0) {
            conn_close(run, conn, now);
            return;
        }
        conn->state = CONN_IDLE;
        watch(run, conn, EPOLLIN);
        start_request(run, conn, now);
        return;
    }
    case CONN_SENDING:
        if (events & (EPOLLERR | EPOLLHUP)) {
            fail_request(run, conn, now);
            return;
        }
        try_send(run, conn);
        return;
    case CONN_READING:
        try_read(run, conn);
        return;
    case CONN_IDLE:
        /* the server closed an idle keep-alive connection, or sent something unasked */
        conn_close(run, conn, now);
        conn->reconnect_at_us = now;
        return;
    case CONN_DOWN:
        return;
    }
}

static bool work_left(const struct run *run)
{
    return run->resend.count > 0 || new_events_left(run);
}

/* With resend_failed: events started but neither acknowledged nor refused for good. */
static bool unsettled(const struct run *run)
{
    return run->options->resend_failed && run->acked_events + run->abandoned_events < run->next_new;
}

static size_t in_flight(const struct run *run)
{
    size_t n = 0;
    for (unsigned i = 0; i < run->options->connections; i++) {
        n += run->conns[i].event_count > 0;
    }
    return n;
}

static int compare_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static double percentile_ms(const uint32_t *sorted, size_t count, double p)
{
    if (count == 0) {
        return 0;
    }
    size_t rank = (size_t)(p * (double)count + 0.999999); /* nearest rank */
    if (rank < 1) {
        rank = 1;
    }
    if (rank > count) {
        rank = count;
    }
    return sorted[rank - 1] / 1000.0;
}

static void summarize(struct run *run, int64_t end_us)
{
    struct loadgen_result *r = run->result;
    int64_t window_end = run->stop_sending_us != 0 ? run->stop_sending_us : end_us;
    r->window_s = (double)(window_end - run->window_start_us) / 1e6;
    if (r->window_s < 0) {
        r->window_s = 0;
    }
    if (r->window_s > 0) {
        r->events_per_s = (double)r->window_events_acked / r->window_s;
        r->requests_per_s = (double)r->window_requests_2xx / r->window_s;
    }
    qsort(run->latencies_us, run->latency_count, sizeof(*run->latencies_us), compare_u32);
    r->latency_p50_ms = percentile_ms(run->latencies_us, run->latency_count, 0.50);
    r->latency_p99_ms = percentile_ms(run->latencies_us, run->latency_count, 0.99);
    r->latency_p999_ms = percentile_ms(run->latencies_us, run->latency_count, 0.999);
    r->latency_max_ms = percentile_ms(run->latencies_us, run->latency_count, 1.0);
}

int loadgen_run(const struct loadgen_options *options, struct loadgen_result *result)
{
    memset(result, 0, sizeof(*result));
    struct run run = {.options = options, .result = result, .epoll_fd = -1};
    int rc = -1;
    unsigned count = options->connections > 0 ? options->connections : 1;
    struct loadgen_options fixed = *options;
    fixed.connections = count;
    run.options = &fixed;
    if (fixed.timeout_ms <= 0) {
        fixed.timeout_ms = DEFAULT_TIMEOUT_MS;
    }
    if (fixed.resend_failed && fixed.max_events == 0) {
        snprintf(result->error, sizeof(result->error), "resend_failed needs max_events");
        return -1;
    }
    run.address.sin_family = AF_INET;
    run.address.sin_port = htons((uint16_t)fixed.port);
    if (inet_pton(AF_INET, fixed.host, &run.address.sin_addr) != 1) {
        snprintf(result->error, sizeof(result->error), "not an IPv4 address: %s", fixed.host);
        return -1;
    }
    snprintf(run.host_header, sizeof(run.host_header), "%s:%d", fixed.host, fixed.port);
    if (fixed.max_events > 0) {
        result->acked = calloc(fixed.max_events, 1);
        result->max_events = fixed.max_events;
    }
    run.conns = calloc(count, sizeof(*run.conns));
    run.epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    size_t per_request = fixed.events_per_request > 0 ? fixed.events_per_request : 1;
    if (run.conns == NULL || run.epoll_fd < 0 || (fixed.max_events > 0 && result->acked == NULL)) {
        snprintf(result->error, sizeof(result->error), "out of memory or descriptors");
        goto out;
    }
    for (unsigned i = 0; i < count; i++) {
        run.conns[i].fd = -1;
        run.conns[i].events = calloc(per_request, sizeof(uint64_t));
        if (run.conns[i].events == NULL) {
            snprintf(result->error, sizeof(result->error), "out of memory");
            goto out;
        }
    }
    run.started_us = loadgen_now_us();
    run.window_start_us = run.started_us + fixed.warmup_ms * 1000;
    run.stop_sending_us = fixed.duration_ms > 0 ? run.started_us + fixed.duration_ms * 1000 : 0;
    int64_t drain_deadline = 0;

    for (;;) {
        int64_t now = loadgen_now_us();
        bool sending = should_send(&run, now);
        /* in flight or waiting to be resent: keep going (the in-flight ones may fail) */
        bool more = sending && (work_left(&run) || unsettled(&run));
        if (!more) {
            if (in_flight(&run) == 0) {
                break;
            }
            if (drain_deadline == 0) {
                drain_deadline = now + fixed.timeout_ms * 1000;
            } else if (now > drain_deadline) {
                break;
            }
        }
        int64_t wait_us = 10000;
        for (unsigned i = 0; i < count; i++) {
            struct conn *conn = &run.conns[i];
            if (conn->state == CONN_DOWN && more && work_left(&run)) {
                if (now >= conn->reconnect_at_us) {
                    conn_connect(&run, conn, now);
                } else if (conn->reconnect_at_us - now < wait_us) {
                    wait_us = conn->reconnect_at_us - now;
                }
            } else if (conn->state == CONN_IDLE && conn->event_count == 0 && more) {
                if (now >= conn->reconnect_at_us) {
                    start_request(&run, conn, now);
                } else if (conn->reconnect_at_us - now < wait_us) {
                    wait_us = conn->reconnect_at_us - now;
                }
            } else if ((conn->state == CONN_SENDING || conn->state == CONN_READING ||
                        conn->state == CONN_CONNECTING) &&
                       now - (conn->state == CONN_CONNECTING ? conn->reconnect_at_us
                                                             : conn->sent_us) >
                           fixed.timeout_ms * 1000) {
                fail_request(&run, conn, now);
            }
        }
        struct epoll_event events[64];
        int ready = epoll_wait(run.epoll_fd, events, 64, (int)((wait_us + 999) / 1000));
        for (int i = 0; i < ready; i++) {
            on_event(&run, events[i].data.ptr, events[i].events);
        }
    }
    int64_t end = loadgen_now_us();
    for (unsigned i = 0; i < count; i++) {
        if (run.conns[i].event_count > 0) {
            finish_request(&run, &run.conns[i], 0, false, 0, end);
        }
    }
    summarize(&run, end);
    result->events_started = run.next_new;
    rc = 0;
out:
    if (run.conns != NULL) {
        for (unsigned i = 0; i < count; i++) {
            if (run.conns[i].fd >= 0) {
                close(run.conns[i].fd);
            }
            strbuf_free(&run.conns[i].out);
            free(run.conns[i].in);
            free(run.conns[i].events);
        }
    }
    free(run.conns);
    if (run.epoll_fd >= 0) {
        close(run.epoll_fd);
    }
    free(run.resend.items);
    free(run.latencies_us);
    if (rc != 0) {
        loadgen_result_free(result);
    }
    return rc;
}

void loadgen_result_free(struct loadgen_result *result)
{
    free(result->acked);
    result->acked = NULL;
}
