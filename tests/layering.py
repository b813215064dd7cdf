#!/usr/bin/env python3
"""The library's files form a stack (docs/internals.md); fail when one
reaches up.

Every file of libturbo/ has a level in STACK. A .c file may name a turbo__
function only if it defines it itself or a file of a lower level does; a
file may include only headers of its own level or lower. Functions are the
non-static definitions in .c files and the static inline ones in headers,
each at its file's level. Public turbo_ entry points may be called from
anywhere (signals.c stops a server with turbo_server_stop). A file missing
from STACK fails too: a new file must take a place in the stack.

usage: layering.py LIBTURBO_DIR
"""
import os
import re
import sys

# Bottom to top. A header that holds state the layers below read sits lower
# than the .c file that acts on it: server.h is types only, and thread.h's
# lifecycle functions, though declared there, are defined in thread.c and so
# are at thread.c's level.
STACK = {
    # Pure parsers of what a proxy says about the client, below the
    # configuration that validates with them.
    -1: "forwarded.c forwarded.h proxy.c proxy.h",
    0: "arena.c arena.h bufpool.c bufpool.h clock.c clock.h config.c config.h "
       "date.c date.h error.c inbox.h metrics.h parse.c parse.h router.c router.h sync.h vec.c vec.h ws.c ws.h",
    1: "alog.c alog.h exchange.h loop.h pool.h request.h response.c response.h routes.c routes.h server.h "
       "thread.h",
    2: "exchange.c",
    3: "pool.c",
    4: "conn.c conn.h",
    5: "defer.c listener.c listener.h loop.c request.c stream.c",
    6: "metrics.c metrics_routes.h signals.c signals.h thread.c",
    7: "server.c",
}
LEVEL = {name: level for level, names in STACK.items() for name in names.split()}
PUBLIC_HEADER = "turbo/turbo.h"

# Comments and literals go first, so that neither counts as a use.
NOISE = re.compile(r'//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', re.S)
C_DEFINITION = re.compile(r'^(?!static\b|typedef\b|extern\b)[A-Za-z_][\w \t*]*?\b(turbo__\w+)\s*\(', re.M)
INLINE_DEFINITION = re.compile(r'^static\s+inline\b[^(;]*?\b(turbo__\w+)\s*\(', re.M)
PROTOTYPE = re.compile(r'^[A-Za-z_][\w \t*]*\b(turbo_\w+)\s*\([^;{]*\)\s*;', re.M)
INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.M)
NAME = re.compile(r'\bturbo__\w+\b')


def strip(text, literals):
    """text without comments and, unless literals, without the contents of
    string and character literals (an include's file name is one)."""
    def blank(m):
        s = m.group(0)
        if s[0] == "/":
            return "\n" * s.count("\n")
        return s if literals else '""'
    return NOISE.sub(blank, text)


def main(libdir):
    files = sorted(f for f in os.listdir(libdir) if f.endswith((".c", ".h")))
    code, includes = {}, {}
    for f in files:
        with open(os.path.join(libdir, f), encoding="utf-8") as fh:
            text = fh.read()
        code[f] = strip(text, literals=False)
        includes[f] = INCLUDE.findall(strip(text, literals=True))
    errors = [f"{f}: not in the stack (tests/layering.py, docs/internals.md)"
              for f in files if f not in LEVEL]
    errors += [f"{f}: in the stack but not in {libdir}" for f in LEVEL if f not in code]

    defined = {}  # function -> file defining it
    for f in files:
        pattern = C_DEFINITION if f.endswith(".c") else INLINE_DEFINITION
        for name in pattern.findall(code[f]):
            defined.setdefault(name, f)
    if len(defined) < 40:
        errors.append(f"only {len(defined)} turbo__ functions found: this script no longer reads the sources")

    for f in files:
        if f not in LEVEL:
            continue
        for header in includes[f]:
            if header == PUBLIC_HEADER:
                continue
            if header not in LEVEL:
                errors.append(f"{f}: includes {header}, which is not in the stack")
            elif LEVEL[header] > LEVEL[f]:
                errors.append(f"{f} (level {LEVEL[f]}) includes {header} (level {LEVEL[header]})")
        if not f.endswith(".c"):
            continue
        for name in sorted(set(NAME.findall(code[f]))):
            owner = defined.get(name)
            if owner is None or owner == f or owner not in LEVEL:
                continue
            if LEVEL[owner] >= LEVEL[f]:
                errors.append(f"{f} (level {LEVEL[f]}) calls {name}, defined in {owner} "
                              f"(level {LEVEL[owner]})")

    # The issue's own test: what server.c defines is the public API or its own.
    for name, owner in sorted(defined.items()):
        if owner == "server.c":
            users = [f for f in files if f != "server.c" and name in NAME.findall(code[f])]
            if users:
                errors.append(f"{name} is defined in server.c but named in {', '.join(users)}")
    # server.h is types only: including it gives no way into server.c.
    for name in PROTOTYPE.findall(code.get("server.h", "")):
        errors.append(f"server.h declares {name}(): it holds types only")

    for e in errors:
        print("layering:", e)
    if errors:
        return 1
    print(f"ok: {len(LEVEL)} files in {len(STACK)} levels, {len(defined)} turbo__ functions, "
          "every call and include goes down the stack")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
