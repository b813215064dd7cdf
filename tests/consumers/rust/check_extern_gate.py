#!/usr/bin/python3
"""The gate of check_extern.py itself: the Rust consumer's declarations
match the header, and the check fails, naming the declaration, on each
kind of drift. The drifts are made by editing copies of main.rs (a
parameter of another type, another const-ness, a lost return type or
parameter, a wrong constant, a struct field, a struct without
#[repr(C)]) and of turbo.h (a function removed, a parameter, the handler
typedef, a constant and turbo_str changed under the Rust), as
tests/abi_gate.sh does for the ABI check.

usage: check_extern_gate.py TURBO_H MAIN_RS
"""
import os
import subprocess
import sys
import tempfile

CHECK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "check_extern.py")

# (what changed, file edited, text, replacement, what the failure must say)
DRIFTS = [
    ("Rust: a parameter of another type", "rs",
     "port: c_int) -> c_int;", "port: u16) -> c_int;",
     "fn turbo_server_listen: parameter 3 (port: u16) is `uint16_t`, the header's is `int`"),
    ("Rust: a pointer that lost its const", "rs",
     "fn turbo_server_port(s: *const TurboServer)", "fn turbo_server_port(s: *mut TurboServer)",
     "fn turbo_server_port: parameter 1 (s: *mut TurboServer) is `turbo_server *`, "
     "the header's is `const turbo_server *`"),
    ("Rust: a return type lost", "rs",
     "fn turbo_server_run(s: *mut TurboServer) -> c_int;",
     "fn turbo_server_run(s: *mut TurboServer);",
     "fn turbo_server_run: returns () (`void`), the header's returns `int`"),
    ("Rust: a parameter lost", "rs",
     "name: *const c_char, len: usize) -> TurboStr;", "name: *const c_char) -> TurboStr;",
     "fn turbo_request_param: 2 parameters, the header's has 3"),
    ("Rust: a wrong constant", "rs",
     "const TURBO_EHANDLER: c_int = -9;", "const TURBO_EHANDLER: c_int = -8;",
     "const TURBO_EHANDLER = -8, the header's is -9"),
    ("Rust: a constant the header does not have", "rs",
     "const TURBO_EHANDLER: c_int = -9;",
     "const TURBO_EHANDLER: c_int = -9;\nconst TURBO_EGONE: c_int = -99;",
     "const TURBO_EGONE: not a constant of"),
    ("Rust: a struct field of another type", "rs",
     "    ptr: *const c_char,\n    len: usize,", "    ptr: *const c_char,\n    len: u32,",
     "struct TurboStr.len: u32 (`unsigned int`), turbo_str.len is `size_t`"),
    ("Rust: a struct without #[repr(C)]", "rs",
     "#[repr(C)]\n#[derive(Clone, Copy)]\nstruct TurboStr",
     "#[derive(Clone, Copy)]\nstruct TurboStr",
     "struct TurboStr: not #[repr(C)]"),
    ("header: a function removed", "h",
     "TURBO_API int turbo_server_stop_on_signal(turbo_server *s, int signum);", "",
     "fn turbo_server_stop_on_signal: not a function of"),
    ("header: a handle type removed", "h",
     "typedef struct turbo_config turbo_config;\n", "",
     "fn turbo_server_new: turbo_config is not a type of"),
    ("header: a parameter of another type", "h",
     "TURBO_API int turbo_server_listen(turbo_server *s, const char *host, int port);",
     "TURBO_API int turbo_server_listen(turbo_server *s, const char *host, uint16_t port);",
     "fn turbo_server_listen: parameter 3 (port: c_int) is `int`, the header's is `uint16_t`"),
    ("header: the handler typedef", "h",
     "void *user_data);\n\n/** Called exactly once",
     "void *user_data, int flags);\n\n/** Called exactly once",
     "type TurboHandler is `int (*)(turbo_request *, turbo_response *, void *)`, the header's "
     "turbo_handler is `int (*)(turbo_request *, turbo_response *, void *, int)`"),
    ("header: a constant", "h",
     "TURBO_EHANDLER = -9,", "TURBO_EHANDLER = -11,",
     "const TURBO_EHANDLER = -9, the header's is -11"),
    ("header: turbo_str grew a field", "h",
     "    size_t len;\n} turbo_str;", "    size_t len;\n    unsigned flags;\n} turbo_str;",
     "struct TurboStr: 2 fields, turbo_str has 3"),
]


def run(header, rust):
    r = subprocess.run([sys.executable, CHECK, header, rust], capture_output=True, text=True)
    return r.returncode, r.stdout + r.stderr


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    header, rust = sys.argv[1], sys.argv[2]
    rc, out = run(header, rust)
    print(out, end="")
    if rc != 0:
        sys.exit("check_extern gate: the consumer as committed does not pass")
    texts = {"h": open(header).read(), "rs": open(rust).read()}
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for what, which, old, new, expected in DRIFTS:
            if texts[which].count(old) != 1:
                sys.exit(f"check_extern gate: {what}: {old!r} is not once in the {which} file "
                         f"(the gate needs updating with it)")
            files = dict(texts)
            files[which] = files[which].replace(old, new)
            paths = {}
            for kind, text in files.items():
                paths[kind] = os.path.join(tmp, "turbo.h" if kind == "h" else "main.rs")
                with open(paths[kind], "w") as f:
                    f.write(text)
            rc, out = run(paths["h"], paths["rs"])
            if rc == 0:
                print(f"FAIL: {what}: passed, but should have found: {expected}\n{out}")
                failed += 1
            elif expected not in out:
                print(f"FAIL: {what}: expected {expected!r}, got:\n{out}")
                failed += 1
            else:
                print(f"ok: {what}: {expected}")
    if failed:
        sys.exit(f"check_extern gate: {failed} of {len(DRIFTS)} drifts not caught as expected")
    print(f"ok: all {len(DRIFTS)} drifts caught")


if __name__ == "__main__":
    main()
