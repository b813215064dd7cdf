//! A Rust consumer of the installed libturbo, with no crates: the part of
//! the C ABI it uses is declared here by hand.
//!
//!   GET  /hello/{name}  200 text/plain "hello NAME from rust\n"
//!   POST /stop          200, then the server stops and the program exits 0
//!   SIGINT, SIGTERM     the same (turbo_server_stop_on_signal: no libc crate)
//!
//! Usage: hello_rust [PORT]   (default 0: any free port). The first line on
//! stdout is "listening on PORT", the second "libturbo VERSION".

// Written for Rust 1.63 (Debian 12): C strings are "...\0" literals, since
// c"..." needs 1.77.
#![allow(clippy::manual_c_str_literals)]
use std::ffi::{c_void, CStr};
use std::marker::{PhantomData, PhantomPinned};
use std::os::raw::{c_char, c_int};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::process::ExitCode;

/// `turbo_str`: a pointer and a length, NOT NUL-terminated.
#[repr(C)]
#[derive(Clone, Copy)]
struct TurboStr {
    ptr: *const c_char,
    len: usize,
}

impl TurboStr {
    /// The bytes, borrowed for as long as the C side keeps them (inside a
    /// handler: until it returns). `ptr` may be NULL when `len` is 0.
    unsafe fn as_bytes<'a>(self) -> &'a [u8] {
        if self.len == 0 {
            &[]
        } else {
            std::slice::from_raw_parts(self.ptr.cast::<u8>(), self.len)
        }
    }
}

// Opaque handles: never built or moved by Rust, only pointed to.
macro_rules! opaque {
    ($name:ident) => {
        #[repr(C)]
        struct $name {
            _data: [u8; 0],
            _marker: PhantomData<(*mut u8, PhantomPinned)>,
        }
    };
}
opaque!(TurboServer);
opaque!(TurboConfig);
opaque!(TurboRequest);
opaque!(TurboResponse);

type TurboHandler =
    extern "C" fn(req: *mut TurboRequest, res: *mut TurboResponse, user_data: *mut c_void) -> c_int;

const TURBO_OK: c_int = 0;
const TURBO_EHANDLER: c_int = -9;
// Linux signal numbers (x86_64, aarch64): without the libc crate they are
// spelled out.
const SIGINT: c_int = 2;
const SIGTERM: c_int = 15;

// Linked by build.rs (pkg-config), not by a #[link] attribute.
extern "C" {
    fn turbo_version() -> *const c_char;
    fn turbo_abi_version() -> c_int;
    fn turbo_strerror(code: c_int) -> *const c_char;
    fn turbo_server_new(cfg: *const TurboConfig) -> *mut TurboServer;
    fn turbo_server_listen(s: *mut TurboServer, host: *const c_char, port: c_int) -> c_int;
    fn turbo_server_port(s: *const TurboServer) -> c_int;
    fn turbo_route_add(
        s: *mut TurboServer,
        method: *const c_char,
        pattern: *const c_char,
        handler: TurboHandler,
        user_data: *mut c_void,
    ) -> c_int;
    fn turbo_server_run(s: *mut TurboServer) -> c_int;
    fn turbo_server_stop(s: *mut TurboServer);
    fn turbo_server_stop_on_signal(s: *mut TurboServer, signum: c_int) -> c_int;
    fn turbo_server_free(s: *mut TurboServer);
    fn turbo_request_param(r: *const TurboRequest, name: *const c_char, len: usize) -> TurboStr;
    fn turbo_response_header(
        res: *mut TurboResponse,
        name: *const c_char,
        name_len: usize,
        value: *const c_char,
        value_len: usize,
    ) -> c_int;
    fn turbo_response_body(res: *mut TurboResponse, data: *const c_void, len: usize) -> c_int;
}

/// Runs `f`, turning a panic into TURBO_EHANDLER (a 500 for this request):
/// unwinding must never cross into the library's C frames.
fn guard(f: impl FnOnce() -> c_int) -> c_int {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(TURBO_EHANDLER)
}

fn set(res: *mut TurboResponse, content_type: &str, body: &[u8]) -> c_int {
    unsafe {
        let rc = turbo_response_header(
            res,
            "Content-Type".as_ptr().cast(),
            "Content-Type".len(),
            content_type.as_ptr().cast(),
            content_type.len(),
        );
        if rc != TURBO_OK {
            return rc;
        }
        // The body is copied: `body` may be dropped when this returns.
        turbo_response_body(res, body.as_ptr().cast(), body.len())
    }
}

/// Called on one of the server's I/O threads, possibly on several at once.
extern "C" fn hello(req: *mut TurboRequest, res: *mut TurboResponse, _: *mut c_void) -> c_int {
    guard(|| {
        let name = unsafe { turbo_request_param(req, "name".as_ptr().cast(), 4).as_bytes() };
        let mut body = Vec::with_capacity(name.len() + 32);
        body.extend_from_slice(b"hello ");
        body.extend_from_slice(name); // raw bytes, as sent
        body.extend_from_slice(b" from rust\n");
        set(res, "text/plain", &body)
    })
}

extern "C" fn stop(_: *mut TurboRequest, _: *mut TurboResponse, server: *mut c_void) -> c_int {
    // Only asks: the server finishes this response, then run() returns.
    unsafe { turbo_server_stop(server.cast()) };
    TURBO_OK
}

fn error(rc: c_int) -> String {
    unsafe { CStr::from_ptr(turbo_strerror(rc)) }.to_string_lossy().into_owned()
}

fn main() -> ExitCode {
    let port: c_int = match std::env::args().nth(1) {
        Some(arg) => match arg.parse() {
            Ok(port) => port,
            Err(_) => {
                eprintln!("hello_rust: bad port {:?}", arg);
                return ExitCode::from(2);
            }
        },
        None => 0,
    };
    let version = unsafe { CStr::from_ptr(turbo_version()) }.to_string_lossy();
    if unsafe { turbo_abi_version() } != 0 {
        eprintln!("hello_rust: declared for ABI 0, the library has another");
        return ExitCode::FAILURE;
    }

    let server = unsafe { turbo_server_new(std::ptr::null()) };
    if server.is_null() {
        return ExitCode::FAILURE;
    }
    // C strings as literals with an explicit NUL.
    let mut rc = unsafe { turbo_server_listen(server, "127.0.0.1\0".as_ptr().cast(), port) };
    if rc == TURBO_OK {
        rc = unsafe {
            turbo_route_add(
                server,
                "GET\0".as_ptr().cast(),
                "/hello/{name}\0".as_ptr().cast(),
                hello,
                std::ptr::null_mut(),
            )
        };
    }
    if rc == TURBO_OK {
        rc = unsafe {
            turbo_route_add(
                server,
                "POST\0".as_ptr().cast(),
                "/stop\0".as_ptr().cast(),
                stop,
                server.cast(),
            )
        };
    }
    for signum in [SIGINT, SIGTERM] {
        if rc == TURBO_OK {
            rc = unsafe { turbo_server_stop_on_signal(server, signum) };
        }
    }
    if rc != TURBO_OK {
        eprintln!("hello_rust: {}", error(rc));
        unsafe { turbo_server_free(server) };
        return ExitCode::FAILURE;
    }

    println!("listening on {}", unsafe { turbo_server_port(server) });
    println!("libturbo {}", version); // stdout is line-buffered
    rc = unsafe { turbo_server_run(server) }; // until /stop or a signal
    unsafe { turbo_server_free(server) };
    if rc != TURBO_OK {
        eprintln!("hello_rust: {}", error(rc));
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
