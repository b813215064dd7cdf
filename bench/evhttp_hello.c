/*
 * evhttp_hello: GET /hello -> 200 application/json {"message":"Hello, World!"}
 * on libevent's own HTTP server (evhttp), one thread, for bench/peers.sh.
 *
 * evhttp leaves Nagle on; with keep-alive that stalls responses on the
 * client's delayed ACK. evhttp hands the accepted socket to its bufferevent
 * only after the evhttp_set_bevcb callback has run, so instead TCP_NODELAY
 * is set on the listening socket, which Linux copies to every socket
 * accept() returns; the first request checks that it did.
 *
 * usage: evhttp_hello [--port PORT]   (binds 127.0.0.1; default 18101)
 */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>

static const char BODY[] = "{\"message\":\"Hello, World!\"}";

/* Checked once, on the first request: the accepted socket really has
 * TCP_NODELAY (inherited from the listening socket, see main()). */
static void check_nodelay(struct evhttp_request *req)
{
    static int checked;
    if (checked)
        return;
    checked = 1;
    struct bufferevent *bev = evhttp_connection_get_bufferevent(evhttp_request_get_connection(req));
    int v = 0;
    socklen_t len = sizeof(v);
    if (bev == NULL || getsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY, &v, &len) != 0 || !v) {
        fprintf(stderr, "evhttp_hello: accepted socket without TCP_NODELAY\n");
        exit(1);
    }
}

static void hello(struct evhttp_request *req, void *arg)
{
    (void)arg;
    check_nodelay(req);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    struct evbuffer *out = evhttp_request_get_output_buffer(req);
    evbuffer_add_reference(out, BODY, sizeof(BODY) - 1, NULL, NULL);
    evhttp_send_reply(req, 200, "OK", NULL);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    event_base_loopbreak(arg);
}

int main(int argc, char **argv)
{
    int port = 18101;
    if (argc == 3 && strcmp(argv[1], "--port") == 0)
        port = atoi(argv[2]);
    else if (argc != 1) {
        fprintf(stderr, "usage: %s [--port PORT]\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    struct event_base *base = event_base_new();
    struct evhttp *http = evhttp_new(base);
    if (base == NULL || http == NULL)
        return 1;
    evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
    evhttp_set_cb(http, "/hello", hello, NULL);

    /* Linux: accepted sockets inherit TCP_NODELAY from the listener. */
    struct evhttp_bound_socket *bound = evhttp_bind_socket_with_handle(http, "127.0.0.1", (ev_uint16_t)port);
    if (bound == NULL) {
        fprintf(stderr, "evhttp_hello: cannot bind 127.0.0.1:%d\n", port);
        return 1;
    }
    int one = 1;
    evutil_socket_t lfd = evhttp_bound_socket_get_fd(bound);
    if (setsockopt(lfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0) {
        perror("evhttp_hello: TCP_NODELAY");
        return 1;
    }
    struct event *sigint = evsignal_new(base, SIGINT, on_signal, base);
    struct event *sigterm = evsignal_new(base, SIGTERM, on_signal, base);
    event_add(sigint, NULL);
    event_add(sigterm, NULL);
    fprintf(stderr, "evhttp_hello: serving on http://127.0.0.1:%d/hello (libevent %s)\n", port,
            event_get_version());
    event_base_dispatch(base);
    event_free(sigint);
    event_free(sigterm);
    evhttp_free(http);
    event_base_free(base);
    return 0;
}
