/*
 * The integration suites' raw-socket HTTP/1.1 client; see http_client.h.
 */
#include "http_client.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

/* ======================================================================
 * No Check assertions
 * ==================================================================== */

int try_connect(int port, int timeout_s)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct timeval tv = {timeout_s, 0};
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0)
        goto fail;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
        return fd;
fail:;
    int err = errno;
    close(fd);
    errno = err; /* what failed, not close */
    return -1;
}

int try_send(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int try_client_open(client *c, int port, int timeout_s)
{
    c->len = 0;
    c->fd = try_connect(port, timeout_s);
    return c->fd < 0 ? -1 : 0;
}

ssize_t client_fill(client *c)
{
    if (c->len >= sizeof(c->buf)) {
        errno = ENOBUFS;
        return -1;
    }
    for (;;) {
        ssize_t n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n > 0)
            c->len += (size_t)n;
        return n;
    }
}

void client_consume(client *c, size_t n)
{
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

ssize_t client_wait(client *c, size_t n)
{
    while (c->len < n) {
        ssize_t r = client_fill(c);
        if (r <= 0)
            return r;
    }
    return 1;
}

ssize_t client_wait_head(client *c)
{
    for (;;) {
        char *end = c->len >= 4 ? memmem(c->buf, c->len, "\r\n\r\n", 4) : NULL;
        if (end != NULL)
            return end - c->buf + 4;
        ssize_t n = client_fill(c);
        if (n <= 0)
            return n;
    }
}

/* ======================================================================
 * Check assertions
 * ==================================================================== */

int connect_to(turbo_server *s, int timeout_s)
{
    int fd = try_connect(turbo_server_port(s), timeout_s);
    ck_assert_msg(fd >= 0, "connect: %s", strerror(errno));
    return fd;
}

client *client_open(turbo_server *s, int timeout_s)
{
    client *c = calloc(1, sizeof(*c));
    ck_assert_ptr_nonnull(c);
    c->fd = connect_to(s, timeout_s);
    return c;
}

void client_close(client *c)
{
    if (c == NULL)
        return;
    close(c->fd);
    free(c);
}

void send_fd(int fd, const void *data, size_t len)
{
    ck_assert_msg(try_send(fd, data, len) == 0, "send: %s", strerror(errno));
}

void send_str_fd(int fd, const char *s)
{
    send_fd(fd, s, strlen(s));
}

void send_bytes(client *c, const void *data, size_t len)
{
    send_fd(c->fd, data, len);
}

void send_str(client *c, const char *s)
{
    send_fd(c->fd, s, strlen(s));
}

void read_exact(client *c, char *out, size_t n)
{
    ssize_t r = client_wait(c, n);
    ck_assert_msg(r > 0, "read_exact: wanted %zu bytes, have %zu, then %s", n, c->len,
                  r == 0 ? "EOF" : strerror(errno));
    memcpy(out, c->buf, n);
    out[n] = '\0';
    client_consume(c, n);
}

size_t read_head(client *c, char *head, size_t cap, const char *who)
{
    ssize_t n = client_wait_head(c);
    ck_assert_msg(n > 0, "%s%sno complete response head (%zu bytes: \"%.*s\"), then %s",
                  who != NULL ? who : "", who != NULL ? ": " : "", c->len, (int)c->len, c->buf,
                  n == 0 ? "EOF" : strerror(errno));
    size_t head_len = (size_t)n;
    ck_assert_uint_lt(head_len, cap);
    memcpy(head, c->buf, head_len);
    head[head_len] = '\0';
    client_consume(c, head_len);
    return head_len;
}

void read_response_ex(client *c, response *r, int no_body)
{
    memset(r, 0, offsetof(response, body));
    r->body[0] = '\0';
    char head[16384];
    size_t head_len = read_head(c, head, sizeof(head), NULL);
    head[head_len - 2] = '\0'; /* keep the last field's CRLF, drop the empty line */

    /* Status line: exactly "HTTP/1.1 SSS Reason". */
    char *line = head;
    char *eol = strstr(line, "\r\n");
    ck_assert_ptr_nonnull(eol);
    *eol = '\0';
    ck_assert_msg(strncmp(line, "HTTP/1.1 ", 9) == 0 && strlen(line) > 13 && line[12] == ' ',
                  "bad status line \"%s\"", line);
    r->status = atoi(line + 9);
    ck_assert_uint_lt(strlen(line + 13), sizeof(r->reason));
    strcpy(r->reason, line + 13);

    for (line = eol + 2; *line != '\0'; line = eol + 2) {
        eol = strstr(line, "\r\n");
        ck_assert_ptr_nonnull(eol);
        *eol = '\0';
        char *colon = strchr(line, ':');
        ck_assert_msg(colon != NULL && colon[1] == ' ', "bad field \"%s\"", line);
        ck_assert_uint_lt(r->nfields, MAX_FIELDS);
        field *f = &r->fields[r->nfields++];
        *colon = '\0';
        ck_assert_uint_lt(strlen(line), sizeof(f->name));
        ck_assert_uint_lt(strlen(colon + 2), sizeof(f->value));
        strcpy(f->name, line);
        strcpy(f->value, colon + 2);
    }

    const char *cl = header(r, "Content-Length");
    if (no_body || cl == NULL)
        return;
    ck_assert_uint_eq(header_count(r, "Content-Length"), 1);
    char *cl_end;
    unsigned long long len = strtoull(cl, &cl_end, 10);
    ck_assert_msg(*cl != '\0' && *cl_end == '\0', "bad Content-Length \"%s\"", cl);
    ck_assert_uint_le(len, MAX_BODY);
    read_exact(c, r->body, (size_t)len);
    r->body_len = (size_t)len;
}

void read_response(client *c, response *r)
{
    read_response_ex(c, r, 0);
}

void exchange(client *c, const char *request, response *r)
{
    send_str(c, request);
    read_response(c, r);
}

size_t read_until_eof(client *c)
{
    size_t extra = c->len;
    c->len = 0;
    for (;;) {
        ssize_t n = client_fill(c);
        if (n == 0)
            return extra;
        ck_assert_msg(n > 0, "expected EOF, got %s", strerror(errno));
        extra += c->len;
        c->len = 0;
    }
}

const char *header(const response *r, const char *name)
{
    for (size_t i = 0; i < r->nfields; i++)
        if (strcasecmp(r->fields[i].name, name) == 0)
            return r->fields[i].value;
    return NULL;
}

size_t header_count(const response *r, const char *name)
{
    size_t n = 0;
    for (size_t i = 0; i < r->nfields; i++)
        n += strcasecmp(r->fields[i].name, name) == 0;
    return n;
}

response *response_new(void)
{
    response *r = malloc(sizeof(*r));
    ck_assert_ptr_nonnull(r);
    return r;
}
