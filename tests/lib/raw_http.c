/* raw_http.c - see raw_http.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "raw_http.h"
#include "util.h"

int raw_connect(const char *source, int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    if (source != NULL) {
        struct sockaddr_in local = {.sin_family = AF_INET};
        inet_pton(AF_INET, source, &local.sin_addr);
        if (bind(fd, (struct sockaddr *)&local, sizeof(local)) != 0) {
            close(fd);
            return -1;
        }
    }
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&address, sizeof(address)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Waits up to ms for fd to be readable (or writable); false on timeout. */
static bool wait_for(int fd, short events, int64_t ms)
{
    struct pollfd p = {.fd = fd, .events = events};
    return poll(&p, 1, (int)(ms > 0 ? ms : 0)) > 0;
}

/* The answer's end offset in text (headers + Content-Length), or 0 while incomplete. */
static size_t answer_end(const char *text, size_t len)
{
    const char *blank = strstr(text, "\r\n\r\n");
    if (blank == NULL) {
        return 0;
    }
    size_t head = (size_t)(blank - text) + 4;
    const char *length = strcasestr(text, "\r\nContent-Length:");
    size_t body = length != NULL && length < blank ? strtoul(length + 17, NULL, 10) : 0;
    return len >= head + body ? head + body : 0;
}

void raw_exchange(int port, const char *request, size_t len, int64_t timeout_ms, int64_t linger_ms,
                  struct raw_answer *out)
{
    memset(out, 0, sizeof(*out));
    int fd = raw_connect(NULL, port);
    struct strbuf answer = {0};
    size_t end = 0;
    int64_t started = util_monotonic_ms();
    int64_t deadline = started + timeout_ms;
    if (fd >= 0) {
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        bool reading = true;
        /* send while the server takes it, reading whatever it answers meanwhile */
        while (util_monotonic_ms() < deadline && (out->sent < len || end == 0) && reading) {
            short events = POLLIN | (out->sent < len ? POLLOUT : 0);
            struct pollfd p = {.fd = fd, .events = events};
            if (poll(&p, 1, 50) <= 0) {
                continue;
            }
            if ((p.revents & POLLOUT) && out->sent < len) {
                ssize_t n = send(fd, request + out->sent, len - out->sent, MSG_NOSIGNAL);
                if (n > 0) {
                    out->sent += (size_t)n;
                } else if (n < 0 && errno != EAGAIN) {
                    len = out->sent; /* the server stopped reading */
                }
            }
            if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
                char buffer[8192];
                ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
                if (n > 0) {
                    strbuf_append_len(&answer, buffer, (size_t)n);
                    end = answer_end(strbuf_value(&answer), answer.len);
                    if (end > 0) {
                        out->answer_ms = util_monotonic_ms() - started;
                    }
                } else if (n == 0 || errno != EAGAIN) {
                    out->closed = true;
                    reading = false;
                    if (out->sent < len) {
                        len = out->sent;
                    }
                }
            }
        }
        /* then: does the server close the connection? */
        int64_t linger_until = util_monotonic_ms() + linger_ms;
        while (!out->closed && end > 0 && util_monotonic_ms() < linger_until) {
            if (!wait_for(fd, POLLIN, linger_until - util_monotonic_ms())) {
                break;
            }
            char buffer[4096];
            ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
            if (n == 0 || (n < 0 && errno != EAGAIN)) {
                out->closed = true;
            }
        }
        close(fd);
    }
    const char *text = strbuf_value(&answer);
    out->status = strncmp(text, "HTTP/1.", 7) == 0 ? (int)strtol(text + 9, NULL, 10) : 0;
    const char *blank = strstr(text, "\r\n\r\n");
    out->headers = blank != NULL ? strndup(text, (size_t)(blank - text)) : strdup("");
    out->body = strdup(blank != NULL ? blank + 4 : "");
    strbuf_free(&answer);
}

void raw_answer_free(struct raw_answer *answer)
{
    free(answer->headers);
    free(answer->body);
    memset(answer, 0, sizeof(*answer));
}
