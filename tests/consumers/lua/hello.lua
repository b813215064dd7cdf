-- A LuaJIT consumer of the installed libturbo: the FFI only, no C compiler.
--
--   GET  /hello/{name}  200 text/plain "hello NAME from lua\n"
--   POST /stop          200, then the server stops and the script exits 0
--   SIGINT, SIGTERM     the same (turbo_server_stop_on_signal: the handler
--                       is C, so no Lua runs in signal context)
--
-- Usage: luajit hello.lua [LIBTURBO [PORT]]
--   LIBTURBO: path of libturbo.so.0 (default: $TURBO_LIB, else the loader's
--   search for "libturbo.so.0"); PORT: default 0, any free port.
-- The first line on stdout is "listening on PORT", the second
-- "libturbo VERSION".
local ffi = require("ffi")

ffi.cdef [[
typedef struct turbo_str { const char *ptr; size_t len; } turbo_str;
typedef struct turbo_config turbo_config;
typedef struct turbo_server turbo_server;
typedef struct turbo_request turbo_request;
typedef struct turbo_response turbo_response;
typedef int (*turbo_handler)(turbo_request *req, turbo_response *res, void *user_data);

const char *turbo_version(void);
int turbo_abi_version(void);
const char *turbo_strerror(int code);
turbo_config *turbo_config_new(void);
void turbo_config_free(turbo_config *cfg);
int turbo_config_set_run_on_caller(turbo_config *cfg, int on);
turbo_server *turbo_server_new(const turbo_config *cfg);
int turbo_server_listen(turbo_server *s, const char *host, int port);
int turbo_server_port(const turbo_server *s);
int turbo_route_add(turbo_server *s, const char *method, const char *pattern,
                    turbo_handler fn, void *user_data);
int turbo_server_run(turbo_server *s);
void turbo_server_stop(turbo_server *s);
int turbo_server_stop_on_signal(turbo_server *s, int signum);
void turbo_server_free(turbo_server *s);
turbo_str turbo_request_param(const turbo_request *r, const char *name, size_t name_len);
int turbo_response_header(turbo_response *res, const char *name, size_t name_len,
                          const char *value, size_t value_len);
int turbo_response_body(turbo_response *res, const void *data, size_t len);
]]

local TURBO_OK, TURBO_EHANDLER = 0, -9

local lib = ffi.load(arg[1] or os.getenv("TURBO_LIB") or "libturbo.so.0")
local port = tonumber(arg[2] or "0")

local function check(rc, what)
    if rc ~= TURBO_OK then
        error(what .. ": " .. ffi.string(lib.turbo_strerror(rc)), 2)
    end
end

if lib.turbo_abi_version() ~= 0 then
    error("these declarations are for ABI 0")
end

-- A Lua state may be entered from one thread only, so the server must not
-- call the handlers from its own I/O threads: run_on_caller makes
-- turbo_server_run() serve on this thread, the one running the script.
local cfg = lib.turbo_config_new()
check(lib.turbo_config_set_run_on_caller(cfg, 1), "run_on_caller")
local server = lib.turbo_server_new(cfg)
lib.turbo_config_free(cfg)
assert(server ~= nil, "out of memory")
server = ffi.gc(server, lib.turbo_server_free)

-- turbo_str is a pointer and a length, not NUL-terminated; ffi.string()
-- copies it into a Lua string (the pointer is valid only in the handler).
local function text(res, body)
    local rc = lib.turbo_response_header(res, "Content-Type", 12, "text/plain", 10)
    if rc ~= TURBO_OK then return rc end
    return lib.turbo_response_body(res, body, #body) -- copied
end

-- A Lua error must not unwind through the library's C frames: each
-- callback runs its body under pcall and answers 500 on an error.
local function handler(fn)
    return ffi.cast("turbo_handler", function(req, res, ud)
        local ok, rc = pcall(fn, req, res, ud)
        if ok then return rc end
        io.stderr:write("handler error: ", tostring(rc), "\n")
        return TURBO_EHANDLER
    end)
end

local hello = handler(function(req, res)
    local name = lib.turbo_request_param(req, "name", 4)
    return text(res, "hello " .. ffi.string(name.ptr, name.len) .. " from lua\n")
end)

local stop = handler(function()
    lib.turbo_server_stop(server) -- only asks: this response is still sent
    return TURBO_OK
end)

check(lib.turbo_server_listen(server, "127.0.0.1", port), "listen")
check(lib.turbo_route_add(server, "GET", "/hello/{name}", hello, nil), "route")
check(lib.turbo_route_add(server, "POST", "/stop", stop, nil), "route")
local SIGINT, SIGTERM = 2, 15 -- Linux numbers; the FFI has no <signal.h>
check(lib.turbo_server_stop_on_signal(server, SIGINT), "stop_on_signal")
check(lib.turbo_server_stop_on_signal(server, SIGTERM), "stop_on_signal")

io.write("listening on ", lib.turbo_server_port(server), "\n",
         "libturbo ", ffi.string(lib.turbo_version()), "\n")
io.stdout:flush()

-- turbo_server_run() calls back into Lua. LuaJIT forbids that from a C
-- function called by JIT-compiled code ("bad callback"), so the function
-- that calls it is kept in the interpreter.
local function run()
    return lib.turbo_server_run(server) -- until /stop or a signal
end
jit.off(run)
check(run(), "run")

-- Free the server (it stops calling the handlers) before the callbacks.
lib.turbo_server_free(ffi.gc(server, nil))
hello:free()
stop:free()
os.exit(0)
