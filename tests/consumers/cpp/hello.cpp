// A C++ consumer of the installed libturbo (find_package(turbo)).
//
//   GET  /hello/{name}  200 text/plain "hello NAME from c++\n"
//   POST /stop          200, then the server stops and the program exits 0
//
// Usage: hello_cpp [PORT]   (default 0: any free port). The first line on
// stdout is "listening on PORT", the second "libturbo VERSION".
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <new>
#include <string>
#include <string_view>

#include <turbo/turbo.h>

namespace {

turbo_server *server;

// turbo_str is a pointer and a length, not NUL-terminated: a string_view.
std::string_view view(turbo_str s)
{
    return s.len == 0 ? std::string_view() : std::string_view(s.ptr, s.len);
}

// A handler is a plain C function pointer; an exception must not leave it
// (it would unwind through the library's C frames), so every path catches.
int hello(turbo_request *req, turbo_response *res, void *)
{
    try {
        std::string body = "hello ";
        body += view(turbo_request_param(req, "name", 4));
        body += " from c++\n";
        const std::string_view type = "text/plain";
        int rc = turbo_response_header(res, "Content-Type", 12, type.data(), type.size());
        if (rc == TURBO_OK)
            rc = turbo_response_body(res, body.data(), body.size()); // copied
        return rc;
    } catch (const std::bad_alloc &) {
        return TURBO_ENOMEM;
    } catch (...) {
        return TURBO_EHANDLER;
    }
}

extern "C" void on_signal(int)
{
    turbo_server_stop(server); // async-signal-safe
}

} // namespace

int main(int argc, char **argv)
{
    const int port = argc > 1 ? std::atoi(argv[1]) : 0;
    server = turbo_server_new(nullptr);
    if (server == nullptr)
        return 1;

    // A captureless lambda converts to the C handler pointer type.
    turbo_handler stop = [](turbo_request *, turbo_response *, void *ud) -> int {
        turbo_server_stop(static_cast<turbo_server *>(ud));
        return TURBO_OK;
    };
    int rc = turbo_server_listen(server, "127.0.0.1", port);
    if (rc == TURBO_OK)
        rc = turbo_route_add(server, "GET", "/hello/{name}", hello, nullptr);
    if (rc == TURBO_OK)
        rc = turbo_route_add(server, "POST", "/stop", stop, server);
    if (rc != TURBO_OK) {
        std::cerr << "hello_cpp: " << turbo_strerror(rc) << '\n';
        turbo_server_free(server);
        return 1;
    }
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);

    std::cout << "listening on " << turbo_server_port(server) << '\n'
              << "libturbo " << turbo_version() << std::endl;
    rc = turbo_server_run(server); // until /stop or a signal
    turbo_server_free(server);
    if (rc != TURBO_OK) {
        std::cerr << "hello_cpp: " << turbo_strerror(rc) << '\n';
        return 1;
    }
    return 0;
}
